"""Figures of an evoked run (``DIR/evoked.h5``), as HNN shows its evoked responses.

- ``dipole.png``: HNN's ``plot_dipole``: the processed dipole (nA·m, smoothed and
  scaled) of every trial in grey and their average in colour, for the aggregate and
  each layer (L2/3, L4, L5, L6), the drives' times (mu ± sigma) marked;
- ``raster.png``: the spikes of the first trial, every population and drive, and the
  populations' rates and the drives' spikes in 1 ms bins (HNN's ``plot_spikes_raster``
  and ``plot_spikes_hist``);
- ``tfr.png``: the Morlet time–frequency power of the trial-averaged aggregate dipole
  (HNN's ``plot_tfr_morlet``: n_cycles 7, zero padding; from the lowest frequency
  whose wavelet fits in the padded trial, 22 Hz for 170 ms, to 100 Hz);
- ``signals.png``: the other probes, trials in grey and average in colour (EEG, MEG;
  each minus its mean before the first volley, like the dipole) and the averages of
  the LFP and the CSD across depth.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["plot_evoked", "read_evoked"]

#: colours of the drives by location (HNN draws proximal drives green, distal red)
LOCATION_COLOURS = {"proximal": "tab:green", "distal": "tab:red"}
LAYER_COLOURS = {
    "agg": "k",
    "L23": "tab:blue",
    "L4": "tab:purple",
    "L5": "tab:orange",
    "L6": "tab:brown",
}
TFR_FMAX, TFR_STEP = 100.0, 2.0  # Hz: from the lowest frequency whose wavelet fits
#: a layer's dipole below this fraction of the largest is drawn as zero (as plot does)
ZERO_RTOL = 1e-6
TFR_CYCLES = 7.0


def read_evoked(path) -> dict:
    """What the figures need of an evoked file.

    Parameters
    ----------
    path : str or pathlib.Path
        An ``evoked.h5`` file.

    Returns
    -------
    dict
        Its signals (in the units its attributes name), spikes, drives and run.
    """
    import h5py

    from .probes import canonical_units

    path = Path(path)
    with h5py.File(path, "r") as f:
        a = dict(f.attrs)
        run = json.loads(a["run_json"])
        params = json.loads(a["params_json"])
        drives = {d["name"]: d for d in params.get("drives", [])}
        out = {
            "path": path,
            "model": str(a["model_name"]),
            "dt": float(a["dt"]),
            "tstop": float(a["tstop"]),
            "trials": int(a["trials"]),
            "scale": float(a["scale"]),
            "smooth": float(a["smooth_window_ms"]),
            "factor": float(a["scale_factor"]),
            "baseline": float(a.get("baseline_ms", 0.0)),
            "rows": f["dipole"].attrs["rows"].split(","),
            "dipole": f["dipole/trials"][...],
            "dipole_mean": f["dipole/mean"][...],
            "dipole_raw_mean": f["dipole/mean_raw"][...],
            "drives": drives,
            "populations": json.loads(a["populations"]),
            "run": run,
            "signals": {},
            "spikes": {},
            "sizes": {},
        }
        for p, g in f["signals"].items():
            out["signals"][p] = {
                "trials": g["total"][...],
                "mean": f[f"mean/{p}/total"][...],
                "units": canonical_units(g["total"].attrs["units"]),
                "type": str(g.attrs.get("type", "")),
                "z": np.asarray(g.attrs["z"], dtype=float) if "z" in g.attrs else None,
            }
        first = sorted(f["spikes"])[0]
        for X, g in f[f"spikes/{first}"].items():
            out["spikes"][X] = (g["times"][...], g["senders"][...])
            out["sizes"][X] = int(g.attrs["N"])
    return out


def _time(ev) -> np.ndarray:
    return np.arange(ev["dipole"].shape[-1]) * ev["dt"]


def _mark_drives(ax, ev, labels=False) -> None:
    for name, d in ev["drives"].items():
        colour = LOCATION_COLOURS.get(d["location"], "0.4")
        ax.axvspan(d["mu"] - d["sigma"], d["mu"] + d["sigma"], color=colour, alpha=0.12, lw=0)
        ax.axvline(d["mu"], color=colour, lw=0.8, ls="--")
        if labels:
            ax.text(
                d["mu"],
                1.01,
                f"{name}\n{d['mu']:g} ms",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=7,
                color=colour,
            )


def _drives_line(ev) -> str:
    """The drives, for a title: name, time and location (the dashed lines, shaded ±σ)."""
    return (
        "dashed: "
        + ", ".join(f"{name} {d['mu']:g} ms ({d['location']})" for name, d in ev["drives"].items())
        + "; shaded ± sigma"
    )


def _new_figure(width, height, dpi):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _processing(ev) -> str:
    parts = []
    if ev["baseline"] > 0:
        parts.append(f"minus its mean over 0–{ev['baseline']:g} ms")
    if ev["smooth"] > 0:
        parts.append(f"{ev['smooth']:g} ms Hamming smoothing")
    if ev["factor"] != 1:
        parts.append(f"× {ev['factor']:g}")
    return ", ".join(parts) or "raw"


def dipole_figure(ev, dpi=110):
    """HNN's plot_dipole: trials grey, average in colour, aggregate and each layer."""
    from .evoked import LAYERS

    t = _time(ev)
    names = {"agg": "aggregate", **{L: f"layer {n}" for L, n in LAYERS.items()}}
    unit = "nA·m" if ev["factor"] == 1 else f"nA·m × {ev['factor']:g}"
    rows = ev["rows"]
    fig = _new_figure(8.0, 1.7 * len(rows) + 1.2, dpi)
    axes = fig.subplots(len(rows), 1, sharex=True)
    largest = float(np.abs(ev["dipole"]).max()) or 1.0
    for i, (ax, row) in enumerate(zip(axes, rows, strict=True)):
        mean = ev["dipole_mean"][i]
        if np.abs(ev["dipole"][:, i]).max() < ZERO_RTOL * largest:
            # cells without an apical dendrite (L4's stellates and interneurons): their
            # dipole is zero but for rounding, drawn as zero
            ax.axhline(0, color=LAYER_COLOURS.get(row, "k"), lw=1.8)
            ax.set_ylim(-1, 1)
            ax.set_yticks([0])
            ax.set_ylabel(f"{names.get(row, row)}\n({unit})", fontsize=9)
            ax.text(
                0.5,
                0.65,
                f"0 {unit} (numerical zero, below {ZERO_RTOL:g} of the largest: its cells "
                "have no apical dendrite)",
                transform=ax.transAxes,
                ha="center",
                fontsize=8,
            )
            continue
        for trial in ev["dipole"][:, i]:
            ax.plot(t, trial, color="0.6", lw=0.6)
        ax.plot(t, mean, color=LAYER_COLOURS.get(row, "k"), lw=1.8, label="average")
        ax.axhline(0, color="0.3", lw=0.5)
        _mark_drives(ax, ev, labels=i == 0)
        lo, hi = float(ev["dipole"][:, i].min()), float(ev["dipole"][:, i].max())
        pad = 0.08 * (hi - lo) or 1e-12
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_ylabel(f"{names.get(row, row)}\n({unit})", fontsize=9)
        k = int(np.argmax(np.abs(mean)))
        ax.text(
            0.995,
            0.04,
            f"average: largest |P| {abs(mean[k]):.3g} {unit} at {t[k]:.1f} ms",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1.0},
        )
    axes[-1].set_xlabel("t (ms)")
    axes[-1].set_xlim(t[0], t[-1])
    fig.suptitle(
        f"current dipole moment (z), {ev['model']} at scale {ev['scale']:g}:\n"
        f"{ev['trials']} trials (grey), their average (colour)\nprocessed as HNN: "
        f"{_processing(ev)}\ndashed: the drives' times mu, shaded ± sigma (green proximal, "
        "red distal)",
        fontsize=10,
    )
    return fig


