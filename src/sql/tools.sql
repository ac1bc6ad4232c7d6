-- Know your index: exact search and recall evaluation in SQL.
-- The last part of sql/hnsw--<version>.sql; see the Makefile.

-- Resolve the vector column of a table: the named one, or the only one.
CREATE FUNCTION hnsw._vector_column(rel regclass, column_name name)
RETURNS name LANGUAGE plpgsql STABLE AS $$
DECLARE
	cols name[];
BEGIN
	IF column_name IS NOT NULL THEN
		PERFORM 1 FROM pg_attribute
		 WHERE attrelid = rel AND attname = column_name AND attnum > 0 AND NOT attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'column "%" of relation % does not exist', column_name, rel
				USING ERRCODE = 'undefined_column';
		END IF;
		RETURN column_name;
	END IF;
	SELECT array_agg(attname ORDER BY attnum) INTO cols FROM pg_attribute
	 WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped
	   AND atttypid = 'vector'::regtype;
	IF cols IS NULL THEN
		RAISE EXCEPTION 'relation % has no vector column', rel
			USING ERRCODE = 'undefined_column';
	ELSIF cardinality(cols) > 1 THEN
		RAISE EXCEPTION 'relation % has more than one vector column', rel
			USING ERRCODE = 'ambiguous_column',
				  HINT = 'Name the column with column_name => ...';
	END IF;
	RETURN cols[1];
END $$;

