-- The hnsw index access method and its operator classes.

CREATE FUNCTION hnswhandler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD hnsw TYPE INDEX HANDLER hnswhandler;

COMMENT ON ACCESS METHOD hnsw IS 'hierarchical navigable small world graph index for vectors';

-- The default.  <-> is ordered by the squared distance: the same order, no square root.
CREATE OPERATOR CLASS vector_l2_ops
	DEFAULT FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_l2_squared_distance(vector, vector);

CREATE OPERATOR CLASS vector_ip_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_negative_inner_product(vector, vector);

-- Cosine: vectors are normalised (support function 2) on insert and search,
-- then ordered by negative inner product.  Zero vectors are not indexed.
CREATE OPERATOR CLASS vector_cosine_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_negative_inner_product(vector, vector),
	FUNCTION 2 vector_norm(vector);

CREATE OPERATOR CLASS vector_l1_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <+> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(vector, vector);

-- halfvec, sparsevec and bit: pgvector's operator classes, by its names.
-- Elements keep the values as they are and compare them with the
-- operators' own kernels (src/README "Element codes").

CREATE OPERATOR CLASS halfvec_l2_ops
	FOR TYPE halfvec USING hnsw AS
	OPERATOR 1 <-> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 halfvec_l2_squared_distance(halfvec, halfvec);

CREATE OPERATOR CLASS halfvec_ip_ops
	FOR TYPE halfvec USING hnsw AS
	OPERATOR 1 <#> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec);

CREATE OPERATOR CLASS halfvec_cosine_ops
	FOR TYPE halfvec USING hnsw AS
	OPERATOR 1 <=> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec),
	FUNCTION 2 l2_norm(halfvec);

CREATE OPERATOR CLASS halfvec_l1_ops
	FOR TYPE halfvec USING hnsw AS
	OPERATOR 1 <+> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(halfvec, halfvec);

