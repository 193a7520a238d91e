"""The documentation: the site builds, every example runs, every public name is listed.

``test_docs_build`` runs the one command a user runs, ``bash scripts/docs.sh`` (Sphinx
with warnings as errors, every ``examples/plot_*.py`` executed by sphinx-gallery: an
example's failing ``assert`` fails the build), about 2-3 minutes on 2 cores; deselect
it with ``-m "not docs"``. It then reads the built site: the API reference's
inventory holds every name of every public module's ``__all__``, each example's page
shows a figure, and each example ran within the time the gallery promises.

The fast tests check ``--version``, that the version, the changelog and the
citation file agree, and the docstrings the API pages render: every public function,
class and method documents each parameter in a numpydoc ``Parameters`` section, and
every number there names its unit.
"""

import importlib
import os
import pkgutil
import re
import subprocess
import sys

import pytest
from conftest import ROOT, need_module

import lfpk_hpc

DOCS = ROOT / "docs"
HTML = DOCS / "_build" / "html"
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
#: an example's time on a quiet 2-core machine stays under a minute; a busy CI
#: machine (the test suite beside it) may take longer, not twice as long
EXAMPLE_LIMIT_S = 120.0


def public_modules() -> list[str]:
    pkg = ROOT / "src" / "lfpk_hpc"
    return sorted(m.name for m in pkgutil.iter_modules([str(pkg)]) if not m.name.startswith("_"))


def test_version_flag_prints_the_package_version():
    for flag in ("--version", "-V"):
        proc = subprocess.run(
            [sys.executable, "-m", "lfpk_hpc", flag], capture_output=True, text=True, cwd=ROOT
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == f"lfpk_hpc {lfpk_hpc.__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*(\.dev\d+)?", lfpk_hpc.__version__)


def test_version_changelog_and_citation_agree():
    version = lfpk_hpc.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## {re.escape(version)}\b", changelog, re.M), "no changelog section"
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^cff-version: 1\.2\.0$", cff, re.M)
    assert re.search(rf"^version: {re.escape(version)}$", cff, re.M)
    # the papers whose methods lfpk_hpc implements
    for doi in (
        "10.1371/journal.pcbi.1010353",  # Hagen et al. 2022, the kernels
        "10.1093/cercor/bhw237",  # Hagen et al. 2016, the hybrid scheme
        "10.1093/cercor/bhs358",  # Potjans & Diesmann 2014, the microcircuit
    ):
        assert f"doi: {doi}" in cff, doi
    # the package's metadata takes its version from lfpk_hpc.__version__
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'version = { attr = "lfpk_hpc.__version__" }' in pyproject


def test_every_public_module_has_a_names_list():
    """The API pages document each module's ``__all__``: a module without one would
    list everything it imports, or nothing."""
    for name in public_modules():
        module = importlib.import_module(f"lfpk_hpc.{name}")
        assert hasattr(module, "__all__"), name
        for attr in module.__all__:
            assert hasattr(module, attr), (name, attr)


@pytest.mark.docs
@pytest.mark.slow
def test_docs_build(tmp_path):
    need_module("sphinx", "bash scripts/docs.sh or scripts/setup.sh --test installs it")
    env = dict(os.environ, LFPK_VENV=sys.prefix)
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "docs.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-8000:]

    # every public name of every public module is in the API reference
    from sphinx.util.inventory import InventoryFile

    with open(HTML / "objects.inv", "rb") as f:
        inventory = InventoryFile.load(f, "", os.path.join)
    documented = {name for entries in inventory.values() for name in entries}
    modules = {name: importlib.import_module(f"lfpk_hpc.{name}") for name in public_modules()}
    lost = []
    for name, module in modules.items():
        assert f"lfpk_hpc.{name}" in documented, name
        for attr in module.__all__:
            if f"lfpk_hpc.{name}.{attr}" in documented:
                continue
            # a name re-exported from another module is documented where it lives
            obj = getattr(module, attr)
            homes = [
                f"lfpk_hpc.{other}.{attr}"
                for other, m in modules.items()
                if other != name and getattr(m, attr, None) is obj
            ]
            if not any(home in documented for home in homes):
                lost.append(f"lfpk_hpc.{name}.{attr}")
    assert not lost, lost

    # every user-guide page and every example was built; each example drew a figure
    for page in (DOCS / "guide").glob("*.md"):
        assert (HTML / "guide" / f"{page.stem}.html").is_file(), page.name
    for example in EXAMPLES:
        html = (HTML / "auto_examples" / f"{example.stem}.html").read_text(encoding="utf-8")
        assert f"sphx_glr_{example.stem}_001.png" in html, example.name

    # and ran in the time the gallery promises
    times = (DOCS / "sg_execution_times.rst").read_text(encoding="utf-8")
    for example in EXAMPLES:
        m = re.search(rf"{example.stem}\.py``\)\s*-\s*(\d+):(\d+\.\d+)", times)
        assert m, (example.name, times[:2000])
        seconds = 60 * int(m.group(1)) + float(m.group(2))
        assert seconds < EXAMPLE_LIMIT_S, (example.name, seconds)


