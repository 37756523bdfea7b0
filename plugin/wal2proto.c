/*-------------------------------------------------------------------------
 *
 * wal2proto.c
 *		  Logical decoding output plugin writing wal2proto.v1 protobuf
 *		  batches: entry point and callbacks.
 *
 * Copyright (c) 2026, the wal2proto authors.  PostgreSQL License.
 *
 * Every OutputPluginWrite carries one wal2proto.v1.Batch: the messages of
 * one transaction (or one stream block), in order, up to batch-bytes per
 * write.  A batch is opened lazily, by the first message that needs to go
 * out, and stays open across callbacks until it is full or the transaction
 * ends; the walsender's cost is per write, so fewer, larger writes are the
 * main saving on the streamed path.
 *
 * Begin is held back until the first change that survives filtering, so a
 * transaction with nothing to send costs nothing on the wire; progress is
 * still reported so that idle and filtered slots advance.
 *
 * IDENTIFICATION
 *		  plugin/wal2proto.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "compat.h"
#include "encode.h"
#include "options.h"
#include "pbwrite.h"
#include "relcache.h"

PG_MODULE_MAGIC;

#define W2P_VERSION "1.0"

/* Message members (wal2proto.v1.Message). */
#define MSG_BEGIN				1
#define MSG_COMMIT				2
#define MSG_INSERT				4
#define MSG_UPDATE				5
#define MSG_DELETE				6
#define MSG_TRUNCATE			7
#define MSG_LOGICAL_MESSAGE		8
#define MSG_STREAM_START		9
#define MSG_STREAM_STOP			10
#define MSG_STREAM_COMMIT		11
#define MSG_STREAM_ABORT		12
#define MSG_BEGIN_PREPARE		13
#define MSG_PREPARE				14
#define MSG_COMMIT_PREPARED		15
#define MSG_ROLLBACK_PREPARED	16
#define MSG_STREAM_PREPARE		17

/* Report progress to the walsender every this many changes. */
#define CHANGES_PER_PROGRESS	100

/*
 * Per streamed transaction state, hung off the top-level transaction's
 * output_plugin_private (allocated in the decoding context, freed when the
 * transaction's stream ends).
 */
typedef struct W2PStreamTxn
{
	bool		started;		/* a StreamStart went out for it */
} W2PStreamTxn;

/*
 * Decoding session state (ctx->output_plugin_private, in ctx->context).
 *
 * `change_cxt` is reset after every callback that encodes something, so a
 * long transaction does not accumulate detoasted values and conversions.
 */
typedef struct W2PData
{
	MemoryContext change_cxt;
	W2POptions	opts;

	/* The open batch: ctx->out holds messages not written yet. */
	bool		batch_open;
	int			batch_start;	/* ctx->out->len after the write header */

	/* The transaction being decoded (outside streaming). */
	ReorderBufferTXN *txn;
	bool		begin_sent;

	/* The current stream block. */
	bool		in_stream;
	ReorderBufferTXN *stream_txn;	/* top-level transaction of the block */
	bool		stream_block_sent;	/* its StreamStart went out */

	int			changes_since_progress;

	/* Last origin looked up, to spare a catalog look-up per transaction. */
	RepOriginId last_origin_id;
	char	   *last_origin_name;
} W2PData;

extern void _PG_output_plugin_init(OutputPluginCallbacks *cb);

PG_FUNCTION_INFO_V1(wal2proto_version);

static void w2p_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt,
						bool is_init);
static void w2p_shutdown(LogicalDecodingContext *ctx);
static void w2p_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void w2p_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					   XLogRecPtr commit_lsn);
static void w2p_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					   Relation relation, ReorderBufferChange *change);
static void w2p_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						 int nrelations, Relation relations[],
						 ReorderBufferChange *change);
static void w2p_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						XLogRecPtr message_lsn, bool transactional,
						const char *prefix, Size message_size,
						const char *message);
static bool w2p_filter_by_origin(LogicalDecodingContext *ctx,
								 RepOriginId origin_id);
static void w2p_stream_start(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void w2p_stream_stop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void w2p_stream_abort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							 XLogRecPtr abort_lsn);
static void w2p_stream_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							  XLogRecPtr commit_lsn);
static void w2p_stream_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							   XLogRecPtr prepare_lsn);
static void w2p_begin_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void w2p_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						XLogRecPtr prepare_lsn);
static void w2p_commit_prepared(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
								XLogRecPtr commit_lsn);
