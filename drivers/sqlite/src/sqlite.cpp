// SPDX-License-Identifier: Apache-2.0
// sqlite:// — the embedded store (schema.hpp): a batch in one transaction,
// its spans in blocks (blocks.hpp); reads its own layouts and OSProfiler's
// `data` table alike.
#include "dbtrace/drivers/sqlite.hpp"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "blocks.hpp"
#include "dbtrace/error.hpp"
#include "dbtrace/osprofiler_event.hpp"
#include "schema.hpp"

namespace dbtrace::drivers {
namespace {

namespace schema = sqlite_schema;
using sqlite_blocks::block_reader;
using sqlite_blocks::block_span;
using sqlite_blocks::block_writer;

// How long a write waits for another process's write lock (SQLITE_BUSY).
constexpr std::chrono::milliseconds busy_timeout{2000};

// sqlite:///rel.db is relative, sqlite:////abs.db absolute (SQLAlchemy's rule).
// The file is named by the path alone: ?parameters (a password, say) are
// refused, never taken for part of a file name that messages would print.
std::string path_of(const std::string& cs) {
  const auto uri = parse_connection_uri(cs);
  if (!uri.host.empty() || uri.path.empty() || !uri.user.empty())
    throw config_error(
        "connection_string: expected sqlite:///relative.db or sqlite:////absolute.db, got '" +
        redact_connection_string(cs) + "'");
  if (!uri.query.empty() || cs.find('?') != std::string::npos)
    throw config_error("connection_string: the embedded store takes no ?parameters, got '" +
                       redact_connection_string(cs) + "'");
  std::string path = uri.path.substr(1);
  if (path.empty()) throw config_error("connection_string: sqlite:// needs a file name");
  return path;
}

// Errors that may pass (locked, busy, I/O, full disk) are retried; others reject the batch.
bool transient(int rc) {
  switch (rc & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
      return true;
    default:
      return false;
  }
}

std::string column_text(sqlite3_stmt* st, int i) {
  const auto* p = sqlite3_column_text(st, i);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(st, i)))
           : std::string();
}

std::optional<std::string> nullable_text(sqlite3_stmt* st, int i) {
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return std::nullopt;
  return column_text(st, i);
}

std::int64_t as_int(std::uint64_t v) {
  return static_cast<std::int64_t>(v);  // SQLite integers are signed 64-bit; the bits are kept
}

struct id_hash {
  std::size_t operator()(const detail::id128& id) const noexcept {
    return static_cast<std::size_t>(id.hi * 0x9E3779B97F4A7C15ULL ^ id.lo);
  }
};

// The file's layout version (PRAGMA user_version); -1 when unreadable.
int user_version(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  int v = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

bool has_table(sqlite3* db, const char* name) {
  sqlite3_stmt* st = nullptr;
  bool found = false;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1,
                         &st, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return found;
}

// A prepared statement that resets itself for reuse.
class prepared {
 public:
  prepared() = default;
  prepared(const prepared&) = delete;
  prepared& operator=(const prepared&) = delete;
  ~prepared() { sqlite3_finalize(st_); }
  int prepare(sqlite3* db, const char* sql) {
    sqlite3_finalize(st_);
    st_ = nullptr;
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st_, nullptr);
  }
  void finalize() {
    sqlite3_finalize(st_);
    st_ = nullptr;
  }
  sqlite3_stmt* start() {
    sqlite3_reset(st_);
    return st_;
  }
  // start(), with every parameter NULL until bound: cheaper than binding
  // each NULL on its own.
  sqlite3_stmt* start_unbound() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
    return st_;
  }
  void text(int i, std::string_view v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void integer(int i, std::int64_t v) { sqlite3_bind_int64(st_, i, v); }
  void null(int i) { sqlite3_bind_null(st_, i); }
  sqlite3_stmt* get() const { return st_; }
  // The first column of the row a query stepped to; the query is then reset:
  // a query left on its row keeps its snapshot after COMMIT, and a later
  // transaction of this connection could not write once another connection
  // (a second process) had (SQLITE_BUSY_SNAPSHOT).
  std::int64_t first_integer() {
    const std::int64_t v = sqlite3_column_int64(st_, 0);
    sqlite3_reset(st_);
    return v;
  }

 private:
  sqlite3_stmt* st_ = nullptr;
};

constexpr const char* insert_block_sql =
    "INSERT INTO span_blocks (id, span_count, start_ns, spans) VALUES (?, ?, ?, ?)";

// Thrown inside a batch; write() turns it into a result.
struct sqlite_failure {
  int rc;
};

class sqlite_writer final : public writer {
 public:
  explicit sqlite_writer(const store_params& p)
      : path_(path_of(p.connection_string)),
        project_(valid_utf8(p.project)),
        service_(valid_utf8(p.service)),
        host_(valid_utf8(p.host)) {}
  ~sqlite_writer() override { close(); }

  std::string permanent_problem() noexcept override { return file_store_problem(path_); }

