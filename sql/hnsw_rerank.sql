-- hnsw re-ranking: an i8 index returns rows in exact distance order, read
-- from the table's vectors (hnsw.rerank, on by default)

-- Vectors whose i8 codes cannot tell them apart: the third component is
-- far below the step of the range [-100, 100] (200 / 255), so every code of
-- [100, -100, 0.01 i] is [127, -128, 0] and the quantized distances tie.
CREATE TABLE rr (id int, v vector(3));
INSERT INTO rr SELECT i, ARRAY[100, -100, 0.01 * i]::real[]::vector FROM generate_series(1, 30) i;
CREATE INDEX rr_i8 ON rr USING hnsw (v) WITH (quantization = 'i8');
SELECT elements, lossless_codes FROM hnsw.index_info('rr_i8');
SET enable_seqscan = off;
SET hnsw.ef_search = 100;

-- exact order: the nearest to [100, -100, 0.3] are 30, 29, 28, ...
SELECT array_agg(id) FROM (SELECT id FROM rr ORDER BY v <-> '[100, -100, 0.3]' LIMIT 5) s;
-- without re-ranking the ties come back in the index's order
SET hnsw.rerank = off;
SELECT array_agg(id) = '{30,29,28,27,26}' AS exact_order
	FROM (SELECT id FROM rr ORDER BY v <-> '[100, -100, 0.3]' LIMIT 5) s;
RESET hnsw.rerank;
-- re-ranking reads rows whose codes do not tell them apart
SET client_min_messages = debug1;
SELECT id FROM rr ORDER BY v <-> '[100, -100, 0.3]' LIMIT 1;
RESET client_min_messages;

-- every distance, and the array operator classes
CREATE FUNCTION rr_sorted(ops text, op text, query text, tab text DEFAULT 'rr',
						  typ text DEFAULT 'vector') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	ids int[];
	exact int[];
BEGIN
	EXECUTE format('CREATE INDEX rr_idx ON %I USING hnsw (v %s) WITH (quantization = ''i8'')', tab, ops);
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I ORDER BY v %s %L::%s LIMIT 8) s',
				   tab, op, query, typ) INTO ids;
	SET LOCAL enable_indexscan = off;
	SET LOCAL enable_seqscan = on;
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I ORDER BY v %s %L::%s, id LIMIT 8) s',
				   tab, op, query, typ) INTO exact;
	EXECUTE 'DROP INDEX rr_idx';
	RETURN CASE WHEN ids = exact THEN 'exact order' ELSE ids::text || ' <> ' || exact::text END;
END $$;
DROP INDEX rr_i8;
SELECT rr_sorted('vector_l2_ops', '<->', '[100, -100, 0.125]');
SELECT rr_sorted('vector_l1_ops', '<+>', '[100, -100, 0.125]');
SELECT rr_sorted('vector_ip_ops', '<#>', '[-0.001, 0, 1]');
-- cosine: directions that differ more (the ones above are nearly parallel)
CREATE TABLE rrc (id int, v vector(8));
INSERT INTO rrc SELECT i, ARRAY(SELECT sin(i * k) + 0.001 * k FROM generate_series(1, 8) k)::real[]::vector
	FROM generate_series(1, 400) i;
SELECT rr_sorted('vector_cosine_ops', '<=>', '[1, 0.5, 0.2, 0, 0, 0.1, 0.3, 0.9]', 'rrc');
SELECT rr_sorted('vector_l2_ops', '<->', '[1, 0.5, 0.2, 0, 0, 0.1, 0.3, 0.9]', 'rrc');
DROP TABLE rrc;

-- real[] columns
CREATE TABLE rra (id int, v real[]);
INSERT INTO rra SELECT id, v::real[] FROM rr;
SELECT rr_sorted('float4_l2_ops', '<->', '{100, -100, 0.125}', 'rra', 'real[]');
DROP TABLE rra;

-- duplicates past the heap TIDs an element holds are all returned, and
-- rows deleted but not vacuumed are skipped
CREATE TABLE rd (id int, v vector(3));
INSERT INTO rd SELECT i, '[1, 2, 3]' FROM generate_series(1, 25) i;
INSERT INTO rd SELECT 100 + i, ARRAY[i, i, i]::real[]::vector FROM generate_series(2, 40) i;
CREATE INDEX ON rd USING hnsw (v) WITH (quantization = 'i8');
SELECT count(*), min(id), max(id) FROM (SELECT id FROM rd ORDER BY v <-> '[1, 2, 3]' LIMIT 25) s;
DELETE FROM rd WHERE id % 2 = 0;
SELECT array_agg(id) FROM (SELECT id FROM rd ORDER BY v <-> '[1, 2, 3]' LIMIT 14) s;
-- rows inserted after the build, in this transaction, are seen by it
BEGIN;
INSERT INTO rd VALUES (200, '[1, 2, 3.001]');
SELECT array_agg(id) FROM (SELECT id FROM rd ORDER BY v <-> '[1, 2, 3.002]' LIMIT 2) s;
ROLLBACK;
SELECT array_agg(id) FROM (SELECT id FROM rd ORDER BY v <-> '[1, 2, 3.002]' LIMIT 2) s;
DROP TABLE rd;

-- vectors of small integers lie on their codes' grid: the codes are the
-- vectors, and re-ranking reads no row of the table (no DEBUG line)
CREATE TABLE rg (id int, v vector(3));
INSERT INTO rg SELECT i, ARRAY[i % 7, (i / 7) % 7, i / 49]::real[]::vector
	FROM generate_series(0, 342) i;
SELECT rr_sorted('vector_l2_ops', '<->', '[3.1, 2.2, 4.7]', 'rg');
SELECT rr_sorted('vector_l1_ops', '<+>', '[3.1, 2.2, 4.7]', 'rg');
CREATE INDEX rg_i8 ON rg USING hnsw (v) WITH (quantization = 'i8');
SELECT elements, lossless_codes FROM hnsw.index_info('rg_i8');
SET client_min_messages = debug1;
SELECT array_agg(id) FROM (SELECT id FROM rg ORDER BY v <-> '[3.1, 2.2, 4.7]' LIMIT 5) s;
RESET client_min_messages;
SELECT elements, dangling_links, unreachable_elements FROM hnsw.verify_index('rg_i8');
DROP TABLE rg;

RESET hnsw.ef_search;
RESET enable_seqscan;
DROP FUNCTION rr_sorted;
DROP TABLE rr;
