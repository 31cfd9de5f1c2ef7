// SPDX-License-Identifier: Apache-2.0
// `dbtrace bench`: what tracing costs on the user's own database and
// statement, through the shim they use.
#pragma once

#include <string>
#include <vector>

namespace dbtrace::cli {

struct bench_options {
  std::string api = "soci";  // soci | pqxx
  std::string db;            // SOCI "backend://…" or a libpq string; empty: in-memory SQLite
  std::string statement;     // empty: the built-in table's SELECT by id
  std::vector<std::string> params;
  std::string store;  // where spans go; empty: an embedded store in a temporary directory
  double seconds = 5;
  bool as_json = false;
};

int run_bench(const bench_options& o);

// The project `dbtrace bench` records its spans under, in whatever store:
// `dbtrace stats` leaves it out unless asked for it by name.
inline constexpr const char* bench_project = "dbtrace-bench";

}  // namespace dbtrace::cli
