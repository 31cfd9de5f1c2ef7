// SPDX-License-Identifier: Apache-2.0
// UUID4s from a per-thread xoshiro256** generator seeded once from the OS.
#include "ids.hpp"

#include <chrono>
#include <cstring>
#include <random>

namespace dbtrace::detail {
namespace {

struct xoshiro256 {
  std::uint64_t s[4];
  xoshiro256() {
    std::random_device rd;
    for (auto& w : s) w = (std::uint64_t{rd()} << 32) ^ rd();
    if ((s[0] | s[1] | s[2] | s[3]) == 0) s[0] = 1;
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t step(std::uint64_t s[4]) noexcept {
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Per-thread generator state, seeded on first use: trivial and initial-exec,
// so the per-span path reads it without an init guard or __tls_get_addr.
__thread std::uint64_t t_rng[4] __attribute__((tls_model("initial-exec")));
__thread bool t_rng_seeded __attribute__((tls_model("initial-exec")));

std::uint64_t next_random() noexcept {
  if (!t_rng_seeded) {
    try {
      const xoshiro256 seeded;
      for (int i = 0; i < 4; ++i) t_rng[i] = seeded.s[i];
    } catch (...) {  // no entropy source: the thread's address and the time still differ
      t_rng[0] = reinterpret_cast<std::uintptr_t>(&t_rng_seeded) | 1;
      t_rng[1] =
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    t_rng_seeded = true;
  }
  return xoshiro256::step(t_rng);
}

}  // namespace

std::uint64_t random_u64() noexcept {
  return next_random();
}

void forget_random_state() noexcept {
  t_rng_seeded = false;
}

id128 new_uuid4() noexcept {
  id128 id{next_random(), next_random()};
  id.hi = (id.hi & ~0xF000ULL) | 0x4000ULL;                  // version 4
  id.lo = (id.lo & ~(0xC000ULL << 48)) | (0x8000ULL << 48);  // RFC 4122 variant
  return id;
}

id128 new_span_id(const id128& base) noexcept {
  return {base.hi, (next_random() & ~(0xC000ULL << 48)) | (0x8000ULL << 48)};
}

namespace {

// Two hex digits per byte, from a table built at compile time.
struct hex_pairs {
  char text[512];
  constexpr hex_pairs() : text() {
    const char* digits = "0123456789abcdef";
    for (int b = 0; b < 256; ++b) {
      text[2 * b] = digits[b >> 4];
      text[2 * b + 1] = digits[b & 0xF];
    }
  }
};
constexpr hex_pairs hex{};

// Where each byte's two digits go in the 36 characters (dashes at 8, 13, 18, 23).
constexpr int byte_at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};

}  // namespace

void format_uuid(const id128& id, char out[36]) noexcept {
  // The exporter formats an id per span: unrolled, no branch, no guard.
  for (int byte = 0; byte < 8; ++byte) {
    std::memcpy(out + byte_at[byte], hex.text + 2 * ((id.hi >> (56 - 8 * byte)) & 0xFF), 2);
    std::memcpy(out + byte_at[8 + byte], hex.text + 2 * ((id.lo >> (56 - 8 * byte)) & 0xFF), 2);
  }
  out[8] = out[13] = out[18] = out[23] = '-';
}

std::string to_string(const id128& id) {
  std::string s(36, '\0');
  format_uuid(id, s.data());
  return s;
}

std::optional<id128> parse_uuid(std::string_view text) noexcept {
  if (text.size() != 36) return std::nullopt;
  id128 id;
  int nibble = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    const int v = hex_value(text[i]);
    if (v < 0) return std::nullopt;
    std::uint64_t& word = nibble < 16 ? id.hi : id.lo;
    word = (word << 4) | static_cast<std::uint64_t>(v);
    ++nibble;
  }
  return id;
}

}  // namespace dbtrace::detail
