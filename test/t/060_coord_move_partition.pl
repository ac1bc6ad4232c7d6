# hnsw.move_partition moves a 15,000-row partition value to a new shard
# while searches and writes go on: every search answers (k rows, none
# twice), every write lands, the rows through the coordinator are then
# exactly those written, the moved rows are on the new shard and its
# standby with their hnsw index, and nothing of the move is left on any
# shard.  Prints the figures: the move's duration, search latency before
# and during it, rows before and after.
#
# Also: hnsw.rebalance_plan and hnsw.rebalance spread a table's values
# over a shard added, and empty a shard left out; the errors that need a
# shard to find (a source without logical decoding, a role without
# REPLICATION, a table in the way on the target).
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use HnswMove;

# shard2 has wal_level = replica: a target, never a source
my ($coord, $shards) = start_nodes(shards => [qw(shard1 shard2 shard3)],
	replica_only => ['shard2']);
my ($s1, $s2, $s3) = @$shards{qw(shard1 shard2 shard3)};

# a streaming standby of shard3, declared as its replica
$s3->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('shard3_standby');
$standby->init_from_backup($s3, 'base', has_streaming => 1);
$standby->start;
HnswMove::declare_server($coord, $standby, 'shard3_standby');
$coord->safe_psql('postgres', "SELECT hnsw.add_replica('shard3', 'shard3_standby')");

make_items($coord, dim => 32, rows => { 0 => 15000, 1 => 3000, 2 => 2000, 3 => 1000 },
	layout => '{"shard1": [0, 1], "shard2": [2, 3]}');

# Searches in loops of their own, each timed on the coordinator and
# checked: k rows, none twice; errors recorded
$coord->safe_psql('postgres', q{
	CREATE TABLE search_log (ts timestamptz, ms float8, n int, dups int, err text);
	CREATE TABLE ctl (stop boolean);
	INSERT INTO ctl VALUES (false);
	CREATE PROCEDURE search_loop(parts int[]) LANGUAGE plpgsql AS $$
	DECLARE
		t0 timestamptz;
		q vector;
		r record;
	BEGIN
		LOOP
			EXIT WHEN (SELECT stop FROM ctl);
			q := (SELECT array_agg(random() * 100) FROM generate_series(1, 32))::vector;
			t0 := clock_timestamp();
			BEGIN
				SELECT count(*) AS n, count(*) - count(DISTINCT id) AS dups INTO r
				  FROM hnsw.search(NULL::items, q, 10, partitions => parts);
				INSERT INTO search_log
					VALUES (t0, 1000 * extract(epoch FROM clock_timestamp() - t0), r.n, r.dups, NULL);
			EXCEPTION WHEN OTHERS THEN
				INSERT INTO search_log VALUES (t0, NULL, NULL, NULL, SQLERRM);
			END;
			COMMIT;
			PERFORM pg_sleep(0.01);
		END LOOP;
	END $$;});

my @searchers;
foreach my $parts ('NULL', q{'{0}'})
{
	my $bg = $coord->background_psql('postgres');
	$bg->query_until(qr/started/, "\\echo started\nCALL search_loop($parts);\n");
	push @searchers, $bg;
}
my $writes = start_writes($coord, dim => 32, ids => 18000, parts => [0, 1], rate => 20);
sleep 3;

my $before = $coord->safe_psql('postgres', 'SELECT count(*) FROM items WHERE part = 0');
my $t0 = $coord->safe_psql('postgres', 'SELECT clock_timestamp()');
my $start = time;
my ($moved, $moverr) = ('', '');
my $mover = IPC::Run::start(
	[
		$coord->installed_command('psql'), '-X', '-At', '-d', $coord->connstr('postgres'),
		'-c', "CALL hnsw.move_partition('items', 0, 'shard3')"
	],
	'>', \$moved, '2>', \$moverr);
