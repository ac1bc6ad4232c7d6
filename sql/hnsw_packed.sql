-- packed = on: CREATE INDEX cuts elements larger than a quarter of a page
-- over two pages (a head tuple and a tail tuple), so pages fill up; see
-- src/README "Page layout".  Searches, inserts and vacuum read and free
-- cut elements like any other.
CREATE TABLE pk (id int PRIMARY KEY, v vector(784));
INSERT INTO pk SELECT i, ARRAY(SELECT (hashint4(i * 1000 + k) & 255)::real
							   FROM generate_series(1, 784) k)::vector
	FROM generate_series(1, 1000) i;
CREATE INDEX pk_plain ON pk USING hnsw (v);
CREATE INDEX pk_packed ON pk USING hnsw (v) WITH (packed = on);
SELECT reloptions FROM pg_class WHERE relname = 'pk_packed';
-- two 784-dimensional f32 elements fit a page whole, seven fit three
SELECT pg_relation_size('pk_packed') < 0.87 * pg_relation_size('pk_plain') AS smaller;
SELECT elements, live_elements, heap_tids, cut_elements > 300 AS cut_many,
	(SELECT cut_elements FROM hnsw.index_info('pk_plain')) AS cut_unpacked
FROM hnsw.index_info('pk_packed');
SELECT elements, dangling_links, stale_links FROM hnsw.verify_index('pk_packed');

-- with ef_search past the table's size the index returns the exact nearest
-- rows: the distances of its k rows, in its order, are those of the k
-- nearest (rows at equal distance, such as the copies below, may come in
-- any order)
SET enable_seqscan = off;
SET hnsw.ef_search = 1000;
CREATE FUNCTION pk_nearest(q vector, k int) RETURNS float8[]
	LANGUAGE sql AS $$ SELECT array_agg(d) FROM
		(SELECT v <-> q AS d FROM pk ORDER BY v <-> q LIMIT k) s $$;
CREATE FUNCTION pk_exact(q vector, k int) RETURNS float8[]
	LANGUAGE sql SET enable_indexscan = off AS $$ SELECT array_agg(d ORDER BY d) FROM
		(SELECT v <-> q AS d FROM pk ORDER BY d LIMIT k) s $$;
DROP INDEX pk_plain;
SELECT count(*) FILTER (WHERE pk_nearest(v, 10) = pk_exact(v, 10)) AS exact_queries,
	count(*) AS queries
FROM pk WHERE id % 50 = 0;
EXPLAIN (COSTS OFF) SELECT id FROM pk ORDER BY v <-> (SELECT v FROM pk WHERE id = 1) LIMIT 10;

-- identical vectors: a cut element has room for its own heap TIDs only, so
-- copies inserted later get elements of their own; every copy is found
INSERT INTO pk SELECT 1000 + i, v FROM pk, generate_series(1, 20) i WHERE id = 7;
SELECT count(*) FROM (SELECT id FROM pk
	ORDER BY v <-> (SELECT v FROM pk WHERE id = 7) LIMIT 21) s
WHERE id = 7 OR id > 1000;

-- vacuum frees cut elements with their tails, and inserts reuse the space
DELETE FROM pk WHERE id % 2 = 0;
VACUUM pk;
SELECT elements, live_elements, deleted_elements, heap_tids
FROM hnsw.index_info('pk_packed');
SELECT elements, dangling_links, stale_links FROM hnsw.verify_index('pk_packed');
SELECT pg_relation_size('pk_packed') AS size_before \gset
INSERT INTO pk SELECT i + 2000, ARRAY(SELECT (hashint4(i * 7 + k) & 255)::real
									  FROM generate_series(1, 784) k)::vector
	FROM generate_series(1, 300) i;
-- (without reuse, 300 whole elements would take 150 new pages)
SELECT (pg_relation_size('pk_packed') - :size_before) / 8192 < 30 AS space_reused;
-- (an insert can leave an element unreachable until VACUUM links it)
VACUUM pk;
SELECT elements, dangling_links, stale_links, unreachable_elements
FROM hnsw.verify_index('pk_packed');
SELECT count(*) FILTER (WHERE pk_nearest(v, 10) = pk_exact(v, 10)) AS exact_queries,
	count(*) AS queries
FROM pk WHERE id % 25 = 1;

-- small elements are never cut; the option takes booleans only
CREATE TABLE pks (v vector(3));
INSERT INTO pks SELECT ARRAY[i, i % 7, i % 11] FROM generate_series(1, 500) i;
CREATE INDEX pks_packed ON pks USING hnsw (v) WITH (packed = true);
SELECT elements, dangling_links FROM hnsw.verify_index('pks_packed');
CREATE INDEX ON pks USING hnsw (v) WITH (packed = 'maybe');
ALTER INDEX pks_packed SET (packed = off);
SELECT reloptions FROM pg_class WHERE relname = 'pks_packed';
RESET enable_seqscan;
RESET hnsw.ef_search;
DROP TABLE pk, pks;
DROP FUNCTION pk_nearest, pk_exact;
