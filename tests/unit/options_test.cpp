// SPDX-License-Identifier: Apache-2.0
// [profiler] config files and DBTRACE_* overrides; errors name file, line and key.
#include <cstdlib>

#include "test_support.hpp"
#include "dbtrace/detail/library.hpp"
#include "export/registry.hpp"

namespace dbtrace {
namespace {

using testing::write_file;

std::string error_of(const std::string& text) {
  const auto path = write_file("bad.conf", text);
  try {
    load_options(path);
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(options, every_key_of_the_profiler_section_is_read) {
  const auto path = write_file("all.conf", R"(
[DEFAULT]
debug = true
[database]
connection = mysql://nova:secret@db/nova
[profiler]
enabled = True
trace_sqlalchemy = false
hmac_keys = key1, key2
connection_string = file:///tmp/x.jsonl
project = nova
service = api
filter_error_trace = yes
record_params = on
sanitize_statements = 1
max_statement_length = 1024
sample_rate = 0.25
sqlcommenter = true
queue_size = 4096
queue_bytes = 8388608
max_param_length = 256
flush_timeout = 12.5
shutdown_timeout = 2
otlp_endpoint = https://collector.example:4318
otlp_protocol = HTTP/JSON
otlp_headers = api-key=k1,x-team=db
otlp_timeout = 2500
otlp_compression = gzip
otlp_certificate = /etc/ssl/collector-ca.pem
otlp_client_certificate = client.pem
otlp_client_key = keys/client.key
es_doc_type = notification
)");
  const options o = load_options(path);
  EXPECT_TRUE(o.enabled);
  EXPECT_FALSE(o.trace_sql);
  EXPECT_EQ(o.hmac_keys, (std::vector<std::string>{"key1", "key2"}));
  EXPECT_EQ(o.connection_string, "file:///tmp/x.jsonl");
  EXPECT_EQ(o.project, "nova");
  EXPECT_EQ(o.service, "api");
  EXPECT_TRUE(o.filter_error_trace);
  EXPECT_TRUE(o.record_params);
  EXPECT_TRUE(o.sanitize_statements);
  EXPECT_EQ(o.max_statement_length, 1024u);
  EXPECT_DOUBLE_EQ(o.sample_rate, 0.25);
  EXPECT_TRUE(o.sqlcommenter);
  EXPECT_EQ(o.queue_size, 4096u);
  EXPECT_EQ(o.queue_bytes, 8388608u);
  EXPECT_EQ(o.max_param_length, 256u);
  EXPECT_DOUBLE_EQ(o.flush_timeout, 12.5);
  EXPECT_DOUBLE_EQ(o.shutdown_timeout, 2);
  EXPECT_EQ(o.otlp_endpoint, "https://collector.example:4318");
  EXPECT_EQ(o.otlp_protocol, "http/json");
  EXPECT_EQ(o.otlp_headers, "api-key=k1,x-team=db");
  EXPECT_EQ(o.otlp_timeout, 2500u);
  EXPECT_EQ(o.otlp_compression, "gzip");
  EXPECT_EQ(o.otlp_certificate, "/etc/ssl/collector-ca.pem");
  // Relative files are next to the config file, like a relative store.
  EXPECT_EQ(o.otlp_client_certificate, (testing::temp_dir() / "client.pem").string());
  EXPECT_EQ(o.otlp_client_key, (testing::temp_dir() / "keys/client.key").string());
}

TEST(options, defaults_are_those_of_the_design) {
  const options o = load_options(write_file("empty.conf", "[profiler]\n"));
  EXPECT_FALSE(o.enabled);
  EXPECT_TRUE(o.trace_sql);
  EXPECT_EQ(o.hmac_keys, std::vector<std::string>{"SECRET_KEY"});
  EXPECT_EQ(o.connection_string, "sqlite:///dbtrace.db");
  EXPECT_FALSE(o.record_params);
  EXPECT_EQ(o.max_statement_length, 8192u);
  EXPECT_EQ(o.queue_size, 65536u);
  EXPECT_EQ(o.queue_bytes, 64u << 20);
  EXPECT_EQ(o.max_param_length, 1024u);
  EXPECT_DOUBLE_EQ(o.sample_rate, 1.0);
  EXPECT_DOUBLE_EQ(o.flush_timeout, 30);
  EXPECT_DOUBLE_EQ(o.shutdown_timeout, 5);
  EXPECT_EQ(o.otlp_endpoint, "");
  EXPECT_EQ(o.otlp_protocol, "http/protobuf");
  EXPECT_EQ(o.otlp_timeout, 10000u);
  EXPECT_EQ(o.otlp_compression, "none");
}

TEST(options, errors_name_file_line_and_key) {
  EXPECT_EQ(error_of("[profiler]\nenabled = true\nenabeld = true\n"),
            testing::temp_dir().string() +
                "/bad.conf:3: enabeld: unknown key (did you mean enabled?)");
  EXPECT_NE(error_of("[profiler]\n\nenabled = maybe\n")
                .find("bad.conf:3: enabled: expected true or false, got 'maybe'"),
            std::string::npos);
  EXPECT_NE(error_of("[profiler]\nsample_rate = 1.5\n")
                .find(":2: sample_rate: expected a number from 0 to 1"),
            std::string::npos);
  EXPECT_NE(
      error_of("[profiler]\nqueue_size = -3\n").find(":2: queue_size: expected a whole number"),
      std::string::npos);
  // Past the documented limit, refused rather than taking gigabytes at init.
  EXPECT_NE(error_of("[profiler]\nqueue_size = 67108864\n")
                .find(":2: queue_size: expected a whole number from 64 to 1048576"),
            std::string::npos);
  EXPECT_NE(
      error_of("[profiler]\nmax_statement_length = 12abc\n").find(":2: max_statement_length:"),
      std::string::npos);
  // A libpq key=value string is not a store: it is refused without being echoed.
  const auto no_scheme = error_of("[profiler]\nconnection_string = host=db password=s3cret\n");
  EXPECT_NE(no_scheme.find(":2: connection_string: no scheme"), std::string::npos) << no_scheme;
  EXPECT_EQ(no_scheme.find("s3cret"), std::string::npos) << no_scheme;
  EXPECT_NE(error_of("[profiler]\nshutdown_timeout = 0\n")
                .find(":2: shutdown_timeout: expected seconds, more than 0 and at most 3600"),
            std::string::npos);
  EXPECT_NE(error_of("[profiler]\notlp_protocol = grpc\n")
                .find(":2: otlp_protocol: expected http/protobuf or http/json, got 'grpc'"),
            std::string::npos);
  EXPECT_NE(error_of("[profiler]\notlp_compression = zstd\n")
                .find(":2: otlp_compression: expected none or gzip"),
            std::string::npos);
  EXPECT_NE(error_of("[profiler]\notlp_endpoint = collector:4318\n")
                .find(":2: otlp_endpoint: expected an http:// or https:// URL"),
            std::string::npos);
  // Nor a key=value string with a "://" inside: what precedes it is no scheme.
  const auto fake_scheme =
      error_of("[profiler]\nconnection_string = password=s3cret host=file:///x\n");
  EXPECT_NE(fake_scheme.find(":2: connection_string: no scheme"), std::string::npos) << fake_scheme;
  EXPECT_EQ(fake_scheme.find("s3cret"), std::string::npos) << fake_scheme;
  // A connection string on the wrong key is quoted without its password.
  for (const char* line :
       {"enabled = postgresql://app:s3cret@db/app", "sample_rate = host=db password=s3cret",
        "queue_size = redis://:s3cret@cache"}) {
    const auto wrong_key = error_of(std::string("[profiler]\n") + line + "\n");
    EXPECT_NE(wrong_key.find(":2: "), std::string::npos) << wrong_key;
    EXPECT_EQ(wrong_key.find("s3cret"), std::string::npos) << wrong_key;
  }
  EXPECT_NE(error_of("[profiler]\nhmac_keys = ,\n").find(":2: hmac_keys:"), std::string::npos);
  EXPECT_NE(error_of("[profiler\nenabled = true\n").find("bad.conf:1: a [profiler] header without its ']'"),
            std::string::npos);
  try {
    load_options("/nonexistent/app.conf");
    FAIL();
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/app.conf: cannot open the file");
  }
}

TEST(options, environment_overrides_the_file) {
  const auto path = write_file("env.conf", "[profiler]\nenabled = false\nproject = file\n");
  setenv("DBTRACE_ENABLED", "true", 1);
  setenv("DBTRACE_CONNECTION_STRING", "memory://env", 1);
  const options o = load_options(path);
  EXPECT_TRUE(o.enabled);
  EXPECT_EQ(o.connection_string, "memory://env");
  EXPECT_EQ(o.project, "file");
  setenv("DBTRACE_SAMPLE_RATE", "often", 1);
  try {
    load_options(path);
    ADD_FAILURE() << "a bad environment value must be an error";
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find("environment DBTRACE_SAMPLE_RATE: sample_rate:"),
              std::string::npos);
  }
  unsetenv("DBTRACE_ENABLED");
  unsetenv("DBTRACE_CONNECTION_STRING");
  unsetenv("DBTRACE_SAMPLE_RATE");
}

TEST(options, a_key_set_twice_names_both_lines) {
  EXPECT_EQ(error_of("[profiler]\nenabled = true\nproject = a\nenabled = false\n"),
            testing::temp_dir().string() + "/bad.conf:4: enabled: set again (first on line 2)");
  // The same key in another section is someone else's.
  EXPECT_EQ(error_of("[profiler]\nenabled = true\n[other]\nenabled = false\n"), "no error");
}

TEST(options, what_inih_or_oslo_config_would_misread_is_refused) {
  // oslo.config keeps an inline comment in the value: a Python service would
  // sign with another key.
  EXPECT_NE(error_of("[profiler]\nhmac_keys = SECRET_KEY   ; the first signs\n")
                .find("bad.conf:2: an inline comment"),
            std::string::npos);
  EXPECT_EQ(error_of("[profiler]\n; a comment line is fine\nenabled = true\n# so is this\n"),
            "no error");
  EXPECT_EQ(error_of("[other]\nx = 1 ; not ours\n[profiler]\nenabled = true\n"), "no error");
  EXPECT_NE(error_of("[profiler]\nenabled = true\n\n  indented\n")
                .find("bad.conf:4: an indented line that continues no key"),
            std::string::npos);
  EXPECT_NE(error_of("[profiler]\nenabled\n").find("bad.conf:2: not a `key = value` line"),
            std::string::npos);
}

// Debian's inih reads 200 bytes a line; oslo.config any length, and it joins
// indented lines onto the value above them.
TEST(options, lines_of_any_length_and_continuation_lines_are_read_whole) {
  const std::string long_store = "redis://:" + std::string(300, 'k') + "@cache.internal:6379/0";
  const auto path = write_file("long.conf", "[DEFAULT]\ntransport_url = rabbit://" +
                                                std::string(300, 'u') +
                                                "\nnot a key line, nor judged\n[profiler]\n"
                                                "connection_string = " + long_store +
                                                "\nhmac_keys = first-key,\n    second-key,\n"
                                                "\tthird-key\n\nproject = orders\n");
  const options o = load_options(path);
  EXPECT_EQ(o.connection_string, long_store);
  EXPECT_EQ(o.hmac_keys, (std::vector<std::string>{"first-key", "second-key", "third-key"}));
  EXPECT_EQ(o.project, "orders");
  EXPECT_EQ(load_options(write_file("quoted.conf", "[profiler]\nproject = 'shop'\nservice = \"\"\n"))
                .project,
            "shop");
  // Lines are still named by the file's own numbers past a continuation.
  EXPECT_NE(error_of("[profiler]\nhmac_keys = a,\n  b\nsample_rate = 2\n").find("bad.conf:4: "),
            std::string::npos);
}

TEST(options, a_near_miss_section_or_key_gets_did_you_mean) {
  EXPECT_EQ(error_of("[DEFAULT]\ndebug = true\n[profilers]\nenabled = true\n"),
            testing::temp_dir().string() +
                "/bad.conf:3: [profilers]: not a section dbtrace reads (did you mean "
                "[profiler]?); without [profiler] tracing stays off");
  EXPECT_NE(error_of("[profiler]\nhmac_key = k\n").find("unknown key (did you mean hmac_keys?)"),
            std::string::npos);
  // No [profiler] and nothing like it: an OpenStack file without profiling, tracing off.
  EXPECT_EQ(error_of("[DEFAULT]\ndebug = true\n[database]\nconnection = x\n"), "no error");
  EXPECT_FALSE(load_options(write_file("none.conf", "[DEFAULT]\ndebug = true\n")).enabled);
  // The one with [profiler] present is not second-guessed.
  EXPECT_EQ(error_of("[profiler]\nenabled = true\n[profilers]\nx = 1\n"), "no error");
}

// An OpenStack service's files as it really has them: a real-sized main file
// (long URLs, sections dbtrace never reads), an override file and a directory
// of snippets, read in oslo.config's order by both.
TEST(options, several_files_and_a_directory_read_as_oslo_config_reads_them) {
  DBTRACE_REQUIRE_PYTHON_PEER();
  const auto dir = testing::temp_dir() / "nova.conf.d";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string main_file = "[DEFAULT]\ndebug = True\ntransport_url = rabbit://openstack:" +
                          std::string(250, 'r') + "@rabbit1:5672,openstack:" +
                          std::string(40, 's') + "@rabbit2:5672/\n";
  for (int i = 0; i < 40; ++i)
    main_file += "[section_" + std::to_string(i) + "]\nopt_" + std::to_string(i) + " = " +
                 std::string(220, 'v') + "\n    continued\n";
  main_file += "[database]\nconnection = mysql+pymysql://nova:secret@db/nova?charset=utf8\n"
               "[profiler]\nenabled = True\ntrace_sqlalchemy = True\n"
               "hmac_keys = key-one,\n    key-two\n"
               "connection_string = redis://:" + std::string(230, 'p') + "@127.0.0.1:6379/0\n"
               "project = from-main\nservice = from-main\n";
  const auto main_path = write_file("nova.conf", main_file);
  const auto override_path =
      write_file("override.conf", "[profiler]\nproject = from-override\nhmac_keys = \"key-one\"\n");
  std::ofstream(dir / "20-late.conf") << "[profiler]\nservice = from-20\n";
  std::ofstream(dir / "10-early.conf") << "[profiler]\nservice = from-10\nproject = from-10\n";
  std::ofstream(dir / "ignored.txt") << "[profiler]\nservice = not-a-conf-file\n";
  const options o = load_options({main_path, override_path}, dir.string());
  const auto py = testing::run_python(R"(
import json, sys
from oslo_config import cfg
from osprofiler import opts, _utils
conf = cfg.ConfigOpts()
opts.set_defaults(conf)
conf.register_opts([cfg.StrOpt("project"), cfg.StrOpt("service")], group="profiler")
conf(["--config-file", sys.argv[1], "--config-file", sys.argv[2], "--config-dir", sys.argv[3]])
p = conf.profiler
print(json.dumps({"enabled": p.enabled, "trace_sqlalchemy": p.trace_sqlalchemy,
                  "hmac_keys": _utils.split(p.hmac_keys), "connection_string": p.connection_string,
                  "project": p.project, "service": p.service}))
)",
                                      {main_path, override_path, dir.string()});
  ASSERT_EQ(py.status, 0) << py.out;
  const auto j = nlohmann::json::parse(py.out);
  EXPECT_EQ(j["enabled"], o.enabled);
  EXPECT_EQ(j["trace_sqlalchemy"], o.trace_sql);
  EXPECT_EQ(j["hmac_keys"].get<std::vector<std::string>>(), o.hmac_keys);
  EXPECT_EQ(j["connection_string"], o.connection_string);
  EXPECT_EQ(j["project"], o.project);
  EXPECT_EQ(j["service"], o.service);
  // And what both read is what the files say, in that order.
  EXPECT_TRUE(o.enabled);
  EXPECT_EQ(o.hmac_keys, std::vector<std::string>{"key-one"});  // the override's, unquoted
  EXPECT_EQ(o.project, "from-10");
  EXPECT_EQ(o.service, "from-20");
  // A bad file among them is named.
  std::ofstream(dir / "30-bad.conf") << "[profiler]\nsample_rate = 2\n";
  try {
    load_options({main_path}, dir.string());
    ADD_FAILURE() << "a bad file in the directory must be an error";
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find("30-bad.conf:2: sample_rate"), std::string::npos);
  }
}

TEST(options, a_relative_store_path_in_a_file_is_next_to_the_file) {
  const auto dir = testing::temp_dir() / "conf-dir";
  std::filesystem::create_directories(dir);
  const auto path = (dir / "app.conf").string();
  std::ofstream(path) << "[profiler]\nconnection_string = sqlite:///traces/app.db\n";
  EXPECT_EQ(load_options(path).connection_string, "sqlite:///" + (dir / "traces/app.db").string());
  std::ofstream(path, std::ios::trunc) << "[profiler]\nconnection_string = sqlite:////abs/app.db\n";
  EXPECT_EQ(load_options(path).connection_string, "sqlite:////abs/app.db");
  // Not from the file: the default, and the environment, stay as given.
  std::ofstream(path, std::ios::trunc) << "[profiler]\n";
  EXPECT_EQ(load_options(path).connection_string, "sqlite:///dbtrace.db");
  setenv("DBTRACE_CONNECTION_STRING", "sqlite:///env.db", 1);
  EXPECT_EQ(load_options(path).connection_string, "sqlite:///env.db");
  unsetenv("DBTRACE_CONNECTION_STRING");
}

TEST(options, an_environment_variable_that_names_no_key_is_an_error) {
  const auto path = write_file("env2.conf", "[profiler]\n");
  setenv("DBTRACE_RECORD_PARAM", "true", 1);
  try {
    load_options(path);
    ADD_FAILURE() << "a typo in the environment must be an error";
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(),
                 "environment DBTRACE_RECORD_PARAM: record_param: unknown key (did you mean "
                 "record_params?)");
  }
  unsetenv("DBTRACE_RECORD_PARAM");
  setenv("DBTRACE_TEST_SOMETHING", "x", 1);  // dbtrace's own test variables are not options
  EXPECT_NO_THROW(load_options(path));
  unsetenv("DBTRACE_TEST_SOMETHING");
}

