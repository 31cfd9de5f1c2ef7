// SPDX-License-Identifier: Apache-2.0
#include "trace_commands.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <map>

#include "common.hpp"
#include "dbtrace/report.hpp"

namespace dbtrace::cli {

int list_traces(reader& store, const list_options& o) {
  std::vector<trace_overview> traces;
  if (auto computed = store.overviews()) {
    traces = std::move(*computed);
  } else {
    std::map<std::string, std::size_t> index;
    store.scan([&](const stored_event& e) {
      auto [it, added] = index.emplace(e.base_id, traces.size());
      if (added) traces.emplace_back();
      traces[it->second].add(e);
      return true;
    });
  }
  const std::int64_t since = o.since.empty() ? INT64_MIN : parse_time("--since", o.since);
  traces.erase(std::remove_if(traces.begin(), traces.end(),
                              [&](const auto& t) {
                                return t.base_id.empty() || t.started_us < since ||
                                       (o.errors_only && t.errors == 0);
                              }),
               traces.end());
  // Largest first; ties and the default, newest first: the request just made
  // is the one a person looks for.
  auto key = [&](const trace_overview& t) -> std::int64_t {
    if (o.sort == "duration") return t.duration_us();
    if (o.sort == "errors") return static_cast<std::int64_t>(t.errors);
    return t.started_us;
  };
  const auto before = [&](const trace_overview& a, const trace_overview& b) {
    return key(a) != key(b) ? key(a) > key(b) : a.started_us > b.started_us;
  };
  std::stable_sort(traces.begin(), traces.end(), [&](const auto& a, const auto& b) {
    return o.reverse ? before(b, a) : before(a, b);
  });
  if (o.limit && traces.size() > o.limit) traces.resize(o.limit);

  if (o.as_json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& t : traces)
      out.push_back({{"base_id", t.base_id},
                     {"started", timestamp(t.started_us)},
                     {"duration_ms", static_cast<double>(t.duration_us()) / 1000.0},
                     {"spans", t.spans},
                     {"sql", t.sql},
                     {"errors", t.errors},
                     {"project", t.project},
                     {"service", t.service}});
    return write_output(out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                        "");
  }
  const bool person = is_terminal("");
  if (person && traces.empty()) return write_output("no traces\n", "");
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : traces)
    rows.push_back({t.base_id, timestamp(t.started_us), millis(t.duration_us()),
                    std::to_string(t.spans), std::to_string(t.sql), std::to_string(t.errors),
                    t.project + "/" + t.service});
  return write_output(table({"BASE ID", "STARTED (UTC)", "DURATION MS", "SPANS", "SQL", "ERRORS",
                             "PROJECT/SERVICE"},
                            rows, person),
                      "");
}

std::string trace_with_prefix(reader& store, const std::string& prefix) {
  std::vector<std::string> found;
  for (const auto& t : store.list_traces(false))
    if (t.base_id.compare(0, prefix.size(), prefix) == 0 &&
        std::find(found.begin(), found.end(), t.base_id) == found.end())
      found.push_back(t.base_id);
  if (found.size() <= 1) return found.empty() ? std::string() : found.front();
  std::string some;
  for (std::size_t i = 0; i < found.size() && i < 3; ++i) some += (i ? ", " : "") + found[i];
  throw usage_error(std::to_string(found.size()) + " traces start with " + prefix + " (" + some +
                    (found.size() > 3 ? ", …" : "") + "): give more of the id");
}

bool is_id_prefix(const std::string& s) {
  if (s.size() < 4 || s.size() >= 36) return false;
  for (const char c : s)
    if (c != '-' && !std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if ((i == 8 || i == 13 || i == 18 || i == 23)
            ? s[i] != '-'
            : !std::isxdigit(static_cast<unsigned char>(s[i])))
      return false;
  return true;
}

}  // namespace dbtrace::cli
