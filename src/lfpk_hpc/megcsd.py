"""The MEG and laminar CSD forward models: the magnetic field of the current dipole
moment at sensors outside the head, and the current source density in cylinders about
the column's axis.

Like every probe of :mod:`lfpk_hpc.probes` (whose base classes, units and
:func:`~lfpk_hpc.probes.make_probe` they share), each gives the matrix M (channels,
segments) from the segments' membrane currents (nA) to its signal:

- :class:`MEGField` (fT): the kernel dipole P_z along the column's axis, placed in a
  spherical head (:func:`sarvas_field`) or an infinite medium (:func:`biot_savart_field`),
  measured along each sensor's axis; :func:`meg_unit_fields` and
  :func:`meg_cell_location` serve the ground truths' cells at their own positions;
- :class:`LaminarCSD` (µA/mm³): each segment's current spread over its length, the
  fraction inside each cylinder (:func:`cylinder_fractions`) per volume.

This module does not depend on NEURON.
"""

from __future__ import annotations

import numpy as np

from .probes import CSD_UNITS, MEG_UNITS, FourSphereEEG, LinearProbe, SegmentGeometry
from .probespecs import (
    LaminarCSDProbe,
    MEGProbe,
    check_meg_location,
    csd_cylinders,
    meg_dipole_location,
    meg_geometry,
)

__all__ = [
    "LaminarCSD",
    "MEGField",
    "biot_savart_field",
    "column_rotation",
    "cylinder_fractions",
    "meg_cell_location",
    "meg_unit_fields",
    "sarvas_field",
]

# --------------------------------------------------------------------------- MEG

#: μ0/4π = 1e-7 T·m/A; with the dipole in nA·µm and distances in µm, μ0/4π p/r² is
#: 1e-7 · 1e-9 A · 1e-6 m / (1e-12 m²) T = 1e-10 T = 1e5 fT per nA·µm/µm²
FIELD_FT = 1e5


def sarvas_field(p, r_p, r) -> np.ndarray:
    r"""Magnetic field B (fT) at positions ``r`` (n, 3) µm outside a spherically
    symmetric conductor centred at the origin, of a current dipole ``p`` (3,) nA·µm
    at ``r_p`` (3,) µm inside it (Sarvas 1987, Phys Med Biol 32:11, eq. 25):

    .. math::
        \mathbf{B} = \frac{\mu_0}{4\pi F^2}\left(F\,\mathbf{p}\times\mathbf{r}_p
            - (\mathbf{p}\times\mathbf{r}_p\cdot\mathbf{r})\,\nabla F\right),\quad
        F = a(ra + r^2 - \mathbf{r}_p\cdot\mathbf{r}),

        \nabla F = (a^2/r + \mathbf{a}\cdot\mathbf{r}/a + 2a + 2r)\,\mathbf{r}
            - (a + 2r + \mathbf{a}\cdot\mathbf{r}/a)\,\mathbf{r}_p,

    with :math:`\mathbf{a} = \mathbf{r} - \mathbf{r}_p`, a = |a|, r = |r|. It does not
    depend on the conductivities; a radial dipole (p ∥ r_p) gives zero. Shape (n, 3).

    Parameters
    ----------
    p : array_like of float
        The dipole moment (3,) (nA·µm).
    r_p : array_like of float
        The dipole's position (3,) inside the sphere (µm).
    r : array_like of float
        Positions (n, 3) outside the sphere where the field is computed (µm).

    Returns
    -------
    numpy.ndarray
        The field (n, 3) (fT).
    """
    p = np.asarray(p, dtype=float)
    r_p = np.asarray(r_p, dtype=float)
    r = np.atleast_2d(np.asarray(r, dtype=float))
    a = r - r_p
    an = np.linalg.norm(a, axis=1)
    rn = np.linalg.norm(r, axis=1)
    ar = np.einsum("ij,ij->i", a, r)
    F = an * (rn * an + rn**2 - r @ r_p)
    grad = (an**2 / rn + ar / an + 2 * an + 2 * rn)[:, None] * r - (an + 2 * rn + ar / an)[
        :, None
    ] * r_p[None, :]
    q = np.cross(p, r_p)
    return FIELD_FT * (F[:, None] * q[None, :] - (r @ q)[:, None] * grad) / (F**2)[:, None]


