// SPDX-License-Identifier: Apache-2.0
// How a statement's text is prepared for recording: sanitized, truncated,
// escaped and classified, once per distinct statement.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dbtrace::detail {

// How a statement's quotes read. Standard SQL (PostgreSQL, SQLite, …): '…' is
// a string, "…" an identifier. MySQL and its kin: both are strings, a
// backslash escapes inside them, and # starts a comment.
enum class sql_dialect : unsigned char { standard, mysql };

// The dialect of a db.system.name ("mysql", "mariadb", "tidb": mysql).
sql_dialect dialect_of(std::string_view system);

// A piece of SQL text, [begin, end), as the dialect reads it.
struct sql_token {
  enum kind_t : unsigned char {
    blank,              // white space
    comment,            // -- …, /* … */, # … (MySQL)
    literal,            // a string, number, hex/bit string, $$dollar$$ string, TRUE/FALSE
    quoted_identifier,  // "name" (standard), `name`
    placeholder,        // $1, :name, @p
    word,               // a keyword or an identifier
    other,              // one character: punctuation, an operator
  } kind;
  std::size_t begin, end;
};

// The token that starts at `i` (< sql.size()). Sanitizing, the operation and
// the collection all read SQL through it, so none of them reads SQL inside a
// string literal or a comment.
sql_token next_sql_token(std::string_view sql, std::size_t i, sql_dialect dialect);

// Literals (strings, numbers, hex, booleans) become `?`; `IN (?, ?, ?)` collapses
// to `IN (?)`. Placeholders (`?`, `$1`, `:name`), identifiers and comments stay.
std::string sanitize_sql(std::string_view sql, sql_dialect dialect = sql_dialect::standard);

// Where to cut `text` to at most `limit` bytes: on a UTF-8 character boundary,
// at most 3 bytes before `limit` (a character is at most 4). Text that is not
// UTF-8 there (a run of continuation bytes) is cut at `limit`, never emptied:
// its invalid bytes are replaced when it is recorded.
std::size_t utf8_cut(std::string_view text, std::size_t limit) noexcept;

// Cuts `text` to at most `limit` bytes on a UTF-8 boundary and marks the cut.
// `whole_size` is the size of the statement `text` starts (when `text` is
// already a cut of it): the mark says that size.
std::string truncate_statement(std::string_view text, std::size_t limit);
std::string truncate_statement(std::string_view text, std::size_t limit, std::size_t whole_size);

// The statement's leading keyword, uppercased ("SELECT"), skipping blanks,
// comments and opening parentheses.
std::string operation_name(std::string_view sql, sql_dialect dialect = sql_dialect::standard);

// The table a statement names after its first FROM / INTO / UPDATE / JOIN /
// TABLE keyword (db.collection.name), quotes removed; empty when there is
// none (FROM (SELECT …)). Keywords inside literals and comments are not read.
std::string collection_name(std::string_view sql, sql_dialect dialect = sql_dialect::standard);

// db.query.summary: "SELECT users", or the operation alone; empty without one.
std::string query_summary(const std::string& operation, const std::string& collection);

}  // namespace dbtrace::detail
