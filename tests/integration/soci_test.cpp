// SPDX-License-Identifier: Apache-2.0
// dbtrace::soci on SQLite and on real PostgreSQL and MariaDB servers: one span
// per execution, with the statement, ids, rows, errors and parameters; results
// and exceptions exactly as SOCI's own.
#include <soci/connection-parameters.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <soci/version.h>
#if SOCI_VERSION >= 400100
#include <sqlite3.h>
#endif

#include <atomic>
#include <chrono>
#include <ctime>
#include <thread>
#include <vector>

#include "dbtrace/soci.hpp"
#include "dbtrace/traceparent.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

struct backend_case;
void PrintTo(const backend_case& c, std::ostream* os);
struct backend_case {
  const char* name;  // SOCI backend
  const char* system;
  const char* error_type;    // what the backend throws
  const char* sleep_50ms;    // one row, one integer column x, at least 50 ms to run
  const char* fails_at_run;  // parses, then fails while it runs
  const char* fails_status;  // its db.response.status_code
};

void PrintTo(const backend_case& c, std::ostream* os) {
  *os << c.name;
}

// SQLite has no sleep and no run-time error to ask for: the test session
// registers both as functions (the database runs them while stepping).
// (SOCI 4.0's header includes sqlite3.h inside namespace sqlite_api; 4.1's
// only declares the types it needs there.)
#if SOCI_VERSION < 400100
using namespace sqlite_api;
#endif
void sqlite_sleep_ms(sqlite3_context* ctx, int, sqlite3_value** argv) {
  std::this_thread::sleep_for(std::chrono::milliseconds(sqlite3_value_int(argv[0])));
  sqlite3_result_int(ctx, 1);
}
void sqlite_fail(sqlite3_context* ctx, int, sqlite3_value**) {
  sqlite3_result_error(ctx, "failed on purpose", -1);
}