def biot_savart_field(p, r_p, r) -> np.ndarray:
    r"""Magnetic field B (fT) at positions ``r`` (n, 3) µm of a current dipole ``p``
    (3,) nA·µm at ``r_p`` (3,) µm in an infinite homogeneous medium (the dipole's own
    field; the volume currents add none): :math:`\mathbf{B} = \mu_0/4\pi\,
    \mathbf{p}\times\mathbf{R}/R^3`, R = r − r_p. Shape (n, 3).

    Parameters
    ----------
    p : array_like of float
        The dipole moment (3,) (nA·µm).
    r_p : array_like of float
        The dipole's position (3,) (µm).
    r : array_like of float
        Positions (n, 3) where the field is computed (µm).

    Returns
    -------
    numpy.ndarray
        The field (n, 3) (fT).
    """
    R = np.atleast_2d(np.asarray(r, dtype=float)) - np.asarray(r_p, dtype=float)
    Rn = np.linalg.norm(R, axis=1)
    return FIELD_FT * np.cross(np.asarray(p, dtype=float), R) / (Rn**3)[:, None]


def column_rotation(axis) -> np.ndarray:
    """The rotation (3 × 3) that takes the z axis onto the unit vector ``axis`` by the
    smallest angle (about ẑ × axis); the identity for the z axis itself, a half turn
    about x for −z.

    Parameters
    ----------
    axis : array_like of float
        The column's axis (3,) (a direction; any length).

    Returns
    -------
    numpy.ndarray
        The rotation matrix (3, 3) (dimensionless).
    """
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    c = float(a[2])
    v = np.array([-a[1], a[0], 0.0])  # ẑ × a
    s = float(np.linalg.norm(v))
    if s < 1e-15:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = v / s
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * K + (1 - c) * (K @ K)


class MEGField(LinearProbe):
    r"""MEG (fT) at sensors from the current dipole moment (:class:`~lfpk_hpc.params.MEGProbe`).

    The kernel dipole is :math:`P_z = \sum_n z_n I_n` (z_n segment midpoints, µm) along
    the column axis â, at :math:`\mathbf{r}_p = (0, 0, r_\mathrm{brain}) + z_d\,\hat a`
    with z_d the soma depth (:meth:`~lfpk_hpc.probes.FourSphereEEG.soma_depth`). With b_s the field
    (fT per nA·µm) of a unit dipole along â there, measured along sensor s's axis
    n_s (:func:`sarvas_field` or :func:`biot_savart_field`),

    .. math:: M_{sn} = b_s\, z_n, \qquad B_s = M I = b_s P_z .

    b_s is computed once per dipole location and cached.

    Parameters
    ----------
    name : str
        The probe's name.
    sensors : sequence of (float, float, float), optional
        Sensor positions, head centre at the origin (µm).
    orientations : sequence of (float, float, float), optional
        Each sensor's axis (a direction); None: radial.
    head : str, optional
        ``"sphere"`` or ``"infinite"``.
    brain_radius : float, optional
        Radius of the brain sphere, where the cortical surface lies (µm).
    column_axis : (float, float, float), optional
        Direction of the cortical column's axis in the head (a direction).
    """

    units = MEG_UNITS

    def __init__(
        self,
        name: str,
        sensors=MEGProbe.__dataclass_fields__["sensors"].default,
        orientations=None,
        head: str = "sphere",
        brain_radius: float = 79000.0,
        column_axis=(1.0, 0.0, 0.0),
    ):
        super().__init__(name)
        self.spec = MEGProbe(name, sensors, orientations, head, brain_radius, column_axis)
        self.sensors, self.orientations, self.axis = meg_geometry(self.spec)
        self.column_axis = self.axis
        self.head = head
        self.brain_radius = float(brain_radius)
        self._b: dict[tuple, np.ndarray] = {}

    @property
    def n_channels(self) -> int:
        return self.sensors.shape[0]

    def dipole_location(self, geometry: SegmentGeometry) -> np.ndarray:
        """(0, 0, brain_radius) + z_d·â (µm), the dipole's position in the head.

        Parameters
        ----------
        geometry : SegmentGeometry
            The cell's segments (µm).

        Returns
        -------
        numpy.ndarray
            The dipole's position (3,) (µm).
        """
        return meg_dipole_location(self.spec, FourSphereEEG.soma_depth(geometry))

    def field(self, p, location) -> np.ndarray:
        """B (fT), shape (sensors, 3), of a dipole ``p`` (nA·µm) at ``location`` (µm).

        Parameters
        ----------
        p : array_like of float
            The dipole moment (3,) (nA·µm).
        location : array_like of float
            The dipole's position (3,) (µm).

        Returns
        -------
        numpy.ndarray
            The field at each sensor (sensors, 3) (fT).
        """
        rule = sarvas_field if self.head == "sphere" else biot_savart_field
        return rule(p, location, self.sensors)

    def b_axis(self, location) -> np.ndarray:
        """Field (fT) along each sensor's axis of a unit dipole (1 nA·µm) along the
        column axis at ``location`` (µm), shape (sensors,).

        Parameters
        ----------
        location : array_like of float
            The dipole's position (3,) (µm).

        Returns
        -------
        numpy.ndarray
            Field along each sensor's axis per unit dipole (fT per nA·µm).

        Raises
        ------
        ValueError
            The location is not inside the head.
        """
        location = np.asarray(location, dtype=float)
        key = tuple(location.tolist())
        if key not in self._b:
            problem = check_meg_location(self.spec, location, "the population")
            if problem is not None:
                raise ValueError(f"MEG probe {self.name!r}: {problem}")
            B = self.field(self.axis, location)
            self._b[key] = np.einsum("ij,ij->i", B, self.orientations)
        return self._b[key]

    def get_transformation_matrix(self, geometry: SegmentGeometry) -> np.ndarray:
        """The matrix (sensors, n_seg) from membrane currents (nA) to the field (fT).

        Parameters
        ----------
        geometry : SegmentGeometry
            The cell's segments (µm).

        Returns
        -------
        numpy.ndarray
            The matrix, in fT per nA.
        """
        b = self.b_axis(self.dipole_location(geometry))
        return b[:, None] * geometry.z_mid[None, :]


