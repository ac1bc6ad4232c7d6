-- Growing a distributed table without stopping it: move a partition value
-- to another server online (hnsw.move_partition), finish or undo a move a
-- crash interrupted (hnsw.recover_move), and spread the values over a set
-- of servers (hnsw.rebalance_plan, hnsw.rebalance).
-- This file is part of sql/hnsw--<version>.sql; see the Makefile and
-- src/README "Moving partitions".
--
-- A move runs in steps, each in its own transaction on the coordinator
-- (a procedure commits between them), and records the step it reached in
-- hnsw.moves, so that whatever happens to the coordinator, the next call
-- knows what exists on the shards.  Until the switch commits, the source
-- holds the value and the target's copy is only a copy; from then on the
-- target holds it.  The SQL functions run with search_path = pg_catalog,
-- pg_temp; the procedures (which cannot have a SET clause and commit) only
-- call them, by qualified names.

-- Moves of distributed tables in progress, or interrupted (pid NULL or not
-- running): one per table at a time.
CREATE TABLE hnsw.moves (
	relid oid PRIMARY KEY,			-- the distributed table
	value bigint NOT NULL,			-- the partition value moving
	source_server name NOT NULL,
	target_server name NOT NULL,
	source_schema name NOT NULL,	-- the shard table on the source
	source_table name NOT NULL,
	part_column name NOT NULL,		-- its partition column
	target_schema name NOT NULL,	-- the table made on the target
	target_table name NOT NULL,
	partition_name name NOT NULL,	-- the foreign partition the switch makes
	replica_identity text,			-- of the source table before the move,
									-- to restore (NULL: it was FULL)
	snapshot text,					-- the copy's snapshot of the source
	keep_rows boolean,				-- the source table keeps other values
	step text NOT NULL,				-- the next step to run
	rows_moved bigint,
	pid integer,					-- the backend running it
	backend_start timestamptz,
	started timestamptz NOT NULL DEFAULT pg_catalog.now()
);
-- everyone may see what is moving; only its owner (and who it grants)
-- records moves
GRANT SELECT ON hnsw.moves TO PUBLIC;

-- The LIST values of a partition (C, src/coordmove.c); harmless.
CREATE FUNCTION hnsw._partition_values(part regclass)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'hnsw_partition_values' LANGUAGE C STABLE STRICT;
GRANT EXECUTE ON FUNCTION hnsw._partition_values(regclass) TO PUBLIC;

-- An error if in a transaction block; harmless.
CREATE FUNCTION hnsw._prevent_transaction_block(command text)
RETURNS void
AS 'MODULE_PATHNAME', 'hnsw_prevent_transaction_block' LANGUAGE C VOLATILE STRICT;
GRANT EXECUTE ON FUNCTION hnsw._prevent_transaction_block(text) TO PUBLIC;

-- Copy the rows of one value to the target under one snapshot of the
-- source (src/coordmove.c).  Remote work: not for PUBLIC.
CREATE FUNCTION hnsw._move_copy(source name, source_schema name, source_table name,
								part_column name, value bigint, target name,
								target_schema name, target_table name,
								OUT snapshot text, OUT row_count bigint)
AS 'MODULE_PATHNAME', 'hnsw_move_copy' LANGUAGE C VOLATILE STRICT;
REVOKE EXECUTE ON FUNCTION hnsw._move_copy(name, name, name, name, bigint, name, name, name) FROM PUBLIC;

-- Apply what the source's slot decoded to the target (src/coordmove.c).
-- Remote work: not for PUBLIC.
CREATE FUNCTION hnsw._move_apply(source name, slot name, publication name,
								 snapshot text, source_schema name,
								 source_table name, target name,
								 target_schema name, target_table name,
								 upto_lsn pg_lsn)
RETURNS bigint
AS 'MODULE_PATHNAME', 'hnsw_move_apply' LANGUAGE C VOLATILE;
REVOKE EXECUTE ON FUNCTION hnsw._move_apply(name, name, name, text, name, name, name, name, name, pg_lsn) FROM PUBLIC;

-- Hold (or release) a session lock on a table its caller owns, across the
-- commit of a switch (src/coordmove.c).  It blocks everyone: not for
-- PUBLIC.
CREATE FUNCTION hnsw._move_hold(rel regclass, hold boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'hnsw_move_hold' LANGUAGE C VOLATILE STRICT;
REVOKE EXECUTE ON FUNCTION hnsw._move_hold(regclass, boolean) FROM PUBLIC;

-- The name of the publication and the replication slot of a move on its
-- source (letters, digits and underscores, as slot names must be).
CREATE FUNCTION hnsw._move_name(relid oid, value bigint)
RETURNS name LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
RETURN 'hnsw_move_' || relid::text || '_' || translate(value::text, '-', 'm');
GRANT EXECUTE ON FUNCTION hnsw._move_name(oid, bigint) TO PUBLIC;

-- Run one command on one server; its first value.
CREATE FUNCTION hnsw._move_run(server name, command text)
RETURNS text LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
RETURN (hnsw._shard_exec(ARRAY[server], ARRAY[command]))[1];
REVOKE EXECUTE ON FUNCTION hnsw._move_run(name, text) FROM PUBLIC;

-- The comment that marks a table the move made on its target, until the
-- switch makes it the value's table: only a table that has it is dropped
-- when a move is undone.
CREATE FUNCTION hnsw._move_mark(m hnsw.moves)
RETURNS text LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
RETURN 'hnsw.move_partition: copy of value ' || m.value::text || ' made by move '
	|| hnsw._move_name(m.relid, m.value) || ', not in use yet';
REVOKE EXECUTE ON FUNCTION hnsw._move_mark(hnsw.moves) FROM PUBLIC;

-- The foreign partition of rel that lists value, or NULL.
CREATE FUNCTION hnsw._move_partition_of(rel regclass, value bigint)
RETURNS regclass LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
RETURN (SELECT i.inhrelid::regclass FROM pg_inherits i
		 WHERE i.inhparent = rel
		   AND value = ANY (hnsw._partition_values(i.inhrelid::regclass)));
GRANT EXECUTE ON FUNCTION hnsw._move_partition_of(regclass, bigint) TO PUBLIC;

-- A foreign table's option, or NULL.
CREATE FUNCTION hnsw._move_option(options text[], option text)
RETURNS text LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT o.option_value FROM pg_options_to_table(options) o
		 WHERE o.option_name = option);
GRANT EXECUTE ON FUNCTION hnsw._move_option(text[], text) TO PUBLIC;

