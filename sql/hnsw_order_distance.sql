-- An ORDER BY distance that nothing reads (src/hnswplan.c): in SELECT id
-- FROM t ORDER BY v <-> q LIMIT k the distance is a resjunk column that the
-- executor would compute for every row, reading the row's vector, only to
-- drop it.  The plan takes the scan's value instead, whatever the index
-- (f32, quantized, cosine, arrays); a distance the query reads is still the
-- operator's own.

-- load the library, so that the planner hook is in place for what follows
SELECT '[1,2]'::vector;

-- integer coordinates: bf16 codes and squared distances are exact (rows
-- repeat every 23 ids: identical vectors, ties)
CREATE TABLE o (id int PRIMARY KEY, v vector(8), a real[]);
INSERT INTO o
SELECT i, ('[' || array_to_string(ARRAY(
	SELECT (i * j * 7 + j * j) % 23 - 11 FROM generate_series(1, 8) j), ',') || ']')::vector,
	ARRAY(SELECT ((i * j * 5 + j) % 19 - 9)::real FROM generate_series(1, 4) j)
FROM generate_series(1, 400) i;
CREATE INDEX o_bf16 ON o USING hnsw (v vector_l2_ops) WITH (quantization = 'bf16');
CREATE INDEX o_cos ON o USING hnsw (v vector_cosine_ops);
CREATE INDEX o_arr ON o USING hnsw (a float4_l1_ops);
ANALYZE o;
SET enable_seqscan = off;
SET hnsw.ef_search = 200;

-- the plain k-NN query: the scan's value, no vector read
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM o ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 5;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM o ORDER BY v <=> '[1,2,3,4,5,6,7,8]' LIMIT 5;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM o ORDER BY a <+> '{1,2,3,4}' LIMIT 5;
-- no LIMIT: the scan is the plan
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM o ORDER BY v <-> '[1,2,3,4,5,6,7,8]';

-- nothing reads the vector: neither the operator nor _index_distance is
-- called (track_functions counts the calls of C functions too) ...
BEGIN;
SET LOCAL track_functions = 'all';
CREATE TEMP TABLE unread AS
SELECT id FROM o ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 5;
SELECT funcname, calls FROM pg_stat_xact_user_functions
WHERE funcname IN ('l2_distance', '_index_distance', '_index_order_distance')
ORDER BY funcname;
-- ... but when the query selects the distance, it is computed for each row
-- (bf16: _index_distance calls the operator's function)
CREATE TEMP TABLE selected AS
SELECT id, v <-> '[1,2,3,4,5,6,7,8]' AS dist FROM o
ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 5;
SELECT funcname, calls FROM pg_stat_xact_user_functions
WHERE funcname IN ('l2_distance', '_index_distance', '_index_order_distance')
ORDER BY funcname;
COMMIT;
SELECT count(*) AS same_rows FROM unread JOIN selected USING (id);

-- an f32 index too
BEGIN;
DROP INDEX o_bf16;
CREATE INDEX o_f32 ON o USING hnsw (v vector_l2_ops);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM o ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 5;
ROLLBACK;

-- the rows are those of an exact search
CREATE TABLE got_l2 AS SELECT id FROM o ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 10;
CREATE TABLE got_cos AS SELECT id FROM o ORDER BY v <=> '[1,2,3,4,5,6,7,8]' LIMIT 10;
CREATE TABLE got_arr AS SELECT id FROM o ORDER BY a <+> '{1,2,3,4}' LIMIT 10;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT (SELECT array_agg(v <-> '[1,2,3,4,5,6,7,8]' ORDER BY 1) FROM got_l2 JOIN o USING (id)) =
	   (SELECT array_agg(d) FROM (SELECT v <-> '[1,2,3,4,5,6,7,8]' d FROM o ORDER BY 1 LIMIT 10) s) AS l2_exact,
	   (SELECT array_agg(v <=> '[1,2,3,4,5,6,7,8]' ORDER BY 1) FROM got_cos JOIN o USING (id)) =
	   (SELECT array_agg(d) FROM (SELECT v <=> '[1,2,3,4,5,6,7,8]' d FROM o ORDER BY 1 LIMIT 10) s) AS cos_exact,
	   (SELECT array_agg(a <+> '{1,2,3,4}' ORDER BY 1) FROM got_arr JOIN o USING (id)) =
	   (SELECT array_agg(d) FROM (SELECT a <+> '{1,2,3,4}' d FROM o ORDER BY 1 LIMIT 10) s) AS arr_exact;
RESET enable_indexscan;
SET enable_seqscan = off;

-- where something may read the ORDER BY value, it is computed as before:
-- the distance selected (bf16: the operator, through _index_distance)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, v <-> '[1,2,3,4,5,6,7,8]' FROM o ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 5;
-- WITH TIES compares the values of the last rows
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM o ORDER BY v <=> '[1,2,3,4,5,6,7,8]' FETCH FIRST 5 ROWS WITH TIES;
-- a row lock above the scan
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM o ORDER BY v <=> '[1,2,3,4,5,6,7,8]' LIMIT 5 FOR UPDATE;
-- a subquery whose rows a join reads
EXPLAIN (VERBOSE, COSTS OFF)
SELECT s.id FROM (SELECT id FROM o ORDER BY v <=> '[1,2,3,4,5,6,7,8]' LIMIT 5) s
JOIN o USING (id);

-- _index_order_distance called by hand is an error, next to a scan of the
-- index or anywhere else (hnsw_index_distance tests it for other roles)
SELECT hnsw._index_order_distance(ctid, 'o_bf16') FROM o
ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 3;
SELECT hnsw._index_order_distance('(0,1)', 'o_bf16');

DROP TABLE o, got_l2, got_cos, got_arr, unread, selected;
