# hnsw.verify_index finds deliberately damaged index pages and names the
# block, offset and slot; it passes on the same index undamaged and after
# crash recovery (a backend killed with SIGKILL during inserts).  Every
# damage is also met by a scan, an insert and a VACUUM that read the
# damaged page: each ends in ERRCODE_INDEX_CORRUPTED (XX002) naming the
# index, or, where it does not use the damaged field, succeeds; never in a
# crash (the postmaster's start time does not change and the log has no
# "terminated by signal").
#
# The damage is done to the relation file while the server is stopped, using
# the page layout of src/hnsw.h: page header 24 bytes, line pointers of 4
# bytes after it; an element tuple is type, level, deleted, heap TID
# capacity (4 bytes; even, 2 to 10), that many heap TIDs of 6 bytes
# (CREATE INDEX leaves room for 2 when a vector is unique), the vector (varlena: 4-byte header, int16 dim,
# int16 unused, floats; for i8 three floats, scale, offset and error bound,
# then the int8 codes), then neighbour slots of 8 bytes each (bfloat16
# distance, block hi, block lo, offset), level 0 first; the
# metapage's magic number is the first field after the page header.  An
# element cut over two pages by packed = on has its tail (type, unused, the
# head's TID, bytes) first on the next page.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HnswAmTest;

my $BLCKSZ = 8192;

my $node = PostgreSQL::Test::Cluster->new('verify');
$node->init;
$node->append_conf('postgresql.conf', "max_parallel_maintenance_workers = 0\nrestart_after_crash = on\n");
$node->start;
is($node->safe_psql('postgres', 'SHOW data_checksums'), 'off',
	'no data checksums: the damage must reach verify_index');
$node->safe_psql('postgres', 'CREATE EXTENSION hnsw');
insert_proc($node);
load_random($node, 't', 16, 500);
$node->safe_psql('postgres', 'CREATE INDEX t_idx ON t USING hnsw (v)');

my $summary = 'SELECT elements, dangling_links, stale_links FROM hnsw.verify_index(\'t_idx\')';
is($node->safe_psql('postgres', $summary), '500|0|0', 'a healthy index verifies');

my $file = $node->data_dir . '/'
  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('t_idx')");
my $t_probe;    # heap TID of the row of element (1,1) of t_idx

sub read_block
{
	my ($blkno) = @_;
	open(my $fh, '<:raw', $file) or die "$file: $!";
	seek($fh, $blkno * $BLCKSZ, 0) or die "seek: $!";
	read($fh, my $page, $BLCKSZ) == $BLCKSZ or die "short read of $file";
	close($fh);
	return $page;
}

sub write_block
{
	my ($blkno, $page) = @_;
	open(my $fh, '+<:raw', $file) or die "$file: $!";
	seek($fh, $blkno * $BLCKSZ, 0) or die "seek: $!";
	print $fh $page;
	close($fh);
	return;
}

# Byte position of the tuple at line pointer $off (1-based) of $page
sub tuple_start
{
	my ($page, $off) = @_;
	my $lp = unpack('V', substr($page, 24 + 4 * ($off - 1), 4));
	return $lp & 0x7FFF;
}

# Bytes before the vector of the element tuple at byte $t of $page
sub header_size
{
	my ($page, $t) = @_;
	my $cap = ord(substr($page, $t + 3, 1)) || 10;
	return 4 + 6 * $cap;
}

# Byte position of neighbour slot $slot of the element at $off of $page
sub slot_start
{
	my ($page, $off, $slot) = @_;
	my $t = tuple_start($page, $off);
	my $h = header_size($page, $t);
	my $varsize = unpack('V', substr($page, $t + $h, 4)) >> 2;
	return $t + $h + $varsize + 8 * $slot;
}

# Return the TID in the slot at $pos of $page as "(block,offset)"
sub slot_tid
{
	my ($page, $pos) = @_;
	my ($hi, $lo, $posid) = unpack('vvv', substr($page, $pos + 2, 6));
	return '(' . (($hi << 16) | $lo) . ",$posid)";
}

