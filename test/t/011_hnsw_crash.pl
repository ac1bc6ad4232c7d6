# Crash recovery of hnsw indexes: the server is stopped in immediate mode
# (no shutdown checkpoint, like a crash) during concurrent inserts, during
# VACUUM and during CREATE INDEX; after recovery every committed row is
# found through the index and recall holds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HnswAmTest;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "fsync = on\nmax_parallel_maintenance_workers = 0\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');
insert_proc($node);
load_random($node, 't', 16, 2000);
$node->safe_psql('postgres', 'CREATE INDEX t_idx ON t USING hnsw (v)');
$node->safe_psql('postgres', 'CHECKPOINT');

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
is(missing_rows($node, 't'), '0', 'every committed row is found after a crash during inserts');
cmp_ok($node->safe_psql('postgres', "SELECT hnsw_index_check('t_idx')"), '>', 0,
	'the index is structurally sound after a crash during inserts');
my $r = recall($node, 't', '(SELECT * FROM t WHERE id <= 50) AS', '<->', 10);
cmp_ok($r, '>=', 0.95, "recall after a crash during inserts ($r)");

# 2. VACUUM
$node->safe_psql('postgres', 'DELETE FROM t WHERE id % 3 = 0');
@h = start_sessions('VACUUM t');
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_progress_vacuum") or die 'no vacuum';
crash_and_restart(@h);
is(missing_rows($node, 't'), '0', 'every row is found after a crash during VACUUM');
cmp_ok($node->safe_psql('postgres', "SELECT hnsw_index_check('t_idx')"), '>', 0,
	'the index is structurally sound after a crash during VACUUM');
$node->safe_psql('postgres', 'VACUUM t');
is(missing_rows($node, 't'), '0', 'every row is found after VACUUM completes');
$r = recall($node, 't', '(SELECT * FROM t WHERE id <= 50) AS', '<->', 10);
cmp_ok($r, '>=', 0.95, "recall after a crash during VACUUM ($r)");

# 3. CREATE INDEX
$node->safe_psql('postgres', 'DROP INDEX t_idx');
@h = start_sessions('CREATE INDEX t_idx ON t USING hnsw (v)');
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_progress_create_index") or die 'no build';
crash_and_restart(@h);
$node->safe_psql('postgres', 'DROP INDEX IF EXISTS t_idx');
$node->safe_psql('postgres', 'CREATE INDEX t_idx ON t USING hnsw (v)');
is(missing_rows($node, 't'), '0', 'an index built after a crash during a build finds every row');

# a crash right after inserts into a freshly built index: replay alone
$node->safe_psql('postgres', "CALL insert_rows('t', 900000, 200, 16)");
$node->stop('immediate');
$node->start;
is(missing_rows($node, 't'), '0', 'every row is found after WAL replay');
cmp_ok($node->safe_psql('postgres', "SELECT hnsw_index_check('t_idx')"), '>', 0,
	'the index is structurally sound after WAL replay');

$node->stop;
done_testing();