TEST(options, try_init_from_file_reports_once_and_leaves_tracing_off) {
  const auto path = write_file("broken.conf", "[profiler]\nenabled = true\nsample_rate = 2\n");
  EXPECT_THROW(init_from_file(path), config_error);
  testing::capture_stderr capture;
  EXPECT_FALSE(try_init_from_file(path));
  const auto said = capture.text();
  EXPECT_EQ(said, "dbtrace: " + path +
                      ":3: sample_rate: expected a number from 0 to 1, got '2'; "
                      "tracing stays off\n");
  EXPECT_FALSE(sql_tracing_enabled());
  const auto good =
      write_file("good.conf", "[profiler]\nenabled = true\nconnection_string = memory://ok\n");
  EXPECT_TRUE(try_init_from_file(good));
  EXPECT_TRUE(sql_tracing_enabled());
  shutdown();
}

// Every `[profiler]` example of the README and the manual, as a user copies it.
std::vector<std::string> readme_config_blocks() {
  const auto readme = testing::user_documentation();
  std::vector<std::string> blocks;
  for (auto start = readme.find("```ini\n[profiler]"); start != std::string::npos;
       start = readme.find("```ini\n[profiler]", start + 1)) {
    const auto end = readme.find("```", start + 6);
    blocks.push_back(readme.substr(start + 7, end - start - 7));
  }
  return blocks;
}