  write_result write(const std::vector<span_view>& batch, std::string& error) noexcept override {
    try {
      if (db_ && file_was_replaced()) {
        // Writing on would fill the deleted file no one can read: a new one instead.
        std::fprintf(stderr,
                     "dbtrace: %s was deleted or replaced while in use; writing a new one\n",
                     path_.c_str());
        close();
      }
      if (!db_) {
        const auto opened = open(error);
        if (opened != write_result::ok) return opened;
      }
      // IMMEDIATE: the write lock is taken (or waited for, busy_timeout) now.
      // A deferred BEGIN reads first and then fails at once, without
      // waiting, when another process committed in between.
      check(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr));
      last_statement_ = last_target_ = {0, 0};
      const std::int64_t last_before = largest_span_id();
      insert_new_traces(batch, last_before);
      insert_blocks(batch, last_before + 1);
      insert_trace_ranges(last_before);
      check(sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr));
      return write_result::ok;
    } catch (const sqlite_failure& f) {
      return fail(f.rc, error);
    } catch (const std::exception& e) {
      fail(SQLITE_NOMEM, error);  // rolls back, forgets cached keys, reopens on the next try
      error = path_ + ": " + e.what();
      return write_result::retry;
    }
  }

  void shutdown(std::chrono::milliseconds) noexcept override { close(); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) throw sqlite_failure{rc};
  }
  // Runs an insert whose row may already exist (UNIQUE ... DO NOTHING) and
  // returns the key, inserted or found.
  std::int64_t upsert(prepared& insert, prepared& select) {
    check(sqlite3_step(insert.get()));
    if (sqlite3_changes(db_) > 0) return sqlite3_last_insert_rowid(db_);
    const int rc = sqlite3_step(select.get());
    if (rc != SQLITE_ROW) throw sqlite_failure{rc == SQLITE_DONE ? SQLITE_INTERNAL : rc};
    return select.first_integer();
  }

  // Gives every trace of the batch this writer has no row for (or has
  // forgotten) a row of its own, many per INSERT: another process writing the
  // same trace has its own row, and readers gather a trace's rows by base_id.
  // Each row's key follows from SQLite's rowid rule, as the spans' do; the
  // row holds the range of the trace's spans in this batch, whose ids follow
  // `last_span` (the largest before it) in the batch's order.
  void insert_new_traces(const std::vector<span_view>& batch, std::int64_t last_span) {
    if (traces_.size() >= 65536) traces_.clear();  // bounded: old traces rarely come back
    new_traces_.clear();
    last_trace_ = nullptr;
    std::int64_t span = last_span;
    for (const auto& v : batch) {
      if (v.phase == span_phase::started) continue;  // not stored (insert_blocks)
      ++span;
      // A trace's spans come one after another: looked up when the trace changes.
      if (!last_trace_ || !(last_trace_->first == v.base_id)) {
        const auto [it, fresh] = traces_.try_emplace(v.base_id, trace_row{0, v.start_ns, span, 0});
        last_trace_ = &*it;
        if (fresh) new_traces_.push_back(last_trace_);
      }
      trace_row& row = last_trace_->second;
      if (row.key == 0) {  // new in this batch: its earliest span, its last
        row.first_ns = std::min(row.first_ns, v.start_ns);
        row.last_span = span;
      }
    }
    first_new_trace_ = INT64_MAX;
    if (new_traces_.empty()) return;
    check(sqlite3_step(select_last_trace_.start()));
    std::int64_t last = select_last_trace_.first_integer();
    first_new_trace_ = last + 1;
    base_texts_.resize(traces_per_insert);
    for (std::size_t i = 0; i < new_traces_.size();) {
      const std::size_t n = new_traces_.size() - i >= traces_per_insert ? traces_per_insert : 1;
      prepared& insert = n == 1 ? insert_trace_ : insert_traces_;
      insert.start();
      for (std::size_t k = 0; k < n; ++k) {
        const auto& [base, row] = *new_traces_[i + k];
        base_texts_[k] = uuid_text(base);
        const int at = static_cast<int>(k) * trace_columns + 1;
        insert.text(at, base_texts_[k]);
        insert.integer(at + 1, as_int(base.hi));
        insert.integer(at + 2, as_int(base.lo));
        insert.integer(at + 3, row.first_ns);
        insert.integer(at + 4, source_);
        insert.integer(at + 5, row.first_span);
        insert.integer(at + 6, row.last_span);
      }
      check(sqlite3_step(insert.get()));
      if (sqlite3_last_insert_rowid(db_) != last + static_cast<std::int64_t>(n))
        throw sqlite_failure{SQLITE_INTERNAL};
      for (std::size_t k = 0; k < n; ++k) new_traces_[i + k]->second.key = ++last;
      i += n;
    }
  }

  // The trace's key (insert_new_traces made sure it has one); an outer span
  // that started before every span seen so far moves its first_ns.
  std::int64_t trace_key(const span_view& v) {
    if (!last_trace_ || !(last_trace_->first == v.base_id)) {
      const auto it = traces_.find(v.base_id);
      if (it == traces_.end()) throw std::logic_error("a span of a trace without a row");
      last_trace_ = &*it;
    }
    trace_row& row = last_trace_->second;
    if (v.start_ns < row.first_ns) {
      update_first_.start();
      update_first_.integer(1, v.start_ns);
      update_first_.integer(2, row.key);
      check(sqlite3_step(update_first_.get()));
      row.first_ns = v.start_ns;
    }
    return row.key;
  }

  std::int64_t statement_key(const statement_info& s) {
    if (s.key != 0) {
      if (s.key == last_statement_.first) return last_statement_.second;
      const auto it = statements_.find(s.key);
      if (it != statements_.end()) {
        last_statement_ = *it;
        return it->second;
      }
    }
    insert_statement_.start();
    insert_statement_.text(1, s.text);
    insert_statement_.text(2, s.operation);
    insert_statement_.text(3, s.collection);
    insert_statement_.text(4, s.summary);
    select_statement_.start();
    select_statement_.text(1, s.text);
    const std::int64_t key = upsert(insert_statement_, select_statement_);
    if (s.key != 0) statements_.emplace(s.key, key);
    return key;
  }

  std::int64_t target_key(const target_info& t) {
    if (t.key != 0) {  // 0: not interned (a writer's caller made it), not cached
      if (t.key == last_target_.first) return last_target_.second;
      const auto it = targets_.find(t.key);
      if (it != targets_.end()) {
        last_target_ = *it;
        return it->second;
      }
    }
    insert_target_.start();
    select_target_.start();
    for (auto* p : {&insert_target_, &select_target_}) {
      p->text(1, t.target.system);
      p->text(2, t.target.name_space);
      p->text(3, t.target.address);
      p->integer(4, t.target.port);
    }
    const std::int64_t key = upsert(insert_target_, select_target_);
    if (t.key != 0) targets_.emplace(t.key, key);
    return key;
  }

  std::int64_t error_key(const span_error& e) {
    std::string id = e.etype + '\0' + e.message + '\0' + e.sqlstate + '\0' + e.category;
    const auto it = errors_.find(id);
    if (it != errors_.end()) return it->second;
    if (errors_.size() >= 4096) errors_.clear();
    const std::string fields[] = {valid_utf8(e.etype), valid_utf8(e.message),
                                  valid_utf8(e.sqlstate), valid_utf8(e.category)};
    insert_error_.start();
    select_error_.start();
    for (auto* p : {&insert_error_, &select_error_})
      for (int i = 0; i < 4; ++i) p->text(i + 1, fields[i]);
    const std::int64_t key = upsert(insert_error_, select_error_);
    errors_.emplace(std::move(id), key);
    return key;
  }

  // A span as its block stores it: its keys looked up (inserting the
  // statement, target or error it names when new), its JSON texts rendered.
  // One pass from view to block: no row kept per span between.
  block_span stored(const span_view& v) {
    block_span s;
    s.trace = trace_key(v);
    s.span_id = as_int(v.id.lo);
    s.parent_id = as_int(v.parent_id.lo);
    s.start_ns = v.start_ns;
    s.duration_ns = v.end_ns - v.start_ns;
    s.source = source_;
    if (v.is_sql()) {
      s.statement = statement_key(*v.statement);
      if (v.rows >= 0) s.rows = v.rows;
    } else {
      s.name = v.name;  // escaped, invalid UTF-8 replaced, by the block
    }
    if (v.target) s.target = target_key(*v.target);
    if (v.batch > 0) s.batch = v.batch;
    if (v.error) s.error = error_key(*v.error);
    if (v.id.hi != v.base_id.hi) s.span_hi = as_int(v.id.hi);
    if (v.parent_id.hi != v.base_id.hi) s.parent_hi = as_int(v.parent_id.hi);
    if (v.params) {
      params_ = v.params->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      s.params = params_;
    }
    if (v.info) {
      info_ = v.info->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      s.info = info_;
    }
    return s;
  }

  // Inserts the batch's spans as blocks, the first span's id `first`; notes
  // each span's trace for insert_trace_ranges.
  void insert_blocks(const std::vector<span_view>& batch, std::int64_t first) {
    block_.clear();
    span_traces_.clear();
    for (const auto& v : batch) {
      if (v.phase == span_phase::started) continue;  // a generic span is stored when it ends
      const block_span s = stored(v);
      span_traces_.push_back(s.trace);
      block_.add(s);
      if (block_full()) {
        insert_block(first, block_.spans());
        first += static_cast<std::int64_t>(block_.spans());
        block_.clear();
      }
    }
    if (block_.spans()) insert_block(first, block_.spans());
  }

  bool block_full() const {
    return block_.spans() == schema::max_block_spans || block_.bytes() >= schema::max_block_bytes;
  }

  void insert_block(std::int64_t first, std::size_t spans) {
    insert_block_.start();
    insert_block_.integer(1, first);
    insert_block_.integer(2, static_cast<std::int64_t>(spans));
    insert_block_.integer(3, block_.start_ns());
    insert_block_.text(4, block_.close());
    check(sqlite3_step(insert_block_.get()));
  }

  std::int64_t largest_span_id() {
    check(sqlite3_step(select_last_span_.start()));
    return select_last_span_.first_integer();  // 0 when empty (NULL)
  }

  // Says where this batch put the spans of each trace whose row an earlier
  // batch made (trace_ranges; a new row holds its own range): row i's id is
  // last_before + 1 + i.
  void insert_trace_ranges(std::int64_t last_before) {
    if (span_traces_.empty()) return;
    ranges_.clear();
    range_of_trace_.clear();
    for (std::size_t i = 0; i < span_traces_.size(); ++i) {
      const std::int64_t trace = span_traces_[i];
      if (trace >= first_new_trace_) continue;  // its row made by this batch
      const std::int64_t id = last_before + 1 + static_cast<std::int64_t>(i);
      if (!ranges_.empty() && ranges_.back().trace == trace) {  // the common case: a run
        ranges_.back().last = id;
        continue;
      }
      const auto [it, fresh] = range_of_trace_.emplace(trace, ranges_.size());
      if (fresh)
        ranges_.push_back({trace, id, id});
      else
        ranges_[it->second].last = id;
    }
    // Many per statement, as the spans; the rest one by one.
    std::size_t i = 0;
    for (; i + ranges_per_insert <= ranges_.size(); i += ranges_per_insert) {
      insert_ranges_.start();
      for (std::size_t k = 0; k < ranges_per_insert; ++k)
        bind_range(insert_ranges_, 3 * k + 1, i + k);
      check(sqlite3_step(insert_ranges_.get()));
    }
    for (; i < ranges_.size(); ++i) {
      insert_range_.start();
      bind_range(insert_range_, 1, i);
      check(sqlite3_step(insert_range_.get()));
    }
  }

  void bind_range(prepared& s, std::size_t at, std::size_t i) {
    const int first = static_cast<int>(at);
    s.integer(first, ranges_[i].trace);
    s.integer(first + 1, ranges_[i].first);
    s.integer(first + 2, ranges_[i].last);
  }

  // Opens the file and makes sure it is in this layout (creating it in a new
  // or empty file); an OSProfiler-layout or newer file is refused for writing.
  write_result open(std::string& error) {
    int rc =
        sqlite3_open_v2(path_.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return fail(rc, error);
    sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
    // WAL lets the CLI read while the application writes; NORMAL sync is
    // durable across application crashes, which is what a trace store needs.
    // A 16 MiB page cache keeps the tails of the tables and indexes that
    // every batch appends to from being read back from the file.
    // Turning a new file to WAL fails at once, without the busy handler,
    // while another process does the same: that wait is done here.
    const auto wait_until = std::chrono::steady_clock::now() + busy_timeout;
    while ((rc = sqlite3_exec(db_,
                              "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                              "PRAGMA cache_size=-16384;",
                              nullptr, nullptr, nullptr)) == SQLITE_BUSY &&
           std::chrono::steady_clock::now() < wait_until)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (rc != SQLITE_OK) return fail(rc, error);
    rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return fail(rc, error);
    const int version = user_version(db_);
    std::string ddl;  // what makes the file this layout, before its views
    if (version == 0) {
      if (has_table(db_, "data")) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        close();
        error = path_ +
                ": holds OSProfiler's `data` table (Python OSProfiler, or dbtrace before 0.2); "
                "dbtrace reads it but writes only its own layout: point connection_string at a "
                "new file";
        return write_result::rejected;
      }
      ddl = std::string(schema::tables) + schema::span_blocks_table + schema::trace_spans_table +
            schema::views;  // layout 3, then on to 4 as such a file goes
    } else if (version >= schema::first_layout_version && version <= schema::rows_layout_version) {
      try {
        migrate_rows_into_blocks(version);
      } catch (const sqlite_failure& f) {
        return fail(f.rc, error);
      }
      ddl = schema::views;
    } else if (version != schema::ranges_layout_version && version != schema::layout_version) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      close();
      error = path_ + ": layout " + std::to_string(version) + " is not one this dbtrace writes (" +
              std::to_string(schema::layout_version) + "); point connection_string at a new file";
      return write_result::rejected;
    }
    if (version != schema::layout_version) {
      ddl += std::string(schema::ranges_into_traces) + schema::trace_spans_view +
             "PRAGMA user_version = " + std::to_string(schema::layout_version) + ";";
      rc = sqlite3_exec(db_, ddl.c_str(), nullptr, nullptr, nullptr);
      if (rc != SQLITE_OK) return fail(rc, error);  // rolls back
    }
    rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return fail(rc, error);
    try {
      prepare_all();
      source_ = source_key();
    } catch (const sqlite_failure& f) {
      return fail(f.rc, error);
    }
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0) {
      file_dev_ = st.st_dev;
      file_ino_ = st.st_ino;
    }
    return write_result::ok;
  }

  // Layouts 1 and 2 (a row per span) to blocks, in the open transaction: the
  // rows in id order, renumbered from 1 (a file whose rows were pruned has
  // gaps), and one trace_spans range per trace; the views are made anew after.
  void migrate_rows_into_blocks(int version) {
    std::string ddl = version < schema::rows_layout_version ? schema::trace_spans_table : "";
    ddl += std::string(schema::migrate_views_out) + schema::span_blocks_table;
    check(sqlite3_exec(db_, ddl.c_str(), nullptr, nullptr, nullptr));
    prepared rows, range;
    check(
        rows.prepare(db_,
                     "SELECT trace, span_id, parent_id, start_ns, duration_ns, source, statement, "
                     "target, rows, batch, error, span_hi, parent_hi, name, params, info "
                     "FROM spans ORDER BY id"));
    check(insert_block_.prepare(db_, insert_block_sql));
    std::unordered_map<std::int64_t, std::pair<std::int64_t, std::int64_t>> ranges;
    std::int64_t id = 0, first = 1;
    block_.clear();
    auto optional = [&](int i) -> std::optional<std::int64_t> {
      if (sqlite3_column_type(rows.get(), i) == SQLITE_NULL) return std::nullopt;
      return sqlite3_column_int64(rows.get(), i);
    };
    auto text = [&](int i) {
      const auto* p = sqlite3_column_text(rows.get(), i);
      return p ? std::string_view(reinterpret_cast<const char*>(p),
                                  static_cast<std::size_t>(sqlite3_column_bytes(rows.get(), i)))
               : std::string_view();
    };
    int rc;
    rows.start();
    while ((rc = sqlite3_step(rows.get())) == SQLITE_ROW) {
      block_span s;
      std::int64_t* const required[] = {&s.trace,    &s.span_id,     &s.parent_id,
                                        &s.start_ns, &s.duration_ns, &s.source};
      for (int i = 0; i < 6; ++i) *required[i] = sqlite3_column_int64(rows.get(), i);
      s.statement = optional(6);
      s.target = optional(7);
      s.rows = optional(8);
      s.batch = optional(9);
      s.error = optional(10);
      s.span_hi = optional(11);
      s.parent_hi = optional(12);
      if (!s.statement) s.name = text(13);
      s.params = text(14);
      s.info = text(15);
      block_.add(s);
      ++id;
      const auto [it, fresh] = ranges.try_emplace(s.trace, id, id);
      if (!fresh) it->second.second = id;
      if (block_full()) {
        insert_block(first, block_.spans());
        first = id + 1;
        block_.clear();
      }
    }
    check(rc);
    if (block_.spans()) insert_block(first, block_.spans());
    check(sqlite3_exec(db_, "DELETE FROM trace_spans", nullptr, nullptr, nullptr));
    check(range.prepare(db_,
                        "INSERT INTO trace_spans (trace, first_span, last_span) VALUES (?, ?, ?)"));
    for (const auto& [trace, span_ids] : ranges) {
      range.start();
      range.integer(1, trace);
      range.integer(2, span_ids.first);
      range.integer(3, span_ids.second);
      check(sqlite3_step(range.get()));
    }
    rows.finalize();
    check(sqlite3_exec(db_, schema::migrate_table_out, nullptr, nullptr, nullptr));
  }

  // The path no longer names the file this connection has open (deleted, or
  // another file moved there). One stat per batch.
  bool file_was_replaced() const {
    struct stat st {};
    return ::stat(path_.c_str(), &st) != 0 || st.st_dev != file_dev_ || st.st_ino != file_ino_;
  }

  void prepare_all() {
    std::string traces =
        "INSERT INTO traces (base_id, base_hi, base_lo, first_ns, source, first_span, last_span) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)";
    const std::string one_trace = traces;
    for (std::size_t k = 1; k < traces_per_insert; ++k) traces += ", (?, ?, ?, ?, ?, ?, ?)";
    std::string ranges = "INSERT INTO trace_ranges (trace, first_span, last_span) VALUES (?, ?, ?)";
    const std::string one_range = ranges;
    for (std::size_t k = 1; k < ranges_per_insert; ++k) ranges += ", (?, ?, ?)";
    const std::pair<prepared*, const char*> all[] = {
        {&insert_block_, insert_block_sql},
        {&insert_trace_, one_trace.c_str()},
        {&insert_traces_, traces.c_str()},
        {&select_last_trace_, "SELECT max(id) FROM traces"},
        {&update_first_, "UPDATE traces SET first_ns = min(first_ns, ?) WHERE id = ?"},
        {&insert_range_, one_range.c_str()},
        {&insert_ranges_, ranges.c_str()},
        {&select_last_span_,
         "SELECT coalesce((SELECT id + span_count - 1 FROM span_blocks ORDER BY id DESC LIMIT 1), "
         "0)"},
        {&insert_statement_,
         "INSERT INTO statements (text, operation, collection, summary) VALUES (?, ?, ?, ?) "
         "ON CONFLICT (text) DO NOTHING"},
        {&select_statement_, "SELECT id FROM statements WHERE text = ?"},
        {&insert_target_,
         "INSERT INTO targets (system, namespace, address, port) VALUES (?, ?, ?, ?) "
         "ON CONFLICT DO NOTHING"},
        {&select_target_,
         "SELECT id FROM targets WHERE system = ? AND namespace = ? AND address = ? AND port = ?"},
        {&insert_error_,
         "INSERT INTO errors (etype, message, sqlstate, category) VALUES (?, ?, ?, ?) "
         "ON CONFLICT DO NOTHING"},
        {&select_error_,
         "SELECT id FROM errors WHERE etype = ? AND message = ? AND sqlstate = ? AND category = ?"},
    };
    for (const auto& [p, sql] : all) check(p->prepare(db_, sql));
  }

  std::int64_t source_key() {
    prepared insert, select;
    check(insert.prepare(db_,
                         "INSERT INTO sources (project, service, host) VALUES (?, ?, ?) "
                         "ON CONFLICT DO NOTHING"));
    check(select.prepare(db_,
                         "SELECT id FROM sources WHERE project = ? AND service = ? AND host = ?"));
    insert.start();
    select.start();
    for (auto* p : {&insert, &select}) {
      p->text(1, project_);
      p->text(2, service_);
      p->text(3, host_);
    }
    return upsert(insert, select);
  }

  write_result fail(int rc, std::string& error) {
    error = path_ + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    // Keys cached during a rolled-back transaction do not exist: forget them all.
    traces_.clear();
    statements_.clear();
    targets_.clear();
    errors_.clear();
    if (db_ && !sqlite3_get_autocommit(db_))
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    // Reopened on the next try, whatever the error: the file may have been
    // replaced (a file that was not a database), or the disk freed.
    close();
    if (!transient(rc)) return write_result::rejected;
    if ((rc & 0xFF) == SQLITE_CANTOPEN || (rc & 0xFF) == SQLITE_READONLY) {
      if (const auto problem = file_store_problem(path_); !problem.empty()) {
        error = problem;
        return write_result::rejected;  // a missing or closed directory: waiting will not help
      }
    }
    return write_result::retry;
  }

  void close() {
    for (auto* p :
         {&insert_block_, &insert_trace_, &insert_traces_, &select_last_trace_, &update_first_,
          &insert_range_, &insert_ranges_, &select_last_span_, &insert_statement_,
          &select_statement_, &insert_target_, &select_target_, &insert_error_, &select_error_})
      p->finalize();
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
  }

  std::string path_, project_, service_, host_;
  sqlite3* db_ = nullptr;
  dev_t file_dev_ = 0;  // the file db_ has open
  ino_t file_ino_ = 0;
  std::int64_t source_ = 0;
  static constexpr std::size_t ranges_per_insert = 32;
  static constexpr std::size_t traces_per_insert = 32;
  static constexpr int trace_columns = 7;  // bound per row by insert_new_traces
  std::vector<std::int64_t> span_traces_;  // the batch's spans' traces, in order; reused
  std::string params_, info_;              // the span being stored's; reused
  block_writer block_;                     // reused
  prepared insert_block_, insert_trace_, insert_traces_, select_last_trace_, update_first_,
      insert_range_, insert_ranges_, select_last_span_, insert_statement_, select_statement_,
      insert_target_, select_target_, insert_error_, select_error_;
  // The batch's traces without a row yet (entries of traces_), and their
  // base_id texts while bound; reused.
  // What this writer knows of a trace's row: its key (0: made by the batch
  // being written, not inserted yet), its first_ns, and while new, the range
  // of its spans in the batch.
  struct trace_row {
    std::int64_t key, first_ns, first_span, last_span;
  };
  using trace_entry = std::pair<const detail::id128, trace_row>;
  std::vector<trace_entry*> new_traces_;
  std::vector<std::string> base_texts_;
  // The batch's trace_ranges rows, reused.
  struct span_range {
    std::int64_t trace, first, last;
  };
  std::vector<span_range> ranges_;
  std::unordered_map<std::int64_t, std::size_t> range_of_trace_;  // trace -> its range in ranges_
  // What this writer stored, by the recorder's keys: a known statement,
  // target or trace costs a hash lookup, not a query.
  std::unordered_map<detail::id128, trace_row, id_hash> traces_;
  std::unordered_map<std::uint64_t, std::int64_t> statements_, targets_;
  std::unordered_map<std::string, std::int64_t> errors_;
  // The entries the last span used: the next one mostly has the same.
  // Per batch (write() starts them afresh; a failure forgets the maps).
  trace_entry* last_trace_ = nullptr;
  std::int64_t first_new_trace_ = INT64_MAX;  // the key of the batch's first new row
  std::pair<std::uint64_t, std::int64_t> last_statement_{0, 0}, last_target_{0, 0};
};

