/*-------------------------------------------------------------------------
 *
 * vectortype.h
 *	  Which of this extension's vector types a type is, and what a value of
 *	  it holds, for code that takes any of them (the coordinator's searches,
 *	  exact search).
 *
 * src/vectortype.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_VECTORTYPE_H
#define HNSW_VECTORTYPE_H

#include "fmgr.h"

/* This extension's vector types; NONE: any other type */
typedef enum VectorType
{
	VECTOR_TYPE_NONE,
	VECTOR_TYPE_VECTOR,
	VECTOR_TYPE_HALFVEC,
	VECTOR_TYPE_SPARSEVEC
} VectorType;

/* vectortype.c */
extern VectorType VectorTypeOf(Oid typid);
extern int	VectorTypeDims(VectorType type, Datum value);
extern float *VectorTypeFloats(VectorType type, Datum value);

#endif							/* HNSW_VECTORTYPE_H */
