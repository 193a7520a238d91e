"""The hybrid scheme's engine: blocks of passive multicompartment cells driven by the
spikes of a point-neuron network (Hagen et al. 2016, Cereb Cortex 26:4461).

One block is a run of cells of one postsynaptic population Y (cells first … first +
count − 1 of Y). Simulating it:

1. **Cells.** Y's cell is built once per process as LFPy builds it
   (:class:`CellPrototype`: the morphology file or the generated sticks, the
   CellModel's Ra, cm, g_pas, e_pas and d_lambda segments at lambda_f); every cell
   of the block is a copy made from the prototype's sections, 3-D points and segment
   counts (Python ``h.Section`` objects, so the electrical cell is identical and the
   copy costs no file load and no ``define_shape`` over all cells). Where a cell is
   — its soma position (uniform in the population's disc, z ~ N(loc, scale)) and its
   rotation (the CellModel's rotation, then a random angle about z) — only matters
   for the probes, so it is applied to the prototype's segment coordinates in numpy
   with LFPy's rotation rule.
2. **Synapses.** For every pathway X → Y with C > 0, the cell's connections are
   drawn with the params' synapse-count rule: ``"log"`` (PD14's fixed total number
   K = ln(1 − C)/ln(1 − 1/(N_X N_Y)) spread over the N_Y cells: each cell gets
   ⌊K/N_Y⌋ or ⌈K/N_Y⌉ connections, the fraction by a coin, each from a neuron of X
   drawn uniformly with replacement — multapses and autapses allowed, as NEST's
   ``fixed_total_number``), or ``"linear"`` (each neuron of X connected with
   probability C, no autapses: LFPy's and LFPykernels' rule). Each connection has
   k synapses (k from the multapse distribution on 1..99); each synapse sits on a
   segment drawn with probability area × depth profile over the allowed sections
   (:func:`lfpk_hpc.kernel.synapse_density` at the cell's real depth, without the
   soma-spread widening the kernels' single cell needs), has the pathway's weight
   and synapse model and a delay from the delay distribution, and is activated by
   its presynaptic neuron's spikes plus that delay.
3. **Events.** Where every synapse of the population is an ``ExpSynI`` of one time
   constant, a segment's synapses are one state A of its membrane mechanism
   (mod/lfpk_hsyn.mod, which is also its leak), and the compiled simulation loop adds
   each event's weight to its segment's A before the step NEURON would deliver it in
   (:class:`lfpk_hpc.imem.EventKicks`; one ``LfpkTrain`` per segment kicking A where
   the states cannot be found: the same numbers). Otherwise synapses of one synapse
   model on one segment share one point process (the models are linear in their
   events; NEURON's ``ExpSynI``/``Exp2SynI``/``Exp2Syn``); their events, per weight,
   go to it from one ``LfpkTrain`` (mod/lfpk_train.mod) that holds the sorted times:
   NEURON's queue holds one event per train, whatever the number of spikes.
4. **Simulation and probes.** The block is simulated with fixed steps of dt from
   the window's start at rest (v = e_pas); a compiled loop records all membrane
   currents each step (:class:`lfpk_hpc.imem.CurrentRecorder`) and numpy turns them into
   every probe's signal
   (:func:`lfpk_hpc.probes.ground_truth_matrices`: line sources at the contacts,
   the dipole moment, each cell's EEG at its position).

Every random number of a cell comes from (seed, purpose, population, cell index)
(:func:`lfpk_hpc.draws.rng_for`), never from the rank or the block, so a block's
result depends only on the model, the spikes and the seed. Units: µm, ms, mV, nA.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .draws import rng_for, soma_positions
from .errors import InputError
from .hybridsynapses import (  # noqa: F401 (also the old import paths)
    CellSynapses,
    block_densities,
    block_synapses,
    cell_synapses,
    connections_per_cell,
)
from .params import Model
from .probes import SegmentGeometry

__all__ = [
    "BlockResult",
    "CellPrototype",
    "HybridError",
    "HybridInputs",
    "block_synapses",
    "cell_synapses",
    "connections_per_cell",
    "rotate",
    "simulate_block",
]

#: membrane-current values recorded per chunk before the probes' product (memory:
#: 8 B each; 1e6 measured as fast as 4e6 for a block of basket cells and 5 % faster
#: for one of 67 generated L2/3 pyramids: less memory traffic, BLAS still efficient)
CHUNK_VALUES = 1_000_000
#: deliver lfpk_hsyn events by the compiled loop (lfpk_hpc.imem.EventKicks) where it can;
#: False: one LfpkTrain per segment (the same numbers, tests/test_hybrid.py; slower)
COMPILED_EVENTS = True


class HybridError(InputError):
    """Bad input to the hybrid ground truth (exit code 2)."""


# --------------------------------------------------------------------------- geometry


def rotate(rel: np.ndarray, rotation: dict, z_angle: float | None) -> np.ndarray:
    """Points ``rel`` (n, 3) µm relative to the soma, rotated as LFPy's
    ``Cell.set_rotation(**rotation)`` (x, then y, then z; angles in radians) and then
    ``set_rotation(z=z_angle)`` rotate a cell.

    Parameters
    ----------
    rel : numpy.ndarray
        Points (n, 3) relative to the soma (µm).
    rotation : dict of str to float
        Angles about x, y, z (radians).
    z_angle : float or None
        Further angle about z (radians).

    Returns
    -------
    numpy.ndarray
        The rotated points (n, 3) (µm).
    """
    out = rel
    for ax in "xyz":
        angle = rotation.get(ax)
        if angle is not None:
            out = out @ _rotation_matrix(ax, angle)
    if z_angle is not None:
        out = out @ _rotation_matrix("z", z_angle)
    return out


def _rotation_matrix(ax: str, angle: float) -> np.ndarray:
    a = -angle  # LFPy rotates the row vectors by the transpose
    c, s = np.cos(a), np.sin(a)
    if ax == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if ax == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


@dataclass
class CellPrototype:
    """Population Y's cell as LFPy builds it: what it takes to make copies in NEURON
    and the segment geometry relative to the soma (LFPy's segment order, which is the
    order of the rows of every matrix).

    Parameters
    ----------
    Y : str
        The population.
    names : list of str
        The sections' names.
    parent : list of int
        Index of each section's parent section, −1 for the root.
    parent_x : list of float
        Where on its parent each section connects (dimensionless, 0 to 1).
    child_end : list of float
        The end (0 or 1) of each section connected to its parent (dimensionless).
    points : list of numpy.ndarray
        Each section's 3-D points (n, 4): x, y, z, diam (µm).
    nseg : list of int
        Segments of each section (a count).
    Ra : float
        Axial resistivity (Ω·cm).
    cm : float
        Membrane capacitance (µF/cm²).
    g_pas : numpy.ndarray
        Leak conductance per segment (S/cm²).
    e_pas : float
        Leak reversal potential, also the initial potential (mV).
    start : numpy.ndarray
        Segment start points (n_seg, 3) relative to the soma (µm).
    end : numpy.ndarray
        Segment end points (n_seg, 3) relative to the soma (µm).
    d : numpy.ndarray
        Segment diameters (n_seg,) (µm).
    area : numpy.ndarray
        Segment membrane areas (n_seg,) (µm²).
    section : tuple of str
        Section name of each segment.
    """

    Y: str
    names: list[str]
    parent: list[int]  # index of the parent section, −1 for the root
    parent_x: list[float]
    child_end: list[float]  # the end (0 or 1) of the section connected to its parent
    points: list[np.ndarray]  # 3-D points (n, 4): x, y, z, diam (µm)
    nseg: list[int]
    Ra: float
    cm: float
    g_pas: np.ndarray  # per segment (S/cm²)
    e_pas: float  # mV, also v_init
    start: np.ndarray  # (n_seg, 3) segment start points relative to the soma (µm)
    end: np.ndarray  # (n_seg, 3)
    d: np.ndarray  # (n_seg,) µm
    area: np.ndarray  # (n_seg,) µm²
    section: tuple[str, ...]  # section name of each segment

    @property
    def n_seg(self) -> int:
        return int(self.area.size)

    @classmethod
    def build(cls, model: Model, Y: str) -> CellPrototype:
        """Build Y's cell with LFPy (at its default place, no rotation) and read it.

        Parameters
        ----------
        model : Model
            The model.
        Y : str
            The population whose cell is built.

        Returns
        -------
        CellPrototype
            The prototype.

        Raises
        ------
        HybridError
            Y's cell is a user's model or has a quasi-active soma.
        """
        import os
        import tempfile

        from neuron import h

        from .cells import _cell_class, delete_all_sections, stick_morphology_hoc

        pop = model.population(Y)
        cm = pop.cell
        if cm.is_user_model:
            raise HybridError(
                f"populations[{Y}].cell is a user's NEURON model (template or biophysics), but "
                "the hybrid ground truth simulates passive cables (validate it against the "
                "network ground truth: validate --ground-truth network)"
            )
        if cm.soma_gates is not None:
            raise HybridError(
                f"populations[{Y}].cell.soma_gates is set, but the hybrid ground truth's "
                "cells are passive: the quasi-active soma is a stand-in for kernels only"
            )
        vrest = model.kernel.vrest_of(Y)
        if cm.e_pas is not None:
            e_pas = float(cm.e_pas)
        elif np.ndim(vrest) == 0:
            e_pas = float(vrest)
        else:
            raise HybridError(
                f"populations[{Y}].cell.e_pas = None is invalid with one Vrest per segment: "
                "the hybrid cells need one leak reversal e_pas (mV)"
            )
        path = model.morphology_path(Y)
        tmp = None
        if path is None:
            fd, tmp = tempfile.mkstemp(suffix=".hoc", prefix="lfpk_hpc_morph_")
            with os.fdopen(fd, "w") as fh:
                fh.write(stick_morphology_hoc(cm.morphology))
            path = tmp
        try:
            cell = _cell_class()(
                morphology=str(path),
                v_init=e_pas,
                Ra=cm.Ra,
                cm=cm.cm,
                passive=True,
                passive_parameters={"g_pas": cm.g_pas, "e_pas": e_pas},
                nsegs_method="lambda_f",
                lambda_f=cm.lambda_f,
                delete_sections=True,
            )
        finally:
            if tmp is not None:
                os.unlink(tmp)
        try:
            sections = list(cell.allseclist)
            index = {sec.name(): k for k, sec in enumerate(sections)}
            names, parent, parent_x, child_end, points, nseg = [], [], [], [], [], []
            g_pas = []
            for sec in sections:
                names.append(sec.name())
                ps = sec.parentseg()
                parent.append(index[ps.sec.name()] if ps is not None else -1)
                parent_x.append(float(ps.x) if ps is not None else 1.0)
                child_end.append(float(h.section_orientation(sec=sec)))
                n3d = int(sec.n3d())
                points.append(
                    np.array(
                        [(sec.x3d(i), sec.y3d(i), sec.z3d(i), sec.diam3d(i)) for i in range(n3d)]
                    ).reshape(n3d, 4)
                )
                nseg.append(int(sec.nseg))
                soma = "soma" in sec.name()
                for seg in sec:
                    g_pas.append(
                        float(cm.soma_g_pas) if soma and cm.soma_g_pas is not None else seg.g_pas
                    )
            pos = np.asarray(cell.somapos, dtype=float)
            start = np.column_stack([cell.x[:, 0], cell.y[:, 0], cell.z[:, 0]]) - pos
            end = np.column_stack([cell.x[:, -1], cell.y[:, -1], cell.z[:, -1]]) - pos
            section = tuple(sec.name() for sec in sections for _ in sec)
            proto = cls(
                Y,
                names,
                parent,
                parent_x,
                child_end,
                points,
                nseg,
                float(cm.Ra),
                float(cm.cm),
                np.array(g_pas),
                e_pas,
                start,
                end,
                np.asarray(cell.d, dtype=float).copy(),
                np.asarray(cell.area, dtype=float).copy(),
                section,
            )
        finally:
            del cell
            delete_all_sections()
        return proto

    def placed(self, position, rotation: dict, z_angle: float) -> tuple[np.ndarray, np.ndarray]:
        """Segment start and end points (n_seg, 3) µm of a copy with its soma at
        ``position``, rotated (see :func:`rotate`).

        Parameters
        ----------
        position : array_like of float
            Soma position x, y, z (µm).
        rotation : dict of str to float
            The cell model's rotation about x, y, z (radians).
        z_angle : float
            The copy's further rotation about z (radians).

        Returns
        -------
        start, end : numpy.ndarray
            Segment start and end points (n_seg, 3) (µm).
        """
        pos = np.asarray(position, dtype=float)
        return rotate(self.start, rotation, z_angle) + pos, rotate(
            self.end, rotation, z_angle
        ) + pos

    def make(self, h, tag: str, membrane: str = "pas") -> list:
        """A copy of the cell in NEURON: its sections, in the prototype's order, with
        the leak of ``membrane``: NEURON's ``pas``, or ``lfpk_hsyn`` (the leak and the
        ExpSynI synapses in one mechanism, mod/lfpk_hsyn.mod).

        Parameters
        ----------
        h : neuron.hoc.HocObject
            NEURON's ``h``.
        tag : str
            Prefix of the sections' names.
        membrane : str, optional
            The leak mechanism, ``"pas"`` or ``"lfpk_hsyn"``.

        Returns
        -------
        list of nrn.Section
            The sections.
        """
        secs = []
        for name, pts in zip(self.names, self.points, strict=True):
            sec = h.Section(name=f"{tag}.{name}")
            for x, y, z, diam in pts.tolist():  # (faster than pt3dadd of four Vectors)
                sec.pt3dadd(x, y, z, diam)
            secs.append(sec)
        for k, sec in enumerate(secs):
            if self.parent[k] >= 0:
                sec.connect(secs[self.parent[k]](self.parent_x[k]), self.child_end[k])
        ranges = self._ranges(membrane)
        for sec, n, values in zip(secs, self.nseg, ranges, strict=True):
            sec.nseg = n
            sec.Ra = self.Ra
            sec.cm = self.cm
            sec.insert(membrane)
            for name, value in values:
                if isinstance(value, float):  # one value for the section's segments
                    setattr(sec, name, value)
                else:
                    for seg, v in zip(sec, value, strict=True):
                        setattr(seg, name, v)
        return secs

    def _ranges(self, membrane: str) -> list:
        """Per section, the (name, value) of the membrane's parameters: the leak
        (g, e) and, for ``lfpk_hsyn``, scale = 100 / area (nA to mA/cm² per segment);
        a float where the section's segments share it (set once per section), else
        the list of the segments' values."""
        cache = self.__dict__.setdefault("_range_cache", {})
        if membrane not in cache:
            per_seg = {f"g_{membrane}": self.g_pas}
            if membrane == "lfpk_hsyn":
                per_seg["scale_lfpk_hsyn"] = 100.0 / self.area
            out, i = [], 0
            for n in self.nseg:
                values = [(f"e_{membrane}", float(self.e_pas))]
                for name, v in per_seg.items():
                    part = v[i : i + n]
                    values.append(
                        (name, float(part[0]) if np.all(part == part[0]) else part.tolist())
                    )
                out.append(values)
                i += n
            cache[membrane] = out
        return cache[membrane]


