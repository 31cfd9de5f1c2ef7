// SPDX-License-Identifier: Apache-2.0
// What a store gives back, as the CLI reads it: OSProfiler events one per line
// (JSON lines, Redis list items), or a report file. Whatever the bytes, every
// output format is produced without a crash and the statistics add up.
#include "dbtrace/driver.hpp"
#include "dbtrace/osprofiler_event.hpp"
#include "dbtrace/report.hpp"
#include "dbtrace/stats.hpp"
#include "fuzz_support.hpp"

namespace {

// The events as a store the statistics scan.
class events_reader final : public dbtrace::reader {
 public:
  explicit events_reader(const std::vector<dbtrace::stored_event>& events) : events_(events) {}
  std::vector<dbtrace::trace_summary> list_traces(bool) override { return {}; }
  std::vector<dbtrace::stored_event> read_trace(const std::string&) override { return {}; }
  void scan(const std::function<bool(const dbtrace::stored_event&)>& each) override {
    for (const auto& e : events_)
      if (!each(e)) return;
  }

 private:
  const std::vector<dbtrace::stored_event>& events_;
};

// One of the CLI's outputs per input (all of them each time is too slow to
// reach a million runs): which one, from the input's length.
void render(const std::vector<dbtrace::stored_event>& events, std::size_t which) {
  using namespace dbtrace;
  const stored_trace trace = assemble_trace(events);
  switch (which % 7) {
    case 0:
      render_tree(trace, {true, 0});
      render_tree(trace, {false, 1000});
      break;
    case 1:
      render_dot(trace);
      break;
    case 2:
      render_chrome(trace);
      break;
    case 3:
      render_otlp(trace);
      break;
    case 4:
      viewer_data(trace).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      break;
    case 5: {
      // A report of the events reads back as events.
      const auto report = build_report(events);
      try {
        events_from_report(report);
      } catch (const std::invalid_argument&) {
        fuzz::must(false, "a report dbtrace built reads back");
      }
      break;
    }
    default: {
      trace_overview overview;
      for (const auto& e : events) overview.add(e);
      events_reader store(events);
      for (const auto by : {stats_grouping::text, stats_grouping::summary, stats_grouping::name}) {
        stats_query q;
        q.by = by;
        for (const auto& row : collect_stats(store, q))
          fuzz::must(row.count > 0 && row.errors <= row.count && row.p50_us <= row.p95_us &&
                         row.p95_us <= row.p99_us && row.p99_us <= row.max_us,
                     "each group's figures are consistent");
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using json = nlohmann::ordered_json;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (size > 0 && data[0] == '{' && text.find("\"children\"") != std::string_view::npos) {
    // A report file (`dbtrace trace show report.json`), read as the CLI
    // reads it: JSON nesting deeper than it may is refused, not rendered.
    try {
      render(dbtrace::events_from_report(dbtrace::parse_report_text(text)), size);
    } catch (const std::invalid_argument&) {
      // not a report, or too deep: said so to the user, as the CLI does
    }
    return 0;
  }
  std::vector<dbtrace::stored_event> events;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    json j = dbtrace::parse_event_text(text.substr(start, end - start));
    if (!j.is_discarded() && j.is_object()) events.push_back(dbtrace::stored_event_from_json(std::move(j)));
    start = end + 1;
  }
  render(events, size);
  return 0;
}
