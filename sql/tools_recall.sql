-- exact search and recall evaluation (on tables without an hnsw index; the
-- index's own recall is tested with the index)

CREATE TABLE grid (id int PRIMARY KEY, embedding vector(2), label text);
INSERT INTO grid SELECT i, ARRAY[i % 10, i / 10]::vector, 'p' || i FROM generate_series(0, 99) i;

SELECT id, embedding, embedding <-> '[3,3]' AS d
  FROM hnsw.exact_search(NULL::grid, '[3,3]', 5) ORDER BY d, id;
SELECT id FROM hnsw.exact_search(NULL::grid, '[0,0]', 3, metric => 'l1');
SELECT id FROM hnsw.exact_search(NULL::grid, '[9,9]', 2, metric => 'ip');
SELECT count(*) FROM hnsw.exact_search(NULL::grid, '[1,1]', 1000);

-- the index is never used, whatever the planner settings
SET enable_seqscan = off;
SELECT id FROM hnsw.exact_search(NULL::grid, '[3,3]', 1);
RESET enable_seqscan;

-- recall of exact against exact is 1
SELECT recall, queries, exact_rows, found_rows
  FROM hnsw.evaluate_recall('grid', 'embedding', ARRAY['[1,1]', '[5,5]', '[9,0]']::vector[], 10);
SELECT * FROM hnsw.evaluate_recall_detail('grid', NULL,
	ARRAY(SELECT embedding FROM grid WHERE id < 3 ORDER BY id), 4, key => 'id');
SELECT recall, queries FROM hnsw.evaluate_recall('grid', 'embedding', '{}'::vector[], 10);

-- exact k nearest of many queries in one scan; ties at the k-th distance
-- count as exact, whichever tied row a search returns
SELECT query_no, rank, key, round(distance::numeric, 4) AS distance
  FROM hnsw.exact_knn('grid', ARRAY['[3,3]', '[0,0]']::vector[], 3, key => 'id');
SELECT query_no, rank, key FROM hnsw.exact_knn('grid', ARRAY['[9,9]']::vector[], 2, metric => 'ip');
SELECT query_no, rank, key FROM hnsw.exact_knn('grid', ARRAY['[0,0]']::vector[], 1);
SELECT count(*) FROM hnsw.exact_knn('grid', '{}'::vector[], 5);
SELECT recall FROM hnsw.evaluate_recall('grid', 'embedding', ARRAY['[4.5,4.5]']::vector[], 2, key => 'id');
-- inheritance children are read as "FROM grid" reads them
CREATE TABLE grid_child () INHERITS (grid);
INSERT INTO grid_child VALUES (1000, '[3.1,3]', 'child');
SELECT key FROM hnsw.exact_knn('grid', ARRAY['[3.1,3]']::vector[], 1, key => 'label');
DROP TABLE grid_child;
-- row-level security: the one-scan path is not used, recall still works
ALTER TABLE grid ENABLE ROW LEVEL SECURITY;
SELECT recall FROM hnsw.evaluate_recall('grid', 'embedding', ARRAY['[1,1]']::vector[], 3, key => 'id');
ALTER TABLE grid DISABLE ROW LEVEL SECURITY;

-- bad arguments (context lines would only show the functions' internals)
\set SHOW_CONTEXT never
SELECT * FROM hnsw.exact_search(NULL::grid, '[3,3]', 0);
SELECT * FROM hnsw.exact_search(NULL::grid, '[3,3]', NULL);
SELECT * FROM hnsw.exact_search(NULL::int, '[3,3]', 5);
SELECT * FROM hnsw.exact_search(NULL::grid, '[3,3,3]', 5);
SELECT * FROM hnsw.exact_search(NULL::grid, '[3,3]', 5, column_name => 'nope');
SELECT * FROM hnsw.exact_search(NULL::grid, '[3,3]', 5, metric => 'hamming');
SELECT * FROM hnsw.evaluate_recall('grid', 'embedding', ARRAY['[1,1]']::vector[], -1);
SELECT * FROM hnsw.evaluate_recall('grid', 'embedding', ARRAY['[1,1]']::vector[], 5, key => 'nope');
SELECT * FROM hnsw.evaluate_recall('grid', 'embedding', ARRAY['[1,1,1]']::vector[], 5);
SELECT * FROM hnsw.evaluate_recall('grid', 'label', ARRAY['[1,1]']::vector[], 5);
SELECT * FROM hnsw.exact_knn('grid', ARRAY['[1,1]']::vector[], 0);
SELECT * FROM hnsw.exact_knn('grid', ARRAY['[1,1]', NULL]::vector[], 3);
SELECT * FROM hnsw.exact_knn('grid', ARRAY['[1,1]', '[1,1,1]']::vector[], 3);
SELECT * FROM hnsw.exact_knn('grid', ARRAY['[1,1,1]']::vector[], 3);
SELECT * FROM hnsw.exact_knn('grid', ARRAY['[1,1]']::vector[], 3, metric => 'dot');
SELECT * FROM hnsw.exact_knn('grid', ARRAY['[1,1]']::vector[], 3, key => 'nope');
SELECT * FROM hnsw._exact_knn('grid', 'label', ARRAY['[1,1]']::vector[], 3, 'l2', NULL);
CREATE VIEW grid_view AS SELECT * FROM grid;
SELECT * FROM hnsw.exact_knn('grid_view', ARRAY['[1,1]']::vector[], 3);
CREATE ROLE exact_knn_nobody;
SET ROLE exact_knn_nobody;
SELECT * FROM hnsw.exact_knn('grid', ARRAY['[1,1]']::vector[], 3);
RESET ROLE;
DROP ROLE exact_knn_nobody;
DROP VIEW grid_view;
CREATE TABLE two_vectors (a vector(2), b vector(2));
SELECT * FROM hnsw.exact_search(NULL::two_vectors, '[3,3]', 5);
CREATE TABLE no_vectors (a int);
SELECT * FROM hnsw.exact_search(NULL::no_vectors, '[3,3]', 5);
DROP TABLE grid, two_vectors, no_vectors;

-- halfvec and sparsevec columns: exact_knn equals ORDER BY, row for row
CREATE TABLE kinds (id int, h halfvec(3), s sparsevec(100000), v vector(3));
INSERT INTO kinds
  SELECT i, ARRAY[sin(i), cos(i), sin(i * 0.7)]::halfvec(3),
		 format('{%s:%s,%s:%s}/100000', 1 + i % 7, 1 + i % 5, 1000 + i % 11, i % 3 + 1)::sparsevec,
		 ARRAY[sin(i), cos(i), sin(i * 0.7)]::vector(3)
	FROM generate_series(1, 300) i;
SELECT m.metric, count(*) AS rows,
	   count(*) FILTER (WHERE o.d IS DISTINCT FROM e.distance) AS differ
  FROM (VALUES ('l2'), ('ip'), ('cosine'), ('l1')) m(metric),
	   LATERAL hnsw.exact_knn('kinds', ARRAY['[0.5,0.5,0.5]', '[-1,0,1]']::halfvec[], 8,
							  key => 'id', metric => m.metric) e,
	   LATERAL (SELECT d FROM (SELECT CASE m.metric WHEN 'l2' THEN h <-> q WHEN 'ip' THEN h <#> q
									   WHEN 'cosine' THEN h <=> q ELSE h <+> q END AS d
								  FROM kinds, (SELECT (ARRAY['[0.5,0.5,0.5]', '[-1,0,1]']::halfvec[])[e.query_no] q) qq) x
				 ORDER BY d OFFSET e.rank - 1 LIMIT 1) o
 GROUP BY m.metric ORDER BY m.metric;
SELECT m.metric, e.query_no, e.rank, e.key, round(e.distance::numeric, 4) AS distance,
	   round((SELECT min(CASE m.metric WHEN 'l2' THEN s <-> q WHEN 'ip' THEN s <#> q
						 WHEN 'cosine' THEN s <=> q ELSE s <+> q END)
				FROM kinds)::numeric, 4) AS by_order_by
  FROM (VALUES ('l2'), ('ip'), ('cosine'), ('l1')) m(metric),
	   (SELECT '{3:2,1005:3}/100000'::sparsevec q) qq,
	   LATERAL hnsw.exact_knn('kinds', ARRAY[qq.q], 1, column_name => 's', key => 'id',
							  metric => m.metric) e;
SELECT recall, queries FROM hnsw.evaluate_recall('kinds', 'h',
	ARRAY['[0.5,0.5,0.5]', '[-1,0,1]']::halfvec[], 5, key => 'id');
SELECT recall, queries FROM hnsw.evaluate_recall('kinds', 's',
	ARRAY['{3:2,1005:3}/100000', '{1:1}/100000']::sparsevec[], 5, metric => 'ip', key => 'id');
SELECT * FROM hnsw.exact_knn('kinds', ARRAY['[1,1]']::halfvec[], 3);
SELECT * FROM hnsw.exact_knn('kinds', ARRAY['[1,1,1]']::halfvec[], 3, column_name => 'v');
SELECT * FROM hnsw.exact_knn('kinds', ARRAY['{1:1}/5']::sparsevec[], 3);
SELECT * FROM hnsw._exact_knn('kinds', 'id', ARRAY[1, 2], 3, 'l2', NULL);
SELECT * FROM hnsw._exact_knn('kinds', 'v', ARRAY['[1,1,1]']::halfvec[], 3, 'l2', NULL);
-- exact_search over halfvec and sparsevec columns: the vector query
-- converted to the column's type (a vector column is the default)
SELECT (SELECT array_agg(id) FROM hnsw.exact_search(NULL::kinds, '[0.5,0.5,0.5]', 5, 'h')) =
	   (SELECT array_agg(id) FROM (SELECT id FROM kinds ORDER BY h <-> '[0.5,0.5,0.5]' LIMIT 5) x)
	   AS halfvec_equal,
	   (SELECT array_agg(id) FROM hnsw.exact_search(NULL::kinds, '[0.5,0.5,0.5]', 5, 'h', 'cosine')) =
	   (SELECT array_agg(id) FROM (SELECT id FROM kinds ORDER BY h <=> '[0.5,0.5,0.5]' LIMIT 5) x)
	   AS halfvec_cosine_equal,
	   (SELECT array_agg(id) FROM hnsw.exact_search(NULL::kinds, '[0.5,0.5,0.5]', 5)) =
	   (SELECT array_agg(id) FROM (SELECT id FROM kinds ORDER BY v <-> '[0.5,0.5,0.5]' LIMIT 5) x)
	   AS vector_is_default;
SELECT * FROM hnsw.exact_search(NULL::kinds, '[1,1]', 3, 'h');
SELECT * FROM hnsw.exact_search(NULL::kinds, '[1,1,1]', 3, 's');
SELECT * FROM hnsw.exact_search(NULL::kinds, '[1,1,1]', 3, 'id');
DROP TABLE kinds;
