"""Validation: kernel predictions against a full biophysical ground truth.

    python -m lfpk_hpc compare GROUNDTRUTH_SIGNALS.h5 PREDICTED_SIGNALS.h5 --out validation/
    mpirun -n 2 python -m lfpk_hpc validate params/hagen2022.py --out validation/ [--scale 0.2]

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
what they reach depends on the network's scale (see the README).

Those are the kernel route as a user of a point-neuron network applies it: the
synaptic kernels of the network's populations and their spikes. ``validate`` adds
two diagnoses under ``"with_extrinsic"`` and ``"with_action_potentials"`` (same
keys), each a prediction with one more part of the ground truth's signal:

- the extrinsic input's events (counted by the ground truth per bin,
  ``groundtruth/extrinsic.h5``) through one kernel per population Y for one
  extrinsic synapse activation (:func:`with_extrinsic`);
- the cells' own action potentials: per population a kernel of one spike of one
  cell with the ground truth's hh soma (:func:`ap_kernels`), convolved with the
  population's own spike counts.

What they showed for params/hagen2022.py (2 s, seed 1234, 2 ranks): at scale 0.1
the synaptic kernels gave a low-passed median R² of 0.885 for the LFP and 0.909
for the dipole; the extrinsic events changed nothing (0.884, 0.909), the action
potentials raised them to 0.952 and 0.975. Action-potential currents grow with
the number of spikes (∝ scale) while the synaptic signal grows with spikes times
out-degree (∝ scale²), so the smaller the network, the more they matter. At the
default scale 0.2 the synaptic kernels alone give 0.955 (LFP) and 0.963 (dipole).
Other stand-ins for the active soma in the kernels (``--soma``) did worse at 0.1:
its time-averaged conductance 0.879 (LFP), the quasi-active linearisation of hh
(mod/lfpk_qa.mod) 0.763.

NEURON joins MPI for the ground truth, and its spike exchange then makes every
``finitialize``/``fadvance`` of the process collective; so every rank computes
every kernel (and action potential) of the validation, in the same order.
"""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import numpy as np

__all__ = ["ValidationError", "channel_metrics", "compare", "lowpass", "summary"]


class ValidationError(ValueError):
    """Bad input to compare/validate."""


#: a probe passes when the median correlation r (raw and low-passed) is at least this
R_MIN = 0.0


# --------------------------------------------------------------------------- metrics


def lowpass(x: np.ndarray, dt: float, f_cut: float = 100.0) -> np.ndarray:
    """Zero-phase elliptic low-pass (order 2, 0.1 dB ripple, 40 dB stop band) along
    the last axis; ``dt`` in ms, ``f_cut`` in Hz (Hagen et al. 2022)."""
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
    """r, R² = r² and r_STD per channel (rows), raw and low-passed, plus spectra."""
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
    """Median and 10/90 % quantiles (NaNs ignored)."""
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
    may carry almost no signal."""
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
                "units": str(ds.attrs.get("units", "")),
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
    """
    truth, t_attrs = _read_signals(truth_path)
    pred, _ = _read_signals(pred_path)
    shared = [p for p in truth if p in pred]
    if not shared:
        raise ValidationError(
            f"{truth_path} and {pred_path} share no probe ({sorted(truth)} vs {sorted(pred)})"
        )
    out = {}
    for p in shared:
        a, b = _aligned(truth[p], pred[p], transient, p)
        dt = a["dt"]
        tr, pr = a["data"], b["data"]
        if truth[p]["units"] == "nA*um" and tr.shape[0] == 3:
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
        entry["_traces"] = {"truth": tr, "pred": pr, "dt": dt, "t0": a["t_start"]}
        out[p] = entry
    out["_groundtruth_attrs"] = t_attrs
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
        raise ValidationError(f"{probe}: {a['data'].shape[0]} vs {b['data'].shape[0]} channels")
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


def public(metrics: dict) -> dict:
    """The JSON part of :func:`compare`'s result (and of a second comparison under
    ``with_extrinsic``)."""
    out = {}
    for p, e in metrics.items():
        if p.startswith("_"):
            continue
        if p in VARIANTS:
            out[p] = public(e)
        else:
            out[p] = {k: v for k, v in e.items() if not k.startswith("_")}
    return out


