# Makefile
#    PGXS build of the wal2proto output plugin and extension, plus the
#    targets that build the C++ side (CMake) and run the test suites.
#
#    make                 build plugin/wal2proto.so
#    make install         install the plugin and extension (as root)
#    make regress         pg_regress + isolation suites on a temporary instance
#    make consumer        configure and build the C++ code (build/)
#    make test            everything scripts/test.sh runs

MODULE_big = wal2proto
OBJS = \
	plugin/wal2proto.o \
	plugin/options.o \
	plugin/relcache.o \
	plugin/encode.o \
	plugin/to_json.o
PGFILEDESC = "wal2proto - logical decoding output plugin writing protobuf"

# The control and SQL files live in plugin/, so name the install directory
# explicitly instead of relying on EXTENSION (which wants them at the top).
MODULEDIR = extension
DATA = plugin/wal2proto.control plugin/wal2proto--1.0.sql

PG_CPPFLAGS = -I$(srcdir)/plugin
PG_CFLAGS = -Wall -Wmissing-prototypes -Werror=implicit-function-declaration

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

.PHONY: regress consumer test
regress:
	scripts/regress.sh

consumer:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j2

test:
	scripts/test.sh
