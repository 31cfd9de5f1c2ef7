// SPDX-License-Identifier: Apache-2.0
// The forwarding SOCI backend: session, statement and use-type wrappers around
// the real backend's objects. Private to the shim.
#pragma once

#include <soci/soci-backend.h>
#include <soci/version.h>

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "dbtrace/sql.hpp"
#include "errors.hpp"
#include "params.hpp"

namespace dbtrace::soci::detail {

namespace sd = ::soci::details;

// SOCI 4.1 changed the backend interface: column types are db_type, vector
// sizes are const, and statements gained virtuals and element flags of their
// own. (Every virtual is forwarded: the build checks it, see CMakeLists.txt.)
#if SOCI_VERSION >= 400100
#define DBTRACE_SOCI_4_1 1
using column_type = ::soci::db_type;
#define DBTRACE_SOCI_SIZE_CONST const
#else
#define DBTRACE_SOCI_4_1 0
using column_type = ::soci::data_type;
#define DBTRACE_SOCI_SIZE_CONST
#endif

class traced_session_backend;

// A statement SOCI refused before the database ran it, while a one_shot
// (session::operator<<) runs it: its span is handed to the one_shot, which
// records SOCI's exception on it. False when no one_shot is there to catch it.
bool hand_to_one_shot(sql_span& refused) noexcept;

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
  // Describing a row may run the statement (PostgreSQL and MySQL execute it
  // here): it starts the execution's span, which execute() then continues.
  int prepare_for_describe() override;
  void describe_column(int column, column_type& type, std::string& name) override;
#if DBTRACE_SOCI_4_1
  int get_row_to_dump() const override {
    return inner_->get_row_to_dump();
  }
  ::soci::data_type to_data_type(::soci::db_type type) const override {
    return inner_->to_data_type(type);
  }
  ::soci::db_type exchange_dbtype_for(::soci::db_type type) const override {
    return inner_->exchange_dbtype_for(type);
  }
#endif
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
  // SOCI threw between starting this execution and the backend's execute
  // (e.g. "Vectors of size 0 are not allowed."): the open span is a failure.
  void fail_unexecuted() noexcept;
  // SOCI 4.1 sets the element flags on this object; the real backend reads its own.
  void sync_element_flags() noexcept;
  // Runs one backend call inside the open span: its end time moves on; its
  // exception is recorded, ends the span and reaches SOCI unchanged.
  template <class F>
  auto timed(F&& call) -> decltype(call()) {
    try {
      if constexpr (std::is_void_v<decltype(call())>) {
        call();
        span_->end_now();
      } else {
        auto r = call();
        span_->end_now();
        return r;
      }
    } catch (...) {
      span_->end_now();
      record_current_exception(*span_);
      awaiting_execute_ = false;  // the backend's own error, not fail_unexecuted's
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
  bool described_ = false;         // this execution was started by prepare_for_describe
  bool awaiting_execute_ = false;  // started, and the backend's execute has not returned yet
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
  std::string create_column_type(column_type dt, int precision, int scale) override {
    return inner_->create_column_type(dt, precision, scale);
  }
  std::string add_column(std::string const& t, std::string const& c, column_type dt, int precision,
                         int scale) override {
    return inner_->add_column(t, c, dt, precision, scale);
  }
  std::string alter_column(std::string const& t, std::string const& c, column_type dt,
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
