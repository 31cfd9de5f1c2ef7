// SPDX-License-Identifier: Apache-2.0
// The report equals what `osprofiler trace show --json` printed for the same events.
#include "dbtrace/report.hpp"

#include <gtest/gtest.h>

#include "osprofiler_samples.hpp"

namespace dbtrace {
namespace {

TEST(report, equals_osprofilers_report_of_the_same_events) {
  const auto events = testing::example_events();
  ASSERT_EQ(events.size(), 14u);
  const auto ours = build_report(events);
  const auto theirs = testing::report_example();
  // Compare as values (key order aside), and the child order too, which is part of the tree.
  EXPECT_EQ(nlohmann::json::parse(ours.dump()), nlohmann::json::parse(theirs.dump()));
  EXPECT_EQ(ours["children"][0]["children"].size(), 5u);
  EXPECT_EQ(ours["stats"]["db"]["count"], 6);
}

TEST(report, a_span_without_its_stop_event_gets_zero_duration) {
  auto events = testing::example_events();
  events.erase(std::remove_if(events.begin(), events.end(),
                              [](const stored_event& e) { return e.name == "request-stop"; }),
               events.end());
  const auto r = build_report(events);
  const auto& request = r["children"][0]["info"];
  EXPECT_EQ(request["name"], "request");
  EXPECT_EQ(request["started"], request["finished"]);
  EXPECT_FALSE(request.contains("exception"));
}

TEST(report, the_text_tree_nests_spans_and_shows_statements_and_errors) {
  const auto tree = render_tree(assemble_trace(testing::example_events()));
  EXPECT_NE(tree.find("\n  request  +0.000ms"), std::string::npos) << tree;
  EXPECT_NE(tree.find("\n    db  +"), std::string::npos) << tree;
  EXPECT_NE(tree.find("INSERT INTO items (id, name, val) VALUES (?, ?, ?)"), std::string::npos);
  EXPECT_NE(tree.find("! sqlite3.OperationalError"), std::string::npos);
  EXPECT_NE(tree.find("db: 6 in"), std::string::npos);
}

TEST(report, malformed_timestamps_are_skipped_not_fatal) {
  auto events = testing::example_events();
  events[0].timestamp = "yesterday";
  EXPECT_NO_THROW(build_report(events));
  EXPECT_EQ(build_report({})["children"].size(), 0u);
}

}  // namespace
}  // namespace dbtrace
