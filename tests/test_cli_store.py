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
from lfpk_hpc.store import StoreError, read_kernel, read_kernels, read_task_table


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
    assert "2 tasks (X->Y)" in out and "tasks: E->E, I->E" in out
    assert "lfp (13 channels, mV)" in out and "cdm (3 channels, nA·µm)" in out
    assert "E->E done on rank 0 in" in out and "I->E done on rank 0 in" in out
    assert "[1/2] " in out and "[2/2] " in out and "left" in out
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
        for probe, n_ch, units in (("lfp", 13, "mV"), ("cdm", 3, "nA·µm")):
            assert f[f"probes/{probe}"].attrs["units"] == units
            for X in ("E", "I"):
                ds = f[f"kernels/{probe}/E/{X}"]
                assert ds.shape == (n_ch, 1601) and ds.dtype == np.float64
                assert ds.attrs["dt"] == 2**-4 and ds.attrs["tau"] == 50.0
                assert ds.attrs["units"] == units and ds.attrs["complete"]
        np.testing.assert_array_equal(f["probes/lfp/z"][...], np.linspace(1000, -200, 13))
        assert f.attrs["write_path"] == "serial" and f.attrs["ranks"] == 1
    table = read_task_table(path)
    assert sorted(table) == [("E", "E"), ("I", "E")]
    for row in table.values():
        assert row["complete"] == 1 and row["n_seg"] == 27 and row["rank"] == 0
        assert row["wall_time_s"] > 0 and row["cost_estimate"] > 0


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
    assert "--resume" in again.stderr
    assert default.stat().st_mtime_ns == stamp
    forced = run_cli(README_PARAMS, "--overwrite", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr


def test_incomplete_kernel_is_refused(tmp_path, readme_model):
    from lfpk_hpc.store import KernelStore, ProbeInfo

    path = tmp_path / "partial.h5"
    probes = [
        ProbeInfo("lfp", "GaussCylinderPotential", "mV", 13),
        ProbeInfo("cdm", "CurrentDipoleMoment", "nA*um", 3),
    ]
    tasks = readme_model.tasks()
    header = {"dt": 2**-4, "tau": 50.0, "params_hash": readme_model.hash()}
    store = KernelStore(path, header, probes, tasks, tasks, 1601)
    store.close()
    with pytest.raises(StoreError, match="not complete"):
        read_kernel(path, "lfp", "E", "E")
    assert read_kernels(path) == {}


def test_help_lists_every_command_and_each_has_help(tmp_path):
    from lfpk_hpc.cli import SUBCOMMANDS

    top = run_cli("--help", cwd=tmp_path)
    assert top.returncode == 0
    for name in SUBCOMMANDS:
        if name != "run":
            assert f"  {name} " in top.stdout, name
            sub = run_cli(name, "--help", cwd=tmp_path)
            assert sub.returncode == 0 and "usage: python -m lfpk_hpc" in sub.stdout, name
