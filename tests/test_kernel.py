"""Kernel engine: conventions, linearity, invariances and isolation between tasks."""

import dataclasses
import re

import numpy as np
import pytest
from conftest import ROOT, rel_diff

from lfpk_hpc import params
from lfpk_hpc.kernel import KernelEngine, delay_kernel, multapse_mean, total_synapses
from lfpk_hpc.params import Distribution, norm, validate


def with_kernel(model, **changes):
    return dataclasses.replace(model, kernel=dataclasses.replace(model.kernel, **changes))


def with_connection(model, X, Y, **changes):
    cons = tuple(
        dataclasses.replace(c, **changes) if (c.pre, c.post) == (X, Y) else c
        for c in model.connections
    )
    return dataclasses.replace(model, connections=cons)


def test_delay_kernel_conventions(readme_model):
    ks = readme_model.kernel
    h = delay_kernel(readme_model.connection("E", "E").delay, ks.dt, ks.tau)
    n_tau = int(ks.tau / ks.dt)
    assert h.shape == (2 * n_tau + 1,)
    assert h.sum() == pytest.approx(1.0, abs=1e-14)
    assert np.all(h[: n_tau + 1] == 0)  # no delays <= 0 ms


def test_multapse_mean_and_synapse_counts(readme_model):
    con = readme_model.connection("E", "E")
    m = multapse_mean(con.multapses)
    assert 2.0 < m < 2.2  # truncnorm(loc 2, scale 0.6) on [1, 10], sampled at integers
    assert total_synapses(readme_model, con) == pytest.approx(0.05 * 8192 * 8192 * m)
    log_model = dataclasses.replace(readme_model, synapse_count="log")
    # K_log / K_lin = -ln(1 - C) / C for N_X N_Y >> 1 (shared/reference/DOMAIN.md E.12)
    ratio = total_synapses(log_model, con) / total_synapses(readme_model, con)
    assert ratio == pytest.approx(-np.log(1 - 0.05) / 0.05, rel=1e-6)


@pytest.fixture(scope="module")
def model():
    """The README example with g_eff off, where kernels are linear in the inputs."""
    return validate(
        with_kernel(params.load(ROOT / "params" / "lfpykernels_readme.py"), g_eff=False)
    )


@pytest.fixture(scope="module")
def base(model):
    engine = KernelEngine(model)
    return {X: engine.compute(X, "E").kernels for X in ("E", "I")}


def test_zero_at_negative_and_zero_lags(base, model):
    n_tau = int(model.kernel.tau / model.kernel.dt)
    for kernels in base.values():
        for H in kernels.values():
            assert np.all(H[:, : n_tau + 1] == 0.0)
            assert np.abs(H[:, n_tau + 1 :]).max() > 0


def test_linear_in_weight(model, base):
    con = model.connection("I", "E")
    scaled = with_connection(
        model, "I", "E", synapse=dataclasses.replace(con.synapse, weight=3 * con.synapse.weight)
    )
    H = KernelEngine(scaled).compute("I", "E").kernels
    for probe in ("lfp", "cdm"):
        assert rel_diff(H[probe], 3 * base["I"][probe]) < 1e-9


def test_linear_in_connection_probability_and_independent_of_N_X(model, base):
    doubled = with_connection(model, "E", "E", C=0.1)
    H = KernelEngine(doubled).compute("E", "E").kernels
    for probe in ("lfp", "cdm"):
        assert rel_diff(H[probe], 2 * base["E"][probe]) < 1e-9
    # at fixed C the kernel does not depend on the presynaptic population size N_I
    pops = tuple(
        dataclasses.replace(p, N=4 * p.N) if p.name == "I" else p for p in model.populations
    )
    H_I = KernelEngine(dataclasses.replace(model, populations=pops)).compute("I", "E").kernels
    for probe in ("lfp", "cdm"):
        assert rel_diff(H_I[probe], base["I"][probe]) < 1e-9


def test_linear_in_driving_force(model, base):
    # conductance-based synapses are linearised: H is proportional to -(Vrest - E_syn)
    con = model.connection("I", "E")  # e = -80 mV, Vrest = -65 mV: driving force 15 mV
    moved = with_connection(model, "I", "E", synapse=dataclasses.replace(con.synapse, e=-95.0))
    H = KernelEngine(moved).compute("I", "E").kernels
    assert rel_diff(H["cdm"], 2 * base["I"]["cdm"]) < 1e-9


def test_g_eff_without_rates_equals_g_eff_off(readme_model, base):
    # DOMAIN.md E.10: with nu_X = n_ext = 0 the leak shift vanishes
    silent = dataclasses.replace(
        readme_model,
        populations=tuple(dataclasses.replace(p, nu=0.0) for p in readme_model.populations),
        extrinsic={"E": dataclasses.replace(readme_model.extrinsic["E"], n_ext=0)},
    )
    H = KernelEngine(validate(silent)).compute("E", "E").kernels
    np.testing.assert_array_equal(H["lfp"], base["E"]["lfp"])
    # with the README rates the extra leak shortens the membrane time constant, so
    # relative to its peak the kernel is smaller 5-25 ms after the event
    H_geff = KernelEngine(readme_model).compute("E", "E").kernels["cdm"][2]
    H_off = base["E"]["cdm"][2]
    late = slice(800 + 80, 800 + 400)  # lags 5-25 ms at dt = 1/16 ms
    assert np.abs(H_geff[late]).max() / np.abs(H_geff).max() < (
        np.abs(H_off[late]).max() / np.abs(H_off).max()
    )


