// otlp://host:port — OTLP/HTTP JSON to <endpoint>/v1/traces (OTEL_EXPORTER_OTLP_ENDPOINT
// overrides), spans with the stable database semantic conventions, kind CLIENT
// for SQL. Write-only: OTel backends (Jaeger, Tempo, …) are where these are read.
// Thread safety: see dbtrace/driver.hpp (one exporter thread per instance).
#pragma once

#include <memory>
#include <string>

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers {

// `service` / `project` name the resource (service.name; OTEL_SERVICE_NAME wins).
std::unique_ptr<driver> make_otlp_driver(const std::string& uri, const std::string& project,
                                         const std::string& service);

}  // namespace dbtrace::drivers
