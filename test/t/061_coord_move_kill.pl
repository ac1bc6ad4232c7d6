# hnsw.move_partition stopped at every step loses and duplicates nothing,
# and leaves nothing behind once hnsw.recover_move ran:
#
# - killed (pg_terminate_backend) after each step, while writes go on: up
#   to the switch the source still holds the value and every row, after
#   it the target does; hnsw.recover_move undoes or finishes the move;
# - killed after the switch while the old rows are still on a source
#   table that keeps another value's rows: those rows are read twice until
#   hnsw.recover_move deletes them (the one window src/README documents);
# - the coordinator crashing (SIGKILL of the move's backend);
# - the target, or the source, going down after each step: the move
#   fails, undoes what it can, and hnsw.recover_move the rest once the
#   server is back.
#
# The move is stopped at each step by a lock on hnsw.moves, which it
# writes at the end of every step: the test holds the lock, and lets the
# move through one step at a time.  After each case no replication slot,
# publication, marked table or session is left on the shards.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use HnswMove;

my ($coord, $shards) = start_nodes(shards => [qw(shard1 shard2)]);
make_items($coord, dim => 4, rows => { 0 => 2000, 1 => 500, 2 => 500 },
	layout => '{"shard1": [0, 1], "shard2": [2]}');
my $home = 'shard1';			# the server holding value 0

# Where value 0 is, as the coordinator's partitions say
sub holder
{
	return $coord->safe_psql('postgres', q{
		SELECT fs.srvname FROM pg_inherits i
		  JOIN pg_foreign_table ft ON ft.ftrelid = i.inhrelid
		  JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
		 WHERE i.inhparent = 'items'::regclass
		   AND 0 = ANY (hnsw._partition_values(i.inhrelid::regclass))});
}

# Start moving value 0 to server $to in a session of its own
sub start_move
{
	my ($to) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			$coord->installed_command('psql'), '-X', '-At',
			'-d', $coord->connstr('postgres') . ' application_name=mover',
			'-c', "CALL hnsw.move_partition('items', 0, '$to')"
		],
		'>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err };
}

# The gate: two sessions that hand a lock on hnsw.moves (EXCLUSIVE MODE)
# over to each other.  The move takes a lock on hnsw.moves that
# conflicts with it when it looks for an interrupted move (FOR UPDATE),
# when it records itself (INSERT), and at the end of every step (UPDATE
# or DELETE, before its commit), so it waits for the gate at each of
# these.  To let it through one of them, the other session asks for the
# lock first, queued behind the move, and only then does the holder
# commit: the move gets the lock before the new holder, which gets it
# when the move commits, before the move asks again.  (One session
# committing and asking again does not stop the move at the next step
# if the move gets there first.)
my (@gates, @gate_pids, $holder);

sub start_gates
{
	@gates = map { $coord->background_psql('postgres') } (1, 2);
	@gate_pids = map { $_->query_safe('SELECT pg_backend_pid()') } @gates;
	$holder = undef;
	return;
}
start_gates();

sub close_gate
{
	die 'the gate is closed already' if defined $holder;
	$gates[0]->query_safe('BEGIN; LOCK TABLE hnsw.moves IN EXCLUSIVE MODE;');
	$holder = 0;
	return;
}

sub open_gate
{
	$gates[$holder]->query_safe('COMMIT;');
	$holder = undef;
	return;
}

# Let the move, waiting for the gate, through to its next wait
sub pass_gate
{
	my $next = 1 - $holder;
	$gates[$next]->query_until(qr/queued/,
		"BEGIN;\n\\echo queued\nLOCK TABLE hnsw.moves IN EXCLUSIVE MODE;\n");
	$coord->poll_query_until('postgres', qq{
		SELECT EXISTS (SELECT FROM pg_locks
						WHERE pid = $gate_pids[$next] AND NOT granted
						  AND relation = 'hnsw.moves'::regclass)})
	  or die 'the gate did not queue for the lock';
	$gates[$holder]->query_safe('COMMIT;');
	$gates[$next]->query_safe('SELECT 1');	# it has the lock: the move committed
	$holder = $next;
	return;
}

