// SPDX-License-Identifier: Apache-2.0
#include "settings.hpp"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <utility>

namespace dbtrace::drivers::otlp {
namespace {

const char* env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v && *v ? v : nullptr;
}

// OTEL_EXPORTER_OTLP_<signal>_<what>, else OTEL_EXPORTER_OTLP_<what>;
// `name` receives the variable's name, for messages.
const char* signal_env(const char* signal, const char* what, std::string& name) {
  for (std::string var : {std::string("OTEL_EXPORTER_OTLP_") + signal + "_" + what,
                          std::string("OTEL_EXPORTER_OTLP_") + what})
    if (const char* v = env(var)) {
      name = std::move(var);
      return v;
    }
  return nullptr;
}

void ignored(const std::string& variable, const char* value, const char* expected) {
  std::fprintf(stderr, "dbtrace: %s=%s: expected %s; ignored\n", variable.c_str(), value,
               expected);
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

// "api-key=secret,x-tenant=a%20b" lists, later ones replacing a header of the
// same name: the otlp_headers key, the general variable, the signal's own.
// Entries without '=' (or that would split a header line) are skipped.
std::vector<std::string> headers_for(const char* signal, const std::string& configured) {
  std::vector<std::pair<std::string, std::string>> headers;
  const std::string general = env("OTEL_EXPORTER_OTLP_HEADERS") ? env("OTEL_EXPORTER_OTLP_HEADERS")
                                                                 : "";
  const char* own = env(std::string("OTEL_EXPORTER_OTLP_") + signal + "_HEADERS");
  for (const std::string& list_text : {configured, general, std::string(own ? own : "")}) {
    std::stringstream list(list_text);
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

signal_settings signal_of(const char* signal, const char* path, const std::string& base,
                          const options& o) {
  signal_settings s;
  std::string var;
  // A signal's own endpoint is the full URL, used as is.
  const char* own_endpoint = env(std::string("OTEL_EXPORTER_OTLP_") + signal + "_ENDPOINT");
  s.url = own_endpoint ? own_endpoint : base + path;
  s.headers = headers_for(signal, o.otlp_headers);

  s.timeout_ms = static_cast<long>(o.otlp_timeout);
  if (const char* v = signal_env(signal, "TIMEOUT", var)) {
    char* end = nullptr;
    const long ms = std::strtol(v, &end, 10);
    if (*end == '\0' && ms > 0)
      s.timeout_ms = ms;
    else
      ignored(var, v, "a timeout in milliseconds");
  }

  s.gzip = o.otlp_compression == "gzip";
  if (const char* v = signal_env(signal, "COMPRESSION", var)) {
    if (std::string(v) == "gzip" || std::string(v) == "none")
      s.gzip = std::string(v) == "gzip";
    else
      ignored(var, v, "gzip or none");
  }

  s.body = o.otlp_protocol == "http/json" ? encoding::json : encoding::protobuf;
  if (const char* v = signal_env(signal, "PROTOCOL", var)) {
    if (std::string(v) == "http/protobuf" || std::string(v) == "http/json")
      s.body = std::string(v) == "http/json" ? encoding::json : encoding::protobuf;
    else
      ignored(var, v, "http/protobuf or http/json (dbtrace does not speak grpc)");
  }

  s.certificate = o.otlp_certificate;
  s.client_certificate = o.otlp_client_certificate;
  s.client_key = o.otlp_client_key;
  if (const char* v = signal_env(signal, "CERTIFICATE", var)) s.certificate = v;
  if (const char* v = signal_env(signal, "CLIENT_CERTIFICATE", var)) s.client_certificate = v;
  if (const char* v = signal_env(signal, "CLIENT_KEY", var)) s.client_key = v;
  return s;
}

}  // namespace

settings settings_of(const store_params& p) {
  const options& o = p.settings;
  // otlp://host:port is OSProfiler's form: plain http to that host.
  const std::string& cs = p.connection_string;
  const auto uri = parse_connection_uri(cs);  // a port that is no number is refused here
  std::string base = o.otlp_endpoint.empty() ? "http://" + cs.substr(uri.scheme.size() + 3)
                                             : o.otlp_endpoint;
  if (const char* endpoint = env("OTEL_EXPORTER_OTLP_ENDPOINT")) base = endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();

  settings s;
  s.traces = signal_of("TRACES", "/v1/traces", base, o);
  s.metrics = signal_of("METRICS", "/v1/metrics", base, o);
  s.names.project = p.project;
  s.names.service = p.service.empty() ? (p.project.empty() ? "dbtrace" : p.project) : p.service;
  if (const char* name = env("OTEL_SERVICE_NAME")) s.names.service = name;
  // OTel's variable for the metric export interval, in ms (default 60000).
  if (const char* v = env("OTEL_METRIC_EXPORT_INTERVAL")) {
    char* end = nullptr;
    const long ms = std::strtol(v, &end, 10);
    if (*end == '\0' && ms > 0)
      s.metric_interval = std::chrono::milliseconds(ms);
    else
      ignored("OTEL_METRIC_EXPORT_INTERVAL", v, "an interval in milliseconds");
  }
  return s;
}

}  // namespace dbtrace::drivers::otlp