class sqlite_reader final : public reader {
 public:
  explicit sqlite_reader(std::string path) : path_(std::move(path)) {}
  ~sqlite_reader() override { sqlite3_close(db_); }

  std::vector<trace_summary> list_traces(bool errors_only) override {
    open();
    std::vector<trace_summary> out;
    if (ours()) {
      std::unordered_set<std::int64_t> failed;  // traces rows with a failed span
      if (errors_only)
        for_each_span([&](const block_span& s) {
          if (s.error) failed.insert(s.trace);
        });
      std::unordered_map<std::string, std::int64_t> first_ns;  // by base_id
      query("SELECT id, base_id, first_ns FROM traces", {}, [&](sqlite3_stmt* st) {
        if (errors_only && !failed.count(sqlite3_column_int64(st, 0))) return;
        const std::int64_t first = sqlite3_column_int64(st, 2);
        const auto [it, fresh] = first_ns.try_emplace(column_text(st, 1), first);
        if (!fresh) it->second = std::min(it->second, first);
      });
      std::vector<std::pair<std::int64_t, std::string>> order;
      for (auto& [base_id, first] : first_ns) order.emplace_back(first, base_id);
      std::sort(order.begin(), order.end());
      for (auto& [first, base_id] : order) {
        trace_summary t{std::move(base_id), {}};
        format_timestamp(first, t.timestamp);
        out.push_back(std::move(t));
      }
      return out;
    }
    // OSProfiler's layout: events in the data table.
    std::set<std::string> failed;
    if (errors_only) {
      query("SELECT base_id, data FROM data WHERE name LIKE '%-stop' AND data LIKE '%etype%'", {},
            [&](sqlite3_stmt* st) {
              const auto payload = decode_data_column(column_text(st, 1));
              if (payload.contains("info") && payload["info"].is_object() &&
                  payload["info"].contains("etype"))
                failed.insert(column_text(st, 0));
            });
    }
    query("SELECT base_id, MIN(\"timestamp\") FROM data GROUP BY base_id ORDER BY 2, 1", {},
          [&](sqlite3_stmt* st) {
            auto id = column_text(st, 0);
            if (!errors_only || failed.count(id))
              out.push_back({std::move(id), column_text(st, 1)});
          });
    return out;
  }

