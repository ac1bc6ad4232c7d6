-- avg(vector) and sum(vector)

CREATE TABLE t_agg (g int, v vector(3));
INSERT INTO t_agg VALUES (1, '[1,2,3]'), (1, '[3,4,5]'), (2, '[10,0,-10]'), (2, NULL);
SELECT avg(v), sum(v) FROM t_agg;
SELECT g, avg(v), sum(v) FROM t_agg GROUP BY g ORDER BY g;
SELECT avg(v), sum(v) FROM t_agg WHERE false;
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) x(v);
SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) x(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) x(v);

-- parallel aggregation uses the combine functions
CREATE TABLE t_par (v vector(2));
INSERT INTO t_par SELECT ARRAY[i % 7, i % 11]::vector FROM generate_series(1, 10000) i;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM t_par;
SELECT avg(v), sum(v) FROM t_par;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT avg(v), sum(v) FROM t_par;
DROP TABLE t_agg, t_par;

-- The state functions are SQL-callable: whatever state a direct call
-- passes, they build no vector that vector_in would reject (no zero
-- dimensions, none past 16,000, no NaN or Infinity) and check sums for
-- overflow, with pgvector's SQLSTATEs.  The state is {count, sums...}.
CREATE FUNCTION sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  EXECUTE q INTO r;
  RETURN coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
  RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT q AS call, sqlstate_of(q) AS result FROM (VALUES
  ($$SELECT vector_avg('{2,4,6}')$$),
  ($$SELECT vector_avg('{0}')$$),
  ($$SELECT vector_avg('{1}')$$),
  ($$SELECT vector_avg('{1,NaN}')$$),
  ($$SELECT vector_avg('{NaN,1}')$$),
  ($$SELECT vector_avg('{1,Infinity}')$$),
  ($$SELECT vector_avg('{1e-300,1}')$$),
  ($$SELECT vector_dims(vector_avg(array_fill(1::float8, ARRAY[16001])))$$),
  ($$SELECT vector_dims(vector_avg(array_fill(1::float8, ARRAY[16002])))$$),
  ($$SELECT vector_accum('{0}', '[1,2]')$$),
  ($$SELECT vector_accum('{2,1,2}', '[1,2]')$$),
  ($$SELECT vector_accum('{2,1}', '[1,2]')$$),
  ($$SELECT vector_accum('{2,1,Infinity}', '[1,2]')$$),
  ($$SELECT vector_accum('{2,1,-1.7e308}', '[1,-3e38]')$$),
  ($$SELECT vector_combine('{1,2}', '{3,4}')$$),
  ($$SELECT vector_combine('{0}', '{0}')$$),
  ($$SELECT vector_combine('{0}', '{3,4}')$$),
  ($$SELECT vector_combine('{1,2}', '{0}')$$),
  ($$SELECT vector_combine('{1,2}', '{0,5,6}')$$),
  ($$SELECT vector_combine('{1}', '{1}')$$),
  ($$SELECT vector_combine('{0}', '{1}')$$),
  ($$SELECT vector_combine('{1,2}', '{1,2,3}')$$),
  ($$SELECT vector_combine('{1,1.7e308}', '{1,1.7e308}')$$),
  ($$SELECT vector_combine('{1,Infinity}', '{1,0}')$$),
  ($$SELECT vector_combine('{0}', array_fill(1::float8, ARRAY[16002]))::text IS NOT NULL$$),
  ($$SELECT vector_combine(array_fill(1::float8, ARRAY[16002]), array_fill(1::float8, ARRAY[16002]))::text IS NOT NULL$$)
) v(q);

-- states of another shape are refused outright
SELECT vector_avg('{}');
SELECT vector_avg('{{1,2}}');
SELECT vector_accum('{1,NULL}', '[1]');
SELECT vector_combine('{0}', '{{0}}');

-- every vector avg() and sum() return can be read back
SELECT avg(v)::text::vector, sum(v)::text::vector
  FROM (VALUES ('[1e-45,1]'::vector), ('[0,1]'), ('[0,1]')) x(v);
DROP FUNCTION sqlstate_of(text);
