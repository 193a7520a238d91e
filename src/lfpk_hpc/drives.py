"""Evoked drives: timed volleys of external spikes, as HNN defines them.

An evoked drive (HNN's ``Network.add_evoked_drive``; hnn-core 0.6.1, hnn_core/network.py
and drives.py) is a population of ``n_cells`` drive neurons. In each trial every drive
neuron fires ``numspikes`` spikes at times drawn from a normal distribution of mean
``mu`` and SD ``sigma`` (ms; HNN's ``_create_gauss``), or, with ``sync_within_trial``
(HNN's legacy option; in its current API ``n_drive_cells=1, cell_specific=False``),
all drive neurons share one such draw. Times are put on the simulation's time grid,
and those outside (0, t_stop) are left out, as HNN leaves out times ≤ 0 and > tstop.

Its synapses: per target population Y a weight (nA, the amplitude of a current-based
exponential PSC with PD14's time constant 0.5 ms, as every PD14 synapse), a delay
(ms) and an in-degree (drive synapses per neuron of Y; default one from every drive
neuron, HNN's all-to-all connection of drive cells that are not cell-specific). The
in-degree does not change with the network's scale: the drive is a stimulus given per
target neuron.

A drive is a presynaptic population like PD14's thalamus: :func:`expand` adds it to a
model as a population of n_cells neurons (rate 0: it enters no effective leak) with a
connection onto every target, whose placement says where its synapses sit (for PD14:
:func:`lfpk_hpc.pd14.drive_placement`, proximal or distal), whose delay is exactly the
drive's delay, and whose connection probability gives the in-degree under the model's
synapse-count rule, so that the kernels H_{Y,drive} carry the drive's own synaptic
currents into every signal.

Units: ms, nA. This module imports neither NEURON nor MPI.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from .checks import NAME, fail, finite, show

# check_drives is a part of lfpk_hpc.params.validate, not API
__all__ = [
    "LOCATIONS",
    "DriveTarget",
    "EvokedDrive",
    "connection_probability",
    "drive_connection",
    "drive_times",
    "expand",
    "is_drive",
    "scale_model",
]

#: where a drive's synapses sit (see lfpk_hpc.pd14.drive_placement)
LOCATIONS = ("proximal", "distal")
#: the drives' synapse: PD14's current-based exponential PSC time constant (ms)
TAU_SYN = 0.5


@dataclass(frozen=True)
class DriveTarget:
    """A drive's synapses onto one postsynaptic population.

    ``weight``: PSC amplitude (nA) of one synapse (> 0 excites; NEST takes 1000 × it in
    pA); ``delay``: transmission delay (ms), the same for every synapse; ``indegree``:
    drive synapses per neuron of the target, None for one from every drive neuron
    (n_cells). ``placement``: where the synapses sit on the target's cells (a
    :class:`~lfpk_hpc.params.Placement`; pd14.build fills it from the drive's location).

    Parameters
    ----------
    weight : float
        PSC amplitude of one synapse, nA.
    delay : float
        Transmission delay, ms.
    indegree : float or None
        Drive synapses per target neuron, a count (None: one from every drive neuron).
    placement : Placement or None
        Where the synapses sit (µm; filled by ``pd14.build``).
    """

    weight: float
    delay: float = 1.0
    indegree: float | None = None
    placement: object | None = None


@dataclass(frozen=True)
class EvokedDrive:
    """A timed volley of spikes (HNN's evoked drive); see the module docstring.

    ``mu``, ``sigma``: mean and SD (ms) of the spike times within a trial;
    ``numspikes``: spikes per drive neuron per trial; ``n_cells``: drive neurons;
    ``location``: ``"proximal"`` or ``"distal"``; ``targets``: population name →
    :class:`DriveTarget`; ``sync_within_trial``: all drive neurons share one draw of
    times per trial.

    Parameters
    ----------
    name : str
        The drive's name (a presynaptic population of the kernels).
    mu : float
        Mean spike time within a trial, ms.
    sigma : float
        Standard deviation of the spike times, ms.
    numspikes : int
        Spikes per drive neuron per trial.
    n_cells : int
        Number of drive neurons.
    location : {"proximal", "distal"}
        Where on the targets' dendrites the synapses sit.
    targets : mapping of str to DriveTarget
        Postsynaptic population name → its synapses (nA, ms).
    sync_within_trial : bool
        All drive neurons share one draw of times per trial.
    """

    name: str
    mu: float
    sigma: float
    numspikes: int = 1
    n_cells: int = 1
    location: str = "proximal"
    targets: Mapping[str, DriveTarget] = field(default_factory=dict)
    sync_within_trial: bool = False

    def indegree(self, Y: str) -> float:
        """Drive synapses per neuron of Y.

        Parameters
        ----------
        Y : str
            A target population.

        Returns
        -------
        float
            Synapses per neuron of Y (a count).
        """
        k = self.targets[Y].indegree
        return float(self.n_cells if k is None else k)


# --------------------------------------------------------------------------- checks


def _whole(param: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        fail(param, value, f"must be a whole number >= {low}")
    return int(value)


def check_drive(d, postsynaptic) -> None:
    """The values of one drive (not its place in the model): ParamsError naming the
    first bad one. ``postsynaptic``: the names a target may have."""
    if not isinstance(d, EvokedDrive):
        fail("model.drives", d, "entries must be EvokedDrive(name, mu, sigma, ...)")
    if not isinstance(d.name, str) or not NAME.match(d.name):
        fail("drives.name", d.name, "must start with a letter and use A-Z a-z 0-9 _ ( ) + -")
    p = f"drives[{d.name}]"
    finite(f"{p}.mu", d.mu, what="a finite time (ms)")
    finite(f"{p}.sigma", d.sigma, low=0.0, what="a finite time >= 0 (ms; the SD of the times)")
    _whole(f"{p}.numspikes", d.numspikes)
    _whole(f"{p}.n_cells", d.n_cells)
    if d.location not in LOCATIONS:
        fail(f"{p}.location", d.location, f"allowed: {', '.join(map(repr, LOCATIONS))}")
    if not isinstance(d.sync_within_trial, bool):
        fail(f"{p}.sync_within_trial", d.sync_within_trial, "must be True or False")
    if not isinstance(d.targets, Mapping) or not d.targets:
        fail(
            f"{p}.targets",
            d.targets,
            "must map at least one postsynaptic population to DriveTarget(weight, delay)",
        )
    for Y, t in d.targets.items():
        if Y not in postsynaptic:
            fail(
                f"{p}.targets",
                Y,
                f"unknown postsynaptic population; allowed: {', '.join(postsynaptic)}",
            )
        q = f"{p}.targets[{Y}]"
        if not isinstance(t, DriveTarget):
            fail(q, t, "must be DriveTarget(weight, delay, indegree)")
        finite(f"{q}.weight", t.weight, what="a finite PSC amplitude (nA)")
        finite(f"{q}.delay", t.delay, low=0.0, low_open=True, what="a finite delay > 0 (ms)")
        if t.indegree is not None and (
            isinstance(t.indegree, bool)
            or not isinstance(t.indegree, (int, np.integer))
            or t.indegree < 1
        ):
            fail(
                f"{q}.indegree",
                t.indegree,
                "must be a whole number >= 1 of synapses per target neuron (or None: n_cells)",
            )


def is_drive(model, name: str) -> bool:
    """True if population ``name`` of ``model`` is one of its evoked drives.

    Parameters
    ----------
    model : Model
        The model.
    name : str
        A population's name.

    Returns
    -------
    bool
        Whether it is a drive.
    """
    return any(d.name == name for d in getattr(model, "drives", ()))


def connection_probability(k_total: float, n_pre: int, n_post: int, rule: str) -> float:
    """The connection probability C that gives ``k_total`` synapses from n_pre onto
    n_post neurons under the synapse-count rule: ``"log"`` inverts
    K = ln(1 − C)/ln(1 − 1/(n_pre·n_post)), ``"linear"`` K = C·n_pre·n_post.

    Parameters
    ----------
    k_total : float
        Total number of synapses (a count).
    n_pre : int
        Presynaptic neurons (a count).
    n_post : int
        Postsynaptic neurons (a count).
    rule : str
        The synapse-count rule, ``"log"`` or ``"linear"``.

    Returns
    -------
    float
        The connection probability C (dimensionless).
    """
    if rule == "log":
        return -math.expm1(k_total * math.log1p(-1.0 / (float(n_pre) * float(n_post))))
    return k_total / (float(n_pre) * float(n_post))


def check_drives(model) -> None:
    """Every drive of ``model``: its values, and that the model has it as a presynaptic
    population of n_cells neurons without a cell, with one connection per target that
    has the drive's weight (current-based, τ 0.5 ms), delay and in-degree, and no other
    connection (:func:`expand` makes them)."""
    drives = getattr(model, "drives", ())
    if not isinstance(drives, (tuple, list)):
        fail("model.drives", drives, "must be a tuple of EvokedDrive")
    names = [p.name for p in model.populations]
    drive_names = [d.name for d in drives if isinstance(d, EvokedDrive)]
    post = [Y for Y in model.postsynaptic if Y not in drive_names]
    seen = set()
    for d in drives:
        check_drive(d, post)
        if d.name in seen:
            fail("drives.name", d.name, "drive names must be unique")
        seen.add(d.name)
        p = f"drives[{d.name}]"
        if d.name not in names:
            fail(
                p,
                d.name,
                "has no population in the model: build it with pd14.build(drives=...) or "
                "lfpk_hpc.drives.expand(model, placement)",
            )
        pop = model.population(d.name)
        if pop.cell is not None or pop.N != d.n_cells:
            fail(
                f"populations[{d.name}]",
                f"N = {pop.N}",
                f"the population of drive {d.name} must have N = n_cells = {d.n_cells} and no cell",
            )
        for con in model.connections:
            if con.pre == d.name and con.post not in d.targets:
                fail(f"connections[{con.pre}->{con.post}]", con.post, f"is not a target of {p}")
        for Y in d.targets:
            try:
                con = model.connection(d.name, Y)
            except KeyError:
                fail(f"{p}.targets[{Y}]", Y, f"the model has no connection {d.name}->{Y}")
            want = drive_connection(model, d, Y, con.placement)
            for key in ("synapse", "delay", "multapses"):
                if getattr(con, key) != getattr(want, key):
                    fail(
                        f"connections[{d.name}->{Y}].{key}",
                        getattr(con, key),
                        f"differs from that of {p}.targets[{Y}] ({show(getattr(want, key))})",
                    )
            if not math.isclose(con.C, want.C, rel_tol=1e-12, abs_tol=0.0):
                fail(
                    f"connections[{d.name}->{Y}].C",
                    con.C,
                    f"gives not the in-degree {d.indegree(Y):g} of {p}.targets[{Y}] "
                    f"(C = {want.C!r} does)",
                )


# --------------------------------------------------------------------------- the model


def drive_connection(model, d: EvokedDrive, Y: str, placement):
    """The connection of drive ``d`` onto Y in ``model`` (its neurons' N_Y and
    synapse-count rule): C for the in-degree, one synapse per connection, the delay on
    the kernels' grid (uniform over one step of kernel.dt about it), a current-based
    exponential PSC of the target's weight.

    Parameters
    ----------
    model : Model
        The model, with the drive as a population.
    d : EvokedDrive
        The drive.
    Y : str
        The target population.
    placement : Placement
        Where the drive's synapses sit on Y's cells.

    Returns
    -------
    Connection
        The connection from the drive onto Y.
    """
    from .params import Connection, Distribution, exp_psc

    n_y = model.population(Y).N
    k_total = d.indegree(Y) * n_y
    C = connection_probability(k_total, d.n_cells, n_y, model.synapse_count)
    dt = model.kernel.dt
    t = d.targets[Y]
    return Connection(
        d.name,
        Y,
        C=C,
        multapses=Distribution("uniform", {"loc": 0.5, "scale": 1.0}),
        delay=Distribution("uniform", {"loc": t.delay - 0.5 * dt, "scale": dt}),
        synapse=exp_psc(t.weight, TAU_SYN),
        placement=placement,
    )


def expand(model, drives, placement) -> object:
    """``model`` with the drives as presynaptic populations and their connections onto
    their targets (model.drives set to ``drives``). ``placement(Y, drive)`` gives the
    Placement of a drive's synapses on Y where its target has none.

    Parameters
    ----------
    model : Model
        The network without the drives.
    drives : sequence of EvokedDrive
        The drives.
    placement : callable
        ``placement(Y, drive)``: the Placement of the drive's synapses on Y where its
        target sets none.

    Returns
    -------
    Model
        The model with the drives and their connections.
    """
    from .params import Population

    pops = list(model.populations) + [Population(d.name, N=d.n_cells, nu=0.0) for d in drives]
    cons = list(model.connections)
    model = replace(model, populations=tuple(pops), drives=tuple(drives))
    out = []
    for d in drives:
        targets = {}
        for Y, t in d.targets.items():
            pl = t.placement if t.placement is not None else placement(Y, d)
            targets[Y] = replace(t, placement=pl)
            cons.append(drive_connection(model, d, Y, pl))
        out.append(replace(d, targets=targets))
    return replace(model, connections=tuple(cons), drives=tuple(out))


def scale_model(model, scale: float):
    """The network at ``scale``: every population that is not a drive of round(N·scale)
    neurons with the same C (as lfpk_hpc.groundtruth.scaled_model), every drive as it
    is (n_cells neurons) with the C that keeps its in-degrees at the scaled sizes.

    Parameters
    ----------
    model : Model
        The model with its drives.
    scale : float
        Fraction of each population's neurons kept (dimensionless).

    Returns
    -------
    Model
        The scaled model.

    Raises
    ------
    ParamsError
        A population would have no neuron.
    """
    from .params import ParamsError

    drives = {d.name: d for d in model.drives}
    pops = []
    for pop in model.populations:
        if pop.name in drives:
            pops.append(pop)
            continue
        n = int(round(pop.N * scale))
        if n < 1:
            raise ParamsError(
                f"--scale = {scale!r} is invalid: population {pop.name} (N = {pop.N}) would "
                f"have no neuron; use --scale >= {0.5 / pop.N:.3g}"
            )
        pops.append(replace(pop, N=n))
    scaled = replace(model, populations=tuple(pops))
    cons = tuple(
        drive_connection(scaled, drives[c.pre], c.post, c.placement) if c.pre in drives else c
        for c in model.connections
    )
    return replace(scaled, connections=cons)


# --------------------------------------------------------------------------- spikes


def drive_times(d: EvokedDrive, *, seed: int, trial: int, dt: float, t_stop: float) -> list:
    """Spike times (ms) of each of the drive's neurons in one trial: ``numspikes``
    draws of N(mu, sigma) per neuron (one draw shared by all with
    ``sync_within_trial``), rounded to the grid of ``dt``, those within (0, t_stop)
    kept, sorted. The generator is seeded by (seed, trial, the drive's name): the same
    times on any rank, in any order of the trials.

    Parameters
    ----------
    d : EvokedDrive
        The drive.
    seed : int
        The run's seed (dimensionless).
    trial : int
        The trial's index.
    dt : float
        Time step whose grid the times are rounded to (ms).
    t_stop : float
        End of the trial (ms).

    Returns
    -------
    list of numpy.ndarray
        Spike times (ms), one array per neuron of the drive.
    """
    key = zlib.crc32(d.name.encode())
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(trial), key]))
    rows = 1 if d.sync_within_trial else d.n_cells
    raw = rng.normal(d.mu, d.sigma, size=(rows, d.numspikes))
    grid = np.round(raw / dt) * dt
    out = []
    for i in range(d.n_cells):
        t = grid[0 if d.sync_within_trial else i]
        out.append(np.sort(t[(t > 0) & (t < t_stop)]))
    return out
