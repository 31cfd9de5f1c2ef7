// SPDX-License-Identifier: Apache-2.0
// traceparent and tracestate as they arrive: parsed by the W3C rules or
// refused; what parses formats back to a traceparent that parses the same;
// the tracestate passed on is bounded, has no CR/LF and is already clean.
#include "dbtrace/traceparent.hpp"
#include "fuzz_support.hpp"

#include <vector>

namespace {

// A tracestate's members, blanks around them and empty ones left out (the
// spec allows both; they carry nothing).
std::vector<std::string> members(std::string_view header) {
  std::vector<std::string> out;
  while (true) {
    const auto comma = header.find(',');
    std::string_view m = header.substr(0, comma);
    while (!m.empty() && (m.front() == ' ' || m.front() == '\t')) m.remove_prefix(1);
    while (!m.empty() && (m.back() == ' ' || m.back() == '\t')) m.remove_suffix(1);
    if (!m.empty()) out.emplace_back(m);
    if (comma == std::string_view::npos) return out;
    header.remove_prefix(comma + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dbtrace;
  const auto [parent, state] = fuzz::two_parts(data, size);
  if (const auto ctx = parse_traceparent(parent)) {
    const std::string out = format_traceparent(ctx->base_id, ctx->parent_id, ctx->sampled);
    fuzz::must(out.size() == 55, "a parsed traceparent formats to 55 characters");
    const auto again = parse_traceparent(out);
    fuzz::must(again && again->base_id == ctx->base_id && again->parent_id == ctx->parent_id &&
                   again->sampled == ctx->sampled,
               "format(parse(h)) parses to the same context");
  }
  bool changed = false;
  const std::string clean = clean_tracestate(state, changed);
  fuzz::must(clean.size() <= 512, "tracestate is at most 512 characters");
  fuzz::must(clean.find_first_of("\r\n") == std::string::npos, "tracestate has no CR or LF");
  fuzz::must(changed || members(clean) == members(state),
             "an unchanged tracestate passes on every member as it came");
  bool changed_again = false;
  fuzz::must(clean_tracestate(clean, changed_again) == clean && !changed_again,
             "a clean tracestate stays as it is");
  return 0;
}
