#!/usr/bin/env bash
# Set up, make CIFAR-10 available, then grade the bundled conv1x1 example submissions; prints where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export DLGRADER_DATA="${DLGRADER_DATA:-$HOME/.cache/dl-grader/datasets}"
if ! .venv/bin/grader data info cifar10 >/dev/null 2>&1; then
    if [ -f ../shared/datasets/prepare.py ]; then  # the course's offline copies, where they exist
        echo "Unpacking ../shared/datasets into $DLGRADER_DATA ..." >&2
        .venv/bin/python scripts/prepare_shared_data.py "$DLGRADER_DATA" >/dev/null
    else
        .venv/bin/grader data prepare cifar10  # downloads with torchvision; explains the layout when it cannot
    fi
fi
exec .venv/bin/grader grade submissions/conv1x1 --assignment conv1x1 --out reports "$@"
