"""Evoked drives and trials: a volley through its kernel against numpy.convolve,
trials by seed and on any number of ranks, averages, HNN's smoothing and scaling,
the time-frequency power, resume, and bad drives (exit 2 naming the parameter).

The runs use tests/data/evoked_tiny.py (PD14 at scale 0.02 in NEST, kernels of tau
20 ms): a few seconds each.
"""

from __future__ import annotations

import dataclasses
import subprocess

import h5py
import numpy as np
import pytest
from conftest import NEST_HINT, ROOT, artists_outside, lfpk, mpi_env, mpirun_command, need_module

from lfpk_hpc import pd14
from lfpk_hpc.drives import DriveTarget, EvokedDrive, drive_times
from lfpk_hpc.evoked import (
    EvokedError,
    bin_grid_spikes,
    lowest_frequency,
    morlet_power,
    scale,
    smooth,
)
from lfpk_hpc.params import ParamsError, load
from lfpk_hpc.store import read_kernel

TINY = ROOT / "tests" / "data" / "evoked_tiny.py"
RUN = ("--trials", "3", "--scale", "0.02", "--tstop", "50", "--presim", "20", "--seed", "7")
#: attributes of an evoked file that say how it ran, not what it computed
RUN_ATTRS = {
    "created",
    "ranks",
    "wall_time_s",
    "wall_time_setup_s",
    "wall_time_tasks_s",
    "wall_time_kernels_s",
    "wall_time_total_s",
    "write_path",
    "kernels",
}


def run(cmd, cwd, env=None):
    return subprocess.run(
        cmd, cwd=cwd, env=env or mpi_env(), capture_output=True, text=True, timeout=600
    )


def contents(path):
    out = {}
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name not in ("trials/rank", "trials/wall_time_s"):
                out[name] = obj[...]

        f.visititems(visit)
        out["/"] = {
            k: (v.tolist() if hasattr(v, "tolist") else v)
            for k, v in f.attrs.items()
            if k not in RUN_ATTRS
        }
    return out


