// The SOCI shim: a forwarding backend that times and records every execution.
#include "dbtrace/soci.hpp"

#include "dbtrace/dbtrace.hpp"

#include <soci/connection-parameters.h>
#include <soci/type-wrappers.h>

#include <cxxabi.h>
#include <ctime>
#include <map>
#include <mutex>
#include <typeinfo>

#include "backend.hpp"
#include "errors.hpp"

namespace dbtrace::soci {
namespace detail {
namespace {

// OTel db.system.name for SOCI's backend names.
std::string system_name(const std::string& backend) {
  static const std::map<std::string, std::string> names = {
      {"sqlite3", "sqlite"},       {"postgresql", "postgresql"}, {"mysql", "mysql"},
      {"firebird", "firebirdsql"}, {"oracle", "oracle.db"},      {"db2", "ibm.db2"},
      {"odbc", "other_sql"}};
  const auto it = names.find(backend);
  return it == names.end() ? backend : it->second;
}

class traced_factory final : public ::soci::backend_factory {
 public:
  explicit traced_factory(::soci::backend_factory const& inner) : inner_(inner) {}
  sd::session_backend* make_session(::soci::connection_parameters const& params) const override {
    // The backend connects here; its errors reach the caller untouched.
    std::unique_ptr<sd::session_backend> session(inner_.make_session(params));
    target_ref target;
    try {
      target = intern_target(describe_connection(system_name(session->get_backend_name()),
                                                 params.get_connect_string()));
    } catch (...) {
    }
    return new traced_session_backend(session.release(), target);
  }

 private:
  ::soci::backend_factory const& inner_;
};

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
  std::size_t size() override { return inner_->size(); }
  void clean_up() override { inner_->clean_up(); }

