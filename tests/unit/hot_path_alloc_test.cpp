// SPDX-License-Identifier: Apache-2.0
// The hot path allocates nothing for a statement it has seen before: counted
// by replacing the global operator new for this test binary.
#include "dbtrace/sql.hpp"
#include "replaced_new.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

using hot_path = testing::recorder_test;

TEST_F(hot_path, recording_a_known_statement_allocates_nothing) {
  start();
  trace t;
  span request{"request"};
  const auto target = intern_target({"sqlite", "app.db", "", 0});
  const std::string sql = "SELECT name FROM users WHERE id = :id";
  { sql_span warm(target, intern_statement(sql)); }  // first sight: interned once

  testing::counting_allocations = true;
  for (int i = 0; i < 1000; ++i) {
    sql_span s(target, intern_statement(sql));  // one-shot path: lookup included
    s.rows(1);
  }
  const auto prepared = intern_statement(sql);
  for (int i = 0; i < 1000; ++i) sql_span s(target, prepared);  // prepared path
  testing::counting_allocations = false;

  EXPECT_EQ(testing::allocations, 0);
  ASSERT_TRUE(flush());
  EXPECT_EQ(stats().exported, 2u + 2u * 2000u + 1u);  // + request-start
}

TEST_F(hot_path, the_counter_sees_allocations) {
  // Guards the test above: a statement never seen before must be copied.
  start();
  trace t;
  testing::counting_allocations = true;
  { sql_span s({}, "SELECT 'a statement not seen before'"); }
  testing::counting_allocations = false;
  EXPECT_GT(testing::allocations, 0);
}

}  // namespace
}  // namespace dbtrace
