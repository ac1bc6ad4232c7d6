# What the TAP tests of hnsw.move_partition share (test/t/060, 061): a
# coordinator and shard servers; a distributed table "items" with a local
# mirror "expected" of its rows on the coordinator; a write workload
# (pgbench) that changes both in the same transactions, so that at any
# quiet moment the two must hold the same rows; and the checks that
# nothing was lost, duplicated or left behind on the shards.
#
#	my ($coord, $shards) = start_nodes(shards => [qw(shard1 shard2)]);
#	make_items($coord, dim => 4, rows => {0 => 2000, 1 => 500, 2 => 500},
#			   layout => '{"shard1": [0, 1], "shard2": [2]}');
#	my $w = start_writes($coord, dim => 4, ids => 3000, parts => [0, 1]);
#	...
#	stop_writes($coord, $w);	# returns pgbench's stderr
#	is(compare_rows($coord), '0|0|0|...', ...);
#	check_clean($coord, $shards, 'after ...');
package HnswMove;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(start_nodes add_shard make_items start_writes stop_writes
  compare_rows check_clean shard_activity);

# Start a coordinator and the shard servers named in shards (wal_level =
# logical unless named in replica_only, where it is replica), each with
# hnsw, a postgres_fdw server of its name and a user mapping on the
# coordinator.  Returns the coordinator and a hash of the shards by name.
sub start_nodes
{
	my (%o) = @_;
	my %replica_only = map { $_ => 1 } @{ $o{replica_only} // [] };
	my $coord = PostgreSQL::Test::Cluster->new('coord');
	$coord->init;
	$coord->append_conf('postgresql.conf', q{
shared_buffers = 16MB
max_connections = 60
restart_after_crash = on
});
	$coord->start;
	$coord->safe_psql('postgres', 'CREATE EXTENSION hnsw; CREATE EXTENSION postgres_fdw;');
	my %shards;
	foreach my $name (@{ $o{shards} })
	{
		$shards{$name} = add_shard($coord, $name,
			$replica_only{$name} ? 'physical' : 'logical');
	}
	return ($coord, \%shards);
}

# Start shard server name (streaming: 'logical' or 'physical') and declare
# it on the coordinator.
sub add_shard
{
	my ($coord, $name, $streaming) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => $streaming);
	$node->append_conf('postgresql.conf', q{
shared_buffers = 16MB
max_connections = 40
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');
	declare_server($coord, $node, $name);
	return $node;
}

# Declare node on the coordinator as postgres_fdw server name.
sub declare_server
{
	my ($coord, $node, $name) = @_;
	$coord->safe_psql('postgres', sprintf(q{
		CREATE SERVER %1$s FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '%2$s', port '%3$d', dbname 'postgres');
		CREATE USER MAPPING FOR CURRENT_USER SERVER %1$s;},
		$name, $node->host, $node->port));
}
push @EXPORT, 'declare_server';

# Make items (id bigint, part int, embedding vector(dim)) with rows{part}
# rows of each part (ids from 1), its mirror expected, the sequence ids for
# new rows (from 1,000,000), and distribute it as layout says.
sub make_items
{
	my ($coord, %o) = @_;
	my $dim = $o{dim};
	my $rows = $o{rows};
	my $sql = sprintf(q{
		CREATE TABLE items (id bigint, part int, embedding vector(%d)) PARTITION BY LIST (part);
		CREATE TABLE items_local PARTITION OF items DEFAULT;
		CREATE SEQUENCE ids START 1000000;}, $dim);
	my $next = 1;
	foreach my $part (sort { $a <=> $b } keys %$rows)
	{
		$sql .= sprintf(q{
			INSERT INTO items SELECT g, %d,
				(SELECT array_agg(random() * 100) FROM generate_series(1, %d) WHERE g > 0)::vector
			  FROM generate_series(%d, %d) g;},
			$part, $dim, $next, $next + $rows->{$part} - 1);
		$next += $rows->{$part};
	}
	$sql .= q{
		CREATE TABLE expected AS SELECT * FROM items;};
	$coord->safe_psql('postgres', $sql);
	$coord->safe_psql('postgres',
		"SELECT hnsw.create_distributed_table('items', '$o{layout}')");
	return;
}

# Start pgbench writing to items and expected in the same transactions at
# rate transactions per second: inserts (half), updates and deletes of
# random rows among ids 1..ids, all in the given parts.  Returns a handle
# for stop_writes.
sub start_writes
{
	my ($coord, %o) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir('writes');
	my $script = "$dir/write.sql";
	my $parts = $o{parts};
	my $vec = sprintf('(SELECT array_agg(random() * 100) FROM generate_series(1, %d))::vector',
		$o{dim});
	open(my $fh, '>', $script) or die "could not write $script: $!";
	printf $fh q{\set r random(1, 4)
\set p random(1, %d)
\set id random(1, %d)
SELECT (ARRAY[%s])[:p] AS part \gset
\if :r <= 2
WITH ins AS (INSERT INTO items SELECT nextval('ids'), :part, %s RETURNING *)
	INSERT INTO expected SELECT * FROM ins;
\elif :r = 3
WITH up AS (UPDATE items SET embedding = %s WHERE id = :id AND part = :part RETURNING *)
	UPDATE expected e SET embedding = up.embedding FROM up WHERE e.id = up.id;
\else
WITH del AS (DELETE FROM items WHERE id = :id AND part = :part RETURNING id)
	DELETE FROM expected e USING del WHERE e.id = del.id;
\endif
}, scalar(@$parts), $o{ids}, join(', ', @$parts), $vec, $vec;
	close $fh;
	chmod 0644, $script;
	my ($out, $err) = ('', '');
	local $ENV{PGAPPNAME} = 'pgbench';    # the tests' own is the script's name
	my $h = IPC::Run::start(
		[
			$coord->installed_command('pgbench'), '-n',
			'-h', $coord->host, '-p', $coord->port,
			'-c', $o{clients} // 2, '-R', $o{rate} // 40, '-T', 3600,
			'--max-tries', 50, '-f', $script, 'postgres'
		],
		'>', \$out, '2>', \$err);
	# wait for its connections, so that it writes from now on
	foreach (1 .. 300)
	{
		$h->pump_nb;
		die "pgbench ended: $err" unless $h->pumpable;
		return { h => $h, out => \$out, err => \$err }
		  if $coord->safe_psql('postgres', sprintf(q{
			SELECT count(*) >= %d FROM pg_stat_activity WHERE application_name = 'pgbench'},
			$o{clients} // 2)) eq 't';
		usleep(100_000);
	}
	die "pgbench did not connect: $err";
}

# Stop the writes started by start_writes and wait until none is in
# flight; returns what pgbench printed on stderr (errors abort a client).
sub stop_writes
{
	my ($coord, $w) = @_;
	# TERM, not INT: a background job of a shell without job control
	# (nohup ... &) inherits SIGINT ignored, and pgbench then never ends
	$w->{h}->signal('TERM');
	$w->{h}->finish;
	$coord->poll_query_until('postgres', q{
		SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'pgbench'})
	  or die 'pgbench sessions did not end';
	return ${ $w->{err} };
}

# "rows of items not in expected|rows of expected not in items|duplicated
# ids|rows" for the rows satisfying where.
sub compare_rows
{
	my ($coord, $where) = @_;
	$where //= 'true';
	return $coord->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM (SELECT * FROM items WHERE $where
									  EXCEPT ALL SELECT * FROM expected WHERE $where) a)
			   || '|' ||
			   (SELECT count(*) FROM (SELECT * FROM expected WHERE $where
									  EXCEPT ALL SELECT * FROM items WHERE $where) b)
			   || '|' ||
			   (SELECT count(*) - count(DISTINCT id) FROM items WHERE $where)
			   || '|' ||
			   (SELECT count(*) FROM expected WHERE $where)});
}

