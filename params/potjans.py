"""The Potjans & Diesmann (2014) cortical microcircuit: kernels of all 64 (X, Y) pairs.

Eight populations L23E ... L6I (full-scale sizes, connection probabilities, PSC
weights and delays of Potjans & Diesmann 2014), one passive multicompartment
cell per population in its layer (Hagen et al. 2016 geometry: layer boundaries,
somata at layer midpoints, population radius 564.19 µm), layer-specific synapse
placement from the Binzegger et al. (2004) counts. Probes: the LFP at 16 depths
(0 to -1500 µm), the current dipole moment. See src/lfpk_hpc/pd14.py for every
number and its source.

Options of pd14.build (edit below):
    scale=0.1                   a fraction of the full-scale population sizes
    synapse_count="linear"      C·N_pre·N_post (LFPykernels) instead of PD14's log formula
    rates={"L4E": 5.0}          spikes/s per population (default: PD14 stationary rates)
    thalamus=True               add the thalamic population TC (902 cells)
    morphologies="path/to/dir"  reconstructed morphologies (Hagen et al. 2016) instead of
                                the generated cells
"""

from lfpk_hpc import pd14

model = pd14.build()
