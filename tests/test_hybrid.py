"""The hybrid ground truth: one cell against LFPy.Cell with the same synapses, blocks
against single cells, the mean response to one spike against the kernel, ranks and
resume, and bad input."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np
import pytest
from conftest import ROOT, lfpk, mpi_env, mpirun_command

from lfpk_hpc import params
from lfpk_hpc.hybridsim import HybridInputs, block_densities, cell_synapses, simulate_block
from lfpk_hpc.predict import write_spikes

TINY = ROOT / "tests" / "data" / "hybrid_tiny.py"
#: relative agreement with LFPy.Cell (same NEURON model; different summation order)
LFPY_RTOL = 1e-9


def poisson_spikes(model, t_stop, seed=3):
    """{X: (times, senders, N)}: every population Poisson at its rate nu."""
    rng = np.random.default_rng(seed)
    out = {}
    for p in model.populations:
        n = rng.poisson(p.nu * t_stop / 1000 * p.N)
        t = np.sort(rng.uniform(0, t_stop, n))
        out[p.name] = (t, rng.integers(0, p.N, n), p.N)
    return out


def spikes_file(path, spikes, t_stop, drop_senders=False):
    write_spikes(
        path,
        {X: (t, s) for X, (t, s, _n) in spikes.items()},
        {X: n for X, (_t, _s, n) in spikes.items()},
        {"t_start": 0.0, "t_stop": float(t_stop)},
    )
    if drop_senders:
        with h5py.File(path, "r+") as f:
            for g in f.values():
                del g["senders"]
    return path


@pytest.fixture(scope="module")
def tiny():
    return params.load(TINY)


def lfpy_reference(model, inputs, i):
    """Signals of cell i of P from LFPy.Cell with one LFPy.Synapse per synapse (the
    synapses drawn by the hybrid's rule on the LFPy cell's own geometry), probes from
    LFPykit: line-source LFP, dipole moment, four-sphere EEG of the dipole at the soma,
    and for the model's further probes the laminar CSD (µA/mm³) and the MEG (fT, the
    spherical head) of the dipole turned with the column, at the soma's place."""
    import LFPy
    from lfpykit import CurrentDipoleMoment, LaminarCurrentSourceDensity, RecExtElectrode
    from lfpykit.eegmegcalc import FourSphereVolumeConductor

    from lfpk_hpc.cells import stick_morphology_hoc

    pop = model.population("P")
    morph = ROOT / "tests" / "data" / "_hybrid_cell.hoc"
    morph.write_text(stick_morphology_hoc(pop.cell.morphology))
    try:
        cell = LFPy.Cell(
            morphology=str(morph),
            v_init=-65.0,
            Ra=pop.cell.Ra,
            cm=pop.cell.cm,
            passive=True,
            passive_parameters={"g_pas": pop.cell.g_pas, "e_pas": -65.0},
            nsegs_method="lambda_f",
            lambda_f=pop.cell.lambda_f,
            dt=inputs.dt,
            tstart=0.0,
            tstop=inputs.tstop,
            delete_sections=True,
        )
    finally:
        morph.unlink()
    positions, angles = inputs.positions("P")
    cell.set_rotation(**pop.cell.rotation)
    cell.set_rotation(z=angles[i])
    cell.set_pos(*positions[i])
    zmid = cell.z.mean(axis=1)[None, :]
    keep = []
    for X in ("A", "B", "P"):
        con = model.connection(X, "P")
        proto = inputs.prototype("P")
        density = block_densities(proto, con, zmid)[0]
        syn = cell_synapses(model, X, "P", i, density, inputs.seed)
        times, senders, _n = inputs.spikes[X]
        for seg, pre, d in zip(syn.seg, syn.pre, syn.delay, strict=True):
            t = times[(senders == pre) & (times < inputs.tstop)] + d
            kw = {"tau": con.synapse.tau2}
            if con.synapse.model == "Exp2SynI":
                kw = {"tau1": con.synapse.tau1, "tau2": con.synapse.tau2}
            s = LFPy.Synapse(
                cell, idx=int(seg), syntype=con.synapse.model, weight=con.synapse.weight, **kw
            )
            s.set_spike_times(np.sort(t))
            keep.append(s)
    lfp = model.probes[0]
    z = np.asarray(lfp.z)
    el = RecExtElectrode(
        cell, x=np.zeros_like(z), y=np.zeros_like(z), z=z, sigma=lfp.sigma, method="linesource"
    )
    cdm = CurrentDipoleMoment(cell)
    extra = [p for p in model.probes[3:] if isinstance(p, params.LaminarCSDProbe)]
    with warnings.catch_warnings():  # its advice to use segments shorter than the bins
        warnings.simplefilter("ignore", UserWarning)
        csd = [
            LaminarCurrentSourceDensity(
                cell,
                z=np.c_[np.asarray(p.z) - p.h / 2, np.asarray(p.z) + p.h / 2],
                r=np.full(len(p.z), p.r),
            )
            for p in extra
        ]
    cell.simulate(probes=[el, cdm, *csd])
    eeg = model.probes[2]
    head = FourSphereVolumeConductor(
        np.array(eeg.electrodes), radii=list(eeg.radii), sigmas=list(eeg.sigmas)
    )
    loc = np.array([positions[i][0], positions[i][1], eeg.radii[0] + positions[i][2]])
    out = {"lfp": el.data, "cdm": cdm.data, "eeg": head.get_dipole_potential(cdm.data, loc)}
    for p, c in zip(extra, csd, strict=True):
        out[p.name] = 1e6 * c.data  # nA/µm³ -> µA/mm³
    for p in model.probes[3:]:
        if isinstance(p, params.MEGProbe):  # LFPykit's field of the turned dipole
            from lfpykit.eegmegcalc import SphericallySymmetricVolCondMEG

            from lfpk_hpc.probes import column_rotation

            rot = column_rotation(p.column_axis)
            where = np.array([0.0, 0.0, p.brain_radius]) + rot @ np.asarray(positions[i])
            sensors = np.asarray(p.sensors)
            H = SphericallySymmetricVolCondMEG(sensors).calculate_H(rot @ cdm.data, where)
            n = sensors / np.linalg.norm(sensors, axis=1)[:, None]
            out[p.name] = 4 * np.pi * 1e5 * np.einsum("sc,sct->st", n, H)  # nA/µm -> fT
    n_syn = len(keep)
    del keep, cell
    return out, n_syn


