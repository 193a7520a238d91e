"""Validation metrics: kernel predictions against a ground truth, channel by channel.

Metrics (Hagen et al. 2022, PLOS Comput Biol 18(8): e1010353, Figures 4-9), per
channel of the LFP and for the z component of the current dipole moment, after a
start-up transient:

- r = Pearson correlation of prediction and ground truth, and R² = r²;
- r_STD = std(prediction) / std(ground truth);
- all on the raw signals and after a 100 Hz low-pass (elliptic, order 2,
  0.1 dB ripple, 40 dB attenuation, applied forwards and backwards, so that the
  gain is the square of the filter's: −0.2 dB at 100 Hz, below −80 dB in the stop
  band);
- power spectra (Welch, NFFT 2048, overlap 1536) and the coherence
  |P_xy|² / (P_xx P_yy);
- aggregated as medians with 10 and 90 % quantiles over channels.

``metrics.json`` holds ``{"lfp": {"r": [...], "r_median": …, "r_lowpass": [...],
"r_median_lowpass": …, "r2": [...], "r2_median": …, "r2_lowpass": [...],
"r2_median_lowpass": …, "rstd": [...], "rstd_median": …, …, "passed": true,
"failures": []}, "cdm": {…}}``.

Failure. R² cannot tell a prediction from its negative, r can: a probe
**fails** (``"passed": false``, the reasons in ``"failures"``, FAILED in the
report's table) when the median over its channels of r, raw or low-passed, is
negative (below :data:`R_MIN` = 0: the prediction is anticorrelated with the
ground truth, a sign error) or undefined (a constant prediction, e.g. one
without any population); see :func:`verdict`. A single channel with r < 0 under a
positive median does not fail the probe (where the LFP changes polarity a
channel may carry almost no signal). There are no thresholds on R² or r_STD:
what they reach depends on the network's scale (the tables of docs/guide/validation.md).

``python -m lfpk_hpc compare`` and ``validate`` (:mod:`lfpk_hpc.validate`) write these;
the diagnoses ``"with_extrinsic"`` and ``"with_action_potentials"`` have the same keys.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "R_MIN",
    "ValidationError",
    "channel_metrics",
    "compare",
    "compare_populations",
    "lowpass",
    "public",
    "summary",
    "verdict",
]


class ValidationError(ValueError):
    """Bad input to compare/validate."""

    exit_code = 2


#: a probe passes when the median correlation r (raw and low-passed) is at least this
R_MIN = 0.0


def lowpass(x: np.ndarray, dt: float, f_cut: float = 100.0) -> np.ndarray:
    """Zero-phase elliptic low-pass (order 2, 0.1 dB ripple, 40 dB stop band) along
    the last axis; ``dt`` in ms, ``f_cut`` in Hz (Hagen et al. 2022).

    Parameters
    ----------
    x : numpy.ndarray
        Signals (any units), time along the last axis.
    dt : float
        Sampling interval (ms).
    f_cut : float, optional
        Cut-off frequency (Hz).

    Returns
    -------
    numpy.ndarray
        The filtered signals, in ``x``'s units.
    """
    import scipy.signal as ss

    fs = 1000.0 / dt
    sos = ss.ellip(2, 0.1, 40, f_cut, btype="low", fs=fs, output="sos")
    return ss.sosfiltfilt(sos, x, axis=-1)


def _r_rstd(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation r and r_STD = std(pred)/std(truth) per row (NaN where a
    row is constant)."""
    p = pred - pred.mean(axis=-1, keepdims=True)
    t = truth - truth.mean(axis=-1, keepdims=True)
    sp = np.sqrt((p * p).sum(axis=-1))
    st = np.sqrt((t * t).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (p * t).sum(axis=-1) / (sp * st)
        rstd = sp / st
    return r, rstd


def channel_metrics(pred: np.ndarray, truth: np.ndarray, dt: float) -> dict:
    """r, R² = r² and r_STD per channel (rows), raw and low-passed, plus spectra.

    Parameters
    ----------
    pred : numpy.ndarray
        The prediction (channels, samples), in the signal's units (e.g. mV).
    truth : numpy.ndarray
        The ground truth, same shape and units.
    dt : float
        Sampling interval (ms).

    Returns
    -------
    dict
        Per channel r, r2, rstd (dimensionless) and their low-passed values; ``freqs``
        (Hz); the spectra ``psd_truth`` and ``psd_pred`` (the signal's units squared
        per Hz); ``coherence`` (dimensionless).

    Raises
    ------
    ValidationError
        The shapes differ.
    """
    import scipy.signal as ss

    pred = np.atleast_2d(np.asarray(pred, dtype=float))
    truth = np.atleast_2d(np.asarray(truth, dtype=float))
    if pred.shape != truth.shape:
        raise ValidationError(
            f"prediction shape {pred.shape} differs from ground truth {truth.shape}"
        )
    r, rstd = _r_rstd(pred, truth)
    lp = truth.shape[-1] > 30
    r_lp, rstd_lp = (
        _r_rstd(lowpass(pred, dt), lowpass(truth, dt))
        if lp
        else (np.full_like(r, np.nan), np.full_like(r, np.nan))
    )
    fs = 1000.0 / dt
    nfft = min(2048, truth.shape[-1])
    f, p_tt = ss.welch(truth, fs=fs, nperseg=nfft, noverlap=nfft * 3 // 4, axis=-1)
    _, p_pp = ss.welch(pred, fs=fs, nperseg=nfft, noverlap=nfft * 3 // 4, axis=-1)
    _, coh = ss.coherence(pred, truth, fs=fs, nperseg=nfft, noverlap=nfft * 3 // 4, axis=-1)
    return {
        "r": r,
        "r2": r**2,
        "rstd": rstd,
        "r_lowpass": r_lp,
        "r2_lowpass": r_lp**2,
        "rstd_lowpass": rstd_lp,
        "freqs": f,
        "psd_truth": p_tt,
        "psd_pred": p_pp,
        "coherence": coh,
    }


def summary(values) -> dict:
    """Median and 10/90 % quantiles (NaNs ignored).

    Parameters
    ----------
    values : array_like of float
        The values (any units).

    Returns
    -------
    dict
        ``median``, ``q10`` and ``q90``, in the values' units (None without a finite
        value).
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"median": None, "q10": None, "q90": None}
    return {
        "median": float(np.median(v)),
        "q10": float(np.quantile(v, 0.1)),
        "q90": float(np.quantile(v, 0.9)),
    }


def verdict(entry: dict) -> tuple[bool, list[str]]:
    """(passed, reasons) of one probe's comparison (an entry of :func:`compare`).

    A probe fails when the median over its channels of r, raw or low-passed, is
    below :data:`R_MIN` (0: the prediction is anticorrelated with the ground truth,
    the mark of a sign error, which R² = r² cannot see) or undefined (a constant
    prediction, e.g. one without any population). Single channels with r < 0 under
    a positive median do not fail a probe: where the LFP changes polarity a channel
    may carry almost no signal.

    Parameters
    ----------
    entry : dict
        One probe's metrics from :func:`compare` (its ``r``, ``r_median``,
        ``r_lowpass`` and ``r_median_lowpass``: correlations, dimensionless).

    Returns
    -------
    passed : bool
        False when a median r is below :data:`R_MIN` or undefined.
    failures : list of str
        One line per reason, naming the channels with r < 0.
    """
    failures = []
    for key, what in (("r_median", "r"), ("r_median_lowpass", "low-passed r")):
        m = entry.get(key)
        if m is None or not np.isfinite(m):
            failures.append(f"median {what} is undefined (a constant signal)")
        elif m < R_MIN:
            values = entry.get(key.replace("_median", "")) or []
            neg = [i for i, v in enumerate(values) if v is not None and v < 0]
            failures.append(
                f"median {what} = {m:.3f} < {R_MIN:g}: the prediction is anticorrelated "
                f"with the ground truth (r < 0 on channels {neg})"
            )
    return not failures, failures


def _read_signals(path):
    import h5py

    from .probes import canonical_units

    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"signals file {str(path)!r} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValidationError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        if "signals" not in f:
            raise ValidationError(f"{path}: not a signals file (no /signals)")
        out = {}
        for p, ds in f["signals"].items():
            out[p] = {
                "data": ds[...],
                "dt": float(ds.attrs["dt"]),
                "t_start": float(ds.attrs.get("t_start", 0.0)),
                "units": canonical_units(ds.attrs.get("units", "")),
                "z": (
                    np.asarray(ds.attrs["probe_z"], dtype=float) if "probe_z" in ds.attrs else None
                ),
            }
            if "contributions" in f and p in f["contributions"]:
                out[p]["contributions"] = {Y: d[...] for Y, d in f["contributions"][p].items()}
        attrs = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in f.attrs.items()}
    return out, attrs


def compare(truth_path, pred_path, *, transient: float = 200.0) -> dict:
    """Metrics of every probe the two signals files share (see the module docstring).

    Signals are aligned on their common time span at the common dt (the finer one is
    averaged down when one dt is an integer multiple of the other); the first
    ``transient`` ms of the ground truth are left out.

    Parameters
    ----------
    truth_path, pred_path : str or path-like
        Signals files in the layout of ``predict`` (signals in mV, nA·µm, fT, µA/mm³).
    transient : float
        Start-up time left out, ms.

    Returns
    -------
    dict
        Per probe: the per-channel correlation r, R² = r² and r_STD (dimensionless), raw
        and after a 100 Hz low-pass, their medians and 10/90 % quantiles, Welch spectra
        (units²/Hz) and coherence, and the verdict (``passed``, ``failures``).
    """
    truth, t_attrs = _read_signals(truth_path)
    pred, _ = _read_signals(pred_path)
    shared = [p for p in truth if p in pred]
    if not shared:
        raise ValidationError(
            f"ground truth {str(truth_path)!r} and prediction {str(pred_path)!r} share no probe "
            f"({', '.join(sorted(truth))} vs {', '.join(sorted(pred))})"
        )
    out = {}
    from .probes import DIPOLE_UNITS

    for p in shared:
        try:
            a, b = _aligned(truth[p], pred[p], transient, p)
        except ValidationError as exc:  # name both files
            raise ValidationError(
                f"{exc} (ground truth {str(truth_path)!r}, prediction {str(pred_path)!r})"
            ) from None
        dt = a["dt"]
        tr, pr = a["data"], b["data"]
        if truth[p]["units"] == DIPOLE_UNITS and tr.shape[0] == 3:
            tr, pr = tr[2:3], pr[2:3]  # a dipole moment: its z component
        m = channel_metrics(pr, tr, dt)
        entry = {
            "units": truth[p]["units"],
            "dt": dt,
            "n_samples": int(tr.shape[-1]),
            "transient_ms": transient,
        }
        for key in ("r", "r2", "rstd", "r_lowpass", "r2_lowpass", "rstd_lowpass"):
            entry[key] = [None if not np.isfinite(v) else float(v) for v in m[key]]
            s = summary(m[key])
            suffix = "_lowpass" if key.endswith("_lowpass") else ""
            base = key.replace("_lowpass", "")
            entry[f"{base}_median{suffix}"] = s["median"]
            entry[f"{base}_q10{suffix}"] = s["q10"]
            entry[f"{base}_q90{suffix}"] = s["q90"]
        entry["passed"], entry["failures"] = verdict(entry)
        entry["coherence_median_below_100Hz"] = float(
            np.nanmedian(m["coherence"][..., (m["freqs"] > 0) & (m["freqs"] <= 100)])
        )
        entry["_spectra"] = {
            "freqs": m["freqs"],
            "psd_truth": m["psd_truth"],
            "psd_pred": m["psd_pred"],
            "coherence": m["coherence"],
        }
        entry["_traces"] = {
            "truth": tr,
            "pred": pr,
            "dt": dt,
            "t0": a["t_start"],
            "z": truth[p]["z"] if truth[p]["z"] is not None else pred[p]["z"],
        }
        out[p] = entry
    out["_groundtruth_attrs"] = t_attrs
    return out


def compare_populations(truth_path, pred_path, *, transient: float = 200.0) -> dict:
    """Per postsynaptic population Y and probe, the medians (with 10/90 % quantiles) of
    R² and r_STD, raw and low-passed, of the two files' ``/contributions/<probe>/<Y>``
    (aligned and reduced like :func:`compare`; a dipole by its z component).

    Parameters
    ----------
    truth_path, pred_path : str or path-like
        Signals files with per-population contributions (mV, nA·µm, fT or µA/mm³).
    transient : float
        Start-up time left out, ms.

    Returns
    -------
    dict
        ``{probe: {Y: {...}}}``: medians and 10/90 % quantiles of R² and r_STD
        (dimensionless) over the channels, raw and low-passed.
    """
    truth, _ = _read_signals(truth_path)
    pred, _ = _read_signals(pred_path)
    out: dict = {}
    for p in [p for p in truth if p in pred]:
        ct, cp = truth[p].get("contributions", {}), pred[p].get("contributions", {})
        for Y in [Y for Y in ct if Y in cp]:
            a, b = _aligned(
                dict(truth[p], data=ct[Y]), dict(pred[p], data=cp[Y]), transient, f"{p}/{Y}"
            )
            tr, pr = a["data"], b["data"]
            if tr.shape[0] == 3 and truth[p]["units"] in ("nA*um", "nA·µm"):
                tr, pr = tr[2:3], pr[2:3]
            m = channel_metrics(pr, tr, a["dt"])
            entry = {}
            for key in ("r2", "rstd", "r2_lowpass", "rstd_lowpass"):
                s = summary(m[key])
                suffix = "_lowpass" if key.endswith("_lowpass") else ""
                base = key.replace("_lowpass", "")
                for q in ("median", "q10", "q90"):
                    entry[f"{base}_{q}{suffix}"] = s[q]
            out.setdefault(Y, {})[p] = entry
    return out


def _aligned(a: dict, b: dict, transient: float, probe: str):
    dt_a, dt_b = a["dt"], b["dt"]
    if not np.isclose(dt_a, dt_b):
        fine, coarse = (a, b) if dt_a < dt_b else (b, a)
        k = coarse["dt"] / fine["dt"]
        if abs(k - round(k)) > 1e-9:
            raise ValidationError(f"{probe}: time steps {dt_a} and {dt_b} ms are not multiples")
        k = int(round(k))
        n = fine["data"].shape[-1] // k
        fine = dict(
            fine,
            data=fine["data"][..., : n * k].reshape(*fine["data"].shape[:-1], n, k).mean(axis=-1),
            dt=coarse["dt"],
        )
        a, b = (fine, coarse) if dt_a < dt_b else (coarse, fine)
    dt = a["dt"]
    t0 = max(a["t_start"], b["t_start"], a["t_start"] + transient)
    t1 = min(a["t_start"] + a["data"].shape[-1] * dt, b["t_start"] + b["data"].shape[-1] * dt)
    n = int(np.floor((t1 - t0) / dt + 1e-9))
    if n < 2:
        raise ValidationError(f"{probe}: no common time after the {transient} ms transient")
    ia = int(round((t0 - a["t_start"]) / dt))
    ib = int(round((t0 - b["t_start"]) / dt))
    if a["data"].shape[0] != b["data"].shape[0]:
        raise ValidationError(
            f"{probe}: the ground truth has {a['data'].shape[0]} channels, the prediction "
            f"{b['data'].shape[0]}: signals of different models"
        )
    return (
        dict(a, data=a["data"][:, ia : ia + n], t_start=t0),
        dict(b, data=b["data"][:, ib : ib + n], t_start=t0),
    )


#: keys of further comparisons in a metrics dict: the prediction plus the extrinsic
#: input's events, and plus the cells' own action potentials (diagnoses)
WITH_EXTRINSIC = "with_extrinsic"
WITH_APS = "with_action_potentials"
VARIANTS = {
    WITH_EXTRINSIC: "+ extrinsic events",
    WITH_APS: "+ action potentials",
}


#: keys of a metrics dict that are not probes: per-population metrics and wall times
NOT_PROBES = ("per_population", "wall_time_s")


def public(metrics: dict) -> dict:
    """The JSON part of :func:`compare`'s result (and of a second comparison under
    ``with_extrinsic``).

    Parameters
    ----------
    metrics : dict
        A result of :func:`compare`, possibly with the diagnoses' results nested
        under ``with_extrinsic`` and ``with_action_potentials``.

    Returns
    -------
    dict
        The same without the private entries (keys starting with ``_``: the
        signals kept for the figures).
    """
    out = {}
    for p, e in metrics.items():
        if p.startswith("_"):
            continue
        if p in VARIANTS:
            out[p] = public(e)
        elif p in NOT_PROBES:
            out[p] = e
        else:
            out[p] = {k: v for k, v in e.items() if not k.startswith("_")}
    return out


def _probes(metrics: dict):
    """(probe, entry) of a metrics dict, without the private and nested parts."""
    return [
        (p, e)
        for p, e in metrics.items()
        if not p.startswith("_") and p not in VARIANTS and p not in NOT_PROBES
    ]
