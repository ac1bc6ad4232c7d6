# Concurrent inserts from several sessions, with scans and VACUUM running at
# the same time, into an index that starts empty: no errors, the index
# holds every row and verifies, searches find the rows, recall holds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HnswAmTest;

my $node = PostgreSQL::Test::Cluster->new('concurrent');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');
insert_proc($node);
$node->safe_psql('postgres', q{
	CREATE TABLE t (id int, v vector(16));
	CREATE INDEX t_idx ON t USING hnsw (v);
});
$node->safe_psql('postgres', "CALL insert_rows('t', 1, 200, 16)");

my @h;
my %out;
for my $i (1 .. 4)
{
	my $sql = "CALL insert_rows('t', " . ($i * 100000) . ", 600, 16)";
	push @h, IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$out{"o$i"}, '2>', \$out{"e$i"});
}
# scans and vacuums meanwhile
push @h, IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', q{
		DO $$
		BEGIN
			PERFORM set_config('enable_seqscan', 'off', true);
			FOR i IN 1 .. 200 LOOP
				PERFORM id FROM t ORDER BY v <-> (SELECT array_agg(random() * 100)::real[]
					FROM generate_series(1, 16))::vector LIMIT 10;
				DELETE FROM t WHERE id = i;
			END LOOP;
		END $$;
	} ], '>', \$out{o5}, '2>', \$out{e5});
my ($ok, $vacuums) = finish_with_vacuums($node, 't', @h);
ok($ok, "all sessions succeeded ($vacuums concurrent vacuums)");
is(join('', map { $out{"e$_"} // '' } 1 .. 5), '', 'no errors from any session');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'), 4 * 600, 'all rows inserted');
$node->safe_psql('postgres', 'VACUUM t');
is(rows_not_in_index($node, 't'), '0', 'every row is in the index');
is(missing_rows($node, 't'), '0', 'rows are found by their own vector (all but 0.5%)');
# links to elements a concurrent vacuum freed may stay (dangling, or stale
# once the space is reused): searches treat them as absent (src/README
# "Locking"), and only REINDEX removes them
my ($elements, $dangling, $stale) = split /\|/, $node->safe_psql('postgres',
	"SELECT elements, dangling_links, stale_links FROM hnsw.verify_index('t_idx')");
note "after concurrent inserts and vacuums: $dangling dangling links, $stale stale links";
is($elements, 2400, 'verify_index passes; the last VACUUM left one element per row');
# the last VACUUM, with nothing running beside it, links every element
# the concurrent inserts' pruning left unreachable
is($node->safe_psql('postgres',
	"SELECT unreachable_elements FROM hnsw.verify_index('t_idx')"),
	'0', 'no element is unreachable after the last VACUUM');
my $r = recall($node, 't', 'SELECT id, v FROM t WHERE id % 50 = 0', '<->', 10);
cmp_ok($r, '>=', 0.95, "recall after concurrent inserts ($r)");

$node->stop;
done_testing();