# when each step began, as hnsw.moves shows the next one to run
my (%began, @steps);
while ($mover->pumpable)
{
	$mover->pump_nb;
	my $step = $coord->safe_psql('postgres', 'SELECT step FROM hnsw.moves');
	if ($step ne '' && !exists $began{$step})
	{
		$began{$step} = time;
		push @steps, $step;
	}
	usleep(20_000);
}
$mover->finish;
my $took = time - $start;
chomp $moved;
is($moverr, '', 'the move succeeded');
my $t1 = $coord->safe_psql('postgres', 'SELECT clock_timestamp()');
my @took;
foreach my $i (0 .. $#steps)
{
	my $end = $i < $#steps ? $began{ $steps[ $i + 1 ] } : $start + $took;
	push @took, sprintf('%s %.2f s', $steps[$i], $end - $began{ $steps[$i] });
}
sleep 2;

$coord->safe_psql('postgres', 'UPDATE ctl SET stop = true');
$_->quit foreach @searchers;
my $err = stop_writes($coord, $writes);
unlike($err, qr/aborted|ERROR/, 'every write during the move succeeded');
is($coord->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE err IS NOT NULL) || ' ' || count(*) FILTER (WHERE n <> 10 OR dups <> 0)
	  FROM search_log}),
	'0 0', 'every search answered, with 10 rows, none twice');
my ($during, $p50, $p99, $max) = split /\|/, $coord->safe_psql('postgres', qq{
	SELECT count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
		   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
		   round(max(ms)::numeric, 1)
	  FROM search_log WHERE ts BETWEEN '$t0' AND '$t1'});
my ($b50, $b99) = split /\|/, $coord->safe_psql('postgres', qq{
	SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
		   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1)
	  FROM search_log WHERE ts < '$t0'});
ok($during > 0, "searches ran during the move ($during)");

like(compare_rows($coord), qr/^0\|0\|0\|\d+$/,
	'the rows through the coordinator are exactly those written');
my $after = $coord->safe_psql('postgres', 'SELECT count(*) FROM items WHERE part = 0');
is($after, $coord->safe_psql('postgres', 'SELECT count(*) FROM expected WHERE part = 0'),
	'every row of value 0 is there, once');
diag(sprintf('move of value 0 (%d rows before, %d moved at the switch, %d after; '
	  . 'two search loops and 20 writes/s): %.2f s; search latency before it '
	  . 'p50 %s ms, p99 %s ms; during it p50 %s ms, p99 %s ms, max %s ms (%d searches)',
	$before, $moved, $after, $took, $b50, $b99, $p50, $p99, $max, $during));
diag('steps: ' . join(', ', @took));

# where everything is now
is($coord->safe_psql('postgres', q{
	SELECT string_agg(c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid) || ' ' || fs.srvname
					  || ' ' || array_to_string(ft.ftoptions, ','), E'\n' ORDER BY c.relname)
	  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	  JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
	  JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
	 WHERE i.inhparent = 'items'::regclass}),
	"items_p0 FOR VALUES IN (0) shard3 schema_name=public,table_name=items_p0\n"
	  . "items_shard1 FOR VALUES IN (1) shard1 schema_name=public,table_name=items\n"
	  . "items_shard2 FOR VALUES IN (2, 3) shard2 schema_name=public,table_name=items",
	'value 0 has a foreign partition of its own on shard3; shard1 keeps value 1');
is($s1->safe_psql('postgres', 'SELECT count(*) FROM items WHERE part = 0'), '0',
	'shard1 has no row of value 0 left');
# statistics and dead rows: the move analyzed the new table, and vacuumed
# and analyzed the source (not autovacuum: last_vacuum and last_analyze
# are set by VACUUM and ANALYZE commands only); the writes meanwhile
# delete rows too, so the new table may hold a few fewer than 15,000 when
# it is analyzed
is($s3->safe_psql('postgres', q{
	SELECT s.last_analyze IS NOT NULL AND c.reltuples >= 14500
	  FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
	 WHERE s.relid = 'items_p0'::regclass}),
	't', 'the move analyzed the new table on shard3');
is($s1->safe_psql('postgres', q{
	SELECT s.last_vacuum IS NOT NULL AND s.last_analyze IS NOT NULL AND c.reltuples < 15000
	  FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
	 WHERE s.relid = 'items'::regclass}),
	't', 'the move vacuumed and analyzed the source table on shard1');
