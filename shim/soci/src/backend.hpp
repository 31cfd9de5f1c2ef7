// The forwarding SOCI backend: session, statement and use-type wrappers around
// the real backend's objects. Private to the shim.
#pragma once

#include <soci/soci-backend.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dbtrace/sql.hpp"
#include "errors.hpp"
#include "params.hpp"

namespace dbtrace::soci::detail {

namespace sd = ::soci::details;

class traced_session_backend;

class traced_statement_backend final : public sd::statement_backend {
 public:
  traced_statement_backend(traced_session_backend& session, sd::statement_backend* inner);
  ~traced_statement_backend() override;

  void alloc() override { inner_->alloc(); }
  void clean_up() override;
  void prepare(std::string const& query, sd::statement_type type) override;
  exec_fetch_result execute(int number) override;
  exec_fetch_result fetch(int number) override;
  long long get_affected_rows() override { return inner_->get_affected_rows(); }
  int get_number_of_rows() override { return inner_->get_number_of_rows(); }
  std::string get_parameter_name(int index) const override {
    return inner_->get_parameter_name(index);
  }
  std::string rewrite_for_procedure_call(std::string const& query) override {
    return inner_->rewrite_for_procedure_call(query);
  }
  int prepare_for_describe() override { return inner_->prepare_for_describe(); }
  void describe_column(int column, ::soci::data_type& type, std::string& name) override {
    inner_->describe_column(column, type, name);
  }
  sd::standard_into_type_backend* make_into_type_backend() override;
  sd::standard_use_type_backend* make_use_type_backend() override;
  sd::vector_into_type_backend* make_vector_into_type_backend() override;
  sd::vector_use_type_backend* make_vector_use_type_backend() override;

  // Called by the use-type wrappers.
  bound_value& add_bound_value();

 private:
  void open_span();
  void start(int number);
  void count_rows(exec_fetch_result r, int number);
  void finish() noexcept;
  // Runs one backend call inside the open span: its end time moves on; its
  // exception is recorded, ends the span and reaches SOCI unchanged.
  template <class F>
  exec_fetch_result timed(F&& call) {
    try {
      const exec_fetch_result r = call();
      span_->end_now();
      return r;
    } catch (...) {
      span_->end_now();
      record_current_exception(*span_);
      finish();
      throw;
    }
  }
  void record_params();
  void record_error();

  traced_session_backend& session_;
  std::unique_ptr<sd::statement_backend> inner_;
  std::string query_;
  statement_ref statement_;
  bool changes_rows_ = false;  // INSERT/UPDATE/DELETE/...: rows are the affected rows
  int intos_ = 0;
  int vector_uses_ = 0;
  std::vector<std::unique_ptr<bound_value>> bound_;
  std::optional<sql_span> span_;  // open from execute (a one-shot's prepare) until the last fetch
  bool opened_at_prepare_ = false;
  std::int64_t rows_ = 0;
};

class traced_session_backend final : public sd::session_backend {
 public:
  traced_session_backend(sd::session_backend* inner, target_ref target);
  ~traced_session_backend() override;

  sd::session_backend& inner() { return *inner_; }
  target_ref target() const { return target_; }

  bool is_connected() override { return inner_->is_connected(); }
  void begin() override;
  void commit() override;
  void rollback() override;
  bool get_next_sequence_value(::soci::session& s, std::string const& seq, long long& v) override {
    return inner_->get_next_sequence_value(s, seq, v);
  }
  bool get_last_insert_id(::soci::session& s, std::string const& table, long long& v) override {
    return inner_->get_last_insert_id(s, table, v);
  }
  std::string get_table_names_query() const override { return inner_->get_table_names_query(); }
  std::string get_column_descriptions_query() const override {
    return inner_->get_column_descriptions_query();
  }
  std::string create_table(std::string const& t) override { return inner_->create_table(t); }
  std::string drop_table(std::string const& t) override { return inner_->drop_table(t); }
  std::string truncate_table(std::string const& t) override { return inner_->truncate_table(t); }
  std::string create_column_type(::soci::data_type dt, int precision, int scale) override {
    return inner_->create_column_type(dt, precision, scale);
  }
  std::string add_column(std::string const& t, std::string const& c, ::soci::data_type dt,
                         int precision, int scale) override {
    return inner_->add_column(t, c, dt, precision, scale);
  }
  std::string alter_column(std::string const& t, std::string const& c, ::soci::data_type dt,
                           int precision, int scale) override {
    return inner_->alter_column(t, c, dt, precision, scale);
  }
  std::string drop_column(std::string const& t, std::string const& c) override {
    return inner_->drop_column(t, c);
  }
  std::string constraint_unique(std::string const& n, std::string const& c) override {
    return inner_->constraint_unique(n, c);
  }
  std::string constraint_primary_key(std::string const& n, std::string const& c) override {
    return inner_->constraint_primary_key(n, c);
  }
  std::string constraint_foreign_key(std::string const& n, std::string const& c,
                                     std::string const& rt, std::string const& rc) override {
    return inner_->constraint_foreign_key(n, c, rt, rc);
  }
  std::string empty_blob() override { return inner_->empty_blob(); }
  std::string nvl() override { return inner_->nvl(); }
  std::string get_dummy_from_table() const override { return inner_->get_dummy_from_table(); }
  std::string get_backend_name() const override { return inner_->get_backend_name(); }
  sd::statement_backend* make_statement_backend() override;
  sd::rowid_backend* make_rowid_backend() override { return inner_->make_rowid_backend(); }
  sd::blob_backend* make_blob_backend() override { return inner_->make_blob_backend(); }

 private:
  void sync_failover() {
    inner_->failoverCallback_ = failoverCallback_;
    inner_->session_ = session_;
  }
  template <class F>
  void traced_call(const char* statement, F&& call);

  std::unique_ptr<sd::session_backend> inner_;
  target_ref target_;
  statement_ref begin_, commit_, rollback_;
};

}  // namespace dbtrace::soci::detail
