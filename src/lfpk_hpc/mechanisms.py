"""NMODL mechanisms: compiled once into a cache, loaded once per process.

The mechanisms of ``mod/`` (for example the current-based synapse ``Exp2SynI``)
are compiled with NEURON's ``nrnivmodl`` into a cache directory keyed by the
NEURON version and a hash of the ``.mod`` files::

    $LFPK_HPC_CACHE/mechanisms/nrn-<NEURON version>-<hash of mod files>/

(``LFPK_HPC_CACHE`` defaults to ``~/.cache/lfpk_hpc``). Compilation happens under
an exclusive file lock and into a temporary directory that is renamed into place
only when complete, so several processes (MPI ranks, concurrent jobs) starting at
once compile at most once and never see a half-built library. A user never runs
``nrnivmodl`` by hand.

A user's model brings its own folder of NMODL files (``CellModel.mechanisms``):
:func:`load_user_mechanisms` compiles it through the same cache (keyed by its
content; rank 0 first under MPI) and loads it beside lfpk_hpc's own, after checking
that none of its mechanisms is already defined in NEURON (built in, lfpk_hpc's own,
or another library): NEURON cannot hold two mechanisms of one name, so a clash is
named (:class:`MechanismClash`, exit code 2) instead of failing inside NEURON.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = [
    "MechanismClash",
    "MechanismError",
    "cache_root",
    "default_mod_dir",
    "ensure_compiled",
    "load_mechanisms",
    "mechanism_names",
]


class MechanismError(RuntimeError):
    """Compiling or loading the NMODL mechanisms failed (exit code 1)."""

    exit_code = 1


class MechanismClash(MechanismError):
    """A user's mechanism has the name of one NEURON already has (bad input: exit 2)."""

    exit_code = 2


#: mechanism libraries loaded into this process: cache key -> directory
_LOADED: dict[str, Path] = {}
#: the same by mod folder (resolved path)
_LOADED_DIRS: dict[str, Path] = {}