-- The distance operator of a metric name.
CREATE FUNCTION hnsw._distance_operator(metric text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN CASE lower(metric)
		WHEN 'l2' THEN '<->'
		WHEN 'ip' THEN '<#>'
		WHEN 'cosine' THEN '<=>'
		WHEN 'l1' THEN '<+>'
		ELSE hnsw._bad_metric(metric) END;
END $$;

CREATE FUNCTION hnsw._bad_metric(metric text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RAISE EXCEPTION 'unrecognized metric "%"', metric
		USING ERRCODE = 'invalid_parameter_value',
			  HINT = 'Valid metrics are "l2", "ip", "cosine" and "l1".';
END $$;

-- The table behind a row-typed argument (the NULL::items idiom).
CREATE FUNCTION hnsw._row_relation(rowtype regtype)
RETURNS regclass LANGUAGE plpgsql STABLE AS $$
DECLARE
	rel regclass;
BEGIN
	SELECT c.oid INTO rel FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid
	 WHERE t.oid = rowtype AND c.relkind IN ('r', 'p', 'f', 'm');
	IF rel IS NULL THEN
		RAISE EXCEPTION 'first argument must be a row of a table, like NULL::items, not %', rowtype
			USING ERRCODE = 'wrong_object_type';
	END IF;
	RETURN rel;
END $$;

CREATE FUNCTION hnsw._check_k(k integer)
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF k IS NULL OR k < 1 THEN
		RAISE EXCEPTION 'k must be a positive integer, not %', coalesce(k::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END $$;

-- Exact k nearest neighbours by sequential scan: never an approximate index.
CREATE FUNCTION hnsw.exact_search(rel anyelement, query vector, k integer,
								  column_name name DEFAULT NULL, metric text DEFAULT 'l2')
RETURNS SETOF anyelement LANGUAGE plpgsql STABLE
SET enable_indexscan = off SET enable_bitmapscan = off AS $$
DECLARE
	tbl regclass := hnsw._row_relation(pg_typeof(rel));
	col name := hnsw._vector_column(tbl, column_name);
BEGIN
	PERFORM hnsw._check_k(k);
	RETURN QUERY EXECUTE format('SELECT * FROM %s ORDER BY %I %s $1 LIMIT $2',
								tbl, col, hnsw._distance_operator(metric))
		USING query, k;
END $$;
COMMENT ON FUNCTION hnsw.exact_search(anyelement, vector, integer, name, text) IS
	'the exact k nearest rows of a table (sequential scan, never an approximate index)';

-- Recall@k of approximate (index) search against exact search, per query.
CREATE FUNCTION hnsw.evaluate_recall_detail(rel regclass, column_name name, queries vector[],
											k integer, ef_search integer DEFAULT NULL,
											metric text DEFAULT 'l2', key name DEFAULT NULL)
RETURNS TABLE (query_no integer, exact_rows integer, found_rows integer, recall double precision)
LANGUAGE plpgsql VOLATILE
SET enable_indexscan FROM CURRENT SET enable_seqscan FROM CURRENT
SET enable_bitmapscan FROM CURRENT AS $$
DECLARE
	col name := hnsw._vector_column(rel, column_name);
	keyexpr text := CASE WHEN key IS NULL THEN 'ctid::text' ELSE format('%I::text', key) END;
	sql text;
	approx text[];
	exact text[];
	n integer := coalesce(cardinality(queries), 0);
	last_notice timestamptz := clock_timestamp();
	old_ef text := current_setting('hnsw.ef_search', true);
	-- a partitioned table with foreign partitions is searched through the
	-- coordinator: hnsw.search against hnsw.search(exact => true)
	distributed boolean := EXISTS (SELECT 1 FROM pg_inherits inh
									 JOIN pg_class c ON c.oid = inh.inhrelid
									WHERE inh.inhparent = rel AND c.relkind = 'f');
	exact_sql text;
BEGIN
	PERFORM hnsw._check_k(k);
	IF key IS NOT NULL THEN
		PERFORM hnsw._vector_column(rel, key);	-- checks the key column exists
	END IF;
	IF distributed THEN
		IF key IS NULL THEN
			RAISE EXCEPTION 'recall of distributed table % needs a key column', rel
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Name a column that identifies a row, like key => ''id''.';
		END IF;
		sql := format('SELECT array_agg(s.%I::text) FROM hnsw.search(NULL::%s, $1, $2, ef_search => $3, metric => $4, column_name => $5) s',
					  key, rel);
		exact_sql := format('SELECT array_agg(s.%I::text) FROM hnsw.search(NULL::%s, $1, $2, exact => true, metric => $4, column_name => $5) s',
							key, rel);
	ELSE
		IF NOT EXISTS (SELECT 1 FROM pg_index i
						 JOIN pg_class c ON c.oid = i.indexrelid
						 JOIN pg_am a ON a.oid = c.relam
						 JOIN pg_attribute att ON att.attrelid = i.indrelid AND att.attname = col
						WHERE i.indrelid = rel AND a.amname = 'hnsw'
						  AND att.attnum = ANY (i.indkey::int2[])) THEN
			RAISE WARNING 'relation % has no hnsw index on column "%"', rel, col
				USING DETAIL = 'The approximate search is an exact search, so recall is 1.';
		END IF;
		-- one query, run with and without index scans
		sql := format('SELECT array_agg(k) FROM (SELECT %s AS k FROM %s ORDER BY %I %s $1 LIMIT $2) s',
					  keyexpr, rel, col, hnsw._distance_operator(metric));
		exact_sql := sql;
		IF ef_search IS NOT NULL THEN
			PERFORM set_config('hnsw.ef_search', ef_search::text, true);
		END IF;
	END IF;

	FOR i IN 1 .. n LOOP
		IF NOT distributed THEN
			-- approximate: let the planner use the index
			PERFORM set_config('enable_indexscan', 'on', true);
			PERFORM set_config('enable_seqscan', 'off', true);
		END IF;
		EXECUTE sql INTO approx USING queries[i], k, ef_search, metric, col;
		IF NOT distributed THEN
			-- exact: no index
			PERFORM set_config('enable_indexscan', 'off', true);
			PERFORM set_config('enable_bitmapscan', 'off', true);
			PERFORM set_config('enable_seqscan', 'on', true);
		END IF;
		EXECUTE exact_sql INTO exact USING queries[i], k, ef_search, metric, col;

		query_no := i;
		exact_rows := coalesce(cardinality(exact), 0);
		found_rows := (SELECT count(*) FROM (SELECT unnest(exact) INTERSECT SELECT unnest(approx)) s);
		recall := CASE WHEN exact_rows = 0 THEN 1.0 ELSE found_rows::float8 / exact_rows END;
		RETURN NEXT;

		IF clock_timestamp() - last_notice > interval '10 seconds' THEN
			RAISE NOTICE 'evaluated % of % queries', i, n;
			last_notice := clock_timestamp();
		END IF;
	END LOOP;

	IF NOT distributed AND ef_search IS NOT NULL AND old_ef IS NOT NULL THEN
		PERFORM set_config('hnsw.ef_search', old_ef, true);
	END IF;
END $$;
COMMENT ON FUNCTION hnsw.evaluate_recall_detail(regclass, name, vector[], integer, integer, text, name) IS
	'per-query recall@k of the approximate (index) search against exact search';

-- Recall@k over all queries, as Spark's KnnSimilarityEvaluator defines it:
-- sum of |exact ∩ approximate| over sum of |exact| (1 when nothing is exact).
CREATE FUNCTION hnsw.evaluate_recall(rel regclass, column_name name, queries vector[],
									 k integer, ef_search integer DEFAULT NULL,
									 metric text DEFAULT 'l2', key name DEFAULT NULL)
RETURNS TABLE (recall double precision, queries integer, exact_rows bigint, found_rows bigint)
LANGUAGE sql VOLATILE AS $$
	SELECT CASE WHEN sum(d.exact_rows) > 0 THEN sum(d.found_rows)::float8 / sum(d.exact_rows) ELSE 1.0 END,
		   count(*)::integer, coalesce(sum(d.exact_rows), 0), coalesce(sum(d.found_rows), 0)
	  FROM hnsw.evaluate_recall_detail(rel, column_name, queries, k, ef_search, metric, key) d
$$;
COMMENT ON FUNCTION hnsw.evaluate_recall(regclass, name, vector[], integer, integer, text, name) IS
	'recall@k of the approximate (index) search against exact search, over many queries';
