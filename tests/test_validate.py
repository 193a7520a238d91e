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
    # the diagnoses: the same metrics with the extrinsic events, with the action potentials
    for key in ("with_extrinsic", "with_action_potentials"):
        for probe in ("lfp", "cdm"):
            m = metrics[key][probe]
            assert np.isfinite(m["r2_median_lowpass"]) and 0 <= m["r2_median"] <= 1, key
    # extrinsic events: as many as n_ext Poisson trains at nu_ext per cell (5 SD), and
    # the prediction with them = the prediction + their kernels convolved with them
    info = json.loads((val / "groundtruth" / "vrest.json").read_text())
    with h5py.File(val / "groundtruth" / "extrinsic.h5", "r") as f:
        counts = {Y: f[f"counts/{Y}"][...] for Y in f["counts"]}
    for Y, n_ext in (("E", 465), ("I", 160)):
        expected = info["N"][Y] * n_ext * 40.0 * 0.3
        assert abs(counts[Y].sum() - expected) < 5 * np.sqrt(expected)
    with (
        h5py.File(val / "prediction.h5", "r") as a,
        h5py.File(val / "prediction_extrinsic.h5", "r") as b,
        h5py.File(val / "kernels.h5", "r") as k,
    ):
        added = b["signals/cdm"][2] - a["signals/cdm"][2]
        ref = sum(np.convolve(counts[Y], k[f"kernels/cdm/{Y}/{Y}_ext"][2], "same") for Y in counts)
        np.testing.assert_allclose(added, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
    # action potentials: the prediction + each population's spike counts convolved with
    # the signal of one spike, which for the dipole is a positive peak within 3 ms
    with (
        h5py.File(val / "prediction.h5", "r") as a,
        h5py.File(val / "prediction_aps.h5", "r") as b,
        h5py.File(val / "groundtruth" / "spikes.h5", "r") as s,
    ):
        ref = 0.0
        for Y in ("E", "I"):
            H = b[f"action_potential_kernels/cdm/{Y}"][2]
            n_tau = (H.size - 1) // 2
            assert not H[: n_tau - int(round(3 / 2**-4))].any()  # nothing 3 ms before
            n_bins = a["signals/cdm"].shape[1]
            bins = np.floor(s[Y]["times"][...] / 2**-4).astype(int)
            counts_y = np.bincount(bins[bins < n_bins], minlength=n_bins)
            ref = ref + np.convolve(counts_y, H, "same")
        H_e = b["action_potential_kernels/cdm/E"][2]
        assert 0 <= np.argmax(H_e) - n_tau < int(round(3 / 2**-4)) and H_e.max() > 0
        np.testing.assert_allclose(
            b["signals/cdm"][2] - a["signals/cdm"][2], ref, atol=1e-9 * np.abs(ref).max()
        )
    html = (val / "report.html").read_text()
    assert "+ action potentials" in html and "+ extrinsic events" in html
    assert "speed-up of the kernel route" in html and "data:image/png;base64," in html
    # the kernels were linearised around the ground truth's median somatic potentials
    vrest = json.loads((val / "groundtruth" / "vrest.json").read_text())["vrest"]
    with h5py.File(val / "kernels.h5", "r") as f:
        params = json.loads(f.attrs["params_json"])
    assert params["kernel"]["Vrest"] == pytest.approx(vrest)
    # the README names every file validate writes
    readme = (ROOT / "README.md").read_text()
    for path in [*val.iterdir(), *(val / "groundtruth").iterdir()]:
        name = path.name.replace("_lfp.", "_<probe>.").replace("_cdm.", "_<probe>.")
        assert f"`{name}`" in readme or f"`{name}/`" in readme, path.name
    # the report in a real browser (where there is one: test_figures.py says when not):
    # every figure loads
    import shutil

    from conftest import render_in_browser

    if shutil.which("chromium"):
        state, _ = render_in_browser(val / "report.html", tmp_path)
        assert len(state["images"]) == 6 and all(i["loaded"] for i in state["images"]), state


@pytest.mark.parametrize("soma", ["mean", "quasi-active"])
def test_soma_stand_ins(tmp_path, soma):
    """--soma mean: the kernels' soma leak is the ground truth's time-averaged hh
    conductance; --soma quasi-active: hh's conductance and gates at the median
    potential. (One process, no mpirun.)"""
    from conftest import lfpk

    from lfpk_hpc.groundtruth import soma_conductance, soma_gates

    cmd = lfpk(
        "validate",
        ROOT / "params" / "hagen2022.py",
        "--out",
        "val",
        "--scale",
        "0.01",
        "--tstop",
        "150",
        "--transient",
        "50",
        "--soma",
        soma,
    )
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    info = json.loads((tmp_path / "val" / "groundtruth" / "vrest.json").read_text())
    with h5py.File(tmp_path / "val" / "kernels.h5", "r") as f:
        params = json.loads(f.attrs["params_json"])
    cells = {p["name"]: p["cell"] for p in params["populations"] if p["cell"]}
    for Y, cell in cells.items():
        if soma == "mean":
            assert cell["soma_g_pas"] == pytest.approx(info["soma_conductance"][Y], rel=1e-12)
            assert cell["soma_gates"] is None
        else:
            v = info["vrest"][Y]
            assert cell["soma_g_pas"] == pytest.approx(soma_conductance(v), rel=1e-12)
            np.testing.assert_allclose(cell["soma_gates"], soma_gates(v), rtol=1e-12)
    html = (tmp_path / "val" / "report.html").read_text()
    assert f"{soma}: " in html
