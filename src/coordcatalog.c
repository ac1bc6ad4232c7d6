/*-------------------------------------------------------------------------
 *
 * coordcatalog.c
 *	  Describe a distributed table from the catalogs: its foreign
 *	  partitions, their servers and remote names, LIST bounds, and the
 *	  replicas declared in hnsw.replicas.
 *
 * Nothing here talks to a shard.  All names sent to shards are quoted here
 * with quote_identifier.
 *
 * A description is cached per backend (a search needs one per call, and
 * building it reads hnsw.replicas and several catalogs), and rebuilt after
 * an invalidation of the table, one of its partitions or hnsw.replicas
 * (whose trigger sends one for every change), or of any foreign table,
 * foreign server, wrapper or schema.
 *
 * src/coordcatalog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "coord.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "commands/trigger.h"
#include "catalog/namespace.h"

/* One cached description */
typedef struct TableCacheEntry
{
	Oid			relid;			/* hash key */
	bool		valid;
	MemoryContext cxt;			/* holds table; child of CacheMemoryContext */
	CoordTable *table;
	int			nparts;
	Oid		   *partoids;		/* in cxt */
} TableCacheEntry;

static HTAB *TableCache = NULL;

/* Bumped by every invalidation that may concern a cached description */
static uint64 table_inval_count = 0;

/* hnsw.replicas, once a description was built */
static Oid	replicas_relid = InvalidOid;

static CoordTable *DescribeTable(Oid relid);
static void TableRelcacheCallback(Datum arg, Oid relid);
static void TableSyscacheCallback(Datum arg, int cacheid, uint32 hashvalue);
static bool IsPostgresFdwServer(ForeignServer *server);
static char *OptionValue(List *options, const char *name);
static CoordPart *DescribePart(CoordTable *table, Oid partid, Oid *serverid);
static int64 IntegerDatum(Datum value, Oid type);

/*
 * Describe the distributed table relid.
 *
 * Takes AccessShareLock on the table and on every partition, held to the
 * end of the transaction, so the description stays true while it is used.
 * The description is the backend's cached one: the caller may change only
 * the per-search fields of its CoordParts (selected, want, want_all), and
 * must not keep it past its own call.
 */
CoordTable *
CoordGetTable(Oid relid)
{
	TableCacheEntry *entry;
	MemoryContext cxt;
	MemoryContext oldcxt;
	CoordTable *table;
	uint64		inval_count;
	bool		found;
	ListCell   *lc;
	ListCell   *lc2;
	int			i;

	if (TableCache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TableCacheEntry);
		ctl.hcxt = CacheMemoryContext;
		TableCache = hash_create("hnsw distributed tables", 8, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(TableRelcacheCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(FOREIGNTABLEREL, TableSyscacheCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, TableSyscacheCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(FOREIGNDATAWRAPPEROID, TableSyscacheCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, TableSyscacheCallback, (Datum) 0);
	}

	/* the locks; taking them processes pending invalidations */
	LockRelationOid(relid, AccessShareLock);
	entry = hash_search(TableCache, &relid, HASH_FIND, NULL);
	if (entry != NULL && entry->valid)
	{
		for (i = 0; i < entry->nparts; i++)
			LockRelationOid(entry->partoids[i], AccessShareLock);
		if (entry->valid)
			return entry->table;
	}

	/* (re)build, in a context of its own */
	cxt = AllocSetContextCreate(CacheMemoryContext, "hnsw distributed table",
								ALLOCSET_SMALL_SIZES);
	inval_count = table_inval_count;
	oldcxt = MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		table = DescribeTable(relid);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);

	entry = hash_search(TableCache, &relid, HASH_ENTER, &found);
	if (found)
		MemoryContextDelete(entry->cxt);
	entry->cxt = cxt;
	entry->table = table;
	entry->nparts = table->nparts;
	entry->partoids = MemoryContextAlloc(cxt, sizeof(Oid) * (table->nparts + 1));
	i = 0;
	foreach(lc, table->shards)
	{
		foreach(lc2, ((CoordShard *) lfirst(lc))->parts)
			entry->partoids[i++] = ((CoordPart *) lfirst(lc2))->relid;
	}
	/* an invalidation while building: use it this once, rebuild next time */
	entry->valid = (inval_count == table_inval_count);
	return table;
}

/* Mark the cached descriptions that relid (InvalidOid: all) may concern */
static void
TableRelcacheCallback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	TableCacheEntry *entry;
	int			i;

	table_inval_count++;
	hash_seq_init(&status, TableCache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (relid == InvalidOid || relid == entry->relid ||
			relid == replicas_relid)
			entry->valid = false;
		for (i = 0; i < entry->nparts && entry->valid; i++)
		{
			if (entry->partoids[i] == relid)
				entry->valid = false;
		}
	}
}

