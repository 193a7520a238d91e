"""scripts/mutants.py plants deliberate bugs by replacing code fragments; a fragment that
no longer occurs (the code was changed or moved) would silently retire its mutant. Every
mutant must still apply to the code as it is (fast: nothing is run)."""

import subprocess
import sys

from conftest import ROOT


def test_every_mutant_still_applies():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "mutants.py"), "--list"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(rows) >= 20, proc.stdout  # the list itself, one row per mutant
    stale = [line for line in rows if "NO LONGER APPLIES" in line]
    assert not stale, "\n".join(stale)
    assert all(" applies " in line for line in rows), proc.stdout
