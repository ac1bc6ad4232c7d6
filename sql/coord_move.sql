-- moving partitions: errors found before any shard is contacted
-- (test/t/045 and 046 move rows between real shards)

CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SERVER mv_nowhere FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '1', dbname 'postgres');
CREATE SERVER mv_nowhere2 FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '1', dbname 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER mv_nowhere;
CREATE USER MAPPING FOR CURRENT_USER SERVER mv_nowhere2;
CREATE FOREIGN DATA WRAPPER mv_other;
CREATE SERVER mv_elsewhere FOREIGN DATA WRAPPER mv_other;

CREATE TABLE mv (id bigint, part int, embedding vector(3)) PARTITION BY LIST (part);
CREATE FOREIGN TABLE mv_0 PARTITION OF mv FOR VALUES IN (0, 1, NULL)
	SERVER mv_nowhere OPTIONS (table_name 'mv');
CREATE FOREIGN TABLE mv_2 PARTITION OF mv FOR VALUES IN (2)
	SERVER mv_nowhere2 OPTIONS (table_name 'mv');
CREATE TABLE mv_3 PARTITION OF mv FOR VALUES IN (3);
CREATE TABLE mv_rest PARTITION OF mv DEFAULT;

-- the values a partition lists (NULL for a default partition, or what is
-- not a LIST partition of an integer column)
SELECT hnsw._partition_values('mv_0'), hnsw._partition_values('mv_2'),
	   hnsw._partition_values('mv_rest'), hnsw._partition_values('mv');

-- it commits as it goes: not in a transaction block
BEGIN;
CALL hnsw.move_partition('mv', 0, 'mv_nowhere2');
ROLLBACK;
BEGIN;
CALL hnsw.rebalance('mv');
ROLLBACK;

-- what to move, and where
CALL hnsw.move_partition(NULL, 0, 'mv_nowhere2');
CALL hnsw.move_partition('mv', NULL, 'mv_nowhere2');
CALL hnsw.move_partition('mv', 0, NULL);
CREATE TABLE mv_plain (id bigint, part int);
CALL hnsw.move_partition('mv_plain', 0, 'mv_nowhere2');
CREATE TABLE mv_ranged (id bigint, part int) PARTITION BY RANGE (part);
CALL hnsw.move_partition('mv_ranged', 0, 'mv_nowhere2');
CREATE TABLE mv_text (id bigint, part text) PARTITION BY LIST (part);
CALL hnsw.move_partition('mv_text', 0, 'mv_nowhere2');
CALL hnsw.move_partition('mv', 0, 'nosuch');
CALL hnsw.move_partition('mv', 0, 'mv_elsewhere');
CALL hnsw.move_partition('mv', 7, 'mv_nowhere2');	-- the default partition's
CALL hnsw.move_partition('mv', 3, 'mv_nowhere2');	-- a local partition's
CALL hnsw.move_partition('mv', 0, 'mv_nowhere');	-- there already
CREATE TABLE mv_p1 (x int);
CALL hnsw.move_partition('mv', 1, 'mv_nowhere2');	-- the new partition's name is taken
DROP TABLE mv_p1;
CREATE TABLE mv_a_name_of_sixty_characters_for_a_table_that_moves_rows_x
	(id bigint, part int) PARTITION BY LIST (part);
CREATE FOREIGN TABLE mv_long_0 PARTITION OF mv_a_name_of_sixty_characters_for_a_table_that_moves_rows_x
	FOR VALUES IN (1000) SERVER mv_nowhere;
CALL hnsw.move_partition('mv_a_name_of_sixty_characters_for_a_table_that_moves_rows_x', 1000, 'mv_nowhere2');
-- the first check on the source is the first contact: a shard that does
-- not answer fails the call before anything changed
CALL hnsw.move_partition('mv', 1, 'mv_nowhere2');
SELECT count(*) FROM hnsw.moves;

-- recovering: nothing to do; a move whose backend still runs (here, a
-- process of this server standing in for one) is not touched
SELECT hnsw.recover_move('mv');
INSERT INTO hnsw.moves (relid, value, source_server, target_server, source_schema,
						source_table, part_column, target_schema, target_table,
						partition_name, step, pid, backend_start)
SELECT 'mv'::regclass, 1, 'mv_nowhere', 'mv_nowhere2', 'public', 'mv', 'part',
	   'public', 'mv_p1', 'mv_p1', 'copy', a.pid, a.backend_start
  FROM pg_stat_activity a WHERE a.backend_type = 'checkpointer';
DO $$
BEGIN
	PERFORM hnsw.recover_move('mv');
EXCEPTION WHEN object_in_use THEN
	RAISE NOTICE 'object_in_use: %', regexp_replace(SQLERRM, '[0-9]+$', 'N');
END $$;
DELETE FROM hnsw.moves;

-- a malformed snapshot, caught before connecting
SELECT hnsw._move_apply('mv_nowhere', 's', 'p', '12:x', 'public', 'mv', 'mv_nowhere2',
						'public', 'mv_p1', NULL);
SELECT hnsw._move_apply('mv_nowhere', 's', 'p', NULL, 'public', 'mv', 'mv_nowhere2',
						'public', 'mv_p1', NULL);

-- planning a rebalance
SELECT * FROM hnsw.rebalance_plan('mv_plain');
SELECT * FROM hnsw.rebalance_plan('mv_text');
SELECT * FROM hnsw.rebalance_plan('mv', '{}');
SELECT * FROM hnsw.rebalance_plan('mv', '{mv_nowhere, NULL}');
SELECT * FROM hnsw.rebalance_plan('mv', '{nosuch}');
SELECT * FROM hnsw.rebalance_plan('mv', '{mv_elsewhere}');
-- counting the rows is the first contact
SELECT * FROM hnsw.rebalance_plan('mv', '{mv_nowhere}');

-- who may: the owner of the table, granted these by a superuser
CREATE ROLE mv_user;
CREATE ROLE mv_owner;
ALTER TABLE mv OWNER TO mv_owner;
SET ROLE mv_user;
CALL hnsw.move_partition('mv', 0, 'mv_nowhere2');
CALL hnsw.rebalance('mv');
SELECT * FROM hnsw.rebalance_plan('mv');
SELECT hnsw.recover_move('mv');
SELECT hnsw._move_hold('mv', true);
SELECT hnsw._move_copy('mv_nowhere', 'public', 'mv', 'part', 0, 'mv_nowhere2', 'public', 'mv_p0');
SELECT count(*) FROM hnsw.moves;		-- everyone may see the moves
RESET ROLE;
GRANT EXECUTE ON FUNCTION hnsw.recover_move(regclass), hnsw._move_recover(regclass),
	hnsw._move_hold(regclass, boolean) TO mv_user;
SET ROLE mv_user;
SELECT hnsw.recover_move('mv');
SELECT hnsw._move_hold('mv', true);
SELECT hnsw.recover_move(4000000000::oid::regclass);	-- a table dropped since
RESET ROLE;
SELECT hnsw.recover_move(4000000000::oid::regclass);
REVOKE EXECUTE ON FUNCTION hnsw.recover_move(regclass), hnsw._move_recover(regclass),
	hnsw._move_hold(regclass, boolean) FROM mv_user;
ALTER TABLE mv OWNER TO CURRENT_USER;
DROP ROLE mv_user, mv_owner;

DROP TABLE mv, mv_plain, mv_ranged, mv_text,
	mv_a_name_of_sixty_characters_for_a_table_that_moves_rows_x;
DROP SERVER mv_nowhere, mv_nowhere2, mv_elsewhere CASCADE;
DROP FOREIGN DATA WRAPPER mv_other;
