#!/usr/bin/env bash
# Measure the official JS client (camunda-external-task-client-js@3.1.0) on the same workload
# as `cargo run --release --example bench`: the same standalone dev engine process, one
# no-op task per instance, all instances created at once after the worker has started.
#
#   bench/js-bench.sh [TASKS] [CONCURRENCY]      (defaults: 10000 64)
#
# npm installs the client once into target/js-bench (cached).
set -euo pipefail
TASKS="${1:-10000}"
CONCURRENCY="${2:-64}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
JS_DIR="$TARGET/js-bench"
PORT="${BENCH_PORT:-18089}"

mkdir -p "$JS_DIR"
if [ ! -d "$JS_DIR/node_modules/camunda-external-task-client-js" ]; then
  (cd "$JS_DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund camunda-external-task-client-js@3.1.0 >/dev/null)
fi
cp "$ROOT/bench/js-worker.js" "$JS_DIR/js-worker.js"

(cd "$ROOT" && cargo build --release --example bench --quiet)
BENCH="$TARGET/release/examples/bench"

# The engine: started with its stdin on a pipe; closing the pipe stops it.
coproc ENGINE { "$BENCH" --engine-only --port "$PORT" --tasks "$TASKS" --start-delay-ms 1500; }
read -r ready <&"${ENGINE[0]}"
URL="${ready#READY }"
node "$JS_DIR/js-worker.js" "$URL" "$TASKS" "$CONCURRENCY"
kill "$ENGINE_PID" 2>/dev/null || true
wait 2>/dev/null || true
