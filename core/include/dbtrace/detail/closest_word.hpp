// SPDX-License-Identifier: Apache-2.0
// "Did you mean …?" for a mistyped key, section or command.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dbtrace::detail {

// The candidate fewest edits (insertions, deletions, substitutions) away from
// `word`, if at most `max_edits` away; else empty.
std::string closest_word(std::string_view word, const std::vector<std::string_view>& candidates,
                         std::size_t max_edits = 3);

}  // namespace dbtrace::detail
