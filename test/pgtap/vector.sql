-- Behaviour of the vector type, checked against independent computations
-- in double precision over the arrays the vectors were built from.
BEGIN;
SELECT plan(22);

-- the surface exists, with pgvector's names
SELECT has_type('vector');
SELECT has_operator('vector', '<->', 'vector', 'double precision');
SELECT has_operator('vector', '<#>', 'vector', 'double precision');
SELECT has_operator('vector', '<=>', 'vector', 'double precision');
SELECT has_operator('vector', '<+>', 'vector', 'double precision');
SELECT has_function('l2_normalize', ARRAY['vector']);
SELECT has_opclass('vector_ops');
SELECT has_cast('integer[]', 'vector');
SELECT has_cast('vector', 'real[]');
SELECT has_cast('vector', 'double precision[]');

-- random vectors of awkward lengths, as real[] and as vector
SELECT setseed(0.42);
CREATE TEMP TABLE pairs AS
SELECT i, d,
       (SELECT array_agg((random() * 20 - 10)::real) FROM generate_series(1, d)) AS a,
       (SELECT array_agg((random() * 20 - 10)::real) FROM generate_series(1, d)) AS b
FROM generate_series(1, 40) i,
     LATERAL (SELECT (ARRAY[1, 7, 15, 16, 17, 31, 100, 784, 1536, 3072])[1 + i % 10] AS d) dd;

CREATE TEMP TABLE expect AS
SELECT i,
       sqrt(sum((x::float8 - y::float8) ^ 2)) AS l2,
       sum(x::float8 * y::float8) AS ip,
       sum(abs(x::float8 - y::float8)) AS l1,
       1 - sum(x::float8 * y::float8) / sqrt(sum(x::float8 ^ 2) * sum(y::float8 ^ 2)) AS cos,
       sqrt(sum(x::float8 ^ 2)) AS norm
FROM pairs, unnest(a, b) u(x, y)
GROUP BY i;

SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::vector <-> p.b::vector) - e.l2) > 1e-4 * (1 + e.l2)), 0::bigint,
          '<-> equals sqrt(sum((a-b)^2)) in double precision');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::vector <#> p.b::vector) + e.ip) > 1e-4 * (1 + abs(e.ip) + e.norm * 10)), 0::bigint,
          '<#> equals -sum(a*b)');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::vector <+> p.b::vector) - e.l1) > 1e-4 * (1 + e.l1)), 0::bigint,
          '<+> equals sum(|a-b|)');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::vector <=> p.b::vector) - e.cos) > 1e-4), 0::bigint,
          '<=> equals 1 - cos(a, b)');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs(vector_norm(p.a::vector) - e.norm) > 1e-5 * (1 + e.norm)), 0::bigint,
          'vector_norm equals sqrt(sum(a^2))');
SELECT is((SELECT count(*) FROM pairs p
           WHERE abs(vector_norm(l2_normalize(p.a::vector)) - 1) > 1e-5), 0::bigint,
          'l2_normalize gives unit vectors');

-- casts round-trip exactly
SELECT is((SELECT count(*) FROM pairs WHERE a::vector::real[] <> a), 0::bigint,
          'real[] -> vector -> real[] is the identity');
SELECT is((SELECT count(*) FROM pairs WHERE a::vector::text::vector <> a::vector), 0::bigint,
          'text output reads back to the same vector');
SELECT is((SELECT count(*) FROM pairs
           WHERE a::vector::double precision[]::vector <> a::vector), 0::bigint,
          'vector -> double precision[] -> vector is the identity');

-- vector_send produces pgvector's wire layout
SELECT is(vector_send('[1,-2]'::vector), '\x000200003f800000c0000000'::bytea,
          'vector_send: int16 dim, int16 zero, big-endian float4');

-- aggregates against per-element averages
SELECT is((SELECT avg(a::vector)::real[] FROM pairs WHERE d = 17),
          (SELECT array_agg(m ORDER BY n)::real[] FROM
             (SELECT n, avg(x::float8)::real AS m FROM pairs, unnest(a) WITH ORDINALITY u(x, n)
              WHERE d = 17 GROUP BY n) s),
          'avg(vector) equals per-element averages');
-- sum(vector) adds in float4 as pgvector does, so compare within rounding
SELECT is((SELECT count(*) FROM
             (SELECT n, sum(x::float8) AS m FROM pairs, unnest(a) WITH ORDINALITY u(x, n)
              WHERE d = 7 GROUP BY n) s,
             (SELECT sum(a::vector)::real[] AS sv FROM pairs WHERE d = 7) v
           WHERE abs(sv[n] - m) > 1e-5 * (1 + abs(m))), 0::bigint,
          'sum(vector) equals per-element sums');

SELECT * FROM finish();
ROLLBACK;
