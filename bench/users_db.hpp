// SPDX-License-Identifier: Apache-2.0
// The SOCI benchmarks' database: in-memory SQLite with 1,000 users, opened
// through dbtrace's session or SOCI's own.
#pragma once

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <memory>

#include "dbtrace/soci.hpp"

inline std::unique_ptr<soci::session> users_db(bool through_dbtrace) {
  std::unique_ptr<soci::session> sql =
      through_dbtrace ? std::make_unique<dbtrace::soci::session>(soci::sqlite3, ":memory:")
                      : std::make_unique<soci::session>(soci::sqlite3, ":memory:");
  *sql << "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)";
  soci::transaction tr(*sql);
  for (int i = 1; i <= 1000; ++i)
    *sql << "INSERT INTO users (id, name) VALUES (:id, 'user')", soci::use(i);
  tr.commit();
  return sql;
}
