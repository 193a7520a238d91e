"""The EEG probe (four-sphere head model) against LFPykit, analytic limits and the
kernel engine; its params through the real CLI (bad values: tests/test_params_validation.py).

Units: p / (4π σ r²) with p in nA·µm, σ in S/m and r in µm is in mV with factor 1
(nA·µm / (S/m · µm²) = 1e-9 A / (1e-6 S) = 1e-3 V).
"""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import README_PARAMS
from lfpykit.eegmegcalc import FourSphereVolumeConductor

from lfpk_hpc import params
from lfpk_hpc.params import FourSphereEEGProbe, ParamsError
from lfpk_hpc.probes import CurrentDipoleMoment, FourSphereEEG, SegmentGeometry, make_probe

RADII = (79000.0, 80000.0, 85000.0, 90000.0)  # µm
SIGMAS = (0.3, 1.5, 0.015, 0.3)  # S/m


def _geometry(z_edges, sections):
    z = np.asarray(z_edges, dtype=float)
    n = z.shape[0]
    return SegmentGeometry(
        x=np.zeros((n, 2)), y=np.zeros((n, 2)), z=z, d=np.ones(n), section=tuple(sections)
    )


def _electrodes(theta_deg, r=RADII[3]):
    """Electrodes at polar angles ``theta_deg`` (from the z axis) in the xz-plane."""
    th = np.deg2rad(np.asarray(theta_deg, dtype=float))
    return np.c_[r * np.sin(th), np.zeros_like(th), r * np.cos(th)]


# a small cell below the cortical surface (z = 0): soma at z = -800 µm, a basal
# dendrite and an apical dendrite reaching up to z = -50 µm
CELL = _geometry(
    [[-810, -790], [-810, -900], [-900, -1000], [-790, -500], [-500, -200], [-200, -50]],
    ["soma", "dend", "dend", "apic", "apic", "apic"],
)


