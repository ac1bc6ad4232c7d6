-- The tests' own measurement of recall@k, shared by the TAP tests
-- (test/perl/HnswAmTest.pm runs this file in the database before it
-- measures) and the pgTAP tests (\ir ../helpers/recall.sql).  It is the one
-- computation of recall in the test suites, independent of the product's
-- hnsw.evaluate_recall, which the tests compare against it.
--
-- For every query: the exact k nearest rows by a sequential scan with index
-- scans and bitmap scans disabled; the approximate k nearest by an index
-- scan of an hnsw index of the table (checked in the plan, or an error) or
-- by the search the caller names; both are sets of keys.  A row the
-- approximate search returns counts as found when its key is among the
-- exact ones, or when its distance is no larger than the k-th exact
-- distance: rows tied at the k-th distance are equally exact, whichever one
-- a search returns.  Distances are computed from the rows' own vectors with
-- the operator, on both sides.  recall = sum(found) / sum(exact), 1 when no
-- query has an exact row.  The caller's settings (hnsw.ef_search, ...) are
-- those of the approximate search; enable_* are restored on return.
--
-- Arguments: tab, the table; queries, a query whose first two columns are a
-- query's id and its vector (of the column's type), or the name of a table
-- with columns id and col; op, the distance operator; k; col, the vector
-- column; key, the column that identifies a row; search, instead of the
-- index scan, a query returning (key, vector) rows, where %1$s stands for
-- the query vector and %2$s for k, e.g.
-- 'SELECT id, embedding FROM hnsw.search(NULL::docs, %1$s, %2$s)'.
-- Not for hot standbys: it keeps the queries in a temporary table.

DO $$
BEGIN
	IF to_regnamespace('hnsw_test') IS NULL THEN
		CREATE SCHEMA hnsw_test;
	END IF;
END $$;

-- Per query: its position among the queries, its id, the exact rows (k, or
-- fewer in a smaller table) and the approximate rows found.
CREATE OR REPLACE FUNCTION hnsw_test.recall_detail(tab regclass, queries text, op text,
	k integer, col name DEFAULT 'v', key name DEFAULT 'id', search text DEFAULT NULL)
RETURNS TABLE (query_no integer, query_id text, exact_rows integer, found_rows integer)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = on SET enable_indexscan = on SET enable_bitmapscan = on
SET jit = off	-- disabled plans cost enough to be compiled: 0.3 s for nothing
AS $fn$
DECLARE
	qsql text := CASE WHEN queries ~* '^\s*(SELECT|WITH|VALUES|TABLE)\s'
					  THEN queries
					  ELSE format('SELECT id, %I FROM %s', col, queries::regclass) END;
	exact_sql text;
	approx_sql text;
	plan text := '';
	line text;
	used text;
	e_no integer[]; e_key text[]; e_dist float8[];
	a_no integer[]; a_key text[]; a_dist float8[];
BEGIN
	IF to_regclass('pg_temp.hnsw_test_queries') IS NOT NULL THEN
		DROP TABLE pg_temp.hnsw_test_queries;	-- left by a call that failed
	END IF;
	EXECUTE format('CREATE TEMP TABLE hnsw_test_queries AS
					SELECT (row_number() OVER ())::integer AS no, q.id::text AS id, q.qv
					  FROM (%s) q(id, qv)', qsql);

	-- exact: a sequential scan, sorted by the distance
	exact_sql := format('SELECT array_agg(q.no), array_agg(x.key), array_agg(x.d)
						   FROM hnsw_test_queries q,
								LATERAL (SELECT t.%1$I::text AS key, t.%2$I %3$s q.qv AS d
										   FROM %4$s t ORDER BY 2 LIMIT %5$s) x',
						key, col, op, tab, k);
	PERFORM set_config('enable_indexscan', 'off', true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	EXECUTE exact_sql INTO e_no, e_key, e_dist;

	-- approximate: an index scan, or the caller's search
	IF search IS NULL THEN
		approx_sql := format('SELECT array_agg(q.no), array_agg(x.key), array_agg(x.x %3$s q.qv)
								FROM hnsw_test_queries q,
									 LATERAL (SELECT t.%1$I::text, t.%2$I FROM %4$s t
											   ORDER BY t.%2$I %3$s q.qv LIMIT %5$s) x(key, x)',
							 key, col, op, tab, k);
		PERFORM set_config('enable_indexscan', 'on', true);
		PERFORM set_config('enable_seqscan', 'off', true);
		FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || approx_sql LOOP
			plan := plan || line || E'\n';
		END LOOP;
		used := (regexp_match(plan, 'Index Scan using (\S+) on'))[1];
		IF used IS NULL OR NOT EXISTS (
				SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
				  JOIN pg_am a ON a.oid = c.relam
				 WHERE i.indrelid = tab AND c.relname = used AND a.amname = 'hnsw') THEN
			RAISE EXCEPTION 'the approximate search of % uses no hnsw index of it', tab
				USING DETAIL = plan;
		END IF;
	ELSE
		PERFORM set_config('enable_indexscan', 'on', true);
		PERFORM set_config('enable_bitmapscan', 'on', true);
		approx_sql := format('SELECT array_agg(q.no), array_agg(x.key::text), array_agg(x.x %1$s q.qv)
								FROM hnsw_test_queries q, LATERAL (%2$s) x(key, x)',
							 op, format(search, 'q.qv', k));
	END IF;
	EXECUTE approx_sql INTO a_no, a_key, a_dist;

	RETURN QUERY
	WITH e AS (SELECT * FROM unnest(e_no, e_key, e_dist) e(no, key, d)),
		 a AS (SELECT * FROM unnest(a_no, a_key, a_dist) a(no, key, d)),
		 kth AS (SELECT e.no, count(*) AS n, max(e.d) AS d FROM e GROUP BY e.no)
	SELECT q.no, q.id, coalesce(kth.n, 0)::integer,
		   least(coalesce(kth.n, 0),
				 (SELECT count(*) FROM a
				   WHERE a.no = q.no
					 AND (a.key IN (SELECT e.key FROM e WHERE e.no = q.no) OR a.d <= kth.d)))::integer
	  FROM hnsw_test_queries q LEFT JOIN kth ON kth.no = q.no
	 ORDER BY q.no;
	DROP TABLE hnsw_test_queries;
END $fn$;

-- recall@k over all the queries.
CREATE OR REPLACE FUNCTION hnsw_test.recall(tab regclass, queries text, op text,
	k integer, col name DEFAULT 'v', key name DEFAULT 'id', search text DEFAULT NULL)
RETURNS float8 LANGUAGE sql VOLATILE AS $fn$
	SELECT CASE WHEN sum(d.exact_rows) > 0
				THEN sum(d.found_rows)::float8 / sum(d.exact_rows) ELSE 1 END
	  FROM hnsw_test.recall_detail(tab, queries, op, k, col, key, search) d
$fn$;
