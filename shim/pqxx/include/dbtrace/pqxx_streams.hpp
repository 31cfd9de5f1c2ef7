// SPDX-License-Identifier: Apache-2.0
// dbtrace::pqxx::stream_from / stream_to — libpqxx COPY streams as one db span
// each, from construction to complete(), with their rows. Included by
// dbtrace/pqxx.hpp. Thread safety: as libpqxx's (one thread at a time).
#pragma once

#include <pqxx/pqxx>

#include <optional>
#include <string>

#include "dbtrace/sql.hpp"

namespace dbtrace::pqxx {

namespace detail {
void record_current_exception(sql_span& span) noexcept;  // dbtrace/pqxx.hpp

// The span of one COPY stream: opened with the stream, kept open across its
// calls, finished by complete() or when the stream (or the span around it) ends.
class stream_span {
 protected:
  void begin(::pqxx::transaction_base& tx, std::string statement);
  // Runs one call of the stream: its error ends the span, else the span's end moves on.
  template <class F>
  void guarded(F&& call) {
    try {
      call();
    } catch (...) {
      if (span_) {
        span_->rows(rows_);
        record_current_exception(*span_);
        span_.reset();
      }
      throw;
    }
    if (span_) {
      span_->rows(rows_);
      span_->end_now();
    }
  }
  void finish() { span_.reset(); }
  std::int64_t rows_ = 0;

 private:
  std::optional<sql_span> span_;  // a base: it outlives the stream's own teardown
};
}  // namespace detail

// A COPY … TO STDOUT stream: one span from construction to complete(), with its rows.
class stream_from : private detail::stream_span {
 public:
  template <class... Columns>
  stream_from(::pqxx::transaction_base& tx, const std::string& table, const Columns&... columns) {
    begin(tx, "COPY " + table + " TO STDOUT");
    guarded([&] { stream_.emplace(tx, table, columns...); });
  }

  template <class Tuple>
  stream_from& operator>>(Tuple& row) {
    guarded([&] {
      *stream_ >> row;
      if (*stream_) ++rows_;
    });
    return *this;
  }
  bool get_raw_line(std::string& line) {
    bool got = false;
    guarded([&] { rows_ += (got = stream_->get_raw_line(line)) ? 1 : 0; });
    return got;
  }
  explicit operator bool() const noexcept { return stream_ && static_cast<bool>(*stream_); }
  bool operator!() const noexcept { return !static_cast<bool>(*this); }
  void complete() {
    guarded([&] { stream_->complete(); });
    finish();
  }
  ::pqxx::stream_from& raw() { return *stream_; }

 private:
  std::optional<::pqxx::stream_from> stream_;
};

// A COPY … FROM STDIN stream: one span from construction to complete(), with its rows.
class stream_to : private detail::stream_span {
 public:
  template <class... Columns>
  stream_to(::pqxx::transaction_base& tx, const std::string& table, const Columns&... columns) {
    begin(tx, "COPY " + table + " FROM STDIN");
    guarded([&] { stream_.emplace(tx, table, columns...); });
  }

  template <class Tuple>
  stream_to& operator<<(const Tuple& row) {
    guarded([&] {
      *stream_ << row;
      ++rows_;
    });
    return *this;
  }
  void complete() {
    guarded([&] { stream_->complete(); });
    finish();
  }
  ::pqxx::stream_to& raw() { return *stream_; }

 private:
  std::optional<::pqxx::stream_to> stream_;
};

}  // namespace dbtrace::pqxx