def _probes(metrics: dict):
    """(probe, entry) of a metrics dict, without the private and nested parts."""
    return [(p, e) for p, e in metrics.items() if not p.startswith("_") and p not in VARIANTS]


# --------------------------------------------------------------------------- report


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def report(
    metrics: dict, out_dir, *, title: str, context: dict | None = None, figures: dict | None = None
) -> Path:
    """Write ``out_dir``/report.html (figures embedded) and the figure PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    imgs = dict(figures or {})
    for p, e in _probes(metrics):
        tr = e["_traces"]
        n_ch = tr["truth"].shape[0]
        t = tr["t0"] + tr["dt"] * np.arange(tr["truth"].shape[-1])
        fig, axes = plt.subplots(
            n_ch, 1, figsize=(11, 1.1 * n_ch + 1.2), sharex=True, squeeze=False
        )
        for c in range(n_ch):
            ax = axes[c, 0]
            ax.plot(t, tr["truth"][c], "k", lw=0.7, label="ground truth")
            ax.plot(t, tr["pred"][c], "C3", lw=0.7, label="kernel prediction")
            r2 = e["r2"][c]
            ax.set_ylabel(f"ch {c}" if n_ch > 1 else e["units"], fontsize=8)
            ax.text(
                1.0,
                0.5,
                f"R² {r2:.2f}" if r2 is not None else "",
                transform=ax.transAxes,
                fontsize=8,
                ha="left",
                va="center",
            )
        axes[0, 0].legend(loc="upper right", fontsize=8)
        axes[-1, 0].set_xlabel("t (ms)")
        fig.suptitle(f"{p} ({e['units']}): ground truth vs prediction")
        imgs[f"traces_{p}"] = _png(fig)
        sp = e["_spectra"]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.5))
        keep = (sp["freqs"] > 0) & (sp["freqs"] <= 500)
        for c in range(sp["psd_truth"].shape[0]):
            a1.loglog(sp["freqs"][keep], sp["psd_truth"][c, keep], "k", lw=0.5)
            a1.loglog(sp["freqs"][keep], sp["psd_pred"][c, keep], "C3", lw=0.5)
            a2.semilogx(sp["freqs"][keep], sp["coherence"][c, keep], lw=0.5)
        a1.set_xlabel("f (Hz)")
        a1.set_ylabel(f"PSD (({e['units']})²/Hz)")
        a1.set_title("power spectra: black ground truth, red prediction")
        a2.set_xlabel("f (Hz)")
        a2.set_ylabel("coherence")
        a2.set_ylim(0, 1)
        imgs[f"spectra_{p}"] = _png(fig)
    for name, b64 in imgs.items():
        (out_dir / f"{name}.png").write_bytes(base64.b64decode(b64))
    from html import escape

    rows = []
    labelled = [(p, e) for p, e in _probes(metrics)]
    for key, label in VARIANTS.items():
        labelled += [(f"{p} <small>({label})</small>", e) for p, e in _probes(metrics.get(key, {}))]
    for p, e in labelled:

        def fmt(key, e=e):
            m = e.get(key)
            lo = e.get(key.replace("median", "q10"))
            hi = e.get(key.replace("median", "q90"))
            if m is None:
                return "–"
            return f"{m:.3f} <small>[{lo:.3f}, {hi:.3f}]</small>"

        status = (
            "passed"
            if e.get("passed", True)
            else "<b>FAILED</b>: " + escape("; ".join(e.get("failures", [])))
        )
        rows.append(
            f"<tr><td>{p}</td><td>{fmt('r2_median')}</td><td>{fmt('r2_median_lowpass')}"
            f"</td><td>{fmt('r_median')}</td><td>{fmt('r_median_lowpass')}</td>"
            f"<td>{fmt('rstd_median')}</td><td>{fmt('rstd_median_lowpass')}</td>"
            f"<td>{e['coherence_median_below_100Hz']:.3f}</td><td>{status}</td></tr>"
        )
    ctx = context or {}
    ctx_rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in ctx.items())
    figs = "".join(
        f"<h3>{name.replace('_', ' ')}</h3><img src='data:image/png;base64,{b64}'>"
        for name, b64 in imgs.items()
    )
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
img{{max-width:100%}}</style></head><body>
<h1>{title}</h1>
<h2>Agreement of kernel prediction and ground truth</h2>
<p>Median over channels with [10 %, 90 %] quantiles; r: Pearson correlation, R² = r²; r_STD:
std(prediction)/std(ground truth); low-pass: 100 Hz elliptic (order 2, 0.1 dB, 40 dB), zero
phase; dipole: z component (Hagen et al. 2022, PLOS Comput Biol 18(8): e1010353). A signal
fails when its median r, raw or low-passed, is negative or undefined.</p>
<table><tr><th>signal</th><th>R²</th><th>R² (≤100 Hz)</th><th>r</th><th>r (≤100 Hz)</th>
<th>r_STD</th><th>r_STD (≤100 Hz)</th><th>coherence (median ≤100 Hz)</th><th>verdict</th></tr>
{"".join(rows)}</table>
<h2>Run</h2><table>{ctx_rows}</table>
<h2>Figures</h2>{figs}
</body></html>"""
    path = out_dir / "report.html"
    path.write_text(html)
    return path


