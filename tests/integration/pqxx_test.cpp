// SPDX-License-Identifier: Apache-2.0
// dbtrace::pqxx against a real PostgreSQL server: one span per call family,
// with SQL text, ids, rows, SQLSTATE; results and exceptions are libpqxx's own.
#include "dbtrace/pqxx.hpp"

#include "dbtrace/traceparent.hpp"

#include "test_support.hpp"

// A value whose text form cannot be made the first time it is asked for
// (later, it can): dbtrace renders parameters before libpqxx does.
struct flaky_value {
  int v;
};
int flaky_renders = 0;

namespace pqxx {
template <>
struct string_traits<flaky_value> {
  static constexpr const char* name() noexcept { return "flaky_value"; }
  static constexpr bool has_null() noexcept { return false; }
  static bool is_null(const flaky_value&) { return false; }
  [[noreturn]] static flaky_value null() { internal::throw_null_conversion(name()); }
  static void from_string(const char text[], flaky_value& out) { out.v = std::atoi(text); }
  static std::string to_string(const flaky_value& f) {
    if (flaky_renders++ == 0) throw std::runtime_error("cannot render yet");
    return std::to_string(f.v);
  }
};
}  // namespace pqxx

namespace dbtrace {
namespace {

class pqxx_test : public testing::recorder_test {
 protected:
  void SetUp() override {
    recorder_test::SetUp();
    DBTRACE_REQUIRE_PG();
    start();
    conn_ = std::make_unique<pqxx::connection>(testing::pg_app());
    table_ = "p_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    ::pqxx::nontransaction setup(conn_->raw());
    setup.exec("DROP TABLE IF EXISTS " + table_);
    setup.exec("CREATE TABLE " + table_ + " (id INTEGER PRIMARY KEY, name TEXT)");
    setup.exec("INSERT INTO " + table_ + " SELECT g, 'n' || g FROM generate_series(1, 5) g");
  }
  void TearDown() override {
    if (conn_) ::pqxx::nontransaction(conn_->raw()).exec("DROP TABLE IF EXISTS " + table_);
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
  static std::string statement(const std::pair<nlohmann::json, nlohmann::json>& s) {
    return s.first["info"]["db"]["statement"];
  }
  static nlohmann::json rows(const std::pair<nlohmann::json, nlohmann::json>& s) {
    return s.second["info"]["db"]["db.response.returned_rows"];
  }

  std::unique_ptr<pqxx::connection> conn_;
  std::string table_;
};

TEST_F(pqxx_test, each_exec_family_call_is_one_span_with_text_and_rows) {
  std::string base;
  {
    trace t;
    base = t.base_id();
    pqxx::work w{*conn_};
    EXPECT_EQ(w.exec("SELECT id FROM " + table_).size(), 5u);
    w.exec0("UPDATE " + table_ + " SET name = 'x' WHERE id > 3");
    EXPECT_EQ(w.exec1("SELECT name FROM " + table_ + " WHERE id = 4")[0].as<std::string>(), "x");
    EXPECT_EQ(w.exec_n(2, "SELECT id FROM " + table_ + " WHERE id <= 2").size(), 2u);
    w.commit();
  }
  const auto s = spans();
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(statement(s[0]), "BEGIN");
  EXPECT_EQ(statement(s[1]), "SELECT id FROM " + table_);
  EXPECT_EQ(rows(s[1]), 5);
  EXPECT_EQ(rows(s[2]), 2);  // rows affected by the UPDATE
  EXPECT_EQ(rows(s[3]), 1);
  EXPECT_EQ(rows(s[4]), 2);
  EXPECT_EQ(statement(s[5]), "COMMIT");
  for (const auto& sp : s) {
    EXPECT_EQ(sp.first["base_id"], base);
    EXPECT_EQ(sp.first["parent_id"], base);
    EXPECT_EQ(sp.first["info"]["db"]["db.system.name"], "postgresql");
    EXPECT_EQ(sp.first["info"]["db"]["db.namespace"], "app");
    EXPECT_EQ(sp.first["info"]["db"]["server.address"], "127.0.0.1");
    EXPECT_GT(sp.first["info"]["db"]["server.port"].get<int>(), 0);
  }
}

TEST_F(pqxx_test, a_parameter_that_cannot_be_recorded_does_not_fail_the_statement) {
  opts_.record_params = true;
  restart();
  flaky_renders = 0;
  {
    trace t;
    pqxx::nontransaction n{*conn_};
    // dbtrace's rendering (the first) fails; libpqxx's own succeeds.
    EXPECT_EQ(n.exec_params("SELECT $1::int + 1", flaky_value{41})[0][0].as<int>(), 42);
  }
  const auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_FALSE(s[0].second["info"].contains("etype")) << s[0].second.dump();
}

TEST_F(pqxx_test, prepared_statements_show_their_sql_and_params_only_when_asked) {
  conn_->prepare("by_id", "SELECT name FROM " + table_ + " WHERE id = $1");
  {
    trace t;
    pqxx::nontransaction n{*conn_};
    EXPECT_EQ(n.exec_prepared1("by_id", 3)[0].as<std::string>(), "n3");
    EXPECT_EQ(n.exec_params("SELECT $1::int + $2::int AS s", 40, 2)[0][0].as<int>(), 42);
  }
  auto s = spans();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(statement(s[0]), "SELECT name FROM " + table_ + " WHERE id = $1");
  EXPECT_FALSE(s[0].first["info"]["db"].contains("params"));

  opts_.record_params = true;
  restart();
  {
    trace t;
    pqxx::nontransaction n{*conn_};
    n.exec_prepared("by_id", 3);
    n.exec_params("SELECT $1::text, $2::int", std::string("ada"), nullptr);
  }
  s = spans();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].first["info"]["db"]["params"], nlohmann::json::parse("[3]"));
  EXPECT_EQ(s[1].first["info"]["db"]["params"], nlohmann::json::parse(R"(["ada", null])"));

