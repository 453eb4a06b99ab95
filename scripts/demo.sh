#!/usr/bin/env bash
# Set up, then grade the bundled conv1x1 example submissions; prints where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/grader grade submissions/conv1x1 --assignment conv1x1 --out reports "$@"
