"""
Evoked responses, HNN's workflow
================================

HNN-core's best-known example drives a cortical column with timed proximal and
distal volleys and shows the current dipole of several trials, their average and
its time–frequency picture. ``python -m lfpk_hpc evoked params/pd14_evoked.py`` does
the same for the Potjans & Diesmann microcircuit, with the signals from kernels:
kernels of the network with the drives as presynaptic populations, one NEST run of the
point network per trial (over the MPI ranks), then every trial's dipole, EEG, MEG,
LFP and CSD. Here three trials at 2 % of the network; the guide compares ten trials at
scale 0.1 with HNN's example. It needs NEST.
"""

# %%
# Run the trials
# --------------
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

try:
    ROOT = Path(__file__).resolve().parents[1]  # the checkout
except NameError:  # sphinx-gallery runs the example in examples/, without __file__
    ROOT = Path.cwd().parent
OUT = Path(os.environ.get("LFPK_EXAMPLES_OUT", "example_output")).resolve() / "evoked"
shutil.rmtree(OUT, ignore_errors=True)
OUT.mkdir(parents=True)
RUN = Path(tempfile.mkdtemp(prefix="lfpk_evoked_"))

cmd = [sys.executable, "-m", "lfpk_hpc", "evoked", str(ROOT / "params" / "pd14_evoked.py")]
cmd += ["--trials", "3", "--scale", "0.02", "--out", "ev"]
t0 = time.perf_counter()
proc = subprocess.run(cmd, cwd=RUN, capture_output=True, text=True)
assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
print(f"$ lfpk_hpc {' '.join(cmd[cmd.index('-m') + 2 :])}   ({time.perf_counter() - t0:.0f} s)")
EV = RUN / "ev"
print(sorted(p.name for p in EV.iterdir()))

# %%
# What ``evoked.h5`` holds
# ------------------------
# Every trial's signals in total, per population, per layer and per drive; the dipole's
# z component in HNN's unit, nA·m (1 nA·m = 1e6 nA·µm), raw and processed as HNN
# processes it (baseline removed, Hamming-smoothed), for the aggregate and each layer.
with h5py.File(EV / "evoked.h5") as f:
    rows = f["dipole/trials_raw"].attrs["rows"]
    raw = f["dipole/trials_raw"][...]  # (trials, rows, bins), nA·m
    mean = f["dipole/mean"][...]  # processed average, nA·m
    cdm = f["signals/cdm/total"][...]  # (trials, 3, bins), nA·µm
    dt = f["dipole/mean"].attrs["dt"]  # ms
print("rows:", rows, "shape:", raw.shape, "dt:", dt, "ms")
# the aggregate is the z component of the dipole moment, in nA·m, and the sum of layers
assert np.allclose(raw[:, 0], cdm[:, 2] * 1e-6, rtol=0, atol=1e-12)
assert np.allclose(raw[:, 0], raw[:, 1:].sum(axis=1), rtol=0, atol=1e-12)

# %%
# The evoked peaks
# ----------------
# The three volleys (proximal at 26.6 ms, distal at 63.5 ms, proximal at 137.1 ms)
# give HNN's P1, N1 and P2. Their times match those of the ten trials at scale 0.1 in
# the guide (28.5, 65.7 and 139.2 ms) within a few ms.
t = np.arange(mean.shape[1]) * dt
peaks = {}
for name, (a, b), sign in (("P1", (15, 45), 1), ("N1", (45, 100), -1), ("P2", (100, 170), 1)):
    sel = (t >= a) & (t < b)
    i = np.argmax(sign * mean[0, sel])
    peaks[name] = (t[sel][i], mean[0, sel][i])
    print(f"{name}: {peaks[name][1]:+.4f} nA·m at {peaks[name][0]:.1f} ms")
for name, t_ref in (("P1", 28.5), ("N1", 65.7), ("P2", 139.2)):
    assert abs(peaks[name][0] - t_ref) < 3.0, (name, peaks[name])
assert peaks["P1"][1] > 0 > peaks["N1"][1] and peaks["P2"][1] > 0

# %%
# The dipole, HNN's ``plot_dipole``
# ---------------------------------
# Every trial in grey, their average in colour, for the aggregate and each layer; the
# drives' times marked. L4's cells have no apical dendrite: its dipole is a numerical
# zero.
shutil.copyfile(EV / "dipole.png", OUT / "dipole.png")

# %%
# Spikes and the time–frequency picture
# -------------------------------------
shutil.copyfile(EV / "raster.png", OUT / "raster.png")
shutil.copyfile(EV / "tfr.png", OUT / "tfr.png")

# %%
# EEG, MEG, LFP and CSD
# ---------------------
shutil.copyfile(EV / "signals.png", OUT / "signals.png")
shutil.rmtree(RUN)
