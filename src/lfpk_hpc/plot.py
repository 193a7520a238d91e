"""The overview figure of a kernels file: ``python -m lfpk_hpc plot KERNELS.h5``.

One row per postsynaptic population Y and one column per presynaptic population X
(in the model's population order, from the file's ``params_json``):

- the LFP kernel H_YX across depth of a Gauss-cylinder probe as an image, contact
  depth z (µm) × lag (ms, 0..tau; the kernels are zero at negative lags), with one
  symmetric diverging colour scale for the whole grid and its colour bar;
- to the right, per row Y, the z component of the current dipole moment kernels
  (nA·µm) of every X → Y as traces coloured by X, and the EEG kernels (first
  electrode) likewise if the file has an EEG probe.

Pathways with C_YX = 0 (``zero_connection``) are empty panels marked "C = 0";
kernels of an unfinished run (``complete`` False) are marked "incomplete".
Values are shown with an SI prefix that suits their size (e.g. µV per spike).

matplotlib is imported only when a figure is drawn (Agg canvas, no pyplot, no
global backend change).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .store import Kernel, KernelsFile, KernelsFileError, ProbeData
from .store import read_kernels_file as _read_full

__all__ = ["KernelsFileError", "figure_size", "plot_kernels", "read_kernels_file"]

LFP_TYPE = "GaussCylinderPotential"
CDM_TYPE = "CurrentDipoleMoment"
EEG_TYPE = "FourSphereEEG"


def read_kernels_file(path) -> KernelsFile:
    """A kernels file as the figure needs it (:func:`lfpk_hpc.store.read_kernels_file`):
    every kernel cut to lags 0..tau, and no data for pathways with C_YX = 0."""
    kf = _read_full(path)
    n_tau = kf.n_tau
    for probe in kf.probes.values():
        for key, k in probe.kernels.items():
            probe.kernels[key] = Kernel(None if k.zero else k.data[:, n_tau:], k.complete, k.zero)
    if not any(p.kernels for p in kf.probes.values()):
        raise KernelsFileError(f"{str(kf.path)!r} holds no kernels")
    return kf


# --------------------------------------------------------------------------- layout

#: inches: margins, the gaps of the image grid, the colour bar block, a trace column
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_BOTTOM = 0.95, 0.25, 0.6
TITLE_HEIGHT, LINE_HEIGHT = 0.45, 0.18
IMAGE_GAP, TITLE_GAP = 0.14, 0.3
COLORBAR_BLOCK, COLORBAR_BAR = 1.25, 0.13
TRACE_PAD, TRACE_WIDTH = 0.8, 1.9


def panel_size(n_rows: int, n_cols: int) -> tuple[float, float]:
    """Width and height (inches) of one image panel's cell (with its title): large
    for a small grid, at least 1.45 × 1.3 in (an 8 × 8 grid stays readable)."""
    w = min(3.0, max(1.45, 12.0 / max(n_cols, 1)))
    h = min(2.6, max(1.3, 10.0 / max(n_rows, 1)))
    return w, h


def top_margin(n_traces: int) -> float:
    """Height (inches) above the panels: the title and one line per probe drawn,
    plus one about the scales."""
    return TITLE_HEIGHT + LINE_HEIGHT * (2 + n_traces) + 0.15


def figure_size(n_rows: int, n_cols: int, n_traces: int) -> tuple[float, float]:
    """Figure size (inches) for ``n_rows`` Y × ``n_cols`` X image panels and
    ``n_traces`` trace columns (dipole, EEG); the PNG has this size × dpi."""
    w, h = panel_size(n_rows, n_cols)
    width = (
        MARGIN_LEFT
        + n_cols * w
        + COLORBAR_BLOCK
        + n_traces * (TRACE_PAD + TRACE_WIDTH)
        + MARGIN_RIGHT
    )
    height = top_margin(n_traces) + n_rows * h + MARGIN_BOTTOM
    return width, height


# SI prefixes for the units the probes write, largest unit first
_PREFIXES = {
    "mV": [(1e-3, "V"), (1.0, "mV"), (1e3, "µV"), (1e6, "nV"), (1e9, "pV"), (1e12, "fV")],
    "nA*um": [(1e-3, "µA·µm"), (1.0, "nA·µm"), (1e3, "pA·µm"), (1e6, "fA·µm")],
}


def scaled_units(units: str, vmax: float) -> tuple[float, str]:
    """A factor and the unit it gives, so that vmax × factor lies in [1, 1000)
    where possible (e.g. 3e-5 mV → 30 nV)."""
    choices = _PREFIXES.get(units, [(1.0, units.replace("*um", "·µm"))])
    if not vmax > 0 or not math.isfinite(vmax):
        return (1.0, choices[0][1]) if len(choices) == 1 else choices[1]
    for factor, unit in choices:
        if vmax * factor >= 1.0:
            return factor, unit
    return choices[-1]


def _pick(kf: KernelsFile, probe: str | None):
    """The grid's probe (named, or the first Gauss-cylinder LFP probe), the dipole
    and the EEG probe (None if absent or drawn in the grid)."""
    by_type = {}
    for p in kf.probes.values():
        by_type.setdefault(p.type, p)
    if probe is not None:
        if probe not in kf.probes:
            raise KernelsFileError(
                f"--probe {probe!r}: no such probe in {str(kf.path)!r} "
                f"(probes: {', '.join(kf.probes)})"
            )
        grid = kf.probes[probe]
    else:
        grid = by_type.get(LFP_TYPE) or next(iter(kf.probes.values()))
    cdm = by_type.get(CDM_TYPE)
    eeg = by_type.get(EEG_TYPE)
    return grid, (cdm if cdm is not grid else None), (eeg if eeg is not grid else None)


# --------------------------------------------------------------------------- drawing


def plot_kernels(
    path, out=None, probe: str | None = None, dpi: float = 150.0, tmax: float | None = None
) -> Path:
    """Draw the overview figure of kernels file ``path`` into ``out`` (PNG; default:
    the kernels file with suffix .png) for lags 0..``tmax`` ms (default tau).
    Returns the output path."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    kf = read_kernels_file(path)
    out = Path(out) if out is not None else Path(path).with_suffix(".png")
    if out.resolve() == Path(path).resolve():
        raise KernelsFileError(f"--out {str(out)!r} is the kernels file itself")
    grid, cdm, eeg = _pick(kf, probe)
    traces = [p for p in (cdm, eeg) if p is not None]
    nY, nX, nT = len(kf.Y), len(kf.X), len(traces)
    lags = kf.lags
    if tmax is not None:
        if not 0 < tmax:
            raise KernelsFileError(f"--tmax = {tmax} is invalid: must be > 0 ms")
        n = min(lags.size, int(np.floor(tmax / kf.dt + 1e-9)) + 1)
        lags = lags[:n]
    n_lags = lags.size
    colours = _colours(nX)

    W, H = figure_size(nY, nX, nT)
    fig = Figure(figsize=(W, H), dpi=dpi)
    FigureCanvasAgg(fig)
    fs = 7.5 if nX * nY > 16 else 9.0
    w, h = panel_size(nY, nX)

    def box(x, y_top, width, height):
        """Axes rectangle from inches (left, top edge measured from the figure top)."""
        return [x / W, 1 - (y_top + height) / H, width / W, height / H]

    top = top_margin(nT)

    def row_top(i):
        return top + i * h + TITLE_GAP

    ax_h = h - TITLE_GAP - (0.12 if nY > 1 else 0.0)

    # ---- the grid of the chosen probe
    is_image = grid.z is not None and grid.z.size > 1
    n_ch = int(grid.attrs.get("n_channels", 1))
    channel_colours = [colormaps["viridis"](v) for v in np.linspace(0.0, 0.8, max(n_ch, 1))]
    data = {key: k.data[:, :n_lags] for key, k in grid.kernels.items() if k.data is not None}
    vmax = max((np.abs(d).max() for d in data.values()), default=0.0)
    factor, unit = scaled_units(grid.units, vmax)
    norm = TwoSlopeNorm(0.0, -vmax * factor, vmax * factor) if vmax > 0 else None
    image = None
    for i, Y in enumerate(kf.Y):
        for j, X in enumerate(kf.X):
            ax = fig.add_axes(box(MARGIN_LEFT + j * w, row_top(i), w - IMAGE_GAP, ax_h))
            ax.tick_params(labelsize=fs - 1, length=2, pad=1.5)
            ax.set_title(f"{X} → {Y}", fontsize=fs, pad=2.5)
            k = grid.kernels.get((Y, X))
            if k is None or k.zero:
                _mark(ax, "no kernel" if k is None else "C = 0", fs)
            elif is_image:
                d = data[(Y, X)] * factor
                image = _image(ax, d, lags, grid.z, norm)
                _annotate_max(ax, np.abs(d).max(), fs)
            else:
                for c, row in enumerate(data[(Y, X)] * factor):
                    ax.plot(lags, row, lw=0.9, color=channel_colours[c], label=f"channel {c + 1}")
                if (i, j) == (0, 0) and grid.attrs.get("n_channels", 1) <= 8:
                    ax.legend(fontsize=fs - 2, frameon=False, loc="upper right")
            ax.set_xlim(0, lags[-1])
            if is_image:
                ax.set_ylim(*_z_limits(grid.z))
            elif vmax > 0:
                ax.set_ylim(-1.08 * vmax * factor, 1.08 * vmax * factor)
            ax.xaxis.set_major_locator(
                MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10], prune="upper")
            )
            if k is not None and not k.complete:
                _mark_incomplete(ax, fs)
            if i == nY - 1:
                ax.set_xlabel("lag (ms)", fontsize=fs)
            else:
                ax.tick_params(labelbottom=False)
            if j == 0:
                ax.set_ylabel("z (µm)" if is_image else f"{_label(grid)} ({unit})", fontsize=fs)
            else:
                ax.tick_params(labelleft=False)
    x_cb = MARGIN_LEFT + nX * w
    if image is not None:
        grid_h = nY * h - TITLE_GAP
        bar_h = grid_h if nY == 1 else 0.6 * grid_h
        cax = fig.add_axes(box(x_cb + 0.1, row_top(0) + (grid_h - bar_h) / 2, COLORBAR_BAR, bar_h))
        cb = fig.colorbar(image, cax=cax)
        cb.set_label(f"{_label(grid)} ({unit} per spike)", fontsize=fs + 0.5)
        cb.ax.tick_params(labelsize=fs - 1)

    # ---- dipole and EEG traces, one row per Y, coloured by X, one scale per column
    for t, p in enumerate(traces):
        row = 2 if p.type == CDM_TYPE else 0
        x0 = x_cb + COLORBAR_BLOCK + t * (TRACE_PAD + TRACE_WIDTH) + TRACE_PAD
        pmax = max(
            (np.abs(k.data[row, :n_lags]).max() for k in p.kernels.values() if k.data is not None),
            default=0.0,
        )
        pf, punit = scaled_units(p.units, pmax)
        for i, Y in enumerate(kf.Y):
            ax = fig.add_axes(box(x0, row_top(i), TRACE_WIDTH, ax_h))
            ax.tick_params(labelsize=fs - 1, length=2, pad=1.5)
            ax.axhline(0.0, color="0.7", lw=0.6, zorder=0)
            ax.set_title(f"{_label(p)}: X → {Y}", fontsize=fs, pad=2.5)
            rows = {
                X: p.kernels[(Y, X)]
                for X in kf.X
                if (Y, X) in p.kernels and p.kernels[(Y, X)].data is not None
            }
            for j, X in enumerate(kf.X):
                if X in rows:
                    ax.plot(lags, rows[X].data[row, :n_lags] * pf, color=colours[j], lw=1.0)
            incomplete = [X for X, k in rows.items() if not k.complete]
            if incomplete:
                _mark_incomplete(ax, fs, "incomplete: " + ", ".join(incomplete))
            if rows:
                peak = max(np.abs(k.data[row, :n_lags]).max() for k in rows.values()) * pf
                _annotate_max(ax, peak, fs)
            else:
                _mark(ax, "C = 0", fs)
            ax.set_xlim(0, lags[-1])
            if pmax > 0:
                ax.set_ylim(-1.1 * pmax * pf, 1.1 * pmax * pf)
            ax.set_ylabel(f"{_label(p)} ({punit})", fontsize=fs, labelpad=1)
            if i == nY - 1:
                ax.set_xlabel("lag (ms)", fontsize=fs)
            else:
                ax.tick_params(labelbottom=False)

    # ---- title, what was drawn, legend of X colours
    title = f"Spike-signal kernels H_YX of {kf.model_name!r}, X → Y, per presynaptic spike"
    if not kf.complete:
        title += "  [INCOMPLETE RUN]"
    fig.text(MARGIN_LEFT / W, 1 - 0.15 / H, title, fontsize=fs + 3, weight="bold", va="top")
    for n, line in enumerate(_subtitle(kf, grid, cdm, eeg, lags[-1])):
        fig.text(
            MARGIN_LEFT / W, 1 - (TITLE_HEIGHT + LINE_HEIGHT * n) / H, line, fontsize=fs, va="top"
        )
    if traces:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=colours[j], lw=1.8) for j in range(nX)]
        x_traces = x_cb + COLORBAR_BLOCK + TRACE_PAD
        fig.legend(
            handles,
            kf.X,
            title="presynaptic population X",
            loc="lower center",
            bbox_to_anchor=(
                (x_traces + (nT * (TRACE_PAD + TRACE_WIDTH) - TRACE_PAD) / 2) / W,
                1 - (top - 0.05) / H,
            ),
            ncol=min(nX, 4 * nT),
            fontsize=fs,
            title_fontsize=fs,
            frameon=False,
            handlelength=1.3,
            columnspacing=0.8,
            borderaxespad=0.0,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    return out


def _annotate_max(ax, peak: float, fs: float) -> None:
    """The panel's largest |value| (in the units of its scale), bottom right."""
    text = f"{peak:.2g}" if peak < 100 else f"{peak:.0f}"
    ax.text(
        0.97,
        0.04,
        f"max {text}",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=fs - 1.5,
        color="0.25",
    )


def _label(p: ProbeData) -> str:
    return {LFP_TYPE: "LFP", CDM_TYPE: "$P_z$", EEG_TYPE: "EEG"}.get(p.type, p.name)


def _subtitle(kf: KernelsFile, grid, cdm, eeg, t_end: float) -> list[str]:
    lines = []
    if grid.type == LFP_TYPE:
        a = grid.attrs
        what = [
            f"{label} = {a[key]:.5g} {unit}"
            for key, label, unit in (
                ("R", "R", "µm"),
                ("sigma_z", "σ_z", "µm"),
                ("sigma", "σ", "S/m"),
            )
            if key in a
        ]
        lines.append(f"LFP (probe '{grid.name}'): Gauss cylinder" + "".join(", " + w for w in what))
    else:
        lines.append(f"grid: probe '{grid.name}' ({grid.type})")
    if cdm is not None:
        lines.append(f"$P_z$ (probe '{cdm.name}'): current dipole moment, z component")
    if eeg is not None:
        el = kf.electrodes.get(eeg.name)
        n_el = int(eeg.attrs.get("n_channels", 1))
        which = f"electrode 1 of {n_el}" if n_el > 1 else "electrode"
        where = f" at {tuple(round(v) for v in el[0])} µm" if el else ""
        lines.append(f"EEG (probe '{eeg.name}'): four-sphere head model, {which}{where}")
    lines.append(
        f"one scale per column; max: a panel's largest |value|; lags 0–{t_end:g} ms "
        f"(tau = {kf.tau:g} ms; zero at negative lags), dt = {kf.dt:g} ms"
    )
    return lines


def _colours(n: int):
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _z_limits(z: np.ndarray) -> tuple[float, float]:
    dz = np.abs(np.diff(np.sort(z))).min() if z.size > 1 else 1.0
    return float(z.min() - dz / 2), float(z.max() + dz / 2)


def _image(ax, data, lags, z, norm):
    """Kernel (channels, lags) as an image, depth upwards (cortical surface on top)."""
    order = np.argsort(z)
    zs = z[order]
    step = np.diff(zs)
    if np.allclose(step, step[0], rtol=1e-6):
        lo, hi = _z_limits(z)
        dt = lags[1] - lags[0] if lags.size > 1 else 1.0
        return ax.imshow(
            data[order],
            origin="lower",
            aspect="auto",
            extent=(lags[0] - dt / 2, lags[-1] + dt / 2, lo, hi),
            cmap="RdBu_r",
            norm=norm,
            interpolation="nearest",
        )
    return ax.pcolormesh(lags, zs, data[order], cmap="RdBu_r", norm=norm, shading="nearest")


def _mark(ax, text: str, fs: float) -> None:
    """An empty panel: grey, with ``text`` in the middle."""
    ax.set_facecolor("0.93")
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=fs + 1,
        color="0.35",
    )


def _mark_incomplete(ax, fs: float, text: str = "incomplete") -> None:
    for spine in ax.spines.values():
        spine.set_edgecolor("tab:red")
        spine.set_linewidth(1.5)
    ax.text(
        0.5,
        0.94,
        text,
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=fs,
        color="tab:red",
        weight="bold",
        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1.5},
    )
