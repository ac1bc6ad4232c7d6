-- sparsevec: text and binary I/O, typmod, casts, distances, norms,
-- comparison, and every error with its SQLSTATE (echoed after it).  The
-- part before "beyond pgvector" gives pgvector 0.8's results.

-- text input: indices count from 1, may come in any order; zeros are dropped
SELECT '{1:1.5,3:2}/5'::sparsevec;
SELECT '  { 3 : 2 , 1:1.5 }  /  5  '::sparsevec;
SELECT '{}/3'::sparsevec;
SELECT '{1:0,2:-0,3:1}/3'::sparsevec;
SELECT '{1:1e-3,2:-2.5e10,3:+4,4:0x10}/4'::sparsevec;
SELECT '{+2:1}/3'::sparsevec;
SELECT '{1:1e-40}/1'::sparsevec;
SELECT '{1000000000:1}/1000000000'::sparsevec;
-- a zero is dropped before its index is checked, as in pgvector
SELECT '{7:0,1:2}/5'::sparsevec;

-- malformed text
SELECT '{1:1/5'::sparsevec;
\echo :SQLSTATE
SELECT '1:1}/5'::sparsevec;
\echo :SQLSTATE
SELECT '{1:1}'::sparsevec;
\echo :SQLSTATE
SELECT '{1:1}/'::sparsevec;
\echo :SQLSTATE
SELECT '{1:1}/5x'::sparsevec;
\echo :SQLSTATE
SELECT '{1:1}/5/'::sparsevec;
\echo :SQLSTATE
SELECT '{1 1}/5'::sparsevec;
\echo :SQLSTATE
SELECT '{a:1}/5'::sparsevec;
\echo :SQLSTATE
SELECT '{1:a}/5'::sparsevec;
\echo :SQLSTATE
SELECT '{1:}/5'::sparsevec;
\echo :SQLSTATE
SELECT '{:1}/5'::sparsevec;
\echo :SQLSTATE
SELECT '{1:1,}/5'::sparsevec;
\echo :SQLSTATE
SELECT '{,1:1}/5'::sparsevec;
\echo :SQLSTATE
SELECT '{1:1,,2:1}/5'::sparsevec;
\echo :SQLSTATE
SELECT '{1.5:1}/5'::sparsevec;
\echo :SQLSTATE
SELECT '{1:1}/2.5'::sparsevec;
\echo :SQLSTATE
SELECT ''::sparsevec;
\echo :SQLSTATE
SELECT '{'::sparsevec;
\echo :SQLSTATE
SELECT '[1,2]'::sparsevec;
\echo :SQLSTATE

-- non-finite and out of range values
SELECT '{1:NaN}/3'::sparsevec;
\echo :SQLSTATE
SELECT '{1:Infinity}/3'::sparsevec;
\echo :SQLSTATE
SELECT '{2:-inf}/3'::sparsevec;
\echo :SQLSTATE
SELECT '{1:1e39}/3'::sparsevec;
\echo :SQLSTATE
SELECT '{1:1e-46}/3'::sparsevec;
\echo :SQLSTATE

-- indices and dimensions
SELECT '{0:1}/3'::sparsevec;
\echo :SQLSTATE
SELECT '{4:1}/3'::sparsevec;
\echo :SQLSTATE
SELECT '{-1:1}/3'::sparsevec;
\echo :SQLSTATE
SELECT '{99999999999:1}/3'::sparsevec;
\echo :SQLSTATE
SELECT '{1:1,1:2}/3'::sparsevec;
\echo :SQLSTATE
SELECT '{2:1,1:1,2:3}/3'::sparsevec;
\echo :SQLSTATE
SELECT '{}/0'::sparsevec;
\echo :SQLSTATE
SELECT '{}/-1'::sparsevec;
\echo :SQLSTATE
SELECT '{}/1000000001'::sparsevec;
\echo :SQLSTATE
SELECT '{}/99999999999'::sparsevec;
\echo :SQLSTATE

-- at most 16,000 elements are written, zero or not
SELECT l2_norm(('{' || string_agg(i || ':1', ',') || '}/16000')::sparsevec)
	FROM generate_series(1, 16000) i;
