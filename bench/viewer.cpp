// SPDX-License-Identifier: Apache-2.0
// `dbtrace trace show --html` on a trace of 50,000 spans: assembling the spans
// from stored events and writing the page. bench/viewer_render.py then opens
// the page this writes (DBTRACE_BENCH_VIEWER_OUT) in chromium for the first render.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>

#include "dbtrace/osprofiler_event.hpp"
#include "viewer.hpp"

namespace {

// wsgi > 5,000 × (rpc > 9 statements), as make_trace --spans 50000 records.
std::vector<dbtrace::stored_event> fifty_thousand_spans() {
  std::vector<dbtrace::stored_event> events;
  const std::string base = "a5b5b45b-9079-4be5-ad1f-61b2518fa7b8";
  std::int64_t ns = 1'764'000'000'000'000'000;
  long next_id = 0;
  auto uuid = [&] {
    char buf[37];
    std::snprintf(buf, sizeof buf, "a5b5b45b-9079-4be5-%04lx-%012lx", (next_id >> 48) & 0xffff,
                  next_id & 0xffffffffffffL);
    ++next_id;
    return std::string(buf);
  };
  auto add = [&](const std::string& name, const std::string& id, const std::string& parent,
                 nlohmann::ordered_json info) {
    std::string ts;
    dbtrace::format_timestamp(ns, ts);
    ns += 2'000;
    info["host"] = "vm";
    events.push_back(dbtrace::stored_event_from_json(
        {{"name", name}, {"base_id", base}, {"trace_id", id}, {"parent_id", parent},
         {"project", "shop"}, {"service", "orders-api"}, {"timestamp", ts}, {"info", info}}));
  };
  const auto root = uuid();
  add("wsgi-start", root, base, {{"request", {{"method", "GET"}, {"path", "/orders"}}}});
  for (int page = 0; page < 5000; ++page) {
    const auto rpc = uuid();
    add("rpc-start", rpc, root, {{"function", "load_page"}, {"page", page}});
    for (int slot = 0; slot < 9; ++slot) {
      const auto id = uuid();
      add("db-start", id, rpc,
          {{"db", {{"statement", "SELECT id, total FROM orders WHERE page = $1 AND slot = " + std::to_string(slot)},
                   {"params", {page}}, {"db.system.name", "postgresql"}, {"db.namespace", "shop"},
                   {"server.address", "db.internal"}, {"server.port", 5432},
                   {"db.operation.name", "SELECT"}}}});
      add("db-stop", id, rpc, {{"db", {{"db.response.returned_rows", 1}}}});
    }
    add("rpc-stop", rpc, root, nlohmann::ordered_json::object());
  }
  add("wsgi-stop", root, base, nlohmann::ordered_json::object());
  return events;
}

void html_page_of_50k_spans(benchmark::State& state) {
  const auto events = fifty_thousand_spans();
  std::size_t bytes = 0;
  for (auto _ : state) {
    const auto page = dbtrace::viewer::render_html(dbtrace::assemble_trace(events));
    bytes = page.size();
    benchmark::DoNotOptimize(page.data());
  }
  state.counters["spans"] = static_cast<double>(events.size() / 2);
  state.counters["page_MB"] = static_cast<double>(bytes) / 1e6;
  if (const char* out = std::getenv("DBTRACE_BENCH_VIEWER_OUT"))
    std::ofstream(out, std::ios::binary) << dbtrace::viewer::render_html(dbtrace::assemble_trace(events));
}
BENCHMARK(html_page_of_50k_spans)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
