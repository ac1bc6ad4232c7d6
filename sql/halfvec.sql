-- halfvec: pgvector's half-precision vector type (text and binary I/O,
-- typmod, casts, distances, arithmetic, comparison, aggregates) and every
-- error it raises.  Values are chosen so that results are exact in float
-- and so do not depend on the kernel set or the order of additions.

-- text input: elements round to the nearest half (ties to even)
SELECT '[1,2,3]'::halfvec;
SELECT '  [ 1 , 2.5 ,-3e2 ]  '::halfvec;
SELECT '[0.1,0.2,0.3333,3.14159,1000.5,2049,4097,0x1p-3]'::halfvec;
SELECT '[65504,65519,-65519.99]'::halfvec AS largest;
-- tiny values round to subnormals or zero, with their sign; none is an error
SELECT '[1e-8,-1e-8,6e-8,1e-7,2.9802322e-8,2.9802323e-8]'::halfvec;
SELECT '[1e-50,-1e-50,0,-0]'::halfvec;
SELECT '[1]'::halfvec(1), '[1,2]'::halfvec(2);
SELECT vector_dims('[1,2,3,4]'::halfvec);

-- malformed text
SELECT '[1,2,3'::halfvec;
SELECT '1,2,3'::halfvec;
SELECT '[1,,3]'::halfvec;
SELECT '[1,]'::halfvec;
SELECT '[1,2,3],'::halfvec;
SELECT '[1 2]'::halfvec;
SELECT '[a]'::halfvec;
SELECT ''::halfvec;
SELECT '[]'::halfvec;
SELECT '[ ]'::halfvec;

-- out of range, NaN, infinity: the first fault in the text is reported
SELECT '[65520]'::halfvec;
SELECT '[-70000]'::halfvec;
SELECT '[1e39]'::halfvec;
SELECT '[NaN]'::halfvec;
SELECT '[1,Infinity]'::halfvec;
SELECT '[-inf]'::halfvec;
SELECT '[70000,abc]'::halfvec;
SELECT '[abc,70000]'::halfvec;
SELECT '[70000,nan]'::halfvec;

-- typmod
SELECT '[1,2,3]'::halfvec(2);
SELECT '[1,2]'::halfvec(0);
SELECT '[1,2]'::halfvec(16001);
SELECT '[1,2]'::halfvec(2, 3);
CREATE TABLE t_typmod (v halfvec(3));
INSERT INTO t_typmod VALUES ('[1,2,3]'), ('[4,5,6]'::vector), ('{7,8,9}'::real[]),
	('{1,2,4}'::int[]), ('{0.5,1,2}'::numeric[]), ('{1,1,1}'::float8[]);
INSERT INTO t_typmod VALUES ('[1,2]');
INSERT INTO t_typmod VALUES ('[1,2]'::vector);
INSERT INTO t_typmod VALUES ('{1,2}'::int[]);
SELECT v FROM t_typmod ORDER BY v;
\d t_typmod
DROP TABLE t_typmod;

-- dimension limit: 16000 is fine, 16001 is not
SELECT vector_dims(('[' || repeat('1,', 15999) || '1]')::halfvec);
SELECT vector_dims(('[' || repeat('1,', 16000) || '1]')::halfvec);
SELECT vector_dims(array_fill(1, ARRAY[16000])::halfvec);
SELECT vector_dims(array_fill(1, ARRAY[16001])::halfvec);

-- binary form: pgvector's, int16 dim, int16 zero, big-endian binary16
SELECT halfvec_send('[1,2,-0.5]');
SELECT halfvec_send('[65504,-65504,5.9604645e-08,-0,0,0.33325195]');
-- halfvec_recv, through binary COPY: a bytea column's COPY file carries
-- the raw bytes, which COPY into a halfvec column hands to halfvec_recv
CREATE TABLE t_recv (v halfvec);
CREATE TABLE t_recv3 (v halfvec(3));
CREATE FUNCTION recv_test(bytes bytea, tab text DEFAULT 't_recv') RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	f text := current_setting('data_directory') || '/halfvec_recv.bin';
BEGIN
	EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', bytes, f);
	EXECUTE format('TRUNCATE %I', tab);
	EXECUTE format('COPY %I FROM %L (FORMAT binary)', tab, f);
	RETURN QUERY EXECUTE format('SELECT v::text FROM %I', tab);
END $$;
SELECT recv_test('\x000300003c004000b800');
SELECT recv_test('\x000300003c004000b800', 't_recv3');
SELECT recv_test('\x00040000000180007bff0000');
SELECT recv_test(halfvec_send('[65504,-0,5.9604645e-08,0.33325195]')) = '[65504,-0,5.9604645e-08,0.33325195]' AS round_trip;
-- faults; the CONTEXT would name the data directory, so it is not shown
\set SHOW_CONTEXT never
SELECT recv_test('\x0002000000');
SELECT recv_test('\x0000');
SELECT recv_test('\x00000000');
SELECT recv_test('\xffff0000');
SELECT recv_test('\x3e810000');
SELECT recv_test('\x000100013c00');
SELECT recv_test('\x000100007e00');
SELECT recv_test('\x000200003c00fc00');
SELECT recv_test('\x000100003c0000');
SELECT recv_test('\x000200003c004000', 't_recv3');
\set SHOW_CONTEXT errors
DROP FUNCTION recv_test(bytea, text);
DROP TABLE t_recv, t_recv3;

