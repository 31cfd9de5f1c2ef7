// SPDX-License-Identifier: Apache-2.0
// memory:// — an in-process store, with failure injection for tests.
#include "dbtrace/drivers/memory.hpp"

#include <map>
#include <mutex>
#include <set>

#include "dbtrace/error.hpp"

namespace dbtrace::drivers {
namespace {

struct store {
  std::vector<event> events;
  int failures_left = 0;
  write_result failure = write_result::retry;
};

struct registry {
  std::mutex mutex;
  std::map<std::string, store> stores;
};
registry& stores() {
  static auto* r = new registry;
  return *r;
}

std::string name_of(const std::string& connection_string) {
  return connection_string.substr(connection_string.find("://") + 3);
}

class memory_writer final : public writer {
 public:
  explicit memory_writer(const store_params& p)
      : name_(name_of(p.connection_string)), format_(p.project, p.service, p.host) {}

  write_result write(const std::vector<span_view>& batch, std::string& error) noexcept override {
    try {
      const auto& events = format_.format(batch);
      std::lock_guard<std::mutex> lock(stores().mutex);
      store& s = stores().stores[name_];
      if (s.failures_left > 0) {
        --s.failures_left;
        error = "injected failure";
        return s.failure;
      }
      for (const auto& e : events) s.events.emplace_back(e);
      return write_result::ok;
    } catch (const std::exception& e) {
      error = e.what();
      return write_result::retry;
    }
  }

 private:
  std::string name_;
  osprofiler_formatter format_;
};

class memory_reader final : public reader {
 public:
  explicit memory_reader(std::string name) : name_(std::move(name)) {}

  std::vector<trace_summary> list_traces(bool errors_only) override {
    std::vector<trace_summary> out;
    std::set<std::string> seen, failed;
    const auto events = memory_events(name_);
    for (const auto& e : events)
      if (e.error) failed.insert(e.base_id);
    for (const auto& e : events) {
      if (errors_only && failed.count(e.base_id) == 0) continue;
      if (seen.insert(e.base_id).second) out.push_back({e.base_id, e.timestamp});
    }
    return out;
  }

  std::vector<stored_event> read_trace(const std::string& base_id) override {
    std::vector<stored_event> out;
    for (const auto& e : memory_events(name_)) {
      if (e.base_id != base_id) continue;
      out.push_back(stored_event_from_json(nlohmann::ordered_json::parse(e.json)));
    }
    return out;
  }

 private:
  std::string name_;
};

}  // namespace

store_kind memory_store() {
  return {{"memory://"},
          [](const store_params& p) { return std::make_unique<memory_writer>(p); },
          [](const std::string& cs) { return std::make_unique<memory_reader>(name_of(cs)); }};
}

std::vector<event> memory_events(const std::string& name) {
  std::lock_guard<std::mutex> lock(stores().mutex);
  return stores().stores[name].events;
}

void memory_clear(const std::string& name) {
  std::lock_guard<std::mutex> lock(stores().mutex);
  stores().stores.erase(name);
}

void memory_fail_next_writes(const std::string& name, int n, write_result result) {
  std::lock_guard<std::mutex> lock(stores().mutex);
  auto& s = stores().stores[name];
  s.failures_left = n;
  s.failure = result;
}

}  // namespace dbtrace::drivers