# Where the move waits for the gate, by name, or undef once it has ended:
# 'recover' (to look for an interrupted move), 'begin' (to record itself),
# or the step that it ran and is about to record (hnsw.moves.step, as
# committed when the step began).
sub wait_gate
{
	my ($m) = @_;
	foreach (1 .. 1200)
	{
		$m->{h}->pump_nb;
		return undef unless $m->{h}->pumpable;
		my $at = $coord->safe_psql('postgres', q{
			SELECT coalesce((SELECT step FROM hnsw.moves WHERE relid = 'items'::regclass),
							CASE l.mode WHEN 'RowShareLock' THEN 'recover' ELSE 'begin' END)
			  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			 WHERE a.application_name = 'mover' AND NOT l.granted
			   AND l.relation = 'hnsw.moves'::regclass});
		return $at if $at ne '';
		usleep(50_000);
	}
	die 'the move neither waits nor ends';
}

# Where the move waits for the gate, in order, and what it has done then
my @waits = ('recover', 'begin', 'table', 'identity', 'publication', 'slot', 'copy',
	'index', 'catch up', 'switch', 'switched', 'clean');
my %done = (
	recover => 'nothing',
	begin => 'the check for an interrupted move',
	table => 'making the table',
	identity => 'the replica identity',
	publication => 'the publication',
	slot => 'the slot',
	copy => 'the copy',
	index => 'the index',
	'catch up' => 'catching up',
	switch => 'the switch (before it commits)',
	switched => 'deleting the old rows',
	clean => 'cleaning up');

# Close the gate, start moving value 0 to $to, and let the move through
# until it waits at $at (one of @waits).  Dies if it waits anywhere else
# on the way, or ends.
sub move_until
{
	my ($to, $at) = @_;
	close_gate();
	my $m = start_move($to);
	foreach my $want (@waits)
	{
		my $got = wait_gate($m);
		die "the move ended before it waited at \"$at\": ${ $m->{err} }" unless defined $got;
		die "the move waited at \"$got\" instead of \"$want\"" if $got ne $want;
		return $m if $got eq $at;
		pass_gate();
	}
	die "the move never waits at \"$at\"";
}

