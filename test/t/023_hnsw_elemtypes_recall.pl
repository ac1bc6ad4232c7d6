# Recall of the halfvec, sparsevec and bit operator classes on Fashion-MNIST
# against exact search: every class built by CREATE INDEX, one class of each
# type built by parallel workers and one built by inserts, then deleting 75%
# of the rows and vacuuming.  The images as halfvec(784), as sparsevec(784)
# (about half of the pixels are zero) and as bit(784) (binary_quantize: a
# pixel that is not black).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HnswAmTest;

my $node = PostgreSQL::Test::Cluster->new('elemtypes');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 128MB\nmax_parallel_maintenance_workers = 0\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');

load_fmnist($node, 'base', 'train', 3000);
load_fmnist($node, 'q', 't10k', 30);
$node->safe_psql('postgres', q{
	CREATE TABLE bh AS SELECT id, v::halfvec(784) AS v FROM base;
	CREATE TABLE qh AS SELECT id, v::halfvec(784) AS v FROM q;
	CREATE TABLE bs AS SELECT id, v::sparsevec(784) AS v FROM base;
	CREATE TABLE qs AS SELECT id, v::sparsevec(784) AS v FROM q;
	CREATE TABLE bb AS SELECT id, binary_quantize(v)::bit(784) AS v FROM base;
	CREATE TABLE qb AS SELECT id, binary_quantize(v)::bit(784) AS v FROM q;
});

# [table, queries, opclass, operator, least recall@10 at the default
# ef_search]; inner product is no metric: the graph finds most of the top 10
my @classes = (
	['bh', 'qh', 'halfvec_l2_ops', '<->', 0.95],
	['bh', 'qh', 'halfvec_ip_ops', '<#>', 0.85],
	['bh', 'qh', 'halfvec_cosine_ops', '<=>', 0.95],
	['bh', 'qh', 'halfvec_l1_ops', '<+>', 0.95],
	['bs', 'qs', 'sparsevec_l2_ops', '<->', 0.95],
	['bs', 'qs', 'sparsevec_ip_ops', '<#>', 0.85],
	['bs', 'qs', 'sparsevec_cosine_ops', '<=>', 0.95],
	['bs', 'qs', 'sparsevec_l1_ops', '<+>', 0.95],
	['bb', 'qb', 'bit_hamming_ops', '<~>', 0.95],
	['bb', 'qb', 'bit_jaccard_ops', '<%>', 0.95]);
for my $c (@classes)
{
	my ($tab, $q, $opclass, $op, $least) = @$c;
	$node->safe_psql('postgres', "CREATE INDEX idx ON $tab USING hnsw (v $opclass)");
	my $r = recall($node, $tab, $q, $op, 10);
	note "$opclass recall\@10 = $r";
	cmp_ok($r, '>=', $least, "$opclass recall at default ef_search");
	is($node->safe_psql('postgres',
		"SELECT elements > 0, dangling_links, stale_links FROM hnsw.verify_index('idx')"),
		't|0|0', "$opclass: verify_index");
	is(rows_not_in_index($node, $tab, $op), '0', "$opclass: every row is in the index");
	$node->safe_psql('postgres', 'DROP INDEX idx');
}

# parallel builds: two workers forced by the tables' option
for my $c (['bh', 'qh', 'halfvec_l2_ops', '<->'], ['bs', 'qs', 'sparsevec_cosine_ops', '<=>'],
	['bb', 'qb', 'bit_jaccard_ops', '<%>'])
{
	my ($tab, $q, $opclass, $op) = @$c;
	$node->safe_psql('postgres', "ALTER TABLE $tab SET (parallel_workers = 2)");
	my ($ret, $stdout, $stderr) = $node->psql('postgres', qq{
		SET max_parallel_maintenance_workers = 2;
		SET client_min_messages = debug1;
		CREATE INDEX idx ON $tab USING hnsw (v $opclass);
	});
	is($ret, 0, "$opclass: parallel build succeeds");
	like($stderr, qr/hnsw build of "idx": 2 parallel workers planned, 2 launched/,
		"$opclass: 2 parallel workers ran");
	my $r = recall($node, $tab, $q, $op, 10);
	note "$opclass, parallel build: recall\@10 = $r";
	cmp_ok($r, '>=', 0.95, "$opclass, parallel build: recall");
	is($node->safe_psql('postgres',
		"SELECT elements > 0, dangling_links, stale_links FROM hnsw.verify_index('idx')"),
		't|0|0', "$opclass, parallel build: verify_index");
	is(rows_not_in_index($node, $tab, $op), '0', "$opclass, parallel build: every row is in the index");
	$node->safe_psql('postgres', "DROP INDEX idx; ALTER TABLE $tab RESET (parallel_workers)");
}

# built by inserts, then 75% deleted and vacuumed
for my $c (['bh', 'qh', 'halfvec_cosine_ops', '<=>'], ['bs', 'qs', 'sparsevec_l2_ops', '<->'],
	['bb', 'qb', 'bit_hamming_ops', '<~>'])
{
	my ($tab, $q, $opclass, $op) = @$c;
	$node->safe_psql('postgres', qq{
		CREATE TABLE ins (LIKE $tab);
		CREATE INDEX ins_idx ON ins USING hnsw (v $opclass);
		INSERT INTO ins SELECT * FROM $tab;
	});
	my $r = recall($node, 'ins', $q, $op, 10);
	note "$opclass, built by inserts: recall\@10 = $r";
	cmp_ok($r, '>=', 0.95, "$opclass, built by inserts: recall");
	is(rows_not_in_index($node, 'ins', $op), '0', "$opclass, built by inserts: every row is in the index");
	$node->safe_psql('postgres', 'DELETE FROM ins WHERE id % 4 <> 0');
	$node->safe_psql('postgres', 'VACUUM ins');
	is($node->safe_psql('postgres',
		"SELECT elements <= 750, dangling_links, stale_links, unreachable_elements FROM hnsw.verify_index('ins_idx')"),
		't|0|0|0', "$opclass: after deleting 75% and VACUUM, verify_index");
	is(rows_not_in_index($node, 'ins', $op), '0', "$opclass: after VACUUM every row is in the index");
	$r = recall($node, 'ins', $q, $op, 10, 'SET hnsw.ef_search = 100;');
	note "$opclass, after deleting 75% and VACUUM: recall\@10 = $r";
	cmp_ok($r, '>=', 0.95, "$opclass, after deleting 75% and VACUUM: recall, ef_search 100");
	$node->safe_psql('postgres', 'DROP TABLE ins');
}

$node->stop;
done_testing();
