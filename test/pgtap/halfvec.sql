-- Behaviour of the halfvec type, checked against independent computations
-- in double precision over the real[] arrays the halfvecs are made from,
-- and its SQL surface against pgvector 0.8's, name for name.
BEGIN;
SELECT plan(49);

-- pgvector's halfvec surface: every function with its result type ...
SELECT is(ARRAY(
  SELECT sig || ' -> ' || coalesce(format_type(p.prorettype, NULL), 'MISSING')
  FROM (VALUES
    ('halfvec_in(cstring,oid,integer)', 'halfvec'), ('halfvec_out(halfvec)', 'cstring'),
    ('halfvec_typmod_in(cstring[])', 'integer'), ('halfvec_recv(internal,oid,integer)', 'halfvec'),
    ('halfvec_send(halfvec)', 'bytea'),
    ('l2_distance(halfvec,halfvec)', 'double precision'), ('inner_product(halfvec,halfvec)', 'double precision'),
    ('cosine_distance(halfvec,halfvec)', 'double precision'), ('l1_distance(halfvec,halfvec)', 'double precision'),
    ('vector_dims(halfvec)', 'integer'), ('l2_norm(halfvec)', 'double precision'),
    ('l2_normalize(halfvec)', 'halfvec'), ('binary_quantize(halfvec)', 'bit'),
    ('subvector(halfvec,integer,integer)', 'halfvec'),
    ('halfvec_add(halfvec,halfvec)', 'halfvec'), ('halfvec_sub(halfvec,halfvec)', 'halfvec'),
    ('halfvec_mul(halfvec,halfvec)', 'halfvec'), ('halfvec_concat(halfvec,halfvec)', 'halfvec'),
    ('halfvec_lt(halfvec,halfvec)', 'boolean'), ('halfvec_le(halfvec,halfvec)', 'boolean'),
    ('halfvec_eq(halfvec,halfvec)', 'boolean'), ('halfvec_ne(halfvec,halfvec)', 'boolean'),
    ('halfvec_ge(halfvec,halfvec)', 'boolean'), ('halfvec_gt(halfvec,halfvec)', 'boolean'),
    ('halfvec_cmp(halfvec,halfvec)', 'integer'),
    ('halfvec_l2_squared_distance(halfvec,halfvec)', 'double precision'),
    ('halfvec_negative_inner_product(halfvec,halfvec)', 'double precision'),
    ('halfvec_spherical_distance(halfvec,halfvec)', 'double precision'),
    ('halfvec_accum(double precision[],halfvec)', 'double precision[]'),
    ('halfvec_avg(double precision[])', 'halfvec'),
    ('halfvec_combine(double precision[],double precision[])', 'double precision[]'),
    ('avg(halfvec)', 'halfvec'), ('sum(halfvec)', 'halfvec'),
    ('halfvec(halfvec,integer,boolean)', 'halfvec'),
    ('halfvec_to_vector(halfvec,integer,boolean)', 'vector'),
    ('vector_to_halfvec(vector,integer,boolean)', 'halfvec'),
    ('array_to_halfvec(integer[],integer,boolean)', 'halfvec'),
    ('array_to_halfvec(real[],integer,boolean)', 'halfvec'),
    ('array_to_halfvec(double precision[],integer,boolean)', 'halfvec'),
    ('array_to_halfvec(numeric[],integer,boolean)', 'halfvec'),
    ('halfvec_to_float4(halfvec,integer,boolean)', 'real[]')) v(sig, ret)
  LEFT JOIN pg_proc p ON p.oid = to_regprocedure(v.sig)
  WHERE p.oid IS NULL OR format_type(p.prorettype, NULL) <> v.ret
  ORDER BY 1), '{}'::text[],
  'every function of pgvector''s halfvec surface exists with its result type');
SELECT is(ARRAY(
  SELECT DISTINCT p.proname::text FROM pg_proc p
  WHERE (p.proargtypes::oid[] && ARRAY['halfvec'::regtype::oid] OR p.prorettype = 'halfvec'::regtype)
    AND p.pronamespace <> 'hnsw'::regnamespace  -- internal (hnsw._index_distance)
    AND (p.provolatile <> 'i' OR p.proparallel <> 's' OR (p.prokind = 'f' AND NOT p.proisstrict))
  ORDER BY 1), '{}'::text[], 'every halfvec function is immutable, strict and parallel safe');
