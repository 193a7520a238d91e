"""Validation against the hybrid ground truth: the PD14 microcircuit end to end.

    mpirun -n 2 python -m lfpk_hpc validate params/potjans.py --out validation/

1. **Point network.** The Potjans & Diesmann (2014) network in NEST at ``--scale``
   (``simulate-pd14``, one process without MPI, run by rank 0 while the other ranks
   wait), or the spikes of ``--spikes`` (any spikes file with senders).
2. **Hybrid ground truth** (:mod:`lfpk_hpc.hybrid`): every neuron of the scaled
   network as a passive multicompartment cell driven by those spikes, over all ranks.
   Below scale 1 each cell keeps its full-scale in-degree by default
   (``--in-degrees full``: the connection probabilities raised until each cell has
   the full model's synapses per cell, :func:`lfpk_hpc.groundtruth.scaled_model`),
   so every cell receives the synapses it has in the whole microcircuit, from fewer
   presynaptic neurons; ``--in-degrees scaled`` keeps C and in-degrees shrink with
   the scale.
3. **Kernels** of the same scaled network (:mod:`lfpk_hpc.kernelrun`): the same
   in-degrees, weights, delays, placements and cells as the hybrid cells, at the
   same dt.
4. **Prediction** from the same spikes (:func:`lfpk_hpc.predict.predict`) and the
   comparison (:func:`lfpk_hpc.metrics.compare`): LFP, dipole and EEG, in total and
   per postsynaptic population, with the wall time of each step, in
   ``metrics.json`` and ``report.html``.

The hybrid cells are passive and their synapses current-based, so the hybrid signal
is linear in the spikes and the kernels are its mean response per spike: what is
left between the two is how far each neuron's actual synapses (their number,
places, delays, the spikes of their presynaptic neurons and the positions of the
cells they sit on) are from the population mean, and the geometry of the probes
(the kernels' Gauss-cylinder LFP against line sources at the contacts; each cell's
EEG at its own position against the population's dipole at the column's axis). The
share of the first falls like the scale's inverse when in-degrees shrink with the
scale and keeps its full-scale value when they are kept (docs/guide/validation.md).
The hybrid's synapses have the params' PSC amplitudes (the point network at a reduced
scale has its own, larger weights: they only shape its spikes); kernels and hybrid
share them.

Every outcome that cannot give meaningful numbers stops with an error before the
expensive steps where it can: a window not longer than the transient, a scale
without cells (exit 2); a point network in which a population the kernels use has
no spike after the transient (exit 1: a run that failed).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .errors import RunError
from .validate import ValidationError

__all__ = ["DEFAULT_DT", "DEFAULT_SCALE", "DEFAULT_TSTOP", "run_hybrid_validation"]

#: defaults of the PD14 validation: a fraction of the microcircuit and a duration that
#: take about 4 minutes on the 2 ranks of a 2-core machine (with full in-degrees: LFP
#: R² 0.978, as the full microcircuit's 0.979; docs/guide/validation.md)
DEFAULT_SCALE = 0.2
#: default simulated time of the hybrid validation (ms)
DEFAULT_TSTOP = 1200.0
#: time step (ms) of the hybrid cells and the kernels: NEST's resolution
DEFAULT_DT = 0.1


class PointNetworkError(RunError):
    """The point network did not give spikes to validate with (exit code 1)."""


def _quiet(*_a, **_k):
    pass


def _spikes_from_nest(params_path, out: Path, *, scale, tstop, seed, dt, log) -> float:
    """Run ``simulate-pd14`` in a process of its own (NEST from PyPI has no MPI and
    must not see the launcher's variables); returns its wall time (s)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMPI_", "PMI", "PMIX", "MPI_LOCAL", "SLURM_STEP", "HYDRA"))
    }
    from .nestsim import derive, threads_needed

    # as many threads as NEST needs to hold the network (3 at full scale), a number
    # fixed by the scale: NEST's spikes depend on it
    threads = threads_needed(derive(float(scale), float(scale), float(dt), False))
    cmd = [
        sys.executable, "-m", "lfpk_hpc", "simulate-pd14", str(params_path),
        "--scale", repr(float(scale)), "--tstop", repr(float(tstop)), "--seed", str(int(seed)),
        "--dt", repr(float(dt)), "--threads", str(threads), "--out", str(out),
    ]  # fmt: skip
    log("validate: the point network in NEST: " + " ".join(cmd[2:]))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        why = lines[-1] if lines else f"exit code {proc.returncode}"
        raise (ValidationError if proc.returncode == 2 else PointNetworkError)(
            f"the point network (simulate-pd14) failed: {why}"
        )
    for line in proc.stdout.splitlines():
        if "rates" in line or "spikes" in line:
            log("  " + line.strip())
    return time.perf_counter() - t0


