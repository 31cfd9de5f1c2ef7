// SPDX-License-Identifier: Apache-2.0
// `dbtrace stats` on stores holding the same known spans: the embedded store
// (in SQL), JSON lines, PostgreSQL and Redis (scanned through their readers). The
// reference figures are computed here from the JSON-lines events.
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/sql.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

const std::string cli = DBTRACE_CLI;

// Every batch to several stores, as if each were the only one. A store that
// asks for a retry is retried here: handing the retry to the exporter would
// send the batch again to the stores that took it already.
class tee_writer final : public writer {
 public:
  explicit tee_writer(std::vector<std::unique_ptr<writer>> to) : to_(std::move(to)) {}
  write_result write(const std::vector<span_view>& batch, std::string& error) noexcept override {
    for (auto& w : to_) {
      auto r = w->write(batch, error);
      for (int attempt = 0; (r == write_result::retry || r == write_result::unreachable) && attempt < 50; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        r = w->write(batch, error);
      }
      if (r != write_result::ok) return write_result::rejected;
    }
    return write_result::ok;
  }
  bool flush(std::string& error) noexcept override {
    bool ok = true;
    for (auto& w : to_) ok = w->flush(error) && ok;
    return ok;
  }
  void shutdown(std::chrono::milliseconds deadline) noexcept override {
    for (auto& w : to_) w->shutdown(deadline);
  }

 private:
  std::vector<std::unique_ptr<writer>> to_;
};

void busy_for(std::chrono::microseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
  }
}

struct recorded_stores {
  std::string project, sqlite, jsonl, postgres,
      redis;                          // connection strings; the servers' may be empty
  std::vector<std::string> base_ids;  // round 1 (service orders), then round 2 (billing)
  std::string between;                // a UTC time between the two rounds
};

