"""The hybrid ground truth: every neuron of a point-neuron network as a passive
multicompartment cell driven by the network's own spikes::

    python -m lfpk_hpc hybrid PARAMS SPIKES --out DIR [--scale S] [--tstart T0]
        [--tstop T] [--dt DT] [--seed N] [--resume | --overwrite]
    mpirun -n 64 python -m lfpk_hpc hybrid params/potjans.py spikes.h5 --out hybrid/

This is the scheme of Hagen et al. (2016, Cereb Cortex 26:4461; the reference
implementation is hybridLFPy): the cells are passive and receive current-based
synapses, so they do not act back on the network, and each one can be simulated
on its own, driven by the spike trains the point network produced. The kernels
(Hagen et al. 2022) approximate exactly this computation by its mean per
presynaptic spike, so it is their reference.

What is simulated (see :mod:`lfpk_hpc.hybridsim` for the details):

- every population of the params file with a cell model, at ``--scale`` (round(N·S)
  cells); below scale 1 each cell keeps its full-scale in-degree (``--in-degrees
  full``, the default: the connection probabilities raised,
  :func:`lfpk_hpc.groundtruth.scaled_model`), or C is kept and in-degrees shrink with
  S (``--in-degrees scaled``, as in ``groundtruth``);
- each cell's synapses by the params' connectivity (synapse-count rule, multapses,
  layer-specific placement, synapse model, weight and delay distribution), each bound
  to one neuron of the presynaptic population of the spikes file and activated by
  its spikes within [tstart, tstop) plus the delay;
- the window [tstart, tstop) with fixed steps of dt, from rest at tstart: sample k
  of every signal is at t = tstart + k·dt (k = 0 … n − 1). Spikes before tstart are
  left out, as ``predict --tstart`` leaves them out, so the first few tens of ms
  (the cells' and synapses' time constants) are a start-up transient of both.

The bulk of a run's output are the blocks' signals: each rank writes the checkpoints of
its own blocks. At the end the populations are shared out over the ranks, each sums
its populations' blocks in block order, and rank 0 writes the signals file (channels ×
bins per population: a few MB per simulated second, not worth parallel HDF5).

The work is a set of blocks (runs of cells of one population, about
``--block-segments`` segments each; the block size depends on the model only, never
on the number of ranks) computed by the task farm (:mod:`lfpk_hpc.scheduler`):
dynamic, longest first, resumable from per-block checkpoints after a kill
(``--resume``), and the signals are the same bit for bit on any number of ranks
(each block's signal is computed the same way wherever it runs; blocks are summed
per population in block order).

Output: ``DIR/signals.h5`` in the layout of ``predict``'s signals files:
``/signals/<probe>`` (channels, bins) and ``/contributions/<probe>/<Y>``, with
attributes ``dt`` (ms), ``t_start`` (ms), ``units``; the probes as a ground truth
records them (LFP of line sources at the contacts (0, 0, z), mV; the dipole moment's
three components, nA·µm; EEG of each cell's dipole at its soma, mV). Root
attributes: the run's parameters (``params_json``/``params_hash`` of the scaled
model, ``spikes`` and its SHA-256, ``t_start``, ``t_stop``, ``dt``, ``seed``,
``scale``, ``block_segments``, ``run_hash``), versions, ``ranks`` and the wall times of
the phases; per postsynaptic population ``cells_<Y>``, ``synapses_<Y>``,
``events_<Y>`` (spikes delivered to its synapses) and ``point_processes_<Y>``;
``/blocks`` one row per block (population, first cell, cells, segments, synapses,
events, rank, wall time and its parts), from which ``plan`` takes measured costs.

Exit codes: 0 success, 1 a run that failed, 2 bad input — a spikes file without
senders or without a population the params need, a population whose size differs
from the params' at the scale, an empty time window or one without spikes — all
found before any cell is simulated.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np

from .hybridsim import BlockResult, HybridError, HybridInputs, connections_per_cell
from .params import Model
from .scheduler import TaskKind, run_farm

__all__ = [
    "HybridError",
    "HybridTasks",
    "add_arguments",
    "block_plan",
    "main",
    "run_hybrid",
]

#: the number of blocks a large run is cut into (so that 1024 ranks get two each)
TARGET_BLOCKS = 2048
#: bounds of the segments per block (small blocks cost more per cell to set up)
MIN_BLOCK_SEGMENTS = 2000
MAX_BLOCK_SEGMENTS = 50000

#: cost model of a block (seconds), measured on the development machine (2 cores,
#: quiet, 2026; benchmarks/hybrid.py and a run's /blocks table): NEURON's steps per
#: segment with the leak, synapse state and recording of every membrane current
#: (bare passive stepping is about 2e-8), a synapse point process per step (models
#: other than ExpSynI), one event (delivered by the compiled loop to an ExpSynI
#: state, PD14's case: about 0.1 µs; through NEURON's queue to a point process it is
#: about 1 µs, which an earlier run's --measured block times correct), one synapse
#: drawn, one cell made (its sections, its draws per pathway and its EEG matrix,
#: about 3.5 ms of that)
COST_SEGMENT_STEP = 3.0e-8
COST_POINT_PROCESS_STEP = 0.5e-8
COST_EVENT = 0.1e-6
COST_SYNAPSE = 1.0e-6
COST_CELL = 4e-3

FORMAT = "lfpk_hpc.hybrid/1"
#: --in-degrees of a run below full scale: every cell keeps its full-scale in-degree
#: (:func:`lfpk_hpc.groundtruth.scaled_model`), so each receives the synapses it
#: would in the whole microcircuit and the signals' cell-to-cell variation keeps
#: its full-scale share (the validation's R², docs/guide/validation.md)
DEFAULT_IN_DEGREES = "full"


# --------------------------------------------------------------------------- blocks


def block_plan(model: Model, nseg: dict, block_segments: int | None = None) -> list[tuple]:
    """Blocks (Y, index, first cell, cells) of every cell population, in model order,
    and the segments per block used. Cells per block of Y: round(block_segments /
    segments of Y's cell), at least 1; ``block_segments`` defaults to the total number
    of segments / TARGET_BLOCKS, within [MIN_BLOCK_SEGMENTS, MAX_BLOCK_SEGMENTS].

    Parameters
    ----------
    model : Model
        The (scaled) model.
    nseg : dict of str to int
        Segments of each population's cell (a count).
    block_segments : int, optional
        Segments per block (a count); None: from the total (see above).

    Returns
    -------
    blocks : list of tuple
        (Y, index, first cell, cells) of each block.
    block_segments : int
        The segments per block used (a count).
    """
    Ys = [Y for Y in model.postsynaptic if model.population(Y).cell is not None]
    if block_segments is None:
        total = sum(nseg[Y] * model.population(Y).N for Y in Ys)
        block_segments = int(
            min(max(total / TARGET_BLOCKS, MIN_BLOCK_SEGMENTS), MAX_BLOCK_SEGMENTS)
        )
    out = []
    for Y in Ys:
        n = model.population(Y).N
        per = max(1, min(n, int(round(block_segments / nseg[Y]))))
        for b, first in enumerate(range(0, n, per)):
            out.append((Y, b, first, min(per, n - first)))
    return out, int(block_segments)


def expected_per_cell(model: Model, Y: str, spikes_in_window: dict) -> tuple[float, float]:
    """(synapses, events) expected on one cell of Y: Σ_X synapses from X, and Σ_X
    synapses from X × spikes of X in the window / N_X."""
    from .kernel import multapse_mean

    syn = events = 0.0
    for X in model.presynaptic(Y):
        con = model.connection(X, Y)
        if con.C == 0:
            continue
        k = connections_per_cell(model, X, Y) * multapse_mean(con.multapses)
        syn += k
        events += k * spikes_in_window.get(X, 0.0) / model.population(X).N
    return syn, events


def block_cost(n_seg_cell: int, cells: int, steps: int, syn: float, events: float) -> float:
    """Estimated seconds of a block of ``cells`` cells (see the COST_* constants):
    ``syn`` and ``events`` per cell."""
    pp = n_seg_cell * (1.0 - math.exp(-syn / max(n_seg_cell, 1)))  # occupied segments
    per_cell = (
        COST_SEGMENT_STEP * n_seg_cell * steps
        + COST_POINT_PROCESS_STEP * pp * steps
        + COST_EVENT * events
        + COST_SYNAPSE * syn
        + COST_CELL
    )
    return cells * per_cell


# --------------------------------------------------------------------------- the task kind


class HybridTasks(TaskKind):
    """Blocks of hybrid cells as tasks of :func:`lfpk_hpc.scheduler.run_farm`.

    Parameters
    ----------
    inputs : HybridInputs
        The model, spike trains, time window and seed of the run.
    blocks : list of tuple
        The blocks (Y, index, first cell, cells) of :func:`block_plan`.
    block_segments : int
        Segments per block (a count).
    nseg : dict of str to int
        Segments of each population's cell (a count).
    run_info : dict
        The run's attributes (its hash, the spikes file, the spikes in the window).
    log : callable
        Receives the progress messages.
    """

    noun = "block"
    units_noun = "units"
    store_mode = "checkpoints"

    def __init__(self, inputs: HybridInputs, blocks, block_segments, nseg, run_info, log):
        self.inputs = inputs
        self.blocks = {(Y, b): (first, count) for Y, b, first, count in blocks}
        self.order = [(Y, b) for Y, b, _f, _c in blocks]
        self.block_segments = block_segments
        self.nseg = nseg
        self.run_info = run_info
        self.log = log

    def keys(self):
        return list(self.order)

    def label(self, key):
        first, count = self.blocks[key]
        return f"{key[0]}[{first}:{first + count}]"

    def params_hash(self):
        return self.run_info["run_hash"]

    def announce(self, n_done):
        m = self.inputs.model
        cells = {Y: m.population(Y).N for Y in {Y for Y, _ in self.order}}
        Ys = [Y for Y in m.postsynaptic if Y in cells]
        return [
            f"hybrid ground truth of {m.name!r} (params hash {m.hash()[:12]}): "
            + ", ".join(f"{Y} {cells[Y]} cells of {self.nseg[Y]} segments" for Y in Ys),
            f"spikes {self.run_info['spikes']}: "
            + ", ".join(f"{X} {n}" for X, n in self.run_info["spikes_in_window"].items())
            + f" spikes in [{self.inputs.tstart:g}, {self.inputs.tstop:g}) ms",
            f"window {self.inputs.tstart:g}-{self.inputs.tstop:g} ms, dt {self.inputs.dt:g} ms "
            f"({self.inputs.n_bins} samples); seed {self.inputs.seed}; "
            f"{len(self.order)} blocks of about {self.block_segments} segments",
        ]

    def estimate(self, keys, measured, comm):
        m, inp = self.inputs.model, self.inputs
        steps = inp.n_bins
        per_y = {}
        for Y in {Y for Y, _ in keys}:
            per_y[Y] = expected_per_cell(m, Y, self.run_info["spikes_in_window"])
        raw = {k: block_cost(self.nseg[k[0]], self.blocks[k][1], steps, *per_y[k[0]]) for k in keys}
        measured = {k: v for k, v in (measured or {}).items() if k in raw and v and v > 0}
        scale = 1.0
        if measured:
            ratios = sorted(measured[k] / raw[k] for k in measured)
            scale = ratios[len(ratios) // 2]
        return {k: measured.get(k, raw[k] * scale) for k in keys}

    def setup(self, comm, log):
        from . import mechanisms

        mechanisms.load_mechanisms(comm=comm, log=log)
        import LFPy  # noqa: F401  (the prototypes' builder; imported before the first block)

    def compute(self, key, rank):
        first, count = self.blocks[key]
        from .hybridsim import simulate_block

        rec = simulate_block(self.inputs, key[0], key[1], first, count)
        rec.rank = rank
        return rec

    def detail(self, rec):
        return (
            f"{rec.count} cells, {rec.n_seg} segments, {rec.n_synapses} synapses, "
            f"{rec.n_events} events"
        )

    # ---- checkpoints
    def checkpoint_name(self, key):
        return f"block_{key[0]}_{key[1]:06d}".replace("/", "_")

    def to_checkpoint(self, rec: BlockResult):
        meta = {
            "Y": rec.Y,
            "block": rec.block,
            "first": rec.first,
            "count": rec.count,
            "n_seg": rec.n_seg,
            "n_synapses": rec.n_synapses,
            "n_events": rec.n_events,
            "n_point_processes": rec.n_point_processes,
            "timings": rec.timings,
            "rank": rec.rank,
            "wall_time_s": rec.wall_time_s,
            "probes": sorted(rec.signals),
        }
        arrays = {f"signal_{i}": rec.signals[p] for i, p in enumerate(meta["probes"])}
        return meta, arrays

    def from_checkpoint(self, meta, arrays):
        signals = {p: arrays.get(f"signal_{i}") for i, p in enumerate(meta["probes"])}
        rec = BlockResult(
            meta["Y"],
            meta["block"],
            meta["first"],
            meta["count"],
            signals,
            n_seg=meta["n_seg"],
            n_synapses=meta["n_synapses"],
            n_events=meta["n_events"],
            n_point_processes=meta["n_point_processes"],
            timings=meta["timings"],
            rank=meta["rank"],
            wall_time_s=meta["wall_time_s"],
        )
        return (rec.Y, rec.block), rec

    def load_done(self, out):
        # the signals file is written only when every block is done (then there is
        # nothing to resume); an unfinished run lives in its checkpoints
        raise OSError(f"{out} is not a finished run")

    # ---- the output
    def finish(self, out, store, complete, attrs, comm, mpio, log):
        """Sum every population's blocks in block order (populations shared out over
        the ranks) and write the signals file, if every block is done.

        Parameters
        ----------
        out : pathlib.Path
            The signals file.
        store : object or None
            Unused (the blocks are in the checkpoints).
        complete : set
            Keys of every finished block.
        attrs : dict
            The run's totals, written as the file's attributes.
        comm : mpi4py.MPI.Comm or None
            Communicator of the ranks (None: serial).
        mpio : bool
            Unused (each rank writes its own checkpoints).
        log : callable
            Receives the progress messages.
        """
        if set(self.order) - set(complete):
            return
        from .store import Checkpoints

        rank = comm.Get_rank() if comm is not None else 0
        size = comm.Get_size() if comm is not None else 1
        parts = Checkpoints(out)
        m = self.inputs.model
        Ys = [Y for Y in m.postsynaptic if any(k[0] == Y for k in self.order)]
        probes = [p.name for p in m.probes]
        names = {self.checkpoint_name(k) for k in self.order}
        entries = {}
        mine = [Y for j, Y in enumerate(Ys) if j % size == rank]
        sums, stats, rows = {}, {}, []
        for meta, _ in parts.load_entries(arrays=False):
            if meta["name"] in names:
                entries[(meta["Y"], meta["block"])] = meta
        for Y in mine:
            acc = None
            for key in [k for k in self.order if k[0] == Y]:
                data = _load_arrays(parts.dir / f"{self.checkpoint_name(key)}.npz")
                meta = entries[key]
                if acc is None:
                    acc = {p: data[f"signal_{meta['probes'].index(p)}"].copy() for p in probes}
                else:
                    for p in probes:
                        acc[p] += data[f"signal_{meta['probes'].index(p)}"]
            sums[Y] = acc
        for key in self.order:
            meta = entries[key]
            s = stats.setdefault(key[0], dict(cells=0, synapses=0, events=0, point_processes=0))
            s["cells"] += meta["count"]
            s["synapses"] += meta["n_synapses"]
            s["events"] += meta["n_events"]
            s["point_processes"] += meta["n_point_processes"]
            rows.append(meta)
        if comm is not None and size > 1:
            gathered = comm.gather(sums, root=0)
            if rank == 0:
                for part in gathered:
                    sums.update(part)
        if rank == 0:
            _write_signals(out, m, self.inputs, Ys, probes, sums, stats, rows, self.run_info, attrs)
            log(
                "cells, synapses and spikes delivered: "
                + "; ".join(
                    f"{Y} {stats[Y]['cells']}, {stats[Y]['synapses']}, {stats[Y]['events']}"
                    for Y in Ys
                )
            )
        if comm is not None and size > 1:
            from .parallel import wait_quietly

            wait_quietly(comm)


def _load_arrays(path: Path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files if k != "meta"}


def _write_signals(out, model, inputs, Ys, probes, sums, stats, rows, run_info, attrs):
    import h5py

    from .probes import make_probe
    from .store import header_attrs

    units = {p.name: make_probe(p).units for p in model.probes}
    tmp = out.with_name(out.name + ".tmp")
    header = header_attrs(model)
    with h5py.File(tmp, "w") as f:
        for k, v in header.items():
            f.attrs[k] = v
        f.attrs["format"] = FORMAT
        f.attrs["source"] = "lfpk_hpc hybrid"
        f.attrs["t_start"] = float(inputs.tstart)
        f.attrs["t_stop"] = float(inputs.tstop)
        f.attrs["dt"] = float(inputs.dt)
        f.attrs["n_bins"] = int(inputs.n_bins)
        f.attrs["seed"] = int(inputs.seed)
        for k in ("scale", "in_degrees", "spikes", "spikes_sha256", "block_segments", "run_hash"):
            f.attrs[k] = run_info[k]
        for k, v in attrs.items():
            f.attrs[k] = v
        f.attrs["complete"] = True
        for Y in Ys:
            for k, v in stats[Y].items():
                f.attrs[f"{k}_{Y}"] = int(v)

        def put(name, data, units):
            ds = f.create_dataset(name, data=np.asarray(data, dtype=np.float64))
            ds.attrs["dt"] = float(inputs.dt)
            ds.attrs["t_start"] = float(inputs.tstart)
            ds.attrs["units"] = units
            return ds

        for p in probes:
            total = None
            for Y in Ys:
                put(f"contributions/{p}/{Y}", sums[Y][p], units[p])
                total = sums[Y][p].copy() if total is None else total + sums[Y][p]
            ds = put(f"signals/{p}", total, units[p])
            spec = next(s for s in model.probes if s.name == p)
            ds.attrs["probe_type"] = type(spec).__name__
            if hasattr(spec, "z"):
                ds.attrs["probe_z"] = np.asarray(spec.z, dtype=float)
                ds.attrs["probe_sigma"] = spec.sigma
                ds.attrs["electrode"] = "line sources at contacts (0, 0, z) (LFPy RecExtElectrode)"
        g = f.create_group("blocks")
        width = max(len(r["Y"].encode()) for r in rows)
        g.create_dataset("Y", data=np.array([r["Y"].encode() for r in rows], dtype=f"S{width}"))
        for col in ("block", "first", "count", "n_seg", "n_synapses", "n_events", "rank"):
            g.create_dataset(col, data=np.array([r[col] for r in rows], dtype=np.int64))
        g.create_dataset("wall_time_s", data=np.array([r["wall_time_s"] for r in rows]))
        cols = ("build", "synapses", "probes", "simulate", "total")
        ds = g.create_dataset(
            "timings", data=np.array([[r["timings"].get(c, np.nan) for c in cols] for r in rows])
        )
        ds.attrs["columns"] = ",".join(cols)
        ds.attrs["units"] = "s"
    tmp.replace(out)


# --------------------------------------------------------------------------- a run


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def prepare_inputs(
    model: Model,
    spikes_path,
    *,
    scale: float = 1.0,
    tstart: float = 0.0,
    tstop: float | None = None,
    dt: float | None = None,
    seed: int = 1234,
    in_degrees: str = DEFAULT_IN_DEGREES,
):
    """Check the inputs of a hybrid run (before anything is simulated) and read the
    spikes: (HybridInputs, the scaled model, spikes per population in the window)."""
    from .groundtruth import GroundTruthError, scaled_model
    from .predict import SpikesError, read_spike_trains

    try:
        model = scaled_model(model, scale, in_degrees)
    except GroundTruthError as exc:
        raise HybridError(str(exc)) from None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise HybridError(f"--seed = {seed!r} is invalid: must be a whole number in [0, 2**32)")
    dt = float(model.kernel.dt if dt is None else dt)
    if not (math.isfinite(dt) and dt > 0):
        raise HybridError(f"--dt = {dt!r} is invalid: must be a finite time > 0 ms")
    cells = [Y for Y in model.postsynaptic if model.population(Y).cell is not None]
    if not cells:
        raise HybridError(f"params {model.name!r} has no postsynaptic population with a cell")
    needed = {X for Y in cells for X in model.presynaptic(Y)}
    pres = [p.name for p in model.populations if p.name in needed]
    try:
        trains, file_t_stop = read_spike_trains(spikes_path, pres)
    except SpikesError as exc:
        raise HybridError(str(exc)) from None
    for X in pres:
        n_file, n_model = trains[X][2], model.population(X).N
        if n_file != n_model:
            raise HybridError(
                f"{spikes_path}: population {X} has N = {n_file} neurons, but the params at "
                f"--scale {scale:g} have {n_model} (round({model.population(X).N / scale:g} × "
                f"{scale:g})); simulate the point network at the same scale"
            )
    if tstop is None:
        tstop = file_t_stop
    if tstop is None:
        raise HybridError(f"{spikes_path} has no t_stop attribute: give --tstop (ms)")
    if not (math.isfinite(tstart) and tstart >= 0):
        raise HybridError(f"--tstart = {tstart!r} is invalid: must be a finite time >= 0 ms")
    if not (math.isfinite(tstop) and tstop > tstart):
        raise HybridError(
            f"--tstop = {tstop!r} is invalid: the window [tstart, tstop) = [{tstart:g}, "
            f"{tstop!r}) ms is empty"
        )
    n = (tstop - tstart) / dt
    if round(n) < 1 or abs(n - round(n)) > 1e-9 * max(1.0, n):
        raise HybridError(
            f"--tstop - --tstart = {tstop - tstart:g} ms is invalid: must be a whole, non-zero "
            f"multiple of dt = {dt:g} ms"
        )
    in_window = {
        X: int(np.count_nonzero((t >= tstart) & (t < tstop))) for X, (t, _s, _n) in trains.items()
    }
    if sum(in_window.values()) == 0:
        raise HybridError(
            f"{spikes_path}: no spikes in the window [{tstart:g}, {tstop:g}) ms: the hybrid "
            "signals would be zero"
        )
    inputs = HybridInputs(model, trains, float(tstart), float(tstop), dt, int(seed))
    return inputs, model, in_window


def run_hybrid(
    model: Model,
    spikes_path,
    out,
    *,
    scale: float = 1.0,
    tstart: float = 0.0,
    tstop: float | None = None,
    dt: float | None = None,
    seed: int = 1234,
    block_segments: int | None = None,
    in_degrees: str = DEFAULT_IN_DEGREES,
    comm=None,
    overwrite: bool = False,
    resume: bool = False,
    log=print,
) -> Path:
    """The hybrid ground truth of ``model`` driven by ``spikes_path`` into the folder
    ``out`` (see the module docstring). Every rank of ``comm`` calls this; returns the
    path of the signals file.

    Parameters
    ----------
    model : Model
        The point network's model (units of :mod:`lfpk_hpc.params`).
    spikes_path : str or path-like
        The point network's spikes (times in ms, senders).
    out : str or path-like
        The output folder.
    scale : float
        Fraction of every population's neurons (dimensionless; must match the spikes).
    tstart : float
        Start of the window, ms.
    tstop : float or None
        End of the window, ms (None: the spikes file's ``t_stop``).
    dt : float or None
        Time step, ms (None: the kernels' dt).
    seed : int
        Seed of every cell's draws.
    block_segments : int or None
        Segments per task (a count; None: from the model).
    in_degrees : {"full", "scaled"}
        At a scale below 1, whether each cell keeps its full-scale in-degree
        (connection probabilities raised; the default) or C is kept
        (:func:`lfpk_hpc.groundtruth.scaled_model`).
    comm : mpi4py communicator or None
        The ranks.
    overwrite, resume : bool
        Replace an existing output; continue an interrupted run.
    log : callable
        Where progress lines go.

    Returns
    -------
    pathlib.Path
        ``out/signals.h5`` (LFP in mV, dipole moment in nA·µm, EEG in mV).
    """
    from . import cost

    rank = comm.Get_rank() if comm is not None else 0
    say = log if rank == 0 else (lambda *a, **k: None)
    spikes_path = Path(spikes_path)
    inputs, smodel, in_window = prepare_inputs(
        model,
        spikes_path,
        scale=scale,
        tstart=tstart,
        tstop=tstop,
        dt=dt,
        seed=seed,
        in_degrees=in_degrees,
    )
    if block_segments is not None and not (
        isinstance(block_segments, (int, np.integer)) and block_segments >= 1
    ):
        raise HybridError(f"--block-segments = {block_segments!r} is invalid: must be >= 1")
    Ys = [Y for Y in smodel.postsynaptic if smodel.population(Y).cell is not None]
    nseg = {Y: n for Y, n in cost.segment_counts(smodel, Ys, comm).items()}
    bad = [Y for Y, n in nseg.items() if n is None]
    if bad:
        raise HybridError(
            f"populations[{bad[0]}].cell.morphology = {smodel.population(bad[0]).cell.morphology!r}"
            " does not load in NEURON"
        )
    blocks, block_segments = block_plan(smodel, nseg, block_segments)
    sha = _sha256(spikes_path) if rank == 0 else None
    if comm is not None:
        sha = comm.bcast(sha, root=0)
    ident = {
        "format": FORMAT,
        "params_hash": smodel.hash(),
        "spikes_sha256": sha,
        "tstart": inputs.tstart,
        "tstop": inputs.tstop,
        "dt": inputs.dt,
        "seed": inputs.seed,
        "block_segments": block_segments,
    }
    run_info = {
        "scale": float(scale),
        "in_degrees": str(in_degrees),
        "spikes": str(spikes_path),
        "spikes_sha256": sha,
        "block_segments": int(block_segments),
        "run_hash": hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest(),
        "spikes_in_window": in_window,
    }
    out = Path(out)
    target = out / "signals.h5"
    if resume and rank == 0 and target.exists() and not Path(str(target) + ".parts").exists():
        import h5py

        try:
            with h5py.File(target, "r") as f:
                same = f.attrs.get("run_hash") == run_info["run_hash"] and bool(
                    f.attrs.get("complete")
                )
        except OSError:
            same = False
        if not same:
            from .store import StoreError

            raise StoreError(
                f"cannot resume {str(target)!r}: it holds another run (other parameters, "
                "spikes, window or seed); use another --out or --overwrite"
            )
    finished = None
    if resume and rank == 0:
        finished = target.exists() and not Path(str(target) + ".parts").exists()
    if comm is not None:
        finished = comm.bcast(finished, root=0)
    if finished:
        say(f"resume: {target} is a finished run of the same inputs; nothing to do")
        return target
    out.mkdir(parents=True, exist_ok=True)
    kind = HybridTasks(inputs, blocks, block_segments, nseg, run_info, say)
    t0 = time.perf_counter()
    run_farm(kind, target, comm=comm, overwrite=overwrite, resume=resume, log=log)
    say(f"hybrid: {time.perf_counter() - t0:.1f} s")
    return target


# --------------------------------------------------------------------------- planning

#: seconds per rank to start (Python, LFPy, mechanisms) and to read a block's
#: checkpoint when the populations are summed (per MB), for the plan's run totals
PLAN_SETUP_S = 2.0
PLAN_READ_S_PER_MB = 0.002


def measured_ratio(path) -> tuple[float, str]:
    """(median measured/estimated block time, description) of an earlier hybrid run's
    signals file: how much slower or faster this machine is than the cost model."""
    import h5py

    with h5py.File(path, "r") as f:
        name = json.loads(f.attrs["params_json"]).get("name", "?")
        steps = int(f.attrs["n_bins"])
        g = f["blocks"]
        Ys = [y.decode() for y in g["Y"][...]]
        count, nseg = g["count"][...], g["n_seg"][...]
        syn, events, wall = g["n_synapses"][...], g["n_events"][...], g["wall_time_s"][...]
    ratios = []
    for k in range(len(Ys)):
        cells = int(count[k])
        est = block_cost(int(nseg[k]) // cells, cells, steps, syn[k] / cells, events[k] / cells)
        ratios.append(wall[k] / est)
    ratios.sort()
    r = ratios[len(ratios) // 2]
    return r, (
        f"measured block times of {path} ({name}, {len(Ys)} blocks): the machine runs "
        f"at {r:.2f} × the cost model (median over blocks)"
    )


def block_seconds(
    model: Model,
    *,
    scale: float = 1.0,
    tstop: float = 1000.0,
    dt: float | None = None,
    measured=None,
    block_segments: int | None = None,
    in_degrees: str = DEFAULT_IN_DEGREES,
) -> dict:
    """The estimated seconds of every block of a hybrid run of ``model`` at ``scale``
    over ``tstop`` ms (events from the populations' rates nu; with ``measured``, the
    signals file of an earlier run, the cost model is scaled by its measured block
    times), and what they are made of (a dict; see :func:`plan`)."""
    from . import cost
    from .groundtruth import scaled_model
    from .probes import make_probe

    smodel = scaled_model(model, scale, in_degrees)
    dt = float(smodel.kernel.dt if dt is None else dt)
    steps = int(round(tstop / dt))
    Ys = [Y for Y in smodel.postsynaptic if smodel.population(Y).cell is not None]
    nseg = cost.segment_counts(smodel, Ys)
    blocks, bseg = block_plan(smodel, nseg, block_segments)
    expected = {X.name: X.nu * tstop / 1000.0 * X.N for X in smodel.populations}
    per_y = {Y: expected_per_cell(smodel, Y, expected) for Y in Ys}
    factor, note = 1.0, "no measured run: the cost model of the development machine"
    if measured is not None:
        factor, note = measured_ratio(measured)
    secs = [factor * block_cost(nseg[Y], c, steps, *per_y[Y]) for Y, _b, _f, c in blocks]
    chans = sum(make_probe(p).n_channels for p in smodel.probes)
    return {
        "model": smodel,
        "dt": dt,
        "steps": steps,
        "Ys": Ys,
        "nseg": nseg,
        "blocks": blocks,
        "block_segments": bseg,
        "per_y": per_y,
        "factor": factor,
        "note": note,
        "seconds": secs,
        "checkpoint_mb": 8e-6 * chans * steps,
    }


def expected_run(seconds: list, ranks: int, blocks, checkpoint_mb: float):
    """(makespan of the blocks, efficiency of the block phase, expected run time with
    start-up and the final sums) on ``ranks`` ranks, longest first."""
    from . import cost

    makespan, eff = cost.efficiency(seconds, ranks)
    largest_y = max(sum(1 for b in blocks if b[0] == Y) for Y in {b[0] for b in blocks})
    run = makespan + PLAN_SETUP_S + largest_y * checkpoint_mb * PLAN_READ_S_PER_MB
    return makespan, eff, run


def plan(
    model: Model,
    *,
    scale: float = 1.0,
    tstop: float = 1000.0,
    dt: float | None = None,
    ranks=(64, 256, 1024),
    measured=None,
    block_segments: int | None = None,
    in_degrees: str = DEFAULT_IN_DEGREES,
) -> list[str]:
    """The plan of a hybrid run of ``model`` at ``scale`` over ``tstop`` ms: blocks,
    their estimated cost (the cost model, scaled by an earlier run's measured block
    times when ``measured`` names its signals file; events from the populations'
    rates), and the expected makespan and parallel efficiency on each number of
    ranks (longest first, as the task farm hands them out). Returns printable lines."""
    est = block_seconds(
        model,
        scale=scale,
        tstop=tstop,
        dt=dt,
        measured=measured,
        block_segments=block_segments,
        in_degrees=in_degrees,
    )
    smodel, Ys, nseg, secs = est["model"], est["Ys"], est["nseg"], est["seconds"]
    total = sum(secs)
    n_cells = sum(smodel.population(Y).N for Y in Ys)
    lines = [
        f"hybrid plan for {model.name!r} at scale {scale:g} ({in_degrees} in-degrees): "
        f"{n_cells} cells, "
        f"{sum(nseg[Y] * smodel.population(Y).N for Y in Ys)} segments; {tstop:g} ms at dt "
        f"{est['dt']:g} ms ({est['steps']} steps); {len(est['blocks'])} blocks of about "
        f"{est['block_segments']} segments",
        est["note"],
        f"{'population':>12} {'cells':>7} {'segments':>9} {'synapses/cell':>14} "
        f"{'events/cell':>12} {'s/cell':>8}",
    ]
    for Y in Ys:
        syn, ev = est["per_y"][Y]
        per_cell = est["factor"] * block_cost(nseg[Y], 1, est["steps"], syn, ev)
        lines.append(
            f"{Y:>12} {smodel.population(Y).N:>7} {nseg[Y]:>9} {syn:>14.0f} {ev:>12.0f} "
            f"{per_cell:>8.3f}"
        )
    lines.append(
        f"total work {total:.0f} s = {total / 3600:.2f} CPU hours; the largest block "
        f"{max(secs):.1f} s"
    )
    for n in ranks:
        makespan, eff, run = expected_run(secs, n, est["blocks"], est["checkpoint_mb"])
        lines.append(
            f"{n:>5} ranks: makespan {makespan:.1f} s, parallel efficiency {eff:.2f} "
            f"(with start-up and the final sums, {run:.1f} s: {total / (n * run):.2f})"
        )
    return lines


# --------------------------------------------------------------------------- CLI


def add_arguments(parser) -> None:
    """The options of ``python -m lfpk_hpc hybrid`` (times in ms).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which the options are added.
    """
    from .gtnetwork import IN_DEGREES

    parser.description = (
        "The hybrid ground truth (Hagen et al. 2016): every neuron of the point network "
        "as a passive multicompartment cell of its population's model, driven by the "
        "spikes of SPIKES; writes the probes' signals to DIR/signals.h5. Run under "
        "mpirun/srun to use several ranks."
    )
    parser.add_argument("params", help="params file (a Python module defining model = Model(...))")
    parser.add_argument(
        "spikes", help="spikes of the point network: HDF5 with senders (as simulate-pd14 writes)"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of every population's N, as the point network was simulated (default 1)",
    )
    parser.add_argument(
        "--in-degrees",
        choices=IN_DEGREES,
        default=DEFAULT_IN_DEGREES,
        help="below --scale 1: each cell keeps its full-scale in-degree, the connection "
        "probabilities raised (full, the default), or the probabilities C are kept and "
        "in-degrees shrink with the scale (scaled)",
    )
    parser.add_argument("--tstart", type=float, default=0.0, help="start of the window (ms)")
    parser.add_argument(
        "--tstop",
        type=float,
        default=None,
        help="end of the window (ms; default the file's t_stop)",
    )
    parser.add_argument(
        "--dt", type=float, default=None, help="time step (ms; default the params' kernel dt)"
    )
    parser.add_argument(
        "--seed", type=int, default=1234, help="seed of every random draw (default 1234)"
    )
    parser.add_argument(
        "--block-segments",
        type=int,
        default=None,
        help="segments per block of cells (default: from the model's size; the result "
        "depends on it in the last bits, never on the number of ranks)",
    )
    g = parser.add_mutually_exclusive_group()
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its checkpoints (DIR/signals.h5.parts)",
    )
    g.add_argument("--overwrite", action="store_true", help="replace an existing run in DIR")


def main(args) -> int:
    """``python -m lfpk_hpc hybrid``: the hybrid ground truth over the ranks; the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of :func:`add_arguments`.

    Returns
    -------
    int
        The exit code.
    """
    from .parallel import run_command

    # NEURON stays out of MPI: every block is independent
    return run_command(lambda comm: _main(args, comm))


def _main(args, comm) -> int:
    from .params import load

    model = load(args.params)
    run_hybrid(
        model,
        args.spikes,
        args.out,
        scale=args.scale,
        in_degrees=args.in_degrees,
        tstart=args.tstart,
        tstop=args.tstop,
        dt=args.dt,
        seed=args.seed,
        block_segments=args.block_segments,
        comm=comm,
        overwrite=args.overwrite,
        resume=args.resume,
        log=lambda msg: print(msg, flush=True),
    )
    return 0
