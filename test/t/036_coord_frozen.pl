# A shard server that freezes (every process stopped with SIGSTOP: what a
# paused VM or a network black hole looks like to the coordinator, which
# can still open TCP or Unix connections into the kernel's backlog but gets
# no answer) must cost a search at most hnsw.shard_timeout per copy tried,
# and the search must stay cancellable: with a frozen standby and with a
# frozen primary the other copy answers; with a frozen shard without a copy
# the search fails in time; statement_timeout and pg_cancel_backend end a
# search that waits without a shard timeout; after thawing, sessions search
# normally (connections that timed out are not reused).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $timeout = 2;    # hnsw.shard_timeout, seconds
my $slack = 3;      # what a search may take on top of it here

# every process of a server, the postmaster first
sub server_pids
{
	my ($node) = @_;
	my $pm = $node->{_pid};
	my @pids = ($pm);
	opendir(my $dh, '/proc') or die "/proc: $!";
	foreach my $p (grep { /^\d+$/ } readdir($dh))
	{
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $stat = <$fh>;
		close $fh;
		push @pids, $p if $stat =~ /^\d+ \(.*\) \S (\d+)/ && $1 == $pm;
	}
	closedir($dh);
	return @pids;
}

my %frozen;
sub freeze
{
	my ($node) = @_;
	my @pids = server_pids($node);
	kill 'STOP', @pids;    # the postmaster first: it forks no more
	$frozen{ $node->name } = [ $node, @pids ];
	return;
}

sub thaw
{
	my ($node) = @_;
	my (undef, @pids) = @{ delete $frozen{ $node->name } };
	kill 'CONT', reverse @pids;
	return;
}

# never leave a stopped server behind, whatever happens to the test
END { kill 'CONT', @{$_}[1 .. $#$_] foreach values %frozen; }

sub rows_sql
{
	my ($lo, $hi, $part) = @_;
	return qq{SELECT i, $part, ARRAY[(i * 7) % 10, (i * 13) % 11, (i * 3) % 5]::vector
		FROM generate_series($lo, $hi) i};
}
my @rows = (rows_sql(1, 60, 1), rows_sql(61, 120, 2));

my %node;
foreach my $i (1, 2)
{
	my $n = PostgreSQL::Test::Cluster->new("shard$i");
	$n->init(allows_streaming => 1);
	$n->start;
	$n->safe_psql('postgres', qq{
		CREATE EXTENSION hnsw;
		CREATE TABLE items (id int, part int, embedding vector(3));
		INSERT INTO items $rows[$i - 1];});
	$node{"shard$i"} = $n;
}
$node{shard1}->backup('b1');
$node{standby1} = PostgreSQL::Test::Cluster->new('standby1');
$node{standby1}->init_from_backup($node{shard1}, 'b1', has_streaming => 1);
$node{standby1}->start;

my $coord = PostgreSQL::Test::Cluster->new('coord');
$coord->init;
$coord->append_conf('postgresql.conf', "hnsw.shard_timeout = '${timeout}s'");
$coord->start;
$coord->safe_psql('postgres', q{
	CREATE EXTENSION hnsw;
	CREATE EXTENSION postgres_fdw;
	CREATE TABLE items (id int, part int, embedding vector(3)) PARTITION BY LIST (part);
	CREATE TABLE truth (id int, part int, embedding vector(3));
});
foreach my $name ('shard1', 'standby1', 'shard2')
{
	$coord->safe_psql('postgres', sprintf(q{
		CREATE SERVER %s FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '%s', port '%d', dbname 'postgres');
		CREATE USER MAPPING FOR CURRENT_USER SERVER %s;},
		$name, $node{$name}->host, $node{$name}->port, $name));
}
foreach my $i (1, 2)
{
	$coord->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE items_$i PARTITION OF items FOR VALUES IN ($i)
			SERVER shard$i OPTIONS (table_name 'items');
		INSERT INTO truth $rows[$i - 1];});
}
$coord->safe_psql('postgres', q{
	SELECT hnsw.add_replica('shard1', 'standby1');
	CREATE FUNCTION got(q vector, k int) RETURNS text LANGUAGE sql AS $$
		SELECT string_agg(round((embedding <-> q)::numeric, 5)::text, ',')
		FROM hnsw.search(NULL::items, q, k) $$;
	CREATE FUNCTION want(q vector, k int) RETURNS text LANGUAGE sql AS $$
		SELECT string_agg(round(d::numeric, 5)::text, ',') FROM
		(SELECT embedding <-> q AS d FROM truth ORDER BY 1 LIMIT k) s $$;
	CREATE FUNCTION got_batch(qs vector[], k int) RETURNS text LANGUAGE sql AS $$
		SELECT string_agg(round(((item).embedding <-> qs[query])::numeric, 5)::text, ','
						  ORDER BY rn)
		FROM (SELECT row_number() OVER () AS rn, query, item
			  FROM hnsw.search_batch(NULL::items, qs, k)) s $$;
	CREATE FUNCTION want_batch(qs vector[], k int) RETURNS text LANGUAGE sql AS $$
		SELECT string_agg(want(q, k), ',' ORDER BY o)
		FROM unnest(qs) WITH ORDINALITY AS u(q, o) $$;
});
$node{shard1}->wait_for_catchup($node{standby1});
my $single = q{SELECT got('[3,4,1]', 8) = want('[3,4,1]', 8)};
my $batch = q{SELECT got_batch(ARRAY['[3,4,1]', '[0,2,5]']::vector[], 8)
	= want_batch(ARRAY['[3,4,1]', '[0,2,5]']::vector[], 8)};

