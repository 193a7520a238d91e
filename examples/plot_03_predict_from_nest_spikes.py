"""
Predicting signals from the spikes of a NEST simulation
=======================================================

The kernels turn a point-neuron network's spikes into its signals:
V(r, t) = Σ_X Σ_Y (ν_X ∗ H_YX)(r, t), with ν_X the spike count of population X per
time bin. Here the Potjans & Diesmann microcircuit is simulated in NEST at a tenth of
its size (``python -m lfpk_hpc simulate-pd14``), its spikes go through the kernels of
``params/potjans.py`` (``predict``), and ``plot-signals`` draws the LFP, the dipole
moment and the EEG. Without NEST in the environment the example makes a spikes file
of Poisson trains at the populations' rates instead.
"""

# %%
# The kernels and the spikes
# --------------------------
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

try:
    ROOT = Path(__file__).resolve().parents[1]  # the checkout
except NameError:  # sphinx-gallery runs the example in examples/, without __file__
    ROOT = Path.cwd().parent
OUT = Path(os.environ.get("LFPK_EXAMPLES_OUT", "example_output")).resolve() / "predict"
shutil.rmtree(OUT, ignore_errors=True)
OUT.mkdir(parents=True)
PARAMS = ROOT / "params" / "potjans.py"


def lfpk(*args):
    """Run ``python -m lfpk_hpc ARGS`` in the output folder."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "lfpk_hpc", *map(str, args)]
    proc = subprocess.run(cmd, cwd=OUT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    print(f"$ lfpk_hpc {' '.join(map(str, args))}   ({time.perf_counter() - t0:.1f} s)")
    return proc.stdout


lfpk(PARAMS, "--out", "potjans.h5")
TSTOP = 1000.0  # ms
if importlib.util.find_spec("nest") is not None:
    log = lfpk("simulate-pd14", PARAMS, "--scale", 0.1, "--tstop", TSTOP, "--out", "spikes.h5")
    lines = log.splitlines()
    start = next(i for i, line in enumerate(lines) if "mean rates" in line)
    print("\n".join(lines[start : start + 10]))
    with_nest = True
else:  # Poisson spikes at the populations' full-scale rates, 10 % of the neurons
    from lfpk_hpc import params
    from lfpk_hpc.predict import write_spikes

    model = params.load(PARAMS)
    rng = np.random.default_rng(55)
    spikes, sizes = {}, {}
    for p in model.populations:
        n = max(1, round(0.1 * p.N))
        count = rng.poisson(p.nu * TSTOP / 1000.0 * n)
        times = np.sort(rng.uniform(0.0, TSTOP, count))
        spikes[p.name] = (times, rng.integers(0, n, count))
        sizes[p.name] = n
    write_spikes(OUT / "spikes.h5", spikes, sizes, {"t_start": 0.0, "t_stop": TSTOP})
    with_nest = False

# %%
# The network's rates
# -------------------
# At scale 0.1 (seed 55, 1 s) NEST's PD14 fires at the rates of the reference
# implementation's own 10 % runs (INM-6/microcircuit-PD14-model), below the published
# full-scale ones.
with h5py.File(OUT / "spikes.h5") as f:
    pops = [p for p in f if isinstance(f[p], h5py.Group)]
    rates = {p: len(f[p]["times"]) / f[p].attrs["N"] / (TSTOP / 1000.0) for p in pops}
print("rates (spikes/s):", {p: round(float(r), 2) for p, r in rates.items()})
if with_nest:
    reference = [0.40, 2.02, 3.88, 4.96, 6.58, 7.73, 0.83, 6.98]  # spikes/s, scale 0.1
    got = [rates[p] for p in ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")]
    assert np.allclose(got, reference, atol=0.006), got

# %%
# Predict
# -------
# ``predict`` bins the spikes at the kernels' dt (0.0625 ms) and convolves them with
# every kernel (FFTs, block by block). It equals the plain numpy sum of convolutions;
# here the dipole moment's z component is summed again by hand.
lfpk("predict", "potjans.h5", "spikes.h5", "--out", "signals.h5", "--tstop", TSTOP)
with h5py.File(OUT / "signals.h5") as s, h5py.File(OUT / "potjans.h5") as k:
    P = s["signals/cdm"][...]  # nA·µm, (3, bins)
    dt = s["signals/cdm"].attrs["dt"]
    n_bins = P.shape[1]
    manual = np.zeros(n_bins)
    with h5py.File(OUT / "spikes.h5") as f:
        for X in k["kernels/cdm/L5E"]:
            times = f[X]["times"][...]
            nu = np.bincount((times // dt).astype(int), minlength=n_bins)[:n_bins]
            for Y in k["kernels/cdm"]:
                manual += np.convolve(nu, k[f"kernels/cdm/{Y}/{X}"][2], "same")
    units = s["signals/cdm"].attrs["units"]
err = np.abs(P[2] - manual).max() / np.abs(manual).max()
print(f"{n_bins} bins of {dt} ms; dipole z: max |P_z| = {np.abs(P[2]).max():.4g} {units}")
print(f"predict vs numpy.convolve: relative difference {err:.1e}")
assert P.shape == (3, int(round(TSTOP / dt))) and err < 1e-9

# %%
# The signals
# -----------
# ``plot-signals`` draws the LFP across depth (µV), the dipole moment (nA·µm) and the
# EEG (µV), and their spectra. The first milliseconds lack the spikes before t = 0:
# the shaded transient, as long as the kernels take to fall below 1 % of their peak.
lfpk("plot-signals", "signals.h5", "--out", "signals.png", "--tmin", 0, "--tmax", 1000)