TEST(options, the_readme_blocks_read_the_same_with_oslo_config_and_dbtrace) {
  DBTRACE_REQUIRE_PYTHON_PEER();
  const auto blocks = readme_config_blocks();
  ASSERT_GE(blocks.size(), 2u);  // the general example and the OTLP one
  for (const auto& block : blocks) {
    SCOPED_TRACE(block);
    const auto path = write_file("readme.conf", block);
    const options o = load_options(path);
    // oslo.config with OSProfiler's own options, and the rest as plain strings.
    const auto py = testing::run_python(R"(
import json, sys
from oslo_config import cfg
from osprofiler import opts
conf = cfg.ConfigOpts()
opts.set_defaults(conf)
names = [o.dest for o in opts._PROFILER_OPTS]
extra = ["project", "service", "record_params", "sanitize_statements", "max_statement_length",
         "sample_rate", "queue_size", "flush_timeout", "shutdown_timeout", "otlp_endpoint",
         "otlp_protocol", "otlp_headers", "otlp_timeout", "otlp_compression", "otlp_certificate"]
conf.register_opts([cfg.StrOpt(n) for n in extra], group="profiler")
conf(["--config-file", sys.argv[1]])
p = conf.profiler
print(json.dumps({n: getattr(p, n) for n in ["enabled", "trace_sqlalchemy", "hmac_keys",
                                             "connection_string"] + extra}))
)",
                                        {path});
    ASSERT_EQ(py.status, 0) << py.out;
    const auto j = nlohmann::json::parse(py.out);
    EXPECT_EQ(j["enabled"], o.enabled);
    EXPECT_EQ(j["trace_sqlalchemy"], o.trace_sql);
    std::string keys;
    for (const auto& k : o.hmac_keys) keys += (keys.empty() ? "" : ",") + k;
    EXPECT_EQ(j["hmac_keys"], keys);
    // A relative sqlite:/// path is dbtrace's to take from the file's directory.
    std::string theirs = j["connection_string"];
    const std::string sqlite = "sqlite:///";
    if (theirs.rfind(sqlite, 0) == 0 && theirs.size() > sqlite.size() && theirs[sqlite.size()] != '/')
      theirs = sqlite + (std::filesystem::path(path).parent_path() / theirs.substr(sqlite.size()))
                            .lexically_normal()
                            .string();
    EXPECT_EQ(theirs, o.connection_string);
    // The keys OSProfiler does not know, wherever the block sets them.
    const auto same = [&](const char* key, const std::string& ours) {
      if (!j[key].is_null()) {
        EXPECT_EQ(j[key], ours) << key;
      }
    };
    const auto same_number = [&](const char* key, double ours) {
      if (!j[key].is_null()) {
        EXPECT_DOUBLE_EQ(std::stod(j[key].get<std::string>()), ours) << key;
      }
    };
    same("project", o.project);
    same("service", o.service);
    same("record_params", o.record_params ? "true" : "false");
    same("sanitize_statements", o.sanitize_statements ? "true" : "false");
    same("max_statement_length", std::to_string(o.max_statement_length));
    same_number("sample_rate", o.sample_rate);
    same("queue_size", std::to_string(o.queue_size));
    same_number("flush_timeout", o.flush_timeout);
    same_number("shutdown_timeout", o.shutdown_timeout);
    same("otlp_endpoint", o.otlp_endpoint);
    same("otlp_protocol", o.otlp_protocol);
    same("otlp_headers", o.otlp_headers);
    same("otlp_timeout", std::to_string(o.otlp_timeout));
    same("otlp_compression", o.otlp_compression);
    same("otlp_certificate", o.otlp_certificate);
  }
}

