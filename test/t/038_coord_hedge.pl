# Tail tolerance of the coordinator (src/README "Choosing copies, and
# hedging"), with every server behind a netsim proxy (test/perl/HnswSim.pm):
# a search whose copy of a shard is late asks the shard's other copy too
# (hnsw.hedge_delay, fixed or adaptive) and returns the same rows as
# without the fault; the loser's late answer is drained and its connection
# kept, or, when the answer does not come within the drain's time, the
# connection is closed and the query ends on the shard; a hedge that fails
# or hangs does not fail the search; hnsw.shard_timeout still bounds a
# shard whose copies are all slow; a copy that stalls is avoided and, once
# it is fast again, gets traffic back; a two-phase batch is exact while a
# copy is slow.  After each part, nothing of the coordinator is left
# running or in a transaction on any server.  Each part has a session of
# its own: copies' statistics are per session.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use HnswSim;

my $sim = start_sim(shards => 2, standbys => 1, rows => 600, dim => 16,
	queries => 40);
my $coord = $sim->{coord};
my @servers = (@{ $sim->{shard} }, @{ $sim->{standby} });

# ids(q): the ids of a search's 10 rows, in order.  check_searches(n):
# the first n queries of the truth table searched one after the other;
# whether every answer equals the one recorded without faults, and each
# search's milliseconds.
$coord->safe_psql('postgres', q{
	CREATE FUNCTION ids(q vector) RETURNS text LANGUAGE sql AS $$
		SELECT string_agg(id::text, ',' ORDER BY d, id)
		  FROM (SELECT id, embedding <-> q AS d
				  FROM hnsw.search(NULL::items, q, 10, ef_search => 100)) s $$;
	CREATE FUNCTION batch_ids(n int) RETURNS SETOF text LANGUAGE sql AS $$
		SELECT string_agg((item).id::text, ',' ORDER BY (item).embedding <-> qs[query], (item).id)
		  FROM (SELECT array_agg(v ORDER BY qid) AS qs FROM queries WHERE qid <= n) a,
			   hnsw.search_batch(NULL::items, qs, 10, ef_search => 100)
		 WHERE (item).embedding IS NOT NULL
		 GROUP BY query ORDER BY query $$;
	CREATE FUNCTION check_searches(n int, OUT exact bool, OUT ms float8[])
	LANGUAGE plpgsql AS $$
	DECLARE
		r record;
		started timestamptz;
	BEGIN
		exact := true;
		ms := '{}';
		FOR r IN SELECT t.want, q.v FROM truth t JOIN queries q USING (qid)
				 ORDER BY qid LIMIT n LOOP
			started := clock_timestamp();
			exact := exact AND ids(r.v) IS NOT DISTINCT FROM r.want;
			ms := ms || extract(epoch FROM clock_timestamp() - started)::float8 * 1000;
		END LOOP;
	END $$;
	CREATE TABLE truth AS SELECT qid, ids(v) AS want FROM queries;
});
is($coord->safe_psql('postgres', 'SELECT count(*), count(want) FROM truth WHERE want LIKE \'%,%\''),
	'40|40', 'the answers without faults are recorded');

# Every server free of the coordinator's work: nothing running, nothing
# idle in a transaction.
sub clean_everywhere
{
	my ($what) = @_;
	my $ok = 1;
	foreach my $node (@servers)
	{
		$ok &&= $node->poll_query_until('postgres', q{
			SELECT count(*) = 0 FROM pg_stat_activity
			 WHERE application_name = 'hnsw coordinator' AND state <> 'idle'});
	}
	ok($ok, "$what: nothing of the coordinator runs on any server");
	return;
}

my $bg;

# A new session that has searched every copy: its statistics are fresh.
sub new_session
{
	$bg->quit if $bg;
	# the last session's connections are gone from the servers
	foreach my $node (@servers)
	{
		$node->poll_query_until('postgres', q{
			SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'hnsw coordinator'})
		  or die 'a quit session left connections on ' . $node->name;
	}
	$bg = $coord->background_psql('postgres', on_error_stop => 0);
	$bg->query_safe('SET client_min_messages = debug1');
	my ($exact) = searches(20);
	die 'warm-up searches are not exact' unless $exact;
	$bg->{stderr} = '';
	return;
}

