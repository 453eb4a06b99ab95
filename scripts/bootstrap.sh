#!/usr/bin/env bash
# Create .venv (if missing) and install dl-grader into it. Idempotent: a second run takes seconds.
# PYTHON picks the interpreter (default: Debian's /usr/bin/python3 when present, so that a sandbox
# running as an unprivileged user can read it); TORCH_SPEC the torch build to install first.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 )}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
# pip's warnings about this machine's local package mirrors are noise; real errors still fail the script.
pip_install() { .venv/bin/python -m pip install --quiet "$@" 2>&1 | { grep -v "^WARNING: Location" || true; } >&2; }
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $PYTHON" >&2
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
  echo "bootstrap: installing $TORCH_SPEC (a few minutes the first time)" >&2
  # shellcheck disable=SC2086
  pip_install $TORCH_SPEC
fi
pip_install -e ".[test]"
.venv/bin/python -c "import grader, torch" || { echo "bootstrap: installation failed" >&2; exit 1; }
bash scripts/install_bwrap.sh || echo "bootstrap: without bubblewrap, runs use the weaker process sandbox (docs/security.md)" >&2
