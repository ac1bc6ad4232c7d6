# A simulated distributed deployment on one machine, for TAP tests and the
# network benchmark (test/netsim/run): a coordinator and N shard servers,
# optionally a streaming standby per shard, each shard server and standby
# behind its own fault-injecting proxy (test/netsim/netsim_proxy), so that
# the coordinator reaches every copy through a network whose latency,
# bandwidth, stalls, resets, refusals and black holes a test sets while a
# workload runs.
#
#	my $sim = start_sim(shards => 4, standbys => 1, latency => '0.5 0.2');
#	proxy_cmd($sim, 'shard2', 'stall 50 5');	# 50 ms stalls on 5% of queries
#	my $r = workload($sim, clients => 2, seconds => 10);
#	printf "p50 %.2f ms, p99 %.2f ms, %.0f QPS\n", @$r{qw(p50 p99 qps)};
#	stop_sim($sim);		# also done at exit
#
# The distributed table is items (id bigint, part int, embedding vector(D))
# partitioned by LIST (part).  Partition p lives on shard (p mod N) + 1:
# its shard table "items" and hnsw index are loaded and built on the shard
# directly (not through the proxy), and the coordinator attaches one
# postgres_fdw foreign partition per shard, as README.md "Distributed
# search" describes doing by hand.  Queries are in the coordinator's local
# table queries (qid int, part int, v vector(D)).
package HnswSim;

