/*-------------------------------------------------------------------------
 *
 * metric.c
 *	  Metric names: the one parser of the metric argument, for every C
 *	  caller (hnsw.search, hnsw.search_batch, hnsw.exact_knn) and, through
 *	  hnsw._metric, every SQL one (hnsw.exact_search, hnsw.evaluate_recall,
 *	  hnsw.create_distributed_table).
 *
 * A metric names one distance operator on vector; whatever the spelling,
 * the distance a function orders by (and returns, where it returns one) is
 * that operator's.  Each has a name, the one in its operator class's name
 * (vector_<name>_ops), and is also known by its operator and by what
 * pgvector and Spark users call it:
 *
 *	  l2           euclidean       <->
 *	  ip           inner_product   <#>   (pgvector's function, Spark's
 *	                                      "inner-product": the same order,
 *	                                      though Spark's value is 1 - a.b)
 *	  cosine                       <=>
 *	  l1           manhattan       <+>
 *	  canberra                     </>
 *	  bray_curtis                  <|>
 *	  correlation                  <^>
 *
 * Names are compared without regard to case, and a hyphen stands for an
 * underscore, so Spark's distanceFunction values ("bray-curtis",
 * "inner-product") are names too; operators must be written exactly.
 *
 * src/metric.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "metric.h"
#include "utils/builtins.h"

/* The spellings of each metric, by VectorMetric */
typedef struct MetricSpelling
{
	const char *name;			/* the metric's own name */
	const char *alias;			/* another name users know it by, or NULL */
	const char *operator;		/* its operator on vector */
} MetricSpelling;

static const MetricSpelling metrics[] = {
	[VECTOR_METRIC_L2] = {"l2", "euclidean", "<->"},
	[VECTOR_METRIC_IP] = {"ip", "inner_product", "<#>"},
	[VECTOR_METRIC_COSINE] = {"cosine", NULL, "<=>"},
	[VECTOR_METRIC_L1] = {"l1", "manhattan", "<+>"},
	[VECTOR_METRIC_CANBERRA] = {"canberra", NULL, "</>"},
	[VECTOR_METRIC_BRAY_CURTIS] = {"bray_curtis", NULL, "<|>"},
	[VECTOR_METRIC_CORRELATION] = {"correlation", NULL, "<^>"},
};

/*
 * Does given spell name, ignoring case and reading a hyphen in given as an
 * underscore?
 */
static bool
NameMatches(const char *given, const char *name)
{
	for (;; given++, name++)
	{
		char		c = pg_tolower((unsigned char) *given);

		if (c == '-')
			c = '_';
		if (c != *name)
			return false;
		if (c == '\0')
			return true;
	}
}

/*
 * Return the metric name names: a metric's name, its alias or its
 * operator (see the file header).  Anything else is an error listing every
 * spelling.
 */
VectorMetric
VectorMetricFromName(const char *name)
{
	StringInfoData valid;

	for (int i = 0; i < lengthof(metrics); i++)
	{
		if (NameMatches(name, metrics[i].name) ||
			(metrics[i].alias != NULL && NameMatches(name, metrics[i].alias)) ||
			strcmp(name, metrics[i].operator) == 0)
			return (VectorMetric) i;
	}

	/* "l2" ("euclidean", "<->"), ... and "correlation" ("<^>") */
	initStringInfo(&valid);
	for (int i = 0; i < lengthof(metrics); i++)
	{
		if (i > 0)
			appendStringInfoString(&valid,
								   i == lengthof(metrics) - 1 ? " and " : ", ");
		appendStringInfo(&valid, "\"%s\" (", metrics[i].name);
		if (metrics[i].alias != NULL)
			appendStringInfo(&valid, "\"%s\", ", metrics[i].alias);
		appendStringInfo(&valid, "\"%s\")", metrics[i].operator);
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unrecognized metric \"%s\"", name),
			 errhint("Valid metrics are %s.", valid.data)));
	pg_unreachable();
}

/* Return the name of a metric, as in its operator class vector_<name>_ops */
const char *
VectorMetricName(VectorMetric metric)
{
	return metrics[metric].name;
}

/* Return the operator of a metric, unqualified ("<->") */
const char *
VectorMetricOperator(VectorMetric metric)
{
	return metrics[metric].operator;
}

/*
 * hnsw._metric(metric text, OUT name text, OUT operator text)
 *
 * The metric a name names, for the SQL functions that take one: its name
 * and its operator, or the error of VectorMetricFromName.  A null is an
 * error too (hnsw.search and hnsw.search_batch alone read it as "l2").
 */
PG_FUNCTION_INFO_V1(hnsw_metric);
Datum
hnsw_metric(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	VectorMetric metric;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("metric must not be null")));
	metric = VectorMetricFromName(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = CStringGetTextDatum(VectorMetricName(metric));
	values[1] = CStringGetTextDatum(VectorMetricOperator(metric));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
