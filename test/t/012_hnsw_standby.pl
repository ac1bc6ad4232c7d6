# A streaming standby answers hnsw queries exactly as its primary does after
# index build, inserts, deletes and VACUUM, filtered queries included (also
# through a filter column): every page change is WAL-logged.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HnswAmTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', 'CREATE EXTENSION hnsw');
insert_proc($primary);
load_random($primary, 't', 16, 2000);
$primary->safe_psql('postgres', 'CREATE INDEX t_idx ON t USING hnsw (v)');
$primary->safe_psql('postgres', "CALL insert_rows('t', 10001, 300, 16)");
$primary->safe_psql('postgres', 'DELETE FROM t WHERE id % 3 = 0');
$primary->safe_psql('postgres', 'VACUUM t');
$primary->safe_psql('postgres', "CALL insert_rows('t', 20001, 300, 16)");
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

my $query = q{
	SET enable_seqscan = off;
	SELECT q.id, array_agg(t.id ORDER BY t.ord)
	FROM (SELECT id, v FROM t WHERE id % 97 = 1) q,
		LATERAL (SELECT id, row_number() OVER () AS ord FROM
			(SELECT id FROM t ORDER BY t.v <-> q.v LIMIT 10) s) t
	GROUP BY q.id ORDER BY q.id;
};
my $on_primary = $primary->safe_psql('postgres', $query);
my $on_standby = $standby->safe_psql('postgres', $query);
my $nq = $primary->safe_psql('postgres', 'SELECT count(*) FROM t WHERE id % 97 = 1');
is(scalar(grep { /^\d+\|\{(\d+,){9}\d+\}$/ } split(/\n/, $on_primary)), $nq,
	"the primary answers each of the $nq queries with 10 rows");
is($on_standby, $on_primary, 'the standby returns the same neighbours as the primary');

# a filtered query (a fifth of the rows pass): the scan searches on until
# LIMIT rows pass, on the standby as on the primary, and finds the exact
# filtered neighbours (recall against a sorted sequential scan)
my $filtered = q{
	SET enable_seqscan = off; SET enable_bitmapscan = off;
	SELECT q.id, array_agg(t.id ORDER BY t.ord)
	FROM (SELECT id, v FROM t WHERE id % 97 = 1) q,
		LATERAL (SELECT id, row_number() OVER () AS ord FROM
			(SELECT id FROM t WHERE id % 5 = 0 ORDER BY t.v <-> q.v LIMIT 10) s) t
	GROUP BY q.id ORDER BY q.id;
};
my $f_primary = $primary->safe_psql('postgres', $filtered);
is(scalar(grep { /^\d+\|\{(\d+,){9}\d+\}$/ } split(/\n/, $f_primary)), $nq,
	"the primary answers each of the $nq filtered queries with 10 rows");
is($standby->safe_psql('postgres', $filtered), $f_primary,
	'the standby returns the same filtered neighbours as the primary');
# (the distance plus 0 is no index order: a sort of every row that passes)
my $recall_sql = q{
	SET enable_seqscan = off; SET enable_bitmapscan = off;
	SELECT sum((SELECT count(*) FROM unnest(h.ids) i WHERE i = ANY (e.ids)))::float8 /
		   sum(cardinality(e.ids))
	FROM (SELECT id, v FROM t WHERE id % 97 = 1) q,
		LATERAL (SELECT array_agg(id) AS ids FROM
			(SELECT id FROM t WHERE id % 5 = 0 ORDER BY t.v <-> q.v LIMIT 10) s) h,
		LATERAL (SELECT array_agg(id) AS ids FROM
			(SELECT id FROM t WHERE id % 5 = 0 ORDER BY (t.v <-> q.v) + 0 LIMIT 10) s) e;
};
my $recall = $standby->safe_psql('postgres', $recall_sql);
cmp_ok($recall, '>=', 0.95, "filtered recall\@10 on the standby against exact search: $recall");

like($standby->safe_psql('postgres', q{
	SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 5;
}), qr/Index Scan using t_idx/, 'the standby uses the index');
is(rows_not_in_index($standby, 't'), '0', 'the standby\'s index holds every row');
is(missing_rows($standby, 't'), '0',
	'the standby finds the rows by their own vector (all but 0.5%)');
# verify_index takes a ShareLock, which a standby cannot: verify the
# primary, and read the standby's pages with index_info, which checks each
is($primary->safe_psql('postgres',
	"SELECT dangling_links + stale_links FROM hnsw.verify_index('t_idx')"),
	'0', 'verify_index passes on the primary, no dangling or stale link');
my $shape = "SELECT elements, live_elements, heap_tids, max_level, entry_point, pages, avg_degree FROM hnsw.index_info('t_idx')";
is($standby->safe_psql('postgres', $shape), $primary->safe_psql('postgres', $shape),
	'the standby index has the primary index\'s shape');

# a filter column (src/README "Filter column"): the index holds g, the scan
# tests g = 0 itself; built, then inserts (NULL, then set), deletes and
# VACUUM, and the standby answers as the primary, near the exact answer
$primary->safe_psql('postgres', q{
	ALTER TABLE t ADD COLUMN g int;
	UPDATE t SET g = id % 5;
	DROP INDEX t_idx;
	CREATE INDEX t_g_idx ON t USING hnsw (v, g);
});
$primary->safe_psql('postgres', "CALL insert_rows('t', 30001, 300, 16)");
$primary->safe_psql('postgres', q{
	UPDATE t SET g = id % 5 WHERE g IS NULL AND id % 2 = 0;
	DELETE FROM t WHERE id % 7 = 0;
	VACUUM t;
});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
(my $g_filtered = $filtered) =~ s/id % 5 = 0/g = 0/;
my $g_primary = $primary->safe_psql('postgres', $g_filtered);
is(scalar(grep { /^\d+\|\{(\d+,){9}\d+\}$/ } split(/\n/, $g_primary)), $nq,
	"the primary answers each of the $nq queries on the filter column with 10 rows");
is($standby->safe_psql('postgres', $g_filtered), $g_primary,
	'the standby returns the same neighbours on the filter column as the primary');
(my $g_recall = $recall_sql) =~ s/id % 5 = 0/g = 0/g;
$recall = $standby->safe_psql('postgres', $g_recall);
cmp_ok($recall, '>=', 0.95, "recall\@10 of g = 0 through the filter column on the standby: $recall");
like($standby->safe_psql('postgres', q{
	SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT id FROM t WHERE g = 0 ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]' LIMIT 5;
}), qr/Index Cond: \(g = 0\)/, 'the standby tests g = 0 in the index scan');
is($primary->safe_psql('postgres',
	"SELECT dangling_links + stale_links FROM hnsw.verify_index('t_g_idx')"),
	'0', 'verify_index passes on the index with a filter column');

$standby->stop;
$primary->stop;
done_testing();