  // Values bound at run time are recorded one by one, among the static ones.
  {
    trace t;
    pqxx::nontransaction n{*conn_};
    const std::vector<std::string> values{"40", "1"};
    EXPECT_EQ(n.exec_params("SELECT $1::int + $2::int + $3::int",
                            ::pqxx::prepare::make_dynamic_params(values), 1)[0][0]
                  .as<int>(),
              42);
  }
  s = spans();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[2].first["info"]["db"]["params"], nlohmann::json::parse(R"(["40", "1", 1])"));
}

// What libpqxx alone throws for `sql`, as type and message.
std::pair<std::string, std::string> failure_of(::pqxx::connection_base& c, const std::string& sql) {
  try {
    ::pqxx::nontransaction n(c);
    n.exec(sql);
  } catch (const std::exception& e) {
    return {typeid(e).name(), e.what()};
  }
  return {"none", ""};
}

TEST_F(pqxx_test, a_prepared_statement_shows_its_sql_when_the_statement_table_is_full) {
  int interned = 0;
  while (intern_statement("SELECT " + std::to_string(interned))) ASSERT_LT(++interned, 100000);
  conn_->prepare("by_id", "SELECT name FROM " + table_ + " WHERE id = $1");
  {
    trace t;
    pqxx::nontransaction n{*conn_};
    EXPECT_EQ(n.exec_prepared1("by_id", 3)[0].as<std::string>(), "n3");
  }
  const auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(statement(s[0]), "SELECT name FROM " + table_ + " WHERE id = $1");
}

TEST_F(pqxx_test, a_failing_statement_records_sqlstate_and_throws_what_libpqxx_throws) {
  const std::string bad = "SELECT * FROM no_such_table_here";
  std::pair<std::string, std::string> traced_failure;
  {
    trace t;
    try {
      pqxx::nontransaction n{*conn_};
      n.exec(bad);
    } catch (const std::exception& e) {
      traced_failure = {typeid(e).name(), e.what()};
    }
  }
  EXPECT_EQ(traced_failure, failure_of(conn_->raw(), bad));
  const auto s = spans();
  ASSERT_EQ(s.size(), 1u);
  const auto& info = s[0].second["info"];
  EXPECT_EQ(info["etype"], "pqxx::undefined_table");
  EXPECT_EQ(info["db"]["db.response.status_code"], "42P01");
  EXPECT_NE(info["message"].get<std::string>().find("no_such_table_here"), std::string::npos);
}