class soci_test : public testing::recorder_test,
                  public ::testing::WithParamInterface<backend_case> {
 protected:
  void SetUp() override {
    recorder_test::SetUp();
    if (is_pg()) {
      DBTRACE_REQUIRE_PG();
      connect_ = testing::pg_app();
    } else if (is_mysql()) {
      DBTRACE_REQUIRE_MYSQL();
      connect_ = testing::mysql_app();
    } else {
      const auto path = testing::temp_dir() / (test_name() + ".db");
      std::filesystem::remove(path);
      connect_ = "db=" + path.string();
    }
    // (MySQL allows 64 characters in a name, PostgreSQL 63.)
    const std::string name = test_name();
    table_ =
        "t_" + name.substr(0, 40) + "_" + std::to_string(std::hash<std::string>{}(name) % 1000000);
    start();
    sql_ = std::make_unique<soci::session>(factory(), connect_);
    raw_ = std::make_unique<::soci::session>(factory(), connect_);
    *raw_ << "DROP TABLE IF EXISTS " + table_;
    *raw_ << "CREATE TABLE " + table_ +
                 " (id INTEGER PRIMARY KEY, name VARCHAR(50), score INTEGER)";
    if (is_sqlite()) {
      auto* lite = static_cast<::soci::sqlite3_session_backend*>(soci::inner_backend(*sql_));
      auto* db = reinterpret_cast<sqlite3*>(lite->conn_);
      sqlite3_create_function(db, "sleep_ms", 1, SQLITE_UTF8, nullptr, sqlite_sleep_ms, nullptr,
                              nullptr);
      sqlite3_create_function(db, "fail_now", 0, SQLITE_UTF8, nullptr, sqlite_fail, nullptr,
                              nullptr);
    }
  }
  void TearDown() override {
    if (raw_) *raw_ << "DROP TABLE IF EXISTS " + table_;
    sql_.reset();
    raw_.reset();
    recorder_test::TearDown();
  }
  bool is_pg() const { return std::string(GetParam().name) == "postgresql"; }
  bool is_mysql() const { return std::string(GetParam().name) == "mysql"; }
  bool is_sqlite() const { return std::string(GetParam().name) == "sqlite3"; }
  ::soci::backend_factory const& factory() const {
    if (is_pg()) return ::soci::postgresql;
    if (is_mysql()) {  // loaded by name, as SOCI does (its header needs mysql.h)
      static const ::soci::connection_parameters by_name("mysql", "");
      return *by_name.get_factory();
    }
    return ::soci::sqlite3;
  }
  std::string test_name() const {
    std::string n = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (auto& c : n)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return n;
  }
  // Positional placeholder syntax is the same (:name) for both backends via SOCI.
  // (soci::use binds by reference: the values must outlive the statement, which
  // runs at the end of the full expression, so no temporaries.)
  void fill(int n) {
    for (int i = 1; i <= n; ++i) {
      const std::string name = "user" + std::to_string(i);
      const int score = i * 10;
      *raw_ << "INSERT INTO " + table_ + " (id, name, score) VALUES (:i, :n, :s)", ::soci::use(i),
          ::soci::use(name), ::soci::use(score);
    }
  }

  struct db_span {
    nlohmann::json start, stop;
    const nlohmann::json& db() const { return start["info"]["db"]; }
    std::string statement() const { return db()["statement"]; }
  };
  // The db spans recorded so far, paired by trace_id, in start order.
  std::vector<db_span> spans() {
    std::vector<db_span> out;
    std::map<std::string, nlohmann::json> stops;
    const auto ev = events();
    for (const auto& e : ev)
      if (e["name"] == "db-stop") stops[e["trace_id"]] = e;
    for (const auto& e : ev)
      if (e["name"] == "db-start") out.push_back({e, stops[e["trace_id"]]});
    std::stable_sort(out.begin(), out.end(), [](const db_span& a, const db_span& b) {
      return a.start["timestamp"].get<std::string>() < b.start["timestamp"].get<std::string>();
    });
    return out;
  }
  std::string stmt(const std::string& text) const { return text; }

  // A span's duration as its events say (timestamps are UTC %Y-%m-%dT%H:%M:%S.%f).
  static double duration_ms(const db_span& s) {
    auto at = [](const nlohmann::json& e) {
      const std::string t = e["timestamp"];
      std::tm tm{};
      strptime(t.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
      return static_cast<double>(timegm(&tm)) * 1e3 + std::stod("0" + t.substr(19)) * 1e3;
    };
    return at(s.stop) - at(s.start);
  }

  std::string connect_, table_;
  std::unique_ptr<soci::session> sql_;
  std::unique_ptr<::soci::session> raw_;
};

TEST_P(soci_test, a_one_shot_statement_is_one_span_under_the_current_span) {
  std::string base;
  {
    trace t;
    base = t.base_id();
    span request{"wsgi"};
    int id = 7;
    *sql_ << "INSERT INTO " + table_ + " (id, name, score) VALUES (:id, 'ada', 1)", ::soci::use(id);
  }
  const auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].statement(),
            "INSERT INTO " + table_ + " (id, name, score) VALUES (:id, 'ada', 1)");
  EXPECT_EQ(s[0].start["base_id"], base);
  EXPECT_NE(s[0].start["parent_id"], base);  // under the wsgi span
  EXPECT_EQ(s[0].db()["db.system.name"], GetParam().system);
  EXPECT_EQ(s[0].db()["db.operation.name"], "INSERT");
  EXPECT_FALSE(s[0].db().contains("params"));
  EXPECT_EQ(s[0].stop["info"]["db"]["db.response.returned_rows"], 1);
  EXPECT_EQ(s[0].stop["trace_id"], s[0].start["trace_id"]);
}

TEST_P(soci_test, results_are_the_drivers_own) {
  fill(3);
  int count = -1;
  std::string name;
  {
    trace t;
    *sql_ << "SELECT COUNT(*) FROM " + table_, ::soci::into(count);
    *sql_ << "SELECT name FROM " + table_ + " WHERE id = 2", ::soci::into(name);
  }
  EXPECT_EQ(count, 3);
  EXPECT_EQ(name, "user2");
  const auto s = spans();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].stop["info"]["db"]["db.response.returned_rows"], 1);
  EXPECT_EQ(s[1].statement(), "SELECT name FROM " + table_ + " WHERE id = 2");
}

