/*-------------------------------------------------------------------------
 *
 * coordmove.c
 *	  What hnsw.move_partition needs besides SQL on the shards (the steps
 *	  themselves are PL/pgSQL, src/sql/move.sql; see src/README "Moving
 *	  partitions"):
 *
 *	  hnsw._move_copy copies the rows of one partition value from the
 *	  source's shard table to the new table on the target, as COPY data,
 *	  under one REPEATABLE READ snapshot of the source, and returns that
 *	  snapshot;
 *	  hnsw._move_apply replays on the target what the source's logical
 *	  replication slot decoded since it was made (pgoutput, read through
 *	  pg_logical_slot_get_binary_changes), skipping the transactions the
 *	  copy's snapshot saw already;
 *	  hnsw._move_hold keeps the distributed table locked (a session lock)
 *	  across the commit of the switch, until the moved rows are gone from
 *	  the source;
 *	  hnsw._partition_values and hnsw._prevent_transaction_block are small
 *	  catalog and transaction helpers.
 *
 * The coordinator is the only party: the shards never connect to each
 * other, and need nothing but what the coordinator's user mappings give
 * (on the source, REPLICATION and ownership of its table).  Every remote
 * wait is on the latch and one socket (CoordCopyWait), so cancel and
 * statement_timeout work; connections are the coordinator's cached ones,
 * marked busy while in use, so an error closes them and the shards roll
 * back what was in flight.  All of it is remote work under the caller's
 * user mappings: EXECUTE is revoked from PUBLIC.
 *
 * src/coordmove.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "coord.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "port/pg_bswap.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"

/*
 * Settings of every session that writes or reads rows as text, on the
 * source and the target alike, so that a value reads back as it was
 * written and compares equal as text (src/README "Moving partitions").
 */
#define MOVE_SETTINGS \
	"SET LOCAL datestyle = ISO; SET LOCAL intervalstyle = postgres; " \
	"SET LOCAL extra_float_digits = 3; SET LOCAL timezone = UTC; " \
	"SET LOCAL bytea_output = hex"
#define MOVE_NSETTINGS 5

/* Rows sent to the target in chunks of about this many bytes */
#define MOVE_COPY_CHUNK		(64 * 1024)

/* Changes decoded per call of pg_logical_slot_get_binary_changes */
#define MOVE_DECODE_BATCH	10000

/* Statements sent to the target in batches of about this many bytes */
#define MOVE_APPLY_BATCH	(1024 * 1024)

/* The copy's snapshot, 32-bit: what the slot reports are 32-bit xids */
typedef struct MoveSnapshot
{
	TransactionId xmin;
	TransactionId xmax;
	int			nxip;
	TransactionId *xip;
} MoveSnapshot;

/* The published relation, from pgoutput's Relation message */
typedef struct MoveRelation
{
	MemoryContext cxt;			/* where the columns are kept */
	uint32		relid;			/* the source's OID, 0 until known */
	int			ncols;
	char	  **cols;			/* quoted column names */
	Oid		   *types;			/* the source's type OIDs */
} MoveRelation;

/* One column of a pgoutput tuple */
typedef struct MoveValue
{
	char		kind;			/* 'n' null, 'u' unchanged TOAST, 't' text */
	char	   *text;			/* 't': the value, NUL-terminated */
} MoveValue;

/* Reads one pgoutput message, checking every length */
typedef struct MoveReader
{
	const char *data;
	int			len;
	int			pos;
	const char *server;
} MoveReader;

/* What each statement of a batch must report */
typedef enum MoveExpect
{
	MOVE_EXPECT_ONE,			/* exactly one row */
	MOVE_EXPECT_ANY				/* TRUNCATE */
} MoveExpect;

/* Statements for the target not sent yet */
typedef struct MoveBatch
{
	StringInfoData sql;			/* BEGIN, settings, statements */
	int			nstmts;
	int			maxstmts;
	int		   *starts;			/* offset of each statement in sql */
	MoveExpect *expect;
	const char *table;			/* the target table, quoted */
	uint64		applied;		/* changes applied in all batches */
} MoveBatch;

static Oid	held_relid = InvalidOid;
static bool hold_callback_registered = false;

static CoordShard *MoveShard(const char *name);
static char *QualifiedName(Name schema, Name table);
static void RunSimple(CoordCopy *cs, const char *sql);
static void ParseSnapshot(const char *text, MoveSnapshot *snap);
static bool XidVisible(MoveSnapshot *snap, TransactionId xid);
static void Malformed(MoveReader *r) pg_attribute_noreturn();
static uint8 ReadByte(MoveReader *r);
static int16 ReadInt16(MoveReader *r);
static uint32 ReadInt32(MoveReader *r);
static uint64 ReadInt64(MoveReader *r);
static char *ReadString(MoveReader *r);
static MoveValue *ReadTuple(MoveReader *r, MoveRelation *rel);
static void ApplyMessage(MoveReader *r, MoveRelation *rel, bool *skip,
						 MoveSnapshot *snap, const char *srcnsp,
						 const char *srcname, MoveBatch *batch);
