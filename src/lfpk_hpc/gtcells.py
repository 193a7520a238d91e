"""The ground truth's cells: the files LFPy's NetworkCell loads, and their biophysics.

A population's cell in the ground truth (:mod:`lfpk_hpc.groundtruth`) is either

- a **passive cable** of the params file (``CellModel`` without template or
  biophysics): its morphology in a minimal template, passive dendrites with the
  cell model's Ra, cm, g_pas and e_pas (``None``: :data:`E_PAS_DEFAULT`), and NEURON's
  Hodgkin–Huxley ``hh`` at its defaults in every section whose name contains "soma",
  at :data:`CELSIUS` (the reasons are in groundtruth's docstring); or
- a **user's NEURON model** (a template and/or a biophysics function with its own
  mechanisms, :mod:`lfpk_hpc.cellmodels`): exactly as the user wrote it — the
  template with its arguments (or the morphology in a minimal template), the
  biophysics function as LFPy's ``custom_fun``, the model's own Ra, cm and
  mechanisms, d_lambda segments at its lambda_f, at its ``celsius`` — so that the
  kernels' linear cell (:mod:`lfpk_hpc.linearise`) is the linearisation of the very
  cell the ground truth simulates.

It also holds the numbers of the hh soma that ``validate`` gives its kernels (the
chord conductance, the gates' linearisation, the spiking model of a passive cable
for its action-potential kernel).
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np

from .params import Model


class GroundTruthError(ValueError):
    """Bad input to the ground truth; the message names the argument and the problem."""

    exit_code = 2


#: temperature (°C) of the simulation: the squid-axon hh soma's own temperature
CELSIUS = 6.3


#: NEURON's hh at its defaults: peak conductances (S/cm²) and reversals (mV)
_HH_GNA, _HH_GK, _HH_GL = 0.12, 0.036, 0.0003
_HH_ENA, _HH_EK = 50.0, -77.0


def _hh_gates(v: float, celsius: float = CELSIUS) -> dict[str, tuple[float, float]]:
    """(x∞, tau_x in ms) of hh's gates m, h, n at ``v`` (mV), NEURON's rate functions."""

    def vtrap(x, y):
        return y * (1 - x / y / 2) if abs(x / y) < 1e-6 else x / (math.exp(x / y) - 1)

    q10 = 3.0 ** ((celsius - 6.3) / 10)
    rates = {
        "m": (0.1 * vtrap(-(v + 40), 10), 4 * math.exp(-(v + 65) / 18)),
        "h": (0.07 * math.exp(-(v + 65) / 20), 1 / (math.exp(-(v + 35) / 10) + 1)),
        "n": (0.01 * vtrap(-(v + 55), 10), 0.125 * math.exp(-(v + 65) / 80)),
    }
    return {k: (a / (a + b), 1.0 / (q10 * (a + b))) for k, (a, b) in rates.items()}


def soma_conductance(v: float) -> float:
    """Membrane conductance (S/cm²) of the ground truth's soma (NEURON's ``hh`` at its
    default parameters and CELSIUS) at steady state at ``v`` (mV): g_Na m∞³ h∞ +
    g_K n∞⁴ + g_l — what a passive soma needs as its leak to stand in for the active
    one around that potential (the chord conductance; the kernels' cells are passive).

    Parameters
    ----------
    v : float
        Membrane potential (mV).

    Returns
    -------
    float
        The steady-state membrane conductance (S/cm²).
    """
    g = _hh_gates(v)
    m, hh, n = g["m"][0], g["h"][0], g["n"][0]
    return _HH_GNA * m**3 * hh + _HH_GK * n**4 + _HH_GL


def hh_el_at_rest(v: float) -> float:
    """hh's leak reversal el (mV) at which its steady state at ``v`` carries no net
    current: v + (I_Na + I_K)/g_l with the gates at their steady state at v.

    Parameters
    ----------
    v : float
        Membrane potential (mV).

    Returns
    -------
    float
        The leak reversal potential el (mV).
    """
    g = _hh_gates(v)
    m, hh, n = g["m"][0], g["h"][0], g["n"][0]
    i_active = _HH_GNA * m**3 * hh * (v - _HH_ENA) + _HH_GK * n**4 * (v - _HH_EK)
    return v + i_active / _HH_GL


def soma_gates(v: float) -> tuple[tuple[float, float, float], ...]:
    """The quasi-active part of the hh soma's linearisation at ``v`` (mV), for
    mod/lfpk_qa.mod (``CellModel.soma_gates``): per gate m, h, n the tuple
    (a = ∂I/∂x in mA/cm², b = dx∞/dv in 1/mV, tau in ms), with I = g_Na m³h (v − E_Na)
    + g_K n⁴ (v − E_K). With :func:`soma_conductance` as the leak this is the
    first-order (small-signal) model of the active soma around v.

    Parameters
    ----------
    v : float
        Membrane potential (mV).

    Returns
    -------
    tuple of tuple of float
        Per gate m, h, n: (a in mA/cm², b in 1/mV, tau in ms).
    """
    g = _hh_gates(v)
    dv = 1e-4
    up, down = _hh_gates(v + dv), _hh_gates(v - dv)
    m, hh, n = g["m"][0], g["h"][0], g["n"][0]
    a = {
        "m": _HH_GNA * 3 * m**2 * hh * (v - _HH_ENA),
        "h": _HH_GNA * m**3 * (v - _HH_ENA),
        "n": _HH_GK * 4 * n**3 * (v - _HH_EK),
    }
    return tuple((a[k], (up[k][0] - down[k][0]) / (2 * dv), g[k][1]) for k in ("m", "h", "n"))


#: leak reversal (mV) of the passive dendrites when the CellModel's e_pas is None
E_PAS_DEFAULT = -65.0


def hh_soma(cell, Ra: float, cm: float, g_pas: float, e_pas: float) -> None:
    """The ground truth's cell of a passive cable (a biophysics function, LFPy's
    ``custom_fun``): every section Ra (Ω·cm) and cm (µF/cm²), NEURON's ``hh`` at its
    defaults in the sections whose names contain "soma" and a passive leak g_pas
    (S/cm²), e_pas (mV) in all others. ``validate`` gives it to the kernels as the
    model whose spikes make the action-potential kernels (``CellModel.ap_model``).

    Parameters
    ----------
    cell : LFPy.Cell
        The cell whose sections are set up.
    Ra : float
        Axial resistivity (Ω·cm).
    cm : float
        Membrane capacitance (µF/cm²).
    g_pas : float
        Leak conductance of the sections other than the soma (S/cm²).
    e_pas : float
        Leak reversal potential (mV).
    """
    for sec in cell.allseclist:
        sec.Ra = Ra
        sec.cm = cm
        if "soma" in sec.name():
            sec.insert("hh")
        else:
            sec.insert("pas")
            sec.g_pas = g_pas
            sec.e_pas = e_pas


def spiking_model(cell, v_hold: float):
    """``cell`` (a passive cable's CellModel) as the ground truth simulates it, held at
    ``v_hold`` mV (the population's median somatic potential): the model of its
    action-potential kernel (see :func:`hh_soma`).

    Parameters
    ----------
    cell : CellModel
        A passive cable's cell model.
    v_hold : float
        Potential the model is held at (mV).

    Returns
    -------
    CellModel
        The user's model with an ``hh`` soma (:func:`hh_soma`).
    """
    from .params import CellModel

    e_pas = cell.e_pas if cell.e_pas is not None else E_PAS_DEFAULT
    return CellModel(
        morphology=cell.morphology,
        lambda_f=cell.lambda_f,
        rotation=dict(cell.rotation),
        biophysics=hh_soma,
        biophysics_args={"Ra": cell.Ra, "cm": cell.cm, "g_pas": cell.g_pas, "e_pas": e_pas},
        celsius=CELSIUS,
        v_hold=float(v_hold),
    )


def _split_name(name: str) -> tuple[str, int | None]:
    m = re.fullmatch(r"([A-Za-z_]\w*)(?:\[(\d+)\])?", name)
    if m is None:
        raise GroundTruthError(f"cannot use section name {name!r} in a cell template")
    return m.group(1), (int(m.group(2)) if m.group(2) is not None else None)


def _declarations(names: list[str]) -> list[str]:
    """``create`` declarations (``soma``, ``dend[63]``) for section ``names``."""
    sizes: dict[str, int | None] = {}
    for name in names:
        base, index = _split_name(name)
        if index is None:
            sizes.setdefault(base, None)
        else:
            sizes[base] = max(sizes.get(base) or 0, index + 1)
    return [base if n is None else f"{base}[{n}]" for base, n in sizes.items()]


def template_hoc(template: str, names: list[str]) -> str:
    """A minimal cell template for LFPy's NetworkCell: the sections ``names`` and a
    SectionList ``all`` that the morphology file fills (``forall all.append()``).

    Parameters
    ----------
    template : str
        Name of the template.
    names : list of str
        The sections' names.

    Returns
    -------
    str
        The hoc code of the template.
    """
    decl = _declarations(names)
    bases = [d.split("[")[0] for d in decl]
    return (
        f"// generated by lfpk_hpc.groundtruth\nbegintemplate {template}\n"
        f"public all, {', '.join(bases)}\nobjref all\ncreate {', '.join(decl)}\n"
        "proc init() {\n    all = new SectionList()\n}\n"
        f"endtemplate {template}\n"
    )


def _file_morphology_hoc(path: Path) -> tuple[list[str], str]:
    """Section names and hoc code (3-D points and connections) of a morphology file,
    read once with LFPy.Cell (any format LFPy reads) at the top level of NEURON.
    Call before any other section exists: it deletes every section."""
    import LFPy
    from neuron import h

    cell = LFPy.Cell(morphology=str(path), delete_sections=True, nsegs_method=None)
    lines, connects, names = ["// converted by lfpk_hpc.groundtruth from " + path.name], [], []
    for sec in cell.allseclist:
        name = sec.name()
        names.append(name)
        parent = sec.parentseg()
        lines.append(f"{name} {{\n    pt3dclear()")
        if parent is not None and sec.n3d() > 0 and parent.sec.n3d() > 0:
            # NEURON moves a child by (parent's connection point − the child's logical
            # connection point, pt3dstyle), or onto the connection point if it has
            # none; so a logical point at the connection point keeps the 3-D points
            # as they were loaded (an original logical point cannot be read back in
            # NEURON 9; it only matters for drawing)
            at = _point_at(parent.sec, parent.x)
            lines.append("    pt3dstyle(1, " + ", ".join(repr(float(p)) for p in at) + ")")
        for i in range(int(sec.n3d())):
            pts = (sec.x3d(i), sec.y3d(i), sec.z3d(i), sec.diam3d(i))
            lines.append("    pt3dadd(" + ", ".join(repr(float(p)) for p in pts) + ")")
        lines.append("}")
        if parent is not None:
            end = h.section_orientation(sec=sec)
            connects.append(f"connect {name}({end!r}), {parent.sec.name()}({parent.x!r})")
    del cell
    h("forall delete_section()")
    return names, "\n".join(lines + connects) + "\n"


def _point_at(sec, x: float) -> np.ndarray:
    """The 3-D position (µm) of ``sec(x)``: its 3-D points interpolated in arc length."""
    n = int(sec.n3d())
    arc = np.array([sec.arc3d(i) for i in range(n)])
    pts = np.array([(sec.x3d(i), sec.y3d(i), sec.z3d(i)) for i in range(n)])
    return np.array([np.interp(x * arc[-1], arc, pts[:, k]) for k in range(3)])


def _write_cell_files(model: Model, folder: Path) -> dict[str, tuple[Path, Path, str]]:
    """Per cell population: (template file, morphology file, template name)."""
    from .cells import stick_morphology_hoc

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, pop in enumerate(model.populations):
        if pop.cell is None:
            continue
        if pop.cell.template is not None:  # a user's template: as it is
            t = model.path(pop.cell.template.file)
            m = model.morphology_path(pop.name)
            out[pop.name] = (t, m if m is not None else t, pop.cell.template.name)
            continue
        path = model.morphology_path(pop.name)
        if path is None:
            names = [s.name for s in pop.cell.morphology]
            body = stick_morphology_hoc(pop.cell.morphology)
        else:
            names, body = _file_morphology_hoc(path)
        # named by content: a template of the same name is never redefined in NEURON
        # (LFPy skips loading it), so another cell gets another name
        digest = hashlib.sha256(template_hoc("T", names).encode() + body.encode()).hexdigest()
        tname = f"LfpkGroundTruth{i}_{digest[:12]}"
        stem = re.sub(r"[^\w-]", "_", pop.name)
        tfile = folder / f"{i}_{stem}_template.hoc"
        mfile = folder / f"{i}_{stem}_morphology.hoc"
        tfile.write_text(template_hoc(tname, names))
        mfile.write_text(body + "forall all.append()\n")
        out[pop.name] = (tfile, mfile, tname)
    return out


def network_celsius(model: Model) -> float:
    """The one temperature (°C) of a ground-truth network: :data:`CELSIUS` for the hh
    somata of passive cables, a user's model's ``celsius`` (None: NEURON's 6.3 °C).
    Populations that need different temperatures raise ValueError naming them (NEURON
    has one temperature for all cells).

    Parameters
    ----------
    model : Model
        The model.

    Returns
    -------
    float
        The temperature (°C).

    Raises
    ------
    ValueError
        Populations need different temperatures.
    """
    needs = {}
    for pop in model.populations:
        if pop.cell is None:
            continue
        if pop.cell.is_user_model:
            needs[pop.name] = 6.3 if pop.cell.celsius is None else float(pop.cell.celsius)
        else:
            needs[pop.name] = CELSIUS
    values = sorted(set(needs.values()))
    if len(values) > 1:
        raise ValueError(
            "the ground truth runs every cell at one temperature, and the populations need "
            + ", ".join(f"{k} {v:g} °C" for k, v in needs.items())
            + " (a passive cable's hh soma runs at 6.3 °C; set the user's models' celsius)"
        )
    return values[0] if values else CELSIUS


def cell_args(model: Model, pop, files, *, v_init: float, dt: float, tstop: float) -> dict:
    """The ``LFPy.NetworkCell`` arguments of ``pop``'s cells (see the module docstring);
    ``files`` is its entry of :func:`_write_cell_files`."""
    cm = pop.cell
    tfile, mfile, tname = files
    common = dict(
        v_init=v_init,
        nsegs_method="lambda_f",
        lambda_f=cm.lambda_f,
        dt=dt,
        tstart=0.0,
        tstop=tstop,
        delete_sections=False,
        celsius=network_celsius(model),
        verbose=False,
    )
    if not cm.is_user_model:
        e_pas = cm.e_pas if cm.e_pas is not None else E_PAS_DEFAULT
        return dict(
            common,
            morphology=str(mfile),
            templatefile=str(tfile),
            templatename=tname,
            templateargs=None,
            Ra=cm.Ra,
            cm=cm.cm,
            passive=True,
            passive_parameters={"g_pas": cm.g_pas, "e_pas": float(e_pas)},
        )
    args = dict(
        common,
        morphology=str(mfile),
        templatefile=str(tfile),
        templatename=tname,
        templateargs=(list(cm.template.args) or None) if cm.template is not None else None,
        Ra=None,
        cm=None,
        passive=False,
    )
    if cm.biophysics is not None:
        args["custom_fun"] = [cm.biophysics]
        args["custom_fun_args"] = [dict(cm.biophysics_args)]
    return args


#: the public names (the API reference documents these)
__all__ = [
    "GroundTruthError",
    "CELSIUS",
    "soma_conductance",
    "hh_el_at_rest",
    "soma_gates",
    "E_PAS_DEFAULT",
    "hh_soma",
    "spiking_model",
    "template_hoc",
    "network_celsius",
]
# cell_args is the ground truth's own step (its files argument comes from a private
# helper of lfpk_hpc.groundtruth), not API
