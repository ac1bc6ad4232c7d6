-- hnsw.index_info and hnsw.verify_index: counts follow the table through
-- inserts, deletes and VACUUM; verification passes on healthy indexes.
-- No transaction around it all: VACUUM cannot run inside one.
SET client_min_messages = warning;
SELECT plan(16);

SELECT setseed(0.25);
CREATE TABLE info_items (id int, v vector(8));
INSERT INTO info_items SELECT i,
	(SELECT array_agg(random())::real[] FROM generate_series(1, 8) WHERE i > 0)::vector
	FROM generate_series(1, 1000) i;
CREATE INDEX info_items_idx ON info_items USING hnsw (v vector_cosine_ops)
	WITH (m = 6, ef_construction = 24);

SELECT is((SELECT elements FROM hnsw.index_info('info_items_idx')),
	(SELECT count(*) FROM info_items), 'elements = count(*) after the build');
SELECT is((SELECT heap_tids FROM hnsw.index_info('info_items_idx')),
	(SELECT count(*) FROM info_items), 'heap TIDs = count(*) after the build');
SELECT is((SELECT format('m=%s ef_construction=%s dimensions=%s %s', m,
		ef_construction, dimensions, opclass) FROM hnsw.index_info('info_items_idx')),
	'm=6 ef_construction=24 dimensions=8 vector_cosine_ops',
	'options come from the metapage');
SELECT ok((SELECT elements_per_level[1] = elements AND entry_level = max_level
	AND cardinality(elements_per_level) = max_level + 1
	AND min_degree >= 1 AND avg_degree <= 12
	AND bytes_per_element = pages * 8192.0 / live_elements
	FROM hnsw.index_info('info_items_idx')), 'levels, degree and sizes are consistent');
-- Levels are drawn with mL = 1 / ln(m): each of 1,000 elements reaches
-- level 1 with probability 1/6, about 167 of them (standard deviation 12,
-- so 100 to 240 holds for any draw short of a broken one); the graph so has
-- levels above 0, and each holds no more elements than the one below.
SELECT ok((SELECT max_level >= 1 AND elements_per_level[2] BETWEEN 100 AND 240
	FROM hnsw.index_info('info_items_idx')),
	'about a sixth of the elements reach level 1 (m = 6)');
SELECT ok((SELECT bool_and(a >= b AND b >= 1) FROM (SELECT elements_per_level[i] AS a,
	elements_per_level[i + 1] AS b FROM hnsw.index_info('info_items_idx'),
	generate_series(1, max_level) i) s),
	'every level above 0 holds at least one element and no more than the one below');

INSERT INTO info_items SELECT i,
	(SELECT array_agg(random())::real[] FROM generate_series(1, 8) WHERE i > 0)::vector
	FROM generate_series(1001, 1300) i;
SELECT is((SELECT elements FROM hnsw.index_info('info_items_idx')),
	(SELECT count(*) FROM info_items), 'elements = count(*) after inserts');
SELECT results_eq(
	$$SELECT elements, dangling_links, stale_links FROM hnsw.verify_index('info_items_idx')$$,
	$$VALUES (1300::bigint, 0::bigint, 0::bigint)$$,
	'verify_index passes after inserts');

-- duplicates share an element: heap TIDs count rows, elements do not
INSERT INTO info_items SELECT 2000 + id, v FROM info_items WHERE id <= 10;
SELECT is((SELECT heap_tids FROM hnsw.index_info('info_items_idx')),
	(SELECT count(*) FROM info_items), 'heap TIDs = count(*) with duplicates');
SELECT is((SELECT elements FROM hnsw.index_info('info_items_idx')),
	(SELECT count(DISTINCT v::text) FROM info_items), 'elements = distinct vectors');

DELETE FROM info_items WHERE id % 3 = 0;
SELECT is((SELECT elements FROM hnsw.index_info('info_items_idx')), 1300::bigint,
	'elements stay until VACUUM');
SELECT is((SELECT live_elements FROM hnsw.index_info('info_items_idx')), 1300::bigint,
	'deleted rows are found by VACUUM, not by index_info');

VACUUM info_items;

SELECT results_eq(
	$$SELECT elements, live_elements, deleted_elements, heap_tids FROM hnsw.index_info('info_items_idx')$$,
	$$SELECT count(DISTINCT v::text), count(DISTINCT v::text), 0::bigint, count(*) FROM info_items$$,
	'index_info counts match the table after DELETE and VACUUM');
SELECT results_eq(
	$$SELECT elements, dangling_links, stale_links FROM hnsw.verify_index('info_items_idx')$$,
	$$SELECT count(DISTINCT v::text), 0::bigint, 0::bigint FROM info_items$$,
	'verify_index passes after DELETE and VACUUM');
SELECT is((SELECT unreachable_elements FROM hnsw.verify_index('info_items_idx')), 0::bigint,
	'VACUUM links every element pruning left unreachable');
SELECT throws_ok($$SELECT hnsw.verify_index('info_items')$$, '42809',
	'"info_items" is not an hnsw index', 'a table is refused');

SELECT * FROM finish();
DROP TABLE info_items;
