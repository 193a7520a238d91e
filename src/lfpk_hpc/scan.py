"""Parameter scans: the kernels of many variants of one params file as one job.

    python -m lfpk_hpc scan SCAN.py --out FILE [--resume | --overwrite]
    mpirun -n 64 python -m lfpk_hpc scan scans/vrest.py --out scans/vrest.h5

A scan file is a Python module that defines ``scan = Scan(...)``::

    from lfpk_hpc.scan import Scan

    scan = Scan(
        params="../params/potjans.py",          # relative to the scan file
        product={"kernel.tau": [50.0, 100.0],   # every combination of these ...
                 "populations[L5E].cell.g_pas": [5e-5, 1e-4]},
        zip={"connections[L4E->L23E].synapse.weight": [0.1, 0.2],   # ... times these
             "connections[L4E->L23E].C": [0.03, 0.05]},             # zipped in step
    )

Points are the product of the ``product`` axes (their values in order, the last axis
fastest) with the rows of the ``zip`` axes (all of one length) as one more axis; an
empty scan is one point. Parameters are named by path:

- ``scale``: the fraction of every population's size (C kept: :func:`scaled_model`),
  applied after every other parameter of the point;
- ``synapse_count``, ``kernel.<field>`` (``dt``, ``tau``, ``t_X``, ``g_eff``,
  ``Vrest`` or ``Vrest[Y]``);
- ``populations[<name>].<field>[.<field>...]`` (``nu``, ``N``, ``cell.g_pas``,
  ``geometry.scale``, ...);
- ``connections[<X>-><Y>].<field>...`` (``C``, ``synapse.weight``,
  ``delay.params[loc]``, ...), ``extrinsic[<Y>].<field>...``,
  ``probes[<name>].<field>...``;
- a key in square brackets of a mapping (``params[loc]``, ``Vrest[L5E]``);
- a glob in the brackets of populations, connections or probes sets every entry it
  matches (``populations[*].cell.g_pas``, ``connections[L4E->*].synapse.weight``);
  populations without a cell (only presynaptic) are passed over by ``.cell...``.

Every point is built and validated before anything runs: a path that names nothing,
or a value the params do not allow, stops with one line naming the point and the
parameter (exit 2).

The job: every (point, X, Y) with C_YX > 0, but a pathway whose kernel cannot differ
between points (the same effective parameters for X → Y: kernel settings, probes,
Y's cell and geometry, X's size, the connection, and with g_eff everything Y's leak
depends on — :func:`kernel_signature`) is computed once and written to every point
that has it (a point that changes only the rates of a model without g_eff shares all
its kernels). The tasks run in the task farm (:mod:`lfpk_hpc.scheduler`) — dynamic,
longest first, resumable after kill -9 from per-task checkpoints, the same file bit
for bit on any number of ranks — grouped by (point, Y) so that a rank builds a cell
once for all its pathways.

Output (one HDF5 file): root attributes ``format`` ``lfpk_hpc.scan/1``, ``scan_json``
(the scan), ``params_json`` of the base params, ``n_points``, the run's totals;
``/axes``: ``paths`` and per point its ``values`` (JSON) and ``params_hash``;
``/points/<i>``: point i's kernels in the layout of a kernels file (``read_kernels_file
(path, group="points/<i>")``; ``predict``/``plot`` take ``--point i``; ``scan-extract``
writes one point as a standalone kernels file).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import itertools
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._moved import forward
from .errors import InputError
from .kernelrun import task_keys, task_label
from .kernelsfile import SCAN_FORMAT, _split_outside_brackets
from .params import Model, ParamsError
from .scheduler import TaskKind, run_farm

__all__ = [
    "Scan",
    "ScanError",
    "apply_point",
    "kernel_signature",
    "load_scan",
    "run_scan",
    "set_path",
]

FORMAT = SCAN_FORMAT

#: the plan of a scan moved to lfpk_hpc.scanplan (it imports this module); its names
#: are still found here
__getattr__ = forward(
    __name__, dict.fromkeys(("ScanPlan", "measured_times", "plan_scan", "print_plan"), "scanplan")
)


class ScanError(InputError):
    """Bad scan file or point (exit code 2)."""


@dataclass(frozen=True)
class Scan:
    """A grid of parameter values over one params file (see the module docstring).

    Parameters
    ----------
    params : str
        The params file scanned, relative to the scan file's folder.
    product : mapping of str to sequence, optional
        Parameter path → its values, each value in the parameter's own unit (as in the
        params file: µm, ms, mV, µS or nA, S/cm², spikes/s); every combination is a point.
    zip : mapping of str to sequence, optional
        Parameter path → its values, all of one length, stepped together (units as in
        ``product``).
    name : str, optional
        The scan's name.
    """

    params: str
    product: Mapping[str, Sequence] = field(default_factory=dict)
    zip: Mapping[str, Sequence] = field(default_factory=dict)
    name: str | None = None


# --------------------------------------------------------------------------- paths

_TOKEN = re.compile(r"^([A-Za-z_]\w*)(?:\[([^\]]+)\])?$")


def _tokens(path: str) -> list[tuple[str, str | None]]:
    # a key in brackets may contain dots (a population named "a.b" is not allowed
    # anyway; Distribution keys have none): split on dots outside brackets
    tokens = []
    for part in _split_outside_brackets(path, "."):
        m = _TOKEN.match(part)
        if m is None:
            raise ScanError(f"parameter path {path!r} is invalid at {part!r}")
        tokens.append((m.group(1), m.group(2)))
    return tokens


def _named(items, key: str, what: str, path: str):
    """The element of a tuple keyed by name (populations, probes) or by X->Y."""
    for i, item in enumerate(items):
        name = f"{item.pre}->{item.post}" if hasattr(item, "pre") else getattr(item, "name", None)
        if name == key:
            return i, item
    names = [f"{c.pre}->{c.post}" if hasattr(c, "pre") else c.name for c in items]
    raise ScanError(
        f"parameter path {path!r} is invalid: no {what} {key!r} (there are {', '.join(names)})"
    )


def _set(obj, tokens, value, path):
    name, key = tokens[0]
    rest = tokens[1:]
    if isinstance(obj, Mapping):
        if name not in obj:
            raise ScanError(
                f"parameter path {path!r} is invalid: no key {name!r} (keys: "
                f"{', '.join(map(str, obj))})"
            )
        new = dict(obj)
        new[name] = _set_key(obj[name], key, rest, value, path, name)
        return new
    if not dataclasses.is_dataclass(obj) or name not in {f.name for f in dataclasses.fields(obj)}:
        fields_ = (
            ", ".join(f.name for f in dataclasses.fields(obj))
            if dataclasses.is_dataclass(obj)
            else type(obj).__name__
        )
        raise ScanError(
            f"parameter path {path!r} is invalid: no field {name!r} (fields: {fields_})"
        )
    current = getattr(obj, name)
    return dataclasses.replace(obj, **{name: _set_key(current, key, rest, value, path, name)})


_WHAT = {"populations": "population", "connections": "connection", "probes": "probe"}


def _set_key(current, key, rest, value, path, field_name):
    """``current`` with ``[key]`` then ``rest`` set to ``value``."""
    if key is None:
        return value if not rest else _set(current, rest, value, path)
    if isinstance(current, Mapping):
        if key not in current:
            raise ScanError(
                f"parameter path {path!r} is invalid: no key {key!r} (keys: "
                f"{', '.join(map(str, current))})"
            )
        new = dict(current)
        new[key] = value if not rest else _set(current[key], rest, value, path)
        return new
    if isinstance(current, tuple) and any(c in key for c in "*?"):
        return _set_matching(current, key, rest, value, path, field_name)
    if isinstance(current, tuple):
        what = _WHAT.get(field_name, f"entry of {field_name}")
        i, item = _named(current, key, what, path)
        new = list(current)
        new[i] = value if not rest else _set(item, rest, value, path)
        return tuple(new)
    shown = repr(current) if len(repr(current)) < 60 else type(current).__name__
    raise ScanError(
        f"parameter path {path!r} is invalid: [{key}] indexes nothing ({shown} has no "
        "named entries)"
    )


def _set_matching(items, pattern, rest, value, path, field_name):
    """Every entry whose name matches the glob ``pattern`` (``populations[*]``,
    ``connections[L4E->*]``), except those where the path's next field is None (the
    ``cell`` of a population that is only presynaptic)."""
    from fnmatch import fnmatchcase

    what = _WHAT.get(field_name, f"entry of {field_name}")
    new, hits = list(items), 0
    for i, item in enumerate(items):
        name = f"{item.pre}->{item.post}" if hasattr(item, "pre") else getattr(item, "name", "")
        if not fnmatchcase(name, pattern):
            continue
        if rest and getattr(item, rest[0][0], 0) is None:
            continue
        new[i] = value if not rest else _set(item, rest, value, path)
        hits += 1
    if hits == 0:
        names = [f"{c.pre}->{c.post}" if hasattr(c, "pre") else c.name for c in items]
        raise ScanError(
            f"parameter path {path!r} is invalid: {pattern!r} matches no {what}"
            + (f" with a {rest[0][0]}" if rest else "")
            + f" (there are {', '.join(names)})"
        )
    return tuple(new)


def set_path(model: Model, path: str, value) -> Model:
    """``model`` with the parameter at ``path`` set to ``value`` (not validated).

    Parameters
    ----------
    model : Model
        The model.
    path : str
        The parameter's path (e.g. ``kernel.tau``).
    value : object
        Its new value, in the parameter's unit.

    Returns
    -------
    Model
        The model with the value, not validated.

    Raises
    ------
    ScanError
        The path names nothing, or is ``scale``.
    """
    if path == "scale":
        raise ScanError("'scale' is applied by apply_point, after the other parameters")
    if isinstance(value, np.generic):
        value = value.item()
    return _set(model, _tokens(path), value, path)


def apply_point(model: Model, point: dict) -> Model:
    """``model`` with a point's values (``scale`` last), validated.

    Parameters
    ----------
    model : Model
        The base model.
    point : dict
        Parameter path → value (each in the parameter's unit), ``scale`` (dimensionless)
        last.

    Returns
    -------
    Model
        The point's model, validated.

    Raises
    ------
    ScanError
        A path names nothing, or a scale is not allowed.
    ParamsError
        The point's model is not valid.
    """
    from .groundtruth import GroundTruthError, scaled_model
    from .params import validate

    for path, value in point.items():
        if path != "scale":
            model = set_path(model, path, value)
    if "scale" in point:
        try:
            model = scaled_model(model, float(point["scale"]))
        except GroundTruthError as exc:
            raise ScanError(str(exc).replace("--scale", "scale")) from None
    return validate(model)


def _values(path, values) -> list:
    """An axis' values as a list of plain Python values (a list, tuple, range or numpy
    array such as ``np.linspace(-70, -60, 5)``)."""
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise ScanError(
            f"scan axis {path!r} = {values!r} is invalid: give its values as a list, range or array"
        )
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def points_of(scan: Scan) -> list[dict]:
    """The points of a scan, in order (see the module docstring)."""
    axes = [(p, _values(p, v)) for p, v in dict(scan.product).items()]
    zipped = {p: _values(p, v) for p, v in dict(scan.zip).items()}
    for p, v in axes + list(zipped.items()):
        if len(v) == 0:
            raise ScanError(f"scan axis {p!r} has no values")
    if zipped:
        lengths = {p: len(v) for p, v in zipped.items()}
        if len(set(lengths.values())) > 1:
            raise ScanError(
                "zipped scan axes must have one length: "
                + ", ".join(f"{p} {n}" for p, n in lengths.items())
            )
    both = set(dict(axes)) & set(zipped)
    if both:
        raise ScanError(f"scan axis {sorted(both)[0]!r} is both in product and zip")
    rows = [dict(zip(zipped, vals, strict=True)) for vals in zip(*zipped.values(), strict=True)]
    out = []
    for combo in itertools.product(*[v for _p, v in axes]):
        base = dict(zip([p for p, _v in axes], combo, strict=True))
        for row in rows or [{}]:
            out.append({**base, **row})
    return out


def _import_scan(path: Path) -> tuple[Scan, Model]:
    """The Scan of a scan file and its base params."""
    from .params import load

    if not path.is_file():
        raise ScanError(f"scan file {str(path)!r} does not exist")
    name = f"_lfpk_scan_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's file, one line
        raise ScanError(
            f"scan file {str(path)!r} does not import: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        sys.modules.pop(name, None)
    scan = getattr(module, "scan", None)
    if not isinstance(scan, Scan):
        raise ScanError(f"scan file {str(path)!r} defines no 'scan' (scan = Scan(...))")
    params = Path(scan.params)
    if not params.is_absolute():
        params = path.resolve().parent / params
    try:
        base = load(params)
    except ParamsError as exc:
        raise ScanError(f"scan params {scan.params!r}: {exc}") from None
    return scan, base


def _point_label(point: dict) -> str:
    return ", ".join(f"{p}={v!r}" for p, v in point.items()) or "the base"


def point_model(path, i: int) -> Model:
    """The model of point ``i`` of a scan file alone (what a params file of the point
    defines; :func:`write_point_params`)."""
    scan, base = _import_scan(Path(path))
    points = points_of(scan)
    if not 0 <= i < len(points):
        raise ScanError(
            f"point {i} is invalid: scan {str(path)!r} has {len(points)} points "
            f"(allowed 0..{len(points) - 1})"
        )
    try:
        return apply_point(base, points[i])
    except (ScanError, ParamsError) as exc:
        raise ScanError(f"scan point {i} ({_point_label(points[i])}): {exc}") from None


def write_point_params(path, i: int, out) -> Path:
    """Write a params file whose model is point ``i`` of scan file ``path`` (for every
    command that takes a params file: validate, groundtruth, simulate-pd14, ...)."""
    scan, _base = _import_scan(Path(path))
    points = points_of(scan)
    label = _point_label(points[i]) if 0 <= i < len(points) else "?"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = (
        f'"""Point {i} of the scan {Path(path).resolve()}: {label}\n\n'
        'Written by python -m lfpk_hpc; the model is made from the scan file."""\n\n'
        "from lfpk_hpc.scan import point_model\n\n"
        f"model = point_model({str(Path(path).resolve())!r}, {i})\n"
    )
    atomic = out.with_name(out.name + ".tmp")
    atomic.write_text(text)
    atomic.replace(out)
    return out


