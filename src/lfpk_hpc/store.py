"""The kernels file (HDF5): layout, provenance and completion flags.

Layout::

    /                      attrs: format, lfpk_hpc_version, neuron_version, lfpy_version,
                                  lfpykit_version, h5py_version, python_version,
                                  model_name, params_hash, params_json, dt, tau, created
    /kernels/<probe>/<Y>/<X>   float64 (channels, 2·tau/dt + 1), lags −tau..tau
                               attrs: dt (ms), tau (ms), units, complete (bool)
    /probes/<probe>            attrs: type, units, n_channels (+ dataset z, µm, for LFP probes)
    /tasks/<Y>/<X>             attrs: complete, rank, wall_time_s, n_seg, timings_json

Every dataset is created (zero-filled, ``complete = False``) when the file is
created; a kernel is marked complete only after its data are written, and the
file is flushed after every task, so an interrupted file tells which kernels
exist.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from pathlib import Path

import numpy as np

from .params import GaussCylinderProbe, Model

__all__ = ["FORMAT", "KernelStore", "StoreError", "read_kernel", "read_kernels"]

FORMAT = "lfpk_hpc.kernels/1"


class StoreError(RuntimeError):
    """The output file cannot be created or does not have the expected layout."""


def _versions() -> dict[str, str]:
    import h5py

    from . import __version__

    out = {
        "lfpk_hpc_version": __version__,
        "h5py_version": h5py.__version__,
        "python_version": platform.python_version(),
    }
    for mod, key in (
        ("neuron", "neuron_version"),
        ("LFPy", "lfpy_version"),
        ("lfpykit", "lfpykit_version"),
    ):
        try:
            out[key] = __import__(mod).__version__
        except Exception:  # pragma: no cover - a missing package is recorded as such
            out[key] = "unavailable"
    return out


class KernelStore:
    """Writes the kernels of ``model`` to one HDF5 file (single writer)."""

    def __init__(
        self,
        path: str | Path,
        model: Model,
        probe_units: dict[str, str],
        probe_channels: dict[str, int],
        *,
        overwrite: bool = False,
    ):
        import h5py

        self.path = Path(path)
        self.model = model
        if self.path.exists() and not overwrite:
            raise StoreError(
                f"output file {str(self.path)!r} exists; choose another --out or pass --overwrite"
            )
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        ks = model.kernel
        n_lags = int(2 * ks.tau // ks.dt + 1)
        self._file = f = h5py.File(self.path, "w")
        f.attrs["format"] = FORMAT
        for key, value in _versions().items():
            f.attrs[key] = value
        f.attrs["model_name"] = model.name
        f.attrs["params_hash"] = model.hash()
        f.attrs["params_json"] = model.to_json()
        f.attrs["dt"] = ks.dt
        f.attrs["tau"] = ks.tau
        f.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        for spec in model.probes:
            g = f.create_group(f"probes/{spec.name}")
            g.attrs["type"] = type(spec).__name__
            g.attrs["units"] = probe_units[spec.name]
            g.attrs["n_channels"] = probe_channels[spec.name]
            if isinstance(spec, GaussCylinderProbe):
                g.create_dataset("z", data=np.asarray(spec.z, dtype=float)).attrs["units"] = "um"
                for key in ("sigma", "R", "sigma_z"):
                    g.attrs[key] = getattr(spec, key)
            for X, Y in model.tasks():
                ds = f.create_dataset(
                    f"kernels/{spec.name}/{Y}/{X}",
                    shape=(probe_channels[spec.name], n_lags),
                    dtype="f8",
                    fillvalue=0.0,
                )
                ds.attrs["dt"] = ks.dt
                ds.attrs["tau"] = ks.tau
                ds.attrs["units"] = probe_units[spec.name]
                ds.attrs["complete"] = False
        for X, Y in model.tasks():
            f.create_group(f"tasks/{Y}/{X}").attrs["complete"] = False
        f.flush()

    def write(self, result, *, rank: int = 0) -> None:
        """Write the kernels of one finished task, mark them complete, flush."""
        f = self._file
        for name, H in result.kernels.items():
            ds = f[f"kernels/{name}/{result.Y}/{result.X}"]
            if ds.shape != H.shape:
                raise StoreError(
                    f"kernel {name}/{result.Y}/{result.X} has shape {H.shape}, "
                    f"the file expects {ds.shape}"
                )
            ds[...] = H
            ds.attrs["complete"] = True
        g = f[f"tasks/{result.Y}/{result.X}"]
        g.attrs["rank"] = rank
        g.attrs["wall_time_s"] = result.timings.get("total", 0.0)
        g.attrs["n_seg"] = result.n_seg
        g.attrs["timings_json"] = json.dumps(result.timings)
        g.attrs["complete"] = True
        f.flush()

    def finish(self, **attrs) -> None:
        for key, value in attrs.items():
            self._file.attrs[key] = value
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_kernel(path: str | Path, probe: str, Y: str, X: str) -> np.ndarray:
    """One kernel H_YX of ``probe`` (channels, lags); refuses an incomplete one."""
    import h5py

    with h5py.File(path, "r") as f:
        key = f"kernels/{probe}/{Y}/{X}"
        if key not in f:
            raise StoreError(f"{path}: no kernel {key}")
        ds = f[key]
        if not ds.attrs.get("complete", False):
            raise StoreError(f"{path}: kernel {key} is not complete")
        return ds[...]


def read_kernels(path: str | Path) -> dict[tuple[str, str, str], np.ndarray]:
    """Every complete kernel: (probe, Y, X) → array (channels, lags)."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        for probe, g in f["kernels"].items():
            for Y, gy in g.items():
                for X, ds in gy.items():
                    if ds.attrs.get("complete", False):
                        out[(probe, Y, X)] = ds[...]
    return out
