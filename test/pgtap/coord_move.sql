-- Moving partitions: the SQL surface and who may use it; the moves
-- themselves are tested in test/t (045, 046).
BEGIN;
SELECT plan(14);

SELECT has_function('hnsw', 'move_partition', ARRAY['regclass', 'bigint', 'name', 'bigint']);
SELECT has_function('hnsw', 'recover_move', ARRAY['regclass']);
SELECT has_function('hnsw', 'rebalance_plan', ARRAY['regclass', 'name[]']);
SELECT has_function('hnsw', 'rebalance', ARRAY['regclass', 'name[]', 'integer']);
SELECT is((SELECT string_agg(proname || ':' || prokind::text, ' ' ORDER BY proname)
			 FROM pg_proc WHERE pronamespace = 'hnsw'::regnamespace
			  AND proname IN ('move_partition', 'rebalance')),
	'move_partition:p rebalance:p',
	'moving and rebalancing are procedures: they commit as they go');
SELECT col_is_pk('hnsw', 'moves', ARRAY['relid'], 'one move per table at a time');

-- Moves are transient: not dumped
SELECT ok((SELECT NOT ('hnsw.moves'::regclass = ANY (coalesce(extconfig, '{}')))
			 FROM pg_extension WHERE extname = 'hnsw'),
	'hnsw.moves is not dumped with the database');
SELECT table_privs_are('hnsw', 'moves', 'public', ARRAY['SELECT'],
	'PUBLIC sees the moves and records none');

-- They run SQL on the shards, change partitions and lock tables: not for
-- PUBLIC
SELECT function_privs_are('hnsw', 'move_partition', ARRAY['regclass', 'bigint', 'name', 'bigint'],
	'public', ARRAY[]::text[], 'PUBLIC may not move partitions');
SELECT function_privs_are('hnsw', 'recover_move', ARRAY['regclass'],
	'public', ARRAY[]::text[], 'nor recover moves');
SELECT function_privs_are('hnsw', 'rebalance_plan', ARRAY['regclass', 'name[]'],
	'public', ARRAY[]::text[], 'nor count rows on the shards to plan a rebalance');
SELECT function_privs_are('hnsw', 'rebalance', ARRAY['regclass', 'name[]', 'integer'],
	'public', ARRAY[]::text[], 'nor rebalance');
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ' ' ORDER BY p.proname)
			 FROM pg_proc p
			WHERE p.pronamespace = 'hnsw'::regnamespace AND p.proname LIKE '\_move%'
			  AND has_function_privilege('public', p.oid, 'EXECUTE')),
	'hnsw._move_name(oid,bigint) hnsw._move_option(text[],text) hnsw._move_partition_of(regclass,bigint) hnsw._move_raise(text[])',
	'of the internal functions, PUBLIC runs only those that read the catalog or raise');
SELECT is((SELECT count(*)::int FROM pg_proc p
			WHERE p.pronamespace = 'hnsw'::regnamespace
			  AND p.proname IN ('_move_copy', '_move_apply', '_move_hold', '_move_run',
								'_move_step', '_move_begin', '_move_recover', '_move_tidy')
			  AND NOT has_function_privilege('public', p.oid, 'EXECUTE')),
	8, 'those that do remote work or lock are revoked');

SELECT * FROM finish();
ROLLBACK;
