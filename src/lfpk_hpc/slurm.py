"""Slurm: submit the job scripts of ``jobscripts/`` as a chain of jobs::

    python -m lfpk_hpc submit PARAMS [--out FILE] [--ranks N] [--time T] [--logs DIR]
        [--validate [--validation-out DIR] [--scale S] [--tstop T]
                    [--validate-ranks N] [--validate-time T]]
        [--config FILE] [--dry-run]

Stages, one job each, every later one with ``--dependency=afterok:<previous job>``
(and ``--kill-on-invalid-dep=yes``, so that it is removed when the previous one fails):

- ``kernels``: ``jobscripts/kernels.sbatch PARAMS FILE``, which runs
  ``srun python -m lfpk_hpc PARAMS --out FILE --resume``; submitted again after a time
  limit it continues from the checkpoints in ``FILE.parts/``.
- ``validate`` (with ``--validate``): ``jobscripts/validate.sbatch PARAMS DIR [--scale S]
  [--tstop T]``, which runs ``srun python -m lfpk_hpc validate ...``.

``jobscripts/groundtruth.sbatch PARAMS DIR [--scale S] [--tstop T]`` is submitted by hand.

Sizes. Unless ``--ranks``/``--time`` are given, the kernels job gets the fewest ranks
whose expected makespan (the schedule of ``plan``, with measured task times of an
earlier run of the same parameters in FILE or FILE.parts/, and only the tasks not yet
done) is within 25 % of the shortest possible or under 10 minutes, and the time limit
``max(10 min, 4 × makespan + 5 min)``, rounded up to whole minutes. Both are printed with
their reasons.

Site settings (:data:`SETTINGS`) come from the environment, else from a config file of
``KEY=VALUE`` lines: ``--config FILE``, else ``$LFPK_CONFIG``, else
``${XDG_CONFIG_HOME:-~/.config}/lfpk_hpc/slurm.env`` when it exists. Nothing is
guessed from the host. The jobs get them through their environment (sbatch exports
the submitting environment), and when none of LFPK_VENV, LFPK_ACTIVATE, LFPK_PYTHON is
set, LFPK_PYTHON is this Python.

Exit codes: 0 submitted (or printed), 2 bad input (arguments, params file, config file,
an output of other parameters, sbatch not installed), 1 sbatch failed (its message is
shown).
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "SETTINGS",
    "SubmitError",
    "add_arguments",
    "format_time",
    "main",
    "parse_time",
    "read_config",
]

#: settings read from the environment or the config file, with what they do
SETTINGS = {
    "LFPK_ACCOUNT": "sbatch --account of every job",
    "LFPK_PARTITION": "sbatch --partition of every job",
    "LFPK_SBATCH_ARGS": "further sbatch options, as shell words (e.g. --qos=normal --mem=0)",
    "LFPK_MODULES": "modules the jobs load first (module load; space or comma separated)",
    "LFPK_VENV": "a virtual environment the jobs activate ($LFPK_VENV/bin/activate)",
    "LFPK_ACTIVATE": "a shell file the jobs source to set up Python (conda, spack, ...)",
    "LFPK_PYTHON": "the Python the jobs run (default: python after the activation)",
    "LFPK_SRUN_MPI": "srun's MPI plug-in (default pmix; empty: the site's default)",
    "LFPK_SRUN_ARGS": "further srun options, as shell words",
    "LFPK_JOBSCRIPTS": "the folder of the job scripts (default: jobscripts/ of this checkout)",
}
#: settings the job scripts read (passed on in their environment)
JOB_SETTINGS = (
    "LFPK_MODULES",
    "LFPK_VENV",
    "LFPK_ACTIVATE",
    "LFPK_PYTHON",
    "LFPK_SRUN_MPI",
    "LFPK_SRUN_ARGS",
)

#: time limit = max(MIN_TIME_S, TIME_FACTOR × expected makespan + STARTUP_S)
TIME_FACTOR = 4.0
STARTUP_S = 300.0
MIN_TIME_S = 600.0
#: default ranks: the fewest within RANKS_SLACK of the shortest makespan or under RANKS_TARGET_S
RANKS_SLACK = 1.25
RANKS_TARGET_S = 600.0
#: the validation has no estimate (its ground truth is not planned)
VALIDATE_TIME_S = 2 * 3600.0
VALIDATE_MIN_RANKS = 2


class SubmitError(ValueError):
    """Bad input to submit (exit code 2)."""

    exit_code = 2


# --------------------------------------------------------------------------- settings


def default_config() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lfpk_hpc" / "slurm.env"


def read_config(path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments, blank lines, an optional ``export`` prefix, values
    optionally in single or double quotes, taken literally); keys must be in SETTINGS.

    Parameters
    ----------
    path : str or pathlib.Path
        The config file.

    Returns
    -------
    dict of str to str
        Setting → value.

    Raises
    ------
    SubmitError
        The file is unreadable, or a line is not a known setting.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SubmitError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    out = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, eq, value = line.partition("=")
        if not eq or not re.fullmatch(r"LFPK_[A-Z0-9_]+", key):
            raise SubmitError(f"{path}:{n}: expected KEY=VALUE with a LFPK_ key, got {raw!r}")
        if key not in SETTINGS:
            raise SubmitError(f"{path}:{n}: unknown setting {key} (known: {', '.join(SETTINGS)})")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key] = value
    return out


def resolve_settings(config: str | None, environ) -> tuple[dict[str, str], Path | None]:
    """Settings from the environment, else from the config file; and the file used."""
    if config:
        path = Path(config)
        if not path.is_file():
            raise SubmitError(f"--config {config}: no such file")
    elif environ.get("LFPK_CONFIG"):
        path = Path(environ["LFPK_CONFIG"])
        if not path.is_file():
            raise SubmitError(f"LFPK_CONFIG={path}: no such file")
    else:
        path = default_config()
        if not path.is_file():
            path = None
    values = read_config(path) if path is not None else {}
    for key in SETTINGS:
        if key in environ:
            values[key] = environ[key]
    return values, (path.resolve() if path is not None else None)


def jobscripts_dir(values) -> Path:
    folder = values.get("LFPK_JOBSCRIPTS") or str(
        Path(__file__).resolve().parents[2] / "jobscripts"
    )
    path = Path(folder)
    if not (path / "kernels.sbatch").is_file():
        raise SubmitError(
            f"the job scripts are not in {path} (no kernels.sbatch there); "
            "set LFPK_JOBSCRIPTS to the jobscripts/ folder of an lfpk_hpc checkout"
        )
    return path.resolve()


# --------------------------------------------------------------------------- times

_TIME_FORMS = (
    (r"(\d+)", ("m",)),
    (r"(\d+):(\d+)", ("m", "s")),
    (r"(\d+):(\d+):(\d+)", ("h", "m", "s")),
    (r"(\d+)-(\d+)", ("d", "h")),
    (r"(\d+)-(\d+):(\d+)", ("d", "h", "m")),
    (r"(\d+)-(\d+):(\d+):(\d+)", ("d", "h", "m", "s")),
)
_UNIT_S = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_time(text: str) -> int:
    """Seconds of a Slurm time limit: M, M:S, H:M:S, D-H, D-H:M or D-H:M:S (> 0).

    Parameters
    ----------
    text : str
        A Slurm time limit.

    Returns
    -------
    int
        The limit, in seconds.

    Raises
    ------
    SubmitError
        Not a Slurm time limit > 0.
    """
    for pattern, units in _TIME_FORMS:
        m = re.fullmatch(pattern, text.strip())
        if m:
            seconds = sum(int(v) * _UNIT_S[u] for v, u in zip(m.groups(), units, strict=True))
            if seconds <= 0:
                break
            return seconds
    raise SubmitError(
        f"--time {text!r} is invalid: must be a Slurm time limit > 0 "
        "(minutes, M:S, H:M:S, D-H, D-H:M or D-H:M:S)"
    )


def format_time(seconds: float) -> str:
    """Slurm's H:MM:SS, or D-HH:MM:SS from a day on (seconds rounded up).

    Parameters
    ----------
    seconds : float
        A time limit, in seconds.

    Returns
    -------
    str
        The limit as Slurm writes it.
    """
    s = int(math.ceil(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}-{h:02d}:{m:02d}:{s:02d}" if d else f"{h}:{m:02d}:{s:02d}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


# --------------------------------------------------------------------------- sizing


@dataclass
class Sizing:
    ranks: int
    time_s: int
    notes: list[str] = field(default_factory=list)


def _earlier_run(model, out: Path) -> tuple[dict, set, str]:
    """Measured wall times and finished tasks of an earlier run of the same parameters
    in ``out`` and ``out.parts/``; raises SubmitError for a file of other parameters."""
    from .store import Checkpoints, read_task_table

    h = model.hash()
    measured, done, sources = {}, set(), []
    if out.exists():
        try:
            import h5py

            with h5py.File(out, "r") as f:
                found = f.attrs.get("params_hash")
        except Exception:  # a killed run may leave it unreadable: --resume rebuilds it
            found = None
            sources.append(f"{out} is unreadable")
        if found is not None and found != h:
            raise SubmitError(
                f"{out} holds kernels of other parameters (params hash {str(found)[:12]}, "
                f"these parameters {h[:12]}); give another --out or remove it"
            )
        if found == h:
            try:
                for key, row in read_task_table(out).items():
                    if row["complete"]:
                        done.add(key)
                        measured[key] = row["wall_time_s"]
                sources.append(f"{out}")
            except Exception:
                sources.append(f"{out} has no readable task table")
    parts = Checkpoints(out)
    if parts.exists():
        found = parts.params_hash()
        if found is not None and found != h:
            raise SubmitError(
                f"{parts.dir} holds checkpoints of other parameters (params hash "
                f"{found[:12]}, these parameters {h[:12]}); give another --out or remove it"
            )
        records = parts.load_all()
        for key, rec in records.items():
            done.add(key)
            measured[key] = rec.wall_time_s
        sources.append(f"{parts.dir} ({len(records)} checkpoints)")
    return measured, done, ", ".join(sources)


def size_kernels(model, out: Path, ranks: int | None, time_s: int | None) -> Sizing:
    """Ranks and time limit of the kernels job from plan's schedule (see module doc)."""
    from . import cost
    from .kernelrun import task_keys

    tasks = task_keys(model)  # pathways with C_YX > 0 and action-potential kernels
    measured, done, source = _earlier_run(model, out)
    costs = cost.estimate(model, tasks, measured)
    todo = [t for t in tasks if t not in done]
    notes = []
    if done and not todo:
        notes.append(
            f"all {len(tasks)} tasks are done already ({source}): the job will only check the file"
        )
    elif done:
        notes.append(
            f"{len(done & set(tasks))} of {len(tasks)} tasks are done already ({source}); "
            f"sized for the {len(todo)} left"
        )
    elif measured or source:
        notes.append(f"earlier run: {source}")
    by_key = {(c.X, c.Y): c.seconds for c in costs}

    def makespan(n: int) -> float:
        if not todo:
            return 0.0
        seconds = [sum(by_key[t] for t in u) for u in cost.units(costs, n, todo=set(todo))]
        return cost.efficiency(seconds, n)[0]

    n_max = max(len(todo), 1)
    return _size_job(
        makespan,
        range(1, n_max + 1),
        n_max,
        ranks,
        time_s,
        notes,
        work=[by_key[t] for t in todo],
        measured=bool(measured),
        fewest="the fewest",
        shortest_on=_ranks(n_max),
        minutes=", whole minutes",
    )


