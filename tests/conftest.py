"""Shared fixtures and helpers of the test suite.

Missing parts. A test that needs a part a user's installation may lack (LFPykernels,
the ../shared folder beside the development checkout, NEST, Slurm, mpirun, h5py
built with MPI) asks for it through :func:`missing` (or :func:`need_module`,
:func:`shared_path`, :func:`mpirun_command`), which skips it with the reason. With
``LFPK_REQUIRE_FULL=1`` in the environment (``.ci/run`` sets it: CI installs
everything with ``scripts/setup.sh --test``) every such skip is a failure instead,
and so is every ``pytest.importorskip`` that does not find its module. What a
machine cannot host is no missing part and stays a skip under the switch:
:func:`environment_limit` (e.g. Slurm without a cgroup filesystem, or its ports
taken by another cluster).
"""

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
README_PARAMS = ROOT / "params" / "lfpykernels_readme.py"

#: every skip for a missing part fails instead (set in .ci/run)
REQUIRE_FULL = os.environ.get("LFPK_REQUIRE_FULL", "") not in ("", "0")


def _skip(reason: str):
    """pytest.skip, reported at the test (not at this helper) in the summary."""
    raise pytest.skip.Exception(reason, _use_item_location=True)


def missing(part: str, reason: str):
    """Skip the test because ``part`` is missing (``reason`` says what and how to
    get it); with LFPK_REQUIRE_FULL=1 fail it instead."""
    if REQUIRE_FULL:
        pytest.fail(f"LFPK_REQUIRE_FULL=1 and {part} is missing: {reason}", pytrace=False)
    _skip(reason)


def environment_limit(reason: str):
    """Skip the test because this machine cannot host what it needs (not a missing
    installation): a skip even with LFPK_REQUIRE_FULL=1."""
    _skip(f"environment limit: {reason}")


def need_module(name: str, hint: str):
    """The module ``name``, or :func:`missing` with ``hint`` (how to install it)."""
    if importlib.util.find_spec(name) is None:
        missing(name, f"{name} is not installed ({hint})")
    return importlib.import_module(name)


_importorskip = pytest.importorskip


def _importorskip_or_fail(modname, *args, **kwargs):
    """pytest.importorskip, which under LFPK_REQUIRE_FULL=1 fails instead of skipping."""
    try:
        return _importorskip(modname, *args, **kwargs)
    except pytest.skip.Exception as exc:
        if REQUIRE_FULL:
            pytest.fail(f"LFPK_REQUIRE_FULL=1 and {modname} is missing: {exc}", pytrace=False)
        raise pytest.skip.Exception(
            exc.msg, allow_module_level=True, _use_item_location=True
        ) from None


pytest.importorskip = _importorskip_or_fail


def shared_path(*parts) -> Path:
    """A file under ../shared (present on developer machines and in CI, not in a
    user's clone); skips the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        missing(
            "../shared",
            f"{path} is absent (../shared/ exists only beside the development checkout)",
        )
    return path


LFPYKERNELS_HINT = (
    "the reference implementation: pip install lfpykernels==0.2.0, or setup.sh --test"
)
NEST_HINT = "pip install 'lfpk_hpc[nest]' or nest-simulator; setup.sh --test installs it"


def rel_diff(a, ref) -> float:
    """max |a - ref| / max |ref| (the accuracy measure of the kernel tests)."""
    a, ref = np.asarray(a), np.asarray(ref)
    assert a.shape == ref.shape, (a.shape, ref.shape)
    return float(np.abs(a - ref).max() / np.abs(ref).max())


@pytest.fixture(scope="session")
def lfpykernels_reference(tmp_path_factory):
    """Kernels computed by LFPykernels 0.2.0 in a separate process with its own
    Exp2SynI mechanism and morphology files (tests/lfpykernels_reference.py)."""
    need_module("lfpykernels", LFPYKERNELS_HINT)
    out = tmp_path_factory.mktemp("reference") / "reference.npz"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "lfpykernels_reference.py"),
            str(out),
            "readme",
            "current",
            "vrest_seg",
            "expsyn",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(np.load(out))


@pytest.fixture(scope="session")
def readme_model():
    from lfpk_hpc import params

    return params.load(README_PARAMS)


def mpirun_command(n: int, *args) -> list[str]:
    """``mpirun -n N --oversubscribe python -m lfpk_hpc ARGS`` (skips without mpirun)."""
    import shutil

    exe = shutil.which("mpirun")
    if exe is None:
        missing("mpirun", "mpirun is not installed (Open MPI: apt-get install openmpi-bin)")
    return [exe, "-n", str(n), "--oversubscribe", sys.executable, "-m", "lfpk_hpc", *map(str, args)]


def mpi_env() -> dict:
    """Environment for mpirun as root, and without NEURON's display warning."""
    return {
        **os.environ,
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_rmaps_base_oversubscribe": "1",
        "PYTHONUNBUFFERED": "1",
    }


def lfpk(*args) -> list[str]:
    """``python -m lfpk_hpc ARGS`` without MPI."""
    return [sys.executable, "-m", "lfpk_hpc", *map(str, args)]