static void w2p_rollback_prepared(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
								  XLogRecPtr prepare_end_lsn,
								  TimestampTz prepare_time);
static bool w2p_filter_prepare(LogicalDecodingContext *ctx, TransactionId xid,
							   const char *gid);

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = w2p_startup;
	cb->shutdown_cb = w2p_shutdown;
	cb->begin_cb = w2p_begin;
	cb->change_cb = w2p_change;
	cb->truncate_cb = w2p_truncate;
	cb->message_cb = w2p_message;
	cb->commit_cb = w2p_commit;
	cb->filter_by_origin_cb = w2p_filter_by_origin;

	cb->stream_start_cb = w2p_stream_start;
	cb->stream_stop_cb = w2p_stream_stop;
	cb->stream_abort_cb = w2p_stream_abort;
	cb->stream_commit_cb = w2p_stream_commit;
	cb->stream_change_cb = w2p_change;
	cb->stream_truncate_cb = w2p_truncate;
	cb->stream_message_cb = w2p_message;
	cb->stream_prepare_cb = w2p_stream_prepare;

	cb->begin_prepare_cb = w2p_begin_prepare;
	cb->prepare_cb = w2p_prepare;
	cb->commit_prepared_cb = w2p_commit_prepared;
	cb->rollback_prepared_cb = w2p_rollback_prepared;
	cb->filter_prepare_cb = w2p_filter_prepare;
}

Datum
wal2proto_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(W2P_VERSION));
}

static void
w2p_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init)
{
	W2PData    *data = palloc0(sizeof(W2PData));

	data->change_cxt = AllocSetContextCreate(ctx->context,
											 "wal2proto change context",
											 ALLOCSET_DEFAULT_SIZES);
	data->last_origin_id = InvalidRepOriginId;
	ctx->output_plugin_private = data;

	opt->output_type = OUTPUT_PLUGIN_BINARY_OUTPUT;
	opt->receive_rewrites = false;

	w2p_parse_options(ctx->output_plugin_options, &data->opts);

	/*
	 * Streaming of in-progress transactions is on only when asked for: a
	 * consumer must be ready for the stream messages.  Two-phase decoding is
	 * on when the slot was created with it or the option asks for it.
	 */
	ctx->streaming &= data->opts.streaming;
	if (data->opts.two_phase)
		W2P_SET_TWOPHASE_OPT(ctx);

	w2p_encode_init();
	w2p_relcache_init(ctx->context);
}

static void
w2p_shutdown(LogicalDecodingContext *ctx)
{
	w2p_relcache_destroy();
}

/* ---------------------------------------------------------------------
 * Batches
 * ---------------------------------------------------------------------
 */

/* Make sure ctx->out is ready to take messages. */
static void
batch_open(LogicalDecodingContext *ctx, W2PData *data)
{
	if (data->batch_open)
		return;
	OutputPluginPrepareWrite(ctx, true);
	data->batch_open = true;
	data->batch_start = ctx->out->len;
}

/* Write the open batch, if any. */
static void
batch_close(LogicalDecodingContext *ctx, W2PData *data)
{
	if (!data->batch_open)
		return;
	OutputPluginWrite(ctx, true);
	data->batch_open = false;
}

/*
 * A message was just appended at offset msg_start of ctx->out.  Keep every
 * write within batch-bytes: when the message made a non-empty batch too
 * big, the batch is written without it and the message starts the next
 * one; a message bigger than batch-bytes goes out alone.  The copy this
 * takes happens once per batch, of one message.
 */
static void
batch_message_done(LogicalDecodingContext *ctx, W2PData *data, int msg_start)
{
	StringInfo	out = ctx->out;
	int			batch_len = out->len - data->batch_start;

	if (batch_len < data->opts.batch_bytes)
		return;
	if (batch_len > data->opts.batch_bytes && msg_start > data->batch_start)
	{
		int			msg_len = out->len - msg_start;
		char	   *msg = MemoryContextAlloc(data->change_cxt, msg_len);

		memcpy(msg, out->data + msg_start, msg_len);
		out->len = msg_start;
		batch_close(ctx, data);
		batch_open(ctx, data);
		appendBinaryStringInfo(out, msg, msg_len);
		pfree(msg);
		if (out->len - data->batch_start < data->opts.batch_bytes)
			return;
	}
	batch_close(ctx, data);
}

