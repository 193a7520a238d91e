"""Errors and how they end a command: one line on stderr and an exit code.

Every error class of lfpk_hpc carries the exit code of the command it ends as
the class attribute ``exit_code``: 2 for bad input (arguments, params file, input
files, an output that exists), 1 for a run that failed. Anything else (a bug, or
an error of a library) is 1 and is reported with its traceback.

This module imports nothing of lfpk_hpc, NEURON or MPI: every module may stand
on it (the command line, the task farm and the workflows alike).
"""

from __future__ import annotations

import sys
import traceback

# describe, exit_code_of, one_line and report are the command line's and the task
# farm's plumbing, not API: a user meets the two error classes.
__all__ = ["InputError", "RunError"]

#: exit code of bad input and of a failed run
BAD_INPUT = 2
FAILED = 1


class InputError(ValueError):
    """Bad input: the message names the argument or file, the value and what is allowed."""

    exit_code = BAD_INPUT


class RunError(RuntimeError):
    """A run that failed (a simulation, a compiler, an external program)."""

    exit_code = FAILED


def one_line(text) -> str:
    """``text`` with every run of white space (line breaks included) made one space."""
    return " ".join(str(text).split())


def exit_code_of(exc: BaseException) -> int:
    """The exit code an exception ends a command with (see the module docstring)."""
    code = getattr(exc, "exit_code", FAILED)
    return code if isinstance(code, int) and code > 0 else FAILED


def describe(exc: BaseException) -> tuple[int, str, str | None]:
    """(exit code, one-line message, traceback or None) of an exception: errors of
    lfpk_hpc are their message; anything else is a bug or a library's error and
    keeps its type and traceback."""
    if hasattr(type(exc), "exit_code"):
        return exit_code_of(exc), one_line(exc), None
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return FAILED, one_line(f"{type(exc).__name__}: {exc}"), tb


def report(msg, code: int = BAD_INPUT, *, prefix: str = "") -> int:
    """Print ``msg`` as the one-line ``lfpk_hpc: error: ...`` on stderr; return ``code``."""
    print(f"lfpk_hpc: error: {prefix}{one_line(msg)}", file=sys.stderr, flush=True)
    return code
