/*-------------------------------------------------------------------------
 *
 * metric.h
 *	  Metric names: the one vocabulary in which a caller names a distance
 *	  (the metric argument of hnsw.search, hnsw.search_batch,
 *	  hnsw.exact_search, hnsw.exact_knn, hnsw.evaluate_recall and
 *	  hnsw.create_distributed_table).
 *
 * src/metric.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_METRIC_H
#define HNSW_METRIC_H

/* The distances a metric names: each is one operator on vector */
typedef enum VectorMetric
{
	VECTOR_METRIC_L2,			/* <->, l2_distance */
	VECTOR_METRIC_IP,			/* <#>, the negative inner product */
	VECTOR_METRIC_COSINE,		/* <=>, cosine_distance */
	VECTOR_METRIC_L1,			/* <+>, l1_distance */
	VECTOR_METRIC_CANBERRA,		/* </>, canberra_distance */
	VECTOR_METRIC_BRAY_CURTIS,	/* <|>, bray_curtis_distance */
	VECTOR_METRIC_CORRELATION	/* <^>, correlation_distance */
} VectorMetric;

/* metric.c */
extern VectorMetric VectorMetricFromName(const char *name);
extern const char *VectorMetricName(VectorMetric metric);
extern const char *VectorMetricOperator(VectorMetric metric);

#endif							/* HNSW_METRIC_H */
