-- hnsw index scans: queries at no distance from any row (NULL, the zero
-- vector under cosine) return what a sequential scan returns; scans are
-- counted in pg_stat_user_indexes

CREATE TABLE s (id int, v vector(3), a real[]);
INSERT INTO s SELECT i, ARRAY[i % 7, i % 5, i % 3 + 1]::real[]::vector,
	ARRAY[i % 7, i % 5, i % 3 + 1]::real[] FROM generate_series(1, 120) i;
-- not indexed: a NULL vector, and (under cosine only) the zero vector
INSERT INTO s VALUES (121, NULL, NULL), (122, '[0,0,0]', '{0,0,0}');

-- the answer of a sequential scan: every row, the distance NULL
CREATE TABLE seq_null AS SELECT id FROM s ORDER BY v <-> (SELECT NULL::vector);
SELECT count(*) FROM seq_null;

SET enable_seqscan = off;

-- a NULL query (an InitPlan's value, or a parameter of a generic plan) is at
-- a NULL distance from every row: the index returns every row it holds, which
-- is every row but the NULL one, under each operator
CREATE INDEX s_l2 ON s USING hnsw (v vector_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM s ORDER BY v <-> (SELECT NULL::vector);
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM s ORDER BY v <-> (SELECT NULL::vector)) q;
SELECT id FROM seq_null
EXCEPT SELECT id FROM (SELECT id FROM s ORDER BY v <-> (SELECT NULL::vector)) q;
-- the distance selected is the operator's: NULL
SELECT count(*) FILTER (WHERE d IS NULL) AS null_distances
FROM (SELECT id, v <-> (SELECT NULL::vector) AS d FROM s ORDER BY v <-> (SELECT NULL::vector)) q;
-- LIMIT takes any of them
SELECT count(*) FROM (SELECT id FROM s ORDER BY v <-> (SELECT NULL::vector) LIMIT 7) q;
-- a prepared statement whose generic plan uses the index
PREPARE null_q(vector) AS SELECT id FROM s ORDER BY v <-> $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE null_q(NULL);
CREATE TABLE idx_null AS EXECUTE null_q(NULL);
SELECT count(*) FROM idx_null;
RESET plan_cache_mode;
DEALLOCATE null_q;
-- hnsw.max_scan_tuples bounds these scans as any
SET hnsw.max_scan_tuples = 5;
SELECT count(*) FROM (SELECT id FROM s ORDER BY v <-> (SELECT NULL::vector)) q;
RESET hnsw.max_scan_tuples;
DROP INDEX s_l2;

CREATE INDEX s_ip ON s USING hnsw (v vector_ip_ops);
EXPLAIN (COSTS OFF) SELECT id FROM s ORDER BY v <#> (SELECT NULL::vector);
SELECT count(*) FROM (SELECT id FROM s ORDER BY v <#> (SELECT NULL::vector)) q;
DROP INDEX s_ip;

CREATE INDEX s_l1 ON s USING hnsw (v vector_l1_ops);
EXPLAIN (COSTS OFF) SELECT id FROM s ORDER BY v <+> (SELECT NULL::vector);
SELECT count(*) FROM (SELECT id FROM s ORDER BY v <+> (SELECT NULL::vector)) q;
DROP INDEX s_l1;

-- cosine leaves the zero vector out of the index as well
CREATE INDEX s_cos ON s USING hnsw (v vector_cosine_ops);
EXPLAIN (COSTS OFF) SELECT id FROM s ORDER BY v <=> (SELECT NULL::vector);
SELECT id FROM seq_null
EXCEPT SELECT id FROM (SELECT id FROM s ORDER BY v <=> (SELECT NULL::vector)) q
ORDER BY id;

-- the zero query vector is at a NaN cosine distance from every row, NaN
-- sorts last, so a sequential scan returns every row in any order: so does
-- the index, but for the rows it does not hold (the NULL and the zero vector)
EXPLAIN (COSTS OFF) SELECT id FROM s ORDER BY v <=> '[0,0,0]';
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM s ORDER BY v <=> '[0,0,0]') q;
SELECT id FROM seq_null
EXCEPT SELECT id FROM (SELECT id FROM s ORDER BY v <=> '[0,0,0]') q
ORDER BY id;
SELECT count(*) FILTER (WHERE d = 'NaN') AS nan_distances
FROM (SELECT id, v <=> '[0,0,0]' AS d FROM s ORDER BY v <=> '[0,0,0]' LIMIT 5) q;
-- its dimensions are checked as any query's
SELECT id FROM s ORDER BY v <=> '[0,0]' LIMIT 1;
-- a non-zero query returns the rows the index holds too
SELECT count(*) FROM (SELECT id FROM s ORDER BY v <=> '[1,0,0]') q;
DROP INDEX s_cos;

-- the same for an array column
CREATE INDEX s_acos ON s USING hnsw (a float4_cosine_ops);
EXPLAIN (COSTS OFF) SELECT id FROM s ORDER BY a <=> '{0,0,0}'::real[];
SELECT count(*) FROM (SELECT id FROM s ORDER BY a <=> '{0,0,0}'::real[]) q;
SELECT count(*) FROM (SELECT id FROM s ORDER BY a <=> (SELECT NULL::real[])) q;
SELECT id FROM s ORDER BY a <=> '{0,0}'::real[] LIMIT 1;
DROP INDEX s_acos;

-- rows deleted and vacuumed away are not returned; the snapshot decides
-- about the rows deleted but not vacuumed
CREATE INDEX s_l2 ON s USING hnsw (v vector_l2_ops);
DELETE FROM s WHERE id <= 40;
SELECT count(*) FROM (SELECT id FROM s ORDER BY v <-> (SELECT NULL::vector)) q;
SET enable_seqscan = on;
VACUUM s;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM s ORDER BY v <-> (SELECT NULL::vector)) q;

-- every index scan counts in pg_stat_user_indexes.idx_scan, as with any
-- index access method: four scans, two of them a subquery's, rescanned for
-- each row of the outer query
SELECT pg_stat_force_next_flush();
SELECT idx_scan AS before FROM pg_stat_user_indexes
WHERE indexrelid = 's_l2'::regclass \gset
SELECT count(*) FROM (SELECT id FROM s ORDER BY v <-> '[1,1,1]' LIMIT 2) q;
SELECT count(*) FROM (SELECT id FROM s ORDER BY v <-> (SELECT NULL::vector) LIMIT 3) q;
SELECT x, (SELECT id FROM s ORDER BY v <-> ARRAY[x, x, x]::real[]::vector LIMIT 1) IS NOT NULL AS found
FROM generate_series(5, 6) x;
SELECT pg_stat_force_next_flush();
SELECT idx_scan - :before AS scans, idx_tup_read > 0 AS read
FROM pg_stat_user_indexes WHERE indexrelid = 's_l2'::regclass;

RESET enable_seqscan;
DROP TABLE s, seq_null, idx_null;
