-- Know your index: exact search and recall evaluation in SQL.
-- The last part of sql/hnsw--<version>.sql; see the Makefile.
--
-- Every function here runs with search_path = pg_catalog, pg_temp, so that
-- no schema of the caller's can supply an operator, function or type that
-- shadows the one meant (a trojan "<->" for a privileged caller): the
-- extension's type and operators are named with their schema, @extschema@
-- (the extension is not relocatable, so that stays true), and the tables
-- the caller names are regclass values, written out qualified.  They read
-- tables as the caller (SECURITY INVOKER), with the caller's privileges and
-- row-level security; hnsw._exact_knn, which reads pages itself, checks
-- them as a query would (src/coordacl.c).

-- Check that a table has a column of that name; return its type.
CREATE FUNCTION hnsw._column_type(rel regclass, column_name name)
RETURNS regtype LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	typ regtype;
BEGIN
	SELECT atttypid INTO typ FROM pg_attribute
	 WHERE attrelid = rel AND attname = column_name AND attnum > 0 AND NOT attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', column_name, rel
			USING ERRCODE = 'undefined_column';
	END IF;
	RETURN typ;
END $$;

-- Resolve the column of type typ (vector, halfvec or sparsevec) of a
-- table: the named one, or the only one.  typ NULL (a vector query, which
-- converts to the others): the vector column if the table has vector
-- columns, else its halfvec or sparsevec column (as hnsw.search does,
-- src/coordsearch.c).
CREATE FUNCTION hnsw._vector_column(rel regclass, column_name name,
									typ regtype DEFAULT '@extschema@.vector')
RETURNS name LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	cols name[];
	types regtype[] := ARRAY[typ];
	typname text := (SELECT t.typname FROM pg_type t WHERE t.oid = typ);
BEGIN
	IF typ IS NULL THEN
		types := ARRAY['@extschema@.vector', '@extschema@.halfvec', '@extschema@.sparsevec']::regtype[];
		typname := 'vector, halfvec or sparsevec';
		IF column_name IS NULL AND EXISTS (
			SELECT FROM pg_attribute WHERE attrelid = rel AND attnum > 0
			   AND NOT attisdropped AND atttypid = '@extschema@.vector'::regtype) THEN
			types := ARRAY['@extschema@.vector']::regtype[];
			typname := 'vector';
		END IF;
	END IF;
	IF column_name IS NOT NULL THEN
		IF hnsw._column_type(rel, column_name) <> ALL (types) THEN
			RAISE EXCEPTION 'column "%" of relation % is not of type %', column_name, rel, typname
				USING ERRCODE = 'datatype_mismatch';
		END IF;
		RETURN column_name;
	END IF;
	SELECT array_agg(attname ORDER BY attnum) INTO cols FROM pg_attribute
	 WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped AND atttypid = ANY (types);
	IF cols IS NULL THEN
		RAISE EXCEPTION 'relation % has no % column', rel, typname
			USING ERRCODE = 'undefined_column';
	ELSIF cardinality(cols) > 1 THEN
		RAISE EXCEPTION 'relation % has more than one % column', rel, typname
			USING ERRCODE = 'ambiguous_column',
				  HINT = 'Name the column with column_name => ...';
	END IF;
	RETURN cols[1];
END $$;

-- The element type of an array of queries
CREATE FUNCTION hnsw._element_type(queries anyarray)
RETURNS regtype LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT typelem::regtype FROM pg_type WHERE oid = pg_typeof(queries)
$$;

-- The metric a metric argument names (src/metric.c, the one parser of
-- metric names, which the C functions call too): its name, as in its
-- operator class vector_<name>_ops, and its operator.
CREATE FUNCTION hnsw._metric(metric text, OUT name text, OUT operator text)
RETURNS record
AS 'MODULE_PATHNAME', 'hnsw_metric' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The distance operator of a metric, qualified by its schema.
CREATE FUNCTION hnsw._distance_operator(metric text)
RETURNS text LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT format('OPERATOR(@extschema@.%s)', (hnsw._metric(metric)).operator)
$$;

