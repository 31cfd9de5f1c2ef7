// The hot path allocates nothing for a statement it has seen before: counted
// by replacing the global operator new for this test binary.
#include <atomic>
#include <cstdlib>
#include <new>

#include "dbtrace/sql.hpp"
#include "test_support.hpp"

namespace {
thread_local bool counting = false;
thread_local std::size_t allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (counting) ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

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

  counting = true;
  for (int i = 0; i < 1000; ++i) {
    sql_span s(target, intern_statement(sql));  // one-shot path: lookup included
    s.rows(1);
  }
  const auto prepared = intern_statement(sql);
  for (int i = 0; i < 1000; ++i) sql_span s(target, prepared);  // prepared path
  counting = false;

  EXPECT_EQ(allocations, 0u);
  ASSERT_TRUE(flush());
  EXPECT_EQ(stats().exported, 2u + 2u * 2000u + 1u);  // + request-start
}

TEST_F(hot_path, the_counter_sees_allocations) {
  // Guards the test above: a statement never seen before must be copied.
  start();
  trace t;
  counting = true;
  { sql_span s({}, "SELECT 'a statement not seen before'"); }
  counting = false;
  EXPECT_GT(allocations, 0u);
}

}  // namespace
}  // namespace dbtrace