def _check_spikes(path: Path, model, transient: float, tstop: float) -> dict:
    """Spikes per population after the transient; every presynaptic population of the
    kernels must have some."""
    from .predict import read_spike_trains

    pres = [p.name for p in model.populations if any(c.pre == p.name for c in model.connections)]
    trains, _ = read_spike_trains(path, pres)
    counts = {
        X: int(np.count_nonzero((t >= transient) & (t < tstop)))
        for X, (t, _s, _n) in trains.items()
    }
    silent = [X for X, n in counts.items() if n == 0]
    if silent:
        raise PointNetworkError(
            f"{path}: population{'s' if len(silent) > 1 else ''} {', '.join(silent)} fired no "
            f"spike between the transient ({transient:g} ms) and --tstop ({tstop:g} ms): "
            "their kernels would predict nothing and the validation would mean nothing"
        )
    return counts


def run_hybrid_validation(
    model,
    params_path,
    out,
    *,
    scale: float | None = None,
    tstop: float | None = None,
    transient: float = 200.0,
    seed: int = 1234,
    dt: float | None = None,
    spikes=None,
    in_degrees: str | None = None,
    comm=None,
    overwrite: bool = False,
    log=print,
) -> dict | None:
    """The validation of a point-neuron model against its hybrid ground truth (see the
    module docstring); every rank calls it. Returns the metrics on rank 0.

    Parameters
    ----------
    model : Model
        The PD14 model (its params file's).
    params_path : str or pathlib.Path
        Its params file (NEST's network is built from it).
    out : str or pathlib.Path
        The output folder.
    scale : float, optional
        Fraction of the microcircuit simulated (dimensionless); None:
        :data:`DEFAULT_SCALE`.
    tstop : float, optional
        Simulated time (ms); None: :data:`DEFAULT_TSTOP`.
    transient : float, optional
        Start of the compared window (ms).
    seed : int, optional
        Seed of every random draw (dimensionless).
    dt : float, optional
        Time step of the hybrid cells and the kernels (ms); None: :data:`DEFAULT_DT`.
    spikes : str or pathlib.Path, optional
        A spikes file with senders to use instead of simulating the point network.
    in_degrees : {"full", "scaled"}, optional
        Below scale 1, whether the hybrid cells and the kernels keep the full-scale
        in-degrees (None: :data:`lfpk_hpc.hybrid.DEFAULT_IN_DEGREES`, full) or the
        connection probabilities (:func:`lfpk_hpc.groundtruth.scaled_model`).
    comm : mpi4py.MPI.Comm, optional
        Communicator of the ranks; None: serial.
    overwrite : bool, optional
        Replace an existing output.
    log : callable, optional
        Receives the progress messages.

    Returns
    -------
    dict or None
        The metrics on rank 0, None on the other ranks.

    Raises
    ------
    ValidationError
        A bad window, time step, scale or spikes file (exit code 2).
    PointNetworkError
        A population the kernels use has no spike after the transient (exit code 1).
    """
    from . import nestsim
    from .groundtruth import GroundTruthError, scaled_model
    from .hybrid import DEFAULT_IN_DEGREES, run_hybrid
    from .kernelrun import run_kernels
    from .metrics import compare, compare_populations
    from .parallel import wait_quietly
    from .predict import predict
    from .validate import (
        check_verdicts,
        check_window,
        kernels_png,
        print_summary,
        raster_png,
        report,
        write_metrics,
    )

    scale = DEFAULT_SCALE if scale is None else scale
    tstop = DEFAULT_TSTOP if tstop is None else tstop
    dt = DEFAULT_DT if dt is None else float(dt)
    in_degrees = DEFAULT_IN_DEGREES if in_degrees is None else in_degrees
    check_window(tstop, transient)
    if not (np.isfinite(dt) and dt > 0):
        raise ValidationError(f"--dt = {dt!r} is invalid: must be a time > 0 ms")
    try:
        smodel = scaled_model(model, scale, in_degrees)
    except GroundTruthError as exc:
        raise ValidationError(str(exc)) from None
    if spikes is None:
        nestsim.check_params(str(params_path))  # a PD14 model (exit 2 otherwise)
    rank = comm.Get_rank() if comm is not None else 0
    say = log if rank == 0 else _quiet
    out = Path(out)
    # a finished hybrid run of the same inputs in out/hybrid is reused (the hybrid
    # job of submit --validate leaves it there); anything else there is an error
    results = [out / n for n in ("metrics.json", "report.html", "kernels.h5")]
    error = None
    if rank == 0:
        there = [p for p in results if p.exists()]
        if there and not overwrite:
            error = f"--out {str(out)!r} already holds {there[0].name}; pass --overwrite"
        else:
            out.mkdir(parents=True, exist_ok=True)
    if comm is not None:
        error = comm.bcast(error, root=0)
    if error:
        raise ValidationError(error)
    times = {}

    # 1. the point network's spikes
    if spikes is None:
        spikes_path = out / "spikes.h5"
        failure = None
        if rank == 0:
            try:
                times["nest"] = _spikes_from_nest(
                    params_path, spikes_path, scale=scale, tstop=tstop, seed=seed, dt=0.1, log=say
                )
            except (ValidationError, PointNetworkError) as exc:
                failure = exc
        wait_quietly(comm)
        if comm is not None:
            failure = comm.bcast(failure, root=0)
        if failure is not None:
            raise failure
    else:
        spikes_path = Path(spikes)
    counts = None
    if rank == 0:
        try:
            counts = _check_spikes(spikes_path, smodel, transient, tstop)
        except Exception as exc:  # noqa: BLE001 - every rank raises it (below)
            counts = exc
    if comm is not None:
        counts = comm.bcast(counts, root=0)
    if isinstance(counts, Exception):
        raise counts
    say("validate: spikes after the transient: " + ", ".join(f"{X} {n}" for X, n in counts.items()))

    # 2. the hybrid ground truth, over all ranks
    t1 = time.perf_counter()
    run_hybrid(
        model,
        spikes_path,
        out / "hybrid",
        scale=scale,
        in_degrees=in_degrees,
        tstart=0.0,
        tstop=tstop,
        dt=dt,
        seed=seed,
        comm=comm,
        overwrite=overwrite,
        resume=not overwrite,
        log=log,
    )
    times["hybrid"] = time.perf_counter() - t1

    # 3. the kernels of the same scaled network, at the same dt
    t2 = time.perf_counter()
    kmodel = dataclasses.replace(smodel, kernel=dataclasses.replace(smodel.kernel, dt=dt))
    kernels = out / "kernels.h5"
    run_kernels(kmodel, kernels, comm=comm, overwrite=True, log=log)
    times["kernels"] = time.perf_counter() - t2

    result = None
    if rank == 0:
        # 4. prediction, comparison, report
        t3 = time.perf_counter()
        predict(
            kernels, spikes_path, out / "prediction.h5", t_start=0.0, t_stop=tstop,
            overwrite=True, log=say,
        )  # fmt: skip
        times["prediction"] = time.perf_counter() - t3
        truth = out / "hybrid" / "signals.h5"
        result = compare(truth, out / "prediction.h5", transient=transient)
        populations = compare_populations(truth, out / "prediction.h5", transient=transient)
        result["per_population"] = populations
        result["wall_time_s"] = {k: round(v, 2) for k, v in times.items()}
        write_metrics(result, out)
        figures = {"raster": raster_png(spikes_path, transient)}
        kfig = kernels_png(kernels)
        if kfig:
            figures["kernels"] = kfig
        route = times["kernels"] + times["prediction"]
        from . import __version__

        context = {
            "params": f"{model.name} (params hash {model.hash()[:12]}; the scaled model's "
            f"{smodel.hash()[:12]}, which the hybrid and the kernels share)",
            "ground truth": "hybrid scheme (Hagen et al. 2016): every neuron a passive "
            "multicompartment cell driven by the point network's spikes",
            "scale": scale,
            "in-degrees": f"{in_degrees} (below scale 1: "
            + (
                "each cell's full-scale in-degree, connection probabilities raised)"
                if in_degrees == "full"
                else "connection probabilities kept, in-degrees x scale)"
            ),
            "simulated time (ms)": tstop,
            "transient (ms)": transient,
            "dt (ms)": dt,
            "seed": seed,
            "ranks": comm.Get_size() if comm is not None else 1,
            "spikes": str(spikes_path),
            "wall time (s)": ", ".join(f"{k} {v:.1f}" for k, v in times.items()),
            "speed-up of the kernel route over the hybrid ground truth": (
                f"{times['hybrid'] / route:.0f}x" if route > 0 else "–"
            ),
            "versions": f"lfpk_hpc {__version__}",
            "created": time.strftime("%Y-%m-%d %H:%M"),
        }
        report(
            result,
            out,
            title=f"lfpk_hpc validation of {model.name} (hybrid ground truth)",
            context=context,
            figures=figures,
            sections=[("Per postsynaptic population", _population_table(populations))],
        )
        print_summary(result)
        say(
            f"wrote {out / 'metrics.json'} and {out / 'report.html'} ("
            + ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
            + ")"
        )
        (out / "wall_times.json").write_text(json.dumps(times, indent=1) + "\n")
        check_verdicts(result, out)  # exit 1 if the prediction fails the comparison
    return result


def _population_table(populations: dict) -> str:
    """HTML table: per population and probe the median low-passed R² and r_STD."""
    probes = sorted({p for per in populations.values() for p in per})
    head = "".join(f"<th>{p}: R² (low-passed) / r_STD</th>" for p in probes)
    rows = []
    for Y, per in populations.items():
        cells = []
        for p in probes:
            e = per.get(p, {})
            r2, rs = e.get("r2_median_lowpass"), e.get("rstd_median_lowpass")
            cells.append(
                f"<td>{r2:.3f} / {rs:.3f}</td>"
                if r2 is not None and rs is not None
                else "<td>–</td>"
            )
        rows.append(f"<tr><td>{Y}</td>{''.join(cells)}</tr>")
    return (
        "<p>Each population's contribution: the hybrid cells of Y against Σ_X ν_X ∗ H_YX "
        "(medians over channels).</p>"
        f"<table><tr><th>Y</th>{head}</tr>{''.join(rows)}</table>"
    )
