#!/usr/bin/env bash
# A throw-away single-node Kafka (KRaft, broker+controller in one JVM) for the
# integration tests, built from Maven Central jars: this machine and CI reach
# the package registries but not the Apache download site, so there is no
# release tarball; the jars of org.apache.kafka:kafka_2.13 are the broker.
#
#   scripts/kafka.sh fetch    resolve the jars into .cache/kafka/<version>/libs (cached)
#   scripts/kafka.sh start    format a fresh data dir, start the broker, wait until it serves metadata
#   scripts/kafka.sh stop     stop the broker and delete its data dir
#   scripts/kafka.sh status   exit 0 if running (prints pid, address, log), 3 if not
#
# Environment (all optional):
#   KAFKA_VERSION            broker version (default 4.1.1, see "Version" below)
#   KAFKA_PORT               PLAINTEXT port on 127.0.0.1 (default 19092)
#   KAFKA_CONTROLLER_PORT    KRaft controller port (default KAFKA_PORT + 1)
#   KAFKA_START_TIMEOUT      seconds to wait for a ready broker (default 120)
#   KAFKA_HEAP               JVM heap options (default "-Xms256m -Xmx512m")
#   KAFKA_RUN_DIR            pid file, log, config (default .cache/kafka-run-<port>)
#   KAFKA_KEEP_DATA          1: `stop` keeps the data dir and the next `start` (same run dir)
#                            restarts on it, with its topics, offsets and cluster id: a broker
#                            outage and recovery, not a fresh broker (test/faults/broker-outage)
#   KAFKA_EXTRA_CONFIG       a properties file appended to server.properties; a key it repeats
#                            wins (the last one read), e.g. listeners with a SASL_SSL port
#                            (test/faults/kafka-secure.test.ts). Listeners other than the
#                            PLAINTEXT one on KAFKA_PORT are the file's to declare.
#   JAVA_HOME                a JDK/JRE >= 17 (Kafka 4.x brokers need 17)
#
# Tests reach the broker through CKAWATCH_TEST_BROKERS (default 127.0.0.1:19092).
#
# Version: 4.1.1 is what kafkajs 2.2.4 was proven against here (test/integration/
# kafka-smoke.test.ts). Kafka 4.0 dropped many old protocol versions (KIP-896);
# kafkajs negotiates through ApiVersions and the versions it uses are still served.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/service.sh
source "$ROOT/scripts/lib/service.sh"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
KAFKA_HEAP="${KAFKA_HEAP:--Xms256m -Xmx512m}"
# Log4j2 binding version: the one kafka-server itself depends on in 4.1.x.
LOG4J_VERSION="${LOG4J_VERSION:-2.24.3}"

CACHE_DIR="$ROOT/.cache/kafka/$KAFKA_VERSION"
LIBS="$CACHE_DIR/libs"
# Written last by fetch: a fetch that died half-way is redone, not trusted.
FETCHED_MARK="$CACHE_DIR/.fetched"
# One run dir per port, so two brokers on different ports do not collide.
# It holds kafka.pid, kafka.log, data-dir (the path of this run's temp data dir).
service_init kafka "${KAFKA_RUN_DIR:-$ROOT/.cache/kafka-run-$KAFKA_PORT}"

