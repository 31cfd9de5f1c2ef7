// SPDX-License-Identifier: Apache-2.0
// libpqxx, untouched, against a real PostgreSQL server with dbtrace::pqxx
// linked: one span per statement libpq sends, on every call path, whatever
// the libpqxx version (6.4, 7.x, 8.x: the same source). What libpq sent is
// read from libpq's own protocol trace (PQtrace), never from dbtrace.
#include <libpq-fe.h>
#include <pqxx/pqxx>

#include <cstdio>
#include <regex>
#include <sstream>

#include "dbtrace/traceparent.hpp"

#include "test_support.hpp"

namespace dbtrace {
namespace {

// libpqxx's API for parameters and prepared statements, before and after 7.
template <class... Args>
::pqxx::result exec_params(::pqxx::transaction_base& tx, const std::string& sql, Args&&... args) {
#if PQXX_VERSION_MAJOR >= 7
  return tx.exec(sql, ::pqxx::params{std::forward<Args>(args)...});
#else
  return tx.exec_params(sql, std::forward<Args>(args)...);
#endif
}
template <class... Args>
::pqxx::result exec_prepared(::pqxx::transaction_base& tx, const std::string& name,
                             Args&&... args) {
#if PQXX_VERSION_MAJOR >= 7
  return tx.exec(::pqxx::prepped{name}, ::pqxx::params{std::forward<Args>(args)...});
#else
  return tx.exec_prepared(name, std::forward<Args>(args)...);
#endif
}

// The statements libpq sent while it lived, from libpq's protocol trace: a
// simple query is one Query message, an extended one (parameters, prepared)
// one Execute. A prepare alone (Parse) is none.
class libpq_sent {
 public:
  // `prepared`: the statements prepared before, by name (their Parse came earlier).
  explicit libpq_sent(PGconn* conn, std::map<std::string, std::string> prepared = {})
      : conn_(conn), prepared_(std::move(prepared)), file_(std::tmpfile()) {
    PQtrace(conn_, file_);
  }
  explicit libpq_sent(::pqxx::connection& c, std::map<std::string, std::string> prepared = {})
      : pqxx_(&c), prepared_(std::move(prepared)), file_(std::tmpfile()) {
    c.trace(file_);
  }
  ~libpq_sent() {
    stop();
    std::fclose(file_);
  }
  libpq_sent(const libpq_sent&) = delete;
  libpq_sent& operator=(const libpq_sent&) = delete;
  // Each statement's text as sent (an Execute's is that of the last Parse).
  std::vector<std::string> statements() {
    stop();
    std::rewind(file_);
    std::string text;
    for (int ch; (ch = std::fgetc(file_)) != EOF;) text += static_cast<char>(ch);
    // libpq 14+: [time\t]F\tlength\tQuery\t "text" / Parse\t "name" "text" n ...
    static const std::regex message(R"re((?:^|\t)F\t\d+\t(Query|Parse|Bind|Execute)\t ?(.*)$)re");
    static const std::regex query(R"re(^"(.*)"$)re");
    static const std::regex parse(R"re(^"([^"]*)" "(.*)" \d+( \d+)*$)re");
    static const std::regex bind(R"re(^"[^"]*" "([^"]*)")re");
    std::vector<std::string> out;
    std::string bound;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      std::smatch m, p;
      if (!std::regex_search(line, m, message)) continue;
      const std::string rest = m[2];
      if (m[1] == "Parse" && std::regex_search(rest, p, parse))
        prepared_[p[1]] = p[2];
      else if (m[1] == "Bind" && std::regex_search(rest, p, bind))
        bound = prepared_.count(p[1]) ? prepared_[p[1]] : std::string(p[1]);
      else if (m[1] == "Query")
        out.push_back(std::regex_search(rest, p, query) ? std::string(p[1]) : rest);
      else if (m[1] == "Execute")
        out.push_back(bound);
    }
    return out;
  }

