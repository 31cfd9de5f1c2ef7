// SPDX-License-Identifier: Apache-2.0
// The redis:// store, and one trace across Python OSProfiler and dbtrace on
// the Redis and PostgreSQL stores: the real Python code (Debian
// python3-osprofiler) on the other side, its CLI reading what dbtrace wrote.
#include <soci/sqlite3/soci-sqlite3.h>

#include "dbtrace/report.hpp"
#include "dbtrace/signing.hpp"
#include "dbtrace/soci.hpp"
#include "dbtrace/sql.hpp"
#include "tcp_proxy.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

std::string redis_uri() {
  const char* v = std::getenv("DBTRACE_TEST_REDIS");
  return v ? v : "";
}
std::string redis_cli(const std::string& args) {
  const auto uri = redis_uri();
  const auto port = uri.substr(uri.rfind(':') + 1, uri.rfind('/') - uri.rfind(':') - 1);
  return testing::run("redis-cli -p " + port + " " + args).out;
}

// A request of a C++ service: a span with two statements, the second failing.
std::string record_request(const headers& incoming = {}) {
  soci::session sql(::soci::sqlite3, ":memory:");
  trace t{incoming};
  span request{"wsgi", {{"path", "/items"}}};
  sql << "CREATE TABLE items (id INTEGER)";
  try {
    sql << "SELECT * FROM missing";
  } catch (const ::soci::soci_error&) {
  }
  return t.base_id();
}

class redis_test : public testing::recorder_test {
 protected:
  void SetUp() override {
    recorder_test::SetUp();
    if (redis_uri().empty()) {
      if (testing::under_ci()) FAIL() << "no test Redis (DBTRACE_TEST_REDIS) in CI";
      GTEST_SKIP() << "DBTRACE_TEST_REDIS not set: run scripts/test.sh";
    }
    opts_.connection_string = redis_uri();
    opts_.filter_error_trace = true;
  }
};

TEST_F(redis_test, events_are_lpushed_as_osprofiler_does_and_errors_indexed) {
  start();
  const std::string base = record_request();
  ASSERT_TRUE(flush());
  const auto lines = redis_cli("LRANGE osprofiler_opt:" + base + " 0 -1");
  std::vector<nlohmann::json> pushed;
  std::istringstream in(lines);
  for (std::string line; std::getline(in, line);) pushed.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(pushed.size(), 6u);
  EXPECT_EQ(pushed.front()["name"], "wsgi-stop");  // newest first, as LPUSH leaves it
  EXPECT_EQ(pushed.back()["name"], "wsgi-start");
  const auto index = nlohmann::json::parse(redis_cli("GET osprofiler_error:" + base));
  EXPECT_EQ(index["base_id"], base);
  EXPECT_EQ(index.size(), 2u);  // base_id and timestamp

  auto store = make_reader(redis_uri());
  bool listed = false, as_error = false;
  for (const auto& t : store->list_traces(false)) listed = listed || t.base_id == base;
  for (const auto& t : store->list_traces(true)) as_error = as_error || t.base_id == base;
  EXPECT_TRUE(listed);
  EXPECT_TRUE(as_error);
  EXPECT_EQ(build_report(store->read_trace(base))["stats"]["db"]["count"], 2);
}

// A batch holds traces interleaved (a trace opened inside another, threads
// recording at once): each trace's list gets its own events, in order.
TEST_F(redis_test, interleaved_traces_of_one_batch_keep_their_own_events_in_order) {
  start();
  std::string outer_base, inner_base;
  {
    trace outer;
    outer_base = outer.base_id();
    span first{"first"};
    { sql_span s({}, "SELECT 1"); }
    {
      trace inner;
      inner_base = inner.base_id();
      sql_span s({}, "SELECT 2");
    }
    { sql_span s({}, "SELECT 3"); }
  }
  ASSERT_TRUE(flush());  // one batch: nothing was written before
  auto pushed = [](const std::string& base) {
    std::vector<std::string> names;
    std::istringstream in(redis_cli("LRANGE osprofiler_opt:" + base + " 0 -1"));
    for (std::string line; std::getline(in, line);) {
      const auto e = nlohmann::json::parse(line);
      // (at(): a const json's operator[] asserts the key is there)
      const auto db = e.at("info").value("db", nlohmann::json::object());
      names.push_back(
          e.at("name").get<std::string>() +
          (db.contains("statement") ? " " + db.at("statement").get<std::string>() : std::string()));
    }
    return std::vector<std::string>(names.rbegin(), names.rend());  // LPUSH: newest first
  };
  EXPECT_EQ(pushed(outer_base),
            (std::vector<std::string>{"first-start", "db-start SELECT 1", "db-stop",
                                      "db-start SELECT 3", "db-stop", "first-stop"}));
  EXPECT_EQ(pushed(inner_base), (std::vector<std::string>{"db-start SELECT 2", "db-stop"}));
}

