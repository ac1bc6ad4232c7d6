/*-------------------------------------------------------------------------
 *
 * vector.h
 *	  The vector type: on-disk layout, limits and cross-file prototypes,
 *	  those of the array functions (arrayops.c) among them.
 *
 * The layout is pgvector's, byte for byte, so that dumps, binary COPY and
 * client adapters written for pgvector work unchanged.
 *
 * src/vector.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_VECTOR_H
#define HNSW_VECTOR_H

#include "fmgr.h"

#define VECTOR_MAX_DIM 16000

/* Size of a vector of dim elements, header included */
#define VECTOR_SIZE(dim)	(offsetof(Vector, x) + sizeof(float) * (dim))

#define DatumGetVector(x)		((Vector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_VECTOR_P(x)	DatumGetVector(PG_GETARG_DATUM(x))
#define PG_RETURN_VECTOR_P(x)	PG_RETURN_POINTER(x)

typedef struct Vector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of elements */
	int16		unused;			/* reserved, always zero */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Vector;

/* vector.c */
extern Vector *InitVector(int dim);
extern void VectorCheckDim(int dim);
extern void VectorCheckDims(const Vector *a, const Vector *b);
extern void VectorCheckElement(float value);

/*
 * vector.c: SQL functions that other files call directly or recognise by
 * their address (an operator class's support function, an operator's)
 */
extern PGDLLEXPORT Datum vector_in(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum array_to_vector(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum vector_to_float4(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum l2_distance(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum vector_l2_squared_distance(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum vector_negative_inner_product(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum cosine_distance(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum l1_distance(PG_FUNCTION_ARGS);

/* arrayops.c: real[] and double precision[] as vectors */
extern Vector *HnswArrayToVector(Datum array);
extern Datum HnswVectorToArray(const Vector *vec);
extern PGDLLEXPORT Datum array_l2_squared_distance(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum array_negative_inner_product(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum array_l1_distance(PG_FUNCTION_ARGS);

#endif							/* HNSW_VECTOR_H */
