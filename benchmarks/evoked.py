"""The evoked workflow beside HNN's evoked-response example: wall times and the
averaged dipoles' main deflections.

    .venv/bin/python benchmarks/evoked.py [--trials 10] [--ranks 2] [--hnn-trials 2]
        [--hnn-venv /tmp/hnnvenv] [--out DIR]

1. ``mpirun -n RANKS python -m lfpk_hpc evoked params/pd14_evoked.py --trials N`` (PD14
   at scale 0.1 in NEST, dipole, EEG, MEG, LFP and CSD through the kernels), timed from
   the command's start to its end (start-up, kernels, trials, file, figures);
2. when hnn-core's own virtual environment exists (``--hnn-venv``, default
   /tmp/hnnvenv: ``python3 -m venv /tmp/hnnvenv && /tmp/hnnvenv/bin/pip install
   hnn-core==0.6.1 neuron==8.2.7 matplotlib joblib``; never lfpk_hpc's), HNN's example
   "Simulate Event Related Potentials" (hnn-core 0.6.1,
   examples/workflows/plot_simulate_evoked.py): its network (neymotin_2020_model), its
   three drives with the example's parameters, ``--hnn-trials`` trials with the joblib
   backend on RANKS jobs, each dipole smoothed (30 ms) and scaled (× 3000) as the
   example does, averaged; timed the same way, in a process of its own;
3. the ratio of the two times per trial, and both averages' deflections: P1 (the
   largest value within 15–40 ms), N1 (the smallest within 40–100 ms), P2 (the
   largest after 100 ms), with the layer that carries the largest part of each, in
   nA·m and in HNN's scaled unit; a figure of both (``DIR/comparison.png``).

The two models differ (a 270-cell column of active multicompartment cells against
PD14's 7,717 point neurons at scale 0.1 with passive kernel cells): the comparison is
of the workflow's output and cost, not a validation. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: HNN's published example numbers (the issue, measured with hnn-core 0.6.1):
#: trial average of 2 trials, 30 ms Hamming smoothing, × 3000 (nA·m × 3000)
HNN_PUBLISHED = {"P1": (23.7, 3.5), "N1": (65.5, -53.0), "P2": (145.5, 71.0)}
WINDOWS = {
    "P1": (15.0, 40.0, np.argmax),
    "N1": (40.0, 100.0, np.argmin),
    "P2": (100.0, 1e9, np.argmax),
}

HNN_SCRIPT = r"""
import json, sys, time
import numpy as np
t0 = time.perf_counter()
from hnn_core import JoblibBackend, neymotin_2020_model, simulate_dipole
from hnn_core.dipole import average_dipoles

n_trials, n_jobs, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
net = neymotin_2020_model()
# the example's three drives (hnn-core 0.6.1, examples/workflows/plot_simulate_evoked.py)
net.add_evoked_drive(
    "evdist1", mu=63.53, sigma=3.85, numspikes=1, location="distal",
    weights_ampa={"L2_basket": 0.006562, "L2_pyramidal": 0.000007, "L5_pyramidal": 0.142300},
    weights_nmda={"L2_basket": 0.019482, "L2_pyramidal": 0.004317, "L5_pyramidal": 0.080074},
    synaptic_delays={"L2_basket": 0.1, "L2_pyramidal": 0.1, "L5_pyramidal": 0.1},
    event_seed=274)
delays = {"L2_basket": 0.1, "L2_pyramidal": 0.1, "L5_basket": 1.0, "L5_pyramidal": 1.0}
net.add_evoked_drive(
    "evprox1", mu=26.61, sigma=2.47, numspikes=1, location="proximal",
    weights_ampa={"L2_basket": 0.08831, "L2_pyramidal": 0.01525, "L5_basket": 0.19934,
                  "L5_pyramidal": 0.00865},
    weights_nmda=None, synaptic_delays=delays, event_seed=544)
net.add_evoked_drive(
    "evprox2", mu=137.12, sigma=8.33, numspikes=1, location="proximal",
    weights_ampa={"L2_basket": 0.000003, "L2_pyramidal": 1.438840, "L5_basket": 0.008958,
                  "L5_pyramidal": 0.684013},
    synaptic_delays=delays, event_seed=814)
t_build = time.perf_counter()
with JoblibBackend(n_jobs=n_jobs):
    dpls = simulate_dipole(net, tstop=170.0, n_trials=n_trials)
t_sim = time.perf_counter()
for d in dpls:
    d.smooth(30).scale(3000)
avg = average_dipoles(dpls)
np.savez(out, times=avg.times, **{k: avg.data[k] for k in avg.data},
         trials_agg=np.array([d.data["agg"] for d in dpls]))
