-- SPDX-License-Identifier: Apache-2.0
-- An embedded store in layout 1 (dbtrace before the trace_spans table), written by
-- scripts/demo.sh and dumped with sqlite3 .dump: 3 traces, 27 spans, errors, span info.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE sources (            -- where spans were recorded
  id INTEGER PRIMARY KEY,
  project TEXT NOT NULL, service TEXT NOT NULL, host TEXT NOT NULL,
  UNIQUE (project, service, host));
INSERT INTO sources VALUES(1,'demo','soci-requests','vm');
CREATE TABLE traces (             -- one row per trace and writer, keys in order of arrival
  id INTEGER PRIMARY KEY,
  base_id TEXT NOT NULL,          -- OSProfiler's base_id (not indexed: random keys would
                                  -- cost a scattered page write per trace)
  base_hi INTEGER NOT NULL, base_lo INTEGER NOT NULL,
  first_ns INTEGER NOT NULL,      -- the earliest span start, ns since the epoch
  source INTEGER NOT NULL REFERENCES sources (id));
INSERT INTO traces VALUES(1,'0f763014-4373-4178-9e40-75600a8d37c5',1114130821409882488,-7043500761853118523,1795660451859209252,1);
INSERT INTO traces VALUES(2,'902eecca-0ec5-4fe9-8976-d6b2915c4572',-8057242330743877655,-8541403580830300814,1795660451859970019,1);
INSERT INTO traces VALUES(3,'12e3365c-6343-454a-9153-76ad8ef5caf6',1360991282826265930,-7974900027343123722,1795660451860155223,1);
CREATE TABLE statements (         -- each distinct statement text once
  id INTEGER PRIMARY KEY,
  text TEXT NOT NULL UNIQUE,      -- db.query.text as recorded (truncated, sanitized)
  operation TEXT NOT NULL, collection TEXT NOT NULL, summary TEXT NOT NULL);
INSERT INTO statements VALUES(1,'INSERT OR REPLACE INTO users (id, name) VALUES (:id, :name)','INSERT','users','INSERT users');
INSERT INTO statements VALUES(2,'BEGIN','BEGIN','','BEGIN');
INSERT INTO statements VALUES(3,'INSERT INTO orders (user_id, total) VALUES (:u, :t)','INSERT','orders','INSERT orders');
INSERT INTO statements VALUES(4,'COMMIT','COMMIT','','COMMIT');
INSERT INTO statements VALUES(5,'SELECT * FROM reports WHERE user_id = :id','SELECT','reports','SELECT reports');
INSERT INTO statements VALUES(6,'SELECT name FROM users WHERE id = :id','SELECT','users','SELECT users');
INSERT INTO statements VALUES(7,'SELECT SUM(total) FROM orders WHERE user_id = :id','SELECT','orders','SELECT orders');
CREATE TABLE targets (            -- each connection target once
  id INTEGER PRIMARY KEY,
  system TEXT NOT NULL, namespace TEXT NOT NULL, address TEXT NOT NULL, port INTEGER NOT NULL,
  UNIQUE (system, namespace, address, port));
INSERT INTO targets VALUES(1,'sqlite',':memory:','',0);
CREATE TABLE errors (             -- each distinct failure once
  id INTEGER PRIMARY KEY,
  etype TEXT NOT NULL, message TEXT NOT NULL, sqlstate TEXT NOT NULL, category TEXT NOT NULL,
  UNIQUE (etype, message, sqlstate, category));
INSERT INTO errors VALUES(1,'soci::sqlite3_soci_error','sqlite3_statement_backend::prepare: no such table: reports','1','unknown');
INSERT INTO errors VALUES(2,'soci::sqlite3_soci_error','sqlite3_statement_backend::prepare: no such table: reports while preparing "SELECT * FROM reports WHERE user_id = :id" with :1=1.','','');
INSERT INTO errors VALUES(3,'soci::sqlite3_soci_error','sqlite3_statement_backend::prepare: no such table: reports while preparing "SELECT * FROM reports WHERE user_id = :id" with :1=2.','','');
INSERT INTO errors VALUES(4,'soci::sqlite3_soci_error','sqlite3_statement_backend::prepare: no such table: reports while preparing "SELECT * FROM reports WHERE user_id = :id" with :1=3.','','');
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
  info TEXT);
