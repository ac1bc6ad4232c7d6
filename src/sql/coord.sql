-- The distributed k-NN coordinator: replicas, search, status.
-- This file is part of sql/hnsw--<version>.sql; see the Makefile.
--
-- A distributed table is a partitioned table whose partitions are
-- postgres_fdw foreign tables; servers and credentials are ordinary
-- CREATE SERVER / CREATE USER MAPPING objects.  The only state the
-- coordinator keeps is which servers hold copies of which shard.

-- Non-superusers search distributed tables they may read.
GRANT USAGE ON SCHEMA hnsw TO PUBLIC;

-- Servers holding a copy of a shard server (normally hot standbys).  Names,
-- not OIDs, so that pg_dump/pg_restore of the coordinator keeps them.
CREATE TABLE hnsw.replicas (
	shard_server name NOT NULL,
	replica_server name NOT NULL,
	PRIMARY KEY (shard_server, replica_server),
	CHECK (shard_server <> replica_server)
);
SELECT pg_catalog.pg_extension_config_dump('hnsw.replicas', '');
-- every searcher reads it; only its owner (and who it grants) changes it
GRANT SELECT ON hnsw.replicas TO PUBLIC;

-- Declare that replica_server holds a copy of the data of shard_server.
CREATE FUNCTION hnsw.add_replica(shard_server name, replica_server name)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	s name;
BEGIN
	FOREACH s IN ARRAY ARRAY[shard_server, replica_server] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_server fs
					   JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = fs.srvfdw
					   WHERE fs.srvname = s AND w.fdwname = 'postgres_fdw') THEN
			RAISE EXCEPTION 'server "%" does not exist', s
				USING ERRCODE = 'undefined_object',
					  HINT = 'Replicas and shards are postgres_fdw servers.';
		END IF;
	END LOOP;
	IF shard_server = replica_server THEN
		RAISE EXCEPTION 'a server cannot be a replica of itself'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO hnsw.replicas VALUES (shard_server, replica_server)
		ON CONFLICT DO NOTHING;
END
$$;

-- Forget that replica_server holds a copy of shard_server.
CREATE FUNCTION hnsw.drop_replica(shard_server name, replica_server name)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM hnsw.replicas r
	 WHERE r.shard_server = drop_replica.shard_server
	   AND r.replica_server = drop_replica.replica_server;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'server "%" is not a replica of "%"', replica_server, shard_server
			USING ERRCODE = 'undefined_object';
	END IF;
END
$$;

-- The k rows of a distributed table nearest to query: rel is a null of the
-- table's row type (NULL::items).  Each selected shard is asked for its own
-- k nearest at the same time; the answers are merged in distance order.
CREATE FUNCTION hnsw.search(rel anyelement, query vector, k integer,
							partitions integer[] DEFAULT NULL,
							ef_search integer DEFAULT NULL,
							exact boolean DEFAULT false,
							metric text DEFAULT 'l2',
							column_name name DEFAULT NULL)
RETURNS SETOF anyelement
AS 'MODULE_PATHNAME', 'hnsw_search' LANGUAGE C VOLATILE;

-- hnsw.search for many query vectors in one round trip per shard; query is
-- the ordinal (from 1) of the query vector each row answers.
CREATE FUNCTION hnsw.search_batch(rel anyelement, queries vector[], k integer,
								  partitions integer[] DEFAULT NULL,
								  ef_search integer DEFAULT NULL,
								  exact boolean DEFAULT false,
								  metric text DEFAULT 'l2',
								  column_name name DEFAULT NULL)
RETURNS TABLE (query integer, item anyelement)
AS 'MODULE_PATHNAME', 'hnsw_search_batch' LANGUAGE C VOLATILE;

-- Each copy of each shard of a distributed table: does it answer, is it a
-- standby, how many rows, is there an hnsw index; error says why not.
CREATE FUNCTION hnsw.shard_status(rel regclass)
RETURNS TABLE (shard name, server name, role text, answers boolean,
			   in_recovery boolean, row_count bigint, hnsw_index boolean,
			   error text)
AS 'MODULE_PATHNAME', 'hnsw_shard_status' LANGUAGE C VOLATILE STRICT;
