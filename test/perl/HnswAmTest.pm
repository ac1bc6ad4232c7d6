# Helpers shared by the cluster tests of the hnsw access method and its
# tools (test/t/0[1-4]*): loading Fashion-MNIST or generated vectors, recall
# against exact search (test/helpers/recall.sql, which the pgTAP tests use
# too), and whether an index holds and finds every row.
package HnswAmTest;

use strict;
use warnings;
use Exporter 'import';
use File::Basename qw(dirname);
use PostgreSQL::Test::Utils;

our @EXPORT = qw(load_fmnist load_random install_recall_helper recall
  rows_not_in_index missing_rows insert_proc finish_with_vacuums);

my $FMNIST = '/usr/share/datasets/fashion-mnist';
my $RECALL_SQL = dirname(__FILE__) . '/../helpers/recall.sql';

# Create table $table (id int, v vector(784)) holding the first $n images of
# the Fashion-MNIST file set $set ('train' or 't10k').
sub load_fmnist
{
	my ($node, $table, $set, $n) = @_;
	my $gz = "$FMNIST/$set-images-idx3-ubyte.gz";
	my $tsv = $node->basedir . "/$table.tsv";

	open(my $in, '-|', 'gzip', '-dc', $gz) or die "gzip $gz: $!";
	binmode($in);
	read($in, my $header, 16) == 16 or die "short read of $gz";
	open(my $out, '>', $tsv) or die "$tsv: $!";
	for my $i (0 .. $n - 1)
	{
		read($in, my $img, 784) == 784 or die "short read of $gz";
		print $out "$i\t[" . join(',', unpack('C784', $img)) . "]\n";
	}
	close($out);
	close($in);
	$node->safe_psql('postgres', qq{
		CREATE TABLE $table (id int, v vector(784));
		COPY $table FROM '$tsv';
	});
	return;
}

# Create table $table (id int, v vector($dim)) with $n random vectors
# (reproducible: setseed).
sub load_random
{
	my ($node, $table, $dim, $n, $seed) = @_;
	$seed //= 0.42;
	$node->safe_psql('postgres', qq{
		SELECT setseed($seed);
		CREATE TABLE $table (id int, v vector($dim));
		INSERT INTO $table SELECT i, (SELECT array_agg(random() * 100)::real[]
			FROM generate_series(1, $dim) WHERE i > 0)::vector
			FROM generate_series(1, $n) i;
	});
	return;
}

# Create (or replace) the functions of test/helpers/recall.sql,
# hnsw_test.recall and hnsw_test.recall_detail, in database $db.
sub install_recall_helper
{
	my ($node, $db) = @_;
	$node->safe_psql($db // 'postgres', slurp_file($RECALL_SQL));
	return;
}

# Return recall@$k of the hnsw index on $table.v for the queries $queries
# (a table with columns id and v, or a query returning a query's id and
# vector) with operator $op, against exact search, as hnsw_test.recall
# computes it (test/helpers/recall.sql); $settings are SET commands run
# first (e.g. "SET hnsw.ef_search = 100;").
sub recall
{
	my ($node, $table, $queries, $op, $k, $settings) = @_;
	$settings //= '';
	install_recall_helper($node);
	return $node->safe_psql('postgres', qq{
		$settings
		SELECT hnsw_test.recall('$table', \$q\$$queries\$q\$, '$op', $k);
	});
}

# Return how many rows of $table the hnsw index on its column $col (operator
# $op, default <->) does not hold.  An index scan for a NULL query returns
# the heap TIDs of every live element, page by page, whatever the graph's
# links (src/README "Scans"), so this counts exactly, where a search for
# each row's own vector can miss an element no link leads to.  Read-only:
# fine on a hot standby.
sub rows_not_in_index
{
	my ($node, $table, $op, $col) = @_;
	$op //= '<->';
	$col //= 'v';
	my $type = $node->safe_psql('postgres', qq{
		SELECT format_type(atttypid, NULL) FROM pg_attribute
		 WHERE attrelid = '$table'::regclass AND attname = '$col'});
	my $every = "SELECT ctid FROM $table ORDER BY $col $op (SELECT NULL::$type)";
	# (jit: the disabled sequential scan costs enough to be compiled)
	my $settings = 'SET enable_seqscan = off; SET jit = off; SET hnsw.max_scan_tuples = 2147483647;';
	my $plan = $node->safe_psql('postgres', "$settings EXPLAIN (COSTS OFF) $every");
	die "the scan for a NULL query on $table uses no index:\n$plan"
	  unless $plan =~ /Index Scan using/;
	return $node->safe_psql('postgres', qq{
		$settings
		SELECT count(*) FROM $table WHERE ctid NOT IN ($every);
	});
}

# Return how many rows of $table the index does not find by their own
# vector (the nearest must be at distance 0), beyond 0.5% of the rows.
# Whether the index holds every row is rows_not_in_index's question.
sub missing_rows
{
	my ($node, $table) = @_;

	# Rows whose own vector does not find them, beyond a tolerance of 0.5%
	# of the rows: neighbour pruning can leave a rare element with no
	# incoming link (hnsw.verify_index reports them as unreachable; see
	# src/README "Limitations"), so "every row" would be a test of luck.
	# A lost row after a crash shows up as many missing rows, not one.
	return $node->safe_psql('postgres', qq{
		SET enable_seqscan = off;
		SET jit = off;
		SET hnsw.ef_search = 100;
		SELECT greatest(count(*) FILTER (WHERE (SELECT b.v <-> a.v FROM $table b
				ORDER BY b.v <-> a.v LIMIT 1) IS DISTINCT FROM 0)
			- floor(0.005 * count(*)), 0)
		FROM $table a;
	});
}

# Create procedure insert_rows(tab, first, n, dim) that inserts random
# vectors one row per transaction.
# Vacuum table once a second until the IPC::Run handles @h are done;
# return whether all of them succeeded and how many vacuums ran.
sub finish_with_vacuums
{
	my ($node, $table, @h) = @_;
	my $vacuums = 0;
	my $ok = 1;

	while (grep { $_->pumpable } @h)
	{
		$node->safe_psql('postgres', "VACUUM $table");
		$vacuums++;
		sleep 1;
		$_->pump_nb for grep { $_->pumpable } @h;
	}
	for my $h (@h)
	{
		$ok = 0 unless $h->finish;
	}
	return ($ok, $vacuums);
}

sub insert_proc
{
	my ($node) = @_;
	$node->safe_psql('postgres', q{
		CREATE PROCEDURE insert_rows(tab text, first int, n int, dim int)
		LANGUAGE plpgsql AS $$
		BEGIN
			FOR i IN first .. first + n - 1 LOOP
				EXECUTE format('INSERT INTO %I SELECT $1, (SELECT array_agg(random() * 100)::real[] FROM generate_series(1, $2))::vector', tab)
					USING i, dim;
				COMMIT;
			END LOOP;
		END $$;
	});
	return;
}

1;
