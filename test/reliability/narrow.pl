# Narrow experiments for the soak (issue 23): some of soak.pl's sessions
# on its table for a few minutes, then the graph compared with a fresh
# build of the same rows: recall@10 at ef_search 40 and 100, verify_index
# (weakly linked and unreachable elements; it takes a SHARE lock, so each
# tenth's look waits for a VACUUM in progress and holds writers back a
# moment) and the index's size.  A measurement to read: it checks only
# that no session met an error.
#
#   NARROW_SESSIONS      comma list of insert1 insert2 delete update update2
#                        search1 search2 filter vacuum (default
#                        update,update2,vacuum)
#   NARROW_SECONDS       how long (default 180)
#   NARROW_ROWS          rows of 32 random dimensions (default 20000)
#   NARROW_UNIFORM       1: updates pick a row uniformly (soak.pl's pick
#                        favours the row after the largest gap of ids)
#   NARROW_UPDATE_SLEEP  seconds between updates (default 0.002)
#   NARROW_VACUUM_SLEEP  seconds between VACUUMs (default 5)
#
# E.g. NARROW_UNIFORM=1 NARROW_UPDATE_SLEEP=0 NARROW_VACUUM_SLEEP=8
# NARROW_SECONDS=200 test/reliability/run narrow (src/README "Vacuum").
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HnswAmTest;

