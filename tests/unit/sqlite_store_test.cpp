// SPDX-License-Identifier: Apache-2.0
// The embedded store: one row per span, read back by dbtrace, by hand with
// sqlite3, and by the Python OSProfiler's own SQL driver through the `data`
// view; OSProfiler's own layout read, never written.
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "dbtrace/osprofiler_event.hpp"
#include "dbtrace/report.hpp"
#include "dbtrace/sql.hpp"
#include "dbtrace/stats.hpp"
#include "sqlite/src/blocks.hpp"
#include "sqlite/src/schema.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

class sqlite_store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');  // a parameterized test's "name/0"
    path_ = (testing::temp_dir() / (name + ".db")).string();
    std::filesystem::remove(path_);
    opts_.enabled = true;
    opts_.connection_string = "sqlite:///" + path_;  // absolute: four slashes
    opts_.project = "shop";
    opts_.service = "orders";
  }
  void TearDown() override { shutdown(); }

  // One request: a wsgi span with two statements, the second failing.
  std::string record_request() {
    trace t;
    span request{"wsgi", {{"path", "/orders"}}};
    {
      sql_span ok(intern_target({"sqlite", "shop.db", "", 0}),
                  intern_statement("SELECT * FROM orders"));
      ok.rows(3);
    }
    {
      sql_span bad({}, "SELECT * FROM nope");
      bad.error("soci::sqlite3_soci_error", "no such table: nope");
    }
    return t.base_id();
  }

  std::vector<std::vector<std::string>> query(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    std::vector<std::vector<std::string>> rows;
    sqlite3_exec(
        db, sql.c_str(),
        [](void* out, int n, char** values, char**) {
          auto& r = *static_cast<std::vector<std::vector<std::string>>*>(out);
          r.emplace_back();
          for (int i = 0; i < n; ++i) r.back().push_back(values[i] ? values[i] : "NULL");
          return 0;
        },
        &rows, nullptr);
    sqlite3_close(db);
    return rows;
  }

  std::string path_;
  options opts_;
};

TEST_F(sqlite_store_test, writes_spans_and_reads_traces_back) {
  init(opts_);
  const std::string a = record_request();
  const std::string b = record_request();
  ASSERT_TRUE(flush());
  EXPECT_EQ(stats().exported, 12u);

  auto store = make_reader(opts_.connection_string);
  const auto traces = store->list_traces(false);
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_EQ(traces[0].base_id, a);
  EXPECT_EQ(traces[1].base_id, b);
  EXPECT_EQ(store->list_traces(true).size(), 2u);

  const auto events = store->read_trace(a);
  ASSERT_EQ(events.size(), 6u);
  for (const auto& e : events) {
    EXPECT_EQ(e.project, "shop");
    EXPECT_EQ(e.service, "orders");
  }
  const auto report = build_report(events);
  ASSERT_EQ(report["children"].size(), 1u);
  const auto& wsgi = report["children"][0];
  EXPECT_EQ(wsgi["info"]["name"], "wsgi");
  EXPECT_EQ(wsgi["info"]["meta.raw_payload.wsgi-start"]["info"]["path"], "/orders");
  ASSERT_EQ(wsgi["children"].size(), 2u);
  EXPECT_EQ(wsgi["children"][0]["info"]["meta.raw_payload.db-start"]["info"]["db"]["statement"],
            "SELECT * FROM orders");
  EXPECT_EQ(wsgi["children"][1]["info"]["exception"], "soci::sqlite3_soci_error");
  EXPECT_TRUE(store->read_trace("00000000-0000-4000-8000-000000000000").empty());
}

TEST_F(sqlite_store_test, keeps_spans_in_blocks_and_each_text_once_in_wal_mode) {
  init(opts_);
  record_request();
  record_request();
  ASSERT_TRUE(flush());
  EXPECT_EQ(query("PRAGMA user_version").at(0).at(0), "4");
  EXPECT_EQ(query("SELECT count(*) FROM spans").at(0).at(0), "6");  // the view, a row per span
  EXPECT_EQ(query("SELECT sum(span_count) FROM span_blocks").at(0).at(0), "6");
  // No index entry per span: one range of span ids per trace and batch. The
  // exporter may take a request's first statements before it ends (seen under
  // load), so a trace may have a range per batch: together they hold its
  // spans, each once.
  EXPECT_EQ(query("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'spans'")
                .at(0)
                .at(0),
            "0");
  EXPECT_EQ(query("SELECT trace, min(first_span), max(last_span), sum(last_span - first_span + 1)"
                  " FROM trace_spans GROUP BY trace ORDER BY trace"),
            (std::vector<std::vector<std::string>>{{"1", "1", "3", "3"}, {"2", "4", "6", "3"}}));
  EXPECT_LE(std::stoi(query("SELECT count(*) FROM trace_spans").at(0).at(0)), 6);
  EXPECT_EQ(query("SELECT count(*) FROM traces").at(0).at(0), "2");
  EXPECT_EQ(query("SELECT count(*) FROM statements").at(0).at(0), "2");
  EXPECT_EQ(query("SELECT count(*) FROM errors").at(0).at(0), "1");
  EXPECT_EQ(query("SELECT count(*) FROM sources").at(0).at(0), "1");
  // OSProfiler's view: two events per span, data double-encoded as its driver expects.
  EXPECT_EQ(query("SELECT count(*) FROM data").at(0).at(0), "12");
  const auto types = query("SELECT DISTINCT json_type(data) FROM data");
  ASSERT_EQ(types.size(), 1u);
  EXPECT_EQ(types[0][0], "text");
  const auto payload =
      query("SELECT json_extract(data, '$') FROM data WHERE name = 'db-start' LIMIT 1");
  EXPECT_EQ(nlohmann::json::parse(payload.at(0).at(0))["info"]["db"]["statement"],
            "SELECT * FROM orders");
  EXPECT_EQ(query("PRAGMA journal_mode").at(0).at(0), "wal");
}

