"""Who computes what: the (X, Y) tasks over MPI ranks, or in one process.

Every rank computes. Work is handed out dynamically, longest first, through a
shared MPI counter (``mpi4py.util.sync.Counter``, one-sided RMA): a rank that
finishes a unit of work takes the next index of the ordered list of units. A
unit is a run of tasks with the same postsynaptic population Y (so a rank builds
Y's cell and probe matrices once for all of them), cut into smaller runs, down to
single tasks, when there would be fewer than four units per rank. No rank only
coordinates, so 64 ranks work on 64 tasks at once; ranks left without work go
straight to the final collectives, so more ranks than tasks cannot hang.

Results go into the kernels file either with parallel HDF5 (``mpio``: every rank
writes its own kernels) or by sending them to rank 0, which writes; every rank
also writes an atomic checkpoint per task (see :mod:`lfpk_hpc.store`), from which
``--resume`` continues a killed run. A failing task drains the task counter, so
the other ranks stop after their current task; the run then ends on every rank
with a :class:`TaskError` naming the task and the cause, and the finished kernels
stay in the file.

``comm`` is passed in; ``None`` means one process without MPI.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

from .params import Model

__all__ = ["TaskError", "launched_with_mpi", "run_kernels", "world_comm"]

_TAG_RESULT = 71
_TAG_END = 72

#: environment variables set by MPI launchers (Open MPI, MPICH/Hydra, PMIx, Slurm's srun)
_LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", "MPI_LOCALNRANKS")


class TaskError(RuntimeError):
    """A kernel task failed; the message names (X, Y) and the cause."""


def launched_with_mpi() -> bool:
    """True when this process was started by an MPI launcher (mpirun, mpiexec, srun)."""
    return any(v in os.environ for v in _LAUNCHER_VARS)


def world_comm(neuron_in_mpi: bool = False):
    """``MPI.COMM_WORLD`` when launched with MPI, else ``None`` (mpi4py not imported).

    Call at the entry point only. For kernel runs (default) NEURON is imported
    first, before MPI is initialised, so that it stays out of MPI: every rank is an
    independent NEURON instance (kernel tasks need no NEURON communication), and a
    NEURON error on one rank is a Python exception there instead of an MPI_Abort of
    the whole job. With ``neuron_in_mpi`` (the ground truth, whose network uses
    NEURON's ParallelContext) MPI is initialised first, so that NEURON, imported
    afterwards, joins it.
    """
    if not launched_with_mpi():
        return None
    if not neuron_in_mpi:
        import neuron  # noqa: F401  (before mpi4py: see above)
    from mpi4py import MPI

    return MPI.COMM_WORLD


class _Serial:
    """The few communicator operations the scheduler needs, for one process."""

    rank, size = 0, 1

    def bcast(self, obj, root=0):
        return obj

    def allgather(self, obj):
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


def _prepare(model: Model, out: Path, overwrite: bool, resume: bool, log) -> dict:
    """Rank 0: check the output situation and collect finished tasks to keep."""
    from .store import Checkpoints, StoreError, load_complete

    parts = Checkpoints(out)
    if not resume:
        if out.exists() or parts.exists():
            if not overwrite:
                what = "exists" if out.exists() else "has checkpoints of an interrupted run"
                raise StoreError(
                    f"output file {str(out)!r} {what}; pass --resume to continue it, "
                    "--overwrite to replace it, or choose another --out"
                )
            out.unlink(missing_ok=True)
            parts.remove()
        return {}
    done = {}
    readable = False
    if out.exists():
        try:
            done = load_complete(out, model.hash())
            readable = True
            log(f"resume: {out} holds {len(done)} finished tasks")
        except StoreError:
            raise
        except Exception as exc:  # an interrupted writer can leave HDF5 unreadable
            log(
                f"resume: {out} is unreadable ({type(exc).__name__}: {exc}); "
                "rebuilding it from the checkpoints"
            )
    if parts.exists():
        found = parts.params_hash()
        if found is not None and found != model.hash():
            raise StoreError(
                f"cannot resume {str(out)!r}: its checkpoints {parts.dir} were made with other "
                f"parameters (params hash {found[:12]}, these parameters {model.hash()[:12]}); "
                "use another --out or --overwrite"
            )
        saved = parts.load_all()
        log(f"resume: {len(saved)} finished tasks in the checkpoints {parts.dir}")
        done.update(saved)
    elif out.exists() and not readable:
        raise StoreError(
            f"cannot resume {str(out)!r}: the file is unreadable and there are no checkpoints "
            f"({parts.dir}); use --overwrite to start again"
        )
    if not out.exists() and not parts.exists():
        log(f"resume: nothing to resume at {out}; starting a new run")
    # every finished task must have a checkpoint before the file is rewritten
    parts.init(model.hash())
    saved = set(parts.load_all())
    for key, rec in done.items():
        if key not in saved:
            parts.write(rec)
    return done


def run_kernels(
    model: Model,
    out: str | Path,
    *,
    comm=None,
    overwrite: bool = False,
    resume: bool = False,
    write_path: str = "auto",
    log=print,
) -> dict:
    """Compute every (X, Y) kernel of ``model`` over the ranks of ``comm`` into ``out``.

    Every rank of ``comm`` must call this. ``write_path``: ``"auto"`` (parallel
    HDF5 when h5py has MPI and there are several ranks), ``"mpio"`` or ``"rank0"``.
    Returns a summary dict (on every rank). Raises StoreError for an output that
    cannot be written or resumed, TaskError when a task failed.
    """
    import h5py

    # A NEURON that joined MPI (imported after mpi4py by a caller) makes its import
    # collective: import it here on every rank, before any rank-0-only step.
    import neuron  # noqa: F401

    from . import cost, mechanisms
    from .kernel import KernelEngine
    from .store import Checkpoints, KernelStore, ProbeInfo, StoreError, TaskRecord, header_attrs

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

    pairs = model.tasks()
    tasks = [(X, Y) for X, Y in pairs if model.connection(X, Y).C > 0]

    # 1. rank 0 checks the output and collects finished work; everyone learns the outcome
    setup = None
    if rank == 0:
        try:
            if out.parent and not out.parent.exists():
                out.parent.mkdir(parents=True, exist_ok=True)
            done = _prepare(model, out, overwrite, resume, log)
            measured = {k: r.wall_time_s for k, r in done.items()}
            setup = {
                "done": done,
                "measured": measured,
                "header": header_attrs(model),
                "error": None,
            }
        except StoreError as exc:
            setup = {"error": str(exc)}
    shared = c.bcast({k: v for k, v in setup.items() if k != "done"} if rank == 0 else None)
    if shared["error"]:
        raise StoreError(shared["error"])
    done = setup["done"] if rank == 0 else {}
    done_keys = set(c.bcast(sorted(done) if rank == 0 else None))
    # every rank takes part: the morphologies to count are shared out
    costs = cost.estimate(model, tasks, shared["measured"], comm=comm)
    seconds = {(t.X, t.Y): t.seconds for t in costs}
    todo = [t for t in cost.order(costs) if t not in done_keys]
    work_units = cost.units(costs, size, todo=set(todo))

    engine = KernelEngine(model, log=say)
    probes = [
        ProbeInfo(
            p.name,
            type(p).__name__,
            p.units,
            p.n_channels,
            {
                k: getattr(p, k)
                for k in ("sigma", "R", "sigma_z", "radii", "sigmas", "electrodes")
                if hasattr(p, k)
            },
            tuple(p.z.tolist()) if hasattr(p, "z") else None,
        )
        for p in engine.probes
    ]
    if rank == 0:
        say(
            f"model {model.name!r} (params hash {model.hash()[:12]}): {len(tasks)} tasks (X->Y)"
            + (
                f", {len(pairs) - len(tasks)} pathways with C_YX = 0 (zero kernels, no task)"
                if len(pairs) > len(tasks)
                else ""
            )
        )
        say("tasks: " + ", ".join(f"{X}->{Y}" for X, Y in tasks))
        say(
            "probes: "
            + ", ".join(f"{p.name} ({p.n_channels} channels, {p.units})" for p in engine.probes)
        )
        ks = model.kernel
        say(f"kernel settings: dt {ks.dt} ms, tau {ks.tau} ms, t_X {ks.t_X} ms, g_eff {ks.g_eff}")
        say(
            f"ranks: {size}, all computing; write path: {path_name}; "
            f"{len(todo)} tasks to compute in {len(work_units)} units (runs of one Y), "
            f"{len(done_keys)} already done"
        )

    # 2. mechanisms compiled once (rank 0 first), loaded on every rank, with the
    # libraries of the first task
    mechanisms.load_mechanisms(comm=comm, log=say)
    engine.prepare()

    # 3. the kernels file and the checkpoint folder
    parts = Checkpoints(out)
    if rank == 0:
        parts.init(model.hash())
    store = None
    if mpio or rank == 0:
        store = KernelStore(
            out,
            shared["header"],
            probes,
            pairs,
            tasks,
            engine.n_lags,
            comm=comm,
            mpio=mpio,
            costs=seconds,
        )
    if rank == 0:
        for key in sorted(done):
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

    def write_local(rec):
        if mpio:
            store.write(rec)
        elif rank == 0:
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
                comm.probe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status)
            msg = comm.recv(source=status.Get_source(), tag=status.Get_tag())
            if status.Get_tag() == _TAG_END:
                ends[0] += 1
            else:
                store.write(msg)

    def do_task(X, Y):
        """Compute, checkpoint, write and report one task; a failure dict or None."""
        try:
            result = engine.compute(X, Y)
        except Exception as exc:
            return {
                "X": X,
                "Y": Y,
                "rank": rank,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
        rec = TaskRecord.from_result(result, rank)
        parts.write(rec)
        write_local(rec)
        mine.append((X, Y))
        n_done = n_finished.next() + 1
        work = work_done.next(int(round(1e6 * seconds[(X, Y)] / total_cost)))
        frac = min((work + 1e6 * seconds[(X, Y)] / total_cost) / 1e6, 1.0)
        elapsed = time.perf_counter() - t_loop
        left = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        log(
            f"[{n_done}/{len(todo)}] {X}->{Y} done on rank {rank} in "
            f"{result.timings['total']:.3f} s ({result.n_seg} segments); elapsed {elapsed:.1f} s, "
            f"about {left:.1f} s left"
        )
        return None

    while failure is None:
        i = counter.next()
        if i >= len(work_units):
            break
        for X, Y in work_units[i]:
            failure = do_task(X, Y)
            if failure is not None:
                counter.next(len(work_units))  # no further units for anyone
                break
            if not mpio and rank == 0 and size > 1:
                drain_inbox()

    t_tasks = time.perf_counter() - t_loop  # this rank's work loop
    # 5. collect, finalize, report
    if not mpio and size > 1:
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
    if store is not None:
        t_fin = time.perf_counter()
        store.finalize(
            complete,
            ranks=size,
            wall_time_s=wall,
            wall_time_setup_s=t_setup,
            wall_time_tasks_s=max(loop_times),
            write_path=path_name,
        )
        store.close()
        if rank == 0:
            say(
                f"phases: set-up {t_setup:.2f} s, tasks {max(loop_times):.2f} s "
                f"(per rank {min(loop_times):.2f}-{max(loop_times):.2f} s), "
                f"collect {wall - t_setup - max(loop_times):.2f} s, "
                f"finalize {time.perf_counter() - t_fin:.2f} s"
            )
    for shared_counter in (counter, n_finished, work_done):
        shared_counter.free()
    c.barrier()
    if failures:
        f = failures[0]
        msg = (
            f"task {f['X']}->{f['Y']} failed on rank {f['rank']}: {f['error']}; "
            f"{len(complete & set(tasks))} of {len(tasks)} finished tasks are kept in {out} "
            "(continue with --resume)"
        )
        if rank == 0:
            log(f["traceback"].rstrip())
        raise TaskError(msg)
    if rank == 0:
        parts.remove()
        say(
            f"wrote {out} ({len(tasks)} tasks on {size} rank{'s' if size > 1 else ''}, "
            f"{wall:.2f} s, write path {path_name})"
        )
    return {
        "wall_time_s": wall,
        "ranks": size,
        "write_path": path_name,
        "computed": [t for r in computed for t in r],
    }
