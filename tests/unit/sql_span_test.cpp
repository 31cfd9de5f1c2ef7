// SPDX-License-Identifier: Apache-2.0
// One sql_span per execution becomes a db-start/db-stop pair with OSProfiler's
// keys and the OTel database attributes.
#include "dbtrace/sql.hpp"

#include <future>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <thread>
#include <utility>

#include "test_support.hpp"
#include "trace/clock.hpp"
#include "trace/statements.hpp"

namespace dbtrace {
namespace {

using sql_span_test = testing::recorder_test;

TEST_F(sql_span_test, a_span_never_ends_before_it_starts_when_the_clock_steps_back) {
  start();
  {
    trace t;
    sql_span s({}, "SELECT 1");
    // The wall clock is stepped back a second while the statement runs (NTP,
    // or a new anchor of the TSC clock): the span ends at its start, not before.
    if (detail::g_fast_clock.load()) {
      const auto seq = detail::g_anchor.sequence.load();
      detail::g_anchor.sequence.store(seq + 1);
      detail::g_anchor.wall_ns.store(detail::system_ns() - 1000000000);
      detail::g_anchor.tsc.store(__rdtsc());
      detail::g_anchor.sequence.store(seq + 2);
    } else {
      GTEST_SKIP() << "the kernel's clocksource is not the TSC here";
    }
  }
  detail::reanchor_fast_clock();
  const auto ev = events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_LE(ev[0]["timestamp"].get<std::string>(), ev[1]["timestamp"].get<std::string>());
}

TEST_F(sql_span_test, a_statement_becomes_a_db_span_under_the_current_span) {
  start();
  const auto target = intern_target({"postgresql", "app", "127.0.0.1", 5432});
  std::string base;
  {
    trace t;
    base = t.base_id();
    span request{"wsgi"};
    sql_span s(target, intern_statement("SELECT id FROM users WHERE id = $1"));
    ASSERT_TRUE(s.recording());
    s.rows(1);
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 4u);
  const auto& start_ev = ev[1];
  const auto& stop_ev = ev[2];
  EXPECT_EQ(start_ev["name"], "db-start");
  EXPECT_EQ(stop_ev["name"], "db-stop");
  EXPECT_EQ(start_ev["base_id"], base);
  EXPECT_EQ(start_ev["parent_id"], ev[0]["trace_id"]);
  EXPECT_EQ(stop_ev["trace_id"], start_ev["trace_id"]);
  const auto& db = start_ev["info"]["db"];
  EXPECT_EQ(db["statement"], "SELECT id FROM users WHERE id = $1");
  EXPECT_FALSE(db.contains("params"));  // off unless record_params
  EXPECT_EQ(db["db.system.name"], "postgresql");
  EXPECT_EQ(db["db.namespace"], "app");
  EXPECT_EQ(db["server.address"], "127.0.0.1");
  EXPECT_EQ(db["server.port"], 5432);
  EXPECT_EQ(db["db.operation.name"], "SELECT");
  EXPECT_EQ(stop_ev["info"]["db"]["db.response.returned_rows"], 1);
  EXPECT_LE(start_ev["timestamp"].get<std::string>(), stop_ev["timestamp"].get<std::string>());
  EXPECT_EQ(start_ev["timestamp"].get<std::string>().size(), 26u);
}

// A shim keeps one sql_span per statement and restarts it per execution: each
// execution is its own db span, with its own id and nothing carried over.
TEST_F(sql_span_test, a_restarted_span_records_each_execution_as_its_own_span) {
  start();
  const auto statement = intern_statement("SELECT name FROM users WHERE id = ?");
  std::string request_id;
  {
    trace t;
    span request{"request"};
    std::optional<sql_span> s;
    s.emplace(target_ref{}, statement);
    s->rows(1);
    s->batch_size(3);
    s->end_now();
    s->keep_open();
    for (int i = 0; i < 2; ++i) s->restart(target_ref{}, statement);
    ASSERT_TRUE(s->recording());
  }
  std::vector<nlohmann::json> starts, stops;
  for (const auto& e : events()) {
    if (e["name"] == "request-start") request_id = e["trace_id"];
    if (e["name"] == "db-start") starts.push_back(e);
    if (e["name"] == "db-stop") stops.push_back(e);
  }
  ASSERT_EQ(starts.size(), 3u);
  ASSERT_EQ(stops.size(), 3u);
  const std::regex span_id("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string id = starts[i]["trace_id"];
    EXPECT_TRUE(std::regex_match(id, span_id)) << id;
    EXPECT_EQ(stops[i]["trace_id"], id);
    EXPECT_EQ(starts[i]["parent_id"], request_id);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 3u);
  // The first execution's rows and batch size stay with it.
  EXPECT_EQ(stops[0]["info"]["db"]["db.response.returned_rows"], 1);
  EXPECT_EQ(starts[0]["info"]["db"]["db.operation.batch.size"], 3);
  for (std::size_t i = 1; i < 3; ++i) {
    EXPECT_FALSE(stops[i]["info"]["db"].contains("db.response.returned_rows"));
    EXPECT_FALSE(starts[i]["info"]["db"].contains("db.operation.batch.size"));
  }
}

TEST_F(sql_span_test, a_span_restarted_after_its_trace_ended_records_nothing_more) {
  start();
  const auto statement = intern_statement("SELECT 1");
  std::optional<sql_span> s;
  {
    trace t;
    s.emplace(target_ref{}, statement);
    s->keep_open();
  }  // the trace finishes the span kept open
  s->restart(target_ref{}, statement);
  EXPECT_FALSE(s->recording());
  s.reset();
  EXPECT_EQ(events().size(), 2u);
}

TEST_F(sql_span_test, a_failed_statement_records_osprofiler_and_otel_error_fields) {
  start();
  {
    trace t;
    sql_span s({}, "SELECT * FROM missing");
    s.error("pqxx::undefined_table", "relation \"missing\" does not exist", "42P01", "system");
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 2u);
  const auto& info = ev[1]["info"];
  EXPECT_EQ(info["etype"], "pqxx::undefined_table");
  EXPECT_EQ(info["message"], "relation \"missing\" does not exist");
  EXPECT_EQ(info["db"]["original_exception"], "relation \"missing\" does not exist");
  EXPECT_EQ(info["db"]["db.response.status_code"], "42P01");
  EXPECT_EQ(info["db"]["error.type"], "pqxx::undefined_table");
  EXPECT_EQ(info["db"]["db.error.category"], "system");
}

TEST_F(sql_span_test, params_are_recorded_only_when_asked) {
  start();
  {
    trace t;
    sql_span s({}, "SELECT $1, $2, $3");
    EXPECT_FALSE(s.wants_params());
    s.param("secret");
  }
  EXPECT_FALSE(events()[0]["info"]["db"].contains("params"));

  opts_.record_params = true;
  restart();
  {
    trace t;
    sql_span s({}, "SELECT $1, $2, $3");
    ASSERT_TRUE(s.wants_params());
    s.param(7);
    s.param("x");
    s.param(nullptr);
  }
  EXPECT_EQ(events()[0]["info"]["db"]["params"], nlohmann::json::parse(R"([7, "x", null])"));
}

// A megabyte blob bound to a statement costs the queue and the store no more
// than max_param_length: cut on a character boundary and marked, as texts are.
TEST_F(sql_span_test, a_long_bound_value_is_cut_to_max_param_length_and_marked) {
  opts_.record_params = true;
  opts_.max_param_length = 100;
  start();
  const std::string big(1 << 20, 'x');
  {
    trace t;
    sql_span s({}, "INSERT INTO files VALUES (?, ?)");
    s.param(big);
    s.param(value::array({"short", big}));  // a bulk row
  }
  const auto params = events()[0]["info"]["db"]["params"];
  const std::string cut = std::string(100, 'x') + "... [dbtrace: truncated, 1048576 bytes]";
  EXPECT_EQ(params, nlohmann::json::array({cut, nlohmann::json::array({"short", cut})}));
}

TEST_F(sql_span_test, nothing_is_recorded_outside_a_trace_or_with_trace_sql_off) {
  start();
  {
    sql_span s({}, "SELECT 1");
    EXPECT_FALSE(s.recording());
  }
  opts_.trace_sql = false;
  restart();
  {
    trace t;
    span rpc{"rpc"};
    sql_span s({}, "SELECT 1");
    EXPECT_FALSE(s.recording());
    EXPECT_FALSE(intern_statement("SELECT 1"));
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 2u);  // the rpc span only
  EXPECT_EQ(ev[0]["name"], "rpc-start");
}

TEST_F(sql_span_test, long_statements_are_truncated_and_invalid_utf8_is_replaced) {
  opts_.max_statement_length = 100;
  start();
  const std::string huge = "SELECT '" + std::string(1 << 20, 'x') + "'";
  {
    trace t;
    { sql_span a({}, huge); }
    { sql_span b({}, intern_statement("SELECT 'caf\xC3'")); }
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 4u);
  const std::string cut = ev[0]["info"]["db"]["statement"];
  EXPECT_EQ(cut.substr(0, 100), huge.substr(0, 100));
  EXPECT_NE(cut.find("truncated, 1048585 bytes"), std::string::npos);
  EXPECT_EQ(ev[2]["info"]["db"]["statement"], "SELECT 'caf\xEF\xBF\xBD'");
}

// Text that is not UTF-8 at the cut (here: nothing but continuation bytes)
// is cut at the limit with the mark, not emptied; both paths: copied (too long
// to intern) and interned.
TEST_F(sql_span_test, a_statement_of_continuation_bytes_is_cut_and_marked_not_emptied) {
  opts_.max_statement_length = 100;
  start();
  const std::string huge(10 << 20, '\x80');
  const std::string small(300, '\x80');
  {
    trace t;
    { sql_span a({}, huge); }
    { sql_span b({}, intern_statement(small)); }
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 4u);
  for (const auto& [index, size] :
       {std::pair<int, std::size_t>{0, huge.size()}, {2, small.size()}}) {
    const std::string text = ev[index]["info"]["db"]["statement"];
    EXPECT_NE(text.find("\xEF\xBF\xBD"), std::string::npos) << index;  // replaced, not dropped
    EXPECT_NE(text.find("truncated, " + std::to_string(size) + " bytes"), std::string::npos)
        << index << ": " << text.substr(text.size() > 80 ? text.size() - 80 : 0);
  }
}

TEST_F(sql_span_test, sanitize_statements_records_no_literals) {
  opts_.sanitize_statements = true;
  start();
  {
    trace t;
    sql_span s({}, "SELECT * FROM users WHERE password = 'hunter2'");
  }
  EXPECT_EQ(events()[0]["info"]["db"]["statement"], "SELECT * FROM users WHERE password = ?");
}

TEST_F(sql_span_test, past_the_statement_tables_capacity_a_new_statement_takes_no_lock) {
  opts_.sanitize_statements = true;
  start();
  // Fill the process's statement table (an application that inlines its literals).
  int interned = 0;
  while (intern_statement("SELECT " + std::to_string(interned))) ASSERT_LT(++interned, 100000);
  ASSERT_GT(interned, 1000);
  // With the table's lock held elsewhere, a statement never seen must still
  // record at once: the application's thread neither waits nor sanitizes.
  detail::lock_interning();
  auto recorded = std::async(std::launch::async, [] {
    trace t;
    sql_span s({}, "SELECT * FROM users WHERE password = 'hunter2'");
  });
  const bool without_waiting =
      recorded.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  detail::unlock_interning();
  recorded.get();
  EXPECT_TRUE(without_waiting);
  // The exporter prepared it as the table would have.
  const auto ev = events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0]["info"]["db"]["statement"], "SELECT * FROM users WHERE password = ?");
  EXPECT_EQ(ev[0]["info"]["db"]["db.operation.name"], "SELECT");
  shutdown();
  detail::forget_interned_statements();  // the table is the process's: room for the next test
}

