# hnsw.create_distributed_table moves rows without losing or changing any:
# rows travel to the shards as COPY data (no statement carries them, so any
# size works, and every value arrives as it was, whatever the caller's
# DateStyle, IntervalStyle or extra_float_digits); rows written while it
# runs wait and then reach the shards instead of being dropped with the
# local partitions; a failure drops only the shard tables this call made;
# a shard that keeps fewer rows than it was sent fails the call.  The
# shards are two databases of the coordinator's own server.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('coord');
$node->init;
$node->append_conf('postgresql.conf', q{
log_statement = 'all'
log_line_prefix = '%d: '
});
$node->start;
$node->safe_psql('postgres', q{CREATE DATABASE shard1; CREATE DATABASE shard2;});
$node->safe_psql("shard$_", 'CREATE EXTENSION hnsw') for 1, 2;
$node->safe_psql('postgres', sprintf(q{
	CREATE EXTENSION hnsw;
	CREATE EXTENSION postgres_fdw;
	CREATE SERVER shard1 FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '%1$s', port '%2$d', dbname 'shard1');
	CREATE SERVER shard2 FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '%1$s', port '%2$d', dbname 'shard2');
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard1;
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard2;},
	$node->host, $node->port));

# A table of awkward values, 20,000 rows of about 200 bytes and one of
# 300 kB (larger than a COPY chunk): $1 names it.
my $make_docs = q{
	CREATE TABLE %1$s (id bigint, part int, t text, ts timestamptz, iv interval,
					   r real, d float8, b bytea, a int[], j jsonb, n numeric,
					   embedding vector(8)) PARTITION BY LIST (part);
	CREATE TABLE %1$s_local PARTITION OF %1$s DEFAULT;
	INSERT INTO %1$s
	SELECT g, g %% 4,
		   CASE g %% 5 WHEN 0 THEN NULL WHEN 1 THEN E'tab\there\nnewline\\\\backslash\r'
				WHEN 2 THEN '' WHEN 3 THEN E'\\\\N' ELSE 'plain ' || g END,
		   timestamptz '2024-02-29 13:14:15.123456+05' + g * interval '1 hour',
		   CASE WHEN g %% 7 = 0 THEN interval '-1 day +02:03:04.5'
				ELSE make_interval(months => -g, secs => g * 1.25) END,
		   CASE g %% 6 WHEN 0 THEN 'NaN' WHEN 1 THEN '-Infinity' WHEN 2 THEN 1e-45
				ELSE (g * 0.1)::real END,
		   CASE g %% 4 WHEN 0 THEN 0.1 + 0.2 WHEN 1 THEN 'Infinity' ELSE g / 3.0 END,
		   decode(lpad(to_hex(g), 8, '0') || '00ff5c09', 'hex'),
		   ARRAY[g, NULL, -g],
		   jsonb_build_object('g', g, 's', E'q"uote\t'),
		   CASE WHEN g %% 9 = 0 THEN 'NaN' ELSE g / 7.0 END,
		   ARRAY[g %% 10, g %% 7, g %% 3, g %% 11, 1, 2, 3, g %% 5]::vector
	  FROM generate_series(1, 20000) g;
	INSERT INTO %1$s VALUES (20001, 1, repeat('long ', 60000), NULL, NULL, NULL, NULL,
		NULL, NULL, NULL, NULL, '[1,1,1,1,1,1,1,1]');
	CREATE TABLE %1$s_saved AS SELECT * FROM %1$s;
};
$node->safe_psql('postgres', sprintf($make_docs, 'docs'));

# the caller's own output settings must not reach the shards' data
$node->safe_psql('postgres', q{
	SET datestyle = 'SQL, DMY';
	SET intervalstyle = 'sql_standard';
	SET extra_float_digits = 0;
	SELECT hnsw.create_distributed_table('docs', '{"shard1": [0, 1], "shard2": [2, 3]}');});
is($node->safe_psql('postgres', q{
	SELECT c.relname || ':' || c.relkind::text FROM pg_inherits i
	  JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'docs'::regclass ORDER BY 1}),
	"docs_shard1:f\ndocs_shard2:f", 'docs is distributed');
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM docs), (SELECT count(*) FROM docs_saved),
		   (SELECT count(*) FROM (SELECT * FROM docs EXCEPT ALL SELECT * FROM docs_saved) x),
		   (SELECT count(*) FROM (SELECT * FROM docs_saved EXCEPT ALL SELECT * FROM docs) y)}),
	'20001|20001|0|0', 'every row arrived, every value as it was');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s:%s:%s', shard, row_count, hnsw_index), ' ')
	  FROM hnsw.shard_status('docs')}),
	'shard1:10001:t shard2:10000:t', 'each shard holds its rows, indexed');
