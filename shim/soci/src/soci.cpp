// SPDX-License-Identifier: Apache-2.0
// The SOCI shim's entry points: a traced backend factory around any SOCI
// backend, and the session type that uses it.
#include "dbtrace/soci.hpp"

#include <pthread.h>
#include <soci/connection-parameters.h>

#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <type_traits>

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
      const std::string backend = session->get_backend_name();
      backend_opened(backend);
      target = intern_target(describe_connection(system_name(backend), params.get_connect_string()));
    } catch (...) {
      dbtrace::detail::count_lost_detail("a connection's target");
    }
    return new traced_session_backend(session.release(), target);
  }

 private:
  ::soci::backend_factory const& inner_;
};

// The factories sessions open through, looked up at every open: one traced
// wrapper per real factory, and the backends loaded by name, for the life of
// the process (never destroyed: sessions may open during exit). Made and
// locked without function-local statics, and the lock is held across fork(),
// so that a child forked while another thread opened a session is never left
// waiting for a lock (or a static's first initialisation) that thread held.
std::mutex factories_mutex;  // constant-initialised: usable before main
std::map<::soci::backend_factory const*, std::unique_ptr<traced_factory>>* traced_factories;
std::map<std::string, std::unique_ptr<::soci::connection_parameters>>* loaded_backends;
[[maybe_unused]] const bool fork_handlers_registered =
    pthread_atfork([] { factories_mutex.lock(); }, [] { factories_mutex.unlock(); },
                   [] { factories_mutex.unlock(); }) == 0;

}  // namespace
}  // namespace detail

::soci::backend_factory const& traced(::soci::backend_factory const& inner) {
  if (dynamic_cast<detail::traced_factory const*>(&inner)) return inner;  // already traced
  std::lock_guard<std::mutex> lock(detail::factories_mutex);
  if (!detail::traced_factories)
    detail::traced_factories = new std::decay_t<decltype(*detail::traced_factories)>;
  auto& slot = (*detail::traced_factories)[&inner];
  if (!slot) slot = std::make_unique<detail::traced_factory>(inner);
  return *slot;
}

namespace {

// SOCI loads backends by name (libsoci_<name>.so) but does not export the
// lookup; a connection_parameters made by name finds the factory and, kept
// alive, keeps the backend loaded.
::soci::backend_factory const& factory_by_name(std::string const& name) {
  std::lock_guard<std::mutex> lock(detail::factories_mutex);
  if (!detail::loaded_backends)
    detail::loaded_backends = new std::decay_t<decltype(*detail::loaded_backends)>;
  auto& slot = (*detail::loaded_backends)[name];
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

namespace detail {
namespace {
// The one_shots running a statement on this thread, and the span of a
// statement SOCI refused meanwhile (the innermost one_shot records it).
thread_local int t_one_shots = 0;
thread_local std::optional<sql_span> t_refused;
}  // namespace

bool hand_to_one_shot(sql_span& refused) noexcept {
  // Only while unwinding from SOCI's exception towards a one_shot's catch.
  if (t_one_shots == 0 || std::uncaught_exceptions() == 0) return false;
  t_refused.emplace(std::move(refused));
  return true;
}

one_shot::catching::catching() noexcept {
  ++t_one_shots;
}
one_shot::catching::~catching() {
  --t_one_shots;
}

// once_'s destruction runs the statement: what it throws is caught here,
// recorded on a refused statement's span, and rethrown as it was.
one_shot::~one_shot() noexcept(false) try {
} catch (...) {
  if (t_refused) {
    record_current_exception(*t_refused);
    t_refused.reset();
  }
}

}  // namespace detail

::soci::details::session_backend* inner_backend(::soci::session& sql) {
  auto* backend = sql.get_backend();
  if (auto* traced_backend = dynamic_cast<detail::traced_session_backend*>(backend))
    return &traced_backend->inner();
  return backend;
}

}  // namespace dbtrace::soci
