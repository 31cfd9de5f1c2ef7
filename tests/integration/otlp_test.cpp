// otlp:// — the request a real HTTP receiver on loopback gets, decoded with the
// official OTLP protobuf definitions (npm @opentelemetry/otlp-transformer),
// with the stable database semantic conventions on the spans.
#include <soci/sqlite3/soci-sqlite3.h>

#include <numeric>
#include <thread>

#include "dbtrace/soci.hpp"
#include "dbtrace/sql.hpp"
#include "test_support.hpp"

#include <csignal>

namespace dbtrace {
namespace {

const std::string otlp_dir = std::string(DBTRACE_SOURCE_DIR) + "/tests/otlp";

// The loopback receiver (tests/otlp/receiver.py), answering `statuses` in turn.
class receiver {
 public:
  explicit receiver(const std::string& statuses) : port_(testing::free_port()) {
    dir_ = (testing::temp_dir() / ("otlp-" + std::to_string(port_))).string();
    std::filesystem::create_directories(dir_);
    pid_ = fork();
    if (pid_ == 0) {
      const std::string cmd = std::string(testing::python) + " " + otlp_dir + "/receiver.py " +
                              dir_ + " " + std::to_string(port_) + " " + statuses;
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
    while (std::filesystem::exists(file(n, ".json"))) ++n;
    return n;
  }

 private:
  int port_;
  std::string dir_;
  pid_t pid_;
};

using otlp_test = testing::recorder_test;

// Attribute `key` of `span` as a JSON value (stringValue, intValue, ...).
nlohmann::json attribute(const nlohmann::json& span, const std::string& key) {
  for (const auto& a : span["attributes"])
    if (a["key"] == key) return a["value"].begin().value();
  return nullptr;
}

TEST_F(otlp_test, spans_reach_the_receiver_valid_by_the_official_otlp_definitions) {
  if (!std::filesystem::exists(otlp_dir + "/node_modules/@opentelemetry/otlp-transformer")) {
    if (testing::under_ci())
      FAIL() << "tests/otlp/node_modules missing: scripts/test.sh installs it";
    GTEST_SKIP() << "run scripts/test.sh (it installs the OTLP definitions with npm)";
  }
  receiver r("503 200");  // the first attempt is refused for now: dbtrace retries
  opts_.connection_string = "otlp://127.0.0.1:" + std::to_string(r.port());
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
    span request{"wsgi", {{"path", "/items"}}};
    int id = 7;
    sql << "INSERT INTO items (id, name) VALUES (:id, 'x')", ::soci::use(id);
    try {
      sql << "SELECT * FROM missing";
    } catch (const ::soci::soci_error&) {
    }
  }
  ASSERT_TRUE(flush());
  EXPECT_GE(stats().failed_writes, 1u);
  // Spans may come in more than one request (batches): take every accepted one.
  const int n = r.requests();
  ASSERT_GE(n, 2);  // the refused first attempt and its retry at least
  nlohmann::json spans = nlohmann::json::array();
  for (int i = 0; i < n; ++i) {
    std::istringstream meta(testing::read_file(r.file(i, ".meta")));
    std::string path, content_type, status;
    std::getline(meta, path);
    std::getline(meta, content_type);
    std::getline(meta, status);
    EXPECT_EQ(path, "/v1/traces");
    EXPECT_EQ(content_type, "application/json");
    if (status != "200") continue;
    // The official definitions decode it, and give back exactly what was sent.
    const auto decoded =
        testing::run("cd " + otlp_dir + " && node decode.js " + r.file(i, ".json") + " 2>&1");
    ASSERT_EQ(decoded.status, 0) << decoded.out;
    const auto req = nlohmann::json::parse(decoded.out);
    const auto& rs = req["resourceSpans"][0];
    EXPECT_EQ(attribute(rs["resource"], "service.name"), "orders");
    for (const auto& sp : rs["scopeSpans"][0]["spans"]) spans.push_back(sp);
  }
  ASSERT_EQ(spans.size(), 3u);  // wsgi, the INSERT, the failed SELECT
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& s : spans) by_name[s["name"]] = s;
  std::string base_hex = base;
  base_hex.erase(std::remove(base_hex.begin(), base_hex.end(), '-'), base_hex.end());

  const auto& insert = by_name.at("INSERT items");
  EXPECT_EQ(insert["traceId"], base_hex);
  EXPECT_EQ(insert["kind"], 3);  // CLIENT
  EXPECT_EQ(insert["parentSpanId"], by_name.at("wsgi")["spanId"]);
  EXPECT_EQ(attribute(insert, "db.system.name"), "sqlite");
  EXPECT_EQ(attribute(insert, "db.query.text"), "INSERT INTO items (id, name) VALUES (:id, 'x')");
  EXPECT_EQ(attribute(insert, "db.query.summary"), "INSERT items");
  EXPECT_EQ(attribute(insert, "db.operation.name"), "INSERT");
  EXPECT_EQ(attribute(insert, "db.collection.name"), "items");
  EXPECT_EQ(attribute(insert, "db.response.returned_rows"), "1");  // int64 as a string
  EXPECT_EQ(attribute(insert, "db.query.parameter.0"), "7");
  EXPECT_EQ(insert.value("status", nlohmann::json::object()).value("code", 0), 0);  // UNSET

