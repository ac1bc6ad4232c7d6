-- vector type: text and binary I/O, typmod, input errors

SELECT '[1,2,3]'::vector;
SELECT '  [ 1 , 2.5 ,-3e2 ]  '::vector;
SELECT '[1.5e-3,0,-0]'::vector;
SELECT '[1,2,3]'::vector(3);
SELECT vector_dims('[1,2,3,4]');

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

-- binary round trip through send/recv
SELECT vector_send('[1,2,3]'::vector);
CREATE TABLE t_bin (id int, v vector);
INSERT INTO t_bin VALUES (1, '[1.25,-2,3e10]'), (2, '[0.1]');
COPY t_bin TO '/tmp/hnsw_regress_vector.bin' WITH (FORMAT binary);
CREATE TABLE t_bin2 (id int, v vector);
COPY t_bin2 FROM '/tmp/hnsw_regress_vector.bin' WITH (FORMAT binary);
SELECT a.id, a.v = b.v AS same, b.v FROM t_bin a JOIN t_bin2 b USING (id) ORDER BY id;
CREATE TABLE t_bin3 (id int, v vector(2));
COPY t_bin3 FROM '/tmp/hnsw_regress_vector.bin' WITH (FORMAT binary);
DROP TABLE t_bin, t_bin2, t_bin3;

-- garbage binary input: a bytea's binary COPY form is its raw bytes, so a
-- bytea column copied out in binary and read back as vector feeds those
-- bytes to vector_recv
CREATE TABLE t_raw (b bytea);
CREATE TABLE t_vec (v vector);
CREATE FUNCTION recv_test(bytes bytea) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE t_raw; TRUNCATE t_vec;
  INSERT INTO t_raw VALUES (bytes);
  COPY t_raw TO '/tmp/hnsw_regress_raw.bin' WITH (FORMAT binary);
  COPY t_vec FROM '/tmp/hnsw_regress_raw.bin' WITH (FORMAT binary);
  RETURN (SELECT v::text FROM t_vec);
END $$;
SELECT recv_test('\x000200003f80000040000000');   -- [1,2]
SELECT recv_test('\x00000000');                   -- zero dimensions
SELECT recv_test('\xffff0000');                   -- negative dimensions
SELECT recv_test('\x3e810000');                   -- 16001 dimensions
SELECT recv_test('\x000100013f800000');           -- unused not zero
SELECT recv_test('\x000200003f800000');           -- too short
SELECT recv_test('\x0001');                       -- header cut off
SELECT recv_test('\x000100007fc00000');           -- NaN
SELECT recv_test('\x000100007f800000');           -- Infinity
SELECT recv_test('\x000100003f80000000');         -- trailing byte
DROP FUNCTION recv_test(bytea);
DROP TABLE t_raw, t_vec;
