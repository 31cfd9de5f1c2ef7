// SPDX-License-Identifier: Apache-2.0
// `dbtrace bench` on a fresh machine's in-memory SQLite and on the test
// PostgreSQL: it runs, and what it prints adds up.
#include <algorithm>

#include "test_support.hpp"

namespace dbtrace {
namespace {

const std::string cli = DBTRACE_CLI;

nlohmann::json bench(const std::string& args) {
  const auto r = testing::run(cli + " bench --json --seconds 2 " + args + " 2>&1");
  EXPECT_EQ(r.status, 0) << r.out;
  return nlohmann::json::parse(r.out);
}

void expect_consistent(const nlohmann::json& j) {
  const auto& raw = j["raw"];
  const auto& traced = j["traced"];
  EXPECT_GT(raw["executions"].get<std::int64_t>(), 0);
  EXPECT_EQ(raw["executions"], traced["executions"]);  // interleaved rounds of one size
  // Every traced execution is one SQL span, two events, each stored, none dropped.
  EXPECT_EQ(j["events"]["recorded"], 2 * traced["executions"].get<std::int64_t>());
  EXPECT_EQ(j["events"]["stored"], j["events"]["recorded"]);
  EXPECT_EQ(j["events"]["dropped"], 0);
  // Tracing adds work off the application thread: the exporter's.
  const auto off_thread = [](const nlohmann::json& side) {
    return side["cpu_ns_per_statement"]["process"].get<double>() -
           side["cpu_ns_per_statement"]["application_thread"].get<double>();
  };
  EXPECT_GT(off_thread(traced), off_thread(raw)) << j.dump();
  EXPECT_DOUBLE_EQ(j["added_ns_per_statement"]["total_cpu"].get<double>(),
                   traced["cpu_ns_per_statement"]["process"].get<double>() -
                       raw["cpu_ns_per_statement"]["process"].get<double>());
  // A figure below zero is noise (tracing saves nothing), and is said to be.
  std::vector<std::string> negative;
  for (const auto& [figure, value] : j["added_ns_per_statement"].items())
    if (value.get<double>() < 0) negative.push_back(figure);
  auto said = j["within_noise"].get<std::vector<std::string>>();
  std::sort(said.begin(), said.end());  // (in the table's order; items() gives key order)
  EXPECT_EQ(said, negative) << j.dump();
  for (const auto* side : {&raw, &traced}) {
    const auto& l = (*side)["latency_ns"];
    EXPECT_GT(l["p50"].get<std::int64_t>(), 0);
    EXPECT_LE(l["p50"], l["p95"]);
    EXPECT_LE(l["p95"], l["p99"]);
    // The application thread is part of the process.
    EXPECT_LE((*side)["cpu_ns_per_statement"]["application_thread"].get<double>(),
              (*side)["cpu_ns_per_statement"]["process"].get<double>() * 1.001);
  }
}

TEST(bench_command, runs_on_a_fresh_machines_in_memory_sqlite) {
  const auto j = bench("");
  EXPECT_EQ(j["api"], "soci");
  EXPECT_EQ(j["statement"], "SELECT name, total FROM bench_items WHERE id = :id");
  expect_consistent(j);
  // In-process SQLite has no server to share the cores with: the traced side
  // costs more CPU in total. (Against a server on the same two cores, where
  // the kernel places it can swing the raw side's CPU by more than tracing
  // costs, so only the exporter's share is compared there.)
  EXPECT_GT(j["traced"]["cpu_ns_per_statement"]["process"].get<double>(),
            j["raw"]["cpu_ns_per_statement"]["process"].get<double>())
      << j.dump();
}

TEST(bench_command, runs_a_users_statement_through_soci_and_libpqxx_on_postgresql) {
  DBTRACE_REQUIRE_PG();
  const auto soci = bench("--api soci --db 'postgresql://" + testing::pg_app() +
                          "' --statement 'SELECT 1 + :n' --param 41");
  expect_consistent(soci);
  EXPECT_EQ(soci["database"].get<std::string>().find("app-secret"), std::string::npos);
  const auto pqxx = bench("--api pqxx --db '" + testing::pg_app() +
                          "' --statement 'SELECT $1::int + 1' --param 41 --store memory://bench");
  expect_consistent(pqxx);
  EXPECT_EQ(pqxx["database"].get<std::string>().find("app-secret"), std::string::npos);
}

TEST(bench_command, the_table_names_what_it_measured) {
  const auto r = testing::run(cli + " bench --seconds 0.5");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* line : {"latency p50", "latency p99", "CPU per statement, application thread",
                           "CPU per statement, whole process (exporter included)", "dropped 0"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  // The ADDED column (the last): a negative figure says it is within noise.
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    const auto minus = line.find("  -");
    if (minus == std::string::npos || line.find("µs", minus) == std::string::npos) continue;
    EXPECT_NE(line.find("(within noise)", minus), std::string::npos) << line;
  }
}

// Spans `dbtrace bench --store` writes into a real store are kept apart: they
// are under a project of their own, which `dbtrace stats` leaves out unless
// it is asked for by name.
TEST(bench_command, its_spans_in_a_shared_store_stay_out_of_stats_unless_asked) {
  const auto path = (testing::temp_dir() / "bench_shared.db").string();
  std::filesystem::remove(path);
  const std::string store = "sqlite:///" + path;
  auto r = testing::run(cli + " bench --seconds 0.3 --store " + store + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  r = testing::run(cli + " stats --json --connection-string " + store);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::array()) << r.out;
  r = testing::run(cli + " stats --json --project dbtrace-bench --connection-string " + store);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto groups = nlohmann::json::parse(r.out);
  ASSERT_EQ(groups.size(), 1u) << r.out;
  EXPECT_NE(groups[0]["statement"].get<std::string>().find("FROM bench_items"), std::string::npos)
      << r.out;
  // The same from a store dbtrace reads event by event (JSON lines).
  const auto jsonl = (testing::temp_dir() / "bench_shared.jsonl").string();
  std::filesystem::remove(jsonl);
  r = testing::run(cli + " bench --seconds 0.3 --store file://" + jsonl + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  r = testing::run(cli + " stats --json --connection-string file://" + jsonl);
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::array()) << r.out;
}

TEST(bench_command, impossible_requests_are_usage_errors) {
  auto r = testing::run(cli + " bench --api pqxx 2>&1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--api pqxx needs --db"), std::string::npos) << r.out;
  r = testing::run(cli + " bench --statement 'SELECT 1' 2>&1");
  EXPECT_EQ(r.status, 2);
  r = testing::run(cli +
                   " bench --db 'sqlite3://db=:memory:' --statement 'SELECT * FROM nowhere' 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("nowhere"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace dbtrace
