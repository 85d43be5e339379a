#!/usr/bin/env bash
# Builds what the test bed's real node runs besides the control plane, from Go modules, into a cache outside
# the repository (a second run builds nothing), and prints the bin directory:
#   kubelet             k8s.io/kubernetes/cmd/kubelet, the same module and version as the API server
#   kube-state-metrics  k8s.io/kube-state-metrics/v2, for restarts and pod-to-Deployment joins
#   prometheus          github.com/prometheus/prometheus with Kubernetes service discovery (Debian's
#                       package is built without it), only that discovery compiled in
#   app, pause, mkimage hack/testapp: the application, the pod sandbox, and the image packer
set -euo pipefail

K8S_VERSION=v1.36.3
KSM_VERSION=v2.20.0
PROMETHEUS_MODULE_VERSION=v0.316.0   # Prometheus 3.x's Go module numbering
PROMETHEUS_VERSION=3.16.0

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${HOTFIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hotfix-operator}
# The application's sources are part of the key: an edit builds a new set.
app_hash=$(cd "$here/testapp" && cat go.mod go.sum $(find . -name '*.go' | sort) | sha256sum | cut -c1-12)
bin_dir="$cache_root/real-node/k8s-$K8S_VERSION-ksm-$KSM_VERSION-prom-$PROMETHEUS_MODULE_VERSION-app-$app_hash/bin"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null 2>&1 || { echo "[build-real-node] Go is needed" >&2; exit 1; }
say() { echo "[build-real-node] $*" >&2; }
mkdir -p "$bin_dir"
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
  -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
  -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"

if [ ! -x "$bin_dir/kubelet" ]; then
  say "building the kubelet $K8S_VERSION"
  (cd "$here/k8sbin" && go build -trimpath -ldflags "$ldflags" -o "$bin_dir/kubelet.tmp" k8s.io/kubernetes/cmd/kubelet)
  mv "$bin_dir/kubelet.tmp" "$bin_dir/kubelet"
fi
if [ ! -x "$bin_dir/kube-state-metrics" ]; then
  say "building kube-state-metrics $KSM_VERSION"
  # Its own module graph (no replace directives), apart from the control plane's.
  (cd / && GOBIN="$bin_dir" go install -trimpath -ldflags "-s -w" "k8s.io/kube-state-metrics/v2@$KSM_VERSION")
fi
if [ ! -x "$bin_dir/prometheus" ]; then
  say "building Prometheus $PROMETHEUS_VERSION with Kubernetes service discovery"
  (cd / && GOBIN="$bin_dir" go install -trimpath -tags remove_all_sd,enable_kubernetes_sd \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION" \
    "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_MODULE_VERSION")
fi
if [ ! -x "$bin_dir/app" ] || [ ! -x "$bin_dir/pause" ] || [ ! -x "$bin_dir/mkimage" ]; then
  say "building the test application"
  # Static binaries: the images hold nothing else.
  (cd "$here/testapp" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin_dir/" ./app ./pause ./mkimage)
fi
echo "$bin_dir"
