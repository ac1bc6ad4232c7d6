/*-------------------------------------------------------------------------
 *
 * bitvec.c
 *	  Distances over PostgreSQL's bit(n) type, and binary quantization of
 *	  vectors into it: pgvector's hamming_distance, jaccard_distance and
 *	  binary_quantize, with its results and SQLSTATEs.
 *
 * The popcounts are the kernels of bitdistance.c.  PostgreSQL keeps the
 * padding bits of the last byte zero, so whole bytes may be counted.
 *
 * Memory: results in the caller's (per-call) memory context.
 *
 * src/bitvec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "bitdistance.h"
#include "bitvec.h"
#include "utils/varbit.h"
#include "vector.h"

/*
 * Raise an error unless two bit strings have the same length.
 */
static void
CheckLengths(const VarBit *a, const VarBit *b)
{
	if (VARBITLEN(a) != VARBITLEN(b))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different bit lengths %d and %d",
						VARBITLEN(a), VARBITLEN(b))));
}

/*
 * The number of positions at which a and b differ.
 */
PG_FUNCTION_INFO_V1(hamming_distance);
Datum
hamming_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);

	CheckLengths(a, b);
	PG_RETURN_FLOAT8((double) BitKernelsChosen()->hamming(VARBITS(a), VARBITS(b),
														  VARBITBYTES(a)));
}

/*
 * 1 - |a AND b| / |a OR b|, counting set bits; 1 when no bit is set in
 * both (so also when neither has any), as pgvector defines it.
 */
PG_FUNCTION_INFO_V1(jaccard_distance);
Datum
jaccard_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);
	uint64_t	both;
	uint64_t	either;

	CheckLengths(a, b);
	BitKernelsChosen()->jaccard(VARBITS(a), VARBITS(b), VARBITBYTES(a),
								&both, &either);
	if (both == 0)
		PG_RETURN_FLOAT8(1.0);
	PG_RETURN_FLOAT8(1.0 - (double) both / (double) either);
}

/*
 * The bit string of a vector's signs: bit i is 1 where element i is
 * greater than zero.
 */
PG_FUNCTION_INFO_V1(binary_quantize);
Datum
binary_quantize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Size		size = VARBITTOTALLEN(a->dim);
	VarBit	   *result = (VarBit *) palloc0(size);
	bits8	   *r = VARBITS(result);

	SET_VARSIZE(result, size);
	VARBITLEN(result) = a->dim;
	for (int i = 0; i < a->dim; i++)
		if (a->x[i] > 0)
			r[i / 8] |= (bits8) (0x80 >> (i % 8));
	PG_RETURN_VARBIT_P(result);
}
