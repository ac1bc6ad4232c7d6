-- hnsw index: build, insert, exact small cases, NULLs, options

SET enable_seqscan = off;

CREATE TABLE t (id int, v vector(3));
INSERT INTO t VALUES (1, '[1,1,1]'), (2, '[2,2,2]'), (3, '[1,1,2]'), (4, NULL),
	(5, '[0,0,0]'), (6, '[10,10,10]');
CREATE INDEX t_l2 ON t USING hnsw (v vector_l2_ops);

SELECT id FROM t ORDER BY v <-> '[3,3,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v <-> '[3,3,3]' LIMIT 5;

-- insert after build
INSERT INTO t VALUES (7, '[3,3,3]'), (8, '[3,3,4]');
SELECT id FROM t ORDER BY v <-> '[3,3,3]' LIMIT 3;

-- structural check: one element per distinct vector
SELECT elements FROM hnsw.verify_index('t_l2');
CREATE INDEX t_btree ON t (id);
SELECT elements FROM hnsw.verify_index('t_btree');
DROP INDEX t_btree;
-- reading index pages is for those granted it, as amcheck's functions are;
-- there is one structural check (no hnsw_index_check beside it)
CREATE ROLE hnsw_bob;
GRANT SELECT ON t TO hnsw_bob;
SET ROLE hnsw_bob;
SELECT elements FROM hnsw.verify_index('t_l2');
SELECT elements FROM hnsw.index_info('t_l2');
SELECT hnsw_index_check('t_l2');
RESET ROLE;
GRANT EXECUTE ON FUNCTION hnsw.verify_index(regclass) TO hnsw_bob;
SET ROLE hnsw_bob;
SELECT elements FROM hnsw.verify_index('t_l2');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION hnsw.verify_index(regclass) FROM hnsw_bob;
REVOKE SELECT ON t FROM hnsw_bob;
DROP ROLE hnsw_bob;

-- NULLs are not indexed, so an index scan never returns them
SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0]' LIMIT 100) s;

-- wrong dimensions
SELECT id FROM t ORDER BY v <-> '[1,2]' LIMIT 3;
INSERT INTO t VALUES (9, '[1,2]');

DROP INDEX t_l2;

-- inner product
CREATE INDEX t_ip ON t USING hnsw (v vector_ip_ops);
SELECT id FROM t ORDER BY v <#> '[1,1,1]' LIMIT 3;
DROP INDEX t_ip;

-- L1
CREATE INDEX t_l1 ON t USING hnsw (v vector_l1_ops);
SELECT id FROM t ORDER BY v <+> '[1,1,1]' LIMIT 2;
DROP INDEX t_l1;

-- cosine: the zero vector is not indexed; as a query it is at a NaN
-- distance from every row, so the scan returns every row it holds (see
-- hnsw_scan)
CREATE TABLE c (id int, v vector(2));
INSERT INTO c VALUES (1, '[1,0]'), (2, '[0,1]'), (3, '[1,1]'), (4, '[0,0]'),
	(5, '[-1,0]');
CREATE INDEX c_cos ON c USING hnsw (v vector_cosine_ops);
SELECT id FROM c ORDER BY v <=> '[2,0.1]' LIMIT 10;
SELECT id FROM (SELECT id FROM c ORDER BY v <=> '[0,0]' LIMIT 10) s ORDER BY id;
INSERT INTO c VALUES (6, '[0,0]'), (7, '[3,0]');
-- two at distance 0: sorted by id, since ties come in any order
SELECT id FROM (SELECT id FROM c ORDER BY v <=> '[1,0]' LIMIT 2) s ORDER BY id;
SELECT count(*) FROM (SELECT id FROM c ORDER BY v <=> '[1,0]' LIMIT 10) s;
DROP TABLE c;

-- empty table, then inserts
CREATE TABLE e (v vector(2));
CREATE INDEX ON e USING hnsw (v);
SELECT * FROM e ORDER BY v <-> '[1,1]' LIMIT 1;
INSERT INTO e VALUES ('[1,1]'), ('[2,2]'), (NULL);
SELECT * FROM e ORDER BY v <-> '[2,2]' LIMIT 5;

-- TRUNCATE
TRUNCATE e;
SELECT * FROM e ORDER BY v <-> '[2,2]' LIMIT 5;
INSERT INTO e VALUES ('[5,5]');
SELECT * FROM e ORDER BY v <-> '[2,2]' LIMIT 5;
DROP TABLE e;

-- duplicates: many identical vectors all come back
CREATE TABLE d (id int, v vector(2));
INSERT INTO d SELECT i, '[1,1]' FROM generate_series(1, 50) i;
INSERT INTO d SELECT i, '[2,2]' FROM generate_series(51, 60) i;
CREATE INDEX ON d USING hnsw (v);
SELECT count(*) FROM (SELECT id FROM d ORDER BY v <-> '[1,1]' LIMIT 60) s;
INSERT INTO d SELECT i, '[1,1]' FROM generate_series(61, 90) i;
SELECT count(*) FROM (SELECT id FROM d ORDER BY v <-> '[1,1]' LIMIT 90) s;
-- identical vectors share elements, up to 10 heap TIDs each
SELECT elements BETWEEN 9 AND 90 AS shared FROM hnsw.verify_index('d_v_idx');
SELECT count(*) FROM (SELECT id FROM d ORDER BY v <-> '[1,1]' LIMIT 80) s
	WHERE id <= 50 OR id > 60;
DROP TABLE d;

-- filtered query: the scan continues past ef_search to return LIMIT rows
CREATE TABLE f (id int, v vector(2));
INSERT INTO f SELECT i, ARRAY[i % 100, i / 100]::real[]::vector FROM generate_series(0, 9999) i;
CREATE INDEX ON f USING hnsw (v);
SET hnsw.ef_search = 10;
SELECT count(*) FROM (SELECT id FROM f WHERE id % 7 = 0 ORDER BY v <-> '[50,50]' LIMIT 30) s;
SET hnsw.max_scan_tuples = 20;
SELECT count(*) < 30 AS bounded FROM (SELECT id FROM f WHERE id % 7 = 0 ORDER BY v <-> '[50,50]' LIMIT 30) s;
RESET hnsw.max_scan_tuples;
RESET hnsw.ef_search;
DROP TABLE f;

-- the same past ef_search at 256 dimensions, where loading gives up the
-- distances of elements that cannot enter the result (src/README "Early
-- abandoning"): each row comes with its whole distance, the operator's,
-- also when a later batch starts from such an element
CREATE TABLE fa (id int, v vector(256));
INSERT INTO fa SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 0.011 * (1 + i % 5)))
	FROM generate_series(1, 256) j)::vector FROM generate_series(1, 2000) i;
CREATE INDEX ON fa USING hnsw (v);
SET enable_seqscan = off;
SET hnsw.ef_search = 10;
WITH q AS (SELECT v FROM fa WHERE id = 1),
r AS MATERIALIZED (
	SELECT id, v <-> (SELECT v FROM q) AS d FROM fa WHERE id % 9 = 0
	ORDER BY v <-> (SELECT v FROM q) LIMIT 60)
SELECT count(*) AS rows,
	count(*) FILTER (WHERE r.d = l2_distance(fa.v, (SELECT v FROM q))) AS whole
FROM r JOIN fa USING (id);
RESET hnsw.ef_search;
RESET enable_seqscan;
DROP TABLE fa;

DROP TABLE t;
