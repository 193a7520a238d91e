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


# --------------------------------------------------------------------------- the routes


def test_template_and_biophysics_function_give_the_same_kernels(active_model):
    """The cell as a hoc template (with its argument) and as a morphology file plus a
    biophysics function (LFPy's custom_fun) is the same cell: the same kernels."""
    import runpy

    module = runpy.run_path(str(ACTIVE))
    via_function = dataclasses.replace(
        active_model,
        populations=tuple(
            dataclasses.replace(p, cell=module["cell_biophysics"]) if p.name == "P" else p
            for p in active_model.populations
        ),
    )
    via_function = params.validate(via_function)
    assert via_function.hash() != active_model.hash()
    results = []
    for model in (active_model, via_function):
        engine = KernelEngine(model)
        engine.load_mechanisms()
        results.append(engine.compute("I", "P"))
        engine.close()
    a, b = results
    for probe in ("lfp", "cdm"):
        assert rel_diff(b.kernels[probe], a.kernels[probe]) < 1e-12
    np.testing.assert_allclose(b.extra["cell"]["v_rest"], a.extra["cell"]["v_rest"], atol=1e-9)


# --------------------------------------------------------------------------- at rest


@pytest.mark.parametrize("kind", ["frozen", "quasi-active"])
@pytest.mark.parametrize("g_eff", [False, True])
def test_linear_cell_stays_at_rest(active_model, kind, g_eff):
    """The linear cell starts at its rest (every node at its own potential) and stays
    there over the kernel window without input: no drift of the potentials or the
    membrane currents (which are not zero: a non-uniform rest carries steady axial
    currents). With g_eff the added leak moves the rest, and the cell is moved there."""
    from lfpk_hpc.params import Extrinsic, Synapse

    model = with_cell(active_model, linearisation=kind)
    if g_eff:
        ext = Extrinsic(n_ext=300, nu_ext=40.0, synapse=Synapse("Exp2Syn", 2e-4, 0.2, 1.8, 0.0))
        model = params.validate(
            dataclasses.replace(
                model,
                extrinsic={"P": ext},
                kernel=dataclasses.replace(model.kernel, g_eff=True),
            )
        )
    engine = KernelEngine(model)
    engine.load_mechanisms()
    cell = engine._cell_of("P")
    ks = model.kernel
    n = int(round(ks.tau / ks.dt)) + 1
    imem = cell.simulate(np.zeros(n), ks.dt)
    v_end = np.array([seg.v for seg in cell.segments])
    np.testing.assert_allclose(v_end, cell.v_segments, rtol=0, atol=1e-9)
    steady = imem[:, 1:]  # sample 0 reflects finitialize (no axial currents there)
    assert np.abs(steady - steady[:, :1]).max() < 1e-9 * np.abs(steady).max()
    assert np.abs(steady).max() > 1e-6  # nA: the steady axial currents are there
    info = engine.linearisation("P")
    if g_eff:  # the effective leak depolarises nothing but moves the rest toward e_pas
        assert np.abs(cell.v_segments - info.v_rest).max() > 0.1
    else:
        np.testing.assert_allclose(cell.v_segments, info.v_rest, atol=1e-9)
    engine.close()


# --------------------------------------------------------------------------- AP kernels


def test_action_potential_kernel(active_model):
    """H^AP of the active cell: exactly zero before the spike's onset (the current
    pulse that triggers it), the dipole's peak within 3 ms after the onset, and
    lag 0 at the spike (the soma crossing −10 mV)."""
    engine = KernelEngine(active_model)
    engine.load_mechanisms()
    result = engine.compute("(AP)", "P")
    ks = active_model.kernel
    n_tau = int(round(ks.tau / ks.dt))
    lags = (np.arange(2 * n_tau + 1) - n_tau) * ks.dt
    onset = result.extra["ap"]["onset_ms"]
    assert -3.0 < onset < 0.0
    for probe, H in result.kernels.items():
        assert H.shape[1] == 2 * n_tau + 1
        assert not H[:, lags < onset].any(), probe
        assert np.abs(H).max() > 0
    cdm = result.kernels["cdm"][2]
    peak = lags[np.argmax(np.abs(cdm))]
    assert onset < peak <= onset + 3.0, (onset, peak)
    # the cell rests where the frozen cell does (its own rest, -64.3 mV at the soma)
    assert result.extra["ap"]["v_soma_mV"] == pytest.approx(-64.33, abs=0.01)
    assert result.extra["ap"]["n_spikes"] == 1
    engine.close()


