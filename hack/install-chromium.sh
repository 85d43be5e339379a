#!/usr/bin/env bash
# Makes sure Debian's chromium and its WebDriver are available, for the dashboard's browser tests.
# Prints the path of chromedriver.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "[install-chromium] installing Debian's chromium and chromium-driver" >&2
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
fi
command -v chromedriver
