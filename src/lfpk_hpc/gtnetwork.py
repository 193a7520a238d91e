"""The ground truth's network (:mod:`lfpk_hpc.groundtruth`): its random draws, its
cells, Poisson sources and synapses, the probes' matrices, and the network object that
builds, connects and simulates them in phases, on the ranks of NEURON's
ParallelContext. Units: µm, ms, mV, nA, µS, spikes/s."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from .draws import draw_delays, multapse_pmf, rng_for, soma_positions
from .gtcells import (
    GroundTruthError,
    cell_args,
    network_celsius,
)
from .params import Model

__all__ = ["IN_DEGREES", "full_in_degree_probability", "scaled_model"]

#: initial membrane potential (mV)
V_INIT = -65.0
#: spike detection threshold at the soma (mV)
SPIKE_THRESHOLD = -10.0
#: SD of a recurrent synapse's weight, as a fraction of |weight| (Hagen et al. 2022)
WEIGHT_SD = 0.1
#: sampling interval (ms) of the somatic potentials for the median
SOMA_SAMPLE_MS = 1.0
#: simulated time per block of the simulation loop (ms)
BLOCK_MS = 25.0

#: Random123 id3 of population Poisson sources (extrinsic trains use the segment index)
_POISSON_STREAM = 2**31


# --------------------------------------------------------------------------- plain helpers


#: how a scaled network's in-degrees follow ``scale`` (:func:`scaled_model`)
IN_DEGREES = ("scaled", "full")


def scaled_model(model: Model, scale: float, in_degrees: str = "scaled") -> Model:
    """``model`` with every population of round(N·scale) neurons (the network the
    ground truth simulates; kernels to compare with it must be computed from it).

    ``in_degrees="scaled"`` keeps every connection probability C, so each cell's
    in-degree shrinks with the presynaptic population (× scale). ``"full"`` raises C
    so that each cell keeps its full-scale in-degree (the synapses per cell that
    :func:`lfpk_hpc.kernel.total_synapses` gives the unscaled model, under the
    model's ``synapse_count`` rule): every cell then receives as many synapses of the
    same weights as in the full network, from fewer presynaptic neurons.

    Parameters
    ----------
    model : Model
        The model.
    scale : float
        Fraction of each population's neurons kept (dimensionless, > 0).
    in_degrees : {"scaled", "full"}, optional
        Whether the in-degrees shrink with the scale (C kept) or stay at their
        full-scale values (C raised).

    Returns
    -------
    Model
        The scaled model.

    Raises
    ------
    GroundTruthError
        ``scale`` is not a finite number > 0, a population would have no cell,
        ``in_degrees`` is not one of :data:`IN_DEGREES`, or a full in-degree would
        need a connection probability above 1.
    """
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise GroundTruthError(f"--scale = {scale!r} is invalid: must be a finite number > 0")
    if in_degrees not in IN_DEGREES:
        raise GroundTruthError(
            f"--in-degrees = {in_degrees!r} is invalid: must be one of {', '.join(IN_DEGREES)}"
        )
    pops = []
    for pop in model.populations:
        n = int(round(pop.N * scale))
        if n < 1:
            smallest = min(p.N for p in model.populations)
            raise GroundTruthError(
                f"--scale = {scale!r} is invalid: population {pop.name} (N = {pop.N}) would "
                f"have {pop.N * scale:.3g} < 0.5 cells; use --scale >= {0.5 / smallest:.3g}"
            )
        pops.append(replace(pop, N=n))
    scaled = replace(model, populations=tuple(pops))
    if in_degrees == "scaled":
        return scaled
    cons = []
    for con in model.connections:
        C = full_in_degree_probability(model, scaled, con)
        if not C <= 1.0:
            raise GroundTruthError(
                f"--scale = {scale!r} with --in-degrees full is invalid: {con.pre} -> "
                f"{con.post} (C = {con.C:g}) would need a connection probability of "
                f"{C:.3g} > 1 to keep its full in-degree; use a larger --scale or "
                "--in-degrees scaled"
            )
        cons.append(replace(con, C=C))
    return replace(scaled, connections=tuple(cons))


def full_in_degree_probability(model: Model, scaled: Model, con) -> float:
    """The connection probability of ``con`` in ``scaled`` (the same populations at
    other sizes) that gives each postsynaptic cell the in-degree it has in ``model``
    (synapses per cell K_YX / N_Y of :func:`lfpk_hpc.kernel.total_synapses`).

    Parameters
    ----------
    model : Model
        The full model.
    scaled : Model
        The same model with other population sizes.
    con : Connection
        A pathway of ``model``.

    Returns
    -------
    float
        The probability (dimensionless; above 1, or infinite, when no probability
        gives that in-degree; ``con.C`` itself where neither population changed size).
    """
    n_x, n_y = model.population(con.pre).N, model.population(con.post).N
    m_x, m_y = scaled.population(con.pre).N, scaled.population(con.post).N
    if con.C <= 0 or (m_x, m_y) == (n_x, n_y):
        return con.C  # (at scale 1 the model itself, bit for bit)
    if model.synapse_count == "log":
        # K_YX = ln(1 - C) / ln(1 - 1/(N_X N_Y)); K_YX / N_Y kept
        per_cell = math.log1p(-con.C) / math.log1p(-1.0 / (n_x * n_y)) / n_y
        if m_x * m_y == 1:  # one pair: no probability gives more than one connection
            return math.inf
        return -math.expm1(per_cell * m_y * math.log1p(-1.0 / (m_x * m_y)))
    # K_YX = C N_X N_Y
    return con.C * n_x / m_x


def draw_weights(rng: np.random.Generator, weight: float, n: int) -> np.ndarray:
    """n weights ~ N(weight, |weight|·WEIGHT_SD), redrawn until each has weight's sign."""
    sd = abs(weight) * WEIGHT_SD
    w = rng.normal(weight, sd, size=n)
    bad = np.sign(w) != np.sign(weight)
    while bad.any():
        w[bad] = rng.normal(weight, sd, size=int(bad.sum()))
        bad = np.sign(w) != np.sign(weight)
    return w


@dataclass
class _Connection:
    """One connection as Network.connect consumes it."""

    nidx: int
    idx: np.ndarray
    weights: np.ndarray
    delays: np.ndarray


def draw_incoming(rng, *, n_pre, self_index, C, multapses, density, syn, delay, dt):
    """The connections onto one postsynaptic cell: (presynaptic indices ascending,
    list of :class:`_Connection`, number of delays raised to dt)."""
    pre = rng.random(n_pre) < C
    if self_index is not None:
        pre[self_index] = False  # no autapses
    pre_idx = np.flatnonzero(pre)
    k, pk = multapses
    nidx = rng.choice(k, size=pre_idx.size, p=pk)
    total = int(nidx.sum())
    idx = rng.choice(density.size, size=total, p=density)
    weights = draw_weights(rng, syn.weight, total)
    delays = draw_delays(rng, delay, total)
    short = delays < dt
    delays[short] = dt
    bounds = np.concatenate([[0], np.cumsum(nidx)])
    conns = [
        _Connection(int(n), idx[a:b], weights[a:b], delays[a:b])
        for n, a, b in zip(nidx, bounds[:-1], bounds[1:], strict=True)
    ]
    return pre_idx, conns, int(short.sum())


class _Replay:
    """Feeds ``LFPy.Network.connect`` the connections drawn here, in the order it
    asks for them (local postsynaptic cells in order, presynaptic gids ascending):
    its multapse, position, weight and delay draws are answered from the records.
    ``pathway`` names the synapses it creates (one point process per pathway and
    segment, see ``GroundTruthCell.create_synapse``)."""

    def __init__(self, records, pathway=None):
        self._it = iter(records)
        self.pathway = pathway
        self.current: _Connection | None = None
        replay = self

        class Multapses:  # connect calls multapsefun(**args).rvs() if it has .pmf
            pmf = None  # (and multapsefun() once more for a message)

            def __call__(self):
                return self

            def rvs(self, size=None):
                replay.current = next(replay._it)
                return replay.current.nidx

        class Delays:  # connect calls delayfun(**args).rvs(size=nidx) if it has .rvs
            def rvs(self, size=None):
                assert size == replay.current.nidx
                return replay.current.delays

            def __call__(self):
                return self

        self.multapses = Multapses()
        self.delays = Delays()

    def weights(self, size):
        assert size == self.current.nidx
        return self.current.weights

    def idx(self, nidx):
        assert nidx == self.current.nidx
        return self.current.idx

    def exhausted(self) -> bool:
        return next(self._it, None) is None


# --------------------------------------------------------------------------- cell templates


# --------------------------------------------------------------------------- MPI helpers


class _Comm:
    """The collectives the ground truth needs, over mpi4py or for one process."""

    def __init__(self, comm=None):
        self.comm = comm
        self.rank = comm.Get_rank() if comm is not None else 0
        self.size = comm.Get_size() if comm is not None else 1

    def barrier(self):
        if self.comm is not None:
            self.comm.Barrier()

    def gather(self, obj):
        return self.comm.gather(obj, root=0) if self.comm is not None else [obj]

    def allreduce_max(self, value: float) -> float:
        if self.comm is None:
            return value
        from mpi4py import MPI

        return self.comm.allreduce(value, op=MPI.MAX)

    def reduce_sum(self, array: np.ndarray) -> np.ndarray | None:
        """Sum of ``array`` over ranks on rank 0 (None elsewhere)."""
        array = np.ascontiguousarray(array, dtype=np.float64)
        if self.comm is None:
            return array
        from mpi4py import MPI

        out = np.empty_like(array) if self.rank == 0 else None
        self.comm.Reduce(array, out, op=MPI.SUM, root=0)
        return out


# --------------------------------------------------------------------------- the network


_CELL_CLASS = None


def _cell_class():
    """``LFPy.NetworkCell`` with lfpk_hpc's fast geometry collection, a random-number
    free synapse placement (answered by :class:`_Replay`) and positions set only by
    :meth:`place` (NetworkPopulation's own random positions and rotations, drawn
    from the global numpy state, are ignored)."""
    global _CELL_CLASS
    if _CELL_CLASS is None:
        import LFPy

        from .cells import _collect_geometry

        class GroundTruthCell(LFPy.NetworkCell):
            replay: _Replay | None = None

            def __init__(self, **kwargs):
                self._frozen = False
                self._shared_synapses = {}
                super().__init__(**kwargs)
                self._frozen = True

            def _collect_geometry(self):
                _collect_geometry(self)

            def set_pos(self, x=0.0, y=0.0, z=0.0):
                if not self._frozen:
                    super().set_pos(x, y, z)

            def set_rotation(self, x=None, y=None, z=None, rotation_order="xyz"):
                if not self._frozen:
                    super().set_rotation(x=x, y=y, z=z, rotation_order=rotation_order)

            def place(self, position, rotation: dict, z_angle: float):
                self._frozen = False
                try:
                    if rotation:
                        super().set_rotation(**rotation)
                    super().set_rotation(z=z_angle)
                    super().set_pos(*(float(c) for c in position))
                finally:
                    self._frozen = True

            def get_rand_idx_area_and_distribution_norm(self, nidx=1, **kwargs):
                return GroundTruthCell.replay.idx(nidx)

            def create_synapse(self, cell, sec, x=0.5, syntype=None, synparams=None, **kw):
                # one point process per (pathway, segment), fed by every NetCon of the
                # pathway's synapses there: exact, as the synapse models are linear in
                # their events (each NetCon keeps its own weight and delay)
                key = (GroundTruthCell.replay.pathway, sec.name(), float(x))
                shared = self._shared_synapses.get(key)
                if shared is None:
                    shared = syntype(x, sec=sec)
                    for name, value in (synparams or {}).items():
                        setattr(shared, name, value)
                    self._shared_synapses[key] = shared
                cell.netconsynapses.append(shared)

        _CELL_CLASS = GroundTruthCell
    return _CELL_CLASS


class _PoissonPopulation:
    """A population without a cell model: independent Poisson sources (NetStim)
    with gids, standing in for a NetworkPopulation where Network.connect looks."""

    def __init__(self, name, first_gid, size, gids):
        self.name, self.first_gid, self.POP_SIZE, self.gids = name, first_gid, size, gids
        self.cells = []
        self.stims, self.netcons, self._hoc_spike_vectors = [], [], []


def _segment_geometry(cell):
    from .probes import SegmentGeometry

    names = tuple(sec.name().split(".")[-1] for sec in cell.allseclist for _ in sec)
    return SegmentGeometry(x=cell.x, y=cell.y, z=cell.z, d=cell.d, area=cell.area, section=names)


def _poisson_stim(h, rate: float, ids: tuple[int, int, int]):
    """A NetStim firing Poisson at ``rate`` (spikes/s) from t = 0 on its own
    Random123 stream ``ids``."""
    ns = h.NetStim()
    ns.start = 0.0
    ns.noise = 1.0
    if rate > 0:
        ns.interval = 1000.0 / rate
        ns.number = 1e12
    else:
        ns.number = 0
    ns.ranvar.set_ids(*ids)
    return ns


def _synapse_params(syn) -> dict:
    if syn.model == "ExpSynI":
        return {"tau": syn.tau2}
    params = {"tau1": syn.tau1, "tau2": syn.tau2}
    if syn.model == "Exp2Syn":
        params["e"] = syn.e
    return params


def _probe_matrices(
    model: Model, cells_by_pop: dict[str, list]
) -> dict[str, dict[str, np.ndarray]]:
    """Per probe and cell population: the matrix (channels, local segments) from the
    membrane currents of this rank's cells of the population to the probe
    (:func:`lfpk_hpc.probes.ground_truth_matrices`, each population's EEG and MEG dipole
    at its depth geometry.loc, where the kernels put it; the CSD cylinders of the
    population's radius unless the probe gives one)."""
    from .probes import SegmentGeometry, ground_truth_matrices, make_probe

    out = {p.name: {} for p in model.probes}
    for Y, cells in cells_by_pop.items():
        n = sum(c.totnsegs for c in cells)
        if not n:
            for probe in model.probes:
                out[probe.name][Y] = np.zeros((make_probe(probe).n_channels, 0))
            continue
        geometry = SegmentGeometry(
            x=np.concatenate([c.x for c in cells]),
            y=np.concatenate([c.y for c in cells]),
            z=np.concatenate([c.z for c in cells]),
            d=np.concatenate([c.d for c in cells]),
        )
        depth = model.population(Y).geometry.loc
        radius = model.population(Y).geometry.radius
        for name, M in ground_truth_matrices(
            model.probes, geometry, [], eeg_depth=depth, population_radius=radius
        ).items():
            out[name][Y] = np.ascontiguousarray(M)
    return out


def _probe_units(probe) -> str:
    from .probes import make_probe

    return make_probe(probe).units


class _Network:
    """The ground-truth network of one run: built, connected, simulated, in phases."""

    def __init__(self, model, c, pc, h, *, seed, dt, tstop, say):
        self.model, self.c, self.pc, self.h = model, c, pc, h
        self.seed, self.dt, self.tstop, self.say = seed, dt, tstop, say
        self.n_bins = int(round(tstop / dt))
        self.sample_step = max(1, int(round(SOMA_SAMPLE_MS / dt)))
        self.pops = {}  # name -> NetworkPopulation or _PoissonPopulation
        self.cell_pops: list[str] = []  # names of the populations with cells
        self.keep = []  # NEURON objects that must stay alive (extrinsic input)
        #: per population with extrinsic input: a Vector the times of all its
        #: extrinsic events on this rank go to (emptied into ext_counts as it runs)
        self.ext_times: dict[str, object] = {}
        self.ext_counts: dict[str, np.ndarray] = {}
        self.counts: dict[str, tuple[int, int]] = {}
        self.network = None

    # ---- phase 1: cells, positions, extrinsic input
    def build(self, cell_files: dict) -> None:
        import LFPy

        h, c = self.h, self.c
        h.celsius = network_celsius(self.model)
        self.network = LFPy.Network(
            dt=self.dt,
            tstart=0.0,
            tstop=self.tstop,
            v_init=V_INIT,
            celsius=network_celsius(self.model),
            OUTPUTPATH=str(cell_files["__work__"] / "lfpy"),
        )
        first_gid = 0
        for pop in self.model.populations:
            if pop.cell is None:
                self._poisson_population(pop, first_gid)
            else:
                self._cell_population(pop, cell_files[pop.name])
                ext = self.model.extrinsic.get(pop.name)
                if ext is not None and round(ext.n_ext) > 0:
                    self._extrinsic_input(pop.name, ext)
                self.cell_pops.append(pop.name)
            first_gid += pop.N
        c.barrier()

    def _poisson_population(self, pop, first_gid: int) -> None:
        h, pc, c = self.h, self.pc, self.c
        gids = [g for g in range(first_gid, first_gid + pop.N) if g % c.size == c.rank]
        pp = _PoissonPopulation(pop.name, first_gid, pop.N, gids)
        for gid in gids:
            pc.set_gid2node(gid, c.rank)
            ns = _poisson_stim(h, pop.nu, (self.seed, gid, _POISSON_STREAM))
            nc = h.NetCon(ns, None)
            pc.cell(gid, nc)
            vec = h.Vector()
            nc.record(vec)
            pp.stims.append(ns)
            pp.netcons.append(nc)
            pp._hoc_spike_vectors.append(vec)
        self.network.populations[pop.name] = pp
        self.network.population_names.append(pop.name)
        self.pops[pop.name] = pp

    def _cell_population(self, pop, files) -> None:
        h = self.h
        if pop.geometry is None:
            raise GroundTruthError(
                f"populations[{pop.name}].geometry = None is invalid: a population with a cell "
                "needs Geometry(radius, loc, scale) for the ground truth"
            )
        cm, g = pop.cell, pop.geometry
        args = cell_args(self.model, pop, files, v_init=V_INIT, dt=self.dt, tstop=self.tstop)
        self.network.create_population(
            Cell=_cell_class(),
            POP_SIZE=pop.N,
            name=pop.name,
            cell_args=args,
            pop_args=dict(radius=g.radius, loc=g.loc, scale=g.scale),
            rotation_args={},
        )
        npop = self.network.populations[pop.name]
        rng = rng_for(self.seed, "positions", pop.name)
        positions = soma_positions(rng, pop.N, g.radius, g.loc, g.scale)
        angles = rng.uniform(0.0, 2 * np.pi, size=pop.N)
        local = np.array(npop.gids, dtype=int) - npop.first_gid
        for i, cell in zip(local, npop.cells, strict=True):
            cell.place(positions[i], dict(cm.rotation), angles[i])
            if not cm.is_user_model:
                for sec in cell.somalist:  # the active soma of a passive cable
                    sec.uninsert("pas")
                    sec.insert("hh")
            if not any(True for _ in cell.somalist):
                raise GroundTruthError(
                    f"populations[{pop.name}].cell is invalid for the ground truth: the cell has "
                    "no section whose name contains 'soma' (where spikes are detected)"
                )
            # the somatic potential, sampled for the median (NetworkCell records every step)
            cell.somav.play_remove()
            cell.somav = h.Vector()
            soma = next(iter(cell.somalist))
            cell.somav.record(soma(0.5)._ref_v, self.dt * self.sample_step)
            # and the hh soma's active conductances, for their time average
            cell.soma_g = None
            if not cm.is_user_model:
                cell.soma_g = (h.Vector(), h.Vector())
                cell.soma_g[0].record(soma(0.5).hh._ref_gna, self.dt * self.sample_step)
                cell.soma_g[1].record(soma(0.5).hh._ref_gk, self.dt * self.sample_step)
        npop.soma_pos, npop.rotations = positions[local], angles[local]
        self.pops[pop.name] = npop

    def _extrinsic_input(self, name: str, ext) -> None:
        """One synapse per segment that holds any of the cell's round(n_ext) extrinsic
        synapses, driven by a Poisson train at (synapses there)·nu_ext."""
        h = self.h
        npop = self.pops[name]
        n_ext = int(round(ext.n_ext))
        syn = ext.synapse
        params = _synapse_params(syn)
        # every extrinsic event of the population is also recorded (one Vector per
        # rank), binned like the spikes, so that the kernel route can be given the
        # extrinsic input the cells really received (validate's diagnosis)
        times = self.ext_times.setdefault(name, h.Vector())
        self.ext_counts.setdefault(name, np.zeros(self.n_bins, dtype=np.int64))
        for gid, cell in zip(npop.gids, npop.cells, strict=True):
            rng = rng_for(self.seed, "extrinsic", name, gid - npop.first_gid)
            area = np.asarray(cell.area, dtype=float)
            per_seg = np.bincount(
                rng.choice(area.size, size=n_ext, p=area / area.sum()), minlength=area.size
            )
            segments = [seg for sec in cell.allseclist for seg in sec]
            for s in np.flatnonzero(per_seg):
                pp = getattr(h, syn.model)(segments[s])
                for key, value in params.items():
                    setattr(pp, key, value)
                ns = _poisson_stim(h, per_seg[s] * ext.nu_ext, (self.seed, gid, int(s)))
                nc = h.NetCon(ns, pp)
                nc.delay = 0.0  # exact Poisson times (not NetCon's default 1 ms)
                nc.weight[0] = syn.weight
                rec = h.NetCon(ns, None)
                rec.record(times)
                self.keep.append((pp, ns, nc, rec))

    # ---- phase 2: connections
    def connect(self) -> None:
        from .kernel import pathway_density

        h, model, c = self.h, self.model, self.c
        Cell = _cell_class()
        n_short = 0
        for con in model.connections:
            if con.C == 0:
                continue
            X, Y = con.pre, con.post
            post = self.pops[Y]
            k_pk = multapse_pmf(con.multapses)
            n_pre = model.population(X).N
            records = []
            conn = np.zeros((n_pre, len(post.gids)), dtype=bool)
            for col, (gid, cell) in enumerate(zip(post.gids, post.cells, strict=True)):
                j = gid - post.first_gid
                pre_idx, conns, short = draw_incoming(
                    rng_for(self.seed, "connect", X, Y, j),
                    n_pre=n_pre,
                    self_index=j if X == Y else None,
                    C=con.C,
                    multapses=k_pk,
                    density=pathway_density(_segment_geometry(cell), con, 0.0),
                    syn=con.synapse,
                    delay=con.delay,
                    dt=self.dt,
                )
                conn[pre_idx, col] = True
                records += conns
                n_short += short
            replay = _Replay(records, pathway=(X, Y))
            Cell.replay = replay
            try:
                n_conn, n_syn = self.network.connect(
                    pre=X,
                    post=Y,
                    connectivity=conn,
                    syntype=getattr(h, con.synapse.model),
                    synparams=_synapse_params(con.synapse),
                    weightfun=replay.weights,
                    weightargs={},
                    minweight=-np.inf,
                    delayfun=replay.delays,
                    delayargs={},
                    multapsefun=replay.multapses,
                    multapseargs={},
                    syn_pos_args={},
                    save_connections=False,
                )
            finally:
                Cell.replay = None
            if not replay.exhausted():  # pragma: no cover - a change in LFPy's connect
                raise RuntimeError(f"LFPy's Network.connect skipped connections of {X}->{Y}")
            self.counts[f"{X}->{Y}"] = (int(n_conn), int(n_syn))
        n_short = int(sum(c.gather(n_short) or [0]))
        if n_short:
            self.say(f"  note: {n_short} delays shorter than dt = {self.dt} ms were set to dt")
        c.barrier()

    # ---- phase 3: simulation
    def simulate(self) -> tuple[dict, dict]:
        """Run; returns this rank's signals {probe: (channels, bins)} and
        contributions {probe: {Y: (channels, bins)}}."""
        h, pc, n_bins, dt = self.h, self.pc, self.n_bins, self.dt
        from .cells import ADVANCE_PROC, RUN_PROC, define_run_procs

        cells = {Y: self.pops[Y].cells for Y in self.cell_pops}
        matrices = _probe_matrices(self.model, cells)
        seg_counts = [sum(cell.totnsegs for cell in cells[Y]) for Y in self.cell_pops]
        n_seg = int(sum(seg_counts))
        bounds = np.concatenate([[0], np.cumsum(seg_counts)]).astype(int)
        full = {
            p: np.concatenate([m[Y] for Y in self.cell_pops], axis=1) for p, m in matrices.items()
        }
        signals = {p: np.zeros((M.shape[0], n_bins)) for p, M in full.items()}
        contributions = {
            p: {Y: np.zeros((M.shape[0], n_bins)) for Y in self.cell_pops} for p, M in full.items()
        }
        cvode = h.CVode()
        cvode.active(0)
        cvode.use_fast_imem(1)
        ptr = h.PtrVector(n_seg) if n_seg else None
        i = 0
        for Y in self.cell_pops:
            for cell in cells[Y]:
                for sec in cell.allseclist:
                    for seg in sec:
                        ptr.pset(i, seg._ref_i_membrane_)
                        i += 1
        define_run_procs(h)
        pc.set_maxstep(10)
        h.dt = dt
        h.celsius = network_celsius(self.model)
        h.Random().Random123_globalindex(0)  # streams are set by their ids alone
        h.finitialize(V_INIT)
        h.fcurrent()
        h.t = 0.0
        block = max(1, int(round(BLOCK_MS / dt)))
        buffer, record = h.Vector(max(n_seg, 1)), h.Vector()
        t0 = t_last = time.perf_counter()
        k = 0
        from .parallel import fault_point

        while k < n_bins:
            if k > 0:
                fault_point("groundtruth:simulate", self.c.rank)
            b = min(block, n_bins - k)
            if n_seg:
                # sample j of the block: membrane currents at t = (k + j)·dt, then one step
                record.resize(n_seg * b)
                getattr(h, RUN_PROC)(ptr, buffer, record, b, n_seg, 1)
                imem = record.as_numpy().reshape(b, n_seg)  # (steps, segments)
                for p, M in full.items():
                    signals[p][:, k : k + b] = (imem @ M.T).T
                    for iy, Y in enumerate(self.cell_pops):
                        lo, hi = bounds[iy], bounds[iy + 1]
                        if hi > lo:
                            part = imem[:, lo:hi] @ matrices[p][Y].T
                            contributions[p][Y][:, k : k + b] = part.T
            else:
                getattr(h, ADVANCE_PROC)(b)
            k += b
            self._bin_extrinsic()
            now = time.perf_counter()
            if now - t_last > 10 or k == n_bins:
                t_last = now
                self.say(
                    f"  t = {k * dt:.0f} ms ({k / n_bins:.0%}), {now - t0:.1f} s elapsed, "
                    f"~{(now - t0) / k * (n_bins - k):.0f} s left"
                )
        self.c.barrier()
        return signals, contributions

    def _bin_extrinsic(self) -> None:
        """Move the extrinsic event times recorded so far into the per-bin counts."""
        from .predict import bin_spikes

        for name, vec in self.ext_times.items():
            if vec.size():
                t = np.array(vec.as_numpy(), dtype=np.float64)
                self.ext_counts[name] += bin_spikes(t, self.dt, 0.0, self.n_bins).astype(np.int64)
                vec.resize(0)

    # ---- results of this rank
    def local_spikes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for pop in self.model.populations:
            p = self.pops[pop.name]
            times, senders = [np.zeros(0)], [np.zeros(0, dtype=np.int64)]
            for gid, vec in zip(p.gids, p._hoc_spike_vectors, strict=True):
                t = np.array(vec.as_numpy(), dtype=np.float64)
                times.append(t)
                senders.append(np.full(t.size, gid - p.first_gid, dtype=np.int64))
            out[pop.name] = (np.concatenate(times), np.concatenate(senders))
        return out

    def local_somav(self, transient: float) -> dict[str, np.ndarray]:
        """Somatic potentials (mV) at t >= transient, sampled every SOMA_SAMPLE_MS."""
        i0 = int(math.ceil(transient / (self.dt * self.sample_step) - 1e-9))
        out = {}
        for Y in self.cell_pops:
            parts = [np.array(cell.somav.as_numpy())[i0:] for cell in self.pops[Y].cells]
            out[Y] = np.concatenate(parts) if parts else np.zeros(0)
        return out

    def local_soma_g(self, transient: float) -> dict[str, tuple[float, int]]:
        """(sum, count) of the somata's g_Na + g_K (S/cm²) at t >= transient, sampled
        every SOMA_SAMPLE_MS, per population."""
        i0 = int(math.ceil(transient / (self.dt * self.sample_step) - 1e-9))
        out = {}
        for Y in self.cell_pops:
            total, count = 0.0, 0
            for cell in self.pops[Y].cells:
                if cell.soma_g is None:  # a user's model
                    continue
                g = np.array(cell.soma_g[0].as_numpy())[i0:] + np.array(cell.soma_g[1])[i0:]
                total, count = total + float(g.sum()), count + g.size
            out[Y] = (total, count)
        return out
