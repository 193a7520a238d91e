"""What the LFPykernels reference scripts share (tests/lfpykernels_reference.py,
tests/lfpykernels_active_reference.py): LFPykernels' own Exp2SynI compiled with the mod
files a script needs, and LFPykernels' ``KernelApprox`` of the pathways onto one
population that a JSON spec describes (written by the tests: sizes, C, synapses,
placements, the Gauss-cylinder probe, dt, tau, t_X), with its LFP and dipole kernels.

Nothing of lfpk_hpc is used but its mechanism cache (to compile the mod files).
"""

import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")

import lfpykernels  # noqa: E402
import neuron  # noqa: E402
import numpy as np  # noqa: E402
import scipy.stats as st  # noqa: E402

from lfpk_hpc.mechanisms import ensure_compiled  # noqa: E402

#: LFPykernels' own test files: its Exp2SynI, ball-and-sticks template and morphologies
PKG = Path(lfpykernels.__file__).parent / "tests"


def load_mechanisms(mod_files, prefix: str) -> None:
    """Compile LFPykernels' Exp2SynI and ``mod_files`` in one folder and load them."""
    mods = Path(tempfile.mkdtemp(prefix=prefix))
    shutil.copy(PKG / "exp2synI.mod", mods)
    for f in mod_files:
        shutil.copy(f, mods)
    neuron.load_mechanisms(str(ensure_compiled(mods)))
    shutil.rmtree(mods)


def spec_kernel_approx(spec, cell_parameters, **kwargs):
    """``KernelApprox`` of the pathways ``spec["X"]`` → ``spec["Y"]`` without extrinsic
    input or rates (the kernels are computed with g_eff off); ``kwargs``: its other
    arguments (multapses, delays, conductance_based, ...)."""
    X = spec["X"]
    return lfpykernels.KernelApprox(
        X=X,
        Y=spec["Y"],
        N_X=np.array(spec["N_X"], dtype=float),
        N_Y=spec["N_Y"],
        C_YX=np.array(spec["C_YX"]),
        cellParameters=cell_parameters,
        populationParameters=spec["population"],
        synapseParameters=spec["synapses"],
        synapsePositionArguments=[
            {
                "section": pos["sections"],
                "fun": [getattr(st, d["name"]) for d in pos["depth"]],
                "funargs": [d["params"] for d in pos["depth"]],
                "funweights": pos["weights"],
            }
            for pos in spec["positions"]
        ],
        extSynapseParameters=None,
        nu_ext=0.0,
        n_ext=0,
        nu_X={x: 0.0 for x in X},
        **kwargs,
    )


def lfp_and_dipole(ka, spec, x, vrest):
    """The kernels of pathway ``x`` for the spec's Gauss-cylinder probe (mV) and the
    dipole moment (nA·µm), g_eff off, Vrest ``vrest`` (mV, one or one per segment)."""
    lfp = spec["lfp"]
    probes = [
        lfpykernels.GaussCylinderPotential(
            cell=None, z=np.array(lfp["z"]), sigma=lfp["sigma"], R=lfp["R"],
            sigma_z=lfp["sigma_z"],
        ),
        lfpykernels.KernelApproxCurrentDipoleMoment(cell=None),
    ]  # fmt: skip
    H = ka.get_kernel(
        probes, Vrest=vrest, dt=spec["dt"], X=x, t_X=spec["t_X"], tau=spec["tau"],
        g_eff=False,
    )  # fmt: skip
    return H["GaussCylinderPotential"], H["KernelApproxCurrentDipoleMoment"]