SELECT is((SELECT string_agg(aggfnoid::regprocedure::text || ':' || aggcombinefn::text, ' ' ORDER BY 1)
           FROM pg_aggregate WHERE aggfnoid IN ('avg(halfvec)'::regprocedure, 'sum(halfvec)'::regprocedure)),
          'avg(halfvec):halfvec_combine sum(halfvec):halfvec_add',
          'avg and sum have combine functions (parallel aggregation)');

-- ... every operator with its function and result ...
SELECT is(ARRAY(
  SELECT v.op || ' ' || coalesce((SELECT proname FROM pg_proc WHERE oid = o.oprcode) || ' ' || format_type(o.oprresult, NULL), 'MISSING')
  FROM (VALUES ('<->'), ('<#>'), ('<=>'), ('<+>'), ('+'), ('-'), ('*'), ('||'),
               ('<'), ('<='), ('='), ('<>'), ('>='), ('>')) v(op)
  LEFT JOIN pg_operator o ON o.oid = to_regoperator(v.op || '(halfvec,halfvec)')
  ORDER BY v.op), ARRAY[
  '* halfvec_mul halfvec', '+ halfvec_add halfvec', '- halfvec_sub halfvec',
  '< halfvec_lt boolean', '<#> halfvec_negative_inner_product double precision',
  '<+> l1_distance double precision', '<-> l2_distance double precision',
  '<= halfvec_le boolean', '<=> cosine_distance double precision', '<> halfvec_ne boolean',
  '= halfvec_eq boolean', '> halfvec_gt boolean', '>= halfvec_ge boolean',
  '|| halfvec_concat halfvec'],
  'every operator of pgvector''s halfvec surface, on pgvector''s functions');
-- ... every cast in pgvector's context, and the btree operator class
SELECT is(ARRAY(
  SELECT format_type(castsource, NULL) || ' -> ' || format_type(casttarget, NULL) || ' ' || castcontext::text
  FROM pg_cast WHERE castsource = 'halfvec'::regtype OR casttarget = 'halfvec'::regtype ORDER BY 1),
  ARRAY['double precision[] -> halfvec a', 'halfvec -> halfvec i', 'halfvec -> real[] a',
        'halfvec -> sparsevec i', 'halfvec -> vector a', 'integer[] -> halfvec a',
        'numeric[] -> halfvec a', 'real[] -> halfvec a', 'sparsevec -> halfvec a',
        'vector -> halfvec i'],
  'casts and contexts are pgvector''s');
SELECT has_opclass('halfvec_ops');
SELECT is((SELECT typstorage::text || typalign::text FROM pg_type WHERE typname = 'halfvec'), 'ei',
          'stored external, int-aligned, as pgvector');

-- random vectors of awkward lengths, as real[], and the halves they round to
SELECT setseed(0.42);
CREATE TEMP TABLE pairs AS
SELECT i, d, a, b, a::halfvec::real[] AS ha, b::halfvec::real[] AS hb
FROM (SELECT i, d,
             (SELECT array_agg(x) FROM (SELECT ((random() * 2 - 1) * m)::real AS x FROM generate_series(1, d)) s) AS a,
             (SELECT array_agg(x) FROM (SELECT ((random() * 2 - 1) * m)::real AS x FROM generate_series(1, d)) s) AS b
      FROM generate_series(1, 40) i,
           LATERAL (SELECT (ARRAY[1, 7, 15, 16, 17, 31, 100, 784, 1536, 3072])[1 + i % 10] AS d,
                           (ARRAY[1, 10, 0.01, 1000])[1 + i % 4] AS m) dd) s;

-- rounding to a half is to the nearest: within half a unit in the last
-- place, and onto a representable value (a multiple of that unit)
CREATE TEMP TABLE rounding AS
SELECT x, h, CASE WHEN abs(x) >= 2 ^ -14 THEN 2::float8 ^ (e - 10) ELSE 2::float8 ^ -24 END AS ulp
FROM pairs, unnest(a, ha) u(x, h),
     -- the binary exponent of x, from its float bits
     LATERAL (SELECT (get_byte(float4send(x), 0) & 127) * 2 + (get_byte(float4send(x), 1) >> 7) - 127 AS e) l
WHERE x <> 0;
SELECT is((SELECT count(*) FROM rounding WHERE abs(h::float8 - x::float8) > ulp / 2), 0::bigint,
          'each element is within half a unit in the last place of its value');
