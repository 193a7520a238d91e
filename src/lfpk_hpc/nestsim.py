"""Spikes of the Potjans & Diesmann (2014) microcircuit from a NEST simulation.

    python -m lfpk_hpc simulate-pd14 params/potjans.py --scale 0.1 --tstop 1000 --out spikes.h5

Builds the PD14 point-neuron network in NEST (pip package ``nest-simulator``, the
optional extra ``lfpk_hpc[nest]``), simulates ``--presim`` ms that are not recorded
and then ``--tstop`` ms that are, and writes the spikes in the format ``predict``
reads (see :func:`lfpk_hpc.predict.write_spikes`). The network is the one of the PD14 reference
implementation [PD14-NEST] (shared/reference/DOMAIN.md section A):

- ``iaf_psc_exp`` neurons: C_m 250 pF, τ_m 10 ms, τ_syn 0.5 ms (excitatory and
  inhibitory), t_ref 2 ms, E_L = V_reset = −65 mV, V_th −50 mV; initial V_m drawn
  per population from the reference's "optimized" normal distributions.
- Recurrent synapses: K_YX = ln(1 − C_YX)/ln(1 − 1/(N_X N_Y)) in total at full
  scale, created with ``fixed_total_number`` (autapses and multapses allowed). PSC
  amplitudes from a mean PSP of 0.15 mV (585.39 pA/mV, 87.81 pA), g = −4 for
  inhibitory X, L4E → L23E doubled; normal with relative SD 0.1, redrawn until the
  sign is right. Delays normal with mean 1.5 ms (E) or 0.75 ms (I) and SD half the
  mean, redrawn below dt/2 (0.05 ms at dt = 0.1 ms, so no delay rounds to zero
  steps).
- Background: one ``poisson_generator`` per population at K_ext × 8 spikes/s, each
  neuron its own Poisson train, weight 87.81 pA, delay 1.5 ms.
- Thalamus (``--thalamus``, off by default): 902 ``parrot_neuron`` s repeating one
  ``poisson_generator`` of 120 spikes/s active from 700 to 710 ms of simulation time
  (presimulation included, as in the reference: 200 ms after recording starts with
  the default presim), K_TC,Y from C_TC with the same formula, PSP 0.15 mV, delays as
  for E. Recorded as population TC.

Downscaling (the rule of the reference's ``network.py``/``helpers.py``,
``adjust_weights_and_input_to_synapse_scaling``): with N_scaling = ``--scale`` and
K_scaling = ``--k-scale`` (default: the same value as ``--scale``, the reference's
former default N_scaling = K_scaling = 0.1),

- N_Y = round(N_Y,full · N_scaling);
- total synapses K_YX = round(K_YX,full · N_scaling · K_scaling), i.e. in-degrees
  K_scaling times the full-scale ones; external in-degrees round(K_ext · K_scaling);
- all weights (recurrent, external, thalamic) × 1/sqrt(K_scaling), which keeps the
  variance of the input;
- a DC current I_Y = 0.001 · τ_syn · (1 − sqrt(K_scaling)) · (Σ_X J_YX K_YX/N_Y ν_X +
  J_ext K_ext ν_bg) (pA; full-scale J, in-degrees, K_ext and the published
  full-scale rates ν_X of :data:`lfpk_hpc.pd14.RATES`) restores the mean input lost
  by the weight scaling.

The downscaled network reproduces the full-scale mean rates only approximately
(the reference's own 10 % runs, N and K scaled: 0.40, 2.02, 3.88, 4.96, 6.58,
7.73, 0.83, 6.99 spikes/s against 0.90, 2.97, 4.41, 5.88, 7.57, 8.63, 1.11, 7.83 at
full scale). Thalamic synapses are scaled like the recurrent ones (total count ×
N_scaling · K_scaling, so the in-degree is K_scaling times the full one); the
reference scales them by K_scaling alone while shrinking the target populations,
which raises the thalamic in-degree by 1/N_scaling. The TC population itself is
not scaled (902 neurons), as in the reference.

The params file only selects the model: its (presynaptic) populations must be the 8
PD14 populations (TC allowed); every number comes from :mod:`lfpk_hpc.pd14` and the
tables below, so ``params/potjans.py`` and ``params/potjans_16types.py`` (at any
scale) give the same network.

The same seed, dt and number of threads give identical spikes (NEST's random
streams depend on the number of virtual processes). This command never uses MPI:
NEST from PyPI is built without MPI and aborts when it sees MPI launcher variables
(``PMI_RANK``, ``MPI_LOCALNRANKS``, ``OMPI_COMM_WORLD_SIZE``) while its kernel
initialises, so they are hidden from it during the import and the simulation, and a
launch by mpirun/mpiexec (or srun with more than one task) is refused.

[PD14-NEST] Potjans TC, Diesmann M (2014) Cereb Cortex 24:785-806; implementation
INM-6/microcircuit-PD14-model ``PyNEST/src/microcircuit`` (network_params.py,
stimulus_params.py, network.py, helpers.py), formerly NEST's
``pynest/examples/Potjans_2014``.

Units: ms, mV, pA, pF, spikes/s.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from . import pd14

#: neuron parameters of iaf_psc_exp [PD14-NEST network_params.py]
NEURON = {
    "C_m": pd14.NEURON_PARAMS["C_m"],  # pF
    "tau_m": pd14.NEURON_PARAMS["tau_m"],  # ms
    "tau_syn_ex": pd14.NEURON_PARAMS["tau_syn"],  # ms
    "tau_syn_in": pd14.NEURON_PARAMS["tau_syn"],  # ms
    "t_ref": 2.0,  # ms
    "E_L": -65.0,  # mV
    "V_reset": -65.0,  # mV
    "V_th": -50.0,  # mV
}
#: initial membrane potentials, "optimized" mean and SD (mV) per population
#: [PD14-NEST network_params.py, V0_type 'optimized']
V0_MEAN = dict(
    zip(
        pd14.POPULATIONS,
        (-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43),
        strict=True,
    )
)
#: SD of the initial membrane potentials per population (mV)
V0_SD = dict(zip(pd14.POPULATIONS, (5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48), strict=True))
#: external (Poisson) in-degrees at full scale [PD14-NEST, K_ext]
K_EXT = dict(zip(pd14.POPULATIONS, (1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100), strict=True))
#: spikes/s per external synapse
BG_RATE = 8.0
#: ms, delay of the background input
DELAY_POISSON = 1.5
#: relative SD of the PSC amplitudes
WEIGHT_REL_SD = 0.1
#: ms, by the presynaptic type (TC as E)
DELAY_MEAN = {"E": 1.5, "I": 0.75}
#: relative SD of the delays
DELAY_REL_SD = 0.5
#: thalamic stimulus [PD14-NEST stimulus_params.py]
TH_START = 700.0  # ms of simulation time (presimulation included)
#: ms
TH_DURATION = 10.0
#: spikes/s
TH_RATE = 120.0
#: mV
TH_PSP = 0.15
#: ms
DEFAULT_PRESIM = 500.0
#: NEST's default seed (the reference implementation's)
DEFAULT_SEED = 55

#: launcher variables NEST (built without MPI) checks when its kernel initialises
NEST_LAUNCHER_VARS = ("PMI_RANK", "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_SIZE")
#: prefixes of all MPI launcher variables hidden from NEST
_HIDDEN_PREFIXES = ("OMPI_COMM_WORLD_", "PMI_", "PMIX_RANK", "MPI_LOCAL")
#: the error of ``simulate-pd14`` under an MPI launcher
MPI_MESSAGE = "simulate-pd14 runs without MPI; start it without mpirun"


class InputError(ValueError):
    """A bad argument or input file (exit code 2)."""

    exit_code = 2


# --------------------------------------------------------------------------- arguments


def add_arguments(parser) -> None:
    """The options of ``python -m lfpk_hpc simulate-pd14`` (times in ms).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, to which the options are added.
    """
    parser.description = (
        "Simulate the Potjans & Diesmann (2014) microcircuit in NEST and write its spikes "
        "(one HDF5 group per population with times and senders) for `predict`. "
        "Requires nest-simulator (pip install 'lfpk_hpc[nest]')."
    )
    parser.add_argument("params", help="a PD14 params file (e.g. params/potjans.py)")
    parser.add_argument(
        "--scale",
        type=float,
        default=0.1,
        help="fraction of the full-scale neuron numbers, within (0, 1]; also the in-degree "
        "scaling unless --k-scale is given (weights / sqrt(K_scaling) plus a compensating "
        "DC, as the PD14 reference; default 0.1)",
    )
    parser.add_argument(
        "--k-scale",
        type=float,
        default=None,
        help="in-degree scaling K_scaling within (0, 1] (default: --scale)",
    )
    parser.add_argument(
        "--tstop", type=float, default=1000.0, help="recorded time in ms (default 1000)"
    )
    parser.add_argument(
        "--presim",
        type=float,
        default=DEFAULT_PRESIM,
        help=f"time simulated before recording starts, ms (default {DEFAULT_PRESIM:g})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"NEST random seed (default {DEFAULT_SEED})",
    )
    parser.add_argument("--dt", type=float, default=0.1, help="time step in ms (default 0.1)")
    parser.add_argument("--out", required=True, help="output spikes file (HDF5)")
    parser.add_argument("--threads", type=int, default=1, help="local NEST threads (default 1)")
    parser.add_argument(
        "--thalamus",
        action="store_true",
        help="add the thalamic population TC (902 neurons, 120 spikes/s from 700 to 710 ms "
        "of simulation time) as in PD14; its spikes are written as population TC",
    )


def _is_multiple(value: float, step: float) -> bool:
    n = round(value / step)
    return abs(value - n * step) <= 1e-9 * max(1.0, abs(value))


def validate_arguments(args) -> None:
    """Raise :class:`InputError` naming the first bad argument.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of :func:`add_arguments` (times in ms).

    Raises
    ------
    InputError
        An argument is out of range.
    """

    def bad(name, value, allowed):
        raise InputError(f"{name} = {value!r} is invalid: {allowed}")

    for name, value in (("--scale", args.scale), ("--k-scale", args.k_scale)):
        if value is not None and not (math.isfinite(value) and 0 < value <= 1):
            bad(name, value, "must be within (0, 1]")
    smallest = min(pd14.N_FULL, key=pd14.N_FULL.get)
    if round(pd14.N_FULL[smallest] * args.scale) < 1:
        bad(
            "--scale",
            args.scale,
            f"{smallest} ({pd14.N_FULL[smallest]} neurons at full scale) would have no neuron; "
            f"use at least {0.5 / pd14.N_FULL[smallest]:.2g}",
        )
    if not (math.isfinite(args.dt) and 0 < args.dt <= 0.5):
        bad("--dt", args.dt, "must be > 0 and <= 0.5 ms")
    if not _is_multiple(args.dt, 1e-3):
        bad("--dt", args.dt, "must be a multiple of 0.001 ms (NEST's time grid)")
    if not (math.isfinite(args.tstop) and args.tstop > 0):
        bad("--tstop", args.tstop, "must be > 0 ms")
    if not _is_multiple(args.tstop, args.dt):
        bad("--tstop", args.tstop, f"must be a multiple of --dt = {args.dt:g} ms")
    if not (math.isfinite(args.presim) and args.presim >= 0):
        bad("--presim", args.presim, "must be >= 0 ms")
    if not _is_multiple(args.presim, args.dt):
        bad("--presim", args.presim, f"must be a multiple of --dt = {args.dt:g} ms")
    if not 1 <= args.seed <= 2**32 - 1:
        bad("--seed", args.seed, "must be within [1, 2**32 - 1] (NEST's rng_seed)")
    if args.threads < 1:
        bad("--threads", args.threads, "must be >= 1")
    out = Path(args.out)
    if out.is_dir():
        bad("--out", args.out, "is a directory; give a file name")
    if not out.parent.resolve().is_dir():
        bad("--out", args.out, f"its folder {str(out.parent)!r} does not exist")


def check_params(path: str) -> tuple[tuple[str, ...], str]:
    """Load the params file and check that it is a PD14 model: its presynaptic
    populations are the 8 PD14 populations, optionally with TC. Returns them and
    the params hash.

    Parameters
    ----------
    path : str
        The params file.

    Returns
    -------
    populations : tuple of str
        Its presynaptic populations.
    params_hash : str
        Its hash.

    Raises
    ------
    InputError
        The file does not load or is not a PD14 model.
    """
    from .params import ParamsError, load

    try:
        model = load(path)
    except ParamsError as exc:
        raise InputError(str(exc)) from None
    pres = {c.pre for c in model.connections}
    names = tuple(p.name for p in model.populations if p.name in pres)
    if set(names) - {"TC"} != set(pd14.POPULATIONS):
        raise InputError(
            f"params file {path!r} is not a PD14 model: its presynaptic populations "
            f"{', '.join(names)} are not {', '.join(pd14.POPULATIONS)} (optionally with TC)"
        )
    return names, model.hash()


# --------------------------------------------------------------------------- MPI


def mpi_launch(env=None) -> str | None:
    """How this process was started by an MPI launcher, or None.

    mpirun/mpiexec (Open MPI, MPICH/Hydra, Intel MPI) of any size is reported;
    inside a Slurm job step only a step with more than one task is (``srun`` of
    one task is an ordinary launch whose PMI variables are hidden from NEST).

    Parameters
    ----------
    env : mapping of str to str, optional
        The environment; None: ``os.environ``.

    Returns
    -------
    str or None
        The launcher, in words.
    """
    env = os.environ if env is None else env
    if "OMPI_COMM_WORLD_SIZE" in env:
        return f"mpirun with {env['OMPI_COMM_WORLD_SIZE']} process(es)"
    if "SLURM_STEP_ID" in env:
        sizes = [env.get(k, "1") for k in ("SLURM_STEP_NUM_TASKS", "PMI_SIZE")]
        n = max(int(s) if s.isdigit() else 1 for s in sizes)
        return f"srun with {n} tasks" if n > 1 else None
    for var in ("PMI_SIZE", "PMI_RANK", "MPI_LOCALNRANKS"):
        if var in env:
            return f"an MPI launcher ({var}={env[var]})"
    return None


@contextlib.contextmanager
def hidden_launcher_env():
    """Remove the MPI launcher variables from ``os.environ`` for the duration (NEST
    checks them whenever its kernel initialises: at import and ResetKernel)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(_HIDDEN_PREFIXES)}
    for k in saved:
        del os.environ[k]
    try:
        yield
    finally:
        os.environ.update(saved)


