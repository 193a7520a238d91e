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


def test_lowpass_response_equals_the_designed_filter_squared():
    """The low-pass applied forwards and backwards has the gain |H(f)|² of the
    filter Hagen et al. 2022 specify, designed here on its own: an elliptic filter
    of order 2 with 0.1 dB pass-band ripple, 40 dB stop-band attenuation and its
    pass band ending at 100 Hz. Measured on the impulse response (2 s at 16 kHz,
    0.5 Hz resolution), against scipy's sosfreqz of that design and against what
    the specification itself guarantees."""
    import scipy.signal as ss

    fs = 1000.0 / DT  # Hz
    n = 32000
    x = np.zeros(n)
    x[n // 2] = 1.0
    y = lowpass(x, DT)
    f = np.fft.rfftfreq(n, d=1.0 / fs)
    gain = np.abs(np.fft.rfft(y))
    sos = ss.ellip(2, 0.1, 40.0, 100.0, btype="low", fs=fs, output="sos")
    _, h = ss.sosfreqz(sos, worN=f, fs=fs)
    np.testing.assert_allclose(gain, np.abs(h) ** 2, rtol=1e-6, atol=1e-10)
    # zero phase: the output is symmetric about the impulse
    np.testing.assert_allclose(y[n // 2 + 1 : n // 2 + 2000], y[n // 2 - 1 : n // 2 - 2000 : -1])
    # the specification: at the cutoff (the end of the pass band) the gain is the
    # ripple, -0.1 dB per pass, so -0.2 dB; within the pass band between -0.2 and 0 dB
    at = {float(fk): g for fk, g in zip(f, gain, strict=True)}
    assert 20 * np.log10(at[100.0]) == pytest.approx(-0.2, abs=1e-3)
    band = gain[f <= 100.0]
    assert np.all(20 * np.log10(band) >= -0.2 - 1e-6) and np.all(band <= 1 + 1e-9)
    # above it the gain falls: -6.7 dB at 200 Hz, -36.6 dB at 500 Hz (scipy's design)
    assert 20 * np.log10(at[200.0]) == pytest.approx(-6.72, abs=0.01)
    assert 20 * np.log10(at[500.0]) == pytest.approx(-36.55, abs=0.01)
    # the stop band of an order-2 elliptic design begins at 1256 Hz here: from there
    # on at least 40 dB per pass, 80 dB both ways
    assert np.all(gain[f >= 1260.0] <= 10 ** (-80 / 20) * (1 + 1e-6))


def test_lowpassed_r2_filters_both_signals():
    """Ground truth = slow + fast, prediction = slow + another fast part (disjoint
    frequency bands, equal variances, so every cross term is exactly zero): the raw
    r is 1/2 (R² 1/4); both low-passed, only the slow part is left and R² is 1.
    Low-passing only the ground truth would give R² 1/2 (the mistake of the
    published notebook, DOMAIN.md C), low-passing neither 1/4."""
    n = 64000
    rng = np.random.default_rng(11)
    f = np.fft.rfftfreq(n, d=DT / 1000.0)  # Hz

    def band(lo, hi):
        spec = np.fft.rfft(rng.normal(size=n))
        spec[(f < lo) | (f >= hi)] = 0.0
        x = np.fft.irfft(spec, n)
        return x / x.std()

    slow = band(1.0, 50.0)
    truth = slow + band(2000.0, 4000.0)
    pred = slow + band(4000.0, 6000.0)
    m = channel_metrics(pred, truth, DT)
    assert m["r"][0] == pytest.approx(0.5, abs=1e-9)
    assert m["r2"][0] == pytest.approx(0.25, abs=1e-9)
    assert m["rstd"][0] == pytest.approx(1.0, abs=1e-9)
    assert m["r2_lowpass"][0] > 0.9999 and m["r_lowpass"][0] > 0.99995
    assert m["rstd_lowpass"][0] == pytest.approx(1.0, abs=1e-4)
    # what low-passing only the ground truth would give
    half = channel_metrics(pred, lowpass(truth, DT), DT)
    assert half["r2"][0] == pytest.approx(0.5, abs=1e-3)


def test_correlation_keeps_the_sign():
    truth = noise(21, (3, 8000))
    pred = truth + 0.5 * noise(22, truth.shape)
    m = channel_metrics(pred, truth, DT)
    np.testing.assert_allclose(m["r"], 1 / np.sqrt(1.25), atol=0.02)
    np.testing.assert_allclose(m["r2"], m["r"] ** 2, rtol=1e-12)
    flipped = channel_metrics(-pred, truth, DT)
    np.testing.assert_allclose(flipped["r"], -m["r"], rtol=1e-12)
    np.testing.assert_allclose(flipped["r_lowpass"], -m["r_lowpass"], rtol=1e-12)
    np.testing.assert_allclose(flipped["r2"], m["r2"], rtol=1e-12)  # R² cannot see it


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


# the constant prediction has no spectrum: its coherence is 0/0 (NaN), as scipy warns
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:All-NaN slice encountered:RuntimeWarning")
def test_compare_fails_an_anticorrelated_or_constant_prediction(tmp_path):
    """A probe fails (passed false, the reason given) when its median r, raw or
    low-passed, is negative or undefined; a negative channel under a positive
    median does not fail it."""
    truth = noise(31, (5, 12000))
    good = truth + 0.5 * noise(32, truth.shape)
    good[4] *= -1  # one channel of five with r < 0
    cdm = noise(33, (3, 12000))
    _signals(tmp_path / "truth.h5", {"lfp": truth, "cdm": cdm})
    cdm_good = cdm + noise(34, cdm.shape)
    _signals(tmp_path / "good.h5", {"lfp": good, "cdm": cdm_good})
    _signals(tmp_path / "flipped.h5", {"lfp": -good, "cdm": -cdm_good})
    _signals(tmp_path / "silent.h5", {"lfp": 0 * truth, "cdm": cdm})
    ok = compare(tmp_path / "truth.h5", tmp_path / "good.h5", transient=0.0)
    for p in ("lfp", "cdm"):
        assert ok[p]["passed"] and ok[p]["failures"] == [], ok[p]["failures"]
    assert ok["lfp"]["r"][4] < 0 and ok["lfp"]["r"][4] == pytest.approx(
        -ok["lfp"]["r"][0], abs=0.05
    )
    assert ok["lfp"]["r_median"] == pytest.approx(1 / np.sqrt(1.25), abs=0.02)
    assert ok["cdm"]["r_median"] == pytest.approx(1 / np.sqrt(2), abs=0.02)
    bad = compare(tmp_path / "truth.h5", tmp_path / "flipped.h5", transient=0.0)
    for p in ("lfp", "cdm"):
        assert not bad[p]["passed"]
        assert bad[p]["r_median"] < 0 and bad[p]["r2_median"] == pytest.approx(ok[p]["r2_median"])
    assert len(bad["lfp"]["failures"]) == 2  # raw and low-passed
    assert "anticorrelated" in bad["lfp"]["failures"][0]
    assert "channels [0, 1, 2, 3]" in bad["lfp"]["failures"][0]
    silent = compare(tmp_path / "truth.h5", tmp_path / "silent.h5", transient=0.0)
    assert not silent["lfp"]["passed"] and "undefined" in silent["lfp"]["failures"][0]
    assert silent["lfp"]["r_median"] is None and silent["cdm"]["passed"]


def test_compare_command_writes_metrics_and_report(tmp_path):
    truth = noise(7, (4, 12000))
    cdm = noise(8, (3, 12000))
    _signals(tmp_path / "truth.h5", {"lfp": truth, "cdm": cdm})
    _signals(
        tmp_path / "pred.h5",
        {"lfp": truth + 0.5 * noise(9, truth.shape), "cdm": cdm + noise(10, cdm.shape)},
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
    for key in ("r", "r_median", "r_q10", "r_q90", "r_lowpass", "r_median_lowpass"):
        assert key in metrics["lfp"] and key in metrics["cdm"]
    assert len(metrics["lfp"]["r2"]) == len(metrics["lfp"]["r"]) == 4
    assert metrics["lfp"]["r2_median"] == pytest.approx(0.8, abs=0.02)  # 1 / (1 + 0.25)
    assert metrics["lfp"]["r_median"] == pytest.approx(np.sqrt(0.8), abs=0.02)
    assert metrics["lfp"]["passed"] is True and metrics["lfp"]["failures"] == []
    # the dipole's prediction has noise as strong as the signal: R² = 1 / (1 + 1)
    assert metrics["cdm"]["r2_median"] == pytest.approx(0.5, abs=0.03)
    assert metrics["cdm"]["r_median"] == pytest.approx(np.sqrt(0.5), abs=0.03)
    html = (tmp_path / "val" / "report.html").read_text()
    assert "<table>" in html and "data:image/png;base64," in html
    assert "<th>r</th>" in html and "<th>verdict</th>" in html
    bad = subprocess.run(
        lfpk("compare", "truth.h5", "missing.h5", "--out", "v2"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "missing.h5" in bad.stderr
