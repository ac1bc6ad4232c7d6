/*-------------------------------------------------------------------------
 *
 * hnsw.c
 *	  The hnsw access method: its reloptions, its GUCs and its
 *	  IndexAmRoutine.  The library's entry point is module.c.
 *
 * src/hnsw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/amapi.h"
#include "access/reloptions.h"
#include "commands/vacuum.h"
#include "fmgr.h"
#include "hnsw.h"
#include "utils/guc.h"

/* GUCs */
int			hnsw_ef_search = HNSW_DEFAULT_EF_SEARCH;
int			hnsw_iterative_scan = HNSW_ITERATIVE_SCAN_RELAXED;
int			hnsw_max_scan_tuples = HNSW_DEFAULT_MAX_SCAN_TUPLES;
double		hnsw_scan_mem_multiplier = 1.0;
bool		hnsw_rerank = true;
bool		hnsw_filtered_walk = true;

/* pgvector's names for the modes of hnsw.iterative_scan */
static const struct config_enum_entry iterative_scan_options[] = {
	{"off", HNSW_ITERATIVE_SCAN_OFF, false},
	{"relaxed_order", HNSW_ITERATIVE_SCAN_RELAXED, false},
	{"strict_order", HNSW_ITERATIVE_SCAN_STRICT, false},
	{NULL, 0, false}
};

static relopt_kind hnsw_relopt_kind;

/* Parsed reloptions of an hnsw index */
typedef struct HnswOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			m;
	int			efConstruction;
	int			quantizationOffset; /* "f32", "f16", "bf16" or "i8" */
	bool		packed;			/* CREATE INDEX cuts large elements at page
								 * ends (hnswbuildwrite.c, PlaceCut) */
	int			graphQuantizationOffset;	/* "auto", "bf16" or "i8" */
} HnswOptions;

/* Names of the quantizations, indexed by HnswCodeKind */
static const char *const quantization_names[] = {"f32", "f16", "bf16", "i8"};

/* Return the HnswCodeKind called name, or -1 if there is none */
static int
ParseQuantization(const char *name)
{
	for (int i = 0; i < lengthof(quantization_names); i++)
		if (pg_strcasecmp(name, quantization_names[i]) == 0)
			return i;
	return -1;
}

/* Reject unknown values of the quantization reloption */
static void
ValidateQuantization(const char *value)
{
	if (value == NULL || ParseQuantization(value) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for parameter \"quantization\": \"%s\"",
						value ? value : ""),
				 errdetail("Valid values are \"f32\", \"f16\", \"bf16\" and \"i8\".")));
}

/* Reject unknown values of the graph_quantization reloption */
static void
ValidateGraphQuantization(const char *value)
{
	if (value == NULL ||
		(pg_strcasecmp(value, "auto") != 0 &&
		 pg_strcasecmp(value, "bf16") != 0 &&
		 pg_strcasecmp(value, "i8") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for parameter \"graph_quantization\": \"%s\"",
						value ? value : ""),
				 errdetail("Valid values are \"auto\", \"bf16\" and \"i8\".")));
}

/*
 * Register the reloptions and GUCs of the access method.  Called once per
 * backend, from _PG_init (module.c).
 */
