/*-------------------------------------------------------------------------
 *
 * coordacl.c
 *	  Who may read what: the privilege and row-level security checks of the
 *	  functions that read a table on the caller's behalf (hnsw.search,
 *	  hnsw.search_batch, hnsw.shard_status, hnsw.exact_knn).
 *
 * These functions read rows without going through the executor, so they
 * must do themselves what ExecCheckRTPerms and the rewriter's row security
 * do for "SELECT cols FROM tab": SELECT on the table, or else on every
 * column read; with no column read (count(*)), on at least one column.
 * Row-level security policies are not applied but refused: see
 * src/COORDINATOR "Security".
 *
 * src/coordacl.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "coord.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "utils/syscache.h"

/*
 * Lock relid in AccessShareLock and check that the current user may read
 * from it what funcname reads: the columns in columns (attribute numbers of
 * user columns), or, when columns is empty, the rows but no column in
 * particular.  Raises an error if the relation no longer exists, if a
 * privilege is missing (naming the first column the user may not read, or
 * the table when the user may read none of it), or if row-level security
 * applies to the user (hint, if not NULL, says what to do instead).
 *
 * The checks come after the lock, so that they see the relation as it
 * stays while the caller reads it (GRANT and REVOKE do not take the lock,
 * but ALTER TABLE ... ENABLE ROW LEVEL SECURITY and DROP do).  The lock is
 * held until the end of the transaction.
 */
void
CoordCheckRead(Oid relid, Bitmapset *columns, const char *funcname,
			   const char *hint)
{
	Oid			userid = GetUserId();
	char	   *relname;
	int			attnum;

	LockRelationOid(relid, AccessShareLock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	relname = get_rel_name(relid);

	if (pg_class_aclcheck(relid, userid, ACL_SELECT) != ACLCHECK_OK)
	{
		/* as PostgreSQL says it when no column may be read either */
		if (pg_attribute_aclcheck_all(relid, userid, ACL_SELECT,
									  ACLMASK_ANY) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV,
						   get_relkind_objtype(get_rel_relkind(relid)),
						   relname);
		attnum = -1;
		while ((attnum = bms_next_member(columns, attnum)) >= 0)
		{
			if (pg_attribute_aclcheck(relid, (AttrNumber) attnum, userid,
									  ACL_SELECT) != ACLCHECK_OK)
				aclcheck_error_col(ACLCHECK_NO_PRIV,
								   get_relkind_objtype(get_rel_relkind(relid)),
								   relname,
								   get_attname(relid, (AttrNumber) attnum, false));
		}
	}

	/*
	 * Policies are the caller's, on rows the shards (or the scan) return
	 * unfiltered.  With row_security = off, check_enable_rls raises the
	 * usual "query would be affected by row-level security policy" error.
	 */
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s does not support row-level security on table \"%s\"",
						funcname, relname),
				 errdetail("Row-level security policies of table \"%s\" apply to role \"%s\".",
						   relname, GetUserNameFromId(userid, false)),
				 hint ? errhint("%s", hint) : 0));
}
