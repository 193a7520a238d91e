"""The Potjans & Diesmann (2014) microcircuit with the 16 postsynaptic cell types of
Hagen et al. (2016): p23, b23, nb23, p4, ss4(L23), ss4(L4), b4, nb4, p5(L23),
p5(L56), b5, nb5, p6(L4), p6(L56), b6, nb6 — each type receives its share of its
population's synapses in proportion to its size and Binzegger synapse counts.
Same options as params/potjans.py (see src/lfpk_hpc/pd14.py).
"""

from lfpk_hpc import pd14

model = pd14.build(cell_types="16")