 private:
  std::unique_ptr<sd::vector_use_type_backend> inner_;
  bound_value& value_;
};

std::string format_tm(const std::tm& t) {
  char buf[64];
  return std::string(buf, std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &t));
}

// One value of SOCI's exchange type `type` at `data` (element `i` of a vector).
nlohmann::json render(const bound_value& v, std::size_t i) {
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

bool is_row_changing(std::string_view operation) {
  return operation == "INSERT" || operation == "UPDATE" || operation == "DELETE" ||
         operation == "MERGE" || operation == "REPLACE" || operation == "UPSERT" ||
         operation == "COPY";
}

}  // namespace

// ---- statement ----

traced_statement_backend::traced_statement_backend(traced_session_backend& session,
                                                   sd::statement_backend* inner)
    : session_(session), inner_(inner) {}

traced_statement_backend::~traced_statement_backend() {
  finish();
}

void traced_statement_backend::clean_up() {
  finish();
  inner_->clean_up();
}

void traced_statement_backend::prepare(std::string const& query, sd::statement_type type) {
  finish();
  // With tracing off this stays one load and a branch: no copy, no lookup.
  // (A statement prepared while tracing was off is not recorded later.)
  statement_ = {};
  query_.clear();
  if (sql_tracing_enabled()) {
    statement_ = intern_statement(query);
    if (!statement_) query_ = query;  // not interned (table full): keep the text
    changes_rows_ = statement_ ? is_row_changing(statement_.operation())
                               : is_row_changing(statement_operation(query));
  }
  // A one-shot statement (`sql << …`) is prepared and executed as one: its
  // span starts here, and sqlcommenter can name it in the text sent.
  const bool one_shot = type == sd::st_one_time_query && sql_recording();
  if (one_shot) open_span();
  const bool recording = sql_recording();
  const std::int64_t started = recording && !span_ ? sql_span::clock() : 0;
  try {
    if (span_ && current_options().sqlcommenter)
      inner_->prepare(span_->with_comment(query), type);
    else
      inner_->prepare(query, type);
  } catch (...) {
    // Preparing is no span of its own, but a statement that fails there is one.
    if (span_) {
      span_->end_now();
      record_current_exception(*span_);
      finish();
    } else if (recording) {
      sql_span span(session_.target(), std::string_view(query));
      span.started_at(started);
      span.end_now();
      record_current_exception(span);
    }
    throw;
  }
  opened_at_prepare_ = static_cast<bool>(span_);
}

void traced_statement_backend::open_span() {
  rows_ = 0;
  if (statement_)
    span_.emplace(session_.target(), statement_);
  else if (!query_.empty())
    span_.emplace(session_.target(), std::string_view(query_));
  else
    return;  // prepared while tracing was off
  if (!span_->recording()) span_.reset();
}

void traced_statement_backend::start(int number) {
  if (!opened_at_prepare_) {
    finish();
    open_span();
  }
  opened_at_prepare_ = false;
  if (!span_) return;
  // SOCI executes a bulk use with `number` = the vectors' size.
  if (vector_uses_ > 0 && intos_ == 0 && number > 1) span_->batch_size(number);
  if (span_->wants_params()) record_params();
}

void traced_statement_backend::record_params() {
  try {
    bool named = false;
    for (const auto& b : bound_) named = named || !b->name.empty();
    std::size_t rows = 1;
    bool bulk = false;
    for (const auto& b : bound_)
      if (b->vector && b->data) {
        rows = vector_size(*b);
        bulk = true;
      }
    for (std::size_t r = 0; r < rows; ++r) {
      nlohmann::json row = named ? nlohmann::json::object() : nlohmann::json::array();
      for (std::size_t i = 0; i < bound_.size(); ++i) {
        const auto& b = *bound_[i];
        nlohmann::json value = b.data ? render(b, b.vector ? r : 0) : nlohmann::json("<unbound>");
        if (named)
          row[b.name.empty() ? std::to_string(i + 1) : b.name] = std::move(value);
        else
          row.push_back(std::move(value));
      }
      if (bulk) {
        span_->param(std::move(row));  // executemany shape: one list/dict per row
      } else if (named) {
        for (auto& [k, v] : row.items()) span_->param(nlohmann::json{{k, v}});
      } else {
        for (auto& v : row) span_->param(std::move(v));
      }
    }
  } catch (...) {
  }
}

void traced_statement_backend::count_rows(exec_fetch_result r, int number) {
  // As SOCI's core counts: a successful single-row call delivered its row;
  // a bulk call delivered what the backend holds, at most `number`; the end of
  // a single-row fetch delivered nothing.
  if (number == 1) {
    rows_ += r == ef_success ? 1 : 0;
    return;
  }
  rows_ += std::min(number, std::max(0, inner_->get_number_of_rows()));
}

sd::statement_backend::exec_fetch_result traced_statement_backend::execute(int number) {
  if (!span_ && !sql_tracing_enabled()) return inner_->execute(number);  // tracing off
  start(number);
  if (!span_) return inner_->execute(number);
  const exec_fetch_result r = timed([&] { return inner_->execute(number); });
  if (intos_ > 0) {
    count_rows(r, number);
    span_->rows(rows_);
    if (r == ef_no_data)
      finish();
    else
      span_->keep_open();  // rows may still be fetched
  } else {
    if (changes_rows_) {
      const long long affected = inner_->get_affected_rows();
      if (affected >= 0) span_->rows(affected);
    }
    finish();
  }
  return r;
}

sd::statement_backend::exec_fetch_result traced_statement_backend::fetch(int number) {
  if (!span_) return inner_->fetch(number);
  const exec_fetch_result r = timed([&] { return inner_->fetch(number); });
  count_rows(r, number);
  span_->rows(rows_);
  if (r == ef_no_data) finish();
  return r;
}

void traced_statement_backend::finish() noexcept {
  span_.reset();
}

sd::standard_into_type_backend* traced_statement_backend::make_into_type_backend() {
  ++intos_;
  return inner_->make_into_type_backend();
}

sd::vector_into_type_backend* traced_statement_backend::make_vector_into_type_backend() {
  ++intos_;
  return inner_->make_vector_into_type_backend();
}

bound_value& traced_statement_backend::add_bound_value() {
  bound_.push_back(std::make_unique<bound_value>());
  return *bound_.back();
}

// Bound values are only looked at for record_params; otherwise SOCI talks to
// the backend's own use-type objects directly.
bool params_wanted() {
  return sql_tracing_enabled() && current_options().record_params;
}

sd::standard_use_type_backend* traced_statement_backend::make_use_type_backend() {
  if (!params_wanted()) return inner_->make_use_type_backend();
  std::unique_ptr<sd::standard_use_type_backend> inner(inner_->make_use_type_backend());
  auto* wrapper = new traced_use_backend(inner.get(), add_bound_value());
  inner.release();
  return wrapper;
}

sd::vector_use_type_backend* traced_statement_backend::make_vector_use_type_backend() {
  ++vector_uses_;
  if (!params_wanted()) return inner_->make_vector_use_type_backend();
  std::unique_ptr<sd::vector_use_type_backend> inner(inner_->make_vector_use_type_backend());
  auto* wrapper = new traced_vector_use_backend(inner.get(), add_bound_value());
  inner.release();
  return wrapper;
}

// ---- session ----

traced_session_backend::traced_session_backend(sd::session_backend* inner, target_ref target)
    : inner_(inner), target_(target) {}

traced_session_backend::~traced_session_backend() = default;

template <class F>
void traced_session_backend::traced_call(const char* statement, F&& call) {
  sql_span span(target_, std::string_view(statement));
  try {
    call();
  } catch (...) {
    record_current_exception(span);
    throw;
  }
}

void traced_session_backend::begin() {
  sync_failover();
  traced_call("BEGIN", [&] { inner_->begin(); });
}
void traced_session_backend::commit() {
  sync_failover();
  traced_call("COMMIT", [&] { inner_->commit(); });
}
void traced_session_backend::rollback() {
  sync_failover();
  traced_call("ROLLBACK", [&] { inner_->rollback(); });
}

sd::statement_backend* traced_session_backend::make_statement_backend() {
  sync_failover();  // SOCI sets these on our object; the real backend reads its own
  std::unique_ptr<sd::statement_backend> inner(inner_->make_statement_backend());
  auto* wrapper = new traced_statement_backend(*this, inner.get());
  inner.release();
  return wrapper;
}

}  // namespace detail

