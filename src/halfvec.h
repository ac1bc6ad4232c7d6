/*-------------------------------------------------------------------------
 *
 * halfvec.h
 *	  The halfvec type: vectors of IEEE 754 half-precision (binary16)
 *	  elements; on-disk layout, limits and cross-file prototypes.
 *
 * The layout is pgvector's, byte for byte: a varlena header, int16
 * dimensions, int16 reserved (zero), then the elements as uint16 codes in
 * the machine's byte order, with no padding after them.
 *
 * src/halfvec.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_HALFVEC_H
#define HNSW_HALFVEC_H

#include "fmgr.h"

#define HALFVEC_MAX_DIM 16000

/* Size of a halfvec of dim elements, header included */
#define HALFVEC_SIZE(dim)	(offsetof(HalfVector, x) + sizeof(uint16) * (dim))

#define DatumGetHalfVector(x)	((HalfVector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_HALFVEC_P(x)	DatumGetHalfVector(PG_GETARG_DATUM(x))
#define PG_RETURN_HALFVEC_P(x)	PG_RETURN_POINTER(x)

typedef struct HalfVector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of elements */
	int16		unused;			/* reserved, always zero */
	uint16		x[FLEXIBLE_ARRAY_MEMBER];	/* binary16 codes */
} HalfVector;

/* halfvec.c */
extern HalfVector *InitHalfVector(int dim);

/* halfvec.c: SQL functions that other files call directly or recognise */
extern PGDLLEXPORT Datum halfvec_in(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum halfvec_l2_squared_distance(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum halfvec_negative_inner_product(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum halfvec_cosine_distance(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum halfvec_l1_distance(PG_FUNCTION_ARGS);

#endif							/* HNSW_HALFVEC_H */