/*
 * Open a Batch element holding a Message with member `member`, opening the
 * batch itself first if needed.  *bmark - 1 is where the element starts
 * (the Batch.messages tag is one byte).
 */
static void
message_open(LogicalDecodingContext *ctx, W2PData *data, uint32 member,
			 int *bmark, int *mmark)
{
	batch_open(ctx, data);
	*bmark = pb_open(ctx->out, 1);	/* Batch.messages */
	*mmark = pb_open(ctx->out, member);
}

/* Close the message, and write the batch if it is full. */
static void
message_close(LogicalDecodingContext *ctx, W2PData *data, int bmark, int mmark)
{
	pb_close(ctx->out, mmark);
	pb_close(ctx->out, bmark);
	batch_message_done(ctx, data, bmark - 1);
}

/* Send a relation's cached Relation message. */
static void
send_relation(LogicalDecodingContext *ctx, W2PData *data, W2PRelEntry *entry)
{
	int			msg_start;

	batch_open(ctx, data);
	msg_start = ctx->out->len;
	appendBinaryStringInfo(ctx->out, entry->relmsg, entry->relmsg_len);
	batch_message_done(ctx, data, msg_start);
}

/* ---------------------------------------------------------------------
 * Transactions
 * ---------------------------------------------------------------------
 */

static const char *
origin_name(W2PData *data, RepOriginId origin_id)
{
	char	   *name = NULL;

	if (origin_id == InvalidRepOriginId)
		return NULL;
	if (origin_id != data->last_origin_id)
	{
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(data));

		if (!replorigin_by_oid(origin_id, true, &name))
			name = NULL;
		data->last_origin_name = name;
		data->last_origin_id = origin_id;
		MemoryContextSwitchTo(old);
	}
	return data->last_origin_name;
}

/* The origin fields shared by Begin (4, 5) and BeginPrepare (6, 7). */
static void
put_origin(StringInfo out, W2PData *data, ReorderBufferTXN *txn,
		   uint32 name_field, uint32 lsn_field)
{
	const char *name;

	if (!data->opts.include_origin)
		return;
	name = origin_name(data, txn->origin_id);
	if (name == NULL)
		return;
	w2p_put_text(out, name_field, name, strlen(name));
	pb_put_uint_nz(out, lsn_field, txn->origin_lsn);
}

static void
w2p_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	W2PData    *data = ctx->output_plugin_private;

	data->txn = txn;
	data->begin_sent = false;
	data->changes_since_progress = 0;
	w2p_encode_new_xact();
}

/* Send the held-back Begin before the transaction's first message. */
static void
ensure_begin(LogicalDecodingContext *ctx, W2PData *data)
{
	StringInfo	out = ctx->out;
	ReorderBufferTXN *txn = data->txn;
	int			bmark,
				mmark;

	if (data->begin_sent)
		return;
	message_open(ctx, data, MSG_BEGIN, &bmark, &mmark);
	/* Begin: xid = 1, final_lsn = 2, commit_time = 3, origin = 4, origin_lsn = 5 */
	if (data->opts.include_xids)
		pb_put_uint_nz(out, 1, txn->xid);
	pb_put_uint(out, 2, txn->final_lsn);
	if (data->opts.include_timestamp)
		pb_put_uint_nz(out, 3, (uint64) w2p_unix_usecs(W2P_TXN_COMMIT_TIME(txn)));
	put_origin(out, data, txn, 4, 5);
	message_close(ctx, data, bmark, mmark);
	data->begin_sent = true;
}

static void
w2p_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
		   XLogRecPtr commit_lsn)
{
	W2PData    *data = ctx->output_plugin_private;
	StringInfo	out = ctx->out;
	int			bmark,
				mmark;

	if (!data->begin_sent)
	{
		/* Nothing was sent: let the slot advance all the same. */
		W2P_UPDATE_PROGRESS(ctx, true);
		return;
	}
	message_open(ctx, data, MSG_COMMIT, &bmark, &mmark);
	/* Commit: commit_lsn = 1, end_lsn = 2, commit_time = 3, xid = 4 */
	pb_put_uint(out, 1, commit_lsn);
	pb_put_uint(out, 2, txn->end_lsn);
	if (data->opts.include_timestamp)
		pb_put_uint_nz(out, 3, (uint64) w2p_unix_usecs(W2P_TXN_COMMIT_TIME(txn)));
	if (data->opts.include_xids)
		pb_put_uint_nz(out, 4, txn->xid);
	message_close(ctx, data, bmark, mmark);
	batch_close(ctx, data);
	data->begin_sent = false;
}

