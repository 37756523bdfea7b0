/*-------------------------------------------------------------------------
 *
 * to_json.c
 *		  wal2proto.to_json(bytea): render one wal2proto.v1.Batch as jsonb
 *
 * The function lets psql users and the regression suite see exactly what
 * the plugin's binary stream holds, without a protobuf library in the
 * server.  It carries its own small protobuf wire reader, driven by field
 * tables that mirror proto/wal2proto.proto one to one; when that file gains
 * a field, the matching table below gains a row.
 *
 * Wire format summary (https://protobuf.dev/programming-guides/encoding/):
 * a message is a sequence of (tag, payload) pairs; tag = varint
 * (field_number << 3 | wire_type); wire type 0 is a varint, 1 a little-endian
 * fixed64, 2 a varint length followed by that many bytes (strings, bytes,
 * embedded messages, packed repeated scalars), 5 a little-endian fixed32,
 * 3/4 open and close a (deprecated) group.
 *
 * Decoding rules, as a protobuf parser applies them:
 *	- fields are rendered only when present on the wire;
 *	- a singular scalar field seen twice keeps its last value; a singular
 *	  message field seen twice is the merge of both occurrences (which is the
 *	  same as parsing their concatenation);
 *	- setting one member of a oneof clears the others;
 *	- repeated scalars are accepted packed and unpacked;
 *	- unknown fields of any wire type are skipped;
 *	- anything else that does not parse (a truncated varint, a length past
 *	  the end, a known field with the wrong wire type, invalid UTF-8 in a
 *	  string, nesting deeper than W2P_MAX_DEPTH) is an ERROR with
 *	  ERRCODE_DATA_CORRUPTED and the byte offset in the detail.  The reader
 *	  never reads past the end of its input.
 *
 * Rendering rules: keys are the proto field names; a message is a JSON
 * object, a oneof renders as its set member; LSNs (the uint64 fields) are
 * "X/X" strings as PostgreSQL prints pg_lsn; other integers are exact JSON
 * numbers; enums are their value names (an unknown number renders as the
 * number); bytes are "\x"-prefixed lowercase hex, uuid_value the canonical
 * uuid text; floats use the shortest text that round-trips, with NaN and
 * the infinities as the strings "NaN", "Infinity", "-Infinity".  The top
 * level is always {"messages": [...]}.
 *
 * Memory: everything is palloc'd in the calling function's memory context;
 * each top-level message is rendered in a child context that is reset
 * afterwards, so a large batch costs little more than its JSON text.
 *
 * Copyright (c) 2026, the wal2proto authors.  PostgreSQL License.
 *
 * IDENTIFICATION
 *		  plugin/to_json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xlogdefs.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(wal2proto_to_json);

/*
 * Nesting limit, counted in embedded messages and groups below the Batch.
 * The schema itself needs about eight levels (Batch, Message, Update, Tuple,
 * Value, Array, Value, ...); protobuf's own parsers stop at 100.
 */
#define W2P_MAX_DEPTH	64

/* Wire types. */
#define W2P_WT_VARINT	0
#define W2P_WT_FIXED64	1
#define W2P_WT_LEN		2
#define W2P_WT_SGROUP	3
#define W2P_WT_EGROUP	4
#define W2P_WT_FIXED32	5

/* How a field's value is read and rendered. */
typedef enum W2PKind
{
	W2P_UINT32,					/* varint, truncated to 32 bits */
	W2P_INT32,					/* varint, two's complement 32 bits */
	W2P_INT64,					/* varint, two's complement 64 bits */
	W2P_SINT32,					/* varint, zigzag 32 bits */
	W2P_SINT64,					/* varint, zigzag 64 bits */
	W2P_BOOL,					/* varint, nonzero is true */
	W2P_LSN,					/* uint64 varint, rendered "X/X" */
	W2P_ENUM,					/* varint, rendered by value name */
	W2P_FLOAT,					/* fixed32 IEEE 754 */
	W2P_DOUBLE,					/* fixed64 IEEE 754 */
	W2P_STRING,					/* length-delimited UTF-8 */
	W2P_HEX,					/* length-delimited bytes, "\x..." */
	W2P_UUID,					/* length-delimited bytes, uuid text */
	W2P_MESSAGE					/* length-delimited embedded message */
} W2PKind;

typedef struct W2PEnumDesc
{
	const char *const *names;	/* indexed by value number */
	int			nnames;
} W2PEnumDesc;

typedef struct W2PMessageDesc W2PMessageDesc;

/* One row of a message's field table. */
typedef struct W2PField
{
	uint32		number;
	const char *name;
	W2PKind		kind;
	bool		repeated;
	bool		in_oneof;		/* member of the message's (only) oneof */
	const W2PMessageDesc *message;	/* for W2P_MESSAGE */
	const W2PEnumDesc *enumdesc;	/* for W2P_ENUM */
} W2PField;

struct W2PMessageDesc
{
	const char *name;			/* full proto name, for error details */
	const W2PField *fields;		/* ascending field numbers */
	int			nfields;
};

/*
 * One occurrence of a field on the wire: the varint or fixed value, or the
 * payload of a length-delimited field.
 */
