"""Reading a kernels file: every kernel, probe and attribute at once, and the points of
a scan file.

:func:`read_kernels_file` is the one reader the figures, ``predict`` and the scans
use (:class:`KernelsFile`: each probe's :class:`ProbeData` and its :class:`Kernel`
objects); a scan file (``lfpk_hpc.scan/1``) holds one kernels file's layout per point,
picked by index or by its values (:func:`resolve_point`). Errors name the file and
what is wrong (:class:`KernelsFileError`, exit code 2). The layout itself, the writer
and the checkpoints are :mod:`lfpk_hpc.store`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .store import StoreError, _finished_tasks, _kernel_complete

__all__ = [
    "SCAN_FORMAT",
    "Kernel",
    "KernelsFile",
    "KernelsFileError",
    "ProbeData",
    "read_kernels_file",
    "resolve_point",
    "scan_point_label",
]


class KernelsFileError(StoreError, ValueError):
    """The file is missing, unreadable or not a kernels file."""


@dataclass
class Kernel:
    """One kernel H_YX: ``data`` (channels, 2·n_tau + 1 lags −tau..tau), whether it is
    ``complete``, and whether its pathway has C_YX = 0 (``zero``: exact zeros).

    Parameters
    ----------
    data : numpy.ndarray or None
        The kernel (channels, lags), in its probe's units per presynaptic spike (e.g.
        mV, nA·µm); None where not read.
    complete : bool
        Whether it was computed.
    zero : bool
        Whether its pathway has C_YX = 0.
    """

    data: np.ndarray | None
    complete: bool
    zero: bool


@dataclass
class ProbeData:
    """A probe of a kernels file: its attributes, contact depths ``z`` (µm) if any,
    and its kernels by (Y, X).

    Parameters
    ----------
    name : str
        The probe's name.
    type : str
        The probe's type.
    units : str
        Its units (e.g. ``"mV"``, ``"nA·µm"``).
    z : numpy.ndarray or None
        Contact depths (µm).
    attrs : dict
        Its attributes (lengths in µm, conductivities in S/m).
    kernels : dict, optional
        (Y, X) → :class:`Kernel`.
    """

    name: str
    type: str
    units: str
    z: np.ndarray | None
    attrs: dict
    kernels: dict[tuple[str, str], Kernel] = field(default_factory=dict)


@dataclass
class KernelsFile:
    """Everything a reader of a kernels file needs (:func:`read_kernels_file`).

    Parameters
    ----------
    path : pathlib.Path
        The file.
    model_name : str
        The model's name.
    params_hash : str
        The model's params hash.
    dt : float
        Time step of the lags (ms).
    tau : float
        Largest lag (ms).
    Y : list of str
        Postsynaptic populations, in the params' order.
    X : list of str
        Presynaptic populations, in the params' order.
    probes : dict of str to ProbeData
        The probes and their kernels.
    complete : bool
        Whether every kernel was computed.
    electrodes : dict of str to list, optional
        EEG probe → electrode positions (µm).
    """

    path: Path
    model_name: str
    params_hash: str
    dt: float
    tau: float
    Y: list[str]  # postsynaptic populations, in the params' order
    X: list[str]  # presynaptic populations, in the params' order
    probes: dict[str, ProbeData]
    complete: bool
    electrodes: dict[str, list] = field(default_factory=dict)  # EEG probe -> positions (µm)

    @property
    def n_tau(self) -> int:
        return int(round(self.tau / self.dt))

    @property
    def lags(self) -> np.ndarray:
        """Lags (ms) of the kernels' samples: −tau..tau as read, 0..tau once cut to
        their causal half (as ``plot`` reads them)."""
        widths = {
            k.data.shape[1]
            for p in self.probes.values()
            for k in p.kernels.values()
            if k.data is not None
        }
        n = self.n_tau
        if widths == {2 * n + 1}:
            return np.arange(-n, n + 1) * self.dt
        return np.arange(n + 1) * self.dt


#: the ``format`` attribute of a scan file (:mod:`lfpk_hpc.scan`)
SCAN_FORMAT = "lfpk_hpc.scan/1"


def scan_point_label(path, point: int) -> str:
    """'point 3 (kernel.tau=100.0, populations[E].nu=3.0)' of a scan file.

    Parameters
    ----------
    path : str or pathlib.Path
        A scan file.
    point : int
        The point's index.

    Returns
    -------
    str
        The point and its values on the scan's axes.
    """
    import h5py

    with h5py.File(path, "r") as f:
        paths = [p.decode() for p in f["axes/paths"][...]]
        values = json.loads(f["axes/values"][point].decode())
    inner = ", ".join(f"{p}={v!r}" for p, v in zip(paths, values, strict=True))
    return f"point {point}" + (f" ({inner})" if inner else "")


def _split_outside_brackets(text: str, sep: str) -> list[str]:
    """``text`` split at every ``sep`` outside square brackets (a scan's parameter
    paths: ``populations[L4E->L23E].C``; also read by :mod:`lfpk_hpc.scan`)."""
    out, buf, depth = [], "", 0
    for ch in text:
        depth += (ch == "[") - (ch == "]")
        if ch == sep and depth == 0:
            out.append(buf)
            buf = ""
        else:
            buf += ch
    return [*out, buf]


def _same_value(given, value) -> bool:
    if isinstance(value, bool) or isinstance(given, bool):
        return given is value
    if isinstance(value, (int, float)) and isinstance(given, (int, float)):
        return abs(given - value) <= 1e-12 * max(abs(given), abs(value))
    return given == value


def resolve_point(path, spec) -> int:
    """The index of a scan file's point given as an index (``3``, ``"3"``) or by its
    values (``"kernel.tau=100,populations[E].nu=3"``: every named axis must match, and
    exactly one point). Raises KernelsFileError naming what is wrong.

    Parameters
    ----------
    path : str or pathlib.Path
        A scan file.
    spec : int or str
        The point: its index, or ``PATH=VALUE,...`` of the scan's axes (each value in
        its parameter's unit).

    Returns
    -------
    int
        The point's index.

    Raises
    ------
    KernelsFileError
        The file is not a scan file, or no single point matches.
    """
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise KernelsFileError(
            f"cannot read {str(path)!r} as HDF5 ({' '.join(str(exc).split())})"
        ) from None
    with f:
        if f.attrs.get("format") != SCAN_FORMAT:
            raise KernelsFileError(
                f"--point {spec} is invalid: {str(path)!r} is a kernels file, not a scan "
                "file (leave out --point)"
            )
        n = int(f.attrs["n_points"])
        paths = [p.decode() for p in f["axes/paths"][...]]
        values = [json.loads(v.decode()) for v in f["axes/values"][...]]
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        i = int(text)
        if not 0 <= i < n:
            raise KernelsFileError(
                f"--point {spec} is invalid: {str(path)!r} is a scan of {n} points "
                f"(allowed 0..{n - 1}, or PATH=VALUE,... of the axes {', '.join(paths)})"
            )
        return i
    wanted = {}
    for item in _split_outside_brackets(text, ","):
        if "=" not in item:
            raise KernelsFileError(
                f"--point {spec!r} is invalid at {item!r}: give an index (0..{n - 1}) or "
                f"PATH=VALUE,... of the axes {', '.join(paths)}"
            )
        key, raw = (s.strip() for s in item.split("=", 1))
        if key not in paths:
            raise KernelsFileError(
                f"--point {spec!r} is invalid: {key!r} is not an axis of the scan "
                f"(axes: {', '.join(paths) or 'none'})"
            )
        try:
            wanted[key] = json.loads(raw)
        except ValueError:
            wanted[key] = raw  # a word (e.g. a morphology's name)
    hits = [
        i
        for i, vals in enumerate(values)
        if all(_same_value(v, vals[paths.index(k)]) for k, v in wanted.items())
    ]
    if len(hits) != 1:
        what = (
            "no point of the scan matches"
            if not hits
            else f"{len(hits)} points match ({', '.join(map(str, hits))}); name more axes"
        )
        raise KernelsFileError(
            f"--point {spec!r} is invalid for {str(path)!r}: {what} (axes: {', '.join(paths)}; "
            f"or give an index 0..{n - 1})"
        )
    return hits[0]


def read_kernels_file(path, group: str | None = None, point: int | None = None) -> KernelsFile:
    """Read a kernels file written by :class:`KernelStore`: every kernel (all lags,
    with its complete and zero flags), the probes and the run's attributes.
    Populations come in the params' order (the file's group order if it has no
    parameters). ``point``: the kernels of point ``point`` of a scan file (the group
    ``points/<point>``, in the same layout); ``group``: any such group. Raises
    KernelsFileError naming the file and the problem.

    Parameters
    ----------
    path : str or pathlib.Path
        A kernels file or a scan file.
    group : str, optional
        A group of the file in the kernels file's layout.
    point : int, optional
        The point of a scan file (an index).

    Returns
    -------
    KernelsFile
        The file's kernels, probes and attributes.

    Raises
    ------
    KernelsFileError
        The file is missing, unreadable or not a kernels file.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise KernelsFileError(f"kernels file {str(path)!r} does not exist")
    if not path.is_file():
        raise KernelsFileError(f"kernels file {str(path)!r} is not a file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise KernelsFileError(
            f"cannot read {str(path)!r} as HDF5 ({' '.join(str(exc).split())}); is it a "
            "kernels file written by python -m lfpk_hpc?"
        ) from None
    with f:
        is_scan = f.attrs.get("format") == SCAN_FORMAT
        n_points = int(f.attrs.get("n_points", 0)) if is_scan else 0
        if point is not None:
            if not is_scan:
                raise KernelsFileError(
                    f"--point {point} is invalid: {str(path)!r} is a kernels file, not a scan "
                    "file (leave out --point)"
                )
            if not 0 <= point < n_points:
                raise KernelsFileError(
                    f"--point {point} is invalid: {str(path)!r} is a scan of {n_points} points "
                    f"(allowed 0..{n_points - 1})"
                )
            group = f"points/{point}"
        elif is_scan and group is None:
            raise KernelsFileError(
                f"{str(path)!r} is a scan file of {n_points} points: choose one with --point "
                f"(0..{n_points - 1}), or write it as a kernels file with scan-extract"
            )
        if group is not None:
            if group not in f:
                raise KernelsFileError(f"{str(path)!r} has no group {group!r}")
            f = f[group]
        if "kernels" not in f or "probes" not in f:
            raise KernelsFileError(
                f"{str(path)!r} is not a kernels file of lfpk_hpc (it has no /kernels or "
                "/probes group)"
            )
        try:
            dt, tau = float(f.attrs["dt"]), float(f.attrs["tau"])
        except KeyError as exc:
            raise KernelsFileError(
                f"{str(path)!r} is not a kernels file of lfpk_hpc (no root attribute {exc})"
            ) from None
        order, electrodes = [], {}
        try:
            params = json.loads(f.attrs["params_json"])
            order = [p["name"] for p in params["populations"]]
            electrodes = {
                p["name"]: p.get("electrodes") for p in params["probes"] if "electrodes" in p
            }
        except (KeyError, TypeError, ValueError):
            pass  # group order below
        from .probes import canonical_units

        finished, _ = _finished_tasks(f)
        probes, ys, xs = {}, [], []
        for name, g in f["probes"].items():
            z = g["z"][...] if "z" in g else None
            attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in g.attrs.items()}
            units = canonical_units(attrs.get("units", ""))
            pd = ProbeData(name, str(attrs.get("type", "")), units, z, attrs)
            if name in f["kernels"]:
                for Y, gy in f["kernels"][name].items():
                    ys.append(Y)
                    for X, ds in gy.items():
                        xs.append(X)
                        pd.kernels[(Y, X)] = Kernel(
                            np.asarray(ds[...], dtype=float),
                            _kernel_complete(ds, X, Y, finished),
                            bool(ds.attrs.get("zero_connection", False)),
                        )
            probes[name] = pd
        complete = bool(f.attrs.get("complete", False))
        model_name = str(f.attrs.get("model_name", path.stem))
        params_hash = str(f.attrs.get("params_hash", ""))

    def ordered(names):
        names = list(dict.fromkeys(names))
        known = [n for n in order if n in names]
        return known + sorted(n for n in names if n not in known)

    return KernelsFile(
        path,
        model_name,
        params_hash,
        dt,
        tau,
        ordered(ys),
        ordered(xs),
        probes,
        complete,
        electrodes,
    )
