// otlp:// — span views as OTLP spans with the database semantic conventions,
// sent as OTLP/HTTP JSON with libcurl.
#include "dbtrace/drivers/otlp.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>

#include "dbtrace/error.hpp"
#include "dbtrace/osprofiler_event.hpp"

namespace dbtrace::drivers {
namespace {

using json = nlohmann::json;

// OTLP JSON ids: lowercase hex, 32 digits for a trace, 16 for a span.
std::string hex64(std::uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string h(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) h[static_cast<std::size_t>(i)] = digits[v & 0xF];
  return h;
}

// OTLP JSON written as text, as the OSProfiler formatter writes events: no
// JSON objects built per span (that alone cost ~10 µs a span).
class otlp_text {
 public:
  explicit otlp_text(std::string& out) : out_(out) {}

  // {"key": k, "value": {"stringValue": v}}; `json_value` is already a JSON string literal.
  void string_attribute(std::string_view key, std::string_view json_value) {
    open_attribute(key, "stringValue");
    out_ += json_value;
    out_ += "}}";
  }
  void text_attribute(std::string_view key, std::string_view text) {
    open_attribute(key, "stringValue");
    append_json_string(out_, text);
    out_ += "}}";
  }
  void int_attribute(std::string_view key, std::int64_t v) {
    open_attribute(key, "intValue");
    out_ += '"';  // int64 as a decimal string
    out_ += std::to_string(v);
    out_ += "\"}}";
  }
  // A JSON value of the application's (span info, bound values) by its type.
  void value_attribute(std::string_view key, const json& v) {
    if (v.is_string()) {
      text_attribute(key, v.get_ref<const std::string&>());
    } else if (v.is_boolean()) {
      open_attribute(key, "boolValue");
      out_ += v.get<bool>() ? "true}}" : "false}}";
    } else if (v.is_number_integer()) {
      int_attribute(key, v.get<std::int64_t>());
    } else if (v.is_number()) {
      open_attribute(key, "doubleValue");
      out_ += v.dump();
      out_ += "}}";
    } else {
      text_attribute(key, v.dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
  bool any = false;  // an attribute was written (for the commas)

 private:
  void open_attribute(std::string_view key, const char* type) {
    if (any) out_ += ',';
    any = true;
    out_ += "{\"key\":";
    append_json_string(out_, key);
    out_ += ",\"value\":{\"";
    out_ += type;
    out_ += "\":";
  }
  std::string& out_;
};

void append_hex64(std::string& out, std::uint64_t v) {
  out += '"';
  out += hex64(v);
  out += '"';
}

// One OTLP span from a view: SQL spans with the database conventions, generic
// spans with their info as `osprofiler.<key>` attributes.
void append_span(std::string& out, const span_view& v) {
  out += "{\"traceId\":\"";
  out += hex64(v.base_id.hi);
  out += hex64(v.base_id.lo);
  out += "\",\"spanId\":";
  append_hex64(out, v.id.lo);
  if (!(v.parent_id == v.base_id)) {
    out += ",\"parentSpanId\":";
    append_hex64(out, v.parent_id.lo);
  }
  out += ",\"name\":";
  if (v.is_sql()) {
    const statement_info& st = *v.statement;
    // The conventions' span name: the summary, else the system.
    std::string_view name = st.summary;
    if (name.empty() && v.target) name = v.target->target.system;
    append_json_string(out, name.empty() ? std::string_view("db") : name);
    out += ",\"kind\":3";  // CLIENT
  } else {
    append_json_string(out, v.name);
    out += ",\"kind\":1";  // INTERNAL
  }
  out += ",\"startTimeUnixNano\":\"";
  out += std::to_string(v.start_ns);
  out += "\",\"endTimeUnixNano\":\"";
  out += std::to_string(v.end_ns);
  out += "\",\"attributes\":[";
  otlp_text a(out);
  if (v.is_sql()) {
    const statement_info& st = *v.statement;
    a.string_attribute("db.query.text", st.json_text);
    if (v.target) {
      const db_target& t = v.target->target;
      if (!t.system.empty()) a.text_attribute("db.system.name", t.system);
      if (!t.name_space.empty()) a.text_attribute("db.namespace", t.name_space);
      if (!t.address.empty()) a.text_attribute("server.address", t.address);
      if (t.port > 0) a.int_attribute("server.port", t.port);
    }
    if (!st.operation.empty()) a.text_attribute("db.operation.name", st.operation);
    if (!st.collection.empty()) a.text_attribute("db.collection.name", st.collection);
    if (!st.summary.empty()) a.text_attribute("db.query.summary", st.summary);
    if (v.params)
      for (std::size_t i = 0; i < v.params->size(); ++i) {
        const auto& p = (*v.params)[i];
        const std::string key = "db.query.parameter." + std::to_string(i);
        if (p.is_string())
          a.text_attribute(key, p.get_ref<const std::string&>());
        else
          a.text_attribute(key, p.dump(-1, ' ', false, json::error_handler_t::replace));
      }
    if (v.batch > 0) a.int_attribute("db.operation.batch.size", v.batch);
    if (v.rows >= 0 && !v.error) a.int_attribute("db.response.returned_rows", v.rows);
    if (v.error && !v.error->sqlstate.empty())
      a.text_attribute("db.response.status_code", v.error->sqlstate);
  } else if (v.info) {
    for (const auto& [k, value] : v.info->items())
      if (k != "host") a.value_attribute("osprofiler." + k, value);
  }
  if (v.error) a.text_attribute("error.type", v.error->etype);
  out += "],\"status\":";
  if (v.error) {
    out += "{\"code\":2,\"message\":";
    append_json_string(out, v.error->message);
    out += '}';
  } else {
    out += "{\"code\":0}";
  }
  out += '}';
}

// db.client.operation.duration (stable database conventions): a histogram
// in seconds per attribute set, cumulative since the writer started.
// Aggregated on the exporter thread, in write(); never on the application's.
class duration_histogram {
 public:
  static constexpr double bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
  static constexpr std::size_t buckets = sizeof bounds / sizeof bounds[0] + 1;

  explicit duration_histogram(std::int64_t start_ns) : start_ns_(start_ns) {}

  void add(const span_view& v) {
    const db_target* t = v.target ? &v.target->target : nullptr;
    static const std::string none;
    const std::string* values[] = {
        t ? &t->system : &none,   t ? &t->name_space : &none,        &v.statement->operation,
        &v.statement->collection, v.error ? &v.error->etype : &none, t ? &t->address : &none};
    static const char* const names[] = {"db.system.name",     "db.namespace", "db.operation.name",
                                        "db.collection.name", "error.type",   "server.address"};
    // The attribute set as a key; its JSON is built once, for a new set.
    key_.clear();
    for (const auto* value : values) {
      key_ += *value;
      key_ += '\x1f';
    }
    const int port = t ? t->port : 0;
    key_ += std::to_string(port);
    auto [it, added] = points_.try_emplace(key_);
    point& p = it->second;
    if (added) {
      p.attributes = json::array();
      for (std::size_t i = 0; i < std::size(values); ++i)
        if (!values[i]->empty())
          p.attributes.push_back({{"key", names[i]}, {"value", {{"stringValue", *values[i]}}}});
      if (port > 0)
        p.attributes.push_back(
            {{"key", "server.port"}, {"value", {{"intValue", std::to_string(port)}}}});
    }
    const double seconds = static_cast<double>(v.end_ns - v.start_ns) / 1e9;
    std::size_t b = 0;
    while (b < buckets - 1 && seconds > bounds[b]) ++b;  // bucket b: (bounds[b-1], bounds[b]]
    ++p.counts[b];
    ++p.count;
    p.sum += seconds;
    p.min = p.count == 1 ? seconds : std::min(p.min, seconds);
    p.max = p.count == 1 ? seconds : std::max(p.max, seconds);
  }

  bool empty() const { return points_.empty(); }

  // An OTLP/JSON ExportMetricsServiceRequest with every point so far.
  std::string request(const json& resource, std::int64_t now_ns) const {
    json points = json::array();
    for (const auto& [key, p] : points_) {
      json counts = json::array();
      for (auto c : p.counts) counts.push_back(std::to_string(c));
      points.push_back({{"attributes", p.attributes},
                        {"startTimeUnixNano", std::to_string(start_ns_)},
                        {"timeUnixNano", std::to_string(now_ns)},
                        {"count", std::to_string(p.count)},
                        {"sum", p.sum},
                        {"bucketCounts", counts},
                        {"explicitBounds", bounds},
                        {"min", p.min},
                        {"max", p.max}});
    }
    json metric = {
        {"name", "db.client.operation.duration"},
        {"description", "Duration of database client operations."},
        {"unit", "s"},
        {"histogram", {{"aggregationTemporality", 2}, {"dataPoints", points}}}};  // CUMULATIVE
    json request = {
        {"resourceMetrics",
         {{{"resource", resource},
           {"scopeMetrics",
            {{{"scope", {{"name", "dbtrace"}, {"version", "0.1.0"}}}, {"metrics", {metric}}}}}}}}};
    return request.dump(-1, ' ', false, json::error_handler_t::replace);
  }

 private:
  struct point {
    json attributes;
    std::array<std::uint64_t, buckets> counts{};
    std::uint64_t count = 0;
    double sum = 0, min = 0, max = 0;
  };
  std::int64_t start_ns_;
  std::map<std::string, point> points_;
  std::string key_;  // reused: no allocation per span once the sets are known
};

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class otlp_writer final : public writer {
 public:
  otlp_writer(const std::string& base, std::string service, std::string project,
              std::chrono::milliseconds metric_interval)
      : url_(base + "/v1/traces"),
        metrics_url_(base + "/v1/metrics"),
        service_(std::move(service)),
        project_(std::move(project)),
        metric_interval_(metric_interval),
        histogram_(wall_ns()),
        last_metrics_(std::chrono::steady_clock::now()) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    resource_ = {{"attributes", json::array({{{"key", "service.name"},
                                              {"value", {{"stringValue", service_}}}}})}};
    if (!project_.empty())
      resource_["attributes"].push_back(
          {{"key", "service.namespace"}, {"value", {{"stringValue", project_}}}});
    // Everything of the request before its spans: the resource and the scope.
    prefix_ = "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
    otlp_text a(prefix_);
    a.text_attribute("service.name", service_);
    if (!project_.empty()) a.text_attribute("service.namespace", project_);
    prefix_ +=
        "]},\"scopeSpans\":[{\"scope\":{\"name\":\"dbtrace\",\"version\":\"0.1.0\"},\"spans\":[";
  }
  ~otlp_writer() override {
    if (curl_) curl_easy_cleanup(curl_);
    if (headers_) curl_slist_free_all(headers_);
  }

  // Builds the request afresh from the views on every attempt: the exporter
  // owns retries, so nothing of one batch can leak into the next.
  write_result write(const std::vector<span_view>& batch, std::string& error) noexcept override {
    try {
      body_.assign(prefix_);
      bool any = false;
      // A started generic span is sent once, whole, when it finishes.
      for (const auto& v : batch) {
        if (v.phase == span_phase::started) continue;
        if (any) body_ += ',';
        append_span(body_, v);
        any = true;
      }
      write_result result = write_result::ok;
      if (any) {
        body_ += "]}]}]}";
        result = post(url_, body_, error);
      }
      // The batch is settled (sent or refused for good): its statements
      // count. A retry brings the same views again, so they wait until then.
      if (result != write_result::retry) {
        for (const auto& v : batch)
          if (v.is_sql() && v.phase != span_phase::started) histogram_.add(v);
        if (std::chrono::steady_clock::now() - last_metrics_ >= metric_interval_) send_metrics();
      }
      return result;
    } catch (const std::exception& e) {
      error = e.what();
      return write_result::rejected;
    }
  }

  // The histogram's last state goes out before the process ends.
  void shutdown(std::chrono::milliseconds deadline) noexcept override {
    try {
      if (!histogram_.empty()) send_metrics(std::max<long>(1, static_cast<long>(deadline.count())));
    } catch (const std::exception&) {
    }
  }

 private:
  // Metrics are derived data: a failed send is retried with the next one
  // (cumulative points carry everything so far), and counts no event.
  void send_metrics(long timeout_ms = 10000) {
    last_metrics_ = std::chrono::steady_clock::now();
    if (histogram_.empty()) return;
    metrics_body_ = histogram_.request(resource_, wall_ns());
    std::string ignored;
    post(metrics_url_, metrics_body_, ignored, timeout_ms);
  }

  write_result post(const std::string& url, const std::string& body, std::string& error,
                    long timeout_ms = 10000) {
    if (!curl_) {
      curl_ = curl_easy_init();
      headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
      // No `Expect: 100-continue` for large bodies: it costs a round trip (or
      // a second's wait on servers that ignore it) per request.
      if (headers_) headers_ = curl_slist_append(headers_, "Expect:");
      if (!curl_ || !headers_) {
        error = "cannot set up libcurl";
        return write_result::retry;
      }
    }
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 3000L));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(
        curl_, CURLOPT_WRITEFUNCTION,
        +[](char*, size_t size, size_t n, void*) { return size * n; });
    const CURLcode rc = curl_easy_perform(curl_);
    if (rc != CURLE_OK) {
      error = url + ": " + curl_easy_strerror(rc);
      return write_result::retry;
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) return write_result::ok;
    error = url + ": HTTP " + std::to_string(status);
    // OTLP/HTTP: 429, 502, 503, 504 may pass later; other answers will not.
    if (status == 429 || status == 502 || status == 503 || status == 504)
      return write_result::retry;
    return write_result::rejected;
  }

