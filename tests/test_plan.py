"""Cost estimates and the longest-first schedule, against hand-computed values."""

import subprocess

import pytest
from conftest import ROOT, lfpk

from lfpk_hpc import cost, params


def test_longest_first_schedule_by_hand():
    # LPT on 2 ranks: 3|3, then 2 -> r0 (5), 2 -> r1 (5), 2 -> r0 (7)
    makespan, loads = cost.schedule([2, 3, 2, 3, 2], 2)
    assert makespan == 7 and sorted(loads) == [5, 7]
    m, eff = cost.efficiency([2, 3, 2, 3, 2], 2)
    assert eff == pytest.approx(12 / 14)
    # more ranks than tasks: the longest task is the makespan
    assert cost.schedule([1.0, 4.0], 8)[0] == 4.0
    assert cost.efficiency([], 4) == (0.0, 1.0)


def test_stick_segments_follow_the_d_lambda_rule():
    # LFPy/NEURON give 27 segments for the README cell (tests/test_reference.py)
    model = params.load(ROOT / "params" / "lfpykernels_readme.py")
    assert cost.segments(model, "E") == 27
    hagen = params.load(ROOT / "params" / "hagen2022.py")
    assert cost.segments(hagen, "I") == 11


def test_measured_times_replace_estimates_and_scale_the_rest():
    model = params.load(ROOT / "params" / "hagen2022.py")
    tasks = model.tasks()
    est = {(c.X, c.Y): c for c in cost.estimate(model, tasks)}
    measured = {("E", "E"): 10 * est[("E", "E")].seconds}
    mixed = {(c.X, c.Y): c for c in cost.estimate(model, tasks, measured)}
    assert (
        mixed[("E", "E")].source == "measured" and mixed[("E", "E")].seconds == measured[("E", "E")]
    )
    assert mixed[("I", "I")].seconds == pytest.approx(10 * est[("I", "I")].seconds)
    assert cost.order(list(mixed.values()))[0] == ("E", "E")


