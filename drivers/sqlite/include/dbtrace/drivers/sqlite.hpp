// sqlite:///rel.db, sqlite:////abs.db — the embedded default store: OSProfiler's
// `data` table (the schema its SQL driver creates), WAL, one transaction per batch.
// Thread safety: see dbtrace/driver.hpp (one exporter thread per instance).
#pragma once

#include <memory>
#include <string>

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers {

// `host` goes into the host column (OSProfiler's driver writes its own host there).
std::unique_ptr<driver> make_sqlite_driver(const std::string& path, const std::string& host);

}  // namespace dbtrace::drivers
