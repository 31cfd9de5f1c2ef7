// file:///path.jsonl — one OSProfiler event JSON per line, appended.
// Thread safety: see dbtrace/driver.hpp (one exporter thread per instance).
#pragma once

#include <memory>
#include <string>

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers {

std::unique_ptr<driver> make_jsonl_driver(const std::string& path);

}  // namespace dbtrace::drivers
