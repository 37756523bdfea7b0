#!/usr/bin/env bash
# regress.sh
#    Run the plugin's pg_regress suite and then its isolation suite, each on
#    a temporary instance, as an unprivileged user (initdb refuses root).
#
#    Usage: scripts/regress.sh [TEST ...]        (also: make regress)
#
#    Without arguments it runs the tests listed in regress/tests.txt and the
#    isolation specs listed in regress/isolation.txt, in order.  Arguments
#    select tests by name instead (a name with regress/specs/NAME.spec runs
#    under pg_isolation_regress, others under pg_regress).
#
#    The test instances use regress/wal2proto.conf, a UTF8 database with the
#    C locale, and the installed plugin (run make install first).  Results go
#    to a fresh temporary directory, removed when everything passes and kept
#    (its path printed, with regression.diffs) when something fails.
#
#    Environment: PG_CONFIG picks the installation; REGRESS_DIR replaces
#    regress/ as the input directory; REGRESS_PORT (default 55427) is the
#    first port tried (isolation uses the next one).

set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=pgcluster.sh
source "$repo/scripts/pgcluster.sh"

pg_config=${PG_CONFIG:-pg_config}
bindir=$("$pg_config" --bindir)
pgxs_src=$(dirname "$(dirname "$("$pg_config" --pgxs)")")
pg_regress=$pgxs_src/test/regress/pg_regress
pg_isolation_regress=$pgxs_src/test/isolation/pg_isolation_regress
regress_dir=${REGRESS_DIR:-$repo/regress}
regress_port=${REGRESS_PORT:-55427}
user=$(pgcluster_user)

for f in "$pg_regress" "$pg_isolation_regress"; do
	if [ ! -x "$f" ]; then
		echo "regress.sh: $f not found (is postgresql-server-dev installed?)" >&2
		exit 1
	fi
done

# Which tests to run.
regress_tests=()
isolation_tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do
		if [ -f "$regress_dir/specs/$t.spec" ]; then
			isolation_tests+=("$t")
		else
			regress_tests+=("$t")
		fi
	done
else
	if [ ! -f "$regress_dir/tests.txt" ]; then
		echo "regress.sh: $regress_dir/tests.txt not found" >&2
		exit 1
	fi
	# One name per line; blank lines and # comments are ignored.
	mapfile -t regress_tests < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$regress_dir/tests.txt" | grep -v '^$' || true)
	if [ -f "$regress_dir/isolation.txt" ]; then
		mapfile -t isolation_tests < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$regress_dir/isolation.txt" | grep -v '^$' || true)
	fi
fi
if [ ${#regress_tests[@]} -eq 0 ] && [ ${#isolation_tests[@]} -eq 0 ]; then
	echo "regress.sh: no tests to run" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/wal2proto-regress.XXXXXX")
chmod 755 "$work"

# The unprivileged user must read the inputs; if it cannot reach the
# checkout (say, under root's home), run from a copy.
input=$regress_dir
if ! pgcluster_as_user test -r "$regress_dir/wal2proto.conf" ||
	! pgcluster_as_user test -x "$regress_dir/sql"; then
	cp -R "$regress_dir" "$work/input"
	input=$work/input
fi
if [ "$(id -u)" -eq 0 ]; then
	chown -R "$user": "$work"
fi

conf_opt=()
if [ -f "$input/wal2proto.conf" ]; then
	conf_opt=(--temp-config="$input/wal2proto.conf")
fi

common=(
	--inputdir="$input"
	--bindir="$bindir"
	"${conf_opt[@]}"
	--encoding=UTF8
	--no-locale
	--dbname=contrib_regression
)

status=0
failed_dirs=()

if [ ${#regress_tests[@]} -gt 0 ]; then
	echo "=== pg_regress: ${regress_tests[*]}"
	if ! pgcluster_as_user "$pg_regress" "${common[@]}" \
		--temp-instance="$work/tmp_check" \
		--outputdir="$work/regress" \
		--port="$regress_port" \
		"${regress_tests[@]}"; then
		status=1
		failed_dirs+=("$work/regress")
	fi
fi

if [ ${#isolation_tests[@]} -gt 0 ]; then
	echo "=== pg_isolation_regress: ${isolation_tests[*]}"
	if ! pgcluster_as_user "$pg_isolation_regress" "${common[@]}" \
		--temp-instance="$work/tmp_check_iso" \
		--outputdir="$work/isolation" \
		--port="$((regress_port + 1))" \
		"${isolation_tests[@]}"; then
		status=1
		failed_dirs+=("$work/isolation")
	fi
fi

if [ $status -ne 0 ]; then
	for d in "${failed_dirs[@]}"; do
		if [ -f "$d/regression.diffs" ]; then
			echo "=== $d/regression.diffs"
			cat "$d/regression.diffs"
		fi
		if [ -d "$d/log" ]; then
			echo "=== server log tail ($d/log)"
			tail -n 30 "$d/log/postmaster.log" 2>/dev/null || true
		fi
	done
	echo "regress.sh: FAILED; results kept in $work" >&2
	exit 1
fi

rm -rf "$work"
echo "regress.sh: all tests passed"
