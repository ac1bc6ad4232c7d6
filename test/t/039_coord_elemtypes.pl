# Distributed searches of halfvec and sparsevec columns, on shards made by
# hnsw.create_distributed_table (which indexes each with the operator class
# of its type and metric): hnsw.search's vector queries (literals) converted
# to halfvec, hnsw.search_sparse's sparsevec queries of 100,000 dimensions
# (never made dense).  For every metric the exact distributed search returns
# the distances an exact search of all rows returns; the index search finds
# nearly all of them; a batch answers as single searches do.  The shards are
# two databases of the coordinator's own server.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('coord');
$node->init;
$node->start;
$node->safe_psql('postgres', q{CREATE DATABASE shard1; CREATE DATABASE shard2;});
$node->safe_psql("shard$_", 'CREATE EXTENSION hnsw') for 1, 2;
$node->safe_psql('postgres', sprintf(q{
	CREATE EXTENSION hnsw;
	CREATE EXTENSION postgres_fdw;
	CREATE SERVER shard1 FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '%1$s', port '%2$d', dbname 'shard1');
	CREATE SERVER shard2 FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '%1$s', port '%2$d', dbname 'shard2');
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard1;
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard2;},
	$node->host, $node->port));

# 4,000 rows: a 16-d halfvec and a sparsevec of 100,000 dimensions with
# three non-zeros; a copy of them (saved) stays on the coordinator as the
# truth.  One table with both columns, two with one each.
$node->safe_psql('postgres', q{
	CREATE TABLE saved AS
	SELECT g AS id, g % 4 AS part,
		   ARRAY(SELECT sin(g * j * 0.37) + (g % 5) * 0.1
				   FROM generate_series(1, 16) j)::halfvec(16) AS half,
		   format('{%s:%s,%s:%s,%s:1}/100000', g % 97 + 1, 1 + g % 5,
				  g % 89 + 200, (g % 7) - 3.5, 50000 + g % 13)::sparsevec(100000) AS sparse
	  FROM generate_series(1, 4000) g;
	CREATE TABLE docs (id int, part int, half halfvec(16), sparse sparsevec(100000))
		PARTITION BY LIST (part);
	CREATE TABLE docs_local PARTITION OF docs DEFAULT;
	INSERT INTO docs SELECT * FROM saved;
	CREATE TABLE halves (id int, part int, e halfvec(16)) PARTITION BY LIST (part);
	CREATE TABLE halves_local PARTITION OF halves DEFAULT;
	INSERT INTO halves SELECT id, part, half FROM saved;
	CREATE TABLE sparses (id int, part int, e sparsevec(100000)) PARTITION BY LIST (part);
	CREATE TABLE sparses_local PARTITION OF sparses DEFAULT;
	INSERT INTO sparses SELECT id, part, sparse FROM saved;
	SELECT hnsw.create_distributed_table('docs', '{"shard1": [0, 1], "shard2": [2, 3]}',
										 '{"m": 8}', metric => 'cosine', column_name => 'half');
	SELECT hnsw.create_distributed_table('halves', '{"shard1": [0, 1], "shard2": [2, 3]}');
	SELECT hnsw.create_distributed_table('sparses', '{"shard1": [0, 1], "shard2": [2, 3]}',
										 metric => 'ip');});
is($node->safe_psql('shard1', q{
	SELECT string_agg(c.relname || ':' || o.opcname, ' ' ORDER BY c.relname)
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
	  JOIN pg_opclass o ON o.oid = i.indclass[0]
	  JOIN pg_am am ON am.oid = o.opcmethod WHERE am.amname = 'hnsw'}),
	'docs:halfvec_cosine_ops halves:halfvec_l2_ops sparses:sparsevec_ip_ops',
	'each shard table is indexed with the operator class of its type and metric');

my %op = (l2 => '<->', ip => '<#>', cosine => '<=>', l1 => '<+>');

# the distances of the k nearest, in order, to 5 decimals
sub truth
{
	my ($col, $type, $q, $metric, $k) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(round((d)::numeric, 5)::text, ',' ORDER BY d)
		  FROM (SELECT $col $op{$metric} '$q'::$type AS d FROM saved ORDER BY 1 LIMIT $k) s});
}

my @queries = split /\n/, $node->safe_psql('postgres',
	q{SELECT id FROM saved WHERE id % 400 = 7 ORDER BY id});
is(scalar(@queries), 10, 'ten queries');

# exact distributed searches: the truth's distances at every rank
foreach my $metric ('l2', 'ip', 'cosine', 'l1')
{
	my ($bad_half, $bad_sparse) = (0, 0);
	foreach my $id (@queries)
	{
		my ($h, $s) = split /\|/, $node->safe_psql('postgres',
			"SELECT half, sparse FROM saved WHERE id = $id");
		my $got = $node->safe_psql('postgres', qq{
			SELECT string_agg(round((half $op{$metric} '$h'::halfvec)::numeric, 5)::text, ',' ORDER BY n)
			  FROM hnsw.search(NULL::docs, '$h', 10, metric => '$metric', exact => true,
							   column_name => 'half') WITH ORDINALITY s(id, part, half, sparse, n)});
		$bad_half++ unless $got eq truth('half', 'halfvec', $h, $metric, 10);
		$got = $node->safe_psql('postgres', qq{
			SELECT string_agg(round((sparse $op{$metric} '$s'::sparsevec)::numeric, 5)::text, ',' ORDER BY n)
			  FROM hnsw.search_sparse(NULL::docs, '$s', 10, metric => '$metric', exact => true)
			  WITH ORDINALITY s(id, part, half, sparse, n)});
		$bad_sparse++ unless $got eq truth('sparse', 'sparsevec', $s, $metric, 10);
	}
	is($bad_half, 0, "halfvec, $metric: exact search equals the truth for every query");
	is($bad_sparse, 0, "sparsevec, $metric: exact search equals the truth for every query");
}

