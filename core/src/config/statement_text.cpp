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

// Copies a comment starting at `i` (if any) and returns the index past it.
std::size_t skip_comment(std::string_view s, std::size_t i, std::string* out,
                         sql_dialect dialect = sql_dialect::standard) {
  const bool hash = s[i] == '#' && dialect == sql_dialect::mysql;
  if (s[i] != '-' && s[i] != '/' && !hash) return i;
  std::size_t end = i;
  if (hash || s.compare(i, 2, "--") == 0) {
    end = s.find('\n', i);
    end = end == std::string_view::npos ? s.size() : end;
  } else if (s.compare(i, 2, "/*") == 0) {
    end = s.find("*/", i + 2);
    end = end == std::string_view::npos ? s.size() : end + 2;
  }
  if (out) out->append(s.substr(i, end - i));
  return end;
}

}  // namespace

sql_dialect dialect_of(std::string_view system) {
  return system == "mysql" || system == "mariadb" || system == "tidb" ? sql_dialect::mysql
                                                                      : sql_dialect::standard;
}

std::string sanitize_sql(std::string_view s, sql_dialect dialect) {
  const bool mysql = dialect == sql_dialect::mysql;
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    const std::size_t after_comment = skip_comment(s, i, &out, dialect);
    if (after_comment != i) {
      i = after_comment;
      continue;
    }
    if (c == '\'' || (c == '"' && mysql) ||
        ((c == 'x' || c == 'X' || c == 'E' || c == 'e' || c == 'B' || c == 'b') &&
         i + 1 < s.size() && s[i + 1] == '\'' && (i == 0 || !is_word_char(s[i - 1])))) {
      const char quote = c == '"' ? '"' : '\'';
      const bool backslash_escapes = mysql || c == 'E' || c == 'e';
      std::size_t j = s.find(quote, i) + 1;  // opening quote
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
      out.push_back('?');
      i = j < s.size() ? j + 1 : s.size();
      continue;
    }
    if (c == '"' || c == '`') {  // quoted identifier: kept
      const std::size_t j = s.find(c, i + 1);
      const std::size_t end = j == std::string_view::npos ? s.size() : j + 1;
      out.append(s.substr(i, end - i));
      i = end;
      continue;
    }
    if (c == '$' && (i == 0 || !is_word_char(s[i - 1]))) {
      // PostgreSQL dollar quoting: $$…$$ or $tag$…$tag$ (a tag does not start
      // with a digit, so $1 stays a placeholder).
      std::size_t j = i + 1;
      if (j < s.size() && !is_digit(s[j]))
        while (j < s.size() && s[j] != '$' && is_word_char(s[j])) ++j;
      if (j < s.size() && s[j] == '$') {
        const std::string_view delimiter = s.substr(i, j - i + 1);
        const std::size_t close = s.find(delimiter, j + 1);
        out.push_back('?');
        i = close == std::string_view::npos ? s.size() : close + delimiter.size();
        continue;
      }
    }
    if ((c == '$' || c == ':' || c == '@') && i + 1 < s.size() && is_word_char(s[i + 1])) {
      std::size_t j = i + 1;  // placeholder: $1, :name, @p
      while (j < s.size() && is_word_char(s[j])) ++j;
      out.append(s.substr(i, j - i));
      i = j;
      continue;
    }
    if (is_digit(c) || (c == '.' && i + 1 < s.size() && is_digit(s[i + 1]))) {
      if (i > 0 && is_word_char(s[i - 1])) {  // part of an identifier like t1
        out.push_back(c);
        ++i;
        continue;
      }
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
      out.push_back('?');
      i = j;
      continue;
    }
    if (is_word_char(c)) {
      std::size_t j = i;
      while (j < s.size() && is_word_char(s[j])) ++j;
      const std::string_view word = s.substr(i, j - i);
      if (iequals(word, "TRUE") || iequals(word, "FALSE"))
        out.push_back('?');
      else
        out.append(word);
      i = j;
      continue;
    }
    out.push_back(c);
    ++i;
  }
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

std::string operation_name(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (std::isspace(static_cast<unsigned char>(s[i])) || s[i] == '(') {
      ++i;
      continue;
    }
    const std::size_t after = skip_comment(s, i, nullptr);
    if (after == i) break;
    i = after;
  }
  std::string op;
  while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i])) && op.size() < 32)
    op.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(s[i++]))));
  return op;
}

std::string collection_name(std::string_view sql) {
  static const char* keywords[] = {"FROM", "INTO", "UPDATE", "JOIN", "TABLE"};
  std::string upper(sql);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::size_t best = std::string::npos, after = 0;
  for (const char* k : keywords) {
    const std::size_t len = std::strlen(k);
    for (std::size_t pos = upper.find(k); pos != std::string::npos; pos = upper.find(k, pos + 1)) {
      const std::size_t end = pos + len;
      const bool word = (pos == 0 || !is_word_char(upper[pos - 1])) && end < upper.size() &&
                        std::isspace(static_cast<unsigned char>(upper[end]));
      if (!word) continue;
      if (pos < best) {
        best = pos;
        after = end;
      }
      break;
    }
  }
  if (best == std::string::npos) return {};
  std::size_t i = after;
  while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
  std::string name;
  for (; i < sql.size() && (is_word_char(sql[i]) || sql[i] == '.' || sql[i] == '"'); ++i)
    if (sql[i] != '"') name.push_back(sql[i]);
  return name;
}

std::string query_summary(const std::string& operation, const std::string& collection) {
  if (operation.empty()) return {};
  return collection.empty() ? operation : operation + " " + collection;
}

}  // namespace dbtrace::detail
