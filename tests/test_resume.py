"""A run killed with SIGKILL at random points is completed by --resume, bit for bit."""

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ROOT, assert_same_kernel_files, lfpk, mpi_env, mpirun_command

MANY = ROOT / "tests" / "data" / "many_tasks.py"  # 16 tasks


def run(cmd, cwd, timeout=300):
    return subprocess.run(
        cmd, cwd=cwd, env=mpi_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("reference")
    proc = run(lfpk(MANY, "--out", "k.h5"), cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cwd / "k.h5"


def _kill_everything_in(cwd: Path) -> None:
    """SIGKILL every process whose working directory is ``cwd`` (the run's ranks)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{pid}/cwd") == str(cwd):
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def kill_part_way(cmd, cwd, n_done, delay):
    """Start ``cmd``, SIGKILL it and its ranks ``delay`` s after the ``n_done``-th
    finished task (0: right after the task list is printed). Returns tasks seen done."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=mpi_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = 0
    for line in proc.stdout:
        if " done on rank " in line:
            seen += 1
        if (n_done == 0 and line.startswith("ranks:")) or (n_done and seen >= n_done):
            break
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    _kill_everything_in(cwd)
    proc.wait()
    proc.stdout.close()
    return seen


LAUNCHES = {
    "serial": lambda *a: lfpk(*a),
    "mpirun-2": lambda *a: mpirun_command(2, *a),
}


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize("launch", sorted(LAUNCHES))
def test_killed_run_resumes_to_identical_file(reference, tmp_path, launch, seed):
    rng = random.Random(seed)
    n_done = rng.choice([0, 1, 3, 6, 9])
    delay = rng.uniform(0.0, 0.12)
    cmd = LAUNCHES[launch](MANY, "--out", "k.h5")
    seen = kill_part_way(cmd, tmp_path, n_done, delay)
    parts = tmp_path / "k.h5.parts"
    assert parts.is_dir(), f"the run finished before it was killed ({seen} tasks seen)"
    proc = run(LAUNCHES[launch](MANY, "--out", "k.h5", "--resume"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resume:" in proc.stdout
    assert_same_kernel_files(reference, tmp_path / "k.h5")
    assert not parts.exists()


def test_resume_refuses_other_parameters(tmp_path):
    readme = ROOT / "params" / "lfpykernels_readme.py"
    assert run(lfpk(readme, "--out", "k.h5"), tmp_path).returncode == 0
    proc = run(lfpk(ROOT / "params" / "hagen2022.py", "--out", "k.h5", "--resume"), tmp_path)
    assert proc.returncode == 2
    assert "other parameters" in proc.stderr and "params hash" in proc.stderr


def test_resume_of_finished_or_absent_file(reference, tmp_path):
    # nothing to resume: a new run
    proc = run(lfpk(MANY, "--out", "k.h5", "--resume"), tmp_path)
    assert proc.returncode == 0 and "nothing to resume" in proc.stdout
    assert_same_kernel_files(reference, tmp_path / "k.h5")
    # a finished file: nothing is computed again
    proc = run(lfpk(MANY, "--out", "k.h5", "--resume"), tmp_path)
    assert (
        proc.returncode == 0
        and "0 tasks to compute in 0 units (runs of one Y), 16 already done" in proc.stdout
    )
    assert " done on rank " not in proc.stdout
    assert_same_kernel_files(reference, tmp_path / "k.h5")


def test_unreadable_file_is_rebuilt_from_checkpoints(reference, tmp_path):
    seen = kill_part_way(lfpk(MANY, "--out", "k.h5"), tmp_path, 4, 0.0)
    assert seen >= 4
    (tmp_path / "k.h5").write_bytes(b"not an HDF5 file")  # what a killed writer may leave
    proc = run(lfpk(MANY, "--out", "k.h5", "--resume"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "unreadable" in proc.stdout
    assert_same_kernel_files(reference, tmp_path / "k.h5")
