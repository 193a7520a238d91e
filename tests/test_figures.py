"""The figures (issue 17, item 4): nothing cut off, every number with its unit, the
PD14 kernel grid readable by default, numerical zeros drawn as zero, "incomplete" only
where a task did not finish, the start-up transient out of the scales, comparison
traces without their means and labelled by depth, one spelling of each unit.

Real data: the PD14 kernels and those of the LFPykernels README example computed by
the CLI, signals predicted from Poisson spikes by ``predict``.
"""

from __future__ import annotations

import re
import subprocess

import h5py
import numpy as np
import pytest
from conftest import ROOT, artists_outside, lfpk

pytest.importorskip("matplotlib")

from lfpk_hpc.predict import write_spikes  # noqa: E402

PD14 = ROOT / "params" / "potjans.py"
README = ROOT / "params" / "lfpykernels_readme.py"


def _run(*args, cwd):
    proc = subprocess.run(lfpk(*args), cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def _poisson(rates: dict, t_stop: float, seed: int):
    rng = np.random.default_rng(seed)
    out = {}
    for X, (n, nu) in rates.items():
        k = rng.poisson(n * nu * t_stop / 1000.0)
        out[X] = (np.sort(rng.uniform(0.0, t_stop, k)), rng.integers(0, n, k))
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("figures")
    _run(PD14, "--out", "pd14.h5", cwd=d)
    _run(README, "--out", "readme.h5", cwd=d)
    # PD14 spikes (80 cells per population at 5 spikes/s) and their signals
    pops = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
    spikes = _poisson({X: (80, 5.0) for X in pops}, 400.0, 1)
    write_spikes(d / "pd14_spikes.h5", spikes, dict.fromkeys(pops, 80), {"t_stop": 400.0})
    _run("predict", "pd14.h5", "pd14_spikes.h5", "--out", "pd14_signals.h5", cwd=d)
    # a "ground truth" and a prediction of the README model: the same spikes, the
    # truth with more of them (another seed) and a start-up transient
    for name, seed in (("truth", 2), ("pred", 3)):
        spikes = _poisson({"E": (400, 4.0), "I": (100, 12.0)}, 600.0, seed)
        write_spikes(
            d / f"{name}_spikes.h5",
            spikes,
            {"E": 400, "I": 100},
            {"t_stop": 600.0, "t_start": 0.0},
        )
        _run("predict", "readme.h5", f"{name}_spikes.h5", "--out", f"{name}.h5", cwd=d)
    with h5py.File(d / "truth.h5", "r+") as f:
        f["signals/lfp"][:, :160] += 20.0  # 20 mV in the first 10 ms
        f.attrs["transient"] = 100.0
    return d


def _image_panels(fig):
    """(title, image data, norm) of every grid panel with an image."""
    out = []
    for ax in fig.findobj(lambda a: hasattr(a, "get_images")):
        for im in ax.get_images():
            out.append((ax.get_title(), np.asarray(im.get_array()), im.norm))
    return out


def _texts(fig) -> list[str]:
    from matplotlib.text import Text

    fig.canvas.draw()
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _colour_range_used(panels) -> list[float]:
    """Per panel with a non-zero kernel: the fraction of its colour scale its values span."""
    used = []
    for _title, data, norm in panels:
        if not np.any(data):
            continue
        used.append((data.max() - data.min()) / (norm.vmax - norm.vmin))
    return used


def test_pd14_grid_shows_every_pathway_and_nothing_is_cut_off(files):
    """By default each of the 55 pathways with C > 0 uses its colour scale (one scale for
    the grid, as before, left all but a few white); every text lies inside the figure
    and every number has its unit; the interneurons' dipoles are numerical zeros."""
    from lfpk_hpc.plot import kernels_figure

    grid = _colour_range_used(_image_panels(kernels_figure(files / "pd14.h5", scale="grid")))
    assert len(grid) == 55
    assert sum(u >= 0.1 for u in grid) / len(grid) < 0.2  # the problem of one scale
    fig = kernels_figure(files / "pd14.h5", dpi=60)
    used = _colour_range_used(_image_panels(fig))
    assert len(used) == 55
    assert sum(u >= 0.1 for u in used) / len(used) >= 0.8
    assert artists_outside(fig) == []
    texts = _texts(fig)
    scales = [t for t in texts if t.startswith("±")]
    assert len(scales) == 55 and all(re.fullmatch(r"±[\d.e+-]+ [nµm]V", t) for t in scales)
    assert texts.count("C = 0") == 64 - 55
    zeros = [t for t in texts if t.endswith("(numerical zero)")]
    # P_z and EEG of the five populations without an apical dendrite
    assert sorted(zeros) == sorted(["0 nA·µm (numerical zero)", "0 nV (numerical zero)"] * 5)
    assert not any("*um" in t or "µA" in t or "max 0" in t for t in texts)
    assert any(t == "$P_z$ (nA·µm)" for t in texts)


def test_incomplete_only_where_a_task_did_not_finish(files, tmp_path):
    """After a run killed part-way (the kernels' own flags never set), only the three
    tasks that did not finish are marked, and the marks fit in their panels."""
    from lfpk_hpc.plot import kernels_figure

    h5 = tmp_path / "killed.h5"
    h5.write_bytes((files / "readme.h5").read_bytes())
    h5 = tmp_path / "killed_pd14.h5"
    h5.write_bytes((files / "pd14.h5").read_bytes())
    with h5py.File(h5, "r+") as f:
        f.attrs["complete"] = False
        for probe in f["kernels"]:
            for Y in f[f"kernels/{probe}"]:
                for ds in f[f"kernels/{probe}/{Y}"].values():
                    ds.attrs["complete"] = bool(ds.attrs["zero_connection"])
        rows = list(zip(f["tasks/X"][...], f["tasks/Y"][...], strict=True))
        done = f["tasks/complete"][...]
        unfinished = [(b"L4I", b"L23E"), (b"L5E", b"L5E"), (b"L6I", b"L6E")]
        for key in unfinished:
            done[rows.index(key)] = 0
        f["tasks/complete"][...] = done
    fig = kernels_figure(h5, dpi=60)
    assert artists_outside(fig) == []
    marked = []
    for ax in fig.axes:
        if any(t.get_text() == "incomplete" for t in ax.texts):
            marked.append(ax.get_title())
    assert sorted(marked) == ["L4I → L23E", "L5E → L5E", "L6I → L6E"]
    texts = _texts(fig)
    assert texts.count("incomplete: L5E") == 2 and texts.count("incomplete: L6I") == 2
    assert any("UNFINISHED RUN" in t for t in texts)


def test_signals_figure_keeps_the_transient_out_of_its_scales(files):
    from matplotlib.patches import Rectangle

    from lfpk_hpc.signalsplot import signals_figure

    fig = signals_figure(files / "truth.h5", dpi=60)
    assert artists_outside(fig) == []
    with h5py.File(files / "truth.h5", "r") as f:
        lfp = f["signals/lfp"][...] * 1e3  # µV
        dt = f["signals/lfp"].attrs["dt"]
    steady = np.abs(lfp[:, int(round(100.0 / dt)) :]).max()
    (_title, _data, norm), *_ = _image_panels(fig)
    assert norm.vmax == pytest.approx(steady) and np.abs(lfp).max() > 10 * steady
    shaded = [
        p
        for ax in fig.axes
        for p in ax.patches
        if isinstance(p, Rectangle) and p.get_x() == 0.0 and p.get_width() == pytest.approx(100.0)
    ]
    assert len(shaded) == 2  # the LFP image and the dipole trace
    texts = _texts(fig)
    assert "$P_z$ (nA·µm)" in texts and "PSD (µV²/Hz)" in texts
    assert any("\nshaded: the start-up transient, t < 100 ms after" in t for t in texts)


def test_signals_figure_of_pd14_predictions(files):
    """A prediction's first samples lack the spikes before its start: its transient is
    the time the kernels take to decay, written by predict."""
    from lfpk_hpc.signalsplot import signals_figure

    with h5py.File(files / "pd14_signals.h5", "r") as f:
        transient = f.attrs["transient"]
    assert 10.0 < transient < 100.0  # ms; tau = 100 ms, the kernels decay in tens of ms
    fig = signals_figure(files / "pd14_signals.h5", dpi=60)
    assert artists_outside(fig) == []


def test_comparison_figures(files):
    """Traces without their means (stated), channels by depth, the legend outside the
    data; spectra and coherence; the raster with the rates after the transient."""
    from lfpk_hpc.validate import compare, raster_figure, spectra_figure, traces_figure

    metrics = compare(files / "truth.h5", files / "pred.h5", transient=100.0)
    e = metrics["lfp"]
    fig = traces_figure("lfp", e)
    assert artists_outside(fig) == []
    data_axes = [ax for ax in fig.axes if ax.lines]
    assert len(data_axes) == 13
    assert [ax.get_ylabel() for ax in data_axes] == [
        f"z = {z:g} µm\n(µV)" for z in np.linspace(1000, -200, 13)
    ]
    for ax in data_axes:
        for line in ax.lines:
            y = line.get_ydata()
            assert abs(np.mean(y)) < 1e-9 * np.abs(y).max()
        assert "mean removed:" in ax.texts[0].get_text() and " µV" in ax.texts[0].get_text()
    legend = fig.legends[0].get_window_extent()
    assert not any(legend.overlaps(ax.get_window_extent()) for ax in data_axes)
    fig = traces_figure("cdm", metrics["cdm"])
    assert artists_outside(fig) == [] and fig.axes[0].get_ylabel() == "$P_z$\n(nA·µm)"
    for p in ("lfp", "cdm"):
        fig = spectra_figure(p, metrics[p])
        assert artists_outside(fig) == []
    fig = raster_figure(files / "truth_spikes.h5", transient=100.0)
    assert artists_outside(fig) == []
    bars = [p.get_height() for p in fig.axes[1].patches]
    with h5py.File(files / "truth_spikes.h5", "r") as f:
        expected = [
            np.count_nonzero(f[X]["times"][...] >= 100.0) / f[X].attrs["N"] / 0.5 for X in f
        ]
    np.testing.assert_allclose(bars, expected)
    assert fig.axes[1].get_title() == "mean rates, t ≥ 100 ms"


def test_the_check_sees_what_a_figure_cuts_off():
    """The check of the tests above on a figure whose axes fill it: its axis labels and
    outer tick labels lie outside and are reported; with constrained layout, none."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def figure(layout):
        fig = Figure(figsize=(4, 3), dpi=60, layout=layout)
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.plot([0, 1000], [0, 1])
        ax.set_xlabel("t (ms)")
        ax.set_ylabel("rate (spikes/s)")
        if layout is None:
            fig.subplots_adjust(left=0, right=1, bottom=0, top=1)
        return fig

    bad = artists_outside(figure(None))
    assert any(b.startswith("'t (ms)'") for b in bad)
    assert any(b.startswith("'rate (spikes/s)'") for b in bad)
    assert artists_outside(figure("constrained")) == []


def test_report_renders_in_a_real_browser(files, tmp_path):
    """The validation report (compare's metrics with the raster and kernels figures of
    a validation) in headless Chromium: every figure loads, the page is not blank. A
    report with a damaged image is seen as such."""
    from conftest import render_in_browser

    from lfpk_hpc.validate import compare, kernels_png, raster_png, report

    metrics = compare(files / "truth.h5", files / "pred.h5", transient=100.0)
    figures = {
        "raster": raster_png(files / "truth_spikes.h5", 100.0),
        "kernels": kernels_png(files / "readme.h5"),
    }
    html = report(metrics, tmp_path / "val", title="a validation", figures=figures)
    state, shot = render_in_browser(html, tmp_path)
    images = {i["alt"]: i for i in state["images"]}
    assert sorted(images) == sorted(
        ["raster", "kernels", "traces_lfp", "spectra_lfp", "traces_cdm", "spectra_cdm"]
    )
    for name, image in images.items():
        png = (tmp_path / "val" / f"{name}.png").read_bytes()
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert image["loaded"] and (image["width"], image["height"]) == (width, height), name
    assert state["text"] > 500 and state["height"] > 2000
    ink = np.any(shot < 0.9, axis=-1)  # not white
    colours = np.unique((shot * 255).round().astype(np.uint8).reshape(-1, 3), axis=0)
    assert ink.mean() > 0.05 and len(colours) > 200, (ink.mean(), len(colours))
    # the check can fail: a report whose kernels image is damaged
    damaged = tmp_path / "damaged.html"
    text = html.read_text()
    start = text.index("src='data:image/png;base64,", text.index("alt='kernels'"))
    damaged.write_text(text[: start + 40] + "AAAA" + text[start + 60 :])
    state, _ = render_in_browser(damaged, tmp_path)
    assert [i["alt"] for i in state["images"] if not i["loaded"]] == ["kernels"]
