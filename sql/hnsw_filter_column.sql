-- The filter column: an integer column as the second key column of an hnsw
-- index, whose conditions the scan tests in the graph walk (src/README
-- "Filter column"); results must equal the exact filtered search.

-- 4,000 rows of 8 random dimensions; label = id % 10, with some NULLs
CREATE TABLE fc (id int, label int, big bigint, small smallint, v vector(8));
SELECT setseed(0.5);
INSERT INTO fc
SELECT i, i % 10, i % 7, i % 5,
	   ARRAY(SELECT round(random() * 100) FROM generate_series(1, 8) j WHERE i >= 0)::real[]::vector
FROM generate_series(0, 3999) i;
UPDATE fc SET label = NULL WHERE id % 101 = 0;
CREATE INDEX fc_idx ON fc USING hnsw (v vector_l2_ops, label);
ANALYZE fc;

-- the operator classes of the filter column are sound
SELECT opcname, amvalidate(c.oid) FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE amname = 'hnsw' AND opcname IN ('int2_ops', 'int4_ops', 'int8_ops') ORDER BY 1;

-- the condition on label is the scan's (Index Cond), not a filter on its
-- rows; for a tenth of 4,000 rows the planner sorts them instead
EXPLAIN (COSTS OFF)
SELECT id FROM fc WHERE label = 3 ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10;
EXPLAIN (COSTS OFF)
SELECT id FROM fc WHERE label < 5 ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10;
EXPLAIN (COSTS OFF)
SELECT id FROM fc WHERE label >= 2 AND label < 4::bigint ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10;

