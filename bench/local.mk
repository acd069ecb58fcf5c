# bench/local.mk - gcmap-bench, the benchmark program; never part of make check.
# `make bench` builds and runs the full run (several minutes), `make bench-quick`
# the --quick one (under a minute), `make bench-callgrind` the instruction
# counts per lookup, `make bench-plot` the charts (below); BENCH_ARGS adds
# options: make bench BENCH_ARGS='-t 1,2'.
EXTRA_PROGRAMS += bench/gcmap-bench
bench_gcmap_bench_SOURCES = \
	bench/bench.h \
	bench/bench.c \
	bench/workloads.c \
	bench/w5.c \
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

# W5's idle-barrier figure: the library's sources again, with the map stores'
# write barrier compiled out (GCMAP_BENCH_NO_BARRIER, lib/map.c), built like
# lib/libgcmap.la (a shared library with the same version script, so calls
# into it cost what calls into the real one cost; -rpath only makes libtool
# build it shared, it is never installed), and the bench linked to it.
# gcmap-bench runs this sibling, found next to itself, for that figure only.
# EXTRA_: built only for the bench targets, never by make all.
EXTRA_LTLIBRARIES = bench/libgcmap-nobarrier.la
bench_libgcmap_nobarrier_la_SOURCES = $(lib_libgcmap_core_la_SOURCES)
bench_libgcmap_nobarrier_la_CPPFLAGS = $(AM_CPPFLAGS) -DGCMAP_BENCH_NO_BARRIER
bench_libgcmap_nobarrier_la_CFLAGS = $(lib_libgcmap_core_la_CFLAGS)
bench_libgcmap_nobarrier_la_LIBADD = $(URCU_LIBS)
bench_libgcmap_nobarrier_la_LDFLAGS = $(AM_LDFLAGS) -rpath '$(abs_builddir)/bench' \
	-Wl,--version-script=$(top_srcdir)/lib/libgcmap.sym
EXTRA_bench_libgcmap_nobarrier_la_DEPENDENCIES = lib/libgcmap.sym
EXTRA_PROGRAMS += bench/gcmap-bench-nobarrier
bench_gcmap_bench_nobarrier_SOURCES = $(bench_gcmap_bench_SOURCES)
bench_gcmap_bench_nobarrier_CPPFLAGS = $(AM_CPPFLAGS) -DGCMAP_BENCH_NO_BARRIER
bench_gcmap_bench_nobarrier_CFLAGS = $(bench_gcmap_bench_CFLAGS)
bench_gcmap_bench_nobarrier_LDADD = bench/libgcmap-nobarrier.la $(URCU_CDS_LIBS) $(URCU_LIBS) \
	-lpthread -lm
bench_gcmap_bench_nobarrier_LDFLAGS = $(bench_gcmap_bench_LDFLAGS)
CLEANFILES += bench/gcmap-bench-nobarrier$(EXEEXT) bench/libgcmap-nobarrier.la
BENCH_PROGS = bench/gcmap-bench$(EXEEXT) bench/gcmap-bench-nobarrier$(EXEEXT)

bench: $(BENCH_PROGS)
	./bench/gcmap-bench$(EXEEXT) $(BENCH_ARGS)

bench-quick: $(BENCH_PROGS)
	./bench/gcmap-bench$(EXEEXT) --quick $(BENCH_ARGS)

bench-callgrind: bench/gcmap-bench$(EXEEXT)
	$(SHELL) $(srcdir)/bench/callgrind.sh ./bench/gcmap-bench$(EXEEXT) 100000

# make bench-plot: W3 and W4 with --csv (bench/bench-plot.csv in the build
# folder), then bench/plot.gp draws the charts BENCHMARKS.md shows into
# $(srcdir)/doc/img/ (committed). BENCH_PLOT_ARGS adds options; empty, it is
# the full-size run of W3 and W4: make bench-plot BENCH_PLOT_ARGS=--quick.
BENCH_PLOT_ARGS =
BENCH_PLOT_PNGS = doc/img/w3-insert-latency.png doc/img/w4-heap-cycle.png
EXTRA_DIST += bench/plot.gp $(BENCH_PLOT_PNGS)
CLEANFILES += bench/bench-plot.csv

bench-plot: bench/gcmap-bench$(EXEEXT)
	@test -n '$(GNUPLOT)' || { echo 'bench-plot: gnuplot not found: install it (Debian: apt-get install gnuplot-nox), then rerun configure'; exit 1; }
	./bench/gcmap-bench$(EXEEXT) -w W3,W4 --csv bench/bench-plot.csv $(BENCH_PLOT_ARGS)
	$(MKDIR_P) '$(srcdir)/doc/img'
	'$(GNUPLOT)' -e "csv='bench/bench-plot.csv'; outdir='$(srcdir)/doc/img'" '$(srcdir)/bench/plot.gp'
	@echo 'bench-plot: wrote $(BENCH_PLOT_PNGS) in $(srcdir)'

.PHONY: bench bench-quick bench-callgrind bench-plot
