// Turns records into OSProfiler events on the exporter thread: all JSON work
// happens here, never on the application's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dbtrace/driver.hpp"
#include "record.hpp"

namespace dbtrace::detail {

// Naive UTC `%Y-%m-%dT%H:%M:%S.%f` (always 6 digits), as OSProfiler writes it.
void format_timestamp(std::int64_t ns, std::string& out);

// Microseconds since the epoch of such a timestamp (fewer fraction digits
// allowed); nullopt if malformed.
std::optional<std::int64_t> parse_timestamp(const std::string& ts);

// Writes `j` the way Python's json.dumps does by default: ", " and ": "
// separators, non-ASCII escaped; invalid UTF-8 becomes U+FFFD.
void append_python_json(std::string& out, const nlohmann::json& j);

class event_formatter {
 public:
  event_formatter(std::string project, std::string service, std::string host);

  // Appends the events of `r` to `out[used...]`, reusing their buffers, and
  // releases `r.extra`.
  void add(record& r, std::vector<event>& out, std::size_t& used);

 private:
  event& next(std::vector<event>& out, std::size_t& used);
  void fill_ids(event& e, const record& r, const char* name, std::size_t name_len, std::int64_t ns);
  std::string project_, service_, host_, host_json_;
};

}  // namespace dbtrace::detail
