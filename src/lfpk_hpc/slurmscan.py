"""Slurm for scans: ``submit SCAN --scan [--validate]`` (see :mod:`lfpk_hpc.slurm`).

Stages:

- ``scan``: ``jobscripts/scan.sbatch SCAN FILE`` (``srun python -m lfpk_hpc scan SCAN
  --out FILE --resume``), sized from the scan's plan like the kernels job; left out when
  FILE already holds every kernel of the scan;
- ``validate`` (``--validate``): ``jobscripts/scanvalidate.sbatch SCAN DIR`` as a job
  array, one task per point that has no ``DIR/point_<i>/metrics.json`` yet, each
  validating ``DIR/params/point_<i>.py`` (the point's params file, written here) into
  ``DIR/point_<i>``; after the scan job succeeds;
- ``summary`` (``--validate``): ``jobscripts/scansummary.sbatch SCAN DIR`` (``scan-summary``:
  DIR/summary.png, .csv, .json), after every array task has ended (afterany), so that
  it also reports the points that failed.

Submitted again, the chain does only what is missing: the scan job resumes (or is left
out), the array holds the points without a validation, and the summary is made anew.
"""

from __future__ import annotations

import os
from pathlib import Path

from .slurm import (
    VALIDATE_MIN_RANKS,
    VALIDATE_TIME_S,
    Sizing,
    Stage,
    SubmitError,
    _job_environment,
    _size_job,
    format_time,
    submit_settings,
)

# prepare_scan and size_scan are steps of ``submit --scan`` (lfpk_hpc.slurm calls
# them with its parsed arguments and private Sizing), not API
__all__ = ["array_spec"]

#: the summary job's time limit
SUMMARY_TIME_S = 600


def array_spec(points: list[int]) -> str:
    """sbatch --array of ``points``: runs as ranges, '0-3,7,9-12'.

    Parameters
    ----------
    points : list of int
        Indices of the scan's points.

    Returns
    -------
    str
        The value of sbatch's ``--array``.
    """
    out, run = [], []
    for p in sorted(points):
        if run and p == run[-1] + 1:
            run.append(p)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [p]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


def _scan_state(kind, out: Path) -> tuple[dict, set, str]:
    """Measured times and finished tasks of an earlier run of this scan in ``out`` (and
    its checkpoints); SubmitError for a file of another scan."""
    import h5py

    from .kernelsfile import SCAN_FORMAT
    from .store import Checkpoints

    measured, done, sources = {}, set(), []
    if out.exists():
        try:
            with h5py.File(out, "r") as f:
                fmt, found = f.attrs.get("format"), f.attrs.get("params_hash")
        except Exception:  # a killed run may leave it unreadable: --resume rebuilds it
            fmt, found = SCAN_FORMAT, None
            sources.append(f"{out} is unreadable")
        if fmt != SCAN_FORMAT:
            raise SubmitError(f"{out} is not a scan file; give another --out or remove it")
        if found is not None and found != kind.params_hash():
            raise SubmitError(
                f"{out} holds a scan of other points or parameters; give another --out or remove it"
            )
        if found is not None:
            from .scan import ScanError
            from .scanplan import measured_times

            try:
                measured, _note = measured_times(kind, out)
                done |= set(measured)
                sources.append(str(out))
            except ScanError:
                sources.append(f"{out} has no readable task tables")
    parts = Checkpoints(out)
    if parts.exists():
        found = parts.params_hash()
        if found is not None and found != kind.params_hash():
            raise SubmitError(
                f"{parts.dir} holds checkpoints of another scan; give another --out or remove it"
            )
        n = 0
        for meta, arrays in parts.load_entries():
            key, rec = kind.from_checkpoint(meta, arrays)
            done.add(key)
            measured[key] = rec.wall_time_s
            n += 1
        sources.append(f"{parts.dir} ({n} checkpoints)")
    return measured, done, ", ".join(sources)


def size_scan(kind, out: Path, ranks: int | None, time_s: int | None) -> tuple[Sizing, int]:
    """Ranks and time limit of the scan job from the scan's plan (as the kernels job's),
    and the number of tasks left."""
    from . import cost

    keys = kind.keys()
    measured, done, source = _scan_state(kind, out)
    seconds = kind.estimate(keys, measured, None)
    todo = sorted((k for k in keys if k not in done), key=lambda k: -seconds[k])
    notes = []
    if done:
        notes.append(
            f"{len(done)} of {len(keys)} tasks are done already ({source}); sized for the "
            f"{len(todo)} left"
        )

    def makespan(n: int) -> float:
        if not todo:
            return 0.0
        units = kind.units(seconds, n, todo)
        return cost.efficiency([sum(seconds[k] for k in u) for u in units], n)[0]

    n_max = max(1, min(len(todo), 4096))
    sizing = _size_job(
        makespan,
        sorted({1, n_max, *(2**k for k in range(13) if 2**k < n_max)}),
        n_max,
        ranks,
        time_s,
        notes,
        work=[seconds[k] for k in todo],
        measured=bool(measured),
        fewest="the fewest (of 1, 2, 4, ...)",
        shortest_on=str(n_max),
    )
    return sizing, len(todo)


