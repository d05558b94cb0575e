#!/usr/bin/env bash
# The benchmark against a real engine: bptl, the official Java client and the official JS client
# on one Operaton, the same BPMN and workload, in alternating rounds.
#
#   bench/real-engine.sh [--tasks N] [--rounds R] [--peers "P..."] [--units "U..."]
#                        [--port PORT | --url URL] [--out DIR] [--ceiling]
#
# Defaults: 3000 tasks, 3 rounds, peers "bptl bptl-sqlite java java-pool js", units
# "noop sleep20", an Operaton started with tests/engines/start.sh on port 18480 (stopped at the
# end), results in target/real-engine/. --ceiling measures the engine's ceiling instead: bptl
# with the no-op unit at rising concurrency and with several worker processes.
#
# Peers (each with lock duration 60 s, long poll 10 s, up to 64 tasks at once, no priority):
#   bptl          examples/worker (release), no store (task records in memory), RUST_LOG=warn
#   bptl-sqlite   the same with [store] enabled, a fresh SQLite file per run
#   java          Camunda's official Java client 7.24.0 (bench/java-worker), handler on the
#                 client's thread as documented, backoff disabled
#   java-pool     the same client, handler hands tasks to 64 threads (at most 64 locked at once)
#   js            camunda-external-task-client-js 3.1.0 (bench/js-worker.js), interval 0,
#                 maxTasks = maxParallelExecutions = 64
# A peer name may end in -cN (N tasks at once instead of 64) and -xP (P worker processes).
# Units: noop (completes at once), sleep20 (sleeps 20 ms, completes with one variable; bptl
# runs bptl_dummy::sleep with durationMs = 20, the others read the same variable).
#
# One run: deploy a fresh process definition (start -> external task -> end), start N
# instances with parallel requests (timed on its own), suspend them, start the worker and
# wait until its CPU use settles (idle, long polling), then activate the instances and wait
# until the engine's history counts N finished instances. Throughput is (N - 1) / (the last
# instance's end time - the first's), from the engine's history; CPU is the worker
# processes' utime + stime (from /proc, 10 ms ticks) from activation to the last completion,
# divided by N (the engine's CPU likewise, when it runs here); RSS idle is VmRSS before
# activation, RSS peak is VmHWM at the end. The
# definition is deleted with its instances and history after each run.
set -euo pipefail

TASKS=3000
ROUNDS=3
PEERS="bptl bptl-sqlite java java-pool js"
UNITS="noop sleep20"
PORT=18480
URL=""
CEILING=0
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$TARGET/real-engine"
DEFAULT_C=64
LOCK_MS=60000
ASYNC_MS=10000

while [ $# -gt 0 ]; do
  case "$1" in
    --tasks) TASKS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --units) UNITS=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --url) URL=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --ceiling) CEILING=1; shift ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$CEILING" = 1 ]; then
  PEERS="${CEILING_PEERS:-bptl-c4 bptl-c16 bptl-c64 bptl-c256 bptl-c64-x2 bptl-c128-x3}"
  UNITS=noop
fi

mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/real-engine.XXXXXX")"
RESULTS="$OUT/results-$(date -u +%Y%m%dT%H%M%S).tsv"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# --- builds -----------------------------------------------------------------------------------
# BPTL_WORKER names a worker binary built elsewhere (e.g. from a given commit); else it is built.
BPTL="${BPTL_WORKER:-$TARGET/release/examples/worker}"
if [ -z "${BPTL_WORKER:-}" ]; then
  log "building the bptl worker (release)"
  (cd "$ROOT" && cargo build --release --example worker --quiet)
fi

JAVA_DIR="$ROOT/bench/java-worker"
if [ ! -f "$JAVA_DIR/target/classpath.txt" ] ||
  [ -n "$(find "$JAVA_DIR/pom.xml" "$JAVA_DIR/src" -newer "$JAVA_DIR/target/classpath.txt" -print -quit)" ]; then
  log "building the Java worker"
  (cd "$JAVA_DIR" && { mvn -B -q -o compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt ||
    mvn -B -q compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt; } >&2)
  touch "$JAVA_DIR/target/classpath.txt"
fi
JAVA_CP="$JAVA_DIR/target/classes:$(cat "$JAVA_DIR/target/classpath.txt")"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

