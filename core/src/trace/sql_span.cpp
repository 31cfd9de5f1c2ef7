// SPDX-License-Identifier: Apache-2.0
// SQL spans: one record per execution. The per-execution path reads the
// clock, copies the trace context and pushes one record. Its functions are
// [[gnu::hot]], as are the shims' and the queue push's: GCC places them side
// by side (.text.hot), so between two statements, whose database work evicts
// them from the caches, the path is a few code lines rather than many pages.
#include "dbtrace/sql.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "config/statement_text.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/traceparent.hpp"
#include "ids.hpp"
#include "record.hpp"
#include "runtime.hpp"
#include "statements.hpp"
#include "value_json.hpp"

namespace dbtrace {
namespace detail {
void close_open_sql_spans(const id128* parent) noexcept {
  for (sql_span* s = t_hot.open_spans; s;) {
    sql_span* next = s->next_open_;
    if (!parent || s->parent_id_ == *parent) s->end_and_finish_from_list();
    s = next;
  }
}

}  // namespace detail

std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? name.get() : type.name();
}

bool sql_recording() noexcept {
  return detail::g_sql.load(std::memory_order_relaxed) && detail::t_hot.active;
}

[[gnu::hot]] void sql_span::begin(target_ref target, statement_ref statement) noexcept {
  statement_ = statement.get();
  start(target);
}

void sql_span::begin(target_ref target, std::string_view sql) noexcept {
  if (!detail::t_hot.active) return;
  const auto dialect = detail::dialect_of(target);
  statement_ = detail::intern_statement(sql, dialect).get();
  if (!statement_) {
    // Not interned (the table is full, or the text too long for it): copied as
    // is; the exporter sanitizes and classifies it.
    try {
      extra_ = new detail::record_extra;
      extra_->unprepared.assign(
          sql.substr(0, detail::utf8_cut(sql, detail::current().max_statement_length)));
      extra_->unprepared_size = sql.size();
      extra_->dialect = dialect;
    } catch (...) {
      delete extra_;
      extra_ = nullptr;
      detail::count_lost_detail("a span (its statement's text)");
      return;
    }
  }
  start(target);
}

[[gnu::hot]] void sql_span::start(target_ref target) noexcept {
  const auto& t = detail::t_hot;
  if (!t.active) {
    delete extra_;
    extra_ = nullptr;
    return;
  }
  on_ = true;
  target_ = target.get();
  base_id_ = {t.base_hi, t.base_lo};
  parent_id_ = {t.parent_hi, t.parent_lo};
  trace_id_ = {};
  start_ns_ = detail::span_clock();
}

[[gnu::hot]] void sql_span::restart(target_ref target, statement_ref statement) noexcept {
  // A span kept open stays in this thread's list of open spans while it
  // records one execution after the other: the list is not rewritten per
  // execution. (A statement handed on to another thread leaves the list of
  // the thread that kept it open.)
  if (registered_ && open_list_ != &detail::t_hot.open_spans) unlink();
  if (on_) record_execution();
  rows_ = -1;
  batch_ = 0;
  end_ns_ = 0;
  if (detail::g_sql.load(std::memory_order_relaxed)) begin(target, statement);
  if (registered_ && !on_) unlink();
}

sql_span::sql_span(sql_span&& other) noexcept
    : on_(other.on_),
      registered_(other.registered_),
      statement_(other.statement_),
      target_(other.target_),
      batch_(other.batch_),
      end_ns_(other.end_ns_),
      rows_(other.rows_),
      start_ns_(other.start_ns_),
      extra_(other.extra_),
      base_id_(other.base_id_),
      parent_id_(other.parent_id_),
      trace_id_(other.trace_id_) {
  if (registered_) {  // this object takes other's place in the thread's list
    prev_open_ = other.prev_open_;
    next_open_ = other.next_open_;
    open_list_ = other.open_list_;
    if (prev_open_)
      prev_open_->next_open_ = this;
    else
      *open_list_ = this;
    if (next_open_) next_open_->prev_open_ = this;
  }
  other.on_ = false;
  other.registered_ = false;
  other.extra_ = nullptr;
}

std::int64_t sql_span::clock() noexcept {
  return detail::span_clock();
}

