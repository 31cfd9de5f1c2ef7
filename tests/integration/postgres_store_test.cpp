// SPDX-License-Identifier: Apache-2.0
// The postgresql:// store: OSProfiler's table written with COPY, read back by
// dbtrace and by Python OSProfiler, and an outage the application never sees.
#include <chrono>
#include <ctime>
#include <map>
#include <thread>

#include <pqxx/pqxx>
#include "dbtrace/osprofiler_event.hpp"
#include "dbtrace/report.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

std::string pg_uri() {
  const char* v = std::getenv("DBTRACE_TEST_PG_URI");
  return v ? v : "";
}

class postgres_store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    DBTRACE_REQUIRE_PG();
    opts_.enabled = true;
    opts_.connection_string = pg_uri();
    opts_.project = "shop";
    opts_.service = "pg-store";
  }
  void TearDown() override { shutdown(); }

  std::string record_request(::pqxx::connection& app) {
    trace t;
    span request{"wsgi", {{"path", "/orders"}}};
    ::pqxx::nontransaction n{app};
    n.exec("SELECT 1");
    try {
      n.exec("SELECT * FROM missing_for_store_test");
    } catch (const ::pqxx::sql_error&) {
    }
    return t.base_id();
  }
  options opts_;
};

TEST_F(postgres_store_test, one_odd_span_name_never_costs_the_other_traces_of_its_batch) {
  init(opts_);
  std::vector<std::string> bases;
  for (const std::string& name :
       {std::string("ok"), std::string("nul\0inside", 11), std::string(300, 'x'),
        std::string("bad \xFF utf-8"), std::string("tab\there\nnewline\r \\ backslash")}) {
    trace t;
    bases.push_back(t.base_id());
    span s{name, {{"note", "quotes \" and \\ backslashes"}}};
  }
  ASSERT_TRUE(flush());
  const auto s = stats();
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.exported, s.recorded);
  auto store = make_reader(opts_.connection_string);
  for (const auto& base : bases) {
    SCOPED_TRACE(base);
    const auto events = store->read_trace(base);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].raw["info"]["note"], "quotes \" and \\ backslashes");
  }
  // COPY's escapes: the name column keeps every byte.
  const auto escaped = store->read_trace(bases.back());
  ASSERT_EQ(escaped.size(), 2u);
  EXPECT_EQ(escaped[0].name, "tab\there\nnewline\r \\ backslash-start");
}

// A batch sent again after its reply was lost (a timeout while the server
// stalled, which then commits the first attempt) is stored once.
TEST_F(postgres_store_test, a_batch_written_again_by_a_retry_is_stored_once) {
  init(opts_);  // statements are interned in the runtime
  const auto statement = intern_statement("SELECT 'retried'");
  std::vector<span_view> batch(3);
  const detail::id128 base{0x5eedf00d5eedf00dULL, static_cast<std::uint64_t>(std::time(nullptr))};
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& v = batch[i];
    v.name = "db";
    v.statement = statement.get();
    v.base_id = base;
    v.parent_id = base;
    v.id = {base.hi, base.lo * 16 + i + 1};
    v.start_ns = 1'700'000'000'000'000'000 + static_cast<std::int64_t>(i);
    v.end_ns = v.start_ns + 1000;
  }
  auto w = make_writer({opts_.connection_string, "host", "shop", "pg-store", false});
  std::string error;
  ASSERT_EQ(w->write(batch, error), write_result::ok) << error;
  ASSERT_EQ(w->write(batch, error), write_result::ok) << error;  // the retry
  auto other = make_writer({opts_.connection_string, "host", "shop", "pg-store", false});
  ASSERT_EQ(other->write(batch, error), write_result::ok) << error;  // on another connection
  EXPECT_EQ(make_reader(opts_.connection_string)->read_trace(uuid_text(base)).size(), 6u);
  // A batch of its own is written, not taken for the first one.
  batch.erase(batch.begin());
  ASSERT_EQ(w->write(batch, error), write_result::ok) << error;
  EXPECT_EQ(make_reader(opts_.connection_string)->read_trace(uuid_text(base)).size(), 10u);
}

