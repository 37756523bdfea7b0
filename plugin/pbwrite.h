/*-------------------------------------------------------------------------
 *
 * pbwrite.h
 *		  Protocol-buffer wire primitives that write straight into a
 *		  StringInfo (the output plugin's ctx->out).
 *
 * Copyright (c) 2026, the wal2proto authors.  PostgreSQL License.
 *
 * The plugin does not build message trees: it writes each field as it goes.
 * A nested message whose length is not known in advance is opened with
 * pb_open(), which reserves one byte for the length, and closed with
 * pb_close(), which fills the length in and, when it needs more than one
 * byte, moves the body up.  Most of our messages are shorter than 128 bytes,
 * so the move is rare; values whose length is known (strings, scalars) are
 * written with their exact length and never moved.
 *
 * Positions are offsets, never pointers: enlargeStringInfo may move data.
 *
 * Wire reminders: tag = field << 3 | wire type; varint is little-endian
 * base 128; sint uses zigzag; fixed32/fixed64 are little-endian.
 *
 * IDENTIFICATION
 *		  plugin/pbwrite.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef W2P_PBWRITE_H
#define W2P_PBWRITE_H

#include "lib/stringinfo.h"

#define PB_VARINT	0
#define PB_I64		1
#define PB_LEN		2
#define PB_I32		5

#define PB_TAG(field, wt)	((uint32) (((field) << 3) | (wt)))

/*
 * Make room for n more bytes.  The check is inline because it almost always
 * succeeds; enlargeStringInfo itself is an out-of-line call.
 */
static inline void
pb_reserve(StringInfo out, int n)
{
	if (out->len + n + 1 > out->maxlen)
		enlargeStringInfo(out, n);
}

/* Number of bytes the varint encoding of v takes. */
static inline int
pb_varint_size(uint64 v)
{
	int			n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint64
pb_zigzag64(int64 v)
{
	return ((uint64) v << 1) ^ (uint64) (v >> 63);
}

static inline uint32
pb_zigzag32(int32 v)
{
	return ((uint32) v << 1) ^ (uint32) (v >> 31);
}

/* Append a varint; the caller guarantees room for 10 bytes. */
static inline char *
pb_put_varint_raw(char *p, uint64 v)
{
	while (v >= 0x80)
	{
		*p++ = (char) (v | 0x80);
		v >>= 7;
	}
	*p++ = (char) v;
	return p;
}

static inline void
pb_put_varint(StringInfo out, uint64 v)
{
	char	   *p;

	pb_reserve(out, 10);
	p = pb_put_varint_raw(out->data + out->len, v);
	out->len = p - out->data;
}

/* A field holding a varint (uint32/uint64/int64/bool/enum). */
static inline void
pb_put_uint(StringInfo out, uint32 field, uint64 v)
{
	char	   *p;

	pb_reserve(out, 20);
	p = out->data + out->len;
	p = pb_put_varint_raw(p, PB_TAG(field, PB_VARINT));
	p = pb_put_varint_raw(p, v);
	out->len = p - out->data;
}

/* int32 fields are sign-extended to 64 bits on the wire. */
static inline void
pb_put_int32(StringInfo out, uint32 field, int32 v)
{
	pb_put_uint(out, field, (uint64) (int64) v);
}

static inline void
pb_put_sint64(StringInfo out, uint32 field, int64 v)
{
	pb_put_uint(out, field, pb_zigzag64(v));
}

/* The same, omitted when zero (proto3 default). */
static inline void
pb_put_uint_nz(StringInfo out, uint32 field, uint64 v)
{
	if (v != 0)
		pb_put_uint(out, field, v);
}

/* A length-delimited field (string, bytes). */
static inline void
pb_put_bytes(StringInfo out, uint32 field, const char *data, int len)
{
	char	   *p;

	pb_reserve(out, len + 20);
	p = out->data + out->len;
	p = pb_put_varint_raw(p, PB_TAG(field, PB_LEN));
	p = pb_put_varint_raw(p, (uint64) len);
	if (len > 0)
		memcpy(p, data, len);
	out->len = (p - out->data) + len;
}

static inline void
pb_put_string_nz(StringInfo out, uint32 field, const char *s)
{
	if (s != NULL && s[0] != '\0')
		pb_put_bytes(out, field, s, strlen(s));
}

/*
 * Open a nested message in field `field`.  Returns the offset of the
 * reserved length byte, to be passed to pb_close().
 */
static inline int
pb_open(StringInfo out, uint32 field)
{
	char	   *p;
	int			mark;

	pb_reserve(out, 11);
	p = pb_put_varint_raw(out->data + out->len, PB_TAG(field, PB_LEN));
	mark = p - out->data;
	out->len = mark + 1;
	return mark;
}

static inline void
pb_close(StringInfo out, int mark)
{
	int			len = out->len - (mark + 1);

	if (len < 0x80)
		out->data[mark] = (char) len;
	else
	{
		int			n = pb_varint_size((uint64) len);

		pb_reserve(out, n - 1);
		memmove(out->data + mark + n, out->data + mark + 1, len);
		pb_put_varint_raw(out->data + mark, (uint64) len);
		out->len += n - 1;
	}
}

#endif							/* W2P_PBWRITE_H */
