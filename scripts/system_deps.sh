#!/usr/bin/env bash
# System packages the test suite uses beyond Python: Debian's chromium (the leaderboard page is opened in
# headless Chromium to prove it renders without a server). Installs only what is missing; needs root (CI).
# apt's output goes to a log file: one line on success, the log's tail on failure.
set -euo pipefail
LOG=${COGIP_APT_LOG:-${TMPDIR:-/tmp}/cogip-system-deps.log}
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if ! { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium; } >"$LOG" 2>&1; then
    echo "system_deps: installing chromium failed; the end of $LOG:" >&2
    tail -n 20 "$LOG" >&2
    exit 1
  fi
fi
echo "system_deps: $(/usr/bin/chromium --version 2>/dev/null | head -n 1) (apt log: $LOG)"
