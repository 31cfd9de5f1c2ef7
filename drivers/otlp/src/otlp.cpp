// otlp:// — OSProfiler events paired into OTLP spans, sent as OTLP/HTTP JSON with libcurl.
#include "dbtrace/drivers/otlp.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>

#include "dbtrace/error.hpp"
#include "dbtrace/sql.hpp"
#include "format.hpp"

namespace dbtrace::drivers {
namespace {

using json = nlohmann::json;

// Starts waiting for their stop event beyond this many are sent as they are
// (a span whose stop never comes must not hold memory forever).
constexpr std::size_t max_pending_starts = 10000;

std::string hex_of_uuid(const std::string& uuid) {
  std::string h;
  for (const char c : uuid)
    if (c != '-') h += c;
  return h;
}

// Nanoseconds since the epoch of an event's timestamp, as OTLP's decimal string.
std::string unix_nanos(const std::string& ts) {
  const auto micros = detail::parse_timestamp(ts);
  return std::to_string(micros ? *micros * 1000 : 0);
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
    value["stringValue"] = v.dump();
  return {{"key", key}, {"value", value}};
}

// The first table a statement names after FROM / INTO / UPDATE / JOIN / TABLE.
std::string collection_of(const std::string& sql) {
  static const char* keywords[] = {"FROM", "INTO", "UPDATE", "JOIN", "TABLE"};
  std::string upper = sql;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::size_t best = std::string::npos, after = 0;
  for (const char* k : keywords) {
    for (std::size_t pos = upper.find(k); pos != std::string::npos; pos = upper.find(k, pos + 1)) {
      const std::size_t end = pos + std::strlen(k);
      const bool word = (pos == 0 || !std::isalnum(static_cast<unsigned char>(upper[pos - 1]))) &&
                        end < upper.size() && std::isspace(static_cast<unsigned char>(upper[end]));
      if (word && pos < best) {
        best = pos;
        after = end;
      }
      if (word) break;
    }
  }
  if (best == std::string::npos) return {};
  std::size_t i = after;
  while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
  std::size_t j = i;
  while (j < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[j])) || sql[j] == '_' ||
                            sql[j] == '.' || sql[j] == '"'))
    ++j;
  std::string name = sql.substr(i, j - i);
  name.erase(std::remove(name.begin(), name.end(), '"'), name.end());
  return name;
}

