/*-------------------------------------------------------------------------
 *
 * relcache.c
 *		  Per-relation cache of filtering decisions, column and type
 *		  information, and the encoded Relation message.
 *
 * Copyright (c) 2026, the wal2proto authors.  PostgreSQL License.
 *
 * The change callbacks are the hot path: everything that needs the catalogs
 * (namespace and type look-ups, output functions, replica identity, pattern
 * matching, partition ancestors) is done here, once per relation and again
 * only after an invalidation.
 *
 * Invalidation callbacks cannot be unregistered, so they are registered
 * once per backend and the hash table is static; the SQL interface may run
 * several decoding sessions, one after another, in the same backend.  The
 * callbacks only mark entries invalid: they may fire in the middle of
 * encoding a change, while its entry is in use.
 *
 * IDENTIFICATION
 *		  plugin/relcache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/attmap.h"
#include "access/relation.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "encode.h"
#include "relcache.h"

static HTAB *RelCache = NULL;
static MemoryContext RelCacheContext = NULL;
static bool callbacks_registered = false;

static void relcache_inval_cb(Datum arg, Oid relid);
static void syscache_inval_cb(Datum arg, int cacheid, uint32 hashvalue);
static void entry_build(W2PRelEntry *entry, Relation rel, const W2POptions *opts);

void
w2p_relcache_init(MemoryContext parent)
{
	HASHCTL		ctl;

	RelCacheContext = AllocSetContextCreate(parent, "wal2proto relation cache",
											ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(W2PRelEntry);
	ctl.hcxt = RelCacheContext;
	RelCache = hash_create("wal2proto relation cache", 128, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(relcache_inval_cb, (Datum) 0);
		/* Types, domains and schemas change what a Relation message says. */
		CacheRegisterSyscacheCallback(TYPEOID, syscache_inval_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, syscache_inval_cb, (Datum) 0);
		callbacks_registered = true;
	}
}

void
w2p_relcache_destroy(void)
{
	RelCache = NULL;
	if (RelCacheContext != NULL)
		MemoryContextDelete(RelCacheContext);
	RelCacheContext = NULL;
}

static void
invalidate_entry(W2PRelEntry *entry)
{
	entry->valid = false;
}

/*
 * A relation changed: its entry, and the entries of partitions that are
 * reported as it, must be rebuilt.  relid 0 means every relation.
 */
static void
relcache_inval_cb(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	W2PRelEntry *entry;

	if (RelCache == NULL)
		return;
	hash_seq_init(&status, RelCache);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (relid == InvalidOid || entry->relid == relid ||
			entry->publish_relid == relid)
			invalidate_entry(entry);
}

static void
syscache_inval_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	relcache_inval_cb(arg, InvalidOid);
}

/*
 * The entry of the relation a change is on, built if needed.
 */
W2PRelEntry *
w2p_relcache_get(Relation rel, const W2POptions *opts)
{
	Oid			relid = RelationGetRelid(rel);
	W2PRelEntry *entry;
	bool		found;

	entry = hash_search(RelCache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->cxt = NULL;
		entry->publish_relid = relid;
		entry->published = false;
		entry->streamed_xids = NIL;
	}
	if (!entry->valid)
		entry_build(entry, rel, opts);
	return entry;
}

/*
 * The entry of the relation that `entry`'s changes are reported as: itself,
 * or its partition root under publish-via-root.
 */
W2PRelEntry *
w2p_relcache_get_reported(W2PRelEntry *entry, const W2POptions *opts)
{
	Relation	root;
	W2PRelEntry *result;

	if (entry->publish_relid == entry->relid)
		return entry;
	root = RelationIdGetRelation(entry->publish_relid);
	if (!RelationIsValid(root))
		elog(ERROR, "could not open relation with OID %u", entry->publish_relid);
	result = w2p_relcache_get(root, opts);
	RelationClose(root);
	return result;
}

/* A streamed transaction ended: its stream no longer has any Relation. */
void
w2p_relcache_forget_xid(TransactionId xid)
{
	HASH_SEQ_STATUS status;
	W2PRelEntry *entry;

	hash_seq_init(&status, RelCache);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->streamed_xids = list_delete_int(entry->streamed_xids, (int) xid);
}

/*
 * Whether a relation's changes are sent: it matches include-tables (or
 * there is none) and does not match exclude-tables.  A partition reported
 * as itself also matches through any of its ancestors, so that naming a
 * partitioned table covers its partitions.
 */
static bool
names_match(List *patterns, Oid relid, List *ancestors)
{
	ListCell   *lc;
	char	   *nspname;
	char	   *relname;

	nspname = get_namespace_name(get_rel_namespace(relid));
	relname = get_rel_name(relid);
	if (nspname != NULL && relname != NULL &&
		w2p_table_matches(patterns, nspname, relname))
		return true;
	foreach(lc, ancestors)
	{
		Oid			anc = lfirst_oid(lc);

		nspname = get_namespace_name(get_rel_namespace(anc));
		relname = get_rel_name(anc);
		if (nspname != NULL && relname != NULL &&
			w2p_table_matches(patterns, nspname, relname))
			return true;
	}
	return false;
}

