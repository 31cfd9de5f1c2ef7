-- SPDX-License-Identifier: Apache-2.0
-- An embedded store in layout 3 (span blocks, every range in trace_spans; dbtrace before
-- layout 4): layout2.sql migrated by that dbtrace's writer, which then added 2 traces of 20
-- statements (bench/instructions.cpp), dumped with sqlite3 .dump: 7 traces, 107 spans.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE sources (            -- where spans were recorded
  id INTEGER PRIMARY KEY,
  project TEXT NOT NULL, service TEXT NOT NULL, host TEXT NOT NULL,
  UNIQUE (project, service, host));
INSERT INTO sources VALUES(1,'demo','soci-requests','vm');
INSERT INTO sources VALUES(2,'','','vm');
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
INSERT INTO traces VALUES(4,'8a9818a2-ecb6-480a-8dac-15275f42f307',-8459984811980339190,-8238186359521348857,1796314380101366392,2);
INSERT INTO traces VALUES(5,'b42ca0e9-0ef9-42cc-a6ac-07d475085097',-5463815325068213556,-6436761158341341033,1796314380101441072,2);
INSERT INTO traces VALUES(6,'3782b3c2-0e0f-4cf4-861d-6cfc40d4ac09',3999957065099332852,-8782743867627361271,1796671010959444257,2);
INSERT INTO traces VALUES(7,'379d3e53-208b-42de-bb2e-85ac7db59c20',4007427770178814686,-4958879163798414304,1796671010959481322,2);
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
CREATE TABLE trace_spans (
  trace INTEGER NOT NULL REFERENCES traces (id),
  first_span INTEGER NOT NULL, last_span INTEGER NOT NULL,
  PRIMARY KEY (trace, first_span)) WITHOUT ROWID;
INSERT INTO trace_spans VALUES(1,1,9);
INSERT INTO trace_spans VALUES(2,10,18);
INSERT INTO trace_spans VALUES(3,19,27);
INSERT INTO trace_spans VALUES(4,28,47);
INSERT INTO trace_spans VALUES(5,48,67);
INSERT INTO trace_spans VALUES(6,68,87);
INSERT INTO trace_spans VALUES(7,88,107);
CREATE TABLE span_blocks (        -- the spans of a batch, up to max_block_spans a row
  id INTEGER PRIMARY KEY,         -- the first span's id; the others' follow it
  span_count INTEGER NOT NULL,
  start_ns INTEGER NOT NULL,      -- the first span's start; the others' are relative to it
  spans TEXT NOT NULL);
