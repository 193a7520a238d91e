"""The LFPykernels README example (LFPykernels 0.2.0; Hagen et al. 2022).

Postsynaptic population E (ball-and-sticks cell), presynaptic E and I; kernels of
the Gauss-cylinder LFP at 13 depths and of the current dipole moment.
Units: µm, ms, mV, µS (conductance-based synapses), spikes/s, S/m.
"""

import math

import numpy as np

from lfpk_hpc.params import (
    CellModel,
    Connection,
    CurrentDipoleProbe,
    Extrinsic,
    GaussCylinderProbe,
    Geometry,
    KernelSettings,
    Model,
    Placement,
    Population,
    Section,
    Synapse,
    norm,
    truncnorm,
)

# Ball-and-sticks E cell (LFPykernels' BallAndSticks_E.hoc): soma 30 µm long and wide,
# a basal stick of 200 µm (diameter 2 µm) at the soma's 0-end and an apical stick
# of 1000 µm (diameter 3 µm) at its 1-end.
ball_and_sticks_E = (
    Section("soma", start=(0, 0, -15), end=(0, 0, 15), diam=30),
    Section("dend", start=(0, 0, -15), end=(0, 0, -215), diam=2, parent="soma", parent_x=0),
    Section("apic", start=(0, 0, 15), end=(0, 0, 1015), diam=3, parent="soma", parent_x=1),
)

Vrest = -65.0  # mV, potential the synapses are linearised around and leak reversal

model = Model(
    name="lfpykernels_readme",
    populations=(
        Population(
            "E",
            N=8192,
            nu=2.5,  # spikes/s
            cell=CellModel(
                morphology=ball_and_sticks_E,
                Ra=100.0,  # Ω·cm
                cm=1.0,  # µF/cm²
                g_pas=0.0003,  # S/cm²
                e_pas=None,  # = Vrest
                lambda_f=100.0,  # Hz, d_lambda rule → 27 segments
            ),
            geometry=Geometry(radius=150.0, loc=0.0, scale=75.0),  # µm
        ),
        Population("I", N=1024, nu=5.0),
    ),
    connections=(
        Connection(
            pre="E",
            post="E",
            C=0.05,
            multapses=truncnorm(loc=2.0, scale=0.6, a=(1 - 2.0) / 0.6, b=(10 - 2.0) / 0.6),
            delay=truncnorm(loc=1.3, scale=0.5, a=-2.2, b=math.inf),  # ms
            synapse=Synapse("Exp2Syn", weight=0.00012, tau1=0.2, tau2=1.8, e=0.0),  # µS, ms, mV
            placement=Placement(sections=("apic", "dend"), depth=(norm(50.0, 100.0),)),
        ),
        Connection(
            pre="I",
            post="E",
            C=0.05,
            multapses=truncnorm(loc=5.0, scale=1.1, a=(1 - 5.0) / 1.1, b=(10 - 5.0) / 1.1),
            delay=truncnorm(loc=1.2, scale=0.6, a=-1.5, b=math.inf),
            synapse=Synapse("Exp2Syn", weight=0.002, tau1=0.1, tau2=9.0, e=-80.0),
            placement=Placement(sections=("soma", "apic", "dend"), depth=(norm(-100.0, 100.0),)),
        ),
    ),
    extrinsic={
        "E": Extrinsic(
            n_ext=450,
            nu_ext=40.0,  # spikes/s
            synapse=Synapse("Exp2Syn", weight=0.0002, tau1=0.2, tau2=1.8, e=0.0),
        )
    },
    probes=(
        GaussCylinderProbe(
            "lfp",
            z=tuple(np.linspace(1000.0, -200.0, 13).tolist()),
            sigma=0.3,  # S/m
            R=150.0,  # µm, population radius
            sigma_z=75.0,  # µm, soma spread
        ),
        CurrentDipoleProbe("cdm"),
    ),
    kernel=KernelSettings(dt=2**-4, tau=50.0, t_X=500.0, Vrest=Vrest, g_eff=True),
)