# --------------------------------------------------------------------------- CLI: compare


def add_compare_arguments(parser) -> None:
    parser.description = (
        "Compare ground-truth signals with kernel predictions: metrics.json, "
        "report.html and figures in --out."
    )
    parser.add_argument("truth", help="ground-truth signals file (from groundtruth)")
    parser.add_argument("prediction", help="predicted signals file (from predict)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--transient",
        type=float,
        default=200.0,
        help="start-up transient left out (ms, default 200)",
    )


def _error(msg, code: int = 2) -> int:
    from .cli import error

    return error(msg, code)


def write_metrics(metrics: dict, out_dir) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "metrics.json"
    path.write_text(json.dumps(public(metrics), indent=1))
    return path


def _print_summary(metrics: dict, label: str = "") -> None:
    for p, e in _probes(public(metrics)):
        r2, r2l = e.get("r2_median"), e.get("r2_median_lowpass")
        print(
            f"{p}{label}: median R² {r2 if r2 is None else round(r2, 3)}, "
            f"low-passed {r2l if r2l is None else round(r2l, 3)}, "
            f"median r_STD {e.get('rstd_median') and round(e['rstd_median'], 3)}",
            flush=True,
        )
    for key, label in VARIANTS.items():
        if key in metrics:
            _print_summary(metrics[key], f" ({label})")


def compare_main(args) -> int:
    try:
        metrics = compare(args.truth, args.prediction, transient=args.transient)
    except ValidationError as exc:
        return _error(str(exc))
    write_metrics(metrics, args.out)
    report(
        metrics,
        args.out,
        title=f"lfpk_hpc validation: {Path(args.truth).name} vs {Path(args.prediction).name}",
        context={
            "ground truth": args.truth,
            "prediction": args.prediction,
            "transient (ms)": args.transient,
            "created": time.strftime("%Y-%m-%d %H:%M"),
        },
    )
    _print_summary(metrics)
    print(f"wrote {Path(args.out) / 'metrics.json'} and {Path(args.out) / 'report.html'}")
    return 0


# --------------------------------------------------------------------------- CLI: validate


def add_arguments(parser) -> None:
    parser.description = (
        "Ground truth (LFPy.Network), kernels linearised around its median "
        "somatic potentials and with its rates, prediction from its spikes, "
        "comparison, report; everything in --out."
    )
    parser.add_argument("params", help="params file (e.g. params/hagen2022.py)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="fraction of the population sizes (default 0.2, lfpk_hpc.groundtruth.DEFAULT_SCALE)",
    )
    parser.add_argument("--tstop", type=float, default=2000.0, help="simulated time (ms)")
    parser.add_argument(
        "--transient",
        type=float,
        default=200.0,
        help="start-up transient left out of the metrics (ms)",
    )
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--soma",
        choices=sorted(SOMA_MODELS),
        default="chord",
        help="the kernels' stand-in for the ground truth's hh soma: "
        + "; ".join(f"{k}: {v}" for k, v in SOMA_MODELS.items())
        + " (default chord)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier ground truth in --out"
    )


