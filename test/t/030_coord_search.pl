# Distributed search on real servers: a coordinator and three shards.
# hnsw.search must return exactly the global top-k an independent exact
# search over all rows returns (k below the candidates, ties, partition
# subsets, k above a shard's rows, empty partitions), in batch and exact
# mode too; the caller's ef_search reaches the shards; non-superusers need
# a password that is really used.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HnswAmTest;

# rows: id, part, a 4-d vector of small integers (many equal distances)
sub rows_sql
{
	my ($lo, $hi, $part_expr) = @_;
	return qq{SELECT i, $part_expr, ARRAY[(i * 7) % 10, (i * 13) % 11,
			(i * 17) % 7, (i * 3) % 5]::vector
		FROM generate_series($lo, $hi) i};
}

my @shards;
foreach my $name ('shard1', 'shard2', 'shard3')
{
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->start;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION hnsw;
		CREATE TABLE items (id int, part int, embedding vector(4));
		CREATE TABLE items_empty (id int, part int, embedding vector(4));
	});
	push @shards, $node;
}
# shard1: parts 0 and 1; shard2: parts 2 and 3, and an empty partition 6 in
# a second table; shard3: 5 rows of part 4, none of part 5
my %rows = (
	0 => rows_sql(1, 300, 'i % 2'),
	1 => rows_sql(301, 600, '2 + i % 2'),
	2 => rows_sql(601, 605, '4'));
$shards[$_]->safe_psql('postgres', "INSERT INTO items $rows{$_}") for 0 .. 2;
# equal vectors on every shard, to see how ties are ordered
$shards[$_]->safe_psql('postgres',
	"INSERT INTO items VALUES (1001 + $_, 2 * $_, '[50,50,50,50]')") for 0 .. 2;

my $coord = PostgreSQL::Test::Cluster->new('coord');
$coord->init;
$coord->start;
$coord->safe_psql('postgres', q{
	CREATE EXTENSION hnsw;
	CREATE EXTENSION postgres_fdw;
	CREATE TABLE items (id int, part int, embedding vector(4)) PARTITION BY LIST (part);
	CREATE TABLE truth (id int, part int, embedding vector(4));
});
foreach my $i (0 .. 2)
{
	my $s = $shards[$i];
	my $n = $i + 1;
	$coord->safe_psql('postgres', sprintf(q{
		CREATE SERVER shard%d FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '%s', port '%d', dbname 'postgres');
		CREATE USER MAPPING FOR CURRENT_USER SERVER shard%d;
		INSERT INTO truth %s;
		INSERT INTO truth VALUES (1001 + %d, 2 * %d, '[50,50,50,50]');},
		$n, $s->host, $s->port, $n, $rows{$i}, $i, $i));
}
$coord->safe_psql('postgres', q{
	CREATE FOREIGN TABLE items_1 PARTITION OF items FOR VALUES IN (0, 1)
		SERVER shard1 OPTIONS (table_name 'items');
	CREATE FOREIGN TABLE items_2 PARTITION OF items FOR VALUES IN (2, 3)
		SERVER shard2 OPTIONS (table_name 'items');
	CREATE FOREIGN TABLE items_3 PARTITION OF items FOR VALUES IN (4, 5)
		SERVER shard3 OPTIONS (table_name 'items');
	CREATE FOREIGN TABLE items_6 PARTITION OF items FOR VALUES IN (6)
		SERVER shard2 OPTIONS (table_name 'items_empty');
});

# Compare one search with the exact answer computed from truth: the same
# number of rows, the same distance at every rank, every row a real row,
# no row twice.
$coord->safe_psql('postgres', q{
	CREATE FUNCTION check_search(q vector, k int, parts int[], exact bool)
	RETURNS text LANGUAGE sql AS $$
	WITH s AS (SELECT row_number() OVER () AS rn, x.*
			   FROM hnsw.search(NULL::items, q, k, partitions => parts,
								exact => exact) x),
		 t AS (SELECT row_number() OVER (ORDER BY embedding <-> q, id) AS rn,
					  embedding <-> q AS d
			   FROM truth WHERE parts IS NULL OR part = ANY (parts)
			   ORDER BY embedding <-> q, id LIMIT k)
	SELECT format('%s rows, expected %s; %s wrong distances; %s unknown rows; %s duplicates',
		(SELECT count(*) FROM s), (SELECT count(*) FROM t),
		(SELECT count(*) FROM s FULL JOIN t USING (rn)
		  WHERE (s.embedding <-> q) IS DISTINCT FROM t.d),
		(SELECT count(*) FROM s WHERE NOT EXISTS
			(SELECT FROM truth u WHERE u.id = s.id AND u.part = s.part
			  AND u.embedding = s.embedding)),
		(SELECT count(*) - count(DISTINCT id) FROM s))
	$$;
});

