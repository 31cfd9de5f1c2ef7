// SPDX-License-Identifier: Apache-2.0
// What the dbtrace command's subcommands share: where the store is, writing
// output, tables, times and durations.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dbtrace::cli {

// A command line that asks for something impossible (exit code 2).
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// --connection-string, else DBTRACE_CONNECTION_STRING, else OSPROFILER_CONNECTION_STRING,
// else the connection_string of the --config files and --config-dir (oslo.config's
// order), else the embedded default.
std::string store_location(const std::string& flag, const std::vector<std::string>& config_files,
                           const std::string& config_dir);

// Writes to standard output, or to `out_file`; 1 (with a message) when it cannot.
int write_output(const std::string& text, const std::string& out_file);

// Colour and header rows only for a person at a terminal (and not with NO_COLOR).
bool is_terminal(const std::string& out_file);

// Rows as aligned columns under a header for a person, tab-separated without
// the header for scripts.
std::string table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows, bool for_a_person);

std::string millis(std::int64_t micros);     // "1.234" (ms, to the µs)
std::string timestamp(std::int64_t micros);  // OSProfiler's "2026-11-26T09:00:00.000000"

// A duration such as 250us, 1.5ms, 2s, 15m, 3h or 1d, in µs.
std::optional<std::int64_t> parse_duration(const std::string& text);

// A UTC time (2026-11-26T09:00:00, 2026-11-26) or an age (15m, 2h, 1d) before
// now, in µs since the epoch; usage_error naming `option` otherwise.
std::int64_t parse_time(const std::string& option, const std::string& text);

}  // namespace dbtrace::cli
