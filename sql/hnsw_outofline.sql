-- hnsw past the page: vectors whose elements do not fit a page are kept out
-- of line, with a code in the graph and exact re-ranking (src/README
-- "Vectors out of line")

-- 4,096 dimensions: f32 elements hold an i8 code, vectors go out of line
CREATE TABLE big (id int, v vector(4096));
INSERT INTO big SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 0.011 * (1 + i % 5)))
	FROM generate_series(1, 4096) j)::vector FROM generate_series(1, 300) i;
CREATE INDEX big_idx ON big USING hnsw (v);
SELECT elements, heap_tids, dimensions, quantization, graph_quantization,
	vector_chunks >= 300 AS chunks, vector_pages > 0 AS vector_pages
FROM hnsw.index_info('big_idx');
SELECT elements, dangling_links, stale_links FROM hnsw.verify_index('big_idx');

SET enable_seqscan = off;
SET hnsw.ef_search = 300;
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY v <-> (SELECT v FROM big WHERE id = 7) LIMIT 5;
-- with ef_search covering the table, the index returns the exact order
CREATE FUNCTION big_same(op text, q int, k int) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	a int[];
	b int[];
BEGIN
	SET LOCAL enable_seqscan = off;
	SET LOCAL enable_indexscan = on;
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM big ORDER BY v %s (SELECT v FROM big WHERE id = %s) LIMIT %s) s', op, q, k) INTO a;
	SET LOCAL enable_seqscan = on;
	SET LOCAL enable_indexscan = off;
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM big ORDER BY v %s (SELECT v FROM big WHERE id = %s) LIMIT %s) s', op, q, k) INTO b;
	IF a IS DISTINCT FROM b THEN
		RAISE NOTICE 'index % exact %', a, b;
	END IF;
	RETURN a = b;
END $$;
SELECT big_same('<->', 7, 10) AND big_same('<->', 150, 20) AND big_same('<->', 299, 10) AS l2_exact_order;
SELECT id, round((v <-> (SELECT v FROM big WHERE id = 42))::numeric, 4) AS distance
FROM big ORDER BY v <-> (SELECT v FROM big WHERE id = 42) LIMIT 3;

-- inserts: a new vector, and an identical one that shares its element
INSERT INTO big SELECT 1000, v FROM big WHERE id = 5;
INSERT INTO big SELECT 1001, (SELECT array_agg(cos(j * 0.02)) FROM generate_series(1, 4096) j)::vector;
SELECT elements, heap_tids FROM hnsw.index_info('big_idx');
SELECT id FROM big ORDER BY v <-> (SELECT v FROM big WHERE id = 5), id LIMIT 2;
SELECT id FROM big ORDER BY v <-> (SELECT v FROM big WHERE id = 1001) LIMIT 1;
-- delete and vacuum free the elements and their vectors
DELETE FROM big WHERE id % 3 = 0;
VACUUM big;
SELECT elements, live_elements, heap_tids, vector_chunks >= elements AS chunks
FROM hnsw.index_info('big_idx');
SELECT elements, dangling_links, stale_links FROM hnsw.verify_index('big_idx');
SELECT big_same('<->', 7, 10) AS exact_after_vacuum;
-- the space is reused by later inserts
SELECT pg_relation_size('big_idx') AS before \gset
INSERT INTO big SELECT i + 2000, (SELECT array_agg(sin(i * 0.29 + j * 0.013))
	FROM generate_series(1, 4096) j)::vector FROM generate_series(1, 60) i;
SELECT pg_relation_size('big_idx') <= :before AS space_reused;
SELECT count(*) FROM hnsw.verify_index('big_idx') WHERE dangling_links = 0;
DROP INDEX big_idx;