SELECT ('{' || string_agg(i || ':1', ',') || '}/16001')::sparsevec
	FROM generate_series(1, 16001) i;
\echo :SQLSTATE
SELECT ('{' || string_agg(i || ':0', ',') || '}/16001')::sparsevec
	FROM generate_series(1, 16001) i;
\echo :SQLSTATE

-- typmod
SELECT '{1:1}/3'::sparsevec(3);
SELECT '{1:1}/3'::sparsevec(2);
\echo :SQLSTATE
SELECT '{1:1}/3'::sparsevec(0);
\echo :SQLSTATE
SELECT '{1:1}/3'::sparsevec(1000000001);
\echo :SQLSTATE
SELECT '{1:1}/3'::sparsevec(2, 3);
\echo :SQLSTATE
CREATE TABLE sv_typmod (v sparsevec(3));
INSERT INTO sv_typmod VALUES ('{1:1}/3');
INSERT INTO sv_typmod VALUES ('{1:1}/4');
\echo :SQLSTATE
\d sv_typmod
DROP TABLE sv_typmod;

-- binary form: int32 dim, nnz, 0; 0-based int32 indices; float4 values
\getenv abs_builddir PG_ABS_BUILDDIR
\set svfile :abs_builddir '/results/sparsevec.bin'
\set rawfile :abs_builddir '/results/sparsevec_raw.bin'
SELECT sparsevec_send('{1:1.5,3:-2}/5');
SELECT sparsevec_send('{}/7');
CREATE TABLE sv_bin (id int, v sparsevec);
INSERT INTO sv_bin VALUES (1, '{1:1.25,5:-2,6:3e10}/6'), (2, '{}/1'), (3, '{1000000000:0.1}/1000000000');
COPY sv_bin TO :'svfile' WITH (FORMAT binary);
CREATE TABLE sv_bin2 (id int, v sparsevec);
COPY sv_bin2 FROM :'svfile' WITH (FORMAT binary);
SELECT a.id, a.v = b.v AS same, b.v FROM sv_bin a JOIN sv_bin2 b USING (id) ORDER BY id;
CREATE TABLE sv_bin3 (id int, v sparsevec(6));
COPY sv_bin3 FROM :'svfile' WITH (FORMAT binary);
\echo :SQLSTATE
DROP TABLE sv_bin, sv_bin2, sv_bin3;

