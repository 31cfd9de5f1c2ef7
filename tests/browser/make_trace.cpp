// SPDX-License-Identifier: Apache-2.0
// Records one known trace into a JSON-lines store with the public API, as an
// application would, and prints what a viewer of it must show:
//   make_trace STORE.jsonl            the trace the browser test checks
//   make_trace STORE.jsonl --spans N  a trace of N spans (the viewer benchmark)
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/sql.hpp"

namespace {

nlohmann::json names = nlohmann::json::array();  // span names in display order

void statement(dbtrace::target_ref target, const std::string& sql, int param, int rows,
               std::chrono::microseconds work = std::chrono::microseconds(0)) {
  dbtrace::sql_span s(target, dbtrace::intern_statement(sql));
  if (s.wants_params()) s.param(param);
  std::this_thread::sleep_for(work);
  s.rows(rows);
  names.push_back("db");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 4 && std::string(argv[2]) == "--spans")) {
    std::cerr << "usage: make_trace STORE.jsonl [--spans N]\n";
    return 2;
  }
  dbtrace::options o;
  o.enabled = true;
  o.record_params = true;
  o.connection_string = "file://" + std::filesystem::absolute(argv[1]).string();
  o.project = "shop";
  o.service = "orders-api";
  dbtrace::init(o);
  const auto target = dbtrace::intern_target({"postgresql", "shop", "db.internal", 5432});
  const auto ms = [](int n) { return std::chrono::microseconds(n * 1000); };
  nlohmann::json expected;
  {
    dbtrace::trace t;
    expected["base_id"] = t.base_id();
    dbtrace::span request{"wsgi", {{"request", {{"method", "GET"}, {"path", "/orders/7"}}}}};
    names.push_back("wsgi");
    if (argc == 4) {
      // Blocks of one rpc span around nine statements.
      const long total = std::strtol(argv[3], nullptr, 10);
      for (long made = 1; made + 10 <= total; made += 10) {
        dbtrace::span rpc{"rpc", {{"function", "load_page"}, {"page", made / 10}}};
        names.push_back("rpc");
        for (int i = 0; i < 9; ++i)
          statement(target,
                    "SELECT id, total FROM orders WHERE page = $1 AND slot = " + std::to_string(i),
                    static_cast<int>(made), 1);
      }
    } else {
      statement(target, "SELECT id, name FROM users WHERE id = $1", 7, 1, ms(1));
      {
        dbtrace::span rpc{"rpc", {{"function", "load_orders"}}};
        names.push_back("rpc");
        for (int i = 0; i < 5; ++i)
          statement(target, "SELECT * FROM orders WHERE user_id = $1", 7, 3, ms(i + 1));
        {
          dbtrace::sql_span s(
              target, dbtrace::intern_statement("SELECT * FROM order_audit WHERE order_id = $1"));
          s.param(7);
          std::this_thread::sleep_for(ms(2));
          s.error("pqxx::undefined_table", "ERROR:  relation \"order_audit\" does not exist",
                  "42P01", "system");
          names.push_back("db");
        }
      }
      const std::string hostile =
          "SELECT '</script><img src=x onerror=\"window.__pwned=1\">' AS note";
      statement(target, hostile, 7, 1);
      for (int i = 0; i < 3; ++i) {
        dbtrace::span cache{"cache", {{"key", "order:" + std::to_string(i)}}};
        names.push_back("cache");
        statement(target, "SELECT payload FROM cache WHERE key = $1", i, 1, ms(1));
      }
      statement(target, "UPDATE orders SET seen = true WHERE user_id = $1", 7, 5, ms(3));
      expected["failed_statement"] = "SELECT * FROM order_audit WHERE order_id = $1";
      expected["message"] = "ERROR:  relation \"order_audit\" does not exist";
      expected["sqlstate"] = "42P01";
      expected["hostile_statement"] = hostile;
      expected["orders_statement_count"] = 5;
    }
  }
  if (!dbtrace::flush()) {
    std::cerr << "make_trace: the store did not take every span\n";
    return 1;
  }
  dbtrace::shutdown();
  expected["names"] = names;
  std::cout << expected.dump() << "\n";
  return 0;
}
