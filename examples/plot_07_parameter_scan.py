"""
A parameter scan
================

How do kernels change with the membrane? A scan computes the kernels of every point
of a grid over one params file as one job (``python -m lfpk_hpc scan``): tasks
(point, X, Y) in the task farm of the kernel runs, one file for all points. Here the
leak conductance ``g_pas`` of the LFPykernels README example's cell, at four values
from 3e-5 S/cm² to the example's own 3e-4 S/cm².
"""

# %%
# The scan file
# -------------
# A scan is a Python file defining ``scan = Scan(params=..., product={path: values})``;
# parameters are named by path into the params file's model.
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from lfpk_hpc import params
from lfpk_hpc.kernel import KernelEngine
from lfpk_hpc.scan import set_path

try:
    ROOT = Path(__file__).resolve().parents[1]  # the checkout
except NameError:  # sphinx-gallery runs the example in examples/, without __file__
    ROOT = Path.cwd().parent
OUT = Path(os.environ.get("LFPK_EXAMPLES_OUT", "example_output")).resolve() / "scan"
shutil.rmtree(OUT, ignore_errors=True)
OUT.mkdir(parents=True)
RUN = Path(tempfile.mkdtemp(prefix="lfpk_scan_"))
README_PARAMS = ROOT / "params" / "lfpykernels_readme.py"
G_PAS = np.geomspace(3e-5, 3e-4, 4)  # S/cm²

(RUN / "membrane.py").write_text(
    f"""import numpy as np
from lfpk_hpc.scan import Scan

scan = Scan(
    params={str(README_PARAMS)!r},
    product={{"populations[E].cell.g_pas": np.geomspace(3e-5, 3e-4, 4)}},  # S/cm²
)
"""
)


def lfpk(*args):
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "lfpk_hpc", *map(str, args)], cwd=RUN, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    print(f"$ lfpk_hpc {' '.join(map(str, args))}   ({time.perf_counter() - t0:.1f} s)")
    return proc.stdout


print("\n".join(lfpk("plan", "membrane.py", "--scan", "--ranks", 1, 2, 64).splitlines()[-5:]))
lfpk("scan", "membrane.py", "--out", "membrane.h5")

# %%
# Every point equals a kernels run of its own
# -------------------------------------------
# The scan file holds each point's kernels in the kernels file's layout under
# ``/points/<i>``. A point's kernels are those of its params computed alone.
model = params.load(README_PARAMS)
with h5py.File(RUN / "membrane.h5") as f:
    n_points = f.attrs["n_points"]
    scanned = {i: f[f"points/{i}/kernels/cdm/E/I"][...] for i in range(n_points)}
assert n_points == len(G_PAS)
i = 2
point_model = set_path(model, "populations[E].cell.g_pas", float(G_PAS[i]))
alone = KernelEngine(point_model, log=lambda *a: None).compute("I", "E").kernels["cdm"]
print(f"point {i}: max |difference| to a run of its own {np.abs(alone - scanned[i]).max():.1e}")
assert np.array_equal(alone, scanned[i])

# %%
# A leakier membrane, a smaller dipole
# ------------------------------------
# The larger g_pas, the shorter the cell's electrotonic length constant
# (λ ∝ 1/√g_pas): the synaptic current returns through the membrane closer to where
# it entered, and the current dipole moment, current times separation, shrinks. At the
# example's own g_pas the dipole kernel is LFPykernels' (5.877e3 nA·µm, as in the
# first example).
peaks = [np.abs(scanned[i][2]).max() for i in range(n_points)]
for g, pz in zip(G_PAS, peaks, strict=True):
    print(f"g_pas {g:.3g} S/cm²: max |P_z| {pz:.4g} nA·µm per spike of I")
assert all(np.diff(peaks) < 0), peaks
assert abs(peaks[-1] - 5.877e3) < 1e-4 * 5.877e3

# %%
# ``plot-scan``
# -------------
# Per pathway, the peak and the integral of the LFP kernel at every contact along the
# scanned axis (and a CSV of the numbers beside the figure).
lfpk("plot-scan", "membrane.h5", "--out", OUT / "membrane.png")
shutil.rmtree(RUN)