def _check_validation_args(args, models) -> str:
    """The ground truth of the points' validations ('network' or 'hybrid'), after
    checking that validate would accept every point with these arguments."""
    from .scan import ScanError
    from .validate import ground_truth_kind

    kinds = {ground_truth_kind(m) for m in models}
    if len(kinds) > 1:
        raise SubmitError(
            "the scan's points need different ground truths (network and hybrid): validate "
            "them as separate scans"
        )
    kind = kinds.pop()
    for i, model in enumerate(models):
        try:
            if kind == "hybrid":
                from .groundtruth import GroundTruthError, scaled_model
                from .validate import ValidationError, check_window
                from .validate_hybrid import DEFAULT_SCALE, DEFAULT_TSTOP

                try:
                    check_window(args.tstop if args.tstop is not None else DEFAULT_TSTOP, 200.0)
                    scaled_model(model, args.scale if args.scale is not None else DEFAULT_SCALE)
                except (ValidationError, GroundTruthError) as exc:
                    raise ScanError(str(exc)) from None
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
                    raise ScanError(str(exc)) from None
        except ScanError as exc:
            raise SubmitError(
                f"the validation of scan point {i} would stop at once: {exc} (validate's "
                "--transient is 200 ms)"
            ) from None
    return kind


def prepare_scan(args):
    """(stages, settings, job environment, log folder) of ``submit SCAN --scan``."""
    from .scan import ScanError, ScanTasks, load_scan, write_point_params
    from .scanplot import point_folder

    time_s, vtime_s, values, config, scripts = submit_settings(args)
    scan_file = Path(args.params)
    if not scan_file.is_file():
        raise SubmitError(f"the scan file {args.params} does not exist")
    try:
        scan, base, points, models = load_scan(scan_file)
    except ScanError as exc:
        raise SubmitError(str(exc)) from None
    scan_file = Path(os.path.abspath(scan_file))
    stem = scan_file.stem
    out = Path(os.path.abspath(args.out or Path("scans") / f"{stem}.h5"))
    logs = Path(os.path.abspath(args.logs))
    kind = ScanTasks(scan, base, points, models)
    sizing, n_left = size_scan(kind, out, args.ranks, time_s)
    stages = []
    if n_left:
        stages.append(
            Stage(
                "scan",
                scripts / "scan.sbatch",
                [str(scan_file), str(out)],
                sizing.ranks,
                sizing.time_s,
                sizing.notes,
                f"lfpk-scan-{stem}",
                logs / "%x-%j.out",
                f"{scan_file} ({len(points)} points, {len(kind.keys())} tasks) -> {out}",
            )
        )
    elif not args.validate:
        raise SubmitError(
            f"nothing to submit: {out} holds every kernel of the scan's {len(points)} points "
            "(--validate validates them)"
        )
    if args.validate:
        gt = _check_validation_args(args, models)
        vout = Path(os.path.abspath(args.validation_out or Path("validation") / stem))
        missing = [
            i for i in range(len(points)) if not (point_folder(vout, i) / "metrics.json").is_file()
        ]
        vranks = args.validate_ranks or VALIDATE_MIN_RANKS
        vtime = vtime_s or int(VALIDATE_TIME_S)
        if missing:
            if not args.dry_run:
                for i in missing:
                    write_point_params(scan_file, i, vout / "params" / f"point_{i}.py")
            vargs = [str(scan_file), str(vout)]
            if args.scale is not None:
                vargs += ["--scale", repr(args.scale)]
            if args.tstop is not None:
                vargs += ["--tstop", repr(args.tstop)]
            if gt == "network":
                # a point in the array has no metrics: what an earlier, failed attempt left
                # is replaced (the hybrid route resumes its ground truth instead)
                vargs.append("--overwrite")
            done = len(points) - len(missing)
            stages.append(
                Stage(
                    "validate",
                    scripts / "scanvalidate.sbatch",
                    vargs,
                    vranks,
                    vtime,
                    [
                        f"a job array of {len(missing)} task(s), one per point without "
                        f"{vout}/point_<i>/metrics.json"
                        + (f" ({done} point(s) are validated already)" if done else ""),
                        f"{gt} ground truth; {vranks} ranks per point"
                        + (" (--validate-ranks)" if args.validate_ranks else " (a default)"),
                        f"time limit {format_time(vtime)} per point"
                        + (" (--validate-time)" if vtime_s else ": a default (--validate-time)"),
                        (
                            f"params files {vout}/params/point_<i>.py "
                            + ("would be written (dry run)" if args.dry_run else "written")
                        ),
                        "runs after the scan job succeeds (afterok)"
                        if stages
                        else "no scan job: the kernels are complete",
                    ],
                    f"lfpk-scanvalidate-{stem}",
                    logs / "%x-%A_%a.out",
                    f"points {array_spec(missing)} -> {vout}/point_<i>",
                    array=array_spec(missing),
                    independent=not stages,
                )
            )
        stages.append(
            Stage(
                "summary",
                scripts / "scansummary.sbatch",
                [str(scan_file), str(vout)],
                1,
                SUMMARY_TIME_S,
                [
                    "1 task: scan-summary (R² against the scanned parameters)",
                    "runs after every array task has ended (afterany), failed ones included"
                    if missing
                    else "every point is validated already: only the summary runs",
                ],
                f"lfpk-scansummary-{stem}",
                logs / "%x-%j.out",
                f"{vout}/summary.png, .csv, .json",
                after="afterany",
                independent=not missing,
            )
        )
    return stages, values, _job_environment(values, config), logs
