"""PD14's own paths against references that do not share lfpk_hpc's code.

The README example's kernels equal LFPykernels (test_reference.py); PD14 takes
paths that example does not: reconstructed morphologies, PD14's synapse count
K = ln(1 − C)/ln(1 − 1/(N_X N_Y)), synapses spread uniformly over cortical layers,
current-based exponential synapses (ExpSynI) and multapse distributions. Each is
checked here against something independent:

- the kernels of two PD14 pathways onto L23E, with its reconstructed cell of Hagen et
  al. 2016 (../shared), against LFPykernels 0.2.0 given the same pathways in its own
  terms: its K is C'·N_X·N_Y, so C' = K_log/(N_X N_Y) with K_log computed here from
  the formula; the layers are its uniform depth profiles with their weights. What
  LFPykernels cannot express is the layer seen through the somata's spread: it
  widens every profile's scale to √(scale² + s²), which for a uniform profile moves
  its top edge by the whole widening and keeps its bottom edge, where lfpk_hpc
  convolves the uniform density with the Gaussian spread. So the comparison is made
  with no soma spread (s = 0, where both are the uniform pdf), and the convolution
  is checked numerically against direct integration (scipy.integrate.quad);
- ExpSynI's current in NEURON against the analytic −w·exp(−(t − t_s)/τ);
- the multapse mean against scipy's distributions.
"""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as st
from conftest import LFPYKERNELS_HINT, ROOT, need_module, rel_diff, shared_path

from lfpk_hpc import pd14
from lfpk_hpc.kernel import multapse_mean, synapse_density
from lfpk_hpc.params import Distribution, Placement, truncnorm
from lfpk_hpc.probes import SegmentGeometry

# --------------------------------------------------------------------------- LFPykernels


def k_log(C: float, n_x: int, n_y: int) -> float:
    """PD14's synapse count (Potjans & Diesmann 2014; DOMAIN.md A), written out here."""
    return math.log(1.0 - C) / math.log((n_x * n_y - 1.0) / (n_x * n_y))


@pytest.fixture(scope="module")
def l23e_model():
    """Full-scale PD14 with the reconstructed cells, L23E's somata without spread
    (see the module docstring), and an LFP probe of 6 of the 16 contacts (LFPykernels
    integrates each contact and segment with quad)."""
    import dataclasses

    from lfpk_hpc.params import GaussCylinderProbe, validate

    folder = shared_path("reference", "morphologies", "stretched")
    model = pd14.build(morphologies=folder)
    pops = tuple(
        dataclasses.replace(p, geometry=dataclasses.replace(p.geometry, scale=0.0))
        if p.name == "L23E"
        else p
        for p in model.populations
    )
    lfp = model.probes[0]
    assert isinstance(lfp, GaussCylinderProbe)
    probes = (dataclasses.replace(lfp, z=tuple(lfp.z[::3])), model.probes[1])
    return validate(dataclasses.replace(model, populations=pops, probes=probes))


PATHWAYS = ("L23E", "L23I")  # onto L23E: its two strongest inputs, E and I, over L1 and L2/3


@pytest.fixture(scope="module")
def lfpykernels_pd14(l23e_model, tmp_path_factory):
    need_module("lfpykernels", LFPYKERNELS_HINT)
    model, Y = l23e_model, "L23E"
    pop = model.population(Y)
    cons = [model.connection(X, Y) for X in PATHWAYS]
    n_x = [model.population(X).N for X in PATHWAYS]
    lfp = model.probes[0]
    ks = model.kernel
    spec = {
        "morphology": str(model.morphology_path(Y)),
        "cell": {
            "Ra": pop.cell.Ra,
            "cm": pop.cell.cm,
            "g_pas": pop.cell.g_pas,
            "lambda_f": pop.cell.lambda_f,
        },
        "Vrest": ks.Vrest,
        "Y": Y,
        "X": list(PATHWAYS),
        "N_X": n_x,
        "N_Y": pop.N,
        # LFPykernels' K = C'·N_X·N_Y (times the multapse mean, 1 here)
        "C_YX": [k_log(c.C, nx, pop.N) / (nx * pop.N) for c, nx in zip(cons, n_x, strict=True)],
        "multapses": {"name": cons[0].multapses.name, "params": dict(cons[0].multapses.params)},
        "delays": [{"name": c.delay.name, "params": dict(c.delay.params)} for c in cons],
        "synapses": [
            {"syntype": "ExpSynI", "weight": c.synapse.weight, "tau": c.synapse.tau2} for c in cons
        ],
        "positions": [
            {
                "sections": list(c.placement.sections),
                "depth": [{"name": d.name, "params": dict(d.params)} for d in c.placement.depth],
                "weights": list(c.placement.weights),
            }
            for c in cons
        ],
        "population": {
            "radius": pop.geometry.radius,
            "loc": pop.geometry.loc,
            "scale": pop.geometry.scale,
        },
        "lfp": {"z": list(lfp.z), "sigma": lfp.sigma, "R": lfp.R, "sigma_z": lfp.sigma_z},
        "dt": ks.dt,
        "tau": ks.tau,
        "t_X": ks.t_X,
    }
    assert all(c.synapse.model == "ExpSynI" for c in cons)
    assert all(len(c.placement.depth) == 2 for c in cons)  # L1 and L2/3
    assert all(d.name == "uniform" for c in cons for d in c.placement.depth)
    folder = tmp_path_factory.mktemp("lfpykernels_pd14")
    (folder / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "lfpykernels_reference.py"),
            str(folder / "ref.npz"),
            f"pathways:{folder / 'spec.json'}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(np.load(folder / "ref.npz"))


