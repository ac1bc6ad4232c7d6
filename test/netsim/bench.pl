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
use Test::More;
use PostgreSQL::Test::Utils;
use HnswSim;

my %o = (
	shards => '2,4,8', standbys => 0, latency => '0.5 0.2', dataset => 'generated',
	rows => 10000, dim => 64, queries => 1000, clients => 1, seconds => 20,
	warmup => 3, k => 10, partitions => 'all', fault => []);
my $usage = <<'USAGE';
Usage: test/netsim/run [OPTION]...
  --shards=LIST        numbers of shards, one run each (2,4,8; at most 16)
  --standbys           a streaming standby per shard, behind its own proxy
  --latency="MS [J]"   added latency, each direction, of every proxy (0.5 0.2)
  --fault="NAME:CMD"   another proxy command before the workload, e.g.
                       "shard1:stall 50 5", "all:bandwidth 10000000" (repeatable)
  --dataset=NAME       generated or fmnist (generated)
  --rows=N             rows per shard (10000)
  --dim=D              dimensions of generated vectors (64)
  --queries=N          distinct query vectors (1000)
  --clients=N          concurrent clients (1)
  --seconds=S          length of the measured run (20), after --warmup=S (3)
  --k=K                neighbours per search (10)
  --ef-search=N        hnsw.ef_search on the shards (the coordinator's default)
  --partitions=WHICH   all (every shard) or own (the query's own partition)
  --rate=R             searches per second in all (unlimited)
USAGE
# PostgreSQL::Test::Utils sends STDOUT and STDERR to its log; results and
# errors go to the terminal through Test::More's own handles.  There are
# no tests here.
my $out = Test::More->builder->output;
my $errout = Test::More->builder->failure_output;
Test::More->builder->no_ending(1);
$SIG{__DIE__} = sub { print $errout @_ unless $^S; };

sub say_out { print $out @_, "\n"; }

GetOptions(\%o, 'shards=s', 'standbys', 'latency=s', 'fault=s@', 'dataset=s',
	'rows=i', 'dim=i', 'queries=i', 'clients=i', 'seconds=i', 'warmup=i', 'k=i',
	'ef-search=i', 'partitions=s', 'rate=i', 'help')
  or die $usage;
$o{help} and print($out $usage), exit 0;

say_out(sprintf('# %s data, %d rows per shard, %d queries, k = %d, %s, %d client(s), %d s each',
	$o{dataset}, $o{rows}, $o{queries}, $o{k},
	$o{partitions} eq 'all' ? 'every shard searched' : 'own partition only',
	$o{clients}, $o{seconds}));
chomp(my $cores = `nproc`);
say_out(sprintf('# machine: %s cores, load average %s at the start', $cores,
	join(' ', (split ' ', slurp_file('/proc/loadavg'))[0 .. 2])));
my $hdr = sprintf('%-6s %-8s %-10s %-24s %9s %8s %8s %8s %8s',
	'shards', 'standbys', 'latency', 'faults', 'searches', 'QPS', 'p50 ms', 'p99 ms', 'mean ms');
say_out($hdr);
foreach my $n (split /,/, $o{shards})
{
	my $sim = start_sim(shards => $n, standbys => $o{standbys}, dataset => $o{dataset},
		rows => $o{rows}, dim => $o{dim}, queries => $o{queries},
		max_connections => 20 + 2 * $o{clients}, prefix => "n${n}_",
		$o{latency} ne '' ? (latency => $o{latency}) : ());
	foreach my $f (@{ $o{fault} })
	{
		my ($name, $cmd) = $f =~ /^([\w]+):(.+)$/ or die "--fault: NAME:COMMAND expected\n";
		proxy_cmd($sim, $name, $cmd);
	}
	my %w = (clients => $o{clients}, k => $o{k}, partitions => $o{partitions},
		defined $o{'ef-search'} ? (ef_search => $o{'ef-search'}) : (),
		$o{rate} ? (rate => $o{rate}) : ());
	workload($sim, %w, seconds => $o{warmup}) if $o{warmup};
	my $r = workload($sim, %w, seconds => $o{seconds});
	die "the workload failed:\n$r->{log}" unless $r->{ok} && $r->{queries};
	say_out(sprintf('%-6d %-8s %-10s %-24s %9d %8.0f %8.2f %8.2f %8.2f',
		$n, $o{standbys} ? 'yes' : 'no', $o{latency} eq '' ? 'none' : $o{latency},
		@{ $o{fault} } ? join(';', @{ $o{fault} }) : 'none',
		$r->{queries}, $r->{qps}, $r->{p50}, $r->{p99}, $r->{mean}));
	stop_sim($sim);
}
