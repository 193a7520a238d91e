"""The Potjans & Diesmann (2014) model: its numbers against DOMAIN.md, its kernels."""

import dataclasses
import math
import re
import subprocess

import h5py
import numpy as np
import pytest
from conftest import ROOT, assert_same_kernel_files, lfpk, mpi_env, mpirun_command, shared_path

from lfpk_hpc import params, pd14
from lfpk_hpc.kernel import KernelEngine, total_synapses
from lfpk_hpc.params import Distribution

POTJANS = ROOT / "params" / "potjans.py"


@pytest.fixture(scope="module")
def domain():
    return shared_path("reference", "DOMAIN.md").read_text()


@pytest.fixture(scope="module")
def model():
    return params.load(POTJANS)


def test_sizes_match_domain(domain, model):
    line = re.search(r"\*\*Populations and N_X:\*\* (.*)", domain).group(1)
    sizes = dict(re.findall(r"(L\d+[EI]) (\d+)", line))
    assert {k: int(v) for k, v in sizes.items()} == pd14.N_FULL
    assert [p.name for p in model.populations] == list(pd14.POPULATIONS)
    assert {p.name: p.N for p in model.populations} == pd14.N_FULL


def test_connection_table_matches_domain(domain, model):
    table = domain.split("**`conn_probs[target, source]`**")[1].split("55 of the 64")[0]
    rows = [r for r in table.splitlines() if r.startswith("| L")]
    assert len(rows) == 8
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        Y, values = cells[0], [float(c) for c in cells[1:]]
        for X, c in zip(pd14.POPULATIONS, values, strict=True):
            assert model.connection(X, Y).C == c, (X, Y)
    assert sum(c.C > 0 for c in model.connections) == 55


def test_weights_and_delays_match_domain(domain, model):
    assert pd14.psc_per_psp() == pytest.approx(585.39, abs=0.005)  # pA/mV
    assert "585.39 pA/mV" in domain
    for X in pd14.POPULATIONS:
        for Y in pd14.POPULATIONS:
            syn = model.connection(X, Y).synapse
            assert syn.model == "ExpSynI" and syn.tau2 == 0.5
            expected = (
                0.17562 if (X, Y) == ("L4E", "L23E") else (-0.35123 if X.endswith("I") else 0.08781)
            )
            assert syn.weight == pytest.approx(expected, abs=5e-6)  # nA
        d = model.connection(X, "L23E").delay
        mean = 0.75 if X.endswith("I") else 1.5
        assert d.params["loc"] == mean and d.params["scale"] == 0.5 * mean
        # truncated at 0.05 ms, as NEST redraws shorter delays
        assert d.params["loc"] + d.params["a"] * d.params["scale"] == pytest.approx(0.05)
    assert model.kernel.g_eff is False


def test_rates_are_the_published_stationary_rates(domain, model):
    line = [r for r in domain.splitlines() if r.startswith("| current (6151de2, 2022)")][0]
    rates = [float(v) for v in line.split("|")[2].split(",")]
    assert [model.population(X).nu for X in pd14.POPULATIONS] == rates


def test_synapse_counts(model):
    # K_log / K_lin = -ln(1 - C) / C: 1.251 at C = 0.3726 (L5E <- L5I)
    con = model.connection("L5I", "L5E")
    linear = dataclasses.replace(model, synapse_count="linear")
    ratio = total_synapses(model, con) / total_synapses(linear, con)
    assert ratio == pytest.approx(-math.log(1 - 0.3726) / 0.3726, rel=1e-6)
    assert round(ratio, 3) == 1.251
    # the L23E <- L23E in-degree (DOMAIN.md E.12)
    k_in = total_synapses(model, model.connection("L23E", "L23E")) / model.population("L23E").N
    assert k_in == pytest.approx(2199.9, abs=0.05)


def test_generated_cells_fit_their_layers(model):
    engine = KernelEngine(model)
    for Y in ("L23E", "L5E", "L23I"):
        engine.compute("L23E", Y)
        g = engine._cell.geometry
        soma = np.mean(g.z_mid[[i for i, s in enumerate(g.section) if "soma" in s]])
        assert soma == pytest.approx(model.population(Y).geometry.loc, abs=1e-6)
        if Y.endswith("E"):
            assert g.z.max() == pytest.approx(0.0, abs=1e-3)  # apical dendrite to the pia
        else:
            assert g.z.max() < soma + 200
    engine.close()


