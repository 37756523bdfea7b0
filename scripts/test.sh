#!/usr/bin/env bash
# test.sh
#    The whole test suite: install the build dependencies, build and install
#    the plugin, run the pg_regress/isolation suites, build the C++ code and
#    run its tests (ctest).  Exits non-zero on the first failure.
#
#    Usage: sudo scripts/test.sh
#
#    Run as root on a Debian 12 machine (packages are installed and the
#    plugin goes into the PostgreSQL installation); every server it needs is
#    started by the tests themselves on 127.0.0.1 and stopped afterwards.
#    Environment: PG_CONFIG picks the installation; BUILD_DIR (default
#    build/) is the CMake build directory; CTEST_PARALLEL_LEVEL is honoured.

set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-$repo/build}
jobs=$(nproc 2>/dev/null || echo 2)

step()
{
	echo
	echo "=== test.sh: $*"
}

step "dependencies"
scripts/install-deps.sh

step "keep the test servers' ports out of the range of outgoing connections"
# The tests' servers listen on fixed ports in 54000-57999, inside Linux's
# default range for the local ports of outgoing connections (32768-60999):
# a client connection made by an earlier test can hold one of them, and the
# server that wants it then fails to start ("Address already in use").
# Reserved ports are never given to outgoing connections.
reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
if [ -w "$reserved" ]; then
	current=$(cat "$reserved")
	echo "${current:+$current,}54000-57999" >"$reserved"
	echo "reserved: $(cat "$reserved")"
else
	echo "test.sh: $reserved is not writable; a test server may find its port taken" >&2
fi

step "build and install the plugin"
make -j"$jobs"
make install

step "pg_regress and isolation suites"
make regress

step "configure and build the C++ code in $build_dir"
cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build_dir" -j"$jobs"

step "the README's main job (two masters both ways, plus a text target)"
BUILD_DIR=$build_dir scripts/two-masters.sh --no-build

step "ctest"
cd "$build_dir"
exec ctest --output-on-failure
