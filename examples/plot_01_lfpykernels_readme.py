"""
The LFPykernels README example, reproduced
==========================================

LFPykernels 0.2.0, the reference implementation of the kernel method (Hagen et al.
2022), documents one example: a ball-and-sticks cell of population E receiving
conductance-based synapses from populations E and I, with kernels of the LFP at 13
depths (Gauss cylinder) and of the current dipole moment. ``params/lfpykernels_readme.py``
is that example as a params file; here its kernels are computed in this process and
compared with the numbers LFPykernels gives for the same inputs.
"""

# %%
# Load the params file and compute the two pathways E → E and I → E. A
# :class:`~lfpk_hpc.kernel.KernelEngine` builds the cell and the probes' matrices once
# and reuses them for every presynaptic population.
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from lfpk_hpc import params
from lfpk_hpc.kernel import KernelEngine

try:
    ROOT = Path(__file__).resolve().parents[1]  # the checkout
except NameError:  # sphinx-gallery runs the example in examples/, without __file__
    ROOT = Path.cwd().parent
model = params.load(ROOT / "params" / "lfpykernels_readme.py")
engine = KernelEngine(model, log=lambda *a: None)
t0 = time.perf_counter()
kernels = {X: engine.compute(X, "E").kernels for X in ("E", "I")}
print(f"two kernels in {time.perf_counter() - t0:.2f} s")
for X, k in kernels.items():
    print(X, "-> E:", {probe: H.shape for probe, H in k.items()})

# %%
# Compare with the reference
# --------------------------
# LFPykernels' ``KernelApprox.get_kernel`` gives, for the same example, these largest
# absolute values (mV per presynaptic spike for the LFP, nA·µm for the dipole moment;
# measured with lfpykernels 0.2.0, NEURON 9.0.2). The test suite compares every sample
# with LFPykernels itself (``tests/test_reference.py``, 1e-6); here the magnitudes.
reference = {
    ("I", "lfp"): 1.8607e-2,  # mV
    ("I", "cdm"): 5.877e3,  # nA·µm
    ("E", "lfp"): 1.9739e-3,  # mV
    ("E", "cdm"): 304.35,  # nA·µm
}
for (X, probe), ref in reference.items():
    H = kernels[X][probe]
    got = np.abs(H).max()
    print(f"{X} -> E {probe}: max |H| = {got:.5g} (LFPykernels {ref:.5g})")
    assert abs(got - ref) <= 1e-4 * ref, (X, probe, got, ref)
assert kernels["I"]["lfp"].shape == (13, 1601) and kernels["I"]["cdm"].shape == (3, 1601)

# %%
# Draw the kernels
# ----------------
# The LFP kernels across depth (lags 0 to 20 ms; a kernel is zero at negative lags)
# and the z component of the dipole moment's kernels.
dt, tau = model.kernel.dt, model.kernel.tau
lags = np.arange(kernels["E"]["lfp"].shape[1]) * dt - tau  # ms
z = np.array(model.probes[0].z)  # µm
show = (lags >= 0) & (lags <= 20)
fig, axes = plt.subplots(1, 3, figsize=(13, 4), layout="constrained")
fig.get_layout_engine().set(wspace=0.12)
for ax, X in zip(axes[:2], ("E", "I"), strict=True):
    H = kernels[X]["lfp"][:, show] * 1e3  # µV
    vmax = np.abs(H).max()
    im = ax.pcolormesh(lags[show], z, H, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    fig.colorbar(im, ax=ax, label="LFP kernel (µV per spike)")
    ax.set(title=f"{X} → E, LFP", xlabel="lag (ms)", ylabel="depth z (µm)")
for X, colour in (("E", "C3"), ("I", "C0")):
    axes[2].plot(lags[show], kernels[X]["cdm"][2, show], colour, label=f"{X} → E")
axes[2].set(title="dipole moment, z", xlabel="lag (ms)", ylabel="$P_z$ (nA·µm per spike)")
axes[2].legend()
plt.show()
