#!/usr/bin/env bash
# System packages the test suite uses beyond Python: Debian's chromium (the leaderboard page is opened in
# headless Chromium to prove it renders without a server). Installs only what is missing; needs root (CI).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi
/usr/bin/chromium --version