/* A foreign table, server, wrapper or schema changed: forget them all */
static void
TableSyscacheCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	TableCacheEntry *entry;

	table_inval_count++;
	hash_seq_init(&status, TableCache);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

/*
 * Build the description of relid in the current memory context, taking the
 * locks CoordGetTable describes.
 */
static CoordTable *
DescribeTable(Oid relid)
{
	Relation	rel;
	PartitionKey key;
	PartitionDesc pd;
	CoordTable *table;
	List	  **values;
	List	   *replicas;
	int			i;

	rel = table_open(relid, AccessShareLock);
	table = palloc0(sizeof(CoordTable));
	table->relid = relid;
	table->relname = pstrdup(RelationGetRelationName(rel));

	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a partitioned table", table->relname),
				 errhint("A distributed table is a partitioned table whose partitions are postgres_fdw foreign tables.")));

	key = RelationGetPartitionKey(rel);
	if (key->partnatts != 1 || key->partattrs[0] == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("distributed table \"%s\" must be partitioned by one column",
						table->relname)));
	table->partattnum = key->partattrs[0];
	table->parttype = key->parttypid[0];
	table->is_list = (key->strategy == PARTITION_STRATEGY_LIST);
	table->tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));

	replicas = CoordGetReplicas();
	pd = RelationGetPartitionDesc(rel, true);
	if (pd->nparts == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("distributed table \"%s\" has no partitions", table->relname)));

	/* the LIST values each partition holds, by partition index */
	values = palloc0(sizeof(List *) * pd->nparts);
	if (table->is_list && pd->boundinfo != NULL &&
		(table->parttype == INT2OID || table->parttype == INT4OID ||
		 table->parttype == INT8OID))
	{
		PartitionBoundInfo bi = pd->boundinfo;

		for (i = 0; i < bi->ndatums; i++)
		{
			int64	   *v = palloc(sizeof(int64));

			*v = IntegerDatum(bi->datums[i][0], table->parttype);
			values[bi->indexes[i]] = lappend(values[bi->indexes[i]], v);
		}
	}

	for (i = 0; i < pd->nparts; i++)
	{
		CoordPart  *part;
		CoordShard *shard = NULL;
		Oid			serverid;
		ListCell   *lc;
		int			j;

		LockRelationOid(pd->oids[i], AccessShareLock);
		part = DescribePart(table, pd->oids[i], &serverid);
		part->is_default = (pd->boundinfo != NULL &&
							pd->boundinfo->default_index == i);
		part->nvalues = list_length(values[i]);
		part->values = palloc(sizeof(int64) * (part->nvalues + 1));
		j = 0;
		foreach(lc, values[i])
			part->values[j++] = *(int64 *) lfirst(lc);

		foreach(lc, table->shards)
		{
			if (((CoordShard *) lfirst(lc))->serverid == serverid)
				shard = lfirst(lc);
		}
		if (shard == NULL)
		{
			shard = palloc0(sizeof(CoordShard));
			shard->serverid = serverid;
			shard->name = pstrdup(GetForeignServer(serverid)->servername);
			shard->ncopies = 1;
			foreach(lc, replicas)
				shard->ncopies += (strcmp(linitial(lfirst(lc)), shard->name) == 0);
			shard->copies = palloc(sizeof(Oid) * shard->ncopies);
			shard->copynames = palloc(sizeof(char *) * shard->ncopies);
			shard->copies[0] = serverid;
			shard->copynames[0] = shard->name;
			j = 1;
			foreach(lc, replicas)
			{
				char	   *replica = lsecond(lfirst(lc));

				if (strcmp(linitial(lfirst(lc)), shard->name) != 0)
					continue;
				shard->copynames[j] = replica;
				shard->copies[j] = CoordGetPostgresFdwServer(replica, false);
				j++;
			}
			table->shards = lappend(table->shards, shard);
		}
		shard->parts = lappend(shard->parts, part);
		table->nparts++;
	}

	table_close(rel, NoLock);

	if (!OidIsValid(replicas_relid))
		replicas_relid = get_relname_relid("replicas", get_namespace_oid("hnsw", false));
	return table;
}

/*
 * Return the rows of hnsw.replicas as two-element lists (shard server name,
 * replica server name), in name order, palloc'd in the caller's memory
 * context.  One read per search: the table is small, and the query's plan
 * is prepared once per backend (the plan cache replans it if the table is
 * recreated).
 */
