// SPDX-License-Identifier: Apache-2.0
// Connection string -> store. Stores register their schemes; the built-in ones
// are listed by the build (builtin_stores.cpp, generated from the drivers
// built), and so are those in libraries of their own, loaded when first named.
#include <map>
#include <mutex>

#include "dbtrace/detail/library.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/error.hpp"
#include "dbtrace/sql.hpp"
#include "registry.hpp"

namespace dbtrace {
namespace {

struct registry {
  std::mutex mutex;
  std::vector<store_kind> kinds;
  std::vector<detail::loadable_store> not_loaded;
};

registry& stores() {
  static auto* r = [] {
    auto* r = new registry;  // never destroyed: the exporter may outlive statics
    r->kinds = detail::builtin_stores();
    r->not_loaded = detail::loadable_stores();
    return r;
  }();
  return *r;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// "unknown scheme" with what this process does serve: the registry is the
// one list of schemes, so a store the application registered is named too.
std::string unknown_scheme_message(const std::string& cs, const registry& r) {
  const auto end = cs.find("://");
  if (end == std::string::npos)
    return "connection_string: no scheme (expected a store such as sqlite:///traces.db or "
           "redis://host)";
  std::string served;
  const auto add = [&served](const std::vector<std::string>& schemes) {
    for (const auto& scheme : schemes)
      if (scheme.size() > 3 && scheme.compare(scheme.size() - 3, 3, "://") == 0 &&
          (", " + served + ",").find(" " + scheme + ",") == std::string::npos)
        served += (served.empty() ? "" : ", ") + scheme;
  };
  for (const auto& kind : r.kinds) add(kind.schemes);
  for (const auto& store : r.not_loaded) add(store.schemes);
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

bool serves(const std::vector<std::string>& schemes, const std::string& cs) {
  for (const auto& scheme : schemes)
    if (starts_with(cs, scheme)) return true;
  return false;
}

// Loads a store's library and registers what it serves. The caller holds the lock.
store_kind load(registry& r, std::vector<detail::loadable_store>::iterator store,
                const std::string& cs) {
  const std::string redacted = redact_connection_string(cs);
  std::string error;
  using entry_point = void (*)(store_kind&);
  auto* entry = reinterpret_cast<entry_point>(
      detail::library_symbol(store->file, "dbtrace_store_" + store->name, error));
  if (!entry)
    throw config_error("connection_string " + redacted + ": the " + store->name +
                       " store's library could not be loaded: " + error + " (dbtrace installs " +
                       store->file + " beside libdbtrace_core; it needs its client library too)");
  store_kind kind;
  entry(kind);
  if (!serves(kind.schemes, cs))
    throw config_error("connection_string " + redacted + ": " + store->file +
                       " does not serve this scheme (a library of another dbtrace version?)");
  r.not_loaded.erase(store);
  r.kinds.insert(r.kinds.begin(), kind);  // as a built-in: a registered store still wins
  return kind;
}

store_kind find(const std::string& cs) {
  auto& r = stores();
  std::lock_guard<std::mutex> lock(r.mutex);
  // The latest registration wins, so an application can replace a built-in store.
  for (auto it = r.kinds.rbegin(); it != r.kinds.rend(); ++it)
    if (serves(it->schemes, cs)) return *it;
  for (auto it = r.not_loaded.begin(); it != r.not_loaded.end(); ++it)
    if (serves(it->schemes, cs)) return load(r, it, cs);
  throw config_error(unknown_scheme_message(cs, r));
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
  const detail::driver_call own_store;  // a store's setup SQL is dbtrace's, never a span
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
