/*-------------------------------------------------------------------------
 *
 * encoder_bench.c
 *		  Encode one change as a wal2proto.v1 Batch element, many times, with
 *		  the plugin's direct writer and with protobuf-c, and report the cost.
 *
 * Copyright (c) 2026, the wal2proto authors.  PostgreSQL License.
 *
 * The encoded change is an Insert of the decoding benchmark's row
 * (bench/workload.sql, i = 123456) into a relation with these columns:
 *
 *	  id bigint, n int, t text (50 characters), amount numeric,
 *	  ts timestamptz, flag bool, doc jsonb, b bytea (16 bytes), u uuid
 *
 * Each message is one Batch element: Batch.messages(1) { Message.insert(4)
 * { relation_id, new_tuple { 9 x values } } }.  Messages accumulate in a
 * StringInfo that is reset at 64 kB, as the plugin's ctx->out is at its
 * default batch-bytes.
 *
 * The inputs are what the plugin holds after heap_deform_tuple and the
 * per-type output calls it makes in either design: integers, a text datum's
 * bytes (not NUL-terminated), numeric_out's and jsonb_out's C strings, the
 * timestamptz in the PostgreSQL epoch, and pointers to the bytea and uuid
 * bytes.  What the two encoders do from there is what is measured.
 *
 * Modes:
 *	  direct		plugin/pbwrite.h, with value writers that make the same
 *					calls as plugin/encode.c.
 *	  protobuf-c	message structs built on the stack per change (the text
 *					copied into a per-change arena to NUL-terminate it), then
 *					protobuf_c_message_get_packed_size + protobuf_c_message_pack.
 *	  protobuf-c-buffer
 *					the same tree, packed with protobuf_c_message_pack_to_buffer
 *					through a ProtobufCBuffer that appends to the StringInfo
 *					(protobuf-c's other way to pack, without the size pass of
 *					the whole tree up front).
 *	  pack-only		protobuf-c with the structs built once, outside the loop:
 *					the least protobuf-c could cost, not a way a plugin can work.
 *
 * Usage: encoder_bench [-n iterations] [-r runs] [-m mode] [-d dir]
 *	  Prints "mode<TAB>wall ns/message<TAB>CPU ns/message<TAB>bytes/message"
 *	  per mode: medians of `runs` timed runs of `iterations` messages each,
 *	  the modes taking turns.  CPU time is the thread's own, so that it does
 *	  not count the time other processes had the core.
 *	  Before timing, checks that all modes write the same bytes (exit 1 if
 *	  not); -d also writes each mode's encoding of three messages (one
 *	  Batch) to dir/<mode>.bin.
 *
 * IDENTIFICATION
 *		  bench/encoder/encoder_bench.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <time.h>
#include <unistd.h>

#include "common/int.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "pbwrite.h"
#include "wal2proto.pb-c.h"

#define NCOLUMNS		9
#define BATCH_BYTES		65536
#define ARENA_BYTES		4096

/* wal2proto.v1.Value members used by the row. */
#define VAL_BOOL			2
#define VAL_INT				3
#define VAL_NUMERIC			6
#define VAL_TEXT			7
#define VAL_BYTEA			8
#define VAL_TIMESTAMPTZ		13
#define VAL_UUID			15
#define VAL_JSON			16
#define VAL_INFINITY		18
#define INFINITY_POSITIVE	1
#define INFINITY_NEGATIVE	2

/* Message.insert */
#define MSG_INSERT			4

#define EPOCH_SHIFT_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/* One decoded change, as the plugin holds it before encoding. */
typedef struct BenchRow
{
	uint32		relid;
	uint32		xid;			/* 0 outside streamed transactions */
	int64		id;
	int32		n;
	const char *t;				/* a text datum's bytes: not NUL-terminated */
	int			t_len;
	const char *amount;			/* numeric_out's result */
	TimestampTz ts;				/* PostgreSQL epoch */
	bool		flag;
	const char *doc;			/* jsonb_out's result */
	const char *b;
	int			b_len;
	const char *u;				/* 16 bytes */
} BenchRow;

/* Per-change allocations of the protobuf-c mode (a per-change context). */
typedef struct Arena
{
	int			used;
	char		space[ARENA_BYTES];
} Arena;

typedef enum BenchMode
{
	MODE_DIRECT,
	MODE_PROTOBUF_C,
	MODE_PROTOBUF_C_BUFFER,
	MODE_PACK_ONLY,
	NMODES
} BenchMode;

