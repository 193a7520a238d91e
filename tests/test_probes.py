"""Forward models against analytic results and adaptive quadrature."""

import numpy as np
import pytest
import scipy.integrate as si
from conftest import LFPYKERNELS_HINT, need_module

from lfpk_hpc.probes import CurrentDipoleMoment, GaussCylinderPotential, SegmentGeometry


def sticks(z_edges):
    """Segments along the z-axis between consecutive ``z_edges`` (µm)."""
    z = np.c_[z_edges[:-1], z_edges[1:]].astype(float)
    n = z.shape[0]
    return SegmentGeometry(x=np.zeros((n, 2)), y=np.zeros((n, 2)), z=z, d=np.ones(n))


def test_dipole_of_three_segments():
    # LFPykernels' test: imem [[-1, 1], [0, 0], [1, -1]] on segments z 0-1, 1-2, 2-3
    M = CurrentDipoleMoment("cdm").get_transformation_matrix(sticks(np.arange(4)))
    imem = np.array([[-1.0, 1.0], [0.0, 0.0], [1.0, -1.0]])
    np.testing.assert_array_equal(M @ imem, [[0, 0], [0, 0], [2, -2]])


def test_dipole_independent_of_translation_for_balanced_currents():
    rng = np.random.default_rng(3)
    imem = rng.normal(size=(5, 7))
    imem -= imem.mean(axis=0)  # Kirchhoff: currents of a cell sum to zero
    cdm = CurrentDipoleMoment("cdm")
    P0 = cdm.get_transformation_matrix(sticks(np.arange(6.0))) @ imem
    P1 = cdm.get_transformation_matrix(sticks(np.arange(6.0) - 200.0)) @ imem
    np.testing.assert_allclose(P0, P1, rtol=0, atol=1e-12)


def _quad_reference(probe, z_mid):
    """The defining integral with scipy.integrate.quad (tight tolerances), split at
    the kink and truncated at ±12 sigma_z, where the Gaussian is below 1e-31."""
    R, s, sigma = probe.R, probe.sigma_z, probe.sigma
    L = 12 * s

    def integrand(z, delta):
        u = delta - z
        return (
            (np.sqrt(u * u + R * R) - abs(u))
            / (2 * sigma)
            * np.exp(-0.5 * (z / s) ** 2)
            / (s * np.sqrt(2 * np.pi))
        )

    M = np.empty((probe.z.size, z_mid.size))
    for j, ze in enumerate(probe.z):
        for i, zi in enumerate(z_mid):
            d = ze - zi
            pts = [d] if -L < d < L else None
            M[j, i] = si.quad(
                integrand, -L, L, args=(d,), points=pts, epsabs=0, epsrel=1e-13, limit=2000
            )[0]
    return M / (np.pi * R**2)


@pytest.mark.parametrize("rule", ["direct", "tabulated"])
@pytest.mark.parametrize(
    "R,sigma_z", [(150.0, 75.0), (564.19, 25.0), (5.0, 300.0), (100.0, 50.0)], ids=str
)
def test_gauss_cylinder_agrees_with_quad(R, sigma_z, rule):
    rng = np.random.default_rng(1)
    z_mid = np.concatenate([rng.uniform(-300, 1100, 25), [0.0, 1000.0, -200.0]])
    geom = SegmentGeometry(
        x=np.zeros((z_mid.size, 2)),
        y=np.zeros((z_mid.size, 2)),
        z=np.c_[z_mid - 0.5, z_mid + 0.5],
        d=np.ones(z_mid.size),
    )
    probe = GaussCylinderPotential("lfp", np.linspace(1000, -200, 13), 0.3, R, sigma_z)
    # large cells (many distinct distances) take the Chebyshev table: force it here
    probe._TABLE_MIN = 1 if rule == "tabulated" else 10**9
    M = probe.get_transformation_matrix(geom)
    ref = _quad_reference(probe, z_mid)
    assert np.max(np.abs(M - ref) / np.abs(ref)) < 1e-9