def _raster_figure(spikes_path, tmax=None) -> str:
    import h5py
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 3.6), gridspec_kw={"width_ratios": (3, 1)})
    with h5py.File(spikes_path, "r") as f:
        t_stop = float(f.attrs.get("t_stop", 0.0))
        offset, names, rates = 0, [], []
        for i, (X, g) in enumerate(f.items()):
            t, s = g["times"][...], g["senders"][...] if "senders" in g else None
            n = int(g.attrs.get("N", (s.max() + 1) if s is not None and s.size else 1))
            keep = t <= (tmax if tmax is not None else t_stop)
            y = offset + (s[keep] if s is not None else np.zeros(keep.sum()))
            ax.plot(t[keep], y, ".", ms=1, color=f"C{i}", label=X)
            names.append(X)
            rates.append(t.size / max(n, 1) / (t_stop / 1000.0) if t_stop > 0 else np.nan)
            offset += n
    ax.set_xlabel("t (ms)")
    ax.set_ylabel("cell")
    ax.set_title("ground-truth spikes")
    ax.legend(loc="upper right", markerscale=8, fontsize=8)
    ax2.bar(names, rates, color=[f"C{i}" for i in range(len(names))])
    ax2.set_ylabel("rate (spikes/s)")
    ax2.set_title("mean rates")
    return _png(fig)


def _kernels_figure(kernels_path) -> str | None:
    try:
        from .plot import plot_kernels

        tmp = Path(kernels_path).with_suffix(".png")
        plot_kernels(kernels_path, tmp, dpi=80)
        return base64.b64encode(tmp.read_bytes()).decode()
    except Exception:  # the report is still useful without it
        return None


#: ``--soma``: the leak of the kernels' soma in place of the ground truth's hh soma
SOMA_MODELS = {
    "chord": "hh's steady-state conductance at the median somatic potential",
    "mean": "the ground truth's time-averaged hh conductance (spikes included)",
    "quasi-active": "chord conductance plus hh's gates linearised at the median "
    "somatic potential (mod/lfpk_qa.mod)",
}


def _quiet(*args, **kwargs) -> None:
    pass


def extrinsic_name(Y: str) -> str:
    """Name of the presynaptic stand-in for the extrinsic input onto Y."""
    return f"{Y}_ext"


def with_extrinsic(model):
    """``model`` plus, for every population Y with extrinsic input, a presynaptic
    population ``<Y>_ext`` whose "spikes" are the extrinsic events onto Y's cells.

    Each event activates one synapse of the extrinsic synapse model on one segment
    of one cell, the segment drawn by membrane area over all sections (the ground
    truth's rule), with no delay. So ``<Y>_ext`` is one source (N = 1) with
    C = 1/N_Y and exactly one synapse per connection: one event of it is one
    synapse activation, and its kernel is Y's mean response to one extrinsic event.
    Its rate nu is 0: the mean conductance of the extrinsic input is already in
    Y's effective leak (``Model.extrinsic``), not to be counted twice.
    """
    import dataclasses

    from .params import Connection, Placement, Population, norm

    names = {p.name for p in model.populations}
    pops, cons = list(model.populations), list(model.connections)
    for Y, ext in sorted(model.extrinsic.items()):
        name = extrinsic_name(Y)
        if name in names:
            raise ValidationError(f"population name {name!r} is taken: cannot model {Y}'s input")
        n_y = model.population(Y).N
        pops.append(Population(name, N=1, nu=0.0))
        cons.append(
            Connection(
                name,
                Y,
                C=1.0 / n_y,
                # pdf at 1 only (at 2 it is exp(-5000) = 0): one synapse per connection
                multapses=norm(1.0, 0.01),
                delay=norm(0.0, 1e-3),  # sampled at multiples of dt: a delta at lag 0
                synapse=ext.synapse,
                # flat over any cell (the soma spread only smooths its far edges)
                placement=Placement(("allsec",), depth=(_flat_profile(),)),
            )
        )
    return dataclasses.replace(model, populations=tuple(pops), connections=tuple(cons))


def _flat_profile():
    """A depth profile flat over any cell: uniform over z in [-1e6, 1e6] µm."""
    from .params import Distribution

    return Distribution("uniform", {"loc": -1.0e6, "scale": 2.0e6})


