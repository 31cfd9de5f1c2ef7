// SPDX-License-Identifier: Apache-2.0
// Statement text preparation; runs at intern time, off the per-execution path.
#include "statement_text.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <nlohmann/json.hpp>

namespace dbtrace::detail {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_word_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || is_digit(c) || c == '_' || c == '$' ||
         u >= 0x80;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

// One reading of SQL text for sanitizing, the operation and the collection:
// what is inside a string literal or a comment is never read as SQL.
sql_token next_sql_token(std::string_view s, std::size_t i, sql_dialect dialect) {
  const bool mysql = dialect == sql_dialect::mysql;
  const char c = s[i];
  const auto until = [&](std::size_t end, sql_token::kind_t kind) {
    return sql_token{kind, i, end == std::string_view::npos ? s.size() : end};
  };
  if ((c == '#' && mysql) || s.compare(i, 2, "--") == 0)
    return until(s.find('\n', i), sql_token::comment);
  if (s.compare(i, 2, "/*") == 0) {
    const std::size_t close = s.find("*/", i + 2);
    return until(close == std::string_view::npos ? close : close + 2, sql_token::comment);
  }
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
    std::size_t j = i + 1;
    while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    return until(j, sql_token::blank);
  }
  if (c == '\'' || (c == '"' && mysql) ||
      ((c == 'x' || c == 'X' || c == 'E' || c == 'e' || c == 'B' || c == 'b') && i + 1 < s.size() &&
       s[i + 1] == '\'')) {
    const char quote = c == '"' ? '"' : '\'';
    const bool backslash_escapes = mysql || c == 'E' || c == 'e';
    std::size_t j = s.find(quote, i) + 1;  // past the opening quote
    while (j < s.size()) {
      if (s[j] == quote && j + 1 < s.size() && s[j + 1] == quote)
        j += 2;  // doubled quote
      else if (s[j] == '\\' && backslash_escapes && j + 1 < s.size())
        j += 2;
      else if (s[j] == quote)
        break;
      else
        ++j;
    }
    return until(j < s.size() ? j + 1 : s.size(), sql_token::literal);
  }
  if (c == '"' || c == '`') {
    const std::size_t close = s.find(c, i + 1);
    return until(close == std::string_view::npos ? close : close + 1,
                 sql_token::quoted_identifier);
  }
  if (c == '$') {
    // PostgreSQL dollar quoting: $$…$$ or $tag$…$tag$ (a tag does not start
    // with a digit, so $1 stays a placeholder).
    std::size_t j = i + 1;
    if (j < s.size() && !is_digit(s[j]))
      while (j < s.size() && s[j] != '$' && is_word_char(s[j])) ++j;
    if (j < s.size() && s[j] == '$') {
      const std::string_view delimiter = s.substr(i, j - i + 1);
      const std::size_t close = s.find(delimiter, j + 1);
      return until(close == std::string_view::npos ? close : close + delimiter.size(),
                   sql_token::literal);
    }
  }
  if ((c == '$' || c == ':' || c == '@') && i + 1 < s.size() && is_word_char(s[i + 1])) {
    std::size_t j = i + 1;  // $1, :name, @p
    while (j < s.size() && is_word_char(s[j])) ++j;
    return until(j, sql_token::placeholder);
  }
  if (is_digit(c) || (c == '.' && i + 1 < s.size() && is_digit(s[i + 1]))) {
    std::size_t j = i;
    if (s.compare(i, 2, "0x") == 0 || s.compare(i, 2, "0X") == 0) {
      j += 2;
      while (j < s.size() && std::isxdigit(static_cast<unsigned char>(s[j]))) ++j;
    } else {
      while (j < s.size() && (is_digit(s[j]) || s[j] == '.')) ++j;
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        std::size_t k = j + 1;
        if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
        if (k < s.size() && is_digit(s[k])) {
          j = k;
          while (j < s.size() && is_digit(s[j])) ++j;
        }
      }
    }
    return until(j, sql_token::literal);
  }
  if (is_word_char(c)) {
    std::size_t j = i;
    while (j < s.size() && is_word_char(s[j])) ++j;
    const std::string_view word = s.substr(i, j - i);
    return until(j, iequals(word, "TRUE") || iequals(word, "FALSE") ? sql_token::literal
                                                                     : sql_token::word);
  }
  return until(i + 1, sql_token::other);
}

namespace {

// The tokens of `s` one by one: `each(token)` returns false to stop.
template <typename F>
void for_each_sql_token(std::string_view s, sql_dialect dialect, F each) {
  for (std::size_t i = 0; i < s.size();) {
    const sql_token t = next_sql_token(s, i, dialect);
    if (!each(t)) return;
    i = t.end;
  }
}

}  // namespace

