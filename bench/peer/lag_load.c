/*-------------------------------------------------------------------------
 *
 * lag_load.c
 *		Steady-rate load for the commit-to-apply lag benchmark: single-row
 *		INSERT transactions into lag_t on a fixed schedule.
 *
 * Transaction i (0-based) is started at t0 + i / RATE on the monotonic
 * clock, so the source commits at an even pace (one commit every 2 ms at
 * 500/s) instead of in bursts.  A transaction that cannot start on time (the
 * previous one took too long) starts at once and is counted as late; the
 * schedule is not shifted, so the average rate stays RATE as long as the
 * server keeps up on average.  Each transaction is one autocommitted INSERT
 * of a prepared statement; ids run from FIRST_ID (default 1) on, RATE *
 * SECONDS of them.
 *
 * usage: lag_load CONNINFO RATE SECONDS [FIRST_ID]
 * Prints one summary line on stdout; exits 1 on any error.
 *
 * Copyright (c) 2026, the wal2proto authors; PostgreSQL License.
 *
 * IDENTIFICATION
 *		bench/peer/lag_load.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#define NSEC_PER_SEC	INT64_C(1000000000)
#define LATE_NSEC		INT64_C(1000000)	/* 1 ms behind counts as late */

static int64_t
lag_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* Sleep until the monotonic clock reads at_ns. */
static void
lag_sleep_until(int64_t at_ns)
{
	struct timespec ts;

	ts.tv_sec = at_ns / NSEC_PER_SEC;
	ts.tv_nsec = at_ns % NSEC_PER_SEC;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static long
lag_parse_positive(const char *arg, const char *what)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
	{
		fprintf(stderr, "lag_load: invalid %s \"%s\"\n", what, arg);
		exit(1);
	}
	return v;
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGresult   *res;
	long		rate;
	long		seconds;
	int64_t		total;
	int64_t		period_ns;
	int64_t		t0;
	int64_t		elapsed_ns;
	int64_t		max_behind_ns = 0;
	int64_t		late = 0;
	int64_t		first_id = 1;
	int64_t		i;

	if (argc != 4 && argc != 5)
	{
		fprintf(stderr, "usage: lag_load CONNINFO RATE SECONDS [FIRST_ID]\n");
		return 1;
	}
	rate = lag_parse_positive(argv[2], "rate");
	seconds = lag_parse_positive(argv[3], "duration");
	if (argc == 5)
		first_id = lag_parse_positive(argv[4], "first id");
	total = (int64_t) rate * seconds;
	period_ns = NSEC_PER_SEC / rate;

	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "lag_load: connection failed: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	res = PQprepare(conn, "ins",
					"INSERT INTO lag_t (id, payload) VALUES ($1::bigint, $2::text)",
					2, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "lag_load: prepare failed: %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return 1;
	}
	PQclear(res);

	t0 = lag_now_ns() + period_ns;
	for (i = 0; i < total; i++)
	{
		int64_t		due = t0 + i * period_ns;
		int64_t		behind = lag_now_ns() - due;
		char		id[32];
		char		payload[64];
		const char *values[2];

		if (behind < 0)
			lag_sleep_until(due);
		else
		{
			if (behind > max_behind_ns)
				max_behind_ns = behind;
			if (behind > LATE_NSEC)
				late++;
		}

		snprintf(id, sizeof(id), "%lld", (long long) (first_id + i));
		snprintf(payload, sizeof(payload), "lag benchmark row %lld",
				 (long long) (first_id + i));
		values[0] = id;
		values[1] = payload;
		res = PQexecPrepared(conn, "ins", 2, values, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			fprintf(stderr, "lag_load: insert of id %s failed: %s", id,
					PQerrorMessage(conn));
			PQclear(res);
			PQfinish(conn);
			return 1;
		}
		PQclear(res);
	}
	elapsed_ns = lag_now_ns() - t0;
	PQfinish(conn);

	printf("%lld transactions in %.3f s (%.1f/s); %lld started over 1 ms late, "
		   "at most %.3f ms late\n",
		   (long long) total, (double) elapsed_ns / NSEC_PER_SEC,
		   (double) total * NSEC_PER_SEC / elapsed_ns, (long long) late,
		   (double) max_behind_ns / 1e6);
	return 0;
}
