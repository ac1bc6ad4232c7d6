# A shard whose host stops answering in the middle of a search: the
# coordinator abandons it after hnsw.shard_timeout and must not then hang in
# a cancel request (PostgreSQL 15's PQcancel connects with a blocking
# connect(), which a silent host holds for the TCP connect timeout, minutes,
# and then waits for the server to close the socket): it closes the
# connection without a cancel request.  (test/t/036 freezes real servers.)
#
# The "host" is a TCP proxy in front of the shard, run by this test.  Stopping
# the proxy process with SIGSTOP makes it silent: the coordinator's existing
# connection gets no answer, and once the proxy's accept queue is full the
# kernel drops new connection attempts (SYNs) the way a vanished host does.
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $shard = PostgreSQL::Test::Cluster->new('shard');
$shard->init;
$shard->start;
$shard->safe_psql('postgres', q{
	CREATE EXTENSION hnsw;
	CREATE TABLE items (id int, part int, embedding vector(3));
	INSERT INTO items SELECT i, 1, ARRAY[i, i % 7, i % 3]::vector FROM generate_series(1, 50) i;
});

# the proxy on TCP loopback: forwards every connection to the shard's Unix
# socket, byte for byte
my $proxy_port = PostgreSQL::Test::Cluster::get_free_port();
my $listener = IO::Socket::INET->new(
	LocalAddr => '127.0.0.1',
	LocalPort => $proxy_port,
	Listen => 1,
	ReuseAddr => 1) or die "cannot listen on $proxy_port: $!";
my $proxy_pid = fork();
die "fork: $!" unless defined $proxy_pid;
if ($proxy_pid == 0)
{
	my $sel = IO::Select->new($listener);
	my %peer;
	while (1)
	{
		foreach my $s ($sel->can_read)
		{
			if ($s == $listener)
			{
				my $c = $listener->accept or next;
				my $u = IO::Socket::UNIX->new(
					Peer => $shard->host . '/.s.PGSQL.' . $shard->port)
				  or do { close $c; next; };
				$peer{$c} = $u;
				$peer{$u} = $c;
				$sel->add($c, $u);
				next;
			}
			my $buf;
			my $n = sysread($s, $buf, 65536);
			my $other = $peer{$s};
			if (!$n)
			{
				$sel->remove($s, $other);
				delete $peer{$s};
				delete $peer{$other};
				close $s;
				close $other;
				next;
			}
			syswrite($other, $buf);
		}
	}
	exit 0;
}
close $listener;

my $coord = PostgreSQL::Test::Cluster->new('coord');
$coord->init;
$coord->start;
$coord->safe_psql('postgres', qq{
	CREATE EXTENSION hnsw;
	CREATE EXTENSION postgres_fdw;
	CREATE SERVER shard FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '127.0.0.1', port '$proxy_port', dbname 'postgres');
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard;
	CREATE TABLE items (id int, part int, embedding vector(3)) PARTITION BY LIST (part);
	CREATE FOREIGN TABLE items_1 PARTITION OF items FOR VALUES IN (1)
		SERVER shard OPTIONS (table_name 'items');
});

my $bg = $coord->background_psql('postgres', on_error_stop => 0);
is($bg->query(q{SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 5)}), '5',
	'the search works through the proxy');

# the host goes silent: the proxy stops, and its accept queue is filled
kill 'STOP', $proxy_pid;
my @fillers;
foreach (1 .. 4)
{
	my $f = IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $proxy_port,
		Blocking => 0);
	push @fillers, $f if $f;
}

$bg->{stderr} = '';
$bg->query_safe(q{
	SET hnsw.shard_timeout = '1s';
	SET client_min_messages = debug1});
my $start = time();
$bg->query(q{SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 5)});
my $elapsed = time() - $start;
like($bg->{stderr}, qr/shard "shard" of distributed table "items" did not answer/,
	'the silent shard is reported');
like($bg->{stderr}, qr/abandoning server "shard" for shard "shard": no answer within hnsw.shard_timeout/,
	'after hnsw.shard_timeout');
# 1 s of hnsw.shard_timeout; a blocking cancel would take the TCP connect
# timeout (over a minute), or for ever
cmp_ok($elapsed, '<', 4, "the search ends soon after hnsw.shard_timeout ($elapsed s)");

kill 'CONT', $proxy_pid;
kill 'KILL', $proxy_pid;
waitpid($proxy_pid, 0);
close $_ foreach @fillers;
$bg->quit;
done_testing();
