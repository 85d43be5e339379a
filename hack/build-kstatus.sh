#!/usr/bin/env bash
# Builds hack/kstatus (kstatus from sigs.k8s.io/cli-utils, what Flux waits on) into a cache outside the
# repo, once per version; prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/kstatus"
version=$(awk '/sigs.k8s.io\/cli-utils/ {print $2; exit}' go.mod)
cache="${HOTFIX_CACHE:-$HOME/.cache/hotfix-operator}/kstatus-${version}"
binary="$cache/kstatus-check"
if [ ! -x "$binary" ]; then
  echo "[build-kstatus] building kstatus-check (cli-utils ${version})" >&2
  mkdir -p "$cache"
  GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -o "$binary.tmp" .
  mv "$binary.tmp" "$binary"
fi
echo "$binary"
