# Coordinator chaos: CHAOS_MINUTES (default 10) of searches from four client
# sessions of a coordinator over two shards, each with a streaming standby,
# while the copies are killed (kill -9 of every process), frozen (SIGSTOP
# of every process, then SIGCONT) and restarted at random, one copy of a
# shard at a time.  Run twice: with every standby declared a replica
# (hnsw.add_replica), where no search may fail; and without, where a search
# may fail only with the documented errors (a shard that cannot be reached
# or does not answer within hnsw.shard_timeout).  Afterwards no shard has a
# coordinator connection left open, idle in a transaction or running.
#
# Run by test/reliability/run (not part of test/run or CI).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(sleep time);

my $minutes = $ENV{CHAOS_MINUTES} // 10;
srand($ENV{CHAOS_SEED} // 20261206);

my $schema = q{
	CREATE EXTENSION hnsw;
	CREATE TABLE items (id int, part int, embedding vector(8));
	CREATE INDEX ON items USING hnsw (embedding);
};

my %node;
foreach my $i (1, 2)
{
	my $p = PostgreSQL::Test::Cluster->new("shard$i");
	$p->init(allows_streaming => 1);
	$p->append_conf('postgresql.conf', "shared_buffers = '32MB'\nrestart_after_crash = off\n");
	$p->start;
	$p->safe_psql('postgres', $schema . qq{
		INSERT INTO items SELECT i, $i, (SELECT array_agg(random())::real[]
			FROM generate_series(1, 8) WHERE i > 0)::vector
		FROM generate_series(1, 5000) i;});
	$p->backup("b$i");
	my $s = PostgreSQL::Test::Cluster->new("standby$i");
	$s->init_from_backup($p, "b$i", has_streaming => 1);
	$s->start;
	$p->wait_for_catchup($s);
	$node{"shard$i"} = $p;
	$node{"standby$i"} = $s;
}

my $coord = PostgreSQL::Test::Cluster->new('coord');
$coord->init;
$coord->append_conf('postgresql.conf', "max_connections = 30\n");
$coord->start;
$coord->safe_psql('postgres', q{
	CREATE EXTENSION hnsw;
	CREATE EXTENSION postgres_fdw;
	CREATE TABLE items (id int, part int, embedding vector(8)) PARTITION BY LIST (part);
});
foreach my $name (sort keys %node)
{
	$coord->safe_psql('postgres', sprintf(q{
		CREATE SERVER %s FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '%s', port '%d', dbname 'postgres', connect_timeout '2');
		CREATE USER MAPPING FOR CURRENT_USER SERVER %s;},
		$name, $node{$name}->host, $node{$name}->port, $name));
}
foreach my $i (1, 2)
{
	$coord->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE items_$i PARTITION OF items FOR VALUES IN ($i)
			SERVER shard$i OPTIONS (table_name 'items');});
}

# Every process of a node: its postmaster and the postmaster's children.
sub pids_of
{
	my ($n) = @_;
	my $pid = $n->{_pid} or return ();
	return ($pid, grep { /^\d+$/ } split /\s+/, `pgrep -P $pid`);
}

# Bring a node up again after it was killed.
sub restart
{
	my ($n) = @_;
	$n->{_pid} = undef;
	unlink $n->data_dir . '/postmaster.pid';
	for (1 .. 20)
	{
		return if $n->start(fail_ok => 1);
		sleep 0.5;
	}
	BAIL_OUT('a shard did not restart');
}

