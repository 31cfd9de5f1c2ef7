// SPDX-License-Identifier: Apache-2.0
// Records one span into a store (a JSON-lines file, or the connection string
// given) and checks it was exported.
#include <dbtrace/dbtrace.hpp>
#include <dbtrace/sql.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  dbtrace::options o;
  o.enabled = true;
  const std::string where = argv[1];
  o.connection_string = where.find("://") == std::string::npos ? "file://" + where : where;
  dbtrace::init(o);
  {
    dbtrace::trace t;
    dbtrace::sql_span s({}, "SELECT 1");
  }
  dbtrace::flush();
  const auto s = dbtrace::stats();
  dbtrace::shutdown();
  std::printf("exported %llu\n", static_cast<unsigned long long>(s.exported));
  return s.exported == 2 ? 0 : 1;
}
