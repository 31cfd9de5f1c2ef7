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

store_kind find(const std::string& cs) {
  auto& r = stores();
  std::lock_guard<std::mutex> lock(r.mutex);
  // The latest registration wins, so an application can replace a built-in store.
  for (auto it = r.kinds.rbegin(); it != r.kinds.rend(); ++it)
    for (const auto& scheme : it->schemes)
      if (starts_with(cs, scheme)) return *it;
  const auto end = cs.find("://");
  throw config_error("connection_string: " +
                     (end == std::string::npos
                          ? "expected scheme://…, got '" + redact_connection_string(cs) + "'"
                          : "the '" + cs.substr(0, end) +
                                "' store is not built into this dbtrace (see the DBTRACE_WITH_* "
                                "CMake options)"));
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
