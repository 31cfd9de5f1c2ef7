// SQL spans and the statement/target tables behind them. The per-execution
// path reads the clock, looks up a per-thread cache and pushes one record.
#include "dbtrace/sql.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "dbtrace/traceparent.hpp"
#include "ids.hpp"
#include "runtime.hpp"
#include "statement_text.hpp"

namespace dbtrace {

namespace detail {
namespace {

// Statement texts are interned up to these limits; beyond them a statement is
// copied into its span instead, so memory stays bounded.
constexpr std::size_t max_interned_statements = 4096;
constexpr std::size_t max_interned_bytes = 16u << 20;

struct statement_table {
  std::mutex mutex;
  // Keys are the texts as the application sent them; entries live for the
  // process (records and thread caches point at them).
  std::unordered_map<std::string, std::unique_ptr<interned_statement>> entries;
  std::size_t bytes = 0;
  std::atomic<std::uint64_t> generation{1};
  std::vector<std::unique_ptr<interned_statement>> retired;
};
statement_table& statements() {
  static auto* table = new statement_table;  // never destroyed: threads may outlive statics
  return *table;
}

struct thread_cache {
  std::uint64_t generation = 0;
  std::unordered_map<std::string_view, const interned_statement*> entries;
};

std::unique_ptr<interned_statement> prepare(std::string_view sql) {
  const auto& o = current();
  auto s = std::make_unique<interned_statement>();
  s->text = truncate_statement(o.sanitize_statements ? sanitize_sql(sql) : std::string(sql),
                               o.max_statement_length);
  append_json_string(s->json_text, s->text);
  s->operation = operation_name(s->text);
  if (!s->operation.empty()) {
    s->json_attributes = ", \"db.operation.name\": ";
    append_json_string(s->json_attributes, s->operation);
  }
  return s;
}

const interned_statement* intern_slow(std::string_view sql, thread_cache& cache) {
  auto& table = statements();
  std::lock_guard<std::mutex> lock(table.mutex);
  auto it = table.entries.find(std::string(sql));
  if (it == table.entries.end()) {
    if (table.entries.size() >= max_interned_statements ||
        table.bytes + sql.size() > max_interned_bytes)
      return nullptr;
    it = table.entries.emplace(std::string(sql), prepare(sql)).first;
    table.bytes += sql.size() + it->second->text.size();
  }
  cache.entries.emplace(std::string_view(it->first), it->second.get());
  return it->second.get();
}

}  // namespace

namespace {
thread_local std::vector<sql_span*> t_open_spans;  // sql_span::keep_open, this thread
}  // namespace

void close_open_sql_spans(const id128* parent) noexcept {
  auto& open = t_open_spans;
  if (open.empty()) return;
  // Move the ones to close to the back, finish them, then drop them; finishing
  // leaves the list alone because it is told they are already out of it.
  const auto closing = std::partition(
      open.begin(), open.end(), [&](sql_span* s) { return parent && !(s->parent_id_ == *parent); });
  for (auto it = closing; it != open.end(); ++it) (*it)->end_and_finish_from_list();
  open.erase(closing, open.end());
}

void reset_statement_cache() noexcept {
  auto& table = statements();
  std::lock_guard<std::mutex> lock(table.mutex);
  // Entries may still be referenced by a thread's cache until it notices the
  // new generation; keep them alive (bounded by the table limits per init).
  for (auto& [text, entry] : table.entries) table.retired.push_back(std::move(entry));
  table.entries.clear();
  table.bytes = 0;
  table.generation.fetch_add(1, std::memory_order_release);
}

struct target_table {
  std::mutex mutex;
  std::vector<std::unique_ptr<interned_target>> entries;
};

}  // namespace detail

statement_ref intern_statement(std::string_view sql) noexcept {
  if (!detail::g_sql.load(std::memory_order_relaxed)) return {};
  try {
    thread_local detail::thread_cache cache;
    const auto generation = detail::statements().generation.load(std::memory_order_acquire);
    if (cache.generation != generation) {
      cache.entries.clear();
      cache.generation = generation;
    }
    const auto it = cache.entries.find(sql);
    if (it != cache.entries.end()) return statement_ref(it->second);
    return statement_ref(detail::intern_slow(sql, cache));
  } catch (...) {
    return {};
  }
}

target_ref intern_target(const db_target& t) noexcept {
  static auto* table = new detail::target_table;
  try {
    std::lock_guard<std::mutex> lock(table->mutex);
    for (const auto& e : table->entries) {
      const auto& k = e->target;
      if (k.system == t.system && k.name_space == t.name_space && k.address == t.address &&
          k.port == t.port)
        return target_ref(e.get());
    }
    auto e = std::make_unique<detail::interned_target>();
    e->target = t;
    auto attribute = [&](const char* key, const std::string& value) {
      if (value.empty()) return;
      e->json_attributes += ", \"";
      e->json_attributes += key;
      e->json_attributes += "\": ";
      detail::append_json_string(e->json_attributes, value);
    };
    attribute("db.system.name", t.system);
    attribute("db.namespace", t.name_space);
    attribute("server.address", t.address);
    if (t.port > 0) e->json_attributes += ", \"server.port\": " + std::to_string(t.port);
    table->entries.push_back(std::move(e));
    return target_ref(table->entries.back().get());
  } catch (...) {
    return {};
  }
}

db_target describe_connection(std::string system, std::string_view cs) {
  db_target t;
  t.system = std::move(system);
  auto set = [&](std::string_view key, std::string value) {
    if (key == "dbname" || key == "db" || key == "database")
      t.name_space = std::move(value);
    else if (key == "host" || key == "hostaddr") {
      if (t.address.empty() || key == "host") t.address = std::move(value);
    } else if (key == "port") {
      t.port = std::atoi(value.c_str());
    }
  };
  const auto scheme_end = cs.find("://");
  if (scheme_end != std::string_view::npos && cs.find('=') > scheme_end) {
    // URI: scheme://[user[:password]@][host][:port][/dbname][?key=value&...]
    std::string_view rest = cs.substr(scheme_end + 3);
    const auto query = rest.find('?');
    std::string_view params = query == std::string_view::npos ? "" : rest.substr(query + 1);
    rest = rest.substr(0, query);
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) t.name_space = std::string(rest.substr(slash + 1));
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos) authority = authority.substr(at + 1);  // drop credentials
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
      t.port = std::atoi(std::string(authority.substr(colon + 1)).c_str());
      authority = authority.substr(0, colon);
    }
    t.address = std::string(authority);
    while (!params.empty()) {
      const auto amp = params.find('&');
      const auto pair = params.substr(0, amp);
      const auto eq = pair.find('=');
      if (eq != std::string_view::npos) set(pair.substr(0, eq), std::string(pair.substr(eq + 1)));
      params = amp == std::string_view::npos ? "" : params.substr(amp + 1);
    }
    return t;
  }
  // key=value pairs separated by blanks; values may be single-quoted.
  std::size_t i = 0;
  bool any_pair = false;
  while (i < cs.size()) {
    while (i < cs.size() && std::isspace(static_cast<unsigned char>(cs[i]))) ++i;
    const auto eq = cs.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key(cs.substr(i, eq - i));
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    i = eq + 1;
    while (i < cs.size() && cs[i] == ' ') ++i;
    std::string value;
    if (i < cs.size() && cs[i] == '\'') {
      for (++i; i < cs.size() && cs[i] != '\''; ++i) {
        if (cs[i] == '\\' && i + 1 < cs.size()) ++i;
        value.push_back(cs[i]);
      }
      ++i;
    } else {
      while (i < cs.size() && !std::isspace(static_cast<unsigned char>(cs[i])))
        value.push_back(cs[i++]);
    }
    any_pair = true;
    set(key, std::move(value));
  }
  if (!any_pair) t.name_space = std::string(cs);  // e.g. SOCI's sqlite3 "app.db"
  return t;
}

