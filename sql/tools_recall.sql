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
