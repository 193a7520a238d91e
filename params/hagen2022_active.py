"""The E/I network of params/hagen2022.py with active cells: a user's NEURON model.

The network (sizes, connection probabilities, synapses, delays, multapses, placements,
extrinsic input, probes) is that of params/hagen2022.py (Hagen et al. 2022, PLOS
Comput Biol 18(8): e1010353). The cells are its ball-and-sticks with an axon initial
segment and active channels, written as a user would bring a model of their own: a
morphology (lfpk_hpc's generated Sections) plus a biophysics function (LFPy's
``custom_fun``) and a folder of NMODL files (params/active/mod: a transient sodium,
a delayed-rectifier potassium and an h-type current, lfpk_hpc's own kinetics):

- soma and axon initial segment (30 µm, diameter 1 µm): sodium and potassium, ten
  times denser in the initial segment, where spikes start;
- basal and apical dendrites: the h-type current (apical 4 times denser);
- every section: Ra 100 Ω·cm, cm 1 µF/cm², a leak of 5e-5 S/cm² reversing at −70 mV.

The kernels use the ``frozen`` linearisation (every active conductance held at its
value at rest); ``validate`` holds the cells at the median somatic potential of its
ground truth, which simulates these same active cells. Both populations fire, so
each has an action-potential kernel.

Units: µm, ms, mV, µS, S/cm², spikes/s, S/m.
"""

import dataclasses
import runpy
from pathlib import Path

from lfpk_hpc.params import CellModel, Section

base = runpy.run_path(str(Path(__file__).with_name("hagen2022.py")))


def with_initial_segment(sections):
    """The ball-and-sticks of params/hagen2022.py plus an axon initial segment of 30 µm
    (diameter 1 µm) leaving the soma's 0-end sideways and down."""
    return tuple(sections) + (
        Section("axon", start=(0, 0, -15), end=(20, 0, -37.4), diam=1.0, parent="soma", parent_x=0),
    )


#: channel densities (S/cm²) per population: soma sodium, potassium, dendritic h
#: (the sodium chosen so that the ground truth at scale 0.1 fires at about E 9, I 15
#: spikes/s, near params/hagen2022.py's hh somata: 0.058 gave E 16, 0.055 E 3)
DENSITIES = {
    "E": {"na": 0.052, "kdr": 0.02, "ih": 2e-5},
    "I": {"na": 0.045, "kdr": 0.02, "ih": 0.0},
}


def biophysics(cell, na, kdr, ih):
    """Insert and set the mechanisms of every section (LFPy's custom_fun)."""
    for sec in cell.allseclist:
        name = sec.name()
        sec.Ra = 100.0
        sec.cm = 1.0
        sec.insert("pas")
        sec.g_pas = 5e-5
        sec.e_pas = -70.0
        if "soma" in name or "axon" in name:
            scale = 10.0 if "axon" in name else 1.0
            sec.insert("lfpk_ex_na")
            sec.insert("lfpk_ex_kdr")
            sec.gbar_lfpk_ex_na = na * scale
            sec.gbar_lfpk_ex_kdr = kdr * scale
            sec.ena = 50.0
            sec.ek = -85.0
        elif ih > 0:
            sec.insert("lfpk_ex_ih")
            sec.gbar_lfpk_ex_ih = ih * (4.0 if "apic" in name else 1.0)


def active_cell(Y, morphology):
    return CellModel(
        morphology=with_initial_segment(morphology),
        biophysics=biophysics,
        biophysics_args=DENSITIES[Y],
        mechanisms="active/mod",
        linearisation="frozen",
    )


model = base["model"]
model = dataclasses.replace(
    model,
    name="hagen2022_active",
    populations=tuple(
        dataclasses.replace(p, cell=active_cell(p.name, p.cell.morphology)) if p.cell else p
        for p in model.populations
    ),
    kernel=dataclasses.replace(model.kernel, Vrest={"E": "cell", "I": "cell"}),
)
