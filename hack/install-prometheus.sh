#!/usr/bin/env bash
# Makes sure Prometheus (with promtool) and Alertmanager are available; installs Debian's packages when
# missing. Prints the path of the prometheus binary. The packages' own services are not used: the test
# launcher starts its own servers on free loopback ports with generated configurations.
set -euo pipefail
. "$(dirname "$0")/lib/apt-install.sh"
missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
apt_install install-prometheus "${missing[@]}"
command -v prometheus
