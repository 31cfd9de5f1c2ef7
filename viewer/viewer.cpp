// SPDX-License-Identifier: Apache-2.0
#include "viewer.hpp"

#include <string_view>

namespace dbtrace::viewer {
namespace detail {
extern const char* const page;
}

std::string render_html(const stored_trace& trace) {
  const std::string data =
      viewer_data(trace).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::string_view page = detail::page;
  constexpr std::string_view marker = "/*TRACE_DATA*/";
  const auto at = page.find(marker);
  std::string out;
  out.reserve(page.size() + data.size() + data.size() / 16);
  out.append(page.substr(0, at));
  // In JSON, '<' only occurs inside strings, where \u003c means the same: no
  // statement text can close the script element ("</script>") or open a comment.
  for (char c : data) {
    if (c == '<')
      out += "\\u003c";
    else
      out += c;
  }
  out.append(page.substr(at + marker.size()));
  return out;
}

}  // namespace dbtrace::viewer
