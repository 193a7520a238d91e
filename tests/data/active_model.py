"""A small model whose postsynaptic population P is the test suite's own active cell
(tests/data/active_cell: a template with a sodium and a potassium current in the soma
and the axon initial segment and an h-type current in the dendrites, and its mod
files), as a user's NEURON model; presynaptic E and I (no cells). The kernels are
linearised at the cell's own rest (frozen), the synapses at its resting potential per
segment. Tests change the linearisation with dataclasses.replace.

Units: µm, ms, mV, µS, spikes/s, S/m.
"""

import math

from lfpk_hpc.params import (
    CellModel,
    Connection,
    CurrentDipoleProbe,
    GaussCylinderProbe,
    Geometry,
    KernelSettings,
    Model,
    Placement,
    Population,
    Synapse,
    Template,
    norm,
    truncnorm,
)

#: the h-type current's density in the apical dendrite (S/cm²), the template's argument
GBAR_IH_APIC = 1e-4


def biophysics(cell, gbar_ih_apic=GBAR_IH_APIC, active=True, e_pas=-70.0):
    """The mechanisms of cell.hoc's LfpktCell, set from Python (LFPy's custom_fun):
    the same cell through a morphology file and a biophysics function. ``active``
    False: the leak only; ``e_pas`` (mV): the leak's reversal (at -45 mV the cell
    fires by itself)."""
    for sec in cell.allseclist:
        sec.Ra = 100.0
        sec.cm = 1.0
        sec.insert("pas")
        sec.g_pas = 5e-5
        sec.e_pas = e_pas
        name = sec.name()
        if not active:
            continue
        if "soma" in name or "axon" in name:
            sec.insert("lfpkt_na")
            sec.insert("lfpkt_kdr")
            sec.gbar_lfpkt_na = 0.05 if "soma" in name else 0.3
            sec.gbar_lfpkt_kdr = 0.02 if "soma" in name else 0.05
            sec.ena = 50.0
            sec.ek = -85.0
        else:
            sec.insert("lfpkt_ih")
            sec.gbar_lfpkt_ih = gbar_ih_apic if "apic" in name else 2e-5


cell = CellModel(
    morphology=None,
    template=Template("active_cell/cell.hoc", "LfpktCell", (GBAR_IH_APIC,)),
    mechanisms="active_cell/mod",
    linearisation="frozen",
)

#: the same cell through a morphology file and the biophysics function above
cell_biophysics = CellModel(
    morphology="active_cell/morphology.hoc",
    biophysics=biophysics,
    biophysics_args={"gbar_ih_apic": GBAR_IH_APIC},
    mechanisms="active_cell/mod",
    linearisation="frozen",
)

model = Model(
    name="active_model",
    populations=(
        Population(
            "P", N=1000, nu=2.0, cell=cell, geometry=Geometry(radius=150.0, loc=-800.0, scale=50.0)
        ),
        Population("E", N=2000, nu=2.5),
        Population("I", N=500, nu=5.0),
    ),
    connections=(
        Connection(
            "E",
            "P",
            C=0.05,
            multapses=truncnorm(loc=2.0, scale=0.6, a=(1 - 2.0) / 0.6, b=(10 - 2.0) / 0.6),
            delay=truncnorm(loc=1.5, scale=0.3, a=-4.0, b=math.inf),
            synapse=Synapse("Exp2Syn", weight=1.5e-4, tau1=0.2, tau2=1.8, e=0.0),
            placement=Placement(("apic", "dend"), depth=(norm(-500.0, 150.0),)),
        ),
        Connection(
            "I",
            "P",
            C=0.1,
            multapses=truncnorm(loc=5.0, scale=1.1, a=(1 - 5.0) / 1.1, b=(10 - 5.0) / 1.1),
            delay=truncnorm(loc=1.2, scale=0.4, a=-2.25, b=math.inf),
            synapse=Synapse("Exp2Syn", weight=2e-3, tau1=0.1, tau2=9.0, e=-80.0),
            placement=Placement(("soma", "dend", "apic"), depth=(norm(-800.0, 100.0),)),
        ),
    ),
    probes=(
        GaussCylinderProbe(
            "lfp", z=tuple(float(z) for z in range(0, -1401, -100)), R=150.0, sigma_z=50.0
        ),
        CurrentDipoleProbe("cdm"),
    ),
    kernel=KernelSettings(dt=2**-4, tau=50.0, t_X=500.0, Vrest={"P": "cell"}, g_eff=False),
)
