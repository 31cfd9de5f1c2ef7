// dbtrace::soci — SOCI sessions whose every statement is a db span of the active trace.
//
//   dbtrace::soci::session sql(soci::sqlite3, "db=app.db");            // is-a soci::session
//   soci::session plain(dbtrace::soci::traced(soci::postgresql), "dbname=app");
//
// The shim is a forwarding SOCI backend: every call goes to the real backend;
// it adds only timing and recording. One span per execution (one-shot, prepared
// execute, fetch loops and rowsets until the last row, bulk operations with
// db.operation.batch.size), BEGIN/COMMIT/ROLLBACK as their own spans; a failing
// prepare or execute records its error and rethrows the same exception.
// Nothing is recorded outside an active trace, or with tracing or trace_sql off.
//
// Thread safety: as SOCI's — a session and its statements belong to one thread at a time.
#pragma once

#include <soci/soci.h>

#include <string>

namespace dbtrace::soci {

// A factory that opens sessions of `inner` with tracing. The reference stays
// valid for the process: SOCI keeps a pointer to the factory for reconnects.
::soci::backend_factory const& traced(::soci::backend_factory const& inner);

// A soci::session opened through traced(); the same constructors as SOCI's.
class session : public ::soci::session {
 public:
  session() = default;
  session(::soci::backend_factory const& factory, std::string const& connect_string);
  // A backend by name ("sqlite3", "postgresql"), loaded as SOCI loads it.
  session(std::string const& backend_name, std::string const& connect_string);
  // "backend://connect-string", e.g. "postgresql://dbname=app host=db".
  explicit session(std::string const& uri);

  void open(::soci::backend_factory const& factory, std::string const& connect_string);
  void open(std::string const& backend_name, std::string const& connect_string);
  void open(std::string const& uri);
};

// The backend's own session object, for code that downcasts sql.get_backend()
// (e.g. to soci::sqlite3_session_backend); the session's own backend if it is not traced.
::soci::details::session_backend* inner_backend(::soci::session& sql);

}  // namespace dbtrace::soci
