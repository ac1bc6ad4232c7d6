-- hnsw quantization: the reloption, its errors, results under every
-- encoding and distance, element sizes past 2,000 dimensions

CREATE TABLE q (id int, v vector(3));
-- a 10 x 10 grid: neighbours are far apart compared with i8's step (9/127)
INSERT INTO q SELECT i, ARRAY[i % 10, i / 10, 1]::real[]::vector FROM generate_series(0, 99) i;

-- the option and its errors
CREATE INDEX ON q USING hnsw (v) WITH (quantization = 'f8');
CREATE INDEX ON q USING hnsw (v) WITH (quantization = '');
CREATE INDEX q_f16 ON q USING hnsw (v) WITH (quantization = 'f16');
CREATE INDEX q_bf16 ON q USING hnsw (v) WITH (quantization = 'BF16');
CREATE INDEX q_i8 ON q USING hnsw (v vector_cosine_ops) WITH (quantization = i8, m = 8);
CREATE INDEX q_f32 ON q USING hnsw (v) WITH (quantization = 'f32');
SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'q' ORDER BY indexname;
\d q
ALTER INDEX q_f32 SET (quantization = 'int4');
-- a new value takes effect when the index is rebuilt
ALTER INDEX q_f32 SET (quantization = 'i8');
REINDEX INDEX q_f32;
SELECT reloptions FROM pg_class WHERE relname = 'q_f32';
DROP INDEX q_f16, q_bf16, q_i8, q_f32;

-- quantized indexes are smaller: 1,000 vectors of 256 dimensions
CREATE TABLE qs (v vector(256));
INSERT INTO qs SELECT array_fill(i::real, ARRAY[256])::vector FROM generate_series(1, 1000) i;
CREATE INDEX qs_f32 ON qs USING hnsw (v);
CREATE INDEX qs_f16 ON qs USING hnsw (v) WITH (quantization = 'f16');
CREATE INDEX qs_i8 ON qs USING hnsw (v) WITH (quantization = 'i8');
-- (level-0 elements of 1,352, 840 and 588 bytes: neighbour slots do not shrink)
SELECT pg_relation_size('qs_f16') < 0.7 * pg_relation_size('qs_f32') AS f16_smaller,
	pg_relation_size('qs_i8') < 0.5 * pg_relation_size('qs_f32') AS i8_smaller;
DROP TABLE qs;
-- 784 dimensions, as Fashion-MNIST: seven i8 elements fit a page against
-- two f32 ones, so the i8 index is under 0.30 of the f32 one (the target
-- of issue 4; eight-byte neighbour slots, see src/README "Page layout")
CREATE TABLE qf (v vector(784));
INSERT INTO qf SELECT ARRAY(SELECT (hashint4(i * 1000 + k) & 255)::real
							FROM generate_series(1, 784) k)::vector
	FROM generate_series(1, 1000) i;
CREATE INDEX qf_f32 ON qf USING hnsw (v);
CREATE INDEX qf_i8 ON qf USING hnsw (v) WITH (quantization = 'i8');
SELECT pg_relation_size('qf_f32') / 8192 AS f32_pages,
	pg_relation_size('qf_i8')::float8 / pg_relation_size('qf_f32') <= 0.30 AS i8_under_030;
SELECT elements, heap_tids FROM hnsw.index_info('qf_i8');
DROP TABLE qf;

-- every encoding with every distance finds the same nearest rows
SET enable_seqscan = off;
CREATE FUNCTION q_nearest(quant text, ops text, op text, query text, k int) RETURNS int[]
LANGUAGE plpgsql AS $$
DECLARE
	ids int[];
BEGIN
	EXECUTE format('CREATE INDEX q_idx ON q USING hnsw (v %s) WITH (quantization = %L)', ops, quant);
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM q ORDER BY v %s %L::vector LIMIT %s) s', op, query, k) INTO ids;
	DROP INDEX q_idx;
	RETURN ids;
