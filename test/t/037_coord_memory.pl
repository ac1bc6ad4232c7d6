# The coordinator's memory does not grow with k, the number of queries or
# the size of the shards' answers: a batch of 200 queries with k = 10,000,000
# (its two-phase bookkeeping would not fit work_mem, so it runs in one phase)
# returns every row under an address-space limit of the coordinator's
# backends; and searches whose answers are tens of megabytes (single, a
# batch in two phases, a batch in one) raise the backend's peak resident
# memory by a few megabytes only: rows are read one at a time and spooled
# to temporary files past work_mem.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $payload_kb = 64;
my $rows_per_shard = 300;

my @shards;
foreach my $i (1, 2)
{
	my $n = PostgreSQL::Test::Cluster->new("shard$i");
	$n->init;
	$n->start;
	$n->safe_psql('postgres', qq{
		CREATE EXTENSION hnsw;
		CREATE TABLE small (id int, part int, embedding vector(3));
		INSERT INTO small SELECT i, $i, ARRAY[i, i % 7, i % 3]::vector
			FROM generate_series(20 * $i - 19, 20 * $i) i;
		-- random hex, which TOAST hardly compresses
		CREATE TABLE wide (id int, part int, embedding vector(3), payload text);
		INSERT INTO wide SELECT i, $i, ARRAY[i % 11, i % 7, i % 3]::vector,
			(SELECT string_agg(md5(random()::text || j), '') FROM generate_series(1, $payload_kb * 32) j
			  WHERE i > 0)
			FROM generate_series(1, $rows_per_shard) i;});
	push @shards, $n;
}

my $coord = PostgreSQL::Test::Cluster->new('coord');
$coord->init;
$coord->start;
$coord->safe_psql('postgres', q{
	CREATE EXTENSION hnsw;
	CREATE EXTENSION postgres_fdw;
	CREATE TABLE small (id int, part int, embedding vector(3)) PARTITION BY LIST (part);
	CREATE TABLE wide (id int, part int, embedding vector(3), payload text) PARTITION BY LIST (part);});
foreach my $i (1, 2)
{
	$coord->safe_psql('postgres', sprintf(q{
		CREATE SERVER shard%d FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '%s', port '%d', dbname 'postgres');
		CREATE USER MAPPING FOR CURRENT_USER SERVER shard%d;
		CREATE FOREIGN TABLE small_%d PARTITION OF small FOR VALUES IN (%d)
			SERVER shard%d OPTIONS (table_name 'small');
		CREATE FOREIGN TABLE wide_%d PARTITION OF wide FOR VALUES IN (%d)
			SERVER shard%d OPTIONS (table_name 'wide');},
		$i, $shards[$i - 1]->host, $shards[$i - 1]->port, $i, ($i, $i, $i) x 2));
}

# backends forked from now on may map 2 GB at most (the postmaster's limit
# is inherited)
my $limit = 2 * 1024 * 1024 * 1024;
system('prlimit', '--pid', $coord->{_pid}, "--as=$limit:$limit") == 0
  or die "prlimit failed";

my $queries = q{(SELECT array_agg(ARRAY[i % 5, i % 3, i % 7]::vector) FROM generate_series(1, 200) i)};
my ($ret, $out, $err) = $coord->psql('postgres', qq{
	SELECT count(*), count(DISTINCT query), count((item).embedding)
	  FROM hnsw.search_batch(NULL::small, $queries, 10000000)});
is($out, '8000|200|8000', 'a batch of 200 queries with k = 10,000,000 returns every row of every query');
is($err, '', 'without running out of memory');

# the peak resident memory of a session's backend, in kB, after $sql
my $bg = $coord->background_psql('postgres', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
sub peak_kb
{
	open(my $fh, '<', "/proc/$pid/status") or die "/proc/$pid/status: $!";
	my ($kb) = join('', <$fh>) =~ /^VmHWM:\s+(\d+) kB/m;
	close $fh;
	return $kb;
}
$bg->query_safe(q{SET work_mem = '1MB';
	SELECT count(*) FROM hnsw.search(NULL::wide, '[1,1,1]', 3)});
my $base = peak_kb();
foreach my $c (
	['a search of every row', 2 * $rows_per_shard, q{
		SELECT count(*), sum(length(payload)) FROM hnsw.search(NULL::wide, '[1,1,1]', 1000)}],
	['a batch in two phases', 2 * $rows_per_shard, q{
		SELECT count(*), sum(length((item).payload)) FROM hnsw.search_batch(NULL::wide,
			ARRAY['[1,1,1]', '[5,5,5]']::vector[], 300)}],
	['a batch in one phase', 4 * $rows_per_shard, q{
		SET work_mem = '64kB';
		SELECT count(*), sum(length((item).payload)) FROM hnsw.search_batch(NULL::wide,
			ARRAY['[1,1,1]', '[5,5,5]']::vector[], 600);
		RESET work_mem}])
{
	my ($what, $n, $sql) = @$c;
	my $got = $bg->query($sql);
	my $grew = (peak_kb() - $base) / 1024;
	is($got, "$n|" . $n * $payload_kb * 1024,
		sprintf('%s returns its %d rows, %d MB', $what, $n, $n * $payload_kb / 1024));
	cmp_ok($grew, '<', 12, sprintf('%s raises the peak memory by %.1f MB only', $what, $grew));
}

$bg->quit;
done_testing();
