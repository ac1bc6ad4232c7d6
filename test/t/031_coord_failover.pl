# Distributed search (single and batch) when shards fail: replicas (a
# streaming standby, an independent copy), a killed primary, a killed shard
# without a copy, a hung shard (a lock the test holds) and
# hnsw.shard_timeout, and pg_cancel_backend of the coordinator's query
# ending the shards' queries.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $schema = q{
	CREATE EXTENSION hnsw;
	CREATE TABLE items (id int, part int, embedding vector(3));
};
sub rows_sql
{
	my ($lo, $hi, $part) = @_;
	return qq{SELECT i, $part, ARRAY[(i * 7) % 10, (i * 13) % 11, (i * 3) % 5]::vector
		FROM generate_series($lo, $hi) i};
}
my @rows = (rows_sql(1, 100, 1), rows_sql(101, 200, 2), rows_sql(201, 300, 3));

# shard1 with a streaming standby; shard2 alone; shard3 with an independent
# copy made from a base backup (so a lock on shard3 does not reach it)
my (%node, @shardnames);
foreach my $i (1 .. 3)
{
	my $n = PostgreSQL::Test::Cluster->new("shard$i");
	$n->init(allows_streaming => 1);
	$n->start;
	$n->safe_psql('postgres', $schema . "INSERT INTO items $rows[$i - 1];");
	$node{"shard$i"} = $n;
}
$node{shard1}->backup('b1');
$node{standby1} = PostgreSQL::Test::Cluster->new('standby1');
$node{standby1}->init_from_backup($node{shard1}, 'b1', has_streaming => 1);
$node{standby1}->start;
$node{shard3}->backup('b3');
$node{copy3} = PostgreSQL::Test::Cluster->new('copy3');
$node{copy3}->init_from_backup($node{shard3}, 'b3');
$node{copy3}->start;

my $coord = PostgreSQL::Test::Cluster->new('coord');
$coord->init;
$coord->start;
$coord->safe_psql('postgres', q{
	CREATE EXTENSION hnsw;
	CREATE EXTENSION postgres_fdw;
	CREATE TABLE items (id int, part int, embedding vector(3)) PARTITION BY LIST (part);
	CREATE TABLE truth (id int, part int, embedding vector(3));
});
foreach my $name ('shard1', 'standby1', 'shard2', 'shard3', 'copy3')
{
	$coord->safe_psql('postgres', sprintf(q{
		CREATE SERVER %s FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '%s', port '%d', dbname 'postgres');
		CREATE USER MAPPING FOR CURRENT_USER SERVER %s;},
		$name, $node{$name}->host, $node{$name}->port, $name));
}
foreach my $i (1 .. 3)
{
	$coord->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE items_$i PARTITION OF items FOR VALUES IN ($i)
			SERVER shard$i OPTIONS (table_name 'items');
		INSERT INTO truth $rows[$i - 1];});
}
$coord->safe_psql('postgres', q{
	SELECT hnsw.add_replica('shard1', 'standby1');
	SELECT hnsw.add_replica('shard3', 'copy3');
	-- the distances of a search, and of the exact answer, as text
	CREATE FUNCTION got(q vector, k int) RETURNS text LANGUAGE sql AS $$
		SELECT string_agg(round((embedding <-> q)::numeric, 5)::text, ',')
		FROM hnsw.search(NULL::items, q, k) $$;
	CREATE FUNCTION want(q vector, k int) RETURNS text LANGUAGE sql AS $$
		SELECT string_agg(round(d::numeric, 5)::text, ',') FROM
		(SELECT embedding <-> q AS d FROM truth ORDER BY 1 LIMIT k) s $$;
	-- the same for a batch (two phases: the second on the same copy)
	CREATE FUNCTION got_batch(qs vector[], k int) RETURNS text LANGUAGE sql AS $$
		SELECT string_agg(round(((item).embedding <-> qs[query])::numeric, 5)::text, ','
						  ORDER BY rn)
		FROM (SELECT row_number() OVER () AS rn, query, item
			  FROM hnsw.search_batch(NULL::items, qs, k)) s $$;
	CREATE FUNCTION want_batch(qs vector[], k int) RETURNS text LANGUAGE sql AS $$
		SELECT string_agg(want(q, k), ',' ORDER BY o)
		FROM unnest(qs) WITH ORDINALITY AS u(q, o) $$;
});
my $check = q{SELECT got('[3,4,1]', 12) = want('[3,4,1]', 12)
	AND got_batch(ARRAY['[3,4,1]', '[0,2,5]']::vector[], 12)
		= want_batch(ARRAY['[3,4,1]', '[0,2,5]']::vector[], 12)};
$node{shard1}->wait_for_catchup($node{standby1});

is($coord->safe_psql('postgres', $check), 't', 'search is exact with every copy up');
is($coord->safe_psql('postgres', q{
	SELECT string_agg(format('%s/%s/%s/%s/%s', shard, server, role, in_recovery, row_count), ' ')
	FROM hnsw.shard_status('items')}),
	'shard1/shard1/primary/f/100 shard1/standby1/replica/t/100 shard2/shard2/primary/f/100 '
	  . 'shard3/shard3/primary/f/100 shard3/copy3/replica/f/100',
	'shard_status lists every copy');