  // Every layout is read through `data` (a view in ours), the relation
  // OSProfiler's own SQL driver reads, so the two can never disagree; in
  // layout 2 one range of spans at a time (trace_spans), in order.
  std::vector<stored_event> read_trace(const std::string& base_id) override {
    open();
    std::vector<stored_event> out;
    const auto add = [&](sqlite3_stmt* st) {
      out.push_back({column_text(st, 0), column_text(st, 1), column_text(st, 2), column_text(st, 3),
                     column_text(st, 4), nullable_text(st, 5), nullable_text(st, 6),
                     nullable_text(st, 7), decode_data_column(column_text(st, 8))});
    };
    const char* const events =
        "SELECT name, base_id, trace_id, parent_id, \"timestamp\", project, service, host, data "
        "FROM data WHERE base_id = ?";
    if (layout_ < schema::rows_layout_version) {
      query((std::string(events) + " ORDER BY id").c_str(), base_id, add);
      return out;
    }
    std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
    query(
        "SELECT r.first_span, r.last_span FROM traces t JOIN trace_spans r ON r.trace = t.id "
        "WHERE t.base_id = ? ORDER BY 1",
        base_id, [&](sqlite3_stmt* st) {
          const std::int64_t first = sqlite3_column_int64(st, 0),
                             last = sqlite3_column_int64(st, 1);
          // The ranges of two writers' rows for one trace may overlap (a
          // migrated file's do): merged, so no event is read twice.
          if (!ranges.empty() && first <= ranges.back().second)
            ranges.back().second = std::max(ranges.back().second, last);
          else
            ranges.emplace_back(first, last);
        });
    const bool blocks = layout_ > schema::rows_layout_version;
    const std::string in_range = std::string(events) + " AND span BETWEEN ? AND ?" +
                                 (blocks ? " AND block BETWEEN ? AND ?" : "") + " ORDER BY id";
    for (const auto& [first, last] : ranges) {
      if (blocks)
        query(in_range.c_str(), base_id, add,
              {first, last, first - schema::max_block_spans + 1, last});
      else
        query(in_range.c_str(), base_id, add, {first, last});
    }
    return out;
  }