def import_nest():
    """``import nest`` quietly with the launcher variables hidden."""
    quiet = "PYNEST_QUIET" in os.environ
    os.environ["PYNEST_QUIET"] = "1"
    try:
        with hidden_launcher_env():
            import nest
    finally:
        if not quiet:
            os.environ.pop("PYNEST_QUIET", None)
    return nest


# --------------------------------------------------------------------------- the network


def _synapses_full(C: float, n_pre: float, n_post: float) -> float:
    """Total synapse count at full scale, K = ln(1 − C)/ln(1 − 1/(N_pre N_post))."""
    return math.log1p(-C) / math.log1p(-1.0 / (n_pre * n_post)) if C > 0 else 0.0


#: NEST's largest number of connections of one synapse model on one virtual process
MAX_CONNECTIONS_PER_THREAD = 134_217_726


def threads_needed(net: dict) -> int:
    """The fewest NEST threads (one process) that hold the network ``net`` (from
    :func:`derive`): NEST keeps at most :data:`MAX_CONNECTIONS_PER_THREAD` connections
    of a synapse model per thread, and spreads them over threads with the neurons
    (10 % kept in reserve for the unevenness). 3 for the full-scale microcircuit
    (about 3·10⁸ synapses), 1 below a scale of about 0.6.

    Parameters
    ----------
    net : dict
        The network, as :func:`derive` returns it.

    Returns
    -------
    int
        Threads (a count).
    """
    total = sum(sum(row.values()) for row in net["synapses"].values())
    if net.get("thalamus"):
        total += sum(net["thalamus_params"]["synapses"].values())
    return max(1, math.ceil(total / (0.9 * MAX_CONNECTIONS_PER_THREAD)))