def ap_kernels(kmodel, *, threshold: float = -10.0, log=_quiet) -> dict[str, dict]:
    """The signal of one action potential of one cell of each population Y:
    {Y: {probe: (channels, 2·n_tau + 1)}}, lag 0 at the spike's detection (the soma
    crossing ``threshold`` mV upwards, as the ground truth detects spikes), per
    spike. Convolved with Y's own spike counts it is the part of the signal the
    synaptic kernels leave out: the cells' action-potential currents.

    Y's kernel cell (its effective leak, at the kernel's Vrest v*) gets the ground
    truth's hh soma at its temperature, with hh's leak reversal set so that the
    soma rests at v*. A 0.5 ms somatic current pulse at twice the smallest amplitude
    (doubling from 0.05 nA) that makes the cell fire gives the currents I_A (a
    prompt spike); the same pulse at 5 % of it (no spike) gives I_B, whose linear
    response I_B / 0.05 is subtracted (both relative to a run without pulse, to
    remove the drift left by hh's rate tables): what remains is the spike's own currents, and the
    probes' matrices turn them into signals (Gauss cylinder: the cell anywhere in
    its population's disc). Every rank must call this (NEURON's steps may be
    collective, see run_validation)."""
    from neuron import h

    from . import groundtruth as gtm
    from .kernel import KernelEngine

    ks = kmodel.kernel
    dt, n_tau = ks.dt, int(round(ks.tau / ks.dt))
    engine = KernelEngine(kmodel)
    out = {}
    celsius = h.celsius
    h.celsius = gtm.CELSIUS
    try:
        for Y in kmodel.postsynaptic:
            cell = engine._cell_of(Y)
            M = engine._matrix_all(Y, cell.geometry)
            v0 = cell.v_init
            somas = [sec for sec in cell.sections if "soma" in sec.name()]
            if not somas:
                raise ValidationError(f"the cell of {Y} has no soma section: no spikes")
            for sec in somas:
                if hasattr(sec(0.5), "lfpk_qa"):
                    sec.uninsert("lfpk_qa")  # hh itself replaces its linearisation
                sec.insert("hh")
                for seg in sec:
                    seg.pas.g = 0.0
                    seg.hh.el = gtm.hh_el_at_rest(v0)
            cell.set_drive(np.zeros(cell.n_seg))
            soma = somas[0](0.5)
            stim = h.IClamp(soma)
            t_on = 5.0
            stim.delay, stim.dur = t_on, 0.5
            v_rec = h.Vector()
            v_rec.record(soma._ref_v)
            n_steps = int(round((t_on + 1.5 * ks.tau) / dt))
            drive = np.zeros(n_steps + 1)

            run = (cell, stim, v_rec, drive, dt, M, threshold)
            amp = 0.05
            while True:
                sig_a, k_spike, n_spikes = _ap_run(*run, amp)
                if k_spike is not None or amp > 50.0:
                    break
                amp *= 2
            if k_spike is None:
                raise ValidationError(f"the cell of {Y} does not fire for pulses up to {amp} nA")
            # twice that: a prompt spike, not the slow climb of a pulse near threshold
            amp *= 2
            sig_a, k_spike, n_spikes = _ap_run(*run, amp)
            rho = 0.05
            sig_b, k_b, _ = _ap_run(*run, rho * amp)
            if k_b is not None:  # pragma: no cover - 5 % of a threshold pulse
                raise ValidationError(f"the cell of {Y} fires at {rho * amp} nA")
            # hh's rate tables leave the soma a little off rest: subtract the drift
            sig_0, _, _ = _ap_run(*run, 0.0)
            ap = (sig_a - sig_0) - (sig_b - sig_0) / rho
            H = np.zeros((M.shape[0], 2 * n_tau + 1))
            lo = max(0, k_spike - n_tau)
            hi = min(ap.shape[1], k_spike + n_tau + 1)
            H[:, n_tau - (k_spike - lo) : n_tau + (hi - k_spike)] = ap[:, lo:hi]
            out[Y] = {}
            row = 0
            for probe in engine.probes:
                out[Y][probe.name] = H[row : row + probe.n_channels]
                row += probe.n_channels
            log(
                f"validate: action potential of {Y}: {amp:.2f} nA pulse, spike at "
                f"{k_spike * dt - t_on:.2f} ms after its onset, {n_spikes} spike(s)"
            )
            stim = v_rec = None
            engine.close()  # the cell carries hh now: never reuse it for kernels
    finally:
        h.celsius = celsius
        engine.close()
    return out