// A writer that hands every batch to two stores: the same spans, two formats.
struct tee_writer final : writer {
  tee_writer(std::unique_ptr<writer> a, std::unique_ptr<writer> b)
      : a_(std::move(a)), b_(std::move(b)) {}
  write_result write(const std::vector<span_view>& batch, std::string& error) noexcept override {
    const auto r = a_->write(batch, error);
    return r == write_result::ok ? b_->write(batch, error) : r;
  }
  std::unique_ptr<writer> a_, b_;
};

TEST_F(sqlite_store_test, gives_back_the_same_events_as_the_json_lines_store_for_every_field) {
  const std::string jsonl = (testing::temp_dir() / "same_events.jsonl").string();
  std::filesystem::remove(jsonl);
  opts_.record_params = true;
  const store_params sqlite_params{opts_.connection_string, "h\xC3\xB6st", "shop", "orders", false};
  auto jsonl_params = sqlite_params;
  jsonl_params.connection_string = "file://" + jsonl;
  init(opts_, std::make_unique<tee_writer>(make_writer(sqlite_params), make_writer(jsonl_params)));
  std::string base;
  {
    trace t;
    base = t.base_id();
    span request{"wsgi", {{"path", "/caf\xC3\xA9"}, {"n", 3}, {"nested", {{"a", nullptr}}}}};
    const auto pg = intern_target({"postgresql", "shop", "db.local", 5432});
    {
      sql_span ok(pg, intern_statement("SELECT name FROM users WHERE id = $1"));
      ok.param(7);
      ok.param(nullptr);
      ok.param("x\xFFy");  // invalid UTF-8 in a bound value
      ok.rows(1);
    }
    {
      sql_span bulk(pg, intern_statement("INSERT INTO items (a) VALUES ($1)"));
      bulk.batch_size(3);
      bulk.rows(3);
    }
    {
      sql_span bad(pg, "SELECT * FROM \xC3\xA9t\xE9");  // not interned, invalid UTF-8
      bad.error("pqxx::undefined_table", "relation \"\xE9t\" does not exist", "42P01", "sql");
    }
    { sql_span unknown({}, statement_ref{}); }
    span failing{"rpc", {{"function", "load_user"}}};
    failing.set_error("std::runtime_error", "boom");
  }
  ASSERT_TRUE(flush());
  EXPECT_EQ(stats().dropped, 0u);

  auto by_key = [](std::vector<stored_event> events) {
    std::map<std::string, stored_event> out;
    for (auto& e : events) out.emplace(e.trace_id + " " + e.name, std::move(e));
    return out;
  };
  const auto from_sqlite = by_key(make_reader(opts_.connection_string)->read_trace(base));
  const auto from_jsonl = by_key(make_reader("file://" + jsonl)->read_trace(base));
  ASSERT_EQ(from_sqlite.size(), 12u);
  ASSERT_EQ(from_jsonl.size(), from_sqlite.size());
  for (const auto& [key, j] : from_jsonl) {
    SCOPED_TRACE(key);
    ASSERT_EQ(from_sqlite.count(key), 1u);
    const auto& s = from_sqlite.at(key);
    EXPECT_EQ(s.base_id, j.base_id);
    EXPECT_EQ(s.parent_id, j.parent_id);
    EXPECT_EQ(s.timestamp, j.timestamp);
    EXPECT_EQ(s.project, j.project);
    EXPECT_EQ(s.service, j.service);
    EXPECT_EQ(s.host, j.host);
    // Compared as values: key order and spacing are the stores' own.
    EXPECT_EQ(nlohmann::json::parse(s.raw["info"].dump()),
              nlohmann::json::parse(j.raw["info"].dump()));
  }
  const auto report = build_report(make_reader(opts_.connection_string)->read_trace(base));
  const auto& wsgi = report["children"][0];
  const auto& first = wsgi["children"][0]["info"]["meta.raw_payload.db-start"]["info"]["db"];
  EXPECT_EQ(first["params"].dump(), "[7,null,\"x\xEF\xBF\xBDy\"]");  // U+FFFD
  EXPECT_EQ(first["server.port"].get<int>(), 5432);
  EXPECT_EQ(first["db.operation.name"].get<std::string>(), "SELECT");
}