#: what a parameter's description must name when the parameter is a number: a unit
#: of the project's table (docs/guide/method.md), or what makes it unitless
UNITS = (
    "µm", "ms", "mV", "nA", "µS", "S/m", "S/cm²", "Ω·cm", "µF/cm²", "spikes/s", "Hz",
    "°C", "radians", "mA/cm²", "1/mV", "fT", "µA/mm³",
    "pF",  # NEST's neuron model of the PD14 network
    "seconds",  # wall times
    "dimensionless", "a count", "direction", "dots per inch",
    "any units",  # a signal's transform (filter, baseline, wavelet): units pass through
)  # fmt: skip


def test_schema_documents_every_field_with_its_unit():
    """Every field of the params file's classes (the model schema, the probes, the
    evoked drives) is in its class's numpydoc ``Parameters`` section, and every
    number's description names its unit."""
    import dataclasses

    from numpydoc.docscrape import ClassDoc

    from lfpk_hpc import drives, params, probespecs

    checked = 0
    for module in (params, probespecs, drives):
        for name in module.__all__:
            cls = getattr(module, name)
            if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
                continue
            doc = ClassDoc(cls, config={"show_class_members": False})
            described = {}
            for p in doc["Parameters"]:
                for field_name in p.name.replace(" ", "").split(","):
                    described[field_name] = (p.type, " ".join(p.desc))
            for field in dataclasses.fields(cls):
                assert field.name in described, (name, field.name)
                ftype, desc = described[field.name]
                if "float" in ftype:
                    assert any(u in desc for u in UNITS), (name, field.name, desc)
                checked += 1
    assert checked > 80


def test_every_numpydoc_number_names_its_unit():
    """Wherever a public class or function has a numpydoc ``Parameters`` section, each
    parameter of type float names its unit (every one has the section:
    :func:`test_every_public_callable_documents_its_parameters`)."""
    import inspect
    import warnings

    from numpydoc.docscrape import ClassDoc, FunctionDoc

    unitless, described = [], 0
    for name in public_modules():
        module = importlib.import_module(f"lfpk_hpc.{name}")
        for attr in module.__all__:
            obj = getattr(module, attr)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpydoc on prose docstrings
                if inspect.isclass(obj):
                    doc = ClassDoc(obj, config={"show_class_members": False})
                elif inspect.isfunction(obj):
                    doc = FunctionDoc(obj)
                else:
                    continue
            for p in doc["Parameters"]:
                described += 1
                if "float" in p.type and not any(u in " ".join(p.desc) for u in UNITS):
                    unitless.append(f"lfpk_hpc.{name}.{attr}: {p.name}")
    assert not unitless, unitless
    assert described > 150


def _public_callables():
    """(name, object, parameters) of every function and class in a public module's
    ``__all__`` and every public method those classes define, each once (at its home
    module when that is public too); ``parameters`` are the signature's names without
    ``self``/``cls`` and private dataclass fields (``_cache``)."""
    import inspect

    modules = {name: importlib.import_module(f"lfpk_hpc.{name}") for name in public_modules()}
    seen = set()

    def params(obj, bound: bool) -> list[str]:
        names = list(inspect.signature(obj).parameters)
        return [n for n in names[1 if bound else 0 :] if not n.startswith("_")]

    def own_init(cls) -> bool:
        # a class whose constructor lfpk_hpc defines (exceptions keep the builtins')
        return any(
            "__init__" in c.__dict__
            for c in cls.__mro__[:-1]
            if c.__module__.startswith("lfpk_hpc")
        )

    for name, module in modules.items():
        for attr in module.__all__:
            obj = getattr(module, attr)
            home = getattr(obj, "__module__", "") or ""
            if home != module.__name__ and home.removeprefix("lfpk_hpc.") in modules:
                continue  # a re-export: checked where it lives
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            qual = f"lfpk_hpc.{name}.{attr}"
            if inspect.isclass(obj):
                if own_init(obj):
                    yield qual, obj, params(obj, False)
                for mname, member in vars(obj).items():
                    if mname.startswith("_"):
                        continue
                    if isinstance(member, staticmethod):
                        yield f"{qual}.{mname}", member.__func__, params(member.__func__, False)
                    elif isinstance(member, classmethod):
                        yield f"{qual}.{mname}", member.__func__, params(member.__func__, True)
                    elif inspect.isfunction(member):
                        yield f"{qual}.{mname}", member, params(member, True)
            elif inspect.isfunction(inspect.unwrap(obj)):  # functools' wrappers too
                yield qual, obj, params(obj, False)


def test_every_public_callable_documents_its_parameters():
    """Every function and class of a public module's ``__all__`` (and every public
    method of those classes) that takes parameters has a numpydoc ``Parameters``
    section naming each of them (numpydoc's own parser reads it; a method without a
    docstring of its own inherits its base class's). The API pages render these
    sections; a name that is plumbing rather than API leaves ``__all__`` instead."""
    import inspect
    import warnings

    from numpydoc.docscrape import NumpyDocString

    missing, checked = [], 0
    for qual, obj, names in _public_callables():
        if not names:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = NumpyDocString(inspect.getdoc(obj) or "")
        described = {
            part.strip().lstrip("*")
            for p in doc["Parameters"] + doc["Other Parameters"]
            for part in p.name.split(",")
        }
        lost = [n for n in names if n not in described]
        if lost:
            missing.append(f"{qual}: {', '.join(lost)}")
        checked += 1
    assert not missing, "no numpydoc Parameters entry for:\n" + "\n".join(missing)
    assert checked > 250
