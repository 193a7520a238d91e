"""A run killed with SIGKILL at random points is completed by --resume, bit for bit,
computing exactly the tasks that had no checkpoint."""

import json
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
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


def checkpointed(parts: Path) -> dict:
    """(X, Y) → metadata of every whole checkpoint in ``parts`` (read here from the
    files, not with the store's reader, which --resume itself uses)."""
    out = {}
    for path in parts.glob("task_*.npz"):
        try:
            with np.load(path) as z:
                meta = json.loads(z["meta"].tobytes().decode())
        except Exception:  # noqa: BLE001 - a checkpoint that is not whole is none
            continue
        out[(meta["X"], meta["Y"])] = meta
    return out


#: a task's progress line; not anchored at a line start: under mpirun the ranks' lines
#: can run together (print writes the text and its newline separately)
TASK_LINE = re.compile(r"\[(\d+)/(\d+)\] (\S+)->(\S+) done on rank (\d+) in (\d+\.\d{3}) s")


def assert_resumed_exactly(stdout: str, before: dict, out: Path, n_tasks: int) -> None:
    """The resumed run computed exactly the tasks without a checkpoint, each once,
    said so, and the file holds the checkpoints' times and ranks for the others
    and the printed ones for these."""
    n_done = len(before)
    m = re.search(r"(\d+) tasks to compute in \d+ units [^,]*, (\d+) already done", stdout)
    assert m, stdout
    assert (int(m.group(1)), int(m.group(2))) == (n_tasks - n_done, n_done), m.group(0)
    if n_done:
        assert f"resume: {n_done} finished tasks in the checkpoints" in stdout
    lines = TASK_LINE.findall(stdout)
    ran = [(X, Y) for _i, _n, X, Y, _r, _t in lines]
    assert len(ran) == len(set(ran)) == n_tasks - n_done, stdout
    assert sorted(int(i) for i, *_ in lines) == list(range(1, n_tasks - n_done + 1))
    assert {int(n) for _i, n, *_ in lines} <= {n_tasks - n_done}
    with h5py.File(out, "r") as f:
        g = f["tasks"]
        rows = {
            (x.decode(), y.decode()): i
            for i, (x, y) in enumerate(zip(g["X"][...], g["Y"][...], strict=True))
        }
        assert set(ran) == set(rows) - set(before)
        columns = g["timings"].attrs["columns"].split(",")
        for key, meta in before.items():
            i = rows[key]
            assert g["rank"][i] == meta["rank"] and g["wall_time_s"][i] == meta["wall_time_s"]
            np.testing.assert_array_equal(
                g["timings"][i], [meta["timings"].get(c, np.nan) for c in columns]
            )
        for _i, _n, X, Y, rank, seconds in lines:
            i = rows[(X, Y)]
            assert g["rank"][i] == int(rank), (X, Y)
            assert f"{g['wall_time_s'][i]:.3f}" == seconds, (X, Y)
            assert g["timings"][i][columns.index("total")] == g["wall_time_s"][i]
        assert g["complete"][...].all()


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
    before = checkpointed(parts)
    assert len(before) >= seen  # every task reported done had its checkpoint first
    proc = run(LAUNCHES[launch](MANY, "--out", "k.h5", "--resume"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resume:" in proc.stdout
    assert_resumed_exactly(proc.stdout, before, tmp_path / "k.h5", 16)
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
    before = checkpointed(tmp_path / "k.h5.parts")
    assert len(before) >= 4
    (tmp_path / "k.h5").write_bytes(b"not an HDF5 file")  # what a killed writer may leave
    proc = run(lfpk(MANY, "--out", "k.h5", "--resume"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "unreadable" in proc.stdout
    assert_resumed_exactly(proc.stdout, before, tmp_path / "k.h5", 16)
    assert_same_kernel_files(reference, tmp_path / "k.h5")
