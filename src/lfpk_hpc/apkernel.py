"""Action-potential kernels: the extracellular signature of one spike of a cell.

The synaptic kernels H_YX carry the currents that X's spikes cause in Y's cells; the
currents of Y's own action potentials are not in them. For a population whose cell
model fires (a user's model, or ``CellModel.ap_model``), H^AP_Y is the signal of
one action potential of one cell, per probe, with lag 0 at the spike (the soma's
midpoint crossing :data:`THRESHOLD` mV upwards, as the ground truths detect spikes),
so that ``predict`` adds ν_Y ∗ H^AP_Y with ν_Y the spike counts of Y itself.

How (the route of ``validate``'s diagnosis since issue 12, now a task of the engine):

1. The full active model is built (:func:`lfpk_hpc.cells.build_user_cell`); with
   ``g_eff``, the effective leak of the synapses (the same shift as the kernel cell's)
   is added to every segment's ``pas`` (inserted with that conductance where the
   model has none, reversal = the operating point's potential).
2. It is brought to its operating point as its linearisation is
   (:mod:`lfpk_hpc.linearise`): its own rest, or held at ``v_hold`` — there by a
   constant current per segment equal to minus the membrane current at v_hold, so
   that the cell rests at v_hold everywhere. The whole state (potentials, gates,
   concentrations) is saved there and every run below starts from it.
3. A somatic current pulse of :data:`PULSE_MS` ms starting :data:`T_ON` ms into the
   run, at twice the smallest amplitude (doubling from 0.05 nA, up to 51.2 nA) that
   makes the cell fire, gives the currents I_A (a prompt spike); the same pulse at
   5 % of it (no spike) gives I_B, and a run without pulse I_0. What remains of
   (I_A − I_0) − (I_B − I_0)/0.05, the linear response to the pulse taken out, is
   the spike's own currents; the probes' matrices (those of the kernels: the
   Gauss cylinder sees the cell anywhere in its population's disc) turn them into
   signals, windowed to lags −tau … tau around the spike.

The kernel is exactly zero before the pulse starts (I_A, I_B and I_0 are the same
simulation until then), which lies ``onset`` ms before the spike (recorded).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .params import ParamsError

__all__ = ["PULSE_MS", "THRESHOLD", "T_ON", "APResult", "ap_kernel"]

#: spike detection threshold at the soma (mV), as the ground truths detect spikes
THRESHOLD = -10.0
#: the current pulse: its start in the run (ms) and duration (ms)
T_ON = 5.0
#: duration of the current pulse (ms)
PULSE_MS = 0.5
#: first pulse amplitude (nA), largest tried, and the sub-threshold fraction
FIRST_NA = 0.05
LARGEST_NA = 50.0
RHO = 0.05


@dataclass
class APResult:
    """One action-potential kernel: per probe name (channels, 2·n_tau + 1).

    Parameters
    ----------
    kernels : dict of str to numpy.ndarray
        Probe name → kernel, shape (channels, 2·n_tau + 1), in the probe's units
        per spike (e.g. mV for an LFP, nA·µm for a dipole moment).
    pulse_nA : float
        Amplitude of the current pulse that made the spike (nA).
    onset_ms : float
        Start of the pulse relative to the spike (ms, < 0).
    n_spikes : int
        Spikes the pulse caused (a count).
    v_soma : float
        The soma's potential at the operating point (mV).
    seconds : float
        Wall time of the computation, in seconds.
    n_seg : int
        Segments of the cell (a count).
    """

    kernels: dict[str, np.ndarray]
    pulse_nA: float
    onset_ms: float  # the pulse's start relative to the spike (ms, < 0)
    n_spikes: int
    v_soma: float  # the soma's potential at the operating point (mV)
    seconds: float
    n_seg: int


def _soma(sections):
    somas = [sec for sec in sections if "soma" in sec.name()]
    return somas[0] if somas else None


def ap_kernel(
    spike_model,
    *,
    param: str,
    morphology_path,
    template_path,
    z: float,
    dt: float,
    tau: float,
    leak_shift,
    matrix_of,
    probes,
    log=None,
) -> APResult:
    """The action-potential kernel of ``spike_model`` (module docstring).

    ``leak_shift(geometry)``: the g_eff conductance (S/cm²) per segment, or None;
    ``matrix_of(geometry)``: every probe's transformation matrix stacked (rows,
    segments); ``probes``: the probes in that order (name, n_channels).

    Parameters
    ----------
    spike_model : CellModel
        The firing cell model (a user's model or ``CellModel.ap_model``).
    param : str
        What messages call the cell (e.g. ``populations[L5E].cell``).
    morphology_path : pathlib.Path or None
        Its morphology file; None: generated sections or the template's own.
    template_path : pathlib.Path or None
        Its hoc template file, if any.
    z : float
        Depth of the soma (µm).
    dt : float
        Time step (ms).
    tau : float
        Half-width of the kernel's window of lags (ms).
    leak_shift : callable
        ``leak_shift(geometry)``: the synapses' effective leak g_eff per segment
        (S/cm²), or None.
    matrix_of : callable
        ``matrix_of(geometry)``: every probe's transformation matrix stacked, shape
        (rows, segments).
    probes : sequence of tuple
        The probes in the order of those rows: (name, n_channels).
    log : callable, optional
        Receives the progress messages.

    Returns
    -------
    APResult
        The kernels and what made them.

    Raises
    ------
    ParamsError
        The cell has no soma, does not fire at up to 51.2 nA, or fires at the
        sub-threshold reference amplitude.
    """
    from neuron import h

    from . import cells, linearise

    log = log or (lambda *a, **k: None)
    t0 = time.perf_counter()
    celsius = h.celsius
    lfpy_cell = cells.build_user_cell(
        spike_model,
        param=param,
        morphology_path=morphology_path,
        template_path=template_path,
        z=z,
        dt=dt,
    )
    try:
        sections = list(lfpy_cell.allseclist)
        segs = [seg for sec in sections for seg in sec]
        soma = _soma(sections)
        if soma is None:
            raise ParamsError(
                f"{param} is invalid for an action-potential kernel: the cell has no section "
                "whose name contains 'soma' (where spikes are detected)"
            )
        geometry = cells.segment_geometry(lfpy_cell)
        shift = leak_shift(geometry)
        v_hold = spike_model.v_hold
        if shift is not None:
            e_new = v_hold if v_hold is not None else linearise._start_potential(sections)
            for sec in sections:
                if not h.ismembrane("pas", sec=sec):
                    sec.insert("pas")
                    for seg in sec:
                        seg.pas.g, seg.pas.e = 0.0, e_new
            for seg, dg in zip(segs, shift, strict=True):
                seg.pas.g = seg.pas.g + float(dg)
        for sec in sections:
            sec.insert("lfpk_drive")
        # the operating point
        if v_hold is None:
            linearise._bring_to_rest(h, sections, spike_model, param, log)
            hold = np.zeros(len(segs))
        else:
            linearise._hold(h, sections, spike_model, param)
            states = linearise._States(h, sections)
            y = states.y()
            cm = np.array([seg.cm for seg in segs])
            # the current (mA/cm²) that cancels the membrane's at v_hold everywhere
            hold = cm * states.f(y)[states.v_index] / 1000.0
            h.CVode().active(0)
        for seg, amp in zip(segs, hold, strict=True):
            seg.amp_lfpk_drive = float(amp)
        h.s_lfpk_drive = 1.0
        h.dt = dt
        h.CVode().active(0)
        h.fcurrent()
        saved = h.SaveState()
        saved.save()
        v_soma = soma(0.5).v
        M = matrix_of(geometry)
        n_tau = int(round(tau / dt))
        n_steps = int(round((T_ON + 1.5 * tau) / dt))
        stim = h.IClamp(soma(0.5))
        stim.delay, stim.dur = T_ON, PULSE_MS
        v_rec = h.Vector()
        v_rec.record(soma(0.5)._ref_v)  # every step (a Dt would need the event queue)
        run = _Runner(h, segs, saved, stim, v_rec, n_steps, dt, M)
        amp = FIRST_NA
        while True:
            sig_a, k_spike, n_spikes = run(amp)
            if k_spike is not None or amp > LARGEST_NA:
                break
            amp *= 2
        if k_spike is None:
            raise ParamsError(
                f"{param} does not fire for somatic pulses of {PULSE_MS} ms up to {amp:g} nA: no "
                "action-potential kernel (set kernel.ap_kernels = False for a model that does "
                "not fire)"
            )
        amp *= 2  # a prompt spike, not the slow climb of a pulse near threshold
        sig_a, k_spike, n_spikes = run(amp)
        sig_b, k_b, _ = run(RHO * amp)
        if k_b is not None:  # pragma: no cover - 5 % of a threshold pulse
            raise ParamsError(f"{param} fires at {RHO * amp:g} nA: no linear reference run")
        sig_0, _, _ = run(0.0)
        ap = (sig_a - sig_0) - (sig_b - sig_0) / RHO
        # the runs are the same simulation until the pulse begins (the first sample,
        # gathered before the first step, holds the previous run's last currents)
        k_on = int(round(T_ON / dt))
        ap[:, :k_on] = 0.0
        H = np.zeros((M.shape[0], 2 * n_tau + 1))
        lo = max(0, k_spike - n_tau)
        hi = min(ap.shape[1], k_spike + n_tau + 1)
        H[:, n_tau - (k_spike - lo) : n_tau + (hi - k_spike)] = ap[:, lo:hi]
        kernels, row = {}, 0
        for name, n_ch in probes:
            kernels[name] = np.ascontiguousarray(H[row : row + n_ch])
            row += n_ch
        onset = (k_on - k_spike) * dt
        stim = v_rec = run = None
        return APResult(
            kernels,
            float(amp),
            float(onset),
            int(n_spikes),
            float(v_soma),
            time.perf_counter() - t0,
            len(segs),
        )
    finally:
        h.s_lfpk_drive = 0.0
        h.celsius = celsius
        lfpy_cell = None
        cells.delete_all_sections()


class _Runner:
    """One run with the pulse at ``amp`` nA from the saved operating point:
    (signals (rows, samples), sample of the first spike or None, spikes)."""

    def __init__(self, h, segs, saved, stim, v_rec, n_steps, dt, M):
        from .cells import RUN_PROC, define_run_procs

        define_run_procs(h)
        self.h, self.saved, self.stim, self.v_rec = h, saved, stim, v_rec
        self.n, self.dt, self.M, self.proc = n_steps + 1, dt, M, RUN_PROC
        h.CVode().use_fast_imem(1)
        self.ptr = h.PtrVector(len(segs))
        for i, seg in enumerate(segs):
            self.ptr.pset(i, seg._ref_i_membrane_)
        self.buffer = h.Vector(len(segs))
        self.record = h.Vector()
        self.n_seg = len(segs)

    def __call__(self, amp: float):
        h = self.h
        self.stim.amp = amp
        h.dt = self.dt
        cvode = h.CVode()
        cvode.use_fast_imem(1)
        h.finitialize()
        self.saved.restore()
        h.t = 0.0
        h.fcurrent()
        self.record.resize(self.n_seg * self.n)
        getattr(h, self.proc)(self.ptr, self.buffer, self.record, self.n, self.n_seg, 0)
        imem = self.record.as_numpy().reshape(self.n, self.n_seg).T
        sig = self.M @ imem
        v = np.array(self.v_rec.as_numpy())[: self.n]
        up = np.flatnonzero((v[1:] >= THRESHOLD) & (v[:-1] < THRESHOLD))
        return sig, (int(up[0]) + 1 if up.size else None), int(up.size)