# Search the first $n queries in $bg; return (exact, longest ms, all ms).
sub searches
{
	my ($n) = @_;
	# (query, not query_safe: the DEBUG messages are on stderr)
	my ($exact, $ms) = split /\|/, $bg->query("SELECT * FROM check_searches($n)");
	return (0, 0) unless defined $ms;
	my @ms = $ms =~ /([\d.e+-]+)/g;
	my $longest = 0;
	$longest = $_ > $longest ? $_ : $longest foreach @ms;
	return ($exact eq 't', $longest, @ms);
}

# Search until $bg's messages match $re (at most $rounds rounds of 4
# searches); return (matched, all exact, longest ms).
sub search_until
{
	my ($re, $rounds) = @_;
	my ($all_exact, $longest) = (1, 0);
	foreach (1 .. $rounds)
	{
		my ($exact, $l) = searches(4);
		$all_exact &&= $exact;
		$longest = $l if $l > $longest;
		return (1, $all_exact, $longest) if $bg->{stderr} =~ $re;
	}
	return (0, $all_exact, $longest);
}

# The pids of the coordinator's connections on $node.
sub coord_pids
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
		SELECT string_agg(pid::text, ',') FROM pg_stat_activity
		 WHERE application_name = 'hnsw coordinator'});
}

my ($hedged, $exact, $longest, @ms);

# --- a fixed hedge delay; the loser's answer is drained, its connection kept
new_session();
ok(1, 'a session has searched every copy');
my $pid = coord_pids($sim->{shard}[0]);
like($pid, qr/^\d+$/, 'the session has one connection to shard1\'s primary');
$bg->query(q{SET hnsw.hedge_delay = '100ms'});
proxy_cmd($sim, 'shard1', 'stall 300 100');
($hedged, $exact, $longest) = search_until(
	qr/no answer from server "shard1" for shard "shard1" after 1\d\d\.\d ms; asking server "shard1_standby" too/, 10);
ok($hedged, 'a search waiting 100 ms for a stalled copy asks the other copy too');
ok($exact, 'every search returns the rows it returns without faults');
cmp_ok($longest, '<', 250, sprintf('none waits for the stall (longest %.0f ms)', $longest));
like($bg->{stderr},
	qr/server "shard1_standby" answered first for shard "shard1"\n.*server "shard1" lost the race for shard "shard1"; draining its answer/,
	'the copy that answered first wins; the other\'s answer is drained');
proxy_cmd($sim, 'shard1', 'stall 0 0');
Time::HiRes::sleep(0.5);
searches(4);
unlike($bg->{stderr}, qr/closing the connection/, 'no connection was closed');
is(coord_pids($sim->{shard}[0]), $pid, 'the loser\'s connection is kept');
clean_everywhere('draining');

# --- a loser whose answer does not come within the drain's time is closed
new_session();
$bg->query(q{SET hnsw.hedge_delay = '100ms'});
proxy_cmd($sim, 'shard1', 'stall 2500 100');
($hedged, $exact, $longest) = search_until(qr/server "shard1" lost the race for shard "shard1"/, 10);
ok($hedged && $exact, 'a copy stalled for 2.5 s loses the race, the search is exact');
cmp_ok($longest, '<', 1000, sprintf('and does not wait for it (longest %.0f ms)', $longest));
Time::HiRes::sleep(1.1);
searches(2);
like($bg->{stderr},
	qr/closing the connection to server "shard1": its late answer did not come in time/,
	'after a second of draining, the next search closes the loser\'s connection');
proxy_cmd($sim, 'shard1', 'stall 0 0');
ok($sim->{shard}[0]->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'hnsw coordinator'}),
	'the loser\'s query is gone from the stalled server');
clean_everywhere('closing a loser');

# --- the adaptive delay (the default).  Which copy of shard2 is asked
# first depends on the latencies seen (adaptive choice): once the stalled
# primary is seen slow the standby goes first, and is hedged in its turn
# when it is slow to answer on a loaded machine; either way no search may
# wait for the stall.
new_session();
proxy_cmd($sim, 'shard2', 'stall 1500 100');
($hedged, $exact, $longest) = search_until(
	qr/no answer from server "shard2(?:_standby)?" for shard "shard2" after \d+\.\d ms; asking server "shard2(?:_standby)?" too/, 10);
ok($hedged, 'with the adaptive delay, shard2\'s searches are hedged too');
ok($exact, 'every search is exact');
cmp_ok($longest, '<', 1000, sprintf('none waits for the stall (longest %.0f ms)', $longest));
proxy_cmd($sim, 'shard2', 'stall 0 0');
clean_everywhere('adaptive hedge delay');

