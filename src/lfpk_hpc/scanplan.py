"""The plan of a parameter scan: its expected schedule on any number of ranks, without
computing anything (``python -m lfpk_hpc plan SCAN.py --scan``, ``submit --scan``).

The scan's distinct tasks (:class:`lfpk_hpc.scan.ScanTasks`) get their seconds from an
earlier run where given (:func:`measured_times`: a scan file of the same points, or a
kernels file whose pathways' times stand for every point), else from the cost model,
and are cut into the task farm's own units in its longest-first order
(:func:`plan_scan`, a :class:`ScanPlan`; :func:`print_plan` prints it). Times in
seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .kernelsfile import SCAN_FORMAT
from .scan import ScanError, ScanTasks, load_scan

__all__ = ["ScanPlan", "measured_times", "plan_scan", "print_plan"]


def measured_times(kind: ScanTasks, path) -> tuple[dict, str]:
    """Measured seconds of the scan's distinct tasks, from ``path``: a scan file of the
    same points (each point's own times), or a kernels file (its times of (X, Y) for
    every point: the cost of a pathway hardly depends on the scanned values). Returns
    (key -> seconds, a note saying where they came from).

    Parameters
    ----------
    kind : ScanTasks
        The scan's tasks.
    path : str or pathlib.Path
        A scan file of the same points, or a kernels file.

    Returns
    -------
    measured : dict
        (point, X, Y) → the task's wall time (seconds), for the tasks found.
    note : str
        Where the times came from.

    Raises
    ------
    ScanError
        The file is missing, unreadable, or a scan of other points.
    """
    import h5py

    from .store import read_task_table

    path = Path(path)
    if not path.is_file():
        raise ScanError(f"--measured {str(path)!r} does not exist")
    try:
        with h5py.File(path, "r") as f:
            is_scan = f.attrs.get("format") == SCAN_FORMAT
            same = is_scan and f.attrs.get("params_hash") == kind.params_hash()
            rows = {}
            if is_scan:
                if not same:
                    raise ScanError(
                        f"--measured {str(path)!r} is a scan of other points or parameters"
                    )
                for i in sorted({k[0] for k in kind.order}):
                    g = f[f"points/{i}/tasks"]
                    for x, y, c, t in zip(
                        g["X"][...],
                        g["Y"][...],
                        g["complete"][...],
                        g["wall_time_s"][...],
                        strict=True,
                    ):
                        if c:
                            rows[(i, x.decode(), y.decode())] = float(t)
    except OSError as exc:
        raise ScanError(f"--measured {str(path)!r} is unreadable: {exc}") from None
    if is_scan:
        out = {k: rows[k] for k in kind.order if k in rows}
        return out, f"measured task times of {len(out)} of {len(kind.order)} tasks from {path}"
    try:
        table = read_task_table(path)
    except (OSError, KeyError) as exc:
        raise ScanError(f"--measured {str(path)!r} is not a kernels or scan file: {exc}") from None
    times = {k: v["wall_time_s"] for k, v in table.items() if v["complete"]}
    out = {(i, X, Y): times[(X, Y)] for i, X, Y in kind.order if (X, Y) in times}
    return out, (
        f"measured task times of a kernels file ({path}: {len(times)} pathways) for "
        f"{len(out)} of {len(kind.order)} tasks"
    )


@dataclass
class ScanPlan:
    """The expected schedule of a scan (:func:`plan_scan`).

    Parameters
    ----------
    points : int
        The scan's points (a count).
    pathways : int
        Kernel pathways of all points (a count).
    tasks : int
        Distinct tasks, those shared between points counted once (a count).
    total_s : float
        Work of all tasks (seconds).
    longest_s : float
        The longest task (seconds).
    note : str
        Where the task times came from.
    schedules : dict
        Ranks → (units, expected makespan in seconds, parallel efficiency).
    """

    points: int
    pathways: int
    tasks: int
    total_s: float
    longest_s: float
    note: str
    #: ranks -> (units, makespan s, efficiency)
    schedules: dict


def plan_scan(scan_path, ranks, measured=None) -> ScanPlan:
    """The expected schedule of a scan on each number of ``ranks`` (the farm's own
    units and longest-first order) from measured task times where given, else from
    estimates.

    Parameters
    ----------
    scan_path : str or pathlib.Path
        The scan file.
    ranks : sequence of int
        Numbers of ranks to plan for.
    measured : str or pathlib.Path, optional
        An earlier scan file of the same points, or a kernels file
        (:func:`measured_times`).

    Returns
    -------
    ScanPlan
        The tasks, their work and the schedule on each number of ranks.
    """
    from . import cost

    scan, base, points, models = load_scan(scan_path)
    kind = ScanTasks(scan, base, points, models)
    meas, note = ({}, "no measured task times: all costs are estimates")
    if measured is not None:
        meas, note = measured_times(kind, measured)
    keys = kind.keys()
    seconds = kind.estimate(keys, meas, None)
    todo = sorted(keys, key=lambda k: -seconds[k])
    schedules = {}
    for n in ranks:
        units = kind.units(seconds, n, todo)
        unit_s = [sum(seconds[k] for k in u) for u in units]
        makespan, eff = cost.efficiency(unit_s, n)
        schedules[n] = (len(units), makespan, eff)
    values = list(seconds.values())
    return ScanPlan(
        len(points),
        len(kind.sig_of),
        len(keys),
        sum(values),
        max(values, default=0.0),
        note,
        schedules,
    )


def print_plan(scan_path, plan: ScanPlan) -> None:
    """Print a scan's plan as ``python -m lfpk_hpc plan --scan`` shows it.

    Parameters
    ----------
    scan_path : str or pathlib.Path
        The scan file (named in the first line).
    plan : ScanPlan
        Its plan (:func:`plan_scan`).
    """
    print(
        f"plan for scan {str(scan_path)!r}: {plan.points} points, {plan.pathways} kernel "
        f"pathways, {plan.tasks} distinct tasks"
    )
    print(plan.note)
    print(f"total work {plan.total_s:.1f} s; the longest task {plan.longest_s:.3f} s")
    print(f"{'ranks':>7} {'units':>7} {'makespan s':>11} {'efficiency':>10}")
    for n, (units, makespan, eff) in plan.schedules.items():
        print(f"{n:>7} {units:>7} {makespan:>11.2f} {eff:>10.3f}")
    print(
        "(dynamic, longest first, every rank computing; a unit is a run of tasks of one "
        "point and Y; set-up and writing not included)"
    )