def test_gauss_cylinder_equals_lfpykernels_matrix():
    lfpykernels = need_module("lfpykernels", LFPYKERNELS_HINT)
    import lfpykit

    z_mid = np.linspace(-215, 1015, 27)
    geom = SegmentGeometry(
        x=np.zeros((27, 2)), y=np.zeros((27, 2)), z=np.c_[z_mid - 1, z_mid + 1], d=np.ones(27)
    )
    ours = GaussCylinderPotential("lfp", np.linspace(1000, -200, 13), 0.3, 150.0, 75.0)
    cell = lfpykit.CellGeometry(x=geom.x, y=geom.y, z=geom.z, d=geom.d)
    ref = lfpykernels.GaussCylinderPotential(
        cell=cell, z=np.linspace(1000, -200, 13), sigma=0.3, R=150.0, sigma_z=75.0
    )
    M_ref = ref.get_transformation_matrix()
    # LFPykernels integrates with quad's default tolerance (1.5e-8)
    assert np.max(np.abs(ours.get_transformation_matrix(geom) - M_ref) / np.abs(M_ref)) < 1e-7


def test_gauss_cylinder_approaches_point_source():
    # small R and sigma_z: a point current source, phi = I / (4 pi sigma |dz|);
    # the deviation shrinks as (size / distance)^2
    z_mid = np.array([-300.0, -50.0, 20.0, 250.0])
    geom = SegmentGeometry(
        x=np.zeros((4, 2)), y=np.zeros((4, 2)), z=np.c_[z_mid, z_mid], d=np.ones(4)
    )
    contacts = np.array([-400.0, 0.0, 400.0])
    dz = np.abs(contacts[:, None] - z_mid[None, :])
    point = 1.0 / (4 * np.pi * 0.3 * dz)  # nA / (S/m * µm) = mV
    errors = []
    for size in (0.1, 0.01):
        probe = GaussCylinderPotential("lfp", contacts, 0.3, size, size)
        M = probe.get_transformation_matrix(geom)
        errors.append(np.max(np.abs(M - point) / point))
    assert errors[0] < 1e-4
    assert errors[1] < errors[0] / 50


def test_gauss_cylinder_shift_invariance():
    # shifting sources and contacts together leaves the matrix unchanged
    z_mid = np.linspace(-200, 900, 12)
    g0 = SegmentGeometry(x=None, y=None, z=np.c_[z_mid, z_mid], d=None)
    g1 = SegmentGeometry(x=None, y=None, z=np.c_[z_mid, z_mid] - 200.0, d=None)
    p0 = GaussCylinderPotential("lfp", np.linspace(1000, -200, 13), 0.3, 150.0, 75.0)
    p1 = GaussCylinderPotential("lfp", np.linspace(1000, -200, 13) - 200.0, 0.3, 150.0, 75.0)
    np.testing.assert_allclose(
        p0.get_transformation_matrix(g0), p1.get_transformation_matrix(g1), rtol=1e-12
    )


@pytest.mark.parametrize(
    "R,sigma_z", [(564.19, 25.0), (5.0, 300.0), (0.1, 0.1), (1000.0, 5.0)], ids=str
)
def test_gauss_cylinder_table_equals_direct_integration(R, sigma_z):
    # a detailed cell: thousands of distinct distances, interpolated from the table
    rng = np.random.default_rng(2)
    z_mid = rng.uniform(-1500, 300, 3000)
    geom = SegmentGeometry(x=None, y=None, z=np.c_[z_mid, z_mid], d=None)
    probe = GaussCylinderPotential("lfp", np.arange(0.0, -1501.0, -100.0), 0.3, R, sigma_z)
    M = probe.get_transformation_matrix(geom)
    probe._TABLE_MIN = 10**9
    direct = probe.get_transformation_matrix(geom)
    assert np.max(np.abs(M - direct) / np.abs(direct)) < 1e-13
