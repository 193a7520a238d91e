"""The task farm: tasks of any kind over MPI ranks, or in one process.

Every rank computes. Work is handed out dynamically, longest first, through a
shared MPI counter (``mpi4py.util.sync.Counter``, one-sided RMA): a rank that
finishes a unit of work takes the next index of the ordered list of units. No rank
only coordinates, so 64 ranks work on 64 tasks at once; ranks left without work go
straight to the final collectives, so more ranks than tasks cannot hang.

The farm knows nothing of physics. A *kind* of task (:class:`TaskKind`: kernel
pathways in :mod:`lfpk_hpc.kernelrun`, blocks of hybrid cells in
:mod:`lfpk_hpc.hybrid`) says which tasks there are, what each costs, how one is
computed, how a result is checkpointed and how the output is written and finished.
The farm does the rest, the same way for every kind:

- the output: refuses to replace an existing output without ``overwrite``; with
  ``resume``, collects the finished tasks of a readable earlier output and of the
  checkpoint folder ``<out>.parts/`` (one file per finished task, written under a
  temporary name and renamed: whole or absent after a kill -9) after checking that
  they were made with the same parameters (their hash);
- the order: units of work (by default single tasks; a kind may group them, e.g.
  pathways onto one cell) longest first by the kind's cost estimates;
- progress lines with the rank, the time of each task and an estimate of what is
  left; per-rank counts at the end, from what happened;
- failures: a failing task drains the counter, so the other ranks stop after their
  current task; the run then ends on every rank with a :class:`TaskError` naming
  the task and the cause, and the finished results stay (file and checkpoints).
  The error's exit code is the cause's: 2 for bad input found inside a task (then
  without the advice to resume, which cannot help), 1 otherwise.

``comm`` is passed in; ``None`` means one process without MPI.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .errors import describe
from .parallel import env_rank, fault_point, launched_with_mpi, world_comm

__all__ = [
    "FarmResult",
    "TaskError",
    "TaskKind",
    "env_rank",
    "launched_with_mpi",
    "run_farm",
    "world_comm",
]

_TAG_RESULT = 71
_TAG_END = 72


class TaskError(RuntimeError):
    """A task failed; the message names the task and the cause. ``exit_code`` is the
    cause's (2: bad input found inside the task; 1: a failed computation).

    Parameters
    ----------
    msg : str
        The message.
    exit_code : int, optional
        The cause's exit code (2: bad input; 1: a failed computation).
    """

    exit_code = 1

    def __init__(self, msg: str, exit_code: int = 1):
        super().__init__(msg)
        self.exit_code = exit_code


class _Serial:
    """The few communicator operations the farm needs, for one process."""

    rank, size = 0, 1

    def bcast(self, obj, root=0):
        return obj

    def allgather(self, obj):
        return [obj]

    def gather(self, obj, root=0):
        return [obj]

    def barrier(self):
        pass


class _Counter:
    """Next-index counter: shared over MPI (one-sided), or local."""

    def __init__(self, comm, start=0):
        self._shared = None
        self._next = start
        if comm is not None and comm.size > 1:
            from mpi4py.util.sync import Counter

            self._shared = Counter(start, comm=comm, typecode="q")

    def next(self, incr=1) -> int:
        if self._shared is not None:
            return self._shared.next(incr)
        value = self._next
        self._next += incr
        return value

    def free(self):
        if self._shared is not None:
            self._shared.free()


class TaskKind:
    """What the farm needs of a kind of task (subclass and fill in).

    Keys are hashable, picklable task identifiers in a canonical order. A result
    ("record") is any object with the attributes ``rank`` (int) and
    ``wall_time_s`` (float) that :meth:`to_checkpoint` can turn into a JSON-able
    dict and a dict of numpy arrays and :meth:`from_checkpoint` back.
    """

    #: what one task is called in messages ("task", "block")
    noun = "task"
    #: what the units of work are called in messages
    units_noun = "units"
    #: "file": results are written into the output as they finish (parallel HDF5, or
    #: sent to rank 0); "checkpoints": results stay in the checkpoint folder and
    #: :meth:`finish` builds the output from them
    store_mode = "file"

    # ---- the tasks
    def keys(self) -> list:
        """Every task's key, in the canonical order."""
        raise NotImplementedError

    def label(self, key) -> str:
        """What messages call a task.

        Parameters
        ----------
        key : hashable
            The task's key.

        Returns
        -------
        str
            Its label.
        """
        return str(key)

    def params_hash(self) -> str:
        """The hash of the run's parameters: an output of another hash is not resumed."""
        raise NotImplementedError

    def announce(self, n_done: int) -> list[str]:
        """Lines rank 0 prints before the work begins.

        Parameters
        ----------
        n_done : int
            Tasks already done (a count; with --resume).

        Returns
        -------
        list of str
            The lines.
        """
        return []

    def estimate(self, keys: list, measured: dict, comm) -> dict:
        """Seconds per task (every rank calls this; it may share work over ``comm``).

        Parameters
        ----------
        keys : list
            The tasks' keys.
        measured : dict
            Key → wall time of an earlier run of that task, in seconds.
        comm : mpi4py.MPI.Comm or None
            Communicator of the ranks (None: serial).

        Returns
        -------
        dict
            Key → estimated wall time, in seconds.
        """
        raise NotImplementedError

    def units(self, seconds: dict, ranks: int, todo: list) -> list[list]:
        """Units of work: lists of tasks one rank computes in a row, longest first.
        ``todo`` is ordered longest first.

        Parameters
        ----------
        seconds : dict
            Key → estimated wall time, in seconds.
        ranks : int
            Ranks of the run (a count).
        todo : list
            Keys of the tasks to compute, longest first.

        Returns
        -------
        list of list
            The units, each a list of keys.
        """
        return [[k] for k in todo]

    # ---- computing
    def setup(self, comm, log) -> None:
        """Every rank, before its first task (compile/load mechanisms, libraries).

        Parameters
        ----------
        comm : mpi4py.MPI.Comm or None
            Communicator of the ranks (None: serial).
        log : callable
            Receives the progress messages.
        """

    def compute(self, key, rank: int):
        """Compute one task and return its record.

        Parameters
        ----------
        key : hashable
            The task's key.
        rank : int
            This process's rank.

        Returns
        -------
        object
            The task's record (with ``rank`` and ``wall_time_s``, seconds).
        """
        raise NotImplementedError

    def detail(self, rec) -> str:
        """Words on a finished task for its progress line.

        Parameters
        ----------
        rec : object
            A task's record.

        Returns
        -------
        str
            The words.
        """
        return ""

    # ---- checkpoints and output
    def checkpoint_name(self, key) -> str:
        """The file name of a task's checkpoint.

        Parameters
        ----------
        key : hashable
            The task's key.

        Returns
        -------
        str
            The file name.
        """
        raise NotImplementedError

    def to_checkpoint(self, rec) -> tuple[dict, dict]:
        """A record as a checkpoint (the inverse of :meth:`from_checkpoint`).

        Parameters
        ----------
        rec : object
            A task's record.

        Returns
        -------
        meta : dict
            What JSON holds of it.
        arrays : dict of str to numpy.ndarray
            Its arrays.
        """
        raise NotImplementedError

    def from_checkpoint(self, meta: dict, arrays: dict):
        """(key, record) of a checkpoint.

        Parameters
        ----------
        meta : dict
            What JSON holds of the record.
        arrays : dict of str to numpy.ndarray
            Its arrays.

        Returns
        -------
        key : hashable
            The task's key.
        rec : object
            Its record.
        """
        raise NotImplementedError

    def load_done(self, out: Path) -> dict:
        """Rank 0, with --resume: the finished tasks of a readable earlier output
        (key → record). Raise StoreError for an output of other parameters; any other
        exception means the file is unreadable (it is then rebuilt from the checkpoints).

        Parameters
        ----------
        out : pathlib.Path
            The earlier output.

        Returns
        -------
        dict
            Key → record of each finished task.

        Raises
        ------
        StoreError
            The output is of other parameters.
        """
        return {}

    def output_exists(self, out: Path) -> bool:
        """Whether the output is there (--overwrite or --resume is then needed).

        Parameters
        ----------
        out : pathlib.Path
            The output.

        Returns
        -------
        bool
            Whether it exists.
        """
        return out.exists()

    def remove_output(self, out: Path) -> None:
        """Remove the output (with --overwrite).

        Parameters
        ----------
        out : pathlib.Path
            The output.
        """
        out.unlink(missing_ok=True)

    def open_store(self, out: Path, comm, mpio: bool, seconds: dict):
        """The writer of results (called on rank 0, and on every rank with ``mpio``);
        with store_mode "file" it must have ``write(rec)``.

        Parameters
        ----------
        out : pathlib.Path
            The output.
        comm : mpi4py.MPI.Comm or None
            Communicator of the ranks (None: serial).
        mpio : bool
            Whether every rank writes with parallel HDF5.
        seconds : dict
            Key → estimated wall time of each task, in seconds.

        Returns
        -------
        object or None
            The writer.
        """
        return None

    def finish(self, out: Path, store, complete: set, attrs: dict, comm, mpio: bool, log) -> None:
        """Every rank, after the work loop: finish the output (run totals in ``attrs``).

        Parameters
        ----------
        out : pathlib.Path
            The output.
        store : object or None
            The writer of :meth:`open_store`.
        complete : set
            Keys of every finished task.
        attrs : dict
            The run's totals, written as the output's attributes.
        comm : mpi4py.MPI.Comm or None
            Communicator of the ranks (None: serial).
        mpio : bool
            Whether every rank writes with parallel HDF5.
        log : callable
            Receives the progress messages.
        """
        if store is not None:
            store.finalize(complete, **attrs)
            store.close()