@pytest.mark.parametrize(
    "rule,synapses",
    [("linear", "mixed"), ("log", "mixed"), ("log", "ExpSynI")],
    ids=["linear", "log", "log-ExpSynI-only"],
)
def test_one_cell_equals_lfpy_cell(tiny, rule, synapses):
    """With mixed synapse models every segment's synapses of a model are one point
    process fed by trains through NetCons; with ExpSynI of one tau alone they are the
    density mechanism lfpk_hsyn kicked by the trains. Both equal LFPy's one ExpSynI /
    Exp2SynI per synapse."""
    model = dataclasses.replace(tiny, synapse_count=rule)
    if synapses == "ExpSynI":
        cons = tuple(
            dataclasses.replace(c, synapse=params.exp_psc(-0.15, 0.5)) if c.pre == "B" else c
            for c in model.connections
        )
        model = dataclasses.replace(model, connections=cons)
    spikes = poisson_spikes(model, 120.0)
    inputs = HybridInputs(model, spikes, 0.0, 120.0, 2**-4, seed=11)
    i = 4
    res = simulate_block(inputs, "P", 0, i, 1)
    ref, n_syn = lfpy_reference(model, inputs, i)
    assert res.n_synapses == n_syn > 20 and res.n_events > 50
    n = inputs.n_bins
    for p in ("lfp", "cdm", "eeg"):
        a, b = res.signals[p], ref[p][:, :n]
        assert a.shape == b.shape, p
        scale = np.abs(b).max()
        assert scale > 0
        assert np.abs(a - b).max() <= LFPY_RTOL * scale, (p, np.abs(a - b).max() / scale)


def test_block_equals_sum_of_its_cells(tiny):
    spikes = poisson_spikes(tiny, 60.0)
    inputs = HybridInputs(tiny, spikes, 0.0, 60.0, 2**-4, seed=2)
    block = simulate_block(inputs, "P", 0, 1, 3)
    cells = [simulate_block(inputs, "P", k, 1 + k, 1) for k in range(3)]
    assert block.n_synapses == sum(c.n_synapses for c in cells)
    assert block.n_events == sum(c.n_events for c in cells)
    for p in ("lfp", "cdm", "eeg"):
        total = sum(c.signals[p] for c in cells)
        assert np.abs(block.signals[p] - total).max() <= 1e-12 * np.abs(total).max(), p


