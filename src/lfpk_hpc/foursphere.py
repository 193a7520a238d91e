"""The four-sphere head's EEG at scalp electrodes for many dipole positions at once.

A hybrid block puts each cell's current dipole at the cell's own soma, so its EEG
matrix needs the potential of three unit dipoles (x, y, z) at every cell's position:
LFPykit's ``FourSphereVolumeConductor`` solves one position per call (about 2 ms each
in Python loops). :func:`scalp_unit_potentials` evaluates the same solution — the
corrected four-sphere series of Næss et al. (2017), Front Hum Neurosci 11:490
(doi:10.3389/fnhum.2017.00490), for an electrode in the outermost shell — for all
positions together, with LFPykit's rule for where each series stops (the first term
n with term_n ≤ 2/99·10⁻⁶ · Σ_{k≤n} term_k, per position, electrode and dipole part),
so it agrees with LFPykit to rounding (tests/test_eeg.py checks 1e-10 of the largest
value). Electrodes in the brain, CSF or skull are left to LFPykit (callers check
:func:`on_scalp`).

Units: positions in µm, conductivities in S/m; the potential per unit dipole is in mV
per nA·µm (1/(4π σ r²) with p in nA·µm, σ in S/m, r in µm).
"""

from __future__ import annotations

import numpy as np

__all__ = ["STOP", "on_scalp", "scalp_unit_potentials"]

#: LFPykit's default stopping factor of the series (FourSphereVolumeConductor's
#: ``iter_factor``)
STOP = 2.0 / 99.0 * 1e-6


def on_scalp(radii, electrodes) -> bool:
    """True when every electrode lies in the scalp shell (radii[2] < |r| ≤ radii[3]).

    Parameters
    ----------
    radii : sequence of 4 float
        Outer radii of brain, CSF, skull and scalp (µm).
    electrodes : array_like
        Electrode positions (n, 3), head centre at the origin (µm).

    Returns
    -------
    bool
        Whether :func:`scalp_unit_potentials` applies.
    """
    r = np.linalg.norm(np.asarray(electrodes, dtype=float).reshape(-1, 3), axis=1)
    return bool(np.all((r > radii[2]) & (r <= radii[3])))


def _shell_factors(r12, r23, r34, s23, s34, n: int):
    """The n-th factors of the series that do not depend on the dipole: (v_n, y_n,
    z_n) of the boundary conditions at the skull/scalp, CSF/skull and brain/CSF
    surfaces (Næss et al. 2017, eqs. for the corrected model); the head's radius
    ratios r12 = r1/r2, r23, r34 and conductivity ratios s23 = σ2/σ3, s34."""
    k = (n + 1) / n
    q34 = r34 ** (2 * n + 1)
    rv = (q34 - 1) / (k * q34 + 1)
    v = (s34 / k - rv) / (s34 + rv)
    q23 = r23 ** (2 * n + 1)
    ry = (q23 / k - v) / (q23 + v)
    y = (s23 / k - ry) / (s23 + ry)
    q12 = r12 ** (2 * n + 1)
    z = (q12 - k * y) / (q12 + y)
    return v, y, z


