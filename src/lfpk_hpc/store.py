"""The kernels file (HDF5) and its crash-safe checkpoints.

Layout of the kernels file::

    /                      attrs: format, lfpk_hpc_version, neuron_version, lfpy_version,
                                  lfpykit_version, h5py_version, python_version, model_name,
                                  params_hash, params_json, dt, tau, created,
                                  ranks, wall_time_s, write_path, complete
    /kernels/<probe>/<Y>/<X>   float64 (channels, 2·tau/dt + 1), lags −tau..tau
                               attrs: dt (ms), tau (ms), units, complete (bool), zero_connection
    /ap_kernels/<probe>/<Y>    float64 (channels, 2·tau/dt + 1): the signal of one action
                               potential of Y's cell, lag 0 at the spike (the soma crossing
                               −10 mV upwards), lags −tau..tau; for every Y whose cell model
                               fires (a user's model or ap_model) when kernel.ap_kernels.
                               attrs: dt, tau, units, complete, and (when complete)
                               pulse_nA, onset_ms (the pulse's start, before the spike),
                               n_spikes, v_soma_mV (the soma at the operating point)
    /cells/<Y>/<name>          float64 (segments,), for Y with a user's model: v_rest (mV,
                               the linear cell's rest), vrest_synapses (mV, what the
                               synapses are linearised around), g (S/cm²) and e (mV) of the
                               linear cell's leak (with g_eff), v_operating_point (mV, the
                               model's own rest or v_hold), z (µm, segment midpoints);
                               attrs: linearisation, operating_point, residual_mV_per_ms,
                               mechanisms_replaced, quasi_active_gates, frozen_states,
                               section_names (written when the run ends)
    /probes/<probe>            attrs: type, units, n_channels (+ dataset z, µm, for LFP probes)
    /tasks/{X,Y,complete,rank,wall_time_s,n_seg,cost_estimate,timings}
                               one row per task (pathways with C_YX > 0, and one row with
                               X = "(AP)" per action-potential kernel), in task order

Every dataset is created when the file is created (collectively with parallel
HDF5). Pathways with C_YX = 0 are exact zeros from the start and are not tasks.
Ranks write their kernels and their rows of ``/tasks`` independently; the
per-kernel ``complete`` attributes and the run totals are written at the end.

An HDF5 file whose writer is killed can be unreadable, so the durable record of a
run is its checkpoint folder ``<out>.parts/``: one small file per finished task,
written under a temporary name and renamed (atomic), plus ``manifest.json`` with
the parameter hash. ``--resume`` rebuilds the kernels file from it (and from a
readable earlier file) and computes only what is missing; a finished run removes
the folder.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._moved import forward

__all__ = [
    "FORMAT",
    "Checkpoints",
    "KernelData",
    "KernelStore",
    "ProbeInfo",
    "StoreError",
    "TaskRecord",
    "atomic_write",
    "read_kernel",
    "read_kernels",
    "read_task_table",
]

#: the reader of whole kernels files and scan files moved to lfpk_hpc.kernelsfile
#: (it imports this module); its names are still found here
__getattr__ = forward(
    __name__,
    dict.fromkeys(
        (
            "SCAN_FORMAT",
            "Kernel",
            "KernelsFile",
            "KernelsFileError",
            "ProbeData",
            "read_kernels_file",
            "resolve_point",
            "scan_point_label",
        ),
        "kernelsfile",
    ),
)

#: the ``format`` attribute of a kernels file
FORMAT = "lfpk_hpc.kernels/1"
TIMING_KEYS = ("build", "matrix", "setup", "simulate", "probes", "total")
#: the X of an action-potential kernel's task (not a population name: those start
#: with a letter)
AP_TASK = "(AP)"
#: what an action-potential kernel records beside its data (attributes)
AP_ATTRS = ("pulse_nA", "onset_ms", "n_spikes", "v_soma_mV")


class StoreError(RuntimeError):
    """The output file cannot be created, resumed or read as asked (bad input: exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class ProbeInfo:
    """What the store needs to know of a probe.

    Parameters
    ----------
    name : str
        The probe's name.
    type : str
        The probe's type.
    units : str
        Its units (e.g. ``"mV"``, ``"nA·µm"``).
    n_channels : int
        Its channels (a count).
    attrs : dict, optional
        Its attributes (lengths in µm, conductivities in S/m).
    z : tuple of float, optional
        Contact depths (µm).
    """

    name: str
    type: str
    units: str
    n_channels: int
    attrs: dict = field(default_factory=dict)
    z: tuple[float, ...] | None = None


@dataclass
class TaskRecord:
    """A finished task: its kernels (probe → array) and where/how it was computed.

    Parameters
    ----------
    X : str
        Presynaptic population (or :data:`AP_TASK`).
    Y : str
        Postsynaptic population.
    kernels : dict of str to numpy.ndarray
        Probe → kernel (channels, lags), in the probe's units per spike.
    rank : int, optional
        The rank that computed it.
    wall_time_s : float, optional
        Wall time of the task, in seconds.
    n_seg : int, optional
        Segments of Y's cell (a count).
    timings : dict of str to float, optional
        Wall time of each step, in seconds.
    extra : dict, optional
        The linear cell or the action-potential kernel's numbers (see above).
    """

    X: str
    Y: str
    kernels: dict[str, np.ndarray]
    rank: int = 0
    wall_time_s: float = 0.0
    n_seg: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    #: the linear cell of a user's model ("cell": arrays, "cell_attrs": words) or an
    #: action-potential kernel's numbers ("ap"); see KernelResult.extra
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_result(cls, result, rank: int) -> TaskRecord:
        """The record of a :class:`lfpk_hpc.kernel.KernelResult` computed on ``rank``.

        Parameters
        ----------
        result : KernelResult
            The task's result.
        rank : int
            The rank that computed it.

        Returns
        -------
        TaskRecord
            The record.
        """
        return cls(
            result.X,
            result.Y,
            result.kernels,
            rank,
            float(result.timings.get("total", 0.0)),
            int(result.n_seg),
            dict(result.timings),
            dict(getattr(result, "extra", {}) or {}),
        )


def task_record_to_checkpoint(rec: TaskRecord) -> tuple[dict, dict]:
    """(meta, arrays) of a kernel task's checkpoint."""
    meta = {
        "X": rec.X,
        "Y": rec.Y,
        "rank": rec.rank,
        "wall_time_s": rec.wall_time_s,
        "n_seg": rec.n_seg,
        "timings": rec.timings,
        "probes": sorted(rec.kernels),
    }
    arrays = {f"kernel_{i}": rec.kernels[name] for i, name in enumerate(meta["probes"])}
    if rec.extra:
        meta["extra"] = {k: v for k, v in rec.extra.items() if k != "cell"}
        for name, value in rec.extra.get("cell", {}).items():
            arrays[f"cell_{name}"] = np.asarray(value)
    return meta, arrays


def task_record_from_checkpoint(meta: dict, arrays: dict) -> TaskRecord:
    kernels = {name: arrays[f"kernel_{i}"] for i, name in enumerate(meta["probes"])}
    extra = dict(meta.get("extra", {}))
    cell = {k[5:]: v for k, v in arrays.items() if k.startswith("cell_")}
    if cell:
        extra["cell"] = cell
    return TaskRecord(
        meta["X"],
        meta["Y"],
        kernels,
        meta["rank"],
        meta["wall_time_s"],
        meta["n_seg"],
        meta["timings"],
        extra,
    )


def header_attrs(model) -> dict:
    """Root attributes describing how a file was made (compute on one rank, broadcast)."""
    import h5py

    from . import __version__

    out = {
        "format": FORMAT,
        "lfpk_hpc_version": __version__,
        "h5py_version": h5py.__version__,
        "python_version": platform.python_version(),
    }
    from importlib import metadata

    # from the installed distributions: importing LFPy only to read its version
    # cost ~0.15 s of every run's serial set-up
    import neuron  # imported by every run anyway (and not always the "neuron" wheel)

    out["neuron_version"] = neuron.__version__
    for dist, key in (
        ("LFPy", "lfpy_version"),
        ("lfpykit", "lfpykit_version"),
    ):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover - recorded as such
            out[key] = "unavailable"
    out["model_name"] = model.name
    out["params_json"] = model.to_json()
    out["params_hash"] = hashlib.sha256(out["params_json"].encode()).hexdigest()
    out["dt"] = float(model.kernel.dt)
    out["tau"] = float(model.kernel.tau)
    out["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return out


def _kernel_dataset(f, key: str, probe: ProbeInfo, n_lags: int, dt, tau, complete: bool):
    """A kernel's dataset (channels, lags) of zeros with its dt, tau (ms), units and
    ``complete`` flag (a kernel or an action-potential kernel: the layout is one)."""
    ds = f.create_dataset(key, shape=(probe.n_channels, n_lags), dtype="f8", fillvalue=0.0)
    ds.attrs["dt"] = dt
    ds.attrs["tau"] = tau
    ds.attrs["units"] = probe.units
    ds.attrs["complete"] = complete
    return ds


class KernelStore:
    """One kernels file, written by rank 0 alone or by every rank (``mpio``).

    With ``mpio`` every rank must make the same calls to the constructor and to
    :meth:`finalize`; :meth:`write` is independent (any rank, any time).

    Parameters
    ----------
    path : str or pathlib.Path
        The kernels file.
    header : dict
        The file's root attributes, with dt and tau (ms).
    probes : list of ProbeInfo
        The probes.
    pairs : list of tuple of str
        Every pathway (X, Y), with C_YX = 0 or not.
    tasks : list of tuple of str
        The tasks (X, Y), action-potential kernels included.
    n_lags : int
        Lags per kernel, 2·n_tau + 1 (a count).
    comm : mpi4py.MPI.Comm, optional
        Communicator of the ranks (with ``mpio``).
    mpio : bool, optional
        Whether every rank writes with parallel HDF5.
    costs : dict, optional
        Task → estimated wall time, in seconds.
    root : h5py.Group, optional
        A group of a file opened elsewhere (a scan's point) to write into instead.
    """

    def __init__(
        self,
        path,
        header: dict,
        probes: list[ProbeInfo],
        pairs,
        tasks,
        n_lags: int,
        *,
        comm=None,
        mpio: bool = False,
        costs=None,
        root=None,
    ):
        import h5py

        self.path = Path(path)
        self.mpio = mpio
        self.tasks = list(tasks)
        self._row = {t: i for i, t in enumerate(self.tasks)}
        self.probes = probes
        self.pairs = list(pairs)
        self.ap_Ys = [Y for X, Y in self.tasks if X == AP_TASK]
        #: per Y: what the tasks of this process recorded of the linear cell and the
        #: action-potential kernel (written when the run ends: see finalize)
        self.cells: dict[str, dict] = {}
        self.aps: dict[str, dict] = {}
        if root is not None:  # a group of a file opened elsewhere (a scan's point)
            self._file, self._root = None, root
            f = root
        elif mpio:
            self._file = f = h5py.File(self.path, "w", driver="mpio", comm=comm)
        else:
            self._file = f = h5py.File(self.path, "w")
        if root is None:
            self._root = self._file
        for key, value in header.items():
            f.attrs[key] = value
        f.attrs["complete"] = False
        dt, tau = header["dt"], header["tau"]
        for p in probes:
            g = f.create_group(f"probes/{p.name}")
            g.attrs["type"] = p.type
            g.attrs["units"] = p.units
            g.attrs["n_channels"] = p.n_channels
            for key, value in p.attrs.items():
                g.attrs[key] = value
            if p.z is not None:
                g.create_dataset("z", data=np.asarray(p.z, dtype=float)).attrs["units"] = "µm"
            for X, Y in self.pairs:
                zero = (X, Y) not in self._row  # C_YX = 0: exact zeros, complete
                ds = _kernel_dataset(f, f"kernels/{p.name}/{Y}/{X}", p, n_lags, dt, tau, zero)
                ds.attrs["zero_connection"] = zero
            for Y in self.ap_Ys:
                _kernel_dataset(f, f"ap_kernels/{p.name}/{Y}", p, n_lags, dt, tau, False)
        n = len(self.tasks)
        names = max([len(s.encode()) for t in self.tasks for s in t] + [1])
        g = f.create_group("tasks")
        for col, name in enumerate(("X", "Y")):
            g.create_dataset(
                name,
                data=np.array([t[col].encode() for t in self.tasks], dtype=f"S{names}")
                if n
                else np.zeros(0, dtype="S1"),
            )
        g.create_dataset("complete", shape=(n,), dtype="i1", fillvalue=0)
        g.create_dataset("rank", shape=(n,), dtype="i4", fillvalue=-1)
        g.create_dataset("wall_time_s", shape=(n,), dtype="f8", fillvalue=np.nan)
        g.create_dataset("n_seg", shape=(n,), dtype="i4", fillvalue=0)
        g.create_dataset(
            "cost_estimate",
            data=np.asarray(
                [costs.get(t, np.nan) if costs else np.nan for t in self.tasks], dtype="f8"
            ),
        )
        ds = g.create_dataset("timings", shape=(n, len(TIMING_KEYS)), dtype="f8", fillvalue=np.nan)
        ds.attrs["columns"] = ",".join(TIMING_KEYS)
        ds.attrs["units"] = "s"
        if not mpio:
            f.file.flush()

    def write(self, rec: TaskRecord) -> None:
        """Write one finished task's kernels and its row of /tasks.

        Parameters
        ----------
        rec : TaskRecord
            The finished task.
        """
        f = self._root
        i = self._row[(rec.X, rec.Y)]
        if "cell" in rec.extra:
            self.cells.setdefault(
                rec.Y, {"arrays": rec.extra["cell"], "attrs": rec.extra.get("cell_attrs", {})}
            )
        if "ap" in rec.extra:
            self.aps[rec.Y] = dict(rec.extra["ap"])
        for name, H in rec.kernels.items():
            key = (
                f"ap_kernels/{name}/{rec.Y}"
                if rec.X == AP_TASK
                else f"kernels/{name}/{rec.Y}/{rec.X}"
            )
            ds = f[key]
            if ds.shape != H.shape:
                raise StoreError(f"kernel {key} has shape {H.shape}, the file expects {ds.shape}")
            ds[...] = H
        g = f["tasks"]
        g["rank"][i] = rec.rank
        g["wall_time_s"][i] = rec.wall_time_s
        g["n_seg"][i] = rec.n_seg
        g["timings"][i] = [rec.timings.get(k, np.nan) for k in TIMING_KEYS]
        g["complete"][i] = 1
        if not self.mpio:
            f.file.flush()

    def finalize(self, complete: set, **attrs) -> None:
        """Set every kernel's ``complete`` flag, the linear cells' and action-potential
        kernels' records (every rank must hold all of them: see
        :meth:`merge_records`) and the run totals (collective).

        Parameters
        ----------
        complete : set of tuple of str
            The finished tasks (X, Y).
        **attrs
            The run's totals, written as root attributes.
        """
        f = self._root
        for p in self.probes:
            for X, Y in self.pairs:
                done = (X, Y) not in self._row or (X, Y) in complete
                f[f"kernels/{p.name}/{Y}/{X}"].attrs["complete"] = done
            for Y in self.ap_Ys:
                ds = f[f"ap_kernels/{p.name}/{Y}"]
                ds.attrs["complete"] = (AP_TASK, Y) in complete
                for key, value in sorted(self.aps.get(Y, {}).items()):
                    ds.attrs[key] = value
        for Y in sorted(self.cells):
            g = f.require_group(f"cells/{Y}")
            units = {"g": "S/cm²", "z": "µm"}
            for name, value in sorted(self.cells[Y]["arrays"].items()):
                ds = g.create_dataset(name, data=np.asarray(value, dtype=float))
                ds.attrs["units"] = units.get(name, "mV")
            for key, value in sorted(self.cells[Y]["attrs"].items()):
                g.attrs[key] = value
        for key, value in attrs.items():
            f.attrs[key] = value
        f.attrs["complete"] = all(t in complete for t in self.tasks)

    def merge_records(self, comm) -> None:
        """With parallel HDF5: every rank learns what the others recorded of the linear
        cells and action-potential kernels, so that :meth:`finalize` writes the same
        on every rank (collective).

        Parameters
        ----------
        comm : mpi4py.MPI.Comm or None
            Communicator of the ranks.
        """
        if comm is None or not self.mpio:
            return
        for cells, aps in comm.allgather((self.cells, self.aps)):
            for Y, value in cells.items():
                self.cells.setdefault(Y, value)
            self.aps.update(aps)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# --------------------------------------------------------------------------- checkpoints


class Checkpoints:
    """The folder ``<out>.parts/``: one atomically written file per finished task.

    Parameters
    ----------
    out : str or pathlib.Path
        The output whose checkpoints these are.
    """

    def __init__(self, out):
        self.dir = Path(str(out) + ".parts")

    def exists(self) -> bool:
        return self.dir.is_dir()

    def _manifest(self) -> Path:
        return self.dir / "manifest.json"

    def init(self, params_hash: str) -> None:
        """Make the folder and its manifest (the format and the run's params hash).

        Parameters
        ----------
        params_hash : str
            The run's params hash.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self._manifest().exists():
            atomic_write(
                self._manifest(),
                json.dumps({"format": FORMAT, "params_hash": params_hash}).encode(),
            )

    def params_hash(self) -> str | None:
        try:
            return json.loads(self._manifest().read_text())["params_hash"]
        except (OSError, ValueError, KeyError):
            return None

    def _file(self, X, Y) -> Path:
        return self.dir / f"{self.kernel_name(X, Y)}.npz"

    @staticmethod
    def kernel_name(X: str, Y: str) -> str:
        """Checkpoint name of the kernel task (X, Y).

        Parameters
        ----------
        X : str
            Presynaptic population (or :data:`AP_TASK`).
        Y : str
            Postsynaptic population.

        Returns
        -------
        str
            The checkpoint's name.
        """
        return "task_" + hashlib.sha1((X + "\0" + Y).encode()).hexdigest()[:16]

    def write_entry(self, name: str, meta: dict, arrays: dict) -> None:
        """Save one finished task atomically as ``<name>.npz``: ``meta`` (JSON-able,
        stored with its ``name``) and numpy ``arrays``.

        Parameters
        ----------
        name : str
            The checkpoint's name.
        meta : dict
            What JSON holds of the task.
        arrays : dict of str to numpy.ndarray
            Its arrays.
        """
        meta = dict(meta, name=name)
        path = self.dir / f"{name}.npz"
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        # No fsync: the rename makes a checkpoint whole or absent for any killed process
        # (the data are in the OS's cache); after a crash of the node itself a file
        # that did not reach the disk is unreadable, skipped by load_entries and computed
        # again. A sync per task cost as much as a PD14 task.
        with open(tmp, "wb") as fh:
            np.savez(fh, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
        os.replace(tmp, path)

    def load_entries(self, arrays: bool = True) -> list[tuple[dict, dict]]:
        """Every whole checkpoint as (meta, arrays), in name order (arrays empty
        unless ``arrays``); a file that is not whole is not a checkpoint.

        Parameters
        ----------
        arrays : bool, optional
            Whether to read the arrays too.

        Returns
        -------
        list of tuple of dict
            (meta, arrays) of each checkpoint.
        """
        out = []
        for path in sorted(self.dir.glob("*.npz")):
            try:
                with np.load(path) as z:
                    meta = json.loads(z["meta"].tobytes().decode())
                    data = {k: z[k] for k in z.files if k != "meta"} if arrays else {}
            except Exception:
                continue
            meta.setdefault("name", path.stem)
            out.append((meta, data))
        return out

    def write(self, rec: TaskRecord) -> None:
        """Checkpoint of a kernel task.

        Parameters
        ----------
        rec : TaskRecord
            The finished task.
        """
        meta, arrays = task_record_to_checkpoint(rec)
        self.write_entry(self.kernel_name(rec.X, rec.Y), meta, arrays)

    def load_all(self) -> dict[tuple[str, str], TaskRecord]:
        """The kernel tasks of the checkpoints: (X, Y) → TaskRecord."""
        out = {}
        for meta, arrays in self.load_entries():
            if "X" not in meta or "probes" not in meta:
                continue
            rec = task_record_from_checkpoint(meta, arrays)
            out[(rec.X, rec.Y)] = rec
        return out

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` under a temporary name, then rename it: a reader never
    sees a partial file.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    data : bytes
        Its content.
    """
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------- reading


def read_task_table(path) -> dict[tuple[str, str], dict]:
    """Rows of /tasks: (X, Y) → {complete, rank, wall_time_s, n_seg, cost_estimate}.

    Parameters
    ----------
    path : str or pathlib.Path
        A kernels file.

    Returns
    -------
    dict
        (X, Y) → {complete, rank, wall_time_s (seconds), n_seg, cost_estimate
        (seconds)}.
    """
    import h5py

    with h5py.File(path, "r") as f:
        g = f["tasks"]
        cols = {k: g[k][...] for k in ("complete", "rank", "wall_time_s", "n_seg", "cost_estimate")}
        keys = list(
            zip([x.decode() for x in g["X"][...]], [y.decode() for y in g["Y"][...]], strict=True)
        )
    return {k: {c: v[i].item() for c, v in cols.items()} for i, k in enumerate(keys)}


def load_complete(
    path, params_hash: str, group: str | None = None
) -> dict[tuple[str, str], TaskRecord]:
    """The complete tasks of an earlier kernels file (or of its ``group``, a scan's
    point) with the same parameter hash.

    Raises :class:`StoreError` if the hash differs; ``OSError`` if unreadable.
    """
    import h5py

    with h5py.File(path, "r") as file:
        f = file if group is None else file[group]
        found = f.attrs.get("params_hash")
        if found != params_hash:
            raise StoreError(
                f"cannot resume {str(path)!r}: it was made with other parameters (params hash "
                f"{str(found)[:12]}, these parameters {params_hash[:12]}); use another --out or "
                "--overwrite"
            )
        g = f["tasks"]
        out = {}
        for i, (X, Y) in enumerate(zip(g["X"][...], g["Y"][...], strict=True)):
            if not g["complete"][i]:
                continue
            X, Y = X.decode(), Y.decode()
            extra = {}
            if X == AP_TASK:
                kernels = {p: f[f"ap_kernels/{p}/{Y}"][...] for p in f["ap_kernels"]}
                attrs = f[f"ap_kernels/{next(iter(kernels))}/{Y}"].attrs
                if all(k in attrs for k in AP_ATTRS):
                    extra["ap"] = {k: attrs[k].item() for k in AP_ATTRS}
                else:  # a killed run: the numbers are in its checkpoint
                    continue
            else:
                kernels = {p: f[f"kernels/{p}/{Y}/{X}"][...] for p in f["kernels"]}
                if f"cells/{Y}" in f:
                    cg = f[f"cells/{Y}"]
                    extra["cell"] = {k: cg[k][...] for k in cg}
                    extra["cell_attrs"] = {k: _attr(v) for k, v in cg.attrs.items()}
            timings = dict(
                zip(g["timings"].attrs["columns"].split(","), g["timings"][i].tolist(), strict=True)
            )
            out[(X, Y)] = TaskRecord(
                X,
                Y,
                kernels,
                int(g["rank"][i]),
                float(g["wall_time_s"][i]),
                int(g["n_seg"][i]),
                timings,
                extra,
            )
    return out


def _attr(value):
    return value.item() if isinstance(value, np.generic) else value


def _finished_tasks(f) -> tuple[set[tuple[str, str]], int]:
    """(X, Y) of the tasks of an open kernels file that finished (their row of
    /tasks/complete is written with their kernels, during the run), and the number
    of tasks."""
    if "tasks" not in f or "complete" not in f["tasks"]:
        return set(), 0
    g = f["tasks"]
    xs, ys, done = g["X"][...], g["Y"][...], g["complete"][...]
    finished = {
        (x.decode(), y.decode()) for x, y, c in zip(xs, ys, done, strict=True) if int(c) == 1
    }
    return finished, len(done)


def _kernel_complete(ds, X: str, Y: str, finished: set) -> bool:
    """A kernel is complete when the run marked it so at its end, or when its task
    finished (a run that was killed never reached its end)."""
    return bool(ds.attrs.get("complete", False)) or (X, Y) in finished


@dataclass(frozen=True)
class KernelData:
    """One kernel H_YX of a probe (:func:`read_kernel`): ``data`` (channels, lags) in
    ``units`` per presynaptic spike at lags −tau … tau in steps of dt (ms), ``lags``;
    the probe's contact depths ``z`` (µm, Gauss-cylinder LFP probes) or EEG
    ``electrodes`` (µm), else None. ``numpy.asarray(kernel)`` is ``data``.

    Parameters
    ----------
    probe : str
        The probe's name.
    probe_type : str
        The probe's type.
    Y : str
        Postsynaptic population.
    X : str
        Presynaptic population.
    data : numpy.ndarray
        The kernel (channels, lags), in ``units`` per presynaptic spike.
    dt : float
        Time step of the lags (ms).
    tau : float
        Largest lag (ms).
    units : str
        The probe's units (e.g. ``"mV"``, ``"nA·µm"``, ``"fT"``, ``"µA/mm³"``).
    z : numpy.ndarray, optional
        Contact depths (µm).
    electrodes : numpy.ndarray, optional
        EEG electrode positions (µm).
    zero_connection : bool, optional
        Whether the pathway has C_YX = 0 (exact zeros).
    """

    probe: str
    probe_type: str
    Y: str
    X: str
    data: np.ndarray
    dt: float
    tau: float
    units: str
    z: np.ndarray | None = None
    electrodes: np.ndarray | None = None
    zero_connection: bool = False

    @property
    def lags(self) -> np.ndarray:
        """Lags (ms) of the columns of ``data``: −tau … tau."""
        n = (self.data.shape[1] - 1) // 2
        return np.arange(-n, n + 1) * self.dt

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.data, dtype=dtype)


def read_kernel(path, probe: str, Y: str, X: str, *, partial: bool = False) -> KernelData:
    """One kernel H_YX of ``probe`` with its dt, tau, lags, units and the probe's
    coordinates (:class:`KernelData`).

    Refuses a kernel whose task did not finish, and any kernel of a file whose run
    did not finish unless ``partial`` is True (then the kernels of its finished
    tasks are returned).

    Parameters
    ----------
    path : str or path-like
        The kernels file (HDF5).
    probe : str
        The probe's name (``"lfp"``, ``"cdm"``, ...).
    Y, X : str
        Postsynaptic and presynaptic population.
    partial : bool
        Read a finished kernel of an unfinished run.

    Returns
    -------
    KernelData
        ``data`` (channels, lags) in the probe's units per presynaptic spike (mV for
        LFP and EEG, nA·µm for the dipole moment, fT for MEG, µA/mm³ for CSD),
        ``dt`` and ``tau`` (ms), ``lags`` (ms), ``units``, and the probe's contact
        depths ``z`` (µm) or electrode positions (µm).

    Raises
    ------
    StoreError
        Naming the file and the problem (no such kernel, an unfinished task or run).
    """
    import h5py

    from .kernelsfile import KernelsFileError
    from .probes import canonical_units

    path = Path(path)
    if not path.is_file():
        raise KernelsFileError(f"kernels file {str(path)!r} does not exist")
    with h5py.File(path, "r") as f:
        key = f"kernels/{probe}/{Y}/{X}"
        if key not in f:
            probes = ", ".join(f["kernels"]) if "kernels" in f else "none"
            raise StoreError(f"{path}: no kernel {key} (probes: {probes})")
        ds = f[key]
        finished, n_tasks = _finished_tasks(f)
        if not _kernel_complete(ds, X, Y, finished):
            raise StoreError(f"{path}: kernel {key} is not complete (its task did not finish)")
        if not partial and not bool(f.attrs.get("complete", False)):
            raise StoreError(
                f"{path} is the file of an unfinished run ({len(finished)} of {n_tasks} tasks "
                "finished): finish it with --resume, or pass partial=True to read the kernels "
                "of the finished tasks"
            )
        g = f[f"probes/{probe}"] if f"probes/{probe}" in f else None
        z = np.asarray(g["z"][...], dtype=float) if g is not None and "z" in g else None
        electrodes = None
        if g is not None and "electrodes" in g.attrs:
            electrodes = np.asarray(g.attrs["electrodes"], dtype=float)
        return KernelData(
            probe,
            str(g.attrs.get("type", "")) if g is not None else "",
            Y,
            X,
            ds[...],
            float(ds.attrs.get("dt", f.attrs["dt"])),
            float(ds.attrs.get("tau", f.attrs["tau"])),
            canonical_units(ds.attrs.get("units", "")),
            z,
            electrodes,
            bool(ds.attrs.get("zero_connection", False)),
        )


def read_kernels(path) -> dict[tuple[str, str, str], np.ndarray]:
    """Every complete kernel: (probe, Y, X) → array (channels, lags).

    Parameters
    ----------
    path : str or pathlib.Path
        A kernels file.

    Returns
    -------
    dict
        (probe, Y, X) → kernel (channels, lags), in the probe's units per spike.
    """
    from .kernelsfile import read_kernels_file

    kf = read_kernels_file(path)
    return {
        (name, Y, X): k.data
        for name, probe in kf.probes.items()
        for (Y, X), k in probe.kernels.items()
        if k.complete
    }
