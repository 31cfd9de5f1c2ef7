// SPDX-License-Identifier: Apache-2.0
// The formatter behind the JSON lines, Redis, PostgreSQL and memory stores:
// OSProfiler's events, each written once, its columns the parts of its text.
#include <nlohmann/json.hpp>

#include "dbtrace/osprofiler_event.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

constexpr std::int64_t start_ns = 1795660451859209252;  // 2026-11-26T02:34:11.859209252

struct spans {
  statement_info statement{
      1, "SELECT 1", "\"SELECT 1\"", "SELECT", "", "SELECT", ", \"db.operation.name\": \"SELECT\""};
  span_error error{"pqxx::undefined_table", "no \"such\" table\n", "42P01", ""};
  nlohmann::json info = {{"path", "/caf\xc3\xa9"}};
  std::vector<span_view> batch;
  spans() {
    span_view sql;
    sql.base_id = {0x1111, 0x2222};
    sql.id = {0x1111, 0x3333};
    sql.parent_id = sql.base_id;
    sql.name = "db";
    sql.start_ns = start_ns;
    sql.end_ns = start_ns + 93154000;
    sql.statement = &statement;
    sql.rows = 1;
    span_view failed = sql;
    failed.id = {0x1111, 0x4444};
    failed.rows = -1;
    failed.error = &error;
    span_view started;
    started.phase = span_phase::started;
    started.base_id = sql.base_id;
    started.id = {0x1111, 0x5555};
    started.parent_id = sql.base_id;
    started.name = "rpc \xff\"x\"";  // invalid UTF-8 and quotes
    started.start_ns = start_ns;
    started.info = &info;
    span_view finished = started;
    finished.phase = span_phase::finished;
    finished.end_ns = start_ns + 1000;
    batch = {sql, failed, started, finished};
  }
};

TEST(osprofiler_formatter, each_events_columns_are_the_parts_of_its_own_json_text) {
  const spans s;
  osprofiler_formatter f("proj", "svc", "host1");
  const auto& events = f.format(s.batch);
  ASSERT_EQ(events.size(), 6u);  // a whole SQL span is two events, a phase one
  std::string lines;
  for (const auto& e : events) {
    const auto j = nlohmann::ordered_json::parse(e.json);
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    EXPECT_EQ(keys, (std::vector<std::string>{"name", "base_id", "trace_id", "parent_id",
                                              "timestamp", "info", "project", "service"}));
    EXPECT_EQ(j["name"], std::string(e.name));
    EXPECT_EQ(j["base_id"], std::string(e.base_id));
    EXPECT_EQ(j["trace_id"], std::string(e.trace_id));
    EXPECT_EQ(j["parent_id"], std::string(e.parent_id));
    EXPECT_EQ(j["timestamp"], std::string(e.timestamp));
    EXPECT_EQ(j["info"], nlohmann::ordered_json::parse(e.info));
    EXPECT_EQ(j["info"]["host"], "host1");
    EXPECT_EQ(j["project"], "proj");
    EXPECT_EQ(j["service"], "svc");
    EXPECT_EQ(e.error, j["info"].contains("etype")) << e.json;
    lines += std::string(e.json) + "\n";
  }
  EXPECT_EQ(std::string(f.lines()), lines);  // a JSON lines file's bytes

  std::vector<std::string> names;
  for (const auto& e : events) names.emplace_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"db-start", "db-stop", "db-start", "db-stop",
                                             "rpc \xef\xbf\xbd\"x\"-start",
                                             "rpc \xef\xbf\xbd\"x\"-stop"}));
  EXPECT_EQ(events[0].base_id, "00000000-0000-1111-0000-000000002222");
  EXPECT_EQ(events[1].trace_id, "00000000-0000-1111-0000-000000003333");
  EXPECT_EQ(events[0].timestamp, "2026-11-26T02:34:11.859209");
  EXPECT_EQ(events[1].timestamp, "2026-11-26T02:34:11.952363");
  // Python's json.dumps spacing, and the db-start info OSProfiler's keys first.
  EXPECT_EQ(events[0].json.substr(0, 50),
            "{\"name\": \"db-start\", \"base_id\": \"00000000-0000-111");
  EXPECT_EQ(events[0].info,
            "{\"db\": {\"statement\": \"SELECT 1\", \"db.operation.name\": \"SELECT\"}, \"host\": "
            "\"host1\"}");
  EXPECT_EQ(events[1].info, "{\"db\": {\"db.response.returned_rows\": 1}, \"host\": \"host1\"}");
  const auto failed = nlohmann::json::parse(events[3].info);
  EXPECT_EQ(failed["etype"], "pqxx::undefined_table");
  EXPECT_EQ(failed["message"], "no \"such\" table\n");
  EXPECT_EQ(failed["db"]["db.response.status_code"], "42P01");
  EXPECT_EQ(nlohmann::json::parse(events[4].info)["path"], "/caf\xc3\xa9");
  EXPECT_NE(events[4].json.find("\"/caf\\u00e9\""), std::string::npos);  // ensure_ascii
}