static void AppendMatch(StringInfo sql, MoveRelation *rel, MoveValue *old,
						const char *table);
static void BatchStatement(MoveBatch *batch, MoveExpect expect);
static void BatchSend(CoordCopy *cs, MoveBatch *batch);
static void MoveHoldCallback(XactEvent event, void *arg);

/*
 * hnsw._move_copy(source name, source_schema name, source_table name,
 *				   part_column name, value bigint, target name,
 *				   target_schema name, target_table name,
 *				   OUT snapshot text, OUT row_count bigint)
 *
 * Copy the rows of source_schema.source_table on server source whose
 * part_column is value into target_schema.target_table on server target
 * (same columns, in the same order), and return the snapshot of the
 * source they were read under (pg_current_snapshot's text) and their
 * number.  The rows go as COPY text, read from the source's COPY TO and
 * handed to the target's COPY FROM in chunks of MOVE_COPY_CHUNK, so
 * memory is bounded whatever their number; the target's transaction
 * commits only when all arrived, and must have stored as many rows as the
 * source sent.  The snapshot is taken after the caller made the source's
 * replication slot: every transaction the slot decodes either is in the
 * snapshot (its rows were copied) or is not (hnsw._move_apply replays it).
 */
PG_FUNCTION_INFO_V1(hnsw_move_copy);
Datum
hnsw_move_copy(PG_FUNCTION_ARGS)
{
	char	   *srcqual = QualifiedName(PG_GETARG_NAME(1), PG_GETARG_NAME(2));
	char	   *partcol = NameStr(*PG_GETARG_NAME(3));
	int64		value = PG_GETARG_INT64(4);
	char	   *tgtqual = QualifiedName(PG_GETARG_NAME(6), PG_GETARG_NAME(7));
	CoordCopy	cs[2];
	CoordCopy  *src = &cs[0];
	CoordCopy  *tgt = &cs[1];
	char	   *src_sql;
	char	   *tgt_sql;
	char	   *snapshot = NULL;
	uint64		copied;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	memset(cs, 0, sizeof(cs));
	src->shard = MoveShard(NameStr(*PG_GETARG_NAME(0)));
	src->source = true;
	tgt->shard = MoveShard(NameStr(*PG_GETARG_NAME(5)));
	initStringInfo(&src->buf);
	initStringInfo(&tgt->buf);

	src_sql = psprintf("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; %s; "
					   "SELECT pg_catalog.pg_current_snapshot()::pg_catalog.text; "
					   "COPY (SELECT * FROM %s WHERE %s = " INT64_FORMAT ") TO STDOUT; "
					   "COMMIT",
					   MOVE_SETTINGS, srcqual, quote_identifier(partcol), value);
	tgt_sql = psprintf("BEGIN; %s; COPY %s FROM STDIN; COMMIT",
					   MOVE_SETTINGS, tgtqual);

	CoordCopyConnect(cs, 2);
	CoordCopyStart(tgt, tgt_sql);
	CoordCopySend(src, src_sql);

	/* BEGIN, the settings, the snapshot, then the rows */
	for (;;)
	{
		PGresult   *res = CoordCopyGetResult(src);

		if (res == NULL)
			CoordCopyLost(src);
		if (PQresultStatus(res) == PGRES_COPY_OUT)
		{
			PQclear(res);
			break;
		}
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
		{
			if (snapshot != NULL || PQntuples(res) != 1 || PQnfields(res) != 1 ||
				PQgetisnull(res, 0, 0))
				ereport(ERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg("server \"%s\" did not return one snapshot",
								src->shard->name)));
			snapshot = pstrdup(PQgetvalue(res, 0, 0));
		}
		else if (PQresultStatus(res) != PGRES_COMMAND_OK)
			CoordRaiseRemoteError(res, src->shard->name, src_sql);
		PQclear(res);
	}
	if (snapshot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("server \"%s\" did not return one snapshot",
						src->shard->name)));

	for (;;)
	{
		char	   *row;
		int			len = PQgetCopyData(src->conn, &row, 1);

		if (len > 0)
		{
			appendBinaryStringInfo(&tgt->buf, row, len);
			PQfreemem(row);
			tgt->sent++;
			if (tgt->buf.len >= MOVE_COPY_CHUNK)
				CoordCopyPut(tgt, false);
			CHECK_FOR_INTERRUPTS();
		}
		else if (len == 0)
			CoordCopyWait(src, WL_SOCKET_READABLE);
		else if (len == -1)
			break;
		else
			CoordCopyLost(src);
	}

	/* the source's count of what it sent, then its COMMIT */
	{
		PGresult   *res = CoordCopyGetResult(src);

		if (res == NULL)
			CoordCopyLost(src);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			CoordRaiseRemoteError(res, src->shard->name, src_sql);
		copied = strtou64(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		if (copied != tgt->sent)
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("server \"%s\" reported " UINT64_FORMAT " rows but sent " UINT64_FORMAT,
							src->shard->name, copied, tgt->sent)));
	}
	CoordCopyRelease(src, src_sql);
	CoordCopyPut(tgt, true);
	CoordCopyFinish(tgt, tgt_sql);

	values[0] = CStringGetTextDatum(snapshot);
	values[1] = Int64GetDatum((int64) copied);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}

