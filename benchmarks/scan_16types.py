"""A 100-point scan of the 16-type microcircuit with the reconstructed cells of Hagen
et al. (2016): the passive membrane of every cell type, its leak conductance g_pas
(10 values, 2e-5 … 2e-4 S/cm²) × its axial resistance Ra (10 values, 70 … 250 Ω·cm).
Every point changes every cell, so all 100 × 111 = 11,100 kernel tasks are distinct
(benchmarks/scaling.py --scan; plan --scan)."""

import numpy as np

from lfpk_hpc.scan import Scan

scan = Scan(
    params="../params/potjans_16types_reconstructed.py",
    product={
        "populations[*].cell.g_pas": np.geomspace(2e-5, 2e-4, 10),
        "populations[*].cell.Ra": np.linspace(70.0, 250.0, 10),
    },
    name="16types_membrane",
)
