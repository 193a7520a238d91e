"""The documentation's headline numbers, measured again (slow: about 2 minutes in all).

Each test reads its number from the user guide's page itself (they were the README's
until the guide took over its reference material: docs/guide/validation.md and
docs/guide/performance.md), so that the documentation and the code cannot drift
apart unseen:

- the validation table's row at scale 0.1 (``| 0.1, 1234 | 0.885 | 0.909 | 0.952 |
  0.975 | ...``: low-passed median R² of the LFP and the dipole, without and with the
  action potentials), reproduced by the guide's command ``mpirun -n 2 python -m
  lfpk_hpc validate params/hagen2022.py`` with ``--scale 0.1`` (a quarter of the
  default's time: the default row needs five minutes of the suite's twenty). The
  ground truth is deterministic for a seed on any number of ranks, so on this
  software stack the run gives the same numbers to rounding; the tolerance, 0.005,
  is ten times the table's rounding and leaves room for another machine's floating
  point;
- the speed-up over LFPykernels for the README example, first kernel included
  ("about 80×"), measured as a ratio in one process (benchmarks/kernels.py) and
  required within a factor 3 of the page's number: loose enough for a noisy
  shared 2-core machine, tight enough that a 10× slower kernel engine, or a page
  that claims 10× too much, fails.
"""

import json
import re
import subprocess
import sys

import pytest
from conftest import LFPYKERNELS_HINT, ROOT, mpi_env, mpirun_command, need_module

GUIDE = ROOT / "docs" / "guide"
#: where each number lives
VALIDATION_PAGE = GUIDE / "validation.md"
PERFORMANCE_PAGE = GUIDE / "performance.md"


def page_text(page) -> str:
    return page.read_text(encoding="utf-8")


def readme_validation_row() -> dict:
    """The guide's validation results at scale 0.1 and seed 1234."""
    text = page_text(VALIDATION_PAGE)
    row = re.search(
        r"^\| 0\.1, 1234 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|",
        text,
        re.M,
    )
    assert row, "the validation table of docs/guide/validation.md has changed"
    lfp, cdm, lfp_ap, cdm_ap = map(float, row.groups())
    return {"lfp": lfp, "cdm": cdm, "lfp_ap": lfp_ap, "cdm_ap": cdm_ap}


def pd14_rows(text: str, pattern: str) -> dict:
    """{row label: (LFP, dipole, EEG R²)} of the PD14 rows matched by ``pattern``."""
    rows = {}
    for m in re.finditer(pattern, text, re.M):
        rows[m.group(1)] = tuple(float(m.group(i)) for i in (2, 3, 4))
    return rows


def test_readme_pd14_validation_is_the_guides_and_reaches_the_target():
    """The README's PD14 table (default and full scale) repeats the guide's measured rows,
    and both reach the issue's target, R² >= 0.95 for LFP, dipole and EEG."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    mine = pd14_rows(
        readme,
        r"^\| (default: scale 0\.2, full in-degrees|`--scale 1`, the full microcircuit) \| "
        r"[\d,]+ \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|",
    )
    guide = pd14_rows(
        page_text(VALIDATION_PAGE),
        r"^\| (\*\*0\.2 \(default\)\*\*|1 \(full\)) \| [\d,]+ \| \**([\d.]+) \([\d.]+\)\** \| "
        r"\**([\d.]+) \([\d.]+\)\** \| \**([\d.]+) \([\d.]+\)\** \|",
    )
    assert len(mine) == 2 and len(guide) == 2, (mine, guide)
    assert mine["default: scale 0.2, full in-degrees"] == guide["**0.2 (default)**"]
    assert mine["`--scale 1`, the full microcircuit"] == guide["1 (full)"]
    assert all(v >= 0.95 for row in mine.values() for v in row)
    # and the default the table names is the code's
    from lfpk_hpc.hybrid import DEFAULT_IN_DEGREES
    from lfpk_hpc.validate_hybrid import DEFAULT_SCALE

    assert (DEFAULT_SCALE, DEFAULT_IN_DEGREES) == (0.2, "full")


def readme_speedup() -> float:
    m = re.search(
        r"about (\d+)× less time per kernel\s+for the README example", page_text(PERFORMANCE_PAGE)
    )
    assert m, "the speed-up sentence of docs/guide/performance.md has changed"
    return float(m.group(1))


def test_readme_numbers_are_found():
    """The parsers above find what the slow tests compare (fast, always run)."""
    row = readme_validation_row()
    assert all(0 < v <= 1.2 for v in row.values()), row
    assert readme_speedup() > 1
    command = "mpirun -n 2 .venv/bin/python -m lfpk_hpc validate params/hagen2022.py"
    assert command in page_text(VALIDATION_PAGE)


@pytest.mark.slow
@pytest.mark.mpi
def test_validation_reproduces_the_readme_table(tmp_path):
    expected = readme_validation_row()
    cmd = mpirun_command(
        2, "validate", ROOT / "params" / "hagen2022.py", "--out", "v", "--scale", "0.1"
    )
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=mpi_env(), capture_output=True, text=True, timeout=3600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "v" / "metrics.json").read_text())
    aps = metrics["with_action_potentials"]
    measured = {
        "lfp": metrics["lfp"]["r2_median_lowpass"],
        "cdm": metrics["cdm"]["r2_median_lowpass"],
        "lfp_ap": aps["lfp"]["r2_median_lowpass"],
        "cdm_ap": aps["cdm"]["r2_median_lowpass"],
    }
    for key, value in expected.items():
        assert measured[key] == pytest.approx(value, abs=0.005), (key, measured, expected)
    for probe in ("lfp", "cdm"):
        assert metrics[probe]["passed"] and metrics[probe]["r_median_lowpass"] > 0.9


SPEED_SCRIPT = """
import json, sys
sys.path.insert(0, {bench!r})
import kernels as bench
from lfpk_hpc import mechanisms, params

mechanisms.load_mechanisms(log=lambda *a: None)
readme = params.load({params!r})
cell = bench.readme_cell_parameters(readme)
out = {{}}
for X in ("E", "I"):
    t_ref, H_ref = bench.run_lfpykernels(readme, "E", X, cell, 3)
    t_first, t_amortised, H, _ = bench.run_lfpk_hpc(readme, "E", X, 3, 3)
    out[X] = {{"lfpykernels": t_ref, "first": t_first, "diff": bench.max_rel_diff(H, H_ref)}}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_speedup_over_lfpykernels_is_the_readmes():
    need_module("lfpykernels", LFPYKERNELS_HINT)
    claimed = readme_speedup()
    script = SPEED_SCRIPT.format(
        bench=str(ROOT / "benchmarks"), params=str(ROOT / "params" / "lfpykernels_readme.py")
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for X, r in result.items():
        assert r["diff"] < 1e-6, (X, r)  # the same kernels
        ratio = r["lfpykernels"] / r["first"]
        assert claimed / 3 < ratio < claimed * 3, (X, ratio, claimed, r)
