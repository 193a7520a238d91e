"""How the kernel engine computes: cell reuse, the warm-up shortcut, the drive
mechanism and the fast geometry give the numbers of the straightforward method."""

import dataclasses

import numpy as np
import pytest
from conftest import ROOT, rel_diff

from lfpk_hpc import params
from lfpk_hpc.kernel import KernelEngine, simulated_duration


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for probe in a:
        np.testing.assert_array_equal(a[probe], b[probe])


def test_reused_cell_gives_bitwise_the_kernels_of_fresh_engines(readme_model):
    # (X1, Y), (X2, Y), (X1, Y) with one engine, which builds the cell of Y once
    engine = KernelEngine(readme_model)
    first = engine.compute("E", "E")
    cell = engine._cell
    second = engine.compute("I", "E")
    third = engine.compute("E", "E")
    assert engine._cell is cell and cell.alive()
    assert second.timings["build"] < first.timings["build"]
    _assert_same(first.kernels, third.kernels)
    _assert_same(first.kernels, KernelEngine(readme_model).compute("E", "E").kernels)
    _assert_same(second.kernels, KernelEngine(readme_model).compute("I", "E").kernels)
    engine.close()
    assert not cell.alive()


def test_cell_is_rebuilt_when_other_code_changed_neuron(readme_model):
    from neuron import h

    from lfpk_hpc.cells import delete_all_sections

    engine = KernelEngine(readme_model)
    ref = engine.compute("I", "E").kernels
    delete_all_sections()  # e.g. another LFPy.Cell(delete_sections=True)
    _assert_same(engine.compute("I", "E").kernels, ref)
    foreign = h.Section(name="foreign")  # a section that is not ours
    assert not engine._cell.alive()
    _assert_same(engine.compute("I", "E").kernels, ref)
    del foreign
    # the cell keeps its pointers to i_membrane_; switching fast_imem off frees them
    h.CVode().use_fast_imem(0)
    _assert_same(engine.compute("I", "E").kernels, ref)
    engine.close()


def test_warmup_shortcut_equals_simulating_the_warmup(readme_model):
    short = KernelEngine(readme_model)
    exact = KernelEngine(readme_model)
    exact._exact_warmup = True
    for X in ("E", "I"):
        a, b = short.compute(X, "E"), exact.compute(X, "E")
        assert short._cell.rest
        for probe in a.kernels:
            assert rel_diff(a.kernels[probe], b.kernels[probe]) < 1e-12
        assert a.timings["simulate"] < b.timings["simulate"]
    ks = readme_model.kernel
    assert simulated_duration(ks) == ks.tau + ks.dt
    assert simulated_duration(ks, at_rest=False) == ks.t_X + ks.tau


def test_warmup_shortcut_with_instant_onset_synapses():
    """ExpSynI currents jump at the event: the shortcut must still see a zero sample
    at lag 0 (the pre-event state), as the full warm-up does, and Kirchhoff holds."""
    from lfpk_hpc import pd14

    model = pd14.build(scale=0.05)
    short = KernelEngine(model)
    exact = KernelEngine(model)
    exact._exact_warmup = True
    for X, Y in (("L4I", "L4E"), ("L23E", "L5E")):
        a, b = short.compute(X, Y), exact.compute(X, Y)
        for probe in a.kernels:
            assert rel_diff(a.kernels[probe], b.kernels[probe]) < 1e-12
    # the symmetric L4 stellate with uniform L4 input has no dipole moment
    H = short.compute("L4I", "L4E").kernels["cdm"]
    assert np.abs(H).max() < 1e-6 * np.abs(short.compute("L4I", "L23E").kernels["cdm"]).max()


def test_cell_not_at_rest_is_simulated_with_the_warmup(readme_model):
    # e_pas of the cell differs from v_init = Vrest: the cell relaxes during t_X and
    # its currents before the event are not zero, so the window alone would be wrong
    pops = tuple(
        dataclasses.replace(p, cell=dataclasses.replace(p.cell, e_pas=-70.0)) if p.cell else p
        for p in readme_model.populations
    )
    model = params.validate(dataclasses.replace(readme_model, populations=pops))
    engine = KernelEngine(model)
    H = engine.compute("I", "E").kernels
    assert not engine._cell.rest
    forced = KernelEngine(model)
    forced.compute("I", "E")
    forced._cell.rest = True  # pretend it were at rest: the shortcut is taken
    wrong = forced.compute("I", "E").kernels
    assert rel_diff(wrong["cdm"], H["cdm"]) > 1e-3


