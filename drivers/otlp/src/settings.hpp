// SPDX-License-Identifier: Apache-2.0
// Where and how the OTLP exporter sends: the store's URL and the otlp_* keys
// of [profiler], overridden by OpenTelemetry's standard OTEL_EXPORTER_OTLP_*
// variables (a signal's own variable wins over the general one), as the
// OpenTelemetry SDKs read them.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "dbtrace/driver.hpp"
#include "requests.hpp"

namespace dbtrace::drivers::otlp {

// One signal's (traces' or metrics') request settings.
struct signal_settings {
  std::string url;
  std::vector<std::string> headers;  // "Name: value" lines
  long timeout_ms = 10000;
  bool gzip = false;
  encoding body = encoding::protobuf;
  // TLS: CA bundle, client certificate and key (PEM files); empty: libcurl's defaults.
  std::string certificate, client_certificate, client_key;
};

struct settings {
  signal_settings traces, metrics;
  std::chrono::milliseconds metric_interval{60000};
  resource_names names;
};

// An OTEL_* variable with a value that cannot be used is reported on stderr
// (naming the variable, never a header's value) and ignored, as the SDKs do.
settings settings_of(const store_params& p);

}  // namespace dbtrace::drivers::otlp