void
HnswInit(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m",
					  "Maximum number of connections per element per level",
					  HNSW_DEFAULT_M, HNSW_MIN_M, HNSW_MAX_M,
					  AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction",
					  "Size of the candidate list while building the graph",
					  HNSW_DEFAULT_EF_CONSTRUCTION, HNSW_MIN_EF_CONSTRUCTION,
					  HNSW_MAX_EF_CONSTRUCTION, AccessExclusiveLock);
	add_string_reloption(hnsw_relopt_kind, "quantization",
						 "How the index stores vectors: f32, f16, bf16 or i8",
						 HNSW_DEFAULT_QUANTIZATION, ValidateQuantization,
						 AccessExclusiveLock);
	add_bool_reloption(hnsw_relopt_kind, "packed",
					   "Fills pages by cutting large elements over two pages",
					   false, AccessExclusiveLock);
	add_string_reloption(hnsw_relopt_kind, "graph_quantization",
						 "Codes the graph compares, the vectors kept out of line: auto, bf16 or i8",
						 "auto", ValidateGraphQuantization,
						 AccessExclusiveLock);

	DefineCustomIntVariable("hnsw.ef_search",
							"Size of the candidate list while searching.",
							"Larger values give better recall and slower scans.",
							&hnsw_ef_search, HNSW_DEFAULT_EF_SEARCH,
							HNSW_MIN_EF_SEARCH, HNSW_MAX_EF_SEARCH,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("hnsw.iterative_scan",
							 "Whether a scan searches on past its first ef_search candidates.",
							 "off: at most one search's rows; relaxed_order: "
							 "further batches while the executor asks for rows, each "
							 "in distance order; strict_order: the same, leaving out "
							 "rows nearer than one already returned.",
							 &hnsw_iterative_scan, HNSW_ITERATIVE_SCAN_RELAXED,
							 iterative_scan_options, PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("hnsw.max_scan_tuples",
							"Rows after which a scan searches no further batches.",
							"A scan goes on past ef_search while the executor asks "
							"for more rows (filtered queries); once it has returned "
							"this many it finishes its batch and stops.",
							&hnsw_max_scan_tuples, HNSW_DEFAULT_MAX_SCAN_TUPLES,
							1, INT_MAX, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("hnsw.scan_mem_multiplier",
							 "Multiple of work_mem a scan may use for further batches.",
							 "A scan searches no further batch once its memory "
							 "exceeds work_mem times this.",
							 &hnsw_scan_mem_multiplier, 1.0, 1.0, 1000.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("hnsw.rerank",
							 "Returns the rows of i8 indexes, and of indexes with vectors out of line, in exact distance order.",
							 "The scan reads the candidates' vectors from the table "
							 "(i8) or from the index (out of line) and orders them by "
							 "their exact distance; off returns them in the order of "
							 "the codes' distance, which is faster.",
							 &hnsw_rerank, true, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("hnsw.filtered_walk",
							 "Lets a scan with conditions on the index's filter column walk only through rows that pass them.",
							 "Faster for a filter correlated with the vectors, at some "
							 "recall; off walks through every element and drops the "
							 "rows that fail.",
							 &hnsw_filtered_walk, true, PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * Parse and validate the reloptions of an hnsw index.  ef_construction must
 * be at least twice m, so that a full level-0 neighbour list can be chosen.
 */
static bytea *
hnswoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, efConstruction)},
		{"quantization", RELOPT_TYPE_STRING, offsetof(HnswOptions, quantizationOffset)},
		{"packed", RELOPT_TYPE_BOOL, offsetof(HnswOptions, packed)},
		{"graph_quantization", RELOPT_TYPE_STRING,
		offsetof(HnswOptions, graphQuantizationOffset)},
	};
	HnswOptions *opts;

	opts = (HnswOptions *) build_reloptions(reloptions, validate,
											hnsw_relopt_kind,
											sizeof(HnswOptions),
											tab, lengthof(tab));
	if (validate && opts != NULL && opts->efConstruction < 2 * opts->m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to 2 * m"),
				 errdetail("ef_construction is %d and m is %d.",
						   opts->efConstruction, opts->m)));
	return (bytea *) opts;
}

/* Return the m of an index, from its reloptions */
int
HnswGetM(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->m : HNSW_DEFAULT_M;
}

/* Return the ef_construction of an index, from its reloptions */
int
HnswGetEfConstruction(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->efConstruction : HNSW_DEFAULT_EF_CONSTRUCTION;
}

/*
 * Return whether CREATE INDEX packs the pages of an index, cutting elements
 * larger than a quarter of a page over two (reloption "packed").
 */
bool
HnswGetPacked(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->packed : false;
}

/*
 * Return the quantization an index asks for in its reloptions.  The layout
 * of an existing index follows its metapage instead (ALTER INDEX SET does
 * not re-encode anything).
 */
HnswCodeKind
HnswGetQuantization(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;
	int			q;

	if (opts == NULL || opts->quantizationOffset == 0)
		return HNSW_CODE_F32;
	q = ParseQuantization((char *) opts + opts->quantizationOffset);
	return q < 0 ? HNSW_CODE_F32 : (HnswCodeKind) q;
}

/*
 * Return the code an index asks its graph to compare, its vectors kept out
 * of line (reloption "graph_quantization"): HNSW_CODE_BF16 or HNSW_CODE_I8,
 * or HNSW_GRAPH_AUTO (HnswCodeKindFor decides by the size alone).  Like
 * quantization, it matters only until the first vector fixes the layout.
 */
int
HnswGetGraphQuantization(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;
	const char *value;

	if (opts == NULL || opts->graphQuantizationOffset == 0)
		return HNSW_GRAPH_AUTO;
	value = (const char *) opts + opts->graphQuantizationOffset;
	if (pg_strcasecmp(value, "bf16") == 0)
		return HNSW_CODE_BF16;
	if (pg_strcasecmp(value, "i8") == 0)
		return HNSW_CODE_I8;
	return HNSW_GRAPH_AUTO;
}

/* Return the reloption value naming a quantization */
const char *
HnswQuantizationName(HnswCodeKind q)
{
	return q < lengthof(quantization_names) ? quantization_names[q] :
		HnswCodeKindName(q);
}

/*
 * Return the name of a kind of element code, as index_info shows it: the
 * quantizations' reloption values, then "half", "bit" and "sparse" for the
 * values of halfvec, bit and sparsevec columns.
 */
const char *
HnswCodeKindName(HnswCodeKind kind)
{
	static const char *const names[] = {"f32", "f16", "bf16", "i8", "half",
	"bit", "sparse", "bit_prefix"};

	StaticAssertStmt(lengthof(names) == HNSW_CODE_MAX + 1,
					 "a name for every kind of code");
	return kind <= HNSW_CODE_MAX ? names[kind] : "unknown";
}

/*
 * The access method handler: what hnsw can do and where its callbacks are.
 */
PG_FUNCTION_INFO_V1(hnswhandler);
Datum
hnswhandler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amsupport = 2;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = true;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = hnswbuild;
	amroutine->ambuildempty = hnswbuildempty;
	amroutine->aminsert = hnswinsert;
	amroutine->ambulkdelete = hnswbulkdelete;
	amroutine->amvacuumcleanup = hnswvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = hnswcostestimate;
	amroutine->amoptions = hnswoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = hnswbuildphasename;
	amroutine->amvalidate = hnswvalidate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = hnswbeginscan;
	amroutine->amrescan = hnswrescan;
	amroutine->amgettuple = hnswgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = hnswendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
