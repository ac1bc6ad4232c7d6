-- Quantized hnsw indexes and array operator classes, as behaviour
-- assertions: options, errors, sizes and recall on generated data.
BEGIN;
SELECT plan(12);

SELECT set_eq(
	$$SELECT opcname::text FROM pg_opclass WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'hnsw') AND opcintype <> 'vector'::regtype$$,
	ARRAY['float4_l2_ops', 'float4_ip_ops', 'float4_cosine_ops', 'float4_l1_ops',
		  'float8_l2_ops', 'float8_ip_ops', 'float8_cosine_ops', 'float8_l1_ops'],
	'the eight array operator classes');

CREATE TABLE items (id int, v vector(64), a real[]);
SELECT setseed(0.25);
INSERT INTO items SELECT i, x::vector, x
	FROM (SELECT i, (SELECT array_agg(random() * 2 - 1)::real[] FROM generate_series(1, 64) WHERE i > 0) x
		  FROM generate_series(1, 2000) i) s;

SELECT throws_ok($$CREATE INDEX ON items USING hnsw (v) WITH (quantization = 'f64')$$,
	'22023', 'invalid value for parameter "quantization": "f64"',
	'an unknown quantization is rejected');

-- recall@10 of 20 queries, as the tests count it (hnsw_test.recall)
\ir ../helpers/recall.sql
CREATE TEMP TABLE sizes (quant text, bytes bigint);
CREATE FUNCTION recall_of(quant text, ops text, op text, col text) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
	r numeric;
BEGIN
	EXECUTE format('CREATE INDEX idx ON items USING hnsw (%s %s) WITH (quantization = %L)', col, ops, quant);
	INSERT INTO sizes VALUES (quant, pg_relation_size('idx'));
	r := hnsw_test.recall('items', format('SELECT id, %I FROM items WHERE id <= 20', col), op, 10, col);
	DROP INDEX idx;
	RETURN r;
END $$;

SELECT cmp_ok(recall_of('f32', 'vector_l2_ops', '<->', 'v'), '>=', 0.9, 'f32 recall');
SELECT cmp_ok(recall_of('f16', 'vector_l2_ops', '<->', 'v'), '>=', 0.9, 'f16 recall');
SELECT cmp_ok(recall_of('bf16', 'vector_l2_ops', '<->', 'v'), '>=', 0.9, 'bf16 recall');
SELECT cmp_ok(recall_of('i8', 'vector_l2_ops', '<->', 'v'), '>=', 0.85, 'i8 recall');
SELECT cmp_ok(recall_of('i8', 'vector_cosine_ops', '<=>', 'v'), '>=', 0.85, 'i8 cosine recall');
SELECT cmp_ok(recall_of('bf16', 'float4_ip_ops', '<#>', 'a'), '>=', 0.8, 'bf16 inner product recall on real[]');
SELECT cmp_ok(recall_of('f32', 'float4_l1_ops', '<+>', 'a'), '>=', 0.9, 'f32 L1 recall on real[]');

-- at 64 dimensions the neighbour slots (384 bytes) dominate an element
-- (712 bytes in f32, 584 in f16, 524 in i8)
SELECT ok((SELECT max(bytes) FROM sizes WHERE quant = 'f16') < 0.9 * (SELECT min(bytes) FROM sizes WHERE quant = 'f32'),
	'an f16 index is smaller than f32');
SELECT ok((SELECT max(bytes) FROM sizes WHERE quant = 'i8') < (SELECT min(bytes) FROM sizes WHERE quant = 'f16'),
	'an i8 index is smaller still');

CREATE INDEX idx ON items USING hnsw (a);
SELECT throws_ok($$INSERT INTO items VALUES (0, NULL, '{1, 2}')$$,
	'22000', 'expected 64 dimensions, not 2', 'an array of another length is rejected at insert');

SELECT * FROM finish();
ROLLBACK;
