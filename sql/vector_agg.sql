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