typedef struct W2PItem
{
	uint64		value;
	const uint8 *data;
	int			len;
} W2PItem;

/*
 * What a message's parse kept for one field: the last occurrence for a
 * singular scalar, every occurrence for a repeated field or a singular
 * message (whose occurrences are merged).
 */
typedef struct W2PSlot
{
	W2PItem    *items;
	int			nitems;
	int			maxitems;
} W2PSlot;

/* Input of one to_json call. */
typedef struct W2PInput
{
	const uint8 *base;			/* first byte, for offsets in errors */
	const uint8 *end;			/* one past the last byte */
} W2PInput;

/* ----------------------------------------------------------------
 * The schema: proto/wal2proto.proto, package wal2proto.v1
 * ----------------------------------------------------------------
 */

#define W2P_FIELD(num, nm, k) \
	{(num), (nm), (k), false, false, NULL, NULL}
#define W2P_REPEATED(num, nm, k) \
	{(num), (nm), (k), true, false, NULL, NULL}
#define W2P_MSG(num, nm, desc) \
	{(num), (nm), W2P_MESSAGE, false, false, &(desc), NULL}
#define W2P_REPEATED_MSG(num, nm, desc) \
	{(num), (nm), W2P_MESSAGE, true, false, &(desc), NULL}
#define W2P_ENUMF(num, nm, e) \
	{(num), (nm), W2P_ENUM, false, false, NULL, &(e)}
#define W2P_ONEOF(num, nm, k) \
	{(num), (nm), (k), false, true, NULL, NULL}
#define W2P_ONEOF_MSG(num, nm, desc) \
	{(num), (nm), W2P_MESSAGE, false, true, &(desc), NULL}
#define W2P_ONEOF_ENUM(num, nm, e) \
	{(num), (nm), W2P_ENUM, false, true, NULL, &(e)}
#define W2P_MESSAGE_DESC(var, protoname, fields) \
	static const W2PMessageDesc var = {protoname, fields, lengthof(fields)}

static const char *const replica_identity_names[] = {
	"REPLICA_IDENTITY_UNSPECIFIED",
	"REPLICA_IDENTITY_DEFAULT",
	"REPLICA_IDENTITY_NOTHING",
	"REPLICA_IDENTITY_FULL",
	"REPLICA_IDENTITY_INDEX",
};
static const W2PEnumDesc replica_identity_enum = {
	replica_identity_names, lengthof(replica_identity_names)
};

static const char *const marker_names[] = {
	"MARKER_UNSPECIFIED",
	"MARKER_NULL",
	"MARKER_UNCHANGED_TOAST",
	"MARKER_NOT_SENT",
};
static const W2PEnumDesc marker_enum = {
	marker_names, lengthof(marker_names)
};

static const char *const infinity_names[] = {
	"INFINITY_UNSPECIFIED",
	"INFINITY_POSITIVE",
	"INFINITY_NEGATIVE",
};
static const W2PEnumDesc infinity_enum = {
	infinity_names, lengthof(infinity_names)
};

/* Value and Array refer to each other. */
static const W2PMessageDesc value_desc;

static const W2PField time_tz_fields[] = {
	W2P_FIELD(1, "time", W2P_INT64),
	W2P_FIELD(2, "utc_offset", W2P_SINT32),
};
W2P_MESSAGE_DESC(time_tz_desc, "wal2proto.v1.TimeTz", time_tz_fields);

static const W2PField interval_fields[] = {
	W2P_FIELD(1, "months", W2P_INT32),
	W2P_FIELD(2, "days", W2P_INT32),
	W2P_FIELD(3, "microseconds", W2P_INT64),
};
W2P_MESSAGE_DESC(interval_desc, "wal2proto.v1.Interval", interval_fields);

static const W2PField array_fields[] = {
	W2P_FIELD(1, "element_type_oid", W2P_UINT32),
	W2P_REPEATED(2, "dimensions", W2P_INT32),
	W2P_REPEATED(3, "lower_bounds", W2P_INT32),
	W2P_REPEATED_MSG(4, "elements", value_desc),
};
W2P_MESSAGE_DESC(array_desc, "wal2proto.v1.Array", array_fields);

static const W2PField value_fields[] = {
	W2P_ONEOF_ENUM(1, "marker", marker_enum),
	W2P_ONEOF(2, "bool_value", W2P_BOOL),
	W2P_ONEOF(3, "int_value", W2P_SINT64),
	W2P_ONEOF(4, "float4_value", W2P_FLOAT),
	W2P_ONEOF(5, "float8_value", W2P_DOUBLE),
	W2P_ONEOF(6, "numeric_value", W2P_STRING),
	W2P_ONEOF(7, "text_value", W2P_STRING),
	W2P_ONEOF(8, "bytea_value", W2P_HEX),
	W2P_ONEOF(9, "date_value", W2P_SINT32),
	W2P_ONEOF(10, "time_value", W2P_INT64),
	W2P_ONEOF_MSG(11, "timetz_value", time_tz_desc),
	W2P_ONEOF(12, "timestamp_value", W2P_SINT64),
	W2P_ONEOF(13, "timestamptz_value", W2P_SINT64),
	W2P_ONEOF_MSG(14, "interval_value", interval_desc),
	W2P_ONEOF(15, "uuid_value", W2P_UUID),
	W2P_ONEOF(16, "json_value", W2P_STRING),
	W2P_ONEOF_MSG(17, "array_value", array_desc),
	W2P_ONEOF_ENUM(18, "infinity", infinity_enum),
	W2P_ONEOF(19, "text_output", W2P_STRING),
};
static const W2PMessageDesc value_desc = {
	"wal2proto.v1.Value", value_fields, lengthof(value_fields)
};