JS_DIR="$TARGET/js-bench"
mkdir -p "$JS_DIR"
if [ ! -d "$JS_DIR/node_modules/camunda-external-task-client-js" ]; then
  (cd "$JS_DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund camunda-external-task-client-js@3.1.0 >/dev/null)
fi
cp "$ROOT/bench/js-worker.js" "$JS_DIR/js-worker.js"

# --- the engine -------------------------------------------------------------------------------
ENGINE_PID=""
PEER_PIDS=()
cleanup() {
  for pid in "${PEER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$ENGINE_PID" ]; then kill -- -"$ENGINE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$URL" ]; then
  URL="http://127.0.0.1:$PORT/engine-rest"
  if curl -fsS -o /dev/null "$URL/engine" 2>/dev/null; then
    echo "port $PORT already answers: pass --url $URL to use that engine, or another --port" >&2
    exit 1
  fi
  log "starting Operaton on port $PORT (tests/engines/start.sh)"
  setsid "$ROOT/tests/engines/start.sh" operaton "$PORT" >"$OUT/engine-start.log" 2>&1 &
  ENGINE_PID=$!
  for _ in $(seq 600); do
    curl -fsS -o /dev/null "$URL/engine" 2>/dev/null && break
    kill -0 "$ENGINE_PID" 2>/dev/null || { cat "$OUT/engine-start.log" >&2; exit 1; }
    sleep 0.5
  done
fi
curl -fsS -o /dev/null "$URL/engine" || { echo "no engine at $URL" >&2; exit 1; }
# The engine's process (for its CPU per task), when it listens on this machine.
ENGINE_PORT=$(echo "$URL" | sed -n 's#^[a-z]*://[^/:]*:\([0-9]*\).*#\1#p')
ENGINE_JVM=""
[ -n "$ENGINE_PORT" ] &&
  ENGINE_JVM=$(ss -ltnpH "sport = :$ENGINE_PORT" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
log "engine at $URL (process ${ENGINE_JVM:-unknown})"

# --- engine helpers ---------------------------------------------------------------------------
now_ms() { date +%s%3N; }
json_get() { curl -fsS "$URL$1"; }

deploy() { # KEY
  cat >"$WORK/$1.bpmn" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D_$1" targetNamespace="bench">
  <bpmn:process id="$1" isExecutable="true" camunda:historyTimeToLive="1">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Work" camunda:type="external" camunda:topic="$1"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Work" />
    <bpmn:sequenceFlow id="F2" sourceRef="Work" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>
EOF
  curl -fsS -o /dev/null -F "deployment-name=$1" -F "data=@$WORK/$1.bpmn" "$URL/deployment/create"
}

create_instances() { # KEY UNIT N
  local body="$WORK/$1.json" cfg="$WORK/$1.curl"
  case "$2" in
    noop) echo '{}' >"$body" ;;
    sleep20) echo '{"variables":{"durationMs":{"value":20,"type":"Integer"}}}' >"$body" ;;
    *) echo "unknown unit $2" >&2; return 1 ;;
  esac
  local i
  for i in $(seq "$3"); do
    [ "$i" = 1 ] || echo next
    printf 'url = "%s"\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "@%s"\noutput = "/dev/null"\nsilent\nshow-error\nfail\n' \
      "$URL/process-definition/key/$1/start" "$body"
  done >"$cfg"
  curl --parallel --parallel-max 8 --no-progress-meter -K "$cfg"
}

suspend() { # KEY true|false
  curl -fsS -o /dev/null -X PUT -H "Content-Type: application/json" \
    -d "{\"suspended\":$2,\"includeProcessInstances\":true}" "$URL/process-definition/key/$1/suspended"
}

# A waiting long poll is answered when tasks are created, not when suspended ones are
# activated: after activating, start one instance of a process whose topic nobody fetches,
# which wakes the engine's pending fetches at once.
deploy_wake() {
  cat >"$WORK/wake.bpmn" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D_wake" targetNamespace="bench">
  <bpmn:process id="bench_wake" isExecutable="true" camunda:historyTimeToLive="1">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Wake" camunda:type="external" camunda:topic="bench_wake_nobody"><bpmn:incoming>F1</bpmn:incoming></bpmn:serviceTask>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Wake" />
  </bpmn:process>
</bpmn:definitions>
EOF
  curl -fsS -o /dev/null -F "deployment-name=bench_wake" -F "data=@$WORK/wake.bpmn" "$URL/deployment/create"
}
wake() {
  curl -fsS -o /dev/null -X POST -H "Content-Type: application/json" -d '{}' "$URL/process-definition/key/bench_wake/start"
}

