// SPDX-License-Identifier: Apache-2.0
// The dbtrace command on stores with known content.
#include "osprofiler_samples.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

const std::string cli = DBTRACE_CLI;

// The OSProfiler example trace as a JSON-lines store, newest first (Redis order).
std::string example_store() {
  std::string lines;
  for (const auto& e : testing::example_raw_events()) lines += e.dump() + "\n";
  return testing::write_file("example.jsonl", lines);
}

const std::string example_base = "2ed17421-3818-479d-9762-0d4e295a70ea";

TEST(cli, show_json_prints_osprofilers_report) {
  const auto store = example_store();
  const auto r = testing::run(cli + " trace show " + example_base +
                              " --json --connection-string file://" + store);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse(testing::report_example().dump()));
}

// An event whose info nests 100,000 deep (a hostile or broken store) once
// crashed every format of `trace show` (rendering it recursed that deep): the
// event is skipped, the rest of the trace shown; a report file like it is refused.
TEST(cli, show_survives_an_event_and_a_report_that_nest_100000_deep) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto events = testing::example_raw_events();
  auto hostile = events.front();
  std::string lines;
  for (const auto& e : events) lines += e.dump() + "\n";
  std::string hostile_line = hostile.dump();
  hostile_line.insert(hostile_line.rfind('}'), ", \"deep\": " + deep);
  const auto store = testing::write_file("deep.jsonl", hostile_line + "\n" + lines);
  for (const char* format : {"--json", "--tree", "--html", "--dot", "--chrome", "--otlp"}) {
    const auto r = testing::run(cli + " trace show " + example_base + " " + format +
                                " --connection-string file://" + store + " >/dev/null 2>&1");
    EXPECT_EQ(r.status, 0) << format;
  }
  const auto report = testing::write_file(
      "deep_report.json",
      R"({"info": {"name": "total"}, "children": [{"info": {"x": )" + deep + "}}]}");
  const auto r = testing::run(cli + " trace show " + report + " --json 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("deeper than 128 levels"), std::string::npos) << r.out;
}

TEST(cli, output_that_cannot_be_written_is_a_failure) {
  const auto store = example_store();
  const auto r = testing::run(cli + " trace show " + example_base +
                              " --json --connection-string file://" + store + " 2>&1 >/dev/full");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("cannot write to standard output: No space left on device"),
            std::string::npos)
      << r.out;
}

TEST(cli, a_duration_or_limit_that_is_not_a_number_is_a_usage_error) {
  const auto store = example_store();
  for (const std::string& args :
       {"trace show " + example_base + " --min-duration nanms",
        "trace show " + example_base + " --min-duration infs",
        "trace show " + example_base + " --min-duration ' 1ms'",
        std::string("trace list --limit -1"), std::string("trace list --since 1e300d")}) {
    const auto r =
        testing::run(cli + " " + args + " --connection-string file://" + store + " 2>&1");
    EXPECT_EQ(r.status, 2) << args << ": " << r.out;
  }
}

TEST(cli, a_trace_id_in_upper_case_is_found) {
  const auto store = example_store();
  std::string upper = example_base;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto r =
      testing::run(cli + " trace show " + upper + " --json --connection-string file://" + store);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse(testing::report_example().dump()));
}

TEST(cli, show_writes_to_out_and_defaults_to_the_tree) {
  const auto store = example_store();
  const auto out = (testing::temp_dir() / "tree.txt").string();
  const auto r = testing::run("DBTRACE_CONNECTION_STRING=file://" + store + " " + cli +
                              " trace show " + example_base + " --out " + out);
  ASSERT_EQ(r.status, 0);
  EXPECT_TRUE(r.out.empty());
  const auto tree = testing::read_file(out);
  EXPECT_NE(tree.find("  request  +0.000ms"), std::string::npos) << tree;
  EXPECT_NE(tree.find("SELECT id, name, val FROM items WHERE id = ?"), std::string::npos) << tree;
}

