"""Kernel engine speed against LFPykernels 0.2.0, in one process (issue 8).

    python benchmarks/kernels.py [--reps N] [--reps-detailed N]

Prints one row per case: the median wall time of one kernel (one (X, Y) pathway,
all probes) with LFPykernels' ``KernelApprox.get_kernel`` and with
``KernelEngine.compute``, their ratio and the largest difference between the two
(max |lfpk_hpc − lfpykernels| / max |lfpykernels|, over the probes).

lfpk_hpc is timed two ways:
- first kernel: a new ``KernelEngine`` and its first ``compute(X, Y)``, so the
  time includes building the cell of Y and the probes' transformation matrices
  (what LFPykernels does on every call);
- amortised: further ``compute(X, Y)`` calls of that engine, which reuse the
  cell and the matrices (the case of every further X with the same Y).
The ratio column uses the first-kernel time; the amortised ratio is shown beside.

Cases:
- the LFPykernels README example (params/lfpykernels_readme.py), X = E and X = I,
  LFPykernels with its own ball-and-sticks template and morphology files;
- a detailed morphology: the L5 pyramidal cell L5E_j4a.hoc from
  ../shared/reference/morphologies/stretched (relative to the repository), soma
  at the L5 midpoint −1046.1 µm, 16 contacts at z = 0, −100, …, −1500 µm, Gauss
  cylinder R = 564.19 µm, sigma_z = 25 µm; synapses from L5E on apic and dend with
  depth N(−900, 200) µm, from L5I on soma, apic and dend with N(−1046.1, 100) µm;
- the same L5 pyramidal cell made active (issue 13): a user's model (the morphology
  plus a biophysics function and the mod files of tests/data/active_cell/mod: a
  sodium, a delayed-rectifier and a slow M-type potassium current and an h current,
  in soma and dendrites) with the ``frozen`` linearisation at its own rest and one
  Vrest per segment ("cell"), g_eff off; LFPykernels is given the same cell frozen
  by hand (tests/data/active_cell/reference_mod: each channel with its gates as
  parameters, set per segment to their values at rest, and every node starting at
  its resting potential), the rest found beforehand by simulating the active cell
  (not timed) — lfpk_hpc's first kernel includes finding the rest and linearising;
- the PD14 model (params/potjans.py, issue 4) on one rank, if that file exists:
  the total time of all its kernels and where it goes.

Both implementations use lfpk_hpc's compiled Exp2SynI (LFPykernels needs the
mechanism and only one library defining it can be loaded in a process).

BLAS runs single-threaded unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS say
otherwise (as for one MPI rank per core): on a busy 2-core machine a multithreaded
BLAS made a 19 x 906 x 801 matrix product take 30 ms instead of 0.5 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MORPHOLOGIES = ROOT.parent / "shared" / "reference" / "morphologies" / "stretched"
DETAILED = "L5E_j4a.hoc"
ACTIVE_MOD = ROOT / "tests" / "data" / "active_cell" / "mod"
FROZEN_MOD = ROOT / "tests" / "data" / "active_cell" / "reference_mod"

#: the detailed active cell: channel densities (S/cm²) by kind of section, and the leak
ACTIVE_DENSITIES = {
    "soma": {"na": 0.05, "kdr": 0.02, "km": 1e-3},
    "apic": {"na": 0.004, "kdr": 0.002, "km": 5e-4, "ih": 1e-4},
    "dend": {"na": 0.004, "kdr": 0.002, "ih": 2e-5},
}
ACTIVE_LEAK = {"g_pas": 3e-5, "e_pas": -70.0}  # S/cm², mV


# --------------------------------------------------------------------------- models


def detailed_model(morphology: Path):
    """The L5 pyramidal cell with two presynaptic populations (see the module doc)."""
    from lfpk_hpc.params import (
        CellModel,
        Connection,
        CurrentDipoleProbe,
        Extrinsic,
        GaussCylinderProbe,
        Geometry,
        KernelSettings,
        Model,
        Placement,
        Population,
        Synapse,
        norm,
        truncnorm,
        validate,
    )

    def multapses(mean, sd):
        return truncnorm(loc=mean, scale=sd, a=(1 - mean) / sd, b=(10 - mean) / sd)

    def delay(mean, sd):
        return truncnorm(loc=mean, scale=sd, a=(0.3 - mean) / sd, b=np.inf)

    loc = -1046.1  # µm, L5 midpoint
    model = Model(
        name="detailed_L5E",
        populations=(
            Population(
                "L5E",
                N=4850,
                nu=2.5,
                cell=CellModel(morphology=str(morphology), Ra=100.0, cm=1.0, g_pas=3e-4),
                geometry=Geometry(radius=564.19, loc=loc, scale=25.0),
            ),
            Population("L5I", N=1065, nu=5.0),
        ),
        connections=(
            Connection(
                "L5E",
                "L5E",
                C=0.0831,
                multapses=multapses(2.0, 0.6),
                delay=delay(1.5, 0.3),
                synapse=Synapse("Exp2Syn", weight=1.5e-4, tau1=0.2, tau2=1.8, e=0.0),
                placement=Placement(("apic", "dend"), depth=(norm(-900.0, 200.0),)),
            ),
            Connection(
                "L5I",
                "L5E",
                C=0.3726,
                multapses=multapses(5.0, 1.1),
                delay=delay(1.2, 0.6),
                synapse=Synapse("Exp2Syn", weight=2e-3, tau1=0.1, tau2=9.0, e=-80.0),
                placement=Placement(("soma", "apic", "dend"), depth=(norm(loc, 100.0),)),
            ),
        ),
        extrinsic={
            "L5E": Extrinsic(
                n_ext=450,
                nu_ext=40.0,
                synapse=Synapse("Exp2Syn", weight=2e-4, tau1=0.2, tau2=1.8, e=0.0),
            )
        },
        probes=(
            GaussCylinderProbe(
                "lfp",
                z=tuple(np.arange(0.0, -1501.0, -100.0).tolist()),
                sigma=0.3,
                R=564.19,
                sigma_z=25.0,
            ),
            CurrentDipoleProbe("cdm"),
        ),
        kernel=KernelSettings(dt=2**-4, tau=50.0, t_X=500.0, Vrest=-65.0, g_eff=True),
    )
    return validate(model)


def _kind(name: str) -> str:
    base = name.split(".")[-1]
    return "soma" if "soma" in base else ("apic" if "apic" in base else "dend")


def active_biophysics(cell, suffix=""):
    """The detailed active cell's mechanisms (LFPy's custom_fun): Ra 100 Ω·cm, cm
    1 µF/cm², the leak, and the channels of ACTIVE_DENSITIES; ``suffix`` "_fz" inserts
    the hand-frozen copies instead (their gates are set by :func:`freeze_at`)."""
    for sec in cell.allseclist:
        sec.Ra, sec.cm = 100.0, 1.0
        sec.insert("pas")
        sec.g_pas, sec.e_pas = ACTIVE_LEAK["g_pas"], ACTIVE_LEAK["e_pas"]
        channels = ACTIVE_DENSITIES[_kind(sec.name())]
        for ch, gbar in channels.items():
            sec.insert(f"lfpkt_{ch}{suffix}")
            setattr(sec, f"gbar_lfpkt_{ch}{suffix}", gbar)
        if "na" in channels:
            sec.ena = 50.0
        if "kdr" in channels or "km" in channels:
            sec.ek = -85.0


GATES = {"na": ("m", "h"), "kdr": ("n",), "km": ("w",), "ih": ("q",)}


def rest_of_active_cell(morphology: Path, lambda_f: float):
    """The active cell at its rest, found by simulating it without input (4 s at
    0.5 ms; LFPy and NEURON only): per node (section base name, x) its potential, per
    segment its gates, and the potentials of the segments in LFPy's order."""
    import LFPy
    from neuron import h

    cell = LFPy.Cell(
        morphology=str(morphology),
        custom_fun=[active_biophysics],
        custom_fun_args=[{}],
        nsegs_method="lambda_f",
        lambda_f=lambda_f,
        delete_sections=True,
    )
    h.dt = 0.5
    h.finitialize(ACTIVE_LEAK["e_pas"])
    h.continuerun(4000.0)

    def key(sec, seg):
        return (sec.name().split(".")[-1], round(seg.x, 6))

    nodes = {key(sec, seg): seg.v for sec in cell.allseclist for seg in sec.allseg()}
    gates = {}
    for sec in cell.allseclist:
        for seg in sec:
            gates[key(sec, seg)] = {
                (ch, g): getattr(getattr(seg, f"lfpkt_{ch}"), g)
                for ch, names in GATES.items()
                if hasattr(seg, f"lfpkt_{ch}")
                for g in names
            }
    v_seg = [seg.v for sec in cell.allseclist for seg in sec]
    del cell
    h("forall delete_section()")
    return nodes, gates, v_seg