static const char *const mode_names[NMODES] = {
	"direct", "protobuf-c", "protobuf-c-buffer", "pack-only"
};

/* The row's text: 50 characters inside a longer buffer, as in a tuple. */
static const char row_text[] =
"e10adc3949ba59abbe56e057f20f883ef1887d3f9e6ee7a32f<rest of the tuple>";
static const uint8 row_bytes[16] = {
	0xe1, 0x0a, 0xdc, 0x39, 0x49, 0xba, 0x59, 0xab,
	0xbe, 0x56, 0xe0, 0x57, 0xf2, 0x0f, 0x88, 0x3e
};

static const BenchRow bench_row = {
	.relid = 16385,
	.xid = 0,
	.id = 123456,
	.n = 123456,
	.t = row_text,
	.t_len = 50,
	.amount = "12345.6789",
	/* 2026-01-01 00:00:00+00 + 123456 s */
	.ts = INT64CONST(820664256000000),
	.flag = true,
	.doc = "{\"k\": 123456, \"s\": \"abc\"}",
	/* b and u hold the same bytes, as in the workload (md5 of i) */
	.b = (const char *) row_bytes,
	.b_len = 16,
	.u = (const char *) row_bytes,
};

/*
 * The loops reach the row through this pointer, so that the compiler cannot
 * fold its values (string lengths, say) into the code as constants: in the
 * plugin they are only known at run time.
 */
static const BenchRow *volatile row_source = &bench_row;

/*
 * What a timestamptz becomes: 1 with *usecs set to microseconds since the
 * Unix epoch, or -INFINITY_NEGATIVE / -INFINITY_POSITIVE.  Both encoders
 * make this decision, with the plugin's checks.  Past 294247 AD the plugin
 * sends the type's text output instead, which this benchmark does not
 * reproduce.
 */
static inline int
timestamp_class(TimestampTz ts, int64 *usecs)
{
	if (TIMESTAMP_IS_NOBEGIN(ts))
		return -INFINITY_NEGATIVE;
	if (TIMESTAMP_IS_NOEND(ts))
		return -INFINITY_POSITIVE;
	if (unlikely(pg_add_s64_overflow(ts, EPOCH_SHIFT_USECS, usecs)))
	{
		fprintf(stderr, "encoder_bench: timestamp out of the benchmark's range\n");
		exit(1);
	}
	return 1;
}

/* ---------------------------------------------------------------------
 * direct: plugin/pbwrite.h
 *
 * The value writers below make the calls that plugin/encode.c's
 * put_value_varint and put_value_bytes make: the Value's length is known
 * up front, so it is written in one pass with one enlargeStringInfo.
 * ---------------------------------------------------------------------
 */

/* A Tuple.values element whose member is a varint. */
static inline void
direct_value_varint(StringInfo out, uint32 member, uint64 v)
{
	uint32		mtag = PB_TAG(member, PB_VARINT);
	char	   *p;

	enlargeStringInfo(out, 30);
	p = out->data + out->len;
	p = pb_put_varint_raw(p, PB_TAG(1, PB_LEN));
	p = pb_put_varint_raw(p, pb_varint_size(mtag) + pb_varint_size(v));
	p = pb_put_varint_raw(p, mtag);
	p = pb_put_varint_raw(p, v);
	out->len = p - out->data;
}

/* A Tuple.values element whose member is length-delimited. */
static inline void
direct_value_bytes(StringInfo out, uint32 member, const char *data, int len)
{
	uint32		mtag = PB_TAG(member, PB_LEN);
	uint64		inner = pb_varint_size(mtag) + pb_varint_size(len) + len;
	char	   *p;

	enlargeStringInfo(out, inner + 20);
	p = out->data + out->len;
	p = pb_put_varint_raw(p, PB_TAG(1, PB_LEN));
	p = pb_put_varint_raw(p, inner);
	p = pb_put_varint_raw(p, mtag);
	p = pb_put_varint_raw(p, (uint64) len);
	memcpy(p, data, len);
	out->len = (p - out->data) + len;
}