TEST_F(redis_test, keys_that_are_not_osprofilers_never_hide_the_rest_of_the_store) {
  start();
  const std::string base = record_request();
  ASSERT_TRUE(flush());
  // Another program's keys under OSProfiler's prefixes: a string, bad JSON, a wrong shape.
  redis_cli("SET osprofiler_opt:not-a-list hello");
  redis_cli("SET osprofiler_error:not-json hello");
  redis_cli("SET osprofiler_error:wrong-shape '{\"base_id\": 5, \"timestamp\": []}'");
  redis_cli("HSET osprofiler_error:a-hash f v");
  auto store = make_reader(redis_uri());
  bool listed = false, as_error = false;
  for (const auto& t : store->list_traces(false)) listed = listed || t.base_id == base;
  for (const auto& t : store->list_traces(true)) as_error = as_error || t.base_id == base;
  EXPECT_TRUE(listed);
  EXPECT_TRUE(as_error);
  for (const char* key : {"osprofiler_opt:not-a-list", "osprofiler_error:not-json",
                          "osprofiler_error:wrong-shape", "osprofiler_error:a-hash"})
    redis_cli(std::string("DEL ") + key);
}

TEST_F(redis_test, a_key_redis_refuses_costs_its_own_trace_only_and_is_counted_exactly) {
  opts_.filter_error_trace = false;
  testing::capture_stderr capture;  // before anything is recorded: the exporter may write at once
  start();
  std::string blocked, fine;
  {
    trace a;
    blocked = a.base_id();
    // Another program holds a string under this trace's key: LPUSH gets WRONGTYPE.
    redis_cli("SET osprofiler_opt:" + blocked + " not-a-list");
    sql_span s({}, "SELECT 'refused'");
  }
  {
    trace b;
    fine = b.base_id();
    sql_span s({}, "SELECT 'written'");
  }
  ASSERT_TRUE(flush());
  const auto s = stats();
  EXPECT_EQ(s.recorded, 4u);
  EXPECT_EQ(s.exported, 2u);  // the other trace's two events, written
  EXPECT_EQ(s.dropped, 2u);   // the refused trace's two, and only those
  EXPECT_NE(capture.text().find("WRONGTYPE"), std::string::npos) << capture.text();
  EXPECT_EQ(redis_cli("LLEN osprofiler_opt:" + fine), "2\n");
  redis_cli("DEL osprofiler_opt:" + blocked);
}

TEST_F(redis_test, a_batch_whose_reply_is_lost_is_written_once) {
  const auto uri = redis_uri();
  testing::tcp_proxy proxy(std::stoi(uri.substr(uri.rfind(':') + 1)));
  opts_.connection_string = "redis://127.0.0.1:" + std::to_string(proxy.port()) + "/0";
  // The batch (its events take more than 2 kB) reaches Redis and is written;
  // the connection dies before the reply arrives. The exporter retries the
  // batch, which must not write twice.
  proxy.lose_reply_after(2000);
  start();
  std::string base;
  {
    trace t;
    base = t.base_id();
    for (int i = 0; i < 5; ++i) sql_span s({}, "SELECT 1");
  }
  ASSERT_TRUE(flush(std::chrono::seconds(30)));
  EXPECT_EQ(proxy.replies_lost(), 1);
  const auto s = stats();
  EXPECT_EQ(s.recorded, 10u);
  EXPECT_EQ(s.exported, 10u);
  EXPECT_EQ(s.failed_writes, 1u);
  EXPECT_EQ(redis_cli("LLEN osprofiler_opt:" + base), "10\n");
}

