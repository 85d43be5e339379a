#!/usr/bin/env bash
# Makes sure a Prometheus server binary (and promtool) is available; installs Debian's package when
# missing. Prints the path of the prometheus binary. The package's own service is not used: the test
# launcher starts its own Prometheus on a free loopback port with a generated configuration.
set -euo pipefail
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  echo "[install-prometheus] installing Debian's prometheus package" >&2
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  # policy-rc.d 101 keeps the package from starting its own service on the default port.
  $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  $SUDO apt-get install -y -qq --no-install-recommends prometheus >&2 || { $SUDO rm -f /usr/sbin/policy-rc.d; exit 1; }
  $SUDO rm -f /usr/sbin/policy-rc.d
fi
command -v prometheus
