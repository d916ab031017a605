#!/usr/bin/env bash
# Coverage-guided fuzzing of everything that reads input from outside: every target of
# fuzz/ (cargo fuzz, libFuzzer, the nightly toolchain) for SECONDS each, from the corpus
# kept in fuzz/corpus/ (seeded from the document's samples). A crash, a hang (over 10 s
# on one input) or more than 2 GiB of memory fails the run; what found it is kept in
# fuzz/artifacts/.
#
#   scripts/fuzz.sh 10          # the test script's smoke run
#   scripts/fuzz.sh 3600        # a longer run
#   FUZZ_TARGETS="envelope payloads" scripts/fuzz.sh 60
#   FUZZ_KEEP=1 scripts/fuzz.sh 514   # an hour in all; what it found is minimised
#                                     # (cargo fuzz cmin) into the kept corpus
# Built without AddressSanitizer: the project forbids `unsafe` code, so what ASan would
# add is a slower build and slower runs; panics, hangs and memory use are what is looked for.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list --fuzz-dir fuzz)}"
cargo +nightly fuzz build --fuzz-dir fuzz -O --sanitizer none
for target in $targets; do
  echo "== fuzz $target for ${seconds}s"
  # The corpus grows in a scratch copy; `cargo fuzz cmin` keeps the kept corpus small.
  scratch="$(mktemp -d)"
  cp -r "fuzz/corpus/$target/." "$scratch/"
  log="$scratch.log"
  status=0
  cargo +nightly fuzz run --fuzz-dir fuzz -O --sanitizer none "$target" "$scratch" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  # The figures: executions, coverage (cov: edges, ft: features), corpus, memory.
  grep -E "^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb|new_units_added))" "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "$log" >&2
  fi
  if [ "$status" -eq 0 ] && [ -n "${FUZZ_KEEP:-}" ]; then
    cargo +nightly fuzz cmin --fuzz-dir fuzz -O --sanitizer none "$target" "$scratch" >"$log" 2>&1 \
      || { tail -20 "$log" >&2; exit 1; }
    rm -rf "fuzz/corpus/$target" && mkdir -p "fuzz/corpus/$target" && cp -r "$scratch/." "fuzz/corpus/$target/"
    echo "kept corpus of $target: $(ls "fuzz/corpus/$target" | wc -l) inputs, $(du -sh "fuzz/corpus/$target" | cut -f1)"
  fi
  rm -rf "$scratch" "$log"
  if [ "$status" -ne 0 ]; then
    echo "fuzz target $target failed (exit $status); its input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
