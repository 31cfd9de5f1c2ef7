// SPDX-License-Identifier: Apache-2.0
// otlp:// — the request a real HTTP receiver on loopback gets, decoded with the
// official OTLP protobuf definitions (npm @opentelemetry/otlp-transformer),
// with the stable database semantic conventions on the spans.
#include <soci/sqlite3/soci-sqlite3.h>

#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>

#include "dbtrace/soci.hpp"
#include "dbtrace/sql.hpp"
#include "test_support.hpp"

#include <csignal>

namespace dbtrace {
namespace {

const std::string otlp_dir = std::string(DBTRACE_SOURCE_DIR) + "/tests/otlp";

// The loopback receiver (tests/otlp/receiver.py), answering `statuses` in
// turn; `tls` is "--tls CERT KEY [CLIENT_CA]" for https.
class receiver {
 public:
  explicit receiver(const std::string& statuses, const std::string& tls = "")
      : port_(testing::free_port()) {
    dir_ = (testing::temp_dir() / ("otlp-" + std::to_string(port_))).string();
    std::filesystem::create_directories(dir_);
    pid_ = fork();
    if (pid_ == 0) {
      const std::string cmd = std::string(testing::python) + " " + otlp_dir + "/receiver.py " +
                              dir_ + " " + std::to_string(port_) + " " + tls + " " + statuses;
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 100 && !std::filesystem::exists(dir_ + "/ready"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~receiver() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }
  std::string file(int n, const char* ext) const {
    return dir_ + "/req-" + std::to_string(n) + ext;
  }
  int requests() const {
    int n = 0;
    while (std::filesystem::exists(file(n, ".body"))) ++n;
    return n;
  }
  // The lines of request n's .meta: path, Content-Type, status answered.
  std::string path(int n) const { return meta_line(n, 0); }
  std::string content_type(int n) const { return meta_line(n, 1); }
  std::string status(int n) const { return meta_line(n, 2); }
  // Its headers, names lowercased.
  nlohmann::json headers(int n) const { return nlohmann::json::parse(meta_line(n, 3)); }

  // Request n decoded with the official OTLP definitions, whichever encoding
  // it came in, as OTLP JSON; decoding must account for every byte.
  nlohmann::json request(int n) const {
    const bool metrics = path(n).find("metrics") != std::string::npos;
    const bool protobuf = content_type(n) == "application/x-protobuf";
    const auto decoded =
        testing::run("cd " + otlp_dir + " && node decode.js " +
                     (protobuf ? std::string("--protobuf ") + (metrics ? "metrics " : "traces ")
                               : std::string()) +
                     file(n, ".body") + " 2>&1");
    if (decoded.status != 0)
      throw std::runtime_error("request " + std::to_string(n) + " does not decode: " + decoded.out);
    return nlohmann::json::parse(decoded.out);
  }
  // The spans of every accepted trace request.
  std::vector<nlohmann::json> spans() const {
    std::vector<nlohmann::json> out;
    for (int i = 0; i < requests(); ++i) {
      if (status(i) != "200" || path(i).find("metrics") != std::string::npos) continue;
      const auto req = request(i);
      for (const auto& sp : req["resourceSpans"][0]["scopeSpans"][0]["spans"]) out.push_back(sp);
    }
    return out;
  }

 private:
  std::string meta_line(int n, int which) const {
    std::istringstream meta(testing::read_file(file(n, ".meta")));
    std::string line;
    for (int i = 0; i <= which; ++i) std::getline(meta, line);
    return line;
  }
  int port_;
  std::string dir_;
  pid_t pid_;
};

// Every test decodes what it gets with the official definitions from npm.
class otlp_test : public testing::recorder_test {
 protected:
  void SetUp() override {
    recorder_test::SetUp();
    if (!std::filesystem::exists(otlp_dir + "/node_modules/@opentelemetry/otlp-transformer")) {
      if (testing::under_ci())
        FAIL() << "tests/otlp/node_modules missing: scripts/test.sh installs it";
      GTEST_SKIP() << "run scripts/test.sh (it installs the OTLP definitions with npm)";
    }
  }
};

// One trace of one statement.
void record_statement(const std::string& sql) {
  trace t;
  sql_span s({}, sql);
}

// Attribute `key` of `span` as a JSON value (stringValue, intValue, ...).
nlohmann::json attribute(const nlohmann::json& span, const std::string& key) {
  for (const auto& a : span["attributes"])
    if (a["key"] == key) return a["value"].begin().value();
  return nullptr;
}

struct scoped_env {
  std::vector<std::string> names;
  void set(const std::string& name, const std::string& value) {
    setenv(name.c_str(), value.c_str(), 1);
    names.push_back(name);
  }
  ~scoped_env() {
    for (const auto& n : names) unsetenv(n.c_str());
  }
};

// The same spans whichever way the protocol is chosen: by default
// (http/protobuf), by the otlp_protocol key, or by OTEL_EXPORTER_OTLP_PROTOCOL.
struct protocol_case {
  const char* name;
  const char* key;       // otlp_protocol, nullptr: the default
  const char* variable;  // OTEL_EXPORTER_OTLP_PROTOCOL, nullptr: unset
  const char* content_type;
};
void PrintTo(const protocol_case& c, std::ostream* os) {
  *os << c.name;
}
class otlp_protocol_test : public otlp_test, public ::testing::WithParamInterface<protocol_case> {
 protected:
  // Points the recorder at `r`, its protocol chosen the way the case says.
  void send_to(const receiver& r, scoped_env& env) {
    if (GetParam().key) opts_.otlp_protocol = GetParam().key;
    if (GetParam().variable) env.set("OTEL_EXPORTER_OTLP_PROTOCOL", GetParam().variable);
    opts_.connection_string = "otlp://127.0.0.1:" + std::to_string(r.port());
  }
};

INSTANTIATE_TEST_SUITE_P(
    protocols, otlp_protocol_test,
    ::testing::Values(protocol_case{"default", nullptr, nullptr, "application/x-protobuf"},
                      protocol_case{"json_key", "http/json", nullptr, "application/json"},
                      protocol_case{"json_variable_over_key", "http/protobuf", "http/json",
                                    "application/json"},
                      protocol_case{"protobuf_variable_over_key", "http/json", "http/protobuf",
                                    "application/x-protobuf"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_P(otlp_protocol_test, spans_reach_the_receiver_valid_by_the_official_otlp_definitions) {
  receiver r("503 200");  // the first attempt is refused for now: dbtrace retries
  scoped_env env;
  send_to(r, env);
  opts_.record_params = true;
  opts_.project = "shop";
  opts_.service = "orders";
  start();
  std::string base;
  {
    soci::session sql(::soci::sqlite3, ":memory:");
    sql << "CREATE TABLE items (id INTEGER, name TEXT)";
    trace t;
    base = t.base_id();
    span request{"wsgi", {{"path", "/items"}, {"attempt", 2}, {"cached", false}, {"load", 0.5}}};
    int id = 7;
    sql << "INSERT INTO items (id, name) VALUES (:id, 'x')", ::soci::use(id);
    try {
      sql << "SELECT * FROM missing";
    } catch (const ::soci::soci_error&) {
    }
  }
  ASSERT_TRUE(flush());
  EXPECT_GE(stats().failed_writes, 1u);
  const int n = r.requests();
  ASSERT_GE(n, 2);  // the refused first attempt and its retry at least
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(r.path(i), "/v1/traces");
    EXPECT_EQ(r.content_type(i), GetParam().content_type);
    if (r.status(i) == "200") {
      EXPECT_EQ(attribute(r.request(i)["resourceSpans"][0]["resource"], "service.name"), "orders");
    }
  }
  const auto spans = r.spans();
  ASSERT_EQ(spans.size(), 3u);  // wsgi, the INSERT, the failed SELECT
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& s : spans) by_name[s["name"]] = s;
  std::string base_hex = base;
  base_hex.erase(std::remove(base_hex.begin(), base_hex.end(), '-'), base_hex.end());

  const auto& wsgi = by_name.at("wsgi");
  EXPECT_EQ(wsgi["traceId"], base_hex);
  EXPECT_FALSE(wsgi.contains("parentSpanId"));
  EXPECT_EQ(wsgi["kind"], 1);  // INTERNAL
  EXPECT_EQ(attribute(wsgi, "osprofiler.path"), "/items");
  EXPECT_EQ(attribute(wsgi, "osprofiler.attempt"), "2");  // int64 as a string
  EXPECT_EQ(attribute(wsgi, "osprofiler.cached"), false);
  EXPECT_EQ(attribute(wsgi, "osprofiler.load"), 0.5);

  const auto& insert = by_name.at("INSERT items");
  EXPECT_EQ(insert["traceId"], base_hex);
  EXPECT_EQ(insert["kind"], 3);  // CLIENT
  EXPECT_EQ(insert["parentSpanId"], wsgi["spanId"]);
  EXPECT_LE(std::stoll(insert["startTimeUnixNano"].get<std::string>()),
            std::stoll(insert["endTimeUnixNano"].get<std::string>()));
  EXPECT_EQ(attribute(insert, "db.system.name"), "sqlite");
  EXPECT_EQ(attribute(insert, "db.query.text"), "INSERT INTO items (id, name) VALUES (:id, 'x')");
  EXPECT_EQ(attribute(insert, "db.query.summary"), "INSERT items");
  EXPECT_EQ(attribute(insert, "db.operation.name"), "INSERT");
  EXPECT_EQ(attribute(insert, "db.collection.name"), "items");
  EXPECT_EQ(attribute(insert, "db.response.returned_rows"), "1");
  EXPECT_EQ(attribute(insert, "db.query.parameter.0"), "7");
  EXPECT_EQ(insert.value("status", nlohmann::json::object()).value("code", 0), 0);  // UNSET

  const auto& failed = by_name.at("SELECT missing");
  EXPECT_EQ(failed["status"]["code"], 2);  // ERROR
  EXPECT_FALSE(failed["status"]["message"].get<std::string>().empty());
  EXPECT_EQ(attribute(failed, "error.type"), "soci::sqlite3_soci_error");
  EXPECT_EQ(attribute(failed, "db.response.status_code"), "1");
}

// A long statement (a span longer than 16 KiB, lengths of several bytes) and
// invalid UTF-8 still make a request the definitions decode.
TEST_P(otlp_protocol_test, long_statements_and_invalid_utf8_are_sent_whole_and_valid) {
  receiver r("200");
  scoped_env env;
  send_to(r, env);
  opts_.max_statement_length = 100000;
  start();
  const std::string long_sql = "SELECT '" + std::string(40000, 'x') + "'";
  {
    trace t;
    span named{"bad \xC3\x28 name"};
    sql_span s({}, long_sql);
    s.error("E", "message with \xFF byte", "", "");
  }
  ASSERT_TRUE(flush());
  const auto spans = r.spans();
  ASSERT_EQ(spans.size(), 2u);
  for (const auto& sp : spans) {
    if (sp["kind"] == 3) {
      EXPECT_EQ(attribute(sp, "db.query.text"), long_sql);
      EXPECT_EQ(sp["status"]["message"], "message with \xEF\xBF\xBD byte");  // U+FFFD
    } else {
      EXPECT_EQ(sp["name"], "bad \xEF\xBF\xBD( name");
    }
  }
}

TEST_F(otlp_test, a_refusing_endpoint_drops_and_counts_without_retrying) {
  receiver r("400");
  opts_.connection_string = "otlp://127.0.0.1:" + std::to_string(r.port());
  start();
  {
    trace t;
    sql_span s({}, "SELECT 1");  // one record: its two events always travel together
  }
  ASSERT_TRUE(flush());
  const auto s = stats();
  EXPECT_EQ(s.dropped, 2u);
  EXPECT_EQ(s.exported, 0u);
  EXPECT_EQ(s.failed_writes, 1u);  // 400: not retried
  EXPECT_EQ(r.requests(), 1);
}

TEST_F(otlp_test, a_batch_given_up_on_leaves_nothing_behind_for_the_next) {
  receiver r("400 200");  // the first request is refused for good, the next accepted
  opts_.connection_string = "otlp://127.0.0.1:" + std::to_string(r.port());
  start();
  record_statement("SELECT 'first'");
  ASSERT_TRUE(flush());
  record_statement("SELECT 'second'");
  ASSERT_TRUE(flush());
  const auto s = stats();
  EXPECT_EQ(s.dropped, 2u);
  EXPECT_EQ(s.exported, 2u);
  ASSERT_EQ(r.requests(), 2);
  // The second request carries the second batch, not the refused one again.
  const auto spans = r.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(attribute(spans[0], "db.query.text"), "SELECT 'second'");
}

TEST_F(otlp_test, a_generic_span_is_sent_once_whole_when_it_ends) {
  receiver r("200");
  opts_.connection_string = "otlp://127.0.0.1:" + std::to_string(r.port());
  start();
  {
    trace t;
    span outer{"rpc", {{"function", "load_user"}}};
    ASSERT_TRUE(flush());  // its start goes through the exporter now: nothing is sent for it
    EXPECT_EQ(r.requests(), 0);
  }
  ASSERT_TRUE(flush());
  ASSERT_EQ(r.requests(), 1);
  const auto spans = r.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0]["name"], "rpc");
  EXPECT_EQ(attribute(spans[0], "osprofiler.function"), "load_user");
  EXPECT_LT(std::stoll(spans[0]["startTimeUnixNano"].get<std::string>()),
            std::stoll(spans[0]["endTimeUnixNano"].get<std::string>()));
  EXPECT_EQ(stats().exported, 2u);  // its two OSProfiler events, as counted everywhere
}

}  // namespace
}  // namespace dbtrace

namespace dbtrace {
namespace {

TEST_F(otlp_test, the_standard_otel_environment_variables_win) {
  receiver r("200");
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT",
         ("http://127.0.0.1:" + std::to_string(r.port()) + "/").c_str(), 1);
  setenv("OTEL_SERVICE_NAME", "from-env", 1);
  opts_.connection_string = "otlp://127.0.0.1:1";  // nothing listens here: the variable must win
  opts_.service = "from-config";
  start();
  unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  unsetenv("OTEL_SERVICE_NAME");
  record_statement("SELECT 1");
  ASSERT_TRUE(flush());
  EXPECT_EQ(stats().exported, 2u);
  ASSERT_EQ(r.requests(), 1);
  EXPECT_EQ(attribute(r.request(0)["resourceSpans"][0]["resource"], "service.name"), "from-env");
  EXPECT_EQ(r.path(0), "/v1/traces");
}

}  // namespace
}  // namespace dbtrace

