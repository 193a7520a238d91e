"""Validation metrics on hand-made signals with known answers; the compare command."""

import json
import subprocess

import h5py
import numpy as np
import pytest
from conftest import lfpk

from lfpk_hpc.validate import channel_metrics, compare, lowpass, summary

DT = 2**-4  # ms


def noise(seed, shape):
    return np.random.default_rng(seed).normal(size=shape)


def test_identical_scaled_and_independent_signals():
    truth = noise(1, (4, 20000))
    m = channel_metrics(truth, truth, DT)
    np.testing.assert_allclose(m["r2"], 1.0, atol=1e-12)
    np.testing.assert_allclose(m["rstd"], 1.0, atol=1e-12)
    np.testing.assert_allclose(m["r2_lowpass"], 1.0, atol=1e-12)
    scaled = channel_metrics(-2.5 * truth + 3.0, truth, DT)  # sign and offset do not matter
    np.testing.assert_allclose(scaled["r2"], 1.0, atol=1e-12)
    np.testing.assert_allclose(scaled["rstd"], 2.5, atol=1e-12)
    np.testing.assert_allclose(scaled["rstd_lowpass"], 2.5, atol=1e-9)
    indep = channel_metrics(noise(2, truth.shape), truth, DT)
    # R² of independent white noise ~ 1/n: far below 0.01 for 20000 samples
    assert np.all(indep["r2"] < 0.01)
    assert np.all(np.abs(indep["rstd"] - 1) < 0.05)
    # coherence: 1 for identical signals
    assert np.allclose(m["coherence"][:, 1:], 1.0, atol=1e-9)


def test_partial_correlation_matches_the_construction():
    # truth = a + b with independent, equal-variance a, b: a prediction equal to a has R² 1/2
    a, b = noise(3, (1, 200000)), noise(4, (1, 200000))
    m = channel_metrics(a, a + b, DT)
    assert m["r2"][0] == pytest.approx(0.5, abs=0.01)
    assert m["rstd"][0] == pytest.approx(1 / np.sqrt(2), abs=0.01)


def test_lowpass_removes_high_frequencies():
    t = np.arange(32000) * DT  # ms
    slow, fast = np.sin(2 * np.pi * 10 * t / 1000), np.sin(2 * np.pi * 1000 * t / 1000)
    y = lowpass(slow + fast, DT)
    mid = slice(4000, -4000)
    # 10 Hz passes (within the 2 x 0.1 dB pass-band ripple), 1 kHz is gone
    assert np.abs(y[mid] - slow[mid]).max() < 0.03


def test_summary_quantiles():
    s = summary([1, 2, 3, 4, 5, np.nan])
    assert s["median"] == 3 and s["q10"] == pytest.approx(1.4) and s["q90"] == pytest.approx(4.6)
    assert summary([np.nan])["median"] is None


def _signals(path, data, dt=DT, t_start=0.0):
    """A signals file; ``dt`` (ms) for all probes or a dict per probe."""
    with h5py.File(path, "w") as f:
        for p, d in data.items():
            ds = f.create_dataset(f"signals/{p}", data=d)
            ds.attrs["dt"] = dt[p] if isinstance(dt, dict) else dt
            ds.attrs["t_start"] = t_start
            ds.attrs["units"] = "mV" if p == "lfp" else "nA*um"


def test_compare_aligns_time_and_resolution(tmp_path):
    lfp = noise(5, (3, 16000))
    cdm = noise(6, (3, 16000))
    _signals(tmp_path / "truth.h5", {"lfp": lfp, "cdm": cdm})
    # the prediction at 4x coarser dt (bin means) and starting 100 ms later
    k, shift = 4, int(100 / DT)
    coarse = lfp[:, shift:].reshape(3, -1, k).mean(axis=-1)
    _signals(
        tmp_path / "pred.h5",
        {"lfp": 2 * coarse, "cdm": cdm[:, shift:]},
        dt={"lfp": k * DT, "cdm": DT},
        t_start=100.0,
    )
    m = compare(tmp_path / "truth.h5", tmp_path / "pred.h5", transient=150.0)
    np.testing.assert_allclose(m["lfp"]["r2"], 1.0, atol=1e-12)
    np.testing.assert_allclose(m["lfp"]["rstd"], 2.0, atol=1e-12)
    assert m["lfp"]["dt"] == 4 * DT
    assert m["cdm"]["r2_median"] == pytest.approx(1.0) and len(m["cdm"]["r2"]) == 1  # z only


def test_compare_command_writes_metrics_and_report(tmp_path):
    truth = noise(7, (4, 12000))
    _signals(tmp_path / "truth.h5", {"lfp": truth, "cdm": noise(8, (3, 12000))})
    _signals(
        tmp_path / "pred.h5",
        {"lfp": truth + 0.5 * noise(9, truth.shape), "cdm": noise(10, (3, 12000))},
    )
    proc = subprocess.run(
        lfpk("compare", "truth.h5", "pred.h5", "--out", "val"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "val" / "metrics.json").read_text())
    for key in ("r2", "r2_median", "r2_lowpass", "r2_median_lowpass", "rstd", "rstd_median"):
        assert key in metrics["lfp"] and key in metrics["cdm"]
    assert len(metrics["lfp"]["r2"]) == 4
    assert metrics["lfp"]["r2_median"] == pytest.approx(0.8, abs=0.02)  # 1 / (1 + 0.25)
    html = (tmp_path / "val" / "report.html").read_text()
    assert "<table>" in html and "data:image/png;base64," in html
    bad = subprocess.run(
        lfpk("compare", "truth.h5", "missing.h5", "--out", "v2"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "missing.h5" in bad.stderr