# --------------------------------------------------------------------------- inputs


@dataclass
class HybridInputs:
    """What every block of a run needs: the (scaled) model, the spike trains, the time
    window and the seed. ``spikes[X]`` = (times ms, senders, N_X).

    Parameters
    ----------
    model : Model
        The (scaled) model.
    spikes : dict
        X → (spike times (ms), senders, N_X).
    tstart : float
        Start of the window (ms).
    tstop : float
        End of the window (ms).
    dt : float
        Time step and bin width (ms).
    seed : int
        Seed of every random draw (dimensionless).
    """

    model: Model
    spikes: dict
    tstart: float
    tstop: float
    dt: float
    seed: int
    _trains: dict = field(default_factory=dict, repr=False)
    _positions: dict = field(default_factory=dict, repr=False)
    _prototypes: dict = field(default_factory=dict, repr=False)

    @property
    def n_bins(self) -> int:
        return int(round((self.tstop - self.tstart) / self.dt))

    def trains(self, X: str):
        """(spike times within [tstart, tstop) sorted by sender then time, index
        pointers per sender) of X, computed once.

        Parameters
        ----------
        X : str
            A presynaptic population.

        Returns
        -------
        times : numpy.ndarray
            Spike times within [tstart, tstop) by sender, then time (ms).
        ptr : numpy.ndarray
            Index of each sender's first spike in ``times`` (N_X + 1 pointers).
        """
        if X not in self._trains:
            times, senders, n = self.spikes[X]
            keep = (times >= self.tstart) & (times < self.tstop)
            t, s = times[keep], senders[keep]
            order = np.lexsort((t, s))
            t, s = t[order], s[order]
            ptr = np.searchsorted(s, np.arange(n + 1))
            self._trains[X] = (t, ptr)
        return self._trains[X]

    def positions(self, Y: str):
        """(soma positions (N, 3) µm, angles about z (N,) rad) of every cell of Y.

        Parameters
        ----------
        Y : str
            A population with cells.

        Returns
        -------
        positions : numpy.ndarray
            Soma positions (N, 3) (µm).
        angles : numpy.ndarray
            Rotations about z (N,) (radians).
        """
        if Y not in self._positions:
            pop = self.model.population(Y)
            g = pop.geometry
            rng = rng_for(self.seed, "positions", Y)
            pos = soma_positions(rng, pop.N, g.radius, g.loc, g.scale)
            angles = rng.uniform(0.0, 2 * np.pi, size=pop.N)
            self._positions[Y] = (pos, angles)
        return self._positions[Y]

    def prototype(self, Y: str) -> CellPrototype:
        """Y's :class:`CellPrototype`, built once.

        Parameters
        ----------
        Y : str
            A population with cells.

        Returns
        -------
        CellPrototype
            Its cell, built once.
        """
        if Y not in self._prototypes:
            self._prototypes[Y] = CellPrototype.build(self.model, Y)
        return self._prototypes[Y]


