// SPDX-License-Identifier: Apache-2.0
#include "blocks.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>

#include "dbtrace/detail/text_buffer.hpp"

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

void block_writer::add(const block_span& s) {
  // Room for every number (and the copy past it), comma and null; the texts
  // are put with their own, and after each of them room for a comma and null.
  reserve(field_count * (max_digits + 1) + max_digits + 2);
  char* p = &text_[used_];
  if (spans_++)
    *p++ = ',';
  else
    base_ns_ = s.start_ns;
  *p++ = '[';
  p = trace_.put(p, s.trace);
  *p++ = ',';
  p = detail::put_decimal(p, s.span_id);
  *p++ = ',';
  p = parent_.put(p, s.parent_id);
  *p++ = ',';
  p = detail::put_decimal(p, s.start_ns - base_ns_);
  *p++ = ',';
  p = detail::put_decimal(p, s.duration_ns);
  *p++ = ',';
  p = source_.put(p, s.source);
  // Absent fields are null, written only before a field that is present:
  // trailing ones are left out.
  int nulls = 0;
  auto optional = [&](const std::optional<std::int64_t>& v, repeated_number* repeated) {
    if (!v) {
      ++nulls;
      return;
    }
    for (; nulls > 0; --nulls) p = detail::put(p, ",null");
    *p++ = ',';
    p = repeated ? repeated->put(p, *v) : detail::put_decimal(p, *v);
  };
  optional(s.statement, &statement_);
  optional(s.target, &target_);
  optional(s.rows, nullptr);
  optional(s.batch, nullptr);
  optional(s.error, nullptr);
  optional(s.span_hi, nullptr);
  optional(s.parent_hi, nullptr);
  if (s.name.empty() && s.params.empty() && s.info.empty()) {  // a SQL span
    *p++ = ']';
    used_ = static_cast<std::size_t>(p - text_.data());
    return;
  }
  for (; nulls > 0; --nulls) p = detail::put(p, ",null");
  used_ = static_cast<std::size_t>(p - text_.data());
  text_[used_++] = ',';
  std::size_t kept = used_;
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