static const W2PField tuple_fields[] = {
	W2P_REPEATED_MSG(1, "values", value_desc),
};
W2P_MESSAGE_DESC(tuple_desc, "wal2proto.v1.Tuple", tuple_fields);

static const W2PField begin_fields[] = {
	W2P_FIELD(1, "xid", W2P_UINT32),
	W2P_FIELD(2, "final_lsn", W2P_LSN),
	W2P_FIELD(3, "commit_time", W2P_INT64),
	W2P_FIELD(4, "origin", W2P_STRING),
	W2P_FIELD(5, "origin_lsn", W2P_LSN),
};
W2P_MESSAGE_DESC(begin_desc, "wal2proto.v1.Begin", begin_fields);

static const W2PField commit_fields[] = {
	W2P_FIELD(1, "commit_lsn", W2P_LSN),
	W2P_FIELD(2, "end_lsn", W2P_LSN),
	W2P_FIELD(3, "commit_time", W2P_INT64),
	W2P_FIELD(4, "xid", W2P_UINT32),
};
W2P_MESSAGE_DESC(commit_desc, "wal2proto.v1.Commit", commit_fields);

static const W2PField column_fields[] = {
	W2P_FIELD(1, "name", W2P_STRING),
	W2P_FIELD(2, "type_oid", W2P_UINT32),
	W2P_FIELD(3, "type_modifier", W2P_INT32),
	W2P_FIELD(4, "type_name", W2P_STRING),
	W2P_FIELD(5, "identity", W2P_BOOL),
	W2P_FIELD(6, "primary_key", W2P_BOOL),
	W2P_FIELD(7, "not_null", W2P_BOOL),
	W2P_FIELD(8, "base_type_oid", W2P_UINT32),
};
W2P_MESSAGE_DESC(column_desc, "wal2proto.v1.Column", column_fields);

static const W2PField relation_fields[] = {
	W2P_FIELD(1, "relation_id", W2P_UINT32),
	W2P_FIELD(2, "schema", W2P_STRING),
	W2P_FIELD(3, "name", W2P_STRING),
	W2P_ENUMF(4, "replica_identity", replica_identity_enum),
	W2P_REPEATED_MSG(5, "columns", column_desc),
};
W2P_MESSAGE_DESC(relation_desc, "wal2proto.v1.Relation", relation_fields);

static const W2PField insert_fields[] = {
	W2P_FIELD(1, "relation_id", W2P_UINT32),
	W2P_MSG(2, "new_tuple", tuple_desc),
	W2P_FIELD(3, "xid", W2P_UINT32),
};
W2P_MESSAGE_DESC(insert_desc, "wal2proto.v1.Insert", insert_fields);

static const W2PField update_fields[] = {
	W2P_FIELD(1, "relation_id", W2P_UINT32),
	W2P_MSG(2, "old_tuple", tuple_desc),
	W2P_MSG(3, "new_tuple", tuple_desc),
	W2P_FIELD(4, "xid", W2P_UINT32),
};
W2P_MESSAGE_DESC(update_desc, "wal2proto.v1.Update", update_fields);

static const W2PField delete_fields[] = {
	W2P_FIELD(1, "relation_id", W2P_UINT32),
	W2P_MSG(2, "old_tuple", tuple_desc),
	W2P_FIELD(3, "xid", W2P_UINT32),
};
W2P_MESSAGE_DESC(delete_desc, "wal2proto.v1.Delete", delete_fields);

static const W2PField truncate_fields[] = {
	W2P_REPEATED(1, "relation_ids", W2P_UINT32),
	W2P_FIELD(2, "cascade", W2P_BOOL),
	W2P_FIELD(3, "restart_identity", W2P_BOOL),
	W2P_FIELD(4, "xid", W2P_UINT32),
};
W2P_MESSAGE_DESC(truncate_desc, "wal2proto.v1.Truncate", truncate_fields);

static const W2PField logical_message_fields[] = {
	W2P_FIELD(1, "transactional", W2P_BOOL),
	W2P_FIELD(2, "prefix", W2P_STRING),
	W2P_FIELD(3, "content", W2P_HEX),
	W2P_FIELD(4, "lsn", W2P_LSN),
	W2P_FIELD(5, "xid", W2P_UINT32),
};
W2P_MESSAGE_DESC(logical_message_desc, "wal2proto.v1.LogicalMessage",
				 logical_message_fields);

static const W2PField stream_start_fields[] = {
	W2P_FIELD(1, "xid", W2P_UINT32),
	W2P_FIELD(2, "first_segment", W2P_BOOL),
	W2P_FIELD(3, "origin", W2P_STRING),
	W2P_FIELD(4, "origin_lsn", W2P_LSN),
};
W2P_MESSAGE_DESC(stream_start_desc, "wal2proto.v1.StreamStart",
				 stream_start_fields);

