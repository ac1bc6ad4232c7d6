-- hnsw index options, GUCs, catalog and planner

CREATE TABLE t (v vector(3));

CREATE INDEX ON t USING hnsw (v) WITH (m = 1);
CREATE INDEX ON t USING hnsw (v) WITH (m = 101);
CREATE INDEX ON t USING hnsw (v) WITH (ef_construction = 3);
CREATE INDEX ON t USING hnsw (v) WITH (ef_construction = 1001);
CREATE INDEX ON t USING hnsw (v) WITH (m = 16, ef_construction = 31);
CREATE INDEX ON t USING hnsw (v) WITH (nonsense = 1);
CREATE INDEX t_ok ON t USING hnsw (v) WITH (m = 4, ef_construction = 8);
ALTER INDEX t_ok SET (m = 10);
-- the pages keep the m they were built with
ALTER INDEX t_ok SET (m = 3);
INSERT INTO t VALUES ('[1,2,3]'), ('[4,5,6]');
SET enable_seqscan = off;
SELECT v FROM t ORDER BY v <-> '[4,5,7]' LIMIT 1;
RESET enable_seqscan;
SELECT elements FROM hnsw.verify_index('t_ok');
TRUNCATE t;
DROP INDEX t_ok;

-- a second column must be an integer filter column (hnsw_filter_column)
CREATE INDEX ON t USING hnsw (v, v);
CREATE INDEX ON t USING hnsw (v) INCLUDE (v);
CREATE UNIQUE INDEX ON t USING hnsw (v);

SET hnsw.ef_search = 0;
SET hnsw.ef_search = 1001;
SET hnsw.ef_search = 100;
SHOW hnsw.ef_search;
BEGIN;
SET LOCAL hnsw.ef_search = 7;
SHOW hnsw.ef_search;
COMMIT;
SHOW hnsw.ef_search;
RESET hnsw.ef_search;
SHOW hnsw.ef_search;
SHOW hnsw.max_scan_tuples;
SET hnsw.max_scan_tuples = 0;
SET hnsw.nonsense = 1;

-- operator classes
SELECT opcname, opcdefault FROM pg_opclass
	WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hnsw')
	ORDER BY opcname;
SELECT opcname, amvalidate(oid) FROM pg_opclass
	WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hnsw')
	ORDER BY opcname;

-- an invalid operator class is reported by amvalidate
CREATE OPERATOR CLASS bad_ops FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_norm(vector);
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'bad_ops';
DROP OPERATOR FAMILY bad_ops USING hnsw;

-- vectors too large for a page go out of line (more in hnsw_outofline)
CREATE TABLE big (v vector);
INSERT INTO big SELECT array_fill(1, ARRAY[2000])::real[]::vector;
CREATE INDEX big_idx ON big USING hnsw (v);
SELECT quantization, graph_quantization FROM hnsw.index_info('big_idx');
DROP TABLE big;

-- the planner uses the index for ORDER BY distance LIMIT, not otherwise
-- (on a table this small a sequential scan is cheaper, so it is disabled)
INSERT INTO t SELECT ARRAY[i, i % 10, i % 7]::real[]::vector FROM generate_series(1, 5000) i;
CREATE INDEX t_idx ON t USING hnsw (v);
ANALYZE t;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM t ORDER BY v <-> '[1,2,3]' LIMIT 5;
-- not for another operator than the opclass's
EXPLAIN (COSTS OFF) SELECT * FROM t ORDER BY v <#> '[1,2,3]' LIMIT 5;
RESET enable_seqscan;
EXPLAIN (COSTS OFF) SELECT * FROM t WHERE v = '[1,2,3]';
EXPLAIN (COSTS OFF) SELECT * FROM t ORDER BY v <-> '[1,2,3]';
EXPLAIN (COSTS OFF) SELECT * FROM t ORDER BY v LIMIT 5;

DROP TABLE t;

-- with sequential scans disabled, a query without ORDER BY distance must
-- still not be planned as an hnsw index scan
CREATE TABLE t_noorder (id int, v vector(2));
INSERT INTO t_noorder SELECT i, ARRAY[i, i] FROM generate_series(1, 100) i;
CREATE INDEX ON t_noorder USING hnsw (v);
SET enable_seqscan = off;
SELECT count(*) FROM t_noorder;
SELECT count(*) FROM t_noorder WHERE v = '[3,3]';
RESET enable_seqscan;
DROP TABLE t_noorder;
