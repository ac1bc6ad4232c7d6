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
CREATE TABLE two_vectors (a vector(2), b vector(2));
SELECT * FROM hnsw.exact_search(NULL::two_vectors, '[3,3]', 5);
CREATE TABLE no_vectors (a int);
SELECT * FROM hnsw.exact_search(NULL::no_vectors, '[3,3]', 5);
DROP TABLE grid, two_vectors, no_vectors;