std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? name.get() : type.name();
}

std::string_view statement_ref::operation() const noexcept {
  return p_ ? std::string_view(p_->operation) : std::string_view();
}

std::string statement_operation(std::string_view sql) {
  return detail::operation_name(sql);
}

bool sql_recording() noexcept {
  return detail::g_sql.load(std::memory_order_relaxed) && detail::this_thread().active;
}

void sql_span::begin(target_ref target, statement_ref statement) noexcept {
  statement_ = statement.get();
  start(target);
}

void sql_span::begin(target_ref target, std::string_view sql) noexcept {
  if (!detail::this_thread().active) return;
  statement_ = intern_statement(sql).get();
  if (!statement_) {
    try {
      extra_ = new detail::record_extra;
      const auto& o = detail::current();
      extra_->statement = detail::truncate_statement(
          o.sanitize_statements ? detail::sanitize_sql(sql) : std::string(sql),
          o.max_statement_length);
    } catch (...) {
      delete extra_;
      extra_ = nullptr;
      return;
    }
  }
  start(target);
}

void sql_span::start(target_ref target) noexcept {
  auto& t = detail::this_thread();
  if (!t.active) {
    delete extra_;
    extra_ = nullptr;
    return;
  }
  on_ = true;
  target_ = target.get();
  base_id_ = t.base_id;
  parent_id_ = t.stack.back();
  trace_id_ = detail::new_uuid4();
  start_ns_ = detail::wall_ns();
}