-- casts
SELECT '{1,2,3}'::real[]::halfvec, '{1,2,3}'::float8[]::halfvec,
	'{1,2,3}'::int[]::halfvec, '{1,2,3}'::numeric[]::halfvec;
SELECT '{0.1,0.2}'::float8[]::halfvec, '{0.1,0.2}'::numeric[]::halfvec;
SELECT '{1e-50}'::float8[]::halfvec;
SELECT '[1,2.5,3]'::halfvec::real[];
SELECT '[1,2.5,3]'::halfvec::vector, '[1,2.5,3]'::halfvec::vector(3);
SELECT '[0.1,0.2]'::vector::halfvec, '[0.1,0.2]'::vector::halfvec(2);
SELECT '[1e-8]'::vector::halfvec;
SELECT castcontext, format_type(castsource, NULL) AS source, format_type(casttarget, NULL) AS target
FROM pg_cast WHERE castsource = 'halfvec'::regtype OR casttarget = 'halfvec'::regtype
ORDER BY 2, 3;
SELECT typstorage, typalign, typlen FROM pg_type WHERE typname = 'halfvec';
-- cast errors
SELECT '{1e10}'::float8[]::halfvec;
SELECT '{100000}'::int[]::halfvec;
SELECT '{1e300}'::float8[]::halfvec;
SELECT '{1e300,1e10}'::float8[]::halfvec;
SELECT '{NaN}'::float8[]::halfvec;
SELECT '{Infinity}'::real[]::halfvec;
SELECT '{NaN}'::numeric[]::halfvec;
SELECT '{1e39}'::numeric[]::halfvec;
SELECT '{1e-50}'::numeric[]::halfvec;
SELECT '{}'::real[]::halfvec;
SELECT '{{1,2},{3,4}}'::real[]::halfvec;
SELECT '{1,NULL}'::int[]::halfvec;
SELECT '{1,2,3}'::int[]::halfvec(2);
SELECT '[1,2,3]'::halfvec::vector(2);
SELECT '[0.1,0.2]'::vector::halfvec(3);
SELECT '[0.0001,70000]'::vector::halfvec;
SELECT '[1,2,3]'::halfvec::float8[];
SELECT '{1,2}'::text[]::halfvec;

-- distances
SELECT l2_distance('[0,0]'::halfvec, '[3,4]'), '[0,0]'::halfvec <-> '[3,4]';
SELECT inner_product('[1,2]'::halfvec, '[3,4]'), '[1,2]'::halfvec <#> '[3,4]';
SELECT cosine_distance('[1,2]'::halfvec, '[2,4]'), '[1,2]'::halfvec <=> '[-2,1]',
	'[1,1]'::halfvec <=> '[-1,-1]', '[1,2]'::halfvec <=> '[0,0]';
SELECT l1_distance('[0,0]'::halfvec, '[3,4]'), '[0,0]'::halfvec <+> '[3,4]';
SELECT halfvec_l2_squared_distance('[0,0]', '[3,4]'),
	halfvec_negative_inner_product('[1,2]', '[3,4]');
SELECT halfvec_spherical_distance('[1,0]', '[0,1]'),
	halfvec_spherical_distance('[1,0]', '[-1,0]');
SELECT '[65504,65504]'::halfvec <-> '[-65504,-65504]' AS beyond_half,
	'[65504,65504]'::halfvec <#> '[65504,65504]' AS ip_in_float;
-- a vector meets a halfvec through the implicit cast to halfvec
SELECT '[1,2]'::halfvec <-> '[4,6]'::vector, '[1,2]'::vector <-> '[4,6]'::halfvec;
SELECT '[1,2]'::halfvec <-> '[1]';
SELECT '[1,2]'::halfvec <#> '[1]';
SELECT '[1,2]'::halfvec <=> '[1]';
SELECT '[1,2]'::halfvec <+> '[1]';
SELECT halfvec_spherical_distance('[1,2]', '[1]');

-- other functions
SELECT vector_dims('[1,2,3]'::halfvec), l2_norm('[3,4]'::halfvec), l2_norm('[0,0]'::halfvec);
SELECT l2_normalize('[3,4]'::halfvec), l2_normalize('[0,0]'::halfvec),
	l2_normalize('[0,-2]'::halfvec), l2_normalize('[5.9604645e-08]'::halfvec);
SELECT binary_quantize('[1,-1,0,2,3,4,5,6,7,-8]'::halfvec),
	binary_quantize('[-0,5.9604645e-08]'::halfvec),
	pg_typeof(binary_quantize('[1]'::halfvec));
SELECT subvector('[1,2,3,4,5]'::halfvec, 1, 3), subvector('[1,2,3,4,5]'::halfvec, 3, 2),
	subvector('[1,2,3,4,5]'::halfvec, -1, 3), subvector('[1,2,3,4,5]'::halfvec, 3, 9),
	subvector('[1,2,3,4,5]'::halfvec, 3, 2147483647);