finished() { json_get "/history/process-instance/count?processDefinitionKey=$1&finished=true" | jq .count; }
running() { json_get "/process-instance/count?processDefinitionKey=$1" | jq .count; }

end_time_ms() { # KEY asc|desc
  local t
  t=$(json_get "/history/process-instance?processDefinitionKey=$1&finished=true&sortBy=endTime&sortOrder=$2&maxResults=1" | jq -r '.[0].endTime')
  date -d "$t" +%s%3N
}

# --- worker processes -------------------------------------------------------------------------
proc_ticks() { # utime + stime of the given PIDs, in clock ticks
  local sum=0 pid rest f
  for pid in "$@"; do
    rest=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    read -r -a f <<<"$rest"
    sum=$((sum + f[11] + f[12]))
  done
  echo "$sum"
}
proc_kb() { # FIELD PIDS...: the sum of a /proc/PID/status field in kB
  local field=$1 sum=0 pid v
  shift
  for pid in "$@"; do
    v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null) || v=0
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}
alive() { local pid; for pid in "$@"; do kill -0 "$pid" 2>/dev/null || return 1; done; }

start_peer() { # PEER KEY UNIT RUNDIR: starts the worker process(es), sets PEER_PIDS
  local peer=$1 key=$2 unit=$3 dir=$4 base c=$DEFAULT_C procs=1 part i
  base=${peer%%-c*}
  base=${base%%-x*}
  for part in ${peer//-/ }; do
    case "$part" in c[0-9]*) c=${part#c} ;; x[0-9]*) procs=${part#x} ;; esac
  done
  PEER_PIDS=()
  for i in $(seq "$procs"); do
    case "$base" in
      bptl|bptl-sqlite)
        local store=false callback=bptl_dummy::dummy
        [ "$base" = bptl-sqlite ] && store=true
        [ "$unit" = sleep20 ] && callback=bptl_dummy::sleep
        cat >"$dir/bptl-$i.toml" <<EOF
[engine]
url = "$URL"
max_tasks = $c
lock_duration = "${LOCK_MS}ms"
async_response_timeout = "${ASYNC_MS}ms"
use_priority = false

[[task_mappings]]
topic = "$key"
callback = "$callback"

[store]
enabled = $store
url = "sqlite://$dir/bptl-$i.db"
EOF
        RUST_LOG=warn "$BPTL" run --config "$dir/bptl-$i.toml" >"$dir/worker-$i.log" 2>&1 &
        ;;
      java|java-pool)
        local mode=client
        [ "$base" = java-pool ] && mode=pool
        "$JAVA" -cp "$JAVA_CP" bench.Worker "$URL" "$key" "$mode" "$c" "$LOCK_MS" "$ASYNC_MS" >"$dir/worker-$i.log" 2>&1 &
        ;;
      js)
        node "$JS_DIR/js-worker.js" "$URL" 0 "$c" "$key" 0 >"$dir/worker-$i.log" 2>&1 &
        ;;
      *) echo "unknown peer $peer" >&2; return 1 ;;
    esac
    PEER_PIDS+=("$!")
  done
}

stop_peer() {
  local pid
  for pid in "${PEER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do alive "${PEER_PIDS[@]}" 2>/dev/null || break; sleep 0.1; done
  for pid in "${PEER_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  PEER_PIDS=()
}

# --- one run ----------------------------------------------------------------------------------
RUN=0
STAMP=$(date +%s)