/* StreamStop has no fields; a zero-length table is not valid C. */
static const W2PMessageDesc stream_stop_desc = {
	"wal2proto.v1.StreamStop", NULL, 0
};

static const W2PField stream_commit_fields[] = {
	W2P_FIELD(1, "xid", W2P_UINT32),
	W2P_FIELD(2, "commit_lsn", W2P_LSN),
	W2P_FIELD(3, "end_lsn", W2P_LSN),
	W2P_FIELD(4, "commit_time", W2P_INT64),
};
W2P_MESSAGE_DESC(stream_commit_desc, "wal2proto.v1.StreamCommit",
				 stream_commit_fields);

static const W2PField stream_abort_fields[] = {
	W2P_FIELD(1, "xid", W2P_UINT32),
	W2P_FIELD(2, "subxid", W2P_UINT32),
	W2P_FIELD(3, "abort_lsn", W2P_LSN),
};
W2P_MESSAGE_DESC(stream_abort_desc, "wal2proto.v1.StreamAbort",
				 stream_abort_fields);

static const W2PField begin_prepare_fields[] = {
	W2P_FIELD(1, "xid", W2P_UINT32),
	W2P_FIELD(2, "prepare_lsn", W2P_LSN),
	W2P_FIELD(3, "end_lsn", W2P_LSN),
	W2P_FIELD(4, "prepare_time", W2P_INT64),
	W2P_FIELD(5, "gid", W2P_STRING),
	W2P_FIELD(6, "origin", W2P_STRING),
	W2P_FIELD(7, "origin_lsn", W2P_LSN),
};
W2P_MESSAGE_DESC(begin_prepare_desc, "wal2proto.v1.BeginPrepare",
				 begin_prepare_fields);

/* Prepare and StreamPrepare have the same fields. */
static const W2PField prepare_fields[] = {
	W2P_FIELD(1, "xid", W2P_UINT32),
	W2P_FIELD(2, "prepare_lsn", W2P_LSN),
	W2P_FIELD(3, "end_lsn", W2P_LSN),
	W2P_FIELD(4, "prepare_time", W2P_INT64),
	W2P_FIELD(5, "gid", W2P_STRING),
};
W2P_MESSAGE_DESC(prepare_desc, "wal2proto.v1.Prepare", prepare_fields);
W2P_MESSAGE_DESC(stream_prepare_desc, "wal2proto.v1.StreamPrepare",
				 prepare_fields);

static const W2PField commit_prepared_fields[] = {
	W2P_FIELD(1, "xid", W2P_UINT32),
	W2P_FIELD(2, "commit_lsn", W2P_LSN),
	W2P_FIELD(3, "end_lsn", W2P_LSN),
	W2P_FIELD(4, "commit_time", W2P_INT64),
	W2P_FIELD(5, "gid", W2P_STRING),
};
W2P_MESSAGE_DESC(commit_prepared_desc, "wal2proto.v1.CommitPrepared",
				 commit_prepared_fields);

static const W2PField rollback_prepared_fields[] = {
	W2P_FIELD(1, "xid", W2P_UINT32),
	W2P_FIELD(2, "prepare_end_lsn", W2P_LSN),
	W2P_FIELD(3, "rollback_end_lsn", W2P_LSN),
	W2P_FIELD(4, "prepare_time", W2P_INT64),
	W2P_FIELD(5, "rollback_time", W2P_INT64),
	W2P_FIELD(6, "gid", W2P_STRING),
};
W2P_MESSAGE_DESC(rollback_prepared_desc, "wal2proto.v1.RollbackPrepared",
				 rollback_prepared_fields);

static const W2PField message_fields[] = {
	W2P_ONEOF_MSG(1, "begin", begin_desc),
	W2P_ONEOF_MSG(2, "commit", commit_desc),
	W2P_ONEOF_MSG(3, "relation", relation_desc),
	W2P_ONEOF_MSG(4, "insert", insert_desc),
	W2P_ONEOF_MSG(5, "update", update_desc),
	W2P_ONEOF_MSG(6, "delete", delete_desc),
	W2P_ONEOF_MSG(7, "truncate", truncate_desc),
	W2P_ONEOF_MSG(8, "logical_message", logical_message_desc),
	W2P_ONEOF_MSG(9, "stream_start", stream_start_desc),
	W2P_ONEOF_MSG(10, "stream_stop", stream_stop_desc),
	W2P_ONEOF_MSG(11, "stream_commit", stream_commit_desc),
	W2P_ONEOF_MSG(12, "stream_abort", stream_abort_desc),
	W2P_ONEOF_MSG(13, "begin_prepare", begin_prepare_desc),
	W2P_ONEOF_MSG(14, "prepare", prepare_desc),
	W2P_ONEOF_MSG(15, "commit_prepared", commit_prepared_desc),
	W2P_ONEOF_MSG(16, "rollback_prepared", rollback_prepared_desc),
	W2P_ONEOF_MSG(17, "stream_prepare", stream_prepare_desc),
};
W2P_MESSAGE_DESC(message_desc, "wal2proto.v1.Message", message_fields);

