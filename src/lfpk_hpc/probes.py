"""Forward models (probes): linear maps from membrane currents to signals.

Each probe follows LFPykit's contract: ``get_transformation_matrix(geometry)``
returns M of shape (channels, segments) so that signal = M @ imem, with imem the
segments' transmembrane currents (nA). A matrix depends only on the cell's
geometry, so it is computed once per (postsynaptic population, probe).

Here: the base classes, the LFP (Gauss cylinder), the current dipole moment, the EEG
(four spheres), :func:`make_probe` for every probe spec, and the ground truths' matrices
of many cells; the MEG and CSD models are :mod:`lfpk_hpc.megcsd`.

This module does not depend on NEURON.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._moved import forward
from .probespecs import (
    SCALP_RTOL,
    CurrentDipoleProbe,
    FourSphereEEGProbe,
    GaussCylinderProbe,
    LaminarCSDProbe,
    MEGProbe,
    check_meg_location,
)

__all__ = [
    "CSD_UNITS",
    "DIPOLE_UNITS",
    "MEG_UNITS",
    "CurrentDipoleMoment",
    "FourSphereEEG",
    "GaussCylinderPotential",
    "SegmentGeometry",
    "canonical_units",
    "make_probe",
]

#: the MEG and CSD forward models moved to lfpk_hpc.megcsd (it imports this module);
#: their names are still found here
__getattr__ = forward(
    __name__,
    dict.fromkeys(
        (
            "FIELD_FT",
            "LaminarCSD",
            "MEGField",
            "biot_savart_field",
            "column_rotation",
            "cylinder_fractions",
            "meg_cell_location",
            "meg_unit_fields",
            "sarvas_field",
        ),
        "megcsd",
    ),
)

#: units of the current dipole moment, as files, figures and messages spell them
DIPOLE_UNITS = "nA·µm"
#: units of the magnetic field (MEG) and of the current source density
MEG_UNITS = "fT"
#: units of CSD kernels (per presynaptic spike)
CSD_UNITS = "µA/mm³"
#: spellings of earlier versions' files -> today's (every reader accepts both)
_OLD_SPELLINGS = {"nA*um": DIPOLE_UNITS, "um": "µm"}


def canonical_units(units) -> str:
    """A ``units`` attribute as lfpk_hpc spells it today (files written by earlier
    versions say ``nA*um`` for nA·µm and ``um`` for µm).

    Parameters
    ----------
    units : str or bytes
        A ``units`` attribute.

    Returns
    -------
    str
        The units as lfpk_hpc spells them (e.g. ``"nA·µm"``).
    """
    units = units.decode() if isinstance(units, bytes) else str(units)
    return _OLD_SPELLINGS.get(units, units)


@dataclass(frozen=True)
class SegmentGeometry:
    """Segment end points ``x``, ``y``, ``z`` of shape (n_seg, 2) and diameters ``d``
    (n_seg,), all in µm; ``area`` (µm²) and ``section`` names per segment if known.

    Parameters
    ----------
    x, y, z : numpy.ndarray
        Segment end points, shape (n_seg, 2) each (µm).
    d : numpy.ndarray
        Segment diameters (n_seg,) (µm).
    area : numpy.ndarray, optional
        Segment membrane areas (n_seg,) (µm²).
    section : tuple of str, optional
        Section name of each segment.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    d: np.ndarray
    area: np.ndarray | None = None
    section: tuple[str, ...] | None = None

    @property
    def n_seg(self) -> int:
        return self.z.shape[0]

    @property
    def z_mid(self) -> np.ndarray:
        """Segment midpoint depths (µm)."""
        return self.z.mean(axis=-1)