/*
 * hnsw._move_apply(source name, slot name, publication name, snapshot text,
 *					source_schema name, source_table name, target name,
 *					target_schema name, target_table name, upto_lsn pg_lsn)
 * returns bigint
 *
 * Take from the logical replication slot on server source the changes of
 * the publication (one table, the rows of one value) that committed
 * before upto_lsn (NULL: all there are), and apply them to
 * target_schema.target_table on server target, skipping the transactions
 * that snapshot (hnsw._move_copy's) saw.  Returns the number of changes
 * applied.
 *
 * Changes are decoded MOVE_DECODE_BATCH at a time, read one row at a time
 * (single-row mode) and applied in statements batched by
 * MOVE_APPLY_BATCH, one transaction on the target per batch, so memory is
 * bounded by neither the number of changes nor the size of a source
 * transaction.  The slot advances as it is read: a failure part way
 * leaves the target's copy behind the slot, and the caller must start the
 * move again (hnsw.move_partition undoes it).  Rows are found on the
 * target by all their columns (the source's replica identity is FULL
 * during the move), compared as text, and typed too for the common
 * built-in types so an index can find them; an update or delete that
 * finds no row on the target is an error.
 */
PG_FUNCTION_INFO_V1(hnsw_move_apply);
Datum
hnsw_move_apply(PG_FUNCTION_ARGS)
{
	char	   *slot;
	char	   *publication;
	char	   *srcnsp;
	char	   *srcname;
	char	   *upto = NULL;
	MoveSnapshot snap;
	MoveRelation rel;
	MoveBatch	batch;
	CoordCopy	cs[2];
	CoordCopy  *src = &cs[0];
	CoordCopy  *tgt = &cs[1];
	const char *decode_sql =
		"SELECT data FROM pg_catalog.pg_logical_slot_get_binary_changes($1, $2::pg_catalog.pg_lsn, "
		CppAsString2(MOVE_DECODE_BATCH) ", 'proto_version', '1', 'publication_names', $3)";
	const char *begin_sql = "BEGIN; " MOVE_SETTINGS;
	bool		skip = false;
	MemoryContext msgcxt;
	int			i;

	for (i = 0; i < 9; i++)
	{
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("arguments of hnsw._move_apply other than upto_lsn must not be null")));
	}
	slot = NameStr(*PG_GETARG_NAME(1));
	publication = NameStr(*PG_GETARG_NAME(2));
	ParseSnapshot(text_to_cstring(PG_GETARG_TEXT_PP(3)), &snap);
	srcnsp = NameStr(*PG_GETARG_NAME(4));
	srcname = NameStr(*PG_GETARG_NAME(5));
	if (!PG_ARGISNULL(9))
		upto = DatumGetCString(DirectFunctionCall1(pg_lsn_out, PG_GETARG_DATUM(9)));

	memset(cs, 0, sizeof(cs));
	memset(&rel, 0, sizeof(rel));
	rel.cxt = CurrentMemoryContext;
	memset(&batch, 0, sizeof(batch));
	src->shard = MoveShard(NameStr(*PG_GETARG_NAME(0)));
	src->source = true;
	tgt->shard = MoveShard(NameStr(*PG_GETARG_NAME(6)));
	initStringInfo(&src->buf);
	initStringInfo(&tgt->buf);
	initStringInfo(&batch.sql);
	batch.table = QualifiedName(PG_GETARG_NAME(7), PG_GETARG_NAME(8));
	msgcxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw._move_apply message",
								   ALLOCSET_DEFAULT_SIZES);

	CoordCopyConnect(cs, 2);
	for (;;)
	{
		const char *params[3] = {slot, upto, publication};
		const int	formats[3] = {0, 0, 0};
		PGresult   *res;
		int			nrows = 0;

		/* the settings hold for the text pgoutput makes of the values */
		RunSimple(src, begin_sql);
		if (!PQsendQueryParams(src->conn, decode_sql, 3, NULL, params, NULL,
							   formats, 1) ||
			!PQsetSingleRowMode(src->conn))
			CoordCopyLost(src);
		CoordCopyPut(src, true);
		while ((res = CoordCopyGetResult(src)) != NULL)
		{
			if (PQresultStatus(res) == PGRES_SINGLE_TUPLE)
			{
				MemoryContext oldcxt = MemoryContextSwitchTo(msgcxt);
				MoveReader	r;

				if (PQnfields(res) != 1 || PQgetisnull(res, 0, 0))
					ereport(ERROR,
							(errcode(ERRCODE_PROTOCOL_VIOLATION),
							 errmsg("malformed logical replication message from server \"%s\"",
									src->shard->name)));
				r.data = PQgetvalue(res, 0, 0);
				r.len = PQgetlength(res, 0, 0);
				r.pos = 0;
				r.server = src->shard->name;
				ApplyMessage(&r, &rel, &skip, &snap, srcnsp, srcname, &batch);
				MemoryContextSwitchTo(oldcxt);
				MemoryContextReset(msgcxt);
				nrows++;
				if (batch.sql.len >= MOVE_APPLY_BATCH)
					BatchSend(tgt, &batch);
			}
			else if (PQresultStatus(res) != PGRES_TUPLES_OK)
				CoordRaiseRemoteError(res, src->shard->name, decode_sql);
			PQclear(res);
			CHECK_FOR_INTERRUPTS();
		}
		RunSimple(src, "COMMIT");
		if (batch.nstmts > 0)
			BatchSend(tgt, &batch);
		/* a short batch: decoding reached upto_lsn or the end of the WAL */
		if (nrows < MOVE_DECODE_BATCH)
			break;
	}
	CoordCopyRelease(src, decode_sql);
	CoordCopyRelease(tgt, batch.table);
	PG_RETURN_INT64((int64) batch.applied);
}