# --------------------------------------------------------------------------- one block


@dataclass
class BlockResult:
    """Signals of one block: probe → (channels, bins), and what it held and cost.

    Parameters
    ----------
    Y : str
        The block's population.
    block : int
        The block's index.
    first : int
        Index of its first cell.
    count : int
        Its cells (a count).
    signals : dict of str to numpy.ndarray
        Probe name → summed signals (channels, bins), in the probe's units (e.g. mV,
        nA·µm).
    n_seg : int, optional
        Segments simulated (a count).
    n_synapses : int, optional
        Synapses (a count).
    n_events : int, optional
        Spike events delivered (a count).
    n_point_processes : int, optional
        Point processes in NEURON (a count).
    timings : dict of str to float, optional
        Wall time of each step, in seconds.
    rank : int, optional
        The rank that simulated it.
    wall_time_s : float, optional
        Wall time of the block, in seconds.
    """

    Y: str
    block: int
    first: int
    count: int
    signals: dict
    n_seg: int = 0
    n_synapses: int = 0
    n_events: int = 0
    n_point_processes: int = 0
    timings: dict = field(default_factory=dict)
    rank: int = 0
    wall_time_s: float = 0.0


def _synapse_classes(model: Model, Y: str):
    """Per presynaptic X of Y with C > 0: (index of its synapse model among Y's
    distinct ones, index of its (model, weight) class); and the lists."""
    models, classes, of = [], [], {}
    for X in model.presynaptic(Y):
        con = model.connection(X, Y)
        if con.C == 0:
            continue
        syn = con.synapse
        params = (syn.model, syn.tau1, syn.tau2, syn.e)
        if params not in models:
            models.append(params)
        m = models.index(params)
        cls = (m, float(syn.weight))
        if cls not in classes:
            classes.append(cls)
        of[X] = (m, classes.index(cls))
    return of, models, classes


