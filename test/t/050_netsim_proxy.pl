# The network simulation (test/netsim): the fault-injecting proxy measured
# against a real server (latency within its bounds, stalls, bandwidth,
# reset, refuse, black hole, back to normal), and a smoke run of the
# harness (test/perl/HnswSim.pm): two shards with a standby each, every
# server behind a proxy, searches from the coordinator under added latency
# and with a primary refusing or swallowing connections.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use HnswSim;

my $sim = start_sim(shards => 2, standbys => 1, rows => 1000, dim => 16,
	queries => 50);
my $proxy = $sim->{proxy_bin};
my $connstr = "host=127.0.0.1 port=$sim->{proxy}{shard1}{port} dbname=postgres";

program_help_ok($proxy);
program_options_handling_ok($proxy);
command_fails_like([ $proxy, '-l', '1', '-t', '10.0.0.1:5432', '-c', '2' ],
	qr/invalid target address "10.0.0.1:5432"/, 'addresses off loopback are refused');

# Run $n "SELECT 1" through the proxy of shard1 in one psql session; return
# their round-trip times in ms (psql's \timing), sorted.
sub round_trips
{
	my ($n) = @_;
	my ($out, $err) = ('', '');
	my $script = "\\timing on\n" . ("SELECT 1;\n" x $n);
	IPC::Run::run([ 'psql', '-X', '-q', '-d', $connstr ], '<', \$script,
		'>', \$out, '2>', \$err)
	  or die "psql failed: $err";
	return sort { $a <=> $b } $out =~ /^Time: ([\d.]+) ms/mg;
}

