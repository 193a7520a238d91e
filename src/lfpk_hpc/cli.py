"""Command line: ``python -m lfpk_hpc PARAMS [--out FILE]``.

Exit codes: 0 success, 1 a run that failed, 2 bad input (arguments, params file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUT_DIR = "kernels"


def default_out(params: str) -> Path:
    """Default output: ``kernels/<params file stem>.h5`` in the working directory."""
    return Path(DEFAULT_OUT_DIR) / (Path(params).stem + ".h5")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lfpk_hpc",
        description="Compute the spike-signal kernels H_YX of every (X, Y) pathway and probe "
        "of a params file and write them to one HDF5 file.",
    )
    p.add_argument("params", help="params file (a Python module defining model = Model(...))")
    p.add_argument("--out", help="output HDF5 file (default: kernels/<params name>.h5)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "run":
        argv = argv[1:]
    args = _parser().parse_args(argv)

    from .params import ParamsError, load

    def log(msg: str) -> None:
        print(msg, flush=True)

    try:
        model = load(args.params)
    except ParamsError as exc:
        print(f"lfpk_hpc: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else default_out(args.params)

    from .mechanisms import MechanismError
    from .scheduler import run_kernels
    from .store import StoreError

    try:
        run_kernels(model, out, overwrite=args.overwrite, log=log)
    except ParamsError as exc:
        print(f"lfpk_hpc: error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"lfpk_hpc: error: {exc}", file=sys.stderr)
        return 2
    except MechanismError as exc:
        print(f"lfpk_hpc: error: {exc}", file=sys.stderr)
        return 1
    return 0
