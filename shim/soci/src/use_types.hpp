// SPDX-License-Identifier: Apache-2.0
// Use-type wrappers: they see the values the application binds (for
// record_params) and forward everything to the real backend's objects.
// Private to the shim.
#pragma once

#include <soci/soci-backend.h>

#include <memory>
#include <string>

#include "backend.hpp"
#include "params.hpp"

namespace dbtrace::soci::detail {

// Wraps a use-type backend to see the bound values (for record_params).
class traced_use_backend final : public sd::standard_use_type_backend {
 public:
  traced_use_backend(sd::standard_use_type_backend* inner, bound_value& value)
      : inner_(inner), value_(value) {}
  void bind_by_pos(int& position, void* data, sd::exchange_type type, bool read_only) override {
    value_.data = data;
    value_.type = type;
    inner_->bind_by_pos(position, data, type, read_only);
  }
  void bind_by_name(std::string const& name, void* data, sd::exchange_type type,
                    bool read_only) override {
    value_.name = name;
    value_.data = data;
    value_.type = type;
    inner_->bind_by_name(name, data, type, read_only);
  }
  void pre_exec(int num) override { inner_->pre_exec(num); }
  void pre_use(::soci::indicator const* ind) override {
    value_.indicators = ind;
    inner_->pre_use(ind);
  }
  void post_use(bool got_data, ::soci::indicator* ind) override { inner_->post_use(got_data, ind); }
  void clean_up() override { inner_->clean_up(); }

 private:
  std::unique_ptr<sd::standard_use_type_backend> inner_;
  bound_value& value_;
};

class traced_vector_use_backend final : public sd::vector_use_type_backend {
 public:
  traced_vector_use_backend(sd::vector_use_type_backend* inner, bound_value& value)
      : inner_(inner), value_(value) {
    value_.vector = true;
  }
  void bind_by_pos(int& position, void* data, sd::exchange_type type) override {
    value_.data = data;
    value_.type = type;
    inner_->bind_by_pos(position, data, type);
  }
  void bind_by_pos_bulk(int& position, void* data, sd::exchange_type type, std::size_t begin,
                        std::size_t* end) override {
    value_.type = type;  // a slice of a vector: values are not rendered
    inner_->bind_by_pos_bulk(position, data, type, begin, end);
  }
  void bind_by_name(std::string const& name, void* data, sd::exchange_type type) override {
    value_.name = name;
    value_.data = data;
    value_.type = type;
    inner_->bind_by_name(name, data, type);
  }
  void bind_by_name_bulk(std::string const& name, void* data, sd::exchange_type type,
                         std::size_t begin, std::size_t* end) override {
    value_.name = name;
    value_.type = type;
    inner_->bind_by_name_bulk(name, data, type, begin, end);
  }
  void pre_exec(int num) override { inner_->pre_exec(num); }
  void pre_use(::soci::indicator const* ind) override {
    value_.indicators = ind;
    inner_->pre_use(ind);
  }
  std::size_t size() DBTRACE_SOCI_SIZE_CONST override { return inner_->size(); }
  void clean_up() override { inner_->clean_up(); }

 private:
  std::unique_ptr<sd::vector_use_type_backend> inner_;
  bound_value& value_;
};

}  // namespace dbtrace::soci::detail