namespace dbtrace {
namespace {

void busy_for(std::chrono::microseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
  }
}

TEST_P(otlp_protocol_test, the_duration_histogram_counts_every_statement_sent_in_its_bucket) {
  receiver r("200");
  scoped_env env;
  send_to(r, env);
  opts_.service = "orders";
  start();
  const auto target = intern_target({"postgresql", "shop", "db.internal", 5432});
  {
    trace t;
    for (int i = 0; i < 5; ++i) {  // fast: under a millisecond
      sql_span s(target, intern_statement("SELECT name FROM users WHERE id = $1"));
      s.rows(1);
    }
    for (int us : {2000, 3000, 7000}) {  // (1 ms, 5 ms] twice, (5 ms, 10 ms] once
      sql_span s(target, intern_statement("SELECT name FROM users WHERE id = $1"));
      busy_for(std::chrono::microseconds(us));
    }
    sql_span s(target, intern_statement("UPDATE users SET seen = true"));
    s.error("pqxx::serialization_failure", "could not serialize", "40001", "system");
  }
  ASSERT_TRUE(flush());
  dbtrace::shutdown();  // the histogram's last state goes out at shutdown

  // The spans the collector got, and the last metrics request.
  const auto spans = r.spans();
  int last_metrics = -1;
  for (int i = 0; i < r.requests(); ++i)
    if (r.path(i) == "/v1/metrics") last_metrics = i;
  ASSERT_EQ(spans.size(), 9u);
  ASSERT_GE(last_metrics, 0) << "no request to /v1/metrics";
  EXPECT_EQ(r.content_type(last_metrics), GetParam().content_type);
  const auto req = r.request(last_metrics);
  const auto& rm = req["resourceMetrics"][0];
  EXPECT_EQ(attribute(rm["resource"], "service.name"), "orders");
  const auto& metric = rm["scopeMetrics"][0]["metrics"][0];
  EXPECT_EQ(metric["name"], "db.client.operation.duration");
  EXPECT_EQ(metric["unit"], "s");
  EXPECT_EQ(metric["histogram"]["aggregationTemporality"], 2);

  // Expected per attribute set, from the spans' own times.
  const std::vector<double> bounds{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
  std::map<std::string, std::vector<std::int64_t>> expected;  // operation/error -> bucket counts
  for (const auto& sp : spans) {
    const double seconds =
        static_cast<double>(std::stoll(sp["endTimeUnixNano"].get<std::string>()) -
                            std::stoll(sp["startTimeUnixNano"].get<std::string>())) /
        1e9;
    std::size_t b = 0;
    while (b < bounds.size() && seconds > bounds[b]) ++b;
    const auto error = attribute(sp, "error.type");
    auto& counts = expected[attribute(sp, "db.operation.name").get<std::string>() + "/" +
                            (error.is_null() ? "" : error.get<std::string>())];
    counts.resize(bounds.size() + 1, 0);
    ++counts[b];
  }
  const auto& points = metric["histogram"]["dataPoints"];
  ASSERT_EQ(points.size(), expected.size());
  for (const auto& p : points) {
    const auto error = attribute(p, "error.type");
    const std::string key = attribute(p, "db.operation.name").get<std::string>() + "/" +
                            (error.is_null() ? "" : error.get<std::string>());
    SCOPED_TRACE(key);
    std::vector<std::int64_t> counts;
    for (const auto& c : p["bucketCounts"]) counts.push_back(std::stoll(c.get<std::string>()));
    EXPECT_EQ(counts, expected.at(key));
    std::vector<double> got_bounds;
    for (const auto& b : p["explicitBounds"]) got_bounds.push_back(b.get<double>());
    EXPECT_EQ(got_bounds, bounds);
    EXPECT_EQ(attribute(p, "db.system.name"), "postgresql");
    EXPECT_EQ(attribute(p, "db.namespace"), "shop");
    EXPECT_EQ(attribute(p, "server.address"), "db.internal");
    EXPECT_EQ(attribute(p, "server.port"), "5432");
    EXPECT_EQ(std::stoll(p["count"].get<std::string>()),
              std::accumulate(counts.begin(), counts.end(), std::int64_t{0}));
  }
  // The slow reads are past the first bucket (2 and 3 ms), one past the second
  // (7 ms); a loaded machine may only stretch them.
  const auto& reads = expected.at("SELECT/");
  EXPECT_GE(std::accumulate(reads.begin() + 1, reads.end(), std::int64_t{0}), 3);
  EXPECT_GE(std::accumulate(reads.begin() + 2, reads.end(), std::int64_t{0}), 1);
}

// The exporter keeps the last statement's encoded attributes and the last
// attribute set's histogram point: statements and targets alternating, each
// span and each point still has its own.
TEST_P(otlp_protocol_test, alternating_statements_and_targets_keep_their_own_attributes) {
  receiver r("200");
  scoped_env env;
  send_to(r, env);
  start();
  const auto shop = intern_target({"postgresql", "shop", "db.internal", 5432});
  const auto audit = intern_target({"mysql", "audit", "audit.internal", 3306});
  const auto read = intern_statement("SELECT name FROM users WHERE id = $1");
  const auto write = intern_statement("UPDATE orders SET paid = true");
  // The same statement on another target, or none, right after it.
  const std::pair<target_ref, statement_ref> order[] = {{shop, read},  {audit, read},
                                                        {shop, write}, {target_ref{}, write},
                                                        {shop, read},  {audit, read}};
  {
    trace t;
    for (const auto& [target, statement] : order) sql_span s(target, statement);
  }
  ASSERT_TRUE(flush());
  dbtrace::shutdown();  // the histogram goes out at shutdown

  auto spans = r.spans();
  ASSERT_EQ(spans.size(), std::size(order));
  std::sort(spans.begin(), spans.end(), [](const auto& a, const auto& b) {
    return std::stoll(a["startTimeUnixNano"].template get<std::string>()) <
           std::stoll(b["startTimeUnixNano"].template get<std::string>());
  });
  std::map<std::string, int> per_set;  // "operation namespace" -> statements
  for (std::size_t i = 0; i < spans.size(); ++i) {
    SCOPED_TRACE(i);
    const auto& [target, statement] = order[i];
    const auto& sp = spans[i];
    EXPECT_EQ(attribute(sp, "db.query.text"), statement.get()->text);
    EXPECT_EQ(attribute(sp, "db.operation.name"), std::string(statement.operation()));
    if (const target_info* t = target.get()) {
      EXPECT_EQ(attribute(sp, "db.system.name"), t->target.system);
      EXPECT_EQ(attribute(sp, "db.namespace"), t->target.name_space);
      EXPECT_EQ(attribute(sp, "server.address"), t->target.address);
      EXPECT_EQ(attribute(sp, "server.port"), std::to_string(t->target.port));
    } else {
      EXPECT_TRUE(attribute(sp, "db.system.name").is_null());
      EXPECT_TRUE(attribute(sp, "server.port").is_null());
    }
    ++per_set[std::string(statement.operation()) + " " +
              (target.get() ? target.get()->target.name_space : "")];
  }
  int last_metrics = -1;
  for (int i = 0; i < r.requests(); ++i)
    if (r.path(i) == "/v1/metrics") last_metrics = i;
  ASSERT_GE(last_metrics, 0) << "no request to /v1/metrics";
  const auto metrics = r.request(last_metrics);
  const auto& points =
      metrics["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["histogram"]["dataPoints"];
  std::map<std::string, int> counted;
  for (const auto& p : points) {
    const auto name_space = attribute(p, "db.namespace");
    counted[attribute(p, "db.operation.name").get<std::string>() + " " +
            (name_space.is_null() ? "" : name_space.get<std::string>())] +=
        static_cast<int>(std::stoll(p["count"].get<std::string>()));
  }
  EXPECT_EQ(counted, per_set);
}

}  // namespace
}  // namespace dbtrace

namespace dbtrace {
namespace {

TEST_F(otlp_test, headers_gzip_and_per_signal_endpoints_come_from_the_otel_variables) {
  receiver traces("200"), metrics("200");
  scoped_env env;
  env.set("OTEL_EXPORTER_OTLP_HEADERS", "api-key=general,x-tenant=shop%20one, broken-entry");
  env.set("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "API-Key=for-traces");
  env.set("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
  // A signal's own endpoint is the whole URL, used as is.
  env.set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
          "http://127.0.0.1:" + std::to_string(traces.port()) + "/custom/traces");
  env.set("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
          "http://127.0.0.1:" + std::to_string(metrics.port()) + "/custom/metrics");
  env.set("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none");
  opts_.connection_string = "otlp://127.0.0.1:1";  // nothing listens here
  start();
  record_statement("SELECT 1");
  ASSERT_TRUE(flush());
  dbtrace::shutdown();  // sends the histogram
  ASSERT_EQ(traces.requests(), 1);
  EXPECT_EQ(traces.path(0), "/custom/traces");
  const auto h = traces.headers(0);
  EXPECT_EQ(h["api-key"], "for-traces");  // the signal's own value wins
  EXPECT_EQ(h["x-tenant"], "shop one");   // percent-decoded
  EXPECT_EQ(h["content-encoding"], "gzip");
  EXPECT_EQ(h["user-agent"], "dbtrace/0.1.0");
  EXPECT_TRUE(std::filesystem::exists(traces.file(0, ".gz")));
  // The receiver gunzipped it with Python's gzip: it is the request, whole.
  EXPECT_EQ(traces.spans().size(), 1u);

  ASSERT_EQ(metrics.requests(), 1);
  EXPECT_EQ(metrics.path(0), "/custom/metrics");
  const auto mh = metrics.headers(0);
  EXPECT_EQ(mh["api-key"], "general");
  EXPECT_FALSE(mh.contains("content-encoding"));  // METRICS_COMPRESSION=none wins
}

TEST_F(otlp_test, a_refused_request_is_reported_without_its_headers) {
  receiver r("400");
  scoped_env env;
  env.set("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20s3cret-token");
  opts_.connection_string = "otlp://127.0.0.1:" + std::to_string(r.port());
  testing::capture_stderr capture;
  start();
  record_statement("SELECT 1");
  ASSERT_TRUE(flush());
  dbtrace::shutdown();
  const auto said = capture.text();
  EXPECT_NE(said.find("HTTP 400"), std::string::npos) << said;
  EXPECT_EQ(said.find("s3cret"), std::string::npos) << said;
  EXPECT_EQ(r.headers(0)["authorization"], "Bearer s3cret-token");
}

TEST_F(otlp_test, otel_exporter_otlp_timeout_bounds_each_request) {
  // A collector that takes the connection and never answers.
  const int port = testing::free_port();
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  scoped_env env;
  env.set("OTEL_EXPORTER_OTLP_TIMEOUT", "200");
  opts_.connection_string = "otlp://127.0.0.1:" + std::to_string(port);
  start();
  record_statement("SELECT 1");
  // With the default of 10 s not one attempt would have ended by now;
  // with 200 ms several have (generous bounds: this is not a timing test).
  EXPECT_FALSE(flush(std::chrono::milliseconds(2500)));
  EXPECT_GE(stats().failed_writes, 2u);
  dbtrace::shutdown(std::chrono::milliseconds(500));
  close(listener);
}

}  // namespace
}  // namespace dbtrace

namespace dbtrace {
namespace {

// The otlp_* keys of [profiler] configure the exporter as the variables do;
// a variable, when set, wins over its key.
TEST_F(otlp_test, the_profiler_section_keys_configure_the_exporter_and_variables_win) {
  receiver r("200");
  const auto conf = testing::write_file("otlp.conf",
                                        "[profiler]\n"
                                        "enabled = true\n"
                                        "connection_string = otlp://127.0.0.1:1\n"
                                        "otlp_endpoint = http://127.0.0.1:" +
                                            std::to_string(r.port()) +
                                            "/collector/\n"
                                            "otlp_protocol = http/json\n"
                                            "otlp_headers = api-key=from-file,x-team=db\n"
                                            "otlp_compression = gzip\n"
                                            "otlp_timeout = 4000\n");
  scoped_env env;
  env.set("OTEL_EXPORTER_OTLP_HEADERS", "x-team=from-env");
  init(load_options(conf));
  record_statement("SELECT 1");
  ASSERT_TRUE(flush());
  ASSERT_EQ(r.requests(), 1);
  EXPECT_EQ(r.path(0), "/collector/v1/traces");
  EXPECT_EQ(r.content_type(0), "application/json");
  const auto h = r.headers(0);
  EXPECT_EQ(h["api-key"], "from-file");
  EXPECT_EQ(h["x-team"], "from-env");
  EXPECT_EQ(h["content-encoding"], "gzip");
  EXPECT_EQ(r.spans().size(), 1u);
}

TEST_F(otlp_test, an_unusable_otel_variable_is_named_and_ignored) {
  receiver r("200");
  scoped_env env;
  env.set("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
  env.set("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon");
  env.set("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli");
  opts_.connection_string = "otlp://127.0.0.1:" + std::to_string(r.port());
  testing::capture_stderr capture;
  start();
  record_statement("SELECT 1");
  ASSERT_TRUE(flush());
  const auto said = capture.text();
  EXPECT_NE(said.find("OTEL_EXPORTER_OTLP_PROTOCOL=grpc: expected http/protobuf or http/json"),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=soon"), std::string::npos) << said;
  EXPECT_NE(said.find("OTEL_EXPORTER_OTLP_COMPRESSION=brotli"), std::string::npos) << said;
  // The defaults stand: protobuf, uncompressed, and the request arrives.
  ASSERT_EQ(r.requests(), 1);
  EXPECT_EQ(r.content_type(0), "application/x-protobuf");
  EXPECT_FALSE(r.headers(0).contains("content-encoding"));
  EXPECT_EQ(r.spans().size(), 1u);
}

// A throwaway CA, a server certificate for 127.0.0.1 and a client certificate.
struct test_pki {
  std::string dir = (testing::temp_dir() / "pki").string();
  test_pki() {
    std::filesystem::create_directories(dir);
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script =
        "cd " + dir + " && printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && " +
        "openssl req -x509 " + key +
        " -keyout ca.key -out ca.pem -days 2 -subj '/CN=dbtrace test CA' && " + "openssl req " +
        key + " -keyout server.key -out server.csr -subj '/CN=127.0.0.1' && " +
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 " +
        "-extfile san.ext -out server.pem && " + "openssl req " + key +
        " -keyout client.key -out client.csr -subj '/CN=dbtrace client' && " +
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 " +
        "-out client.pem";
    ok = testing::run("(" + script + ") >/dev/null 2>&1").status == 0;
  }
  std::string file(const char* name) const { return dir + "/" + name; }
  bool ok = false;
};

TEST_F(otlp_test, https_collectors_are_verified_with_the_configured_certificate) {
  const test_pki pki;
  ASSERT_TRUE(pki.ok) << "openssl could not make test certificates";
  receiver r("200", "--tls " + pki.file("server.pem") + " " + pki.file("server.key"));
  const std::string endpoint = "https://127.0.0.1:" + std::to_string(r.port());

  // Without the CA, the collector's certificate is not trusted: nothing is sent.
  opts_.connection_string = "otlp://127.0.0.1:1";
  opts_.otlp_endpoint = endpoint;
  opts_.otlp_timeout = 2000;
  testing::capture_stderr capture;
  start();
  record_statement("SELECT 'untrusted'");
  EXPECT_FALSE(flush(std::chrono::milliseconds(1500)));
  EXPECT_GE(stats().failed_writes, 1u);
  dbtrace::shutdown(std::chrono::milliseconds(500));
  EXPECT_EQ(r.requests(), 0);
  const auto said = capture.text();
  EXPECT_NE(said.find(endpoint + "/v1/traces"), std::string::npos) << said;

  // With the CA from the otlp_certificate key, it is.
  opts_.otlp_certificate = pki.file("ca.pem");
  start();
  record_statement("SELECT 'trusted by key'");
  ASSERT_TRUE(flush());
  dbtrace::shutdown();

  // And from OTEL_EXPORTER_OTLP_CERTIFICATE.
  opts_.otlp_certificate.clear();
  scoped_env env;
  env.set("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.file("ca.pem"));
  start();
  record_statement("SELECT 'trusted by variable'");
  ASSERT_TRUE(flush());
  std::set<std::string> texts;
  for (const auto& sp : r.spans()) texts.insert(attribute(sp, "db.query.text").get<std::string>());
  EXPECT_EQ(texts,
            (std::set<std::string>{"SELECT 'trusted by key'", "SELECT 'trusted by variable'"}));
}

TEST_F(otlp_test, a_collector_that_requires_a_client_certificate_gets_the_configured_one) {
  const test_pki pki;
  ASSERT_TRUE(pki.ok) << "openssl could not make test certificates";
  receiver r("200", "--tls " + pki.file("server.pem") + " " + pki.file("server.key") + " " +
                        pki.file("ca.pem"));
  opts_.connection_string = "otlp://127.0.0.1:1";
  opts_.otlp_endpoint = "https://127.0.0.1:" + std::to_string(r.port());
  opts_.otlp_certificate = pki.file("ca.pem");
  scoped_env env;
  env.set("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", pki.file("client.pem"));
  env.set("OTEL_EXPORTER_OTLP_CLIENT_KEY", pki.file("client.key"));
  start();
  record_statement("SELECT 1");
  ASSERT_TRUE(flush());
  EXPECT_EQ(stats().exported, 2u);
  EXPECT_EQ(r.spans().size(), 1u);
}

}  // namespace
}  // namespace dbtrace