# --------------------------------------------------------------------------- the file


@pytest.fixture(scope="module")
def active_kernels(tmp_path_factory):
    """The kernels file of tests/data/active_model.py, one process."""
    from conftest import lfpk

    out = tmp_path_factory.mktemp("active_kernels") / "serial.h5"
    proc = subprocess.run(lfpk(ACTIVE, "--out", out), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "AP of P done" in proc.stdout
    return out


def test_kernels_file_records_cells_and_action_potentials(active_kernels, active_model):
    import h5py

    from lfpk_hpc.store import read_kernel

    with h5py.File(active_kernels, "r") as f:
        cell = f["cells/P"]
        assert cell.attrs["linearisation"] == "frozen"
        assert "lfpkt_na" in cell.attrs["mechanisms_replaced"]
        v_rest = cell["v_rest"][...]
        assert cell["v_rest"].attrs["units"] == "mV" and v_rest.shape == (27,)
        np.testing.assert_array_equal(cell["vrest_synapses"][...], v_rest)
        assert np.ptp(v_rest) > 0.1  # a non-uniform rest (the dendrites' h current)
        assert (cell["g"][...] > 0).all() and cell["g"].attrs["units"] == "S/cm²"
        for probe, units in (("lfp", "mV"), ("cdm", "nA·µm")):
            ds = f[f"ap_kernels/{probe}/P"]
            assert ds.attrs["complete"] and ds.attrs["units"] == units
            assert ds.attrs["onset_ms"] < 0 and ds.attrs["pulse_nA"] > 0
            assert np.abs(ds[...]).max() > 0
        rows = {(x.decode(), y.decode()) for x, y in zip(f["tasks/X"], f["tasks/Y"], strict=True)}
        assert rows == {("E", "P"), ("I", "P"), ("(AP)", "P")}
    # the synaptic kernels read back as ever
    k = read_kernel(active_kernels, "lfp", "P", "I")
    assert k.data.shape == (15, 1601)


@pytest.mark.mpi
def test_active_kernels_on_two_ranks_and_resumed(active_kernels, tmp_path):
    """Two ranks (parallel HDF5 or rank 0 writing) give the serial file bit for bit,
    action-potential kernel and linear cell included; a run whose task fails keeps
    the others' checkpoints and --resume finishes it to the same file."""
    import os

    from conftest import assert_same_kernel_files, lfpk, mpi_env, mpirun_command

    out = tmp_path / "two.h5"
    proc = subprocess.run(
        mpirun_command(2, ACTIVE, "--out", out), env=mpi_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert_same_kernel_files(out, active_kernels)
    broken = tmp_path / "broken.h5"
    env = {**os.environ, "LFPK_HPC_FAULT": "task:I->P"}
    proc = subprocess.run(lfpk(ACTIVE, "--out", broken), env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "task I->P failed" in proc.stderr, proc.stderr
    proc = subprocess.run(lfpk(ACTIVE, "--out", broken, "--resume"), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 tasks to compute" in proc.stdout, proc.stdout
    assert_same_kernel_files(broken, active_kernels)


# --------------------------------------------------------------------------- predict


def test_predict_adds_action_potentials(active_kernels, tmp_path):
    """predict with the action-potential kernels minus predict without them is
    numpy.convolve of P's own spike counts with H^AP_P, per channel; --no-ap leaves
    them out; without P's spikes predict names P and the switch."""
    import h5py
    from conftest import lfpk

    from lfpk_hpc.predict import predict

    rng = np.random.default_rng(5)
    t_stop = 300.0
    spikes = {name: np.sort(rng.uniform(0, t_stop, n)) for name, n in (("E", 400), ("I", 300))}
    spikes["P"] = np.sort(rng.uniform(0, t_stop, 60))
    np.savez(tmp_path / "spikes.npz", **spikes)
    with_ap = predict(
        active_kernels,
        tmp_path / "spikes.npz",
        tmp_path / "ap.h5",
        t_stop=t_stop,
        log=lambda m: None,
    )
    without = predict(
        active_kernels,
        tmp_path / "spikes.npz",
        tmp_path / "no.h5",
        t_stop=t_stop,
        ap=False,
        log=lambda m: None,
    )
    dt = 2**-4
    n_bins = int(round(t_stop / dt))
    counts = np.bincount(np.floor(spikes["P"] / dt).astype(int), minlength=n_bins)
    with (
        h5py.File(with_ap, "r") as a,
        h5py.File(without, "r") as b,
        h5py.File(active_kernels, "r") as k,
    ):
        assert a.attrs["action_potentials"] and not b.attrs["action_potentials"]
        assert "action_potentials" not in b
        for probe in ("lfp", "cdm"):
            H = k[f"ap_kernels/{probe}/P"][...]
            ref = np.array([np.convolve(counts, h, "same") for h in H])
            added = a[f"signals/{probe}"][...] - b[f"signals/{probe}"][...]
            scale = np.abs(ref).max()
            assert scale > 0
            np.testing.assert_allclose(added, ref, rtol=0, atol=1e-9 * scale)
            np.testing.assert_allclose(
                a[f"action_potentials/{probe}/P"][...], ref, atol=1e-9 * scale
            )
    # without P's spikes: named, with the way out
    np.savez(tmp_path / "no_p.npz", E=spikes["E"], I=spikes["I"])
    proc = subprocess.run(
        lfpk(
            "predict",
            active_kernels,
            tmp_path / "no_p.npz",
            "--out",
            tmp_path / "x.h5",
            "--tstop",
            300,
        ),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "'P'" in proc.stderr and "--no-ap" in proc.stderr, proc.stderr
    proc = subprocess.run(
        lfpk("predict", active_kernels, tmp_path / "no_p.npz", "--out", tmp_path / "x.h5")
        + ["--tstop", "300", "--no-ap"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- bad input


def _mod(folder, name, suffix):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(
        f"NEURON {{\n    SUFFIX {suffix}\n    NONSPECIFIC_CURRENT i\n}}\n"
        "ASSIGNED { i (mA/cm2) }\nBREAKPOINT { i = 0 }\n"
    )
    return folder


@pytest.mark.parametrize(
    "change, param, words",
    [
        (
            lambda t: {"template": params.Template("nope.hoc", "LfpktCell")},
            ".template.file",
            "no such file",
        ),
        (
            lambda t: {
                "template": params.Template(str(ACTIVE.parent / "active_cell/cell.hoc"), "LfpkCell")
            },
            ".template.name",
            "it defines LfpktCell",
        ),
        (lambda t: {"mechanisms": "nowhere/"}, ".mechanisms", "no such folder"),
        (
            lambda t: {"mechanisms": str(_mod(t / "a", "x.mod", "pas"))},
            ".mechanisms",
            "'pas', which NEURON has built in",
        ),
        (
            lambda t: {"mechanisms": str(_mod(t / "b", "x.mod", "lfpk_drive"))},
            ".mechanisms",
            "lfpk_hpc's own mod/lfpk_drive.mod",
        ),
        (lambda t: {"e_pas": -70.0}, ".e_pas", "sets its own"),
        (lambda t: {"Ra": 150.0}, ".Ra", "sets its own"),
        (
            lambda t: {"linearisation": "linear"},
            ".linearisation",
            "allowed: passive, frozen, quasi-active",
        ),
        (lambda t: {"v_hold": float("nan")}, ".v_hold", "within ±200 mV"),
        (lambda t: {"rest_time": 0.0}, ".rest_time", "> 0"),
    ],
)
def test_bad_user_model_is_named_at_load(active_model, tmp_path, change, param, words):
    with pytest.raises(params.ParamsError) as err:
        with_cell(active_model, **change(tmp_path))
    msg = str(err.value)
    assert msg.startswith(f"populations[P].cell{param} = ") and words in msg, msg
    assert "\n" not in msg


def test_bad_biophysics_and_passive_cables_are_named(active_model):
    import runpy

    cell = runpy.run_path(str(ACTIVE))["cell_biophysics"]
    bad = dataclasses.replace(cell, biophysics_args={"gbar_ih": 1e-4})
    with pytest.raises(params.ParamsError, match=r"cell\.biophysics_args = .*unexpected keyword"):
        with_cell(
            active_model,
            **{
                k: getattr(bad, k)
                for k in ("morphology", "template", "biophysics", "biophysics_args")
            },
        )
    readme = params.load(ROOT / "params" / "lfpykernels_readme.py")
    cable = dataclasses.replace(readme.population("E").cell, linearisation="frozen")
    pops = tuple(
        dataclasses.replace(p, cell=cable) if p.name == "E" else p for p in readme.populations
    )
    with pytest.raises(
        params.ParamsError, match=r"cell\.linearisation = 'frozen' is invalid: .* passive cable"
    ):
        params.validate(dataclasses.replace(readme, populations=pops))
    ks = dataclasses.replace(readme.kernel, Vrest={"E": "cell"})
    with pytest.raises(
        params.ParamsError, match=r"kernel\.Vrest\[E\] = 'cell' is invalid: .*passive cable"
    ):
        params.validate(dataclasses.replace(readme, kernel=ks))


def test_two_folders_with_one_mechanism_name(active_model, tmp_path):
    """Two populations whose mechanism folders define one name differently: named at
    load; and at run time a folder whose mechanism NEURON already has is named."""
    from lfpk_hpc.mechanisms import MechanismClash, load_user_mechanisms

    other = tmp_path / "other"
    other.mkdir()
    text = (ACTIVE.parent / "active_cell/mod/lfpkt_ih.mod").read_text() + "\n: changed\n"
    (other / "lfpkt_ih.mod").write_text(text)
    Q = dataclasses.replace(active_model.population("P"), name="Q")
    Q = dataclasses.replace(Q, cell=dataclasses.replace(Q.cell, mechanisms=str(other)))
    cons = active_model.connections + tuple(
        dataclasses.replace(c, post="Q") for c in active_model.connections
    )
    model = dataclasses.replace(
        active_model,
        populations=active_model.populations + (Q,),
        connections=cons,
        kernel=dataclasses.replace(active_model.kernel, Vrest={"P": "cell", "Q": "cell"}),
    )
    with pytest.raises(
        params.ParamsError,
        match=r"populations\[Q\]\.cell\.mechanisms = .*'lfpkt_ih', which populations\[P\]",
    ):
        params.validate(model)
    KernelEngine(active_model).load_mechanisms()  # the tests' folder is loaded
    with pytest.raises(
        MechanismClash,
        match=r"already defines 'lfpkt_ih' \(lfpkt_ih.mod; taken by one of a library loaded",
    ):
        load_user_mechanisms(other)
    assert MechanismClash.exit_code == 2


def test_bad_model_found_when_built(active_model, tmp_path):
    """What only the built cell tells: a placement naming a section the template does
    not create (listed), a model that does not come to rest in rest_time, a template
    that fails in NEURON; the command line stops with exit code 2 and one line."""
    from conftest import lfpk

    con = dataclasses.replace(
        active_model.connection("E", "P"),
        placement=dataclasses.replace(
            active_model.connection("E", "P").placement, sections=("basal",)
        ),
    )
    model = dataclasses.replace(active_model, connections=(con, active_model.connection("I", "P")))
    engine = KernelEngine(params.validate(model))
    engine.load_mechanisms()
    with pytest.raises(
        params.ParamsError,
        match=r"connections\[E->P\]: placement.sections = \('basal',\) is invalid: "
        r".*LfpktCell\[\d+\]\.apic\[0\]",
    ):
        engine.prepare()
    import runpy

    cell = runpy.run_path(str(ACTIVE))["cell_biophysics"]  # with a leak that makes it fire
    fires = {k: getattr(cell, k) for k in ("morphology", "template", "biophysics")}
    fires["biophysics_args"] = {"e_pas": -45.0}
    engine = KernelEngine(with_cell(active_model, rest_time=200.0, **fires))
    engine.load_mechanisms()
    with pytest.raises(
        params.ParamsError,
        match=r"populations\[P\]\.cell\.rest_time = 200 is invalid: the model does not come",
    ):
        engine.compute("E", "P")
    broken = tmp_path / "broken.hoc"
    broken.write_text(
        (ACTIVE.parent / "active_cell/cell.hoc")
        .read_text()
        .replace("gbar_lfpkt_ih = $1", "gbar_lfpkt_ih = $1 + nosuchname")
    )
    mod = ACTIVE.parent / "active_cell/mod"
    (tmp_path / "p.py").write_text(
        "import dataclasses\nimport runpy\n"
        f"m = runpy.run_path({str(ACTIVE)!r})['model']\n"
        "P = m.populations[0]\n"
        f"t = dataclasses.replace(P.cell.template, file={str(broken)!r})\n"
        f"cell = dataclasses.replace(P.cell, template=t, mechanisms={str(mod)!r})\n"
        "pops = (dataclasses.replace(P, cell=cell),) + m.populations[1:]\n"
        "model = dataclasses.replace(m, populations=pops)\n"
    )
    proc = subprocess.run(
        lfpk(tmp_path / "p.py", "--out", tmp_path / "k.h5"), capture_output=True, text=True
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lfpk_hpc: error: ") and "populations[P].cell.template = " in last, last


# --------------------------------------------------------------------------- passive cables


#: the parameter hashes and the SHA-256 of every kernel (sorted by name, name then
#: float64 bytes) of the shipped passive models, as the code before issue 13 wrote
#: them (NumPy's FFT on x86-64 Linux: the kernels' bytes are this machine's)
BEFORE_ISSUE_13 = {
    "lfpykernels_readme": (
        "2854a727cf4ef8cd6cfa65b9fa355402dd815c709f34adf41998c3cc0b6076f4",
        "166e4be03e9d55d64313d8b1dbca6e677efb76547ad58a08f536aabca4948a13",
    ),
    "hagen2022": (
        "a168bf6d5a7b51a5020937423bfb32fd9cda0eaff3442623b469b9eb4d2e3d56",
        "8287d4c50c357270e1605dd80089382e83f99df82339d4a43582576e735ecda8",
    ),
}


@pytest.mark.parametrize("name", list(BEFORE_ISSUE_13))
def test_passive_cables_unchanged(name, tmp_path):
    """A passive cable's parameters hash and kernels are bit for bit those before the
    user's models came (the schema's new fields stay out of the hash at their defaults;
    the passive route of the engine is untouched)."""
    import hashlib

    import h5py
    from conftest import lfpk

    model = params.load(ROOT / "params" / f"{name}.py")
    params_hash, kernels_sha = BEFORE_ISSUE_13[name]
    assert model.hash() == params_hash
    out = tmp_path / "k.h5"
    proc = subprocess.run(
        lfpk(ROOT / "params" / f"{name}.py", "--out", out), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    with h5py.File(out, "r") as f:
        assert f.attrs["params_hash"] == params_hash
        assert "ap_kernels" not in f and "cells" not in f
        names = []
        f["kernels"].visititems(
            lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None
        )
        digest = hashlib.sha256()
        for n in sorted(names):
            digest.update(n.encode())
            digest.update(f["kernels"][n][...].tobytes())
    assert digest.hexdigest() == kernels_sha


# --------------------------------------------------------------------------- the ground truth


@pytest.mark.mpi
def test_validate_with_active_cells(tmp_path):
    """validate of params/hagen2022_active.py, tiny: the ground truth simulates the
    users' active cells, the kernels linearise them held at its median somatic
    potentials, the action-potential kernels come from the engine and the prediction
    with them differs from the one without by exactly their convolution."""
    import h5py
    from conftest import mpi_env, mpirun_command

    params_file = ROOT / "params" / "hagen2022_active.py"
    cmd = mpirun_command(2, "validate", params_file, "--out", "val", "--scale", "0.02")
    cmd += ["--tstop", "300", "--transient", "100"]
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=mpi_env(), capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    val = tmp_path / "val"
    info = json.loads((val / "groundtruth" / "vrest.json").read_text())
    assert info["soma_conductance"] == {"E": None, "I": None}  # no hh soma here
    metrics = json.loads((val / "metrics.json").read_text())
    for key in ("lfp", "cdm"):
        assert np.isfinite(metrics[key]["r2_median_lowpass"])
        assert np.isfinite(metrics["with_action_potentials"][key]["r2_median_lowpass"])
    with h5py.File(val / "groundtruth" / "signals.h5", "r") as f:
        assert "E: the user's model" in f.attrs["soma_model"]
    with (
        h5py.File(val / "kernels.h5", "r") as k,
        h5py.File(val / "prediction.h5", "r") as a,
        h5py.File(val / "prediction_aps.h5", "r") as b,
        h5py.File(val / "groundtruth" / "spikes.h5", "r") as s,
    ):
        for Y in ("E", "I"):
            cell = k[f"cells/{Y}"]
            assert cell.attrs["linearisation"] == "frozen"
            assert cell.attrs["operating_point"].startswith("held at")
            np.testing.assert_allclose(cell["v_operating_point"][...], info["vrest"][Y])
        added = b["signals/cdm"][2] - a["signals/cdm"][2]
        n_bins = added.size
        ref = 0.0
        for Y in ("E", "I"):
            bins = np.floor(s[Y]["times"][...] / 2**-4).astype(int)
            counts = np.bincount(bins[bins < n_bins], minlength=n_bins)
            ref = ref + np.convolve(counts, k[f"ap_kernels/cdm/{Y}"][2], "same")
        assert np.abs(ref).max() > 0
        np.testing.assert_allclose(added, ref, rtol=0, atol=1e-9 * np.abs(ref).max())


def test_ground_truth_has_one_temperature(active_model):
    """A network whose cells need different temperatures is refused before anything is
    built (NEURON has one temperature): the hh somata of passive cables run at 6.3 °C."""
    from lfpk_hpc.groundtruth import GroundTruthError, check_run_args

    readme = params.load(ROOT / "params" / "lfpykernels_readme.py")
    hot = with_cell(active_model, celsius=34.0)
    P = dataclasses.replace(hot.population("P"), geometry=readme.population("E").geometry)
    pops = readme.populations + (P,)
    cons = readme.connections + tuple(
        dataclasses.replace(c, pre="E" if c.pre == "E" else "I") for c in hot.connections
    )
    mixed = dataclasses.replace(
        readme,
        populations=pops,
        connections=cons,
        extrinsic={**readme.extrinsic, "P": readme.extrinsic["E"]},
        kernel=dataclasses.replace(readme.kernel, Vrest={"E": -65.0, "P": "cell"}),
        base_dir=str(ACTIVE.parent),
    )
    with pytest.raises(GroundTruthError, match=r"one temperature.*E 6.3 °C, P 34 °C"):
        check_run_args(mixed, scale=0.1, tstop=100.0, seed=1, dt=2**-4, transient=10.0)
