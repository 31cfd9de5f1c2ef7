// SPDX-License-Identifier: Apache-2.0
// A byte buffer that the exporter's formatters write through a raw pointer:
// room for a piece is reserved once, then filled without a check per byte or
// per append (std::string::resize zero-fills first; append checks each time).
// Thread safety: one owner at a time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace dbtrace::detail {

class text_buffer {
 public:
  void clear() noexcept { size_ = 0; }
  const char* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  std::string_view view() const noexcept { return {data_.get(), size_}; }

  // Where `n` more bytes may be written; commit() then says where they end.
  char* room(std::size_t n) {
    if (size_ + n > capacity_) grow(n);
    return data_.get() + size_;
  }
  void commit(const char* end) noexcept { size_ = static_cast<std::size_t>(end - data_.get()); }

  void append(std::string_view s) {
    if (s.empty()) return;  // (an unused buffer has no room to point at)
    std::memcpy(room(s.size()), s.data(), s.size());
    size_ += s.size();
  }
  void push_back(char c) {
    *room(1) = c;
    ++size_;
  }
  // Gives back a buffer a large batch grew past `limit`, once it is cleared.
  void release_above(std::size_t limit) noexcept {
    if (capacity_ <= limit || size_ != 0) return;
    data_.reset();
    capacity_ = 0;
  }

 private:
  void grow(std::size_t n) {
    const std::size_t capacity = std::max(2 * capacity_, size_ + n);
    std::unique_ptr<char[]> grown(new char[capacity]);
    if (size_ > 0) std::memcpy(grown.get(), data_.get(), size_);
    data_ = std::move(grown);
    capacity_ = capacity;
  }
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0, capacity_ = 0;
};

// Copies `s` to `p`; returns where it ends. (An empty `s` may have no data.)
inline char* put(char* p, std::string_view s) noexcept {
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Decimal numbers, written by the exporter's formatters: digits two at a time
// from a table, a 64-bit number in chunks of eight digits done in 32-bit
// arithmetic, without counting the digits first. Ids have 19 or 20 digits,
// times 5 to 9, sizes 2 to 4; writing them was much of what a span cost
// (one 64-bit division by 100 per pair of digits had cost ~760 instructions
// a SQL span in the embedded store, std::to_chars ~36 a size in Redis's).
namespace digits {
inline constexpr char pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";
inline char* two(char* p, std::uint32_t v) noexcept {  // v < 100, with a leading zero
  std::memcpy(p, pairs + 2 * v, 2);
  return p + 2;
}
inline char* one_or_two(char* p, std::uint32_t v) noexcept {  // v < 100
  if (v >= 10) return two(p, v);
  *p = static_cast<char>('0' + v);
  return p + 1;
}
inline char* four(char* p, std::uint32_t v) noexcept {  // v < 10^4, with leading zeros
  two(p, v / 100);
  return two(p + 2, v % 100);
}
inline char* eight(char* p, std::uint32_t v) noexcept {  // v < 10^8, with leading zeros
  four(p, v / 10000);
  return four(p + 4, v % 10000);
}
inline char* up_to_eight(char* p, std::uint32_t v) noexcept {  // v < 10^8, no leading zeros
  if (v < 100) return one_or_two(p, v);
  if (v < 10000) return two(one_or_two(p, v / 100), v % 100);
  const std::uint32_t high = v / 10000, low = v % 10000;
  p = high < 100 ? one_or_two(p, high) : two(one_or_two(p, high / 100), high % 100);
  return four(p, low);
}
}  // namespace digits

// Writes v's digits at p (up to 20); returns their end.
inline char* put_decimal(char* p, std::uint64_t v) noexcept {
  constexpr std::uint64_t e8 = 100000000, e16 = e8 * e8;
  if (v < e8) return digits::up_to_eight(p, static_cast<std::uint32_t>(v));
  if (v < e16) {
    p = digits::up_to_eight(p, static_cast<std::uint32_t>(v / e8));
    return digits::eight(p, static_cast<std::uint32_t>(v % e8));
  }
  p = digits::up_to_eight(p, static_cast<std::uint32_t>(v / e16));
  const std::uint64_t rest = v % e16;
  p = digits::eight(p, static_cast<std::uint32_t>(rest / e8));
  return digits::eight(p, static_cast<std::uint32_t>(rest % e8));
}
// The same with a sign (up to 20 characters).
inline char* put_decimal(char* p, std::int64_t v) noexcept {
  std::uint64_t magnitude = static_cast<std::uint64_t>(v);
  if (v < 0) {
    *p++ = '-';
    magnitude = 0 - magnitude;  // INT64_MIN too
  }
  return put_decimal(p, magnitude);
}

}  // namespace dbtrace::detail
