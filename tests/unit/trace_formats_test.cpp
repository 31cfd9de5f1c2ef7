// SPDX-License-Identifier: Apache-2.0
// `dbtrace trace show` in every format, and `trace list`, on stores with
// known content: the trace make_trace records, and OSProfiler's example trace.
#include <map>

#include "osprofiler_samples.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

const std::string cli = DBTRACE_CLI;

struct known_trace {
  std::string store, base_id;
  nlohmann::json expected;  // what make_trace says it recorded
};

// make_trace's trace, recorded once per test program.
const known_trace& recorded() {
  static const known_trace t = [] {
    known_trace k;
    k.store = (testing::temp_dir() / "formats.jsonl").string();
    std::filesystem::remove(k.store);
    const auto r = testing::run(std::string(DBTRACE_MAKE_TRACE) + " " + k.store);
    if (r.status != 0) throw std::runtime_error("make_trace failed: " + r.out);
    k.expected = nlohmann::json::parse(r.out);
    k.base_id = k.expected["base_id"];
    return k;
  }();
  return t;
}

testing::command_result show(const std::string& format, const std::string& extra = "") {
  const auto& t = recorded();
  return testing::run(cli + " trace show " + t.base_id + " " + format + " " + extra +
                      " --connection-string file://" + t.store);
}

bool tool_available(const std::string& tool) {
  return testing::run("command -v " + tool + " >/dev/null 2>&1").status == 0;
}

#define REQUIRE_TOOL(tool)                                    \
  if (!tool_available(tool)) {                                \
    if (testing::under_ci()) {                                \
      FAIL() << tool << " is missing (scripts/deps.sh test)"; \
    }                                                         \
    GTEST_SKIP() << tool << " is missing";                    \
  }

TEST(trace_show, the_tree_shows_errors_rows_params_and_span_info) {
  const auto r = show("--tree");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("  1 error\n"), std::string::npos) << r.out;
  // The failed statement with its message and SQLSTATE, on its own line.
  std::istringstream lines(r.out);
  std::string line, failed, rpc, read;
  while (std::getline(lines, line)) {
    if (line.find("order_audit") != std::string::npos) failed = line;
    if (line.find("  rpc  ") != std::string::npos) rpc = line;
    if (read.empty() && line.find("FROM orders WHERE user_id") != std::string::npos) read = line;
  }
  EXPECT_NE(failed.find("! pqxx::undefined_table: ERROR: relation \"order_audit\" does not exist "
                        "(SQLSTATE 42P01)"),
            std::string::npos)
      << failed;
  EXPECT_NE(rpc.find("function=load_orders"), std::string::npos) << rpc;
  EXPECT_NE(read.find("3 rows"), std::string::npos) << read;
  EXPECT_NE(read.find("params=[7]"), std::string::npos) << read;
  EXPECT_EQ(r.out.find("\033["), std::string::npos) << "no colour when piped";
  // Depth shows as indentation: the rpc's statements sit below it.
  EXPECT_EQ(rpc.find("rpc"), 4u);
  EXPECT_EQ(read.find("db"), 6u);
}

TEST(trace_show, min_duration_leaves_out_fast_spans) {
  const auto all = show("--tree");
  const auto slow = show("--tree", "--min-duration 1900us");
  ASSERT_EQ(slow.status, 0);
  // Expected: the full tree's lines of spans that last 1.9 ms or more, under
  // parents that do too (a left-out span takes its children with it).
  std::istringstream in(all.out);
  std::string line, expected;
  std::getline(in, line);
  expected = line + "\n";  // the header
  std::vector<bool> kept_at_depth;
  while (std::getline(in, line)) {
    const auto indent = line.find_first_not_of(' ');
    const auto depth = indent / 2 - 1;
    // "  name  +start  duration ...": the duration follows the start.
    const auto start = line.find("  +", indent);
    const double ms = std::stod(line.substr(line.find("  ", start + 3) + 2));
    kept_at_depth.resize(depth + 1);
    kept_at_depth[depth] = ms >= 1.9 && (depth == 0 || kept_at_depth[depth - 1]);
    if (kept_at_depth[depth]) expected += line + "\n";
  }
  EXPECT_EQ(slow.out, expected);
  EXPECT_LT(slow.out.size(), all.out.size());
  const auto bad = show("--tree", "--min-duration fast 2>&1");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("'fast' is not a duration"), std::string::npos) << bad.out;
}

