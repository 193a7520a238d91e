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

How it is computed (the numbers are LFPykernels'; the work is not):

- The cell and the transformation matrices are made once per Y and reused for
  every X (step 1 does not depend on X).
- All of X's synapses share one time course and differ only in their weight, so
  instead of one ``Exp2SynI`` point process per segment, one density mechanism
  (mod/lfpk_drive.mod) injects weight × the time course that ``Exp2SynI``'s
  states follow under NEURON's update rule (:func:`exp2syn_course`).
- A cell at rest (v_init = e_pas everywhere, passive) has exactly zero currents
  until the event, and only the samples from tau before the event enter the
  kernel; so the event is placed at t = 0, only tau ms are simulated, and the
  samples before the event are zeros (:func:`window_kernel`). A cell not at rest
  is simulated with LFPykernels' warm-up t_X.

The kernels have shape (channels, 2·tau/dt + 1) and cover lags −tau..tau (ms).
The engine knows nothing of MPI or files; numpy helpers here do not need NEURON.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .params import CellModel, Connection, Distribution, Model, ParamsError, Placement, Synapse
from .probes import LinearProbe, SegmentGeometry, make_probe

__all__ = [
    "KernelEngine",
    "KernelResult",
    "beta_integral",
    "delay_kernel",
    "exp2syn_course",
    "kernel_duration",
    "multapse_mean",
    "simulated_duration",
    "synapse_density",
    "total_synapses",
    "window_kernel",
]


# --------------------------------------------------------------------------- numpy helpers


def _pdf(dist: Distribution, x: np.ndarray) -> np.ndarray:
    """``dist.frozen().pdf(x)`` without freezing (which formats the docstring of a new
    distribution object every time: ~0.5 ms per call)."""
    import scipy.stats as st

    return getattr(st, dist.name).pdf(x, **dict(dist.params))


def delay_kernel(delay: Distribution, dt: float, tau: float) -> np.ndarray:
    """Delay distribution sampled at lags linspace(−tau, tau, 2·tau/dt + 1) (ms),
    normalised to sum 1.

    Parameters
    ----------
    delay : Distribution
        The delay distribution (ms).
    dt : float
        Time step (ms).
    tau : float
        Half-width of the window of lags (ms).

    Returns
    -------
    numpy.ndarray
        Weight of each lag (dimensionless, summing to 1).
    """
    # LFPykernels writes int(2 * tau // dt + 1), which floors 2·tau/dt = 199.99…
    # to 199 for tau = 10, dt = 0.1; rounding keeps the lag-0 sample in the middle
    t = np.linspace(-tau, tau, 2 * int(round(tau / dt)) + 1)
    h = _pdf(delay, t)
    return h / h.sum()


def multapse_mean(multapses: Distribution) -> float:
    """Mean synapses per connection: the continuous pdf evaluated at 1..99,
    normalised, as a discrete distribution (LFPykernels' convention).

    Parameters
    ----------
    multapses : Distribution
        Distribution of synapses per connection (dimensionless).

    Returns
    -------
    float
        Mean synapses per connection (a count).
    """
    k = np.arange(1, 100)
    pk = _pdf(multapses, k)
    pk = pk / pk.sum()
    return float(np.sum(k * pk))


def total_synapses(model: Model, con: Connection) -> float:
    """Total synapse count K_YX of a pathway (connections × mean multapses).

    ``model.synapse_count == "linear"``: C·N_X·N_Y (LFPykernels);
    ``"log"``: ln(1 − C) / ln(1 − 1/(N_X·N_Y)) (Potjans & Diesmann 2014).

    Parameters
    ----------
    model : Model
        The model.
    con : Connection
        The pathway.

    Returns
    -------
    float
        Total synapse count K_YX (a count).
    """
    n_x = model.population(con.pre).N
    n_y = model.population(con.post).N
    if model.synapse_count == "log":
        pairs = float(n_x) * float(n_y)
        k = math.log1p(-con.C) / math.log1p(-1.0 / pairs) if con.C > 0 else 0.0
    else:
        k = con.C * n_x * n_y
    return k * multapse_mean(con.multapses)


def simulated_duration(settings, at_rest: bool = True) -> float:
    """Simulated time (ms) of one kernel task.

    A cell at rest (every leak reversal at v_init: the usual case, see
    :meth:`lfpk_hpc.cells.PassiveCell.at_rest`) is simulated only over the kernel
    window tau after the event; any other cell from t = 0 over the warm-up t_X
    and the window, as LFPykernels does.

    Parameters
    ----------
    settings : KernelSettings
        The model's kernel settings (their dt, tau and t_X in ms).
    at_rest : bool, optional
        Whether the cell is at rest.

    Returns
    -------
    float
        Simulated time (ms).
    """
    return settings.tau + settings.dt if at_rest else settings.t_X + settings.tau


@functools.lru_cache(maxsize=64)
def exp2syn_course(tau1: float, tau2: float, dt: float, n: int, start: int) -> np.ndarray:
    """Current (nA) of an ``Exp2SynI`` of weight 1 nA that receives an event at the
    step ``start``, during each of ``n`` steps of ``dt`` (ms): i = B − A, with the
    states updated by NEURON's ``cnexp`` rule as mod/exp2syni.mod compiles it
    (zero before the event; zero in the step of the event, when A = B).
    The result is cached and read-only.

    Parameters
    ----------
    tau1 : float
        Rise time constant (ms).
    tau2 : float
        Decay time constant (ms).
    dt : float
        Time step (ms).
    n : int
        Number of steps (a count).
    start : int
        Index of the step of the event.

    Returns
    -------
    numpy.ndarray
        The current of each step (nA), read-only.
    """
    if tau1 / tau2 > 0.9999:
        tau1 = 0.9999 * tau2
    tp = (tau1 * tau2) / (tau2 - tau1) * math.log(tau2 / tau1)
    factor = 1 / (math.exp(-tp / tau2) - math.exp(-tp / tau1))
    c1 = 1.0 - math.exp(dt * (-1.0 / tau1))
    c2 = 1.0 - math.exp(dt * (-1.0 / tau2))
    out = np.zeros(n)
    a = b = -factor
    for k in range(start, n):
        out[k] = b - a
        a = a + c1 * (0.0 - a)
        b = b + c2 * (0.0 - b)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=64)