TEST_F(sqlite_store_test, an_osprofiler_layout_file_is_read_but_never_written) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    const std::string ddl = data_table_ddl("id INTEGER NOT NULL PRIMARY KEY");
    ASSERT_EQ(sqlite3_exec(db, ddl.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db,
                     "INSERT INTO data (\"timestamp\", base_id, parent_id, trace_id, "
                     "project, host, service, name, data) VALUES ('2026-11-25T17:20:17.123456',"
                     " 'b', 'b', 't', 'p', 'h', 's', 'db-start', '\"{\\\"info\\\": {}}\"')",
                     nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = make_reader(opts_.connection_string);
  ASSERT_EQ(store->list_traces(false).size(), 1u);
  EXPECT_EQ(store->read_trace("b").size(), 1u);

  init(opts_);
  record_request();
  EXPECT_TRUE(flush());
  EXPECT_EQ(stats().exported, 0u);
  EXPECT_EQ(stats().dropped, stats().recorded);
  EXPECT_EQ(query("SELECT count(*) FROM data").at(0).at(0), "1");  // untouched
}

// A traces.db that is not a database at init: its batches are dropped, and
// once the file is replaced the writer opens the new one (it kept the broken
// connection, and dropped everything until restart).
TEST_F(sqlite_store_test, a_file_that_was_not_a_database_is_written_once_it_is_replaced) {
  std::ofstream(path_) << std::string(4096, 'x');
  init(opts_);
  record_request();
  EXPECT_TRUE(flush());
  EXPECT_EQ(stats().exported, 0u);
  EXPECT_GT(stats().dropped, 0u);
  std::filesystem::remove(path_);
  const std::string base = record_request();
  EXPECT_TRUE(flush());
  EXPECT_GT(stats().exported, 0u);
  EXPECT_EQ(make_reader(opts_.connection_string)->read_trace(base).size(), 6u);
}

// The store's file deleted while the service runs: later spans went into the
// unlinked file, counted as exported; they go into a new file now.
TEST_F(sqlite_store_test, a_store_file_deleted_while_in_use_is_made_anew) {
  init(opts_);
  const std::string first = record_request();
  EXPECT_TRUE(flush());
  std::filesystem::remove(path_);
  const std::string second = record_request();
  EXPECT_TRUE(flush());
  EXPECT_EQ(stats().dropped, 0u);
  ASSERT_TRUE(std::filesystem::exists(path_));
  auto store = make_reader(opts_.connection_string);
  EXPECT_EQ(store->read_trace(second).size(), 6u);
  EXPECT_TRUE(store->read_trace(first).empty());  // it went with the deleted file
}

TEST_F(sqlite_store_test, a_newer_layout_is_refused_with_a_clear_message) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE spans (x); PRAGMA user_version = 99", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  try {
    make_reader(opts_.connection_string)->list_traces(false);
    FAIL() << "read a file of an unknown layout";
  } catch (const store_error& e) {
    EXPECT_EQ(std::string(e.what()),
              path_ + ": written by a newer dbtrace (layout 99); this one reads layouts up to 4");
  }
}

// The events of a trace, each as its JSON line, to compare two reads.
std::vector<std::string> lines_of(const std::vector<stored_event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    out.push_back(nlohmann::json{e.name, e.base_id, e.trace_id, e.parent_id, e.timestamp,
                                 e.project.value_or("-"), e.service.value_or("-"),
                                 e.host.value_or("-"), e.raw}
                      .dump());
  return out;
}

TEST_F(sqlite_store_test, a_trace_written_in_several_batches_among_others_reads_back_whole) {
  init(opts_);
  std::string a, b;
  {
    trace t;
    a = t.base_id();
    span request{"wsgi", {{"path", "/slow"}}};
    { sql_span first({}, intern_statement("SELECT 1")); }
    ASSERT_TRUE(flush());                               // a batch of its own
    std::thread([&] { b = record_request(); }).join();  // another trace in between
    ASSERT_TRUE(flush());
    { sql_span second({}, intern_statement("SELECT 2")); }
  }
  ASSERT_TRUE(flush());
  // At least two batches (a third if the exporter took `second` before the request ended).
  EXPECT_GE(std::stoi(query("SELECT count(*) FROM trace_spans WHERE trace = 1").at(0).at(0)), 2);

  auto store = make_reader(opts_.connection_string);
  const auto events = store->read_trace(a);
  std::vector<std::string> names;
  for (const auto& e : events) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"db-start", "db-stop", "db-start", "db-stop",
                                             "wsgi-start", "wsgi-stop"}));
  EXPECT_EQ(store->read_trace(b).size(), 6u);
  // One trace is read by its ranges: a search of the blocks, never a scan of
  // them (json_each's scan is of one block's spans).
  const auto plan = query(
      "EXPLAIN QUERY PLAN SELECT * FROM data WHERE base_id = 'x' AND span BETWEEN 300 AND 301 "
      "AND block BETWEEN 45 AND 301");
  ASSERT_FALSE(plan.empty());
  for (const auto& step : plan) {
    if (step.back().find("VIRTUAL TABLE") == std::string::npos) {
      EXPECT_EQ(step.back().find("SCAN"), std::string::npos) << step.back();
    }
  }
}

