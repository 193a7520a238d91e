"""predict on PD14: wall time and peak memory, against a plain numpy.convolve loop.

    .venv/bin/python benchmarks/predict.py [--seconds 60] [--baseline-convolutions 6]

Computes the PD14 kernels (params/potjans.py) if needed, draws Poisson spikes of
the full-scale populations at the published rates for --seconds of recording,
runs `python -m lfpk_hpc predict` in a subprocess (wall time, peak resident
memory), and times the direct method on the same data: numpy.convolve(nu_X,
H_YX[ch], 'same') for every non-zero pair and channel of every probe. That loop
would take tens of minutes, so it is timed on --baseline-convolutions
(pair, channel) convolutions of the full recording and extrapolated linearly
(its cost is the same for every pair and channel). Not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--baseline-convolutions", type=int, default=6)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    from lfpk_hpc import pd14
    from lfpk_hpc.predict import bin_spikes, read_kernel_set

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        kernels = tmp / "potjans.h5"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "lfpk_hpc",
                str(ROOT / "params" / "potjans.py"),
                "--out",
                str(kernels),
            ],
            check=True,
            capture_output=True,
        )
        info, K = read_kernel_set(kernels)
        dt = info["dt"]
        t_stop = 1000.0 * args.seconds
        n_bins = int(round(t_stop / dt))
        rng = np.random.default_rng(args.seed)
        spikes = {}
        for X in pd14.POPULATIONS:
            # population spike train: Poisson counts per bin, times uniform within bins
            counts = rng.poisson(pd14.N_FULL[X] * pd14.RATES[X] * dt * 1e-3, n_bins)
            bins = np.repeat(np.arange(n_bins), counts)
            spikes[X] = (bins + rng.random(bins.size)) * dt
        n_spikes = sum(s.size for s in spikes.values())
        np.savez(tmp / "spikes.npz", **spikes)
        print(
            f"PD14 kernels: {len(K['lfp'])} pairs, probes "
            + ", ".join(f"{q} ({next(iter(v.values())).shape[0]} ch)" for q, v in K.items())
            + f"; {args.seconds:g} s at dt {dt} ms = {n_bins} bins; {n_spikes} spikes"
        )

        cmd = [
            sys.executable,
            "-m",
            "lfpk_hpc",
            "predict",
            str(kernels),
            str(tmp / "spikes.npz"),
            "--out",
            str(tmp / "signals.h5"),
            "--tstop",
            str(t_stop),
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"lfpk_hpc predict: {wall:.1f} s wall (including ~1 s start-up), "
            f"peak memory {peak_mb:.0f} MB"
        )

        pairs = [
            (q, Y, X, c)
            for q, v in K.items()
            for (Y, X), H in v.items()
            if H.any()
            for c in range(H.shape[0])
        ]
        nu = {X: bin_spikes(spikes[X], dt, 0.0, n_bins) for X in spikes}
        sample = [
            pairs[i] for i in np.linspace(0, len(pairs) - 1, args.baseline_convolutions).astype(int)
        ]
        t0 = time.perf_counter()
        for q, Y, X, c in sample:
            np.convolve(nu[X], K[q][(Y, X)][c], "same")
        per = (time.perf_counter() - t0) / len(sample)
        baseline = per * len(pairs)
        print(
            f"numpy.convolve loop: {per:.2f} s per (pair, channel) on the full recording "
            f"(timed on {len(sample)}), x {len(pairs)} = {baseline:.0f} s extrapolated"
        )
        print(f"ratio (numpy.convolve loop / lfpk_hpc predict): {baseline / wall:.0f}x")


if __name__ == "__main__":
    main()
