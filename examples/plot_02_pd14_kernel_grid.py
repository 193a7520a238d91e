"""
The Potjans & Diesmann microcircuit's kernels
=============================================

``params/potjans.py`` is the Potjans & Diesmann (2014) microcircuit with the
geometry and layer-specific synapse placement of Hagen et al. (2016): 8 × 8
pathways, 55 of them with a connection probability above zero, and probes for the
LFP at 16 depths, the current dipole moment and the four-sphere EEG. This example
runs the kernels job as a user does — once in one process, once on two MPI ranks —
checks that both give the same kernels bit for bit, and draws the kernel grid with
:func:`lfpk_hpc.plot.plot_kernels`.
"""

# %%
# Compute the kernels
# -------------------
# ``python -m lfpk_hpc params/potjans.py --out FILE`` (about a second of computing).
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

from lfpk_hpc.plot import plot_kernels

try:
    ROOT = Path(__file__).resolve().parents[1]  # the checkout
except NameError:  # sphinx-gallery runs the example in examples/, without __file__
    ROOT = Path.cwd().parent
OUT = Path(os.environ.get("LFPK_EXAMPLES_OUT", "example_output")).resolve() / "pd14_grid"
shutil.rmtree(OUT, ignore_errors=True)
OUT.mkdir(parents=True)
PARAMS = ROOT / "params" / "potjans.py"


def lfpk(*args, ranks=1):
    """Run ``python -m lfpk_hpc ARGS`` (under ``mpirun -n RANKS`` for more than one)."""
    cmd = [sys.executable, "-m", "lfpk_hpc", *map(str, args)]
    env = dict(os.environ)
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", *cmd]
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=OUT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    print(f"$ {' '.join(cmd[cmd.index('-m') + 1 :])}   ({time.perf_counter() - t0:.1f} s)")
    return proc.stdout


log = lfpk(PARAMS, "--out", "serial.h5")
print("\n".join(log.splitlines()[-3:]))

# %%
# The same on two MPI ranks
# -------------------------
# ``mpirun -n 2 python -m lfpk_hpc params/potjans.py``: the tasks are handed out
# dynamically, longest first; the kernels do not depend on the number of ranks.
if shutil.which("mpirun"):
    lfpk(PARAMS, "--out", "mpi.h5", ranks=2)
    with h5py.File(OUT / "serial.h5") as a, h5py.File(OUT / "mpi.h5") as b:
        assert a.attrs["ranks"] == 1 and b.attrs["ranks"] == 2
        names = []
        a["kernels"].visit(
            lambda n: names.append(n) if isinstance(a["kernels"][n], h5py.Dataset) else None
        )
        for name in names:
            assert np.array_equal(a["kernels"][name][...], b["kernels"][name][...]), name
        print(f"{len(names)} kernels, bitwise equal on 1 and 2 ranks")

# %%
# What the file holds
# -------------------
# One kernel per probe, postsynaptic Y and presynaptic X; 55 tasks (pathways with
# C_YX > 0), the other nine pathways exact zeros.
with h5py.File(OUT / "serial.h5") as f:
    assert f.attrs["complete"]
    assert len(f["tasks/X"]) == 55 and f["tasks/complete"][...].all()
    pops = list(f["kernels/lfp"])
    H = f["kernels/lfp/L5E/L4E"][...]  # mV per spike of one L4E neuron
    dt, tau = f["kernels/lfp/L5E/L4E"].attrs["dt"], f["kernels/lfp/L5E/L4E"].attrs["tau"]
    units = {p: f[f"probes/{p}"].attrs["units"] for p in f["probes"]}
print("populations:", pops)
print("probes and units:", units)
print(
    f"L4E -> L5E LFP kernel: shape {H.shape}, dt {dt} ms, tau {tau} ms, "
    f"max |H| {np.abs(H).max():.3e} mV"
)
assert pops == ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
assert H.shape == (16, int(round(2 * tau / dt)) + 1)
assert not H[:, : H.shape[1] // 2 + 1].any()  # zero at lags <= 0

# %%
# The kernel grid
# ---------------
# One row per postsynaptic population, one column per presynaptic one: the LFP
# kernels across depth (each panel on its own colour scale, printed in it), and
# beside each row the dipole moment's z component and the EEG kernels.
png = plot_kernels(OUT / "serial.h5", OUT / "pd14_kernels.png", dpi=80)
print("figure:", png.name)
