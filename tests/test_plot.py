"""``python -m lfpk_hpc plot``: the overview figure of a kernels file.

Kernels of params/lfpykernels_readme.py and params/hagen2022.py are computed with
the real CLI; the figures are checked for their size (the layout of the grid), for
not being blank, and for the marks of C = 0 and incomplete pathways. An 8 × 8 file
like PD14's (16 contacts, 1601 lags) is written with the real writer (KernelStore)
from synthetic kernels, so the test does not depend on a PD14 run.
"""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import ROOT, lfpk

from lfpk_hpc.cli import main
from lfpk_hpc.plot import figure_size

pytest.importorskip("matplotlib")
import matplotlib.image as mpimg  # noqa: E402

HAGEN_PARAMS = ROOT / "params" / "hagen2022.py"
README_PARAMS = ROOT / "params" / "lfpykernels_readme.py"


def _run(*args, cwd):
    return subprocess.run(
        lfpk(*args), capture_output=True, text=True, cwd=cwd, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def kernel_files(tmp_path_factory):
    """Kernels files of the README and the Hagen et al. 2022 models (real CLI)."""
    d = tmp_path_factory.mktemp("plot")
    out = {}
    for name, params in (("readme", README_PARAMS), ("hagen", HAGEN_PARAMS)):
        path = d / f"{name}.h5"
        proc = _run(params, "--out", path, cwd=d)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out[name] = path
    return out


def _check_png(path, grid, dpi=150.0):
    """The PNG has the size of the layout for ``grid`` = (rows, cols, trace columns)
    and is not blank: many distinct colours."""
    assert path.is_file()
    img = mpimg.imread(path)
    w_in, h_in = figure_size(*grid)
    assert abs(img.shape[0] - h_in * dpi) <= 1 and abs(img.shape[1] - w_in * dpi) <= 1
    assert img.shape[1] / img.shape[0] == pytest.approx(w_in / h_in, rel=2e-3)
    colours = np.unique((img[..., :3] * 255).round().astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 300, len(colours)
    return img


@pytest.mark.parametrize("name, grid", [("readme", (1, 2, 1)), ("hagen", (2, 2, 1))])
def test_cli_plots_real_kernels(kernel_files, tmp_path, name, grid):
    png = tmp_path / f"{name}.png"
    proc = _run("plot", kernel_files[name], "--out", png, "--dpi", 72, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == f"wrote {png}"
    _check_png(png, grid, dpi=72.0)


def test_default_output_is_the_kernels_file_with_png(kernel_files, tmp_path):
    src = kernel_files["readme"]
    h5 = tmp_path / "copy.h5"
    h5.write_bytes(src.read_bytes())
    assert main(["plot", str(h5), "--dpi", "50"]) == 0
    _check_png(tmp_path / "copy.png", (1, 2, 1), dpi=50.0)


def test_zero_and_incomplete_pathways_are_marked(kernel_files, tmp_path):
    """C = 0 panels are empty (grey, no image); incomplete ones get a red frame."""
    h5 = tmp_path / "marked.h5"
    h5.write_bytes(kernel_files["hagen"].read_bytes())
    with h5py.File(h5, "r+") as f:
        for probe in ("lfp", "cdm"):
            ds = f[f"kernels/{probe}/I/E"]  # E -> I as if C = 0
            ds[...] = 0.0
            ds.attrs["zero_connection"] = True
            f[f"kernels/{probe}/E/I"].attrs["complete"] = False  # I -> E unfinished
        # its task did not finish (a kernel whose task finished is complete even when the
        # run did not reach its end)
        rows = list(zip(f["tasks/X"][...], f["tasks/Y"][...], strict=True))
        done = f["tasks/complete"][...]
        done[rows.index((b"I", b"E"))] = 0
        f["tasks/complete"][...] = done
        f.attrs["complete"] = False
    png = tmp_path / "marked.png"
    assert main(["plot", str(h5), "--out", str(png), "--dpi", "60"]) == 0
    img = _check_png(png, (2, 2, 1), dpi=60.0)
    rgb = (img[..., :3] * 255).round().astype(int)
    grey = np.all(rgb == round(0.93 * 255), axis=-1)  # the C = 0 panel's face
    red = np.all(rgb == (214, 39, 40), axis=-1)  # tab:red frame and text
    assert grey.sum() > 1000 and red.sum() > 100


def _synthetic_pd14(path, n_lags=1601, dt=2**-4):
    """An 8 × 8 kernels file with 16 contacts, written by KernelStore."""
    from lfpk_hpc.store import KernelStore, ProbeInfo, TaskRecord

    pops = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
    tau = (n_lags - 1) / 2 * dt
    z = -100.0 * np.arange(16)
    header = {
        "format": "lfpk_hpc.kernels/1",
        "model_name": "synthetic_8x8",
        "dt": dt,
        "tau": tau,
        "params_json": json.dumps({"populations": [{"name": p} for p in pops], "probes": []}),
    }
    probes = [
        ProbeInfo("lfp", "GaussCylinderPotential", "mV", 16, {"sigma": 0.3, "R": 564.2}, z),
        ProbeInfo("cdm", "CurrentDipoleMoment", "nA*um", 3),
    ]
    pairs = [(X, Y) for Y in pops for X in pops]
    zero = {("L5I", "L23E"), ("L6I", "L4E")}
    tasks = [t for t in pairs if t not in zero]
    store = KernelStore(path, header, probes, pairs, tasks, n_lags)
    t = np.arange(n_lags) * dt - tau
    for k, (X, Y) in enumerate(tasks):
        sign = -1.0 if X.endswith("I") else 1.0
        course = np.where(t > 0, t / 2.0 * np.exp(1 - t / 2.0), 0.0)
        depth = np.exp(-0.5 * ((z + 100.0 * (k % 16)) / 150.0) ** 2)
        lfp = sign * 1e-3 * (1 + k % 5) * (depth - depth.mean())[:, None] * course[None, :]
        cdm = np.zeros((3, n_lags))
        cdm[2] = sign * 100.0 * (1 + k % 3) * course
        store.write(TaskRecord(X, Y, {"lfp": lfp, "cdm": cdm}))
    store.finalize(set(tasks))
    store.close()


def test_8x8_grid_stays_readable(tmp_path):
    h5 = tmp_path / "pd14.h5"
    _synthetic_pd14(h5)
    png = tmp_path / "pd14.png"
    assert main(["plot", str(h5), "--out", str(png), "--dpi", "60"]) == 0
    img = _check_png(png, (8, 8, 1), dpi=60.0)
    w_in, h_in = figure_size(8, 8, 1)
    # at least ~1.4 inch per panel: titles and ticks of 64 panels do not collide
    assert w_in / 9 > 1.4 and h_in / 8 > 1.2
    assert img.shape[1] > img.shape[0]


@pytest.mark.parametrize(
    "make, message",
    [
        (None, "kernels file '{path}' does not exist"),
        (lambda p: p.write_text("not hdf5"), "cannot read '{path}' as HDF5"),
        (lambda p: h5py.File(p, "w").close(), "'{path}' is not a kernels file of lfpk_hpc"),
    ],
    ids=["missing", "not-hdf5", "not-kernels"],
)
def test_bad_file_exits_2_with_one_line(tmp_path, make, message):
    path = tmp_path / "bad.h5"
    if make is not None:
        make(path)
    proc = _run("plot", path, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("lfpk_hpc: error: ")
    assert message.format(path=path) in lines[0]
    assert not (tmp_path / "bad.png").exists()


def test_unknown_probe_exits_2(kernel_files, tmp_path, capsys):
    code = main(
        ["plot", str(kernel_files["readme"]), "--out", str(tmp_path / "x.png"), "--probe", "eeg"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--probe 'eeg': no such probe" in err and "(probes: cdm, lfp)" in err


def test_matplotlib_is_imported_only_to_plot():
    code = (
        "import sys, lfpk_hpc.cli, lfpk_hpc.plot; sys.exit(1 if 'matplotlib' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