SELECT is((SELECT count(*) FROM rounding WHERE h::float8 / ulp <> round(h::float8 / ulp)), 0::bigint,
          'each element is a half (an integer number of units)');

CREATE TEMP TABLE expect AS
SELECT i,
       sqrt(sum((x::float8 - y::float8) ^ 2)) AS l2,
       sum(x::float8 * y::float8) AS ip,
       sum(abs(x::float8 - y::float8)) AS l1,
       1 - sum(x::float8 * y::float8) / sqrt(sum(x::float8 ^ 2) * sum(y::float8 ^ 2)) AS cos,
       sqrt(sum(x::float8 ^ 2)) AS norm, sqrt(sum(y::float8 ^ 2)) AS normb
FROM pairs, unnest(ha, hb) u(x, y)
GROUP BY i;

SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::halfvec <-> p.b::halfvec) - e.l2) > 1e-4 * (1 + e.l2)), 0::bigint,
          '<-> equals sqrt(sum((a-b)^2)) over the halves, in double precision');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::halfvec <#> p.b::halfvec) + e.ip) > 1e-5 * (1 + e.norm * e.normb)), 0::bigint,
          '<#> equals -sum(a*b)');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs(inner_product(p.a::halfvec, p.b::halfvec) - e.ip) > 1e-5 * (1 + e.norm * e.normb)), 0::bigint,
          'inner_product equals sum(a*b)');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::halfvec <+> p.b::halfvec) - e.l1) > 1e-4 * (1 + e.l1)), 0::bigint,
          '<+> equals sum(|a-b|)');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::halfvec <=> p.b::halfvec) - e.cos) > 1e-4), 0::bigint,
          '<=> equals 1 - cos(a, b)');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs(halfvec_l2_squared_distance(p.a::halfvec, p.b::halfvec) - e.l2 ^ 2) > 1e-4 * (1 + e.l2 ^ 2)), 0::bigint,
          'halfvec_l2_squared_distance equals sum((a-b)^2)');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs(l2_norm(p.a::halfvec) - e.norm) > 1e-12 * (1 + e.norm)), 0::bigint,
          'l2_norm equals sqrt(sum(a^2)) (in double, like the reference)');

-- small integers: every sum is exact in float whatever the order, so the
-- distances equal the double-precision reference exactly
CREATE TEMP TABLE ints AS
SELECT i, a, b FROM (
  SELECT i, (SELECT array_agg(floor(random() * 17 - 8)::int) FROM generate_series(1, d + 0 * i)) AS a,
            (SELECT array_agg(floor(random() * 17 - 8)::int) FROM generate_series(1, d + 0 * i)) AS b
  FROM generate_series(1, 30) i, LATERAL (SELECT (ARRAY[1, 5, 8, 9, 23, 64, 100, 1000])[1 + i % 8] AS d) dd) s;
SELECT is((SELECT count(*) FROM ints,
             LATERAL (SELECT sum((x - y) ^ 2) AS l2sq, sum(x * y) AS ip, sum(abs(x - y)) AS l1,
                             sum(x * x) AS aa, sum(y * y) AS bb
                      FROM unnest(a::float8[], b::float8[]) u(x, y)) e
           WHERE (a::halfvec <-> b::halfvec) <> sqrt(e.l2sq)
              OR (a::halfvec <#> b::halfvec) <> -e.ip
              OR (a::halfvec <+> b::halfvec) <> e.l1
              OR (e.aa > 0 AND e.bb > 0 AND (a::halfvec <=> b::halfvec) <>
                  1 - greatest(-1, least(1, e.ip / sqrt(e.aa * e.bb))))), 0::bigint,
          'on small integers the four distances equal the reference exactly');

-- casts and text round-trip exactly
SELECT is((SELECT count(*) FROM pairs WHERE ha::halfvec::real[] <> ha), 0::bigint,
          'real[] of halves -> halfvec -> real[] is the identity');
SELECT is((SELECT count(*) FROM pairs WHERE a::halfvec::text::halfvec <> a::halfvec
             OR a::halfvec::text <> ha::halfvec::text), 0::bigint,
          'text output reads back to the same halfvec');
SELECT is((SELECT count(*) FROM pairs WHERE a::vector::halfvec::real[] <> ha
             OR a::float8[]::halfvec::real[] <> ha OR a::halfvec::vector::real[] <> ha), 0::bigint,
          'vector, real[] and double precision[] round to the same halves');
-- the binary form, built from the values: int16 dim, int16 zero, then
-- each half's bits big-endian (sign, exponent biased by 15, 10-bit
-- mantissa; subnormals as multiples of 2^-24)
SELECT is((SELECT count(*) FROM pairs WHERE halfvec_send(a::halfvec) <>
             int2send(d::int2) || int2send(0::int2) ||
             (SELECT string_agg(int2send((CASE WHEN bits >= 32768 THEN bits - 65536 ELSE bits END)::int2), '' ORDER BY n)
              FROM (SELECT n, (CASE WHEN get_byte(float4send(x), 0) >= 128 THEN 32768 ELSE 0 END) +
                              (CASE WHEN x = 0 THEN 0
                                    WHEN abs(x) < 2 ^ -14 THEN (abs(x::float8) * 2 ^ 24)::int
                                    ELSE ((e + 15) * 1024 + (abs(x::float8) / 2 ^ e - 1) * 1024)::int END) AS bits
                    FROM unnest(ha) WITH ORDINALITY u(x, n),
                         LATERAL (SELECT (get_byte(float4send(x), 0) & 127) * 2 + (get_byte(float4send(x), 1) >> 7) - 127 AS e) l) h)),
          0::bigint, 'halfvec_send is int16 dim, int16 zero, big-endian binary16, as pgvector');