def test_matrix_equals_lfpykit_potential_of_the_dipole():
    """M_eeg @ imem is LFPykit's potential of p = (0, 0, Σ z_i I_i) at the soma's depth."""
    el = _electrodes([0.0, 10.0, 45.0, 90.0, 135.0])
    probe = FourSphereEEG("eeg", RADII, SIGMAS, el)
    rng = np.random.default_rng(7)
    imem = rng.normal(size=(CELL.n_seg, 40))
    imem -= imem.mean(axis=0)  # a cell's currents sum to zero
    V = probe.get_transformation_matrix(CELL) @ imem

    assert probe.soma_depth(CELL) == -800.0
    location = np.array([0.0, 0.0, RADII[0] - 800.0])
    P = np.zeros((3, imem.shape[1]))
    P[2] = CurrentDipoleMoment("cdm").get_transformation_matrix(CELL)[2] @ imem
    ref = FourSphereVolumeConductor(el, list(RADII), list(SIGMAS)).get_dipole_potential(P, location)
    assert V.shape == ref.shape == (5, 40)
    np.testing.assert_allclose(V, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    assert np.abs(ref).max() > 0


def test_soma_depth_without_a_soma_is_the_mean_of_all_segments():
    geo = _geometry([[-100, -300], [-300, -500]], ["dend", "apic"])
    assert FourSphereEEG.soma_depth(geo) == -300.0
    no_names = SegmentGeometry(geo.x, geo.y, geo.z, geo.d)
    assert FourSphereEEG.soma_depth(no_names) == -300.0


def test_m_z_is_computed_once_per_location():
    probe = FourSphereEEG("eeg")
    M1 = probe.get_transformation_matrix(CELL)
    shifted = _geometry(CELL.z - 100.0, CELL.section)
    M2 = probe.get_transformation_matrix(shifted)
    assert len(probe._m_z) == 2
    M3 = probe.get_transformation_matrix(CELL)  # from the cache
    assert len(probe._m_z) == 2
    np.testing.assert_array_equal(M1, M3)
    assert not np.allclose(M1, M2)


def test_equal_conductivities_homogeneous_sphere_exact():
    """All four conductivities equal: a homogeneous sphere of radius R (scalp) with
    air outside. For a radial dipole p at distance b from the centre, on its axis at
    the surface, V = p / (4π σ R²) · (3 − f) / (1 − f)², f = b / R (Legendre series
    Σ (2n + 1) f^(n−1); f → 0 gives the classic factor 3 of a centred dipole)."""
    sigma, R = 0.3, RADII[3]
    probe = FourSphereEEG("eeg", RADII, (sigma,) * 4, _electrodes([0.0]))
    for b in (100.0, 40000.0, RADII[0] - 800.0):
        f = b / R
        exact = (3 - f) / (1 - f) ** 2 / (4 * np.pi * sigma * R**2)  # mV per nA·µm
        m_z = probe.m_z(np.array([0.0, 0.0, b]))
        np.testing.assert_allclose(m_z, [exact], rtol=1e-6)


def test_equal_conductivities_approach_infinite_medium():
    """All four conductivities equal and the electrodes at a distance d from the
    dipole that is small against the head (d = 1 mm, R = 9 cm): the boundary's
    contribution is ~2 b d² / R³ ≈ 3e-6 relative, so V ≈ p cos θ / (4π σ d²)
    (mV for nA·µm, S/m, µm). On the scalp itself the insulating boundary matters
    (factor 3, see above), so "far from the dipole" here means d ≫ the cell but
    d ≪ R; electrodes inside the brain are allowed by LFPykit (|r| > |r_dipole|)."""
    sigma, b, d = 0.3, 100.0, 1000.0
    theta = np.linspace(0.1, np.pi - 0.1, 7)
    el = np.c_[d * np.sin(theta), np.zeros_like(theta), b + d * np.cos(theta)]
    probe = FourSphereEEG("eeg", RADII, (sigma,) * 4, el)
    m_z = probe.m_z(np.array([0.0, 0.0, b]))
    infinite = np.cos(theta) / (4 * np.pi * sigma * d**2)
    np.testing.assert_allclose(m_z, infinite, rtol=0, atol=1e-5 * np.abs(infinite).max())


def _scalp_electrodes():
    """Scalp electrodes from the top to near the bottom of the head, off the xz-plane,
    and two inside the scalp shell (µm)."""
    th, ph = np.deg2rad([0, 10, 45, 90, 170]), 0.3
    el = np.c_[np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)]
    el *= RADII[3] * (1 - 1e-15) / np.linalg.norm(el, axis=1)[:, None]
    return np.r_[el, [[0.0, 0.0, 87000.0], [1000.0, 2000.0, 89960.0]]]


def test_many_dipoles_at_once_equal_lfpykit():
    """lfpk_hpc.foursphere (the hybrid's EEG: a unit dipole along x, y, z at every
    cell's soma at once) equals LFPykit's FourSphereVolumeConductor, one position at
    a time, to 1e-10 of the largest value (it sums the same series and stops each
    where LFPykit does): cells of a column at depths 20-2000 µm, one on the axis
    through the top electrode (no tangential part there), one far off the axis."""
    from lfpk_hpc.foursphere import on_scalp, scalp_unit_potentials

    rng = np.random.default_rng(1)
    loc = np.c_[rng.uniform(-600, 600, (40, 2)), RADII[0] - rng.uniform(20, 2000, 40)]
    loc = np.r_[loc, [[0, 0, RADII[0] - 500]], [[5000, -3000, 78200]], [[0, 40000, 40000]]]
    el = _scalp_electrodes()
    assert on_scalp(RADII, el) and not on_scalp(RADII, np.r_[el, [[0, 0, 84000.0]]])
    got = scalp_unit_potentials(RADII, SIGMAS, el, loc)
    head = FourSphereVolumeConductor(el, radii=list(RADII), sigmas=list(SIGMAS))
    ref = np.array([head.get_transformation_matrix(p) for p in loc])  # (loc, el, 3)
    assert got.shape == ref.shape == (loc.shape[0], el.shape[0], 3)
    assert np.abs(ref[:, :, :2]).max() > 1e-3 * np.abs(ref).max()  # tangential parts count
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
    with pytest.raises(ValueError, match="inside the brain"):
        scalp_unit_potentials(RADII, SIGMAS, el, [[0, 0, RADII[0] + 1]])


