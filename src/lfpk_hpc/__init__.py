"""lfpk_hpc: MPI-parallel linearized spike-signal kernels (Hagen et al. 2022).

Kernels H_YX(r, tau) map the spikes of a presynaptic population X onto the
signals (LFP, current dipole moment, ...) of a postsynaptic population Y; the
signal of a network is sum_X sum_Y (nu_X * H_YX).
"""

import os as _os

# NEURON otherwise prints a warning about a missing display on every import.
_os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")

__version__ = "0.1.0"
