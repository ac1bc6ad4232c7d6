# Filtered scans through an index with a filter column while other sessions
# insert, delete and vacuum: every walk (from near the query for a 1%
# filter, through scattered passing rows for 3%, through every row for
# 30%) returns LIMIT rows that all pass, with no errors; afterwards the
# index verifies and the filtered results hold their recall against the
# exact filtered search.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HnswAmTest;

my $node = PostgreSQL::Test::Cluster->new('filter_concurrent');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');
$node->safe_psql('postgres', q{
	CREATE TABLE f (id int, g int, v vector(8));
	CREATE PROCEDURE insert_f(first int, n int)
	LANGUAGE plpgsql AS $$
	BEGIN
		FOR i IN first .. first + n - 1 LOOP
			INSERT INTO f SELECT i, i % 100,
				(SELECT array_agg(random() * 100)::real[] FROM generate_series(1, 8))::vector;
			COMMIT;
		END LOOP;
	END $$;
	INSERT INTO f SELECT i, i % 100,
		(SELECT array_agg(random() * 100)::real[] FROM generate_series(1, 8) j WHERE i > 0)::vector
	FROM generate_series(1, 5000) i;
	CREATE INDEX f_idx ON f USING hnsw (v, g);
});

# the walk each filter takes, before any concurrency
my %walk = ('g = 7' => qr/walks only elements that pass the filter, from those near the query$/m,
	'g < 3' => qr/walks only elements that pass the filter$/m,
	'g < 30' => qr/walks every element$/m);
for my $cond (sort keys %walk)
{
	my ($ret, $stdout, $stderr) = $node->psql('postgres', qq{
		SET client_min_messages = debug1;
		SET enable_seqscan = off;
		SELECT count(*) FROM (SELECT id FROM f WHERE $cond
			ORDER BY v <-> '[50,50,50,50,50,50,50,50]' LIMIT 10) s});
	like($stderr, $walk{$cond}, "$cond: DEBUG1 names the walk expected");
}

my @h;
my %out;
for my $i (1 .. 2)
{
	push @h, IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		  '-c', "CALL insert_f(" . ($i * 100000) . ", 800)" ],
		'>', \$out{"o$i"}, '2>', \$out{"e$i"});
}
# filtered scans, each checked, and deletes meanwhile
push @h, IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', q{
		DO $$
		DECLARE
			q vector;
			n bigint;
			pass boolean;
			cond text;
		BEGIN
			PERFORM set_config('enable_seqscan', 'off', true);
			PERFORM set_config('enable_bitmapscan', 'off', true);
			FOR i IN 1 .. 150 LOOP
				q := (SELECT array_agg(random() * 100)::real[] FROM generate_series(1, 8))::vector;
				FOREACH cond IN ARRAY ARRAY['g = 7', 'g < 3', 'g < 30'] LOOP
					EXECUTE format('SELECT count(*), bool_and(%s) FROM
						(SELECT g FROM f WHERE %s ORDER BY v <-> $1 LIMIT 10) s', cond, cond)
						INTO n, pass USING q;
					IF n <> 10 OR NOT pass THEN
						RAISE EXCEPTION '% returned % rows (all passing: %)', cond, n, pass;
					END IF;
				END LOOP;
				DELETE FROM f WHERE id = i * 13;
			END LOOP;
		END $$;
	} ], '>', \$out{o3}, '2>', \$out{e3});
my ($ok, $vacuums) = finish_with_vacuums($node, 'f', @h);
ok($ok, "all sessions succeeded ($vacuums concurrent vacuums)");
is(join('', map { $out{"e$_"} // '' } 1 .. 3), '',
	'no errors: every filtered scan returned LIMIT rows that pass');
$node->safe_psql('postgres', 'VACUUM f');
my ($dangling, $unreachable) = split /\|/, $node->safe_psql('postgres',
	"SELECT dangling_links, unreachable_elements FROM hnsw.verify_index('f_idx')");
is($unreachable, '0', "verify_index passes and the last VACUUM left no element unreachable ($dangling dangling links)");

# recall@10 of each filter against the exact filtered search, 50 queries
for my $cond ('g = 7', 'g < 3', 'g < 30')
{
	my $r = $node->safe_psql('postgres', qq{
		CREATE TEMP TABLE q AS SELECT id, v FROM f WHERE id % 101 = 0 LIMIT 50;
		SET enable_seqscan = off; SET enable_bitmapscan = off;
		CREATE TEMP TABLE a AS SELECT q.id, ARRAY(SELECT f.id FROM f WHERE $cond
			ORDER BY f.v <-> q.v LIMIT 10) ids FROM q;
		SET enable_seqscan = on; SET enable_indexscan = off;
		CREATE TEMP TABLE b AS SELECT q.id, ARRAY(SELECT f.id FROM f WHERE $cond
			ORDER BY f.v <-> q.v LIMIT 10) ids FROM q;
		SELECT round(sum(cardinality(ARRAY(SELECT unnest(a.ids) INTERSECT SELECT unnest(b.ids))))::numeric
			/ sum(cardinality(b.ids)), 3) FROM a JOIN b USING (id)});
	cmp_ok($r, '>=', 0.93, "recall\@10 of '$cond' after the concurrent changes ($r)");
}

$node->stop;
done_testing();
