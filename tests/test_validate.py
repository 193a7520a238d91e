"""validate end to end: a tiny ground truth under mpirun -n 2, kernels, prediction, report.

Agreement bounds of the tiny network (scale 0.02: 164 E and 20 I cells, 300 ms, seed
1234). Measured (low-passed in brackets): LFP median r 0.50 (0.56), R² 0.25 (0.31),
r_STD 0.40 (0.47); dipole r 0.57 (0.61), R² 0.32 (0.37), r_STD 0.60 (0.64). Seeds 1-3
gave LFP R² 0.30-0.35, dipole R² 0.46-0.56, r_STD 0.40-0.63: the bounds below hold
those with a margin. What they catch, measured by removing parts of the
prediction: a sign flip (r < 0); no I population (presynaptic: LFP r_STD 0.03, R²
0.04; dipole R² 0.11); no E cells' signal (r_STD 0.006); no I cells' signal (the
I contribution's r, undefined). At this scale the E population's synapses carry
little of the signal (without them LFP R² 0.20), less than seeds differ; the slow
README test (tests/test_readme_numbers.py) catches that (LFP R² 0.955 -> 0.908).
"""

import json
import subprocess

import h5py
import numpy as np
import pytest
from conftest import ROOT, mpi_env, mpirun_command

pytestmark = pytest.mark.mpi

#: bounds of the tiny network's medians over channels (module docstring)
AGREEMENT = {
    "lfp": {
        "r_median": (0.35, 1.0),
        "r_median_lowpass": (0.4, 1.0),
        "r2_median": (0.15, 0.5),
        "r2_median_lowpass": (0.2, 0.6),
        "rstd_median": (0.25, 0.7),
        "rstd_median_lowpass": (0.3, 0.75),
    },
    "cdm": {
        "r_median": (0.4, 1.0),
        "r_median_lowpass": (0.45, 1.0),
        "r2_median": (0.2, 0.7),
        "r2_median_lowpass": (0.25, 0.75),
        "rstd_median": (0.35, 0.9),
        "rstd_median_lowpass": (0.4, 0.9),
    },
}


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
        assert len(m["r2"]) == n and len(m["rstd"]) == n and len(m["r"]) == n
        for key in ("r2_median", "r2_median_lowpass", "rstd_median"):
            assert m[key] is not None and np.isfinite(m[key])
        assert 0 <= m["r2_median"] <= 1
    # the agreement of the tiny network (see the module docstring)
    for probe, bounds in AGREEMENT.items():
        m = metrics[probe]
        assert m["passed"] and not m["failures"], m["failures"]
        for key, (lo, hi) in bounds.items():
            assert lo <= m[key] <= hi, (probe, key, m[key], (lo, hi))
    # each postsynaptic population's predicted signal agrees with its own in the
    # ground truth (signals.h5 keeps them apart), also I's, which is too small to
    # move the total
    from lfpk_hpc.validate import channel_metrics

    n0 = int(round(100 / 2**-4))
    with (
        h5py.File(val / "groundtruth" / "signals.h5", "r") as t,
        h5py.File(val / "prediction.h5", "r") as p,
    ):
        for probe in ("lfp", "cdm"):
            for Y in ("E", "I"):
                rows = slice(None) if probe == "lfp" else slice(2, 3)
                truth = t[f"contributions/{probe}/{Y}"][rows, n0:4800]
                pred = p[f"contributions/{probe}/{Y}"][rows, n0:4800]
                r = np.median(channel_metrics(pred, truth, 2**-4)["r"])
                assert r > 0.2, (probe, Y, r)  # measured 0.37-0.56
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
    # the signal of one spike (the kernels file's action-potential kernels), which for
    # the dipole is a positive peak within 3 ms
    with (
        h5py.File(val / "prediction.h5", "r") as a,
        h5py.File(val / "prediction_aps.h5", "r") as b,
        h5py.File(val / "kernels.h5", "r") as k,
        h5py.File(val / "groundtruth" / "spikes.h5", "r") as s,
    ):
        ref = 0.0
        assert not a.attrs["action_potentials"] and b.attrs["action_potentials"]
        for Y in ("E", "I"):
            H = k[f"ap_kernels/cdm/{Y}"][2]
            n_tau = (H.size - 1) // 2
            assert not H[: n_tau - int(round(3 / 2**-4))].any()  # nothing 3 ms before
            n_bins = a["signals/cdm"].shape[1]
            bins = np.floor(s[Y]["times"][...] / 2**-4).astype(int)
            counts_y = np.bincount(bins[bins < n_bins], minlength=n_bins)
            ref = ref + np.convolve(counts_y, H, "same")
        H_e = k["ap_kernels/cdm/E"][2]
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
    # the user guide (docs/guide/validation.md; the README's until the guide took over
    # its reference material) names every file validate writes
    readme = (ROOT / "docs" / "guide" / "validation.md").read_text(encoding="utf-8")
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
