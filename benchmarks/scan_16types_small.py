"""Ten points of benchmarks/scan_16types.py (its leak conductance axis at Ra = 150 Ω·cm):
1,110 kernel tasks, for measuring 1 vs 2 ranks in a few minutes
(benchmarks/scaling.py --scan benchmarks/scan_16types_small.py)."""

import numpy as np

from lfpk_hpc.scan import Scan

scan = Scan(
    params="../params/potjans_16types_reconstructed.py",
    product={"populations[*].cell.g_pas": np.geomspace(2e-5, 2e-4, 10)},
    zip={"populations[*].cell.Ra": [150.0]},
    name="16types_membrane_small",
)