/*
 * Apply one pgoutput message (protocol version 1) read by r: remember the
 * relation, decide per transaction whether the copy saw it, and queue the
 * statement for each change of a transaction it did not see.
 */
static void
ApplyMessage(MoveReader *r, MoveRelation *rel, bool *skip, MoveSnapshot *snap,
			 const char *srcnsp, const char *srcname, MoveBatch *batch)
{
	StringInfo	sql = &batch->sql;
	char		kind = ReadByte(r);
	MoveValue  *old = NULL;
	MoveValue  *new;
	char		tag;
	int			i;

	switch (kind)
	{
		case 'B':				/* begin: final LSN, time, xid */
			(void) ReadInt64(r);
			(void) ReadInt64(r);
			*skip = XidVisible(snap, (TransactionId) ReadInt32(r));
			break;
		case 'C':				/* commit: flags, LSNs, time */
			(void) ReadByte(r);
			(void) ReadInt64(r);
			(void) ReadInt64(r);
			(void) ReadInt64(r);
			break;
		case 'O':				/* origin: LSN, name */
			(void) ReadInt64(r);
			(void) ReadString(r);
			break;
		case 'Y':				/* type: OID, schema, name */
			(void) ReadInt32(r);
			(void) ReadString(r);
			(void) ReadString(r);
			break;
		case 'M':				/* message: flags, LSN, prefix, content */
			{
				uint32		len;

				(void) ReadByte(r);
				(void) ReadInt64(r);
				(void) ReadString(r);
				len = ReadInt32(r);
				if (len > (uint32) (r->len - r->pos))
					Malformed(r);
				r->pos += len;
				break;
			}
		case 'R':				/* relation: the one table published */
			{
				uint32		relid = ReadInt32(r);
				char	   *nsp = ReadString(r);
				char	   *name = ReadString(r);
				MemoryContext oldcxt;

				if (strcmp(nsp, srcnsp) != 0 || strcmp(name, srcname) != 0)
					ereport(ERROR,
							(errcode(ERRCODE_PROTOCOL_VIOLATION),
							 errmsg("server \"%s\" sent changes of table %s.%s, not of %s.%s",
									r->server, nsp, name, srcnsp, srcname)));
				(void) ReadByte(r); /* replica identity */
				/* kept for later messages: in the caller's context */
				oldcxt = MemoryContextSwitchTo(rel->cxt);
				rel->relid = relid;
				rel->ncols = ReadInt16(r);
				if (rel->ncols <= 0)
					Malformed(r);
				rel->cols = palloc(sizeof(char *) * rel->ncols);
				rel->types = palloc(sizeof(Oid) * rel->ncols);
				for (i = 0; i < rel->ncols; i++)
				{
					(void) ReadByte(r); /* flags */
					rel->cols[i] = pstrdup(quote_identifier(ReadString(r)));
					rel->types[i] = ReadInt32(r);
					(void) ReadInt32(r);	/* typmod */
				}
				MemoryContextSwitchTo(oldcxt);
				break;
			}
		case 'I':				/* insert: relation, 'N', new row */
			if (ReadInt32(r) != rel->relid || rel->relid == 0 ||
				ReadByte(r) != 'N')
				Malformed(r);
			new = ReadTuple(r, rel);
			if (*skip)
				break;
			appendStringInfo(sql, "INSERT INTO %s (", batch->table);
			for (i = 0; i < rel->ncols; i++)
				appendStringInfo(sql, "%s%s", i > 0 ? ", " : "", rel->cols[i]);
			appendStringInfoString(sql, ") VALUES (");
			for (i = 0; i < rel->ncols; i++)
			{
				if (new[i].kind == 'u')
					Malformed(r);
				appendStringInfo(sql, "%s%s", i > 0 ? ", " : "",
								 new[i].kind == 'n' ? "NULL" :
								 quote_literal_cstr(new[i].text));
			}
			appendStringInfoChar(sql, ')');
			BatchStatement(batch, MOVE_EXPECT_ONE);
			break;
		case 'U':				/* update: relation, old row, 'N', new row */
			if (ReadInt32(r) != rel->relid || rel->relid == 0)
				Malformed(r);
			tag = ReadByte(r);
			if (tag == 'O')
			{
				old = ReadTuple(r, rel);
				tag = ReadByte(r);
			}
			else if (tag == 'K')
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the replica identity of the table on server \"%s\" changed during the move",
								r->server),
						 errdetail("An update was sent with its key only.")));
			if (tag != 'N')
				Malformed(r);
			new = ReadTuple(r, rel);
			if (*skip)
				break;
			if (old == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the replica identity of the table on server \"%s\" changed during the move",
								r->server),
						 errdetail("An update was sent without its old row.")));
			appendStringInfo(sql, "UPDATE %s SET ", batch->table);
			{
				bool		first = true;

				for (i = 0; i < rel->ncols; i++)
				{
					if (new[i].kind == 'u')
						continue;	/* unchanged out-of-line value */
					appendStringInfo(sql, "%s%s = %s", first ? "" : ", ",
									 rel->cols[i],
									 new[i].kind == 'n' ? "NULL" :
									 quote_literal_cstr(new[i].text));
					first = false;
				}
				if (first)
					Malformed(r);
			}
			AppendMatch(sql, rel, old, batch->table);
			BatchStatement(batch, MOVE_EXPECT_ONE);
			break;
		case 'D':				/* delete: relation, old row */
			if (ReadInt32(r) != rel->relid || rel->relid == 0)
				Malformed(r);
			tag = ReadByte(r);
			if (tag == 'K')
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the replica identity of the table on server \"%s\" changed during the move",
								r->server),
						 errdetail("A delete was sent with its key only.")));
			if (tag != 'O')
				Malformed(r);
			old = ReadTuple(r, rel);
			if (*skip)
				break;
			appendStringInfo(sql, "DELETE FROM %s", batch->table);
			AppendMatch(sql, rel, old, batch->table);
			BatchStatement(batch, MOVE_EXPECT_ONE);
			break;
		case 'T':				/* truncate: relations, options */
			{
				uint32		nrels = ReadInt32(r);

				(void) ReadByte(r);
				for (i = 0; i < (int) nrels; i++)
				{
					if (ReadInt32(r) != rel->relid || rel->relid == 0)
						Malformed(r);
				}
				if (nrels == 0 || *skip)
					break;
				appendStringInfo(sql, "TRUNCATE %s", batch->table);
				BatchStatement(batch, MOVE_EXPECT_ANY);
				break;
			}
		default:
			Malformed(r);
	}
	if (r->pos != r->len)
		Malformed(r);
}