def load_scan(path) -> tuple[Scan, Model, list[dict], list[Model]]:
    """Import a scan file and build and validate every point: (scan, base model,
    points, the points' models). Raises ScanError naming the point and parameter.

    Parameters
    ----------
    path : str or pathlib.Path
        The scan file.

    Returns
    -------
    scan : Scan
        The scan.
    base : Model
        The base model.
    points : list of dict
        Each point's values.
    models : list of Model
        Each point's model, validated.

    Raises
    ------
    ScanError
        The file, a point or a parameter is bad.
    """
    path = Path(path)
    scan, base = _import_scan(path)
    points = points_of(scan)
    models = []
    for i, point in enumerate(points):
        try:
            models.append(apply_point(base, point))
        except (ScanError, ParamsError) as exc:
            raise ScanError(f"scan point {i} ({_point_label(point)}): {exc}") from None
    return scan, base, points, models


# --------------------------------------------------------------------------- tasks


def kernel_signature(model: Model, X: str, Y: str, d: dict | None = None) -> str:
    """SHA-256 of everything H_YX depends on (see the module docstring): two models with
    the same signature for (X, Y) have the same kernel, bit for bit. ``d``: the
    model's ``to_dict()``, if already made.

    Parameters
    ----------
    model : Model
        The model.
    X : str
        Presynaptic population (or :data:`lfpk_hpc.store.AP_TASK`).
    Y : str
        Postsynaptic population.
    d : dict, optional
        The model's ``to_dict()``.

    Returns
    -------
    str
        The signature (hexadecimal SHA-256).
    """
    from .store import AP_TASK

    d = model.to_dict() if d is None else d
    pops = {p["name"]: p for p in d["populations"]}
    cons = {(c["pre"], c["post"]): c for c in d["connections"]}
    y = dict(pops[Y])
    y.pop("nu", None)
    part = {
        "kernel": d["kernel"],
        "probes": d["probes"],
        "synapse_count": d["synapse_count"],
        "Y": y,
    }
    if X == AP_TASK:  # Y's action-potential kernel: its cell, probes and (g_eff) leak
        part["task"] = AP_TASK
    else:
        part["N_X"] = pops[X]["N"]
        part["con"] = cons[(X, Y)]
    if model.kernel.g_eff:
        part["extrinsic"] = d["extrinsic"].get(Y)
        part["leak"] = [
            (cons[(Xi, Y)], pops[Xi]["N"], pops[Xi]["nu"]) for Xi in model.presynaptic(Y)
        ]
    text = json.dumps(part, sort_keys=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


class ScanTasks(TaskKind):
    """Distinct kernel pathways of a scan's points as tasks of the task farm."""

    noun = "task"
    units_noun = "units (runs of one point and Y)"
    store_mode = "file"

    def __init__(self, scan: Scan, base: Model, points, models, log=None):
        self.scan, self.base, self.points, self.models = scan, base, points, models
        self.log = log or (lambda *a, **k: None)
        self.sig_of = {}  # (point, X, Y) -> signature
        self.users = {}  # signature -> [(point, X, Y), ...]
        self._json, self._hashes = [], []
        for i, m in enumerate(models):
            d = m.to_dict()
            self._json.append(json.dumps(d, sort_keys=True, allow_nan=True))
            self._hashes.append(hashlib.sha256(self._json[-1].encode()).hexdigest())
            for X, Y in task_keys(m):  # pathways with C_YX > 0, then AP kernels
                s = kernel_signature(m, X, Y, d)
                self.sig_of[(i, X, Y)] = s
                self.users.setdefault(s, []).append((i, X, Y))
        # a task: the first point that needs a signature computes it
        self.order = [users[0] for users in self.users.values()]
        self.key_sig = {key: self.sig_of[key] for key in self.order}
        self._engines = {}
        self._seconds = {}

    def keys(self):
        return list(self.order)

    def label(self, key):
        i, X, Y = key
        n = len(self.users[self.key_sig[key]])
        return f"{task_label((X, Y))} of point {i}" + (f" (and {n - 1} more)" if n > 1 else "")

    def point_hash(self, i: int) -> str:
        """``self.models[i].hash()``, made once."""
        return self._hashes[i]

    def point_json(self, i: int) -> str:
        """``self.models[i].to_json()``, made once."""
        return self._json[i]

    def params_hash(self):
        return hashlib.sha256(json.dumps(self._hashes).encode()).hexdigest()

    def announce(self, n_done):
        n_all = len(self.sig_of)
        return [
            f"scan of {self.base.name!r}: {len(self.points)} points, {n_all} kernel pathways, "
            f"{len(self.order)} distinct (the rest shared between points)",
            "axes: " + (", ".join(self.points[0]) if self.points and self.points[0] else "none"),
        ]

    def estimate(self, keys, measured, comm):
        """Seconds per task: measured where given, else the cost model's estimate scaled
        by the median measured/estimated ratio over the whole scan. The cells of all
        points are counted in one go, shared out over the ranks."""
        from . import cost

        by_point = {}
        for key in keys:
            by_point.setdefault(key[0], []).append(key)
        cost.prefetch_segments(
            [
                (self.models[i], Y)
                for i, ks in sorted(by_point.items())
                for Y in sorted({k[2] for k in ks})
            ],
            comm,
        )
        raw = {}
        for i, ks in sorted(by_point.items()):
            for c in cost.estimate(self.models[i], [(X, Y) for _i, X, Y in ks]):
                raw[(i, c.X, c.Y)] = c.seconds
        meas = {k: v for k, v in measured.items() if k in raw and v and v > 0}
        ratios = sorted(meas[k] / raw[k] for k in meas)
        scale = ratios[len(ratios) // 2] if ratios else 1.0
        out = {k: meas.get(k, raw[k] * scale) for k in keys}
        self._seconds = out
        return out

    def units(self, seconds, ranks, todo):
        """Runs of tasks with one (point, Y), cut into pieces while there are fewer than
        four units per rank (as kernel runs do)."""
        groups = {}
        for key in todo:
            groups.setdefault((key[0], key[2]), []).append(key)
        target = max(ranks, 1) * 4
        per = 1 if len(groups) >= target else -(-target // max(len(groups), 1))
        out = []
        for group in groups.values():
            group = sorted(group, key=lambda k: -seconds[k])
            n = min(len(group), per)
            out += [group[k::n] for k in range(n)]
        out.sort(key=lambda u: -sum(seconds[k] for k in u))
        return out

    def setup(self, comm, log):
        """lfpk_hpc's mechanisms and the mod folders of the points' users' models (each
        folder once; rank 0 compiles first)."""
        from . import mechanisms

        mechanisms.load_mechanisms(comm=comm, log=log)
        folders = []
        for m in self.models:
            for Y in m.postsynaptic:
                cm = m.population(Y).cell
                for c in (cm, cm.ap_model):
                    if c is not None and c.mechanisms is not None:
                        folder = m.path(c.mechanisms)
                        if folder not in folders:
                            folders.append(folder)
        for folder in folders:
            mechanisms.load_user_mechanisms(folder, comm=comm, log=log)

    def _engine(self, i):
        from .kernel import KernelEngine

        if i not in self._engines:
            for other in list(self._engines):  # one engine (and one cell) alive at a time
                self._engines.pop(other).close()
            self._engines[i] = KernelEngine(self.models[i])
            self._engines[i].prepare()
        return self._engines[i]

    def compute(self, key, rank):
        from .store import TaskRecord

        i, X, Y = key
        return _ScanRecord(i, TaskRecord.from_result(self._engine(i).compute(X, Y), rank))

    def detail(self, rec):
        return f"{rec.rec.n_seg} segments"

    # ---- checkpoints
    def checkpoint_name(self, key):
        return "sig_" + self.key_sig[key][:24]

    def to_checkpoint(self, rec):
        from .store import task_record_to_checkpoint

        meta, arrays = task_record_to_checkpoint(rec.rec)
        meta["point"] = rec.point
        return meta, arrays

    def from_checkpoint(self, meta, arrays):
        from .store import task_record_from_checkpoint

        rec = task_record_from_checkpoint(meta, arrays)
        key = (int(meta["point"]), rec.X, rec.Y)
        return key, _ScanRecord(key[0], rec)

    def load_done(self, out):
        """The distinct tasks an earlier scan file of the same points holds."""
        import h5py

        from .store import StoreError, load_complete

        with h5py.File(out, "r") as f:
            found = f.attrs.get("params_hash")
            made = set(f["points"]) if "points" in f else set()  # groups made on first write
        if found != self.params_hash():
            raise StoreError(
                f"cannot resume {str(out)!r}: it is a scan of other points or parameters "
                f"(hash {str(found)[:12]}, this scan {self.params_hash()[:12]}); use another "
                "--out or --overwrite"
            )
        done = {}
        for i in sorted({key[0] for key in self.order}):
            if str(i) not in made:
                continue
            recs = load_complete(out, self.point_hash(i), group=f"points/{i}")
            for (X, Y), rec in recs.items():
                if (i, X, Y) in self.key_sig:
                    done[(i, X, Y)] = _ScanRecord(i, rec)
        return done

    def open_store(self, out, comm, mpio, seconds):
        return ScanStore(out, self, comm)

    def finish(self, out, store, complete, attrs, comm, mpio, log):
        if store is not None:
            store.finalize(complete, **attrs)
            store.close()


@dataclass
class _ScanRecord:
    point: int
    rec: object

    @property
    def rank(self):
        return self.rec.rank

    @property
    def wall_time_s(self):
        return self.rec.wall_time_s


class ScanStore:
    """The scan file: every point's kernels in the kernels file's layout (rank 0)."""

    def __init__(self, path, kind: ScanTasks, comm=None):
        import h5py

        from .store import header_attrs

        self.path = Path(path)
        self.kind = kind
        self._file = f = h5py.File(self.path, "w")
        f.attrs["format"] = FORMAT
        f.attrs["scan_json"] = json.dumps(
            {
                "params": kind.scan.params,
                "product": {k: list(v) for k, v in dict(kind.scan.product).items()},
                "zip": {k: list(v) for k, v in dict(kind.scan.zip).items()},
                "name": kind.scan.name,
            },
            default=float,
        )
        f.attrs["params_json"] = kind.base.to_json()
        f.attrs["n_points"] = len(kind.points)
        f.attrs["params_hash"] = kind.params_hash()
        f.attrs["complete"] = False
        paths = list(kind.points[0]) if kind.points else []
        g = f.create_group("axes")
        g.create_dataset("paths", data=np.array([p.encode() for p in paths], dtype="S"))
        g.create_dataset(
            "values",
            data=np.array(
                [json.dumps([p[k] for k in paths], default=float).encode() for p in kind.points],
                dtype="S",
            ),
        )
        g.create_dataset(
            "params_hash",
            data=np.array(
                [kind.point_hash(i).encode() for i in range(len(kind.models))], dtype="S64"
            ),
        )
        # each point's group is made when its first kernels arrive (or at the end):
        # making thousands of datasets up front would hold every rank at the start
        self.stores = {}
        self._header = header_attrs(kind.models[0]) if kind.models else {}
        f.flush()

    def _store(self, i: int):
        """Point i's kernels store (its group made on first use)."""
        from .kernelrun import KernelTasks
        from .store import KernelStore

        if i not in self.stores:
            m = self.kind.models[i]
            tasks = KernelTasks(m)
            # the header of a run of this point (versions and time made once)
            header = dict(self._header)
            header["model_name"] = m.name
            header["params_json"] = self.kind.point_json(i)
            header["params_hash"] = self.kind.point_hash(i)
            header["dt"], header["tau"] = float(m.kernel.dt), float(m.kernel.tau)
            self.stores[i] = KernelStore(
                self.path,
                header,
                tasks._probe_infos(),
                tasks.pairs,
                tasks.tasks,
                tasks.engine.n_lags,
                root=self._file.require_group("points").create_group(str(i)),
            )
        return self.stores[i]

    def write(self, srec: _ScanRecord) -> None:
        from .store import TaskRecord

        rec = srec.rec
        sig = self.kind.sig_of[(srec.point, rec.X, rec.Y)]
        for i, X, Y in self.kind.users[sig]:
            copy = TaskRecord(
                X, Y, rec.kernels, rec.rank, rec.wall_time_s, rec.n_seg, rec.timings, rec.extra
            )
            self._store(i).write(copy)

    def finalize(self, complete: set, **attrs) -> None:
        done_sigs = {self.kind.key_sig[k] for k in complete}
        for i in range(len(self.kind.models)):
            store = self._store(i)
            mine = {
                (X, Y) for (p, X, Y), s in self.kind.sig_of.items() if p == i and s in done_sigs
            }
            store.finalize(mine, **attrs)
        for k, v in attrs.items():
            self._file.attrs[k] = v
        self._file.attrs["complete"] = len(done_sigs) == len(self.kind.users)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def run_scan(scan_path, out, *, comm=None, overwrite=False, resume=False, log=print):
    """Compute a scan's kernels into ``out`` (every rank of ``comm`` calls this).

    Parameters
    ----------
    scan_path : str or path-like
        The scan file, a Python module defining ``scan = Scan(...)``.
    out : str or path-like
        The scan's HDF5 file: every point's kernels in the kernels file's layout under
        ``/points/<i>`` (mV, nA·µm, fT or µA/mm³ per presynaptic spike; lags in ms).
    comm : mpi4py communicator or None
        The ranks (None: one process).
    overwrite, resume : bool
        Replace an existing output; continue an interrupted run.
    log : callable
        Where progress lines go.
    """
    scan, base, points, models = load_scan(scan_path)
    rank = comm.Get_rank() if comm is not None else 0
    say = log if rank == 0 else (lambda *a, **k: None)
    kind = ScanTasks(scan, base, points, models, log=say)
    return run_farm(
        kind, out, comm=comm, overwrite=overwrite, resume=resume, write_path="rank0", log=log
    )


# --------------------------------------------------------------------------- CLI


def add_arguments(parser) -> None:
    parser.description = (
        "Compute the kernels of every point of a parameter scan (a Python file defining "
        "scan = Scan(params=..., product={...}, zip={...})) into one HDF5 file; pathways "
        "that cannot differ between points are computed once. Under mpirun/srun the "
        "tasks are spread over all ranks."
    )
    parser.add_argument("scan", help="scan file (a Python module defining scan = Scan(...))")
    parser.add_argument("--out", required=True, help="output scan file (HDF5)")
    g = parser.add_mutually_exclusive_group()
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted scan of the same points (its checkpoints, OUT.parts/)",
    )
    g.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def main(args) -> int:
    from .parallel import run_command

    return run_command(lambda comm: _main(args, comm))


def _main(args, comm) -> int:
    run_scan(
        args.scan,
        args.out,
        comm=comm,
        overwrite=args.overwrite,
        resume=args.resume,
        log=lambda m: print(m, flush=True),
    )
    return 0


def extract_point(scan_file, point, out, *, overwrite: bool = False) -> Path:
    """Write point ``point`` of ``scan_file`` as a standalone kernels file ``out`` (the
    same datasets and attributes as a run of that point)."""
    import h5py

    from .kernelsfile import KernelsFileError, read_kernels_file, resolve_point

    out = Path(out)
    point = resolve_point(scan_file, point)
    read_kernels_file(scan_file, point=point)  # a scan file, the point exists and reads
    if out.exists() and not overwrite:
        raise KernelsFileError(f"output {str(out)!r} exists; choose another --out or --overwrite")
    if out.resolve() == Path(scan_file).resolve():
        raise KernelsFileError(f"--out {str(out)!r} is the scan file itself")
    tmp = out.with_name(out.name + ".tmp")
    with h5py.File(scan_file, "r") as src, h5py.File(tmp, "w") as dst:
        group = src[f"points/{point}"]
        for key, value in group.attrs.items():
            dst.attrs[key] = value
        for name in group:
            src.copy(group[name], dst, name=name)
    tmp.replace(out)
    return out


def add_extract_arguments(parser) -> None:
    parser.description = (
        "Write one point of a scan file as a standalone kernels file (what a separate run "
        "of that point writes), for tools that read kernels files."
    )
    parser.add_argument("scan_file", help="scan file (HDF5, from python -m lfpk_hpc scan)")
    parser.add_argument(
        "--point",
        required=True,
        help="the point: its index (0-based) or values, e.g. 'kernel.tau=100,populations[E].nu=3'",
    )
    parser.add_argument("--out", required=True, help="output kernels file (HDF5)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def extract_main(args) -> int:
    from .errors import report
    from .kernelsfile import KernelsFileError, resolve_point, scan_point_label

    try:
        point = resolve_point(args.scan_file, args.point)
        out = extract_point(args.scan_file, point, args.out, overwrite=args.overwrite)
    except KernelsFileError as exc:
        return report(str(exc), 2)
    print(f"wrote {out}: {scan_point_label(args.scan_file, point)}", flush=True)
    return 0
