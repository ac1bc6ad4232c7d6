-- An insert nested in another: an operator class whose distance function
-- inserts into another hnsw index.  The inner insert must not reuse the
-- outer one's memory (src/README "Insert").
CREATE TABLE nested_log (v vector(2));
CREATE INDEX ON nested_log USING hnsw (v);
CREATE FUNCTION logged_l2(a vector, b vector) RETURNS float8
	LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO nested_log VALUES (a);
	RETURN (a <-> b) ^ 2;
END $$;
CREATE OPERATOR CLASS logged_l2_ops FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 logged_l2(vector, vector);

CREATE TABLE nested (id int, v vector(2));
CREATE INDEX nested_idx ON nested USING hnsw (v logged_l2_ops);
INSERT INTO nested SELECT i, ARRAY[i % 7, i / 7]::real[]::vector FROM generate_series(1, 200) i;
SELECT count(*) > 200 AS logged FROM nested_log;
SELECT (SELECT elements FROM hnsw.verify_index('nested_idx')),
       (SELECT elements FROM hnsw.verify_index('nested_log_v_idx')) > 200 AS log_checked;

SET enable_seqscan = off;
SELECT id FROM nested ORDER BY v <-> '[3.1,3.2]' LIMIT 3;
RESET enable_seqscan;

DROP TABLE nested;
DROP TABLE nested_log;
DROP OPERATOR CLASS logged_l2_ops USING hnsw;
DROP OPERATOR FAMILY logged_l2_ops USING hnsw;
DROP FUNCTION logged_l2(vector, vector);
