#!/usr/bin/env bash
# One-shot set-up of lfpk_hpc on Debian 12 (root) or any machine that already has
# Open MPI, parallel HDF5 and a C/C++ compiler:
#   - system packages: Open MPI, the MPI build of HDF5, compilers (apt-get, only when missing)
#   - a virtual environment (default ./.venv, override with LFPK_VENV)
#   - mpi4py, h5py built against parallel HDF5, NEURON, LFPy, LFPykit and lfpk_hpc itself
#   - with --test: the test, nest and docs extras as well (pytest, lfpykernels, ruff, NEST; Sphinx and
#     the gallery's tools, which tests/test_docs.py builds the documentation with) and, as
#     root with apt-get, the Slurm packages the tests of jobscripts/ start a one-node cluster with
#     and Debian's chromium, the headless browser the test of the validation report renders it in
# Safe to run again: finished steps are skipped.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${LFPK_VENV:-$here/.venv}
extra=""
test=0
for arg in "$@"; do
  case $arg in
    --test) extra="[test,nest,docs]"; test=1 ;;
    *) echo "setup.sh: unknown argument '$arg' (allowed: --test)" >&2; exit 2 ;;
  esac
done

say() { echo "[setup] $*"; }

# 1. System packages (Debian/Ubuntu). Skipped when all are present or apt-get is absent.
pkgs=(build-essential pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev python3-venv python3-dev)
if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "setup.sh: missing Debian packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
      exit 1
    fi
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
# 1b. With --test: Slurm (controller, node daemon, client commands) and munge, for
# tests/test_slurm.py, which starts a one-node cluster, and chromium, in which
# tests/test_report_browser.py renders the validation report; without them those tests
# are skipped.
test_pkgs=(slurmctld slurmd slurm-client munge chromium)
if ((test)) && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${test_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      say "packages missing: ${missing[*]}; the Slurm and browser tests will be skipped" \
        "(install as root: apt-get install ${missing[*]})"
    else
      say "installing packages for the tests (Slurm, browser): ${missing[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
  fi
fi
hdf5_dir=${HDF5_DIR:-/usr/lib/x86_64-linux-gnu/hdf5/openmpi}
[[ -d $hdf5_dir ]] || hdf5_dir=/usr/lib/$(uname -m)-linux-gnu/hdf5/openmpi

# 2. The virtual environment.
if [[ ! -x $venv/bin/python ]]; then
  say "creating virtual environment $venv"
  python3 -m venv "$venv"
fi
py=$venv/bin/python
pip() { "$py" -m pip --disable-pip-version-check -q "$@"; }
pip install -U pip "setuptools>=77.0.1" wheel pkgconfig "Cython>=3,<4" "numpy>=2" mpi4py==4.1.2

# 3. h5py against parallel HDF5 (the wheel on the package index is serial).
if ! "$py" -c 'import h5py, sys; sys.exit(0 if h5py.get_config().mpi else 1)' 2>/dev/null; then
  say "building h5py against parallel HDF5 in $hdf5_dir (about 2 minutes)"
  pip uninstall -y h5py >/dev/null 2>&1 || true
  cfg=$(mktemp)
  printf '[build_ext]\nparallel = %s\n' "$(nproc)" >"$cfg"
  DIST_EXTRA_CONFIG=$cfg CC=mpicc HDF5_MPI=ON HDF5_DIR=$hdf5_dir \
    "$py" -m pip --disable-pip-version-check -q install --no-binary=h5py --no-build-isolation \
    --no-cache-dir h5py==3.16.0
  rm -f "$cfg"
fi

# 4. The simulator stack and this package (editable: mod/ and params/ stay in the checkout).
say "installing lfpk_hpc$extra and its dependencies"
pip install -e "$here$extra"
say "done: $(NEURON_MODULE_OPTIONS=-nogui "$py" -c 'import h5py, neuron, LFPy; print("h5py", h5py.__version__, "mpi", h5py.get_config().mpi, "| NEURON", neuron.__version__, "| LFPy", LFPy.__version__)')"
