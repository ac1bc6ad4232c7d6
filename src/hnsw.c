/*-------------------------------------------------------------------------
 *
 * hnsw.c
 *	  Library entry point: _PG_init, and everything chosen once at load.
 *
 * src/hnsw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "coord.h"
#include "distance.h"
#include "fmgr.h"
#include "utils/builtins.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Choose the distance kernels for this CPU.  Runs once per backend, when
 * the library is first loaded.
 */
void
_PG_init(void)
{
	DistanceInit();
	CoordInit();
}

/*
 * Report which distance kernel set this backend uses ("scalar", "avx2" or
 * "avx512"), for the README's troubleshooting section and the tests.
 */
PG_FUNCTION_INFO_V1(hnsw_distance_kernels);
Datum
hnsw_distance_kernels(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(distance_kernels->name));
}
