# What shards return is checked, never trusted: a column of another type
# than the coordinator's (a real shard whose id is bigint, whose vector is
# real[]), values with bytes left over, text where binary was asked for,
# missing columns, and a status answer of the wrong shape are errors naming
# the shard and the column (hnsw.shard_status reports them per copy), not
# wrong values or a crash.  Malformed answers come from fake shards
# (test/perl/FakeShard.pm) that answer every statement with rows the test
# chooses.
use strict;
use warnings;
use FakeShard;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $shard = PostgreSQL::Test::Cluster->new('shard');
$shard->init;
$shard->start;
$shard->safe_psql('postgres', q{
	CREATE EXTENSION hnsw;
	CREATE TABLE items_big (id bigint, part int, embedding vector(3));
	INSERT INTO items_big SELECT i, 1, ARRAY[i, i % 7, i % 3]::vector FROM generate_series(1, 20) i;
	CREATE TABLE items_arr (id int, part int, embedding vector(3), extra real[]);
	INSERT INTO items_arr SELECT i, 1, ARRAY[i, i % 7, i % 3]::vector, ARRAY[i]
		FROM generate_series(1, 20) i;
});

my $coord = PostgreSQL::Test::Cluster->new('coord');
$coord->init;
$coord->start;
$coord->safe_psql('postgres', sprintf(q{
	CREATE EXTENSION hnsw;
	CREATE EXTENSION postgres_fdw;
	CREATE SERVER shard FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '%s', port '%d', dbname 'postgres');
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard;},
	$shard->host, $shard->port));

# a distributed table $name (id int, part int, embedding vector(3)) of one
# partition, table $remote on server $server
sub distributed_table
{
	my ($name, $server, $remote) = @_;
	$coord->safe_psql('postgres', qq{
		CREATE TABLE $name (id int, part int, embedding vector(3)) PARTITION BY LIST (part);
		CREATE FOREIGN TABLE ${name}_1 PARTITION OF $name FOR VALUES IN (1)
			SERVER $server OPTIONS (table_name '$remote');});
	return;
}

# --- a real shard whose columns have other types than the coordinator's
distributed_table('big', 'shard', 'items_big');
$coord->safe_psql('postgres', q{
	CREATE TABLE arr (id int, part int, embedding vector(3), extra vector(1)) PARTITION BY LIST (part);
	CREATE FOREIGN TABLE arr_1 PARTITION OF arr FOR VALUES IN (1)
		SERVER shard OPTIONS (table_name 'items_arr');});
my ($ret, $out, $err) = $coord->psql('postgres',
	q{SELECT id FROM hnsw.search(NULL::big, '[1,1,1]', 3)});
like($err, qr/ERROR:  shard "shard" returned column "id" of type bigint, expected integer\nDETAIL:  The answer came from server "shard"\./,
	'a bigint column where the coordinator has integer is an error, not a wrong id');
is($out, '', 'and no row is returned');
($ret, $out, $err) = $coord->psql('postgres', q{
	SELECT query, (item).id FROM hnsw.search_batch(NULL::big, ARRAY['[1,1,1]', '[2,2,2]']::vector[], 3)});
like($err, qr/shard "shard" returned column "id" of type bigint, expected integer/,
	'the same in a batch run in one phase');
($ret, $out, $err) = $coord->psql('postgres', q{
	SELECT query, (item).id, (item).embedding FROM hnsw.search_batch(NULL::big, ARRAY['[1,1,1]', '[2,2,2]']::vector[], 3)});
like($err, qr/shard "shard" returned column "id" of type bigint, expected integer/,
	'and in the second phase of a two-phase batch');
is($shard->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity
	 WHERE application_name = 'hnsw coordinator' AND state LIKE 'idle in transaction%'}),
	'0', 'which leaves no transaction open on the shard');
($ret, $out, $err) = $coord->psql('postgres',
	q{SELECT id, extra FROM hnsw.search(NULL::arr, '[1,1,1]', 3, column_name => 'embedding')});
like($err, qr/ERROR:  shard "shard" returned column "extra" of type real\[\], expected vector/,
	'a real[] column where the coordinator has vector is an error');

