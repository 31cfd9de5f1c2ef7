// postgresql://user:password@host:port/db — OSProfiler's `data` table in
// PostgreSQL (created if missing, same columns and indexes), written with COPY
// in batches on the exporter's own connection; reconnects after an outage.
// Thread safety: see dbtrace/driver.hpp (one exporter thread per instance).
#pragma once

#include <memory>
#include <string>

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers {

// `uri` as libpq takes it (postgresql://…; `postgresql+psycopg2://` is accepted
// as OSProfiler configs write it). `host` goes into the host column.
std::unique_ptr<driver> make_postgres_driver(const std::string& uri, const std::string& host);

}  // namespace dbtrace::drivers