[[gnu::hot]] void sql_span::end_now() noexcept {
  if (on_) end_ns_ = detail::span_clock();
}

std::string sql_span::with_comment(const std::string& sql) const {
  if (!on_ || !detail::current().sqlcommenter) return sql;
  if (sql.find("/*") != std::string::npos || sql.find("--") != std::string::npos) return sql;
  if (trace_id_ == detail::id128{}) trace_id_ = detail::new_span_id(base_id_);
  // Keys sorted and URL-encoded per sqlcommenter; a traceparent needs no escaping.
  return sql + "/*traceparent='" +
         format_traceparent(detail::to_string(base_id_), detail::to_string(trace_id_)) + "'*/";
}

[[gnu::hot]] void sql_span::keep_open() noexcept {
  if (!on_ || registered_) return;
  // The head of this thread's list, remembered: a statement handed to another
  // thread (SOCI allows it) still leaves the list it is in.
  open_list_ = &detail::t_hot.open_spans;
  prev_open_ = nullptr;
  next_open_ = *open_list_;
  if (next_open_) next_open_->prev_open_ = this;
  *open_list_ = this;
  registered_ = true;
}

[[gnu::hot]] void sql_span::unlink() noexcept {
  if (prev_open_)
    prev_open_->next_open_ = next_open_;
  else if (open_list_ && *open_list_ == this)
    *open_list_ = next_open_;
  if (next_open_) next_open_->prev_open_ = prev_open_;
  prev_open_ = next_open_ = nullptr;
  open_list_ = nullptr;
  registered_ = false;
}

void sql_span::end_and_finish_from_list() noexcept {
  unlink();
  if (on_) finish();
}

[[gnu::hot]] void sql_span::finish() noexcept {
  if (registered_) unlink();
  record_execution();
}

[[gnu::hot]] void sql_span::record_execution() noexcept {
  on_ = false;
  // Field by field: a braced initializer zero-fills the whole record first
  // (its padding too), 14 stores more per statement.
  detail::record r;
  r.kind = detail::record_kind::sql;
  r.base_id = base_id_;
  r.trace_id = trace_id_;
  r.parent_id = parent_id_;
  r.start_ns = start_ns_;
  r.end_ns =
      end_ns_ ? end_ns_ : detail::span_clock();  // the exporter keeps it from preceding the start
  r.statement = statement_;
  r.target = target_;
  r.rows = rows_;
  r.batch = batch_;
  r.extra = extra_;
  extra_ = nullptr;  // the record owns it now
  detail::push(r);
}

namespace {

// Cuts the strings of a bound value (a row of a bulk execution holds several)
// to max_param_length, marked as statement texts are.
void cap_param(nlohmann::json& value, std::size_t limit, int depth = 0) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text.size() > limit) value = detail::truncate_statement(text, limit);
  } else if (value.is_binary()) {
    if (value.get_binary().size() > limit)
      value = "[dbtrace: " + std::to_string(value.get_binary().size()) + " bytes, not recorded]";
  } else if (value.is_structured()) {
    if (depth >= 8) {
      value = "[dbtrace: nested deeper than 8 levels, not recorded]";
      return;
    }
    for (auto& v : value) cap_param(v, limit, depth + 1);
  }
}

}  // namespace

void sql_span::param(dbtrace::value bound) noexcept {
  if (!wants_params()) return;
  try {
    nlohmann::json value = detail::to_json(bound);
    cap_param(value, detail::current().max_param_length);
    if (!extra_) extra_ = new detail::record_extra;
    if (!extra_->params.is_array()) extra_->params = nlohmann::json::array();
    extra_->params.push_back(std::move(value));
  } catch (...) {
    detail::count_lost_detail("a bound value");
  }
}

void sql_span::error(std::string_view etype, std::string_view message, std::string_view sqlstate,
                     std::string_view category) noexcept {
  if (!on_) return;
  try {
    if (!extra_) extra_ = new detail::record_extra;
    extra_->failed = true;
    extra_->error = {std::string(etype), std::string(message), std::string(sqlstate),
                     std::string(category)};
  } catch (...) {
    detail::count_lost_detail("an error");
  }
}

}  // namespace dbtrace
