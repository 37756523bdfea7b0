#!/usr/bin/env bash
# install-deps.sh
#    Install every Debian package wal2proto needs to build, test and
#    benchmark: the PostgreSQL 15 server and headers, the peer plugins the
#    benchmarks compare against, protobuf, the C++ toolchain and the
#    consumer's libraries.
#
#    Usage: sudo scripts/install-deps.sh
#
#    When every package is already installed it returns at once without
#    touching apt, so it is cheap to call at the top of other scripts.
#    Tested on Debian 12 (bookworm).

set -euo pipefail

PACKAGES=(
	# server, headers, client library
	postgresql-15
	postgresql-server-dev-15
	libpq-dev
	# peer output plugins and replication systems (benchmarks)
	postgresql-15-wal2json
	postgresql-15-decoderbufs
	postgresql-15-pglogical
	# wire format and toolchain
	libprotobuf-dev
	protobuf-compiler
	catch2
	cmake
	g++
	make
	pkg-config
	# walapply (the consumer) and its tests
	libfmt-dev
	libspdlog-dev
	libcli11-dev
	libyaml-cpp-dev
	nlohmann-json3-dev
	libmongoc-dev
	libbson-dev
	# the certificate of the SSL test
	openssl
	python3-mockupdb
	python3-mongomock
	python3-bson-ext python3-pymongo-ext python3-psycopg2
)

missing=()
for pkg in "${PACKAGES[@]}"; do
	if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
		missing+=("$pkg")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages already installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}" >&2
	echo "install-deps: run as root (sudo $0) to install them" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Wait for a concurrent apt/dpkg run instead of failing on its lock.
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
apt-get "${APT_OPTS[@]}" update
apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${PACKAGES[@]}"