def test_translation_shifts_lfp_by_channels_and_keeps_dipole(model, base):
    # DOMAIN.md E.6/E.8: moving the somata and synapses 200 µm down moves the LFP
    # two channels (100 µm pitch) down; the dipole moment is unchanged
    pops = tuple(
        dataclasses.replace(p, geometry=dataclasses.replace(p.geometry, loc=-200.0))
        if p.geometry
        else p
        for p in model.populations
    )
    cons = tuple(
        dataclasses.replace(
            c,
            placement=dataclasses.replace(
                c.placement,
                depth=tuple(
                    Distribution(d.name, {**d.params, "loc": d.params["loc"] - 200.0})
                    for d in c.placement.depth
                ),
            ),
        )
        for c in model.connections
    )
    moved = dataclasses.replace(model, populations=pops, connections=cons)
    H = KernelEngine(moved).compute("I", "E").kernels
    scale = np.abs(base["I"]["lfp"]).max()
    assert np.abs(H["lfp"][2:] - base["I"]["lfp"][:-2]).max() / scale < 1e-9
    assert rel_diff(H["cdm"], base["I"]["cdm"]) < 1e-9


def test_zero_connection_probability_gives_exact_zeros(model):
    H = KernelEngine(with_connection(model, "I", "E", C=0.0)).compute("I", "E").kernels
    assert H["lfp"].shape == (13, 1601) and H["cdm"].shape == (3, 1601)
    assert not H["lfp"].any() and not H["cdm"].any()


def test_no_state_leaks_between_tasks():
    # two tasks with different postsynaptic cells, in both orders, in one process
    m = params.load(ROOT / "params" / "hagen2022.py")
    first = KernelEngine(m)
    a = [first.compute("E", "E"), first.compute("I", "I"), first.compute("E", "E")]
    second = KernelEngine(m)
    b = [second.compute("I", "I"), second.compute("E", "E")]
    for probe in ("lfp", "cdm"):
        np.testing.assert_array_equal(a[0].kernels[probe], b[1].kernels[probe])
        np.testing.assert_array_equal(a[1].kernels[probe], b[0].kernels[probe])
        np.testing.assert_array_equal(a[0].kernels[probe], a[2].kernels[probe])
    assert a[0].n_seg == 27 and a[1].n_seg == 11


def test_placement_outside_cell_is_a_clear_error(model):
    from lfpk_hpc.params import ParamsError, Placement

    bad = with_connection(model, "E", "E", placement=Placement(("axon",), (norm(0.0, 100.0),)))
    with pytest.raises(ParamsError, match=r"placement.sections = \('axon',\)"):
        KernelEngine(bad).compute("E", "E")


def test_time_step_that_is_not_a_power_of_two(readme_model):
    # 2·tau/dt = 199.99… in floating point: 201 lags all the same, lag 0 in the middle
    m = validate(with_kernel(readme_model, dt=0.1, tau=10.0, t_X=10.0, g_eff=False))
    H = KernelEngine(m).compute("E", "E").kernels
    assert H["lfp"].shape == (13, 201) and H["cdm"].shape == (3, 201)
    assert not H["cdm"][:, :101].any() and np.abs(H["cdm"][:, 101:]).max() > 0
    assert delay_kernel(m.connection("E", "E").delay, 0.1, 10.0).shape == (201,)


def test_soma_leak_override(model, base):
    """soma_g_pas replaces the leak of the soma only: equal to g_pas changes nothing,
    a larger one shunts the synaptic currents (a smaller dipole)."""

    def with_soma(g):
        pops = tuple(
            dataclasses.replace(p, cell=dataclasses.replace(p.cell, soma_g_pas=g)) if p.cell else p
            for p in model.populations
        )
        return validate(dataclasses.replace(model, populations=pops))

    same = KernelEngine(with_soma(model.population("E").cell.g_pas)).compute("I", "E").kernels
    np.testing.assert_array_equal(same["cdm"], base["I"]["cdm"])
    leaky = KernelEngine(with_soma(0.01)).compute("I", "E").kernels
    assert 0 < np.abs(leaky["cdm"]).max() < np.abs(base["I"]["cdm"]).max()


def test_soma_gates(model, base):
    """soma_gates (mod/lfpk_qa.mod) add the quasi-active part to the soma: gates with
    a = 0 change nothing (and keep the cell at rest: no warm-up), hh's gates at rest
    change the kernel; bad gates are errors naming them."""
    from lfpk_hpc.groundtruth import soma_gates

    def with_gates(gates):
        pops = tuple(
            dataclasses.replace(p, cell=dataclasses.replace(p.cell, soma_gates=gates))
            if p.cell
            else p
            for p in model.populations
        )
        return validate(dataclasses.replace(model, populations=pops))

    idle = KernelEngine(with_gates(((0.0, 0.01, 5.0),)))
    np.testing.assert_array_equal(idle.compute("I", "E").kernels["cdm"], base["I"]["cdm"])
    assert idle._cell.rest
    active = KernelEngine(with_gates(soma_gates(model.kernel.Vrest))).compute("I", "E")
    diff = np.abs(active.kernels["cdm"] - base["I"]["cdm"]).max()
    assert diff > 0.01 * np.abs(base["I"]["cdm"]).max()
    for gates, where in (
        (((1.0, 0.0, 0.0),), "soma_gates[0].tau"),
        (((1.0, 0.0),), "soma_gates[0]"),
        ((), "soma_gates"),
        (tuple(((0.0, 0.0, 1.0),) * 4), "soma_gates"),
    ):
        with pytest.raises(params.ParamsError, match=re.escape(where)):
            with_gates(gates)
