"""A newcomer's mistakes (issue 17): each is caught before any work, with exit code 2 and
one line that names the parameter; the help and the readers say what they do.

Items: (1) names checked at load, (2) arguments checked before simulating, (3) messages
that name the command, the number and the files, (5) help, warnings and readers. The
figures (4) are in test_figures.py and test_report_browser.py.
"""

from __future__ import annotations

import subprocess
import time

import h5py
import numpy as np
import pytest
from conftest import ROOT, lfpk, mpi_env, mpirun_command, shared_path

HAGEN = ROOT / "params" / "hagen2022.py"
README = ROOT / "params" / "lfpykernels_readme.py"


def run(cmd, cwd, mpi=False, timeout=300):
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=mpi_env() if mpi else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_error(proc, code=2) -> str:
    """The run's exit code is ``code`` and its stderr holds exactly one error line,
    no traceback; returns that line."""
    assert proc.returncode == code, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("lfpk_hpc: error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def variant(tmp_path, body, base=HAGEN):
    """A params file that takes the model of ``base`` and changes it by ``body``."""
    params = tmp_path / "variant_params.py"
    params.write_text(
        "import dataclasses, importlib.util\n"
        "from lfpk_hpc.params import Distribution, Placement, norm\n"
        f"spec = importlib.util.spec_from_file_location('h', {str(base)!r})\n"
        "h = importlib.util.module_from_spec(spec); spec.loader.exec_module(h)\n" + body
    )
    return params


def _placement(pre, post, code):
    return (
        f"cons = tuple(dataclasses.replace(c, placement={code})"
        f" if (c.pre, c.post) == ({pre!r}, {post!r}) else c for c in h.model.connections)\n"
        "model = dataclasses.replace(h.model, connections=cons)\n"
    )


@pytest.fixture(scope="module")
def readme_kernels(tmp_path_factory):
    d = tmp_path_factory.mktemp("kernels")
    proc = run(lfpk(README, "--out", "k.h5"), d)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return d / "k.h5"


# --------------------------------------------------------------------------- (1) names


def test_a_placement_name_that_no_section_has_stops_the_run_at_load(tmp_path):
    """("apical", "dend") where the cell's section is apic: once it gave other kernels
    (all synapses on dend); now it stops before anything is computed."""
    params = variant(
        tmp_path,
        _placement("E", "E", "dataclasses.replace(c.placement, sections=('apical', 'dend'))"),
    )
    err = one_error(run(lfpk(params, "--out", "k.h5"), tmp_path))
    assert err.startswith(
        "lfpk_hpc: error: connections[E->E].placement.sections = ('apical', 'dend') is invalid: "
        "'apical' is part of no section name of the cell of E"
    ), err
    assert err.endswith("the sections: soma, dend, apic"), err
    assert not (tmp_path / "k.h5").exists() and not (tmp_path / "k.h5.parts").exists()


def test_names_of_a_morphology_file_are_read_from_its_text(tmp_path):
    """A reconstructed cell (hoc with ``create soma, apic[55], dend[101]``): a name it
    lacks is named with the cell's sections; one it has loads."""
    from lfpk_hpc.params import ParamsError, load

    morph = shared_path("reference", "morphologies", "stretched", "L23E_oi24rpy1.hoc")
    body = (
        "pops = tuple(dataclasses.replace(p, cell=dataclasses.replace(p.cell, "
        f"morphology={str(morph)!r})) if p.name == 'E' else p for p in h.model.populations)\n"
        "cons = tuple(dataclasses.replace(c, placement=dataclasses.replace(c.placement, "
        "sections=SECTIONS)) if c.post == 'E' else c for c in h.model.connections)\n"
        "model = dataclasses.replace(h.model, populations=pops, connections=cons)\n"
    )
    bad = variant(tmp_path, "SECTIONS = ('basal',)\n" + body)
    with pytest.raises(ParamsError) as exc:
        load(bad)
    msg = str(exc.value)
    assert msg.startswith("connections[E->E].placement.sections = ('basal',) is invalid")
    assert "sections: soma, apic[0..54], dend[0..100]" in msg
    good = variant(tmp_path, "SECTIONS = ('apic[3]', 'dend')\n" + body)
    assert load(good).population("E").cell.morphology == str(morph)


def test_section_names_from_the_text_are_neurons_names(tmp_path):
    """The names read from a hoc and an SWC file without NEURON are those NEURON gives
    the sections LFPy loads (SWC: by point type, numbered by NEURON)."""
    swc = tmp_path / "cell.swc"
    swc.write_text(
        "# id type x y z r parent\n1 1 0 0 0 8 -1\n2 3 0 -10 0 1 1\n3 3 0 -60 0 1 2\n"
        "4 3 20 -90 0 1 3\n5 3 -20 -90 0 1 3\n6 4 0 10 0 2 1\n7 4 0 200 0 2 6\n"
        "8 2 8 0 0 0.5 1\n9 2 8 0 80 0.5 8\n"
    )
    hoc = shared_path("reference", "morphologies", "stretched", "L5E_j4a.hoc")
    code = (
        "import sys, LFPy\n"
        "from pathlib import Path\n"
        "from lfpk_hpc.params import CellModel, morphology_sections\n"
        "for f in sys.argv[1:]:\n"
        "    s = morphology_sections(CellModel(f), Path(f))\n"
        "    c = LFPy.Cell(morphology=f, delete_sections=True, nsegs_method=None)\n"
        "    real = sorted(sec.name() for sec in c.allseclist)\n"
        "    del c\n"
        "    base = sorted({n.split('[')[0] for n in real})\n"
        "    print(f, s.exact, sorted(s.names) == (real if s.exact else base), len(real))\n"
    )
    import sys

    proc = run([sys.executable, "-c", code, str(hoc), str(swc)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln.split() for ln in proc.stdout.splitlines() if ln.startswith(("/", str(tmp_path)))]
    assert [(ln[1], ln[2]) for ln in lines] == [("True", "True"), ("False", "True")], lines
    assert int(lines[0][3]) == 164  # soma, apic[83], dend1..dend10 of j4a


def test_e_pas_needed_with_vrest_per_segment_is_checked_at_load(tmp_path):
    params = variant(
        tmp_path,
        "import numpy as np\n"
        "model = dataclasses.replace(h.model, kernel=dataclasses.replace(h.model.kernel, "
        "Vrest={'E': np.full(27, -65.0), 'I': -65.0}))\n",
    )
    err = one_error(run(lfpk(params, "--out", "k.h5"), tmp_path))
    assert "populations[E].cell.e_pas = None is invalid: with one kernel.Vrest[E] per" in err


# A parameter error that only the built cell shows (a depth profile zero on every
# section it names) ends the run with exit 2, one line and no advice to resume:
# tests/test_mpi.py::test_failing_task_names_the_pathway_and_keeps_finished_kernels.


def test_pd14_rates_of_an_unknown_population_are_an_error():
    from lfpk_hpc import pd14
    from lfpk_hpc.params import ParamsError

    with pytest.raises(ParamsError, match=r"pd14 rates\['L23e'\] is invalid: no such population"):
        pd14.build(rates={"L23e": 3.0})


# --------------------------------------------------------------------------- (2) fail fast


@pytest.mark.parametrize("launch", ["serial", "mpirun -n 2"])
def test_validate_checks_tstop_against_transient_before_simulating(tmp_path, launch):
    args = ("validate", HAGEN, "--out", "v", "--tstop", "100", "--transient", "200")
    cmd = lfpk(*args) if launch == "serial" else mpirun_command(2, *args)
    t0 = time.perf_counter()
    proc = run(cmd, tmp_path, mpi=launch != "serial")
    err = one_error(proc)
    assert err == (
        "lfpk_hpc: error: --transient = 200.0 is invalid: must be shorter than --tstop = "
        "100.0 ms (the time after the transient is what is measured)"
    )
    assert not (tmp_path / "v" / "groundtruth").exists()
    assert time.perf_counter() - t0 < 60  # nothing was simulated


@pytest.mark.parametrize(
    "args, param",
    [
        (("validate", HAGEN, "--out", "v", "--scale", "1e-5"), "--scale = 1e-05 is invalid"),
        (
            ("validate", HAGEN, "--out", "v", "--in-degrees", "full"),
            "--in-degrees = 'full' is invalid with the network ground truth",
        ),
        (("groundtruth", HAGEN, "--out", "g", "--transient", "-5"), "--transient = -5.0"),
        (("predict", "k.h5", "missing.npz", "--out", "p.h5", "--block", "0"), "--block = 0"),
        (
            ("predict", "k.h5", "missing.npz", "--out", "p.h5", "--tstart", "50", "--tstop", "10"),
            "--tstop = 10.0 is invalid: must be a finite time > --tstart = 50.0 ms",
        ),
        (("plot-signals", "s.h5", "--tmin", "100", "--tmax", "50"), "--tmax = 50.0 is invalid"),
        (("plot", "missing.h5"), "kernels file 'missing.h5' does not exist"),
        (
            ("submit", HAGEN, "--validate", "--tstop", "150", "--dry-run"),
            "the validation job would stop at once: --transient = 200.0 is invalid: must be "
            "shorter than --tstop = 150.0 ms",
        ),
    ],
    ids=[
        "validate-scale",
        "validate-in-degrees",
        "groundtruth-transient",
        "block",
        "window",
        "plot-window",
        "file",
        "submit-validate",
    ],
)
def test_arguments_are_checked_before_any_work(tmp_path, args, param):
    err = one_error(run(lfpk(*args), tmp_path))
    assert param in err, err


# --------------------------------------------------------------------------- (3) messages


@pytest.mark.parametrize(
    "argv, expected",
    [
        (("plto", "kernels/potjans.h5"), "unknown command 'plto'; did you mean 'plot'?"),
        (("plto",), "unknown command 'plto'; did you mean 'plot'?"),
        (("prdict", "k.h5", "s.h5"), "unknown command 'prdict'; did you mean 'predict'?"),
        (("potjans",), "unknown command 'potjans' (commands: run, plan, plot, predict"),
    ],
)
def test_an_unknown_command_is_named_with_the_closest_one(tmp_path, argv, expected):
    err = one_error(run(lfpk(*argv), tmp_path))
    assert err.startswith("lfpk_hpc: error: " + expected), err
    assert "params file" in err  # and how to compute kernels instead


def test_numbers_print_as_plain_numbers(tmp_path, readme_kernels):
    spikes = tmp_path / "spikes.npz"
    np.savez(spikes, E=np.array([1.0, -4.90395944000432]), I=np.array([2.0]))
    err = one_error(run(lfpk("predict", readme_kernels, spikes, "--out", "p.h5"), tmp_path))
    assert err.endswith("E: negative spike time -4.90395944000432 ms (times must be >= 0)"), err
    assert "np.float64" not in err


def test_compare_names_both_files(tmp_path):
    paths = []
    for name, n_ch in (("a.h5", 13), ("b.h5", 16)):
        with h5py.File(tmp_path / name, "w") as f:
            ds = f.create_dataset("signals/lfp", data=np.zeros((n_ch, 4000)))
            ds.attrs.update(dt=0.0625, t_start=0.0, units="mV")
        paths.append(tmp_path / name)
    err = one_error(run(lfpk("compare", *paths, "--out", "c"), tmp_path))
    assert "lfp: the ground truth has 13 channels, the prediction 16" in err
    assert f"ground truth '{paths[0]}', prediction '{paths[1]}'" in err


# --------------------------------------------------------------------------- (5) help


def test_every_option_shows_its_default_in_help():
    """Each subcommand's options that take a value say their default (or are required)."""
    from lfpk_hpc.cli import SUBCOMMANDS, parser_of

    missing = []
    for command in SUBCOMMANDS:
        parser = parser_of(command)
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or action.nargs == 0 or action.required:
                continue
            text = formatter._expand_help(action)
            if "default" not in text:
                missing.append(f"{command} {action.option_strings[0]}: {text!r}")
    assert not missing, "\n".join(missing)
    help_text = subprocess.run(
        lfpk("validate", "--help"), capture_output=True, text=True, check=True
    ).stdout
    for option, default in (
        ("--tstop", "(ms; default: network 2000, hybrid 1200)"),  # by the ground truth
        ("--transient", "(default: 200.0)"),
        ("--seed", "(default: 1234)"),
    ):
        block = help_text.split("options:")[1].split(f"\n  {option} ")[1].split("\n  --")[0]
        assert default in " ".join(block.split()), (option, block)


def test_spikes_without_an_end_time_warn(tmp_path, readme_kernels):
    spikes = tmp_path / "spikes.npz"
    np.savez(spikes, E=np.array([10.0, 999.5]), I=np.array([500.0]))
    proc = run(lfpk("predict", readme_kernels, spikes, "--out", "p.h5"), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == (
        f"lfpk_hpc: warning: {spikes} holds no end time (t_stop): the signals end at its "
        "last spike + dt = 999.5625 ms; pass --tstop to set the end of the recording"
    )
    with h5py.File(tmp_path / "p.h5", "r") as f:
        assert f["signals/lfp"].shape[1] == 15993  # bins of 0.0625 ms up to 999.5625
    proc = run(
        lfpk("predict", readme_kernels, spikes, "--out", "q.h5", "--tstop", "1000"), tmp_path
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_read_kernel_gives_the_kernel_with_its_lags_and_probe(tmp_path, readme_kernels):
    from lfpk_hpc.store import StoreError, read_kernel

    k = read_kernel(readme_kernels, "lfp", "E", "I")
    assert (k.dt, k.tau, k.units, k.probe_type) == (2**-4, 50.0, "mV", "GaussCylinderPotential")
    assert k.shape == (13, 1601) and k.lags[0] == -50.0 and k.lags[800] == 0.0
    np.testing.assert_array_equal(k.z, np.linspace(1000.0, -200.0, 13))
    with h5py.File(readme_kernels, "r") as f:
        np.testing.assert_array_equal(np.asarray(k), f["kernels/lfp/E/I"][...])
    assert read_kernel(readme_kernels, "cdm", "E", "E").units == "nA·µm"
    # a run that did not finish: I -> E's task is not done (as after kill -9)
    partial = tmp_path / "partial.h5"
    partial.write_bytes(readme_kernels.read_bytes())
    with h5py.File(partial, "r+") as f:
        f.attrs["complete"] = False
        for p in f["kernels"]:
            for X in ("E", "I"):
                f[f"kernels/{p}/E/{X}"].attrs["complete"] = False
        rows = [x.decode() for x in f["tasks/X"][...]]
        done = f["tasks/complete"][...]
        done[rows.index("I")] = 0
        f["tasks/complete"][...] = done
    with pytest.raises(StoreError, match="unfinished run .1 of 2 tasks finished.*partial=True"):
        read_kernel(partial, "lfp", "E", "E")
    assert read_kernel(partial, "lfp", "E", "E", partial=True).shape == (13, 1601)
    with pytest.raises(StoreError, match="kernel kernels/lfp/E/I is not complete"):
        read_kernel(partial, "lfp", "E", "I", partial=True)
