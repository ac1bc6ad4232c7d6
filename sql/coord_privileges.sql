-- privileges, row-level security and search_path in the coordinator's and
-- the tools' SQL functions: the checks that need no shard server (the
-- shard here never answers; a search that passes its checks ends in a
-- WARNING about it).  test/t/034 checks the same against real shards.

-- load the library, so that the planner hook prunes columns from here on
SELECT '[1,2]'::vector;

-- context lines would only show the functions' internals
\set SHOW_CONTEXT never

CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SERVER priv_nowhere FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '1', dbname 'postgres');
CREATE SERVER priv_replica FOREIGN DATA WRAPPER postgres_fdw;
CREATE TABLE pitems (id bigint, part int, secret text, embedding vector(3))
	PARTITION BY LIST (part);
CREATE FOREIGN TABLE pitems_0 PARTITION OF pitems FOR VALUES IN (0, 1)
	SERVER priv_nowhere OPTIONS (table_name 'pitems');

CREATE ROLE priv_cols;
CREATE USER MAPPING FOR priv_cols SERVER priv_nowhere
	OPTIONS (user 'priv_cols', password 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER priv_nowhere;
SET hnsw.allow_partial_results = on;

-- column privileges: each column a search fetches must be readable, and
-- the vector column (its distances order the rows); the planner hook
-- (src/coordplan.c) decides which columns are fetched
GRANT SELECT (id, embedding) ON pitems TO priv_cols;
SET ROLE priv_cols;
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5);
SELECT count(*) FROM hnsw.search(NULL::pitems, '[1,2,3]', 5);
SELECT * FROM hnsw.search(NULL::pitems, '[1,2,3]', 5);
SELECT id, secret FROM hnsw.search(NULL::pitems, '[1,2,3]', 5);
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5) WHERE secret <> '';
SELECT s FROM hnsw.search(NULL::pitems, '[1,2,3]', 5) s;
-- naming partitions filters on the partition column
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5, partitions => '{0}');
SELECT query, (item).id FROM hnsw.search_batch(NULL::pitems, ARRAY['[1,2,3]']::vector[], 5);
SELECT query, (item).secret FROM hnsw.search_batch(NULL::pitems, ARRAY['[1,2,3]']::vector[], 5);
-- a filter reads its columns
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5, filter => 'id > 3');
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5, filter => 'secret <> ''x''');
-- the variant the hook calls checks the columns it is asked for
SELECT id FROM hnsw._search_columns(NULL::pitems, '[1,2,3]'::vector, 5, NULL, NULL, false, 'l2', NULL, NULL, '{1}');
SELECT id FROM hnsw._search_columns(NULL::pitems, '[1,2,3]'::vector, 5, NULL, NULL, false, 'l2', NULL, NULL, '{1,3}');
-- shard_status counts rows: any readable column will do
SELECT shard, answers, row_count FROM hnsw.shard_status('pitems');
RESET ROLE;
-- without the vector column nothing can be searched
REVOKE SELECT (embedding) ON pitems FROM priv_cols;
GRANT SELECT (part) ON pitems TO priv_cols;
SET ROLE priv_cols;
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5);
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5, partitions => '{0}', column_name => 'embedding');
RESET ROLE;
REVOKE SELECT ON pitems FROM priv_cols;
REVOKE SELECT (id, part) ON pitems FROM priv_cols;
SET ROLE priv_cols;
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5);
SELECT * FROM hnsw.shard_status('pitems');
RESET ROLE;

-- row-level security is refused for roles it applies to: the coordinator
-- cannot filter what the shards return by the caller's policies
ALTER TABLE pitems ADD COLUMN owner name;
ALTER TABLE pitems ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON pitems USING (owner = current_user);
GRANT SELECT ON pitems TO priv_cols;
SET ROLE priv_cols;
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5);
SELECT query FROM hnsw.search_batch(NULL::pitems, ARRAY['[1,2,3]']::vector[], 5);
SELECT * FROM hnsw.shard_status('pitems');
-- with row_security off, the error PostgreSQL gives for a query
SET row_security = off;
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5);
RESET row_security;
RESET ROLE;
-- not for the superuser (nor the owner, nor BYPASSRLS roles) ...
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5);
ALTER ROLE priv_cols BYPASSRLS;
SET ROLE priv_cols;
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5);
RESET ROLE;
ALTER ROLE priv_cols NOBYPASSRLS;
-- ... and not once it is disabled
ALTER TABLE pitems DISABLE ROW LEVEL SECURITY;
SET ROLE priv_cols;
SELECT id FROM hnsw.search(NULL::pitems, '[1,2,3]', 5);
RESET ROLE;
RESET hnsw.allow_partial_results;

-- an OID that is no table
SELECT * FROM hnsw.shard_status(1);

