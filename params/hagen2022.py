"""Two-population E/I network of Hagen et al. (2022), PLOS Comput Biol 18(8): e1010353.

The network of the paper's ground-truth simulations (LFPykernels
examples/Hagen_et_al_2022_PLOS_Comput_Biol/example_network_parameters.py and
shared/reference/DOMAIN.md section C): 8192 E and 1024 I ball-and-sticks cells,
C = 0.05 for all four pathways, conductance-based Exp2Syn synapses with
pathway-specific weights, delays, multapses and placements, extrinsic Exp2Syn input.

Units: µm, ms, mV, µS, spikes/s, S/m.

Passive membrane: g_pas 5e-5 S/cm² (e_pas = Vrest), with which the ground truth of
`python -m lfpk_hpc validate` (hh somata, passive dendrites) fires at about E 6,
I 17 spikes/s at scale 0.1 (shared/NOTES.md; with 3e-4 S/cm² the E cells hardly
fire). The rates nu below are those measured rates, used for g_eff; `validate`
replaces them, and Vrest, with the values of its own ground-truth run.
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


def ball_and_sticks(soma_diam, apic_length, apic_diam):
    """Soma from z = −15 to 15 µm, a 200 µm basal stick (diameter 2 µm) at its 0-end
    and an apical stick of ``apic_length`` µm at its 1-end."""
    return (
        Section("soma", start=(0, 0, -15), end=(0, 0, 15), diam=soma_diam),
        Section("dend", start=(0, 0, -15), end=(0, 0, -215), diam=2, parent="soma", parent_x=0),
        Section(
            "apic",
            start=(0, 0, 15),
            end=(0, 0, 15 + apic_length),
            diam=apic_diam,
            parent="soma",
            parent_x=1,
        ),
    )


def passive_cell(morphology):
    return CellModel(morphology=morphology, Ra=100.0, cm=1.0, g_pas=5e-5, e_pas=None)


geometry = Geometry(radius=150.0, loc=0.0, scale=75.0)  # µm

E_syn = dict(tau1=0.2, tau2=1.8, e=0.0)  # ms, ms, mV
I_syn = dict(tau1=0.1, tau2=9.0, e=-80.0)


def delay(mean, sd):
    """Truncated normal delay (ms) with lower bound 0.3 ms."""
    return truncnorm(loc=mean, scale=sd, a=(0.3 - mean) / sd, b=math.inf)


def multapses(mean, sd):
    """Synapses per connection: truncated normal on [1, 10]."""
    return truncnorm(loc=mean, scale=sd, a=(1 - mean) / sd, b=(10 - mean) / sd)


model = Model(
    name="hagen2022",
    populations=(
        Population(
            "E", N=8192, nu=5.8, cell=passive_cell(ball_and_sticks(30, 1000, 3)), geometry=geometry
        ),
        Population(
            "I", N=1024, nu=16.8, cell=passive_cell(ball_and_sticks(15, 200, 2)), geometry=geometry
        ),
    ),
    connections=(
        Connection(
            "E",
            "E",
            C=0.05,
            multapses=multapses(2.0, 0.4),
            delay=delay(1.5, 0.3),
            synapse=Synapse("Exp2Syn", weight=1.5e-4, **E_syn),
            placement=Placement(
                ("apic", "dend"), depth=(norm(0.0, 100.0), norm(500.0, 100.0)), weights=(0.5, 1.0)
            ),
        ),
        Connection(
            "E",
            "I",
            C=0.05,
            multapses=multapses(2.0, 0.6),
            delay=delay(1.4, 0.4),
            synapse=Synapse("Exp2Syn", weight=1.25e-4, **E_syn),
            placement=Placement(("apic", "dend"), depth=(norm(50.0, 100.0),)),
        ),
        Connection(
            "I",
            "E",
            C=0.05,
            multapses=multapses(5.0, 0.9),
            delay=delay(1.3, 0.5),
            synapse=Synapse("Exp2Syn", weight=4.5e-3, **I_syn),
            placement=Placement(("soma", "apic", "dend"), depth=(norm(-50.0, 100.0),)),
        ),
        Connection(
            "I",
            "I",
            C=0.05,
            multapses=multapses(5.0, 1.1),
            delay=delay(1.2, 0.6),
            synapse=Synapse("Exp2Syn", weight=2e-3, **I_syn),
            placement=Placement(("soma", "apic", "dend"), depth=(norm(-100.0, 100.0),)),
        ),
    ),
    extrinsic={
        "E": Extrinsic(n_ext=465, nu_ext=40.0, synapse=Synapse("Exp2Syn", weight=2e-4, **E_syn)),
        "I": Extrinsic(n_ext=160, nu_ext=40.0, synapse=Synapse("Exp2Syn", weight=2e-4, **E_syn)),
    },
    probes=(
        GaussCylinderProbe(
            "lfp",
            z=tuple(np.linspace(1000.0, -200.0, 13).tolist()),
            sigma=0.3,
            R=geometry.radius,
            sigma_z=geometry.scale,
        ),
        CurrentDipoleProbe("cdm"),
    ),
    kernel=KernelSettings(dt=2**-4, tau=100.0, t_X=200.0, Vrest=-65.0, g_eff=True),
)