TEST_F(sqlite_store_test, a_large_batch_is_a_few_blocks_of_consecutive_span_ids) {
  init(opts_);
  std::string base_id;
  {
    trace t;
    base_id = t.base_id();
    const auto statement = intern_statement("SELECT 1");
    for (int i = 0; i < 600; ++i) sql_span s({}, statement);
  }
  ASSERT_TRUE(flush());
  const auto blocks = query("SELECT id, span_count FROM span_blocks ORDER BY id");
  ASSERT_FALSE(blocks.empty());
  EXPECT_LT(blocks.size(), 300u);  // the exporter takes many spans a batch
  std::int64_t next = 1;
  for (const auto& b : blocks) {
    EXPECT_EQ(std::stoll(b.at(0)), next);
    EXPECT_LE(std::stoll(b.at(1)), 256);
    next += std::stoll(b.at(1));
  }
  EXPECT_EQ(next, 601);
  EXPECT_EQ(query("SELECT count(*), min(id), max(id), count(DISTINCT span_id) FROM spans"),
            (std::vector<std::vector<std::string>>{{"600", "1", "600", "600"}}));
  EXPECT_EQ(make_reader(opts_.connection_string)->read_trace(base_id).size(), 1200u);
}

// The block format is written in C++ and read both in C++ (dbtrace's
// summaries) and in SQL (the views): every field, at its edges, the same in all three.
TEST(span_block, every_field_reads_back_alike_in_cpp_and_through_the_spans_view) {
  using drivers::sqlite_blocks::block_span;
  // trace, span id, parent id, start, duration, source; the rest as set below
  auto span = [](std::int64_t trace, std::int64_t id, std::int64_t parent, std::int64_t start_ns,
                 std::int64_t duration_ns, std::int64_t source) {
    block_span s;
    s.trace = trace;
    s.span_id = id;
    s.parent_id = parent;
    s.start_ns = start_ns;
    s.duration_ns = duration_ns;
    s.source = source;
    return s;
  };
  std::vector<block_span> spans(6);
  spans[0] = span(7, INT64_MIN, INT64_MAX, 1795660451859209252, 93154, 1);
  spans[0].statement = 3;
  spans[0].target = 1;
  spans[0].rows = 0;
  spans[1] = span(7, -1, 0, 1795660451859209252 - 5000, 0, 2);  // started before the block's first
  spans[1].name = "quo\"te\\ \n \xc3\xbc\x01";
  spans[1].info = R"({"k":"v\"]}","n":{"a":[1,{"b":"["}]}})";
  spans[1].span_hi = -99;
  spans[1].parent_hi = 100;
  spans[2] = span(8, 99, 100, 1795660451859209252 + 1, 1, 1);
  spans[2].statement = 4;
  spans[2].params = R"([1,"a]b",null,{"x":"}"}])";
  spans[2].batch = 10;
  spans[2].error = 2;
  spans[3] = span(9, 42, 43, 1795660451859209252, 5, 1);
  spans[3].name = "bad \xff utf-8";  // written as U+FFFD
  // Numbers at the edges of the writer's 2-, 4-, 8- and 16-digit chunks; two
  // spans with one parent (its digits written once), the second negative.
  spans[4] =
      span(10000, 99999999, -100000000, 1795660451859209252 + 99999999, 9999999999999999, 100);
  spans[4].statement = 10000000000000000;
  spans[4].rows = 9999;
  spans[5] = span(1000000000000000000, 100000000, -100000000, 1795660451859209252, 10, 99);
  spans[5].target = 1000000;

  drivers::sqlite_blocks::block_writer w;
  w.clear();
  for (const auto& s : spans) w.add(s);
  const std::string text(w.close());
  const std::int64_t start_ns = w.start_ns();
  EXPECT_EQ(start_ns, spans[0].start_ns);

  auto fields = [](const block_span& s) {
    auto o = [](const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "NULL"; };
    auto t = [](std::string_view v, const char* none) {
      return v.empty() ? std::string(none) : std::string(v);
    };
    return std::vector<std::string>{std::to_string(s.trace),
                                    std::to_string(s.span_id),
                                    o(s.span_hi),
                                    std::to_string(s.parent_id),
                                    o(s.parent_hi),
                                    t(s.name, "db"),
                                    std::to_string(s.start_ns),
                                    std::to_string(s.duration_ns),
                                    o(s.statement),
                                    o(s.target),
                                    std::to_string(s.source),
                                    o(s.rows),
                                    o(s.batch),
                                    o(s.error),
                                    t(s.params, "NULL"),
                                    t(s.info, "NULL")};
  };
  std::vector<std::vector<std::string>> expected;
  for (auto s : spans) {
    if (s.name == "bad \xff utf-8") s.name = "bad \xef\xbf\xbd utf-8";
    expected.push_back(fields(s));
  }

  std::vector<std::vector<std::string>> read;
  drivers::sqlite_blocks::block_reader r(text, start_ns);
  block_span s;
  while (r.next(s)) read.push_back(fields(s));
  EXPECT_EQ(read, expected);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  const std::string ddl = std::string(drivers::sqlite_schema::tables) +
                          drivers::sqlite_schema::span_blocks_table +
                          drivers::sqlite_schema::trace_spans_table + drivers::sqlite_schema::views;
  ASSERT_EQ(sqlite3_exec(db, ddl.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO span_blocks VALUES (5, 6, ?, ?)", -1, &st, nullptr),
            SQLITE_OK);
  sqlite3_bind_int64(st, 1, start_ns);
  sqlite3_bind_text(st, 2, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  std::vector<std::vector<std::string>> viewed;
  sqlite3_exec(
      db, "SELECT * FROM spans ORDER BY id",
      [](void* out, int n, char** values, char**) {
        auto& rows = *static_cast<std::vector<std::vector<std::string>>*>(out);
        rows.emplace_back();
        for (int i = 1; i < n - 1; ++i) rows.back().push_back(values[i] ? values[i] : "NULL");
        EXPECT_EQ(std::string(values[0]), std::to_string(5 + rows.size() - 1));  // the ids
        EXPECT_EQ(std::string(values[n - 1]), "5");                              // the block
        return 0;
      },
      &viewed, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(viewed, expected);
}

TEST(span_block, text_that_is_not_a_block_is_refused_with_where) {
  for (const char* text :
       {"", "[", "[[1,2,3]]", "[[1,2,3,4,5,6,\"x\"]]", "[[1,2,3,4,5,6],", "{}",
        "[[1,2,3,4,5,6,null,null,null,null,null,null,null,[1]]]",  // a name that is an array
        "[[1,2,3,4,5,6,null,null,null,null,null,null,null,null,null,{\"a\":\"}]"}) {
    try {
      drivers::sqlite_blocks::block_reader r(text, 0);
      drivers::sqlite_blocks::block_span s;
      while (r.next(s)) {
      }
      ADD_FAILURE() << "read '" << text << "'";
    } catch (const drivers::sqlite_blocks::damaged_block& e) {
      EXPECT_NE(std::string(e.what()).find(" at byte "), std::string::npos) << e.what();
    }
  }
}

TEST_F(sqlite_store_test, spans_with_large_info_go_into_blocks_of_about_a_megabyte) {
  init(opts_);
  std::string base_id;
  {
    trace t;
    base_id = t.base_id();
    for (int i = 0; i < 20; ++i)
      span s{"upload", {{"body", std::string(200000, static_cast<char>('a' + i))}}};
  }
  ASSERT_TRUE(flush());
  EXPECT_EQ(stats().dropped, 0u);
  const auto blocks = query("SELECT span_count, length(spans) FROM span_blocks");
  std::int64_t spans = 0;
  for (const auto& b : blocks) {
    spans += std::stoll(b.at(0));
    EXPECT_LE(std::stoll(b.at(1)), (1 << 20) + 200100);  // closed past 1 MiB: one span more at most
  }
  EXPECT_EQ(spans, 20);
  const auto events = make_reader(opts_.connection_string)->read_trace(base_id);
  ASSERT_EQ(events.size(), 40u);
  int whole = 0;  // start events with their info as it was given
  for (const auto& e : events)
    if (e.name == "upload-start" && e.raw["info"]["body"].get<std::string>().size() == 200000)
      ++whole;
  EXPECT_EQ(whole, 20);
}

TEST_F(sqlite_store_test, a_damaged_block_is_a_store_error_naming_its_row) {
  init(opts_);
  record_request();
  ASSERT_TRUE(flush());
  shutdown();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE span_blocks SET spans = '[[1,2,\"x\"' WHERE id = 1", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = make_reader(opts_.connection_string);
  try {
    store->stats({});
    FAIL() << "read a damaged block";
  } catch (const store_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path_ + ": span_blocks row 1: a damaged span block (", 0),
              0u)
        << e.what();
  }
}

