// SPDX-License-Identifier: Apache-2.0
// Checks a store can make before its first write, and what makes a retried
// write safe.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "dbtrace/driver.hpp"

namespace dbtrace {

std::string file_store_problem(const std::string& path) noexcept {
  try {
    const std::filesystem::path file(path);
    const auto dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
    if (access(dir.c_str(), F_OK) != 0) return dir.string() + ": no such directory";
    if (!std::filesystem::is_directory(dir)) return dir.string() + ": not a directory";
    if (access(file.c_str(), F_OK) == 0) {
      if (access(file.c_str(), W_OK) != 0) return path + ": " + std::strerror(errno);
    } else if (access(dir.c_str(), W_OK | X_OK) != 0) {
      return dir.string() + ": " + std::strerror(errno) + " (cannot create " +
             file.filename().string() + ")";
    }
    return {};
  } catch (const std::exception&) {
    return {};  // unsure: let the write say
  }
}

std::string batch_marker(const std::vector<span_view>& batch) {
  const span_view& first = batch.front();
  char text[40];
  std::snprintf(text, sizeof text, "%016llx%016llx%d",
                static_cast<unsigned long long>(first.id.hi),
                static_cast<unsigned long long>(first.id.lo), static_cast<int>(first.phase));
  return text;
}

}  // namespace dbtrace
