// SPDX-License-Identifier: Apache-2.0
// The embedded store's layout (version 4): the spans of a batch in one row of
// span_blocks (blocks.hpp), with integer, time-ordered ids, and the texts a
// span names (statement, target, error, where it was recorded) in tables of
// their own, stored once. A trace's spans are found through `trace_spans`,
// one range of span ids per trace and batch, rather than an index entry per
// span: the range of the batch that made a trace's row is in that row, the
// ranges of later batches in `trace_ranges`. Views make it readable by hand
// (`spans`, one row per span, as the table of layouts 1 and 2 was) and give
// OSProfiler's SQL driver its `data` table.
#pragma once

#include <cstddef>

namespace dbtrace::drivers::sqlite_schema {

// PRAGMA user_version of a file in this layout. 0 with a `data` table is
// OSProfiler's layout (Python OSProfiler, dbtrace before 0.2): read, never written.
constexpr int layout_version = 4;
// Layouts 1 (an index on spans (trace) instead of trace_spans), 2 (a row per
// span) and 3 (every range in a trace_spans table) are read as they are, and
// migrated when a writer opens them.
constexpr int first_layout_version = 1;
constexpr int rows_layout_version = 2;    // the last with a row per span
constexpr int ranges_layout_version = 3;  // the last with every range in trace_spans
// At most this many spans in a block, so a range of span ids lies in the
// blocks from `first - max_block_spans + 1` on.
constexpr int max_block_spans = 256;
// A block is closed past this many bytes too (spans with large info or
// params), well under SQLite's limit on a value (1 GB).
constexpr std::size_t max_block_bytes = std::size_t{1} << 20;

// Timestamps in OSProfiler's text form, from ns since the epoch.
#define DBTRACE_SQL_TIMESTAMP(ns)      \
  "strftime('%Y-%m-%dT%H:%M:%S', (" ns \
  ") / 1000000000, 'unixepoch') || "   \
  "printf('.%06d', ((" ns ") / 1000) % 1000000)"
// A UUID's text from its two 64-bit halves.
#define DBTRACE_SQL_UUID(hi, lo)                                             \
  "printf('%08x-%04x-%04x-%04x-%012x', ((" hi ") >> 32) & 4294967295, ((" hi \
  ") >> 16) & "                                                              \
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
CREATE INDEX traces_by_time ON traces (first_ns);
)";

inline const char* const span_blocks_table = R"(
CREATE TABLE span_blocks (        -- the spans of a batch, up to max_block_spans a row
  id INTEGER PRIMARY KEY,         -- the first span's id; the others' follow it
  span_count INTEGER NOT NULL,
  start_ns INTEGER NOT NULL,      -- the first span's start; the others' are relative to it
  spans TEXT NOT NULL);           -- JSON array of spans, each an array of fields (blocks.hpp)
)";

// A new file is made in layout 3 and then moved to 4 as a file of layout 3
// is: one way to this layout.
inline const char* const trace_spans_table = R"(
-- Where a trace's spans are: each batch that holds spans of a trace adds the
-- range of span ids they are in (spans of other traces may be among them).
-- One row per trace and batch costs far less than an index entry per span.
CREATE TABLE trace_spans (
  trace INTEGER NOT NULL REFERENCES traces (id),
  first_span INTEGER NOT NULL, last_span INTEGER NOT NULL,
  PRIMARY KEY (trace, first_span)) WITHOUT ROWID;
)";

// Layout 3 to 4. Most traces are done within one batch: the range of the
// batch that makes a trace's row goes in that row (NULL in a row made
// before), and trace_ranges keeps the ranges of later batches (and every
// range of layout 3). A trace_spans row per trace had cost about 430
// instructions a statement in traces of 20 (most of it the index pages it
// dirtied, written to the WAL): nearly a quarter of the whole cost.
inline const char* const ranges_into_traces = R"(
ALTER TABLE trace_spans RENAME TO trace_ranges;
ALTER TABLE traces ADD COLUMN first_span INTEGER;  -- the span ids of the trace's spans in the
ALTER TABLE traces ADD COLUMN last_span INTEGER;   -- batch that made this row
)";
// Every range of a trace, as layout 3's table had them (made after the
// other views, in a migration too).
inline const char* const trace_spans_view = R"(
CREATE VIEW trace_spans AS
SELECT id AS trace, first_span, last_span FROM traces WHERE first_span IS NOT NULL
UNION ALL
SELECT trace, first_span, last_span FROM trace_ranges;
)";

inline const char* const views = R"(
-- One row per span, the table of layouts 1 and 2 (field positions: blocks.hpp;
-- json_extract rather than ->>, which SQLite before 3.38 lacks).
-- `block` is the span's row of span_blocks: `WHERE block BETWEEN` bounds a
-- query to the blocks it needs.
CREATE VIEW spans AS
SELECT b.id + j.key AS id,
       json_extract(j.value, '$[0]') AS trace,
       json_extract(j.value, '$[1]') AS span_id,    -- low 64 bits of the span's UUID (OTel span-id)
       json_extract(j.value, '$[11]') AS span_hi,   -- its high 64 bits when not the trace's
       json_extract(j.value, '$[2]') AS parent_id,
       json_extract(j.value, '$[12]') AS parent_hi,
       coalesce(json_extract(j.value, '$[13]'), 'db') AS name,  -- "db" for SQL statements
       b.start_ns + json_extract(j.value, '$[3]') AS start_ns,
       json_extract(j.value, '$[4]') AS duration_ns,
       json_extract(j.value, '$[6]') AS statement,
       json_extract(j.value, '$[7]') AS target,
       json_extract(j.value, '$[5]') AS source,
       json_extract(j.value, '$[8]') AS rows,       -- db.response.returned_rows
       json_extract(j.value, '$[9]') AS batch,      -- db.operation.batch.size
       json_extract(j.value, '$[10]') AS error,
       json_extract(j.value, '$[14]') AS params,    -- JSON array, only with record_params
       json_extract(j.value, '$[15]') AS info,      -- JSON object: a generic span's info
       b.id AS block
FROM span_blocks b, json_each(b.spans) j;

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
-- holding the event's JSON text, as OSProfiler double-encodes it. `span` and
-- `block`, not OSProfiler's columns, are the span's id and block:
-- `WHERE span BETWEEN` a range of trace_spans `AND block BETWEEN` that range
-- widened by max_block_spans - 1 reads one trace without decoding every block.
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
       s.id AS span, s.block
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
       s.id, s.block
FROM spans s
JOIN traces t ON t.id = s.trace
JOIN sources src ON src.id = s.source
LEFT JOIN errors e ON e.id = s.error;
)";

// Migration of layouts 1 and 2, in the writer's transaction (layout 1 gets
// trace_spans_table first): migrate_views_out, the writer moving the rows of
// `spans` into blocks (sqlite.cpp, which also rewrites trace_spans),
// migrate_table_out (the table and layout 1's index), then the views, and
// then as layout 3 (ranges_into_traces, trace_spans_view).
inline const char* const migrate_views_out = R"(
DROP VIEW span_details;
DROP VIEW statement_stats;
DROP VIEW data;
)";
inline const char* const migrate_table_out = R"(
DROP TABLE spans;
)";

#undef DBTRACE_SQL_TIMESTAMP
#undef DBTRACE_SQL_UUID

}  // namespace dbtrace::drivers::sqlite_schema
