#!/usr/bin/env bash
# Create .venv (once) and install CogIP with its test tools. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
quiet() { "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; }  # pip's noise about absent local mirrors
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
quiet .venv/bin/python -m pip install -q --upgrade pip
# lmms-eval pulls torchvision; PyPI's Linux torchvision is built against the CUDA torch of the same release
# (which also runs on CPU), so ask for one recent enough not to pair with a CPU-only local torch wheel.
# dev includes DeepSpeed (the engine tests run it on CPU); DS_BUILD_OPS=0: no CUDA ops at install time, the CPU
# ones it needs are built just in time.
DS_BUILD_OPS=0 quiet .venv/bin/python -m pip install -q -e ".[dev]" "torchvision>=0.29"
.venv/bin/python -c "import cogip_tasks, deepspeed, lmms_eval, torchvision, transformers"