TEST_F(sql_span_test, sanitize_statements_reads_each_targets_quotes) {
  opts_.sanitize_statements = true;
  start();
  const auto mysql = intern_target({"mysql", "app", "db", 3306});
  const auto sqlite = intern_target({"sqlite", "app.db", "", 0});
  const std::string sql = R"(SELECT "pw" FROM users WHERE name = "ada")";
  const std::string long_sql = sql + " /*" + std::string(100 << 10, ' ') + "*/";  // never interned
  {
    trace t;
    { sql_span s(mysql, sql); }
    { sql_span s(sqlite, sql); }
    { sql_span s(mysql, intern_statement(sql, mysql)); }
    { sql_span s(mysql, long_sql); }
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 8u);
  const auto text = [&](int i) { return ev[2 * i]["info"]["db"]["statement"].get<std::string>(); };
  // MySQL: both are strings. SQLite: both are identifiers.
  EXPECT_EQ(text(0), "SELECT ? FROM users WHERE name = ?");
  EXPECT_EQ(text(1), sql);
  EXPECT_EQ(text(2), "SELECT ? FROM users WHERE name = ?");
  EXPECT_EQ(text(3).substr(0, 34), "SELECT ? FROM users WHERE name = ?");
}

TEST_F(sql_span_test, a_huge_statement_is_cut_before_the_queue_and_its_literal_stays_hidden) {
  opts_.sanitize_statements = true;
  opts_.max_statement_length = 64;
  start();
  // Too long to intern: the application's thread keeps only the first 64 bytes
  // for the exporter, which cuts through the literal.
  const std::string secret(200000, 's');
  const std::string sql = "SELECT * FROM users WHERE token = '" + secret + "' AND id = 7";
  {
    trace t;
    sql_span s({}, sql);
  }
  const std::string text = events()[0]["info"]["db"]["statement"];
  EXPECT_EQ(text, "SELECT * FROM users WHERE token = ?... [dbtrace: truncated, " +
                      std::to_string(sql.size()) + " bytes]");
  // Without sanitizing, the cut falls on a character boundary, as for any statement.
  opts_.sanitize_statements = false;
  opts_.max_statement_length = 11;
  restart();
  {
    trace t;
    sql_span s({}, "SELECT '\xC3\xA9\xC3\xA9" + secret + "'");  // byte 11 is inside the second é
  }
  EXPECT_EQ(
      events()[0]["info"]["db"]["statement"],
      "SELECT '\xC3\xA9... [dbtrace: truncated, " + std::to_string(secret.size() + 13) + " bytes]");
}

