# hnsw.evaluate_recall and hnsw.exact_search on Fashion-MNIST, checked
# against computations of the tests' own: exact neighbours computed in Perl
# from the dataset's bytes, and recall@10 as the test helpers count it
# (hnsw_test.recall, test/helpers/recall.sql: an index scan against a
# sequential scan, the same for every test).  The index is built deliberately weak
# (m = 4, ef_construction = 8) and searched with ef_search = 10, so that
# recall is well below 1 and a wrong count cannot pass by accident.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HnswAmTest;

my $NBASE = 5000;
my $NQUERY = 40;
my $FMNIST = '/usr/share/datasets/fashion-mnist';

my $node = PostgreSQL::Test::Cluster->new('evaluate');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 128MB\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');

load_fmnist($node, 'base', 'train', $NBASE);
load_fmnist($node, 'q', 't10k', $NQUERY);
$node->safe_psql('postgres',
	'CREATE INDEX ON base USING hnsw (v) WITH (m = 4, ef_construction = 8)');

my $queries = '(SELECT array_agg(v ORDER BY id) FROM q)';

# --- exact_search against distances computed here from the raw images ---

# Read the first $n images of a Fashion-MNIST file set as arrays of bytes.
sub read_images
{
	my ($set, $n) = @_;
	my $gz = "$FMNIST/$set-images-idx3-ubyte.gz";
	my @images;

	open(my $in, '-|', 'gzip', '-dc', $gz) or die "gzip $gz: $!";
	binmode($in);
	read($in, my $header, 16) == 16 or die "short read of $gz";
	for (1 .. $n)
	{
		read($in, my $img, 784) == 784 or die "short read of $gz";
		push @images, [ unpack('C784', $img) ];
	}
	close($in);
	return \@images;
}

my $base = read_images('train', $NBASE);
my $qimg = read_images('t10k', 3);
for my $qi (0 .. 2)
{
	my $qv = $qimg->[$qi];
	my @d;
	for my $b (@$base)
	{
		my $s = 0;
		$s += ($b->[$_] - $qv->[$_])**2 for 0 .. 783;
		push @d, $s;
	}
	my @nearest = (sort { $a <=> $b } @d)[ 0 .. 9 ];

	# pixels are integers, so squared distances are exact in float8
	my $sql = $node->safe_psql('postgres', qq{
		SELECT string_agg(((s.v <-> q.v) ^ 2)::bigint::text, ',' ORDER BY s.v <-> q.v)
		  FROM q, hnsw.exact_search(NULL::base, q.v, 10) s WHERE q.id = $qi});
	is($sql, join(',', @nearest),
		"exact_search distances of query $qi equal a brute force in Perl");
}

# --- evaluate_recall against the tests' own count (test/helpers/recall.sql) ---

# hnsw_test.recall_detail's approximate side must use the index (it raises
# an error otherwise) and find fewer than all, so that equal counts mean
# something
install_recall_helper($node);
my $ours_detail = qq{hnsw_test.recall_detail('base', 'SELECT id, v FROM q ORDER BY id', '<->', 10)};
my $per_query = $node->safe_psql('postgres', qq{
	SET hnsw.ef_search = 10;
	SELECT string_agg(found_rows::text, ',' ORDER BY query_no) FROM $ours_detail});
my $detail = $node->safe_psql('postgres', qq{
	SELECT string_agg(found_rows::text, ',' ORDER BY query_no)
	  FROM hnsw.evaluate_recall_detail('base', 'v', $queries, 10, ef_search => 10, key => 'id')});
is($detail, $per_query, 'evaluate_recall_detail: matches found per query equal the test\'s count');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(exact_rows::text, ',' ORDER BY query_no)
	  FROM hnsw.evaluate_recall_detail('base', 'v', $queries, 10, ef_search => 10, key => 'id')}),
	join(',', (10) x $NQUERY), 'evaluate_recall_detail: 10 exact rows per query');

my $ours = $node->safe_psql('postgres', q{
	SET hnsw.ef_search = 10;
	SELECT hnsw_test.recall('base', 'SELECT id, v FROM q ORDER BY id', '<->', 10)});
my $theirs = $node->safe_psql('postgres', qq{
	SELECT recall FROM hnsw.evaluate_recall('base', 'v', $queries, 10, ef_search => 10, key => 'id')});
note "recall\@10 at ef_search 10: evaluate_recall $theirs, counted by the test $ours";
cmp_ok(abs($theirs - $ours), '<', 1e-12, 'evaluate_recall equals the test\'s recall');
cmp_ok($ours, '<', 0.99, 'the weak index really misses neighbours (the check can fail)');
cmp_ok($ours, '>', 0.5, 'but finds most of them');

$node->safe_psql('postgres', q{
	CREATE TABLE truth AS SELECT q.id AS qid, t.id AS tid, t.v <-> q.v AS d
	  FROM q, LATERAL hnsw.exact_search(NULL::base, q.v, 10) t;
});

# exact_knn (one scan for all queries) agrees with exact_search per query
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM hnsw.exact_knn('base', $queries, 10, key => 'id') x
	  JOIN truth t ON t.qid = x.query_no - 1 AND t.tid = x.key::int}),
	10 * $NQUERY, 'exact_knn finds the rows exact_search finds');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM hnsw.exact_knn('base', $queries, 10, key => 'id') x
	  JOIN truth t ON t.qid = x.query_no - 1 AND t.tid = x.key::int AND t.d = x.distance}),
	10 * $NQUERY, 'with the same distances');

# without key, rows are matched by ctid: the same recall
is($node->safe_psql('postgres', qq{
	SELECT recall FROM hnsw.evaluate_recall('base', 'v', $queries, 10, ef_search => 10)}),
	$theirs, 'matching rows by ctid gives the same recall as by key');

# a larger ef_search finds more; the session's own setting is left alone
my $wide = $node->safe_psql('postgres', qq{
	SET hnsw.ef_search = 17;
	SELECT recall FROM hnsw.evaluate_recall('base', 'v', $queries, 10, ef_search => 200);
	SHOW hnsw.ef_search;});
my ($wide_recall, $ef_after) = split /\n/, $wide;
my $wide_ours = $node->safe_psql('postgres', q{
	SET hnsw.ef_search = 200;
	SELECT hnsw_test.recall('base', 'SELECT id, v FROM q ORDER BY id', '<->', 10)});
cmp_ok(abs($wide_recall - $wide_ours), '<', 1e-12,
	'ef_search => 200: evaluate_recall equals the test\'s recall');
cmp_ok($wide_recall, '>', $theirs, 'and it is higher than at ef_search 10');
is($ef_after, '17', 'evaluate_recall leaves the session\'s hnsw.ef_search as it was');

# exact against exact: recall 1
my ($ret, $stdout, $stderr) = $node->psql('postgres', qq{
	CREATE TABLE plain AS SELECT * FROM base;
	SELECT recall, queries, exact_rows, found_rows
	  FROM hnsw.evaluate_recall('plain', 'v', $queries, 10, key => 'id')});
is($stdout, "1|$NQUERY|" . 10 * $NQUERY . '|' . 10 * $NQUERY,
	'a table without an index has recall 1');
like($stderr, qr/has no hnsw index on column "v"/, 'and a WARNING says why');

$node->stop;
done_testing();
