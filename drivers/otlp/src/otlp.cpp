// otlp:// — span views as OTLP spans with the database semantic conventions,
// sent as OTLP/HTTP JSON with libcurl.
#include "dbtrace/drivers/otlp.hpp"

#include <curl/curl.h>

#include <cstdlib>
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

class otlp_writer final : public writer {
 public:
  otlp_writer(std::string url, std::string service, std::string project)
      : url_(std::move(url)), service_(std::move(service)), project_(std::move(project)) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    // Everything of the request before its spans: the resource and the scope.
    prefix_ = "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
    otlp_text a(prefix_);
    a.text_attribute("service.name", service_);
    if (!project_.empty()) a.text_attribute("service.namespace", project_);
    prefix_ += "]},\"scopeSpans\":[{\"scope\":{\"name\":\"dbtrace\",\"version\":\"0.1.0\"},\"spans\":[";
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
      if (!any) return write_result::ok;
      body_ += "]}]}]}";
      return post(error);
    } catch (const std::exception& e) {
      error = e.what();
      return write_result::rejected;
    }
  }

 private:
  write_result post(std::string& error) {
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
    curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body_.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body_.size()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, 3L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(
        curl_, CURLOPT_WRITEFUNCTION,
        +[](char*, size_t size, size_t n, void*) { return size * n; });
    const CURLcode rc = curl_easy_perform(curl_);
    if (rc != CURLE_OK) {
      error = url_ + ": " + curl_easy_strerror(rc);
      return write_result::retry;
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) return write_result::ok;
    error = url_ + ": HTTP " + std::to_string(status);
    // OTLP/HTTP: 429, 502, 503, 504 may pass later; other answers will not.
    if (status == 429 || status == 502 || status == 503 || status == 504)
      return write_result::retry;
    return write_result::rejected;
  }

  std::string url_, service_, project_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string prefix_;  // the request up to its spans
  std::string body_;    // the request being sent
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
  return std::make_unique<otlp_writer>(base + "/v1/traces", name, project);
}

}  // namespace

store_kind otlp_store() {
  return {{"otlp://"}, make_otlp_writer, {}};
}

}  // namespace dbtrace::drivers