TEST_F(sql_span_test, threads_with_their_own_traces_never_mix) {
  start();
  constexpr int threads = 4, statements = 200;
  std::vector<std::string> bases(threads);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      trace t;
      bases[i] = t.base_id();
      span request{"request"};
      for (int n = 0; n < statements; ++n)
        sql_span s({}, intern_statement("SELECT " + std::to_string(n % 7)));
    });
  }
  for (auto& th : pool) th.join();
  std::map<std::string, std::string> request_of;  // base_id -> request span id
  std::map<std::string, int> db_spans;
  const auto ev = events();
  for (const auto& e : ev)
    if (e["name"] == "request-start") request_of[e["base_id"]] = e["trace_id"];
  for (const auto& e : ev) {
    if (e["name"] != "db-start") continue;
    EXPECT_EQ(e["parent_id"], request_of[e["base_id"]]);
    ++db_spans[e["base_id"]];
  }
  for (const auto& b : bases) EXPECT_EQ(db_spans[b], statements);
}

}  // namespace
}  // namespace dbtrace

namespace dbtrace {
namespace {

using sql_span_keep_open_test = testing::recorder_test;

TEST_F(sql_span_keep_open_test, a_span_kept_open_ends_with_its_parent_span_not_later) {
  start();
  std::optional<sql_span> cursor;  // e.g. a statement the application still fetches from
  {
    trace t;
    {
      span rpc{"rpc"};
      cursor.emplace(target_ref{}, "SELECT id FROM t");
      cursor->rows(5);
      cursor->end_now();
      cursor->keep_open();
    }
    span later{"later"};
  }
  cursor.reset();  // already finished: records nothing more
  std::vector<std::string> names;
  for (const auto& e : events()) names.push_back(e["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"rpc-start", "db-start", "db-stop", "rpc-stop",
                                             "later-start", "later-stop"}));
}

// A shim hands an execution on (SOCI's: a statement SOCI refuses before the
// database runs it, whose error is known only later): one span, recorded by
// its new owner, with what the first owner recorded.
TEST_F(sql_span_test, a_span_handed_on_is_recorded_once_by_its_new_owner) {
  start();
  std::optional<sql_span> refused, counted;
  std::string base;
  {
    trace t;
    base = t.base_id();
    {
      sql_span first(target_ref{}, "SELECT 1");
      refused.emplace(std::move(first));
      sql_span second(target_ref{}, "SELECT 2");
      second.rows(3);
      counted.emplace(std::move(second));
    }  // the first owners record nothing
    EXPECT_TRUE(events().empty());
    refused->error("soci::soci_error", "Vectors of size 0 are not allowed.");
    refused.reset();
    counted.reset();
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0]["info"]["db"]["statement"], "SELECT 1");
  EXPECT_EQ(ev[0]["base_id"], base);
  EXPECT_EQ(ev[1]["info"]["message"], "Vectors of size 0 are not allowed.");
  EXPECT_EQ(ev[2]["info"]["db"]["statement"], "SELECT 2");
  EXPECT_EQ(ev[3]["info"]["db"]["db.response.returned_rows"], 3);
}

