"""Cost estimates of kernel tasks and the expected schedule on N ranks.

The cost of an (X, Y) task is segments(Y) × simulated steps; it is turned into
seconds with a rough per-segment-step rate measured on the development machine
(2 cores, 2026), or replaced by the measured wall time of an earlier run. The
schedule is what the dynamic longest-first self-scheduling of
:mod:`lfpk_hpc.scheduler` does when the costs are right: each task, in order of
decreasing cost, goes to the rank that becomes free first.

Segment counts of generated (stick) morphologies follow LFPy's d_lambda rule
without NEURON; morphology files are loaded into NEURON (no simulation).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from .params import Model

__all__ = ["TaskCost", "estimate", "schedule", "segments"]

#: seconds per (segment × time step), and per task (build, set-up, probes); rough
SECONDS_PER_SEGMENT_STEP = 2e-8
SECONDS_PER_TASK = 0.005


def _stick_nseg(L: float, diam: float, Ra: float, cm: float, f: float, d_lambda=0.1) -> int:
    lam = 1e5 * math.sqrt(diam / (4 * math.pi * f * Ra * cm))  # µm, AC length constant
    return int((L / (d_lambda * lam) + 0.9) / 2) * 2 + 1


#: reference Ra (Ω·cm) and cm (µF/cm²) of the sections' AC length constants kept per file
_RA_REF, _CM_REF = 100.0, 1.0
#: (file, (size, mtime), lambda_f) -> (section lengths (µm), AC length constants (µm)
#: at _RA_REF and _CM_REF)
_LAMBDAS: dict = {}


def _section_lambdas(path, lambda_f: float):
    """Lengths and AC length constants (at Ra = 100 Ω·cm, cm = 1 µF/cm²) of the
    sections of a morphology file, loaded once per file and frequency."""
    st = path.stat()
    key = (str(path), (st.st_size, st.st_mtime_ns), float(lambda_f))
    if key not in _LAMBDAS:
        import LFPy
        import neuron

        from .cells import delete_all_sections

        try:
            c = LFPy.Cell(
                morphology=str(path),
                Ra=_RA_REF,
                cm=_CM_REF,
                nsegs_method=None,
                delete_sections=True,
            )
            neuron.h.load_file("stdlib.hoc")
            L = np.array([sec.L for sec in c.allseclist])
            lam = np.array([neuron.h.lambda_f(lambda_f, sec=sec) for sec in c.allseclist])
            del c
        finally:
            delete_all_sections()
        _LAMBDAS[key] = (L, lam)
    return _LAMBDAS[key]


def segments(model: Model, Y: str) -> int:
    """Number of segments of Y's cell (LFPy's d_lambda rule at the cell's lambda_f,
    d_lambda 0.1). A morphology file is loaded once per process: the AC length
    constant of a section scales as 1/sqrt(Ra·cm), so other Ra and cm need no new
    load.

    Parameters
    ----------
    model : Model
        The validated model.
    Y : str
        Postsynaptic population whose cell is counted.

    Returns
    -------
    int
        Number of segments (a count).
    """
    cell = model.population(Y).cell
    path = model.morphology_path(Y)
    if cell.is_user_model:
        return _user_segments(model, Y)
    if path is None:
        total = 0
        for s in cell.morphology:
            L = math.dist(s.start, s.end)
            total += _stick_nseg(L, s.diam, cell.Ra, cell.cm, cell.lambda_f)
        return total
    L, lam_ref = _section_lambdas(path, cell.lambda_f)
    lam = lam_ref * math.sqrt(_RA_REF * _CM_REF / (cell.Ra * cell.cm))
    return int((((L / (0.1 * lam) + 0.9) / 2).astype(int) * 2 + 1).sum())


def _user_segments(model: Model, Y: str) -> int:
    """Segments of a user's model: built in NEURON (its mechanisms loaded)."""
    from .cells import build_user_cell, delete_all_sections
    from .mechanisms import load_user_mechanisms

    cell = model.population(Y).cell
    if cell.mechanisms is not None:
        load_user_mechanisms(model.path(cell.mechanisms), log=lambda *a, **k: None)
    try:
        c = build_user_cell(
            cell,
            param=f"populations[{Y}].cell",
            morphology_path=model.path(cell.morphology)
            if isinstance(cell.morphology, str)
            else None,
            template_path=model.path(cell.template.file) if cell.template is not None else None,
            z=model.population(Y).geometry.loc,
        )
        n = int(c.totnsegs)
        del c
    finally:
        delete_all_sections()
    return n