// The writer keeps the last infos it escaped for the data column (a
// statement's db-start, a db-stop's rows come again and again): statements
// and row counts alternating, each row still holds its own.
TEST_F(postgres_store_test, each_row_keeps_its_own_info_when_statements_and_rows_alternate) {
  init(opts_);
  const auto a = intern_statement("SELECT 'a'");
  const auto b = intern_statement("SELECT 'b' WHERE \"quoted\" = '\\'");
  const statement_ref order[] = {a, b, a, a, b};
  const std::int64_t rows[] = {1, 1, 2, 1, -1};
  const detail::id128 base{0x5eedf00d5eedf00eULL, static_cast<std::uint64_t>(std::time(nullptr))};
  std::vector<span_view> batch(5);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& v = batch[i];
    v.name = "db";
    v.statement = order[i].get();
    v.rows = rows[i];
    v.base_id = base;
    v.parent_id = base;
    v.id = {base.hi, base.lo * 16 + i + 1};
    v.start_ns = 1'700'000'000'000'000'000 + static_cast<std::int64_t>(10 * i);
    v.end_ns = v.start_ns + 5;
  }
  auto w = make_writer({opts_.connection_string, "host", "shop", "pg-store", false});
  std::string error;
  ASSERT_EQ(w->write(batch, error), write_result::ok) << error;
  const auto events = make_reader(opts_.connection_string)->read_trace(uuid_text(base));
  ASSERT_EQ(events.size(), 10u);
  std::map<std::string, nlohmann::json> info_of;  // by event name and trace_id
  for (const auto& e : events) info_of[e.trace_id + e.name] = e.raw["info"];
  for (std::size_t i = 0; i < batch.size(); ++i) {
    SCOPED_TRACE(i);
    const std::string id = uuid_text(batch[i].id);
    EXPECT_EQ(info_of[id + "db-start"]["db"]["statement"], order[i].get()->text);
    const auto& stop = info_of[id + "db-stop"];
    if (rows[i] >= 0)
      EXPECT_EQ(stop["db"]["db.response.returned_rows"], rows[i]);
    else
      EXPECT_FALSE(stop.contains("db"));
  }
}

TEST_F(postgres_store_test, writes_osprofilers_table_and_reads_traces_back) {
  init(opts_);
  ::pqxx::connection app{testing::pg_app()};
  const std::string base = record_request(app);
  ASSERT_TRUE(flush());
  EXPECT_EQ(stats().exported, stats().recorded);

  auto store = make_reader(opts_.connection_string);
  bool listed = false, listed_as_error = false;
  for (const auto& t : store->list_traces(false)) listed = listed || t.base_id == base;
  for (const auto& t : store->list_traces(true))
    listed_as_error = listed_as_error || t.base_id == base;
  EXPECT_TRUE(listed);
  EXPECT_TRUE(listed_as_error);
  const auto report = build_report(store->read_trace(base));
  ASSERT_EQ(report["children"].size(), 1u);
  const auto& wsgi = report["children"][0];
  ASSERT_EQ(wsgi["children"].size(), 2u);
  EXPECT_EQ(wsgi["children"][1]["info"]["exception"], "PGRES_FATAL_ERROR");  // libpq's status
  EXPECT_EQ(wsgi["info"]["service"], "pg-store");

  // The data column holds a JSON string, as OSProfiler's SQL driver writes it.
  ::pqxx::connection check{testing::pg_app()};
  ::pqxx::nontransaction n{check};
  EXPECT_EQ(
      n.exec("SELECT DISTINCT json_typeof(data) FROM data WHERE base_id = " + n.quote(base))[0][0]
          .as<std::string>(),
      "string");
  EXPECT_EQ(n.exec("SELECT count(*) FROM pg_indexes WHERE tablename = 'data' AND indexname LIKE "
                   "'ix_data_%'")[0][0]
                .as<int>(),
            8);
}

