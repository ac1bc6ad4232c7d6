# Crash loops: CRASH_CYCLES (default 100) times, start a workload on the
# primary (concurrent inserts, with CREATE INDEX or VACUUM beside them), let
# it run for a random time, then kill -9 the postmaster and every process of
# the cluster at once, as a power cut would, and restart.  After each restart:
# every row whose COMMIT the client saw acknowledged is in the table (0 lost
# rows), every row is found through the index, and verify_index is clean.
# A streaming standby follows the primary throughout (and is itself killed
# now and then); at the end its answers equal the primary's.
#
# Run by test/reliability/run (not part of test/run or CI).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(sleep time);
use HnswAmTest;

my $cycles = $ENV{CRASH_CYCLES} // 100;
my $dim = 16;
srand($ENV{CRASH_SEED} // 20261206);

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
fsync = on
synchronous_commit = on
restart_after_crash = off
max_parallel_maintenance_workers = 1
maintenance_work_mem = '64MB'
shared_buffers = '64MB'
});
$primary->start;
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', q{
	CREATE EXTENSION hnsw;
	CREATE TABLE t (id bigint PRIMARY KEY, v vector(16));
	-- rows the vacuum cycles delete on purpose: not lost
	CREATE TABLE deleted_ids (id bigint);
	-- insert n rows, one per transaction; after each COMMIT say so: the
	-- client sees the notice only once the commit is durable
	CREATE PROCEDURE insert_acked(first bigint, n int)
	LANGUAGE plpgsql AS $$
	BEGIN
		FOR i IN first .. first + n - 1 LOOP
			INSERT INTO t SELECT i, (SELECT array_agg(random() * 100)::real[]
				FROM generate_series(1, 16))::vector;
			COMMIT;
			RAISE NOTICE 'acked %', i;
		END LOOP;
	END $$;
});
load_random($primary, 'seed', $dim, 3000);
$primary->safe_psql('postgres', q{
	INSERT INTO t SELECT id, v FROM seed;
	DROP TABLE seed;
	CREATE INDEX t_idx ON t USING hnsw (v);
	CHECKPOINT;
});

my %acked;			# every id whose commit a client saw
my $next_id = 1_000_000;

# Start a psql running $sql; return [harness, \stderr].
sub start_session
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $primary->connstr('postgres'), '-c', $sql ],
		'>', \$out, '2>', \$err);
	return [ $h, \$err ];
}

# kill -9 the postmaster and every process of the cluster at once
sub power_cut
{
	my ($node) = @_;
	my $pid = $node->{_pid};
	my @children = split /\s+/, `pgrep -P $pid`;
	kill 'KILL', $pid, grep { /^\d+$/ } @children;
	# the test framework's own bookkeeping of a server it did not stop
	$node->{_pid} = undef;
	unlink $node->data_dir . '/postmaster.pid';
	return;
}

# Start a node after a power cut: a killed backend may take a moment to let
# go of the shared memory the new postmaster wants.
sub restart
{
	my ($node) = @_;
	for (1 .. 20)
	{
		return if $node->start(fail_ok => 1);
		sleep 0.5;
	}
	BAIL_OUT('the server did not restart after a power cut');
}

