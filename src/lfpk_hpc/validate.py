"""Validation: kernel predictions against a full biophysical ground truth.

    python -m lfpk_hpc compare GROUNDTRUTH_SIGNALS.h5 PREDICTED_SIGNALS.h5 --out validation/
    mpirun -n 2 python -m lfpk_hpc validate params/hagen2022.py --out validation/ [--scale 0.2]

The metrics (r, R², r_STD, raw and low-passed, spectra, coherence, medians over
channels) and when a probe fails are :mod:`lfpk_hpc.metrics`.

Those are the kernel route as a user of a point-neuron network applies it: the
synaptic kernels of the network's populations and their spikes. ``validate`` adds
two diagnoses under ``"with_extrinsic"`` and ``"with_action_potentials"`` (same
keys), each a prediction with one more part of the ground truth's signal:

- the extrinsic input's events (counted by the ground truth per bin,
  ``groundtruth/extrinsic.h5``) through one kernel per population Y for one
  extrinsic synapse activation (:func:`with_extrinsic`);
- the cells' own action potentials: per population the action-potential kernel
  of the kernels file (one spike of one cell of the ground truth's own model —
  for a passive cable its hh-soma cell, ``CellModel.ap_model`` =
  :func:`lfpk_hpc.gtcells.spiking_model` — held at the median somatic potential;
  :mod:`lfpk_hpc.apkernel`), convolved with the population's own spike counts
  (``predict`` with ``ap=True``).

A population whose cell is a user's NEURON model is simulated as it is by the
ground truth and linearised for the kernels held at its median somatic potential
(``v_hold``; ``Vrest`` "cell"), as Hagen et al. did for their Hay-cell network.

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

from .metrics import (
    VARIANTS,
    WITH_APS,
    WITH_EXTRINSIC,
    ValidationError,
    _probes,
    channel_metrics,
    compare,
    lowpass,
    public,
    summary,
)
from .parallel import fault_point

#: compare, lowpass, ... are lfpk_hpc.metrics' (imported from here by earlier code)
__all__ = ["ValidationError", "channel_metrics", "compare", "lowpass", "summary"]


# --------------------------------------------------------------------------- report


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode()


def _figure(width: float, height: float):
    """A matplotlib Figure (Agg canvas, constrained layout: nothing cut off)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _channel_labels(z, n_ch: int, units: str) -> list[str]:
    from .probes import DIPOLE_UNITS

    if units == DIPOLE_UNITS and n_ch == 1:
        return ["$P_z$"]
    if z is not None and len(z) == n_ch:
        return [f"z = {v + 0.0:g} µm" for v in z]  # (+ 0.0: no "-0")
    return [f"channel {c + 1}" for c in range(n_ch)]


