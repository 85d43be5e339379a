//go:build tools

// Package tools pins krew's own manifest validator (sigs.k8s.io/krew/cmd/validate-krew-manifest),
// built by hack/build-krew-validate.sh to check plugins/hotfix.yaml.
package tools

import _ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
