// otlp:// — span views as OTLP spans with the database semantic conventions,
// sent as OTLP/HTTP JSON with libcurl.
#include "dbtrace/drivers/otlp.hpp"

#include <curl/curl.h>

#include <cstdlib>
#include <string>

#include "dbtrace/error.hpp"

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

json attribute(const std::string& key, const json& v) {
  json value;
  if (v.is_string())
    value["stringValue"] = v;
  else if (v.is_boolean())
    value["boolValue"] = v;
  else if (v.is_number_integer())
    value["intValue"] = std::to_string(v.get<long long>());  // int64 as a string
  else if (v.is_number())
    value["doubleValue"] = v;
  else
    value["stringValue"] = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return {{"key", key}, {"value", value}};
}

// An OTLP span from a view: SQL spans with the database conventions, generic
// spans with their info as `osprofiler.<key>` attributes.
json span_of(const span_view& v) {
  json attributes = json::array();
  std::string name(v.name);
  if (v.is_sql()) {
    const statement_info& st = *v.statement;
    attributes.push_back(attribute("db.query.text", st.text));
    if (v.target) {
      const db_target& t = v.target->target;
      if (!t.system.empty()) attributes.push_back(attribute("db.system.name", t.system));
      if (!t.name_space.empty()) attributes.push_back(attribute("db.namespace", t.name_space));
      if (!t.address.empty()) attributes.push_back(attribute("server.address", t.address));
      if (t.port > 0) attributes.push_back(attribute("server.port", t.port));
    }
    if (!st.operation.empty()) attributes.push_back(attribute("db.operation.name", st.operation));
    if (!st.collection.empty())
      attributes.push_back(attribute("db.collection.name", st.collection));
    if (!st.summary.empty()) attributes.push_back(attribute("db.query.summary", st.summary));
    // The conventions' span name: the summary, else the system.
    name = !st.summary.empty()               ? st.summary
           : v.target && !v.target->target.system.empty() ? v.target->target.system
                                                          : std::string("db");
    if (v.params)
      for (std::size_t i = 0; i < v.params->size(); ++i) {
        const auto& p = (*v.params)[i];
        attributes.push_back(attribute("db.query.parameter." + std::to_string(i),
                                       p.is_string() ? p : json(p.dump())));
      }
    if (v.batch > 0) attributes.push_back(attribute("db.operation.batch.size", v.batch));
    if (v.rows >= 0 && !v.error)
      attributes.push_back(attribute("db.response.returned_rows", v.rows));
    if (v.error && !v.error->sqlstate.empty())
      attributes.push_back(attribute("db.response.status_code", v.error->sqlstate));
  } else if (v.info) {
    for (const auto& [k, value] : v.info->items())
      if (k != "host") attributes.push_back(attribute("osprofiler." + k, value));
  }
  json status = {{"code", 0}};
  if (v.error) {
    attributes.push_back(attribute("error.type", v.error->etype));
    status = {{"code", 2}, {"message", v.error->message}};
  }
  json span = {{"traceId", hex64(v.base_id.hi) + hex64(v.base_id.lo)},
               {"spanId", hex64(v.id.lo)},
               {"name", name},
               {"kind", v.is_sql() ? 3 : 1},  // CLIENT for SQL, INTERNAL otherwise
               {"startTimeUnixNano", std::to_string(v.start_ns)},
               {"endTimeUnixNano", std::to_string(v.end_ns)},
               {"attributes", std::move(attributes)},
               {"status", std::move(status)}};
  if (!(v.parent_id == v.base_id)) span["parentSpanId"] = hex64(v.parent_id.lo);
  return span;
}

class otlp_writer final : public writer {
 public:
  otlp_writer(std::string url, std::string service, std::string project)
      : url_(std::move(url)), service_(std::move(service)), project_(std::move(project)) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
  }
  ~otlp_writer() override {
    if (curl_) curl_easy_cleanup(curl_);
    if (headers_) curl_slist_free_all(headers_);
  }

  // Builds the request afresh from the views on every attempt: the exporter
  // owns retries, so nothing of one batch can leak into the next.
  write_result write(const std::vector<span_view>& batch, std::string& error) noexcept override {
    try {
      json spans = json::array();
      // A started generic span is sent once, whole, when it finishes.
      for (const auto& v : batch)
        if (v.phase != span_phase::started) spans.push_back(span_of(v));
      if (spans.empty()) return write_result::ok;
      body_ = request(std::move(spans)).dump(-1, ' ', false, json::error_handler_t::replace);
      return post(error);
    } catch (const std::exception& e) {
      error = e.what();
      return write_result::rejected;
    }
  }

 private:
  json request(json spans) const {
    json resource = json::array({attribute("service.name", service_)});
    if (!project_.empty()) resource.push_back(attribute("service.namespace", project_));
    return {{"resourceSpans",
             json::array({{{"resource", {{"attributes", resource}}},
                           {"scopeSpans",
                            json::array({{{"scope", {{"name", "dbtrace"}, {"version", "0.1.0"}}},
                                          {"spans", std::move(spans)}}})}}})}};
  }

  write_result post(std::string& error) {
    if (!curl_) {
      curl_ = curl_easy_init();
      headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
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
  std::string body_;  // the request being sent
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