def raster_figure(ev, dpi=110):
    """The first trial's spikes (HNN's plot_spikes_raster and plot_spikes_hist)."""
    from matplotlib import colormaps

    pops = ev["populations"]
    drives = list(ev["drives"])
    names = (drives + pops)[::-1]  # from the bottom: L6I … L23E, then the drives on top
    fig = _new_figure(9.0, 7.5, dpi)
    ax, axh = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1.4))
    # tab10 without its green and red, which mark the drives
    palette = [colormaps["tab10"](i) for i in (0, 1, 4, 5, 6, 7, 8, 9)]
    colours = {Y: palette[i % len(palette)] for i, Y in enumerate(pops)}
    for D in drives:
        colours[D] = LOCATION_COLOURS.get(ev["drives"][D]["location"], "0.3")
    # every population a band of equal height; neurons spread over it
    ticks, labels = [], []
    for row, X in enumerate(names):
        t, s = ev["spikes"][X]
        keep = (t >= 0) & (t < ev["tstop"])
        y = row + (s[keep] + 0.5) / max(ev["sizes"][X], 1)
        ax.scatter(t[keep], y, s=1.5, color=colours[X], marker="|", linewidths=0.5)
        ticks.append(row + 0.5)
        labels.append(f"{X} ({ev['sizes'][X]})")
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_ylim(0, len(names))
    for row in range(1, len(names)):
        ax.axhline(row, color="0.85", lw=0.5)
    ax.set_ylabel("population (neurons); neurons spread over each band")
    ax.set_title(
        f"spikes of trial 0 ({ev['model']} at scale {ev['scale']:g}; drives on top)", fontsize=10
    )
    bins = np.arange(0.0, ev["tstop"] + 1e-9, 1.0)
    for X in pops:
        t, _s = ev["spikes"][X]
        h, _ = np.histogram(t, bins=bins)
        axh.plot(bins[:-1] + 0.5, h / ev["sizes"][X] / 1e-3, color=colours[X], lw=0.8, label=X)
    axh.set_ylabel("rate (spikes/s)\nper neuron, 1 ms bins")
    axd = axh.twinx()
    for D in drives:
        t, _s = ev["spikes"][D]
        h, _ = np.histogram(t, bins=bins)
        axd.fill_between(bins[:-1] + 0.5, h, step="mid", color=colours[D], alpha=0.3, lw=0)
    axd.set_ylabel("drive spikes\nper 1 ms bin", fontsize=8)
    axh.legend(fontsize=7, ncol=1, loc="upper left", bbox_to_anchor=(1.09, 1.0), frameon=False)
    axh.set_xlabel("t (ms)")
    axh.set_xlim(0, ev["tstop"])
    return fig