# The heap TID of the element tuple at line pointer $off of $page, as
# "(block,offset)"
sub heap_tid
{
	my ($page, $off) = @_;
	my ($hi, $lo, $posid) = unpack('vvv', substr($page, tuple_start($page, $off) + 4, 6));
	return '(' . (($hi << 16) | $lo) . ",$posid)";
}

# Stop the server, let $damage change block $blkno of $index's file (the
# global $file), start again, run verify_index and then, on table $table, a
# scan, an insert (rolled back) and a VACUUM that meet the damage: the scan
# and the insert search for the vector of the row at heap TID $probe, which
# leads them to the damaged element.  Then restore the whole file as it was
# (the insert and VACUUM may have changed other pages).  Return a hash of
# the four stderrs ('' for success), with "restarted" set if the server
# went down meanwhile.
sub damaged
{
	my ($blkno, $damage, $index, $table, $probe) = @_;
	$index //= 't_idx';
	$table //= 't';
	$probe //= $t_probe;
	$node->stop;
	my $orig_size = -s $file;
	my $orig = slurp_file($file);
	write_block($blkno, $damage->(read_block($blkno)));
	$node->start;

	my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
	my $log_offset = -s $node->logfile;
	my %err;
	my @verbose = (extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	(undef, undef, $err{verify}) = $node->psql('postgres',
		"SELECT * FROM hnsw.verify_index('$index')");
	($err{scan_ret}, $err{scan_out}, $err{scan}) = $node->psql('postgres', qq{
		SET enable_seqscan = off; SET hnsw.ef_search = 200;
		SELECT count(*) FROM (SELECT id FROM $table
			ORDER BY v <-> (SELECT v FROM $table WHERE ctid = '$probe') LIMIT 10) s},
		@verbose);
	($err{insert_ret}, undef, $err{insert}) = $node->psql('postgres', qq{
		BEGIN;
		INSERT INTO $table SELECT -1, v FROM $table WHERE ctid = '$probe';
		ROLLBACK}, @verbose);
	($err{vacuum_ret}, undef, $err{vacuum}) =
	  $node->psql('postgres', "VACUUM $table", @verbose);
	# after a crash, wait for the restart to compare start times
	$node->poll_query_until('postgres', 'SELECT true')
	  or die 'the server does not accept connections';
	$err{restarted} =
	  $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()') ne $started
	  || $node->log_contains(qr/terminated by signal|PANIC/, $log_offset);

	$node->stop;
	open(my $fh, '+<:raw', $file) or die "$file: $!";
	print $fh $orig;
	truncate($fh, $orig_size) or die "truncate: $!";
	close($fh);
	$node->start;
	return \%err;
}

# Check what damaged() returned for $name: $expect->{verify} the start of
# verify_index's error, $expect->{scan}, {insert} and {vacuum} each the
# start of the error (after "ERROR:  XX002: ") or undef for success (the
# scan then returns its ten rows).
sub check_ops
{
	my ($name, $err, %expect) = @_;
	ok(!$err->{restarted}, "$name: the server did not restart");
	like($err->{verify}, qr/ERROR:  \Q$expect{verify}\E/,
		"$name: verify_index reports it")
	  if defined $expect{verify};
	for my $op ('scan', 'insert', 'vacuum')
	{
		if (defined $expect{$op})
		{
			like($err->{$op}, qr/ERROR:  XX002: \Q$expect{$op}\E/,
				"$name: $op raises index corruption");
			note "$op: " . join(' | ', grep { /ERROR|DETAIL/ } split(/\n/, $err->{$op}));
		}
		else
		{
			is($err->{"${op}_ret"} . ($op eq 'scan' ? "|$err->{scan_out}" : ''),
				$op eq 'scan' ? '0|10' : '0',
				"$name: $op is unharmed and succeeds");
		}
	}
	return;
}

# the build's pages reach the file at a checkpoint
$node->safe_psql('postgres', 'CHECKPOINT');
my $page = read_block(1);
my $nblocks = -s $file;
$nblocks /= $BLCKSZ;
my $slot0 = slot_start($page, 1, 0);
my $slot1 = slot_start($page, 1, 1);
my $tid0 = slot_tid($page, $slot0);
isnt($tid0, '(0,0)', "element (1,1) has a first neighbour $tid0");
isnt(slot_tid($page, $slot1), '(0,0)', 'and a second one');
$t_probe = heap_tid($page, 1);
is($node->safe_psql('postgres', qq{
	SET enable_seqscan = off;
	SELECT ctid = '$t_probe' FROM t
	ORDER BY v <-> (SELECT v FROM t WHERE ctid = '$t_probe') LIMIT 1}), 't',
	"the search for the vector of heap TID $t_probe leads to element (1,1)");
my $t1 = tuple_start($page, 1);
my $vec1 = $t1 + header_size($page, $t1);    # its vector

# 1. a neighbour link beyond the end of the index
my $err = damaged(1, sub {
	my $p = shift;
	substr($p, $slot0 + 2, 4) = pack('vv', 0x7FFF, 0);
	return $p;
});
like($err->{verify}, qr/ERROR:  index "t_idx" has a neighbour link outside the index/,
	'a link beyond the end is corruption');
like($err->{verify},
	qr/DETAIL:  Block 1, offset 1, level 0, slot 0: \(2147418112,\d+\); the index has $nblocks blocks\./,
	'with its block, offset, level and slot');
check_ops('a link beyond the end', $err,
	scan => 'index "t_idx" has a neighbour link outside the index',
	insert => 'index "t_idx" has a neighbour link outside the index',
	vacuum => 'index "t_idx" has a neighbour link outside the index');
like($err->{vacuum}, qr/DETAIL:  Block 1, offset 1, level 0, slot 0: \(2147418112,/,
	'VACUUM names the element and slot');

# 2. the same neighbour twice on one level: harmless to searches
$err = damaged(1, sub {
	my $p = shift;
	substr($p, $slot1, 8) = substr($p, $slot0, 8);
	return $p;
});
like($err->{verify}, qr/ERROR:  index "t_idx" has a duplicate neighbour link/,
	'a duplicate link is corruption');
like($err->{verify}, qr/DETAIL:  Block 1, offset 1, level 0: slots 0 and 1 both point to \Q$tid0\E\./,
	'with both slots');
check_ops('a duplicate link', $err);

# 3. an element linked to itself: harmless to searches
$err = damaged(1, sub {
	my $p = shift;
	substr($p, $slot0 + 2, 6) = pack('vvv', 0, 1, 1);
	return $p;
});
like($err->{verify}, qr/ERROR:  index "t_idx" has an element linked to itself\nDETAIL:  Block 1, offset 1, level 0, slot 0\./,
	'a link to the element itself is corruption');
check_ops('a link to itself', $err);

# 4. a vector value that is not a number: spoils distances only; checking
# every value of every element a search loads would cost a distance each
$err = damaged(1, sub {
	my $p = shift;
	substr($p, $vec1 + 8 + 4 * 2, 4) = pack('V', 0x7FC00000);
	return $p;
});
like($err->{verify},
	qr/ERROR:  index "t_idx" has an element with a non-finite vector value\nDETAIL:  Block 1, offset 1: dimension 3 is not finite\./,
	'a NaN in a vector is corruption');
check_ops('a NaN in a vector', $err);

# 5. the metapage's magic number
$err = damaged(0, sub {
	my $p = shift;
	substr($p, 24, 4) = pack('V', 0xDEADBEEF);
	return $p;
});
like($err->{verify},
	qr/ERROR:  index "t_idx" has a metapage with a wrong magic number\nDETAIL:  The metapage has magic number 0xDEADBEEF; expected 0x48AB5A01\./,
	'a wrong magic number is corruption');
check_ops('a wrong magic number', $err,
	scan => 'index "t_idx" has a metapage with a wrong magic number',
	insert => 'index "t_idx" has a metapage with a wrong magic number',
	vacuum => 'index "t_idx" has a metapage with a wrong magic number');

# 6. the page id of an element page: read by whole-page readers only (a
# search reads one tuple of a page, not the page's last cache line)
$err = damaged(1, sub {
	my $p = shift;
	substr($p, $BLCKSZ - 8 + 2, 2) = pack('v', 0x1234);
	return $p;
});
like($err->{verify},
	qr/ERROR:  index "t_idx" has a page that is not an hnsw page\nDETAIL:  Block 1 has 8 bytes of special space with page id 0x1234; expected 8 bytes with page id 0xFF90\./,
	'a wrong page id is corruption');
check_ops('a wrong page id', $err,
	vacuum => 'index "t_idx" has a page that is not an hnsw page');

# Fields read on every path: each is checked before it is used, by the
# scan's and the insert's search (which load element (1,1)) and by VACUUM
# (which reads every element); the metapage by everyone.
my %everywhere;
for my $case (
	[ 'a heap TID capacity of 60', 1,
		sub { my $p = shift; substr($p, $t1 + 3, 1) = chr(60); $p },
		'has an element with an invalid heap TID capacity' ],
	[ 'a filter column value in an index without one', 1,
		sub { my $p = shift; substr($p, $t1 + 3, 1) = chr(ord(substr($p, $t1 + 3, 1)) | 0x40); $p },
		'has an element whose filter column does not match the index\'s' ],
	[ 'a level of 200', 1,
		sub { my $p = shift; substr($p, $t1 + 1, 1) = chr(200); $p },
		'has an element above the highest level' ],
	[ 'a vector of 5000 dimensions', 1,
		sub { my $p = shift; substr($p, $vec1 + 4, 2) = pack('v', 5000); $p },
		'has an element with a vector of wrong length' ],
	[ 'a vector longer than its tuple', 1,
		sub { my $p = shift; substr($p, $vec1, 4) = pack('V', 4000 << 2); $p },
		'has an element with a vector of wrong length' ],
	[ 'a line pointer past the page', 1,
		sub {
			my $p = shift;
			# offset 8000, normal (flags 1), 2000 bytes
			substr($p, 24, 4) = pack('V', 8000 | (1 << 15) | (2000 << 17));
			$p;
		},
		"has a line pointer outside the page's tuple space" ],
	[ 'a page without special space', 1,
		sub { my $p = shift; substr($p, 16, 2) = pack('v', $BLCKSZ); $p },
		'has a page that is not an hnsw page' ],
	[ 'a link to offset 3000', 1,
		sub { my $p = shift; substr($p, $slot0 + 2, 6) = pack('vvv', 0, 2, 3000); $p },
		'has a neighbour link outside the index' ],
	[ 'a metapage with m = 0', 0,
		sub { my $p = shift; substr($p, 24 + 12, 2) = pack('v', 0); $p },
		'has a metapage with an invalid m' ],
	[ 'a metapage with 60000 dimensions', 0,
		sub { my $p = shift; substr($p, 24 + 8, 4) = pack('V', 60000); $p },
		'has a metapage with invalid dimensions' ],
	[ 'a metapage with entry level 99', 0,
		sub { my $p = shift; substr($p, 24 + 22, 2) = pack('v', 99); $p },
		'has a metapage with an invalid entry point' ],
	[ 'an entry point past the end', 0,
		sub { my $p = shift; substr($p, 24 + 16, 4) = pack('vv', 0x7FFF, 0); $p },
		'has a metapage with an invalid entry point' ])
{
	my ($name, $blkno, $damage, $msg) = @$case;

	$err = damaged($blkno, $damage);
	check_ops($name, $err,
		verify => "index \"t_idx\" $msg",
		scan => "index \"t_idx\" $msg",
		insert => "index \"t_idx\" $msg",
		vacuum => "index \"t_idx\" $msg");
}

# A heap TID past the end of the table: the scan checks it before the
# executor reads it; inserts and VACUUM never read the heap through it.
$err = damaged(1, sub {
	my $p = shift;
	substr($p, $t1 + 4, 4) = pack('vv', 0x7FFF, 0);
	return $p;
});
check_ops('a heap TID past the table', $err,
	verify => 'index "t_idx" has a heap TID outside its table',
	scan => 'index "t_idx" has a heap TID outside its table');

is($node->safe_psql('postgres', $summary), '500|0|0',
	'the index verifies again once restored');

# 7. an element cut over two pages (packed = on): its tail must follow it
load_random($node, 'p', 800, 60);
$node->safe_psql('postgres', 'CREATE INDEX p_idx ON p USING hnsw (v) WITH (packed = on); CHECKPOINT');
is($node->safe_psql('postgres', "SELECT elements FROM hnsw.verify_index('p_idx')"), '60',
	'a healthy packed index verifies');
my $t_file = $file;
$file = $node->data_dir . '/'
  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('p_idx')");
my $p1 = read_block(1);
my $nhead = (unpack('v', substr($p1, 12, 2)) - 24) / 4;
is(ord(substr($p1, tuple_start($p1, $nhead), 1)), 3,
	"the last tuple of block 1, ($nhead), is a head tuple");
my $p2 = read_block(2);
is(ord(substr($p2, tuple_start($p2, 1), 1)), 4, 'and the first of block 2 its tail');
my $p_probe = heap_tid($p1, $nhead);
$err = damaged(2, sub {
	my $p = shift;
	substr($p, tuple_start($p, 1) + 2 + 4, 2) = pack('v', $nhead + 1);
	return $p;
}, 'p_idx', 'p', $p_probe);
like($err->{verify},
	qr/ERROR:  index "p_idx" has a tail tuple without its element\nDETAIL:  Block 2, offset 1: tail of \(1,@{[$nhead + 1]}\)\./,
	'a tail naming another head is corruption');
# VACUUM does not read vectors
check_ops('a tail naming another head', $err,
	scan => 'index "p_idx" has an element cut over two pages without its tail',
	insert => 'index "p_idx" has an element cut over two pages without its tail');
$err = damaged(2, sub {
	my $p = shift;
	# line pointer 1 unused: flags (bits 15-16 of the word) 0
	my $lp = unpack('V', substr($p, 24, 4));
	substr($p, 24, 4) = pack('V', $lp & ~(3 << 15));
	return $p;
}, 'p_idx', 'p', $p_probe);
like($err->{verify},
	qr/ERROR:  index "p_idx" has an element cut over two pages without its tail\nDETAIL:  Block 1, offset $nhead: no tail tuple at the first offset of the next block\./,
	'a head without its tail is corruption');
check_ops('a head without its tail', $err,
	scan => 'index "p_idx" has an element cut over two pages without its tail',
	insert => 'index "p_idx" has an element cut over two pages without its tail');
is($node->safe_psql('postgres', "SELECT elements FROM hnsw.verify_index('p_idx')"), '60',
	'the packed index verifies again once restored');

# 8. an i8 code whose error bound (the third float before its codes: scale,
# offset, error) is negative: re-ranking would trust it
$node->safe_psql('postgres', "CREATE TABLE tq AS SELECT * FROM t; CREATE INDEX q_idx ON tq USING hnsw (v) WITH (quantization = 'i8'); CHECKPOINT");
$file = $node->data_dir . '/'
  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('q_idx')");
my $q1 = read_block(1);
$err = damaged(1, sub {
	my $p = shift;
	my $t = tuple_start($p, 1);
	substr($p, $t + header_size($p, $t) + 8 + 8, 4) = pack('f<', -1.0);
	return $p;
}, 'q_idx', 'tq', heap_tid($q1, 1));
like($err->{verify},
	qr/ERROR:  index "q_idx" has an element with an invalid i8 code\nDETAIL:  Block 1, offset 1: error bound -1\./,
	'a negative i8 error bound is corruption');
check_ops('a negative i8 error bound', $err,
	scan => 'index "q_idx" has an element with an invalid i8 code',
	insert => 'index "q_idx" has an element with an invalid i8 code',
	vacuum => 'index "q_idx" has an element with an invalid i8 code');
$node->safe_psql('postgres', 'DROP TABLE tq');

# a chunk of a vector out of line (2,000 dimensions in f32) that does not
# fit its chain: the scan re-ranks with the vector, and finds the element
# still linking to it; inserts and VACUUM do not read it
load_random($node, 'o', 2000, 20);
$node->safe_psql('postgres', 'CREATE INDEX o_idx ON o USING hnsw (v); CHECKPOINT');
is($node->safe_psql('postgres', "SELECT graph_quantization <> quantization FROM hnsw.index_info('o_idx')"),
	't', 'a 2,000-dimensional f32 index keeps its vectors out of line');
$file = $node->data_dir . '/'
  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('o_idx')");
my ($chunk_block, $chunk_off);
for my $b (1 .. (-s $file) / $BLCKSZ - 1)
{
	my $p = read_block($b);
	my $n = (unpack('v', substr($p, 12, 2)) - 24) / 4;
	for my $o (1 .. $n)
	{
		next unless ord(substr($p, tuple_start($p, $o), 1)) == 2;
		($chunk_block, $chunk_off) = ($b, $o);
		last;
	}
	last if defined $chunk_block;
}
ok(defined $chunk_block, "a chunk of a vector at ($chunk_block,$chunk_off)");
$err = damaged($chunk_block, sub {
	my $p = shift;
	my $t = tuple_start($p, $chunk_off);
	# its offset in the vector (after type, unused and the previous chunk)
	substr($p, $t + 8, 4) = pack('V', unpack('V', substr($p, $t + 8, 4)) + 4);
	return $p;
}, 'o_idx', 'o', '(0,1)');
check_ops('a chunk out of its chain', $err,
	verify => 'index "o_idx" has an element whose vector out of line is not whole',
	scan => 'index "o_idx" has an element whose vector out of line is not whole');
$node->safe_psql('postgres', 'DROP TABLE o');
$file = $t_file;

# 9. crash recovery: kill a backend with SIGKILL during inserts
my @h;
for my $first (100000, 200000)
{
	my ($out, $err2) = ('', '');
	push @h, IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
		  "CALL insert_rows('t', $first, 100000, 16)" ],
		'>', \$out, '2>', \$err2);
}
$node->poll_query_until('postgres', 'SELECT count(*) > 800 FROM t')
  or die 'no inserts';
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE query LIKE 'CALL insert_rows%' LIMIT 1");
ok($pid =~ /^\d+$/, 'an inserting backend to kill');
kill 'KILL', $pid;
for my $h (@h)
{
	eval { $h->finish; };
}
$node->poll_query_until('postgres', 'SELECT true') or die 'no restart';
ok($node->log_contains('was terminated by signal 9'), 'the server went through crash recovery');
my $n = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	'SELECT elements >= ' . $n . ' AS all_there, dangling_links, stale_links FROM hnsw.verify_index(\'t_idx\')');
is($ret, 0, "verify_index passes after crash recovery ($n rows)");
is($stdout, 't|0|0', 'as many elements as committed rows or more; no dangling or stale links');
$node->safe_psql('postgres', 'VACUUM t');
is($node->safe_psql('postgres',
	'SELECT elements = (SELECT count(*) FROM t) FROM hnsw.index_info(\'t_idx\')'), 't',
	'after VACUUM the elements are the rows');
($ret, $stdout, $stderr) = $node->psql('postgres',
	'SELECT elements = (SELECT count(*) FROM t), dangling_links, stale_links FROM hnsw.verify_index(\'t_idx\')');
is($ret, 0, 'verify_index passes after crash recovery and VACUUM');
is($stdout, 't|0|0', 'and finds one element per row, no dangling or stale link');
is(rows_not_in_index($node, 't'), '0', 'every row is in the index');
is(missing_rows($node, 't'), '0', 'rows are found by their own vector (all but 0.5%)');

$node->stop;
done_testing();