/*
 * Append to sql the condition that finds one row of table equal to old,
 * as " WHERE ctid = (SELECT ctid ... LIMIT 1)".  Every column is compared
 * as text, which the settings make exact for every type; columns of
 * built-in types whose equality is cheap are compared typed as well, and
 * first, so that an index can find the row and most rows fail early.
 */
static void
AppendMatch(StringInfo sql, MoveRelation *rel, MoveValue *old, const char *table)
{
	bool		first = true;
	int			pass;
	int			i;

	appendStringInfo(sql, " WHERE ctid = (SELECT ctid FROM %s WHERE ", table);
	/* pass 0: typed; 1: built-in types as text; 2: the others as text */
	for (pass = 0; pass < 3; pass++)
	{
		for (i = 0; i < rel->ncols; i++)
		{
			Oid			type = rel->types[i];
			bool		builtin = type < FirstGenbkiObjectId;
			bool		identity;	/* equal as typed means equal as text */
			bool		typed;

			switch (type)
			{
				case INT2OID:
				case INT4OID:
				case INT8OID:
				case OIDOID:
				case BOOLOID:
				case TEXTOID:
				case VARCHAROID:
				case NAMEOID:
				case UUIDOID:
				case DATEOID:
				case BYTEAOID:
					typed = identity = true;
					break;
				case FLOAT4OID:
				case FLOAT8OID:
				case NUMERICOID:
				case TIMESTAMPOID:
				case TIMESTAMPTZOID:
				case BPCHAROID:
				case INTERVALOID:
					typed = true;
					identity = false;
					break;
				default:
					typed = identity = false;
			}
			if (old[i].kind == 'u')
				continue;		/* not sent: cannot be compared */
			if (old[i].kind == 'n')
			{
				if (pass == 0)
				{
					appendStringInfo(sql, "%s%s IS NULL", first ? "" : " AND ",
									 rel->cols[i]);
					first = false;
				}
				continue;
			}
			if (pass == 0 && typed)
				appendStringInfo(sql, "%s%s = %s", first ? "" : " AND ",
								 rel->cols[i], quote_literal_cstr(old[i].text));
			else if ((pass == 1 && builtin && !identity) ||
					 (pass == 2 && !builtin))
				appendStringInfo(sql, "%s%s::pg_catalog.text = %s",
								 first ? "" : " AND ",
								 rel->cols[i], quote_literal_cstr(old[i].text));
			else
				continue;
			first = false;
		}
	}
	if (first)
		appendStringInfoString(sql, "true");
	appendStringInfoString(sql, " LIMIT 1)");
}