  // dbtrace's layouts: one pass over the spans (reading every trace through
  // `data` would scan the unindexed base_id once per trace).
  std::optional<std::vector<trace_overview>> overviews() override {
    open();
    if (!ours()) return std::nullopt;
    struct trace_row {
      trace_overview o;
      std::vector<std::int64_t> sources;
    };
    std::unordered_map<std::int64_t, trace_row> by_trace;  // by traces.id
    for_each_span([&](const block_span& s) {
      auto& [o, sources] = by_trace[s.trace];
      // Times in µs, truncated as the events' timestamps are.
      const std::int64_t started = s.start_ns / 1000,
                         finished = (s.start_ns + s.duration_ns) / 1000;
      if (!o.spans || started < o.started_us) o.started_us = started;
      if (!o.spans || finished > o.finished_us) o.finished_us = finished;
      ++o.spans;
      o.sql += s.statement.has_value();
      o.errors += s.error.has_value();
      if (std::find(sources.begin(), sources.end(), s.source) == sources.end())
        sources.push_back(s.source);
    });
    const auto where = sources();
    std::map<std::string, trace_overview> by_base_id;  // a trace's rows of every writer, merged
    query("SELECT id, base_id FROM traces", {}, [&](sqlite3_stmt* st) {
      const auto it = by_trace.find(sqlite3_column_int64(st, 0));
      if (it == by_trace.end()) return;
      auto& [row, row_sources] = it->second;
      const std::string base_id = column_text(st, 1);
      const auto [at, fresh] = by_base_id.try_emplace(base_id, row);
      trace_overview& o = at->second;
      if (!fresh) {
        o.started_us = std::min(o.started_us, row.started_us);
        o.finished_us = std::max(o.finished_us, row.finished_us);
        o.spans += row.spans;
        o.sql += row.sql;
        o.errors += row.errors;
      }
      o.base_id = base_id;
      for (const std::int64_t source : row_sources) {  // the least of each, as SQL's min()
        const auto src = where.find(source);
        if (src == where.end()) continue;
        if (o.project.empty() || src->second.project < o.project) o.project = src->second.project;
        if (o.service.empty() || src->second.service < o.service) o.service = src->second.service;
      }
    });
    std::vector<trace_overview> out;
    for (auto& [base_id, o] : by_base_id) out.push_back(std::move(o));
    return out;
  }