# --- a hedge that hangs or fails does not fail the search: shard2's
# primary answers after 400 ms; its standby swallows everything, or
# refuses connections (its open connection reset)
new_session();
$bg->query(q{SET hnsw.hedge_delay = '100ms'});
foreach my $case ([ 'blackhole on', 'blackhole off' ], [ 'refuse on', 'refuse off' ])
{
	my ($on, $off) = @$case;
	proxy_cmd($sim, 'shard2_standby', $on);
	proxy_cmd($sim, 'shard2_standby', 'reset') if $on eq 'refuse on';
	proxy_cmd($sim, 'shard2', 'stall 400 100');
	($exact, $longest) = searches(2);
	ok($exact, "standby $on: the stalled primary's answers are used");
	cmp_ok($longest, '<', 3000, sprintf('without waiting for the standby (longest %.0f ms)', $longest));
	proxy_cmd($sim, 'shard2', 'stall 0 0');
	proxy_cmd($sim, 'shard2_standby', $off);
}
clean_everywhere('failed hedges');

# --- both copies of shard1 slow: hnsw.shard_timeout still bounds the wait
new_session();
$bg->query(q{SET hnsw.hedge_delay = '100ms'; SET hnsw.shard_timeout = '500ms'});
proxy_cmd($sim, $_, 'stall 1500 100') foreach ('shard1', 'shard1_standby');
my $t0 = time();
$bg->query('SELECT * FROM check_searches(1)');
my $secs = time() - $t0;
like($bg->{stderr},
	qr/ERROR:  shard "shard1" of distributed table "items" did not answer\nDETAIL:  No copy answered: server "shard1(_standby)?": no answer within hnsw.shard_timeout \(500 ms\)\./,
	'with both copies stalled the search fails with the shard timeout');
cmp_ok($secs, '<', 1.4, sprintf('in time (%.2f s)', $secs));
proxy_cmd($sim, $_, 'stall 0 0') foreach ('shard1', 'shard1_standby');
clean_everywhere('shard timeout');

# --- hedging off: a stalled copy is avoided, and gets traffic back once
# it is fast again
new_session();
$bg->query('SET hnsw.hedge_delay = 0');
proxy_cmd($sim, 'shard1', 'stall 300 100');
($exact, $longest, @ms) = searches(30);
my $slow = grep { $_ >= 250 } @ms;
ok($exact, 'with hedging off and a copy stalling, searches are exact');
# Round robin would send it 15 of the 30.  It is tried again after a
# number of searches that falls as the healthy copy's own latency and
# deviation rise (src/COORDINATOR, "Order of copies"), as they do on a
# loaded machine: 1 or 2 of 30 in runs at load 6 to 8, so a margin.
cmp_ok($slow, '<=', 5, "the stalled copy is avoided: $slow of 30 searches waited for it");
proxy_cmd($sim, 'shard1', 'stall 0 0');
sub served
{
	my ($name) = @_;
	return (proxy_cmd($sim, $name, 'status') =~ /bytes_to_client=(\d+)/)[0];
}
my %before = map { $_ => served($_) } ('shard1', 'shard1_standby');
my $all_exact = 1;
foreach (1 .. 3)
{
	($exact) = searches(40);
	$all_exact &&= $exact;
}
ok($all_exact, 'and after it recovers');
my %gained = map { $_ => served($_) - $before{$_} } ('shard1', 'shard1_standby');
my $share = $gained{shard1} / ($gained{shard1} + $gained{shard1_standby});
cmp_ok($share, '>', 0.1,
	sprintf('the recovered copy answers again (%.0f%% of shard1\'s bytes in 120 searches)', 100 * $share));
clean_everywhere('avoided and back');

# --- a two-phase batch while a copy is slow: exact (its second phase must
# run where its first did, or it could not find rows by ctid)
new_session();
proxy_cmd($sim, 'shard1', 'stall 200 100');
is($bg->query(q{SELECT count(*) FILTER (WHERE b IS NOT DISTINCT FROM want)
	FROM (SELECT row_number() OVER () AS qid, b FROM batch_ids(20) b) s JOIN truth USING (qid)}),
	'20', 'a two-phase batch is exact while a copy stalls');
proxy_cmd($sim, 'shard1', 'stall 0 0');
clean_everywhere('two-phase batch');

$bg->quit;
stop_sim($sim);
done_testing();
