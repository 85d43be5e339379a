#!/usr/bin/env bash
# Builds helm from its Go module into a cache outside the repo, once per version; prints its path.
set -euo pipefail
version=v3.19.2
cache="${HOTFIX_CACHE:-$HOME/.cache/hotfix-operator}/helm-${version}"
if [ ! -x "$cache/helm" ]; then
  echo "[build-helm] building helm ${version} (a few minutes on a small machine)" >&2
  mkdir -p "$cache"
  GOTOOLCHAIN=local GOBIN="$cache" go install -trimpath "helm.sh/helm/v3/cmd/helm@${version}"
fi
echo "$cache/helm"