def _ranks(n: int) -> str:
    return f"{n} rank{'s' if n > 1 else ''}"


def _size_job(
    makespan,
    candidates,
    n_max: int,
    ranks,
    time_s,
    notes: list,
    *,
    work: list,
    measured: bool,
    fewest: str,
    shortest_on: str,
    minutes: str = "",
) -> Sizing:
    """Ranks and time limit of a job of tasks (the kernels', a scan's) from
    ``makespan(n)``, its expected makespan on n ranks (see the module docstring), with
    the notes that say why, appended to ``notes``: unless given, the ranks are the first
    of ``candidates`` whose makespan is within RANKS_SLACK × the one on ``n_max`` ranks
    or under RANKS_TARGET_S, and the time limit max(MIN_TIME_S, TIME_FACTOR × makespan
    + STARTUP_S) in whole minutes. ``work``: the seconds of the tasks left; ``fewest``,
    ``shortest_on`` and ``minutes`` are words of the notes (each job's own)."""
    if ranks is None:
        best = makespan(n_max)
        limit = max(RANKS_SLACK * best, RANKS_TARGET_S)
        ranks = next((n for n in candidates if makespan(n) <= limit), n_max)
        notes.append(
            f"{_ranks(ranks)}: {fewest} with an expected makespan within {RANKS_SLACK:g} × "
            f"the shortest ({_duration(best)} on {shortest_on}) or under "
            f"{_duration(RANKS_TARGET_S)} (--ranks overrides)"
        )
    else:
        notes.append(f"{_ranks(ranks)} (--ranks)")
    span = makespan(ranks)
    notes.append(
        f"plan ({'measured and estimated' if measured else 'estimated'} task times): "
        f"{len(work)} tasks, {_duration(sum(work))} of work, expected makespan {_duration(span)} "
        f"on {_ranks(ranks)}"
    )
    if time_s is None:
        raw = max(MIN_TIME_S, TIME_FACTOR * span + STARTUP_S)
        time_s = int(math.ceil(raw / 60.0) * 60)
        notes.append(
            f"time limit {format_time(time_s)}: max({_duration(MIN_TIME_S)}, "
            f"{TIME_FACTOR:g} × makespan + {_duration(STARTUP_S)} start-up){minutes} "
            "(--time overrides)"
        )
    else:
        notes.append(f"time limit {format_time(time_s)} (--time)")
    return Sizing(ranks, time_s, notes)


