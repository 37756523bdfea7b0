/*-------------------------------------------------------------------------
 *
 * options.h
 *		  Output plugin options of wal2proto.
 *
 * Copyright (c) 2026, the wal2proto authors.  PostgreSQL License.
 *
 * IDENTIFICATION
 *		  plugin/options.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef W2P_OPTIONS_H
#define W2P_OPTIONS_H

#include "nodes/pg_list.h"

#define W2P_PROTO_VERSION_MIN 1
#define W2P_PROTO_VERSION_MAX 1

/* Bits of W2POptions.actions. */
#define W2P_ACTION_INSERT	0x01
#define W2P_ACTION_UPDATE	0x02
#define W2P_ACTION_DELETE	0x04
#define W2P_ACTION_TRUNCATE 0x08
#define W2P_ACTION_ALL		0x0F

/* Default for batch-bytes: chosen by bench/decode_bench.sh. */
#define W2P_DEFAULT_BATCH_BYTES 65536

/*
 * A table pattern, "schema.table".  Each part is matched as a glob in which
 * an unescaped '*' matches any run of characters; a '*' or '\' that came
 * from a quoted identifier is escaped with '\'.
 */
typedef struct W2PTablePattern
{
	char	   *schema;
	char	   *table;
} W2PTablePattern;

typedef struct W2POptions
{
	int			proto_version;
	bool		origin_none;		/* drop changes replayed from an origin */
	List	   *include_tables;		/* W2PTablePattern *, NIL = every table */
	List	   *exclude_tables;		/* W2PTablePattern * */
	bool		publish_via_root;
	uint32		actions;			/* W2P_ACTION_* bits */
	List	   *message_prefixes;	/* char *, NIL = every prefix */
	bool		include_xids;
	bool		include_timestamp;
	bool		include_origin;
	int			batch_bytes;		/* 0 = one message per write */
	bool		streaming;
	bool		two_phase;
} W2POptions;

extern void w2p_parse_options(List *options, W2POptions *opts);
extern bool w2p_table_matches(List *patterns, const char *schema,
							  const char *table);
extern bool w2p_prefix_wanted(const W2POptions *opts, const char *prefix);

#endif							/* W2P_OPTIONS_H */
