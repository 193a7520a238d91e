"""The Potjans & Diesmann (2014) microcircuit driven like HNN's evoked-response example.

HNN-core's "Simulate Event Related Potentials" example (hnn-core 0.6.1,
examples/workflows/plot_simulate_evoked.py; after Jones et al. 2007, J Neurosci
27:10751) drives its column with three volleys: a proximal one at 26.61 ms (SD 2.47),
a distal one at 63.53 ms (SD 3.85) and a second proximal one at 137.12 ms (SD 8.33),
one spike per drive neuron, a drive neuron per target cell. Here the same volleys,
times and jitters drive the PD14 network (run it with
``python -m lfpk_hpc evoked params/pd14_evoked.py --trials 10 --out evoked/``).

What is HNN's and what is ours:

- the times mu and jitters sigma (ms), one spike per drive neuron, the proximal and
  distal locations and which cell classes each volley reaches (HNN: proximal onto
  the L2/3 and L5 pyramids and basket cells, distal onto the L2/3 pyramids and basket
  cells and the L5 pyramids) are HNN's; the proximal volleys also reach L4, PD14's
  layer of thalamic input, which HNN's two-layer column does not have;
- the weights are ours: PD14's synapses are current-based, HNN's AMPA/NMDA
  conductances do not translate, so each target gets PSCs in units of PD14's
  excitatory PSC (87.81 pA, a 0.15 mV PSP), chosen so that every volley makes the
  targets fire without making the network run away;
- the drive neurons: HNN's default gives every target cell a drive cell of its own (one
  spike at its own time per trial); here each drive has 100 drive neurons with
  independent times, and every target neuron receives one synapse from each of them
  (HNN's all-to-all connection of drive cells, ``cell_specific=False``), so 100 jittered
  PSCs per volley; HNN's ``sync_within_trial`` is ``sync_within_trial=True`` here;
- the delays are HNN's (0.1 ms onto L2/3 and the distal targets, 1 ms onto L5) where
  it has them, 1 ms onto L4.

Units: ms, nA. See lfpk_hpc/drives.py and pd14.drive_placement for what proximal and
distal mean on PD14's cells and layers.
"""

from lfpk_hpc import pd14
from lfpk_hpc.params import DriveTarget, EvokedDrive, MEGProbe

#: PD14's excitatory PSC amplitude (nA): 0.15 mV PSP × 585.39 pA/mV
W = pd14.weight("L4E", "L4E")
N_DRIVE = 100  # drive neurons per drive

drives = [
    EvokedDrive(
        "evprox1",
        mu=26.61,
        sigma=2.47,
        numspikes=1,
        n_cells=N_DRIVE,
        location="proximal",
        targets={
            "L23E": DriveTarget(0.4 * W, delay=0.1),
            "L23I": DriveTarget(0.8 * W, delay=0.1),
            "L4E": DriveTarget(0.6 * W, delay=1.0),
            "L4I": DriveTarget(0.8 * W, delay=1.0),
            "L5E": DriveTarget(0.4 * W, delay=1.0),
            "L5I": DriveTarget(0.8 * W, delay=1.0),
        },
    ),
    EvokedDrive(
        "evdist1",
        mu=63.53,
        sigma=3.85,
        numspikes=1,
        n_cells=N_DRIVE,
        location="distal",
        targets={
            "L23E": DriveTarget(0.6 * W, delay=0.1),
            "L23I": DriveTarget(0.6 * W, delay=0.1),
            "L5E": DriveTarget(0.8 * W, delay=0.1),
        },
    ),
    EvokedDrive(
        "evprox2",
        mu=137.12,
        sigma=8.33,
        numspikes=1,
        n_cells=N_DRIVE,
        location="proximal",
        targets={
            "L23E": DriveTarget(1.6 * W, delay=0.1),
            "L4E": DriveTarget(0.6 * W, delay=1.0),
            "L5E": DriveTarget(1.6 * W, delay=1.0),
            "L5I": DriveTarget(0.2 * W, delay=1.0),
        },
    ),
]

model = pd14.build(
    drives=drives,
    dt=0.1,  # ms: the trials run in NEST at the kernels' dt
    name="pd14_evoked",
    # the LFP, dipole and EEG of params/potjans.py, the CSD about the LFP contacts, and
    # the MEG of a column in the wall of a sulcus (tangential; a radial column has no
    # field outside a spherical head)
    probe_specs=pd14.probes() + (pd14.csd_probe(), MEGProbe("meg")),
)