static const W2PField batch_fields[] = {
	W2P_REPEATED_MSG(1, "messages", message_desc),
};
W2P_MESSAGE_DESC(batch_desc, "wal2proto.v1.Batch", batch_fields);

/* ----------------------------------------------------------------
 * Wire reader
 *
 * Every read takes the current position by reference and the end of the
 * enclosing message, checks that the bytes it needs are there, and raises
 * an ERROR otherwise.
 * ----------------------------------------------------------------
 */

static int
w2p_offset(const W2PInput *in, const uint8 *p)
{
	return (int) (p - in->base);
}

static uint64
w2p_read_varint(const W2PInput *in, const uint8 **pp, const uint8 *end)
{
	const uint8 *start = *pp;
	const uint8 *p = start;
	uint64		result = 0;
	int			shift;

	for (shift = 0; shift < 64; shift += 7)
	{
		uint8		b;

		if (p >= end)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid wal2proto batch"),
					 errdetail("Truncated varint at byte offset %d.",
							   w2p_offset(in, start))));
		b = *p++;
		result |= (uint64) (b & 0x7F) << shift;
		if ((b & 0x80) == 0)
		{
			*pp = p;
			return result;
		}
	}

	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid wal2proto batch"),
			 errdetail("Varint longer than 10 bytes at byte offset %d.",
					   w2p_offset(in, start))));
	return 0;					/* keep compiler quiet */
}

/* Little-endian fixed32 or fixed64 (nbytes 4 or 8). */
static uint64
w2p_read_fixed(const W2PInput *in, const uint8 **pp, const uint8 *end,
			   int nbytes)
{
	const uint8 *p = *pp;
	uint64		result = 0;
	int			i;

	if (end - p < nbytes)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid wal2proto batch"),
				 errdetail("Truncated %d-byte fixed-width value at byte offset %d.",
						   nbytes, w2p_offset(in, p))));
	for (i = 0; i < nbytes; i++)
		result |= (uint64) p[i] << (8 * i);
	*pp = p + nbytes;
	return result;
}

/* Length prefix of a wire type 2 field; the payload must fit before end. */
static int
w2p_read_length(const W2PInput *in, const uint8 **pp, const uint8 *end)
{
	const uint8 *start = *pp;
	uint64		len = w2p_read_varint(in, pp, end);

	if (len > (uint64) (end - *pp))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid wal2proto batch"),
				 errdetail("Length %llu at byte offset %d runs past the end of the enclosing message.",
						   (unsigned long long) len, w2p_offset(in, start))));
	return (int) len;
}

/* Read a tag; the field number must be valid (1 .. 2^29-1). */
static void
w2p_read_tag(const W2PInput *in, const uint8 **pp, const uint8 *end,
			 uint32 *number, int *wiretype)
{
	const uint8 *start = *pp;
	uint64		tag = w2p_read_varint(in, pp, end);

	if (tag > PG_UINT32_MAX || (tag >> 3) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid wal2proto batch"),
				 errdetail("Invalid field number %llu at byte offset %d.",
						   (unsigned long long) (tag >> 3),
						   w2p_offset(in, start))));
	*number = (uint32) (tag >> 3);
	*wiretype = (int) (tag & 7);
}

static void
w2p_check_depth(const W2PInput *in, const uint8 *p, int depth)
{
	check_stack_depth();
	if (depth > W2P_MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid wal2proto batch"),
				 errdetail("Messages nested more than %d levels deep at byte offset %d.",
						   W2P_MAX_DEPTH, w2p_offset(in, p))));
}

/*
 * Skip the payload of a field this reader does not know, whose tag has just
 * been read.  A group (wire type 3) is skipped up to its matching end tag.
 */
static void
w2p_skip_field(const W2PInput *in, const uint8 **pp, const uint8 *end,
			   const uint8 *tagpos, uint32 number, int wiretype, int depth)
{
	switch (wiretype)
	{
		case W2P_WT_VARINT:
			(void) w2p_read_varint(in, pp, end);
			break;
		case W2P_WT_FIXED64:
			(void) w2p_read_fixed(in, pp, end, 8);
			break;
		case W2P_WT_FIXED32:
			(void) w2p_read_fixed(in, pp, end, 4);
			break;
		case W2P_WT_LEN:
			{
				int			len = w2p_read_length(in, pp, end);

				*pp += len;
				break;
			}
		case W2P_WT_SGROUP:
			w2p_check_depth(in, tagpos, depth + 1);
			for (;;)
			{
				const uint8 *innertag = *pp;
				uint32		innernumber;
				int			innerwiretype;

				if (*pp >= end)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("invalid wal2proto batch"),
							 errdetail("Group of field %u at byte offset %d has no end.",
									   number, w2p_offset(in, tagpos))));
				w2p_read_tag(in, pp, end, &innernumber, &innerwiretype);
				if (innerwiretype == W2P_WT_EGROUP)
				{
					if (innernumber != number)
						ereport(ERROR,
								(errcode(ERRCODE_DATA_CORRUPTED),
								 errmsg("invalid wal2proto batch"),
								 errdetail("End of group %u at byte offset %d does not match group %u.",
										   innernumber,
										   w2p_offset(in, innertag),
										   number)));
					break;
				}
				w2p_skip_field(in, pp, end, innertag, innernumber,
							   innerwiretype, depth + 1);
			}
			break;
		case W2P_WT_EGROUP:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid wal2proto batch"),
					 errdetail("Unexpected end of group %u at byte offset %d.",
							   number, w2p_offset(in, tagpos))));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid wal2proto batch"),
					 errdetail("Invalid wire type %d of field %u at byte offset %d.",
							   wiretype, number, w2p_offset(in, tagpos))));
	}
}