use strict;
use warnings;
use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use IO::Socket::INET;
use IPC::Run;
use POSIX ();
use Time::HiRes qw(time sleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(start_sim proxy_cmd workload workload_start workload_finish
  direct_client sim_cpu stop_sim);

my $FMNIST = '/usr/share/datasets/fashion-mnist';
my $ROOT = File::Spec->rel2abs(dirname(__FILE__) . '/../..');
my @running;					# every proxy this process started, for END

# Start the deployment; return a handle for the other functions.  Options
# (defaults in parentheses):
#	shards			number of shard servers, 1 to 16 (2)
#	standbys		1: a streaming standby per shard, added as its replica (0)
#	latency			initial proxy latency, "MS [JITTER_MS]" (none)
#	dataset			'generated' or 'fmnist' (generated)
#	rows			rows per shard (2000); fmnist: rows per shard on average,
#					60,000 at most in all, partitioned by label (shards <= 10)
#	dim				dimensions of generated vectors (32)
#	parts_per_shard	partitions per shard, generated data (2)
#	clusters		Gaussian clusters per partition, generated data (4)
#	sigma			their standard deviation per dimension; centres are
#					uniform in [0, 100) per dimension (8)
#	queries			rows of the query table (200)
#	m, ef_construction	index options (16, 64)
#	shared_buffers	of every server (16MB)
#	max_connections	of every server (40)
#	logical			1: the shards have wal_level = logical, so that
#					hnsw.move_partition may move partitions off them (0)
#	seed			random draws of the data and the proxies (1)
#	prefix			of the node names, so that one script can start several
#					simulations one after the other ('')
sub start_sim
{
	my (%o) = @_;
	my %sim = (
		shards => 2, standbys => 0, dataset => 'generated', rows => 2000,
		dim => 32, parts_per_shard => 2, clusters => 4, sigma => 8,
		queries => 200, m => 16, ef_construction => 64,
		shared_buffers => '16MB', max_connections => 40, logical => 0, seed => 1, prefix => '',
		%o);
	my $n = $sim{shards};

	die "shards must be between 1 and 16\n" unless $n =~ /^\d+$/ && $n >= 1 && $n <= 16;
	die "fmnist has 10 labels: at most 10 shards\n"
	  if $sim{dataset} eq 'fmnist' && $n > 10;
	die "unknown dataset $sim{dataset}\n" unless $sim{dataset} =~ /^(generated|fmnist)$/;
	$sim{dim} = 784 if $sim{dataset} eq 'fmnist';
	$sim{dir} = PostgreSQL::Test::Utils::tempdir('netsim');
	$sim{proxy_bin} = $ENV{NETSIM_PROXY} // build_proxy();

	# partition values of each shard
	my $nparts = $sim{dataset} eq 'fmnist' ? 10 : $n * $sim{parts_per_shard};
	$sim{parts} = [ map { my $i = $_; [ grep { $_ % $n == $i - 1 } 0 .. $nparts - 1 ] } 1 .. $n ];

	# shard servers, loaded and indexed all at once
	my @loads;
	foreach my $i (1 .. $n)
	{
		my $node = new_node(\%sim, "$sim{prefix}shard$i",
			allows_streaming => $sim{logical} ? 'logical' : $sim{standbys});
		push @{ $sim{shard} }, $node;
		push @loads, load_shard(\%sim, $i);
	}
	foreach my $l (@loads)
	{
		$l->{h}->finish
		  or die "loading shard $l->{i} failed:\n$l->{err}";
	}

	# standbys, from a base backup taken after the load
	if ($sim{standbys})
	{
		foreach my $i (1 .. $n)
		{
			my $primary = $sim{shard}[ $i - 1 ];
			$primary->backup('sim');
			my $sb = PostgreSQL::Test::Cluster->new("$sim{prefix}shard${i}_standby");
			$sb->init_from_backup($primary, 'sim', has_streaming => 1);
			$sb->start;
			push @{ $sim{standby} }, $sb;
		}
	}

	# a proxy in front of every server
	foreach my $i (1 .. $n)
	{
		start_proxy(\%sim, "shard$i", $sim{shard}[ $i - 1 ]);
		start_proxy(\%sim, "shard${i}_standby", $sim{standby}[ $i - 1 ])
		  if $sim{standbys};
	}

	setup_coordinator(\%sim);
	return bless \%sim, 'HnswSim';
}

# Send one control command to the proxy of server $name ('shard2',
# 'shard2_standby'), or to every proxy ('all'), every primary's
# ('primaries') or every standby's ('standbys').  Return the answer of the
# last proxy without its "ok"; die on an error.
sub proxy_cmd
{
	my ($sim, $name, $cmd) = @_;
	my @names =
		$name eq 'all' ? @{ $sim->{proxy_order} }
	  : $name eq 'primaries' ? grep { !/_standby$/ } @{ $sim->{proxy_order} }
	  : $name eq 'standbys' ? grep { /_standby$/ } @{ $sim->{proxy_order} }
	  : ($name);
	my $answer;

	foreach my $p (@names)
	{
		my $proxy = $sim->{proxy}{$p} or die "no proxy named $p\n";
		$answer = control($proxy->{control}, $cmd);
		die "proxy $p: $cmd: $answer\n" unless $answer =~ s/^ok ?//;
	}
	return $answer;
}

# Run pgbench on the coordinator: each client loops over
#	SELECT id FROM hnsw.search(NULL::items, <a random query>, k [, partitions])
# Options: clients (1), seconds (5) or transactions (per client), k (10),
# ef_search (the coordinator's default), partitions ('all', or 'own': only the
# query's own partition), rate (total searches per second, pgbench -R;
# unlimited; latencies then count from each search's scheduled start), sql (another statement to loop over instead, where :q is a
# random qid of the queries table).  Return a hash: queries (statements
# that completed), qps, p50, p99, mean, max (ms), aborted (clients that
# pgbench stopped on an error), ok (pgbench exited 0), log (its output),
# lat (every statement's latency in ms, sorted).
sub workload
{
	my ($sim, %o) = @_;
	return workload_finish(workload_start($sim, %o));
}

# workload, started in the background: returns a handle for
# workload_finish, which waits for the end of the run (pgbench -T) and
# returns workload's hash, and in it at: [end, latency] of every statement
# (end in seconds since the epoch, latency in ms), in the order they ended.
sub workload_start
{
	my ($sim, %o) = @_;
	my %w = (clients => 1, k => 10, partitions => 'all', %o);
	my $coord = $sim->{coord};
	my $run = ++$sim->{runs};
	my $script = "$sim->{dir}/workload$run.sql";
	my $prefix = "$sim->{dir}/pgbench_log$run";
	my $args = "";

	$args .= ", ef_search => $w{ef_search}" if defined $w{ef_search};
	$args .= ", partitions => ARRAY[(SELECT part FROM queries WHERE qid = :q)]"
	  if $w{partitions} eq 'own';
	die "partitions must be 'all' or 'own'\n" unless $w{partitions} =~ /^(all|own)$/;
	open(my $fh, '>', $script) or die "$script: $!";
	print $fh "\\set q random(1, $sim->{queries})\n";
	my $stmt = $w{sql} // "SELECT id FROM hnsw.search(NULL::items, "
	  . "(SELECT v FROM queries WHERE qid = :q), $w{k}$args)";
	$stmt =~ s/;\s*$//;
	print $fh "$stmt;\n";
	close($fh);

	my @cmd = ('pgbench', '-n', '-M', 'prepared', '-f', $script,
		'-c', $w{clients}, '-j', $w{clients}, '-l', "--log-prefix=$prefix",
		'-h', $coord->host, '-p', $coord->port, 'postgres');
	push @cmd, defined $w{transactions} ? ('-t', $w{transactions}) : ('-T', $w{seconds} // 5);
	push @cmd, '-R', $w{rate} if $w{rate};
	my %h = (prefix => $prefix, out => '', err => '');
	$h{h} = IPC::Run::start(\@cmd, '>', \$h{out}, '2>', \$h{err});
	return \%h;
}

sub workload_finish
{
	my ($h) = @_;
	my $ok = $h->{h}->finish;
	my ($out, $err, $prefix) = @$h{qw(out err prefix)};

	# client transaction time script epoch microseconds [lag]
	my (@lat, @at);
	foreach my $log (glob("$prefix.*"))
	{
		open(my $l, '<', $log) or die "$log: $!";
		while (<$l>)
		{
			my @f = split;
			next unless @f >= 6;
			push @lat, $f[2] / 1000.0;	# microseconds
			push @at, [ $f[4] + $f[5] / 1e6, $f[2] / 1000.0 ];
		}
		close($l);
		unlink $log;
	}
	@lat = sort { $a <=> $b } @lat;
	@at = sort { $a->[0] <=> $b->[0] } @at;
	my %r = (queries => scalar(@lat), ok => $ok ? 1 : 0, log => $out . $err,
		lat => \@lat, at => \@at);
	$r{aborted} = () = $err =~ /client \d+ script \d+ aborted/g;
	($r{qps}) = $out =~ /tps = ([\d.]+) \(without initial connection time\)/;
	$r{qps} //= 0;
	if (@lat)
	{
		my $sum = 0;
		$sum += $_ for @lat;
		$r{mean} = $sum / @lat;
		$r{p50} = $lat[ int(0.50 * $#lat + 0.5) ];
		$r{p99} = $lat[ int(0.99 * $#lat + 0.5) ];
		$r{max} = $lat[-1];
	}
	return \%r;
}

# Run test/netsim/netsim_client: the same searches through hnsw.search on
# the coordinator and by a client that asks every shard's primary itself,
# through the same proxies, interleaved.  Options: seconds (10) or
# searches (each way), k (10), seed (1).  Return a hash of its figures
# (direct_p50, direct_p99, direct_mean, coord_p50, ..., ratio_p50,
# ratio_p99, agree, searches), or die.
sub direct_client
{
	my ($sim, %o) = @_;
	my $bin = $ENV{NETSIM_CLIENT} // "$ROOT/test/netsim/netsim_client";
	my $coord = $sim->{coord};

	unless ($ENV{NETSIM_CLIENT})
	{
		system('make', '-s', '-C', $ROOT, 'netsim-client') == 0
		  or die "could not build $bin\n";
	}
	my @cmd = ($bin, '-c', sprintf('host=%s port=%d dbname=postgres', $coord->host, $coord->port),
		'-k', $o{k} // 10, '--seed', $o{seed} // 1);
	push @cmd, defined $o{searches} ? ('-n', $o{searches}) : ('-T', $o{seconds} // 10);
	foreach my $i (1 .. $sim->{shards})
	{
		push @cmd, '-s', sprintf('host=127.0.0.1 port=%d dbname=postgres',
			$sim->{proxy}{"shard$i"}{port});
	}
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err)
	  or die "netsim_client failed: $err";
	my %r = $out =~ /(\w+)=([\d.]+)/g;
	die "netsim_client said: $out$err" unless defined $r{coord_p99};
	return \%r;
}

# CPU seconds (user and system, their children's included) used so far by
# every process of the simulation's servers (each postmaster and its
# children) and by its proxies.  The difference between two calls is what
# a workload cost them.
sub sim_cpu
{
	my ($sim) = @_;
	my %want;
	my $ticks = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
	my $total = 0;

	foreach my $node ($sim->{coord}, @{ $sim->{standby} // [] }, @{ $sim->{shard} })
	{
		$want{ $node->{_pid} } = 1 if $node && $node->{_pid};
	}
	$want{ $_->{pid} } = 1 foreach grep { $_->{pid} } values %{ $sim->{proxy} };
	opendir(my $dh, '/proc') or die "/proc: $!";
	foreach my $p (grep { /^\d+$/ } readdir($dh))
	{
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $stat = <$fh>;
		close($fh);
		# pid (comm) state ppid ... utime stime cutime cstime (fields 14-17)
		next unless defined $stat && $stat =~ /^\d+ \(.*\) (.*)$/s;
		my @f = split ' ', $1;
		next unless $want{$p} || $want{ $f[1] };
		$total += $f[11] + $f[12] + $f[13] + $f[14];
	}
	closedir($dh);
	return $total / $ticks;
}

# Stop the proxies and the servers (the servers are stopped at exit anyway).
sub stop_sim
{
	my ($sim) = @_;
	foreach my $p (values %{ $sim->{proxy} })
	{
		stop_proxy($p);
	}
	foreach my $node ($sim->{coord}, @{ $sim->{standby} // [] }, @{ $sim->{shard} })
	{
		$node->stop('immediate') if $node;
	}
	return;
}

# ---------------------------------------------------------------------------

# Build the proxy in this tree; return its path.
sub build_proxy
{
	my $bin = "$ROOT/test/netsim/netsim_proxy";
	system('make', '-s', '-C', $ROOT, 'netsim') == 0
	  or die "could not build $bin\n";
	return $bin;
}

# Create and start a server with the simulation's settings.
sub new_node
{
	my ($sim, $name, %init) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	# shards are reached over TCP (through their proxy); the tests' own
	# connections use the Unix socket
	$node->append_conf('postgresql.conf', qq{
listen_addresses = '127.0.0.1'
shared_buffers = '$sim->{shared_buffers}'
max_connections = $sim->{max_connections}
max_wal_size = 1GB
log_statement = none
session_preload_libraries = 'hnsw'
});
	$node->start;
	return $node;
}

# The SQL of a generated vector of $sim->{dim} dimensions: centre $centre
# (an integer expression) of the clusters, plus Gaussian noise
# (Box-Muller) drawn with random().
sub vector_sql
{
	my ($sim, $centre) = @_;
	return qq{(SELECT array_agg(((hashint8(($centre)::bigint * 10000 + d) & 1048575) / 10485.76
		+ $sim->{sigma} * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::real ORDER BY d)
		FROM generate_series(1, $sim->{dim}) d)::vector};
}

# Start loading shard $i (1-based) in the background: table, rows, index.
sub load_shard
{
	my ($sim, $i) = @_;
	my $node = $sim->{shard}[ $i - 1 ];
	my @parts = @{ $sim->{parts}[ $i - 1 ] };
	my $sql = qq{
		CREATE EXTENSION hnsw;
		CREATE TABLE items (id bigint, part int, embedding vector($sim->{dim}));
	};
	if ($sim->{dataset} eq 'fmnist')
	{
		my $tsv = "$sim->{dir}/shard$i.tsv";
		write_fmnist($sim, $tsv, 'train', $sim->{rows} * $sim->{shards}, \@parts, 0);
		$sql .= "COPY items FROM '$tsv';\n";
	}
	else
	{
		# id = p * rows per partition + j; row j is in cluster j mod clusters
		my $per = int($sim->{rows} / $sim->{parts_per_shard});
		$sql .= sprintf(q{
			SELECT setseed(%f);
			INSERT INTO items SELECT p::bigint * %d + j, p, %s
			FROM unnest('{%s}'::int[]) p, generate_series(0, %d) j;},
			$i / 100.0, $per,
			vector_sql($sim, "p * 1000 + j % $sim->{clusters}"),
			join(',', @parts), $per - 1);
	}
	$sql .= qq{
		CREATE INDEX ON items USING hnsw (embedding vector_l2_ops)
			WITH (m = $sim->{m}, ef_construction = $sim->{ef_construction});
		ANALYZE items;
	};
	my %l = (i => $i, err => '');
	$l{h} = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $node->host,
		  '-p', $node->port, '-d', 'postgres', '-c', $sql ],
		'>', \$l{err}, '2>', \$l{err});
	return \%l;
}

# Write the first $n Fashion-MNIST images of set $set whose label is in
# @$parts into $tsv as (id, part = label, vector); ids are image numbers
# plus $id_base.
sub write_fmnist
{
	my ($sim, $tsv, $set, $n, $parts, $id_base) = @_;
	my %want = map { $_ => 1 } @$parts;
	my $max = $set eq 'train' ? 60000 : 10000;

	$n = $max if $n > $max;
	open(my $img, '-|', 'gzip', '-dc', "$FMNIST/$set-images-idx3-ubyte.gz") or die $!;
	open(my $lab, '-|', 'gzip', '-dc', "$FMNIST/$set-labels-idx1-ubyte.gz") or die $!;
	binmode($img);
	binmode($lab);
	read($img, my $h1, 16) == 16 && read($lab, my $h2, 8) == 8
	  or die "short read of Fashion-MNIST $set\n";
	open(my $out, '>', $tsv) or die "$tsv: $!";
	for my $id (0 .. $n - 1)
	{
		read($img, my $pix, 784) == 784 && read($lab, my $label, 1) == 1
		  or die "short read of Fashion-MNIST $set\n";
		$label = ord($label);
		next unless $want{$label};
		print $out $id + $id_base, "\t$label\t[" . join(',', unpack('C784', $pix)) . "]\n";
	}
	close($out);
	close($img);
	close($lab);
	return;
}

# Start a proxy in front of $node, named $name; wait until it answers.
sub start_proxy
{
	my ($sim, $name, $node) = @_;
	my %p = (
		name => $name,
		port => PostgreSQL::Test::Cluster::get_free_port(),
		control => PostgreSQL::Test::Cluster::get_free_port(),
		log => "$sim->{dir}/proxy_$name.log");
	my @cmd = ($sim->{proxy_bin}, '-l', $p{port}, '-t', $node->port,
		'-c', $p{control}, '-s', $sim->{seed} * 100 + scalar(@running));
	push @cmd, '-e', "latency $sim->{latency}" if defined $sim->{latency};

	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>', $p{log}) && open(STDERR, '>&', \*STDOUT)
		  && exec(@cmd);
		POSIX::_exit(127);		# never the parent's END blocks
	}
	$p{pid} = $pid;
	push @running, \%p;
	my $deadline = time() + 10;
	until (eval { control($p{control}, 'status') =~ /^ok/ })
	{
		die "proxy $name did not start: " . slurp_file($p{log})
		  if time() > $deadline || waitpid($pid, POSIX::WNOHANG()) == $pid;
		sleep(0.02);
	}
	$sim->{proxy}{$name} = \%p;
	push @{ $sim->{proxy_order} }, $name;
	return;
}

sub stop_proxy
{
	my ($p) = @_;
	return unless $p->{pid};
	kill 'TERM', $p->{pid};
	waitpid($p->{pid}, 0);
	delete $p->{pid};
	return;
}

# Send one line to a proxy's control port; return its one-line answer.
sub control
{
	my ($port, $cmd) = @_;
	my $s = IO::Socket::INET->new(
		PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 5)
	  or die "cannot reach proxy control port $port: $!\n";
	print $s "$cmd\n";
	my $answer = <$s>;
	close($s);
	die "no answer from proxy control port $port\n" unless defined $answer;
	chomp $answer;
	return $answer;
}

# The coordinator: servers through the proxies, the distributed table, the
# replicas, the queries.
sub setup_coordinator
{
	my ($sim) = @_;
	my $coord = new_node($sim, "$sim->{prefix}coord");
	my $d = $sim->{dim};
	my $sql = qq{
		CREATE EXTENSION hnsw;
		CREATE EXTENSION postgres_fdw;
		CREATE TABLE items (id bigint, part int, embedding vector($d)) PARTITION BY LIST (part);
	};
	foreach my $name (@{ $sim->{proxy_order} })
	{
		$sql .= sprintf(q{
		CREATE SERVER %s FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '127.0.0.1', port '%d', dbname 'postgres');
		CREATE USER MAPPING FOR CURRENT_USER SERVER %s;},
			$name, $sim->{proxy}{$name}{port}, $name);
	}
	foreach my $i (1 .. $sim->{shards})
	{
		$sql .= sprintf(q{
		CREATE FOREIGN TABLE items_shard%d PARTITION OF items FOR VALUES IN (%s)
			SERVER shard%d OPTIONS (table_name 'items');},
			$i, join(', ', @{ $sim->{parts}[ $i - 1 ] }), $i);
		$sql .= "SELECT hnsw.add_replica('shard$i', 'shard${i}_standby');\n"
		  if $sim->{standbys};
	}
	$sql .= "CREATE TABLE queries (qid int PRIMARY KEY, part int, v vector($d));\n";
	$coord->safe_psql('postgres', $sql);

	if ($sim->{dataset} eq 'fmnist')
	{
		my $tsv = "$sim->{dir}/queries.tsv";
		write_fmnist($sim, $tsv, 't10k', $sim->{queries}, [ 0 .. 9 ], 1);
		$coord->safe_psql('postgres', "COPY queries FROM '$tsv'");
	}
	else
	{
		my $nparts = $sim->{shards} * $sim->{parts_per_shard};
		$coord->safe_psql('postgres', sprintf(q{
			SELECT setseed(0.5);
			INSERT INTO queries SELECT q, p, %s FROM
				(SELECT q, floor(random() * %d)::int AS p, floor(random() * %d)::int AS c
				   FROM generate_series(1, %d) q) s;},
			vector_sql($sim, 'p * 1000 + c'), $nparts, $sim->{clusters},
			$sim->{queries}));
	}
	$coord->safe_psql('postgres', 'ANALYZE queries');
	$sim->{queries} = $coord->safe_psql('postgres', 'SELECT count(*) FROM queries');
	$sim->{coord} = $coord;
	return;
}

END
{
	my $rc = $?;
	stop_proxy($_) foreach @running;
	$? = $rc;
}

1;