/*
 * Everything a change needs sent before it: Begin (or StreamStart) and the
 * Relation of `entry` if this session (or this stream) has not had it.
 */
static void
prepare_for_change(LogicalDecodingContext *ctx, W2PData *data,
				   W2PRelEntry *entry)
{
	if (data->in_stream)
	{
		TransactionId xid = data->stream_txn->xid;

		if (!data->stream_block_sent)
		{
			W2PStreamTxn *st = data->stream_txn->output_plugin_private;
			int			bmark,
						mmark;

			message_open(ctx, data, MSG_STREAM_START, &bmark, &mmark);
			/* StreamStart: xid = 1, first_segment = 2, origin = 3, origin_lsn = 4 */
			pb_put_uint(ctx->out, 1, xid);
			pb_put_uint_nz(ctx->out, 2, !st->started);
			if (!st->started)
				put_origin(ctx->out, data, data->stream_txn, 3, 4);
			message_close(ctx, data, bmark, mmark);
			st->started = true;
			data->stream_block_sent = true;
		}
		if (entry != NULL && !list_member_int(entry->streamed_xids, (int) xid))
		{
			MemoryContext old;

			send_relation(ctx, data, entry);
			old = MemoryContextSwitchTo(entry->cxt);
			entry->streamed_xids = lappend_int(entry->streamed_xids, (int) xid);
			MemoryContextSwitchTo(old);
		}
	}
	else
	{
		ensure_begin(ctx, data);
		if (entry != NULL && !entry->sent)
		{
			send_relation(ctx, data, entry);
			entry->sent = true;
		}
	}
}

/*
 * The xid a change inside a stream block carries (0 outside streaming): that
 * of the (sub)transaction that made it, so that a consumer can discard the
 * changes of a subtransaction named by a later StreamAbort.  Callbacks get
 * the top-level transaction; the change knows its own.
 */
static inline TransactionId
change_xid(W2PData *data, ReorderBufferTXN *txn)
{
	return data->in_stream ? txn->xid : InvalidTransactionId;
}

/* Keep the walsender responsive during long transactions. */
static void
count_change(LogicalDecodingContext *ctx, W2PData *data)
{
	if (++data->changes_since_progress >= CHANGES_PER_PROGRESS)
	{
		data->changes_since_progress = 0;
		W2P_UPDATE_PROGRESS(ctx, false);
	}
}

static void
w2p_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
		   Relation relation, ReorderBufferChange *change)
{
	W2PData    *data = ctx->output_plugin_private;
	StringInfo	out = ctx->out;
	W2PRelEntry *entry;
	W2PRelEntry *reported;
	HeapTuple	newtuple = NULL;
	HeapTuple	oldtuple = NULL;
	uint32		member;
	uint32		action;
	MemoryContext old;
	int			bmark,
				mmark;

	count_change(ctx, data);

	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			member = MSG_INSERT;
			action = W2P_ACTION_INSERT;
			newtuple = W2P_CHANGE_NEWTUPLE(change);
			break;
		case REORDER_BUFFER_CHANGE_UPDATE:
			member = MSG_UPDATE;
			action = W2P_ACTION_UPDATE;
			newtuple = W2P_CHANGE_NEWTUPLE(change);
			oldtuple = W2P_CHANGE_OLDTUPLE(change);
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			member = MSG_DELETE;
			action = W2P_ACTION_DELETE;
			oldtuple = W2P_CHANGE_OLDTUPLE(change);
			break;
		default:
			elog(ERROR, "unexpected change action %d", (int) change->action);
			return;
	}
	if ((data->opts.actions & action) == 0)
		return;

	entry = w2p_relcache_get(relation, &data->opts);
	if (!entry->published)
		return;
	reported = w2p_relcache_get_reported(entry, &data->opts);

	old = MemoryContextSwitchTo(data->change_cxt);

	if (entry->map != NULL)
	{
		if (newtuple != NULL)
			newtuple = execute_attr_map_tuple(newtuple, entry->map);
		if (oldtuple != NULL)
			oldtuple = execute_attr_map_tuple(oldtuple, entry->map);
	}

	prepare_for_change(ctx, data, reported);

	/*
	 * Insert: relation_id = 1, new_tuple = 2, xid = 3
	 * Update: relation_id = 1, old_tuple = 2, new_tuple = 3, xid = 4
	 * Delete: relation_id = 1, old_tuple = 2, xid = 3
	 */
	message_open(ctx, data, member, &bmark, &mmark);
	pb_put_uint(out, 1, reported->relid);
	if (oldtuple != NULL)
		w2p_put_tuple(out, 2, reported, oldtuple, entry->old_sent);
	if (newtuple != NULL)
		w2p_put_tuple(out, member == MSG_INSERT ? 2 : 3, reported, newtuple, NULL);
	pb_put_uint_nz(out, member == MSG_UPDATE ? 4 : 3, change_xid(data, change->txn));
	message_close(ctx, data, bmark, mmark);

	MemoryContextSwitchTo(old);
	MemoryContextReset(data->change_cxt);
}

