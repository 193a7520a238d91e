"""The figure of a signals file (``python -m lfpk_hpc plot-signals``): the LFP across
depth as an image (µV), the dipole moment's z component (nA·µm), EEG (µV), MEG (fT) and
CSD as traces, and their Welch spectra, with the start-up transient shaded and left out
of the scales."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .predict import SpikesError, _error

__all__ = ["plot_signals", "signals_figure"]


def add_plot_arguments(parser) -> None:
    parser.description = (
        "Draw a signals file: the LFP across depth as an image, the dipole moment and EEG as "
        "traces, and their power spectra (Welch). The start-up transient is shaded and left "
        "out of the colour scale, the y ranges and the spectra."
    )
    parser.add_argument("signals", help="signals file (from predict or groundtruth)")
    parser.add_argument("--out", help="figure file (default: the signals file with .png)")
    parser.add_argument(
        "--tmin", type=float, default=None, help="first time shown (ms; default: the start)"
    )
    parser.add_argument(
        "--tmax", type=float, default=None, help="last time shown (ms; default: the end)"
    )
    parser.add_argument(
        "--transient",
        type=float,
        default=None,
        help="start-up transient in ms after the first sample, shaded and left out of the "
        "scales and spectra (default: the file's 'transient' attribute: the ground truth's "
        "--transient, or for a prediction the time its kernels need to decay; else 0)",
    )
    parser.add_argument("--dpi", type=int, default=110, help="resolution in dots per inch")


def _read_signal_datasets(path):
    import h5py

    from .probes import canonical_units

    path = Path(path)
    if not path.is_file():
        raise SpikesError(f"signals file {str(path)!r} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise SpikesError(
            f"{path}: not a readable HDF5 file ({' '.join(str(exc).split())})"
        ) from None
    with f:
        if "signals" not in f:
            raise SpikesError(f"{path}: not a signals file (no /signals)")
        sig = {}
        for p, ds in f["signals"].items():
            sig[p] = {
                "ds": ds[...],
                "units": canonical_units(ds.attrs.get("units", "")),
                "dt": float(ds.attrs["dt"]),
                "t0": float(ds.attrs.get("t_start", 0.0)),
                "z": (
                    np.asarray(ds.attrs["probe_z"], dtype=float) if "probe_z" in ds.attrs else None
                ),
            }
        attrs = {k: f.attrs[k] for k in ("model_name", "source", "transient") if k in f.attrs}
    return sig, attrs


def signals_figure(path, *, tmin=None, tmax=None, transient=None, dpi=110):
    """The figure of a signals file: the LFP across depth as an image (µV), the other
    probes as traces in their units, and the Welch spectra.

    Parameters
    ----------
    path : str or path-like
        A signals file (``predict``, ``groundtruth``, ``hybrid``: ``/signals/<probe>``).
    tmin, tmax : float or None
        The time window drawn, ms (None: the file's start or end).
    transient : float or None
        Start-up time shaded and left out of the colour scale, the y ranges and the
        spectra, ms (None: the file's ``transient`` attribute, else 0).
    dpi : float
        Resolution, dots per inch.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    SpikesError
        A missing or unreadable file, a bad window or transient (naming the option).
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from scipy.signal import welch

    from .plot import signal_units

    for name, v in (("--tmin", tmin), ("--tmax", tmax), ("--transient", transient)):
        if v is not None and not math.isfinite(v):
            raise SpikesError(f"{name} = {v!r} is invalid: must be a finite time (ms)")
    if transient is not None and transient < 0:
        raise SpikesError(f"--transient = {transient!r} is invalid: must be >= 0 ms")
    if tmin is not None and tmax is not None and not tmin < tmax:
        raise SpikesError(f"--tmax = {tmax!r} is invalid: must be > --tmin = {tmin!r} ms")
    path = Path(path)
    sig, attrs = _read_signal_datasets(path)
    if transient is None:
        transient = float(attrs.get("transient", 0.0))
    images = [p for p, s in sig.items() if s["ds"].shape[0] > 3 or s["z"] is not None]
    traces = [p for p in sig if p not in images]
    rows = images + traces
    fig = Figure(figsize=(13, 2.2 + 3.0 * len(rows)), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), 2, squeeze=False, width_ratios=(3, 1.2))
    for r, p in enumerate(rows):
        s = sig[p]
        ds, dt, t0 = s["ds"], s["dt"], s["t0"]
        n = ds.shape[1]
        t_end = t0 + n * dt
        lo = t0 if tmin is None else tmin
        hi = t_end if tmax is None else tmax
        if not (lo < t_end and hi > t0):
            raise SpikesError(
                f"--tmin/--tmax = {lo:g}..{hi:g} ms is invalid: {p} in {path} spans "
                f"{t0:g}..{t_end:g} ms"
            )
        i0 = max(0, int(math.floor((lo - t0) / dt + 1e-9)))
        i1 = min(n, int(math.floor((hi - t0) / dt + 1e-9)) + 1)
        factor, unit = signal_units(s["units"])
        data = ds[:, i0:i1] * factor
        t = t0 + dt * np.arange(i0, i1)
        settled = t >= t0 + transient
        steady = data[:, settled] if settled.sum() >= 2 else data
        ax, axp = axes[r]
        if p in images:
            z = s["z"] if s["z"] is not None else -np.arange(ds.shape[0], dtype=float)
            order = np.argsort(z)
            vmax = float(np.abs(steady).max()) or 1.0
            step = abs(np.diff(z[order])).min() if z.size > 1 else 1.0
            im = ax.imshow(
                data[order],
                aspect="auto",
                cmap="RdBu_r",
                vmin=-vmax,
                vmax=vmax,
                extent=(t[0], t[-1] + dt, z[order][0] - step / 2, z[order][-1] + step / 2),
                interpolation="nearest",
                origin="lower",
            )
            ax.set_ylabel("contact depth z (µm)" if s["z"] is not None else "channel")
            extend = "both" if np.abs(data).max() > vmax * (1 + 1e-9) else "neither"
            fig.colorbar(im, ax=ax, label=f"{p} ({unit})", pad=0.01, extend=extend)
            ax.set_title(f"{p}: potential across depth", fontsize=10)
            shown = range(ds.shape[0])
        else:
            dipole = ds.shape[0] == 3 and unit == signal_units("nA·µm")[1]
            shown = [2] if dipole else range(ds.shape[0])
            for c in shown:
                label = "z component" if dipole else f"electrode {c + 1}"
                ax.plot(t, data[c], lw=0.6, label=label)
            sel = steady[list(shown)]
            ymin, ymax = float(sel.min()), float(sel.max())
            pad = 0.05 * (ymax - ymin) or 1.0
            ax.set_ylim(ymin - pad, ymax + pad)
            ax.ticklabel_format(axis="y", style="plain", useOffset=False)
            what = "$P_z$" if dipole else p
            ax.set_ylabel(f"{what} ({unit})")
            ax.set_title(
                f"{p}: current dipole moment, z component" if dipole else f"{p}", fontsize=10
            )
            if len(shown) > 1:
                ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        ax.set_xlim(t[0], t[-1] + dt)
        ax.set_xlabel("t (ms)")
        if transient > 0 and t[0] < t0 + transient:
            end = min(t0 + transient, t[-1] + dt)
            ax.axvspan(t[0], end, color="0.55", alpha=0.35, lw=0)
            ax.text(
                t[0] + 0.01 * (t[-1] - t[0]),
                0.97,
                f"transient\n< {t0 + transient:g} ms",
                transform=ax.get_xaxis_transform(),
                fontsize=8,
                va="top",
                ha="left",
                bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1.0},
            )
        # spectra of the time after the transient
        fs = 1000.0 / dt  # Hz
        part = steady
        if part.shape[1] >= 16:
            nper = int(min(part.shape[1], 2 ** int(np.log2(max(fs, 16)))))
            depth = None
            if p in images and s["z"] is not None:  # colour by contact depth
                depth = Normalize(float(s["z"].min()), float(s["z"].max()))
                colours = [colormaps["viridis"](depth(s["z"][c])) for c in shown]
            elif p in images:
                colours = [colormaps["viridis"](v) for v in np.linspace(0, 1, len(shown))]
            else:
                colours = [f"C{i}" for i in range(len(shown))]
            for c, colour in zip(shown, colours, strict=True):
                freqs, pxx = welch(part[c], fs=fs, nperseg=max(16, nper))
                keep = (freqs > 0) & (freqs <= 500)
                axp.loglog(freqs[keep], pxx[keep], lw=0.6, color=colour)
            axp.set_xlabel("f (Hz)")
            axp.set_ylabel(f"PSD ({unit}²/Hz)")
            if depth is not None:
                sm = ScalarMappable(depth, cmap="viridis")
                fig.colorbar(sm, ax=axp, label="contact depth z (µm)", pad=0.01)
        else:
            axp.text(0.5, 0.5, "too short for a spectrum", ha="center", transform=axp.transAxes)
            axp.set_axis_off()
        axp.set_title(f"{p}: power spectra (Welch)", fontsize=10)
    what = ", ".join(str(attrs[k]) for k in ("model_name", "source") if k in attrs)
    lines = [f"signals of {path.name}" + (f": {what}" if what else "")]
    if transient > 0:
        lines.append(
            f"shaded: the start-up transient, t < {transient:g} ms after the first sample, left "
            "out of the colour scale, the y ranges and the spectra (--transient)"
        )
    fig.suptitle("\n".join(lines), fontsize=11)
    return fig


