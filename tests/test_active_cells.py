"""A user's own active NEURON model as the kernels' cell (issue 13): the template and
its mod files, the linearisations (passive, frozen, quasi-active) against LFPykernels
given the same cell, the linear cell at rest, and the checks of bad inputs.

The model is tests/data/active_model.py: the tests' own active cell
(tests/data/active_cell: a sodium and a potassium current in soma and axon initial
segment, an h-type current in the dendrites), real NEURON, its mechanisms compiled by
lfpk_hpc's cache; the reference kernels come from LFPykernels 0.2.0 in another process
(tests/lfpykernels_active_reference.py) with hand-frozen and hand-linearised copies of
the channels (tests/data/active_cell/reference_mod)."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import LFPYKERNELS_HINT, ROOT, need_module, rel_diff

from lfpk_hpc import params
from lfpk_hpc.kernel import KernelEngine

ACTIVE = ROOT / "tests" / "data" / "active_model.py"
TOL = 1e-6  # max |difference| / max |reference|, per probe
V_HOLD = -60.0  # mV
CASES = {  # reference case -> (linearisation, v_hold)
    "passive": ("passive", None),
    "frozen": ("frozen", None),
    "quasi_active": ("quasi-active", None),
    "frozen_hold": ("frozen", V_HOLD),
}


@pytest.fixture(scope="module")
def active_model():
    return params.load(ACTIVE)


def with_cell(model, vrest=None, **changes):
    """``model`` with P's cell model changed (and P's Vrest)."""
    pops = tuple(
        dataclasses.replace(p, cell=dataclasses.replace(p.cell, **changes)) if p.name == "P" else p
        for p in model.populations
    )
    ks = model.kernel
    if vrest is not None:
        ks = dataclasses.replace(ks, Vrest={"P": vrest})
    return params.validate(dataclasses.replace(model, populations=pops, kernel=ks))


def reference_spec(model) -> dict:
    """The numbers of ``model`` as LFPykernels takes them (see the reference script)."""
    cell = model.population("P").cell
    X = list(model.presynaptic("P"))
    cons = [model.connection(x, "P") for x in X]
    lfp = model.probes[0]
    return {
        "X": X,
        "Y": "P",
        "N_X": [model.population(x).N for x in X],
        "N_Y": model.population("P").N,
        "C_YX": [c.C for c in cons],
        "template": str(model.path(cell.template.file)),
        "template_name": cell.template.name,
        "template_args": list(cell.template.args),
        "lambda_f": cell.lambda_f,
        "population": dataclasses.asdict(model.population("P").geometry),
        "multapses": [dict(c.multapses.params) for c in cons],
        "delays": [dict(c.delay.params) for c in cons],
        "synapses": [
            {
                "weight": c.synapse.weight,
                "syntype": c.synapse.model,
                "tau1": c.synapse.tau1,
                "tau2": c.synapse.tau2,
                "e": c.synapse.e,
            }
            for c in cons
        ],
        "positions": [
            {
                "sections": list(c.placement.sections),
                "depth": [{"name": d.name, "params": dict(d.params)} for d in c.placement.depth],
                "weights": list(c.placement.weights),
            }
            for c in cons
        ],
        "lfp": {"z": list(lfp.z), "sigma": lfp.sigma, "R": lfp.R, "sigma_z": lfp.sigma_z},
        "dt": model.kernel.dt,
        "tau": model.kernel.tau,
        "t_X": model.kernel.t_X,
        "v_hold": V_HOLD,
        "cases": list(CASES),
    }


@pytest.fixture(scope="module")
def active_reference(active_model, tmp_path_factory):
    need_module("lfpykernels", LFPYKERNELS_HINT)
    folder = tmp_path_factory.mktemp("active_reference")
    spec = folder / "spec.json"
    spec.write_text(json.dumps(reference_spec(active_model)))
    out = folder / "reference.npz"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "lfpykernels_active_reference.py"), str(spec), out],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(np.load(out))


def test_reference_linearisations_differ(active_reference):
    """The four reference cells give kernels that differ by far more than the tolerance
    (the equivalence below could not hold by accident)."""
    cases = list(CASES)
    for i, a in enumerate(cases):
        for b in cases[i + 1 :]:
            for key in ("E/lfp", "I/cdm"):
                assert (
                    rel_diff(active_reference[f"{a}/{key}"], active_reference[f"{b}/{key}"]) > 1e-3
                )


@pytest.mark.parametrize("case", list(CASES))
def test_linearisations_equal_lfpykernels(active_model, active_reference, case):
    """Every linearisation of the user's template with its own mod files gives the
    kernels LFPykernels gives for the same cell made linear by hand."""
    kind, v_hold = CASES[case]
    ref_rest = active_reference["rest/v"]
    if case == "passive":
        # the cell's own leak, the synapses linearised at the active cell's rest
        model = with_cell(active_model, vrest=tuple(ref_rest.tolist()), linearisation=kind)
    else:
        model = with_cell(active_model, linearisation=kind, v_hold=v_hold)
    engine = KernelEngine(model)
    engine.load_mechanisms()
    for X in ("E", "I"):
        result = engine.compute(X, "P")
        assert result.n_seg == ref_rest.size == 27
        for probe in ("lfp", "cdm"):
            ref = active_reference[f"{case}/{X}/{probe}"]
            assert np.abs(ref).max() > 0
            assert rel_diff(result.kernels[probe], ref) < TOL, (case, X, probe)
    if case in ("frozen", "quasi_active"):
        # the linear cell rests where the active model rests, segment by segment
        cell = result.extra["cell"]
        np.testing.assert_allclose(cell["v_rest"], ref_rest, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(cell["vrest_synapses"], cell["v_rest"])
    engine.close()
