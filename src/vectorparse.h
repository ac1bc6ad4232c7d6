/*-------------------------------------------------------------------------
 *
 * vectorparse.h
 *	  Server-independent parsing of the vector text and binary forms.
 *
 * These functions neither allocate nor throw: they report what went wrong
 * as a VectorParseStatus, and vector.c turns that into an ereport.  Keeping
 * them free of backend dependencies lets the fuzzers in test/fuzz link them
 * directly.
 *
 * src/vectorparse.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_VECTORPARSE_H
#define HNSW_VECTORPARSE_H

#include <stddef.h>

typedef enum VectorParseStatus
{
	VECTOR_PARSE_OK = 0,
	VECTOR_PARSE_SYNTAX,		/* malformed text */
	VECTOR_PARSE_EMPTY,			/* "[]" */
	VECTOR_PARSE_TOO_MANY,		/* more than maxdim elements */
	VECTOR_PARSE_OUT_OF_RANGE,	/* element overflows float4 */
	VECTOR_PARSE_NAN,			/* NaN element */
	VECTOR_PARSE_INFINITE,		/* Infinity element */
	VECTOR_PARSE_BAD_DIM,		/* binary: dimension out of range */
	VECTOR_PARSE_WRONG_DIM,		/* binary: dimension is not the expected one */
	VECTOR_PARSE_BAD_UNUSED,	/* binary: reserved field not zero */
	VECTOR_PARSE_SHORT			/* binary: fewer bytes than the header says */
} VectorParseStatus;

/*
 * Result of a parse.  On success, "dim" is the number of elements and "pos"
 * the number of bytes consumed (binary) or the length of the text.  On
 * failure, "pos" is the offset into the input where the problem was found;
 * "dim" is the 0-based index of the offending element (NaN, Infinity, out
 * of range), the dimension read (BAD_DIM, WRONG_DIM) or the reserved
 * field's value (BAD_UNUSED).
 */
typedef struct VectorParseResult
{
	VectorParseStatus status;
	int			dim;
	size_t		pos;
} VectorParseResult;

extern int	VectorTextMaxDim(const char *str, int limit);
extern VectorParseResult VectorParseText(const char *str, float *out,
										 int maxdim);
extern int	VectorBinaryMaxDim(const unsigned char *buf, size_t len,
							   int limit);
extern VectorParseResult VectorParseBinary(const unsigned char *buf,
										   size_t len, float *out,
										   int maxdim, int expdim);

#endif							/* HNSW_VECTORPARSE_H */
