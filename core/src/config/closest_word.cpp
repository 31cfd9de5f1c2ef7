// SPDX-License-Identifier: Apache-2.0
#include "dbtrace/detail/closest_word.hpp"

#include <algorithm>

namespace dbtrace::detail {

namespace {

// Levenshtein distance of `a` and `b`, or `limit + 1` once every path is past
// `limit` (a row's smallest entry never decreases).
std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t limit) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    std::size_t smallest = row[0];
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      std::size_t d = diagonal + (a[i - 1] != b[j - 1]);
      if (up + 1 < d) d = up + 1;
      if (row[j - 1] + 1 < d) d = row[j - 1] + 1;
      row[j] = d;
      if (d < smallest) smallest = d;
      diagonal = up;
    }
    if (smallest > limit) return limit + 1;
  }
  return row[b.size()];
}

}  // namespace

std::string closest_word(std::string_view word, const std::vector<std::string_view>& candidates,
                         std::size_t max_edits) {
  std::string_view best;
  std::size_t best_distance = max_edits + 1;
  for (const auto candidate : candidates) {
    // The lengths alone put it out of reach: no table for a long word.
    const std::size_t apart = word.size() > candidate.size() ? word.size() - candidate.size()
                                                             : candidate.size() - word.size();
    if (apart > max_edits) continue;
    if (const auto d = edit_distance(word, candidate, max_edits); d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return std::string(best);
}

}  // namespace dbtrace::detail
