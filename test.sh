#!/usr/bin/env bash
# The whole test suite, as CI runs it: reference peers from npm, formatting, lints,
# every test of the workspace (unit, property, doc, interop), then a fuzz smoke run.
#
#   ./test.sh                   # everything
#   FUZZ_SECONDS=5 ./test.sh    # shorter fuzz smoke run
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n== %s\n' "$*"; }

step "reference peers (npm ci in interop/)"
npm ci --prefix interop --no-audit --no-fund --loglevel=error

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
test_log=$(mktemp)
trap 'rm -f "$test_log"' EXIT
cargo test --workspace 2>&1 | tee "$test_log"

step "fuzz smoke run (${FUZZ_SECONDS:-30} s per target)"
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked
fi
fuzz/run.sh "${FUZZ_SECONDS:-30}"

# One closing line for the whole Rust suite (unit, property, doc, interop tests).
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$test_log"