INSERT INTO spans VALUES(1,1,-5094557048906147677,NULL,-6649667935686540278,NULL,'db',1795660451859228090,14531,1,1,1,1,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(2,1,-9056629836222150562,NULL,-6649667935686540278,NULL,'db',1795660451859248410,2173,2,1,1,NULL,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(3,1,-8917850875045394062,NULL,-6649667935686540278,NULL,'db',1795660451859253738,8873,3,1,1,1,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(4,1,-6289245891254393000,NULL,-6649667935686540278,NULL,'db',1795660451859266436,1533,4,1,1,NULL,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(5,1,-6462332399687105365,NULL,-7515682453563261498,NULL,'db',1795660451859272215,74270,5,1,1,NULL,NULL,1,NULL,NULL);
INSERT INTO spans VALUES(6,1,-7515682453563261498,NULL,-6649667935686540278,NULL,'rpc',1795660451859269391,539299,NULL,NULL,1,NULL,NULL,2,NULL,'{"function":"monthly_report"}');
INSERT INTO spans VALUES(7,1,-6302358964255503239,NULL,-6649667935686540278,NULL,'db',1795660451859817974,38727,6,1,1,1,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(8,1,-6552169102927885138,NULL,-6649667935686540278,NULL,'db',1795660451859903320,25828,7,1,1,1,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(9,1,-6649667935686540278,NULL,-7043500761853118523,NULL,'wsgi',1795660451859209252,757011,NULL,NULL,1,NULL,NULL,NULL,NULL,'{"request":{"method":"POST","path":"/users/1"}}');
INSERT INTO spans VALUES(10,2,-7772379395488693334,NULL,-7537075935244254441,NULL,'db',1795660451859972242,20941,1,1,1,1,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(11,2,-6349635552182540508,NULL,-7537075935244254441,NULL,'db',1795660451859994976,5017,2,1,1,NULL,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(12,2,-6124890857164510427,NULL,-7537075935244254441,NULL,'db',1795660451860000824,8533,3,1,1,1,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(13,2,-8273364020776842201,NULL,-7537075935244254441,NULL,'db',1795660451860010549,2303,4,1,1,NULL,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(14,2,-4985174061465900432,NULL,-6716518298955101129,NULL,'db',1795660451860014765,18157,5,1,1,NULL,NULL,1,NULL,NULL);
INSERT INTO spans VALUES(15,2,-6716518298955101129,NULL,-7537075935244254441,NULL,'rpc',1795660451860013613,40270,NULL,NULL,1,NULL,NULL,3,NULL,'{"function":"monthly_report"}');
INSERT INTO spans VALUES(16,2,-6293960283072352261,NULL,-7537075935244254441,NULL,'db',1795660451860054384,7851,6,1,1,1,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(17,2,-8347147983064622151,NULL,-7537075935244254441,NULL,'db',1795660451860111919,19459,7,1,1,1,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(18,2,-7537075935244254441,NULL,-8541403580830300814,NULL,'wsgi',1795660451859970019,180998,NULL,NULL,1,NULL,NULL,NULL,NULL,'{"request":{"method":"POST","path":"/users/2"}}');
INSERT INTO spans VALUES(19,3,-4975566603078120941,NULL,-8606228148497253045,NULL,'db',1795660451860157857,17085,1,1,1,1,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(20,3,-5820844187408941922,NULL,-8606228148497253045,NULL,'db',1795660451860176515,6740,2,1,1,NULL,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(21,3,-8049638631170474762,NULL,-8606228148497253045,NULL,'db',1795660451860183936,6029,3,1,1,1,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(22,3,-6227514296541112358,NULL,-8606228148497253045,NULL,'db',1795660451860190576,1382,4,1,1,NULL,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(23,3,-7311405232276868872,NULL,-7609258537478451539,NULL,'db',1795660451860193049,10896,5,1,1,NULL,NULL,1,NULL,NULL);
INSERT INTO spans VALUES(24,3,-7609258537478451539,NULL,-8606228148497253045,NULL,'rpc',1795660451860192478,29744,NULL,NULL,1,NULL,NULL,4,NULL,'{"function":"monthly_report"}');
INSERT INTO spans VALUES(25,3,-8842269855112732584,NULL,-8606228148497253045,NULL,'db',1795660451860222693,7111,6,1,1,1,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(26,3,-5589408573312181478,NULL,-8606228148497253045,NULL,'db',1795660451860251967,15883,7,1,1,1,NULL,NULL,NULL,NULL);
INSERT INTO spans VALUES(27,3,-8606228148497253045,NULL,-7974900027343123722,NULL,'wsgi',1795660451860155223,127319,NULL,NULL,1,NULL,NULL,NULL,NULL,'{"request":{"method":"POST","path":"/users/3"}}');
CREATE INDEX spans_by_trace ON spans (trace);
CREATE INDEX traces_by_time ON traces (first_ns);
CREATE VIEW span_details AS
SELECT t.base_id, s.id AS span, s.name,
       strftime('%Y-%m-%dT%H:%M:%S', (s.start_ns) / 1000000000, 'unixepoch') || printf('.%06d', ((s.start_ns) / 1000) % 1000000) AS started,
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
CREATE VIEW statement_stats AS
SELECT st.text AS statement, st.summary, count(*) AS count,
       sum(s.error IS NOT NULL) AS errors, sum(coalesce(s.rows, 0)) AS rows,
       sum(s.duration_ns) / 1000.0 AS total_us, avg(s.duration_ns) / 1000.0 AS mean_us,
       max(s.duration_ns) / 1000.0 AS max_us
FROM spans s JOIN statements st ON st.id = s.statement
GROUP BY s.statement;
CREATE VIEW data AS
SELECT s.id * 2 AS id,
       strftime('%Y-%m-%dT%H:%M:%S', (s.start_ns) / 1000000000, 'unixepoch') || printf('.%06d', ((s.start_ns) / 1000) % 1000000) AS "timestamp",
       t.base_id,
       printf('%08x-%04x-%04x-%04x-%012x', ((coalesce(s.parent_hi, t.base_hi)) >> 32) & 4294967295, ((coalesce(s.parent_hi, t.base_hi)) >> 16) & 65535, (coalesce(s.parent_hi, t.base_hi)) & 65535, ((s.parent_id) >> 48) & 65535, (s.parent_id) & 281474976710655) AS parent_id,
       printf('%08x-%04x-%04x-%04x-%012x', ((coalesce(s.span_hi, t.base_hi)) >> 32) & 4294967295, ((coalesce(s.span_hi, t.base_hi)) >> 16) & 65535, (coalesce(s.span_hi, t.base_hi)) & 65535, ((s.span_id) >> 48) & 65535, (s.span_id) & 281474976710655) AS trace_id,
       src.project, src.host, src.service, s.name || '-start' AS name,
       json_quote(json_object('info', CASE WHEN s.statement IS NOT NULL THEN
         json_object('db', json_patch('{}', json_object(
             'statement', st.text, 'params', json(s.params),
             'db.system.name', nullif(tg.system, ''), 'db.namespace', nullif(tg.namespace, ''),
             'server.address', nullif(tg.address, ''), 'server.port', nullif(tg.port, 0),
             'db.operation.name', nullif(st.operation, ''),
             'db.operation.batch.size', s.batch)),
           'host', src.host)
         ELSE json_patch(coalesce(s.info, '{}'), json_object('host', src.host)) END) || '') AS data
FROM spans s
JOIN traces t ON t.id = s.trace
JOIN sources src ON src.id = s.source
LEFT JOIN statements st ON st.id = s.statement
LEFT JOIN targets tg ON tg.id = s.target
UNION ALL
SELECT s.id * 2 + 1,
       strftime('%Y-%m-%dT%H:%M:%S', (s.start_ns + s.duration_ns) / 1000000000, 'unixepoch') || printf('.%06d', ((s.start_ns + s.duration_ns) / 1000) % 1000000),
       t.base_id,
       printf('%08x-%04x-%04x-%04x-%012x', ((coalesce(s.parent_hi, t.base_hi)) >> 32) & 4294967295, ((coalesce(s.parent_hi, t.base_hi)) >> 16) & 65535, (coalesce(s.parent_hi, t.base_hi)) & 65535, ((s.parent_id) >> 48) & 65535, (s.parent_id) & 281474976710655),
       printf('%08x-%04x-%04x-%04x-%012x', ((coalesce(s.span_hi, t.base_hi)) >> 32) & 4294967295, ((coalesce(s.span_hi, t.base_hi)) >> 16) & 65535, (coalesce(s.span_hi, t.base_hi)) & 65535, ((s.span_id) >> 48) & 65535, (s.span_id) & 281474976710655),
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
         ELSE json_object('host', src.host) END) || '')
FROM spans s
JOIN traces t ON t.id = s.trace
JOIN sources src ON src.id = s.source
LEFT JOIN errors e ON e.id = s.error;
COMMIT;
PRAGMA user_version = 1;