class LinearProbe:
    """Base class: a named probe with ``n_channels`` channels in ``units``."""

    units = ""

    def __init__(self, name: str):
        self.name = name

    @property
    def n_channels(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def get_transformation_matrix(self, geometry: SegmentGeometry) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    def for_population(self, geometry) -> LinearProbe:
        """The probe for a postsynaptic population of ``geometry`` (a params
        ``Geometry``): itself, unless its matrix depends on the population (the CSD
        cylinders' default radius)."""
        return self


class CurrentDipoleMoment(LinearProbe):
    r"""Current dipole moment along z (nA·µm): :math:`P_z = \sum_n z_n I_n`.

    Rows x and y are zero: for a population rotationally symmetric about the z-axis
    they vanish on average (LFPykernels' ``KernelApproxCurrentDipoleMoment``).
    Segment positions are their midpoints. Because :math:`\sum_n I_n = 0`, P is
    independent of the origin of z.

    Parameters
    ----------
    name : str
        The probe's name.
    """

    units = DIPOLE_UNITS

    @property
    def n_channels(self) -> int:
        return 3

    def get_transformation_matrix(self, geometry: SegmentGeometry) -> np.ndarray:
        """The matrix (3, n_seg) from membrane currents (nA) to P (nA·µm): rows x, y zero.

        Parameters
        ----------
        geometry : SegmentGeometry
            The cell's segments (µm).

        Returns
        -------
        numpy.ndarray
            The matrix, in nA·µm per nA (µm).
        """
        M = np.zeros((3, geometry.n_seg))
        M[2] = geometry.z_mid
        return M


# Gauss-Legendre rule on every panel of the Gauss-cylinder integral (10 nodes on a
# panel 2 sigma_z wide integrate the Gaussian to ~1e-16 relative)
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(10)
_HALF_WINDOW = 9.0  # integration window ±9 sigma_z: Gaussian mass outside 2e-19
_PANEL = 2.0  # panel width, in units of sigma_z

# Chebyshev interpolation on panels: points of the first kind on [-1, 1] and the
# matrix from values at them to coefficients
_CHEB_N = 24
_CHEB_T = np.cos(np.pi * (np.arange(_CHEB_N) + 0.5) / _CHEB_N)
_CHEB_C = (2.0 / _CHEB_N) * np.cos(
    np.pi * np.outer(np.arange(_CHEB_N), np.arange(_CHEB_N) + 0.5) / _CHEB_N
)
_CHEB_C[0] *= 0.5
_CHEB_MAX_SPLITS = 20


def _panel_rule(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the Gauss-Legendre rule on the panels between
    consecutive ``edges`` (last axis), flattened along the last axis."""
    a, b = edges[..., :-1], edges[..., 1:]
    half = 0.5 * (b - a)
    mid = 0.5 * (b + a)
    nodes = mid[..., None] + half[..., None] * _GL_NODES
    weights = half[..., None] * _GL_WEIGHTS
    shape = edges.shape[:-1] + (-1,)
    return nodes.reshape(shape), weights.reshape(shape)


class GaussCylinderPotential(LinearProbe):
    r"""Potential (mV) of current sources spread over a disc of radius R and
    Gaussian along z (Hagen et al. 2022, PLOS Comput Biol 18(8): e1010353, eq. 11).

    For a contact at depth :math:`z_e` and a segment with midpoint :math:`z_i`,
    with :math:`\Delta = z_e - z_i`:

    .. math::
        M = \frac{1}{\pi R^2} \int_{-\infty}^{\infty}
            \frac{\sqrt{u^2 + R^2} - |u|}{2\sigma}\,
            \frac{e^{-(u-\Delta)^2 / 2\sigma_z^2}}{\sqrt{2\pi}\,\sigma_z}\, du

    in mV per nA for σ in S/m and lengths in µm. LFPykernels evaluates each entry
    with ``scipy.integrate.quad``. Here M depends on |Δ| only (the integrand's
    first factor is even), so each distinct |Δ| is integrated once, all at once,
    over u = Δ + σ_z x with x in [−9, 9] (the Gaussian's mass outside is 2e-19)
    with a composite 10-point Gauss-Legendre rule on panels 2 σ_z wide, and the
    first factor in the cancellation-free form R² / (√(u² + R²) + |u|):

    - |Δ| ≥ 9 σ_z: the window does not reach the kink at u = 0, the integrand is
      smooth and the nodes (in x) are the same for every Δ, so the Gaussian
      weights are computed once;
    - |Δ| < 9 σ_z: the panels are also split at the kink and graded geometrically
      around it on the scale R down from 2 σ_z, where a small R makes the first
      factor change fast.

    With thousands of distinct |Δ| (a detailed cell) the integral is instead
    interpolated from a piecewise Chebyshev table of it, built from a few hundred
    such integrals and accepted panel by panel only where its coefficients have
    decayed below 1e-14 (:meth:`_tabulated`). This takes ~2 ms for a 906-segment
    cell and 16 contacts, where LFPykernels' quad loop takes ~9 s.

    The result agrees with adaptive quadrature to ~1e-15 relative
    (tests/test_probes.py: better than 1e-9 against scipy's quad at tight tolerance).

    Parameters
    ----------
    name : str
        The probe's name.
    z : array_like of float
        Depths of the contacts (µm).
    sigma : float, optional
        Extracellular conductivity (S/m).
    R : float, optional
        Radius of the disc the sources are spread over (µm).
    sigma_z : float, optional
        Standard deviation of the sources' spread along z (µm).
    """

    units = "mV"
    _CHUNK = 2048  # values of |Δ| integrated per vectorised block
    _TABLE_MIN = 2000  # from this many distinct |Δ| on, interpolate (:meth:`_tabulated`)

    def __init__(self, name: str, z, sigma: float = 0.3, R: float = 100.0, sigma_z: float = 50.0):
        super().__init__(name)
        self.z = np.asarray(z, dtype=float)
        self.sigma = float(sigma)
        self.R = float(R)
        self.sigma_z = float(sigma_z)

    @property
    def n_channels(self) -> int:
        return self.z.size

    def _f(self, u: np.ndarray) -> np.ndarray:
        """(√(u² + R²) − |u|) · R⁻², without cancellation for |u| ≫ R."""
        au = np.abs(u)
        return 1.0 / (np.sqrt(u * u + self.R**2) + au)

    def _far(self, d: np.ndarray) -> np.ndarray:
        """∫ f(d + σ_z x) φ(x) dx for d ≥ 9 σ_z, f as in :meth:`_f`."""
        edges = np.arange(-_HALF_WINDOW, _HALF_WINDOW + 0.5 * _PANEL, _PANEL)
        x, w = _panel_rule(edges)
        w = w * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
        return self._f(d[:, None] + self.sigma_z * x[None, :]) @ w

    def _near(self, d: np.ndarray) -> np.ndarray:
        """The same integral for 0 ≤ d < 9 σ_z (the kink at u = 0, x = −d/σ_z,
        lies inside the window)."""
        L = _HALF_WINDOW
        uniform = np.arange(-L, L + 0.5 * _PANEL, _PANEL)
        r = self.R / self.sigma_z
        grading = []
        g = 0.5 * r
        while g < _PANEL:  # R·2^k / σ_z up to the panel width
            grading.append(g)
            g *= 2.0
        grading.append(g)
        grading = np.array(grading)
        kink = np.concatenate([-grading[::-1], [0.0], grading])
        x0 = -d / self.sigma_z
        edges = np.concatenate(
            [np.broadcast_to(uniform, (d.size, uniform.size)), x0[:, None] + kink[None, :]],
            axis=1,
        )
        edges = np.sort(np.clip(edges, -L, L), axis=1)
        x, w = _panel_rule(edges)
        f = self._f(d[:, None] + self.sigma_z * x)
        return np.einsum("ij,ij->i", f, w * np.exp(-0.5 * x * x)) / np.sqrt(2 * np.pi)

    def _direct(self, d: np.ndarray) -> np.ndarray:
        """The integral of :meth:`_far` / :meth:`_near` at every d ≥ 0 (µm)."""
        out = np.empty(d.shape)
        far = d >= _HALF_WINDOW * self.sigma_z
        for mask, rule in ((far, self._far), (~far, self._near)):
            idx = np.flatnonzero(mask)
            for start in range(0, idx.size, self._CHUNK):
                part = idx[start : start + self._CHUNK]
                out[part] = rule(d[part])
        return out

    def _tabulated(self, d: np.ndarray) -> np.ndarray:
        """The integral at many d ≥ 0 from a piecewise Chebyshev interpolant of it.

        The integral is an entire function of d (a Gaussian convolution), smooth on
        the scale σ_z near d = 0 and on the scale d beyond. Panels start 2 σ_z wide
        up to 9 σ_z and double in width beyond; the integral is evaluated at 24
        Chebyshev points of each panel (:meth:`_direct`) and a panel is accepted when
        its last three Chebyshev coefficients are below 1e-14 of its largest value,
        else it is halved and tried again. Points in a panel that is never accepted
        are integrated directly.
        """
        s, dmax = self.sigma_z, float(d.max())
        near = min(_HALF_WINDOW * s, dmax)
        edges = list(np.linspace(0.0, near, max(1, int(np.ceil(near / (2 * s)))) + 1))
        while edges[-1] < dmax:
            edges.append(min(2 * edges[-1], dmax))
        todo = np.c_[edges[:-1], edges[1:]]
        done_ab, done_coef = [], []
        for _ in range(_CHEB_MAX_SPLITS):
            if todo.size == 0:
                break
            mid, half = todo.mean(axis=1), 0.5 * (todo[:, 1] - todo[:, 0])
            values = self._direct((mid[:, None] + half[:, None] * _CHEB_T).ravel())
            values = values.reshape(len(todo), _CHEB_N)
            coef = values @ _CHEB_C.T
            ok = np.abs(coef[:, -3:]).max(axis=1) <= 1e-14 * np.abs(values).max(axis=1)
            done_ab.append(todo[ok])
            done_coef.append(coef[ok])
            bad = todo[~ok]
            todo = np.concatenate(
                [np.c_[bad[:, 0], bad.mean(axis=1)], np.c_[bad.mean(axis=1), bad[:, 1]]]
            )
        ab = np.concatenate(done_ab + [todo])
        coef = np.concatenate(done_coef + [np.full((len(todo), _CHEB_N), np.nan)])
        order = np.argsort(ab[:, 0])
        ab, coef = ab[order], coef[order]
        panel = np.clip(np.searchsorted(ab[:, 0], d, side="right") - 1, 0, len(ab) - 1)
        a, b, c = ab[panel, 0], ab[panel, 1], coef[panel]
        t = np.clip((2 * d - (a + b)) / (b - a), -1.0, 1.0)
        b1 = np.zeros(d.shape)
        b2 = np.zeros(d.shape)
        for j in range(_CHEB_N - 1, 0, -1):  # Clenshaw
            b1, b2 = 2 * t * b1 - b2 + c[:, j], b1
        out = t * b1 - b2 + c[:, 0]
        missing = np.isnan(out)
        if missing.any():
            out[missing] = self._direct(d[missing])
        return out

    def _integral(self, d: np.ndarray) -> np.ndarray:
        """M (without the factor 1/(πR²)) for distances d = |Δ| ≥ 0 (µm)."""
        if d.size >= self._TABLE_MIN:
            out = self._tabulated(d)
        else:
            out = self._direct(d)
        return out * self.R**2 / (2 * self.sigma)

    def get_transformation_matrix(self, geometry: SegmentGeometry) -> np.ndarray:
        """The matrix (contacts, n_seg) from membrane currents (nA) to the potential (mV).

        Parameters
        ----------
        geometry : SegmentGeometry
            The cell's segments (µm).

        Returns
        -------
        numpy.ndarray
            The matrix, in mV per nA.
        """
        delta = np.abs(self.z[:, None] - geometry.z_mid[None, :]).ravel()
        # identical distances share one integral (e.g. aligned sticks)
        uniq, inverse = np.unique(delta, return_inverse=True)
        M = self._integral(uniq)[inverse].reshape(self.z.size, geometry.n_seg)
        return M / (np.pi * self.R**2)


class FourSphereEEG(LinearProbe):
    r"""EEG (mV) at scalp electrodes from the current dipole moment, in a four-sphere
    head model (LFPykit's ``FourSphereVolumeConductor``).

    The head: concentric spheres of brain, CSF, skull and scalp with outer ``radii``
    (µm) and conductivities ``sigmas`` (S/m), air outside; the potential of a point
    current dipole is the series solution of Næss et al. (2017), Corrected
    Four-Sphere Head Model for EEG Signals, Front Hum Neurosci 11:490
    (doi:10.3389/fnhum.2017.00490), as implemented in LFPykit 0.6.2.

    Where the dipole sits: the kernels' cortex has its surface at z = 0 µm and
    z < 0 below it, and is placed on the top of the brain sphere, so the z axis of
    the cell is the radial direction of the head. The dipole of a postsynaptic
    population sits at :math:`(0, 0, r_\mathrm{brain} + z_d)` with :math:`z_d` the
    depth of the cell's soma: the mean of the segment midpoints of the sections
    whose names contain ``soma`` (LFPy's soma position), or, for a cell without
    such a section, the mean of all segment midpoints. :math:`z_d` must be < 0
    (inside the brain; LFPykit requires :math:`|r_d| < r_\mathrm{brain}`).

    The matrix: the kernel dipole has only a z component,
    :math:`P_z = \sum_n z_n I_n` (:class:`CurrentDipoleMoment`), so with
    :math:`m_z` the potential per unit z-dipole (mV per nA·µm) at each electrode
    for that location,

    .. math:: M_{en} = m_{z,e} \, z_n, \qquad V = M I = m_z P_z

    (z_n: segment midpoints, µm). :math:`m_z` is computed once per dipole
    location (LFPykit's series for one radial unit dipole) and cached.

    Units: LFPykit's p / (4π σ r²) with p in nA·µm, σ in S/m and r in µm is in mV
    (nA·µm / (S/m · µm²) = 1e-9 A / 1e-6 S = 1e-3 V), so M is in mV per nA.

    Electrodes within a relative 1e-9 outside the scalp (positions computed from
    angles) are moved onto it, since LFPykit rejects any r > radii[3].

    Parameters
    ----------
    name : str
        The probe's name.
    radii : sequence of float, optional
        Outer radii of brain, CSF, skull and scalp (µm).
    sigmas : sequence of float, optional
        Their conductivities (S/m).
    electrodes : sequence of (float, float, float), optional
        Electrode positions on the scalp, head centre at the origin (µm).
    """

    units = "mV"

    def __init__(
        self,
        name: str,
        radii=(79000.0, 80000.0, 85000.0, 90000.0),
        sigmas=(0.3, 1.5, 0.015, 0.3),
        electrodes=((0.0, 0.0, 90000.0),),
    ):
        super().__init__(name)
        self.radii = np.asarray(radii, dtype=float)
        self.sigmas = np.asarray(sigmas, dtype=float)
        el = np.array(electrodes, dtype=float).reshape(-1, 3)
        r = np.linalg.norm(el, axis=1)
        outside = (r > self.radii[3]) & (r <= self.radii[3] * (1 + SCALP_RTOL))
        el[outside] *= (self.radii[3] / r[outside])[:, None]
        self.electrodes = el
        self._m_z: dict[float, np.ndarray] = {}
        self._conductor = None

    @property
    def n_channels(self) -> int:
        return self.electrodes.shape[0]

    @staticmethod
    def soma_depth(geometry: SegmentGeometry) -> float:
        """z_d (µm): mean midpoint depth of the soma segments (all segments if none).

        Parameters
        ----------
        geometry : SegmentGeometry
            The cell's segments (µm).

        Returns
        -------
        float
            The soma's depth z_d (µm).
        """
        z = geometry.z_mid
        if geometry.section is not None:
            soma = np.array(["soma" in name for name in geometry.section], dtype=bool)
            if soma.any():
                return float(z[soma].mean())
        return float(z.mean())

    def dipole_location(self, geometry: SegmentGeometry) -> np.ndarray:
        """(0, 0, radii[0] + z_d) µm, the dipole's position in the head.

        Parameters
        ----------
        geometry : SegmentGeometry
            The cell's segments (µm).

        Returns
        -------
        numpy.ndarray
            The dipole's position (3,) (µm).
        """
        return np.array([0.0, 0.0, self.radii[0] + self.soma_depth(geometry)])

    def conductor(self):
        """LFPykit's ``FourSphereVolumeConductor`` of this head and these electrodes."""
        if self._conductor is None:
            from lfpykit.eegmegcalc import FourSphereVolumeConductor

            self._conductor = FourSphereVolumeConductor(
                self.electrodes, radii=self.radii.tolist(), sigmas=self.sigmas.tolist()
            )
        return self._conductor

    def m_z(self, location: np.ndarray) -> np.ndarray:
        """Potential (mV) at every electrode of a unit z-dipole (1 nA·µm) at
        ``location`` (µm, on the z axis), shape (electrodes,).

        Parameters
        ----------
        location : numpy.ndarray
            The dipole's position (3,), on the z axis (µm).

        Returns
        -------
        numpy.ndarray
            Potential per unit z-dipole at each electrode (mV per nA·µm).

        Raises
        ------
        ValueError
            The dipole is not inside the brain sphere.
        """
        location = np.asarray(location, dtype=float)
        key = float(location[2])
        if key not in self._m_z:
            r_d = float(np.linalg.norm(location))
            if not 0 < r_d < self.radii[0]:
                raise ValueError(
                    f"EEG probe {self.name!r}: the dipole at {tuple(location.tolist())} µm "
                    f"(|r| = {r_d:g} µm) is not inside the brain sphere (radius "
                    f"{self.radii[0]:g} µm); the soma must lie below the cortical surface "
                    "at z = 0 µm"
                )
            p = np.array([[0.0], [0.0], [1.0]])
            self._m_z[key] = self.conductor().get_dipole_potential(p, location)[:, 0].copy()
        return self._m_z[key]

    def get_transformation_matrix(self, geometry: SegmentGeometry) -> np.ndarray:
        """The matrix (electrodes, n_seg) from membrane currents (nA) to the EEG (mV).

        Parameters
        ----------
        geometry : SegmentGeometry
            The cell's segments (µm).

        Returns
        -------
        numpy.ndarray
            The matrix, in mV per nA.
        """
        m_z = self.m_z(self.dipole_location(geometry))
        return m_z[:, None] * geometry.z_mid[None, :]


def make_probe(spec) -> LinearProbe:
    """The probe implementation of a params-file probe spec.

    Parameters
    ----------
    spec : Probe
        A probe spec of :mod:`lfpk_hpc.probespecs`.

    Returns
    -------
    LinearProbe
        The probe.

    Raises
    ------
    TypeError
        Not a probe spec.
    """
    from .megcsd import LaminarCSD, MEGField

    if isinstance(spec, GaussCylinderProbe):
        return GaussCylinderPotential(spec.name, spec.z, spec.sigma, spec.R, spec.sigma_z)
    if isinstance(spec, CurrentDipoleProbe):
        return CurrentDipoleMoment(spec.name)
    if isinstance(spec, FourSphereEEGProbe):
        return FourSphereEEG(spec.name, spec.radii, spec.sigmas, spec.electrodes)
    if isinstance(spec, MEGProbe):
        return MEGField(
            spec.name,
            spec.sensors,
            spec.orientations,
            spec.head,
            spec.brain_radius,
            spec.column_axis,
        )
    if isinstance(spec, LaminarCSDProbe):
        return LaminarCSD(spec.name, spec.z, spec.h, spec.r)
    raise TypeError(f"unknown probe spec {spec!r}")


def ground_truth_matrices(
    probes, geometry: SegmentGeometry, cells, eeg_depth=None, population_radius=None
) -> dict:
    """Per probe spec, the matrix (channels, segments) from the membrane currents (nA)
    of many cells, their segments concatenated in ``geometry``, to the signal a ground
    truth records — the real contacts and positions, not the kernels' population
    averages:

    - :class:`~lfpk_hpc.params.GaussCylinderProbe`: the potential (mV) of line sources
      (LFPykit's ``RecExtElectrode``, ``method='linesource'``, LFPy's rule) at contacts
      (0, 0, z) µm in a medium of the probe's sigma (S/m);
    - :class:`~lfpk_hpc.params.CurrentDipoleProbe`: the three components (nA·µm) of
      Σ I_n r_n (segment midpoints r_n, µm);
    - :class:`~lfpk_hpc.params.FourSphereEEGProbe`: the four-sphere EEG (mV) of each
      cell's own dipole, placed at its soma: (x_s, y_s, radii[0] + z_s) µm (the
      cortical surface z = 0 on top of the brain sphere, as the kernels place it);
      for scalp electrodes all cells at once (:mod:`lfpk_hpc.foursphere`), else
      LFPykit's solution per cell;
    - :class:`~lfpk_hpc.params.MEGProbe`: the magnetic field (fT) of each cell's own
      dipole (its three components turned with the column into the head) at its soma,
      (0, 0, brain_radius) + R·(x_s, y_s, z_s)
      (:func:`~lfpk_hpc.megcsd.meg_cell_location`);
    - :class:`~lfpk_hpc.params.LaminarCSDProbe`: the CSD (µA/mm³) of all segments in
      the cylinders (:class:`~lfpk_hpc.megcsd.LaminarCSD`), of radius ``r`` or
      ``population_radius``.

    ``cells``: (first segment, number of segments, soma position (x, y, z) µm) of each
    cell in ``geometry``. ``eeg_depth`` (µm), if given, places every cell's dipole at
    depth ``eeg_depth`` instead, for the EEG (0, 0, radii[0] + eeg_depth) and the MEG
    (:func:`~lfpk_hpc.megcsd.meg_cell_location` of (0, 0, eeg_depth)) (the recurrent
    ground truth puts a population's dipole where the kernels put it: eeg_depth =
    geometry.loc).
    ``population_radius`` (µm): the CSD cylinders' radius where the probe gives none.
    LFPykit only (no NEURON).
    """
    import lfpykit
    from lfpykit.cellgeometry import CellGeometry

    from .foursphere import on_scalp, scalp_unit_potentials
    from .megcsd import LaminarCSD, meg_cell_location, meg_unit_fields

    n = geometry.n_seg
    geom = CellGeometry(x=geometry.x, y=geometry.y, z=geometry.z, d=geometry.d)
    cdm = lfpykit.CurrentDipoleMoment(geom).get_transformation_matrix()  # (3, n)
    out = {}
    for spec in probes:
        if isinstance(spec, GaussCylinderProbe):
            z = np.asarray(spec.z, dtype=float)
            el = lfpykit.RecExtElectrode(
                geom,
                x=np.zeros_like(z),
                y=np.zeros_like(z),
                z=z,
                sigma=spec.sigma,
                method="linesource",
            )
            out[spec.name] = np.ascontiguousarray(el.get_transformation_matrix())
        elif isinstance(spec, CurrentDipoleProbe):
            out[spec.name] = np.ascontiguousarray(cdm)
        elif isinstance(spec, FourSphereEEGProbe):
            eeg = FourSphereEEG(spec.name, spec.radii, spec.sigmas, spec.electrodes)
            M = np.zeros((eeg.n_channels, n))
            if eeg_depth is not None:
                loc = np.array([0.0, 0.0, eeg.radii[0] + eeg_depth])
                unit = eeg.conductor().get_dipole_potential(np.eye(3), loc)  # (el, 3)
                out[spec.name] = unit @ cdm
                continue
            locs = np.array([[s[0], s[1], eeg.radii[0] + s[2]] for _f, _c, s in cells], float)
            for (_first, _count, soma), loc in zip(cells, locs, strict=True):
                r_d = float(np.linalg.norm(loc))
                if not r_d < eeg.radii[0]:
                    raise ValueError(
                        f"EEG probe {spec.name!r}: a soma at {tuple(np.round(soma, 1))} µm "
                        f"puts its dipole outside the brain sphere (|r| = {r_d:g} µm > "
                        f"{eeg.radii[0]:g} µm); somata must lie below the cortical surface"
                    )
            if len(cells) and on_scalp(eeg.radii, eeg.electrodes):  # all cells at once
                units = scalp_unit_potentials(eeg.radii, eeg.sigmas, eeg.electrodes, locs)
            else:  # electrodes inside the skull: LFPykit, one cell at a time
                conductor = eeg.conductor()
                units = [conductor.get_dipole_potential(np.eye(3), loc) for loc in locs]
            for (first, count, _soma), unit in zip(cells, units, strict=True):
                M[:, first : first + count] = unit @ cdm[:, first : first + count]  # (el, 3)
            out[spec.name] = M
        elif isinstance(spec, MEGProbe):
            meg = make_probe(spec)
            M = np.zeros((meg.n_channels, n))
            if eeg_depth is not None:
                loc = meg_cell_location(meg, (0.0, 0.0, eeg_depth))
                out[spec.name] = meg_unit_fields(meg, loc) @ cdm
                continue
            for first, count, soma in cells:
                loc = meg_cell_location(meg, soma)
                problem = check_meg_location(meg.spec, loc, f"a cell at {tuple(np.round(soma, 1))}")
                if problem is not None:
                    raise ValueError(f"MEG probe {spec.name!r}: {problem}")
                unit = meg_unit_fields(meg, loc)  # (sensors, 3)
                M[:, first : first + count] = unit @ cdm[:, first : first + count]
            out[spec.name] = M
        elif isinstance(spec, LaminarCSDProbe):
            csd = make_probe(spec)
            if csd.r is None:
                csd = LaminarCSD(spec.name, csd.z, csd.h, population_radius)
            out[spec.name] = csd.get_transformation_matrix(geometry)
        else:  # pragma: no cover - validated by params
            raise TypeError(spec)
    return out