TEST(trace_show, dot_renders_with_graphviz_and_labels_as_osprofiler_does) {
  REQUIRE_TOOL("dot");
  const auto dot_file = (testing::temp_dir() / "trace.dot").string();
  const auto r = show("--dot", "--out " + dot_file);
  ASSERT_EQ(r.status, 0);
  const auto dot = testing::read_file(dot_file);
  // The rpc span sleeps 17 ms in its statements: whole milliseconds, as OSProfiler labels.
  const auto rpc = dot.find("label=\"orders-api:rpc - ");
  ASSERT_NE(rpc, std::string::npos) << dot;
  EXPECT_GE(std::stoi(dot.substr(rpc + 24)), 17) << dot.substr(rpc, 40);
  EXPECT_NE(dot.find("orders-api:wsgi - "), std::string::npos);
  EXPECT_NE(dot.find("\\nGET /orders/7"), std::string::npos);
  const auto svg = testing::run("dot -Tsvg " + dot_file + " 2>&1");
  ASSERT_EQ(svg.status, 0) << svg.out;
  // One node per span plus the total, one edge per span.
  const auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (auto at = svg.out.find(what); at != std::string::npos; at = svg.out.find(what, at + 1))
      ++n;
    return n;
  };
  const auto spans = recorded().expected["names"].size();
  EXPECT_EQ(count("class=\"node\""), spans + 1);
  EXPECT_EQ(count("class=\"edge\""), spans);
  EXPECT_NE(svg.out.find("&lt;/script&gt;"), std::string::npos) << "the hostile text is escaped";
}

TEST(trace_show, chrome_trace_events_nest_per_process_with_sql_in_args) {
  const auto r = show("--chrome");
  ASSERT_EQ(r.status, 0);
  const auto doc = nlohmann::json::parse(r.out);
  std::vector<nlohmann::json> slices;
  int processes = 0;
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] == "M") ++processes;
    if (e["ph"] == "X" || e["ph"] == "b") slices.push_back(e);
  }
  EXPECT_EQ(processes, 1);  // one service
  ASSERT_EQ(slices.size(), recorded().expected["names"].size());
  // Complete events on one thread must nest: each starts after the previous
  // one ended or ends inside it.
  std::vector<double> open_ends;
  std::map<std::string, int> names;
  for (const auto& e : slices) {
    ++names[e["name"].get<std::string>()];
    if (e["ph"] != "X") continue;
    const double ts = e["ts"], end = ts + e["dur"].get<double>();
    while (!open_ends.empty() && open_ends.back() <= ts) open_ends.pop_back();
    if (!open_ends.empty()) {
      EXPECT_LE(end, open_ends.back()) << e.dump();
    }
    open_ends.push_back(end);
  }
  EXPECT_EQ(names["wsgi"], 1);
  EXPECT_EQ(names["SELECT orders"], 5);  // SQL slices are named by db.query.summary
  bool failed_seen = false;
  for (const auto& e : slices)
    if (e["args"].value("db.query.text", "") == recorded().expected["failed_statement"]) {
      failed_seen = true;
      EXPECT_EQ(e["args"]["db.response.status_code"], "42P01");
      EXPECT_EQ(e["args"]["error.type"], "pqxx::undefined_table");
    }
  EXPECT_TRUE(failed_seen);
}

