// SPDX-License-Identifier: Apache-2.0
// What connection strings say: the target a span records (never the
// password), and the redacted form that messages print.
#include <cctype>
#include <cstdlib>
#include <string_view>

#include "dbtrace/driver.hpp"
#include "dbtrace/error.hpp"
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

// A port: digits only, from 1 to 65535 ("abc", "-1", "99999" are none).
std::optional<int> port_number(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  int port = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + (c - '0');
  }
  if (port < 1 || port > 65535) return std::nullopt;
  return port;
}

// Reads `cs` as a URI into `uri` as far as it goes; the first problem found
// (never quoting a password) goes to `problem`.
void read_uri(const std::string& cs, connection_uri& uri, std::string& problem) {
  const std::size_t start = scheme_length(cs);
  if (start == 0) {
    problem = "no scheme (expected a store such as sqlite:///traces.db or redis://host)";
    return;
  }
  uri.scheme = cs.substr(0, start - 3);
  std::string_view rest = std::string_view(cs).substr(start);
  bool has_userinfo = false;
  if (rest.empty() || rest.front() != '/') {
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
      has_userinfo = true;
      const auto userinfo = rest.substr(0, at);
      const auto colon = userinfo.find(':');
      uri.user = std::string(userinfo.substr(0, colon));
      if (colon != std::string_view::npos) uri.password = std::string(userinfo.substr(colon + 1));
      rest = rest.substr(at + 1);
    }
  }
  const auto query_at = rest.find('?');
  std::string_view query = query_at == std::string_view::npos ? "" : rest.substr(query_at + 1);
  rest = rest.substr(0, query_at);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) uri.path = std::string(rest.substr(slash));
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {  // [::1]:6379
    const auto close = authority.find(']');
    uri.host = std::string(authority.substr(1, close == std::string_view::npos ? close : close - 1));
    if (close != std::string_view::npos && authority.compare(close + 1, 1, ":") == 0)
      port = authority.substr(close + 2);
  } else {
    const auto colon = authority.rfind(':');
    uri.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  // The port's text is never quoted: in `postgresql://user:secret/db` (the
  // '@host' forgotten) the "port" is the password, and the "host" the user.
  if (port.data() && !(uri.port = port_number(port)))
    problem = "the port in the " + uri.scheme + ":// URI is not a number from 1 to 65535" +
              (has_userinfo ? ""
                            : " (without an '@', user:password reads as host:port;"
                              " write user:password@host)");
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (!pair.empty())
      uri.query.emplace_back(std::string(pair.substr(0, eq)),
                             eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
  }
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

std::string connection_uri_problem(const std::string& cs) {
  connection_uri uri;
  std::string problem;
  read_uri(cs, uri, problem);
  return problem;
}

connection_uri parse_connection_uri(const std::string& cs) {
  connection_uri uri;
  std::string problem;
  read_uri(cs, uri, problem);
  if (!problem.empty()) throw config_error("connection_string: " + problem);
  return uri;
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
      t.port = port_number(value).value_or(0);
    }
  };
  const std::string text(cs);
  if (const std::size_t start = scheme_length(text); start > 0 && cs.find('=') > start) {
    // SOCI's "backend://key=value …" form: the pairs after the scheme.
    const std::string_view rest = cs.substr(start);
    if (rest.find('=') < rest.find_first_of("/?@")) return describe_connection(t.system, rest);
    // A URI; its password never reaches the target's attributes. A bad port
    // is no port: describing a connection never fails.
    connection_uri uri;
    std::string problem;
    read_uri(text, uri, problem);
    t.address = uri.host;
    t.port = uri.port.value_or(0);
    if (!uri.path.empty()) t.name_space = uri.path.substr(1);
    for (auto& [key, value] : uri.query) set(key, std::move(value));
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
