"""Reference kernels from LFPykernels 0.2.0 (the published implementation).

Run as a separate process by the tests: it loads LFPykernels' own Exp2SynI
mechanism (compiled from the package's tests/exp2synI.mod, not ours) and its own
ball-and-sticks template and morphology files, and writes the kernels of the
cases below to an .npz file (the LFP, the dipole moment and LFPykit's laminar CSD, and
the kernel cell's segments):

    python tests/lfpykernels_reference.py OUT.npz CASE [CASE ...]

Cases: readme (the LFPykernels README example), current (current-based synapses,
g_eff off), vrest_seg (conductance-based, g_eff off, one Vrest per segment),
expsyn (current-based exponential synapses ExpSynI, tau 0.5 ms, as in PD14; the
ExpSynI mechanism is lfpk_hpc's mod/expsyni.mod, compiled beside LFPykernels'
own Exp2SynI, since LFPykernels ships none), and ``pathways:SPEC.json``: the
pathways onto one population described in the JSON file SPEC (written by
tests/test_pd14_references.py: a reconstructed morphology in a hoc file, ExpSynI
synapses, layer placements as uniform depth profiles, the Gauss-cylinder probe),
saved under ``pathways/<X>/<probe>``. Nothing of lfpk_hpc is used but its
mechanism cache and its ExpSynI.
"""

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")

import lfpykernels  # noqa: E402
import numpy as np  # noqa: E402
import scipy.stats as st  # noqa: E402
from lfpykernels_common import PKG, lfp_and_dipole, load_mechanisms, spec_kernel_approx  # noqa: E402

# weights of the current-based case (nA); the vrest_seg profile (mV per µm of depth)
CURRENT_WEIGHTS = {"E": 0.03, "I": -0.12}
VREST_SLOPE = 0.004
EXPSYN_TAU = 0.5  # ms


def vrest_profile(z_mid):
    """Per-segment Vrest (mV) of the vrest_seg case, from segment midpoints (µm)."""
    return -65.0 + VREST_SLOPE * np.asarray(z_mid)


def set_passive(cell, Vrest):
    for sec in cell.template.all:
        sec.insert("pas")
        sec.g_pas = 0.0003
        sec.e_pas = Vrest


def kernel_approx(conductance_based=True, current_weights=None, expsyn=False):
    syn = [
        {"weight": 0.00012, "syntype": "Exp2Syn", "tau1": 0.2, "tau2": 1.8, "e": 0.0},
        {"weight": 0.002, "syntype": "Exp2Syn", "tau1": 0.1, "tau2": 9.0, "e": -80.0},
    ]
    if not conductance_based:
        for d, X in zip(syn, ("E", "I"), strict=True):
            d["syntype"] = "Exp2SynI"
            d["weight"] = current_weights[X]
            del d["e"]
            if expsyn:
                d["syntype"] = "ExpSynI"
                del d["tau1"], d["tau2"]
                d["tau"] = EXPSYN_TAU
    return lfpykernels.KernelApprox(
        X=["E", "I"],
        Y="E",
        N_X=np.array([8192, 1024]),
        N_Y=8192,
        C_YX=np.array([0.05, 0.05]),
        cellParameters={
            "templatefile": str(PKG / "BallAndSticksTemplate.hoc"),
            "templatename": "BallAndSticksTemplate",
            "custom_fun": [set_passive],
            "custom_fun_args": [{"Vrest": -65.0}],
            "templateargs": None,
            "delete_sections": False,
            "morphology": str(PKG / "BallAndSticks_E.hoc"),
        },
        populationParameters={"radius": 150.0, "loc": 0.0, "scale": 75.0},
        multapseFunction=st.truncnorm,
        multapseParameters=[
            {"a": (1 - 2.0) / 0.6, "b": (10 - 2.0) / 0.6, "loc": 2.0, "scale": 0.6},
            {"a": (1 - 5.0) / 1.1, "b": (10 - 5.0) / 1.1, "loc": 5.0, "scale": 1.1},
        ],
        delayFunction=st.truncnorm,
        delayParameters=[
            {"a": -2.2, "b": np.inf, "loc": 1.3, "scale": 0.5},
            {"a": -1.5, "b": np.inf, "loc": 1.2, "scale": 0.6},
        ],
        synapseParameters=syn,
        synapsePositionArguments=[
            {
                "section": ["apic", "dend"],
                "fun": [st.norm],
                "funargs": [{"loc": 50.0, "scale": 100.0}],
                "funweights": [1.0],
            },
            {
                "section": ["soma", "apic", "dend"],
                "fun": [st.norm],
                "funargs": [{"loc": -100.0, "scale": 100.0}],
                "funweights": [1.0],
            },
        ],
        extSynapseParameters={
            "syntype": "Exp2Syn",
            "weight": 0.0002,
            "tau1": 0.2,
            "tau2": 1.8,
            "e": 0.0,
        },
        nu_ext=40.0,
        n_ext=450,
        nu_X={"E": 2.5, "I": 5.0},
        conductance_based=conductance_based,
    )


#: the CSD of the README example: cylinders of height 100 µm about the LFP contacts'
#: depths, of the population's radius 150 µm
CSD_Z = np.linspace(1000.0, -200.0, 13)
CSD_H, CSD_R = 100.0, 150.0


def csd_probe():
    """LFPykit's LaminarCurrentSourceDensity for the README example. Its constructor
    reads the cell's segment lengths, so it is made with a stand-in cell of one long
    segment; get_kernel puts the kernel cell in its place."""
    from lfpykit import CellGeometry, LaminarCurrentSourceDensity

    stand_in = CellGeometry(
        x=np.zeros((1, 2)), y=np.zeros((1, 2)), z=np.array([[0.0, 1e4]]), d=np.ones(1)
    )
    edges = np.c_[CSD_Z - CSD_H / 2, CSD_Z + CSD_H / 2]
    return LaminarCurrentSourceDensity(stand_in, z=edges, r=np.full(CSD_Z.size, CSD_R))