is($node->safe_psql('postgres', q{
	SELECT string_agg((embedding <-> '[3,3,3,3,1,2,3,3]')::text, ',')
	  FROM hnsw.search(NULL::docs, '[3,3,3,3,1,2,3,3]', 30, exact => true)}),
	$node->safe_psql('postgres', q{
	SELECT string_agg(d::text, ',') FROM (SELECT embedding <-> '[3,3,3,3,1,2,3,3]' AS d
	  FROM docs_saved ORDER BY 1 LIMIT 30) s}),
	'and can be searched');

# no statement carried the rows: each shard got them as COPY data
my $log = slurp_file($node->logfile);
my $longest = 0;
foreach my $line (split /\n/, $log)
{
	next unless $line =~ /^shard\d: LOG:  statement: /;
	$longest = length($line) if length($line) > $longest;
}
ok($longest < 2000, "no statement to a shard carries rows (longest: $longest bytes)");
like($log, qr/^shard1: LOG:  statement: BEGIN; SET LOCAL datestyle = ISO; .*COPY public\.docs \(id, part, .*\) FROM STDIN; COMMIT$/m,
	'the rows went as COPY data');

# Rows written while the table is distributed wait for it, then go to the
# shards.  The index build on shard1 takes three seconds more (an event
# trigger), which leaves time to write.
$node->safe_psql('postgres', q{
	CREATE TABLE late (id bigint, part int, embedding vector(3)) PARTITION BY LIST (part);
	CREATE TABLE late_local PARTITION OF late DEFAULT;
	INSERT INTO late SELECT g, g % 2, ARRAY[g, 1, 1]::vector FROM generate_series(1, 100) g;});
$node->safe_psql('shard1', q{
	CREATE FUNCTION slow() RETURNS event_trigger LANGUAGE plpgsql AS
		$$ BEGIN PERFORM pg_sleep(3); END $$;
	CREATE EVENT TRIGGER slow_index ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
		EXECUTE FUNCTION slow();});
my $distributor = $node->background_psql('postgres', on_error_stop => 0);
$distributor->query_until(qr/started/, q{
	\echo started
	SELECT hnsw.create_distributed_table('late', '{"shard1": [0], "shard2": [1]}');
});
$node->poll_query_until('shard1',
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event = 'PgSleep'})
  or die 'the index build did not start';
my $writer = $node->background_psql('postgres', on_error_stop => 0);
$writer->query_until(qr/started/, q{
	\echo started
	INSERT INTO late VALUES (1000, 0, '[1000,1,1]');
});
# (polled for 20 seconds at most: the distribution takes 3)
my $waited = 0;
foreach (1 .. 200)
{
	$waited = $node->safe_psql('postgres', q{
		SELECT count(*) FROM pg_stat_activity
		 WHERE query LIKE '%INSERT INTO late %' AND wait_event_type = 'Lock'});
	last if $waited;
	usleep(100_000);
}
is($waited, '1', 'a row written meanwhile waits for the distribution');
$distributor->query('SELECT 1');
$writer->query('SELECT 1');
$distributor->quit;
$writer->quit;
$node->safe_psql('shard1', 'DROP EVENT TRIGGER slow_index');
is($node->safe_psql('postgres', q{
	SELECT count(*), count(*) FILTER (WHERE id = 1000) FROM late}),
	'101|1', 'and then reaches its shard instead of being lost');
is($node->safe_psql('shard1', q{SELECT count(*), count(*) FILTER (WHERE id = 1000) FROM late}),
	'51|1', 'on shard1, with the rows of its partition');

# A failure drops the shard tables this call made, and only those: on
# shard1 someone renames ours and takes its name while its index is
# built (an event trigger); then the coordinator fails (a table is in the
# way of the second foreign partition).
$node->safe_psql('postgres', q{
	CREATE TABLE moved (id bigint, part int, embedding vector(3)) PARTITION BY LIST (part);
	CREATE TABLE moved_local PARTITION OF moved DEFAULT;
	INSERT INTO moved SELECT g, g % 2, ARRAY[g, 2, 2]::vector FROM generate_series(1, 50) g;
	CREATE TABLE moved_shard2 (x int);});
