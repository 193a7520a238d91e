"""predict: spikes convolved with kernels, against numpy.convolve and linearity."""

import subprocess

import h5py
import numpy as np
import pytest
from conftest import ROOT, lfpk

from lfpk_hpc.predict import SpikesError, predict, read_kernel_set

HAGEN = ROOT / "params" / "hagen2022.py"


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("kernels")
    proc = subprocess.run(
        lfpk(HAGEN, "--out", "k.h5"), cwd=cwd, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return cwd / "k.h5"


def reference(kernels_path, spikes, t_stop, t_start=0.0):
    """sum_X sum_Y numpy.convolve(nu_X, H_YX[ch], 'same'), per probe."""
    info, K = read_kernel_set(kernels_path)
    dt = info["dt"]
    n = int(round((t_stop - t_start) / dt))
    out = {}
    for p, pairs in K.items():
        total = np.zeros((next(iter(pairs.values())).shape[0], n))
        for (_Y, X), H in pairs.items():
            t = np.asarray(spikes.get(X, []), dtype=float)
            k = np.floor((t - t_start) / dt).astype(int)
            nu = np.bincount(k[(k >= 0) & (k < n)], minlength=n).astype(float)
            for c in range(H.shape[0]):
                total[c] += np.convolve(nu, H[c], "same")
        out[p] = total
    return out


def signals(path):
    with h5py.File(path, "r") as f:
        return {p: ds[...] for p, ds in f["signals"].items()}


def random_spikes(seed, t_stop, dt=2**-4):
    rng = np.random.default_rng(seed)
    spikes = {"E": rng.uniform(0, t_stop, 800), "I": rng.uniform(0, t_stop, 300)}
    spikes["E"] = np.r_[spikes["E"], 0.0, t_stop - dt / 2]  # first and last bin
    return spikes


@pytest.mark.parametrize("block", [None, 977, 5000], ids=["auto", "block977", "block5000"])
def test_equals_numpy_convolve(kernels, tmp_path, block):
    t_stop = 700.0  # 11200 bins; kernels have 3201 lags
    spikes = random_spikes(1, t_stop)
    np.savez(tmp_path / "s.npz", **spikes)
    predict(
        kernels,
        tmp_path / "s.npz",
        tmp_path / "out.h5",
        t_stop=t_stop,
        block=block,
        log=lambda *a: None,
    )
    got = signals(tmp_path / "out.h5")
    ref = reference(kernels, spikes, t_stop)
    for p in ref:
        assert got[p].shape == ref[p].shape
        assert np.abs(got[p] - ref[p]).max() <= 1e-9 * np.abs(ref[p]).max()
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert f["signals/lfp"].attrs["units"] == "mV" and f["signals/lfp"].attrs["dt"] == 2**-4
        assert f["signals/cdm"].attrs["units"] == "nA·µm"
        # the populations' parts add up to the signal
        parts = sum(f[f"contributions/lfp/{Y}"][...] for Y in ("E", "I"))
        np.testing.assert_allclose(parts, got["lfp"], rtol=0, atol=1e-12 * np.abs(got["lfp"]).max())
        assert f["rates/E"][...].sum() == 802


def test_empty_population_and_offset_start(kernels, tmp_path):
    spikes = {"E": np.array([100.0, 250.5, 399.9]), "I": np.zeros(0)}
    np.savez(tmp_path / "s.npz", **spikes)
    predict(
        kernels,
        tmp_path / "s.npz",
        tmp_path / "out.h5",
        t_start=100.0,
        t_stop=400.0,
        log=lambda *a: None,
    )
    got = signals(tmp_path / "out.h5")
    ref = reference(kernels, spikes, 400.0, t_start=100.0)
    for p in ref:
        assert np.abs(got[p] - ref[p]).max() <= 1e-9 * np.abs(ref[p]).max()


def test_linearity(kernels, tmp_path):
    a, b = random_spikes(2, 500.0), random_spikes(3, 500.0)
    union = {X: np.r_[a[X], b[X]] for X in a}
    for name, s in (("a", a), ("b", b), ("u", union)):
        np.savez(tmp_path / f"{name}.npz", **s)
        predict(
            kernels,
            tmp_path / f"{name}.npz",
            tmp_path / f"{name}.h5",
            t_stop=500.0,
            log=lambda *x: None,
        )
    A, Bs, U = (signals(tmp_path / f"{n}.h5") for n in "abu")
    for p in U:
        assert np.abs(U[p] - A[p] - Bs[p]).max() <= 1e-12 * np.abs(U[p]).max()


def test_single_spike_reproduces_the_kernel(kernels, tmp_path):
    info, K = read_kernel_set(kernels)
    dt, n_tau = info["dt"], int(round(info["tau"] / info["dt"]))
    n = 5000  # the bin of the spike
    np.savez(tmp_path / "one.npz", I=np.array([(n + 0.5) * dt]), E=np.zeros(0))
    predict(
        kernels,
        tmp_path / "one.npz",
        tmp_path / "one.h5",
        t_stop=600.0,
        per_pair=True,
        log=lambda *a: None,
    )
    with h5py.File(tmp_path / "one.h5", "r") as f:
        for Y in ("E", "I"):
            got = f[f"pairs/lfp/{Y}/I"][...]
            H = K["lfp"][(Y, "I")]
            np.testing.assert_allclose(
                got[:, n - n_tau : n + n_tau + 1], H, rtol=0, atol=1e-12 * np.abs(H).max()
            )
            assert np.abs(got[:, : n - n_tau]).max() <= 1e-12 * np.abs(H).max()
            assert not f[f"pairs/lfp/{Y}/E"][...].any()


def _write_formats(tmp_path, spikes, t_stop):
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f.attrs["t_stop"] = t_stop
        for X, t in spikes.items():
            g = f.create_group(X)
            g["times"] = t
            g["senders"] = np.arange(t.size)
    folder = tmp_path / "dat"
    folder.mkdir()
    for X, t in spikes.items():
        # a NEST 3 spike recorder file (two virtual processes for E)
        halves = np.array_split(t, 2) if X == "E" else [t]
        for vp, part in enumerate(halves):
            with open(folder / f"{X}-spikes-{vp}.dat", "w") as fh:
                fh.write("# NEST version: 3.10.0\n# RecordingBackendASCII\nsender\ttime_ms\n")
                for i, ti in enumerate(part):
                    fh.write(f"{i + 1}\t{float(ti)!r}\n")
    np.savez(tmp_path / "s.npz", **spikes)
    return tmp_path / "s.h5", folder, tmp_path / "s.npz"


def test_all_spike_formats_give_the_same_signals_and_unsorted_is_fine(kernels, tmp_path):
    t_stop = 400.0
    spikes = random_spikes(4, t_stop)
    spikes = {X: np.random.default_rng(9).permutation(t) for X, t in spikes.items()}  # unsorted
    h5, folder, npz = _write_formats(tmp_path, spikes, t_stop)
    outs = []
    for i, src in enumerate((h5, folder, npz)):
        proc = subprocess.run(
            lfpk("predict", kernels, src, "--out", f"o{i}.h5", "--tstop", str(t_stop)),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().splitlines()[-1].startswith(f"wrote o{i}.h5")
        outs.append(signals(tmp_path / f"o{i}.h5"))
    # --map names the files of each population explicitly
    proc = subprocess.run(
        lfpk(
            "predict",
            kernels,
            folder / "I-spikes-0.dat",
            "--out",
            "o3.h5",
            "--tstop",
            str(t_stop),
            "--map",
            "E=E-spikes-*.dat",
            "--map",
            "I=I-*.dat",
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    outs.append(signals(tmp_path / "o3.h5"))
    ref = reference(kernels, spikes, t_stop)
    for o in outs:
        for p in ref:
            assert np.abs(o[p] - ref[p]).max() <= 1e-9 * np.abs(ref[p]).max()


BAD = {
    "unknown-population": ({"E": [1.0], "I": [2.0], "Z": [3.0]}, [], "population 'Z'"),
    "missing-population": ({"E": [1.0]}, [], "no spikes for population 'I'"),
    "negative-time": ({"E": [-1.0], "I": [2.0]}, [], "negative spike time"),
    "nan-time": ({"E": [np.nan], "I": [2.0]}, [], "must be finite"),
    "tstop-before-tstart": (
        {"E": [1.0], "I": [2.0]},
        ["--tstart", "50", "--tstop", "10"],
        "--tstop = 10.0 is invalid",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_spikes_exit_2_naming_file_and_problem(kernels, tmp_path, case):
    spikes, extra, message = BAD[case]
    np.savez(tmp_path / "bad.npz", **{k: np.asarray(v) for k, v in spikes.items()})
    proc = subprocess.run(
        lfpk("predict", kernels, "bad.npz", "--out", "o.h5", *extra),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lfpk_hpc: error:"), proc.stderr
    assert message in lines[0]
    if case != "tstop-before-tstart":
        assert "bad.npz" in lines[0]
    assert not (tmp_path / "o.h5").exists()


def test_missing_silent_and_other_bad_inputs(kernels, tmp_path):
    np.savez(tmp_path / "e.npz", E=np.array([1.0, 2.0]))
    ok = subprocess.run(
        lfpk("predict", kernels, "e.npz", "--out", "o.h5", "--missing-silent", "--tstop", "400"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    for args, message in (
        (("nothing.h5",), "do not exist"),
        (("e.txt",), "unknown format"),
    ):
        (tmp_path / "e.txt").write_text("1 2\n")
        proc = subprocess.run(
            lfpk("predict", kernels, *args, "--out", "x.h5"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 2 and message in proc.stderr
    # a kernels file that is not complete is refused
    import shutil

    shutil.copy(kernels, tmp_path / "partial.h5")
    with h5py.File(tmp_path / "partial.h5", "r+") as f:
        f["kernels/lfp/E/I"].attrs["complete"] = False
        # and its task did not finish (a finished task's kernels are complete)
        rows = list(zip(f["tasks/X"][...], f["tasks/Y"][...], strict=True))
        done = f["tasks/complete"][...]
        done[rows.index((b"I", b"E"))] = 0
        f["tasks/complete"][...] = done
    with pytest.raises(SpikesError, match="lfp/E/I is not complete"):
        predict(
            tmp_path / "partial.h5",
            tmp_path / "e.npz",
            tmp_path / "y.h5",
            missing_silent=True,
            log=lambda *a: None,
        )


def test_plot_signals(kernels, tmp_path):
    np.savez(tmp_path / "s.npz", **random_spikes(5, 300.0))
    predict(kernels, tmp_path / "s.npz", tmp_path / "sig.h5", t_stop=300.0, log=lambda *a: None)
    proc = subprocess.run(
        lfpk("plot-signals", "sig.h5", "--out", "sig.png"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    import matplotlib.image as mpimg

    img = mpimg.imread(tmp_path / "sig.png")
    assert img.shape[0] > 300 and len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 50
    bad = subprocess.run(
        lfpk("plot-signals", str(kernels), "--out", "x.png"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "not a signals file" in bad.stderr


def test_counts_stand_in_for_spike_times(kernels, tmp_path):
    """A population given as counts per bin predicts what its spike times predict; counts
    of the wrong length or for an unknown population are errors naming them."""
    t_stop, dt = 500.0, 2**-4
    spikes = random_spikes(4, t_stop)
    np.savez(tmp_path / "all.npz", **spikes)
    np.savez(tmp_path / "e_only.npz", E=spikes["E"])
    n = int(round(t_stop / dt))
    k = np.floor(spikes["I"] / dt).astype(int)
    counts_i = np.bincount(k[k < n], minlength=n).astype(float)
    quiet = lambda *x: None  # noqa: E731
    predict(kernels, tmp_path / "all.npz", tmp_path / "a.h5", t_stop=t_stop, log=quiet)
    predict(
        kernels,
        tmp_path / "e_only.npz",
        tmp_path / "b.h5",
        t_stop=t_stop,
        counts={"I": counts_i},
        log=quiet,
    )
    A, B = signals(tmp_path / "a.h5"), signals(tmp_path / "b.h5")
    for p in A:
        np.testing.assert_array_equal(A[p], B[p])
    with pytest.raises(SpikesError, match=r"counts\['I'\] has shape \(10\,\)"):
        predict(
            kernels,
            tmp_path / "e_only.npz",
            tmp_path / "c.h5",
            t_stop=t_stop,
            counts={"I": np.zeros(10)},
            log=quiet,
        )
    with pytest.raises(SpikesError, match=r"counts for \['X'\] given"):
        predict(
            kernels,
            tmp_path / "all.npz",
            tmp_path / "d.h5",
            t_stop=t_stop,
            counts={"X": counts_i},
            log=quiet,
        )


def test_on_grid_spike_times_fall_into_their_own_bin():
    """NEST's spike times are multiples of its resolution, computed as k·0.1: each must
    count in bin k (floor(k·0.1 / 0.1) is k − 1 for 13,099 of 200,000 k)."""
    from lfpk_hpc.predict import bin_spikes

    k = np.arange(200_000)
    times = k * 0.1
    assert (np.floor(times / 0.1) != k).sum() > 10_000  # the rounding this is about
    counts = bin_spikes(times, 0.1, 0.0, 200_000)
    np.testing.assert_array_equal(counts, np.ones(200_000))
    # and with a start that is itself a sum of steps
    counts = bin_spikes(times[1000:], 0.1, 1000 * 0.1, 199_000)
    np.testing.assert_array_equal(counts, np.ones(199_000))