if [[ -n "${JAVA_HOME:-}" ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA="java"; fi

# ---------------------------------------------------------------- fetch ----
cmd_fetch() {
  if [[ -f "$FETCHED_MARK" ]]; then
    log "Kafka $KAFKA_VERSION jars already in ${LIBS#"$ROOT"/}"
    return 0
  fi
  command -v mvn >/dev/null || die "'mvn' not found (apt-get install maven)"
  local start=$SECONDS work
  work="$(mktemp -d)"
  rm -rf "$LIBS"
  mkdir -p "$LIBS"
  # A throw-away pom whose only job is to have Maven resolve the broker's
  # runtime class path. kafka_2.13 (core) holds kafka.Kafka and
  # kafka.tools.StorageTool and pulls kafka-server, -storage, -raft, -metadata,
  # the coordinators and log4j-core. Added on top:
  #  - log4j-slf4j-impl: the SLF4J 1.7 binding; without it the broker's
  #    Scala/SLF4J logging goes to a no-op logger and the log file stays empty.
  #  - kafka-tools: TopicCommand, used below as the "metadata works" probe;
  #    its Connect runtime (Jetty, Jersey: ~25 MB) is excluded, not needed.
  cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.ckawatch</groupId>
  <artifactId>kafka-test-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
      <exclusions>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion>
        <exclusion><groupId>com.fasterxml.jackson.jakarta.rs</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies with Maven"
  # -B: batch mode, no prompts. includeScope=runtime = compile + runtime
  # scopes, which is what a running broker needs. Maven's output goes to a
  # file and is shown only if it fails.
  if ! mvn -B -f "$work/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$LIBS" >"$work/mvn.log" 2>&1; then
    grep -m 3 "ERROR" "$work/mvn.log" >&2 || tail -n 30 "$work/mvn.log" >&2
    rm -rf "$work" "$CACHE_DIR"
    die "Maven could not resolve Kafka $KAFKA_VERSION (is Maven Central reachable? is the version served?)"
  fi
  rm -rf "$work"
  [[ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after resolve"
  touch "$FETCHED_MARK"
  log "fetched $(find "$LIBS" -name "*.jar" | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) in $((SECONDS - start))s"
}

# ---------------------------------------------------------------- start ----
write_configs() { # $1 = data dir
  # Only what a one-node test broker needs; each line says why it differs
  # from the default.
  cat >"$RUN_DIR/server.properties" <<EOF
# KRaft combined mode: one JVM is both broker and the only controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
# Clients must be told 127.0.0.1, not the host name, which may not resolve.
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$1/logs

# Internal topics default to replication factor 3: with one broker the group
# coordinator would never become available (kafkajs issue 1752 on Kafka 4.0).
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# 50 partitions each by default: creating them slows the first consumer group
# join on a 2-core machine for no benefit here.
offsets.topic.num.partitions=4
transaction.state.log.num.partitions=4

# Tests join groups constantly: do not wait 3 s for more members each time.
group.initial.rebalance.delay.ms=0
# Tests create their topics explicitly; a typo must fail, not create a topic.
auto.create.topics.enable=false
num.partitions=1
EOF

  # Log4j2 (Kafka 4.x) in properties form, which needs no YAML/JSON parser:
  # everything at INFO to stdout, which start() sends to the log file.
  {
    echo "status = warn"
    log4j2_console SYSTEM_OUT INFO
    cat <<'EOF'
# Per-partition state changes and request logs are noise at INFO.
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
# The full config dump (hundreds of lines) would bury the useful part of a
# log tail; the config in effect is server.properties next to the log.
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
EOF
  } >"$RUN_DIR/log4j2.properties"

  # The readiness probe: admin client settings to fail fast (the loop
  # retries), and only its warnings and errors, on stderr, into probe.log.
  cat >"$RUN_DIR/probe.properties" <<'EOF'
request.timeout.ms=3000
default.api.timeout.ms=5000
EOF
  log4j2_console SYSTEM_ERR WARN >"$RUN_DIR/probe-log4j2.properties"
}

# log4j2_console TARGET LEVEL: a Log4j2 root logger at LEVEL with one console
# appender to TARGET (SYSTEM_OUT or SYSTEM_ERR); the broker's and the probe's
# configs differ only in these two.
log4j2_console() {
  cat <<EOF
appender.console.type = Console
appender.console.name = CONSOLE
appender.console.target = $1
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = $2
rootLogger.appenderRef.console.ref = CONSOLE
EOF
}

# The readiness probe: list topics through the real protocol, i.e. a Metadata
# request answered by a broker that has registered with its controller. An open
# port alone is not enough: the socket server binds before the broker is ready.
metadata_ok() {
  timeout 30 "$JAVA" -Xmx128m -XX:TieredStopAtLevel=1 -cp "$LIBS/*" \
    -Dlog4j2.configurationFile="$RUN_DIR/probe-log4j2.properties" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
    --command-config "$RUN_DIR/probe.properties" --list >/dev/null 2>>"$RUN_DIR/probe.log"
}

cmd_start() {
  [[ -f "$FETCHED_MARK" ]] || die "Kafka $KAFKA_VERSION not fetched: run 'scripts/kafka.sh fetch' first"
  command -v "$JAVA" >/dev/null || die "'java' not found (need Java 17+, e.g. apt-get install openjdk-17-jre-headless)"
  service_refuse_start "port $KAFKA_PORT" KAFKA_PORT "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
  service_prepare
  rm -f "$RUN_DIR/probe.log"
  local data reuse=0
  if [[ "${KAFKA_KEEP_DATA:-0}" == 1 && -f "$DATA_FILE" && -d "$(cat "$DATA_FILE")/logs" ]]; then
    # A restart after `KAFKA_KEEP_DATA=1 stop`: the same data, already formatted.
    data="$(cat "$DATA_FILE")"
    reuse=1
  else
    # Fresh data every run: no topic, offset or cluster id leaks between runs.
    data="$(service_new_data_dir "$KAFKA_PORT")"
  fi
  write_configs "$data"
  if [[ -n "${KAFKA_EXTRA_CONFIG:-}" ]]; then
    [[ -f "$KAFKA_EXTRA_CONFIG" ]] || die "KAFKA_EXTRA_CONFIG=$KAFKA_EXTRA_CONFIG is not a file"
    { echo; echo "# from KAFKA_EXTRA_CONFIG=$KAFKA_EXTRA_CONFIG"; cat "$KAFKA_EXTRA_CONFIG"; } >>"$RUN_DIR/server.properties"
  fi

  # Cluster id: 16 random bytes in unpadded base64url (22 chars), the format
  # Kafka's Uuid uses. Like Kafka's own Uuid.randomUuid(), avoid a leading '-':
  # the command-line parser would read it as an option.
  local cluster_id
  while :; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$cluster_id" != -* ]] && break
  done

  local start=$SECONDS
  # Small heap: the machine has 2 cores and is shared; a test broker needs
  # little. TieredStopAtLevel=1 makes the short-lived format tool start faster.
  # A reused data dir is already formatted. The format tool's output opens the
  # log that service_prepare emptied.
  if ((!reuse)) && ! "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -cp "$LIBS/*" \
      -Dlog4j2.configurationFile="$RUN_DIR/log4j2.properties" \
      kafka.tools.StorageTool format --cluster-id "$cluster_id" \
      --config "$RUN_DIR/server.properties" >>"$LOG_FILE" 2>&1; then
    cat "$LOG_FILE" >&2
    die "formatting the data dir with kafka.tools.StorageTool failed"
  fi

  # maxCachedBufferSize: the JDK caches a temporary direct buffer per thread as large as
  # the largest write, so a few 90 MB records (test/faults/oversize.test.ts) used up the
  # direct-memory limit (the heap size) and failed appends with OutOfMemoryError.
  # shellcheck disable=SC2086 # KAFKA_HEAP is a list of JVM flags: split it
  service_launch "$JAVA" $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djdk.nio.maxCachedBufferSize=1048576 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$RUN_DIR/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$RUN_DIR/server.properties"
  log "started Kafka $KAFKA_VERSION (pid $SERVICE_PID) on 127.0.0.1:$KAFKA_PORT, $( ((reuse)) && echo "restarted on its kept data" || echo "cluster id $cluster_id"), data $data"

  # Bounded wait, one deadline for both: first the port, then a real Metadata
  # round trip (each probe is a JVM: poll it less often).
  local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  service_wait_until "$deadline" 0.5 "port $KAFKA_PORT not open after ${KAFKA_START_TIMEOUT}s" port_open "$KAFKA_PORT"
  service_wait_until "$deadline" 1 "no Metadata answer after ${KAFKA_START_TIMEOUT}s (probe errors: $RUN_DIR/probe.log)" metadata_ok
  log "ready in $((SECONDS - start))s (log: ${LOG_FILE#"$ROOT"/}); tests use CKAWATCH_TEST_BROKERS=127.0.0.1:$KAFKA_PORT"
}

# ----------------------------------------------------------------- stop ----
cmd_stop() {
  # SIGTERM runs the broker's shutdown hook; the data is discarded anyway
  # (unless kept), so after 20 s a SIGKILL is fine.
  service_stop 20
  if [[ "${KAFKA_KEEP_DATA:-0}" == 1 ]]; then
    if [[ -f "$DATA_FILE" ]]; then log "kept the data dir $(cat "$DATA_FILE") (KAFKA_KEEP_DATA=1)"; fi
  else
    service_remove_data_dir
  fi
}

# --------------------------------------------------------------- status ----
cmd_status() {
  service_status "127.0.0.1:$KAFKA_PORT, data $(cat "$DATA_FILE" 2>/dev/null), log $LOG_FILE" "port $KAFKA_PORT"
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 {fetch|start|stop|status}" >&2
    exit 2
    ;;
esac
