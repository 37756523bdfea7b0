/*-------------------------------------------------------------------------
 *
 * relcache.h
 *		  Per-relation cache of what wal2proto needs to encode changes.
 *
 * Copyright (c) 2026, the wal2proto authors.  PostgreSQL License.
 *
 * IDENTIFICATION
 *		  plugin/relcache.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef W2P_RELCACHE_H
#define W2P_RELCACHE_H

#include "access/tupconvert.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

#include "options.h"

/* How a value of a (base) type is put on the wire: which Value member. */
typedef enum W2PKind
{
	W2P_KIND_BOOL,
	W2P_KIND_INT2,
	W2P_KIND_INT4,
	W2P_KIND_INT8,
	W2P_KIND_OID,
	W2P_KIND_FLOAT4,
	W2P_KIND_FLOAT8,
	W2P_KIND_NUMERIC,
	W2P_KIND_TEXT,				/* text, varchar, bpchar: varlena text */
	W2P_KIND_NAME,				/* name: fixed-size C string */
	W2P_KIND_CHAR,				/* "char": one byte */
	W2P_KIND_BYTEA,
	W2P_KIND_DATE,
	W2P_KIND_TIME,
	W2P_KIND_TIMETZ,
	W2P_KIND_TIMESTAMP,
	W2P_KIND_TIMESTAMPTZ,
	W2P_KIND_INTERVAL,
	W2P_KIND_UUID,
	W2P_KIND_JSON,				/* json: varlena text */
	W2P_KIND_JSONB,
	W2P_KIND_ARRAY,
	W2P_KIND_OTHER				/* the type's text output */
} W2PKind;

/*
 * Encoding information of one type, resolved once per relation build so
 * that the change callbacks never touch the catalogs.  For a domain it
 * describes the base type.
 */
typedef struct W2PTypeInfo
{
	W2PKind		kind;
	Oid			typoid;			/* the base type */
	int16		typlen;
	bool		typbyval;
	char		typalign;
	FmgrInfo	outfunc;		/* text output; used for OTHER and fallbacks */
	struct W2PTypeInfo *elem;	/* element type of an ARRAY */
} W2PTypeInfo;

typedef struct W2PColumn
{
	int			attidx;			/* index in the reported tuple descriptor */
	bool		identity;		/* member of the replica identity */
	W2PTypeInfo type;
} W2PColumn;

/*
 * One cached relation, keyed by the oid of the relation a change is on.
 *
 * Entries are built lazily from the Relation passed to a change callback,
 * under the historic snapshot of that change, and marked invalid by the
 * relcache/syscache invalidation callbacks; the next lookup rebuilds them
 * and the schema is sent again.  An entry's own memory (columns, type info,
 * the encoded Relation message, the tuple conversion map) lives in its
 * `cxt`, which a rebuild deletes; the entry struct itself lives in the hash
 * table, in the cache context, for the life of the decoding session.
 */
typedef struct W2PRelEntry
{
	Oid			relid;			/* hash key */
	bool		valid;
	MemoryContext cxt;

	/* Filtering: whether changes are sent, and as which relation. */
	bool		published;
	Oid			publish_relid;	/* the partition root under publish-via-root */
	TupleConversionMap *map;	/* this relation's rows to publish_relid's */

	/*
	 * Which columns of the reported relation (by attidx) an old tuple of
	 * this relation carries: its own replica identity, mapped to the
	 * reported relation's layout.  NULL when every column is (FULL).
	 */
	bool	   *old_sent;

	/* Description of the relation as reported (used when publish_relid == relid). */
	char		replident;
	TupleDesc	desc;			/* copy of the reported relation's descriptor */
	int			ncolumns;
	W2PColumn  *columns;
	char	   *relmsg;			/* the encoded Relation Batch element */
	int			relmsg_len;

	/* What has been sent in this session. */
	bool		sent;			/* Relation sent outside streaming */
	List	   *streamed_xids;	/* top-level xids whose stream has it */
} W2PRelEntry;

extern void w2p_relcache_init(MemoryContext parent);
extern void w2p_relcache_destroy(void);
extern W2PRelEntry *w2p_relcache_get(Relation rel, const W2POptions *opts);
extern W2PRelEntry *w2p_relcache_get_reported(W2PRelEntry *entry,
											  const W2POptions *opts);
extern void w2p_relcache_forget_xid(TransactionId xid);

#endif							/* W2P_RELCACHE_H */
