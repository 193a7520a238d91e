"""A tiny network for the hybrid ground truth's tests: two presynaptic populations
A and B and one population P of cells (a generated L5 pyramid, rotated about x),
which is also presynaptic to itself; current-based synapses of both kinds."""

import math

from lfpk_hpc import pd14
from lfpk_hpc.params import (
    CellModel,
    Connection,
    CurrentDipoleProbe,
    Distribution,
    FourSphereEEGProbe,
    GaussCylinderProbe,
    Geometry,
    KernelSettings,
    Model,
    Placement,
    Population,
    Synapse,
    exp_psc,
    truncnorm,
)

cell = CellModel(
    morphology=pd14.generated_morphology("L5", True),
    Ra=150.0,
    cm=1.0,
    g_pas=1e-4,
    e_pas=None,
    rotation={"x": 0.2},
)
geometry = Geometry(radius=100.0, loc=pd14.layer_mid("L5"), scale=15.0)
layers = Placement(
    ("apic", "dend"),
    (
        Distribution("uniform", {"loc": -1170.0, "scale": 247.8}),
        Distribution("uniform", {"loc": -587.1, "scale": 505.5}),
    ),
    (0.7, 0.3),
)
basal = Placement(("dend",), (truncnorm(-1100.0, 100.0),))
two = Distribution("truncnorm", {"a": -1.0, "b": 2.0, "loc": 2.0, "scale": 1.0})


def delay(mean):
    return truncnorm(loc=mean, scale=0.5 * mean, a=(0.05 - mean) / (0.5 * mean), b=math.inf)


model = Model(
    name="hybrid_tiny",
    populations=(
        Population("A", N=20, nu=20.0),
        Population("B", N=10, nu=30.0),
        Population("P", N=6, nu=10.0, cell=cell, geometry=geometry),
    ),
    connections=(
        Connection("A", "P", 0.3, pd14.SINGLE, delay(1.5), exp_psc(0.1, 0.5), layers),
        Connection("B", "P", 0.5, two, delay(0.75), Synapse("Exp2SynI", -0.2, 0.2, 2.0), basal),
        Connection("P", "P", 0.4, pd14.SINGLE, delay(1.5), exp_psc(0.05, 0.5), layers),
    ),
    probes=(
        GaussCylinderProbe("lfp", z=(-800.0, -1000.0, -1200.0), sigma=0.3, R=100.0, sigma_z=15.0),
        CurrentDipoleProbe("cdm"),
        FourSphereEEGProbe("eeg"),
    ),
    kernel=KernelSettings(dt=2**-4, tau=20.0, t_X=20.0, Vrest=-65.0, g_eff=False),
    synapse_count="linear",
)