-- hnsw.exact_knn: the same rules for the columns it reads
CREATE TABLE pgrid (id int, embedding vector(2), secret text);
INSERT INTO pgrid SELECT i, ARRAY[i % 10, i / 10]::vector, 's' || i FROM generate_series(0, 99) i;
GRANT SELECT (id, embedding) ON pgrid TO priv_cols;
SET ROLE priv_cols;
SELECT query_no, rank, key FROM hnsw.exact_knn('pgrid', ARRAY['[3,3]']::vector[], 1, key => 'id');
SELECT query_no, rank, key FROM hnsw.exact_knn('pgrid', ARRAY['[3,3]']::vector[], 1, key => 'secret');
-- the default key, the ctid, is a system column: it needs SELECT on the table
SELECT query_no, rank, key FROM hnsw.exact_knn('pgrid', ARRAY['[3,3]']::vector[], 1);
SELECT query_no, rank, key FROM hnsw.exact_knn('pgrid', ARRAY['[3,3]']::vector[], 1, key => 'xmin');
SELECT query_no, rank FROM hnsw.exact_knn('pgrid', ARRAY['[3,3]']::vector[], 1, column_name => 'secret', key => 'id');
-- evaluate_recall reads the same columns
SELECT recall FROM hnsw.evaluate_recall('pgrid', 'embedding', ARRAY['[3,3]']::vector[], 2, key => 'id');
RESET ROLE;
GRANT SELECT ON pgrid TO priv_cols;
ALTER TABLE pgrid ENABLE ROW LEVEL SECURITY;
CREATE POLICY small ON pgrid USING (id < 50);
SET ROLE priv_cols;
SELECT query_no, rank, key FROM hnsw.exact_knn('pgrid', ARRAY['[3,3]']::vector[], 1, key => 'id');
-- evaluate_recall takes the per-query path, where the policies apply
SELECT recall FROM hnsw.evaluate_recall('pgrid', 'embedding', ARRAY['[3,9]']::vector[], 2, key => 'id');
SELECT id FROM hnsw.exact_search(NULL::pgrid, '[3,9]', 2);
RESET ROLE;
ALTER TABLE pgrid DISABLE ROW LEVEL SECURITY;
-- a system column as the key
SELECT query_no, rank, key ~ '^\d+$' AS xid FROM hnsw.exact_knn('pgrid', ARRAY['[3,3]']::vector[], 1, key => 'xmin');
SELECT hnsw._exact_knn('pgrid', 'ctid', ARRAY['[3,3]']::vector[], 1, 'l2', NULL);
SELECT hnsw._exact_knn('pgrid', 'nope', ARRAY['[3,3]']::vector[], 1, 'l2', NULL);

-- hnsw.exact_knn keeps k rows per query in work_mem: a k whose rows do
-- not fit is refused, with the limit; queries whose rows do not all fit
-- are served in groups, one scan of the table each, with the same answer
SELECT count(*) FROM hnsw.exact_knn('pgrid', ARRAY['[3,3]']::vector[], 2147483647);
SET work_mem = '64kB';
SELECT count(*) FROM hnsw.exact_knn('pgrid', ARRAY['[3,3]']::vector[], 1200);
CREATE TABLE knn_one AS SELECT * FROM hnsw.exact_knn('pgrid',
	ARRAY(SELECT embedding FROM pgrid ORDER BY id), 40, key => 'id');
RESET work_mem;
SELECT count(*) AS rows, count(DISTINCT query_no) AS queries,
	   count(*) FILTER (WHERE NOT EXISTS (
		SELECT FROM hnsw.exact_knn('pgrid', ARRAY(SELECT embedding FROM pgrid ORDER BY id),
								   40, key => 'id') a
		 WHERE a.query_no = o.query_no AND a.rank = o.rank
		   AND a.distance = o.distance)) AS differ
  FROM knn_one o;
DROP TABLE knn_one;

-- who may call what
SET ROLE priv_cols;
SELECT hnsw.add_replica('priv_nowhere', 'priv_replica');
SELECT hnsw.drop_replica('priv_nowhere', 'priv_replica');
SELECT hnsw._shard_exec('{priv_nowhere}', '{"SELECT 1"}');
SELECT hnsw._shard_copy('pitems', '{0}', '{priv_nowhere}');
SELECT hnsw.create_distributed_table('pitems', '{"priv_nowhere": [0]}');
SELECT hnsw._replicas_changed();
RESET ROLE;