def assert_same(a, b):
    ca, cb = contents(a), contents(b)
    assert ca.keys() == cb.keys()
    assert ca["/"] == cb["/"]
    for key in ca:
        if key != "/":
            np.testing.assert_array_equal(ca[key], cb[key], err_msg=key)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    need_module("nest", NEST_HINT)
    cwd = tmp_path_factory.mktemp("evoked1")
    proc = run(lfpk("evoked", TINY, "--out", "e", *RUN), cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cwd / "e"


# --------------------------------------------------------------------------- the volley


def test_a_drive_without_jitter_is_its_volley_convolved_with_its_kernel(serial):
    """ev: 20 drive neurons × 2 spikes, all at exactly 10 ms, onto L5E alone: its part
    of every probe is numpy.convolve(counts, H_{L5E,ev}, 'same') with 40 spikes in the
    bin of 10 ms, in every trial; the dipole's part is the kernel's z row moved there."""
    with h5py.File(serial / "evoked.h5", "r") as f:
        dt, n = f.attrs["dt"], int(round(f.attrs["tstop"] / f.attrs["dt"]))
        counts = np.zeros(n)
        counts[int(round(10.0 / dt))] = 20 * 2
        times = f["spikes/trial_0001/ev/times"][...]
        np.testing.assert_array_equal(times, np.full(40, 10.0))
        for probe in ("cdm", "eeg", "meg", "csd"):
            H = read_kernel(serial / "kernels.h5", probe, "L5E", "ev").data
            ref = np.array([np.convolve(counts, h, "same") for h in H])
            part = f[f"signals/{probe}/drive/ev"][...]
            assert np.abs(ref).max() > 0
            for trial in part:
                np.testing.assert_allclose(trial, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
        # the dipole's z row: the kernel (lags 0 … tau) moved to 10 ms, × 40 spikes
        H = read_kernel(serial / "kernels.h5", "cdm", "L5E", "ev")
        k0, n_tau = int(round(10.0 / dt)), (H.data.shape[1] - 1) // 2
        z = f["signals/cdm/drive/ev"][0, 2, k0 : k0 + n_tau + 1]
        np.testing.assert_allclose(z, 40 * H.data[2, n_tau:], rtol=1e-9, atol=1e-9 * abs(z).max())
        assert np.abs(f["signals/cdm/drive/ev"][0, 2, :k0]).max() < 1e-9 * np.abs(z).max()


def test_the_recorded_drive_spikes_are_the_drawn_ones(serial):
    """NEST's parrot neurons fire at exactly the drawn times; ev2 is synchronous: all
    its neurons share one time per trial, and the times differ between trials."""
    model = load(TINY)
    ev2 = next(d for d in model.drives if d.name == "ev2")
    with h5py.File(serial / "evoked.h5", "r") as f:
        seen = []
        for k in range(3):
            drawn = drive_times(ev2, seed=7, trial=k, dt=0.1, t_stop=50.0)
            assert len({tuple(t) for t in drawn}) == 1  # synchronous
            g = f[f"spikes/trial_{k:04d}/ev2"]
            got = sorted(zip(g["senders"][...], g["times"][...], strict=True))
            want = sorted((i, t) for i, ts in enumerate(drawn) for t in ts)
            assert [s for s, _ in got] == [s for s, _ in want]
            np.testing.assert_allclose([t for _, t in got], [t for _, t in want], atol=1e-9)
            seen.append(want[0][1])
        assert len(set(seen)) == 3


def test_averages_and_parts_add_up(serial):
    """The mean is the mean of the trials; the total is the sum over populations and
    over layers; the dipole in nA·m is the z row / 1e6, per layer as its populations."""
    with h5py.File(serial / "evoked.h5", "r") as f:
        for p in f["signals"]:
            g = f[f"signals/{p}"]
            total = g["total"][...]
            np.testing.assert_allclose(f[f"mean/{p}/total"][...], total.mean(axis=0), rtol=1e-14)
            pops = sum(g[f"population/{Y}"][...] for Y in g["population"])
            layers = sum(g[f"layer/{L}"][...] for L in g["layer"])
            scale_ = np.abs(total).max()
            np.testing.assert_allclose(pops, total, rtol=0, atol=1e-12 * scale_)
            np.testing.assert_allclose(layers, total, rtol=0, atol=1e-12 * scale_)
            np.testing.assert_allclose(
                g["layer/L23"][...],
                g["population/L23E"][...] + g["population/L23I"][...],
                rtol=0,
                atol=1e-12 * scale_,
            )
            for L in g["layer"]:
                np.testing.assert_allclose(
                    f[f"mean/{p}/layer/{L}"][...], g[f"layer/{L}"][...].mean(axis=0), rtol=1e-14
                )
        raw = f["dipole/trials_raw"][...]
        assert f["dipole"].attrs["rows"] == "agg,L23,L4,L5,L6"
        np.testing.assert_allclose(raw[:, 0], f["signals/cdm/total"][:, 2] / 1e6, rtol=1e-12)
        np.testing.assert_allclose(
            raw[:, 3], f["signals/cdm/layer/L5"][:, 2] / 1e6, rtol=1e-12, atol=1e-20
        )
        np.testing.assert_allclose(f["dipole/mean"][...], f["dipole/trials"][...].mean(axis=0))
        # processed = scale(smooth(trial minus its mean over [0, baseline)))
        b = int(round(f.attrs["baseline_ms"] / f.attrs["dt"]))
        ref = scale(
            smooth(raw - raw[..., :b].mean(axis=-1, keepdims=True), 30.0, 0.1),
            f.attrs["scale_factor"],
        )
        np.testing.assert_allclose(f["dipole/trials"][...], ref, rtol=1e-12, atol=1e-20)
        assert f.attrs["trials"] == 3 and f.attrs["complete"]
        assert f["signals/meg/total"].attrs["units"] == "fT"
        assert f["signals/csd/total"].attrs["units"] == "µA/mm³"
        assert f["dipole/mean"].attrs["units"] == "nA·m"


# --------------------------------------------------------------------------- seeds, ranks, resume


@pytest.mark.mpi
def test_same_file_on_two_ranks_and_the_seed_decides(serial, tmp_path):
    proc = run(mpirun_command(2, "evoked", TINY, "--out", "e2", *RUN, "--no-figures"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ranks: 2, all computing" in proc.stdout
    assert_same(serial / "evoked.h5", tmp_path / "e2" / "evoked.h5")
    other = [*RUN[:-1], "8"]
    proc = run(lfpk("evoked", TINY, "--out", "e3", *other, "--no-figures"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (
        h5py.File(serial / "evoked.h5", "r") as a,
        h5py.File(tmp_path / "e3" / "evoked.h5", "r") as b,
    ):
        assert not np.array_equal(a["signals/cdm/total"][...], b["signals/cdm/total"][...])
        assert not np.array_equal(a["trials/nest_seed"][...], b["trials/nest_seed"][...])


def test_a_failed_run_resumes_to_the_same_file(serial, tmp_path):
    env = {**mpi_env(), "LFPK_HPC_FAULT": "task:trial 2"}
    proc = run(lfpk("evoked", TINY, "--out", "e", *RUN, "--no-figures"), tmp_path, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "trial trial 2 failed" in proc.stderr or "trial 2 failed" in proc.stderr
    parts = tmp_path / "e" / "evoked.h5.parts"
    assert len(list(parts.glob("trial_*.npz"))) == 2
    proc = run(lfpk("evoked", TINY, "--out", "e", *RUN, "--no-figures"), tmp_path)
    assert proc.returncode == 2 and "pass --resume" in proc.stderr
    proc = run(lfpk("evoked", TINY, "--out", "e", *RUN, "--no-figures", "--resume"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resume: 2 finished trials" in proc.stdout
    assert "1 trials to compute" in proc.stdout
    assert_same(serial / "evoked.h5", tmp_path / "e" / "evoked.h5")
    assert not parts.exists()
    proc = run(lfpk("evoked", TINY, "--out", "e", *RUN, "--no-figures", "--resume"), tmp_path)
    assert proc.returncode == 0 and "nothing to simulate" in proc.stdout


def test_figures_show_everything(serial):
    from lfpk_hpc.evokedplot import (
        dipole_figure,
        raster_figure,
        read_evoked,
        signals_figure,
        tfr_figure,
    )

    for name in ("dipole", "raster", "tfr", "signals"):
        assert (serial / f"{name}.png").stat().st_size > 10000
    ev = read_evoked(serial / "evoked.h5")
    for make in (dipole_figure, raster_figure, tfr_figure, signals_figure):
        fig = make(ev)
        assert artists_outside(fig) == [], make.__name__
        text = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
        assert any(u in text for u in ("nA·m", "spikes/s", "µV")), make.__name__


# --------------------------------------------------------------------------- HNN's conventions


def test_smoothing_and_scaling_are_their_definitions():
    """smooth: numpy.convolve(x, hamming(round(w/dt)) / its sum, 'same') (HNN's
    smooth_waveform); an impulse gives the window, a constant stays away from the
    edges; scale multiplies."""
    dt, w = 0.1, 30.0
    n = 300
    x = np.zeros(2001)
    x[1000] = 2.0
    h = np.hamming(n) / np.hamming(n).sum()
    y = smooth(x, w, dt)
    assert y.sum() == pytest.approx(2.0)
    start = 1000 - (n - 1) // 2  # numpy's 'same' centres the window at its sample (n - 1) // 2
    np.testing.assert_allclose(y[start : start + n], 2.0 * h, rtol=1e-12)
    assert y[:start].max() == 0 and y[start + n :].max() == 0
    np.testing.assert_allclose(smooth(np.full(2001, 3.0), w, dt)[400:1600], 3.0, rtol=1e-12)
    two = smooth(np.stack([x, 2 * x]), w, dt)
    np.testing.assert_allclose(two[1], 2 * y)
    np.testing.assert_array_equal(smooth(x, 0.0, dt), x)
    np.testing.assert_array_equal(scale(x, 3000.0), 3000.0 * x)


def test_morlet_power_peaks_at_the_signals_frequency():
    dt = 0.1
    t = np.arange(0, 400, dt)
    freqs = np.arange(10.0, 101.0, 2.0)
    p = morlet_power(np.sin(2 * np.pi * 40.0 * t / 1000.0), dt, freqs)
    assert p.shape == (freqs.size, t.size)
    assert freqs[np.argmax(p[:, t.size // 2])] == 40.0
    # twice the amplitude, four times the power
    q = morlet_power(2 * np.sin(2 * np.pi * 40.0 * t / 1000.0), dt, freqs)
    np.testing.assert_allclose(q, 4 * p, rtol=1e-12)
    # a wavelet longer than the padded signal is refused (as MNE refuses it): 170 ms
    # take 7 cycles from 22 Hz on
    assert lowest_frequency(1700, 0.1) == 22.0
    morlet_power(np.ones(1700), 0.1, [22.0])
    with pytest.raises(EvokedError, match="lowest frequency is 22 Hz"):
        morlet_power(np.ones(1700), 0.1, [20.0])


def test_grid_spikes_are_binned_where_they_lie():
    """NEST's stamps k·dt go to bin k (numpy.floor(k·0.1/0.1) is k − 1 for some k)."""
    k = np.arange(0, 20000)
    times = np.round(k * 0.1 / 0.1) * 0.1
    counts = bin_grid_spikes(times, 0.1, -5.0, 20050)
    np.testing.assert_array_equal(np.flatnonzero(counts), k + 50)


def test_drive_times():
    d = EvokedDrive(
        "d", mu=20.0, sigma=4.0, numspikes=3, n_cells=50, targets={"L5E": DriveTarget(0.1)}
    )
    a = drive_times(d, seed=1, trial=0, dt=0.1, t_stop=40.0)
    assert a == a and len(a) == 50
    assert all(
        np.array_equal(x, y)
        for x, y in zip(a, drive_times(d, seed=1, trial=0, dt=0.1, t_stop=40.0), strict=True)
    )
    allt = np.concatenate(a)
    assert allt.size <= 150 and allt.size > 140 and np.all((allt > 0) & (allt < 40))
    np.testing.assert_allclose(allt, np.round(allt / 0.1) * 0.1)
    assert abs(allt.mean() - 20.0) < 1.5 and 3.0 < allt.std() < 5.0
    b = drive_times(d, seed=1, trial=1, dt=0.1, t_stop=40.0)
    assert not np.array_equal(np.concatenate(b), allt)
    sync = dataclasses.replace(d, sync_within_trial=True)
    s = drive_times(sync, seed=1, trial=0, dt=0.1, t_stop=40.0)
    assert all(np.array_equal(x, s[0]) for x in s) and s[0].size == 3


def test_proximal_and_distal_placements_are_pd14_layers():
    prox = pd14.drive_placement("L5E", "proximal")
    assert prox.sections == ("dend",)
    assert prox.depth[0].params == {"loc": -1170.0, "scale": pytest.approx(247.8)}
    dist = pd14.drive_placement("L5E", "distal")
    assert dist.sections == ("apic",)
    assert dist.depth[0].params == {"loc": -334.35, "scale": pytest.approx(334.35)}
    assert pd14.drive_placement("L23I", "distal").sections == ("dend",)
    with pytest.raises(ParamsError, match="L4I' is invalid for a distal drive"):
        pd14.drive_placement("L4I", "distal")


# --------------------------------------------------------------------------- bad drives


def _bad_params(tmp_path, change):
    p = tmp_path / "bad.py"
    p.write_text(
        "import dataclasses, importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('t', {str(TINY)!r})\n"
        "t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)\n"
        "from lfpk_hpc import pd14\n"
        "from lfpk_hpc.params import DriveTarget\n"
        f"d = [{change}] + t.drives[1:]\n"
        "model = pd14.build(drives=d, dt=0.1, tau=20.0, probe_specs=t.model.probes)\n"
    )
    return p


@pytest.mark.parametrize(
    "change, message",
    [
        (
            "dataclasses.replace(t.drives[0], sigma=-1.0)",
            "drives[ev].sigma = -1.0 is invalid: must be a finite time >= 0 (ms",
        ),
        (
            "dataclasses.replace(t.drives[0], numspikes=0)",
            "drives[ev].numspikes = 0 is invalid: must be a whole number >= 1",
        ),
        (
            "dataclasses.replace(t.drives[0], targets={'L7E': DriveTarget(0.1)})",
            "drives[ev].targets = 'L7E' is invalid: unknown postsynaptic population; allowed: "
            "L23E, L23I",
        ),
        (
            "dataclasses.replace(t.drives[0], location='apical')",
            "drives[ev].location = 'apical' is invalid: allowed: 'proximal', 'distal'",
        ),
        (
            "dataclasses.replace(t.drives[0], targets={'L5E': DriveTarget(0.1, delay=0.0)})",
            "drives[ev].targets[L5E].delay = 0.0 is invalid: must be a finite delay > 0 (ms)",
        ),
    ],
    ids=["sigma", "numspikes", "target", "location", "delay"],
)
def test_bad_drives_exit_2_naming_the_parameter(tmp_path, change, message):
    proc = run(lfpk("evoked", _bad_params(tmp_path, change), "--out", "e"), tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"lfpk_hpc: error: {message}"), lines[0]
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--trials", "0"), "--trials = 0 is invalid: must be a whole number >= 1"),
        (("--tstop", "50.05"), "--tstop = 50.05 is invalid: must be > 0 ms and a multiple"),
        (("--scale", "1.5"), "--scale = 1.5 is invalid: must be within (0, 1]"),
        (("--baseline", "60"), "--baseline = 60.0 is invalid: must be within [0, --tstop)"),
    ],
)
def test_bad_arguments_exit_2_before_any_work(tmp_path, args, message):
    proc = run(lfpk("evoked", TINY, "--out", "e", "--tstop", "50", *args), tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().startswith(f"lfpk_hpc: error: {message}"), proc.stderr
    assert not (tmp_path / "e" / "kernels.h5").exists()
