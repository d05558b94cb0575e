#!/usr/bin/env bash
# A bounded run of every fuzz target (cargo-fuzz, libFuzzer): `fuzz/run.sh [SECONDS]`, default
# 60 s per target. Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# The seeds (fuzz/seeds/TARGET, in git) start each run; what a run discovers goes to
# fuzz/corpus/TARGET, crashes to fuzz/artifacts/TARGET and libFuzzer's output to
# fuzz/artifacts/TARGET.log (all ignored by git). A crash stops the script with the input that
# reproduces it (`cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...`): make it a
# regression test in the owning crate (README, "Fuzzing").
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
toolchain="${BPTL_FUZZ_TOOLCHAIN:-nightly}"
targets=(camunda_variables date_value duration config bpmn store_codec)

cargo "+$toolchain" fuzz build
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "seeds/$target" artifacts
  log="artifacts/$target.log"
  echo "fuzz: $target, ${seconds} s"
  # -timeout: an input that takes more than 10 s is a hang, reported like a crash.
  status=0
  cargo "+$toolchain" fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$log" | sed 's/^/  /' || true
  echo "  corpus: $(find "corpus/$target" -type f | wc -l) inputs"
  if [ "$status" -ne 0 ]; then
    grep -E 'panicked at|^SUMMARY|^==[0-9]+==|Test unit written|^Failing input|^Reproduce' "$log" | head -20
    echo "fuzz: $target FAILED (exit $status); the whole output is in fuzz/$log"
    exit 1
  fi
done
echo "fuzz: every target ran ${seconds} s without a crash"
