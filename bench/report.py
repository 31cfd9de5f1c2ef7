# SPDX-License-Identifier: Apache-2.0
"""Prints the benchmark results next to the budgets of design.md."""
import json
import sys

# name in the benchmark output -> (what, budget text, check)
BUDGETS = {
    "disabled_statement/repeats:5_median": ("disabled tracing, per statement", "<= 2 ns", lambda ns, _: ns <= 2),
    "record_prepared_statement/repeats:5_median": ("record one SQL span, prepared statement", "<= 40 ns",
                                                   lambda ns, _: ns <= 40),
    "record_known_one_shot_statement/repeats:5_median": ("record one SQL span, one-shot (lookup included)",
                                                         "<= 40 ns", lambda ns, _: ns <= 40),
    "clock_read": ("one clock read, for scale", "", None),
    "sanitize_typical_statement": ("sanitize a 200-character statement (once per statement)", "< 1 us",
                                   lambda ns, _: ns < 1000),
    "export_to_jsonl": ("exporter: JSON lines", ">= 1M events/s", lambda _, ips: ips >= 1e6),
    "export_to_sqlite": ("exporter: SQLite store", ">= 200k events/s", lambda _, ips: ips >= 2e5),
    "record_like_the_soci_shim/repeats:5_median": ("record one SQL span as the SOCI shim does (kept open)",
                                                   "", None),
    "open_and_close_trace/repeats:5_median": ("open and close a trace (once per request)", "", None),
    "export_to_redis": ("exporter: Redis store (loopback)", ">= 500k events/s", lambda _, ips: ips >= 5e5),
    "stats_of_a_million_spans/0/iterations:3": ("dbtrace stats, embedded store of 1M spans, by text", "<= 2 s",
                                                lambda ns, _: ns <= 2e9),
    "stats_of_a_million_spans/1/iterations:3": ("dbtrace stats, embedded store of 1M spans, by summary", "<= 2 s",
                                                lambda ns, _: ns <= 2e9),
    "stats_of_a_million_spans/4/iterations:3": ("dbtrace stats, embedded store of 1M spans, by span name", "<= 2 s",
                                                lambda ns, _: ns <= 2e9),
    "exit_with_store/embedded_store_alive/iterations:3": (
        "a 27-statement program: init, work, flush, shutdown; embedded store (reference)", "", None),
    "exit_with_store/redis_refusing/iterations:3": (
        "the same, Redis store refusing connections (default timeouts)", "<= 2 s", lambda ns, _: ns <= 2e9),
    "exit_with_store/postgres_refusing/iterations:3": (
        "the same, PostgreSQL store refusing connections", "<= 2 s", lambda ns, _: ns <= 2e9),
    "exit_with_store/otlp_refusing/iterations:3": (
        "the same, OTLP collector refusing connections", "<= 2 s", lambda ns, _: ns <= 2e9),
    "html_page_of_50k_spans/iterations:3": ("trace show --html: assemble and write a 50,000-span page", "", None),
}

RATIOS = {
    "prepared_select": ("SOCI + SQLite in-memory, prepared SELECT by id, traced / raw", 1.10),
    "one_shot_select": ("SOCI + SQLite in-memory, one-shot sql << SELECT, traced / raw", 1.05),
}

rows = []
medians = {}
for path in sys.argv[1:]:
    with open(path) as f:
        for b in json.load(f)["benchmarks"]:
            if b["name"].endswith("_median"):
                medians[b["name"].split("/repeats")[0]] = b["real_time"]
            name = b["name"].replace("/real_time", "")
            if name not in BUDGETS:
                continue
            what, budget, check = BUDGETS[name]
            ns = b["real_time"] * {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
            ips = b.get("items_per_second")
            measured = (f"{ips / 1e3:,.0f}k events/s" if ips else f"{ns / 1e6:,.0f} ms" if ns >= 1e6
                        else f"{ns:,.1f} ns")
            verdict = "" if check is None else ("within" if check(ns, ips) else "OVER BUDGET")
            rows.append((what, measured, budget, verdict))

pq_traced, pq_raw = medians.get("traced_exec_prepared"), medians.get("raw_exec_prepared")
if pq_traced and pq_raw:
    ratio = pq_traced / pq_raw
    rows.append(("libpqxx + PostgreSQL on loopback, exec_prepared, traced / raw",
                 f"{ratio:.3f} ({pq_raw:.1f} -> {pq_traced:.1f} us)", "<= 1.01",
                 "within" if ratio <= 1.01 else "OVER BUDGET"))

# The paired measurement (raw and traced blocks alternating in one process)
# carries the verdict; the separate runs' ratio is shown beside it as a check.
paired = {}
for path in sys.argv[1:]:
    with open(path) as f:
        for b in json.load(f)["benchmarks"]:
            if b["name"].startswith("paired/") and b["name"].endswith("_median"):
                paired[b["name"].split("/")[1]] = b

for key, (what, budget) in RATIOS.items():
    p = paired.get(key)
    if p:
        rows.append((what + ", paired blocks in one process",
                     f"{p['ratio']:.3f} ({p['raw_ns']:.0f} ns + {p['added_ns']:.0f} ns)",
                     f"<= {budget}", "within" if p["ratio"] <= budget else "OVER BUDGET"))
    traced, raw = medians.get(key + "/traced"), medians.get(key + "/raw_multithreaded")
    if traced and raw:
        ratio = traced / raw
        rows.append((what + ", separate runs", f"{ratio:.3f} ({raw:.0f} -> {traced:.0f} ns)",
                     "", ""))
    off = medians.get(key + "/traced_disabled")
    if off and raw:
        rows.append((what.replace("traced / raw", "tracing off / raw"), f"{off / raw:.3f}", "", ""))

# The whole cost per store: what the application thread adds, and what the
# process adds in total (exporter and flush included), per statement.
WHOLE = {"embedded": (1000, 500e3), "jsonl": (1500, None), "redis": (1500, None),
         "postgres": (1500, None), "otlp": (None, None)}
for path in sys.argv[1:]:
    with open(path) as f:
        for b in json.load(f)["benchmarks"]:
            if not b["name"].startswith("whole_cost/"):
                continue
            store = b["name"].split("/")[1]
            total_budget, rate_budget = WHOLE.get(store, (None, None))
            rows.append((f"{store}: added application-thread CPU per statement", f"{b['app_ns']:,.0f} ns", "", ""))
            rows.append((f"{store}: total added CPU per statement (exporter included)", f"{b['total_ns']:,.0f} ns",
                         f"<= {total_budget:,} ns" if total_budget else "",
                         "" if not total_budget else ("within" if b["total_ns"] <= total_budget else "OVER BUDGET")))
            rows.append((f"{store}: highest rate with nothing dropped (default queue)",
                         f"{b['max_rate'] / 1e3:,.0f}k statements/s",
                         f">= {rate_budget / 1e3:,.0f}k" if rate_budget else "",
                         "" if not rate_budget else ("within" if b["max_rate"] >= rate_budget else "OVER BUDGET")))

width = max(len(r[0]) for r in rows)
print(f"{'what':<{width}}  {'measured':>28}  {'budget':>16}  verdict")
for what, measured, budget, verdict in rows:
    print(f"{what:<{width}}  {measured:>28}  {budget:>16}  {verdict}")