def kernel_file_contents(path, group=None):
    """Everything in a kernels file (or in its ``group``: a scan's point) that must not
    depend on how it was computed: every dataset with its attributes, and the root
    attributes except the run's totals (ranks, wall time, write path, creation time)
    and per-task rank, times and cost estimates (which use measured times of earlier
    runs)."""
    import h5py

    skip_ds = {"tasks/rank", "tasks/wall_time_s", "tasks/timings", "tasks/cost_estimate"}
    skip_attrs = {
        "created",
        "wall_time_s",
        "wall_time_setup_s",
        "wall_time_tasks_s",
        "ranks",
        "write_path",
    }
    out = {}
    with h5py.File(path, "r") as file:
        f = file if group is None else file[group]

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name not in skip_ds:
                out[name] = (obj[...], {k: _plain(v) for k, v in obj.attrs.items()})

        f.visititems(visit)
        out["/"] = {k: _plain(v) for k, v in f.attrs.items() if k not in skip_attrs}
    return out


def _plain(v):
    return v.tolist() if hasattr(v, "tolist") else v


def assert_same_kernel_files(a, b, group_a=None, group_b=None):
    """Two kernels files (or groups of scan files) hold the same kernels, bit for bit."""
    ca, cb = kernel_file_contents(a, group_a), kernel_file_contents(b, group_b)
    assert ca.keys() == cb.keys()
    assert ca["/"] == cb["/"]
    for key in ca:
        if key == "/":
            continue
        np.testing.assert_array_equal(ca[key][0], cb[key][0], err_msg=key)
        assert ca[key][1] == cb[key][1], key


def artists_outside(fig, tol: float = 1.0) -> list[str]:
    """Every visible text (titles, axis and tick labels, legends, annotations) and
    every axes of ``fig`` whose extent, as the renderer draws it, is not inside the
    figure (tolerance ``tol`` pixels): what a saved PNG would cut off. Tick labels
    count as the renderer draws them: those of ticks within the axis' view limits."""
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    tick_labels, drawn = set(), []
    for axis in fig.findobj(lambda a: isinstance(a, Axis)):
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            tick_labels.update({id(tick.label1), id(tick.label2)})
        if axis.get_visible():
            drawn += [t.label1 for t in axis._update_ticks()] + [
                t.label2 for t in axis._update_ticks()
            ]
    artists = [
        a for a in fig.findobj(lambda a: isinstance(a, (Text, Axes))) if id(a) not in tick_labels
    ]
    bad = []
    for artist in artists + drawn:
        if not artist.get_visible():
            continue
        if isinstance(artist, Text) and not artist.get_text().strip():
            continue
        ext = artist.get_window_extent(renderer)
        if ext.width == 0 and ext.height == 0:
            continue
        if (
            ext.x0 < box.x0 - tol
            or ext.y0 < box.y0 - tol
            or ext.x1 > box.x1 + tol
            or ext.y1 > box.y1 + tol
        ):
            what = artist.get_text() if isinstance(artist, Text) else f"axes {artist.get_title()!r}"
            bad.append(f"{what!r} at {tuple(round(v) for v in ext.extents)} outside {box.extents}")
    return bad


_IMAGE_CHECK = """
<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const out = document.createElement('pre');
  out.id = 'lfpk-browser-check';
  out.textContent = JSON.stringify({
    images: imgs.map(i => ({alt: i.alt, loaded: i.complete && i.naturalWidth > 0,
                            width: i.naturalWidth, height: i.naturalHeight})),
    text: document.body.innerText.length,
    height: document.body.scrollHeight,
  });
  document.body.appendChild(out);
});
</script>
"""


def chromium() -> str:
    """The headless browser (Debian's chromium, which scripts/setup.sh --test installs);
    skips the test with the reason when it is absent."""
    import shutil

    for name in ("chromium", "chromium-browser"):
        exe = shutil.which(name)
        if exe:
            return exe
    pytest.skip("chromium is not installed (as root: apt-get install chromium)")


def _chromium_args(profile) -> list[str]:
    return [
        chromium(),
        "--headless",
        "--no-sandbox",  # as root
        "--disable-gpu",
        "--hide-scrollbars",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ]


def render_in_browser(html, tmp_path) -> tuple[dict, np.ndarray]:
    """Open the page ``html`` in headless Chromium: what its images did (a copy of the
    page with a script that reports, after the load event, each image's load state
    and size, the text length and the height; parsed from the DOM Chromium dumps) and
    a screenshot (RGB array, 1280 px wide) of the page itself."""
    import json
    import re

    import matplotlib.image as mpimg

    html = Path(html)
    probe = tmp_path / f"{html.stem}_browser_check.html"
    probe.write_text(html.read_text() + _IMAGE_CHECK)
    dom = subprocess.run(
        [*_chromium_args(tmp_path / "chromium-dom"), "--virtual-time-budget=20000", "--dump-dom"]
        + [probe.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    m = re.search(r'<pre id="lfpk-browser-check">(.*?)</pre>', dom.stdout, re.S)
    assert m, f"chromium did not run the page's check: {dom.stderr[-2000:]}"
    import html as _html

    state = json.loads(_html.unescape(m.group(1)))
    png = tmp_path / f"{html.stem}_screenshot.png"
    shot = subprocess.run(
        [*_chromium_args(tmp_path / "chromium-shot"), "--window-size=1280,3000"]
        + [f"--screenshot={png}", html.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert png.is_file(), shot.stderr[-2000:]
    return state, mpimg.imread(png)[..., :3]
