# hnsw.verify_index finds deliberately damaged index pages and names the
# block, offset and slot; it passes on the same index undamaged and after
# crash recovery (a backend killed with SIGKILL during inserts).
#
# The damage is done to the relation file while the server is stopped, using
# the page layout of src/hnsw.h: page header 24 bytes, line pointers of 4
# bytes after it; an element tuple is type, level, deleted, heap TID
# capacity (4 bytes; capacity 0 means 10), that many heap TIDs of 6 bytes
# (CREATE INDEX leaves room for 2 when a vector is unique), the vector (varlena: 4-byte header, int16 dim,
# int16 unused, floats; for i8 three floats, scale, offset and error bound,
# then the int8 codes), then neighbour slots of 8 bytes each (bfloat16
# distance, block hi, block lo, offset; version 4), level 0 first; the
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

# Stop the server, let $damage change a copy of block $blkno, start again,
# run verify_index and restore the block.  Return verify_index's stderr.
sub damaged_verify
{
	my ($blkno, $damage, $index) = @_;
	$index //= 't_idx';
	$node->stop;
	my $orig = read_block($blkno);
	write_block($blkno, $damage->($orig));
	$node->start;
	my ($ret, $stdout, $stderr) = $node->psql('postgres',
		"SELECT * FROM hnsw.verify_index('$index')");
	$node->stop;
	write_block($blkno, $orig);
	$node->start;
	return $stderr;
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

# 1. a neighbour link beyond the end of the index
my $err = damaged_verify(1, sub {
	my $p = shift;
	substr($p, $slot0 + 2, 4) = pack('vv', 0x7FFF, 0);
	return $p;
});
like($err, qr/ERROR:  index "t_idx" has a neighbour link outside the index/,
	'a link beyond the end is corruption');
like($err,
	qr/DETAIL:  Block 1, offset 1, level 0, slot 0: \(2147418112,\d+\); the index has $nblocks blocks\./,
	'with its block, offset, level and slot');

# 2. the same neighbour twice on one level
$err = damaged_verify(1, sub {
	my $p = shift;
	substr($p, $slot1, 8) = substr($p, $slot0, 8);
	return $p;
});
like($err, qr/ERROR:  index "t_idx" has a duplicate neighbour link/,
	'a duplicate link is corruption');
like($err, qr/DETAIL:  Block 1, offset 1, level 0: slots 0 and 1 both point to \Q$tid0\E\./,
	'with both slots');

# 3. an element linked to itself
$err = damaged_verify(1, sub {
	my $p = shift;
	substr($p, $slot0 + 2, 6) = pack('vvv', 0, 1, 1);
	return $p;
});
like($err, qr/ERROR:  index "t_idx" has an element linked to itself\nDETAIL:  Block 1, offset 1, level 0, slot 0\./,
	'a link to the element itself is corruption');

# 4. a vector value that is not a number
$err = damaged_verify(1, sub {
	my $p = shift;
	my $t = tuple_start($p, 1);
	substr($p, $t + header_size($p, $t) + 8 + 4 * 2, 4) = pack('V', 0x7FC00000);
	return $p;
});
like($err,
	qr/ERROR:  index "t_idx" has an element with a non-finite vector value\nDETAIL:  Block 1, offset 1: dimension 3 is not finite\./,
	'a NaN in a vector is corruption');

# 5. the metapage's magic number
$err = damaged_verify(0, sub {
	my $p = shift;
	substr($p, 24, 4) = pack('V', 0xDEADBEEF);
	return $p;
});
like($err,
	qr/ERROR:  index "t_idx" has a metapage with a wrong magic number\nDETAIL:  The metapage has magic number 0xDEADBEEF; expected 0x48AB5A01\./,
	'a wrong magic number is corruption');

# 6. the page id of an element page
$err = damaged_verify(1, sub {
	my $p = shift;
	substr($p, $BLCKSZ - 8 + 2, 2) = pack('v', 0x1234);
	return $p;
});
like($err,
	qr/ERROR:  index "t_idx" has a page that is not an hnsw page\nDETAIL:  Block 1 has 8 bytes of special space with page id 0x1234; expected 8 bytes with page id 0xFF90\./,
	'a wrong page id is corruption');

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
$err = damaged_verify(2, sub {
	my $p = shift;
	substr($p, tuple_start($p, 1) + 2 + 4, 2) = pack('v', $nhead + 1);
	return $p;
}, 'p_idx');
like($err,
	qr/ERROR:  index "p_idx" has a tail tuple without its element\nDETAIL:  Block 2, offset 1: tail of \(1,@{[$nhead + 1]}\)\./,
	'a tail naming another head is corruption');
$err = damaged_verify(2, sub {
	my $p = shift;
	# line pointer 1 unused: flags (bits 15-16 of the word) 0
	my $lp = unpack('V', substr($p, 24, 4));
	substr($p, 24, 4) = pack('V', $lp & ~(3 << 15));
	return $p;
}, 'p_idx');
like($err,
	qr/ERROR:  index "p_idx" has an element cut over two pages without its tail\nDETAIL:  Block 1, offset $nhead: no tail tuple at the first offset of the next block\./,
	'a head without its tail is corruption');
is($node->safe_psql('postgres', "SELECT elements FROM hnsw.verify_index('p_idx')"), '60',
	'the packed index verifies again once restored');

# 8. an i8 code whose error bound (the third float before its codes: scale,
# offset, error) is negative: re-ranking would trust it
$node->safe_psql('postgres', "CREATE INDEX q_idx ON t USING hnsw (v) WITH (quantization = 'i8'); CHECKPOINT");
$file = $node->data_dir . '/'
  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('q_idx')");
$err = damaged_verify(1, sub {
	my $p = shift;
	my $t = tuple_start($p, 1);
	substr($p, $t + header_size($p, $t) + 8 + 8, 4) = pack('f<', -1.0);
	return $p;
}, 'q_idx');
like($err,
	qr/ERROR:  index "q_idx" has an element with an invalid i8 code\nDETAIL:  Block 1, offset 1: error bound -1\./,
	'a negative i8 error bound is corruption');
$node->safe_psql('postgres', 'DROP INDEX q_idx');
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
is($stdout, 't|0|0', 'every committed row has an element; no dangling or stale links');
$node->safe_psql('postgres', 'VACUUM t');
is($node->safe_psql('postgres',
	'SELECT elements = (SELECT count(*) FROM t) FROM hnsw.index_info(\'t_idx\')'), 't',
	'after VACUUM the elements are the rows');
($ret, $stdout, $stderr) = $node->psql('postgres', $summary);
is($ret, 0, 'verify_index passes after crash recovery and VACUUM');
is(missing_rows($node, 't'), '0', 'every row is found through the index');

$node->stop;
done_testing();
