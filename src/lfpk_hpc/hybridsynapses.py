"""The synapses of a hybrid block (step 2 of :mod:`lfpk_hpc.hybridsim`): for every
pathway X → Y, each cell's connections by the params' synapse-count rule, their
multapses, segments (area × depth profile over the allowed sections, at the cell's
own depth) and delays (the delay distribution, by inversion of its CDF), every draw
from the generator of (seed, "synapses", X, Y, cell index). Units: µm, ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .draws import multapse_pmf, rng_for
from .params import Model

if TYPE_CHECKING:
    from .hybridsim import CellPrototype, HybridInputs

__all__ = [
    "CellSynapses",
    "block_densities",
    "block_synapses",
    "cell_synapses",
    "connections_per_cell",
]


def connections_per_cell(model: Model, X: str, Y: str) -> float:
    """Mean connections (without multapses) from X onto one cell of Y.

    Parameters
    ----------
    model : Model
        The (scaled) model.
    X : str
        Presynaptic population.
    Y : str
        Postsynaptic population.

    Returns
    -------
    float
        Mean connections per cell of Y (a count).
    """
    from .kernel import multapse_mean, total_synapses

    con = model.connection(X, Y)
    return total_synapses(model, con) / multapse_mean(con.multapses) / model.population(Y).N


@dataclass
class CellSynapses:
    """The synapses of one pathway onto one cell: segment, presynaptic neuron and
    delay (ms) of each.

    Parameters
    ----------
    seg : numpy.ndarray
        Each synapse's segment (index in the cell).
    pre : numpy.ndarray
        Each synapse's presynaptic neuron (index in X).
    delay : numpy.ndarray
        Each synapse's delay (ms).
    """

    seg: np.ndarray
    pre: np.ndarray
    delay: np.ndarray


def _draw_cell(model: Model, X: str, Y: str, i: int, density: np.ndarray, seed: int, pmf, k):
    """(presynaptic neurons, segments, uniforms for the delays) of the synapses of
    X → Y onto cell ``i`` of Y, from the generator of (seed, "synapses", X, Y, i);
    ``pmf``: the multapse distribution (:func:`lfpk_hpc.draws.multapse_pmf`), ``k``:
    the mean connections per cell (:func:`connections_per_cell`)."""
    con = model.connection(X, Y)
    n_x = model.population(X).N
    rng = rng_for(seed, "synapses", X, Y, i)
    if model.synapse_count == "log":
        n_conn = int(math.floor(k)) + int(rng.random() < k - math.floor(k))
        pre = rng.integers(0, n_x, size=n_conn)
    else:
        mask = rng.random(n_x) < con.C
        if X == Y:
            mask[i] = False
        pre = np.flatnonzero(mask)
    k_vals, pk = pmf
    if pk.max() == 1.0:  # one synapse count only (e.g. PD14's one synapse per connection)
        pre = np.repeat(pre, int(k_vals[np.argmax(pk)]))
    else:
        pre = np.repeat(pre, rng.choice(k_vals, size=pre.size, p=pk))
    # rng.choice(density.size, size=pre.size, p=density) — the same draws (numpy's
    # rule: the normalised cumulative sum searched at uniforms) without its checks
    cdf = density.cumsum()
    cdf /= cdf[-1]
    seg = cdf.searchsorted(rng.random(pre.size), side="right")
    return pre.astype(np.int64), seg.astype(np.int64), rng.random(pre.size)


def _delays(dist, u: np.ndarray) -> np.ndarray:
    """Delays (ms) of the delay distribution by inversion of its CDF at uniforms ``u``
    (one call for many cells). A normal distribution cut below its mean and not above
    (PD14's delays: ``truncnorm`` with −4 ≤ a ≤ 0, b = ∞) is inverted directly
    through its upper tail, loc − scale·Φ⁻¹(Q(a)·(1 − u)) with Q(a) = Φ(−a) ≥ 1/2
    (not below loc + a·scale; a ≥ −4 keeps the density at the cut large enough that
    rounding 1 − u costs nothing): about 15 times faster than scipy's general
    ``truncnorm.ppf``, equal to it within 1e-12 ms for u < 1 − 10⁻⁶ and closer to the
    exact value above (scipy's error grows to 0.006 ms at u = 1 − 2⁻⁵³);
    tests/test_hybrid.py checks both. Any other distribution is scipy's ``ppf``."""
    import scipy.special as sp
    import scipy.stats as st

    if u.size == 0:
        return np.zeros(0)
    par = dict(dist.params)
    if dist.name == "truncnorm" and par.get("b", 0.0) == math.inf and -4 <= par.get("a", 1) <= 0:
        a, loc, scale = float(par["a"]), par.get("loc", 0.0), par.get("scale", 1.0)
        return np.maximum(loc - scale * sp.ndtri(sp.ndtr(-a) * (1.0 - u)), loc + a * scale)
    return np.asarray(getattr(st, dist.name).ppf(u, **par), dtype=float)


def cell_synapses(model: Model, X: str, Y: str, i: int, density: np.ndarray, seed: int):
    """Draw the synapses of pathway X → Y onto cell ``i`` of Y (the rules: this
    module's docstring and :mod:`lfpk_hpc.hybridsim`'s step 2); ``density``: the
    synapse probability of each segment.

    Parameters
    ----------
    model : Model
        The (scaled) model.
    X : str
        Presynaptic population.
    Y : str
        Postsynaptic population.
    i : int
        Index of the cell in Y.
    density : numpy.ndarray
        Synapse probability of each segment (dimensionless).
    seed : int
        The run's seed (dimensionless).

    Returns
    -------
    CellSynapses
        The cell's synapses: segments, presynaptic neurons, delays (ms).
    """
    con = model.connection(X, Y)
    pmf, k = multapse_pmf(con.multapses), connections_per_cell(model, X, Y)
    pre, seg, u = _draw_cell(model, X, Y, i, density, seed, pmf, k)
    return CellSynapses(seg, pre, _delays(con.delay, u))


def block_densities(proto: CellPrototype, con, z_mid: np.ndarray) -> np.ndarray:
    """Synapse probability per segment of pathway ``con`` for each cell of a block
    (rows), the cells' segment midpoints at depths ``z_mid`` (cells, segments) µm:
    :func:`lfpk_hpc.kernel.synapse_density` at each cell's own depth (no widening).

    Parameters
    ----------
    proto : CellPrototype
        The population's cell (segment areas, µm², and section names).
    con : Connection
        The pathway (its placement).
    z_mid : numpy.ndarray
        Depths of the segments' midpoints, one row per cell (cells, n_seg) (µm).

    Returns
    -------
    numpy.ndarray
        Synapse probability of each segment, one row per cell, rows summing to 1.
    """
    from .kernel import allowed_segments, depth_profile

    try:
        allowed = allowed_segments(proto.section, con.placement)
    except Exception as exc:
        raise type(exc)(f"connections[{con.pre}->{con.post}]: {exc}") from None
    p = np.zeros(z_mid.shape)
    p[:, allowed] = proto.area[allowed] * depth_profile(z_mid[:, allowed], con.placement, 0.0)
    total = p.sum(axis=1)
    if not np.all(total > 0):
        from .params import ParamsError

        raise ParamsError(
            f"connections[{con.pre}->{con.post}]: placement = {con.placement!r} is invalid: "
            "its depth profile is zero on every allowed segment of a cell of "
            f"{con.post} at depth {float(z_mid[np.argmin(total)].mean()):.1f} µm"
        )
    return p / total[:, None]


def block_synapses(inputs: HybridInputs, X: str, Y: str, first: int, z_mid: np.ndarray):
    """:class:`CellSynapses` of X → Y onto each cell of a block (cells first, first + 1,
    …; their segment depths ``z_mid``), drawn cell by cell, the delays of all at once.

    Parameters
    ----------
    inputs : HybridInputs
        The run's inputs.
    X : str
        Presynaptic population.
    Y : str
        Postsynaptic population.
    first : int
        Index of the block's first cell.
    z_mid : numpy.ndarray
        Depths of the segments' midpoints, one row per cell (cells, n_seg) (µm).

    Returns
    -------
    list of CellSynapses
        One per cell of the block.
    """
    model = inputs.model
    con = model.connection(X, Y)
    proto = inputs.prototype(Y)
    density = block_densities(proto, con, z_mid)
    pmf, k = multapse_pmf(con.multapses), connections_per_cell(model, X, Y)
    draws = [
        _draw_cell(model, X, Y, first + j, density[j], inputs.seed, pmf, k)
        for j in range(z_mid.shape[0])
    ]
    delays = _delays(con.delay, np.concatenate([d[2] for d in draws]))
    out, lo = [], 0
    for pre, seg, u in draws:
        out.append(CellSynapses(seg, pre, delays[lo : lo + u.size]))
        lo += u.size
    return out