/* ----------------------------------------------------------------
 * Parsing a message into slots
 * ----------------------------------------------------------------
 */

static const W2PField *
w2p_lookup_field(const W2PMessageDesc *desc, uint32 number, int *index)
{
	int			i;

	for (i = 0; i < desc->nfields; i++)
	{
		if (desc->fields[i].number == number)
		{
			*index = i;
			return &desc->fields[i];
		}
	}
	return NULL;
}

/* The wire type a field is written with (unpacked). */
static int
w2p_expected_wiretype(W2PKind kind)
{
	switch (kind)
	{
		case W2P_FLOAT:
			return W2P_WT_FIXED32;
		case W2P_DOUBLE:
			return W2P_WT_FIXED64;
		case W2P_STRING:
		case W2P_HEX:
		case W2P_UUID:
		case W2P_MESSAGE:
			return W2P_WT_LEN;
		default:
			return W2P_WT_VARINT;
	}
}

static void
w2p_slot_append(W2PSlot *slot, uint64 value, const uint8 *data, int len)
{
	if (slot->nitems >= slot->maxitems)
	{
		slot->maxitems = Max(4, slot->maxitems * 2);
		if (slot->items == NULL)
			slot->items = palloc(slot->maxitems * sizeof(W2PItem));
		else
			slot->items = repalloc(slot->items,
								   slot->maxitems * sizeof(W2PItem));
	}
	slot->items[slot->nitems].value = value;
	slot->items[slot->nitems].data = data;
	slot->items[slot->nitems].len = len;
	slot->nitems++;
}

static void w2p_render_field(const W2PInput *in, StringInfo out,
							 const W2PField *field, const W2PSlot *slot,
							 int depth);

/*
 * Parse the fields of one message from the byte ranges spans[0..nspans-1]
 * (several ranges when a singular message field occurred several times:
 * protobuf merges them, which equals parsing their concatenation) into
 * slots, one per entry of desc->fields.
 *
 * Values that the parse discards (a singular field overwritten, oneof
 * members cleared by a later member) are still validated, as a protobuf
 * parser would have parsed them, so that a batch is rejected or accepted
 * whatever the order of its fields.
 */
static void
w2p_parse_message(const W2PInput *in, const W2PMessageDesc *desc,
				  const W2PItem *spans, int nspans, W2PSlot *slots,
				  int depth)
{
	int			s;

	for (s = 0; s < nspans; s++)
	{
		const uint8 *p = spans[s].data;
		const uint8 *end = p + spans[s].len;

		w2p_check_depth(in, p, depth);

		while (p < end)
		{
			const uint8 *tagpos = p;
			uint32		number;
			int			wiretype;
			int			index;
			const W2PField *field;
			W2PSlot    *slot;
			int			expected;

			CHECK_FOR_INTERRUPTS();

			w2p_read_tag(in, &p, end, &number, &wiretype);
			field = w2p_lookup_field(desc, number, &index);
			if (field == NULL)
			{
				w2p_skip_field(in, &p, end, tagpos, number, wiretype, depth);
				continue;
			}
			slot = &slots[index];
			expected = w2p_expected_wiretype(field->kind);

			/* Packed repeated scalars: one length-delimited run of values. */
			if (field->repeated && wiretype == W2P_WT_LEN &&
				expected != W2P_WT_LEN)
			{
				int			len = w2p_read_length(in, &p, end);
				const uint8 *runend = p + len;

				while (p < runend)
				{
					uint64		v;

					if (expected == W2P_WT_VARINT)
						v = w2p_read_varint(in, &p, runend);
					else
						v = w2p_read_fixed(in, &p, runend,
										   expected == W2P_WT_FIXED32 ? 4 : 8);
					w2p_slot_append(slot, v, NULL, 0);
				}
				continue;
			}

			if (wiretype != expected)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("invalid wal2proto batch"),
						 errdetail("Field \"%s\" of %s has wire type %d instead of %d at byte offset %d.",
								   field->name, desc->name, wiretype,
								   expected, w2p_offset(in, tagpos))));

			/* A oneof member clears the other members. */
			if (field->in_oneof)
			{
				int			i;

				for (i = 0; i < desc->nfields; i++)
				{
					if (i == index || !desc->fields[i].in_oneof ||
						slots[i].nitems == 0)
						continue;
					w2p_render_field(in, NULL, &desc->fields[i], &slots[i],
									 depth);
					slots[i].nitems = 0;
				}
			}

			/*
			 * A singular non-message field keeps only its last value; check
			 * the one it replaces.
			 */
			if (!field->repeated && field->kind != W2P_MESSAGE &&
				slot->nitems > 0)
			{
				w2p_render_field(in, NULL, field, slot, depth);
				slot->nitems = 0;
			}

			switch (wiretype)
			{
				case W2P_WT_VARINT:
					w2p_slot_append(slot, w2p_read_varint(in, &p, end),
									NULL, 0);
					break;
				case W2P_WT_FIXED32:
					w2p_slot_append(slot, w2p_read_fixed(in, &p, end, 4),
									NULL, 0);
					break;
				case W2P_WT_FIXED64:
					w2p_slot_append(slot, w2p_read_fixed(in, &p, end, 8),
									NULL, 0);
					break;
				case W2P_WT_LEN:
					{
						int			len = w2p_read_length(in, &p, end);

						w2p_slot_append(slot, 0, p, len);
						p += len;
						break;
					}
			}
		}
	}
}