-- Wait until each replica of server (hnsw.replicas) has replayed its WAL
-- up to lsn, for at most hnsw.shard_timeout each (0: as long as it
-- takes), so that searches sent to a replica find what the move wrote.  A
-- replica that cannot be asked, is not a standby or lags behind is named
-- in a WARNING, and not waited for.
CREATE FUNCTION hnsw._move_wait_replicas(server name, lsn pg_lsn)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	replica name;
	timeout interval := coalesce(current_setting('hnsw.shard_timeout', true), '10s')::interval;
	deadline timestamptz;
	done text;
BEGIN
	FOR replica IN SELECT r.replica_server FROM hnsw.replicas r
					WHERE r.shard_server = server ORDER BY 1 LOOP
		deadline := CASE WHEN timeout = interval '0' THEN 'infinity'
						 ELSE clock_timestamp() + timeout END;
		LOOP
			BEGIN
				done := hnsw._move_run(replica, format(
					'SELECT pg_catalog.pg_last_wal_replay_lsn() >= %L::pg_catalog.pg_lsn', lsn));
			EXCEPTION WHEN OTHERS THEN
				RAISE WARNING 'could not ask replica "%" of server "%" how far it replayed: %',
					replica, server, SQLERRM;
				EXIT;
			END;
			EXIT WHEN done = 't';
			IF done IS NULL THEN
				RAISE WARNING 'replica "%" of server "%" is not a standby: it does not receive what the move writes',
					replica, server;
				EXIT;
			END IF;
			IF clock_timestamp() > deadline THEN
				RAISE WARNING 'replica "%" of server "%" has not replayed the move within %',
					replica, server, timeout;
				EXIT;
			END IF;
			PERFORM pg_sleep(0.01);
		END LOOP;
	END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION hnsw._move_wait_replicas(name, pg_lsn) FROM PUBLIC;

-- Remove what a move made on its source: the replication slot (once no
-- session reads it), the publication; and give the table its replica
-- identity back.  Idempotent.
CREATE FUNCTION hnsw._move_clean_source(m hnsw.moves)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	slot name := hnsw._move_name(m.relid, m.value);
	src text := format('%I.%I', m.source_schema, m.source_table);
BEGIN
	-- A session of a coordinator that died may still be reading the slot
	-- for up to a second (client_connection_check_interval).
	PERFORM hnsw._move_run(m.source_server, format('DO %L', format($do$
		DECLARE
			i int := 0;
		BEGIN
			WHILE EXISTS (SELECT FROM pg_catalog.pg_replication_slots
						   WHERE slot_name = %1$L AND active) AND i < 1000 LOOP
				PERFORM pg_catalog.pg_sleep(0.01);
				i := i + 1;
			END LOOP;
			PERFORM pg_catalog.pg_drop_replication_slot(slot_name)
			   FROM pg_catalog.pg_replication_slots WHERE slot_name = %1$L;
			DROP PUBLICATION IF EXISTS %1$I;
			IF %3$L IS NOT NULL AND (SELECT c.relreplident FROM pg_catalog.pg_class c
									  WHERE c.oid = pg_catalog.to_regclass(%2$L)) = 'f' THEN
				EXECUTE 'ALTER TABLE ' || %2$L || ' REPLICA IDENTITY ' || %3$L;
			END IF;
		END $do$, slot, src, m.replica_identity)));
END
$$;
REVOKE EXECUTE ON FUNCTION hnsw._move_clean_source(hnsw.moves) FROM PUBLIC;

-- Drop the table a move made on its target, if it still carries the
-- move's mark (a table made by anyone else keeps its name and data).
-- Idempotent.
CREATE FUNCTION hnsw._move_drop_target(m hnsw.moves)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM hnsw._move_run(m.target_server, format('DO %L', format($do$
		DECLARE
			t pg_catalog.regclass := pg_catalog.to_regclass(%1$L);
		BEGIN
			IF t IS NOT NULL THEN
				EXECUTE 'LOCK TABLE ' || t::pg_catalog.text || ' IN ACCESS EXCLUSIVE MODE';
				IF pg_catalog.obj_description(t, 'pg_class') = %2$L THEN
					EXECUTE 'DROP TABLE ' || t::pg_catalog.text;
				END IF;
			END IF;
		END $do$, format('%I.%I', m.target_schema, m.target_table),
		hnsw._move_mark(m))));
END
$$;
REVOKE EXECUTE ON FUNCTION hnsw._move_drop_target(hnsw.moves) FROM PUBLIC;

-- After the switch: the moved rows off the source.  A table that keeps
-- rows of other values loses those of the value; one that held only the
-- value is dropped.  Idempotent.
CREATE FUNCTION hnsw._move_delete_source(m hnsw.moves)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM hnsw._move_run(m.source_server, format('DO %L', format($do$
		DECLARE
			t pg_catalog.regclass := pg_catalog.to_regclass(%1$L);
		BEGIN
			IF t IS NULL THEN
				RETURN;
			END IF;
			IF %4$L THEN
				DELETE FROM %1$s WHERE %2$I = %3$s;
				RETURN;
			END IF;
			LOCK TABLE %1$s IN ACCESS EXCLUSIVE MODE;
			IF EXISTS (SELECT FROM %1$s WHERE %2$I IS DISTINCT FROM %3$s) THEN
				DELETE FROM %1$s WHERE %2$I = %3$s;
			ELSE
				DROP TABLE %1$s;
			END IF;
		END $do$, format('%I.%I', m.source_schema, m.source_table),
		m.part_column, m.value, m.keep_rows)));
END
$$;
REVOKE EXECUTE ON FUNCTION hnsw._move_delete_source(hnsw.moves) FROM PUBLIC;

-- After the move: VACUUM (ANALYZE) the source table if it kept other
-- values' rows, so that the moved rows' dead tuples and index entries go
-- now, not when autovacuum comes, and its statistics count what is left.
-- Outside any transaction on the source (hnsw._shard_exec sends it
-- alone), after the coordinator's lock is released: searches and writes
-- go on meanwhile.  The move is done by then: a VACUUM that fails, or is
-- cancelled, is a WARNING, and leaves the work to autovacuum.
CREATE FUNCTION hnsw._move_vacuum_source(m hnsw.moves)
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	src text := format('%I.%I', m.source_schema, m.source_table);
BEGIN
	IF hnsw._move_run(m.source_server,
					  format('SELECT pg_catalog.to_regclass(%L) IS NOT NULL', src)) = 't' THEN
		PERFORM hnsw._move_run(m.source_server, format('VACUUM (ANALYZE) %s', src));
	END IF;
