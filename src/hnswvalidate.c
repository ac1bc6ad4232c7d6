/*-------------------------------------------------------------------------
 *
 * hnswvalidate.c
 *	  amvalidate for hnsw: check an operator class's definition.  (The
 *	  structural verification of an index is hnsw.verify_index, in
 *	  hnswinfo.c.)
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
#include "access/stratnum.h"
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
 * Check the support functions of operator family opfamilyoid (named
 * opfamilyname) registered for opcintype; report each problem as INFO and
 * return whether there were none.  Sets *hasDistance if the distance
 * function is among them.
 */
static bool
ValidateProcs(Oid opfamilyoid, Oid opcintype, const char *opfamilyname,
			  bool *hasDistance)
{
	bool		result = true;
	CatCList   *proclist;

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
				*hasDistance = true;
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
	ReleaseCatCacheList(proclist);
	return result;
}

/*
 * Check the operators of operator family opfamilyoid (named opfamilyname)
 * registered for opcintype; report each problem as INFO and return whether
 * there were none.  Sets *hasOrdering if the ordering operator is among
 * them.
 */
static bool
ValidateOperators(Oid opfamilyoid, Oid opcintype, const char *opfamilyname,
				  bool *hasOrdering)
{
	bool		result = true;
	CatCList   *oprlist;

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
		*hasOrdering = true;
	}
	ReleaseCatCacheList(oprlist);
	return result;
}

/*
 * Check an operator class of a filter column (an integer type): comparison
 * operators only, as search operators with btree's strategy numbers, the
 * left operand of the class's type and the right of an integer type, and
 * no support functions.  Report each problem as INFO and return whether
 * there were none.
 */
static bool
ValidateFilterClass(Oid opfamilyoid, Oid opcintype, const char *opfamilyname,
					const char *opclassname)
{
	bool		result = true;
	bool		hasEqual = false;
	CatCList   *list;

	list = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < list->n_members; i++)
	{
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(&list->members[i]->tuple);
		Oid			right = oprform->amoprighttype;

		if (oprform->amoplefttype != opcintype)
			continue;
		if (oprform->amopstrategy < BTLessStrategyNumber ||
			oprform->amopstrategy > BTGreaterStrategyNumber ||
			oprform->amoppurpose != AMOP_SEARCH ||
			(right != INT2OID && right != INT4OID && right != INT8OID) ||
			!check_amop_signature(oprform->amopopr, BOOLOID, opcintype, right))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains operator %s that is not an integer comparison with a btree strategy number",
							opfamilyname, "hnsw",
							format_operator(oprform->amopopr))));
			result = false;
			continue;
		}
		if (oprform->amopstrategy == BTEqualStrategyNumber && right == opcintype)
			hasEqual = true;
	}
	ReleaseCatCacheList(list);

	list = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < list->n_members; i++)
	{
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(&list->members[i]->tuple);

		if (procform->amproclefttype != opcintype)
			continue;
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator family \"%s\" of access method %s contains function %s, but a filter column has no support functions",
						opfamilyname, "hnsw",
						format_procedure(procform->amproc))));
		result = false;
	}
	ReleaseCatCacheList(list);

	if (!hasEqual)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method %s is missing its equality operator",
						opclassname, "hnsw")));
		result = false;
	}
	return result;
}

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

	/* the filter column's classes (hnswfilter.c) */
	if (opcintype == INT2OID || opcintype == INT4OID || opcintype == INT8OID)
	{
		result = ValidateFilterClass(opfamilyoid, opcintype, opfamilyname,
									 NameStr(classform->opcname));
		ReleaseSysCache(classtup);
		return result;
	}

	if (!ValidateProcs(opfamilyoid, opcintype, opfamilyname, &hasDistance))
		result = false;
	if (!ValidateOperators(opfamilyoid, opcintype, opfamilyname,
						   &hasOrdering))
		result = false;

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

	ReleaseSysCache(classtup);
	return result;
}
