# Privileges of the coordinator's searches against real shards: row-level
# security on the distributed table is refused for the roles it applies to
# (the shards would return every owner's rows), column privileges limit
# what a search may fetch, and a schema first in a superuser's search_path
# cannot hand the searches its own distance operator.  The shards are two
# databases of the coordinator's own server, reached over its socket.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('coord');
$node->init;
# alice must use her password, as postgres_fdw requires of non-superusers
my $hba = $node->data_dir . '/pg_hba.conf';
my $conf = slurp_file($hba);
open(my $fh, '>', $hba) or die $!;
print $fh "local all alice scram-sha-256\n$conf";
close $fh;
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN PASSWORD 'secret';
	CREATE ROLE bob;
	CREATE DATABASE shard1;
	CREATE DATABASE shard2;
});
foreach my $i (1, 2)
{
	$node->safe_psql("shard$i", sprintf(q{
		CREATE EXTENSION hnsw;
		CREATE TABLE items (id int, part int, owner name, secret text, embedding vector(3));
		INSERT INTO items SELECT g, %d + g %% 2, CASE WHEN g %% 3 = 0 THEN 'alice' ELSE 'bob' END,
			'secret ' || g, ARRAY[g %% 10, g %% 7, g %% 4]::vector
			FROM generate_series(%d, %d) g;
		GRANT SELECT ON items TO alice;},
		2 * $i - 2, 100 * $i - 99, 100 * $i));
}
$node->safe_psql('postgres', sprintf(q{
	CREATE EXTENSION hnsw;
	CREATE EXTENSION postgres_fdw;
	CREATE SERVER shard1 FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '%1$s', port '%2$d', dbname 'shard1');
	CREATE SERVER shard2 FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '%1$s', port '%2$d', dbname 'shard2');
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard1;
	CREATE USER MAPPING FOR CURRENT_USER SERVER shard2;
	CREATE USER MAPPING FOR alice SERVER shard1 OPTIONS (user 'alice', password 'secret');
	CREATE USER MAPPING FOR alice SERVER shard2 OPTIONS (user 'alice', password 'secret');
	-- the same shard tables, twice: with row-level security, and without
	CREATE TABLE items (id int, part int, owner name, secret text, embedding vector(3))
		PARTITION BY LIST (part);
	CREATE FOREIGN TABLE items_1 PARTITION OF items FOR VALUES IN (0, 1)
		SERVER shard1 OPTIONS (table_name 'items');
	CREATE FOREIGN TABLE items_2 PARTITION OF items FOR VALUES IN (2, 3)
		SERVER shard2 OPTIONS (table_name 'items');
	CREATE TABLE open_items (id int, part int, owner name, secret text, embedding vector(3))
		PARTITION BY LIST (part);
	CREATE FOREIGN TABLE open_items_1 PARTITION OF open_items FOR VALUES IN (0, 1)
		SERVER shard1 OPTIONS (table_name 'items');
	CREATE FOREIGN TABLE open_items_2 PARTITION OF open_items FOR VALUES IN (2, 3)
		SERVER shard2 OPTIONS (table_name 'items');
	ALTER TABLE items ENABLE ROW LEVEL SECURITY;
	CREATE POLICY own ON items USING (owner = current_user);
	GRANT SELECT ON items TO alice;
	GRANT SELECT (id, embedding) ON open_items TO alice;},
	$node->host, $node->port));

sub psql_as
{
	my ($role, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "SET ROLE $role; $sql");
	return ($out, $err);
}

# Row-level security.  A query on the table applies the policy; a search
# would return the shards' rows unfiltered, so it is refused.
my ($out, $err) = psql_as('alice', q{SELECT count(*), count(*) FILTER (WHERE owner <> 'alice') FROM items});
is($out, '66|0', 'a query on the table applies the policy');
($out, $err) = psql_as('alice',
	q{SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 200)});
is($out, '', 'a search under row-level security returns no row');
like($err, qr/ERROR:  hnsw.search does not support row-level security on table "items"/,
	'a search is refused when the policies apply to the caller');
($out, $err) = psql_as('alice', q{SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 200, exact => true)});
like($err, qr/does not support row-level security/, 'an exact search too');
($out, $err) = psql_as('alice', q{
	SELECT count(*) FROM hnsw.search_batch(NULL::items, ARRAY['[1,1,1]', '[2,2,2]']::vector[], 200)});
like($err, qr/hnsw.search_batch does not support row-level security/, 'a batch too');
($out, $err) = psql_as('alice', q{SELECT sum(row_count) FROM hnsw.shard_status('items')});
like($err, qr/hnsw.shard_status does not support row-level security/,
	'shard_status too: its counts would include rows the caller may not see');