run_one() { # ROUND PEER UNIT
  local round=$1 peer=$2 unit=$3 key dir t0 t1 n ticks0 ticks1 rss_idle hwm act first last prev stable
  RUN=$((RUN + 1))
  key="b${STAMP}_${RUN}_${unit}_${peer//-/_}"
  dir="$WORK/$key"
  mkdir -p "$dir"
  deploy "$key"
  t0=$(now_ms)
  create_instances "$key" "$unit" "$TASKS"
  t1=$(now_ms)
  n=$(running "$key")
  [ "$n" = "$TASKS" ] || { echo "created $n of $TASKS instances" >&2; return 1; }
  suspend "$key" true

  start_peer "$peer" "$key" "$unit" "$dir"
  # Idle: wait until the workers' CPU use settles (at most 20 s).
  prev=$(proc_ticks "${PEER_PIDS[@]}")
  stable=0
  for _ in $(seq 40); do
    sleep 0.5
    alive "${PEER_PIDS[@]}" || { cat "$dir"/worker-*.log >&2; echo "$peer died" >&2; return 1; }
    ticks0=$(proc_ticks "${PEER_PIDS[@]}")
    if [ $((ticks0 - prev)) -le 1 ]; then stable=$((stable + 1)); else stable=0; fi
    prev=$ticks0
    [ "$stable" -ge 3 ] && break
  done
  rss_idle=$(proc_kb VmRSS "${PEER_PIDS[@]}")
  ticks0=$(proc_ticks "${PEER_PIDS[@]}")
  local engine0=0 engine1=0
  [ -n "$ENGINE_JVM" ] && engine0=$(proc_ticks "$ENGINE_JVM")

  act=$(now_ms)
  suspend "$key" false
  wake
  local deadline=$(($(now_ms) + 900000))
  while [ "$(finished "$key")" != "$TASKS" ]; do
    alive "${PEER_PIDS[@]}" || { cat "$dir"/worker-*.log >&2; echo "$peer died" >&2; return 1; }
    [ "$(now_ms)" -lt "$deadline" ] || { echo "$peer: not done within 15 minutes" >&2; stop_peer; return 1; }
    sleep 0.1
  done
  ticks1=$(proc_ticks "${PEER_PIDS[@]}")
  [ -n "$ENGINE_JVM" ] && engine1=$(proc_ticks "$ENGINE_JVM")
  hwm=$(proc_kb VmHWM "${PEER_PIDS[@]}")
  stop_peer
  first=$(end_time_ms "$key" asc)
  last=$(end_time_ms "$key" desc)

  local tck
  tck=$(getconf CLK_TCK)
  awk -v r="$round" -v p="$peer" -v u="$unit" -v n="$TASKS" -v c0="$t0" -v c1="$t1" \
    -v f="$first" -v l="$last" -v a="$act" -v k0="$ticks0" -v k1="$ticks1" -v tck="$tck" \
    -v ri="$rss_idle" -v rp="$hwm" -v e0="$engine0" -v e1="$engine1" 'BEGIN {
      span = (l - f) / 1000; from_act = (l - a) / 1000
      printf "%s\t%s\t%s\t%d\t%.1f\t%.2f\t%.0f\t%.0f\t%.1f\t%.1f\t%.1f\t%.0f\n", r, p, u, n, (c1 - c0) / 1000,
        span, (n - 1) / span, n / from_act, (k1 - k0) / tck / n * 1e6, ri / 1024, rp / 1024,
        (e1 - e0) / tck / n * 1e6
    }' | tee -a "$RESULTS" >&2
  curl -fsS -o /dev/null -X DELETE "$URL/process-definition/key/$key?cascade=true" || true
}

# --- rounds -----------------------------------------------------------------------------------
read -r -a peer_list <<<"$PEERS"
read -r -a unit_list <<<"$UNITS"
deploy_wake
log "warm-up (not recorded): bptl, noop, $TASKS tasks"
saved=$RESULTS
RESULTS=/dev/null
run_one 0 bptl noop
RESULTS=$saved
printf 'round\tpeer\tunit\ttasks\tcreate_s\tspan_s\ttasks_per_s\ttasks_per_s_from_activation\tcpu_us_per_task\trss_idle_mb\trss_peak_mb\tengine_cpu_us_per_task\n' >"$RESULTS"

for round in $(seq "$ROUNDS"); do
  for ui in "${!unit_list[@]}"; do
    # Alternate: each round (and each unit) starts with another peer.
    np=${#peer_list[@]}
    for pi in $(seq 0 $((np - 1))); do
      peer=${peer_list[$(((pi + round - 1 + ui) % np))]}
      log "round $round: $peer, ${unit_list[$ui]}"
      run_one "$round" "$peer" "${unit_list[$ui]}"
    done
  done
done

# --- summary: median and range per peer and unit ----------------------------------------------
log "results: $RESULTS"
summarize() { # COLUMN
  tail -n +2 "$RESULTS" | sort -t$'\t' -k2,2 -k3,3 -k"$1","$1"g |
    awk -F'\t' -v col="$1" '
      { k = $2 "\t" $3; v[k, ++n[k]] = $col; if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
      END { for (i = 1; i <= m; i++) { k = order[i]; c = n[k]
              med = (c % 2) ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2
              printf "%s\t%g (%g-%g)\n", k, med, v[k, 1], v[k, c] } }'
}
{
  echo "median (min-max) over $ROUNDS round(s), $TASKS tasks per run"
  for col in 7 9 10 11 12 5; do
    echo "== $(head -1 "$RESULTS" | cut -f"$col")"
    summarize "$col"
  done
} | tee "$RESULTS.summary"
