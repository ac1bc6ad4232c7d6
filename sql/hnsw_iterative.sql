-- pgvector 0.8's settings for iterative scans: hnsw.iterative_scan,
-- hnsw.max_scan_tuples, hnsw.scan_mem_multiplier

-- set before the library is loaded, as an application's first statement ...
SET hnsw.iterative_scan = relaxed_order;
-- ... and after
SELECT '[1]'::vector;
SHOW hnsw.iterative_scan;
SHOW hnsw.scan_mem_multiplier;
SET hnsw.iterative_scan = off;
SET hnsw.iterative_scan = strict_order;
SET hnsw.iterative_scan = relaxed_order;
SET hnsw.iterative_scan = sometimes;
SET hnsw.scan_mem_multiplier = 0.5;
SET hnsw.scan_mem_multiplier = 1001;
SET hnsw.scan_mem_multiplier = 2;
RESET hnsw.scan_mem_multiplier;

-- a grid of 10,000 points; the filter keeps one row in seven
CREATE TABLE it (id int, v vector(2));
INSERT INTO it SELECT i, ARRAY[i % 100, i / 100]::real[]::vector FROM generate_series(0, 9999) i;
CREATE INDEX ON it USING hnsw (v);
ANALYZE it;
SET enable_seqscan = off;
SET hnsw.ef_search = 10;

-- relaxed_order (the default): further batches until LIMIT rows pass
SELECT count(*) FROM (SELECT id FROM it WHERE id % 7 = 0 ORDER BY v <-> '[50,50]' LIMIT 30) s;

-- off: one search of ef_search candidates, as pgvector
SET hnsw.iterative_scan = off;
SELECT count(*) <= 10 AS one_search
FROM (SELECT id FROM it WHERE id % 7 = 0 ORDER BY v <-> '[50,50]' LIMIT 30) s;
SELECT count(*) AS unfiltered FROM (SELECT id FROM it ORDER BY v <-> '[50,50]' LIMIT 30) s;

-- strict_order: LIMIT rows, in distance order across the batches (the
-- distances selected never decrease), for every query.  With relaxed_order
-- a later batch may hold a row nearer than the end of an earlier one (on
-- this sparse graph, now and then, as its levels are drawn); strict_order
-- leaves such rows out and searches on.
CREATE TABLE sparse (id int, v vector(2));
INSERT INTO sparse SELECT i, ARRAY[(i * 7919) % 10007 / 100.0, (i * 104729) % 10009 / 100.0]::real[]::vector
FROM generate_series(0, 9999) i;
CREATE INDEX ON sparse USING hnsw (v) WITH (m = 4, ef_construction = 8);
SET hnsw.ef_search = 1;
SET hnsw.iterative_scan = strict_order;
SELECT count(*) AS queries, min(n) AS min_rows, bool_and(ordered) AS all_ordered
FROM generate_series(0, 9) q,
	 LATERAL (SELECT count(*) AS n, bool_and(d >= prev) AS ordered
			  FROM (SELECT d, lag(d, 1, 0.0::float8) OVER () AS prev
					FROM (SELECT v <-> ARRAY[q * 10, 50]::real[]::vector AS d
						  FROM sparse WHERE id % 50 = 0
						  ORDER BY v <-> ARRAY[q * 10, 50]::real[]::vector
						  LIMIT 100) s) t) r;
SET hnsw.ef_search = 10;
DROP TABLE sparse;
RESET hnsw.iterative_scan;

-- hnsw.max_scan_tuples: no batch is searched once the scan has returned so
-- many rows (the first batch is whole, as pgvector's)
SET hnsw.max_scan_tuples = 20;
SELECT count(*) < 30 AS bounded
FROM (SELECT id FROM it WHERE id % 7 = 0 ORDER BY v <-> '[50,50]' LIMIT 30) s;
SET hnsw.ef_search = 40;
SET hnsw.max_scan_tuples = 1;
SELECT count(*) AS first_batch_whole FROM (SELECT id FROM it ORDER BY v <-> '[50,50]' LIMIT 40) s;
RESET hnsw.max_scan_tuples;
SET hnsw.ef_search = 10;

-- hnsw.scan_mem_multiplier: further batches may take work_mem times this
SET work_mem = '64kB';
SELECT count(*) < 200 AS bounded_by_memory
FROM (SELECT id FROM it WHERE id % 50 = 0 ORDER BY v <-> '[50,50]' LIMIT 200) s;
SET hnsw.scan_mem_multiplier = 1000;
SELECT count(*) AS with_more_memory
FROM (SELECT id FROM it WHERE id % 50 = 0 ORDER BY v <-> '[50,50]' LIMIT 200) s;
RESET hnsw.scan_mem_multiplier;
RESET work_mem;

RESET hnsw.ef_search;
RESET enable_seqscan;
DROP TABLE it;
