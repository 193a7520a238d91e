"""The checks of a model at load (:func:`lfpk_hpc.params.validate`): every parameter
against what it names and what it allows, one line per problem naming the parameter,
its value and what is allowed (:class:`lfpk_hpc.params.ParamsError`, exit code 2)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .checks import NAME as _NAME
from .checks import fail as _fail
from .checks import finite as _finite
from .checks import nonneg as _nonneg
from .checks import positive as _positive
from .drives import check_drives
from .params import (
    SYNAPSE_MODELS,
    Connection,
    Distribution,
    Extrinsic,
    Geometry,
    KernelSettings,
    Model,
    Placement,
    Population,
    Synapse,
    morphology_sections,
)
from .probespecs import check_probes

__all__ = ["validate_model"]

#: pdf values of distributions that passed the check: (name, params, support) -> values
#: (freezing a scipy distribution costs milliseconds; a scan validates the same
#: distributions at every point)
_CHECKED_DISTRIBUTIONS: dict = {}


def _check_distribution(param, dist, support=None):
    if isinstance(dist, Distribution):
        try:
            key = (
                dist.name,
                tuple(sorted((str(k), float(v)) for k, v in dict(dist.params).items())),
                None if support is None else np.asarray(support, dtype=float).tobytes(),
            )
        except (TypeError, ValueError):
            key = None
        if key is not None and key in _CHECKED_DISTRIBUTIONS:
            return _CHECKED_DISTRIBUTIONS[key].copy()
        values = _check_distribution_uncached(param, dist, support)
        if key is not None and len(_CHECKED_DISTRIBUTIONS) < 10_000:
            _CHECKED_DISTRIBUTIONS[key] = values.copy()
        return values
    return _check_distribution_uncached(param, dist, support)


def _check_distribution_uncached(param, dist, support=None):
    import scipy.stats as st

    if not isinstance(dist, Distribution):
        _fail(param, dist, "must be a Distribution (e.g. truncnorm(loc, scale, a, b))")
    gen = getattr(st, dist.name, None) if isinstance(dist.name, str) else None
    if not isinstance(gen, st.rv_continuous):
        _fail(f"{param}.name", dist.name, "must name a continuous scipy.stats distribution")
    try:
        frozen = dist.frozen()
        values = frozen.pdf(np.asarray(support if support is not None else [0.0]))
    except Exception as exc:  # scipy raises TypeError for unknown keywords
        _fail(
            f"{param}.params", dict(dist.params), f"not accepted by scipy.stats.{dist.name}: {exc}"
        )
    if not np.all(np.isfinite(values)):
        _fail(f"{param}.params", dict(dist.params), "give a pdf with non-finite values")
    return values


def _check_synapse(param, syn, g_eff):
    if not isinstance(syn, Synapse):
        _fail(param, syn, "must be a Synapse")
    if syn.model not in SYNAPSE_MODELS:
        _fail(f"{param}.model", syn.model, f"allowed: {', '.join(SYNAPSE_MODELS)}")
    _finite(f"{param}.weight", syn.weight)
    if syn.model == "ExpSynI":
        if syn.tau1 != 0:
            _fail(f"{param}.tau1", syn.tau1, "must be 0 for ExpSynI (single exponential)")
        t1, t2 = -1.0, _positive(f"{param}.tau2", syn.tau2)
    else:
        t1 = _positive(f"{param}.tau1", syn.tau1)
        t2 = _positive(f"{param}.tau2", syn.tau2)
    if t1 >= t2:
        _fail(f"{param}.tau1", syn.tau1, f"must be smaller than tau2 = {syn.tau2} ms")
    if syn.conductance_based:
        if syn.e is None:
            _fail(
                f"{param}.e", None, "a conductance-based synapse needs its reversal potential (mV)"
            )
        _finite(f"{param}.e", syn.e)
    elif g_eff:
        _fail(
            "kernel.g_eff",
            True,
            f"g_eff needs conductance-based synapses, but {param} is current-based "
            f"({syn.model}); set g_eff=False",
        )


def validate_model(model: Model) -> Model:
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
    from .cellmodels import check_cell, check_model_mechanisms, check_vrest

    if not isinstance(model, Model):
        _fail("model", type(model).__name__, "the params file must define model = Model(...)")
    if not isinstance(model.name, str) or not model.name:
        _fail("model.name", model.name, "must be a non-empty string")
    ks = model.kernel
    if not isinstance(ks, KernelSettings):
        _fail("kernel", ks, "must be a KernelSettings")
    dt = _positive("kernel.dt", ks.dt)
    tau = _positive("kernel.tau", ks.tau)
    t_X = _finite("kernel.t_X", ks.t_X)
    for name, v in (("kernel.tau", tau), ("kernel.t_X", t_X)):
        steps = v / dt
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            _fail(name, v, f"must be a whole multiple of kernel.dt = {dt} ms")
    if t_X < tau:
        _fail("kernel.t_X", t_X, f"must be >= kernel.tau = {tau} ms")
    if not isinstance(ks.g_eff, bool):
        _fail("kernel.g_eff", ks.g_eff, "must be True or False")
    if not isinstance(ks.ap_kernels, bool):
        _fail("kernel.ap_kernels", ks.ap_kernels, "must be True or False")
    if model.synapse_count not in ("linear", "log"):
        _fail("model.synapse_count", model.synapse_count, "allowed: 'linear', 'log'")

    # populations
    if not model.populations:
        _fail("model.populations", model.populations, "need at least one population")
    names = []
    for pop in model.populations:
        if not isinstance(pop, Population):
            _fail("model.populations", pop, "entries must be Population(...)")
        if not isinstance(pop.name, str) or not _NAME.match(pop.name):
            _fail(
                "populations.name",
                pop.name,
                "must start with a letter and use A-Z a-z 0-9 _ ( ) + -",
            )
        if pop.name in names:
            _fail("populations.name", pop.name, "population names must be unique")
        names.append(pop.name)
        p = f"populations[{pop.name}]"
        if isinstance(pop.N, bool) or not isinstance(pop.N, (int, np.integer)) or pop.N < 1:
            _fail(f"{p}.N", pop.N, "must be a whole number >= 1")
        _nonneg(f"{p}.nu", pop.nu)

    # connections
    seen = set()
    if not model.connections:
        _fail("model.connections", model.connections, "need at least one connection")
    for con in model.connections:
        if not isinstance(con, Connection):
            _fail("model.connections", con, "entries must be Connection(...)")
        p = f"connections[{con.pre}->{con.post}]"
        if con.pre not in names:
            _fail(f"{p}.pre", con.pre, f"unknown population; defined: {', '.join(names)}")
        if con.post not in names:
            _fail(f"{p}.post", con.post, f"unknown population; defined: {', '.join(names)}")
        if (con.pre, con.post) in seen:
            _fail(p, (con.pre, con.post), "each (pre, post) pair may appear only once")
        seen.add((con.pre, con.post))
        _finite(f"{p}.C", con.C, 0.0, 1.0, what="a probability within [0, 1]")
        if model.synapse_count == "log" and con.C >= 1.0:
            _fail(f"{p}.C", con.C, "must be < 1 with synapse_count='log'")
        pk = _check_distribution(f"{p}.multapses", con.multapses, np.arange(1, 100))
        if not pk.sum() > 0:
            _fail(f"{p}.multapses", con.multapses, "its pdf must be > 0 somewhere in 1..99")
        lags = np.linspace(-tau, tau, 2 * int(round(tau / dt)) + 1)
        h = _check_distribution(f"{p}.delay", con.delay, lags)
        if not h.sum() > 0:
            _fail(f"{p}.delay", con.delay, f"must have probability within [-tau, tau] = ±{tau} ms")
        if np.any(h[lags < 0] > 0):
            _fail(f"{p}.delay", con.delay, "delays must not be negative (pdf > 0 at t < 0 ms)")
        _check_synapse(f"{p}.synapse", con.synapse, ks.g_eff)
        pl = con.placement
        if not isinstance(pl, Placement):
            _fail(f"{p}.placement", pl, "must be a Placement")
        if (
            isinstance(pl.sections, str)
            or not pl.sections
            or not all(isinstance(s, str) and s for s in pl.sections)
        ):
            _fail(f"{p}.placement.sections", pl.sections, "must be a non-empty tuple of names")
        for key in ("depth", "weights"):
            if not isinstance(getattr(pl, key), (tuple, list, np.ndarray)):
                _fail(
                    f"{p}.placement.{key}",
                    getattr(pl, key),
                    "must be a tuple with one entry per depth distribution",
                )
        if len(pl.depth) == 0 or len(pl.depth) != len(pl.weights):
            _fail(
                f"{p}.placement.weights",
                pl.weights,
                f"need one weight per depth distribution ({len(pl.depth)})",
            )
        for i, (d, w) in enumerate(zip(pl.depth, pl.weights, strict=True)):
            _check_distribution(f"{p}.placement.depth[{i}]", d)
            if "scale" not in d.params:
                _fail(f"{p}.placement.depth[{i}]", d, "needs a 'scale' parameter (µm)")
            _nonneg(f"{p}.placement.weights[{i}]", w)
        if not sum(pl.weights) > 0:
            _fail(f"{p}.placement.weights", pl.weights, "must not all be zero")

    # postsynaptic populations: cell, geometry, Vrest, extrinsic input
    for Y in model.postsynaptic:
        pop = model.population(Y)
        p = f"populations[{Y}]"
        if not isinstance(pop.geometry, Geometry):
            _fail(
                f"{p}.geometry",
                pop.geometry,
                "a postsynaptic population needs Geometry(radius, loc, scale)",
            )
        _positive(f"{p}.geometry.radius", pop.geometry.radius)
        _finite(f"{p}.geometry.loc", pop.geometry.loc)
        _nonneg(f"{p}.geometry.scale", pop.geometry.scale)
        check_cell(f"{p}.cell", pop.cell, model, Y)
        if isinstance(ks.Vrest, Mapping):
            if Y not in ks.Vrest:
                _fail(
                    "kernel.Vrest", dict(ks.Vrest), f"has no entry for postsynaptic population {Y}"
                )
            check_vrest(Y, ks.Vrest[Y], pop.cell)
        if model.kernel.g_eff and Y not in model.extrinsic:
            _fail(
                "model.extrinsic",
                sorted(model.extrinsic),
                f"g_eff needs the extrinsic input of {Y}",
            )
    _check_section_names(model)
    check_model_mechanisms(model)
    if isinstance(ks.Vrest, Mapping):
        for key in ks.Vrest:
            if key not in model.postsynaptic:
                _fail(
                    "kernel.Vrest",
                    key,
                    f"unknown postsynaptic population; allowed: {', '.join(model.postsynaptic)}",
                )
    else:
        _finite("kernel.Vrest", ks.Vrest)
    for Y, ext in model.extrinsic.items():
        if Y not in model.postsynaptic:
            _fail(
                "model.extrinsic",
                Y,
                f"unknown postsynaptic population; allowed: {', '.join(model.postsynaptic)}",
            )
        if not isinstance(ext, Extrinsic):
            _fail(f"extrinsic[{Y}]", ext, "must be an Extrinsic")
        _nonneg(f"extrinsic[{Y}].n_ext", ext.n_ext)
        _nonneg(f"extrinsic[{Y}].nu_ext", ext.nu_ext)
        _check_synapse(f"extrinsic[{Y}].synapse", ext.synapse, ks.g_eff)

    check_drives(model)
    check_probes(model)
    return model


def _check_section_names(model: Model) -> None:
    """Every section name a params file uses against the morphology it names: the
    placements' names, and "soma" where the cell model changes the soma. Names a
    morphology file's text does not tell (see :func:`morphology_sections`) are
    checked when the cell is built."""
    for Y in model.postsynaptic:
        cell = model.population(Y).cell
        secs = morphology_sections(cell, model.morphology_path(Y))
        if secs is None:
            continue
        for X in model.presynaptic(Y):
            pl = model.connection(X, Y).placement
            for part in pl.sections:
                if part != "allsec" and not secs.matches(part):
                    _fail(
                        f"connections[{X}->{Y}].placement.sections",
                        tuple(pl.sections),
                        f"{part!r} is part of no section name of the cell of {Y}; a placement "
                        f"names sections by a part of their names (or 'allsec'); the "
                        f"sections: {secs.describe()}",
                    )
        for key in ("soma_g_pas", "soma_gates"):
            if getattr(cell, key) is not None and not secs.matches("soma"):
                _fail(
                    f"populations[{Y}].cell.{key}",
                    getattr(cell, key),
                    "applies to the sections whose names contain 'soma', and the cell of "
                    f"{Y} has none (sections: {secs.describe()})",
                )