def tfr_figure(ev, dpi=110):
    """HNN's plot_tfr_morlet of the trial-averaged aggregate dipole."""
    from .evoked import lowest_frequency, morlet_power

    t = _time(ev)
    n = int(round(ev["baseline"] / ev["dt"]))
    x = ev["dipole_raw_mean"][0]
    x = (x - x[:n].mean() if n else x) * ev["factor"]
    f0 = lowest_frequency(x.size, ev["dt"], TFR_CYCLES, TFR_STEP)
    freqs = np.arange(f0, max(TFR_FMAX, f0) + 1e-9, TFR_STEP)
    power = morlet_power(x, ev["dt"], freqs, TFR_CYCLES)
    unit = "nA·m" if ev["factor"] == 1 else f"nA·m × {ev['factor']:g}"
    fig = _new_figure(8.0, 5.6, dpi)
    ax, axp = fig.subplots(2, 1, sharex=True, height_ratios=(1, 2))
    ax.plot(t, x, color="k", lw=1.0)
    ax.axhline(0, color="0.5", lw=0.5)
    _mark_drives(ax, ev)
    ax.set_ylabel(f"aggregate\n({unit})")
    ax.set_title(
        f"trial average of the aggregate dipole (minus its mean over 0–{ev['baseline']:g} ms, "
        "not smoothed)",
        fontsize=10,
    )
    im = axp.pcolormesh(t, freqs, power, cmap="inferno", shading="auto")
    axp.set_ylabel("frequency (Hz)")
    axp.set_xlabel("t (ms)")
    axp.set_xlim(t[0], t[-1])
    axp.set_title(
        f"Morlet power, {TFR_CYCLES:g} cycles, zero padding (HNN's plot_tfr_morlet);\nfrom "
        f"{f0:g} Hz, the lowest frequency whose wavelet fits in the padded trial",
        fontsize=10,
    )
    fig.colorbar(im, ax=axp, label=f"power (({unit})²)")
    fig.suptitle(
        f"{ev['model']} at scale {ev['scale']:g}, {ev['trials']} trials\n{_drives_line(ev)}",
        fontsize=10,
    )
    return fig


