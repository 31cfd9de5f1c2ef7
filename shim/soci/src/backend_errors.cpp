// SPDX-License-Identifier: Apache-2.0
// The error code a SOCI 4.0 backend's own exception type carries (SOCI 4.1's
// soci_error says it itself). One function per backend, each needing that
// backend's library: with shared libraries each is a library of its own,
// loaded when a session of that backend opens (errors.cpp), so a program
// that never uses PostgreSQL does not link libpq for it.
#include <string>

#include <soci/soci-backend.h>

#ifdef DBTRACE_SOCI_BACKEND_POSTGRESQL
#include <soci/postgresql/soci-postgresql.h>
extern "C" bool dbtrace_soci_status_code_postgresql(const ::soci::soci_error& e, std::string& code) {
  const auto* pg = dynamic_cast<const ::soci::postgresql_soci_error*>(&e);
  if (pg) code = pg->sqlstate();
  return pg != nullptr;
}
#endif

#ifdef DBTRACE_SOCI_BACKEND_SQLITE3
#include <soci/sqlite3/soci-sqlite3.h>
extern "C" bool dbtrace_soci_status_code_sqlite3(const ::soci::soci_error& e, std::string& code) {
  const auto* lite = dynamic_cast<const ::soci::sqlite3_soci_error*>(&e);
  if (lite) code = std::to_string(lite->result());
  return lite != nullptr;
}
#endif

#ifdef DBTRACE_SOCI_BACKEND_MYSQL
#include <soci/mysql/soci-mysql.h>
extern "C" bool dbtrace_soci_status_code_mysql(const ::soci::soci_error& e, std::string& code) {
  const auto* my = dynamic_cast<const ::soci::mysql_soci_error*>(&e);
  if (my) code = std::to_string(my->err_num_);
  return my != nullptr;
}
#endif