CREATE OPERATOR CLASS sparsevec_l2_ops
	FOR TYPE sparsevec USING hnsw AS
	OPERATOR 1 <-> (sparsevec, sparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 sparsevec_l2_squared_distance(sparsevec, sparsevec);

CREATE OPERATOR CLASS sparsevec_ip_ops
	FOR TYPE sparsevec USING hnsw AS
	OPERATOR 1 <#> (sparsevec, sparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 sparsevec_negative_inner_product(sparsevec, sparsevec);

CREATE OPERATOR CLASS sparsevec_cosine_ops
	FOR TYPE sparsevec USING hnsw AS
	OPERATOR 1 <=> (sparsevec, sparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 sparsevec_negative_inner_product(sparsevec, sparsevec),
	FUNCTION 2 l2_norm(sparsevec);

CREATE OPERATOR CLASS sparsevec_l1_ops
	FOR TYPE sparsevec USING hnsw AS
	OPERATOR 1 <+> (sparsevec, sparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(sparsevec, sparsevec);

CREATE OPERATOR CLASS bit_hamming_ops
	FOR TYPE bit USING hnsw AS
	OPERATOR 1 <~> (bit, bit) FOR ORDER BY float_ops,
	FUNCTION 1 hamming_distance(bit, bit);

CREATE OPERATOR CLASS bit_jaccard_ops
	FOR TYPE bit USING hnsw AS
	OPERATOR 1 <%> (bit, bit) FOR ORDER BY float_ops,
	FUNCTION 1 jaccard_distance(bit, bit);

-- Internal: the planner hook puts calls of these into the plans of hnsw
-- index scans (src/hnswplan.c), so that the executor takes the distance the
-- scan computed instead of reading the vector again.  Every role may
-- execute them, as the executor checks that for the plans of every role,
-- but they answer only the calls the hook built: called by hand, or through
-- an operator, a cast or a view, they raise an error.
--
-- _index_distance: in place of <->, <#> and <+> (and <~> on bit), the distance of the
-- index's operator class, taken from the scan when it has just returned
-- the row.
CREATE FUNCTION hnsw._index_distance(vector, vector, tid, regclass) RETURNS float8
	AS 'MODULE_PATHNAME', 'hnsw_index_distance' LANGUAGE C STRICT PARALLEL SAFE;
-- _index_order_distance: in place of an ORDER BY distance that nothing
-- reads (the resjunk column under a plain LIMIT), the distance the scan
-- ordered the row by, if it has just returned it, else NULL.
CREATE FUNCTION hnsw._index_order_distance(tid, regclass) RETURNS float8
	AS 'MODULE_PATHNAME', 'hnsw_index_order_distance' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION hnsw._index_distance(halfvec, halfvec, tid, regclass) RETURNS float8
	AS 'MODULE_PATHNAME', 'hnsw_index_distance' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION hnsw._index_distance(sparsevec, sparsevec, tid, regclass) RETURNS float8
	AS 'MODULE_PATHNAME', 'hnsw_index_distance' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION hnsw._index_distance(bit, bit, tid, regclass) RETURNS float8
	AS 'MODULE_PATHNAME', 'hnsw_index_distance' LANGUAGE C STRICT PARALLEL SAFE;
GRANT EXECUTE ON FUNCTION hnsw._index_distance(vector, vector, tid, regclass) TO PUBLIC;
GRANT EXECUTE ON FUNCTION hnsw._index_distance(halfvec, halfvec, tid, regclass) TO PUBLIC;
GRANT EXECUTE ON FUNCTION hnsw._index_distance(sparsevec, sparsevec, tid, regclass) TO PUBLIC;
GRANT EXECUTE ON FUNCTION hnsw._index_distance(bit, bit, tid, regclass) TO PUBLIC;
GRANT EXECUTE ON FUNCTION hnsw._index_order_distance(tid, regclass) TO PUBLIC;

-- real[] and double precision[] columns: the four distances on arrays, and
-- operator classes over them (see src/arrayops.c).  Arrays are compared in
-- single precision, as vectors are.

CREATE FUNCTION array_l2_distance(real[], real[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_l2_squared_distance(real[], real[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_negative_inner_product(real[], real[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_cosine_distance(real[], real[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_l1_distance(real[], real[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_norm(real[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_l2_distance(double precision[], double precision[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_l2_squared_distance(double precision[], double precision[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_negative_inner_product(double precision[], double precision[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_cosine_distance(double precision[], double precision[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_l1_distance(double precision[], double precision[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_norm(double precision[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <-> (
	LEFTARG = real[], RIGHTARG = real[], PROCEDURE = array_l2_distance,
	COMMUTATOR = '<->'
);
CREATE OPERATOR <#> (
	LEFTARG = real[], RIGHTARG = real[], PROCEDURE = array_negative_inner_product,
	COMMUTATOR = '<#>'
);
CREATE OPERATOR <=> (
	LEFTARG = real[], RIGHTARG = real[], PROCEDURE = array_cosine_distance,
	COMMUTATOR = '<=>'
);
CREATE OPERATOR <+> (
	LEFTARG = real[], RIGHTARG = real[], PROCEDURE = array_l1_distance,
	COMMUTATOR = '<+>'
);

CREATE OPERATOR <-> (
	LEFTARG = double precision[], RIGHTARG = double precision[],
	PROCEDURE = array_l2_distance, COMMUTATOR = '<->'
);
CREATE OPERATOR <#> (
	LEFTARG = double precision[], RIGHTARG = double precision[],
	PROCEDURE = array_negative_inner_product, COMMUTATOR = '<#>'
);
CREATE OPERATOR <=> (
	LEFTARG = double precision[], RIGHTARG = double precision[],
	PROCEDURE = array_cosine_distance, COMMUTATOR = '<=>'
);
CREATE OPERATOR <+> (
	LEFTARG = double precision[], RIGHTARG = double precision[],
	PROCEDURE = array_l1_distance, COMMUTATOR = '<+>'
);

CREATE OPERATOR CLASS float4_l2_ops
	DEFAULT FOR TYPE real[] USING hnsw AS
	OPERATOR 1 <-> (real[], real[]) FOR ORDER BY float_ops,
	FUNCTION 1 array_l2_squared_distance(real[], real[]);
CREATE OPERATOR CLASS float4_ip_ops
	FOR TYPE real[] USING hnsw AS
	OPERATOR 1 <#> (real[], real[]) FOR ORDER BY float_ops,
	FUNCTION 1 array_negative_inner_product(real[], real[]);
CREATE OPERATOR CLASS float4_cosine_ops
	FOR TYPE real[] USING hnsw AS
	OPERATOR 1 <=> (real[], real[]) FOR ORDER BY float_ops,
	FUNCTION 1 array_negative_inner_product(real[], real[]),
	FUNCTION 2 array_norm(real[]);
CREATE OPERATOR CLASS float4_l1_ops
	FOR TYPE real[] USING hnsw AS
	OPERATOR 1 <+> (real[], real[]) FOR ORDER BY float_ops,
	FUNCTION 1 array_l1_distance(real[], real[]);

CREATE OPERATOR CLASS float8_l2_ops
	DEFAULT FOR TYPE double precision[] USING hnsw AS
	OPERATOR 1 <-> (double precision[], double precision[]) FOR ORDER BY float_ops,
	FUNCTION 1 array_l2_squared_distance(double precision[], double precision[]);
CREATE OPERATOR CLASS float8_ip_ops
	FOR TYPE double precision[] USING hnsw AS
	OPERATOR 1 <#> (double precision[], double precision[]) FOR ORDER BY float_ops,
	FUNCTION 1 array_negative_inner_product(double precision[], double precision[]);
CREATE OPERATOR CLASS float8_cosine_ops
	FOR TYPE double precision[] USING hnsw AS
	OPERATOR 1 <=> (double precision[], double precision[]) FOR ORDER BY float_ops,
	FUNCTION 1 array_negative_inner_product(double precision[], double precision[]),
	FUNCTION 2 array_norm(double precision[]);
CREATE OPERATOR CLASS float8_l1_ops
	FOR TYPE double precision[] USING hnsw AS
	OPERATOR 1 <+> (double precision[], double precision[]) FOR ORDER BY float_ops,
	FUNCTION 1 array_l1_distance(double precision[], double precision[]);

-- The filter column: an integer column as the index's second key column,
-- USING hnsw (embedding vector_l2_ops, label), whose value each element
-- keeps so that a scan tests WHERE label = 3 (or <, <=, >=, >, against any
-- integer type) in the graph walk (src/README "Filter column").  Btree's
-- strategy numbers; search operators, no support functions.
CREATE OPERATOR FAMILY integer_ops USING hnsw;

CREATE OPERATOR CLASS int2_ops
	DEFAULT FOR TYPE smallint USING hnsw FAMILY integer_ops AS
	OPERATOR 1 < (smallint, smallint),
	OPERATOR 2 <= (smallint, smallint),
	OPERATOR 3 = (smallint, smallint),
	OPERATOR 4 >= (smallint, smallint),
	OPERATOR 5 > (smallint, smallint),
	OPERATOR 1 < (smallint, integer),
	OPERATOR 2 <= (smallint, integer),
	OPERATOR 3 = (smallint, integer),
	OPERATOR 4 >= (smallint, integer),
	OPERATOR 5 > (smallint, integer),
	OPERATOR 1 < (smallint, bigint),
	OPERATOR 2 <= (smallint, bigint),
	OPERATOR 3 = (smallint, bigint),
	OPERATOR 4 >= (smallint, bigint),
	OPERATOR 5 > (smallint, bigint);

CREATE OPERATOR CLASS int4_ops
	DEFAULT FOR TYPE integer USING hnsw FAMILY integer_ops AS
	OPERATOR 1 < (integer, smallint),
	OPERATOR 2 <= (integer, smallint),
	OPERATOR 3 = (integer, smallint),
	OPERATOR 4 >= (integer, smallint),
	OPERATOR 5 > (integer, smallint),
	OPERATOR 1 < (integer, integer),
	OPERATOR 2 <= (integer, integer),
	OPERATOR 3 = (integer, integer),
	OPERATOR 4 >= (integer, integer),
	OPERATOR 5 > (integer, integer),
	OPERATOR 1 < (integer, bigint),
	OPERATOR 2 <= (integer, bigint),
	OPERATOR 3 = (integer, bigint),
	OPERATOR 4 >= (integer, bigint),
	OPERATOR 5 > (integer, bigint);

CREATE OPERATOR CLASS int8_ops
	DEFAULT FOR TYPE bigint USING hnsw FAMILY integer_ops AS
	OPERATOR 1 < (bigint, smallint),
	OPERATOR 2 <= (bigint, smallint),
	OPERATOR 3 = (bigint, smallint),
	OPERATOR 4 >= (bigint, smallint),
	OPERATOR 5 > (bigint, smallint),
	OPERATOR 1 < (bigint, integer),
	OPERATOR 2 <= (bigint, integer),
	OPERATOR 3 = (bigint, integer),
	OPERATOR 4 >= (bigint, integer),
	OPERATOR 5 > (bigint, integer),
	OPERATOR 1 < (bigint, bigint),
	OPERATOR 2 <= (bigint, bigint),
	OPERATOR 3 = (bigint, bigint),
	OPERATOR 4 >= (bigint, bigint),
	OPERATOR 5 > (bigint, bigint);
