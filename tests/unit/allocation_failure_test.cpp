// SPDX-License-Identifier: Apache-2.0
// Running out of memory in the middle of writing a batch: the store's
// transaction is rolled back and the batch written whole on the retry, once.
// Failing allocations on command replaces the global operator new for this
// test binary (replaced_new.hpp).
#include <filesystem>

#include "dbtrace/report.hpp"
#include "dbtrace/sql.hpp"
#include "replaced_new.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

// What a starved_writer's writes were: how many allocations the first made,
// and whether the request reached the store as one batch (the exporter may
// wake while it is still recording and take part of it first).
struct writes_seen {
  long first_allocations = 0;
  int writes = 0;
  std::size_t first_batch = 0, second_batch = 0;
  bool first_failed = false;
  // One batch: written at once, or failed and written whole on the retry.
  bool one_batch() const {
    return writes == 1 || (writes == 2 && first_failed && second_batch == first_batch);
  }
};

// Makes allocation number `fail_at` of its first write throw (on the exporter's
// thread, inside the store's write), and says how many its first write made.
struct starved_writer final : writer {
  starved_writer(std::unique_ptr<writer> inner, long fail_at, writes_seen* seen)
      : inner_(std::move(inner)), fail_at_(fail_at), seen_(seen) {}
  write_result write(const std::vector<span_view>& batch, std::string& error) noexcept override {
    testing::allocations = 0;
    testing::counting_allocations = true;
    const int n = ++seen_->writes;
    if (n == 1) testing::fail_in = fail_at_;
    const auto r = inner_->write(batch, error);
    testing::fail_in = -1;
    testing::counting_allocations = false;
    if (n == 1) {
      seen_->first_allocations = testing::allocations;
      seen_->first_batch = batch.size();
      seen_->first_failed = r != write_result::ok;
    } else if (n == 2) {
      seen_->second_batch = batch.size();
    }
    return r;
  }
  void shutdown(std::chrono::milliseconds deadline) noexcept override {
    inner_->shutdown(deadline);
  }
  std::unique_ptr<writer> inner_;
  long fail_at_;
  writes_seen* seen_;
};

TEST(allocation_failure, a_batch_cut_short_by_bad_alloc_is_rolled_back_and_written_once) {
  const std::string path = (testing::temp_dir() / "bad_alloc.db").string();
  options o;
  o.enabled = true;
  o.connection_string = "sqlite:///" + path;
  // Distinct statements, a target and an error: a batch that fills every table.
  auto request = [] {
    trace t;
    span rpc{"rpc", {{"function", "load"}}};
    const auto target = intern_target({"sqlite", "shop.db", "", 0});
    for (int i = 0; i < 20; ++i) {
      sql_span s(target, "SELECT * FROM orders WHERE id = " + std::to_string(i));
      if (i % 7 == 0) s.error("std::runtime_error", "no such table", "", "sql");
    }
    return t.base_id();
  };
  // Allocation numbers name the same point of the same write only when the
  // request reaches the store as one batch: a run where the exporter took
  // part of it early is run again.
  auto run = [&](long fail_at) {
    for (int attempt = 0;; ++attempt) {
      std::filesystem::remove(path);
      writes_seen seen;
      init(o, std::make_unique<starved_writer>(make_writer({o.connection_string, "h", "p", "s"}),
                                               fail_at, &seen));
      const std::string base = request();
      EXPECT_TRUE(flush(std::chrono::seconds(30)));
      const auto s = stats();
      shutdown();
      if (seen.one_batch() || attempt == 20) return std::make_tuple(base, s, seen);
    }
  };

  // The allocations a whole write makes, with nothing failing.
  const long total = std::get<2>(run(-1)).first_allocations;
  ASSERT_GT(total, 10);
  for (const long fail_at : {0L, total / 4, total / 2, total - 1}) {
    SCOPED_TRACE("allocation " + std::to_string(fail_at) + " of " + std::to_string(total));
    const auto [base, s, seen] = run(fail_at);
    EXPECT_TRUE(seen.one_batch()) << "the request never reached the store as one batch";
    EXPECT_EQ(s.failed_writes, 1u);  // the first write failed, the retry wrote
    EXPECT_EQ(s.dropped, 0u);
    EXPECT_EQ(s.exported, s.recorded);
    // Every span once: 21 spans, two events each.
    const auto events = make_reader(o.connection_string)->read_trace(base);
    EXPECT_EQ(events.size(), 42u);
  }
}

// A detail of a span that cannot be kept (out of memory on the application's
// thread) is no silent loss: counted, said once, and the span still written.
TEST(allocation_failure, a_bound_value_or_error_that_cannot_be_kept_is_counted_and_said_once) {
  options o;
  o.enabled = true;
  o.record_params = true;
  o.connection_string = "memory://lost-details";
  testing::capture_stderr capture;
  init(o);
  {
    trace t;
    const auto statement = intern_statement("SELECT * FROM orders WHERE id = ?");
    for (int i = 0; i < 3; ++i) {
      sql_span s({}, statement);
      dbtrace::value value = i;
      testing::fail_in = 0;  // the next allocation throws: the span's first extra
      s.param(std::move(value));
      testing::fail_in = 0;
      s.error("std::runtime_error", "a message long enough to be allocated, not inlined");
      testing::fail_in = -1;
    }
  }
  ASSERT_TRUE(flush());
  const auto st = stats();
  shutdown();
  EXPECT_EQ(st.lost_details, 6u);
  EXPECT_EQ(st.recorded, 6u);  // three SQL spans, kept
  EXPECT_EQ(st.exported, st.recorded);
  const auto said = capture.text();
  EXPECT_NE(said.find("dbtrace: a bound value could not be recorded"), std::string::npos) << said;
  EXPECT_EQ(said.find("could not be recorded"), said.rfind("could not be recorded")) << said;
}

}  // namespace
}  // namespace dbtrace
