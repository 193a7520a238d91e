import os
import sys

# One BLAS thread per process: under mpirun every core already runs a rank, and the
# matrices here are small (threads only oversubscribe the cores). Set before numpy.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from .cli import main  # noqa: E402

sys.exit(main())
