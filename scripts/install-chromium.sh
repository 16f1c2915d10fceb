#!/usr/bin/env bash
# Install Debian's `chromium` package (headless Chromium) if it is missing, for the test
# that loads ckawatch's built-in page (test/ops/page.test.ts): it renders the page with
# --dump-dom and takes a screenshot with --screenshot.
#
# The browser builds that npm packages (puppeteer, playwright) download cannot be fetched
# here (only package registries are reachable); Debian's package can. Runs as root (CI and
# the dev machines are root).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if command -v chromium >/dev/null; then
  echo "install-chromium: already installed" >&2
else
  [[ $(id -u) -eq 0 ]] || { echo "install-chromium: needs root (apt-get install chromium)" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  # An empty or stale package list finds nothing (or a version no mirror has any more).
  apt-get update -qq
  # --no-install-recommends: no chromium-sandbox, no extra fonts beyond what it depends on.
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

first_line chromium --version