std::int64_t sql_span::clock() noexcept {
  return detail::wall_ns();
}

void sql_span::end_now() noexcept {
  if (on_) end_ns_ = detail::wall_ns();
}

std::string sql_span::with_comment(const std::string& sql) const {
  if (!on_ || !detail::current().sqlcommenter) return sql;
  if (sql.find("/*") != std::string::npos || sql.find("--") != std::string::npos) return sql;
  // Keys sorted and URL-encoded per sqlcommenter; a traceparent needs no escaping.
  return sql + "/*traceparent='" +
         format_traceparent(detail::to_string(base_id_), detail::to_string(trace_id_)) + "'*/";
}

void sql_span::keep_open() noexcept {
  if (!on_ || registered_) return;
  try {
    detail::t_open_spans.push_back(this);
    registered_ = true;
  } catch (...) {
  }
}

void sql_span::end_and_finish_from_list() noexcept {
  registered_ = false;  // close_open_sql_spans removes it from the list
  if (on_) finish();
}

void sql_span::finish() noexcept {
  if (registered_) {
    auto& open = detail::t_open_spans;
    open.erase(std::remove(open.begin(), open.end(), this), open.end());
    registered_ = false;
  }
  on_ = false;
  detail::record r{detail::record_kind::sql,
                   base_id_,
                   trace_id_,
                   parent_id_,
                   start_ns_,
                   end_ns_ ? end_ns_ : detail::wall_ns(),
                   statement_,
                   target_,
                   rows_,
                   batch_,
                   extra_};
  extra_ = nullptr;  // the record owns it now
  detail::push(r);
}

bool sql_span::wants_params() const noexcept {
  return on_ && detail::current().record_params;
}

void sql_span::param(nlohmann::json value) noexcept {
  if (!wants_params()) return;
  try {
    if (!extra_) extra_ = new detail::record_extra;
    if (!extra_->params.is_array()) extra_->params = nlohmann::json::array();
    extra_->params.push_back(std::move(value));
  } catch (...) {
  }
}

void sql_span::error(std::string_view etype, std::string_view message, std::string_view sqlstate,
                     std::string_view category) noexcept {
  if (!on_) return;
  try {
    if (!extra_) extra_ = new detail::record_extra;
    extra_->failed = true;
    extra_->etype = etype;
    extra_->message = message;
    extra_->sqlstate = sqlstate;
    extra_->category = category;
  } catch (...) {
  }
}

}  // namespace dbtrace
