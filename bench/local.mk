# bench/local.mk - gcmap-bench, the benchmark program; never part of make check.
# `make bench` builds and runs the full run (several minutes), `make bench-quick`
# the --quick one (under a minute), `make bench-callgrind` the instruction
# counts per lookup; BENCH_ARGS adds options: make bench BENCH_ARGS='-t 1,2'.
EXTRA_PROGRAMS += bench/gcmap-bench
bench_gcmap_bench_SOURCES = \
	bench/bench.h \
	bench/bench.c \
	bench/workloads.c \
	bench/tbl_gcmap.c \
	bench/tbl_lfht.c \
	bench/rwtable.h \
	bench/rwtable.c
bench_gcmap_bench_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS) $(URCU_CDS_CFLAGS)
bench_gcmap_bench_LDADD = lib/libgcmap.la $(URCU_CDS_LIBS) $(URCU_LIBS) -lpthread -lm
# -no-install: a real executable (no libtool wrapper), so valgrind can run it.
bench_gcmap_bench_LDFLAGS = $(AM_LDFLAGS) -no-install
CLEANFILES += bench/gcmap-bench$(EXEEXT)
EXTRA_DIST += bench/README.md bench/callgrind.sh BENCHMARKS.md

bench: bench/gcmap-bench$(EXEEXT)
	./bench/gcmap-bench$(EXEEXT) $(BENCH_ARGS)

bench-quick: bench/gcmap-bench$(EXEEXT)
	./bench/gcmap-bench$(EXEEXT) --quick $(BENCH_ARGS)

bench-callgrind: bench/gcmap-bench$(EXEEXT)
	$(SHELL) $(srcdir)/bench/callgrind.sh ./bench/gcmap-bench$(EXEEXT) 100000

.PHONY: bench bench-quick bench-callgrind
