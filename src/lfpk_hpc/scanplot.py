"""plot-scan: how kernels change along each axis of a scan.

    python -m lfpk_hpc plot-scan SCAN.h5 [--probe lfp] [--pathway L4E->L23E ...]
                                         [--at POINT] [--out FIG.png]

Two summaries of a kernel H_YX (channels × lags), per probe channel:

- **peak**: the value at the lag of the largest |H| (signed; the probe's units per
  presynaptic spike);
- **integral**: the sum over lags times dt (units·ms per presynaptic spike), the
  response to a step of one spike per ms of X.

Along an axis the other axes stay at the values of a reference point (``--at``,
default point 0): the figure shows a line through the grid, not an average. The
axes of ``zip`` move together and are drawn as one axis. Rows are pathways X → Y
(default: the four with the largest |H| at the reference point), columns the axes
× the two summaries. A probe with more than three channels (an LFP across depth) is
drawn as an image (depth × axis value), others as one line per channel.

Every number drawn is also written to ``FIG.csv`` (point, the axes' values, probe,
pathway, channel, depth, peak, integral and units), for all points.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .kernelsfile import SCAN_FORMAT, KernelsFileError, resolve_point

__all__ = ["ScanSummary", "plot_scan", "read_scan_summary"]

#: at most this many pathways by default
DEFAULT_PATHWAYS = 4


@dataclass
class ScanSummary:
    """Peaks and integrals of some kernels of one probe at every point of a scan.

    Parameters
    ----------
    path : pathlib.Path
        The scan file.
    model_name : str
        The base model's name.
    probe : str
        The probe.
    units : str
        Units of the kernels per presynaptic spike (e.g. ``"mV"``, ``"nA·µm"``).
    z : numpy.ndarray or None
        Depths of the channels (µm), if the probe has them.
    n_channels : int
        Channels of the probe (a count).
    channel_names : list of str
        How figures and the CSV name the channels.
    paths : list of str
        The scan's parameter paths.
    values : list of list
        Per point, the values of ``paths`` (each in its parameter's unit).
    product : list of str
        The paths of the product axes.
    zipped : list of str
        The paths of the zipped axes.
    pathways : list of tuple of str
        The pathways (X, Y).
    peak : dict
        (X, Y) → each channel's kernel at its largest magnitude, (points, channels),
        in ``units``; NaN where incomplete.
    integral : dict
        (X, Y) → the kernel summed over its lags times dt, (points, channels), in
        ``units``·ms.
    complete : bool
        Whether every point's kernels are complete.
    """

    path: Path
    model_name: str
    probe: str
    units: str  # of H (per presynaptic spike)
    z: np.ndarray | None  # channel depths (µm), if the probe has them
    n_channels: int
    channel_names: list[str]
    paths: list[str]  # the scan's parameter paths
    values: list[list]  # per point, the values of ``paths``
    product: list[str]
    zipped: list[str]
    pathways: list[tuple[str, str]]  # (X, Y)
    peak: dict  # (X, Y) -> (points, channels), nan where incomplete
    integral: dict  # (X, Y) -> (points, channels)
    complete: bool


def _finished(group) -> set:
    from .store import _finished_tasks

    return _finished_tasks(group)[0]


def read_scan_summary(path, probe=None, pathways=None, at=0) -> ScanSummary:
    """Peaks and integrals of ``pathways`` ([(X, Y)], default: the largest at point
    ``at``) for ``probe`` (default: the first probe) at every point of scan file
    ``path``. Raises KernelsFileError naming a bad argument.

    Parameters
    ----------
    path : str or pathlib.Path
        The scan file.
    probe : str, optional
        The probe; None: the first.
    pathways : list of tuple of str, optional
        The pathways (X, Y); None: the largest at point ``at``.
    at : int or str, optional
        The point whose largest pathways are chosen: an index or its values
        (:func:`lfpk_hpc.kernelsfile.resolve_point`).

    Returns
    -------
    ScanSummary
        Peaks and integrals of the kernels.

    Raises
    ------
    KernelsFileError
        A bad argument or not a scan file.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise KernelsFileError(f"scan file {str(path)!r} does not exist")
    at = resolve_point(path, at)
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != SCAN_FORMAT:
            raise KernelsFileError(
                f"{str(path)!r} is not a scan file (from python -m lfpk_hpc scan)"
            )
        scan = json.loads(f.attrs["scan_json"])
        paths = [p.decode() for p in f["axes/paths"][...]]
        values = [json.loads(v.decode()) for v in f["axes/values"][...]]
        if not paths:
            raise KernelsFileError(
                f"{str(path)!r} is a scan without axes (one point): nothing changes along "
                "anything; draw its kernels with plot --point 0"
            )
        n = int(f.attrs["n_points"])
        g0 = f[f"points/{at}"]
        probes = list(g0["probes"])
        try:  # the params' order (HDF5 lists groups alphabetically)
            order = [p["name"] for p in json.loads(g0.attrs["params_json"])["probes"]]
            probes = [p for p in order if p in probes] + [p for p in probes if p not in order]
        except (KeyError, TypeError, ValueError):
            pass
        if probe is None:
            probe = probes[0]
        if probe not in probes:
            raise KernelsFileError(
                f"--probe {probe!r}: no such probe in {str(path)!r} (probes: {', '.join(probes)})"
            )
        pg = g0[f"probes/{probe}"]
        from .probes import canonical_units

        units = canonical_units(str(pg.attrs.get("units", "")))
        z = pg["z"][...] if "z" in pg else None
        model_name = str(g0.attrs.get("model_name", path.stem))
        available = [
            (X, Y) for Y, gy in g0[f"kernels/{probe}"].items() for X in gy
        ]  # every pathway, C = 0 ones included
        if pathways:
            for X, Y in pathways:
                if (X, Y) not in available:
                    raise KernelsFileError(
                        f"--pathway {X}->{Y}: no such pathway in {str(path)!r} (pathways: "
                        + ", ".join(f"{x}->{y}" for x, y in available)
                        + ")"
                    )
            chosen = list(pathways)
        else:
            size = {}
            for X, Y in available:
                ds = g0[f"kernels/{probe}/{Y}/{X}"]
                if not ds.attrs.get("zero_connection", False):
                    size[(X, Y)] = float(np.nanmax(np.abs(ds[...]))) if ds.size else 0.0
            chosen = sorted(size, key=lambda k: -size[k])[:DEFAULT_PATHWAYS]
        n_ch = int(g0[f"kernels/{probe}/{chosen[0][1]}/{chosen[0][0]}"].shape[0])
        kind = str(pg.attrs.get("type", ""))
        if kind == "CurrentDipoleMoment" and n_ch == 3:
            names = ["P_x", "P_y", "P_z"]
        elif z is not None and len(z) == n_ch:
            names = [f"z = {v:g} µm" for v in z]
        elif kind == "FourSphereEEG":
            names = [f"electrode {c}" for c in range(n_ch)]
        else:
            names = [f"channel {c}" for c in range(n_ch)]
        peak = {k: np.full((n, n_ch), np.nan) for k in chosen}
        integral = {k: np.full((n, n_ch), np.nan) for k in chosen}
        complete = bool(f.attrs.get("complete", False))
        for i in range(n):
            g = f[f"points/{i}"]
            finished = _finished(g)
            dt = float(g.attrs["dt"])
            for X, Y in chosen:
                ds = g[f"kernels/{probe}/{Y}/{X}"]
                if not (ds.attrs.get("complete", False) or (X, Y) in finished):
                    complete = False
                    continue
                H = np.asarray(ds[...], dtype=float)
                j = np.argmax(np.abs(H), axis=1)
                peak[(X, Y)][i] = H[np.arange(H.shape[0]), j]
                integral[(X, Y)][i] = H.sum(axis=1) * dt
    return ScanSummary(
        path,
        model_name,
        probe,
        units,
        z,
        n_ch,
        names,
        paths,
        values,
        [p for p in scan.get("product", {}) if p in paths],
        [p for p in scan.get("zip", {}) if p in paths],
        chosen,
        peak,
        integral,
        complete,
    )


#: units of scanned parameters, by the last field of their path
_UNITS = {
    "g_pas": "S/cm²",
    "soma_g_pas": "S/cm²",
    "Ra": "Ω·cm",
    "cm": "µF/cm²",
    "e_pas": "mV",
    "Vrest": "mV",
    "nu": "spikes/s",
    "tau": "ms",
    "dt": "ms",
    "t_X": "ms",
    "tau1": "ms",
    "tau2": "ms",
    "e": "mV",
    "lambda_f": "Hz",
    "sigma": "S/m",
    "sigma_z": "µm",
    "R": "µm",
    "radius": "µm",
    "loc": "µm",
    "scale": "µm",
    "N": "cells",
    "C": "connection probability",
    "synapse_count": "",
}


def axis_label(path: str, model=None) -> str:
    """A scanned parameter's path with its unit (the weight's from the synapse model)."""
    if path == "scale":
        return "scale (fraction of N)"
    last = path.split(".")[-1].split("[")[0]
    unit = _UNITS.get(last)
    if last == "weight":
        unit = "µS if conductance-based, nA if current-based"
        if model is not None and path.startswith("connections["):
            from .params import SYNAPSE_MODELS

            key = path[len("connections[") : path.index("]")]
            for c in model.connections:
                if f"{c.pre}->{c.post}" == key:
                    unit = SYNAPSE_MODELS[c.synapse.model][1]
                    break
    if last in ("loc", "scale") and ".params[" in path:
        unit = None  # a distribution's parameters: their unit is the distributed quantity's
    return f"{path} ({unit})" if unit else path


def axis_line(s: ScanSummary, axis: list[str], at: int) -> list[int]:
    """The points along ``axis`` (one product path, or the zipped paths) through point
    ``at``: every other axis at its value there, in scan order."""
    others = [k for k, p in enumerate(s.paths) if p not in axis]
    ref = s.values[at]
    return [i for i, v in enumerate(s.values) if all(v[k] == ref[k] for k in others)]


def _numeric(vals) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals) and all(
        math.isfinite(v) for v in vals
    )