TEST_P(soci_test, a_prepared_statement_is_one_span_per_execute) {
  fill(5);
  int id = 0;
  std::string name;
  // Prepared once at start-up, outside any request's trace; executed per request.
  ::soci::statement st = (sql_->prepare << "SELECT name FROM " + table_ + " WHERE id = :id",
                          ::soci::into(name), ::soci::use(id));
  {
    trace t;
    for (id = 1; id <= 4; ++id) {
      st.execute(true);
      EXPECT_EQ(name, "user" + std::to_string(id));
    }
  }
  const auto s = spans();
  ASSERT_EQ(s.size(), 4u);  // preparing is no span of its own
  std::set<std::string> ids;
  for (const auto& sp : s) {
    EXPECT_EQ(sp.statement(), "SELECT name FROM " + table_ + " WHERE id = :id");
    EXPECT_EQ(sp.stop["info"]["db"]["db.response.returned_rows"], 1);
    ids.insert(sp.start["trace_id"]);
  }
  EXPECT_EQ(ids.size(), 4u);
}

TEST_P(soci_test, a_fetch_loop_and_a_rowset_are_one_span_each_with_all_rows) {
  fill(6);
  int total = 0;
  {
    trace t;
    int id;
    ::soci::statement st =
        (sql_->prepare << "SELECT id FROM " + table_ + " ORDER BY id", ::soci::into(id));
    st.execute();
    while (st.fetch()) total += id;
    ::soci::rowset<::soci::row> rs = (sql_->prepare << "SELECT id, name FROM " + table_);
    for (const auto& r : rs) total += r.get<int>(0);
  }
  EXPECT_EQ(total, 42);
  const auto s = spans();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].stop["info"]["db"]["db.response.returned_rows"], 6);
  EXPECT_EQ(s[1].stop["info"]["db"]["db.response.returned_rows"], 6);
}

TEST_P(soci_test, bulk_operations_are_one_span_with_the_batch_size) {
  std::vector<int> ids{1, 2, 3, 4, 5};
  std::vector<std::string> names{"a", "b", "c", "d", "e"};
  std::vector<int> back(10);
  {
    trace t;
    *sql_ << "INSERT INTO " + table_ + " (id, name) VALUES (:id, :name)", ::soci::use(ids),
        ::soci::use(names);
    *sql_ << "SELECT id FROM " + table_ + " ORDER BY id", ::soci::into(back);
  }
  EXPECT_EQ(back, (std::vector<int>{1, 2, 3, 4, 5}));
  const auto s = spans();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].db()["db.operation.batch.size"], 5);
  EXPECT_EQ(s[0].stop["info"]["db"]["db.response.returned_rows"], 5);
  EXPECT_FALSE(s[1].db().contains("db.operation.batch.size"));
  EXPECT_EQ(s[1].stop["info"]["db"]["db.response.returned_rows"], 5);
}

TEST_P(soci_test, ddl_and_transactions_are_recorded) {
  {
    trace t;
    *sql_ << "CREATE TABLE " + table_ + "_x (a INTEGER)";
    {
      ::soci::transaction tr(*sql_);
      *sql_ << "INSERT INTO " + table_ + " (id) VALUES (1)";
      tr.commit();
    }
    {
      ::soci::transaction tr(*sql_);
      *sql_ << "INSERT INTO " + table_ + " (id) VALUES (2)";
    }  // rolled back
    *sql_ << "DROP TABLE " + table_ + "_x";
  }
  int count = -1;
  *raw_ << "SELECT COUNT(*) FROM " + table_, ::soci::into(count);
  EXPECT_EQ(count, 1);
  std::vector<std::string> statements;
  for (const auto& sp : spans()) statements.push_back(sp.statement());
  EXPECT_EQ(statements,
            (std::vector<std::string>{"CREATE TABLE " + table_ + "_x (a INTEGER)", "BEGIN",
                                      "INSERT INTO " + table_ + " (id) VALUES (1)", "COMMIT",
                                      "BEGIN", "INSERT INTO " + table_ + " (id) VALUES (2)",
                                      "ROLLBACK", "DROP TABLE " + table_ + "_x"}));
}

// What SOCI alone throws for `statement`, as type name and message.
template <class Session>
std::pair<std::string, std::string> failure_of(Session& s, const std::string& statement) {
  try {
    s << statement;
  } catch (const std::exception& e) {
    return {typeid(e).name(), e.what()};
  }
  return {"none", ""};
}

