"""The job scripts of jobscripts/ and ``python -m lfpk_hpc submit``.

Tests marked ``slurm`` run against a real one-node Slurm cluster that a session fixture
starts on this host (tests/slurm_cluster.sh: slurmctld + slurmd, auth/none); they are
skipped, with the reason, where it cannot be started: Slurm not installed (a failure
with LFPK_REQUIRE_FULL=1), or a machine that cannot host it (not root, ports 6817/6818
in use, no cgroup filesystem; a skip even then). The others check ``submit --dry-run``,
the sizes from plan and the error paths (with a stand-in sbatch where sbatch must fail).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
from conftest import (
    ROOT,
    assert_same_kernel_files,
    environment_limit,
    lfpk,
    missing,
    mpi_env,
    mpirun_command,
)

MANY = ROOT / "tests" / "data" / "many_tasks.py"  # 16 tasks, about a second
HAGEN = ROOT / "params" / "hagen2022.py"  # 4 tasks
JOBSCRIPTS = ROOT / "jobscripts"
CLUSTER = ROOT / "tests" / "slurm_cluster.sh"
ENDED = {
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
}
SETTING_KEYS = (
    "LFPK_ACCOUNT",
    "LFPK_PARTITION",
    "LFPK_SBATCH_ARGS",
    "LFPK_MODULES",
    "LFPK_VENV",
    "LFPK_ACTIVATE",
    "LFPK_PYTHON",
    "LFPK_SRUN_MPI",
    "LFPK_SRUN_ARGS",
    "LFPK_JOBSCRIPTS",
    "LFPK_CONFIG",
)

#: a params file with 48 tasks of about 0.3-0.7 s each (many_tasks.py with 24 sources,
#: finer segments and a finer dt): long enough to catch part-way
SLOW_PARAMS = f"""
import dataclasses
import importlib.util
import json

from lfpk_hpc.params import Population, norm

_spec = importlib.util.spec_from_file_location("_many", {str(MANY)!r})
_m = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_m)
base = _m.model
cells = [
    dataclasses.replace(p, cell=dataclasses.replace(p.cell, lambda_f=20000.0))
    for p in (base.population("E"), base.population("I"))
]
sources = [Population(f"S{{k}}", N=1000 + 10 * k, nu=1.0 + k % 5) for k in range(24)]
connections = []
for k, src in enumerate(sources):
    for Y in ("E", "I"):
        t = base.connection(f"X{{k % 8}}", Y)
        connections.append(
            dataclasses.replace(
                t,
                pre=src.name,
                C=0.02 + 0.001 * k,
                placement=dataclasses.replace(t.placement, depth=(norm(-100.0 + 10.0 * k, 120.0),)),
            )
        )