sub median { my @v = @_; return $v[ int($#v / 2) ]; }

# Run one statement through the proxy; return (ok, elapsed s, stderr).
sub timed_psql
{
	my ($sql, $conn) = @_;
	my ($out, $err) = ('', '');
	my $t0 = time();
	my $ok = IPC::Run::run([ 'psql', '-X', '-Atq', '-d', $conn // $connstr, '-c', $sql ],
		'>', \$out, '2>', \$err);
	return ($ok, time() - $t0, $err);
}

# --- latency: 10 ms +- 2 ms each way, so a round trip gains 16 to 24 ms
my @base = round_trips(20);
cmp_ok(median(@base), '<', 5, 'a round trip through the quiet proxy is fast');
proxy_cmd($sim, 'shard1', 'latency 10 2');
my @slow = round_trips(30);
cmp_ok($slow[0], '>=', 16, 'no round trip beats twice the latency minus the jitter');
cmp_ok(median(@slow), '>=', 18, 'median round trip at least twice the latency, less a little');
cmp_ok(median(@slow), '<=', 30, 'median round trip at most twice the latency plus jitter and noise');
note sprintf('latency 10 +- 2 ms each way: round trips min %.1f, median %.1f, max %.1f ms',
	$slow[0], median(@slow), $slow[-1]);

# --- stalls: every query, then half of them
proxy_cmd($sim, 'shard1', 'latency 0');
proxy_cmd($sim, 'shard1', 'stall 100 100');
my @stalled = round_trips(3);
cmp_ok($stalled[0], '>=', 100, 'a stall on every query holds each for 100 ms');
proxy_cmd($sim, 'shard1', 'stall 100 50');
my $n_stalled = grep { $_ >= 100 } round_trips(40);
ok($n_stalled >= 8 && $n_stalled <= 32, "stalls on 50% of 40 queries: $n_stalled stalled");
proxy_cmd($sim, 'shard1', 'stall 0 0');

# --- bandwidth: 100,000 bytes at 100,000 bytes/s take a second
proxy_cmd($sim, 'shard1', 'bandwidth 100000');
my ($ok, $secs) = timed_psql(q{SELECT repeat('x', 100000)});
ok($ok && $secs >= 1.0 && $secs < 5, sprintf('100 kB at 100 kB/s took %.2f s', $secs));
proxy_cmd($sim, 'shard1', 'bandwidth 0');

# --- reset: an open session loses its connection with an error
{
	my ($in, $out, $err) = ('', '', '');
	my $h = IPC::Run::start([ 'psql', '-XAtq', '-d', $connstr ],
		'<', \$in, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	$in .= "SELECT 'before reset';\n";
	pump_until($h, IPC::Run::timeout(60), \$out, qr/before reset/);
	like(proxy_cmd($sim, 'shard1', 'reset'), qr/^reset [1-9]\d* connections$/,
		'reset closes the connections');
	$in .= "SELECT 'after reset';\n";
	$h->finish;
	like($err, qr/server closed the connection unexpectedly|connection to server was lost/,
		'the session ends with an error');
	unlike($out, qr/after reset/, 'and runs nothing after the reset');
}

# --- refuse: connecting fails at once
proxy_cmd($sim, 'shard1', 'refuse on');
my $err;
($ok, $secs, $err) = timed_psql('SELECT 1');
ok(!$ok && $err =~ /Connection refused/, 'refuse on: the connection is refused');
proxy_cmd($sim, 'shard1', 'refuse off');
($ok) = timed_psql('SELECT 1');
ok($ok, 'refuse off: connections work again');

# --- black hole: accepted, never answered, so connect_timeout fires
proxy_cmd($sim, 'shard1', 'blackhole on');
($ok, $secs, $err) = timed_psql('SELECT 1', "$connstr connect_timeout=2");
ok(!$ok && $err =~ /timeout expired/ && $secs >= 1,
	sprintf('black hole: connect_timeout fires (after %.1f s)', $secs));

# --- normal undoes everything
proxy_cmd($sim, 'shard1', 'latency 20 1');
proxy_cmd($sim, 'shard1', 'normal');
cmp_ok(median(round_trips(20)), '<', 5, 'normal: round trips are fast again');
like(proxy_cmd($sim, 'shard1', 'status'),
	qr/^latency=0.000 jitter=0.000 bandwidth=0 stall=0.000 stall_percent=0 refuse=off blackhole=off .* resets=1$/,
	'status shows the proxy back to normal, and the reset counted');
like(eval { proxy_cmd($sim, 'shard1', 'latency fast') } // $@, qr/error: usage: latency MS/,
	'a malformed command is an error');

# --- the harness: searches through the proxies
my $coord = $sim->{coord};
is($coord->safe_psql('postgres', 'SELECT count(*), count(DISTINCT part) FROM items'),
	'2000|4', 'the coordinator reads both shards through their proxies');
is($coord->safe_psql('postgres',
		'SELECT count(*) FROM hnsw.search(NULL::items, (SELECT v FROM queries WHERE qid = 1), 10)'),
	'10', 'a distributed search returns k rows');

my $r = workload($sim, clients => 2, seconds => 2);
ok($r->{ok} && $r->{queries} > 0 && !$r->{aborted},
	"a workload of 2 clients ran $r->{queries} searches");
$r = workload($sim, partitions => 'own', transactions => 10);
ok($r->{ok} && $r->{queries} == 10, 'a workload searching each query\'s own partition');
$r = workload($sim, transactions => 10, sql => q{SELECT count(*) FROM
	hnsw.search_batch(NULL::items, ARRAY[(SELECT v FROM queries WHERE qid = :q)]::vector[], 5)});
ok($r->{ok} && $r->{queries} == 10, 'a workload of another statement');
$r = workload($sim, transactions => 10, sql => 'SELECT 1/0');
ok(!$r->{ok} && $r->{aborted} == 1 && $r->{queries} == 0, 'a failing workload says so');

proxy_cmd($sim, 'all', 'latency 5');
$r = workload($sim, clients => 1, transactions => 20);
ok($r->{ok} && $r->{queries} == 20, 'a workload of 20 searches under 5 ms latency');
cmp_ok($r->{p50}, '>=', 10, 'each search waits for a 10 ms round trip to its shards');
note sprintf('5 ms each way: p50 %.2f ms, p99 %.2f ms', $r->{p50}, $r->{p99});
proxy_cmd($sim, 'all', 'normal');

# a primary that refuses connections, or swallows them: the search gets its
# shard's rows from the standby, through the standby's proxy
sub standby_bytes
{
	my ($shard) = @_;
	return (proxy_cmd($sim, "${shard}_standby", 'status') =~ /bytes_to_client=(\d+)/)[0];
}
my $search = q{SET hnsw.shard_timeout = '1s';
	SELECT count(*) FROM hnsw.search(NULL::items, (SELECT v FROM queries WHERE qid = 2), 10)};
foreach my $case ([ 'shard1', 'refuse on', 'refuse off' ],
	[ 'shard2', 'blackhole on', 'blackhole off' ])
{
	my ($shard, $on, $off) = @$case;
	my $before = standby_bytes($shard);
	proxy_cmd($sim, $shard, $on);
	is($coord->safe_psql('postgres', $search), '10', "$shard: $on, the search answers");
	cmp_ok(standby_bytes($shard), '>', $before, "$shard: $on, its standby answered");
	proxy_cmd($sim, $shard, $off);
}
proxy_cmd($sim, 'all', 'normal');

stop_sim($sim);
done_testing();