# --------------------------------------------------------------------------- stages


@dataclass
class Stage:
    name: str
    script: Path
    args: list[str]
    ranks: int
    time_s: int
    notes: list[str]
    job_name: str
    log: Path  # sbatch --output pattern
    summary: str = ""
    #: sbatch --array (a job array: the validations of a scan's points)
    array: str | None = None
    #: "afterok": after the previous job succeeded; "afterany": after it ended
    after: str = "afterok"
    #: no dependency on the previous stage (it is not submitted, or not needed)
    independent: bool = False
    #: sbatch --cpus-per-task (threads of one task: NEST's); site options may raise it
    cpus: int = 1

    def sbatch_args(self, site: list[str], dependency: str | None) -> list[str]:
        opts = [
            "--parsable",
            f"--job-name={self.job_name}",
            f"--ntasks={self.ranks}",
            f"--time={format_time(self.time_s)}",
            f"--output={self.log}",
            *([f"--cpus-per-task={self.cpus}"] if self.cpus > 1 else []),
            *site,
        ]
        if self.array is not None:
            opts.append(f"--array={self.array}")
        if dependency is not None and not self.independent:
            opts += [f"--dependency={self.after}:{dependency}", "--kill-on-invalid-dep=yes"]
        return [*opts, str(self.script), *self.args]


