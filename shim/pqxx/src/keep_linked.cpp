// SPDX-License-Identifier: Apache-2.0
// Compiled into every program that links dbtrace::pqxx (an INTERFACE source):
// nothing of the shim is named by the program itself (libpqxx calls it through
// libpq's names), so a linker with --as-needed, the default on Debian and
// Ubuntu, would leave libdbtrace_pqxx out. This reference keeps it in.
extern "C" const char dbtrace_pqxx_linked[];

namespace {
[[gnu::used]] const char* const dbtrace_pqxx_keep_linked = dbtrace_pqxx_linked;
}  // namespace
