-- metric names: every function that takes a metric reads it with the same
-- parser (src/metric.c), so each accepts a metric's name, its alias (as
-- pgvector's and Spark's users say it, Spark's hyphens included) and its
-- operator, and refuses anything else with the same error.  Each spelling
-- goes through each entry point here, and its answer is compared with the
-- operator's own ORDER BY.  A loopback server to a second database stands
-- for a shard.

-- error context would only show the functions' internals
\set SHOW_CONTEXT never

CREATE TABLE mn (id int, part int, embedding vector(3));
INSERT INTO mn
SELECT i, i % 2, ARRAY[2 + sin(i), 2 + cos(1.3 * i), 2 + sin(0.7 * i + 1)]::vector
  FROM generate_series(1, 30) i;

-- every spelling, with the operator it must mean
CREATE TABLE mn_spellings (n serial, spelling text, op text);
INSERT INTO mn_spellings (spelling, op) VALUES
	('l2', '<->'), ('L2', '<->'), ('euclidean', '<->'), ('<->', '<->'),
	('ip', '<#>'), ('IP', '<#>'), ('inner_product', '<#>'), ('inner-product', '<#>'),
	('<#>', '<#>'),
	('cosine', '<=>'), ('Cosine', '<=>'), ('<=>', '<=>'),
	('l1', '<+>'), ('manhattan', '<+>'), ('<+>', '<+>'),
	('canberra', '</>'), ('</>', '</>'),
	('bray_curtis', '<|>'), ('bray-curtis', '<|>'), ('<|>', '<|>'),
	('correlation', '<^>'), ('<^>', '<^>');

-- the ids of the 4 rows nearest to [1.5,2.5,3] by an operator: the
-- operators order them 7 different ways, with no near ties
CREATE FUNCTION mn_by_operator(op text) RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE
	ids int[];
BEGIN
	EXECUTE format('SELECT array_agg(id ORDER BY d) FROM '
				   '(SELECT id, embedding OPERATOR(public.%s) ''[1.5,2.5,3]'' AS d '
				   'FROM mn ORDER BY d LIMIT 4) s', op) INTO ids;
	RETURN ids;
END $$;
SELECT op, mn_by_operator(op)
  FROM (SELECT DISTINCT op FROM mn_spellings) s ORDER BY op;

