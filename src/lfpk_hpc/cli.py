"""Command line.

    python -m lfpk_hpc PARAMS [--out FILE] [--resume | --overwrite]     (= run)
    python -m lfpk_hpc plan PARAMS [--ranks N] [--out FILE]
    python -m lfpk_hpc plot KERNELS.h5 [--out FIGURE.png] [--probe NAME] [--tmax MS]
    python -m lfpk_hpc predict KERNELS.h5 SPIKES --out signals.h5 [...]
    python -m lfpk_hpc plot-signals SIGNALS.h5 [--out FIGURE.png]
    python -m lfpk_hpc simulate-pd14 PARAMS --scale 0.1 --tstop 1000 --out spikes.h5
    python -m lfpk_hpc submit PARAMS [--validate] [--dry-run]
    python -m lfpk_hpc evoked PARAMS --trials N --out DIR [--scale S] [--tstop T]
    mpirun -n 64 python -m lfpk_hpc PARAMS ...

Further subcommands live in their own modules (see EXTERNAL): each defines
``add_arguments(parser)`` and ``main(args) -> int`` and is imported only when used.

Exit codes: 0 success, 1 a run that failed, 2 bad input (arguments, params file,
an output file that exists or cannot be resumed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: folder of the default kernels file, ``kernels/<params name>.h5``
DEFAULT_OUT_DIR = "kernels"
#: subcommands implemented in other modules: name -> (module, one-line description)
EXTERNAL = {
    "predict": ("predict", "signals from spikes convolved with kernels"),
    "plot-signals": ("signalsplot", "figure of a signals file"),
    "simulate-pd14": ("nestsim", "spikes of the PD14 point-neuron network (NEST)"),
    "submit": ("slurm", "submit the kernel (and validation) jobs to Slurm"),
    "groundtruth": ("groundtruth", "a full biophysical LFPy.Network run of a params file"),
    "hybrid": ("hybrid", "the hybrid ground truth: every cell driven by a point network's spikes"),
    "scan": ("scan", "the kernels of every point of a parameter scan, as one job"),
    "scan-extract": ("scan", "one point of a scan file as a standalone kernels file"),
    "plot-scan": ("scanplot", "how kernels change along each axis of a scan file"),
    "scan-summary": ("scanplot", "the validations of a scan's points against its axes"),
    "compare": ("validate", "compare ground-truth signals with kernel predictions"),
    "validate": ("validate", "ground truth, kernels, prediction, comparison and report"),
    "evoked": ("evoked", "trials of PD14 with evoked drives: dipole, EEG, MEG as HNN shows them"),
}
#: every subcommand of ``python -m lfpk_hpc``
SUBCOMMANDS = ("run", "plan", "plot", *EXTERNAL)


def default_out(params: str) -> Path:
    """Default output: ``kernels/<params file stem>.h5`` in the working directory.

    Parameters
    ----------
    params : str
        The params file's path.

    Returns
    -------
    pathlib.Path
        The default kernels file.
    """
    return Path(DEFAULT_OUT_DIR) / (Path(params).stem + ".h5")


class _DefaultsInHelp:
    """Every option that takes a value ends its help with its default, unless the
    help already says what it is (or the option is required)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            not action.option_strings
            or action.required
            or action.nargs == 0
            or action.default in (None, [], argparse.SUPPRESS)
            or "default" in text
        ):
            return text
        return f"{text} (default: %(default)s)"


class HelpFormatter(_DefaultsInHelp, argparse.HelpFormatter):
    """Help of the subcommands: wrapped text, every default shown."""


class _RawHelpFormatter(_DefaultsInHelp, argparse.RawDescriptionHelpFormatter):
    pass


def _run_parser() -> argparse.ArgumentParser:
    others = {
        "plan": "tasks, costs and the expected schedule on N ranks",
        "plot": "the overview figure of a kernels file",
        **{name: text for name, (_module, text) in EXTERNAL.items()},
    }
    p = argparse.ArgumentParser(
        prog="python -m lfpk_hpc [run]",
        description="Compute the spike-signal kernels H_YX of every (X, Y) pathway and probe "
        "of a params file and write them to one HDF5 file. Under mpirun/srun the tasks are "
        "spread over all ranks.",
        epilog="other commands (python -m lfpk_hpc COMMAND --help):\n"
        + "\n".join(f"  {name:<14} {text}" for name, text in others.items()),
        formatter_class=_RawHelpFormatter,
    )
    p.add_argument("params", help="params file (a Python module defining model = Model(...))")
    p.add_argument("-V", "--version", action="store_true", help="print lfpk_hpc's version and exit")
    p.add_argument("--out", help="output HDF5 file (default: kernels/<params name>.h5)")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run of the same parameters in --out "
        "(starts a new run if there is nothing to continue)",
    )
    g.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument(
        "--write-path",
        choices=("auto", "mpio", "rank0"),
        default="auto",
        help="with several ranks: parallel HDF5 (mpio) or sending results to rank 0 "
        "(rank0); auto uses mpio when h5py is built with MPI",
    )
    return p


