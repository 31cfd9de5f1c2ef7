// SPDX-License-Identifier: Apache-2.0
// The embedded store's layout (version 2): one row per span with integer,
// time-ordered keys, and the texts a span names (statement, target, error,
// where it was recorded) in tables of their own, stored once. A trace's spans
// are found through `trace_spans`, one row per trace and batch, rather than an
// index entry per span. Views make it readable by hand and give OSProfiler's
// SQL driver its `data` table.
#pragma once

namespace dbtrace::drivers::sqlite_schema {

// PRAGMA user_version of a file in this layout. 0 with a `data` table is
// OSProfiler's layout (Python OSProfiler, dbtrace before 0.2): read, never written.
constexpr int layout_version = 2;
// Layout 1 had an index on spans (trace) instead of trace_spans; it is read
// as it is, and migrated (migrate_from_1) when a writer opens it.
constexpr int first_layout_version = 1;

// Timestamps in OSProfiler's text form, from ns since the epoch.
#define DBTRACE_SQL_TIMESTAMP(ns)                                               \
  "strftime('%Y-%m-%dT%H:%M:%S', (" ns ") / 1000000000, 'unixepoch') || "       \
  "printf('.%06d', ((" ns ") / 1000) % 1000000)"
// A UUID's text from its two 64-bit halves.
#define DBTRACE_SQL_UUID(hi, lo)                                                          \
  "printf('%08x-%04x-%04x-%04x-%012x', ((" hi ") >> 32) & 4294967295, ((" hi ") >> 16) & " \
  "65535, (" hi ") & 65535, ((" lo ") >> 48) & 65535, (" lo ") & 281474976710655)"

inline const char* const tables = R"(
CREATE TABLE sources (            -- where spans were recorded
  id INTEGER PRIMARY KEY,
  project TEXT NOT NULL, service TEXT NOT NULL, host TEXT NOT NULL,
  UNIQUE (project, service, host));
CREATE TABLE traces (             -- one row per trace and writer, keys in order of arrival
  id INTEGER PRIMARY KEY,
  base_id TEXT NOT NULL,          -- OSProfiler's base_id (not indexed: random keys would
                                  -- cost a scattered page write per trace)
  base_hi INTEGER NOT NULL, base_lo INTEGER NOT NULL,
  first_ns INTEGER NOT NULL,      -- the earliest span start, ns since the epoch
  source INTEGER NOT NULL REFERENCES sources (id));
CREATE TABLE statements (         -- each distinct statement text once
  id INTEGER PRIMARY KEY,
  text TEXT NOT NULL UNIQUE,      -- db.query.text as recorded (truncated, sanitized)
  operation TEXT NOT NULL, collection TEXT NOT NULL, summary TEXT NOT NULL);
CREATE TABLE targets (            -- each connection target once
  id INTEGER PRIMARY KEY,
  system TEXT NOT NULL, namespace TEXT NOT NULL, address TEXT NOT NULL, port INTEGER NOT NULL,
  UNIQUE (system, namespace, address, port));
CREATE TABLE errors (             -- each distinct failure once
  id INTEGER PRIMARY KEY,
  etype TEXT NOT NULL, message TEXT NOT NULL, sqlstate TEXT NOT NULL, category TEXT NOT NULL,
  UNIQUE (etype, message, sqlstate, category));
CREATE TABLE spans (              -- one row per span, appended in the order they finish
  id INTEGER PRIMARY KEY,
  trace INTEGER NOT NULL REFERENCES traces (id),
  span_id INTEGER NOT NULL,       -- low 64 bits of the span's UUID (the OTel span-id)
  span_hi INTEGER,                -- its high 64 bits when they are not the trace's
  parent_id INTEGER NOT NULL,
  parent_hi INTEGER,
  name TEXT NOT NULL,             -- "db" for SQL statements
  start_ns INTEGER NOT NULL, duration_ns INTEGER NOT NULL,
  statement INTEGER REFERENCES statements (id),  -- SQL spans only
  target INTEGER REFERENCES targets (id),
  source INTEGER NOT NULL REFERENCES sources (id),
  rows INTEGER,                   -- db.response.returned_rows
  batch INTEGER,                  -- db.operation.batch.size
  error INTEGER REFERENCES errors (id),
  params TEXT,                    -- JSON array, only with record_params
  info TEXT);                     -- JSON object: a generic span's info
CREATE INDEX traces_by_time ON traces (first_ns);
)";

inline const char* const trace_spans_table = R"(
-- Where a trace's spans are: each batch that holds spans of a trace adds the
-- range of span ids they are in (spans of other traces may be among them).
-- One row per trace and batch costs far less than an index entry per span.
CREATE TABLE trace_spans (
  trace INTEGER NOT NULL REFERENCES traces (id),
  first_span INTEGER NOT NULL, last_span INTEGER NOT NULL,
  PRIMARY KEY (trace, first_span)) WITHOUT ROWID;
)";

