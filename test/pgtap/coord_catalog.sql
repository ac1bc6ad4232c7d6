-- The coordinator's SQL surface, its privileges, and its configuration
-- table's place in pg_dump; distributed behaviour is tested in test/t.
BEGIN;
SELECT plan(27);

SELECT has_function('hnsw', 'search',
	ARRAY['anyelement', 'vector', 'integer', 'integer[]', 'integer', 'boolean', 'text', 'name', 'text']);
SELECT has_function('hnsw', 'search_batch',
	ARRAY['anyelement', 'vector[]', 'integer', 'integer[]', 'integer', 'boolean', 'text', 'name', 'text']);
SELECT has_function('hnsw', 'search_sparse',
	ARRAY['anyelement', 'sparsevec', 'integer', 'integer[]', 'integer', 'boolean', 'text', 'name', 'text']);
SELECT has_function('hnsw', 'search_sparse_batch',
	ARRAY['anyelement', 'sparsevec[]', 'integer', 'integer[]', 'integer', 'boolean', 'text', 'name', 'text']);
SELECT has_function('hnsw', 'shard_status', ARRAY['regclass']);
SELECT has_function('hnsw', 'add_replica', ARRAY['name', 'name']);
SELECT has_function('hnsw', 'drop_replica', ARRAY['name', 'name']);
SELECT has_function('hnsw', 'create_distributed_table',
	ARRAY['regclass', 'jsonb', 'jsonb', 'text', 'name']);
SELECT has_table('hnsw', 'replicas', 'hnsw.replicas exists');
SELECT col_is_pk('hnsw', 'replicas', ARRAY['shard_server', 'replica_server'],
	'a replica is declared once per shard');

-- pg_dump keeps the replicas: the table is an extension configuration table
SELECT ok((SELECT 'hnsw.replicas'::regclass = ANY (extconfig)
			 FROM pg_extension WHERE extname = 'hnsw'),
	'hnsw.replicas is dumped with the database');

-- remote SQL under the caller's mappings is not for everyone
SELECT function_privs_are('hnsw', '_shard_exec', ARRAY['name[]', 'text[]'],
	'public', ARRAY[]::text[], 'PUBLIC may not run commands on shards');
SELECT function_privs_are('hnsw', 'create_distributed_table',
	ARRAY['regclass', 'jsonb', 'jsonb', 'text', 'name'],
	'public', ARRAY[]::text[], 'PUBLIC may not distribute tables');
SELECT function_privs_are('hnsw', 'search',
	ARRAY['anyelement', 'vector', 'integer', 'integer[]', 'integer', 'boolean', 'text', 'name', 'text'],
	'public', ARRAY['EXECUTE'], 'PUBLIC may search');
SELECT function_privs_are('hnsw', 'search_sparse',
	ARRAY['anyelement', 'sparsevec', 'integer', 'integer[]', 'integer', 'boolean', 'text', 'name', 'text'],
	'public', ARRAY['EXECUTE'], 'PUBLIC may search by sparse vectors');
SELECT table_privs_are('hnsw', 'replicas', 'public', ARRAY['SELECT'],
	'PUBLIC reads hnsw.replicas and changes nothing');
SELECT function_privs_are('hnsw', '_shard_copy', ARRAY['regclass', 'bigint[]', 'name[]'],
	'public', ARRAY[]::text[], 'PUBLIC may not copy rows to shards');
SELECT function_privs_are('hnsw', 'add_replica', ARRAY['name', 'name'],
	'public', ARRAY[]::text[], 'PUBLIC may not route searches to a replica');
SELECT function_privs_are('hnsw', 'drop_replica', ARRAY['name', 'name'],
	'public', ARRAY[]::text[], 'nor stop routing them to one');
SELECT function_privs_are('hnsw', 'shard_status', ARRAY['regclass'],
	'public', ARRAY['EXECUTE'], 'PUBLIC may ask the shards'' status');
SELECT function_privs_are('hnsw', 'exact_knn',
	ARRAY['regclass', 'vector[]', 'integer', 'name', 'text', 'name'],
	'public', ARRAY['EXECUTE'], 'PUBLIC may run exact searches');
SELECT function_privs_are('hnsw', 'exact_knn',
	ARRAY['regclass', 'halfvec[]', 'integer', 'name', 'text', 'name'],
	'public', ARRAY['EXECUTE'], 'of halfvec queries');
SELECT function_privs_are('hnsw', 'exact_knn',
	ARRAY['regclass', 'sparsevec[]', 'integer', 'name', 'text', 'name'],
	'public', ARRAY['EXECUTE'], 'and of sparsevec queries');

-- the settings, with their defaults (defined when the library loads)
LOAD 'hnsw';
SELECT is(current_setting('hnsw.shard_timeout'), '10s', 'hnsw.shard_timeout defaults to 10s');
SELECT is(current_setting('hnsw.allow_partial_results'), 'off',
	'partial results are opt-in');
SELECT is(current_setting('hnsw.shard_retry_interval'), '30s',
	'a failed copy is avoided for 30s');
SELECT is(current_setting('hnsw.hedge_delay'), '-1',
	'hedging is on, with a delay derived from observed latencies');

SELECT * FROM finish();
ROLLBACK;
