"""A user's active NEURON model made linear for the kernels: passive, frozen, quasi-active.

The kernels of Hagen et al. (2022, PLOS Comput Biol 18(8): e1010353) need a linear
cell. From a user's model (:func:`lfpk_hpc.cells.build_user_cell`) one is made in
NEURON, per segment, as follows (``CellModel.linearisation``).

**The operating point.** The model is brought to rest: either its own resting state,
found by simulating it without input (fixed steps of :data:`REST_DT` ms, at most
``CellModel.rest_time`` ms, until no state changes faster than :data:`REST_TOL`), or
held at the potential ``v_hold``: every segment clamped at v_hold (a voltage clamp of
resistance :data:`HOLD_RS` MΩ per segment) until the gates and concentrations settle
there; the constant current that holds it is then part of the resting state (the cell
rests at v_hold everywhere). The potentials of the segments there, v*(seg), are the
per-segment resting potentials (``KernelSettings.Vrest[Y] = "cell"``) and the
potential around which the kernels are linear.

**The linearisation** is read from NEURON's own right-hand side f(y) of the model's
equations dy/dt = f(y) (``CVode.f``; y: the membrane potential of every segment and
every state of every mechanism), differentiated numerically at the operating point
y* by central differences (v ± :data:`DV` mV, states ± :data:`DX` × their scale).
Shifting v of *every* segment by the same amount leaves the axial currents unchanged,
so that one difference gives, per segment, the derivative of the membrane current at
fixed states; shifting one kind of state (say m of the sodium channel) in every
segment gives each segment's derivative with respect to its own state. With
cm(seg) in µF/cm² and dv/dt in mV/ms, per segment:

- frozen conductance g(seg) = −cm · ∂(dv/dt)/∂v / 1000 (S/cm²): every membrane current
  linearised in v with all gates and concentrations held at their resting values
  (for ohmic channels exactly Σ_k ḡ_k x_k*; for a GHK current its slope);
- reversal e(seg) (mV), chosen so that the linear cell rests at v*(seg): with the
  net axial current I_ax(seg) of the linear cell at v* (mA/cm², computed by NEURON
  from the potentials), e = v* + I_ax / g; at a uniform rest (held) e = v_hold;
- quasi-active gates (``"quasi-active"`` only): for every kind of state x whose rate
  depends on v and on x alone (a first-order gate, dx/dt = (x∞(v) − x)/τ(v)):
  τ = −1/(∂f_x/∂x), b = τ·∂f_x/∂v = dx∞/dv and a = −cm·∂(dv/dt)/∂x / 1000 = ∂I/∂x
  (mA/cm²) at rest. A deviation w = a·δx of the current then follows
  τ dw/dt = a·b·(v − v*) − w, and the cell's current is
  i = g·(v − e) + Σ_gates w (mod/lfpk_gates.mod: c = a·b in S/cm², τ in ms).

So the frozen cell has one leak per segment (``pas`` with g and e), the quasi-active
cell that leak plus the gates; ``"passive"`` keeps only the model's own ``pas``
(removing every other density mechanism; with ``v_hold`` its reversal becomes
v_hold). States that are not first-order voltage gates — concentrations, gates that
depend on a concentration (calcium-activated channels), states of kinetic schemes
coupled to each other — are held at rest (frozen) in the quasi-active cell; their
names are recorded. Limits: the model must come to rest (a model that fires or
oscillates by itself needs ``v_hold``); rate functions tabulated by NMODL's TABLE are
differentiated as the tables interpolate them (``usetable_<mechanism> = 0`` gives
the functions themselves); point processes, the extracellular mechanism and
LinearMechanisms are refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .params import CellModel, ParamsError

__all__ = ["DV", "DX", "REST_DT", "REST_TOL", "Linearisation", "linear_cell", "solve_rest"]

#: fixed time step (ms) of the simulation that brings a model to rest (stable here:
#: NEURON's implicit step and the exponential update of cnexp gates)
REST_DT = 0.5
#: the model is at rest when no membrane potential changes faster than this (mV/ms)
REST_TOL = 1e-9
#: the long implicit steps that find the rest first: their lengths (ms), tried in turn
#: (a step that sets slow gates to their steady state at once can overshoot: the
#: iteration then alternates, and a shorter step, which moves them part of the way,
#: converges), and most steps of each
LONG_DTS = (50.0, 10.0, 1e3)
LONG_DT = LONG_DTS[0]
LONG_STEPS = 300
#: the rest the long steps find must be stable: every potential moved by CHECK_MV mV
#: must be back within half of that after CHECK_MS ms
CHECK_MV = 0.1
CHECK_MS = 50.0
#: resistance (MΩ) of the clamp that holds each segment at v_hold
HOLD_RS = 1e-6
#: step of the central differences: membrane potential (mV) and states (× scale)
DV = 1e-3
#: step of a gate or concentration state in the numerical derivatives (dimensionless)
DX = 1e-6
#: most quasi-active gates per segment (mod/lfpk_gates.mod)
MAX_GATES = 16


@dataclass
class Linearisation:
    """How a user's model became its linear cell (recorded in the kernels file).

    Parameters
    ----------
    kind : str
        The linearisation, one of :data:`lfpk_hpc.params.LINEARISATIONS`.
    v_rest : numpy.ndarray
        The operating point: the potential of every segment at rest (mV), in LFPy's
        segment order.
    g : numpy.ndarray
        The linear cell's leak conductance per segment (S/cm²).
    e : numpy.ndarray
        The linear cell's leak reversal potential per segment (mV).
    e_leak : numpy.ndarray
        Reversal potential per segment of the effective synaptic leak added with
        g_eff (mV; NaN: the segment's linear reversal).
    gates : dict, optional
        Quasi-active gates: name → (c in S/cm², tau in ms) per segment.
    frozen_states : list of str, optional
        Kinds of state held at their resting values.
    mechanisms : list of str, optional
        The model's density mechanisms that the linear leak replaced.
    rest : str, optional
        How the operating point was found.
    residual : float, optional
        The largest |dv/dt| left at the operating point (mV/ms).
    seconds : float, optional
        Wall time of the linearisation, in seconds.
    """

    kind: str
    #: operating point: the potential of every segment at rest (mV), LFPy segment order
    v_rest: np.ndarray
    #: the linear cell's leak per segment: conductance (S/cm²) and reversal (mV)
    g: np.ndarray
    e: np.ndarray
    #: the reversal (mV) per segment of the effective synaptic leak added with g_eff:
    #: the model's own pas reversal (LFPykernels adds it to g_pas; NaN without pas:
    #: the segment's linear reversal), or v_hold for a cell held there
    e_leak: np.ndarray
    #: quasi-active gates: name -> (c (S/cm²), tau (ms)) per segment (zero c: none)
    gates: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: kinds of state held at their resting values (quasi-active), or all (frozen)
    frozen_states: list[str] = field(default_factory=list)
    #: the density mechanisms of the model that the linear leak replaced
    mechanisms: list[str] = field(default_factory=list)
    #: how the operating point was found, and the largest |dv/dt| (mV/ms) left there
    rest: str = ""
    residual: float = 0.0
    seconds: float = 0.0


# --------------------------------------------------------------------------- CVode's f


#: the marks of _States: far from any membrane potential or state
_CODE = 1.0e7


class _States:
    """The state vector of NEURON's CVode: which segment and which variable each
    state is. Read by marking: every segment's v, then every state variable of every
    mechanism (``MechanismStandard(name, 3)``), is set to a code (:data:`_CODE` + the
    segment's index) and found in ``CVode.states`` (``CVode.statename`` costs time in
    proportion to the states per call: minutes for a 900-segment cell). The states are
    restored afterwards."""

    def __init__(self, h, sections):
        self.h = h
        self.cvode = h.CVode()
        self.cvode.active(1)
        segs = [seg for sec in sections for seg in sec]
        self.n_seg = len(segs)
        y0 = self.y()
        n = y0.size
        self.var = np.array([""] * n, dtype=object)
        self.seg = np.full(n, -1, dtype=int)
        kinds = [("v", list(enumerate(segs)))]
        first = np.cumsum([0] + [sec.nseg for sec in sections])
        for mech in _density_mechanisms(sections):
            ms = h.MechanismStandard(mech, 3)
            name = h.ref("")
            for k in range(int(ms.count())):
                ms.name(name, k)
                var = name[0]
                members = []
                for j, sec in enumerate(sections):
                    if hasattr(sec(0.5), var):
                        members += [(i, segs[i]) for i in range(first[j], first[j + 1])]
                kinds.append((var, members))
        try:
            for var, members in kinds:
                saved = [getattr(seg, var) for _, seg in members]
                for i, seg in members:
                    setattr(seg, var, _CODE + i)
                y = self.y()
                for (_, seg), value in zip(members, saved, strict=True):
                    setattr(seg, var, value)
                hit = np.flatnonzero((y >= _CODE) & (y < _CODE + self.n_seg) & (y == np.round(y)))
                self.var[hit] = var
                self.seg[hit] = (y[hit] - _CODE).astype(int)
        finally:
            self.restore(y0)
        if np.any(self.seg < 0):
            i = int(np.flatnonzero(self.seg < 0)[0])
            label = h.ref("")
            self.cvode.statename(i, label, 0)
            raise ParamsError(
                f"state {label[0]!r} of the model belongs to no segment of the cell "
                "(a point process, a LinearMechanism or an extracellular node?)"
            )
        self.var = self.var.astype(str)
        self.is_v = self.var == "v"
        if self.is_v.sum() != self.n_seg:
            raise ParamsError(
                f"the model's equations have {self.is_v.sum()} membrane potentials for "
                f"{self.n_seg} segments (the extracellular mechanism is not supported)"
            )
        self.v_index = np.zeros(self.n_seg, dtype=int)
        self.v_index[self.seg[self.is_v]] = np.flatnonzero(self.is_v)
        self.kinds = sorted(set(self.var[~self.is_v]))

    def y(self) -> np.ndarray:
        """The model's states now (``CVode.ygather``; ``CVode.states`` is the
        integrator's own copy, which changes of the variables do not reach)."""
        y = self.h.Vector()
        self.cvode.ygather(y)
        return np.array(y)

    def f(self, y: np.ndarray) -> np.ndarray:
        out = self.h.Vector()
        self.cvode.f(self.h.t, self.h.Vector(y), out)
        return np.array(out)

    def restore(self, y: np.ndarray) -> None:
        self.cvode.yscatter(self.h.Vector(y))
        self.cvode.re_init()

    def residual(self, y=None) -> float:
        """Largest |dv/dt| (mV/ms) over the segments."""
        y = self.y() if y is None else y
        return float(np.abs(self.f(y)[self.is_v]).max())


# --------------------------------------------------------------------------- the operating point


def _density_mechanisms(sections) -> list[str]:
    """The density mechanisms (not ions) of the sections (NEURON inserts a density
    mechanism into every segment of a section)."""
    names = set()
    for sec in sections:
        names.update(m.name() for m in sec(0.5) if not m.is_ion())
    return sorted(names)


def _advance(h, n: int) -> None:
    from .cells import ADVANCE_PROC, define_run_procs

    define_run_procs(h)
    getattr(h, ADVANCE_PROC)(n)


def _bring_to_rest(h, sections, cell_model: CellModel, param: str, log) -> str:
    """Bring the model to its own rest (module docstring). First by long implicit steps
    (:data:`LONG_DTS` ms, in turn: NEURON's step solves the potentials implicitly and
    moves every cnexp gate toward its steady state at them, so that the iteration's
    fixed point is the resting state), accepted when it converged, NEURON's equations
    agree (residual) and it is stable (:func:`_stable`); else by simulating with
    :data:`REST_DT` for up to rest_time ms. Rest: no potential changes by more than
    :data:`REST_TOL` mV/ms."""
    cvode = h.CVode()
    cvode.active(0)
    start = _start_potential(sections)
    for long_dt in LONG_DTS:
        h.finitialize(start)
        h.dt = long_dt
        last = _potentials(sections)
        for i in range(LONG_STEPS):
            h.fadvance()
            now = _potentials(sections)
            change = float(np.abs(now - last).max())
            last = now
            if not np.isfinite(change):
                break
            if change < REST_TOL * REST_DT:
                res = _States(h, sections).residual()
                h.CVode().active(0)
                if res < REST_TOL and _stable(h, sections, now, long_dt):
                    return f"its own rest, by {i + 1} implicit steps of {long_dt:g} ms"
                break
    h.finitialize(start)
    h.dt = REST_DT
    chunk = int(round(50.0 / REST_DT))
    t, rate = 0.0, np.inf
    last = _potentials(sections)
    while t < cell_model.rest_time:
        _advance(h, chunk)
        t += chunk * REST_DT
        now = _potentials(sections)
        rate = float(np.abs(now - last).max()) / (chunk * REST_DT)
        last = now
        if rate < REST_TOL:
            break
    if not rate < REST_TOL:
        raise ParamsError(
            f"{param}.rest_time = {cell_model.rest_time:g} is invalid: the model does not come "
            f"to rest within it (its membrane potential still changes by {rate:.3g} mV/ms; a "
            f"model that fires or oscillates by itself needs {param}.v_hold, a potential to "
            "hold it at)"
        )
    return f"its own rest, reached after {t:g} ms without input"


def _stable(h, sections, v_rest: np.ndarray, dt: float) -> bool:
    """Whether the resting state the long steps found is stable: every potential moved
    by :data:`CHECK_MV` mV returns toward it within :data:`CHECK_MS` ms (an unstable
    equilibrium of a model that fires by itself does not). The state is restored."""
    saved = h.SaveState()
    saved.save()
    for sec in sections:
        for seg in sec.allseg():
            seg.v = seg.v + CHECK_MV
    h.dt = REST_DT
    _advance(h, int(round(CHECK_MS / REST_DT)))
    deviation = float(np.abs(_potentials(sections) - v_rest).max())
    saved.restore()
    h.dt = dt
    return deviation < 0.5 * CHECK_MV


def _potentials(sections) -> np.ndarray:
    return np.array([seg.v for sec in sections for seg in sec])


def _start_potential(sections) -> float:
    """Where a simulation to rest starts: the mean leak reversal of the model (mV)."""
    values = [seg.pas.e for sec in sections for seg in sec if hasattr(seg, "pas")]
    return float(np.mean(values)) if values else -65.0


def _hold(h, sections, cell_model: CellModel, param: str) -> str:
    """Clamp every segment at v_hold until the states settle (module docstring)."""
    v = float(cell_model.v_hold)
    clamps = []
    for sec in sections:
        for seg in sec:
            c = h.SEClamp(seg)
            c.dur1, c.amp1, c.rs = 1e9, v, HOLD_RS
            clamps.append(c)
    cvode = h.CVode()
    h.finitialize(v)
    states = _States(h, sections)  # the clamps' currents are no states
    cvode.active(0)

    def settle(dt: float, steps: int, checks: int, tol: float) -> bool:
        h.dt = dt
        cvode.active(1)
        previous = states.y()
        cvode.active(0)
        for _ in range(checks):
            _advance(h, steps)
            cvode.active(1)
            y = states.y()
            cvode.active(0)
            change = float((np.abs(y - previous) / np.maximum(np.abs(y), 1e-3)).max())
            previous = y
            if not np.isfinite(change):
                return False
            if change < tol:
                return True
        return False

    # as in _bring_to_rest: long implicit steps first, then steps of REST_DT
    done = settle(LONG_DT, 1, LONG_STEPS, REST_TOL * REST_DT)
    if not done:
        h.finitialize(v)
        chunk = int(round(50.0 / REST_DT))
        checks = int(cell_model.rest_time / (chunk * REST_DT)) + 1
        done = settle(REST_DT, chunk, checks, REST_TOL * chunk * REST_DT)
    if not done:
        raise ParamsError(
            f"{param}.rest_time = {cell_model.rest_time:g} is invalid: the model's states do not "
            f"settle within it when it is held at v_hold = {v:g} mV"
        )
    clamps.clear()  # removes the clamps
    for sec in sections:
        for seg in sec.allseg():
            seg.v = v
    return f"held at {v:g} mV"


# --------------------------------------------------------------------------- the linearisation


def _derivatives(states: _States, y0: np.ndarray, cm: np.ndarray) -> dict:
    """The numerical derivatives of the module docstring at ``y0``."""
    out = {}
    dv = np.zeros_like(y0)
    dv[states.is_v] = DV
    jv = (states.f(y0 + dv) - states.f(y0 - dv)) / (2 * DV)
    out["g"] = -cm * jv[states.v_index] / 1000.0  # S/cm²
    out["dfdv"] = jv  # per state: ∂f_state/∂v of its own segment
    out["kinds"] = {}
    for kind in states.kinds:
        sel = states.var == kind
        scale = max(float(np.abs(y0[sel]).max()), 1e-3)
        d = np.zeros_like(y0)
        d[sel] = DX * scale
        j = (states.f(y0 + d) - states.f(y0 - d)) / (2 * DX * scale)
        a = -cm * j[states.v_index] / 1000.0  # per segment: mA/cm² per unit of the state
        out["kinds"][kind] = (sel, j, a)
    states.restore(y0)
    return out


def _gates(states: _States, d: dict) -> tuple[dict, list[str]]:
    """The quasi-active gates: kinds of state that are first-order voltage gates."""
    n = states.n_seg
    gates, frozen = {}, []
    jv = d["dfdv"]
    for kind, (sel, j, a) in d["kinds"].items():
        # its rate depends on itself and v only, and no other state's rate on it
        own = j[sel]
        others = j.copy()
        others[sel] = 0.0
        others[states.is_v] = 0.0
        coupled = np.abs(others).max() > 1e-9 * max(np.abs(own).max(), 1e-30)
        # nor does its rate depend on another kind of state
        for other, (_, j_o, _) in d["kinds"].items():
            if other != kind and np.abs(j_o[sel]).max() > 1e-9 * max(np.abs(own).max(), 1e-30):
                coupled = True
        dfdv = jv[sel]
        if coupled or not np.all(own < 0) or not np.any(dfdv != 0):
            frozen.append(kind)
            continue
        tau = np.zeros(n)
        c = np.zeros(n)
        segs = states.seg[sel]
        tau[segs] = -1.0 / own
        b = tau[segs] * dfdv
        c[segs] = a[segs] * b  # S/cm²
        gates[kind] = (c, tau)
    return gates, frozen


def _pack_gates(gates: dict, n_seg: int, param: str):
    """Per segment the gates with c != 0, packed into the slots of lfpk_gates."""
    slots_c = np.zeros((MAX_GATES, n_seg))
    slots_tau = np.ones((MAX_GATES, n_seg))
    count = np.zeros(n_seg, dtype=int)
    for c, tau in gates.values():
        for i in np.flatnonzero(c != 0):
            k = count[i]
            if k >= MAX_GATES:
                raise ParamsError(
                    f"{param}.linearisation = 'quasi-active' is invalid for this model: a segment "
                    f"has more than {MAX_GATES} voltage-dependent gates (mod/lfpk_gates.mod)"
                )
            slots_c[k, i], slots_tau[k, i] = c[i], tau[i]
            count[i] += 1
    return slots_c, slots_tau, int(count.max(initial=0))


def solve_rest(h, sections, max_iter: int = 200) -> np.ndarray:
    """The exact resting state of a linear cell (leaks, lfpk_gates, no input): backward
    Euler steps of 1e9 ms (the tree solve of NEURON is then the steady-state solve),
    repeated until the gates' states agree with the potentials. Returns v of every
    segment (mV); the cell is left in that state.

    Parameters
    ----------
    h : neuron.hoc.HocObject
        NEURON's ``h``.
    sections : list of nrn.Section
        The cell's sections.
    max_iter : int, optional
        Most backward Euler steps (a count).

    Returns
    -------
    numpy.ndarray
        The potential of every segment (mV).

    Raises
    ------
    ParamsError
        The cell has no stable resting state.
    """
    cvode = h.CVode()
    cvode.active(0)
    dt = h.dt
    h.dt = 1e9
    try:
        last = None
        for _ in range(max_iter):
            h.fadvance()
            v = np.array([seg.v for sec in sections for seg in sec])
            if last is not None and np.abs(v - last).max() <= 1e-12 * max(1.0, np.abs(v).max()):
                break
            last = v
        else:  # pragma: no cover - a quasi-active loop gain beyond 1
            raise ParamsError("the linearised cell has no stable resting state")
    finally:
        h.dt = dt
    h.t = 0.0
    return v


def linear_cell(
    cell_model: CellModel,
    *,
    param: str,
    morphology_path,
    template_path,
    z: float,
    dt: float,
    log=None,
):
    """Build the user's model of ``cell_model`` and make it linear as
    ``cell_model.linearisation`` says (module docstring). Returns the reusable
    :class:`lfpk_hpc.cells.PassiveCell` (at rest at the start of every simulation,
    with one potential per node) and its :class:`Linearisation`.

    Parameters
    ----------
    cell_model : CellModel
        The user's model.
    param : str
        What messages call the cell (e.g. ``populations[L5E].cell``).
    morphology_path : pathlib.Path or None
        Its morphology file, if any.
    template_path : pathlib.Path or None
        Its hoc template file, if any.
    z : float
        Depth of the soma (µm).
    dt : float
        Time step (ms).
    log : callable, optional
        Receives the progress messages.

    Returns
    -------
    cell : PassiveCell
        The linear cell, reusable.
    linearisation : Linearisation
        How it was made.

    Raises
    ------
    ParamsError
        The model cannot be brought to rest or made linear.
    """
    from neuron import h

    from . import cells

    log = log or (lambda *a, **k: None)
    t0 = time.perf_counter()
    lfpy_cell = cells.build_user_cell(
        cell_model,
        param=param,
        morphology_path=morphology_path,
        template_path=template_path,
        z=z,
        dt=dt,
    )
    sections = list(lfpy_cell.allseclist)
    segs = [seg for sec in sections for seg in sec]
    n = len(segs)
    mechanisms = [m for m in _density_mechanisms(sections) if m != "pas"]
    # the reversal of the effective synaptic leak g_eff adds: the model's own leak's
    # (LFPykernels adds it to g_pas), or v_hold for a cell held there (so that it stays)
    if cell_model.v_hold is not None:
        e_leak = np.full(len(segs), float(cell_model.v_hold))
    else:
        e_leak = np.array([seg.pas.e if hasattr(seg, "pas") else np.nan for seg in segs])
    kind = cell_model.linearisation
    gates, frozen = {}, []
    if kind == "passive":
        missing = sorted({sec.name() for sec in sections for seg in sec if not hasattr(seg, "pas")})
        if missing:
            raise ParamsError(
                f"{param}.linearisation = 'passive' is invalid for this model: it keeps the "
                f"model's own leak (pas), and these sections have none: {', '.join(missing)}"
            )
        for sec in sections:
            for name in mechanisms:
                if h.ismembrane(name, sec=sec):
                    sec.uninsert(name)
        g = np.array([seg.pas.g for seg in segs])
        if cell_model.v_hold is not None:
            for seg in segs:
                seg.pas.e = float(cell_model.v_hold)
        rest = "the model's own leak" + (
            f", its reversal set to v_hold = {cell_model.v_hold:g} mV"
            if cell_model.v_hold is not None
            else ""
        )
        residual = 0.0
        e = np.array([seg.pas.e for seg in segs])
        h.finitialize(float(np.mean(e)))
    else:
        if cell_model.v_hold is None:
            rest = _bring_to_rest(h, sections, cell_model, param, log)
        else:
            rest = _hold(h, sections, cell_model, param)
        states = _States(h, sections)
        y0 = states.y()
        residual = states.residual(y0)
        cm = np.array([seg.cm for seg in segs])
        d = _derivatives(states, y0, cm)
        g = d["g"]
        if not np.all(g > 0):
            bad = int(np.flatnonzero(~(g > 0))[0])
            raise ParamsError(
                f"{param}.linearisation = {kind!r} is invalid for this model: the membrane's "
                f"conductance at rest is {g[bad]:.3g} S/cm² in segment {bad} "
                f"({segs[bad].sec.name()}({segs[bad].x:.3g})); the linear cell needs a positive one"
            )
        if kind == "quasi-active":
            gates, frozen = _gates(states, d)
        else:
            frozen = list(states.kinds)
        v_star = y0[states.v_index]
        h.CVode().active(0)
        # replace every mechanism by the leak (g, e = v* for now)
        for sec in sections:
            for name in mechanisms:
                if h.ismembrane(name, sec=sec):
                    sec.uninsert(name)
            if not h.ismembrane("pas", sec=sec):
                sec.insert("pas")
        for seg, gi, vi in zip(segs, g, v_star, strict=True):
            seg.pas.g, seg.pas.e = float(gi), float(vi)
        # the net axial current at v* (the membrane's current is zero there now)
        states = _States(h, sections)
        y = states.y()
        y[states.v_index] = v_star
        i_ax = -cm * states.f(y)[states.v_index] / 1000.0  # mA/cm²
        e = v_star + i_ax / g
        for seg, ei in zip(segs, e, strict=True):
            seg.pas.e = float(ei)
        h.CVode().active(0)
        if gates:
            slots_c, slots_tau, used = _pack_gates(gates, n, param)
            for sec in sections:
                sec.insert("lfpk_gates")
            for i, (seg, vi) in enumerate(zip(segs, v_star, strict=True)):
                mech = seg.lfpk_gates
                mech.vstar = float(vi)
                for k in range(used):
                    setattr(mech, f"c{k + 1}", float(slots_c[k, i]))
                    setattr(mech, f"tau{k + 1}", float(slots_tau[k, i]))
        # start the steady-state solve from v*
        for seg, vi in zip(segs, v_star, strict=True):
            seg.v = float(vi)
    v_rest = solve_rest(h, sections)
    if kind != "frozen" and kind != "quasi-active" or cell_model.v_hold is not None:
        residual = 0.0  # held (or passive): the rest is the linear cell's own, exactly
    info = Linearisation(
        kind=kind,
        v_rest=v_rest,
        g=np.asarray(g, dtype=float),
        e=np.asarray(e, dtype=float),
        e_leak=e_leak,
        gates=gates,
        frozen_states=frozen,
        mechanisms=mechanisms,
        rest=rest,
        residual=float(residual),
    )
    cell = cells.make_passive_cell(lfpy_cell, sections)
    info.seconds = time.perf_counter() - t0
    log(
        f"cell {param}: {kind} linearisation of {n} segments ({', '.join(mechanisms) or 'pas'}; "
        f"{rest}; {len(gates)} quasi-active gate kinds) in {info.seconds:.2f} s"
    )
    return cell, info
