#!/usr/bin/env bash
# Makes sure a container runtime for the test bed's real node is available: Debian's containerd, runc and
# the standard CNI plugins (bridge, host-local, loopback). The packages' own services are not used (there
# is no systemd here): the test bed starts its own containerd with a generated configuration.
set -euo pipefail
. "$(dirname "$0")/lib/apt-install.sh"
missing=()
command -v containerd >/dev/null 2>&1 && command -v ctr >/dev/null 2>&1 || missing+=(containerd)
command -v runc >/dev/null 2>&1 || missing+=(runc)
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] || missing+=(containernetworking-plugins)
# The kubelet checks for these at start-up.
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v mount >/dev/null 2>&1 || missing+=(mount)
# The test bed removes the pods' bridge with it.
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
apt_install install-runtime "${missing[@]}"
command -v containerd
