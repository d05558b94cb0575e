#!/usr/bin/env bash
# What the task stores cost in throughput and worker CPU: the benchmark (`cargo run --release
# --example bench`, dev engine in a separate process, no-op unit) without a store, with a fresh
# SQLite file and with a fresh PostgreSQL database, run alternately ROUNDS times so that all see
# the same machine. Prints every run, the medians, and the medians of the per-round ratios
# (store / no store).
#
#   bench/store-cost.sh [ROUNDS] [TASKS] [CONCURRENCY]      (defaults: 7 30000 64)
#
# PostgreSQL: the server at BPTL_BENCH_POSTGRES_URL (default: BPTL_TEST_POSTGRES_URL, then
# postgres://postgres:postgres@127.0.0.1:5432/postgres); each run gets a fresh database
# `bptl_bench` (made with psql). Without psql or a server, PostgreSQL is left out. The server's
# own CPU is not in the worker's CPU figure.
#
# BPTL_BENCH_BEFORE=PATH (a `bench` binary of another build, e.g. copied from
# $CARGO_TARGET_DIR/release/examples/bench before a change) adds, every round, a SQLite run of
# that binary: the column "before" and the median ratio of this build's SQLite run to it.
#
# On a shared 2-core VM single runs drift by ±20 %; the alternation and the medians are what
# make the figure repeatable.
set -euo pipefail
ROUNDS="${1:-7}"
TASKS="${2:-30000}"
CONCURRENCY="${3:-64}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --release --example bench --quiet)
BENCH="$TARGET/release/examples/bench"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT

PG_ADMIN="${BPTL_BENCH_POSTGRES_URL:-${BPTL_TEST_POSTGRES_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}}"
PG_URL="${PG_ADMIN%/*}/bptl_bench"
pg_fresh() {
  psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS bptl_bench WITH (FORCE)" -c "CREATE DATABASE bptl_bench" >/dev/null
}
if command -v psql >/dev/null && pg_fresh 2>/dev/null; then
  WITH_PG=1
else
  WITH_PG=0
  echo "(PostgreSQL left out: no psql, or no server at ${PG_ADMIN%%@*}@…)"
fi

BEFORE="${BPTL_BENCH_BEFORE:-}"
if [ -n "$BEFORE" ] && [ ! -x "$BEFORE" ]; then
  echo "BPTL_BENCH_BEFORE=$BEFORE is not an executable bench binary" >&2
  exit 2
fi

# One run: prints "THROUGHPUT CPU_PER_TASK" (BIN: the binary, default this build's).
run() {
  "${BIN:-$BENCH}" --tasks "$TASKS" --concurrency "$CONCURRENCY" "$@" 2>/dev/null |
    awk '/throughput/ {t=$2} /CPU per task/ {c=$4} END {print t, c}'
}

printf '%-6s %20s %20s %20s %20s %7s %7s %7s\n' round "none (tasks/s, µs)" "SQLite" "PostgreSQL" "SQLite before" "SQLite" "PG" "/before"
for f in none sqlite pg before rsqlite rpg rbefore; do : >"$DIR/$f"; done
for round in $(seq "$ROUNDS"); do
  read -r t0 c0 < <(run)
  rm -f "$DIR"/bench.db*
  read -r t1 c1 < <(run --store "sqlite://$DIR/bench.db")
  r1=$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.2f", a / b}')
  echo "$t0 $c0" >>"$DIR/none"
  echo "$t1 $c1" >>"$DIR/sqlite"
  echo "$r1" >>"$DIR/rsqlite"
  t2=- c2=- r2=-
  if [ "$WITH_PG" = 1 ]; then
    pg_fresh
    read -r t2 c2 < <(run --store "$PG_URL")
    r2=$(awk -v a="$t2" -v b="$t0" 'BEGIN {printf "%.2f", a / b}')
    echo "$t2 $c2" >>"$DIR/pg"
    echo "$r2" >>"$DIR/rpg"
  fi
  t3=- c3=- r3=-
  if [ -n "$BEFORE" ]; then
    rm -f "$DIR"/bench.db*
    read -r t3 c3 < <(BIN="$BEFORE" run --store "sqlite://$DIR/bench.db")
    r3=$(awk -v a="$t1" -v b="$t3" 'BEGIN {printf "%.2f", a / b}')
    echo "$t3 $c3" >>"$DIR/before"
    echo "$r3" >>"$DIR/rbefore"
  fi
  printf '%-6s %12s %7s %12s %7s %12s %7s %12s %7s %7s %7s %7s\n' "$round" "$t0" "$c0" "$t1" "$c1" "$t2" "$c2" "$t3" "$c3" "$r1" "$r2" "$r3"
done

median() { sort -g | awk '{v[NR]=$1} END {if (NR) print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
summary() {
  echo "median, $1: $(cut -d' ' -f1 "$DIR/$2" | median) tasks/s, $(cut -d' ' -f2 "$DIR/$2" | median) µs worker CPU per task"
}
echo
echo "concurrency $CONCURRENCY, $TASKS tasks, $ROUNDS rounds"
summary "no store  " none
summary "SQLite    " sqlite
[ "$WITH_PG" = 1 ] && summary "PostgreSQL" pg
[ -n "$BEFORE" ] && summary "SQLite, before" before
echo "median ratio SQLite / no store:     $(median <"$DIR/rsqlite")"
[ "$WITH_PG" = 1 ] && echo "median ratio PostgreSQL / no store: $(median <"$DIR/rpg")"
[ -n "$BEFORE" ] && echo "median ratio SQLite / SQLite before:  $(median <"$DIR/rbefore")"
exit 0
