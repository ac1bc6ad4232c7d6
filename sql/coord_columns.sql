-- coordinator: hnsw.search asks the shards only for the columns a query
-- uses (src/coordplan.c).  EXPLAIN shows the rewritten call; nothing here
-- runs a search (test/t/030 checks the answers on real shards).

-- load the library, so that the planner hook is in place for what follows
SELECT '[1,2]'::vector;

CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SERVER cols_nowhere FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '1', dbname 'postgres');
CREATE TABLE citems (id bigint, part int, title text, embedding vector(3))
	PARTITION BY LIST (part);
CREATE FOREIGN TABLE citems_0 PARTITION OF citems FOR VALUES IN (0, 1)
	SERVER cols_nowhere OPTIONS (table_name 'citems');
ALTER TABLE citems DROP COLUMN title;

-- one column: the call fetches column 1 only
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM hnsw.search(NULL::citems, '[1,2,3]', 5);
-- named arguments and defaults are written out in order
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, part FROM hnsw.search(k => 5, query => '[1,2,3]', rel => NULL::citems,
								 ef_search => 10);
-- a column used only in a filter, a sort or a sublink counts
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM hnsw.search(NULL::citems, '[1,2,3]', 5) s
WHERE part > 0 ORDER BY id;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM hnsw.search(NULL::citems, '[1,2,3]', 5) s
WHERE EXISTS (SELECT 1 FROM generate_series(1, 3) g WHERE g = s.part);
-- no column at all
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM hnsw.search(NULL::citems, '[1,2,3]', 5);
-- in a subquery, a CTE and a LATERAL join
EXPLAIN (VERBOSE, COSTS OFF)
WITH q AS MATERIALIZED (SELECT embedding FROM hnsw.search(NULL::citems, '[1,2,3]', 5))
SELECT * FROM q;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g, s.id FROM generate_series(1, 2) g,
	LATERAL hnsw.search(NULL::citems, ('[' || g || ',2,3]')::vector, 5) s;

-- everything, not rewritten: *, a whole-row reference, a call in the target list
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM hnsw.search(NULL::citems, '[1,2,3]', 5);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT s FROM hnsw.search(NULL::citems, '[1,2,3]', 5) s;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT hnsw.search(NULL::citems, '[1,2,3]', 5);

-- search_batch: the row is the column "item"; (item).col uses one column
EXPLAIN (VERBOSE, COSTS OFF)
SELECT query, (item).id FROM hnsw.search_batch(NULL::citems, ARRAY['[1,2,3]']::vector[], 5);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT query FROM hnsw.search_batch(NULL::citems, ARRAY['[1,2,3]']::vector[], 5);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT query, item FROM hnsw.search_batch(NULL::citems, ARRAY['[1,2,3]']::vector[], 5);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT (item).* FROM hnsw.search_batch(NULL::citems, ARRAY['[1,2,3]']::vector[], 5);

-- the variant checks its arguments as hnsw.search does
SELECT * FROM hnsw._search_columns(NULL::citems, '[1,2]'::vector, 5, NULL, NULL, false, 'l2', NULL, NULL, '{1}');

-- a filter is an argument like the others
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM hnsw.search(NULL::citems, '[1,2,3]', 5, filter => 'part = 1');

-- the sparse searches have variants of their own
CREATE TABLE sitems (id bigint, part int, terms sparsevec(10)) PARTITION BY LIST (part);
CREATE FOREIGN TABLE sitems_0 PARTITION OF sitems FOR VALUES IN (0, 1)
	SERVER cols_nowhere OPTIONS (table_name 'sitems');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM hnsw.search_sparse(NULL::sitems, '{1:1}/10', 5);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT query, (item).id FROM hnsw.search_sparse_batch(NULL::sitems, '{"{1:1}/10"}', 5);
DROP TABLE sitems;

DROP TABLE citems;
DROP SERVER cols_nowhere;