TEST_F(redis_test, a_redis_outage_never_reaches_the_application) {
  testing::test_server store("redis");
  ASSERT_TRUE(store.start());
  const int port = store.port();
  opts_.connection_string = "redis://127.0.0.1:" + std::to_string(port) + "/0";
  start();
  soci::session sql(::soci::sqlite3, ":memory:");
  std::chrono::nanoseconds slowest{0};
  auto requests = [&](int n) {
    for (int i = 0; i < n; ++i) {
      trace t;
      int v = 0;
      const auto t0 = std::chrono::steady_clock::now();
      sql << "SELECT " + std::to_string(i), ::soci::into(v);
      slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
      EXPECT_EQ(v, i);
    }
  };
  requests(100);
  ASSERT_TRUE(flush());
  ASSERT_TRUE(store.stop());
  requests(100);
  ASSERT_TRUE(store.start());
  requests(100);
  ASSERT_TRUE(flush(std::chrono::seconds(60)));
  const auto s = stats();
  EXPECT_EQ(s.recorded, 600u);
  EXPECT_EQ(s.exported + s.dropped, s.recorded);
  EXPECT_GT(s.failed_writes, 0u);
  EXPECT_LT(slowest, std::chrono::milliseconds(500));  // a hang detector, not a speed measurement
  // What the restarted (empty) server holds is what was written after the restart.
  const auto keys = testing::run("redis-cli -p " + std::to_string(port) +
                                 " --scan --pattern 'osprofiler_opt:*' | wc -l")
                        .out;
  EXPECT_GT(std::stoi(keys), 0);
}

// One trace across the Python OSProfiler and dbtrace, on each store both read.
struct store_case {
  const char* name;
  const char* env;  // the variable scripts/test.sh sets to the store's URI
};

class cross_language_test : public testing::recorder_test,
                            public ::testing::WithParamInterface<store_case> {
 protected:
  void SetUp() override {
    recorder_test::SetUp();
    DBTRACE_REQUIRE_PYTHON_PEER();
    const char* uri = std::getenv(GetParam().env);
    if (!uri || !*uri) {
      if (testing::under_ci()) FAIL() << GetParam().env << " is not set in CI";
      GTEST_SKIP() << GetParam().env << " not set: run scripts/test.sh";
    }
    store_ = uri;
    opts_.connection_string = store_;
  }
  const std::string& store() const { return store_; }
  // The same store as the Python tools name it (SQLAlchemy wants its driver).
  std::string python_store() const {
    if (store_.rfind("postgresql://", 0) == 0) return "postgresql+psycopg2://" + store_.substr(13);
    return store_;
  }
  std::string store_;
};

TEST_P(cross_language_test, python_continues_into_cpp_and_osprofiler_shows_one_tree) {
  DBTRACE_REQUIRE_PYTHON_PEER();
  start();
  // Python: a request span, and the headers it sends to the C++ service.
  const auto py = testing::run_python(R"(
import json
from osprofiler import profiler, web
profiler.init("SECRET_KEY")
profiler.start("wsgi", info={"path": "/py"})
h = web.get_trace_id_headers()
t = lambda v: v.decode() if isinstance(v, bytes) else v
print(json.dumps({"info": t(h["X-Trace-Info"]), "hmac": t(h["X-Trace-HMAC"]), "base": profiler.get().get_base_id(), "parent": profiler.get().get_id()}))
)");
  ASSERT_EQ(py.status, 0) << py.out;
  const auto ctx = nlohmann::json::parse(py.out);
  const std::string base =
      record_request({{"X-Trace-Info", ctx["info"]}, {"X-Trace-HMAC", ctx["hmac"]}});
  EXPECT_EQ(base, ctx["base"]);
  ASSERT_TRUE(flush());

  const auto theirs = testing::run("/usr/bin/osprofiler trace show --json --connection-string " +
                                   python_store() + " " + base);
  ASSERT_EQ(theirs.status, 0) << theirs.out;
  const auto report = nlohmann::json::parse(theirs.out);
  // The C++ wsgi span hangs under the Python span's id; its db spans under it.
  ASSERT_EQ(report["children"].size(), 1u);
  EXPECT_EQ(report["children"][0]["parent_id"], ctx["parent"]);
  EXPECT_EQ(report["children"][0]["children"].size(), 2u);
  EXPECT_EQ(report["stats"]["db"]["count"], 2);
  // And dbtrace's CLI shows the same tree.
  const auto ours =
      testing::run(std::string(DBTRACE_CLI) + " trace show --json --connection-string '" + store() +
                   "' " + base);
  ASSERT_EQ(ours.status, 0);
  EXPECT_EQ(nlohmann::json::parse(ours.out), report);
}

