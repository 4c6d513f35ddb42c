#!/usr/bin/env bash
# CI smoke pass of the fuzz targets: builds them and runs each one briefly
# over the committed corpus (fuzz/corpus/<target>). A panic, an abort, a
# timeout or runaway memory fails CI; libFuzzer leaves the input that did it
# in fuzz/artifacts/<target>/ and prints the command that replays it.
#
#   FUZZ_SMOKE_SECONDS   seconds of fuzzing per target (default 30)
#   FUZZ_SMOKE_PARALLEL  targets run at once (default 2, the machine's cores)
#
# The long runs and how to reproduce a finding: docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SMOKE_SECONDS:-30}"
parallel="${FUZZ_SMOKE_PARALLEL:-2}"
version=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $version" ]; then
  cargo install cargo-fuzz --version "$version" --locked
fi
# cargo-fuzz passes nightly-only flags to rustc (-Z...); this makes the
# stable toolchain accept them.
export RUSTC_BOOTSTRAP=1
# The fuzz crate is its own workspace, so the top-level fmt check skips it.
cargo fmt --all -- --check
# A debug build without AddressSanitizer builds in a third of the time of
# the release build with it (the code has no `unsafe`; overflow checks and
# debug assertions stay on). Long runs use the default: docs/fuzzing.md.
build=(--dev --sanitizer none)
# The `empirical` target writes its CSV under TMPDIR: keep it out of /tmp.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export TMPDIR="$scratch"
start=$SECONDS
cargo fuzz build "${build[@]}"
echo "fuzz smoke: built in $((SECONDS - start)) s"
# One target on each of CI's two cores (FUZZ_SMOKE_PARALLEL=1 for one at a
# time). New inputs go to a scratch folder; the committed corpus is only read.
smoke() {
  local target="$1" log="$scratch/$1.log"
  mkdir -p "$scratch/$target"
  if ! cargo fuzz run "${build[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
    -dict=toml.dict -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 >"$log" 2>&1; then
    grep -m1 -A3 "panicked at" "$log" || true
    tail -n 30 "$log"
    echo "fuzz smoke: $target FAILED (the input is in fuzz/artifacts/$target/)"
    return 1
  fi
  echo "fuzz smoke: $target ok for $seconds s:" \
    "$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$log" | tr -s ' \n' ' ')"
}
mapfile -t targets < <(cargo fuzz list)
failed=0
for ((i = 0; i < ${#targets[@]}; i += parallel)); do
  pids=()
  for target in "${targets[@]:i:parallel}"; do
    smoke "$target" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
  done
done
test "$failed" -eq 0 || { echo "fuzz smoke: FAILED"; exit 1; }
echo "fuzz smoke: ok, $((SECONDS - start)) s in all"