TEST(trace_show, spans_of_one_process_that_overlap_become_async_events) {
  // Two sibling spans of one service that overlap (two threads of one request).
  const std::string base = "11111111-2222-4333-8444-555555555555";
  const auto ev = [&](const std::string& name, const std::string& id, const std::string& ts) {
    return nlohmann::json{{"name", name},      {"base_id", base},        {"trace_id", id},
                          {"parent_id", base}, {"project", "p"},         {"service", "s"},
                          {"timestamp", ts},   {"info", {{"host", "h"}}}}
        .dump();
  };
  const auto a = "aaaaaaaa-2222-4333-8444-555555555555", b = "bbbbbbbb-2222-4333-8444-555555555555";
  const auto store = testing::write_file(
      "overlap.jsonl", ev("work-start", a, "2026-11-26T10:00:00.000000") + "\n" +
                           ev("work-start", b, "2026-11-26T10:00:00.001000") + "\n" +
                           ev("work-stop", a, "2026-11-26T10:00:00.002000") + "\n" +
                           ev("work-stop", b, "2026-11-26T10:00:00.003000") + "\n");
  const auto r =
      testing::run(cli + " trace show " + base + " --chrome --connection-string file://" + store);
  ASSERT_EQ(r.status, 0);
  std::map<std::string, int> phases;
  const auto doc = nlohmann::json::parse(r.out);
  for (const auto& e : doc["traceEvents"]) ++phases[e["ph"].get<std::string>()];
  EXPECT_EQ(phases["X"], 1) << r.out;
  EXPECT_EQ(phases["b"], 1);
  EXPECT_EQ(phases["e"], 1);
}

// Found by the stored-events fuzzer: a store may hold any year up to 9999,
// and nanoseconds since 1970 overflow past 2262.
TEST(trace_show, a_trace_from_far_in_the_future_is_shown_without_overflow) {
  const std::string base = "11111111-2222-4333-8444-555555555555";
  const std::string id = "aaaaaaaa-2222-4333-8444-555555555555";
  const auto ev = [&](const std::string& name, const std::string& ts) {
    return nlohmann::json{{"name", name},      {"base_id", base},        {"trace_id", id},
                          {"parent_id", base}, {"project", "p"},         {"service", "s"},
                          {"timestamp", ts},   {"info", {{"host", "h"}}}}
        .dump();
  };
  const auto store = testing::write_file(
      "future.jsonl", ev("work-start", "9999-12-31T23:59:58.000000") + "\n" +
                          ev("work-stop", "9999-12-31T23:59:59.500000") + "\n");
  const auto list = testing::run(cli + " trace list --connection-string file://" + store);
  ASSERT_EQ(list.status, 0);
  EXPECT_NE(list.out.find("9999-12-31"), std::string::npos) << list.out;
  const auto otlp =
      testing::run(cli + " trace show " + base + " --otlp --connection-string file://" + store);
  ASSERT_EQ(otlp.status, 0);
  const auto span = nlohmann::json::parse(otlp.out)["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  // Clamped to what fixed64 nanoseconds since 1970 can say, never wrapped around.
  EXPECT_EQ(span["startTimeUnixNano"], std::to_string(INT64_MAX / 1000 * 1000));
}

// A store written by another tool may hold bytes that are not UTF-8 (in the
// project, say): every output shows them as U+FFFD rather than fail.
TEST(trace_show, invalid_utf8_in_a_stored_event_is_shown_not_fatal) {
  const std::string base = "11111111-2222-4333-8444-555555555555";
  const std::string id = "aaaaaaaa-2222-4333-8444-555555555555";
  std::string lines;
  for (const char* name : {"work-start", "work-stop"})
    lines += std::string("{\"name\": \"") + name + "\", \"base_id\": \"" + base +
             "\", \"trace_id\": \"" + id + "\", \"parent_id\": \"" + base +
             "\", \"project\": \"sh\xFFop\", \"service\": \"s\", \"timestamp\": "
             "\"2026-11-26T10:00:00.000000\", \"info\": {\"host\": \"h\"}}\n";
  const auto store = testing::write_file("bad-bytes.jsonl", lines);
  for (const char* format : {"--json", "--tree", "--dot", "--chrome", "--otlp", "--html"}) {
    const auto r = testing::run(cli + " trace show " + base + " " + format +
                                " --out /dev/stdout --connection-string file://" + store + " 2>&1");
    EXPECT_EQ(r.status, 0) << format << ": " << r.out;
  }
  const auto list = testing::run(cli + " trace list --connection-string file://" + store + " 2>&1");
  EXPECT_EQ(list.status, 0) << list.out;
}

TEST(trace_show, otlp_file_decodes_with_the_official_definitions) {
  REQUIRE_TOOL("node");
  const std::string otlp_dir = std::string(DBTRACE_SOURCE_DIR) + "/tests/otlp";
  if (!std::filesystem::exists(otlp_dir + "/node_modules/@opentelemetry/otlp-transformer")) {
    if (testing::under_ci())
      FAIL() << "tests/otlp/node_modules missing (scripts/test.sh installs it)";
    GTEST_SKIP() << "tests/otlp/node_modules missing";
  }
  const auto file = (testing::temp_dir() / "trace.otlp.json").string();
  ASSERT_EQ(show("--otlp", "--out " + file).status, 0);
  const auto decoded = testing::run("cd " + otlp_dir + " && node decode.js " + file + " 2>&1");
  ASSERT_EQ(decoded.status, 0) << decoded.out;
  const auto req = nlohmann::json::parse(decoded.out);
  const auto& spans = req["resourceSpans"][0]["scopeSpans"][0]["spans"];
  ASSERT_EQ(spans.size(), recorded().expected["names"].size());
  std::string trace_hex = recorded().base_id;
  trace_hex.erase(std::remove(trace_hex.begin(), trace_hex.end(), '-'), trace_hex.end());
  std::size_t roots = 0, clients = 0;
  for (const auto& s : spans) {
    EXPECT_EQ(s["traceId"], trace_hex);
    roots += !s.contains("parentSpanId");
    clients += s.value("kind", 0) == 3;
    if (s["status"].value("code", 0) == 2) {
      EXPECT_EQ(s["status"]["message"], recorded().expected["message"]);
    }
  }
  EXPECT_EQ(roots, 1u);
  EXPECT_EQ(clients, 12u);  // the SQL spans
}

TEST(trace_show, html_embeds_the_trace_so_that_no_text_breaks_out) {
  const auto r = show("--html");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("<!DOCTYPE html>", 0), 0u);
  // The hostile statement's "</script>" and "<img" never appear as markup.
  EXPECT_EQ(r.out.find("</script><img"), std::string::npos);
  EXPECT_NE(r.out.find("\\u003c/script>\\u003cimg src=x"), std::string::npos);
  EXPECT_EQ(r.out.find("http://"), std::string::npos);
  EXPECT_EQ(r.out.find("https://"), std::string::npos);
}