INSERT INTO span_blocks VALUES(1,67,1795660451859228090,'[[1,-5094557048906147677,-6649667935686540278,0,14531,1,1,1,1],[1,-9056629836222150562,-6649667935686540278,20320,2173,1,2,1],[1,-8917850875045394062,-6649667935686540278,25648,8873,1,3,1,1],[1,-6289245891254393000,-6649667935686540278,38346,1533,1,4,1],[1,-6462332399687105365,-7515682453563261498,44125,74270,1,5,1,null,null,1],[1,-7515682453563261498,-6649667935686540278,41301,539299,1,null,null,null,null,2,null,null,"rpc",null,{"function":"monthly_report"}],[1,-6302358964255503239,-6649667935686540278,589884,38727,1,6,1,1],[1,-6552169102927885138,-6649667935686540278,675230,25828,1,7,1,1],[1,-6649667935686540278,-7043500761853118523,-18838,757011,1,null,null,null,null,null,null,null,"wsgi",null,{"request":{"method":"POST","path":"/users/1"}}],[2,-7772379395488693334,-7537075935244254441,744152,20941,1,1,1,1],[2,-6349635552182540508,-7537075935244254441,766886,5017,1,2,1],[2,-6124890857164510427,-7537075935244254441,772734,8533,1,3,1,1],[2,-8273364020776842201,-7537075935244254441,782459,2303,1,4,1],[2,-4985174061465900432,-6716518298955101129,786675,18157,1,5,1,null,null,1],[2,-6716518298955101129,-7537075935244254441,785523,40270,1,null,null,null,null,3,null,null,"rpc",null,{"function":"monthly_report"}],[2,-6293960283072352261,-7537075935244254441,826294,7851,1,6,1,1],[2,-8347147983064622151,-7537075935244254441,883829,19459,1,7,1,1],[2,-7537075935244254441,-8541403580830300814,741929,180998,1,null,null,null,null,null,null,null,"wsgi",null,{"request":{"method":"POST","path":"/users/2"}}],[3,-4975566603078120941,-8606228148497253045,929767,17085,1,1,1,1],[3,-5820844187408941922,-8606228148497253045,948425,6740,1,2,1],[3,-8049638631170474762,-8606228148497253045,955846,6029,1,3,1,1],[3,-6227514296541112358,-8606228148497253045,962486,1382,1,4,1],[3,-7311405232276868872,-7609258537478451539,964959,10896,1,5,1,null,null,1],[3,-7609258537478451539,-8606228148497253045,964388,29744,1,null,null,null,null,4,null,null,"rpc",null,{"function":"monthly_report"}],[3,-8842269855112732584,-8606228148497253045,994603,7111,1,6,1,1],[3,-5589408573312181478,-8606228148497253045,1023877,15883,1,7,1,1],[3,-8606228148497253045,-7974900027343123722,927133,127319,1,null,null,null,null,null,null,null,"wsgi",null,{"request":{"method":"POST","path":"/users/3"}}],[4,-5033004104668449323,-8238186359521348857,653928242138302,7754,2,6,1,1],[4,-5607033498077997728,-8238186359521348857,653928242164160,3176,2,6,1,1],[4,-8463342298035088149,-8238186359521348857,653928242168118,1833,2,6,1,1],[4,-6289504233175230463,-8238186359521348857,653928242170452,1833,2,6,1,1],[4,-7512298158216788498,-8238186359521348857,653928242172786,1764,2,6,1,1],[4,-7988800139140853777,-8238186359521348857,653928242175051,1783,2,6,1,1],[4,-8890784515232452586,-8238186359521348857,653928242177325,1763,2,6,1,1],[4,-8341516171610503098,-8238186359521348857,653928242179589,1753,2,6,1,1],[4,-6243378050444175359,-8238186359521348857,653928242181843,1784,2,6,1,1],[4,-5982097454758742198,-8238186359521348857,653928242184118,1793,2,6,1,1],[4,-4789094377402519926,-8238186359521348857,653928242186392,1723,2,6,1,1],[4,-7917461218445188874,-8238186359521348857,653928242188606,1753,2,6,1,1],[4,-6762590258598151393,-8238186359521348857,653928242190850,1734,2,6,1,1],[4,-7599006747123968959,-8238186359521348857,653928242193074,1774,2,6,1,1],[4,-5528556084780670092,-8238186359521348857,653928242195329,1773,2,6,1,1],[4,-6181158354715344568,-8238186359521348857,653928242197603,1723,2,6,1,1],[4,-7386873777133963756,-8238186359521348857,653928242199817,1773,2,6,1,1],[4,-6376099854783161209,-8238186359521348857,653928242202081,1764,2,6,1,1],[4,-7587377462486643482,-8238186359521348857,653928242204336,1733,2,6,1,1],[4,-8913091835731884464,-8238186359521348857,653928242206560,1773,2,6,1,1],[5,-4820841245036089770,-6436761158341341033,653928242212982,1883,2,6,1,1],[5,-8733859024446327484,-6436761158341341033,653928242215426,1704,2,6,1,1],[5,-5661279501005991591,-6436761158341341033,653928242217641,1803,2,6,1,1],[5,-6463663355524878055,-6436761158341341033,653928242219945,1743,2,6,1,1],[5,-5058297810234543030,-6436761158341341033,653928242222179,1773,2,6,1,1],[5,-5590360130592611319,-6436761158341341033,653928242224443,1794,2,6,1,1],[5,-8674533971677520092,-6436761158341341033,653928242226728,1733,2,6,1,1],[5,-6491425277649586234,-6436761158341341033,653928242228952,1793,2,6,1,1],[5,-5406113561158853337,-6436761158341341033,653928242231236,1763,2,6,1,1],[5,-8685133890920504974,-6436761158341341033,653928242233490,1734,2,6,1,1],[5,-4817362479805312815,-6436761158341341033,653928242235704,1754,2,6,1,1],[5,-8709226515777926741,-6436761158341341033,653928242237949,1773,2,6,1,1],[5,-5524958120721554735,-6436761158341341033,653928242240213,1723,2,6,1,1],[5,-8972521921790418201,-6436761158341341033,653928242242427,1773,2,6,1,1],[5,-7466154750737114705,-6436761158341341033,653928242244691,1744,2,6,1,1],[5,-6148108584655369355,-6436761158341341033,653928242246916,1763,2,6,1,1],[5,-8731308392166427588,-6436761158341341033,653928242249160,1773,2,6,1,1],[5,-7394190021665334220,-6436761158341341033,653928242254520,1853,2,6,1,1],[5,-5995992683552309995,-6436761158341341033,653928242256894,1764,2,6,1,1],[5,-8836039020703433616,-6436761158341341033,653928242259158,1794,2,6,1,1]]');
INSERT INTO span_blocks VALUES(68,40,1796671010959444257,'[[6,-5519700889495779103,-8782743867627361271,0,4920,2,6,1,1],[6,-5888955200440985863,-8782743867627361271,15570,2169,2,6,1,1],[6,-5308119993743370643,-8782743867627361271,18317,797,2,6,1,1],[6,-5172297906830010131,-8782743867627361271,19685,731,2,6,1,1],[6,-8846404484645787626,-8782743867627361271,20742,644,2,6,1,1],[6,-4872629215495416804,-8782743867627361271,21700,703,2,6,1,1],[6,-8150868073299169122,-8782743867627361271,22710,667,2,6,1,1],[6,-8864882897807100577,-8782743867627361271,23575,658,2,6,1,1],[6,-8716981634169586499,-8782743867627361271,24430,629,2,6,1,1],[6,-8060007000182084049,-8782743867627361271,25249,657,2,6,1,1],[6,-9025952188053113510,-8782743867627361271,26103,641,2,6,1,1],[6,-6597041036156227232,-8782743867627361271,26942,703,2,6,1,1],[6,-7747407258177110375,-8782743867627361271,27843,617,2,6,1,1],[6,-6714323175477878882,-8782743867627361271,28658,645,2,6,1,1],[6,-8669015768418809065,-8782743867627361271,29497,627,2,6,1,1],[6,-7317627694617530143,-8782743867627361271,30321,611,2,6,1,1],[6,-5811582511217388494,-8782743867627361271,31128,653,2,6,1,1],[6,-6219913207301414785,-8782743867627361271,31975,628,2,6,1,1],[6,-6701242672931073381,-8782743867627361271,32797,619,2,6,1,1],[6,-5728538360715444885,-8782743867627361271,33616,647,2,6,1,1],[7,-9205201963002431828,-4958879163798414304,37065,732,2,6,1,1],[7,-8327256820592287187,-4958879163798414304,38063,608,2,6,1,1],[7,-7980045342660298214,-4958879163798414304,38887,696,2,6,1,1],[7,-9010282306033362440,-4958879163798414304,39782,617,2,6,1,1],[7,-7730517506924132729,-4958879163798414304,40594,619,2,6,1,1],[7,-7662899788638438873,-4958879163798414304,41405,678,2,6,1,1],[7,-7300881689785097609,-4958879163798414304,42276,615,2,6,1,1],[7,-7786578264450900034,-4958879163798414304,43084,658,2,6,1,1],[7,-5060888986675094395,-4958879163798414304,43937,629,2,6,1,1],[7,-6065176525240345843,-4958879163798414304,44760,622,2,6,1,1],[7,-7427693663716534567,-4958879163798414304,45576,624,2,6,1,1],[7,-6052826482299777500,-4958879163798414304,46396,624,2,6,1,1],[7,-8366461980632737542,-4958879163798414304,47215,615,2,6,1,1],[7,-9123195130359044283,-4958879163798414304,48029,712,2,6,1,1],[7,-6477292176885224031,-4958879163798414304,48935,654,2,6,1,1],[7,-6117425891874031729,-4958879163798414304,49774,623,2,6,1,1],[7,-7834889007244342462,-4958879163798414304,50591,638,2,6,1,1],[7,-6975336351116717854,-4958879163798414304,53466,675,2,6,1,1],[7,-7233891310829603201,-4958879163798414304,54345,658,2,6,1,1],[7,-5121984663855535084,-4958879163798414304,55196,627,2,6,1,1]]');
CREATE INDEX traces_by_time ON traces (first_ns);
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
FROM span_blocks b, json_each(b.spans) j
;
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
         ELSE json_patch(coalesce(s.info, '{}'), json_object('host', src.host)) END) || '') AS data,
       s.id AS span, s.block
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
         ELSE json_object('host', src.host) END) || ''),
       s.id, s.block
FROM spans s
JOIN traces t ON t.id = s.trace
JOIN sources src ON src.id = s.source
LEFT JOIN errors e ON e.id = s.error;
PRAGMA user_version = 3;
COMMIT;
