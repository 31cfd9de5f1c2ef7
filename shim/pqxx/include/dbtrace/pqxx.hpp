// SPDX-License-Identifier: Apache-2.0
// dbtrace::pqxx — libpqxx connections and transactions whose every call that
// runs SQL is a db span of the active trace.
//
//   dbtrace::pqxx::connection c{"postgresql://app@127.0.0.1/app"};
//   dbtrace::pqxx::work w{c};            // also nontransaction, read_transaction,
//   w.exec("…"); w.exec_params("… $1", 7); //      subtransaction, robusttransaction
//   c.prepare("q", "…"); w.exec_prepared("q", 7); w.commit();
//
// Each type is-a libpqxx type (code taking pqxx::work& still accepts it, but
// calls made through the base type are not traced); raw() names the libpqxx
// object explicitly. One span per call: exec, exec0, exec1, exec_n,
// exec_params*, exec_prepared* (with the prepared statement's SQL), stream_from
// / stream_to (one per stream, with its rows), BEGIN, commit and abort. Results
// and exceptions are libpqxx's own. Nothing is recorded outside a trace.
//
// libpqxx 6.4 (Debian 12). Every libpqxx call dbtrace makes is in this header
// and src/pqxx.cpp, so a 7.x port touches those two files.
//
// Thread safety: as libpqxx's — a connection and its transactions belong to one thread at a time.
#pragma once

#include <pqxx/pqxx>

#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "dbtrace/sql.hpp"

namespace dbtrace::pqxx {

namespace detail {
// The span attributes of a libpqxx connection (database, host, port; never the password).
target_ref target_of(::pqxx::connection_base& c) noexcept;
// Records the in-flight exception (pqxx::sql_error's SQLSTATE included) on `span`.
void record_current_exception(sql_span& span) noexcept;
// The sqlcommenter option (read per call: it may change with init).
bool sqlcommenter_on() noexcept;
// Rows returned (a query) or affected (DML) by `r`.
std::int64_t rows_of(const ::pqxx::result& r) noexcept;
inline std::int64_t rows_of(const ::pqxx::row&) noexcept {
  return 1;
}
// A bound value as the span records it.
template <class T>
dbtrace::value param_value(const T& v) {
  if constexpr (std::is_same_v<T, std::nullptr_t>) {
    return nullptr;
  } else if constexpr (std::is_same_v<T, bool> || std::is_arithmetic_v<T>) {
    return v;
  } else if constexpr (std::is_convertible_v<const T&, std::string>) {
    return std::string(v);
  } else {
    return ::pqxx::to_string(v);
  }
}
template <class T>
dbtrace::value param_value(const std::optional<T>& v) {
  return v ? param_value(*v) : dbtrace::value(nullptr);
}
template <class T>
dbtrace::value param_value(T* v) {
  if constexpr (std::is_same_v<std::remove_cv_t<T>, char>)
    return v ? dbtrace::value(std::string(v)) : dbtrace::value(nullptr);
  else
    return v ? param_value(*v) : dbtrace::value(nullptr);
}

// An argument's values as the span records them: one parameter, or each of
// the values bound at run time (pqxx::prepare::make_dynamic_params).
template <class T>
void record_params(sql_span& span, const T& v) {
  span.param(param_value(v));
}
template <class IT>
void record_params(sql_span& span, const ::pqxx::internal::dynamic_params<IT>& values) {
  for (auto it = values.begin(); it != values.end(); ++it) span.param(param_value(*it));
}

// A transaction's name: the first string among its constructor's arguments.
inline std::string transaction_name() {
  return {};
}
template <class First, class... Rest>
std::string transaction_name(const First& first, const Rest&... rest) {
  if constexpr (std::is_convertible_v<const First&, std::string>)
    return std::string(first);
  else
    return transaction_name(rest...);
}

// Reads the clock before a libpqxx base class's constructor runs (it sends BEGIN).
struct begin_clock {
  std::int64_t begun = sql_recording() ? sql_span::clock() : 0;
};
}  // namespace detail

// A libpqxx connection that remembers the SQL of its prepared statements, so
// that exec_prepared spans show the statement rather than its name.
class connection : public ::pqxx::connection {
 public:
  explicit connection(const std::string& options = std::string());
  void prepare(const std::string& name, const std::string& definition);
  void prepare(const std::string& definition) { prepare(std::string(), definition); }
  void unprepare(const std::string& name);
  // The prepared statement's SQL as recorded (interned), or an empty handle.
  statement_ref prepared(const std::string& name) const;
  // Its SQL text, or null when the name was not prepared through this class.
  const std::string* prepared_sql(const std::string& name) const;
  target_ref target() const noexcept { return target_; }
  ::pqxx::connection& raw() noexcept { return *this; }

