# Vectors survive a crash (immediate stop, WAL replay) and reach a streaming
# standby unchanged: the cluster-test layer's first real test.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION hnsw');
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# 784-d vectors are stored out of line (TOAST), short ones inline
$primary->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, v vector);
	SELECT setseed(0.5);
	INSERT INTO items
	SELECT i, (SELECT array_agg(round((random() * 200 - 100)::numeric, 3)::real)
	           FROM generate_series(1, CASE WHEN i % 2 = 0 THEN 784 ELSE 3 END) WHERE i > 0)
	FROM generate_series(1, 500) i;
});

my $digest_sql = q{SELECT md5(string_agg(id || ':' || v::text, ';' ORDER BY id)) FROM items};
my $before = $primary->safe_psql('postgres', $digest_sql);

# crash without a checkpoint: the rows come back from WAL
$primary->stop('immediate');
$primary->start;
is($primary->safe_psql('postgres', $digest_sql), $before,
	'vectors are unchanged after crash recovery');

$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $digest_sql), $before,
	'a streaming standby sees the same vectors');
is($standby->safe_psql('postgres',
		q{SELECT id FROM items WHERE vector_dims(v) = 784
		  ORDER BY v <-> (SELECT v FROM items WHERE id = 2) LIMIT 1}),
	'2', 'the standby answers a nearest-neighbour query');

# binary COPY between the two: what a client adapter does
my $binfile = $primary->basedir . '/items.bin';
$primary->safe_psql('postgres', qq{
	COPY items TO '$binfile' WITH (FORMAT binary);
	CREATE TABLE items2 (LIKE items);
	COPY items2 FROM '$binfile' WITH (FORMAT binary);
});
is($primary->safe_psql('postgres',
		q{SELECT count(*) FROM items a JOIN items2 b USING (id) WHERE a.v = b.v}),
	'500', 'binary COPY round-trips every vector');

done_testing();
