"""The Potjans & Diesmann (2014) microcircuit with the 16 postsynaptic cell types of
Hagen et al. (2016), each a reconstructed morphology of that study (shipped with
lfpk_hpc: src/lfpk_hpc/data/morphologies/hagen2016, GPL-3.0, from hybridLFPy; 230 to
1078 segments per cell). The hybrid ground truth of this model is Hagen et al.'s own
LFP model of the microcircuit. Same options as params/potjans.py (see
src/lfpk_hpc/pd14.py).
"""

from lfpk_hpc import pd14

model = pd14.build(cell_types="16", morphologies="hagen2016")
