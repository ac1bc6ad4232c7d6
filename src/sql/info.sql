-- Know your index: statistics and structural verification of hnsw indexes.
-- Part of sql/hnsw--<version>.sql, after index.sql; see the Makefile and
-- src/README "Index statistics and verification".

CREATE FUNCTION hnsw.index_info(index regclass,
	OUT elements bigint, OUT live_elements bigint, OUT deleted_elements bigint,
	OUT heap_tids bigint, OUT max_level integer, OUT elements_per_level bigint[],
	OUT avg_degree float8, OUT min_degree integer,
	OUT entry_point tid, OUT entry_level integer,
	OUT pages bigint, OUT element_pages bigint, OUT free_pages bigint,
	OUT bytes_per_element float8,
	OUT m integer, OUT ef_construction integer, OUT dimensions integer,
	OUT opclass name, OUT version integer, OUT insert_page bigint,
	OUT quantization text, OUT graph_quantization text,
	OUT vector_chunks bigint, OUT vector_pages bigint,
	OUT cut_elements bigint, OUT lossless_codes bigint)
RETURNS record
	AS 'MODULE_PATHNAME', 'hnsw_index_info' LANGUAGE C STRICT;

COMMENT ON FUNCTION hnsw.index_info(regclass) IS
	'statistics of an hnsw index: elements, levels, degree, entry point, pages, options';

CREATE FUNCTION hnsw.verify_index(index regclass,
	OUT pages bigint, OUT elements bigint, OUT links bigint,
	OUT dangling_links bigint, OUT stale_links bigint,
	OUT unreachable_elements bigint, OUT weakly_linked_elements bigint)
RETURNS record
	AS 'MODULE_PATHNAME', 'hnsw_verify_index' LANGUAGE C STRICT;

COMMENT ON FUNCTION hnsw.verify_index(regclass) IS
	'check the structure of an hnsw index; raise an error on corruption';

-- Reading index pages is for those who may read the table.
REVOKE ALL ON FUNCTION hnsw.index_info(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION hnsw.verify_index(regclass) FROM PUBLIC;
