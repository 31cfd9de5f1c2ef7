// otlp:// — span views as OTLP spans with the database semantic conventions,
// sent as OTLP/HTTP JSON with libcurl.
#include "dbtrace/drivers/otlp.hpp"

#include <curl/curl.h>
#include <strings.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

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

// Where and how to send, from the store's URL and OpenTelemetry's standard
// OTEL_EXPORTER_OTLP_* variables (a signal's own variable wins over the general one).
struct otlp_settings {
  std::string traces_url, metrics_url;
  std::vector<std::string> traces_headers, metrics_headers;  // "Name: value" lines
  long traces_timeout_ms = 10000, metrics_timeout_ms = 10000;
  bool traces_gzip = false, metrics_gzip = false;
  std::chrono::milliseconds metric_interval{60000};
  std::string service, project;
};

const char* env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v && *v ? v : nullptr;
}

// OTEL_EXPORTER_OTLP_<signal>_<what>, else OTEL_EXPORTER_OTLP_<what>.
const char* signal_env(const char* signal, const char* what) {
  if (const char* v = env(std::string("OTEL_EXPORTER_OTLP_") + signal + "_" + what)) return v;
  return env(std::string("OTEL_EXPORTER_OTLP_") + what);
}

std::string percent_decoded(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// "api-key=secret,x-tenant=a%20b": the general list, then the signal's own,
// which replaces a header of the same name. Entries without '=' are skipped.
std::vector<std::string> headers_for(const char* signal) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const char* v : {env("OTEL_EXPORTER_OTLP_HEADERS"),
                        env(std::string("OTEL_EXPORTER_OTLP_") + signal + "_HEADERS")}) {
    if (!v) continue;
    std::stringstream list(v);
    for (std::string entry; std::getline(list, entry, ',');) {
      const auto eq = entry.find('=');
      if (eq == std::string::npos) continue;
      const std::string name = trimmed(entry.substr(0, eq));
      const std::string value = percent_decoded(trimmed(entry.substr(eq + 1)));
      if (name.empty() || name.find_first_of(":\r\n") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos)
        continue;
      const auto same = std::find_if(headers.begin(), headers.end(), [&](const auto& h) {
        return strcasecmp(h.first.c_str(), name.c_str()) == 0;
      });
      if (same != headers.end())
        same->second = value;
      else
        headers.emplace_back(name, value);
    }
  }
  std::vector<std::string> lines;
  for (const auto& [name, value] : headers) lines.push_back(name + ": " + value);
  return lines;
}

long timeout_for(const char* signal) {
  if (const char* v = signal_env(signal, "TIMEOUT")) {
    char* end = nullptr;
    const long ms = std::strtol(v, &end, 10);
    if (*end == '\0' && ms > 0) return ms;
  }
  return 10000;
}

bool gzip_for(const char* signal) {
  const char* v = signal_env(signal, "COMPRESSION");
  return v && std::string(v) == "gzip";
}

otlp_settings settings_of(const store_params& p) {
  otlp_settings s;
  const std::string& uri = p.connection_string;
  std::string base = "http://" + uri.substr(uri.find("://") + 3);
  if (const char* endpoint = env("OTEL_EXPORTER_OTLP_ENDPOINT")) base = endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  // A signal's own endpoint is the full URL, used as is.
  const char* traces = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const char* metrics = env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
  s.traces_url = traces ? traces : base + "/v1/traces";
  s.metrics_url = metrics ? metrics : base + "/v1/metrics";
  s.traces_headers = headers_for("TRACES");
  s.metrics_headers = headers_for("METRICS");
  s.traces_timeout_ms = timeout_for("TRACES");
  s.metrics_timeout_ms = timeout_for("METRICS");
  s.traces_gzip = gzip_for("TRACES");
  s.metrics_gzip = gzip_for("METRICS");
  s.project = p.project;
  s.service = p.service.empty() ? (p.project.empty() ? "dbtrace" : p.project) : p.service;
  if (const char* name = env("OTEL_SERVICE_NAME")) s.service = name;
  // Only http/json is spoken yet; say so once rather than send what the user did not ask for
  // silently.
  for (const char* var : {"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"})
    if (const char* v = env(var); v && std::string(v) != "http/json")
      std::fprintf(stderr, "dbtrace: %s=%s: dbtrace's OTLP exporter sends http/json only\n", var,
                   v);
  // OTel's variable for the metric export interval, in ms (default 60000).
  if (const char* v = env("OTEL_METRIC_EXPORT_INTERVAL")) {
    char* end = nullptr;
    const long ms = std::strtol(v, &end, 10);
    if (*end == '\0' && ms > 0) s.metric_interval = std::chrono::milliseconds(ms);
  }
  return s;
}

