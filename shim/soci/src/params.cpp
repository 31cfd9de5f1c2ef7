// SPDX-License-Identifier: Apache-2.0
// Rendering SOCI's bound values (record_params): one exchange type each.
#include "params.hpp"

#include <soci/type-wrappers.h>

#include <ctime>
#include <vector>

namespace dbtrace::soci::detail {
namespace {

std::string format_tm(const std::tm& t) {
  char buf[64];
  return std::string(buf, std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &t));
}

}  // namespace

// One value of SOCI's exchange type `type` at `data` (element `i` of a vector).
dbtrace::value render(const bound_value& v, std::size_t i) {
  if (v.indicators && v.indicators[v.vector ? i : 0] == ::soci::i_null) return nullptr;
  auto one = [&](auto* p) -> decltype(auto) {
    using T = std::remove_pointer_t<decltype(p)>;
    if (v.vector) return (*static_cast<std::vector<T>*>(v.data))[i];
    return *static_cast<T*>(v.data);
  };
  switch (v.type) {
    case sd::x_char:
      return std::string(1, one(static_cast<char*>(nullptr)));
    case sd::x_stdstring:
      return one(static_cast<std::string*>(nullptr));
    case sd::x_short:
      return one(static_cast<short*>(nullptr));
    case sd::x_integer:
      return one(static_cast<int*>(nullptr));
    case sd::x_long_long:
      return one(static_cast<long long*>(nullptr));
    case sd::x_unsigned_long_long:
      return one(static_cast<unsigned long long*>(nullptr));
    case sd::x_double:
      return one(static_cast<double*>(nullptr));
    case sd::x_stdtm:
      return format_tm(one(static_cast<std::tm*>(nullptr)));
    case sd::x_longstring:
      return one(static_cast<::soci::long_string*>(nullptr)).value;
    case sd::x_xmltype:
      return one(static_cast<::soci::xml_type*>(nullptr)).value;
    case sd::x_blob:
      return "<blob>";
    default:
      return "<unsupported>";
  }
}

std::size_t vector_size(const bound_value& v) {
  switch (v.type) {
    case sd::x_char:
      return static_cast<std::vector<char>*>(v.data)->size();
    case sd::x_stdstring:
      return static_cast<std::vector<std::string>*>(v.data)->size();
    case sd::x_short:
      return static_cast<std::vector<short>*>(v.data)->size();
    case sd::x_integer:
      return static_cast<std::vector<int>*>(v.data)->size();
    case sd::x_long_long:
      return static_cast<std::vector<long long>*>(v.data)->size();
    case sd::x_unsigned_long_long:
      return static_cast<std::vector<unsigned long long>*>(v.data)->size();
    case sd::x_double:
      return static_cast<std::vector<double>*>(v.data)->size();
    case sd::x_stdtm:
      return static_cast<std::vector<std::tm>*>(v.data)->size();
    default:
      return 0;
  }
}

}  // namespace dbtrace::soci::detail
