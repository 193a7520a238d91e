"""A bad params file fails cleanly: exit code 2 and one line naming the parameter.

Each case writes a small params file into ``tmp_path`` that imports the valid
README model (params/lfpykernels_readme.py) and derives a broken model from it
with ``dataclasses.replace``, then runs the real CLI
(``python -m lfpk_hpc PARAMS --out FILE``) in a subprocess. Validation happens
before NEURON is imported, so every case is fast.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lfpk_hpc.params import (
    Connection,
    GaussCylinderProbe,
    KernelSettings,
    Model,
    ParamsError,
    Synapse,
    load,
    norm,
    validate,
)

ROOT = Path(__file__).resolve().parents[1]
README_PARAMS = ROOT / "params" / "lfpykernels_readme.py"
HAGEN_PARAMS = ROOT / "params" / "hagen2022.py"

# The start of every generated params file: the README model as ``base`` plus
# helpers that return ``base`` with one part replaced.
HEADER = f"""\
import importlib.util
import math
from dataclasses import replace

from lfpk_hpc.params import *

_spec = importlib.util.spec_from_file_location("_readme_model", {str(README_PARAMS)!r})
_readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_readme)
base = _readme.model


def kernel(**changes):
    return replace(base, kernel=replace(base.kernel, **changes))


def population(i, **changes):
    pops = list(base.populations)
    pops[i] = replace(pops[i], **changes)
    return replace(base, populations=tuple(pops))


def connection(i, **changes):
    cons = list(base.connections)
    cons[i] = replace(cons[i], **changes)
    return replace(base, connections=tuple(cons))


def synapse(i, **changes):
    return connection(i, synapse=replace(base.connections[i].synapse, **changes))


def probe(i, **changes):
    probes = list(base.probes)
    probes[i] = replace(probes[i], **changes)
    return replace(base, probes=tuple(probes))


# base with the E cell below the cortical surface (soma at loc µm) and an EEG probe
def eeg(loc=-1100.0, **changes):
    m = population(0, geometry=replace(base.populations[0].geometry, loc=loc))
    return replace(m, probes=m.probes + (FourSphereEEGProbe("eeg", **changes),))

