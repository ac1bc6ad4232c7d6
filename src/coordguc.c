/*-------------------------------------------------------------------------
 *
 * coordguc.c
 *	  Settings of the distributed k-NN coordinator.
 *
 *	  hnsw.shard_timeout          ms one copy of a shard may take to connect
 *	                              and answer before the next copy is tried
 *	  hnsw.allow_partial_results  return what the answering shards found,
 *	                              with a WARNING, when no copy of some shard
 *	                              answers
 *	  hnsw.shard_retry_interval   ms a copy that failed is tried only after
 *	                              the healthy ones
 *	  hnsw.hedge_delay            ms a search waits for one copy of a shard
 *	                              before asking another copy too; -1 derives
 *	                              it from the latencies observed, 0 never
 *
 * src/coordguc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "coord.h"
#include "utils/guc.h"

int			coord_shard_timeout = 10000;
bool		coord_allow_partial_results = false;
int			coord_retry_interval = 30000;
int			coord_hedge_delay = -1;

/*
 * Define the coordinator's GUCs.  Called once from _PG_init.
 */
void
CoordInit(void)
{
	DefineCustomIntVariable("hnsw.shard_timeout",
							"Sets the time one copy of a shard may take to answer a distributed search.",
							"When it passes, the query on that copy is cancelled and the next copy "
							"is tried.  Zero waits without limit.",
							&coord_shard_timeout,
							10000, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("hnsw.allow_partial_results",
							 "Lets a distributed search return the rows of the shards that answered.",
							 "When off, a shard none of whose copies answers makes the search fail.",
							 &coord_allow_partial_results,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("hnsw.shard_retry_interval",
							"Sets how long a copy of a shard that failed is tried only after the others.",
							NULL,
							&coord_retry_interval,
							30000, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("hnsw.hedge_delay",
							"Sets how long a distributed search waits for one copy of a shard before asking another copy too.",
							"The first answer is used and the other copy's connection is closed.  "
							"-1 derives the delay from each copy's observed latencies; 0 turns hedging off.",
							&coord_hedge_delay,
							-1, -1, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
}