# a new session's first command to a shard comes after its settings, and
# is still alone between Syncs: VACUUM runs
is($coord->safe_psql('postgres', q{
	SELECT (hnsw._shard_exec('{shard2}', '{"VACUUM public.items"}'))[1] IS NULL}),
	't', 'VACUUM through hnsw._shard_exec on a new connection');
is($s2->safe_psql('postgres', q{
	SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relid = 'items'::regclass}),
	't', 'and it vacuumed');
is($s3->safe_psql('postgres', q{
	SELECT string_agg(a.amname, ',') FROM pg_index i
	  JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
	 WHERE i.indrelid = 'items_p0'::regclass}),
	'hnsw', 'the moved rows have their hnsw index');
$standby->poll_query_until('postgres',
	"SELECT count(*) = $after FROM items_p0")
  or die 'the standby did not get the moved rows';
pass('the standby of shard3 has the moved rows');
is($coord->safe_psql('postgres', q{
	SELECT string_agg(id::text, ',') FROM hnsw.search(NULL::items, (SELECT embedding FROM expected WHERE id = 77),
		20, partitions => '{0}', exact => true)}),
	$coord->safe_psql('postgres', q{
	SELECT string_agg(id::text, ',') FROM (SELECT id FROM expected
		 WHERE part = 0 ORDER BY embedding <-> (SELECT embedding FROM expected WHERE id = 77), id LIMIT 20) s}),
	'exact searches of value 0 find what the mirror holds');
check_clean($coord, $shards, 'after the move');
is(shard_activity($standby), '', 'pg_stat_activity of the standby is clean');

# A source without logical decoding: nothing starts
my ($ret, $out, $stderr) = $coord->psql('postgres', "CALL hnsw.move_partition('items', 2, 'shard3')");
like($stderr, qr/ERROR:  server "shard2" has wal_level = replica, but moving a partition from it needs logical decoding\nHINT:  Set wal_level = logical on it and restart it./,
	'a source needs wal_level = logical');

# A role without REPLICATION on the source
$s1->safe_psql('postgres', q{
	CREATE ROLE mover LOGIN;
	GRANT CREATE ON SCHEMA public TO mover;});
$coord->safe_psql('postgres', sprintf(q{
	CREATE SERVER shard1_mover FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '%s', port '%d', dbname 'postgres');
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard1_mover OPTIONS (user 'mover');
	CREATE TABLE tiny (id bigint, part int, embedding vector(2)) PARTITION BY LIST (part);
	CREATE TABLE tiny_local PARTITION OF tiny DEFAULT;
	INSERT INTO tiny VALUES (1, 0, '[1,1]');
	SELECT hnsw.create_distributed_table('tiny', '{"shard1_mover": [0]}');},
	$s1->host, $s1->port));
($ret, $out, $stderr) = $coord->psql('postgres', "CALL hnsw.move_partition('tiny', 0, 'shard3')");
like($stderr, qr/ERROR:  role "mover" on server "shard1_mover" may not use replication slots\nHINT:  Give it the REPLICATION attribute, or map to a role that has it./,
	'a source role needs REPLICATION');

# A standby as the target
($ret, $out, $stderr) = $coord->psql('postgres', "CALL hnsw.move_partition('items', 1, 'shard3_standby')");
like($stderr, qr/ERROR:  server "shard3_standby" is a standby\nHINT:  Move values to primaries; their standbys follow them./,
	'a standby cannot be the target');

# A table in the way on the target
$s3->safe_psql('postgres', 'CREATE TABLE items_p1 (x int)');
($ret, $out, $stderr) = $coord->psql('postgres', "CALL hnsw.move_partition('items', 1, 'shard3')");
like($stderr, qr/ERROR:  table public.items_p1 already exists on server "shard3"/,
	'a table of the new name on the target is an error');
$s3->safe_psql('postgres', 'DROP TABLE items_p1');
check_clean($coord, $shards, 'after the errors');