TEST(options, init_refuses_a_store_that_is_not_built_in) {
  options o;
  o.enabled = true;
  o.connection_string = "mongodb://127.0.0.1/traces";  // no such driver
  EXPECT_THROW(init(o), config_error);
  o.connection_string = "sqlite://relative.db";  // needs three slashes
  EXPECT_THROW(init(o), config_error);
  shutdown();
}

TEST(options, passwords_never_appear_in_messages) {
  EXPECT_EQ(redact_connection_string("postgresql://app:s3cret@db:5432/app"),
            "postgresql://app:***@db:5432/app");
  EXPECT_EQ(redact_connection_string("redis://:s3cret@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0");
  EXPECT_EQ(redact_connection_string("dbname=app user=x password=s3cret host=db"),
            "dbname=app user=x password=*** host=db");
  EXPECT_EQ(redact_connection_string("dbname=app password='a b' host=db"),
            "dbname=app password=*** host=db");
  EXPECT_EQ(redact_connection_string("sqlite:///x.db"), "sqlite:///x.db");
  EXPECT_EQ(redact_connection_string("file:///var/log/x.jsonl"), "file:///var/log/x.jsonl");
  EXPECT_EQ(redact_connection_string("otlp://collector:4318"), "otlp://collector:4318");
}

// std::regex recursed per character and overflowed the stack at ~30 KB: a
// password of any length is redacted, in linear time.
TEST(options, a_password_of_any_length_is_redacted_without_overflowing_the_stack) {
  const std::string secret(4 << 20, 's');
  for (const std::string& cs : {"dbname=app password=" + secret + " host=db",
                                "dbname=app password='" + secret + "' host=db",
                                "postgresql://app:" + secret + "@db/app?password=" + secret,
                                // many unclosed quotes: still one pass
                                [] {
                                  std::string many;
                                  for (int i = 0; i < 100000; ++i) many += "password='x ";
                                  return many;
                                }()}) {
    const std::string shown = redact_connection_string(cs);
    EXPECT_EQ(shown.find("sss"), std::string::npos);
    EXPECT_NE(shown.find("***"), std::string::npos);
    EXPECT_EQ(shown.find("'x"), std::string::npos);
  }
}

TEST(options, passwords_with_unencoded_special_characters_are_redacted_whole) {
  // Passwords as people write them, not percent-encoded: '/', '@', '?', '='.
  const std::vector<std::string> secrets{"zx/qw", "zx@qw", "zx?qw=9", "zq/x@w?k"};
  for (const std::string& secret : secrets) {
    for (const std::string& cs : {"redis://:" + secret + "@127.0.0.1:6379/0",
                                  "postgresql://app:" + secret + "@db:5432/app?sslmode=off",
                                  "redis://" + secret + "@cache/0"}) {
      const std::string shown = redact_connection_string(cs);
      SCOPED_TRACE(cs + " -> " + shown);
      // No piece of the password of 3 or more characters survives.
      for (std::size_t i = 0; i + 3 <= secret.size(); ++i)
        EXPECT_EQ(shown.find(secret.substr(i, 3)), std::string::npos);
    }
  }
  EXPECT_EQ(redact_connection_string("redis://:pa/ss@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0");
  EXPECT_EQ(redact_connection_string("redis://s3cret@cache:6379"), "redis://***@cache:6379");
  EXPECT_EQ(redact_connection_string("postgresql://app:p@ss:w/rd@db/app"),
            "postgresql://app:***@db/app");
}

}  // namespace
}  // namespace dbtrace

