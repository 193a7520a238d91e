"""Ground truth: a full multicompartment network (``LFPy.Network``) of a params file.

    mpirun -n 2 python -m lfpk_hpc groundtruth params/hagen2022.py --out gt/ \\
        [--scale 0.2] [--tstop 2000] [--seed 1234]

Builds, from the same params file the kernels use, the network the kernels
approximate (Hagen et al. 2022, PLOS Comput Biol 18(8): e1010353), simulates it
with NEURON over MPI (``ParallelContext``) and records what the kernel route
predicts, so that the two can be compared sample by sample.

The network
-----------
- **Populations.** Every population with a cell model becomes an
  ``LFPy.NetworkPopulation`` of round(N·scale) ``LFPy.NetworkCell``; a population
  without one (presynaptic only, e.g. a thalamus) becomes round(N·scale)
  independent Poisson spike sources at its rate ``nu``. Global ids follow the
  params file's population order; cell ``i`` of a population is gid
  ``first_gid + i`` on rank ``gid % ranks`` (LFPy's round robin).
- **A user's NEURON model** (a template or a biophysics function with its own
  mechanism folder, ``CellModel.template``/``biophysics``) is simulated as it is —
  its template and arguments, its biophysics function as LFPy's ``custom_fun``, its
  own Ra, cm, channels and d_lambda segments, at its ``celsius`` (every population of
  one network at one temperature): the active model whose linearisation the kernels
  use (:mod:`lfpk_hpc.gtcells`). What follows for passive cables does not apply to it.
- **Cells.** The kernel cell's morphology (the Section sticks written by
  :func:`lfpk_hpc.cells.stick_morphology_hoc`, or a morphology file converted to
  the same kind of hoc: the 3-D points as LFPy loads them, to ~0.01 µm where NEURON
  attaches a child to its parent), in a minimal cell template (LFPy's
  ``NetworkCell`` needs one), with the CellModel's Ra, cm and the same d_lambda
  segments as the kernel cell (``lambda_f``). Dendrites (every section whose name
  lacks ``soma``) are passive with the CellModel's ``g_pas`` and ``e_pas``;
  ``e_pas = None`` means −65 mV here (:data:`E_PAS_DEFAULT`), *not*
  ``kernel.Vrest``, because Vrest is what the kernels take from this ground truth
  (so the ground truth must not depend on it).
- **Active soma (the choice, and why).** Each soma section holds NEURON's built-in
  Hodgkin–Huxley ``hh`` at its default parameters (gnabar 0.12, gkbar 0.036,
  gl 3e-4 S/cm², el −54.3 mV; no ``pas``) at celsius = 6.3 °C
  (:data:`CELSIUS`). Reasons: it ships with NEURON, so the ground truth needs no
  further mechanisms (Hagen et al. used Hay-type channels that lfpk_hpc does not
  ship); it rests near −65 mV, the leak reversal of the dendrites; its leak (3e-4
  S/cm²) equals the params' passive g_pas; and at 6.3 °C, the temperature its
  rate constants were fitted at, the squid-axon soma reliably spikes under the
  dendritic load of the ball-and-sticks (at 34 °C it may stop firing, see
  shared/NOTES.md). Spikes are detected at −10 mV at the soma midpoint.
- **Positions.** Somata uniform in the disc of ``geometry.radius`` (µm) around the
  z axis, z ~ N(``geometry.loc``, ``geometry.scale``) (LFPy's ``draw_rand_pos``
  rule); each cell is first rotated by the CellModel's ``rotation`` (x, y, z) and
  then by a random angle about z (the population is rotationally symmetric about
  the z axis, as the Gauss-cylinder kernel assumes).
- **Connections** per (X, Y) pathway with C > 0, through ``Network.connect`` with
  a connectivity matrix drawn here: each (pre, post) pair is connected with
  probability C (no autapses, as LFPy's ``get_connectivity_rand``); each
  connection has k synapses, k drawn from the multapse distribution's pdf
  evaluated at 1..99 and normalised (LFPy's and :func:`lfpk_hpc.kernel.multapse_mean`'s
  rule); each synapse sits on a segment drawn with probability area × Σ_k
  w_k·pdf_k(z) over the allowed sections — :func:`lfpk_hpc.kernel.synapse_density`
  without the soma-spread widening (``pop_scale = 0``), at the cell's real depth;
  weights ~ N(weight, |weight|/10) (Hagen et al. 2022) redrawn until they have
  the sign of ``weight``; delays from the params' delay distribution (delays
  shorter than dt, which NEURON's spike exchange cannot take, become dt and are
  counted in the log). The synapse is the params' model: ``Exp2Syn`` (tau1, tau2,
  e; weight in µS) or, for current-based synapses, lfpk_hpc's ``Exp2SynI`` /
  ``ExpSynI`` (weight in nA), loaded by :func:`lfpk_hpc.mechanisms.load_mechanisms`.
- **Extrinsic input.** ``round(n_ext)`` synapses per cell of Y on segments drawn
  by membrane area (all sections), each driven by its own Poisson train at
  ``nu_ext`` (fixed weight). The ``k`` synapses that land on one segment are one
  synapse driven by one Poisson train at k·nu_ext: exact, because the synapse
  models are linear in their input events (the superposition of independent
  Poisson trains is Poisson) and they share the weight; it saves most point
  processes. The trains come from NEURON ``NetStim`` (noise = 1) with its own
  Random123 stream per (seed, gid, segment), started at t = 0 and connected with
  delay 0 (not LFPy's default 1 ms NetCon delay, see DOMAIN.md D), so they are
  exact Poisson event times from t = 0 on.

Scaling
-------
``--scale s`` makes every population round(N·s) cells and keeps every C. So
the expected in-degree of a cell of Y from X, C·N_X·s (and the out-degree
C·N_Y·s), shrinks by s, while the extrinsic input per cell (n_ext at nu_ext) is
unchanged: at small scales cells are driven mostly by their extrinsic input, and
recurrent input and the recurrent contribution to the effective leak are s times
those of the full network. Kernels to compare with must be computed for the same
scaled network (:func:`scaled_model`): H_YX scales with the out-degree, and g_eff
with the in-degree.

Reproducibility
---------------
Every random number comes from a generator seeded by the seed and the purpose —
(seed, "positions", population), (seed, "connect", X, Y, postsynaptic index),
(seed, "extrinsic", Y, index), and Random123 streams (seed, gid, segment) for the
Poisson trains — never by the rank; each cell's synapses are created in the same
order on any number of ranks. Spikes are therefore identical on any number of
ranks, and the signals, summed over ranks, equal to floating-point summation
order (tests/test_groundtruth.py states the tolerance).

Output (in ``--out``)
---------------------
- ``spikes.h5``: one group per population with ``times`` (float64, ms, sorted)
  and ``senders`` (int64, index within the population), group attribute ``N``;
  root attributes ``t_start`` 0.0, ``t_stop``, ``dt``, ``source``
  "lfpk_hpc groundtruth", ``seed``, ``scale`` (format "(a)" of ``predict``).
- ``signals.h5``: ``/signals/<probe>`` (channels, bins) float64 and
  ``/contributions/<probe>/<Y>`` per cell population, the layout
  ``lfpk_hpc predict`` writes; attributes ``dt`` (ms), ``t_start`` (ms),
  ``units``. Sample k is the signal at t = k·dt, k = 0 … tstop/dt − 1 (sample 0
  holds the membrane currents NEURON computes at initialisation, before any step
  and without capacitive currents: part of the start-up transient). For a
  ``GaussCylinderProbe``: the potential (mV) of line sources (LFPy's
  ``RecExtElectrode``, ``method='linesource'``) at contacts (0, 0, z) in a medium
  of the probe's sigma; ``CurrentDipoleProbe``: all three components (nA·µm) of
  Σ imem·r (segment midpoints); ``FourSphereEEGProbe``: the four-sphere EEG (mV,
  LFPykit's ``FourSphereVolumeConductor``) of each population's dipole placed at
  (0, 0, radii[0] + geometry.loc), as the kernels place it. A contribution is what
  ``Network.simulate(rec_pop_contributions=True)`` records: the probe's matrix
  restricted to the segments of Y's cells, times their membrane currents. Root attributes hold
  the run's parameters, ``ranks`` and the wall times ``wall_time_create_s``,
  ``wall_time_connect_s``, ``wall_time_simulate_s``.
- ``vrest.json``: per population the median somatic potential (mV) over all cells
  and the run after the start-up ``--transient`` (sampled every ms), the
  potential the kernels are to be linearised around (Hagen et al. 2022); the
  mean rates (spikes/s) after the transient; and ``soma_conductance``, the
  somata's g_Na + g_K + g_l (S/cm²) averaged over cells and time after the
  transient (sampled every ms; ``validate --soma mean``). ``params_hash`` (here and
  in signals.h5) is that of the simulated, scaled model (:func:`scaled_model`).
- ``extrinsic.h5``: ``/counts/<Y>``, the number of extrinsic input events onto all
  cells of Y per bin [k·dt, (k+1)·dt) (every NetStim's events are recorded and
  binned as the run goes), for the kernel route's diagnosis in ``validate``.
- ``cells/``: the cell templates and morphology hoc files used.

Speed
-----
Recording does not use ``Network.simulate``, whose Python loop over every segment
at every step dominated the run time seen before (shared/NOTES.md: 267 s per
simulated second at scale 0.1): a hoc loop gathers all membrane currents of a
rank through one ``PtrVector`` per step into a buffer, and every 25 ms of
simulated time numpy turns the buffer into every probe's signal. What remains is
NEURON's own work, mostly the delivery of the extrinsic Poisson events (~16
million per simulated second at scale 0.1). Measured for params/hagen2022.py at
scale 0.1 (921 cells) on 2 ranks of this 2-core machine: build 3 s, connect 2 s,
34 s per simulated second.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .gtcells import (  # noqa: F401 - the hh soma's numbers, used by validate and tests
    _HH_GL,
    CELSIUS,
    E_PAS_DEFAULT,
    GroundTruthError,
    _write_cell_files,
    cell_args,
    hh_el_at_rest,
    hh_soma,
    network_celsius,
    soma_conductance,
    soma_gates,
    spiking_model,
    template_hoc,
)
from .gtnetwork import (  # noqa: F401 - the network's parts, used by tests
    BLOCK_MS,
    SOMA_SAMPLE_MS,
    SPIKE_THRESHOLD,
    V_INIT,
    WEIGHT_SD,
    _cell_class,
    _Comm,
    _Network,
    _probe_matrices,
    _probe_units,
    scaled_model,
)
from .params import Model

__all__ = [
    "CELSIUS",
    "E_PAS_DEFAULT",
    "GroundTruthError",
    "add_arguments",
    "main",
    "run_groundtruth",
    "scaled_model",
    "soma_conductance",
]

#: --scale of groundtruth and validate: the largest fraction of params/hagen2022.py
#: whose validation (2 s) takes a few minutes on the 2 ranks of a 2-core machine
#: (about 3 min; 0.1: about 1 min), well inside its 15 min budget. The nearer the
#: paper's full network, the smaller the share of the cells' action potentials in
#: the signals, which the synaptic kernels leave out (lfpk_hpc/validate.py)
DEFAULT_SCALE = 0.2


def run_groundtruth(
    model: Model,
    out: str | Path,
    *,
    scale: float | None = None,
    tstop: float = 2000.0,
    seed: int = 1234,
    dt: float | None = None,
    transient: float = 200.0,
    comm=None,
    overwrite: bool = False,
    log=print,
) -> dict:
    """Build, simulate and record the ground-truth network of ``model`` at ``scale``
    (see the module docstring); write ``spikes.h5``, ``signals.h5``, ``vrest.json``
    and ``cells/`` into the folder ``out``. ``comm``: an mpi4py communicator whose
    MPI NEURON uses (mpi4py imported before neuron), or None for one process.

    Returns (on every rank) a summary: ``vrest`` and ``rates`` per population (on
    rank 0; None elsewhere), the wall times and the counts.

    Parameters
    ----------
    model : Model
        The network (units of :mod:`lfpk_hpc.params`).
    out : str or path-like
        The output folder.
    scale : float or None
        Fraction of every population's neurons simulated (dimensionless; C kept).
    tstop : float
        Simulated time, ms.
    seed : int
        Seed of every random draw.
    dt : float or None
        Time step, ms (None: the kernels' dt).
    transient : float
        Start-up time left out of the medians and rates, ms.
    comm : mpi4py communicator or None
        The ranks (None: one process).
    overwrite : bool
        Replace an existing output.
    log : callable
        Where progress lines go.

    Returns
    -------
    dict
        ``vrest`` (mV) and ``rates`` (spikes/s) per population on rank 0, wall times (s),
        counts.
    """
    dt = float(model.kernel.dt if dt is None else dt)
    if scale is None:
        scale = DEFAULT_SCALE
    model = check_run_args(model, scale=scale, tstop=tstop, seed=seed, dt=dt, transient=transient)
    out = Path(out)
    c = _Comm(comm)
    rank = c.rank

    def say(msg):
        if rank == 0:
            log(msg)

    if rank == 0:
        existing = [out / n for n in ("spikes.h5", "signals.h5", "vrest.json", "extrinsic.h5")]
        existing = [p for p in existing if p.exists()]
        error = None
        if existing and not overwrite:
            error = f"--out {str(out)!r} already holds {existing[0].name}; pass --overwrite"
    else:
        error = None
    error = comm.bcast(error, root=0) if comm is not None else error
    if error:
        raise GroundTruthError(error)

    import neuron  # noqa: F401  (after mpi4py, which the caller imported)
    from neuron import h

    from .mechanisms import load_mechanisms

    pc = h.ParallelContext()
    if int(pc.nhost()) != c.size:
        raise RuntimeError(
            f"NEURON runs on {int(pc.nhost())} ranks but MPI has {c.size}: import mpi4py.MPI "
            "before neuron (python -m lfpk_hpc groundtruth does)"
        )
    load_mechanisms(comm=comm, log=say)
    from .mechanisms import load_user_mechanisms

    for pop in model.populations:  # the folders of users' models (rank 0 compiles first)
        if pop.cell is not None and pop.cell.mechanisms is not None:
            load_user_mechanisms(model.path(pop.cell.mechanisms), comm=comm, log=say)

    transient = min(transient, tstop / 2)
    say(
        f"groundtruth: {model.name}, scale {scale}, "
        + ", ".join(f"{p.name} {p.N}" for p in model.populations)
        + f" cells; tstop {tstop} ms, dt {dt} ms, seed {seed}, {c.size} rank(s)"
    )
    work = Path(tempfile.mkdtemp(prefix="lfpk_gt_"))
    celsius = h.celsius
    try:
        return _run(model, out, work, c, pc, h, scale, tstop, dt, seed, transient, say)
    finally:
        # the network's NEURON objects are gone with _run's references; its gids are
        # released so that this process can run another network (or kernels)
        shutil.rmtree(work, ignore_errors=True)
        pc.gid_clear()
        h.celsius = celsius


def check_run_args(model: Model, *, scale, tstop, seed, dt, transient) -> Model:
    """Check a run's arguments against each other and the model before anything is
    simulated (GroundTruthError naming the argument); return the scaled model."""
    _check_run_args(tstop=tstop, seed=seed, dt=dt, transient=transient)
    scaled = scaled_model(model, scale)
    from .params import morphology_sections

    try:
        network_celsius(model)
    except ValueError as exc:
        raise GroundTruthError(str(exc)) from None
    for pop in model.populations:
        if pop.cell is None or pop.cell.is_user_model:
            continue  # a user's model's soma is checked when its cells are built
        secs = morphology_sections(pop.cell, model.morphology_path(pop.name))
        if secs is not None and not secs.matches("soma"):
            raise GroundTruthError(
                f"populations[{pop.name}].cell.morphology has no soma, and the ground truth "
                "puts its spiking hh mechanism into the sections whose names contain 'soma' "
                f"(sections: {secs.describe()})"
            )
    return scaled


def _check_run_args(*, tstop, seed, dt, transient):
    if not (isinstance(dt, float) and math.isfinite(dt) and dt > 0):
        raise GroundTruthError(f"--dt = {dt!r} is invalid: must be a finite number > 0 (ms)")
    if not (isinstance(tstop, (int, float)) and math.isfinite(tstop) and tstop > 0):
        raise GroundTruthError(f"--tstop = {tstop!r} is invalid: must be a finite time > 0 ms")
    steps = tstop / dt
    if abs(steps - round(steps)) > 1e-9 * max(1.0, steps) or round(steps) < 1:
        raise GroundTruthError(
            f"--tstop = {tstop!r} is invalid: must be a whole multiple of dt = {dt} ms"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (0 <= seed < 2**32):
        raise GroundTruthError(
            f"--seed = {seed!r} is invalid: must be a whole number in [0, 2**32)"
        )
    if not (isinstance(transient, (int, float)) and math.isfinite(transient) and transient >= 0):
        raise GroundTruthError(f"--transient = {transient!r} is invalid: must be a time >= 0 ms")
    if not transient < tstop:
        raise GroundTruthError(
            f"--transient = {transient!r} is invalid: must be shorter than --tstop = {tstop!r} ms "
            "(the time after the transient is what is measured)"
        )


def _run(model, out, work, c, pc, h, scale, tstop, dt, seed, transient, say) -> dict:
    net = _Network(model, c, pc, h, seed=seed, dt=dt, tstop=tstop, say=say)
    t0 = time.perf_counter()
    say("building the cells ...")
    files = _write_cell_files(model, work / "cells")
    files["__work__"] = work
    net.build(files)
    t_create = c.allreduce_max(time.perf_counter() - t0)
    n_cells = sum(model.population(Y).N for Y in net.cell_pops)
    say(f"  built {n_cells} cells and their extrinsic input in {t_create:.1f} s")

    t1 = time.perf_counter()
    say("connecting ...")
    net.connect()
    t_connect = c.allreduce_max(time.perf_counter() - t1)
    say(f"  connected in {t_connect:.1f} s")

    t2 = time.perf_counter()
    n_local = sum(len(net.pops[Y].cells) for Y in net.cell_pops)
    say(f"simulating {tstop} ms ({net.n_bins} steps; {n_local} cells on rank 0) ...")
    signals, contributions = net.simulate()
    t_simulate = c.allreduce_max(time.perf_counter() - t2)
    per_s = t_simulate / (tstop / 1000)
    say(f"  simulated in {t_simulate:.1f} s ({per_s:.1f} s per simulated s)")

    all_spikes = c.gather(net.local_spikes())
    all_somav = c.gather(net.local_somav(transient))
    all_soma_g = c.gather(net.local_soma_g(transient))
    signals = {p: c.reduce_sum(s) for p, s in signals.items()}
    contributions = {
        p: {Y: c.reduce_sum(a) for Y, a in d.items()} for p, d in contributions.items()
    }
    # counts below 2^53 are exact in float64
    ext_counts = {Y: c.reduce_sum(v) for Y, v in sorted(net.ext_counts.items())}
    times = {"create": t_create, "connect": t_connect, "simulate": t_simulate}
    summary = {f"wall_time_{k}_s": v for k, v in times.items()}
    summary.update(ranks=c.size, vrest=None, rates=None, counts=net.counts)
    if c.rank == 0:
        spikes = {}
        for pop in model.populations:
            t = np.concatenate([s[pop.name][0] for s in all_spikes])
            snd = np.concatenate([s[pop.name][1] for s in all_spikes])
            order = np.lexsort((snd, t))
            spikes[pop.name] = (t[order], snd[order])
        vrest = {
            Y: float(np.median(np.concatenate([s[Y] for s in all_somav]))) for Y in net.cell_pops
        }
        rates = {
            X: float(np.count_nonzero(t >= transient) / model.population(X).N)
            / ((tstop - transient) / 1e3)
            for X, (t, _) in spikes.items()
        }
        soma_g = {}
        for Y in net.cell_pops:
            total = sum(s[Y][0] for s in all_soma_g)
            count = sum(s[Y][1] for s in all_soma_g)
            soma_g[Y] = total / count + _HH_GL if count else None
        summary.update(vrest=vrest, rates=rates, soma_conductance=soma_g)
        _write_results(
            out,
            work,
            model,
            net,
            spikes,
            signals,
            contributions,
            summary,
            scale=scale,
            seed=seed,
            transient=transient,
        )
        _write_extrinsic(out / "extrinsic.h5", model, ext_counts, net.dt)
        say(
            "median somatic potential (mV) after the transient: "
            + ", ".join(f"{Y} {v:.2f}" for Y, v in vrest.items())
        )
        say(
            "mean rates (spikes/s) after the transient: "
            + ", ".join(f"{X} {r:.2f}" for X, r in rates.items())
        )
        say(
            f"wall time: create {t_create:.1f} s, connect {t_connect:.1f} s, simulate "
            f"{t_simulate:.1f} s ({per_s:.1f} s per simulated s) on {c.size} rank(s)"
        )
        say(f"wrote {out / 'spikes.h5'}, {out / 'signals.h5'}, {out / 'vrest.json'}")
    c.barrier()
    return summary


def _write_results(
    out, work, model, net, spikes, signals, contributions, summary, *, scale, seed, transient
) -> None:
    """Rank 0: spikes.h5, signals.h5, vrest.json and cells/ in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    tstop, dt = net.tstop, net.dt
    attrs = dict(
        t_start=0.0,
        t_stop=float(tstop),
        dt=dt,
        source="lfpk_hpc groundtruth",
        seed=int(seed),
        scale=float(scale),
    )
    from .predict import write_spikes

    write_spikes(out / "spikes.h5", spikes, {X: model.population(X).N for X in spikes}, attrs)
    root = dict(
        attrs,
        model_name=model.name,
        params_json=model.to_json(),
        params_hash=model.hash(),
        n_bins=net.n_bins,
        celsius=network_celsius(model),
        transient=float(transient),
        ranks=summary["ranks"],
        soma_model="; ".join(
            f"{p.name}: "
            + (
                "the user's model"
                if p.cell.is_user_model
                else "hh (NEURON built-in, default parameters)"
            )
            for p in model.populations
            if p.cell is not None
        ),
        wall_time_create_s=summary["wall_time_create_s"],
        wall_time_connect_s=summary["wall_time_connect_s"],
        wall_time_simulate_s=summary["wall_time_simulate_s"],
    )
    for k, (n_conn, n_syn) in net.counts.items():
        root[f"connections_{k}"] = n_conn
        root[f"synapses_{k}"] = n_syn
    _write_signals(out / "signals.h5", model, signals, contributions, net.cell_pops, dt, root)
    info = {
        "source": "lfpk_hpc groundtruth",
        "model_name": model.name,
        "params_hash": model.hash(),
        "seed": int(seed),
        "scale": float(scale),
        "t_stop": float(tstop),
        "dt": dt,
        "transient": float(transient),
        "N": {p.name: p.N for p in model.populations},
        "vrest": summary["vrest"],
        "rates": summary["rates"],
        # time and cell average of the hh soma's g_Na + g_K + g_l (S/cm²)
        "soma_conductance": summary["soma_conductance"],
        "rates_whole_run": {
            X: float(t.size / model.population(X).N / (tstop / 1e3)) for X, (t, _) in spikes.items()
        },
        "units": {
            "vrest": "mV",
            "rates": "spikes/s",
            "soma_conductance": "S/cm2",
            "t_stop": "ms",
            "transient": "ms",
        },
        "connections": {k: {"connections": a, "synapses": b} for k, (a, b) in net.counts.items()},
        "wall_time_s": {k: summary[f"wall_time_{k}_s"] for k in ("create", "connect", "simulate")},
        "ranks": summary["ranks"],
    }
    from .store import atomic_write

    atomic_write(out / "vrest.json", (json.dumps(info, indent=2) + "\n").encode())
    cells_out = out / "cells"
    if cells_out.exists():
        shutil.rmtree(cells_out)
    shutil.copytree(work / "cells", cells_out)


def _write_extrinsic(path, model, counts: dict, dt: float) -> None:
    """``extrinsic.h5``: ``/counts/<Y>`` the number of extrinsic input events onto
    all cells of Y per bin [k·dt, (k+1)·dt) (the bins of the spikes), with the
    input's parameters as attributes."""
    import h5py

    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["source"] = "lfpk_hpc groundtruth"
        f.attrs["dt"] = dt
        f.attrs["t_start"] = 0.0
        f.attrs["params_hash"] = model.hash()
        for Y, n in counts.items():
            ext = model.extrinsic[Y]
            ds = f.create_dataset(f"counts/{Y}", data=np.rint(n).astype(np.int64))
            ds.attrs["units"] = "events per bin"
            ds.attrs["n_ext"] = float(ext.n_ext)
            ds.attrs["nu_ext"] = float(ext.nu_ext)
            ds.attrs["N"] = int(model.population(Y).N)
    tmp.replace(path)


def read_extrinsic(path) -> tuple[float, dict[str, np.ndarray]]:
    """(dt in ms, {Y: extrinsic events onto Y per bin}) from ``extrinsic.h5``."""
    import h5py

    with h5py.File(path, "r") as f:
        return float(f.attrs["dt"]), {Y: f[f"counts/{Y}"][...] for Y in f["counts"]}


def _write_signals(path, model, signals, contributions, cell_pops, dt, attrs) -> None:
    import h5py

    from .params import GaussCylinderProbe

    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        for probe in model.probes:
            units = _probe_units(probe)

            def put(name, data, probe=probe, units=units):
                ds = f.create_dataset(name, data=np.asarray(data, dtype=np.float64))
                ds.attrs["dt"] = dt
                ds.attrs["t_start"] = 0.0
                ds.attrs["units"] = units
                return ds

            ds = put(f"signals/{probe.name}", signals[probe.name])
            ds.attrs["probe_type"] = type(probe).__name__
            if isinstance(probe, GaussCylinderProbe):
                ds.attrs["probe_z"] = np.asarray(probe.z, dtype=float)
                ds.attrs["probe_sigma"] = probe.sigma
                ds.attrs["electrode"] = "line sources at contacts (0, 0, z) (LFPy RecExtElectrode)"
            for Y in cell_pops:
                put(f"contributions/{probe.name}/{Y}", contributions[probe.name][Y])
    tmp.replace(path)


# --------------------------------------------------------------------------- CLI


def add_arguments(parser) -> None:
    """The options of ``python -m lfpk_hpc groundtruth`` (times in ms).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which the options are added.
    """
    parser.description = (
        "Simulate the full multicompartment network of a params file with LFPy.Network "
        "(hh soma, passive dendrites, the params' synapses, extrinsic Poisson input) over "
        "MPI and record spikes, the probes' signals and the median somatic potentials. "
        "Run under mpirun/srun to use several ranks."
    )
    parser.add_argument("params", help="params file (a Python module defining model = Model(...))")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--scale",
        type=float,
        default=DEFAULT_SCALE,
        help="fraction of every population's N (C kept, so in-degrees shrink; "
        f"default {DEFAULT_SCALE})",
    )
    parser.add_argument("--tstop", type=float, default=2000.0, help="simulated time (ms)")
    parser.add_argument("--seed", type=int, default=1234, help="seed of every random draw")
    parser.add_argument("--dt", type=float, help="time step (ms; default the params' kernel dt)")
    parser.add_argument(
        "--transient",
        type=float,
        default=200.0,
        help="start-up transient (ms) left out of Vrest and rates (at most tstop/2; default 200)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing results")


def main(args) -> int:
    """``python -m lfpk_hpc groundtruth``: the network simulated over the ranks; the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of :func:`add_arguments`.

    Returns
    -------
    int
        The exit code.
    """
    from .parallel import run_command

    # the network uses NEURON's ParallelContext
    return run_command(lambda comm: _main(args, comm), neuron_in_mpi=True)


def _main(args, comm) -> int:
    from .params import load

    if not (math.isfinite(args.scale) and args.scale > 0):
        raise GroundTruthError(f"--scale = {args.scale!r} is invalid: must be a number > 0")
    model = load(args.params)
    run_groundtruth(
        model,
        args.out,
        scale=args.scale,
        tstop=args.tstop,
        seed=args.seed,
        dt=args.dt,
        transient=args.transient,
        comm=comm,
        overwrite=args.overwrite,
        log=lambda msg: print(msg, flush=True),
    )
    return 0
