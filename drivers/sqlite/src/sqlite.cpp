// sqlite:// — OSProfiler's `data` table in an SQLite file, written in batches.
#include "dbtrace/drivers/sqlite.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <map>
#include <set>

#include "data_table.hpp"
#include "dbtrace/error.hpp"
#include "statement_text.hpp"

namespace dbtrace::drivers {
namespace {

const std::string schema_sql = detail::data_table_ddl("id INTEGER NOT NULL PRIMARY KEY");

const char* const insert_sql =
    "INSERT INTO data (\"timestamp\", base_id, parent_id, trace_id, project, host, service, name, "
    "data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

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

// OSProfiler stores the payload JSON as a JSON string (double-encoded); accept both.
nlohmann::ordered_json decode_payload(const std::string& text) {
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_string()) j = nlohmann::ordered_json::parse(j.get<std::string>(), nullptr, false);
  return j.is_discarded() ? nlohmann::ordered_json::object() : j;
}

class sqlite_driver final : public driver {
 public:
  sqlite_driver(std::string path, std::string host)
      : path_(std::move(path)), host_(std::move(host)) {}
  ~sqlite_driver() override { close(); }

  write_result write(const std::vector<event>& batch, std::string& error) noexcept override {
    try {
      if (!db_ && !open_for_writing(error)) return write_result::retry;
      int rc = sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr);
      if (rc != SQLITE_OK) return fail(rc, error);
      for (const auto& e : batch) {
        payload_.clear();
        detail::append_json_string(payload_, event_payload_json(e));
        sqlite3_reset(insert_);
        const std::string* columns[] = {&e.timestamp, &e.base_id, &e.parent_id,
                                        &e.trace_id,  &e.project, &host_,
                                        &e.service,   &e.name,    &payload_};
        for (int i = 0; i < 9; ++i)
          sqlite3_bind_text(insert_, i + 1, columns[i]->data(),
                            static_cast<int>(columns[i]->size()), SQLITE_STATIC);
        rc = sqlite3_step(insert_);
        if (rc != SQLITE_DONE) {
          sqlite3_reset(insert_);
          sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
          return fail(rc, error);
        }
      }
      rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
      if (rc != SQLITE_OK) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return fail(rc, error);
      }
      return write_result::ok;
    } catch (const std::exception& e) {
      error = e.what();
      return write_result::retry;
    }
  }

  std::vector<trace_summary> list_traces(bool errors_only) override {
    sqlite3* db = open_for_reading();
    std::set<std::string> failed;
    if (errors_only) {
      query(db, "SELECT base_id, data FROM data WHERE name LIKE '%-stop' AND data LIKE '%etype%'",
            {}, [&](sqlite3_stmt* st) {
              const auto payload = decode_payload(column_text(st, 1));
              if (payload.contains("info") && payload["info"].is_object() &&
                  payload["info"].contains("etype"))
                failed.insert(column_text(st, 0));
            });
    }
    std::vector<trace_summary> out;
    query(db, "SELECT base_id, MIN(\"timestamp\") FROM data GROUP BY base_id ORDER BY 2, 1", {},
          [&](sqlite3_stmt* st) {
            auto id = column_text(st, 0);
            if (!errors_only || failed.count(id))
              out.push_back({std::move(id), column_text(st, 1)});
          });
    sqlite3_close(db);
    return out;
  }

  std::vector<stored_event> read_trace(const std::string& base_id) override {
    sqlite3* db = open_for_reading();
    std::vector<stored_event> out;
    query(db,
          "SELECT name, base_id, trace_id, parent_id, \"timestamp\", project, service, host, data "
          "FROM data WHERE base_id = ? ORDER BY id",
          base_id, [&](sqlite3_stmt* st) {
            out.push_back({column_text(st, 0), column_text(st, 1), column_text(st, 2),
                           column_text(st, 3), column_text(st, 4), nullable_text(st, 5),
                           nullable_text(st, 6), nullable_text(st, 7),
                           decode_payload(column_text(st, 8))});
          });
    sqlite3_close(db);
    return out;
  }

 private:
  bool open_for_writing(std::string& error) {
    int rc =
        sqlite3_open_v2(path_.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc == SQLITE_OK) {
      sqlite3_busy_timeout(db_, 2000);
      // WAL lets the CLI read while the application writes; NORMAL sync is
      // durable across application crashes, which is what a trace store needs.
      // A 64 MiB cache and 16 MiB of WAL between checkpoints keep the eight
      // OSProfiler indexes (three on random UUIDs) from rewriting pages per batch.
      rc = sqlite3_exec(db_,
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA "
                        "cache_size=-65536; PRAGMA wal_autocheckpoint=4000;",
                        nullptr, nullptr, nullptr);
    }
    if (rc == SQLITE_OK) rc = sqlite3_exec(db_, schema_sql.c_str(), nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db_, insert_sql, -1, &insert_, nullptr);
    if (rc != SQLITE_OK) {
      error = path_ + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
      close();
      return false;
    }
    return true;
  }

  write_result fail(int rc, std::string& error) {
    error = path_ + ": " + sqlite3_errmsg(db_);
    if (!transient(rc)) return write_result::rejected;
    close();  // reopen on the next try: the file may have been replaced or the disk freed
    return write_result::retry;
  }

  void close() {
    if (insert_) sqlite3_finalize(insert_);
    if (db_) sqlite3_close(db_);
    insert_ = nullptr;
    db_ = nullptr;
  }

  sqlite3* open_for_reading() {
    if (access(path_.c_str(), F_OK) != 0) throw store_error(path_ + ": no such trace store");
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      const std::string msg = db ? sqlite3_errmsg(db) : "cannot open";
      sqlite3_close(db);
      throw store_error(path_ + ": " + msg);
    }
    sqlite3_busy_timeout(db, 2000);
    return db;
  }

  template <class F>
  void query(sqlite3* db, const char* sql, const std::string& arg, F&& row) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
      const std::string msg = path_ + ": " + sqlite3_errmsg(db);
      sqlite3_close(db);
      throw store_error(msg + " (not a dbtrace/OSProfiler store?)");
    }
    if (!arg.empty())
      sqlite3_bind_text(st, 1, arg.data(), static_cast<int>(arg.size()), SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
      const std::string msg = path_ + ": " + sqlite3_errmsg(db);
      sqlite3_close(db);
      throw store_error(msg);
    }
  }

  std::string path_, host_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::string payload_;
};

}  // namespace

std::unique_ptr<driver> make_sqlite_driver(const std::string& path, const std::string& host) {
  return std::make_unique<sqlite_driver>(path, host);
}

}  // namespace dbtrace::drivers
