# Quantized hnsw indexes survive a crash and replicate: the encoded element
# tuples go through the same page edits and WAL as f32 ones.  So does a
# 4,096-dimensional f32 index, whose elements hold i8 codes and link to
# their vectors in chunks on other pages (src/README "Vectors out of line"),
# and an index built with packed = on, whose elements cut over two pages
# are freed by vacuum with their tails in one WAL record.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
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
load_random($primary, 'w', 4096, 300, 0.5);
$primary->safe_psql('postgres', 'CREATE INDEX w_idx ON w USING hnsw (v)');
$primary->safe_psql('postgres', "CALL insert_rows('w', 10001, 60, 4096)");
$primary->safe_psql('postgres', 'INSERT INTO w SELECT id + 50000, v FROM w WHERE id % 40 = 1');
$primary->safe_psql('postgres', 'DELETE FROM w WHERE id % 3 = 0');
$primary->safe_psql('postgres', 'VACUUM w');
$primary->safe_psql('postgres', "CALL insert_rows('w', 20001, 60, 4096)");
is($primary->safe_psql('postgres',
	"SELECT graph_quantization || ' ' || (vector_chunks >= elements) FROM hnsw.index_info('w_idx')"),
	'i8 true', 'the 4,096-dimensional f32 index keeps its vectors out of line');
load_random($primary, 'p', 800, 600, 0.6);
$primary->safe_psql('postgres', 'CREATE INDEX p_idx ON p USING hnsw (v) WITH (packed = on)');
cmp_ok($primary->safe_psql('postgres', "SELECT pg_relation_size('p_idx') / 8192"), '<', 280,
	'the packed index holds more than two 800-dimensional elements a page');
$primary->safe_psql('postgres', "CALL insert_rows('p', 10001, 100, 800)");
$primary->safe_psql('postgres', 'DELETE FROM p WHERE id % 3 = 0');
$primary->safe_psql('postgres', 'VACUUM p');
$primary->safe_psql('postgres', "CALL insert_rows('p', 20001, 100, 800)");
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

for my $c (['t', '<->'], ['u', '<=>'], ['w', '<->'], ['p', '<->'])
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
	my $nq = $primary->safe_psql('postgres', "SELECT count(*) FROM $tab WHERE id % 97 = 1");
	is(scalar(grep { /^\d+\|\{(\d+,){9}\d+\}$/ } split(/\n/, $on_primary)), $nq,
		"the primary answers each of the $nq queries on $tab with 10 rows");
	is($standby->safe_psql('postgres', $query), $on_primary,
		"the standby returns the same neighbours as the primary on $tab");
	my $shape = "SELECT elements, live_elements, heap_tids, max_level, entry_point, pages, avg_degree FROM hnsw.index_info('${tab}_idx')";
	is($standby->safe_psql('postgres', $shape), $primary->safe_psql('postgres', $shape),
		"the standby's ${tab}_idx has the primary's shape");
	is($primary->safe_psql('postgres',
		"SELECT dangling_links + stale_links FROM hnsw.verify_index('${tab}_idx')"),
		'0', "verify_index passes on the primary's ${tab}_idx, no dangling or stale link");
}
for my $c (['t', '<->', 'i8'], ['u', '<=>', 'bf16 cosine'], ['w', '<->', 'out of line'],
	['p', '<->', 'packed'])
{
	my ($tab, $op, $label) = @$c;
	is(rows_not_in_index($standby, $tab, $op), '0',
		"the standby's $label index on $tab holds every row");
	next if $tab eq 'u';	# missing_rows searches with <->
	is(missing_rows($standby, $tab), '0',
		"the standby finds the rows of $tab by their own vector (all but 0.5%)");
}
# index_info checks every tuple as verify_index does (which a standby cannot
# run: it locks the table against writes), heads and tails included
is($standby->safe_psql('postgres', "SELECT elements FROM hnsw.index_info('p_idx')"),
	$primary->safe_psql('postgres', "SELECT elements FROM hnsw.index_info('p_idx')"),
	"index_info reads the standby's packed index as the primary's");
