-- The distributed k-NN coordinator: replicas, search, status.
-- This file is part of sql/hnsw--<version>.sql; see the Makefile.
--
-- A distributed table is a partitioned table whose partitions are
-- postgres_fdw foreign tables; servers and credentials are ordinary
-- CREATE SERVER / CREATE USER MAPPING objects.  The only state the
-- coordinator keeps is which servers hold copies of which shard.
--
-- Every function states who may call it (GRANT or REVOKE after it).  The
-- SQL ones run with search_path = pg_catalog, pg_temp and name the
-- extension's objects with their schema, so that a schema of the caller's
-- cannot shadow an operator, function or type they use.

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

-- Backends cache what they read of it: every change tells them.
CREATE FUNCTION hnsw._replicas_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'hnsw_replicas_changed' LANGUAGE C;
-- a trigger function: the trigger fires it whoever changes the table
REVOKE EXECUTE ON FUNCTION hnsw._replicas_changed() FROM PUBLIC;
CREATE TRIGGER replicas_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON hnsw.replicas
	FOR EACH STATEMENT EXECUTE FUNCTION hnsw._replicas_changed();

-- Declare that replica_server holds a copy of the data of shard_server.
CREATE FUNCTION hnsw.add_replica(shard_server name, replica_server name)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s name;
BEGIN
	FOREACH s IN ARRAY ARRAY[shard_server, replica_server] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_server fs
					   WHERE fs.srvname = s) THEN
			RAISE EXCEPTION 'server "%" does not exist', s
				USING ERRCODE = 'undefined_object',
					  HINT = 'Replicas and shards are postgres_fdw servers.';
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_server fs
					   JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = fs.srvfdw
					   WHERE fs.srvname = s AND w.fdwname = 'postgres_fdw') THEN
			RAISE EXCEPTION 'server "%" is not a postgres_fdw server', s
				USING ERRCODE = 'wrong_object_type';
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
-- Replicas route every role's searches: for the superuser and whom it
-- grants this (with INSERT on hnsw.replicas, which the function needs too).
REVOKE EXECUTE ON FUNCTION hnsw.add_replica(name, name) FROM PUBLIC;

-- Forget that replica_server holds a copy of shard_server.
CREATE FUNCTION hnsw.drop_replica(shard_server name, replica_server name)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
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
-- as add_replica (with DELETE on hnsw.replicas)
REVOKE EXECUTE ON FUNCTION hnsw.drop_replica(name, name) FROM PUBLIC;

-- The k rows of a distributed table nearest to query: rel is a null of the
-- table's row type (NULL::items).  Each selected shard is asked for its own
-- k nearest at the same time; the answers are merged in distance order.
CREATE FUNCTION hnsw.search(rel anyelement, query vector, k integer,
							partitions integer[] DEFAULT NULL,
							ef_search integer DEFAULT NULL,
							exact boolean DEFAULT false,
							metric text DEFAULT 'l2',
							column_name name DEFAULT NULL,
							filter text DEFAULT NULL)
RETURNS SETOF anyelement
AS 'MODULE_PATHNAME', 'hnsw_search' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hnsw.search(anyelement, vector, integer, integer[], integer, boolean, text, name, text) IS
	'the k rows of a distributed table nearest to a vector, from all its shards at once';

-- hnsw.search for many query vectors in one round trip per shard; query is
-- the ordinal (from 1) of the query vector each row answers.
CREATE FUNCTION hnsw.search_batch(rel anyelement, queries vector[], k integer,
								  partitions integer[] DEFAULT NULL,
								  ef_search integer DEFAULT NULL,
								  exact boolean DEFAULT false,
								  metric text DEFAULT 'l2',
								  column_name name DEFAULT NULL,
								  filter text DEFAULT NULL)
RETURNS TABLE (query integer, item anyelement)
AS 'MODULE_PATHNAME', 'hnsw_search_batch' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hnsw.search_batch(anyelement, vector[], integer, integer[], integer, boolean, text, name, text) IS
	'hnsw.search for many vectors, one round trip per shard';

-- hnsw.search and hnsw.search_batch for sparsevec queries, of any number
-- of dimensions (never made dense).  Separate names, because overloads of
-- hnsw.search would make every call with an untyped literal ambiguous.
CREATE FUNCTION hnsw.search_sparse(rel anyelement, query sparsevec, k integer,
								   partitions integer[] DEFAULT NULL,
								   ef_search integer DEFAULT NULL,
								   exact boolean DEFAULT false,
								   metric text DEFAULT 'l2',
								   column_name name DEFAULT NULL,
								   filter text DEFAULT NULL)