def _plan_parser() -> argparse.ArgumentParser:
    from .gtnetwork import IN_DEGREES

    p = argparse.ArgumentParser(
        prog="python -m lfpk_hpc plan",
        description="Print the tasks of a params file with cost estimates and the expected "
        "schedule on N ranks, without simulating. Measured task times of an earlier run "
        "(--out, default kernels/<params name>.h5) replace the estimates.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("params", help="params file (a Python module defining model = Model(...))")
    p.add_argument(
        "--ranks",
        type=int,
        nargs="+",
        default=None,
        help="numbers of MPI ranks (default: 1 for kernels; 64 256 1024 with --hybrid; 1 2 64 "
        "with --scan)",
    )
    p.add_argument(
        "--out",
        help="kernels file of an earlier run with measured task times "
        "(default: kernels/<params name>.h5)",
    )
    p.add_argument(
        "--scan",
        action="store_true",
        help="PARAMS is a scan file: plan the scan (--measured: a scan file of it or a "
        "kernels file with measured task times)",
    )
    h = p.add_argument_group("the hybrid ground truth (--hybrid)")
    h.add_argument(
        "--hybrid", action="store_true", help="plan a hybrid ground truth instead of kernels"
    )
    h.add_argument("--scale", type=float, default=1.0, help="fraction of N (default 1)")
    h.add_argument(
        "--in-degrees",
        choices=IN_DEGREES,
        default="full",
        help="below scale 1, as hybrid --in-degrees: cells keep their full-scale in-degrees "
        "(default) or C is kept",
    )
    h.add_argument("--tstop", type=float, default=1000.0, help="simulated ms (default 1000)")
    h.add_argument("--dt", type=float, default=None, help="time step, ms (default kernel dt)")
    h.add_argument(
        "--measured",
        help="signals.h5 of an earlier hybrid run: its block times calibrate the estimates; "
        "with --scan a scan or kernels file with task times (default: none, the cost model "
        "alone)",
    )
    return p


def _plot_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lfpk_hpc plot",
        description="Draw the kernels of a kernels file: a grid of LFP kernels across depth "
        "(rows Y, columns X) with the current dipole moment and EEG kernels beside it.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("kernels", help="kernels file (HDF5) written by python -m lfpk_hpc")
    p.add_argument("--out", help="output PNG (default: the kernels file with suffix .png)")
    p.add_argument(
        "--probe", help="probe drawn in the grid (default: the first Gauss-cylinder LFP probe)"
    )
    p.add_argument(
        "--tmax",
        type=float,
        help="draw lags 0..TMAX ms (default: up to where every kernel stays below 1 %% of its "
        "largest value, at most tau)",
    )
    p.add_argument(
        "--scale",
        choices=("panel", "row", "grid", "symlog"),
        default="panel",
        help="colour scale of the grid: one per panel (its ±value printed in it), per row, "
        "one for the grid, or one symmetric-log scale for the grid",
    )
    p.add_argument("--dpi", type=float, default=150.0, help="resolution in dots per inch")
    p.add_argument(
        "--point",
        default=None,
        help="with a scan file as KERNELS: draw this point, by index (0-based) or values "
        "('kernel.tau=100,populations[E].nu=3'), into KERNELS.point<i>.png unless --out is "
        "given (default: none, KERNELS is a kernels file)",
    )
    return p


from .errors import report as error  # noqa: E402  (the one reporter of every subcommand)

_error = error


def _unknown_command(word: str) -> str | None:
    """The message for a first argument that is neither a command nor a params file
    (a bare word such as ``plto``), or None."""
    import re

    if not re.fullmatch(r"[A-Za-z][\w-]*", word) or Path(word).exists():
        return None
    import difflib

    close = difflib.get_close_matches(word.lower(), SUBCOMMANDS, n=1, cutoff=0.7)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"unknown command {word!r}{hint} (commands: {', '.join(SUBCOMMANDS)}; to compute "
        "kernels give a params file, e.g. python -m lfpk_hpc params/potjans.py)"
    )


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m lfpk_hpc [COMMAND] ARGS`` (``argv``; default ``sys.argv[1:]``);
    return the exit code: 0 success, 1 a failed run, 2 bad input.

    Parameters
    ----------
    argv : list of str, optional
        The command line's arguments; None: ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code.
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-V"]):
        from . import __version__

        print(f"lfpk_hpc {__version__}")
        return 0
    command = "run"
    if argv and argv[0] in SUBCOMMANDS:
        command, argv = argv[0], argv[1:]
    elif argv and (msg := _unknown_command(argv[0])):
        return error(msg, 2)
    if command == "plan":
        return _plan(_plan_parser().parse_args(argv))
    if command == "plot":
        return _plot(_plot_parser().parse_args(argv))
    if command in EXTERNAL:
        return _external(command, argv)
    return _run(_run_parser().parse_args(argv))


