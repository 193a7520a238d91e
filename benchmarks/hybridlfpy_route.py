"""The peer route of benchmarks/hybrid.py: hybridLFPy 0.2 on the same cells and inputs.

One ``hybridLFPy.Population`` of the benchmark's cells (same morphology, passive
parameters, d_lambda segments, population disc and depth, random rotation about z)
with hybridLFPy's own synapse placement (per layer, by membrane area, on apical and
basal dendrites), its own partner and delay draws, the same per-pathway synapse
counts, weights, ExpSynI time constant and delay distributions, driven by the same
spike trains (a minimal stand-in for its ``CachedNetwork`` serves them), and the
probes hybridLFPy uses (LFPykit's line-source ``RecExtElectrode`` at the same 16
contacts, and ``CurrentDipoleMoment``). Timed: the population's set-up (which builds
every cell once to place its synapses) and ``run()`` (which builds it again and
simulates it), as a hybridLFPy user pays them.
"""

from __future__ import annotations

import shutil
import tempfile
import time

import numpy as np


class _Trains:
    """What hybridLFPy's Population asks of a spike database: ``select(ids)``."""

    def __init__(self, times, senders, n):
        order = np.lexsort((times, senders))
        t, s = times[order], senders[order]
        ptr = np.searchsorted(s, np.arange(n + 1))
        self._trains = [t[ptr[i] : ptr[i + 1]] for i in range(n)]

    def select(self, ids):
        return [self._trains[int(i)].copy() for i in ids]


class _Network:
    """The parts of hybridLFPy's CachedNetwork that Population uses."""

    def __init__(self, spikes, names):
        # node ids 0 .. N (hybridLFPy draws randint(nodes.min(), nodes.max()))
        self.nodes = {X: np.arange(spikes[X][2] + 1) for X in names}
        self.dbs = {X: _Trains(*spikes[X]) for X in names}


def run(model, inputs, tstop, n_cells) -> float:
    """Seconds hybridLFPy 0.2 takes for ``n_cells`` cells of the benchmark model."""
    import hybridLFPy
    from lfpykit import CurrentDipoleMoment, RecExtElectrode

    from lfpk_hpc import pd14
    from lfpk_hpc.cells import stick_morphology_hoc
    from lfpk_hpc.hybridsim import connections_per_cell

    pop = model.population("Y")
    path = model.morphology_path("Y")
    tmpdir = tempfile.mkdtemp(prefix="bench_hybridlfpy_")
    if path is None:
        path = f"{tmpdir}/cell.hoc"
        with open(path, "w") as fh:
            fh.write(stick_morphology_hoc(pop.cell.morphology))
    X = ["E", "I"]
    layers = list(pd14.LAYERS.values())
    # synapses per layer and X as the benchmark's placement gives them (its layer weights)
    k_yXL = np.zeros((len(layers), 2), dtype=int)
    for j, x in enumerate(X):
        con = model.connection(x, "Y")
        total = connections_per_cell(model, x, "Y")
        for dist, w in zip(con.placement.depth, con.placement.weights, strict=True):
            top = dist.params["loc"] + dist.params["scale"]
            k_yXL[[i for i, (t, _b) in enumerate(layers) if abs(t - top) < 1e-6][0], j] += int(
                round(total * w)
            )
    z = np.asarray(model.probes[0].z)
    probes = [
        RecExtElectrode(
            None, x=np.zeros_like(z), y=np.zeros_like(z), z=z, sigma=0.3, method="linesource"
        ),
        CurrentDipoleMoment(None),
    ]
    g = pop.geometry
    t0 = time.perf_counter()
    population = hybridLFPy.Population(
        cellParams={
            "morphology": str(path),
            "Ra": pop.cell.Ra,
            "cm": pop.cell.cm,
            "passive": True,
            "passive_parameters": {"g_pas": pop.cell.g_pas, "e_pas": -65.0},
            "v_init": -65.0,
            "lambda_f": pop.cell.lambda_f,
            "nsegs_method": "lambda_f",
            "dt": inputs.dt,
            "tstart": 0.0,
            "tstop": tstop,
            "verbose": False,
        },
        rand_rot_axis=["z"],
        simulationParams={"rec_imem": True},  # its faster path: M @ imem at the end
        populationParams={
            "number": n_cells,
            "radius": g.radius,
            "z_min": g.loc - 25.0,
            "z_max": g.loc + 25.0,
            "min_cell_interdist": 1.0,
            "min_r": [[-1e199, 1e99], [0.0, 0.0]],  # no minimum distance to the axis
        },
        y="Y",
        layerBoundaries=[list(b) for b in layers],
        probes=probes,
        savelist=[],
        savefolder=tmpdir,
        dt_output=inputs.dt,
        POPULATIONSEED=1234,
        X=X,
        networkSim=_Network(inputs.spikes, X),
        k_yXL=k_yXL.tolist(),
        synParams={"section": ["apic", "dend"], "syntype": "ExpSynI"},
        synDelayLoc=[1.5, 0.75],
        synDelayScale=[0.75, 0.375],
        J_yX=[model.connection(x, "Y").synapse.weight for x in X],
        tau_yX=[0.5, 0.5],
    )
    population.run()
    took = time.perf_counter() - t0
    shutil.rmtree(tmpdir, ignore_errors=True)  # its morphology and outputs: not kept
    return took
