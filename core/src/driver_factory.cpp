// Connection string -> driver. Optional drivers are compiled in by CMake options.
#include <regex>

#include "dbtrace/driver.hpp"
#include "dbtrace/drivers/jsonl.hpp"
#include "dbtrace/drivers/memory.hpp"
#include "dbtrace/drivers/sqlite.hpp"
#include "dbtrace/error.hpp"
#ifdef DBTRACE_HAVE_POSTGRES
#include "dbtrace/drivers/postgres.hpp"
#endif
#ifdef DBTRACE_HAVE_REDIS
#include "dbtrace/drivers/redis.hpp"
#endif
#ifdef DBTRACE_HAVE_OTLP
#include "dbtrace/drivers/otlp.hpp"
#endif

namespace dbtrace {
namespace {

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

std::string redact_connection_string(const std::string& cs) {
  // URI userinfo: scheme://user:secret@host -> scheme://user:***@host
  static const std::regex uri_password(R"(^([a-zA-Z][a-zA-Z0-9+.-]*://[^/:@]*:)[^@/]*@)");
  // key=value form: password=secret (libpq, SOCI)
  static const std::regex kv_password(
      R"((^|[\s;&?])((?:password|pwd|pass)\s*=\s*)('[^']*'|[^\s;&]*))", std::regex::icase);
  std::string out = std::regex_replace(cs, uri_password, "$1***@");
  return std::regex_replace(out, kv_password, "$1$2***");
}

std::unique_ptr<driver> make_driver(const std::string& cs, const std::string& host,
                                    [[maybe_unused]] bool filter_error_trace,
                                    [[maybe_unused]] const std::string& project,
                                    [[maybe_unused]] const std::string& service) {
  if (starts_with(cs, "sqlite://")) {
    // sqlite:///rel.db is relative, sqlite:////abs.db absolute (SQLAlchemy's rule).
    const std::string rest = cs.substr(9);
    if (rest.empty() || rest[0] != '/')
      throw config_error(
          "connection_string: expected sqlite:///relative.db or sqlite:////absolute.db, got '" +
          redact_connection_string(cs) + "'");
    const std::string path = rest.substr(1);
    if (path.empty()) throw config_error("connection_string: sqlite:// needs a file name");
    return drivers::make_sqlite_driver(path, host);
  }
  if (starts_with(cs, "file://")) {
    const std::string path = cs.substr(7);
    if (path.empty() || path[0] != '/')
      throw config_error("connection_string: expected file:///absolute/path.jsonl, got '" + cs +
                         "'");
    return drivers::make_jsonl_driver(path);
  }
  if (starts_with(cs, "memory://")) return drivers::make_memory_driver(cs.substr(9));
#ifdef DBTRACE_HAVE_OTLP
  if (starts_with(cs, "otlp://")) return drivers::make_otlp_driver(cs, project, service);
#endif
#ifdef DBTRACE_HAVE_REDIS
  if (starts_with(cs, "redis://")) return drivers::make_redis_driver(cs, filter_error_trace);
#endif
#ifdef DBTRACE_HAVE_POSTGRES
  if (starts_with(cs, "postgresql://") || starts_with(cs, "postgres://") ||
      starts_with(cs, "postgresql+"))
    return drivers::make_postgres_driver(cs, host);
#endif
  const auto scheme = cs.substr(0, cs.find("://"));
  throw config_error(
      "connection_string: the '" + scheme +
      "' store is not built into this dbtrace (see the DBTRACE_WITH_* CMake options)");
}

}  // namespace dbtrace
