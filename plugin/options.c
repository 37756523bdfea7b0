/*-------------------------------------------------------------------------
 *
 * options.c
 *		  Parsing of wal2proto's output plugin options.
 *
 * Copyright (c) 2026, the wal2proto authors.  PostgreSQL License.
 *
 * Options are parsed strictly, in one place: an unknown option, an option
 * given twice, or a value that does not parse is an ERROR that names the
 * option and the value, so that a typo never silently changes what a
 * consumer receives.
 *
 * IDENTIFICATION
 *		  plugin/options.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "parser/scansup.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "compat.h"
#include "options.h"

/* The options we know, in the order the hint lists them. */
typedef enum W2POptionId
{
	OPT_PROTO_VERSION,
	OPT_ORIGIN,
	OPT_INCLUDE_TABLES,
	OPT_EXCLUDE_TABLES,
	OPT_PUBLISH_VIA_ROOT,
	OPT_ACTIONS,
	OPT_MESSAGE_PREFIXES,
	OPT_INCLUDE_XIDS,
	OPT_INCLUDE_TIMESTAMP,
	OPT_INCLUDE_ORIGIN,
	OPT_BATCH_BYTES,
	OPT_STREAMING,
	OPT_TWO_PHASE,
	OPT_COUNT
} W2POptionId;

static const char *const option_names[OPT_COUNT] = {
	"proto-version",
	"origin",
	"include-tables",
	"exclude-tables",
	"publish-via-root",
	"actions",
	"message-prefixes",
	"include-xids",
	"include-timestamp",
	"include-origin",
	"batch-bytes",
	"streaming",
	"two-phase",
};

#define VALID_OPTIONS_HINT \
	"Valid options are: proto-version, origin, include-tables, exclude-tables, " \
	"publish-via-root, actions, message-prefixes, include-xids, include-timestamp, " \
	"include-origin, batch-bytes, streaming, two-phase."

static bool parse_bool_option(DefElem *elem);
static int	parse_int_option(DefElem *elem, int min, int max);
static List *parse_table_patterns(DefElem *elem);
static uint32 parse_actions(DefElem *elem);
static List *parse_prefixes(DefElem *elem);

/* The value of an option that needs one. */
static char *
option_value(DefElem *elem)
{
	if (elem->arg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" requires a value", elem->defname),
				 errhint("Give the option as a name and value pair.")));
	return strVal(elem->arg);
}

/*
 * Fill *opts from the option list a decoding session was started with.
 */
