// SPDX-License-Identifier: Apache-2.0
// file:// store: one OSProfiler event per line, in OSProfiler's key order.
#include "dbtrace/sql.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

TEST(jsonl_store, writes_one_osprofiler_event_per_line_and_reads_them_back) {
  const auto path = (testing::temp_dir() / "events.jsonl").string();
  std::filesystem::remove(path);
  options o;
  o.enabled = true;
  o.connection_string = "file://" + path;
  o.project = "p";
  o.service = "s";
  init(o);
  std::string base;
  {
    trace t;
    base = t.base_id();
    sql_span q({}, "SELECT 1");
  }
  ASSERT_TRUE(flush());  // flush means the lines are in the file now
  const auto text = testing::read_file(path);
  const auto first_line = text.substr(0, text.find('\n'));
  const auto j = nlohmann::ordered_json::parse(first_line);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "base_id", "trace_id", "parent_id", "timestamp",
                                            "info", "project", "service"}));
  EXPECT_NE(first_line.find("{\"name\": \"db-start\", \"base_id\": \""),
            std::string::npos);  // Python spacing
  shutdown();

  // A line cut short by a crash does not hide the others.
  std::ofstream(path, std::ios::app) << "{\"name\": \"db-st";
  auto store = make_reader(o.connection_string);
  ASSERT_EQ(store->list_traces(false).size(), 1u);
  const auto events = store->read_trace(base);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].name, "db-stop");
  ASSERT_TRUE(events[1].host.has_value());
  EXPECT_FALSE(events[1].host->empty());
}

}  // namespace
}  // namespace dbtrace
