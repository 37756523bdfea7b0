/*-------------------------------------------------------------------------
 *
 * compat.h
 *		  The one place where wal2proto looks at PG_VERSION_NUM.
 *
 * Copyright (c) 2026, the wal2proto authors.  PostgreSQL License.
 *
 * wal2proto builds against PostgreSQL 14 to 17.  Differences in the
 * logical decoding API are hidden behind the macros below so that the rest
 * of the plugin reads the same on every version.
 *
 * IDENTIFICATION
 *		  plugin/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef W2P_COMPAT_H
#define W2P_COMPAT_H

#if PG_VERSION_NUM < 140000
#error "wal2proto needs PostgreSQL 14 or later"
#endif

/* The new and old tuple of a change as a HeapTuple (NULL when absent). */
#if PG_VERSION_NUM >= 170000
#define W2P_CHANGE_NEWTUPLE(change) ((change)->data.tp.newtuple)
#define W2P_CHANGE_OLDTUPLE(change) ((change)->data.tp.oldtuple)
#else
#define W2P_CHANGE_NEWTUPLE(change) \
	((change)->data.tp.newtuple ? &(change)->data.tp.newtuple->tuple : NULL)
#define W2P_CHANGE_OLDTUPLE(change) \
	((change)->data.tp.oldtuple ? &(change)->data.tp.oldtuple->tuple : NULL)
#endif

/* Commit and prepare times of a transaction. */
#if PG_VERSION_NUM >= 150000
#define W2P_TXN_COMMIT_TIME(txn) ((txn)->xact_time.commit_time)
#define W2P_TXN_PREPARE_TIME(txn) ((txn)->xact_time.prepare_time)
#else
#define W2P_TXN_COMMIT_TIME(txn) ((txn)->commit_time)
#define W2P_TXN_PREPARE_TIME(txn) ((txn)->commit_time)
#endif

/* Tell the walsender about progress; skipped marks a transaction not sent. */
#if PG_VERSION_NUM >= 150000
#define W2P_UPDATE_PROGRESS(ctx, skipped) OutputPluginUpdateProgress((ctx), (skipped))
#else
#define W2P_UPDATE_PROGRESS(ctx, skipped) OutputPluginUpdateProgress((ctx))
#endif

/* The top-level transaction of a (sub)transaction. */
#if PG_VERSION_NUM >= 160000
#define W2P_TOPTXN(txn) (rbtxn_get_toptxn(txn))
#else
#define W2P_TOPTXN(txn) ((txn)->toptxn != NULL ? (txn)->toptxn : (txn))
#endif

/*
 * Whether the two-phase option can be given at decoding start (15+); on 14
 * only a slot created with two-phase enabled decodes prepared transactions.
 */
#if PG_VERSION_NUM >= 150000
#define W2P_HAVE_TWOPHASE_OPT 1
#define W2P_SET_TWOPHASE_OPT(ctx) ((ctx)->twophase_opt_given = true)
#else
#define W2P_HAVE_TWOPHASE_OPT 0
#define W2P_SET_TWOPHASE_OPT(ctx) ((void) 0)
#endif

#endif							/* W2P_COMPAT_H */
