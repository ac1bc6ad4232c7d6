-- The executor takes the distance an hnsw scan computed (src/hnswplan.c):
-- the plan shows hnsw._index_distance in place of the operator, and every
-- value equals the operator's own, bit for bit.

-- load the library, so that the planner hook is in place for what follows
SELECT '[1,2]'::vector;

CREATE TABLE d (id int PRIMARY KEY, tag int, v vector(8));
INSERT INTO d
SELECT i, i % 7, ('[' || array_to_string(ARRAY(
	SELECT round((sin(i * 0.37 + j * 1.3) * 10)::numeric, 3)
	FROM generate_series(1, 8) j), ',') || ']')::vector
FROM generate_series(1, 500) i;
CREATE INDEX d_l2 ON d USING hnsw (v vector_l2_ops);
CREATE INDEX d_ip ON d USING hnsw (v vector_ip_ops);
CREATE INDEX d_l1 ON d USING hnsw (v vector_l1_ops);
CREATE INDEX d_cos ON d USING hnsw (v vector_cosine_ops);
ANALYZE d;
SET enable_seqscan = off;
SET hnsw.ef_search = 100;

-- the ORDER BY expression and a filter on it are taken from the scan
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, v <-> '[1,1,1,1,1,1,1,1]' AS dist FROM d
WHERE v <-> '[1,1,1,1,1,1,1,1]' < 20
ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 3;
-- cosine: the index orders by normalised vectors, the operator is computed
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, v <=> '[1,1,1,1,1,1,1,1]' FROM d ORDER BY v <=> '[1,1,1,1,1,1,1,1]' LIMIT 3;

-- equal to the operator for every row of the index scans: compare with
-- the same query computed by a sequential scan
CREATE TABLE via_index AS
SELECT q.id AS q, op, r.id, r.dist
FROM (SELECT id, v FROM d WHERE id <= 20) q,
	 LATERAL (SELECT '<->' AS op, d.id, d.v <-> q.v AS dist FROM d ORDER BY d.v <-> q.v LIMIT 10) r