-- create_distributed_table refuses a table whose row-level security
-- applies to the caller: rows it cannot see would be lost
CREATE TABLE pdocs (id int, part int, owner name, embedding vector(3)) PARTITION BY LIST (part);
CREATE TABLE pdocs_local PARTITION OF pdocs DEFAULT;
ALTER TABLE pdocs OWNER TO priv_cols;
ALTER TABLE pdocs ENABLE ROW LEVEL SECURITY;
ALTER TABLE pdocs FORCE ROW LEVEL SECURITY;
GRANT EXECUTE ON FUNCTION hnsw.create_distributed_table(regclass, jsonb, jsonb, text, name) TO priv_cols;
SET ROLE priv_cols;
SELECT hnsw.create_distributed_table('pdocs', '{"priv_nowhere": [0]}');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION hnsw.create_distributed_table(regclass, jsonb, jsonb, text, name) FROM priv_cols;
-- the copy checks its arguments
SELECT hnsw._shard_copy('pdocs', '{0,1}', '{priv_nowhere}');
SELECT hnsw._shard_copy('pdocs', '{0}', ARRAY[NULL]::name[]);
SELECT hnsw._shard_copy('pgrid', '{0}', '{priv_nowhere}');
SELECT hnsw._shard_copy('pdocs', '{0, 0}', '{priv_nowhere, nosuch}');
SELECT hnsw._shard_copy(1, '{0}', '{priv_nowhere}');
SELECT hnsw._shard_copy('pdocs', '{0, 0}', '{priv_nowhere, priv_replica}');
SELECT hnsw._shard_copy('pdocs', '{}', '{}');
INSERT INTO pdocs VALUES (1, 7, 'me', '[1,2,3]');
SELECT hnsw._shard_copy('pdocs', '{}', '{}');
UPDATE pdocs SET part = NULL;
SELECT hnsw._shard_copy('pdocs', '{}', '{}');
SELECT hnsw._shard_copy('pdocs', '{0}', '{priv_nowhere}');
CREATE TABLE ptext (id int, part text, embedding vector(3)) PARTITION BY LIST (part);
SELECT hnsw._shard_copy('ptext', '{0}', '{priv_nowhere}');
DROP TABLE pdocs, ptext;

-- search_path: a schema first in a superuser's path, holding operators
-- and functions of the names and types the tools use, is never called
CREATE SCHEMA trojan;
CREATE FUNCTION trojan.dist(a vector, b vector) RETURNS float8
	LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'trojan operator called'; RETURN 0; END $$;
CREATE OPERATOR trojan.<-> (LEFTARG = vector, RIGHTARG = vector, FUNCTION = trojan.dist);
CREATE OPERATOR trojan.<#> (LEFTARG = vector, RIGHTARG = vector, FUNCTION = trojan.dist);
CREATE OPERATOR trojan.<=> (LEFTARG = vector, RIGHTARG = vector, FUNCTION = trojan.dist);
CREATE OPERATOR trojan.<+> (LEFTARG = vector, RIGHTARG = vector, FUNCTION = trojan.dist);
CREATE FUNCTION trojan.lower(t text) RETURNS text
	LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'trojan lower called'; RETURN pg_catalog.lower(t); END $$;
CREATE FUNCTION trojan.cardinality(a vector[]) RETURNS int
	LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'trojan cardinality called'; RETURN pg_catalog.cardinality(a); END $$;
CREATE FUNCTION trojan.nameeq(a name, b name) RETURNS bool
	LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'trojan = called'; RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR trojan.= (LEFTARG = name, RIGHTARG = name, FUNCTION = trojan.nameeq);
SET search_path = trojan, pg_catalog, public;
SELECT id FROM hnsw.exact_search(NULL::pgrid, '[3,3]', 2);
SELECT id FROM hnsw.exact_search(NULL::pgrid, '[3,3]', 2, metric => 'IP');
SELECT id FROM hnsw.exact_search(NULL::pgrid, '[3,3]', 2, metric => 'cosine');
SELECT id FROM hnsw.exact_search(NULL::pgrid, '[3,3]', 2, metric => 'l1');
SELECT query_no, rank, key FROM hnsw.exact_knn('pgrid', ARRAY['[3,3]']::vector[], 2, key => 'id');
SELECT recall FROM hnsw.evaluate_recall('pgrid', 'embedding', ARRAY['[3,3]', '[5,5]']::vector[], 3);
SELECT query_no, recall FROM hnsw.evaluate_recall_detail('pgrid', NULL, ARRAY['[3,3]']::vector[], 3, metric => 'L1');
SELECT hnsw._vector_column('pgrid', NULL), hnsw._column_type('pgrid', 'id'),
	   hnsw._row_relation('pgrid'::regtype), hnsw._check_k(3);
SELECT hnsw.add_replica('priv_nowhere', 'priv_replica');
SELECT hnsw.drop_replica('priv_nowhere', 'priv_replica');
CREATE TABLE tdocs (id int, part int, embedding vector(3)) PARTITION BY LIST (part);
SELECT hnsw.create_distributed_table('tdocs', '{"priv_nowhere": [0]}', metric => 'Hamming');
DROP TABLE tdocs;
RESET search_path;
DROP SCHEMA trojan CASCADE;

DROP TABLE pitems, pgrid;
DROP USER MAPPING FOR priv_cols SERVER priv_nowhere;
DROP USER MAPPING FOR CURRENT_USER SERVER priv_nowhere;
DROP SERVER priv_nowhere, priv_replica;
DROP ROLE priv_cols;
