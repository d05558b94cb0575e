#!/usr/bin/env bash
# What the SQLite store costs in throughput: the benchmark (`cargo run --release --example
# bench`) without a store and with a fresh SQLite file, run alternately ROUNDS times, so that
# both see the same machine. Prints every run, the medians, and the median of the per-round
# ratios (store / no store).
#
#   bench/store-cost.sh [ROUNDS] [TASKS] [CONCURRENCY]      (defaults: 7 30000 64)
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

# One run: prints "THROUGHPUT CPU_PER_TASK".
run() {
  "$BENCH" --tasks "$TASKS" --concurrency "$CONCURRENCY" "$@" 2>/dev/null |
    awk '/throughput/ {t=$2} /CPU per task/ {c=$4} END {print t, c}'
}

printf '%-6s %22s %22s %8s\n' round "no store (tasks/s, µs)" "SQLite (tasks/s, µs)" ratio
: >"$DIR/none"
: >"$DIR/sqlite"
: >"$DIR/ratio"
for round in $(seq "$ROUNDS"); do
  read -r t0 c0 < <(run)
  rm -f "$DIR"/bench.db*
  read -r t1 c1 < <(run --store "sqlite://$DIR/bench.db")
  ratio=$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.2f", a / b}')
  printf '%-6s %13s %8s %13s %8s %8s\n' "$round" "$t0" "$c0" "$t1" "$c1" "$ratio"
  echo "$t0 $c0" >>"$DIR/none"
  echo "$t1 $c1" >>"$DIR/sqlite"
  echo "$ratio" >>"$DIR/ratio"
done

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo
echo "median throughput, no store: $(cut -d' ' -f1 "$DIR/none" | median) tasks/s ($(cut -d' ' -f2 "$DIR/none" | median) µs CPU per task)"
echo "median throughput, SQLite:   $(cut -d' ' -f1 "$DIR/sqlite" | median) tasks/s ($(cut -d' ' -f2 "$DIR/sqlite" | median) µs CPU per task)"
echo "median ratio SQLite / no store: $(median <"$DIR/ratio")"