class otlp_driver final : public driver {
 public:
  otlp_driver(std::string url, std::string service, std::string project)
      : url_(std::move(url)), service_(std::move(service)), project_(std::move(project)) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
  }
  ~otlp_driver() override {
    if (curl_) curl_easy_cleanup(curl_);
    if (headers_) curl_slist_free_all(headers_);
  }

  write_result write(const std::vector<event>& batch, std::string& error) noexcept override {
    try {
      if (body_.empty()) {  // a batch that was sent before but refused with "retry" is resent as is
        json spans = json::array();
        for (const auto& e : batch) add(e, spans);
        if (spans.empty()) return write_result::ok;
        body_ = request(spans).dump(-1, ' ', false, json::error_handler_t::replace);
      }
      const auto r = post(error);
      if (r != write_result::retry) body_.clear();
      return r;
    } catch (const std::exception& e) {
      body_.clear();
      error = e.what();
      return write_result::rejected;
    }
  }

  std::vector<trace_summary> list_traces(bool) override {
    throw store_error(url_ + ": an OTLP endpoint is write-only; read traces in the OTel backend");
  }
  std::vector<stored_event> read_trace(const std::string&) override {
    throw store_error(url_ + ": an OTLP endpoint is write-only; read traces in the OTel backend");
  }

 private:
  // Pairs start and stop events into spans; an unpaired start waits for its stop.
  void add(const event& e, json& spans) {
    const bool is_start = e.name.size() > 6 && e.name.compare(e.name.size() - 6, 6, "-start") == 0;
    if (is_start) {
      pending_[e.trace_id] = e;
      order_.push_back(e.trace_id);
      while (pending_.size() > max_pending_starts && !order_.empty()) {
        pending_.erase(order_.front());
        order_.pop_front();
      }
      return;
    }
    const auto it = pending_.find(e.trace_id);
    if (it == pending_.end()) return;  // a stop without its start (dropped earlier)
    spans.push_back(span_of(it->second, e));
    pending_.erase(it);
  }

  json span_of(const event& start, const event& stop) const {
    const json start_info = json::parse(start.info_json, nullptr, false);
    const json stop_info = json::parse(stop.info_json, nullptr, false);
    const std::string kind_name = start.name.substr(0, start.name.rfind('-'));
    json attributes = json::array();
    std::string name = kind_name;
    const bool is_db = kind_name == "db";
    if (is_db && start_info.contains("db")) {
      const auto& db = start_info["db"];
      std::string operation, statement;
      for (const auto& [k, v] : db.items()) {
        if (k == "statement") {
          statement = v.is_string() ? v.get<std::string>() : v.dump();
          attributes.push_back(attribute("db.query.text", statement));
        } else if (k == "params" && v.is_array()) {
          for (std::size_t i = 0; i < v.size(); ++i)
            attributes.push_back(attribute("db.query.parameter." + std::to_string(i),
                                           v[i].is_string() ? v[i] : json(v[i].dump())));
        } else if (k.rfind("db.", 0) == 0 || k.rfind("server.", 0) == 0) {
          if (k == "db.operation.name" && v.is_string()) operation = v;
          attributes.push_back(attribute(k, v));
        }
      }
      const std::string collection = collection_of(statement);
      if (!collection.empty()) attributes.push_back(attribute("db.collection.name", collection));
      const std::string summary = operation.empty()    ? std::string()
                                  : collection.empty() ? operation
                                                       : operation + " " + collection;
      if (!summary.empty()) {
        attributes.push_back(attribute("db.query.summary", summary));
        name = summary;
      } else if (db.contains("db.system.name") && db["db.system.name"].is_string()) {
        name = db["db.system.name"].get<std::string>();
      }
    } else if (start_info.is_object()) {
      for (const auto& [k, v] : start_info.items())
        if (k != "host") attributes.push_back(attribute("osprofiler." + k, v));
    }
    json status = {{"code", 0}};
    if (stop_info.is_object()) {
      if (stop_info.contains("db") && stop_info["db"].is_object())
        for (const auto& [k, v] : stop_info["db"].items())
          if (k.rfind("db.", 0) == 0 || k == "error.type") attributes.push_back(attribute(k, v));
      if (stop_info.contains("etype")) {
        status = {{"code", 2}, {"message", stop_info.value("message", std::string())}};
        if (!(stop_info.contains("db") && stop_info["db"].contains("error.type")))
          attributes.push_back(attribute("error.type", stop_info["etype"]));
      }
    }
    json span = {{"traceId", hex_of_uuid(start.base_id)},
                 {"spanId", hex_of_uuid(start.trace_id).substr(16)},
                 {"name", name},
                 {"kind", is_db ? 3 : 1},  // CLIENT for SQL, INTERNAL otherwise
                 {"startTimeUnixNano", unix_nanos(start.timestamp)},
                 {"endTimeUnixNano", unix_nanos(stop.timestamp)},
                 {"attributes", attributes},
                 {"status", status}};
    if (start.parent_id != start.base_id)
      span["parentSpanId"] = hex_of_uuid(start.parent_id).substr(16);
    return span;
  }

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
  std::string body_;  // the request being sent (kept for retries)
  std::map<std::string, event> pending_;
  std::deque<std::string> order_;
};

}  // namespace

std::unique_ptr<driver> make_otlp_driver(const std::string& uri, const std::string& project,
                                         const std::string& service) {
  std::string base;
  if (const char* endpoint = std::getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); endpoint && *endpoint) {
    base = endpoint;
  } else {
    base = "http://" + uri.substr(uri.find("://") + 3);
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string name = service.empty() ? (project.empty() ? "dbtrace" : project) : service;
  if (const char* env = std::getenv("OTEL_SERVICE_NAME"); env && *env) name = env;
  return std::make_unique<otlp_driver>(base + "/v1/traces", name, project);
}

}  // namespace dbtrace::drivers