static void
w2p_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			 int nrelations, Relation relations[], ReorderBufferChange *change)
{
	W2PData    *data = ctx->output_plugin_private;
	StringInfo	out = ctx->out;
	W2PRelEntry **entries;
	int			nentries = 0;
	int			i;
	MemoryContext old;
	int			bmark,
				mmark;

	if ((data->opts.actions & W2P_ACTION_TRUNCATE) == 0)
		return;

	old = MemoryContextSwitchTo(data->change_cxt);
	entries = palloc(sizeof(W2PRelEntry *) * nrelations);
	for (i = 0; i < nrelations; i++)
	{
		W2PRelEntry *entry = w2p_relcache_get(relations[i], &data->opts);
		int			j;

		if (!entry->published)
			continue;

		/*
		 * Under publish-via-root a partition is reported as its root, and
		 * truncating one partition must not read as truncating the whole
		 * table: only a truncate of the root itself is sent.
		 */
		if (entry->publish_relid != entry->relid)
			continue;
		for (j = 0; j < nentries; j++)
			if (entries[j] == entry)
				break;
		if (j == nentries)
			entries[nentries++] = entry;
	}

	if (nentries > 0)
	{
		int			m;

		for (i = 0; i < nentries; i++)
			prepare_for_change(ctx, data, entries[i]);

		/* Truncate: relation_ids = 1, cascade = 2, restart_identity = 3, xid = 4 */
		message_open(ctx, data, MSG_TRUNCATE, &bmark, &mmark);
		m = pb_open(out, 1);
		for (i = 0; i < nentries; i++)
			pb_put_varint(out, entries[i]->relid);
		pb_close(out, m);
		pb_put_uint_nz(out, 2, change->data.truncate.cascade);
		pb_put_uint_nz(out, 3, change->data.truncate.restart_seqs);
		pb_put_uint_nz(out, 4, change_xid(data, change->txn));
		message_close(ctx, data, bmark, mmark);
	}

	MemoryContextSwitchTo(old);
	MemoryContextReset(data->change_cxt);
}

static void
w2p_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			XLogRecPtr message_lsn, bool transactional, const char *prefix,
			Size message_size, const char *message)
{
	W2PData    *data = ctx->output_plugin_private;
	StringInfo	out = ctx->out;
	int			bmark,
				mmark;

	if (!w2p_prefix_wanted(&data->opts, prefix))
		return;

	if (transactional)
		prepare_for_change(ctx, data, NULL);
	else
	{
		/* Delivered on its own, in a batch of its own. */
		batch_close(ctx, data);
	}

	/* LogicalMessage: transactional = 1, prefix = 2, content = 3, lsn = 4, xid = 5 */
	message_open(ctx, data, MSG_LOGICAL_MESSAGE, &bmark, &mmark);
	pb_put_uint_nz(out, 1, transactional);
	w2p_put_text(out, 2, prefix, strlen(prefix));
	pb_put_bytes(out, 3, message, (int) message_size);
	pb_put_uint(out, 4, message_lsn);
	if (transactional)
		pb_put_uint_nz(out, 5, change_xid(data, txn));
	message_close(ctx, data, bmark, mmark);

	if (!transactional)
		batch_close(ctx, data);
}