def test_plan_command(tmp_path):
    proc = subprocess.run(
        lfpk("plan", ROOT / "params" / "hagen2022.py", "--ranks", "3"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "4 tasks" in out and "all costs are estimates" in out
    assert "every rank computing" in out and "parallel efficiency" in out
    assert "one coordinating rank and 2 workers" in out
    # plan imports no NEURON simulation machinery for stick cells
    assert "numprocs" not in out
    bad = subprocess.run(
        lfpk("plan", ROOT / "params" / "hagen2022.py", "--ranks", "0"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "--ranks = 0" in bad.stderr


def test_units_keep_a_populations_tasks_together_unless_ranks_need_more():
    C = cost.TaskCost
    costs = [
        C(X, Y, 10, 100, s, "estimate")
        for X, Y, s in (
            ("a", "Y1", 3.0),
            ("b", "Y1", 1.0),
            ("a", "Y2", 2.0),
            ("b", "Y2", 2.0),
            ("c", "Y2", 1.0),
        )
    ]
    # 1 rank: 4 units wanted, 2 groups -> each group dealt into 2 pieces
    one = cost.units(costs, 1)
    assert sorted(map(sorted, one)) == sorted(
        map(sorted, [[("a", "Y1")], [("b", "Y1")], [("a", "Y2"), ("c", "Y2")], [("b", "Y2")]])
    )
    # with few units per rank wanted, whole groups, longest first
    whole = cost.units(costs, 1, per_rank=2)
    assert whole == [[("a", "Y2"), ("b", "Y2"), ("c", "Y2")], [("a", "Y1"), ("b", "Y1")]]
    # many ranks: single tasks, longest first
    single = cost.units(costs, 8)
    assert [u[0] for u in single][0] == ("a", "Y1") and all(len(u) == 1 for u in single)
    # every task exactly once, and only those still to do
    assert sorted(t for u in cost.units(costs, 3, todo={("b", "Y2")}) for t in u) == [("b", "Y2")]


def test_hybrid_blocks_and_costs_by_hand():
    """Blocks: whole cells, about block_segments segments each, every cell once, in
    population order; the cost of a block is its cells' costs (the model's terms)."""
    from lfpk_hpc import hybrid

    tiny = params.load(ROOT / "tests" / "data" / "hybrid_tiny.py")
    blocks, bseg = hybrid.block_plan(tiny, {"P": 48}, block_segments=100)
    assert bseg == 100 and [(b[2], b[3]) for b in blocks] == [(0, 2), (2, 2), (4, 2)]
    blocks, bseg = hybrid.block_plan(tiny, {"P": 48})  # 288 segments in all: one block
    assert bseg == hybrid.MIN_BLOCK_SEGMENTS and [(b[2], b[3]) for b in blocks] == [(0, 6)]
    one = hybrid.block_cost(48, 1, 1000, 200.0, 500.0)
    assert hybrid.block_cost(48, 3, 1000, 200.0, 500.0) == pytest.approx(3 * one)
    expected = (
        hybrid.COST_SEGMENT_STEP * 48 * 1000
        + hybrid.COST_POINT_PROCESS_STEP * 48 * (1 - 2.718281828459045 ** (-200 / 48)) * 1000
        + hybrid.COST_EVENT * 500
        + hybrid.COST_SYNAPSE * 200
        + hybrid.COST_CELL
    )
    assert one == pytest.approx(expected)


def test_hybrid_plan_of_the_full_microcircuit():
    """plan --hybrid for full-scale PD14 (77,169 cells, 1 s): the schedule's
    arithmetic (makespan >= work / ranks and >= the largest block, efficiency =
    work / (ranks x makespan)) and the efficiency at 64 ranks."""
    proc = subprocess.run(
        lfpk("plan", ROOT / "params" / "potjans.py", "--hybrid", "--dt", "0.1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "77169 cells" in out and "10000 steps" in out
    import re

    total = float(re.search(r"total work (\d+) s", out).group(1))
    largest = float(re.search(r"the largest block ([\d.]+) s", out).group(1))
    for n in (64, 256, 1024):
        m = re.search(rf"\s{n} ranks: makespan ([\d.]+) s, parallel efficiency ([\d.]+)", out)
        makespan, eff = float(m.group(1)), float(m.group(2))
        assert makespan >= max(total / n, largest) - 0.1
        # the printed numbers are rounded (total to 1 s, makespan to 0.1 s, efficiency
        # to 0.01): the efficiency must lie in the range they allow
        lo = (total - 0.5) / (n * (makespan + 0.05)) - 0.005
        hi = (total + 0.5) / (n * (makespan - 0.05)) + 0.005
        assert lo <= eff <= hi, (n, eff, lo, hi)
    m64 = re.search(r"\s64 ranks: makespan [\d.]+ s, parallel efficiency ([\d.]+)", out)
    assert float(m64.group(1)) >= 0.9


def test_segment_counts_of_reconstructed_cells_equal_lfpy_for_any_ra_cm():
    """cost.segments loads a morphology once and rescales its sections' AC length
    constants by 1/sqrt(Ra cm): the counts equal LFPy's d_lambda rule at every Ra, cm."""
    import dataclasses

    import LFPy

    from lfpk_hpc import cost
    from lfpk_hpc.cells import delete_all_sections
    from lfpk_hpc.params import load

    model = load(ROOT / "params" / "potjans_16types_reconstructed.py")
    for name in ("p23", "b4", "p5(L56)"):
        pop = model.population(name)
        for Ra, cm in ((70.0, 1.0), (150.0, 0.8), (233.3, 1.3)):
            cell = dataclasses.replace(pop.cell, Ra=Ra, cm=cm)
            m = dataclasses.replace(
                model,
                populations=tuple(
                    dataclasses.replace(p, cell=cell) if p.name == name else p
                    for p in model.populations
                ),
            )
            c = LFPy.Cell(
                morphology=str(m.morphology_path(name)),
                Ra=Ra,
                cm=cm,
                nsegs_method="lambda_f",
                lambda_f=cell.lambda_f,
                delete_sections=True,
            )
            expected = c.totnsegs
            del c
            delete_all_sections()
            assert cost.segments(m, name) == expected, (name, Ra, cm)
