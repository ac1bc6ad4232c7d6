/*-------------------------------------------------------------------------
 *
 * sparsevec.h
 *	  The sparsevec type: on-disk layout, limits and cross-file prototypes.
 *
 * The layout is pgvector's, byte for byte, so that dumps, binary COPY and
 * client adapters written for pgvector work unchanged: the header, then
 * nnz 0-based indices in strictly ascending order, then nnz values, none
 * of them zero, NaN or infinite.
 *
 * src/sparsevec.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_SPARSEVEC_H
#define HNSW_SPARSEVEC_H

#include "fmgr.h"

#define SPARSEVEC_MAX_DIM	1000000000
#define SPARSEVEC_MAX_NNZ	16000

#define DatumGetSparseVector(x)		((SparseVector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_SPARSEVEC_P(x)	DatumGetSparseVector(PG_GETARG_DATUM(x))
#define PG_RETURN_SPARSEVEC_P(x)	PG_RETURN_POINTER(x)

typedef struct SparseVector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int32		dim;			/* number of dimensions */
	int32		nnz;			/* number of non-zero elements */
	int32		unused;			/* reserved, always zero */
	int32		indices[FLEXIBLE_ARRAY_MEMBER]; /* then float values[nnz] */
} SparseVector;

/*
 * Size of a sparse vector of nnz elements, header included.  nnz is at most
 * SPARSEVEC_MAX_NNZ wherever this is used, so nothing can overflow.
 */
#define SPARSEVEC_SIZE(nnz) \
	(offsetof(SparseVector, indices) + (sizeof(int32) + sizeof(float)) * (Size) (nnz))

/* The values, after the indices */
#define SPARSEVEC_VALUES(v) \
	((float *) ((char *) (v)->indices + sizeof(int32) * (Size) (v)->nnz))

/* sparsevec.c */
extern SparseVector *InitSparseVector(int dim, int nnz);

/* sparsevec.c: SQL functions that other files call directly or recognise */
extern PGDLLEXPORT Datum sparsevec_in(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum sparsevec_l2_squared_distance(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum sparsevec_negative_inner_product(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum sparsevec_cosine_distance(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum sparsevec_l1_distance(PG_FUNCTION_ARGS);

#endif							/* HNSW_SPARSEVEC_H */