/* Note what the statement just appended to batch expects of its result */
static void
BatchStatement(MoveBatch *batch, MoveExpect expect)
{
	appendStringInfoString(&batch->sql, ";\n");
	if (batch->nstmts == batch->maxstmts)
	{
		MemoryContext cxt = GetMemoryChunkContext(batch->sql.data);

		batch->maxstmts = Max(batch->maxstmts * 2, 256);
		if (batch->starts == NULL)
		{
			batch->starts = MemoryContextAlloc(cxt, sizeof(int) * (batch->maxstmts + 1));
			batch->expect = MemoryContextAlloc(cxt, sizeof(MoveExpect) * batch->maxstmts);
			batch->starts[0] = 0;
		}
		else
		{
			batch->starts = repalloc(batch->starts, sizeof(int) * (batch->maxstmts + 1));
			batch->expect = repalloc(batch->expect, sizeof(MoveExpect) * batch->maxstmts);
		}
	}
	batch->expect[batch->nstmts] = expect;
	batch->nstmts++;
	batch->starts[batch->nstmts] = batch->sql.len;
}

/*
 * Send batch's statements to the target in one transaction, each checked:
 * an update or delete must have found its row.  A failing statement is
 * named in the error's context.  Leaves the batch empty.
 */
static void
BatchSend(CoordCopy *cs, MoveBatch *batch)
{
	StringInfoData sql;
	PGresult   *res;
	int			prefix = 1 + MOVE_NSETTINGS;
	int			nresults = 0;

	if (batch->nstmts == 0)
		return;
	initStringInfo(&sql);
	appendStringInfo(&sql, "BEGIN; %s;\n", MOVE_SETTINGS);
	appendBinaryStringInfo(&sql, batch->sql.data, batch->sql.len);
	appendStringInfoString(&sql, "COMMIT");
	CoordCopySend(cs, sql.data);
	while ((res = CoordCopyGetResult(cs)) != NULL)
	{
		int			s = nresults - prefix;	/* the statement, if one */
		char	   *stmt = NULL;

		if (s >= 0 && s < batch->nstmts)
			stmt = pnstrdup(batch->sql.data + batch->starts[s],
							batch->starts[s + 1] - batch->starts[s]);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			CoordRaiseRemoteError(res, cs->shard->name, stmt ? stmt : sql.data);
		if (stmt && batch->expect[s] == MOVE_EXPECT_ONE &&
			strcmp(PQcmdTuples(res), "1") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("the copy on server \"%s\" has no row that the source changed",
							cs->shard->name),
					 errdetail("Its rows were written on the server directly during the move."),
					 errcontext("remote SQL command on server \"%s\": %s",
								cs->shard->name, stmt)));
		PQclear(res);
		nresults++;
	}
	if (nresults != prefix + batch->nstmts + 1 ||
		PQtransactionStatus(cs->conn) != PQTRANS_IDLE)
		CoordCopyLost(cs);
	batch->applied += batch->nstmts;
	batch->nstmts = 0;
	batch->starts[0] = 0;
	resetStringInfo(&batch->sql);
	pfree(sql.data);
}

