// W3C traceparent <-> OSProfiler ids.
#include "dbtrace/traceparent.hpp"

#include "trace/ids.hpp"

namespace dbtrace {
namespace {

bool lower_hex(std::string_view s) {
  for (const char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool all_zero(std::string_view s) {
  return s.find_first_not_of('0') == std::string_view::npos;
}

std::string uuid_text(std::string_view hex32) {
  std::string u;
  u.reserve(36);
  u.append(hex32.substr(0, 8)).append("-").append(hex32.substr(8, 4)).append("-");
  u.append(hex32.substr(12, 4)).append("-").append(hex32.substr(16, 4)).append("-");
  u.append(hex32.substr(20, 12));
  return u;
}

}  // namespace

std::optional<w3c_context> parse_traceparent(std::string_view h) noexcept {
  try {
    if (h.size() < 55) return std::nullopt;
    const auto version = h.substr(0, 2);
    if (!lower_hex(version) || version == "ff") return std::nullopt;
    if (version == "00" && h.size() != 55) return std::nullopt;
    if (h.size() > 55 && h[55] != '-') return std::nullopt;  // a future version's extra fields
    if (h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
    const auto trace_id = h.substr(3, 32), parent_id = h.substr(36, 16), flags = h.substr(53, 2);
    if (!lower_hex(trace_id) || !lower_hex(parent_id) || !lower_hex(flags)) return std::nullopt;
    if (all_zero(trace_id) || all_zero(parent_id)) return std::nullopt;
    w3c_context c;
    c.base_id = uuid_text(trace_id);
    c.parent_id = uuid_text(std::string("0000000000000000").append(parent_id));
    c.sampled = (std::stoi(std::string(flags), nullptr, 16) & 1) != 0;
    return c;
  } catch (...) {
    return std::nullopt;
  }
}

std::string format_traceparent(const std::string& base_id, const std::string& parent_id,
                               bool sampled) {
  const auto base = detail::parse_uuid(base_id);
  const auto parent = detail::parse_uuid(parent_id);
  if (!base || !parent) return {};
  const std::string b = detail::to_string(*base), p = detail::to_string(*parent);
  auto hex = [](const std::string& uuid) {
    std::string h;
    for (const char c : uuid)
      if (c != '-') h += c;
    return h;
  };
  return "00-" + hex(b) + "-" + hex(p).substr(16) + (sampled ? "-01" : "-00");
}

}  // namespace dbtrace
