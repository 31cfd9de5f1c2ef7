// SPDX-License-Identifier: Apache-2.0
// otlp:// — span views as OTLP spans with the database semantic conventions,
// sent as OTLP/HTTP (protobuf by default, or JSON) with libcurl.
#include "dbtrace/drivers/otlp.hpp"

#include <curl/curl.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "requests.hpp"
#include "settings.hpp"

namespace dbtrace::drivers {
namespace {

using otlp::encoding;
using otlp::signal_settings;

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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
curl_slist* header_list(const signal_settings& s) {
  curl_slist* list = nullptr;
  std::vector<std::string> lines = {std::string("Content-Type: ") + otlp::content_type(s.body),
                                    // No `Expect: 100-continue` for large bodies: it costs a
                                    // round trip (or a second's wait on servers that ignore it).
                                    "Expect:", "User-Agent: dbtrace/" DBTRACE_VERSION};
  if (s.gzip) lines.push_back("Content-Encoding: gzip");
  lines.insert(lines.end(), s.headers.begin(), s.headers.end());
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
  explicit otlp_writer(otlp::settings settings)
      : settings_(std::move(settings)),
        spans_(settings_.traces.body, settings_.names),
        histogram_(wall_ns()),
        last_metrics_(std::chrono::steady_clock::now()) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
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
      spans_.clear();
      // A started generic span is sent once, whole, when it finishes.
      for (const auto& v : batch)
        if (v.phase != span_phase::started) spans_.add(v);
      write_result result = write_result::ok;
      if (!spans_.empty()) result = post(signal::traces, spans_.finish(), error);
      // The batch is settled (sent or refused for good): its statements
      // count. A retry brings the same views again, so they wait until then.
      if (result != write_result::retry && result != write_result::unreachable) {
        for (const auto& v : batch)
          if (v.is_sql() && v.phase != span_phase::started) histogram_.add(v);
        if (std::chrono::steady_clock::now() - last_metrics_ >= settings_.metric_interval)
          send_metrics(settings_.metrics.timeout_ms);
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
    metrics_body_ = histogram_.request(settings_.metrics.body, settings_.names, wall_ns());
    std::string ignored;
    post(signal::metrics, metrics_body_, ignored, timeout_ms);
  }

  enum class signal { traces, metrics };

  // One POST. Error messages name the URL and the status, never a header
  // (OTEL_EXPORTER_OTLP_HEADERS usually carries an API key).
  write_result post(signal which, const std::string& body, std::string& error,
                    long timeout_ms = 0) {
    if (!curl_) {
      curl_ = curl_easy_init();
      traces_headers_ = header_list(settings_.traces);
      metrics_headers_ = header_list(settings_.metrics);
      if (!curl_ || !traces_headers_ || !metrics_headers_) {
        error = "cannot set up libcurl";
        return write_result::retry;
      }
    }
    const bool traces = which == signal::traces;
    const signal_settings& s = traces ? settings_.traces : settings_.metrics;
    if (timeout_ms <= 0) timeout_ms = s.timeout_ms;
    const std::string* sent = &body;
    if (s.gzip) {
      if (!gzipped(body, compressed_)) {
        error = s.url + ": gzip failed";
        return write_result::rejected;
      }
      sent = &compressed_;
    }
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, s.url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, traces ? traces_headers_ : metrics_headers_);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, sent->data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(sent->size()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 3000L));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    if (!s.certificate.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, s.certificate.c_str());
    if (!s.client_certificate.empty())
      curl_easy_setopt(curl_, CURLOPT_SSLCERT, s.client_certificate.c_str());
    if (!s.client_key.empty()) curl_easy_setopt(curl_, CURLOPT_SSLKEY, s.client_key.c_str());
    curl_easy_setopt(
        curl_, CURLOPT_WRITEFUNCTION,
        +[](char*, size_t size, size_t n, void*) { return size * n; });
    const CURLcode rc = curl_easy_perform(curl_);
    if (rc != CURLE_OK) {
      error = s.url + ": " + curl_easy_strerror(rc);
      const bool unreachable = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                               rc == CURLE_COULDNT_RESOLVE_PROXY;
      return unreachable ? write_result::unreachable : write_result::retry;
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) return write_result::ok;
    error = s.url + ": HTTP " + std::to_string(status);
    // OTLP/HTTP: 429, 502, 503, 504 may pass later; other answers will not.
    if (status == 429 || status == 502 || status == 503 || status == 504)
      return write_result::retry;
    return write_result::rejected;
  }

  otlp::settings settings_;
  CURL* curl_ = nullptr;
  curl_slist* traces_headers_ = nullptr;
  curl_slist* metrics_headers_ = nullptr;
  std::string compressed_;  // the gzip body being sent
  otlp::trace_request spans_;
  otlp::duration_histogram histogram_;
  std::chrono::steady_clock::time_point last_metrics_;
  std::string metrics_body_;
};

std::unique_ptr<writer> make_otlp_writer(const store_params& p) {
  return std::make_unique<otlp_writer>(otlp::settings_of(p));
}

}  // namespace

store_kind otlp_store() {
  return {{"otlp://"}, make_otlp_writer, {}};
}

}  // namespace dbtrace::drivers
