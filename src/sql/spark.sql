-- The distances hnswlib (and hnswlib-spark) offers beyond pgvector's, for
-- vector, with operators and hnsw operator classes (see
-- src/sparkdistance.c; README.md "Spark distances" says which are metrics).
-- The index calls these functions through fmgr, as any distance it does
-- not know.  Pure functions of their arguments: PUBLIC may execute them
-- (the default).

CREATE FUNCTION canberra_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 25;

CREATE FUNCTION bray_curtis_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 25;

CREATE FUNCTION correlation_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 25;

-- An index orders by an operator, so each distance has one.

CREATE OPERATOR </> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = canberra_distance,
	COMMUTATOR = '</>'
);

CREATE OPERATOR <|> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = bray_curtis_distance,
	COMMUTATOR = '<|>'
);

CREATE OPERATOR <^> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = correlation_distance,
	COMMUTATOR = '<^>'
);

CREATE OPERATOR CLASS vector_canberra_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 </> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 canberra_distance(vector, vector);

CREATE OPERATOR CLASS vector_bray_curtis_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <|> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 bray_curtis_distance(vector, vector);

CREATE OPERATOR CLASS vector_correlation_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <^> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 correlation_distance(vector, vector);