  // dbtrace's layouts: one pass over the spans, grouped by statement (or
  // name), then sorted per group (SQLite has no percentile function, and
  // decoding blocks in SQL costs a JSON parse per field).
  std::optional<std::vector<statement_stats>> stats(const stats_query& q) override {
    open();
    if (!ours()) return std::nullopt;  // OSProfiler's: scan the events
    std::unordered_set<std::int64_t> traces;
    if (!q.base_id.empty()) {
      query("SELECT id FROM traces WHERE base_id = ?", q.base_id,
            [&](sqlite3_stmt* st) { traces.insert(sqlite3_column_int64(st, 0)); });
      if (traces.empty()) return std::vector<statement_stats>{};
    }
    std::unordered_set<std::int64_t> allowed_sources;
    for (const auto& [id, src] : sources())
      if ((q.project.empty() || src.project == q.project) &&
          (q.other_than_project.empty() || src.project != q.other_than_project) &&
          (q.service.empty() || src.service == q.service))
        allowed_sources.insert(id);
    struct group {
      std::vector<std::int64_t> durations;
      std::int64_t errors = 0, rows = 0;
      void add(const block_span& s) {
        // In µs as the events' timestamps give them, so that every store agrees.
        durations.push_back((s.start_ns + s.duration_ns) / 1000 - s.start_ns / 1000);
        errors += s.error.has_value();
        rows += s.rows.value_or(0);
      }
    };
    const bool by_name = q.by == stats_grouping::name;
    std::unordered_map<std::int64_t, group> by_statement;
    std::unordered_map<std::string, group> groups;  // by key
    for_each_span([&](const block_span& s) {
      if (!allowed_sources.count(s.source)) return;
      if (!traces.empty() && !traces.count(s.trace)) return;
      if (q.since_us && s.start_ns < *q.since_us * 1000) return;
      if (q.until_us && s.start_ns >= *q.until_us * 1000) return;
      if (by_name)
        groups[s.name.empty() ? std::string("db") : std::string(s.name)].add(s);
      else if (s.statement)
        by_statement[*s.statement].add(s);
    });
    if (!by_name) {  // statement ids to their keys; statements of one summary merged
      static const char* const columns[] = {"text", "summary", "operation", "collection"};
      const std::string sql =
          std::string("SELECT id, ") + columns[static_cast<int>(q.by)] + " FROM statements";
      query(sql.c_str(), {}, [&](sqlite3_stmt* st) {
        const auto it = by_statement.find(sqlite3_column_int64(st, 0));
        if (it == by_statement.end()) return;
        auto& g = groups[column_text(st, 1)];
        g.durations.insert(g.durations.end(), it->second.durations.begin(),
                           it->second.durations.end());
        g.errors += it->second.errors;
        g.rows += it->second.rows;
      });
    }
    std::vector<statement_stats> out;
    for (auto& [key, g] : groups) {
      std::sort(g.durations.begin(), g.durations.end());
      out.push_back(summarize(key, g.durations, g.errors, g.rows));
    }
    return out;
  }

