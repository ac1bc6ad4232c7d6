# Distributed search over a simulated network: for each number of shards
# asked for, start a coordinator and the shards (test/perl/HnswSim.pm, each
# server behind its own netsim_proxy), set the network, run a workload of
# hnsw.search calls and print one line of p50/p99 latency and QPS.
#
# Run it through test/netsim/run, which installs this build into a private
# tree and runs this script as the postgres user; see test/netsim/README.md.
use strict;
use warnings;
use Getopt::Long;
use Time::HiRes ();
use Test::More;
use PostgreSQL::Test::Utils;
use HnswSim;

my %o = (
	shards => '2,4,8', standbys => 0, latency => '0.5 0.2', dataset => 'generated',
	rows => 10000, dim => 64, queries => 1000, clients => '1', seconds => 20,
	warmup => 3, k => 10, partitions => 'all', fault => [], set => [], rounds => 1,
	'write-rate' => 20);
my $usage = <<'USAGE';
Usage: test/netsim/run [OPTION]...
  --shards=LIST        numbers of shards, one simulation each (2,4,8; at most 16)
  --standbys           a streaming standby per shard, behind its own proxy
  --latency="MS [J]"   added latency, each direction, of every proxy (0.5 0.2)
  --fault="NAME:CMD"   another proxy command before the workload, e.g.
                       "shard1:stall 50 5", "all:bandwidth 10000000" (repeatable)
  --baseline           also measure without the faults, in the same simulation:
                       one line each, the time split in --rounds=N rounds (1)
                       that alternate between the two
  --set="NAME=VALUE"   a setting of the coordinator, e.g. "hnsw.hedge_delay=0"
                       (repeatable)
  --dataset=NAME       generated or fmnist (generated)
  --rows=N             rows per shard (10000)
  --dim=D              dimensions of generated vectors (64)
  --queries=N          distinct query vectors (1000)
  --clients=LIST       numbers of concurrent clients, one run each (1)
  --seconds=S          length of the measured run (20), after --warmup=S (3)
  --k=K                neighbours per search (10)
  --ef-search=N        hnsw.ef_search on the shards (the coordinator's default)
  --partitions=WHICH   all (every shard) or own (the query's own partition)
  --rate=R             searches per second in all (unlimited)
  --pin                every shard primary's processes on CPU 0, every standby's
                       on CPU 1 (taskset; new backends inherit it), as if each
                       copy had a core of its own; the coordinator, the proxies
                       and pgbench run anywhere
  --direct             instead of pgbench, test/netsim/netsim_client: the same
                       searches by hnsw.search and by a client asking every
                       shard itself through the same proxies, interleaved
  --move               instead: searches (--clients, the first number) and
                       inserts (--write-rate) for --seconds, and after
                       --warmup seconds hnsw.move_partition of value 0 from
                       shard1 to the last shard (--rows 30000: 15,000 rows);
                       the move's duration, search latency before, during
                       and after it, rows of value 0 before and after
  --write-rate=R       inserts per second through the coordinator during
                       --move, into random values (20)
USAGE
# PostgreSQL::Test::Utils sends STDOUT and STDERR to its log; results and
# errors go to the terminal through Test::More's own handles.  There are
# no tests here.
my $out = Test::More->builder->output;
my $errout = Test::More->builder->failure_output;
Test::More->builder->no_ending(1);
$SIG{__DIE__} = sub { print $errout @_ unless $^S; };

sub say_out { print $out @_, "\n"; }

GetOptions(\%o, 'shards=s', 'standbys', 'latency=s', 'fault=s@', 'baseline', 'rounds=i',
	'set=s@', 'dataset=s', 'rows=i', 'dim=i', 'queries=i', 'clients=s', 'seconds=i',
	'warmup=i', 'k=i', 'ef-search=i', 'partitions=s', 'rate=i', 'direct', 'pin', 'move',
	'write-rate=i', 'help')
  or die $usage;
$o{help} and print($out $usage), exit 0;
die "--rounds must be at least 1\n" if $o{rounds} < 1;

say_out(sprintf('# %s data, %d rows per shard, %d queries, k = %d, %s, %s s each%s',
	$o{dataset}, $o{rows}, $o{queries}, $o{k},
	$o{partitions} eq 'all' ? 'every shard searched' : 'own partition only',
	$o{seconds}, @{ $o{set} } ? ', ' . join(', ', @{ $o{set} }) : ''));
chomp(my $cores = `nproc`);
say_out(sprintf('# machine: %s cores, load average %s at the start', $cores,
	join(' ', (split ' ', slurp_file('/proc/loadavg'))[0 .. 2])));
if ($o{move})
{
	say_out(sprintf('%-6s %-10s %-7s %6s %8s %8s %7s %8s %20s %20s %20s %10s',
		'shards', 'latency', 'clients', 'writes', 'before', 'after', 'expect', 'move s',
		'before p50/p99/n', 'during p50/p99/max', 'after p50/p99/n', 'dups/lost'));
}
elsif ($o{direct})
{
	say_out(sprintf('%-6s %-10s %9s %22s %22s %12s %6s %7s',
		'shards', 'latency', 'searches', 'direct p50/p99/mean', 'search p50/p99/mean',
		'ratio 50/99', 'agree', 'hop ms'));
}
else
{
	say_out(sprintf('%-6s %-8s %-7s %-10s %-24s %9s %8s %8s %8s %8s %8s',
		'shards', 'standbys', 'clients', 'latency', 'faults', 'searches', 'QPS',
		'p50 ms', 'p99 ms', 'mean ms', 'cpu ms'));
}

# Run the workload; return its result and the servers' and proxies' CPU.
sub measure
{
	my ($sim, %w) = @_;
	my $cpu = sim_cpu($sim);
	my $r = workload($sim, %w);
	die "the workload failed:\n$r->{log}" unless $r->{ok} && $r->{queries};
	$r->{cpu} = sim_cpu($sim) - $cpu;
	return $r;
}

# Merge the results of several runs into one: latencies, searches, time.
sub merge
{
	my (@runs) = @_;
	my (@lat, $cpu, $secs);
	foreach my $r (@runs)
	{
		push @lat, @{ $r->{lat} };
		$cpu += $r->{cpu};
		$secs += $r->{queries} / $r->{qps};
	}
	@lat = sort { $a <=> $b } @lat;
	my $sum = 0;
	$sum += $_ for @lat;
	return {
		queries => scalar(@lat), qps => @lat / $secs, mean => $sum / @lat,
		p50 => $lat[ int(0.50 * $#lat + 0.5) ], p99 => $lat[ int(0.99 * $#lat + 0.5) ],
		cpu_ms => 1000 * $cpu / @lat };
}

sub report
{
	my ($n, $clients, $faults, $r) = @_;
	say_out(sprintf('%-6d %-8s %-7d %-10s %-24s %9d %8.0f %8.2f %8.2f %8.2f %8.3f',
		$n, $o{standbys} ? 'yes' : 'no', $clients,
		$o{latency} eq '' ? 'none' : $o{latency}, $faults,
		$r->{queries}, $r->{qps}, $r->{p50}, $r->{p99}, $r->{mean}, $r->{cpu_ms}));
}

# Apply (or, with $undo, take back) the --fault commands.
sub faults
{
	my ($sim, $undo) = @_;
	foreach my $f (@{ $o{fault} })
	{
		my ($name, $cmd) = $f =~ /^([\w]+):(.+)$/ or die "--fault: NAME:COMMAND expected\n";
		if (!$undo)
		{
			proxy_cmd($sim, $name, $cmd);
			next;
		}
		proxy_cmd($sim, $name, 'normal');
		proxy_cmd($sim, $name, "latency $o{latency}") if $o{latency} ne '';
	}
	return;
}

# Pin the processes of $node's server (the postmaster and its children,
# and so every backend forked later) to CPU $cpu.
sub pin
{
	my ($node, $cpu) = @_;
	my $pm = $node->{_pid};
	opendir(my $dh, '/proc') or die "/proc: $!";
	foreach my $p ($pm, grep { /^\d+$/ } readdir($dh))
	{
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $stat = <$fh>;
		close($fh);
		next unless $p == $pm || ($stat =~ /^\d+ \(.*\) \S (\d+)/ && $1 == $pm);
		system('taskset', '-p', '-c', $cpu, $p) == 0 || die "taskset $p failed\n";
	}
	closedir($dh);
	return;
}

# p50, p99, max and number of the latencies of the searches in [$t0, $t1)
# (start times, seconds since the epoch), from workload_finish's at
sub window
{
	my ($at, $t0, $t1) = @_;
	my @l = sort { $a <=> $b }
	  map { $_->[1] } grep { my $s = $_->[0] - $_->[1] / 1000; $s >= $t0 && $s < $t1 } @$at;
	return (0, 0, 0, 0) unless @l;
	return ($l[ int(0.50 * $#l + 0.5) ], $l[ int(0.99 * $#l + 0.5) ], $l[-1], scalar(@l));
}

# --move: searches and inserts through the coordinator for --seconds, and
# after --warmup seconds the move of value 0 from shard1 to shard N.
sub move_run
{
	my ($sim, $n) = @_;
	my $coord = $sim->{coord};
	my ($clients) = split /,/, $o{clients};
	die "--move needs at least 2 shards\n" if $n < 2;

	# every insert logged on the coordinator in its own transaction
	$coord->safe_psql('postgres', q{
		CREATE SEQUENCE new_ids START 100000000;
		CREATE TABLE inserted (id bigint, part int);});
	my $initial = $coord->safe_psql('postgres', 'SELECT count(*) FROM items WHERE part = 0');
	my %w = (clients => $clients, k => $o{k}, partitions => $o{partitions},
		defined $o{'ef-search'} ? ('ef_search' => $o{'ef-search'}) : ());
	my $search = workload_start($sim, %w, seconds => $o{seconds});
	my $writes = workload_start($sim, clients => 1, seconds => $o{seconds},
		rate => $o{'write-rate'}, sql => q{
		WITH i AS (INSERT INTO items SELECT nextval('new_ids'), part, v FROM queries
				   WHERE qid = :q RETURNING id, part)
		INSERT INTO inserted SELECT id, part FROM i});
	sleep($o{warmup});

	my $before = $coord->safe_psql('postgres', 'SELECT count(*) FROM items WHERE part = 0');
	my $t0 = Time::HiRes::time();
	my ($rc, $moved, $err) = $coord->psql('postgres',
		"CALL hnsw.move_partition('items', 0, 'shard$n')", on_error_stop => 1);
	my $t1 = Time::HiRes::time();
	die "the move failed: $err\n" if $rc != 0;
	my $after_move = $coord->safe_psql('postgres', 'SELECT count(*) FROM items WHERE part = 0');

	my $s = workload_finish($search);
	my $wr = workload_finish($writes);
	die "the searches failed:\n$s->{log}" unless $s->{ok} && $s->{queries};
	die "the inserts failed:\n$wr->{log}" unless $wr->{ok} && $wr->{queries};
	die "the move ended after the searches: raise --seconds\n"
	  if !@{ $s->{at} } || $s->{at}[-1][0] < $t1;

	my ($after, $ids) = split /\|/, $coord->safe_psql('postgres',
		'SELECT count(*), count(DISTINCT id) FROM items WHERE part = 0');
	my $expect = $initial + $coord->safe_psql('postgres',
		'SELECT count(*) FROM inserted WHERE part = 0');
	my $lost = $coord->safe_psql('postgres', q{
		SELECT count(*) FROM inserted i
		 WHERE NOT EXISTS (SELECT FROM items t WHERE t.part = i.part AND t.id = i.id)});
	my $start = $s->{at}[0][0] - $s->{at}[0][1] / 1000;
	my @b = window($s->{at}, $start, $t0);
	my @d = window($s->{at}, $t0, $t1);
	my @a = window($s->{at}, $t1, $s->{at}[-1][0] + 1);
	say_out(sprintf('%-6d %-10s %-7d %6d %8d %8d %7d %8.2f %20s %20s %20s %10s',
		$n, $o{latency} eq '' ? 'none' : $o{latency}, $clients, $wr->{queries},
		$before, $after, $expect, $t1 - $t0,
		sprintf('%.2f/%.2f/%d', @b[ 0, 1, 3 ]), sprintf('%.2f/%.2f/%.0f', @d[ 0 .. 2 ]),
		sprintf('%.2f/%.2f/%d', @a[ 0, 1, 3 ]), sprintf('%d/%d', $after - $ids, $lost)));
	say_out(sprintf('# value 0: %d rows at the start, %d when the move began, '
		  . '%d right after it, %d at the end (%d expected: those and every insert '
		  . 'into value 0); %d searches during the move', $initial, $before, $after_move,
		$after, $expect, $d[3]));
	return;
}

my $maxclients = 1;
$maxclients = $_ > $maxclients ? $_ : $maxclients foreach split /,/, $o{clients};
foreach my $n (split /,/, $o{shards})
{
	my $sim = start_sim(shards => $n, standbys => $o{standbys}, dataset => $o{dataset},
		rows => $o{rows}, dim => $o{dim}, queries => $o{queries},
		max_connections => 20 + 2 * $maxclients, prefix => "n${n}_",
		$o{move} ? (logical => 1) : (),
		$o{latency} ne '' ? (latency => $o{latency}) : ());
	if ($o{pin})
	{
		pin($_, 0) foreach @{ $sim->{shard} };
		pin($_, 1) foreach @{ $sim->{standby} // [] };
	}
	if (@{ $o{set} })
	{
		foreach my $set (@{ $o{set} })
		{
			my ($name, $value) = $set =~ /^([\w.]+)=(.*)$/ or die "--set: NAME=VALUE expected\n";
			$value =~ s/'/''/g;
			$sim->{coord}->safe_psql('postgres', "ALTER SYSTEM SET $name = '$value'");
		}
		$sim->{coord}->reload;
	}
	if ($o{move})
	{
		move_run($sim, $n);
		stop_sim($sim);
		next;
	}
	if ($o{direct})
	{
		direct_client($sim, seconds => $o{warmup}, k => $o{k}) if $o{warmup};
		my $r = direct_client($sim, seconds => $o{seconds}, k => $o{k});
		say_out(sprintf('%-6d %-10s %9d %22s %22s %12s %6.4f %7.3f',
			$n, $o{latency} eq '' ? 'none' : $o{latency}, $r->{searches},
			sprintf('%.2f/%.2f/%.2f', @$r{qw(direct_p50 direct_p99 direct_mean)}),
			sprintf('%.2f/%.2f/%.2f', @$r{qw(coord_p50 coord_p99 coord_mean)}),
			sprintf('%.2f/%.2f', @$r{qw(ratio_p50 ratio_p99)}), $r->{agree}, $r->{hop_p50}));
		stop_sim($sim);
		next;
	}
	foreach my $clients (split /,/, $o{clients})
	{
		my %w = (clients => $clients, k => $o{k}, partitions => $o{partitions},
			defined $o{'ef-search'} ? (ef_search => $o{'ef-search'}) : (),
			$o{rate} ? (rate => $o{rate}) : ());
		my $desc = @{ $o{fault} } ? join(';', @{ $o{fault} }) : 'none';
		my (@base, @faulty);

		workload($sim, %w, seconds => $o{warmup}) if $o{warmup};
		if (!$o{baseline})
		{
			faults($sim, 0);
			push @faulty, measure($sim, %w, seconds => $o{seconds});
			faults($sim, 1);
		}
		else
		{
			my $secs = int($o{seconds} / $o{rounds}) || 1;	# pgbench -T: whole seconds
			foreach my $round (1 .. $o{rounds})
			{
				push @base, measure($sim, %w, seconds => $secs);
				faults($sim, 0);
				push @faulty, measure($sim, %w, seconds => $secs);
				faults($sim, 1);
			}
			report($n, $clients, 'none', merge(@base));
		}
		report($n, $clients, $desc, merge(@faulty));
	}
	stop_sim($sim);
}
