"""NMODL mechanisms: compiled once into the cache, loaded once, reused by later processes."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import ROOT

from lfpk_hpc import mechanisms

SCRIPT = textwrap.dedent(
    """
    from lfpk_hpc import mechanisms
    a = mechanisms.load_mechanisms()
    b = mechanisms.load_mechanisms()
    from neuron import h
    assert a == b
    print("LOADED", a, hasattr(h, "Exp2SynI"))
    """
)


def run_loader(cache, **env):
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        env={**os.environ, "LFPK_HPC_CACHE": str(cache), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cache.parent,
    )


def finish(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    return out


def test_compile_once_then_reuse(tmp_path):
    cache = tmp_path / "cache"
    out = finish(run_loader(cache))
    assert out.count("compiling NMODL mechanisms Exp2SynI") == 1
    assert "True" in out.split("LOADED")[1]
    builds = list((cache / "mechanisms").glob("nrn-*"))
    builds = [b for b in builds if b.is_dir()]
    assert len(builds) == 1
    import neuron

    assert builds[0].name.startswith(f"nrn-{neuron.__version__}-")
    libs = list(builds[0].rglob("libnrnmech.so"))
    assert libs
    stamp = libs[0].stat().st_mtime_ns
    # a second process reuses the cache: no compilation, same library
    out2 = finish(run_loader(cache))
    assert "compiling" not in out2
    assert libs[0].stat().st_mtime_ns == stamp


def test_concurrent_processes_compile_once(tmp_path):
    cache = tmp_path / "cache"
    procs = [run_loader(cache) for _ in range(3)]
    outs = [finish(p) for p in procs]
    assert sum(o.count("compiling NMODL mechanisms") for o in outs) == 1
    assert all("LOADED" in o for o in outs)


def test_cache_key_changes_with_mod_files(tmp_path, monkeypatch):
    mod = tmp_path / "mod"
    mod.mkdir()
    text = (ROOT / "mod" / "exp2syni.mod").read_text()
    (mod / "exp2syni.mod").write_text(text)
    k1 = mechanisms._cache_key(mod)
    (mod / "exp2syni.mod").write_text(text + "\n: changed\n")
    assert mechanisms._cache_key(mod) != k1


def test_failed_compile_says_so(tmp_path, monkeypatch):
    mod = tmp_path / "mod"
    mod.mkdir()
    (mod / "broken.mod").write_text("NEURON { POINT_PROCESS Broken }\nBREAKPOINT { i = }\n")
    monkeypatch.setenv("LFPK_HPC_CACHE", str(tmp_path / "cache"))
    with pytest.raises(mechanisms.MechanismError, match="nrnivmodl failed"):
        mechanisms.ensure_compiled(mod, log=lambda *a: None)
    # nothing half-built is left in the cache
    assert not [p for p in (tmp_path / "cache" / "mechanisms").iterdir() if p.is_dir()]


def test_missing_compiler_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("LFPK_HPC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no make, no g++
    with pytest.raises(mechanisms.MechanismError, match="'make' is not installed"):
        mechanisms.ensure_compiled(ROOT / "mod", log=lambda *a: None)


def test_exp2syni_peak_current_is_minus_weight():
    """A weight w gives a peak current of -w nA, at tau1 tau2 ln(tau2/tau1) / (tau2 - tau1)."""
    mechanisms.load_mechanisms(log=lambda *a: None)
    from neuron import h

    h.load_file("stdrun.hoc")
    soma = h.Section(name="probe_soma")
    syn = h.Exp2SynI(soma(0.5))
    syn.tau1, syn.tau2 = 0.2, 1.8
    nc = h.NetCon(None, syn)
    nc.weight[0] = 0.37
    i_rec = h.Vector().record(syn._ref_i)
    t_rec = h.Vector().record(h._ref_t)
    h.dt = 2**-10
    h.finitialize(-65)
    nc.event(1.0)
    h.continuerun(40.0)
    i = np.array(i_rec)
    t = np.array(t_rec)
    tp = 0.2 * 1.8 * np.log(1.8 / 0.2) / (1.8 - 0.2)
    assert i.min() == pytest.approx(-0.37, rel=1e-5)
    assert t[np.argmin(i)] - 1.0 == pytest.approx(tp, abs=2 * h.dt)
    # the charge is -w * beta, beta = the integral of the normalised time course (ms)
    from lfpk_hpc.kernel import beta_integral

    assert np.trapezoid(i, t) == pytest.approx(-0.37 * beta_integral(0.2, 1.8), rel=1e-3)
    del nc, syn, soma
