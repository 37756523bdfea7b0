/*-------------------------------------------------------------------------
 *
 * encode.h
 *		  Encoding of wal2proto.v1 values, tuples and relations.
 *
 * Copyright (c) 2026, the wal2proto authors.  PostgreSQL License.
 *
 * IDENTIFICATION
 *		  plugin/encode.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef W2P_ENCODE_H
#define W2P_ENCODE_H

#include "access/htup.h"
#include "lib/stringinfo.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "relcache.h"

/* Microseconds between the PostgreSQL epoch (2000-01-01) and the Unix epoch. */
#define W2P_EPOCH_SHIFT_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

static inline int64
w2p_unix_usecs(TimestampTz ts)
{
	return (int64) ts + W2P_EPOCH_SHIFT_USECS;
}

extern void w2p_encode_init(void);
extern void w2p_encode_new_xact(void);
extern void w2p_typeinfo_fill(W2PTypeInfo *ti, Oid typoid, MemoryContext cxt);
extern void w2p_encode_relation(StringInfo out, Relation rel, W2PRelEntry *entry);
extern void w2p_put_tuple(StringInfo out, uint32 field, W2PRelEntry *entry,
						  HeapTuple tuple, const bool *sent);
extern void w2p_put_text(StringInfo out, uint32 field, const char *s, int len);

#endif							/* W2P_ENCODE_H */
