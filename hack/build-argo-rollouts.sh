#!/usr/bin/env bash
# Builds Argo Rollouts' controller (v1.10.1) from its Go module into a cache outside the repo, once, for the
# side-by-side benchmark (make bench); copies its CRDs beside it. Prints the cache directory.
# The wrapper module hack/argo-rollouts carries argo-rollouts' own replace directives.
set -euo pipefail
version=v1.10.1
here="$(cd "$(dirname "$0")" && pwd)"
cache="${HOTFIX_CACHE:-$HOME/.cache/hotfix-operator}/argo-rollouts-${version}"
if [ ! -x "$cache/rollouts-controller" ] || [ ! -f "$cache/crds/rollout-crd.yaml" ]; then
  echo "[build-argo-rollouts] building rollouts-controller ${version} (several minutes on a small machine)" >&2
  mkdir -p "$cache/crds"
  cd "$here/argo-rollouts"
  GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -o "$cache/rollouts-controller" \
    github.com/argoproj/argo-rollouts/cmd/rollouts-controller
  module_dir="$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/argoproj/argo-rollouts)"
  cp "$module_dir"/manifests/crds/*-crd.yaml "$cache/crds/"
  chmod -R u+w "$cache/crds"
fi
echo "$cache"