TEST_F(sql_span_keep_open_test, a_span_kept_open_and_handed_on_still_ends_with_its_parent_span) {
  start();
  std::optional<sql_span> cursor;
  {
    trace t;
    {
      span rpc{"rpc"};
      sql_span a(target_ref{}, "SELECT a");
      a.keep_open();
      sql_span b(target_ref{}, "SELECT b");  // b sits before a in the thread's list
      b.keep_open();
      cursor.emplace(std::move(a));
      sql_span c(std::move(b));  // b's place in the list is c's now
    }                            // c ends here; the cursor (a) with rpc
    span later{"later"};
  }
  const auto before_reset = events().size();
  cursor.reset();  // already finished with rpc: records nothing more
  const auto ev = events();
  EXPECT_EQ(ev.size(), before_reset);
  std::map<std::string, std::string> statement_of;  // trace_id -> text
  std::string rpc_stop;
  std::map<std::string, std::string> stop_of;
  for (const auto& e : ev) {
    if (e["name"] == "db-start") statement_of[e["trace_id"]] = e["info"]["db"]["statement"];
    if (e["name"] == "db-stop") stop_of[e["trace_id"]] = e["timestamp"];
    if (e["name"] == "rpc-stop") rpc_stop = e["timestamp"];
  }
  ASSERT_EQ(statement_of.size(), 2u);
  std::set<std::string> texts;
  for (const auto& [id, text] : statement_of) {
    texts.insert(text);
    ASSERT_TRUE(stop_of.count(id)) << text;
    EXPECT_LE(stop_of[id], rpc_stop) << text;
  }
  EXPECT_EQ(texts, (std::set<std::string>{"SELECT a", "SELECT b"}));
}

