// SPDX-License-Identifier: Apache-2.0
// A traced SOCI session from the installed package.
#include <soci/sqlite3/soci-sqlite3.h>
#include <dbtrace/dbtrace.hpp>
#include <dbtrace/soci.hpp>

int main() {
  dbtrace::options o;
  o.enabled = true;
  o.connection_string = "memory://consumer";
  dbtrace::init(o);
  int n = 0;
  {
    dbtrace::trace t;
    dbtrace::soci::session sql(soci::sqlite3, ":memory:");
    sql << "SELECT 41 + 1", soci::into(n);
  }
  dbtrace::flush();
  const auto s = dbtrace::stats();
  dbtrace::shutdown();
  return n == 42 && s.exported == 2 ? 0 : 1;
}