// Makes the store a file of an older layout (tests/data/embedded_store/
// layout<N>.sql, as dbtrace wrote it), then runs `sql` on it.
void write_layout_file(const std::string& path, int layout, const std::string& sql = "") {
  std::ifstream in(std::string(DBTRACE_TEST_DATA) + "/embedded_store/layout" +
                   std::to_string(layout) + ".sql");
  const std::string script = std::string(std::istreambuf_iterator<char>(in), {}) + sql;
  ASSERT_GT(script.size(), 1000u);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, script.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

// What dbtrace shows of one trace: its events, its overview and its statistics.
std::vector<std::string> shown(reader& store, const std::string& base_id) {
  auto out = lines_of(store.read_trace(base_id));
  const auto overviews = store.overviews().value();
  for (const auto& o : overviews)
    if (o.base_id == base_id)
      out.push_back(nlohmann::json{o.started_us, o.finished_us, o.spans, o.sql, o.errors, o.project,
                                   o.service}
                        .dump());
  for (const auto by : {stats_grouping::text, stats_grouping::summary, stats_grouping::name}) {
    stats_query q;
    q.by = by;
    q.base_id = base_id;
    auto groups = store.stats(q).value();
    std::sort(groups.begin(), groups.end(),
              [](const auto& a, const auto& b) { return a.key < b.key; });
    for (const auto& g : groups)
      out.push_back(
          nlohmann::json{g.key, g.count, g.errors, g.rows, g.total_us, g.p50_us, g.p99_us, g.max_us}
              .dump());
  }
  return out;
}

class older_layout_test : public sqlite_store_test, public ::testing::WithParamInterface<int> {};

TEST_P(older_layout_test, is_read_as_it_is_and_migrated_to_blocks_when_written_to) {
  const int layout = GetParam();
  write_layout_file(path_, layout);
  ASSERT_EQ(query("PRAGMA user_version").at(0).at(0), std::to_string(layout));
  std::map<std::string, std::vector<std::string>> before;
  std::vector<std::string> old_traces;
  {
    auto store = make_reader(opts_.connection_string);
    for (const auto& t : store->list_traces(false)) old_traces.push_back(t.base_id);
    ASSERT_EQ(old_traces.size(), layout == 1 ? 3u : layout == 2 ? 5u : 7u);
    EXPECT_EQ(old_traces.at(0), "0f763014-4373-4178-9e40-75600a8d37c5");
    EXPECT_EQ(store->list_traces(true).size(), 3u);  // the demo's traces each have a failure
    for (const auto& id : old_traces) {
      before[id] = shown(*store, id);
      EXPECT_GE(before[id].size(), 18u + 1 + 3);  // 9 spans or more, overview, 3 groupings
    }
  }
  const auto spans_before = query("SELECT * FROM spans ORDER BY id");

  init(opts_);
  const std::string fresh = record_request();
  ASSERT_TRUE(flush());
  EXPECT_EQ(stats().exported, 6u);
  EXPECT_EQ(query("PRAGMA user_version").at(0).at(0), "4");
  EXPECT_EQ(query("SELECT type FROM sqlite_master WHERE name = 'spans'").at(0).at(0), "view");
  EXPECT_EQ(query("SELECT count(*) FROM sqlite_master WHERE name = 'spans_by_trace'").at(0).at(0),
            "0");
  // Every old span as it was (its id, numbered from 1 as it was, included;
  // the view has one column more than layouts 1 and 2's table, the block).
  auto spans_after = query(
      "SELECT * FROM spans WHERE id <= " + std::to_string(spans_before.size()) + " ORDER BY id");
  if (layout < 3)
    for (auto& row : spans_after) row.pop_back();
  EXPECT_EQ(spans_after, spans_before);
  // One range per old trace; the new trace's spans may come in more than one
  // batch (the exporter may take the first statements before the request ends).
  EXPECT_EQ(query("SELECT count(*) FROM trace_spans WHERE trace IN (SELECT id FROM traces WHERE "
                  "base_id <> '" +
                  fresh + "')")
                .at(0)
                .at(0),
            std::to_string(old_traces.size()));

  auto store = make_reader(opts_.connection_string);
  EXPECT_EQ(store->list_traces(false).size(), old_traces.size() + 1);
  for (const auto& id : old_traces) EXPECT_EQ(shown(*store, id), before[id]) << id;
  EXPECT_EQ(store->read_trace(fresh).size(), 6u);
}

INSTANTIATE_TEST_SUITE_P(layouts, older_layout_test, ::testing::Values(1, 2, 3));

// A trace's row holds the range of its spans in the batch that made it; a
// later batch's spans of it get a trace_ranges row. Together (trace_spans)
// they hold every span, and the trace reads back whole.
TEST_F(sqlite_store_test, a_trace_continued_in_a_later_batch_reads_back_whole) {
  init(opts_);
  std::string base;
  {
    trace t;
    base = t.base_id();
    for (int batch = 0; batch < 2; ++batch) {
      for (int i = 0; i < 2; ++i)
        sql_span s({}, intern_statement("SELECT " + std::to_string(2 * batch + i)));
      ASSERT_TRUE(flush());
    }
  }
  EXPECT_EQ(query("SELECT id, first_span, last_span FROM traces"),
            (std::vector<std::vector<std::string>>{{"1", "1", "2"}}));
  EXPECT_EQ(query("SELECT trace, first_span, last_span FROM trace_ranges"),
            (std::vector<std::vector<std::string>>{{"1", "3", "4"}}));
  EXPECT_EQ(query("SELECT trace, first_span, last_span FROM trace_spans ORDER BY 2"),
            (std::vector<std::vector<std::string>>{{"1", "1", "2"}, {"1", "3", "4"}}));
  const auto events = make_reader(opts_.connection_string)->read_trace(base);
  ASSERT_EQ(events.size(), 8u);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(events[2 * i].raw["info"]["db"]["statement"], "SELECT " + std::to_string(i));
}

TEST_F(sqlite_store_test, one_traces_spans_from_two_writers_rows_are_read_once) {
  // Two processes wrote one trace (each has its own traces row) in
  // interleaved batches: after migration their ranges overlap.
  write_layout_file(path_, 1,
                    "UPDATE traces SET base_id = (SELECT base_id FROM traces WHERE id = 1) "
                    "WHERE id = 2; UPDATE spans SET trace = 2 WHERE id = 5;");
  std::string shared;
  std::vector<std::string> before;
  {
    auto store = make_reader(opts_.connection_string);
    shared = store->list_traces(false).at(0).base_id;
    before = lines_of(store->read_trace(shared));
    ASSERT_EQ(before.size(), 36u);  // 18 spans
  }
  init(opts_);
  record_request();
  ASSERT_TRUE(flush());
  ASSERT_EQ(query("SELECT first_span, last_span FROM trace_spans WHERE trace <= 2"),
            (std::vector<std::vector<std::string>>{{"1", "9"}, {"5", "18"}}));
  EXPECT_EQ(lines_of(make_reader(opts_.connection_string)->read_trace(shared)), before);
}

TEST_F(sqlite_store_test, many_new_traces_in_one_batch_each_keep_their_own_spans) {
  init(opts_);
  std::vector<std::string> bases;  // 70: two INSERTs of 32 traces, then six of one
  for (int i = 0; i < 70; ++i) {
    trace t;
    bases.push_back(t.base_id());
    sql_span s({}, intern_statement("SELECT " + std::to_string(i)));
  }
  ASSERT_TRUE(flush());
  EXPECT_EQ(query("SELECT count(*) FROM traces").at(0).at(0), "70");
  auto store = make_reader(opts_.connection_string);
  for (int i = 0; i < 70; ++i) {
    const auto events = store->read_trace(bases[i]);
    ASSERT_EQ(events.size(), 2u) << i;
    EXPECT_EQ(events[0].raw["info"]["db"]["statement"], "SELECT " + std::to_string(i));
  }
}

// Hands batches to two writers in turn: two processes sharing one file.
struct alternating_writer final : writer {
  alternating_writer(std::unique_ptr<writer> a, std::unique_ptr<writer> b)
      : writers_{std::move(a), std::move(b)} {}
  write_result write(const std::vector<span_view>& batch, std::string& error) noexcept override {
    return writers_[batches_++ % 2]->write(batch, error);
  }
  std::unique_ptr<writer> writers_[2];
  int batches_ = 0;
};

TEST_F(sqlite_store_test, two_writers_taking_turns_at_one_trace_read_back_whole_and_in_order) {
  init(opts_, std::make_unique<alternating_writer>(
                  make_writer({opts_.connection_string, "host-a", "shop", "orders", false}),
                  make_writer({opts_.connection_string, "host-b", "shop", "orders", false})));
  std::string base;
  {
    trace t;
    base = t.base_id();
    for (int i = 0; i < 5; ++i) {
      { sql_span s({}, intern_statement("SELECT " + std::to_string(i))); }
      ASSERT_TRUE(flush());  // a batch each, to the two writers in turn
    }
  }
  EXPECT_EQ(stats().failed_writes, 0u);  // neither got in the other's way
  EXPECT_EQ(query("SELECT count(*) FROM traces").at(0).at(0), "2");  // a row per writer
  std::vector<std::string> statements, hosts;
  for (const auto& e : make_reader(opts_.connection_string)->read_trace(base)) {
    if (e.name != "db-start") continue;
    statements.push_back(e.raw["info"]["db"]["statement"].get<std::string>());
    hosts.push_back(e.host.value_or("-"));
  }
  EXPECT_EQ(statements,
            (std::vector<std::string>{"SELECT 0", "SELECT 1", "SELECT 2", "SELECT 3", "SELECT 4"}));
  EXPECT_EQ(hosts, (std::vector<std::string>{"host-a", "host-b", "host-a", "host-b", "host-a"}));
}

// Two processes writing one file at once (two connections, as two processes
// have): each waits for the other's write lock instead of failing.
TEST_F(sqlite_store_test, two_writers_at_once_wait_for_each_other_instead_of_failing) {
  init(opts_);  // the statement table lives in the runtime
  const auto statement = intern_statement("SELECT 1");
  constexpr int batches = 500, spans_per_batch = 20;
  std::atomic<int> failures{0};
  std::string first_error;
  std::mutex error_mutex;
  const auto write_many = [&](std::uint64_t writer_id) {
    auto w = make_writer({opts_.connection_string, "host", "shop", "orders", false});
    std::vector<span_view> batch(spans_per_batch);
    for (int b = 0; b < batches; ++b) {
      for (int i = 0; i < spans_per_batch; ++i) {
        auto& v = batch[static_cast<std::size_t>(i)];
        v.name = "db";
        v.statement = statement.get();
        v.base_id = {writer_id, static_cast<std::uint64_t>(b + 1)};  // a trace per batch
        v.id = {writer_id, static_cast<std::uint64_t>(b * spans_per_batch + i + 1)};
        v.parent_id = v.base_id;
        v.start_ns = 1'700'000'000'000'000'000 + b * 1000 + i;
        v.end_ns = v.start_ns + 500;
      }
      std::string error;
      if (w->write(batch, error) != write_result::ok) {
        ++failures;
        std::lock_guard<std::mutex> lock(error_mutex);
        if (first_error.empty()) first_error = error;
      }
    }
  };
  std::thread a(write_many, 1), b(write_many, 2);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0) << first_error;
  EXPECT_EQ(query("SELECT count(*) FROM spans").at(0).at(0),
            std::to_string(2 * batches * spans_per_batch));
}

