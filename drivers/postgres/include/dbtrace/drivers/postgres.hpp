// SPDX-License-Identifier: Apache-2.0
// postgresql://user:password@host:port/db — OSProfiler's `data` table in
// PostgreSQL (created if missing, same columns and indexes), written with COPY
// in batches on the exporter's own connection; reconnects after an outage.
// `postgresql+psycopg2://` is accepted as OSProfiler configs write it.
// Thread safety: see dbtrace/driver.hpp (one exporter thread per writer).
#pragma once

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers {

// The postgresql:// store.
store_kind postgres_store();

}  // namespace dbtrace::drivers