# Run $sql in $bg; return (output, seconds), output 'timed out' if the
# session waited 60 s (and is then of no further use).
sub timed
{
	my ($bg, $sql) = @_;
	my $start = time();
	my $out = eval { $bg->query($sql) };
	$out = 'timed out' unless defined $out;
	return ($out, time() - $start);
}

# Run $single and $batch $n times in each session; return "ok" or the first
# wrong answer, and the longest search.
sub search_all
{
	my ($sessions, $n) = @_;
	my $longest = 0;
	foreach my $bg (@$sessions)
	{
		foreach my $sql (($single, $batch) x $n)
		{
			my ($out, $secs) = timed($bg, $sql);
			$longest = $secs if $secs > $longest;
			return ("[$out]", $longest) if $out ne 't';
		}
	}
	return ('ok', $longest);
}

# two sessions that have searched both copies of shard1
my @bg = map { $coord->background_psql('postgres', on_error_stop => 0, timeout => 60) } 1 .. 2;
$_->set_query_timer_restart foreach @bg;
my ($res, $longest) = search_all(\@bg, 2);
is($res, 'ok', 'searches are exact with every server up');
is($node{standby1}->safe_psql('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'hnsw coordinator'}),
	't', 'the sessions have connections to the standby');

# --- the standby freezes: its copy costs a search the timeout, once
freeze($node{standby1});
($res, $longest) = search_all(\@bg, 2);
is($res, 'ok', 'with the standby frozen, searches of sessions connected to it are exact');
cmp_ok($longest, '<', $timeout + $slack,
	sprintf('and none takes longer than hnsw.shard_timeout and a little (%.1f s)', $longest));
my $start = time();
my $new = $coord->safe_psql('postgres', "$single; $batch");
my $secs = time() - $start;
is($new, "t\nt", 'a new session, which must connect to the frozen standby first or not, is exact');
cmp_ok($secs, '<', 2 * ($timeout + $slack), sprintf('in time (%.1f s)', $secs));
$start = time();
like($coord->safe_psql('postgres', q{
	SELECT string_agg(format('%s:%s:%s', server, answers, coalesce(error, '')), ' ')
	  FROM hnsw.shard_status('items') WHERE shard = 'shard1'}),
	qr/^shard1:t: standby1:f:server "standby1": no answer within hnsw.shard_timeout \(2000 ms\)$/,
	'shard_status reports the frozen standby');
$secs = time() - $start;
cmp_ok($secs, '<', $timeout + $slack, sprintf('in time (%.1f s)', $secs));

thaw($node{standby1});
($res, $longest) = search_all(\@bg, 1);
is($res, 'ok', 'after the thaw the sessions search normally');
ok($node{standby1}->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity
	 WHERE application_name = 'hnsw coordinator' AND state <> 'idle'}),
	'nothing the coordinator gave up on runs on the thawed standby');

