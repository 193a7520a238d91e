"""The overview figure of a kernels file: ``python -m lfpk_hpc plot KERNELS.h5``.

One row per postsynaptic population Y and one column per presynaptic population X
(in the model's population order, from the file's ``params_json``):

- the LFP kernel H_YX across depth of a Gauss-cylinder probe as an image, contact
  depth z (µm) × lag (ms; the kernels are zero at negative lags), on a symmetric
  diverging colour scale. By default each panel has its own scale, printed in it
  (``±3.1 µV``), so that every pathway shows its structure however small it is
  beside the strongest one; ``--scale row`` gives one scale per row, ``grid`` one
  for the whole grid (in µV on the colour bar), ``symlog`` one symmetric-log scale
  for the grid (linear within 1/1000 of its largest value);
- to the right, per row Y, the z component of the current dipole moment kernels
  (nA·µm) of every X → Y as traces coloured by X, and the EEG kernels (first
  electrode) likewise if the file has an EEG probe, each row on its own scale.

Pathways with C_YX = 0 (``zero_connection``) are empty grey panels marked "C = 0";
a kernel whose largest |value| is below :data:`ZERO_RTOL` of the largest kernel of
its probe in the figure is a numerical zero, drawn as zero and marked "0"; kernels
whose task did not finish are framed in red and marked "incomplete". Values carry
an SI prefix that suits their size (µV, nV per spike); the dipole moment is always
in nA·µm. Lags are shown up to ``--tmax``, by default up to where every kernel has
fallen below 1 % of its largest value (rounded up, at most tau).

matplotlib is imported only when a figure is drawn (Agg canvas, no pyplot, no
global backend change). The layout is matplotlib's constrained layout, so that no
label or title is cut off.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .kernel import kernel_duration
from .kernelsfile import Kernel, KernelsFile, KernelsFileError, ProbeData
from .kernelsfile import read_kernels_file as _read_full
from .probes import canonical_units

__all__ = [
    "SCALES",
    "ZERO_RTOL",
    "KernelsFileError",
    "figure_size",
    "kernels_figure",
    "plot_kernels",
    "read_kernels_file",
    "signal_units",
]

LFP_TYPE = "GaussCylinderPotential"
CDM_TYPE = "CurrentDipoleMoment"
EEG_TYPE = "FourSphereEEG"

#: colour scales of the grid (``--scale``), the first is the default
SCALES = ("panel", "row", "grid", "symlog")
#: a kernel below this fraction of the largest kernel of its probe is drawn as zero
ZERO_RTOL = 1e-6
#: the default --tmax: the lag after which every kernel stays below this fraction of
#: its largest value
TAIL_RTOL = 0.01


def read_kernels_file(path, point: int | None = None) -> KernelsFile:
    """A kernels file (or point ``point`` of a scan file) as the figure needs it
    (:func:`lfpk_hpc.kernelsfile.read_kernels_file`): every kernel cut to lags 0..tau, and no
    data for pathways with C_YX = 0.

    Parameters
    ----------
    path : str or pathlib.Path
        A kernels file or a scan file.
    point : int, optional
        The point of a scan file (an index).

    Returns
    -------
    KernelsFile
        The file's kernels (lags 0..tau), in their probes' units.

    Raises
    ------
    KernelsFileError
        The file holds no kernels.
    """
    kf = _read_full(path, point=point)
    n_tau = kf.n_tau
    for probe in kf.probes.values():
        for key, k in probe.kernels.items():
            probe.kernels[key] = Kernel(None if k.zero else k.data[:, n_tau:], k.complete, k.zero)
    if not any(p.kernels for p in kf.probes.values()):
        raise KernelsFileError(f"{str(kf.path)!r} holds no kernels")
    return kf


# --------------------------------------------------------------------------- layout


def panel_size(n_rows: int, n_cols: int) -> tuple[float, float]:
    """Width and height (inches) of one image panel's cell (with its title): large
    for a small grid, at least 1.45 × 1.3 in (an 8 × 8 grid stays readable)."""
    w = min(3.0, max(1.45, 12.0 / max(n_cols, 1)))
    h = min(2.6, max(1.3, 10.0 / max(n_rows, 1)))
    return w, h


#: inches: margins, the colour bar block, a trace column, the title block
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_BOTTOM = 0.95, 0.25, 0.6
COLORBAR_BLOCK, TRACE_PAD, TRACE_WIDTH = 1.25, 0.8, 1.9
TITLE_HEIGHT, LINE_HEIGHT = 0.45, 0.18


def top_margin(n_traces: int) -> float:
    """Height (inches) above the panels: the title and one line per probe drawn,
    plus one about the scales."""
    return TITLE_HEIGHT + LINE_HEIGHT * (2 + n_traces) + 0.15


def figure_size(n_rows: int, n_cols: int, n_traces: int) -> tuple[float, float]:
    """Figure size (inches) for ``n_rows`` Y × ``n_cols`` X image panels and
    ``n_traces`` trace columns (dipole, EEG); the PNG has this size × dpi.

    Parameters
    ----------
    n_rows : int
        Image panels per column: postsynaptic populations Y (a count).
    n_cols : int
        Image panels per row: presynaptic populations X (a count).
    n_traces : int
        Trace columns (a count).

    Returns
    -------
    width, height : float
        The figure's size (inches).
    """
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


# --------------------------------------------------------------------------- units

# SI prefixes of a potential in mV, largest unit first
_MV_PREFIXES = [(1e-3, "V"), (1.0, "mV"), (1e3, "µV"), (1e6, "nV"), (1e9, "pV"), (1e12, "fV")]


def scaled_units(units: str, vmax: float) -> tuple[float, str]:
    """A factor and the unit it gives, so that vmax × factor lies in [1, 1000)
    where possible (e.g. 3e-5 mV → 30 nV). The dipole moment stays in nA·µm."""
    units = canonical_units(units)
    if units != "mV":
        return 1.0, units
    if not vmax > 0 or not math.isfinite(vmax):
        return 1e3, "µV"
    for factor, unit in _MV_PREFIXES:
        if vmax * factor >= 1.0:
            return factor, unit
    return _MV_PREFIXES[-1]


def signal_units(units: str) -> tuple[float, str]:
    """Factor and unit signals are drawn in: potentials in µV, the dipole moment in
    nA·µm (one spelling in every figure).

    Parameters
    ----------
    units : str
        A probe's units (e.g. ``"mV"``, ``"nA·µm"``).

    Returns
    -------
    factor : float
        What the signals are multiplied by (dimensionless).
    unit : str
        The unit they are drawn in.
    """
    units = canonical_units(units)
    return (1e3, "µV") if units == "mV" else (1.0, units)


def format_value(value: float, unit: str) -> str:
    """``value`` with two significant digits (no exponent between 0.01 and 1e4)."""
    a = abs(value)
    if a == 0:
        text = "0"
    elif a >= 9.95:  # (99.6 with two significant digits would print as 1e+02)
        text = f"{value:.0f}"
    elif a >= 0.01:
        text = f"{value:.2g}"
    else:
        text = f"{value:.1e}"
    return f"{text} {unit}"


# --------------------------------------------------------------------------- data


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


def _nice_ceil(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is >= x."""
    if not x > 0:
        return 0.0
    k = math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10**k >= x * (1 - 1e-12):
            return m * 10**k
    return 10 ** (k + 1)  # pragma: no cover


