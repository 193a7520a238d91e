"""The MEG and CSD probes against LFPykit, analytic results and LFPykernels' own
simulation of the same kernel cell; their params through the real CLI.

Units: B = μ0/4π p × R/R³ with p in nA·µm and R in µm is 1e-7 T·m/A × 1e-9 A × 1e-6 m
/ 1e-12 m² = 1e-10 T = 1e5 fT per nA·µm/µm²; LFPykit's H = B/μ0 is in nA/µm = 1e-3 A/m,
so B (fT) = 4π·1e-7 × 1e-3 × 1e15 × H = 4π·1e5 × H. The CSD: LFPykit's nA/µm³ =
1e6 µA/mm³.
"""

from __future__ import annotations

import dataclasses
import subprocess
import warnings

import h5py
import numpy as np
import pytest
from conftest import README_PARAMS, lfpk, rel_diff
from lfpykernels_reference import CSD_H, CSD_R, CSD_Z
from lfpykit import CellGeometry, LaminarCurrentSourceDensity
from lfpykit.eegmegcalc import InfiniteHomogeneousVolCondMEG, SphericallySymmetricVolCondMEG

from lfpk_hpc.kernel import KernelEngine
from lfpk_hpc.params import LaminarCSDProbe, MEGProbe, ParamsError, validate
from lfpk_hpc.probes import (
    LaminarCSD,
    MEGField,
    SegmentGeometry,
    biot_savart_field,
    column_rotation,
    cylinder_fractions,
    make_probe,
    sarvas_field,
)

H_TO_FT = 4 * np.pi * 1e-7 * 1e-3 * 1e15  # LFPykit's H (nA/µm) -> B (fT)


def _random_sensors(rng, n, radius=100000.0):
    s = rng.normal(size=(n, 3))
    return radius * s / np.linalg.norm(s, axis=1)[:, None]


# --------------------------------------------------------------------------- MEG


@pytest.mark.parametrize("head", ["sphere", "infinite"])
def test_field_equals_lfpykit_for_single_dipoles(head):
    rng = np.random.default_rng(3)
    sensors = _random_sensors(rng, 9)
    for _ in range(4):
        r_p = rng.normal(size=3) * 3000 + np.array([0, 0, 76000.0])
        p = rng.normal(size=3) * 1e4  # nA·µm
        if head == "sphere":
            ref = SphericallySymmetricVolCondMEG(sensors).calculate_H(p[:, None], r_p)[..., 0]
            B = sarvas_field(p, r_p, sensors)
        else:
            ref = InfiniteHomogeneousVolCondMEG(sensors).calculate_H(p[:, None], r_p)[..., 0]
            B = biot_savart_field(p, r_p, sensors)
        assert B.shape == ref.shape == (9, 3)
        np.testing.assert_allclose(B, H_TO_FT * ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


def test_radial_dipole_has_no_field_outside_a_sphere_and_the_units_are_ft():
    """Sarvas (1987): a radial dipole in a spherically symmetric conductor has no
    magnetic field outside it; the infinite medium's field of 1 nA·m at 2 cm, at right
    angles, is μ0/4π · 1e-9 A·m / (0.02 m)² = 2.5e-13 T = 250 fT."""
    rng = np.random.default_rng(4)
    sensors = _random_sensors(rng, 12)
    r_p = np.array([2000.0, -1000.0, 77000.0])
    assert np.abs(sarvas_field(5e5 * r_p / np.linalg.norm(r_p), r_p, sensors)).max() < 1e-9
    assert np.abs(sarvas_field(np.array([5e5, 0, 0]), r_p, sensors)).max() > 10.0
    B = biot_savart_field(np.array([1e6, 0.0, 0.0]), np.zeros(3), np.array([[0, 0, 2e4]]))
    np.testing.assert_allclose(B, [[0.0, -250.0, 0.0]], rtol=1e-12)


def test_column_rotation_takes_z_to_the_axis():
    for axis in ([1, 0, 0], [0, 0, 1], [0, 0, -1], [0.3, -0.4, 0.5], [0, 1, 1e-20]):
        R = column_rotation(axis)
        a = np.asarray(axis, float) / np.linalg.norm(axis)
        np.testing.assert_allclose(R @ [0, 0, 1], a, atol=1e-15)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-15)
        assert np.linalg.det(R) == pytest.approx(1.0)


