#!/usr/bin/env bash
# Fails fast, with the fix, when package-lock.json is not the lock that npm itself would
# write today for package.json: run by .ci/run before anything slow.
#
# Why not just `npm ci`: it catches a lock that disagrees with package.json, but not one
# that npm would rewrite because of what the registry serves now (in 2026-12 a placeholder
# entry for an unservable optional dependency of vite, once needed, made `npm ci` fail
# with "Invalid Version:"). Regenerating the lock in a scratch copy catches both, in about
# two seconds, and never touches the working tree.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$scratch/"

if ! (cd "$scratch" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund >"$scratch/npm.log" 2>&1); then
  cat "$scratch/npm.log" >&2
  echo "check-lock: npm could not resolve package.json against the registry (above)" >&2
  exit 1
fi
if ! cmp -s "$ROOT/package-lock.json" "$scratch/package-lock.json"; then
  echo "check-lock: package-lock.json is not what npm $(npm --version) writes for package.json today:" >&2
  diff -u "$ROOT/package-lock.json" "$scratch/package-lock.json" | sed -n '1,40p' >&2 || true
  echo "check-lock: fix it with \`npm install --package-lock-only\` and commit the lock (never edit it by hand)" >&2
  exit 1
fi
if ! (cd "$scratch" && npm ci --dry-run --ignore-scripts --no-audit --no-fund >"$scratch/ci.log" 2>&1); then
  cat "$scratch/ci.log" >&2
  echo "check-lock: \`npm ci\` rejects package-lock.json (above)" >&2
  exit 1
fi
echo "check-lock: package-lock.json is in sync with package.json (npm $(npm --version))"
