/*-------------------------------------------------------------------------
 *
 * encode.c
 *		  Encoding of wal2proto.v1 Relation messages, tuples and values
 *		  straight into the output buffer.
 *
 * Copyright (c) 2026, the wal2proto authors.  PostgreSQL License.
 *
 * Values are typed and independent of session settings: numbers, times and
 * uuids are written from their binary form, never through output functions
 * that read DateStyle and friends.  Types without a typed member go out as
 * their text output, produced under fixed settings (see use_stable_gucs).
 *
 * Field numbers written here are those of proto/wal2proto.proto; each
 * writer names the message it writes.
 *
 * IDENTIFICATION
 *		  plugin/encode.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "encode.h"
#include "pbwrite.h"

/* Value members (wal2proto.v1.Value). */
#define VAL_MARKER			1
#define VAL_BOOL			2
#define VAL_INT				3
#define VAL_FLOAT4			4
#define VAL_FLOAT8			5
#define VAL_NUMERIC			6
#define VAL_TEXT			7
#define VAL_BYTEA			8
#define VAL_DATE			9
#define VAL_TIME			10
#define VAL_TIMETZ			11
#define VAL_TIMESTAMP		12
#define VAL_TIMESTAMPTZ		13
#define VAL_INTERVAL		14
#define VAL_UUID			15
#define VAL_JSON			16
#define VAL_ARRAY			17
#define VAL_INFINITY		18
#define VAL_TEXT_OUTPUT		19

/* Marker and Infinity enum values. */
#define MARKER_NULL				1
#define MARKER_UNCHANGED_TOAST	2
#define MARKER_NOT_SENT			3
#define INFINITY_POSITIVE		1
#define INFINITY_NEGATIVE		2

/* Days between 2000-01-01 and 1970-01-01. */
#define EPOCH_SHIFT_DAYS	(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)

/* Whether strings must be converted from the database encoding to UTF-8. */
static bool need_utf8_conversion = false;

/* Whether the fixed output settings are in force in this transaction. */
static bool stable_gucs_set = false;

static void put_value(StringInfo out, uint32 field, const W2PTypeInfo *ti,
					  Datum value);

void
w2p_encode_init(void)
{
	need_utf8_conversion = GetDatabaseEncoding() != PG_UTF8;
	stable_gucs_set = false;
}

/*
 * Called at the start of every decoded transaction (and stream block):
 * decoding runs each in its own (sub)transaction, which is aborted at the
 * end, so settings made with GUC_ACTION_LOCAL are gone again.
 */
void
w2p_encode_new_xact(void)
{
	stable_gucs_set = false;
}

/*
 * Text output functions read session settings; a consumer must not see a
 * value change because the decoding session (a walsender, or the psql
 * session calling pg_logical_slot_get_changes) has another DateStyle.
 * Pin the settings for the rest of the transaction being decoded.
 */