@dataclass
class FarmResult:
    """What a run of :func:`run_farm` did.

    Parameters
    ----------
    wall_time_s : float
        Wall time of the run, in seconds.
    ranks : int
        Ranks of the run (a count).
    write_path : str
        How results were written: ``"serial"``, ``"mpio"``, ``"rank0"`` or
        ``"checkpoints"``.
    computed : list, optional
        Keys of the tasks computed in this run.
    per_rank : list of int, optional
        Tasks each rank computed (a count).
    """

    wall_time_s: float
    ranks: int
    write_path: str
    computed: list = field(default_factory=list)
    per_rank: list = field(default_factory=list)


def _prepare(kind: TaskKind, out: Path, overwrite: bool, resume: bool, log) -> dict:
    """Rank 0: check the output situation and collect finished tasks to keep."""
    from .store import Checkpoints, StoreError

    parts = Checkpoints(out)
    params_hash = kind.params_hash()
    if not resume:
        if kind.output_exists(out) or parts.exists():
            if not overwrite:
                what = (
                    "exists"
                    if kind.output_exists(out)
                    else ("has checkpoints of an interrupted run")
                )
                raise StoreError(
                    f"output {str(out)!r} {what}; pass --resume to continue it, "
                    "--overwrite to replace it, or choose another --out"
                )
            kind.remove_output(out)
            parts.remove()
        return {}
    done = {}
    readable = False
    if kind.output_exists(out):
        try:
            done = kind.load_done(out)
            readable = True
            log(f"resume: {out} holds {len(done)} finished {kind.noun}s")
        except StoreError:
            raise
        except Exception as exc:  # an interrupted writer can leave HDF5 unreadable
            log(
                f"resume: {out} is unreadable ({type(exc).__name__}: {exc}); "
                "rebuilding it from the checkpoints"
            )
    if parts.exists():
        found = parts.params_hash()
        if found is not None and found != params_hash:
            raise StoreError(
                f"cannot resume {str(out)!r}: its checkpoints {parts.dir} were made with other "
                f"parameters (params hash {found[:12]}, these parameters {params_hash[:12]}); "
                "use another --out or --overwrite"
            )
        saved = {}
        for meta, arrays in parts.load_entries():
            key, rec = kind.from_checkpoint(meta, arrays)
            saved[key] = rec
        log(f"resume: {len(saved)} finished {kind.noun}s in the checkpoints {parts.dir}")
        done.update(saved)
    elif kind.output_exists(out) and not readable:
        raise StoreError(
            f"cannot resume {str(out)!r}: the file is unreadable and there are no checkpoints "
            f"({parts.dir}); use --overwrite to start again"
        )
    if not kind.output_exists(out) and not parts.exists():
        log(f"resume: nothing to resume at {out}; starting a new run")
    # every finished task must have a checkpoint before the output is rewritten
    parts.init(params_hash)
    saved = {meta.get("name") for meta, _ in parts.load_entries(arrays=False)}
    for key, rec in done.items():
        if kind.checkpoint_name(key) not in saved:
            meta, arrays = kind.to_checkpoint(rec)
            parts.write_entry(kind.checkpoint_name(key), meta, arrays)
    return done