-- other functions against their definitions
SELECT is((SELECT count(*) FROM pairs
           WHERE binary_quantize(a::halfvec)::text <>
                 (SELECT string_agg(CASE WHEN x > 0 THEN '1' ELSE '0' END, '' ORDER BY n)
                  FROM unnest(ha) WITH ORDINALITY u(x, n))), 0::bigint,
          'binary_quantize has a 1 exactly where an element is > 0');
SELECT is((SELECT count(*) FROM pairs, generate_series(1, 4) s
           WHERE d >= s + 2 AND subvector(a::halfvec, s, 3)::real[] <> ha[s:s + 2]), 0::bigint,
          'subvector equals the array slice');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs(l2_norm(l2_normalize(p.a::halfvec)) - 1) > 1e-3
              OR EXISTS (SELECT FROM unnest(l2_normalize(p.a::halfvec)::real[], ha) u(y, x)
                         WHERE abs(y - x / e.norm) > (2 ^ -11 + 2 ^ -23) * abs(x / e.norm) + 2 ^ -25)), 0::bigint,
          'l2_normalize divides by the norm, to the nearest half');
SELECT is((SELECT count(*) FROM pairs WHERE vector_dims(a::halfvec) <> d
             OR vector_dims(a::halfvec || b::halfvec) <> 2 * d), 0::bigint,
          'vector_dims and ||');

-- btree order is real[] order
SELECT is((SELECT array_agg(i ORDER BY a::halfvec, i) FROM pairs),
          (SELECT array_agg(i ORDER BY ha, i) FROM pairs),
          'ORDER BY halfvec sorts as the real[] of its halves');

-- element-wise arithmetic on small integers (exact): as on the arrays
SELECT is((SELECT count(*) FROM ints WHERE
             (a::halfvec + b::halfvec)::real[] <> (SELECT array_agg(x + y ORDER BY n) FROM unnest(a, b) WITH ORDINALITY u(x, y, n))::real[]
             OR (a::halfvec - b::halfvec)::real[] <> (SELECT array_agg(x - y ORDER BY n) FROM unnest(a, b) WITH ORDINALITY u(x, y, n))::real[]
             OR (a::halfvec * b::halfvec)::real[] <> (SELECT array_agg(x * y ORDER BY n) FROM unnest(a, b) WITH ORDINALITY u(x, y, n))::real[]),
          0::bigint, '+, - and * are element-wise');

-- aggregates
SELECT is((SELECT count(*) FROM
             (SELECT n, avg(x::float8) AS m FROM pairs, unnest(ha) WITH ORDINALITY u(x, n)
              WHERE d = 17 GROUP BY n) s,
             (SELECT avg(a::halfvec)::real[] AS av FROM pairs WHERE d = 17) v
           WHERE abs(av[n] - m) > (2 ^ -11 + 2 ^ -23) * abs(m) + 2 ^ -25), 0::bigint,
          'avg(halfvec) is the per-element average, to the nearest half');
SELECT is((SELECT sum(a::halfvec)::real[] FROM ints WHERE cardinality(a) = 100),
          (SELECT array_agg(m ORDER BY n)::real[] FROM
             (SELECT n, sum(x) AS m FROM ints, unnest(a) WITH ORDINALITY u(x, n)
              WHERE cardinality(a) = 100 GROUP BY n) s),
          'sum(halfvec) is the per-element sum');
