// SPDX-License-Identifier: Apache-2.0
// Error fields from SOCI's exceptions; backend-specific ones when that backend is linked.
#include "errors.hpp"

#include <soci/error.h>
#include <soci/version.h>
// SOCI 4.1's errors say their SQLSTATE and backend code themselves; before
// that, each backend's error type is asked.
#if SOCI_VERSION < 400100
#ifdef DBTRACE_SOCI_HAVE_POSTGRESQL
#include <soci/postgresql/soci-postgresql.h>
#endif
#ifdef DBTRACE_SOCI_HAVE_SQLITE3
#include <soci/sqlite3/soci-sqlite3.h>
#endif
#ifdef DBTRACE_SOCI_HAVE_MYSQL
#include <soci/mysql/soci-mysql.h>
#endif
#endif

#include <cstdlib>
#include <memory>
#include <string>
#include <typeinfo>

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

// db.response.status_code: the SQLSTATE where the backend has one
// (PostgreSQL), else its error code (SQLite's result code, MySQL's error number).
std::string status_code(const ::soci::soci_error& e) {
#if SOCI_VERSION >= 400100
  if (auto sqlstate = e.get_sqlstate(); !sqlstate.empty()) return sqlstate;
  if (const int code = e.get_backend_error_code(); code != 0) return std::to_string(code);
  return {};
#else
#ifdef DBTRACE_SOCI_HAVE_POSTGRESQL
  if (auto* pg = dynamic_cast<const ::soci::postgresql_soci_error*>(&e)) return pg->sqlstate();
#endif
#ifdef DBTRACE_SOCI_HAVE_SQLITE3
  if (auto* lite = dynamic_cast<const ::soci::sqlite3_soci_error*>(&e))
    return std::to_string(lite->result());
#endif
#ifdef DBTRACE_SOCI_HAVE_MYSQL
  if (auto* my = dynamic_cast<const ::soci::mysql_soci_error*>(&e))
    return std::to_string(my->err_num_);
#endif
  (void)e;
  return {};
#endif
}

}  // namespace

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
