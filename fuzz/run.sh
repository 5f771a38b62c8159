#!/usr/bin/env bash
# Smoke-fuzzes every target: builds them, fuzzes each for SECONDS (default 30) starting
# from its committed corpus, then replays the committed corpus. Exits non-zero if any
# target crashes (panic, failed property, sanitizer report, timeout, OOM).
#
#   fuzz/run.sh [SECONDS]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). Runs on a stable toolchain
# through RUSTC_BOOTSTRAP=1. New inputs found go to a temporary directory, so the
# committed corpus stays untouched; crash inputs go to fuzz/artifacts/<target>/ (ignored
# by git), with the fuzzer's log next to them.
set -euo pipefail

seconds=${1:-30}
if ! [[ $seconds =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [SECONDS]" >&2
    exit 2
fi
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

# Same flags for build and run, so `run` reuses the build. Debug assertions (and with
# them overflow checks) are on: an overflow or a failed debug_assert! is a finding.
flags=(--release --debug-assertions)

# Per-target options: the longest input worth generating and a token dictionary.
options() {
    case $1 in
    socketio_packet) echo "-max_len=2048 -dict=dict/socketio.dict" ;;
    binary_attachments) echo "-max_len=4096 -dict=dict/socketio.dict" ;;
    engineio_frame) echo "-max_len=2048 -dict=dict/engineio.dict" ;;
    engineio_payload) echo "-max_len=1100 -dict=dict/engineio.dict" ;; # max_payload <= 1020
    # Op lists (src/ops.rs), no token dictionary: a few dozen ops reach deep states.
    engineio_server_session | socketio_server_connection) echo "-max_len=2048" ;;
    *) echo "-max_len=4096" ;;
    esac
}

targets=$(cargo fuzz list)
echo "== building: $(echo $targets)"
cargo fuzz build "${flags[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
start=$SECONDS

for target in $targets; do
    mkdir -p "corpus/$target" "$work/$target" "artifacts/$target"
    log="$work/$target.log"
    # shellcheck disable=SC2046 # options are words on purpose
    if cargo fuzz run "${flags[@]}" "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        $(options "$target") >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
        cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
        echo "== fuzz $target: ok (${seconds}s, $runs runs, $cov, $(ls "$work/$target" | wc -l) new inputs)"
    else
        failed+=("$target (fuzzing)")
        cp "$log" "artifacts/$target/run.log"
        echo "== fuzz $target: FAILED; log in fuzz/artifacts/$target/run.log, tail:"
        tail -n 60 "$log"
    fi

    # Replay the committed corpus alone: every seed (and regression input) must pass.
    if cargo fuzz run "${flags[@]}" "$target" "corpus/$target" -- -runs=0 >"$log" 2>&1; then
        echo "== replay $target: ok ($(ls "corpus/$target" | wc -l) inputs)"
    else
        failed+=("$target (corpus replay)")
        cp "$log" "artifacts/$target/replay.log"
        echo "== replay $target: FAILED; log in fuzz/artifacts/$target/replay.log, tail:"
        tail -n 60 "$log"
    fi
done

echo "== done in $((SECONDS - start))s after the build"
if ((${#failed[@]})); then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