TEST_F(sql_span_keep_open_test, a_span_kept_open_ends_with_its_trace) {
  start();
  std::optional<sql_span> cursor;
  {
    trace t;
    cursor.emplace(target_ref{}, "SELECT 1");
    cursor->keep_open();
  }
  EXPECT_EQ(events().size(), 2u);
  cursor.reset();
  EXPECT_EQ(events().size(), 2u);
}

TEST_F(sql_span_keep_open_test, a_span_kept_open_on_one_thread_may_end_on_another) {
  start();
  std::optional<sql_span> cursor;
  {
    trace t;
    cursor.emplace(target_ref{}, "SELECT * FROM big");
    cursor->keep_open();
    // SOCI lets a statement move to another thread: it ends there.
    std::thread([&] { cursor.reset(); }).join();
  }  // this thread's trace ends: the span is no longer in its list
  const auto all = events();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["name"], "db-start");
  EXPECT_EQ(all[1]["name"], "db-stop");
}

// A shim restarts the span of a statement it keeps open: the span stays in
// the thread's list of open spans across executions, and still ends with
// the span around it.
TEST_F(sql_span_keep_open_test, a_restarted_span_kept_open_ends_with_its_parent_span) {
  start();
  const auto statement = intern_statement("SELECT id FROM t WHERE id = ?");
  std::optional<sql_span> cursor;
  {
    trace t;
    {
      span rpc{"rpc"};
      cursor.emplace(target_ref{}, statement);
      cursor->keep_open();
      for (int i = 0; i < 2; ++i) {
        cursor->restart(target_ref{}, statement);
        cursor->keep_open();
      }
    }  // the third execution ends here, with rpc
    span later{"later"};
  }
  cursor.reset();  // already finished: records nothing more
  std::vector<std::string> names;
  for (const auto& e : events()) names.push_back(e["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"rpc-start", "db-start", "db-stop", "db-start",
                                             "db-stop", "db-start", "db-stop", "rpc-stop",
                                             "later-start", "later-stop"}));
}

TEST_F(sql_span_keep_open_test, a_span_restarted_on_another_thread_leaves_the_first_threads_list) {
  start();
  const auto statement = intern_statement("SELECT * FROM big WHERE part = ?");
  std::optional<sql_span> cursor;
  std::promise<void> restarted, first_trace_ended;
  std::string second_base;
  std::thread other;
  {
    trace first;
    cursor.emplace(target_ref{}, statement);
    cursor->keep_open();
    // SOCI lets a statement move to another thread: it runs again there,
    // in that thread's trace, and stays open.
    other = std::thread([&] {
      trace second;
      second_base = second.base_id();
      cursor->restart(target_ref{}, statement);
      cursor->keep_open();
      restarted.set_value();
      first_trace_ended.get_future().wait();
    });  // the second trace ends here: the second execution with it
    restarted.get_future().wait();
  }  // the first trace ends: its list no longer holds the span
  EXPECT_EQ(events().size(), 2u) << "the first trace ended the other thread's execution";
  first_trace_ended.set_value();
  other.join();
  const auto all = events();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[3]["name"], "db-stop");
  EXPECT_EQ(all[3]["base_id"], second_base);
  cursor.reset();
  EXPECT_EQ(events().size(), 4u);
}

}  // namespace
}  // namespace dbtrace
