// SPDX-License-Identifier: Apache-2.0
// Linked so that libpq's calls do not reach dbtrace::pqxx (see
// tests/CMakeLists.txt: libpq.so ahead of it, or libpq.a in the program): init
// must say on stderr that libpqxx's statements will not be traced, and how to
// fix the link; the tests read what it says.
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