TEST(trace_show, reads_a_report_file_as_osprofiler_trace_show_does) {
  // A report of a store keeping whole events (JSON lines here): exact times.
  const auto report = (testing::temp_dir() / "report.json").string();
  ASSERT_EQ(show("--json", "--out " + report).status, 0);
  const auto from_store = show("--tree");
  const auto from_file = testing::run(cli + " trace show " + report + " --tree");
  ASSERT_EQ(from_file.status, 0) << from_file.out;
  EXPECT_EQ(from_file.out, from_store.out);
  // OSProfiler's own report of its example trace (a SQL store keeps only
  // {"info": ...}; the times are its whole milliseconds).
  const auto osprofiler = testing::run(cli + " trace show " + std::string(DBTRACE_TEST_DATA) +
                                       "/osprofiler/report_example.json --json");
  ASSERT_EQ(osprofiler.status, 0) << osprofiler.out;
  EXPECT_EQ(nlohmann::json::parse(osprofiler.out)["children"].size(),
            testing::report_example()["children"].size());
  const auto missing = testing::run(cli + " trace show /nonexistent/report.json 2>&1");
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.out,
            "dbtrace: /nonexistent/report.json is neither a trace id nor a readable report file\n");
}

// Two traces: OSProfiler's example (one error, 7 spans) and a copy of it an
// hour earlier under another id, without the error.
std::string two_trace_store() {
  std::string lines;
  for (auto e : testing::example_raw_events()) {
    lines += e.dump() + "\n";
    const std::string base = e["base_id"];
    e["base_id"] = "3ed17421-3818-479d-9762-0d4e295a70ea";
    if (e["parent_id"] == base) e["parent_id"] = e["base_id"];
    std::string ts = e["timestamp"];
    ts[12] = static_cast<char>(ts[12] - 1);  // 17:52 -> 16:52
    e["timestamp"] = ts;
    e["info"].erase("etype");
    lines += e.dump() + "\n";
  }
  return testing::write_file("two.jsonl", lines);
}

