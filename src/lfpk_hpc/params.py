"""The model schema: typed, frozen dataclasses keyed by population name.

A params file is a Python module that defines ``model = Model(...)``. Loading it
(:func:`load`) imports the module, checks every value and returns the
:class:`Model`; any problem raises :class:`ParamsError` with one line naming the
parameter, the bad value and what is allowed.

Units: lengths and depths in µm, times in ms, rates in spikes/s, potentials in mV,
conductances of synapses in µS, currents in nA, specific membrane conductance in
S/cm², capacitance in µF/cm², axial resistance in Ω·cm, conductivity in S/m.

This module imports neither NEURON nor MPI.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path

import numpy as np

from .checks import ParamsError, show  # noqa: F401  (params.show stays importable)
from .checks import one_line as _one_line
from .drives import DriveTarget, EvokedDrive
from .probespecs import (
    PROBE_TYPES,
    SCALP_RTOL,
    CurrentDipoleProbe,
    FourSphereEEGProbe,
    GaussCylinderProbe,
    LaminarCSDProbe,
    MEGProbe,
    Probe,
)

# show (a value as messages show it) is lfpk_hpc.checks' helper, not API
__all__ = [
    "CellModel",
    "Connection",
    "CurrentDipoleProbe",
    "Distribution",
    "DriveTarget",
    "EvokedDrive",
    "Extrinsic",
    "FourSphereEEGProbe",
    "GaussCylinderProbe",
    "Geometry",
    "KernelSettings",
    "LaminarCSDProbe",
    "MEGProbe",
    "Model",
    "ParamsError",
    "Placement",
    "Population",
    "SCALP_RTOL",
    "Section",
    "Synapse",
    "Template",
    "load",
    "exp_psc",
    "morphology_sections",
    "norm",
    "truncnorm",
    "validate",
]


#: synapse models: name -> (conductance based?, unit of the weight)
SYNAPSE_MODELS = {"Exp2Syn": (True, "µS"), "Exp2SynI": (False, "nA"), "ExpSynI": (False, "nA")}

#: morphology file types LFPy can load
MORPHOLOGY_SUFFIXES = (".hoc", ".swc", ".asc", ".xml")


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class Distribution:
    """A ``scipy.stats`` continuous distribution, by name and keyword parameters.

    Example: ``Distribution("truncnorm", {"a": -2.2, "b": math.inf, "loc": 1.3, "scale": 0.5})``.

    Parameters
    ----------
    name : str
        A continuous distribution of ``scipy.stats`` (``"norm"``, ``"truncnorm"``,
        ``"uniform"``, ...).
    params : mapping of str to float
        Its keyword parameters, in the unit of the quantity drawn (ms for delays, µm
        for depths; ``a`` and ``b`` of ``truncnorm`` in units of ``scale``).
    """

    name: str
    params: Mapping[str, float] = field(default_factory=dict)

    def frozen(self):
        """The frozen ``scipy.stats`` distribution."""
        import scipy.stats as st

        return getattr(st, self.name)(**dict(self.params))


def exp_psc(weight: float, tau: float) -> Synapse:
    """Current-based exponential synapse (ExpSynI): −weight·exp(−t/tau) nA.

    Parameters
    ----------
    weight : float
        Peak current (nA).
    tau : float
        Decay time constant (ms).

    Returns
    -------
    Synapse
        The synapse.
    """
    return Synapse("ExpSynI", weight, 0.0, tau)


def truncnorm(loc: float, scale: float, a: float = -math.inf, b: float = math.inf):
    """Truncated normal; ``a`` and ``b`` are in units of ``scale`` relative to ``loc``.

    Parameters
    ----------
    loc : float
        Mean of the untruncated normal, in the units of the quantity drawn (µm for a
        depth, ms for a delay, dimensionless for a count).
    scale : float
        Its standard deviation, in the units of ``loc`` (µm, ms or dimensionless).
    a : float, optional
        Lower bound, in standard deviations from ``loc`` (dimensionless).
    b : float, optional
        Upper bound, in standard deviations from ``loc`` (dimensionless).

    Returns
    -------
    Distribution
        The distribution.
    """
    return Distribution("truncnorm", {"a": a, "b": b, "loc": loc, "scale": scale})


def norm(loc: float, scale: float):
    """Normal distribution.

    Parameters
    ----------
    loc : float
        Mean, in the units of the quantity drawn (µm for a depth, ms for a delay,
        dimensionless for a count).
    scale : float
        Standard deviation, in the units of ``loc`` (µm, ms or dimensionless).

    Returns
    -------
    Distribution
        The distribution.
    """
    return Distribution("norm", {"loc": loc, "scale": scale})


@dataclass(frozen=True)
class Section:
    """One straight cylindrical section of a generated morphology (µm).

    The section runs from ``start`` to ``end`` (x, y, z) with diameter ``diam``;
    its 0-end is attached at position ``parent_x`` (0 or 1) of ``parent``.

    Parameters
    ----------
    name : str
        Section name as NEURON shows it (``"soma"``, ``"dend"``, ``"apic"``, ...).
    start, end : tuple of 3 float
        The section's end points (x, y, z), µm, relative to the soma.
    diam : float
        Diameter, µm.
    parent : str or None
        Name of the section it is attached to (None: the root).
    parent_x : float
        Where on ``parent`` its 0-end attaches, 0 or 1 (dimensionless).
    """

    name: str
    start: tuple[float, float, float]
    end: tuple[float, float, float]
    diam: float
    parent: str | None = None
    parent_x: float = 1.0


@dataclass(frozen=True)
class Template:
    """A NEURON cell template, as LFPy's ``TemplateCell`` takes it: the hoc ``file``
    (a relative path is taken relative to the params file) that defines
    ``begintemplate <name>``, and the arguments ``args`` its ``init()`` receives
    (numbers or strings). The template must have a public SectionList ``all`` of its
    sections; it either creates its sections itself or has them created by the
    cell model's morphology file, run inside it.

    Parameters
    ----------
    file : str
        The hoc file defining the template (relative to the params file).
    name : str
        The template's name.
    args : tuple
        Arguments of its ``init()`` (numbers in the template's own units, or strings).
    """

    file: str
    name: str
    args: tuple = ()


#: how a user's model becomes the linear cell of the kernels (CellModel.linearisation)
LINEARISATIONS = ("passive", "frozen", "quasi-active")


@dataclass(frozen=True)
class CellModel:
    """The multicompartment cell representing a postsynaptic population.

    **A passive cable** (the default): ``morphology`` is either a file
    (.hoc/.swc/.asc/.xml; a relative path is taken relative to the params file) or a
    tuple of :class:`Section` built by lfpk_hpc. Every section gets Ra (Ω·cm), cm
    (µF/cm²) and a passive leak g_pas (S/cm²) with reversal ``e_pas`` (mV; ``None`` =
    the kernel's Vrest). Segments follow LFPy's d_lambda rule at ``lambda_f`` Hz
    (d_lambda 0.1). ``rotation`` holds angles (radians) about x, y, z, applied in that
    order before positioning. ``soma_g_pas`` (S/cm²), if given, replaces g_pas in the
    sections whose names contain "soma": the linearised membrane conductance of an
    active soma at rest (``validate`` sets it from its ground truth's Hodgkin-Huxley
    soma). ``soma_gates``, if given, adds to those sections the quasi-active part of
    that linearisation (mod/lfpk_qa.mod): up to three gates (a, b, tau) with
    a = ∂I/∂x (mA/cm²), b = dx∞/dv (1/mV) and tau (ms) at the kernel's Vrest.

    **A user's NEURON model** (LFPy's ``TemplateCell``/``custom_fun`` conventions):
    a ``template`` (:class:`Template`; ``morphology`` then optional: the template may
    create its sections itself) and/or a ``biophysics`` function called as
    ``biophysics(cell, **biophysics_args)`` with the ``LFPy.Cell`` after its
    morphology is loaded (it inserts and sets the mechanisms). ``mechanisms`` is the
    folder of the model's NMODL files (relative to the params file), compiled by
    lfpk_hpc's mechanism cache. The model keeps its own Ra, cm and leak (``Ra``,
    ``cm``, ``g_pas``, ``e_pas``, ``soma_g_pas``, ``soma_gates`` are for passive
    cables only). ``celsius`` (°C) is NEURON's temperature for the model (None:
    NEURON's default, 6.3 °C). ``linearisation`` says how the model becomes the linear
    cell of the kernels (:mod:`lfpk_hpc.linearise` has the equations):

    - ``"passive"``: the model's own passive membrane: every density mechanism but
      ``pas`` removed;
    - ``"frozen"``: the model is brought to rest (its own resting state by
      simulation for up to ``rest_time`` ms, or held at the potential ``v_hold`` mV),
      and every membrane current is replaced by its linearisation there with the gates
      held at their resting values: a leak g(seg) (S/cm²), e(seg) (mV) per segment;
    - ``"quasi-active"``: ``"frozen"`` plus the voltage-dependent gates linearised
      around rest (first-order gates whose rate depends on v only; others stay frozen).

    A user's model can fire: its action-potential kernel is computed when
    ``KernelSettings.ap_kernels`` is on. ``ap_model`` gives a passive cable a model
    that fires (a user's model of the same morphology and segments: ``validate`` sets
    its ground truth's hh soma here).

    Parameters
    ----------
    morphology : str, tuple of Section or None
        Morphology file (.hoc/.swc/.asc/.xml) or generated sections; None only with a
        ``template`` that creates its sections.
    Ra : float
        Axial resistivity, Ω·cm (passive cables).
    cm : float
        Membrane capacitance, µF/cm² (passive cables).
    g_pas : float
        Leak conductance, S/cm² (passive cables).
    e_pas : float or None
        Leak reversal potential, mV; None: the kernel's ``Vrest``.
    lambda_f : float
        Frequency of the d_lambda rule, Hz.
    rotation : mapping of str to float
        Angles about ``"x"``, ``"y"``, ``"z"``, radians.
    soma_g_pas : float or None
        Leak conductance of the soma sections, S/cm².
    soma_gates : tuple of (float, float, float) or None
        Quasi-active gates of the soma: a (mA/cm²), b (1/mV), tau (ms).
    template : Template or None
        A user's hoc template.
    biophysics : callable or None
        A user's function ``biophysics(cell, **biophysics_args)`` setting mechanisms.
    biophysics_args : mapping
        Its keyword arguments (in the units the function expects).
    mechanisms : str or None
        Folder of the model's NMODL files (relative to the params file).
    linearisation : {"passive", "frozen", "quasi-active"}
        How a user's model becomes linear.
    v_hold : float or None
        Holding potential of the operating point, mV (None: the model's own rest).
    celsius : float or None
        NEURON's temperature, °C (None: 6.3 °C).
    rest_time : float
        Longest simulation without input to find the model's rest, ms.
    ap_model : CellModel or None
        A firing model of the same cell for the action-potential kernel.
    """

    morphology: str | tuple[Section, ...] | None
    Ra: float = 100.0
    cm: float = 1.0
    g_pas: float = 3e-4
    e_pas: float | None = None
    lambda_f: float = 100.0
    rotation: Mapping[str, float] = field(default_factory=dict)
    soma_g_pas: float | None = None
    soma_gates: tuple[tuple[float, float, float], ...] | None = None
    template: Template | None = None
    biophysics: Callable | None = None
    biophysics_args: Mapping[str, object] = field(default_factory=dict)
    mechanisms: str | None = None
    linearisation: str = "passive"
    v_hold: float | None = None
    celsius: float | None = None
    rest_time: float = 2000.0
    ap_model: CellModel | None = None

    @property
    def is_user_model(self) -> bool:
        """True for a user's NEURON model (a template or a biophysics function)."""
        return self.template is not None or self.biophysics is not None


#: fields added to the schema after its first version, with their defaults: a params
#: file that leaves them at their defaults keeps the parameter hash it had before
_ADDED_FIELDS = {
    "CellModel": {
        "template": None,
        "biophysics": None,
        "biophysics_args": {},
        "mechanisms": None,
        "linearisation": "passive",
        "v_hold": None,
        "celsius": None,
        "rest_time": 2000.0,
        "ap_model": None,
    },
    "KernelSettings": {"ap_kernels": True},
}


@dataclass(frozen=True)
class Geometry:
    """Population geometry: disc ``radius`` (µm) in the xy-plane, somata at depth
    z ~ N(``loc``, ``scale``) (µm).

    Parameters
    ----------
    radius : float
        Radius of the disc the somata are spread over, µm.
    loc : float
        Mean soma depth, µm (cortical surface at z = 0, negative below it).
    scale : float
        Standard deviation of the soma depths, µm.
    """

    radius: float
    loc: float
    scale: float


@dataclass(frozen=True)
class Population:
    """A population: ``N`` neurons firing at ``nu`` spikes/s.

    A population that is postsynaptic somewhere needs a ``cell`` and a ``geometry``.

    Parameters
    ----------
    name : str
        Population name (the key of connections, probes' rows and files).
    N : int
        Number of neurons.
    nu : float
        Mean firing rate, spikes/s.
    cell : CellModel or None
        The representative cell of a postsynaptic population.
    geometry : Geometry or None
        Where its somata lie (µm).
    """

    name: str
    N: int
    nu: float
    cell: CellModel | None = None
    geometry: Geometry | None = None


@dataclass(frozen=True)
class Synapse:
    """Synapse parameters.

    ``model`` ``"Exp2Syn"``: conductance-based, ``weight`` in µS, reversal ``e`` (mV);
    linearised around Vrest for the kernels. ``"Exp2SynI"``: current-based,
    ``weight`` in nA (peak current −weight). Rise/decay time constants ``tau1`` <
    ``tau2`` in ms. ``"ExpSynI"``: current-based exponential current
    −weight·exp(−t/tau2) (nA), as in Potjans & Diesmann (2014); ``tau1`` must be 0.

    Parameters
    ----------
    model : {"Exp2Syn", "Exp2SynI", "ExpSynI"}
        Synapse model.
    weight : float
        Peak conductance, µS (``Exp2Syn``), or peak current amplitude, nA (current-based).
    tau1 : float
        Rise time constant, ms (0 for ``ExpSynI``).
    tau2 : float
        Decay time constant, ms.
    e : float or None
        Reversal potential, mV (``Exp2Syn`` only).
    """

    model: str
    weight: float
    tau1: float
    tau2: float
    e: float | None = None

    @property
    def conductance_based(self) -> bool:
        return SYNAPSE_MODELS.get(self.model, (True,))[0]


@dataclass(frozen=True)
class Placement:
    """Where a pathway's synapses sit on the postsynaptic cell.

    Segments of the sections whose names contain one of ``sections`` (``"allsec"``
    for all) receive synapses in proportion to membrane area times
    Σ_k weights[k]·pdf_k(z) of the ``depth`` distributions (absolute z, µm), each
    widened by the population's soma spread (scale → √(scale² + geometry.scale²)),
    except ``uniform`` ones (layers), which are convolved exactly with the Gaussian
    soma spread.

    Parameters
    ----------
    sections : tuple of str
        Parts of section names that receive synapses (``"allsec"``: all).
    depth : tuple of Distribution
        Depth profiles of the synapses, absolute z in µm.
    weights : tuple of float
        Relative weight of each profile (dimensionless).
    """

    sections: tuple[str, ...]
    depth: tuple[Distribution, ...]
    weights: tuple[float, ...] = (1.0,)

    def allows(self, section_name: str) -> bool:
        """True if the section ``section_name`` (as NEURON names it, e.g. ``dend[3]``)
        receives synapses: its name contains one of ``sections``, or they say
        ``"allsec"``. The one rule of the kernel engine, the ground truth and the
        load-time check.

        Parameters
        ----------
        section_name : str
            A section's name as NEURON gives it.

        Returns
        -------
        bool
            Whether it receives synapses.
        """
        return section_allowed(self.sections, section_name)


def section_allowed(sections, section_name: str) -> bool:
    """The placement rule of :meth:`Placement.allows` for the names ``sections``."""
    return "allsec" in sections or any(s in section_name for s in sections)


@dataclass(frozen=True)
class Connection:
    """The pathway from presynaptic population ``pre`` (X) to ``post`` (Y).

    ``C``: pairwise connection probability; ``multapses``: distribution of synapses
    per connection (its pdf is evaluated at 1..99); ``delay``: conduction delay
    distribution (ms).

    Parameters
    ----------
    pre, post : str
        Presynaptic population X and postsynaptic population Y.
    C : float
        Pairwise connection probability (dimensionless, 0 to 1).
    multapses : Distribution
        Synapses per connection (dimensionless; its pdf evaluated at 1..99).
    delay : Distribution
        Conduction delay, ms.
    synapse : Synapse
        The synapse model, weight (µS or nA) and time constants (ms).
    placement : Placement
        Where the synapses sit (µm).
    """

    pre: str
    post: str
    C: float
    multapses: Distribution
    delay: Distribution
    synapse: Synapse
    placement: Placement


@dataclass(frozen=True)
class Extrinsic:
    """Extrinsic input onto a postsynaptic population: ``n_ext`` synapses per cell,
    spread uniformly over the membrane area, each activated at ``nu_ext`` spikes/s.
    Enters the kernels only through the effective leak (``g_eff``).

    Parameters
    ----------
    n_ext : float
        Extrinsic synapses per cell (a count; may be fractional).
    nu_ext : float
        Activation rate of each, spikes/s.
    synapse : Synapse
        Their synapse model, weight (µS or nA) and time constants (ms).
    """

    n_ext: float
    nu_ext: float
    synapse: Synapse


@dataclass(frozen=True)
class KernelSettings:
    """Kernel computation settings.

    ``dt``: time step (ms); ``tau``: kernel half-width (ms), kernels span lags
    [−tau, tau] in 2·tau/dt + 1 samples; ``t_X``: time of the presynaptic event
    (ms), at least tau; ``Vrest``: potential (mV) the conductance-based synapses are
    linearised around, one value, or per postsynaptic population a value, one value
    per segment, or ``"cell"``: the resting potential of every segment of the
    linearised cell of a user's model (its own rest, or ``v_hold``; written into the
    kernels file); ``g_eff``: add the mean synaptic conductances to the leak;
    ``ap_kernels``: also compute the action-potential kernel H^AP_Y of every
    population whose cell model fires (a user's model, or ``ap_model``).

    Parameters
    ----------
    dt : float
        Time step, ms.
    tau : float
        Kernel half-width, ms.
    t_X : float
        Time of the presynaptic event in a simulation from a cell not at rest, ms.
    Vrest : float, mapping or str
        Linearisation potential of the synapses, mV (per population, per segment, or
        ``"cell"``).
    g_eff : bool
        Add the mean synaptic conductances to the leak.
    ap_kernels : bool
        Compute action-potential kernels.
    """

    dt: float = 2**-4
    tau: float = 50.0
    t_X: float = 500.0
    Vrest: float | Mapping[str, float | Sequence[float] | str] = -65.0
    g_eff: bool = True
    ap_kernels: bool = True

    def vrest_of(self, Y: str):
        """Vrest for population Y: a float, a per-segment array, or :data:`VREST_CELL`.

        Parameters
        ----------
        Y : str
            A postsynaptic population.

        Returns
        -------
        float, numpy.ndarray or str
            The resting potential (mV), one per segment (mV), or :data:`VREST_CELL`.
        """
        if isinstance(self.Vrest, Mapping):
            v = self.Vrest[Y]
            if isinstance(v, str):
                return v
            return float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float)
        return float(self.Vrest)


#: ``KernelSettings.Vrest[Y]``: the resting potential of every segment of Y's linearised cell
VREST_CELL = "cell"


@dataclass(frozen=True)
class Model:
    """A complete kernel model.

    ``synapse_count``: ``"linear"`` K_YX = C·N_X·N_Y (lfpykernels) or ``"log"``
    K_YX = ln(1−C)/ln(1−1/(N_X·N_Y)) (Potjans & Diesmann 2014); either is
    multiplied by the mean multapse count.

    Parameters
    ----------
    name : str
        Model name (the default output file's name).
    populations : tuple of Population
        Every population, presynaptic or postsynaptic.
    connections : tuple of Connection
        The pathways X → Y.
    probes : tuple of probe specs
        Named probes (:mod:`lfpk_hpc.probespecs`).
    kernel : KernelSettings
        Time step, half-width (ms), linearisation potential (mV), ...
    extrinsic : mapping of str to Extrinsic
        Extrinsic input per postsynaptic population.
    synapse_count : {"linear", "log"}
        The rule for the total synapse count K_YX.
    drives : tuple of EvokedDrive
        Evoked drives (:class:`lfpk_hpc.drives.EvokedDrive`).
    base_dir : str
        Folder that relative paths (morphologies, templates, mechanisms) are taken
        relative to; :func:`load` sets the params file's folder.
    """

    name: str
    populations: tuple[Population, ...]
    connections: tuple[Connection, ...]
    probes: tuple[Probe, ...]
    kernel: KernelSettings = field(default_factory=KernelSettings)
    extrinsic: Mapping[str, Extrinsic] = field(default_factory=dict)
    synapse_count: str = "linear"
    #: evoked drives (:class:`lfpk_hpc.drives.EvokedDrive`), each also a presynaptic
    #: population with its connections (:func:`lfpk_hpc.drives.expand`)
    drives: tuple = ()
    #: directory of the params file; relative morphology paths are resolved against it
    base_dir: str = "."

    # ---- lookups by name
    def population(self, name: str) -> Population:
        """The population called ``name``.

        Parameters
        ----------
        name : str
            The population's name.

        Returns
        -------
        Population
            The population.

        Raises
        ------
        KeyError
            The model has no such population.
        """
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(name)

    def connection(self, X: str, Y: str) -> Connection:
        """The connection from X onto Y.

        Parameters
        ----------
        X : str
            Presynaptic population.
        Y : str
            Postsynaptic population.

        Returns
        -------
        Connection
            The connection.

        Raises
        ------
        KeyError
            The model has no such connection.
        """
        for c in self.connections:
            if c.pre == X and c.post == Y:
                return c
        raise KeyError((X, Y))

    @property
    def postsynaptic(self) -> tuple[str, ...]:
        """Names of the postsynaptic populations Y, in population order."""
        posts = {c.post for c in self.connections}
        return tuple(p.name for p in self.populations if p.name in posts)

    def presynaptic(self, Y: str) -> tuple[str, ...]:
        """Names of the presynaptic populations X of Y, in population order.

        Parameters
        ----------
        Y : str
            A postsynaptic population.

        Returns
        -------
        tuple of str
            The presynaptic populations.
        """
        pres = {c.pre for c in self.connections if c.post == Y}
        return tuple(p.name for p in self.populations if p.name in pres)

    def tasks(self) -> list[tuple[str, str]]:
        """All (X, Y) pairs, Y-major in population order."""
        return [(X, Y) for Y in self.postsynaptic for X in self.presynaptic(Y)]

    def morphology_path(self, Y: str) -> Path | None:
        """The morphology file of Y's cell, resolved against the params file's folder.

        Parameters
        ----------
        Y : str
            A postsynaptic population.

        Returns
        -------
        pathlib.Path or None
            The file; None for generated sections or a template's own.
        """
        m = self.population(Y).cell.morphology
        if isinstance(m, str):
            return _resolve(Path(self.base_dir), m)
        return None

    def path(self, name: str) -> Path:
        """A file or folder the params file names, resolved against its folder.

        Parameters
        ----------
        name : str
            The name as the params file gives it.

        Returns
        -------
        pathlib.Path
            The resolved path.
        """
        return _resolve(Path(self.base_dir), name)

    # ---- provenance
    def to_dict(self) -> dict:
        """The effective parameters as plain JSON-able data (without base_dir; a
        morphology, template or mechanism file is recorded by name and SHA-256 of its
        content, a biophysics function by its module, name and the SHA-256 of its
        source). Fields added to the schema later are left out at their defaults, so
        that a params file that does not use them keeps its hash."""
        d = _plain(self)
        d.pop("base_dir")
        if not d["drives"]:
            d.pop("drives")  # (the hash of a model without drives is that of earlier versions)
        for pop in d["populations"]:
            cell = pop.get("cell")
            if cell:
                model_cell = self.population(pop["name"]).cell
                pop["cell"] = _cell_record(cell, model_cell, Path(self.base_dir))
        _drop_defaults(d["kernel"], "KernelSettings")
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=True)

    def hash(self) -> str:
        """SHA-256 of the effective parameters (independent of where files live)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()


#: SHA-256 of files read in this process: (path, size, mtime) -> hex digest
_FILE_SHA256: dict = {}


def _file_sha256(path: Path) -> str:
    """SHA-256 of a file's content (read once per process while it is unchanged)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _FILE_SHA256:
        _FILE_SHA256[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _FILE_SHA256[key]


def _plain(obj):
    if is_dataclass(obj):
        d = {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, PROBE_TYPES):
            d["type"] = type(obj).__name__
        return d
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    if callable(obj):
        return _function_record(obj)
    return obj


def _drop_defaults(d: dict, cls: str) -> None:
    for key, default in _ADDED_FIELDS[cls].items():
        if key in d and d[key] == default:
            del d[key]


def _file_record(path: Path) -> dict:
    return {"file": path.name, "sha256": _file_sha256(path)}


def _resolve(base: Path, name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else base / p


def mod_files(folder: Path) -> list[Path]:
    """The NMODL files of a mechanism folder, in name order."""
    return sorted(Path(folder).glob("*.mod"))


def _cell_record(d: dict, cell: CellModel, base: Path) -> dict:
    """The provenance record of a cell model (see :meth:`Model.to_dict`)."""
    if isinstance(cell.morphology, str):
        d["morphology"] = _file_record(_resolve(base, cell.morphology))
    if cell.template is not None:
        d["template"]["file"] = _file_record(_resolve(base, cell.template.file))
    if cell.mechanisms is not None:
        folder = _resolve(base, cell.mechanisms)
        d["mechanisms"] = {
            "folder": folder.name,
            "files": {f.name: _file_record(f)["sha256"] for f in mod_files(folder)},
        }
    if cell.ap_model is not None:
        d["ap_model"] = _cell_record(d["ap_model"], cell.ap_model, base)
    _drop_defaults(d, "CellModel")
    return d


def _function_record(fun) -> dict:
    """A function by module, name and the SHA-256 of its source (so that a changed
    biophysics function changes the parameter hash)."""
    import inspect

    try:
        source = inspect.getsource(fun)
    except (OSError, TypeError):
        source = repr(fun)
    module = getattr(fun, "__module__", "") or ""
    if module.startswith("_lfpk_hpc_params_"):
        module = "<params file>"  # the params module's import name depends on its path
    return {
        "function": f"{module}.{getattr(fun, '__qualname__', repr(fun))}",
        "sha256": hashlib.sha256(source.encode()).hexdigest(),
    }


# --------------------------------------------------------------------------- section names


def morphology_sections(cell: CellModel, path: Path | None = None):
    """The section names of ``cell``'s morphology, without NEURON
    (:func:`lfpk_hpc.sections.section_names`): the generated sections, those a .hoc
    file creates, or the base names of a .swc or .asc file; None where the text does
    not tell.

    Parameters
    ----------
    cell : CellModel
        The cell model.
    path : pathlib.Path, optional
        Its morphology file, resolved (:meth:`Model.morphology_path`).

    Returns
    -------
    SectionNames or None
        The names, or None where the text does not tell them.
    """
    from .sections import section_names

    m = cell.morphology
    if m is None or cell.template is not None:
        return None  # a template's sections: known when the cell is built
    return section_names(m if path is None or not isinstance(m, str) else str(path))


# --------------------------------------------------------------------------- validation


def validate(model: Model) -> Model:
    """Check every parameter of ``model``; raise :class:`ParamsError` on the first problem.

    Parameters
    ----------
    model : Model
        The model.

    Returns
    -------
    Model
        The model, checked.

    Raises
    ------
    ParamsError
        A parameter is missing or has a value that is not allowed.
    """
    from .modelchecks import validate_model  # (it imports this module's classes)

    return validate_model(model)


# --------------------------------------------------------------------------- loading


def load(path: str | Path, **overrides) -> Model:
    """Import a params file, take its ``model`` and validate it.

    Parameters
    ----------
    path : str or path-like
        The params file, a Python module defining ``model = Model(...)``.
    **overrides
        Fields of :class:`Model` to replace before validation (e.g. ``kernel=``).

    Returns
    -------
    Model
        The validated model (units: µm, ms, mV, µS or nA, S/cm², spikes/s, S/m), its
        ``base_dir`` the params file's folder.

    Raises
    ------
    ParamsError
        One line for a missing file, an import error, a missing ``model`` or any invalid
        value, naming the parameter.
    """
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"params file {str(path)!r} does not exist")
    if path.suffix != ".py":
        raise ParamsError(f"params file {str(path)!r} must be a Python module (.py)")
    modname = f"_lfpk_hpc_params_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except ParamsError:
        raise
    except BaseException as exc:  # noqa: BLE001 - any failure of user code is reported in one line
        if isinstance(exc, KeyboardInterrupt):
            raise
        tb = exc.__traceback__
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(path):
                line = tb.tb_lineno
            tb = tb.tb_next
        where = f" (line {line})" if line else ""
        raise ParamsError(
            f"params file {str(path)!r} does not import{where}: "
            f"{type(exc).__name__}: {_one_line(str(exc))}"
        ) from None
    finally:
        sys.modules.pop(modname, None)
    model = getattr(module, "model", None)
    if model is None:
        raise ParamsError(f"params file {str(path)!r} defines no 'model' (model = Model(...))")
    if isinstance(model, Model):
        # relative file names resolve against the params file's folder, unless the model
        # comes from another params file (load() or a scan's point_model: its folder kept)
        base = model.base_dir if Path(model.base_dir).is_absolute() else str(path.resolve().parent)
        model = replace(model, base_dir=base, **overrides)
    return validate(model)