#: segments assumed for a morphology file that does not load (its task will fail anyway)
FALLBACK_SEGMENTS = 1000
#: an action-potential kernel: simulated runs (the pulse search and the three runs) and
#: the cost of an active segment relative to a passive one (rough)
AP_RUNS = 10
AP_ACTIVE_FACTOR = 3.0
#: the first task of a user's model: the steps of bringing it to rest (rough)
REST_STEPS = 4000


@dataclass(frozen=True)
class TaskCost:
    """The cost of one kernel task, estimated or measured.

    Parameters
    ----------
    X : str
        Presynaptic population.
    Y : str
        Postsynaptic population.
    n_seg : int
        Segments of Y's cell (a count).
    steps : int
        Time steps the task simulates (a count).
    seconds : float
        Wall time of the task in seconds (estimated or measured).
    source : str
        ``"estimate"``, ``"measured"``, or ``"guess (morphology did not load)"``.
    """

    X: str
    Y: str
    n_seg: int
    steps: int
    seconds: float
    source: str  # "estimate" or "measured"


#: segment counts of morphology files in this process: (file, (size, mtime), Ra, cm,
#: lambda_f) -> segments
_SEGMENTS: dict = {}


def _segment_key(model: Model, Y: str):
    cell, path = model.population(Y).cell, model.morphology_path(Y)
    if path is None:  # generated sticks: counted without NEURON, never kept
        return ("", id(cell), Y)
    try:
        st = path.stat()
        stamp = (st.st_size, st.st_mtime_ns)
    except OSError:
        stamp = None
    return (str(path), stamp, cell.Ra, cell.cm, cell.lambda_f)


def prefetch_segments(cells, comm=None) -> dict:
    """Segments of many cells, ``cells`` = [(model, Y), ...] (None for a morphology
    that does not load): cells that share a morphology file and its Ra, cm and
    lambda_f are counted once, and with a communicator the distinct ones are shared
    out over the ranks (loading reconstructed cells into NEURON is what costs here)
    and every rank gets all counts. Counts of files are kept for the process. Every
    rank of ``comm`` must call this. Returns {(model index in cells, Y): segments}."""
    keys = [_segment_key(m, Y) for m, Y in cells]
    first = {}
    for n, key in enumerate(keys):
        first.setdefault(key, n)
    distinct = sorted(set(keys) - set(_SEGMENTS), key=lambda k: first[k])
    rank, size = (comm.rank, comm.size) if comm is not None else (0, 1)

    def count(key):
        m, Y = cells[first[key]]
        try:
            return segments(m, Y)
        except Exception:
            return None

    mine = {key: count(key) for i, key in enumerate(distinct) if i % size == rank}
    if comm is not None and size > 1:
        for part in comm.allgather(mine):
            mine.update(part)
    for key in distinct:  # a rank whose cache differed can miss a count: count it here
        if key not in mine:
            mine[key] = count(key)
    _SEGMENTS.update({k: v for k, v in mine.items() if k[0] and k[1] is not None})
    return {n: (mine[key] if key in mine else _SEGMENTS[key]) for n, key in enumerate(keys)}


def segment_counts(model: Model, Ys, comm=None) -> dict[str, int | None]:
    """Segments of the cells of ``Ys`` (None for a morphology that does not load;
    see :func:`prefetch_segments`). Every rank of ``comm`` must call this."""
    Ys = list(Ys)
    counts = prefetch_segments([(model, Y) for Y in Ys], comm)
    return {Y: counts[n] for n, Y in enumerate(Ys)}


