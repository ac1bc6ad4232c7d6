-- Canberra, Bray-Curtis and correlation distances: checked against
-- independent computations in double precision over the arrays the vectors
-- were built from; which of them are metrics; and the recall@10 of an hnsw
-- index with each operator class against exact search.
BEGIN;
SELECT plan(14);

SELECT has_operator('vector', '</>', 'vector', 'double precision', 'operator </> (Canberra)');
SELECT has_operator('vector', '<|>', 'vector', 'double precision', 'operator <|> (Bray-Curtis)');
SELECT has_operator('vector', '<^>', 'vector', 'double precision', 'operator <^> (correlation)');

-- random vectors of awkward lengths, a quarter of their elements zero
SELECT setseed(0.17);
CREATE TEMP TABLE pairs AS
SELECT i, d,
       (SELECT array_agg(CASE WHEN random() < 0.25 THEN 0 ELSE (random() * 20 - 10)::real END)
          FROM generate_series(1, d)) AS a,
       (SELECT array_agg(CASE WHEN random() < 0.25 THEN 0 ELSE (random() * 20 - 10)::real END)
          FROM generate_series(1, d)) AS b
FROM generate_series(1, 40) i,
     LATERAL (SELECT (ARRAY[1, 2, 7, 16, 17, 100, 784, 1536])[1 + i % 8] AS d) dd;

CREATE TEMP TABLE expect AS
SELECT i,
       sum(CASE WHEN x = 0 AND y = 0 THEN 0 ELSE abs(x - y) / (abs(x) + abs(y)) END) AS canberra,
       sum(abs(x - y)) AS bc_num, sum(abs(x + y)) AS bc_den
FROM pairs, LATERAL (SELECT x::float8 AS x, y::float8 AS y FROM unnest(a, b) u(x, y)) u
GROUP BY i;
-- Pearson's r from the centred vectors
CREATE TEMP TABLE expect_corr AS
SELECT i, sum(x * y) AS xy, sum(x * x) AS xx, sum(y * y) AS yy
FROM (SELECT i, x - avg(x) OVER (PARTITION BY i) AS x, y - avg(y) OVER (PARTITION BY i) AS y
      FROM pairs, LATERAL (SELECT x::float8 AS x, y::float8 AS y FROM unnest(a, b) u(x, y)) u) c
GROUP BY i;

SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::vector </> p.b::vector) - e.canberra) > 1e-9 * (1 + e.canberra)), 0::bigint,
          '</> equals sum(|a-b| / (|a|+|b|)), 0/0 terms 0');
SELECT is((SELECT count(*) FROM pairs p JOIN expect e USING (i)
           WHERE abs((p.a::vector <|> p.b::vector) - e.bc_num / e.bc_den) > 1e-9), 0::bigint,
          '<|> equals sum|a-b| / sum|a+b|');
SELECT is((SELECT count(*) FROM pairs p JOIN expect_corr e USING (i)
           WHERE abs((p.a::vector <^> p.b::vector) -
                     CASE WHEN e.xx = 0 AND e.yy = 0 THEN 0
                          WHEN e.xx = 0 OR e.yy = 0 THEN 1
                          ELSE 1 - e.xy / sqrt(e.xx * e.yy) END) > 1e-9),
          0::bigint, '<^> equals 1 - Pearson''s r; 0 between constant vectors, 1 from one');
SELECT is((SELECT count(*) FROM pairs WHERE d = 1 AND a::vector <^> b::vector <> 0), 0::bigint,
          '<^> of two one-element (constant) vectors is 0');
SELECT is((SELECT count(*) FROM pairs
           WHERE canberra_distance(a::vector, b::vector) <> canberra_distance(b::vector, a::vector)
              OR bray_curtis_distance(a::vector, b::vector) <> bray_curtis_distance(b::vector, a::vector)
              OR correlation_distance(a::vector, b::vector) <> correlation_distance(b::vector, a::vector)),
          0::bigint, 'the three distances are symmetric');

-- metric or not: the triangle inequality over random triples (Canberra is
-- a metric), and counterexamples for the two that are not
CREATE TEMP TABLE triples AS
SELECT t, (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, 5 + 0 * t))::vector AS a,
          (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, 5 + 0 * t))::vector AS b,
          (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, 5 + 0 * t))::vector AS c
FROM generate_series(1, 3000) t;
SELECT is((SELECT count(*) FROM triples WHERE (a </> c) > (a </> b) + (b </> c) + 1e-12), 0::bigint,
          'Canberra: no triangle inequality fails on 3,000 random triples');
SELECT ok(('[1,0]'::vector <|> '[0,1]') > ('[1,0]'::vector <|> '[1,1]') + ('[1,1]'::vector <|> '[0,1]'),
          'Bray-Curtis is no metric: d([1,0],[0,1]) = 1 > d([1,0],[1,1]) + d([1,1],[0,1]) = 2/3');
SELECT ok(('[1,-1,0,0]'::vector <^> '[0,0,1,-1]') >
          ('[1,-1,0,0]'::vector <^> '[1,-1,1,-1]') + ('[1,-1,1,-1]'::vector <^> '[0,0,1,-1]'),
          'correlation distance is no metric: d([1,-1,0,0],[0,0,1,-1]) = 1 > 2 (1 - 1/sqrt(2)) via [1,-1,1,-1]');

-- recall@10 of each operator class against exact search, as the tests
-- count it (hnsw_test.recall, which fails unless the index answers), on
-- 2,000 random vectors of 16 non-negative elements (Bray-Curtis is meant
-- for those)
\ir ../helpers/recall.sql
SELECT setseed(0.5);
CREATE TEMP TABLE items AS
SELECT i AS id, (SELECT array_agg(random()::real) FROM generate_series(1, 16 + 0 * i))::vector(16) AS v
FROM generate_series(1, 2000) i;
CREATE TEMP TABLE queries AS
SELECT i AS id, (SELECT array_agg(random()::real) FROM generate_series(1, 16 + 0 * i))::vector(16) AS v
FROM generate_series(1, 30) i;

CREATE FUNCTION recall(opclass text, op text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE r numeric;
BEGIN
	EXECUTE format('CREATE INDEX items_idx ON items USING hnsw (v %s)', opclass);
	r := hnsw_test.recall('items', 'queries', op, 10);
	DROP INDEX items_idx;
	RETURN r;
END $$;

SELECT cmp_ok(recall('vector_canberra_ops', '</>'), '>=', 0.95,
	'vector_canberra_ops: recall@10 at default ef_search is at least 0.95');
SELECT cmp_ok(recall('vector_bray_curtis_ops', '<|>'), '>=', 0.95,
	'vector_bray_curtis_ops: recall@10 at default ef_search is at least 0.95');
SELECT cmp_ok(recall('vector_correlation_ops', '<^>'), '>=', 0.95,
	'vector_correlation_ops: recall@10 at default ef_search is at least 0.95');

SELECT * FROM finish();
ROLLBACK;
