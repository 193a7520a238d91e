"""Who computes what. This slice runs every task in one process, in order;
the MPI schedulers of issue 3 plug in here with the same signature."""

from __future__ import annotations

import time
from pathlib import Path

from .params import Model

__all__ = ["run_kernels"]


def run_kernels(model: Model, out: str | Path, *, overwrite: bool = False, log=print) -> Path:
    """Compute every (X, Y) kernel of ``model`` and write them to ``out`` (HDF5)."""
    from .kernel import KernelEngine
    from .store import KernelStore

    t0 = time.perf_counter()
    engine = KernelEngine(model, log=log)
    tasks = model.tasks()
    log(
        f"model {model.name!r} (params hash {model.hash()[:12]}): {len(tasks)} tasks (X->Y): "
        + ", ".join(f"{X}->{Y}" for X, Y in tasks)
    )
    log(
        "probes: "
        + ", ".join(f"{p.name} ({p.n_channels} channels, {p.units})" for p in engine.probes)
    )
    ks = model.kernel
    log(f"kernel settings: dt {ks.dt} ms, tau {ks.tau} ms, t_X {ks.t_X} ms, g_eff {ks.g_eff}")
    store = KernelStore(
        out,
        model,
        probe_units={p.name: p.units for p in engine.probes},
        probe_channels={p.name: p.n_channels for p in engine.probes},
        overwrite=overwrite,
    )
    try:
        for i, (X, Y) in enumerate(tasks, start=1):
            result = engine.compute(X, Y)
            store.write(result, rank=0)
            what = "C_YX = 0, zero kernels" if result.n_seg == 0 else f"{result.n_seg} segments"
            log(f"[{i}/{len(tasks)}] {X}->{Y} done in {result.timings['total']:.3f} s ({what})")
        wall = time.perf_counter() - t0
        store.finish(ranks=1, wall_time_s=wall, write_path="serial", complete=True)
    finally:
        store.close()
    log(f"wrote {out} ({len(tasks)} tasks, {wall:.2f} s)")
    return Path(out)