def _geometric(x: np.ndarray) -> bool:
    """Values spaced by a constant factor over more than a decade/2 (np.geomspace): drawn
    on a log axis."""
    if x.size < 3 or not (x > 0).all():
        return False
    r = x[1:] / x[:-1]
    return bool(np.allclose(r, r[0], rtol=1e-6) and abs(r[0] - 1) > 1e-9 and x.max() / x.min() > 5)


def _edges(x: np.ndarray) -> np.ndarray:
    if x.size == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    if _geometric(x):
        return np.exp(_edges(np.log(x)))
    mid = (x[1:] + x[:-1]) / 2
    return np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


def write_csv(s: ScanSummary, out: Path) -> Path:
    """Every point's summaries (the figure's numbers and the rest of the grid)."""
    scaled = s.units
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "point",
                *s.paths,
                "probe",
                "X",
                "Y",
                "channel",
                "z_um",
                f"peak ({scaled} per spike)",
                f"integral ({scaled}·ms per spike)",
            ]
        )
        for i, vals in enumerate(s.values):
            for X, Y in s.pathways:
                for c in range(s.n_channels):
                    z = "" if s.z is None else f"{s.z[c]:g}"
                    w.writerow(
                        [
                            i,
                            *vals,
                            s.probe,
                            X,
                            Y,
                            c,
                            z,
                            repr(float(s.peak[(X, Y)][i, c])),
                            repr(float(s.integral[(X, Y)][i, c])),
                        ]
                    )
    return out


