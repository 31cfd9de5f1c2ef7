// SPDX-License-Identifier: Apache-2.0
// sqlite:///rel.db, sqlite:////abs.db — the embedded default store: one row
// per span in a compact, versioned layout (PRAGMA user_version), WAL, one
// transaction per batch, a trace's spans found by range (trace_spans), not by
// an index entry per span; views for reading by hand (span_details,
// statement_stats) and OSProfiler's `data` table as a view. Files in
// OSProfiler's own layout are read, not written; files of dbtrace's layout 1
// are read, and migrated when written to.
// Thread safety: see dbtrace/driver.hpp (one exporter thread per writer).
#pragma once

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers {

// The sqlite:// store.
store_kind sqlite_store();

}  // namespace dbtrace::drivers
