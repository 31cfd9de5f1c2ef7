// UUID4 generation and text form for OSProfiler ids.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dbtrace/detail/id128.hpp"

namespace dbtrace::detail {

// A random UUID4 from a per-thread generator: no lock, no allocation, no syscall.
id128 new_uuid4() noexcept;

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lowercase.
void format_uuid(const id128& id, char out[36]) noexcept;
std::string to_string(const id128& id);

// Parses the 36-character form (either case); nullopt otherwise.
std::optional<id128> parse_uuid(std::string_view text) noexcept;

}  // namespace dbtrace::detail