RETURNS SETOF anyelement
AS 'MODULE_PATHNAME', 'hnsw_search' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hnsw.search_sparse(anyelement, sparsevec, integer, integer[], integer, boolean, text, name, text) IS
	'the k rows of a distributed table nearest to a sparse vector, from all its shards at once';
CREATE FUNCTION hnsw.search_sparse_batch(rel anyelement, queries sparsevec[], k integer,
										 partitions integer[] DEFAULT NULL,
										 ef_search integer DEFAULT NULL,
										 exact boolean DEFAULT false,
										 metric text DEFAULT 'l2',
										 column_name name DEFAULT NULL,
										 filter text DEFAULT NULL)
RETURNS TABLE (query integer, item anyelement)
AS 'MODULE_PATHNAME', 'hnsw_search_batch' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hnsw.search_sparse_batch(anyelement, sparsevec[], integer, integer[], integer, boolean, text, name, text) IS
	'hnsw.search_sparse for many sparse vectors, one round trip per shard';

-- The same searches fetching only some columns of the table (numbers in
-- columns; the others come back NULL).  The planner hook (src/coordplan.c)
-- calls these in place of hnsw.search and hnsw.search_batch when a query
-- reads only some columns of the rows; not for direct use.
CREATE FUNCTION hnsw._search_columns(rel anyelement, query vector, k integer,
									 partitions integer[], ef_search integer,
									 exact boolean, metric text,
									 column_name name, filter text,
									 columns smallint[])
RETURNS SETOF anyelement
AS 'MODULE_PATHNAME', 'hnsw_search' LANGUAGE C VOLATILE;
CREATE FUNCTION hnsw._search_batch_columns(rel anyelement, queries vector[],
										   k integer, partitions integer[],
										   ef_search integer, exact boolean,
										   metric text, column_name name,
										   filter text, columns smallint[])
RETURNS TABLE (query integer, item anyelement)
AS 'MODULE_PATHNAME', 'hnsw_search_batch' LANGUAGE C VOLATILE;
CREATE FUNCTION hnsw._search_sparse_columns(rel anyelement, query sparsevec, k integer,
									 partitions integer[], ef_search integer,
									 exact boolean, metric text,
									 column_name name, filter text,
									 columns smallint[])
RETURNS SETOF anyelement
AS 'MODULE_PATHNAME', 'hnsw_search' LANGUAGE C VOLATILE;
CREATE FUNCTION hnsw._search_sparse_batch_columns(rel anyelement, queries sparsevec[],
										   k integer, partitions integer[],
										   ef_search integer, exact boolean,
										   metric text, column_name name,
										   filter text, columns smallint[])
RETURNS TABLE (query integer, item anyelement)
AS 'MODULE_PATHNAME', 'hnsw_search_batch' LANGUAGE C VOLATILE;

-- Every role may search: each call checks, after locking the table, that
-- the caller may SELECT the columns it fetches, the vector column, the
-- filter's columns and
-- (with partitions) the partition column, and refuses a table whose
-- row-level security applies to the caller (src/coordacl.c).  The shards
-- are asked under the caller's own user mappings.
GRANT EXECUTE ON FUNCTION
	hnsw.search(anyelement, vector, integer, integer[], integer, boolean, text, name, text),
	hnsw.search_batch(anyelement, vector[], integer, integer[], integer, boolean, text, name, text),
	hnsw._search_columns(anyelement, vector, integer, integer[], integer, boolean, text, name, text, smallint[]),
	hnsw._search_batch_columns(anyelement, vector[], integer, integer[], integer, boolean, text, name, text, smallint[]),
	hnsw.search_sparse(anyelement, sparsevec, integer, integer[], integer, boolean, text, name, text),
	hnsw.search_sparse_batch(anyelement, sparsevec[], integer, integer[], integer, boolean, text, name, text),
	hnsw._search_sparse_columns(anyelement, sparsevec, integer, integer[], integer, boolean, text, name, text, smallint[]),
	hnsw._search_sparse_batch_columns(anyelement, sparsevec[], integer, integer[], integer, boolean, text, name, text, smallint[])
	TO PUBLIC;

-- Each copy of each shard of a distributed table: does it answer, is it a
-- standby, how many rows, is there an hnsw index; error says why not.
CREATE FUNCTION hnsw.shard_status(rel regclass)
RETURNS TABLE (shard name, server name, role text, answers boolean,
			   in_recovery boolean, row_count bigint, hnsw_index boolean,
			   error text)
AS 'MODULE_PATHNAME', 'hnsw_shard_status' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION hnsw.shard_status(regclass) IS
	'every copy of every shard of a distributed table: answers, standby, rows, hnsw index';