def meg_unit_fields(probe: MEGField, location) -> np.ndarray:
    """Field (fT) along each sensor's axis of unit dipoles (1 nA·µm) along the column's
    x, y and z axes (the cell's frame, turned by :func:`column_rotation` into the
    head), at ``location`` (µm, head coordinates): shape (sensors, 3).

    Parameters
    ----------
    probe : MEGField
        The MEG probe.
    location : array_like of float
        The dipoles' position in the head (3,) (µm).

    Returns
    -------
    numpy.ndarray
        Field per unit dipole (sensors, 3) (fT per nA·µm).
    """
    rot = column_rotation(probe.axis)
    return np.stack(
        [
            np.einsum("ij,ij->i", probe.field(rot[:, k], location), probe.orientations)
            for k in range(3)
        ],
        axis=1,
    )


def meg_cell_location(probe: MEGField, position) -> np.ndarray:
    """Where a cell at ``position`` (x, y, z) µm of the column (surface z = 0) sits in
    the head: (0, 0, brain_radius) + R·position, R the column's rotation; for the
    radial axis (x, y, brain_radius + z), as the EEG probe places cells.

    Parameters
    ----------
    probe : MEGField
        The MEG probe.
    position : array_like of float
        The cell's position (x, y, z) in the column (µm).

    Returns
    -------
    numpy.ndarray
        The position in the head (3,) (µm).
    """
    return np.array([0.0, 0.0, probe.brain_radius]) + column_rotation(probe.axis) @ np.asarray(
        position, dtype=float
    )


# --------------------------------------------------------------------------- CSD


def _clip01(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.maximum(lo, 0.0), np.minimum(hi, 1.0)


def cylinder_fractions(x, y, z, z_lo, z_hi, r) -> np.ndarray:
    """Fraction of each segment's length inside each cylinder about the z axis, shape
    (cylinders, segments): ``x``, ``y``, ``z`` the segments' end points (segments, 2)
    µm; cylinder i spans z_lo[i] ≤ z < z_hi[i] and distances ≤ r[i] (µm) from the
    axis. Exact for straight segments (the parameter interval of the segment inside
    the slab intersected with the one inside the radius, a quadratic); a segment of
    zero length counts as a point.

    Parameters
    ----------
    x, y, z : array_like of float
        The segments' end points, shape (segments, 2) each (µm).
    z_lo : array_like of float
        Lower bound of each cylinder (µm).
    z_hi : array_like of float
        Upper bound of each cylinder (µm).
    r : array_like of float
        Radius of each cylinder (µm).

    Returns
    -------
    numpy.ndarray
        Fractions (cylinders, segments) (dimensionless).
    """
    x, y, z = (np.asarray(v, dtype=float) for v in (x, y, z))
    z_lo, z_hi, r = (np.asarray(v, dtype=float)[:, None] for v in (z_lo, z_hi, r))
    z0, dz = z[None, :, 0], (z[:, 1] - z[:, 0])[None, :]
    # the slab: z0 + t·dz within [z_lo, z_hi)
    flat = dz == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ta, tb = (z_lo - z0) / dz, (z_hi - z0) / dz
    t_lo = np.where(flat, np.where((z_lo <= z0) & (z0 < z_hi), 0.0, 1.0), np.minimum(ta, tb))
    t_hi = np.where(flat, np.where((z_lo <= z0) & (z0 < z_hi), 1.0, 0.0), np.maximum(ta, tb))
    # the radius: |q0 + t·d|² <= r², q the xy-components
    qx, qy = x[:, 0][None, :], y[:, 0][None, :]
    dx, dy = (x[:, 1] - x[:, 0])[None, :], (y[:, 1] - y[:, 0])[None, :]
    A = dx**2 + dy**2
    B = 2 * (qx * dx + qy * dy)
    C = qx**2 + qy**2 - r**2
    disc = B**2 - 4 * A * C
    vertical = A == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.maximum(disc, 0.0))
        ra, rb = (-B - root) / (2 * A), (-B + root) / (2 * A)
    inside = C <= 0
    r_lo = np.where(vertical, np.where(inside, 0.0, 1.0), np.where(disc >= 0, ra, 1.0))
    r_hi = np.where(vertical, np.where(inside, 1.0, 0.0), np.where(disc >= 0, rb, 0.0))
    lo, hi = _clip01(np.maximum(t_lo, r_lo), np.minimum(t_hi, r_hi))
    # (a point, dz = 0 and A = 0, gets [0, 1] from both when inside: fraction 1)
    return np.maximum(hi - lo, 0.0)