TEST_F(pqxx_test, transactions_of_every_kind_are_traced_and_abort_is_recorded) {
  {
    trace t;
    {
      pqxx::work w{*conn_};
      {
        pqxx::subtransaction sub{w, "inner"};
        sub.exec("UPDATE " + table_ + " SET name = 'sub' WHERE id = 1");
        sub.abort();
      }
      w.abort();
    }
    pqxx::read_transaction r{*conn_};
    EXPECT_EQ(r.exec1("SELECT name FROM " + table_ + " WHERE id = 1")[0].as<std::string>(), "n1");
    r.commit();
    pqxx::robusttransaction<> rt{*conn_};
    rt.exec("SELECT 1");
    rt.commit();
  }
  std::vector<std::string> statements;
  for (const auto& s : spans()) statements.push_back(statement(s));
  const std::vector<std::string> expected{"BEGIN",
                                          "BEGIN",
                                          "UPDATE " + table_ + " SET name = 'sub' WHERE id = 1",
                                          "ROLLBACK",
                                          "ROLLBACK",
                                          "BEGIN",
                                          "SELECT name FROM " + table_ + " WHERE id = 1",
                                          "COMMIT",
                                          "BEGIN",
                                          "SELECT 1",
                                          "COMMIT"};
  EXPECT_EQ(statements, expected);
}

TEST_F(pqxx_test, streams_are_one_span_each_with_their_rows) {
  {
    trace t;
    pqxx::work w{*conn_};
    {
      pqxx::stream_to out{w, table_, std::vector<std::string>{"id", "name"}};
      for (int i = 10; i < 13; ++i) out << std::make_tuple(i, "s" + std::to_string(i));
      out.complete();
    }
    int count = 0;
    {
      pqxx::stream_from in{w, table_};  // libpqxx 6.4 fails to parse rows when given a column list
      std::tuple<int, std::string> row;
      while (in >> row) ++count;
      in.complete();
    }
    EXPECT_EQ(count, 8);
    w.commit();
  }
  const auto s = spans();
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(statement(s[1]), "COPY " + table_ + " FROM STDIN");
  EXPECT_EQ(rows(s[1]), 3);
  EXPECT_EQ(statement(s[2]), "COPY " + table_ + " TO STDOUT");
  EXPECT_EQ(rows(s[2]), 8);
}

TEST_F(pqxx_test, nothing_outside_a_trace_no_password_and_raw_is_the_libpqxx_object) {
  {
    pqxx::work w{*conn_};
    w.exec("SELECT 1");
    ::pqxx::work& plain = w.raw();
    plain.exec("SELECT 2");  // through the base type: not traced by design
    w.commit();
  }
  EXPECT_TRUE(spans().empty());
  {
    trace t;
    pqxx::nontransaction n{*conn_};
    n.exec("SELECT 3");
  }
  for (const auto& e : events()) EXPECT_EQ(e.dump().find("app-secret"), std::string::npos);
}

}  // namespace
}  // namespace dbtrace

namespace dbtrace {
namespace {

// sqlcommenter: the server sees the db span's traceparent; the span keeps the user's text.
TEST_F(pqxx_test, sqlcommenter_sends_the_spans_traceparent_to_the_server) {
  opts_.sqlcommenter = true;
  restart();
  const std::string own_query = "SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()";
  std::string seen_by_server, commented_already;
  {
    trace t;
    pqxx::nontransaction n{*conn_};
    seen_by_server = n.exec1(own_query)[0].as<std::string>();
    commented_already = n.exec1(own_query + " /* app */")[0].as<std::string>();
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
