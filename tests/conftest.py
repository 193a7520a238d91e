import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
README_PARAMS = ROOT / "params" / "lfpykernels_readme.py"


def shared_path(*parts) -> Path:
    """A file under ../shared (present on developer machines and in CI, not in a
    user's clone); skips the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/ exists only beside the development checkout)")
    return path


def rel_diff(a, ref) -> float:
    """max |a - ref| / max |ref| (the accuracy measure of the kernel tests)."""
    a, ref = np.asarray(a), np.asarray(ref)
    assert a.shape == ref.shape, (a.shape, ref.shape)
    return float(np.abs(a - ref).max() / np.abs(ref).max())


@pytest.fixture(scope="session")
def lfpykernels_reference(tmp_path_factory):
    """Kernels computed by LFPykernels 0.2.0 in a separate process with its own
    Exp2SynI mechanism and morphology files (tests/lfpykernels_reference.py)."""
    pytest.importorskip("lfpykernels")
    out = tmp_path_factory.mktemp("reference") / "reference.npz"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "lfpykernels_reference.py"),
            str(out),
            "readme",
            "current",
            "vrest_seg",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(np.load(out))


@pytest.fixture(scope="session")
def readme_model():
    from lfpk_hpc import params

    return params.load(README_PARAMS)
