#!/usr/bin/env bash
# A throw-away Prometheus for integration tests (install it with
# scripts/install-prometheus.sh).
#
#   scripts/prometheus.sh start CONFIG   start on 127.0.0.1:$PROMETHEUS_PORT, wait for /-/ready
#   scripts/prometheus.sh stop           stop it and delete its storage
#   scripts/prometheus.sh status         exit 0 if running, 3 if not
#
# Environment (optional):
#   PROMETHEUS_PORT           listen port on 127.0.0.1 (default 19090, not 9090,
#                             so it never meets a system instance)
#   PROMETHEUS_START_TIMEOUT  seconds to wait for /-/ready (default 30)
#   PROMETHEUS_RUN_DIR        pid file and log (default .cache/prometheus-run-<port>)
#
# --web.enable-lifecycle lets a test rewrite CONFIG and POST /-/reload.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-19090}"
PROMETHEUS_START_TIMEOUT="${PROMETHEUS_START_TIMEOUT:-30}"
RUN_DIR="${PROMETHEUS_RUN_DIR:-$ROOT/.cache/prometheus-run-$PROMETHEUS_PORT}"
PID_FILE="$RUN_DIR/prometheus.pid"
LOG_FILE="$RUN_DIR/prometheus.log"
DATA_FILE="$RUN_DIR/data-dir" # holds the path of this run's temp storage dir
URL="http://127.0.0.1:$PROMETHEUS_PORT"

log() { echo "prometheus.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

cmd_start() {
  local config="${1:-}"
  [[ -n "$config" ]] || die "usage: $0 start CONFIG"
  [[ -f "$config" ]] || die "config file '$config' not found"
  command -v prometheus >/dev/null || die "'prometheus' not found: run scripts/install-prometheus.sh"
  local pid
  if pid="$(running_pid)"; then
    die "already running (pid $pid, $URL); run '$0 stop' first"
  fi
  if curl -s -o /dev/null --max-time 2 "$URL/"; then
    die "something already answers on $URL; pick another PROMETHEUS_PORT"
  fi
  # Catch config errors here, with promtool's message, not as a timeout.
  promtool check config "$config" >/dev/null || die "promtool rejects $config (see above)"

  mkdir -p "$RUN_DIR"
  # Fresh storage every run: no series from an earlier run.
  local data
  data="$(mktemp -d "${TMPDIR:-/tmp}/ckawatch-prometheus-$PROMETHEUS_PORT.XXXXXX")"
  echo "$data" >"$DATA_FILE"

  # Absolute config path: the process must not depend on our cwd.
  # setsid: a Ctrl-C in this terminal does not reach it; `stop` does.
  setsid prometheus \
    --config.file="$(realpath "$config")" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --storage.tsdb.path="$data" \
    --web.enable-lifecycle \
    >"$LOG_FILE" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"

  local start=$SECONDS deadline=$((SECONDS + PROMETHEUS_START_TIMEOUT))
  until curl -sf -o /dev/null --max-time 2 "$URL/-/ready"; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      log "error: not ready at $URL/-/ready after $((SECONDS - start))s; last lines of $LOG_FILE:"
      tail -n 30 "$LOG_FILE" >&2 || true
      cmd_stop || true
      exit 1
    fi
    sleep 0.3
  done
  log "ready at $URL in $((SECONDS - start))s (pid $pid, log ${LOG_FILE#"$ROOT"/})"
}

cmd_stop() {
  local pid
  if pid="$(running_pid)"; then
    kill "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
    fi
    log "stopped (pid $pid)"
  else
    log "not running"
  fi
  rm -f "$PID_FILE"
  if [[ -f "$DATA_FILE" ]]; then
    local data
    data="$(cat "$DATA_FILE")"
    # Only ever delete a dir this script made.
    [[ "$data" == *"/ckawatch-prometheus-"* ]] && rm -rf "$data"
    rm -f "$DATA_FILE"
  fi
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    echo "running: pid $pid, $URL"
  else
    echo "not running ($URL)"
    return 3
  fi
}

case "${1:-}" in
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 {start CONFIG|stop|status}" >&2
    exit 2
    ;;
esac