#: subcommands whose arguments and entry point have other names in their module
_ENTRY = {
    "plot-signals": ("add_plot_arguments", "plot_main"),
    "compare": ("add_compare_arguments", "compare_main"),
    "scan-extract": ("add_extract_arguments", "extract_main"),
    "scan-summary": ("add_summary_arguments", "summary_main"),
}


def _external_parser(command: str):
    """(parser, module) of a subcommand of EXTERNAL."""
    import importlib

    module_name, description = EXTERNAL[command]
    module = importlib.import_module(f".{module_name}", __package__)
    parser = argparse.ArgumentParser(
        prog=f"python -m lfpk_hpc {command}", description=description, formatter_class=HelpFormatter
    )
    getattr(module, _ENTRY.get(command, ("add_arguments", "main"))[0])(parser)
    return parser, module


def _external(command: str, argv: list[str]) -> int:
    parser, module = _external_parser(command)
    return getattr(module, _ENTRY.get(command, ("add_arguments", "main"))[1])(
        parser.parse_args(argv)
    )


def parser_of(command: str) -> argparse.ArgumentParser:
    """The argument parser of ``command`` (one of SUBCOMMANDS).

    Parameters
    ----------
    command : str
        A subcommand, one of :data:`SUBCOMMANDS`.

    Returns
    -------
    argparse.ArgumentParser
        Its parser.
    """
    if command == "run":
        return _run_parser()
    if command == "plan":
        return _plan_parser()
    if command == "plot":
        return _plot_parser()
    return _external_parser(command)[0]


def _load(params: str):
    from .params import load

    return load(params)


def _run(args) -> int:
    from .parallel import run_command

    # MPI (when launched with mpirun/srun) is initialised after NEURON is imported
    return run_command(lambda comm: _run_kernels(args, comm))


def _run_kernels(args, comm) -> int:
    from .kernelrun import run_kernels

    model = _load(args.params)
    out = Path(args.out) if args.out else default_out(args.params)
    run_kernels(
        model,
        out,
        comm=comm,
        overwrite=args.overwrite,
        resume=args.resume,
        write_path=args.write_path,
        log=lambda msg: print(msg, flush=True),
    )
    return 0