UNION ALL
SELECT q.id, op, r.id, r.dist
FROM (SELECT id, v FROM d WHERE id <= 20) q,
	 LATERAL (SELECT '<#>' AS op, d.id, d.v <#> q.v AS dist FROM d ORDER BY d.v <#> q.v LIMIT 10) r
UNION ALL
SELECT q.id, op, r.id, r.dist
FROM (SELECT id, v FROM d WHERE id <= 20) q,
	 LATERAL (SELECT '<+>' AS op, d.id, d.v <+> q.v AS dist FROM d ORDER BY d.v <+> q.v LIMIT 10) r;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT count(*) AS rows,
	   count(*) FILTER (WHERE x.dist = CASE x.op WHEN '<->' THEN d.v <-> q.v
											   WHEN '<#>' THEN d.v <#> q.v
											   ELSE d.v <+> q.v END) AS equal
FROM via_index x JOIN d ON d.id = x.id JOIN d q ON q.id = x.q;
RESET enable_indexscan;
SET enable_seqscan = off;

-- two scans of one index interleaved, and a filter that runs a third:
-- each row still gets its own distance
SELECT a.id, a.dist = (a.v <-> (SELECT v FROM d WHERE id = 1)) AS a_ok,
	   b.id, b.dist = (b.v <-> (SELECT v FROM d WHERE id = 2)) AS b_ok
FROM (SELECT id, v, v <-> (SELECT v FROM d WHERE id = 1) AS dist FROM d
	  ORDER BY v <-> (SELECT v FROM d WHERE id = 1) LIMIT 4) a,
	 LATERAL (SELECT id, v, v <-> (SELECT v FROM d WHERE id = 2) AS dist FROM d
			  WHERE id <> a.id
			  ORDER BY v <-> (SELECT v FROM d WHERE id = 2) LIMIT 2) b
ORDER BY a.dist, b.dist;
-- the filter's scan, run between the outer scan's row and its distance,
-- returns that same row first (at distance 0 from itself)
SELECT id, dist = (v <-> (SELECT v FROM d WHERE id = 3)) AS ok, dist > 0 AS far
FROM (SELECT id, v, v <-> (SELECT v FROM d WHERE id = 3) AS dist FROM d
	  WHERE (SELECT x.id FROM d x ORDER BY x.v <-> d.v LIMIT 1) = d.id
	  ORDER BY v <-> (SELECT v FROM d WHERE id = 3) LIMIT 5) s;

-- a row updated in place (HOT) is reached through its chain: computed
UPDATE d SET tag = tag + 100 WHERE id = 5;
SELECT id, tag, (v <-> '[0,0,0,0,0,0,0,0]') = dist AS ok
FROM (SELECT id, tag, v, v <-> '[0,0,0,0,0,0,0,0]' AS dist FROM d
	  ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 500) s WHERE id = 5;

-- quantized indexes: i8 re-ranks with the rows' vectors and hands those
-- distances on; bf16, and i8 without re-ranking, order by codes and the
-- operator is computed.  Every way, the operator's value.
DROP INDEX d_ip, d_l1, d_cos;
ALTER INDEX d_l2 SET (quantization = 'i8');
REINDEX INDEX d_l2;
SELECT count(*) FILTER (WHERE dist = (v <-> '[1,2,3,4,5,6,7,8]')) AS equal
FROM (SELECT v, v <-> '[1,2,3,4,5,6,7,8]' AS dist FROM d
	  ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 10) s;
SET hnsw.rerank = off;
SELECT count(*) FILTER (WHERE dist = (v <-> '[1,2,3,4,5,6,7,8]')) AS equal
FROM (SELECT v, v <-> '[1,2,3,4,5,6,7,8]' AS dist FROM d
	  ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 10) s;
RESET hnsw.rerank;
ALTER INDEX d_l2 SET (quantization = 'bf16');
REINDEX INDEX d_l2;
SELECT count(*) FILTER (WHERE dist = (v <-> '[1,2,3,4,5,6,7,8]')) AS equal
FROM (SELECT v, v <-> '[1,2,3,4,5,6,7,8]' AS dist FROM d
	  ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 10) s;

-- query vectors read from a table arrive as pointers to TOAST values: the
-- first row of each scan compares the value, the others its pointer
-- (QueryIsScans); every distance is still the operator's own
CREATE TABLE big (id int PRIMARY KEY, v vector(600));
ALTER TABLE big ALTER COLUMN v SET STORAGE EXTERNAL;
INSERT INTO big
SELECT i, ARRAY(SELECT sin(i * 0.37 + j * 1.3) * 10
				FROM generate_series(1, 600) j)::real[]::vector
FROM generate_series(1, 300) i;
CREATE INDEX big_l2 ON big USING hnsw (v vector_l2_ops);
SELECT pg_relation_size(reltoastrelid) > 0 AS toasted
FROM pg_class WHERE relname = 'big';
CREATE TABLE big_via_index AS
SELECT q.id AS q, r.id, r.dist
FROM (SELECT id, v FROM big WHERE id <= 20) q,
	 LATERAL (SELECT b.id, b.v <-> q.v AS dist FROM big b
			  ORDER BY b.v <-> q.v LIMIT 10) r;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT count(*) AS rows, count(*) FILTER (WHERE x.dist = b.v <-> q.v) AS equal
FROM big_via_index x JOIN big b ON b.id = x.id JOIN big q ON q.id = x.q;
RESET enable_indexscan;
SET enable_seqscan = off;
-- two scans interleaved, each with its own TOAST value as the query
SELECT a.id, a.dist = (a.v <-> (SELECT v FROM big WHERE id = 1)) AS a_ok,
	   b.id, b.dist = (b.v <-> (SELECT v FROM big WHERE id = 2)) AS b_ok
FROM (SELECT id, v, v <-> (SELECT v FROM big WHERE id = 1) AS dist FROM big
	  ORDER BY v <-> (SELECT v FROM big WHERE id = 1) LIMIT 3) a,
	 LATERAL (SELECT id, v, v <-> (SELECT v FROM big WHERE id = 2) AS dist
			  FROM big WHERE id <> a.id
			  ORDER BY v <-> (SELECT v FROM big WHERE id = 2) LIMIT 2) b
ORDER BY a.dist, b.dist;
DROP TABLE big, big_via_index;

-- The hook's functions answer only the calls the hook built.  Called by
-- hand, by any role, they are an error: next to a scan of the index too,
-- in a view, and through an operator.  No function takes a function to
-- call: the old signature with one is gone.
CREATE ROLE hnsw_alice LOGIN;
GRANT SELECT ON d TO hnsw_alice;
SET ROLE hnsw_alice;
SELECT hnsw._index_distance('[1]', '[1]', '(0,1)', 0, 'pg_switch_wal');
SELECT hnsw._index_distance('[1,2]'::vector, '[4,6]', '(0,1)', 'd_l2');
SELECT hnsw._index_distance('[1,2]'::halfvec, '[4,6]', '(0,1)', 'd_l2');
SELECT hnsw._index_distance(v, '[1,2,3,4,5,6,7,8]', ctid, 'd_l2')
FROM d ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 1;
SELECT hnsw._index_order_distance(ctid, 'd_l2')
FROM d ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 1;
SELECT hnsw._index_order_distance('(0,1)', 0);
CREATE TEMP VIEW peek AS
SELECT hnsw._index_order_distance(ctid, 'd_l2') AS dist
FROM d ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 1;
SELECT * FROM peek;
CREATE OPERATOR pg_temp.@@ (LEFTARG = tid, RIGHTARG = regclass,
							FUNCTION = hnsw._index_order_distance);
SELECT ctid OPERATOR(pg_temp.@@) 'd_l2'::regclass
FROM d ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 1;
-- ... while the plans the hook builds work for that role as for any other
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, v <-> '[1,2,3,4,5,6,7,8]' AS dist FROM d
ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 3;
SELECT count(*) FILTER (WHERE dist = (v <-> '[1,2,3,4,5,6,7,8]')) AS equal
FROM (SELECT v, v <-> '[1,2,3,4,5,6,7,8]' AS dist FROM d
	  ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 10) s;
RESET ROLE;
DROP VIEW peek;
DROP OPERATOR pg_temp.@@ (tid, regclass);
REVOKE SELECT ON d FROM hnsw_alice;
DROP ROLE hnsw_alice;

DROP TABLE d, via_index;