def frozen_biophysics(cell, nodes, gates):
    """LFPykernels' cell: the hand-frozen copies with the gates at rest, every node
    starting at its resting potential (set when NEURON initialises, after LFPy has set
    the segments)."""
    from neuron import h

    active_biophysics(cell, suffix="_fz")

    def at_init():
        for sec in cell.allseclist:
            base = sec.name().split(".")[-1]
            for seg in sec.allseg():
                seg.v = nodes[(base, round(seg.x, 6))]
            for seg in sec:
                for (ch, g), value in gates[(base, round(seg.x, 6))].items():
                    setattr(getattr(seg, f"lfpkt_{ch}_fz"), g, value)

    cell.lfpk_bench_fih = h.FInitializeHandler(0, at_init)


def active_model(detailed):
    """``detailed`` with the L5 cell as the active user's model, frozen at its own rest,
    Vrest per segment, g_eff off."""
    import dataclasses

    from lfpk_hpc.params import CellModel, validate

    pop = detailed.population("L5E")
    cell = CellModel(
        morphology=pop.cell.morphology,
        lambda_f=pop.cell.lambda_f,
        biophysics=active_biophysics,
        mechanisms=str(ACTIVE_MOD),
        linearisation="frozen",
    )
    pops = tuple(
        dataclasses.replace(p, cell=cell) if p.name == "L5E" else p for p in detailed.populations
    )
    ks = dataclasses.replace(detailed.kernel, Vrest={"L5E": "cell"}, g_eff=False)
    return validate(dataclasses.replace(detailed, populations=pops, kernel=ks))


