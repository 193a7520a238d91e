#!/usr/bin/env bash
# Build the documentation site into docs/_build/html: the user guide, the API reference
# (generated from the docstrings) and the gallery (every examples/plot_*.py is run, and a
# failing example fails the build). Offline, warnings are errors.
#   bash scripts/docs.sh            # after bash scripts/setup.sh
# Installs the `docs` extra of pyproject.toml (Sphinx, sphinx-gallery, numpydoc, MyST, Furo,
# a local MathJax) into the project's virtual environment (./.venv, or $LFPK_VENV as setup.sh
# uses) when missing. Every build starts clean, so every example runs: about 2 minutes on 2
# free cores, 3 when they are busy.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${LFPK_VENV:-$here/.venv}
py=$venv/bin/python
say() { echo "[docs] $*"; }

if [[ ! -x $py ]]; then
  echo "docs.sh: no virtual environment at $venv: run 'bash scripts/setup.sh' first" >&2
  exit 2
fi
# The docs extra, read from pyproject.toml (installing only these: the package itself
# stays installed as setup.sh installed it).
mapfile -t reqs < <("$py" - "$here/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["docs"]))
PY
)
if ! "$py" - "${reqs[@]}" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import PackageNotFoundError, version
from packaging.requirements import Requirement
for r in map(Requirement, sys.argv[1:]):
    try:
        if not r.specifier.contains(version(r.name), prereleases=True):
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
  say "installing the docs extra: ${reqs[*]}"
  "$py" -m pip --disable-pip-version-check -q install "${reqs[@]}"
fi

cd "$here/docs"
rm -rf _build auto_examples api api.rst sg_execution_times.rst
start=$SECONDS
# -W: warnings (a broken reference, a failing example) are errors; --keep-going lists all
MPLBACKEND=Agg PYTHONPATH="$here/src${PYTHONPATH:+:$PYTHONPATH}" \
  "$py" -m sphinx -b html -W --keep-going -q . _build/html "$@"
say "built docs/_build/html/index.html in $((SECONDS - start)) s"
