#!/usr/bin/env bash
# Build the helm v3 CLI from its Go module and cache the binary.
#
# Why from source: this machine (and CI) reaches the Go module proxy but not
# get.helm.sh, so the release tarballs cannot be downloaded. `go install` of
# the pinned module version is reproducible and needs only the proxy.
#
# Usage: scripts/build-helm.sh            -> builds if needed, prints `helm version`
#        HELM_VERSION=v3.x.y scripts/build-helm.sh
# Result: .cache/helm/<version>/helm, plus a symlink .cache/bin/helm.
# A second run with the binary present is instant.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
DEST="$ROOT/.cache/helm/$HELM_VERSION"
BIN="$DEST/helm"

if [[ ! -x "$BIN" ]]; then
  command -v go >/dev/null || { echo "build-helm: 'go' not found on PATH (need Go >= 1.24)" >&2; exit 1; }
  echo "build-helm: building helm $HELM_VERSION with $(go version | awk '{print $3}') (takes minutes on 2 cores)" >&2
  mkdir -p "$DEST"
  start=$SECONDS
  # CGO off: a static binary, no C toolchain needed.
  # -trimpath -s -w: smaller binary and a faster link step.
  # -X ...version.version: `go install pkg@v` does not run helm's Makefile, which
  #   is where the release version is normally stamped in; without it
  #   `helm version` reports only the major.minor default from the source.
  # GOFLAGS=-mod=mod keeps a GOFLAGS from the environment (e.g. -mod=vendor)
  #   from breaking module-mode installs; -buildvcs=false as there is no VCS.
  CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" GOBIN="$DEST" \
    go install -trimpath \
      -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
      "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "build-helm: built in $((SECONDS - start))s" >&2
fi

mkdir -p "$ROOT/.cache/bin"
ln -sfn "$BIN" "$ROOT/.cache/bin/helm"
"$BIN" version
