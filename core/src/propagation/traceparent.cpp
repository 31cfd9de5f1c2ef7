// SPDX-License-Identifier: Apache-2.0
// W3C traceparent <-> OSProfiler ids.
#include "dbtrace/traceparent.hpp"

#include <vector>

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

constexpr std::size_t max_tracestate_members = 32;
constexpr std::size_t max_tracestate_length = 512;  // what the spec asks vendors to pass on

bool key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
         c == '/';
}

// A member's key: simple-key, or tenant-id@system-id.
bool valid_key(std::string_view k) {
  if (k.empty() || k.size() > 256) return false;
  const auto at = k.find('@');
  auto part_ok = [](std::string_view p, bool first_may_be_digit) {
    if (p.empty()) return false;
    const char c = p[0];
    if (!((c >= 'a' && c <= 'z') || (first_may_be_digit && c >= '0' && c <= '9'))) return false;
    for (const char x : p)
      if (!key_char(x)) return false;
    return true;
  };
  if (at == std::string_view::npos) return part_ok(k, false);
  return part_ok(k.substr(0, at), true) && part_ok(k.substr(at + 1), false) &&
         k.substr(0, at).size() <= 241 && k.substr(at + 1).size() <= 14;
}

bool valid_value(std::string_view v) {
  if (v.empty() || v.size() > 256 || v.back() == ' ') return false;
  for (const char c : v)
    if (c < 0x20 || c > 0x7E || c == ',' || c == '=') return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string clean_tracestate(std::string_view header, bool& changed) noexcept {
  changed = false;
  try {
    std::vector<std::string_view> members;
    while (!header.empty()) {
      const auto comma = header.find(',');
      const auto member = trim(header.substr(0, comma));
      header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
      if (member.empty()) continue;  // empty members are allowed and dropped
      const auto eq = member.find('=');
      if (eq == std::string_view::npos || !valid_key(member.substr(0, eq)) ||
          !valid_value(member.substr(eq + 1)) || members.size() == max_tracestate_members) {
        changed = true;
        return {};  // not parseable: the whole header is not passed on
      }
      members.push_back(member);
    }
    std::string out;
    for (const auto m : members) {
      if (out.size() + (out.empty() ? 0 : 1) + m.size() > max_tracestate_length) {
        changed = true;  // cut from the end, as the spec allows
        break;
      }
      if (!out.empty()) out += ',';
      out.append(m.data(), m.size());
    }
    return out;
  } catch (...) {
    changed = true;
    return {};
  }
}

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
