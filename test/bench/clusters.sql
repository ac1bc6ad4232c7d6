-- Recall per cluster of HNSW builds on well-separated clusters, where a
-- descent that strays loses a whole cluster's queries (src/README
-- "Descent"; test/bench/HISTORY.md, 2026-12-07).  The same SQL for hnsw and
-- pgvector, in a database of its own:
--
--   psql -v ext=hnsw -v builds=6 -f test/bench/clusters.sql
--   psql -v ext=vector -v builds=6 -f test/bench/clusters.sql
--
-- 100,000 rows of 96 dimensions around ten centres (N(0, 1) coordinates,
-- N(0, 0.3^2) noise), 300 queries from the same distribution, the data
-- seeded; each build draws its own levels.  Prints, per build, recall@10
-- at ef_search 20 / 40 / 80 / 160 and the lowest recall of a cluster at 80.
CREATE EXTENSION :ext;
SELECT setseed(0.42);
CREATE TABLE ctr AS
SELECT c, array_agg(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
					ORDER BY d)::float8[] AS v
FROM generate_series(0, 9) c, generate_series(1, 96) d GROUP BY c;
CREATE TABLE base (id int, embedding vector(96));
INSERT INTO base
SELECT i, (SELECT array_agg(ctr.v[d] + 0.3 * sqrt(-2 * ln(1 - random())) *
							cos(2 * pi() * random()) + 0 * i ORDER BY d)
		   FROM generate_series(1, 96) d)::real[]::vector
FROM generate_series(1, 100300) i JOIN ctr ON ctr.c = (i * 7919) % 10;
CREATE TABLE qs AS SELECT id - 100000 AS qid, (id * 7919) % 10 AS cluster,
	embedding AS v FROM base WHERE id > 100000;
DELETE FROM base WHERE id > 100000;
SET jit = off;
CREATE TABLE gt AS SELECT q.qid,
	ARRAY(SELECT b.id FROM base b ORDER BY b.embedding <-> q.v LIMIT 10) AS ids
FROM qs q;

CREATE FUNCTION recall_by_cluster(ef int) RETURNS TABLE (cluster int, recall float8)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('hnsw.ef_search', ef::text, true);
	PERFORM set_config('enable_seqscan', 'off', true);
	RETURN QUERY
	SELECT q.cluster, avg((SELECT count(*) FROM unnest(g.ids) x
						   WHERE x = ANY (r.ids)) / 10.0)::float8
	FROM qs q JOIN gt g USING (qid),
		 LATERAL (SELECT ARRAY(SELECT b.id FROM base b
							   ORDER BY b.embedding <-> q.v LIMIT 10) AS ids) r
	GROUP BY q.cluster;
END $$;

CREATE FUNCTION bench_builds(n int)
RETURNS TABLE (build int, recall_20 numeric, recall_40 numeric,
			   recall_80 numeric, recall_160 numeric, worst_cluster_80 numeric)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('max_parallel_maintenance_workers', '0', true);
	FOR b IN 1..n LOOP
		DROP INDEX IF EXISTS base_embedding_idx;
		CREATE INDEX base_embedding_idx ON base USING hnsw (embedding vector_l2_ops);
		build := b;
		SELECT round(avg(recall)::numeric, 4) INTO recall_20 FROM recall_by_cluster(20);
		SELECT round(avg(recall)::numeric, 4) INTO recall_40 FROM recall_by_cluster(40);
		SELECT round(avg(recall)::numeric, 4), round(min(recall)::numeric, 2)
		INTO recall_80, worst_cluster_80 FROM recall_by_cluster(80);
		SELECT round(avg(recall)::numeric, 4) INTO recall_160 FROM recall_by_cluster(160);
		RETURN NEXT;
	END LOOP;
END $$;

SELECT * FROM bench_builds(:builds);