static void
encode_direct(StringInfo out, const BenchRow *row)
{
	int			bmark;
	int			mmark;
	int			tmark;
	int64		usecs;
	int			tsclass;

	bmark = pb_open(out, 1);	/* Batch.messages */
	mmark = pb_open(out, MSG_INSERT);
	/* Insert: relation_id = 1, new_tuple = 2, xid = 3 */
	pb_put_uint(out, 1, row->relid);
	tmark = pb_open(out, 2);
	direct_value_varint(out, VAL_INT, pb_zigzag64(row->id));
	direct_value_varint(out, VAL_INT, pb_zigzag64(row->n));
	direct_value_bytes(out, VAL_TEXT, row->t, row->t_len);
	direct_value_bytes(out, VAL_NUMERIC, row->amount, strlen(row->amount));
	tsclass = timestamp_class(row->ts, &usecs);
	if (tsclass < 0)
		direct_value_varint(out, VAL_INFINITY, -tsclass);
	else
		direct_value_varint(out, VAL_TIMESTAMPTZ, pb_zigzag64(usecs));
	direct_value_varint(out, VAL_BOOL, row->flag ? 1 : 0);
	direct_value_bytes(out, VAL_JSON, row->doc, strlen(row->doc));
	direct_value_bytes(out, VAL_BYTEA, row->b, row->b_len);
	direct_value_bytes(out, VAL_UUID, row->u, 16);
	pb_close(out, tmark);
	pb_put_uint_nz(out, 3, row->xid);
	pb_close(out, mmark);
	pb_close(out, bmark);
}

/* ---------------------------------------------------------------------
 * protobuf-c
 * ---------------------------------------------------------------------
 */

/* The message tree of one change; lives on the caller's stack. */
typedef struct PbcChange
{
	Wal2proto__V1__Batch batch;
	Wal2proto__V1__Message message;
	Wal2proto__V1__Message *messages[1];
	Wal2proto__V1__Insert insert;
	Wal2proto__V1__Tuple tuple;
	Wal2proto__V1__Value values[NCOLUMNS];
	Wal2proto__V1__Value *value_ptrs[NCOLUMNS];
} PbcChange;

/* A NUL-terminated copy in the per-change arena (protobuf-c strings). */
static inline char *
arena_strndup(Arena *arena, const char *s, int len)
{
	char	   *copy;

	if (arena->used + len + 1 > ARENA_BYTES)
	{
		fprintf(stderr, "encoder_bench: arena too small\n");
		exit(1);
	}
	copy = arena->space + arena->used;
	memcpy(copy, s, len);
	copy[len] = '\0';
	arena->used += len + 1;
	return copy;
}

/* Fill the message tree for row, as a plugin would per change. */
static void
pbc_build(PbcChange *c, const BenchRow *row, Arena *arena)
{
	Wal2proto__V1__Value *v = c->values;
	int64		usecs;
	int			tsclass;
	int			i;

	wal2proto__v1__batch__init(&c->batch);
	wal2proto__v1__message__init(&c->message);
	wal2proto__v1__insert__init(&c->insert);
	wal2proto__v1__tuple__init(&c->tuple);
	for (i = 0; i < NCOLUMNS; i++)
	{
		wal2proto__v1__value__init(&v[i]);
		c->value_ptrs[i] = &v[i];
	}

	c->messages[0] = &c->message;
	c->batch.n_messages = 1;
	c->batch.messages = c->messages;
	c->message.kind_case = WAL2PROTO__V1__MESSAGE__KIND_INSERT;
	c->message.insert = &c->insert;
	c->insert.relation_id = row->relid;
	c->insert.new_tuple = &c->tuple;
	c->insert.xid = row->xid;
	c->tuple.n_values = NCOLUMNS;
	c->tuple.values = c->value_ptrs;

	v[0].kind_case = WAL2PROTO__V1__VALUE__KIND_INT_VALUE;
	v[0].int_value = row->id;
	v[1].kind_case = WAL2PROTO__V1__VALUE__KIND_INT_VALUE;
	v[1].int_value = row->n;
	v[2].kind_case = WAL2PROTO__V1__VALUE__KIND_TEXT_VALUE;
	v[2].text_value = arena_strndup(arena, row->t, row->t_len);
	v[3].kind_case = WAL2PROTO__V1__VALUE__KIND_NUMERIC_VALUE;
	v[3].numeric_value = (char *) row->amount;
	tsclass = timestamp_class(row->ts, &usecs);
	if (tsclass < 0)
	{
		v[4].kind_case = WAL2PROTO__V1__VALUE__KIND_INFINITY;
		v[4].infinity = -tsclass;
	}
	else
	{
		v[4].kind_case = WAL2PROTO__V1__VALUE__KIND_TIMESTAMPTZ_VALUE;
		v[4].timestamptz_value = usecs;
	}
	v[5].kind_case = WAL2PROTO__V1__VALUE__KIND_BOOL_VALUE;
	v[5].bool_value = row->flag;
	v[6].kind_case = WAL2PROTO__V1__VALUE__KIND_JSON_VALUE;
	v[6].json_value = (char *) row->doc;
	v[7].kind_case = WAL2PROTO__V1__VALUE__KIND_BYTEA_VALUE;
	v[7].bytea_value.data = (uint8_t *) row->b;
	v[7].bytea_value.len = row->b_len;
	v[8].kind_case = WAL2PROTO__V1__VALUE__KIND_UUID_VALUE;
	v[8].uuid_value.data = (uint8_t *) row->u;
	v[8].uuid_value.len = 16;
}