// Two rounds of requests, as two services of one project would record them.
const recorded_stores& stores() {
  static const recorded_stores s = [] {
    recorded_stores r;
    r.project = "stats-test-" + std::to_string(getpid());
    const auto dir = testing::temp_dir();
    std::filesystem::remove(dir / "stats.db");
    std::filesystem::remove(dir / "stats.jsonl");
    r.sqlite = "sqlite:///" + (dir / "stats.db").string();
    r.jsonl = "file://" + (dir / "stats.jsonl").string();
    if (const char* pg = std::getenv("DBTRACE_TEST_PG_URI")) r.postgres = pg;
    if (const char* redis = std::getenv("DBTRACE_TEST_REDIS")) r.redis = redis;
    for (const std::string service : {"orders", "billing"}) {
      options o;
      o.enabled = true;
      o.project = r.project;
      o.service = service;
      o.connection_string = r.sqlite;
      std::vector<std::unique_ptr<writer>> writers;
      for (const auto& cs : {r.sqlite, r.jsonl, r.postgres, r.redis})
        if (!cs.empty())
          writers.push_back(make_writer({cs, "test-host", r.project, service, false}));
      init(o, std::make_unique<tee_writer>(std::move(writers)));
      const auto target = intern_target({"postgresql", "shop", "127.0.0.1", 5432});
      for (int request = 0; request < 6; ++request) {
        trace t;
        r.base_ids.push_back(t.base_id());
        span rpc{"rpc", {{"function", "load"}}};
        for (int i = 0; i < 7; ++i) {  // durations from 0 to ~60 µs
          sql_span q(target, intern_statement("SELECT name FROM users WHERE id = $1"));
          busy_for(std::chrono::microseconds((i * 7 + request * 3) % 60));
          q.rows(1);
        }
        for (int i = 0; i < 3; ++i) {
          sql_span q(target,
                     intern_statement("INSERT INTO orders (user_id, note) VALUES ($1, 'a,\"b\"')"));
          busy_for(std::chrono::microseconds(20 + i * request));
          q.rows(i == 2 ? 0 : 1);
        }
        if (request % 2 == 0) {
          sql_span q(target, intern_statement("UPDATE users SET seen = now() WHERE id = $1"));
          busy_for(std::chrono::microseconds(30));
          q.error("pqxx::serialization_failure", "could not serialize access", "40001", "system");
        }
      }
      flush();
      shutdown();
      if (service == std::string("orders")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        format_timestamp(std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count(),
                         r.between);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    return r;
  }();
  return s;
}

// The reference: spans paired from the JSON-lines events, figures by nearest rank.
struct reference_group {
  std::vector<std::int64_t> durations;
  std::int64_t errors = 0, rows = 0;
};

std::map<std::string, reference_group> reference(const std::string& only_service = "") {
  std::map<std::string, nlohmann::json> starts, stops;
  std::ifstream in(stores().jsonl.substr(7));
  for (std::string line; std::getline(in, line);) {
    const auto e = nlohmann::json::parse(line);
    if (!only_service.empty() && e["service"] != only_service) continue;
    const std::string name = e["name"];
    (name.size() > 5 && name.substr(name.size() - 5) == "-stop" ? stops : starts)[e["trace_id"]] =
        e;
  }
  std::map<std::string, reference_group> groups;
  for (const auto& [id, start] : starts) {
    if (!start["info"].contains("db")) continue;
    const auto& stop = stops.at(id);
    auto& g = groups[start["info"]["db"]["statement"]];
    g.durations.push_back(*parse_timestamp(stop["timestamp"]) -
                          *parse_timestamp(start["timestamp"]));
    g.errors += stop["info"].contains("etype");
    if (stop["info"].contains("db") && stop["info"]["db"].contains("db.response.returned_rows"))
      g.rows += stop["info"]["db"]["db.response.returned_rows"].get<std::int64_t>();
  }
  return groups;
}

std::int64_t percentile(std::vector<std::int64_t> d, double p) {
  std::sort(d.begin(), d.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(d.size())));
  return d[std::max<std::size_t>(rank, 1) - 1];
}

nlohmann::json stats(const std::string& store, const std::string& flags) {
  const auto r = testing::run(cli + " stats --json --project " + stores().project + " " + flags +
                              " --connection-string '" + store + "'");
  EXPECT_EQ(r.status, 0) << r.out;
  return nlohmann::json::parse(r.out);
}

std::vector<std::string> every_store() {
  std::vector<std::string> out{stores().sqlite, stores().jsonl};
  if (!stores().postgres.empty()) out.push_back(stores().postgres);
  if (!stores().redis.empty()) out.push_back(stores().redis);
  return out;
}

#define REQUIRE_SERVER_STORES()                                                                 \
  do {                                                                                          \
    if (stores().postgres.empty() || stores().redis.empty()) {                                  \
      if (testing::under_ci()) FAIL() << "no test PostgreSQL or Redis in CI";                   \
      GTEST_SKIP() << "DBTRACE_TEST_PG_URI or DBTRACE_TEST_REDIS not set: run scripts/test.sh"; \
    }                                                                                           \
  } while (0)

TEST(stats, per_statement_figures_equal_the_reference_on_every_store) {
  const auto expected = reference();
  ASSERT_EQ(expected.size(), 3u);
  for (const auto& store : every_store()) {
    const auto got = stats(store, "");
    ASSERT_EQ(got.size(), expected.size()) << store;
    for (const auto& g : got) {
      const auto& want = expected.at(g["statement"]);
      SCOPED_TRACE(store + ": " + g["statement"].get<std::string>());
      EXPECT_EQ(g["count"], want.durations.size());
      EXPECT_EQ(g["errors"], want.errors);
      EXPECT_EQ(g["rows"], want.rows);
      std::int64_t total = 0;
      for (auto d : want.durations) total += d;
      EXPECT_EQ(g["total_us"], total);
      EXPECT_DOUBLE_EQ(g["mean_us"].get<double>(),
                       static_cast<double>(total) / static_cast<double>(want.durations.size()));
      EXPECT_EQ(g["p50_us"], percentile(want.durations, 50));
      EXPECT_EQ(g["p95_us"], percentile(want.durations, 95));
      EXPECT_EQ(g["p99_us"], percentile(want.durations, 99));
      EXPECT_EQ(g["max_us"], *std::max_element(want.durations.begin(), want.durations.end()));
    }
    // Sorted by total time, largest first.
    for (std::size_t i = 1; i < got.size(); ++i)
      EXPECT_GE(got[i - 1]["total_us"], got[i]["total_us"]);
  }
}

TEST(stats, every_store_gives_the_same_figures_for_every_grouping) {
  REQUIRE_SERVER_STORES();
  for (const std::string by : {"text", "summary", "operation", "collection", "name"}) {
    const auto sqlite = stats(stores().sqlite, "--by " + by);
    EXPECT_EQ(sqlite, stats(stores().postgres, "--by " + by)) << by;
    EXPECT_EQ(sqlite, stats(stores().redis, "--by " + by)) << by;
    EXPECT_EQ(sqlite, stats(stores().jsonl, "--by " + by)) << by;
  }
}

TEST(stats, groupings_name_what_they_group) {
  const auto keys = [](const nlohmann::json& rows, const std::string& column) {
    std::set<std::string> out;
    for (const auto& r : rows) out.insert(r[column].get<std::string>());
    return out;
  };
  const auto& store = stores().sqlite;
  EXPECT_EQ(keys(stats(store, "--by summary"), "summary"),
            (std::set<std::string>{"SELECT users", "INSERT orders", "UPDATE users"}));
  EXPECT_EQ(keys(stats(store, "--by operation"), "operation"),
            (std::set<std::string>{"SELECT", "INSERT", "UPDATE"}));
  EXPECT_EQ(keys(stats(store, "--by collection"), "collection"),
            (std::set<std::string>{"users", "orders"}));
  const auto by_name = stats(store, "--by name");
  EXPECT_EQ(keys(by_name, "span"), (std::set<std::string>{"db", "rpc"}));
  for (const auto& r : by_name)
    EXPECT_EQ(r["count"],
              r["span"] == "rpc" ? 12 : 12 * 10 + 6);  // 12 requests, 11 or 10 statements
}

TEST(stats, filters_by_service_trace_and_time_on_every_store) {
  const auto billing = reference("billing");
  for (const auto& store : every_store()) {
    SCOPED_TRACE(store);
    auto count = [](const nlohmann::json& rows) {
      std::int64_t n = 0;
      for (const auto& r : rows) n += r["count"].get<std::int64_t>();
      return n;
    };
    EXPECT_EQ(count(stats(store, "--service billing")), 6 * 10 + 3);
    EXPECT_EQ(count(stats(store, "--service nobody")), 0);
    EXPECT_EQ(count(stats(store, "--since " + stores().between)), 6 * 10 + 3);
    EXPECT_EQ(count(stats(store, "--until " + stores().between)), 6 * 10 + 3);
    EXPECT_EQ(count(stats(store, "--trace " + stores().base_ids[0])),
              11);  // request 0 has the UPDATE
    EXPECT_EQ(count(stats(store, "--trace " + stores().base_ids[1])), 10);
    const auto only = stats(store, "--service billing --sort count --top 1");
    ASSERT_EQ(only.size(), 1u);
    EXPECT_EQ(only[0]["statement"], "SELECT name FROM users WHERE id = $1");
    EXPECT_EQ(only[0]["p99_us"],
              percentile(billing.at("SELECT name FROM users WHERE id = $1").durations, 99));
    const auto by_errors = stats(store, "--sort errors");
    EXPECT_EQ(by_errors[0]["statement"], "UPDATE users SET seen = now() WHERE id = $1");
  }
}

TEST(stats, csv_quotes_what_needs_quoting_and_has_a_header) {
  const auto r = testing::run(cli + " stats --csv --project " + stores().project +
                              " --connection-string " + stores().sqlite);
  ASSERT_EQ(r.status, 0);
  std::istringstream lines(r.out);
  std::string header;
  std::getline(lines, header);
  EXPECT_EQ(header, "statement,count,errors,rows,total_us,mean_us,p50_us,p95_us,p99_us,max_us");
  EXPECT_NE(
      r.out.find("\"INSERT INTO orders (user_id, note) VALUES ($1, 'a,\"\"b\"\"')\",36,0,24,"),
      std::string::npos)
      << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4);
}

