-- coordinator: argument and catalog errors that need no shard server

CREATE EXTENSION postgres_fdw;
CREATE SERVER nowhere FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '1', dbname 'postgres');
CREATE SERVER nowhere2 FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '1', dbname 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER nowhere;

CREATE TABLE items (id bigint, part int, embedding vector(3)) PARTITION BY LIST (part);
CREATE FOREIGN TABLE items_0 PARTITION OF items FOR VALUES IN (0, 1)
	SERVER nowhere OPTIONS (table_name 'items');

-- the first argument names the table by its row type
SELECT * FROM hnsw.search(NULL::int, '[1,2,3]', 5);
SELECT * FROM hnsw.search(NULL::items, NULL, 5);
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 0);
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', NULL);
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, ef_search => 0);
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, metric => 'hamming');

-- wrong dimension, caught on the coordinator by the column's typmod
SELECT * FROM hnsw.search(NULL::items, '[1,2]', 5);
SELECT * FROM hnsw.search_batch(NULL::items, ARRAY['[1,2,3]', '[1,2]']::vector[], 5);
SELECT * FROM hnsw.search_batch(NULL::items, ARRAY['[1,2,3]', NULL]::vector[], 5);

-- partition values no partition holds
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, partitions => '{7}');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, partitions => '{0,NULL}');
-- an empty list selects nothing, without asking any shard
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, partitions => '{}');

-- the query: a vector (converted to a halfvec or sparsevec column's type),
-- or a sparsevec through search_sparse
CREATE TABLE halves (id int, e halfvec(3), s sparsevec(5)) PARTITION BY LIST (id);
CREATE FOREIGN TABLE halves_0 PARTITION OF halves FOR VALUES IN (0) SERVER nowhere;
SELECT * FROM hnsw.search(NULL::halves, '[1,2,3]', 5);
SELECT * FROM hnsw.search(NULL::halves, '[1,2]', 5, column_name => 'e');
SELECT * FROM hnsw.search(NULL::halves, '[1,2]', 5, column_name => 's');
SELECT * FROM hnsw.search(NULL::halves, '[1e6,2,3]', 5, column_name => 'e');
SELECT * FROM hnsw.search_sparse(NULL::halves, '{1:1}/4', 5);
SELECT * FROM hnsw.search_sparse(NULL::halves, '{1:1}/5', 5, column_name => 'e');
SELECT * FROM hnsw.search_sparse(NULL::halves, '{1:1}/5', 5, metric => 'canberra');
SELECT * FROM hnsw.search_sparse(NULL::halves, NULL, 5);
SELECT * FROM hnsw.search_sparse_batch(NULL::halves, '{"{1:1}/5","{1:1}/4"}', 5);
SELECT * FROM hnsw.search_sparse(NULL::items, '{1:1}/3', 5);
-- a vector column is the one a vector query searches, if the table has one
CREATE TABLE dense_sparse (id int, d vector(3), s sparsevec(5)) PARTITION BY LIST (id);
CREATE FOREIGN TABLE dense_sparse_0 PARTITION OF dense_sparse FOR VALUES IN (0) SERVER nowhere;
SELECT * FROM hnsw.search(NULL::dense_sparse, '[1,2,3,4,5]', 5);
DROP TABLE halves, dense_sparse;

-- filters: one shippable boolean expression over the table's columns
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'true; DROP TABLE items');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => '1 FROM pg_authid');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'id = 1) OR (true');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => '*');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'id > 1 AS y');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'id');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'nosuch = 1');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'id = (SELECT 1)');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'EXISTS (SELECT FROM pg_authid)');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'random() < 0.5');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'now() > ''2020-01-01''');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'count(*) > 1');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => '$1 = 1');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'ctid = ''(0,1)''');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'items IS NULL');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'embedding IS NULL');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'embedding <-> ''[1,2,3]'' < 1');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'hnsw.l2_distance(embedding, embedding) < 1');
CREATE FUNCTION public.trojan(int) RETURNS boolean IMMUTABLE LANGUAGE sql AS 'SELECT true';
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'public.trojan(id)');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, filter => 'trojan(id)');
DROP FUNCTION public.trojan(int);
CREATE TABLE renamed (id int, embedding vector(3)) PARTITION BY LIST (id);
CREATE FOREIGN TABLE renamed_0 PARTITION OF renamed FOR VALUES IN (0) SERVER nowhere;
ALTER FOREIGN TABLE renamed_0 ALTER COLUMN id OPTIONS (column_name 'ident');
SELECT * FROM hnsw.search(NULL::renamed, '[1,2,3]', 5, filter => 'id > 0');
DROP TABLE renamed;