void
w2p_parse_options(List *options, W2POptions *opts)
{
	bool		given[OPT_COUNT] = {0};
	ListCell   *lc;

	memset(opts, 0, sizeof(*opts));
	opts->proto_version = W2P_PROTO_VERSION_MAX;
	opts->actions = W2P_ACTION_ALL;
	opts->include_xids = true;
	opts->include_timestamp = true;
	opts->include_origin = true;
	opts->batch_bytes = W2P_DEFAULT_BATCH_BYTES;

	foreach(lc, options)
	{
		DefElem    *elem = (DefElem *) lfirst(lc);
		int			id;

		Assert(elem->arg == NULL || IsA(elem->arg, String));

		for (id = 0; id < OPT_COUNT; id++)
			if (strcmp(elem->defname, option_names[id]) == 0)
				break;
		if (id == OPT_COUNT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" is not recognized", elem->defname),
					 errhint(VALID_OPTIONS_HINT)));
		if (given[id])
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("conflicting or redundant options"),
					 errdetail("Option \"%s\" is given more than once.",
							   elem->defname),
					 errhint("Give each option at most once.")));
		given[id] = true;

		switch ((W2POptionId) id)
		{
			case OPT_PROTO_VERSION:
				{
					char	   *val = option_value(elem);
					char	   *end;
					long		v;

					errno = 0;
					v = strtol(val, &end, 10);
					if (errno != 0 || end == val || *end != '\0' ||
						v < W2P_PROTO_VERSION_MIN || v > W2P_PROTO_VERSION_MAX)
						ereport(ERROR,
								(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
								 errmsg("proto-version \"%s\" is not supported", val),
								 errdetail("This wal2proto supports proto-version %d to %d.",
										   W2P_PROTO_VERSION_MIN, W2P_PROTO_VERSION_MAX),
								 errhint("Ask for a supported proto-version, or upgrade wal2proto on the server.")));
					opts->proto_version = (int) v;
					break;
				}
			case OPT_ORIGIN:
				{
					char	   *val = option_value(elem);

					if (pg_strcasecmp(val, "any") == 0)
						opts->origin_none = false;
					else if (pg_strcasecmp(val, "none") == 0)
						opts->origin_none = true;
					else
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("invalid value \"%s\" for option \"%s\"",
										val, elem->defname),
								 errhint("Use \"any\" to send every change, or \"none\" to drop changes replayed from a replication origin.")));
					break;
				}
			case OPT_INCLUDE_TABLES:
				opts->include_tables = parse_table_patterns(elem);
				break;
			case OPT_EXCLUDE_TABLES:
				opts->exclude_tables = parse_table_patterns(elem);
				break;
			case OPT_PUBLISH_VIA_ROOT:
				opts->publish_via_root = parse_bool_option(elem);
				break;
			case OPT_ACTIONS:
				opts->actions = parse_actions(elem);
				break;
			case OPT_MESSAGE_PREFIXES:
				opts->message_prefixes = parse_prefixes(elem);
				break;
			case OPT_INCLUDE_XIDS:
				opts->include_xids = parse_bool_option(elem);
				break;
			case OPT_INCLUDE_TIMESTAMP:
				opts->include_timestamp = parse_bool_option(elem);
				break;
			case OPT_INCLUDE_ORIGIN:
				opts->include_origin = parse_bool_option(elem);
				break;
			case OPT_BATCH_BYTES:
				opts->batch_bytes = parse_int_option(elem, 0, MaxAllocSize / 4);
				break;
			case OPT_STREAMING:
				opts->streaming = parse_bool_option(elem);
				break;
			case OPT_TWO_PHASE:
				opts->two_phase = parse_bool_option(elem);
#if !W2P_HAVE_TWOPHASE_OPT
				if (opts->two_phase)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("option \"%s\" needs PostgreSQL 15 or later",
									elem->defname),
							 errhint("Create the slot with two-phase decoding enabled instead.")));
#endif
				break;
			case OPT_COUNT:
				elog(ERROR, "unexpected option id %d", id);
		}
	}
}

/* A boolean option; a missing value means true, as in SET. */
static bool
parse_bool_option(DefElem *elem)
{
	bool		result;

	if (elem->arg == NULL)
		return true;
	if (!parse_bool(strVal(elem->arg), &result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for option \"%s\"",
						strVal(elem->arg), elem->defname),
				 errhint("Use a boolean: on, off, true, false, 1 or 0.")));
	return result;
}

static int
parse_int_option(DefElem *elem, int min, int max)
{
	char	   *val = option_value(elem);
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (errno != 0 || end == val || *end != '\0' || v < min || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for option \"%s\"",
						val, elem->defname),
				 errhint("Use a whole number from %d to %d.", min, max)));
	return (int) v;
}

static void
pattern_error(DefElem *elem, const char *val, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid table pattern list \"%s\" for option \"%s\"",
					val, elem->defname),
			 errdetail("%s", detail),
			 errhint("Write a comma-separated list of schema.table patterns, for example: public.*, \"My Schema\".\"Orders\".")));
}

/*
 * Read one part (schema or table) of a pattern starting at *pp.  Unquoted
 * characters are folded to lower case as SQL does and '*' in them is a
 * wildcard; quoted text is taken as is, with "" for a quote.  Literal '*'
 * and '\' are escaped with '\' so the matcher can tell them from wildcards.
 */
static char *
parse_pattern_part(DefElem *elem, const char *val, const char **pp)
{
	StringInfoData buf;
	const char *p = *pp;

	initStringInfo(&buf);
	while (*p != '\0' && *p != ',' && *p != '.' && !scanner_isspace(*p))
	{
		if (*p == '"')
		{
			p++;
			for (;;)
			{
				if (*p == '\0')
					pattern_error(elem, val, "A quoted identifier is not terminated.");
				if (*p == '"')
				{
					if (p[1] != '"')
						break;
					p++;
				}
				if (*p == '*' || *p == '\\')
					appendStringInfoChar(&buf, '\\');
				appendStringInfoChar(&buf, *p);
				p++;
			}
			p++;				/* closing quote */
		}
		else
		{
			if (*p == '\\')
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, (char) pg_ascii_tolower((unsigned char) *p));
			p++;
		}
	}
	if (buf.len == 0)
		pattern_error(elem, val, "A schema or table name is empty.");
	*pp = p;
	return buf.data;
}

