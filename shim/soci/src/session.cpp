// SPDX-License-Identifier: Apache-2.0
// The traced session backend: BEGIN/COMMIT/ROLLBACK as spans, statements
// made traced, everything else forwarded.
#include "backend.hpp"
#include "errors.hpp"

namespace dbtrace::soci::detail {

traced_session_backend::traced_session_backend(sd::session_backend* inner, target_ref target)
    : inner_(inner), target_(target) {}

traced_session_backend::~traced_session_backend() {
  const dbtrace::detail::driver_call own;  // the backend's own cleanup
  inner_.reset();
}

template <class F>
void traced_session_backend::traced_call(const char* statement, F&& call) {
  const dbtrace::detail::driver_call own_span;  // the driver's libpq calls are this span
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

}  // namespace dbtrace::soci::detail