TEST_P(soci_test, a_failing_statement_records_the_error_and_throws_what_soci_throws) {
  const std::string bad = "SELECT * FROM no_such_table_here";
  std::pair<std::string, std::string> traced_failure;
  {
    trace t;
    traced_failure = failure_of(*sql_, bad);
  }
  EXPECT_EQ(traced_failure, failure_of(*raw_, bad));  // same type, same message
  const auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  const auto& info = s[0].stop["info"];
  EXPECT_EQ(s[0].statement(), bad);
  EXPECT_EQ(info["etype"], GetParam().error_type);
  EXPECT_NE(info["message"].get<std::string>().find("no_such_table"), std::string::npos);
  EXPECT_EQ(info["db"]["db.response.status_code"], is_pg() ? "42P01" : is_mysql() ? "1146" : "1");
  EXPECT_TRUE(info["db"].contains("db.error.category"));
}

TEST_P(soci_test, params_are_recorded_only_when_asked_and_nulls_are_null) {
  {
    trace t;
    const int id = 1;
    const std::string secret = "secret";
    *sql_ << "INSERT INTO " + table_ + " (id, name) VALUES (:id, :name)", ::soci::use(id),
        ::soci::use(secret);
  }
  EXPECT_FALSE(spans()[0].db().contains("params"));

  opts_.record_params = true;
  restart();
  {
    trace t;
    std::string name = "ada";
    ::soci::indicator null_score = ::soci::i_null;
    int score = 0;
    const int id = 2;
    *sql_ << "INSERT INTO " + table_ + " (id, name, score) VALUES (:id, :name, :score)",
        ::soci::use(id, "id"), ::soci::use(name, "name"), ::soci::use(score, null_score, "score");
  }
  const auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].db()["params"],
            nlohmann::json::parse(R"([{"id": 2}, {"name": "ada"}, {"score": null}])"));
}

TEST_P(soci_test, nothing_is_recorded_outside_a_trace_or_when_off) {
  *sql_ << "INSERT INTO " + table_ + " (id) VALUES (1)";
  opts_.enabled = false;
  restart();
  int count = 0;
  {
    trace t;
    *sql_ << "INSERT INTO " + table_ + " (id) VALUES (2)";
    *sql_ << "SELECT COUNT(*) FROM " + table_, ::soci::into(count);
  }
  EXPECT_EQ(count, 2);  // still executed, only not recorded
  opts_.enabled = true;
  opts_.trace_sql = false;
  restart();
  {
    trace t;
    *sql_ << "INSERT INTO " + table_ + " (id) VALUES (3)";
  }
  EXPECT_TRUE(spans().empty());
}

TEST_P(soci_test, the_target_is_recorded_without_the_password) {
  {
    trace t;
    *sql_ << "SELECT 1 FROM " + table_;
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 2u);
  for (const auto& e : ev) EXPECT_EQ(e.dump().find("app-secret"), std::string::npos);
  const auto& db = ev[0]["info"]["db"];
  if (!is_sqlite()) {
    EXPECT_EQ(db["db.namespace"], "app");
    EXPECT_EQ(db["server.address"], "127.0.0.1");
    EXPECT_GT(db["server.port"].get<int>(), 0);
  } else {
    EXPECT_NE(db["db.namespace"].get<std::string>().find(test_name() + ".db"), std::string::npos);
    EXPECT_FALSE(db.contains("server.address"));
  }
}

TEST_P(soci_test, threads_with_their_own_sessions_and_traces_never_mix) {
  constexpr int threads = 3, statements = 20;
  std::vector<std::string> bases(threads);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      soci::session own(factory(), connect_);
      trace t;
      bases[i] = t.base_id();
      for (int n = 0; n < statements; ++n) {
        int v = 0;
        own << "SELECT " + std::to_string(n), ::soci::into(v);
      }
    });
  }
  for (auto& th : pool) th.join();
  std::map<std::string, int> per_trace;
  for (const auto& sp : spans()) {
    EXPECT_EQ(sp.start["parent_id"], sp.start["base_id"]);
    ++per_trace[sp.start["base_id"]];
  }
  for (const auto& b : bases) EXPECT_EQ(per_trace[b], statements);
}