my ($lost_total, $absent_total, $missing_total, $verify_failures) = (0, 0, 0, 0);
my %kinds;
for my $cycle (1 .. $cycles)
{
	my $kind = (qw(insert insert build vacuum))[ int(rand(4)) ];
	$kinds{$kind}++;
	my @s;
	for (1 .. 3)
	{
		push @s, start_session("CALL insert_acked($next_id, 1000000)");
		$next_id += 1_000_000;
	}
	if ($kind eq 'build')
	{
		push @s, start_session(
			'DROP INDEX IF EXISTS t_idx; CREATE INDEX t_idx ON t USING hnsw (v)');
	}
	elsif ($kind eq 'vacuum')
	{
		# keep the table near 10,000 rows: delete a random share, then vacuum
		$primary->safe_psql('postgres', q{
			WITH d AS (DELETE FROM t
				WHERE random() < greatest(0.05, 1 - 10000.0 / (SELECT count(*) FROM t))
				RETURNING id)
			INSERT INTO deleted_ids SELECT id FROM d});
		push @s, start_session('VACUUM t');
	}
	sleep(0.3 + rand(3.0));
	power_cut($primary);
	power_cut($standby) if rand() < 0.2;
	for my $s (@s)
	{
		eval { $s->[0]->finish; };
		$acked{$1} = 1 while ${ $s->[1] } =~ /acked (\d+)/g;
	}
	restart($primary);
	restart($standby) unless $standby->{_pid};

	# an interrupted build leaves no index: build it again, outside the loop's
	# clock
	$primary->safe_psql('postgres', 'CREATE INDEX IF NOT EXISTS t_idx ON t USING hnsw (v)');

	my @ids = keys %acked;
	my $lost = @ids ? $primary->safe_psql('postgres', q{
		SELECT count(*) FROM unnest(ARRAY[} . join(',', @ids) . q{]::bigint[]) a
		WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.id = a)
		  AND NOT EXISTS (SELECT 1 FROM deleted_ids d WHERE d.id = a)}) : 0;
	$lost_total += $lost;
	# every row has an element (exact), and nearly every row is found by a
	# search for its own vector (missing_rows forgives 0.5%: pruning can
	# leave a rare element that no search reaches until VACUUM links it)
	my $absent = rows_not_in_index($primary, 't');
	$absent_total += $absent;
	my $missing = ($cycle % 10 == 0 || $cycle == $cycles) ? missing_rows($primary, 't') : 0;
	$missing_total += $missing;
	my ($ok, $verify_out, $verify_err) = (0, '', '');
	$ok = $primary->psql('postgres',
		"SELECT elements, dangling_links FROM hnsw.verify_index('t_idx')",
		stdout => \$verify_out, stderr => \$verify_err) == 0;
	$verify_failures++ unless $ok;
	diag(sprintf("cycle %3d %-6s: %6d rows, %d acked, lost %d, not in index %d, not found %d, verify %s",
		$cycle, $kind, $primary->safe_psql('postgres', 'SELECT count(*) FROM t'),
		scalar(@ids), $lost, $absent, $missing, $ok ? "ok ($verify_out)" : "FAILED: $verify_err"));
}

is($lost_total, 0, "no acknowledged row lost in $cycles crashes");
is($absent_total, 0, 'every row has an element in the index after every crash');
is($missing_total, 0, 'every row (all but 0.5%) found by its own vector after every tenth crash and the last');
is($verify_failures, 0, 'verify_index clean after every crash');
diag('cycles by workload: ' . join(', ', map { "$_ $kinds{$_}" } sort keys %kinds));

# the standby catches up and answers as the primary does
$primary->safe_psql('postgres', 'VACUUM t');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
my $query = q{
	SET enable_seqscan = off;
	SET hnsw.ef_search = 100;
	SELECT q.id, array_agg(t.id ORDER BY t.ord)
	FROM (SELECT id, v FROM t WHERE id % 97 = 1 ORDER BY id LIMIT 100) q,
		LATERAL (SELECT id, row_number() OVER () AS ord FROM
			(SELECT id FROM t ORDER BY t.v <-> q.v LIMIT 10) s) t
	GROUP BY q.id ORDER BY q.id;
};
my $on_primary = $primary->safe_psql('postgres', $query);
isnt($on_primary, '', 'the primary answers');
is($standby->safe_psql('postgres', $query), $on_primary,
	'after the crash loop the standby returns the same neighbours as the primary');
is(rows_not_in_index($standby, 't'), '0', 'every row has an element in the standby\'s index');
is(missing_rows($standby, 't'), '0', 'the standby finds every row (all but 0.5%) by its own vector');

$standby->stop;
$primary->stop;
done_testing();
