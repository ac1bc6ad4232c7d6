/*-------------------------------------------------------------------------
 *
 * bitvec.h
 *	  The SQL functions of bitvec.c that other files call directly or
 *	  recognise (the hnsw index's distances over bit).
 *
 * src/bitvec.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_BITVEC_H
#define HNSW_BITVEC_H

#include "fmgr.h"

extern PGDLLEXPORT Datum hamming_distance(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum jaccard_distance(PG_FUNCTION_ARGS);

#endif							/* HNSW_BITVEC_H */