def _cell():
    """Soma at z = -800 µm, a basal and an apical dendrite (the EEG tests' cell)."""
    z = np.array(
        [[-810, -790], [-810, -900], [-900, -1000], [-790, -500], [-500, -200], [-200, -50]],
        dtype=float,
    )
    return SegmentGeometry(
        x=np.zeros((6, 2)),
        y=np.zeros((6, 2)),
        z=z,
        d=np.ones(6),
        section=("soma", "dend", "dend", "apic", "apic", "apic"),
    )


@pytest.mark.parametrize("axis", [(1.0, 0.0, 0.0), (0.0, 0.6, 0.8)])
@pytest.mark.parametrize("head", ["sphere", "infinite"])
def test_matrix_is_lfpykit_field_of_the_dipole_along_the_column(axis, head):
    """B = M @ imem is LFPykit's field of p = P_z â at (0, 0, r_brain) + z_soma â,
    along each sensor's axis."""
    rng = np.random.default_rng(5)
    sensors = _random_sensors(rng, 5)
    orient = rng.normal(size=(5, 3))
    probe = MEGField("meg", sensors, orient, head, 79000.0, axis)
    cell = _cell()
    imem = rng.normal(size=(cell.n_seg, 30))
    imem -= imem.mean(axis=0)
    B = probe.get_transformation_matrix(cell) @ imem

    a = np.asarray(axis) / np.linalg.norm(axis)
    r_p = np.array([0.0, 0.0, 79000.0]) + (-800.0) * a
    P = np.outer(a, cell.z_mid @ imem)  # (3, t)
    model = SphericallySymmetricVolCondMEG if head == "sphere" else InfiniteHomogeneousVolCondMEG
    H = model(sensors).calculate_H(P, r_p)  # (sensors, 3, t)
    n = orient / np.linalg.norm(orient, axis=1)[:, None]
    ref = H_TO_FT * np.einsum("sc,sct->st", n, H)
    np.testing.assert_allclose(B, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    assert np.abs(ref).max() > 0


def test_radial_column_in_a_sphere_gives_exact_zeros_and_default_orientation_is_radial():
    probe = MEGField("meg", column_axis=(0.0, 0.0, 1.0))
    assert np.abs(probe.get_transformation_matrix(_cell())).max() < 1e-9
    default = make_probe(MEGProbe("meg"))
    np.testing.assert_allclose(
        default.orientations, default.sensors / np.linalg.norm(default.sensors)
    )
    assert default.units == "fT" and default.n_channels == 1
    assert np.abs(default.get_transformation_matrix(_cell())).max() > 0


# --------------------------------------------------------------------------- CSD


def _random_segments(rng, n, lmax):
    start = np.c_[rng.uniform(-300, 300, (n, 2)), rng.uniform(-1500, 0, n)]
    d = rng.normal(size=(n, 3))
    end = start + d / np.linalg.norm(d, axis=1)[:, None] * rng.uniform(0, lmax, n)[:, None]
    return (
        np.c_[start[:, 0], end[:, 0]],
        np.c_[start[:, 1], end[:, 1]],
        np.c_[start[:, 2], end[:, 2]],
    )


def test_cylinder_fractions_equal_dense_sampling():
    """Every segment crossing slabs and the radius: the fractions against 20000 points
    along each segment."""
    rng = np.random.default_rng(6)
    x, y, z = _random_segments(rng, 60, 400.0)
    lo = -100.0 * np.arange(16) - 50
    hi, r = lo + 100.0, np.full(16, 250.0)
    f = cylinder_fractions(x, y, z, lo, hi, r)
    t = (np.arange(20000) + 0.5) / 20000
    px = x[:, :1] + t * (x[:, 1:] - x[:, :1])
    py = y[:, :1] + t * (y[:, 1:] - y[:, :1])
    pz = z[:, :1] + t * (z[:, 1:] - z[:, :1])
    inside = (np.hypot(px, py)[None] <= r[:, None, None]) & (
        (pz[None] >= lo[:, None, None]) & (pz[None] < hi[:, None, None])
    )
    np.testing.assert_allclose(f, inside.mean(axis=2), atol=2e-4)
    assert ((f > 0).sum(axis=0) >= 2).sum() >= 10  # segments in several cylinders
    assert (0 < f.sum(axis=0)).sum() > (f.sum(axis=0) > 1 - 1e-12).sum() + 5  # partly outside


def test_csd_equals_lfpykit_where_segments_are_shorter_than_the_cylinders():
    """LFPykit counts a segment's part inside a cylinder from an end point inside it;
    for segments shorter than the cylinders and within their radius (the kernels'
    cells) that is every part, and the matrices agree to rounding."""
    rng = np.random.default_rng(7)
    x, y, z = _random_segments(rng, 400, 40.0)
    keep = (np.hypot(x, y) < 240).all(axis=1)
    x, y, z = x[keep], y[keep], z[keep]
    zc = -100.0 * np.arange(16)
    M = LaminarCSD("csd", zc, 100.0, 250.0).get_transformation_matrix(
        SegmentGeometry(x, y, z, np.ones(len(z)))
    )
    geom = CellGeometry(x=x, y=y, z=z, d=np.ones(len(z)))
    with warnings.catch_warnings():  # its advice to use segments shorter than the bins
        warnings.simplefilter("ignore", UserWarning)
        ref = LaminarCurrentSourceDensity(
            geom, z=np.c_[zc - 50, zc + 50], r=np.full(16, 250.0)
        ).get_transformation_matrix()
    assert rel_diff(M, 1e6 * ref) < 1e-12


def test_a_segment_through_a_whole_cylinder_counts_there():
    """One vertical segment from z = -250 to -50 µm with 1 nA: 1/4 of it lies in
    [-250, -200), 1/2 in [-200, -100), 1/4 in [-100, 0): CSD = fraction / (π r² h)
    (LFPykit gives 0 in the middle one, which neither end point lies in)."""
    geo = SegmentGeometry(
        np.zeros((1, 2)), np.zeros((1, 2)), np.array([[-250.0, -50.0]]), np.ones(1)
    )
    probe = LaminarCSD("csd", [-50.0, -150.0, -250.0], 100.0, 100.0)
    M = probe.get_transformation_matrix(geo)[:, 0]
    V = np.pi * 100.0**2 * 100.0  # µm³
    np.testing.assert_allclose(M, 1e6 * np.array([0.5, 1.0, 0.5]) / 2 / V, rtol=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LaminarCurrentSourceDensity(
            CellGeometry(x=geo.x, y=geo.y, z=geo.z, d=geo.d),
            z=np.array([[-100.0, 0], [-200, -100], [-300, -200]]),
            r=np.full(3, 100.0),
        ).get_transformation_matrix()[:, 0]
    assert ref[1] == 0 and M[1] > 0


def test_csd_radius_defaults_to_the_population():
    probe = make_probe(LaminarCSDProbe("csd", z=(0.0, -100.0, -200.0)))
    assert probe.h == 100.0 and probe.r is None and probe.units == "µA/mm³"
    with pytest.raises(ValueError, match="no radius"):
        probe.get_transformation_matrix(_cell())

    @dataclasses.dataclass
    class G:
        radius: float

    assert probe.for_population(G(564.0)).r == 564.0


# --------------------------------------------------------------------------- kernels


@pytest.fixture(scope="module")
def readme_meg_csd(readme_model):
    model = validate(
        dataclasses.replace(
            readme_model,
            probes=readme_model.probes
            + (
                MEGProbe("meg"),
                MEGProbe("meg_inf", head="infinite", column_axis=(0.6, 0.0, 0.8)),
                LaminarCSDProbe("csd", z=tuple(CSD_Z), h=CSD_H),
            ),
        )
    )
    engine = KernelEngine(model)
    return model, {X: engine.compute(X, "E").kernels for X in ("E", "I")}


@pytest.mark.parametrize("X", ["E", "I"])
def test_csd_kernels_equal_lfpykit_in_lfpykernels(readme_meg_csd, lfpykernels_reference, X):
    """The CSD kernels equal LFPykernels' kernels of LFPykit's
    LaminarCurrentSourceDensity (same cell, its own simulation), in µA/mm³; the
    cylinders cover the cell, so its currents sum to zero over them at every lag."""
    _model, kernels = readme_meg_csd
    H = kernels[X]["csd"]
    ref = 1e6 * lfpykernels_reference[f"readme/{X}/csd"]
    assert H.shape == ref.shape == (13, 1601)
    assert rel_diff(H, ref) < 1e-6
    z = lfpykernels_reference["readme/z"]
    assert z.min() >= CSD_Z.min() - CSD_H / 2 and z.max() < CSD_Z.max() + CSD_H / 2
    assert np.abs((H * np.pi * CSD_R**2 * CSD_H).sum(axis=0)).max() < 1e-9 * np.abs(H).max() * (
        np.pi * CSD_R**2 * CSD_H
    )


@pytest.mark.parametrize("X", ["E", "I"])
def test_meg_kernels_are_lfpykit_fields_of_the_lfpykernels_dipole(
    readme_meg_csd, lfpykernels_reference, X
):
    """The MEG kernel equals LFPykit's field (Sarvas; infinite medium) of LFPykernels'
    dipole kernel along the column at (0, 0, r_brain) + z_soma â, in fT per spike."""
    model, kernels = readme_meg_csd
    P = lfpykernels_reference[f"readme/{X}/cdm"][2]  # nA·µm
    z_soma = float(lfpykernels_reference["readme/z"][0].mean())  # the soma is segment 0
    for name, cls in (("meg", SphericallySymmetricVolCondMEG), ("meg_inf", None)):
        spec = next(p for p in model.probes if p.name == name)
        a = np.asarray(spec.column_axis) / np.linalg.norm(spec.column_axis)
        r_p = np.array([0.0, 0.0, spec.brain_radius]) + z_soma * a
        sensors = np.asarray(spec.sensors)
        n = sensors / np.linalg.norm(sensors, axis=1)[:, None]
        cls = cls or InfiniteHomogeneousVolCondMEG
        H_unit = cls(sensors).calculate_H(a[:, None], r_p)[:, :, 0]  # (sensors, 3)
        ref = H_TO_FT * np.einsum("sc,sc->s", n, H_unit)[:, None] * P[None, :]
        assert np.abs(ref).max() > 0
        assert rel_diff(kernels[X][name], ref) < 1e-6, name


def test_kernels_file_has_meg_and_csd_with_units(tmp_path):
    params = tmp_path / "p.py"
    params.write_text(
        "import dataclasses, importlib.util\n"
        "from lfpk_hpc.params import LaminarCSDProbe, MEGProbe\n"
        f"spec = importlib.util.spec_from_file_location('r', {str(README_PARAMS)!r})\n"
        "r = importlib.util.module_from_spec(spec); spec.loader.exec_module(r)\n"
        "model = dataclasses.replace(r.model, probes=r.model.probes + (MEGProbe('meg'), "
        "LaminarCSDProbe('csd', z=(900.0, 800.0, 700.0, 600.0))))\n"
    )
    out = tmp_path / "k.h5"
    proc = subprocess.run(lfpk(params, "--out", out), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "meg (1 channels, fT)" in proc.stdout and "csd (4 channels, µA/mm³)" in proc.stdout
    with h5py.File(out, "r") as f:
        assert f["kernels/meg/E/I"].attrs["units"] == "fT"
        assert f["kernels/csd/E/I"].shape == (4, 1601)
        assert f["kernels/csd/E/I"].attrs["units"] == "µA/mm³"
        np.testing.assert_allclose(f["probes/csd/z"][...], [900, 800, 700, 600])
        assert f["probes/csd"].attrs["h"] == 100.0
        assert f["probes/meg"].attrs["head"] == "sphere"
        np.testing.assert_allclose(f["probes/meg"].attrs["column_axis"], [1, 0, 0])


# --------------------------------------------------------------------------- params


@pytest.mark.parametrize(
    "probe, message",
    [
        (MEGProbe("meg", head="flat"), "probes[meg].head = 'flat' is invalid: allowed"),
        (
            MEGProbe("meg", sensors=((0.0, 0.0, 70000.0),)),
            "probes[meg].sensors = ((0.0, 0.0, 70000.0),) is invalid: sensor 0",
        ),
        (
            MEGProbe("meg", orientations=((0.0, 0.0, 0.0),)),
            "probes[meg].orientations[0] = (0.0, 0.0, 0.0) is invalid: must not be zero",
        ),
        (
            MEGProbe("meg", column_axis=(0.0, 0.0)),
            "probes[meg].column_axis = (0.0, 0.0) is invalid",
        ),
        (
            LaminarCSDProbe("csd", z=(0.0, -100.0, -250.0)),
            "probes[csd].h = None is invalid: the default height is the spacing of z",
        ),
        (LaminarCSDProbe("csd", z=(0.0,)), "probes[csd].h = None is invalid"),
        (LaminarCSDProbe("csd", z=(0.0, -100.0), r=-5.0), "probes[csd].r = -5.0 is invalid"),
    ],
)
def test_bad_probe_values_name_the_parameter(readme_model, probe, message):
    with pytest.raises(ParamsError) as err:
        validate(dataclasses.replace(readme_model, probes=readme_model.probes + (probe,)))
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- ground truth


def test_hybrid_cell_meg_and_csd_equal_lfpykit_of_an_lfpy_cell():
    """One cell of the hybrid ground truth (tests/data/hybrid_tiny.py with a CSD and
    a tilted-column MEG probe) against LFPy.Cell with LFPykit's CSD and Sarvas field
    of its dipole, turned with the column and placed at its soma."""
    from test_hybrid import TINY, lfpy_reference, poisson_spikes

    from lfpk_hpc import params
    from lfpk_hpc.hybridsim import HybridInputs, simulate_block

    tiny = params.load(TINY)
    z = tuple(-100.0 - 200.0 * np.arange(8))
    model = validate(
        dataclasses.replace(
            tiny,
            probes=tiny.probes
            + (
                LaminarCSDProbe("csd", z=z, h=200.0, r=600.0),
                MEGProbe("meg", column_axis=(0.8, 0.0, 0.6)),
            ),
        )
    )
    spikes = poisson_spikes(model, 60.0)
    inputs = HybridInputs(model, spikes, 0.0, 60.0, 2**-4, seed=11)
    res = simulate_block(inputs, "P", 0, 2, 1)
    ref, _n = lfpy_reference(model, inputs, 2)
    for p in ("csd", "meg"):
        a, b = res.signals[p], ref[p][:, : inputs.n_bins]
        assert a.shape == b.shape and np.abs(b).max() > 0, p
        assert np.abs(a - b).max() <= 1e-9 * np.abs(b).max(), (p, rel_diff(a, b))


def test_network_ground_truth_matrices_of_meg_and_csd(readme_model):
    """groundtruth's per-population matrices: the CSD of its cells (LFPykit's, segments
    short and within the radius) and the field of the population's dipole at its
    depth along the column (LFPykit's Sarvas field of Σ I r)."""
    from lfpykit import CurrentDipoleMoment

    from lfpk_hpc.groundtruth import _probe_matrices, _probe_units

    rng = np.random.default_rng(8)
    x, y, z = _random_segments(rng, 200, 30.0)
    keep = (np.hypot(x, y) < 140).all(axis=1) & (z.min(axis=1) > -250) & (z.max(axis=1) < 1000)
    cells = [CellGeometry(x=x[keep], y=y[keep], z=z[keep], d=np.ones(keep.sum()))]
    zc = np.linspace(1000.0, -200.0, 13)
    meg, csd = MEGProbe("meg"), LaminarCSDProbe("csd", z=tuple(zc))
    model = validate(dataclasses.replace(readme_model, probes=(meg, csd)))
    M = _probe_matrices(model, {"E": cells})
    assert _probe_units(meg) == "fT" and _probe_units(csd) == "µA/mm³"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = LaminarCurrentSourceDensity(
            cells[0], z=np.c_[zc - 50, zc + 50], r=np.full(13, 150.0)
        ).get_transformation_matrix()
    assert rel_diff(M["csd"]["E"], 1e6 * ref) < 1e-12
    cdm = CurrentDipoleMoment(cells[0]).get_transformation_matrix()
    rot = column_rotation(meg.column_axis)
    where = np.array([0.0, 0.0, meg.brain_radius]) + rot @ [0.0, 0.0, 0.0]  # loc 0 µm
    sensors = np.asarray(meg.sensors)
    H = SphericallySymmetricVolCondMEG(sensors).calculate_H(rot @ cdm, where)
    n = sensors / np.linalg.norm(sensors, axis=1)[:, None]
    assert rel_diff(M["meg"]["E"], H_TO_FT * np.einsum("sc,sct->st", n, H)) < 1e-12