# Adding a shard: the values of docs, all on shard1, spread over three
# servers, as evenly as whole values allow; then shard3 emptied again.
$coord->safe_psql('postgres', q{
	CREATE TABLE docs (id bigint, part int, embedding vector(4)) PARTITION BY LIST (part);
	CREATE TABLE docs_local PARTITION OF docs DEFAULT;
	INSERT INTO docs SELECT g, p, ARRAY[g, p, 1, 1]::vector
	  FROM generate_series(0, 5) p, generate_series(1, 100 * (6 - p)) g;
	CREATE TABLE docs_saved AS SELECT * FROM docs;
	SELECT hnsw.create_distributed_table('docs', '{"shard1": [0, 1, 2, 3, 4, 5]}');});
is($coord->safe_psql('postgres', q{SELECT * FROM hnsw.rebalance_plan('docs', '{shard1,shard2,shard3}')}),
	"1|0|shard1|shard2|600\n2|1|shard1|shard3|500\n3|3|shard1|shard3|300",
	'the plan moves the values that even the servers best');
($ret, $out, $stderr) = $coord->psql('postgres', q{CALL hnsw.rebalance('docs', '{shard1,shard2,shard3}')});
is($out, '3', 'three moves');
like($stderr, qr/NOTICE:  moved value 0 of table docs \(600 rows\) from server "shard1" to server "shard2"\n.*NOTICE:  moved value 1 of table docs \(500 rows\) from server "shard1" to server "shard3"\n.*NOTICE:  moved value 3 of table docs \(300 rows\) from server "shard1" to server "shard3"/s,
	'each reported');
is($coord->safe_psql('postgres', q{
	SELECT string_agg(server || ':' || row_count, ' ' ORDER BY server) FROM hnsw.shard_status('docs')
	 WHERE role = 'primary'}),
	'shard1:700 shard2:600 shard3:800', 'the rows are spread');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM hnsw.rebalance_plan('docs', '{shard1,shard2,shard3}')}),
	'0', 'and balanced: nothing more to move');

# shard3 holds values 1 and 3 in a table each: a search of value 1 scans
# docs_p1 there and not docs_p3; one of every value scans both.  (Scans
# counted on shard3 and its standby together: searches go to either.)
my $scans = sub {
	my ($t) = @_;
	my $n = 0;
	foreach my $node ($s3, $standby)
	{
		$n += $node->safe_psql('postgres', qq{
			SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables
			 WHERE relid = '$t'::regclass});
	}
	return $n;
};
my $wait_scans = sub {
	my ($t, $above) = @_;
	foreach (1 .. 300)
	{
		return 1 if $scans->($t) > $above;
		usleep(100_000);
	}
	return 0;
};
# (a session's counts reach pg_stat_user_tables within a second of its
# going idle: let those of the moves' and the plan's queries arrive)
sleep 2;
my ($p1, $p3) = ($scans->('docs_p1'), $scans->('docs_p3'));
is($coord->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT part::text, ',') FROM hnsw.search(NULL::docs, '[1,1,1,1]'::vector, 20, partitions => '{1}')}),
	'1', 'a search of value 1 finds rows of value 1');
ok($wait_scans->('docs_p1', $p1), 'it scanned docs_p1 on shard3');
is($scans->('docs_p3'), $p3, 'and not docs_p3, on the same server');
$coord->safe_psql('postgres', q{SELECT count(*) FROM hnsw.search(NULL::docs, '[1,1,1,1]'::vector, 20)});
ok($wait_scans->('docs_p3', $p3), 'a search of every value scans docs_p3 too');
($ret, $out, $stderr) = $coord->psql('postgres', q{CALL hnsw.rebalance('docs', '{shard1,shard2}')});
is($out, '2', 'emptying shard3: two moves');
is($coord->safe_psql('postgres', q{
	SELECT string_agg(server || ':' || row_count, ' ' ORDER BY server) FROM hnsw.shard_status('docs')
	 WHERE role = 'primary'}),
	'shard1:1000 shard2:1100', 'shard3 holds no rows of docs');
is($s3->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname LIKE 'docs%'}), '0',
	'nor tables');
