// SPDX-License-Identifier: Apache-2.0
// The trace behind shared/osprofiler/report_example.json (written by the real
// OSProfiler) as stored events, newest first as OSProfiler's Redis store reads them.
#pragma once

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dbtrace/driver.hpp"

namespace dbtrace::testing {

inline nlohmann::ordered_json report_example() {
  std::ifstream in(std::string(DBTRACE_TEST_DATA) + "/osprofiler/report_example.json");
  return nlohmann::ordered_json::parse(in);
}

inline std::vector<nlohmann::ordered_json> example_raw_events() {
  std::vector<nlohmann::ordered_json> out;
  const auto report = report_example();
  std::vector<nlohmann::ordered_json> stack{report["children"]};
  while (!stack.empty()) {
    const auto children = stack.back();
    stack.pop_back();
    for (const auto& child : children) {
      for (const auto& [key, value] : child["info"].items())
        if (key.rfind("meta.raw_payload.", 0) == 0) out.push_back(value);
      stack.push_back(child["children"]);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a["timestamp"].template get<std::string>() > b["timestamp"].template get<std::string>();
  });
  return out;
}

inline std::vector<stored_event> example_events() {
  std::vector<stored_event> out;
  for (const auto& e : example_raw_events())
    out.push_back({e["name"], e["base_id"], e["trace_id"], e["parent_id"], e["timestamp"],
                   e["project"], e["service"], e["info"]["host"], e});
  return out;
}

}  // namespace dbtrace::testing
