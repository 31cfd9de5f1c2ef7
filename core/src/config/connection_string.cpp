// What connection strings say: the target a span records (never the
// password), and the redacted form that messages print.
#include <cctype>
#include <cstdlib>
#include <string_view>

#include "dbtrace/driver.hpp"
#include "dbtrace/sql.hpp"

namespace dbtrace {

namespace {

// A URI scheme and its "://" at the start of `cs` (RFC 3986: a letter, then
// letters, digits, '+', '-', '.'): the length of both, or 0.
std::size_t scheme_length(const std::string& cs) {
  if (cs.empty() || !std::isalpha(static_cast<unsigned char>(cs[0]))) return 0;
  std::size_t i = 1;
  while (i < cs.size() && (std::isalnum(static_cast<unsigned char>(cs[i])) || cs[i] == '+' ||
                           cs[i] == '-' || cs[i] == '.'))
    ++i;
  return cs.compare(i, 3, "://") == 0 ? i + 3 : 0;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// At `i`, a password key (password, pwd, pass; any case), blanks, '=' and
// blanks: the position after them, or npos.
std::size_t after_password_key(const std::string& s, std::size_t i) {
  for (const std::string_view key : {"password", "pwd", "pass"}) {
    if (s.size() - i < key.size()) continue;
    bool same = true;
    for (std::size_t k = 0; same && k < key.size(); ++k)
      same = std::tolower(static_cast<unsigned char>(s[i + k])) == key[k];
    if (!same) continue;
    std::size_t j = i + key.size();
    while (j < s.size() && is_blank(s[j])) ++j;
    if (j == s.size() || s[j] != '=') continue;
    ++j;
    while (j < s.size() && is_blank(s[j])) ++j;
    return j;
  }
  return std::string::npos;
}

}  // namespace

// One pass over the text, no regex: a connection string may be of any length
// (std::regex's matcher recurses per character and overflowed the stack).
std::string redact_connection_string(const std::string& cs) {
  std::string out = cs;
  // URI userinfo: scheme://user:secret@host -> scheme://user:***@host. The
  // userinfo ends at the *last* '@': passwords are often not percent-encoded
  // and may hold '/', '?', ':' or '@' themselves. Without a ':' the whole
  // userinfo may be the password (redis://s3cret@host), so all of it goes.
  if (const std::size_t start = scheme_length(cs); start > 0) {
    const std::size_t at = cs.rfind('@');
    if (at != std::string::npos && at >= start) {
      const std::size_t colon = cs.find(':', start);
      const std::size_t keep = colon != std::string::npos && colon < at ? colon + 1 : start;
      out = cs.substr(0, keep) + "***" + cs.substr(at);
    }
  }
  // key=value form: password=secret (libpq, SOCI), also in a URI's query. A
  // key starts the text or follows a blank, ';', '&' or '?'; its value is
  // '…' quoted, or runs to the next blank, ';' or '&'.
  std::string redacted;
  redacted.reserve(out.size());
  std::size_t i = 0;
  bool unclosed_quote = false;
  while (i < out.size()) {
    const bool key_may_start = i == 0 || is_blank(out[i - 1]) || out[i - 1] == ';' ||
                               out[i - 1] == '&' || out[i - 1] == '?';
    const std::size_t value = key_may_start ? after_password_key(out, i) : std::string::npos;
    if (value == std::string::npos) {
      redacted += out[i++];
      continue;
    }
    std::size_t end = value;
    std::size_t quote_end = std::string::npos;
    if (value < out.size() && out[value] == '\'' && !unclosed_quote) {
      quote_end = out.find('\'', value + 1);
      unclosed_quote = quote_end == std::string::npos;  // (then no later value is closed: linear)
    }
    if (quote_end != std::string::npos) {
      end = quote_end + 1;
    } else {
      while (end < out.size() && !is_blank(out[end]) && out[end] != ';' && out[end] != '&') ++end;
    }
    redacted.append(out, i, value - i);
    redacted += "***";
    i = end;
  }
  return redacted;
}

db_target describe_connection(std::string system, std::string_view cs) {
  db_target t;
  t.system = std::move(system);
  auto set = [&](std::string_view key, std::string value) {
    if (key == "dbname" || key == "db" || key == "database")
      t.name_space = std::move(value);
    else if (key == "host" || key == "hostaddr") {
      if (t.address.empty() || key == "host") t.address = std::move(value);
    } else if (key == "port") {
      t.port = std::atoi(value.c_str());
    }
  };
  const auto scheme_end = cs.find("://");
  if (scheme_end != std::string_view::npos && cs.find('=') > scheme_end) {
    // URI: scheme://[user[:password]@][host][:port][/dbname][?key=value&...]
    std::string_view rest = cs.substr(scheme_end + 3);
    // SOCI's "backend://key=value …" form: the pairs after the scheme.
    if (rest.find('=') < rest.find_first_of("/?@")) return describe_connection(t.system, rest);
    // Credentials end at the last '@': an unencoded password may hold '/',
    // '?' or '@' (redaction cuts at the same place), and none of it may reach
    // the target's attributes.
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
    const auto query = rest.find('?');
    std::string_view params = query == std::string_view::npos ? "" : rest.substr(query + 1);
    rest = rest.substr(0, query);
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) t.name_space = std::string(rest.substr(slash + 1));
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
      t.port = std::atoi(std::string(authority.substr(colon + 1)).c_str());
      authority = authority.substr(0, colon);
    }
    t.address = std::string(authority);
    while (!params.empty()) {
      const auto amp = params.find('&');
      const auto pair = params.substr(0, amp);
      const auto eq = pair.find('=');
      if (eq != std::string_view::npos) set(pair.substr(0, eq), std::string(pair.substr(eq + 1)));
      params = amp == std::string_view::npos ? "" : params.substr(amp + 1);
    }
    return t;
  }
  // key=value pairs separated by blanks; values may be single-quoted.
  std::size_t i = 0;
  bool any_pair = false;
  while (i < cs.size()) {
    while (i < cs.size() && std::isspace(static_cast<unsigned char>(cs[i]))) ++i;
    const auto eq = cs.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key(cs.substr(i, eq - i));
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    i = eq + 1;
    while (i < cs.size() && cs[i] == ' ') ++i;
    std::string value;
    if (i < cs.size() && cs[i] == '\'') {
      for (++i; i < cs.size() && cs[i] != '\''; ++i) {
        if (cs[i] == '\\' && i + 1 < cs.size()) ++i;
        value.push_back(cs[i]);
      }
      ++i;
    } else {
      while (i < cs.size() && !std::isspace(static_cast<unsigned char>(cs[i])))
        value.push_back(cs[i++]);
    }
    any_pair = true;
    set(key, std::move(value));
  }
  if (!any_pair) t.name_space = std::string(cs);  // e.g. SOCI's sqlite3 "app.db"
  return t;
}

}  // namespace dbtrace