# Run one chaos phase of $seconds; return the clients' reports.
sub phase
{
	my ($seconds) = @_;
	my $body = qq{
		DO \$\$
		DECLARE
			n bigint := 0; failed bigint := 0; wrong bigint := 0;
			errs text := ''; got int;
			stop timestamptz := clock_timestamp() + interval '$seconds seconds';
		BEGIN
			SET hnsw.shard_timeout = '2s';
			WHILE clock_timestamp() < stop LOOP
				BEGIN
					SELECT count(*) INTO got FROM hnsw.search(NULL::items,
						(SELECT array_agg(random())::real[] FROM generate_series(1, 8))::vector, 10);
					IF got <> 10 THEN wrong := wrong + 1; END IF;
				EXCEPTION WHEN OTHERS THEN
					failed := failed + 1;
					errs := errs || SQLSTATE || ' ' || SQLERRM || E'\\n';
				END;
				n := n + 1;
				COMMIT;
			END LOOP;
			RAISE NOTICE 'searches % failed % wrong %', n, failed, wrong;
			RAISE NOTICE 'errors: %', errs;
		END \$\$};
	my (@h, @err);
	for my $c (0 .. 3)
	{
		my $out = '';
		$err[$c] = '';
		push @h, IPC::Run::start(
			[ 'psql', '-X', '-q', '-d', $coord->connstr('postgres'), '-c', $body ],
			'>', \$out, '2>', \$err[$c]);
	}

	# the chaos: one copy of one shard at a time
	my %events;
	my $end = time() + $seconds - 5;
	while (time() < $end)
	{
		my $i = 1 + int(rand(2));
		my $name = (rand() < 0.5 ? 'shard' : 'standby') . $i;
		my $n = $node{$name};
		my $what = (qw(kill stop restart))[ int(rand(3)) ];
		$events{$what}++;
		if ($what eq 'kill')
		{
			kill 'KILL', pids_of($n);
			sleep(1 + rand(4));
			restart($n);
		}
		elsif ($what eq 'stop')
		{
			my @pids = pids_of($n);
			kill 'STOP', @pids;
			sleep(1 + rand(6));
			kill 'CONT', @pids;
		}
		else
		{
			$n->restart;
		}
		sleep(rand(3));
	}
	$_->finish for @h;
	diag('chaos events: ' . join(', ', map { "$_ $events{$_}" } sort keys %events));
	return @err;
}

# Sum the clients' reports: searches, failures, wrong row counts, and the
# distinct error messages.
sub tally
{
	my ($n, $failed, $wrong, %msgs) = (0, 0, 0);
	for my $e (@_)
	{
		if ($e =~ /searches (\d+) failed (\d+) wrong (\d+)/)
		{
			$n += $1;
			$failed += $2;
			$wrong += $3;
		}
		$msgs{$1}++ while $e =~ /^(\w{5} .*)$/mg;
	}
	return ($n, $failed, $wrong, \%msgs);
}

# Open coordinator connections on every shard (the clients are gone).
sub leftovers
{
	my $count = 0;
	foreach my $name (sort keys %node)
	{
		$node{$name}->poll_query_until('postgres',
			q{SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'hnsw coordinator'});
		$count += $node{$name}->safe_psql('postgres',
			q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hnsw coordinator'});
	}
	return $count;
}

my $half = int($minutes * 30);

$coord->safe_psql('postgres', q{
	SELECT hnsw.add_replica('shard1', 'standby1');
	SELECT hnsw.add_replica('shard2', 'standby2');});
my ($n, $failed, $wrong, $msgs) = tally(phase($half));
diag("with replicas: $n searches, $failed failed, $wrong wrong");
diag("  $_ ($msgs->{$_})") for sort keys %$msgs;
cmp_ok($n, '>', 0, 'searches ran with replicas');
is($failed, 0, 'no search failed with a replica for every shard');
is($wrong, 0, 'every search returned k rows');
is(leftovers(), 0, 'no coordinator connection left open on any shard');

$coord->safe_psql('postgres', q{
	SELECT hnsw.drop_replica('shard1', 'standby1');
	SELECT hnsw.drop_replica('shard2', 'standby2');});
($n, $failed, $wrong, $msgs) = tally(phase($half));
diag("without replicas: $n searches, $failed failed, $wrong wrong");
diag("  $_ ($msgs->{$_})") for sort keys %$msgs;
cmp_ok($n, '>', 0, 'searches ran without replicas');
is($wrong, 0, 'every search that succeeded returned k rows');
my @undocumented = grep { !/^(08\w{3}|57014) / } keys %$msgs;
is(scalar(@undocumented), 0, 'without replicas, only connection and timeout errors')
  or diag("undocumented: @undocumented");
is(leftovers(), 0, 'no coordinator connection left open on any shard');

$_->stop for values %node;
$coord->stop;
done_testing();
