# Crash recovery of hnsw indexes: the server is stopped in immediate mode
# (no shutdown checkpoint, like a crash) during concurrent inserts, during
# VACUUM and during CREATE INDEX, and an inserting backend is killed with
# SIGKILL (the postmaster then restarts everything and replays WAL); after
# recovery verify_index passes with no dangling or stale link, the index
# holds every committed row (and searches find them) and recall holds.
# Autovacuum is off: a vacuum freeing the elements of rows a crash left dead
# while inserts link to them could leave dangling links, which verify_index
# reports without any fault (src/README "Index statistics and verification").
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HnswAmTest;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf',
	"fsync = on\nmax_parallel_maintenance_workers = 0\nrestart_after_crash = on\nautovacuum = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');
insert_proc($node);
load_random($node, 't', 16, 2000);
$node->safe_psql('postgres', 'CREATE INDEX t_idx ON t USING hnsw (v)');
$node->safe_psql('postgres', 'CHECKPOINT');

# Check the index after $what: verify_index passes and finds an element for
# every row (more after a crash: those of rows it left dead) and no dangling
# or stale link; every row is in the index; searches find the rows.
sub check_index
{
	my ($what) = @_;
	is($node->safe_psql('postgres', q{
		SELECT elements >= (SELECT count(*) FROM t), dangling_links, stale_links
		  FROM hnsw.verify_index('t_idx')}),
		't|0|0', "verify_index passes after $what, no dangling or stale link");
	is(rows_not_in_index($node, 't'), '0', "every committed row is in the index after $what");
	is(missing_rows($node, 't'), '0',
		"rows are found by their own vector after $what (all but 0.5%)");
	return;
}

# Start background sessions running $sql each; return their harnesses.
sub start_sessions
{
	my @sql = @_;
	my @h;
	for my $sql (@sql)
	{
		my ($out, $err) = ('', '');
		push @h, IPC::Run::start(
			[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c', $sql ],
			'>', \$out, '2>', \$err);
	}
	return @h;
}

sub crash_and_restart
{
	my @h = @_;
	$node->stop('immediate');
	for my $h (@h)
	{
		eval { $h->finish; };
	}
	$node->start;
	return;
}

# 1. concurrent inserts
my @h = start_sessions(map { "CALL insert_rows('t', " . (100000 * $_) . ", 100000, 16)" } 1 .. 3);
# wait until some rows are in
$node->poll_query_until('postgres', 'SELECT count(*) > 2300 FROM t') or die 'no inserts';
crash_and_restart(@h);
my $n = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
cmp_ok($n, '>', 2300, "rows committed before the crash survive ($n)");
check_index('a crash during inserts');
my $r = recall($node, 't', 'SELECT id, v FROM t WHERE id <= 50', '<->', 10);
cmp_ok($r, '>=', 0.95, "recall after a crash during inserts ($r)");

# 1b. kill -9 of a backend in the middle of inserts: the postmaster
# restarts every backend and recovers from WAL
@h = start_sessions("CALL insert_rows('t', 500000, 100000, 16)");
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM t WHERE id >= 500000 AND id < 600000") or die 'no inserts';
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE query LIKE 'CALL insert_rows%'");
ok(kill('KILL', $pid), 'killed an inserting backend with SIGKILL');
for my $h (@h)
{
	eval { $h->finish; };
}
# the postmaster restarts everything; wait until it accepts connections
my $up = 0;
for (1 .. 120)
{
	last if ($up = ($node->psql('postgres', 'SELECT 1') == 0));
	sleep 1;
}
ok($up, 'the server restarted after the crash');
check_index('kill -9 of a backend');

# 2. VACUUM
$node->safe_psql('postgres', 'DELETE FROM t WHERE id % 3 = 0');
@h = start_sessions('VACUUM t');
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_progress_vacuum") or die 'no vacuum';
crash_and_restart(@h);
check_index('a crash during VACUUM');
$node->safe_psql('postgres', 'VACUUM t');
check_index('the VACUUM that follows');
$r = recall($node, 't', 'SELECT id, v FROM t WHERE id <= 50', '<->', 10);
cmp_ok($r, '>=', 0.95, "recall after a crash during VACUUM ($r)");

# 3. CREATE INDEX
$node->safe_psql('postgres', 'DROP INDEX t_idx');
@h = start_sessions('CREATE INDEX t_idx ON t USING hnsw (v)');
# a small build can finish before the first poll: then the crash follows it
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 OR to_regclass('t_idx') IS NOT NULL FROM pg_stat_progress_create_index")
  or die 'no build';
crash_and_restart(@h);
$node->safe_psql('postgres', 'DROP INDEX IF EXISTS t_idx');
$node->safe_psql('postgres', 'CREATE INDEX t_idx ON t USING hnsw (v)');
check_index('a crash during a build and a new build');

# a crash right after inserts into a freshly built index: replay alone
$node->safe_psql('postgres', "CALL insert_rows('t', 900000, 200, 16)");
$node->stop('immediate');
$node->start;
check_index('WAL replay of inserts into a new index');

$node->stop;
done_testing();
