#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Headless Chromium for the leaderboard page test: required in CI; elsewhere that one test skips without it.
bash scripts/system_deps.sh || { [ -z "${CI:-}" ] && echo "(no chromium: the page-render test will skip)"; }
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
