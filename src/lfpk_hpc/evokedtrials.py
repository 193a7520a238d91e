"""The trials of an evoked run (:mod:`lfpk_hpc.evoked`) as tasks of the task farm.

Trial k is one NEST run of the PD14 point network at the run's scale with the drives'
spikes of trial k (:func:`nest_drives`; one thread, so that NEST's random streams do
not depend on the rank), its spikes binned on the kernels' grid
(:func:`bin_grid_spikes`) and convolved with the kernels (:class:`KernelSet`, read once
per rank) into every probe's signal per postsynaptic population and per drive
(:func:`run_trial`, a :class:`TrialResult`). :class:`EvokedTrials` hands the trials to
:func:`lfpk_hpc.scheduler.run_farm`, checkpoints each one, and when all are done has
rank 0 write ``evoked.h5`` (:func:`lfpk_hpc.evoked.write_output`). Units: ms, spikes,
the probes' units (nA·µm, mV, fT, µA/mm³).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .evoked import EvokedSetup, write_output
from .scheduler import TaskKind

__all__ = ["EvokedTrials", "bin_grid_spikes"]


# --------------------------------------------------------------------------- one trial


def bin_grid_spikes(times, dt: float, t_start: float, n_bins: int) -> np.ndarray:
    """Spike counts per bin [t_start + k·dt, t_start + (k+1)·dt) of times that lie on
    the grid of dt (NEST's stamps, drive times): the bin is round((t − t_start)/dt),
    immune to the rounding of t/dt (floor(k·0.1/0.1) is k − 1 for some k).

    Parameters
    ----------
    times : array_like of float
        Spike times on the grid of ``dt`` (ms).
    dt : float
        Bin width (ms).
    t_start : float
        Start of the first bin (ms).
    n_bins : int
        Number of bins (a count).

    Returns
    -------
    numpy.ndarray
        Spike counts per bin (a count, as floats).
    """
    k = np.rint((np.asarray(times, dtype=float) - t_start) / dt).astype(np.int64)
    k = k[(k >= 0) & (k < n_bins)]
    return np.bincount(k, minlength=n_bins).astype(float)


@dataclass
class TrialResult:
    """One trial: its spikes, the signals per probe and postsynaptic population, and
    the part of each drive's own synaptic currents."""

    trial: int
    spikes: dict  # X -> (times ms, senders)
    contributions: dict  # probe -> (n_Y, channels, bins)
    drive_parts: dict  # probe -> (n_drives, channels, bins)
    nest_seed: int = 0
    rank: int = 0
    wall_time_s: float = 0.0
    timings: dict = field(default_factory=dict)


class KernelSet:
    """The kernels of a run, read once per rank: probe → {(Y, X): H}, their units."""

    def __init__(self, path):
        from .predict import read_kernel_set

        info, kernels = read_kernel_set(path)
        self.info, self.kernels = info, kernels
        self.probes = list(kernels)
        self.Y, self.X = info["Y"], info["X"]
        self.units = info["units"]
        self.n_tau = int(round(info["tau"] / info["dt"]))
        self.channels = {p: next(iter(kernels[p].values())).shape[0] for p in self.probes}
        self._spectra: dict = {}  # (F, probe, Y, X) -> rfft of the kernel, made once per rank

    def spectrum(self, F: int, p: str, Y: str, X: str):
        """The kernel's rfft of length F (None for a zero or missing kernel)."""
        from scipy.fft import rfft

        key = (F, p, Y, X)
        if key not in self._spectra:
            H = self.kernels[p].get((Y, X))
            self._spectra[key] = rfft(H, F, axis=1) if H is not None and H.any() else None
        return self._spectra[key]

    def signals(self, counts: dict, n_pre: int, n_bins: int, drives) -> tuple[dict, dict]:
        """Per probe (n_Y, channels, n_bins) and (n_drives, channels, n_bins): the
        spike counts ``counts[X]`` (bins from −n_pre·dt, n_pre + n_bins of them)
        convolved with the kernels as ``predict`` does (numpy.convolve(ν, H, 'same') of
        the centred kernels), the samples from t = 0 on."""
        from scipy.fft import irfft, next_fast_len, rfft

        n = n_pre + n_bins
        F = next_fast_len(n + 2 * self.n_tau)
        nu_f = {X: rfft(c, F) for X, c in counts.items() if c.any()}
        sl = slice(self.n_tau + n_pre, self.n_tau + n_pre + n_bins)
        by_y, by_d = {}, {}
        for p in self.probes:
            ch = self.channels[p]
            out_y = np.zeros((len(self.Y), ch, n_bins))
            out_d = np.zeros((len(drives), ch, n_bins))
            for i, Y in enumerate(self.Y):
                acc = None
                for X in self.X:
                    HF = self.spectrum(F, p, Y, X) if X in nu_f else None
                    if HF is None:
                        continue
                    prod = HF * nu_f[X][None, :]
                    if X in drives:
                        out_d[drives.index(X)] += irfft(prod, F, axis=1)[:, sl]
                    acc = prod if acc is None else acc + prod
                if acc is not None:
                    out_y[i] = irfft(acc, F, axis=1)[:, sl]
            by_y[p], by_d[p] = out_y, out_d
        return by_y, by_d


def nest_drives(setup: EvokedSetup, trial: int) -> dict:
    """The drives of one trial as :func:`lfpk_hpc.nestsim.simulate` takes them."""
    from .drives import drive_times

    out = {}
    for d in setup.kmodel.drives:
        times = drive_times(d, seed=setup.seed, trial=trial, dt=setup.dt, t_stop=setup.tstop)
        targets = {Y: (int(d.indegree(Y)), 1e3 * t.weight, t.delay) for Y, t in d.targets.items()}
        out[d.name] = {"times": times, "targets": targets}
    return out


def run_trial(setup: EvokedSetup, kernels: KernelSet, nest, trial: int, rank: int = 0):
    """Simulate trial ``trial`` in NEST and predict its signals (a :class:`TrialResult`)."""
    from .nestsim import hidden_launcher_env, simulate

    t0 = time.perf_counter()
    seed = setup.nest_seed(trial)
    with hidden_launcher_env():
        spikes, timings = simulate(
            nest,
            setup.net,
            seed=setup.seed,
            threads=1,
            presim=setup.presim,
            tstop=setup.tstop,
            log=lambda *a, **k: None,
            drives=nest_drives(setup, trial),
            trial_seed=seed,
            record_before=setup.pre,
        )
    t_nest = time.perf_counter()
    n = setup.n_pre + setup.n_bins
    counts = {
        X: bin_grid_spikes(spikes[X][0], setup.dt, -setup.n_pre * setup.dt, n) for X in kernels.X
    }
    drives = [d.name for d in setup.kmodel.drives]
    by_y, by_d = kernels.signals(counts, setup.n_pre, setup.n_bins, drives)
    t_end = time.perf_counter()
    timings = dict(timings, nest_s=t_nest - t0, predict_s=t_end - t_nest)
    return TrialResult(trial, spikes, by_y, by_d, seed, rank, t_end - t0, timings)


# --------------------------------------------------------------------------- the task kind


class EvokedTrials(TaskKind):
    """The trials of an evoked run as tasks of :func:`lfpk_hpc.scheduler.run_farm`.

    Parameters
    ----------
    setup : EvokedSetup
        The run: model, drives, trials, times and options.
    log : callable
        Receives the progress messages.
    """

    noun = "trial"
    units_noun = "units"
    store_mode = "checkpoints"

    def __init__(self, setup: EvokedSetup, log):
        self.setup_ = setup
        self.log = log
        self.kernels = None
        self.nest = None

    def keys(self):
        return list(range(self.setup_.trials))

    def label(self, key):
        return f"trial {key}"

    def params_hash(self):
        return self.setup_.run_hash()

    def announce(self, n_done):
        s = self.setup_
        drives = "; ".join(
            f"{d.name} ({d.location}, mu {d.mu:g} ms, sigma {d.sigma:g} ms, {d.numspikes} "
            f"spike(s) x {d.n_cells} neuron(s){', synchronous' if d.sync_within_trial else ''}"
            f" -> {', '.join(d.targets)})"
            for d in s.kmodel.drives
        )
        return [
            f"evoked: {s.trials} trials of {s.model.name!r} at scale {s.scale:g} (K scale "
            f"{s.k_scale:g}) in NEST: presim {s.presim:g} ms, then {s.tstop:g} ms at dt "
            f"{s.dt:g} ms; network seed {s.seed}, trial seeds from (seed, trial)",
            f"drives: {drives}",
        ]

    def estimate(self, keys, measured, comm):
        return {k: float(measured.get(k) or 1.0) for k in keys}

    def setup(self, comm, log):
        from .nestsim import import_nest

        self.nest = import_nest()
        self.kernels = KernelSet(self.setup_.kernels)

    def compute(self, key, rank):
        return run_trial(self.setup_, self.kernels, self.nest, key, rank)

    def detail(self, rec):
        n = sum(len(t) for t, _s in rec.spikes.values())
        return f"{n} spikes, NEST {rec.timings['nest_s']:.1f} s"

    # ---- checkpoints
    def checkpoint_name(self, key):
        return f"trial_{key:06d}"

    def to_checkpoint(self, rec: TrialResult):
        pops = sorted(rec.spikes)
        probes = sorted(rec.contributions)
        meta = {
            "trial": rec.trial,
            "nest_seed": rec.nest_seed,
            "rank": rec.rank,
            "wall_time_s": rec.wall_time_s,
            "timings": rec.timings,
            "populations": pops,
            "probes": probes,
        }
        arrays = {}
        for i, X in enumerate(pops):
            arrays[f"times_{i}"], arrays[f"senders_{i}"] = rec.spikes[X]
        for i, p in enumerate(probes):
            arrays[f"population_{i}"] = rec.contributions[p]
            arrays[f"drive_{i}"] = rec.drive_parts[p]
        return meta, arrays

    def from_checkpoint(self, meta, arrays):
        spikes = {
            X: (arrays.get(f"times_{i}"), arrays.get(f"senders_{i}"))
            for i, X in enumerate(meta["populations"])
        }
        contributions = {p: arrays.get(f"population_{i}") for i, p in enumerate(meta["probes"])}
        drive_parts = {p: arrays.get(f"drive_{i}") for i, p in enumerate(meta["probes"])}
        rec = TrialResult(
            meta["trial"],
            spikes,
            contributions,
            drive_parts,
            meta["nest_seed"],
            meta["rank"],
            meta["wall_time_s"],
            meta["timings"],
        )
        return rec.trial, rec

    def load_done(self, out):
        # the file is written only when every trial is done (nothing to resume then);
        # an unfinished run lives in its checkpoints
        raise OSError(f"{out} is not a finished run")

    def finish(self, out, store, complete, attrs, comm, mpio, log):
        if set(self.keys()) - set(complete):
            return
        rank = comm.Get_rank() if comm is not None else 0
        if rank == 0:
            from .store import Checkpoints

            parts = Checkpoints(out)
            recs = {}
            for meta, arrays in parts.load_entries():
                if meta.get("name") == self.checkpoint_name(meta.get("trial", -1)):
                    key, rec = self.from_checkpoint(meta, arrays)
                    recs[key] = rec
            write_output(out, self.setup_, [recs[k] for k in self.keys()], attrs, self.kernels)
        if comm is not None and comm.Get_size() > 1:
            from .parallel import wait_quietly

            wait_quietly(comm)
