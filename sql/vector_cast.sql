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

-- Elements are converted as pgvector converts them, with its SQLSTATEs:
-- a double precision is rounded to real (too small: zero or a subnormal;
-- too large: an error), a numeric is read as real's input reads its text
-- (too small or too large: an error).  NULLs are found first, then the
-- dimensions, then conversion errors, then NaN and Infinity.
CREATE FUNCTION sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  EXECUTE q INTO r;
  RETURN r;
EXCEPTION WHEN OTHERS THEN
  RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT q AS "cast", sqlstate_of(q) AS result FROM (VALUES
  ($$SELECT '{1e-46,1}'::float8[]::vector$$),
  ($$SELECT '{-1e-46,1}'::float8[]::vector$$),
  ($$SELECT '{1e-40,1}'::float8[]::vector$$),
  ($$SELECT '{7.1e-46,1}'::float8[]::vector$$),
  ($$SELECT '{3.4028235e38}'::float8[]::vector$$),
  ($$SELECT '{3.40282356e38}'::float8[]::vector$$),
  ($$SELECT '{3.4028236e38}'::float8[]::vector$$),
  ($$SELECT '{1,-1e39}'::float8[]::vector$$),
  ($$SELECT '{1,Infinity}'::float8[]::vector$$),
  ($$SELECT '{1e-40,1}'::real[]::vector$$),
  ($$SELECT '{1e-40,1}'::numeric[]::vector$$),
  ($$SELECT '{1.401298464324817e-45}'::numeric[]::vector$$),
  ($$SELECT '{1e-46,1}'::numeric[]::vector$$),
  ($$SELECT '{3.4028235e38}'::numeric[]::vector$$),
  ($$SELECT '{3.4028236e38}'::numeric[]::vector$$),
  ($$SELECT '{-Infinity}'::numeric[]::vector$$),
  ($$SELECT '{NaN,1e39}'::numeric[]::vector$$),
  ($$SELECT '{2147483647,-2147483648}'::int[]::vector$$),
  ($$SELECT '{NULL,1}'::int[]::vector(3)$$),
  ($$SELECT '{NULL}'::real[]::vector$$),
  ($$SELECT '{{NULL}}'::real[]::vector$$),
  ($$SELECT '{NaN,1}'::real[]::vector(3)$$),
  ($$SELECT '[5:6]={1,2}'::real[]::vector$$)
) v(q);
DROP FUNCTION sqlstate_of(text);