static List *
parse_table_patterns(DefElem *elem)
{
	char	   *val = option_value(elem);
	const char *p = val;
	List	   *result = NIL;

	for (;;)
	{
		W2PTablePattern *pat = palloc(sizeof(W2PTablePattern));

		while (scanner_isspace(*p))
			p++;
		pat->schema = parse_pattern_part(elem, val, &p);
		if (*p != '.')
			pattern_error(elem, val,
						  psprintf("Pattern \"%s\" is not schema-qualified.",
								   pat->schema));
		p++;
		pat->table = parse_pattern_part(elem, val, &p);
		if (*p == '.')
			pattern_error(elem, val, "A pattern has more than two parts.");
		result = lappend(result, pat);

		while (scanner_isspace(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != ',')
			pattern_error(elem, val, "Patterns must be separated by commas.");
		p++;
	}
	return result;
}

/* Glob match in which '*' matches any run and '\' escapes the next byte. */
static bool
glob_match(const char *pat, const char *str)
{
	const char *star_pat = NULL;
	const char *star_str = NULL;

	while (*str != '\0')
	{
		if (*pat == '*')
		{
			star_pat = ++pat;
			star_str = str;
			continue;
		}
		if (*pat == '\\' && pat[1] != '\0')
		{
			if (pat[1] == *str)
			{
				pat += 2;
				str++;
				continue;
			}
		}
		else if (*pat != '\0' && *pat == *str)
		{
			pat++;
			str++;
			continue;
		}
		if (star_pat == NULL)
			return false;
		pat = star_pat;
		str = ++star_str;
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

bool
w2p_table_matches(List *patterns, const char *schema, const char *table)
{
	ListCell   *lc;

	foreach(lc, patterns)
	{
		W2PTablePattern *pat = (W2PTablePattern *) lfirst(lc);

		if (glob_match(pat->schema, schema) && glob_match(pat->table, table))
			return true;
	}
	return false;
}

static uint32
parse_actions(DefElem *elem)
{
	char	   *val = option_value(elem);
	char	   *raw = pstrdup(val);
	List	   *names;
	ListCell   *lc;
	uint32		actions = 0;

	if (!SplitGUCList(raw, ',', &names) || names == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for option \"%s\"", val, elem->defname),
				 errhint("List one or more of: insert, update, delete, truncate.")));
	foreach(lc, names)
	{
		char	   *name = (char *) lfirst(lc);

		if (pg_strcasecmp(name, "insert") == 0)
			actions |= W2P_ACTION_INSERT;
		else if (pg_strcasecmp(name, "update") == 0)
			actions |= W2P_ACTION_UPDATE;
		else if (pg_strcasecmp(name, "delete") == 0)
			actions |= W2P_ACTION_DELETE;
		else if (pg_strcasecmp(name, "truncate") == 0)
			actions |= W2P_ACTION_TRUNCATE;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized action \"%s\" in option \"%s\"",
							name, elem->defname),
					 errhint("List one or more of: insert, update, delete, truncate.")));
	}
	return actions;
}

static List *
parse_prefixes(DefElem *elem)
{
	char	   *val = option_value(elem);
	char	   *raw = pstrdup(val);
	List	   *names;

	if (!SplitGUCList(raw, ',', &names) || names == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for option \"%s\"", val, elem->defname),
				 errhint("Write a comma-separated list of prefixes; double-quote a prefix that contains a comma.")));
	return names;
}

/* Whether a logical message with this prefix is sent. */
bool
w2p_prefix_wanted(const W2POptions *opts, const char *prefix)
{
	ListCell   *lc;

	if (opts->message_prefixes == NIL)
		return true;
	foreach(lc, opts->message_prefixes)
		if (strcmp((char *) lfirst(lc), prefix) == 0)
			return true;
	return false;
}
