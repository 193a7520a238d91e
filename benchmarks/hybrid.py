"""Speed of the hybrid ground truth against the floor and its peers, in one process.

    .venv/bin/python benchmarks/hybrid.py [--cells N] [--tstop 1000] [--cell p5]

The same cells and inputs for every route: a population of reconstructed cells of
Hagen et al. (2016) — ``p5``: the L5 pyramid L5E_j4a (1078 segments), ``b4``: the L4
basket cell L4I_oi26rbc1 (230 segments), ``pd14``: the generated L2/3 pyramid of
params/potjans.py (30 segments) — each with about 2000 current-based synapses from
an excitatory (1600) and an inhibitory (400) population of Poisson neurons (PD14's
weights, delays and layer placement; 5 and 10 spikes/s), simulated for ``--tstop``
ms at dt 0.1 ms, in one block of as many cells as a hybrid run puts in a block
(``--cells``; by default at least 4 and at least the run's smallest block,
lfpk_hpc.hybrid.MIN_BLOCK_SEGMENTS = 2000 segments: 4 L5 pyramids, 9 basket cells,
67 generated L2/3 pyramids). Printed per cell and simulated second (s), and as
ratios:

(a) lfpk_hpc's whole hybrid block (build, synapse set-up, probes: LFP at 16
    contacts, dipole, EEG; simulation; recording) against **bare NEURON stepping** of
    the same cells: the same block built the same way (its cells, synapses and
    their events), advanced the same number of steps in a hoc loop with nothing
    recorded and no probe (``simulate_block(record=False)``), the time of its steps
    alone (without their set-up: initialisation, the events' order): the
    simulation a ground truth cannot avoid (target: at most 1.3x). Printed
    beside it, (a'), the stricter floor of the cells' passive membranes alone,
    without synapses or events;
(b) **plain LFPy** against lfpk_hpc: per cell ``LFPy.Cell``, one ``LFPy.Synapse`` per
    synapse with ``set_spike_times`` (the same synapses, drawn by the hybrid's rule),
    ``simulate(probes=[RecExtElectrode (line sources), CurrentDipoleMoment])``
    (target: lfpk_hpc at least 3x faster);
(c) **hybridLFPy 0.2** against lfpk_hpc, when it is installed (it builds from its
    source package and runs with LFPy 2.3.7 / NEURON 9): one ``hybridLFPy.Population``
    of the same cells with the same synapse counts per layer, weights, delays and
    spike trains (target: lfpk_hpc at least 1.5x faster).

Each route runs in this process one after the other; the hybrid and both floors
are repeated in turn and the best time of each kept (a busy machine only slows a
run down). Ratios (a) and (a') are the median over the repetitions of the block's
time over its floor's, run right after it: on a machine whose speed drifts over
minutes (this one's by up to 30 %), a pair run seconds apart compares like with
like, where the best of each route may come from different minutes. BLAS runs
one thread, as in a run (one rank per core; python -m lfpk_hpc sets the same),
unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS say otherwise.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

CELLS = {
    "p5": ("p5(L56)", "L5", True),
    "b4": ("b4", "L4", False),
    "pd14": (None, "L23", True),
}


def bench_model(which: str, n_cells: int):
    """A model with one population Y of ``n_cells`` cells and presynaptic E, I."""
    from lfpk_hpc import pd14
    from lfpk_hpc.params import (
        Connection,
        CurrentDipoleProbe,
        Geometry,
        KernelSettings,
        Model,
        Population,
        exp_psc,
        validate,
    )

    cell_type, layer, pyramidal = CELLS[which]
    if cell_type is None:
        cell = pd14.cell_model("p23", None)
        placements = {X: pd14.placement("L23E", f"L23{X}", True) for X in "EI"}
    else:
        cell = pd14.cell_model(cell_type, "hagen2016")
        placements = {X: pd14.placement(cell_type, f"L5{X}", pyramidal) for X in "EI"}
    n_e, n_i = 1000, 250
    # in-degrees 1600 (E) and 400 (I) with the log rule: C from K/N_Y = 1600
    c_e = -math.expm1(1600 * n_cells * math.log1p(-1.0 / (n_e * n_cells)))
    c_i = -math.expm1(400 * n_cells * math.log1p(-1.0 / (n_i * n_cells)))
    probes = pd14.probes()
    model = Model(
        name=f"bench_{which}",
        populations=(
            Population("E", N=n_e, nu=5.0),
            Population("I", N=n_i, nu=10.0),
            Population(
                "Y",
                N=n_cells,
                nu=5.0,
                cell=cell,
                geometry=Geometry(pd14.RADIUS, pd14.layer_mid(layer), pd14.SOMA_SD),
            ),
        ),
        connections=tuple(
            Connection(
                X,
                "Y",
                c,
                pd14.SINGLE,
                pd14.delay(X),
                exp_psc(pd14.weight(X, "L5E"), 0.5),
                placements[X],
            )
            for X, c in (("E", c_e), ("I", c_i))
        ),
        probes=(probes[0], CurrentDipoleProbe("cdm"), probes[2]),
        kernel=KernelSettings(dt=0.1, tau=20.0, t_X=20.0, Vrest=-65.0, g_eff=False),
        synapse_count="log",
    )
    return validate(model)


def poisson(model, tstop, seed=1):
    rng = np.random.default_rng(seed)
    out = {}
    for p in model.populations:
        n = rng.poisson(p.nu * tstop / 1000.0 * p.N)
        out[p.name] = (np.sort(rng.uniform(0, tstop, n)), rng.integers(0, p.N, n), p.N)
    return out


def cells_per_block(which: str) -> int:
    """At least 4 cells, and at least the cells of a run's smallest block."""
    from lfpk_hpc.hybrid import MIN_BLOCK_SEGMENTS
    from lfpk_hpc.hybridsim import HybridInputs

    model = bench_model(which, 4)
    inputs = HybridInputs(model, poisson(model, 10.0), 0.0, 10.0, 0.1, seed=3)
    return max(4, int(round(MIN_BLOCK_SEGMENTS / inputs.prototype("Y").n_seg)))


