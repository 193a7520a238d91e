"""Signals from spikes: population spike counts convolved with the kernels.

    python -m lfpk_hpc predict KERNELS.h5 SPIKES --out signals.h5 [--tstart T0] [--tstop T]

The signal of probe p is V_p(t) = Σ_X Σ_Y (ν_X ∗ H_YX)(t) with ν_X the spike count of
population X per bin of width dt (the kernels' dt; bins [t_start + k·dt, t_start +
(k+1)·dt), k = 0 … n_bins − 1) and ∗ numpy's ``convolve(ν, H, 'same')`` convention
for centred kernels (lag 0 at the middle sample): out[n] = Σ_j ν[n − j]·H[n_tau + j],
j = −n_tau … n_tau, with ν = 0 outside the recording.

It is computed with FFTs in blocks of time: each block of ν_X (with the n_tau
samples on either side that the kernels reach) is transformed once, multiplied
with the transformed kernels of every Y and channel, summed over X in frequency
space, and transformed back; the results are written block by block. So memory
holds the transformed kernels and one block, never the (channels × bins × pairs)
array, and the result equals the direct sum of numpy.convolve calls to rounding
(~1e-13 relative).

SPIKES, one of:

(a) HDF5 (.h5/.hdf5): one group per presynaptic population with a dataset
    ``times`` (ms) and optionally ``senders``; root attribute ``t_stop`` (ms) if known;
(b) NEST spike-recorder ASCII files (.dat, columns sender and time_ms, '#' comments
    and the column-name line are skipped): a folder with one file per population
    named ``<population>*.dat`` (several files of one population, e.g. one per
    virtual process, are merged), or files mapped explicitly with
    ``--map POP=GLOB`` (repeatable);
(c) .npz: one array of spike times (ms) per population name.

Rules (errors exit with code 2 and name the file and the problem): a population
in SPIKES that the kernels do not know is an error; a presynaptic population of
the kernels without spikes is an error unless ``--missing-silent`` (then it is
treated as silent); negative or non-finite times are errors; unsorted times are
accepted (binning does not depend on their order); spikes outside
[t_start, t_stop) are not counted. ``t_stop`` defaults to the spikes file's
``t_stop`` attribute, else to the last spike plus one bin.

Action potentials. A kernels file with action-potential kernels H^AP_Y
(``/ap_kernels/<probe>/<Y>``, see :mod:`lfpk_hpc.apkernel`) adds, for every such Y,
ν_Y ∗ H^AP_Y with ν_Y the spike counts of Y itself (so SPIKES must hold Y's spikes,
or ``--missing-silent``); ``--no-ap`` (``ap=False``) leaves them out.

Output (HDF5): ``/signals/<probe>`` (channels, bins) with attributes ``dt`` (ms),
``t_start`` (ms) and ``units``; ``/contributions/<probe>/<Y>`` the part of each
postsynaptic population Y (its action potentials included); with ``--per-pair``
also ``/pairs/<probe>/<Y>/<X>``; ``/action_potentials/<probe>/<Y>`` the part of Y's
action potentials; ``/rates/<X>`` the spike counts per bin (of every population
used); root attribute ``action_potentials`` (whether they were added).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

__all__ = [
    "SpikesError",
    "bin_spikes",
    "predict",
    "read_kernel_set",
    "read_spike_trains",
    "read_spikes",
    "write_spikes",
]


class SpikesError(ValueError):
    """Bad input to predict: the message names the file and the problem."""

    exit_code = 2


# --------------------------------------------------------------------------- spikes


def _check_times(times: np.ndarray, where: str) -> np.ndarray:
    times = np.asarray(times, dtype=float).ravel()
    if times.size and not np.all(np.isfinite(times)):
        raise SpikesError(f"{where}: spike times must be finite (found NaN or inf)")
    if times.size and times.min() < 0:
        raise SpikesError(
            f"{where}: negative spike time {float(times.min())!r} ms (times must be >= 0)"
        )
    return times


def _read_dat(files: list[Path]) -> np.ndarray:
    out = []
    for f in files:
        rows = []
        with open(f) as fh:
            for line in fh:
                s = line.strip()
                if not s or s.startswith("#"):
                    continue
                parts = s.split()
                if parts[0].lower() == "sender":  # NEST 3 column-name line
                    if len(parts) < 2 or parts[1].lower() not in ("time_ms", "time_step"):
                        raise SpikesError(f"{f}: expected columns 'sender time_ms', got {s!r}")
                    if parts[1].lower() == "time_step":
                        raise SpikesError(f"{f}: times in steps; record with time_in_steps=False")
                    continue
                if len(parts) < 2:
                    raise SpikesError(f"{f}: line {s!r} has no time column (sender time_ms)")
                rows.append(parts[1])
        try:
            out.append(np.array(rows, dtype=float))
        except ValueError as exc:
            raise SpikesError(f"{f}: a time is not a number ({exc})") from None
    return np.concatenate(out) if out else np.zeros(0)


def read_spikes(
    path,
    populations,
    *,
    mapping: dict[str, str] | None = None,
    missing_silent: bool = False,
    also=(),
) -> tuple[dict[str, np.ndarray], float | None]:
    """Spike times (ms) per population and the file's t_stop (ms) if it has one.

    Parameters
    ----------
    path : str or path-like
        An HDF5 spikes file (``times`` in ms per population group), a folder of NEST
        ``.dat`` files (``sender time_ms`` columns) or an ``.npz`` of times (ms).
    populations : iterable of str
        The presynaptic populations the kernels know.
    mapping : dict of str to str or None
        Population → glob of ``.dat`` files.
    missing_silent : bool
        A population without spikes in the file is silent instead of an error.
    also : iterable of str
        Other populations of the model the file may hold (not needed, not returned).

    Returns
    -------
    spikes : dict of str to numpy.ndarray
        Spike times per population, ms.
    t_stop : float or None
        The end of the recording, ms (the HDF5 file's ``t_stop`` attribute), if known.

    Raises
    ------
    SpikesError
        Naming the file: an unknown or missing population, negative or non-finite times.
    """
    path = Path(path)
    populations = list(populations)
    known = populations + [p for p in also if p not in populations]
    found: dict[str, np.ndarray] = {}
    t_stop = None
    if not path.exists():
        raise SpikesError(f"spikes {str(path)!r} do not exist")
    if path.is_dir() or path.suffix == ".dat" or mapping:
        base = path if path.is_dir() else path.parent
        files = sorted(base.glob("*.dat")) if path.is_dir() else [path]
        if mapping:
            for pop, pattern in mapping.items():
                match = sorted(base.glob(pattern))
                if not match:
                    raise SpikesError(f"{base}: --map {pop}={pattern} matches no file")
                found[pop] = _read_dat(match)
        else:
            # files named <population>*.dat; the longest matching name wins (L23E before L2)
            by_pop: dict[str, list[Path]] = {}
            for f in files:
                names = [p for p in known if f.name.startswith(p)]
                if not names:
                    raise SpikesError(
                        f"{f}: file name starts with no population of the kernels "
                        f"({', '.join(known)}); name files <population>*.dat or use --map"
                    )
                by_pop.setdefault(max(names, key=len), []).append(f)
            found = {pop: _read_dat(fs) for pop, fs in by_pop.items()}
    elif path.suffix in (".h5", ".hdf5"):
        import h5py

        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise SpikesError(f"{path}: not a readable HDF5 file ({exc})") from None
        with f:
            t_stop = float(f.attrs["t_stop"]) if "t_stop" in f.attrs else None
            for name, g in f.items():
                if not isinstance(g, h5py.Group) or "times" not in g:
                    raise SpikesError(
                        f"{path}: /{name} must be a group with a dataset 'times' (ms)"
                    )
                found[name] = g["times"][...]
    elif path.suffix == ".npz":
        try:
            with np.load(path) as z:
                found = {k: z[k] for k in z.files}
        except Exception as exc:
            raise SpikesError(f"{path}: not a readable .npz file ({exc})") from None
    else:
        raise SpikesError(
            f"spikes {str(path)!r}: unknown format (allowed: .h5/.hdf5, .npz, .dat or a folder "
            "of NEST .dat files)"
        )
    unknown = sorted(set(found) - set(known))
    if unknown:
        raise SpikesError(
            f"{path}: population {unknown[0]!r} is not a population of the kernels "
            f"({', '.join(known)})"
        )
    out = {}
    for pop in populations:
        if pop not in found:
            if not missing_silent:
                raise SpikesError(
                    f"{path}: no spikes for population {pop!r} (pass --missing-silent to treat it "
                    "as silent)"
                )
            out[pop] = np.zeros(0)
        else:
            out[pop] = _check_times(found[pop], f"{path}: {pop}")
    return out, t_stop


def write_spikes(path, spikes: dict, sizes: dict, attrs: dict) -> None:
    """Write the spikes file (format (a) of ``predict``), atomically (a temporary file
    in the same folder renamed at the end).

    One group per population with ``times`` (float64, ms, ascending, t = 0 the first
    recorded time) and ``senders`` (int64, 0-based index in the population), group
    attribute ``N`` (population size); root attributes from ``attrs``.

    Parameters
    ----------
    path : str or pathlib.Path
        The spikes file to write.
    spikes : dict
        Population → (times in ms, senders).
    sizes : dict of str to int
        Population → its size N (a count).
    attrs : dict
        The file's root attributes.
    """
    import os

    import h5py

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w") as f:
            for k, v in attrs.items():
                f.attrs[k] = v
            for name, (times, senders) in spikes.items():
                g = f.create_group(name)
                g.attrs["N"] = int(sizes[name])
                g.create_dataset("times", data=np.asarray(times, dtype=np.float64))
                g["times"].attrs["units"] = "ms"
                g.create_dataset("senders", data=np.asarray(senders, dtype=np.int64))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_spike_trains(path, populations) -> tuple[dict, float | None]:
    """Spike trains of single neurons: per population (times in ms, senders, N) from an
    HDF5 spikes file of format (a) with ``senders`` (the 0-based index of the neuron in
    its population, as ``simulate-pd14`` and ``groundtruth`` write them) and the group
    attribute ``N`` (the population's size), and the file's ``t_stop`` (ms) if it has
    one. ``populations``: the populations needed; every one must be in the file.
    Raises :class:`SpikesError` naming the file and the problem.

    Parameters
    ----------
    path : str or pathlib.Path
        An HDF5 spikes file with senders.
    populations : iterable of str
        The populations needed.

    Returns
    -------
    trains : dict
        Population → (times in ms, senders, N).
    t_stop : float or None
        The file's ``t_stop`` (ms).

    Raises
    ------
    SpikesError
        The file is missing, unreadable or lacks a population.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise SpikesError(f"spikes {str(path)!r} do not exist")
    if path.suffix not in (".h5", ".hdf5"):
        raise SpikesError(
            f"spikes {str(path)!r}: the spike trains of single neurons need an HDF5 spikes "
            "file with senders (as simulate-pd14 writes), not a "
            + ("folder" if path.is_dir() else f"{path.suffix or 'suffix-less'} file")
        )
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise SpikesError(f"{path}: not a readable HDF5 file ({exc})") from None
    out = {}
    with f:
        t_stop = float(f.attrs["t_stop"]) if "t_stop" in f.attrs else None
        for pop in populations:
            if pop not in f:
                raise SpikesError(
                    f"{path}: no spikes for population {pop!r} (the file has "
                    f"{', '.join(sorted(f)) or 'none'})"
                )
            g = f[pop]
            if not isinstance(g, h5py.Group) or "times" not in g:
                raise SpikesError(f"{path}: /{pop} must be a group with a dataset 'times' (ms)")
            if "senders" not in g:
                raise SpikesError(
                    f"{path}: /{pop} has no 'senders': the hybrid ground truth binds every "
                    "synapse to one presynaptic neuron and needs the sender of each spike "
                    "(write the file with simulate-pd14, or add senders, 0-based indices)"
                )
            if "N" not in g.attrs:
                raise SpikesError(
                    f"{path}: /{pop} has no attribute 'N' (the number of neurons of {pop})"
                )
            times = _check_times(g["times"][...], f"{path}: {pop}")
            senders = np.asarray(g["senders"][...])
            n = int(g.attrs["N"])
            if senders.shape != times.shape:
                raise SpikesError(
                    f"{path}: /{pop} has {senders.size} senders for {times.size} spike times"
                )
            if senders.size and (
                not np.issubdtype(senders.dtype, np.integer)
                or senders.min() < 0
                or senders.max() >= n
            ):
                raise SpikesError(
                    f"{path}: /{pop}/senders must be whole numbers in [0, N = {n}) "
                    f"(found {senders.min()} .. {senders.max()})"
                )
            out[pop] = (times, senders.astype(np.int64), n)
    return out, t_stop


#: the marker of a population's own spikes through its action-potential kernel
_AP = "(AP)"


def bin_spikes(times: np.ndarray, dt: float, t_start: float, n_bins: int) -> np.ndarray:
    """Spike counts per bin [t_start + k·dt, t_start + (k+1)·dt), k < n_bins. A time on a
    bin's start counts in that bin although (t − t_start)/dt may come out just below k
    in floating point (NEST's on-grid times: k·0.1 / 0.1 < k for 6.5 % of k < 200,000):
    times within 1e-6 of a bin of its start belong to it.

    Parameters
    ----------
    times : numpy.ndarray
        Spike times (ms).
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
    x = (np.asarray(times, dtype=float) - t_start) / dt
    k = np.floor(x + 1e-6).astype(np.int64)
    k = k[(k >= 0) & (k < n_bins)]
    return np.bincount(k, minlength=n_bins).astype(float)


# --------------------------------------------------------------------------- kernels


def read_kernel_set(path, point: int | None = None):
    """The complete kernels of a kernels file (or of point ``point`` of a scan file):
    (info, {probe: {(Y, X): H}}), read by :func:`lfpk_hpc.kernelsfile.read_kernels_file`;
    an incomplete kernel is an error.

    Parameters
    ----------
    path : str or pathlib.Path
        A kernels file or a scan file.
    point : int, optional
        The point of a scan file (an index).

    Returns
    -------
    info : dict
        dt and tau (ms), the params hash, the model's name, the probes' units and
        attributes, Y, X and the action-potential kernels.
    kernels : dict
        Probe → {(Y, X): kernel (channels, lags)}, in the probe's units.

    Raises
    ------
    SpikesError
        The file cannot be read or has an incomplete kernel.
    """
    from .kernelsfile import KernelsFileError, read_kernels_file

    try:
        kf = read_kernels_file(path, point=point)
    except KernelsFileError as exc:
        raise SpikesError(str(exc)) from None
    info = {
        "dt": kf.dt,
        "tau": kf.tau,
        "params_hash": kf.params_hash,
        "model_name": kf.model_name,
        "units": {},
        "probe_attrs": {},
        "Y": kf.Y,
        "X": kf.X,
    }
    kernels: dict[str, dict] = {}
    info["ap"] = _read_ap_kernels(path, point)
    for name, probe in kf.probes.items():
        if not probe.kernels:
            continue
        info["units"][name] = probe.units
        attrs = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in probe.attrs.items()}
        if probe.z is not None:
            attrs["z"] = probe.z.tolist()
        info["probe_attrs"][name] = attrs
        kernels[name] = {}
        for (Y, X), k in probe.kernels.items():
            if not k.complete:
                raise SpikesError(
                    f"{path}: kernel {name}/{Y}/{X} is not complete (finish the run with --resume)"
                )
            kernels[name][(Y, X)] = k.data
    return info, kernels


def _read_ap_kernels(path, point: int | None = None) -> dict[str, dict[str, np.ndarray]]:
    """The action-potential kernels of a kernels file (or of point ``point`` of a scan
    file): {probe: {Y: H}}; one that did not finish is an error."""
    import h5py

    from .store import AP_TASK, _finished_tasks

    out: dict[str, dict[str, np.ndarray]] = {}
    with h5py.File(path, "r") as file:
        f = file if point is None else file[f"points/{point}"]
        if "ap_kernels" not in f:
            return out
        finished, _ = _finished_tasks(f)
        for probe, g in f["ap_kernels"].items():
            for Y, ds in g.items():
                if not (bool(ds.attrs.get("complete", False)) or (AP_TASK, Y) in finished):
                    raise SpikesError(
                        f"{path}: action-potential kernel ap_kernels/{probe}/{Y} is not complete "
                        "(finish the run with --resume, or pass --no-ap)"
                    )
                out.setdefault(probe, {})[Y] = np.asarray(ds[...], dtype=float)
    return out


# --------------------------------------------------------------------------- prediction


def _settling_time(kernels: dict, dt: float, n_tau: int, rtol: float = 0.01) -> float:
    """Lag (ms) after which every kernel that is not a numerical zero (1e-6 of the
    largest of its probe) stays below ``rtol`` of its largest value."""
    from .kernel import kernel_duration

    last = 0.0
    for per_pair in kernels.values():
        largest = max((float(np.abs(H).max()) for H in per_pair.values()), default=0.0)
        for H in per_pair.values():
            if np.abs(H).max() > 1e-6 * largest:
                last = max(last, kernel_duration(H[:, n_tau:], dt, rtol))
    return last


def _block_size(n_tau: int, block: int | None) -> tuple[int, int]:
    """FFT length F and output samples per block B (F >= B + 4·n_tau)."""
    from scipy.fft import next_fast_len

    if block is None:
        F = next_fast_len(max(16384, 8 * (4 * n_tau + 1)))
        return F, F - 4 * n_tau
    block = max(1, int(block))
    return next_fast_len(block + 4 * n_tau), block


def predict(
    kernels_path,
    spikes_path,
    out,
    *,
    t_start: float = 0.0,
    t_stop: float | None = None,
    per_pair: bool = False,
    mapping=None,
    missing_silent: bool = False,
    block: int | None = None,
    overwrite: bool = False,
    counts: dict | None = None,
    point: int | None = None,
    ap: bool = True,
    log=print,
    warn=None,
) -> Path:
    """Write the predicted signals of ``spikes_path`` through the kernels of
    ``kernels_path`` to ``out`` (see the module docstring). Returns ``out``.

    Parameters
    ----------
    kernels_path : str or path-like
        A kernels file (or a scan file, with ``point``).
    spikes_path : str or path-like
        Spikes: an HDF5 file (times in ms per population), a folder of NEST ``.dat``
        files, or an ``.npz`` of times (ms).
    out : str or path-like
        The signals file to write (HDF5; signals in the kernels' units: mV, nA·µm, fT,
        µA/mm³).
    t_start : float
        Start of the first bin, ms.
    t_stop : float or None
        End of the recording, ms (None: the spikes file's ``t_stop``, else the last
        spike plus one bin).
    per_pair : bool
        Also write the contribution of every pathway X → Y.
    mapping : dict or None
        Population → glob of ``.dat`` files.
    missing_silent : bool
        Treat populations without spikes as silent.
    block : int or None
        Output bins per FFT block (a count; None: about 16,384 samples).
    overwrite : bool
        Replace an existing ``out``.
    counts : dict or None
        Presynaptic populations given as event counts per bin instead of spike times
        ({X: array of the n_bins bins from t_start}); ``spikes_path`` is then not
        asked for them.
    point : int or None
        The kernels of this point of a scan file.
    ap : bool
        Add the action-potential kernels of the file (if it has any).
    log : callable
        Where progress lines go.
    warn : callable or None
        Where warnings go (default: a ``lfpk_hpc: warning: ...`` line on stderr).

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    import h5py

    warn = warn or _warning
    from scipy.fft import irfft, rfft

    t0 = time.perf_counter()
    out = Path(out)
    # the arguments against each other first, then the files (before any reading)
    if not (isinstance(t_start, (int, float)) and math.isfinite(t_start) and t_start >= 0):
        raise SpikesError(f"--tstart = {t_start!r} is invalid: must be a finite time >= 0 ms")
    if t_stop is not None and not (math.isfinite(t_stop) and t_stop > t_start):
        raise SpikesError(
            f"--tstop = {t_stop!r} is invalid: must be a finite time > --tstart = {t_start!r} ms"
        )
    if block is not None and not (isinstance(block, (int, np.integer)) and block >= 1):
        raise SpikesError(f"--block = {block!r} is invalid: must be a whole number >= 1 (bins)")
    if out.exists() and not overwrite:
        raise SpikesError(f"output {str(out)!r} exists; choose another --out or pass --overwrite")
    if out.parent.exists() and not out.parent.is_dir():
        raise SpikesError(f"--out {str(out)!r} is invalid: {str(out.parent)!r} is not a folder")
    from .kernelsfile import KernelsFileError, resolve_point, scan_point_label

    if point is not None:
        try:
            point = resolve_point(kernels_path, point)
        except KernelsFileError as exc:
            raise SpikesError(str(exc)) from None
    info, kernels = read_kernel_set(kernels_path, point=point)
    dt, tau = info["dt"], info["tau"]
    n_tau = int(round(tau / dt))
    ap_kernels = info["ap"] if ap else {}
    ap_Ys = [Y for Y in info["Y"] if any(Y in per_Y for per_Y in ap_kernels.values())]
    counts = dict(counts or {})
    # the populations whose spikes are used: presynaptic X, and Y of an AP kernel
    sources = list(info["X"]) + [Y for Y in ap_Ys if Y not in info["X"]]
    unknown = sorted(set(counts) - set(sources))
    if unknown:
        raise SpikesError(f"counts for {unknown} given, but the kernels have no such population")
    try:
        spikes, file_t_stop = read_spikes(
            spikes_path,
            [X for X in sources if X not in counts],
            mapping=mapping,
            missing_silent=missing_silent,
            also=list(counts) + list(info["Y"]),
        )
    except SpikesError as exc:
        missing = [Y for Y in ap_Ys if Y not in info["X"] and repr(Y) in str(exc)]
        if missing:
            raise SpikesError(
                f"{exc} (the kernels have action-potential kernels of {', '.join(missing)}, "
                "which need their spikes; --no-ap leaves them out)"
            ) from None
        raise
    if t_stop is None:
        t_stop = file_t_stop
    if t_stop is None:
        last = max((float(s.max()) for s in spikes.values() if s.size), default=t_start)
        t_stop = last + dt
        warn(
            f"{spikes_path} holds no end time (t_stop): the signals end at its last spike + dt "
            f"= {t_stop:.10g} ms; pass --tstop to set the end of the recording"
        )
    if not t_stop > t_start:
        raise SpikesError(
            f"--tstop = {t_stop!r} is invalid: must be > --tstart = {t_start!r} ms (the last "
            f"spike in {spikes_path} is before --tstart)"
        )
    n_bins = int(math.floor((t_stop - t_start) / dt + 1e-9))
    if n_bins < 1:
        raise SpikesError(
            f"--tstop - --tstart = {t_stop - t_start:g} ms is invalid: shorter than the "
            f"kernels' dt = {dt:g} ms"
        )
    Xs, Ys = sources, info["Y"]
    for X, c in counts.items():
        c = np.asarray(c, dtype=float)
        if c.shape != (n_bins,) or not np.all(np.isfinite(c)):
            raise SpikesError(
                f"counts[{X!r}] has shape {c.shape}, but is invalid: {n_bins} finite counts "
                f"(bins of {dt} ms from {t_start} ms) are needed"
            )
        counts[X] = c
    for X in Xs:
        if X not in counts:
            counts[X] = bin_spikes(spikes[X], dt, t_start, n_bins)
    n_spikes = {X: int(counts[X].sum()) for X in Xs}
    log(
        f"predict: kernels {kernels_path}"
        + (f" {scan_point_label(kernels_path, point)}" if point is not None else "")
        + f" ({info['model_name']}, dt {dt} ms, tau {tau} ms), "
        f"spikes {spikes_path}"
    )
    log(
        f"  {n_bins} bins of {dt} ms from {t_start} ms to {t_start + n_bins * dt} ms; spikes "
        + ", ".join(f"{X} {n_spikes[X]}" for X in Xs)
    )

    F, B = _block_size(n_tau, block)
    n_blocks = -(-n_bins // B)
    probes = list(kernels)
    # transformed kernels, per probe: pairs that are not all zero, grouped by Y
    spectra = {}
    for p in probes:
        spectra[p] = {}
        for (Y, X), H in kernels[p].items():
            if H.any() and n_spikes.get(X, 0) > 0:
                spectra[p].setdefault(Y, []).append((X, rfft(H, F, axis=1)))
        # a population's own spikes through its action-potential kernel
        for Y, H in ap_kernels.get(p, {}).items():
            if H.any() and n_spikes.get(Y, 0) > 0:
                spectra[p].setdefault(Y, []).append(((_AP, Y), rfft(H, F, axis=1)))
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["source"] = "lfpk_hpc predict"
        f.attrs["kernels"] = str(kernels_path)
        if point is not None:
            f.attrs["scan_point"] = point
        f.attrs["spikes"] = str(spikes_path)
        f.attrs["params_hash"] = info["params_hash"]
        f.attrs["model_name"] = info["model_name"]
        f.attrs["dt"] = dt
        f.attrs["t_start"] = t_start
        f.attrs["n_bins"] = n_bins
        f.attrs["action_potentials"] = bool(ap_Ys)
        # the first samples lack the spikes before t_start, which the kernels carry
        # into them: until every kernel has decayed (below 1 % of its largest value)
        f.attrs["transient"] = _settling_time(kernels, dt, n_tau)
        f.attrs["transient_about"] = (
            "ms after t_start in which the signals lack the contributions of spikes before "
            "t_start (the lag after which every kernel stays below 1 % of its largest value)"
        )

        def dataset(name, n_ch, units):
            ds = f.create_dataset(
                name, shape=(n_ch, n_bins), dtype="f8", chunks=(n_ch, min(B, n_bins))
            )
            ds.attrs["dt"] = dt
            ds.attrs["t_start"] = t_start
            ds.attrs["units"] = units
            return ds

        out_sig, out_con, out_pair = {}, {}, {}
        for p in probes:
            n_ch = next(iter(kernels[p].values())).shape[0]
            units = info["units"][p]
            out_sig[p] = dataset(f"signals/{p}", n_ch, units)
            for k, v in info["probe_attrs"][p].items():
                if k not in ("units",):
                    f[f"signals/{p}"].attrs[f"probe_{k}"] = v
            for Y in Ys:
                out_con[(p, Y)] = dataset(f"contributions/{p}/{Y}", n_ch, units)
                if per_pair:
                    for X in Xs:
                        if (Y, X) in kernels[p]:
                            out_pair[(p, Y, X)] = dataset(f"pairs/{p}/{Y}/{X}", n_ch, units)
                if Y in ap_kernels.get(p, {}):
                    out_pair[(p, Y, (_AP, Y))] = dataset(f"action_potentials/{p}/{Y}", n_ch, units)
        for X in Xs:
            ds = f.create_dataset(f"rates/{X}", data=counts[X], chunks=(min(B, n_bins),))
            ds.attrs["units"] = "spikes per bin"
            ds.attrs["dt"] = dt
            ds.attrs["t_start"] = t_start
        t_last = time.perf_counter()
        for b in range(n_blocks):
            a = b * B
            e = min(a + B, n_bins)
            lo, hi = a - 2 * n_tau, e + 2 * n_tau  # ν samples the block's outputs need
            seg_lo, seg_hi = max(lo, 0), min(hi, n_bins)
            nu_f = {}
            for X in Xs:
                if n_spikes[X] == 0:
                    continue
                seg = np.zeros(hi - lo)
                seg[seg_lo - lo : seg_hi - lo] = counts[X][seg_lo:seg_hi]
                nu_f[X] = rfft(seg, F)
            # full convolution index of output sample a + t is t + 3·n_tau here
            sl = slice(3 * n_tau, 3 * n_tau + (e - a))
            for p in probes:
                total = None
                for Y in Ys:
                    acc = None
                    for X, HF in spectra[p].get(Y, ()):
                        prod = HF * nu_f[X[1] if isinstance(X, tuple) else X][None, :]
                        if per_pair or isinstance(X, tuple):
                            out_pair[(p, Y, X)][:, a:e] = irfft(prod, F, axis=1)[:, sl]
                        acc = prod if acc is None else acc + prod
                    if acc is None:
                        continue  # zeros (the dataset's fill value)
                    part = irfft(acc, F, axis=1)[:, sl]
                    out_con[(p, Y)][:, a:e] = part
                    total = part if total is None else total + part
                if total is not None:
                    out_sig[p][:, a:e] = total
            if time.perf_counter() - t_last > 5 and b + 1 < n_blocks:
                t_last = time.perf_counter()
                log(f"  block {b + 1}/{n_blocks} ({(b + 1) / n_blocks:.0%}), {t_last - t0:.1f} s")
        f.attrs["wall_time_s"] = time.perf_counter() - t0
    tmp.replace(out)
    log(f"wrote {out} ({len(probes)} probes, {n_bins} bins, {time.perf_counter() - t0:.2f} s)")
    return out


# --------------------------------------------------------------------------- CLI


def add_arguments(parser) -> None:
    parser.description = (
        "Predict the signals (LFP, dipole moment, EEG) of a network from its spikes and the "
        "kernels: V = sum_X sum_Y nu_X * H_YX."
    )
    parser.add_argument("kernels", help="kernels file (from python -m lfpk_hpc PARAMS)")
    parser.add_argument("spikes", help="spikes: .h5, .npz, a NEST .dat file or a folder of them")
    parser.add_argument(
        "--point",
        default=None,
        help="with a scan file as KERNELS: the kernels of this point, by index (0-based) or "
        "values, e.g. 'kernel.tau=100,populations[E].nu=3' (default: none, KERNELS is a "
        "kernels file)",
    )
    parser.add_argument("--out", required=True, help="output signals file (HDF5)")
    parser.add_argument("--tstart", type=float, default=0.0, help="start of the first bin (ms)")
    parser.add_argument(
        "--tstop",
        type=float,
        default=None,
        help="end of the last bin (ms; default: the spikes file's t_stop, else "
        "the last spike + dt)",
    )
    parser.add_argument(
        "--per-pair", action="store_true", help="also write the contribution of every (X, Y) pair"
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="POP=GLOB",
        help="NEST .dat files of a population (repeatable; default: a folder's files named "
        "<population>*.dat)",
    )
    parser.add_argument(
        "--missing-silent",
        action="store_true",
        help="treat presynaptic populations without spikes as silent",
    )
    parser.add_argument(
        "--block", type=int, default=None, help="output bins per FFT block (default: automatic)"
    )
    parser.add_argument(
        "--no-ap",
        action="store_true",
        help="leave out the action-potential kernels of the kernels file (default: add "
        "nu_Y * H^AP_Y for every population Y that has one)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def _error(msg, code: int = 2) -> int:
    from .errors import report

    return report(msg, code)


def _warning(msg) -> None:
    import sys

    print(f"lfpk_hpc: warning: {' '.join(str(msg).split())}", file=sys.stderr, flush=True)


def main(args) -> int:
    """Under mpirun rank 0 predicts and the other ranks wait (the work is one process's:
    FFTs over the whole recording); an error ends every rank (run_guarded)."""
    from .parallel import env_rank, fault_point, launched_with_mpi, run_guarded, world_comm

    # MPI without NEURON (predict never simulates)
    comm = world_comm(neuron_in_mpi=True) if launched_with_mpi() else None
    rank = comm.Get_rank() if comm is not None else env_rank()

    def work():
        if rank != 0:
            return 0
        fault_point("predict", rank)
        return _main(args)

    return run_guarded(work, comm)


def _main(args) -> int:
    mapping = {}
    for item in args.map:
        if "=" not in item:
            raise SpikesError(
                f"--map {item!r} is invalid: use POP=GLOB, e.g. L23E='spike*-1-*.dat'"
            )
        pop, pattern = item.split("=", 1)
        mapping[pop] = pattern
    predict(
        args.kernels,
        args.spikes,
        args.out,
        t_start=args.tstart,
        t_stop=args.tstop,
        per_pair=args.per_pair,
        mapping=mapping or None,
        missing_silent=args.missing_silent,
        block=args.block,
        overwrite=args.overwrite,
        point=args.point,
        ap=not args.no_ap,
        log=lambda m: print(m, flush=True),
    )
    return 0