def auto_tmax(kf: KernelsFile, rows: dict, Ys=None) -> float:
    """Lag (ms) after which every kernel of the postsynaptic populations ``Ys`` (all:
    None) stays below TAIL_RTOL of its largest value, rounded up to 1, 2, 2.5 or
    5 × 10^k (at least 5 dt, at most tau). ``rows``: probe name → the row of its
    kernels to look at (None: all)."""
    last = 0.0
    for name, row in rows.items():
        kernels = kf.probes[name].kernels
        d_of = {
            key: np.abs(k.data if row is None else k.data[row : row + 1])
            for key, k in kernels.items()
            if k.data is not None
        }
        largest = max((d.max() for d in d_of.values()), default=0.0)
        for (Y, _X), d in d_of.items():
            if (Ys is not None and Y not in Ys) or not d.max() > ZERO_RTOL * largest:
                continue  # another row, or a numerical zero
            last = max(last, kernel_duration(d, kf.dt, TAIL_RTOL))
    return min(kf.tau, max(_nice_ceil(last), 5 * kf.dt))


# --------------------------------------------------------------------------- drawing


def plot_kernels(
    path,
    out=None,
    probe: str | None = None,
    dpi: float = 150.0,
    tmax: float | None = None,
    scale: str = "panel",
    point: int | None = None,
) -> Path:
    """Draw the overview figure of kernels file ``path`` (or of point ``point`` of a
    scan file) into ``out``.

    Parameters
    ----------
    path : str or path-like
        A kernels file (or a scan file, with ``point``).
    out : str, path-like or None
        The PNG to write (None: the kernels file with suffix .png, or .point<i>.png).
    probe : str or None
        The probe drawn in the grid (None: the first Gauss-cylinder LFP probe).
    dpi : float
        Resolution, dots per inch.
    tmax : float or None
        Lags 0..tmax drawn, ms (None: per row, see :func:`auto_tmax`).
    scale : {"panel", "row", "grid", "symlog"}
        The grid's colour scales (:data:`SCALES`); potentials drawn in µV (or nV), the
        dipole moment in nA·µm.
    point : int or None
        The point of a scan file.

    Returns
    -------
    pathlib.Path
        The figure's path.
    """
    if point is not None:
        from .kernelsfile import resolve_point

        point = resolve_point(path, point)
    if out is None:
        suffix = ".png" if point is None else f".point{point}.png"
        out = Path(path).with_suffix(suffix)
    out = Path(out)
    if out.resolve() == Path(path).resolve():
        raise KernelsFileError(f"--out {str(out)!r} is the kernels file itself")
    fig = kernels_figure(path, probe=probe, dpi=dpi, tmax=tmax, scale=scale, point=point)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    return out