def run_hybrid(model, spikes, tstop, n_cells, record=True):
    """The hybrid block: (its wall time, the BlockResult, the inputs); with
    ``record=False`` the time is its steps alone (the floor)."""
    from lfpk_hpc.hybridsim import HybridInputs, simulate_block

    inputs = HybridInputs(model, spikes, 0.0, tstop, 0.1, seed=3)
    inputs.prototype("Y")  # the one-off prototype build is not a per-cell cost
    t0 = time.perf_counter()
    res = simulate_block(inputs, "Y", 0, 0, n_cells, record=record)
    took = time.perf_counter() - t0
    return (took if record else res.timings["step"]), res, inputs


def run_passive(inputs, tstop, n_cells):
    """The prototype's copies (passive membrane only, no synapses) stepped in a hoc
    loop."""
    from neuron import h

    from lfpk_hpc.cells import ADVANCE_PROC, define_run_procs, delete_all_sections

    delete_all_sections()
    proto = inputs.prototype("Y")
    cells = [proto.make(h, f"bare{i}") for i in range(n_cells)]
    define_run_procs(h)
    h.dt = 0.1
    h.CVode().active(0)
    h.CVode().use_fast_imem(1)
    h.finitialize(-65.0)
    steps = int(round(tstop / 0.1))
    t0 = time.perf_counter()
    getattr(h, ADVANCE_PROC)(steps)
    took = time.perf_counter() - t0
    del cells
    return took


def run_lfpy(model, inputs, tstop, n_cells):
    """Plain LFPy: one LFPy.Cell and one LFPy.Synapse per synapse, probes in simulate."""
    import LFPy
    from lfpykit import CurrentDipoleMoment, RecExtElectrode

    from lfpk_hpc.cells import stick_morphology_hoc
    from lfpk_hpc.hybridsim import block_densities, cell_synapses

    pop = model.population("Y")
    path = model.morphology_path("Y")
    tmp = None
    if path is None:
        tmp = Path("/tmp/_bench_hybrid_cell.hoc")
        tmp.write_text(stick_morphology_hoc(pop.cell.morphology))
        path = tmp
    lfp = model.probes[0]
    z = np.asarray(lfp.z)
    positions, angles = inputs.positions("Y")
    t0 = time.perf_counter()
    for i in range(n_cells):
        cell = LFPy.Cell(
            morphology=str(path),
            v_init=-65.0,
            Ra=pop.cell.Ra,
            cm=pop.cell.cm,
            passive=True,
            passive_parameters={"g_pas": pop.cell.g_pas, "e_pas": -65.0},
            nsegs_method="lambda_f",
            lambda_f=pop.cell.lambda_f,
            dt=0.1,
            tstart=0.0,
            tstop=tstop,
            delete_sections=True,
        )
        cell.set_rotation(z=angles[i])
        cell.set_pos(*positions[i])
        zmid = cell.z.mean(axis=1)[None, :]
        keep = []
        for X in ("E", "I"):
            con = model.connection(X, "Y")
            density = block_densities(inputs.prototype("Y"), con, zmid)[0]
            syn = cell_synapses(model, X, "Y", i, density, inputs.seed)
            times, senders, _n = inputs.spikes[X]
            for seg, pre, d in zip(syn.seg, syn.pre, syn.delay, strict=True):
                s = LFPy.Synapse(
                    cell, idx=int(seg), syntype="ExpSynI", weight=con.synapse.weight, tau=0.5
                )
                s.set_spike_times(np.sort(times[senders == pre] + d))
                keep.append(s)
        el = RecExtElectrode(
            cell, x=np.zeros_like(z), y=np.zeros_like(z), z=z, sigma=lfp.sigma, method="linesource"
        )
        cdm = CurrentDipoleMoment(cell)
        cell.simulate(probes=[el, cdm])
        del keep, cell
    took = time.perf_counter() - t0
    if tmp is not None:
        tmp.unlink()
    return took