inline const char* const views = R"(
-- One row per span, readable: sqlite3 traces.db "SELECT * FROM span_details LIMIT 20"
CREATE VIEW span_details AS
SELECT t.base_id, s.id AS span, s.name,
       )" DBTRACE_SQL_TIMESTAMP("s.start_ns") R"( AS started,
       s.duration_ns / 1000.0 AS duration_us,
       st.text AS statement, st.summary, s.rows, s.batch,
       e.etype AS error, e.message AS error_message, e.sqlstate,
       tg.system, tg.namespace, tg.address, tg.port,
       src.project, src.service, src.host, s.params, s.info
FROM spans s
JOIN traces t ON t.id = s.trace
JOIN sources src ON src.id = s.source
LEFT JOIN statements st ON st.id = s.statement
LEFT JOIN targets tg ON tg.id = s.target
LEFT JOIN errors e ON e.id = s.error;

-- Per statement: sqlite3 traces.db "SELECT * FROM statement_stats ORDER BY total_us DESC"
CREATE VIEW statement_stats AS
SELECT st.text AS statement, st.summary, count(*) AS count,
       sum(s.error IS NOT NULL) AS errors, sum(coalesce(s.rows, 0)) AS rows,
       sum(s.duration_ns) / 1000.0 AS total_us, avg(s.duration_ns) / 1000.0 AS mean_us,
       max(s.duration_ns) / 1000.0 AS max_us
FROM spans s JOIN statements st ON st.id = s.statement
GROUP BY s.statement;

-- OSProfiler's `data` table, two events per span, for its SQL driver (Python
-- API) and for readers of that layout. The data column is a JSON string
-- holding the event's JSON text, as OSProfiler double-encodes it. `span`, not
-- one of OSProfiler's columns, is the span's row: `WHERE span BETWEEN` a range
-- of trace_spans reads one trace without scanning every span.
CREATE VIEW data AS
SELECT s.id * 2 AS id,
       )" DBTRACE_SQL_TIMESTAMP("s.start_ns") R"( AS "timestamp",
       t.base_id,
       )" DBTRACE_SQL_UUID("coalesce(s.parent_hi, t.base_hi)", "s.parent_id") R"( AS parent_id,
       )" DBTRACE_SQL_UUID("coalesce(s.span_hi, t.base_hi)", "s.span_id") R"( AS trace_id,
       src.project, src.host, src.service, s.name || '-start' AS name,
       json_quote(json_object('info', CASE WHEN s.statement IS NOT NULL THEN
         json_object('db', json_patch('{}', json_object(
             'statement', st.text, 'params', json(s.params),
             'db.system.name', nullif(tg.system, ''), 'db.namespace', nullif(tg.namespace, ''),
             'server.address', nullif(tg.address, ''), 'server.port', nullif(tg.port, 0),
             'db.operation.name', nullif(st.operation, ''),
             'db.operation.batch.size', s.batch)),
           'host', src.host)
         ELSE json_patch(coalesce(s.info, '{}'), json_object('host', src.host)) END) || '') AS data,
       s.id AS span
FROM spans s
JOIN traces t ON t.id = s.trace
JOIN sources src ON src.id = s.source
LEFT JOIN statements st ON st.id = s.statement
LEFT JOIN targets tg ON tg.id = s.target
UNION ALL
SELECT s.id * 2 + 1,
       )" DBTRACE_SQL_TIMESTAMP("s.start_ns + s.duration_ns") R"(,
       t.base_id,
       )" DBTRACE_SQL_UUID("coalesce(s.parent_hi, t.base_hi)", "s.parent_id") R"(,
       )" DBTRACE_SQL_UUID("coalesce(s.span_hi, t.base_hi)", "s.span_id") R"(,
       src.project, src.host, src.service, s.name || '-stop',
       json_quote(json_object('info', CASE
         WHEN e.id IS NOT NULL AND s.statement IS NOT NULL THEN
           json_object('etype', e.etype, 'message', e.message,
             'db', json_patch('{}', json_object('original_exception', e.message,
               'error.type', e.etype, 'db.response.status_code', nullif(e.sqlstate, ''),
               'db.error.category', nullif(e.category, ''))),
             'host', src.host)
         WHEN e.id IS NOT NULL THEN
           json_object('etype', e.etype, 'message', e.message, 'host', src.host)
         WHEN s.statement IS NOT NULL AND s.rows IS NOT NULL THEN
           json_object('db', json_object('db.response.returned_rows', s.rows), 'host', src.host)
         ELSE json_object('host', src.host) END) || ''),
       s.id
FROM spans s
JOIN traces t ON t.id = s.trace
JOIN sources src ON src.id = s.source
LEFT JOIN errors e ON e.id = s.error;
)";

// Layout 1 to 2, after trace_spans_table and before the views, in the
// writer's transaction: one range per trace from the old index (every span of
// the trace lies within it), the index and the old views dropped.
inline const char* const migrate_from_1 = R"(
INSERT INTO trace_spans SELECT trace, min(id), max(id) FROM spans GROUP BY trace;
DROP INDEX spans_by_trace;
DROP VIEW span_details;
DROP VIEW statement_stats;
DROP VIEW data;
)";

#undef DBTRACE_SQL_TIMESTAMP
#undef DBTRACE_SQL_UUID

}  // namespace dbtrace::drivers::sqlite_schema
