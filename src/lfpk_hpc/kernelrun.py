"""Kernel runs: every (X, Y) pathway of a params file as a task of the task farm.

A task is one pathway with C_YX > 0 (pathways with C_YX = 0 are exact zeros in the
file and no task); it is computed by :class:`lfpk_hpc.kernel.KernelEngine`
and written into the kernels file (:class:`lfpk_hpc.store.KernelStore`) with
parallel HDF5 (every rank writes its own kernels) or by rank 0. Units of work are
runs of tasks with the same postsynaptic population Y, so that a rank builds Y's
cell and probe matrices once for all of them; they are cut into smaller runs,
down to single tasks, when there would be fewer than four units per rank
(:func:`lfpk_hpc.cost.units`).
"""

from __future__ import annotations

from pathlib import Path

from .params import Model
from .scheduler import FarmResult, TaskKind, run_farm

__all__ = ["PROBE_ATTRS", "KernelTasks", "run_kernels", "task_keys", "task_label"]

#: attributes of a probe written to its group /probes/<probe> of the kernels file (those
#: it has): Gauss-cylinder LFP, EEG, MEG (sensors µm, unit orientations and column axis,
#: head, brain_radius µm) and CSD (height h and radius r of the cylinders, µm; the
#: depths z are the dataset z)
PROBE_ATTRS = (
    "sigma",
    "R",
    "sigma_z",
    "radii",
    "sigmas",
    "electrodes",
    "sensors",
    "orientations",
    "column_axis",
    "head",
    "brain_radius",
    "h",
    "r",
)


def task_keys(model: Model) -> list[tuple[str, str]]:
    """The tasks of a kernel run: per postsynaptic Y its pathways with C_YX > 0, then
    its action-potential kernel, (:data:`lfpk_hpc.store.AP_TASK`, Y), when its cell
    model fires (a user's model, or ``ap_model``) and ``kernel.ap_kernels`` is on.

    Parameters
    ----------
    model : Model
        A validated model.

    Returns
    -------
    list of tuple of str
        The tasks' (X, Y) pairs.
    """
    from .store import AP_TASK

    out = []
    for Y in model.postsynaptic:
        out += [(X, Y) for X in model.presynaptic(Y) if model.connection(X, Y).C > 0]
        cell = model.population(Y).cell
        if model.kernel.ap_kernels and (cell.is_user_model or cell.ap_model is not None):
            out.append((AP_TASK, Y))
    return out


def task_label(key) -> str:
    """ "X->Y", or "AP of Y" for an action-potential kernel.

    Parameters
    ----------
    key : tuple of str
        A task's (X, Y).

    Returns
    -------
    str
        Its label.
    """
    from .store import AP_TASK

    return f"AP of {key[1]}" if key[0] == AP_TASK else f"{key[0]}->{key[1]}"