def test_mean_response_to_one_spike_approaches_the_kernel(tiny):
    """Law of large numbers: every neuron of S fires once, alone; the mean dipole
    response of 200 cells to one spike is the kernel H_PS (no soma spread, so every
    cell has the kernel cell's synapse density and the kernel is the mean exactly),
    within 4.5 standard errors of the sample mean plus 1 % of the peak (discretised
    delays)."""
    from lfpk_hpc.kernel import KernelEngine
    from lfpk_hpc.params import Connection, Population, truncnorm

    pop = tiny.population("P")
    n_s, gap = 40, 25.0
    model = dataclasses.replace(
        tiny,
        populations=(
            Population("S", N=n_s, nu=1000.0 / gap / n_s),
            dataclasses.replace(pop, N=200, geometry=dataclasses.replace(pop.geometry, scale=0.0)),
        ),
        connections=(
            Connection(
                "S",
                "P",
                0.25,
                tiny.connection("A", "P").multapses,
                truncnorm(1.0, 0.2, a=-2.0, b=2.0),
                tiny.connection("A", "P").synapse,
                tiny.connection("A", "P").placement,
            ),
        ),
        kernel=dataclasses.replace(tiny.kernel, tau=20.0, dt=0.125),
    )
    model = params.validate(model)
    t_stop = n_s * gap + 10.0
    times = 5.0 + gap * np.arange(n_s)
    spikes = {"S": (times, np.arange(n_s), n_s)}
    inputs = HybridInputs(model, spikes, 0.0, t_stop, 0.125, seed=9)
    res = simulate_block(inputs, "P", 0, 0, 200)
    dt, n_tau = 0.125, int(round(20.0 / 0.125))
    engine = KernelEngine(model)
    H = engine.compute("S", "P").kernels["cdm"][2, n_tau:]  # lags 0 .. tau
    engine.close()
    k0 = np.round(times / dt).astype(int)
    samples = np.array([res.signals["cdm"][2, k : k + n_tau + 1] for k in k0])
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(n_s)
    peak = np.abs(H).max()
    assert peak > 0
    assert np.all(np.abs(mean - H) <= 4.5 * se + 0.01 * peak), np.max(
        (np.abs(mean - H) - 4.5 * se) / peak
    )
    # as a whole: the error is what the sample size allows (its expected norm is
    # √Σ se²), and the agreement is a real one (seen: 5 % of |H|, 3.6 % per lag SE)
    assert np.linalg.norm(mean - H) <= 3 * np.sqrt(np.sum(se**2)) + 0.01 * np.linalg.norm(H)
    assert np.linalg.norm(mean - H) < 0.15 * np.linalg.norm(H)
    assert np.abs(mean).max() > 0.5 * peak


def run(cmd, cwd, timeout=300, env=None):
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=env or mpi_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


#: attributes of a hybrid signals file that say how it was computed, not what
RUN_ATTRS = {
    "created",
    "ranks",
    "wall_time_s",
    "wall_time_setup_s",
    "wall_time_tasks_s",
    "write_path",
}


def signals_file_contents(path):
    out = {}
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name not in (
                "blocks/rank",
                "blocks/wall_time_s",
                "blocks/timings",
            ):
                out[name] = obj[...]

        f.visititems(visit)
        out["/"] = {
            k: (v.tolist() if hasattr(v, "tolist") else v)
            for k, v in f.attrs.items()
            if k not in RUN_ATTRS
        }
    return out


def assert_same_signals_files(a, b):
    ca, cb = signals_file_contents(a), signals_file_contents(b)
    assert ca.keys() == cb.keys()
    assert ca["/"] == cb["/"]
    for key in ca:
        if key != "/":
            np.testing.assert_array_equal(ca[key], cb[key], err_msg=key)


HYB = ("--tstop", "80", "--block-segments", "100", "--seed", "5")


