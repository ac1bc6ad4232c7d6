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

-- Verify an hnsw index's structure; return its number of elements or raise
-- an error describing the first problem.
CREATE FUNCTION hnsw_index_check(regclass) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