def default_mod_dir() -> Path:
    """The ``mod/`` folder of the lfpk_hpc checkout (or ``$LFPK_HPC_MOD_DIR``)."""
    env = os.environ.get("LFPK_HPC_MOD_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "mod"
        if candidate.is_dir() and any(candidate.glob("*.mod")):
            return candidate
    raise MechanismError(
        "cannot find the mod/ folder with lfpk_hpc's NMODL files next to the package "
        f"({here}); install lfpk_hpc from its source checkout (pip install -e .) or set "
        "LFPK_HPC_MOD_DIR to that folder"
    )


def cache_root() -> Path:
    """Root of lfpk_hpc's cache (``$LFPK_HPC_CACHE`` or ``~/.cache/lfpk_hpc``)."""
    env = os.environ.get("LFPK_HPC_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lfpk_hpc"


def _mod_files(mod_dir: Path) -> list[Path]:
    files = sorted(Path(mod_dir).glob("*.mod"))
    if not files:
        raise MechanismError(f"no .mod files in the mechanism folder {mod_dir}")
    return files


def mechanism_names(mod_dir: Path | None = None) -> list[str]:
    """Names of the POINT_PROCESS / SUFFIX mechanisms defined in ``mod_dir``.

    Parameters
    ----------
    mod_dir : pathlib.Path, optional
        Folder of .mod files; None: the package's own.

    Returns
    -------
    list of str
        The mechanisms' names, in the files' order.
    """
    names = []
    pattern = re.compile(r"^\s*(?:POINT_PROCESS|SUFFIX|ARTIFICIAL_CELL)\s+(\w+)", re.M)
    for f in _mod_files(mod_dir or default_mod_dir()):
        names += pattern.findall(f.read_text())
    return names


def _cache_key(mod_dir: Path) -> str:
    import neuron

    digest = hashlib.sha256()
    for f in _mod_files(mod_dir):
        digest.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    version = re.sub(r"[^\w.+-]", "_", neuron.__version__)
    return f"nrn-{version}-{digest.hexdigest()[:16]}"


def _library(build_dir: Path) -> Path | None:
    arch = platform.machine()
    for rel in (f"{arch}/.libs/libnrnmech.so", f"{arch}/libnrnmech.so", "arm64/libnrnmech.so"):
        if (build_dir / rel).is_file():
            return build_dir / rel
    return None


def _nrnivmodl() -> str:
    exe = Path(sys.executable).parent / "nrnivmodl"
    if exe.is_file():
        return str(exe)
    found = shutil.which("nrnivmodl")
    if found is None:
        raise MechanismError(
            "cannot compile the NMODL mechanisms: 'nrnivmodl' (part of NEURON) is not on PATH "
            f"nor next to {sys.executable}; install NEURON with 'pip install neuron'"
        )
    return found


def _compile(mod_dir: Path, target: Path, log=print) -> None:
    for tool in ("make", "g++" if shutil.which("g++") else "c++"):
        if shutil.which(tool) is None:
            raise MechanismError(
                f"cannot compile the NMODL mechanisms: '{tool}' is not installed "
                "(on Debian: apt-get install build-essential)"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        for f in _mod_files(mod_dir):
            shutil.copy2(f, tmp / f.name)
        log(f"compiling NMODL mechanisms {', '.join(mechanism_names(mod_dir))} into {target}")
        proc = subprocess.run([_nrnivmodl()], cwd=tmp, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or _library(tmp) is None:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise MechanismError(
                f"nrnivmodl failed (exit code {proc.returncode}) compiling {mod_dir}:\n{tail}"
            )
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def ensure_compiled(mod_dir: Path | None = None, log=print) -> Path:
    """Return the cache directory holding the compiled mechanisms of ``mod_dir``.

    Compiles them first if the cache has no build for this NEURON version and
    these mod files. Safe to call from many processes at once.

    Parameters
    ----------
    mod_dir : pathlib.Path, optional
        Folder of .mod files; None: the package's own (:func:`default_mod_dir`).
    log : callable, optional
        Receives the progress messages (one string each).

    Returns
    -------
    pathlib.Path
        The cache directory of the compiled mechanisms.
    """
    mod_dir = Path(mod_dir) if mod_dir is not None else default_mod_dir()
    key = _cache_key(mod_dir)
    root = cache_root() / "mechanisms"
    target = root / key
    if _library(target) is not None:
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _library(target) is None:  # nobody compiled it while we waited
                if target.exists():  # an incomplete build from a crashed run
                    shutil.rmtree(target)
                _compile(mod_dir, target, log=log)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def _compile_on_rank0(mod_dir: Path, comm, log) -> None:
    """With several ranks: rank 0 compiles (if the cache has no build) while the others
    wait, and a failure reaches every rank. Every rank of ``comm`` must call this."""
    if comm is None or comm.Get_size() == 1:
        return
    error = None
    if comm.Get_rank() == 0:
        try:
            ensure_compiled(mod_dir, log=log)
        except MechanismError as exc:
            error = str(exc)
    error = comm.bcast(error, root=0)
    if error is not None:
        raise MechanismError(error)


def load_mechanisms(mod_dir: Path | None = None, comm=None, log=print) -> Path:
    """Compile (if needed) and load the mechanisms of ``mod_dir`` into NEURON, once.

    With an MPI communicator ``comm``, rank 0 compiles first and the others wait
    at a barrier; the file lock protects independent processes as well.
    Returns the cache directory that was loaded.

    Parameters
    ----------
    mod_dir : pathlib.Path, optional
        Folder of .mod files; None: the package's own (:func:`default_mod_dir`).
    comm : mpi4py.MPI.Comm, optional
        Communicator whose ranks all load them; None: this process alone.
    log : callable, optional
        Receives the progress messages (one string each).

    Returns
    -------
    pathlib.Path
        The cache directory that was loaded.

    Raises
    ------
    MechanismError
        The mechanisms do not compile or do not load.
    """
    mod_dir = Path(mod_dir) if mod_dir is not None else default_mod_dir()
    # with a communicator every rank takes part in the compile step, also where this
    # process has loaded the folder before (ranks may have loaded it at different
    # points, e.g. while counting segments for the cost estimates)
    _compile_on_rank0(mod_dir, comm, log)
    # once a folder's mechanisms are loaded, this process keeps them (a process cannot
    # load a second version anyway), and later calls cost nothing (no re-hashing)
    loaded = _LOADED_DIRS.get(str(mod_dir.resolve()))
    if loaded is not None:
        return loaded
    key = _cache_key(mod_dir)
    if key in _LOADED:
        return _LOADED[key]
    target = ensure_compiled(mod_dir, log=log)

    from neuron import h
    from neuron import load_mechanisms as nrn_load

    names = mechanism_names(mod_dir)
    present = [n for n in names if hasattr(h, n)]
    if present:
        if len(present) == len(names):
            log(
                f"warning: mechanisms {', '.join(present)} were already loaded into NEURON "
                "by something else (e.g. an x86_64/ folder in the working directory); "
                "using those"
            )
            _LOADED[key] = _LOADED_DIRS[str(mod_dir.resolve())] = target
            return target
        raise MechanismError(
            f"mechanisms {', '.join(present)} are already defined in NEURON by another "
            "library; cannot load lfpk_hpc's mechanisms beside them"
        )
    if not nrn_load(str(target), warn_if_already_loaded=False):
        raise MechanismError(f"NEURON could not load the compiled mechanisms in {target}")
    missing = [n for n in names if not hasattr(h, n)]
    if missing:
        raise MechanismError(f"mechanisms {missing} missing after loading {target}")
    _LOADED[key] = _LOADED_DIRS[str(mod_dir.resolve())] = target
    return target


def load_user_mechanisms(mod_dir, comm=None, log=print) -> Path:
    """Compile (if needed, rank 0 first) and load a user's mechanism folder beside
    lfpk_hpc's own mechanisms, once per process. Raises :class:`MechanismClash`
    naming every mechanism of the folder that NEURON already defines, and
    :class:`MechanismError` if the folder does not compile."""
    load_mechanisms(comm=comm, log=log)  # lfpk_hpc's own first: their names are taken
    mod_dir = Path(mod_dir)
    _compile_on_rank0(mod_dir, comm, log)  # every rank, loaded here before or not
    if str(mod_dir.resolve()) in _LOADED_DIRS:
        return _LOADED_DIRS[str(mod_dir.resolve())]
    key = _cache_key(mod_dir)
    if key in _LOADED:  # the same files from another folder
        _LOADED_DIRS[str(mod_dir.resolve())] = _LOADED[key]
        return _LOADED[key]
    from neuron import h

    from .cellmodels import NEURON_BUILTINS, defined_mechanisms

    names = defined_mechanisms(mod_dir)
    own = mechanism_names()
    taken = []
    for name, file in names.items():
        if hasattr(h, name) or name in NEURON_BUILTINS:
            where = (
                "NEURON's built-in one"
                if name in NEURON_BUILTINS
                else "lfpk_hpc's own (mod/)"
                if name in own
                else "one of a library loaded before (another mechanism folder, or an "
                "x86_64/ folder in the working directory)"
            )
            taken.append(f"{name!r} ({file}; taken by {where})")
    if taken:
        raise MechanismClash(
            f"the mechanisms of {mod_dir} cannot be loaded: NEURON already defines "
            + ", ".join(taken)
            + "; rename them (SUFFIX/POINT_PROCESS) in the .mod files"
        )
    target = ensure_compiled(mod_dir, log=log)
    from neuron import load_mechanisms as nrn_load

    if not nrn_load(str(target), warn_if_already_loaded=False):
        raise MechanismError(f"NEURON could not load the compiled mechanisms in {target}")
    missing = [n for n in names if not hasattr(h, n)]
    if missing:
        raise MechanismError(f"mechanisms {missing} missing after loading {target}")
    _LOADED[key] = _LOADED_DIRS[str(mod_dir.resolve())] = target
    return target