def kernels_figure(
    path,
    probe: str | None = None,
    dpi: float = 150.0,
    tmax: float | None = None,
    scale="panel",
    point: int | None = None,
):
    """The overview figure (a matplotlib Figure) of kernels file ``path`` (or of
    point ``point`` of a scan file).

    Parameters
    ----------
    path : str or pathlib.Path
        A kernels file or a scan file.
    probe : str, optional
        The probe drawn in the image panels; None: the first Gauss-cylinder LFP probe.
    dpi : float, optional
        Resolution (dots per inch).
    tmax : float, optional
        Last lag drawn (ms, at most tau); None: where each row's kernels have decayed.
    scale : str, optional
        How the colour scale is shared, one of :data:`SCALES`.
    point : int, optional
        The point of a scan file (an index).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    KernelsFileError
        A bad ``scale`` or ``tmax``, or a file without kernels.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize, SymLogNorm, TwoSlopeNorm
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    if scale not in SCALES:
        raise KernelsFileError(f"--scale = {scale!r} is invalid: allowed {', '.join(SCALES)}")
    if tmax is not None and not (math.isfinite(tmax) and tmax > 0):
        raise KernelsFileError(f"--tmax = {tmax!r} is invalid: must be a time > 0 ms")
    kf = read_kernels_file(path, point=point)
    grid, cdm, eeg = _pick(kf, probe)
    traces = [p for p in (cdm, eeg) if p is not None]
    nY, nX, nT = len(kf.Y), len(kf.X), len(traces)
    trace_row = {p.name: (2 if p.type == CDM_TYPE else 0) for p in traces}
    # lags shown: 0..tmax, by default per row Y up to where its kernels have decayed
    # (a small interneuron's kernels last a few ms, a pyramidal cell's tens of ms)
    auto = tmax is None
    per_row = auto and nY > 1
    rows_probes = {grid.name: None, **trace_row}
    t_end = {
        Y: auto_tmax(kf, rows_probes, [Y] if per_row else None) if auto else min(tmax, kf.tau)
        for Y in kf.Y
    }
    n_of = {
        Y: max(2, min(kf.n_tau + 1, int(np.floor(t / kf.dt + 1e-9)) + 1)) for Y, t in t_end.items()
    }
    lags_of = {Y: kf.lags[:n] for Y, n in n_of.items()}
    colours = _colours(nX)

    W, H = figure_size(nY, nX, nT)
    fig = Figure(figsize=(W, H), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(w_pad=0.06, h_pad=0.06, wspace=0.02, hspace=0.02)
    fs = 7.5 if nX * nY > 16 else 9.0
    w_grid = nX * panel_size(nY, nX)[0] + COLORBAR_BLOCK + MARGIN_LEFT
    if traces:
        sf_grid, sf_traces = fig.subfigures(1, 2, width_ratios=(w_grid, W - w_grid), wspace=0.01)
    else:
        sf_grid, sf_traces = fig, None

    # ---- the grid of the chosen probe
    is_image = grid.z is not None and grid.z.size > 1
    n_ch = int(grid.attrs.get("n_channels", 1))
    channel_colours = [colormaps["viridis"](v) for v in np.linspace(0.0, 0.8, max(n_ch, 1))]
    data = {key: k.data for key, k in grid.kernels.items() if k.data is not None}
    peaks = {key: float(np.abs(d).max()) for key, d in data.items()}
    vmax = max(peaks.values(), default=0.0)
    zero = {key for key, m in peaks.items() if not m > ZERO_RTOL * vmax}
    factor, unit = scaled_units(grid.units, vmax)
    row_max = {
        Y: max((m for (y, _), m in peaks.items() if y == Y and (y, _) not in zero), default=0.0)
        for Y in kf.Y
    }

    def norm_of(Y, X):
        m = {"panel": peaks.get((Y, X), 0.0), "row": row_max[Y]}.get(scale, vmax)
        if not m > 0:
            return None, 0.0
        if scale == "symlog":
            return SymLogNorm(1e-3 * m * factor, vmin=-m * factor, vmax=m * factor, base=10), m
        return TwoSlopeNorm(0.0, -m * factor, m * factor), m

    # no shared axes: with 64 panels, sharing costs matplotlib seconds per draw
    axes = sf_grid.subplots(nY, nX, squeeze=False)

    def value(v):
        """A panel's value (file units) with the prefix that suits it."""
        f, u = scaled_units(grid.units, v)
        return format_value(v * f, u)

    for i, Y in enumerate(kf.Y):
        lags = lags_of[Y]
        nl = lags.size
        for j, X in enumerate(kf.X):
            ax = axes[i, j]
            ax.tick_params(labelsize=fs - 1, length=2, pad=1.5)
            ax.set_title(f"{X} → {Y}", fontsize=fs, pad=2.5)
            k = grid.kernels.get((Y, X))
            if k is None or k.zero:
                _mark(ax, "no kernel" if k is None else "C = 0", fs)
            elif is_image:
                norm, m = norm_of(Y, X)
                is_zero = (Y, X) in zero
                d = data[(Y, X)][:, :nl] * factor
                d = np.zeros_like(d) if is_zero else d
                _image(ax, d, lags, grid.z, norm or TwoSlopeNorm(0.0, -1.0, 1.0))
                if is_zero:
                    _annotate(ax, f"0 {unit} (numerical zero)", fs, weight="bold")
                elif scale == "panel":
                    _annotate(ax, "±" + value(m), fs)
                else:
                    _annotate(ax, "max " + value(peaks[(Y, X)]), fs)
            else:
                is_zero = (Y, X) in zero
                for c, row in enumerate(data[(Y, X)][:, :nl] * factor):
                    ax.plot(
                        lags,
                        np.zeros_like(row) if is_zero else row,
                        lw=0.9,
                        color=channel_colours[c],
                        label=f"channel {c + 1}",
                    )
                ax.axhline(0.0, color="0.7", lw=0.6, zorder=0)
                _annotate(
                    ax,
                    f"0 {unit} (numerical zero)" if is_zero else "max " + value(peaks[(Y, X)]),
                    fs,
                )
                if (i, j) == (0, 0) and 1 < n_ch <= 8:
                    ax.legend(fontsize=fs - 2, frameon=False, loc="upper right")
            ax.set_xlim(0, lags[-1])
            if is_image:
                ax.set_ylim(*_z_limits(grid.z))
            ax.xaxis.set_major_locator(
                MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10], prune="upper")
            )
            if k is not None and not k.complete:
                _mark_incomplete(ax, fs)
            if i == nY - 1:
                ax.set_xlabel("lag (ms)", fontsize=fs)
            elif not per_row:
                ax.tick_params(labelbottom=False)
            if j == 0:
                label = "z (µm)" if is_image else f"{_label(grid)} ({unit})"
                if scale == "row" and row_max[Y] > 0:
                    label += "\nrow ±" + value(row_max[Y])
                ax.set_ylabel(label, fontsize=fs)
            elif is_image:
                ax.tick_params(labelleft=False)
    if is_image:
        if scale in ("panel", "row"):
            sm = ScalarMappable(TwoSlopeNorm(0.0, -1.0, 1.0), cmap="RdBu_r")
            what = "panel's" if scale == "panel" else "row's"
            where = "printed in it" if scale == "panel" else "beside the row"
            cb_label = f"{_label(grid)} / the {what} largest |value| ({where})"
        else:
            norm = norm_of(kf.Y[0], kf.X[0])[0] if vmax > 0 else Normalize(-1, 1)
            sm = ScalarMappable(norm, cmap="RdBu_r")
            cb_label = f"{_label(grid)} ({unit} per spike)"
        cb = sf_grid.colorbar(sm, ax=axes, shrink=0.6, aspect=40, pad=0.01)
        cb.set_label(cb_label, fontsize=fs + 0.5)
        cb.ax.tick_params(labelsize=fs - 1)

    # ---- dipole and EEG traces, one row per Y, coloured by X, one scale per panel
    if sf_traces is not None:
        taxes = sf_traces.subplots(nY, nT, squeeze=False)
        for t, p in enumerate(traces):
            row = trace_row[p.name]
            pdata = {key: k.data[row] for key, k in p.kernels.items() if k.data is not None}
            pmax = max((np.abs(d).max() for d in pdata.values()), default=0.0)
            pf, punit = scaled_units(p.units, pmax)
            for i, Y in enumerate(kf.Y):
                lags = lags_of[Y]
                ax = taxes[i, t]
                ax.tick_params(labelsize=fs - 1, length=2, pad=1.5)
                ax.axhline(0.0, color="0.7", lw=0.6, zorder=0)
                ax.set_title(f"{_label(p)}: X → {Y}", fontsize=fs, pad=2.5)
                mine = {X: p.kernels[(Y, X)] for X in kf.X if (Y, X) in pdata}
                peak = 0.0
                for j, X in enumerate(kf.X):
                    if X not in mine:
                        continue
                    d = pdata[(Y, X)]
                    d = np.zeros(lags.size) if not np.abs(d).max() > ZERO_RTOL * pmax else d
                    d = d[: lags.size]
                    peak = max(peak, float(np.abs(d).max()))
                    ls = "-" if mine[X].complete else "--"
                    ax.plot(lags, d * pf, color=colours[j], lw=1.0, ls=ls)
                incomplete = [X for X, k in mine.items() if not k.complete]
                if incomplete:
                    text = (
                        "incomplete: " + ", ".join(incomplete)
                        if len(incomplete) <= 2
                        else f"{len(incomplete)} of {len(mine)} incomplete (dashed)"
                    )
                    _mark_incomplete(ax, fs, text)
                if not mine:
                    _mark(ax, "C = 0", fs)
                elif peak > 0:
                    ax.set_ylim(-1.1 * peak * pf, 1.1 * peak * pf)
                    _annotate(ax, "max " + format_value(peak * pf, punit), fs)
                else:
                    ax.set_ylim(-1.0, 1.0)
                    _annotate(ax, f"0 {punit} (numerical zero)", fs, weight="bold")
                ax.set_xlim(0, lags[-1])
                ax.ticklabel_format(axis="y", style="plain", useOffset=False)
                if peak > 0:
                    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, symmetric=True))
                else:  # all zero: no scale to show
                    ax.set_yticks([0.0])
                ax.xaxis.set_major_locator(
                    MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10], prune="upper")
                )
                ax.set_ylabel(f"{_label(p)} ({punit})", fontsize=fs, labelpad=1)
                if i == nY - 1:
                    ax.set_xlabel("lag (ms)", fontsize=fs)
                elif not per_row:
                    ax.tick_params(labelbottom=False)
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=colours[j], lw=1.8) for j in range(nX)]
        sf_traces.legend(
            handles,
            kf.X,
            title="presynaptic population X",
            loc="outside upper center",
            ncol=min(nX, 4 * nT),
            fontsize=fs,
            title_fontsize=fs,
            frameon=False,
            handlelength=1.3,
            columnspacing=0.8,
        )

    # ---- title and what was drawn
    title = f"Spike-signal kernels H_YX of {kf.model_name!r}, X → Y, per presynaptic spike"
    if point is not None:
        from .kernelsfile import scan_point_label

        title += f"; scan {scan_point_label(path, point)}"
    if not kf.complete:
        title += "  [UNFINISHED RUN: red panels are missing]"
    lines = _subtitle(kf, grid, cdm, eeg, t_end, per_row, scale, unit, factor * vmax)
    # lines wrapped to the figure's width (characters of ~0.6 em)
    import textwrap

    width = max(40, int(W * 72 / (0.6 * (fs + 1))))
    lines = [w for line in [title, *lines] for w in textwrap.wrap(line, width)]
    fig.suptitle("\n".join(lines), fontsize=fs + 1, ha="left", x=0.01, linespacing=1.5)
    return fig