namespace dbtrace {
namespace {

// What spans record about a connection: namespace, server, port, and never
// any part of a password, however it is written.
TEST(describe_connection, reads_the_target_and_never_the_password) {
  struct example {
    std::string cs, name_space, address;
    int port;
  };
  const std::vector<example> examples = {
      {"postgresql://app:s3cret@db.internal:5433/shop?sslmode=disable", "shop", "db.internal",
       5433},
      {"postgresql://app:s3?cret@127.0.0.1:5432/shop", "shop", "127.0.0.1", 5432},
      {"postgresql://app:s3/cret@127.0.0.1/shop?application_name=x", "shop", "127.0.0.1", 0},
      {"postgresql://app:s3@cret@db/shop", "shop", "db", 0},
      {"postgresql://db/shop?user=app&password=s3cret&port=6432", "shop", "db", 6432},
      {"dbname=shop host=db port=5434 user=app password='s3 cret'", "shop", "db", 5434},
      {"postgresql://dbname=shop host=db password=s3cret", "shop", "db", 0},  // SOCI's form
  };
  for (const auto& e : examples) {
    SCOPED_TRACE(e.cs);
    const auto t = describe_connection("postgresql", e.cs);
    EXPECT_EQ(t.name_space, e.name_space);
    EXPECT_EQ(t.address, e.address);
    EXPECT_EQ(t.port, e.port);
    for (const auto& field : {t.name_space, t.address})
      EXPECT_EQ(field.find("cret"), std::string::npos) << field;
  }
}

// The registry is the one list of schemes: a store the application
// registered is named from a config file like a built-in one, and an unknown
// scheme is refused at init with the schemes this process serves.
TEST(options, a_registered_stores_scheme_is_accepted_from_a_config_file) {
  register_store({{"mystore://"},
                  [](const store_params& p) {
                    store_params in_memory = p;
                    in_memory.connection_string = "memory://mine";
                    return make_writer(in_memory);
                  },
                  {}});
  options o = load_options(write_file("mine.conf", "[profiler]\nenabled = true\n"
                                                   "connection_string = mystore://x\n"));
  EXPECT_EQ(o.connection_string, "mystore://x");
  EXPECT_NO_THROW(init(o));
  shutdown();

  o = load_options(write_file("mongo.conf", "[profiler]\nenabled = true\n"
                                            "connection_string = mongodb://x\n"));
  try {
    init(o);
    ADD_FAILURE() << "init took mongodb://";
  } catch (const config_error& e) {
    const std::string said = e.what();
    EXPECT_EQ(said.rfind("connection_string: unknown scheme 'mongodb://' (this dbtrace serves ",
                         0),
              0u)
        << said;
    for (const char* served : {"sqlite://", "file://", "memory://", "mystore://"})
      EXPECT_NE(said.find(served), std::string::npos) << served << " in " << said;
  }
}

// With shared libraries the PostgreSQL, Redis and OTLP stores are libraries
// of their own, loaded by scheme: the schemes the core lists for each before
// loading it are the ones it serves, and they are offered when a scheme is unknown.
TEST(options, a_store_in_a_library_of_its_own_serves_the_schemes_the_core_lists_for_it) {
  const auto loadable = detail::loadable_stores();
  if (loadable.empty()) GTEST_SKIP() << "static libraries: every store is linked into the core";
  std::string said;
  try {
    store_params unknown;
    unknown.connection_string = "nosuch://x";
    make_writer(unknown);
  } catch (const config_error& e) {
    said = e.what();
  }
  for (const auto& store : loadable) {
    std::string error;
    auto* entry = reinterpret_cast<void (*)(store_kind&)>(
        detail::library_symbol(store.file, "dbtrace_store_" + store.name, error));
    ASSERT_NE(entry, nullptr) << store.file << ": " << error;
    store_kind kind;
    entry(kind);
    EXPECT_EQ(kind.schemes, store.schemes) << store.name;
    EXPECT_NE(said.find(store.schemes.front()), std::string::npos) << store.name << " in " << said;
  }
}

// OSProfiler's usual setting names a transport dbtrace has not: the message
// says so and names what to use instead.
TEST(options, osprofilers_messaging_scheme_gets_a_hint_at_the_shared_stores) {
  options o;
  o.enabled = true;
  o.connection_string = "messaging://";
  try {
    init(o);
    ADD_FAILURE() << "init took messaging://";
  } catch (const config_error& e) {
    const std::string said = e.what();
    EXPECT_NE(said.find("oslo.messaging"), std::string::npos) << said;
    EXPECT_NE(said.find("redis://"), std::string::npos) << said;
  }
}

// Every store reads its connection string through one parser: a port that is
// not a number is refused (redis://h:abc once meant port 0), and so at load.
TEST(connection_uri, is_read_one_way_and_a_bad_port_is_refused) {
  const auto u = parse_connection_uri("redis://user:p@ss/w@cache.example:6380/2?a=b&c");
  EXPECT_EQ(u.scheme, "redis");
  EXPECT_EQ(u.user, "user");
  EXPECT_EQ(u.password, "p@ss/w");  // up to the last '@'
  EXPECT_EQ(u.host, "cache.example");
  EXPECT_EQ(u.port, 6380);
  EXPECT_EQ(u.path, "/2");
  EXPECT_EQ(u.query,
            (std::vector<std::pair<std::string, std::string>>{{"a", "b"}, {"c", ""}}));
  const auto v6 = parse_connection_uri("otlp://[::1]:4318");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 4318);
  const auto file = parse_connection_uri("sqlite:////var/lib/x@y.db");
  EXPECT_EQ(file.host, "");
  EXPECT_EQ(file.user, "");
  EXPECT_EQ(file.path, "//var/lib/x@y.db");  // no authority: an '@' is the file's
  for (const char* bad : {"redis://h:abc", "redis://h:0", "redis://h:65536", "otlp://h:-1",
                          "redis://:s3cret@h:x1"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(parse_connection_uri(bad), config_error);
    const auto said = connection_uri_problem(bad);
    EXPECT_NE(said.find("is not a number from 1 to 65535"), std::string::npos) << said;
    EXPECT_EQ(said.find("s3cret"), std::string::npos) << said;
  }
  EXPECT_NE(error_of("[profiler]\nconnection_string = redis://cache:abc\n")
                .find(":2: connection_string: the port in the redis:// URI is not a number"),
            std::string::npos);
  // The '@host' forgotten: the "port" is the password, and is never quoted
  // (nor is a password= inside it, which redaction cannot see there).
  for (const char* forgot : {"postgresql://app:s3cret/shop", "postgresql://u:pp\316password=s3cret"}) {
    SCOPED_TRACE(forgot);
    const auto said = connection_uri_problem(forgot);
    EXPECT_EQ(said.find("s3cret"), std::string::npos) << said;
    EXPECT_NE(said.find("write user:password@host"), std::string::npos) << said;
  }
  // What a store is handed is refused by its writer too (registered or built in).
  EXPECT_THROW(make_writer({"redis://cache:abc", "host", "p", "s", false}), config_error);
  EXPECT_THROW(make_writer({"redis://cache/zero", "host", "p", "s", false}), config_error);
}

}  // namespace
}  // namespace dbtrace