  std::string url_, metrics_url_, service_, project_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string prefix_;  // the request up to its spans
  std::string body_;    // the request being sent
  json resource_;       // service.name (and service.namespace), for metrics
  std::chrono::milliseconds metric_interval_;
  duration_histogram histogram_;
  std::chrono::steady_clock::time_point last_metrics_;
  std::string metrics_body_;
};

std::unique_ptr<writer> make_otlp_writer(const store_params& p) {
  const std::string& uri = p.connection_string;
  const std::string& project = p.project;
  const std::string& service = p.service;
  std::string base;
  if (const char* endpoint = std::getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); endpoint && *endpoint) {
    base = endpoint;
  } else {
    base = "http://" + uri.substr(uri.find("://") + 3);
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string name = service.empty() ? (project.empty() ? "dbtrace" : project) : service;
  if (const char* env = std::getenv("OTEL_SERVICE_NAME"); env && *env) name = env;
  // OTel's variable for the metric export interval, in ms (default 60000).
  std::chrono::milliseconds interval(60000);
  if (const char* env = std::getenv("OTEL_METRIC_EXPORT_INTERVAL"); env && *env) {
    char* end = nullptr;
    const long ms = std::strtol(env, &end, 10);
    if (*end == '\0' && ms > 0) interval = std::chrono::milliseconds(ms);
  }
  return std::make_unique<otlp_writer>(base, name, project, interval);
}

}  // namespace

store_kind otlp_store() {
  return {{"otlp://"}, make_otlp_writer, {}};
}

}  // namespace dbtrace::drivers
