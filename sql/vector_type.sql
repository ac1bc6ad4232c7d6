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
SELECT '[1e-46]'::vector;

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
-- bytes to vector_recv
CREATE TABLE t_raw (b bytea);
CREATE TABLE t_vec (v vector);
-- (the context would show this run's file name)
\set SHOW_CONTEXT never
CREATE FUNCTION recv_test(bytes bytea, path text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE t_raw; TRUNCATE t_vec;
  INSERT INTO t_raw VALUES (bytes);
  EXECUTE format('COPY t_raw TO %L WITH (FORMAT binary)', path);
  EXECUTE format('COPY t_vec FROM %L WITH (FORMAT binary)', path);
  RETURN (SELECT v::text FROM t_vec);
END $$;
SELECT recv_test('\x000200003f80000040000000', :'rawfile');   -- [1,2]
SELECT recv_test('\x00000000', :'rawfile');                   -- zero dimensions
SELECT recv_test('\xffff0000', :'rawfile');                   -- negative dimensions
SELECT recv_test('\x3e810000', :'rawfile');                   -- 16001 dimensions
SELECT recv_test('\x000100013f800000', :'rawfile');           -- unused not zero
SELECT recv_test('\x000200003f800000', :'rawfile');           -- too short
SELECT recv_test('\x0001', :'rawfile');                       -- header cut off
SELECT recv_test('\x000100007fc00000', :'rawfile');           -- NaN
SELECT recv_test('\x000100007f800000', :'rawfile');           -- Infinity
SELECT recv_test('\x000100003f80000000', :'rawfile');         -- trailing byte
\set SHOW_CONTEXT errors
DROP FUNCTION recv_test(bytea, text);
DROP TABLE t_raw, t_vec;
