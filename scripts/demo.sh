#!/usr/bin/env bash
# Set up (if needed) and run the offline demo: the four CogIP tasks through the real lmms-eval CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/cogip-demo "$@"
