// SPDX-License-Identifier: Apache-2.0
// How statement texts are recorded: sanitized, truncated on UTF-8 boundaries, classified.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config/statement_text.hpp"
#include "dbtrace/osprofiler_event.hpp"

namespace dbtrace::detail {
namespace {

TEST(sanitize_sql, literals_become_placeholders) {
  EXPECT_EQ(sanitize_sql("SELECT * FROM users WHERE name = 'bob' AND age > 42"),
            "SELECT * FROM users WHERE name = ? AND age > ?");
  EXPECT_EQ(sanitize_sql("UPDATE t SET x = 1.5e10, y = -3, z = 0xFF, b = TRUE"),
            "UPDATE t SET x = ?, y = -?, z = ?, b = ?");
  EXPECT_EQ(sanitize_sql("SELECT 'it''s', X'0A0B', E'a\\'b'"), "SELECT ?, ?, ?");
}

TEST(sanitize_sql, placeholders_identifiers_and_comments_stay) {
  EXPECT_EQ(sanitize_sql("SELECT t1.c2 FROM t1 WHERE id = $1 AND k = :key AND v = ?"),
            "SELECT t1.c2 FROM t1 WHERE id = $1 AND k = :key AND v = ?");
  EXPECT_EQ(sanitize_sql("SELECT \"weird 'col'\" FROM t /* keep 'this' */ -- and 42\n"),
            "SELECT \"weird 'col'\" FROM t /* keep 'this' */ -- and 42\n");
}

TEST(sanitize_sql, mysql_strings_in_double_quotes_and_backslash_escapes_are_hidden) {
  EXPECT_EQ(dialect_of("mysql"), sql_dialect::mysql);
  EXPECT_EQ(dialect_of("mariadb"), sql_dialect::mysql);
  EXPECT_EQ(dialect_of("postgresql"), sql_dialect::standard);
  const std::string sql =
      R"(SELECT * FROM `users` WHERE name = "bo\"b" AND pw = 'it\'s secret' # 'a note)";
  EXPECT_EQ(sanitize_sql(sql, sql_dialect::mysql),
            "SELECT * FROM `users` WHERE name = ? AND pw = ? # 'a note");
  EXPECT_EQ(sanitize_sql(R"(INSERT INTO t VALUES ("a""b", 'c''d'))", sql_dialect::mysql),
            "INSERT INTO t VALUES (?, ?)");
  // The same text in standard SQL: "…" names a column, a backslash is a character.
  EXPECT_EQ(sanitize_sql(R"(SELECT "pw" FROM t WHERE a = 'x\' AND b = 1)"),
            R"(SELECT "pw" FROM t WHERE a = ? AND b = ?)");
}

TEST(sanitize_sql, in_lists_collapse) {
  EXPECT_EQ(sanitize_sql("SELECT * FROM t WHERE id IN (1, 2, 3) AND s in ('a','b')"),
            "SELECT * FROM t WHERE id IN (?) AND s in (?)");
  EXPECT_EQ(sanitize_sql("INSERT INTO t VALUES (1, 2)"), "INSERT INTO t VALUES (?, ?)");
}

TEST(truncate_statement, cuts_on_a_character_boundary_and_says_so) {
  EXPECT_EQ(truncate_statement("SELECT 1", 100), "SELECT 1");
  const std::string accented = "SELECT '\xC3\xA9\xC3\xA9\xC3\xA9'";  // é is two bytes
  const auto cut = truncate_statement(accented, 10);                 // would split the second é
  EXPECT_EQ(cut.substr(0, 10), "SELECT '\xC3\xA9");
  EXPECT_NE(cut.find("[dbtrace: truncated, 15 bytes]"), std::string::npos);
}

TEST(sanitize_sql, dollar_quoted_literals_become_placeholders) {
  EXPECT_EQ(sanitize_sql("SELECT $$secret$$"), "SELECT ?");
  EXPECT_EQ(sanitize_sql("SELECT $tag$it's $$ secret$tag$, $1, x$y FROM t"),
            "SELECT ?, $1, x$y FROM t");
  EXPECT_EQ(sanitize_sql("DO $body$ BEGIN PERFORM 'x'; END $body$"), "DO ?");
  EXPECT_EQ(sanitize_sql("SELECT $q$never closed"), "SELECT ?");  // cut off: nothing leaks
}

TEST(operation_name, is_the_leading_keyword) {
  EXPECT_EQ(operation_name("  select * from t"), "SELECT");
  EXPECT_EQ(operation_name("/* app */ -- x\n INSERT INTO t VALUES (1)"), "INSERT");
  EXPECT_EQ(operation_name("(SELECT 1) UNION (SELECT 2)"), "SELECT");
  EXPECT_EQ(operation_name("42"), "");
}

TEST(append_json_string, writes_python_style_ascii_and_survives_invalid_utf8) {
  using dbtrace::append_json_string;
  std::string out;
  append_json_string(out, "caf\xC3\xA9 \"q\"\n");
  EXPECT_EQ(out, "\"caf\\u00e9 \\\"q\\\"\\n\"");
  out.clear();
  append_json_string(out, "bad \xFF\xFE byte");
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), "bad \xEF\xBF\xBD\xEF\xBF\xBD byte");
}

