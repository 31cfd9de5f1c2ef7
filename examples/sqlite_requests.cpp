// A tiny data layer on the SQLite C API that records its statements with
// dbtrace's statement API: a few "requests", each its own trace.
// Usage: sqlite_requests [config-file]   (prints the base_id of every trace)
#include <sqlite3.h>

#include <iostream>
#include <stdexcept>
#include <string>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/sql.hpp"

namespace {

struct sqlite_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs one statement and records it as a db span: text, rows, error.
class data_layer {
 public:
  explicit data_layer(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw sqlite_error(sqlite3_errmsg(db_));
    target_ = dbtrace::intern_target({"sqlite", path, "", 0});
  }
  ~data_layer() { sqlite3_close(db_); }

  int exec(const std::string& sql, int bind = -1) {
    dbtrace::sql_span span(target_, dbtrace::intern_statement(sql));
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      span.error("sqlite_error", sqlite3_errmsg(db_));
      throw sqlite_error(sqlite3_errmsg(db_));
    }
    if (bind >= 0) {
      sqlite3_bind_int(st, 1, bind);
      if (span.wants_params()) span.param(bind);
    }
    int rows = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) ++rows;
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
      span.error("sqlite_error", sqlite3_errmsg(db_));
      throw sqlite_error(sqlite3_errmsg(db_));
    }
    span.rows(rows ? rows : sqlite3_changes(db_));
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
  dbtrace::target_ref target_;
};

}  // namespace

int main(int argc, char** argv) {
  dbtrace::options o = argc > 1 ? dbtrace::load_options(argv[1]) : dbtrace::options{};
  if (argc <= 1) o.enabled = true;
  dbtrace::init(o);

  data_layer db(":memory:");
  db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)");
  db.exec("INSERT INTO users (name) VALUES ('ada'), ('grace'), ('edsger')");

  for (int user = 1; user <= 3; ++user) {
    dbtrace::trace request;  // one trace per request
    dbtrace::span handler{
        "wsgi", {{"request", {{"path", "/users/" + std::to_string(user)}, {"method", "GET"}}}}};
    db.exec("SELECT id, name FROM users WHERE id = ?", user);
    {
      dbtrace::span rpc{"rpc", {{"function", "load_orders"}}};
      try {
        db.exec("SELECT * FROM orders WHERE user_id = ?",
                user);  // no such table: recorded as an error
      } catch (const sqlite_error& e) {
        rpc.set_error(e);
      }
    }
    db.exec("UPDATE users SET name = name WHERE id = ?", user);
    std::cout << request.base_id() << "\n";
  }

  dbtrace::flush();
  const auto s = dbtrace::stats();
  std::cerr << "recorded " << s.recorded << " events, exported " << s.exported << ", dropped "
            << s.dropped << "\n";
  dbtrace::shutdown();
  return s.exported == s.recorded ? 0 : 1;
}
