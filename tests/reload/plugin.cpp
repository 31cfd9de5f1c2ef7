// SPDX-License-Identifier: Apache-2.0
// A plugin that traces: what a host loads with dlopen, runs and unloads with
// dlclose, again and again (tests/reload/host.cpp).
#include "dbtrace/dbtrace.hpp"
#include "dbtrace/sql.hpp"

extern "C" __attribute__((visibility("default"))) int run_plugin(const char* store) {
  dbtrace::options o;
  o.enabled = true;
  o.connection_string = store;
  dbtrace::init(o);
  {
    dbtrace::trace request;
    for (int i = 0; i < 100; ++i) dbtrace::sql_span s({}, "SELECT 1");
  }
  const bool flushed = dbtrace::flush();
  const auto s = dbtrace::stats();
  dbtrace::shutdown();
  return flushed && s.exported == s.recorded && s.recorded > 0 ? 0 : 1;
}
