# A server that speaks just enough of the PostgreSQL protocol (v3, extended
# and simple query, no authentication, no TLS) to be a shard of the
# coordinator, and answers every statement with the same rows, chosen by the
# test: for checking what the coordinator does with answers a real shard
# would not send (test/t/033_coord_shard_rows.pl).
package FakeShard;

use strict;
use warnings;
use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(start_fake_shard stop_fake_shard);

# children still running, killed at exit whatever happens to the test
my %children;
END { stop_fake_shard($_) foreach keys %children; }

# Start a fake shard on a free TCP port of 127.0.0.1, in a child process.
# columns: [[name, type OID, format (0 text, 1 binary)], ...]
# rows:    [[value (bytes) or undef for null, ...], ...]
# Returns (port, pid).
sub start_fake_shard
{
	my (%args) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $listener = IO::Socket::INET->new(
		LocalAddr => '127.0.0.1',
		LocalPort => $port,
		Listen => 16,
		ReuseAddr => 1) or die "cannot listen on $port: $!";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		# let go of the test's output, which prove waits on
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', '/dev/null');
		open(STDERR, '>', '/dev/null');
		%children = ();
		serve($listener, $args{columns}, $args{rows});
		POSIX::_exit(0);    # no END blocks: they belong to the test
	}
	close $listener;
	$children{$pid} = 1;
	return ($port, $pid);
}

sub stop_fake_shard
{
	my ($pid) = @_;
	return unless delete $children{$pid};
	kill 'KILL', $pid;
	waitpid($pid, 0);
	return;
}

sub message
{
	my ($type, $body) = @_;
	return $type . pack('N', length($body) + 4) . $body;
}

sub answer
{
	my ($columns, $rows) = @_;
	my $desc = pack('n', scalar @$columns);
	foreach my $c (@$columns)
	{
		# name, table OID, column number, type OID, type length (-1),
		# type modifier (-1), format
		$desc .= $c->[0] . "\0" . pack('NnNnNn', 0, 0, $c->[1], 0xFFFF, 0xFFFFFFFF, $c->[2]);
	}
	my $data = '';
	foreach my $r (@$rows)
	{
		my $row = pack('n', scalar @$r);
		$row .= defined $_ ? pack('N', length $_) . $_ : pack('N', 0xFFFFFFFF) foreach @$r;
		$data .= message('D', $row);
	}
	return (message('T', $desc), $data . message('C', 'SELECT ' . scalar(@$rows) . "\0"));
}

# Serve every connection until killed.
sub serve
{
	my ($listener, $columns, $rows) = @_;
	my ($desc, $data) = answer($columns, $rows);
	my $sel = IO::Select->new($listener);
	my (%buf, %started);

	while (1)
	{
		foreach my $s ($sel->can_read)
		{
			if ($s == $listener)
			{
				my $c = $listener->accept or next;
				$sel->add($c);
				$buf{$c} = '';
				$started{$c} = 0;
				next;
			}
			my $n = sysread($s, my $in, 65536);
			if (!$n)
			{
				$sel->remove($s);
				delete $buf{$s};
				close $s;
				next;
			}
			$buf{$s} .= $in;
			my $out = '';
			my $closing = 0;
			while (1)
			{
				if (!$started{$s})
				{
					last if length $buf{$s} < 8;
					my ($len, $code) = unpack('NN', $buf{$s});
					last if length $buf{$s} < $len;
					substr($buf{$s}, 0, $len) = '';
					if ($code == 80877103 || $code == 80877104)
					{
						$out .= 'N';    # no TLS, no GSS encryption
						next;
					}
					$started{$s} = 1;
					$out .= message('R', pack('N', 0));
					$out .= message('S', "$_->[0]\0$_->[1]\0")
					  foreach (['server_version', '15.0'], ['client_encoding', 'UTF8'],
						['standard_conforming_strings', 'on'], ['integer_datetimes', 'on']);
					$out .= message('K', pack('NN', $$, 42));
					$out .= message('Z', 'I');
					next;
				}
				last if length $buf{$s} < 5;
				my ($type, $len) = unpack('aN', $buf{$s});
				last if length $buf{$s} < $len + 1;
				my $body = substr($buf{$s}, 5, $len - 4);
				substr($buf{$s}, 0, $len + 1) = '';
				if ($type eq 'P') { $out .= message('1', ''); }
				elsif ($type eq 'B') { $out .= message('2', ''); }
				elsif ($type eq 'C') { $out .= message('3', ''); }
				elsif ($type eq 'D')
				{
					$out .= substr($body, 0, 1) eq 'S'
					  ? message('t', pack('n', 0)) . $desc : $desc;
				}
				elsif ($type eq 'E') { $out .= $data; }
				elsif ($type eq 'S') { $out .= message('Z', 'I'); }
				elsif ($type eq 'Q') { $out .= $desc . $data . message('Z', 'I'); }
				elsif ($type eq 'X') { $closing = 1; last; }
			}
			syswrite($s, $out) if $out ne '';
			if ($closing)
			{
				$sel->remove($s);
				delete $buf{$s};
				close $s;
			}
		}
	}
}

1;