$standby->stop;

# crash: immediate stop after inserts and a vacuum since the last checkpoint
$primary->safe_psql('postgres', 'CHECKPOINT');
$primary->safe_psql('postgres', "CALL insert_rows('t', 30001, 200, 16)");
$primary->safe_psql('postgres', 'DELETE FROM t WHERE id % 5 = 0');
$primary->safe_psql('postgres', 'VACUUM t');
$primary->safe_psql('postgres', "CALL insert_rows('t', 40001, 100, 16)");
$primary->safe_psql('postgres', 'DELETE FROM p WHERE id % 5 = 0');
$primary->safe_psql('postgres', 'VACUUM p');
$primary->safe_psql('postgres', "CALL insert_rows('p', 30001, 100, 800)");
# and inserts into w in progress, from another session, when it stops
$primary->safe_psql('postgres', "CALL insert_rows('w', 30001, 40, 4096)");
$primary->safe_psql('postgres', 'DELETE FROM w WHERE id % 5 = 0');
$primary->safe_psql('postgres', 'VACUUM w');
my $bg = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $primary->connstr('postgres'), '-c',
	  "CALL insert_rows('w', 40001, 100000, 4096)" ],
	'>', \my $bg_out, '2>', \my $bg_err);
$primary->poll_query_until('postgres', 'SELECT count(*) > 20 FROM w WHERE id > 40000')
	or die 'no inserts into w';
my $before = $primary->safe_psql('postgres', 'SELECT count(*) FROM t');
$primary->stop('immediate');
eval { $bg->finish; };
$primary->start;
is($primary->safe_psql('postgres', 'SELECT count(*) FROM t'), $before, 'committed rows survive');
is(rows_not_in_index($primary, 't'), '0', 'the i8 index holds every row after a crash');
is(missing_rows($primary, 't'), '0',
	'rows are found through the i8 index by their own vector after a crash (all but 0.5%)');
is($primary->safe_psql('postgres', q{
	SELECT elements >= (SELECT count(*) FROM t), dangling_links, stale_links
	  FROM hnsw.verify_index('t_idx')}), 't|0|0',
	'verify_index passes on the i8 index after a crash, no dangling or stale link');
cmp_ok($primary->safe_psql('postgres', 'SELECT count(*) FROM w WHERE id > 40000'), '>', 20,
	'rows inserted into w before the crash survive');
is(rows_not_in_index($primary, 'w'), '0',
	'the 4,096-dimensional index holds every row after a crash during inserts');
is(missing_rows($primary, 'w'), '0',
	'rows are found through it by their own vector (all but 0.5%)');
my ($vret, $vout, $verr) = $primary->psql('postgres',
	"SELECT elements = (SELECT elements FROM hnsw.index_info('w_idx')) FROM hnsw.verify_index('w_idx')");
is($vret, 0, "verify_index passes on the 4,096-dimensional index after a crash: $verr");
is($vout, 't', 'verify_index and index_info agree after a crash');
note "verify_index: $verr" if $verr;
is(rows_not_in_index($primary, 'p'), '0', 'the packed index holds every row after a crash');
is(missing_rows($primary, 'p'), '0',
	'rows are found through it by their own vector after a crash (all but 0.5%)');
($vret, $vout, $verr) = $primary->psql('postgres',
	"SELECT elements = (SELECT elements FROM hnsw.index_info('p_idx')) FROM hnsw.verify_index('p_idx')");
is($vret, 0, "verify_index passes on the packed index after a crash: $verr");
is($vout, 't', 'verify_index and index_info agree on the packed index');
my $r = recall($primary, 't', 'SELECT id, v FROM t WHERE id <= 50', '<->', 10);
note "i8 recall\@10 after crash = $r";
cmp_ok($r, '>=', 0.9, 'i8 recall after the crash');

$primary->stop;
done_testing();