TEST_F(sqlite_store_test, the_readmes_sqlite3_queries_answer_which_statement_is_slowest) {
  init(opts_);
  record_request();
  record_request();
  ASSERT_TRUE(flush());
  // Every `sqlite3 traces.db "…"` line the README and the manual show, run as shown.
  std::istringstream readme(testing::user_documentation());
  std::string line;
  int ran = 0;
  const std::string prefix = "sqlite3 traces.db \"";
  while (std::getline(readme, line)) {
    const auto at = line.find(prefix);
    if (at == std::string::npos) continue;
    const auto end = line.rfind('"');
    const std::string sql = line.substr(at + prefix.size(), end - at - prefix.size());
    SCOPED_TRACE(sql);
    const auto rows = query(sql);
    EXPECT_FALSE(rows.empty());
    ++ran;
  }
  EXPECT_GE(ran, 2);
  const auto slowest =
      query("SELECT statement, count, errors FROM statement_stats ORDER BY statement");
  ASSERT_EQ(slowest.size(), 2u);
  EXPECT_EQ(slowest[0], (std::vector<std::string>{"SELECT * FROM nope", "2", "2"}));
  EXPECT_EQ(slowest[1], (std::vector<std::string>{"SELECT * FROM orders", "2", "0"}));
}

TEST_F(sqlite_store_test, reading_a_missing_store_is_a_clear_error) {
  auto store = make_reader("sqlite:////nonexistent/dir/x.db");
  try {
    store->list_traces(false);
    FAIL();
  } catch (const store_error& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/dir/x.db: no such trace store");
  }
}