static void
use_stable_gucs(void)
{
	if (stable_gucs_set)
		return;
	(void) set_config_option("datestyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("intervalstyle", "postgres", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("timezone", "UTC", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("bytea_output", "hex", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("lc_monetary", "C", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	stable_gucs_set = true;
}

/* ---------------------------------------------------------------------
 * Type information
 * ---------------------------------------------------------------------
 */

static W2PKind
kind_of(Oid typoid)
{
	switch (typoid)
	{
		case BOOLOID:
			return W2P_KIND_BOOL;
		case INT2OID:
			return W2P_KIND_INT2;
		case INT4OID:
			return W2P_KIND_INT4;
		case INT8OID:
			return W2P_KIND_INT8;
		case OIDOID:
			return W2P_KIND_OID;
		case FLOAT4OID:
			return W2P_KIND_FLOAT4;
		case FLOAT8OID:
			return W2P_KIND_FLOAT8;
		case NUMERICOID:
			return W2P_KIND_NUMERIC;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return W2P_KIND_TEXT;
		case NAMEOID:
			return W2P_KIND_NAME;
		case CHAROID:
			return W2P_KIND_CHAR;
		case BYTEAOID:
			return W2P_KIND_BYTEA;
		case DATEOID:
			return W2P_KIND_DATE;
		case TIMEOID:
			return W2P_KIND_TIME;
		case TIMETZOID:
			return W2P_KIND_TIMETZ;
		case TIMESTAMPOID:
			return W2P_KIND_TIMESTAMP;
		case TIMESTAMPTZOID:
			return W2P_KIND_TIMESTAMPTZ;
		case INTERVALOID:
			return W2P_KIND_INTERVAL;
		case UUIDOID:
			return W2P_KIND_UUID;
		case JSONOID:
			return W2P_KIND_JSON;
		case JSONBOID:
			return W2P_KIND_JSONB;
		default:
			return W2P_KIND_OTHER;
	}
}

/*
 * Resolve how values of type typoid are encoded.  Allocates in cxt (the
 * relation entry's context) and does all catalog look-ups now.
 */
void
w2p_typeinfo_fill(W2PTypeInfo *ti, Oid typoid, MemoryContext cxt)
{
	Oid			base = getBaseType(typoid);
	Oid			elemtype;
	Oid			outfunc;
	bool		isvarlena;

	ti->typoid = base;
	ti->elem = NULL;
	get_typlenbyvalalign(base, &ti->typlen, &ti->typbyval, &ti->typalign);
	getTypeOutputInfo(base, &outfunc, &isvarlena);
	fmgr_info_cxt(outfunc, &ti->outfunc, cxt);

	elemtype = get_element_type(base);
	if (OidIsValid(elemtype))
	{
		ti->kind = W2P_KIND_ARRAY;
		ti->elem = MemoryContextAlloc(cxt, sizeof(W2PTypeInfo));
		w2p_typeinfo_fill(ti->elem, elemtype, cxt);
	}
	else
		ti->kind = kind_of(base);
}

/* ---------------------------------------------------------------------
 * Values
 * ---------------------------------------------------------------------
 */

/* A Value in `field` whose one member is a varint. */
static void
put_value_varint(StringInfo out, uint32 field, uint32 member, uint64 v)
{
	uint32		mtag = PB_TAG(member, PB_VARINT);
	char	   *p;

	pb_reserve(out, 30);
	p = out->data + out->len;
	p = pb_put_varint_raw(p, PB_TAG(field, PB_LEN));
	p = pb_put_varint_raw(p, pb_varint_size(mtag) + pb_varint_size(v));
	p = pb_put_varint_raw(p, mtag);
	p = pb_put_varint_raw(p, v);
	out->len = p - out->data;
}

/* A Value in `field` whose one member is length-delimited. */
static void
put_value_bytes(StringInfo out, uint32 field, uint32 member,
				const char *data, int len)
{
	uint32		mtag = PB_TAG(member, PB_LEN);
	uint64		inner = pb_varint_size(mtag) + pb_varint_size(len) + len;
	char	   *p;

	pb_reserve(out, inner + 20);
	p = out->data + out->len;
	p = pb_put_varint_raw(p, PB_TAG(field, PB_LEN));
	p = pb_put_varint_raw(p, inner);
	p = pb_put_varint_raw(p, mtag);
	p = pb_put_varint_raw(p, (uint64) len);
	if (len > 0)
		memcpy(p, data, len);
	out->len = (p - out->data) + len;
}

/* A Value in `field` whose one member is fixed32 or fixed64. */
static void
put_value_fixed(StringInfo out, uint32 field, uint32 member, uint64 bits,
				int nbytes)
{
	char	   *p;
	int			i;

	pb_reserve(out, 20);
	p = out->data + out->len;
	p = pb_put_varint_raw(p, PB_TAG(field, PB_LEN));
	*p++ = (char) (1 + nbytes);
	p = pb_put_varint_raw(p, PB_TAG(member, nbytes == 4 ? PB_I32 : PB_I64));
	for (i = 0; i < nbytes; i++)
		*p++ = (char) (bits >> (8 * i));
	out->len = p - out->data;
}

static inline void
put_marker(StringInfo out, uint32 field, int marker)
{
	put_value_varint(out, field, VAL_MARKER, (uint64) marker);
}

/*
 * A string member, converted to UTF-8 when the database uses another
 * encoding (proto3 strings are UTF-8).
 */
static void
put_value_string(StringInfo out, uint32 field, uint32 member,
				 const char *s, int len)
{
	if (need_utf8_conversion)
	{
		char	   *conv = pg_server_to_any(s, len, PG_UTF8);

		if (conv != s)
		{
			s = conv;
			len = strlen(conv);
		}
	}
	put_value_bytes(out, field, member, s, len);
}

/* A plain string field of a message, converted as put_value_string does. */
void
w2p_put_text(StringInfo out, uint32 field, const char *s, int len)
{
	if (need_utf8_conversion)
	{
		char	   *conv = pg_server_to_any(s, len, PG_UTF8);

		if (conv != s)
		{
			s = conv;
			len = strlen(conv);
		}
	}
	pb_put_bytes(out, field, s, len);
}

static void
put_text_output(StringInfo out, uint32 field, const W2PTypeInfo *ti, Datum value)
{
	char	   *s;

	use_stable_gucs();
	s = OutputFunctionCall((FmgrInfo *) &ti->outfunc, value);
	put_value_string(out, field, VAL_TEXT_OUTPUT, s, strlen(s));
}

/* date, timestamp, timestamptz: a value or one of the infinities. */
static void
put_timestamp(StringInfo out, uint32 field, const W2PTypeInfo *ti,
			  uint32 member, Timestamp ts, Datum value)
{
	int64		unix_usecs;

	if (TIMESTAMP_IS_NOBEGIN(ts))
		put_value_varint(out, field, VAL_INFINITY, INFINITY_NEGATIVE);
	else if (TIMESTAMP_IS_NOEND(ts))
		put_value_varint(out, field, VAL_INFINITY, INFINITY_POSITIVE);
	else if (pg_add_s64_overflow(ts, W2P_EPOCH_SHIFT_USECS, &unix_usecs))
	{
		/*
		 * The last ~30 years of PostgreSQL's range (after 294247 AD) do not
		 * fit int64 microseconds since 1970: send them, losslessly, as text.
		 */
		put_text_output(out, field, ti, value);
	}
	else
		put_value_varint(out, field, member, pb_zigzag64(unix_usecs));
}

static void
put_array(StringInfo out, uint32 field, const W2PTypeInfo *ti, Datum value)
{
	ArrayType  *arr = DatumGetArrayTypeP(value);
	const W2PTypeInfo *elem = ti->elem;
	int			ndim = ARR_NDIM(arr);
	int		   *dims = ARR_DIMS(arr);
	int		   *lbs = ARR_LBOUND(arr);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			vmark;
	int			amark;
	int			i;

	deconstruct_array(arr, ARR_ELEMTYPE(arr), elem->typlen, elem->typbyval,
					  elem->typalign, &elems, &nulls, &nelems);

	vmark = pb_open(out, field);
	amark = pb_open(out, VAL_ARRAY);
	/* Array: element_type_oid = 1, dimensions = 2, lower_bounds = 3, elements = 4 */
	pb_put_uint(out, 1, elem->typoid);
	if (ndim > 0)
	{
		int			m;

		m = pb_open(out, 2);
		for (i = 0; i < ndim; i++)
			pb_put_varint(out, (uint64) (int64) dims[i]);
		pb_close(out, m);
		m = pb_open(out, 3);
		for (i = 0; i < ndim; i++)
			pb_put_varint(out, (uint64) (int64) lbs[i]);
		pb_close(out, m);
	}
	for (i = 0; i < nelems; i++)
	{
		if (nulls != NULL && nulls[i])
			put_marker(out, 4, MARKER_NULL);
		else
			put_value(out, 4, elem, elems[i]);
	}
	pb_close(out, amark);
	pb_close(out, vmark);
}

/*
 * Write one non-NULL value as a Value message in `field` of the enclosing
 * message.  Toasted values are detoasted here (the caller has already
 * turned unchanged on-disk TOAST into a marker).
 */
static void
put_value(StringInfo out, uint32 field, const W2PTypeInfo *ti, Datum value)
{
	switch (ti->kind)
	{
		case W2P_KIND_BOOL:
			put_value_varint(out, field, VAL_BOOL, DatumGetBool(value) ? 1 : 0);
			break;
		case W2P_KIND_INT2:
			put_value_varint(out, field, VAL_INT, pb_zigzag64(DatumGetInt16(value)));
			break;
		case W2P_KIND_INT4:
			put_value_varint(out, field, VAL_INT, pb_zigzag64(DatumGetInt32(value)));
			break;
		case W2P_KIND_INT8:
			put_value_varint(out, field, VAL_INT, pb_zigzag64(DatumGetInt64(value)));
			break;
		case W2P_KIND_OID:
			put_value_varint(out, field, VAL_INT,
							 pb_zigzag64((int64) DatumGetObjectId(value)));
			break;
		case W2P_KIND_FLOAT4:
			{
				float4		f = DatumGetFloat4(value);
				uint32		bits;

				memcpy(&bits, &f, sizeof(bits));
				put_value_fixed(out, field, VAL_FLOAT4, bits, 4);
				break;
			}
		case W2P_KIND_FLOAT8:
			{
				float8		f = DatumGetFloat8(value);
				uint64		bits;

				memcpy(&bits, &f, sizeof(bits));
				put_value_fixed(out, field, VAL_FLOAT8, bits, 8);
				break;
			}
		case W2P_KIND_NUMERIC:
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, value));

				put_value_bytes(out, field, VAL_NUMERIC, s, strlen(s));
				break;
			}
		case W2P_KIND_TEXT:
		case W2P_KIND_JSON:
			{
				struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));

				put_value_string(out, field,
								 ti->kind == W2P_KIND_TEXT ? VAL_TEXT : VAL_JSON,
								 VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
				break;
			}
		case W2P_KIND_NAME:
			{
				const char *s = NameStr(*DatumGetName(value));

				put_value_string(out, field, VAL_TEXT, s, strlen(s));
				break;
			}
		case W2P_KIND_CHAR:
			{
				/* the character, or \ooo for a byte that is not ASCII */
				char	   *s = DatumGetCString(DirectFunctionCall1(charout, value));

				put_value_bytes(out, field, VAL_TEXT, s, strlen(s));
				break;
			}
		case W2P_KIND_BYTEA:
			{
				struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));

				put_value_bytes(out, field, VAL_BYTEA, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
				break;
			}
		case W2P_KIND_DATE:
			{
				DateADT		d = DatumGetDateADT(value);

				if (DATE_IS_NOBEGIN(d))
					put_value_varint(out, field, VAL_INFINITY, INFINITY_NEGATIVE);
				else if (DATE_IS_NOEND(d))
					put_value_varint(out, field, VAL_INFINITY, INFINITY_POSITIVE);
				else
					put_value_varint(out, field, VAL_DATE,
									 pb_zigzag32(d + EPOCH_SHIFT_DAYS));
				break;
			}
		case W2P_KIND_TIME:
			put_value_varint(out, field, VAL_TIME, (uint64) DatumGetTimeADT(value));
			break;
		case W2P_KIND_TIMETZ:
			{
				TimeTzADT  *t = DatumGetTimeTzADTP(value);
				int			vmark = pb_open(out, field);
				int			m = pb_open(out, VAL_TIMETZ);

				/* TimeTz: time = 1, utc_offset = 2 (PostgreSQL stores west-positive) */
				pb_put_uint_nz(out, 1, (uint64) t->time);
				pb_put_uint_nz(out, 2, pb_zigzag32(-t->zone));
				pb_close(out, m);
				pb_close(out, vmark);
				break;
			}
		case W2P_KIND_TIMESTAMP:
			put_timestamp(out, field, ti, VAL_TIMESTAMP,
						  DatumGetTimestamp(value), value);
			break;
		case W2P_KIND_TIMESTAMPTZ:
			put_timestamp(out, field, ti, VAL_TIMESTAMPTZ,
						  DatumGetTimestampTz(value), value);
			break;
		case W2P_KIND_INTERVAL:
			{
				Interval   *iv = DatumGetIntervalP(value);
				int			vmark = pb_open(out, field);
				int			m = pb_open(out, VAL_INTERVAL);

				/* Interval: months = 1, days = 2, microseconds = 3 */
				pb_put_uint_nz(out, 1, (uint64) (int64) iv->month);
				pb_put_uint_nz(out, 2, (uint64) (int64) iv->day);
				pb_put_uint_nz(out, 3, (uint64) iv->time);
				pb_close(out, m);
				pb_close(out, vmark);
				break;
			}
		case W2P_KIND_UUID:
			put_value_bytes(out, field, VAL_UUID,
							(const char *) DatumGetUUIDP(value)->data, UUID_LEN);
			break;
		case W2P_KIND_JSONB:
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(jsonb_out, value));

				put_value_string(out, field, VAL_JSON, s, strlen(s));
				break;
			}
		case W2P_KIND_ARRAY:
			put_array(out, field, ti, value);
			break;
		case W2P_KIND_OTHER:
			put_text_output(out, field, ti, value);
			break;
	}
}