@pytest.fixture(scope="module")
def own_pd14(l23e_model):
    from lfpk_hpc.kernel import KernelEngine

    engine = KernelEngine(l23e_model)
    out = {X: engine.compute(X, "L23E") for X in PATHWAYS}
    engine.close()
    return out


@pytest.mark.parametrize("X", PATHWAYS)
def test_pd14_pathways_with_a_reconstructed_cell_equal_lfpykernels(
    lfpykernels_pd14, own_pd14, l23e_model, X
):
    ref, ours = lfpykernels_pd14, own_pd14[X]
    assert ours.n_seg == int(ref["pathways/n_seg"]) > 100
    for probe in ("lfp", "cdm"):
        assert ours.kernels[probe].shape == ref[f"pathways/{X}/{probe}"].shape
        assert rel_diff(ours.kernels[probe], ref[f"pathways/{X}/{probe}"]) < 1e-6, probe
    # the synapse count enters linearly: the linear count C·N_X·N_Y would be smaller by
    # C/(-ln(1 - C)) (0.951 for L23E -> L23E), far beyond the agreement above
    C = l23e_model.connection(X, "L23E").C
    assert 1 - C / -math.log1p(-C) > 0.03


# --------------------------------------------------------------------------- layers


def test_uniform_layers_seen_through_the_soma_spread_equal_direct_integration():
    """Segment densities of a placement on two uniform layers with weights, somata
    spread N(0, s): area × Σ_k w_k ∫ U_k(z') φ_s(z − z') dz', integrated with quad,
    normalised; only the sections asked for."""
    z_edges = np.linspace(-700.0, 50.0, 76)  # segments crossing the layer boundaries
    n = z_edges.size - 1
    rng = np.random.default_rng(3)
    d = rng.uniform(0.5, 3.0, n)
    geometry = SegmentGeometry(
        x=np.zeros((n, 2)),
        y=np.zeros((n, 2)),
        z=np.c_[z_edges[:-1], z_edges[1:]],
        d=d,
        area=np.pi * d * np.diff(z_edges),
        section=tuple("soma" if k == 60 else ("apic" if k > 60 else "dend") for k in range(n)),
    )
    layers = [(-587.1, -81.6), (-81.6, 0.0)]  # L2/3 and L1 of PD14 (bottom, top)
    weights = (0.7, 0.3)
    placement = Placement(
        ("apic", "dend"),
        tuple(Distribution("uniform", {"loc": a, "scale": b - a}) for a, b in layers),
        weights,
    )
    s = pd14.SOMA_SD
    p = synapse_density(geometry, placement, s)

    def density(z):
        return sum(
            w
            * si.quad(
                lambda u, a=a, b=b: st.norm.pdf(z - u, scale=s) / (b - a), a, b, epsabs=1e-13
            )[0]
            for (a, b), w in zip(layers, weights, strict=True)
        )

    ref = np.array([density(z) for z in geometry.z_mid]) * geometry.area
    ref[60] = 0.0  # the soma is not a target
    ref /= ref.sum()
    np.testing.assert_allclose(p, ref, rtol=1e-7, atol=1e-12)
    assert p[60] == 0 and p.sum() == pytest.approx(1.0)
    # LFPykernels' rule (widen the uniform's scale, keep its loc) is another density
    wide = Placement(
        placement.sections,
        tuple(
            Distribution("uniform", {"loc": a, "scale": math.hypot(b - a, s)}) for a, b in layers
        ),
        weights,
    )
    assert np.abs(synapse_density(geometry, wide, 0.0) - ref).max() > 0.1 * ref.max()
    # without spread, the uniform pdf itself
    flat = synapse_density(geometry, placement, 0.0)
    inside = [(a < z < b) for z in geometry.z_mid for a, b in layers[:1]]
    assert np.ptp((flat / geometry.area)[np.array(inside) & (p > 0)]) < 1e-15