// A gzip member of `body` (zlib with the gzip wrapper), for Content-Encoding: gzip.
bool gzipped(const std::string& body, std::string& out) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return false;
  out.resize(deflateBound(&z, body.size()));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  z.avail_in = static_cast<uInt>(body.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END;
}

// The request headers of one signal, built once.
curl_slist* header_list(const std::vector<std::string>& extra, bool gzip) {
  curl_slist* list = nullptr;
  std::vector<std::string> lines = {"Content-Type: application/json",
                                    // No `Expect: 100-continue` for large bodies: it costs a
                                    // round trip (or a second's wait on servers that ignore it).
                                    "Expect:", "User-Agent: dbtrace/0.1.0"};
  if (gzip) lines.push_back("Content-Encoding: gzip");
  lines.insert(lines.end(), extra.begin(), extra.end());
  for (const auto& l : lines) {
    curl_slist* next = curl_slist_append(list, l.c_str());
    if (!next) {
      curl_slist_free_all(list);
      return nullptr;
    }
    list = next;
  }
  return list;
}

class otlp_writer final : public writer {
 public:
  explicit otlp_writer(otlp_settings settings)
      : settings_(std::move(settings)),
        service_(settings_.service),
        project_(settings_.project),
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
    if (traces_headers_) curl_slist_free_all(traces_headers_);
    if (metrics_headers_) curl_slist_free_all(metrics_headers_);
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
        result = post(signal::traces, body_, settings_.traces_timeout_ms, error);
      }
      // The batch is settled (sent or refused for good): its statements
      // count. A retry brings the same views again, so they wait until then.
      if (result != write_result::retry) {
        for (const auto& v : batch)
          if (v.is_sql() && v.phase != span_phase::started) histogram_.add(v);
        if (std::chrono::steady_clock::now() - last_metrics_ >= settings_.metric_interval)
          send_metrics(settings_.metrics_timeout_ms);
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
  void send_metrics(long timeout_ms) {
    last_metrics_ = std::chrono::steady_clock::now();
    if (histogram_.empty()) return;
    metrics_body_ = histogram_.request(resource_, wall_ns());
    std::string ignored;
    post(signal::metrics, metrics_body_, timeout_ms, ignored);
  }

  enum class signal { traces, metrics };

  // One POST. Error messages name the URL and the status, never a header
  // (OTEL_EXPORTER_OTLP_HEADERS usually carries an API key).
  write_result post(signal which, const std::string& body, long timeout_ms, std::string& error) {
    if (!curl_) {
      curl_ = curl_easy_init();
      traces_headers_ = header_list(settings_.traces_headers, settings_.traces_gzip);
      metrics_headers_ = header_list(settings_.metrics_headers, settings_.metrics_gzip);
      if (!curl_ || !traces_headers_ || !metrics_headers_) {
        error = "cannot set up libcurl";
        return write_result::retry;
      }
    }
    const bool traces = which == signal::traces;
    const std::string& url = traces ? settings_.traces_url : settings_.metrics_url;
    curl_slist* headers = traces ? traces_headers_ : metrics_headers_;
    const bool gzip = traces ? settings_.traces_gzip : settings_.metrics_gzip;
    const std::string* sent = &body;
    if (gzip) {
      if (!gzipped(body, compressed_)) {
        error = url + ": gzip failed";
        return write_result::rejected;
      }
      sent = &compressed_;
    }
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, sent->data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(sent->size()));
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

  otlp_settings settings_;
  std::string service_, project_;
  CURL* curl_ = nullptr;
  curl_slist* traces_headers_ = nullptr;
  curl_slist* metrics_headers_ = nullptr;
  std::string compressed_;  // the gzip body being sent
  std::string prefix_;      // the request up to its spans
  std::string body_;        // the request being sent
  json resource_;           // service.name (and service.namespace), for metrics
  duration_histogram histogram_;
  std::chrono::steady_clock::time_point last_metrics_;
  std::string metrics_body_;
};

std::unique_ptr<writer> make_otlp_writer(const store_params& p) {
  return std::make_unique<otlp_writer>(settings_of(p));
}

}  // namespace

store_kind otlp_store() {
  return {{"otlp://"}, make_otlp_writer, {}};
}

}  // namespace dbtrace::drivers