TEST_P(cross_language_test, cpp_continues_into_python_and_dbtrace_shows_its_spans) {
  DBTRACE_REQUIRE_PYTHON_PEER();
  start();
  std::string base, parent;
  headers out;
  {
    trace t;
    span rpc{"rpc", {{"function", "call_python"}}};
    base = t.base_id();
    parent = current_context().parent_id;
    out = outgoing_headers();
  }
  ASSERT_TRUE(flush());
  // Python: the WSGI middleware's checks, then traced SQLAlchemy statements.
  const auto py =
      testing::run_python(R"(
import sys
import osprofiler.opts
from osprofiler import _utils, notifier, profiler, sqlalchemy as ossa
import sqlalchemy
ctx = _utils.signed_unpack(sys.argv[1], sys.argv[2], ["SECRET_KEY"])
assert ctx is not None, "signature refused"
notifier.set(notifier.create(sys.argv[3], project="py", service="api"))
profiler.init(ctx["hmac_key"], base_id=ctx["base_id"], parent_id=ctx["parent_id"])
engine = sqlalchemy.create_engine("sqlite://")
ossa.add_tracing(sqlalchemy, engine, "db")
with profiler.Trace("wsgi", info={"path": "/py"}):
    with engine.connect() as c:
        c.execute(sqlalchemy.text("SELECT 1"))
        c.execute(sqlalchemy.text("SELECT :a, :b"), {"a": 1, "b": "two"})
# A trace of Python's own, for dbtrace trace list.
profiler.clean()
profiler.init("SECRET_KEY")
with profiler.Trace("rpc", info={"function": "own"}):
    pass
print(profiler.get().get_base_id())
)",
                          {out.at("X-Trace-Info"), out.at("X-Trace-HMAC"), python_store()});
  ASSERT_EQ(py.status, 0) << py.out;
  const auto ours =
      testing::run(std::string(DBTRACE_CLI) + " trace show --json --connection-string '" + store() +
                   "' " + base);
  ASSERT_EQ(ours.status, 0) << ours.out;
  const auto report = nlohmann::json::parse(ours.out);
  ASSERT_EQ(report["children"].size(), 1u);  // the C++ rpc span
  const auto& rpc = report["children"][0];
  ASSERT_EQ(rpc["children"].size(), 1u);  // Python's wsgi span under it
  EXPECT_EQ(rpc["children"][0]["info"]["service"], "api");
  EXPECT_EQ(rpc["children"][0]["children"].size(), 2u);  // its two SQLAlchemy db spans
  EXPECT_EQ(report["stats"]["db"]["count"], 2);
  // The Python CLI agrees.
  const auto theirs = testing::run("/usr/bin/osprofiler trace show --json --connection-string " +
                                   python_store() + " " + base);
  ASSERT_EQ(theirs.status, 0);
  EXPECT_EQ(nlohmann::json::parse(theirs.out), report);
}

INSTANTIATE_TEST_SUITE_P(stores, cross_language_test,
                         ::testing::Values(store_case{"redis", "DBTRACE_TEST_REDIS"},
                                           store_case{"postgresql", "DBTRACE_TEST_PG_URI"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace dbtrace
