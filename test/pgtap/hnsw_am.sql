-- The hnsw access method: catalog, options, planner and recall on generated
-- data, as behaviour assertions.
BEGIN;
SELECT plan(16);

SELECT ok(EXISTS (SELECT 1 FROM pg_am WHERE amname = 'hnsw' AND amtype = 'i'),
	'access method hnsw exists');
SELECT set_eq(
	$$SELECT opcname::text FROM pg_opclass WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hnsw') AND opcintype = 'vector'::regtype$$,
	ARRAY['vector_l2_ops', 'vector_ip_ops', 'vector_cosine_ops', 'vector_l1_ops',
		  'vector_canberra_ops', 'vector_bray_curtis_ops', 'vector_correlation_ops'],
	'the four pgvector operator classes and the three Spark distances');
SELECT ok(bool_and(amvalidate(oid)), 'every operator class validates')
	FROM pg_opclass WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hnsw');

SELECT setseed(0.5);
CREATE TABLE items (id int, cat int, v vector(8));
INSERT INTO items SELECT i, i % 10,
	(SELECT array_agg(random())::real[] FROM generate_series(1, 8) WHERE i > 0)::vector
	FROM generate_series(1, 3000) i;
CREATE TABLE queries AS SELECT id, v FROM items WHERE id <= 30;

SELECT throws_ok($$CREATE INDEX ON items USING hnsw (v) WITH (m = 1)$$, '22023',
	NULL, 'm below 2 is rejected');
SELECT throws_ok($$CREATE INDEX ON items USING hnsw (v) WITH (m = 40, ef_construction = 64)$$,
	'22023', 'ef_construction must be greater than or equal to 2 * m',
	'ef_construction below 2 * m is rejected');
SELECT throws_ok($$SET hnsw.ef_search = 0$$, '22023', NULL, 'ef_search 0 is rejected');

CREATE INDEX items_idx ON items USING hnsw (v) WITH (m = 8, ef_construction = 32);
ANALYZE items;

SET LOCAL enable_seqscan = off;

CREATE FUNCTION plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text; p text := '';
BEGIN
	FOR r IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP p := p || r || E'\n'; END LOOP;
	RETURN p;
END $$;

SELECT matches(plan_of($$SELECT id FROM items ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 5$$),
	'Index Scan using items_idx', 'ORDER BY <-> LIMIT uses the index');
SELECT doesnt_match(plan_of($$SELECT id FROM items WHERE v = '[0,0,0,0,0,0,0,0]'$$),
	'items_idx', 'an equality filter does not use the index');
SELECT doesnt_match(plan_of($$SELECT id FROM items ORDER BY v <=> '[1,0,0,0,0,0,0,0]' LIMIT 5$$),
	'items_idx', 'another distance does not use the L2 index');

-- results come in distance order
SELECT ok(bool_and(d >= prev), 'results are in distance order')
FROM (SELECT d, lag(d, 1, 0::float8) OVER (ORDER BY n) AS prev
	FROM (SELECT row_number() OVER () AS n, v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' AS d
		FROM (SELECT v FROM items ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 40) s) t) u;

-- recall@10 against exact search, as the tests count it (hnsw_test.recall)
\ir ../helpers/recall.sql
SELECT cmp_ok(hnsw_test.recall('items', 'queries', '<->', 10), '>=', 0.95::float8,
	'recall@10 at default ef_search is at least 0.95');
-- hnsw.evaluate_recall counts the same, on a weak index whose searches
-- miss rows (recall about 0.9; below 0.99 or the comparison proves little)
CREATE TABLE weak AS SELECT id, v FROM items;
CREATE INDEX ON weak USING hnsw (v) WITH (m = 4, ef_construction = 8);
SET LOCAL hnsw.ef_search = 10;
CREATE TEMP TABLE weak_recall AS
SELECT hnsw_test.recall('weak', 'SELECT id, v FROM queries ORDER BY id', '<->', 10) AS ours,
	   (SELECT recall FROM hnsw.evaluate_recall('weak', 'v', ARRAY(SELECT v FROM queries ORDER BY id),
												10, ef_search => 10, key => 'id')) AS theirs;
SELECT is(theirs, ours, 'hnsw.evaluate_recall equals the tests'' count') FROM weak_recall;
SELECT cmp_ok(ours, '<', 0.99::float8, 'where the weak index misses rows') FROM weak_recall;
RESET hnsw.ef_search;

-- every row finds itself (a search that returned no row would count too)
SELECT is((SELECT count(*) FROM items a
	WHERE (SELECT b.v <-> a.v FROM items b ORDER BY b.v <-> a.v LIMIT 1) IS DISTINCT FROM 0), 0::bigint,
	'every row is found by its own vector');

-- a filtered query returns LIMIT rows even with a small ef_search
SET LOCAL hnsw.ef_search = 10;
SELECT is((SELECT count(*) FROM (SELECT id FROM items WHERE cat = 3
	ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 40) s), 40::bigint,
	'a filter keeping 10% still returns LIMIT rows');
SET LOCAL hnsw.max_scan_tuples = 10;
SELECT cmp_ok((SELECT count(*) FROM (SELECT id FROM items WHERE cat = 3
	ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 40) s), '<=', 10::bigint,
	'hnsw.max_scan_tuples bounds the scan');
RESET hnsw.max_scan_tuples;
RESET hnsw.ef_search;

SELECT * FROM finish();
ROLLBACK;