def signals_figure(ev, dpi=110):
    """EEG and MEG (trials and average) and the LFP and CSD averages across depth."""
    from .plot import signal_units

    t = _time(ev)
    n = int(round(ev["baseline"] / ev["dt"]))
    traces = [
        p for p, s in ev["signals"].items() if s["z"] is None and s["type"] != "CurrentDipoleMoment"
    ]
    images = [p for p, s in ev["signals"].items() if s["z"] is not None]
    rows = len(traces) + len(images)
    fig = _new_figure(9.0, 2.3 * max(rows, 1) + 1.0, dpi)
    axes = np.atleast_1d(fig.subplots(max(rows, 1), 1, sharex=True))
    r = 0
    for p in traces:
        s = ev["signals"][p]
        factor, unit = signal_units(s["units"])
        ax = axes[r]
        r += 1
        for c in range(s["mean"].shape[0]):
            data = s["trials"][:, c] * factor
            data = data - data[:, :n].mean(axis=1, keepdims=True) if n else data
            for trial in data:
                ax.plot(t, trial, color="0.65", lw=0.5)
            ax.plot(t, data.mean(axis=0), lw=1.6, color=f"C{c}", label=f"channel {c + 1}")
        ax.axhline(0, color="0.4", lw=0.5)
        _mark_drives(ax, ev)
        ax.set_ylabel(f"{p} ({unit})")
        ax.set_title(f"{p}: {s_type(ev, p)}, trials grey, average in colour", fontsize=9)
        if s["mean"].shape[0] > 1:
            ax.legend(fontsize=7, frameon=False, loc="upper left")
    for p in images:
        s = ev["signals"][p]
        factor, unit = signal_units(s["units"])
        ax = axes[r]
        r += 1
        data = s["mean"] * factor
        data = data - data[:, :n].mean(axis=1, keepdims=True) if n else data
        z = s["z"]
        order = np.argsort(z)
        step = float(np.abs(np.diff(np.sort(z))).min()) if z.size > 1 else 1.0
        vmax = float(np.abs(data).max()) or 1.0
        im = ax.imshow(
            data[order],
            aspect="auto",
            origin="lower",
            cmap="RdBu_r",
            vmin=-vmax,
            vmax=vmax,
            extent=(t[0], t[-1] + ev["dt"], z[order][0] - step / 2, z[order][-1] + step / 2),
            interpolation="nearest",
        )
        _mark_drives(ax, ev)
        ax.set_ylabel("depth z (µm)")
        ax.set_title(f"{p}: {s_type(ev, p)}, trial average", fontsize=9)
        fig.colorbar(im, ax=ax, label=f"{p} ({unit})", pad=0.01)
    axes[-1].set_xlabel("t (ms)")
    axes[-1].set_xlim(t[0], t[-1])
    fig.suptitle(
        f"signals of {ev['model']} at scale {ev['scale']:g}, {ev['trials']} trials; each minus "
        f"its mean over 0–{ev['baseline']:g} ms\n{_drives_line(ev)}",
        fontsize=10,
    )
    return fig


def s_type(ev, p) -> str:
    kind = ev["signals"][p]["type"]
    return {
        "GaussCylinderPotential": "LFP",
        "CurrentDipoleMoment": "current dipole moment",
        "FourSphereEEG": "EEG (four-sphere head)",
        "MEGField": "MEG (magnetic field)",
        "LaminarCSD": "current source density",
    }.get(kind, kind)


def plot_evoked(path, dpi=110) -> list[Path]:
    """Write the figures of an evoked file beside it; returns their paths.

    Parameters
    ----------
    path : str or pathlib.Path
        An ``evoked.h5`` file.
    dpi : int, optional
        Resolution of the figures (dots per inch).

    Returns
    -------
    list of pathlib.Path
        The PNG files written.
    """
    path = Path(path)
    ev = read_evoked(path)
    out = []
    for name, make in (
        ("dipole", dipole_figure),
        ("raster", raster_figure),
        ("tfr", tfr_figure),
        ("signals", signals_figure),
    ):
        fig = make(ev, dpi=dpi)
        target = path.with_name(f"{name}.png")
        fig.savefig(target, dpi=dpi)
        out.append(target)
    return out