/* Read one tuple (protocol version 1: text values) of rel's columns */
static MoveValue *
ReadTuple(MoveReader *r, MoveRelation *rel)
{
	int			ncols;
	MoveValue  *values;
	int			i;

	ncols = ReadInt16(r);
	if (ncols != rel->ncols)
		Malformed(r);
	values = palloc(sizeof(MoveValue) * ncols);
	for (i = 0; i < ncols; i++)
	{
		values[i].kind = ReadByte(r);
		values[i].text = NULL;
		if (values[i].kind == 't')
		{
			uint32		len = ReadInt32(r);

			if (len > (uint32) (r->len - r->pos) ||
				memchr(r->data + r->pos, '\0', len) != NULL)
				Malformed(r);
			values[i].text = pnstrdup(r->data + r->pos, len);
			r->pos += len;
		}
		else if (values[i].kind != 'n' && values[i].kind != 'u')
			Malformed(r);
	}
	return values;
}

static uint8
ReadByte(MoveReader *r)
{
	if (r->pos + 1 > r->len)
		Malformed(r);
	return (uint8) r->data[r->pos++];
}

static int16
ReadInt16(MoveReader *r)
{
	uint16		v;

	if (r->pos + 2 > r->len)
		Malformed(r);
	memcpy(&v, r->data + r->pos, 2);
	r->pos += 2;
	return (int16) pg_ntoh16(v);
}

static uint32
ReadInt32(MoveReader *r)
{
	uint32		v;

	if (r->pos + 4 > r->len)
		Malformed(r);
	memcpy(&v, r->data + r->pos, 4);
	r->pos += 4;
	return pg_ntoh32(v);
}

static uint64
ReadInt64(MoveReader *r)
{
	uint64		v;

	if (r->pos + 8 > r->len)
		Malformed(r);
	memcpy(&v, r->data + r->pos, 8);
	r->pos += 8;
	return pg_ntoh64(v);
}

/* A NUL-terminated string, inside the message */
static char *
ReadString(MoveReader *r)
{
	const char *end = memchr(r->data + r->pos, '\0', r->len - r->pos);
	char	   *s;

	if (end == NULL)
		Malformed(r);
	s = pstrdup(r->data + r->pos);
	r->pos = end - r->data + 1;
	return s;
}

static void
Malformed(MoveReader *r)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("malformed logical replication message from server \"%s\"",
					r->server)));
}

/*
 * Parse "xmin:xmax:xip,..." (pg_snapshot's text, 64-bit xids) into the
 * 32-bit xids the slot reports.
 */
static void
ParseSnapshot(const char *text, MoveSnapshot *snap)
{
	const char *p = text;
	char	   *end;
	int			n = 0;

	snap->nxip = 0;
	snap->xip = palloc(sizeof(TransactionId) * (strlen(text) / 2 + 1));
	errno = 0;
	snap->xmin = (TransactionId) strtou64(p, &end, 10);
	if (errno != 0 || end == p || *end != ':')
		goto bad;
	p = end + 1;
	errno = 0;
	snap->xmax = (TransactionId) strtou64(p, &end, 10);
	if (errno != 0 || end == p || *end != ':')
		goto bad;
	p = end + 1;
	while (*p != '\0')
	{
		errno = 0;
		snap->xip[n++] = (TransactionId) strtou64(p, &end, 10);
		if (errno != 0 || end == p || (*end != ',' && *end != '\0'))
			goto bad;
		p = *end == ',' ? end + 1 : end;
	}
	snap->nxip = n;
	return;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid snapshot \"%s\"", text)));
}

/* Did snap see the transaction xid (which committed)? */
static bool
XidVisible(MoveSnapshot *snap, TransactionId xid)
{
	int			i;

	if (TransactionIdPrecedes(xid, snap->xmin))
		return true;
	if (!TransactionIdPrecedes(xid, snap->xmax))
		return false;
	for (i = 0; i < snap->nxip; i++)
	{
		if (snap->xip[i] == xid)
			return false;
	}
	return true;
}

/* Send sql and read all its results, raising the first error */
static void
RunSimple(CoordCopy *cs, const char *sql)
{
	PGresult   *res;

	CoordCopySend(cs, sql);
	while ((res = CoordCopyGetResult(cs)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
			PQresultStatus(res) != PGRES_TUPLES_OK)
			CoordRaiseRemoteError(res, cs->shard->name, sql);
		PQclear(res);
	}
}

/* Make a shard of one copy, server name, for CoordCopyConnect */
static CoordShard *
MoveShard(const char *name)
{
	CoordShard *shard = palloc0(sizeof(CoordShard));

	shard->name = pstrdup(name);
	shard->serverid = CoordGetPostgresFdwServer(shard->name, false);
	shard->ncopies = 1;
	shard->copies = &shard->serverid;
	shard->copynames = &shard->name;
	return shard;
}

