-- Filtered k-NN: the planner costs an hnsw scan by the selectivity of the
-- filter (hnswcost.c), and picks the hnsw scan, a bitmap scan of a btree
-- index followed by an exact sort, or a sequential scan with an exact sort,
-- with no enable_* setting (README.md "Filtered search").

-- 20,000 rows of 8 random dimensions (the correlated subquery, WHERE i >= 0,
-- draws a new vector for each row); grp = id % 1000 passes anything from
-- 0.1% of the rows up
CREATE TABLE fp (id int, grp int, v vector(8));
SELECT setseed(0.25);
INSERT INTO fp
SELECT i, i % 1000,
	   ARRAY(SELECT round(random() * 100) FROM generate_series(1, 8) j WHERE i >= 0)::real[]::vector
FROM generate_series(0, 19999) i;
CREATE INDEX fp_v_idx ON fp USING hnsw (v);
ANALYZE fp;

-- the exact filtered search, for comparison: a sequential scan and a sort
-- (ties broken by id)
CREATE FUNCTION fp_exact(q vector, lo int, hi int) RETURNS int[]
LANGUAGE sql SET enable_indexscan = off SET enable_bitmapscan = off
AS $$ SELECT array_agg(id ORDER BY d, id) FROM
	  (SELECT id, v <-> q AS d FROM fp WHERE grp >= lo AND grp < hi
	   ORDER BY v <-> q, id LIMIT 10) s $$;
-- ten queries across the space
CREATE TABLE fpq AS
SELECT qi, ARRAY(SELECT random() * 100 FROM generate_series(1, 8) j WHERE qi >= 0)::real[]::vector AS q
FROM generate_series(0, 9) qi;

-- no filter, and a filter passing half the rows: the hnsw scan
EXPLAIN (COSTS OFF)
SELECT id FROM fp ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10;
EXPLAIN (COSTS OFF)
SELECT id FROM fp WHERE grp < 500 ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10;

-- 1% of the rows: the scan would search on over about 1,000 rows for 10;
-- reading all 20,000 and sorting the 200 that pass is cheaper
EXPLAIN (COSTS OFF)
SELECT id FROM fp WHERE grp < 10 ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10;

-- each plan returns the exact filtered search's rows, for every query
SELECT count(*) AS queries, count(*) FILTER (WHERE found = fp_exact(q, 0, 1000)) AS exact
FROM fpq, LATERAL (SELECT array_agg(id ORDER BY d, id) AS found FROM
		  (SELECT id, v <-> q AS d FROM fp ORDER BY v <-> q LIMIT 10) s) r;
SELECT count(*) AS queries, count(*) FILTER (WHERE found = fp_exact(q, 0, 500)) AS exact
FROM fpq, LATERAL (SELECT array_agg(id ORDER BY d, id) AS found FROM
		  (SELECT id, v <-> q AS d FROM fp WHERE grp < 500 ORDER BY v <-> q LIMIT 10) s) r;
SELECT count(*) AS queries, count(*) FILTER (WHERE found = fp_exact(q, 0, 10)) AS exact
FROM fpq, LATERAL (SELECT array_agg(id ORDER BY d, id) AS found FROM
		  (SELECT id, v <-> q AS d FROM fp WHERE grp < 10 ORDER BY v <-> q LIMIT 10) s) r;

-- a filter correlated with the vectors: the rows whose first coordinate is
-- 90 or more (about a tenth) lie together, far from most queries; the scan
-- searches on until LIMIT rows pass, and they are the exact ones
EXPLAIN (COSTS OFF)
SELECT id FROM fp WHERE (v::real[])[1] >= 90
ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10;
CREATE FUNCTION fp_exact_band(q vector) RETURNS int[]
LANGUAGE sql SET enable_indexscan = off SET enable_bitmapscan = off
AS $$ SELECT array_agg(id ORDER BY d, id) FROM
	  (SELECT id, v <-> q AS d FROM fp WHERE (v::real[])[1] >= 90
	   ORDER BY v <-> q, id LIMIT 10) s $$;