END $$;
SELECT quant, ops,
	q_nearest(quant, ops, op, '[3.2, 4.1, 1]', 3) AS nearest
FROM unnest(ARRAY['f32', 'f16', 'bf16', 'i8']) quant,
	(VALUES ('vector_l2_ops', '<->'), ('vector_ip_ops', '<#>'),
			('vector_l1_ops', '<+>')) o(ops, op)
ORDER BY ops, quant;
SELECT quant, q_nearest(quant, 'vector_cosine_ops', '<=>', '[2.1, 1, 1]', 2) AS nearest
FROM unnest(ARRAY['f32', 'f16', 'bf16', 'i8']) quant ORDER BY quant;
-- the executor sees exact distances (they come from the heap row)
CREATE INDEX q_idx ON q USING hnsw (v) WITH (quantization = 'i8');
SELECT id, v <-> '[3, 4, 1]' AS distance FROM q ORDER BY v <-> '[3, 4, 1]' LIMIT 1;
-- inserts after the build, and vacuum, keep the encoding
INSERT INTO q VALUES (100, '[3.3, 4.1, 1]');
SELECT id FROM q ORDER BY v <-> '[3.25, 4.1, 1]' LIMIT 2;
DELETE FROM q WHERE id = 100;
VACUUM q;
SELECT id FROM q ORDER BY v <-> '[3.25, 4.1, 1]' LIMIT 2;
DROP INDEX q_idx;
RESET enable_seqscan;