// A row's description runs the query on PostgreSQL and MySQL: the span times it.
TEST_P(soci_test, a_slow_query_is_timed_whole_through_rowsets_and_prepared_rows) {
  const std::string query = GetParam().sleep_50ms;
  std::size_t rows = 0;
  {
    trace t;
    ::soci::rowset<::soci::row> as_rows = (sql_->prepare << query);
    for (auto it = as_rows.begin(); it != as_rows.end(); ++it) ++rows;
    ::soci::row r;
    ::soci::statement st = (sql_->prepare << query, ::soci::into(r));
    st.execute(true);
    rows += st.got_data() ? 1 : 0;
    ::soci::rowset<int> as_ints = (sql_->prepare << query);
    for (auto it = as_ints.begin(); it != as_ints.end(); ++it) ++rows;
  }
  EXPECT_EQ(rows, 3u);
  const auto s = spans();
  ASSERT_EQ(s.size(), 3u);
  for (const auto& sp : s) {
    EXPECT_EQ(sp.statement(), query);
    EXPECT_GE(duration_ms(sp), 50.0) << sp.start.dump() << sp.stop.dump();
    EXPECT_EQ(sp.stop["info"]["db"]["db.response.returned_rows"], 1);
    EXPECT_FALSE(sp.stop["info"].contains("etype")) << sp.stop.dump();
  }
}

TEST_P(soci_test, a_query_failing_while_a_row_is_described_is_recorded_and_its_trace_stored) {
  const std::string query = GetParam().fails_at_run;
  std::string base;
  std::string caught;
  {
    trace t;
    base = t.base_id();
    try {
      ::soci::rowset<::soci::row> rs = (sql_->prepare << query);
      for (auto it = rs.begin(); it != rs.end(); ++it) {
      }
    } catch (const ::soci::soci_error& e) {
      caught = e.what();  // the application handles it and goes on
    }
  }
  EXPECT_FALSE(caught.empty());
  const auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].start["base_id"], base);
  EXPECT_EQ(s[0].statement(), query);
  const auto& info = s[0].stop["info"];
  EXPECT_EQ(info["etype"], GetParam().error_type);
  EXPECT_EQ(info["db"]["db.response.status_code"], GetParam().fails_status);
  EXPECT_NE(caught.find(info["message"].get<std::string>().substr(0, 20)), std::string::npos)
      << info.dump() << " vs " << caught;
}

TEST_P(soci_test, a_statement_soci_refuses_before_the_database_runs_it_is_an_error) {
  fill(2);
  std::vector<int> none;  // SOCI: "Vectors of size 0 are not allowed."
  const std::string query = "SELECT id FROM " + table_;
  auto run = [&](auto& s) -> std::string {  // s << … as the session's own type has it
    try {
      s << query, ::soci::into(none);
    } catch (const ::soci::soci_error& e) {
      return e.what();
    }
    return "no error";
  };
  std::string traced_error;
  {
    trace t;
    traced_error = run(*sql_);
  }
  EXPECT_EQ(traced_error, run(*raw_));  // the application's error is SOCI's own
  EXPECT_NE(traced_error.find("Vectors of size 0"), std::string::npos) << traced_error;
  auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].statement(), query);
  EXPECT_EQ(s[0].stop["info"]["etype"], "soci::soci_error") << s[0].stop.dump();
  EXPECT_EQ(s[0].stop["info"]["message"], traced_error);  // SOCI's error, as the application got it
  EXPECT_FALSE(s[0].stop["info"]["db"].contains("db.response.returned_rows")) << s[0].stop.dump();

  // A plain soci::session opened with traced() (or a dbtrace::soci::session
  // used through soci::session&): SOCI's exception is out of reach, but the
  // statement is still a failure, not a success.
  ::soci::session plain(soci::traced(factory()), connect_);
  restart();
  {
    trace t;
    EXPECT_EQ(run(plain), traced_error);
  }
  s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].stop["info"]["etype"], "soci::soci_error") << s[0].stop.dump();
  EXPECT_NE(s[0].stop["info"]["message"].get<std::string>().find("before the database ran it"),
            std::string::npos)
      << s[0].stop.dump();
}

// The SOCI the suite runs against: scripts/test.sh runs it on Debian's and on
// one built from source, and says which it expects.
TEST(soci_version, is_the_one_the_run_asked_for) {
  const char* expected = std::getenv("DBTRACE_TEST_SOCI_VERSION");
  if (!expected) GTEST_SKIP() << "DBTRACE_TEST_SOCI_VERSION not set";
  EXPECT_EQ(std::to_string(SOCI_VERSION), expected);
}

