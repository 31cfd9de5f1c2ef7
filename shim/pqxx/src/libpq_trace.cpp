// SPDX-License-Identifier: Apache-2.0
// The libpqxx shim: libpq's statement-sending calls, defined here, record one
// db span per statement and forward to libpq's own (dlsym RTLD_NEXT). Every
// libpqxx version, type and call path ends in these calls, made through the
// dynamic linker, which finds this library's definitions before libpq's when
// the program links dbtrace::pqxx (libpq then loads as libpqxx's dependency).
//
// Pairing results with statements: a synchronous call is one span around it.
// An asynchronous send (and a COPY, whose result comes after its data) leaves
// a pending statement on its connection; PQgetResult's results fill in the
// oldest pending statement, and the null result that ends them finishes it.
// In pipeline mode several wait, in the order sent.
#include <dlfcn.h>
#include <libpq-fe.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "dbtrace/sql.hpp"

namespace dbtrace::pqxx::detail {
namespace {

// libpq's own definition of `name`, the next after this library's.
void* next_symbol(const char* name) noexcept {
  if (void* f = dlsym(RTLD_NEXT, name)) return f;
  // Loaded before libpq (dlopen'ed with RTLD_LOCAL, say): libpq by its soname.
  if (void* libpq = dlopen("libpq.so.5", RTLD_NOW | RTLD_NOLOAD)) return dlsym(libpq, name);
  return nullptr;
}
// libpq's `fn`, looked up on first use; then libpq_<fn>() is a load and a
// branch, and the lookup stays out of the entry points' way (a function-local
// static's guard made GCC save registers on entry for it).
#define DBTRACE_NEXT(fn)                                                    \
  std::atomic<decltype(&::fn)> next_##fn{nullptr};                          \
  [[gnu::noinline, gnu::cold]] decltype(&::fn) look_up_##fn() noexcept {    \
    const auto found = reinterpret_cast<decltype(&::fn)>(next_symbol(#fn)); \
    next_##fn.store(found, std::memory_order_relaxed);                      \
    return found;                                                           \
  }                                                                         \
  inline decltype(&::fn) libpq_##fn() noexcept {                            \
    const auto f = next_##fn.load(std::memory_order_relaxed);               \
    return __builtin_expect(f != nullptr, 1) ? f : look_up_##fn();          \
  }
DBTRACE_NEXT(PQexec)
DBTRACE_NEXT(PQexecParams)
DBTRACE_NEXT(PQprepare)
DBTRACE_NEXT(PQexecPrepared)
DBTRACE_NEXT(PQsendQuery)
DBTRACE_NEXT(PQsendQueryParams)
DBTRACE_NEXT(PQsendPrepare)
DBTRACE_NEXT(PQsendQueryPrepared)
DBTRACE_NEXT(PQgetResult)
DBTRACE_NEXT(PQfinish)
DBTRACE_NEXT(PQreset)
DBTRACE_NEXT(PQresetStart)
#undef DBTRACE_NEXT

// Nonzero while this thread is inside libpq: libpq's calls to its own
// functions (PQexec calls PQsendQuery and PQgetResult) pass through.
__thread unsigned t_in_libpq __attribute__((tls_model("initial-exec"))) = 0;
class in_libpq {
 public:
  in_libpq() noexcept { ++t_in_libpq; }
  ~in_libpq() { --t_in_libpq; }
};

// Whether a call here is the application's (or libpqxx's) to trace.
bool outermost() noexcept {
  return t_in_libpq == 0 && dbtrace::detail::t_driver_calls == 0;
}

// A call not traced: libpq's calls to its own functions inside it (PQexec
// sends with PQsendQuery and reads with PQgetResult) are not looked at either.
template <typename Real, typename... Args>
auto passed_through(Real real, Args... args) {
  in_libpq inside;
  return real(args...);
}

struct prepared_statement {
  std::string sql;
  statement_ref interned;  // empty when tracing was off or the table full: sql is copied
};

// A statement sent and not yet answered in full.
struct pending_statement {
  std::optional<sql_span> span;  // empty: sent outside a trace
  // A PQsendPrepare: no span unless it fails (then made after the fact).
  const prepared_statement* prepare = nullptr;
  std::int64_t prepare_began = 0;
  bool answered = false;  // its last result came; the null result that follows ends it
  std::int64_t rows = -1;
};

// What is known of one PGconn: its target, its prepared statements' SQL (a
// span of PQexecPrepared shows the SQL, not the name), what waits for results.
struct connection_state {
  target_ref target;
  std::unordered_map<std::string, prepared_statement> prepared;
  // The statement executed last, by name: a loop executing one looks nothing up.
  std::string last_name;
  const prepared_statement* last = nullptr;
  std::deque<pending_statement> pending;
};

// A PGconn is used by one thread at a time (libpq's rule); the table of them by all.
std::mutex g_connections_mutex;
std::unordered_map<const PGconn*, std::unique_ptr<connection_state>>* g_connections;
// Statements pending on all connections: PQgetResult looks nothing up while none are.
std::atomic<long> g_pending{0};
// Each thread's last connection looked up, valid while no connection's state
// has been freed since (a new PGconn may have the address of a freed one).
std::atomic<std::uint64_t> g_states_freed{0};
struct last_connection {
  const PGconn* conn;
  connection_state* state;
  std::uint64_t states_freed;
};
__thread last_connection t_last __attribute__((tls_model("initial-exec")));

std::string or_empty(const char* s) {
  return s ? s : "";
}

target_ref target_of(const PGconn* conn) noexcept {
  try {
    db_target t;
    t.system = "postgresql";
    t.name_space = or_empty(PQdb(conn));
    t.address = or_empty(PQhost(conn));
    t.port = std::atoi(or_empty(PQport(conn)).c_str());
    if (!t.address.empty() && t.address[0] == '/') t.address.clear();  // a Unix socket directory
    return intern_target(t);
  } catch (...) {
    dbtrace::detail::count_lost_detail("a connection's target");
    return {};
  }
}

// The state of `conn`, made on first use; null if memory ran out, and for a
// null connection, to which libpq sends nothing (libpqxx 8 calls PQexec(nullptr,
// "ROLLBACK") for a transaction whose connection is gone).
connection_state* state_of(const PGconn* conn) noexcept {
  if (!conn) return nullptr;
  if (t_last.conn == conn && t_last.states_freed == g_states_freed.load(std::memory_order_acquire))
    return t_last.state;
  try {
    std::lock_guard<std::mutex> lock(g_connections_mutex);
    if (!g_connections)
      g_connections = new std::unordered_map<const PGconn*, std::unique_ptr<connection_state>>;
    auto& s = (*g_connections)[conn];
    if (!s) {
      s = std::make_unique<connection_state>();
      s->target = target_of(conn);
    }
    t_last = {conn, s.get(), g_states_freed.load(std::memory_order_relaxed)};
    return s.get();
  } catch (...) {
    dbtrace::detail::count_lost_detail("a connection's statements");
    return nullptr;
  }
}

connection_state* known_state(const PGconn* conn) noexcept {
  std::lock_guard<std::mutex> lock(g_connections_mutex);
  if (!g_connections) return nullptr;
  const auto it = g_connections->find(conn);
  return it == g_connections->end() ? nullptr : it->second.get();
}

// The connection closes or resets: what waits is recorded, prepared statements are gone.
void forget(const PGconn* conn, bool closing) noexcept {
  std::unique_ptr<connection_state> gone;
  {
    std::lock_guard<std::mutex> lock(g_connections_mutex);
    if (!g_connections) return;
    const auto it = g_connections->find(conn);
    if (it == g_connections->end()) return;
    g_pending.fetch_sub(static_cast<long>(it->second->pending.size()), std::memory_order_relaxed);
    if (closing) {
      gone = std::move(it->second);
      g_connections->erase(it);
      g_states_freed.fetch_add(1, std::memory_order_release);
    } else {
      it->second->pending.clear();
      it->second->prepared.clear();
      it->second->last = nullptr;
    }
  }
}

// Answered statements still waiting for their null result (libpqxx does not
// always ask for it after a COPY): finished before the connection sends more.
void drop_answered(connection_state& c) noexcept {
  while (!c.pending.empty() && c.pending.front().answered) {
    c.pending.pop_front();
    g_pending.fetch_sub(1, std::memory_order_relaxed);
  }
}

bool copying(ExecStatusType s) noexcept;

// libpq's synchronous calls first discard what an earlier asynchronous
// statement left unread (libpq allows it), out of dbtrace's sight: read here
// first, through PQgetResult below, it ends that statement's span, and the
// statements after it are paired with their own results.
void read_unread_results(PGconn* conn) noexcept {
  if (g_pending.load(std::memory_order_relaxed) == 0 || !conn ||
      PQpipelineStatus(conn) != PQ_PIPELINE_OFF)
    return;
  const connection_state* c = known_state(conn);
  while (c && !c->pending.empty()) {
    PGresult* r = PQgetResult(conn);  // a null result ends the oldest pending statement
    if (!r) continue;
    const ExecStatusType s = PQresultStatus(r);
    PQclear(r);
    if (copying(s)) return;  // libpq's own call deals with a COPY left open
  }
}

std::int64_t rows_of(const PGresult* r) noexcept {
  if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_SINGLE_TUPLE)
    return PQntuples(r);
  const char* affected = PQcmdTuples(const_cast<PGresult*>(r));
  return affected && *affected ? std::strtoll(affected, nullptr, 10) : -1;
}

bool failed(ExecStatusType s) noexcept {
  return s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE || s == PGRES_NONFATAL_ERROR;
}

bool copying(ExecStatusType s) noexcept {
  return s == PGRES_COPY_IN || s == PGRES_COPY_OUT || s == PGRES_COPY_BOTH;
}

// The server's error on `span`: libpq's status name as the type, the primary
// message and the SQLSTATE; or, with no result, the connection's error.
void record_error(sql_span& span, const PGconn* conn, const PGresult* r) noexcept {
  if (!r) {
    span.error("libpq", or_empty(PQerrorMessage(conn)));
    return;
  }
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  span.error(PQresStatus(PQresultStatus(r)), primary ? primary : or_empty(PQresultErrorMessage(r)),
             or_empty(PQresultErrorField(r, PG_DIAG_SQLSTATE)));
}

// One statement's result on its span; false when the statement is not over
// (a COPY's data follows).
bool record_result(sql_span& span, const PGconn* conn, const PGresult* r) noexcept {
  span.end_now();
  if (!r) {
    record_error(span, conn, r);
    return true;
  }
  const ExecStatusType s = PQresultStatus(r);
  if (copying(s)) return false;
  if (failed(s))
    record_error(span, conn, r);
  else
    span.rows(rows_of(r));
  return true;
}

// Bound values as the span records them: text as sent, binary as PostgreSQL's
// bytea hex text, a null pointer as null.
void record_params(sql_span& span, int n, const char* const* values, const int* lengths,
                   const int* formats) noexcept {
  if (!span.wants_params()) return;
  try {
    for (int i = 0; i < n; ++i) {
      if (!values || !values[i]) {
        span.param(nullptr);
      } else if (formats && formats[i] == 1) {
        static const char hex[] = "0123456789abcdef";
        std::string text = "\\x";
        const int length = lengths ? lengths[i] : 0;
        for (int b = 0; b < length; ++b) {
          const auto byte = static_cast<unsigned char>(values[i][b]);
          text += hex[byte >> 4];
          text += hex[byte & 15];
        }
        span.param(std::move(text));
      } else {
        span.param(std::string(values[i]));
      }
    }
  } catch (...) {
    dbtrace::detail::count_lost_detail("a bound value");
  }
}

// The span of a statement sent as text (sqlcommenter may extend what is sent).
struct text_statement {
  sql_span span;
  std::string commented;
  text_statement(target_ref target, const char* sql)
      : span(target, std::string_view(sql ? sql : "")) {
    if (sql && span.recording()) try {
        commented = span.with_comment(sql);
      } catch (...) {
        dbtrace::detail::count_lost_detail("a statement's sqlcommenter comment");
      }
  }
  const char* sent(const char* sql) const noexcept {
    return commented.empty() ? sql : commented.c_str();
  }
};

// The span of a PQexecPrepared / PQsendQueryPrepared of `name`.
sql_span prepared_span(connection_state& c, const char* name) noexcept {
  const std::string_view shown = name ? name : "";
  try {
    if (!c.last || c.last_name != shown) {
      const auto it = c.prepared.find(std::string(shown));
      if (it == c.prepared.end())
        return sql_span(c.target, shown);  // prepared before tracing was on
      c.last_name = shown;
      c.last = &it->second;  // (an unordered_map's elements stay where they are)
    }
    if (c.last->interned) return sql_span(c.target, c.last->interned);
    return sql_span(c.target, std::string_view(c.last->sql));
  } catch (...) {
    dbtrace::detail::count_lost_detail("a prepared statement's text");
  }
  return sql_span(c.target, shown);  // prepared before tracing was on: the name is all there is
}

// Remembers a prepared statement's SQL under its name, interned now, so that
// its executions look up only the name.
const prepared_statement* remember_prepared(connection_state& c, const char* name,
                                            const char* sql) noexcept {
  try {
    auto& p = c.prepared[or_empty(name)];
    p.sql = or_empty(sql);
    p.interned = intern_statement(p.sql, c.target);
    return &p;
  } catch (...) {
    dbtrace::detail::count_lost_detail("a prepared statement's text");
    return nullptr;
  }
}

// A statement sent asynchronously waits for its results.
void add_pending(connection_state& c, std::optional<sql_span> span,
                 const prepared_statement* prepare = nullptr, std::int64_t began = 0) noexcept {
  try {
    if (span) span->keep_open();  // a trace that ends first finishes it
    c.pending.push_back(pending_statement{std::move(span), prepare, began});
    g_pending.fetch_add(1, std::memory_order_relaxed);
  } catch (...) {
    dbtrace::detail::count_lost_detail("a span (its pending statement)");
  }
}

// A COPY whose data follows: its span waits for the result after the data.
void continue_copy(connection_state& c, sql_span& span) noexcept {
  std::optional<sql_span> moved;
  moved.emplace(std::move(span));
  add_pending(c, std::move(moved));
}

// A statement the server refused to prepare, as a span made after the fact.
void record_failed_prepare(connection_state& c, const char* sql, std::int64_t began,
                           const PGconn* conn, const PGresult* r) noexcept {
  sql_span span(c.target, std::string_view(or_empty(sql)));
  span.started_at(began);
  span.end_now();
  record_error(span, conn, r);
}

// After an asynchronous send: the statement waits for its results. A send
// that failed at once (a dead connection) is the span's error.
int after_send(const PGconn* conn, connection_state& c, std::optional<sql_span> span, int sent) {
  if (!sent) {
    if (span) record_error(*span, conn, nullptr);
    return sent;
  }
  add_pending(c, std::move(span));
  return sent;
}

// Said once on stderr by init when libpq's calls do not reach this library.
void check_attached() noexcept {
  static std::atomic<bool> said{false};
  // (&PQexec here would be the address the dynamic linker chose, not ours:
  // this library is told apart by the object a function of its own is in.)
  Dl_info ours{}, seen{};
  void* const resolved = dlsym(RTLD_DEFAULT, "PQexec");
  const bool known = dladdr(reinterpret_cast<void*>(&check_attached), &ours) && resolved &&
                     dladdr(resolved, &seen);
  const char* problem = nullptr;
  std::string where;
  if (!next_symbol("PQexec")) {
    problem =
        "libpq is not loaded as a shared library (linked statically?), so its calls cannot be "
        "traced: link libpq dynamically (-lpq, not libpq.a)";
  } else if (known && seen.dli_fbase != ours.dli_fbase) {
    if (seen.dli_fname) where = seen.dli_fname;
    const auto slash = where.rfind('/');
    const bool shared_libpq =
        where.compare(slash == std::string::npos ? 0 : slash + 1, 8, "libpq.so") == 0;
    problem = shared_libpq ? "libpq's calls resolve to libpq before dbtrace: link dbtrace::pqxx "
                             "(-ldbtrace_pqxx) before libpq on the link line, or leave -lpq out"
                           : "libpq is linked statically into another object: link libpq "
                             "dynamically (-lpq, not libpq.a)";
  }
  if (!problem || said.exchange(true)) return;
  std::fprintf(stderr, "dbtrace: libpqxx statements will not be traced: %s%s%s\n", problem,
               where.empty() ? "" : "; PQexec is ", where.c_str());
}

[[maybe_unused]] const bool registered = (dbtrace::detail::on_sql_init(check_attached), true);

}  // namespace
}  // namespace dbtrace::pqxx::detail