@pytest.mark.parametrize("model_name", ["Exp2SynI", "ExpSynI"])
def test_drive_equals_point_processes(model_name):
    """mod/lfpk_drive.mod with the drive course injects what one Exp2SynI (or
    ExpSynI) point process per segment injects after an event at t = 0."""
    from neuron import h

    from lfpk_hpc import mechanisms
    from lfpk_hpc.cells import build_cell
    from lfpk_hpc.kernel import drive_course
    from lfpk_hpc.params import Synapse

    mechanisms.load_mechanisms()
    model = params.load(ROOT / "params" / "lfpykernels_readme.py")
    dt, n = 2**-4, 400
    syn = (
        Synapse("Exp2SynI", 1.0, 0.2, 1.8)
        if model_name == "Exp2SynI"
        else Synapse("ExpSynI", 1.0, 0.0, 0.5)
    )
    cell = build_cell(
        model.population("E").cell, morphology_path=None, z=0.0, e_pas=-65.0, v_init=-65.0
    )
    rng = np.random.default_rng(0)
    w = rng.uniform(-0.1, 0.1, cell.n_seg)  # nA
    cell.set_drive(w * 1e2 / cell.geometry.area)
    drive = cell.simulate(drive_course(syn, dt, n + 1, 0), dt)

    cell.set_drive(np.zeros(cell.n_seg))
    syns, cons = [], []
    for seg, wi in zip(cell.segments, w, strict=True):
        s = getattr(h, model_name)(seg)
        if model_name == "Exp2SynI":
            s.tau1, s.tau2 = syn.tau1, syn.tau2
        else:
            s.tau = syn.tau2
        nc = h.NetCon(None, s)
        nc.weight[0] = wi
        syns.append(s)
        cons.append(nc)
    handlers = [h.FInitializeHandler(lambda: [nc.event(0.0) for nc in cons])]
    point = cell.simulate(np.zeros(n + 1), dt)
    handlers.clear()
    cons.clear()
    syns.clear()
    cell.delete()
    assert np.abs(point).max() > 0
    assert rel_diff(drive, point) < 1e-12


def _lfpy_cell(path, cell_model):
    import LFPy

    return LFPy.Cell(
        morphology=str(path),
        v_init=-65.0,
        Ra=cell_model.Ra,
        cm=cell_model.cm,
        passive=True,
        passive_parameters={"g_pas": cell_model.g_pas, "e_pas": -65.0},
        nsegs_method="lambda_f",
        lambda_f=cell_model.lambda_f,
        delete_sections=True,
    )


@pytest.mark.parametrize("morphology", ["L5E_j4a.hoc", "L23I_oi38lbc1.hoc"])
def test_geometry_equals_lfpys(morphology):
    """The fast geometry collection gives LFPy's segment geometry, bit for bit."""
    from lfpk_hpc.cells import build_cell
    from lfpk_hpc.pd14 import HAGEN2016_MORPHOLOGIES

    path = HAGEN2016_MORPHOLOGIES / morphology
    cell_model = params.CellModel(morphology=str(path))
    ours = build_cell(cell_model, morphology_path=path, z=-1046.1, e_pas=-65.0, v_init=-65.0)
    geom = ours.geometry
    ours.delete()
    ref = _lfpy_cell(path, cell_model)
    ref.set_pos(z=-1046.1)
    assert geom.n_seg == ref.totnsegs > 100
    for name in ("x", "y", "z", "d", "area"):
        np.testing.assert_array_equal(getattr(geom, name), getattr(ref, name))
    assert geom.section == tuple(sec.name() for sec in ref.allseclist for _ in sec)
    from lfpk_hpc.cells import delete_all_sections

    del ref
    delete_all_sections()
