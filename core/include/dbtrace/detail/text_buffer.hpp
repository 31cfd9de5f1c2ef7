// SPDX-License-Identifier: Apache-2.0
// A byte buffer that the exporter's formatters write through a raw pointer:
// room for a piece is reserved once, then filled without a check per byte or
// per append (std::string::resize zero-fills first; append checks each time).
// Thread safety: one owner at a time.
#pragma once

#include <algorithm>
#include <cstddef>
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

}  // namespace dbtrace::detail