/*
 * Write a Tuple in `field`: one Value per column of the reported relation.
 * For an old tuple that holds only the replica identity, sent[attidx] says
 * which columns the WAL record has; NULL means all.  Allocates in the
 * current (per-change) memory context.
 */
void
w2p_put_tuple(StringInfo out, uint32 field, W2PRelEntry *entry,
			  HeapTuple tuple, const bool *sent)
{
	TupleDesc	desc = entry->desc;
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	int			mark;
	int			i;

	heap_deform_tuple(tuple, desc, values, nulls);

	mark = pb_open(out, field);
	for (i = 0; i < entry->ncolumns; i++)
	{
		const W2PColumn *col = &entry->columns[i];
		Datum		value = values[col->attidx];

		/* Tuple: values = 1 */
		if (sent != NULL && !sent[col->attidx])
			put_marker(out, 1, MARKER_NOT_SENT);
		else if (nulls[col->attidx])
			put_marker(out, 1, MARKER_NULL);
		else if (TupleDescAttr(desc, col->attidx)->attlen == -1 &&
				 VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(value)))
			put_marker(out, 1, MARKER_UNCHANGED_TOAST);
		else
			put_value(out, 1, &col->type, value);
	}
	pb_close(out, mark);
}

/* ---------------------------------------------------------------------
 * Relation
 * ---------------------------------------------------------------------
 */

