#!/usr/bin/env bash
# Makes sure a container runtime for the test bed's real node is available: Debian's containerd, runc and
# the standard CNI plugins (bridge, host-local, loopback). The packages' own services are not used (there
# is no systemd here): the test bed starts its own containerd with a generated configuration.
set -euo pipefail
missing=()
command -v containerd >/dev/null 2>&1 && command -v ctr >/dev/null 2>&1 || missing+=(containerd)
command -v runc >/dev/null 2>&1 || missing+=(runc)
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] || missing+=(containernetworking-plugins)
# The kubelet checks for these at start-up.
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v mount >/dev/null 2>&1 || missing+=(mount)
# The test bed removes the pods' bridge with it.
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[install-runtime] installing Debian's ${missing[*]}" >&2
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  # policy-rc.d 101 keeps the packages from starting their own services.
  $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || { $SUDO rm -f /usr/sbin/policy-rc.d; exit 1; }
  $SUDO rm -f /usr/sbin/policy-rc.d
fi
command -v containerd