 private:
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    if (pqxx_)
      pqxx_->trace(nullptr);
    else
      PQuntrace(conn_);
    std::fflush(file_);
  }
  PGconn* conn_ = nullptr;
  ::pqxx::connection* pqxx_ = nullptr;
  std::map<std::string, std::string> prepared_;
  std::FILE* file_;
  bool stopped_ = false;
};

class pqxx_test : public testing::recorder_test {
 protected:
  void SetUp() override {
    recorder_test::SetUp();
    DBTRACE_REQUIRE_PG();
    testing::capture_stderr err;
    start();
    init_said_ = err.text();
    conn_ = std::make_unique<::pqxx::connection>(testing::pg_app());
    table_ = "p_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    ::pqxx::nontransaction setup(*conn_);
    setup.exec("DROP TABLE IF EXISTS " + table_);
    setup.exec("CREATE TABLE " + table_ + " (id INTEGER PRIMARY KEY, name TEXT)");
    setup.exec("INSERT INTO " + table_ + " SELECT g, 'n' || g FROM generate_series(1, 5) g");
  }
  void TearDown() override {
    if (conn_) ::pqxx::nontransaction(*conn_).exec("DROP TABLE IF EXISTS " + table_);
    conn_.reset();
    recorder_test::TearDown();
  }
  // db spans as (start, stop) pairs in order.
  std::vector<std::pair<nlohmann::json, nlohmann::json>> spans() {
    std::vector<std::pair<nlohmann::json, nlohmann::json>> out;
    std::map<std::string, nlohmann::json> stops;
    const auto ev = events();
    for (const auto& e : ev)
      if (e["name"] == "db-stop") stops[e["trace_id"]] = e;
    for (const auto& e : ev)
      if (e["name"] == "db-start") out.emplace_back(e, stops[e["trace_id"]]);
    return out;
  }
  std::vector<std::string> statements() {
    std::vector<std::string> out;
    for (const auto& s : spans()) out.push_back(statement(s));
    return out;
  }
  static std::string statement(const std::pair<nlohmann::json, nlohmann::json>& s) {
    return s.first["info"]["db"]["statement"];
  }
  static nlohmann::json rows(const std::pair<nlohmann::json, nlohmann::json>& s) {
    return s.second["info"]["db"]["db.response.returned_rows"];
  }
  // Runs `work` in a trace; the spans' statements must be what libpq sent.
  template <class F>
  std::vector<std::pair<nlohmann::json, nlohmann::json>> traced(F&& work) {
    std::vector<std::string> sent;
    {
      libpq_sent watch(*conn_, prepared_);
      trace t;
      work();
      sent = watch.statements();
    }
    const auto s = spans();
    std::vector<std::string> recorded;
    for (const auto& sp : s) recorded.push_back(statement(sp));
    EXPECT_EQ(recorded, sent);
    return s;
  }

  // Prepares on conn_, and lets the protocol trace know the statement's text.
  void prepare(const std::string& name, const std::string& sql) {
    conn_->prepare(name, sql);
    prepared_[name] = sql;
  }