sql_dialect dialect_of(std::string_view system) {
  return system == "mysql" || system == "mariadb" || system == "tidb" ? sql_dialect::mysql
                                                                      : sql_dialect::standard;
}

std::string sanitize_sql(std::string_view s, sql_dialect dialect) {
  std::string out;
  out.reserve(s.size());
  for_each_sql_token(s, dialect, [&](const sql_token& t) {
    if (t.kind == sql_token::literal)
      out.push_back('?');
    else
      out.append(s.substr(t.begin, t.end - t.begin));
    return true;
  });
  // IN (?, ?, ?) -> IN (?): a list of only placeholders-from-literals collapses.
  std::string collapsed;
  collapsed.reserve(out.size());
  for (std::size_t k = 0; k < out.size();) {
    if (out[k] == '(') {
      std::size_t j = k + 1, items = 0;
      bool only_marks = true;
      while (j < out.size() && out[j] != ')') {
        const char ch = out[j];
        if (ch == '?')
          ++items;
        else if (ch != ',' && ch != ' ' && ch != '\t' && ch != '\n') {
          only_marks = false;
          break;
        }
        ++j;
      }
      std::size_t w = collapsed.size();
      while (w > 0 && collapsed[w - 1] == ' ') --w;
      const bool after_in = w >= 2 && iequals(std::string_view(collapsed).substr(w - 2, 2), "IN") &&
                            (w == 2 || !is_word_char(collapsed[w - 3]));
      if (only_marks && after_in && items > 1 && j < out.size()) {
        collapsed += "(?)";
        k = j + 1;
        continue;
      }
    }
    collapsed.push_back(out[k++]);
  }
  return collapsed;
}

std::size_t utf8_cut(std::string_view text, std::size_t limit) noexcept {
  if (limit >= text.size()) return text.size();
  for (std::size_t cut = limit; cut + 3 >= limit && cut > 0; --cut)
    if ((static_cast<unsigned char>(text[cut]) & 0xC0) != 0x80) return cut;
  return limit;
}

std::string truncate_statement(std::string_view text, std::size_t limit) {
  return truncate_statement(text, limit, text.size());
}

std::string truncate_statement(std::string_view text, std::size_t limit, std::size_t whole_size) {
  if (text.size() <= limit && whole_size <= text.size()) return std::string(text);
  std::string out(text.substr(0, utf8_cut(text, limit)));
  out +=
      "... [dbtrace: truncated, " + std::to_string(std::max(whole_size, text.size())) + " bytes]";
  return out;
}

std::string operation_name(std::string_view sql, sql_dialect dialect) {
  std::string op;
  for_each_sql_token(sql, dialect, [&](const sql_token& t) {
    if (t.kind == sql_token::blank || t.kind == sql_token::comment ||
        (t.kind == sql_token::other && sql[t.begin] == '('))
      return true;
    for (std::size_t i = t.begin; t.kind == sql_token::word && i < t.end && op.size() < 32 &&
                                  std::isalpha(static_cast<unsigned char>(sql[i]));
         ++i)
      op.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i]))));
    return false;
  });
  return op;
}

std::string collection_name(std::string_view sql, sql_dialect dialect) {
  enum { looking, after_keyword, in_name } state = looking;
  std::string name;
  for_each_sql_token(sql, dialect, [&](const sql_token& t) {
    const std::string_view text = sql.substr(t.begin, t.end - t.begin);
    if (t.kind == sql_token::comment) return state != in_name;
    switch (state) {
      case looking:
        if (t.kind == sql_token::word)
          for (const char* keyword : {"FROM", "INTO", "UPDATE", "JOIN", "TABLE"})
            if (iequals(text, keyword)) state = after_keyword;
        return true;
      case after_keyword:
        if (t.kind == sql_token::blank) return true;
        state = in_name;
        [[fallthrough]];
      case in_name:
        // schema.table, each part a word or a quoted identifier (quotes removed)
        if (t.kind == sql_token::word)
          name.append(text);
        else if (t.kind == sql_token::quoted_identifier)
          name.append(text.substr(1, text.size() >= 2 && text.back() == text.front()
                                         ? text.size() - 2
                                         : text.size() - 1));
        else if (t.kind == sql_token::other && text == ".")
          name.push_back('.');
        else
          return false;
        return true;
    }
    return false;
  });
  return name;
}

std::string query_summary(const std::string& operation, const std::string& collection) {
  if (operation.empty()) return {};
  return collection.empty() ? operation : operation + " " + collection;
}

}  // namespace dbtrace::detail