TEST(trace_list, shows_start_duration_spans_sql_errors_and_service) {
  const auto store = two_trace_store();
  auto r = testing::run(cli + " trace list --connection-string file://" + store);
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "2ed17421-3818-479d-9762-0d4e295a70ea\t2026-11-25T17:52:08.296938\t3."
            "120\t7\t6\t1\tpeer/interop\n"
            "3ed17421-3818-479d-9762-0d4e295a70ea\t2026-11-25T16:52:08.296938\t3."
            "120\t7\t6\t0\tpeer/interop\n");
  r = testing::run(cli + " trace list --json --connection-string file://" + store);
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["base_id"], "2ed17421-3818-479d-9762-0d4e295a70ea");
  EXPECT_EQ(j[0]["spans"], 7);
  EXPECT_EQ(j[0]["sql"], 6);
  EXPECT_EQ(j[0]["errors"], 1);
  EXPECT_EQ(j[1]["errors"], 0);
  EXPECT_DOUBLE_EQ(j[0]["duration_ms"].get<double>(), 3.12);
  EXPECT_EQ(j[0]["service"], "interop");
}

TEST(trace_list, sorts_limits_and_filters) {
  const auto store = two_trace_store();
  const auto ids = [&](const std::string& flags) {
    const auto r = testing::run(cli + " trace list " + flags + " --connection-string file://" +
                                store + " | cut -c1-8 | tr '\\n' ' '");
    return r.out;
  };
  // Newest first: the request just made is the one looked for.
  EXPECT_EQ(ids(""), "2ed17421 3ed17421 ");
  EXPECT_EQ(ids("--reverse"), "3ed17421 2ed17421 ");
  EXPECT_EQ(ids("--sort errors"), "2ed17421 3ed17421 ");
  EXPECT_EQ(ids("--sort errors --reverse"), "3ed17421 2ed17421 ");
  EXPECT_EQ(ids("--error-trace"), "2ed17421 ");
  EXPECT_EQ(ids("--limit 1"), "2ed17421 ");
  EXPECT_EQ(ids("--limit 1 --reverse"), "3ed17421 ");
  EXPECT_EQ(ids("--since 2026-11-25T17:00:00"), "2ed17421 ");
  EXPECT_EQ(ids("--since 2026-11-26"), "");
  EXPECT_EQ(ids("--since 1h"), "");  // both are older than an hour
  const auto bad = testing::run(cli + " trace list --since yesterday --connection-string file://" +
                                store + " 2>&1");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("'yesterday' is neither"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace dbtrace

namespace dbtrace {
namespace {

// What a person at a terminal gets (script(1) gives the command a terminal).
TEST(trace_output, a_terminal_gets_a_header_and_colour_and_a_pipe_neither) {
  REQUIRE_TOOL("script");
  const auto& t = recorded();
  const auto at_terminal = [&](const std::string& args) {
    return testing::run("script -qc '" + cli + " " + args + " --connection-string file://" +
                        t.store + "' /dev/null");
  };
  const auto list = at_terminal("trace list");
  EXPECT_EQ(list.out.rfind("BASE ID ", 0), 0u) << list.out;
  EXPECT_NE(list.out.find(t.base_id + "  "), std::string::npos) << "aligned with blanks, not tabs";
  const auto tree = at_terminal("trace show " + t.base_id);
  EXPECT_NE(tree.out.find("\033[31m! pqxx::undefined_table"), std::string::npos) << tree.out;
  const auto plain = testing::run("NO_COLOR=1 script -qc '" + cli + " trace show " + t.base_id +
                                  " --connection-string file://" + t.store + "' /dev/null");
  EXPECT_EQ(plain.out.find("\033["), std::string::npos) << "NO_COLOR is honoured";
}

}  // namespace
}  // namespace dbtrace
