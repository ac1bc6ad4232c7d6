# VACUUM keeps its list of deleted elements within maintenance_work_mem:
# with the smallest setting (1MB, half of it for the list: 65,536 elements)
# and 135,000 deleted rows it repairs the graph in three rounds, says so, and
# leaves an index that verifies clean and keeps its recall.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HnswAmTest;

my $node = PostgreSQL::Test::Cluster->new('vacuum_memory');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');

# 180,000 two-dimensional rows: small elements, so that the build is quick
load_random($node, 't', 2, 180000);
$node->safe_psql('postgres', q{
	CREATE INDEX t_idx ON t USING hnsw (v) WITH (m = 8, ef_construction = 32);
	SELECT setseed(0.7);
	CREATE TABLE q AS SELECT i AS id, ARRAY[random() * 100, random() * 100]::real[]::vector AS v
		FROM generate_series(1, 200) i;
});
is($node->safe_psql('postgres', 'SELECT elements FROM hnsw.index_info(\'t_idx\')'),
	'180000', 'one element per row');

# three quarters deleted: 135,000 elements to free
$node->safe_psql('postgres', 'DELETE FROM t WHERE id % 4 <> 0');
my ($rc, $out, $err) = $node->psql('postgres', q{
	SET maintenance_work_mem = '1MB';
	SET client_min_messages = debug2;
	VACUUM t;
});
is($rc, 0, 'VACUUM with maintenance_work_mem = 1MB succeeds');
my @rounds = $err =~ /index "t_idx": round (\d+) of repair, (\d+) deleted elements/g;
is(scalar(@rounds) / 2, 3, 'three rounds of repair');
my $most = 0;
for (my $i = 1; $i < @rounds; $i += 2)
{
	$most = $rounds[$i] if $rounds[$i] > $most;
}
ok($most > 0 && $most <= 65536, "each round lists at most 65,536 deleted elements ($most)");
like($err,
	qr/index "t_idx": freed 135000 deleted elements in 3 rounds of repair\n.*DETAIL:  A round holds at most 65536 deleted elements in half of "maintenance_work_mem"\./,
	'the vacuum reports its rounds');

# the graph is repaired: nothing dangling, every element reachable
is($node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	SELECT elements, dangling_links, stale_links, unreachable_elements
	FROM hnsw.verify_index('t_idx')}),
	'45000|0|0|0', 'the index verifies clean after three rounds');
is($node->safe_psql('postgres', q{
	SELECT live_elements, deleted_elements, heap_tids FROM hnsw.index_info('t_idx')}),
	'45000|0|45000', 'every deleted element freed');

# and searches find the rows
my $recall = recall($node, 't', 'q', '<->', 10);
cmp_ok($recall, '>=', 0.95, "recall\@10 after the vacuum ($recall)");
is(rows_not_in_index($node, 't'), '0', 'every row is in the index');
is(missing_rows($node, 't'), '0', 'rows are found by their own vector (all but 0.5%)');

# a vacuum that fits in memory does it in one round, and says nothing
$node->safe_psql('postgres', 'DELETE FROM t WHERE id % 8 = 0');
($rc, $out, $err) = $node->psql('postgres', q{
	SET client_min_messages = debug2;
	VACUUM t;
});
is($rc, 0, 'VACUUM with the default maintenance_work_mem succeeds');
like($err, qr/index "t_idx": round 1 of repair, 22500 deleted elements/,
	'one round for 22,500 deleted elements');
unlike($err, qr/rounds of repair/, 'no report of rounds');
is($node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	SELECT elements, dangling_links, stale_links FROM hnsw.verify_index('t_idx')}),
	'22500|0|0', 'the index verifies clean');

$node->stop;
done_testing();