TEST_F(postgres_store_test, python_osprofiler_reads_it_and_the_cli_shows_it) {
  DBTRACE_REQUIRE_PYTHON_PEER();
  init(opts_);
  ::pqxx::connection app{testing::pg_app()};
  const std::string base = record_request(app);
  ASSERT_TRUE(flush());
  std::string python_uri = pg_uri();
  python_uri.replace(0, python_uri.find("://"), "postgresql+psycopg2");
  const auto r = testing::run_python(R"(
import json, sys
from osprofiler.drivers.sqlalchemy_driver import SQLAlchemyDriver
print(json.dumps(SQLAlchemyDriver(sys.argv[1]).get_report(sys.argv[2])))
)",
                                     {python_uri, base});
  ASSERT_EQ(r.status, 0) << r.out;
  auto store = make_reader(opts_.connection_string);
  EXPECT_EQ(nlohmann::json::parse(r.out),
            nlohmann::json::parse(build_report(store->read_trace(base)).dump()));

  const auto cli = testing::run(std::string(DBTRACE_CLI) + " trace show " + base +
                                " --json --connection-string '" + pg_uri() + "'");
  ASSERT_EQ(cli.status, 0);
  EXPECT_EQ(nlohmann::json::parse(cli.out), nlohmann::json::parse(r.out));
  const auto bad = testing::run(
      std::string(DBTRACE_CLI) +
      " trace list --connection-string 'postgresql://app:wrong-secret@127.0.0.1:1/app' 2>&1");
  EXPECT_NE(bad.status, 0);
  EXPECT_EQ(bad.out.find("wrong-secret"), std::string::npos) << bad.out;
}

// The store's own server goes down mid-run and comes back: the application's
// statements (on another server) never fail or wait, and every event is
// accounted for.
TEST_F(postgres_store_test, a_store_outage_never_reaches_the_application) {
  testing::test_server store("pg");
  ASSERT_TRUE(store.start());
  const int port = store.port();

  opts_.connection_string = "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/postgres";
  init(opts_);
  ::pqxx::connection app{testing::pg_app()};
  std::chrono::nanoseconds slowest{0};
  auto requests = [&](int n) {
    for (int i = 0; i < n; ++i) {
      trace t;
      ::pqxx::nontransaction tx{app};
      const auto t0 = std::chrono::steady_clock::now();
      EXPECT_EQ(tx.exec("SELECT " + std::to_string(i))[0][0].as<int>(), i);  // never an error
      slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
    }
  };
  requests(100);
  ASSERT_TRUE(flush());
  ASSERT_TRUE(store.stop());
  requests(100);  // the exporter retries in the background
  ASSERT_TRUE(store.start());
  requests(100);
  ASSERT_TRUE(flush(std::chrono::seconds(60)));

  const auto s = stats();
  EXPECT_EQ(s.recorded, 600u);
  EXPECT_EQ(s.exported + s.dropped, s.recorded);
  EXPECT_GT(s.failed_writes, 0u);
  // Not a speed measurement: a statement that waited on the dead store would take seconds.
  EXPECT_LT(slowest, std::chrono::milliseconds(500));
  ::pqxx::connection check{"postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/postgres"};
  ::pqxx::nontransaction n{check};
  EXPECT_EQ(n.exec("SELECT count(*) FROM data")[0][0].as<std::uint64_t>(), s.exported);
}

TEST_F(postgres_store_test, a_stopped_server_is_reported_and_written_to_once_it_resumes) {
  testing::test_server store("pg");
  ASSERT_TRUE(store.start());
  const std::string uri =
      "postgresql://postgres@127.0.0.1:" + std::to_string(store.port()) + "/postgres";
  testing::capture_stderr err;
  opts_.connection_string = uri;
  init(opts_);
  auto spans = [](int n) {
    trace t;
    for (int i = 0; i < n; ++i) sql_span s({}, "SELECT 1");
  };
  spans(10);
  ASSERT_TRUE(flush());
  // SIGSTOP: the connection stays open and the server answers nothing. The
  // exporter must give up on the request, say so and count it, not wait.
  ASSERT_TRUE(store.pause());
  spans(10);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (stats().failed_writes == 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto failed = stats().failed_writes;
  ASSERT_TRUE(store.resume());
  EXPECT_GT(failed, 0u);
  ASSERT_TRUE(flush(std::chrono::seconds(60)));
  const auto s = stats();
  EXPECT_EQ(s.recorded, 40u);
  EXPECT_EQ(s.exported, s.recorded);
  shutdown();
  EXPECT_NE(err.text().find("no answer from the server in 5 s"), std::string::npos);
  ::pqxx::connection check{uri};
  ::pqxx::nontransaction n{check};
  EXPECT_EQ(n.exec("SELECT count(*) FROM data")[0][0].as<std::uint64_t>(), s.exported);
}

}  // namespace
}  // namespace dbtrace