 private:
  // Calls f(span) for every span in id order: decoded from the blocks, or
  // from the rows of layouts 1 and 2 (fields the summaries do not need unset).
  template <class F>
  void for_each_span(F&& f) {
    if (layout_ > schema::rows_layout_version) {
      query("SELECT id, start_ns, spans FROM span_blocks ORDER BY id", {}, [&](sqlite3_stmt* st) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 2));
        try {
          block_reader blocks(
              {text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(st, 2))},
              sqlite3_column_int64(st, 1));
          block_span s;
          while (blocks.next(s)) f(s);
        } catch (const sqlite_blocks::damaged_block& e) {
          throw store_error(path_ + ": span_blocks row " +
                            std::to_string(sqlite3_column_int64(st, 0)) + ": " + e.what());
        }
      });
      return;
    }
    query(
        "SELECT trace, source, start_ns, duration_ns, statement, error, rows, name FROM spans "
        "ORDER BY id",
        {}, [&](sqlite3_stmt* st) {
          block_span s;
          s.trace = sqlite3_column_int64(st, 0);
          s.source = sqlite3_column_int64(st, 1);
          s.start_ns = sqlite3_column_int64(st, 2);
          s.duration_ns = sqlite3_column_int64(st, 3);
          for (const auto& [column, field] :
               {std::pair{4, &s.statement}, {5, &s.error}, {6, &s.rows}})
            if (sqlite3_column_type(st, column) != SQLITE_NULL)
              *field = sqlite3_column_int64(st, column);
          const std::string name = column_text(st, 7);
          if (!s.statement) s.name = name;
          f(s);
        });
  }

  struct source_names {
    std::string project, service;
  };
  std::unordered_map<std::int64_t, source_names> sources() {
    std::unordered_map<std::int64_t, source_names> out;
    query("SELECT id, project, service FROM sources", {}, [&](sqlite3_stmt* st) {
      out[sqlite3_column_int64(st, 0)] = {column_text(st, 1), column_text(st, 2)};
    });
    return out;
  }

  void open() {
    if (db_) return;
    if (access(path_.c_str(), F_OK) != 0) throw store_error(path_ + ": no such trace store");
    if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      const std::string msg = db_ ? sqlite3_errmsg(db_) : "cannot open";
      sqlite3_close(db_);
      db_ = nullptr;
      throw store_error(path_ + ": " + msg);
    }
    sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
    layout_ = user_version(db_);
    if (layout_ == 0 && has_table(db_, "data")) return;  // OSProfiler's layout
    if (ours()) return;
    const std::string damage = damage_found();
    const std::string msg =
        layout_ > schema::layout_version
            ? path_ + ": written by a newer dbtrace (layout " + std::to_string(layout_) +
                  "); this one reads layouts up to " + std::to_string(schema::layout_version)
        : !damage.empty() ? path_ + ": a damaged or truncated SQLite file (" + damage +
                                "); restore it from a copy, or point connection_string at a new "
                                "file"
                          : path_ + ": not a dbtrace or OSProfiler trace store";
    sqlite3_close(db_);
    db_ = nullptr;
    throw store_error(msg);
  }

  // What SQLite finds wrong with a file that starts as a SQLite file (its
  // header, then PRAGMA quick_check); empty when it is sound or not SQLite.
  std::string damage_found() {
    char header[16] = {};
    std::FILE* f = std::fopen(path_.c_str(), "rb");
    const std::size_t got = f ? std::fread(header, 1, sizeof header, f) : 0;
    if (f) std::fclose(f);
    static const char magic[] = "SQLite format 3";  // and its NUL: 16 bytes
    if (got == 0 || std::memcmp(header, magic, std::min(got, sizeof magic)) != 0) return {};
    if (got < sizeof magic) return "the file ends inside its header";
    std::string problem;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "PRAGMA quick_check(1)", -1, &st, nullptr) != SQLITE_OK) {
      problem = sqlite3_errmsg(db_);
    } else if (const int rc = sqlite3_step(st); rc != SQLITE_ROW) {
      problem = sqlite3_errmsg(db_);
    } else if (const std::string result = column_text(st, 0); result != "ok") {
      problem = result;
    }
    sqlite3_finalize(st);
    return problem;
  }

  // Runs `sql` with `arg` (unless empty) and then `numbers` bound, `row` called per row.
  template <class F>
  void query(const char* sql, const std::string& arg, F&& row,
             std::initializer_list<std::int64_t> numbers = {}) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr) != SQLITE_OK)
      throw store_error(path_ + ": " + sqlite3_errmsg(db_) + " (not a dbtrace/OSProfiler store?)");
    // Finalized however the rows end (`row` may throw): an unfinalized
    // statement keeps sqlite3_close from closing the file.
    const std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> st(raw, sqlite3_finalize);
    int bound = 0;
    if (!arg.empty())
      sqlite3_bind_text(raw, ++bound, arg.data(), static_cast<int>(arg.size()), SQLITE_STATIC);
    for (const std::int64_t n : numbers) sqlite3_bind_int64(raw, ++bound, n);
    int rc;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) row(raw);
    if (rc != SQLITE_DONE) throw store_error(path_ + ": " + sqlite3_errmsg(db_));
  }

  // A layout of dbtrace's own (the same queries read every one of them).
  bool ours() const {
    return layout_ >= schema::first_layout_version && layout_ <= schema::layout_version;
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  int layout_ = 0;
};

}  // namespace

store_kind sqlite_store() {
  return {{"sqlite://"},
          [](const store_params& p) { return std::make_unique<sqlite_writer>(p); },
          [](const std::string& cs) { return std::make_unique<sqlite_reader>(path_of(cs)); }};
}

}  // namespace dbtrace::drivers
