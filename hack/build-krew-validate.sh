#!/usr/bin/env bash
# Builds krew's manifest validator from its Go module into a cache outside the repo; prints its path.
set -euo pipefail
cd "$(dirname "$0")/krew-validate"
version=$(awk '{for (i = 1; i < NF; i++) if ($i == "sigs.k8s.io/krew") {print $(i + 1); exit}}' go.mod)
cache="${HOTFIX_CACHE:-$HOME/.cache/hotfix-operator}/krew-${version}"
if [ ! -x "$cache/validate-krew-manifest" ]; then
  echo "[build-krew-validate] building validate-krew-manifest (krew ${version})" >&2
  mkdir -p "$cache"
  GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -o "$cache/validate-krew-manifest" sigs.k8s.io/krew/cmd/validate-krew-manifest
fi
echo "$cache/validate-krew-manifest"