TEST(cli, list_takes_its_store_from_the_environment) {
  const auto store = example_store();
  const auto line = example_base + "\t2026-11-25T17:52:08.296938\t3.120\t7\t6\t1\tpeer/interop\n";
  auto r = testing::run("DBTRACE_CONNECTION_STRING=file://" + store + " " + cli + " trace list");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out, line);
  r = testing::run("OSPROFILER_CONNECTION_STRING=file://" + store + " " + cli +
                   " trace list --error-trace");
  EXPECT_EQ(r.out, line);  // it has a failed statement
}

// A JSON-lines store holding the example trace under the base_id `base`.
std::string store_with(const std::string& name, const std::string& base) {
  std::string lines;
  for (auto e : testing::example_raw_events()) {
    if (e["parent_id"] == e["base_id"]) e["parent_id"] = base;
    e["base_id"] = base;
    lines += e.dump() + "\n";
  }
  return testing::write_file(name, lines);
}

TEST(cli, the_store_is_found_in_one_documented_order) {
  const std::string a = "aaaaaaaa-0000-4000-8000-000000000000",
                    b = "bbbbbbbb-0000-4000-8000-000000000000",
                    c = "cccccccc-0000-4000-8000-000000000000",
                    d = "dddddddd-0000-4000-8000-000000000000";
  const auto flag = "--connection-string file://" + store_with("a.jsonl", a);
  const auto dbtrace_env = "DBTRACE_CONNECTION_STRING=file://" + store_with("b.jsonl", b);
  const auto osprofiler_env = "OSPROFILER_CONNECTION_STRING=file://" + store_with("c.jsonl", c);
  const auto config = testing::write_file(
      "cli.conf", "[profiler]\nconnection_string = file://" + store_with("d.jsonl", d) + "\n");
  const auto first_id = [&](const std::string& env, const std::string& args) {
    return testing::run("env -u DBTRACE_CONNECTION_STRING -u OSPROFILER_CONNECTION_STRING " + env +
                        " " + cli + " trace list " + args + " | cut -c1-8")
        .out;
  };
  const auto all_env = dbtrace_env + " " + osprofiler_env;
  EXPECT_EQ(first_id(all_env, flag + " --config " + config), "aaaaaaaa\n");
  EXPECT_EQ(first_id(all_env, "--config " + config), "bbbbbbbb\n");
  EXPECT_EQ(first_id(osprofiler_env, "--config " + config), "cccccccc\n");
  EXPECT_EQ(first_id("", "--config " + config), "dddddddd\n");
}

// The files an OpenStack service is started with: `--config-file` as often
// as given, then `--config-dir`'s *.conf files by name, the last one to set
// connection_string winning, as oslo.config reads them.
TEST(cli, several_config_files_and_a_config_dir_are_read_in_oslo_configs_order) {
  const std::string a = "aaaaaaaa-0000-4000-8000-000000000000",
                    b = "bbbbbbbb-0000-4000-8000-000000000000",
                    c = "cccccccc-0000-4000-8000-000000000000";
  const auto store_line = [&](const std::string& name, const std::string& base) {
    return "[profiler]\nconnection_string = file://" + store_with(name, base) + "\n";
  };
  const auto base_conf = testing::write_file("service.conf", store_line("cf-a.jsonl", a));
  const auto override_conf = testing::write_file("override.conf", store_line("cf-b.jsonl", b));
  const auto dir = testing::temp_dir() / "service.conf.d";
  std::filesystem::create_directories(dir);
  testing::write_file("service.conf.d/10-store.conf", store_line("cf-c.jsonl", c));
  testing::write_file("service.conf.d/20-other.conf", "[profiler]\nenabled = true\n");
  testing::write_file("service.conf.d/99-ignored.txt", store_line("cf-a2.jsonl", a));
  const auto first_id = [&](const std::string& args) {
    return testing::run("env -u DBTRACE_CONNECTION_STRING -u OSPROFILER_CONNECTION_STRING " + cli +
                        " " + args + " | cut -c1-8")
        .out;
  };
  EXPECT_EQ(first_id("trace list --config-file " + base_conf), "aaaaaaaa\n");
  EXPECT_EQ(first_id("trace list --config-file " + base_conf + " --config " + override_conf),
            "bbbbbbbb\n");
  EXPECT_EQ(first_id("trace list --config-file " + override_conf + " --config-file " + base_conf),
            "aaaaaaaa\n");
  EXPECT_EQ(first_id("--config-dir " + dir.string() + " trace list --config-file " + base_conf +
                     " --config-file " + override_conf),
            "cccccccc\n");
  EXPECT_EQ(first_id("trace list --config-dir " + dir.string()), "cccccccc\n");
  const auto missing =
      testing::run(cli + " trace list --config-dir " + dir.string() + "/none 2>&1");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.out.find("/none"), std::string::npos) << missing.out;
}