def derive(scale: float, k_scale: float, dt: float, thalamus: bool) -> dict:
    """Everything that is simulated, as plain numbers (JSON-able): sizes, synapse
    counts, in-degrees, weights (pA), DC (pA), background rates.

    Parameters
    ----------
    scale : float
        Fraction of the PD14 neurons simulated (dimensionless, within (0, 1]).
    k_scale : float
        Scaling of the in-degrees (dimensionless, within (0, 1]).
    dt : float
        Time step (ms).
    thalamus : bool
        Whether the thalamic population TC is simulated.

    Returns
    -------
    dict
        The network: sizes, synapse counts, in-degrees, weights (pA), DC input (pA),
        background rates (spikes/s) and dt (ms).
    """
    pops = pd14.POPULATIONS
    psc_per_psp = pd14.psc_per_psp(**pd14.NEURON_PARAMS)  # pA/mV
    w_full = {Y: {X: pd14.weight(X, Y) * 1e3 for X in pops} for Y in pops}  # pA
    w_ext_full = pd14.PSP_MEAN * psc_per_psp  # pA
    K_full = {
        Y: {X: _synapses_full(pd14.C[Y][X], pd14.N_FULL[X], pd14.N_FULL[Y]) for X in pops}
        for Y in pops
    }
    N = {Y: int(round(pd14.N_FULL[Y] * scale)) for Y in pops}
    K = {Y: {X: int(round(K_full[Y][X] * scale * k_scale)) for X in pops} for Y in pops}
    sq = math.sqrt(k_scale)
    tau_syn = pd14.NEURON_PARAMS["tau_syn"]
    dc = {}
    for Y in pops:
        rec = sum(w_full[Y][X] * K_full[Y][X] / pd14.N_FULL[Y] * pd14.RATES[X] for X in pops)
        ext = w_ext_full * K_EXT[Y] * BG_RATE
        dc[Y] = 0.001 * tau_syn * (1.0 - sq) * (rec + ext)
    k_ext = {Y: int(round(K_EXT[Y] * k_scale)) for Y in pops}
    d = {
        "populations": list(pops),
        "N_scaling": scale,
        "K_scaling": k_scale,
        "dt_ms": dt,
        "N": N,
        "synapses": K,
        "indegree": {Y: {X: K[Y][X] / N[Y] if N[Y] else 0.0 for X in pops} for Y in pops},
        "weight_mean_pA": {Y: {X: w_full[Y][X] / sq for X in pops} for Y in pops},
        "weight_rel_sd": WEIGHT_REL_SD,
        "delay_mean_ms": {X: DELAY_MEAN[X[-1]] for X in pops},
        "delay_rel_sd": DELAY_REL_SD,
        "delay_min_ms": 0.5 * dt,
        "K_ext": k_ext,
        "bg_rate_per_synapse": BG_RATE,
        "poisson_rate": {Y: BG_RATE * k_ext[Y] for Y in pops},
        "weight_ext_pA": w_ext_full / sq,
        "delay_poisson_ms": DELAY_POISSON,
        "DC_pA": dc,
        "full_mean_rates": dict(pd14.RATES),
        "neuron_model": "iaf_psc_exp",
        "neuron_params": dict(NEURON),
        "V0_mean_mV": dict(V0_MEAN),
        "V0_sd_mV": dict(V0_SD),
        "thalamus": thalamus,
    }
    if thalamus:
        K_th = {
            Y: int(round(_synapses_full(pd14.C_TC[Y], pd14.N_TC, pd14.N_FULL[Y]) * scale * k_scale))
            for Y in pops
        }
        d["thalamus_params"] = {
            "N": pd14.N_TC,
            "synapses": K_th,
            "rate": TH_RATE,
            "start_ms": TH_START,
            "stop_ms": TH_START + TH_DURATION,
            "weight_mean_pA": TH_PSP * psc_per_psp / sq,
            "delay_mean_ms": DELAY_MEAN["E"],
        }
    return d