static void
entry_build(W2PRelEntry *entry, Relation rel, const W2POptions *opts)
{
	Oid			relid = RelationGetRelid(rel);
	MemoryContext oldcxt;
	List	   *ancestors = NIL;
	TupleDesc	desc = RelationGetDescr(rel);
	Bitmapset  *idattrs = NULL;
	int			i;

	if (entry->cxt != NULL)
		MemoryContextDelete(entry->cxt);
	entry->cxt = AllocSetContextCreate(RelCacheContext, "wal2proto relation",
									   ALLOCSET_SMALL_SIZES);
	entry->map = NULL;
	entry->old_sent = NULL;
	entry->desc = NULL;
	entry->columns = NULL;
	entry->ncolumns = 0;
	entry->relmsg = NULL;
	entry->relmsg_len = 0;
	entry->sent = false;
	entry->streamed_xids = NIL;		/* it lived in the old cxt */
	entry->publish_relid = relid;

	oldcxt = MemoryContextSwitchTo(entry->cxt);

	if (rel->rd_rel->relispartition)
		ancestors = get_partition_ancestors(relid);

	/* Which relation the changes are reported as. */
	if (opts->publish_via_root && ancestors != NIL)
	{
		Oid			root = llast_oid(ancestors);
		Relation	rootrel;

		entry->publish_relid = root;
		entry->published =
			(opts->include_tables == NIL ||
			 names_match(opts->include_tables, root, NIL)) &&
			!names_match(opts->exclude_tables, root, NIL);

		/* Rows of this partition must be converted to the root's layout. */
		rootrel = RelationIdGetRelation(root);
		if (!RelationIsValid(rootrel))
			elog(ERROR, "could not open relation with OID %u", root);
		entry->map = convert_tuples_by_name(CreateTupleDescCopyConstr(desc),
											CreateTupleDescCopyConstr(RelationGetDescr(rootrel)));
		RelationClose(rootrel);
	}
	else
	{
		entry->published =
			(opts->include_tables == NIL ||
			 names_match(opts->include_tables, relid, ancestors)) &&
			!names_match(opts->exclude_tables, relid, ancestors);
	}

	/*
	 * Old tuples hold this relation's own replica identity, whichever
	 * relation they are reported as.
	 */
	if (rel->rd_rel->relreplident != REPLICA_IDENTITY_FULL)
	{
		Bitmapset  *own = RelationGetIdentityKeyBitmap(rel);
		TupleDesc	outdesc = desc;
		AttrMap    *attrmap = NULL;

		if (entry->publish_relid != relid)
		{
			Relation	rootrel = RelationIdGetRelation(entry->publish_relid);

			if (!RelationIsValid(rootrel))
				elog(ERROR, "could not open relation with OID %u", entry->publish_relid);
			outdesc = CreateTupleDescCopy(RelationGetDescr(rootrel));
			RelationClose(rootrel);
			attrmap = build_attrmap_by_name(desc, outdesc);
		}
		entry->old_sent = palloc0(sizeof(bool) * outdesc->natts);
		for (i = 0; i < outdesc->natts; i++)
		{
			AttrNumber	own_attnum = attrmap ? attrmap->attnums[i] : i + 1;

			entry->old_sent[i] = own_attnum > 0 &&
				bms_is_member(own_attnum - FirstLowInvalidHeapAttributeNumber, own);
		}
	}

	/*
	 * The description of the relation as reported.  Under publish-via-root
	 * the root's own entry carries it; a partition's entry only filters and
	 * converts.
	 */
	if (entry->publish_relid == relid)
	{
		entry->replident = rel->rd_rel->relreplident;
		/* with constraints: deforming needs the missing values of added columns */
		entry->desc = CreateTupleDescCopyConstr(desc);
		if (entry->replident != REPLICA_IDENTITY_FULL)
			idattrs = RelationGetIdentityKeyBitmap(rel);

		entry->columns = palloc0(sizeof(W2PColumn) * desc->natts);
		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			W2PColumn  *col;
			int			bit = att->attnum - FirstLowInvalidHeapAttributeNumber;

			if (att->attisdropped || att->attgenerated)
				continue;
			col = &entry->columns[entry->ncolumns++];
			col->attidx = i;
			col->identity = entry->replident == REPLICA_IDENTITY_FULL ||
				bms_is_member(bit, idattrs);
			w2p_typeinfo_fill(&col->type, att->atttypid, entry->cxt);
		}

		{
			StringInfoData buf;

			initStringInfo(&buf);
			w2p_encode_relation(&buf, rel, entry);
			entry->relmsg = buf.data;
			entry->relmsg_len = buf.len;
		}
	}

	MemoryContextSwitchTo(oldcxt);
	entry->valid = true;
}