class LaminarCSD(LinearProbe):
    r"""Laminar current source density (µA/mm³) in cylinders about the z axis
    (:class:`~lfpk_hpc.params.LaminarCSDProbe`; LFPykit's
    ``LaminarCurrentSourceDensity``).

    Cylinder i spans z_i − h/2 ≤ z < z_i + h/2 and radius r, volume
    :math:`V = \pi r^2 h`. A segment's current is spread uniformly along it, so with
    :math:`f_{in}` the fraction of segment n's length inside cylinder i
    (:func:`cylinder_fractions`),

    .. math:: M_{in} = 10^6\, f_{in} / V_i

    (nA/µm³ → µA/mm³: 1 nA/µm³ = 1e6 µA/mm³). LFPykit counts only the segments with
    an end point inside a cylinder (and the part inside it from that end point); a
    segment that crosses a whole cylinder, longer than its height, counts there too
    here. Where no segment is longer than the cylinders' height and the segments run
    radially or stay within the radius (the kernels' cells), the two agree.

    Parameters
    ----------
    name : str
        The probe's name.
    z : array_like of float
        Depths of the cylinders' centres (µm).
    h : float, optional
        Height of each cylinder (µm); None: the mean spacing of ``z``.
    r : float, optional
        Radius of the cylinders (µm); None: the population's radius.
    """

    units = CSD_UNITS

    def __init__(self, name: str, z, h: float | None = None, r: float | None = None):
        super().__init__(name)
        spec = LaminarCSDProbe(name, tuple(np.asarray(z, dtype=float).ravel().tolist()), h, r)
        self.z, self.h = csd_cylinders(spec)
        self.r = None if r is None else float(r)

    @property
    def n_channels(self) -> int:
        return self.z.size

    def for_population(self, geometry) -> LaminarCSD:
        """With no radius of its own: the probe with the population's radius (µm).

        Parameters
        ----------
        geometry : Geometry
            The population's geometry (params ``Geometry``; its radius in µm).

        Returns
        -------
        LaminarCSD
            The probe with a radius.
        """
        if self.r is not None:
            return self
        return LaminarCSD(self.name, self.z, self.h, float(geometry.radius))

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper z (µm) of each cylinder."""
        return self.z - 0.5 * self.h, self.z + 0.5 * self.h

    def get_transformation_matrix(self, geometry: SegmentGeometry) -> np.ndarray:
        """The matrix (cylinders, n_seg) from membrane currents (nA) to the CSD (µA/mm³).

        Parameters
        ----------
        geometry : SegmentGeometry
            The cell's segments (µm).

        Returns
        -------
        numpy.ndarray
            The matrix, in µA/mm³ per nA.

        Raises
        ------
        ValueError
            The probe has no radius.
        """
        if self.r is None:
            raise ValueError(
                f"CSD probe {self.name!r} has no radius: give r, or take it from the "
                "population (for_population)"
            )
        lo, hi = self.edges()
        r = np.full(self.z.size, self.r)
        f = cylinder_fractions(geometry.x, geometry.y, geometry.z, lo, hi, r)
        volume = np.pi * self.r**2 * self.h  # µm³
        return 1e6 * f / volume
