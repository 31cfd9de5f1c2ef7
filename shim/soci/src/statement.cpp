// SPDX-License-Identifier: Apache-2.0
// The traced statement backend: one span per execution (a fetch loop is part
// of it), rows counted as SOCI counts them, bound values recorded when asked.
// The per-execution functions are [[gnu::hot]]: placed beside core's
// per-statement path (see core's sql_span.cpp).
#include <algorithm>

#include "backend.hpp"
#include "dbtrace/dbtrace.hpp"
#include "errors.hpp"
#include "use_types.hpp"

namespace dbtrace::soci::detail {
namespace {

bool is_row_changing(std::string_view operation) {
  return operation == "INSERT" || operation == "UPDATE" || operation == "DELETE" ||
         operation == "MERGE" || operation == "REPLACE" || operation == "UPSERT" ||
         operation == "COPY";
}

}  // namespace

traced_statement_backend::traced_statement_backend(traced_session_backend& session,
                                                   sd::statement_backend* inner)
    : session_(session), inner_(inner) {}

traced_statement_backend::~traced_statement_backend() {
  finish();
  const dbtrace::detail::driver_call own;  // the backend's own cleanup (a DEALLOCATE)
  inner_.reset();
}

void traced_statement_backend::clean_up() {
  finish();
  const dbtrace::detail::driver_call own;  // SOCI's cleanup (a DEALLOCATE) is no statement of the app's
  inner_->clean_up();
}

void traced_statement_backend::fail_unexecuted() noexcept {
  // The exception itself is out of reach here (SOCI's core threw it, and
  // unwinding has not yet reached a handler; a one_shot catches it where
  // there is one); what is known is that the statement failed and the
  // database never ran it.
  span_->error("soci::soci_error",
               "SOCI failed the statement before the database ran it (the application got "
               "SOCI's exception)");
  awaiting_execute_ = false;
}

void traced_statement_backend::sync_element_flags() noexcept {
#if DBTRACE_SOCI_4_1
  inner_->hasIntoElements_ = hasIntoElements_;
  inner_->hasVectorIntoElements_ = hasVectorIntoElements_;
  inner_->hasUseElements_ = hasUseElements_;
  inner_->hasVectorUseElements_ = hasVectorUseElements_;
#endif
}

void traced_statement_backend::prepare(std::string const& query, sd::statement_type type) {
  finish();
  // With tracing off this stays one load and a branch: no copy, no lookup.
  // (A statement prepared while tracing was off is not recorded later.)
  statement_ = {};
  query_.clear();
  if (sql_tracing_enabled()) {
    statement_ = intern_statement(query, session_.target());
    if (!statement_) query_ = query;  // not interned (table full): keep the text
    changes_rows_ = statement_ ? is_row_changing(statement_.operation())
                               : is_row_changing(statement_operation(query));
  }
  // A one-shot statement (`sql << …`) is prepared and executed as one: its
  // span starts here, and sqlcommenter can name it in the text sent.
  const bool one_shot = type == sd::st_one_time_query && sql_recording();
  if (one_shot) open_span();
  const bool recording = sql_recording();
  const std::int64_t started = recording && !span_ ? sql_span::clock() : 0;
  const dbtrace::detail::driver_call own_span;  // the driver's libpq calls are this span
  try {
    if (span_ && current_options().sqlcommenter)
      inner_->prepare(span_->with_comment(query), type);
    else
      inner_->prepare(query, type);
  } catch (...) {
    // Preparing is no span of its own, but a statement that fails there is one.
    if (span_) {
      span_->end_now();
      record_current_exception(*span_);
      finish();
    } else if (recording) {
      sql_span span(session_.target(), std::string_view(query));
      span.started_at(started);
      span.end_now();
      record_current_exception(span);
    }
    throw;
  }
  opened_at_prepare_ = static_cast<bool>(span_);
  awaiting_execute_ = opened_at_prepare_;
}

void traced_statement_backend::open_span() {
  rows_ = 0;
  if (statement_)
    span_.emplace(session_.target(), statement_);
  else if (!query_.empty())
    span_.emplace(session_.target(), std::string_view(query_));
  else
    return;  // prepared while tracing was off
  if (!span_->recording()) span_.reset();
}

[[gnu::hot]] void traced_statement_backend::start(int number) {
  if (!opened_at_prepare_) {
    if (span_ && awaiting_execute_) fail_unexecuted();  // the last execution never ran
    if (span_ && statement_) {
      // The execution still open (rows were fetchable) is recorded; the same
      // span object then times this one.
      rows_ = 0;
      span_->restart(session_.target(), statement_);
      if (!span_->recording()) span_.reset();
    } else {
      finish();
      open_span();
    }
  }
  opened_at_prepare_ = false;
  if (!span_) return;
  awaiting_execute_ = true;
  // SOCI executes a bulk use with `number` = the vectors' size.
  if (vector_uses_ > 0 && intos_ == 0 && number > 1) span_->batch_size(number);
  if (span_->wants_params()) record_params();
}

void traced_statement_backend::record_params() {
  try {
    bool named = false;
    for (const auto& b : bound_) named = named || !b->name.empty();
    std::size_t rows = 1;
    bool bulk = false;
    for (const auto& b : bound_)
      if (b->vector && b->data) {
        rows = vector_size(*b);
        bulk = true;
      }
    for (std::size_t r = 0; r < rows; ++r) {
      dbtrace::value row = named ? dbtrace::value::object() : dbtrace::value::array();
      for (std::size_t i = 0; i < bound_.size(); ++i) {
        const auto& b = *bound_[i];
        dbtrace::value value = b.data ? render(b, b.vector ? r : 0) : dbtrace::value("<unbound>");
        if (named)
          row.set(b.name.empty() ? std::to_string(i + 1) : b.name, std::move(value));
        else
          row.push_back(std::move(value));
      }
      if (bulk) {
        span_->param(std::move(row));  // executemany shape: one list/dict per row
      } else if (named) {
        for (const auto& [k, v] : row.members()) span_->param({{k, v}});
      } else {
        for (const auto& v : row.elements()) span_->param(v);
      }
    }
  } catch (...) {
    dbtrace::detail::count_lost_detail("a bound value");
  }
}

[[gnu::hot]] void traced_statement_backend::count_rows(exec_fetch_result r, int number) {
  // As SOCI's core counts: a successful single-row call delivered its row;
  // a bulk call delivered what the backend holds, at most `number`; the end of
  // a single-row fetch delivered nothing.
  if (number == 1) {
    rows_ += r == ef_success ? 1 : 0;
    return;
  }
  // What the backend reports is for the span only: a backend that cannot say
  // (some throw) must not fail the application's successful statement.
  try {
    rows_ += std::min(number, std::max(0, inner_->get_number_of_rows()));
  } catch (...) {
    dbtrace::detail::count_lost_detail("a row count");
  }
}

[[gnu::hot]] sd::statement_backend::exec_fetch_result traced_statement_backend::execute(
    int number) {
  if (!span_ && !sql_tracing_enabled()) return inner_->execute(number);  // tracing off
  const dbtrace::detail::driver_call own_span;  // the driver's libpq calls are this span
  if (described_)
    described_ = false;  // prepare_for_describe started this execution
  else
    start(number);
  if (!span_) return inner_->execute(number);
  const exec_fetch_result r = timed([&] { return inner_->execute(number); });
  awaiting_execute_ = false;
  if (intos_ > 0) {
    count_rows(r, number);
    span_->rows(rows_);
    if (r == ef_no_data)
      finish();
    else
      span_->keep_open();  // rows may still be fetched
  } else {
    if (changes_rows_) {
      try {  // for the span only, as above
        const long long affected = inner_->get_affected_rows();
        if (affected >= 0) span_->rows(affected);
      } catch (...) {
        dbtrace::detail::count_lost_detail("a row count");
      }
    }
    finish();
  }
  return r;
}

int traced_statement_backend::prepare_for_describe() {
  if (!span_ && !sql_tracing_enabled()) return inner_->prepare_for_describe();
  const dbtrace::detail::driver_call own_span;  // the driver's libpq calls are this span
  start(1);  // a row is described once, before its statement's first execute
  if (!span_) return inner_->prepare_for_describe();
  described_ = true;
  return timed([&] { return inner_->prepare_for_describe(); });
}

void traced_statement_backend::describe_column(int column, column_type& type, std::string& name) {
  const dbtrace::detail::driver_call own_span;  // the driver's libpq calls are this span
  if (!span_) return inner_->describe_column(column, type, name);
  timed([&] { inner_->describe_column(column, type, name); });
}

[[gnu::hot]] sd::statement_backend::exec_fetch_result traced_statement_backend::fetch(int number) {
  const dbtrace::detail::driver_call own_span;  // the driver's libpq calls are this span
  if (!span_) return inner_->fetch(number);
  const exec_fetch_result r = timed([&] { return inner_->fetch(number); });
  count_rows(r, number);
  span_->rows(rows_);
  if (r == ef_no_data) finish();
  return r;
}

void traced_statement_backend::finish() noexcept {
  if (span_ && awaiting_execute_ && !hand_to_one_shot(*span_)) fail_unexecuted();
  described_ = false;
  awaiting_execute_ = false;
  span_.reset();
}

sd::standard_into_type_backend* traced_statement_backend::make_into_type_backend() {
  ++intos_;
  sync_element_flags();
  return inner_->make_into_type_backend();
}

sd::vector_into_type_backend* traced_statement_backend::make_vector_into_type_backend() {
  ++intos_;
  sync_element_flags();
  return inner_->make_vector_into_type_backend();
}

bound_value& traced_statement_backend::add_bound_value() {
  bound_.push_back(std::make_unique<bound_value>());
  return *bound_.back();
}

// Bound values are only looked at for record_params; otherwise SOCI talks to
// the backend's own use-type objects directly.
static bool params_wanted() {
  return sql_tracing_enabled() && current_options().record_params;
}

sd::standard_use_type_backend* traced_statement_backend::make_use_type_backend() {
  sync_element_flags();
  if (!params_wanted()) return inner_->make_use_type_backend();
  std::unique_ptr<sd::standard_use_type_backend> inner(inner_->make_use_type_backend());
  auto* wrapper = new traced_use_backend(inner.get(), add_bound_value());
  inner.release();
  return wrapper;
}

sd::vector_use_type_backend* traced_statement_backend::make_vector_use_type_backend() {
  ++vector_uses_;
  sync_element_flags();
  if (!params_wanted()) return inner_->make_vector_use_type_backend();
  std::unique_ptr<sd::vector_use_type_backend> inner(inner_->make_vector_use_type_backend());
  auto* wrapper = new traced_vector_use_backend(inner.get(), add_bound_value());
  inner.release();
  return wrapper;
}

}  // namespace dbtrace::soci::detail