-- i8 keeps vectors of any magnitude, and the zero vector
CREATE TABLE qm (id int, v vector(2));
INSERT INTO qm VALUES (1, '[1e-15, 2e-15]'), (2, '[3e15, -1e15]'), (3, '[0, 0]'), (4, '[-1e-15, 2e-15]');
CREATE INDEX ON qm USING hnsw (v) WITH (quantization = 'i8');
SET enable_seqscan = off;
SELECT id FROM qm ORDER BY v <-> '[1.1e-15, 2e-15]' LIMIT 2;
SELECT id FROM qm ORDER BY v <-> '[2.9e15, -1e15]' LIMIT 1;
RESET enable_seqscan;
-- f16 holds magnitudes up to 65504 only
CREATE INDEX qm_f16 ON qm USING hnsw (v) WITH (quantization = 'f16');
-- (a copy without the large row: a deleted row may still be indexed while
-- another session's snapshot can see it)
CREATE TABLE qm16 AS SELECT * FROM qm WHERE id <> 2;
CREATE INDEX qm_f16 ON qm16 USING hnsw (v) WITH (quantization = 'f16');
INSERT INTO qm16 VALUES (5, '[65504, -65504]');
INSERT INTO qm16 VALUES (6, '[65505, 0]');
DROP TABLE qm, qm16;

-- element size: with m = 16 an element of level 2 holds up to 1,893
-- dimensions in f32, 3,786 in f16 and bf16, 7,560 in i8; beyond, vectors go
-- out of line with a code in the graph (hnsw_outofline), up to 7,808 dimensions
CREATE TABLE qb (v vector);
INSERT INTO qb SELECT array_fill(i::real, ARRAY[4096])::vector FROM generate_series(1, 3) i;
CREATE INDEX ON qb USING hnsw (v);
CREATE INDEX ON qb USING hnsw (v) WITH (quantization = 'f16');
CREATE INDEX qb_i8 ON qb USING hnsw (v) WITH (quantization = 'i8');
SET enable_seqscan = off;
SELECT round((v <-> array_fill(2.2::real, ARRAY[4096])::vector)::numeric, 3) AS distance
	FROM qb ORDER BY v <-> array_fill(2.2::real, ARRAY[4096])::vector LIMIT 1;
RESET enable_seqscan;
TRUNCATE qb;
INSERT INTO qb SELECT array_fill(i::real, ARRAY[3800])::vector FROM generate_series(1, 3) i;
CREATE INDEX qb_bf16 ON qb USING hnsw (v) WITH (quantization = 'bf16');
INSERT INTO qb SELECT array_fill(1::real, ARRAY[8000])::vector;
DROP TABLE qb;

-- graph_quantization: codes in the graph, the vectors out of line, at any size
CREATE TABLE qg (id int, v vector(3), h halfvec(3), s sparsevec(3));
CREATE INDEX ON qg USING hnsw (v) WITH (graph_quantization = 'f32');
CREATE INDEX ON qg USING hnsw (v) WITH (quantization = 'f16', graph_quantization = 'bf16');
CREATE INDEX ON qg USING hnsw (h halfvec_l2_ops) WITH (graph_quantization = 'bf16');
CREATE INDEX ON qg USING hnsw (s sparsevec_l2_ops) WITH (graph_quantization = 'i8');
CREATE INDEX qg_bf16 ON qg USING hnsw (v) WITH (graph_quantization = 'bf16');
CREATE INDEX qg_i8 ON qg USING hnsw (v vector_cosine_ops) WITH (graph_quantization = 'I8');
CREATE INDEX qg_h ON qg USING hnsw (h halfvec_l2_ops) WITH (graph_quantization = 'i8');
CREATE INDEX qg_same ON qg USING hnsw (v) WITH (quantization = 'i8', graph_quantization = 'i8');
INSERT INTO qg SELECT i, ARRAY[i, i * 0.5, 1 - i]::real[]::vector, ARRAY[i, i * 0.5, 1 - i]::real[]::vector::halfvec, NULL
	FROM generate_series(1, 50) i;
SELECT i.relname, quantization, graph_quantization, vector_chunks > 0 AS out_of_line
	FROM pg_class i, hnsw.index_info(i.oid::regclass) WHERE i.relname LIKE 'qg\_%' ORDER BY 1;
SET enable_seqscan = off;
SELECT id, round((v <-> '[7.2, 3.6, -6.2]')::numeric, 4) AS d FROM qg ORDER BY v <-> '[7.2, 3.6, -6.2]' LIMIT 3;
SELECT id, round((v <=> '[7.2, 3.6, -6.2]')::numeric, 6) AS d FROM qg ORDER BY v <=> '[7.2, 3.6, -6.2]' LIMIT 3;
SELECT id FROM qg ORDER BY h <-> '[7.2, 3.6, -6.2]' LIMIT 3;
RESET enable_seqscan;
SELECT dangling_links + stale_links AS bad FROM hnsw.verify_index('qg_bf16');
-- the option is read when the first vector fixes the layout
TRUNCATE qg;
ALTER INDEX qg_bf16 SET (graph_quantization = 'auto');
INSERT INTO qg VALUES (1, '[1,2,3]');
SELECT quantization, graph_quantization FROM hnsw.index_info('qg_bf16');
ALTER INDEX qg_bf16 SET (graph_quantization = 'i8');
INSERT INTO qg VALUES (2, '[1,2,4]');
SELECT quantization, graph_quantization FROM hnsw.index_info('qg_bf16');
DROP TABLE qg;

-- an operator class with a distance of its own cannot be quantized
CREATE FUNCTION my_l2(vector, vector) RETURNS float8
	AS 'SELECT $1 <-> $2' LANGUAGE sql IMMUTABLE STRICT;
CREATE OPERATOR CLASS my_l2_ops FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 my_l2(vector, vector);
CREATE INDEX ON q USING hnsw (v my_l2_ops) WITH (quantization = 'f16');
CREATE INDEX ON q USING hnsw (v my_l2_ops) WITH (graph_quantization = 'i8');
CREATE INDEX q_my ON q USING hnsw (v my_l2_ops);
DROP INDEX q_my;
DROP OPERATOR FAMILY my_l2_ops USING hnsw;

DROP FUNCTION q_nearest;
DROP TABLE q;
DROP FUNCTION my_l2;
