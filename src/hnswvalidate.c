/*-------------------------------------------------------------------------
 *
 * hnswvalidate.c
 *	  amvalidate for hnsw: check an operator class's definition; and
 *	  hnsw_index_check, the structural verification of an index.
 *
 * An hnsw operator class has exactly one operator, strategy 1, an ordering
 * operator (FOR ORDER BY) returning float8 over two values of the indexed
 * type; support function 1, the distance the graph is built with
 * (type, type) -> float8; and optionally support function 2, a norm
 * (type) -> float8, whose presence means the vectors are normalised.
 *
 * src/hnswvalidate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/amvalidate.h"
#include "access/genam.h"
#include "commands/defrem.h"
#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

/*
 * Validate the operator class opclassoid; report each problem as INFO and
 * return whether there were none.
 */
bool
hnswvalidate(Oid opclassoid)
{
	bool		result = true;
	HeapTuple	classtup;
	HeapTuple	familytup;
	Form_pg_opclass classform;
	Oid			opfamilyoid;
	Oid			opcintype;
	char	   *opfamilyname;
	CatCList   *proclist;
	CatCList   *oprlist;
	bool		hasDistance = false;
	bool		hasOrdering = false;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamilyoid = classform->opcfamily;
	opcintype = classform->opcintype;
	familytup = SearchSysCache1(OPFAMILYOID, ObjectIdGetDatum(opfamilyoid));
	if (!HeapTupleIsValid(familytup))
		elog(ERROR, "cache lookup failed for operator family %u", opfamilyoid);
	opfamilyname = pstrdup(NameStr(((Form_pg_opfamily) GETSTRUCT(familytup))->opfname));
	ReleaseSysCache(familytup);

	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < proclist->n_members; i++)
	{
		HeapTuple	proctup = &proclist->members[i]->tuple;
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(proctup);
		bool		ok;

		if (procform->amproclefttype != opcintype ||
			procform->amprocrighttype != opcintype)
			continue;			/* another opclass of the family */

		switch (procform->amprocnum)
		{
			case HNSW_DISTANCE_PROC:
				ok = check_amproc_signature(procform->amproc, FLOAT8OID, true,
											2, 2, opcintype, opcintype);
				hasDistance = true;
				break;
			case HNSW_NORM_PROC:
				ok = check_amproc_signature(procform->amproc, FLOAT8OID, true,
											1, 1, opcintype);
				break;
			default:
				ereport(INFO,
						(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
						 errmsg("operator family \"%s\" of access method %s contains function %s with invalid support number %d",
								opfamilyname, "hnsw",
								format_procedure(procform->amproc),
								procform->amprocnum)));
				result = false;
				continue;
		}
		if (!ok)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains function %s with wrong signature for support number %d",
							opfamilyname, "hnsw",
							format_procedure(procform->amproc),
							procform->amprocnum)));
			result = false;
		}
	}

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		HeapTuple	oprtup = &oprlist->members[i]->tuple;
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(oprtup);

		if (oprform->amoplefttype != opcintype ||
			oprform->amoprighttype != opcintype)
			continue;

		if (oprform->amopstrategy != HNSW_DISTANCE_STRATEGY)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains operator %s with invalid strategy number %d",
							opfamilyname, "hnsw",
							format_operator(oprform->amopopr),
							oprform->amopstrategy)));
			result = false;
			continue;
		}
		if (oprform->amoppurpose != AMOP_ORDER ||
			!check_amop_signature(oprform->amopopr, FLOAT8OID,
								  opcintype, opcintype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains operator %s that is not an ordering operator returning double precision",
							opfamilyname, "hnsw",
							format_operator(oprform->amopopr))));
			result = false;
			continue;
		}
		hasOrdering = true;
	}

	if (!hasDistance)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method %s is missing support function %d",
						NameStr(classform->opcname), "hnsw", HNSW_DISTANCE_PROC)));
		result = false;
	}
	if (!hasOrdering)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method %s is missing its ordering operator",
						NameStr(classform->opcname), "hnsw")));
		result = false;
	}

	ReleaseCatCacheList(oprlist);
	ReleaseCatCacheList(proclist);
	ReleaseSysCache(classtup);
	return result;
}

/*
 * Raise ERRCODE_INDEX_CORRUPTED with a message about index rel.
 */
#define CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			ereport(ERROR, \
					(errcode(ERRCODE_INDEX_CORRUPTED), \
					 errmsg("hnsw index \"%s\" is corrupted", \
							RelationGetRelationName(index)), \
					 errdetail(__VA_ARGS__))); \
	} while (0)

/*
 * Verify the structure of an hnsw index and return the number of elements:
 * the metapage is sound, the entry point is an element on its level, every
 * element has the index's dimensions and a level in range, its heap TIDs
 * are packed, every live element has one, and every link points into the
 * index.  Links to freed elements are allowed (see src/README "Locking").
 *
 * Takes AccessShareLock on the index and one page's share lock at a time.
 */