using namespace dbtrace::pqxx::detail;
using dbtrace::sql_span;
namespace dbtrace_pq = dbtrace::pqxx::detail;

namespace {

// The traced half of each entry point below, kept apart from it: an entry
// point that only forwards then saves no registers (GCC saves them on entry,
// for the whole function, before any check). Called for the application's
// own calls (outermost) with SQL tracing on.

[[gnu::noinline]] PGresult* traced_PQexec(PGconn* conn, const char* query) {
  const auto real_PQexec = libpq_PQexec();
  read_unread_results(conn);
  if (!dbtrace::sql_recording()) return passed_through(real_PQexec, conn, query);
  connection_state* c = state_of(conn);
  if (!c) return passed_through(real_PQexec, conn, query);
  drop_answered(*c);
  text_statement st(c->target, query);
  PGresult* r;
  {
    in_libpq inside;
    r = real_PQexec(conn, st.sent(query));
  }
  if (!record_result(st.span, conn, r)) continue_copy(*c, st.span);
  return r;
}

[[gnu::noinline]] PGresult* traced_PQexecParams(PGconn* conn, const char* command, int n,
                                                const Oid* types, const char* const* values,
                                                const int* lengths, const int* formats,
                                                int result_format) {
  const auto real_PQexecParams = libpq_PQexecParams();
  read_unread_results(conn);
  if (!dbtrace::sql_recording())
    return passed_through(real_PQexecParams, conn, command, n, types, values, lengths, formats,
                          result_format);
  connection_state* c = state_of(conn);
  if (!c)
    return passed_through(real_PQexecParams, conn, command, n, types, values, lengths, formats,
                          result_format);
  drop_answered(*c);
  text_statement st(c->target, command);
  dbtrace_pq::record_params(st.span, n, values, lengths, formats);
  PGresult* r;
  {
    in_libpq inside;
    r = real_PQexecParams(conn, st.sent(command), n, types, values, lengths, formats,
                          result_format);
  }
  if (!record_result(st.span, conn, r)) continue_copy(*c, st.span);
  return r;
}

[[gnu::noinline]] PGresult* traced_PQprepare(PGconn* conn, const char* name, const char* query,
                                             int n, const Oid* types) {
  const auto real_PQprepare = libpq_PQprepare();
  read_unread_results(conn);
  connection_state* c = state_of(conn);
  if (!c) return passed_through(real_PQprepare, conn, name, query, n, types);
  drop_answered(*c);
  remember_prepared(*c, name, query);
  const bool recording = dbtrace::sql_recording();
  const std::int64_t began = recording ? dbtrace::sql_span::clock() : 0;
  PGresult* r;
  {
    in_libpq inside;
    r = real_PQprepare(conn, name, query, n, types);
  }
  if (recording && (!r || failed(PQresultStatus(r))))
    record_failed_prepare(*c, query, began, conn, r);
  return r;
}

[[gnu::noinline]] PGresult* traced_PQexecPrepared(PGconn* conn, const char* name, int n,
                                                  const char* const* values, const int* lengths,
                                                  const int* formats, int result_format) {
  const auto real_PQexecPrepared = libpq_PQexecPrepared();
  read_unread_results(conn);
  if (!dbtrace::sql_recording())
    return passed_through(real_PQexecPrepared, conn, name, n, values, lengths, formats,
                          result_format);
  connection_state* c = state_of(conn);
  if (!c)
    return passed_through(real_PQexecPrepared, conn, name, n, values, lengths, formats,
                          result_format);
  drop_answered(*c);
  sql_span span = prepared_span(*c, name);
  dbtrace_pq::record_params(span, n, values, lengths, formats);
  PGresult* r;
  {
    in_libpq inside;
    r = real_PQexecPrepared(conn, name, n, values, lengths, formats, result_format);
  }
  if (!record_result(span, conn, r)) continue_copy(*c, span);
  return r;
}

[[gnu::noinline]] int traced_PQsendQuery(PGconn* conn, const char* query) {
  const auto real_PQsendQuery = libpq_PQsendQuery();
  connection_state* c = state_of(conn);
  if (!c) return passed_through(real_PQsendQuery, conn, query);
  drop_answered(*c);
  std::optional<text_statement> st;
  if (dbtrace::sql_recording()) st.emplace(c->target, query);
  std::optional<sql_span> span;
  const int sent = [&] {
    in_libpq inside;
    return real_PQsendQuery(conn, st ? st->sent(query) : query);
  }();
  if (st) span.emplace(std::move(st->span));
  return after_send(conn, *c, std::move(span), sent);
}

[[gnu::noinline]] int traced_PQsendQueryParams(PGconn* conn, const char* command, int n,
                                               const Oid* types, const char* const* values,
                                               const int* lengths, const int* formats,
                                               int result_format) {
  const auto real_PQsendQueryParams = libpq_PQsendQueryParams();
  connection_state* c = state_of(conn);
  if (!c)
    return passed_through(real_PQsendQueryParams, conn, command, n, types, values, lengths, formats,
                          result_format);
  drop_answered(*c);
  std::optional<text_statement> st;
  if (dbtrace::sql_recording()) {
    st.emplace(c->target, command);
    dbtrace_pq::record_params(st->span, n, values, lengths, formats);
  }
  const int sent = [&] {
    in_libpq inside;
    return real_PQsendQueryParams(conn, st ? st->sent(command) : command, n, types, values, lengths,
                                  formats, result_format);
  }();
  std::optional<sql_span> span;
  if (st) span.emplace(std::move(st->span));
  return after_send(conn, *c, std::move(span), sent);
}

[[gnu::noinline]] int traced_PQsendPrepare(PGconn* conn, const char* name, const char* query, int n,
                                           const Oid* types) {
  const auto real_PQsendPrepare = libpq_PQsendPrepare();
  connection_state* c = state_of(conn);
  if (!c) return passed_through(real_PQsendPrepare, conn, name, query, n, types);
  drop_answered(*c);
  const prepared_statement* p = remember_prepared(*c, name, query);
  const std::int64_t began = dbtrace::sql_recording() ? dbtrace::sql_span::clock() : 0;
  int sent;
  {
    in_libpq inside;
    sent = real_PQsendPrepare(conn, name, query, n, types);
  }
  if (sent) add_pending(*c, std::nullopt, p, began);
  return sent;
}

[[gnu::noinline]] int traced_PQsendQueryPrepared(PGconn* conn, const char* name, int n,
                                                 const char* const* values, const int* lengths,
                                                 const int* formats, int result_format) {
  const auto real_PQsendQueryPrepared = libpq_PQsendQueryPrepared();
  connection_state* c = state_of(conn);
  if (!c)
    return passed_through(real_PQsendQueryPrepared, conn, name, n, values, lengths, formats,
                          result_format);
  drop_answered(*c);
  std::optional<sql_span> span;
  if (dbtrace::sql_recording()) {
    span.emplace(prepared_span(*c, name));
    dbtrace_pq::record_params(*span, n, values, lengths, formats);
  }
  const int sent = [&] {
    in_libpq inside;
    return real_PQsendQueryPrepared(conn, name, n, values, lengths, formats, result_format);
  }();
  return after_send(conn, *c, std::move(span), sent);
}

[[gnu::noinline]] PGresult* traced_PQgetResult(PGconn* conn) {
  const auto real_PQgetResult = libpq_PQgetResult();
  PGresult* r;
  {
    in_libpq inside;
    r = real_PQgetResult(conn);
  }
  connection_state* c = known_state(conn);
  if (!c || c->pending.empty()) return r;
  pending_statement& p = c->pending.front();
  if (!r) {
    // The end of a statement's results; in a pipeline a null result also
    // comes between statements, before the next one's first.
    if (p.answered || PQpipelineStatus(conn) == PQ_PIPELINE_OFF) {
      c->pending.pop_front();
      g_pending.fetch_sub(1, std::memory_order_relaxed);
    }
    return r;
  }
  const ExecStatusType s = PQresultStatus(r);
  if (s == PGRES_PIPELINE_SYNC || copying(s)) return r;  // a sync point; a COPY's data follows
  if (s == PGRES_SINGLE_TUPLE) {                         // single-row mode: one result per row
    p.rows = (p.rows < 0 ? 0 : p.rows) + PQntuples(r);
    if (p.span) p.span->end_now();
    return r;
  }
  p.answered = true;
  if (p.prepare) {
    if (failed(s) && p.prepare_began)
      record_failed_prepare(*c, p.prepare->sql.c_str(), p.prepare_began, conn, r);
    return r;
  }
  if (!p.span) return r;
  if (s == PGRES_PIPELINE_ABORTED) {
    p.span->end_now();
    p.span->error(PQresStatus(s), "not run: an earlier statement in the pipeline failed");
  } else {
    record_result(*p.span, conn, r);
    if (p.rows >= 0 && s == PGRES_TUPLES_OK) p.span->rows(p.rows);  // the rows of single-row mode
  }
  return r;
}

}  // namespace

