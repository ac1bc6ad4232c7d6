# Recall of quantized hnsw indexes (f16, bf16, i8) on Fashion-MNIST against
# exact search, next to f32 in the same run; their size; and a 4,096-
# dimensional generated dataset, past what an f32 element holds on a page
# (f32 with its vectors out of line, and i8).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HnswAmTest;

my $node = PostgreSQL::Test::Cluster->new('quant_recall');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 128MB\nmax_parallel_maintenance_workers = 0\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');

load_fmnist($node, 'base', 'train', 5000);
load_fmnist($node, 'q', 't10k', 30);

# Thresholds: measured recall@10 at the default ef_search on this subset
# (one run): L2 f32 1.000, f16 1.000, bf16 1.000, i8 1.000 (its codes of 8-bit
# pixels are lossless; 0.993 with the old max|x| / 127 codes); cosine f32
# 0.970, f16 0.970, bf16 0.963, i8 0.957.  Levels are drawn at random, so
# runs vary by a point or two: the thresholds leave about three.
my %size;
for my $quant ('f32', 'f16', 'bf16', 'i8')
{
	$node->safe_psql('postgres',
		"CREATE INDEX idx ON base USING hnsw (v) WITH (quantization = '$quant')");
	$size{$quant} = $node->safe_psql('postgres', "SELECT pg_relation_size('idx')");
	my $r = recall($node, 'base', 'q', '<->', 10);
	note "$quant L2 recall\@10 = $r, $size{$quant} bytes";
	cmp_ok($r, '>=', 0.95, "$quant L2 recall at default ef_search");
	is($node->safe_psql('postgres',
		"SELECT elements, dangling_links, stale_links FROM hnsw.verify_index('idx')"), '5000|0|0',
		"$quant index: verify_index passes, one element per row, no dangling or stale link");
	if ($quant eq 'i8')
	{
		# i8 re-ranks with the table's vectors: rows in exact order, and
		# at least the recall of the i8 order (hnsw.rerank = off)
		my $off = recall($node, 'base', 'q', '<->', 10, 'SET hnsw.rerank = off;');
		note "i8 L2 recall\@10 without re-ranking = $off";
		cmp_ok($r, '>=', $off, 'i8 re-ranked recall is at least the i8 order\'s');
		# 8-bit pixels lie on their range codes' grid: the codes are the
		# vectors, so re-ranking reads no row (hnswscan.c, RefineItem)
		my ($ret, $stdout, $stderr) = $node->psql('postgres', qq{
			SET enable_seqscan = off;
			SET client_min_messages = debug1;
			SELECT count(*) FROM q, LATERAL (SELECT base.id FROM base
				ORDER BY base.v <-> q.v LIMIT 10) s});
		is($stdout, '300', 'i8 on pixels: every query returns its rows');
		unlike($stderr, qr/exact vectors from the table/,
			'i8 on pixels: re-ranking reads no vector from the table');
		for my $rerank ('on', 'off')
		{
			my $inversions = $node->safe_psql('postgres', qq{
				SET enable_seqscan = off;
				SET hnsw.ef_search = 20;
				SET hnsw.rerank = $rerank;
				SELECT count(*) FROM q, LATERAL (
					SELECT d < lag(d) OVER (ORDER BY n) AS inversion
					FROM (SELECT row_number() OVER () AS n, d
						  FROM (SELECT base.v <-> q.v AS d FROM base
								ORDER BY base.v <-> q.v LIMIT 10) s) t) u
				WHERE inversion});
			note "i8, hnsw.rerank = $rerank: $inversions rows nearer than the row before";
			cmp_ok($inversions, '==', 0, 'i8 re-ranked rows come in exact distance order')
			  if $rerank eq 'on';
		}
	}
	$node->safe_psql('postgres', 'DROP INDEX idx');

	$node->safe_psql('postgres',
		"CREATE INDEX idx ON base USING hnsw (v vector_cosine_ops) WITH (quantization = '$quant')");
	$r = recall($node, 'base', 'q', '<=>', 10);
	note "$quant cosine recall\@10 = $r";
	cmp_ok($r, '>=', $quant eq 'i8' ? 0.92 : 0.93, "$quant cosine recall at default ef_search");
	$node->safe_psql('postgres', 'DROP INDEX idx');
}
# 784 dimensions: two f32 elements fit a page, four f16 or bf16, seven i8
# (six if neighbour slots took 12 bytes)
cmp_ok($size{f16} / $size{f32}, '<=', 0.55, 'an f16 index is at most 0.55 of f32');
cmp_ok($size{bf16} / $size{f32}, '<=', 0.55, 'a bf16 index is at most 0.55 of f32');
cmp_ok($size{i8} / $size{f32}, '<=', 0.30, 'an i8 index is at most 0.30 of f32');

# an index built by inserts, then vacuumed, keeps its recall
$node->safe_psql('postgres', q{
	CREATE TABLE ins (id int, v vector(784));
	CREATE INDEX ins_idx ON ins USING hnsw (v) WITH (quantization = 'bf16');
	INSERT INTO ins SELECT * FROM base WHERE id < 2000;
	DELETE FROM ins WHERE id % 4 = 1;
	VACUUM ins;
});
my $r = recall($node, 'ins', 'q', '<->', 10);
note "bf16 index built by inserts, 25% deleted, recall\@10 = $r";
cmp_ok($r, '>=', 0.95, 'recall of a bf16 index built by inserts and vacuumed');

# 4,096 dimensions: an i8 element fits a page; an f32 one keeps an i8 code
# with its vector out of line and re-ranks (more in 022_hnsw_outofline_recall)
load_random($node, 'big', 4096, 1500);
load_random($node, 'bigq', 4096, 20, 0.7);
$node->safe_psql('postgres', 'CREATE INDEX big_f32 ON big USING hnsw (v)');
my $r32 = recall($node, 'big', 'bigq', '<->', 10, 'SET hnsw.ef_search = 100;');
note "4096-d f32 (out of line) recall\@10 = $r32";
cmp_ok($r32, '>=', 0.85, '4,096-dimensional f32 index recall at ef_search 100');
$node->safe_psql('postgres', 'DROP INDEX big_f32');
$node->safe_psql('postgres',
	"CREATE INDEX big_i8 ON big USING hnsw (v) WITH (quantization = 'i8')");
$r = recall($node, 'big', 'bigq', '<->', 10, 'SET hnsw.ef_search = 100;');
note "4096-d i8 recall\@10 = $r";
# measured 0.95 (uniform random data, the hardest case for a graph)
cmp_ok($r, '>=', 0.85, '4,096-dimensional i8 index recall at ef_search 100');

$node->stop;
done_testing();
