-- hnsw.index_info and hnsw.verify_index: counts that do not depend on the
-- random levels of elements, and the errors for relations that are not
-- hnsw indexes.

-- unreachable elements (rare, random) would add a NOTICE
SET client_min_messages = warning;

CREATE TABLE info (id int, v vector(3));
INSERT INTO info SELECT i, ARRAY[i, i % 7, i % 13]::real[]::vector
	FROM generate_series(1, 300) i;
CREATE INDEX info_idx ON info USING hnsw (v) WITH (m = 4, ef_construction = 16);

SELECT elements, live_elements, deleted_elements, heap_tids,
	elements_per_level[1] = elements AS level0_all,
	cardinality(elements_per_level) = max_level + 1 AS levels_consistent,
	entry_level = max_level AS entry_on_top,
	min_degree > 0 AS linked, avg_degree <= 2 * m AS degree_bounded,
	pages = element_pages + free_pages + 1 AS pages_add_up,
	m, ef_construction, dimensions, opclass, version,
	lossless_codes IS NULL AS no_i8_codes
FROM hnsw.index_info('info_idx');

SELECT pages > 1 AS has_pages, elements, links > 0 AS has_links,
	dangling_links, stale_links
FROM hnsw.verify_index('info_idx');

-- inserts after the build
INSERT INTO info SELECT i, ARRAY[i, i % 5, i % 11]::real[]::vector
	FROM generate_series(301, 400) i;
SELECT elements, live_elements, heap_tids FROM hnsw.index_info('info_idx');

-- a DELETE leaves elements in place until VACUUM removes them
DELETE FROM info WHERE id % 4 = 0;
SELECT elements, live_elements, deleted_elements, heap_tids
FROM hnsw.index_info('info_idx');
VACUUM info;
SELECT (SELECT count(*) FROM info) AS rows, elements, live_elements,
	deleted_elements, heap_tids
FROM hnsw.index_info('info_idx');
SELECT elements, dangling_links, stale_links FROM hnsw.verify_index('info_idx');

-- identical vectors share one element; NULLs are not indexed
CREATE TABLE dup (v vector(2));
INSERT INTO dup SELECT '[1,2]' FROM generate_series(1, 3);
INSERT INTO dup VALUES ('[3,4]'), (NULL);
CREATE INDEX dup_idx ON dup USING hnsw (v vector_l1_ops);
SELECT elements, heap_tids, dimensions, opclass
FROM hnsw.index_info('dup_idx');

-- cosine does not index the zero vector
CREATE TABLE cos (v vector(2));
INSERT INTO cos VALUES ('[1,0]'), ('[0,1]'), ('[0,0]');
CREATE INDEX cos_idx ON cos USING hnsw (v vector_cosine_ops);
SELECT elements, heap_tids, opclass FROM hnsw.index_info('cos_idx');
-- (2 links on layer 0; 4 when both elements also draw layer 1)
SELECT pages, elements, links IN (2, 4) AS linked, dangling_links, stale_links, unreachable_elements
FROM hnsw.verify_index('cos_idx');

-- an empty index
CREATE TABLE info_empty (v vector(4));
CREATE INDEX info_empty_idx ON info_empty USING hnsw (v);
SELECT elements, live_elements, max_level, elements_per_level, avg_degree,
	entry_point, entry_level, pages, element_pages, bytes_per_element,
	dimensions, insert_page
FROM hnsw.index_info('info_empty_idx');
SELECT * FROM hnsw.verify_index('info_empty_idx');
-- two elements link to each other: one link to each, fewer than m / 2
INSERT INTO info_empty VALUES ('[1,2,3,4]'), ('[2,3,4,5]');
SELECT elements, links, unreachable_elements, weakly_linked_elements
FROM hnsw.verify_index('info_empty_idx');

-- quantized indexes verify too
CREATE TABLE info_q (v vector(8));
INSERT INTO info_q SELECT ARRAY(SELECT (i * j % 13) - 6 FROM generate_series(1, 8) j)::real[]
  FROM generate_series(1, 300) i;
CREATE INDEX info_q_bf16 ON info_q USING hnsw (v) WITH (quantization = 'bf16');
CREATE INDEX info_q_i8 ON info_q USING hnsw (v) WITH (quantization = 'i8');
SELECT heap_tids, dimensions FROM hnsw.index_info('info_q_bf16');
SELECT pages > 1 AS has_pages, dangling_links, stale_links FROM hnsw.verify_index('info_q_bf16');
SELECT pages > 1 AS has_pages, dangling_links, stale_links FROM hnsw.verify_index('info_q_i8');
DROP TABLE info_q;

-- not hnsw indexes
CREATE INDEX info_id ON info (id);
SELECT elements FROM hnsw.index_info('info_id');
SELECT pages FROM hnsw.verify_index('info_id');
SELECT elements FROM hnsw.index_info('info');
SELECT pages FROM hnsw.verify_index('info');
CREATE SEQUENCE info_seq;
SELECT pages FROM hnsw.verify_index('info_seq');
SELECT elements FROM hnsw.index_info('no_such_index');

DROP TABLE info, dup, cos, info_empty;
DROP SEQUENCE info_seq;
