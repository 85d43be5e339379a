# Sourced by the hack/install-*.sh scripts: apt_install TAG PACKAGE... installs Debian's packages, if any are
# named, without letting them start their own services (policy-rc.d 101): the test bed starts its own.
apt_install() {
  local tag=$1; shift
  [ "$#" -gt 0 ] || return 0
  echo "[$tag] installing Debian's $*" >&2
  local sudo=
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  $sudo apt-get install -y -qq --no-install-recommends "$@" >&2 || { $sudo rm -f /usr/sbin/policy-rc.d; return 1; }
  $sudo rm -f /usr/sbin/policy-rc.d
}
