# Quantized hnsw indexes survive a crash and replicate: the encoded element
# tuples go through the same page edits and WAL as f32 ones.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HnswAmTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "fsync = on\nmax_parallel_maintenance_workers = 0\n");
$primary->start;
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', 'CREATE EXTENSION hnsw');
insert_proc($primary);
load_random($primary, 't', 16, 1500);
load_random($primary, 'u', 16, 1500, 0.3);
$primary->safe_psql('postgres',
	"CREATE INDEX t_idx ON t USING hnsw (v) WITH (quantization = 'i8')");
$primary->safe_psql('postgres',
	"CREATE INDEX u_idx ON u USING hnsw (v vector_cosine_ops) WITH (quantization = 'bf16')");
$primary->safe_psql('postgres', "CALL insert_rows('t', 10001, 200, 16)");
$primary->safe_psql('postgres', "CALL insert_rows('u', 10001, 200, 16)");
$primary->safe_psql('postgres', 'DELETE FROM t WHERE id % 3 = 0');
$primary->safe_psql('postgres', 'VACUUM t');
$primary->safe_psql('postgres', "CALL insert_rows('t', 20001, 200, 16)");
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

for my $c (['t', '<->'], ['u', '<=>'])
{
	my ($tab, $op) = @$c;
	my $query = qq{
		SET enable_seqscan = off;
		SELECT q.id, array_agg(x.id ORDER BY x.ord)
		FROM (SELECT id, v FROM $tab WHERE id % 97 = 1) q,
			LATERAL (SELECT id, row_number() OVER () AS ord FROM
				(SELECT id FROM $tab ORDER BY $tab.v $op q.v LIMIT 10) s) x
		GROUP BY q.id ORDER BY q.id;
	};
	my $on_primary = $primary->safe_psql('postgres', $query);
	isnt($on_primary, '', "the primary answers on $tab");
	is($standby->safe_psql('postgres', $query), $on_primary,
		"the standby returns the same neighbours as the primary on $tab");
	is($standby->safe_psql('postgres', "SELECT hnsw_index_check('${tab}_idx')"),
		$primary->safe_psql('postgres', "SELECT hnsw_index_check('${tab}_idx')"),
		"the standby's ${tab}_idx is sound with as many elements");
}
is(missing_rows($standby, 't'), '0', 'the standby finds every row of t through its i8 index');
$standby->stop;

# crash: immediate stop after inserts and a vacuum since the last checkpoint
$primary->safe_psql('postgres', 'CHECKPOINT');
$primary->safe_psql('postgres', "CALL insert_rows('t', 30001, 200, 16)");
$primary->safe_psql('postgres', 'DELETE FROM t WHERE id % 5 = 0');
$primary->safe_psql('postgres', 'VACUUM t');
$primary->safe_psql('postgres', "CALL insert_rows('t', 40001, 100, 16)");
my $before = $primary->safe_psql('postgres', 'SELECT count(*) FROM t');
$primary->stop('immediate');
$primary->start;
is($primary->safe_psql('postgres', 'SELECT count(*) FROM t'), $before, 'committed rows survive');
is(missing_rows($primary, 't'), '0', 'every row is found through the i8 index after a crash');
cmp_ok($primary->safe_psql('postgres', "SELECT hnsw_index_check('t_idx')"), '>', 0,
	'the i8 index is structurally sound after a crash');
my $r = recall($primary, 't', '(SELECT * FROM t WHERE id <= 50) AS', '<->', 10);
note "i8 recall\@10 after crash = $r";
cmp_ok($r, '>=', 0.9, 'i8 recall after the crash');

$primary->stop;
done_testing();
