#!/usr/bin/env bash
# Builds helm from its Go module into a cache outside the repo, once per version; prints its path. With the
# version ldflags helm's own Makefile sets: without them `helm version` is empty and `helm template` assumes
# Kubernetes v1.20 (it then refuses charts that need a newer one unless given --kube-version).
set -euo pipefail
version=v3.19.2
# helm's Makefile: the Kubernetes version it assumes offline is its client-go's (v0.34 -> 1.34).
k8s_major=1
k8s_minor=34
cache="${HOTFIX_CACHE:-$HOME/.cache/hotfix-operator}/helm-${version}-k8s-${k8s_major}.${k8s_minor}"
if [ ! -x "$cache/helm" ]; then
  echo "[build-helm] building helm ${version} (a few minutes on a small machine)" >&2
  mkdir -p "$cache"
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${version} \
    -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=${k8s_major} \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${k8s_minor} \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${k8s_major} \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${k8s_minor}"
  GOTOOLCHAIN=local GOBIN="$cache" go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@${version}"
fi
echo "$cache/helm"
