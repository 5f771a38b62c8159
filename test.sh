#!/usr/bin/env bash
# The whole test suite, as CI runs it: reference peers from npm, formatting, lints,
# every test of the workspace (unit, property, doc, interop, the chat demo in headless
# Chromium), then a fuzz smoke run.
#
#   ./test.sh                   # everything
#   FUZZ_SECONDS=5 ./test.sh    # shorter fuzz smoke run
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n== %s\n' "$*"; }

step "reference peers (npm ci in interop/)"
npm ci --prefix interop --no-audit --no-fund --loglevel=error

step "Chromium for the browser test (Debian's chromium package)"
if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update && apt-get install -y chromium
  else
    echo "Chromium is missing: install it with \`sudo apt-get install -y chromium\` (Debian/Ubuntu)," >&2
    echo "or point CHROMIUM at a Chromium binary, then run ./test.sh again." >&2
    exit 1
  fi
fi

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
