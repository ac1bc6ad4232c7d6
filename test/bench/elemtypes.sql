-- Tables and functions of test/bench/elemtypes_run, the same SQL for hnsw
-- and pgvector (psql variables: ext, the extension; work, the directory of
-- base.tsv and queries.tsv).
CREATE EXTENSION :ext;
\set base_file :work '/base.tsv'
\set queries_file :work '/queries.tsv'
CREATE TABLE fm (id int PRIMARY KEY, v vector(784));
COPY fm FROM :'base_file';
CREATE TABLE fq (id int PRIMARY KEY, v vector(784));
COPY fq FROM :'queries_file';
ALTER TABLE fm ADD COLUMN h halfvec(784), ADD COLUMN b bit(784);
UPDATE fm SET h = v::halfvec(784), b = binary_quantize(v)::bit(784);
VACUUM ANALYZE fm;

-- the exact top 10 of each query, by halfvec and by vector L2
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SET jit = off;
CREATE TABLE gt AS SELECT q.id AS qid,
	ARRAY(SELECT id FROM fm ORDER BY h <-> q.v::halfvec(784) LIMIT 10) AS h10,
	ARRAY(SELECT id FROM fm ORDER BY v <-> q.v LIMIT 10) AS v10
FROM fq q;

-- build both indexes, serially; their build times in seconds and sizes
CREATE FUNCTION bench_build() RETURNS TABLE (opclass text, seconds float8, pages bigint)
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
BEGIN
	PERFORM set_config('max_parallel_maintenance_workers', '0', true);
	PERFORM set_config('maintenance_work_mem', '1GB', true);
	t0 := clock_timestamp();
	CREATE INDEX fm_h ON fm USING hnsw (h halfvec_l2_ops);
	opclass := 'halfvec_l2_ops'; seconds := extract(epoch FROM clock_timestamp() - t0);
	pages := pg_relation_size('fm_h') / 8192;
	RETURN NEXT;
	t0 := clock_timestamp();
	CREATE INDEX fm_b ON fm USING hnsw (b bit_hamming_ops);
	opclass := 'bit_hamming_ops'; seconds := extract(epoch FROM clock_timestamp() - t0);
	pages := pg_relation_size('fm_b') / 8192;
	RETURN NEXT;
END $$;

-- recall@10 and queries per second of every query, ef_search and number of
-- re-ranked candidates
CREATE FUNCTION bench_search() RETURNS TABLE (query text, ef int, cand int, recall float8, qps float8)
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	found int;
	r int[];
	g record;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('jit', 'off', true);
	FOREACH ef IN ARRAY ARRAY[10, 20, 40, 100] LOOP
		PERFORM set_config('hnsw.ef_search', ef::text, true);
		found := 0;
		t0 := clock_timestamp();
		FOR g IN SELECT gt.h10, fq.v::halfvec(784) AS q FROM gt JOIN fq ON fq.id = gt.qid LOOP
			r := ARRAY(SELECT id FROM fm ORDER BY h <-> g.q LIMIT 10);
			found := found + (SELECT count(*) FROM unnest(r) x WHERE x = ANY (g.h10));
		END LOOP;
		query := 'halfvec <->'; cand := NULL;
		recall := found / 2000.0;
		qps := 200 / extract(epoch FROM clock_timestamp() - t0);
		RETURN NEXT;
	END LOOP;
	FOREACH cand IN ARRAY ARRAY[40, 100, 400] LOOP
		ef := cand;
		PERFORM set_config('hnsw.ef_search', ef::text, true);
		found := 0;
		t0 := clock_timestamp();
		FOR g IN SELECT gt.v10, fq.v AS q FROM gt JOIN fq ON fq.id = gt.qid LOOP
			r := ARRAY(SELECT id FROM (SELECT id, v FROM fm
					ORDER BY b <~> binary_quantize(g.q)::bit(784) LIMIT cand) s
				ORDER BY v <-> g.q LIMIT 10);
			found := found + (SELECT count(*) FROM unnest(r) x WHERE x = ANY (g.v10));
		END LOOP;
		query := 'bit <~>, re-ranked';
		recall := found / 2000.0;
		qps := 200 / extract(epoch FROM clock_timestamp() - t0);
		RETURN NEXT;
	END LOOP;
END $$;