# Sessions of a shard that are not idle client sessions (the coordinator's
# cached connections), or that stream logical changes (a standby's
# walsender is not one of them); '' when there are none.
sub shard_activity
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
		SELECT coalesce(string_agg(backend_type || ' ' || coalesce(state, '') || ': '
								   || left(query, 60), '; '), '')
		  FROM pg_stat_activity
		 WHERE pid <> pg_backend_pid()
		   AND ((backend_type = 'walsender' AND datname IS NOT NULL)
				OR (backend_type = 'client backend' AND state <> 'idle'))});
}

# Nothing of a move may be left: no move recorded on the coordinator; on
# every shard no replication slot, no publication, no table still marked
# as a copy in progress, every table's replica identity the default, and
# no session but idle ones (polled: a shard notices within a second that
# a coordinator session went away).
sub check_clean
{
	my ($coord, $shards, $label) = @_;
	is($coord->safe_psql('postgres', 'SELECT count(*) FROM hnsw.moves'), '0',
		"$label: no move recorded");
	foreach my $name (sort keys %$shards)
	{
		my $node = $shards->{$name};
		next unless defined $node->{_pid};    # stopped
		is($node->safe_psql('postgres', q{
			SELECT (SELECT count(*) FROM pg_replication_slots) || '|' ||
				   (SELECT count(*) FROM pg_publication) || '|' ||
				   (SELECT count(*) FROM pg_class c
					 WHERE obj_description(c.oid, 'pg_class') LIKE 'hnsw.move_partition%') || '|' ||
				   (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
					 WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relreplident <> 'd')}),
			'0|0|0|0', "$label: nothing of the move is left on $name");
		my $activity;
		foreach (1 .. 100)
		{
			$activity = shard_activity($node);
			last if $activity eq '';
			usleep(100_000);
		}
		is($activity, '', "$label: pg_stat_activity of $name is clean");
	}
	return;
}

1;
