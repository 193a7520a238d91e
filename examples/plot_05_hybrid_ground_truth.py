"""
PD14 against its hybrid ground truth
====================================

The hybrid scheme of Hagen et al. (2016) turns every neuron of a point-neuron network
into a passive multicompartment cell of its population, driven by the network's own
spikes; the kernels are that computation's mean response per spike, so the hybrid
is their reference. ``python -m lfpk_hpc validate params/potjans.py`` runs the chain:
the Potjans & Diesmann network in NEST, the hybrid ground truth from its spikes over
the MPI ranks, the kernels of the same scaled network, the prediction from the same
spikes and the comparison. Here at 2 % of the network (1,544 cells, each with the
synapses a cell of the full microcircuit has: ``--in-degrees full``, the default) for
0.4 s; the guide's table has scales 0.1, 0.2 and 1. It needs NEST (``pip install nest-simulator``;
``scripts/setup.sh --test`` installs it).
"""

# %%
# Run it
# ------
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py

from lfpk_hpc import params
from lfpk_hpc.kernel import total_synapses

try:
    ROOT = Path(__file__).resolve().parents[1]  # the checkout
except NameError:  # sphinx-gallery runs the example in examples/, without __file__
    ROOT = Path.cwd().parent
OUT = Path(os.environ.get("LFPK_EXAMPLES_OUT", "example_output")).resolve() / "hybrid"
shutil.rmtree(OUT, ignore_errors=True)
OUT.mkdir(parents=True)
RUN = Path(tempfile.mkdtemp(prefix="lfpk_hybrid_"))

cmd = [sys.executable, "-m", "lfpk_hpc", "validate", str(ROOT / "params" / "potjans.py")]
cmd += ["--out", "v", "--scale", "0.02", "--tstop", "400", "--transient", "100"]
env = dict(os.environ)
if shutil.which("mpirun"):
    cmd = ["mpirun", "-n", "2", "--oversubscribe", *cmd]
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
t0 = time.perf_counter()
proc = subprocess.run(cmd, cwd=RUN, env=env, capture_output=True, text=True)
assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
print(f"$ {' '.join(cmd[cmd.index('-m') + 1 :])}   ({time.perf_counter() - t0:.0f} s)")
print("\n".join(proc.stdout.splitlines()[-4:]))
V = RUN / "v"

# %%
# The hybrid's cells
# ------------------
# ``v/hybrid/signals.h5`` records per population the cells simulated, their synapses
# and the spikes delivered to them.
with h5py.File(V / "hybrid" / "signals.h5") as f:
    cells = {k[6:]: int(v) for k, v in f.attrs.items() if k.startswith("cells_")}
    events = {k[7:]: int(v) for k, v in f.attrs.items() if k.startswith("events_")}
    synapses = {k[9:]: int(v) for k, v in f.attrs.items() if k.startswith("synapses_")}
print("cells:", cells)
print("synaptic events delivered:", events)
full = params.load(ROOT / "params" / "potjans.py")
sizes = {p.name: p.N for p in full.populations}
assert cells == {Y: round(0.02 * N) for Y, N in sizes.items()}  # N scaled
assert sum(cells.values()) == 1544
# each cell has the synapses of a cell of the full network (the kernels' count rule)
in_degree = {
    Y: sum(total_synapses(full, c) for c in full.connections if c.post == Y) / sizes[Y]
    for Y in sizes
}
print("synapses per cell, hybrid (full network):")
print({Y: f"{synapses[Y] / cells[Y]:.0f} ({in_degree[Y]:.0f})" for Y in cells})
assert all(abs(synapses[Y] / cells[Y] / in_degree[Y] - 1) < 1e-3 for Y in cells)

# %%
# Kernel prediction against the hybrid
# ------------------------------------
# Low-passed median R² over channels. What the kernels cannot predict is each cell's
# own variation: its random synapse positions, its distance to the contacts and the
# spikes of its own presynaptic neurons. At 2 % of the network, full in-degrees drawn
# from 2 % of the neurons make every presynaptic neuron feed fifty times as many cells
# as in the full microcircuit, so the cells share most of their inputs and the LFP
# agrees better here than there (the guide's table: 0.985 at scale 0.1, 0.978 at 0.2,
# 0.979 for the full network).
metrics = json.loads((V / "metrics.json").read_text())
r2 = {p: metrics[p]["r2_median_lowpass"] for p in ("lfp", "cdm", "eeg")}
print({p: round(v, 3) for p, v in r2.items()})
EXPECTED = {"lfp": 0.994, "cdm": 0.999, "eeg": 0.999}  # measured on 2 ranks (any: bitwise)
for p, v in EXPECTED.items():
    assert abs(r2[p] - v) < 0.005, (p, r2[p], v)
    assert metrics[p]["passed"]

# %%
# The dipole moment, ground truth and prediction
# ----------------------------------------------
shutil.copyfile(V / "traces_cdm.png", OUT / "traces_cdm.png")

# %%
# The LFP across depth
# --------------------
shutil.copyfile(V / "traces_lfp.png", OUT / "traces_lfp.png")
shutil.rmtree(RUN)
