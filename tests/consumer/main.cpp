// SPDX-License-Identifier: Apache-2.0
// Records one span into a JSON-lines store and checks it arrived.
#include <dbtrace/dbtrace.hpp>
#include <dbtrace/sql.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  dbtrace::options o;
  o.enabled = true;
  o.connection_string = std::string("file://") + argv[1];
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
