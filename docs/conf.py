"""Sphinx configuration of the lfpk_hpc documentation (``bash scripts/docs.sh`` builds it).

The API pages are generated here from the package's modules (one page per module,
its ``__all__`` documented by autodoc with numpydoc); the gallery is ``examples/*.py``,
run at build time by sphinx-gallery. Nothing is fetched from the network.
"""

import os
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
# the examples' children (mpirun ranks, the CLI) import this tree's package too
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p
)
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")

import lfpk_hpc  # noqa: E402

project = "lfpk_hpc"
author = "the lfpk_hpc developers"
copyright = "2026, the lfpk_hpc developers"
version = release = lfpk_hpc.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from _static: formulas render offline
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb"]
templates_path: list[str] = []

html_theme = "furo"
html_title = f"lfpk_hpc {release}"
html_static_path: list[str] = []

# -- API reference: one generated page per public module ---------------------------
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's sections carry the types and units
autodoc_preserve_defaults = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False


def public_modules() -> list[str]:
    """The package's modules whose names do not start with an underscore."""
    pkg = ROOT / "src" / "lfpk_hpc"
    return sorted(m.name for m in pkgutil.iter_modules([str(pkg)]) if not m.name.startswith("_"))


def write_api_pages() -> None:
    api = HERE / "api"
    api.mkdir(exist_ok=True)
    mods = public_modules()
    for name in mods:
        full = f"lfpk_hpc.{name}"
        text = f"{full}\n{'=' * len(full)}\n\n.. automodule:: {full}\n"
        page = api / f"{name}.rst"
        if not page.exists() or page.read_text() != text:
            page.write_text(text)
    toc = "\n".join(f"   api/{m}" for m in mods)
    index = (
        "API reference\n=============\n\n"
        "Every public module of the package, with the names of its ``__all__``.\n"
        "Units are given in the parameter descriptions (µm, ms, mV, nA, S/m, nA·µm,\n"
        "spikes/s; see :doc:`guide/method`).\n\n"
        f".. toctree::\n   :maxdepth: 1\n\n{toc}\n"
    )
    target = HERE / "api.rst"
    if not target.exists() or target.read_text() != index:
        target.write_text(index)


write_api_pages()

# -- the gallery ------------------------------------------------------------------
# The examples draw their figures with lfpk_hpc's own functions, which write PNG files
# (as the command line does) into $LFPK_EXAMPLES_OUT/<example>/; this scraper puts every
# new PNG there into the page, beside matplotlib's own figures.
os.environ["LFPK_EXAMPLES_OUT"] = str(HERE / "_build" / "examples_output")


sys.path.insert(0, str(HERE / "sphinxext"))
from pngscraper import PNGScraper  # noqa: E402

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": str(HERE / "auto_examples"),
    "filename_pattern": r"/plot_",  # every example is run
    "abort_on_example_error": False,  # run all, then fail the build on any error
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib", PNGScraper()),
    "matplotlib_animations": False,
    "plot_gallery": "True",
    "reset_modules": ("matplotlib",),
    "write_computation_times": True,
}


# -- docstrings: plain-text absolute values ------------------------------------------
# The docstrings write |x| for an absolute value or a norm, which reStructuredText
# would read as a substitution reference: escape the bars outside inline literals.
def _escape_bars(line: str) -> str:
    parts = line.split("``")
    for i in range(0, len(parts), 2):  # the even parts are outside ``literals``
        parts[i] = parts[i].replace("|", "\\|")
    return "``".join(parts)


def _process_docstring(app, what, name, obj, options, lines):
    lines[:] = [_escape_bars(s) for s in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _process_docstring)