-- an error's SQLSTATE and message, or 'no error'
CREATE FUNCTION mn_error(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- the parser, as the SQL functions call it
SELECT s.spelling, m.name, m.operator, m.operator = s.op AS as_expected
  FROM mn_spellings s, hnsw._metric(s.spelling) m ORDER BY s.n;
SELECT hnsw._metric('hamming');
SELECT hnsw._metric('');
SELECT hnsw._metric(NULL);
-- no blanks, no other punctuation; operators only as written
SELECT m, mn_error(format('SELECT hnsw._metric(%L)', m))
  FROM unnest(ARRAY[' l2', 'l2 ', 'inner product', 'inner__product', 'bray.curtis',
					'l2_', '<- >', '<=', 'vector_l2_ops', 'l2_distance']) m;

-- hnsw.exact_search
SELECT s.spelling, x.ids, x.ids = mn_by_operator(s.op) AS as_operator
  FROM mn_spellings s,
	   LATERAL (SELECT array_agg(e.id ORDER BY e.ord) AS ids
				  FROM hnsw.exact_search(NULL::mn, '[1.5,2.5,3]', 4, metric => s.spelling)
					   WITH ORDINALITY AS e(id, part, embedding, ord)) x
 ORDER BY s.n;
SELECT * FROM hnsw.exact_search(NULL::mn, '[1.5,2.5,3]', 4, metric => 'hamming');
SELECT * FROM hnsw.exact_search(NULL::mn, '[1.5,2.5,3]', 4, metric => NULL);

-- hnsw.exact_knn: the distances it has kernels for; the others are refused
SELECT s.spelling, x.keys, x.keys = mn_by_operator(s.op) AS as_operator
  FROM mn_spellings s,
	   LATERAL (SELECT array_agg(e.key::int ORDER BY e.rank) AS keys
				  FROM hnsw.exact_knn('mn', ARRAY['[1.5,2.5,3]']::vector[], 4,
									  metric => s.spelling, key => 'id') e) x
 WHERE s.op IN ('<->', '<#>', '<=>', '<+>')
 ORDER BY s.n;
SELECT s.spelling,
	   mn_error(format('SELECT * FROM hnsw.exact_knn(''mn'', ARRAY[''[1,1,1]'']::vector[], 4, metric => %L)',
					   s.spelling))
  FROM mn_spellings s WHERE s.op NOT IN ('<->', '<#>', '<=>', '<+>') ORDER BY s.n;
SELECT * FROM hnsw.exact_knn('mn', ARRAY['[1,1,1]']::vector[], 4, metric => 'canberra');
SELECT * FROM hnsw.exact_knn('mn', ARRAY['[1,1,1]']::vector[], 4, metric => 'hamming');

-- hnsw.evaluate_recall, with an index of each operator class: the exact
-- side of the Spark distances is searched query by query
CREATE INDEX ON mn USING hnsw (embedding vector_l2_ops);
CREATE INDEX ON mn USING hnsw (embedding vector_ip_ops);
CREATE INDEX ON mn USING hnsw (embedding vector_cosine_ops);
CREATE INDEX ON mn USING hnsw (embedding vector_l1_ops);
CREATE INDEX ON mn USING hnsw (embedding vector_canberra_ops);
CREATE INDEX ON mn USING hnsw (embedding vector_bray_curtis_ops);
CREATE INDEX ON mn USING hnsw (embedding vector_correlation_ops);
SELECT s.spelling, r.recall, r.exact_rows
  FROM mn_spellings s,
	   hnsw.evaluate_recall('mn', 'embedding', ARRAY['[1.5,2.5,3]', '[3,1,2]']::vector[], 4,
							metric => s.spelling, key => 'id') r
 ORDER BY s.n;
SELECT * FROM hnsw.evaluate_recall('mn', 'embedding', ARRAY['[1,1,1]']::vector[], 4, metric => 'hamming');

-- a distributed table on a shard in another database of this server
SET client_min_messages = warning;
DROP DATABASE IF EXISTS metric_names_shard;
RESET client_min_messages;
CREATE DATABASE metric_names_shard;
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
DO $$
BEGIN
	EXECUTE format('CREATE SERVER mn_shard FOREIGN DATA WRAPPER postgres_fdw '
				   'OPTIONS (host %L, port %L, dbname %L)',
				   split_part(current_setting('unix_socket_directories'), ',', 1),
				   current_setting('port'), 'metric_names_shard');
END
$$;
CREATE USER MAPPING FOR CURRENT_USER SERVER mn_shard;
SELECT hnsw._shard_exec('{mn_shard}', '{CREATE EXTENSION hnsw SCHEMA public}');

-- hnsw.create_distributed_table: the operator class of the shard's index
CREATE FUNCTION mn_distribute(spelling text, n int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	tbl text := 'mnd_' || n;
	opclass text;
BEGIN
	EXECUTE format('CREATE TABLE %I (id int, part int, embedding vector(3)) PARTITION BY LIST (part)', tbl);
	EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES IN (0, 1)', tbl || '_local', tbl);
	PERFORM hnsw.create_distributed_table(tbl::regclass, '{"mn_shard": [0, 1]}', metric => spelling);
	opclass := (hnsw._shard_exec('{mn_shard}', ARRAY[format(
		'SELECT o.opcname FROM pg_catalog.pg_index i '
		'JOIN pg_catalog.pg_opclass o ON o.oid = i.indclass[0] '
		'WHERE i.indrelid = %L::pg_catalog.regclass', 'public.' || tbl)]))[1];
	PERFORM hnsw._shard_exec('{mn_shard}', ARRAY[format('DROP TABLE public.%I', tbl)]);
	EXECUTE format('DROP TABLE %I', tbl);
	RETURN opclass;
END $$;
SELECT s.spelling, mn_distribute(s.spelling, s.n) AS opclass
  FROM mn_spellings s ORDER BY s.n;
CREATE TABLE mnd (id int, part int, embedding vector(3)) PARTITION BY LIST (part);
CREATE TABLE mnd_local PARTITION OF mnd FOR VALUES IN (0, 1);
INSERT INTO mnd SELECT * FROM mn;
SELECT hnsw.create_distributed_table('mnd', '{"mn_shard": [0, 1]}', metric => 'hamming');
SELECT hnsw.create_distributed_table('mnd', '{"mn_shard": [0, 1]}', metric => NULL);
SELECT hnsw.create_distributed_table('mnd', '{"mn_shard": [0, 1]}', metric => 'correlation');

-- hnsw.search and hnsw.search_batch
SELECT s.spelling, x.ids, x.ids = mn_by_operator(s.op) AS as_operator
  FROM mn_spellings s,
	   LATERAL (SELECT array_agg(r.id ORDER BY r.ord) AS ids
				  FROM hnsw.search(NULL::mnd, '[1.5,2.5,3]', 4, metric => s.spelling)
					   WITH ORDINALITY AS r(id, part, embedding, ord)) x
 ORDER BY s.n;
SELECT s.spelling, x.ids, x.ids = mn_by_operator(s.op) AS as_operator
  FROM mn_spellings s,
	   LATERAL (SELECT array_agg((r.item).id ORDER BY r.ord) AS ids
				  FROM hnsw.search_batch(NULL::mnd, ARRAY['[1.5,2.5,3]']::vector[], 4,
										 metric => s.spelling)
					   WITH ORDINALITY AS r(query, item, ord)) x
 ORDER BY s.n;
-- a null metric is the default, l2, as for the searches' other arguments
SELECT array_agg(r.id ORDER BY r.ord) = mn_by_operator('<->') AS as_l2
  FROM hnsw.search(NULL::mnd, '[1.5,2.5,3]', 4, metric => NULL)
	   WITH ORDINALITY AS r(id, part, embedding, ord);
SELECT * FROM hnsw.search(NULL::mnd, '[1.5,2.5,3]', 4, metric => 'hamming');
SELECT * FROM hnsw.search_batch(NULL::mnd, ARRAY['[1.5,2.5,3]']::vector[], 4, metric => 'hamming');

-- hnsw.evaluate_recall of a distributed table (it calls hnsw.search)
SELECT s.spelling, r.recall, r.exact_rows
  FROM mn_spellings s,
	   hnsw.evaluate_recall('mnd', 'embedding', ARRAY['[1.5,2.5,3]']::vector[], 4,
							metric => s.spelling, key => 'id') r
 WHERE s.spelling IN ('euclidean', 'inner-product', '<^>')
 ORDER BY s.n;

DROP TABLE mn, mnd, mn_spellings;
DROP FUNCTION mn_by_operator(text), mn_error(text), mn_distribute(text, int);
DROP USER MAPPING FOR CURRENT_USER SERVER mn_shard;
DROP SERVER mn_shard;
DROP DATABASE metric_names_shard WITH (FORCE);