static bool
w2p_filter_by_origin(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	W2PData    *data = ctx->output_plugin_private;

	return data->opts.origin_none && origin_id != InvalidRepOriginId;
}

/* ---------------------------------------------------------------------
 * Streaming of in-progress transactions
 * ---------------------------------------------------------------------
 */

static W2PStreamTxn *
stream_state(LogicalDecodingContext *ctx, ReorderBufferTXN *toptxn)
{
	if (toptxn->output_plugin_private == NULL)
		toptxn->output_plugin_private =
			MemoryContextAllocZero(ctx->context, sizeof(W2PStreamTxn));
	return toptxn->output_plugin_private;
}

/* The stream of toptxn is over: forget what was sent in it. */
static void
stream_end(ReorderBufferTXN *toptxn)
{
	if (toptxn->output_plugin_private != NULL)
		pfree(toptxn->output_plugin_private);
	toptxn->output_plugin_private = NULL;
	w2p_relcache_forget_xid(toptxn->xid);
}

static void
w2p_stream_start(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	W2PData    *data = ctx->output_plugin_private;

	/* StreamStart itself is held back until the block's first message. */
	data->in_stream = true;
	data->stream_txn = txn;
	data->stream_block_sent = false;
	data->changes_since_progress = 0;
	(void) stream_state(ctx, txn);
	w2p_encode_new_xact();
}

static void
w2p_stream_stop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	W2PData    *data = ctx->output_plugin_private;

	if (data->stream_block_sent)
	{
		int			bmark,
					mmark;

		message_open(ctx, data, MSG_STREAM_STOP, &bmark, &mmark);
		message_close(ctx, data, bmark, mmark);
		batch_close(ctx, data);
	}
	data->in_stream = false;
	data->stream_txn = NULL;
	data->stream_block_sent = false;
}

static void
w2p_stream_abort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				 XLogRecPtr abort_lsn)
{
	W2PData    *data = ctx->output_plugin_private;
	ReorderBufferTXN *toptxn = W2P_TOPTXN(txn);
	W2PStreamTxn *st = toptxn->output_plugin_private;

	if (st != NULL && st->started)
	{
		int			bmark,
					mmark;

		/* StreamAbort: xid = 1, subxid = 2, abort_lsn = 3 */
		message_open(ctx, data, MSG_STREAM_ABORT, &bmark, &mmark);
		pb_put_uint(ctx->out, 1, toptxn->xid);
		pb_put_uint(ctx->out, 2, txn->xid);
		pb_put_uint(ctx->out, 3, abort_lsn);
		message_close(ctx, data, bmark, mmark);
		batch_close(ctx, data);
	}
	if (toptxn == txn)
		stream_end(toptxn);
}

static void
w2p_stream_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				  XLogRecPtr commit_lsn)
{
	W2PData    *data = ctx->output_plugin_private;
	W2PStreamTxn *st = txn->output_plugin_private;

	if (st != NULL && st->started)
	{
		int			bmark,
					mmark;

		/* StreamCommit: xid = 1, commit_lsn = 2, end_lsn = 3, commit_time = 4 */
		message_open(ctx, data, MSG_STREAM_COMMIT, &bmark, &mmark);
		pb_put_uint(ctx->out, 1, txn->xid);
		pb_put_uint(ctx->out, 2, commit_lsn);
		pb_put_uint(ctx->out, 3, txn->end_lsn);
		if (data->opts.include_timestamp)
			pb_put_uint_nz(ctx->out, 4,
						   (uint64) w2p_unix_usecs(W2P_TXN_COMMIT_TIME(txn)));
		message_close(ctx, data, bmark, mmark);
		batch_close(ctx, data);
	}
	else
		W2P_UPDATE_PROGRESS(ctx, true);
	stream_end(txn);
}

/*
 * Prepare, StreamPrepare and CommitPrepared share a layout, each in a write
 * of its own: xid = 1, lsn = 2, end_lsn = 3, time = 4, gid = 5.
 */