::soci::backend_factory const& traced(::soci::backend_factory const& inner) {
  // One wrapper per real factory, for the life of the process.
  static std::mutex mutex;
  static auto* factories =
      new std::map<::soci::backend_factory const*, std::unique_ptr<detail::traced_factory>>;
  if (dynamic_cast<detail::traced_factory const*>(&inner)) return inner;  // already traced
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = (*factories)[&inner];
  if (!slot) slot = std::make_unique<detail::traced_factory>(inner);
  return *slot;
}

namespace {

// SOCI loads backends by name (libsoci_<name>.so) but does not export the
// lookup; a connection_parameters made by name finds the factory and, kept
// alive, keeps the backend loaded.
::soci::backend_factory const& factory_by_name(std::string const& name) {
  static std::mutex mutex;
  static auto* loaded = new std::map<std::string, std::unique_ptr<::soci::connection_parameters>>;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = (*loaded)[name];
  if (!slot) slot = std::make_unique<::soci::connection_parameters>(name, std::string());
  return *slot->get_factory();
}

std::pair<std::string, std::string> split_uri(std::string const& uri) {
  const auto sep = uri.find("://");
  if (sep == std::string::npos)
    throw ::soci::soci_error("No backend name in the connection string (expected backend://...): " +
                             std::string("the string has no '://'"));
  return {uri.substr(0, sep), uri.substr(sep + 3)};
}
}  // namespace

session::session(::soci::backend_factory const& factory, std::string const& connect_string)
    : ::soci::session(traced(factory), connect_string) {}

session::session(std::string const& backend_name, std::string const& connect_string)
    : ::soci::session(traced(factory_by_name(backend_name)), connect_string) {}

session::session(std::string const& uri) : session(split_uri(uri).first, split_uri(uri).second) {}

void session::open(::soci::backend_factory const& factory, std::string const& connect_string) {
  ::soci::session::open(traced(factory), connect_string);
}

void session::open(std::string const& backend_name, std::string const& connect_string) {
  open(factory_by_name(backend_name), connect_string);
}

void session::open(std::string const& uri) {
  const auto [backend, rest] = split_uri(uri);
  open(backend, rest);
}

::soci::details::session_backend* inner_backend(::soci::session& sql) {
  auto* backend = sql.get_backend();
  if (auto* traced_backend = dynamic_cast<detail::traced_session_backend*>(backend))
    return &traced_backend->inner();
  return backend;
}

}  // namespace dbtrace::soci