static int
replica_identity_enum(char replident)
{
	switch (replident)
	{
		case REPLICA_IDENTITY_DEFAULT:
			return 1;
		case REPLICA_IDENTITY_NOTHING:
			return 2;
		case REPLICA_IDENTITY_FULL:
			return 3;
		case REPLICA_IDENTITY_INDEX:
			return 4;
	}
	return 0;
}

/*
 * Write the Batch element (Message with member relation) that describes
 * `rel` as `entry` reports it.
 */
void
w2p_encode_relation(StringInfo out, Relation rel, W2PRelEntry *entry)
{
	/* rel's own descriptor: entry->desc is a copy without NOT NULL flags */
	TupleDesc	desc = RelationGetDescr(rel);
	Bitmapset  *pkattrs;
	char	   *nspname = get_namespace_name(RelationGetNamespace(rel));
	const char *relname = RelationGetRelationName(rel);
	int			bmark;
	int			mmark;
	int			i;

	pkattrs = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);

	bmark = pb_open(out, 1);	/* Batch.messages */
	mmark = pb_open(out, 3);	/* Message.relation */
	/* Relation: relation_id = 1, schema = 2, name = 3, replica_identity = 4, columns = 5 */
	pb_put_uint(out, 1, RelationGetRelid(rel));
	w2p_put_text(out, 2, nspname, strlen(nspname));
	w2p_put_text(out, 3, relname, strlen(relname));
	pb_put_uint(out, 4, replica_identity_enum(entry->replident));
	for (i = 0; i < entry->ncolumns; i++)
	{
		const W2PColumn *col = &entry->columns[i];
		Form_pg_attribute att = TupleDescAttr(desc, col->attidx);
		bits16		flags = FORMAT_TYPE_TYPEMOD_GIVEN;
		char	   *typname;
		int			cmark;

		if (att->atttypid >= FirstNormalObjectId)
			flags |= FORMAT_TYPE_FORCE_QUALIFY;
		typname = format_type_extended(att->atttypid, att->atttypmod, flags);

		/*
		 * Column: name = 1, type_oid = 2, type_modifier = 3, type_name = 4,
		 * identity = 5, primary_key = 6, not_null = 7, base_type_oid = 8
		 */
		cmark = pb_open(out, 5);
		w2p_put_text(out, 1, NameStr(att->attname), strlen(NameStr(att->attname)));
		pb_put_uint(out, 2, att->atttypid);
		pb_put_int32(out, 3, att->atttypmod);
		w2p_put_text(out, 4, typname, strlen(typname));
		pb_put_uint_nz(out, 5, col->identity);
		pb_put_uint_nz(out, 6, bms_is_member(att->attnum - FirstLowInvalidHeapAttributeNumber,
											 pkattrs));
		pb_put_uint_nz(out, 7, att->attnotnull);
		if (col->type.typoid != att->atttypid)
			pb_put_uint(out, 8, col->type.typoid);
		pb_close(out, cmark);
	}
	pb_close(out, mmark);
	pb_close(out, bmark);
}
