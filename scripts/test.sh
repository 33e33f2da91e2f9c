#!/usr/bin/env bash
# Set up (idempotent) and run the default test suite: offline, CPU-only, under 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Debian's chromium for the browser test of the web UI (skips with a reason when it cannot be had)
bash scripts/install_browser.sh || true
VENV=${VIDEOBGM_VENV:-.venv}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$VENV/bin/ruff" check src tests bench
"$VENV/bin/python" -m pytest -q "$@"