// Stored procedures: PostgreSQL only (SQLite has none).
using soci_pg_test = soci_test;

TEST_P(soci_pg_test, a_procedure_call_is_one_span) {
  *raw_ << "CREATE OR REPLACE FUNCTION " + table_ +
               "_double(x INTEGER) RETURNS INTEGER AS $$ SELECT 2 * x $$ LANGUAGE SQL";
  int in = 21, out = 0;
  {
    trace t;
    ::soci::procedure proc =
        (sql_->prepare << table_ + "_double(:x)", ::soci::use(in), ::soci::into(out));
    proc.execute(true);
  }
  EXPECT_EQ(out, 42);
  const auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].statement(), "select " + table_ + "_double(:x)");
  *raw_ << "DROP FUNCTION " + table_ + "_double(INTEGER)";
}

// sqlcommenter: the server sees the one-shot statement's db span as a traceparent.
TEST_P(soci_pg_test, sqlcommenter_names_the_span_in_the_text_the_server_gets) {
  opts_.sqlcommenter = true;
  restart();
  const std::string own_query = "SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()";
  std::string seen_by_server;
  {
    trace t;
    *sql_ << own_query, ::soci::into(seen_by_server);
  }
  const auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].statement(), own_query);  // the span keeps the user's text
  EXPECT_EQ(seen_by_server, own_query + "/*traceparent='" +
                                format_traceparent(s[0].start["base_id"], s[0].start["trace_id"]) +
                                "'*/");
}

