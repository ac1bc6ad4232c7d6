-- real[] and double precision[] columns: operators, operator classes,
-- insert-time errors, and operator resolution next to the vector type

-- the operators
SELECT ARRAY[1, 2]::real[] <-> ARRAY[4, 6]::real[] AS l2,
	ARRAY[1, 2]::real[] <#> ARRAY[4, 6]::real[] AS neg_ip,
	round((ARRAY[1, 0]::real[] <=> ARRAY[1, 1]::real[])::numeric, 6) AS cosine,
	ARRAY[1, 2]::real[] <+> ARRAY[4, 6]::real[] AS l1;
SELECT ARRAY[1, 2]::float8[] <-> ARRAY[4, 6]::float8[] AS l2,
	ARRAY[1, 2]::float8[] <#> ARRAY[4, 6]::float8[] AS neg_ip,
	round((ARRAY[1, 0]::float8[] <=> ARRAY[1, 1]::float8[])::numeric, 6) AS cosine,
	ARRAY[1, 2]::float8[] <+> ARRAY[4, 6]::float8[] AS l1;
SELECT ARRAY[1, 2]::real[] <-> ARRAY[1, 2, 3]::real[];
SELECT ARRAY[1, NULL]::real[] <-> ARRAY[1, 2]::real[];
SELECT ARRAY[[1, 2], [3, 4]]::real[] <-> ARRAY[1, 2]::real[];
SELECT '{}'::real[] <-> '{}'::real[];
SELECT ARRAY[1e300, 0]::float8[] <-> ARRAY[1, 2]::float8[];

-- the vector operators still win for vectors and untyped literals
SELECT '[1,2]'::vector <-> '[4,6]' AS vector_l2;
SELECT pg_typeof('[1,2]'::vector <-> '[4,6]');
CREATE TABLE ve (embedding vector(2));
INSERT INTO ve VALUES ('[1,2]');
SELECT embedding <-> '[4,6]' AS d, embedding <=> '[2,4]' AS c FROM ve;
EXPLAIN (costs off, verbose) SELECT embedding <-> '[1,2]' FROM ve;
DROP TABLE ve;

-- operator classes, and amvalidate accepts them
SELECT opcname, opcintype::regtype, opcdefault FROM pg_opclass
	WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hnsw')
		AND opcname LIKE 'float%'
	ORDER BY opcname;
SELECT bool_and(amvalidate(oid)) FROM pg_opclass
	WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hnsw');

-- a real[] column on a 10 x 10 grid, every distance
CREATE TABLE a4 (id int, v real[]);
INSERT INTO a4 SELECT i, ARRAY[i % 10, i / 10, 1] FROM generate_series(0, 99) i;
CREATE TABLE a8 (id int, v double precision[]);
INSERT INTO a8 SELECT id, v FROM a4;
SET enable_seqscan = off;
CREATE INDEX a4_l2 ON a4 USING hnsw (v);
EXPLAIN (costs off) SELECT id FROM a4 ORDER BY v <-> '{3.2, 4.1, 1}' LIMIT 3;
SELECT id FROM a4 ORDER BY v <-> '{3.2, 4.1, 1}' LIMIT 3;
DROP INDEX a4_l2;
CREATE INDEX a4_ip ON a4 USING hnsw (v float4_ip_ops);
SELECT id FROM a4 ORDER BY v <#> '{3.2, 4.1, 1}' LIMIT 3;
DROP INDEX a4_ip;
CREATE INDEX a4_cos ON a4 USING hnsw (v float4_cosine_ops) WITH (quantization = 'bf16');
SELECT id FROM a4 ORDER BY v <=> '{2.1, 1, 1}' LIMIT 2;
DROP INDEX a4_cos;
CREATE INDEX a4_l1 ON a4 USING hnsw (v float4_l1_ops) WITH (quantization = 'i8');
SELECT id FROM a4 ORDER BY v <+> '{3.2, 4.1, 1}' LIMIT 3;

CREATE INDEX a8_l2 ON a8 USING hnsw (v) WITH (quantization = 'f16');
EXPLAIN (costs off) SELECT id FROM a8 ORDER BY v <-> '{3.2, 4.1, 1}' LIMIT 3;
SELECT id FROM a8 ORDER BY v <-> '{3.2, 4.1, 1}' LIMIT 3;
DROP INDEX a8_l2;
CREATE INDEX a8_ip ON a8 USING hnsw (v float8_ip_ops);
SELECT id FROM a8 ORDER BY v <#> '{3.2, 4.1, 1}' LIMIT 3;
DROP INDEX a8_ip;
CREATE INDEX a8_cos ON a8 USING hnsw (v float8_cosine_ops);
SELECT id FROM a8 ORDER BY v <=> '{2.1, 1, 1}' LIMIT 2;
-- zero arrays are not indexed under cosine
INSERT INTO a8 VALUES (200, '{0, 0, 0}');
DROP INDEX a8_cos;
CREATE INDEX a8_l1 ON a8 USING hnsw (v float8_l1_ops);
SELECT id FROM a8 ORDER BY v <+> '{3.2, 4.1, 1}' LIMIT 3;
RESET enable_seqscan;

-- insert-time errors: a different length, NULL elements, more dimensions,
-- values out of real's range
INSERT INTO a4 VALUES (101, '{1, 2}');
INSERT INTO a4 VALUES (102, '{1, NULL, 3}');
INSERT INTO a4 VALUES (103, '{{1, 2, 3}, {4, 5, 6}}');
INSERT INTO a4 VALUES (104, '{}');
INSERT INTO a8 VALUES (105, '{1e300, 0, 1}');
-- a NULL array is not indexed
INSERT INTO a4 VALUES (106, NULL);
-- the first row fixes the length
CREATE TABLE ae (v real[]);
INSERT INTO ae VALUES ('{1, 2}'), ('{1, 2, 3}');
CREATE INDEX ON ae USING hnsw (v);
-- and a query of another length is an error too
SET enable_seqscan = off;
SELECT v FROM a4 ORDER BY v <+> '{1, 2}' LIMIT 1;
RESET enable_seqscan;

-- only the built-in distances work on arrays
CREATE FUNCTION my_array_l2(real[], real[]) RETURNS float8
	AS 'SELECT $1 <-> $2' LANGUAGE sql IMMUTABLE STRICT;
CREATE OPERATOR CLASS my_array_ops FOR TYPE real[] USING hnsw AS
	OPERATOR 1 <-> (real[], real[]) FOR ORDER BY float_ops,
	FUNCTION 1 my_array_l2(real[], real[]);
CREATE INDEX ON a4 USING hnsw (v my_array_ops);
DROP OPERATOR FAMILY my_array_ops USING hnsw;
DROP FUNCTION my_array_l2;

DROP TABLE a4, a8, ae;
