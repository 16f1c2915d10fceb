# shellcheck shell=bash
# Shared by .ci/run and scripts/*.sh: sourced, never run.
#
# Why a helper for "print a tool's version": `tool --version | head -n 1` under
# `set -o pipefail` fails whenever head exits before the tool has written everything
# (the tool dies of SIGPIPE, the pipeline returns 141). Measured on `mvn -v`: 1 run in 5.
# Capturing the whole output first has no pipe to break.

# first_line CMD [ARGS...]: the first line of CMD's stdout and stderr; never fails.
first_line() {
  local out
  out="$("$@" 2>&1)" || true
  printf '%s\n' "${out%%$'\n'*}"
}