def _site_sbatch_options(values) -> list[str]:
    opts = []
    if values.get("LFPK_ACCOUNT"):
        opts.append(f"--account={values['LFPK_ACCOUNT']}")
    if values.get("LFPK_PARTITION"):
        opts.append(f"--partition={values['LFPK_PARTITION']}")
    try:
        opts += shlex.split(values.get("LFPK_SBATCH_ARGS", ""))
    except ValueError as exc:
        raise SubmitError(f"LFPK_SBATCH_ARGS is not valid shell words: {exc}") from None
    return opts


def _job_environment(values, config: Path | None) -> dict[str, str]:
    """The settings the job scripts read, as they go into the jobs' environment."""
    env = {k: values[k] for k in JOB_SETTINGS if k in values}
    if not any(values.get(k) for k in ("LFPK_VENV", "LFPK_ACTIVATE", "LFPK_PYTHON")):
        env["LFPK_PYTHON"] = sys.executable
    if config is not None:
        env["LFPK_CONFIG"] = str(config)
    return env


# --------------------------------------------------------------------------- CLI


def add_arguments(parser) -> None:
    """The options of ``python -m lfpk_hpc submit``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which the options are added.
    """
    from .gtnetwork import IN_DEGREES

    parser.description = (
        "Submit the kernels of a params file (and with --validate the validation after it) "
        "to Slurm: jobscripts/kernels.sbatch (srun python -m lfpk_hpc PARAMS --out FILE "
        "--resume) sized from plan's estimate, jobs chained with --dependency=afterok. "
        "Site settings (LFPK_ACCOUNT, LFPK_PARTITION, LFPK_MODULES, LFPK_VENV, LFPK_ACTIVATE, "
        "LFPK_PYTHON, LFPK_SRUN_MPI, LFPK_SRUN_ARGS, LFPK_SBATCH_ARGS) come from the "
        "environment or the config file (--config, $LFPK_CONFIG, or "
        "~/.config/lfpk_hpc/slurm.env)."
    )
    parser.add_argument(
        "params",
        help="params file (a Python module defining model = Model(...)); with --scan a scan "
        "file (scan = Scan(...))",
    )
    parser.add_argument(
        "--out",
        help="kernels file (default: kernels/<params name>.h5; with --scan the scan file "
        "scans/<scan name>.h5)",
    )
    parser.add_argument(
        "--scan",
        action="store_true",
        help="PARAMS is a scan file: the kernels of every point as one job "
        "(jobscripts/scan.sbatch); with --validate one validation per point as a job array "
        "after it, then their summary (R² against the scanned parameters)",
    )
    parser.add_argument(
        "--ranks", type=int, help="MPI ranks (sbatch --ntasks) of the kernels job (default: plan)"
    )
    parser.add_argument(
        "--time", help="time limit of the kernels job, e.g. 30, 1:30:00, 1-00:00 (default: plan)"
    )
    parser.add_argument("--logs", default="logs", help="folder of the job logs (default logs/)")
    parser.add_argument(
        "--config",
        help="settings file of KEY=VALUE lines (default: $LFPK_CONFIG, else "
        "~/.config/lfpk_hpc/slurm.env when it exists)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the sbatch commands instead of running them"
    )
    v = parser.add_argument_group("validation (with --validate)")
    v.add_argument(
        "--validate",
        action="store_true",
        help="after the kernels job succeeds, run python -m lfpk_hpc validate PARAMS",
    )
    v.add_argument("--validation-out", help="validation folder (default: validation/<params name>)")
    v.add_argument(
        "--scale",
        type=float,
        help="validate --scale, the network size fraction (default: validate's, 0.2)",
    )
    v.add_argument(
        "--tstop", type=float, help="validate --tstop, simulated ms (default: validate's, 2000)"
    )
    v.add_argument(
        "--in-degrees",
        choices=IN_DEGREES,
        help="validate --in-degrees of a hybrid validation (PD14) below scale 1 (default: "
        "validate's, full)",
    )
    v.add_argument(
        "--validate-ranks",
        type=int,
        help=f"ranks of the validation job (default: the kernels job's, at least "
        f"{VALIDATE_MIN_RANKS})",
    )
    v.add_argument(
        "--validate-time",
        help=f"time limit of the validation job (default {format_time(VALIDATE_TIME_S)})",
    )