/* Pack the Batch of one message: the bytes of one Batch element. */
static inline void
pbc_pack(StringInfo out, const PbcChange *c)
{
	size_t		size = protobuf_c_message_get_packed_size(&c->batch.base);

	enlargeStringInfo(out, (int) size);
	protobuf_c_message_pack(&c->batch.base, (uint8_t *) out->data + out->len);
	out->len += size;
}

/* A ProtobufCBuffer that appends to a StringInfo. */
typedef struct StringInfoPbcBuffer
{
	ProtobufCBuffer base;
	StringInfo	out;
} StringInfoPbcBuffer;

static void
stringinfo_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data)
{
	appendBinaryStringInfo(((StringInfoPbcBuffer *) buffer)->out,
						   (const char *) data, (int) len);
}

static void
encode_protobuf_c_buffer(StringInfo out, const BenchRow *row, Arena *arena)
{
	PbcChange	c;
	StringInfoPbcBuffer buffer = {{stringinfo_append}, out};

	arena->used = 0;
	pbc_build(&c, row, arena);
	protobuf_c_message_pack_to_buffer(&c.batch.base, &buffer.base);
}

static void
encode_protobuf_c(StringInfo out, const BenchRow *row, Arena *arena)
{
	PbcChange	c;

	arena->used = 0;			/* the per-change context's reset */
	pbc_build(&c, row, arena);
	pbc_pack(out, &c);
}

/* ---------------------------------------------------------------------
 * Timed loops (not inlined: callgrind collects inside them by name)
 * ---------------------------------------------------------------------
 */

static pg_noinline void
loop_direct(StringInfo out, const BenchRow *row, long n)
{
	long		i;

	for (i = 0; i < n; i++)
	{
		encode_direct(out, row);
		if (out->len >= BATCH_BYTES)
			resetStringInfo(out);
	}
}

static pg_noinline void
loop_protobuf_c(StringInfo out, const BenchRow *row, long n)
{
	Arena	   *arena = pg_malloc(sizeof(Arena));
	long		i;

	for (i = 0; i < n; i++)
	{
		encode_protobuf_c(out, row, arena);
		if (out->len >= BATCH_BYTES)
			resetStringInfo(out);
	}
	pg_free(arena);
}

static pg_noinline void
loop_protobuf_c_buffer(StringInfo out, const BenchRow *row, long n)
{
	Arena	   *arena = pg_malloc(sizeof(Arena));
	long		i;

	for (i = 0; i < n; i++)
	{
		encode_protobuf_c_buffer(out, row, arena);
		if (out->len >= BATCH_BYTES)
			resetStringInfo(out);
	}
	pg_free(arena);
}

static pg_noinline void
loop_pack_only(StringInfo out, const PbcChange *c, long n)
{
	long		i;

	for (i = 0; i < n; i++)
	{
		pbc_pack(out, c);
		if (out->len >= BATCH_BYTES)
			resetStringInfo(out);
	}
}

static double
elapsed_ns(const struct timespec *start, const struct timespec *end)
{
	return (end->tv_sec - start->tv_sec) * 1e9 + (end->tv_nsec - start->tv_nsec);
}

/*
 * Run `n` iterations of `mode` into out; sets the elapsed wall-clock and
 * thread CPU time in nanoseconds (either pointer may be NULL).  `built` is
 * the prebuilt tree of pack-only.
 */