TEST(valid_utf8, replaces_only_what_is_invalid) {
  EXPECT_EQ(dbtrace::valid_utf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(dbtrace::valid_utf8("a\xFF"
                                "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(dbtrace::valid_utf8(std::string("nul\0byte", 8)), std::string("nul\0byte", 8));
}

TEST(collection_name, is_the_first_table_named) {
  EXPECT_EQ(collection_name("SELECT name FROM users WHERE id = ?"), "users");
  EXPECT_EQ(collection_name("insert into \"Orders\" (a) values (1)"), "Orders");
  EXPECT_EQ(collection_name("UPDATE app.items SET x = 1"), "app.items");
  EXPECT_EQ(collection_name("SELECT fromage FROM cheese"), "cheese");
  EXPECT_EQ(collection_name("SELECT 1"), "");
  EXPECT_EQ(collection_name("SELECT * FROM (SELECT 1) AS t"), "");
  EXPECT_EQ(collection_name("SELECT * FROM `shop`.`orders`", sql_dialect::mysql), "shop.orders");
  EXPECT_EQ(query_summary("SELECT", "users"), "SELECT users");
  EXPECT_EQ(query_summary("BEGIN", ""), "BEGIN");
  EXPECT_EQ(query_summary("", "users"), "");
}

}  // namespace
}  // namespace dbtrace::detail

namespace dbtrace::detail {
namespace {

// Sanitizing, the operation and the collection read SQL one way (one
// tokenizer): a keyword inside a string literal or a comment is no keyword.
TEST(collection_name, is_never_read_inside_a_literal_or_a_comment) {
  EXPECT_EQ(collection_name("SELECT 'a from b' AS x FROM users"), "users");
  EXPECT_EQ(collection_name("/* FROM cache */ SELECT * FROM users"), "users");
  EXPECT_EQ(collection_name("SELECT 1 -- FROM cache\nFROM users"), "users");
  EXPECT_EQ(collection_name("SELECT $$ FROM x $$ FROM users"), "users");
  EXPECT_EQ(collection_name("SELECT \"from\" FROM users"), "users");  // a quoted column
  EXPECT_EQ(collection_name("SELECT \"a from b\" FROM users", sql_dialect::mysql), "users");
  EXPECT_EQ(collection_name("SELECT 1 # FROM cache\nFROM users", sql_dialect::mysql), "users");
  EXPECT_EQ(collection_name("SELECT * FROM /* the table */ users"), "users");
  EXPECT_EQ(operation_name("/* SELECT */ 'x' DELETE"), "");
  EXPECT_EQ(operation_name("-- UPDATE\n( ( select 1))"), "SELECT");
}

}  // namespace
}  // namespace dbtrace::detail
