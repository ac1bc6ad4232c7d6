-- hamming_distance, jaccard_distance and binary_quantize, checked against
-- PostgreSQL's own bit operators and bit_count() on random bit strings of
-- awkward lengths (the kernels' tails, and the AVX2 kernels' 2,048-bit
-- threshold on either side).
BEGIN;
SELECT plan(7);

SELECT has_operator('bit', '<~>', 'bit', 'double precision', 'operator <~> (Hamming)');
SELECT has_operator('bit', '<%>', 'bit', 'double precision', 'operator <%> (Jaccard)');

SELECT setseed(0.7);
CREATE TEMP TABLE pairs AS
SELECT i, n,
       (SELECT string_agg(CASE WHEN random() < 0.3 THEN '1' ELSE '0' END, '') FROM generate_series(1, n))::varbit AS a,
       (SELECT string_agg(CASE WHEN random() < 0.6 THEN '1' ELSE '0' END, '') FROM generate_series(1, n))::varbit AS b
FROM generate_series(1, 80) i,
     LATERAL (SELECT (ARRAY[1, 7, 8, 63, 64, 65, 1000, 2047, 2048, 2049, 2055, 4100, 8192, 20000])[1 + i % 14] AS n) nn;

SELECT is((SELECT count(*) FROM pairs WHERE length(a) <> n OR length(b) <> n), 0::bigint,
          'the bit strings have the intended lengths');
SELECT is((SELECT count(*) FROM pairs WHERE (a <~> b) <> bit_count(a # b)), 0::bigint,
          '<~> equals bit_count(a XOR b)');
SELECT is((SELECT count(*) FROM pairs
           WHERE (a <%> b) <> CASE WHEN bit_count(a & b) = 0 THEN 1
                                   ELSE 1 - bit_count(a & b)::float8 / bit_count(a | b) END),
          0::bigint, '<%> equals 1 - bit_count(a AND b) / bit_count(a OR b), 1 without common bits');
SELECT is((SELECT count(*) FROM pairs WHERE (a <~> a) <> 0 OR (a <%> a) <> CASE WHEN bit_count(a) = 0 THEN 1 ELSE 0 END),
          0::bigint, 'a string is at distance 0 from itself (Jaccard: unless it has no bit set)');

-- binary_quantize against the signs of the elements
CREATE TEMP TABLE vecs AS
SELECT i, (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, (ARRAY[1, 9, 64, 1536, 3000])[1 + i % 5])) AS x
FROM generate_series(1, 20) i;
SELECT is((SELECT count(*) FROM vecs
           WHERE binary_quantize(x::vector)::text <>
                 (SELECT string_agg(CASE WHEN e > 0 THEN '1' ELSE '0' END, '' ORDER BY n)
                    FROM unnest(x) WITH ORDINALITY u(e, n))),
          0::bigint, 'binary_quantize sets the bits of the positive elements');

SELECT * FROM finish();
ROLLBACK;