def _error(msg, code: int = 2) -> int:
    from .errors import report

    return report(msg, code)


def main(args) -> int:
    """``python -m lfpk_hpc submit``: the jobs submitted (or printed); the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of :func:`add_arguments`.

    Returns
    -------
    int
        The exit code.
    """
    try:
        stages, values, job_env, logs = _prepare(args)
        site = _site_sbatch_options(values)
    except SubmitError as exc:
        return _error(str(exc), 2)
    comment = "# " if args.dry_run else ""
    for stage in stages:
        print(f"{comment}{stage.name}: {stage.summary}")
        for note in stage.notes:
            print(f"{comment}  {note}")
    if args.dry_run:
        return _print_commands(stages, site, job_env, logs)
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        return _error(
            "sbatch is not installed (not on PATH): submit needs Slurm's client commands; "
            "--dry-run prints the sbatch commands",
            2,
        )
    try:
        logs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _error(f"cannot create the log folder {logs}: {exc.strerror or exc}", 2)
    env = {**os.environ, **job_env}
    ids: list[tuple[str, str]] = []
    for stage in stages:
        cmd = [sbatch, *stage.sbatch_args(site, ids[-1][1] if ids else None)]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        except OSError as exc:
            return _error(f"cannot run sbatch: {exc}", 2)
        job_id = proc.stdout.strip().split(";")[0] if proc.returncode == 0 else ""
        if proc.returncode != 0 or not job_id.isdigit():
            why = (
                f"sbatch failed for stage {stage.name} (exit {proc.returncode}): "
                f"{'; '.join((proc.stderr or proc.stdout).strip().splitlines()) or 'no message'}"
                if proc.returncode != 0
                else f"sbatch printed no job id for stage {stage.name}: {proc.stdout.strip()!r}"
            )
            if ids:
                done = ", ".join(f"{i} ({name})" for name, i in ids)
                why += (
                    f"; already submitted: job {done}, which stays queued "
                    f"(scancel {' '.join(i for _, i in ids)} removes it)"
                )
            return _error(why, 1)
        after = (
            ""
            if not ids or stage.independent
            else f", after job {ids[-1][1]} "
            + ("succeeds" if stage.after == "afterok" else "has ended (every array task)")
        )
        log = (
            str(stage.log).replace("%x", stage.job_name).replace("%j", job_id).replace("%A", job_id)
        )
        print(f"submitted {stage.name} job {job_id}{after}; log {log}", flush=True)
        ids.append((stage.name, job_id))
    print("job ids: " + " ".join(i for _, i in ids))
    return 0