def _ap_run(cell, stim, v_rec, drive, dt, M, threshold, amp):
    """One simulation with the pulse at ``amp`` nA: (signals, step of the first
    spike or None, number of spikes)."""
    stim.amp = amp
    sig = cell.simulate(drive, dt, transform=M)
    v = np.array(v_rec.as_numpy())
    up = np.flatnonzero((v[1:] >= threshold) & (v[:-1] < threshold))
    return sig, (int(up[0]) + 1 if up.size else None), int(up.size)


def add_ap_signals(prediction, out, kernels: dict, spikes_path) -> Path:
    """``out``: the signals of ``prediction`` plus each population's action-potential
    kernels (:func:`ap_kernels`) convolved with its own spike counts."""
    import shutil

    import h5py
    from scipy.signal import fftconvolve

    from .predict import bin_spikes, read_spikes

    out = Path(out)
    shutil.copyfile(prediction, out)
    with h5py.File(out, "r+") as f:
        dt, t0 = float(f.attrs["dt"]), float(f.attrs["t_start"])
        n_bins = int(f.attrs["n_bins"])
        spikes, _ = read_spikes(spikes_path, sorted(kernels))
        for Y, per_probe in kernels.items():
            counts = bin_spikes(spikes[Y], dt, t0, n_bins)
            for p, H in per_probe.items():
                if f"signals/{p}" not in f:
                    continue
                # numpy.convolve(counts, H[c], 'same') per channel: lag 0 at H's middle
                full = fftconvolve(H, counts[None, :], mode="full", axes=1)
                start = (H.shape[1] - 1) // 2
                part = full[:, start : start + n_bins]
                f[f"signals/{p}"][...] += part
                f.require_group(f"action_potentials/{p}").create_dataset(Y, data=part)
                f.require_group(f"action_potential_kernels/{p}").create_dataset(Y, data=H)
        f.attrs["action_potentials"] = True
    return out


