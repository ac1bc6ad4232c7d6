-- Canberra, Bray-Curtis and correlation distances for vector (hnswlib's,
-- for Spark users), their operators and hnsw operator classes, and every
-- error with its SQLSTATE (echoed after it).

-- Canberra: sum |a-b| / (|a|+|b|), a 0/0 term counting 0
SELECT canberra_distance('[1,2,3]', '[1,2,3]');
SELECT canberra_distance('[1,0,0]', '[0,1,0]');
SELECT canberra_distance('[1,2,0]', '[3,2,0]');
SELECT canberra_distance('[-1,2]', '[1,-2]');
SELECT canberra_distance('[0,0]', '[0,0]');
SELECT '[1,2,0]'::vector </> '[3,2,0]';
SELECT canberra_distance('[1,2]', '[1,2,3]');
\echo :SQLSTATE

-- Bray-Curtis: sum |a-b| / sum |a+b|; 0 for two zero vectors, Infinity
-- when b = -a is not zero
SELECT bray_curtis_distance('[1,2,3]', '[1,2,3]');
SELECT bray_curtis_distance('[1,0]', '[0,1]');
SELECT bray_curtis_distance('[2,1,0]', '[1,1,1]');
SELECT bray_curtis_distance('[0,0]', '[0,0]');
SELECT bray_curtis_distance('[1,-2]', '[-1,2]');
SELECT bray_curtis_distance('[1,-2]', '[-1,3]');
SELECT '[2,1,0]'::vector <|> '[1,1,1]';
SELECT bray_curtis_distance('[1,2]', '[1,2,3]');
\echo :SQLSTATE

-- correlation: 1 - Pearson's r, each vector centred on its own mean
-- ([1,2,3] and [11,12,13] correlate perfectly; hnswlib, which sums the
-- squares of the second less the first one's mean, says 0.919); a constant
-- vector is at 0 from a constant one, 1 from others
SELECT correlation_distance('[1,2,3]', '[11,12,13]');
SELECT correlation_distance('[1,2,3]', '[3,2,1]');
SELECT correlation_distance('[1,2,3,4]', '[1,3,2,4]');
SELECT correlation_distance('[1,0,1,0]', '[0,0,1,1]');
SELECT correlation_distance('[5,5,5]', '[0.1,0.1,0.1]');
SELECT correlation_distance('[5,5,5]', '[1,2,3]');
SELECT correlation_distance('[1,2,3]', '[0,0,0]');
SELECT correlation_distance('[7]', '[3]');
SELECT '[1,2,3,4]'::vector <^> '[1,3,2,4]';
SELECT correlation_distance('[1,2]', '[1,2,3]');
\echo :SQLSTATE

-- the operators commute
SELECT '[1,2]'::vector </> '[3,5]' = '[3,5]'::vector </> '[1,2]' AS canberra,
	'[1,2]'::vector <|> '[3,5]' = '[3,5]'::vector <|> '[1,2]' AS bray_curtis,
	'[1,2,4]'::vector <^> '[3,5,4]' = '[3,5,4]'::vector <^> '[1,2,4]' AS correlation;

-- hnsw operator classes: amvalidate accepts them, and the index orders by
-- the operator of its class only
SELECT opcname, amvalidate(oid) FROM pg_opclass
	WHERE opcname IN ('vector_canberra_ops', 'vector_bray_curtis_ops', 'vector_correlation_ops')
	ORDER BY opcname;
CREATE TABLE sd_items (id int, v vector(3));
INSERT INTO sd_items SELECT i, ARRAY[i % 7 + 1, i % 11 + 1, i % 13 + 1] FROM generate_series(1, 300) i;
CREATE INDEX sd_canberra ON sd_items USING hnsw (v vector_canberra_ops);
CREATE INDEX sd_bray_curtis ON sd_items USING hnsw (v vector_bray_curtis_ops);
CREATE INDEX sd_correlation ON sd_items USING hnsw (v vector_correlation_ops);
ANALYZE sd_items;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM sd_items ORDER BY v </> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM sd_items ORDER BY v <|> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM sd_items ORDER BY v <^> '[1,2,3]' LIMIT 5;
-- a stored vector is its own nearest neighbour, at distance 0
SELECT v </> '[5,4,13]' AS canberra FROM sd_items ORDER BY v </> '[5,4,13]' LIMIT 1;
SELECT v <|> '[5,4,13]' AS bray_curtis FROM sd_items ORDER BY v <|> '[5,4,13]' LIMIT 1;
SELECT v <^> '[5,4,13]' AS correlation FROM sd_items ORDER BY v <^> '[5,4,13]' LIMIT 1;
-- results come in distance order
SELECT bool_and(d >= prev) AS ordered FROM (
	SELECT d, lag(d, 1, 0::float8) OVER (ORDER BY n) AS prev FROM (
		SELECT row_number() OVER () AS n, v </> '[2,6,9]' AS d
		FROM (SELECT v FROM sd_items ORDER BY v </> '[2,6,9]' LIMIT 50) s) t) u;
RESET enable_seqscan;
-- the graph computes these distances itself: no quantized codes
CREATE INDEX ON sd_items USING hnsw (v vector_canberra_ops) WITH (quantization = 'f16');
\echo :SQLSTATE
DROP TABLE sd_items;