def run_hybridlfpy(model, inputs, tstop, n_cells):
    """hybridLFPy 0.2, if installed: None otherwise."""
    try:
        import hybridLFPy  # noqa: F401
    except ImportError:
        return None
    try:
        from hybridlfpy_route import run as run_peer  # benchmarks/hybridlfpy_route.py
    except ImportError:
        return None

    return run_peer(model, inputs, tstop, n_cells)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--cells",
        type=int,
        default=None,
        help="cells of the block (default: max(4, a run's smallest block of 2000 segments))",
    )
    p.add_argument("--tstop", type=float, default=1000.0, help="simulated ms (default 1000)")
    p.add_argument("--cell", choices=sorted(CELLS), nargs="+", default=["p5", "b4", "pd14"])
    p.add_argument("--repeat", type=int, default=3, help="runs of the fast routes (best kept)")
    p.add_argument("--no-lfpy", action="store_true", help="skip plain LFPy (slow)")
    args = p.parse_args()
    from lfpk_hpc import mechanisms

    mechanisms.load_mechanisms()
    print(
        f"{'cell':>5} {'segments':>8} {'synapses':>8} {'events':>7} | s per cell-second: "
        f"{'lfpk_hpc':>8} {'bare':>8} {'passive':>8} {'LFPy':>8} {'hybLFPy':>8} | ratios: "
        f"{'(a) ≤1.3':>9} {'(a´)':>7} {'(b) ≥3':>8} {'(c) ≥1.5':>8}"
    )
    for which in args.cell:
        n_cells = args.cells or cells_per_block(which)
        per = n_cells * args.tstop / 1000.0  # cell-seconds
        model = bench_model(which, n_cells)
        spikes = poisson(model, args.tstop)
        best = bare = passive = None
        paired, paired_passive = [], []
        for _ in range(args.repeat):
            took, res, inputs = run_hybrid(model, spikes, args.tstop, n_cells)
            floor = run_hybrid(model, spikes, args.tstop, n_cells, record=False)[0]
            plain = run_passive(inputs, args.tstop, n_cells)
            best = took if best is None else min(best, took)
            bare = floor if bare is None else min(bare, floor)
            passive = plain if passive is None else min(passive, plain)
            paired.append(took / floor)
            paired_passive.append(took / plain)
        lfpy = None if args.no_lfpy else run_lfpy(model, inputs, args.tstop, n_cells)
        peer = run_hybridlfpy(model, inputs, args.tstop, n_cells)
        fmt = lambda v, per=per: f"{v / per:8.3f}" if v else f"{'-':>8}"  # noqa: E731
        ratio = lambda a, b: f"{a / b:8.2f}x" if a and b else f"{'-':>9}"  # noqa: E731
        print(
            f"{which:>5} {res.n_seg // n_cells:>8} {res.n_synapses // n_cells:>8} "
            f"{res.n_events // n_cells:>7} |                    "
            f"{fmt(best)} {fmt(bare)} {fmt(passive)} {fmt(lfpy)} {fmt(peer)} |         "
            f"{float(np.median(paired)):8.2f}x {float(np.median(paired_passive)):6.2f}x "
            f"{ratio(lfpy, best)} {ratio(peer, best)}"
        )
        print(
            f"{'':>5} (a) of each repetition (the block and its floor run one after the "
            f"other): {', '.join(f'{r:.2f}' for r in paired)}; best / best "
            f"{best / bare:.2f}"
        )
        parts = ", ".join(f"{k} {v / per:.3f}" for k, v in res.timings.items())
        print(f"{'':>5} lfpk_hpc's parts in the last repetition (s per cell-second): {parts}")


if __name__ == "__main__":
    main()
