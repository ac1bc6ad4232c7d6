-- vector type: text and binary I/O, typmod, input errors

SELECT '[1,2,3]'::vector;
SELECT '  [ 1 , 2.5 ,-3e2 ]  '::vector;
SELECT '[1.5e-3,0,-0]'::vector;
SELECT '[1,2,3]'::vector(3);
SELECT vector_dims('[1,2,3,4]'::vector);

-- malformed text
SELECT '[1,2,3'::vector;
SELECT '1,2,3'::vector;
SELECT '[1,,3]'::vector;
SELECT '[1,2,3],'::vector;
SELECT '[1 2]'::vector;
SELECT '[a]'::vector;
SELECT ''::vector;
SELECT '[]'::vector;

-- non-finite and out of range elements
SELECT '[NaN]'::vector;
SELECT '[1,Infinity]'::vector;
SELECT '[-inf]'::vector;
SELECT '[1e39]'::vector;
SELECT '[3.40282357e38]'::vector;

-- an element too small for real is no error (unlike real's own input, like
-- pgvector and the casts from double precision[]): it rounds to a
-- subnormal or to zero, keeping its sign
SELECT '[1e-46,1]'::vector, '[-1e-46]'::vector, '[1e-400]'::vector,
       '[1e-40]'::vector, '[1e-45]'::vector;
SELECT '[1e-46]'::vector = '[0]' AS rounds_to_zero;

-- typmod
SELECT '[1,2,3]'::vector(2);
SELECT '[1,2]'::vector(0);
SELECT '[1,2]'::vector(16001);
SELECT '[1,2]'::vector(2, 3);
CREATE TABLE t_typmod (v vector(3));
INSERT INTO t_typmod VALUES ('[1,2,3]');
INSERT INTO t_typmod VALUES ('[1,2]');
\d t_typmod
DROP TABLE t_typmod;

-- dimension limit: 16000 is fine, 16001 is not
SELECT vector_dims(array_fill(1, ARRAY[16000])::vector);
SELECT vector_dims(('[' || repeat('1,', 16000) || '1]')::vector);
SELECT vector_dims(array_fill(1, ARRAY[16001])::vector);
-- a comma past the 16,000th element is already one too many
SELECT vector_dims(('[' || repeat('1,', 16000) || ']')::vector);

-- binary round trip through send/recv (files go in this run's output directory)
\getenv abs_builddir PG_ABS_BUILDDIR
\set vecfile :abs_builddir '/results/vector_type.bin'
\set rawfile :abs_builddir '/results/vector_type_raw.bin'
SELECT vector_send('[1,2,3]'::vector);
CREATE TABLE t_bin (id int, v vector);
INSERT INTO t_bin VALUES (1, '[1.25,-2,3e10]'), (2, '[0.1]');
COPY t_bin TO :'vecfile' WITH (FORMAT binary);
CREATE TABLE t_bin2 (id int, v vector);
COPY t_bin2 FROM :'vecfile' WITH (FORMAT binary);
SELECT a.id, a.v = b.v AS same, b.v FROM t_bin a JOIN t_bin2 b USING (id) ORDER BY id;
CREATE TABLE t_bin3 (id int, v vector(2));
COPY t_bin3 FROM :'vecfile' WITH (FORMAT binary);
DROP TABLE t_bin, t_bin2, t_bin3;

-- garbage binary input: a bytea's binary COPY form is its raw bytes, so a
-- bytea column copied out in binary and read back as vector feeds those
-- bytes to vector_recv.  The checks come in pgvector's order with its
-- SQLSTATEs (08P01 for data cut short, as the protocol functions raise it).
CREATE TABLE t_raw (b bytea);
CREATE TABLE t_vec (v vector);
CREATE TABLE t_vec2 (v vector(2));
CREATE FUNCTION recv_test(bytes bytea, path text, tab text DEFAULT 't_vec')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  TRUNCATE t_raw;
  EXECUTE format('TRUNCATE %I', tab);
  INSERT INTO t_raw VALUES (bytes);
  EXECUTE format('COPY t_raw TO %L WITH (FORMAT binary)', path);
  BEGIN
    EXECUTE format('COPY %I FROM %L WITH (FORMAT binary)', tab, path);
  EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
  END;
  EXECUTE format('SELECT v::text FROM %I', tab) INTO r;
  RETURN r;
END $$;
SELECT b AS bytes, recv_test(b, :'rawfile') AS vector FROM (VALUES
  ('\x000200003f80000040000000'::bytea),  -- [1,2]
  ('\x0001000000000001'),                 -- smallest subnormal
  ('\x0001000080000000'),                 -- minus zero
  ('\x'),                                 -- nothing
  ('\x0001'),                             -- header cut off
  ('\x0000'),                             -- header cut off
  ('\x00000000'),                         -- zero dimensions
  ('\xffff0000'),                         -- negative dimensions
  ('\x80000000'),
  ('\x3e810000'),                         -- 16001 dimensions
  ('\x7fff0000'),
  ('\x3e800000'),                         -- 16000 dimensions, no elements
  ('\x000100013f800000'),                 -- unused not zero
  ('\x0001ffff'),
  ('\x000200003f800000'),                 -- too short
  ('\x000200003f8000'),
  ('\x000100007fc00000'),                 -- NaN
  ('\x00010000ffc00001'),
  ('\x000100007f800000'),                 -- Infinity
  ('\x00010000ff800000'),
  ('\x000200007fc00000'),                 -- NaN, then too short
  ('\x000200003f800000ff800000'),         -- second element infinite
  ('\x000100003f80000000')                -- trailing byte
) x(b);
-- into vector(2): a wrong dimension is reported before anything after it
SELECT b AS bytes, recv_test(b, :'rawfile', 't_vec2') AS vector FROM (VALUES
  ('\x000200003f80000040000000'::bytea),
  ('\x000300003f8000004000000040400000'),
  ('\x00030001'),
  ('\x00030000'),
  ('\x0003'),
  ('\x00000001'),
  ('\x00020001'),
  ('\x000200007fc00000')
) x(b);
DROP FUNCTION recv_test(bytea, text, text);
DROP TABLE t_raw, t_vec, t_vec2;