-- garbage binary input (a bytea's binary COPY form is its raw bytes)
CREATE TABLE sv_raw (b bytea);
CREATE TABLE sv_sv (v sparsevec);
\set SHOW_CONTEXT never
CREATE FUNCTION sv_recv_test(bytes bytea, path text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE sv_raw; TRUNCATE sv_sv;
  INSERT INTO sv_raw VALUES (bytes);
  EXECUTE format('COPY sv_raw TO %L WITH (FORMAT binary)', path);
  EXECUTE format('COPY sv_sv FROM %L WITH (FORMAT binary)', path);
  RETURN (SELECT v::text FROM sv_sv);
END $$;
SELECT sv_recv_test('\x000000050000000200000000000000000000000240000000c0400000', :'rawfile');
SELECT sv_recv_test('\x000000000000000000000000', :'rawfile');           -- zero dimensions
\echo :SQLSTATE
SELECT sv_recv_test('\x3b9aca010000000000000000', :'rawfile');           -- 1,000,000,001 dimensions
\echo :SQLSTATE
SELECT sv_recv_test('\x00000005ffffffff00000000', :'rawfile');           -- negative nnz
\echo :SQLSTATE
SELECT sv_recv_test('\x000000050000000600000000', :'rawfile');           -- nnz above dim
\echo :SQLSTATE
SELECT sv_recv_test('\x3b9aca0000003e8100000000', :'rawfile');           -- 16,001 elements
\echo :SQLSTATE
SELECT sv_recv_test('\x000000050000000000000001', :'rawfile');           -- unused not zero
\echo :SQLSTATE
SELECT sv_recv_test('\x000000050000000100000000000000053f800000', :'rawfile'); -- index = dim
\echo :SQLSTATE
SELECT sv_recv_test('\x000000050000000100000000ffffffff3f800000', :'rawfile'); -- index -1
\echo :SQLSTATE
SELECT sv_recv_test('\x00000005000000020000000000000002000000013f8000003f800000', :'rawfile'); -- descending
\echo :SQLSTATE
SELECT sv_recv_test('\x00000005000000020000000000000001000000013f8000003f800000', :'rawfile'); -- duplicate
\echo :SQLSTATE
SELECT sv_recv_test('\x0000000500000001000000000000000000000000', :'rawfile'); -- zero value
\echo :SQLSTATE
SELECT sv_recv_test('\x000000050000000100000000000000007fc00000', :'rawfile'); -- NaN
\echo :SQLSTATE
SELECT sv_recv_test('\x00000005000000010000000000000000ff800000', :'rawfile'); -- -Infinity
\echo :SQLSTATE
SELECT sv_recv_test('\x000000050000000100000000000000003f80', :'rawfile'); -- value cut off
\echo :SQLSTATE
SELECT sv_recv_test('\x00000005', :'rawfile');                            -- header cut off
\echo :SQLSTATE
SELECT sv_recv_test('\x00000005000000000000000000', :'rawfile');          -- trailing byte
\echo :SQLSTATE
\set SHOW_CONTEXT errors
DROP FUNCTION sv_recv_test(bytea, text);
DROP TABLE sv_raw, sv_sv;

-- casts with vector and arrays
SELECT '{1:1.5,3:2}/4'::sparsevec::vector;
SELECT '[0,1.5,0,-2]'::vector::sparsevec;
SELECT '[0,0]'::vector::sparsevec;
SELECT '[1,0,2]'::vector::sparsevec(3);
SELECT '[1,0,2]'::vector::sparsevec(2);
\echo :SQLSTATE
SELECT '{1:1}/3'::sparsevec::vector(3);
SELECT '{1:1}/3'::sparsevec::vector(2);
\echo :SQLSTATE
SELECT '{1:1}/16001'::sparsevec::vector;
\echo :SQLSTATE
SELECT ARRAY[0,1,0,3]::sparsevec;
SELECT ARRAY[0,1.5,0,-3]::real[]::sparsevec;
SELECT ARRAY[0,1.5,0,-3]::double precision[]::sparsevec;
SELECT ARRAY[0,1.5,0,-3]::numeric[]::sparsevec;
SELECT ARRAY[1e-50,1]::double precision[]::sparsevec;
SELECT ARRAY[0,0,0]::int[]::sparsevec(3);
SELECT ARRAY[0,0,0]::int[]::sparsevec(2);
\echo :SQLSTATE
SELECT ARRAY[1,NULL]::int[]::sparsevec;
\echo :SQLSTATE
SELECT ARRAY[[1,2],[3,4]]::int[]::sparsevec;
\echo :SQLSTATE
SELECT '{}'::int[]::sparsevec;
\echo :SQLSTATE
SELECT ARRAY['NaN']::real[]::sparsevec;
\echo :SQLSTATE
SELECT ARRAY['-Infinity']::double precision[]::sparsevec;
\echo :SQLSTATE
SELECT ARRAY[1e39]::double precision[]::sparsevec;
\echo :SQLSTATE
SELECT ARRAY[1e39]::numeric[]::sparsevec;
\echo :SQLSTATE
SELECT ARRAY['NaN']::numeric[]::sparsevec;
\echo :SQLSTATE
SELECT array_fill(1, ARRAY[16001])::sparsevec;
\echo :SQLSTATE
SELECT l2_norm(array_fill(0, ARRAY[20000])::sparsevec);
-- assignment casts into a sparsevec column, and back to vector
CREATE TABLE sv_cast (v sparsevec(3), d vector(3));
INSERT INTO sv_cast VALUES (ARRAY[1,0,3], '{2:5}/3'::sparsevec), ('[0,2,0]'::vector, '[1,1,1]');
INSERT INTO sv_cast VALUES (ARRAY[1,2], NULL);
\echo :SQLSTATE
SELECT v, d FROM sv_cast ORDER BY v;
DROP TABLE sv_cast;

-- distances and norms
SELECT l2_distance('{1:3}/3'::sparsevec, '{2:4}/3');
SELECT '{1:3}/3'::sparsevec <-> '{2:4}/3';
SELECT '{1:1,2:2,3:3}/3'::sparsevec <-> '{1:1,2:2,3:3}/3';
SELECT inner_product('{1:1,2:2,3:3}/4'::sparsevec, '{2:4,3:-1,4:7}/4');
SELECT '{1:1,2:2,3:3}/4'::sparsevec <#> '{2:4,3:-1,4:7}/4';
SELECT inner_product('{1:1}/4'::sparsevec, '{2:1}/4');
SELECT cosine_distance('{1:1,2:1}/2'::sparsevec, '{1:1}/2');
SELECT '{1:1,2:1}/2'::sparsevec <=> '{1:-1,2:-1}/2';
SELECT '{1:1}/2'::sparsevec <=> '{2:1}/2';
SELECT '{1:1}/2'::sparsevec <=> '{}/2';
SELECT '{}/2'::sparsevec <=> '{}/2';
SELECT l1_distance('{1:1,3:-2}/4'::sparsevec, '{2:2,3:1,4:-1}/4');
SELECT '{1:1,3:-2}/4'::sparsevec <+> '{2:2,3:1,4:-1}/4';
SELECT '{}/3'::sparsevec <+> '{}/3';
SELECT l2_norm('{1:3,7:4}/9'::sparsevec);
SELECT l2_norm('{}/9'::sparsevec);
SELECT l2_normalize('{1:3,7:4}/9'::sparsevec);
SELECT l2_normalize('{}/9'::sparsevec);
SELECT l2_normalize('{1:1e-40,2:1}/2'::sparsevec);
SELECT l2_normalize('{1:3e38,2:1e-45}/2'::sparsevec);
SELECT '{1:1}/3'::sparsevec <-> '{1:1}/4';
\echo :SQLSTATE
SELECT '{1:1}/3'::sparsevec <#> '{1:1}/4';
\echo :SQLSTATE
SELECT '{1:1}/3'::sparsevec <=> '{1:1}/4';
\echo :SQLSTATE
SELECT '{1:1}/3'::sparsevec <+> '{1:1}/4';
\echo :SQLSTATE
SELECT inner_product('{1:1}/3'::sparsevec, '{1:1}/4');
\echo :SQLSTATE
-- the private functions the operators and operator classes use
SELECT sparsevec_l2_squared_distance('{1:3}/3', '{2:4}/3');
SELECT sparsevec_negative_inner_product('{1:3,2:1}/3', '{2:4}/3');
SELECT sparsevec_l2_squared_distance('{1:3}/3', '{2:4}/2');
\echo :SQLSTATE
-- a vector argument casts implicitly
SELECT '[1,0,2]'::vector::sparsevec <-> '{3:2}/3';

-- comparison: element by element as dense vectors, then by dimensions
CREATE TABLE sv_cmp (n int, v sparsevec);
INSERT INTO sv_cmp VALUES (1, '{}/3'), (2, '{1:1}/3'), (3, '{1:-1}/3'), (4, '{2:1}/3'),
	(5, '{2:-1}/3'), (6, '{}/2'), (7, '{1:1}/2'), (8, '{3:1}/3'), (9, '{1:1,3:1}/3'),
	(10, '{1:1,2:1}/2'), (11, '{}/4'), (12, '{4:-1}/4'), (13, '{1:1}/3');
SELECT n, v FROM sv_cmp ORDER BY v, n;
SELECT a.v, b.v, a.v < b.v AS lt, a.v <= b.v AS le, a.v = b.v AS eq,
	a.v <> b.v AS ne, a.v >= b.v AS ge, a.v > b.v AS gt, sparsevec_cmp(a.v, b.v) AS cmp
	FROM sv_cmp a, sv_cmp b WHERE a.n IN (2, 6, 7, 9) AND b.n IN (2, 6, 7, 9, 12) ORDER BY a.n, b.n;
CREATE INDEX ON sv_cmp (v);
SET enable_seqscan = off;
SELECT n FROM sv_cmp WHERE v = '{1:1}/3' ORDER BY n;
SELECT count(*) FROM sv_cmp WHERE v < '{1:1}/3';
RESET enable_seqscan;
SELECT DISTINCT v FROM sv_cmp WHERE n IN (2, 13);
DROP TABLE sv_cmp;

-- beyond pgvector: the arrays of a Spark SparseVector (0-based indices)
SELECT sparsevec('{0,2}', '{1.5,2}', 5);
SELECT sparsevec(ARRAY[0,2,4], ARRAY[1.5,0,-2]::real[], 5);
SELECT sparsevec(ARRAY[1], ARRAY[7], 2);
SELECT sparsevec('{}', '{}', 3);
SELECT sparsevec_indices('{1:1.5,3:2}/5'), sparsevec_values('{1:1.5,3:2}/5'),
	vector_dims('{1:1.5,3:2}/5'::sparsevec);
SELECT sparsevec_indices('{}/5'), sparsevec_values('{}/5');
SELECT sparsevec(sparsevec_indices(v), sparsevec_values(v), vector_dims(v)) = v AS round_trip
	FROM (SELECT '{2:-1,9:3.25,1000:1e-20}/1000'::sparsevec AS v) s;
SELECT sparsevec('{0,0}', '{1,2}', 5);
\echo :SQLSTATE
SELECT sparsevec('{2,1}', '{1,2}', 5);
\echo :SQLSTATE
SELECT sparsevec('{5}', '{1}', 5);
\echo :SQLSTATE
SELECT sparsevec('{-1}', '{1}', 5);
\echo :SQLSTATE
SELECT sparsevec('{5}', '{0}', 5);
\echo :SQLSTATE
SELECT sparsevec('{0,1}', '{1}', 5);
\echo :SQLSTATE
SELECT sparsevec('{0}', '{NaN}', 5);
\echo :SQLSTATE
SELECT sparsevec('{0}', '{Infinity}', 5);
\echo :SQLSTATE
SELECT sparsevec('{0}', '{1e39}', 5);
\echo :SQLSTATE
SELECT sparsevec('{0}', '{1}', 0);
\echo :SQLSTATE
SELECT sparsevec('{0}', '{1}', 1000000001);
\echo :SQLSTATE
SELECT sparsevec('{0,NULL}', '{1,2}', 5);
\echo :SQLSTATE
SELECT sparsevec('{{0},{1}}', '{1,2}', 5);
\echo :SQLSTATE
SELECT sparsevec(array_agg(i), array_agg(1), 20000) FROM generate_series(0, 16000) i;
\echo :SQLSTATE
SELECT sparsevec(NULL, '{1}', 5) IS NULL AS strict;

-- halfvec <-> sparsevec, as pgvector: implicit one way, assignment the other
SELECT '[0,1.5,0,-2]'::halfvec::sparsevec, '[0,0]'::halfvec::sparsevec;
SELECT '{2:1.5,4:-2}/4'::sparsevec::halfvec, '{}/3'::sparsevec::halfvec;
SELECT '[0,1,0]'::halfvec::sparsevec(3), '{2:1}/3'::sparsevec::halfvec(3);
SELECT '[0,1,0]'::halfvec::sparsevec(4);
\echo :SQLSTATE
SELECT '{2:1}/3'::sparsevec::halfvec(2);
\echo :SQLSTATE
SELECT '{2:70000}/3'::sparsevec::halfvec;
\echo :SQLSTATE
SELECT '{2:1}/16001'::sparsevec::halfvec;
\echo :SQLSTATE
SELECT castcontext FROM pg_cast
WHERE castsource = 'halfvec'::regtype AND casttarget = 'sparsevec'::regtype
UNION ALL
SELECT castcontext FROM pg_cast
WHERE castsource = 'sparsevec'::regtype AND casttarget = 'halfvec'::regtype;