# reads spread over the copies: after a few searches one session holds
# connections to both copies of shard1
my $bg = $coord->background_psql('postgres', on_error_stop => 0);
$bg->query_safe($check) for 1 .. 4;
foreach my $name ('shard1', 'standby1')
{
	is($node{$name}->safe_psql('postgres',
			q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hnsw coordinator'}),
		'1', "$name served searches");
}

# --- a hung shard: shard3's table locked; copy3 answers after the timeout
# (hedging off: test/t/038 tests it; here the timeout must do its work)
my $locker = $node{shard3}->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
$bg->{stderr} = '';
$bg->query_safe(q{
	SET hnsw.shard_timeout = '1s';
	SET hnsw.shard_retry_interval = 0;
	SET hnsw.hedge_delay = 0;
	SET client_min_messages = debug1});
# Copies are chosen by their latencies (src/COORDINATOR, "Order of
# copies"): shard3 may come second for a while if copy3 looked faster, and
# is tried first after at most a few dozen searches; search until it is.
my $ok = 1;
foreach my $i (1 .. 60)
{
	$ok &&= ($bg->query($check) eq 't');
	last if $i >= 4 && $bg->{stderr} =~ /abandoning server "shard3"/;
}
ok($ok, 'searches succeed while a copy hangs');
like($bg->{stderr}, qr/abandoning server "shard3" for shard "shard3": no answer within hnsw.shard_timeout/,
	'hnsw.shard_timeout abandoned the hung copy');
ok($node{shard3}->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity
	 WHERE application_name = 'hnsw coordinator' AND wait_event_type = 'Lock'}),
	'the hung copy\'s query was cancelled on the shard');
$bg->query('RESET client_min_messages');

# --- pg_cancel_backend of the coordinator's query ends the shards' queries
# (both copies of shard3 are locked: the search waits on whichever it tries)
my $locker2 = $node{copy3}->background_psql('postgres');
$locker2->query_safe('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
$bg->query('SET hnsw.shard_timeout = 0');
$bg->{stderr} = '';
$bg->query_until(qr/started/, "\\echo started\nSELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 5);\n");
my $count_on_copies = sub {
	my ($where) = @_;
	my $n = 0;
	$n += $node{$_}->safe_psql('postgres', qq{
		SELECT count(*) FROM pg_stat_activity
		 WHERE application_name = 'hnsw coordinator' AND $where}) foreach ('shard3', 'copy3');
	return $n;
};
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
usleep(100_000) while $count_on_copies->(q{wait_event_type = 'Lock'}) != 1 && time() < $deadline;
is($count_on_copies->(q{wait_event_type = 'Lock'}), 1, 'the search waits on a locked copy');
$coord->safe_psql('postgres', q{
	SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	 WHERE query LIKE '%hnsw.search(NULL::items%' AND pid <> pg_backend_pid()});
$bg->query('SELECT 1');
like($bg->{stderr}, qr/canceling statement due to user request/, 'the coordinator query was cancelled');
ok($node{shard3}->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity
	 WHERE application_name = 'hnsw coordinator' AND state = 'active'})
	&& $node{copy3}->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity
	 WHERE application_name = 'hnsw coordinator' AND state = 'active'}),
	'nothing keeps running on the shard');

# statement_timeout works the same way
$bg->{stderr} = '';
$bg->query(q{SET statement_timeout = '500ms'; SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 5)});
like($bg->{stderr}, qr/canceling statement due to statement timeout/, 'statement_timeout interrupts a search');
$bg->query('RESET statement_timeout; SET hnsw.shard_timeout = 10000');
$locker->query_safe('COMMIT');
$locker2->query_safe('COMMIT');
is($bg->query($check), 't', 'the session searches normally afterwards');

# --- kill shard1's primary in the middle of the workload: the standby answers
$node{shard1}->kill9;
$bg->{stderr} = '';
$ok = 1;
foreach (1 .. 5)
{
	$ok &&= ($bg->query($check) eq 't');
}
ok($ok && $bg->{stderr} eq '', 'with the primary killed, the standby answers every search');
is($coord->safe_psql('postgres', $check), 't', 'a new session finds the standby too');
like($coord->safe_psql('postgres', q{
	SELECT string_agg(server || ':' || answers, ',') FROM hnsw.shard_status('items')
	 WHERE shard = 'shard1'}), qr/^shard1:false,standby1:true$/, 'shard_status shows the dead primary');

# --- kill shard2, which has no copy: an error naming it, or partial results
$node{shard2}->stop('immediate');
my ($ret, $out, $err) = $coord->psql('postgres', q{SELECT * FROM hnsw.search(NULL::items, '[1,1,1]', 5)});
like($err, qr/ERROR:  shard "shard2" of distributed table "items" did not answer/,
	'a shard with no copy answering is an error naming it');
($ret, $out, $err) = $coord->psql('postgres', q{
	SET hnsw.allow_partial_results = on;
	SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 5)});
is($out, '5', 'partial results return the other shards\' rows');
like($err, qr/WARNING:  distributed search of "items" returned partial results\nDETAIL:  No copy of "shard2" answered; 2 of 3 partitions \(67%\) answered/,
	'with a WARNING naming the shard and the fraction answered');
is($coord->safe_psql('postgres', q{
	SET hnsw.allow_partial_results = on;
	SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 5, partitions => '{1,3}')}),
	'5', 'a search that does not need the dead shard does not notice it');

$bg->quit;
$locker->quit;
$locker2->quit;
done_testing();