def scan_figure(s: ScanSummary, at: int = 0, dpi: float = 120.0):
    """The plot-scan figure (a matplotlib Figure)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure

    from .plot import _colours, scaled_units

    axes = [[p] for p in s.product] + ([s.zipped] if s.zipped else [])
    image = s.n_channels > 3 and s.z is not None
    # channels that are zero at every point (P_x, P_y of a cylindrical population)
    # would only squash the others' structure: left out of line panels and named
    largest = np.zeros(s.n_channels)
    for key in s.pathways:
        for data in (s.peak[key], s.integral[key]):
            if np.isfinite(data).any():
                largest = np.maximum(largest, np.nanmax(np.abs(data), axis=0))
    shown = [c for c in range(s.n_channels) if largest[c] > 1e-9 * max(largest.max(), 1e-300)]
    zero = [s.channel_names[c] for c in range(s.n_channels) if c not in shown]
    n_rows, n_cols = len(s.pathways), 2 * len(axes)
    fig = Figure(figsize=(1.2 + 3.3 * n_cols, 1.6 + 2.5 * n_rows), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.subplots(n_rows, n_cols, squeeze=False)
    fs = 8.5
    ref_text = ", ".join(f"{p}={v!r}" for p, v in zip(s.paths, s.values[at], strict=True))
    for col_axis, axis in enumerate(axes):
        pts = axis_line(s, axis, at)
        vals = [s.values[i][s.paths.index(axis[0])] for i in pts]
        numeric = _numeric(vals)
        x = np.asarray(vals, dtype=float) if numeric else np.arange(len(vals), dtype=float)
        xlabel = axis_label(axis[0]) + (f" (with {', '.join(axis[1:])})" if len(axis) > 1 else "")
        for row, key in enumerate(s.pathways):
            X, Y = key
            for k, (what, data, per) in enumerate(
                (("peak", s.peak[key], ""), ("integral", s.integral[key], "·ms"))
            ):
                ax = grid[row, 2 * col_axis + k]
                d = data[pts]  # (points on the line, channels)
                vmax = float(np.nanmax(np.abs(d))) if np.isfinite(d).any() else 0.0
                factor, unit = scaled_units(s.units, vmax)
                unit = f"{unit}{per}"
                if image:
                    order = np.argsort(s.z)
                    zs = s.z[order]
                    lim = vmax * factor if vmax > 0 else 1.0
                    mesh = ax.pcolormesh(
                        _edges(x),
                        _edges(zs),
                        (d[:, order] * factor).T,
                        cmap="RdBu_r",
                        norm=TwoSlopeNorm(0.0, -lim, lim),
                    )
                    cb = fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.08)
                    cb.set_label(f"{what} ({unit})", fontsize=fs)
                    cb.ax.tick_params(labelsize=fs - 1)
                    ax.set_ylabel("z (µm)", fontsize=fs)
                else:
                    colours = _colours(s.n_channels)
                    for c in shown:
                        ax.plot(
                            x,
                            d[:, c] * factor,
                            "o-",
                            ms=3,
                            lw=1.2,
                            color=colours[c],
                            label=s.channel_names[c] if len(shown) > 1 else None,
                        )
                    shown_d = d[:, shown]
                    if np.nanmin(shown_d) < 0 < np.nanmax(shown_d):  # zero only where crossed
                        ax.axhline(0.0, color="0.6", lw=0.6)
                    name = f"{s.channel_names[shown[0]]} " if len(shown) == 1 else ""
                    ax.set_ylabel(f"{name}{what} ({unit})", fontsize=fs)
                    if len(shown) > 1 and row == 0 and k == 0:
                        ax.legend(fontsize=fs - 1, frameon=False)
                if not np.isfinite(d).all():
                    ax.set_title(
                        f"{X} → {Y}: {what} (some points incomplete)", fontsize=fs, color="tab:red"
                    )
                else:
                    ax.set_title(f"{X} → {Y}: {what}", fontsize=fs)
                if not numeric:
                    ax.set_xticks(x, [str(v) for v in vals], rotation=30, ha="right")
                else:
                    if _geometric(x):
                        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

                        ax.set_xscale("log")
                        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
                        ax.xaxis.set_minor_formatter(NullFormatter())
                    if len(x) <= 8:  # the values scanned, not round numbers between them
                        # three digits, slanted when long: 6.4633e-05 beside 0.000139248
                        # overlapped on a panel's axis
                        labels = [f"{v:.3g}" for v in x]
                        slant = max(map(len, labels)) > 5
                        ax.set_xticks(
                            x,
                            labels,
                            rotation=30 if slant else 0,
                            ha="right" if slant else "center",
                        )
                        ax.minorticks_off()
                ax.set_xlabel(xlabel, fontsize=fs)
                ax.tick_params(labelsize=fs - 1)
    title = (
        f"Scan of {s.model_name!r}: kernel peak and integral per presynaptic spike along each "
        f"axis, probe {s.probe!r} (units at each axis and colour bar)"
        + ("" if s.complete else "  [UNFINISHED SCAN: missing points are blank]")
    )
    import textwrap

    width = max(60, int(fig.get_figwidth() * 72 / (0.6 * (fs + 2))))
    lines = textwrap.wrap(title, width) + textwrap.wrap(
        f"other axes at point {at}: {ref_text}; peak: H at the lag of its largest |H|, "
        "integral: sum of H over lags × dt"
        + (f"; {', '.join(zero)}: zero at every point (not drawn)" if zero and not image else ""),
        width,
    )
    fig.suptitle("\n".join(lines), fontsize=fs + 1, ha="left", x=0.01)
    return fig


def plot_scan(path, out=None, probe=None, pathways=None, at=0, dpi: float = 120.0):
    """Draw the plot-scan figure of scan file ``path`` into ``out`` (default:
    ``path`` with suffix ``.scan.png``) and its numbers into ``out`` with suffix
    ``.csv``. Returns (figure path, csv path).

    Parameters
    ----------
    path : str or pathlib.Path
        The scan file.
    out : str or pathlib.Path, optional
        The figure's file; None: ``path`` with the suffix ``.<probe>.png``.
    probe : str, optional
        The probe; None: the first.
    pathways : list of tuple of str, optional
        The pathways (X, Y); None: the largest at point ``at``.
    at : int or str, optional
        The point whose largest pathways are drawn: an index or its values
        (:func:`lfpk_hpc.kernelsfile.resolve_point`).
    dpi : float, optional
        Resolution (dots per inch).

    Returns
    -------
    figure : pathlib.Path
        The PNG file.
    csv : pathlib.Path
        The CSV file of the numbers.

    Raises
    ------
    KernelsFileError
        A bad argument, or ``out`` is the scan file.
    """
    s = read_scan_summary(path, probe=probe, pathways=pathways, at=at)
    at = resolve_point(path, at)
    out = Path(out) if out is not None else Path(path).with_suffix(f".{s.probe}.png")
    if out.resolve() == Path(path).resolve():
        raise KernelsFileError(f"--out {str(out)!r} is the scan file itself")
    fig = scan_figure(s, at=at, dpi=dpi)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    return out, write_csv(s, out.with_suffix(".csv"))


def add_arguments(parser) -> None:
    parser.description = (
        "Draw how kernels change along each axis of a scan: per pathway X -> Y the peak and "
        "the integral of H_YX per probe channel, along each axis with the other axes at a "
        "reference point; the numbers of every point go to a CSV file beside the figure."
    )
    parser.add_argument("scan_file", help="scan file (HDF5, from python -m lfpk_hpc scan)")
    parser.add_argument(
        "--probe", default=None, help="probe (default: the first of the params file)"
    )
    parser.add_argument(
        "--pathway",
        action="append",
        default=[],
        metavar="X->Y",
        help="a pathway to draw (repeatable; default: the 4 with the largest |H| at --at)",
    )
    parser.add_argument(
        "--at",
        default="0",
        help="reference point: along an axis the other axes keep its values (index or "
        "values, e.g. 'kernel.tau=100')",
    )
    parser.add_argument(
        "--out", default=None, help="figure (default: SCAN_FILE with suffix .<probe>.png)"
    )
    parser.add_argument("--dpi", type=float, default=120.0, help="resolution in dots per inch")


def main(args) -> int:
    from .errors import report

    pathways = []
    for item in args.pathway:
        if "->" not in item:
            return report(f"--pathway {item!r} is invalid: write it X->Y, e.g. L4E->L23E", 2)
        X, Y = (t.strip() for t in item.split("->", 1))
        pathways.append((X, Y))
    if not args.dpi > 0:
        return report(f"--dpi = {args.dpi} is invalid: must be > 0", 2)
    try:
        fig, table = plot_scan(
            args.scan_file,
            args.out,
            probe=args.probe,
            pathways=pathways or None,
            at=args.at,
            dpi=args.dpi,
        )
    except KernelsFileError as exc:
        return report(str(exc), 2)
    except OSError as exc:
        return report(f"cannot write the figure: {' '.join(str(exc).split())}", 2)
    print(f"wrote {fig} and {table}", flush=True)
    return 0


# --------------------------------------------------------------------------- validations

#: the metrics of a validation drawn and tabulated per point
SUMMARY_METRICS = (
    ("r2_median_lowpass", "median R² (low-passed)"),
    ("r_median", "median r"),
    ("rstd_median_lowpass", "median r_STD (low-passed)"),
)


def point_folder(validation_dir, i: int) -> Path:
    """The validation folder of point ``i`` (submit --scan --validate writes it)."""
    return Path(validation_dir) / f"point_{i}"


def read_validations(scan_path, validation_dir):
    """(paths, product paths, zipped paths, points' values, {i: metrics}) of a scan's
    validations: DIR/point_<i>/metrics.json for every point that has one."""
    from .scan import _import_scan, points_of

    scan, _base = _import_scan(Path(scan_path))
    points = points_of(scan)
    paths = list(points[0]) if points else []
    metrics = {}
    for i in range(len(points)):
        f = point_folder(validation_dir, i) / "metrics.json"
        if f.is_file():
            try:
                metrics[i] = json.loads(f.read_text())
            except ValueError:
                continue  # a file being written, or broken: the point counts as missing
    values = [[p[k] for k in paths] for p in points]
    product = [p for p in dict(scan.product) if p in paths]
    zipped = [p for p in dict(scan.zip) if p in paths]
    return paths, product, zipped, values, metrics


def summary_figure(paths, product, zipped, values, metrics, probes, dpi=110.0):
    """Median R² (low-passed) of each probe against each axis of the scan: one line per
    combination of the other axes' values."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .plot import _colours

    axes = [[p] for p in product] + ([zipped] if zipped else [])
    n_rows, n_cols = len(probes), max(len(axes), 1)
    fig = Figure(
        figsize=(max(6.5, 1.0 + 4.2 * n_cols), 1.4 + 2.8 * n_rows), dpi=dpi, layout="constrained"
    )
    FigureCanvasAgg(fig)
    grid = fig.subplots(n_rows, n_cols, squeeze=False)
    fs = 9
    key, label = SUMMARY_METRICS[0]
    for c, axis in enumerate(axes):
        k_axis = paths.index(axis[0])
        others = [k for k, p in enumerate(paths) if p not in axis]
        groups = {}
        for i, v in enumerate(values):
            groups.setdefault(tuple(json.dumps(v[k]) for k in others), []).append(i)
        all_vals = [v[k_axis] for v in values]
        numeric = _numeric(all_vals)
        distinct = list(dict.fromkeys(json.dumps(v) for v in all_vals))
        colours = _colours(len(groups))
        for r, probe in enumerate(probes):
            ax = grid[r, c]
            for g, (other, pts) in enumerate(groups.items()):
                pts = [
                    i
                    for i in pts
                    if i in metrics and metrics[i].get(probe, {}).get(key) is not None
                ]
                if not pts:
                    continue
                x = [
                    values[i][k_axis] if numeric else distinct.index(json.dumps(values[i][k_axis]))
                    for i in pts
                ]
                y = [metrics[i][probe][key] for i in pts]
                name = ", ".join(
                    f"{paths[k]}={json.loads(o)}" for k, o in zip(others, other, strict=True)
                )
                ax.plot(x, y, "o-", ms=3.5, lw=1.2, color=colours[g], label=name or None)
            ax.set_title(f"probe {probe!r}", fontsize=fs)
            ax.set_xlabel(
                axis_label(axis[0]) + (f" (with {', '.join(axis[1:])})" if len(axis) > 1 else ""),
                fontsize=fs,
            )
            ax.set_ylabel(f"{label} (dimensionless)", fontsize=fs)
            ax.tick_params(labelsize=fs - 1)
            if not numeric:
                ax.set_xticks(range(len(distinct)), [str(json.loads(d)) for d in distinct])
            elif len(distinct) <= 8:  # the values scanned, not round numbers between them
                ax.set_xticks(
                    [json.loads(d) for d in distinct], [f"{json.loads(d):g}" for d in distinct]
                )
            if r == 0 and 1 < len(groups) <= 12:
                ax.legend(fontsize=fs - 2, frameon=False, title="other axes", title_fontsize=fs - 2)
    missing = [i for i in range(len(values)) if i not in metrics]
    title = (
        f"Validation of every scan point: {label} of the kernel prediction against the "
        f"ground truth ({len(metrics)} of {len(values)} points"
        + (f"; missing {', '.join(map(str, missing))}" if missing else "")
        + ")"
    )
    import textwrap

    width = max(60, int(fig.get_figwidth() * 72 / (0.6 * (fs + 2))))
    fig.suptitle("\n".join(textwrap.wrap(title, width)), fontsize=fs + 1, ha="left", x=0.01)
    return fig


def write_summary(scan_path, validation_dir, out=None, dpi=110.0) -> tuple[Path, list[int]]:
    """summary.json, summary.csv and summary.png of a scan's validations in
    ``validation_dir`` (or ``out``, a PNG path whose stem names the others). Returns
    (figure path, missing points). Raises KernelsFileError when no point has metrics."""
    paths, product, zipped, values, metrics = read_validations(scan_path, validation_dir)
    if not metrics:
        raise KernelsFileError(
            f"no validation of any point of {str(scan_path)!r} has finished in "
            f"{str(validation_dir)!r} (looked for point_<i>/metrics.json, i = 0.."
            f"{len(values) - 1})"
        )
    probes = []
    for m in metrics.values():
        probes += [k for k, v in m.items() if isinstance(v, dict) and "r2_median" in v]
    probes = list(dict.fromkeys(probes))
    out = Path(out) if out is not None else Path(validation_dir) / "summary.png"
    missing = [i for i in range(len(values)) if i not in metrics]
    rows = []
    for i, vals in enumerate(values):
        for probe in probes:
            m = metrics.get(i, {}).get(probe, {})
            rows.append(
                {
                    "point": i,
                    **dict(zip(paths, vals, strict=True)),
                    "probe": probe,
                    **{k: m.get(k) for k, _label in SUMMARY_METRICS},
                    "passed": m.get("passed"),
                    "finished": i in metrics,
                }
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "scan": str(Path(scan_path).resolve()),
                "axes": paths,
                "points": len(values),
                "finished": sorted(metrics),
                "missing": missing,
                "rows": rows,
            },
            indent=1,
        )
    )
    with open(out.with_suffix(".csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    if paths:
        summary_figure(paths, product, zipped, values, metrics, probes, dpi=dpi).savefig(
            out, dpi=dpi
        )
    return out, missing


def add_summary_arguments(parser) -> None:
    parser.description = (
        "Summarise the validations of a scan's points (DIR/point_<i>/metrics.json, written by "
        "submit --scan --validate): a table (summary.csv, summary.json) and a figure of the "
        "median R² against each scanned parameter. Exit 1 when points are missing (they are "
        "listed)."
    )
    parser.add_argument("scan", help="scan file (a Python module defining scan = Scan(...))")
    parser.add_argument("--validation", required=True, help="folder of the points' validations")
    parser.add_argument(
        "--out", default=None, help="figure (default: VALIDATION/summary.png; .csv, .json beside)"
    )


def summary_main(args) -> int:
    from .errors import report
    from .scan import ScanError

    try:
        out, missing = write_summary(args.scan, args.validation, args.out)
    except (KernelsFileError, ScanError) as exc:
        return report(str(exc), 1 if isinstance(exc, KernelsFileError) else 2)
    print(f"wrote {out}, {out.with_suffix('.csv')} and {out.with_suffix('.json')}", flush=True)
    if missing:
        return report(
            f"{len(missing)} point(s) have no validation: {', '.join(map(str, missing))} "
            "(failed or not run; their logs say why; submit --scan --validate again runs "
            "only these)",
            1,
        )
    return 0