def estimate(model: Model, tasks, measured: dict | None = None, comm=None) -> list[TaskCost]:
    """Cost of each task; ``measured`` maps (X, Y) → wall seconds of an earlier run.

    Unmeasured tasks are estimated and, when some tasks were measured, scaled by
    the median ratio measured/estimated so that both kinds compare. With ``comm``,
    every rank must call it (see :func:`segment_counts`).

    Parameters
    ----------
    model : Model
        The validated model.
    tasks : iterable of tuple of str
        The tasks' (X, Y) pairs.
    measured : dict, optional
        (X, Y) → wall time of an earlier run of that task, in seconds.
    comm : mpi4py.MPI.Comm, optional
        Communicator whose ranks share the segment counting; None: serial.

    Returns
    -------
    list of TaskCost
        One per task, in the order of ``tasks``.
    """
    from .kernel import simulated_duration

    ks = model.kernel
    steps = int(round(simulated_duration(ks) / ks.dt))
    nseg, unknown = {}, set()
    for Y, n in segment_counts(model, sorted({Y for _, Y in tasks}), comm).items():
        if n is None:  # the morphology did not load: reported by the task that builds it
            nseg[Y] = FALLBACK_SEGMENTS
            unknown.add(Y)
        else:
            nseg[Y] = n
    raw = {t: SECONDS_PER_TASK + SECONDS_PER_SEGMENT_STEP * nseg[t[1]] * steps for t in tasks}
    measured = {t: v for t, v in (measured or {}).items() if t in raw and v and v > 0}
    from .store import AP_TASK

    for t in tasks:
        cell = model.population(t[1]).cell
        if t[0] == AP_TASK:
            ap_steps = AP_RUNS * int(round((5.0 + 1.5 * ks.tau) / ks.dt))
            raw[t] = SECONDS_PER_TASK + (
                AP_ACTIVE_FACTOR * SECONDS_PER_SEGMENT_STEP * nseg[t[1]] * (ap_steps + REST_STEPS)
            )
        elif cell.is_user_model:
            raw[t] += AP_ACTIVE_FACTOR * SECONDS_PER_SEGMENT_STEP * nseg[t[1]] * REST_STEPS
    scale = 1.0
    if measured:
        ratios = sorted(measured[t] / raw[t] for t in measured)
        scale = ratios[len(ratios) // 2]
    out = []
    for t in tasks:
        if t in measured:
            out.append(TaskCost(t[0], t[1], nseg[t[1]], steps, measured[t], "measured"))
        else:
            source = "guess (morphology did not load)" if t[1] in unknown else "estimate"
            out.append(TaskCost(t[0], t[1], nseg[t[1]], steps, raw[t] * scale, source))
    return out


def order(costs: list[TaskCost]) -> list[tuple[str, str]]:
    """Tasks longest first (ties keep the model's task order)."""
    idx = sorted(range(len(costs)), key=lambda i: (-costs[i].seconds, i))
    return [(costs[i].X, costs[i].Y) for i in idx]


def units(costs: list[TaskCost], ranks: int, todo=None, per_rank: int = 4) -> list[list]:
    """Work units for ``ranks`` ranks: runs of tasks with the same postsynaptic
    population Y, longest unit first.

    A rank builds Y's cell and transformation matrices once per unit, so whole
    Y groups are handed out as long as there are at least ``per_rank`` units per
    rank for the dynamic balancing; otherwise the groups are cut into that many
    pieces (single tasks at most). ``todo`` restricts to those tasks.
    """
    by_y: dict[str, list[TaskCost]] = {}
    for c in costs:
        if todo is None or (c.X, c.Y) in todo:
            by_y.setdefault(c.Y, []).append(c)
    target = max(ranks, 1) * per_rank
    n_tasks = sum(len(g) for g in by_y.values())
    pieces_per_group = 1 if len(by_y) >= target else -(-target // max(len(by_y), 1))
    out = []
    for group in by_y.values():
        group = sorted(group, key=lambda c: -c.seconds)
        n = min(len(group), pieces_per_group)
        # deal the tasks round-robin so the pieces cost about the same
        pieces = [group[k::n] for k in range(n)]
        out += [[(c.X, c.Y) for c in piece] for piece in pieces]
    cost_of = {(c.X, c.Y): c.seconds for c in costs}
    out.sort(key=lambda u: -sum(cost_of[t] for t in u))
    assert sum(len(u) for u in out) == n_tasks
    return out


def schedule(seconds: list[float], ranks: int) -> tuple[float, list[float]]:
    """Makespan and per-rank busy time of longest-first list scheduling.

    Parameters
    ----------
    seconds : list of float
        Wall time of each task, in seconds.
    ranks : int
        Number of ranks (a count).

    Returns
    -------
    makespan : float
        Wall time until the last rank is done, in seconds.
    loads : list of float
        Busy time of each rank, in seconds.
    """
    loads = [0.0] * max(ranks, 1)
    heap = [(0.0, r) for r in range(len(loads))]
    for s in sorted(seconds, reverse=True):
        t, r = heapq.heappop(heap)
        loads[r] = t + s
        heapq.heappush(heap, (loads[r], r))
    return (max(loads) if seconds else 0.0), loads


def efficiency(seconds: list[float], ranks: int) -> tuple[float, float]:
    """(makespan, parallel efficiency = total work / (ranks × makespan))."""
    makespan, _ = schedule(seconds, ranks)
    total = sum(seconds)
    return makespan, (total / (ranks * makespan) if makespan > 0 else 1.0)
