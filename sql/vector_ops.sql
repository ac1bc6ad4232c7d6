-- distances, functions, arithmetic, comparison (integer-valued inputs keep
-- the printed results exact; a function's first argument is typed, since
-- sparsevec's overloads make untyped literals ambiguous, as in pgvector)

SELECT '[1,2,3]'::vector <-> '[4,6,3]' AS l2;
SELECT l2_distance('[0,0]'::vector, '[3,4]');
SELECT '[1,2,3]'::vector <#> '[4,5,6]' AS neg_ip;
SELECT inner_product('[1,2,3]'::vector, '[4,5,6]');
SELECT '[1,0]'::vector <=> '[0,1]' AS cos_orthogonal;
SELECT '[1,1]'::vector <=> '[2,2]' AS cos_same_direction;
SELECT '[1,1]'::vector <=> '[-1,-1]' AS cos_opposite;
SELECT cosine_distance('[0,0]'::vector, '[1,1]') AS cos_zero_vector_is_nan;
SELECT '[1,2,3]'::vector <+> '[4,0,3]' AS l1;
SELECT l1_distance('[-1,-1]'::vector, '[1,1]');
-- pgvector's support functions, callable as there
SELECT vector_l2_squared_distance('[0,0]', '[3,4]'),
	vector_negative_inner_product('[1,2]', '[3,4]');
SELECT vector_spherical_distance('[1,0]', '[0,1]'),
	vector_spherical_distance('[1,0]', '[-1,0]'), vector_spherical_distance('[1,0]', '[1,0]');
SELECT vector_dims('[1,2,3]'::vector), vector_norm('[3,4]');
SELECT l2_normalize('[3,4]'::vector), l2_normalize('[0,0]'::vector);
SELECT vector_norm(l2_normalize('[1,2,3]'::vector)) BETWEEN 0.999999 AND 1.000001 AS unit;
SELECT subvector('[1,2,3,4,5]'::vector, 2, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 4, 10);
SELECT subvector('[1,2,3]'::vector, 0, 2);
SELECT subvector('[1,2,3]'::vector, 4, 1);
SELECT subvector('[1,2,3]'::vector, 1, 0);

-- dimension mismatch
SELECT '[1,2]'::vector <-> '[1,2,3]';
SELECT '[1,2]'::vector <#> '[1,2,3]';
SELECT '[1,2]'::vector <=> '[1,2,3]';
SELECT '[1,2]'::vector <+> '[1,2,3]';
SELECT '[1,2]'::vector + '[1,2,3]';
SELECT vector_spherical_distance('[1,2]', '[1,2,3]');

-- arithmetic
SELECT '[1,2,3]'::vector + '[4,5,6]', '[1,2,3]'::vector - '[4,5,6]',
       '[1,2,3]'::vector * '[4,5,6]';
SELECT '[1,2]'::vector || '[3]';
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[3e38]'::vector * '[10]';
-- a product that underflows to zero from nonzero factors is an error, as
-- for real * real; one that is a subnormal is not; sums and differences of
-- subnormals are exact
SELECT '[1e-37]'::vector * '[1e-37]';
SELECT '[1,1e-23]'::vector * '[1,-1e-23]';
SELECT '[1e-20,0,1e-37]'::vector * '[1e-20,1e-37,0]';
SELECT '[1e-45]'::vector + '[-1e-45]', '[1e-45]'::vector - '[1e-45]',
       '[1e-45]'::vector + '[1e-45]';
-- l2_normalize rounds what falls below real's range to zero, as pgvector does
SELECT l2_normalize('[1e-38,1e38]'::vector), l2_normalize('[1e-45]'::vector);
SELECT vector_dims(array_fill(1, ARRAY[8000])::vector || array_fill(1, ARRAY[8001])::vector);

-- comparison and btree: ORDER BY, DISTINCT, GROUP BY, unique
SELECT '[1,2]'::vector < '[1,3]', '[1,2]'::vector = '[1,2]',
       '[1,2]'::vector < '[1,2,0]', '[2]'::vector > '[1,9]';
CREATE TABLE t_cmp (v vector);
INSERT INTO t_cmp VALUES ('[3,1]'), ('[1,2]'), ('[1,2]'), ('[1,1,1]'), ('[2]');
SELECT v FROM t_cmp ORDER BY v;
SELECT DISTINCT v FROM t_cmp ORDER BY v;
SELECT v, count(*) FROM t_cmp GROUP BY v ORDER BY v;
CREATE UNIQUE INDEX ON t_cmp (v);
DELETE FROM t_cmp WHERE v = '[1,2]' AND ctid = (SELECT min(ctid) FROM t_cmp WHERE v = '[1,2]');
CREATE UNIQUE INDEX t_cmp_v ON t_cmp (v);
INSERT INTO t_cmp VALUES ('[2]');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM t_cmp WHERE v = '[2]';
SELECT * FROM t_cmp WHERE v = '[2]';
RESET enable_seqscan;
DROP TABLE t_cmp;

-- k nearest by sequential scan
CREATE TABLE t_knn (id int, v vector(2));
INSERT INTO t_knn SELECT i, ARRAY[i % 10, i / 10]::vector FROM generate_series(0, 99) i;
SELECT id, v <-> '[3,3]' AS d FROM t_knn ORDER BY v <-> '[3,3]', id LIMIT 5;
SELECT id FROM t_knn ORDER BY v <+> '[9,9]', id LIMIT 3;
SELECT id FROM t_knn ORDER BY v <#> '[1,1]', id LIMIT 3;
DROP TABLE t_knn;

SELECT hnsw.distance_kernels() IN ('scalar', 'avx2', 'avx512') AS known_kernels;