TEST(stats, a_bad_time_or_grouping_is_a_usage_error) {
  auto r =
      testing::run(cli + " stats --since soon --connection-string " + stores().sqlite + " 2>&1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--since 'soon' is neither"), std::string::npos) << r.out;
  r = testing::run(cli + " stats --by table --connection-string " + stores().sqlite + " 2>&1");
  EXPECT_EQ(r.status, 2);
}

}  // namespace
}  // namespace dbtrace

namespace dbtrace {
namespace {

// The embedded store lists its traces in SQL; the figures are those the
// events of the same spans give (JSON lines, read event by event).
TEST(trace_list, the_embedded_store_lists_what_the_events_say) {
  const auto list = [](const std::string& store) {
    const auto r = testing::run(cli + " trace list --json --connection-string " + store);
    EXPECT_EQ(r.status, 0) << r.out;
    return nlohmann::json::parse(r.out);
  };
  const auto from_sql = list(stores().sqlite);
  ASSERT_EQ(from_sql.size(), 12u);
  EXPECT_EQ(from_sql, list(stores().jsonl));
  // The first trace recorded, listed last (newest first): the rpc span and
  // its 11 statements.
  EXPECT_EQ(from_sql.back()["spans"], 12);
  EXPECT_EQ(from_sql.back()["errors"], 1);
}

}  // namespace
}  // namespace dbtrace
