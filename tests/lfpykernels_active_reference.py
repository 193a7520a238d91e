"""Reference kernels of LFPykernels 0.2.0 for the tests' active cell (issue 13).

Run as a separate process by tests/test_active_cells.py:

    python tests/lfpykernels_active_reference.py SPEC.json OUT.npz

SPEC (written by the test from tests/data/active_model.py) holds the network's numbers
(sizes, C, multapses, delays, synapses, placements, probes, dt, tau, t_X), the cell's
template, its mechanism folder and the cases. For each case LFPykernels'
``KernelApprox.get_kernel`` is given the same cell (tests/data/active_cell/cell.hoc
with its own mod files), changed by a ``custom_fun`` written here, independently of
lfpk_hpc's linearisation:

- ``passive``: the active channels removed (the cell's own leak, pas, stays);
  Vrest = the active cell's resting potential per segment (a list);
- ``frozen``: each active channel replaced by its hand-frozen copy
  (tests/data/active_cell/reference_mod/*_fz.mod) with its gates set per segment to
  their values at the cell's rest; every node starts at its resting potential;
- ``quasi_active``: each channel replaced by its hand-written quasi-active copy
  (reference_mod/*_qa.mod) with the rate functions' derivatives at rest computed
  analytically below from the formulas of ../mod;
- ``frozen_hold``: the gates at their steady state at the holding potential (analytic
  x∞(v_hold)), and every segment's pas reversal moved so that the cell rests at
  v_hold (the current that holds it).

The rest is found here by simulating the active cell for 3 s at dt 0.025 ms without
input. Saved per case and X: ``<case>/<X>/lfp`` and ``cdm``; also ``rest/v`` (mV per
segment), ``rest/names`` (section base names) and ``rest/x``. Nothing of lfpk_hpc is
used but its mechanism cache (to compile the mod files).
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")

import numpy as np  # noqa: E402
import scipy.stats as st  # noqa: E402
from lfpykernels_common import lfp_and_dipole, load_mechanisms, spec_kernel_approx  # noqa: E402
from neuron import h  # noqa: E402

HERE = Path(__file__).resolve().parent
CELL = HERE / "data" / "active_cell"


# the rate functions of ../data/active_cell/mod, written out again (x∞, dx∞/dv, tau)
def _boltzmann(v, half, k):
    x = 1.0 / (1.0 + np.exp(-(v - half) / k))
    return x, x * (1.0 - x) / k


def rates(v):
    m, dm = _boltzmann(v, -38.0, 6.0)
    hh, dh = _boltzmann(v, -62.0, -6.0)
    n, dn = _boltzmann(v, -35.0, 10.0)
    q, dq = _boltzmann(v, -80.0, -8.0)
    return {
        "m": (m, dm, 0.05 + 0.3 * np.exp(-(((v + 40.0) / 20.0) ** 2))),
        "h": (hh, dh, 0.5 + 5.0 * np.exp(-(((v + 60.0) / 15.0) ** 2))),
        "n": (n, dn, 1.0 + 5.0 * np.exp(-(((v + 45.0) / 25.0) ** 2))),
        "q": (q, dq, 20.0 + 100.0 * np.exp(-(((v + 75.0) / 20.0) ** 2))),
    }


def base(sec) -> str:
    return sec.name().split(".")[-1]


def find_rest(spec):
    """The active cell at its own rest: per node v, per segment the gates."""
    import LFPy

    cell = LFPy.TemplateCell(
        templatefile=spec["template"],
        templatename=spec["template_name"],
        templateargs=spec["template_args"],
        morphology=spec["template"],
        nsegs_method="lambda_f",
        lambda_f=spec["lambda_f"],
        v_init=-70.0,
        delete_sections=True,
        dt=0.025,
        tstop=3000.0,
    )
    h.dt = 0.025
    h.finitialize(-70.0)
    h.continuerun(3000.0)
    nodes = {(base(sec), round(seg.x, 6)): seg.v for sec in cell.allseclist for seg in sec.allseg()}
    gates = {}
    for sec in cell.allseclist:
        for seg in sec:
            g = {}
            if hasattr(seg, "lfpkt_na"):
                g.update(m=seg.lfpkt_na.m, h=seg.lfpkt_na.h, n=seg.lfpkt_kdr.n)
            if hasattr(seg, "lfpkt_ih"):
                g.update(q=seg.lfpkt_ih.q)
            gates[(base(sec), round(seg.x, 6))] = g
    segs = [(base(sec), round(seg.x, 6), seg.v) for sec in cell.allseclist for seg in sec]
    del cell
    return nodes, gates, segs


def custom(cell, case, nodes, gates, v_hold):
    """Replace the cell's channels by the case's copies; per node and segment values
    are set when NEURON initialises (after LFPy has set the segments)."""
    for sec in cell.allseclist:
        for name in ("lfpkt_na", "lfpkt_kdr", "lfpkt_ih"):
            if h.ismembrane(name, sec=sec):
                gbar = getattr(sec(0.5), name).gbar  # the template's density (S/cm²)
                sec.uninsert(name)
                copy = {"frozen": "_fz", "frozen_hold": "_fz", "quasi_active": "_qa"}
                if case in copy:
                    sec.insert(name + copy[case])
                    for seg in sec:
                        getattr(seg, name + copy[case]).gbar = gbar
        if h.ismembrane("lfpkt_na_fz", sec=sec) or h.ismembrane("lfpkt_na_qa", sec=sec):
            sec.ena, sec.ek = 50.0, -85.0

    def at_init():
        for sec in cell.allseclist:
            for seg in sec.allseg():
                key = (base(sec), round(seg.x, 6))
                if case == "frozen_hold":
                    seg.v = v_hold
                elif case != "passive":
                    seg.v = nodes[key]
            for seg in sec:
                key = (base(sec), round(seg.x, 6))
                g = gates[key]
                if case == "frozen":
                    _set(seg, "lfpkt_na_fz", m=g.get("m"), h=g.get("h"))
                    _set(seg, "lfpkt_kdr_fz", n=g.get("n"))
                    _set(seg, "lfpkt_ih_fz", q=g.get("q"))
                elif case == "frozen_hold":
                    r = rates(v_hold)
                    _set(seg, "lfpkt_na_fz", m=r["m"][0], h=r["h"][0])
                    _set(seg, "lfpkt_kdr_fz", n=r["n"][0])
                    _set(seg, "lfpkt_ih_fz", q=r["q"][0])
                    # the pas reversal that makes the segment rest at v_hold
                    i_other = 0.0
                    if hasattr(seg, "lfpkt_na_fz"):
                        m, hh, n = r["m"][0], r["h"][0], r["n"][0]
                        i_other += seg.lfpkt_na_fz.gbar * m**3 * hh * (v_hold - seg.ena)
                        i_other += seg.lfpkt_kdr_fz.gbar * n**4 * (v_hold - seg.ek)
                    if hasattr(seg, "lfpkt_ih_fz"):
                        i_other += seg.lfpkt_ih_fz.gbar * r["q"][0] * (v_hold - seg.lfpkt_ih_fz.eh)
                    seg.pas.e = v_hold + i_other / seg.pas.g
                elif case == "quasi_active":
                    v = seg.v
                    r = rates(v)
                    if hasattr(seg, "lfpkt_na_qa"):
                        _set(seg, "lfpkt_na_qa", mstar=g["m"], hstar=g["h"], vstar=v)
                        _set(seg, "lfpkt_na_qa", bm=r["m"][1], bh=r["h"][1])
                        _set(seg, "lfpkt_na_qa", taum=r["m"][2], tauh=r["h"][2])
                        _set(seg, "lfpkt_kdr_qa", nstar=g["n"], vstar=v, bn=r["n"][1])
                        _set(seg, "lfpkt_kdr_qa", taun=r["n"][2])
                    if hasattr(seg, "lfpkt_ih_qa"):
                        _set(seg, "lfpkt_ih_qa", qstar=g["q"], vstar=v, bq=r["q"][1])
                        _set(seg, "lfpkt_ih_qa", tauq=r["q"][2])

    cell.lfpk_reference_fih = h.FInitializeHandler(0, at_init)


def _set(seg, mech, **values):
    if not hasattr(seg, mech):
        return
    m = getattr(seg, mech)
    for key, value in values.items():
        if value is not None:
            setattr(m, key, float(value))


def main(spec_path, out):
    spec = json.loads(Path(spec_path).read_text())
    load_mechanisms(
        list((CELL / "mod").glob("*.mod")) + list((CELL / "reference_mod").glob("*.mod")),
        "lfpk_ref_active_mod_",
    )
    nodes, gates, segs = find_rest(spec)
    v_rest = [v for _, _, v in segs]
    result = {
        "rest/v": np.array(v_rest),
        "rest/names": np.array([n for n, _, _ in segs]),
        "rest/x": np.array([x for _, x, _ in segs]),
    }
    X = spec["X"]
    for case in spec["cases"]:
        ka = spec_kernel_approx(
            spec,
            {
                "templatefile": spec["template"],
                "templatename": spec["template_name"],
                "templateargs": spec["template_args"],
                "morphology": spec["template"],
                "nsegs_method": "lambda_f",
                "lambda_f": spec["lambda_f"],
                "v_init": spec["v_hold"] if case == "frozen_hold" else -70.0,
                "custom_fun": [custom],
                "custom_fun_args": [
                    {"case": case, "nodes": nodes, "gates": gates, "v_hold": spec["v_hold"]}
                ],
                "delete_sections": True,
            },
            rotationParameters={},
            multapseFunction=st.truncnorm,
            multapseParameters=spec["multapses"],
            delayFunction=st.truncnorm,
            delayParameters=spec["delays"],
            conductance_based=True,
        )
        vrest = [spec["v_hold"]] * len(v_rest) if case == "frozen_hold" else v_rest
        for x in X:
            lfp, cdm = lfp_and_dipole(ka, spec, x, list(vrest))
            result[f"{case}/{x}/lfp"] = lfp
            result[f"{case}/{x}/cdm"] = cdm
        result[f"{case}/z"] = ka.cell.z
    np.savez(out, **result)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