@pytest.fixture(scope="module")
def pd14_file(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("pd14")
    proc = subprocess.run(
        lfpk(POTJANS, "--out", "k.h5"), cwd=cwd, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cwd / "k.h5"


def test_all_kernels(pd14_file, model):
    with h5py.File(pd14_file, "r") as f:
        assert f.attrs["complete"]
        for X in pd14.POPULATIONS:
            for Y in pd14.POPULATIONS:
                for probe in ("lfp", "cdm"):
                    H = f[f"kernels/{probe}/{Y}/{X}"][...]
                    assert np.all(np.isfinite(H))
                    if model.connection(X, Y).C == 0:
                        assert not H.any(), (X, Y)  # exactly zero, e.g. L23E <- L5I
                        assert f[f"kernels/{probe}/{Y}/{X}"].attrs["zero_connection"]
                    elif probe == "lfp":
                        assert np.abs(H).max() > 0, (X, Y)
        assert f["kernels/lfp/L23E/L23E"].shape == (16, 3201)
    assert model.connection("L5I", "L23E").C == 0


def _shift_down(model, Y, dz):
    """Move population Y's somata and its synapse profiles by dz (µm)."""
    pops = tuple(
        dataclasses.replace(p, geometry=dataclasses.replace(p.geometry, loc=p.geometry.loc + dz))
        if p.name == Y
        else p
        for p in model.populations
    )

    def moved(dist):
        return Distribution(dist.name, {**dist.params, "loc": dist.params["loc"] + dz})

    cons = tuple(
        dataclasses.replace(
            c,
            placement=dataclasses.replace(
                c.placement, depth=tuple(moved(d) for d in c.placement.depth)
            ),
        )
        if c.post == Y
        else c
        for c in model.connections
    )
    return dataclasses.replace(model, populations=pops, connections=cons)


def test_shifting_a_population_down_100_um_shifts_its_lfp_one_contact(model):
    small = pd14.build(scale=0.05)
    base = KernelEngine(small).compute("L23E", "L5E").kernels
    moved = KernelEngine(_shift_down(small, "L5E", -100.0)).compute("L23E", "L5E").kernels
    scale = np.abs(base["lfp"]).max()
    assert np.abs(moved["lfp"][1:] - base["lfp"][:-1]).max() / scale < 1e-9
    assert np.abs(moved["cdm"] - base["cdm"]).max() / np.abs(base["cdm"]).max() < 1e-9


@pytest.mark.mpi
def test_small_scale_run_under_mpi_matches_serial(tmp_path):
    small = tmp_path / "potjans_small.py"
    small.write_text("from lfpk_hpc import pd14\nmodel = pd14.build(scale=0.1)\n")
    env = mpi_env()
    serial = subprocess.run(
        lfpk(small, "--out", "s.h5"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert serial.returncode == 0, serial.stderr
    par = subprocess.run(
        mpirun_command(2, small, "--out", "p.h5"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert par.returncode == 0, par.stdout + par.stderr
    assert_same_kernel_files(tmp_path / "s.h5", tmp_path / "p.h5")


def test_scale_and_options():
    m = pd14.build(scale=0.1)
    assert m.population("L23E").N == round(20683 * 0.1)
    assert m.connection("L23E", "L23E").C == 0.1009  # probabilities kept
    assert pd14.build(synapse_count="linear").synapse_count == "linear"
    tc = pd14.build(thalamus=True)
    assert tc.population("TC").N == 902 and tc.connection("TC", "L4E").C == 0.0983
    assert tc.connection("TC", "L4E").synapse.weight == pytest.approx(0.08781, abs=5e-6)
    with pytest.raises(params.ParamsError, match="scale = 2"):
        pd14.build(scale=2)


def test_16_types_share_each_populations_synapses():
    m16 = params.load(ROOT / "params" / "potjans_16types.py")
    m8 = pd14.build()
    ys = [p.name for p in m16.populations if p.cell is not None]
    assert len(ys) == 16 and ys[0] == "p23"
    assert sum(p.N for p in m16.populations if p.cell is not None) == 77164
    for Y in pd14.POPULATIONS:
        for X in pd14.POPULATIONS:
            K8 = total_synapses(m8, m8.connection(X, Y))
            K16 = sum(total_synapses(m16, m16.connection(X, y)) for y in pd14.types_of(Y))
            assert K16 == pytest.approx(K8, rel=1e-9, abs=1e-9), (X, Y)
    # a type receives from a layer only what Binzegger's counts put there
    pl = m16.connection("L23E", "ss4(L4)").placement
    assert len(pl.depth) == 1 and pl.depth[0].params["loc"] == pd14.LAYERS["L4"][1]


def test_reconstructed_morphologies_ship_with_the_package():
    """The shipped copies are the files of ../shared (where present), and kernels of
    the model with them are finite and non-zero."""
    import filecmp

    from conftest import SHARED

    shipped = sorted(p.name for p in pd14.HAGEN2016_MORPHOLOGIES.glob("*.hoc"))
    assert shipped == sorted(set(pd14.MORPHOLOGY_FILES.values()))
    assert (pd14.HAGEN2016_MORPHOLOGIES / "README.md").is_file()
    source = SHARED / "reference" / "morphologies" / "stretched"
    if source.is_dir():
        for name in shipped:
            assert filecmp.cmp(pd14.HAGEN2016_MORPHOLOGIES / name, source / name, shallow=False)
    m = pd14.build(morphologies="hagen2016", scale=0.1)
    engine = KernelEngine(m)
    for X, Y in (("L4E", "L23E"), ("L23I", "L5E")):
        r = engine.compute(X, Y)
        assert r.n_seg > 100
        for H in r.kernels.values():
            assert np.all(np.isfinite(H)) and np.abs(H).max() > 0
    engine.close()


def test_binzegger_counts_match_domain_appendix(domain):
    appendix = domain.split("## Appendix: hybridLFPy k_yXL")[1]
    rows = [r for r in appendix.splitlines() if r.startswith("| ") and ":" in r]
    seen = set()
    for row in rows:
        y, n_y, layers = (c.strip() for c in row.strip("|").split("|"))
        assert pd14.CELL_TYPES[y][2] == int(n_y), y
        table = {}
        for part in layers.split(";"):
            L, values = part.split(":")
            table[L.strip()] = tuple(int(v) for v in values.split(","))
        assert table == pd14._K_YXL[y], y
        seen.add(y)
    assert seen == set(pd14.CELL_TYPES)
