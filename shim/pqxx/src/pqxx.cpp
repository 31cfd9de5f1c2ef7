// SPDX-License-Identifier: Apache-2.0
// The libpqxx shim's out-of-line parts: connection bookkeeping and error fields.
#include "dbtrace/pqxx.hpp"

#include "dbtrace/dbtrace.hpp"

#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace dbtrace::pqxx {
namespace detail {
namespace {

std::string or_empty(const char* s) {
  return s ? s : "";
}

}  // namespace

target_ref target_of(::pqxx::connection_base& c) noexcept {
  try {
    db_target t;
    t.system = "postgresql";
    t.name_space = or_empty(c.dbname());
    t.address = or_empty(c.hostname());
    t.port = std::atoi(or_empty(c.port()).c_str());
    if (t.address.empty() || t.address[0] == '/') t.address.clear();  // a Unix socket directory
    return intern_target(t);
  } catch (...) {
    dbtrace::detail::count_lost_detail("a connection's target");
    return {};
  }
}

void record_current_exception(sql_span& span) noexcept {
  try {
    try {
      throw;
    } catch (const ::pqxx::sql_error& e) {
      span.error(dbtrace::type_name(typeid(e)), e.what(), e.sqlstate());
    } catch (const std::exception& e) {
      span.error(dbtrace::type_name(typeid(e)), e.what());
    } catch (...) {
      span.error("unknown", "a non-standard exception");
    }
  } catch (...) {
    // Recording never replaces the application's exception.
    dbtrace::detail::count_lost_detail("an error");
  }
}

bool sqlcommenter_on() noexcept {
  return current_options().sqlcommenter;
}

std::int64_t rows_of(const ::pqxx::result& r) noexcept {
  try {
    if (r.columns() > 0) return static_cast<std::int64_t>(r.size());
    const auto affected = r.affected_rows();
    return static_cast<std::int64_t>(affected);
  } catch (...) {
    dbtrace::detail::count_lost_detail("a row count");
    return -1;
  }
}

}  // namespace detail

connection::connection(const std::string& options)
    : ::pqxx::connection(options), target_(detail::target_of(*this)) {}

void connection::prepare(const std::string& name, const std::string& definition) {
  ::pqxx::connection::prepare(name, definition);
  // Interned now, so exec_prepared looks nothing up but the name.
  prepared_[name] = {definition,
                     sql_tracing_enabled() ? intern_statement(definition) : statement_ref()};
}

void connection::unprepare(const std::string& name) {
  ::pqxx::connection::unprepare(name);
  prepared_.erase(name);
}

statement_ref connection::prepared(const std::string& name) const {
  const auto it = prepared_.find(name);
  if (it == prepared_.end()) return {};
  if (!it->second.second && sql_tracing_enabled()) return intern_statement(it->second.first);
  return it->second.second;
}

const std::string* connection::prepared_sql(const std::string& name) const {
  const auto it = prepared_.find(name);
  return it == prepared_.end() ? nullptr : &it->second.first;
}

namespace detail {

void stream_span::begin(::pqxx::transaction_base& tx, std::string statement) {
  if (!sql_recording()) return;
  span_.emplace(target_of(tx.conn()), std::string_view(statement));
  span_->keep_open();
}

}  // namespace detail

}  // namespace dbtrace::pqxx