# --------------------------------------------------------------------------- lfpykernels side


def _set_passive(cell, g_pas, e_pas):
    for sec in cell.template.all:
        sec.insert("pas")
        sec.g_pas = g_pas
        sec.e_pas = e_pas


def readme_cell_parameters(readme) -> dict:
    """LFPykernels' cell parameters of its README example: its own ball-and-sticks
    template and morphology files, passive with the README's g_pas and Vrest."""
    import lfpykernels

    pkg = Path(lfpykernels.__file__).parent / "tests"
    cell_e = readme.population("E").cell
    return {
        "templatefile": str(pkg / "BallAndSticksTemplate.hoc"),
        "templatename": "BallAndSticksTemplate",
        "templateargs": None,
        "morphology": str(pkg / "BallAndSticks_E.hoc"),
        "custom_fun": [_set_passive],
        "custom_fun_args": [{"g_pas": cell_e.g_pas, "e_pas": readme.kernel.Vrest}],
        "delete_sections": False,
    }


def template_for(morphology: Path, folder: Path) -> tuple[Path, str]:
    """A NEURON template declaring the sections a hoc morphology file creates, as
    ``LFPy.TemplateCell`` needs it (the file then runs inside the template)."""
    text = morphology.read_text()
    creates = re.findall(r"^\s*create\s+(.+)$", text, flags=re.M)
    names = sorted({item.strip().split("[")[0] for line in creates for item in line.split(",")})
    name = "LFPK_BENCH_" + re.sub(r"\W", "_", morphology.stem)
    body = [f"begintemplate {name}", f"public all, {', '.join(names)}", "objref all"]
    body += ["proc init() { all = new SectionList() }"]
    body += [f"create {line.strip()}" for line in creates]
    body += [f"endtemplate {name}"]
    path = folder / f"{name}.hoc"
    path.write_text("\n".join(body) + "\n")
    return path, name


