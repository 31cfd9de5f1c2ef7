// How a statement's text is prepared for recording: sanitized, truncated,
// escaped and classified, once per distinct statement.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dbtrace::detail {

// Literals (strings, numbers, hex, booleans) become `?`; `IN (?, ?, ?)` collapses
// to `IN (?)`. Placeholders (`?`, `$1`, `:name`), identifiers and comments stay.
std::string sanitize_sql(std::string_view sql);

// Cuts `text` to at most `limit` bytes on a UTF-8 boundary and marks the cut.
std::string truncate_statement(std::string_view text, std::size_t limit);

// The statement's leading keyword, uppercased ("SELECT"), skipping blanks and comments.
std::string operation_name(std::string_view sql);

// `text` as a JSON string literal the way Python's json.dumps writes it
// (ensure_ascii); invalid UTF-8 becomes U+FFFD instead of failing.
void append_json_string(std::string& out, std::string_view text);

}  // namespace dbtrace::detail