SELECT count(*) AS queries, count(*) FILTER (WHERE found = fp_exact_band(q)) AS exact
FROM fpq, LATERAL (SELECT array_agg(id ORDER BY d, id) AS found FROM
		  (SELECT id, v <-> q AS d FROM fp WHERE (v::real[])[1] >= 90
		   ORDER BY v <-> q LIMIT 10) s) r;

-- with a btree index on the filter column: a bitmap scan of it and an
-- exact sort of the rows it finds
CREATE INDEX fp_grp_idx ON fp (grp);
ANALYZE fp;
EXPLAIN (COSTS OFF)
SELECT id FROM fp WHERE grp < 10 ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10;
EXPLAIN (COSTS OFF)
SELECT id FROM fp WHERE grp = 7 ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10;
-- ... and still the hnsw scan for half the rows, or no filter
EXPLAIN (COSTS OFF)
SELECT id FROM fp WHERE grp < 500 ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10;
EXPLAIN (COSTS OFF)
SELECT id FROM fp ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10;

-- without LIMIT every row is wanted in exact order: a sort, not the index
EXPLAIN (COSTS OFF)
SELECT id FROM fp WHERE grp < 500 ORDER BY v <-> '[50,50,50,50,50,50,50,50]';

-- the same queries as the plans above, for every query
SELECT count(*) AS queries, count(*) FILTER (WHERE found = fp_exact(q, 0, 10)) AS exact
FROM fpq, LATERAL (SELECT array_agg(id ORDER BY d, id) AS found FROM
		  (SELECT id, v <-> q AS d FROM fp WHERE grp < 10 ORDER BY v <-> q LIMIT 10) s) r;
SELECT count(*) AS queries, count(*) FILTER (WHERE found = fp_exact(q, 7, 8)) AS exact
FROM fpq, LATERAL (SELECT array_agg(id ORDER BY d, id) AS found FROM
		  (SELECT id, v <-> q AS d FROM fp WHERE grp = 7 ORDER BY v <-> q LIMIT 10) s) r;
SELECT count(*) AS queries, count(*) FILTER (WHERE found = fp_exact(q, 0, 500)) AS exact
FROM fpq, LATERAL (SELECT array_agg(id ORDER BY d, id) AS found FROM
		  (SELECT id, v <-> q AS d FROM fp WHERE grp < 500 ORDER BY v <-> q LIMIT 10) s) r;
-- the plan of such a query: the same choice for each query
EXPLAIN (COSTS OFF)
SELECT found FROM fpq, LATERAL (SELECT array_agg(id) AS found FROM
		  (SELECT id FROM fp WHERE grp = 7 ORDER BY v <-> q LIMIT 10) s) r;

-- after deletes, inserts and VACUUM, the same queries still get the exact
-- rows from the hnsw scan
DELETE FROM fp WHERE id % 3 = 0;
INSERT INTO fp
SELECT i, i % 1000,
	   ARRAY(SELECT round(random() * 100) FROM generate_series(1, 8) j WHERE i >= 0)::real[]::vector
FROM generate_series(20000, 24999) i;
VACUUM ANALYZE fp;
EXPLAIN (COSTS OFF)
SELECT id FROM fp WHERE grp < 500 ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10;
SELECT count(*) AS queries, count(*) FILTER (WHERE found = fp_exact(q, 0, 1000)) AS exact
FROM fpq, LATERAL (SELECT array_agg(id ORDER BY d, id) AS found FROM
		  (SELECT id, v <-> q AS d FROM fp ORDER BY v <-> q LIMIT 10) s) r;
SELECT count(*) AS queries, count(*) FILTER (WHERE found = fp_exact(q, 0, 500)) AS exact
FROM fpq, LATERAL (SELECT array_agg(id ORDER BY d, id) AS found FROM
		  (SELECT id, v <-> q AS d FROM fp WHERE grp < 500 ORDER BY v <-> q LIMIT 10) s) r;
SELECT count(*) AS queries, count(*) FILTER (WHERE found = fp_exact_band(q)) AS exact
FROM fpq, LATERAL (SELECT array_agg(id ORDER BY d, id) AS found FROM
		  (SELECT id, v <-> q AS d FROM fp WHERE (v::real[])[1] >= 90
		   ORDER BY v <-> q LIMIT 10) s) r;

DROP TABLE fp, fpq;
DROP FUNCTION fp_exact, fp_exact_band;
