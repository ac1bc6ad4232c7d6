-- Behaviour of the sparsevec type, checked against independent
-- computations in double precision over the dense arrays the sparse
-- vectors were built from, and against the vector type.
BEGIN;
SELECT plan(17);

SELECT has_type('sparsevec');
SELECT has_opclass('sparsevec_ops');
SELECT has_cast('sparsevec', 'vector');
SELECT has_cast('vector', 'sparsevec');
SELECT has_cast('numeric[]', 'sparsevec');

-- random dense arrays of awkward lengths, most elements zero
SELECT setseed(0.31);
CREATE TEMP TABLE pairs AS
SELECT i, d,
       (SELECT array_agg(CASE WHEN random() < 0.8 THEN 0 ELSE (random() * 20 - 10)::real END)
          FROM generate_series(1, d)) AS a,
       (SELECT array_agg(CASE WHEN random() < 0.8 THEN 0 ELSE (random() * 20 - 10)::real END)
          FROM generate_series(1, d)) AS b
FROM generate_series(1, 60) i,
     LATERAL (SELECT (ARRAY[1, 2, 7, 16, 33, 100, 784, 3000, 16000])[1 + i % 9] AS d) dd;

CREATE TEMP TABLE expect AS
SELECT i,
       sqrt(sum((x::float8 - y::float8) ^ 2)) AS l2,
       sum(x::float8 * y::float8) AS ip,
       sum(abs(x::float8 - y::float8)) AS l1,
       sqrt(sum(x::float8 ^ 2)) AS na,
       sqrt(sum(y::float8 ^ 2)) AS nb
FROM pairs, unnest(a, b) u(x, y)
GROUP BY i;

SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::sparsevec <-> p.b::sparsevec) - e.l2) > 1e-5 * (1 + e.l2)), 0::bigint,
          '<-> equals sqrt(sum((a-b)^2)) in double precision');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::sparsevec <#> p.b::sparsevec) + e.ip) > 1e-5 * (1 + e.na * e.nb)), 0::bigint,
          '<#> equals -sum(a*b)');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::sparsevec <+> p.b::sparsevec) - e.l1) > 1e-5 * (1 + e.l1)), 0::bigint,
          '<+> equals sum(|a-b|)');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE e.na > 0 AND e.nb > 0
             AND abs((p.a::sparsevec <=> p.b::sparsevec) - (1 - e.ip / (e.na * e.nb))) > 1e-5), 0::bigint,
          '<=> equals 1 - cos(a, b)');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs(l2_norm(p.a::sparsevec) - e.na) > 1e-12 * (1 + e.na)), 0::bigint,
          'l2_norm equals sqrt(sum(a^2))');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE e.na > 0 AND abs(l2_norm(l2_normalize(p.a::sparsevec)) - 1) > 1e-6), 0::bigint,
          'l2_normalize gives unit vectors');

-- the same results as the dense vector type, within float rounding
SELECT is((SELECT count(*) FROM pairs
           WHERE abs((a::sparsevec <-> b::sparsevec) - (a::vector <-> b::vector)) > 1e-4 * (1 + (a::vector <-> b::vector))
              OR abs((a::sparsevec <+> b::sparsevec) - (a::vector <+> b::vector)) > 1e-4 * (1 + (a::vector <+> b::vector))),
          0::bigint, 'sparsevec and vector distances agree');
-- comparison is the dense vectors' order
SELECT is((SELECT count(*) FROM pairs p, pairs q
           WHERE p.i <= 20 AND q.i <= 20
             AND sign(sparsevec_cmp(p.a::sparsevec, q.a::sparsevec)) <> sign(vector_cmp(p.a::vector, q.a::vector))),
          0::bigint, 'sparsevec_cmp orders as vector_cmp does');

-- conversions are exact
SELECT is((SELECT count(*) FROM pairs WHERE a::sparsevec::vector::real[] <> a), 0::bigint,
          'real[] -> sparsevec -> vector -> real[] is the identity');
SELECT is((SELECT count(*) FROM pairs WHERE a::sparsevec::text::sparsevec <> a::sparsevec), 0::bigint,
          'text output reads back to the same sparsevec');
SELECT is((SELECT count(*) FROM pairs
           WHERE sparsevec(sparsevec_indices(a::sparsevec), sparsevec_values(a::sparsevec), d) <> a::sparsevec
              OR sparsevec_indices(a::sparsevec) IS DISTINCT FROM
                 (SELECT coalesce(array_agg((n - 1)::int ORDER BY n), '{}') FROM unnest(a) WITH ORDINALITY u(x, n) WHERE x <> 0)),
          0::bigint, 'sparsevec_indices are the 0-based positions of the non-zero elements, and sparsevec() reads them back');

SELECT is(sparsevec_send('{2:1,5:-2}/5'), '\x00000005000000020000000000000001000000043f800000c0000000'::bytea,
          'sparsevec_send: int32 dim, nnz, zero, 0-based indices, big-endian float4 values');

SELECT * FROM finish();
ROLLBACK;