def kernel_approx(model, Y: str, cell_parameters: dict):
    """``lfpykernels.KernelApprox`` for the pathways onto Y of ``model``."""
    import lfpykernels
    import scipy.stats as st

    pres = model.presynaptic(Y)
    cons = [model.connection(X, Y) for X in pres]
    for what in ("multapses", "delay"):
        names = {getattr(c, what).name for c in cons}
        assert len(names) == 1, f"lfpykernels takes one {what} distribution, got {names}"
    pop = model.population(Y)
    ext = model.extrinsic[Y]

    def syn_dict(syn):
        d = {"weight": syn.weight, "syntype": syn.model, "tau1": syn.tau1, "tau2": syn.tau2}
        if syn.e is not None:
            d["e"] = syn.e
        return d

    return lfpykernels.KernelApprox(
        X=list(pres),
        Y=Y,
        N_X=np.array([model.population(X).N for X in pres]),
        N_Y=pop.N,
        C_YX=np.array([c.C for c in cons]),
        cellParameters=cell_parameters,
        populationParameters={
            "radius": pop.geometry.radius,
            "loc": pop.geometry.loc,
            "scale": pop.geometry.scale,
        },
        multapseFunction=getattr(st, cons[0].multapses.name),
        multapseParameters=[dict(c.multapses.params) for c in cons],
        delayFunction=getattr(st, cons[0].delay.name),
        delayParameters=[dict(c.delay.params) for c in cons],
        synapseParameters=[syn_dict(c.synapse) for c in cons],
        synapsePositionArguments=[
            {
                "section": list(c.placement.sections),
                "fun": [getattr(st, d.name) for d in c.placement.depth],
                "funargs": [dict(d.params) for d in c.placement.depth],
                "funweights": list(c.placement.weights),
            }
            for c in cons
        ],
        extSynapseParameters=syn_dict(ext.synapse),
        nu_ext=ext.nu_ext,
        n_ext=ext.n_ext,
        nu_X={X: model.population(X).nu for X in pres},
        conductance_based=all(c.synapse.conductance_based for c in cons),
    )


def lfpykernels_probes(model):
    """LFPykernels' probes for ``model``'s, keyed by our probe names."""
    import lfpykernels

    from lfpk_hpc.params import GaussCylinderProbe

    out = {}
    for p in model.probes:
        if isinstance(p, GaussCylinderProbe):
            probe = lfpykernels.GaussCylinderPotential(
                cell=None, z=np.array(p.z, dtype=float), sigma=p.sigma, R=p.R, sigma_z=p.sigma_z
            )
        else:
            probe = lfpykernels.KernelApproxCurrentDipoleMoment(cell=None)
        out[p.name] = probe
    return out


def run_lfpykernels(model, Y, X, cell_parameters, reps, vrest=None):
    ks = model.kernel
    times, H = [], None
    for _ in range(reps):
        ka = kernel_approx(model, Y, cell_parameters)
        probes = lfpykernels_probes(model)
        t0 = time.perf_counter()
        res = ka.get_kernel(
            list(probes.values()), Vrest=ks.Vrest if vrest is None else vrest, dt=ks.dt, X=X,
            t_X=ks.t_X, tau=ks.tau, g_eff=ks.g_eff,
        )  # fmt: skip
        times.append(time.perf_counter() - t0)
        H = {name: res[type(p).__name__] for name, p in probes.items()}
        del ka
    return statistics.median(times), H


# --------------------------------------------------------------------------- lfpk_hpc side


