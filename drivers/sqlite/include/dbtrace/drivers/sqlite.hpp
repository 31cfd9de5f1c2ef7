// sqlite:///rel.db, sqlite:////abs.db — the embedded default store: one row
// per span in a compact, versioned layout (PRAGMA user_version), WAL, one
// transaction per batch; views for reading by hand (span_details,
// statement_stats) and OSProfiler's `data` table as a view. Files in
// OSProfiler's own layout are read, not written.
// Thread safety: see dbtrace/driver.hpp (one exporter thread per writer).
#pragma once

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers {

// The sqlite:// store.
store_kind sqlite_store();

}  // namespace dbtrace::drivers
