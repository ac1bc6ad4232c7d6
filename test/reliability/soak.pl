# Soak: SOAK_MINUTES (default 30) of 8 client sessions on one table with an
# hnsw index: two insert, one deletes, one updates vectors, three search
# (unfiltered, and filtered on a column that keeps a tenth of the rows), one
# vacuums.  Every session stops at the first error it meets.  At the end:
# no session met an error, recall@10 (1,000 queries) is within a point of
# the mean of two indexes built afresh on the same rows, and the index stops
# growing: it grows by at most a tenth over the second half of the run
# (VACUUM gives space back to inserts) and ends at most a twentieth over the
# room that the most elements it held at once (sampled every second) take
# in a fresh build.
#
# Run by test/reliability/run (not part of test/run or CI).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HnswAmTest;

my $minutes = $ENV{SOAK_MINUTES} // 30;
my $seconds = int($minutes * 60);

my $node = PostgreSQL::Test::Cluster->new('soak');
$node->init;
$node->append_conf('postgresql.conf', qq{
max_connections = 30
shared_buffers = '256MB'
autovacuum_naptime = '10s'
log_min_messages = warning
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');
load_random($node, 'seed', 32, 20000);
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

# Each session: a loop until the deadline, one statement per transaction.
# The deleter keeps the table at its starting size: it deletes a random row
# only while it has deleted fewer than the inserters have inserted.  The
# updater changes about as many rows a second as the inserters add.
my $deadline = "clock_timestamp() + interval '$seconds seconds'";
my $random_row = '(SELECT id FROM t WHERE id >= (random() * (SELECT last_value FROM t_id))::bigint ORDER BY id LIMIT 1)';
my %work = (
	insert1 => "INSERT INTO t VALUES (nextval('t_id'), (random() * 9)::int, rv())",
	insert2 => "INSERT INTO t VALUES (nextval('t_id'), (random() * 9)::int, rv())",
	delete  => "IF d < (SELECT last_value FROM t_id) - 1000000 THEN
					DELETE FROM t WHERE id = $random_row;
					IF FOUND THEN d := d + 1; END IF;
				ELSE
					PERFORM pg_sleep(0.01);
				END IF",
	update  => "UPDATE t SET v = rv() WHERE id = $random_row; PERFORM pg_sleep(0.002)",
	search1 => 'q := rv(); PERFORM id FROM t ORDER BY v <-> q LIMIT 10',
	search2 => 'q := rv(); PERFORM id FROM t ORDER BY v <-> q LIMIT 10',
	filter  => 'q := rv(); PERFORM id FROM t WHERE cat = 3 ORDER BY v <-> q LIMIT 10',
	vacuum  => undef,	# a shell loop below: VACUUM cannot run in a DO block
);
my %h;
my %out;
for my $name (sort keys %work)
{
	my $stmt = $work{$name};
	my $body;
	if ($name eq 'vacuum')
	{
		# VACUUM cannot run in a DO block: a shell loop of psql calls
		$h{$name} = IPC::Run::start(
			[ 'bash', '-c', qq{end=\$((SECONDS + $seconds)); n=0;
				while [ \$SECONDS -lt \$end ]; do
					psql -X -q -v ON_ERROR_STOP=1 -d '@{[ $node->connstr('postgres') ]}' -c 'VACUUM t' || exit 1;
					n=\$((n + 1)); sleep 5;
				done; echo "done \$n"} ],
			'>', \$out{"o$name"}, '2>', \$out{"e$name"});
		next;
	}
	$body = qq{
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
	# searches through the index, as an application's would be planned
	my @env = $name =~ /search|filter/ ? ('env', 'PGOPTIONS=-c enable_seqscan=off') : ();
	$h{$name} = IPC::Run::start(
		[ @env, 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', $body ],
		'>', \$out{"o$name"}, '2>', \$out{"e$name"});
}

# While the sessions work: the index's size every tenth of the run, and
# every second the elements it holds (live, and dead ones VACUUM has not
# freed yet: hnsw.index_info, page by page): their peak is what the index
# had to make room for.
my $start_size = $node->safe_psql('postgres', "SELECT pg_relation_size('t_idx')");
my @sizes;
my $peak_elements = 0;
for my $tenth (1 .. 10)
{
	my $until = time() + $seconds / 10;
	while (time() < $until)
	{
		my $n = $node->safe_psql('postgres', "SELECT elements FROM hnsw.index_info('t_idx')");
		$peak_elements = $n if $n > $peak_elements;
		sleep(1);
	}
	push @sizes, $node->safe_psql('postgres', "SELECT pg_relation_size('t_idx')");
}

my $errors = 0;
my %done;
for my $name (sort keys %h)
{
	my $ok = eval { $h{$name}->finish; };
	my $err = $out{"e$name"} // '';
	my ($n) = ($err =~ /done (\d+)/, ($out{"o$name"} // '') =~ /done (\d+)/);
	$done{$name} = $n // 0;
	(my $real_err = $err) =~ s/^.*NOTICE:.*\n?//mg;
	if (!$ok || $real_err ne '')
	{
		$errors++;
		diag("$name failed: $real_err");
	}
}
diag('statements per session: ' . join(', ', map { "$_ $done{$_}" } sort keys %done));
is($errors, 0, "no session met an error in $minutes minutes");

# the end state against an index built afresh on the same rows
$node->safe_psql('postgres', 'VACUUM t');
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
my $size = $node->safe_psql('postgres', "SELECT pg_relation_size('t_idx')");
$node->safe_psql('postgres', q{
	CREATE TABLE q AS SELECT id, rv() AS v FROM generate_series(1, 1000) id;
	CREATE TABLE fresh AS SELECT * FROM t;
	CREATE INDEX fresh_idx ON fresh USING hnsw (v);
	CREATE TABLE fresh2 AS SELECT * FROM t ORDER BY random();
	CREATE INDEX fresh2_idx ON fresh2 USING hnsw (v);
});
my $fresh_size = $node->safe_psql('postgres', "SELECT pg_relation_size('fresh_idx')");
my $r_soak = recall($node, 't', 'q', '<->', 10);
my $r_fresh = recall($node, 'fresh', 'q', '<->', 10);
# two fresh builds of the same rows differ too: the yardstick's own spread
my $r_fresh2 = recall($node, 'fresh2', 'q', '<->', 10);
diag("rows $rows; index $size bytes (start $start_size, fresh build $fresh_size); recall@10 $r_soak, fresh $r_fresh, second fresh build $r_fresh2");
# where the bytes are: elements (live, deleted), degree, free pages
for my $idx ('t_idx', 'fresh_idx')
{
	diag("$idx: " . $node->safe_psql('postgres', qq{
		SELECT format('elements %s (live %s, deleted %s), heap tids %s, avg degree %s, min degree %s, pages %s (element pages %s, free %s), %s bytes per element',
			elements, live_elements, deleted_elements, heap_tids,
			round(avg_degree::numeric, 2), min_degree, pages, element_pages,
			free_pages, round(bytes_per_element::numeric))
		  FROM hnsw.index_info('$idx')}));
}
# the heap too holds the rows that died between two VACUUMs
diag('heap ' . $node->safe_psql('postgres', "SELECT pg_relation_size('t')") .
	' bytes, fresh copy ' . $node->safe_psql('postgres', "SELECT pg_relation_size('fresh')"));
my $weak_sql = q{SET client_min_messages = warning;
	SELECT weakly_linked_elements FROM hnsw.verify_index('%s')};
diag('weakly linked elements (fewer than m / 2 links to them): ' .
	$node->safe_psql('postgres', sprintf($weak_sql, 't_idx')) . ', fresh build ' .
	$node->safe_psql('postgres', sprintf($weak_sql, 'fresh_idx')));
# two fresh builds of the same rows differ by up to a point themselves:
# their mean is the yardstick
my $r_mean = ($r_fresh + $r_fresh2) / 2;
diag(sprintf('recall@10 %+.2f points from the mean of two fresh builds', 100 * ($r_soak - $r_mean)));
cmp_ok($r_soak, '>=', $r_mean - 0.01, 'recall@10 within a point of fresh builds');
diag('index size by tenths of the run (MB): ' . join(' ', map { sprintf('%.1f', $_ / 1048576) } @sizes));
# bounded: the index stops growing once inserts reuse what VACUUM frees; it
# holds the rows that died since the last VACUUM too, so it is larger than
# a fresh build of the live rows
cmp_ok($sizes[-1], '<=', 1.1 * $sizes[4], 'the index grows by at most a tenth over the second half of the run');
# bounded by what it had to hold: the peak of elements at a fresh build's
# bytes per element, and a twentieth for pages partly filled (the runs so
# far ended 0 to 1% over)
my $fresh_per_element = $fresh_size / $rows;
diag(sprintf('peak elements held %d (%.2f times the rows), room for them at a fresh build\'s %.0f bytes each %.1f MB; index %.1f MB, %.2f times a fresh build',
	$peak_elements, $peak_elements / $rows, $fresh_per_element,
	$peak_elements * $fresh_per_element / 1048576, $size / 1048576, $size / $fresh_size));
cmp_ok($size, '<=', 1.05 * $peak_elements * $fresh_per_element,
	'index at most a twentieth over the room its peak of elements takes in a fresh build');
is($node->safe_psql('postgres', "SELECT dangling_links FROM hnsw.verify_index('t_idx')"),
	'0', 'verify_index clean at the end');
is(rows_not_in_index($node, 't'), '0', 'every row has an element in the index at the end');
is(missing_rows($node, 't'), '0', 'every row (all but 0.5%) found by its own vector at the end');

$node->stop;
done_testing();