def traces_figure(probe: str, entry: dict):
    """Ground truth and prediction of each channel after the transient, each with its
    mean removed (the means are stated), channels labelled by depth."""
    from .plot import format_value, signal_units

    tr = entry["_traces"]
    factor, unit = signal_units(entry["units"])
    truth, pred = tr["truth"] * factor, tr["pred"] * factor
    n_ch = truth.shape[0]
    labels = _channel_labels(tr.get("z"), n_ch, entry["units"])
    z = tr.get("z")
    order = np.argsort(-np.asarray(z)) if z is not None and len(z) == n_ch else np.arange(n_ch)
    t = tr["t0"] + tr["dt"] * np.arange(truth.shape[-1])
    fig = _figure(11, 1.0 * n_ch + 1.6)
    axes = fig.subplots(n_ch, 1, squeeze=False)[:, 0]
    for ax, c in zip(axes, order, strict=True):
        mt, mp = truth[c].mean(), pred[c].mean()
        ax.plot(t, truth[c] - mt, "k", lw=0.7, label="ground truth")
        ax.plot(t, pred[c] - mp, "C3", lw=0.7, label="kernel prediction")
        ax.set_xlim(t[0], t[-1])
        ax.set_ylabel(f"{labels[c]}\n({unit})", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
        r2 = entry["r2"][c]
        ax.text(
            1.01,
            0.5,
            (f"R² {r2:.2f}\n" if r2 is not None else "")
            + f"mean removed:\ntruth {format_value(mt, unit)}\npred. {format_value(mp, unit)}",
            transform=ax.transAxes,
            fontsize=7,
            ha="left",
            va="center",
        )
        if ax is not axes[-1]:
            ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("t (ms)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper right", ncol=2, fontsize=9)
    fig.suptitle(
        f"{probe}: ground truth vs kernel prediction after the {entry['transient_ms']:g} ms "
        f"transient, each trace minus its mean ({unit})",
        fontsize=10,
        x=0.01,
        ha="left",
    )
    return fig


def spectra_figure(probe: str, entry: dict):
    """Welch spectra of ground truth and prediction, and their coherence, per channel
    (coloured by depth)."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    from .plot import signal_units

    sp = entry["_spectra"]
    factor, unit = signal_units(entry["units"])
    z = entry["_traces"].get("z")
    n_ch = sp["psd_truth"].shape[0]
    by_depth = z is not None and len(z) == n_ch and n_ch > 1
    norm = Normalize(float(np.min(z)), float(np.max(z))) if by_depth else None
    colour = [colormaps["viridis"](norm(z[c])) if by_depth else f"C{c}" for c in range(n_ch)]
    fig = _figure(11, 3.8)
    a1, a2 = fig.subplots(1, 2)
    keep = (sp["freqs"] > 0) & (sp["freqs"] <= 500)
    f = sp["freqs"][keep]
    for c in range(n_ch):
        a1.loglog(f, sp["psd_truth"][c, keep] * factor**2, "k", lw=0.5)
        a1.loglog(f, sp["psd_pred"][c, keep] * factor**2, "C3", lw=0.5)
        a2.semilogx(f, sp["coherence"][c, keep], lw=0.6, color=colour[c])
    a1.set_xlabel("f (Hz)")
    a1.set_ylabel(f"PSD ({unit}²/Hz)")
    a1.set_title("power spectra (Welch), every channel", fontsize=10)
    a1.legend(
        [Line2D([], [], color="k"), Line2D([], [], color="C3")],
        ["ground truth", "kernel prediction"],
        fontsize=8,
        loc="lower left",
    )
    a2.set_xlabel("f (Hz)")
    a2.set_ylabel("coherence")
    a2.set_ylim(0, 1.02)
    a2.set_title("coherence of prediction and ground truth", fontsize=10)
    if by_depth:
        fig.colorbar(ScalarMappable(norm, cmap="viridis"), ax=a2, label="contact depth z (µm)")
    fig.suptitle(
        f"{probe}: after the {entry['transient_ms']:g} ms transient", fontsize=10, x=0.01, ha="left"
    )
    return fig


def report(
    metrics: dict,
    out_dir,
    *,
    title: str,
    context: dict | None = None,
    figures: dict | None = None,
    sections: list | None = None,
) -> Path:
    """Write ``out_dir``/report.html (figures embedded) and the figure PNGs;
    ``sections``: further (heading, HTML) after the metrics table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    imgs = dict(figures or {})
    for p, e in _probes(metrics):
        imgs[f"traces_{p}"] = _png(traces_figure(p, e))
        imgs[f"spectra_{p}"] = _png(spectra_figure(p, e))
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
        f"<h3>{name.replace('_', ' ')}</h3><img alt='{name}' src='data:image/png;base64,{b64}'>"
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
{"".join(f"<h2>{head}</h2>{body}" for head, body in (sections or []))}
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
    from .errors import report

    return report(msg, code)


def _json_safe(obj):
    """``obj`` with NaN and infinities as None (strict JSON has neither)."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write_metrics(metrics: dict, out_dir) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "metrics.json"
    path.write_text(json.dumps(_json_safe(public(metrics)), indent=1, allow_nan=False))
    return path


class ValidationFailed(RuntimeError):
    """A comparison whose verdict is failure (exit code 1): the report is written, and
    the message names the failing signals and why."""

    exit_code = 1


def check_verdicts(metrics: dict, out_dir) -> None:
    """Raise :class:`ValidationFailed` if a headline signal failed (see :func:`verdict`)."""
    failed = [(p, e) for p, e in _probes(metrics) if e.get("passed") is False]
    if failed:
        raise ValidationFailed(
            "the prediction fails the comparison: "
            + "; ".join(f"{p}: {', '.join(e.get('failures', []))}" for p, e in failed)
            + f" (report in {Path(out_dir) / 'report.html'})"
        )


def print_summary(metrics: dict, label: str = "") -> None:
    def r3(v):
        return "–" if v is None or not np.isfinite(v) else f"{v:.3f}"

    for p, e in _probes(public(metrics)):
        print(
            f"{p}{label}: median R² {r3(e.get('r2_median'))}, low-passed "
            f"{r3(e.get('r2_median_lowpass'))}, median r {r3(e.get('r_median'))}, median r_STD "
            f"{r3(e.get('rstd_median'))}" + ("" if e.get("passed", True) else ": FAILED"),
            flush=True,
        )
    for key, label in VARIANTS.items():
        if key in metrics:
            print_summary(metrics[key], f" ({label})")


def compare_main(args) -> int:
    import math

    if not (math.isfinite(args.transient) and args.transient >= 0):
        return _error(f"--transient = {args.transient!r} is invalid: must be a time >= 0 ms")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        return _error(f"--out {args.out!r} is invalid: it is a file, not a folder")
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
    print_summary(metrics)
    print(f"wrote {Path(args.out) / 'metrics.json'} and {Path(args.out) / 'report.html'}")
    try:
        check_verdicts(metrics, args.out)
    except ValidationFailed as exc:
        return _error(str(exc), 1)
    return 0


# --------------------------------------------------------------------------- CLI: validate


def add_arguments(parser) -> None:
    from .gtnetwork import IN_DEGREES

    parser.description = (
        "Validate the kernel predictions of a params file against a ground truth: "
        "'network' — a recurrent LFPy.Network of the params' cells (hh soma, extrinsic "
        "drive; e.g. params/hagen2022.py), kernels linearised around its median somatic "
        "potentials; 'hybrid' — the point network in NEST (PD14 models) and every neuron "
        "as a passive cell driven by its spikes (Hagen et al. 2016; e.g. "
        "params/potjans.py). Then the kernels of the same network, the prediction from "
        "the same spikes, the comparison and a report; everything in --out."
    )
    parser.add_argument("params", help="params file (e.g. params/hagen2022.py)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--ground-truth",
        choices=("auto", "network", "hybrid"),
        default="auto",
        help="auto: hybrid for a model without extrinsic input (PD14: its drive is in "
        "the point network), network otherwise (default auto)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="fraction of the population sizes (default: network 0.2, hybrid 0.2)",
    )
    parser.add_argument(
        "--tstop",
        type=float,
        default=None,
        help="simulated time (ms; default: network 2000, hybrid 1200)",
    )
    parser.add_argument(
        "--transient",
        type=float,
        default=200.0,
        help="start-up transient left out of the metrics (ms)",
    )
    parser.add_argument("--seed", type=int, default=1234, help="seed of every random draw")
    parser.add_argument(
        "--soma",
        choices=sorted(SOMA_MODELS),
        default="chord",
        help="network ground truth: the kernels' stand-in for its hh soma: "
        + "; ".join(f"{k}: {v}" for k, v in SOMA_MODELS.items())
        + " (default chord)",
    )
    parser.add_argument(
        "--dt", type=float, default=None, help="hybrid ground truth: time step (ms, default 0.1)"
    )
    parser.add_argument(
        "--in-degrees",
        choices=IN_DEGREES,
        default=None,
        help="hybrid ground truth below --scale 1: the hybrid cells and the kernels keep "
        "the full-scale in-degrees (full, the default) or the connection probabilities "
        "(scaled: in-degrees x scale)",
    )
    parser.add_argument(
        "--spikes",
        default=None,
        help="hybrid ground truth: spikes of the point network (HDF5 with senders) "
        "instead of simulating it in NEST (default: none, NEST simulates it)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier validation in --out"
    )


def ground_truth_kind(model, requested: str = "auto") -> str:
    """The ground truth of a validation: 'hybrid' or 'network' (see --ground-truth)."""
    if requested != "auto":
        return requested
    return "network" if model.extrinsic else "hybrid"


def raster_figure(spikes_path, transient: float = 0.0):
    """Ground-truth spikes (every cell, by population) with the transient shaded, and
    each population's mean rate after the transient (as the table and vrest.json)."""
    import h5py

    fig = _figure(12, 3.8)
    ax, ax2 = fig.subplots(1, 2, width_ratios=(3, 1))
    with h5py.File(spikes_path, "r") as f:
        t_stop = float(f.attrs.get("t_stop", 0.0))
        offset, names, rates = 0, [], []
        for i, (X, g) in enumerate(f.items()):
            t, s = g["times"][...], g["senders"][...] if "senders" in g else None
            n = int(g.attrs.get("N", (s.max() + 1) if s is not None and s.size else 1))
            y = offset + (s if s is not None else np.zeros(t.size))
            ax.plot(t, y, ".", ms=1, color=f"C{i}", label=X, rasterized=True)
            names.append(X)
            span = (t_stop - transient) / 1000.0
            rates.append(np.count_nonzero(t >= transient) / max(n, 1) / span if span > 0 else 0)
            offset += n
    if transient > 0:
        ax.axvspan(0.0, transient, color="0.55", alpha=0.3, lw=0)
        ax.text(
            transient / 2,
            1.01,
            "transient",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xlim(0.0, t_stop if t_stop > 0 else None)
    ax.set_ylim(0, max(offset, 1))
    ax.set_xlabel("t (ms)")
    ax.set_ylabel("cell (by population)")
    ax.set_title("ground-truth spikes", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), markerscale=8, fontsize=8, frameon=False)
    ax2.bar(names, rates, color=[f"C{i}" for i in range(len(names))])
    for i, r in enumerate(rates):
        ax2.text(i, r, f"{r:.2f}", ha="center", va="bottom", fontsize=8)
    ax2.set_ylabel("rate (spikes/s)")
    ax2.set_ylim(0, 1.15 * max(rates, default=1.0) or 1.0)
    ax2.set_title(f"mean rates, t ≥ {transient:g} ms", fontsize=10)
    return fig


def raster_png(spikes_path, transient: float = 0.0) -> str:
    return _png(raster_figure(spikes_path, transient))


def kernels_png(kernels_path) -> str | None:
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


def check_window(tstop: float, transient: float) -> None:
    """The comparison needs time after the start-up transient: checked before anything
    is simulated."""
    if not (isinstance(transient, (int, float)) and np.isfinite(transient) and transient >= 0):
        raise ValidationError(f"--transient = {transient!r} is invalid: must be a time >= 0 ms")
    if not (isinstance(tstop, (int, float)) and np.isfinite(tstop) and tstop > transient):
        raise ValidationError(
            f"--tstop = {tstop:g} is invalid: the comparison starts after the --transient of "
            f"{transient:g} ms, so --tstop must be longer than that"
        )


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

    Parameters
    ----------
    model : Model
        The network (units of :mod:`lfpk_hpc.params`).
    out : str or path-like
        The output folder.
    scale : float or None
        Fraction of every population's neurons simulated (dimensionless).
    tstop : float
        Simulated time, ms.
    transient : float
        Start-up time left out of the comparison, ms.
    seed : int
        Seed of the ground truth.
    comm : mpi4py communicator or None
        The ranks.
    overwrite : bool
        Replace an existing output.
    soma : {"chord", "mean", "quasi-active"}
        How the kernels' passive cells stand in for the ground truth's hh soma.
    log : callable
        Where progress lines go.

    Returns
    -------
    dict or None
        The metrics (dimensionless r, R², r_STD; spectra in units²/Hz) on rank 0.
    """
    if soma not in SOMA_MODELS:
        raise ValidationError(
            f"--soma = {soma!r} is invalid: allowed {', '.join(sorted(SOMA_MODELS))}"
        )
    import dataclasses

    from . import groundtruth
    from .kernelrun import run_kernels
    from .predict import predict
    from .store import StoreError

    if scale is None:
        scale = groundtruth.DEFAULT_SCALE
    # every argument checked before the ground truth simulates anything
    groundtruth.check_run_args(
        model, scale=scale, tstop=tstop, seed=seed, dt=float(model.kernel.dt), transient=transient
    )
    if Path(out).exists() and not Path(out).is_dir():
        raise ValidationError(f"--out {str(out)!r} is invalid: it is a file, not a folder")
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
        if p.cell is not None and p.cell.is_user_model and p.name in vrest:
            # a user's model: the ground truth simulated it as it is; the kernels
            # linearise it held at the median somatic potential (Hagen et al. 2022)
            return dataclasses.replace(
                p, cell=dataclasses.replace(p.cell, v_hold=float(vrest[p.name]))
            )
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
            # the ground truth's cell, held at v, makes the action-potential kernel
            cell = dataclasses.replace(cell, ap_model=groundtruth.spiking_model(p.cell, v))
            p = dataclasses.replace(p, cell=cell)
        return p

    kmodel = dataclasses.replace(
        kmodel,
        populations=tuple(kernel_pop(p) for p in kmodel.populations),
        kernel=dataclasses.replace(
            kmodel.kernel,
            Vrest={
                Y: "cell" if kmodel.population(Y).cell.is_user_model else float(vrest[Y])
                for Y in kmodel.postsynaptic
            },
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
        # its file. The exchange comes every max step: set it beyond any step here
        # (linearising a user's model takes steps of up to 1e9 ms, each of which
        # would otherwise be that many exchanges; every rank calls this)
        import tempfile

        if size > 1:
            from neuron import h

            h.ParallelContext().set_maxstep(1e9)  # its largest value

        try:
            with tempfile.TemporaryDirectory(prefix="lfpk_hpc_kernels_") as tmp:
                target = kernels if rank == 0 else Path(tmp) / "kernels.h5"
                run_kernels(kmodel, target, comm=None, overwrite=True, log=say)
        except StoreError as exc:
            raise ValidationError(str(exc)) from None
    t_kernels = time.perf_counter() - t1
    result = None
    if rank == 0:
        # (4) prediction from the ground-truth spikes, (5) comparison, (6) report
        ext_counts = {}
        if kmodel.extrinsic:
            from .groundtruth import read_extrinsic

            _, ext = read_extrinsic(ext_path)
            ext_counts = {extrinsic_name(Y): c for Y, c in ext.items()}
        spikes, truth = out / "groundtruth" / "spikes.h5", out / "groundtruth" / "signals.h5"

        def prediction(name, counts, ap=False):
            """Predict from the ground truth's spikes (and ``counts``) into ``name``;
            ``ap``: with the cells' own action potentials (the kernels file's
            action-potential kernels)."""
            predict(
                kernels,
                spikes,
                out / name,
                t_start=0.0,
                t_stop=tstop,
                overwrite=True,
                counts=counts,
                ap=ap,
                log=say,
            )

        t2 = time.perf_counter()
        # (4a) the method as a point-neuron user applies it: network spikes only
        prediction("prediction.h5", {X: np.zeros(c.shape) for X, c in ext_counts.items()})
        t_predict = time.perf_counter() - t2
        fault_point("validate:compare", rank)
        result = compare(truth, out / "prediction.h5", transient=transient)
        if ext_counts:
            # (4b) the same plus the extrinsic events the ground truth's cells received
            prediction("prediction_extrinsic.h5", ext_counts)
            result[WITH_EXTRINSIC] = compare(
                truth, out / "prediction_extrinsic.h5", transient=transient
            )
        # (4c) the prediction plus the cells' own action potentials: each population's
        # spikes through its action-potential kernel (in kernels.h5)
        prediction(
            "prediction_aps.h5", {X: np.zeros(c.shape) for X, c in ext_counts.items()}, ap=True
        )
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
        figures = {"raster": raster_png(out / "groundtruth" / "spikes.h5", transient)}
        kfig = kernels_png(kernels)
        if kfig:
            figures["kernels"] = kfig
        route = t_kernels + t_predict
        gt_hash = groundtruth.scaled_model(model, scale).hash()
        context = {
            "params": f"{model.name} (params hash {model.hash()[:12]})",
            "parameter hashes (three models, three hashes)": (
                f"{model.hash()[:12]}: the params file as written; {gt_hash[:12]}: the "
                f"network simulated at scale {scale:g} (groundtruth/*.h5, vrest.json); "
                f"{kmodel.hash()[:12]}: the kernels' model, that network linearised at the "
                "ground truth's Vrest and rates plus the extrinsic input's kernels "
                "(kernels.h5, prediction*.h5)"
            ),
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
            "its action-potential kernel (one spike of the ground truth's own cell, held at "
            "the median somatic potential; kernels.h5 /ap_kernels); the synaptic kernels "
            "leave both out",
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
        print_summary(result)
        say(
            f"wrote {out / 'metrics.json'} and {out / 'report.html'} "
            f"(ground truth {t_gt:.1f} s, kernel route {route:.1f} s)"
        )
    if result is not None:
        check_verdicts(result, out)  # exit 1 if the prediction fails the comparison
    # the other ranks wait for rank 0 in the command's final agreement
    # (lfpk_hpc.parallel.run_guarded), which also hears of an error here
    return result


def main(args) -> int:
    from .parallel import run_guarded, world_comm
    from .params import ParamsError, load

    # the route decides how NEURON meets MPI, so the params are read before MPI starts
    try:
        model, failure = load(args.params), None
        kind = ground_truth_kind(model, args.ground_truth)
    except ParamsError as exc:
        model, failure, kind = None, exc, "hybrid"
    if kind == "network":
        comm = world_comm(neuron_in_mpi=True)  # the network uses NEURON's ParallelContext
    else:
        comm = world_comm()  # the hybrid's cells are independent: NEURON stays out of MPI

    def work():
        if failure is not None:
            raise failure
        return _main(args, comm, model, kind)

    return run_guarded(work, comm)


def _main(args, comm, model, kind) -> int:
    log = lambda m: print(m, flush=True)  # noqa: E731
    if kind == "hybrid":
        from .validate_hybrid import run_hybrid_validation

        if args.soma != "chord":
            raise ValidationError(
                f"--soma = {args.soma!r} is invalid with the hybrid ground truth: its cells "
                "are passive (the option is for the network ground truth's hh soma)"
            )
        run_hybrid_validation(
            model,
            args.params,
            args.out,
            scale=args.scale,
            tstop=args.tstop,
            transient=args.transient,
            seed=args.seed,
            dt=args.dt,
            spikes=args.spikes,
            in_degrees=args.in_degrees,
            comm=comm,
            overwrite=args.overwrite,
            log=log,
        )
        return 0
    for flag, value in (
        ("--dt", args.dt),
        ("--spikes", args.spikes),
        ("--in-degrees", args.in_degrees),
    ):
        if value is not None:
            raise ValidationError(
                f"{flag} = {value!r} is invalid with the network ground truth (it is an "
                "option of the hybrid ground truth)"
            )
    run_validation(
        model,
        args.out,
        scale=args.scale,
        tstop=2000.0 if args.tstop is None else args.tstop,
        transient=args.transient,
        seed=args.seed,
        comm=comm,
        overwrite=args.overwrite,
        soma=args.soma,
        log=log,
    )
    return 0
