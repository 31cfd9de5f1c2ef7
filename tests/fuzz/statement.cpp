// SPDX-License-Identifier: Apache-2.0
// Statement texts as applications send them: sanitized, truncated and
// classified without a crash; a cut text is bounded and as valid UTF-8 as its
// input; and a literal embedded in a statement never survives sanitizing, in
// standard SQL or in MySQL's quoting.
#include "config/statement_text.hpp"
#include "dbtrace/osprofiler_event.hpp"
#include "fuzz_support.hpp"

namespace {

// `text` as the body of a single-quoted SQL literal ('' for ').
std::string sql_literal(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// `text` as a MySQL string in `quote`s (a backslash escapes).
std::string mysql_literal(std::string_view text, char quote) {
  std::string out(1, quote);
  for (const char c : text) {
    if (c == quote || c == '\\') out += '\\';
    out += c;
  }
  return out + quote;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dbtrace;
  const std::string_view sql(reinterpret_cast<const char*>(data), size);
  const std::string sanitized = detail::sanitize_sql(sql);
  fuzz::must(sanitized.size() <= size, "sanitizing only replaces and collapses");

  const std::size_t limit = size % 97 + 16;
  const std::string cut = detail::truncate_statement(sql, limit);
  fuzz::must(cut.size() <= limit + 64, "a cut statement is bounded");
  if (valid_utf8(sql) == sql) fuzz::must(valid_utf8(cut) == cut, "a cut keeps UTF-8 valid");

  const std::string operation = detail::operation_name(sql);
  const std::string collection = detail::collection_name(sql);
  const std::string summary = detail::query_summary(operation, collection);
  fuzz::must(summary.size() <= operation.size() + collection.size() + 1,
             "a summary is its operation and collection");

  // The input as a secret inside literals: none of it may be left.
  const std::string secret = "Zq" + std::string(sql.substr(0, 64)) + "qZ";
  const std::string tag = "$t$";
  for (const std::string& statement :
       {"SELECT * FROM users WHERE token = " + sql_literal(secret) + " AND id = 1",
        "UPDATE users SET note = E" + sql_literal(secret) + " WHERE id IN (1, 2)"}) {
    const std::string out = detail::sanitize_sql(statement);
    fuzz::must(out.find(secret) == std::string::npos, "a quoted literal is replaced");
  }
  for (const char quote : {'\'', '"'}) {
    const std::string out = detail::sanitize_sql(
        "SELECT * FROM users WHERE token = " + mysql_literal(secret, quote) + " AND id = 1",
        detail::sql_dialect::mysql);
    fuzz::must(out.find(secret) == std::string::npos, "a MySQL string is replaced");
  }
  if (secret.find("$t$") == std::string::npos) {
    const std::string out = detail::sanitize_sql("SELECT " + tag + secret + tag + " FROM t");
    fuzz::must(out.find(secret) == std::string::npos, "a dollar-quoted literal is replaced");
  }
  return 0;
}
