// SPDX-License-Identifier: Apache-2.0
// UUID4 generation and text form for OSProfiler ids.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dbtrace/detail/id128.hpp"

namespace dbtrace::detail {

// 64 random bits from the calling thread's generator.
std::uint64_t random_u64() noexcept;
// Makes the calling thread seed its generator afresh on next use: after
// fork(), the child must not repeat the parent's ids.
void forget_random_state() noexcept;

// A random UUID4 from a per-thread generator: no lock, no allocation, no syscall.
id128 new_uuid4() noexcept;

// A new span's id within the trace `base`: base's high 64 bits and 62 random
// low bits (RFC 4122 variant). The OTel span-id is the low half, so it stays
// random; the shared high half lets the embedded store keep 64 bits per id.
id128 new_span_id(const id128& base) noexcept;

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lowercase.
void format_uuid(const id128& id, char out[36]) noexcept;
std::string to_string(const id128& id);

// Parses the 36-character form (either case); nullopt otherwise.
std::optional<id128> parse_uuid(std::string_view text) noexcept;

}  // namespace dbtrace::detail
