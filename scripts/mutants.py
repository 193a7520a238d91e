"""A small mutation check: do the tests catch deliberate bugs?

    python scripts/mutants.py [--list] [--only NAME ...] [--slow] [--no-baseline]

(``--list`` shows the mutants and whether each still applies to the code.)

Copies the source tree (the files git tracks) into a temporary folder, applies one
deliberate bug (a mutant) to the copy, runs the tests meant to catch it with
PYTHONPATH pointing at the copy, and prints per mutant whether they caught it (a
test failed) or not. The checkout itself is never changed. ``../shared`` is linked
beside the copy, as the tests expect it beside the repository.

Each mutant replaces stable code fragments; whitespace inside a fragment may vary,
but each fragment must occur exactly once, else the script stops before running
anything with "mutant X no longer applies" (update the fragment when the code
changed). First the tests of all selected mutants run on the unmutated copy (the
baseline): a test that fails already cannot catch anything. Mutants marked slow
(a test of minutes, e.g. the guide's validation table) run only with ``--slow``.

Exit code 0 when every mutant was caught, 1 when one was not (or the baseline
failed), 2 when a mutant no longer applies.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    what: str
    path: str  # file in the repository
    edits: tuple[tuple[str, str], ...]  # (fragment, replacement)
    tests: tuple[str, ...]  # pytest node ids
    slow: bool = False


V, S, K = "src/lfpk_hpc/metrics.py", "src/lfpk_hpc/scheduler.py", "src/lfpk_hpc/kernel.py"
METRICS = "tests/test_validate_metrics.py"
E2E = "tests/test_validate.py::test_tiny_network_end_to_end"
PD14REF = "tests/test_pd14_references.py"

MUTANTS = (
    # -- validation metrics
    Mutant(
        "sign-flip-before-compare",
        "the prediction's sign flipped before the comparison",
        V,
        (("m = channel_metrics(pr, tr, dt)", "m = channel_metrics(-pr, tr, dt)"),),
        (f"{METRICS}::test_compare_fails_an_anticorrelated_or_constant_prediction", E2E),
    ),
    Mutant(
        "sign-flip-e2e-only",
        "the same sign flip, against the end-to-end validation test alone",
        V,
        (("m = channel_metrics(pr, tr, dt)", "m = channel_metrics(-pr, tr, dt)"),),
        (E2E,),
    ),
    Mutant(
        "r-without-sign",
        "r computed as |r| (a correlation that cannot be negative)",
        V,
        (("r = (p * t).sum(axis=-1) / (sp * st)", "r = np.abs((p * t).sum(axis=-1)) / (sp * st)"),),
        (f"{METRICS}::test_correlation_keeps_the_sign",),
    ),
    Mutant(
        "r-below-0-passes",
        "a negative median r no longer fails a probe",
        V,
        (("elif m < R_MIN:", "elif m < R_MIN - 2.0:"),),
        (f"{METRICS}::test_compare_fails_an_anticorrelated_or_constant_prediction",),
    ),
    Mutant(
        "lowpass-40Hz",
        "low-pass cutoff 40 Hz instead of 100 Hz",
        V,
        (("f_cut: float = 100.0", "f_cut: float = 40.0"),),
        (f"{METRICS}::test_lowpass_response_equals_the_designed_filter_squared",),
    ),
    Mutant(
        "lowpass-150Hz",
        "low-pass cutoff 150 Hz instead of 100 Hz",
        V,
        (("f_cut: float = 100.0", "f_cut: float = 150.0"),),
        (f"{METRICS}::test_lowpass_response_equals_the_designed_filter_squared",),
    ),
    Mutant(
        "lowpass-one-pass",
        "the low-pass applied forwards only (sosfilt, not zero phase)",
        V,
        (("return ss.sosfiltfilt(sos, x, axis=-1)", "return ss.sosfilt(sos, x, axis=-1)"),),
        (f"{METRICS}::test_lowpass_response_equals_the_designed_filter_squared",),
    ),
    Mutant(
        "lowpassed-r2-unfiltered",
        "the low-passed R² computed on the unfiltered signals",
        V,
        (("_r_rstd(lowpass(pred, dt), lowpass(truth, dt))", "_r_rstd(pred, truth)"),),
        (f"{METRICS}::test_lowpassed_r2_filters_both_signals",),
    ),
    Mutant(
        "lowpassed-r2-truth-only",
        "only the ground truth low-passed (the published notebook's slip)",
        V,
        (("_r_rstd(lowpass(pred, dt), lowpass(truth, dt))", "_r_rstd(pred, lowpass(truth, dt))"),),
        (f"{METRICS}::test_lowpassed_r2_filters_both_signals",),
    ),
    Mutant(
        "missing-presynaptic-population",
        "the prediction sums only the first presynaptic population of each Y",
        "src/lfpk_hpc/predict.py",
        (("acc = prod if acc is None else acc + prod", "acc = prod if acc is None else acc"),),
        (E2E,),
    ),
    # -- resume and MPI
    Mutant(
        "resume-ignores-checkpoints",
        "--resume reads no checkpoints (only the kernels file)",
        S,
        (("done.update(saved)", "pass"),),
        ("tests/test_resume.py",),
    ),
    Mutant(
        "resume-recomputes-finished",
        "--resume computes finished tasks again",
        S,
        (
            (
                "todo = [keys[i] for i in order if keys[i] not in done_keys]",
                "todo = [keys[i] for i in order]",
            ),
        ),
        ("tests/test_resume.py",),
    ),
    Mutant(
        "only-rank-0-computes",
        "under MPI only rank 0 takes tasks (the log still says 'all computing')",
        S,
        (
            (
                "while failure is None:\n        i = counter.next()",
                "while failure is None and rank == 0:\n        i = counter.next()",
            ),
        ),
        ("tests/test_mpi.py::test_more_than_one_rank_computes",),
    ),
    Mutant(
        "counter-not-shared",
        "every rank computes every task (a counter per rank)",
        S,
        (("counter = _Counter(comm)", "counter = _Counter(None)"),),
        ("tests/test_mpi.py::test_more_than_one_rank_computes",),
    ),
    # -- PD14's paths
    Mutant(
        "pd14-linear-synapse-count",
        "PD14's log synapse count replaced by C·N_X·N_Y",
        K,
        (('if model.synapse_count == "log":', "if False:"),),
        (PD14REF,),
    ),
    Mutant(
        "layer-widened-not-convolved",
        "uniform layers widened as LFPykernels does instead of convolved with the spread",
        K,
        (('if dist.name == "uniform" and pop_scale > 0:', "if False:"),),
        (PD14REF,),
    ),
    Mutant(
        "multapse-continuous-mean",
        "multapse mean of the continuous distribution, not of its pdf at 1..99",
        K,
        (("return float(np.sum(k * pk))", "return float(multapses.frozen().mean())"),),
        (PD14REF,),
    ),
    Mutant(
        "expsyni-tau-doubled",
        "ExpSynI decays with 2·tau (mod/expsyni.mod)",
        "mod/expsyni.mod",
        (("A' = -A / tau", "A' = -A / (2 * tau)"),),
        (f"{PD14REF}::test_expsyni_current_is_minus_w_times_the_decaying_exponential",),
    ),
    # -- users' active models (issue 13)
    Mutant(
        "frozen-gates-forgotten",
        "the frozen cell keeps only the model's pas conductance (the channels' dropped)",
        "src/lfpk_hpc/linearise.py",
        (('        g = d["g"]\n', "        g = np.array([seg.pas.g for seg in segs])\n"),),
        ("tests/test_active_cells.py::test_linearisations_equal_lfpykernels",),
    ),
    Mutant(
        "quasi-active-gate-sign",
        "the quasi-active gates' coupling c = a·b with the wrong sign",
        "src/lfpk_hpc/linearise.py",
        (("c[segs] = a[segs] * b  # S/cm²", "c[segs] = -a[segs] * b  # S/cm²"),),
        ("tests/test_active_cells.py::test_linearisations_equal_lfpykernels",),
    ),
    Mutant(
        "ap-kernels-not-predicted",
        "predict leaves the action-potential kernels out",
        "src/lfpk_hpc/predict.py",
        (("            if H.any() and n_spikes.get(Y, 0) > 0:", "            if False:"),),
        ("tests/test_active_cells.py::test_predict_adds_action_potentials",),
    ),
    # -- the documentation's numbers (the README's until the user guide took them over)
    Mutant(
        "readme-speedup-drift",
        "the guide claims 800x instead of 80x",
        "docs/guide/performance.md",
        (("about 80× less time per kernel", "about 800× less time per kernel"),),
        ("tests/test_readme_numbers.py::test_speedup_over_lfpykernels_is_the_readmes",),
    ),
    Mutant(
        "readme-validation-drift",
        "the guide's LFP R² 0.885 at scale 0.1 became 0.905",
        "docs/guide/validation.md",
        (("| 0.1, 1234 | 0.885 |", "| 0.1, 1234 | 0.905 |"),),
        ("tests/test_readme_numbers.py::test_validation_reproduces_the_readme_table",),
        slow=True,
    ),
)


class NoLongerApplies(Exception):
    pass


def _pattern(fragment: str) -> re.Pattern:
    """``fragment`` as a regular expression in which any run of whitespace matches
    any run of whitespace (indentation and line breaks may change)."""
    parts = re.split(r"\s+", fragment.strip())
    return re.compile(r"\s+".join(re.escape(p) for p in parts))


def mutate(text: str, mutant: Mutant) -> str:
    for fragment, replacement in mutant.edits:
        found = list(_pattern(fragment).finditer(text))
        if len(found) != 1:
            raise NoLongerApplies(
                f"mutant {mutant.name} no longer applies: the fragment {fragment!r} occurs "
                f"{len(found)} times in {mutant.path} (exactly once expected)"
            )
        m = found[0]
        text = text[: m.start()] + replacement + text[m.end() :]
    return text


def copy_tree(dest: Path) -> Path:
    """The files git tracks (and the work tree's changes to them) copied to
    ``dest``/repo, with ``dest``/shared linked to ../shared."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    repo = dest / "repo"
    for name in filter(None, files):
        src = ROOT / name.decode()
        if not src.is_file():
            continue
        target = repo / name.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    shared = ROOT.parent / "shared"
    if shared.exists():
        (dest / "shared").symlink_to(shared)
    return repo


def run_tests(repo: Path, tests, timeout: float, **env) -> tuple[int, str, float]:
    """pytest on ``tests`` in ``repo`` with its src first on PYTHONPATH:
    (exit code, the first failing test or the last lines, seconds)."""
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), **env}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout:.0f} s", time.perf_counter() - t0
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.M)
    detail = failed[0] if failed else proc.stdout.strip().splitlines()[-1:]
    return proc.returncode, str(detail), time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutants")
    ap.add_argument("--slow", action="store_true", help="include the slow mutants")
    ap.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    ap.add_argument("--timeout", type=float, default=3600.0, help="per pytest run (s)")
    args = ap.parse_args(argv)

    if args.list:
        for m in MUTANTS:
            try:
                mutate((ROOT / m.path).read_text(), m)
                state = "applies"
            except NoLongerApplies:
                state = "NO LONGER APPLIES"
            print(f"{m.name:32} {m.path:27} {state:8} {m.what}{' (slow)' if m.slow else ''}")
        return 0
    chosen = [m for m in MUTANTS if (args.slow or not m.slow)]
    if args.only:
        unknown = set(args.only) - {m.name for m in MUTANTS}
        if unknown:
            print(f"unknown mutants: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        chosen = [m for m in MUTANTS if m.name in args.only]
    # every mutant must apply before anything runs
    try:
        for m in chosen:
            mutate((ROOT / m.path).read_text(), m)
    except NoLongerApplies as exc:
        print(str(exc), file=sys.stderr)
        return 2

    rows = []
    with tempfile.TemporaryDirectory(prefix="lfpk_mutants_") as tmp:
        tmp = Path(tmp)
        base = copy_tree(tmp / "baseline")
        if not args.no_baseline:
            tests = sorted({t for m in chosen for t in m.tests})
            code, detail, seconds = run_tests(base, tests, args.timeout)
            print(f"baseline (unmutated, {len(tests)} selections): exit {code} in {seconds:.0f} s")
            if code != 0:
                print(f"the baseline fails ({detail}): nothing can be judged", file=sys.stderr)
                return 1
        for i, m in enumerate(chosen):
            repo = tmp / f"m{i}" / "repo"
            shutil.copytree(base, repo, symlinks=True)
            if (tmp / "baseline" / "shared").exists():
                (tmp / f"m{i}" / "shared").symlink_to(ROOT.parent / "shared")
            target = repo / m.path
            target.write_text(mutate(target.read_text(), m))
            # a mutated mechanism is compiled into a cache of its own, not the user's
            env = (
                {"LFPK_HPC_CACHE": str(tmp / f"m{i}" / "cache")}
                if m.path.startswith("mod/")
                else {}
            )
            code, detail, seconds = run_tests(repo, m.tests, args.timeout, **env)
            verdict = "caught" if code == 1 else ("NOT CAUGHT" if code == 0 else f"error {code}")
            rows.append((m.name, verdict, f"{seconds:.0f} s", detail if code == 1 else ""))
            print(
                f"  {m.name}: {verdict} ({seconds:.0f} s) {detail if code != 0 else ''}", flush=True
            )
            shutil.rmtree(repo.parent)

    header = ("mutant", "result", "time", "first failing test")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(4)]
    print()
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    missed = [r[0] for r in rows if r[1] != "caught"]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} mutants caught", end="")
    print(f"; not caught: {', '.join(missed)}" if missed else "")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