 private:
  std::map<std::string, std::pair<std::string, statement_ref>> prepared_;
  target_ref target_;
};

// A traced libpqxx transaction of type Base.
template <class Base>
class traced : private detail::begin_clock, public Base {
 public:
  template <class Parent, class... Args>
  explicit traced(Parent& parent, Args&&... args)
      // libpqxx's transactions name themselves through a virtual base, which
      // the most derived class constructs.
      : ::pqxx::internal::namedclass("transaction", detail::transaction_name(args...)),
        detail::begin_clock(),
        Base(parent, std::forward<Args>(args)...),
        target_(detail::target_of(this->conn())),
        connection_(connection_of(parent)) {
    if constexpr (std::is_base_of_v<::pqxx::dbtransaction, Base>) {
      if (begun) {  // the BEGIN libpqxx sent while constructing
        sql_span span(target_, std::string_view("BEGIN"));
        span.started_at(begun);
      }
    }
  }

  Base& raw() noexcept { return *this; }

  ::pqxx::result exec(const std::string& query, const std::string& desc = std::string()) {
    return run(text(query), [&](const std::string& sent) { return Base::exec(sent, desc); });
  }
  ::pqxx::result exec0(const std::string& query, const std::string& desc = std::string()) {
    return run(text(query), [&](const std::string& sent) { return Base::exec0(sent, desc); });
  }
  ::pqxx::row exec1(const std::string& query, const std::string& desc = std::string()) {
    return run(text(query), [&](const std::string& sent) { return Base::exec1(sent, desc); });
  }
  ::pqxx::result exec_n(std::size_t rows, const std::string& query,
                        const std::string& desc = std::string()) {
    return run(text(query),
               [&](const std::string& sent) { return Base::exec_n(rows, sent, desc); });
  }

  template <class... Args>
  ::pqxx::result exec_params(const std::string& query, Args&&... args) {
    return run(
        text(query), [&] { return Base::exec_params(query, args...); }, args...);
  }
  template <class... Args>
  ::pqxx::row exec_params1(const std::string& query, Args&&... args) {
    return run(
        text(query), [&] { return Base::exec_params1(query, args...); }, args...);
  }
  template <class... Args>
  ::pqxx::result exec_params0(const std::string& query, Args&&... args) {
    return run(
        text(query), [&] { return Base::exec_params0(query, args...); }, args...);
  }
  template <class... Args>
  ::pqxx::result exec_params_n(std::size_t rows, const std::string& query, Args&&... args) {
    return run(
        text(query), [&] { return Base::exec_params_n(rows, query, args...); }, args...);
  }

  template <class... Args>
  ::pqxx::result exec_prepared(const std::string& name, Args&&... args) {
    return run(
        prepared(name), [&] { return Base::exec_prepared(name, args...); }, args...);
  }
  template <class... Args>
  ::pqxx::row exec_prepared1(const std::string& name, Args&&... args) {
    return run(
        prepared(name), [&] { return Base::exec_prepared1(name, args...); }, args...);
  }
  template <class... Args>
  ::pqxx::result exec_prepared0(const std::string& name, Args&&... args) {
    return run(
        prepared(name), [&] { return Base::exec_prepared0(name, args...); }, args...);
  }
  template <class... Args>
  ::pqxx::result exec_prepared_n(std::size_t rows, const std::string& name, Args&&... args) {
    return run(
        prepared(name), [&] { return Base::exec_prepared_n(rows, name, args...); }, args...);
  }