def _events_of(syn: CellSynapses, trains, t0: float, duration: float):
    """(synapse index, event time relative to t0) of every spike reaching a synapse
    within [0, duration)."""
    t, ptr = trains
    counts = ptr[syn.pre + 1] - ptr[syn.pre]
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    which = np.repeat(np.arange(syn.pre.size), counts)
    # index of each event's spike: its train's start plus its rank within the train
    offsets = np.repeat(ptr[syn.pre] - np.cumsum(counts) + counts, counts)
    times = t[offsets + np.arange(total)] - t0 + syn.delay[which]
    keep = times < duration
    return which[keep], times[keep]


def _order(keys: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The order that sorts events by key, then time (events of one key at exactly
    the same time in an arbitrary but fixed order): two unstable sorts, about 3 times
    faster than numpy's lexsort of (times, keys)."""
    by_time = np.argsort(times)
    n = keys.size
    return by_time[np.argsort(keys[by_time].astype(np.int64) * n + np.arange(n))]


def _stable_order(times: np.ndarray) -> np.ndarray:
    """The order of a stable sort of ``times`` (equal times in their given order):
    numpy's quicksort, then, only where some times are equal, a sort of unique
    integer keys (rank of the time, index) — a quarter of a stable sort's cost when
    no two times are equal."""
    order = np.argsort(times)
    t = times[order]
    same = t[1:] == t[:-1]
    if same.any():
        n = order.size
        rank = np.concatenate([[0], np.cumsum(~same)])
        order = np.sort(rank * n + order) % n
    return order


def _time_order(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order of a stable sort of ``times`` (equal times in their given order) and
    the times in that order. One sort of 64-bit integers, each the time's place on
    a grid of 2^(63 − b) steps from the smallest to the largest time (b: the bits
    of the index) above the event's index: the grid step is a monotone function of
    the time, so this is the stable sort wherever no two different times share a
    step; it is checked (the times in that order must not decrease), and where two
    do (rare: for a block's 10⁶ events a step is 2⁻⁴³ of the span, 1e-10 ms of a
    second) the exact sort is used instead. About 40 % cheaper than an argsort of the times
    with its gather (numpy sorts integers with vector instructions)."""
    n = times.size
    bits = max(1, (n - 1).bit_length())
    top = (1 << (63 - bits)) - 1
    lo, hi = (float(times.min()), float(times.max())) if n else (0.0, 0.0)
    factor = top / (hi - lo) if hi > lo else 0.0
    if bits > 40 or not math.isfinite(factor):  # no grid that separates the times
        order = _stable_order(times)
        return order, times[order]
    grid = times - lo
    grid *= factor
    key = grid.astype(np.int64)
    np.minimum(key, top, out=key)  # (rounding at the largest time)
    key <<= bits
    key |= np.arange(n, dtype=np.int64)
    key.sort()
    key &= (1 << bits) - 1
    ordered = times[key]
    if np.any(ordered[1:] < ordered[:-1]):
        key = _stable_order(times)
        ordered = times[key]
    return key, ordered


def _runs(keys: np.ndarray):
    """(start, end) of each run of equal values in sorted ``keys``."""
    if keys.size == 0:
        return []
    bounds = np.flatnonzero(np.diff(keys)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [keys.size]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _point_process(h, model, seg):
    name, tau1, tau2, e = model
    pp = getattr(h, name)(seg)
    if name == "ExpSynI":
        pp.tau = tau2
    else:
        pp.tau1, pp.tau2 = tau1, tau2
        if name == "Exp2Syn":
            pp.e = e
    return pp


def _kick_events(h, seg_of, cls_of, times, classes, tau, dt):
    """The ExpSynI synapses of a block (whose cells have lfpk_hsyn as their leak, its
    scale set by :meth:`CellPrototype.make`) as events on lfpk_hsyn states: sets the
    decay and returns (segment index, time, weight) of every event in time order
    (events at equal times in the order they were made: pathway, cell, synapse,
    spike), from each event's segment, class (index into ``classes``) and time."""
    h.decay_lfpk_hsyn = float(np.exp(-dt / tau))
    order, times = _time_order(times)
    weights = np.array([w for _m, w in classes])[cls_of[order]]
    return seg_of[order], times, weights


def _kick_trains(h, segments, seg_index, times, weights):
    """One LfpkTrain per segment with events (given in time order), kicking its state
    by each event's weight in that order (where EventKicks cannot be used). Returns
    (the block's Vectors, the trains)."""
    by_segment = np.argsort(seg_index, kind="stable")  # a segment's events in time order
    seg_index, times, weights = seg_index[by_segment], times[by_segment], weights[by_segment]
    # one Vector of times and one of weights for the block; each train sends its range
    tv, wv = h.Vector(times), h.Vector(weights)
    trains = []
    for a, b in _runs(seg_index):
        train = h.LfpkTrain()
        train.kicks(tv, wv, a, b)
        h.setpointer(segments[int(seg_index[a])]._ref_A_lfpk_hsyn, "target", train)
        trains.append(train)
    return [tv, wv], trains


def simulate_block(
    inputs: HybridInputs, Y: str, block: int, first: int, count: int, *, record: bool = True
) -> BlockResult:
    """Simulate cells ``first`` … ``first + count − 1`` of Y (see the module docstring)
    and return their summed signals on the window's bins.

    ``record=False`` builds and steps the block the same way but records nothing
    (its signals are empty) and times the steps alone (``timings["step"]``): the
    floor that ``benchmarks/hybrid.py`` measures the block against.

    Parameters
    ----------
    inputs : HybridInputs
        The run's inputs.
    Y : str
        The population.
    block : int
        The block's index.
    first : int
        Index of its first cell.
    count : int
        Its cells (a count).
    record : bool, optional
        False: step the block without recording (signals empty; for benchmarks).

    Returns
    -------
    BlockResult
        The block's summed signals and costs.
    """
    from neuron import h

    from . import mechanisms
    from .imem import ADVANCE, CurrentRecorder, EventKicks, define_procs
    from .probes import ground_truth_matrices

    t0 = time.perf_counter()
    mechanisms.load_mechanisms()
    model = inputs.model
    if any(True for _ in h.allsec()):  # nothing else may be simulated with the block
        from .cells import delete_all_sections

        delete_all_sections()
    proto = inputs.prototype(Y)
    pop = model.population(Y)
    rotation = dict(pop.cell.rotation)
    positions, angles = inputs.positions(Y)
    n_seg_cell = proto.n_seg
    n_seg = n_seg_cell * count
    of, models, classes = _synapse_classes(model, Y)
    # ExpSynI of one tau alone: leak and synapses are one mechanism per segment
    kicks = len(models) == 1 and models[0][0] == "ExpSynI"
    membrane = "lfpk_hsyn" if kicks else "pas"
    xs, ys, zs = np.zeros((n_seg, 2)), np.zeros((n_seg, 2)), np.zeros((n_seg, 2))
    cells_info = []
    sections, segments = [], []
    for j in range(count):
        i = first + j
        a, b = proto.placed(positions[i], rotation, angles[i])
        lo = j * n_seg_cell
        sl = slice(lo, lo + n_seg_cell)
        xs[sl, 0], ys[sl, 0], zs[sl, 0] = a[:, 0], a[:, 1], a[:, 2]
        xs[sl, 1], ys[sl, 1], zs[sl, 1] = b[:, 0], b[:, 1], b[:, 2]
        cells_info.append((lo, n_seg_cell, positions[i]))
        secs = proto.make(h, f"{Y}_{i}", membrane)
        sections.append(secs)
        segments.extend(seg for sec in secs for seg in sec)
    geometry = SegmentGeometry(
        x=xs,
        y=ys,
        z=zs,
        d=np.tile(proto.d, count),
        area=np.tile(proto.area, count),
        section=proto.section * count,
    )
    t_build = time.perf_counter()

    # synapses and their events
    duration = inputs.tstop - inputs.tstart
    seg_of, cls_of, times = [], [], []  # each event's segment in the block, class, time
    n_syn = 0
    z_mid = zs.mean(axis=1).reshape(count, n_seg_cell)
    for X, (_m, cls) in of.items():
        cells = block_synapses(inputs, X, Y, first, z_mid)
        # the block's synapses of X as one set (cell by cell, each cell's in its
        # order): their segments in the block, presynaptic neurons, delays
        syn = CellSynapses(
            np.concatenate([c.seg + j * n_seg_cell for j, c in enumerate(cells)]),
            np.concatenate([c.pre for c in cells]),
            np.concatenate([c.delay for c in cells]),
        )
        n_syn += syn.seg.size
        which, t_ev = _events_of(syn, inputs.trains(X), inputs.tstart, duration)
        seg_of.append(syn.seg[which])
        cls_of.append(np.full(which.size, cls, dtype=np.int16))
        times.append(t_ev)
    seg_of = np.concatenate(seg_of) if seg_of else np.zeros(0, dtype=np.int64)
    cls_of = np.concatenate(cls_of) if cls_of else np.zeros(0, dtype=np.int16)
    times = np.concatenate(times) if times else np.zeros(0)
    point_processes, vectors, keep = {}, [], []
    kick_events = None
    if kicks:
        # one synapse model, ExpSynI with one tau: every segment's synapses are the
        # state of its lfpk_hsyn (which is also its leak), each event added to it by
        # the compiled loop (or by one train per segment where that cannot be used)
        kick_events = _kick_events(h, seg_of, cls_of, times, classes, models[0][2], inputs.dt)
    else:
        # any synapse models: one point process per segment and model, one train per
        # segment and weight with a NetCon to it
        n_classes = max(len(classes), 1)
        keys = seg_of * n_classes + cls_of
        order = _order(keys, times)
        keys, times = keys[order], times[order]
        vec = h.Vector(times)  # one Vector for the block; each train sends its range
        vectors.append(vec)
        for a, b in _runs(keys):
            seg_index, cls = divmod(int(keys[a]), n_classes)
            m, weight = classes[cls]
            pp = point_processes.get((seg_index, m))
            if pp is None:
                pp = point_processes[(seg_index, m)] = _point_process(
                    h, models[m], segments[seg_index]
                )
            train = h.LfpkTrain()
            train.times(vec, a, b)
            nc = h.NetCon(train, pp)
            nc.weight[0] = weight
            nc.delay = 0.0
            keep.append((train, nc))
    n_events = int(times.size)
    t_syn = time.perf_counter()

    matrices = ground_truth_matrices(
        model.probes, geometry, cells_info, population_radius=pop.geometry.radius
    )
    names = [p.name for p in model.probes]
    M = np.concatenate([matrices[p] for p in names], axis=0)
    t_probe = time.perf_counter()

    # simulation: sample k at t = tstart + k·dt, k < n_bins
    n_bins = inputs.n_bins
    h.dt = inputs.dt
    cvode = h.CVode()
    cvode.active(0)
    cvode.use_fast_imem(1)
    recorder = CurrentRecorder(h, segments) if record else None
    out = np.zeros((M.shape[0], n_bins))
    h.finitialize(proto.e_pas)
    events = None
    if kick_events is not None:
        # the compiled delivery needs the block copy's node order; else trains
        nodes = recorder if recorder is not None else CurrentRecorder(h, segments)
        if COMPILED_EVENTS and nodes.locate():
            events = EventKicks(h, segments, *kick_events)
            if not events.locate(nodes.layout[2]):
                events = None
        if events is None:
            vectors, keep = _kick_trains(h, segments, *kick_events)
            h.finitialize(proto.e_pas)
    if recorder is not None:
        if events is None:
            recorder.locate()  # the block copy of all currents where NEURON allows it
        else:  # located above, in this initialisation
            events.attach(recorder._loop)  # and the events due at t0 delivered
            recorder.kicks = events
    h.fcurrent()
    if recorder is None:
        if events is None:
            define_procs(h)
        t_step = time.perf_counter()
        if events is not None:
            events.advance(n_bins)
        else:
            getattr(h, ADVANCE)(n_bins)
        t_step = time.perf_counter() - t_step
        if events is not None:
            events.verify()  # every segment's state (the runs checked a sample)
    else:
        M_rec = recorder.matrix(M)
        chunk = max(1, min(n_bins, CHUNK_VALUES // max(recorder.width, 1)))
        k, t_step, t_product = 0, 0.0, 0.0
        while k < n_bins:
            b = min(chunk, n_bins - k)
            t_a = time.perf_counter()
            currents = recorder.run_raw(b, True)
            t_b = time.perf_counter()
            out[:, k : k + b] = M_rec @ currents.T
            t_step += t_b - t_a
            t_product += time.perf_counter() - t_b
            k += b
        # every segment's current and state (each run checked a sample of them)
        recorder.verify()
        if events is not None:
            events.verify()
    t_sim = time.perf_counter()
    signals, row = {}, 0
    for p in names if record else ():
        n_ch = matrices[p].shape[0]
        signals[p] = np.ascontiguousarray(out[row : row + n_ch])
        row += n_ch
    kicked = 0 if kick_events is None else int(np.count_nonzero(np.bincount(kick_events[0])))
    n_pp = len(point_processes) or kicked  # point processes, or kicked segments
    # free the block's NEURON objects (its sections go with the last references)
    keep.clear()
    vectors.clear()
    point_processes.clear()
    recorder = None
    segments.clear()
    sections.clear()
    t_end = time.perf_counter()
    timings = {
        "build": t_build - t0,
        "synapses": t_syn - t_build,
        "probes": t_probe - t_syn,
        "simulate": t_sim - t_probe,
        "total": t_end - t0,
    }
    # within "simulate": the steps (with the copy of the currents when recording;
    # without their set-up: the benchmark's floor when not) and the probes' product
    timings["step"] = t_step
    if record:
        timings["product"] = t_product
    return BlockResult(
        Y,
        block,
        first,
        count,
        signals,
        n_seg=n_seg,
        n_synapses=n_syn,
        n_events=n_events,
        n_point_processes=n_pp,
        timings=timings,
        wall_time_s=timings["total"],
    )