def run_lfpk_hpc(model, Y, X, reps, reps_amortised):
    from lfpk_hpc.kernel import KernelEngine

    first, first_parts, H = [], [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        engine = KernelEngine(model)
        r = engine.compute(X, Y)
        if engine.linearisation(Y) is not None:  # a user's model: where its time went
            r.timings["linearise"] = engine.linearisation(Y).seconds
        first.append(time.perf_counter() - t0)
        first_parts.append(r.timings)
        H = r.kernels
    amortised, parts = [], []
    for _ in range(reps_amortised):
        t0 = time.perf_counter()
        r = engine.compute(X, Y)
        amortised.append(time.perf_counter() - t0)
        parts.append(r.timings)
    engine.close()
    split = {
        "first": {k: statistics.median(t[k] for t in first_parts) for k in first_parts[0]},
        "amortised": {k: statistics.median(t[k] for t in parts) for k in parts[0]},
    }
    return statistics.median(first), statistics.median(amortised), H, split


def max_rel_diff(H, ref):
    return max(np.abs(H[k] - ref[k]).max() / np.abs(ref[k]).max() for k in ref)


# --------------------------------------------------------------------------- PD14


def startup_seconds(params: Path) -> tuple[float, float]:
    """Wall time of a fresh interpreter that imports lfpk_hpc, loads ``params`` and
    the mechanisms and creates the engine (no kernel), and the part of it after
    the interpreter started."""
    code = (
        "import time; t = time.perf_counter()\n"
        "from lfpk_hpc import mechanisms, params\n"
        "from lfpk_hpc.kernel import KernelEngine\n"
        f"m = params.load({str(params)!r})\n"
        "mechanisms.load_mechanisms(log=lambda *a: None)\n"
        "import LFPy, neuron, scipy.signal\n"
        "KernelEngine(m)\n"
        "print(time.perf_counter() - t)\n"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    total = time.perf_counter() - t0
    return total, float(out.stdout.strip().splitlines()[-1])


def pd14_row(path: Path) -> tuple[list, str]:
    from lfpk_hpc import params
    from lfpk_hpc.kernel import KernelEngine

    model = params.load(path)
    engine = KernelEngine(model)
    tasks = model.tasks()
    sums: dict[str, float] = {}
    t0 = time.perf_counter()
    for X, Y in tasks:
        r = engine.compute(X, Y)
        for k, v in r.timings.items():
            sums[k] = sums.get(k, 0.0) + v
    wall = time.perf_counter() - t0
    engine.close()
    process, imports = startup_seconds(path)
    accounted = sum(v for k, v in sums.items() if k != "total")
    lines = [
        f"PD14 on 1 rank: {len(tasks)} kernels in {wall:.2f} s "
        f"({wall / len(tasks):.4f} s per kernel); start-up {process:.2f} s per process "
        f"(of which imports, params, mechanisms {imports:.2f} s)",
        "  where the kernel time goes: "
        + ", ".join(
            f"{k} {sums.get(k, 0.0):.3f} s"
            for k in ("build", "matrix", "setup", "simulate", "probes")
        )
        + f", other Python {wall - accounted:.3f} s",
        "  (build: cell in NEURON + Python; matrix: probes' transformation matrices; "
        "setup: synapse weights + drive; simulate: NEURON; probes: M @ imem + convolution)",
    ]
    row = [f"PD14 total on 1 rank ({path.name})", "-", f"{wall:.3f} (total)", "-", "-", "-", "-"]
    return row, "\n".join(lines)


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="repetitions of the README cases")
    ap.add_argument(
        "--reps-detailed", type=int, default=1, help="lfpykernels repetitions, detailed cell"
    )
    ap.add_argument(
        "--pd14-params",
        type=Path,
        default=ROOT / "params" / "potjans.py",
        help="params file of the PD14 row (default: params/potjans.py)",
    )
    args = ap.parse_args(argv)

    morphology = MORPHOLOGIES / DETAILED
    if not morphology.is_file():
        print(
            f"benchmarks/kernels.py: the detailed morphology {morphology} is absent; it is part "
            "of ../shared/reference/morphologies beside the development checkout",
            file=sys.stderr,
        )
        return 2

    import lfpykernels
    import neuron

    from lfpk_hpc import mechanisms, params

    mechanisms.load_mechanisms(log=lambda *a: None)
    readme = params.load(ROOT / "params" / "lfpykernels_readme.py")
    readme_cell = readme_cell_parameters(readme)
    detailed = detailed_model(morphology)
    tmp = Path(tempfile.mkdtemp(prefix="lfpk_bench_"))
    template, template_name = template_for(morphology, tmp)
    cell_l5 = detailed.population("L5E").cell
    detailed_cell = {
        "templatefile": str(template),
        "templatename": template_name,
        "templateargs": None,
        "morphology": str(morphology),
        "Ra": cell_l5.Ra,
        "cm": cell_l5.cm,
        "nsegs_method": "lambda_f",
        "lambda_f": cell_l5.lambda_f,
        "custom_fun": [_set_passive],
        "custom_fun_args": [{"g_pas": cell_l5.g_pas, "e_pas": detailed.kernel.Vrest}],
        "delete_sections": False,
    }
    # the detailed active cell: its mechanisms and their hand-frozen copies, its rest
    mechanisms.load_user_mechanisms(ACTIVE_MOD, log=lambda *a: None)
    mechanisms.load_user_mechanisms(FROZEN_MOD, log=lambda *a: None)
    active = active_model(detailed)
    nodes, gates, v_rest = rest_of_active_cell(morphology, cell_l5.lambda_f)
    active_cell = dict(
        detailed_cell,
        Ra=None,
        cm=None,
        custom_fun=[frozen_biophysics],
        custom_fun_args=[{"nodes": nodes, "gates": gates}],
    )
    cases = [
        ("README X=E -> E", readme, "E", "E", readme_cell, args.reps, None),
        ("README X=I -> E", readme, "I", "E", readme_cell, args.reps, None),
        (
            f"{DETAILED} X=L5E (906 seg, 16+3 ch)",
            detailed,
            "L5E",
            "L5E",
            detailed_cell,
            args.reps_detailed,
            None,
        ),
        (
            f"{DETAILED} active, frozen, Vrest per segment, X=L5E",
            active,
            "L5E",
            "L5E",
            active_cell,
            args.reps_detailed,
            v_rest,
        ),
    ]
    header = [
        "case",
        "lfpykernels s/kernel",
        "lfpk_hpc s/kernel (first)",
        "lfpk_hpc s/kernel (amortised)",
        "ratio (first)",
        "ratio (amortised)",
        "max rel diff",
    ]
    rows, notes = [], []
    print(
        f"NEURON {neuron.__version__}, lfpykernels {lfpykernels.__version__}, "
        f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    for name, model, X, Y, cell_parameters, reps, vrest in cases:
        t_ref, H_ref = run_lfpykernels(model, Y, X, cell_parameters, reps, vrest)
        t_first, t_amort, H, split = run_lfpk_hpc(model, Y, X, max(reps, 5), 10)
        rows.append(
            [
                name,
                f"{t_ref:.4f}",
                f"{t_first:.4f}",
                f"{t_amort:.4f}",
                f"{t_ref / t_first:.0f}x",
                f"{t_ref / t_amort:.0f}x",
                f"{max_rel_diff(H, H_ref):.1e}",
            ]
        )
        for kind, times in split.items():
            notes.append(
                f"{name}: lfpk_hpc {kind} kernel: "
                + ", ".join(f"{k} {1e3 * v:.2f} ms" for k, v in times.items())
            )
        print(f"  done: {name}", flush=True)
    potjans = args.pd14_params
    if potjans.is_file():
        row, text = pd14_row(potjans)
        rows.append(row)
        notes.append(text)
    else:
        rows.append(["PD14 total on 1 rank", f"n/a (needs {potjans.name}, issue 4)"] + [""] * 5)

    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print()
    for r in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print()
    print(
        "median wall time per kernel (one (X, Y) pathway, all probes); ratio = lfpykernels / "
        "lfpk_hpc; 'first' includes lfpk_hpc's cell build and transformation matrices, "
        "'amortised' reuses them; max rel diff = max|lfpk_hpc - lfpykernels| / "
        "max|lfpykernels| over the probes"
    )
    for n in notes:
        print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
