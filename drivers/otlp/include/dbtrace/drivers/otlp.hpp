// SPDX-License-Identifier: Apache-2.0
// otlp://host:port — OTLP/HTTP JSON to <endpoint>/v1/traces (OTEL_EXPORTER_OTLP_ENDPOINT
// overrides), spans with the stable database semantic conventions, kind CLIENT
// for SQL; the resource's service.name is the service option (OTEL_SERVICE_NAME
// wins). Write-only: OTel backends (Jaeger, Tempo, …) are where these are read.
// Thread safety: see dbtrace/driver.hpp (one exporter thread per writer).
#pragma once

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers {

// The otlp:// store (no reader).
store_kind otlp_store();

}  // namespace dbtrace::drivers