def run_validation(
    model,
    out,
    *,
    scale: float | None = None,
    tstop=2000.0,
    transient=200.0,
    seed=1234,
    comm=None,
    overwrite=False,
    soma="chord",
    log=print,
) -> dict | None:
    """The whole validation (see the module docstring); every rank calls it.
    Returns the metrics on rank 0, None elsewhere.

    ``soma``: how the kernels' passive cells stand in for the ground truth's hh
    soma (see SOMA_MODELS)."""
    if soma not in SOMA_MODELS:
        raise ValidationError(
            f"--soma = {soma!r} is invalid: allowed {', '.join(sorted(SOMA_MODELS))}"
        )
    import dataclasses

    from . import groundtruth, scheduler
    from .predict import predict
    from .store import StoreError

    if scale is None:
        scale = groundtruth.DEFAULT_SCALE
    rank = comm.Get_rank() if comm is not None else 0
    size = comm.Get_size() if comm is not None else 1
    out = Path(out)
    say = log if rank == 0 else _quiet
    t0 = time.perf_counter()
    # (1, 2) ground truth
    groundtruth.run_groundtruth(
        model,
        out / "groundtruth",
        scale=scale,
        tstop=tstop,
        seed=seed,
        transient=transient,
        comm=comm,
        overwrite=overwrite,
        log=log,
    )
    t_gt = time.perf_counter() - t0
    info = json.loads((out / "groundtruth" / "vrest.json").read_text()) if rank == 0 else None
    if comm is not None:
        info = comm.bcast(info, root=0)
    vrest, rates = info["vrest"], info["rates"]
    soma_g = info.get("soma_conductance") or {}
    # (3) kernels of the same (scaled) network, linearised around the median somatic
    # potentials of the ground truth and with its rates (for g_eff), as Hagen et al. 2022
    # the soma is active in the ground truth: its passive stand-in gets the hh soma's
    # conductance at the median somatic potential
    kmodel = groundtruth.scaled_model(model, scale)

    def kernel_pop(p):
        p = dataclasses.replace(p, nu=float(rates.get(p.name, p.nu)))
        if p.cell is not None and p.name in vrest:
            v = float(vrest[p.name])
            if soma == "mean" and soma_g.get(p.name) is not None:
                cell = dataclasses.replace(p.cell, soma_g_pas=float(soma_g[p.name]))
            elif soma == "quasi-active":
                cell = dataclasses.replace(
                    p.cell,
                    soma_g_pas=groundtruth.soma_conductance(v),
                    soma_gates=groundtruth.soma_gates(v),
                )
            else:
                cell = dataclasses.replace(p.cell, soma_g_pas=groundtruth.soma_conductance(v))
            p = dataclasses.replace(p, cell=cell)
        return p

    kmodel = dataclasses.replace(
        kmodel,
        populations=tuple(kernel_pop(p) for p in kmodel.populations),
        kernel=dataclasses.replace(
            kmodel.kernel, Vrest={Y: float(vrest[Y]) for Y in kmodel.postsynaptic}
        ),
    )
    # the extrinsic input's kernels too, for the second prediction (diagnosis: how
    # much of the disagreement is the extrinsic input, which no network spike
    # predicts); the network kernels are the same with or without them
    ext_path = out / "groundtruth" / "extrinsic.h5"
    if kmodel.extrinsic:
        kmodel = with_extrinsic(kmodel)
    kernels = out / "kernels.h5"
    t1 = time.perf_counter()
    reuse = False
    if rank == 0 and kernels.exists():
        import h5py

        try:
            with h5py.File(kernels, "r") as f:
                reuse = (
                    bool(f.attrs.get("complete")) and f.attrs.get("params_hash") == kmodel.hash()
                )
        except OSError:
            reuse = False
    if comm is not None:
        reuse = comm.bcast(reuse, root=0)
    if reuse:
        say(f"validate: reusing {kernels} (same parameters)")
    else:
        say(
            "validate: kernels with Vrest "
            + ", ".join(f"{k} {v:.2f} mV" for k, v in sorted(vrest.items()))
            + " and rates "
            + ", ".join(f"{k} {v:.2f}/s" for k, v in sorted(rates.items()))
        )
        # NEURON joined MPI for the ground truth, and its spike exchange, once set up,
        # stays on: from here on every finitialize and fadvance is collective (NEURON
        # offers no way back), so ranks that ran different numbers of simulations
        # would wait for each other forever. Every rank therefore computes every
        # kernel, serially and in the same order (a few seconds), and rank 0 keeps
        # its file.
        import tempfile

        try:
            with tempfile.TemporaryDirectory(prefix="lfpk_hpc_kernels_") as tmp:
                target = kernels if rank == 0 else Path(tmp) / "kernels.h5"
                scheduler.run_kernels(kmodel, target, comm=None, overwrite=True, log=say)
        except StoreError as exc:
            raise ValidationError(str(exc)) from None
    t_kernels = time.perf_counter() - t1
    # the cells' action potentials, which the synaptic kernels leave out (diagnosis)
    ap = ap_kernels(kmodel, threshold=groundtruth.SPIKE_THRESHOLD, log=say)
    result = None
    if rank == 0:
        # (4) prediction from the ground-truth spikes, (5) comparison, (6) report
        ext_counts = {}
        if kmodel.extrinsic:
            from .groundtruth import read_extrinsic

            _, ext = read_extrinsic(ext_path)
            ext_counts = {extrinsic_name(Y): c for Y, c in ext.items()}
        spikes, truth = out / "groundtruth" / "spikes.h5", out / "groundtruth" / "signals.h5"

        def prediction(name, counts):
            """Predict from the ground truth's spikes (and ``counts``) into ``name``."""
            predict(
                kernels,
                spikes,
                out / name,
                t_start=0.0,
                t_stop=tstop,
                overwrite=True,
                counts=counts,
                log=say,
            )

        t2 = time.perf_counter()
        # (4a) the method as a point-neuron user applies it: network spikes only
        prediction("prediction.h5", {X: np.zeros(c.shape) for X, c in ext_counts.items()})
        t_predict = time.perf_counter() - t2
        result = compare(truth, out / "prediction.h5", transient=transient)
        if ext_counts:
            # (4b) the same plus the extrinsic events the ground truth's cells received
            prediction("prediction_extrinsic.h5", ext_counts)
            result[WITH_EXTRINSIC] = compare(
                truth, out / "prediction_extrinsic.h5", transient=transient
            )
        if ap is not None:
            # (4c) the prediction plus the cells' own action potentials
            add_ap_signals(out / "prediction.h5", out / "prediction_aps.h5", ap, spikes)
            result[WITH_APS] = compare(truth, out / "prediction_aps.h5", transient=transient)
        write_metrics(result, out)
        import h5py
        import neuron

        from . import __version__

        with h5py.File(out / "groundtruth" / "signals.h5", "r") as f:
            gt_attrs = {
                k: (v.tolist() if hasattr(v, "tolist") else v)
                for k, v in f.attrs.items()
                if k.startswith("wall_time")
            }
        figures = {"raster": _raster_figure(out / "groundtruth" / "spikes.h5")}
        kfig = _kernels_figure(kernels)
        if kfig:
            figures["kernels"] = kfig
        route = t_kernels + t_predict
        context = {
            "params": f"{model.name} (params hash {model.hash()[:12]})",
            "scale": scale,
            "simulated time (ms)": tstop,
            "transient (ms)": transient,
            "seed": seed,
            "ranks": size,
            "Vrest of the kernels (mV, median somatic potential)": ", ".join(
                f"{k} {v:.2f}" for k, v in sorted(vrest.items())
            ),
            "rates (spikes/s)": ", ".join(f"{k} {v:.2f}" for k, v in sorted(rates.items())),
            "the kernels' soma (--soma)": f"{soma}: {SOMA_MODELS[soma]}",
            "rows '+ extrinsic events', '+ action potentials'": "diagnoses, not the kernel "
            "route: the prediction plus the extrinsic input's events through kernels of "
            "one extrinsic synapse activation, or plus each population's spikes through "
            "the signal of one action potential of its cell (hh soma); the synaptic "
            "kernels leave both out",
            "ground truth wall time (s)": f"{t_gt:.1f} "
            + "("
            + ", ".join(
                f"{k.replace('wall_time_', '').replace('_s', '')} {v:.1f}"
                for k, v in gt_attrs.items()
            )
            + ")",
            "kernel route wall time (s)": f"{route:.1f} (kernels {t_kernels:.1f}"
            f"{', reused' if reuse else ''}, prediction {t_predict:.1f})",
            "speed-up of the kernel route": f"{t_gt / route:.0f}x" if route > 0 else "–",
            "versions": f"lfpk_hpc {__version__}, NEURON {neuron.__version__}",
            "created": time.strftime("%Y-%m-%d %H:%M"),
        }
        report(
            result,
            out,
            title=f"lfpk_hpc validation of {model.name}",
            context=context,
            figures=figures,
        )
        _print_summary(result)
        say(
            f"wrote {out / 'metrics.json'} and {out / 'report.html'} "
            f"(ground truth {t_gt:.1f} s, kernel route {route:.1f} s)"
        )
    if comm is not None:
        comm.Barrier()
    return result


def main(args) -> int:
    from .scheduler import world_comm

    comm = world_comm(neuron_in_mpi=True)  # the network uses NEURON's ParallelContext
    rank = comm.Get_rank() if comm is not None else 0
    from . import groundtruth
    from .mechanisms import MechanismError
    from .params import ParamsError, load

    def fail(msg, code):
        if rank == 0:
            _error(msg)
        return code

    try:
        model = load(args.params)
        run_validation(
            model,
            args.out,
            scale=args.scale,
            tstop=args.tstop,
            transient=args.transient,
            seed=args.seed,
            comm=comm,
            overwrite=args.overwrite,
            soma=args.soma,
            log=lambda m: print(m, flush=True),
        )
    except (ParamsError, ValidationError, groundtruth.GroundTruthError) as exc:
        return fail(str(exc), 2)
    except MechanismError as exc:
        return fail(str(exc), 1)
    return 0
