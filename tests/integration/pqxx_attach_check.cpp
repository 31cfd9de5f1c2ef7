// SPDX-License-Identifier: Apache-2.0
// Linked with libpq ahead of dbtrace::pqxx (see tests/CMakeLists.txt): init
// must say on stderr that libpqxx's statements will not be traced, and how to
// fix the link; the test reads what it says.
#include <libpq-fe.h>

#include <cstdio>

#include "dbtrace/dbtrace.hpp"

int main() {
  std::printf("libpq %d\n", PQlibVersion());  // names libpq, so it stays linked first
  dbtrace::options o;
  o.enabled = true;
  o.trace_sql = true;
  o.connection_string = "memory://attach_check";
  dbtrace::init(o);
  dbtrace::shutdown();
  return 0;
}