-- Every role that may count the table's rows (SELECT on it or a column;
-- no row-level security for it), under its own user mappings.
GRANT EXECUTE ON FUNCTION hnsw.shard_status(regclass) TO PUBLIC;

-- Run commands[i] on servers[i], all at once; the first value each returned.
-- Arbitrary SQL under the caller's user mappings: not for PUBLIC.
CREATE FUNCTION hnsw._shard_exec(servers name[], commands text[])
RETURNS text[]
AS 'MODULE_PATHNAME', 'hnsw_shard_exec' LANGUAGE C VOLATILE STRICT;
REVOKE EXECUTE ON FUNCTION hnsw._shard_exec(name[], text[]) FROM PUBLIC;

-- Copy the rows of a table partitioned on an integer column to the tables
-- of the same name on the shards: part_values[i] to part_servers[i].  Under
-- the caller's user mappings: not for PUBLIC.
CREATE FUNCTION hnsw._shard_copy(rel regclass, part_values bigint[], part_servers name[])
RETURNS bigint
AS 'MODULE_PATHNAME', 'hnsw_shard_copy' LANGUAGE C VOLATILE;
REVOKE EXECUTE ON FUNCTION hnsw._shard_copy(regclass, bigint[], name[]) FROM PUBLIC;

-- Distribute a table that is partitioned by LIST on an integer column:
-- shards maps server names to the partition values each holds, as in
-- '{"shard1": [0, 1], "shard2": [2]}'.  It locks the table against writes
-- (EXCLUSIVE, until the end of the transaction: no row can be added and
-- then lost), creates on every shard the table (same schema, name and
-- columns), streams the rows of the table's local partitions to the shard
-- holding their values with COPY (hnsw._shard_copy, all shards at once,
-- any size), and builds an hnsw index on each shard that has the hnsw
-- access method (index_options, e.g. '{"m": 16, "ef_construction": 64}';
-- metric chooses the operator class, <type>_<metric>_ops), all at once.  Then the local
-- partitions are dropped and one postgres_fdw foreign table per shard is
-- attached.  On failure the coordinator's changes roll back, and the shard
-- tables this call created are dropped: only those, each recognised by the
-- OID it got (a table of the same name made by someone else stays).
CREATE FUNCTION hnsw.create_distributed_table(rel regclass, shards jsonb,
											  index_options jsonb DEFAULT NULL,
											  metric text DEFAULT 'l2',
											  column_name name DEFAULT NULL)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	nsp name;
	tbl name;
	qualname text;				-- "nsp"."tbl", the same on every server
	partcol name;
	parttype regtype;
	veccol name;
	vectype name;
	opclass text;
	coldefs text;
	withopts text := '';
	srv text;
	vals jsonb;
	servers name[] := '{}';
	vallist text[] := '{}';
	allvals bigint[] := '{}';
	partvals bigint[] := '{}';	-- partvals[i] goes to partsrv[i]
	partsrv name[] := '{}';
	checks text[];
	made text[] := '{}';		-- per server: OID of the table made there,
								-- '' if made but its OID is unknown
	indexed name[] := '{}';
	cmds text[];
	js text;
	ints bigint[];
	n bigint;
	i int;