/* ----------------------------------------------------------------
 * Rendering
 *
 * Every render function accepts out == NULL, meaning "validate only": the
 * input is parsed and checked exactly as for rendering, nothing is written.
 * ----------------------------------------------------------------
 */

static void
w2p_render_message(const W2PInput *in, StringInfo out,
				   const W2PMessageDesc *desc, const W2PItem *spans,
				   int nspans, int depth)
{
	W2PSlot    *slots = NULL;
	bool		first = true;
	int			i;

	if (desc->nfields > 0)
		slots = palloc0(desc->nfields * sizeof(W2PSlot));
	w2p_parse_message(in, desc, spans, nspans, slots, depth);

	if (out)
		appendStringInfoChar(out, '{');
	for (i = 0; i < desc->nfields; i++)
	{
		if (slots[i].nitems == 0)
			continue;
		if (out)
		{
			if (!first)
				appendStringInfoString(out, ", ");
			appendStringInfo(out, "\"%s\": ", desc->fields[i].name);
		}
		first = false;
		w2p_render_field(in, out, &desc->fields[i], &slots[i], depth);
	}
	if (out)
		appendStringInfoChar(out, '}');

	for (i = 0; i < desc->nfields; i++)
		if (slots[i].items)
			pfree(slots[i].items);
	if (slots)
		pfree(slots);
}

static void
w2p_render_hex(StringInfo out, const uint8 *data, int len)
{
	static const char hexdigits[] = "0123456789abcdef";
	int			i;

	/* The JSON string \x..., as bytea_output 'hex' prints bytea. */
	appendStringInfoString(out, "\"\\\\x");
	enlargeStringInfo(out, 2 * len + 1);
	for (i = 0; i < len; i++)
	{
		out->data[out->len++] = hexdigits[data[i] >> 4];
		out->data[out->len++] = hexdigits[data[i] & 0x0F];
	}
	out->data[out->len] = '\0';
	appendStringInfoChar(out, '"');
}

static void
w2p_render_uuid(StringInfo out, const uint8 *data, int len)
{
	static const char hexdigits[] = "0123456789abcdef";
	int			i;

	if (len != 16)
	{
		w2p_render_hex(out, data, len);
		return;
	}
	appendStringInfoChar(out, '"');
	for (i = 0; i < 16; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			appendStringInfoChar(out, '-');
		appendStringInfoChar(out, hexdigits[data[i] >> 4]);
		appendStringInfoChar(out, hexdigits[data[i] & 0x0F]);
	}
	appendStringInfoChar(out, '"');
}

/*
 * A proto string: UTF-8 on the wire, converted to the database encoding
 * (the encoding jsonb text is in) and escaped.  A zero byte is valid UTF-8
 * but is rejected too: PostgreSQL text (and jsonb) cannot hold it, so the
 * plugin never writes one.
 */
static void
w2p_render_string(const W2PInput *in, StringInfo out, const W2PField *field,
				  const uint8 *data, int len)
{
	const char *s = (const char *) data;
	char	   *copy;
	char	   *converted;

	if (memchr(s, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid wal2proto batch"),
				 errdetail("String field \"%s\" at byte offset %d contains a zero byte, which text cannot hold.",
						   field->name, w2p_offset(in, data))));
	if (pg_encoding_verifymbstr(PG_UTF8, s, len) != len)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid wal2proto batch"),
				 errdetail("String field \"%s\" at byte offset %d is not valid UTF-8.",
						   field->name, w2p_offset(in, data))));
	if (out == NULL)
		return;

	copy = pnstrdup(s, len);
	converted = pg_any_to_server(copy, len, PG_UTF8);
	escape_json(out, converted);
	if (converted != copy)
		pfree(converted);
	pfree(copy);
}

static void
w2p_render_float(StringInfo out, double d, bool is_float4)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(d))
		appendStringInfoString(out, "\"NaN\"");
	else if (isinf(d))
		appendStringInfoString(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
	{
		if (is_float4)
			float_to_shortest_decimal_buf((float) d, buf);
		else
			double_to_shortest_decimal_buf(d, buf);
		appendStringInfoString(out, buf);
	}
}

