// SPDX-License-Identifier: Apache-2.0
// file:///path.jsonl — one OSProfiler event JSON per line, appended.
// Thread safety: see dbtrace/driver.hpp (one exporter thread per writer).
#pragma once

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers {

// The file:// store.
store_kind jsonl_store();

}  // namespace dbtrace::drivers
