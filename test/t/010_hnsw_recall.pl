# Recall of hnsw indexes on Fashion-MNIST against exact search: every
# operator class, a build that outgrows maintenance_work_mem, an index built
# by inserts, deleting 75% of the rows and vacuuming, and filtered queries.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HnswAmTest;

my $node = PostgreSQL::Test::Cluster->new('recall');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 128MB\nmax_parallel_maintenance_workers = 0\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');

load_fmnist($node, 'base', 'train', 6000);
load_fmnist($node, 'q', 't10k', 30);

# every operator class, default options and ef_search
for my $c (['vector_l2_ops', '<->'], ['vector_cosine_ops', '<=>'],
	['vector_l1_ops', '<+>'], ['vector_ip_ops', '<#>'])
{
	my ($opclass, $op) = @$c;
	$node->safe_psql('postgres', "CREATE INDEX idx ON base USING hnsw (v $opclass)");
	my $r = recall($node, 'base', 'q', $op, 10);
	note "$opclass recall\@10 = $r";
	# inner product is no metric; the graph finds most of the top 10
	cmp_ok($r, '>=', $opclass eq 'vector_ip_ops' ? 0.85 : 0.95,
		"$opclass recall at default ef_search");
	$node->safe_psql('postgres', 'DROP INDEX idx');
}

# a build that outgrows maintenance_work_mem says so and keeps its recall
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET maintenance_work_mem = '1MB'; CREATE INDEX idx ON base USING hnsw (v)");
is($ret, 0, 'build with a tiny maintenance_work_mem succeeds');
like($stderr, qr/hnsw graph no longer fits into maintenance_work_mem/, 'build says it outgrew memory');
my $r = recall($node, 'base', 'q', '<->', 10);
note "tiny maintenance_work_mem recall\@10 = $r";
cmp_ok($r, '>=', 0.95, 'recall of a build past maintenance_work_mem');
$node->safe_psql('postgres', 'DROP INDEX idx');

# Parallel builds.  The workers are planned from the table's size with its
# TOAST table (the vectors live there), so this table gets one by default.
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SET max_parallel_maintenance_workers = 2;
	SET client_min_messages = debug1;
	CREATE INDEX idx ON base USING hnsw (v);
});
is($ret, 0, 'parallel build as planned succeeds');
like($stderr, qr/hnsw build of "idx": 1 parallel workers planned, 1 launched/,
	'one worker planned from the size of the table and its TOAST table');
$node->safe_psql('postgres', 'DROP INDEX idx');

# two workers forced by the table's option: recall as serial, a clean
# structure, every row found
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	ALTER TABLE base SET (parallel_workers = 2);
	SET max_parallel_maintenance_workers = 2;
	SET client_min_messages = debug1;
	CREATE INDEX idx ON base USING hnsw (v);
});
is($ret, 0, 'parallel build with two workers succeeds');
like($stderr, qr/hnsw build of "idx": 2 parallel workers planned, 2 launched/,
	'two parallel workers ran');
$r = recall($node, 'base', 'q', '<->', 10);
note "parallel build recall\@10 = $r";
cmp_ok($r, '>=', 0.95, 'recall of a parallel build');
is($node->safe_psql('postgres',
	"SELECT elements, dangling_links, stale_links, unreachable_elements FROM hnsw.verify_index('idx')"),
	'6000|0|0|0', 'parallel build: every element, no dangling or stale link, none unreachable');
is(missing_rows($node, 'base'), '0', 'parallel build: every row finds itself');
$node->safe_psql('postgres', 'DROP INDEX idx');

# a parallel build that outgrows maintenance_work_mem: the leader writes the
# graph to pages and all participants insert the rest there
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SET max_parallel_maintenance_workers = 2;
	SET maintenance_work_mem = '1MB';
	SET client_min_messages = debug1;
	CREATE INDEX idx ON base USING hnsw (v);
});
is($ret, 0, 'parallel build with a tiny maintenance_work_mem succeeds');
like($stderr, qr/2 parallel workers planned, 2 launched/, 'two workers ran');
like($stderr, qr/hnsw graph no longer fits into maintenance_work_mem/,
	'parallel build says it outgrew memory');
$r = recall($node, 'base', 'q', '<->', 10);
note "parallel, tiny maintenance_work_mem recall\@10 = $r";
cmp_ok($r, '>=', 0.95, 'recall of a parallel build past maintenance_work_mem');
is($node->safe_psql('postgres',
	"SELECT elements, dangling_links, stale_links FROM hnsw.verify_index('idx')"),
	'6000|0|0', 'parallel build past memory: every element, no dangling or stale link');
is(missing_rows($node, 'base'), '0', 'parallel build past memory: every row finds itself');
$node->safe_psql('postgres', 'DROP INDEX idx; ALTER TABLE base RESET (parallel_workers)');

# an index built by inserts
$node->safe_psql('postgres', q{
	CREATE TABLE ins (id int, v vector(784));
	CREATE INDEX ins_idx ON ins USING hnsw (v);
	INSERT INTO ins SELECT * FROM base WHERE id < 2000;
});
$r = recall($node, 'ins', 'q', '<->', 10);
note "index built by inserts recall\@10 = $r";
cmp_ok($r, '>=', 0.95, 'recall of an index built by inserts');

# filtered queries still return LIMIT rows
$node->safe_psql('postgres', 'CREATE INDEX idx ON base USING hnsw (v)');
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT count(*) FROM (SELECT id FROM base WHERE id % 10 = 3
		ORDER BY v <-> (SELECT v FROM q WHERE id = 0) LIMIT 50) s;
}), '50', 'a filter keeping 10% of rows still returns LIMIT rows');

# delete 75%, vacuum: recall on the rest stays
$node->safe_psql('postgres', 'DELETE FROM base WHERE id % 4 <> 0');
$node->safe_psql('postgres', 'VACUUM base');
$r = recall($node, 'base', 'q', '<->', 10, 'SET hnsw.ef_search = 100;');
note "after deleting 75% and VACUUM recall\@10 = $r";
cmp_ok($r, '>=', 0.95, 'recall after deleting 75% and vacuum, ef_search 100');

# the freed space is reused
my $size = $node->safe_psql('postgres', "SELECT pg_relation_size('idx')");
$node->safe_psql('postgres', 'INSERT INTO base SELECT id + 100000, v FROM base WHERE id < 4000');
is($node->safe_psql('postgres', "SELECT pg_relation_size('idx') = $size"), 't',
	'inserts after vacuum reuse the freed space');
$r = recall($node, 'base', 'q', '<->', 10);
cmp_ok($r, '>=', 0.95, 'recall after inserting into the freed space');

$node->stop;
done_testing();
