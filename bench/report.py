"""Prints the benchmark results next to the budgets of design.md."""
import json
import sys

# name in the benchmark output -> (what, budget text, check)
BUDGETS = {
    "disabled_statement/repeats:5_median": ("disabled tracing, per statement", "<= 2 ns", lambda ns, _: ns <= 2),
    "record_prepared_statement/repeats:5_median": ("record one SQL span, prepared statement", "<= 100 ns",
                                                   lambda ns, _: ns <= 100),
    "record_known_one_shot_statement/repeats:5_median": ("record one SQL span, one-shot (lookup included)",
                                                         "<= 100 ns", lambda ns, _: ns <= 100),
    "clock_read": ("one clock read, for scale", "", None),
    "sanitize_typical_statement": ("sanitize a 200-character statement (once per statement)", "< 1 us",
                                   lambda ns, _: ns < 1000),
    "export_to_jsonl": ("exporter: JSON lines", ">= 1M events/s", lambda _, ips: ips >= 1e6),
    "export_to_sqlite": ("exporter: SQLite store", ">= 200k events/s", lambda _, ips: ips >= 2e5),
}

rows = []
for path in sys.argv[1:]:
    with open(path) as f:
        for b in json.load(f)["benchmarks"]:
            name = b["name"]
            if name not in BUDGETS:
                continue
            what, budget, check = BUDGETS[name]
            ns = b["real_time"] * {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
            ips = b.get("items_per_second")
            measured = f"{ips / 1e3:,.0f}k events/s" if ips else f"{ns:,.1f} ns"
            verdict = "" if check is None else ("within" if check(ns, ips) else "OVER BUDGET")
            rows.append((what, measured, budget, verdict))

width = max(len(r[0]) for r in rows)
print(f"{'what':<{width}}  {'measured':>18}  {'budget':>18}  verdict")
for what, measured, budget, verdict in rows:
    print(f"{what:<{width}}  {measured:>18}  {budget:>18}  {verdict}")