// Each call goes straight on to libpq's (a tail call) while SQL tracing is
// off, and for libpq's own calls inside a call (PQexec sends with
// PQsendQuery and reads with PQgetResult) or a driver's: the cost of linking
// dbtrace::pqxx with tracing off. A call not traced inside passes its own
// calls through unlooked at (passed_through).
extern "C" {

PGresult* PQexec(PGconn* conn, const char* query) {
  const auto real_PQexec = libpq_PQexec();
  if (!real_PQexec) return nullptr;
  if (!dbtrace::sql_tracing_enabled() || !outermost()) return real_PQexec(conn, query);
  return traced_PQexec(conn, query);
}

PGresult* PQexecParams(PGconn* conn, const char* command, int n, const Oid* types,
                       const char* const* values, const int* lengths, const int* formats,
                       int result_format) {
  const auto real_PQexecParams = libpq_PQexecParams();
  if (!real_PQexecParams) return nullptr;
  if (!dbtrace::sql_tracing_enabled() || !outermost())
    return real_PQexecParams(conn, command, n, types, values, lengths, formats, result_format);
  return traced_PQexecParams(conn, command, n, types, values, lengths, formats, result_format);
}

PGresult* PQprepare(PGconn* conn, const char* name, const char* query, int n, const Oid* types) {
  const auto real_PQprepare = libpq_PQprepare();
  if (!real_PQprepare) return nullptr;
  if (!dbtrace::sql_tracing_enabled() || !outermost())
    return real_PQprepare(conn, name, query, n, types);
  return traced_PQprepare(conn, name, query, n, types);
}

PGresult* PQexecPrepared(PGconn* conn, const char* name, int n, const char* const* values,
                         const int* lengths, const int* formats, int result_format) {
  const auto real_PQexecPrepared = libpq_PQexecPrepared();
  if (!real_PQexecPrepared) return nullptr;
  if (!dbtrace::sql_tracing_enabled() || !outermost())
    return real_PQexecPrepared(conn, name, n, values, lengths, formats, result_format);
  return traced_PQexecPrepared(conn, name, n, values, lengths, formats, result_format);
}

int PQsendQuery(PGconn* conn, const char* query) {
  const auto real_PQsendQuery = libpq_PQsendQuery();
  if (!real_PQsendQuery) return 0;
  if (!dbtrace::sql_tracing_enabled() || !outermost()) return real_PQsendQuery(conn, query);
  return traced_PQsendQuery(conn, query);
}

int PQsendQueryParams(PGconn* conn, const char* command, int n, const Oid* types,
                      const char* const* values, const int* lengths, const int* formats,
                      int result_format) {
  const auto real_PQsendQueryParams = libpq_PQsendQueryParams();
  if (!real_PQsendQueryParams) return 0;
  if (!dbtrace::sql_tracing_enabled() || !outermost())
    return real_PQsendQueryParams(conn, command, n, types, values, lengths, formats, result_format);
  return traced_PQsendQueryParams(conn, command, n, types, values, lengths, formats, result_format);
}

int PQsendPrepare(PGconn* conn, const char* name, const char* query, int n, const Oid* types) {
  const auto real_PQsendPrepare = libpq_PQsendPrepare();
  if (!real_PQsendPrepare) return 0;
  if (!dbtrace::sql_tracing_enabled() || !outermost())
    return real_PQsendPrepare(conn, name, query, n, types);
  return traced_PQsendPrepare(conn, name, query, n, types);
}

int PQsendQueryPrepared(PGconn* conn, const char* name, int n, const char* const* values,
                        const int* lengths, const int* formats, int result_format) {
  const auto real_PQsendQueryPrepared = libpq_PQsendQueryPrepared();
  if (!real_PQsendQueryPrepared) return 0;
  if (!dbtrace::sql_tracing_enabled() || !outermost())
    return real_PQsendQueryPrepared(conn, name, n, values, lengths, formats, result_format);
  return traced_PQsendQueryPrepared(conn, name, n, values, lengths, formats, result_format);
}

PGresult* PQgetResult(PGconn* conn) {
  const auto real_PQgetResult = libpq_PQgetResult();
  if (!real_PQgetResult) return nullptr;
  if (g_pending.load(std::memory_order_relaxed) == 0 || !outermost()) return real_PQgetResult(conn);
  return traced_PQgetResult(conn);
}

void PQfinish(PGconn* conn) {
  const auto real_PQfinish = libpq_PQfinish();
  forget(conn, true);
  if (real_PQfinish) real_PQfinish(conn);
}

void PQreset(PGconn* conn) {
  const auto real_PQreset = libpq_PQreset();
  forget(conn, false);  // the new session knows no prepared statements
  if (real_PQreset) real_PQreset(conn);
}

int PQresetStart(PGconn* conn) {
  const auto real_PQresetStart = libpq_PQresetStart();
  forget(conn, false);
  return real_PQresetStart ? real_PQresetStart(conn) : 0;
}

}  // extern "C"

// What keep_linked.cpp makes a program that links dbtrace::pqxx need.
extern "C" [[gnu::visibility("default")]] const char dbtrace_pqxx_linked[] =
    "libpqxx traced by dbtrace";