$node->safe_psql('shard1', q{
	CREATE FUNCTION usurp() RETURNS event_trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF to_regclass('public.moved') IS NOT NULL AND to_regclass('public.moved_ours') IS NULL THEN
			ALTER TABLE public.moved RENAME TO moved_ours;
			CREATE TABLE public.moved (theirs text);
			INSERT INTO public.moved VALUES ('not yours');
		END IF;
	END $$;
	CREATE EVENT TRIGGER usurp ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
		EXECUTE FUNCTION usurp();});
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT hnsw.create_distributed_table('moved', '{"shard1": [0], "shard2": [1]}')});
like($err, qr/ERROR:  relation "moved_shard2" already exists/, 'the distribution fails on the coordinator');
$node->safe_psql('shard1', 'DROP EVENT TRIGGER usurp');
is($node->safe_psql('shard1', q{
	SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('public.moved')
											  AND attname = 'theirs'),
		   to_regclass('public.moved_ours') IS NULL}),
	't|t', 'the table that took the name is kept; the one this call made is dropped');
is($node->safe_psql('shard2', q{SELECT to_regclass('public.moved') IS NULL}), 't',
	'the one made on shard2 is dropped');
is($node->safe_psql('postgres', q{SELECT count(*) FROM moved_local}), '50',
	'the rows stay in the local partition');

# A shard that keeps fewer rows than it was sent (a trigger on its table
# skips some) fails the call before the local rows are dropped.
$node->safe_psql('shard2', q{
	CREATE FUNCTION skip_all() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		RETURN NULL;
	END $$;
	CREATE FUNCTION add_skip() RETURNS event_trigger LANGUAGE plpgsql AS $$
	DECLARE r record;
	BEGIN
		FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE object_type = 'table' LOOP
			EXECUTE format('CREATE TRIGGER skip BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION public.skip_all()',
						   r.objid::regclass);
		END LOOP;
	END $$;
	CREATE EVENT TRIGGER add_skip ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
		EXECUTE FUNCTION add_skip();});
$node->safe_psql('shard1', 'DROP TABLE IF EXISTS public.moved');
$node->safe_psql('postgres', 'DROP TABLE moved_shard2');
($ret, $out, $err) = $node->psql('postgres',
	q{SELECT hnsw.create_distributed_table('moved', '{"shard1": [0], "shard2": [1]}')});
like($err, qr/ERROR:  server "shard2" stored 0 of the 25 rows sent to it/,
	'a shard that skipped rows fails the distribution');
$node->safe_psql('shard2', 'DROP EVENT TRIGGER add_skip');
is($node->safe_psql('postgres', q{SELECT count(*) FROM moved_local}), '50',
	'the rows stay in the local partition');
is($node->safe_psql('shard1', q{SELECT to_regclass('public.moved_ours') IS NULL})
	. $node->safe_psql('shard2', q{SELECT to_regclass('public.moved') IS NULL}),
	'tt', 'and no table is left on the shards');

# statement_timeout (as a cancel) stops the copy while a shard is slow to
# take its rows, and the shard tables made are dropped all the same
$node->safe_psql('shard2', q{
	CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_sleep(0.5);
		RETURN NEW;
	END $$;
	CREATE FUNCTION add_slow() RETURNS event_trigger LANGUAGE plpgsql AS $$
	DECLARE r record;
	BEGIN
		FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE object_type = 'table' LOOP
			EXECUTE format('CREATE TRIGGER slow BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION public.slow_row()',
						   r.objid::regclass);
		END LOOP;
	END $$;
	CREATE EVENT TRIGGER add_slow ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
		EXECUTE FUNCTION add_slow();});
my $start = time();
($ret, $out, $err) = $node->psql('postgres', q{
	SET statement_timeout = '2s';
	SELECT hnsw.create_distributed_table('moved', '{"shard1": [0], "shard2": [1]}')});
my $took = time() - $start;
like($err, qr/ERROR:  canceling statement due to statement timeout/,
	'statement_timeout stops the copy');
ok($took < 10, "at once (the shard needed 12 seconds; took $took)");
$node->safe_psql('shard2', 'DROP EVENT TRIGGER add_slow');
is($node->safe_psql('postgres', q{SELECT count(*) FROM moved_local}), '50',
	'the rows stay in the local partition');
is($node->safe_psql('shard1', q{SELECT to_regclass('public.moved') IS NULL})
	. $node->safe_psql('shard2', q{SELECT to_regclass('public.moved') IS NULL}),
	'tt', 'and the shard tables made are dropped');
is($node->safe_psql('shard2', q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%COPY public.moved%'
	AND pid <> pg_backend_pid()}), '0', 'no COPY is left running on the shard');

done_testing();