def plot_signals(path, out, *, tmin=None, tmax=None, transient=None, dpi=110) -> Path:
    """Draw the figure of a signals file into ``out`` (see :func:`signals_figure`).

    Parameters
    ----------
    path : str or path-like
        A signals file (``predict``, ``groundtruth``, ``hybrid``: ``/signals/<probe>``).
    tmin, tmax : float or None
        The time window drawn, ms (None: the file's start or end).
    transient : float or None
        Start-up time shaded and left out of the colour scale, the y ranges and the
        spectra, ms (None: the file's ``transient`` attribute, else 0).
    out : str or path-like
        The image file written (its suffix picks the format, e.g. ``.png``).
    dpi : float
        Resolution, dots per inch.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    if not dpi > 0:
        raise SpikesError(f"--dpi = {dpi!r} is invalid: must be > 0")
    fig = signals_figure(path, tmin=tmin, tmax=tmax, transient=transient, dpi=dpi)
    fig.savefig(out, dpi=dpi)
    return Path(out)


def plot_main(args) -> int:
    out = args.out or str(Path(args.signals).with_suffix(".png"))
    try:
        plot_signals(
            args.signals,
            out,
            tmin=args.tmin,
            tmax=args.tmax,
            transient=args.transient,
            dpi=args.dpi,
        )
    except SpikesError as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"cannot write the figure {out!r}: {' '.join(str(exc).split())}")
    print(f"wrote {out}", flush=True)
    return 0
