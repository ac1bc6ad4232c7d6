-- coordinator: what a shard returns is checked before it is used.  A
-- loopback server (this database) stands for the shard; test/t/033 checks
-- more cases, with real shards and with fake ones that send malformed rows.

CREATE EXTENSION IF NOT EXISTS postgres_fdw;
DO $$
BEGIN
	EXECUTE format('CREATE SERVER rows_loopback FOREIGN DATA WRAPPER postgres_fdw '
				   'OPTIONS (host %L, port %L, dbname %L)',
				   split_part(current_setting('unix_socket_directories'), ',', 1),
				   current_setting('port'), current_database());
END
$$;
CREATE USER MAPPING FOR CURRENT_USER SERVER rows_loopback;

-- the shard's id is bigint where the coordinator's is integer: an error
-- naming the shard and the column, not ids read from half their bytes
CREATE TABLE rows_shard_big (id bigint, part int, embedding vector(3));
INSERT INTO rows_shard_big VALUES (5, 1, '[1,2,3]'), (6, 1, '[2,3,4]');
CREATE TABLE rows_big (id int, part int, embedding vector(3)) PARTITION BY LIST (part);
CREATE FOREIGN TABLE rows_big_1 PARTITION OF rows_big FOR VALUES IN (1)
	SERVER rows_loopback OPTIONS (table_name 'rows_shard_big');
SELECT id FROM hnsw.search(NULL::rows_big, '[1,2,3]', 2);
SELECT query, (item).id FROM hnsw.search_batch(NULL::rows_big, ARRAY['[1,2,3]']::vector[], 2);
SELECT query, (item).id, (item).embedding
  FROM hnsw.search_batch(NULL::rows_big, ARRAY['[1,2,3]']::vector[], 2);
-- a column the search does not fetch is not asked for
SELECT embedding FROM hnsw.search(NULL::rows_big, '[1,2,3]', 2);

-- the same types: the rows come back
CREATE TABLE rows_shard_int (id int, part int, embedding vector(3));
INSERT INTO rows_shard_int SELECT * FROM rows_shard_big;
CREATE TABLE rows_int (id int, part int, embedding vector(3)) PARTITION BY LIST (part);
CREATE FOREIGN TABLE rows_int_1 PARTITION OF rows_int FOR VALUES IN (1)
	SERVER rows_loopback OPTIONS (table_name 'rows_shard_int');
SELECT id, embedding FROM hnsw.search(NULL::rows_int, '[1,2,3]', 2);
SELECT query, (item).id, (item).embedding
  FROM hnsw.search_batch(NULL::rows_int, ARRAY['[1,2,3]', '[2,3,4]']::vector[], 1);

-- a domain column: a shard describes it by its base type; the values go
-- through the domain's input, constraints included
CREATE DOMAIN rows_posint AS int CHECK (VALUE > 0);
CREATE TABLE rows_shard_dom (id rows_posint, part int, embedding vector(3));
INSERT INTO rows_shard_dom VALUES (5, 1, '[1,2,3]'), (6, 1, '[2,3,4]');
CREATE TABLE rows_dom (id rows_posint, part int, embedding vector(3)) PARTITION BY LIST (part);
CREATE FOREIGN TABLE rows_dom_1 PARTITION OF rows_dom FOR VALUES IN (1)
	SERVER rows_loopback OPTIONS (table_name 'rows_shard_dom');
SELECT id, embedding FROM hnsw.search(NULL::rows_dom, '[1,2,3]', 2);
ALTER FOREIGN TABLE rows_dom_1 OPTIONS (SET table_name 'rows_shard_int');
UPDATE rows_shard_int SET id = -id WHERE id = 6;
SELECT id FROM hnsw.search(NULL::rows_dom, '[1,2,3]', 1);
SELECT id FROM hnsw.search(NULL::rows_dom, '[1,2,3]', 2);

DROP TABLE rows_big, rows_int, rows_dom, rows_shard_big, rows_shard_int, rows_shard_dom;
DROP DOMAIN rows_posint;
DROP USER MAPPING FOR CURRENT_USER SERVER rows_loopback;
DROP SERVER rows_loopback;
