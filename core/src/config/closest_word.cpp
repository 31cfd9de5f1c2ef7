// SPDX-License-Identifier: Apache-2.0
#include "dbtrace/detail/closest_word.hpp"

#include <algorithm>

namespace dbtrace::detail {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string closest_word(std::string_view word, const std::vector<std::string_view>& candidates,
                         std::size_t max_edits) {
  std::string_view best;
  std::size_t best_distance = max_edits + 1;
  for (const auto candidate : candidates)
    if (const auto d = edit_distance(word, candidate); d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  return std::string(best);
}

}  // namespace dbtrace::detail
