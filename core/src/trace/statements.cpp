// SPDX-License-Identifier: Apache-2.0
// Interning: a per-thread cache in front of a process-wide table, so a
// statement seen before costs one hash lookup and no lock or allocation.
#include "statements.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "config/statement_text.hpp"
#include "dbtrace/osprofiler_event.hpp"
#include "record.hpp"
#include "runtime.hpp"

namespace dbtrace {
namespace detail {
namespace {

// Statement texts are interned up to these limits; beyond them a statement is
// copied into its span instead, so memory stays bounded.
constexpr std::size_t max_interned_statements = 4096;
constexpr std::size_t max_interned_bytes = 16u << 20;
// Longer texts are never interned: generated statements (a bulk VALUES list)
// would fill the table with texts that are rarely executed twice.
constexpr std::size_t max_interned_length = 64u << 10;

// Keys let writers cache what they stored per statement or target.
std::atomic<std::uint64_t> next_key{1};

using statement_map = std::unordered_map<std::string, std::unique_ptr<statement_info>>;

// The statements interned under one set of text options (sanitize_statements,
// max_statement_length). Keys are the texts as the application sent them, one
// map per dialect (a text may read differently in each).
struct statement_set {
  statement_map entries[2];
  std::size_t count = 0;
  std::size_t bytes = 0;
};

struct statement_table {
  std::mutex mutex;
  // One set per text options used, each within the limits above; entries live
  // for the process (records and thread caches point at them), and a reload
  // back to options used before takes their set back: reloads cost memory
  // per text options used, not per init().
  std::map<std::pair<bool, std::size_t>, statement_set> sets;
  statement_set* active = &sets[{false, options{}.max_statement_length}];  // null: none fits
  std::atomic<std::uint64_t> generation{1};
  // Set once the active set can take no more: from then on a thread's miss
  // costs no lock (until a new generation switches sets).
  std::atomic<bool> full{false};
};
statement_table& statements() {
  static auto* table = new statement_table;  // never destroyed: threads may outlive statics
  return *table;
}

struct thread_cache {
  std::uint64_t generation = 0;
  std::unordered_map<std::string_view, const statement_info*> entries;
};

const statement_info* intern_slow(std::string_view sql, sql_dialect dialect, thread_cache& cache) {
  auto& table = statements();
  std::lock_guard<std::mutex> lock(table.mutex);
  if (!table.active) return nullptr;
  statement_set& set = *table.active;
  auto& entries = set.entries[static_cast<int>(dialect)];
  auto it = entries.find(std::string(sql));
  if (it == entries.end()) {
    if (set.count >= max_interned_statements || set.bytes + 2 * sql.size() > max_interned_bytes) {
      if (set.count >= max_interned_statements ||
          set.bytes + 2 * max_interned_length > max_interned_bytes)
        table.full.store(true, std::memory_order_relaxed);
      return nullptr;
    }
    auto s = std::make_unique<statement_info>();
    prepare_statement(sql, dialect, *s);
    s->key = next_key.fetch_add(1);
    it = entries.emplace(std::string(sql), std::move(s)).first;
    ++set.count;
    set.bytes += sql.size() + it->second->text.size();
  }
  cache.entries.emplace(std::string_view(it->first), it->second.get());
  return it->second.get();
}

struct target_table {
  std::mutex mutex;
  std::vector<std::unique_ptr<target_info>> entries;
};
target_table& targets() {
  static auto* table = new target_table;  // never destroyed, as statements()
  return *table;
}

}  // namespace

void prepare_statement(std::string_view sql, sql_dialect dialect, statement_info& s,
                       std::size_t whole_size) {
  const auto& o = current();
  const std::string text = o.sanitize_statements ? sanitize_sql(sql, dialect) : std::string(sql);
  s.text = valid_utf8(whole_size > sql.size()  // `sql` was cut already: the mark says so
                          ? truncate_statement(text, o.max_statement_length, whole_size)
                          : truncate_statement(text, o.max_statement_length));
  s.json_text.clear();
  append_json_string(s.json_text, s.text);
  s.operation = operation_name(s.text, dialect);
  s.collection = collection_name(s.text, dialect);
  s.summary = query_summary(s.operation, s.collection);
  s.json_attributes.clear();
  if (!s.operation.empty()) {
    s.json_attributes = ", \"db.operation.name\": ";
    append_json_string(s.json_attributes, s.operation);
  }
}

sql_dialect dialect_of(target_ref target) noexcept {
  return target.get() && target.get()->mysql_quoting ? sql_dialect::mysql : sql_dialect::standard;
}

void prepare_deferred(record_extra* x) noexcept {
  if (!x || x->unprepared.empty() || !x->statement.json_text.empty()) return;
  try {
    prepare_statement(x->unprepared, x->dialect, x->statement, x->unprepared_size);
  } catch (...) {
    x->statement.json_text.clear();  // out of memory: the span shows no text
    count_lost_detail("a statement's text");
  }
  std::string().swap(x->unprepared);
}

void lock_interning() noexcept {
  statements().mutex.lock();
  targets().mutex.lock();
}

void unlock_interning() noexcept {
  targets().mutex.unlock();
  statements().mutex.unlock();
}

void forget_interned_statements() noexcept {
  auto& table = statements();
  std::lock_guard<std::mutex> lock(table.mutex);
  for (auto& [settings, set] : table.sets) set = statement_set{};
  table.full.store(false, std::memory_order_relaxed);
  table.generation.fetch_add(1, std::memory_order_release);
}

void reset_statement_cache(bool sanitize, std::size_t max_statement_length) noexcept {
  auto& table = statements();
  std::lock_guard<std::mutex> lock(table.mutex);
  try {
    table.active = &table.sets[{sanitize, max_statement_length}];
    table.full.store(false, std::memory_order_relaxed);
  } catch (...) {
    // Out of memory for a new set: texts are copied into their spans (and
    // prepared with the new options) until a later init finds room.
    table.active = nullptr;
    table.full.store(true, std::memory_order_relaxed);
  }
  table.generation.fetch_add(1, std::memory_order_release);
}

statement_ref intern_statement(std::string_view sql, sql_dialect dialect) noexcept {
  if (!detail::g_sql.load(std::memory_order_relaxed)) return {};
  try {
    thread_local detail::thread_cache caches[2];
    auto& cache = caches[static_cast<int>(dialect)];
    const auto generation = detail::statements().generation.load(std::memory_order_acquire);
    if (cache.generation != generation) {
      cache.entries.clear();
      cache.generation = generation;
    }
    const auto it = cache.entries.find(sql);
    if (it != cache.entries.end()) return statement_ref(it->second);
    if (sql.size() > detail::max_interned_length ||
        detail::statements().full.load(std::memory_order_relaxed))
      return {};
    return statement_ref(detail::intern_slow(sql, dialect, cache));
  } catch (...) {
    return {};  // not interned: the span copies its text instead (sql_span::begin)
  }
}

}  // namespace detail

statement_ref intern_statement(std::string_view sql) noexcept {
  return detail::intern_statement(sql, detail::sql_dialect::standard);
}

statement_ref intern_statement(std::string_view sql, target_ref target) noexcept {
  return detail::intern_statement(sql, detail::dialect_of(target));
}

target_ref intern_target(const db_target& t) noexcept {
  auto* table = &detail::targets();
  try {
    std::lock_guard<std::mutex> lock(table->mutex);
    for (const auto& e : table->entries) {
      const auto& k = e->target;
      if (k.system == t.system && k.name_space == t.name_space && k.address == t.address &&
          k.port == t.port)
        return target_ref(e.get());
    }
    auto e = std::make_unique<target_info>();
    e->key = detail::next_key.fetch_add(1);
    e->target = {valid_utf8(t.system), valid_utf8(t.name_space), valid_utf8(t.address), t.port};
    e->mysql_quoting = detail::dialect_of(t.system) == detail::sql_dialect::mysql;
    auto attribute = [&](const char* key, const std::string& value) {
      if (value.empty()) return;
      e->json_attributes += ", \"";
      e->json_attributes += key;
      e->json_attributes += "\": ";
      append_json_string(e->json_attributes, value);
    };
    attribute("db.system.name", e->target.system);
    attribute("db.namespace", e->target.name_space);
    attribute("server.address", e->target.address);
    if (t.port > 0) e->json_attributes += ", \"server.port\": " + std::to_string(t.port);
    table->entries.push_back(std::move(e));
    return target_ref(table->entries.back().get());
  } catch (...) {
    detail::count_lost_detail("a connection's target");
    return {};
  }
}

std::string_view statement_ref::operation() const noexcept {
  return p_ ? std::string_view(p_->operation) : std::string_view();
}

std::string statement_operation(std::string_view sql) {
  return detail::operation_name(sql);
}

}  // namespace dbtrace