"""

#: line number of the first line after HEADER
BODY_LINE = HEADER.count("\n") + 1


@dataclass(frozen=True)
class Case:
    """One bad params file.

    ``body`` is appended to :data:`HEADER` (or is the whole file if ``raw``); the
    error message must contain ``param + sep + value`` and every string of
    ``extra``. ``{path}`` in ``value`` and ``extra`` is the params file's path.
    Problems with the file itself read ``params file '<path>' ...`` (``sep=" "``).
    """

    id: str
    body: str | None
    param: str
    value: str
    extra: tuple[str, ...] = ()
    raw: bool = False
    suffix: str = ".py"
    sep: str = " = "


EE = "connections[E->E]"

CASES = [
    # connection probability
    Case("C-above-1", "model = connection(0, C=1.5)", f"{EE}.C", "1.5", ("[0, 1]",)),
    Case("C-negative", "model = connection(0, C=-0.1)", f"{EE}.C", "-0.1", ("[0, 1]",)),
    # kernel settings
    Case("tau-negative", "model = kernel(tau=-50.0)", "kernel.tau", "-50.0", ("> 0",)),
    Case(
        "dt-does-not-divide-tau",
        "model = kernel(dt=0.3, tau=50.0, t_X=60.0)",
        "kernel.tau",
        "50.0",
        ("whole multiple of kernel.dt = 0.3",),
    ),
    Case(
        "t_X-not-multiple-of-dt",
        "model = kernel(t_X=500.01)",
        "kernel.t_X",
        "500.01",
        ("whole multiple of kernel.dt = 0.0625",),
    ),
    Case(
        "t_X-below-tau",
        "model = kernel(t_X=25.0)",
        "kernel.t_X",
        "25.0",
        (">= kernel.tau = 50.0",),
    ),
    # populations referenced by connections
    Case(
        "unknown-pre",
        "model = connection(0, pre='X')",
        "connections[X->E].pre",
        "'X'",
        ("unknown population", "defined: E, I"),
    ),
    Case(
        "unknown-post",
        "model = connection(1, post='Z')",
        "connections[I->Z].post",
        "'Z'",
        ("unknown population", "defined: E, I"),
    ),
    # cell
    Case(
        "missing-morphology-file",
        "model = population(0, cell=CellModel(morphology='does_not_exist.hoc'))",
        "populations[E].cell.morphology",
        "'does_not_exist.hoc'",
        ("no such file",),
    ),
    # probes
    Case(
        "probe-without-contacts",
        "model = probe(0, z=())",
        "probes[lfp].z",
        "()",
        ("at least one contact",),
    ),
    Case(
        "duplicate-probe-names",
        "model = probe(1, name='lfp')",
        "probes.name",
        "'lfp'",
        ("unique",),
    ),
    Case(
        "probe-sigma-negative",
        "model = probe(0, sigma=-0.3)",
        "probes[lfp].sigma",
        "-0.3",
        ("> 0",),
    ),
    Case(
        "probe-z-not-numbers",
        "model = probe(0, z=('a', 1.0))",
        "probes[lfp].z",
        "('a', 1.0)",
        ("contact depths",),
    ),
    # EEG probe (four-sphere head model)
    Case(
        "eeg-radii-not-increasing",
        "model = eeg(radii=(79000.0, 85000.0, 80000.0, 90000.0))",
        "probes[eeg].radii",
        "(79000.0, 85000.0, 80000.0, 90000.0)",
        ("0 < brain < CSF < skull < scalp",),
    ),
    Case(
        "eeg-radii-three",
        "model = eeg(radii=(79000.0, 85000.0, 90000.0))",
        "probes[eeg].radii",
        "(79000.0, 85000.0, 90000.0)",
        ("4 outer radii (µm) of brain, CSF, skull and scalp",),
    ),
    Case(
        "eeg-radii-negative",
        "model = eeg(radii=(-1.0, 80000.0, 85000.0, 90000.0))",
        "probes[eeg].radii",
        "(-1.0, 80000.0, 85000.0, 90000.0)",
        ("0 < brain",),
    ),
    Case(
        "eeg-sigma-zero",
        "model = eeg(sigmas=(0.3, 1.5, 0.0, 0.3))",
        "probes[eeg].sigmas",
        "(0.3, 1.5, 0.0, 0.3)",
        ("conductivities (S/m)", "each > 0"),
    ),
    Case(
        "eeg-sigmas-three",
        "model = eeg(sigmas=(0.3, 1.5, 0.015))",
        "probes[eeg].sigmas",
        "(0.3, 1.5, 0.015)",
        ("the 4 conductivities",),
    ),
    Case(
        "eeg-no-electrodes",
        "model = eeg(electrodes=())",
        "probes[eeg].electrodes",
        "()",
        ("non-empty tuple of (x, y, z) positions (µm)",),
    ),
    Case(
        "eeg-electrode-two-coordinates",
        "model = eeg(electrodes=((0.0, 90000.0),))",
        "probes[eeg].electrodes",
        "((0.0, 90000.0),)",
        ("(x, y, z) positions (µm)",),
    ),
    Case(
        "eeg-electrode-outside-scalp",
        "model = eeg(electrodes=((0.0, 0.0, 90000.0), (0.0, 0.0, 91000.0)))",
        "probes[eeg].electrodes[1]",
        "(0.0, 0.0, 91000.0)",
        ("91000 µm from the head centre", "scalp surface (radii[3] = 90000 µm)"),
    ),
    Case(
        "eeg-electrode-inside-brain",
        "model = eeg(electrodes=((0.0, 50000.0, 0.0),))",
        "probes[eeg].electrodes[0]",
        "(0.0, 50000.0, 0.0)",
        ("brain surface (radii[0] = 79000 µm)",),
    ),
    Case(
        "eeg-soma-above-the-surface",
        "model = eeg(loc=0.0)",
        "populations[E].geometry.loc",
        "0.0",
        ("below the cortical surface", "EEG probe 'eeg'"),
    ),
    Case(
        "vrest-not-a-number",
        "model = kernel(Vrest={'E': 'rest'})",
        "kernel.Vrest[E]",
        "'rest'",
        ("number",),
    ),
    # population sizes and rates
    Case("N-negative", "model = population(0, N=-8192)", "populations[E].N", "-8192"),
    Case("N-not-integer", "model = population(1, N=1024.5)", "populations[I].N", "1024.5"),
    Case("nu-negative", "model = population(1, nu=-5.0)", "populations[I].nu", "-5.0"),
    # synapses
    Case(
        "weight-nan",
        "model = synapse(0, weight=math.nan)",
        f"{EE}.synapse.weight",
        "nan",
        ("finite",),
    ),
    Case(
        "tau1-not-below-tau2",
        "model = synapse(0, tau1=2.0, tau2=1.8)",
        f"{EE}.synapse.tau1",
        "2.0",
        ("smaller than tau2 = 1.8",),
    ),
    Case(
        "tau1-equals-tau2",
        "model = synapse(1, tau1=9.0, tau2=9.0)",
        "connections[I->E].synapse.tau1",
        "9.0",
        ("smaller than tau2 = 9.0",),
    ),
    Case(
        "conductance-synapse-without-e",
        "model = synapse(0, e=None)",
        f"{EE}.synapse.e",
        "None",
        ("reversal potential",),
    ),
    Case(
        "g_eff-with-current-synapse",
        "model = synapse(0, model='Exp2SynI', weight=0.03, e=None)",
        "kernel.g_eff",
        "True",
        (f"{EE}.synapse is current-based (Exp2SynI)", "g_eff=False"),
    ),
    Case(
        "unknown-synapse-model",
        "model = synapse(0, model='AlphaSyn')",
        f"{EE}.synapse.model",
        "'AlphaSyn'",
        ("Exp2Syn", "Exp2SynI"),
    ),
    # delays
    Case(
        "unknown-delay-distribution",
        "model = connection(0, delay=Distribution('no_such_dist', {'loc': 1.0, 'scale': 0.5}))",
        f"{EE}.delay.name",
        "'no_such_dist'",
        ("scipy.stats",),
    ),
    Case(
        "negative-delays",
        "model = connection(0, delay=norm(loc=1, scale=1))",
        f"{EE}.delay",
        "Distribution(name='norm', params={'loc': 1, 'scale': 1})",
        ("must not be negative",),
    ),
    # placement
    Case(
        "placement-weights-length",
        "model = connection(0, placement=replace(base.connections[0].placement,"
        " weights=(0.5, 1.0)))",
        f"{EE}.placement.weights",
        "(0.5, 1.0)",
        ("one weight per depth distribution (1)",),
    ),
    Case(
        "placement-depth-not-a-tuple",
        "model = connection(0, placement=Placement(('apic',), depth=norm(50.0, 100.0)))",
        f"{EE}.placement.depth",
        "Distribution(name='norm', params={'loc': 50.0, 'scale': 100.0})",
        ("must be a tuple",),
    ),
    Case(
        "placement-weights-not-a-tuple",
        "model = connection(0, placement=Placement(('apic',), depth=(norm(50.0, 100.0),),"
        " weights=1.0))",
        f"{EE}.placement.weights",
        "1.0",
        ("must be a tuple",),
    ),
    # Vrest per population
    Case(
        "Vrest-missing-population",
        "model = kernel(Vrest={'I': -65.0})",
        "kernel.Vrest",
        "{'I': -65.0}",
        ("no entry for postsynaptic population E",),
    ),
    Case(
        # the repr of a numpy array spans several lines; the message must not
        "Vrest-segment-array-with-nan",
        "import numpy as np\n"
        "model = kernel(Vrest={'E': np.where(np.arange(27) == 3, np.nan, -65.0)}, g_eff=False)",
        "kernel.Vrest[E]",
        "[-65.0, -65.0, -65.0, nan, …, -65.0, -65.0] (27 values)",
        ("finite",),
    ),
    # the params file itself
    Case(
        "file-does-not-exist",
        None,
        "params file",
        "'{path}'",
        ("does not exist",),
        sep=" ",
    ),
    Case(
        "file-syntax-error",
        "model = Model(\n    name='broken',\n",
        "params file",
        "'{path}'",
        ("does not import", "SyntaxError"),
        sep=" ",
        raw=True,
    ),
    Case(
        "file-raises",
        "x = 1 / 0\nmodel = base\n",
        "params file",
        "'{path}'",
        (f"does not import (line {BODY_LINE})", "ZeroDivisionError: division by zero"),
        sep=" ",
    ),
    Case(
        "file-raises-multiline-message",
        "raise RuntimeError('first line\\nsecond line')\n",
        "params file",
        "'{path}'",
        (f"(line {BODY_LINE}): RuntimeError: first line second line",),
        sep=" ",
    ),
    Case(
        "file-defines-no-model",
        "modell = base\n",
        "params file",
        "'{path}'",
        ("defines no 'model'",),
        sep=" ",
    ),
    Case(
        "file-wrong-suffix",
        "model = base\n",
        "params file",
        "'{path}'",
        ("must be a Python module (.py)",),
        sep=" ",
        suffix=".txt",
    ),
]


def write_params(tmp_path: Path, case: Case) -> Path:
    """The params file of ``case`` in ``tmp_path`` (not created if ``body`` is None)."""
    path = tmp_path / f"bad_params{case.suffix}"
    if case.body is not None:
        path.write_text(case.body if case.raw else HEADER + case.body + "\n", encoding="utf-8")
    return path


def test_header_builds_the_readme_model(tmp_path):
    """Guard for the cases: the unmodified helper file is a valid params file."""
    path = write_params(tmp_path, Case("valid", "model = base", "", ""))
    assert load(path).hash() == load(README_PARAMS).hash()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_rejects_bad_params(tmp_path, case):
    params_file = write_params(tmp_path, case)
    out = tmp_path / "k.h5"
    proc = subprocess.run(
        [sys.executable, "-m", "lfpk_hpc", str(params_file), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.stderr == lines[0] + "\n"
    message = lines[0]
    assert message.startswith("lfpk_hpc: error: ")
    expected = f"{case.param}{case.sep}{case.value}".replace("{path}", str(params_file))
    assert expected in message
    for text in case.extra:
        assert text.replace("{path}", str(params_file)) in message
    assert not out.exists()
    assert not (tmp_path / "kernels").exists()


# --------------------------------------------------------------------------- in-process


@pytest.fixture(scope="module")
def readme():
    return load(README_PARAMS)


def _with_synapse(model: Model, i: int, /, **changes) -> Model:
    cons = list(model.connections)
    cons[i] = dataclasses.replace(cons[i], synapse=dataclasses.replace(cons[i].synapse, **changes))
    return dataclasses.replace(model, connections=tuple(cons))


def test_validate_C_out_of_range(readme):
    con = dataclasses.replace(readme.connections[1], C=1.5)
    bad = dataclasses.replace(readme, connections=(readme.connections[0], con))
    with pytest.raises(ParamsError, match=r"^connections\[I->E\]\.C = 1\.5 is invalid: "):
        validate(bad)


def test_validate_dt_does_not_divide_tau(readme):
    bad = dataclasses.replace(readme, kernel=KernelSettings(dt=0.3, tau=50.0, t_X=60.0))
    with pytest.raises(ParamsError, match=r"^kernel\.tau = 50\.0 is invalid: .*kernel\.dt = 0\.3"):
        validate(bad)


def test_validate_g_eff_with_current_based_synapse(readme):
    bad = _with_synapse(readme, 0, model="Exp2SynI", weight=0.03, e=None)
    with pytest.raises(ParamsError, match=r"^kernel\.g_eff = True is invalid: ") as info:
        validate(bad)
    assert "connections[E->E].synapse is current-based" in str(info.value)
    # with g_eff off the same model is valid
    validate(dataclasses.replace(bad, kernel=dataclasses.replace(bad.kernel, g_eff=False)))


def test_validate_negative_delays_and_duplicate_probes(readme):
    con = dataclasses.replace(readme.connections[0], delay=norm(loc=1, scale=1))
    bad = dataclasses.replace(readme, connections=(con, readme.connections[1]))
    with pytest.raises(ParamsError, match=r"^connections\[E->E\]\.delay = .*must not be negative"):
        validate(bad)
    probes = (GaussCylinderProbe("lfp", z=(0.0,)), GaussCylinderProbe("lfp", z=(100.0,)))
    with pytest.raises(ParamsError, match=r"^probes\.name = 'lfp' is invalid: .*unique"):
        validate(dataclasses.replace(readme, probes=probes))


def test_load_missing_and_wrong_suffix(tmp_path):
    missing = tmp_path / "missing.py"
    with pytest.raises(ParamsError, match="does not exist"):
        load(missing)
    txt = tmp_path / "params.txt"
    txt.write_text(README_PARAMS.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ParamsError, match=r"must be a Python module \(\.py\)"):
        load(txt)


def test_load_file_that_raises(tmp_path):
    path = tmp_path / "raises.py"
    path.write_text("import math\n\nx = 1 / 0\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"does not import \(line 3\): ZeroDivisionError"):
        load(path)


# --------------------------------------------------------------------------- valid files


@pytest.mark.parametrize("path", [README_PARAMS, HAGEN_PARAMS], ids=["readme", "hagen2022"])
def test_valid_params_load_with_stable_hash(path, tmp_path):
    first, second = load(path), load(path)
    assert isinstance(first, Model)
    assert len(first.hash()) == 64
    assert first.hash() == second.hash()
    # the hash does not depend on where the params file lives
    copy = tmp_path / path.name
    copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert load(copy).hash() == first.hash()
    # ... but on every parameter
    pops = list(first.populations)
    pops[0] = dataclasses.replace(pops[0], nu=pops[0].nu + 0.5)
    changed = validate(dataclasses.replace(first, populations=tuple(pops)))
    assert changed.hash() != first.hash()
    con = dataclasses.replace(
        first.connections[0], synapse=Synapse("Exp2Syn", weight=1e-4, tau1=0.2, tau2=1.8, e=0.0)
    )
    changed = validate(dataclasses.replace(first, connections=(con, *first.connections[1:])))
    assert isinstance(changed.connections[0], Connection)
    assert changed.hash() != first.hash()