// Copies of the example trace under the given ids, each a minute after the last.
std::string traces_store(const std::vector<std::string>& bases) {
  std::string lines;
  for (std::size_t i = 0; i < bases.size(); ++i)
    for (auto e : testing::example_raw_events()) {
      if (e["parent_id"] == e["base_id"]) e["parent_id"] = bases[i];
      e["base_id"] = bases[i];
      auto ts = e["timestamp"].get<std::string>();  // 2026-11-25T17:52:08.296938
      ts[15] = static_cast<char>('2' + i);          // the minute's last digit
      e["timestamp"] = ts;
      lines += e.dump() + "\n";
    }
  return testing::write_file("three.jsonl", lines);
}

TEST(cli, trace_show_takes_a_unique_start_of_the_id) {
  const std::vector<std::string> bases = {"abcd1111-0000-4000-8000-000000000000",
                                          "abcd2222-0000-4000-8000-000000000000",
                                          "ef000000-0000-4000-8000-000000000000"};
  const auto cs = " --connection-string file://" + traces_store(bases);
  auto r = testing::run(cli + " trace show ABCD2 --json" + cs);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(bases[1]), std::string::npos);
  EXPECT_EQ(r.out.find(bases[0]), std::string::npos);
  r = testing::run(cli + " trace show abcd --json" + cs + " 2>&1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("2 traces start with abcd (" + bases[0] + ", " + bases[1] +
                       "): give more of the id"),
            std::string::npos)
      << r.out;
  r = testing::run(cli + " trace show 9999 --json" + cs + " 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("no trace starts with 9999"), std::string::npos) << r.out;
}

TEST(cli, an_unknown_trace_or_unreachable_store_is_one_line_and_nonzero) {
  const auto store = example_store();
  auto r = testing::run(
      cli + " trace show 00000000-0000-4000-8000-000000000000 --connection-string file://" + store +
      " 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out,
            "dbtrace: no trace 00000000-0000-4000-8000-000000000000 in file://" + store + "\n");
  r = testing::run(cli + " trace list --connection-string sqlite:////nonexistent/x.db 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "dbtrace: /nonexistent/x.db: no such trace store\n");
  r = testing::run(cli +
                   " trace list --connection-string 'postgresql://u:hunter2@127.0.0.1:1/x' 2>&1");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out.find("hunter2"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

TEST(cli, version_help_and_usage_errors_have_their_own_exit_codes) {
  auto r = testing::run(cli + " --version");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "dbtrace " DBTRACE_VERSION_FOR_TESTS "\n");
  r = testing::run(cli + " --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("trace"), std::string::npos);
  r = testing::run(cli + " frobnicate 2>&1");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "dbtrace: unknown command or option 'frobnicate' (see dbtrace --help)\n");
  r = testing::run(cli + " trase list 2>&1");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out,
            "dbtrace: unknown command or option 'trase' (did you mean 'trace'?) (see dbtrace "
            "--help)\n");
  r = testing::run(cli + " trace shwo x 2>&1");
  EXPECT_NE(r.out.find("(did you mean 'show'?)"), std::string::npos) << r.out;
  r = testing::run(cli + " trace list --colour 2>&1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("'--colour'"), std::string::npos) << r.out;
  r = testing::run(cli + " trace show 2>&1");  // the base_id is missing
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  r = testing::run(cli + " trace list --connection-string nosuch://x 2>&1");
  EXPECT_EQ(r.status, 2);  // a configuration error
}

}  // namespace
}  // namespace dbtrace
