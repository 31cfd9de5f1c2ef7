// SPDX-License-Identifier: Apache-2.0
// Error fields from SOCI's exceptions; backend-specific ones when that backend is linked.
#include "errors.hpp"

#include <soci/error.h>
#include <soci/version.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <typeinfo>

#include "dbtrace/detail/library.hpp"

namespace dbtrace::soci::detail {
namespace {

const char* category_name(::soci::soci_error::error_category c) {
  switch (c) {
    case ::soci::soci_error::connection_error:
      return "connection_error";
    case ::soci::soci_error::invalid_statement:
      return "invalid_statement";
    case ::soci::soci_error::no_privilege:
      return "no_privilege";
    case ::soci::soci_error::no_data:
      return "no_data";
    case ::soci::soci_error::constraint_violation:
      return "constraint_violation";
    case ::soci::soci_error::unknown_transaction_state:
      return "unknown_transaction_state";
    case ::soci::soci_error::system_error:
      return "system_error";
    case ::soci::soci_error::unknown:
      return "unknown";
  }
  return "unknown";
}

#if SOCI_VERSION < 400100
// SOCI 4.0: each backend's exception type has the code (backend_errors.cpp).
using status_code_fn = bool (*)(const ::soci::soci_error&, std::string&);
constexpr std::array<std::string_view, 3> backends = {"postgresql", "sqlite3", "mysql"};
std::array<std::atomic<status_code_fn>, backends.size()> status_codes{};

#ifdef DBTRACE_SOCI_ERROR_LIBRARIES
// Shared libraries: one per backend built (DBTRACE_SOCI_ERROR_LIBRARIES, a
// " name " list), loaded when the first session of that backend opens.
std::mutex loading;
std::array<bool, backends.size()> tried{};
#else
extern "C" {
#ifdef DBTRACE_SOCI_BACKEND_POSTGRESQL
bool dbtrace_soci_status_code_postgresql(const ::soci::soci_error&, std::string&);
#endif
#ifdef DBTRACE_SOCI_BACKEND_SQLITE3
bool dbtrace_soci_status_code_sqlite3(const ::soci::soci_error&, std::string&);
#endif
#ifdef DBTRACE_SOCI_BACKEND_MYSQL
bool dbtrace_soci_status_code_mysql(const ::soci::soci_error&, std::string&);
#endif
}
// Static libraries: linked in.
[[maybe_unused]] const bool linked_in = [] {
#ifdef DBTRACE_SOCI_BACKEND_POSTGRESQL
  status_codes[0] = dbtrace_soci_status_code_postgresql;
#endif
#ifdef DBTRACE_SOCI_BACKEND_SQLITE3
  status_codes[1] = dbtrace_soci_status_code_sqlite3;
#endif
#ifdef DBTRACE_SOCI_BACKEND_MYSQL
  status_codes[2] = dbtrace_soci_status_code_mysql;
#endif
  return true;
}();
#endif
#endif

// db.response.status_code: the SQLSTATE where the backend has one
// (PostgreSQL), else its error code (SQLite's result code, MySQL's error number).
std::string status_code(const ::soci::soci_error& e) {
#if SOCI_VERSION >= 400100
  if (auto sqlstate = e.get_sqlstate(); !sqlstate.empty()) return sqlstate;
  if (const int code = e.get_backend_error_code(); code != 0) return std::to_string(code);
  return {};
#else
  std::string code;
  for (const auto& fn : status_codes)
    if (const auto f = fn.load(std::memory_order_acquire); f && f(e, code)) return code;
  return {};
#endif
}

}  // namespace

void backend_opened(const std::string& backend) noexcept try {
#if SOCI_VERSION < 400100 && defined(DBTRACE_SOCI_ERROR_LIBRARIES)
  std::size_t i = 0;
  while (i < backends.size() && backends[i] != backend) ++i;
  if (i == backends.size()) return;
  std::lock_guard<std::mutex> lock(loading);
  if (tried[i]) return;
  tried[i] = true;
  if (std::string_view(DBTRACE_SOCI_ERROR_LIBRARIES).find(" " + backend + " ") == std::string_view::npos)
    return;  // built without that backend's headers: no codes to read
  std::string error;
  const auto fn = reinterpret_cast<status_code_fn>(dbtrace::detail::library_symbol(
      "libdbtrace_soci_" + backend + ".so." DBTRACE_SOVERSION,
      "dbtrace_soci_status_code_" + backend, error));
  if (fn)
    status_codes[i].store(fn, std::memory_order_release);
  else
    std::fprintf(stderr, "dbtrace: SOCI %s errors will be recorded without their error code: %s\n",
                 backend.c_str(), error.c_str());
#else
  (void)backend;
#endif
} catch (...) {
  dbtrace::detail::count_lost_detail("a SOCI backend's error codes");
}

void record_current_exception(sql_span& span) noexcept {
  try {
    try {
      throw;
    } catch (const ::soci::soci_error& e) {
      span.error(dbtrace::type_name(typeid(e)), e.what(), status_code(e),
                 category_name(e.get_error_category()));
    } catch (const std::exception& e) {
      span.error(dbtrace::type_name(typeid(e)), e.what());
    } catch (...) {
      span.error("unknown", "a non-standard exception");
    }
  } catch (...) {
    // Recording must never replace the application's exception.
    dbtrace::detail::count_lost_detail("an error");
  }
}

}  // namespace dbtrace::soci::detail