EXCEPTION WHEN OTHERS OR query_canceled THEN
	RAISE WARNING 'could not vacuum table % on server "%" after moving value % off it: %',
		src, m.source_server, m.value, SQLERRM
		USING HINT = 'Autovacuum will remove the moved rows'' dead tuples, or run VACUUM on the table.';
END
$$;
REVOKE EXECUTE ON FUNCTION hnsw._move_vacuum_source(hnsw.moves) FROM PUBLIC;

-- What is left to do of move m on the shards, each part tried even if
-- another fails: decided (the switch committed), delete the value's rows
-- from the source, remove the slot and publication, unmark the target's
-- table; not decided, remove the slot and publication, drop the target's
-- table.  NULL if all went well, else the errors.
CREATE FUNCTION hnsw._move_tidy(m hnsw.moves, decided boolean)
RETURNS text LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	problems text;
BEGIN
	IF decided THEN
		BEGIN
			PERFORM hnsw._move_delete_source(m);
		EXCEPTION WHEN OTHERS OR query_canceled THEN
			problems := concat_ws('; ', problems, SQLERRM);
		END;
	END IF;
	BEGIN
		PERFORM hnsw._move_clean_source(m);
	EXCEPTION WHEN OTHERS OR query_canceled THEN
		problems := concat_ws('; ', problems, SQLERRM);
	END;
	BEGIN
		IF decided THEN
			PERFORM hnsw._move_run(m.target_server, format('COMMENT ON TABLE %I.%I IS NULL',
														   m.target_schema, m.target_table));
		ELSE
			PERFORM hnsw._move_drop_target(m);
		END IF;
	EXCEPTION WHEN OTHERS OR query_canceled THEN
		problems := concat_ws('; ', problems, SQLERRM);
	END;
	RETURN problems;
END
$$;
REVOKE EXECUTE ON FUNCTION hnsw._move_tidy(hnsw.moves, boolean) FROM PUBLIC;

-- Finish (after the switch) or undo (before it) the move of rel recorded
-- in hnsw.moves whose backend is gone; 'completed', 'undone', or NULL if
-- there was none.  An error if its backend still runs it.
CREATE FUNCTION hnsw._move_recover(rel regclass)
RETURNS text LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	m hnsw.moves;
	decided boolean;
	problems text;
