// OSProfiler's `data` table (as its SQLAlchemy driver creates it, see
// tests/data/osprofiler and shared/osprofiler/pg_data_schema.sql), for the SQL stores.
#pragma once

#include <string>

namespace dbtrace::detail {

// CREATE TABLE/INDEX IF NOT EXISTS statements; `id_column` is the dialect's
// auto-numbered integer key ("id SERIAL PRIMARY KEY", "id INTEGER NOT NULL PRIMARY KEY").
inline std::string data_table_ddl(const char* id_column) {
  std::string ddl = "CREATE TABLE IF NOT EXISTS data (\n  ";
  ddl += id_column;
  ddl += R"(,
  "timestamp" VARCHAR(26),
  base_id VARCHAR(255),
  parent_id VARCHAR(255),
  trace_id VARCHAR(255),
  project VARCHAR(255),
  host VARCHAR(255),
  service VARCHAR(255),
  name VARCHAR(255),
  data JSON
);
)";
  for (const char* column :
       {"base_id", "host", "name", "parent_id", "project", "service", "timestamp", "trace_id"}) {
    ddl += "CREATE INDEX IF NOT EXISTS ix_data_";
    ddl += column;
    ddl += " ON data (\"";
    ddl += column;
    ddl += "\");\n";
  }
  return ddl;
}

}  // namespace dbtrace::detail
