// SPDX-License-Identifier: Apache-2.0
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
#include <utility>

namespace dbtrace::soci {
namespace detail {

// What `session << …` returns: SOCI's own one-shot statement, which runs when
// this is destroyed at the end of the full expression, exactly as SOCI runs it.
// Its destructor catches (and rethrows) what SOCI throws, so that a statement
// SOCI refuses before the database runs it (e.g. "Vectors of size 0 are not
// allowed.") records SOCI's error.
class one_shot {
 public:
  template <typename T>
  one_shot(::soci::session& s, T const& t) : once_(s) {
    once_ << t;
  }
  one_shot(const one_shot&) = delete;
  one_shot& operator=(const one_shot&) = delete;
  ~one_shot() noexcept(false);  // runs the statement; throws what SOCI throws

  template <typename T>
  one_shot& operator<<(T const& t) {
    once_ << t;
    return *this;
  }
  // Whatever SOCI's one-shot takes after a comma: into(…), use(…).
  template <typename T,
            typename = decltype(std::declval<::soci::details::once_temp_type&>().operator,(
                                    std::declval<T const&>()))>
  one_shot& operator,(T const& t) {
    once_.operator,(t);
    return *this;
  }

 private:
  // Counts the one_shots alive on this thread (defined in the shim).
  struct catching {
    catching() noexcept;
    ~catching();
  };
  catching catching_;  // (declared first: destroyed after the statement ran)
  ::soci::details::once_temp_type once_;
};

}  // namespace detail

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

  // `sql << "…", into(x), use(y);` as with soci::session; a statement SOCI
  // itself refuses is recorded with SOCI's error (through a plain
  // soci::session opened with traced(), or `sql.once << …`, the span says only
  // that SOCI failed it before the database ran it).
  template <typename T>
  detail::one_shot operator<<(T const& t) {
    return detail::one_shot(*this, t);
  }
};

// The backend's own session object, for code that downcasts sql.get_backend()
// (e.g. to soci::sqlite3_session_backend); the session's own backend if it is not traced.
::soci::details::session_backend* inner_backend(::soci::session& sql);

}  // namespace dbtrace::soci