# --------------------------------------------------------------------------- ExpSynI


def test_expsyni_current_is_minus_w_times_the_decaying_exponential():
    """mod/expsyni.mod in NEURON: an event of weight w at t_s gives
    i(t) = −w·exp(−(t − t_s)/τ). NEURON's cnexp integrates A' = −A/τ exactly
    (A ← A·exp(−dt/τ) per step), so the only discretisation is where the event
    shows: the recorded current is the analytic one delayed by one step dt, exact to
    rounding, and the charge per event Σ i·dt = −w·dt/(1 − exp(−dt/τ)) (over all
    steps) tends to −w·τ (relative error dt/(2τ))."""
    from lfpk_hpc import mechanisms

    mechanisms.load_mechanisms(log=lambda *a: None)
    from neuron import h

    h.load_file("stdrun.hoc")
    soma = h.Section(name="expsyni_probe")
    syn = h.ExpSynI(soma(0.5))
    w, tau, t_s = pd14.weight("L23E", "L23E"), 0.5, 2.0
    syn.tau = tau
    nc = h.NetCon(None, syn)
    nc.weight[0] = w
    i_rec = h.Vector().record(syn._ref_i)
    t_rec = h.Vector().record(h._ref_t)
    try:
        for dt in (2**-4, 2**-7):
            h.dt = dt
            h.finitialize(-65.0)
            nc.event(t_s)
            h.continuerun(t_s + 20 * tau)
            i, t = np.array(i_rec), np.array(t_rec)
            on = t >= t_s + dt - 1e-9
            analytic = -w * np.exp(-(t[on] - t_s - dt) / tau)
            np.testing.assert_allclose(i[on], analytic, rtol=1e-12, atol=1e-15)
            assert not i[~on].any()
            assert i[on][0] == pytest.approx(-w, rel=1e-14)  # the jump to -w
            charge = i.sum() * dt  # nA·ms = pC, over the K steps recorded after the event
            K = int(on.sum())
            geometric = -math.expm1(-K * dt / tau) / -math.expm1(-dt / tau)
            assert charge == pytest.approx(-w * dt * geometric, rel=1e-12)
            assert charge == pytest.approx(-w * tau, rel=dt / tau)
        # DOMAIN.md E.13: 43.9 fC per event for p23 from E
        assert w * tau * 1e3 == pytest.approx(43.9, abs=0.05)
    finally:
        del nc, syn, soma


# --------------------------------------------------------------------------- multapses


def test_multapse_mean_against_scipy():
    """LFPykernels' convention: the continuous pdf evaluated at 1..99, normalised,
    as a discrete distribution. Its mean computed with scipy.stats.rv_discrete; for
    a distribution wide against 1 and far from the ends it equals scipy's continuous
    truncated-normal mean (the sum of a Gaussian over the integers is its integral
    to exp(−2π²σ²)); for the narrow ones of Hagen et al. 2022 the two differ, and the
    discrete one is what both implementations use. PD14's one synapse per count."""
    cases = [
        truncnorm(loc=2.0, scale=0.6, a=(1 - 2.0) / 0.6, b=(10 - 2.0) / 0.6),
        truncnorm(loc=5.0, scale=1.1, a=(1 - 5.0) / 1.1, b=(10 - 5.0) / 1.1),
        truncnorm(loc=30.0, scale=4.0, a=(1 - 30.0) / 4.0, b=(99 - 30.0) / 4.0),
    ]
    k = np.arange(1, 100)
    for dist in cases:
        pk = st.truncnorm.pdf(k, **dist.params)
        discrete = st.rv_discrete(values=(k, pk / pk.sum())).mean()
        assert multapse_mean(dist) == pytest.approx(discrete, rel=1e-12)
    wide = cases[2]
    assert multapse_mean(wide) == pytest.approx(st.truncnorm(**wide.params).mean(), rel=1e-9)
    narrow = cases[0]  # 2.005 (discrete) against 2.063 (continuous)
    assert abs(multapse_mean(narrow) - st.truncnorm(**narrow.params).mean()) > 0.05
    assert multapse_mean(pd14.SINGLE) == 1.0
