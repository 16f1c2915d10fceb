#!/usr/bin/env bash
# Install Debian's `prometheus` package (the prometheus and promtool binaries)
# if they are missing, for the rule tests (promtool test rules) and the
# integration tests that scrape the daemon (scripts/prometheus.sh).
#
# The prometheus.io release tarballs cannot be downloaded here (only package
# registries are reachable), so this is Debian's build (2.42 on bookworm):
# older than upstream, but promtool's rule-test format is the same.
#
# Runs as root (CI and the dev machines are root). Never starts the system
# service: tests run their own instance on their own port.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  echo "install-prometheus: already installed" >&2
else
  [[ $(id -u) -eq 0 ]] || { echo "install-prometheus: needs root (apt-get install prometheus)" >&2; exit 1; }

  # The package's postinst asks invoke-rc.d to start prometheus.service. In a
  # container there is no init to ask, and a failed start would fail the whole
  # install. A policy-rc.d that exits 101 ("action forbidden") makes
  # invoke-rc.d skip the start quietly; add one only for this install, unless
  # the image already has one (Docker's images do).
  created_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# added by ckawatch scripts/install-prometheus.sh for one install\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap 'if [[ -n "$created_policy" ]]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT

  export DEBIAN_FRONTEND=noninteractive
  # An empty or stale package list finds nothing: refresh once if needed.
  if ! apt-cache show prometheus >/dev/null 2>&1; then
    apt-get update -qq
  fi
  # --no-install-recommends: skip prometheus-node-exporter, not needed here.
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

first_line prometheus --version
first_line promtool --version