static void
run_mode(BenchMode mode, StringInfo out, const PbcChange *built, long n,
		 double *wall_ns, double *cpu_ns)
{
	struct timespec wall_start;
	struct timespec wall_end;
	struct timespec cpu_start;
	struct timespec cpu_end;

	resetStringInfo(out);
	clock_gettime(CLOCK_MONOTONIC, &wall_start);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_start);
	switch (mode)
	{
		case MODE_DIRECT:
			loop_direct(out, row_source, n);
			break;
		case MODE_PROTOBUF_C:
			loop_protobuf_c(out, row_source, n);
			break;
		case MODE_PROTOBUF_C_BUFFER:
			loop_protobuf_c_buffer(out, row_source, n);
			break;
		case MODE_PACK_ONLY:
			loop_pack_only(out, built, n);
			break;
		case NMODES:
			break;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_end);
	clock_gettime(CLOCK_MONOTONIC, &wall_end);
	if (wall_ns != NULL)
		*wall_ns = elapsed_ns(&wall_start, &wall_end);
	if (cpu_ns != NULL)
		*cpu_ns = elapsed_ns(&cpu_start, &cpu_end);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static void
write_file(const char *dir, const char *name, const StringInfo data)
{
	char		path[MAXPGPATH];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s.bin", dir, name);
	f = fopen(path, "wb");
	if (f == NULL ||
		fwrite(data->data, 1, data->len, f) != (size_t) data->len ||
		fclose(f) != 0)
	{
		fprintf(stderr, "encoder_bench: could not write \"%s\": %m\n", path);
		exit(1);
	}
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: encoder_bench [-n iterations] [-r runs] "
			"[-m direct|protobuf-c|protobuf-c-buffer|pack-only] [-d dir]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	long		iterations = 2000000;
	int			runs = 5;
	int			only = -1;
	const char *dump_dir = NULL;
	StringInfoData out;
	StringInfoData sample[NMODES];
	PbcChange	built;
	Arena	   *arena = pg_malloc(sizeof(Arena));
	double	   *wall;
	double	   *cpu;
	int			msg_bytes;
	int			opt;
	int			m;
	int			r;

	while ((opt = getopt(argc, argv, "n:r:m:d:")) != -1)
	{
		switch (opt)
		{
			case 'n':
				iterations = atol(optarg);
				break;
			case 'r':
				runs = atoi(optarg);
				break;
			case 'm':
				for (only = 0; only < NMODES; only++)
					if (strcmp(optarg, mode_names[only]) == 0)
						break;
				if (only == NMODES)
					usage();
				break;
			case 'd':
				dump_dir = optarg;
				break;
			default:
				usage();
		}
	}
	if (iterations < 1 || runs < 1 || optind != argc)
		usage();

	arena->used = 0;
	pbc_build(&built, row_source, arena);

	/* Three messages per mode, written as the timed loops write them. */
	for (m = 0; m < NMODES; m++)
	{
		initStringInfo(&sample[m]);
		run_mode(m, &sample[m], &built, 3, NULL, NULL);
		if (sample[m].len % 3 != 0 ||
			sample[m].len != sample[MODE_DIRECT].len ||
			memcmp(sample[m].data, sample[MODE_DIRECT].data, sample[m].len) != 0)
		{
			fprintf(stderr, "encoder_bench: %s and %s write different bytes\n",
					mode_names[m], mode_names[MODE_DIRECT]);
			exit(1);
		}
		if (dump_dir != NULL)
			write_file(dump_dir, mode_names[m], &sample[m]);
	}
	msg_bytes = sample[MODE_DIRECT].len / 3;

	initStringInfo(&out);
	wall = pg_malloc(sizeof(double) * NMODES * runs);
	cpu = pg_malloc(sizeof(double) * NMODES * runs);
	for (r = 0; r < runs; r++)
		for (m = 0; m < NMODES; m++)
			if (only < 0 || only == m)
				run_mode(m, &out, &built, iterations,
						 &wall[m * runs + r], &cpu[m * runs + r]);

	for (m = 0; m < NMODES; m++)
	{
		if (only >= 0 && only != m)
			continue;
		qsort(wall + m * runs, runs, sizeof(double), cmp_double);
		qsort(cpu + m * runs, runs, sizeof(double), cmp_double);
		printf("%s\t%.1f\t%.1f\t%d\n", mode_names[m],
			   wall[m * runs + runs / 2] / iterations,
			   cpu[m * runs + runs / 2] / iterations, msg_bytes);
	}
	return 0;
}