sub kill_move
{
	my ($m) = @_;
	$coord->safe_psql('postgres', q{
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mover'});
	$m->{h}->finish;
	$coord->poll_query_until('postgres', q{
		SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'mover'})
	  or die 'the move did not end';
	return;
}

# Killed while it waits at $at, with writes going on
sub killed_after
{
	my ($at) = @_;
	my $to = $home eq 'shard1' ? 'shard2' : 'shard1';
	my $decided = $at eq 'switched' || $at eq 'clean';
	my $case = "killed after $done{$at} (to $to)";
	my $w = start_writes($coord, dim => 4, ids => 3000, parts => [0, 1]);
	my $m = move_until($to, $at);
	kill_move($m);
	open_gate();
	is(holder(), $decided ? $to : $home,
		"$case: value 0 is on " . ($decided ? 'the target' : 'the source'));
	usleep(300_000);	# writes go on
	my $err = stop_writes($coord, $w);
	unlike($err, qr/aborted|ERROR/, "$case: every write succeeded");
	like(compare_rows($coord), qr/^0\|0\|0\|\d+$/, "$case: no row lost or duplicated");
	is($coord->safe_psql('postgres', "SELECT hnsw.recover_move('items')"),
		$at eq 'begin' ? 'none' : $decided ? 'completed' : 'undone', "$case: recovered");
	like(compare_rows($coord), qr/^0\|0\|0\|\d+$/, "$case: still none after recovery");
	check_clean($coord, $shards, $case);
	$home = $to if $decided;
}

# Killed after the switch while the old rows are being deleted from a
# source table that keeps the rows of value 1 (shard1's "items", as
# create_distributed_table made it): they are read twice (the
# partition of value 1 reads the whole table) until hnsw.recover_move.
sub killed_deleting
{
	my $case = 'killed while deleting the old rows';
	my $w = start_writes($coord, dim => 4, ids => 3000, parts => [0, 1]);
	my $m = move_until('shard2', 'switch');	# done, not committed
	my $hold = $shards->{shard1}->background_psql('postgres');
	$hold->query_safe('BEGIN; LOCK TABLE items IN SHARE MODE;');
	open_gate();
	$shards->{shard1}->poll_query_until('postgres', q{
		SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DO %'})
	  or die 'the delete of the old rows did not start';
	kill_move($m);
	# the shard ends the delete once it notices its client is gone
	$shards->{shard1}->poll_query_until('postgres', q{
		SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE 'DO %'})
	  or die 'the delete of the old rows did not end';
	$hold->query_safe('COMMIT;');
	$hold->quit;
	my $err = stop_writes($coord, $w);
	unlike($err, qr/aborted|ERROR/, "$case: every write succeeded");
	is(holder(), 'shard2', "$case: value 0 is on the target");
	my $old = $shards->{shard1}->safe_psql('postgres', 'SELECT count(*) FROM items WHERE part = 0');
	ok($old > 0, "$case: the old rows of value 0 are still on the source");
	is($coord->safe_psql('postgres', 'SELECT count(*) FROM items'),
		$coord->safe_psql('postgres', 'SELECT count(*) FROM expected') + $old,
		"$case: and read with the rows of value 1");
	is($coord->safe_psql('postgres', "SELECT hnsw.recover_move('items')"), 'completed',
		"$case: recovered");
	like(compare_rows($coord), qr/^0\|0\|0\|\d+$/, "$case: no row lost or duplicated after recovery");
	check_clean($coord, $shards, $case);
	$home = 'shard2';
}

# Before the switch, from shard1's "items" (which keeps value 1); after
# it, first from there too, then from the tables made by the moves
killed_after($_) foreach (@waits[1 .. 9]);	# 'begin' to 'switch'
killed_deleting();
killed_after($_) foreach ('switched', 'clean');

# The coordinator crashes during a move (its backend killed by SIGKILL)
{
	my $case = 'coordinator crashed after the copy';
	my $to = $home eq 'shard1' ? 'shard2' : 'shard1';
	my $m = move_until($to, 'copy');
	my $pid = $coord->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE application_name = 'mover'});
	kill 'KILL', $pid;
	$m->{h}->finish;
	$_->{run}->finish foreach (@gates);	# their connections died with the others
	my $up = 0;
	foreach (1 .. 600)
	{
		last if $up = eval { $coord->safe_psql('postgres', 'SELECT 1') };
		usleep(100_000);
	}
	die 'the coordinator did not restart' unless $up;
	start_gates();
	is(holder(), $home, "$case: value 0 is on the source");
	like(compare_rows($coord), qr/^0\|0\|0\|\d+$/, "$case: no row lost or duplicated");
	is($coord->safe_psql('postgres', "SELECT hnsw.recover_move('items')"), 'undone', "$case: recovered");
	check_clean($coord, $shards, $case);
}

# A server goes down after each step: the move fails; it undoes what it
# can, and hnsw.recover_move the rest once the server is back.  From
# shard1 to shard2.
if ($home ne 'shard1')
{
	$coord->safe_psql('postgres', "CALL hnsw.move_partition('items', 0, 'shard1')");
	$home = 'shard1';
}
foreach my $down (qw(target source))
{
	foreach my $at ($down eq 'target' ? @waits[2 .. 10] : ('slot', 'catch up'))
	{
		# (the switch commits even with the target down once its work
		# there is done)
		my $decided = $at eq 'switch' || $at eq 'switched';
		my $node = $shards->{ $down eq 'target' ? 'shard2' : 'shard1' };
		my $case = "the $down down after $done{$at}";
		my $m = move_until('shard2', $at);
		$node->stop('immediate');
		open_gate();
		$m->{h}->finish;
		like(${ $m->{err} }, qr/ERROR:/, "$case: the move fails");
		if ($decided)
		{
			like(${ $m->{err} }, qr/WARNING:  value 0 of table public.items is on server "shard2" now, but the move is not finished/,
				"$case: it says the value moved");
		}
		else
		{
			like(${ $m->{err} }, qr/WARNING:  could not undo the move of value 0 of table public.items to server "shard2"/,
				"$case: it says what it could not undo");
		}
		is(holder(), $decided ? 'shard2' : 'shard1',
			"$case: value 0 is on the " . ($decided ? 'target' : 'source'));
		$node->start;
		like(compare_rows($coord), qr/^0\|0\|0\|\d+$/, "$case: no row lost or duplicated");
		is($coord->safe_psql('postgres', "SELECT hnsw.recover_move('items')"),
			$decided ? 'completed' : 'undone', "$case: recovered");
		like(compare_rows($coord), qr/^0\|0\|0\|\d+$/, "$case: still none after recovery");
		check_clean($coord, $shards, $case);
		if ($decided)
		{
			$coord->safe_psql('postgres', "CALL hnsw.move_partition('items', 0, 'shard1')");
		}
	}
}

# Rows written on the target's copy directly (behind the coordinator's
# back) during a move: the move finds out and is undone; the source keeps
# the value.
{
	my $case = 'a row added to the copy directly';
	my $m = move_until('shard2', 'catch up');
	$shards->{shard2}->safe_psql('postgres', q{INSERT INTO items_p0 VALUES (-1, 0, '[1,1,1,1]')});
	open_gate();
	$m->{h}->finish;
	like(${ $m->{err} }, qr/ERROR:  the copy of value 0 on server "shard2" does not match the source\nDETAIL:  Server "shard1" has \d+ rows of the value; the copy has \d+ rows, 0 of other values\.\nHINT:  Were rows written on a shard directly during the move\?/,
		"$case: the switch fails");
	is(holder(), 'shard1', "$case: value 0 is on the source");
	like(compare_rows($coord), qr/^0\|0\|0\|\d+$/, "$case: no row lost or duplicated");
	check_clean($coord, $shards, $case);
}
{
	my $case = 'a row of the copy deleted directly';
	my $m = move_until('shard2', 'index');
	my $id = $shards->{shard2}->safe_psql('postgres',
		'DELETE FROM items_p0 WHERE id = (SELECT min(id) FROM items_p0) RETURNING id');
	$coord->safe_psql('postgres', qq{
		UPDATE items SET embedding = '[2,2,2,2]' WHERE id = $id AND part = 0;
		UPDATE expected SET embedding = '[2,2,2,2]' WHERE id = $id;});
	open_gate();
	$m->{h}->finish;
	like(${ $m->{err} }, qr/ERROR:  the copy on server "shard2" has no row that the source changed\nDETAIL:  Its rows were written on the server directly during the move\./,
		"$case: catching up fails");
	is(holder(), 'shard1', "$case: value 0 is on the source");
	like(compare_rows($coord), qr/^0\|0\|0\|\d+$/, "$case: no row lost or duplicated");
	check_clean($coord, $shards, $case);
}

# and a move that nothing stops, after all that
$coord->safe_psql('postgres', "CALL hnsw.move_partition('items', 0, 'shard2')");
is(holder(), 'shard2', 'a move afterwards succeeds');
like(compare_rows($coord), qr/^0\|0\|0\|\d+$/, 'no row lost or duplicated');
check_clean($coord, $shards, 'a move afterwards');

$_->quit foreach (@gates);
done_testing();