def _annotate(ax, text: str, fs: float, weight: str = "normal") -> None:
    """A panel's number (with its unit), bottom right, on a white ground."""
    ax.text(
        0.97,
        0.04,
        text,
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=fs - 1.5,
        color="0.15",
        weight=weight,
        bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1.0},
    )


def _label(p: ProbeData) -> str:
    return {LFP_TYPE: "LFP", CDM_TYPE: "$P_z$", EEG_TYPE: "EEG"}.get(p.type, p.name)


def _subtitle(kf, grid, cdm, eeg, t_end, per_row, scale, unit, vmax_scaled) -> list[str]:
    lines = []
    if grid.type == LFP_TYPE:
        a = grid.attrs
        what = [
            f"{label} = {a[key]:.5g} {u}"
            for key, label, u in (("R", "R", "µm"), ("sigma_z", "σ_z", "µm"), ("sigma", "σ", "S/m"))
            if key in a
        ]
        lines.append(f"LFP (probe '{grid.name}'): Gauss cylinder" + "".join(", " + w for w in what))
    else:
        lines.append(f"grid: probe '{grid.name}' ({grid.type})")
    scale_text = {
        "panel": "each panel on its own colour scale (±: its largest |value|)",
        "row": "one colour scale per row (its ±value beside the row)",
        "grid": "one colour scale for the grid",
        "symlog": "one symmetric-log colour scale for the grid, linear within "
        f"±{format_value(1e-3 * vmax_scaled, unit)}",
    }[scale]
    lines.append(
        f"{scale_text}; 0: below {ZERO_RTOL:g} of the largest kernel (numerical zero); "
        "--scale panel|row|grid|symlog"
    )
    if cdm is not None:
        lines.append(f"$P_z$ (probe '{cdm.name}'): current dipole moment, z component")
    if eeg is not None:
        el = kf.electrodes.get(eeg.name)
        n_el = int(eeg.attrs.get("n_channels", 1))
        which = f"electrode 1 of {n_el}" if n_el > 1 else "electrode"
        where = f" at {tuple(round(v) for v in el[0])} µm" if el else ""
        lines.append(f"EEG (probe '{eeg.name}'): four-sphere head model, {which}{where}")
    ends = sorted(set(t_end.values()))
    reach = "0–" + (f"{ends[0]:g} … {ends[-1]:g}" if len(ends) > 1 else f"{ends[0]:g}")
    span = (
        f"lags per row {reach} ms: up to where the row's kernels stay below "
        f"{TAIL_RTOL:.0%} of their largest value (--tmax for one range)"
        if per_row
        else f"lags 0–{ends[-1]:g} ms"
    )
    lines.append(
        f"{span}; tau = {kf.tau:g} ms, zero at negative lags; dt = {kf.dt:g} ms; "
        f"dipole and EEG: each panel on its own scale"
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
        fontsize=fs - 1,
        color="tab:red",
        weight="bold",
        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1.5},
    )