// A store file cut short (a full disk, a copy interrupted) is said to be
// damaged, not taken for some other program's file.
TEST_F(sqlite_store_test, a_truncated_store_is_called_damaged_not_foreign) {
  init(opts_);
  for (int i = 0; i < 200; ++i) record_request();
  ASSERT_TRUE(flush());
  shutdown();
  query("PRAGMA wal_checkpoint(TRUNCATE)");  // everything in the main file
  const std::string whole = testing::read_file(path_);
  ASSERT_GT(whole.size(), 8192u);
  const std::string cut_path = path_ + ".cut";
  for (const std::size_t size : {whole.size() / 2, std::size_t{50}, std::size_t{10}}) {
    SCOPED_TRACE(size);
    std::ofstream(cut_path, std::ios::binary | std::ios::trunc) << whole.substr(0, size);
    try {
      make_reader("sqlite:///" + cut_path)->list_traces(false);
      ADD_FAILURE() << "a truncated store was read";
    } catch (const store_error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(cut_path + ": a damaged or truncated SQLite file (", 0),
                0u)
          << e.what();
    }
  }
  std::ofstream(cut_path, std::ios::trunc) << "some text, not SQLite\n";
  try {
    make_reader("sqlite:///" + cut_path)->list_traces(false);
    ADD_FAILURE() << "a text file was read";
  } catch (const store_error& e) {
    EXPECT_EQ(std::string(e.what()), cut_path + ": not a dbtrace or OSProfiler trace store");
  }
}

