#!/usr/bin/env bash
# The benchmark of workers as users run them, against the dev engine in its own process:
# bptl's CLI (`worker run --config`, with its default SQLite store and without a store, an
# async and a blocking no-op unit), the official JS client and the official Java client, side
# by side in alternating rounds; then low-load latency and idle RSS.
#
#   bench/peers.sh [bench_peers options...]
#
# Defaults (examples/bench_peers/main.rs explains the method): --peers
# bptl-sqlite,bptl,bptl-blocking,js,java --shapes none,realistic --instances 3000,15000
# --rounds 3 --latency 1000 --latency-peers bptl,bptl-blocking,js,java. Prints one line per
# run, a Markdown table of medians (min-max) with the per-round ratios to the JS client, and
# the latency table. Check `uptime` first: other work on the machine moves every figure.
#
# Installs what it needs into git-ignored directories: the JS client 3.1.0 with npm into
# $CARGO_TARGET_DIR/js-bench, the Java client with Maven into bench/java-worker/target (Java 17).
# BPTL_WORKER=PATH measures another build of examples/worker (e.g. one copied before a change).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
case "${1:-}" in -h|--help) sed -n '2,18p' "$0"; exit 0 ;; esac

log "building examples/worker and examples/bench_peers (release)"
(cd "$ROOT" && cargo build --release --example worker --example bench_peers --quiet)
WORKER="${BPTL_WORKER:-$TARGET/release/examples/worker}"

JS_DIR="$TARGET/js-bench"
mkdir -p "$JS_DIR"
if [ ! -d "$JS_DIR/node_modules/camunda-external-task-client-js" ]; then
  log "installing camunda-external-task-client-js 3.1.0 (npm)"
  (cd "$JS_DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund camunda-external-task-client-js@3.1.0 >/dev/null)
fi
cp "$ROOT/bench/js-worker.js" "$JS_DIR/js-worker.js"

JAVA_DIR="$ROOT/bench/java-worker"
if [ ! -f "$JAVA_DIR/target/classpath.txt" ] ||
  [ -n "$(find "$JAVA_DIR/pom.xml" "$JAVA_DIR/src" -newer "$JAVA_DIR/target/classpath.txt" -print -quit)" ]; then
  log "building the Java worker (Maven)"
  (cd "$JAVA_DIR" && mvn -B -q compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >&2)
  touch "$JAVA_DIR/target/classpath.txt"
fi
JAVA_CP="$JAVA_DIR/target/classes:$(cat "$JAVA_DIR/target/classpath.txt")"

log "load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$TARGET/release/examples/bench_peers" --worker "$WORKER" --js "$JS_DIR/js-worker.js" --java-cp "$JAVA_CP" \
  --peers bptl-sqlite,bptl,bptl-blocking,js,java --latency-peers bptl,bptl-blocking,js,java \
  --out "$TARGET/bench-peers" "$@"
log "load: $(cut -d' ' -f1-3 /proc/loadavg)"
