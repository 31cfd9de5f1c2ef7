// SPDX-License-Identifier: Apache-2.0
// Connection string -> store. Stores register their schemes; the built-in ones
// are listed by the build (builtin_stores.cpp, generated from the drivers built).
#include <map>
#include <mutex>

#include "dbtrace/driver.hpp"
#include "dbtrace/error.hpp"
#include "registry.hpp"

namespace dbtrace {
namespace detail {
std::vector<store_kind> builtin_stores();  // builtin_stores.cpp
}  // namespace detail

namespace {

struct registry {
  std::mutex mutex;
  std::vector<store_kind> kinds;
};

registry& stores() {
  static auto* r = [] {
    auto* r = new registry;  // never destroyed: the exporter may outlive statics
    r->kinds = detail::builtin_stores();
    return r;
  }();
  return *r;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// "unknown scheme" with what this process does serve: the registry is the
// one list of schemes, so a store the application registered is named too.
std::string unknown_scheme_message(const std::string& cs, const std::vector<store_kind>& kinds) {
  const auto end = cs.find("://");
  if (end == std::string::npos)
    return "connection_string: no scheme (expected a store such as sqlite:///traces.db or "
           "redis://host)";
  std::string served;
  for (const auto& kind : kinds)
    for (const auto& scheme : kind.schemes)
      if (scheme.size() > 3 && scheme.compare(scheme.size() - 3, 3, "://") == 0 &&
          (", " + served + ",").find(" " + scheme + ",") == std::string::npos)
        served += (served.empty() ? "" : ", ") + scheme;
  const std::string scheme = cs.substr(0, end);
  std::string message = "connection_string: unknown scheme '" + scheme + "://' (this dbtrace serves " +
                        served + "; others are not built in, see the DBTRACE_WITH_* CMake options)";
  if (scheme == "messaging")
    message +=
        ". OSProfiler's messaging:// sends events through oslo.messaging to Ceilometer, which "
        "dbtrace cannot; to share traces with OSProfiler, point both at the same redis://, "
        "postgresql:// or otlp:// store";
  return message;
}

store_kind find(const std::string& cs) {
  auto& r = stores();
  std::lock_guard<std::mutex> lock(r.mutex);
  // The latest registration wins, so an application can replace a built-in store.
  for (auto it = r.kinds.rbegin(); it != r.kinds.rend(); ++it)
    for (const auto& scheme : it->schemes)
      if (starts_with(cs, scheme)) return *it;
  throw config_error(unknown_scheme_message(cs, r.kinds));
}

}  // namespace

namespace detail {
void lock_store_registry() noexcept {
  stores().mutex.lock();
}
void unlock_store_registry() noexcept {
  stores().mutex.unlock();
}
}  // namespace detail

void register_store(store_kind kind) {
  auto& r = stores();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.kinds.push_back(std::move(kind));
}

std::unique_ptr<writer> make_writer(const store_params& params) {
  return find(params.connection_string).make_writer(params);
}

std::unique_ptr<reader> make_reader(const std::string& connection_string) {
  const auto kind = find(connection_string);
  if (!kind.make_reader)
    throw store_error(redact_connection_string(connection_string) +
                      ": this store is write-only; read its traces where it sends them");
  return kind.make_reader(connection_string);
}

}  // namespace dbtrace
