#!/usr/bin/env bash
# Makes sure Prometheus (with promtool) and Alertmanager are available; installs Debian's packages when
# missing. Prints the path of the prometheus binary. The packages' own services are not used: the test
# launcher starts its own servers on free loopback ports with generated configurations.
set -euo pipefail
missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[install-prometheus] installing Debian's ${missing[*]}" >&2
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  # policy-rc.d 101 keeps the packages from starting their own services on the default ports.
  $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || { $SUDO rm -f /usr/sbin/policy-rc.d; exit 1; }
  $SUDO rm -f /usr/sbin/policy-rc.d
fi
command -v prometheus
