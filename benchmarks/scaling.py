"""Parallel scaling of the kernel run and of the hybrid ground truth: 1 vs 2 MPI
ranks, and the plan for 64.

    .venv/bin/python benchmarks/scaling.py [PARAMS ...] [--ranks 1 2] [--predict 64]
    .venv/bin/python benchmarks/scaling.py --hybrid [--scale 0.2] [--tstop 1000] [--in-degrees full]
    .venv/bin/python benchmarks/scaling.py --scan benchmarks/scan_16types.py

``--scan``: the scan on every R of --ranks: the run's wall time, its set-up and task
phases and the command's time, speed-up and efficiency against 1 rank; then the plan
for --predict ranks from the measured task times of the first run.

``--hybrid``: the hybrid ground truth of params/potjans.py at --scale (and
``--in-degrees``, as ``hybrid``'s: by default each cell's full-scale in-degree), driven by
Poisson spikes of every population at its rate (senders drawn uniformly; made here,
the same file for every rank count), on every R of --ranks; the run's wall time
(``wall_time_s`` of its signals file) and its block phase (``wall_time_tasks_s``),
speed-up and efficiency against 1 rank; then ``plan --hybrid`` of the full-scale
microcircuit (77,169 cells, 1 s) calibrated by the measured block times.

For each params file (default: params/potjans.py, params/potjans_16types.py and,
where ../shared is present, the 16-type model with the reconstructed cells of
Hagen et al. 2016) it runs ``mpirun -n R python -m lfpk_hpc PARAMS``
for every R, reads the run's wall time from the kernels file (``wall_time_s``:
from start-up of the scheduler to the closed file, without Python's own start)
and the command's total time, and prints speed-up and parallel efficiency
against the 1-rank run of the same invocation: of the run, of its task phase
alone (``wall_time_tasks_s``, the slowest rank's work loop) and of the command.
It then predicts the efficiency at --predict ranks from the measured per-task
times (longest-first schedule) and prints the bound that whole tasks set.
Not a test: numbers depend on the machine (2 cores here).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def run(params: Path, ranks: int, workdir: Path) -> tuple[float, float, dict]:
    import h5py

    from lfpk_hpc.store import read_task_table

    out = workdir / f"{params.stem}-n{ranks}.h5"
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    cmd = [
        "mpirun",
        "-n",
        str(ranks),
        "--oversubscribe",
        sys.executable,
        "-m",
        "lfpk_hpc",
        str(params),
        "--out",
        str(out),
        "--overwrite",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    total = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    with h5py.File(out, "r") as f:
        wall = float(f.attrs["wall_time_s"])
        phases = (float(f.attrs["wall_time_setup_s"]), float(f.attrs["wall_time_tasks_s"]))
    return wall, total, phases, read_task_table(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("params", nargs="*")
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--predict", type=int, default=64)
    p.add_argument("--hybrid", action="store_true", help="the hybrid ground truth instead")
    p.add_argument(
        "--scan",
        default=None,
        help="a scan file: the scan instead (benchmarks/scan_16types.py: 100 points, 11,100 tasks)",
    )
    p.add_argument("--keep", default=None, help="--scan: keep the scan files in this folder")
    p.add_argument(
        "--scale",
        type=float,
        default=0.2,
        help="--hybrid: network scale (0.2: about 3 minutes on one rank here, long enough "
        "that the machine's drift over minutes does not decide the efficiency)",
    )
    p.add_argument("--tstop", type=float, default=1000.0, help="--hybrid: simulated ms")
    p.add_argument(
        "--in-degrees",
        choices=("full", "scaled"),
        default="full",
        help="--hybrid: the hybrid's --in-degrees (default full)",
    )
    args = p.parse_args()
    if args.hybrid:
        _measure_hybrid(args)
        return
    if args.scan:
        _measure_scan(Path(args.scan), args)
        return
    if args.params:
        files = [Path(x) for x in args.params]
    else:
        files = [
            ROOT / "params" / "potjans.py",
            ROOT / "params" / "potjans_16types.py",
            # the biggest workload at hand: 16 cell types with the Hagen et al. 2016
            # reconstructions (shipped with the package)
            ROOT / "params" / "potjans_16types_reconstructed.py",
        ]
    _measure(files, args)


def _measure(files, args) -> None:
    from lfpk_hpc import cost

    print(
        f"{'model':>14} {'ranks':>5} {'run s':>8} {'set-up s':>8} {'tasks s':>8} {'cmd s':>8} "
        f"{'speed-up':>9} {'efficiency':>10} {'(tasks)':>7} {'(cmd)':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for params in files:
            base = None
            table = None
            for r in args.ranks:
                wall, total, (setup, loop), tab = run(params, r, Path(tmp))
                if base is None:
                    base, table = (wall, loop, total), tab
                s, s_loop, s_cmd = base[0] / wall, base[1] / loop, base[2] / total
                print(
                    f"{params.stem:>14} {r:>5} {wall:>8.2f} {setup:>8.2f} {loop:>8.2f} "
                    f"{total:>8.2f} {s:>9.2f} {s / r:>10.2f} {s_loop / r:>7.2f} {s_cmd / r:>7.2f}"
                )
            seconds = [row["wall_time_s"] for row in table.values()]
            n = len(seconds)
            m, eff = cost.efficiency(seconds, args.predict)
            m1, _ = cost.efficiency(seconds, 1)
            # whole (X, Y) tasks cannot be split: at best every rank ends with the
            # longest task, and with fewer tasks than ranks some ranks stay idle
            bound = min(1.0, sum(seconds) / (args.predict * max(seconds)))
            print(
                f"{params.stem:>14} plan for {args.predict} ranks from measured task times: "
                f"{n} tasks (mean {1e3 * m1 / n:.1f} ms, longest {1e3 * max(seconds):.1f} ms), "
                f"makespan {m:.3f} s (1 rank: {m1:.2f} s), efficiency {eff:.2f} "
                f"(bound for whole tasks: total / ({args.predict} x longest) = {bound:.2f})"
            )


def _measure_hybrid(args) -> None:
    import h5py
    import numpy as np

    from lfpk_hpc import params as lparams
    from lfpk_hpc.groundtruth import scaled_model
    from lfpk_hpc.predict import write_spikes

    potjans = ROOT / "params" / "potjans.py"
    model = scaled_model(lparams.load(potjans), args.scale)
    rng = np.random.default_rng(7)
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    print(f"{'ranks':>5} {'run s':>8} {'blocks s':>8} {'cmd s':>8} {'speed-up':>9} "
          f"{'efficiency':>10} {'(blocks)':>8}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        spikes = {}
        for pop in model.populations:
            n = rng.poisson(pop.nu * args.tstop / 1000.0 * pop.N)
            spikes[pop.name] = (np.sort(rng.uniform(0, args.tstop, n)), rng.integers(0, pop.N, n))
        sp = Path(tmp) / "spikes.h5"
        sizes = {p.name: p.N for p in model.populations}
        write_spikes(sp, spikes, sizes, {"t_start": 0.0, "t_stop": args.tstop})
        base = None
        for r in args.ranks:
            out = Path(tmp) / f"h{r}"
            cmd = ["mpirun", "-n", str(r), "--oversubscribe", sys.executable, "-m", "lfpk_hpc",
                   "hybrid", str(potjans), str(sp), "--out", str(out), "--scale",
                   repr(args.scale), "--in-degrees", args.in_degrees, "--dt", "0.1"]  # fmt: skip
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            total = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
            with h5py.File(out / "signals.h5", "r") as f:
                wall = float(f.attrs["wall_time_s"])
                loop = float(f.attrs["wall_time_tasks_s"])
            if base is None:
                base = (wall, loop, total)
            s, s_loop = base[0] / wall, base[1] / loop
            print(f"{r:>5} {wall:>8.1f} {loop:>8.1f} {total:>8.1f} {s:>9.2f} {s / r:>10.2f} "
                  f"{s_loop / r:>8.2f}")  # fmt: skip
        measured = Path(tmp) / f"h{args.ranks[0]}" / "signals.h5"
        proc = subprocess.run(
            [sys.executable, "-m", "lfpk_hpc", "plan", str(potjans), "--hybrid", "--dt", "0.1",
             "--measured", str(measured)],  # fmt: skip
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        print("plan of the full-scale microcircuit from these block times:")
        print(proc.stdout.rstrip())


def _measure_scan(scan: Path, args) -> None:
    """The scan on every R of --ranks (wall time of the run, its task phase and the
    command), then the plan for --predict ranks from the measured task times of the
    first run, with and without its set-up."""
    import h5py

    from lfpk_hpc.scanplan import plan_scan

    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    print(f"scan {scan}")
    print(f"{'ranks':>5} {'run s':>8} {'set-up s':>8} {'tasks s':>8} {'cmd s':>8} "
          f"{'speed-up':>9} {'efficiency':>10} {'(tasks)':>7} {'(cmd)':>7}")  # fmt: skip
    keep = Path(args.keep) if args.keep else None
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        base, first = None, None
        for r in args.ranks:
            out = folder / f"{scan.stem}-n{r}.h5"
            cmd = ["mpirun", "-n", str(r), "--oversubscribe", sys.executable, "-m", "lfpk_hpc",
                   "scan", str(scan), "--out", str(out), "--overwrite"]  # fmt: skip
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            total = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
            with h5py.File(out, "r") as f:
                wall = float(f.attrs["wall_time_s"])
                setup = float(f.attrs["wall_time_setup_s"])
                loop = float(f.attrs["wall_time_tasks_s"])
            if base is None:
                base, first = (wall, loop, total), out
            s, s_loop, s_cmd = base[0] / wall, base[1] / loop, base[2] / total
            print(f"{r:>5} {wall:>8.1f} {setup:>8.1f} {loop:>8.1f} {total:>8.1f} {s:>9.2f} "
                  f"{s / r:>10.3f} {s_loop / r:>7.3f} {s_cmd / r:>7.3f}")  # fmt: skip
        plan = plan_scan(scan, [1, args.predict], measured=first)
        units, span, eff = plan.schedules[args.predict]
        start = base[2] - base[1]  # the command's time outside the task phase (1st run)
        whole = plan.total_s / (args.predict * (span + start)) if span + start > 0 else 1.0
        print(
            f"plan for {args.predict} ranks from the measured task times of the first run: "
            f"{plan.tasks} tasks, {plan.total_s:.0f} s of work (longest task "
            f"{plan.longest_s:.2f} s), {units} units, makespan {span:.1f} s, parallel "
            f"efficiency {eff:.3f}; with the command's start-up and set-up of the first run "
            f"({start:.1f} s, a bound: it shrinks with more ranks) {whole:.3f}"
        )


if __name__ == "__main__":
    main()
