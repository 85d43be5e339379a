#!/usr/bin/env bash
# Builds Flux's source-controller and kustomize-controller from their Go modules into a cache outside the
# repository (a second run builds nothing), and prints the directory that holds them and their CRDs:
#   bin/source-controller, bin/kustomize-controller
#   crds/*.yaml   the CustomResourceDefinitions each controller's module ships (config/crd/bases)
# The versions are the newest whose go.mod asks for no Go newer than this machine's (1.26): 1.10.x needs
# Go 1.27. source-controller is v1.9.0, not v1.9.6: later 1.9 patches need fluxcd/pkg/artifact versions the
# module proxy does not serve. hack/flux/<controller>/go.mod is the upstream go.mod (its replace directives
# kept, since a dependency's are ignored) with the controller as a tool; helm-controller is not served.
# Argo CD's Application CRD comes from the argo-cd module (v3.5.8, the newest that Go 1.26 may download); its
# application controller is not built (its gitops-engine module builds with no Go here).
set -euo pipefail

SOURCE_CONTROLLER_VERSION=v1.9.0
KUSTOMIZE_CONTROLLER_VERSION=v1.9.6
ARGOCD_VERSION=v3.5.8

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${HOTFIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hotfix-operator}
out="$cache_root/flux/source-$SOURCE_CONTROLLER_VERSION-kustomize-$KUSTOMIZE_CONTROLLER_VERSION-argocd-$ARGOCD_VERSION"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null 2>&1 || { echo "[build-flux] Go is needed" >&2; exit 1; }
say() { echo "[build-flux] $*" >&2; }
mkdir -p "$out/bin" "$out/crds"

build() {  # controller version
  local controller=$1 version=$2
  if [ ! -x "$out/bin/$controller" ]; then
    say "building $controller $version"
    (cd "$here/flux/$controller" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
      -o "$out/bin/$controller.tmp" "github.com/fluxcd/$controller")
    mv "$out/bin/$controller.tmp" "$out/bin/$controller"
  fi
  local dir
  dir=$(cd "$here/flux/$controller" && go list -m -f '{{.Dir}}' "github.com/fluxcd/$controller")
  cp "$dir"/config/crd/bases/*.yaml "$out/crds/"
  chmod u+w "$out"/crds/*.yaml
}
build source-controller "$SOURCE_CONTROLLER_VERSION"
build kustomize-controller "$KUSTOMIZE_CONTROLLER_VERSION"
if [ ! -f "$out/crds/argoproj.io_applications.yaml" ]; then
  dir=$(cd / && GOFLAGS=-mod=mod go mod download -json "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  install -m 0644 "$dir/manifests/crds/application-crd.yaml" "$out/crds/argoproj.io_applications.yaml"
fi
echo "$out"