PG_FUNCTION_INFO_V1(hnsw_index_check);
Datum
hnsw_index_check(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	Relation	index;
	HnswMetaPageData meta;
	BlockNumber nblocks;
	int64		nelements = 0;
	bool		entryFound = false;

	index = index_open(indexoid, AccessShareLock);
	if (index->rd_rel->relam != get_index_am_oid("hnsw", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an hnsw index",
						RelationGetRelationName(index))));

	HnswReadMeta(index, &meta);
	nblocks = RelationGetNumberOfBlocks(index);
	CHECK(meta.m >= HNSW_MIN_M && meta.m <= HNSW_MAX_M, "m is %d.", meta.m);
	CHECK(meta.entryLevel >= -1 && meta.entryLevel <= HNSW_MAX_LEVEL,
		  "The entry level is %d.", meta.entryLevel);
	CHECK(ItemPointerIsValid(&meta.entryPoint) == (meta.entryLevel >= 0),
		  "The entry point and its level disagree.");

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		OffsetNumber maxoff;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = PageIsNew(page) ? InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
		CHECK(PageIsNew(page) || HnswPageGetOpaque(page)->page_id == HNSW_PAGE_ID,
			  "Block %u has no hnsw page id.", blkno);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			HnswElementTuple tup;
			char	   *slots;
			int			slotSize = HNSW_SLOT_SIZE(meta.version);
			int			nheaptids = 0;

			if (!ItemIdIsUsed(itemid))
				continue;
			CHECK(ItemIdIsNormal(itemid), "Item (%u,%u) is not normal.", blkno, off);
			/* chunks of vectors out of line: hnsw.verify_index checks them */
			if (((HnswVectorTuple) PageGetItem(page, itemid))->type == HNSW_VECTOR_TUPLE &&
				meta.exactQuantization != meta.quantization)
				continue;
			/* the rest of a head tuple's vector: verify_index checks it */
			if (((HnswTailTuple) PageGetItem(page, itemid))->type == HNSW_TAIL_TUPLE)
			{
				CHECK(off == FirstOffsetNumber && meta.version >= 5,
					  "Tail tuple (%u,%u) is not the first of its page.", blkno, off);
				continue;
			}
			tup = HnswGetElementTuple(page, off);
			CHECK(tup != NULL, "Item (%u,%u) is not an element.", blkno, off);
			CHECK(tup->level <= HNSW_MAX_LEVEL, "Element (%u,%u) has level %d.",
				  blkno, off, tup->level);
			CHECK(HnswTupleVector(tup)->dim == (int) meta.dimensions,
				  "Element (%u,%u) has %d dimensions, the index %u.",
				  blkno, off, HnswTupleVector(tup)->dim, meta.dimensions);
			CHECK(HnswTupleVector(tup)->unused == meta.quantization,
				  "Element (%u,%u) has encoding %d, the index %d.",
				  blkno, off, HnswTupleVector(tup)->unused, meta.quantization);
			CHECK(ItemIdGetLength(itemid) ==
				  HNSW_ELEMENT_HEADER_SIZE(HnswTupleTidCapacity(tup)) +
				  VARSIZE(HnswTupleVector(tup)) +
				  HNSW_SLOTS(tup->level, meta.m) * slotSize,
				  "Element (%u,%u) has the wrong size.", blkno, off);
			CHECK(tup->type == HNSW_HEAD_TUPLE ?
				  VARSIZE(HnswTupleVector(tup)) <
				  HNSW_CODE_SIZE(meta.dimensions, meta.quantization) &&
				  off == maxoff :
				  VARSIZE(HnswTupleVector(tup)) ==
				  HNSW_CODE_SIZE(meta.dimensions, meta.quantization) +
				  (meta.exactQuantization != meta.quantization ?
				   HNSW_VECTOR_LINK_SIZE : 0),
				  "Element (%u,%u) has a vector of the wrong size.", blkno, off);
			for (int i = 0; i < HnswTupleTidCapacity(tup); i++)
			{
				if (ItemPointerIsValid(&tup->heaptids[i]))
				{
					CHECK(nheaptids == i, "Element (%u,%u) has a gap in its heap TIDs.",
						  blkno, off);
					nheaptids++;
				}
			}
			CHECK(tup->deleted || nheaptids > 0,
				  "Live element (%u,%u) has no heap TID.", blkno, off);
			slots = HnswTupleGetSlots(tup);
			for (int i = 0; i < HNSW_SLOTS(tup->level, meta.m); i++)
			{
				BlockNumber nblk;

				if (!ItemPointerIsValid(HnswSlotTid(slots, i, slotSize)))
					continue;
				nblk = ItemPointerGetBlockNumber(HnswSlotTid(slots, i, slotSize));
				CHECK(nblk > HNSW_METAPAGE_BLKNO && nblk < nblocks,
					  "Element (%u,%u) links to block %u.", blkno, off, nblk);
			}
			if (ItemPointerGetBlockNumber(&meta.entryPoint) == blkno &&
				ItemPointerGetOffsetNumber(&meta.entryPoint) == off)
			{
				CHECK(tup->level == meta.entryLevel,
					  "The entry point has level %d, the metapage says %d.",
					  tup->level, meta.entryLevel);
				entryFound = true;
			}
			nelements++;
		}
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
	}

	/* an insert may have set the entry point after we read its page */
	if (!entryFound && meta.entryLevel >= 0)
	{
		HnswMetaPageData now;

		HnswReadMeta(index, &now);
		CHECK(!ItemPointerEquals(&now.entryPoint, &meta.entryPoint),
			  "The entry point (%u,%u) is not an element.",
			  ItemPointerGetBlockNumber(&meta.entryPoint),
			  ItemPointerGetOffsetNumber(&meta.entryPoint));
	}

	index_close(index, AccessShareLock);
	PG_RETURN_INT64(nelements);
}
