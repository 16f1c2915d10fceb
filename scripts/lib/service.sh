# shellcheck shell=bash
# A throw-away local service for the tests (scripts/kafka.sh, scripts/prometheus.sh):
# the pid file, start in the background and wait until it is ready, stop with a
# bounded wait, status, and the temp data dir. Sourced, never run; the script
# keeps what is its own (config, readiness probe, CLI).
#
# Contract with the sourcing script (under `set -euo pipefail`):
#   - call `service_init NAME RUN_DIR` first: it sets PID_FILE, LOG_FILE, DATA_FILE;
#   - define `cmd_stop`: a failed start calls it, so that a half-started service
#     and its data dir do not outlive the failure.
# No pipelines here: see common.sh for why they are a trap under pipefail.

# service_init NAME RUN_DIR: "NAME.sh: " prefixes messages; RUN_DIR holds NAME.pid,
# NAME.log and data-dir (the path of this run's temp data dir).
service_init() {
  SERVICE_NAME="$1"
  RUN_DIR="$2"
  PID_FILE="$RUN_DIR/$1.pid"
  LOG_FILE="$RUN_DIR/$1.log"
  DATA_FILE="$RUN_DIR/data-dir"
}

log() { echo "$SERVICE_NAME.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp,
# so no nc/ss needed; `timeout` keeps a black-holed connect from hanging).
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Prints the pid from the pid file if that process is alive; fails otherwise
# (no file, empty file, or a stale pid from a service that died).
running_pid() {
  local pid=""
  if [[ -f "$PID_FILE" ]]; then pid="$(<"$PID_FILE")"; fi
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# service_refuse_start WHERE PORT_VAR PORT...: dies if ours already runs, or if
# anything else (another checkout, another agent) holds one of the ports: said
# now, instead of a confusing bind error in the log later.
service_refuse_start() {
  local where="$1" port_var="$2" pid p
  shift 2
  if pid="$(running_pid)"; then
    die "already running (pid $pid, $where); run '$0 stop' first"
  fi
  for p in "$@"; do
    if port_open "$p"; then
      die "port $p on 127.0.0.1 is already in use; pick another with $port_var=..."
    fi
  done
}

# A fresh run dir: no stale pid file, an empty log (after service_refuse_start,
# so that a refused start never clears the log of the instance that runs).
service_prepare() {
  mkdir -p "$RUN_DIR"
  rm -f "$PID_FILE"
  : >"$LOG_FILE"
}

# service_new_data_dir PORT: prints a fresh temp dir (its name says whose it is)
# and records it in DATA_FILE. Fresh every run: no state leaks between runs.
# Called as data="$(service_new_data_dir ...)", where `set -e` does not apply:
# hence the explicit `|| return`, which fails the caller's assignment.
service_new_data_dir() {
  local data
  data="$(mktemp -d "${TMPDIR:-/tmp}/ckawatch-$SERVICE_NAME-$1.XXXXXX")" || return
  echo "$data" >"$DATA_FILE" || return
  echo "$data"
}

# Deletes the dir DATA_FILE names, then DATA_FILE. Only ever a dir that
# service_new_data_dir made: an edited file must not turn this into `rm -rf /`.
service_remove_data_dir() {
  [[ -f "$DATA_FILE" ]] || return 0
  local data
  data="$(cat "$DATA_FILE")"
  if [[ "$data" == *"/ckawatch-$SERVICE_NAME-"* ]]; then rm -rf "$data"; fi
  rm -f "$DATA_FILE"
}

# service_launch CMD [ARGS...]: starts CMD in the background, stdout and stderr
# appended to LOG_FILE; sets SERVICE_PID and writes the pid file.
# setsid: the service gets its own session, so a Ctrl-C in the terminal that
# ran the script does not kill it; `stop` does. disown: when a failed start
# kills it, bash would print a "Killed" job notice into the error report.
service_launch() {
  setsid "$@" >>"$LOG_FILE" 2>&1 </dev/null &
  SERVICE_PID=$!
  disown "$SERVICE_PID"
  echo "$SERVICE_PID" >"$PID_FILE"
}

# service_wait_until DEADLINE PAUSE TIMEOUT_MESSAGE PROBE [ARGS...]: runs PROBE
# every PAUSE seconds until it succeeds. Fails the start (service_fail_start)
# as soon as the service has exited, or once SECONDS reaches DEADLINE: a
# bounded wait, so a hung start-up fails the caller instead of hanging it.
service_wait_until() {
  local deadline="$1" pause="$2" timeout_message="$3"
  shift 3
  until "$@"; do
    kill -0 "$SERVICE_PID" 2>/dev/null || service_fail_start "the process (pid $SERVICE_PID) exited during start-up"
    ((SECONDS < deadline)) || service_fail_start "$timeout_message"
    sleep "$pause"
  done
}

# Says why, shows the end of the log (the cause is usually there), stops what
# was started, exits 1.
service_fail_start() {
  log "error: $*"
  log "last 40 lines of $LOG_FILE:"
  tail -n 40 "$LOG_FILE" >&2 || true
  cmd_stop || true
  exit 1
}

# wait_gone PID SECONDS: true as soon as PID has exited, false if it is still
# alive after SECONDS (polled every 0.2 s).
wait_gone() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.2
  done
  ! kill -0 "$1" 2>/dev/null
}

# service_stop GRACE_SECONDS: SIGTERM (the service's own shutdown runs), then
# SIGKILL if it is still alive after GRACE_SECONDS; either way waits (bounded)
# until the process is gone, so that its ports are free for the next start.
# Removes the pid file. "not running" is not an error: stop is idempotent.
service_stop() {
  local grace="$1" pid
  if pid="$(running_pid)"; then
    kill "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$grace"; then
      log "pid $pid still alive after ${grace}s, sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      if ! wait_gone "$pid" 10; then
        # Stuck in the kernel (D state): waiting longer would hang the caller.
        log "pid $pid still alive 10s after SIGKILL; giving up on it"
      fi
    fi
    if ! kill -0 "$pid" 2>/dev/null; then log "stopped (pid $pid)"; fi
  else
    log "not running"
  fi
  rm -f "$PID_FILE"
}

# service_status RUNNING_DETAILS STOPPED_DETAILS: prints the state; returns 3
# when not running (the LSB status code, which callers test for).
service_status() {
  local pid
  if pid="$(running_pid)"; then
    echo "running: pid $pid, $1"
  else
    echo "not running ($2)"
    return 3
  fi
}