  std::unique_ptr<::pqxx::connection> conn_;
  std::map<std::string, std::string> prepared_;
  std::string table_;
  std::string init_said_;
};

TEST_F(pqxx_test, each_statement_is_one_span_with_text_rows_and_target) {
  EXPECT_EQ(init_said_.find("will not be traced"), std::string::npos) << init_said_;
  std::string base;
  const auto s = traced([&] {
    base = current_context().base_id;
    ::pqxx::work w{*conn_};
    EXPECT_EQ(w.exec("SELECT id FROM " + table_).size(), 5u);
    w.exec("UPDATE " + table_ + " SET name = 'x' WHERE id > 3");
    EXPECT_EQ(
        exec_params(w, "SELECT name FROM " + table_ + " WHERE id = $1", 4)[0][0].as<std::string>(),
        "x");
    w.commit();
  });
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(statement(s[0]).substr(0, 5), "BEGIN");
  EXPECT_EQ(statement(s[1]), "SELECT id FROM " + table_);
  EXPECT_EQ(rows(s[1]), 5);
  EXPECT_EQ(rows(s[2]), 2);  // rows affected by the UPDATE
  EXPECT_EQ(statement(s[3]), "SELECT name FROM " + table_ + " WHERE id = $1");
  EXPECT_EQ(rows(s[3]), 1);
  EXPECT_EQ(statement(s[4]), "COMMIT");
  for (const auto& sp : s) {
    EXPECT_EQ(sp.first["base_id"], base);
    EXPECT_EQ(sp.first["parent_id"], base);
    EXPECT_EQ(sp.first["info"]["db"]["db.system.name"], "postgresql");
    EXPECT_EQ(sp.first["info"]["db"]["db.namespace"], "app");
    EXPECT_EQ(sp.first["info"]["db"]["server.address"], "127.0.0.1");
    EXPECT_GT(sp.first["info"]["db"]["server.port"].get<int>(), 0);
    EXPECT_FALSE(sp.second["info"].contains("etype"));
  }
}

TEST_F(pqxx_test, prepared_statements_show_their_sql_and_params_only_when_asked) {
  prepare("by_id", "SELECT name FROM " + table_ + " WHERE id = $1");
  auto s = traced([&] {
    ::pqxx::nontransaction n{*conn_};
    EXPECT_EQ(exec_prepared(n, "by_id", 3)[0][0].as<std::string>(), "n3");
    EXPECT_EQ(exec_params(n, "SELECT $1::int + $2::int AS s", 40, 2)[0][0].as<int>(), 42);
  });
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(statement(s[0]), "SELECT name FROM " + table_ + " WHERE id = $1");
  EXPECT_FALSE(s[0].first["info"]["db"].contains("params"));

  opts_.record_params = true;
  restart();
  s = traced([&] {
    ::pqxx::nontransaction n{*conn_};
    exec_prepared(n, "by_id", 3);
    exec_params(n, "SELECT $1::text, $2::int", std::string("ada"), nullptr);
  });
  ASSERT_EQ(s.size(), 2u);
  // As libpq sends them: text, and null for NULL.
  EXPECT_EQ(s[0].first["info"]["db"]["params"], nlohmann::json::parse(R"(["3"])"));
  EXPECT_EQ(s[1].first["info"]["db"]["params"], nlohmann::json::parse(R"(["ada", null])"));
}

TEST_F(pqxx_test, a_prepared_statement_shows_its_sql_when_the_statement_table_is_full) {
  int interned = 0;
  while (intern_statement("SELECT " + std::to_string(interned))) ASSERT_LT(++interned, 100000);
  prepare("by_id", "SELECT name FROM " + table_ + " WHERE id = $1");
  const auto s = traced([&] {
    ::pqxx::nontransaction n{*conn_};
    EXPECT_EQ(exec_prepared(n, "by_id", 3)[0][0].as<std::string>(), "n3");
  });
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(statement(s[0]), "SELECT name FROM " + table_ + " WHERE id = $1");
}

// What libpqxx throws for `sql`, as type and message.
std::pair<std::string, std::string> failure_of(::pqxx::connection& c, const std::string& sql) {
  try {
    ::pqxx::nontransaction n(c);
    n.exec(sql);
  } catch (const std::exception& e) {
    return {typeid(e).name(), e.what()};
  }
  return {"none", ""};
}

TEST_F(pqxx_test, a_failing_statement_records_sqlstate_and_throws_what_libpqxx_throws) {
  const std::string bad = "SELECT * FROM no_such_table_here";
  const auto untraced = failure_of(*conn_, bad);
  std::pair<std::string, std::string> traced_failure;
  const auto s = traced([&] { traced_failure = failure_of(*conn_, bad); });
  EXPECT_EQ(traced_failure, untraced);
  EXPECT_EQ(traced_failure.first, typeid(::pqxx::undefined_table).name());
  ASSERT_EQ(s.size(), 1u);
  const auto& info = s[0].second["info"];
  EXPECT_EQ(info["etype"], "PGRES_FATAL_ERROR");
  EXPECT_EQ(info["db"]["db.response.status_code"], "42P01");
  EXPECT_EQ(info["message"], "relation \"no_such_table_here\" does not exist");
}

// The call paths a wrapper type could not see, each one span per statement sent.

void helper_taking_the_base_type(::pqxx::transaction_base& tx, const std::string& table) {
  tx.exec("SELECT count(*) FROM " + table);
}

TEST_F(pqxx_test, a_helper_taking_transaction_base_is_traced) {
  const auto s = traced([&] {
    ::pqxx::work w{*conn_};
    helper_taking_the_base_type(w, table_);
    w.commit();
  });
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(statement(s[1]), "SELECT count(*) FROM " + table_);
  EXPECT_EQ(rows(s[1]), 1);
}

TEST_F(pqxx_test, a_transaction_left_uncommitted_records_the_rollback_its_destructor_sends) {
  const auto s = traced([&] {
    ::pqxx::work w{*conn_};
    w.exec("UPDATE " + table_ + " SET name = 'gone'");
  });
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(statement(s[2]), "ROLLBACK");
}

TEST_F(pqxx_test, a_transaction_that_sends_nothing_records_nothing) {
  const auto s = traced([&] {
    ::pqxx::nontransaction n{*conn_};  // sends no BEGIN, and its commit no COMMIT
    n.commit();
  });
  EXPECT_TRUE(s.empty());
}

TEST_F(pqxx_test, an_isolation_level_transaction_and_subtransactions_are_traced) {
  const auto s = traced([&] {
    ::pqxx::transaction<::pqxx::isolation_level::serializable> w{*conn_};
    {
      ::pqxx::subtransaction sub{w};  // unnamed: libpqxx names its savepoint
      sub.exec("UPDATE " + table_ + " SET name = 'sub' WHERE id = 1");
      sub.abort();
    }
    w.exec("SELECT 1");
    w.commit();
  });
  bool serializable = false, savepoint = false;
  for (const auto& sp : s) {
    serializable |= statement(sp).find("SERIALIZABLE") != std::string::npos;
    savepoint |= statement(sp).rfind("SAVEPOINT", 0) == 0;
    EXPECT_FALSE(sp.second["info"].contains("etype")) << sp.second.dump();
  }
  EXPECT_TRUE(serializable);
  EXPECT_TRUE(savepoint);
}

TEST_F(pqxx_test, a_robusttransaction_is_traced) {
  const auto s = traced([&] {
    ::pqxx::robusttransaction<> rt{*conn_};
    rt.exec("SELECT 42");
    rt.commit();
  });
  bool ran = false;
  for (const auto& sp : s) ran |= statement(sp) == "SELECT 42";
  EXPECT_TRUE(ran);
}

TEST_F(pqxx_test, a_cursor_is_traced) {
  const auto s = traced([&] {
    ::pqxx::work w{*conn_};
    ::pqxx::stateless_cursor<::pqxx::cursor_base::read_only, ::pqxx::cursor_base::owned> cursor(
        w, "SELECT id FROM " + table_ + " ORDER BY id", "ids", false);
    EXPECT_EQ(cursor.retrieve(0, 2).size(), 2u);
    w.commit();
  });
  bool declared = false, fetched = false;
  for (const auto& sp : s) {
    declared |= statement(sp).find("DECLARE") != std::string::npos;
    fetched |= statement(sp).find("FETCH") != std::string::npos && rows(sp) == 2;
  }
  EXPECT_TRUE(declared);
  EXPECT_TRUE(fetched);
}

TEST_F(pqxx_test, a_libpqxx_pipeline_is_traced) {
  const auto s = traced([&] {
    ::pqxx::work w{*conn_};
    ::pqxx::pipeline p{w};
    const auto first = p.insert("SELECT 1");
    const auto second = p.insert("SELECT id FROM " + table_);
    EXPECT_EQ(p.retrieve(second).size(), 5u);
    EXPECT_EQ(p.retrieve(first).size(), 1u);
    p.complete();
    w.commit();
  });
  bool first = false, second = false;
  for (const auto& sp : s) {
    first |= statement(sp).find("SELECT 1") != std::string::npos;
    second |= statement(sp).find("SELECT id FROM " + table_) != std::string::npos;
  }
  // (libpqxx sends a pipeline's queries one by one or joined: as sent, either way.)
  EXPECT_TRUE(first && second) << ::testing::PrintToString(statements());
}

TEST_F(pqxx_test, streams_both_ways_are_one_span_each_with_their_rows) {
  int count = 0;
  const auto s = traced([&] {
    ::pqxx::work w{*conn_};
#if PQXX_VERSION_MAJOR >= 7
    auto out = ::pqxx::stream_to::table(w, {table_}, {"id", "name"});
    for (int i = 10; i < 13; ++i) out.write_values(i, "s" + std::to_string(i));
    out.complete();
    for (auto [id, name] : w.stream<int, std::string_view>("SELECT id, name FROM " + table_)) {
      (void)id, (void)name;
      ++count;
    }
#else
    {
      ::pqxx::stream_to out{w, table_, std::vector<std::string>{"id", "name"}};
      for (int i = 10; i < 13; ++i) out << std::make_tuple(i, "s" + std::to_string(i));
      out.complete();
    }
    {
      ::pqxx::stream_from in{w, table_};
      std::tuple<int, std::string> row;
      while (in >> row) ++count;
      in.complete();
    }
#endif
    w.commit();
  });
  EXPECT_EQ(count, 8);
  std::vector<std::int64_t> copy_rows;
  for (const auto& sp : s)
    if (statement(sp).rfind("COPY", 0) == 0) copy_rows.push_back(rows(sp).get<std::int64_t>());
  EXPECT_EQ(copy_rows, (std::vector<std::int64_t>{3, 8}));
}

TEST_F(pqxx_test, listen_and_session_variables_are_traced) {
  const auto s = traced([&] {
#if PQXX_VERSION_MAJOR >= 8 || (PQXX_VERSION_MAJOR == 7 && PQXX_VERSION_MINOR >= 10)
    conn_->listen("dbtrace_channel", [](::pqxx::notification) {});
    conn_->set_session_var("application_name", "traced");
#else
    struct receiver : ::pqxx::notification_receiver {
      using notification_receiver::notification_receiver;
      void operator()(const std::string&, int) override {}
    } r{*conn_, "dbtrace_channel"};
    conn_->set_variable("application_name", "'traced'");
#endif
  });
  bool listen = false, set = false;
  for (const auto& sp : s) {
    listen |= statement(sp).find("LISTEN") != std::string::npos;
    set |= statement(sp).rfind("SET", 0) == 0;
  }
  EXPECT_TRUE(listen);
  EXPECT_TRUE(set);
}

// libpq used directly, asynchronously: spans end when their results do.
class libpq_test : public pqxx_test {
 protected:
  void SetUp() override {
    pqxx_test::SetUp();
    raw_ = PQconnectdb(testing::pg_app().c_str());
    ASSERT_EQ(PQstatus(raw_), CONNECTION_OK);
  }
  void TearDown() override {
    PQfinish(raw_);
    pqxx_test::TearDown();
  }
  // Reads every result up to the null one (or the sync point, in a pipeline).
  std::vector<ExecStatusType> drain(bool pipeline = false) {
    std::vector<ExecStatusType> seen;
    for (int nulls = 0;;) {
      PGresult* r = PQgetResult(raw_);
      if (!r) {
        if (!pipeline || ++nulls > 8) break;
        continue;
      }
      seen.push_back(PQresultStatus(r));
      PQclear(r);
      if (seen.back() == PGRES_PIPELINE_SYNC) break;
    }
    return seen;
  }
  PGconn* raw_ = nullptr;
};

TEST_F(libpq_test, an_asynchronous_query_is_one_span_ended_by_its_results) {
  std::vector<std::string> sent;
  {
    libpq_sent watch(raw_);
    trace t;
    ASSERT_EQ(PQsendQuery(raw_, ("SELECT id FROM " + table_).c_str()), 1);
    EXPECT_EQ(drain(), std::vector<ExecStatusType>{PGRES_TUPLES_OK});
    const char* values[] = {"2"};
    ASSERT_EQ(PQsendQueryParams(raw_, ("SELECT name FROM " + table_ + " WHERE id > $1").c_str(), 1,
                                nullptr, values, nullptr, nullptr, 0),
              1);
    EXPECT_EQ(drain(), std::vector<ExecStatusType>{PGRES_TUPLES_OK});
    sent = watch.statements();
  }
  const auto s = spans();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(statements(), sent);
  EXPECT_EQ(rows(s[0]), 5);
  EXPECT_EQ(rows(s[1]), 3);
}

TEST_F(libpq_test, a_pipeline_pairs_each_statement_with_its_results) {
  std::vector<std::string> sent;
  {
    libpq_sent watch(raw_);
    trace t;
    ASSERT_EQ(PQenterPipelineMode(raw_), 1);
    const std::string good = "SELECT id FROM " + table_, bad = "SELECT * FROM no_such_table_here";
    for (const auto& sql : {good, bad, good})
      ASSERT_EQ(PQsendQueryParams(raw_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
    ASSERT_EQ(PQpipelineSync(raw_), 1);
    EXPECT_EQ(drain(true),
              (std::vector<ExecStatusType>{PGRES_TUPLES_OK, PGRES_FATAL_ERROR,
                                           PGRES_PIPELINE_ABORTED, PGRES_PIPELINE_SYNC}));
    ASSERT_EQ(PQexitPipelineMode(raw_), 1);
    sent = watch.statements();
  }
  const auto s = spans();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(statements(), sent);
  EXPECT_EQ(rows(s[0]), 5);
  EXPECT_EQ(s[1].second["info"]["db"]["db.response.status_code"], "42P01");
  EXPECT_EQ(s[2].second["info"]["etype"], "PGRES_PIPELINE_ABORTED");
}

// PQexec discards the results of an earlier asynchronous statement the
// application did not read (libpq allows it): that statement keeps its own
// results, and the statements after it theirs.
TEST_F(libpq_test, a_statement_whose_results_were_left_unread_keeps_its_own) {
  std::vector<std::string> sent;
  {
    libpq_sent watch(raw_);
    trace t;
    ASSERT_EQ(PQsendQuery(raw_, ("SELECT id FROM " + table_).c_str()), 1);
    PQclear(PQexec(raw_, ("SELECT id FROM " + table_ + " WHERE id > 3").c_str()));
    ASSERT_EQ(PQsendQuery(raw_, ("SELECT id FROM " + table_ + " WHERE id > 4").c_str()), 1);
    EXPECT_EQ(drain(), std::vector<ExecStatusType>{PGRES_TUPLES_OK});
    sent = watch.statements();
  }
  const auto s = spans();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(statements(), sent);
  EXPECT_EQ(rows(s[0]), 5);
  EXPECT_EQ(rows(s[1]), 2);
  EXPECT_EQ(rows(s[2]), 1);
}

// Executions of prepared statements show each one's own SQL, also alternating
// and after a name is prepared again with other SQL.
TEST_F(libpq_test, each_execution_of_a_prepared_statement_shows_its_sql) {
  const std::string a = "SELECT id FROM " + table_ + " WHERE id = $1",
                    b = "SELECT name FROM " + table_ + " WHERE id = $1",
                    a2 = "SELECT id, name FROM " + table_ + " WHERE id = $1";
  const char* values[] = {"1"};
  const auto run = [&](const char* name) {
    PQclear(PQexecPrepared(raw_, name, 1, values, nullptr, nullptr, 0));
  };
  {
    trace t;
    PQclear(PQprepare(raw_, "a", a.c_str(), 1, nullptr));
    PQclear(PQprepare(raw_, "b", b.c_str(), 1, nullptr));
    run("a");
    run("b");
    run("a");
    PQclear(PQexec(raw_, "DEALLOCATE a"));
    PQclear(PQprepare(raw_, "a", a2.c_str(), 1, nullptr));
    run("a");
  }
  EXPECT_EQ(statements(), (std::vector<std::string>{a, b, a, "DEALLOCATE a", a2}));
}

// libpq sends nothing for a null connection (libpqxx 8 calls PQexec(nullptr,
// "ROLLBACK") when a transaction's connection is gone): nothing is recorded.
TEST_F(libpq_test, a_call_on_no_connection_records_nothing) {
  {
    trace t;
    EXPECT_EQ(PQexec(nullptr, "ROLLBACK"), nullptr);
    EXPECT_EQ(PQexecParams(nullptr, "SELECT 1", 0, nullptr, nullptr, nullptr, nullptr, 0), nullptr);
    EXPECT_EQ(PQsendQuery(nullptr, "SELECT 1"), 0);
  }
  EXPECT_TRUE(spans().empty());
}

TEST_F(pqxx_test, nothing_outside_a_trace_and_no_password) {
  {
    libpq_sent watch(*conn_);
    ::pqxx::work w{*conn_};
    w.exec("SELECT 1");
    w.commit();
    EXPECT_EQ(watch.statements().size(), 3u);
  }
  EXPECT_TRUE(spans().empty());
  traced([&] {
    ::pqxx::nontransaction n{*conn_};
    n.exec("SELECT 3");
  });
  for (const auto& e : events()) EXPECT_EQ(e.dump().find("app-secret"), std::string::npos);
}

// sqlcommenter: the server sees the db span's traceparent; the span keeps the user's text.
TEST_F(pqxx_test, sqlcommenter_sends_the_spans_traceparent_to_the_server) {
  opts_.sqlcommenter = true;
  restart();
  const std::string own_query = "SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()";
  std::string seen_by_server, commented_already;
  {
    trace t;
    ::pqxx::nontransaction n{*conn_};
    seen_by_server = n.exec(own_query)[0][0].as<std::string>();
    commented_already = n.exec(own_query + " /* app */")[0][0].as<std::string>();
  }
  const auto s = spans();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(statement(s[0]), own_query);
  const auto traceparent = format_traceparent(s[0].first["base_id"], s[0].first["trace_id"]);
  EXPECT_EQ(seen_by_server, own_query + "/*traceparent='" + traceparent + "'*/");
  EXPECT_EQ(commented_already,
            own_query + " /* app */");  // a statement with a comment is left alone
}

}  // namespace
}  // namespace dbtrace
