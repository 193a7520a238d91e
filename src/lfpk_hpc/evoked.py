"""Evoked responses as HNN users make them: trials of the PD14 microcircuit driven by
timed volleys, their signals through the kernels, per trial and averaged.

    python -m lfpk_hpc evoked PARAMS --trials N --out DIR [--scale S] [--tstop T] ...
    mpirun -n 4 python -m lfpk_hpc evoked params/pd14_evoked.py --trials 10 --out evoked/

PARAMS is a PD14 model at full scale with evoked drives (:mod:`lfpk_hpc.drives`;
``pd14.build(drives=...)``, e.g. params/pd14_evoked.py). The run:

1. the kernels of the network at ``--scale`` (:func:`lfpk_hpc.drives.scale_model`:
   round(N·S) neurons with the same C, every drive with its own in-degrees) for every
   probe, once, into ``DIR/kernels.h5`` (the task farm of the kernels; a finished file
   of the same parameters is reused);
2. the trials (:mod:`lfpk_hpc.evokedtrials`), tasks of the same task farm over the MPI
   ranks: trial k is one NEST run of the PD14 point network at ``--scale``
   (:mod:`lfpk_hpc.nestsim`, one thread, so that NEST's random streams do not depend
   on the rank) with the drives' spikes of trial k (:func:`lfpk_hpc.drives.drive_times`,
   seeded by the seed and k); the network (connections, weights, delays, initial
   potentials) comes from ``--seed`` and is the same in every trial, the Poisson
   background from a seed of (seed, k) — HNN keeps its network and draws its drives
   anew per trial. ``--presim`` ms are simulated
   first; the spikes of the last ``min(presim, tau)`` ms before t = 0 are kept, so
   that the signals from t = 0 on hold every spike the kernels reach back to;
3. each trial's spikes (the drives' included) binned at the kernels' dt and convolved
   with the kernels (the convention of ``predict``): every probe's signal in total, per
   postsynaptic population and per layer (L2/3, L4, L5, L6: the populations whose
   somata lie there), and the part of each drive's own synaptic currents;
4. ``DIR/evoked.h5`` (rank 0, trials in order, so the same bits on any number of
   ranks) with every trial and the trial average; the dipole's z component also in
   nA·m, HNN's unit, raw and processed as HNN does (:func:`smooth`, :func:`scale`);
   then the figures (:mod:`lfpk_hpc.evokedplot`).

Every trial is checkpointed (``DIR/evoked.h5.parts/``); ``--resume`` continues after a
kill. Units: ms, nA·µm (dipole), nA·m (dipole in HNN's unit: 1 nA·m = 1e6 nA·µm), mV
(LFP, EEG), fT (MEG), µA/mm³ (CSD), spikes.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._moved import forward
from .errors import InputError
from .scheduler import run_farm

if TYPE_CHECKING:
    from .evokedtrials import KernelSet

__all__ = [
    "FORMAT",
    "LAYERS",
    "EvokedError",
    "add_arguments",
    "baseline",
    "layer_of",
    "lowest_frequency",
    "main",
    "morlet_power",
    "run_evoked",
    "scale",
    "smooth",
]

#: the ``format`` attribute of ``evoked.h5``
FORMAT = "lfpk_hpc.evoked/1"
#: the layers of the per-layer signals, and how figures name them
LAYERS = {"L23": "L2/3", "L4": "L4", "L5": "L5", "L6": "L6"}
#: nA·µm per nA·m
NAM = 1e6

#: the trials as tasks (one NEST run and its signals each) moved to
#: lfpk_hpc.evokedtrials (it imports this module); their names are still found here
__getattr__ = forward(
    __name__,
    dict.fromkeys(
        (
            "EvokedTrials",
            "KernelSet",
            "TrialResult",
            "bin_grid_spikes",
            "nest_drives",
            "run_trial",
        ),
        "evokedtrials",
    ),
)


class EvokedError(InputError):
    """Bad input to an evoked run (exit code 2)."""


# --------------------------------------------------------------------------- HNN's conventions


def smooth(x, window_ms: float, dt: float) -> np.ndarray:
    """HNN's dipole smoothing (``Dipole.smooth``, ``dipole_smooth_win``): the
    convolution, in numpy's 'same' mode, with a Hamming window of round(window_ms/dt)
    samples normalised to sum 1 (numpy.hamming); along the last axis. A window of 0 ms
    leaves ``x`` as it is.

    Parameters
    ----------
    x : array_like of float
        Signals (any units), time along the last axis.
    window_ms : float
        Length of the Hamming window (ms); 0: no smoothing.
    dt : float
        Sampling interval (ms).

    Returns
    -------
    numpy.ndarray
        The smoothed signals, in ``x``'s units.

    Raises
    ------
    EvokedError
        The window has fewer than 1 or more samples than ``x``.
    """
    x = np.asarray(x, dtype=float)
    if window_ms == 0:
        return x.copy()
    n = int(round(window_ms / dt))
    if n < 1 or n > x.shape[-1]:
        raise EvokedError(
            f"--smooth = {window_ms!r} is invalid: the window must have 1 to {x.shape[-1]} "
            f"samples of dt = {dt:g} ms"
        )
    w = np.hamming(n)
    w /= w.sum()
    flat = x.reshape(-1, x.shape[-1])
    out = np.array([np.convolve(row, w, "same") for row in flat])
    return out.reshape(x.shape)


def scale(x, factor: float) -> np.ndarray:
    """HNN's dipole scaling (``Dipole.scale``, ``dipole_scalefctr``): x × factor.

    Parameters
    ----------
    x : array_like of float
        Dipole moments (any units).
    factor : float
        The scale factor (dimensionless).

    Returns
    -------
    numpy.ndarray
        ``x × factor``, in ``x``'s units.
    """
    return np.asarray(x, dtype=float) * factor


def baseline(x, setup) -> np.ndarray:
    """``x`` (…, bins from t = 0) minus its mean over [0, setup.baseline_ms) along the
    last axis; unchanged for a baseline of 0 ms.

    Parameters
    ----------
    x : array_like of float
        Signals (any units), time along the last axis, its first bin at t = 0.
    setup : EvokedSetup
        The run, whose ``baseline_ms`` (ms) and ``dt`` (ms) are used.

    Returns
    -------
    numpy.ndarray
        ``x`` less its baseline, in ``x``'s units.
    """
    n = int(round(setup.baseline_ms / setup.dt))
    x = np.asarray(x, dtype=float)
    return x - x[..., :n].mean(axis=-1, keepdims=True) if n > 0 else x.copy()


def lowest_frequency(n: int, dt: float, n_cycles: float = 7.0, step: float = 2.0) -> float:
    """The lowest multiple of ``step`` Hz whose Morlet wavelet (|t| ≤ 5σ, σ =
    n_cycles/2πf) fits in a signal of ``n`` samples of ``dt`` ms padded to 3n − 2.

    Parameters
    ----------
    n : int
        Samples of the signal (a count).
    dt : float
        Sampling interval (ms).
    n_cycles : float, optional
        Cycles of the wavelet (dimensionless).
    step : float, optional
        Spacing of the frequencies tried (Hz).

    Returns
    -------
    float
        The lowest frequency (Hz).
    """
    sfreq = 1000.0 / dt
    f = step
    while 2 * int(np.ceil(5.0 * n_cycles / (2.0 * np.pi * f) * sfreq)) - 1 > 3 * n - 2:
        f += step
    return f


def morlet_power(x, dt: float, freqs, n_cycles: float = 7.0) -> np.ndarray:
    """Power (x's units²) of the 1-D signal ``x`` (sampled every ``dt`` ms) at ``freqs``
    (Hz) against time: |x ∗ w_f|² with complex Morlet wavelets
    w_f(t) = exp(2πi f t − t²/2σ²), σ = n_cycles/(2π f), over |t| ≤ 5σ, each scaled to
    an L2 norm of √0.5 (MNE's ``tfr_array_morlet``, which HNN's ``plot_tfr_morlet``
    calls with n_cycles 7), the signal padded with zeros on both sides as HNN pads it.
    Shape (freqs, samples). Equal to hnn-core's copy of MNE's ``tfr_array_morlet`` to
    1e-15 (benchmarks/evoked.py compares them when hnn-core is there). A wavelet longer
    than the padded signal is refused, as MNE refuses it (:func:`lowest_frequency`).

    Parameters
    ----------
    x : array_like of float
        The signal (any units), 1-D.
    dt : float
        Sampling interval (ms).
    freqs : array_like of float
        The frequencies (Hz).
    n_cycles : float, optional
        Cycles of each wavelet (dimensionless).

    Returns
    -------
    numpy.ndarray
        Power in x's units squared, shape (freqs, samples).

    Raises
    ------
    EvokedError
        A wavelet is longer than the padded signal.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    padded = np.r_[np.zeros(n - 1), x, np.zeros(n - 1)]
    sfreq = 1000.0 / dt
    out = np.empty((len(freqs), n))
    for i, f in enumerate(freqs):
        sigma = n_cycles / (2.0 * np.pi * f)  # s
        t = np.arange(0.0, 5.0 * sigma, 1.0 / sfreq)
        if 2 * t.size - 1 > padded.size:
            raise EvokedError(
                f"a Morlet wavelet of {n_cycles:g} cycles at {f:g} Hz is longer than the padded "
                f"signal ({n} samples of {dt:g} ms, padded to {padded.size}); the lowest "
                f"frequency is {lowest_frequency(n, dt, n_cycles):g} Hz (MNE refuses it too)"
            )
        t = np.r_[-t[::-1], t[1:]]
        w = np.exp(2j * np.pi * f * t) * np.exp(-(t**2) / (2.0 * sigma**2))
        w /= np.sqrt(0.5) * np.linalg.norm(w)
        full = np.convolve(padded, w, "same")
        out[i] = np.abs(full[n - 1 : 2 * n - 1]) ** 2
    return out


# --------------------------------------------------------------------------- the model


def layer_of(Y: str) -> str:
    """The layer (a key of :data:`LAYERS`) of a PD14 population's somata.

    Parameters
    ----------
    Y : str
        A PD14 population or cell type (e.g. ``L5E``).

    Returns
    -------
    str
        Its layer, a key of :data:`LAYERS`.
    """
    from . import pd14

    y = Y if Y in pd14.CELL_TYPES else pd14.REPRESENTATIVE[Y]
    return pd14.CELL_TYPES[y][1]


def check_model(model) -> None:
    """An evoked run needs a PD14 model of the 8 populations at full scale, with drives,
    without the thalamus, and a current dipole probe (EvokedError naming the problem)."""
    from . import pd14
    from .params import CurrentDipoleProbe

    drives = {d.name for d in model.drives}
    others = [p.name for p in model.populations if p.name not in drives]
    if others != list(pd14.POPULATIONS) or list(model.postsynaptic) != list(pd14.POPULATIONS):
        raise EvokedError(
            f"params {model.name!r} is not the 8-population PD14 model with drives: its "
            f"populations are {', '.join(others)} (need {', '.join(pd14.POPULATIONS)}; "
            "build it with pd14.build(drives=...), without thalamus or 16 cell types)"
        )
    small = [p.name for p in model.populations if p.name in pd14.N_FULL]
    if any(model.population(p).N != pd14.N_FULL[p] for p in small):
        raise EvokedError(
            f"params {model.name!r} is not at full scale (pd14.build(scale=...)): give the "
            "full-scale model and --scale"
        )
    if not model.drives:
        raise EvokedError(
            f"params {model.name!r} has no evoked drives: build it with "
            "pd14.build(drives=[EvokedDrive(...), ...])"
        )
    if not any(isinstance(p, CurrentDipoleProbe) for p in model.probes):
        raise EvokedError(f"params {model.name!r} has no CurrentDipoleProbe: add one")


@dataclass
class EvokedSetup:
    """Everything a trial needs, the same on every rank."""

    model: object  # the params' model (full scale)
    kmodel: object  # the kernels' model at the scale
    scale: float
    k_scale: float
    trials: int
    tstop: float
    presim: float
    pre: float  # ms of spikes kept before t = 0
    dt: float
    seed: int
    smooth_ms: float
    scale_factor: float
    baseline_ms: float
    kernels: Path
    net: dict = field(default_factory=dict)

    @property
    def n_bins(self) -> int:
        return int(round(self.tstop / self.dt))

    @property
    def n_pre(self) -> int:
        return int(round(self.pre / self.dt))

    def identity(self) -> dict:
        """What makes a run: its hash tells whether checkpoints can be resumed."""
        return {
            "format": FORMAT,
            "params_hash": self.model.hash(),
            "kernels_params_hash": self.kmodel.hash(),
            "trials": self.trials,
            "scale": self.scale,
            "k_scale": self.k_scale,
            "tstop": self.tstop,
            "presim": self.presim,
            "pre": self.pre,
            "dt": self.dt,
            "seed": self.seed,
            "smooth_ms": self.smooth_ms,
            "scale_factor": self.scale_factor,
            "baseline_ms": self.baseline_ms,
        }

    def run_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()

    def nest_seed(self, trial: int) -> int:
        """NEST's seed of trial ``trial`` (within [1, 2**32 − 1])."""
        state = np.random.SeedSequence([self.seed, trial, 0x4E455354]).generate_state(1)[0]
        return int(state) % (2**32 - 2) + 1


def _is_multiple(value: float, step: float) -> bool:
    n = round(value / step)
    return abs(value - n * step) <= 1e-9 * max(1.0, abs(value))


def prepare(
    model, *, trials, scale, k_scale, tstop, presim, seed, smooth_ms, scale_factor, baseline_ms, out
):
    """Check the arguments against each other and the model (EvokedError naming the
    first bad one) and return the run's :class:`EvokedSetup`."""
    from . import nestsim
    from .drives import scale_model
    from .params import ParamsError, validate

    check_model(model)
    try:
        nestsim.import_nest()
    except ImportError as exc:
        raise EvokedError(
            f"NEST is not installed ({exc}); install it with pip install 'lfpk_hpc[nest]' "
            "(or pip install nest-simulator)"
        ) from None

    def bad(name, value, allowed):
        raise EvokedError(f"{name} = {value!r} is invalid: {allowed}")

    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        bad("--trials", trials, "must be a whole number >= 1")
    for name, value in (("--scale", scale), ("--k-scale", k_scale)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 < value <= 1):
            bad(name, value, "must be within (0, 1]")
    dt = float(model.kernel.dt)
    if not (0 < dt <= 0.5 and _is_multiple(dt, 1e-3)):
        bad(
            "kernel.dt",
            dt,
            "the trials run in NEST at the kernels' dt: it must be > 0, <= 0.5 ms and a "
            "multiple of 0.001 ms (e.g. pd14.build(dt=0.1))",
        )
    if not (math.isfinite(tstop) and tstop > 0 and _is_multiple(tstop, dt)):
        bad("--tstop", tstop, f"must be > 0 ms and a multiple of the kernels' dt = {dt:g} ms")
    if not (math.isfinite(presim) and presim >= dt and _is_multiple(presim, dt)):
        bad("--presim", presim, f"must be >= dt and a multiple of dt = {dt:g} ms")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 1 <= seed <= 2**32 - 1:
        bad("--seed", seed, "must be within [1, 2**32 - 1] (NEST's rng_seed)")
    if not (math.isfinite(smooth_ms) and (smooth_ms == 0 or dt <= smooth_ms <= tstop)):
        bad("--smooth", smooth_ms, "must be 0 (none) or a window within [dt, --tstop] ms")
    if not math.isfinite(scale_factor):
        bad("--scale-factor", scale_factor, "must be a finite number")
    if not (math.isfinite(baseline_ms) and 0 <= baseline_ms < tstop):
        bad("--baseline", baseline_ms, "must be within [0, --tstop) ms (0: none)")
    for d in model.drives:
        for Y, t in d.targets.items():
            if not (t.delay >= dt and _is_multiple(t.delay, dt)):
                bad(
                    f"drives[{d.name}].targets[{Y}].delay",
                    t.delay,
                    f"NEST needs a delay >= dt that is a multiple of dt = {dt:g} ms",
                )
    try:
        kmodel = scale_model(model, scale)
        kmodel = validate(replace(kmodel, name=f"{model.name}_scale{scale:g}"))
    except ParamsError as exc:
        raise EvokedError(str(exc)) from None
    tau = float(kmodel.kernel.tau)
    net = nestsim.derive(scale, k_scale, dt, thalamus=False)
    if any(net["N"][Y] != kmodel.population(Y).N for Y in net["populations"]):  # pragma: no cover
        raise EvokedError("the NEST network and the kernels' model differ in their sizes")
    return EvokedSetup(
        model=model,
        kmodel=kmodel,
        scale=float(scale),
        k_scale=float(k_scale),
        trials=int(trials),
        tstop=float(tstop),
        presim=float(presim),
        pre=float(min(presim, tau)),
        dt=dt,
        seed=int(seed),
        smooth_ms=float(smooth_ms),
        scale_factor=float(scale_factor),
        baseline_ms=float(baseline_ms),
        kernels=Path(out) / "kernels.h5",
        net=net,
    )


# --------------------------------------------------------------------------- the output


def _layer_index(Ys) -> dict:
    return {L: [i for i, Y in enumerate(Ys) if layer_of(Y) == L] for L in LAYERS}


def write_output(path, setup: EvokedSetup, recs: list, attrs: dict, kernels: KernelSet) -> None:
    """Write ``DIR/evoked.h5`` from the trials in order (its layout: docs/guide/evoked.md)."""
    import h5py

    from .params import CurrentDipoleProbe
    from .store import header_attrs

    path = Path(path)
    Ys = kernels.Y
    drives = [d.name for d in setup.kmodel.drives]
    layers = _layer_index(Ys)
    cdm = next(p.name for p in setup.kmodel.probes if isinstance(p, CurrentDipoleProbe))
    tmp = path.with_name(path.name + ".tmp")
    header = header_attrs(setup.kmodel)
    with h5py.File(tmp, "w") as f:
        for k, v in header.items():
            f.attrs[k] = v
        f.attrs["format"] = FORMAT
        f.attrs["source"] = "lfpk_hpc evoked"
        f.attrs["kernels"] = str(setup.kernels)
        f.attrs["kernels_params_hash"] = setup.kmodel.hash()
        f.attrs["params_file_hash"] = setup.model.hash()
        f.attrs["run_hash"] = setup.run_hash()
        f.attrs["run_json"] = json.dumps(setup.identity(), sort_keys=True)
        f.attrs["nest_network_json"] = json.dumps(setup.net, sort_keys=True)
        for key in ("trials", "scale", "k_scale", "tstop", "presim", "dt", "seed", "pre"):
            f.attrs[key] = getattr(setup, key)
        f.attrs["t_start"] = 0.0
        f.attrs["smooth_window_ms"] = setup.smooth_ms
        f.attrs["scale_factor"] = setup.scale_factor
        f.attrs["baseline_ms"] = setup.baseline_ms
        f.attrs["populations"] = json.dumps(Ys)
        f.attrs["layers"] = json.dumps({L: [Ys[i] for i in idx] for L, idx in layers.items()})
        f.attrs["drives"] = json.dumps(drives)
        for k, v in attrs.items():
            f.attrs[k] = v
        f.attrs["complete"] = True

        def put(name, data, units):
            ds = f.create_dataset(name, data=np.asarray(data, dtype=np.float64))
            ds.attrs["units"] = units
            ds.attrs["dt"] = setup.dt
            ds.attrs["t_start"] = 0.0
            return ds

        for p in kernels.probes:
            units = kernels.units[p]
            pop = np.stack([r.contributions[p] for r in recs])  # (trials, n_Y, ch, bins)
            drv = np.stack([r.drive_parts[p] for r in recs])
            total = pop.sum(axis=1)
            for name, data in (("total", total),):
                put(f"signals/{p}/{name}", data, units)
                put(f"mean/{p}/{name}", data.mean(axis=0), units)
            for i, Y in enumerate(Ys):
                put(f"signals/{p}/population/{Y}", pop[:, i], units)
                put(f"mean/{p}/population/{Y}", pop[:, i].mean(axis=0), units)
            for L, idx in layers.items():
                data = pop[:, idx].sum(axis=1)
                put(f"signals/{p}/layer/{L}", data, units)
                put(f"mean/{p}/layer/{L}", data.mean(axis=0), units)
            for j, D in enumerate(drives):
                put(f"signals/{p}/drive/{D}", drv[:, j], units)
                put(f"mean/{p}/drive/{D}", drv[:, j].mean(axis=0), units)
            for k, v in kernels.info["probe_attrs"][p].items():
                f[f"signals/{p}"].attrs[k] = v
        # the dipole's z component in nA·m: the aggregate and per layer, raw and processed
        pz = np.stack([r.contributions[cdm][:, 2] for r in recs]) / NAM  # (trials, n_Y, bins)
        rows = [pz.sum(axis=1)] + [pz[:, idx].sum(axis=1) for idx in layers.values()]
        raw = np.stack(rows, axis=1)  # (trials, 1 + layers, bins)
        done = scale(smooth(baseline(raw, setup), setup.smooth_ms, setup.dt), setup.scale_factor)
        names = ",".join(["agg", *LAYERS])
        g = f.create_group("dipole")
        g.attrs["rows"] = names
        g.attrs["about"] = (
            "z component of the current dipole moment (probe "
            f"{cdm!r}) in nA·m: the aggregate (agg) and each layer's populations; "
            f"processed: each trial minus its mean over [0, {setup.baseline_ms:g}) ms, "
            f"smoothed by a {setup.smooth_ms:g} ms Hamming window and scaled by "
            f"{setup.scale_factor:g} (HNN's dipole_smooth_win and dipole_scalefctr)"
        )
        for name, data in (("trials_raw", raw), ("trials", done)):
            put(f"dipole/{name}", data, "nA·m").attrs["rows"] = names
        put("dipole/mean_raw", raw.mean(axis=0), "nA·m").attrs["rows"] = names
        put("dipole/mean", done.mean(axis=0), "nA·m").attrs["rows"] = names
        # the spikes of every trial, and how each trial ran
        for r in recs:
            for X, (t, s) in sorted(r.spikes.items()):
                gx = f.create_group(f"spikes/trial_{r.trial:04d}/{X}")
                gx.attrs["N"] = int(setup.kmodel.population(X).N)
                gx.create_dataset("times", data=np.asarray(t, dtype=np.float64))
                gx["times"].attrs["units"] = "ms"
                gx.create_dataset("senders", data=np.asarray(s, dtype=np.int64))
        g = f.create_group("trials")
        g.create_dataset("nest_seed", data=np.array([r.nest_seed for r in recs], dtype=np.int64))
        g.create_dataset("rank", data=np.array([r.rank for r in recs], dtype=np.int32))
        g.create_dataset("wall_time_s", data=np.array([r.wall_time_s for r in recs]))
        pops = [p.name for p in setup.kmodel.populations]
        rates = np.array(
            [
                [
                    np.count_nonzero((r.spikes[X][0] >= 0) & (r.spikes[X][0] < setup.tstop))
                    / (setup.kmodel.population(X).N * setup.tstop * 1e-3)
                    for X in pops
                ]
                for r in recs
            ]
        )
        ds = g.create_dataset("rates", data=rates)
        ds.attrs["columns"] = ",".join(pops)
        ds.attrs["units"] = "spikes/s in [0, tstop)"
    tmp.replace(path)


# --------------------------------------------------------------------------- a run


def _finished(target: Path, run_hash: str) -> bool | None:
    """True: a finished run of the same inputs; False: another run; None: none."""
    if not target.exists():
        return None
    import h5py

    try:
        with h5py.File(target, "r") as f:
            return bool(f.attrs.get("complete")) and f.attrs.get("run_hash") == run_hash
    except OSError:
        return False


def run_evoked(
    model,
    out,
    *,
    trials: int = 10,
    scale: float = 0.1,
    k_scale: float | None = None,
    tstop: float = 170.0,
    presim: float = 100.0,
    seed: int = 55,
    smooth_ms: float = 30.0,
    scale_factor: float = 1.0,
    baseline_ms: float = 15.0,
    comm=None,
    overwrite: bool = False,
    resume: bool = False,
    figures: bool = True,
    log=print,
) -> Path:
    """An evoked run into the folder ``out`` (see the module docstring). Every rank of
    ``comm`` calls this; returns the path of ``evoked.h5``.

    Parameters
    ----------
    model : Model
        PD14 with evoked drives (``pd14.build(drives=...)``).
    out : str or path-like
        The output folder.
    trials : int
        Number of trials.
    scale : float
        Fraction of PD14's neurons simulated (dimensionless).
    k_scale : float or None
        Scaling of the in-degrees (dimensionless; None: ``scale``).
    tstop : float
        Recorded time per trial, ms.
    presim : float
        Time simulated before t = 0, ms.
    seed : int
        Seed of the network; trial k is seeded from (seed, k).
    smooth_ms : float
        Hamming window of HNN's smoothing, ms.
    scale_factor : float
        HNN's dipole scaling factor (dimensionless).
    baseline_ms : float
        Each trial minus its mean over [0, baseline_ms) ms.
    comm : mpi4py communicator or None
        The ranks.
    overwrite, resume : bool
        Replace an existing output; continue an interrupted run.
    figures : bool
        Draw the figures.
    log : callable
        Where progress lines go.

    Returns
    -------
    pathlib.Path
        ``out/evoked.h5`` (dipoles in nA·m and nA·µm, EEG in mV, MEG in fT, CSD in µA/mm³).
    """
    from .evokedtrials import EvokedTrials
    from .kernelrun import run_kernels
    from .store import StoreError

    rank = comm.Get_rank() if comm is not None else 0
    say = log if rank == 0 else (lambda *a, **k: None)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise EvokedError(f"--out {str(out)!r} is invalid: not a folder")
    setup = prepare(
        model,
        trials=trials,
        scale=scale,
        k_scale=scale if k_scale is None else k_scale,
        tstop=tstop,
        presim=presim,
        seed=seed,
        smooth_ms=smooth_ms,
        scale_factor=scale_factor,
        baseline_ms=baseline_ms,
        out=out,
    )
    target = out / "evoked.h5"
    state = None
    if rank == 0:
        done = _finished(target, setup.run_hash())
        parts = Path(str(target) + ".parts").exists()
        if resume and done and not parts:
            state = "finished"
        elif resume and done is False and not parts:
            state = (
                f"cannot resume {str(target)!r}: it holds another run (other parameters, "
                "trials, scale, times or seed); use another --out or --overwrite"
            )
        elif not resume and not overwrite and (target.exists() or parts):
            state = (
                f"output {str(target)!r} exists; pass --resume to continue it, --overwrite to "
                "replace it, or choose another --out"
            )
        out.mkdir(parents=True, exist_ok=True)
    if comm is not None:
        state = comm.bcast(state, root=0)
    if state not in (None, "finished"):
        raise StoreError(state)
    t0 = time.perf_counter()
    if state == "finished":
        say(f"resume: {target} is a finished run of the same inputs; nothing to simulate")
    else:
        run_kernels(
            setup.kmodel, setup.kernels, comm=comm, overwrite=overwrite, resume=not overwrite,
            log=log,
        )  # fmt: skip
        t_k = time.perf_counter() - t0
        run_farm(
            EvokedTrials(setup, say),
            target,
            comm=comm,
            overwrite=overwrite,
            resume=resume,
            log=log,
        )
        if rank == 0:
            import h5py

            with h5py.File(target, "r+") as f:
                f.attrs["wall_time_kernels_s"] = t_k
                f.attrs["wall_time_total_s"] = time.perf_counter() - t0
    if figures and rank == 0:
        from .evokedplot import plot_evoked

        for path in plot_evoked(target):
            say(f"wrote {path}")
    if rank == 0:
        say(f"evoked: {time.perf_counter() - t0:.1f} s")
    return target


# --------------------------------------------------------------------------- CLI


def add_arguments(parser) -> None:
    """The options of ``python -m lfpk_hpc evoked`` (times in ms).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which the options are added.
    """
    parser.description = (
        "Evoked responses as HNN makes them: --trials runs of the PD14 microcircuit in NEST "
        "driven by the params' evoked drives (proximal and distal volleys), each trial's "
        "spikes through the kernels into dipole (also in nA·m), EEG, MEG, LFP and CSD, "
        "per trial and averaged, in total, per population and per layer; DIR/evoked.h5 "
        "and figures. Run under mpirun/srun to share the trials over ranks."
    )
    parser.add_argument("params", help="a PD14 params file with drives (params/pd14_evoked.py)")
    parser.add_argument("--trials", type=int, default=10, help="number of trials")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--scale",
        type=float,
        default=0.1,
        help="fraction of the PD14 neurons simulated, within (0, 1]; the kernels are those "
        "of that network (C kept), the drives keep their in-degrees",
    )
    parser.add_argument(
        "--k-scale",
        type=float,
        default=None,
        help="NEST's in-degree scaling within (0, 1] (default: --scale; see simulate-pd14)",
    )
    parser.add_argument("--tstop", type=float, default=170.0, help="recorded ms per trial")
    parser.add_argument(
        "--presim",
        type=float,
        default=100.0,
        help="ms simulated before each trial's t = 0; the spikes of its last min(presim, "
        "tau) ms enter the signals from t = 0 on (PD14 settles within about 25 ms)",
    )
    parser.add_argument(
        "--seed", type=int, default=55, help="seed of the network and, with the trial, of "
        "the trial's background and drives",
    )  # fmt: skip
    parser.add_argument(
        "--smooth",
        type=float,
        default=30.0,
        help="Hamming window (ms) smoothing the processed dipole, HNN's dipole_smooth_win; 0: none",
    )
    parser.add_argument(
        "--scale-factor",
        type=float,
        default=1.0,
        help="factor of the processed dipole, HNN's dipole_scalefctr (its evoked example: 3000)",
    )
    parser.add_argument(
        "--baseline",
        type=float,
        default=15.0,
        help="the processed dipole is each trial minus its mean over [0, BASELINE) ms, before "
        "the first volley (PD14's ongoing activity has a dipole of its own; HNN's network is "
        "silent until driven); 0: none",
    )
    parser.add_argument("--no-figures", action="store_true", help="write no figures")
    g = parser.add_mutually_exclusive_group()
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its checkpoints (DIR/evoked.h5.parts)",
    )
    g.add_argument("--overwrite", action="store_true", help="replace an existing run in DIR")


def main(args) -> int:
    """``python -m lfpk_hpc evoked``: kernels, trials, evoked.h5 and figures; the exit code.

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

    # NEURON (the kernels) stays out of MPI; NEST never sees it
    return run_command(lambda comm: _main(args, comm))


def _main(args, comm) -> int:
    from .params import load

    model = load(args.params)
    run_evoked(
        model,
        args.out,
        trials=args.trials,
        scale=args.scale,
        k_scale=args.k_scale,
        tstop=args.tstop,
        presim=args.presim,
        seed=args.seed,
        smooth_ms=args.smooth,
        scale_factor=args.scale_factor,
        baseline_ms=args.baseline,
        comm=comm,
        overwrite=args.overwrite,
        resume=args.resume,
        figures=not args.no_figures,
        log=lambda msg: print(msg, flush=True),
    )
    return 0