-- index results against the exact filtered search (sequential scan, sort;
-- ties broken by id) for 20 queries and several conditions
CREATE FUNCTION fc_exact(q vector, cond text, k int) RETURNS int[]
LANGUAGE plpgsql SET enable_indexscan = off SET enable_bitmapscan = off
AS $$
DECLARE r int[];
BEGIN
	EXECUTE format('SELECT array_agg(id ORDER BY d, id) FROM
		(SELECT id, v <-> $1 AS d FROM fc WHERE %s ORDER BY v <-> $1, id LIMIT $2) s', cond)
	INTO r USING q, k;
	RETURN r;
END $$;
CREATE FUNCTION fc_index(q vector, cond text, k int) RETURNS int[]
LANGUAGE plpgsql SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
DECLARE r int[];
BEGIN
	EXECUTE format('SELECT array_agg(id ORDER BY d, id) FROM
		(SELECT id, v <-> $1 AS d FROM fc WHERE %s ORDER BY v <-> $1 LIMIT $2) s', cond)
	INTO r USING q, k;
	RETURN r;
END $$;
CREATE TABLE fcq AS
SELECT qi, ARRAY(SELECT random() * 100 FROM generate_series(1, 8) j WHERE qi >= 0)::real[]::vector AS q
FROM generate_series(0, 19) qi;
CREATE TABLE fcc (cond text);
INSERT INTO fcc VALUES ('label = 3'), ('label < 2'), ('label >= 8'), ('label > 8::bigint'),
	('label <= 0::smallint'), ('label >= 2 AND label < 4'), ('label = 3 AND label = 4'),
	('label = 11');
SET hnsw.ef_search = 100;
SELECT cond, count(*) FILTER (WHERE fc_index(q, cond, 10) IS NOT DISTINCT FROM fc_exact(q, cond, 10)) AS equal,
	   count(*) AS queries
FROM fcq, fcc GROUP BY cond ORDER BY cond;
RESET hnsw.ef_search;

-- no condition: every row, the NULL labels too; a NULL argument: none
SELECT count(*) FROM (SELECT id FROM fc ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 5000) s;
SELECT count(*) FROM (SELECT id FROM fc WHERE label = NULL ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10) s;
-- a NULL query: every row that passes, in no order
SELECT count(*) FROM (SELECT id FROM fc WHERE label = 3 ORDER BY v <-> NULL) s;
SELECT count(*) FROM fc WHERE label = 3;

-- equal vectors with other labels are elements of their own; inserts give
-- the label to the element, and share an element only for the same label
INSERT INTO fc SELECT 10000 + i, i % 2, 0, 0, '[1,1,1,1,1,1,1,1]' FROM generate_series(0, 5) i;
SELECT label, array_agg(id ORDER BY id) FROM
  (SELECT id, label FROM fc WHERE label = 0 ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 3) s GROUP BY label;
SELECT label, array_agg(id ORDER BY id) FROM
  (SELECT id, label FROM fc WHERE label = 1 ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 3) s GROUP BY label;

-- after deletes and VACUUM: still the exact filtered search, the index sound
DELETE FROM fc WHERE id % 3 = 0;
VACUUM fc;
SELECT dangling_links, unreachable_elements FROM hnsw.verify_index('fc_idx');
SET hnsw.ef_search = 100;
SELECT cond, count(*) FILTER (WHERE fc_index(q, cond, 10) IS NOT DISTINCT FROM fc_exact(q, cond, 10)) AS equal,
	   count(*) AS queries
FROM fcq, fcc WHERE cond IN ('label = 3', 'label >= 2 AND label < 4') GROUP BY cond ORDER BY cond;
RESET hnsw.ef_search;

-- bigint and smallint filter columns, an i8 index (re-ranked) and a
-- sparsevec index (fc_idx dropped meanwhile: for a seventh of the rows, it
-- and a Filter cost about as much as a walk through the rows that pass)
BEGIN;
DROP INDEX fc_idx;
CREATE INDEX fc_big_idx ON fc USING hnsw (v vector_l2_ops, big) WITH (quantization = 'i8');
CREATE INDEX fc_small_idx ON fc USING hnsw ((v::sparsevec(8)) sparsevec_l2_ops, small);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF)
SELECT id FROM fc WHERE big = 3 ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 5;
SELECT array_agg(big ORDER BY big) FROM
  (SELECT big FROM fc WHERE big = 3 ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 5) s;
EXPLAIN (COSTS OFF)
SELECT id FROM fc WHERE small = 4 ORDER BY v::sparsevec(8) <-> '{1:50,2:50,3:50,4:50,5:50,6:50,7:50,8:50}/8' LIMIT 5;
SELECT array_agg(small ORDER BY small) FROM
  (SELECT small FROM fc WHERE small = 4 ORDER BY v::sparsevec(8) <-> '{1:50,2:50,3:50,4:50,5:50,6:50,7:50,8:50}/8' LIMIT 5) s;
RESET enable_seqscan;
RESET enable_bitmapscan;
ROLLBACK;

-- a filter correlated with the vectors: the class of a point is its
-- cluster, so the elements of a class are each other's neighbours and the
-- scan walks through them alone (DEBUG1 says which walk it takes); the
-- results are still those of the exact filtered search
CREATE TABLE fk (id int, class int, v vector(4));
INSERT INTO fk
SELECT i, i % 8,
	   ARRAY[(i % 8) * 100 + random() * 10, (i % 8) * 50 + random() * 10,
			 random() * 10, random() * 10]::real[]::vector
FROM generate_series(0, 3999) i;
CREATE INDEX fk_idx ON fk USING hnsw (v, class);
CREATE FUNCTION fk_check(tab text, cond text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint := 0; q vector; a int[]; b int[];
BEGIN
	FOR i IN 0..19 LOOP
		q := ARRAY[i * 40, i * 20, 5, 5]::real[]::vector;
		SET LOCAL enable_seqscan = off;
		SET LOCAL enable_bitmapscan = off;
		EXECUTE format('SELECT array_agg(id ORDER BY d, id) FROM
			(SELECT id, v <-> $1 AS d FROM %I WHERE %s ORDER BY v <-> $1 LIMIT 10) s', tab, cond)
			INTO a USING q;
		SET LOCAL enable_indexscan = off;
		SET LOCAL enable_seqscan = on;
		EXECUTE format('SELECT array_agg(id ORDER BY d, id) FROM
			(SELECT id, v <-> $1 AS d FROM %I WHERE %s ORDER BY v <-> $1, id LIMIT 10) s', tab, cond)
			INTO b USING q;
		SET LOCAL enable_indexscan = on;
		IF a IS NOT DISTINCT FROM b THEN n := n + 1; END IF;
	END LOOP;
	RETURN n;
END $$;
SET hnsw.ef_search = 100;
SELECT fk_check('fk', 'class = 3') AS class_3, fk_check('fk', 'class >= 6') AS class_6_7,
	   fk_check('fk', 'class = 3 AND class = 4') AS none;
-- hnsw.filtered_walk = off walks every element (DEBUG1 below), and
-- returns only rows that pass (in batches, in relaxed order)
SET hnsw.filtered_walk = off;
SET enable_seqscan = off;
SELECT count(*), min(class), max(class) FROM
  (SELECT class FROM fk WHERE class = 3 ORDER BY v <-> '[0,0,5,5]' LIMIT 10) s;
RESET enable_seqscan;
RESET hnsw.filtered_walk;
\set VERBOSITY terse
SET client_min_messages = debug1;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM fk WHERE class = 3 ORDER BY v <-> '[0,0,5,5]' LIMIT 10) s;
SET hnsw.filtered_walk = off;
SELECT count(*) FROM (SELECT id FROM fk WHERE class = 3 ORDER BY v <-> '[0,0,5,5]' LIMIT 10) s;
RESET hnsw.filtered_walk;
-- uncorrelated, a tenth of the rows: enough of them lie within two hops
-- (the hints say which) for the walk to go through them alone; three
-- tenths: the scan walks every element, which wastes less
SELECT count(*) FROM (SELECT id FROM fc WHERE label = 3 ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM fc WHERE label < 3 ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10) s;
RESET enable_seqscan;
RESET client_min_messages;
\set VERBOSITY default

-- each element keeps beside its level-0 links a hint of each neighbour's
-- value (exact for 0 to 127 and NULL, a hash bucket beyond), so the walk
-- skips neighbours sure to fail without reading them: classes on both sides
-- of those bounds, two of them in one bucket (398 and 100000), through a
-- build, inserts, deletes and VACUUM, give the exact filtered search, and
-- every hint names its neighbour's value (verify_index counts a link whose
-- hint does not as stale)
CREATE TABLE fh (id int, class int, v vector(4));
CREATE FUNCTION fh_rows(lo int, hi int) RETURNS TABLE (id int, class int, v vector)
LANGUAGE sql AS $$
SELECT i, (ARRAY[-3, 0, 7, 127, 128, 398, 100000, NULL])[i % 8 + 1],
	   ARRAY[(i % 8) * 8 + random() * 10, (i % 8) * 4 + random() * 10,
			 random() * 10, random() * 10]::real[]::vector
FROM generate_series(lo, hi) i $$;
INSERT INTO fh SELECT * FROM fh_rows(0, 1999);
CREATE INDEX fh_idx ON fh USING hnsw (v, class);
INSERT INTO fh SELECT * FROM fh_rows(2000, 3999);
CREATE TABLE fhc (cond text);
INSERT INTO fhc VALUES ('class = -3'), ('class = 0'), ('class = 127'), ('class = 128'),
	('class = 398'), ('class = 100000'), ('class > 127'), ('class < 7'),
	('class >= 128 AND class <= 398');
SELECT cond, fk_check('fh', cond) AS equal FROM fhc ORDER BY cond;
SET client_min_messages = warning;
SELECT stale_links, dangling_links FROM hnsw.verify_index('fh_idx');
DELETE FROM fh WHERE id % 3 = 0;
VACUUM fh;
INSERT INTO fh SELECT * FROM fh_rows(4000, 4999);
SELECT stale_links, dangling_links FROM hnsw.verify_index('fh_idx');
RESET client_min_messages;
SELECT cond, fk_check('fh', cond) AS equal FROM fhc ORDER BY cond;
\set VERBOSITY terse
SET client_min_messages = debug1;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM fh WHERE class = 127 ORDER BY v <-> '[24,12,5,5]' LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM fh WHERE class = 100000 ORDER BY v <-> '[48,24,5,5]' LIMIT 10) s;
RESET enable_seqscan;
RESET client_min_messages;
\set VERBOSITY default

-- a hundredth of the rows, uncorrelated: too few within two hops to walk
-- from anywhere, so the walk starts from the elements that pass among
-- those a search without the filter compares near the query (DEBUG1 says
-- so); results against the exact filtered search; when the walk runs out
-- before LIMIT rows, the scan walks every element, so a LIMIT of every row
-- that passes returns them all
CREATE TABLE fs (id int, g int, v vector(4));
INSERT INTO fs SELECT i, i % 100, ARRAY[random() * 100, random() * 100,
	random() * 100, random() * 100]::real[]::vector
FROM generate_series(0, 9999) i;
CREATE INDEX fs_idx ON fs USING hnsw (v, g);
CREATE FUNCTION fs_found(cond text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint := 0; q vector; a int[]; b int[];
BEGIN
	FOR i IN 0..19 LOOP
		q := ARRAY[i * 5, 100 - i * 5, (i * 37) % 100, 50]::real[]::vector;
		SET LOCAL enable_seqscan = off;
		SET LOCAL enable_bitmapscan = off;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM fs WHERE %s ORDER BY v <-> $1 LIMIT 10) s', cond)
			INTO a USING q;
		SET LOCAL enable_indexscan = off;
		SET LOCAL enable_seqscan = on;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM fs WHERE %s ORDER BY v <-> $1, id LIMIT 10) s', cond)
			INTO b USING q;
		SET LOCAL enable_indexscan = on;
		n := n + cardinality(ARRAY(SELECT unnest(a) INTERSECT SELECT unnest(b)));
	END LOOP;
	RETURN n;