BEGIN
	SELECT c.relnamespace::regnamespace::name, c.relname INTO nsp, tbl
	  FROM pg_class c WHERE c.oid = rel;
	qualname := format('%I.%I', nsp, tbl);
	IF NOT EXISTS (SELECT FROM pg_class WHERE oid = rel AND relkind = 'p') THEN
		RAISE EXCEPTION '% is not a partitioned table', rel
			USING ERRCODE = 'wrong_object_type';
	END IF;
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = rel), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', rel
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	-- rows the caller cannot see would be dropped with the local partitions
	IF row_security_active(rel) THEN
		RAISE EXCEPTION 'cannot distribute table %: row-level security applies to role "%"',
			rel, current_user
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Distribute it as a role that bypasses row-level security, or disable it first.';
	END IF;
	SELECT a.attname, a.atttypid::regtype INTO partcol, parttype
	  FROM pg_partitioned_table p
	  JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
	 WHERE p.partrelid = rel AND p.partstrat = 'l' AND p.partnatts = 1;
	IF partcol IS NULL OR parttype NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
		RAISE EXCEPTION 'table % must be partitioned by LIST on one integer column', rel
			USING ERRCODE = 'feature_not_supported';
	END IF;
	IF EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
				WHERE i.inhparent = rel AND c.relkind <> 'r') THEN
		RAISE EXCEPTION 'table % already has partitions that are not plain tables', rel
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Only local partitions are moved to shards.';
	END IF;

	-- the vector column (vector, halfvec or sparsevec) and the operator
	-- class of the metric for its type
	SELECT a.attname, t.typname INTO veccol, vectype
	  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
	 WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
	   AND a.atttypid IN ('@extschema@.vector'::regtype, '@extschema@.halfvec'::regtype,
						  '@extschema@.sparsevec'::regtype)
	   AND (column_name IS NULL OR a.attname = column_name)
	 ORDER BY a.attnum LIMIT 1;
	IF veccol IS NULL THEN
		RAISE EXCEPTION 'table % has no vector column%', rel,
			CASE WHEN column_name IS NULL THEN '' ELSE format(' named "%s"', column_name) END
			USING ERRCODE = 'undefined_column',
				  HINT = 'Vector columns are of type vector, halfvec or sparsevec.';
	END IF;
	-- vector_l2_ops, ..., halfvec_l1_ops (hnsw._metric: tools.sql)
	opclass := format('%s_%s_ops', vectype, (hnsw._metric(metric)).name);
	IF NOT EXISTS (SELECT FROM pg_opclass c JOIN pg_am am ON am.oid = c.opcmethod
				    WHERE am.amname = 'hnsw' AND c.opcname = opclass
					  AND c.opcnamespace = '@extschema@'::regnamespace) THEN
		RAISE EXCEPTION 'metric "%" has no hnsw operator class for type %', metric, vectype
			USING ERRCODE = 'undefined_object',
				  HINT = 'Columns of type halfvec and sparsevec are indexed for the metrics l2, ip, cosine and l1.';
	END IF;
	IF index_options IS NOT NULL THEN
		IF jsonb_typeof(index_options) <> 'object' THEN
			RAISE EXCEPTION 'index_options must be a JSON object, as in {"m": 16}'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT ' WITH (' || string_agg(format('%I = %L', key, value #>> '{}'), ', ') || ')'
		  INTO withopts FROM jsonb_each(index_options);
		withopts := coalesce(withopts, '');
	END IF;

	SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)),
					  ', ' ORDER BY a.attnum)
	  INTO coldefs
	  FROM pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped;

	-- the shards and their values
	IF shards IS NULL OR jsonb_typeof(shards) <> 'object' OR shards = '{}' THEN
		RAISE EXCEPTION 'shards must be a JSON object mapping server names to arrays of partition values'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example {"shard1": [0, 1], "shard2": [2]}.';
	END IF;
	FOR srv, vals IN SELECT key, value FROM jsonb_each(shards) LOOP
		IF NOT EXISTS (SELECT FROM pg_foreign_server WHERE srvname = srv) THEN
			RAISE EXCEPTION 'server "%" does not exist', srv
				USING ERRCODE = 'undefined_object',
					  HINT = 'Shards are postgres_fdw servers.';
		END IF;
		IF NOT EXISTS (SELECT FROM pg_foreign_server fs
					   JOIN pg_foreign_data_wrapper w ON w.oid = fs.srvfdw
					   WHERE fs.srvname = srv AND w.fdwname = 'postgres_fdw') THEN
			RAISE EXCEPTION 'server "%" is not a postgres_fdw server', srv
				USING ERRCODE = 'wrong_object_type';
		END IF;
		IF jsonb_typeof(vals) <> 'array' OR jsonb_array_length(vals) = 0
		   OR EXISTS (SELECT FROM jsonb_array_elements(vals) e
					  WHERE jsonb_typeof(e) <> 'number' OR e::text !~ '^-?[0-9]+$') THEN
			RAISE EXCEPTION 'the partition values of server "%" must be a non-empty array of integers', srv
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT array_agg(e::text::bigint) INTO ints FROM jsonb_array_elements(vals) e;
		IF allvals && ints THEN
			RAISE EXCEPTION 'a partition value of server "%" is given to another server too', srv
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		allvals := allvals || ints;
		partvals := partvals || ints;
		partsrv := partsrv || array_fill(srv::name, ARRAY[cardinality(ints)]);
		servers := servers || srv::name;
		vallist := vallist || array_to_string(ints, ', ');
	END LOOP;

	-- From here until the transaction ends no row is added, changed or
	-- removed (LOCK recurses to the partitions); reading goes on.  Rows
	-- written before are all visible: the lock waited for their writers.
	EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', rel);
	EXECUTE format('SELECT count(*) FROM %s WHERE %I IS NULL OR %I <> ALL ($1)', rel, partcol, partcol)
		INTO n USING allvals;
	IF n > 0 THEN
		RAISE EXCEPTION 'table % has rows whose partition value no shard holds', rel
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('%s rows would have no shard.', n);
	END IF;

	-- nothing of that name may exist on a shard yet
	checks := array_fill(format('SELECT pg_catalog.to_regclass(%L) IS NULL', qualname),
						 ARRAY[cardinality(servers)]);
	checks := hnsw._shard_exec(servers, checks);
	FOR i IN 1 .. cardinality(servers) LOOP
		IF checks[i] <> 't' THEN
			RAISE EXCEPTION 'table %.% already exists on server "%"', nsp, tbl, servers[i]
				USING ERRCODE = 'duplicate_table';
		END IF;
	END LOOP;

	BEGIN
		-- tables, one server after the other, so that each one made is
		-- known; then its OID, by which cleanup knows it
		FOR i IN 1 .. cardinality(servers) LOOP
			PERFORM hnsw._shard_exec(ARRAY[servers[i]],
				ARRAY[format('CREATE TABLE %s (%s)', qualname, coldefs)]);
			made[i] := '';
			made[i] := (hnsw._shard_exec(ARRAY[servers[i]],
				ARRAY[format('SELECT %L::pg_catalog.regclass::pg_catalog.oid', qualname)]))[1];
		END LOOP;
		-- rows, streamed to every shard at once; then indexes (a bulk
		-- build after the load), at once
		PERFORM hnsw._shard_copy(rel, partvals, partsrv);
		checks := hnsw._shard_exec(servers,
			array_fill('SELECT count(*) FROM pg_catalog.pg_am WHERE amname = ''hnsw'''::text,
					   ARRAY[cardinality(servers)]));
		cmds := '{}';
		FOR i IN 1 .. cardinality(servers) LOOP
			IF checks[i] = '1' THEN
				indexed := indexed || servers[i];
				cmds := cmds || format('CREATE INDEX ON %s USING hnsw (%I %s.%I)%s',
									   qualname, veccol, '@extschema@', opclass, withopts);
			END IF;
		END LOOP;
		IF cardinality(indexed) > 0 THEN
			PERFORM hnsw._shard_exec(indexed, cmds);
		END IF;

		-- the coordinator: local partitions out, foreign partitions in
		FOR js IN SELECT i.inhrelid::regclass::text FROM pg_inherits i WHERE i.inhparent = rel LOOP
			EXECUTE format('DROP TABLE %s', js);
		END LOOP;
		FOR i IN 1 .. cardinality(servers) LOOP
			EXECUTE format('CREATE FOREIGN TABLE %I.%I PARTITION OF %s FOR VALUES IN (%s) '
						   'SERVER %I OPTIONS (schema_name %L, table_name %L)',
						   nsp, tbl || '_' || servers[i], rel, vallist[i],
						   servers[i], nsp, tbl);
		END LOOP;
	EXCEPTION WHEN OTHERS OR query_canceled THEN
		-- best effort: drop the shard tables this call made, found by OID
		-- (renamed or not); the name is checked again under the lock, so
		-- that a table that took it meanwhile is never dropped.  Also after
		-- a cancel or statement_timeout (which OTHERS leaves out); a second
		-- cancel stops the cleanup itself.
		FOR i IN 1 .. cardinality(servers) LOOP
			CONTINUE WHEN made[i] IS NULL;
			IF made[i] = '' THEN
				RAISE WARNING 'table %.% on server "%" may have been left behind', nsp, tbl, servers[i];
				CONTINUE;
			END IF;
			BEGIN
				PERFORM hnsw._shard_exec(ARRAY[servers[i]], ARRAY[format('DO %L', format(
					'DECLARE n text; '
					'BEGIN '
					'SELECT c.oid::pg_catalog.regclass::text INTO n '
					'FROM pg_catalog.pg_class c WHERE c.oid = %1$s::pg_catalog.oid; '
					'IF n IS NOT NULL THEN '
					'EXECUTE ''LOCK TABLE '' || n || '' IN ACCESS EXCLUSIVE MODE''; '
					'IF pg_catalog.to_regclass(n)::pg_catalog.oid = %1$s::pg_catalog.oid THEN '
					'EXECUTE ''DROP TABLE '' || n; '
					'END IF; END IF; END', made[i]::oid))]);
			EXCEPTION WHEN OTHERS THEN
				RAISE WARNING 'could not drop table %.% on server "%": %', nsp, tbl, servers[i], SQLERRM;
			END;
		END LOOP;
		RAISE;
	END;
END
$$;
-- Runs SQL on the shards and moves rows: the superuser's, and a table
-- owner's it grants this to.
REVOKE EXECUTE ON FUNCTION hnsw.create_distributed_table(regclass, jsonb, jsonb, text, name) FROM PUBLIC;