def run_farm(
    kind: TaskKind,
    out: str | Path,
    *,
    comm=None,
    overwrite: bool = False,
    resume: bool = False,
    write_path: str = "auto",
    log=print,
) -> FarmResult:
    """Compute every task of ``kind`` over the ranks of ``comm`` into ``out``.

    Every rank of ``comm`` must call this. ``write_path``: ``"auto"`` (parallel
    HDF5 when h5py has MPI and there are several ranks), ``"mpio"`` or ``"rank0"``.
    Raises StoreError for an output that cannot be written or resumed, TaskError
    when a task failed (on every rank).

    Parameters
    ----------
    kind : TaskKind
        The tasks.
    out : str or pathlib.Path
        The output file; the checkpoints go to the folder ``<out>.parts/``.
    comm : mpi4py.MPI.Comm, optional
        Communicator of the ranks; None: serial.
    overwrite : bool, optional
        Replace an existing output.
    resume : bool, optional
        Keep the finished tasks of an existing output and its checkpoints.
    write_path : str, optional
        ``"auto"``, ``"mpio"`` or ``"rank0"`` (see above).
    log : callable, optional
        Receives the progress messages.

    Returns
    -------
    FarmResult
        What the run did.

    Raises
    ------
    StoreError
        The output cannot be written or resumed.
    TaskError
        A task failed (on every rank).
    """
    import h5py

    # A NEURON that joined MPI (imported after mpi4py by a caller) makes its import
    # collective: import it here on every rank, before any rank-0-only step.
    import neuron  # noqa: F401

    from .store import Checkpoints, StoreError

    out = Path(out)
    c = comm if comm is not None else _Serial()
    rank, size = c.rank, c.size
    say = log if rank == 0 else (lambda *a, **k: None)
    t_start = time.perf_counter()

    if write_path not in ("auto", "mpio", "rank0"):
        raise ValueError(f"write_path = {write_path!r} is invalid: allowed auto, mpio, rank0")
    if write_path == "mpio" and not h5py.get_config().mpi:
        raise StoreError("write_path = 'mpio' is invalid: this h5py is built without MPI")
    mpio = size > 1 and (write_path == "mpio" or (write_path == "auto" and h5py.get_config().mpi))
    path_name = "mpio" if mpio else ("rank0" if size > 1 else "serial")
    if kind.store_mode == "checkpoints":  # every rank writes its own checkpoints
        mpio, path_name = False, "checkpoints"
    keys = kind.keys()

    # 1. rank 0 checks the output and collects finished work; everyone learns the outcome
    setup = None
    if rank == 0:
        try:
            if out.parent and not out.parent.exists():
                out.parent.mkdir(parents=True, exist_ok=True)
            done = _prepare(kind, out, overwrite, resume, log)
            setup = {
                "done": done,
                "measured": {k: r.wall_time_s for k, r in done.items()},
                "error": None,
            }
        except StoreError as exc:
            setup = {"error": str(exc)}
    shared = c.bcast({k: v for k, v in setup.items() if k != "done"} if rank == 0 else None)
    if shared["error"]:
        raise StoreError(shared["error"])
    done = setup["done"] if rank == 0 else {}
    done_keys = set(c.bcast(list(done) if rank == 0 else None))
    # every rank takes part: a kind may share out the work of its estimates
    seconds = kind.estimate(keys, shared["measured"], comm)
    order = sorted(range(len(keys)), key=lambda i: (-seconds[keys[i]], i))
    todo = [keys[i] for i in order if keys[i] not in done_keys]
    work_units = kind.units(seconds, size, todo)
    if rank == 0:
        for line in kind.announce(len(done_keys)):
            say(line)
        say(
            f"ranks: {size}, every rank computes (no coordinator); write path: {path_name}; "
            f"{len(todo)} {kind.noun}s to compute in {len(work_units)} {kind.units_noun}, "
            f"{len(done_keys)} already done"
        )

    # 2. per-rank set-up (mechanisms compiled once, rank 0 first; libraries loaded)
    fault_point("setup", rank)
    kind.setup(comm, say)

    # 3. the output and the checkpoint folder
    parts = Checkpoints(out)
    if rank == 0:
        parts.init(kind.params_hash())
    store = None
    if mpio or rank == 0:
        store = kind.open_store(out, comm, mpio, seconds)
    if rank == 0 and kind.store_mode == "file":
        for key in sorted(done, key=keys.index):
            store.write(done[key])
    c.barrier()
    t_setup = time.perf_counter() - t_start

    # 4. the work loop
    counter = _Counter(comm)
    n_finished = _Counter(comm)  # tasks finished, for progress lines
    work_done = _Counter(comm)  # estimated work finished, in millionths of the total
    total_cost = sum(seconds[t] for t in todo) or 1.0
    mine, failure, pending = [], None, []
    t_loop = time.perf_counter()
    send_to_rank0 = kind.store_mode == "file" and not mpio and size > 1

    def write_local(rec):
        if kind.store_mode != "file":
            return
        if mpio or rank == 0:
            store.write(rec)
        else:
            pending.append(comm.isend(rec, dest=0, tag=_TAG_RESULT))

    ends = [0]  # END messages received by rank 0 (rank0 write path)

    def drain_inbox(block=False):
        """Rank 0 of the rank0 path: write results that other ranks sent; with
        ``block``, until every other rank has said it is finished."""
        from mpi4py import MPI

        status = MPI.Status()
        while not (block and ends[0] == size - 1):
            if not comm.iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
                if not block:
                    return
                while not comm.iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
                    time.sleep(0.001)
            msg = comm.recv(source=status.Get_source(), tag=status.Get_tag())
            if status.Get_tag() == _TAG_END:
                ends[0] += 1
            else:
                store.write(msg)

    def do_task(key):
        """Compute, checkpoint, write and report one task; a failure dict or None."""
        try:
            fault_point("task", rank)
            fault_point(f"task:{kind.label(key)}", rank)
            rec = kind.compute(key, rank)
        except Exception as exc:  # noqa: BLE001 - reported with the task's name
            code, msg, tb = describe(exc)
            return {
                "key": key,
                "rank": rank,
                "code": code,
                "error": msg if tb is None else msg,
                "traceback": tb if tb is not None else traceback.format_exc(),
            }
        meta, arrays = kind.to_checkpoint(rec)
        parts.write_entry(kind.checkpoint_name(key), meta, arrays)
        write_local(rec)
        mine.append(key)
        n_done = n_finished.next() + 1
        work = work_done.next(int(round(1e6 * seconds[key] / total_cost)))
        frac = min((work + 1e6 * seconds[key] / total_cost) / 1e6, 1.0)
        elapsed = time.perf_counter() - t_loop
        left = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        detail = kind.detail(rec)
        log(
            f"[{n_done}/{len(todo)}] {kind.label(key)} done on rank {rank} in "
            f"{rec.wall_time_s:.3f} s{' (' + detail + ')' if detail else ''}; "
            f"elapsed {elapsed:.1f} s, about {left:.1f} s left"
        )
        return None

    while failure is None:
        i = counter.next()
        if i >= len(work_units):
            break
        for key in work_units[i]:
            failure = do_task(key)
            if failure is not None:
                counter.next(len(work_units))  # no further units for anyone
                break
            if send_to_rank0 and rank == 0:
                drain_inbox()

    t_tasks = time.perf_counter() - t_loop  # this rank's work loop
    # 5. collect, finish, report
    if send_to_rank0:
        if rank == 0:
            drain_inbox(block=True)
        else:
            from mpi4py import MPI

            comm.send(None, dest=0, tag=_TAG_END)
            MPI.Request.waitall(pending)
    failures = [f for f in c.allgather(failure) if f is not None]
    computed = c.allgather(mine)
    loop_times = c.allgather(t_tasks)
    complete = set(done_keys).union(*map(set, computed))
    wall = time.perf_counter() - t_start
    t_fin = time.perf_counter()
    attrs = dict(
        ranks=size,
        wall_time_s=wall,
        wall_time_setup_s=t_setup,
        wall_time_tasks_s=max(loop_times),
        write_path=path_name,
    )
    kind.finish(out, store, complete, attrs, comm, mpio, say)
    per_rank = [len(m) for m in computed]
    if rank == 0:
        say(
            f"phases: set-up {t_setup:.2f} s, {kind.noun}s {max(loop_times):.2f} s "
            f"(per rank {min(loop_times):.2f}-{max(loop_times):.2f} s), "
            f"collect {wall - t_setup - max(loop_times):.2f} s, "
            f"finish {time.perf_counter() - t_fin:.2f} s"
        )
        if todo:
            idle = [r for r, n in enumerate(per_rank) if n == 0]
            counts = ", ".join(f"rank {r} {n}" for r, n in enumerate(per_rank))
            state = (
                "all computing"
                if not idle
                else f"{size - len(idle)} computing, "
                + ("rank " if len(idle) == 1 else "ranks ")
                + ", ".join(map(str, idle))
                + " had none"
            )
            say(f"ranks: {size}, {state} ({kind.noun}s computed: {counts})")
    for shared_counter in (counter, n_finished, work_done):
        shared_counter.free()
    c.barrier()
    if failures:
        f = failures[0]
        n_kept = len(complete & set(keys))
        advice = (
            f"; {n_kept} of {len(keys)} finished {kind.noun}s are kept in {out} "
            "(continue with --resume)"
            if f["code"] != 2
            else " (fix the parameters and start again: a changed params file is a new run)"
        )
        if rank == 0 and f["code"] != 2:
            log(f["traceback"].rstrip())
        raise TaskError(
            f"{kind.noun} {kind.label(f['key'])} failed on rank {f['rank']}: {f['error']}" + advice,
            exit_code=f["code"],
        )
    if rank == 0:
        parts.remove()
        say(
            f"wrote {out} ({len(keys)} {kind.noun}s on {size} rank{'s' if size > 1 else ''}, "
            f"{wall:.2f} s, write path {path_name})"
        )
    return FarmResult(wall, size, path_name, [t for r in computed for t in r], per_rank)