def submit_settings(args):
    """The options ``submit`` shares with ``submit --scan``, checked: (--time and
    --validate-time in s or None, the settings, the config file they came from, the
    job scripts' folder). Raises SubmitError naming the option."""
    if args.ranks is not None and args.ranks < 1:
        raise SubmitError(f"--ranks = {args.ranks} is invalid: must be >= 1")
    if args.validate_ranks is not None and args.validate_ranks < 1:
        raise SubmitError(f"--validate-ranks = {args.validate_ranks} is invalid: must be >= 1")
    time_s = parse_time(args.time) if args.time is not None else None
    vtime_s = parse_time(args.validate_time) if args.validate_time is not None else None
    for name in ("scale", "tstop"):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise SubmitError(f"--{name} = {value!r} is invalid: must be a number > 0")
    if not args.validate:
        given = [
            f"--{o.replace('_', '-')}"
            for o in (
                "validation_out",
                "scale",
                "tstop",
                "in_degrees",
                "validate_ranks",
                "validate_time",
            )
            if getattr(args, o) is not None
        ]
        if given:
            raise SubmitError(f"{', '.join(given)} only go with --validate")
    values, config = resolve_settings(args.config, os.environ)
    scripts = jobscripts_dir(values)
    return time_s, vtime_s, values, config, scripts