-- choosing the vector column
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, column_name => 'nosuch');
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5, column_name => 'part');
CREATE TABLE two (id int, a vector(3), b vector(3)) PARTITION BY LIST (id);
CREATE FOREIGN TABLE two_0 PARTITION OF two FOR VALUES IN (0) SERVER nowhere;
SELECT * FROM hnsw.search(NULL::two, '[1,2,3]', 5);
CREATE TABLE novec (id int, v real[]) PARTITION BY LIST (id);
CREATE FOREIGN TABLE novec_0 PARTITION OF novec FOR VALUES IN (0) SERVER nowhere;
SELECT * FROM hnsw.search(NULL::novec, '[1,2,3]', 5);

-- tables that are not distributed tables
CREATE TABLE plain (id int, embedding vector(3));
SELECT * FROM hnsw.search(NULL::plain, '[1,2,3]', 5);
CREATE TABLE empty (id int, embedding vector(3)) PARTITION BY LIST (id);
SELECT * FROM hnsw.search(NULL::empty, '[1,2,3]', 5);
CREATE TABLE mixed (id int, embedding vector(3)) PARTITION BY LIST (id);
CREATE TABLE mixed_0 PARTITION OF mixed FOR VALUES IN (0);
SELECT * FROM hnsw.search(NULL::mixed, '[1,2,3]', 5);
CREATE TABLE ranged (id int, embedding vector(3)) PARTITION BY RANGE (id);
CREATE FOREIGN TABLE ranged_0 PARTITION OF ranged FOR VALUES FROM (0) TO (10) SERVER nowhere;
SELECT * FROM hnsw.search(NULL::ranged, '[1,2,3]', 5, partitions => '{1}');

-- a server without a user mapping
CREATE TABLE unmapped (id int, embedding vector(3)) PARTITION BY LIST (id);
CREATE FOREIGN TABLE unmapped_0 PARTITION OF unmapped FOR VALUES IN (0) SERVER nowhere2;
SELECT * FROM hnsw.search(NULL::unmapped, '[1,2,3]', 5);

-- no copy answers: the error names the shard; partial results warn
SET hnsw.shard_timeout = '5s';
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5);
SET hnsw.allow_partial_results = on;
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5);
SELECT query, (item).id FROM hnsw.search_batch(NULL::items, ARRAY['[1,2,3]']::vector[], 5);
RESET hnsw.allow_partial_results;
SELECT shard, server, role, answers, row_count FROM hnsw.shard_status('items');

-- privileges on the distributed table are checked on the coordinator
CREATE ROLE coord_nobody;
SET ROLE coord_nobody;
SELECT * FROM hnsw.search(NULL::items, '[1,2,3]', 5);
SELECT * FROM hnsw.shard_status('items');
RESET ROLE;
DROP ROLE coord_nobody;

-- replicas
SELECT hnsw.add_replica('nowhere', 'nosuch');
SELECT hnsw.add_replica('nosuch', 'nowhere');
SELECT hnsw.add_replica('nowhere', 'nowhere');
SELECT hnsw.add_replica('nowhere', 'nowhere2');
SELECT hnsw.add_replica('nowhere', 'nowhere2');
SELECT * FROM hnsw.replicas;
SELECT hnsw.drop_replica('nowhere', 'nowhere2');
SELECT hnsw.drop_replica('nowhere', 'nowhere2');

