// [profiler] config files and DBTRACE_* overrides; errors name file, line and key.
#include <cstdlib>

#include "test_support.hpp"

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
  EXPECT_DOUBLE_EQ(o.sample_rate, 1.0);
}

TEST(options, errors_name_file_line_and_key) {
  EXPECT_EQ(error_of("[profiler]\nenabled = true\nenabeld = true\n"),
            testing::temp_dir().string() + "/bad.conf:3: enabeld: unknown key");
  EXPECT_NE(error_of("[profiler]\n\nenabled = maybe\n")
                .find("bad.conf:3: enabled: expected true or false, got 'maybe'"),
            std::string::npos);
  EXPECT_NE(error_of("[profiler]\nsample_rate = 1.5\n")
                .find(":2: sample_rate: expected a number from 0 to 1"),
            std::string::npos);
  EXPECT_NE(
      error_of("[profiler]\nqueue_size = -3\n").find(":2: queue_size: expected a whole number"),
      std::string::npos);
  EXPECT_NE(
      error_of("[profiler]\nmax_statement_length = 12abc\n").find(":2: max_statement_length:"),
      std::string::npos);
  EXPECT_NE(error_of("[profiler]\nconnection_string = mongodb://x\n")
                .find(":2: connection_string: unknown scheme"),
            std::string::npos);
  EXPECT_NE(error_of("[profiler]\nhmac_keys = ,\n").find(":2: hmac_keys:"), std::string::npos);
  EXPECT_NE(error_of("[profiler\nenabled = true\n").find("bad.conf:1: not a `key = value`"),
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
