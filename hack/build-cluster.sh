#!/usr/bin/env bash
# Builds the binaries of the local test control plane from Go modules, into a cache outside the
# repository keyed by their versions, so that a second run builds nothing. Prints the bin directory.
#
#   hack/build-cluster.sh            build what is missing, print the bin directory on stdout
#
# A cold build on 2 cores takes tens of minutes; progress goes to stderr.
set -euo pipefail

K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.8     # the etcd that k8s.io/kubernetes v1.36.3 itself requires
KWOK_VERSION=v0.8.0

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${HOTFIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hotfix-operator}
bin_dir="$cache_root/cluster/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION/bin"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
# Go's default install location, for shells (such as CI's) whose PATH does not name it.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null 2>&1 || { echo "[build-cluster] Go is needed to build the local control plane" >&2; exit 1; }

say() { echo "[build-cluster] $*" >&2; }

# Go's -v prints one line per package it compiles; turn that into a heartbeat.
progress() {
  awk -v what="$1" '{ n++ } n % 100 == 0 { printf "[build-cluster]   %s: %d packages compiled\n", what, n > "/dev/stderr"; fflush() }
                    END { printf "[build-cluster]   %s: %d packages compiled\n", what, n > "/dev/stderr" }'
}

build_step() {
  local what=$1; shift
  local started=$SECONDS
  say "building $what"
  if ! "$@" 2>&1 | tee "$bin_dir.log.$what" | progress "$what"; then
    say "FAILED building $what; log: $bin_dir.log.$what"; tail -30 "$bin_dir.log.$what" >&2; exit 1
  fi
  say "built $what in $((SECONDS - started))s"
}

mkdir -p "$bin_dir"
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
  -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
  -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"

cd "$here/k8sbin"
if [ ! -x "$bin_dir/kube-apiserver" ] || [ ! -x "$bin_dir/kube-controller-manager" ] || [ ! -x "$bin_dir/kube-scheduler" ]; then
  say "cold build of Kubernetes $K8S_VERSION: this takes a long time on a small machine"
  build_step kubernetes go build -v -trimpath -ldflags "$ldflags" -o "$bin_dir/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
fi
if [ ! -x "$bin_dir/etcd" ]; then
  build_step etcd go build -v -trimpath -ldflags "-s -w" -o "$bin_dir/etcd" go.etcd.io/etcd/server/v3
fi
if [ ! -x "$bin_dir/kwok" ]; then
  # kwok has no replace directives, so it installs on its own, apart from the k8s module graph.
  build_step kwok env GOBIN="$bin_dir" go install -v -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
fi
if [ ! -s "$bin_dir/kwok-stages.yaml" ]; then
  # kwok needs stages to act like a kubelet; use the "fast" node and pod stages its release ships
  # (nodes Ready at once, pods Ready as soon as they are scheduled, deleted pods removed).
  kwok_dir=$(cd / && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  for stage in "$kwok_dir"/kustomize/stage/node/fast/*.yaml "$kwok_dir"/kustomize/stage/pod/fast/*.yaml; do
    case "$stage" in */kustomization.yaml) continue ;; esac
    echo "---"; cat "$stage"
  done > "$bin_dir/kwok-stages.yaml.tmp"
  mv "$bin_dir/kwok-stages.yaml.tmp" "$bin_dir/kwok-stages.yaml"
  say "wrote kwok stages from sigs.k8s.io/kwok@$KWOK_VERSION"
fi
rm -f "$bin_dir".log.*
echo "$bin_dir"
