// The embedded store: OSProfiler's `data` table, written in batches, read back
// by dbtrace and by the Python OSProfiler's own SQL driver, and the other way round.
#include <sqlite3.h>

#include "dbtrace/report.hpp"
#include "dbtrace/sql.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

class sqlite_store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (testing::temp_dir() /
             (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".db"))
                .string();
    std::filesystem::remove(path_);
    opts_.enabled = true;
    opts_.connection_string = "sqlite:///" + path_;  // absolute: four slashes
    opts_.project = "shop";
    opts_.service = "orders";
  }
  void TearDown() override { shutdown(); }

  // One request: a wsgi span with two statements, the second failing.
  std::string record_request() {
    trace t;
    span request{"wsgi", {{"path", "/orders"}}};
    {
      sql_span ok(intern_target({"sqlite", "shop.db", "", 0}),
                  intern_statement("SELECT * FROM orders"));
      ok.rows(3);
    }
    {
      sql_span bad({}, "SELECT * FROM nope");
      bad.error("soci::sqlite3_soci_error", "no such table: nope");
    }
    return t.base_id();
  }

  std::vector<std::vector<std::string>> query(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    std::vector<std::vector<std::string>> rows;
    sqlite3_exec(
        db, sql.c_str(),
        [](void* out, int n, char** values, char**) {
          auto& r = *static_cast<std::vector<std::vector<std::string>>*>(out);
          r.emplace_back();
          for (int i = 0; i < n; ++i) r.back().push_back(values[i] ? values[i] : "NULL");
          return 0;
        },
        &rows, nullptr);
    sqlite3_close(db);
    return rows;
  }

  std::string path_;
  options opts_;
};

TEST_F(sqlite_store_test, writes_the_osprofiler_schema_and_reads_traces_back) {
  init(opts_);
  const std::string a = record_request();
  const std::string b = record_request();
  ASSERT_TRUE(flush());
  EXPECT_EQ(stats().exported, 12u);

  auto store = make_driver(opts_.connection_string, "");
  const auto traces = store->list_traces(false);
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_EQ(traces[0].base_id, a);
  EXPECT_EQ(traces[1].base_id, b);
  EXPECT_EQ(store->list_traces(true).size(), 2u);

  const auto events = store->read_trace(a);
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[0].name, "wsgi-start");
  EXPECT_EQ(events[0].project, "shop");
  EXPECT_EQ(events[0].service, "orders");
  const auto report = build_report(events);
  const auto& wsgi = report["children"][0];
  ASSERT_EQ(wsgi["children"].size(), 2u);
  EXPECT_EQ(wsgi["children"][0]["info"]["meta.raw_payload.db-start"]["info"]["db"]["statement"],
            "SELECT * FROM orders");
  EXPECT_EQ(wsgi["children"][1]["info"]["exception"], "soci::sqlite3_soci_error");
  EXPECT_TRUE(store->read_trace("00000000-0000-4000-8000-000000000000").empty());
}

TEST_F(sqlite_store_test, stores_data_double_encoded_with_osprofilers_indexes_in_wal_mode) {
  init(opts_);
  record_request();
  ASSERT_TRUE(flush());
  const auto types = query("SELECT DISTINCT json_type(data) FROM data");
  ASSERT_EQ(types.size(), 1u);
  EXPECT_EQ(types[0][0], "text");  // a JSON string holding the JSON text, as OSProfiler writes it
  const auto payload =
      query("SELECT json_extract(data, '$') FROM data WHERE name = 'db-start' LIMIT 1");
  EXPECT_EQ(nlohmann::json::parse(payload.at(0).at(0))["info"]["db"]["statement"],
            "SELECT * FROM orders");
  const auto indexes = query(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_data_%' ORDER BY "
      "name");
  std::vector<std::string> names;
  for (const auto& r : indexes) names.push_back(r[0]);
  EXPECT_EQ(names,
            (std::vector<std::string>{"ix_data_base_id", "ix_data_host", "ix_data_name",
                                      "ix_data_parent_id", "ix_data_project", "ix_data_service",
                                      "ix_data_timestamp", "ix_data_trace_id"}));
  EXPECT_EQ(query("PRAGMA journal_mode").at(0).at(0), "wal");
}

TEST_F(sqlite_store_test, reading_a_missing_store_is_a_clear_error) {
  auto store = make_driver("sqlite:////nonexistent/dir/x.db", "");
  try {
    store->list_traces(false);
    FAIL();
  } catch (const store_error& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/dir/x.db: no such trace store");
  }
}

TEST_F(sqlite_store_test, an_unwritable_store_never_reaches_the_application) {
  opts_.connection_string = "sqlite:////nonexistent/dir/x.db";
  init(opts_);
  record_request();  // no exception, no hang
  EXPECT_FALSE(flush(std::chrono::milliseconds(200)));
  shutdown(std::chrono::milliseconds(200));
  const auto s = stats();
  EXPECT_GT(s.failed_writes, 0u);
  EXPECT_EQ(s.exported, 0u);
  EXPECT_EQ(s.dropped, s.recorded);
}

TEST_F(sqlite_store_test, python_osprofiler_reads_our_store_as_its_own) {
  DBTRACE_REQUIRE_PYTHON_PEER();
  init(opts_);
  const std::string base = record_request();
  ASSERT_TRUE(flush());
  const auto r = testing::run_python(R"(
import json, sys
from osprofiler.drivers.sqlalchemy_driver import SQLAlchemyDriver
d = SQLAlchemyDriver(sys.argv[1])
print(json.dumps(d.get_report(sys.argv[2])))
)",
                                     {"sqlite:///" + path_, base});
  ASSERT_EQ(r.status, 0) << r.out;
  auto store = make_driver(opts_.connection_string, "");
  EXPECT_EQ(nlohmann::json::parse(r.out),
            nlohmann::json::parse(build_report(store->read_trace(base)).dump()));
}

TEST_F(sqlite_store_test, we_read_a_store_python_osprofiler_wrote) {
  DBTRACE_REQUIRE_PYTHON_PEER();
  const auto r = testing::run_python(R"(
import json, sys
import osprofiler.opts
from osprofiler import profiler, notifier
from osprofiler.drivers.sqlalchemy_driver import SQLAlchemyDriver
d = SQLAlchemyDriver(sys.argv[1], project="py", service="api", host="pyhost")
notifier.set(d.notify)
profiler.init("SECRET_KEY")
with profiler.Trace("wsgi", info={"path": "/"}):
    with profiler.Trace("db", info={"db": {"statement": "SELECT 1", "params": {"id": 2}}}):
        pass
base = profiler.get().get_base_id()
print(json.dumps({"base": base, "report": d.get_report(base)}))
)",
                                     {"sqlite:///" + path_});
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  auto store = make_driver(opts_.connection_string, "");
  const auto traces = store->list_traces(false);
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_EQ(traces[0].base_id, j["base"]);
  EXPECT_EQ(nlohmann::json::parse(build_report(store->read_trace(j["base"])).dump()), j["report"]);
}

}  // namespace
}  // namespace dbtrace