-- create_distributed_table: errors found before any shard is contacted
CREATE TABLE docs (id bigint, part int, embedding vector(3)) PARTITION BY LIST (part);
CREATE TABLE docs_local PARTITION OF docs DEFAULT;
INSERT INTO docs VALUES (1, 1, '[1,2,3]'), (2, 2, '[4,5,6]');
SELECT hnsw.create_distributed_table('plain', '{"nowhere": [1]}');
SELECT hnsw.create_distributed_table('ranged', '{"nowhere": [1]}');
SELECT hnsw.create_distributed_table('items', '{"nowhere": [1]}');
SELECT hnsw.create_distributed_table('novec', '{"nowhere": [1]}');
SELECT hnsw.create_distributed_table('docs', '[]');
SELECT hnsw.create_distributed_table('docs', '{"nosuch": [1]}');
SELECT hnsw.create_distributed_table('docs', '{"nowhere": []}');
SELECT hnsw.create_distributed_table('docs', '{"nowhere": [1.5]}');
SELECT hnsw.create_distributed_table('docs', '{"nowhere": [1], "nowhere2": [1, 2]}');
SELECT hnsw.create_distributed_table('docs', '{"nowhere": [1]}');
SELECT hnsw.create_distributed_table('docs', '{"nowhere": [1, 2]}', metric => 'hamming');
SELECT hnsw.create_distributed_table('docs', '{"nowhere": [1, 2]}', index_options => '[1]');
SELECT hnsw.create_distributed_table('docs', '{"nowhere": [1, 2]}', column_name => 'id');
SELECT count(*) FROM docs;
-- halfvec and sparsevec columns: indexed for the metrics they have classes for
CREATE TABLE hdocs (id bigint, part int, embedding halfvec(3)) PARTITION BY LIST (part);
CREATE TABLE hdocs_local PARTITION OF hdocs DEFAULT;
SELECT hnsw.create_distributed_table('hdocs', '{"nowhere": [1, 2]}', metric => 'canberra');
DROP TABLE hdocs;

-- GUCs
SHOW hnsw.shard_timeout;
SET hnsw.shard_timeout = -1;
SHOW hnsw.allow_partial_results;
SHOW hnsw.shard_retry_interval;
SHOW hnsw.hedge_delay;
SET hnsw.hedge_delay = '20ms';
SHOW hnsw.hedge_delay;
SET hnsw.hedge_delay = -2;
RESET hnsw.hedge_delay;

-- tables and servers the coordinator cannot use
CREATE TABLE twocol (a int, b int, embedding vector(3)) PARTITION BY RANGE (a, b);
CREATE FOREIGN TABLE twocol_0 PARTITION OF twocol FOR VALUES FROM (0, 0) TO (1, 1)
	SERVER nowhere;
SELECT * FROM hnsw.search(NULL::twocol, '[1,2,3]', 5);
CREATE TABLE exprpart (a int, embedding vector(3)) PARTITION BY LIST ((a % 2));
CREATE FOREIGN TABLE exprpart_0 PARTITION OF exprpart FOR VALUES IN (0) SERVER nowhere;
SELECT * FROM hnsw.search(NULL::exprpart, '[1,2,3]', 5);
CREATE FOREIGN DATA WRAPPER not_pg_fdw;
CREATE SERVER elsewhere FOREIGN DATA WRAPPER not_pg_fdw;
CREATE TABLE otherfdw (id int, embedding vector(3)) PARTITION BY LIST (id);
CREATE FOREIGN TABLE otherfdw_0 PARTITION OF otherfdw FOR VALUES IN (0) SERVER elsewhere;
SELECT * FROM hnsw.search(NULL::otherfdw, '[1,2,3]', 5);
SELECT hnsw.create_distributed_table('docs', '{"elsewhere": [1, 2]}');
SELECT hnsw.add_replica('nowhere', 'elsewhere');
DROP TABLE twocol, exprpart, otherfdw;
DROP SERVER elsewhere;
DROP FOREIGN DATA WRAPPER not_pg_fdw;

-- a batch's queries are a list
SELECT * FROM hnsw.search_batch(NULL::items, ARRAY[['[1,2,3]'], ['[1,2,3]']]::vector[], 5);

-- the internal command runner: arrays of one length, no nulls
SELECT hnsw._shard_exec('{nowhere}', '{}');
SELECT hnsw._shard_exec('{nowhere}', ARRAY[NULL]::text[]);
SELECT hnsw._shard_exec('{nowhere}', '{"SELECT 1"}');