// SQLite, but unable to count affected rows, as some SOCI backends are: its
// statements throw from get_affected_rows(), which only the application (and
// dbtrace, for the span) asks. (Debian's SOCI
// exports no backend classes to derive from, so this wraps one.)
namespace sd = ::soci::details;
struct uncounting_statement : sd::statement_backend {
  explicit uncounting_statement(sd::statement_backend* inner) : inner_(inner) {}
  void alloc() override { inner_->alloc(); }
  void clean_up() override { inner_->clean_up(); }
  void prepare(std::string const& query, sd::statement_type type) override {
    inner_->prepare(query, type);
  }
  exec_fetch_result execute(int number) override { return inner_->execute(number); }
  exec_fetch_result fetch(int number) override { return inner_->fetch(number); }
  long long get_affected_rows() override {
    throw ::soci::soci_error("affected rows are not supported");
  }
  int get_number_of_rows() override { return inner_->get_number_of_rows(); }
  std::string get_parameter_name(int index) const override {
    return inner_->get_parameter_name(index);
  }
  std::string rewrite_for_procedure_call(std::string const& query) override {
    return inner_->rewrite_for_procedure_call(query);
  }
  int prepare_for_describe() override { return inner_->prepare_for_describe(); }
#if SOCI_VERSION >= 400100
  void describe_column(int column, ::soci::db_type& type, std::string& name) override {
#else
  void describe_column(int column, ::soci::data_type& type, std::string& name) override {
#endif
    inner_->describe_column(column, type, name);
  }
  sd::standard_into_type_backend* make_into_type_backend() override {
    return inner_->make_into_type_backend();
  }
  sd::standard_use_type_backend* make_use_type_backend() override {
    return inner_->make_use_type_backend();
  }
  sd::vector_into_type_backend* make_vector_into_type_backend() override {
    return inner_->make_vector_into_type_backend();
  }
  sd::vector_use_type_backend* make_vector_use_type_backend() override {
    return inner_->make_vector_use_type_backend();
  }
  std::unique_ptr<sd::statement_backend> inner_;
};
struct uncounting_session : sd::session_backend {
  explicit uncounting_session(sd::session_backend* inner) : inner_(inner) {}
  bool is_connected() override { return inner_->is_connected(); }
  void begin() override { inner_->begin(); }
  void commit() override { inner_->commit(); }
  void rollback() override { inner_->rollback(); }
  std::string get_dummy_from_table() const override { return inner_->get_dummy_from_table(); }
  std::string get_backend_name() const override { return inner_->get_backend_name(); }
  sd::statement_backend* make_statement_backend() override {
    return new uncounting_statement(inner_->make_statement_backend());
  }
  sd::rowid_backend* make_rowid_backend() override { return inner_->make_rowid_backend(); }
  sd::blob_backend* make_blob_backend() override { return inner_->make_blob_backend(); }
  std::unique_ptr<sd::session_backend> inner_;
};
struct uncounting_factory : ::soci::backend_factory {
  sd::session_backend* make_session(::soci::connection_parameters const& p) const override {
    // Through the exported C entry point: the backend class itself is not exported.
    return new uncounting_session(::soci::factory_sqlite3()->make_session(p));
  }
};

using soci_shim_test = testing::recorder_test;

TEST_F(soci_shim_test, a_backend_that_cannot_count_rows_does_not_fail_the_statement) {
  start();
  const uncounting_factory factory;
  soci::session sql(factory, ":memory:");
  sql << "CREATE TABLE t (id INTEGER, name TEXT)";
  int count = -1;
  {
    trace t;
    // An UPDATE asks the backend how many rows changed; its answer is for the
    // span only, so its failure must not reach the application.
    EXPECT_NO_THROW(sql << "INSERT INTO t (id, name) VALUES (1, 'a')");
    EXPECT_NO_THROW(sql << "UPDATE t SET name = 'b' WHERE id = 1");
    sql << "SELECT count(*) FROM t", ::soci::into(count);
  }
  EXPECT_EQ(count, 1);
  std::size_t stops = 0;
  for (const auto& e : events())
    if (e["name"] == "db-stop") {
      ++stops;
      EXPECT_FALSE(e["info"].contains("etype")) << e.dump();  // nothing failed
    }
  EXPECT_EQ(stops, 3u);
}

// A child forked while other threads open traced sessions can open its own:
// the shim's tables of traced factories are never inherited locked.
TEST(soci_fork, a_child_forked_while_threads_open_sessions_can_open_one) {
#ifdef __SANITIZE_ADDRESS__
  // GCC 12's ASan does not hold its allocator's locks across fork(): with
  // threads allocating, the child's own allocations could wait on them.
  GTEST_SKIP() << "ASan's allocator is not fork-safe; runs in the plain and TSan passes";
#endif
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  // Looks up the traced factory, as every session's opening does, mostly
  // under the lock. (Not opening SQLite sessions itself: SQLite's own
  // allocator mutex is not held across fork() either.)
  busy.emplace_back([&stop] {
    while (!stop.load()) (void)soci::traced(*::soci::factory_sqlite3());
  });
  for (int n = 0; n < 20; ++n) {
    const pid_t pid = fork();
    if (pid == 0) {
      try {
        soci::session sql("sqlite3", ":memory:");
        int one = 0;
        sql << "SELECT 1", ::soci::into(one);
        _exit(one == 1 ? 0 : 1);
      } catch (...) {
        _exit(2);
      }
    }
    const int code = testing::exit_code_within(pid, std::chrono::seconds(30));
    if (code == -1) {  // (not ASSERT: the busy threads are joined below)
      ADD_FAILURE() << "child " << n << " hung opening a session";
      break;
    }
    EXPECT_EQ(code, 0) << "child " << n;
  }
  stop = true;
  for (auto& t : busy) t.join();
}

const backend_case sqlite_case{"sqlite3",
                               "sqlite",
                               "soci::sqlite3_soci_error",
                               "SELECT sleep_ms(50) AS x",
                               "SELECT fail_now() AS x",
                               "1"};
const backend_case postgresql_case{"postgresql",
                                   "postgresql",
                                   "soci::postgresql_soci_error",
                                   "SELECT 1 AS x FROM pg_sleep(0.05)",
                                   "SELECT 1/(g-2) AS x FROM generate_series(1, 3) g",
                                   "22012"};
const backend_case mysql_case{"mysql",
                              "mysql",
                              "soci::mysql_soci_error",
                              "SELECT 1 + SLEEP(0.05) AS x",
                              "SELECT (SELECT 1 UNION SELECT 2) AS x",
                              "1242"};
INSTANTIATE_TEST_SUITE_P(backends, soci_test,
                         ::testing::Values(sqlite_case, postgresql_case, mysql_case),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(backends, soci_pg_test, ::testing::Values(postgresql_case),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace dbtrace
