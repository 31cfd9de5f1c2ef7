// SPDX-License-Identifier: Apache-2.0
#include "common.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>

#include "dbtrace/options.hpp"
#include "dbtrace/osprofiler_event.hpp"

namespace dbtrace::cli {

std::string store_location(const std::string& flag, const std::vector<std::string>& config_files,
                           const std::string& config_dir) {
  if (!flag.empty()) return flag;
  for (const char* var : {"DBTRACE_CONNECTION_STRING", "OSPROFILER_CONNECTION_STRING"})
    if (const char* v = std::getenv(var); v && *v) return v;
  if (!config_files.empty() || !config_dir.empty())
    return dbtrace::load_options(config_files, config_dir).connection_string;
  return dbtrace::options{}.connection_string;
}

int write_output(const std::string& text, const std::string& out_file) {
  if (out_file.empty()) {
    std::cout << text;
    return 0;
  }
  std::ofstream out(out_file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) {
    std::cerr << "dbtrace: cannot write " << out_file << "\n";
    return 1;
  }
  return 0;
}

bool is_terminal(const std::string& out_file) {
  return out_file.empty() && isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
}

std::string millis(std::int64_t micros) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(micros) / 1000.0);
  return buf;
}

std::string timestamp(std::int64_t micros) {
  std::string ts;
  dbtrace::format_timestamp_us(micros, ts);
  return ts;
}

std::optional<std::int64_t> parse_duration(const std::string& text) {
  static const std::map<std::string, double> units = {{"us", 1},   {"ms", 1e3},   {"s", 1e6},
                                                      {"m", 60e6}, {"h", 3600e6}, {"d", 86400e6}};
  // A plain decimal number: stod alone would also take "nan", "inf", hex and blanks.
  if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.'))
    return std::nullopt;
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const auto unit = units.find(text.substr(used));
  if (unit == units.end() || !std::isfinite(value) || value < 0) return std::nullopt;
  const double micros = value * unit->second;
  if (micros >= 9.0e18) return std::nullopt;  // beyond int64 microseconds
  return static_cast<std::int64_t>(micros);
}

std::int64_t parse_time(const std::string& option, const std::string& text) {
  if (auto t = dbtrace::parse_timestamp(text.size() == 10 ? text + "T00:00:00" : text)) return *t;
  if (auto age = parse_duration(text)) {
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    return now - *age;
  }
  throw usage_error(option + " '" + text +
                    "' is neither a UTC time (2026-11-26T09:00:00) nor an age (30s, 15m, 2h, 1d)");
}

namespace {
// Columns line up by characters, not bytes ("µs").
std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
}  // namespace

std::string table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows, bool for_a_person) {
  std::vector<std::size_t> width(header.size(), 0);
  if (for_a_person) {
    for (std::size_t c = 0; c < header.size(); ++c) width[c] = display_width(header[c]);
    for (const auto& r : rows)
      for (std::size_t c = 0; c < r.size() && c < width.size(); ++c)
        width[c] = std::max(width[c], display_width(r[c]));
  }
  std::string text;
  auto line = [&](const std::vector<std::string>& r) {
    for (std::size_t c = 0; c < r.size(); ++c) {
      text += r[c];
      if (c + 1 == r.size()) break;
      text += for_a_person ? std::string(width[c] - display_width(r[c]) + 2, ' ') : "\t";
    }
    text += '\n';
  };
  if (for_a_person) line(header);
  for (const auto& r : rows) line(r);
  return text;
}

}  // namespace dbtrace::cli
