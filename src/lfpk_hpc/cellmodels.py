"""Cell models in the params schema: their checks at load, without NEURON.

A passive cable (its morphology file or generated sections, Ra, cm, leak, the soma
stand-ins) and a user's NEURON model. A user's model:

A :class:`~lfpk_hpc.params.CellModel` is a user's model when it names a hoc
``template`` (LFPy's ``TemplateCell`` conventions) or a ``biophysics`` function (LFPy's
``custom_fun``), usually with the folder of the model's own NMODL files,
``mechanisms``. Loading a params file checks here, before any NEURON or MPI, what
can be checked from the files' text: the template file exists and defines the
template, the mechanism folder exists and holds .mod files whose mechanisms clash
with none of NEURON's built-in ones, none of lfpk_hpc's own (``mod/``) and none of
another folder of the same model, the biophysics function accepts its arguments,
and the fields of passive cables are not set on a user's model. Every problem is a
:class:`~lfpk_hpc.params.ParamsError` of one line naming the parameter (exit 2).
What only the built cell tells (the sections a template creates, the mechanisms a
biophysics function inserts) is checked when the cell is built
(:func:`lfpk_hpc.cells.build_user_cell`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .checks import fail as _fail
from .checks import finite as _finite
from .checks import float_array as _float_array
from .checks import nonneg as _nonneg
from .checks import positive as _positive

# check_cell, check_cell_model, check_model_mechanisms and check_vrest are parts of
# lfpk_hpc.params.validate, which a user calls (loading a params file calls it), not API.
__all__ = ["NEURON_BUILTINS", "defined_mechanisms"]

#: mechanisms NEURON 9 defines before any library is loaded (MechanismType 0 and 1)
NEURON_BUILTINS = frozenset(
    "morphology capacitance pas extracellular fastpas na_ion k_ion hh IClamp AlphaSynapse "
    "ExpSyn Exp2Syn SEClamp VClamp OClamp APCount NetStim IntFire1 IntFire2 IntFire4 "
    "PointProcessMark PatternStim".split()
)

_DEFINES = re.compile(r"^\s*(?:POINT_PROCESS|SUFFIX|ARTIFICIAL_CELL)\s+(\w+)", re.M)
_PASSIVE_ONLY = {"Ra": 100.0, "cm": 1.0, "g_pas": 3e-4}


def defined_mechanisms(folder: Path) -> dict[str, str]:
    """Mechanism name → .mod file name, for every .mod file of ``folder``.

    Parameters
    ----------
    folder : pathlib.Path
        A folder of NMODL (.mod) files.

    Returns
    -------
    dict of str to str
        Each mechanism's name → the name of the file that defines it.
    """
    out = {}
    for f in sorted(Path(folder).glob("*.mod")):
        for name in _DEFINES.findall(f.read_text(errors="replace")):
            out[name] = f.name
    return out


def _own_mechanisms() -> dict[str, str]:
    from .mechanisms import MechanismError, default_mod_dir

    try:
        return defined_mechanisms(default_mod_dir())
    except MechanismError:  # pragma: no cover - an installation without mod/
        return {}


def check_cell_model(param: str, cell, model) -> None:
    """The user-model fields of ``cell`` (``param`` names it in messages)."""
    from .params import LINEARISATIONS, CellModel

    user = cell.is_user_model
    if not isinstance(cell.linearisation, str) or cell.linearisation not in LINEARISATIONS:
        _fail(f"{param}.linearisation", cell.linearisation, f"allowed: {', '.join(LINEARISATIONS)}")
    if not user:
        for key in ("mechanisms", "v_hold", "celsius"):
            if getattr(cell, key) is not None:
                _fail(
                    f"{param}.{key}",
                    getattr(cell, key),
                    "applies to a user's NEURON model (a template or a biophysics function), "
                    "and this cell model is a passive cable",
                )
        if cell.linearisation != "passive":
            _fail(
                f"{param}.linearisation",
                cell.linearisation,
                "linearises the active mechanisms of a user's NEURON model (a template or a "
                "biophysics function), and this cell model is a passive cable: use 'passive'",
            )
        if cell.biophysics_args:
            _fail(
                f"{param}.biophysics_args",
                dict(cell.biophysics_args),
                "needs a biophysics function",
            )
    if cell.ap_model is not None:
        ap = cell.ap_model
        if not isinstance(ap, CellModel) or not ap.is_user_model:
            _fail(
                f"{param}.ap_model",
                ap,
                "must be a CellModel of a user's NEURON model (template or biophysics) that fires",
            )
        if ap.ap_model is not None:
            _fail(f"{param}.ap_model.ap_model", ap.ap_model, "must be None")
        if user:
            _fail(
                f"{param}.ap_model", "CellModel(...)", "a user's model fires itself: leave it None"
            )
        check_cell_model(f"{param}.ap_model", ap, model)
    if not user:
        return
    for key, default in _PASSIVE_ONLY.items():
        if getattr(cell, key) != default:
            _fail(
                f"{param}.{key}",
                getattr(cell, key),
                "describes a passive cable; a user's NEURON model sets its own (in its template "
                "or biophysics function)",
            )
    for key in ("e_pas", "soma_g_pas", "soma_gates"):
        if getattr(cell, key) is not None:
            _fail(
                f"{param}.{key}",
                getattr(cell, key),
                "describes a passive cable; a user's NEURON model sets its own (in its template "
                "or biophysics function)",
            )
    if cell.template is not None:
        _check_template(f"{param}.template", cell.template, model)
    elif cell.morphology is None:
        _fail(f"{param}.morphology", None, "a cell model without a template needs a morphology")
    if cell.biophysics is not None:
        _check_biophysics(param, cell)
    elif cell.biophysics_args:
        _fail(f"{param}.biophysics_args", dict(cell.biophysics_args), "needs a biophysics function")
    if cell.mechanisms is not None:
        _check_mechanism_folder(f"{param}.mechanisms", cell.mechanisms, model)
    if cell.v_hold is not None:
        _finite(f"{param}.v_hold", cell.v_hold, -200.0, 200.0, what="a potential within ±200 mV")
    if cell.celsius is not None:
        _finite(f"{param}.celsius", cell.celsius, -20.0, 60.0, what="a temperature in °C")
    _positive(f"{param}.rest_time", cell.rest_time)


def _check_template(param: str, template, model) -> None:
    from .params import Template

    if not isinstance(template, Template):
        _fail(param, template, "must be Template(file, name, args)")
    if not isinstance(template.file, str) or not template.file:
        _fail(f"{param}.file", template.file, "must be the path of a hoc file")
    path = model.path(template.file)
    if not path.is_file():
        _fail(f"{param}.file", template.file, f"no such file ({path})")
    if not isinstance(template.name, str) or not re.match(r"^[A-Za-z_]\w*$", template.name):
        _fail(f"{param}.name", template.name, "must be a template name (letters, digits, _)")
    text = path.read_text(errors="replace")
    if not re.search(rf"^\s*begintemplate\s+{re.escape(template.name)}\b", text, re.M):
        found = re.findall(r"^\s*begintemplate\s+(\w+)", text, re.M)
        _fail(
            f"{param}.name",
            template.name,
            f"{path.name} defines no such template"
            + (f" (it defines {', '.join(found)})" if found else " (it defines none)"),
        )
    args = template.args
    if not isinstance(args, tuple) or not all(
        isinstance(a, (int, float, str)) and not isinstance(a, bool) for a in args
    ):
        _fail(
            f"{param}.args",
            args,
            "must be a tuple of numbers or strings (the template's $1, $2, ...)",
        )


def _check_biophysics(param: str, cell) -> None:

    fun, args = cell.biophysics, cell.biophysics_args
    if not callable(fun):
        _fail(f"{param}.biophysics", fun, "must be a function biophysics(cell, **biophysics_args)")
    if not isinstance(args, Mapping) or not all(isinstance(k, str) for k in args):
        _fail(f"{param}.biophysics_args", args, "must be a mapping of keyword arguments")
    for key, value in args.items():
        if not _json_like(value):
            _fail(
                f"{param}.biophysics_args[{key}]",
                value,
                "must be a number, a string, a bool or a list/tuple of them (it enters the "
                "parameter hash)",
            )
    try:
        inspect.signature(fun).bind(None, **dict(args))
    except TypeError as exc:
        _fail(
            f"{param}.biophysics_args",
            dict(args),
            f"not accepted by {getattr(fun, '__name__', fun)}(cell, ...): {exc}",
        )
    except ValueError:  # pragma: no cover - a builtin without a signature
        pass


def _json_like(value) -> bool:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return True
    if isinstance(value, (list, tuple)):
        return all(_json_like(v) for v in value)
    return False


def _check_mechanism_folder(param: str, name, model) -> dict[str, str]:

    if not isinstance(name, str) or not name:
        _fail(param, name, "must be the path of a folder of .mod files")
    folder = model.path(name)
    if not folder.is_dir():
        _fail(param, name, f"no such folder ({folder})")
    names = defined_mechanisms(folder)
    if not names:
        _fail(param, name, f"holds no .mod file defining a mechanism ({folder})")
    own = _own_mechanisms()
    for mech, file in names.items():
        if mech in NEURON_BUILTINS:
            _fail(
                param,
                name,
                f"{file} defines {mech!r}, which NEURON has built in; NEURON cannot load two "
                "mechanisms of one name: rename it (SUFFIX/POINT_PROCESS) or use NEURON's",
            )
        if mech in own:
            _fail(
                param,
                name,
                f"{file} defines {mech!r}, which lfpk_hpc's own mod/{own[mech]} defines; "
                "NEURON cannot load two mechanisms of one name: rename it",
            )
    return names


def check_model_mechanisms(model) -> None:
    """Mechanism folders of different populations that define a mechanism of the same
    name with different NMODL text: NEURON cannot load both into one process."""

    seen: dict[str, tuple[str, bytes, str]] = {}
    for pop in model.populations:
        cells = [pop.cell] if pop.cell is not None else []
        cells += [c.ap_model for c in cells if c.ap_model is not None]
        for i, cell in enumerate(cells):
            if cell.mechanisms is None:
                continue
            param = f"populations[{pop.name}].cell" + (".ap_model" if i else "") + ".mechanisms"
            folder = model.path(cell.mechanisms)
            for mech, file in defined_mechanisms(folder).items():
                text = (folder / file).read_bytes()
                if mech in seen and seen[mech][1] != text:
                    _fail(
                        param,
                        cell.mechanisms,
                        f"{file} defines {mech!r}, which {seen[mech][0]} defines differently "
                        f"({seen[mech][2]}); one process cannot load both: give one folder to "
                        "both populations or rename one",
                    )
                seen.setdefault(mech, (param, text, str(folder / file)))


def check_cell(param, cell, model, Y):
    """A postsynaptic population's ``cell`` (``param`` names it in messages)."""
    from .params import MORPHOLOGY_SUFFIXES, CellModel, Section

    if not isinstance(cell, CellModel):
        _fail(param, cell, "a postsynaptic population needs CellModel(morphology, ...)")
    check_cell_model(param, cell, model)
    m = cell.morphology
    if m is None and cell.template is not None:
        pass  # the template creates its sections (checked when the cell is built)
    elif isinstance(m, str):
        path = model.path(m)
        if path.suffix.lower() not in MORPHOLOGY_SUFFIXES:
            _fail(
                f"{param}.morphology",
                m,
                f"file type must be one of {', '.join(MORPHOLOGY_SUFFIXES)}",
            )
        if not path.is_file():
            _fail(f"{param}.morphology", m, f"no such file ({path})")
    elif isinstance(m, tuple) and m and all(isinstance(s, Section) for s in m):
        secnames = []
        for s in m:
            q = f"{param}.morphology[{s.name}]"
            if not isinstance(s.name, str) or not re.match(r"^[A-Za-z_]\w*$", s.name):
                _fail(
                    f"{param}.morphology.name", s.name, "must be an identifier (letters, digits, _)"
                )
            if s.name in secnames:
                _fail(f"{param}.morphology.name", s.name, "section names must be unique")
            if s.parent is not None and s.parent not in secnames:
                _fail(
                    f"{q}.parent",
                    s.parent,
                    f"must be a section defined before it ({', '.join(secnames) or 'none'})",
                )
            if s.parent_x not in (0, 1, 0.0, 1.0):
                _fail(f"{q}.parent_x", s.parent_x, "must be 0 or 1")
            for key in ("start", "end"):
                v = getattr(s, key)
                c = _float_array(f"{q}.{key}", v, "three finite coordinates (µm)")
                if c.shape != (3,) or not np.all(np.isfinite(c)):
                    _fail(f"{q}.{key}", v, "must be three finite coordinates (µm)")
            if np.allclose(s.start, s.end):
                _fail(f"{q}.end", s.end, "must differ from start (zero-length section)")
            _positive(f"{q}.diam", s.diam)
            secnames.append(s.name)
        if sum(s.parent is None for s in m) != 1:
            _fail(
                f"{param}.morphology",
                [s.name for s in m],
                "exactly one section must have no parent",
            )
    else:
        _fail(f"{param}.morphology", m, "must be a file path or a non-empty tuple of Section")
    _positive(f"{param}.Ra", cell.Ra)
    _positive(f"{param}.cm", cell.cm)
    _nonneg(f"{param}.g_pas", cell.g_pas)
    if cell.soma_g_pas is not None:
        _nonneg(f"{param}.soma_g_pas", cell.soma_g_pas)
    if cell.soma_gates is not None:
        gates = cell.soma_gates
        if not isinstance(gates, tuple) or not 1 <= len(gates) <= 3:
            _fail(f"{param}.soma_gates", gates, "must be a tuple of 1 to 3 (a, b, tau) tuples")
        for j, gate in enumerate(gates):
            if not isinstance(gate, tuple) or len(gate) != 3:
                _fail(f"{param}.soma_gates[{j}]", gate, "must be a tuple (a, b, tau)")
            _finite(f"{param}.soma_gates[{j}].a", gate[0])
            _finite(f"{param}.soma_gates[{j}].b", gate[1])
            _positive(f"{param}.soma_gates[{j}].tau", gate[2])
    if cell.e_pas is not None:
        _finite(f"{param}.e_pas", cell.e_pas)
    _positive(f"{param}.lambda_f", cell.lambda_f)
    if not isinstance(cell.rotation, Mapping):
        _fail(
            f"{param}.rotation",
            cell.rotation,
            "must be a mapping like {'x': 0.0, 'z': 1.57} (radians)",
        )
    for k, v in cell.rotation.items():
        if k not in ("x", "y", "z"):
            _fail(f"{param}.rotation", k, "allowed axes: x, y, z")
        _finite(f"{param}.rotation[{k}]", v)


def check_vrest(Y: str, v, cell) -> None:
    """``kernel.Vrest[Y]``: a number, one per segment, or ``"cell"`` (a user's model)."""
    from .params import VREST_CELL

    if isinstance(v, str):
        if v != VREST_CELL:
            _fail(
                f"kernel.Vrest[{Y}]",
                v,
                f"must be a number (mV), one per segment, or {VREST_CELL!r}",
            )
        if not cell.is_user_model:
            _fail(
                f"kernel.Vrest[{Y}]",
                v,
                f"{VREST_CELL!r} takes the resting potentials of a user's model (template or "
                f"biophysics), and the cell of {Y} is a passive cable",
            )
        return
    arr = _float_array(f"kernel.Vrest[{Y}]", v, f"a number, one per segment or {VREST_CELL!r}")
    if arr.ndim > 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        _fail(f"kernel.Vrest[{Y}]", v, "must be a finite number or one per segment")
    if arr.ndim == 1 and cell.e_pas is None and not cell.is_user_model:
        _fail(
            f"populations[{Y}].cell.e_pas",
            None,
            f"with one kernel.Vrest[{Y}] per segment the cell needs its own leak "
            "reversal e_pas (mV)",
        )