static void
put_gid_message(LogicalDecodingContext *ctx, W2PData *data, uint32 member,
				ReorderBufferTXN *txn, XLogRecPtr lsn, TimestampTz time)
{
	StringInfo	out = ctx->out;
	int			bmark,
				mmark;

	message_open(ctx, data, member, &bmark, &mmark);
	pb_put_uint(out, 1, txn->xid);
	pb_put_uint(out, 2, lsn);
	pb_put_uint(out, 3, txn->end_lsn);
	if (data->opts.include_timestamp)
		pb_put_uint_nz(out, 4, (uint64) w2p_unix_usecs(time));
	w2p_put_text(out, 5, txn->gid, strlen(txn->gid));
	message_close(ctx, data, bmark, mmark);
	batch_close(ctx, data);
}

static void
w2p_stream_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				   XLogRecPtr prepare_lsn)
{
	W2PData    *data = ctx->output_plugin_private;

	/* Sent even if no block was: COMMIT PREPARED will name the gid. */
	put_gid_message(ctx, data, MSG_STREAM_PREPARE, txn, prepare_lsn,
					W2P_TXN_PREPARE_TIME(txn));
	stream_end(txn);
}

/* ---------------------------------------------------------------------
 * Two-phase commit
 *
 * Prepared transactions are always sent, even when filtering leaves them
 * empty: their COMMIT PREPARED or ROLLBACK PREPARED comes later, in
 * another transaction, and must find its BeginPrepare/Prepare.
 * ---------------------------------------------------------------------
 */

static void
w2p_begin_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	W2PData    *data = ctx->output_plugin_private;
	StringInfo	out = ctx->out;
	int			bmark,
				mmark;

	data->txn = txn;
	data->changes_since_progress = 0;
	w2p_encode_new_xact();

	/*
	 * BeginPrepare: xid = 1, prepare_lsn = 2, end_lsn = 3, prepare_time = 4,
	 * gid = 5, origin = 6, origin_lsn = 7
	 */
	message_open(ctx, data, MSG_BEGIN_PREPARE, &bmark, &mmark);
	pb_put_uint(out, 1, txn->xid);
	pb_put_uint(out, 2, txn->final_lsn);
	pb_put_uint(out, 3, txn->end_lsn);
	if (data->opts.include_timestamp)
		pb_put_uint_nz(out, 4, (uint64) w2p_unix_usecs(W2P_TXN_PREPARE_TIME(txn)));
	w2p_put_text(out, 5, txn->gid, strlen(txn->gid));
	put_origin(out, data, txn, 6, 7);
	message_close(ctx, data, bmark, mmark);
	data->begin_sent = true;
}

static void
w2p_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			XLogRecPtr prepare_lsn)
{
	W2PData    *data = ctx->output_plugin_private;

	put_gid_message(ctx, data, MSG_PREPARE, txn, prepare_lsn,
					W2P_TXN_PREPARE_TIME(txn));
	data->begin_sent = false;
}

static void
w2p_commit_prepared(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					XLogRecPtr commit_lsn)
{
	put_gid_message(ctx, ctx->output_plugin_private, MSG_COMMIT_PREPARED,
					txn, commit_lsn, W2P_TXN_COMMIT_TIME(txn));
}

static void
w2p_rollback_prepared(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					  XLogRecPtr prepare_end_lsn, TimestampTz prepare_time)
{
	W2PData    *data = ctx->output_plugin_private;
	StringInfo	out = ctx->out;
	int			bmark,
				mmark;

	/*
	 * RollbackPrepared: xid = 1, prepare_end_lsn = 2, rollback_end_lsn = 3,
	 * prepare_time = 4, rollback_time = 5, gid = 6
	 */
	message_open(ctx, data, MSG_ROLLBACK_PREPARED, &bmark, &mmark);
	pb_put_uint(out, 1, txn->xid);
	pb_put_uint(out, 2, prepare_end_lsn);
	pb_put_uint(out, 3, txn->end_lsn);
	if (data->opts.include_timestamp)
	{
		pb_put_uint_nz(out, 4, (uint64) w2p_unix_usecs(prepare_time));
		pb_put_uint_nz(out, 5, (uint64) w2p_unix_usecs(W2P_TXN_COMMIT_TIME(txn)));
	}
	w2p_put_text(out, 6, txn->gid, strlen(txn->gid));
	message_close(ctx, data, bmark, mmark);
	batch_close(ctx, data);
}

/* Every prepared transaction is decoded as such. */
static bool
w2p_filter_prepare(LogicalDecodingContext *ctx, TransactionId xid,
				   const char *gid)
{
	return false;
}
