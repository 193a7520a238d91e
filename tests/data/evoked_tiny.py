"""A small evoked run for the tests: PD14 with two drives and short kernels.

``ev``: 20 drive neurons, two spikes each at exactly 10 ms (sigma 0) onto L5E only;
``ev2``: 10 drive neurons sharing one jittered time per trial (sync_within_trial),
distal, onto L23E and L5E. Kernels of tau = 20 ms at NEST's dt 0.1 ms; probes: the
dipole, the EEG, a MEG of two sensors and a CSD of four cylinders.
"""

from lfpk_hpc import pd14
from lfpk_hpc.params import (
    CurrentDipoleProbe,
    DriveTarget,
    EvokedDrive,
    FourSphereEEGProbe,
    LaminarCSDProbe,
    MEGProbe,
)

W = pd14.weight("L4E", "L4E")  # nA

drives = [
    EvokedDrive(
        "ev",
        mu=10.0,
        sigma=0.0,
        numspikes=2,
        n_cells=20,
        location="proximal",
        targets={"L5E": DriveTarget(0.5 * W, delay=1.0)},
    ),
    EvokedDrive(
        "ev2",
        mu=30.0,
        sigma=3.0,
        numspikes=1,
        n_cells=10,
        location="distal",
        sync_within_trial=True,
        targets={"L23E": DriveTarget(W, delay=0.1, indegree=5), "L5E": DriveTarget(W, delay=0.5)},
    ),
]

model = pd14.build(
    drives=drives,
    dt=0.1,
    tau=20.0,
    name="evoked_tiny",
    probe_specs=(
        CurrentDipoleProbe("cdm"),
        FourSphereEEGProbe("eeg"),
        MEGProbe("meg", sensors=((0.0, 17364.8, 98480.8), (0.0, -17364.8, 98480.8))),
        LaminarCSDProbe("csd", z=(-300.0, -700.0, -1100.0, -1500.0), h=400.0),
    ),
)
