// What connection strings say: the target a span records (never the
// password), and the redacted form that messages print.
#include <cctype>
#include <cstdlib>
#include <regex>

#include "dbtrace/driver.hpp"
#include "dbtrace/sql.hpp"

namespace dbtrace {

std::string redact_connection_string(const std::string& cs) {
  std::string out = cs;
  // URI userinfo: scheme://user:secret@host -> scheme://user:***@host. The
  // userinfo ends at the *last* '@': passwords are often not percent-encoded
  // and may hold '/', '?', ':' or '@' themselves. Without a ':' the whole
  // userinfo may be the password (redis://s3cret@host), so all of it goes.
  static const std::regex scheme(R"(^[a-zA-Z][a-zA-Z0-9+.-]*://)");
  std::smatch m;
  if (std::regex_search(cs, m, scheme)) {
    const std::size_t start = static_cast<std::size_t>(m.length(0));
    const std::size_t at = cs.rfind('@');
    if (at != std::string::npos && at >= start) {
      const std::size_t colon = cs.find(':', start);
      const std::size_t keep = colon != std::string::npos && colon < at ? colon + 1 : start;
      out = cs.substr(0, keep) + "***" + cs.substr(at);
    }
  }
  // key=value form: password=secret (libpq, SOCI), also in a URI's query.
  static const std::regex kv_password(
      R"((^|[\s;&?])((?:password|pwd|pass)\s*=\s*)('[^']*'|[^\s;&]*))", std::regex::icase);
  return std::regex_replace(out, kv_password, "$1$2***");
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
