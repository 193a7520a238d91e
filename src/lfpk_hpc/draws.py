"""Random draws shared by the ground truths: every random number of a run comes from
a generator seeded by the run's seed and the draw's purpose (names and indices),
never by the MPI rank, so results do not depend on how the work is spread."""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["draw_delays", "multapse_pmf", "rng_for", "soma_positions"]


def _key(k) -> int:
    if isinstance(k, (int, np.integer)):
        return int(k)
    return int.from_bytes(hashlib.sha256(str(k).encode()).digest()[:8], "little")


def rng_for(seed: int, *keys) -> np.random.Generator:
    """The generator of one purpose: seeded by ``seed`` and ``keys`` (names and
    indices), never by the rank.

    Parameters
    ----------
    seed : int
        The run's seed (dimensionless).
    *keys : str or int
        Names and indices of the purpose (e.g. a population and a cell index).

    Returns
    -------
    numpy.random.Generator
        The same generator for the same seed and keys on any rank.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=[_key(k) for k in keys]))


def soma_positions(rng: np.random.Generator, n: int, radius: float, loc: float, scale: float):
    """(n, 3) soma positions (µm): uniform in the disc of ``radius`` about the z axis,
    z ~ N(loc, scale).

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator to draw from.
    n : int
        Number of somas (a count).
    radius : float
        Radius of the disc about the z axis (µm).
    loc : float
        Mean depth z of the somas (µm).
    scale : float
        Standard deviation of the depth (µm).

    Returns
    -------
    numpy.ndarray
        Soma positions x, y, z, shape (n, 3) (µm).
    """
    xy = np.zeros((0, 2))
    while xy.shape[0] < n:
        draw = rng.uniform(-radius, radius, size=(2 * (n - xy.shape[0]) + 8, 2))
        xy = np.concatenate([xy, draw[np.hypot(draw[:, 0], draw[:, 1]) < radius]])
    z = rng.normal(loc, scale, size=n)
    return np.column_stack([xy[:n], z])


def multapse_pmf(dist) -> tuple[np.ndarray, np.ndarray]:
    """Synapses per connection k = 1..99 and their probabilities (the continuous
    pdf evaluated at k, normalised: LFPy's and lfpk_hpc.kernel's rule).

    Parameters
    ----------
    dist : Distribution
        The distribution of synapses per connection: a scipy.stats name and its
        parameters (dimensionless: counts of synapses).

    Returns
    -------
    k : numpy.ndarray
        The counts 1..99 (synapses per connection).
    pk : numpy.ndarray
        Their probabilities (dimensionless, summing to 1).
    """
    import scipy.stats as st

    k = np.arange(1, 100)
    pk = getattr(st, dist.name).pdf(k, **dict(dist.params))
    return k, pk / pk.sum()


def draw_delays(rng: np.random.Generator, dist, n: int) -> np.ndarray:
    """``n`` draws of the delay distribution ``dist`` (ms) from ``rng``.

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator to draw from (:func:`rng_for`).
    dist : Distribution
        The delay distribution: a scipy.stats name and its parameters (ms).
    n : int
        How many delays to draw (a count).

    Returns
    -------
    numpy.ndarray
        ``n`` delays (ms).
    """
    import scipy.stats as st

    return np.atleast_1d(getattr(st, dist.name).rvs(size=n, random_state=rng, **dict(dist.params)))