// ?parameters are no part of the file's name: a password there is refused,
// redacted, and never printed as part of a path.
TEST_F(sqlite_store_test, a_password_parameter_is_refused_and_never_printed) {
  for (const bool reading : {true, false}) {
    try {
      if (reading)
        make_reader("sqlite:///x.db?password=hunter2")->list_traces(false);
      else
        make_writer({"sqlite:///x.db?password=hunter2", "host", "shop", "orders", false});
      ADD_FAILURE() << "taken";
    } catch (const config_error& e) {
      EXPECT_EQ(std::string(e.what()),
                "connection_string: the embedded store takes no ?parameters, got "
                "'sqlite:///x.db?password=***'");
    }
  }
}

TEST_F(sqlite_store_test, an_unwritable_store_never_reaches_the_application) {
  opts_.connection_string = "sqlite:////nonexistent/dir/x.db";
  init(opts_);
  record_request();  // no exception, no hang
  // The directory does not exist: nothing to wait for, every span is dropped and counted.
  EXPECT_TRUE(flush(std::chrono::milliseconds(200)));
  shutdown(std::chrono::milliseconds(200));
  const auto s = stats();
  EXPECT_GT(s.failed_writes, 0u);
  EXPECT_EQ(s.exported, 0u);
  EXPECT_EQ(s.dropped, s.recorded);
}

TEST_F(sqlite_store_test, python_osprofiler_reads_our_store_as_its_own) {
  DBTRACE_REQUIRE_PYTHON_PEER();
  init(opts_);
  const std::string base = record_request();
  ASSERT_TRUE(flush());
  const auto r = testing::run_python(R"(
import json, sys
from osprofiler.drivers.sqlalchemy_driver import SQLAlchemyDriver
d = SQLAlchemyDriver(sys.argv[1])
print(json.dumps(d.get_report(sys.argv[2])))
)",
                                     {"sqlite:///" + path_, base});
  ASSERT_EQ(r.status, 0) << r.out;
  auto store = make_reader(opts_.connection_string);
  EXPECT_EQ(nlohmann::json::parse(r.out),
            nlohmann::json::parse(build_report(store->read_trace(base)).dump()));
}

TEST_F(sqlite_store_test, we_read_a_store_python_osprofiler_wrote) {
  DBTRACE_REQUIRE_PYTHON_PEER();
  const auto r = testing::run_python(R"(
import json, sys
import osprofiler.opts
from osprofiler import profiler, notifier
from osprofiler.drivers.sqlalchemy_driver import SQLAlchemyDriver
d = SQLAlchemyDriver(sys.argv[1], project="py", service="api", host="pyhost")
notifier.set(d.notify)
profiler.init("SECRET_KEY")
with profiler.Trace("wsgi", info={"path": "/"}):
    with profiler.Trace("db", info={"db": {"statement": "SELECT 1", "params": {"id": 2}}}):
        pass
base = profiler.get().get_base_id()
print(json.dumps({"base": base, "report": d.get_report(base)}))
)",
                                     {"sqlite:///" + path_});
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  auto store = make_reader(opts_.connection_string);
  const auto traces = store->list_traces(false);
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_EQ(traces[0].base_id, j["base"]);
  EXPECT_EQ(nlohmann::json::parse(build_report(store->read_trace(j["base"])).dump()), j["report"]);
}

}  // namespace
}  // namespace dbtrace