CREATE TABLE halfvec_par AS
  SELECT g, ARRAY[g % 5, g % 3, -1]::halfvec AS v FROM generate_series(1, 20000) g;
ANALYZE halfvec_par;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	result text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		result := result || line || E'\n';
	END LOOP;
	RETURN result;
END $$;
-- (g + 0 < 0: no rows, which the planner cannot know, so it still plans
-- a parallel aggregation)
-- A query under pgTAP's functions (parallel unsafe) never runs in
-- parallel: the queries checked are run by EXECUTE, planned on their own.
CREATE FUNCTION pg_temp.run_text(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text;
BEGIN
	EXECUTE q INTO result;
	RETURN result;
END $$;
SELECT matches(pg_temp.plan_of('SELECT avg(v), sum(v) FROM halfvec_par WHERE g + 0 < 0'), 'Partial Aggregate',
               'avg and sum over no rows run as parallel aggregates');
SELECT matches(pg_temp.plan_of('SELECT avg(v) FROM halfvec_par'), 'Partial Aggregate',
               'avg over the table runs as a parallel aggregate');
SELECT is(pg_temp.run_text('SELECT avg(v)::text FROM halfvec_par'), '[2,1,-1]',
          'parallel avg(halfvec) combines its partial states');
SELECT is(pg_temp.run_text('SELECT ROW(avg(v), sum(v))::text FROM halfvec_par WHERE g + 0 < 0'), '(,)',
          'parallel avg and sum over no rows are NULL');
-- every 20th row: rows in every worker's blocks, sums exact in halves
SELECT matches(pg_temp.plan_of('SELECT sum(v) FROM halfvec_par WHERE g % 20 = 0'), 'Partial Aggregate',
               'sum over every 20th row runs as a parallel aggregate');
SELECT is(pg_temp.run_text('SELECT sum(v)::real[]::text FROM halfvec_par WHERE g % 20 = 0'),
          (SELECT ARRAY[sum(g % 5), sum(g % 3), -count(*)]::real[]::text FROM halfvec_par WHERE g % 20 = 0),
          'parallel sum(halfvec) adds its partial sums');

-- every class of error, with pgvector's SQLSTATE
SELECT throws_ok($$SELECT '[1,2'::halfvec$$, '22P02', NULL, 'malformed text: 22P02');
SELECT throws_ok($$SELECT '[]'::halfvec$$, '22000', NULL, 'no elements: 22000');
SELECT throws_ok($$SELECT array_fill(1, ARRAY[16001])::halfvec$$, '54000', NULL, 'more than 16000 dimensions: 54000');
SELECT throws_ok($$SELECT '[1,70000]'::halfvec$$, '22003', NULL, 'beyond the half range: 22003');
SELECT throws_ok($$SELECT '{1e10}'::float8[]::halfvec$$, '22003', NULL, 'an array value beyond the half range: 22003');
SELECT throws_ok($$SELECT '[1,NaN]'::halfvec$$, '22000', NULL, 'NaN: 22000');
SELECT throws_ok($$SELECT '{1e300}'::float8[]::halfvec$$, '22000', NULL, 'beyond float, infinite: 22000');
SELECT throws_ok($$SELECT '{1,NULL}'::real[]::halfvec$$, '22004', NULL, 'NULL in an array: 22004');
SELECT throws_ok($$SELECT '[1,2]'::halfvec <-> '[1]'$$, '22000', NULL, 'different dimensions: 22000');
SELECT throws_ok($$SELECT '[1,2]'::halfvec(3)$$, '22000', NULL, 'typmod mismatch: 22000');
SELECT throws_ok($$SELECT '[1,2]'::halfvec(0)$$, '22023', NULL, 'bad typmod: 22023');
SELECT throws_ok($$SELECT '[60000]'::halfvec + '[60000]'$$, '22003', NULL, 'arithmetic overflow: 22003');
SELECT throws_ok($$SELECT '[0.0001]'::halfvec * '[0.0001]'$$, '22003', NULL, 'product underflow: 22003');
SELECT throws_ok($$SELECT halfvec_accum('{}', '[1]')$$, 'XX000', NULL, 'a state avg() cannot build: XX000');
SELECT * FROM finish();
ROLLBACK;