my $seconds = $ENV{NARROW_SECONDS} // 180;
my $nrows = $ENV{NARROW_ROWS} // 20000;
my %want = map { $_ => 1 } split /,/, ($ENV{NARROW_SESSIONS} // 'update,update2,vacuum');
my $vacsleep = $ENV{NARROW_VACUUM_SLEEP} // 5;
my $updsleep = $ENV{NARROW_UPDATE_SLEEP} // 0.002;

my $node = PostgreSQL::Test::Cluster->new('narrow');
$node->init;
$node->append_conf('postgresql.conf', qq{
max_connections = 30
shared_buffers = '256MB'
autovacuum = off
log_min_messages = warning
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');
sub graph
{
	my ($idx) = @_;
	return 'elements, weakly linked, unreachable, dangling links: ' .
	  $node->safe_psql('postgres', qq{SET client_min_messages = warning;
		SELECT elements, weakly_linked_elements, unreachable_elements, dangling_links
		FROM hnsw.verify_index('$idx')});
}
load_random($node, 'seed', 32, $nrows);
$node->safe_psql('postgres', q{
	CREATE TABLE t (id bigint PRIMARY KEY, cat int, v vector(32));
	CREATE SEQUENCE t_id START 1000000;
	INSERT INTO t SELECT id, id % 10, v FROM seed;
	DROP TABLE seed;
	CREATE INDEX t_idx ON t USING hnsw (v);
	CREATE INDEX t_cat ON t (cat);
	CREATE FUNCTION rv() RETURNS vector LANGUAGE sql AS
		$$ SELECT (SELECT array_agg(random() * 100)::real[]
			FROM generate_series(1, 32))::vector $$;
});

my $deadline = "clock_timestamp() + interval '$seconds seconds'";
my $random_row = '(SELECT id FROM t WHERE id >= (random() * (SELECT last_value FROM t_id))::bigint ORDER BY id LIMIT 1)';
my $uniform_row = "(1 + (random() * ($nrows - 1))::bigint)";
my $upd_row = $ENV{NARROW_UNIFORM} ? $uniform_row : $random_row;
my %work = (
	insert1 => "INSERT INTO t VALUES (nextval('t_id'), (random() * 9)::int, rv())",
	insert2 => "INSERT INTO t VALUES (nextval('t_id'), (random() * 9)::int, rv())",
	delete  => "IF d < (SELECT last_value FROM t_id) - 1000000 THEN
					DELETE FROM t WHERE id = $random_row;
					IF FOUND THEN d := d + 1; END IF;
				ELSE
					PERFORM pg_sleep(0.01);
				END IF",
	update  => "UPDATE t SET v = rv() WHERE id = $upd_row; PERFORM pg_sleep($updsleep)",
	update2 => "UPDATE t SET v = rv() WHERE id = $upd_row; PERFORM pg_sleep($updsleep)",
	search1 => 'q := rv(); PERFORM id FROM t ORDER BY v <-> q LIMIT 10',
	search2 => 'q := rv(); PERFORM id FROM t ORDER BY v <-> q LIMIT 10',
	filter  => 'q := rv(); PERFORM id FROM t WHERE cat = 3 ORDER BY v <-> q LIMIT 10',
	vacuum  => undef,
);
my (%h, %out);
for my $name (sort keys %work)
{
	next unless $want{$name};
	if ($name eq 'vacuum')
	{
		$h{$name} = IPC::Run::start(
			[ 'bash', '-c', qq{end=\$((SECONDS + $seconds)); n=0;
				while [ \$SECONDS -lt \$end ]; do
					psql -X -q -v ON_ERROR_STOP=1 -d '@{[ $node->connstr('postgres') ]}' -c 'VACUUM t' || exit 1;
					n=\$((n + 1)); sleep $vacsleep;
				done; echo "done \$n"} ],
			'>', \$out{"o$name"}, '2>', \$out{"e$name"});
		next;
	}
	my $stmt = $work{$name};
	my $body = qq{
		DO \$\$
		DECLARE n bigint := 0; d bigint := 0; q vector; stop timestamptz := $deadline;
		BEGIN
			WHILE clock_timestamp() < stop LOOP
				$stmt;
				n := n + 1;
				COMMIT;
			END LOOP;
			RAISE NOTICE 'done %', n;
		END \$\$};
	my @env = $name =~ /search|filter/ ? ('env', 'PGOPTIONS=-c enable_seqscan=off') : ();
	$h{$name} = IPC::Run::start(
		[ @env, 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', $body ],
		'>', \$out{"o$name"}, '2>', \$out{"e$name"});
}
my @sizes;
for my $tenth (1 .. 10)
{
	sleep($seconds / 10);
	push @sizes, $node->safe_psql('postgres', "SELECT pg_relation_size('t_idx')");
	diag("tenth $tenth: " . graph('t_idx'));
}
my %done;
my $errors = 0;
for my $name (sort keys %h)
{
	eval { $h{$name}->finish; };
	my $err = ($out{"e$name"} // '') . ($out{"o$name"} // '');
	($done{$name}) = $err =~ /done (\d+)/;
	(my $real = $out{"e$name"} // '') =~ s/^.*NOTICE:.*\n?//mg;
	if ($real ne '')
	{
		$errors++;
		diag("$name: $real");
	}
}
diag('statements: ' . join(', ', map { "$_ " . ($done{$_} // '?') } sort keys %done));
diag('before final vacuum: ' . graph('t_idx'));
$node->safe_psql('postgres', 'VACUUM t');
diag('after final vacuum:  ' . graph('t_idx'));
$node->safe_psql('postgres', q{
	SELECT setseed(0.7);
	CREATE TABLE q AS SELECT id, rv() AS v FROM generate_series(1, 500) id;
	CREATE TABLE fresh AS SELECT * FROM t;
	CREATE INDEX fresh_idx ON fresh USING hnsw (v);
});
diag('fresh build:         ' . graph('fresh_idx'));
my $r = recall($node, 't', 'q', '<->', 10);
my $rf = recall($node, 'fresh', 'q', '<->', 10);
my $r100 = recall($node, 't', 'q', '<->', 10, 'SET hnsw.ef_search = 100;');
my $rf100 = recall($node, 'fresh', 'q', '<->', 10, 'SET hnsw.ef_search = 100;');
diag("rows " . $node->safe_psql('postgres', 'SELECT count(*) FROM t') .
	"; recall@10 $r fresh $rf (diff " . sprintf('%+.2f', 100 * ($r - $rf)) . " points); ef100 $r100 fresh $rf100");
diag('index sizes by tenths (MB): ' . join(' ', map { sprintf('%.2f', $_ / 1048576) } @sizes) .
	'; fresh ' . sprintf('%.2f', $node->safe_psql('postgres', "SELECT pg_relation_size('fresh_idx')") / 1048576));
is($errors, 0, 'no session met an error');
$node->stop;
done_testing();