/* One occurrence of a scalar (non-message) field. */
static void
w2p_render_scalar(const W2PInput *in, StringInfo out, const W2PField *field,
				  const W2PItem *item)
{
	uint64		v = item->value;

	/* Only the strings need checking without output. */
	if (out == NULL)
	{
		if (field->kind == W2P_STRING)
			w2p_render_string(in, NULL, field, item->data, item->len);
		return;
	}

	switch (field->kind)
	{
		case W2P_UINT32:
			appendStringInfo(out, "%u", (uint32) v);
			break;
		case W2P_INT32:
			appendStringInfo(out, "%d", (int32) (uint32) v);
			break;
		case W2P_INT64:
			appendStringInfo(out, INT64_FORMAT, (int64) v);
			break;
		case W2P_SINT32:
			{
				uint32		u = (uint32) v;

				appendStringInfo(out, "%d", (int32) ((u >> 1) ^ (0U - (u & 1))));
				break;
			}
		case W2P_SINT64:
			appendStringInfo(out, INT64_FORMAT,
							 (int64) ((v >> 1) ^ (UINT64CONST(0) - (v & 1))));
			break;
		case W2P_BOOL:
			appendStringInfoString(out, v ? "true" : "false");
			break;
		case W2P_LSN:
			{
				XLogRecPtr	lsn = (XLogRecPtr) v;

				appendStringInfo(out, "\"%X/%X\"", LSN_FORMAT_ARGS(lsn));
				break;
			}
		case W2P_ENUM:
			{
				/* Enums are int32 on the wire, negative ones sign-extended. */
				int32		number = (int32) (uint32) v;

				if (number >= 0 && number < field->enumdesc->nnames)
					appendStringInfo(out, "\"%s\"",
									 field->enumdesc->names[number]);
				else
					appendStringInfo(out, "%d", number);
				break;
			}
		case W2P_FLOAT:
			{
				uint32		bits = (uint32) v;
				float		f;

				memcpy(&f, &bits, sizeof(f));
				w2p_render_float(out, f, true);
				break;
			}
		case W2P_DOUBLE:
			{
				double		d;

				memcpy(&d, &v, sizeof(d));
				w2p_render_float(out, d, false);
				break;
			}
		case W2P_STRING:
			w2p_render_string(in, out, field, item->data, item->len);
			break;
		case W2P_HEX:
			w2p_render_hex(out, item->data, item->len);
			break;
		case W2P_UUID:
			w2p_render_uuid(out, item->data, item->len);
			break;
		case W2P_MESSAGE:
			elog(ERROR, "message field \"%s\" rendered as a scalar",
				 field->name);
	}
}

/* The value of a field that occurred at least once. */
static void
w2p_render_field(const W2PInput *in, StringInfo out, const W2PField *field,
				 const W2PSlot *slot, int depth)
{
	int			i;

	if (field->kind == W2P_MESSAGE && !field->repeated)
	{
		/* All occurrences merge into one message. */
		w2p_render_message(in, out, field->message, slot->items,
						   slot->nitems, depth + 1);
		return;
	}
	if (!field->repeated)
	{
		w2p_render_scalar(in, out, field, &slot->items[slot->nitems - 1]);
		return;
	}

	if (out)
		appendStringInfoChar(out, '[');
	for (i = 0; i < slot->nitems; i++)
	{
		if (out && i > 0)
			appendStringInfoString(out, ", ");
		if (field->kind == W2P_MESSAGE)
			w2p_render_message(in, out, field->message, &slot->items[i], 1,
							   depth + 1);
		else
			w2p_render_scalar(in, out, field, &slot->items[i]);
	}
	if (out)
		appendStringInfoChar(out, ']');
}

/* ----------------------------------------------------------------
 * SQL entry point
 * ----------------------------------------------------------------
 */

/*
 * wal2proto.to_json(batch bytea) RETURNS jsonb
 *
 * The top level is always {"messages": [...]}, even for an empty batch.
 * Each message is rendered in a short-lived child context.
 */
Datum
wal2proto_to_json(PG_FUNCTION_ARGS)
{
	bytea	   *batch = PG_GETARG_BYTEA_PP(0);
	W2PInput	in;
	W2PItem		whole;
	W2PSlot		slot;
	StringInfoData out;
	MemoryContext msgcontext;
	MemoryContext oldcontext;
	int			i;

	in.base = (const uint8 *) VARDATA_ANY(batch);
	in.end = in.base + VARSIZE_ANY_EXHDR(batch);

	/* Batch has one field; collect its messages without rendering them. */
	Assert(batch_desc.nfields == 1);
	whole.value = 0;
	whole.data = in.base;
	whole.len = (int) (in.end - in.base);
	memset(&slot, 0, sizeof(slot));
	w2p_parse_message(&in, &batch_desc, &whole, 1, &slot, 0);

	initStringInfo(&out);
	appendStringInfo(&out, "{\"%s\": [", batch_desc.fields[0].name);

	msgcontext = AllocSetContextCreate(CurrentMemoryContext,
									   "wal2proto to_json message",
									   ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < slot.nitems; i++)
	{
		if (i > 0)
			appendStringInfoString(&out, ", ");
		oldcontext = MemoryContextSwitchTo(msgcontext);
		w2p_render_message(&in, &out, &message_desc, &slot.items[i], 1, 1);
		MemoryContextSwitchTo(oldcontext);
		MemoryContextReset(msgcontext);
	}
	MemoryContextDelete(msgcontext);
	appendStringInfoString(&out, "]}");

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
