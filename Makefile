# Makefile for the hnsw extension (PGXS, PostgreSQL 15)
#
#   make                 build hnsw.so and sql/hnsw--$(EXTVERSION).sql
#   make install         install into the PostgreSQL that pg_config names
#   make installcheck    pg_regress suite (sql/, expected/) against a running server
#   test/run             every suite on throwaway clusters (what CI runs)

EXTENSION = hnsw
EXTVERSION = 0.1.0

MODULE_big = hnsw
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script is assembled from one file per layer, in this order.
SQL_SOURCES = $(wildcard src/sql/vector.sql src/sql/halfvec.sql src/sql/sparsevec.sql \
	src/sql/bit.sql src/sql/index.sql src/sql/spark.sql src/sql/info.sql src/sql/coord.sql \
	src/sql/move.sql src/sql/tools.sql)
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql

# Every sql/*.sql except the generated install script is a regression test.
REGRESS = $(sort $(filter-out $(EXTENSION)--%,$(patsubst sql/%.sql,%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --load-extension=$(EXTENSION)

EXTRA_CLEAN = test/kernels/kernel_test test/kernels/kernel_bench test/kernels/bit_test \
	$(FUZZ_TARGETS) test/bench/hnsw_bench test/bench/filter_bench test/bench/coord_bench \
	test/netsim/netsim_proxy test/netsim/netsim_client

PG_CONFIG ?= pg_config

# The coordinator speaks libpq (libpq_srcdir: where PGXS finds libpq-fe.h).
SHLIB_LINK = -lpq
PG_CPPFLAGS = -I$(libpq_srcdir)

# -Wextra on our code.  PostgreSQL's headers trip -Wunused-parameter (inline
# functions in headers) and -Wmissing-field-initializers and our code uses the
# fmgr conventions that make -Wsign-compare noisy in macros, so those three are
# turned off; everything else in -Wextra stays on.
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild everything when a header changes.
$(OBJS): $(wildcard src/*.h)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SOURCES)
	cat $^ > $@

# Kernel agreement test and microbenchmark: distance.c alone, no server.
KERNEL_CFLAGS = -O2 -g -Wall -Wextra -Isrc

test/kernels/kernel_test: test/kernels/kernel_test.c src/distance.c src/distance.h
	$(CC) $(KERNEL_CFLAGS) -o $@ test/kernels/kernel_test.c src/distance.c -lm

test/kernels/kernel_bench: test/kernels/kernel_bench.c src/distance.c src/distance.h
	$(CC) $(KERNEL_CFLAGS) -o $@ test/kernels/kernel_bench.c src/distance.c -lm

# Popcount kernel agreement test (and "bit_test bench"): bitdistance.c alone;
# the benchmark also times PostgreSQL's pg_popcount() from libpgport.
PGPORT_LIB = $(wildcard $(shell $(PG_CONFIG) --pkglibdir)/libpgport.a)

test/kernels/bit_test: test/kernels/bit_test.c src/bitdistance.c src/bitdistance.h
	$(CC) $(KERNEL_CFLAGS) $(if $(PGPORT_LIB),-DWITH_PGPORT) -o $@ \
		test/kernels/bit_test.c src/bitdistance.c $(PGPORT_LIB)

# libFuzzer targets (clang): fuzz_vector for the text form of vectors
# (vector_in), fuzz_vector_recv for the binary form (vector_recv),
# fuzz_page for the checks of index pages (hnswcheck.c).
FUZZ_TARGETS = test/fuzz/fuzz_vector test/fuzz/fuzz_vector_recv \
	test/fuzz/fuzz_page
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Isrc

test/fuzz/fuzz_vector: test/fuzz/fuzz_vector.c src/vectorparse.c src/vectorparse.h
	clang $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_vector.c src/vectorparse.c -lm

test/fuzz/fuzz_vector_recv: test/fuzz/fuzz_vector_recv.c src/vectorparse.c src/vectorparse.h
	clang $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_vector_recv.c src/vectorparse.c -lm

# hnswcheck.c with PostgreSQL's headers and no backend (distance.c for the
# slots' bfloat16); clang does not know the headers' gnu_printf attribute.
test/fuzz/fuzz_page: test/fuzz/fuzz_page.c src/hnswcheck.c src/hnsw.h \
		src/distance.c src/distance.h
	clang $(FUZZ_CFLAGS) -Wno-ignored-attributes \
		-I$(shell $(PG_CONFIG) --includedir-server) -o $@ \
		test/fuzz/fuzz_page.c src/hnswcheck.c src/distance.c -lm

# Benchmark client over libpq (test/bench/README.md); test/bench/run drives it.
BENCH_CFLAGS = -O2 -g -Wall -Wextra -I$(shell $(PG_CONFIG) --includedir)

test/bench/hnsw_bench: test/bench/hnsw_bench.c test/bench/bench_common.c test/bench/bench_common.h
	$(CC) $(BENCH_CFLAGS) -o $@ test/bench/hnsw_bench.c test/bench/bench_common.c \
		-L$(shell $(PG_CONFIG) --libdir) -lpq -lm -lpthread

test/bench/filter_bench: test/bench/filter_bench.c test/bench/bench_common.c test/bench/bench_common.h
	$(CC) $(BENCH_CFLAGS) -o $@ test/bench/filter_bench.c test/bench/bench_common.c \
		-L$(shell $(PG_CONFIG) --libdir) -lpq -lm

test/bench/coord_bench: test/bench/coord_bench.c test/bench/bench_common.c test/bench/bench_common.h
	$(CC) $(BENCH_CFLAGS) -o $@ test/bench/coord_bench.c test/bench/bench_common.c \
		-L$(shell $(PG_CONFIG) --libdir) -lpq -lm -lpthread

# Fault-injecting TCP proxy of the network simulation (test/netsim/README.md):
# libc only, no server headers.
test/netsim/netsim_proxy: test/netsim/netsim_proxy.c
	$(CC) -O2 -g -Wall -Wextra -o $@ test/netsim/netsim_proxy.c

# The client that asks every shard itself, to compare with the coordinator
# (test/netsim/README.md "The benchmark", --direct).
test/netsim/netsim_client: test/netsim/netsim_client.c test/bench/bench_common.c test/bench/bench_common.h
	$(CC) $(BENCH_CFLAGS) -o $@ test/netsim/netsim_client.c test/bench/bench_common.c \
		-L$(shell $(PG_CONFIG) --libdir) -lpq -lm

.PHONY: kernels fuzz bench netsim netsim-client
kernels: test/kernels/kernel_test test/kernels/kernel_bench test/kernels/bit_test
fuzz: $(FUZZ_TARGETS)
bench: test/bench/hnsw_bench test/bench/filter_bench test/bench/coord_bench
netsim: test/netsim/netsim_proxy
netsim-client: test/netsim/netsim_client
