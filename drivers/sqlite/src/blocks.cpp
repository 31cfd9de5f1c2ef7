// SPDX-License-Identifier: Apache-2.0
#include "blocks.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>

namespace dbtrace::drivers::sqlite_blocks {

void block_writer::clear() {
  // A block of large spans leaves a large buffer: not kept for the next.
  if (text_.size() > 4 * max_kept_bytes) {
    text_.clear();
    text_.shrink_to_fit();
  }
  used_ = 0;
  spans_ = 0;
  base_ns_ = 0;
  put("[");
}

void block_writer::reserve(std::size_t more) {
  if (text_.size() < used_ + more) text_.resize(std::max(2 * text_.size(), used_ + more));
}

void block_writer::put(std::string_view s) {
  reserve(s.size() + 16);
  s.copy(&text_[used_], s.size());
  used_ += s.size();
}

void block_writer::null() {
  std::memcpy(&text_[used_], "null", 4);
  used_ += 4;
}

// Two digits at a time from a table, as std::to_chars does, without its
// counting of digits first: ids and times have 19, and this is most of what
// writing a span costs.
void block_writer::integer(std::int64_t signed_value) {
  static constexpr char pairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  char* out = &text_[used_];
  std::uint64_t v = static_cast<std::uint64_t>(signed_value);
  if (signed_value < 0) {
    *out++ = '-';
    v = 0 - v;  // INT64_MIN too
  }
  char digits[2 * max_digits];  // written right to left, ending at the middle
  char* p = digits + max_digits;
  while (v >= 100) {
    const unsigned two = static_cast<unsigned>(v % 100);
    v /= 100;
    p -= 2;
    std::memcpy(p, pairs + 2 * two, 2);
  }
  if (v >= 10) {
    p -= 2;
    std::memcpy(p, pairs + 2 * v, 2);
  } else {
    *--p = static_cast<char>('0' + v);
  }
  // A fixed-size copy is two moves; the bytes past the digits are written
  // over next (the room was reserved).
  std::memcpy(out, p, max_digits);
  used_ = static_cast<std::size_t>(out - text_.data()) +
          static_cast<std::size_t>(digits + max_digits - p);
}

void block_writer::add(const block_span& s) {
  // Room for every number (and the copy past it), comma and null; the texts
  // are put with their own, and after each of them room for a comma and null.
  reserve(field_count * (max_digits + 1) + max_digits + 2);
  if (spans_++)
    text_[used_++] = ',';
  else
    base_ns_ = s.start_ns;
  text_[used_++] = '[';
  for (const std::int64_t v :
       {s.trace, s.span_id, s.parent_id, s.start_ns - base_ns_, s.duration_ns}) {
    integer(v);
    text_[used_++] = ',';
  }
  integer(s.source);
  // The optional fields are written as null and the text is cut after the
  // last one present.
  std::size_t kept = used_;
  for (const auto* v :
       {&s.statement, &s.target, &s.rows, &s.batch, &s.error, &s.span_hi, &s.parent_hi}) {
    text_[used_++] = ',';
    if (*v) {
      integer(**v);
      kept = used_;
    } else {
      null();
    }
  }
  text_[used_++] = ',';
  if (!s.name.empty()) {
    put(nlohmann::json(std::string(s.name))
            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    kept = used_;
  } else {
    null();
  }
  for (const std::string_view json : {s.params, s.info}) {
    text_[used_++] = ',';
    if (!json.empty()) {
      put(json);
      kept = used_;
    } else {
      null();
    }
  }
  used_ = kept;
  text_[used_++] = ']';  // the room reserved for a comma
}

std::string_view block_writer::close() {
  put("]");
  return {text_.data(), used_};
}

block_reader::block_reader(std::string_view text, std::int64_t base_ns)
    : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()), base_ns_(base_ns) {
  expect('[');
}

void block_reader::damaged(const char* what) const {
  throw damaged_block(std::string("a damaged span block (") + what + " at byte " +
                      std::to_string(p_ - begin_) + ")");
}

void block_reader::skip_spaces() {
  while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\t' || *p_ == '\r')) ++p_;
}

bool block_reader::at(char c) {
  skip_spaces();
  if (p_ == end_ || *p_ != c) return false;
  ++p_;
  return true;
}

void block_reader::expect(char c) {
  if (!at(c)) damaged(c == '[' ? "no array" : c == ',' ? "no comma" : "unexpected text");
}

std::string_view block_reader::nested_value() {
  const char* start = p_;
  int depth = 0;
  bool in_string = false;
  for (; p_ != end_; ++p_) {
    const char c = *p_;
    if (in_string) {
      if (c == '\\') {
        if (++p_ == end_) break;  // past the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      ++p_;
      return {start, static_cast<std::size_t>(p_ - start)};
    }
  }
  damaged("an unfinished object");
}

std::string_view block_reader::string_value() {
  const char* start = ++p_;  // past the opening quote
  bool escaped = false;
  for (; p_ != end_ && *p_ != '"'; ++p_)
    if (*p_ == '\\') {
      escaped = true;
      if (++p_ == end_) break;
    }
  if (p_ == end_) damaged("an unfinished string");
  ++p_;
  if (!escaped) return {start, static_cast<std::size_t>(p_ - 1 - start)};
  try {
    unescaped_ = nlohmann::json::parse(start - 1, p_).get<std::string>();
  } catch (const nlohmann::json::exception&) {
    damaged("a malformed string");
  }
  return unescaped_;
}

bool block_reader::next(block_span& s) {
  if (at(']')) return false;
  if (!first_) expect(',');
  first_ = false;
  expect('[');
  s = block_span{};
  std::int64_t* const required[] = {&s.trace,    &s.span_id,     &s.parent_id,
                                    &s.start_ns, &s.duration_ns, &s.source};
  std::optional<std::int64_t>* const optional[] = {&s.statement, &s.target,  &s.rows,     &s.batch,
                                                   &s.error,     &s.span_hi, &s.parent_hi};
  int i = 0;
  for (;; ++i) {
    skip_spaces();
    if (p_ == end_) damaged("an unfinished span");
    const char c = *p_;
    if (c == 'n') {
      if (end_ - p_ < 4 || std::string_view(p_, 4) != "null" || i <= source)
        damaged("a missing field");
      p_ += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      std::int64_t v = 0;
      const auto [next, ec] = std::from_chars(p_, end_, v);
      if (ec != std::errc() || i >= name) damaged("a number out of place");
      p_ = next;
      if (i <= source)
        *required[i] = v;
      else
        *optional[i - statement] = v;
    } else if (c == '"' && i == name) {
      s.name = string_value();
    } else if ((c == '[' && i == params) || (c == '{' && i == info)) {
      (i == params ? s.params : s.info) = nested_value();
    } else {
      damaged("a field of the wrong kind");
    }
    if (at(']')) break;
    expect(',');
  }
  if (i < source) damaged("a span without its times");
  s.start_ns += base_ns_;
  return true;
}

}  // namespace dbtrace::drivers::sqlite_blocks
