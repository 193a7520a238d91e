"""
Placeholder
===========

Temporary.
"""

import lfpk_hpc

assert lfpk_hpc.__version__