($out, $err) = psql_as('alice', q{
	SELECT * FROM hnsw.evaluate_recall('items', 'embedding', ARRAY['[1,1,1]']::vector[], 5, key => 'id')});
like($err, qr/does not support row-level security/, 'evaluate_recall through the coordinator too');
# the owner (without FORCE) and the superuser are not subject to the policy
is($node->safe_psql('postgres', q{SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 200)}),
	'200', 'the superuser searches every row');
$node->safe_psql('postgres', q{
	ALTER TABLE items OWNER TO bob;
	CREATE USER MAPPING FOR bob SERVER shard1 OPTIONS (password_required 'false');
	CREATE USER MAPPING FOR bob SERVER shard2 OPTIONS (password_required 'false');});
($out, $err) = psql_as('bob', q{SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 200)});
is($out, '200', 'the owner searches every row');
$node->safe_psql('postgres', 'ALTER TABLE items FORCE ROW LEVEL SECURITY');
($out, $err) = psql_as('bob', q{SELECT count(*) FROM hnsw.search(NULL::items, '[1,1,1]', 200)});
like($err, qr/does not support row-level security on table "items"/,
	'but not when the owner is subject to it (FORCE ROW LEVEL SECURITY)');

# Column privileges: alice may read id and embedding of open_items.
my $want = $node->safe_psql('postgres',
	q{SELECT string_agg(id::text, ',') FROM hnsw.search(NULL::open_items, '[3,3,3]', 12)});
($out, $err) = psql_as('alice',
	q{SELECT string_agg(id::text, ',') FROM hnsw.search(NULL::open_items, '[3,3,3]', 12)});
is($out, $want, 'a search fetching only readable columns returns what the superuser gets');
($out, $err) = psql_as('alice', q{
	SELECT string_agg(query || ':' || (item).id, ',')
	  FROM hnsw.search_batch(NULL::open_items, ARRAY['[3,3,3]']::vector[], 12)});
is($out, join(',', map { "1:$_" } split(/,/, $want)), 'so does a batch');
($out, $err) = psql_as('alice', q{SELECT * FROM hnsw.search(NULL::open_items, '[3,3,3]', 12)});
like($err, qr/ERROR:  permission denied for column "part" of relation "open_items"/,
	'a search fetching a column the caller may not read is refused, naming the column');
($out, $err) = psql_as('alice', q{SELECT id, secret FROM hnsw.search(NULL::open_items, '[3,3,3]', 12)});
like($err, qr/permission denied for column "secret"/, 'also when the query names it');
($out, $err) = psql_as('alice', q{
	SELECT (item).secret FROM hnsw.search_batch(NULL::open_items, ARRAY['[3,3,3]']::vector[], 12)});
like($err, qr/permission denied for column "secret"/, 'also in a batch');
($out, $err) = psql_as('alice', q{
	SELECT count(*) FROM hnsw.search(NULL::open_items, '[3,3,3]', 12, partitions => '{0}')});
like($err, qr/permission denied for column "part"/, 'naming partitions reads the partition column');
($out, $err) = psql_as('alice', q{
	SELECT recall FROM hnsw.evaluate_recall('open_items', 'embedding', ARRAY['[3,3,3]']::vector[], 5, key => 'id')});
is($out, '1', 'evaluate_recall through the coordinator with the columns it reads');

# search_path: a trojan <-> first in a superuser's path is not what the
# search asks the shards to run (it would be OPERATOR(trojan.<->) there),
# nor what evaluate_recall orders by
$node->safe_psql('postgres', q{
	CREATE SCHEMA trojan;
	CREATE FUNCTION trojan.dist(a vector, b vector) RETURNS float8
		LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'trojan operator called'; RETURN 0; END $$;
	CREATE OPERATOR trojan.<-> (LEFTARG = vector, RIGHTARG = vector, FUNCTION = trojan.dist);});
my ($ret, $tout, $terr) = $node->psql('postgres', q{
	SET search_path = trojan, public;
	SELECT string_agg(id::text, ',') FROM hnsw.search(NULL::open_items, '[3,3,3]', 12);
	SELECT recall FROM hnsw.evaluate_recall('open_items', 'embedding', ARRAY['[3,3,3]']::vector[], 5, key => 'id');});
is($tout, "$want\n1", 'a search under a trojan search_path returns the same rows');
is($terr, '', 'and calls no trojan, here or on the shards');

done_testing();