# index searches: recall@10 (a row counts if no further than the truth's
# 10th distance) over the ten queries, on each table's indexed metric
sub recall
{
	my ($func, $rel, $col, $type, $metric, $source) = @_;
	my $found = 0;
	foreach my $id (@queries)
	{
		my $q = $node->safe_psql('postgres', "SELECT $source FROM saved WHERE id = $id");
		my @truth = split /,/, truth($source, $type, $q, $metric, 10);
		$found += $node->safe_psql('postgres', qq{
			SELECT count(*) FROM hnsw.$func(NULL::$rel, '$q', 10, metric => '$metric',
											 ef_search => 100) s
			 WHERE round((s.$col $op{$metric} '$q'::$type)::numeric, 5) <= $truth[-1]});
	}
	return $found / (10 * scalar(@queries));
}
cmp_ok(recall('search', 'halves', 'e', 'halfvec', 'l2', 'half'), '>=', 0.95,
	'halfvec l2 index search: recall@10 at least 0.95');
cmp_ok(recall('search_sparse', 'sparses', 'e', 'sparsevec', 'ip', 'sparse'), '>=', 0.95,
	'sparsevec ip index search: recall@10 at least 0.95');

# a filtered index search: every row passes the filter (one row in three),
# recall@10 against the exact filtered search
my ($found, $failing) = (0, 0);
foreach my $id (@queries)
{
	my $q = $node->safe_psql('postgres', "SELECT half FROM saved WHERE id = $id");
	my @truth = split /,/, $node->safe_psql('postgres', qq{
		SELECT string_agg(round(d::numeric, 5)::text, ',' ORDER BY d)
		  FROM (SELECT half <-> '$q'::halfvec AS d FROM saved WHERE id % 3 = 0
				 ORDER BY 1 LIMIT 10) t});
	my ($f, $bad) = split /\|/, $node->safe_psql('postgres', qq{
		SELECT count(*) FILTER (WHERE round((e <-> '$q'::halfvec)::numeric, 5) <= $truth[-1]),
			   count(*) FILTER (WHERE id % 3 <> 0)
		  FROM hnsw.search(NULL::halves, '$q', 10, filter => 'id % 3 = 0', ef_search => 100)});
	$found += $f;
	$failing += $bad;
}
is($failing, 0, 'a filtered search returns only rows that pass the filter');
cmp_ok($found / (10 * scalar(@queries)), '>=', 0.95,
	'filtered halfvec index search: recall@10 at least 0.95');

# a batch answers as single searches do; 80 queries: sent grouped by
# locality (coordorder.c)
sub batch_vs_single
{
	my ($func, $rel, $source, $type) = @_;
	my @qs = split /\n/, $node->safe_psql('postgres',
		qq{SELECT $source FROM saved WHERE id % 50 = 7 ORDER BY id});
	my $single = join "\n", map {
		my $i = $_;
		$node->safe_psql('postgres', qq{
			SELECT string_agg($i + 1 || ':' || id, ',') FROM hnsw.$func(NULL::$rel, '$qs[$i]', 5)})
	} 0 .. $#qs;
	my $array = 'ARRAY[' . join(',', map { "'$_'" } @qs) . "]::${type}[]";
	my $batch = $node->safe_psql('postgres', qq{
		SELECT string_agg(query || ':' || (item).id, ',') FROM hnsw.${func}_batch(NULL::$rel,
			$array, 5) GROUP BY query ORDER BY query});
	return ($batch, $single);
}
my ($batch, $single) = batch_vs_single('search', 'halves', 'half', 'vector');
is($batch, $single, 'a batch of 80 on a halfvec column answers as single searches');
($batch, $single) = batch_vs_single('search_sparse', 'sparses', 'sparse', 'sparsevec');
is($batch, $single, 'a batch of 80 sparsevec queries answers as single searches');

# partitions select shards as for vector columns
my $h = $node->safe_psql('postgres', "SELECT half FROM saved WHERE id = $queries[3]");
is($node->safe_psql('postgres', qq{
	SELECT count(*) FILTER (WHERE part = 2) || '/' || count(*)
	  FROM hnsw.search(NULL::halves, '$h', 20, partitions => '{2}')}),
	'20/20', 'a partition-pruned halfvec search returns rows of that value only');

# errors: the column's type decides what a query must be
my ($ret, $out, $err) = $node->psql('postgres', q{
	SELECT * FROM hnsw.search_sparse(NULL::halves, '{1:1}/16', 5)});
like($err, qr/distributed table "halves" has no column of type sparsevec/,
	'a sparsevec query does not search a halfvec column');
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT * FROM hnsw.search(NULL::halves, '[1,2,3]', 5)});
like($err, qr/expected 16 dimensions, not 3/, 'a query of other dimensions is refused');
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT * FROM hnsw.search_sparse(NULL::sparses, '{1:1}/5', 5)});
like($err, qr/expected 100000 dimensions, not 5/, 'so is a sparse one');

done_testing();