def _prepare(args):
    if args.scan:
        from .slurmscan import prepare_scan

        return prepare_scan(args)
    from .cli import default_out
    from .params import ParamsError, load

    time_s, vtime_s, values, config, scripts = submit_settings(args)
    params = Path(args.params)
    if not params.is_file():
        raise SubmitError(f"the params file {args.params} does not exist")
    try:
        model = load(params)
    except ParamsError as exc:
        raise SubmitError(str(exc)) from None
    params = Path(os.path.abspath(params))
    out = Path(args.out) if args.out else default_out(args.params)
    out = Path(os.path.abspath(out))
    logs = Path(os.path.abspath(args.logs))
    stem = params.stem
    sizing = size_kernels(model, out, args.ranks, time_s)
    stages = [
        Stage(
            "kernels",
            scripts / "kernels.sbatch",
            [str(params), str(out)],
            sizing.ranks,
            sizing.time_s,
            sizing.notes,
            f"lfpk-kernels-{stem}",
            logs / "%x-%j.out",
            f"{params} -> {out}",
        )
    ]
    if args.validate:
        from .validate import ground_truth_kind

        kind = ground_truth_kind(model)
        # the validation's arguments as validate will check them, before anything is queued
        if kind == "hybrid":
            from .validate import ValidationError, check_window
            from .validate_hybrid import DEFAULT_SCALE, DEFAULT_TSTOP

            try:
                check_window(args.tstop if args.tstop is not None else DEFAULT_TSTOP, 200.0)
                from .groundtruth import GroundTruthError, scaled_model
                from .hybrid import DEFAULT_IN_DEGREES

                scale = args.scale if args.scale is not None else DEFAULT_SCALE
                scaled_model(model, scale, args.in_degrees or DEFAULT_IN_DEGREES)
            except (ValidationError, GroundTruthError) as exc:
                raise SubmitError(
                    f"the validation jobs would stop at once: {exc} (validate's --transient "
                    "is 200 ms)"
                ) from None
        else:
            from . import groundtruth

            try:
                groundtruth.check_run_args(
                    model,
                    scale=args.scale if args.scale is not None else groundtruth.DEFAULT_SCALE,
                    tstop=args.tstop if args.tstop is not None else 2000.0,
                    seed=1234,
                    dt=float(model.kernel.dt),
                    transient=200.0,
                )
            except groundtruth.GroundTruthError as exc:
                raise SubmitError(
                    f"the validation job would stop at once: {exc} (validate's --transient "
                    "is 200 ms)"
                ) from None
        vout = Path(os.path.abspath(args.validation_out or Path("validation") / stem))
        if kind != "hybrid" and args.in_degrees is not None:
            raise SubmitError(
                f"--in-degrees = {args.in_degrees!r} is invalid for {params.name}: it is an "
                "option of the hybrid ground truth (a PD14 model); this one is validated "
                "against its network ground truth"
            )
        if kind == "hybrid":
            stages += _hybrid_validation_stages(args, model, params, vout, scripts, logs, vtime_s)
            return stages, values, _job_environment(values, config), logs
        vargs = [str(params), str(vout)]
        if args.scale is not None:
            vargs += ["--scale", repr(args.scale)]
        if args.tstop is not None:
            vargs += ["--tstop", repr(args.tstop)]
        vranks = args.validate_ranks or max(sizing.ranks, VALIDATE_MIN_RANKS)
        vnotes = [
            f"{vranks} ranks"
            + (
                " (--validate-ranks)" if args.validate_ranks else " (the kernels job's, at least 2)"
            ),
            f"time limit {format_time(vtime_s or VALIDATE_TIME_S)}"
            + (
                " (--validate-time)"
                if vtime_s
                else ": a default, plan does not estimate the ground truth (--validate-time)"
            ),
            "runs after the kernels job succeeds (afterok); removed if it fails",
        ]
        stages.append(
            Stage(
                "validate",
                scripts / "validate.sbatch",
                vargs,
                vranks,
                vtime_s or int(VALIDATE_TIME_S),
                vnotes,
                f"lfpk-validate-{stem}",
                logs / "%x-%j.out",
                f"{params} -> {vout}/" + "".join(f" {a}" for a in vargs[2:]),
            )
        )
    return stages, values, _job_environment(values, config), logs


#: the point network's job (NEST in one process): its default time limit
SPIKES_TIME_S = 2 * 3600.0


