-- casts between vector and arrays (the SQL answer to a vector converter)

SELECT ARRAY[1,2,3]::vector;
SELECT ARRAY[1.5,2.25,-3]::real[]::vector;
SELECT ARRAY[1.5,2.25,-3]::double precision[]::vector;
SELECT ARRAY[1.5,2.25,-3]::numeric[]::vector;
SELECT '{1,2,3}'::int[]::vector(3);
SELECT '[1,2,3]'::vector::real[];
SELECT '[1,2.5,3]'::vector::double precision[];
SELECT ('[1,2,3]'::vector::real[])::vector = '[1,2,3]' AS round_trip;

-- assignment casts into a vector column
CREATE TABLE t_cast (v vector(3));
INSERT INTO t_cast VALUES (ARRAY[1,2,3]), (ARRAY[4,5,6]::real[]), (ARRAY[7.5,8,9]::float8[]);
INSERT INTO t_cast VALUES (ARRAY[1,2]);
SELECT v FROM t_cast ORDER BY v;
DROP TABLE t_cast;

-- errors: nothing is dropped or truncated silently
SELECT ARRAY[1,NULL,3]::vector;
SELECT ARRAY[[1,2],[3,4]]::vector;
SELECT '{}'::real[]::vector;
SELECT ARRAY['NaN']::real[]::vector;
SELECT ARRAY['Infinity']::double precision[]::vector;
SELECT ARRAY[1e39]::double precision[]::vector;
SELECT ARRAY[1e39]::numeric[]::vector;
SELECT ARRAY['NaN']::numeric[]::vector;
SELECT ARRAY[1,2,3]::vector(2);
SELECT array_fill(1.0::real, ARRAY[16001])::vector;