# --- fake shards
my $vec = pack('nn', 3, 0) . pack('f>3', 1, 2, 3);
my $int4 = sub { pack('N', shift) };
my $dist = pack('d>', 0.5);
my @search_cols = (['id', 23, 1], ['part', 23, 1], ['embedding', 70000, 1], ['distance', 701, 1]);
my %fakes = (
	# one more byte after the vector
	trailing => {
		columns => \@search_cols,
		rows => [[$int4->(1), $int4->(1), $vec . "\x00", $dist]] },
	# the id is a bigint
	int8 => {
		columns => [['id', 20, 1], @search_cols[1 .. 3]],
		rows => [[pack('Q>', 5), $int4->(1), $vec, $dist]] },
	# the id comes in text
	text => {
		columns => [['id', 23, 0], @search_cols[1 .. 3]],
		rows => [['5', $int4->(1), $vec, $dist]] },
	# a column short
	short => {
		columns => [@search_cols[0, 2, 3]],
		rows => [[$int4->(1), $vec, $dist]] },
	# a distance that is not a float8
	float4dist => {
		columns => [@search_cols[0 .. 2], ['distance', 700, 1]],
		rows => [[$int4->(1), $int4->(1), $vec, pack('f>', 0.5)]] },
	# status: two columns instead of three
	status2 => {
		columns => [['in_recovery', 16, 0], ['row_count', 20, 0]],
		rows => [['f', '5']] },
	# status: a null count
	statusnull => {
		columns => [['in_recovery', 16, 0], ['row_count', 20, 0], ['hnsw_index', 16, 0]],
		rows => [['f', undef, 't']] },
	# status: two rows
	status2rows => {
		columns => [['in_recovery', 16, 0], ['row_count', 20, 0], ['hnsw_index', 16, 0]],
		rows => [['f', '5', 't'], ['f', '6', 't']] });
my @pids;
foreach my $name (sort keys %fakes)
{
	my ($port, $pid) = start_fake_shard(%{ $fakes{$name} });
	push @pids, $pid;
	$coord->safe_psql('postgres', qq{
		CREATE SERVER fake_$name FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '127.0.0.1', port '$port', dbname 'postgres');
		CREATE USER MAPPING FOR CURRENT_USER SERVER fake_$name;});
	distributed_table("t_$name", "fake_$name", 'items');
}

my %want = (
	trailing => qr/ERROR:  incorrect binary data format in column "embedding" returned by shard "fake_trailing"/,
	int8 => qr/ERROR:  shard "fake_int8" returned column "id" of type bigint, expected integer/,
	text => qr/ERROR:  shard "fake_text" returned column "id" in text format, expected binary/,
	short => qr/ERROR:  shard "fake_short" returned 3 columns, expected 4/,
	float4dist => qr/ERROR:  shard "fake_float4dist" returned column "distance" of type real, expected double precision/);
foreach my $name (sort keys %want)
{
	($ret, $out, $err) = $coord->psql('postgres',
		"SELECT id, part, embedding FROM hnsw.search(NULL::t_$name, '[1,1,1]', 3)");
	like($err, $want{$name}, "fake shard $name: an error naming the shard and the column");
	is($out, '', "fake shard $name: no row");
}

# shard_status reports a malformed answer as the copy's error
foreach my $c (['status2', qr/^f\|server "fake_status2": returned 2 columns, expected 3$/],
	['statusnull', qr/^f\|server "fake_statusnull": returned a null status value$/],
	['status2rows', qr/^f\|server "fake_status2rows": returned 2 rows, expected 1$/],
	['trailing', qr/^f\|server "fake_trailing": returned 4 columns, expected 3$/])
{
	my ($name, $re) = @$c;
	like($coord->safe_psql('postgres', "SELECT answers, error FROM hnsw.shard_status('t_$name')"),
		$re, "shard_status of fake shard $name: answers false, with the reason");
}
is($coord->safe_psql('postgres', 'SELECT 1'), '1', 'the coordinator is still up');

stop_fake_shard($_) foreach @pids;
done_testing();