def probes():
    gauss = lfpykernels.GaussCylinderPotential(
        cell=None, z=np.linspace(1000.0, -200.0, 13), sigma=0.3, R=150.0, sigma_z=75.0
    )
    return [gauss, lfpykernels.KernelApproxCurrentDipoleMoment(cell=None), csd_probe()]


def template_for(morphology: Path, folder: Path) -> tuple[Path, str]:
    """A NEURON template declaring the sections a hoc morphology file creates, as
    ``LFPy.TemplateCell`` needs it (the file then runs inside the template)."""
    text = morphology.read_text()
    creates = re.findall(r"^\s*create\s+(.+)$", text, flags=re.M)
    names = sorted({item.strip().split("[")[0] for line in creates for item in line.split(",")})
    name = "LFPK_REF_" + re.sub(r"\W", "_", morphology.stem)
    body = [f"begintemplate {name}", f"public all, {', '.join(names)}", "objref all"]
    body += ["proc init() { all = new SectionList() }"]
    body += [f"create {line.strip()}" for line in creates]
    body += [f"endtemplate {name}"]
    path = folder / f"{name}.hoc"
    path.write_text("\n".join(body) + "\n")
    return path, name


def pathways(spec_path, result):
    """The kernels of the pathways in the JSON file ``spec_path`` (see the module
    docstring) into ``result``."""
    spec = json.loads(Path(spec_path).read_text())
    folder = Path(tempfile.mkdtemp(prefix="lfpk_ref_template_"))
    template, name = template_for(Path(spec["morphology"]), folder)
    cell = spec["cell"]

    def passive(c, g_pas, e_pas):
        for sec in c.template.all:
            sec.insert("pas")
            sec.g_pas = g_pas
            sec.e_pas = e_pas

    X = spec["X"]
    ka = spec_kernel_approx(
        spec,
        {
            "templatefile": str(template),
            "templatename": name,
            "templateargs": None,
            "morphology": spec["morphology"],
            "Ra": cell["Ra"],
            "cm": cell["cm"],
            "nsegs_method": "lambda_f",
            "lambda_f": cell["lambda_f"],
            "custom_fun": [passive],
            "custom_fun_args": [{"g_pas": cell["g_pas"], "e_pas": spec["Vrest"]}],
            "delete_sections": False,
        },
        multapseFunction=getattr(st, spec["multapses"]["name"]),
        multapseParameters=[spec["multapses"]["params"]] * len(X),
        delayFunction=getattr(st, spec["delays"][0]["name"]),
        delayParameters=[d["params"] for d in spec["delays"]],
        conductance_based=False,
    )
    for x in X:
        lfp, cdm = lfp_and_dipole(ka, spec, x, spec["Vrest"])
        result[f"pathways/{x}/lfp"] = lfp
        result[f"pathways/{x}/cdm"] = cdm
    result["pathways/n_seg"] = np.array(ka.cell.totnsegs)
    shutil.rmtree(folder)


def main(out, cases):
    load_mechanisms([Path(__file__).resolve().parents[1] / "mod" / "expsyni.mod"], "lfpk_ref_mod_")
    result = {}
    for case in cases:
        if case.startswith("pathways:"):
            pathways(case.split(":", 1)[1], result)
            continue
        for X in ("E", "I"):
            if case == "readme":
                ka = kernel_approx()
                H = ka.get_kernel(
                    probes(), Vrest=-65.0, dt=2**-4, X=X, t_X=500.0, tau=50.0, g_eff=True
                )
            elif case == "current":
                ka = kernel_approx(conductance_based=False, current_weights=CURRENT_WEIGHTS)
                H = ka.get_kernel(
                    probes(), Vrest=-65.0, dt=2**-4, X=X, t_X=500.0, tau=50.0, g_eff=False
                )
            elif case == "expsyn":
                ka = kernel_approx(
                    conductance_based=False, current_weights=CURRENT_WEIGHTS, expsyn=True
                )
                H = ka.get_kernel(
                    probes(), Vrest=-65.0, dt=2**-4, X=X, t_X=500.0, tau=50.0, g_eff=False
                )
            elif case == "vrest_seg":
                ka = kernel_approx()
                # segment midpoints of the reference cell, in its segment order
                ka.get_kernel(
                    probes()[1:], Vrest=-65.0, dt=2**-4, X=X, t_X=60.0, tau=50.0, g_eff=False
                )
                z_mid = ka.cell.z.mean(axis=-1)
                result[f"{case}/z_mid"] = z_mid
                H = ka.get_kernel(
                    probes(),
                    Vrest=list(vrest_profile(z_mid)),
                    dt=2**-4,
                    X=X,
                    t_X=500.0,
                    tau=50.0,
                    g_eff=False,
                )
            else:
                raise SystemExit(f"unknown case {case!r}")
            result[f"{case}/{X}/lfp"] = H["GaussCylinderPotential"]
            result[f"{case}/{X}/cdm"] = H["KernelApproxCurrentDipoleMoment"]
            result[f"{case}/{X}/csd"] = H["LaminarCurrentSourceDensity"]  # nA/µm³
            result[f"{case}/z"] = ka.cell.z
            for key in ("x", "y", "d"):
                result[f"{case}/{key}"] = getattr(ka.cell, key)
    np.savez(out, **result)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
