#!/usr/bin/env python3
"""Prints the README tables from criterion's results of the last `cargo bench` run.

Usage: python3 benches/report.py [CRITERION_DIR]   (default: target/criterion)

Reads every `<group>/<function>/new/{benchmark,estimates}.json` and prints, per case,
the median of each function and its ratio to the group's baseline (`json_validate` for
decode groups, `json_to_vec` for encode groups).
"""

import json
import pathlib
import sys

BASELINES = {"decode": "json_validate", "encode": "json_to_vec"}
# The README's row order; cases not listed follow, by name.
CASES = [
    "small_event",
    "nsp_ack_event",
    "binary_event_2x1KiB",
    "large_event_40KB",
    "polling_10_packets",
]
COLUMNS = {
    "decode": ["halyard", "halyard_owned_input", "halyard_with_engineio", "engineio_only"],
    "encode": ["raw", "typed", "payload_only"],
}


def fmt(ns):
    if ns >= 1000:
        return f"{ns / 1000:.2f} µs"
    return f"{ns:.1f} ns"


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
    medians = {}
    for bench in sorted(root.glob("*/*/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        kind, case = meta["group_id"].split("/", 1)
        medians.setdefault(kind, {}).setdefault(case, {})[meta["function_id"]] = estimates[
            "median"
        ]["point_estimate"]
    for kind in ("decode", "encode"):
        baseline = BASELINES[kind]
        print(f"\n{kind}: median (ratio to `{baseline}`)\n")
        print(f"| case | `{baseline}` | " + " | ".join(f"`{c}`" for c in COLUMNS[kind]) + " |")
        print("|---|---:|" + "---:|" * len(COLUMNS[kind]))
        cases = medians.get(kind, {})
        order = sorted(cases, key=lambda c: (CASES.index(c) if c in CASES else len(CASES), c))
        for case in order:
            functions = cases[case]
            base = functions.get(baseline)
            cells = []
            for column in COLUMNS[kind]:
                value = functions.get(column)
                if value is None:
                    cells.append("")
                elif base:
                    cells.append(f"{fmt(value)} ({value / base:.2f}×)")
                else:
                    cells.append(fmt(value))
            print(f"| {case} | {fmt(base) if base else ''} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