is($coord->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT * FROM docs EXCEPT ALL SELECT * FROM docs_saved) a}) . ' '
	  . $coord->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT * FROM docs_saved EXCEPT ALL SELECT * FROM docs) b}),
	'0 0', 'and every row of docs is there, once');
check_clean($coord, $shards, 'after rebalancing');

# A table's owner who is not a superuser moves its partitions once
# granted the procedure, the internal routines it calls and the writes to
# hnsw.moves, as README.md says; its user mappings use passwords, and the
# source's role has REPLICATION and owns the shard table.
foreach my $node ($s1, $s3, $standby)
{
	my $hba = $node->data_dir . '/pg_hba.conf';
	my $conf = slurp_file($hba);
	open(my $fh, '>', $hba) or die $!;
	print $fh "local all owner scram-sha-256\n$conf";
	close $fh;
	$node->reload;
	next if $node == $standby;	# it has shard3's roles
	$node->safe_psql('postgres', q{
		CREATE ROLE owner LOGIN REPLICATION PASSWORD 'secret';
		GRANT CREATE ON SCHEMA public TO owner;});
}
$coord->safe_psql('postgres', q{
	CREATE ROLE owner;
	GRANT CREATE ON SCHEMA public TO owner;
	GRANT USAGE ON FOREIGN SERVER shard1, shard3, shard3_standby TO owner;
	CREATE USER MAPPING FOR owner SERVER shard1 OPTIONS (user 'owner', password 'secret');
	CREATE USER MAPPING FOR owner SERVER shard3 OPTIONS (user 'owner', password 'secret');
	CREATE USER MAPPING FOR owner SERVER shard3_standby OPTIONS (user 'owner', password 'secret');
	GRANT EXECUTE ON FUNCTION hnsw.create_distributed_table(regclass, jsonb, jsonb, text, name),
		hnsw._shard_exec(name[], text[]), hnsw._shard_copy(regclass, bigint[], name[]),
		hnsw.recover_move(regclass) TO owner;
	GRANT EXECUTE ON PROCEDURE hnsw.move_partition(regclass, bigint, name, bigint) TO owner;
	DO $$
	DECLARE
		f regprocedure;
	BEGIN
		FOR f IN SELECT oid FROM pg_proc WHERE pronamespace = 'hnsw'::regnamespace
					AND proname LIKE '\_move%' LOOP
			EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO owner', f);
		END LOOP;
	END $$;
	GRANT INSERT, UPDATE, DELETE ON hnsw.moves TO owner;
	SET ROLE owner;
	CREATE TABLE owned (id bigint, part int, embedding vector(2)) PARTITION BY LIST (part);
	CREATE TABLE owned_local PARTITION OF owned DEFAULT;
	INSERT INTO owned SELECT g, g % 2, ARRAY[g, 1]::vector FROM generate_series(1, 100) g;
	SELECT hnsw.create_distributed_table('owned', '{"shard1": [0, 1]}');});
# the source's role makes the publication: it needs CREATE on the database
($ret, $out, $stderr) = $coord->psql('postgres', q{
	SET ROLE owner;
	CALL hnsw.move_partition('owned', 1, 'shard3');});
like($stderr, qr/ERROR:  permission denied for database postgres\nDETAIL:  Remote SQL command on server "shard1": CREATE PUBLICATION hnsw_move_\d+_1 FOR TABLE public.owned WHERE \(part = 1\)\./,
	'a shard\'s error names the server and its command');
check_clean($coord, $shards, 'after the owner\'s failed move');
$s1->safe_psql('postgres', 'GRANT CREATE ON DATABASE postgres TO owner');
($ret, $out, $stderr) = $coord->psql('postgres', q{
	SET ROLE owner;
	CALL hnsw.move_partition('owned', 1, 'shard3');});
is($out, '50', 'the owner moves a value');
is($stderr, '', 'without complaint');
is($s3->safe_psql('postgres', q{SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'owned_p1'}),
	'owner', 'the table on the target is its role\'s');
is($coord->safe_psql('postgres', 'SELECT count(*) FROM owned WHERE part = 1'), '50', 'with its rows');
check_clean($coord, $shards, 'after the owner\'s move');

done_testing();
