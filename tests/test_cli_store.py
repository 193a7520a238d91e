"""The main command end to end: params file -> kernels.h5 with its layout and provenance."""

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import README_PARAMS

from lfpk_hpc.kernel import KernelEngine
from lfpk_hpc.store import StoreError, read_kernel, read_kernels


def run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "lfpk_hpc", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("run")
    proc = run_cli(README_PARAMS, "--out", "out/kernels.h5", cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cwd / "out" / "kernels.h5", proc


def test_progress_output(readme_run):
    path, proc = readme_run
    out = proc.stdout
    assert "model 'lfpykernels_readme'" in out
    assert "2 tasks (X->Y): E->E, I->E" in out
    assert "lfp (13 channels, mV)" in out and "cdm (3 channels, nA*um)" in out
    assert "[1/2] E->E done in" in out and "[2/2] I->E done in" in out
    assert out.strip().splitlines()[-1].startswith("wrote out/kernels.h5")


def test_layout_and_provenance(readme_run, readme_model):
    path, _ = readme_run
    with h5py.File(path, "r") as f:
        assert f.attrs["params_hash"] == readme_model.hash()
        assert json.loads(f.attrs["params_json"]) == json.loads(readme_model.to_json())
        import LFPy
        import neuron

        from lfpk_hpc import __version__

        assert f.attrs["lfpk_hpc_version"] == __version__
        assert f.attrs["neuron_version"] == neuron.__version__
        assert f.attrs["lfpy_version"] == LFPy.__version__
        assert f.attrs["complete"]
        for probe, n_ch, units in (("lfp", 13, "mV"), ("cdm", 3, "nA*um")):
            assert f[f"probes/{probe}"].attrs["units"] == units
            for X in ("E", "I"):
                ds = f[f"kernels/{probe}/E/{X}"]
                assert ds.shape == (n_ch, 1601) and ds.dtype == np.float64
                assert ds.attrs["dt"] == 2**-4 and ds.attrs["tau"] == 50.0
                assert ds.attrs["units"] == units and ds.attrs["complete"]
        np.testing.assert_array_equal(f["probes/lfp/z"][...], np.linspace(1000, -200, 13))
        for X in ("E", "I"):
            task = f[f"tasks/E/{X}"]
            assert task.attrs["complete"] and task.attrs["n_seg"] == 27
            assert task.attrs["wall_time_s"] > 0


def test_file_holds_the_engine_kernels(readme_run, readme_model):
    path, _ = readme_run
    engine = KernelEngine(readme_model)
    stored = read_kernels(path)
    assert sorted(stored) == sorted((p, "E", X) for p in ("lfp", "cdm") for X in ("E", "I"))
    for X in ("E", "I"):
        H = engine.compute(X, "E").kernels
        for probe in ("lfp", "cdm"):
            np.testing.assert_array_equal(read_kernel(path, probe, "E", X), H[probe])


def test_default_output_path_and_no_silent_overwrite(tmp_path):
    proc = run_cli(README_PARAMS, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    default = tmp_path / "kernels" / "lfpykernels_readme.h5"
    assert default.is_file()
    stamp = default.stat().st_mtime_ns
    again = run_cli(README_PARAMS, cwd=tmp_path)
    assert again.returncode == 2
    assert "exists" in again.stderr and "--overwrite" in again.stderr
    assert default.stat().st_mtime_ns == stamp
    forced = run_cli(README_PARAMS, "--overwrite", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr


def test_incomplete_kernel_is_refused(tmp_path, readme_model):
    from lfpk_hpc.store import KernelStore

    path = tmp_path / "partial.h5"
    store = KernelStore(
        path,
        readme_model,
        probe_units={"lfp": "mV", "cdm": "nA*um"},
        probe_channels={"lfp": 13, "cdm": 3},
    )
    store.close()
    with pytest.raises(StoreError, match="not complete"):
        read_kernel(path, "lfp", "E", "E")
    assert read_kernels(path) == {}