END $$;
-- recall@10 of three values over 20 queries each: 0.97 in three builds
-- (the unfiltered walk's is 1); at least 0.93
SELECT fs_found('g = 7') + fs_found('g = 70') + fs_found('g = 33') >= 558 AS recall;
\set VERBOSITY terse
SET client_min_messages = debug1;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM fs WHERE g = 7 ORDER BY v <-> '[50,50,50,50]' LIMIT 10) s;
RESET client_min_messages;
SET hnsw.scan_mem_multiplier = 100;
SELECT count(*), count(DISTINCT id), min(g), max(g) FROM
  (SELECT id, g FROM fs WHERE g = 7 ORDER BY v <-> '[50,50,50,50]' LIMIT 100) s;
RESET hnsw.scan_mem_multiplier;
RESET enable_seqscan;
\set VERBOSITY default
RESET hnsw.ef_search;
DROP TABLE fk, fh, fhc, fs;
DROP FUNCTION fk_check, fh_rows, fs_found;

-- errors
CREATE INDEX ON fc USING hnsw (label, v);
CREATE INDEX ON fc USING hnsw (v, label, big);
CREATE INDEX ON fc USING hnsw (v, (label::text));
CREATE INDEX ON fc USING hnsw (v, (label::real));
CREATE INDEX ON fc USING hnsw (v) INCLUDE (label);

DROP TABLE fc, fcq, fcc;
DROP FUNCTION fc_exact, fc_index;