def test_hybrid_eeg_matrix_equals_lfpykit_per_cell():
    """The hybrid's EEG matrix (probes.ground_truth_matrices) for several cells: scalp
    electrodes take the all-at-once series, electrodes inside the skull LFPykit per
    cell; both equal LFPykit's potential of each cell's own dipole at its soma."""
    import lfpykit
    from lfpykit.cellgeometry import CellGeometry

    from lfpk_hpc.probes import ground_truth_matrices

    n = CELL.n_seg
    somata = [(-300.0, 200.0, -800.0), (150.0, -50.0, -1400.0), (0.0, 0.0, -600.0)]
    z = np.concatenate([CELL.z + s[2] + 800 for s in somata])
    x = np.concatenate([CELL.x + s[0] for s in somata])
    y = np.concatenate([CELL.y + s[1] for s in somata])
    geometry = SegmentGeometry(x=x, y=y, z=z, d=np.ones(3 * n), section=CELL.section * 3)
    cells = [(k * n, n, s) for k, s in enumerate(somata)]
    for el in (_scalp_electrodes(), np.r_[_scalp_electrodes(), [[0, 0, 83000.0]]]):
        spec = FourSphereEEGProbe("eeg", RADII, SIGMAS, tuple(map(tuple, el)))
        M = ground_truth_matrices([spec], geometry, cells)["eeg"]
        head = FourSphereVolumeConductor(el, radii=list(RADII), sigmas=list(SIGMAS))
        for first, count, s in cells:
            sl = slice(first, first + count)
            part = CellGeometry(x=x[sl], y=y[sl], z=z[sl], d=np.ones(count))
            cdm = lfpykit.CurrentDipoleMoment(part).get_transformation_matrix()  # Σ I_n r_n
            unit = head.get_transformation_matrix(np.array([s[0], s[1], RADII[0] + s[2]]))
            ref = unit @ cdm
            np.testing.assert_allclose(M[:, sl], ref, rtol=0, atol=1e-10 * np.abs(ref).max())


def test_dipole_outside_the_brain_is_refused_with_a_message():
    above = _geometry([[10, 30], [30, 200]], ["soma", "apic"])  # soma above z = 0
    with pytest.raises(ValueError, match=r"EEG probe 'eeg'.*not inside the brain sphere"):
        FourSphereEEG("eeg").get_transformation_matrix(above)


def test_electrode_within_rounding_outside_the_scalp_is_moved_onto_it():
    el = _electrodes([30.0]) * (1 + 1e-12)
    assert np.linalg.norm(el) > RADII[3]
    probe = FourSphereEEG("eeg", electrodes=el)
    assert np.linalg.norm(probe.electrodes) <= RADII[3]
    assert probe.get_transformation_matrix(CELL).shape == (1, CELL.n_seg)


def test_make_probe_and_defaults():
    spec = FourSphereEEGProbe("eeg")
    assert spec.radii == RADII and spec.sigmas == SIGMAS
    assert spec.electrodes == ((0.0, 0.0, 90000.0),)
    probe = make_probe(spec)
    assert isinstance(probe, FourSphereEEG)
    assert probe.units == "mV" and probe.n_channels == 1


# --------------------------------------------------------------------------- params file


