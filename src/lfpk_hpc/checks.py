"""Checks of parameter values, each failing with one line that names the parameter,
the value and what is allowed (:class:`ParamsError`, exit code 2).

The schema modules stand on this one: :mod:`lfpk_hpc.params` (the model),
:mod:`lfpk_hpc.probespecs` (the probes) and :mod:`lfpk_hpc.drives` (evoked drives).
It imports nothing of lfpk_hpc, NEURON or MPI.
"""

from __future__ import annotations

import math
import re

import numpy as np

# The checks themselves (fail, finite, positive, ...) are the schema modules' helpers,
# not API: a user meets their ParamsError, never calls them.
__all__ = ["NAME", "ParamsError"]


class ParamsError(ValueError):
    """A parameter is missing or has a value that is not allowed (exit code 2)."""

    exit_code = 2


#: names of populations, probes and drives
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_()+-]*$")


def one_line(text: str) -> str:
    """``text`` with its line breaks (e.g. of a numpy array's repr) collapsed."""
    return " ".join(text.split()) if "\n" in text else text


def plain_value(value):
    """``value`` with numpy scalars and arrays as Python numbers and lists (so that a
    message shows ``-4.9``, not ``np.float64(-4.9)``)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(plain_value(v) for v in value)
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    return value


def show(value) -> str:
    """A value as a message shows it: its repr on one line, numbers as plain numbers,
    a long list cut in its middle (with its length)."""
    value = plain_value(value)
    if isinstance(value, list) and len(value) > 10:
        head = ", ".join(show(v) for v in value[:4])
        tail = ", ".join(show(v) for v in value[-2:])
        return f"[{head}, …, {tail}] ({len(value)} values)"
    return one_line(repr(value))


def fail(param: str, value, allowed: str):
    """Raise the :class:`ParamsError` ``<param> = <value> is invalid: <allowed>``."""
    raise ParamsError(f"{param} = {show(value)} is invalid: {allowed}")


def float_array(param: str, value, what: str) -> np.ndarray:
    """``value`` as a float array, or a ParamsError naming ``param``."""
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        fail(param, value, f"must be {what}")


def finite(param, value, low=None, high=None, low_open=False, what="a finite number"):
    """``value`` as a float if it is a finite number within [low, high] (``low_open``:
    (low, high]); else a ParamsError that says it must be ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        fail(param, value, f"must be {what}")
    v = float(value)
    if not math.isfinite(v):
        fail(param, value, f"must be {what}")
    if low is not None and (v < low or (low_open and v == low)):
        fail(param, value, f"must be {what}")
    if high is not None and v > high:
        fail(param, value, f"must be {what}")
    return v


def positive(param, value):
    """``value`` as a float, or a ParamsError naming ``param`` unless it is finite and > 0."""
    return finite(param, value, low=0.0, low_open=True, what="a finite number > 0")


def nonneg(param, value):
    """``value`` as a float, or a ParamsError naming ``param`` unless it is finite and >= 0."""
    return finite(param, value, low=0.0, what="a finite number >= 0")
