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
# shellcheck source=lib/service.sh
source "$ROOT/scripts/lib/service.sh"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-19090}"
PROMETHEUS_START_TIMEOUT="${PROMETHEUS_START_TIMEOUT:-30}"
# Holds prometheus.pid, prometheus.log, data-dir (the path of this run's temp storage dir).
service_init prometheus "${PROMETHEUS_RUN_DIR:-$ROOT/.cache/prometheus-run-$PROMETHEUS_PORT}"
URL="http://127.0.0.1:$PROMETHEUS_PORT"

# The readiness probe: /-/ready answers 200 once storage is open and the config loaded.
prometheus_ready() { curl -sf -o /dev/null --max-time 2 "$URL/-/ready"; }

cmd_start() {
  local config="${1:-}"
  [[ -n "$config" ]] || die "usage: $0 start CONFIG"
  [[ -f "$config" ]] || die "config file '$config' not found"
  command -v prometheus >/dev/null || die "'prometheus' not found: run scripts/install-prometheus.sh"
  service_refuse_start "$URL" PROMETHEUS_PORT "$PROMETHEUS_PORT"
  # Catch config errors here, with promtool's message, not as a timeout.
  promtool check config "$config" >/dev/null || die "promtool rejects $config (see above)"

  service_prepare
  # Fresh storage every run: no series from an earlier run.
  local data
  data="$(service_new_data_dir "$PROMETHEUS_PORT")"

  # Absolute config path: the process must not depend on our cwd.
  service_launch prometheus \
    --config.file="$(realpath "$config")" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --storage.tsdb.path="$data" \
    --web.enable-lifecycle

  local start=$SECONDS
  service_wait_until $((SECONDS + PROMETHEUS_START_TIMEOUT)) 0.3 "not ready at $URL/-/ready after ${PROMETHEUS_START_TIMEOUT}s" prometheus_ready
  log "ready at $URL in $((SECONDS - start))s (pid $SERVICE_PID, log ${LOG_FILE#"$ROOT"/})"
}

cmd_stop() {
  # SIGTERM lets Prometheus close its TSDB; the storage is deleted anyway, so
  # after 10 s a SIGKILL is fine.
  service_stop 10
  service_remove_data_dir
}

cmd_status() {
  service_status "$URL" "$URL"
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