-- cosine (normalised vectors out of line) and inner product
CREATE INDEX big_cos ON big USING hnsw (v vector_cosine_ops);
SELECT big_same('<=>', 11, 10) AS cosine_exact_order;
DROP INDEX big_cos;
CREATE INDEX big_ip ON big USING hnsw (v vector_ip_ops);
-- inner product is no metric: the graph may miss a row, but what it returns
-- comes in exact order
SELECT array_agg(d ORDER BY n) = array_agg(d ORDER BY d) AS ip_sorted, count(*)
FROM (SELECT row_number() OVER () AS n, d FROM (SELECT v <#> (SELECT v FROM big WHERE id = 11) AS d
	FROM big ORDER BY v <#> (SELECT v FROM big WHERE id = 11) LIMIT 10) s) t;
DROP INDEX big_ip;
-- f16 out of line: an i8 code in the graph, f16 vectors re-rank
CREATE INDEX big_f16 ON big USING hnsw (v) WITH (quantization = 'f16');
SELECT quantization, graph_quantization FROM hnsw.index_info('big_f16');
SELECT big_same('<->', 13, 10) AS f16_order;
DROP INDEX big_f16;
-- i8 fits inline at 4,096 dimensions
CREATE INDEX big_i8 ON big USING hnsw (v) WITH (quantization = 'i8');
SELECT quantization, graph_quantization, vector_chunks FROM hnsw.index_info('big_i8');
DROP INDEX big_i8;

-- 3,072 dimensions: a bf16 code fits, so the graph holds bf16
CREATE TABLE mid (id int, v real[]);
INSERT INTO mid SELECT i, (SELECT array_agg(sin(i * 0.41 + j * 0.017 * (1 + i % 3)))
	FROM generate_series(1, 3072) j) FROM generate_series(1, 200) i;
CREATE INDEX mid_idx ON mid USING hnsw (v float4_l2_ops);
SELECT dimensions, quantization, graph_quantization FROM hnsw.index_info('mid_idx');
SELECT (SELECT array_agg(id) FROM (SELECT id FROM mid
		ORDER BY v <-> (SELECT v FROM mid WHERE id = 3) LIMIT 10) s) =
	(SELECT array_agg(id) FROM (SELECT id FROM mid
		ORDER BY l2_distance(v::vector, (SELECT v FROM mid WHERE id = 3)::vector) LIMIT 10) s)
	AS array_exact_order;
-- an empty index decides at its first insert
TRUNCATE mid;
INSERT INTO mid SELECT i, (SELECT array_agg(cos(i * 0.5 + j * 0.01))
	FROM generate_series(1, 3072) j) FROM generate_series(1, 30) i;
SELECT elements, quantization, graph_quantization FROM hnsw.index_info('mid_idx');
SELECT id FROM mid ORDER BY v <-> (SELECT v FROM mid WHERE id = 17) LIMIT 1;
SELECT elements FROM hnsw.verify_index('mid_idx');
DROP TABLE mid;

-- beyond what even an i8 code in the graph allows: a clear error
CREATE TABLE huge (v vector(16000));
INSERT INTO huge SELECT array_fill(1::real, ARRAY[16000])::vector;
CREATE INDEX ON huge USING hnsw (v);
CREATE INDEX ON huge USING hnsw (v) WITH (quantization = 'i8');
TRUNCATE huge;
CREATE INDEX huge_idx ON huge USING hnsw (v);
INSERT INTO huge SELECT array_fill(1::real, ARRAY[16000])::vector;
DROP TABLE huge;
-- an operator class with its own distance cannot keep vectors out of line
CREATE FUNCTION my_l2(vector, vector) RETURNS float8
	AS 'SELECT $1 <-> $2' LANGUAGE sql IMMUTABLE STRICT;
CREATE OPERATOR CLASS my_l2_ops FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 my_l2(vector, vector);
CREATE INDEX ON big USING hnsw (v my_l2_ops);
DROP OPERATOR FAMILY my_l2_ops USING hnsw;
DROP FUNCTION my_l2;

RESET enable_seqscan;
RESET hnsw.ef_search;
DROP FUNCTION big_same;
DROP TABLE big;

-- a parallel build packs the vectors' chunks as a serial build does: when
-- both participants extend the index at once, the page that does not become
-- the insert page goes to the free space map (it used to keep its one chunk:
-- 35 to 44 pages more than the serial build's 1,630 here)
CREATE TABLE wide (id int, v vector(784));
SELECT setseed(0.5);
INSERT INTO wide SELECT i, (SELECT array_agg(floor(random() * 256))
	FROM generate_series(1, 784) d WHERE g.i > 0)::real[]::vector
FROM generate_series(1, 3000) g(i);
ALTER TABLE wide SET (parallel_workers = 1);
SET max_parallel_maintenance_workers = 0;
CREATE INDEX wide_serial ON wide USING hnsw (v) WITH (graph_quantization = 'i8');
SET max_parallel_maintenance_workers = 1;
CREATE INDEX wide_parallel ON wide USING hnsw (v) WITH (graph_quantization = 'i8');
RESET max_parallel_maintenance_workers;
SELECT pg_relation_size('wide_parallel') <= pg_relation_size('wide_serial') + 8 * 8192
	AS packed;
SELECT elements FROM hnsw.verify_index('wide_parallel');
DROP TABLE wide;