def expsyn_course(tau: float, dt: float, n: int, start: int) -> np.ndarray:
    """Current (nA) of an ``ExpSynI`` of weight 1 nA that receives an event at the
    step ``start``, during each of ``n`` steps of ``dt`` (ms): i = −A, with A
    updated by NEURON's ``cnexp`` rule as mod/expsyni.mod compiles it. The result
    is cached and read-only."""
    c = 1.0 - math.exp(dt * (-1.0 / tau))
    out = np.zeros(n)
    a = 1.0
    for k in range(start, n):
        out[k] = -a
        a = a + c * (0.0 - a)
    out.flags.writeable = False
    return out


def drive_course(syn: Synapse, dt: float, n: int, start: int) -> np.ndarray:
    """The per-step current (nA) of a unit-weight synapse of ``syn``'s model."""
    if syn.model == "ExpSynI":
        return expsyn_course(syn.tau2, dt, n, start)
    return exp2syn_course(syn.tau1, syn.tau2, dt, n, start)


def _fast_len(n: int) -> int:
    """The smallest 2^a·3^b·5^c >= n (a length pocketfft transforms fast)."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def window_kernel(data: np.ndarray, i_x: int, h_delta: np.ndarray, n_tau: int) -> np.ndarray:
    """Kernels (channels, 2·n_tau + 1) from signals ``data`` (channels, samples)
    with the event at sample ``i_x``: LFPykernels' steps (convolution with the
    delay distribution ``h_delta`` in 'same' mode, minus the value at the event,
    zero before it) on lags −tau..tau.

    Only samples i_x − n_tau .. i_x + n_tau enter these lags, so the signal is cut
    there first; samples before the start of ``data`` count as zero (a cell at
    rest), as do those after its end (as in LFPykernels, whose simulation ends at
    t_X + tau).

    Parameters
    ----------
    data : numpy.ndarray
        Signals (channels, samples), any units.
    i_x : int
        Index of the event's sample.
    h_delta : numpy.ndarray
        Delay distribution per lag (dimensionless, :func:`delay_kernel`).
    n_tau : int
        Lags on each side of the event (a count).

    Returns
    -------
    numpy.ndarray
        Kernels (channels, 2·n_tau + 1), in ``data``'s units.
    """
    n_ch = data.shape[0]
    n = 2 * n_tau + 1
    x = np.zeros((n_ch, n))
    lo = i_x - n_tau
    part = data[:, max(lo, 0) : i_x + n_tau + 1]
    x[:, max(-lo, 0) : max(-lo, 0) + part.shape[1]] = part
    # 'same'-mode convolution through numpy's FFT (scipy.signal's import alone cost
    # every rank ~0.1 s on its first task)
    n_full = n + h_delta.size - 1
    n_fft = _fast_len(n_full)
    spec = np.fft.rfft(x, n_fft, axis=1) * np.fft.rfft(h_delta, n_fft)
    start = (h_delta.size - 1) // 2
    out = np.fft.irfft(spec, n_fft, axis=1)[:, start : start + n]
    out -= out[:, n_tau, None]
    out[:, :n_tau] = 0.0
    return out


def kernel_duration(H: np.ndarray, dt: float, rtol: float = 0.01) -> float:
    """Lag (ms) of the last sample at which any channel of the kernel ``H`` (channels,
    lags 0..tau in steps of ``dt``: the causal half) exceeds ``rtol`` × its largest
    |value|; 0 for a kernel of zeros. Beyond it the kernel has decayed.

    Parameters
    ----------
    H : numpy.ndarray
        The kernel's causal half (channels, lags), any units.
    dt : float
        Time step of the lags (ms).
    rtol : float, optional
        Threshold relative to the largest magnitude (dimensionless).

    Returns
    -------
    float
        The lag (ms).
    """
    d = np.abs(np.atleast_2d(H))
    peak = d.max() if d.size else 0.0
    if not peak > 0:
        return 0.0
    above = np.flatnonzero((d > rtol * peak).any(axis=0))
    return float(above[-1] * dt)


def beta_integral(tau1: float, tau2: float) -> float:
    """∫₀^∞ of the peak-normalised two-exponential time course (ms).

    Parameters
    ----------
    tau1 : float
        Rise time constant (ms).
    tau2 : float
        Decay time constant (ms), > tau1.

    Returns
    -------
    float
        The integral (ms).
    """
    tp = (tau1 * tau2) / (tau2 - tau1) * np.log(tau2 / tau1)
    u = np.exp(-tp / tau2) - np.exp(-tp / tau1)
    return (tau2 - tau1) / u


def pathway_density(geometry: SegmentGeometry, con: Connection, pop_scale: float) -> np.ndarray:
    """:func:`synapse_density` of a pathway; an error names the pathway (with g_eff,
    every task of Y needs the placements of all of Y's pathways; the ground truth
    places each cell's synapses with it too)."""
    try:
        return synapse_density(geometry, con.placement, pop_scale)
    except ParamsError as exc:
        raise ParamsError(f"connections[{con.pre}->{con.post}]: {exc}") from None


@functools.lru_cache(maxsize=256)
def _allowed(section_names: tuple, sections: tuple) -> np.ndarray:
    from .params import section_allowed

    out = np.array([section_allowed(sections, name) for name in section_names], dtype=bool)
    out.flags.writeable = False
    return out


def allowed_segments(section: tuple, placement: Placement) -> np.ndarray:
    """Segments (bool per segment, given the section name of each segment) of the
    sections the placement names (:meth:`lfpk_hpc.params.Placement.allows`);
    ParamsError if there are none. Cached per (section names, placement sections):
    read-only."""
    allowed = _allowed(tuple(section), tuple(placement.sections))
    if not allowed.any():
        raise ParamsError(
            f"placement.sections = {placement.sections!r} is invalid: matches no section of the "
            f"cell (sections: {', '.join(sorted(set(section)))})"
        )
    return allowed


def depth_profile(z: np.ndarray, placement: Placement, pop_scale: float) -> np.ndarray:
    """Σ_k w_k·pdf_k(z) of the placement's depth distributions at depths ``z`` (µm),
    each widened by the soma spread ``pop_scale`` (see :func:`synapse_density`)."""
    mod = np.zeros(z.shape)
    for dist, weight in zip(placement.depth, placement.weights, strict=True):
        if dist.name == "uniform" and pop_scale > 0:
            # a layer [loc, loc + scale] seen by somata spread N(0, pop_scale): the
            # exact convolution of the uniform density with that Gaussian
            from scipy.special import ndtr

            a = dist.params.get("loc", 0.0)
            b = a + dist.params.get("scale", 1.0)
            mod += (ndtr((z - a) / pop_scale) - ndtr((z - b) / pop_scale)) / (b - a) * weight
            continue
        params = dict(dist.params)
        params["scale"] = np.sqrt(params["scale"] ** 2 + pop_scale**2)
        mod += _pdf(Distribution(dist.name, params), z) * weight
    return mod


def synapse_density(
    geometry: SegmentGeometry, placement: Placement, pop_scale: float
) -> np.ndarray:
    """Fraction of a pathway's synapses on each segment (sums to 1).

    Segments of sections whose names contain one of ``placement.sections``
    ("allsec": all) get area × Σ_k w_k·pdf_k(z_mid), each depth distribution's
    scale widened to √(scale² + pop_scale²) for the spread of somata (µm) — exact
    for normal profiles, and LFPykernels' rule. A ``uniform`` profile (a layer) is
    instead convolved exactly with the Gaussian soma spread.

    Parameters
    ----------
    geometry : SegmentGeometry
        The cell's segments (positions in µm, areas in µm²).
    placement : Placement
        Where the pathway's synapses sit.
    pop_scale : float
        Standard deviation of the somata's depths (µm).

    Returns
    -------
    numpy.ndarray
        Fraction of the synapses on each segment (dimensionless, summing to 1).

    Raises
    ------
    ParamsError
        The depth profile is zero on every allowed segment.
    """
    allowed = allowed_segments(geometry.section, placement)
    mod = depth_profile(geometry.z_mid[allowed], placement, pop_scale)
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
    where the time went (seconds). ``extra``: what the file records beside the
    kernels — the linear cell of a user's model (arrays per segment and words), or an
    action-potential kernel's pulse and onset (X = :data:`lfpk_hpc.store.AP_TASK`).

    Parameters
    ----------
    X : str
        Presynaptic population (or :data:`lfpk_hpc.store.AP_TASK`).
    Y : str
        Postsynaptic population.
    kernels : dict of str to numpy.ndarray
        Probe name → kernel (channels, lags), in the probe's units per spike (e.g. mV,
        nA·µm, fT).
    timings : dict of str to float, optional
        Wall time of each step, in seconds.
    n_seg : int, optional
        Segments of Y's cell (a count).
    extra : dict, optional
        What the file records beside the kernels (see above).
    """

    X: str
    Y: str
    kernels: dict[str, np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)
    n_seg: int = 0
    extra: dict = field(default_factory=dict)


class KernelEngine:
    """Computes H_YX for every probe of ``model``, one pathway at a time.

    Per postsynaptic population Y, the cell (with its effective leak) and the
    probes' transformation matrices are made once and reused for every X; each
    task only sets the amplitudes of its synaptic drive and simulates. The cell of
    the last Y stays in NEURON until a task for another Y, :meth:`close`, or other
    code that deletes sections; it is rebuilt whenever it is no longer intact and
    alone in NEURON. A task leaves nothing behind that could change the next one:
    every drive amplitude is set, the drive's time course is replaced, and each
    simulation starts from ``finitialize``.

    A cell at rest (see :meth:`lfpk_hpc.cells.PassiveCell.at_rest`) is simulated
    only for the kernel window: its currents are exactly zero before the event, so
    the event is placed at t = 0 and the samples before it are zeros. Other cells
    are simulated from t = 0 with the event at t_X, as LFPykernels does.

    Parameters
    ----------
    model : Model
        A validated model (:func:`lfpk_hpc.params.load`); its units: µm, ms, mV, µS or
        nA, S/cm², spikes/s.
    log : callable or None
        Where progress lines go (None: nowhere).

    Examples
    --------
    >>> from lfpk_hpc import params
    >>> engine = KernelEngine(params.load("params/lfpykernels_readme.py"))
    >>> H = engine.compute("I", "E").kernels["lfp"]  # doctest: +SKIP
    >>> H.shape  # 13 contacts, lags -50 ... 50 ms in steps of 0.0625 ms  # doctest: +SKIP
    (13, 1601)
    """

    #: simulate the whole warm-up t_X even for a cell at rest (for tests)
    _exact_warmup = False

    def __init__(self, model: Model, log=None):
        self.model = model
        self.log = log or (lambda *a, **k: None)
        self.probes: list[LinearProbe] = [make_probe(p) for p in model.probes]
        # per (Y, probe name); a rebuilt cell of Y has the same geometry
        self._matrices: dict[tuple[str, str], np.ndarray] = {}
        self._cell = None  # PassiveCell of population self._cell_Y
        self._cell_Y: str | None = None
        self._linear = {}  # Y -> Linearisation of a user's model

    @property
    def n_lags(self) -> int:
        ks = self.model.kernel
        return 2 * int(round(ks.tau / ks.dt)) + 1

    def prepare(self) -> None:
        """Load once, ahead of the tasks, what every process needs for its first one:
        LFPy (the cell builder; its import takes ~0.2 s), the hoc libraries it
        loads (~0.02 s) and the probes' volume conductors. The scheduler calls this
        in its set-up, so that the wall time recorded for a task (and the schedule
        planned from it) is the task's own."""
        from neuron import h

        from .cells import _cell_class

        _cell_class()
        for lib in ("stdlib.hoc", "import3d.hoc", "stdrun.hoc"):  # what LFPy.Cell loads
            h.load_file(lib)
        for probe in self.probes:
            if hasattr(probe, "conductor"):
                probe.conductor()
        # a user's model: its section names (which only the built cell tells) against
        # the placements, before any task
        for Y in self.model.postsynaptic:
            cm = self.model.population(Y).cell
            if cm.is_user_model:
                try:
                    self._check_user_cell(Y)
                finally:
                    self.close()
        # a Vrest per segment must match the cell's segments, which only the built cell
        # tells: build those cells now, so that a wrong count stops the run here (a
        # ParamsError on every rank, before any task) and not inside a task
        for Y in self.model.postsynaptic:
            if np.ndim(self.model.kernel.vrest_of(Y)) == 1:
                try:
                    self._cell_of(Y)
                except ParamsError:
                    self.close()
                    raise
                except Exception:  # noqa: BLE001 - a cell that does not build fails its tasks
                    self.close()

    def matrix(self, Y: str, probe: LinearProbe, geometry: SegmentGeometry) -> np.ndarray:
        """The probe's matrix for the cell of Y (made once per Y and probe); a probe
        whose matrix depends on the population (the CSD cylinders' default radius)
        takes Y's geometry.

        Parameters
        ----------
        Y : str
            The postsynaptic population.
        probe : LinearProbe
            The probe.
        geometry : SegmentGeometry
            The segments of Y's cell (positions in µm).

        Returns
        -------
        numpy.ndarray
            The matrix (channels, segments), from membrane currents (nA) to the probe's
            signal (e.g. mV, nA·µm).
        """
        key = (Y, probe.name)
        if key not in self._matrices:
            probe_y = probe.for_population(self.model.population(Y).geometry)
            self._matrices[key] = probe_y.get_transformation_matrix(geometry)
        return self._matrices[key]

    def close(self) -> None:
        """Delete this engine's cell from NEURON (the sections of it that still exist;
        other sections are left alone)."""
        cell, self._cell, self._cell_Y = self._cell, None, None
        if cell is not None:
            cell.delete()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - NEURON may already be gone at exit
            pass

    def compute(self, X: str, Y: str) -> KernelResult:
        """The kernels H_YX of every probe for presynaptic ``X`` and postsynaptic ``Y``.

        Parameters
        ----------
        X, Y : str
            Presynaptic and postsynaptic population (``X`` = ``"(AP)"``: Y's
            action-potential kernel).

        Returns
        -------
        KernelResult
            ``kernels``: probe name → array (channels, 2·tau/dt + 1) over lags
            −tau … tau ms, in mV (LFP, EEG), nA·µm (dipole moment), fT (MEG) or
            µA/mm³ (CSD) per presynaptic spike; ``timings`` in s.
        """
        from .store import AP_TASK

        if X == AP_TASK:
            return self.compute_ap(Y)
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
        except BaseException:
            self.close()
            raise

    # ---- one population's cell, built once
    def _e_pas(self, Y: str):
        pop_y = self.model.population(Y)
        vrest = self.model.kernel.vrest_of(Y)
        if np.ndim(vrest) == 0:
            return vrest
        if pop_y.cell.e_pas is not None:
            return pop_y.cell.e_pas
        raise ParamsError(
            f"populations[{Y}].cell.e_pas = None is invalid: with one Vrest per segment the "
            "cell needs its own leak reversal e_pas (mV)"
        )

    # ---- a user's model
    def _user_paths(self, cm: CellModel) -> dict:
        model = self.model
        return {
            "morphology_path": model.path(cm.morphology)
            if isinstance(cm.morphology, str)
            else None,
            "template_path": model.path(cm.template.file) if cm.template is not None else None,
        }

    def _load_user_mechanisms(self, cm: CellModel, comm=None) -> None:
        from . import mechanisms

        for c in (cm, cm.ap_model):
            if c is not None and c.mechanisms is not None:
                mechanisms.load_user_mechanisms(
                    self.model.path(c.mechanisms), comm=comm, log=self.log
                )

    def load_mechanisms(self, comm=None) -> None:
        """lfpk_hpc's mechanisms and those of every user's model (rank 0 compiles first).

        Parameters
        ----------
        comm : mpi4py.MPI.Comm, optional
            Communicator whose ranks all load them; None: this process alone.
        """
        from . import mechanisms

        mechanisms.load_mechanisms(comm=comm, log=self.log)
        for Y in self.model.postsynaptic:
            self._load_user_mechanisms(self.model.population(Y).cell, comm)

    def _check_user_cell(self, Y: str) -> None:
        """Build Y's user model (not linearised) and check the placements' section names."""
        from .cells import build_user_cell, segment_geometry

        pop_y = self.model.population(Y)
        self._load_user_mechanisms(pop_y.cell)
        lfpy_cell = build_user_cell(
            pop_y.cell,
            param=f"populations[{Y}].cell",
            z=pop_y.geometry.loc,
            dt=self.model.kernel.dt,
            **self._user_paths(pop_y.cell),
        )
        geometry = segment_geometry(lfpy_cell)
        for X in self.model.presynaptic(Y):
            pathway_density(geometry, self.model.connection(X, Y), pop_y.geometry.scale)
        del lfpy_cell
        from .cells import delete_all_sections

        delete_all_sections()

    def _check_vrest(self, Y: str, cell, n_seg: int, allowed: str) -> None:
        """A Vrest per segment of Y must have one value per segment of Y's cell (else the
        cell is deleted and ParamsError names ``allowed``)."""
        vrest = self.model.kernel.vrest_of(Y)
        if np.ndim(vrest) == 1 and len(vrest) != n_seg:
            cell.delete()
            raise ParamsError(
                f"kernel.Vrest[{Y}] has {len(vrest)} values but is invalid: the cell of {Y} "
                f"has {n_seg} segments ({allowed})"
            )

    def _leak_shifts(self, Y: str, geometry: SegmentGeometry, g: np.ndarray) -> np.ndarray:
        """``g`` plus the time-averaged conductance (S/cm²) of every synapse onto Y."""
        model = self.model
        pop_y = model.population(Y)
        ext = model.extrinsic[Y]
        rho_ext = ext.n_ext * geometry.area / geometry.area.sum()
        g = g + _leak_shift(rho_ext, ext.synapse, ext.nu_ext, geometry.area)
        for Xi in model.presynaptic(Y):
            ci = model.connection(Xi, Y)
            if ci.C == 0:
                continue
            p_i = pathway_density(geometry, ci, pop_y.geometry.scale)
            k_in = total_synapses(model, ci) / pop_y.N
            g = g + _leak_shift(p_i * k_in, ci.synapse, model.population(Xi).nu, geometry.area)
        return g

    def _user_cell_of(self, Y: str):
        """The linear cell of Y's user model (:mod:`lfpk_hpc.linearise`), with the
        effective leak, at its exact resting state."""
        from .linearise import linear_cell

        model, ks = self.model, self.model.kernel
        pop_y = model.population(Y)
        self._load_user_mechanisms(pop_y.cell)
        cell, info = linear_cell(
            pop_y.cell,
            param=f"populations[{Y}].cell",
            z=pop_y.geometry.loc,
            dt=ks.dt,
            log=self.log,
            **self._user_paths(pop_y.cell),
        )
        self._check_vrest(Y, cell, cell.n_seg, "one value per segment, one value, or 'cell'")
        if ks.g_eff:
            cell.add_leak(self._leak_shifts(Y, cell.geometry, cell.leak()), info.e_leak)
        self._linear[Y] = info
        return cell

    def linearisation(self, Y: str):
        """The :class:`lfpk_hpc.linearise.Linearisation` of Y's user model (None for a
        passive cable), once its cell is built.

        Parameters
        ----------
        Y : str
            The postsynaptic population.

        Returns
        -------
        Linearisation or None
            The linear cell of Y's user model.
        """
        return self._linear.get(Y)

    def _cell_of(self, Y: str):
        """The cell of Y in NEURON, built (with its effective leak) if needed."""
        if self._cell_Y == Y and self._cell is not None and self._cell.alive():
            return self._cell
        self.close()
        if self.model.population(Y).cell.is_user_model:
            cell = self._user_cell_of(Y)
            self._cell, self._cell_Y = cell, Y
            return cell
        from .cells import build_cell

        model, ks = self.model, self.model.kernel
        pop_y = model.population(Y)
        e_pas = self._e_pas(Y)
        cell = build_cell(
            pop_y.cell,
            morphology_path=model.morphology_path(Y),
            z=pop_y.geometry.loc,
            e_pas=e_pas,
            v_init=e_pas,
            dt=ks.dt,
        )
        geometry = cell.geometry
        self._check_vrest(Y, cell, geometry.n_seg, "one value per segment, or one value")
        # effective leak: time-averaged conductance of every synapse onto Y
        if ks.g_eff:
            cell.set_leak(self._leak_shifts(Y, geometry, cell.leak()))
        if not cell.rest:
            self.log(
                f"cell of {Y} is not at rest at t = 0 (v_init differs from e_pas or it has "
                f"other mechanisms): simulating the warm-up t_X = {ks.t_X} ms"
            )
        self._cell, self._cell_Y = cell, Y
        return cell

    def _matrix_all(self, Y: str, geometry: SegmentGeometry) -> np.ndarray:
        """Every probe's transformation matrix, stacked (all channels, segments)."""
        key = (Y, "")
        if key not in self._matrices:
            self._matrices[key] = np.concatenate(
                [self.matrix(Y, probe, geometry) for probe in self.probes], axis=0
            )
        return self._matrices[key]

    # ---- one task
    def _compute(self, con: Connection, t0: float) -> KernelResult:
        model, ks = self.model, self.model.kernel
        X, Y = con.pre, con.post
        pop_y = model.population(Y)
        cell = self._cell_of(Y)
        geometry = cell.geometry
        t_build = time.perf_counter()
        M = self._matrix_all(Y, geometry)
        t_matrix = time.perf_counter()

        # X's synapses, linearised around Vrest (conductance-based) or as they are,
        # weight × synapses per segment per presynaptic neuron, all activated at once
        vrest = ks.vrest_of(Y)
        if isinstance(vrest, str):  # "cell": the linear cell's rest, per segment
            vrest = cell.v_segments
        p = pathway_density(geometry, con, pop_y.geometry.scale)
        k_out = total_synapses(model, con) / model.population(X).N
        syn = con.synapse
        if syn.conductance_based:
            w = -syn.weight * (vrest - syn.e) * np.ones(geometry.n_seg)
        else:
            w = syn.weight * np.ones(geometry.n_seg)
        weights = w * p * k_out  # nA (peak of each segment's current)
        # a point process's current I (nA) enters a segment as I·100/area (mA/cm²)
        cell.set_drive(weights * (1.0e2 / geometry.area))
        n_tau = int(round(ks.tau / ks.dt))
        if cell.rest and not self._exact_warmup:
            # nothing happens before the event: start one step before it, so that the
            # sample at lag 0 is the pre-event state, as after a warm-up (the sample
            # at t = 0 reflects finitialize, where an instantly rising current such
            # as ExpSynI's would already show)
            i_x = 1
        else:
            i_x = int(round(ks.t_X / ks.dt))
        drive = drive_course(syn, ks.dt, i_x + n_tau + 1, i_x)
        h_delta = delay_kernel(con.delay, ks.dt, ks.tau)
        t_setup = time.perf_counter()

        signals = cell.simulate(drive, ks.dt, transform=M)  # M @ imem
        if cell.v_nodes is not None:
            # a non-uniform rest carries steady membrane currents (axial currents flow
            # from segment to segment): the kernel is the change from there, and the
            # samples before the event are that rest (the sample at t = 0 reflects
            # finitialize, which computes no axial currents)
            signals = signals - signals[:, i_x, None]
            signals[:, :i_x] = 0.0
        t_sim = time.perf_counter()

        H = window_kernel(signals, i_x, h_delta, n_tau)
        kernels, row = {}, 0
        for probe in self.probes:
            kernels[probe.name] = np.ascontiguousarray(H[row : row + probe.n_channels])
            row += probe.n_channels
        t_probe = time.perf_counter()
        timings = {
            "build": t_build - t0,
            "matrix": t_matrix - t_build,
            "setup": t_setup - t_matrix,
            "simulate": t_sim - t_setup,
            "probes": t_probe - t_sim,
            "total": t_probe - t0,
        }
        extra = self._cell_record(Y, cell, vrest) if Y in self._linear else {}
        return KernelResult(X, Y, kernels, timings, geometry.n_seg, extra)

    def _cell_record(self, Y: str, cell, vrest) -> dict:
        """What the kernels file records of the linear cell of Y's user model."""
        info = self._linear[Y]
        return {
            "cell": {
                "v_rest": cell.v_segments,  # mV: the linear cell's rest (with g_eff)
                "vrest_synapses": np.broadcast_to(np.asarray(vrest, float), (cell.n_seg,)).copy(),
                "g": cell.leak(),  # S/cm², with g_eff
                "e": np.array([seg.pas.e for seg in cell.segments]),  # mV
                "v_operating_point": info.v_rest,  # mV: the model's own rest / v_hold
                "z": cell.geometry.z_mid,  # µm, segment midpoints
            },
            "cell_attrs": {
                "linearisation": info.kind,
                "operating_point": info.rest,
                "residual_mV_per_ms": info.residual,
                "mechanisms_replaced": ", ".join(info.mechanisms),
                "quasi_active_gates": ", ".join(sorted(info.gates)),
                "frozen_states": ", ".join(info.frozen_states),
                "section_names": ", ".join(sorted(set(cell.geometry.section))),
            },
        }

    # ---- action-potential kernels
    def spike_model(self, Y: str):
        """The model whose spikes give Y's action-potential kernel (None: none).

        Parameters
        ----------
        Y : str
            The postsynaptic population.

        Returns
        -------
        CellModel or None
            The firing model (Y's user model or its cell's ``ap_model``).
        """
        cm = self.model.population(Y).cell
        return cm if cm.is_user_model else cm.ap_model

    def compute_ap(self, Y: str) -> KernelResult:
        """H^AP_Y for every probe (:mod:`lfpk_hpc.apkernel`), a task like a kernel.

        Parameters
        ----------
        Y : str
            The population whose action-potential kernel is computed.

        Returns
        -------
        KernelResult
            The kernels, with X = :data:`lfpk_hpc.store.AP_TASK`.
        """
        from . import mechanisms
        from .apkernel import ap_kernel
        from .store import AP_TASK

        model, ks = self.model, self.model.kernel
        pop_y = model.population(Y)
        spike = self.spike_model(Y)
        param = f"populations[{Y}].cell" + ("" if spike is pop_y.cell else ".ap_model")
        mechanisms.load_mechanisms(log=self.log)
        self._load_user_mechanisms(pop_y.cell)
        self.close()  # the active cell replaces Y's kernel cell in NEURON
        t0 = time.perf_counter()

        def shift(geometry):
            if not ks.g_eff:
                return None
            return self._leak_shifts(Y, geometry, np.zeros(geometry.n_seg))

        def matrix(geometry):
            return np.concatenate(
                [probe.get_transformation_matrix(geometry) for probe in self.probes], axis=0
            )

        try:
            res = ap_kernel(
                spike,
                param=param,
                z=pop_y.geometry.loc,
                dt=ks.dt,
                tau=ks.tau,
                leak_shift=shift,
                matrix_of=matrix,
                probes=[(p.name, p.n_channels) for p in self.probes],
                log=self.log,
                **self._user_paths(spike),
            )
        except BaseException:
            self.close()
            raise
        total = time.perf_counter() - t0
        self.log(
            f"action potential of {Y}: {res.pulse_nA:.2f} nA pulse, spike "
            f"{-res.onset_ms:.2f} ms after its onset, {res.n_spikes} spike(s)"
        )
        extra = {
            "ap": {
                "pulse_nA": res.pulse_nA,
                "onset_ms": res.onset_ms,
                "n_spikes": res.n_spikes,
                "v_soma_mV": res.v_soma,
            }
        }
        return KernelResult(
            AP_TASK, Y, res.kernels, {"total": total, "simulate": total}, res.n_seg, extra
        )
