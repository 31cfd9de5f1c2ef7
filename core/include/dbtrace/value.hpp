// SPDX-License-Identifier: Apache-2.0
// A JSON-shaped value without a JSON library in the public headers: a generic
// span's info (OSProfiler's info is a JSON object) and a statement's bound
// values. Written as JSON literals are:
//   dbtrace::span s{"wsgi", {{"request", {{"method", "POST"}, {"path", "/users/7"}}}}};
//   s.param(7); s.param("ada"); s.param(nullptr); s.param(dbtrace::value::array({1, "x"}));
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace dbtrace {

class value {
 public:
  using member = std::pair<std::string, value>;
  enum class kind : std::uint8_t { null, boolean, integer, unsigned_integer, number, string, array, object };

  value() noexcept = default;  // null
  value(std::nullptr_t) noexcept {}
  value(bool b) noexcept : kind_(kind::boolean), boolean_(b) {}
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                          std::is_signed_v<T>,
                                      int> = 0>
  value(T i) noexcept : kind_(kind::integer), integer_(i) {}
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                          std::is_unsigned_v<T>,
                                      int> = 0>
  value(T u) noexcept : kind_(kind::unsigned_integer), unsigned_(u) {}
  template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  value(T d) noexcept : kind_(kind::number), number_(static_cast<double>(d)) {}
  value(const char* s) : kind_(kind::string), text_(s ? s : "") {}
  value(std::string s) noexcept : kind_(kind::string), text_(std::move(s)) {}
  value(std::string_view s) : kind_(kind::string), text_(s) {}
  // An object: {{"key", value}, …}.
  value(std::initializer_list<member> members) : kind_(kind::object), members_(members) {}

  static value object(std::vector<member> members = {}) {
    value v;
    v.kind_ = kind::object;
    v.members_ = std::move(members);
    return v;
  }
  static value array(std::vector<value> elements = {}) {
    value v;
    v.kind_ = kind::array;
    v.elements_ = std::move(elements);
    return v;
  }

  kind type() const noexcept { return kind_; }
  bool as_bool() const noexcept { return boolean_; }
  std::int64_t as_integer() const noexcept { return integer_; }
  std::uint64_t as_unsigned() const noexcept { return unsigned_; }
  double as_number() const noexcept { return number_; }
  const std::string& as_string() const noexcept { return text_; }
  const std::vector<value>& elements() const noexcept { return elements_; }
  const std::vector<member>& members() const noexcept { return members_; }
  // Appends to an array (a null value becomes one) or an object (likewise).
  void push_back(value v) {
    if (kind_ == kind::null) kind_ = kind::array;
    elements_.push_back(std::move(v));
  }
  void set(std::string key, value v) {
    if (kind_ == kind::null) kind_ = kind::object;
    members_.emplace_back(std::move(key), std::move(v));
  }

 private:
  kind kind_ = kind::null;
  union {
    bool boolean_;
    std::int64_t integer_ = 0;
    std::uint64_t unsigned_;
    double number_;
  };
  std::string text_;
  std::vector<value> elements_;
  std::vector<member> members_;
};

}  // namespace dbtrace