static char *
QualifiedName(Name schema, Name table)
{
	return quote_qualified_identifier(NameStr(*schema), NameStr(*table));
}

/*
 * hnsw._move_hold(rel regclass, hold boolean) returns void
 *
 * hold: take a session-level ACCESS EXCLUSIVE lock on rel, which the
 * caller must own, so that it outlives the commit of the transaction that
 * switched a partition (the caller holds the same lock in that
 * transaction, so it is granted at once).  Not hold: release it (nothing
 * if it is not held).  PostgreSQL releases session locks at the abort of
 * a top-level transaction too (as for CREATE INDEX CONCURRENTLY); the
 * callback then forgets it.
 */
PG_FUNCTION_INFO_V1(hnsw_move_hold);
Datum
hnsw_move_hold(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	bool		hold = PG_GETARG_BOOL(1);
	LockRelId	lockid;

	lockid.dbId = MyDatabaseId;
	if (hold)
	{
		if (!pg_class_ownercheck(relid, GetUserId()))
			aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
		if (OidIsValid(held_relid))
			elog(ERROR, "a move already holds the lock of relation %u", held_relid);
		if (!hold_callback_registered)
		{
			RegisterXactCallback(MoveHoldCallback, NULL);
			hold_callback_registered = true;
		}
		lockid.relId = relid;
		LockRelationIdForSession(&lockid, AccessExclusiveLock);
		held_relid = relid;
	}
	else if (OidIsValid(held_relid))
	{
		lockid.relId = held_relid;
		held_relid = InvalidOid;
		UnlockRelationIdForSession(&lockid, AccessExclusiveLock);
	}
	PG_RETURN_VOID();
}

/* Forget the session lock: a top-level abort released it */
static void
MoveHoldCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		held_relid = InvalidOid;
}

/*
 * hnsw._partition_values(part regclass) returns bigint[]
 *
 * The values of the LIST bound of part, a partition of a table partitioned
 * on one integer column, in bound order (a NULL element if it accepts
 * NULL); NULL for a default partition or anything else.
 */
PG_FUNCTION_INFO_V1(hnsw_partition_values);
Datum
hnsw_partition_values(PG_FUNCTION_ARGS)
{
	Oid			partid = PG_GETARG_OID(0);
	Oid			parentid;
	Relation	parent;
	PartitionKey key;
	PartitionDesc pd;
	PartitionBoundInfo bi;
	Datum	   *values;
	bool	   *nulls;
	int			n = 0;
	int			index = -1;
	int			dims[1];
	int			lbs[1] = {1};
	int			i;

	if (!get_rel_relispartition(partid))
		PG_RETURN_NULL();
	parentid = get_partition_parent(partid, false);
	parent = relation_open(parentid, AccessShareLock);
	key = RelationGetPartitionKey(parent);
	pd = RelationGetPartitionDesc(parent, true);
	for (i = 0; i < pd->nparts; i++)
	{
		if (pd->oids[i] == partid)
			index = i;
	}
	bi = pd->boundinfo;
	if (key->strategy != PARTITION_STRATEGY_LIST || key->partnatts != 1 ||
		(key->parttypid[0] != INT2OID && key->parttypid[0] != INT4OID &&
		 key->parttypid[0] != INT8OID) ||
		index < 0 || bi == NULL || bi->default_index == index)
	{
		relation_close(parent, NoLock);
		PG_RETURN_NULL();
	}
	values = palloc(sizeof(Datum) * (bi->ndatums + 1));
	nulls = palloc(sizeof(bool) * (bi->ndatums + 1));
	for (i = 0; i < bi->ndatums; i++)
	{
		Datum		d = bi->datums[i][0];

		if (bi->indexes[i] != index)
			continue;
		values[n] = Int64GetDatum(key->parttypid[0] == INT2OID ? DatumGetInt16(d) :
								  key->parttypid[0] == INT4OID ? DatumGetInt32(d) :
								  DatumGetInt64(d));
		nulls[n++] = false;
	}
	if (bi->null_index == index)
	{
		values[n] = (Datum) 0;
		nulls[n++] = true;
	}
	relation_close(parent, NoLock);
	dims[0] = n;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(values, nulls, 1, dims, lbs, INT8OID,
											 sizeof(int64), FLOAT8PASSBYVAL,
											 TYPALIGN_DOUBLE));
}

/*
 * hnsw._prevent_transaction_block(command text) returns void
 *
 * Raise an error if called in a transaction block, as commands that
 * commit on their own do ("command cannot run inside a transaction
 * block").
 */
PG_FUNCTION_INFO_V1(hnsw_prevent_transaction_block);
Datum
hnsw_prevent_transaction_block(PG_FUNCTION_ARGS)
{
	PreventInTransactionBlock(true, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
