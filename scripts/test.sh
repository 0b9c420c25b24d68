#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Headless Chromium for the leaderboard page test: required in CI; elsewhere that one test skips without it.
bash scripts/system_deps.sh || { [ -z "${CI:-}" ] && echo "(no chromium: the page-render test will skip)"; }
# An empty cache for the run, whatever this machine's ~/.cache holds (tests/conftest.py does the same for each
# pytest session): a warm cache must not make the suite pass where a fresh machine would fail.
CACHE_HOME=$(mktemp -d -t cogip-test-cache.XXXXXX)
trap 'rm -rf "$CACHE_HOME"' EXIT
export HF_HOME="$CACHE_HOME/hf" XDG_CACHE_HOME="$CACHE_HOME/xdg" MPLCONFIGDIR="$CACHE_HOME/matplotlib"
unset HF_DATASETS_CACHE HF_HUB_CACHE HUGGINGFACE_HUB_CACHE TRANSFORMERS_CACHE
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# Tiny models on few cores: one thread per process is many times faster than torch's default here.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# Lint and format (configured in pyproject.toml) before the tests: quick, and a failure names file and line.
.venv/bin/python -m ruff check --no-cache . && .venv/bin/python -m ruff format --check --no-cache .
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