SELECT subvector('[1,2,3,4,5]'::halfvec, 6, 1);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, 0);
SELECT subvector('[1,2,3,4,5]'::halfvec, -1, 2);

-- arithmetic: in float, each result rounded to a half
SELECT '[1,2,3]'::halfvec + '[4,5,6]', '[1,2,3]'::halfvec - '[4,5,6]',
	'[1,2,3]'::halfvec * '[4,5,6]';
SELECT '[2049]'::halfvec + '[1]' AS tie_to_even, '[1,2]'::halfvec * '[1e-5,1e-5]' AS subnormal;
SELECT '[1,2]'::halfvec || '[3]', '[1]'::halfvec || '[65504]';
SELECT '[60000]'::halfvec + '[60000]';
SELECT '[-60000]'::halfvec - '[60000]';
SELECT '[300]'::halfvec * '[300]';
SELECT '[0.0001]'::halfvec * '[0.0001]';
SELECT '[1,2]'::halfvec + '[1]';
SELECT '[1,2]'::halfvec - '[1]';
SELECT '[1,2]'::halfvec * '[1]';
SELECT vector_dims(array_fill(1, ARRAY[8000])::halfvec || array_fill(1, ARRAY[8001])::halfvec);

-- comparison: element by element, then shorter first; -0 equals 0
SELECT '[1,2]'::halfvec < '[1,3]', '[1,2]'::halfvec <= '[1,2]', '[1,2]'::halfvec = '[1,2]',
	'[1,2]'::halfvec <> '[1,2]', '[1,2]'::halfvec >= '[1,2,0]', '[2]'::halfvec > '[1,9]';
SELECT '[0]'::halfvec = '[-0]', halfvec_cmp('[1]', '[1,2]'), halfvec_cmp('[2]', '[1,2]');
CREATE TABLE t_cmp (v halfvec);
INSERT INTO t_cmp VALUES ('[3]'), ('[1,2]'), ('[1]'), ('[0.5]'), ('[1,1]'), ('[-5,100]');
CREATE INDEX ON t_cmp (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT v FROM t_cmp WHERE v > '[0.5]' ORDER BY v;
SELECT v FROM t_cmp WHERE v > '[0.5]' ORDER BY v;
RESET enable_seqscan;
SELECT DISTINCT v FROM (SELECT v FROM t_cmp UNION ALL SELECT v FROM t_cmp) s ORDER BY v;
DROP TABLE t_cmp;

-- aggregates
CREATE TABLE t_agg (g int, v halfvec(3));
INSERT INTO t_agg VALUES (1, '[1,2,3]'), (1, '[3,5,7]'), (2, '[10,0,-10]'), (2, NULL);
SELECT avg(v), sum(v) FROM t_agg;
SELECT g, avg(v), sum(v) FROM t_agg GROUP BY g ORDER BY g;
SELECT avg(v), sum(v) FROM t_agg WHERE false;
SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec), ('[1]')) x(v);
SELECT sum(v) FROM (VALUES ('[1,2]'::halfvec), ('[1]')) x(v);
SELECT avg(v) FROM (VALUES ('[60000]'::halfvec), ('[60000]')) x(v);
SELECT sum(v) FROM (VALUES ('[60000]'::halfvec), ('[60000]')) x(v);
-- parallel aggregation uses the combine function; no rows is still NULL
CREATE TABLE t_par (i int, v halfvec(2));
INSERT INTO t_par SELECT i, ARRAY[i % 7, i % 11]::halfvec FROM generate_series(1, 10000) i;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v) FROM t_par WHERE i < 0;
SELECT avg(v) FROM t_par WHERE i < 0;
SELECT avg(v) FROM t_par;
SELECT sum(v) FROM t_par WHERE i <= 100;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE t_agg, t_par;
-- the state functions are callable, so they check their state
SELECT halfvec_accum('{0}', '[1,2]'), halfvec_accum('{1,1,2}', '[1,2]'),
	halfvec_combine('{0}', '{1,1,2}'), halfvec_combine('{1,1,2}', '{2,3,4}'),
	halfvec_avg('{0}'), halfvec_avg('{2,1,2}');
SELECT halfvec_accum('{1,2}', '[1,2]');
SELECT halfvec_accum('{}', '[1,2]');
SELECT halfvec_accum('{1,NULL}', '[1]');
SELECT halfvec_combine('{1,2}', '{1,2,3}');
SELECT halfvec_combine('{1,1e308}', '{1,1e308}');
SELECT halfvec_combine('{1}', '{1}');
SELECT halfvec_avg('{1}');
SELECT halfvec_avg('{2,60000000}');
SELECT halfvec_avg('{1,1e300}');
SELECT halfvec_avg('{{1,2}}');

-- unknown literals: vector and halfvec both fit, as in pgvector
SELECT vector_dims('[1,2]');
SELECT '[1,2]' <-> '[3,4]';
SELECT pg_typeof(x) FROM (SELECT '[1]'::vector UNION ALL SELECT '[2]'::halfvec) s(x);