BEGIN
	IF rel IS NULL THEN
		RETURN NULL;
	END IF;
	-- (a table dropped since is named by its OID, hnsw.moves.relid)
	IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = rel) THEN
		IF NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
			RAISE EXCEPTION 'must be superuser to recover the move of a dropped table'
				USING ERRCODE = 'insufficient_privilege';
		END IF;
	ELSIF NOT pg_has_role((SELECT c.relowner FROM pg_class c WHERE c.oid = rel), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', rel
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT * INTO m FROM hnsw.moves mv WHERE mv.relid = rel FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF m.pid IS NOT NULL AND m.pid <> pg_backend_pid()
	   AND EXISTS (SELECT FROM pg_stat_activity a
				   WHERE a.pid = m.pid AND a.backend_start = m.backend_start) THEN
		RAISE EXCEPTION 'table % is being moved by process %', rel, m.pid
			USING ERRCODE = 'object_in_use',
				  DETAIL = format('Value %s is moving from server "%s" to server "%s".',
								  m.value, m.source_server, m.target_server);
	END IF;
	decided := m.step IN ('switched', 'clean');
	problems := hnsw._move_tidy(m, decided);
	IF problems IS NOT NULL THEN
		RAISE EXCEPTION 'could not % the interrupted move of value % of table % to server "%"',
			CASE WHEN decided THEN 'finish' ELSE 'undo' END, m.value, rel, m.target_server
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = problems,
				  HINT = 'Run hnsw.recover_move again once both servers answer.';
	END IF;
	DELETE FROM hnsw.moves mv WHERE mv.relid = rel;
	IF decided THEN
		RAISE NOTICE 'finished the interrupted move of value % of table % to server "%"',
			m.value, rel, m.target_server;
	ELSE
		RAISE NOTICE 'undid the interrupted move of value % of table % to server "%"',
			m.value, rel, m.target_server;
	END IF;
	RETURN CASE WHEN decided THEN 'completed' ELSE 'undone' END;
END
$$;
REVOKE EXECUTE ON FUNCTION hnsw._move_recover(regclass) FROM PUBLIC;

-- Finish or undo a move of rel that a crash or a killed session
-- interrupted: after the switch, the value's old rows are deleted from the
-- source; before it, what the move made on both servers is removed.
-- Returns 'completed', 'undone', or 'none' if no move was interrupted.
CREATE FUNCTION hnsw.recover_move(rel regclass)
RETURNS text LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	done text;
BEGIN
	done := hnsw._move_recover(rel);
	RETURN coalesce(done, 'none');
END
$$;
-- Runs SQL on the shards: the superuser's, and a table owner's it grants
-- this to (with the functions it calls, and DELETE on hnsw.moves).
REVOKE EXECUTE ON FUNCTION hnsw.recover_move(regclass) FROM PUBLIC;

-- Check a move of value of rel to to_server and record it in hnsw.moves;
-- its first step, or NULL if the value is on to_server already.  Nothing
-- changes anywhere until hnsw._move_step runs.
CREATE FUNCTION hnsw._move_begin(rel regclass, value bigint, to_server name)
RETURNS text LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	m hnsw.moves;
	nsp name;
	tbl name;
	partcol name;
	parttype regtype;
	part regclass;
	existing regclass;
	ftopts text[];
	src jsonb;
	tgt jsonb;
BEGIN
	IF rel IS NULL OR value IS NULL OR to_server IS NULL THEN
		RAISE EXCEPTION 'the table, the value and the server of a move must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT c.relnamespace::regnamespace::name, c.relname INTO nsp, tbl
	  FROM pg_class c WHERE c.oid = rel;
	IF NOT EXISTS (SELECT FROM pg_class WHERE oid = rel AND relkind = 'p') THEN
		RAISE EXCEPTION '% is not a partitioned table', rel
			USING ERRCODE = 'wrong_object_type';
	END IF;
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = rel), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', rel
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT a.attname, a.atttypid::regtype INTO partcol, parttype
	  FROM pg_partitioned_table p
	  JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
	 WHERE p.partrelid = rel AND p.partstrat = 'l' AND p.partnatts = 1;
	IF partcol IS NULL OR parttype NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
		RAISE EXCEPTION 'table % must be partitioned by LIST on one integer column', rel
			USING ERRCODE = 'feature_not_supported';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_foreign_server WHERE srvname = to_server) THEN
		RAISE EXCEPTION 'server "%" does not exist', to_server
			USING ERRCODE = 'undefined_object',
				  HINT = 'Shards are postgres_fdw servers.';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_foreign_server fs
				   JOIN pg_foreign_data_wrapper w ON w.oid = fs.srvfdw
				   WHERE fs.srvname = to_server AND w.fdwname = 'postgres_fdw') THEN
		RAISE EXCEPTION 'server "%" is not a postgres_fdw server', to_server
			USING ERRCODE = 'wrong_object_type';
	END IF;

	-- where the value is: a postgres_fdw foreign partition that lists it
	part := hnsw._move_partition_of(rel, value);
	IF part IS NULL THEN
		RAISE EXCEPTION 'no partition of table % lists value %', rel, value
			USING ERRCODE = 'undefined_object',
				  HINT = 'Only values listed in a partition''s bounds move, not those of a default partition.';
	END IF;
	SELECT fs.srvname, ft.ftoptions INTO m.source_server, ftopts
	  FROM pg_foreign_table ft
	  JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
	  JOIN pg_foreign_data_wrapper w ON w.oid = fs.srvfdw
	 WHERE ft.ftrelid = part AND w.fdwname = 'postgres_fdw';
	IF m.source_server IS NULL THEN
		RAISE EXCEPTION 'partition % of table % is not a postgres_fdw foreign table', part, rel
			USING ERRCODE = 'wrong_object_type',
				  HINT = 'Distribute the table first with hnsw.create_distributed_table.';
	END IF;
	IF m.source_server = to_server THEN
		RAISE NOTICE 'value % of table % is on server "%" already', value, rel, to_server;
		RETURN NULL;
	END IF;

	m.relid := rel;
	m.value := value;
	m.target_server := to_server;
	m.source_schema := coalesce(hnsw._move_option(ftopts, 'schema_name'),
								(SELECT c.relnamespace::regnamespace::name FROM pg_class c WHERE c.oid = part));
	m.source_table := coalesce(hnsw._move_option(ftopts, 'table_name'),
							   (SELECT c.relname FROM pg_class c WHERE c.oid = part));
	m.part_column := coalesce(
		(SELECT hnsw._move_option(a.attfdwoptions, 'column_name')
		   FROM pg_attribute a WHERE a.attrelid = part AND a.attname = partcol),
		partcol);
	m.target_schema := m.source_schema;
	m.partition_name := tbl || '_p' || value::text;
	m.target_table := m.partition_name;
	IF octet_length(tbl || '_p' || value::text) >= 64 THEN
		RAISE EXCEPTION 'name "%" of the moved partition is too long', tbl || '_p' || value::text
			USING ERRCODE = 'name_too_long';
	END IF;
	-- (a partition of that name holding the value alone is the one the
	-- switch drops)
	existing := to_regclass(format('%I.%I', nsp, m.partition_name));
	IF existing IS NOT NULL
	   AND (existing <> part OR cardinality(hnsw._partition_values(part)) > 1) THEN
		RAISE EXCEPTION 'relation "%" already exists', m.partition_name
			USING ERRCODE = 'duplicate_table',
				  DETAIL = format('The move would name the new partition of value %s so.', value);
	END IF;

	-- the source: logical decoding and its table
	src := hnsw._move_run(m.source_server, format($q$
		SELECT pg_catalog.jsonb_build_object(
			'wal_level', pg_catalog.current_setting('wal_level'),
			'replication', (SELECT r.rolreplication OR r.rolsuper FROM pg_catalog.pg_roles r
							 WHERE r.rolname = CURRENT_USER),
			'user', CURRENT_USER,
			'free_slots', pg_catalog.current_setting('max_replication_slots')::int
						  - (SELECT pg_catalog.count(*) FROM pg_catalog.pg_replication_slots),
			'exists', pg_catalog.to_regclass(%1$L) IS NOT NULL,
			'generated', EXISTS (SELECT FROM pg_catalog.pg_attribute a
								  WHERE a.attrelid = pg_catalog.to_regclass(%1$L)
									AND a.attgenerated <> ''),
			'identity', (SELECT CASE c.relreplident WHEN 'd' THEN 'DEFAULT' WHEN 'n' THEN 'NOTHING'
						  WHEN 'i' THEN 'USING INDEX ' || pg_catalog.quote_ident(ci.relname) END
						  FROM pg_catalog.pg_class c
						  LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisreplident
						  LEFT JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid
						 WHERE c.oid = pg_catalog.to_regclass(%1$L)))::pg_catalog.text$q$,
		format('%I.%I', m.source_schema, m.source_table)))::jsonb;
	IF src->>'wal_level' <> 'logical' THEN
		RAISE EXCEPTION 'server "%" has wal_level = %, but moving a partition from it needs logical decoding',
			m.source_server, src->>'wal_level'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Set wal_level = logical on it and restart it.';
	END IF;
	IF NOT (src->>'replication')::boolean THEN
		RAISE EXCEPTION 'role "%" on server "%" may not use replication slots', src->>'user', m.source_server
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Give it the REPLICATION attribute, or map to a role that has it.';
	END IF;
	IF (src->>'free_slots')::int < 1 THEN
		RAISE EXCEPTION 'server "%" has no free replication slot', m.source_server
			USING ERRCODE = 'configuration_limit_exceeded',
				  HINT = 'Raise max_replication_slots on it.';
	END IF;
	IF NOT (src->>'exists')::boolean THEN
		RAISE EXCEPTION 'table %.% does not exist on server "%"', m.source_schema, m.source_table, m.source_server
			USING ERRCODE = 'undefined_table';
	END IF;
	IF (src->>'generated')::boolean THEN
		RAISE EXCEPTION 'cannot move rows of table %.% on server "%": it has generated columns',
			m.source_schema, m.source_table, m.source_server
			USING ERRCODE = 'feature_not_supported';
	END IF;
	m.replica_identity := src->>'identity';

	-- the target: a primary, the schema, and no table of the new name yet
	tgt := hnsw._move_run(to_server, format($q$
		SELECT pg_catalog.jsonb_build_object(
			'standby', pg_catalog.pg_is_in_recovery(),
			'schema', EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = %1$L),
			'free', pg_catalog.to_regclass(%2$L) IS NULL)::pg_catalog.text$q$,
		m.target_schema, format('%I.%I', m.target_schema, m.target_table)))::jsonb;
	IF (tgt->>'standby')::boolean THEN
		RAISE EXCEPTION 'server "%" is a standby', to_server
			USING ERRCODE = 'read_only_sql_transaction',
				  HINT = 'Move values to primaries; their standbys follow them.';
	END IF;
	IF NOT (tgt->>'schema')::boolean THEN
		RAISE EXCEPTION 'schema "%" does not exist on server "%"', m.target_schema, to_server
			USING ERRCODE = 'invalid_schema_name';
	END IF;
	IF NOT (tgt->>'free')::boolean THEN
		RAISE EXCEPTION 'table %.% already exists on server "%"', m.target_schema, m.target_table, to_server
			USING ERRCODE = 'duplicate_table';
	END IF;

	m.step := 'table';
	m.pid := pg_backend_pid();
	m.backend_start := (SELECT a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid());
	m.started := now();
	BEGIN
		INSERT INTO hnsw.moves SELECT m.*;
	EXCEPTION WHEN unique_violation THEN
		RAISE EXCEPTION 'table % is being moved by another session', rel
			USING ERRCODE = 'object_in_use';
	END;
	RETURN m.step;