def _hybrid_validation_stages(args, model, params, vout, scripts, logs, vtime_s) -> list:
    """Stages of the validation against the hybrid ground truth (a PD14 model): the point
    network (pd14spikes.sbatch, one task), the hybrid ground truth (hybrid.sbatch, sized
    from its plan like the kernels job) and the validation (validate.sbatch with the
    spikes; it finds the finished hybrid run in DIR/hybrid and computes the rest)."""
    from . import hybrid, nestsim, validate_hybrid

    stem = params.stem
    scale = args.scale if args.scale is not None else validate_hybrid.DEFAULT_SCALE
    tstop = args.tstop if args.tstop is not None else validate_hybrid.DEFAULT_TSTOP
    dt = validate_hybrid.DEFAULT_DT
    spikes = vout / "spikes.h5"
    common = ["--scale", repr(scale), "--tstop", repr(tstop)]
    in_degrees = args.in_degrees or hybrid.DEFAULT_IN_DEGREES
    hcommon = [*common, "--in-degrees", in_degrees]
    est = hybrid.block_seconds(model, scale=scale, tstop=tstop, dt=dt, in_degrees=in_degrees)
    secs, blocks = est["seconds"], est["blocks"]

    # NEST's threads: as many as hold the network (3 at full scale), as validate gives it
    threads = nestsim.threads_needed(nestsim.derive(scale, scale, dt, False))

    def run_s(n):
        return hybrid.expected_run(secs, n, blocks, est["checkpoint_mb"])[2]

    n_max = max(1, min(len(blocks), 4096))
    best = run_s(n_max)
    limit = max(RANKS_SLACK * best, RANKS_TARGET_S)
    hranks = args.validate_ranks or next(
        (n for n in range(1, n_max + 1) if run_s(n) <= limit), n_max
    )
    hspan = run_s(hranks)
    htime = int(math.ceil(max(MIN_TIME_S, TIME_FACTOR * hspan + STARTUP_S) / 60.0) * 60)
    vranks = max(VALIDATE_MIN_RANKS, min(hranks, 8))
    return [
        Stage(
            "spikes",
            scripts / "pd14spikes.sbatch",
            [str(params), str(spikes), *common, "--dt", repr(dt), "--threads", str(threads)],
            1,
            int(SPIKES_TIME_S),
            [
                f"1 task, {threads} NEST thread(s) on --cpus-per-task={threads} (as many as hold "
                f"the network at scale {scale:g}; validate gives NEST the same)",
                f"time limit {format_time(SPIKES_TIME_S)}: a default",
                "runs after the kernels job succeeds (afterok)",
            ],
            f"lfpk-spikes-{stem}",
            logs / "%x-%j.out",
            f"{params} -> {spikes} ({' '.join(common)})",
            cpus=threads,
        ),
        Stage(
            "hybrid",
            scripts / "hybrid.sbatch",
            [str(params), str(spikes), str(vout / "hybrid"), *hcommon, "--dt", repr(dt)],
            hranks,
            htime,
            [
                f"{hranks} ranks"
                + (
                    " (--validate-ranks)"
                    if args.validate_ranks
                    else f": the fewest whose expected run is within {RANKS_SLACK:g} × the "
                    f"shortest or under {_duration(RANKS_TARGET_S)} (plan --hybrid)"
                ),
                f"plan: {len(blocks)} blocks, {_duration(sum(secs))} of work, expected run "
                f"{_duration(hspan)} on {hranks} ranks",
                f"time limit {format_time(htime)}: max({_duration(MIN_TIME_S)}, "
                f"{TIME_FACTOR:g} × expected run + {_duration(STARTUP_S)})",
                "runs after the point network's job succeeds (afterok)",
            ],
            f"lfpk-hybrid-{stem}",
            logs / "%x-%j.out",
            f"{params} {spikes} -> {vout / 'hybrid'}/",
        ),
        Stage(
            "validate",
            scripts / "validate.sbatch",
            [str(params), str(vout), *hcommon, "--spikes", str(spikes)],
            vranks,
            vtime_s or 3600,
            [
                f"{vranks} ranks (the kernels of the scaled network, prediction, comparison)",
                f"time limit {format_time(vtime_s or 3600)}"
                + (" (--validate-time)" if vtime_s else ": a default"),
                "runs after the hybrid job succeeds (afterok); reuses its DIR/hybrid",
            ],
            f"lfpk-validate-{stem}",
            logs / "%x-%j.out",
            f"{params} -> {vout}/ {' '.join(hcommon)} --spikes {spikes}",
        ),
    ]


def _print_commands(stages, site, job_env, logs) -> int:
    print("# dry run: the commands submit would run")
    for key, value in job_env.items():
        print(f"export {key}={shlex.quote(value)}")
    print(f"mkdir -p {shlex.quote(str(logs))}")
    previous = None
    for stage in stages:
        dep = f"${{{previous}}}" if previous and not stage.independent else None
        words = ["sbatch", *stage.sbatch_args(site, dep)]
        quoted = " ".join(w if w.startswith("--dependency=") else shlex.quote(w) for w in words)
        print(f"{stage.name}=$({quoted})")
        previous = stage.name
    print('echo "job ids: ' + " ".join(f"${{{s.name}}}" for s in stages) + '"')
    return 0