  const auto& failed = by_name.at("SELECT missing");
  EXPECT_EQ(failed["status"]["code"], 2);  // ERROR
  EXPECT_EQ(attribute(failed, "error.type"), "soci::sqlite3_soci_error");
  EXPECT_EQ(attribute(failed, "db.response.status_code"), "1");
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
  {
    trace t;
    sql_span s({}, "SELECT 'first'");
  }
  ASSERT_TRUE(flush());
  {
    trace t;
    sql_span s({}, "SELECT 'second'");
  }
  ASSERT_TRUE(flush());
  const auto s = stats();
  EXPECT_EQ(s.dropped, 2u);
  EXPECT_EQ(s.exported, 2u);
  ASSERT_EQ(r.requests(), 2);
  // The second request carries the second batch, not the refused one again.
  const auto req = nlohmann::json::parse(testing::read_file(r.file(1, ".json")));
  const auto& spans = req["resourceSpans"][0]["scopeSpans"][0]["spans"];
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
  const auto req = nlohmann::json::parse(testing::read_file(r.file(0, ".json")));
  const auto& spans = req["resourceSpans"][0]["scopeSpans"][0]["spans"];
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
  {
    trace t;
    sql_span s({}, "SELECT 1");
  }
  ASSERT_TRUE(flush());
  EXPECT_EQ(stats().exported, 2u);
  ASSERT_EQ(r.requests(), 1);
  const auto req = nlohmann::json::parse(testing::read_file(r.file(0, ".json")));
  EXPECT_EQ(attribute(req["resourceSpans"][0]["resource"], "service.name"), "from-env");
  EXPECT_EQ(testing::read_file(r.file(0, ".meta")).substr(0, 11), "/v1/traces\n");
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

TEST_F(otlp_test, the_duration_histogram_counts_every_statement_sent_in_its_bucket) {
  if (!std::filesystem::exists(otlp_dir + "/node_modules/@opentelemetry/otlp-transformer")) {
    if (testing::under_ci())
      FAIL() << "tests/otlp/node_modules missing: scripts/test.sh installs it";
    GTEST_SKIP() << "run scripts/test.sh (it installs the OTLP definitions with npm)";
  }
  receiver r("200");
  opts_.connection_string = "otlp://127.0.0.1:" + std::to_string(r.port());
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
  std::vector<nlohmann::json> spans;
  std::string metrics_file;
  for (int i = 0; i < r.requests(); ++i) {
    std::istringstream meta(testing::read_file(r.file(i, ".meta")));
    std::string path;
    std::getline(meta, path);
    const auto body = nlohmann::json::parse(testing::read_file(r.file(i, ".json")));
    if (path == "/v1/metrics") {
      metrics_file = r.file(i, ".json");
    } else {
      for (const auto& sp : body["resourceSpans"][0]["scopeSpans"][0]["spans"]) spans.push_back(sp);
    }
  }
  ASSERT_EQ(spans.size(), 9u);
  ASSERT_FALSE(metrics_file.empty()) << "no request to /v1/metrics";
  const auto decoded =
      testing::run("cd " + otlp_dir + " && node decode.js " + metrics_file + " 2>&1");
  ASSERT_EQ(decoded.status, 0) << decoded.out;
  const auto req = nlohmann::json::parse(decoded.out);
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

}  // namespace
}  // namespace dbtrace

namespace dbtrace {
namespace {

// Line 4 of a request's .meta: its headers, names lowercased.
nlohmann::json headers_of(const receiver& r, int n) {
  std::istringstream meta(testing::read_file(r.file(n, ".meta")));
  std::string line;
  for (int i = 0; i < 4; ++i) std::getline(meta, line);
  return nlohmann::json::parse(line);
}

std::string path_of(const receiver& r, int n) {
  std::istringstream meta(testing::read_file(r.file(n, ".meta")));
  std::string line;
  std::getline(meta, line);
  return line;
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
  {
    trace t;
    sql_span s({}, "SELECT 1");
  }
  ASSERT_TRUE(flush());
  dbtrace::shutdown();  // sends the histogram
  ASSERT_EQ(traces.requests(), 1);
  EXPECT_EQ(path_of(traces, 0), "/custom/traces");
  const auto h = headers_of(traces, 0);
  EXPECT_EQ(h["api-key"], "for-traces");  // the signal's own value wins
  EXPECT_EQ(h["x-tenant"], "shop one");   // percent-decoded
  EXPECT_EQ(h["content-encoding"], "gzip");
  EXPECT_EQ(h["user-agent"], "dbtrace/0.1.0");
  EXPECT_TRUE(std::filesystem::exists(traces.file(0, ".gz")));
  // The receiver gunzipped it with Python's gzip: it is the request, whole.
  const auto req = nlohmann::json::parse(testing::read_file(traces.file(0, ".json")));
  EXPECT_EQ(req["resourceSpans"][0]["scopeSpans"][0]["spans"].size(), 1u);

  ASSERT_EQ(metrics.requests(), 1);
  EXPECT_EQ(path_of(metrics, 0), "/custom/metrics");
  const auto mh = headers_of(metrics, 0);
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
  {
    trace t;
    sql_span s({}, "SELECT 1");
  }
  ASSERT_TRUE(flush());
  dbtrace::shutdown();
  const auto said = capture.text();
  EXPECT_NE(said.find("HTTP 400"), std::string::npos) << said;
  EXPECT_EQ(said.find("s3cret"), std::string::npos) << said;
  EXPECT_EQ(headers_of(r, 0)["authorization"], "Bearer s3cret-token");
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
  {
    trace t;
    sql_span s({}, "SELECT 1");
  }
  // With the default of 10 s not one attempt would have ended by now;
  // with 200 ms several have (generous bounds: this is not a timing test).
  EXPECT_FALSE(flush(std::chrono::milliseconds(2500)));
  EXPECT_GE(stats().failed_writes, 2u);
  dbtrace::shutdown(std::chrono::milliseconds(500));
  close(listener);
}

}  // namespace
}  // namespace dbtrace
