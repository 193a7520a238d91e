"""An error on one rank ends every rank within seconds, with one error line and a
non-zero exit code, for every subcommand that runs under mpirun (a hang would burn a
cluster allocation). Errors are injected with LFPK_HPC_FAULT="point@rank"
(lfpk_hpc.parallel.fault_point) at points where the other ranks are elsewhere."""

import subprocess
import time

import numpy as np
import pytest
from conftest import ROOT, mpi_env, mpirun_command

pytestmark = pytest.mark.mpi

HAGEN = ROOT / "params" / "hagen2022.py"
TINY = ROOT / "tests" / "data" / "hybrid_tiny.py"
#: a hang is a timeout here (every case ends in well under a minute when it works)
HANG_S = 150


def run_with_fault(cmd, cwd, fault):
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env={**mpi_env(), "LFPK_HPC_FAULT": fault, "LFPK_HPC_ERROR_GRACE_S": "3"},
        capture_output=True,
        text=True,
        timeout=HANG_S,
        check=False,
    )
    return proc, time.perf_counter() - t0


def assert_one_clear_error(proc, point, rank):
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("lfpk_hpc: error:")]
    assert len(lines) == 1, proc.stderr
    assert f"fault injected at '{point}' on rank {rank}" in lines[0], lines[0]
    # Open MPI's abort text does not bury the line
    assert "MPI_ABORT" not in proc.stderr and "NOTE: invoking" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == lines[0]


@pytest.fixture(scope="module")
def tiny_spikes(tmp_path_factory):
    from lfpk_hpc import params
    from lfpk_hpc.predict import write_spikes

    model = params.load(TINY)
    rng = np.random.default_rng(1)
    spikes = {}
    for p in model.populations:
        n = rng.poisson(p.nu * 0.1 * p.N)
        spikes[p.name] = (np.sort(rng.uniform(0, 100.0, n)), rng.integers(0, p.N, n))
    path = tmp_path_factory.mktemp("spk") / "spikes.h5"
    write_spikes(path, spikes, {p.name: p.N for p in model.populations}, {"t_stop": 100.0})
    return path


def test_kernels_rank_fails_in_setup_while_the_other_opens_the_file(tmp_path):
    # rank 0 goes on into the collective creation of the kernels file: it cannot
    # hear of rank 1's error, so rank 1 aborts the job after the grace period
    proc, took = run_with_fault(mpirun_command(2, HAGEN, "--out", "k.h5"), tmp_path, "setup@1")
    assert_one_clear_error(proc, "setup", 1)
    assert "the job is aborted" in proc.stderr


def test_kernels_task_failure_ends_cleanly(tmp_path):
    # a failing task drains the farm: the ranks agree and stop without an abort
    proc, _ = run_with_fault(mpirun_command(2, HAGEN, "--out", "k.h5"), tmp_path, "task@1")
    assert proc.returncode == 1, proc.stderr
    assert "failed on rank 1" in proc.stderr and "aborted" not in proc.stderr


def test_groundtruth_rank_fails_while_simulating(tmp_path):
    # the other rank is stepping the network (NEURON's spike exchange waits for it)
    cmd = mpirun_command(
        2,
        "groundtruth",
        HAGEN,
        "--out",
        "gt",
        "--scale",
        "0.005",
        "--tstop",
        "100",
        "--transient",
        "20",
    )
    proc, _ = run_with_fault(cmd, tmp_path, "groundtruth:simulate@1")
    assert_one_clear_error(proc, "groundtruth:simulate", 1)


def test_hybrid_block_failure_on_one_rank(tmp_path, tiny_spikes):
    cmd = mpirun_command(2, "hybrid", TINY, tiny_spikes, "--out", "h", "--block-segments", "50")
    proc, _ = run_with_fault(cmd, tmp_path, "task@1")
    assert proc.returncode == 1, proc.stderr
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("lfpk_hpc: error:")]
    assert len(line) == 1 and "block P[" in line[0] and "failed on rank 1" in line[0]


def test_validate_rank_0_fails_while_the_other_waits(tmp_path):
    # the original hang: rank 0 failed in the comparison, rank 1 waited forever
    cmd = mpirun_command(
        2,
        "validate",
        HAGEN,
        "--out",
        "v",
        "--scale",
        "0.005",
        "--tstop",
        "100",
        "--transient",
        "20",
    )
    proc, _ = run_with_fault(cmd, tmp_path, "validate:compare@0")
    assert_one_clear_error(proc, "validate:compare", 0)
    assert "aborted" not in proc.stderr  # rank 1 waits in the agreement and hears of it


def test_validate_bad_window_fails_before_simulating(tmp_path):
    cmd = mpirun_command(2, "validate", HAGEN, "--out", "v", "--scale", "0.01", "--tstop", "20")
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=mpi_env(), capture_output=True, text=True, timeout=HANG_S
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--tstop = 20" in proc.stderr and "--transient" in proc.stderr
    assert "building" not in proc.stdout  # nothing was simulated
    assert time.perf_counter() - t0 < HANG_S


def test_predict_rank_0_fails(tmp_path):
    kernels = tmp_path / "k.h5"
    subprocess.run(
        mpirun_command(1, HAGEN, "--out", str(kernels)),
        env=mpi_env(),
        capture_output=True,
        check=True,
        timeout=HANG_S,
    )
    np.savez(tmp_path / "s.npz", E=np.array([1.0, 2.0]), I=np.array([3.0]))
    cmd = mpirun_command(2, "predict", kernels, tmp_path / "s.npz", "--out", "p.h5")
    proc, _ = run_with_fault(cmd, tmp_path, "predict@0")
    assert_one_clear_error(proc, "predict", 0)
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=mpi_env(), capture_output=True, text=True, timeout=HANG_S
    )
    assert proc.returncode == 0, proc.stderr  # and without the fault, rank 0 writes it
    assert (tmp_path / "p.h5").exists()


@pytest.mark.parametrize("fault", ["setup@1", "task@1", "setup@0"])
def test_scan_rank_failure_ends_every_rank(tmp_path, fault):
    scan = tmp_path / "s.py"
    scan.write_text(
        "from lfpk_hpc.scan import Scan\n"
        f"scan = Scan(params={str(HAGEN)!r}, product={{'kernel.tau': [50.0, 60.0]}})\n"
    )
    proc, took = run_with_fault(mpirun_command(2, "scan", scan, "--out", "s.h5"), tmp_path, fault)
    point, rank = fault.split("@")
    if point == "task":  # a failing task drains the farm: the ranks agree, no abort
        assert proc.returncode == 1, proc.stderr
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("lfpk_hpc: error:")]
        assert len(lines) == 1 and f"failed on rank {rank}" in lines[0], proc.stderr
        assert "of point" in lines[0] and "continue with --resume" in lines[0]
    else:
        assert_one_clear_error(proc, point, int(rank))
    assert took < HANG_S