my @queries = ('[0,0,0,0]', '[9,10,6,4]', '[3,5,2,1]', '[5,5,3,2]', '[50,50,50,49]');
my @partsets = ('NULL', q{'{0}'}, q{'{1,4}'}, q{'{2,6}'}, q{'{4}'}, q{'{5}'}, q{'{6,5}'}, q{'{3,2,1,0}'});
my $failures = 0;
my $checks = 0;
foreach my $q (@queries)
{
	foreach my $k (1, 7, 40, 700)
	{
		foreach my $parts (@partsets)
		{
			foreach my $exact ('false', 'true')
			{
				my $got = $coord->safe_psql('postgres',
					"SELECT check_search('$q', $k, $parts, $exact)");
				my ($n) = $got =~ /^(\d+) rows/;
				my $want = "$n rows, expected $n; 0 wrong distances; 0 unknown rows; 0 duplicates";
				$checks++;
				if ($got ne $want)
				{
					$failures++;
					diag("q=$q k=$k parts=$parts exact=$exact: $got");
				}
			}
		}
	}
}
is($failures, 0, "$checks searches equal the exact global top-k");

# A filter: every shard's k nearest rows that pass it, merged into the same
# distances as the exact filtered search of all rows (exact => true); an
# index search returns as many rows, each passing the filter.
$coord->safe_psql('postgres', q{
	CREATE FUNCTION check_filtered(q vector, k int, filt text, exact bool)
	RETURNS text LANGUAGE plpgsql AS $$
	DECLARE
		got text;
		want text;
		n bigint;
		want_n bigint;
		failing bigint;
	BEGIN
		EXECUTE format('SELECT string_agg((embedding <-> $1)::text, '','' ORDER BY n), count(*),
							   count(*) FILTER (WHERE NOT (%s))
						  FROM hnsw.search(NULL::items, $1, $2, exact => $3, filter => $4)
							   WITH ORDINALITY s(id, part, embedding, n)', filt)
			INTO got, n, failing USING q, k, exact, filt;
		EXECUTE format('SELECT string_agg(d::text, '','' ORDER BY d), count(*)
						  FROM (SELECT embedding <-> $1 AS d FROM truth WHERE %s
								 ORDER BY 1 LIMIT $2) t', filt)
			INTO want, want_n USING q, k;
		IF failing = 0 AND n = want_n AND (NOT exact OR got IS NOT DISTINCT FROM want) THEN
			RETURN 'ok';
		END IF;
		RETURN format('got %s (%s rows, %s failing the filter), want %s (%s rows)',
					  got, n, failing, want, want_n);
	END $$;
});
$failures = 0;
$checks = 0;
foreach my $filter ('part = 1', 'id % 3 = 0', 'id BETWEEN 100 AND 120',
	'part IN (0, 4) AND id % 2 = 1', 'id > 590 OR id < 10', 'false')
{
	foreach my $q (@queries)
	{
		foreach my $k (1, 7, 40)
		{
			foreach my $exact ('false', 'true')
			{
				(my $lit = $filter) =~ s/'/''/g;
				my $got = $coord->safe_psql('postgres',
					"SELECT check_filtered('$q', $k, '$lit', $exact)");
				$checks++;
				next if $got eq 'ok';
				$failures++;
				diag("filter=$filter q=$q k=$k exact=$exact: $got");
			}
		}
	}
}
is($failures, 0, "$checks filtered searches equal the exact filtered top-k");
is($coord->safe_psql('postgres', q{
	SELECT string_agg(query || ':' || (item).id, ',' ORDER BY query, ord)
	  FROM hnsw.search_batch(NULL::items, ARRAY['[0,0,0,0]', '[9,10,6,4]']::vector[], 5,
							 filter => 'id % 4 = 1') WITH ORDINALITY b(query, item, ord)}),
	$coord->safe_psql('postgres', q{
	SELECT string_agg(q || ':' || id, ',' ORDER BY q, ord)
	  FROM unnest(ARRAY['[0,0,0,0]', '[9,10,6,4]']::vector[]) WITH ORDINALITY u(v, q),
		   LATERAL hnsw.search(NULL::items, v, 5, filter => 'id % 4 = 1') WITH ORDINALITY s(id, part, embedding, ord)}),
	'a filtered batch answers as filtered single searches');

is($coord->safe_psql('postgres',
		q{SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1,1]', 700)}),
	'608', 'k above the number of rows returns every row');
is($coord->safe_psql('postgres',
		q{SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1,1]', 10, partitions => '{4}')}),
	'6', 'k above a shard\'s rows returns that shard\'s rows');
is($coord->safe_psql('postgres',
		q{SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1,1]', 10, partitions => '{6,5}')}),
	'0', 'empty partitions return nothing');

# equal distances: in shard order (partition bound order), the same every time
is($coord->safe_psql('postgres',
		q{SELECT string_agg(id::text, ',') FROM hnsw.search(NULL::items, '[50,50,50,50]', 2)}),
	'1001,1002', 'ties are broken by shard order');
is($coord->safe_psql('postgres',
		q{SELECT string_agg(id::text, ',') FROM hnsw.search(NULL::items, '[50,50,50,50]', 3)}),
	'1001,1002,1003', 'all tied rows in shard order');
my $order_sql = q{SELECT string_agg(id::text, ',') FROM hnsw.search(NULL::items, '[4,4,4,4]', 30)};
is($coord->safe_psql('postgres', $order_sql), $coord->safe_psql('postgres', $order_sql),
	'the order of ties does not change between calls');

# the other metrics order by their own operator
foreach my $m (['inner_product', '<#>'], ['cosine', '<=>'], ['l1', '<+>'])
{
	my ($metric, $op) = @$m;
	is($coord->safe_psql('postgres', qq{
			SELECT string_agg(round((embedding $op '[3,1,2,1]')::numeric, 6)::text, ',')
			FROM hnsw.search(NULL::items, '[3,1,2,1]', 25, metric => '$metric')}),
		$coord->safe_psql('postgres', qq{
			SELECT string_agg(round(d::numeric, 6)::text, ',') FROM
			(SELECT embedding $op '[3,1,2,1]' AS d FROM truth ORDER BY 1 LIMIT 25) s}),
		"metric $metric orders by $op");
}

# batch: the same rows as one search per query, with the query's ordinal
is($coord->safe_psql('postgres', q{
	WITH b AS (SELECT query, (item).id, row_number() OVER () AS rn
			   FROM hnsw.search_batch(NULL::items,
					ARRAY['[0,0,0,0]', '[9,10,6,4]', '[3,5,2,1]']::vector[], 9)),
		 s AS (SELECT o AS query, x.id, row_number() OVER () AS rn
			   FROM unnest(ARRAY['[0,0,0,0]', '[9,10,6,4]', '[3,5,2,1]']::vector[])
					WITH ORDINALITY AS u(q, o),
					LATERAL hnsw.search(NULL::items, u.q, 9) x)
	SELECT count(*) FROM b FULL JOIN s USING (rn)
	 WHERE b.query IS DISTINCT FROM s.query OR b.id IS DISTINCT FROM s.id}),
	'0', 'search_batch returns what one search per query returns');
is($coord->safe_psql('postgres', q{
	SELECT string_agg(query || ':' || n, ',') FROM
	(SELECT query, count(*) AS n FROM hnsw.search_batch(NULL::items,
		(SELECT array_agg(('[' || i % 10 || ',1,2,3]')::vector) FROM generate_series(1, 200) i),
		3, partitions => '{4}') GROUP BY 1 ORDER BY 1 LIMIT 3) s}),
	'1:3,2:3,3:3', 'a batch of 200 queries answers each');

# A batch that fetches the vector runs in two phases (row identifiers and
# distances in one snapshot, then the winners' rows by ctid); one that
# fetches only fixed-width columns, as (item).id, runs in one.  Both must
# equal one search per query (which check_search compared with truth) for
# every k, partition set and mode, ties included.  %6$s is what the batch
# fetches besides the id.
my $batch_cmp = q{
	WITH b AS (SELECT query, (item).id, %6$s AS e, row_number() OVER () AS rn
			   FROM hnsw.search_batch(NULL::%1$s, %2$s, %3$d, partitions => %4$s,
									  exact => %5$s)),
		 s AS (SELECT o AS query, x.id, x.embedding AS e, row_number() OVER () AS rn
			   FROM unnest(%2$s) WITH ORDINALITY AS u(q, o),
					LATERAL hnsw.search(NULL::%1$s, u.q, %3$d, partitions => %4$s,
										exact => %5$s) x)
	SELECT format('%%s rows, %%s differ', (SELECT count(*) FROM b),
		(SELECT count(*) FROM b FULL JOIN s USING (rn)
		  WHERE b.query IS DISTINCT FROM s.query OR b.id IS DISTINCT FROM s.id
			 OR (b.e IS NOT NULL AND b.e IS DISTINCT FROM s.e)))};
my $qarray = "ARRAY['" . join("', '", @queries) . "']::vector[]";
$failures = 0;
$checks = 0;
foreach my $fetch ('NULL::vector', '(item).embedding')
{
	foreach my $k (1, 7, 40, 700)
	{
		foreach my $parts (@partsets)
		{
			foreach my $exact ('false', 'true')
			{
				my $got = $coord->safe_psql('postgres',
					sprintf($batch_cmp, 'items', $qarray, $k, $parts, $exact, $fetch));
				$checks++;
				if ($got !~ /^\d+ rows, 0 differ$/)
				{
					$failures++;
					diag("batch fetching $fetch k=$k parts=$parts exact=$exact: $got");
				}
			}
		}
	}
}
is($failures, 0, "$checks batches equal one search per query");

# A batch of 64 queries or more goes to the shards grouped by locality
# (src/coordorder.c), not in its own order; the caller still gets every
# query's rows under its ordinal, in the batch's order.  150 queries, some
# of them equal, in one phase and in two.
my $many = q{(SELECT array_agg(('[' || (i * 7) % 23 || ',' || (i * 3) % 11 || ','
	|| i % 5 || ',' || (i * 13) % 17 || ']')::vector ORDER BY i)
	FROM generate_series(1, 150) i)};
foreach my $fetch ('NULL::vector', '(item).embedding')
{
	is($coord->safe_psql('postgres',
			sprintf($batch_cmp, 'items', $many, 5, 'NULL', 'false', $fetch)),
		'750 rows, 0 differ',
		"a batch of 150 queries fetching $fetch equals one search per query");
}
$coord->psql('postgres', qq{SET client_min_messages = debug1;
	SELECT count(*) FROM hnsw.search_batch(NULL::items, $many, 5)},
	stderr => \my $order_log);
like($order_log, qr/a batch of 150 queries goes to the shards in 9 groups/,
	'the batch was sent grouped');

# Column pruning (src/coordplan.c): a search that reads some columns gets
# the same rows, in the same order, as one that reads the whole row, and
# correct values in the columns it reads; the shards are not even asked for
# the others (the internal variant returns them NULL).
my $prune_cmp = q{
	WITH p AS (SELECT row_number() OVER () AS rn, id, part
			   FROM hnsw.search(NULL::items, '%1$s', %2$d, partitions => %3$s)),
		 w AS (SELECT row_number() OVER () AS rn, (x).id, (x).part
			   FROM (SELECT x FROM hnsw.search(NULL::items, '%1$s', %2$d,
											  partitions => %3$s) x) y)
	SELECT format('%%s rows, %%s differ', (SELECT count(*) FROM p),
		(SELECT count(*) FROM p FULL JOIN w USING (rn)
		  WHERE p.id IS DISTINCT FROM w.id OR p.part IS DISTINCT FROM w.part))};
$failures = 0;
$checks = 0;
foreach my $q (@queries)
{
	foreach my $k (1, 40, 700)
	{
		foreach my $parts ('NULL', q{'{1,4}'}, q{'{3,2,1,0}'})
		{
			my $got = $coord->safe_psql('postgres', sprintf($prune_cmp, $q, $k, $parts));
			$checks++;
			if ($got !~ /^[1-9]\d* rows, 0 differ$/)
			{
				$failures++;
				diag("pruned q=$q k=$k parts=$parts: $got");
			}
		}
	}
}
is($failures, 0, "$checks searches reading some columns equal whole-row searches");
is($coord->safe_psql('postgres', q{
	SELECT string_agg(format('%s:%s:%s', id, part IS NULL, embedding IS NULL), ',')
	  FROM hnsw._search_columns(NULL::items, '[50,50,50,50]', 3, NULL, NULL,
								false, 'l2', NULL, NULL, '{1}')}),
	'1001:t:t,1002:t:t,1003:t:t', 'a search asks the shards only for the columns named');
is($coord->safe_psql('postgres', q{
	SELECT string_agg(format('%s:%s', query, (item).part), ',')
	  FROM hnsw.search_batch(NULL::items, ARRAY['[50,50,50,50]']::vector[], 3)}),
	'1:0,1:2,1:4', 'a pruned batch returns the column it reads');

# rows without a vector come last (null distance), in both phases
foreach my $i (0, 1)
{
	$shards[$i]->safe_psql('postgres', qq{
		CREATE TABLE items_n AS SELECT * FROM items;
		INSERT INTO items_n SELECT 3000 + i, 2 * $i + i % 2, NULL FROM generate_series(1, 3) i;});
}
$coord->safe_psql('postgres', q{
	CREATE TABLE items_n (id int, part int, embedding vector(4)) PARTITION BY LIST (part);
	CREATE FOREIGN TABLE items_n_1 PARTITION OF items_n FOR VALUES IN (0, 1)
		SERVER shard1 OPTIONS (table_name 'items_n');
	CREATE FOREIGN TABLE items_n_2 PARTITION OF items_n FOR VALUES IN (2, 3)
		SERVER shard2 OPTIONS (table_name 'items_n');
});
is($coord->safe_psql('postgres', q{
	SELECT count(*), count(*) FILTER (WHERE embedding IS NULL),
		   bool_and(embedding IS NULL) FILTER (WHERE rn > 602)
	FROM (SELECT row_number() OVER () AS rn, x.*
		  FROM hnsw.search(NULL::items_n, '[1,2,3,4]', 700) x) s}),
	'608|6|t', 'rows with a null vector come after all others');
foreach my $k (600, 605, 700)
{
	foreach my $exact ('false', 'true')
	{
		is($coord->safe_psql('postgres',
				sprintf($batch_cmp, 'items_n', "ARRAY['[1,2,3,4]', '[0,0,0,0]']::vector[]",
					$k, 'NULL', $exact, '(item).embedding')),
			sprintf('%d rows, 0 differ', 2 * ($k > 608 ? 608 : $k)),
			"batch with null vectors, k=$k, exact=$exact");
	}
}

# a shard table without ctid (a view): the batch runs in one phase
$shards[2]->safe_psql('postgres', 'CREATE VIEW items_v AS SELECT * FROM items');
$coord->safe_psql('postgres', q{
	CREATE TABLE items_v (id int, part int, embedding vector(4)) PARTITION BY LIST (part);
	CREATE FOREIGN TABLE items_v_1 PARTITION OF items_v FOR VALUES IN (0, 1)
		SERVER shard1 OPTIONS (table_name 'items');
	CREATE FOREIGN TABLE items_v_3 PARTITION OF items_v FOR VALUES IN (4, 5)
		SERVER shard3 OPTIONS (table_name 'items_v');
});
is($coord->safe_psql('postgres', sprintf($batch_cmp, 'items_v', $qarray, 9, 'NULL', 'false', '(item).embedding') . ';'
		. sprintf($batch_cmp, 'items_v', $qarray, 9, 'NULL', 'false', '(item).embedding')),
	"45 rows, 0 differ\n45 rows, 0 differ",
	'a batch over a view on a shard falls back to one phase, also the second time');

# Every transaction a two-phase batch opens on a shard ends with the call,
# whatever happens: the shards without winners commit too, a shard's error
# and the fallback to one phase end the others'.  Seen from the shards,
# while the coordinator's session stays open.
$coord->safe_psql('postgres', q{
	CREATE TABLE items_err (id int, part int, embedding vector(4)) PARTITION BY LIST (part);
	CREATE FOREIGN TABLE items_err_1 PARTITION OF items_err FOR VALUES IN (0, 1)
		SERVER shard1 OPTIONS (table_name 'items');
	CREATE FOREIGN TABLE items_err_2 PARTITION OF items_err FOR VALUES IN (2, 3)
		SERVER shard2 OPTIONS (table_name 'items_later');
	CREATE FOREIGN TABLE items_err_3 PARTITION OF items_err FOR VALUES IN (4, 5)
		SERVER shard3 OPTIONS (table_name 'items');
});
my $open_xacts = sub {
	join(',', map { $_->safe_psql('postgres', q{
		SELECT count(*) FROM pg_stat_activity
		 WHERE application_name = 'hnsw coordinator' AND state LIKE 'idle in transaction%'}) }
		@shards);
};
my $bgx = $coord->background_psql('postgres', on_error_stop => 0);
is($bgx->query(q{
	SELECT string_agg((item).id::text, ',') FROM hnsw.search_batch(NULL::items,
		ARRAY['[50,50,50,50]', '[50,50,50,49]']::vector[], 1) WHERE (item).embedding IS NOT NULL}),
	'1001,1001', 'a two-phase batch whose winners are all on one shard');
is($open_xacts->(), '0,0,0', 'leaves no transaction open on the shards without winners');
$bgx->query(q{SELECT count(*) FROM hnsw.search_batch(NULL::items_err,
	ARRAY['[1,1,1,1]']::vector[], 3) WHERE (item).embedding IS NOT NULL});
like($bgx->{stderr}, qr/relation "public.items_later" does not exist/, 'a two-phase batch that fails on shard2');
is($open_xacts->(), '0,0,0', 'leaves no transaction open on the others');
$shards[1]->safe_psql('postgres', 'CREATE VIEW items_later AS SELECT * FROM items');
is($bgx->query(q{SELECT count(*) FROM hnsw.search_batch(NULL::items_err,
	ARRAY['[1,1,1,1]']::vector[], 3) WHERE (item).embedding IS NOT NULL}),
	'3', 'a batch that falls back to one phase (shard2 has a view)');
is($open_xacts->(), '0,0,0', 'leaves none either');
$bgx->quit;

# the cached description of a distributed table follows changes made in
# the same session: replicas, attached and detached partitions
is($coord->safe_psql('postgres', q{
	SELECT count(*) FROM hnsw.shard_status('items');
	SELECT hnsw.add_replica('shard3', 'shard2');
	SELECT count(*) FROM hnsw.shard_status('items');
	SELECT hnsw.drop_replica('shard3', 'shard2');
	SELECT count(*) FROM hnsw.shard_status('items');}),
	"3\n\n4\n\n3", 'a session sees replicas added and dropped');
$coord->safe_psql('postgres', q{
	CREATE FOREIGN TABLE items_7 (id int, part int, embedding vector(4))
		SERVER shard2 OPTIONS (table_name 'items_empty')});
my ($ret, $out, $err) = $coord->psql('postgres', q{
	SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1,1]', 3, partitions => '{0}');
	ALTER TABLE items ATTACH PARTITION items_7 FOR VALUES IN (7);
	SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1,1]', 3, partitions => '{7}');
	ALTER TABLE items DETACH PARTITION items_7;
	SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1,1]', 3, partitions => '{7}');});
is($out, "3\n0", 'a session sees a partition attached');
like($err, qr/no partition of distributed table "items" holds partition value 7/,
	'and detached');
$coord->safe_psql('postgres', 'DROP FOREIGN TABLE items_7');

# ef_search reaches the shard, per query: read back through a view
$shards[2]->safe_psql('postgres', q{
	CREATE VIEW items_ef AS
	SELECT id, part, embedding, current_setting('hnsw.ef_search', true) AS ef FROM items});
$coord->safe_psql('postgres', q{
	CREATE TABLE items_ef (id int, part int, embedding vector(4), ef text)
		PARTITION BY LIST (part);
	CREATE FOREIGN TABLE items_ef_3 PARTITION OF items_ef FOR VALUES IN (4)
		SERVER shard3 OPTIONS (table_name 'items_ef');
});
my $ef_sql = q{SELECT coalesce(nullif(ef, ''), 'default') FROM hnsw.search(NULL::items_ef, '[1,1,1,1]', 1%s)};
is($coord->safe_psql('postgres', sprintf($ef_sql, ', ef_search => 77')), '77',
	'ef_search argument is set on the shard');
is($coord->safe_psql('postgres', sprintf($ef_sql, '')), '40',
	'without it the coordinator\'s hnsw.ef_search (default 40) applies on the shard');
is($coord->safe_psql('postgres', "SET hnsw.ef_search = 55; " . sprintf($ef_sql, '')), '55',
	'the coordinator session\'s hnsw.ef_search is the default');
is($coord->safe_psql('postgres', "SET hnsw.ef_search = 55; " . sprintf($ef_sql, ', ef_search => 12')),
	'12', 'the argument wins over the session setting');

# shard_status
is($coord->safe_psql('postgres', q{
	SELECT string_agg(format('%s/%s/%s/%s/%s', shard, server, role, answers, row_count), ' ')
	FROM hnsw.shard_status('items')}),
	'shard1/shard1/primary/t/301 shard2/shard2/primary/t/301 shard3/shard3/primary/t/6',
	'shard_status lists every shard with its rows');

# remote errors come back with their SQLSTATE and the shard named
($ret, $out, $err) = $coord->psql('postgres', q{
	CREATE TABLE broken (id int, part int, embedding vector(4)) PARTITION BY LIST (part);
	CREATE FOREIGN TABLE broken_1 PARTITION OF broken FOR VALUES IN (0)
		SERVER shard1 OPTIONS (table_name 'no_such_table');
	SELECT * FROM hnsw.search(NULL::broken, '[1,1,1,1]', 3);});
like($err, qr/ERROR:  relation "public.no_such_table" does not exist.*remote SQL command on server "shard1"/s,
	'a shard\'s error is re-raised with the server named');

# shard queries are statements prepared on the session: one whose Prepare
# failed is prepared again by the session's next search
my $bgp = $coord->background_psql('postgres', on_error_stop => 0);
$bgp->query(q{SELECT count(*) FROM hnsw.search(NULL::broken, '[1,1,1,1]', 3)});
like($bgp->{stderr}, qr/relation "public.no_such_table" does not exist/,
	'the first search fails on the shard');
$shards[0]->safe_psql('postgres', q{
	CREATE TABLE no_such_table (id int, part int, embedding vector(4));
	INSERT INTO no_such_table VALUES (1, 0, '[1,1,1,1]'), (2, 0, '[2,2,2,2]')});
is($bgp->query(q{SELECT count(*) FROM hnsw.search(NULL::broken, '[1,1,1,1]', 3)}), '2',
	'the same search in the same session works once the table exists');
is($bgp->query(q{SELECT string_agg(id::text, ',') FROM hnsw.search(NULL::broken, '[2,2,2,2]', 3)}), '2,1',
	'and again, through the prepared statement');
$bgp->quit;
$shards[0]->safe_psql('postgres', 'DROP TABLE no_such_table');

# a changed server or user mapping is seen by a session's next search
($ret, $out, $err) = $coord->psql('postgres', q{
	SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1,1]', 3);
	ALTER SERVER shard3 OPTIONS (SET port '1');
	SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1,1]', 3);});
like($err, qr/shard "shard3" of distributed table "items" did not answer/,
	'ALTER SERVER reaches a cached connection');
$coord->safe_psql('postgres', sprintf(q{ALTER SERVER shard3 OPTIONS (SET port '%d')},
	$shards[2]->port));

# create_distributed_table: rows of local partitions move to new shard
# tables; a failure midway leaves nothing behind
$shards[2]->safe_psql('postgres', 'CREATE DATABASE noext');
$coord->safe_psql('postgres', sprintf(q{
	CREATE SERVER noext FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '%s', port '%d', dbname 'noext');
	CREATE USER MAPPING FOR CURRENT_USER SERVER noext;
	CREATE TABLE docs (id bigint, part int, embedding vector(4)) PARTITION BY LIST (part);
	CREATE TABLE docs_local PARTITION OF docs DEFAULT;
	INSERT INTO docs SELECT id, part, embedding FROM truth WHERE part <= 3;},
	$shards[2]->host, $shards[2]->port));
my $docs_gone = q{SELECT to_regclass('public.docs') IS NULL};
my $docs_local = q{SELECT count(*) FROM docs_local};

($ret, $out, $err) = $coord->psql('postgres',
	q{SELECT hnsw.create_distributed_table('docs', '{"shard1": [0, 1], "noext": [2, 3]}')});
like($err, qr/ERROR:  type "public.vector" does not exist/, 'a shard without hnsw fails the distribution');
is($shards[0]->safe_psql('postgres', $docs_gone), 't',
	'the table made on the other shard before the failure is dropped');
is($coord->safe_psql('postgres', $docs_local), '602', 'the rows stay in the local partition');

$coord->safe_psql('postgres', 'CREATE TABLE docs_shard2 (x int)');
($ret, $out, $err) = $coord->psql('postgres',
	q{SELECT hnsw.create_distributed_table('docs', '{"shard1": [0, 1], "shard2": [2, 3]}')});
like($err, qr/ERROR:  relation "docs_shard2" already exists/, 'a failure on the coordinator after the shards');
is($shards[0]->safe_psql('postgres', $docs_gone) . $shards[1]->safe_psql('postgres', $docs_gone),
	'tt', 'leaves no table on any shard');
is($coord->safe_psql('postgres', $docs_local), '602', 'and the rows where they were');
$coord->safe_psql('postgres', 'DROP TABLE docs_shard2');

$coord->safe_psql('postgres',
	q{SELECT hnsw.create_distributed_table('docs', '{"shard1": [0, 1], "shard2": [2, 3]}', '{"m": 8}')});
is($coord->safe_psql('postgres', q{
	SELECT string_agg(c.relname || ':' || c.relkind::text, ',' ORDER BY c.relname)
	FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'docs'::regclass}),
	'docs_shard1:f,docs_shard2:f', 'docs is distributed over two foreign partitions');
is($coord->safe_psql('postgres', q{
	SELECT string_agg(format('%s/%s', shard, row_count), ' ') FROM hnsw.shard_status('docs')}),
	'shard1/301 shard2/301', 'the rows moved to their shards');
is($coord->safe_psql('postgres', q{
	SELECT (SELECT string_agg(round((embedding <-> '[3,3,3,3]')::numeric, 5)::text, ',')
			FROM hnsw.search(NULL::docs, '[3,3,3,3]', 20))
		 = (SELECT string_agg(round(d::numeric, 5)::text, ',') FROM
			(SELECT embedding <-> '[3,3,3,3]' AS d FROM truth WHERE part <= 3 ORDER BY 1 LIMIT 20) s)}),
	't', 'a search of the new distributed table is exact');
is($coord->safe_psql('postgres', q{
	INSERT INTO docs VALUES (5000, 3, '[3,3,3,3]');
	SELECT id FROM hnsw.search(NULL::docs, '[3,3,3,3]', 1, partitions => '{3}')}),
	'5000', 'rows inserted through the coordinator are found');

# recall of a distributed table: hnsw.search against hnsw.search(exact =>
# true), equal to the tests' own count (test/helpers/recall.sql) of the
# same searches against a sequential scan of a local copy of the rows.  The
# shards' indexes are weak and searched at ef_search 1, so that searches
# miss rows and equal counts mean something.
install_recall_helper($coord);
$coord->safe_psql('postgres', q{
	SELECT setseed(0.3);
	CREATE TABLE rdocs (id int, part int, embedding vector(8)) PARTITION BY LIST (part);
	CREATE TABLE rdocs_local PARTITION OF rdocs DEFAULT;
	INSERT INTO rdocs SELECT i, i % 4, (SELECT array_agg(random()) FROM generate_series(1, 8)
										 WHERE i > 0)::real[]::vector
	  FROM generate_series(1, 4000) i;
	CREATE TABLE rdocs_copy AS SELECT * FROM rdocs;
	SELECT hnsw.create_distributed_table('rdocs', '{"shard1": [0, 1], "shard2": [2, 3]}',
										 '{"m": 2, "ef_construction": 4}');});
my $theirs = $coord->safe_psql('postgres', q{
	SELECT format('%s/%s %s', queries, exact_rows, recall)
	  FROM hnsw.evaluate_recall('rdocs', 'embedding',
			ARRAY(SELECT embedding FROM rdocs_copy WHERE id <= 40 ORDER BY id), 10,
			ef_search => 1, key => 'id')});
my $ours = $coord->safe_psql('postgres', q{
	SELECT hnsw_test.recall('rdocs_copy', 'SELECT id, embedding FROM rdocs_copy WHERE id <= 40 ORDER BY id',
		'<->', 10, 'embedding', 'id',
		'SELECT id, embedding FROM hnsw.search(NULL::rdocs, %1$s, %2$s, ef_search => 1)')});
note "distributed recall\@10 at ef_search 1: evaluate_recall $theirs, counted by the test $ours";
like($theirs, qr{^40/400 }, 'evaluate_recall through the coordinator: 40 queries, 400 exact rows');
cmp_ok(abs((split / /, $theirs)[1] - $ours), '<', 1e-12,
	'evaluate_recall through the coordinator equals the test\'s recall');
cmp_ok($ours, '<', 0.99, 'where the searches miss rows');
($ret, $out, $err) = $coord->psql('postgres', q{
	SELECT * FROM hnsw.evaluate_recall('docs', 'embedding', ARRAY['[1,1,1,1]']::vector[], 5)});
like($err, qr/recall of distributed table public.docs needs a key column/,
	'a distributed table needs a key column');

# security: a non-superuser needs a password in the mapping, really used
$coord->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	GRANT SELECT ON items TO alice;
	CREATE USER MAPPING FOR alice SERVER shard1;
	CREATE USER MAPPING FOR alice SERVER shard2 OPTIONS (user 'alice', password 'secret');
	CREATE USER MAPPING FOR alice SERVER shard3 OPTIONS (user 'alice', password 'secret');
	CREATE TABLE alice_items (id int, part int, embedding vector(4)) PARTITION BY LIST (part);
	CREATE FOREIGN TABLE alice_items_2 PARTITION OF alice_items FOR VALUES IN (2, 3)
		SERVER shard2 OPTIONS (table_name 'items');
	CREATE FOREIGN TABLE alice_items_3 PARTITION OF alice_items FOR VALUES IN (4, 5)
		SERVER shard3 OPTIONS (table_name 'items');
	GRANT SELECT ON alice_items TO alice;
});
foreach my $s (@shards[1, 2])
{
	$s->safe_psql('postgres', q{
		CREATE ROLE alice LOGIN PASSWORD 'secret';
		GRANT SELECT ON items TO alice;});
}
# shard2 asks for the password; shard3 trusts everyone
my $hba = $shards[1]->data_dir . '/pg_hba.conf';
my $conf = PostgreSQL::Test::Utils::slurp_file($hba);
open(my $fh, '>', $hba) or die $!;
print $fh "local all alice scram-sha-256\n$conf";
close $fh;
$shards[1]->reload;

($ret, $out, $err) = $coord->psql('postgres',
	q{SET ROLE alice; SELECT * FROM hnsw.search(NULL::items, '[1,1,1,1]', 3)});
like($err, qr/password is required to connect to server "shard1"/,
	'non-superuser without a password in the mapping is refused');
($ret, $out, $err) = $coord->psql('postgres',
	q{SET ROLE alice; SELECT * FROM hnsw.search(NULL::alice_items, '[1,1,1,1]', 3)});
like($err, qr/password is required.*\n.*does not request a password/,
	'non-superuser whose password the shard does not ask for is refused');
is($coord->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT count(*) FROM hnsw.search(NULL::alice_items, '[1,1,1,1]', 3, partitions => '{2}')}),
	'3', 'non-superuser whose password is used may search');
($ret, $out, $err) = $coord->psql('postgres',
	q{SET ROLE alice; SELECT * FROM hnsw.search(NULL::truth, '[1,1,1,1]', 3)});
like($err, qr/permission denied for table truth/, 'table privileges are checked on the coordinator');

# the coordinator's configuration survives pg_dump/pg_restore and a restart
$coord->safe_psql('postgres', q{SELECT hnsw.add_replica('shard3', 'noext')});
my $dump = $coord->basedir . '/coord.dump';
$coord->command_ok(['pg_dump', '-Fc', '-f', $dump, '-d', $coord->connstr('postgres')],
	'pg_dump of the coordinator');
$coord->safe_psql('postgres', 'CREATE DATABASE restored');
$coord->command_ok(['pg_restore', '-d', $coord->connstr('restored'), $dump],
	'pg_restore of the coordinator');
$coord->restart;
is($coord->safe_psql('restored', q{SELECT shard_server || '>' || replica_server FROM hnsw.replicas}),
	'shard3>noext', 'replicas survive dump, restore and restart');
is($coord->safe_psql('restored', q{
	SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1,1]', 5, partitions => '{0,2}')}),
	'5', 'the restored coordinator searches its shards');

done_testing();
