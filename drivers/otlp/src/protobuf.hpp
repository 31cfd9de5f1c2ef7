// SPDX-License-Identifier: Apache-2.0
// The protobuf wire format, as much of it as OTLP/HTTP needs: varints,
// fixed 64-bit values and length-delimited fields (strings, bytes, nested
// messages, packed repeated numbers). Field numbers are OTLP's own, written
// where they are used, from opentelemetry-proto.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "dbtrace/osprofiler_event.hpp"

namespace dbtrace::drivers::protobuf {

enum wire_type : unsigned { varint = 0, fixed64 = 1, length_delimited = 2 };

inline void append_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

// Appends fields to a message being built in `out`.
class message_writer {
 public:
  explicit message_writer(std::string& out) : out_(out) {}

  void varint_field(unsigned field, std::uint64_t v) {
    tag(field, varint);
    append_varint(out_, v);
  }
  void fixed64_field(unsigned field, std::uint64_t v) {
    tag(field, fixed64);
    append_le64(v);
  }
  void double_field(unsigned field, double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    fixed64_field(field, bits);
  }
  void bytes_field(unsigned field, std::string_view v) {
    tag(field, length_delimited);
    append_varint(out_, v.size());
    out_.append(v.data(), v.size());
  }
  // proto3 strings must be UTF-8 (collectors written in Go refuse the whole
  // request otherwise): invalid sequences become U+FFFD, as in the JSON.
  void string_field(unsigned field, std::string_view v) {
    for (const char c : v)
      if (static_cast<unsigned char>(c) >= 0x80) {
        bytes_field(field, valid_utf8(v));
        return;
      }
    bytes_field(field, v);
  }
  template <class Number>
  void packed_fixed64_field(unsigned field, const Number* values, std::size_t n) {
    static_assert(sizeof(Number) == 8, "fixed64 and double only");
    tag(field, length_delimited);
    append_varint(out_, n * 8);
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t bits;
      std::memcpy(&bits, &values[i], sizeof bits);
      append_le64(bits);
    }
  }

  // A nested message, whose length is known only when it ends. One byte is
  // kept for the length (most OTLP attributes are shorter than 128 bytes);
  // a longer message is moved right by the bytes its length needs besides.
  std::size_t open(unsigned field) {
    tag(field, length_delimited);
    out_ += '\0';
    return out_.size();
  }
  void close(std::size_t start) {
    const std::size_t length = out_.size() - start;
    if (length < 0x80) {
      out_[start - 1] = static_cast<char>(length);
      return;
    }
    std::string prefix;
    append_varint(prefix, length);
    out_[start - 1] = prefix[0];
    out_.insert(start, prefix, 1, std::string::npos);
  }

 private:
  void tag(unsigned field, wire_type type) { append_varint(out_, (field << 3) | type); }
  void append_le64(std::uint64_t v) {
    char bytes[8];
    for (int i = 0; i < 8; ++i, v >>= 8) bytes[i] = static_cast<char>(v & 0xFF);
    out_.append(bytes, 8);
  }
  std::string& out_;
};

}  // namespace dbtrace::drivers::protobuf