TEST(osprofiler_formatter, a_batch_replaces_the_last_and_an_empty_one_has_no_lines) {
  spans s;
  osprofiler_formatter f("", "", "h");
  f.format(s.batch);
  s.batch.resize(1);
  s.batch[0].rows = 12345678901;
  const auto& events = f.format(s.batch);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(events[1].json)["info"]["db"]["db.response.returned_rows"],
            12345678901);
  EXPECT_EQ(std::count(f.lines().begin(), f.lines().end(), '\n'), 2);
  EXPECT_TRUE(f.format({}).empty());
  EXPECT_TRUE(f.lines().empty());
}

// A SQL table's store asks for the columns only: they are the same as with
// the JSON text, batch after batch, and no JSON text is rendered.
TEST(osprofiler_formatter, the_columns_alone_are_the_columns_of_the_json_text) {
  const spans s;
  osprofiler_formatter whole("proj", "svc", "host1");
  osprofiler_formatter columns("proj", "svc", "host1", osprofiler_formatter::parts::columns);
  for (int round = 0; round < 2; ++round) {
    const auto expected = whole.format(s.batch);  // a copy: views into `whole`'s text
    const auto& got = columns.format(s.batch);
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      SCOPED_TRACE(i);
      EXPECT_TRUE(got[i].json.empty());
      EXPECT_EQ(got[i].name, expected[i].name);
      EXPECT_EQ(got[i].base_id, expected[i].base_id);
      EXPECT_EQ(got[i].trace_id, expected[i].trace_id);
      EXPECT_EQ(got[i].parent_id, expected[i].parent_id);
      EXPECT_EQ(got[i].timestamp, expected[i].timestamp);
      EXPECT_EQ(got[i].info, expected[i].info);
      EXPECT_EQ(got[i].error, expected[i].error);
    }
    EXPECT_TRUE(columns.lines().empty());
  }
}

// An application may name a span with nothing: its events are "-start" and
// "-stop", the first thing a new formatter writes.
TEST(osprofiler_formatter, a_span_named_with_nothing_is_written_as_it_is) {
  const spans s;
  span_view unnamed = s.batch[3];  // a generic span's end
  unnamed.name = {};
  osprofiler_formatter f("", "", "h");
  const auto& events = f.format({unnamed});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name, "-stop");
  EXPECT_EQ(nlohmann::json::parse(events[0].json)["name"], "-stop");
}

// Microseconds as Python's datetime writes them (%f: six digits, truncated),
// at the edges of a second, before the epoch too.
TEST(osprofiler_formatter, timestamps_are_pythons_at_the_edges_of_a_second) {
  const std::pair<std::int64_t, const char*> cases[] = {
      {1795660451000000999, "2026-11-26T02:34:11.000000"},
      {1795660451999999999, "2026-11-26T02:34:11.999999"},
      {1795660451000010000, "2026-11-26T02:34:11.000010"},
      {0, "1970-01-01T00:00:00.000000"},
      {-1, "1969-12-31T23:59:59.999999"}};
  timestamp_cache cache;
  for (const auto& [ns, text] : cases) {
    std::string formatted;
    format_timestamp(ns, formatted);
    EXPECT_EQ(formatted, text);
    char written[26];
    EXPECT_EQ(write_timestamp(written, ns, cache), written + 26);
    EXPECT_EQ(std::string(written, 26), text);
    timestamp_cache fresh;  // its first second may be any, -1 too
    write_timestamp(written, ns, fresh);
    EXPECT_EQ(std::string(written, 26), text);
    std::string from_us;
    format_timestamp_us(ns >= 0 ? ns / 1000 : (ns - 999) / 1000, from_us);
    EXPECT_EQ(from_us, text);
  }
}

}  // namespace
}  // namespace dbtrace

// Every store's numbers (ids, times, sizes, row counts) go through
// put_decimal: at each digit count's edges, and the extremes, it writes what
// std::to_string does.
TEST(put_decimal, writes_what_to_string_does_at_every_digit_counts_edges) {
  std::vector<std::uint64_t> unsigned_cases = {0, UINT64_MAX, UINT64_MAX - 1};
  for (std::uint64_t p = 1; p <= 10000000000000000000ULL; p *= 10) {
    unsigned_cases.insert(unsigned_cases.end(), {p - 1, p, p + 1});
    if (p > UINT64_MAX / 10) break;
  }
  char buf[24];
  for (const std::uint64_t v : unsigned_cases) {
    const char* end = dbtrace::detail::put_decimal(buf, v);
    EXPECT_EQ(std::string(static_cast<const char*>(buf), end), std::to_string(v));
  }
  for (const std::uint64_t v : unsigned_cases) {
    if (v > static_cast<std::uint64_t>(INT64_MAX)) continue;
    for (const std::int64_t s : {static_cast<std::int64_t>(v), -static_cast<std::int64_t>(v)}) {
      const char* end = dbtrace::detail::put_decimal(buf, s);
      EXPECT_EQ(std::string(static_cast<const char*>(buf), end), std::to_string(s));
    }
  }
  for (const std::int64_t s : {INT64_MIN, INT64_MAX}) {
    const char* end = dbtrace::detail::put_decimal(buf, s);
    EXPECT_EQ(std::string(static_cast<const char*>(buf), end), std::to_string(s));
  }
}