def simulate(
    nest,
    net: dict,
    *,
    seed: int,
    threads: int,
    presim: float,
    tstop: float,
    log,
    drives: dict | None = None,
    trial_seed: int | None = None,
    record_before: float = 0.0,
):
    """Build and run the network described by ``net`` (:func:`derive`) in NEST.
    Returns ``{population: (times ms relative to the end of presim, senders 0-based)}``
    with the spikes of [presim − record_before, presim + tstop) and the timings.

    ``drives`` (evoked drives, :mod:`lfpk_hpc.drives`): name → {"times": one array of
    spike times per drive neuron (ms after the end of presim, on the dt grid, > 0),
    "targets": {Y: (indegree, weight pA, delay ms)}}. Each drive neuron is a
    ``spike_generator`` relayed by a ``parrot_neuron`` (which fires at exactly the
    given times), connected to each target population with ``fixed_indegree``
    (multapses allowed); the parrots' spikes are recorded as the drive's.
    ``trial_seed``: after the network is built from ``seed`` (connections, weights,
    delays, initial potentials), NEST's random generators are seeded again with it,
    so that what is drawn while simulating (the Poisson background) belongs to the
    trial and the network stays the same for every trial.

    Parameters
    ----------
    nest : module
        The imported ``nest``.
    net : dict
        The network (:func:`derive`).
    seed : int
        NEST's seed (dimensionless).
    threads : int
        NEST's threads (a count).
    presim : float
        Time simulated before the recording (ms).
    tstop : float
        Time recorded after presim (ms).
    log : callable
        Receives the progress messages.
    drives : dict, optional
        Evoked drives (see above; times in ms, weights in pA, delays in ms).
    trial_seed : int, optional
        Seed of the trial's random draws (dimensionless).
    record_before : float, optional
        Time recorded before the end of presim (ms).

    Returns
    -------
    spikes : dict
        Population → (spike times in ms after presim, senders 0-based).
    timings : dict
        Wall time of each step, in seconds, and the number of connections.
    """
    pops = net["populations"]
    dt = net["dt_ms"]
    nest.ResetKernel()
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:  # NEST < 3.10
        nest.set_verbosity("M_ERROR")
    nest.local_num_threads = threads
    nest.resolution = dt
    nest.rng_seed = seed
    nest.print_time = False

    t0 = time.perf_counter()
    nodes = {}
    for Y in pops:
        pop = nest.Create(net["neuron_model"], net["N"][Y])
        pop.set(I_e=net["DC_pA"][Y], **net["neuron_params"])
        pop.set(V_m=nest.random.normal(mean=net["V0_mean_mV"][Y], std=net["V0_sd_mV"][Y]))
        nodes[Y] = pop
    if net["thalamus"]:
        th = net["thalamus_params"]
        nodes["TC"] = nest.Create("parrot_neuron", th["N"])
        th_gen = nest.Create(
            "poisson_generator",
            params={"rate": th["rate"], "start": th["start_ms"], "stop": th["stop_ms"]},
        )
    for name, drive in (drives or {}).items():
        gens = nest.Create(
            "spike_generator",
            len(drive["times"]),
            params=[{"spike_times": [presim + t - dt for t in ts]} for ts in drive["times"]],
        )
        nodes[name] = nest.Create("parrot_neuron", len(drive["times"]))
        nest.Connect(gens, nodes[name], "one_to_one", {"delay": dt})
    # record the time stamps [presim - record_before, presim + tstop): NEST stamps a
    # spike with the end of its step (so no stamp is 0), and a recorder takes
    # start < t <= stop
    window = {"start": max(presim - record_before - dt, 0.0), "stop": presim + tstop - dt}
    recorders = {
        name: nest.Create("spike_recorder", params={"record_to": "memory", **window})
        for name in nodes
    }
    bg = {
        Y: nest.Create("poisson_generator", params={"rate": net["poisson_rate"][Y]}) for Y in pops
    }
    t_create = time.perf_counter() - t0

    t0 = time.perf_counter()

    def connect(pre, post, n, w_mean, d_mean):
        if n <= 0:
            return
        w_min, w_max = (-math.inf, 0.0) if w_mean < 0 else (0.0, math.inf)
        syn = {
            "synapse_model": "static_synapse",
            "weight": nest.math.redraw(
                nest.random.normal(mean=w_mean, std=abs(w_mean) * net["weight_rel_sd"]),
                min=w_min,
                max=w_max,
            ),
            "delay": nest.math.redraw(
                nest.random.normal(mean=d_mean, std=d_mean * net["delay_rel_sd"]),
                min=net["delay_min_ms"],
                max=math.inf,
            ),
        }
        rule = {
            "rule": "fixed_total_number",
            "N": int(n),
            "allow_autapses": True,
            "allow_multapses": True,
        }
        nest.Connect(pre, post, conn_spec=rule, syn_spec=syn)

    for Y in pops:
        for X in pops:
            connect(
                nodes[X],
                nodes[Y],
                net["synapses"][Y][X],
                net["weight_mean_pA"][Y][X],
                net["delay_mean_ms"][X],
            )
        nest.Connect(
            bg[Y],
            nodes[Y],
            conn_spec={"rule": "all_to_all"},
            syn_spec={"weight": net["weight_ext_pA"], "delay": net["delay_poisson_ms"]},
        )
    if net["thalamus"]:
        nest.Connect(th_gen, nodes["TC"])
        for Y in pops:
            connect(
                nodes["TC"], nodes[Y], th["synapses"][Y], th["weight_mean_pA"], th["delay_mean_ms"]
            )
    for name, drive in (drives or {}).items():
        for Y, (indegree, w, d) in drive["targets"].items():
            nest.Connect(
                nodes[name],
                nodes[Y],
                conn_spec={"rule": "fixed_indegree", "indegree": int(indegree)},
                syn_spec={"synapse_model": "static_synapse", "weight": float(w), "delay": d},
            )
    for name, pop in nodes.items():
        nest.Connect(pop, recorders[name])
    if trial_seed is not None:
        nest.rng_seed = int(trial_seed)
    nest.Prepare()
    nest.Cleanup()
    t_connect = time.perf_counter() - t0
    n_syn = nest.num_connections
    log(f"built in {t_create + t_connect:.1f} s ({n_syn} connections incl. devices)")

    t0 = time.perf_counter()
    if presim > 0:
        log(f"presimulating {presim:g} ms (not recorded)")
        nest.Simulate(presim)
    t_presim = time.perf_counter() - t0
    t0 = time.perf_counter()
    log(f"simulating {tstop:g} ms")
    nest.Simulate(tstop)
    t_sim = time.perf_counter() - t0

    spikes = {}
    for name, pop in nodes.items():
        ev = recorders[name].get("events")
        times = np.asarray(ev["times"], dtype=np.float64) - presim
        senders = np.asarray(ev["senders"], dtype=np.int64) - int(pop[0].global_id)
        # spike times lie on the dt grid: round away the float error of the subtraction
        times = np.round(times / dt) * dt
        keep = (times >= -record_before - 1e-9 * dt) & (times < tstop)
        times, senders = times[keep], senders[keep]
        order = np.lexsort((senders, times))
        spikes[name] = (times[order], senders[order])
    timings = {
        "create_s": t_create,
        "connect_s": t_connect,
        "presim_s": t_presim,
        "sim_s": t_sim,
        "connections": int(n_syn),
    }
    return spikes, timings


