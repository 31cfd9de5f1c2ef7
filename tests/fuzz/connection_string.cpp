// SPDX-License-Identifier: Apache-2.0
// Connection strings with a password of the fuzzer's making, in every form a
// user writes: redaction, describe_connection and the URI parser's messages
// never let any of it through, however long it is.
#include "dbtrace/driver.hpp"
#include "dbtrace/sql.hpp"
#include "fuzz_support.hpp"

namespace {

// `text` as a libpq key=value value: quoted, with ' and \ escaped.
std::string libpq_quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

void check(const std::string& connection_string, const std::string& password) {
  using dbtrace::fuzz::must;
  const std::string redacted = dbtrace::redact_connection_string(connection_string);
  must(redacted.find(password) == std::string::npos, "redaction hides the password");
  must(dbtrace::connection_uri_problem(connection_string).find(password) == std::string::npos,
       "what is wrong with a connection string is said without its password");
  for (const char* system : {"postgresql", "mysql", "sqlite"}) {
    const auto t = dbtrace::describe_connection(system, connection_string);
    for (const std::string* field : {&t.name_space, &t.address})
      must(field->find(password) == std::string::npos, "describe_connection never reads it");
  }
}

// The connection string of form `which` with `password` in it.
std::string form(std::size_t which, const std::string& password) {
  const std::string forms[] = {
      "postgresql://app:" + password + "@db.internal:5432/shop?sslmode=require",
      "postgres://:" + password + "@db.internal/0",
      "redis://:" + password + "@cache.internal:6379/0",
      "redis://" + password + "@cache.internal:6379/0",
      "mysql://root:" + password + "@db.internal/app",
      "dbname=shop host=db.internal password=" + libpq_quoted(password) + " port=5432",
      "postgresql://dbname=shop host=db password=" + libpq_quoted(password),
  };
  return forms[which % std::size(forms)];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The raw input: no crash, whatever it is.
  const std::string raw(reinterpret_cast<const char*>(data), size);
  dbtrace::redact_connection_string(raw);
  dbtrace::describe_connection("postgresql", raw);
  dbtrace::connection_uri_problem(raw);

  // A password made of the input, marked so that it cannot match the rest.
  // In a URI it may hold anything but '#' and a NUL (a '#' starts the
  // fragment, libpq and browsers alike); in key=value form it is quoted.
  std::string body = raw.substr(0, 48);
  for (char& c : body)
    if (c == '#' || c == '\0') c = '%';
  const std::string password = "Pw7" + body + "7wP";
  // One form per input (which, from its length): all of them each time is too
  // slow to reach a million runs.
  check(form(size, password), password);
  // A password of tens of kilobytes (std::regex once overflowed the stack at
  // ~30 KB): its password repeated past 64 KiB, for one run in 4096 (each
  // such check costs about as much as thousands of short ones).
  static std::size_t runs = 0;
  if (runs++ % 4096 == 0) {
    std::string long_password = password;
    while (long_password.size() < 65536) long_password += body + "x";
    long_password += "7wP";
    check(form(runs / 4096, long_password), long_password);
  }
  return 0;
}