List *
CoordGetReplicas(void)
{
	static SPIPlanPtr plan = NULL;
	MemoryContext callercxt = CurrentMemoryContext;
	List	   *result = NIL;
	uint64		i;

	SPI_connect();
	if (plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("SELECT shard_server::text, replica_server::text "
									"FROM hnsw.replicas ORDER BY 1, 2", 0, NULL);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the query of hnsw.replicas: %s",
				 SPI_result_code_string(SPI_result));
		plan = p;
	}
	if (SPI_execute_plan(plan, NULL, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read hnsw.replicas");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *shard = SPI_getvalue(tup, desc, 1);
		char	   *replica = SPI_getvalue(tup, desc, 2);
		MemoryContext spicxt = MemoryContextSwitchTo(callercxt);

		/* the list outlives SPI_finish */
		result = lappend(result, list_make2(pstrdup(shard), pstrdup(replica)));
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	return result;
}

/*
 * Look up a foreign server of the postgres_fdw wrapper by name.  Returns
 * InvalidOid if it does not exist and missing_ok; raises an error otherwise,
 * and always when the server belongs to another wrapper.
 */
Oid
CoordGetPostgresFdwServer(const char *servername, bool missing_ok)
{
	ForeignServer *server = GetForeignServerByName(servername, true);

	if (server == NULL)
	{
		if (missing_ok)
			return InvalidOid;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("server \"%s\" does not exist", servername)));
	}
	if (!IsPostgresFdwServer(server))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a postgres_fdw server", servername)));
	return server->serverid;
}

/* Does server belong to the postgres_fdw wrapper? */
static bool
IsPostgresFdwServer(ForeignServer *server)
{
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);

	return strcmp(fdw->fdwname, "postgres_fdw") == 0;
}

/* Return the value of option name in a DefElem list, or NULL */
static char *
OptionValue(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

/*
 * Describe one partition: it must be a postgres_fdw foreign table.  Its
 * remote names follow postgres_fdw's options (schema_name, table_name,
 * column_name), defaulting to the local names.
 */
static CoordPart *
DescribePart(CoordTable *table, Oid partid, Oid *serverid)
{
	CoordPart  *part = palloc0(sizeof(CoordPart));
	ForeignTable *ft;
	ForeignServer *server;
	char	   *nspname;
	char	   *relname;
	int			i;

	part->relid = partid;
	part->relname = get_rel_name(partid);
	if (get_rel_relkind(partid) != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("partition \"%s\" of distributed table \"%s\" is not a foreign table",
						part->relname, table->relname),
				 errhint("Every partition of a distributed table must be a postgres_fdw foreign table.")));

	ft = GetForeignTable(partid);
	server = GetForeignServer(ft->serverid);
	if (!IsPostgresFdwServer(server))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("partition \"%s\" of distributed table \"%s\" is not a postgres_fdw foreign table",
						part->relname, table->relname)));
	*serverid = ft->serverid;

	nspname = OptionValue(ft->options, "schema_name");
	if (nspname == NULL)
		nspname = get_namespace_name(get_rel_namespace(partid));
	relname = OptionValue(ft->options, "table_name");
	if (relname == NULL)
		relname = part->relname;
	part->remote_table = psprintf("%s.%s", quote_identifier(nspname),
								  quote_identifier(relname));

	part->remote_cols = palloc0(sizeof(char *) * table->tupdesc->natts);
	for (i = 0; i < table->tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(table->tupdesc, i);
		AttrNumber	attnum;
		char	   *colname;

		if (attr->attisdropped)
			continue;
		attnum = get_attnum(partid, NameStr(attr->attname));
		colname = OptionValue(GetForeignColumnOptions(partid, attnum),
							  "column_name");
		if (colname == NULL)
			colname = NameStr(attr->attname);
		part->remote_cols[i] = pstrdup(quote_identifier(colname));
		if (attr->attnum == table->partattnum)
			part->remote_partcol = part->remote_cols[i];
	}
	return part;
}

/* Convert an integer partition bound datum to int64 */
static int64
IntegerDatum(Datum value, Oid type)
{
	switch (type)
	{
		case INT2OID:
			return DatumGetInt16(value);
		case INT4OID:
			return DatumGetInt32(value);
		default:
			return DatumGetInt64(value);
	}
}

/*
 * Trigger of hnsw.replicas: every change invalidates the cached
 * descriptions of distributed tables, in this backend at once and in the
 * others when the transaction commits.
 */
PG_FUNCTION_INFO_V1(hnsw_replicas_changed);
Datum
hnsw_replicas_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	/* SQL cannot call a function returning trigger otherwise */
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "hnsw._replicas_changed called not as a trigger");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