END
$$;
REVOKE EXECUTE ON FUNCTION hnsw._move_begin(regclass, bigint, name) FROM PUBLIC;

-- Run the next step of the move of rel and record the one after it.
-- Returns {next step (NULL when done), SQLSTATE, message, detail, hint,
-- rows moved}: after an error the move is undone if it had not switched
-- (or left to hnsw.recover_move if a server does not answer), and the
-- error comes back here, recorded, so that the caller can commit before
-- raising it.
CREATE FUNCTION hnsw._move_step(rel regclass)
RETURNS text[] LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	m hnsw.moves;
	slot name;
	src text;
	tgt text;
	nxt text;
	r record;
	lsn text;
	defs text[];
	def text;
	cut text;
	part regclass;
	vals bigint[];
	opts text;
	colnames name[];
	colopts text[];
	i int;
	counts text[];
	st text;
	msg text;
	det text;
	hnt text;
	ctx text;
	problems text;
BEGIN
	SELECT * INTO m FROM hnsw.moves mv WHERE mv.relid = rel;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no move of table % is recorded', rel
			USING ERRCODE = 'undefined_object';
	END IF;
	slot := hnsw._move_name(m.relid, m.value);
	src := format('%I.%I', m.source_schema, m.source_table);
	tgt := format('%I.%I', m.target_schema, m.target_table);
	BEGIN
		CASE m.step
		WHEN 'table' THEN
			-- the source table's columns, marked until the switch
			def := hnsw._move_run(m.source_server, format($q$
				SELECT pg_catalog.string_agg(pg_catalog.format('%%I %%s%%s%%s', a.attname,
						pg_catalog.format_type(a.atttypid, a.atttypmod),
						CASE WHEN a.attcollation <> t.typcollation
							 THEN ' COLLATE ' || a.attcollation::pg_catalog.regcollation::pg_catalog.text
							 ELSE '' END,
						CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END), ', ' ORDER BY a.attnum)
				  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
				 WHERE a.attrelid = %L::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped$q$,
				src));
			PERFORM hnsw._move_run(m.target_server, format('DO %L', format(
				'BEGIN CREATE TABLE %s (%s); COMMENT ON TABLE %s IS %L; END',
				tgt, def, tgt, hnsw._move_mark(m))));
			nxt := 'identity';
		WHEN 'identity' THEN
			-- Publishing updates and deletes needs a replica identity
			-- that covers the filter's column: FULL, until the move ends.
			IF m.replica_identity IS NOT NULL THEN
				PERFORM hnsw._move_run(m.source_server,
					format('ALTER TABLE %s REPLICA IDENTITY FULL', src));
			END IF;
			nxt := 'publication';
		WHEN 'publication' THEN
			PERFORM hnsw._move_run(m.source_server,
				format('CREATE PUBLICATION %I FOR TABLE %s WHERE (%I = %s)',
					   slot, src, m.part_column, m.value));
			nxt := 'slot';
		WHEN 'slot' THEN
			PERFORM hnsw._move_run(m.source_server,
				format('SELECT pg_catalog.pg_create_logical_replication_slot(%L, ''pgoutput'')::pg_catalog.text',
					   slot));
			nxt := 'copy';
		WHEN 'copy' THEN
			SELECT * INTO r FROM hnsw._move_copy(m.source_server, m.source_schema, m.source_table,
				m.part_column, m.value, m.target_server, m.target_schema, m.target_table);
			UPDATE hnsw.moves mv SET snapshot = r.snapshot WHERE mv.relid = rel;
			nxt := 'index';
		WHEN 'index' THEN
			-- the source table's indexes, built after the copy
			defs := hnsw._move_run(m.source_server, format($q$
				SELECT pg_catalog.array_agg(pg_catalog.pg_get_indexdef(i.indexrelid) ORDER BY i.indexrelid)::pg_catalog.text
				  FROM pg_catalog.pg_index i WHERE i.indrelid = %L::pg_catalog.regclass$q$, src))::text[];
			cut := format(' ON %s USING ', src);
			FOREACH def IN ARRAY coalesce(defs, '{}') LOOP
				IF strpos(def, cut) = 0 THEN
					RAISE EXCEPTION 'unexpected index definition on server "%": %', m.source_server, def
						USING ERRCODE = 'internal_error';
				END IF;
				PERFORM hnsw._move_run(m.target_server,
					CASE WHEN def LIKE 'CREATE UNIQUE INDEX %' THEN 'CREATE UNIQUE INDEX ON '
						 ELSE 'CREATE INDEX ON ' END
					|| tgt || ' USING ' || substr(def, strpos(def, cut) + length(cut)));
			END LOOP;
			nxt := 'catch up';
		WHEN 'catch up' THEN
			-- most of what was written meanwhile, before anything waits;
			-- then statistics, so that the target plans its first searches
			-- of the table with them
			PERFORM hnsw._move_apply(m.source_server, slot, slot, m.snapshot,
				m.source_schema, m.source_table, m.target_server, m.target_schema,
				m.target_table, NULL);
			PERFORM hnsw._move_run(m.target_server, format('ANALYZE %s', tgt));
			nxt := 'switch';
		WHEN 'switch' THEN
			-- What arrived while catching up, and the target's replicas,
			-- before the lock, so that little is left to do under it
			PERFORM hnsw._move_apply(m.source_server, slot, slot, m.snapshot,
				m.source_schema, m.source_table, m.target_server, m.target_schema,
				m.target_table, NULL);
			PERFORM hnsw._move_wait_replicas(m.target_server,
				hnsw._move_run(m.target_server,
							   'SELECT pg_catalog.pg_current_wal_lsn()::pg_catalog.text')::pg_lsn);

			-- From here until the commit nobody reads or writes the table
			-- through the coordinator; the rest of the changes are applied,
			-- the copy is counted, and the partitions switch.
			EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', rel);
			part := hnsw._move_partition_of(rel, m.value);
			IF part IS NULL OR NOT EXISTS (
				SELECT FROM pg_foreign_table ft JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
				 WHERE ft.ftrelid = part AND fs.srvname = m.source_server) THEN
				RAISE EXCEPTION 'the partitions of table % changed during the move', rel
					USING ERRCODE = 'object_not_in_prerequisite_state';
			END IF;
			lsn := hnsw._move_run(m.source_server,
				'SELECT pg_catalog.pg_logical_emit_message(true, ''hnsw.move_partition'', '''')::pg_catalog.text');
			PERFORM hnsw._move_apply(m.source_server, slot, slot, m.snapshot,
				m.source_schema, m.source_table, m.target_server, m.target_schema,
				m.target_table, lsn::pg_lsn);
			counts := hnsw._shard_exec(ARRAY[m.source_server, m.target_server], ARRAY[
				format('SELECT pg_catalog.count(*)::pg_catalog.text FROM %s WHERE %I = %s',
					   src, m.part_column, m.value),
				format('SELECT pg_catalog.count(*)::pg_catalog.text || '' '' || pg_catalog.count(*) FILTER (WHERE %I IS DISTINCT FROM %s)::pg_catalog.text FROM %s',
					   m.part_column, m.value, tgt)]);
			IF counts[2] <> counts[1] || ' 0' THEN
				RAISE EXCEPTION 'the copy of value % on server "%" does not match the source', m.value, m.target_server
					USING ERRCODE = 'data_exception',
						  DETAIL = format('Server "%s" has %s rows of the value; the copy has %s rows, %s of other values.',
										  m.source_server, counts[1], split_part(counts[2], ' ', 1),
										  split_part(counts[2], ' ', 2)),
						  HINT = 'Were rows written on a shard directly during the move?';
			END IF;
			PERFORM hnsw._move_wait_replicas(m.target_server,
				hnsw._move_run(m.target_server,
									  'SELECT pg_catalog.pg_current_wal_lsn()::pg_catalog.text')::pg_lsn);

			-- the coordinator: the value leaves its partition, a new
			-- foreign partition on the target holds it
			vals := hnsw._partition_values(part);
			m.keep_rows := cardinality(vals) > 1 OR EXISTS (
				SELECT FROM pg_inherits i
				  JOIN pg_foreign_table ft ON ft.ftrelid = i.inhrelid
				  JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
				 WHERE i.inhparent = rel AND i.inhrelid <> part AND fs.srvname = m.source_server
				   AND coalesce(hnsw._move_option(ft.ftoptions, 'schema_name'),
								(SELECT c.relnamespace::regnamespace::name FROM pg_class c WHERE c.oid = i.inhrelid)) = m.source_schema
				   AND coalesce(hnsw._move_option(ft.ftoptions, 'table_name'),
								(SELECT c.relname FROM pg_class c WHERE c.oid = i.inhrelid)) = m.source_table);
			SELECT string_agg(format('%I %L', o.option_name, o.option_value), ', ') INTO opts
			  FROM pg_foreign_table ft, pg_options_to_table(ft.ftoptions) o
			 WHERE ft.ftrelid = part AND o.option_name NOT IN ('schema_name', 'table_name');
			SELECT array_agg(a.attname ORDER BY a.attnum),
				   array_agg((SELECT string_agg(format('%I %L', o.option_name, o.option_value), ', ')
								FROM pg_options_to_table(a.attfdwoptions) o) ORDER BY a.attnum)
			  INTO colnames, colopts
			  FROM pg_attribute a
			 WHERE a.attrelid = part AND a.attnum > 0 AND NOT a.attisdropped
			   AND a.attfdwoptions IS NOT NULL;
			IF cardinality(vals) > 1 THEN
				EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', rel, part);
				EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES IN (%s)', rel, part,
							   array_to_string(array_remove(vals, m.value), ', ', 'NULL'));
			ELSE
				EXECUTE format('DROP FOREIGN TABLE %s', part);
			END IF;
			EXECUTE format('CREATE FOREIGN TABLE %I.%I PARTITION OF %s FOR VALUES IN (%s) '
						   'SERVER %I OPTIONS (schema_name %L, table_name %L%s)',
						   (SELECT c.relnamespace::regnamespace::name FROM pg_class c WHERE c.oid = rel),
						   m.partition_name, rel, m.value, m.target_server,
						   m.target_schema, m.target_table, coalesce(', ' || opts, ''));
			FOR i IN 1 .. coalesce(cardinality(colnames), 0) LOOP
				EXECUTE format('ALTER FOREIGN TABLE %I.%I ALTER COLUMN %I OPTIONS (%s)',
							   (SELECT c.relnamespace::regnamespace::name FROM pg_class c WHERE c.oid = rel),
							   m.partition_name, colnames[i], colopts[i]);
			END LOOP;
			UPDATE hnsw.moves mv
			   SET keep_rows = m.keep_rows, rows_moved = split_part(counts[2], ' ', 1)::bigint
			 WHERE mv.relid = rel;
			nxt := 'switched';
		WHEN 'switched' THEN
			-- The target holds the value.  Rows of it still in a source
			-- table that keeps other values would be read with them: the
			-- coordinator stays locked until they are gone (and gone on
			-- the source's replicas).
			PERFORM hnsw._move_delete_source(m);
			IF m.keep_rows THEN
				PERFORM hnsw._move_wait_replicas(m.source_server,
					hnsw._move_run(m.source_server,
										  'SELECT pg_catalog.pg_current_wal_lsn()::pg_catalog.text')::pg_lsn);
			END IF;
			PERFORM hnsw._move_hold(rel, false);
			nxt := 'clean';
		WHEN 'clean' THEN
			PERFORM hnsw._move_clean_source(m);
			PERFORM hnsw._move_run(m.target_server,
				format('COMMENT ON TABLE %s IS NULL', tgt));
			PERFORM hnsw._move_vacuum_source(m);
			nxt := NULL;
		ELSE
			RAISE EXCEPTION 'unknown step "%" of the move of table %', m.step, rel;
		END CASE;

		IF nxt IS NULL THEN
			DELETE FROM hnsw.moves mv WHERE mv.relid = rel;
			RETURN ARRAY[NULL, NULL, NULL, NULL, NULL, m.rows_moved::text];
		END IF;
		UPDATE hnsw.moves mv SET step = nxt WHERE mv.relid = rel;
		IF nxt = 'switched' AND m.keep_rows THEN
			PERFORM hnsw._move_hold(rel, true);
		END IF;
		RETURN ARRAY[nxt];
	EXCEPTION WHEN OTHERS OR query_canceled THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
								det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT,
								ctx = PG_EXCEPTION_CONTEXT;
	END;
	-- a shard's error says which server and command in its context, which
	-- re-raising loses: keep it in the detail
	ctx := substring(ctx FROM 'remote SQL command on server [^\n]*');
	IF ctx IS NOT NULL THEN
		det := concat_ws(E'\n', nullif(det, ''), 'R' || substr(ctx, 2) || '.');
	END IF;

	-- The step failed and changed nothing on the coordinator.  After the
	-- switch the value is on the target, and what is left (deleting its
	-- old rows, cleaning up) is hnsw.recover_move's; before it, the move
	-- is undone, or left to hnsw.recover_move if a server does not answer.
	PERFORM hnsw._move_hold(rel, false);
	IF m.step IN ('switched', 'clean') THEN
		UPDATE hnsw.moves mv SET pid = NULL WHERE mv.relid = rel;
		RAISE WARNING 'value % of table % is on server "%" now, but the move is not finished',
			m.value, rel, m.target_server
			USING HINT = format('Run hnsw.recover_move(%L) to finish it.', rel::text);
	ELSE
		problems := hnsw._move_tidy(m, false);
		IF problems IS NULL THEN
			DELETE FROM hnsw.moves mv WHERE mv.relid = rel;
		ELSE
			UPDATE hnsw.moves mv SET pid = NULL WHERE mv.relid = rel;
			RAISE WARNING 'could not undo the move of value % of table % to server "%": %',
				m.value, rel, m.target_server, problems
				USING HINT = format('Run hnsw.recover_move(%L) once both servers answer.', rel::text);
		END IF;
	END IF;
	RETURN ARRAY[NULL, st, msg, nullif(det, ''), nullif(hnt, '')];
END
$$;
REVOKE EXECUTE ON FUNCTION hnsw._move_step(regclass) FROM PUBLIC;

-- Raise the error a step recorded (see hnsw._move_step).
CREATE FUNCTION hnsw._move_raise(step text[])
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF step[4] IS NULL AND step[5] IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = step[2], MESSAGE = step[3];
	ELSIF step[5] IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = step[2], MESSAGE = step[3], DETAIL = step[4];
	ELSIF step[4] IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = step[2], MESSAGE = step[3], HINT = step[5];
	ELSE
		RAISE EXCEPTION USING ERRCODE = step[2], MESSAGE = step[3], DETAIL = step[4],
			HINT = step[5];
	END IF;
END
$$;
GRANT EXECUTE ON FUNCTION hnsw._move_raise(text[]) TO PUBLIC;

-- Move the rows of partition value value of the distributed table rel to
-- server to_server, online: searches and writes go on during the copy,
-- and wait only for the switch.  Commits as it goes: CALL it outside a
-- transaction block.  Returns the number of rows moved.
CREATE PROCEDURE hnsw.move_partition(rel regclass, value bigint, to_server name,
									 INOUT rows_moved bigint DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
	step pg_catalog.text;
	r pg_catalog.text[];
BEGIN
	PERFORM hnsw._prevent_transaction_block('hnsw.move_partition');
	PERFORM hnsw._move_recover(rel);
	COMMIT;
	step := hnsw._move_begin(rel, value, to_server);
	COMMIT;
	rows_moved := 0;
	WHILE step IS NOT NULL LOOP
		r := hnsw._move_step(rel);
		COMMIT;
		IF r[2] IS NOT NULL THEN
			PERFORM hnsw._move_raise(r);
		END IF;
		step := r[1];
		IF r[6] IS NOT NULL THEN
			rows_moved := r[6]::pg_catalog.int8;
		END IF;
	END LOOP;
END
$$;
-- Runs SQL on the shards and changes the table's partitions: the
-- superuser's, and a table owner's it grants this to (with the functions
-- it calls, and INSERT, UPDATE and DELETE on hnsw.moves).
REVOKE EXECUTE ON PROCEDURE hnsw.move_partition(regclass, bigint, name, bigint) FROM PUBLIC;

-- Which values to move, and where, so that the rows of rel are spread as
-- evenly as whole values allow over servers (by default, those holding
-- its partitions now; a server left out is emptied, one added is filled):
-- one move at a time, from the fullest server to the emptiest, of the
-- value that evens them best, while a move makes them more even.  Rows are
-- counted on the shards now.
CREATE FUNCTION hnsw.rebalance_plan(rel regclass, servers name[] DEFAULT NULL)
RETURNS TABLE (move integer, value bigint, source name, target name, row_count bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	partcol name;
	p record;
	srv name;
	cmds text[] := '{}';
	srvs name[] := '{}';
	answers text[];
	vals bigint[] := '{}';		-- each value's row count and server
	cnts bigint[] := '{}';
	homes name[] := '{}';
	loads bigint[];
	kv text;
	i int;
	j int;
	h int;
	l int;
	best int;
	n int := 0;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_class WHERE oid = rel AND relkind = 'p') THEN
		RAISE EXCEPTION '% is not a partitioned table', rel
			USING ERRCODE = 'wrong_object_type';
	END IF;
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = rel), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', rel
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT a.attname INTO partcol
	  FROM pg_partitioned_table pt
	  JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
	 WHERE pt.partrelid = rel AND pt.partstrat = 'l' AND pt.partnatts = 1
	   AND a.atttypid IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype);
	IF partcol IS NULL THEN
		RAISE EXCEPTION 'table % must be partitioned by LIST on one integer column', rel
			USING ERRCODE = 'feature_not_supported';
	END IF;

	-- the servers to balance over
	IF servers IS NOT NULL AND (cardinality(servers) = 0 OR array_position(servers, NULL) IS NOT NULL) THEN
		RAISE EXCEPTION 'servers must be a non-empty array of server names'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOREACH srv IN ARRAY coalesce(servers, '{}') LOOP
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
	END LOOP;

	-- per server, one query counting the rows of each value it lists
	FOR p IN
		SELECT fs.srvname AS server,
			   format('%I.%I',
					  coalesce(hnsw._move_option(ft.ftoptions, 'schema_name'), c.relnamespace::regnamespace::name),
					  coalesce(hnsw._move_option(ft.ftoptions, 'table_name'), c.relname)) AS remote,
			   format('%I', coalesce((SELECT hnsw._move_option(a.attfdwoptions, 'column_name')
										FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = partcol),
									 partcol)) AS col,
			   array_remove(hnsw._partition_values(c.oid::regclass), NULL) AS listed
		  FROM pg_inherits i
		  JOIN pg_class c ON c.oid = i.inhrelid
		  JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
		  JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
		 WHERE i.inhparent = rel
		 ORDER BY fs.srvname, c.oid
	LOOP
		CONTINUE WHEN p.listed IS NULL OR cardinality(p.listed) = 0;
		vals := vals || p.listed;
		cnts := cnts || array_fill(0::bigint, ARRAY[cardinality(p.listed)]);
		homes := homes || array_fill(p.server, ARRAY[cardinality(p.listed)]);
		i := array_position(srvs, p.server);
		IF i IS NULL THEN
			srvs := srvs || p.server;
			cmds := cmds || ''::text;
			i := cardinality(srvs);
		END IF;
		cmds[i] := cmds[i] || CASE WHEN cmds[i] = '' THEN '' ELSE ' UNION ALL ' END
			|| format('SELECT %s::pg_catalog.int8 AS v, pg_catalog.count(*) AS n FROM %s WHERE %s = ANY (%L::pg_catalog.int8[]) GROUP BY 1',
					  p.col, p.remote, p.col, p.listed);
	END LOOP;
	IF cardinality(vals) = 0 THEN
		RETURN;
	END IF;
	FOR i IN 1 .. cardinality(cmds) LOOP
		cmds[i] := format('SELECT pg_catalog.string_agg(v::pg_catalog.text || '':'' || n::pg_catalog.text, '','') FROM (%s) s',
						  cmds[i]);
	END LOOP;
	answers := hnsw._shard_exec(srvs, cmds);
	FOR i IN 1 .. cardinality(srvs) LOOP
		FOREACH kv IN ARRAY coalesce(string_to_array(answers[i], ','), '{}') LOOP
			FOR j IN 1 .. cardinality(vals) LOOP
				IF vals[j] = split_part(kv, ':', 1)::bigint AND homes[j] = srvs[i] THEN
					cnts[j] := split_part(kv, ':', 2)::bigint;
				END IF;
			END LOOP;
		END LOOP;
	END LOOP;

	-- by default, the servers holding its partitions now
	SELECT array_agg(DISTINCT s) INTO servers FROM unnest(coalesce(servers, srvs)) s;
	loads := array_fill(0::bigint, ARRAY[cardinality(servers)]);
	FOR j IN 1 .. cardinality(vals) LOOP
		i := array_position(servers, homes[j]);
		IF i IS NOT NULL THEN
			loads[i] := loads[i] + cnts[j];
		END IF;
	END LOOP;

	-- first the values of servers left out, the largest first, each to
	-- the emptiest server
	FOR j IN SELECT o FROM generate_subscripts(vals, 1) o ORDER BY cnts[o] DESC, vals[o] LOOP
		CONTINUE WHEN array_position(servers, homes[j]) IS NOT NULL;
		SELECT o INTO l FROM generate_subscripts(loads, 1) o ORDER BY loads[o], servers[o] LIMIT 1;
		n := n + 1;
		move := n; value := vals[j]; source := homes[j]; target := servers[l]; row_count := cnts[j];
		RETURN NEXT;
		homes[j] := servers[l];
		loads[l] := loads[l] + cnts[j];
	END LOOP;

	-- then from the fullest to the emptiest while it evens them
	FOR i IN 1 .. cardinality(vals) LOOP
		SELECT o INTO h FROM generate_subscripts(loads, 1) o ORDER BY loads[o] DESC, servers[o] LIMIT 1;
		SELECT o INTO l FROM generate_subscripts(loads, 1) o ORDER BY loads[o], servers[o] LIMIT 1;
		-- the value of h whose move leaves the two nearest to equal
		SELECT o INTO best FROM generate_subscripts(vals, 1) o
		 WHERE homes[o] = servers[h] AND cnts[o] > 0 AND cnts[o] < loads[h] - loads[l]
		 ORDER BY abs(loads[h] - loads[l] - 2 * cnts[o]), vals[o] LIMIT 1;
		EXIT WHEN best IS NULL;
		n := n + 1;
		move := n; value := vals[best]; source := servers[h]; target := servers[l]; row_count := cnts[best];
		RETURN NEXT;
		homes[best] := servers[l];
		loads[h] := loads[h] - cnts[best];
		loads[l] := loads[l] + cnts[best];
		best := NULL;
	END LOOP;
END
$$;
-- Counts rows on the shards under the caller's user mappings: as
-- hnsw._shard_exec, not for PUBLIC.
REVOKE EXECUTE ON FUNCTION hnsw.rebalance_plan(regclass, name[]) FROM PUBLIC;

-- Run hnsw.rebalance_plan's moves with hnsw.move_partition, one after
-- the other; a NOTICE for each.  Returns the number of moves.
CREATE PROCEDURE hnsw.rebalance(rel regclass, servers name[] DEFAULT NULL,
								INOUT moves integer DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
	plan_values pg_catalog.int8[];
	plan_targets pg_catalog.name[];
	plan_sources pg_catalog.name[];
	n pg_catalog.int8;
	i pg_catalog.int4;
BEGIN
	PERFORM hnsw._prevent_transaction_block('hnsw.rebalance');
	SELECT pg_catalog.array_agg(p.value ORDER BY p.move), pg_catalog.array_agg(p.target ORDER BY p.move),
		   pg_catalog.array_agg(p.source ORDER BY p.move)
	  INTO plan_values, plan_targets, plan_sources
	  FROM hnsw.rebalance_plan(rel, servers) p;
	COMMIT;
	moves := 0;
	FOR i IN 1 .. COALESCE(pg_catalog.cardinality(plan_values), 0) LOOP
		n := NULL;
		CALL hnsw.move_partition(rel, plan_values[i], plan_targets[i], n);
		RAISE NOTICE 'moved value % of table % (% rows) from server "%" to server "%"',
			plan_values[i], rel, n, plan_sources[i], plan_targets[i];
		moves := i;
	END LOOP;
END
$$;
-- as hnsw.move_partition
REVOKE EXECUTE ON PROCEDURE hnsw.rebalance(regclass, name[], integer) FROM PUBLIC;
