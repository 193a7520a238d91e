"""Real MPI ranks: same kernels for any rank count and either write path; failures."""

import re
import subprocess

import h5py
import numpy as np
import pytest
from conftest import ROOT, assert_same_kernel_files, lfpk, missing, mpi_env, mpirun_command

pytestmark = pytest.mark.mpi

HAGEN = ROOT / "params" / "hagen2022.py"  # 4 tasks with two different cells


def run(cmd, cwd, timeout=240):
    proc = subprocess.run(
        cmd, cwd=cwd, env=mpi_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    return proc


@pytest.fixture(scope="module")
def serial_file(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("serial")
    proc = run(lfpk(HAGEN, "--out", "k.h5"), cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cwd / "k.h5"


@pytest.mark.parametrize(
    "ranks,write_path",
    [(1, "auto"), (2, "mpio"), (2, "rank0"), (3, "auto"), (5, "rank0"), (5, "mpio")],
    ids=lambda v: str(v),
)
def test_same_file_for_any_rank_count_and_write_path(serial_file, tmp_path, ranks, write_path):
    if write_path == "mpio" and not h5py.get_config().mpi:
        missing(
            "h5py with MPI",
            "h5py is built without MPI: no parallel HDF5 write path (scripts/setup.sh builds it)",
        )
    proc = run(mpirun_command(ranks, HAGEN, "--out", "k.h5", "--write-path", write_path), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "k.h5"
    assert_same_kernel_files(serial_file, out)
    with h5py.File(out, "r") as f:
        assert f.attrs["ranks"] == ranks
        expected = (
            "serial"
            if ranks == 1
            else ("mpio" if write_path in ("mpio", "auto") and h5py.get_config().mpi else "rank0")
        )
        assert f.attrs["write_path"] == expected
        used = set(f["tasks/rank"][...].tolist())
        assert used <= set(range(ranks)) and -1 not in used
    # 5 ranks for 4 tasks: one rank has nothing to do and still finishes cleanly
    assert proc.stdout.count(" done on rank ") == 4
    assert not (tmp_path / "k.h5.parts").exists()


MANY = ROOT / "tests" / "data" / "many_tasks.py"  # 16 tasks of about 0.1 s


def test_more_than_one_rank_computes(tmp_path):
    """With 2 ranks and 16 tasks both ranks compute: /tasks/rank of the file names
    both, and each rank printed as many 'done on rank' lines as the file gives it.
    (Rank 1 would have to stall for the whole run, about 1.6 s of work, to get
    nothing.)"""
    proc = run(mpirun_command(2, MANY, "--out", "k.h5"), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with h5py.File(tmp_path / "k.h5", "r") as f:
        ranks = f["tasks/rank"][...]
        assert f["tasks/complete"][...].all() and ranks.size == 16
    counts = np.bincount(ranks, minlength=2)
    assert counts.size == 2 and np.all(counts > 0), counts
    printed = [int(r) for r in re.findall(r" done on rank (\d+) in ", proc.stdout)]
    assert np.array_equal(np.bincount(printed, minlength=2), counts), proc.stdout


def error_line(stderr):
    """Our one-line error (mpirun adds its own lines after it)."""
    lines = [ln for ln in stderr.splitlines() if ln.startswith("lfpk_hpc: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def _variant(tmp_path, body):
    params = tmp_path / "variant_params.py"
    params.write_text(
        "import dataclasses, importlib.util\n"
        "from lfpk_hpc.params import Placement, norm\n"
        f"spec = importlib.util.spec_from_file_location('h', {str(HAGEN)!r})\n"
        "h = importlib.util.module_from_spec(spec); spec.loader.exec_module(h)\n" + body
    )
    return params


def _clean(tmp_path):
    for f in tmp_path.glob("k.h5*"):
        subprocess.run(["rm", "-rf", str(f)], check=True)


@pytest.mark.parametrize("launch", ["serial", "mpirun -n 2"])
def test_bad_parameter_inside_a_task_is_bad_input(tmp_path, launch):
    """E->I places its synapses in a layer far above the I cell, so its depth profile is
    zero on every section it names, which only the built cell shows: the error names the
    pathway, exits with 2 (bad input) and does not advise --resume (a fixed params file
    is a new run). (A placement naming no section of the cell is stopped at load:
    tests/test_newcomer.py.)"""
    params = _variant(
        tmp_path,
        (
            "from lfpk_hpc.params import Distribution\n"
            "far = Distribution('uniform', {'loc': 5000.0, 'scale': 10.0})\n"
            "axon = Placement(('soma',), (far,))\n"
            "cons = tuple(dataclasses.replace(c, placement=axon)"
            " if (c.pre, c.post) == ('E', 'I') else c for c in h.model.connections)\n"
            "model = dataclasses.replace(h.model, connections=cons)\n"
        ),
    )
    cmd = (
        lfpk(params, "--out", "k.h5")
        if launch == "serial"
        else mpirun_command(2, params, "--out", "k.h5", "--write-path", "rank0")
    )
    proc = run(cmd, tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = error_line(proc.stderr)
    assert re.match(r"lfpk_hpc: error: task [EI]->I failed on rank \d: connections\[E->I\]", err)
    assert "depth profile is zero" in err and "resume" not in err
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("launch", ["serial", "mpirun -n 2"])
def test_failing_task_names_the_pathway_and_keeps_finished_kernels(serial_file, tmp_path, launch):
    """E->I fails (a fault injected into that task on whichever rank takes it): the
    message names the pathway and the rank, the other finished kernels are kept in the
    file and the checkpoints, and --resume then computes what is missing, giving the
    file of an uninterrupted run."""
    import os

    env = {**mpi_env(), "LFPK_HPC_FAULT": "task:E->I"}
    cmd = (
        lfpk(HAGEN, "--out", "k.h5")
        if launch == "serial"
        else mpirun_command(2, HAGEN, "--out", "k.h5", "--write-path", "rank0")
    )
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = error_line(proc.stderr)
    assert re.match(r"lfpk_hpc: error: task E->I failed on rank \d", err), err
    assert "fault injected at 'task:E->I'" in err and "--resume" in err
    with h5py.File(tmp_path / "k.h5", "r") as f:
        assert not f.attrs["complete"]
        done = {
            (x.decode(), y.decode())
            for x, y, c in zip(
                f["tasks/X"][...], f["tasks/Y"][...], f["tasks/complete"][...], strict=True
            )
            if c
        }
        assert ("E", "I") not in done and len(done) >= 1
        for X, Y in done:
            assert f[f"kernels/lfp/{Y}/{X}"].attrs["complete"]
            assert np.abs(f[f"kernels/lfp/{Y}/{X}"][...]).max() > 0
        assert not f["kernels/lfp/I/E"].attrs["complete"]
    assert (tmp_path / "k.h5.parts").is_dir()  # checkpoints stay for --resume
    env.pop("LFPK_HPC_FAULT")
    assert os.environ.get("LFPK_HPC_FAULT") is None
    proc = subprocess.run(
        [*cmd, "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{4 - len(done)} tasks to compute" in proc.stdout
    assert f"{len(done)} already done" in proc.stdout
    assert_same_kernel_files(serial_file, tmp_path / "k.h5")


def test_broken_morphology_fails_with_neurons_reason(tmp_path):
    (tmp_path / "broken.hoc").write_text("create soma, dend, apic\nsoma { this is not hoc }\n")
    params = _variant(
        tmp_path,
        (
            "pops = tuple(dataclasses.replace(p, cell=dataclasses.replace(p.cell, "
            "morphology='broken.hoc')) if p.name == 'I' else p for p in h.model.populations)\n"
            "model = dataclasses.replace(h.model, populations=pops)\n"
        ),
    )
    proc = run(mpirun_command(2, params, "--out", "k.h5"), tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = error_line(proc.stderr)
    assert err.startswith("lfpk_hpc: error: task ") and "->I failed on rank" in err
    assert "hoc_Load_file broken.hoc" in err


def test_serial_launch_works_without_mpi4py(tmp_path):
    code = (
        "import sys; sys.modules['mpi4py'] = None\n"
        "from lfpk_hpc.cli import main\n"
        f"sys.exit(main([{str(HAGEN)!r}, '--out', 'k.h5']))\n"
    )
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI"))}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "write path serial" in proc.stdout
