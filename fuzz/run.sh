#!/usr/bin/env bash
# A bounded run of the fuzz targets (cargo-fuzz, libFuzzer): `fuzz/run.sh [SECONDS [TARGET...]]`,
# default 60 s for each of every target. Needs a nightly toolchain (`rustup toolchain install
# nightly`; another one: BPTL_FUZZ_TOOLCHAIN) and cargo-fuzz (`cargo install cargo-fuzz
# --locked`). One libFuzzer process at a time (no -jobs/-workers): it takes one core.
# The seeds (fuzz/seeds/TARGET, in git) start each run; what a run discovers goes to
# fuzz/corpus/TARGET, crashes to fuzz/artifacts/TARGET and libFuzzer's output to
# fuzz/artifacts/TARGET.log (all ignored by git). Every target runs; the script fails at the end
# if one found a crash, a hang (over 10 s) or an out-of-memory (over 2 GB), naming the input that
# reproduces it (`cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...`): make it a
# regression test in the owning crate (README, "Fuzzing").
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
toolchain="${BPTL_FUZZ_TOOLCHAIN:-nightly}"
all=(camunda_variables date_value duration config bpmn store_codec store_record)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

cargo "+$toolchain" fuzz build
failed=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "seeds/$target" "artifacts/$target"
  log="artifacts/$target.log"
  echo "fuzz: $target, ${seconds} s"
  status=0
  cargo "+$toolchain" fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" | sed 's/^/  /' || true
  echo "  corpus: $(find "corpus/$target" -type f | wc -l) inputs"
  if [ "$status" -ne 0 ]; then
    grep -E 'panicked at|^SUMMARY|ERROR: libFuzzer|Test unit written|^Reproduce|^Failing input' \
      "$log" | head -20 | sed 's/^/  /'
    echo "  FAILED (exit $status); the whole output is in fuzz/$log"
    failed+=("$target")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s) ran ${seconds} s each without a crash"