class KernelTasks(TaskKind):
    """The (X, Y) pathways of a model as tasks of :func:`lfpk_hpc.scheduler.run_farm`.

    Parameters
    ----------
    model : Model
        A validated model (units: µm, ms, mV, µS or nA, S/cm², spikes/s).
    log : callable, optional
        Receives the progress messages (None: nowhere).
    """

    noun = "task"
    units_noun = "units (runs of one Y)"
    store_mode = "file"

    def __init__(self, model: Model, log=None):
        from .kernel import KernelEngine

        self.model = model
        self.pairs = model.tasks()
        self.engine = KernelEngine(model, log=log)
        self.tasks = task_keys(model)
        self._costs = {}

    # ---- the tasks
    def keys(self):
        return list(self.tasks)

    def label(self, key):
        return task_label(key)

    def params_hash(self):
        return self.model.hash()

    def announce(self, n_done):
        from .store import AP_TASK

        model, pairs, tasks = self.model, self.pairs, self.tasks
        ks = model.kernel
        n_ap = sum(1 for X, _ in tasks if X == AP_TASK)
        n_zero = len(pairs) - (len(tasks) - n_ap)
        lines = [
            f"model {model.name!r} (params hash {model.hash()[:12]}): {len(tasks) - n_ap} tasks "
            "(X->Y)"
            + (f", {n_ap} action-potential kernels" if n_ap else "")
            + (f", {n_zero} pathways with C_YX = 0 (zero kernels, no task)" if n_zero else ""),
            "tasks: " + ", ".join(self.label(t) for t in tasks),
            "probes: "
            + ", ".join(
                f"{p.name} ({p.n_channels} channels, {p.units})" for p in self.engine.probes
            ),
            f"kernel settings: dt {ks.dt} ms, tau {ks.tau} ms, t_X {ks.t_X} ms, g_eff {ks.g_eff}",
        ]
        for Y in model.postsynaptic:
            cm = model.population(Y).cell
            if cm.is_user_model:
                where = f"held at {cm.v_hold:g} mV" if cm.v_hold is not None else "at its own rest"
                lines.append(
                    f"cell of {Y}: a user's NEURON model, {cm.linearisation} "
                    + ("" if cm.linearisation == "passive" else where)
                )
        return lines

    def estimate(self, keys, measured, comm):
        from . import cost

        costs = cost.estimate(self.model, keys, measured, comm=comm)
        self._costs = costs
        return {(t.X, t.Y): t.seconds for t in costs}

    def units(self, seconds, ranks, todo):
        from . import cost

        return cost.units(self._costs, ranks, todo=set(todo))

    # ---- computing
    def setup(self, comm, log):
        self.engine.load_mechanisms(comm=comm)
        self.engine.prepare()

    def compute(self, key, rank):
        from .store import TaskRecord

        return TaskRecord.from_result(self.engine.compute(*key), rank)

    def detail(self, rec):
        return f"{rec.n_seg} segments"

    def finish(self, out, store, complete, attrs, comm, mpio, log):
        if store is not None:
            store.merge_records(comm if mpio else None)
            store.finalize(complete, **attrs)
            store.close()

    # ---- checkpoints and output
    def checkpoint_name(self, key):
        from .store import Checkpoints

        return Checkpoints.kernel_name(*key)

    def to_checkpoint(self, rec):
        from .store import task_record_to_checkpoint

        return task_record_to_checkpoint(rec)

    def from_checkpoint(self, meta, arrays):
        from .store import task_record_from_checkpoint

        rec = task_record_from_checkpoint(meta, arrays)
        return (rec.X, rec.Y), rec

    def load_done(self, out):
        from .store import load_complete

        return load_complete(out, self.model.hash())

    def _probe_infos(self):
        from .store import ProbeInfo

        return [
            ProbeInfo(
                p.name,
                type(p).__name__,
                p.units,
                p.n_channels,
                {k: getattr(p, k) for k in PROBE_ATTRS if getattr(p, k, None) is not None},
                tuple(p.z.tolist()) if hasattr(p, "z") else None,
            )
            for p in self.engine.probes
        ]

    def open_store(self, out, comm, mpio, seconds):
        from .store import KernelStore, header_attrs

        # the header (versions, parameters, creation time) of rank 0, for every writer
        header = header_attrs(self.model) if comm is None or comm.Get_rank() == 0 else None
        if mpio:
            header = comm.bcast(header, root=0)
        return KernelStore(
            out,
            header,
            self._probe_infos(),
            self.pairs,
            self.tasks,
            self.engine.n_lags,
            comm=comm,
            mpio=mpio,
            costs=seconds,
        )


def run_kernels(
    model: Model,
    out: str | Path,
    *,
    comm=None,
    overwrite: bool = False,
    resume: bool = False,
    write_path: str = "auto",
    log=print,
) -> FarmResult:
    """Compute every (X, Y) kernel of ``model`` over the ranks of ``comm`` into ``out``
    (see :func:`lfpk_hpc.scheduler.run_farm`). Every rank of ``comm`` must call this.

    Parameters
    ----------
    model : Model
        A validated model (:func:`lfpk_hpc.params.load`).
    out : str or pathlib.Path
        The kernels file (HDF5) to write.
    comm : mpi4py.MPI.Comm, optional
        Communicator of the ranks; None: serial.
    overwrite : bool, optional
        Replace an existing file.
    resume : bool, optional
        Keep the finished kernels of an existing file and its checkpoints.
    write_path : str, optional
        ``"auto"``, ``"mpio"`` or ``"rank0"`` (:func:`lfpk_hpc.scheduler.run_farm`).
    log : callable, optional
        Receives the progress messages.

    Returns
    -------
    FarmResult
        What the run did.

    Raises
    ------
    StoreError
        The file cannot be written or resumed.
    TaskError
        A task failed (on every rank).
    """
    rank = comm.Get_rank() if comm is not None else 0
    say = log if rank == 0 else (lambda *a, **k: None)
    return run_farm(
        KernelTasks(model, log=say),
        out,
        comm=comm,
        overwrite=overwrite,
        resume=resume,
        write_path=write_path,
        log=log,
    )
