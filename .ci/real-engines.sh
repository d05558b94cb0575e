#!/usr/bin/env bash
# The suites against real engines: for each engine (Operaton, then Camunda 7.24 CE), build and
# start it with tests/engines/start.sh on a free port, wait until it answers, run the suites
# with BPTL_REAL_ENGINE_URL / BPTL_REAL_ENGINE_NAME set, and stop it (also when a suite fails).
# An engine that does not build or start fails the run with its log's tail: no silent skip.
#
# BPTL_REAL_ENGINES overrides the engines ("operaton camunda").
set -euo pipefail
cd "$(dirname "$0")/.."

engines=${BPTL_REAL_ENGINES:-operaton camunda}
logs=target/real-engines
mkdir -p "$logs"

# Build (the first time this downloads the engines from Maven Central: minutes) and ready
# (seconds once built) are waited for separately.
build_timeout=${BPTL_ENGINE_BUILD_TIMEOUT:-1200}
ready_timeout=${BPTL_ENGINE_READY_TIMEOUT:-180}

# The other suites that need a running engine, run while it is up; the environment has
# BPTL_REAL_ENGINE_URL and BPTL_REAL_ENGINE_NAME. $1 is the engine's name.
extra_suites() {
  local engine=$1
  # The dev engine's transcripts: fails when the committed recording of this engine is stale.
  echo "real-engines: $engine: re-recording the transcripts"
  cargo test -p bptl-dev-engine --test transcripts -- --ignored record
}

engine_pid=
engine_name=

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "real-engines: no free port found" >&2
  return 1
}

log_tail() {
  echo "---- $engine_name: start.sh output ----" >&2
  tail -n 40 "$logs/$engine_name.out" >&2 || true
  echo "---- $engine_name: engine log (last 80 lines of $logs/$engine_name.log) ----" >&2
  tail -n 80 "$logs/$engine_name.log" >&2 || true
}

stop_engine() {
  if [ -n "$engine_pid" ]; then
    kill "$engine_pid" 2>/dev/null || true
    wait "$engine_pid" 2>/dev/null || true
    engine_pid=
  fi
}

on_exit() {
  local status=$?
  if [ "$status" -ne 0 ] && [ -n "$engine_name" ]; then
    log_tail
  fi
  stop_engine
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# Wait until `$1` (a command) succeeds, for at most $2 seconds; fail with $3.
wait_for() {
  local check=$1 limit=$2 what=$3 waited=0
  until eval "$check"; do
    if ! kill -0 "$engine_pid" 2>/dev/null; then
      echo "real-engines: $engine_name exited before $what" >&2
      return 1
    fi
    if [ "$waited" -ge $((limit * 2)) ]; then
      echo "real-engines: $engine_name: no $what within ${limit}s" >&2
      return 1
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
}

# A JDK 17 and Maven (the machine image has them; install them from Debian's packages if not).
if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
  echo "real-engines: installing a JDK and Maven"
  apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
fi

# The test binary first, so that the engines' time is spent testing.
cargo test --test real_engine --no-run
cargo test -p bptl-dev-engine --test transcripts --no-run

for engine in $engines; do
  engine_name=$engine
  started=$(date +%s)
  port=$(free_port)
  BPTL_ENGINE_LOG="$PWD/$logs/$engine.log" tests/engines/start.sh "$engine" "$port" \
    >"$logs/$engine.out" 2>&1 &
  engine_pid=$!
  wait_for "grep -q ' on port ' '$logs/$engine.out'" "$build_timeout" "build"
  wait_for "grep -q ' ready at ' '$logs/$engine.out'" "$ready_timeout" "answer at GET /engine-rest/engine"
  echo "real-engines: $engine is up on port $port ($(($(date +%s) - started)) s)"

  export BPTL_REAL_ENGINE_URL="http://127.0.0.1:$port/engine-rest"
  export BPTL_REAL_ENGINE_NAME=$engine
  # The tests mostly wait on the engine: more threads than cores keep it busy.
  cargo test --test real_engine -- --test-threads 8
  extra_suites "$engine"
  unset BPTL_REAL_ENGINE_URL BPTL_REAL_ENGINE_NAME

  stop_engine
  echo "real-engines: $engine done ($(($(date +%s) - started)) s)"
  engine_name=
done