def scalp_unit_potentials(radii, sigmas, electrodes, locations, stop: float = STOP):
    """The potential (mV) at each electrode of a unit current dipole (1 nA·µm) along
    x, y and z at each of many positions in the brain.

    Parameters
    ----------
    radii : sequence of 4 float
        Outer radii of brain, CSF, skull and scalp (µm), increasing.
    sigmas : sequence of 4 float
        Their conductivities (S/m).
    electrodes : array_like
        Electrode positions (n_el, 3) in the scalp shell (see :func:`on_scalp`), head
        centre at the origin (µm).
    locations : array_like
        Dipole positions (n_loc, 3) inside the brain sphere (0 < |r| < radii[0]) (µm).
    stop : float, optional
        A series stops at the first term ≤ ``stop`` times the sum so far
        (dimensionless; LFPykit's default).

    Returns
    -------
    numpy.ndarray
        Shape (n_loc, n_el, 3): mV per nA·µm of the x, y and z unit dipoles.
    """
    r1, r2, r3, r4 = (float(r) for r in radii)
    s1, s2, s3, s4 = (float(s) for s in sigmas)
    el = np.asarray(electrodes, dtype=float).reshape(-1, 3)
    loc = np.asarray(locations, dtype=float).reshape(-1, 3)
    if not on_scalp(radii, el):
        raise ValueError("scalp_unit_potentials: every electrode must lie in the scalp shell")
    rz = np.linalg.norm(loc, axis=1)  # (L,)
    if not np.all((rz > 0) & (rz < r1)):
        raise ValueError("scalp_unit_potentials: dipoles must lie inside the brain sphere")
    r_el = np.linalg.norm(el, axis=1)  # (E,)
    zhat = loc / rz[:, None]  # (L, 3) the radial direction at each dipole
    along = zhat @ el.T  # (L, E) each electrode's component along ẑ (µm)
    cos_t = np.clip(along / r_el[None, :], -1.0, 1.0)
    sin_t = np.sqrt(np.maximum(0.0, 1.0 - cos_t * cos_t))
    rz1 = (rz / r1)[:, None]  # (L, 1)
    up, down = (r_el / r4)[None, :], (r4 / r_el)[None, :]  # (1, E)
    r12, r23, r34 = r1 / r2, r2 / r3, r3 / r4
    s12, s23, s34 = s1 / s2, s2 / s3, s3 / s4

    shape = cos_t.shape
    sum_rad, sum_tan = np.zeros(shape), np.zeros(shape)  # Σ term_n (stopping rule)
    pot_rad, pot_tan = np.zeros(shape), np.zeros(shape)  # Σ term_n · Legendre
    live_rad, live_tan = np.ones(shape, dtype=bool), np.ones(shape, dtype=bool)
    # P_n and P_n^1 (Condon-Shortley phase, as scipy's lpmv) by upward recurrence
    p_prev, p_now = np.ones(shape), cos_t.copy()
    q_prev, q_now = np.zeros(shape), -sin_t
    n = 1
    while live_rad.any() or live_tan.any():
        v, y, z = _shell_factors(r12, r23, r34, s23, s34, n)
        k = (n + 1) / n
        a = rz1 ** (n + 1)
        c1 = (k * s12 + z) / (s12 - z) * a
        c2 = (c1 + a) * r12 ** (n + 1) / (r12 ** (2 * n + 1) + y)
        c3 = (c2 + y * c2) * r23 ** (n + 1) / (r23 ** (2 * n + 1) + v)
        c4 = k * r34 ** (n + 1) * (c3 + v * c3) / (k * r34 ** (2 * n + 1) + 1)
        d4 = c4 / k
        tan = c4 * up**n + d4 * down ** (n + 1)  # (L, E)
        rad = n * tan
        # each series adds its term n, then stops if that term was small enough
        sum_rad += np.where(live_rad, rad, 0.0)
        pot_rad += np.where(live_rad, rad * p_now, 0.0)
        live_rad &= rad > stop * sum_rad
        sum_tan += np.where(live_tan, tan, 0.0)
        pot_tan += np.where(live_tan, tan * q_now, 0.0)
        live_tan &= tan > stop * sum_tan
        p_prev, p_now = p_now, ((2 * n + 1) * cos_t * p_now - n * p_prev) / (n + 1)
        q_prev, q_now = q_now, ((2 * n + 1) * cos_t * q_now - (n + 1) * q_prev) / n
        n += 1
    # a unit dipole e_k: radial part (ẑ·e_k) ẑ, tangential part e_k − (ẑ·e_k) ẑ
    scale = 1.0 / (4 * np.pi * s1 * rz**2)  # (L,)
    out = pot_rad[:, :, None] * (zhat * scale[:, None])[:, None, :]  # (L, E, 3)
    # tangential: −(p_tan · r_uv)/|r_uv| · Σ, r_uv the electrode's part ⟂ ẑ (zero on
    # the axis through the dipole, where the tangential part adds nothing)
    r_par = along[:, :, None] * zhat[:, None, :]  # (L, E, 3)
    r_uv = el[None, :, :] - r_par
    norm_uv = np.linalg.norm(r_uv, axis=2)  # (L, E)
    # p_tan · r_uv for p = e_k: (e_k − ẑ_k ẑ) · r_uv = r_uv_k (r_uv ⟂ ẑ)
    with np.errstate(invalid="ignore", divide="ignore"):
        direction = np.where(norm_uv[:, :, None] > 0, r_uv / norm_uv[:, :, None], 0.0)
    pot_tan = np.where(sin_t > 0, pot_tan, 0.0)
    out -= (pot_tan * scale[:, None])[:, :, None] * direction
    return out