def _plan(args) -> int:
    from .params import ParamsError

    ranks = args.ranks or ([64, 256, 1024] if args.hybrid else ([1, 2, 64] if args.scan else [1]))
    if min(ranks) < 1:
        return _error(f"--ranks = {min(ranks)} is invalid: must be >= 1", 2)
    if args.scan:
        if args.hybrid:
            return _error("--scan and --hybrid exclude each other", 2)
        from .scan import ScanError
        from .scanplan import plan_scan, print_plan

        try:
            print_plan(args.params, plan_scan(args.params, ranks, args.measured))
        except (ScanError, ParamsError) as exc:
            return _error(str(exc), 2)
        return 0
    try:
        model = _load(args.params)
    except ParamsError as exc:
        return _error(str(exc), 2)
    if args.hybrid:
        return _plan_hybrid(args, model, ranks)
    if len(ranks) > 1:
        return _error("--ranks takes one number for a kernel plan (several with --hybrid)", 2)
    args.ranks = ranks[0]
    from . import cost
    from .kernelrun import task_keys, task_label
    from .store import AP_TASK

    pairs = model.tasks()
    tasks = task_keys(model)
    n_ap = sum(1 for X, _ in tasks if X == AP_TASK)
    out = Path(args.out) if args.out else default_out(args.params)
    measured, note = {}, "no earlier run found: all costs are estimates"
    if out.exists():
        from .store import read_task_table

        try:
            import h5py

            with h5py.File(out, "r") as f:
                same = f.attrs.get("params_hash") == model.hash()
            if same:
                table = read_task_table(out)
                measured = {k: v["wall_time_s"] for k, v in table.items() if v["complete"]}
                note = f"measured task times from {out} ({len(measured)} tasks)"
            else:
                note = f"{out} was made with other parameters: all costs are estimates"
        except Exception as exc:  # an unreadable file only loses the measurements
            note = f"{out} is unreadable ({type(exc).__name__}): all costs are estimates"
    costs = cost.estimate(model, tasks, measured)
    print(
        f"plan for model {model.name!r} (params hash {model.hash()[:12]}): {len(tasks)} tasks"
        + (f" ({n_ap} action-potential kernels)" if n_ap else "")
        + (
            f", {len(pairs) - len(tasks) + n_ap} pathways with C_YX = 0 (zero kernels, no task)"
            if len(pairs) > len(tasks) - n_ap
            else ""
        )
    )
    print(note)
    print(f"{'task':>16} {'segments':>9} {'steps':>8} {'seconds':>9}  source")
    by_key = {(t.X, t.Y): t for t in costs}
    for key in cost.order(costs):
        t = by_key[key]
        print(f"{task_label(key):>16} {t.n_seg:>9} {t.steps:>8} {t.seconds:>9.3f}  {t.source}")
    n = args.ranks

    def unit_seconds(ranks):
        return [sum(by_key[t].seconds for t in u) for u in cost.units(costs, ranks)]

    seconds = unit_seconds(n)
    makespan, eff = cost.efficiency(seconds, n)
    total = sum(t.seconds for t in costs)
    largest = max((t.seconds for t in costs), default=0.0)
    print(f"total work {total:.2f} s; the largest task {largest:.2f} s")
    print(
        f"schedule on {n} rank{'s' if n > 1 else ''}: dynamic, longest first, every rank "
        f"computing (shared MPI counter, no coordinator rank); {len(seconds)} units of work "
        "(runs of tasks with the same Y)"
    )
    print(f"  expected makespan {makespan:.2f} s, parallel efficiency {eff:.2f}")
    if n > 1:
        m2, _ = cost.efficiency(unit_seconds(n - 1), n - 1)
        e2 = total / (n * m2) if m2 > 0 else 1.0
        print(
            f"  (with one coordinating rank and {n - 1} workers: makespan {m2:.2f} s, "
            f"efficiency {e2:.2f})"
        )
    if n > len(tasks):
        print(f"  {n - len(tasks)} ranks get no task and wait at the end")
    return 0


def _plan_hybrid(args, model, ranks) -> int:
    from .errors import describe
    from .hybrid import plan

    try:
        lines = plan(
            model,
            scale=args.scale,
            tstop=args.tstop,
            dt=args.dt,
            ranks=ranks,
            measured=args.measured,
            in_degrees=args.in_degrees,
        )
    except Exception as exc:  # noqa: BLE001 - bad input or an unreadable --measured file
        code, msg, _tb = describe(exc)
        return _error(msg, 2 if code == 2 or args.measured else code)
    print("\n".join(lines))
    return 0


def _plot(args) -> int:
    from .plot import KernelsFileError, plot_kernels

    if not args.dpi > 0:
        return _error(f"--dpi = {args.dpi} is invalid: must be > 0", 2)
    try:
        out = plot_kernels(
            args.kernels,
            args.out,
            probe=args.probe,
            dpi=args.dpi,
            tmax=args.tmax,
            scale=args.scale,
            point=args.point,
        )
    except KernelsFileError as exc:
        return _error(str(exc), 2)
    except OSError as exc:  # the figure cannot be written
        return _error(f"cannot write the figure: {' '.join(str(exc).split())}", 2)
    print(f"wrote {out}", flush=True)
    return 0


#: the public names (the API reference documents these)
__all__ = [
    "DEFAULT_OUT_DIR",
    "EXTERNAL",
    "SUBCOMMANDS",
    "default_out",
    "HelpFormatter",
    "main",
    "parser_of",
]