EEG_PARAMS = f"""\
import importlib.util
from dataclasses import replace

from lfpk_hpc.params import FourSphereEEGProbe

_spec = importlib.util.spec_from_file_location("_readme_model", {str(README_PARAMS)!r})
_readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_readme)
base = _readme.model

# the README cell moved below the cortical surface (z = 0): soma at -1100 µm, apical
# tip at -85 µm; probes lfp, cdm and an EEG with an electrode on top and one at 30°
E = replace(base.populations[0], geometry=replace(base.populations[0].geometry, loc=-1100.0))
model = replace(
    base,
    name="readme_eeg",
    populations=(E,) + base.populations[1:],
    probes=base.probes
    + (
        FourSphereEEGProbe(
            "eeg", electrodes=((0.0, 0.0, 90000.0), (45000.0, 0.0, 77942.28634059948))
        ),
    ),
)
"""


@pytest.fixture(scope="module")
def eeg_params(tmp_path_factory):
    path = tmp_path_factory.mktemp("eeg") / "readme_eeg.py"
    path.write_text(EEG_PARAMS, encoding="utf-8")
    return path


def test_params_round_trip(eeg_params):
    model = params.load(eeg_params)
    d = model.to_dict()
    eeg = [p for p in d["probes"] if p["name"] == "eeg"][0]
    assert eeg["type"] == "FourSphereEEGProbe"
    assert eeg["radii"] == list(RADII) and eeg["sigmas"] == list(SIGMAS)
    assert len(eeg["electrodes"]) == 2
    assert params.load(eeg_params).hash() == model.hash()


def test_eeg_kernel_is_m_z_times_the_dipole_kernel_and_cli_writes_it(eeg_params, tmp_path):
    from lfpk_hpc.kernel import KernelEngine

    model = params.load(eeg_params)
    spec = model.probes[2]
    # the dipole of E sits at radii[0] + soma depth; LFPy puts the soma at geometry.loc
    location = np.array([0.0, 0.0, spec.radii[0] - 1100.0])
    m_z = FourSphereVolumeConductor(
        np.asarray(spec.electrodes), list(spec.radii), list(spec.sigmas)
    ).get_dipole_potential(np.array([[0.0], [0.0], [1.0]]), location)[:, 0]

    engine = KernelEngine(model)
    kernels = {}
    try:
        for X in ("E", "I"):
            H = engine.compute(X, "E").kernels
            kernels[X] = H
            assert H["eeg"].shape == (2, engine.n_lags)
            ref = m_z[:, None] * H["cdm"][2][None, :]
            assert np.abs(ref).max() > 0
            np.testing.assert_allclose(H["eeg"], ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    finally:
        engine.close()

    out = tmp_path / "k.h5"
    proc = subprocess.run(
        [sys.executable, "-m", "lfpk_hpc", str(eeg_params), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "eeg (2 channels, mV)" in proc.stdout
    with h5py.File(out, "r") as f:
        assert f["probes/eeg"].attrs["type"] == "FourSphereEEG"
        assert f["probes/eeg"].attrs["units"] == "mV"
        assert f["probes/eeg"].attrs["n_channels"] == 2
        assert "z" not in f["probes/eeg"]  # not an LFP probe: no contact depths
        for X in ("E", "I"):
            ds = f[f"kernels/eeg/E/{X}"]
            assert ds.attrs["units"] == "mV" and ds.attrs["complete"]
            np.testing.assert_allclose(ds[...], kernels[X]["eeg"], rtol=1e-12, atol=0)


def test_validate_accepts_and_rejects(eeg_params):
    import dataclasses

    model = params.load(eeg_params)
    bad = dataclasses.replace(
        model, probes=model.probes[:2] + (FourSphereEEGProbe("eeg", sigmas=(0.3, 1.5, -1, 0.3)),)
    )
    with pytest.raises(ParamsError, match=r"probes\[eeg\]\.sigmas = \(0\.3, 1\.5, -1, 0\.3\)"):
        params.validate(bad)