print(json.dumps({"import_build_s": t_build - t0, "simulate_s": t_sim - t_build}))
"""


def deflections(t, agg, layers: dict) -> dict:
    """P1, N1, P2 of ``agg`` (times t, ms) and the layer carrying most of each."""
    out = {}
    for name, (a, b, pick) in WINDOWS.items():
        idx = np.flatnonzero((t >= a) & (t < b))
        k = idx[pick(agg[idx])]
        share = {L: float(v[k]) for L, v in layers.items()}
        carrier = max(share, key=lambda L: share[L] * np.sign(agg[k]))
        out[name] = {"t": float(t[k]), "value": float(agg[k]), "layer": carrier, "layers": share}
    return out


def child_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _minus_baseline(x, f):
    n = int(round(f.attrs["baseline_ms"] / f.attrs["dt"]))
    return x - x[:n].mean() if n else x


def run_ours(args, out: Path) -> tuple[float, dict]:
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "lfpk_hpc", "evoked", str(ROOT / "params" / "pd14_evoked.py")]
    cmd += ["--trials", str(args.trials), "--out", str(out), "--overwrite"]
    if args.ranks > 1:
        cmd = [shutil.which("mpirun"), "-n", str(args.ranks), "--oversubscribe", *cmd]
    t0, c0 = time.perf_counter(), child_cpu()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - t0, child_cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    import h5py

    with h5py.File(out / "evoked.h5", "r") as f:
        rows = f["dipole"].attrs["rows"].split(",")
        mean = f["dipole/mean"][...]
        info = {
            "t": np.arange(mean.shape[1]) * f.attrs["dt"],
            "rows": rows,
            "mean": mean,
            "trial_s": f["trials/wall_time_s"][...],
            "kernels_s": float(f.attrs["wall_time_kernels_s"]),
            "total_s": float(f.attrs["wall_time_total_s"]),
            # minus the mean over the baseline, as the dipole
            "eeg": _minus_baseline(f["mean/eeg/total"][0] * 1e3, f),  # µV
            "meg": _minus_baseline(f["mean/meg/total"][0], f),  # fT
            "cpu_s": cpu,
            "mean_raw_agg": f["dipole/mean_raw"][0],
        }
    return wall, info


def run_hnn(args, out: Path):
    python = Path(args.hnn_venv) / "bin" / "python"
    if not python.exists():
        return None
    script = out / "hnn_example.py"
    script.write_text(HNN_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI", "PYTHONPATH"))}
    env["PATH"] = f"{python.parent}{os.pathsep}{env['PATH']}"
    t0, c0 = time.perf_counter(), child_cpu()
    proc = subprocess.run(
        [str(python), str(script), str(args.hnn_trials), str(args.ranks), str(out / "hnn.npz")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    phases_cpu = child_cpu() - c0
    if proc.returncode != 0:
        raise SystemExit("hnn-core failed: " + proc.stderr[-3000:])
    phases = json.loads(proc.stdout.strip().splitlines()[-1])
    phases["cpu_s"] = phases_cpu
    with np.load(out / "hnn.npz") as z:
        data = {k: z[k] for k in z.files}
    return wall, phases, data


TFR_CHECK = r"""
import sys
import numpy as np
from hnn_core.externals.mne import tfr_array_morlet
z = np.load(sys.argv[1])
x, dt, freqs = z["x"], float(z["dt"]), z["freqs"]
n = x.size
padded = np.r_[np.zeros(n - 1), x, np.zeros(n - 1)][None, None, :]
p = tfr_array_morlet(padded, sfreq=1000.0 / dt, freqs=freqs, n_cycles=7.0, output="power")
np.save(sys.argv[2], p[0, 0][:, n - 1 : 2 * n - 1])
"""


def check_tfr(args, out: Path, ours) -> float | None:
    """max |ours − MNE| / max |MNE| of the Morlet power of our averaged dipole, MNE's
    tfr_array_morlet as hnn-core ships it (its plot_tfr_morlet calls it)."""
    python = Path(args.hnn_venv) / "bin" / "python"
    if not python.exists():
        return None
    sys.path.insert(0, str(ROOT / "src"))
    from lfpk_hpc.evoked import lowest_frequency, morlet_power

    x = ours["mean_raw_agg"]
    dt = float(ours["t"][1] - ours["t"][0])
    freqs = np.arange(lowest_frequency(x.size, dt), 101.0, 2.0)
    np.savez(out / "tfr_in.npz", x=x, dt=dt, freqs=freqs)
    (out / "tfr_check.py").write_text(TFR_CHECK)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI", "PYTHONPATH"))}
    subprocess.run(
        [str(python), str(out / "tfr_check.py"), str(out / "tfr_in.npz"), str(out / "tfr.npy")],
        env=env,
        check=True,
        capture_output=True,
    )
    ref = np.load(out / "tfr.npy")
    mine = morlet_power(x, dt, freqs)
    return float(np.abs(mine - ref).max() / np.abs(ref).max())


def figure(ours, hnn, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    a, b = fig.subplots(1, 2)
    colours = {
        "agg": "k",
        "L23": "tab:blue",
        "L4": "tab:purple",
        "L5": "tab:orange",
        "L6": "tab:brown",
    }
    for i, row in enumerate(ours["rows"]):
        a.plot(
            ours["t"],
            ours["mean"][i],
            color=colours[row],
            lw=1.8 if row == "agg" else 1.0,
            label=row.replace("L23", "L2/3"),
        )
    a.set_title("lfpk_hpc: PD14 (scale 0.1), trial average", fontsize=10)
    a.set_ylabel("dipole (nA·m), 30 ms Hamming smoothing")
    if hnn is not None:
        data = hnn[2]
        for key, c in (("agg", "k"), ("L2", "tab:blue"), ("L5", "tab:orange")):
            b.plot(data["times"], data[key], color=c, lw=1.8 if key == "agg" else 1.0, label=key)
        b.set_title("hnn-core 0.6.1 example (270 cells), trial average", fontsize=10)
        b.set_ylabel("dipole (nA·m × 3000), 30 ms Hamming smoothing")
    else:
        b.text(0.5, 0.5, "hnn-core's venv not found: not run", ha="center", transform=b.transAxes)
    for ax in (a, b):
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set_xlabel("t (ms)")
        ax.legend(fontsize=8, frameon=False)
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--hnn-trials", type=int, default=2)
    p.add_argument("--hnn-venv", default=os.environ.get("HNN_VENV", "/tmp/hnnvenv"))
    p.add_argument("--out", default=None, help="folder for the runs (default: a temporary one)")
    args = p.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="lfpk_evoked_bench_"))
    out.mkdir(parents=True, exist_ok=True)

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    wall, ours = run_ours(args, out / "evoked")
    per_trial = wall / args.trials
    print(
        f"lfpk_hpc evoked: {args.trials} trials on {args.ranks} ranks in {wall:.1f} s wall, "
        f"{ours['cpu_s']:.1f} CPU-s ({per_trial:.2f} s wall and {ours['cpu_s'] / args.trials:.2f} "
        f"CPU-s per trial; kernels {ours['kernels_s']:.1f} s, one trial in NEST + prediction "
        f"{np.median(ours['trial_s']):.1f} s median on one rank)"
    )
    layers = {r: ours["mean"][i] for i, r in enumerate(ours["rows"]) if r != "agg"}
    mine = deflections(ours["t"], ours["mean"][0], layers)
    hnn = run_hnn(args, out)
    theirs = None
    if hnn is None:
        print(f"hnn-core: no venv at {args.hnn_venv}; HNN's published numbers only")
    else:
        h_wall, phases, data = hnn
        print(
            f"hnn-core example: {args.hnn_trials} trials on {args.ranks} joblib jobs in "
            f"{h_wall:.1f} s wall, {phases['cpu_s']:.1f} CPU-s ({h_wall / args.hnn_trials:.1f} s "
            f"wall and {phases['cpu_s'] / args.hnn_trials:.1f} CPU-s per trial; simulate "
            f"{phases['simulate_s']:.1f} s)"
        )
        ratio_cpu = phases["cpu_s"] / args.hnn_trials / (ours["cpu_s"] / args.trials)
        print(
            f"per trial, hnn-core / lfpk_hpc: wall {h_wall / args.hnn_trials / per_trial:.1f}, "
            f"CPU {ratio_cpu:.1f}"
        )
        theirs = deflections(data["times"], data["agg"], {"L2": data["L2"], "L5": data["L5"]})
    print("deflections of the trial averages (30 ms Hamming smoothing):")
    print(
        f"{'':4} {'lfpk_hpc PD14 (nA·m)':>34}   {'hnn-core, this run (nA·m × 3000)':>36}   "
        "HNN published"
    )
    for name in WINDOWS:
        m = mine[name]
        left = f"{m['value']:+.3f} at {m['t']:5.1f} ms ({m['layer']})"
        right = "-"
        if theirs is not None:
            h = theirs[name]
            right = f"{h['value']:+.1f} at {h['t']:5.1f} ms ({h['layer']})"
        pt, pv = HNN_PUBLISHED[name]
        print(f"{name:4} {left:>34}   {right:>36}   {pv:+.1f} at {pt} ms")
    print(
        f"EEG of the average (minus its baseline): {ours['eeg'].min():+.3f} to "
        f"{ours['eeg'].max():+.3f} µV; MEG: {ours['meg'].min():+.2f} to {ours['meg'].max():+.2f} fT"
    )
    diff = check_tfr(args, out, ours)
    if diff is not None:
        print(
            f"Morlet power of the averaged dipole against MNE's (in hnn-core): {diff:.1e} relative"
        )
    figure(ours, hnn, out / "comparison.png")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"figures: {out / 'evoked'}/*.png, {out / 'comparison.png'}")


if __name__ == "__main__":
    main()