model = dataclasses.replace(
    base,
    name="slow_tasks",
    populations=(*cells, *sources),
    connections=tuple(connections),
    kernel=dataclasses.replace(base.kernel, dt=2**-8),
)
"""


def clean_env(tmp_path, **extra) -> dict:
    """The environment without the user's lfpk_hpc Slurm settings or config file."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SETTING_KEYS and not k.startswith("SBATCH_") and not k.startswith("SLURM_")
    }
    env["XDG_CONFIG_HOME"] = str(tmp_path / "no-config")
    env["PYTHONUNBUFFERED"] = "1"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def submit(*args, env, cwd, timeout=180):
    return subprocess.run(
        lfpk("submit", *args),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_error_line(proc, code):
    assert proc.returncode == code, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lfpk_hpc: error: "), proc.stderr
    return lines[0]


def job_ids(stdout: str) -> dict[str, str]:
    return dict(re.findall(r"^submitted (\w+) job (\d+)", stdout, re.M))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Copies of params/hagen2022.py and tests/data/many_tasks.py (same layout, so that
    many_tasks.py finds hagen2022.py), and the slow model built on them: jobs and direct
    runs then read the same parameters even if the checkout changes meanwhile."""
    root = tmp_path_factory.mktemp("models")
    (root / "params").mkdir()
    (root / "tests" / "data").mkdir(parents=True)
    hagen = Path(shutil.copy(HAGEN, root / "params" / "hagen2022.py"))
    many = Path(shutil.copy(MANY, root / "tests" / "data" / "many_tasks.py"))
    slow = root / "slow_tasks.py"
    slow.write_text(SLOW_PARAMS.replace(repr(str(MANY)), repr(str(many))))
    return {"hagen": hagen, "many": many, "slow": slow}


@pytest.fixture(scope="module")
def reference(models, tmp_path_factory):
    """many_tasks.py computed directly (one process)."""
    cwd = tmp_path_factory.mktemp("reference")
    proc = subprocess.run(
        lfpk(models["many"], "--out", "k.h5"),
        cwd=cwd,
        env=mpi_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cwd / "k.h5"


# --------------------------------------------------------------------------- no Slurm needed


def _common_part(path: Path) -> str:
    text = path.read_text()
    start = text.index("# ---- common part")
    end = text.index("# ---- end of the common part ----")
    return text[start:end]


def test_job_scripts_share_their_common_part():
    parts = {p.name: _common_part(p) for p in sorted(JOBSCRIPTS.glob("*.sbatch"))}
    assert sorted(parts) == [
        "groundtruth.sbatch",
        "hybrid.sbatch",
        "kernels.sbatch",
        "pd14spikes.sbatch",
        "scan.sbatch",
        "scansummary.sbatch",
        "scanvalidate.sbatch",
        "validate.sbatch",
    ]
    assert len(set(parts.values())) == 1, "the common parts of the job scripts differ"
    for name in parts:
        proc = subprocess.run(["bash", "-n", JOBSCRIPTS / name], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert os.access(JOBSCRIPTS / name, os.X_OK)
    text = (JOBSCRIPTS / "kernels.sbatch").read_text()
    assert "--resume" in text and "set -euo pipefail" in text and "trap " in text
    # nothing site-specific in the scripts
    assert not re.search(r"#SBATCH\s+(-A|--account|-p\b|--partition|--time|-t\b)", text)


def _fake_sbatch(folder: Path, fail_at: int = 0) -> Path:
    """An sbatch stand-in that records its arguments and prints job ids 101, 102, ...;
    with ``fail_at`` = k its k-th call fails like sbatch does."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "sbatch"
    exe.write_text(
        "#!/usr/bin/env bash\n"
        f'log={folder}/calls; n=$(( $(cat "$log" 2>/dev/null | wc -l) + 1 ))\n'
        'echo "$*" >>"$log"\n'
        f"if (( n == {fail_at} )); then\n"
        '  echo "sbatch: error: Batch job submission failed: Invalid account or '
        'account/partition combination specified" >&2; exit 1\n'
        "fi\n"
        'echo "$((100 + n))"\n'
    )
    exe.chmod(0o755)
    return exe


def test_full_scale_pd14_chain_gives_nest_the_threads_it_needs(tmp_path):
    """At full scale PD14's 3·10⁸ synapses need 3 NEST threads (134,217,726 connections
    per thread at most): the spikes job asks for 3 CPUs and runs 3 threads; at the
    default scale 1 thread and no --cpus-per-task."""
    env = clean_env(tmp_path)
    potjans = ROOT / "params" / "potjans.py"
    lines = {}
    for scale in ("1", None):
        extra = ("--scale", scale) if scale else ()
        proc = submit(potjans, "--dry-run", "--validate", *extra, env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lines[scale] = next(
            ln for ln in proc.stdout.splitlines() if ln.startswith("spikes=$(sbatch ")
        )
    assert "--cpus-per-task=3" in lines["1"] and lines["1"].rstrip(")").endswith("--threads 3")
    assert "--cpus-per-task" not in lines[None] and "--threads 1" in lines[None]
    # the hybrid and the validation share the in-degrees (default: full)
    stages = [ln for ln in proc.stdout.splitlines() if ln.startswith(("hybrid=", "validate="))]
    assert len(stages) == 2 and all("--in-degrees full" in ln for ln in stages), stages
    proc = submit(HAGEN, "--dry-run", "--validate", "--in-degrees", "full", env=env, cwd=tmp_path)
    assert proc.returncode == 2 and "--in-degrees = 'full' is invalid for hagen2022.py" in (
        proc.stderr
    )


def test_dry_run_prints_the_chain_with_site_settings_and_plan_sizes(tmp_path):
    cfg = tmp_path / "slurm.env"
    cfg.write_text(
        "# site settings\n"
        "LFPK_ACCOUNT=proj42\n"
        "LFPK_PARTITION=batch\n"
        "export LFPK_MODULES='Python/3.11 OpenMPI'\n"
        'LFPK_SBATCH_ARGS="--qos=low --constraint=cpu"\n'
        "LFPK_SRUN_MPI=pmi2\n"
    )
    env = clean_env(tmp_path, LFPK_PARTITION="dc-cpu")  # the environment beats the file
    args = ("--validate", "--scale", "0.05", "--tstop", "500", "--logs", "joblogs")
    proc = submit(HAGEN, "--dry-run", "--config", cfg, *args, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    # sizes with their reasons, as comments
    assert "# kernels: " in out and "expected makespan" in out
    assert "time limit 0:10:00: max(10.0 min, 4 × makespan + 5.0 min start-up)" in out
    assert "# validate: " in out and "afterok" in out
    assert f"export LFPK_PYTHON={sys.executable}" in out  # no LFPK_VENV/ACTIVATE/PYTHON set
    assert "export LFPK_MODULES='Python/3.11 OpenMPI'" in out
    assert "export LFPK_SRUN_MPI=pmi2" in out
    assert f"export LFPK_CONFIG={cfg}" in out
    kline = next(ln for ln in out.splitlines() if ln.startswith("kernels=$(sbatch "))
    vline = next(ln for ln in out.splitlines() if ln.startswith("validate=$(sbatch "))
    logs = tmp_path / "joblogs"
    for word in (
        "--parsable",
        "--job-name=lfpk-kernels-hagen2022",
        "--ntasks=1",
        "--time=0:10:00",
        f"--output={logs}/%x-%j.out",
        "--account=proj42",
        "--partition=dc-cpu",
        "--qos=low",
        "--constraint=cpu",
        f"{JOBSCRIPTS}/kernels.sbatch {HAGEN} {tmp_path}/kernels/hagen2022.h5)",
    ):
        assert word in kline, (word, kline)
    assert "--dependency" not in kline
    for word in (
        "--job-name=lfpk-validate-hagen2022",
        "--ntasks=2",
        "--time=2:00:00",
        "--dependency=afterok:${kernels}",
        "--kill-on-invalid-dep=yes",
        f"{JOBSCRIPTS}/validate.sbatch {HAGEN} {tmp_path}/validation/hagen2022 "
        "--scale 0.05 --tstop 500.0)",
    ):
        assert word in vline, (word, vline)

    # the printed commands are a working script: run them with a stand-in sbatch
    fake = _fake_sbatch(tmp_path / "bin")
    run = subprocess.run(
        ["bash", "-c", out],
        env={**env, "PATH": f"{fake.parent}:{env['PATH']}"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "job ids: 101 102"
    calls = (fake.parent / "calls").read_text().splitlines()
    assert "--dependency=afterok:101" in calls[1] and "--dependency" not in calls[0]
    assert logs.is_dir()


def test_sizes_from_plan(tmp_path, monkeypatch):
    from lfpk_hpc import cost, params, slurm

    model = params.load(HAGEN)
    tasks = [(X, Y) for X, Y in model.tasks() if model.connection(X, Y).C > 0]
    # a model that needs about an hour per task: more ranks, a longer time limit
    monkeypatch.setattr(cost, "SECONDS_PER_SEGMENT_STEP", cost.SECONDS_PER_SEGMENT_STEP * 3e6)
    costs = cost.estimate(model, tasks)
    total = sum(c.seconds for c in costs)
    largest = max(c.seconds for c in costs)
    assert largest > 1800
    one = slurm.size_kernels(model, tmp_path / "k.h5", 1, None)
    assert one.ranks == 1
    assert one.time_s == int(-(-(4 * total + 300) // 60) * 60)  # 4 × makespan + 5 min, minutes
    auto = slurm.size_kernels(model, tmp_path / "k.h5", None, None)
    assert 1 < auto.ranks <= len(tasks)
    assert 4 * largest + 300 <= auto.time_s < one.time_s
    assert any("the fewest with an expected makespan" in n for n in auto.notes)
    given = slurm.size_kernels(model, tmp_path / "k.h5", 3, 5400)
    assert (given.ranks, given.time_s) == (3, 5400)
    assert slurm.format_time(given.time_s) == "1:30:00"
    assert slurm.format_time(2 * 86400 + 61) == "2-00:01:01"
    for text, seconds in [("30", 1800), ("1:30", 90), ("2:00:00", 7200), ("1-12", 129600)]:
        assert slurm.parse_time(text) == seconds


def test_sizes_use_an_earlier_run(models, reference, tmp_path):
    from lfpk_hpc import params, slurm

    model = params.load(models["many"])
    sizing = slurm.size_kernels(model, reference, None, None)
    assert any("all 16 tasks are done already" in n for n in sizing.notes), sizing.notes
    assert sizing.time_s == 600
    other = params.load(HAGEN)
    with pytest.raises(slurm.SubmitError, match="other parameters"):
        slurm.size_kernels(other, reference, None, None)


def test_settings_from_config_and_environment(tmp_path):
    from lfpk_hpc import slurm

    cfg = tmp_path / "c.env"
    cfg.write_text("LFPK_ACCOUNT=a1\nLFPK_VENV=/opt/venv\n")
    values, used = slurm.resolve_settings(str(cfg), {"LFPK_ACCOUNT": "a2"})
    assert values == {"LFPK_ACCOUNT": "a2", "LFPK_VENV": "/opt/venv"} and used == cfg
    values, used = slurm.resolve_settings(None, {"LFPK_CONFIG": str(cfg)})
    assert values["LFPK_ACCOUNT"] == "a1"
    (tmp_path / "bad.env").write_text("LFPK_ACCOUT=typo\n")
    with pytest.raises(slurm.SubmitError, match="unknown setting LFPK_ACCOUT"):
        slurm.resolve_settings(str(tmp_path / "bad.env"), {})


def test_submit_errors(reference, tmp_path):
    env = clean_env(tmp_path)
    cases = [
        (("--time", "soon"), "--time 'soon' is invalid"),
        (("--ranks", "0"), "--ranks = 0 is invalid"),
        (("--scale", "0.1"), "--scale only go with --validate"),
        (("--config", "missing.env"), "--config missing.env: no such file"),
    ]
    for extra, message in cases:
        line = one_error_line(submit(HAGEN, "--dry-run", *extra, env=env, cwd=tmp_path), 2)
        assert message in line, line
    line = one_error_line(submit("nothing.py", "--dry-run", env=env, cwd=tmp_path), 2)
    assert "the params file nothing.py does not exist" in line
    # an output of other parameters
    line = one_error_line(submit(HAGEN, "--out", reference, "--dry-run", env=env, cwd=tmp_path), 2)
    assert "holds kernels of other parameters" in line
    # no sbatch on PATH
    empty = tmp_path / "empty"
    empty.mkdir()
    line = one_error_line(submit(HAGEN, env={**env, "PATH": str(empty)}, cwd=tmp_path), 2)
    assert "sbatch is not installed" in line
    # sbatch fails: exit 1 with its message; a stage already submitted is named
    for fail_at, extra in [(1, ()), (2, ("--validate",))]:
        fake = _fake_sbatch(tmp_path / f"bin{fail_at}", fail_at=fail_at)
        penv = {**env, "PATH": f"{fake.parent}:{env['PATH']}"}
        proc = submit(HAGEN, *extra, env=penv, cwd=tmp_path)
        line = one_error_line(proc, 1)
        assert "sbatch failed for stage " + ("kernels" if fail_at == 1 else "validate") in line
        assert "Invalid account or account/partition combination" in line
        if fail_at == 2:
            assert "already submitted: job 101 (kernels)" in line and "scancel 101" in line
            assert "submitted kernels job 101" in proc.stdout


# --------------------------------------------------------------------------- a real Slurm


class Cluster:
    def __init__(self, folder: Path):
        self.folder = folder
        self.conf = folder / "slurm.conf"

    def env(self, tmp_path, **extra) -> dict:
        return clean_env(tmp_path, SLURM_CONF=self.conf, **extra)

    def run(self, *cmd, env=None):
        env = env or {**os.environ, "SLURM_CONF": str(self.conf)}
        return subprocess.run(
            [str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=60
        )

    def job(self, job_id) -> dict[str, str]:
        proc = self.run("scontrol", "show", "job", "-o", job_id)
        assert proc.returncode == 0, proc.stderr
        return dict(re.findall(r"(\w+)=(\S*)", proc.stdout))

    def wait(self, job_id, timeout=180.0, states=ENDED, cancel=False) -> dict[str, str]:
        """The job's record once it is in one of ``states``; after ``timeout`` s it is
        cancelled and, unless ``cancel``, the test fails."""
        end = time.monotonic() + timeout
        while True:
            info = self.job(job_id)
            if info["JobState"] in states:
                return info
            if time.monotonic() > end:
                self.run("scancel", job_id)
                if cancel:
                    return self.wait(job_id, timeout=60)
                raise AssertionError(f"job {job_id} still {info['JobState']} after {timeout} s")
            time.sleep(0.25)


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm")
    proc = subprocess.run(
        ["bash", str(CLUSTER), "start", str(folder)], capture_output=True, text=True, timeout=120
    )
    reason = proc.stdout.strip() or proc.stderr.strip()
    if proc.returncode == 3:  # not installed
        missing("Slurm", reason)
    if proc.returncode == 4:  # not root, ports taken, no cgroup filesystem
        environment_limit(reason)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        yield Cluster(folder)
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(folder)], timeout=120, check=False)


def read_log(stdout: str, stage: str) -> Path:
    m = re.search(rf"^submitted {stage} job \d+.*; log (\S+)$", stdout, re.M)
    assert m, stdout
    return Path(m.group(1))


def _header_ok(log: str, stage: str, params: Path) -> None:
    assert log.startswith(f"==== lfpk_hpc stage {stage} ====\n"), log[:300]
    for key in ("job:", "host:", "started:"):
        assert re.search(rf"^{key} +\S", log, re.M), key
    assert f"params:    {params}\n" in log


@pytest.mark.slurm
def test_kernels_job_equals_direct_run(slurm, models, reference, tmp_path):
    t0 = time.monotonic()
    env = slurm.env(tmp_path)
    proc = submit(
        models["many"], "--ranks", "2", "--out", "k.h5", "--logs", "logs", env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = job_ids(proc.stdout)
    assert list(ids) == ["kernels"] and f"job ids: {ids['kernels']}" in proc.stdout
    info = slurm.wait(ids["kernels"], timeout=120)
    log_path = read_log(proc.stdout, "kernels")
    assert log_path.parent == tmp_path / "logs"
    log = log_path.read_text()
    assert info["JobState"] == "COMPLETED", log
    assert info["NumTasks"] == "2" and info["TimeLimit"] == "00:10:00"
    _header_ok(log, "kernels", models["many"])
    assert "ranks: 2, all computing" in log  # srun --mpi=pmix gave one MPI job of 2 ranks
    assert re.search(r"stage kernels finished OK after \d+ s\n$", log), log[-500:]
    assert_same_kernel_files(reference, tmp_path / "k.h5")
    print(f"kernels job on 2 ranks: {time.monotonic() - t0:.1f} s")


def _rank_pids(out: Path) -> list[int]:
    """The python ranks computing into ``out`` (not srun, which has the same arguments)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and Path(argv[0].decode()).name.startswith("python") and str(out).encode() in argv:
            pids.append(int(entry))
    return pids


@pytest.mark.slurm
@pytest.mark.slow
def test_time_limit_then_resubmit_resumes_to_direct_run(slurm, models, tmp_path):
    """A job stopped by its time limit part-way and submitted again gives the kernels of
    an uninterrupted run. Slurm's smallest time limit is one minute (checked every 30 s),
    so the job's ranks are frozen (SIGSTOP) after five tasks: the limit then certainly
    hits them part-way on any machine; Slurm continues (SIGCONT) and terminates them."""
    t0 = time.monotonic()
    params = models["slow"]
    out = tmp_path / "k.h5"
    env = slurm.env(tmp_path)
    proc = submit(params, "--ranks", "2", "--time", "1", "--out", out, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "time limit 0:01:00 (--time)" in proc.stdout
    job = job_ids(proc.stdout)["kernels"]
    log_path = read_log(proc.stdout, "kernels")
    stopped, deadline = [], time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # freeze the ranks after 5 finished tasks
            text = log_path.read_text() if log_path.exists() else ""
            assert "wrote " not in text, "the job finished before it could be stopped"
            if text.count(" done on rank ") >= 5:
                pids = _rank_pids(out)
                for pid in pids:
                    os.kill(pid, signal.SIGSTOP)
                stopped = pids
                if len(pids) == 2:
                    break
            time.sleep(0.05)
        assert len(stopped) == 2, f"found ranks {stopped}"
        # the direct run, on the cores the frozen job does not use
        ref = tmp_path / "ref"
        ref.mkdir()
        direct = subprocess.run(
            mpirun_command(2, params, "--out", "k.h5"),
            cwd=ref,
            env=mpi_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert direct.returncode == 0, direct.stdout + direct.stderr
        info = slurm.wait(job, timeout=150)
    finally:
        for pid in stopped:  # only if the test failed before the time limit
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
        slurm.run("scancel", job)
    log = log_path.read_text()
    assert info["JobState"] == "TIMEOUT", log
    done = log.count(" done on rank ")
    assert 5 <= done < 48
    assert re.search(
        r"FAILED: stage kernels exited with code \d+ after \d+ s while computing the kernels "
        r".*: the job reached its time limit",
        log,
    ), log[-1500:]
    assert f"finished tasks are kept in {out}.parts/: submit the same job again" in log
    assert (tmp_path / "k.h5.parts").is_dir()
    t_limit = time.monotonic() - t0

    # submitted again (default time): --resume computes only the missing tasks
    proc = submit(params, "--ranks", "2", "--out", out, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\d+ of 48 tasks are done already", proc.stdout), proc.stdout
    assert "time limit 0:10:00" in proc.stdout
    job2 = job_ids(proc.stdout)["kernels"]
    info = slurm.wait(job2, timeout=240)
    log2 = read_log(proc.stdout, "kernels").read_text()
    assert info["JobState"] == "COMPLETED", log2
    assert "resume: " in log2 and "already done" in log2
    assert log2.count(" done on rank ") <= 48 - 5
    assert "stage kernels finished OK" in log2
    assert_same_kernel_files(ref / "k.h5", out)
    assert not (tmp_path / "k.h5.parts").exists()
    print(f"time-limited job: {t_limit:.1f} s; with the resubmission {time.monotonic() - t0:.1f} s")


@pytest.mark.slurm
def test_failing_stage_log_and_dependent_job_removed(slurm, models, reference, tmp_path):
    """A kernels job that fails says so in its log (stage, exit code, the error), and the
    validation job chained after it (afterok) never runs."""
    cfg = tmp_path / "slurm.env"
    cfg.write_text('LFPK_SBATCH_ARGS="--hold"\n')  # held, so the output can be spoiled first
    env = slurm.env(tmp_path)
    out = tmp_path / "k.h5"
    proc = submit(
        models["hagen"],
        "--ranks",
        "2",
        "--out",
        out,
        "--validate",
        "--config",
        cfg,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = job_ids(proc.stdout)
    assert list(ids) == ["kernels", "validate"]
    v = slurm.job(ids["validate"])
    assert v["Dependency"].startswith(f"afterok:{ids['kernels']}"), v
    shutil.copy(reference, out)  # kernels of other parameters where the job writes
    assert slurm.run("scontrol", "release", ids["kernels"], ids["validate"]).returncode == 0
    info = slurm.wait(ids["kernels"], timeout=120)
    log = read_log(proc.stdout, "kernels").read_text()
    assert info["JobState"] == "FAILED" and info["ExitCode"].startswith("2:"), log
    _header_ok(log, "kernels", models["hagen"])
    assert "lfpk_hpc: error: cannot resume" in log and "other parameters" in log
    assert re.search(
        r"FAILED: stage kernels exited with code 2 after \d+ s while computing the kernels", log
    ), log[-1500:]
    v = slurm.wait(ids["validate"], timeout=60)
    assert v["JobState"] == "CANCELLED" and v["Reason"] == "DependencyNeverSatisfied", v
    assert not read_log(proc.stdout, "validate").exists()  # it never started


@pytest.mark.slurm
def test_validate_chain_runs_after_the_kernels(slurm, models, tmp_path):
    env = slurm.env(tmp_path)
    proc = submit(
        models["hagen"],
        "--ranks",
        "2",
        "--out",
        "k.h5",
        "--validate",
        "--scale",
        "0.005",
        "--tstop",
        "1000",
        "--validate-ranks",
        "2",
        "--validate-time",
        "5",
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = job_ids(proc.stdout)
    assert list(ids) == ["kernels", "validate"]
    assert f"submitted validate job {ids['validate']}, after job {ids['kernels']} succeeds" in (
        proc.stdout
    )
    assert f"job ids: {ids['kernels']} {ids['validate']}" in proc.stdout
    k = slurm.wait(ids["kernels"], timeout=120)
    assert k["JobState"] == "COMPLETED", read_log(proc.stdout, "kernels").read_text()
    # the validation starts only now; give it a minute, then stop it (its own tests are
    # elsewhere: here the chain and the log are checked)
    v = slurm.wait(ids["validate"], timeout=60, states=ENDED | {"RUNNING"})
    assert v["StartTime"] >= k["EndTime"]
    slurm.wait(ids["validate"], timeout=60, cancel=True)
    log = read_log(proc.stdout, "validate").read_text()
    _header_ok(log, "validate", models["hagen"])
    assert f"--out {tmp_path}/validation/hagen2022 --scale 0.005 --tstop 1000.0" in log
    assert "stage validate finished OK" in log or re.search(
        r"FAILED: stage validate exited with code \d+ after \d+ s while running python -m "
        r"lfpk_hpc validate",
        log,
    ), log[-1500:]


@pytest.mark.slurm
def test_pd14_validation_chain_spikes_hybrid_validate(slurm, tmp_path):
    """submit params/potjans.py --validate: NEST's point network, the hybrid ground truth
    and the validation run in order, each after the previous one succeeded, and the
    validation reuses the hybrid job's output (it does not simulate the cells again)."""
    env = slurm.env(tmp_path)
    proc = submit(
        ROOT / "params" / "potjans.py",
        "--out",
        "k.h5",
        "--validate",
        "--scale",
        "0.05",  # smaller PD14 networks fire too little in L2/3 to validate anything
        "--tstop",
        "500",
        "--in-degrees",
        "scaled",  # the chain is what is tested here; full in-degrees cost 20x the synapses
        "--validate-ranks",
        "2",
        "--validate-time",
        "10",
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = job_ids(proc.stdout)
    assert list(ids) == ["kernels", "spikes", "hybrid", "validate"]
    previous = None
    for stage in ids:
        info = slurm.wait(ids[stage], timeout=300)
        log = read_log(proc.stdout, stage).read_text()
        assert info["JobState"] == "COMPLETED", log[-2000:]
        assert f"stage {stage} finished OK" in log
        if previous is not None:
            assert info["StartTime"] >= previous["EndTime"]
        previous = info
    vout = tmp_path / "validation" / "potjans"
    metrics = json.loads((vout / "metrics.json").read_text())
    for probe in ("lfp", "cdm", "eeg"):
        assert metrics[probe]["r2_median_lowpass"] is not None
    assert set(metrics["per_population"]) == {
        "L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"
    }  # fmt: skip
    vlog = read_log(proc.stdout, "validate").read_text()
    assert "is a finished run of the same inputs; nothing to do" in vlog
    with h5py.File(vout / "hybrid" / "signals.h5", "r") as f:
        assert f.attrs["in_degrees"] == "scaled" and f.attrs["scale"] == 0.05
    assert "in-degrees</th><td>scaled" in (vout / "report.html").read_text()


@pytest.mark.slurm
def test_groundtruth_job_by_hand_with_a_config_file(slurm, models, tmp_path):
    cfg = tmp_path / "site.env"
    cfg.write_text(f"LFPK_PYTHON={sys.executable}\n")  # read by the job script itself
    env = slurm.env(tmp_path, LFPK_CONFIG=cfg)
    log = tmp_path / "gt.log"
    proc = slurm.run(
        "sbatch",
        "--parsable",
        "--ntasks=2",
        "--time=5",
        f"--output={log}",
        JOBSCRIPTS / "groundtruth.sbatch",
        models["hagen"],
        tmp_path / "gt",
        "--scale",
        "0.005",
        "--tstop",
        "1000",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    info = slurm.wait(proc.stdout.strip(), timeout=120)
    text = log.read_text()
    assert info["JobState"] == "COMPLETED", text
    _header_ok(text, "groundtruth", models["hagen"])
    assert f"python:    {sys.executable} (lfpk_hpc " in text
    assert "stage groundtruth finished OK" in text
    assert any((tmp_path / "gt").iterdir())


@pytest.mark.slurm
def test_sbatch_rejection_is_reported(slurm, models, tmp_path):
    env = slurm.env(tmp_path, LFPK_PARTITION="nosuchpartition")
    line = one_error_line(submit(models["hagen"], env=env, cwd=tmp_path), 1)
    assert "sbatch failed for stage kernels (exit 1)" in line
    assert "invalid partition" in line.lower()


def _array_states(slurm, job_id) -> dict[int, str]:
    """{array index: state} of every task of an array job."""
    proc = slurm.run("scontrol", "show", "job", "-o", job_id)
    assert proc.returncode == 0, proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        info = dict(re.findall(r"(\w+)=(\S*)", line))
        if info.get("ArrayTaskId", "").isdigit():
            out[int(info["ArrayTaskId"])] = info["JobState"]
    return out


@pytest.mark.slurm
def test_scan_validation_array_summary_and_resubmission(slurm, tmp_path):
    """submit SCAN --scan --validate: the kernel scan, then one validation per point as a
    job array, then their summary; submitted again after a point lost its validation,
    only that point runs again (no scan job: the kernels are complete)."""
    scan = tmp_path / "weights.py"
    scan.write_text(
        "from lfpk_hpc.scan import Scan\n"
        f"scan = Scan(params={str(HAGEN)!r},\n"
        "            product={'connections[E->E].synapse.weight': [1.0e-4, 1.5e-4]})\n"
    )
    env = slurm.env(tmp_path)
    args = [scan, "--scan", "--ranks", "2", "--validate", "--scale", "0.005", "--tstop", "500"]
    args += ["--validate-ranks", "1", "--validate-time", "10"]
    proc = submit(*args, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = job_ids(proc.stdout)
    assert list(ids) == ["scan", "validate", "summary"], proc.stdout
    assert f"after job {ids['validate']} has ended (every array task)" in proc.stdout
    s = slurm.wait(ids["summary"], timeout=420)
    log = read_log(proc.stdout, "summary").read_text()
    assert s["JobState"] == "COMPLETED", log[-2000:]
    assert slurm.job(ids["scan"])["JobState"] == "COMPLETED"
    assert _array_states(slurm, ids["validate"]) == {0: "COMPLETED", 1: "COMPLETED"}
    vout = tmp_path / "validation" / "weights"
    # the scan file holds both points; the validations' numbers are in the summary
    with h5py.File(tmp_path / "scans" / "weights.h5", "r") as f:
        assert f.attrs["complete"] and int(f.attrs["n_points"]) == 2
    summary = json.loads((vout / "summary.json").read_text())
    assert summary["finished"] == [0, 1] and summary["missing"] == []
    for row in summary["rows"]:
        metrics = json.loads((vout / f"point_{row['point']}" / "metrics.json").read_text())
        assert row["r2_median_lowpass"] == metrics[row["probe"]]["r2_median_lowpass"]
        assert row["connections[E->E].synapse.weight"] in (1.0e-4, 1.5e-4)
    assert {r["probe"] for r in summary["rows"]} == {"lfp", "cdm"}
    assert (vout / "summary.png").stat().st_size > 10_000
    # the two points' ground truths differ (the weight reached the network)
    gts = [json.loads((vout / f"point_{i}" / "metrics.json").read_text()) for i in (0, 1)]
    assert gts[0]["lfp"]["r2"] != gts[1]["lfp"]["r2"]

    # point 1 loses its validation: a second submission runs only it, and the summary
    kept = (vout / "point_0" / "metrics.json").stat().st_mtime_ns
    (vout / "point_1" / "metrics.json").unlink()
    proc = submit(*args, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids2 = job_ids(proc.stdout)
    assert list(ids2) == ["validate", "summary"], proc.stdout
    assert "a job array of 1 task(s)" in proc.stdout and "(1 point(s) are validated" in proc.stdout
    assert "points 1 -> " in proc.stdout
    s = slurm.wait(ids2["summary"], timeout=300)
    assert s["JobState"] == "COMPLETED", read_log(proc.stdout, "summary").read_text()[-2000:]
    assert _array_states(slurm, ids2["validate"]) == {1: "COMPLETED"}
    assert (vout / "point_0" / "metrics.json").stat().st_mtime_ns == kept
    assert (vout / "point_1" / "metrics.json").is_file()


def test_cluster_start_says_why_a_daemon_failed_and_stops_the_other(tmp_path):
    """slurm_cluster.sh start, when slurmd stops at once for want of a cgroup
    filesystem: exit 4 (the Slurm tests then skip) with slurmd's own words, and the
    slurmctld it had started is stopped. Stand-in daemons, in a network namespace of
    their own (so that a running test cluster's ports do not matter)."""
    if shutil.which("unshare") is None or shutil.which("sbatch") is None:
        environment_limit("needs unshare and Slurm's client commands")
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        environment_limit(f"unshare --net is not permitted here: {probe.stderr.strip()}")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "slurmctld").write_text(
        "#!/usr/bin/env bash\n"
        'conf=""; while (($#)); do [[ $1 == -f ]] && conf=$2; shift; done\n'
        'dir=$(dirname "$conf")\n'
        "sleep 300 </dev/null >/dev/null 2>&1 &\n"
        'echo $! >"$dir/run/slurmctld.pid"\n'
        'echo $! >"$dir/ctld.pid"\n'
    )
    (fake / "slurmd").write_text(
        "#!/usr/bin/env bash\n"
        'conf=""; while (($#)); do [[ $1 == -f ]] && conf=$2; shift; done\n'
        'dir=$(dirname "$conf")\n'
        'echo "error: No filesystem mounted on /sys/fs/cgroup" >>"$dir/log/slurmd.log"\n'
        'echo "fatal: Unable to initialize cgroup plugin" >>"$dir/log/slurmd.log"\n'
        "exit 1\n"
    )
    for f in fake.iterdir():
        f.chmod(0o755)
    cluster = tmp_path / "cluster"
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    proc = subprocess.run(
        ["unshare", "--net", "bash", str(CLUSTER), "start", str(cluster)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "slurmd did not start" in proc.stdout
    assert "No filesystem mounted on /sys/fs/cgroup" in proc.stdout
    pid = int((cluster / "ctld.pid").read_text())
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().split(") ")[1].startswith("Z")


def test_submit_scan_dry_run_and_errors(tmp_path):
    """submit --scan --dry-run: the scan job sized from the scan's plan, the validation
    array of every point, the summary after it (afterany); bad input is one line and
    exit 2; a complete scan without --validate leaves nothing to submit."""
    scan = tmp_path / "s.py"
    scan.write_text(
        "from lfpk_hpc.scan import Scan\n"
        f"scan = Scan(params={str(HAGEN)!r}, product={{'kernel.tau': [50.0, 60.0, 70.0]}})\n"
    )
    env = clean_env(tmp_path)
    proc = submit(
        scan, "--scan", "--validate", "--scale", "0.005", "--dry-run", env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "# scan: " in out and "(3 points, 12 tasks)" in out
    assert "--array=0-2 --dependency=afterok:${scan}" in out
    assert "--dependency=afterany:${validate}" in out
    assert "scanvalidate.sbatch" in out and "--scale 0.005" in out and "--overwrite" in out
    assert not (tmp_path / "validation").exists()  # a dry run writes no params files
    for args, message in [
        (["nothing.py", "--scan"], "the scan file nothing.py does not exist"),
        ([scan, "--scan", "--scale", "0.1"], "--scale only go with --validate"),
        (
            [scan, "--scan", "--validate", "--tstop", "100"],
            "the validation of scan point 0 would stop",
        ),
    ]:
        proc = submit(*args, "--dry-run", env=env, cwd=tmp_path)
        assert message in one_error_line(proc, 2), proc.stderr
    proc = subprocess.run(lfpk("scan", scan, "--out", tmp_path / "scans" / "s.h5"), cwd=tmp_path,
                          env=env, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    proc = submit(scan, "--scan", "--dry-run", env=env, cwd=tmp_path)
    assert "nothing to submit" in one_error_line(proc, 2)
    proc = submit(scan, "--scan", "--validate", "--dry-run", env=env, cwd=tmp_path)
    assert proc.returncode == 0 and "--array=0-2" in proc.stdout and "sbatch" in proc.stdout
    assert "scan.sbatch" not in proc.stdout  # the kernels are complete: no scan job
