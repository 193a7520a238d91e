"""The kernel engine: one (X, Y) pathway → H_YX for every probe.

Implements the method of Hagen et al. (2022, PLOS Comput Biol 18(8): e1010353)
with the conventions of LFPykernels 0.2.0 (``KernelApprox.get_kernel``):

1. Y's representative passive cell is built and, with ``g_eff``, every segment's
   leak is raised by the time-averaged conductance of all synapses onto it
   (extrinsic and from every presynaptic population).
2. X's synapses are spread over the segments (area × depth profile), linearised
   around Vrest (conductance-based) or taken as they are (current-based), each
   with weight × synapses per segment per presynaptic neuron (outdegree), and
   activated once at t_X.
3. The membrane currents of one simulation give every probe's signal
   (M @ imem), which is convolved with the delay distribution, offset so that lag 0
   is zero, and set to zero at negative lags.

The kernels have shape (channels, 2·tau/dt + 1) and cover lags −tau..tau (ms).
The engine knows nothing of MPI or files; numpy helpers here do not need NEURON.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.signal as ss

from .params import Connection, Distribution, Model, ParamsError, Placement, Synapse
from .probes import LinearProbe, SegmentGeometry, make_probe

__all__ = [
    "KernelEngine",
    "KernelResult",
    "beta_integral",
    "delay_kernel",
    "multapse_mean",
    "simulated_duration",
    "synapse_density",
    "total_synapses",
]


# --------------------------------------------------------------------------- numpy helpers


def delay_kernel(delay: Distribution, dt: float, tau: float) -> np.ndarray:
    """Delay distribution sampled at lags linspace(−tau, tau, 2·tau//dt + 1) (ms),
    normalised to sum 1."""
    t = np.linspace(-tau, tau, int(2 * tau // dt + 1))
    h = delay.frozen().pdf(t)
    return h / h.sum()


def multapse_mean(multapses: Distribution) -> float:
    """Mean synapses per connection: the continuous pdf evaluated at 1..99,
    normalised, as a discrete distribution (LFPykernels' convention)."""
    k = np.arange(1, 100)
    pk = multapses.frozen().pdf(k)
    pk = pk / pk.sum()
    return float(np.sum(k * pk))


def total_synapses(model: Model, con: Connection) -> float:
    """Total synapse count K_YX of a pathway (connections × mean multapses).

    ``model.synapse_count == "linear"``: C·N_X·N_Y (LFPykernels);
    ``"log"``: ln(1 − C) / ln(1 − 1/(N_X·N_Y)) (Potjans & Diesmann 2014).
    """
    n_x = model.population(con.pre).N
    n_y = model.population(con.post).N
    if model.synapse_count == "log":
        pairs = float(n_x) * float(n_y)
        k = math.log1p(-con.C) / math.log1p(-1.0 / pairs) if con.C > 0 else 0.0
    else:
        k = con.C * n_x * n_y
    return k * multapse_mean(con.multapses)


def simulated_duration(settings) -> float:
    """Simulated time (ms) of one kernel task: the warm-up t_X plus the window tau."""
    return settings.t_X + settings.tau


def beta_integral(tau1: float, tau2: float) -> float:
    """∫₀^∞ of the peak-normalised two-exponential time course (ms)."""
    tp = (tau1 * tau2) / (tau2 - tau1) * np.log(tau2 / tau1)
    u = np.exp(-tp / tau2) - np.exp(-tp / tau1)
    return (tau2 - tau1) / u


def synapse_density(
    geometry: SegmentGeometry, placement: Placement, pop_scale: float
) -> np.ndarray:
    """Fraction of a pathway's synapses on each segment (sums to 1).

    Segments of sections whose names contain one of ``placement.sections``
    ("allsec": all) get area × Σ_k w_k·pdf_k(z_mid), each depth distribution's
    scale widened to √(scale² + pop_scale²) for the spread of somata (µm).
    """
    if "allsec" in placement.sections:
        allowed = np.ones(geometry.n_seg, dtype=bool)
    else:
        allowed = np.array(
            [any(s in name for s in placement.sections) for name in geometry.section], dtype=bool
        )
    if not allowed.any():
        raise ParamsError(
            f"placement.sections = {placement.sections!r} is invalid: matches no section of the "
            f"cell (sections: {', '.join(sorted(set(geometry.section)))})"
        )
    z = geometry.z_mid[allowed]
    mod = np.zeros(z.shape)
    for dist, weight in zip(placement.depth, placement.weights, strict=True):
        params = dict(dist.params)
        params["scale"] = np.sqrt(params["scale"] ** 2 + pop_scale**2)
        mod += Distribution(dist.name, params).frozen().pdf(z) * weight
    p = np.zeros(geometry.n_seg)
    p[allowed] = geometry.area[allowed] * mod
    total = p.sum()
    if not total > 0:
        raise ParamsError(
            f"placement = {placement!r} is invalid: "
            "its depth profile is zero on every allowed segment"
        )
    return p / total


def _leak_shift(density_in: np.ndarray, syn: Synapse, nu: float, area: np.ndarray) -> np.ndarray:
    """Mean conductance (S/cm²) per segment of synapses with in-density ``density_in``
    (synapses per segment), weight (µS) and rate ``nu`` (spikes/s)."""
    beta = beta_integral(syn.tau1, syn.tau2)  # ms
    # µS / µm² · ms · 1/s = 1e-6 S / 1e-8 cm² · 1e-3 = 0.1 S/cm²
    return density_in * abs(syn.weight) / area * beta * nu * 0.1


# --------------------------------------------------------------------------- engine


@dataclass
class KernelResult:
    """Kernels of one (X, Y) pathway: probe name → array (channels, lags), and
    where the time went (seconds)."""

    X: str
    Y: str
    kernels: dict[str, np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)
    n_seg: int = 0


class KernelEngine:
    """Computes H_YX for every probe of ``model``, one pathway at a time.

    Transformation matrices are computed once per (Y, probe) and reused across X.
    Each task builds its cell afresh and deletes every NEURON section afterwards,
    so no NEURON state passes from one task to the next.
    """

    def __init__(self, model: Model, log=None):
        self.model = model
        self.log = log or (lambda *a, **k: None)
        self.probes: list[LinearProbe] = [make_probe(p) for p in model.probes]
        self._matrices: dict[tuple[str, str], np.ndarray] = {}
        self._geometry: dict[str, SegmentGeometry] = {}

    @property
    def n_lags(self) -> int:
        ks = self.model.kernel
        return int(2 * ks.tau // ks.dt + 1)

    def matrix(self, Y: str, probe: LinearProbe, geometry: SegmentGeometry) -> np.ndarray:
        key = (Y, probe.name)
        if key not in self._matrices:
            self._matrices[key] = probe.get_transformation_matrix(geometry)
        return self._matrices[key]

    def compute(self, X: str, Y: str) -> KernelResult:
        model = self.model
        con = model.connection(X, Y)
        if con.C == 0:
            kernels = {p.name: np.zeros((p.n_channels, self.n_lags)) for p in self.probes}
            return KernelResult(X, Y, kernels, {"total": 0.0})
        from . import mechanisms

        mechanisms.load_mechanisms(log=self.log)
        t0 = time.perf_counter()
        try:
            return self._compute(con, t0)
        finally:
            from .cells import delete_all_sections

            delete_all_sections()

    def _compute(self, con: Connection, t0: float) -> KernelResult:
        import LFPy

        from .cells import build_cell, segment_geometry, segments

        model, ks = self.model, self.model.kernel
        X, Y = con.pre, con.post
        pop_y = model.population(Y)
        n_y = pop_y.N
        vrest = ks.vrest_of(Y)
        if np.ndim(vrest) == 0:
            e_pas = vrest
        elif pop_y.cell.e_pas is not None:
            e_pas = pop_y.cell.e_pas
        else:
            raise ParamsError(
                f"populations[{Y}].cell.e_pas = None is invalid: with one Vrest per segment the "
                "cell needs its own leak reversal e_pas (mV)"
            )
        h_delta = delay_kernel(con.delay, ks.dt, ks.tau)

        cell = build_cell(
            pop_y.cell,
            morphology_path=model.morphology_path(Y),
            z=pop_y.geometry.loc,
            dt=ks.dt,
            tstop=simulated_duration(ks),
            e_pas=e_pas,
            v_init=e_pas,
        )
        geometry = segment_geometry(cell)
        n_seg = geometry.n_seg
        if np.ndim(vrest) == 1 and len(vrest) != n_seg:
            raise ParamsError(
                f"kernel.Vrest[{Y}] has {len(vrest)} values but is invalid: the cell of {Y} "
                f"has {n_seg} segments (one value per segment, or one value)"
            )
        segs = segments(cell)
        t_build = time.perf_counter()

        # effective leak: time-averaged conductance of every synapse onto Y
        if ks.g_eff:
            ext = model.extrinsic[Y]
            rho_ext = ext.n_ext * geometry.area / geometry.area.sum()
            shifts = [_leak_shift(rho_ext, ext.synapse, ext.nu_ext, geometry.area)]
            for Xi in model.presynaptic(Y):
                ci = model.connection(Xi, Y)
                if ci.C == 0:
                    continue
                p_i = synapse_density(geometry, ci.placement, pop_y.geometry.scale)
                k_in = total_synapses(model, ci) / n_y
                shifts.append(
                    _leak_shift(p_i * k_in, ci.synapse, model.population(Xi).nu, geometry.area)
                )
            for shift in shifts:
                for seg, s in zip(segs, shift, strict=True):
                    seg.g_pas += s

        # X's synapses: one current-based synapse per segment, activated at t_X
        p = synapse_density(geometry, con.placement, pop_y.geometry.scale)
        k_out = total_synapses(model, con) / model.population(X).N
        syn = con.synapse
        if syn.conductance_based:
            w = -syn.weight * (vrest - syn.e) * np.ones(n_seg)
        else:
            w = syn.weight * np.ones(n_seg)
        weights = w * p * k_out
        synapses = []
        for idx in np.flatnonzero(weights):
            s = LFPy.Synapse(
                cell,
                idx=int(idx),
                syntype="Exp2SynI",
                weight=float(weights[idx]),
                tau1=syn.tau1,
                tau2=syn.tau2,
            )
            s.set_spike_times(np.array([ks.t_X]))
            synapses.append(s)
        t_setup = time.perf_counter()

        cell.simulate(rec_imem=True)
        imem = cell.imem
        tvec = cell.tvec
        t_sim = time.perf_counter()

        # sample of the event and the lag window -tau..tau around it (by index, so
        # that a dt which is not a power of 2 cannot shift the window by rounding)
        i_x = int(np.argmin(np.abs(tvec - ks.t_X)))
        n_tau = int(round(ks.tau / ks.dt))
        window = slice(i_x - n_tau, i_x + n_tau + 1)
        kernels = {}
        for probe in self.probes:
            M = self.matrix(Y, probe, geometry)
            data = M @ imem
            data = ss.fftconvolve(data, h_delta[None, :], mode="same", axes=1)
            data -= data[:, i_x, None]
            data[:, :i_x] = 0.0
            kernels[probe.name] = np.ascontiguousarray(data[:, window])
        t_probe = time.perf_counter()
        del synapses, cell
        timings = {
            "build": t_build - t0,
            "setup": t_setup - t_build,
            "simulate": t_sim - t_setup,
            "probes": t_probe - t_sim,
            "total": t_probe - t0,
        }
        return KernelResult(X, Y, kernels, timings, n_seg)
