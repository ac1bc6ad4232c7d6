# Helpers shared by the hnsw access method's cluster tests (test/t/01*_hnsw_*):
# loading Fashion-MNIST or generated vectors, and recall against exact search.
package HnswAmTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Utils;

our @EXPORT = qw(load_fmnist load_random recall missing_rows insert_proc);

my $FMNIST = '/usr/share/datasets/fashion-mnist';

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

# Return recall@$k of the index on $table.v for the queries in $queries.v
# with operator $op, against exact search; $settings are SET commands run
# first (e.g. "SET hnsw.ef_search = 100;").
sub recall
{
	my ($node, $table, $queries, $op, $k, $settings) = @_;
	$settings //= '';
	return $node->safe_psql('postgres', qq{
		SET enable_indexscan = off;
		SET enable_bitmapscan = off;
		CREATE TEMP TABLE truth AS SELECT q.id AS qid, t.id AS tid
			FROM $queries q, LATERAL (SELECT id FROM $table
				ORDER BY $table.v $op q.v LIMIT $k) t;
		RESET enable_indexscan;
		SET enable_seqscan = off;
		$settings
		CREATE TEMP TABLE found AS SELECT q.id AS qid, t.id AS tid
			FROM $queries q, LATERAL (SELECT id FROM $table
				ORDER BY $table.v $op q.v LIMIT $k) t;
		SELECT round((SELECT count(*) FROM truth JOIN found USING (qid, tid))::numeric
			/ (SELECT count(*) FROM truth), 4);
	});
}

# Return how many rows of $table the index does not find by their own
# vector (the nearest must be at distance 0).
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
		SET hnsw.ef_search = 100;
		SELECT greatest(count(*) FILTER (WHERE (SELECT b.v <-> a.v FROM $table b
				ORDER BY b.v <-> a.v LIMIT 1) IS DISTINCT FROM 0)
			- floor(0.005 * count(*)), 0)
		FROM $table a;
	});
}

# Create procedure insert_rows(tab, first, n, dim) that inserts random
# vectors one row per transaction.
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
