// SPDX-License-Identifier: Apache-2.0
// A small SOCI data layer, traced: each "request" is a trace whose statements
// become db spans in the store the config names.
// Usage: soci_requests app.conf   (prints the base_id of every trace)
#include <soci/sqlite3/soci-sqlite3.h>

#include <iostream>
#include <string>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/soci.hpp"

namespace {

struct user {
  int id;
  std::string name;
};

// The application's data layer: plain SOCI, on a dbtrace::soci::session.
class users {
 public:
  explicit users(soci::session& sql) : sql_(sql) {
    sql_ << "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)";
    sql_ << "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, user_id INTEGER, total "
            "REAL)";
  }
  void add(const user& u) {
    sql_ << "INSERT OR REPLACE INTO users (id, name) VALUES (:id, :name)", soci::use(u.id),
        soci::use(u.name);
  }
  std::string name_of(int id) {
    std::string name;
    sql_ << "SELECT name FROM users WHERE id = :id", soci::into(name), soci::use(id);
    return name;
  }
  double spent_by(int id) {
    double total = 0;
    soci::indicator ind;
    sql_ << "SELECT SUM(total) FROM orders WHERE user_id = :id", soci::into(total, ind),
        soci::use(id);
    return ind == soci::i_ok ? total : 0;
  }
  void order(int user_id, double total) {
    soci::transaction tr(sql_);
    sql_ << "INSERT INTO orders (user_id, total) VALUES (:u, :t)", soci::use(user_id),
        soci::use(total);
    tr.commit();
  }

 private:
  soci::session& sql_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: soci_requests app.conf\n";
    return 2;
  }
  dbtrace::init_from_file(argv[1]);
  dbtrace::soci::session sql(soci::sqlite3, ":memory:");
  users db(sql);

  for (int id = 1; id <= 3; ++id) {
    // What a request handler does: continue the caller's trace (here: none, so a new one).
    dbtrace::trace request{dbtrace::headers{}};
    dbtrace::span handler{
        "wsgi", {{"request", {{"method", "POST"}, {"path", "/users/" + std::to_string(id)}}}}};
    db.add({id, "user" + std::to_string(id)});
    db.order(id, 9.5 * id);
    {
      dbtrace::span report{"rpc", {{"function", "monthly_report"}}};
      try {
        sql << "SELECT * FROM reports WHERE user_id = :id", soci::use(id);  // no such table
      } catch (const soci::soci_error& e) {
        report.set_error(e);  // the application handles it; the trace shows it
      }
    }
    std::cerr << db.name_of(id) << " spent " << db.spent_by(id) << "\n";
    std::cout << request.base_id() << "\n";
  }

  dbtrace::flush();
  const auto s = dbtrace::stats();
  std::cerr << "recorded " << s.recorded << " events, exported " << s.exported << ", dropped "
            << s.dropped << "\n";
  dbtrace::shutdown();
  return s.exported == s.recorded ? 0 : 1;
}