-- The table behind a row-typed argument (the NULL::items idiom).
CREATE FUNCTION hnsw._row_relation(rowtype regtype)
RETURNS regclass LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
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
RETURNS void LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF k IS NULL OR k < 1 THEN
		RAISE EXCEPTION 'k must be a positive integer, not %', coalesce(k::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END $$;

-- Exact k nearest neighbours by sequential scan: never an approximate index.
-- The column is of type vector, or halfvec or sparsevec with the query
-- converted to it (with the column's typmod, so a query of other
-- dimensions is an error), as hnsw.search does.
CREATE FUNCTION hnsw.exact_search(rel anyelement, query vector, k integer,
								  column_name name DEFAULT NULL, metric text DEFAULT 'l2')
RETURNS SETOF anyelement LANGUAGE plpgsql STABLE
SET enable_indexscan = off SET enable_bitmapscan = off
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tbl regclass := hnsw._row_relation(pg_typeof(rel));
	col name := hnsw._vector_column(tbl, column_name, NULL);
	coltype text;
BEGIN
	PERFORM hnsw._check_k(k);
	-- qualified, since search_path does not show it
	SELECT format_type(atttypid, atttypmod) INTO coltype FROM pg_attribute
	 WHERE attrelid = tbl AND attname = col;
	RETURN QUERY EXECUTE format('SELECT * FROM %s ORDER BY %I %s $1::%s LIMIT $2',
								tbl, col, hnsw._distance_operator(metric), coltype)
		USING query, k;
END $$;
COMMENT ON FUNCTION hnsw.exact_search(anyelement, vector, integer, name, text) IS
	'the exact k nearest rows of a table (sequential scan, never an approximate index)';

-- Exact k nearest rows of many queries in one sequential pass
-- (src/exactknn.c); the queries are vector[], halfvec[] or sparsevec[],
-- of the column's type.
CREATE FUNCTION hnsw._exact_knn(rel regclass, column_name name, queries anyarray, k integer,
								metric text, key name)
RETURNS TABLE (query_no integer, rank integer, key text, distance double precision)
AS 'MODULE_PATHNAME', 'hnsw_exact_knn' LANGUAGE C STABLE;

CREATE FUNCTION hnsw.exact_knn(rel regclass, queries vector[], k integer,
							   column_name name DEFAULT NULL, metric text DEFAULT 'l2',
							   key name DEFAULT NULL)
RETURNS TABLE (query_no integer, rank integer, key text, distance double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT * FROM hnsw._exact_knn(rel, hnsw._vector_column(rel, column_name), queries, k,
								  metric, key)
$$;
COMMENT ON FUNCTION hnsw.exact_knn(regclass, vector[], integer, name, text, name) IS
	'the exact k nearest rows of every query, found in one sequential scan of the table';

CREATE FUNCTION hnsw.exact_knn(rel regclass, queries halfvec[], k integer,
							   column_name name DEFAULT NULL, metric text DEFAULT 'l2',
							   key name DEFAULT NULL)
RETURNS TABLE (query_no integer, rank integer, key text, distance double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT * FROM hnsw._exact_knn(rel, hnsw._vector_column(rel, column_name,
														   '@extschema@.halfvec'),
								  queries, k, metric, key)
$$;
COMMENT ON FUNCTION hnsw.exact_knn(regclass, halfvec[], integer, name, text, name) IS
	'the exact k nearest rows of every query, found in one sequential scan of the table';

CREATE FUNCTION hnsw.exact_knn(rel regclass, queries sparsevec[], k integer,
							   column_name name DEFAULT NULL, metric text DEFAULT 'l2',
							   key name DEFAULT NULL)
RETURNS TABLE (query_no integer, rank integer, key text, distance double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT * FROM hnsw._exact_knn(rel, hnsw._vector_column(rel, column_name,
														   '@extschema@.sparsevec'),
								  queries, k, metric, key)
$$;
COMMENT ON FUNCTION hnsw.exact_knn(regclass, sparsevec[], integer, name, text, name) IS
	'the exact k nearest rows of every query, found in one sequential scan of the table';

-- Recall@k of approximate (index) search against exact search, per query.
-- A row counts as found when the exact answer holds it, or when its
-- distance is no larger than the k-th exact distance: rows tied at the
-- k-th distance are equally exact, whichever one a search returns.
-- The queries are vector[], halfvec[] or sparsevec[] (the public
-- functions below), of the column's type.
CREATE FUNCTION hnsw._evaluate_recall_detail(rel regclass, column_name name, queries anyarray,
											 k integer, ef_search integer, metric text, key name)
RETURNS TABLE (query_no integer, exact_rows integer, found_rows integer, recall double precision)
LANGUAGE plpgsql VOLATILE
SET enable_indexscan FROM CURRENT SET enable_seqscan FROM CURRENT
SET enable_bitmapscan FROM CURRENT
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	typ regtype := hnsw._element_type(queries);
	col name := hnsw._vector_column(rel, column_name, typ);
	op text := hnsw._distance_operator(metric);
	keyexpr text := CASE WHEN key IS NULL THEN 'ctid::text' ELSE format('%I::text', key) END;
	sql text;					-- approximate: keys and distances, nearest first
	exact_sql text;				-- exact, the same; NULL when exact_all has it
	exact_all jsonb;			-- query_no -> {keys, kth}, from hnsw._exact_knn
	approx text[];
	approx_dist float8[];
	exact text[];
	exact_dist float8[];
	kth float8;					-- the k-th exact distance
	n integer := coalesce(cardinality(queries), 0);
	last_notice timestamptz := clock_timestamp();
	old_ef text := current_setting('hnsw.ef_search', true);
	-- a partitioned table with foreign partitions is searched through the
	-- coordinator: hnsw.search against hnsw.search(exact => true)
	distributed boolean := EXISTS (SELECT 1 FROM pg_inherits inh
									 JOIN pg_class c ON c.oid = inh.inhrelid
									WHERE inh.inhparent = rel AND c.relkind = 'f');
BEGIN
	PERFORM hnsw._check_k(k);
	IF key IS NOT NULL THEN
		PERFORM hnsw._column_type(rel, key);	-- checks the key column exists
	END IF;
	IF distributed THEN
		IF typ <> '@extschema@.vector'::regtype THEN
			RAISE EXCEPTION 'recall of distributed table % needs vector queries, not %',
				rel, (SELECT t.typname FROM pg_type t WHERE t.oid = typ)
				USING ERRCODE = 'feature_not_supported';
		END IF;
		IF key IS NULL THEN
			RAISE EXCEPTION 'recall of distributed table % needs a key column', rel
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Name a column that identifies a row, like key => ''id''.';
		END IF;
		sql := format('SELECT array_agg(s.%1$I::text ORDER BY s.d), array_agg(s.d ORDER BY s.d) FROM '
					  '(SELECT s.%1$I, s.%3$I %4$s $1 AS d FROM hnsw.search(NULL::%2$s, $1, $2, %5$s, '
					  'metric => $4, column_name => $5) s) s',
					  key, rel, col, op, 'ef_search => $3');
		exact_sql := format('SELECT array_agg(s.%1$I::text ORDER BY s.d), array_agg(s.d ORDER BY s.d) FROM '
							'(SELECT s.%1$I, s.%3$I %4$s $1 AS d FROM hnsw.search(NULL::%2$s, $1, $2, %5$s, '
							'metric => $4, column_name => $5) s) s',
							key, rel, col, op, 'exact => true');
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
		sql := format('SELECT array_agg(k), array_agg(d) FROM '
					  '(SELECT %s AS k, %I %s $1 AS d FROM %s ORDER BY 2 LIMIT $2) s',
					  keyexpr, col, op, rel);
		exact_sql := sql;
		-- the exact side of all queries in one scan, where hnsw._exact_knn
		-- computes the metric (it has no kernels for the Spark distances)
		-- and reads the table as the query would: plain tables only (no views, no foreign tables), no row-level security
		IF n > 0
		   AND (hnsw._metric(metric)).name IN ('l2', 'ip', 'cosine', 'l1')
		   AND NOT EXISTS (WITH RECURSIVE tree(relid) AS (
								SELECT rel::oid
								UNION
								SELECT inh.inhrelid FROM pg_inherits inh JOIN tree ON inh.inhparent = tree.relid)
							SELECT 1 FROM tree JOIN pg_class c ON c.oid = tree.relid
							 WHERE c.relkind NOT IN ('r', 'm', 'p') OR c.relrowsecurity) THEN
			SELECT jsonb_object_agg(e.query_no, jsonb_build_object('keys', e.keys, 'kth', e.kth))
			  INTO exact_all
			  FROM (SELECT x.query_no, jsonb_agg(x.key) AS keys, max(x.distance) AS kth
					  FROM hnsw._exact_knn(rel, col, queries, k, metric, key) x
					 GROUP BY x.query_no) e;
			exact_sql := NULL;
		END IF;
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
		EXECUTE sql INTO approx, approx_dist USING queries[i], k, ef_search, metric, col;
		IF exact_sql IS NULL THEN
			exact := ARRAY(SELECT jsonb_array_elements_text(exact_all -> i::text -> 'keys'));
			kth := (exact_all -> i::text ->> 'kth')::float8;
		ELSE
			IF NOT distributed THEN
				-- exact: no index
				PERFORM set_config('enable_indexscan', 'off', true);
				PERFORM set_config('enable_bitmapscan', 'off', true);
				PERFORM set_config('enable_seqscan', 'on', true);
			END IF;
			EXECUTE exact_sql INTO exact, exact_dist USING queries[i], k, ef_search, metric, col;
			kth := exact_dist[cardinality(exact_dist)];
		END IF;

		query_no := i;
		exact_rows := coalesce(cardinality(exact), 0);
		found_rows := least(exact_rows,
							(SELECT count(*) FROM unnest(approx, approx_dist) a(k, d)
							  WHERE a.k = ANY (exact) OR a.d <= kth));
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

CREATE FUNCTION hnsw.evaluate_recall_detail(rel regclass, column_name name, queries vector[],
											k integer, ef_search integer DEFAULT NULL,
											metric text DEFAULT 'l2', key name DEFAULT NULL)
RETURNS TABLE (query_no integer, exact_rows integer, found_rows integer, recall double precision)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT * FROM hnsw._evaluate_recall_detail(rel, column_name, queries, k, ef_search, metric, key)
$$;
COMMENT ON FUNCTION hnsw.evaluate_recall_detail(regclass, name, vector[], integer, integer, text, name) IS
	'per-query recall@k of the approximate (index) search against exact search';

CREATE FUNCTION hnsw.evaluate_recall_detail(rel regclass, column_name name, queries halfvec[],
											k integer, ef_search integer DEFAULT NULL,
											metric text DEFAULT 'l2', key name DEFAULT NULL)
RETURNS TABLE (query_no integer, exact_rows integer, found_rows integer, recall double precision)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT * FROM hnsw._evaluate_recall_detail(rel, column_name, queries, k, ef_search, metric, key)
$$;
COMMENT ON FUNCTION hnsw.evaluate_recall_detail(regclass, name, halfvec[], integer, integer, text, name) IS
	'per-query recall@k of the approximate (index) search against exact search';

CREATE FUNCTION hnsw.evaluate_recall_detail(rel regclass, column_name name, queries sparsevec[],
											k integer, ef_search integer DEFAULT NULL,
											metric text DEFAULT 'l2', key name DEFAULT NULL)
RETURNS TABLE (query_no integer, exact_rows integer, found_rows integer, recall double precision)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT * FROM hnsw._evaluate_recall_detail(rel, column_name, queries, k, ef_search, metric, key)
$$;
COMMENT ON FUNCTION hnsw.evaluate_recall_detail(regclass, name, sparsevec[], integer, integer, text, name) IS
	'per-query recall@k of the approximate (index) search against exact search';

-- Recall@k over all queries, as Spark's KnnSimilarityEvaluator defines it:
-- sum of |exact ∩ approximate| over sum of |exact| (1 when nothing is exact),
-- where rows tied with the k-th exact distance count as exact.
CREATE FUNCTION hnsw._evaluate_recall(rel regclass, column_name name, queries anyarray,
									  k integer, ef_search integer, metric text, key name)
RETURNS TABLE (recall double precision, queries integer, exact_rows bigint, found_rows bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN sum(d.exact_rows) > 0 THEN sum(d.found_rows)::float8 / sum(d.exact_rows) ELSE 1.0 END,
		   count(*)::integer, coalesce(sum(d.exact_rows), 0), coalesce(sum(d.found_rows), 0)
	  FROM hnsw._evaluate_recall_detail(rel, column_name, queries, k, ef_search, metric, key) d
$$;

CREATE FUNCTION hnsw.evaluate_recall(rel regclass, column_name name, queries vector[],
									 k integer, ef_search integer DEFAULT NULL,
									 metric text DEFAULT 'l2', key name DEFAULT NULL)
RETURNS TABLE (recall double precision, queries integer, exact_rows bigint, found_rows bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT * FROM hnsw._evaluate_recall(rel, column_name, queries, k, ef_search, metric, key)
$$;
COMMENT ON FUNCTION hnsw.evaluate_recall(regclass, name, vector[], integer, integer, text, name) IS
	'recall@k of the approximate (index) search against exact search, over many queries';

CREATE FUNCTION hnsw.evaluate_recall(rel regclass, column_name name, queries halfvec[],
									 k integer, ef_search integer DEFAULT NULL,
									 metric text DEFAULT 'l2', key name DEFAULT NULL)
RETURNS TABLE (recall double precision, queries integer, exact_rows bigint, found_rows bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT * FROM hnsw._evaluate_recall(rel, column_name, queries, k, ef_search, metric, key)
$$;
COMMENT ON FUNCTION hnsw.evaluate_recall(regclass, name, halfvec[], integer, integer, text, name) IS
	'recall@k of the approximate (index) search against exact search, over many queries';

CREATE FUNCTION hnsw.evaluate_recall(rel regclass, column_name name, queries sparsevec[],
									 k integer, ef_search integer DEFAULT NULL,
									 metric text DEFAULT 'l2', key name DEFAULT NULL)
RETURNS TABLE (recall double precision, queries integer, exact_rows bigint, found_rows bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT * FROM hnsw._evaluate_recall(rel, column_name, queries, k, ef_search, metric, key)
$$;
COMMENT ON FUNCTION hnsw.evaluate_recall(regclass, name, sparsevec[], integer, integer, text, name) IS
	'recall@k of the approximate (index) search against exact search, over many queries';

-- Who may call what.  Every role: the tools read only what the caller may
-- read (the SQL ones run as the caller; hnsw._exact_knn checks SELECT on
-- the columns it reads and refuses row-level security), and the helpers
-- read only catalogs every role may read.  Stated here, not left implicit.
GRANT EXECUTE ON FUNCTION
	hnsw._column_type(regclass, name),
	hnsw._vector_column(regclass, name, regtype),
	hnsw._element_type(anyarray),
	hnsw._metric(text),
	hnsw._distance_operator(text),
	hnsw._row_relation(regtype),
	hnsw._check_k(integer),
	hnsw.exact_search(anyelement, vector, integer, name, text),
	hnsw._exact_knn(regclass, name, anyarray, integer, text, name),
	hnsw.exact_knn(regclass, vector[], integer, name, text, name),
	hnsw.exact_knn(regclass, halfvec[], integer, name, text, name),
	hnsw.exact_knn(regclass, sparsevec[], integer, name, text, name),
	hnsw._evaluate_recall_detail(regclass, name, anyarray, integer, integer, text, name),
	hnsw.evaluate_recall_detail(regclass, name, vector[], integer, integer, text, name),
	hnsw.evaluate_recall_detail(regclass, name, halfvec[], integer, integer, text, name),
	hnsw.evaluate_recall_detail(regclass, name, sparsevec[], integer, integer, text, name),
	hnsw._evaluate_recall(regclass, name, anyarray, integer, integer, text, name),
	hnsw.evaluate_recall(regclass, name, vector[], integer, integer, text, name),
	hnsw.evaluate_recall(regclass, name, halfvec[], integer, integer, text, name),
	hnsw.evaluate_recall(regclass, name, sparsevec[], integer, integer, text, name)
	TO PUBLIC;
