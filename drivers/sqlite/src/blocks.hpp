// SPDX-License-Identifier: Apache-2.0
// A block: the spans of one batch in one row of span_blocks (schema.hpp), as
// a JSON array with one array of fields per span. One row for up to 256
// spans costs SQLite a few hundred instructions a span where a row each cost
// ~5,800; stock sqlite3 reads it with json_each (the `spans` view). Written
// and read here only, so the field order lives in one place with the view's.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "dbtrace/detail/text_buffer.hpp"

namespace dbtrace::drivers::sqlite_blocks {

// A span's fields in the order of its array; the `spans` view reads the same
// positions. Trailing absent fields are left out, so a SQL span is short.
enum field : int {
  trace,        // traces.id
  span_id,      // low 64 bits of the span's UUID
  parent_id,    // low 64 bits of the parent's
  start_ns,     // ns since the block's start_ns (span_blocks.start_ns: the first span's)
  duration_ns,  //
  source,       // sources.id
  statement,    // statements.id: SQL spans only
  target,       // targets.id
  rows,         // db.response.returned_rows
  batch,        // db.operation.batch.size
  error,        // errors.id
  span_hi,      // high 64 bits of the span's UUID when they are not the trace's
  parent_hi,    // the parent's, likewise
  name,         // a generic span's name (a SQL span's is "db", left out)
  params,       // JSON array, only with record_params
  info,         // JSON object: a generic span's info
  field_count
};

// One span of a block.
struct block_span {
  std::int64_t trace = 0, span_id = 0, parent_id = 0;
  std::int64_t start_ns = 0;  // ns since the epoch
  std::int64_t duration_ns = 0, source = 0;
  std::optional<std::int64_t> statement, target, rows, batch, error, span_hi, parent_hi;
  std::string_view name;          // plain text; empty for a SQL span
  std::string_view params, info;  // JSON texts; empty when absent
};

// Builds a block's text, span by span; reused from block to block.
class block_writer {
 public:
  void clear();
  void add(const block_span& s);
  // The block, closed (a JSON array); clear() starts the next.
  std::string_view close();
  std::size_t spans() const { return spans_; }
  std::size_t bytes() const { return used_; }
  std::int64_t start_ns() const { return base_ns_; }  // the block's: its first span's

 private:
  static constexpr std::size_t max_digits = 20;  // of an int64, its sign included
  static constexpr std::size_t max_kept_bytes = std::size_t{1} << 20;
  void reserve(std::size_t more);
  void put(std::string_view s);  // reserves room for it and what may follow: ",null,null]"
  void null();                   // within room reserved
  // A field that mostly repeats from span to span (a trace's key and parent,
  // the writer's source, a statement and its target): the last value's
  // digits, written again by one copy of constant size.
  class repeated_number {
   public:
    char* put(char* p, std::int64_t v) noexcept {  // within room reserved (max_digits)
      if (v != value_ || size_ == 0) {
        value_ = v;
        size_ = static_cast<std::size_t>(detail::put_decimal(text_, v) - text_);
      }
      std::memcpy(p, text_, max_digits);
      return p + size_;
    }

   private:
    std::int64_t value_ = 0;
    std::size_t size_ = 0;  // 0: none yet
    char text_[max_digits] = {};
  };
  std::string text_;  // a buffer: the block is its first used_ bytes
  std::size_t used_ = 0;
  std::size_t spans_ = 0;
  std::int64_t base_ns_ = 0;
  repeated_number trace_, parent_, source_, statement_, target_;
};

// What block_reader throws when a text is not a block.
struct damaged_block : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads a block's spans in order. The views into a span (name, params, info)
// last until the next call.
class block_reader {
 public:
  // `start_ns`: the block's (span_blocks.start_ns).
  block_reader(std::string_view text, std::int64_t start_ns);
  // The next span into `s`; false after the last. Throws damaged_block,
  // saying what is wrong and where, when the text is not a block.
  bool next(block_span& s);

 private:
  void skip_spaces();
  bool at(char c);  // skips spaces; consumes `c` when it is next
  void expect(char c);
  std::string_view nested_value();  // a JSON object or array, as it is written
  std::string_view string_value();  // a JSON string's text, unescaped
  [[noreturn]] void damaged(const char* what) const;

  const char* begin_;
  const char* p_;
  const char* end_;
  std::int64_t base_ns_;
  bool first_ = true;
  std::string unescaped_;  // a name with escapes, decoded
};

}  // namespace dbtrace::drivers::sqlite_blocks