  void commit() {
    run(fixed("COMMIT"), [&] { Base::commit(); });
  }
  void abort() {
    run(fixed("ROLLBACK"), [&] { Base::abort(); });
  }

  target_ref target() const noexcept { return target_; }

 private:
  // What a span shows: an interned statement, or text to copy; `sql` is the
  // text the call sends, when the call sends one (sqlcommenter may extend it).
  struct statement {
    statement_ref interned;
    std::string_view text;
    const std::string* sql = nullptr;
  };
  static statement fixed(std::string_view t) { return {{}, t}; }
  static statement text(const std::string& sql) {
    return {sql_tracing_enabled() ? intern_statement(sql) : statement_ref(), sql, &sql};
  }
  // The SQL a prepared statement's name stands for, known from connection::prepare.
  statement prepared(const std::string& name) {
    if (!sql_tracing_enabled()) return {};
    if (connection_) {
      if (const auto st = connection_->prepared(name)) return {st, {}};
      // Not interned (the statement table is full): its text is copied.
      if (const auto* sql = connection_->prepared_sql(name)) return {{}, *sql};
    }
    return {{}, name};  // prepared behind dbtrace's back: the name is all there is
  }

  // One span around `call`, with its rows, or its error and the same exception.
  // A call that sends SQL text takes the text to send (sqlcommenter may extend it).
  template <class F, class... Args>
  auto run(const statement& st, F&& call, const Args&... args) {
    auto invoke = [&](const sql_span* span) {
      if constexpr (std::is_invocable_v<F, const std::string&>) {
        if (span && commenting()) return call(span->with_comment(*st.sql));
        return call(*st.sql);
      } else {
        (void)span;
        return call();
      }
    };
    using result = decltype(invoke(nullptr));
    if (!sql_tracing_enabled()) return invoke(nullptr);
    std::optional<sql_span> span;
    if (st.interned)
      span.emplace(target_, st.interned);
    else
      span.emplace(target_, st.text);
    // Rendering values is for the span only: a value that cannot be rendered
    // (or memory that runs out) leaves the params unrecorded, never fails the
    // statement before it runs.
    if (span->wants_params()) try {
        (detail::record_params(*span, args), ...);
      } catch (...) {
      }
    try {
      if constexpr (std::is_void_v<result>) {
        invoke(&*span);
      } else {
        auto r = invoke(&*span);
        span->rows(detail::rows_of(r));
        return r;
      }
    } catch (...) {
      detail::record_current_exception(*span);
      throw;
    }
  }
  static bool commenting() noexcept { return detail::sqlcommenter_on(); }

  // The dbtrace connection below this transaction (it knows prepared
  // statements' SQL), or null when it was opened on a plain libpqxx one.
  static const connection* connection_of(const connection& c) { return &c; }
  template <class B>
  static const connection* connection_of(const traced<B>& t) {
    return t.connection_;
  }
  template <class P>
  static const connection* connection_of(const P&) {
    return nullptr;
  }
  template <class>
  friend class traced;

  target_ref target_;
  const connection* connection_;
};

using work = traced<::pqxx::work>;
using nontransaction = traced<::pqxx::nontransaction>;
using read_transaction = traced<::pqxx::read_transaction>;
using subtransaction = traced<::pqxx::subtransaction>;
template <::pqxx::isolation_level L = ::pqxx::read_committed>
using robusttransaction = traced<::pqxx::robusttransaction<L>>;

}  // namespace dbtrace::pqxx

#include "dbtrace/pqxx_streams.hpp"  // stream_from, stream_to