@pytest.fixture(scope="module")
def tiny_spikes(tmp_path_factory, tiny):
    d = tmp_path_factory.mktemp("hyb_spikes")
    return spikes_file(d / "spikes.h5", poisson_spikes(tiny, 100.0), 100.0)


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory, tiny_spikes):
    cwd = tmp_path_factory.mktemp("hyb1")
    proc = run(lfpk("hybrid", TINY, tiny_spikes, "--out", "h", *HYB), cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cwd / "h" / "signals.h5", proc.stdout


def test_serial_run_file(serial_run, tiny):
    path, stdout = serial_run
    with h5py.File(path, "r") as f:
        assert f.attrs["source"] == "lfpk_hpc hybrid" and f.attrs["complete"]
        assert f.attrs["cells_P"] == 6 and f.attrs["events_P"] > 0
        assert f["signals/lfp"].shape == (3, 1280) and f["signals/cdm"].shape == (3, 1280)
        assert f["signals/lfp"].attrs["units"] == "mV"
        total = f["contributions/lfp/P"][...]
        np.testing.assert_array_equal(f["signals/lfp"][...], total)
        assert f["blocks/count"][...].sum() == 6 and f["blocks/Y"].shape[0] == 3
    assert "3 blocks to compute" in stdout and "all computing" in stdout


@pytest.mark.mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_same_file_on_any_number_of_ranks(serial_run, tiny_spikes, tmp_path, ranks):
    proc = run(mpirun_command(ranks, "hybrid", TINY, tiny_spikes, "--out", "h", *HYB), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_same_signals_files(serial_run[0], tmp_path / "h" / "signals.h5")
    with h5py.File(tmp_path / "h" / "signals.h5", "r") as f:
        assert f.attrs["ranks"] == ranks
        assert len(set(f["blocks/rank"][...].tolist())) > 1  # more than one rank computed


def test_killed_run_resumes_to_the_same_file(serial_run, tiny_spikes, tmp_path):
    """kill -9 after two of the six one-cell blocks, then --resume: the three (or
    more) finished blocks are not computed again, and the file equals the serial run's."""
    args = ("hybrid", TINY, tiny_spikes, "--out", "h", "--tstop", "80", "--seed", "5")
    cmd = lfpk(*args, "--block-segments", "1")
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=mpi_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    done = 0
    for line in proc.stdout:
        if " done on rank " in line:
            done += 1
            if done == 2:
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.wait(timeout=60)
    parts = tmp_path / "h" / "signals.h5.parts"
    assert parts.is_dir() and not (tmp_path / "h" / "signals.h5").exists()
    kept = len(list(parts.glob("block_*.npz")))
    assert kept >= 2
    res = run(lfpk(*args, "--block-segments", "1", "--resume"), tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{kept} already done" in res.stdout and f"{6 - kept} blocks to compute" in res.stdout
    assert res.stdout.count(" done on rank ") == 6 - kept
    # one-cell blocks and three-cell blocks: the same signals to rounding
    with h5py.File(tmp_path / "h" / "signals.h5", "r") as a, h5py.File(serial_run[0]) as b:
        for p in ("lfp", "cdm", "eeg"):
            x, y = a[f"signals/{p}"][...], b[f"signals/{p}"][...]
            assert np.abs(x - y).max() <= 1e-12 * np.abs(y).max(), p
    # and an uninterrupted run with one-cell blocks: bit for bit
    res2 = run(lfpk(*args, "--block-segments", "1"), tmp_path)
    assert res2.returncode == 2 and "exists" in res2.stderr  # never replaced silently
    other = tmp_path / "other"
    other.mkdir()
    res3 = run(
        lfpk(*args[:3], "--out", str(other / "h"), *args[5:], "--block-segments", "1"), tmp_path
    )
    assert res3.returncode == 0, res3.stdout + res3.stderr
    assert_same_signals_files(tmp_path / "h" / "signals.h5", other / "h" / "signals.h5")


def test_bad_input_exits_2_before_simulating(tiny, tiny_spikes, tmp_path):
    spikes = poisson_spikes(tiny, 100.0)
    no_senders = spikes_file(tmp_path / "nos.h5", spikes, 100.0, drop_senders=True)
    wrong_n = dict(spikes)
    wrong_n["A"] = (spikes["A"][0], spikes["A"][1], 21)
    wrong = spikes_file(tmp_path / "wrongn.h5", wrong_n, 100.0)
    missing = {k: v for k, v in spikes.items() if k != "B"}
    miss = spikes_file(tmp_path / "miss.h5", missing, 100.0)
    late = {X: (t + 500.0, s, n) for X, (t, s, n) in spikes.items()}
    silent = spikes_file(tmp_path / "late.h5", late, 100.0)
    cases = [
        ((no_senders,), "has no 'senders'"),
        ((wrong,), "population A has N = 21 neurons, but the params"),
        ((miss,), "no spikes for population 'B'"),
        ((silent,), "no spikes in the window [0, 100) ms"),
        ((tiny_spikes, "--tstart", "50", "--tstop", "50"), "is empty"),
        ((tiny_spikes, "--tstop", "80.01"), "whole, non-zero multiple of dt"),
        ((tmp_path / "absent.h5",), "do not exist"),
    ]
    for extra, needle in cases:
        t0 = time.perf_counter()
        proc = run(lfpk("hybrid", TINY, *extra, "--out", "h"), tmp_path)
        assert proc.returncode == 2, (extra, proc.stdout + proc.stderr)
        assert needle in proc.stderr, (needle, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert time.perf_counter() - t0 < 60
        assert not (tmp_path / "h" / "signals.h5").exists()


def test_python_api_reports_the_scale_mismatch(tiny, tmp_path):
    from lfpk_hpc.hybrid import HybridError, prepare_inputs

    f = spikes_file(tmp_path / "s.h5", poisson_spikes(tiny, 50.0), 50.0)
    with pytest.raises(HybridError, match="--scale 0.5"):
        prepare_inputs(tiny, f, scale=0.5)
    assert sys.executable


@pytest.fixture(scope="module")
def pd14_block_inputs():
    """PD14 at 2 % (ExpSynI only: the lfpk_hsyn states), 100 ms of Poisson spikes with
    on-grid duplicates and spikes at 0 ms, full in-degrees."""
    from lfpk_hpc import pd14
    from lfpk_hpc.groundtruth import scaled_model

    model = scaled_model(pd14.build(), 0.02, "full")
    rng = np.random.default_rng(11)
    spikes = {}
    for p in model.populations:
        n = rng.poisson(p.nu * 0.1 * p.N)
        t = np.r_[rng.uniform(0, 100, n), np.round(rng.uniform(0, 100, n // 3), 1), 0.0, 0.0]
        spikes[p.name] = (np.sort(t), rng.integers(0, p.N, t.size), p.N)
    return HybridInputs(model, spikes, 0.0, 100.0, 0.1, seed=4)


def test_compiled_event_delivery_equals_one_train_per_segment(pd14_block_inputs, monkeypatch):
    """The events of the lfpk_hsyn states delivered by the compiled loop
    (lfpk_hpc.imem.EventKicks) give the signals of one LfpkTrain per segment and
    NEURON's event queue bit for bit (the trains are what test_one_cell_equals_lfpy_cell
    checks against LFPy's NetCons); the compiled route is really taken."""
    from lfpk_hpc import hybridsim

    built = []
    trains = hybridsim._kick_trains

    def counting(*args):
        built.append(1)
        return trains(*args)

    monkeypatch.setattr(hybridsim, "_kick_trains", counting)
    for Y in ("L23E", "L5E"):
        fast = simulate_block(pd14_block_inputs, Y, 0, 0, 6)
        assert not built, "the compiled delivery was not used"
        monkeypatch.setattr(hybridsim, "COMPILED_EVENTS", False)
        slow = simulate_block(pd14_block_inputs, Y, 0, 0, 6)
        monkeypatch.setattr(hybridsim, "COMPILED_EVENTS", True)
        assert built and fast.n_events == slow.n_events > 0
        assert fast.n_point_processes == slow.n_point_processes > 0
        # the counts go into the checkpoints' JSON (a numpy integer there failed a run)
        counts = ("n_seg", "n_synapses", "n_events", "n_point_processes")
        json.dumps({c: getattr(fast, c) for c in counts})
        for p in ("lfp", "cdm", "eeg"):
            assert np.abs(slow.signals[p]).max() > 0
            np.testing.assert_array_equal(fast.signals[p], slow.signals[p], err_msg=(Y, p))
        built.clear()


def _own_block(h, inputs, name, n_cells=2):
    """``n_cells`` L2/3 cells with lfpk_hsyn (scale 1, decay 0.9) and their segments."""
    from lfpk_hpc import mechanisms

    mechanisms.load_mechanisms()
    proto = inputs.prototype("L23E")
    cells = [proto.make(h, f"{name}{i}", "lfpk_hsyn") for i in range(n_cells)]
    segments = [seg for secs in cells for sec in secs for seg in sec]
    for seg in segments:
        seg.lfpk_hsyn.scale = 1.0
    h.decay_lfpk_hsyn = 0.9
    h.dt = 0.1
    h.CVode().use_fast_imem(1)
    return cells, segments


#: event times on and between the steps' delivery bounds (t + dt/2, dt 0.1 ms)
EDGE_TIMES = [0.0, 0.05, 0.05, 0.1, 0.15, 0.15 + 1e-9, 0.2499999, 0.35, 0.95, 1.0]


def test_events_at_the_delivery_bounds(pd14_block_inputs):
    """Events at t = 0, at t + dt/2 exactly and just after it: the compiled delivery
    and one LfpkTrain per segment give the same membrane currents bit for bit."""
    from neuron import h

    from lfpk_hpc.cells import delete_all_sections
    from lfpk_hpc.hybridsim import _kick_trains
    from lfpk_hpc.imem import CurrentRecorder, EventKicks

    def currents(use_compiled):
        delete_all_sections()
        cells, segments = _own_block(h, pd14_block_inputs, "edge")
        n = len(segments)
        seg_index = np.repeat(np.arange(n), len(EDGE_TIMES))
        times = np.tile(EDGE_TIMES, n)
        weights = np.linspace(0.1, 1.0, times.size)
        order = np.argsort(times, kind="stable")  # both routes take events in time order
        seg_index, times, weights = seg_index[order], times[order], weights[order]
        h.finitialize(-65.0)
        nodes = CurrentRecorder(h, segments)
        keep = None
        if use_compiled:
            kicks = EventKicks(h, segments, seg_index, times, weights)
            assert nodes.locate() and kicks.locate(nodes.layout[2])
            kicks.attach(nodes._loop)
            nodes.kicks = kicks
        else:
            keep = _kick_trains(h, segments, seg_index, times, weights)
            h.finitialize(-65.0)
            assert nodes.locate()
        h.fcurrent()
        out = nodes.run(15, True).copy()
        del keep, cells
        return out

    compiled, trains = currents(True), currents(False)
    assert np.abs(compiled).max() > 0
    np.testing.assert_array_equal(compiled, trains)


def test_truncated_normal_delays_by_their_upper_tail():
    """PD14's delays (truncnorm, a <= 0, b = inf) are inverted without scipy's general
    ppf: equal to it where scipy is accurate, exact where it is not (the tail, against
    the formula in 50 digits), never below the cut, and other distributions are
    scipy's."""
    import mpmath
    import scipy.stats as st

    from lfpk_hpc.hybridsynapses import _delays
    from lfpk_hpc.params import Distribution, truncnorm

    rng = np.random.default_rng(3)
    u = np.r_[0.0, 1e-300, rng.random(20_000) * (1 - 1e-6), 0.5]
    tail = np.array([1 - 1e-10, 1 - 2**-53])
    for a, loc, scale in ((-1.9333333333333333, 1.5, 0.75), (0.0, 1.0, 0.5), (-4.0, 3.0, 1.0)):
        dist = truncnorm(loc, scale, a=a)
        got = _delays(dist, u)
        assert np.abs(got - st.truncnorm.ppf(u, **dict(dist.params))).max() < 1e-12
        assert got.min() >= loc + a * scale and np.all(np.diff(np.sort(u)) >= 0)
        mpmath.mp.dps = 50
        q = 1 - mpmath.ncdf(a)
        for ui, x in zip(tail, _delays(dist, tail), strict=True):
            exact = loc - scale * mpmath.sqrt(2) * mpmath.erfinv(2 * q * (1 - mpmath.mpf(ui)) - 1)
            assert abs(x - float(exact)) < 1e-12 * abs(float(exact)), (a, ui)
    far = truncnorm(3.0, 1.0, a=-40.0)  # cut far below the mean: scipy's
    np.testing.assert_array_equal(_delays(far, u), st.truncnorm.ppf(u, **dict(far.params)))
    lognormal = Distribution("lognorm", {"s": 0.5, "scale": 1.5})
    np.testing.assert_array_equal(_delays(lognormal, u), st.lognorm.ppf(u, s=0.5, scale=1.5))


def test_time_order_is_a_stable_sort(monkeypatch):
    """The events' order (one sort of integer keys: grid step above index, checked)
    is a stable sort's: events of one segment at equal times are added in the order
    they were made, on any machine, whatever the sort's algorithm does with ties;
    where two different times share a grid step the exact sort is used."""
    from lfpk_hpc import hybridsim

    exact, stable_order = [], hybridsim._stable_order

    def counting(times):
        exact.append(times.size)
        return stable_order(times)

    monkeypatch.setattr(hybridsim, "_stable_order", counting)
    rng = np.random.default_rng(5)
    for times in (
        rng.uniform(0, 100, 20_000),  # no ties
        np.round(rng.uniform(0, 100, 20_000), 1),  # many ties (spikes on a grid)
        rng.uniform(-3, 2, 1000),  # times before the window's start too
        np.zeros(50),
        np.zeros(1),
        np.zeros(0),
    ):
        order, ordered = hybridsim._time_order(times)
        np.testing.assert_array_equal(order, np.argsort(times, kind="stable"))
        np.testing.assert_array_equal(ordered, times[order])
    assert not exact  # the grid separated every pair of different times
    # a span of 1e15 ms over 4 events: a grid step of 4e-4 ms, 5.0001 and 5.0 share one
    times = np.array([0.0, 1e15, 5.0001, 5.0])
    order, ordered = hybridsim._time_order(times)
    np.testing.assert_array_equal(order, [0, 3, 2, 1])
    assert exact == [4]
    # times 5e-324 ms apart: no grid step can be had (the exact sort, no warning)
    times = np.array([5e-324, 0.0, 5e-324, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        order, ordered = hybridsim._time_order(times)
    np.testing.assert_array_equal(order, [1, 3, 0, 2])
    assert exact == [4, 4]


def test_compiled_events_must_be_in_time_order(pd14_block_inputs):
    from neuron import h

    from lfpk_hpc.cells import delete_all_sections
    from lfpk_hpc.imem import EventKicks

    delete_all_sections()
    cells, segments = _own_block(h, pd14_block_inputs, "order")
    with pytest.raises(ValueError, match="non-decreasing order"):
        EventKicks(h, segments, np.array([0, 1]), np.array([0.6, 0.3]), np.ones(2))
    del cells


def test_compiled_events_that_moved_are_an_error(pd14_block_inputs):
    """EventKicks compares the states it writes with the segments' own pointers after
    every run: offsets that no longer match are an error, not a wrong number."""
    from neuron import h

    from lfpk_hpc.cells import delete_all_sections
    from lfpk_hpc.imem import CurrentRecorder, EventKicks

    delete_all_sections()
    cells, segments = _own_block(h, pd14_block_inputs, "moved")
    n = len(segments)
    seg_index = np.tile(np.arange(n), 2)
    times = np.repeat([0.3, 0.6], n)
    weights = np.linspace(0.1, 1.0, 2 * n)
    h.finitialize(-65.0)
    nodes = CurrentRecorder(h, segments)
    kicks = EventKicks(h, segments, seg_index, times, weights)
    assert nodes.locate() and kicks.locate(nodes.layout[2])
    kicks.advance(10)
    a = np.array([seg.lfpk_hsyn.A for seg in segments])
    assert np.all(a > 0) and np.unique(a).size == n  # every event delivered, states differ
    kicks._offsets = kicks._offsets[::-1].copy()  # as if NEURON had moved them
    with pytest.raises(RuntimeError, match="synapse states moved"):
        kicks.verify()
    del cells


def test_compiled_events_are_checked_outside_the_sample(pd14_block_inputs):
    """In a block larger than the sample of pointers that checks every run, every
    segment's state is compared after the last (EventKicks.verify): two offsets
    swapped outside the sample pass the first check and fail the second."""
    from neuron import h

    from lfpk_hpc.cells import delete_all_sections
    from lfpk_hpc.imem import SAMPLE, CurrentRecorder, EventKicks

    delete_all_sections()
    cells, segments = _own_block(h, pd14_block_inputs, "outside", n_cells=12)
    n = len(segments)
    assert n > 2 * SAMPLE
    seg_index = np.arange(n)
    times = np.full(n, 0.3)
    weights = np.linspace(0.1, 1.0, n)
    h.finitialize(-65.0)
    nodes = CurrentRecorder(h, segments)
    kicks = EventKicks(h, segments, seg_index, times, weights)
    assert nodes.locate() and kicks.locate(nodes.layout[2])
    kicks.advance(10)  # its run checked the sample
    kicks.verify()  # and every segment
    outside = np.setdiff1d(np.arange(n), kicks._sample)
    a, b = int(outside[0]), int(outside[-1])
    kicks._offsets[[a, b]] = kicks._offsets[[b, a]]
    kicks.verify(full=False)
    with pytest.raises(RuntimeError, match="synapse states moved"):
        kicks.verify()
    del cells