# --- the primary freezes: the standby answers
freeze($node{shard1});
($res, $longest) = search_all(\@bg, 2);
is($res, 'ok', 'with the primary frozen, the standby answers every search');
cmp_ok($longest, '<', $timeout + $slack,
	sprintf('failing over within hnsw.shard_timeout (%.1f s)', $longest));

# --- and shard2, which has no copy, freezes too
freeze($node{shard2});
my ($out, $err);
$start = time();
$coord->psql('postgres', q{SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 5)},
	stdout => \$out, stderr => \$err, timeout => 60);
$secs = time() - $start;
like($err, qr/ERROR:  shard "shard2" of distributed table "items" did not answer\nDETAIL:  No copy answered: server "shard2": no answer within hnsw.shard_timeout \(2000 ms\)\./,
	'a frozen shard without a copy is reported');
cmp_ok($secs, '<', 2 * ($timeout + $slack), sprintf('in time (%.1f s)', $secs));
$coord->psql('postgres', q{
	SET hnsw.allow_partial_results = on;
	SELECT count(*) FROM hnsw.search_batch(NULL::items, ARRAY['[1,1,1]', '[2,2,2]']::vector[], 5)},
	stdout => \$out, stderr => \$err, timeout => 60);
is($out, '10', 'with partial results, a batch returns the other shard\'s rows');
like($err, qr/WARNING:  distributed search of "items" returned partial results/, 'with a warning');

# without a shard timeout, statement_timeout and pg_cancel_backend end the wait
$bg[0]->query('SET hnsw.shard_timeout = 0');
$bg[0]->{stderr} = '';
($out, $secs) = timed($bg[0], q{SET statement_timeout = '1s';
	SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 5)});
like($bg[0]->{stderr}, qr/canceling statement due to statement timeout/,
	'statement_timeout ends a search waiting for a frozen shard');
cmp_ok($secs, '<', 1 + $slack, sprintf('in time (%.1f s)', $secs));
$bg[0]->query('RESET statement_timeout');
$bg[0]->{stderr} = '';
# (a batch in two phases: the standby holds the first phase's transaction
# open while shard2 does not answer; the cancel ends it)
$bg[0]->query_until(qr/started/, "\\echo started\n" . q{
	SELECT count(*) FROM hnsw.search_batch(NULL::items, ARRAY['[1,1,1]', '[2,2,2]']::vector[], 5)
	 WHERE (item).embedding IS NOT NULL;} . "\n");
my $held = q{SELECT count(*) FROM pg_stat_activity
	WHERE application_name = 'hnsw coordinator' AND state LIKE 'idle in transaction%'};
ok($node{standby1}->poll_query_until('postgres', $held, '1'),
	'a batch waits for the frozen shard, its first phase open on the standby');
$start = time();
$coord->safe_psql('postgres', q{
	SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	 WHERE query LIKE '%hnsw.search_batch(NULL::items%' AND pid <> pg_backend_pid()});
($out) = timed($bg[0], 'SELECT 1');
$secs = time() - $start;
like($bg[0]->{stderr}, qr/canceling statement due to user request/,
	'pg_cancel_backend ends it');
cmp_ok($secs, '<', $slack, sprintf('at once (%.1f s)', $secs));
ok($node{standby1}->poll_query_until('postgres', $held, '0'),
	'and its transaction on the standby');
$bg[0]->query('RESET hnsw.shard_timeout');

# --- everything thaws: the same sessions search normally
thaw($node{shard2});
thaw($node{shard1});
($res, $longest) = search_all(\@bg, 1);
is($res, 'ok', 'after the thaw the sessions search normally again');
cmp_ok($longest, '<', $timeout + $slack, sprintf('in time (%.1f s)', $longest));

$_->quit foreach @bg;
done_testing();