# --------------------------------------------------------------------------- output


# --------------------------------------------------------------------------- main


def _error(msg, code: int = 2) -> int:
    from .errors import report

    return report(msg, code)


def _fmt_table(rows, header):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:>{w}}}" for w in widths)
    return [line.format(*header)] + [line.format(*r) for r in rows]


def main(args) -> int:
    """``python -m lfpk_hpc simulate-pd14``: PD14 in NEST, its spikes written; the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of :func:`add_arguments`.

    Returns
    -------
    int
        The exit code.
    """
    launcher = mpi_launch()
    if launcher is not None:
        return _error(f"{MPI_MESSAGE} (started by {launcher})")
    if args.k_scale is None:
        args.k_scale = args.scale
    try:
        validate_arguments(args)
        _pres, params_hash = check_params(args.params)
    except InputError as exc:
        return _error(str(exc))
    try:
        nest = import_nest()
    except ImportError as exc:
        return _error(
            f"NEST is not installed ({exc}); install it with pip install 'lfpk_hpc[nest]' "
            "(or pip install nest-simulator)"
        )

    def log(msg: str) -> None:
        print(msg, flush=True)

    net = derive(args.scale, args.k_scale, args.dt, args.thalamus)
    pops = net["populations"]
    needed = threads_needed(net)
    if args.threads < needed:
        n_syn = sum(sum(row.values()) for row in net["synapses"].values())
        return _error(
            f"--threads {args.threads}: at --scale {args.scale:g} the network has "
            f"{n_syn:,} synapses and NEST holds at most {MAX_CONNECTIONS_PER_THREAD:,} "
            f"per thread; use --threads {needed} or more"
        )
    log(f"simulate-pd14: the PD14 microcircuit in NEST {nest.__version__} ({args.params})")
    log(
        f"  N_scaling {args.scale:g}, K_scaling {args.k_scale:g}: weights x "
        f"1/sqrt({args.k_scale:g}) = {1 / math.sqrt(args.k_scale):.4g}, DC compensating the "
        "mean input (PD14 reference rule)"
    )
    log(
        f"  seed {args.seed}, dt {args.dt:g} ms, {args.threads} thread(s), presim "
        f"{args.presim:g} ms (not recorded), recorded {args.tstop:g} ms"
    )
    rows = [
        (
            Y,
            net["N"][Y],
            f"{sum(net['indegree'][Y].values()):.1f}",
            net["K_ext"][Y],
            f"{net['poisson_rate'][Y]:g}",
            f"{net['DC_pA'][Y]:.2f}",
        )
        for Y in pops
    ]
    for line in _fmt_table(rows, ("pop", "N", "K_rec", "K_ext", "bg Hz", "DC pA")):
        log("  " + line)
    log("  in-degrees K_YX (rows: target Y, columns: source X):")
    rows = [(Y, *(f"{net['indegree'][Y][X]:.1f}" for X in pops)) for Y in pops]
    for line in _fmt_table(rows, ("Y\\X", *pops)):
        log("    " + line)
    if args.thalamus:
        th = net["thalamus_params"]
        log(
            f"  thalamus: {th['N']} neurons at {th['rate']:g} spikes/s from "
            f"{th['start_ms']:g} to {th['stop_ms']:g} ms of simulation time (recorded time "
            f"{th['start_ms'] - args.presim:g} to {th['stop_ms'] - args.presim:g} ms); "
            "in-degrees "
            + ", ".join(f"{Y} {th['synapses'][Y] / net['N'][Y]:.1f}" for Y in pops if net["N"][Y])
        )
        if not (args.presim <= th["start_ms"] < args.presim + args.tstop):
            log(
                "  note: the thalamic stimulus lies outside the recorded time "
                f"[{args.presim:g}, {args.presim + args.tstop:g}) ms of simulation time"
            )
    try:
        with hidden_launcher_env():
            spikes, timings = simulate(
                nest,
                net,
                seed=args.seed,
                threads=args.threads,
                presim=args.presim,
                tstop=args.tstop,
                log=log,
            )
    except nest.NESTError as exc:
        return _error(f"NEST failed: {' '.join(str(exc).split())}", 1)
    log(
        f"wall time: build {timings['create_s'] + timings['connect_s']:.1f} s, presim "
        f"{timings['presim_s']:.1f} s, sim {timings['sim_s']:.1f} s"
    )

    sizes = dict(net["N"])
    if args.thalamus:
        sizes["TC"] = net["thalamus_params"]["N"]
    rates = {
        name: len(spikes[name][0]) / (sizes[name] * args.tstop * 1e-3) if sizes[name] else 0.0
        for name in spikes
    }
    rows = [
        (name, f"{rates[name]:.3f}", f"{pd14.RATES[name]:.3f}" if name in pd14.RATES else "-")
        for name in spikes
    ]
    log("mean rates (spikes/s) over the recorded time, with the published full-scale ones:")
    for line in _fmt_table(rows, ("pop", "rate", "published")):
        log("  " + line)

    source = f"NEST {nest.__version__} PD14"
    effective = {
        **net,
        "params_file": str(args.params),
        "params_hash": params_hash,
        "seed": args.seed,
        "threads": args.threads,
        "presim_ms": args.presim,
        "tstop_ms": args.tstop,
        "nest_version": nest.__version__,
        "mean_rates": rates,
    }
    attrs = {
        "t_start": 0.0,
        "t_stop": float(args.tstop),
        "dt": float(args.dt),
        "source": source,
        "scale": float(args.scale),
        "k_scale": float(args.k_scale),
        "seed": int(args.seed),
        "params_json": json.dumps(effective, sort_keys=True),
    }
    try:
        from .predict import write_spikes

        write_spikes(args.out, spikes, sizes, attrs)
    except OSError as exc:
        return _error(f"cannot write --out {args.out!r}: {' '.join(str(exc).split())}")
    log(f"wrote {args.out}")
    return 0


#: the public names (the API reference documents these)
__all__ = [
    "NEURON",
    "V0_MEAN",
    "V0_SD",
    "K_EXT",
    "BG_RATE",
    "DELAY_POISSON",
    "WEIGHT_REL_SD",
    "DELAY_MEAN",
    "DELAY_REL_SD",
    "TH_START",
    "TH_DURATION",
    "TH_RATE",
    "TH_PSP",
    "DEFAULT_PRESIM",
    "DEFAULT_SEED",
    "NEST_LAUNCHER_VARS",
    "MPI_MESSAGE",
    "InputError",
    "add_arguments",
    "validate_arguments",
    "check_params",
    "mpi_launch",
    "hidden_launcher_env",
    "import_nest",
    "derive",
    "threads_needed",
    "MAX_CONNECTIONS_PER_THREAD",
    "simulate",
    "main",
]
