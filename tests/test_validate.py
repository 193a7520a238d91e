"""validate end to end: a tiny ground truth under mpirun -n 2, kernels, prediction, report."""

import json
import subprocess

import h5py
import numpy as np
import pytest
from conftest import ROOT, mpi_env, mpirun_command

pytestmark = pytest.mark.mpi


def test_tiny_network_end_to_end(tmp_path):
    cmd = mpirun_command(
        2,
        "validate",
        ROOT / "params" / "hagen2022.py",
        "--out",
        "val",
        "--scale",
        "0.02",
        "--tstop",
        "300",
        "--transient",
        "100",
    )
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=mpi_env(), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    val = tmp_path / "val"
    metrics = json.loads((val / "metrics.json").read_text())
    for probe, n in (("lfp", 13), ("cdm", 1)):
        m = metrics[probe]
        assert len(m["r2"]) == n and len(m["rstd"]) == n
        for key in ("r2_median", "r2_median_lowpass", "rstd_median"):
            assert m[key] is not None and np.isfinite(m[key])
        assert 0 <= m["r2_median"] <= 1
    html = (val / "report.html").read_text()
    assert "speed-up of the kernel route" in html and "data:image/png;base64," in html
    # the kernels were linearised around the ground truth's median somatic potentials
    vrest = json.loads((val / "groundtruth" / "vrest.json").read_text())["vrest"]
    with h5py.File(val / "kernels.h5", "r") as f:
        params = json.loads(f.attrs["params_json"])
    assert params["kernel"]["Vrest"] == pytest.approx(vrest)
