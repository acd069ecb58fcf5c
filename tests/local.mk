# tests/local.mk - make check: the Check suites, the script checks and, in
# TSan builds, the TSan canary. Included from the top-level Makefile.am.

# Check suites link the convenience library: they may call gcmap__ internals.

TESTS_CFLAGS = -DGCMAP_TESTHOOKS $(AM_CFLAGS) $(CHECK_CFLAGS) $(URCU_CFLAGS)
TESTS_LDADD = lib/libgcmap-test.la $(CHECK_LIBS) $(URCU_LIBS)

check_PROGRAMS += \
	tests/check_map \
	tests/check_rcu \
	tests/check_concurrent \
	tests/check_alloc \
	tests/check_evacuate
TESTS += \
	tests/check_map \
	tests/check_rcu \
	tests/check_concurrent \
	tests/check_alloc \
	tests/check_evacuate

tests_check_map_SOURCES = tests/check_map.c tests/test_util.h
tests_check_map_CFLAGS = $(TESTS_CFLAGS)
tests_check_map_LDADD = $(TESTS_LDADD)

tests_check_rcu_SOURCES = tests/check_rcu.c tests/test_util.h
tests_check_rcu_CFLAGS = $(TESTS_CFLAGS)
tests_check_rcu_LDADD = $(TESTS_LDADD)

tests_check_concurrent_SOURCES = tests/check_concurrent.c tests/test_util.h
tests_check_concurrent_CFLAGS = $(TESTS_CFLAGS)
tests_check_concurrent_LDADD = $(TESTS_LDADD)

tests_check_alloc_SOURCES = tests/check_alloc.c tests/test_util.h
tests_check_alloc_CFLAGS = $(TESTS_CFLAGS)
tests_check_alloc_LDADD = $(TESTS_LDADD)

tests_check_evacuate_SOURCES = tests/check_evacuate.c tests/evac_util.h tests/test_util.h
tests_check_evacuate_CFLAGS = $(TESTS_CFLAGS)
tests_check_evacuate_LDADD = $(TESTS_LDADD)

# Script checks (run with $(SHELL); they read top_srcdir, top_builddir, NM).
# export.sh: the shared library exports exactly the GCMAP_API functions.
# no-raw-urcu.sh: liburcu is called only through lib/rcu.h (TSan annotations).
# readme.sh: README.md's API tour is examples/tour.c verbatim.
TESTS += tests/export.sh tests/no-raw-urcu.sh tests/readme.sh
EXTRA_DIST += tests/export.sh tests/no-raw-urcu.sh tests/readme.sh

# The TSan canary holds a real data race: it must fail (TSan exits 66). If
# TSan ever stops reporting it, it passes, XPASS, and make check fails.
if TSAN
check_PROGRAMS += tests/tsan_canary
TESTS += tests/tsan_canary
XFAIL_TESTS += tests/tsan_canary
endif
tests_tsan_canary_SOURCES = tests/tsan_canary.c

# lincheck.sh: stress/lincheck's short run (a few hundred histories per key
# kind) and its negative control (GCMAP_TEST_SKIP_MOVED_CHECK must be caught).
# The program is built on demand (EXTRA_PROGRAMS in stress/local.mk).
TESTS += tests/lincheck.sh
EXTRA_DIST += tests/lincheck.sh
tests/lincheck.log: stress/lincheck$(EXEEXT)

# check_iter: iteration (lib/iter.c), with a short run of the iteration
# stress (stress/iterstress.h, shared with stress/iterstress).
check_PROGRAMS += tests/check_iter
TESTS += tests/check_iter
tests_check_iter_SOURCES = tests/check_iter.c tests/evac_util.h tests/test_util.h \
	stress/iterstress.h
tests_check_iter_CFLAGS = $(TESTS_CFLAGS)
tests_check_iter_LDADD = $(TESTS_LDADD)

# check_finalizer: finalizers (lib/finalizer.c, the sweep of lib/gc.c): once
# only, after a grace period, ordering, cycles, resurrection, both contexts,
# pacing, destroy.
check_PROGRAMS += tests/check_finalizer
TESTS += tests/check_finalizer
tests_check_finalizer_SOURCES = tests/check_finalizer.c tests/test_util.h
tests_check_finalizer_CFLAGS = $(TESTS_CFLAGS)
tests_check_finalizer_LDADD = $(TESTS_LDADD)

# sessiond.sh: examples/sessiond and examples/sessiond-load end to end over
# 127.0.0.1 (replies, expiry, finalization of every removed session, a load
# run, clean SHUTDOWN and SIGTERM; the server's exit status carries TSan).
TESTS += tests/sessiond.sh
EXTRA_DIST += tests/sessiond.sh
tests/sessiond.log: examples/sessiond$(EXEEXT) examples/sessiond-load$(EXEEXT)

# check_gc: the collector (lib/gc.c, lib/barrier.c): API, errors, the
# barrier's lost-object races step by step (with the barrier off as the
# negative control), and a short run of the collector stress
# (examples/gcstress_impl.h, shared with stress/gcstress and the demo).
check_PROGRAMS += tests/check_gc
TESTS += tests/check_gc
tests_check_gc_SOURCES = tests/check_gc.c tests/evac_util.h tests/test_util.h \
	examples/gcstress_impl.h
tests_check_gc_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/examples
tests_check_gc_CFLAGS = $(TESTS_CFLAGS)
tests_check_gc_LDADD = $(TESTS_LDADD)

# gcstress.sh: stress/gcstress with the barrier (must pass) and without it
# (--no-barrier --expect-violation: must report). Built on demand.
TESTS += tests/gcstress.sh
EXTRA_DIST += tests/gcstress.sh
tests/gcstress.log: stress/gcstress$(EXEEXT)

# Diagnostics and packaging (lib/diag.c, examples/gcmap-leakcheck.c, doc/).
# check_diag: gcmap_stats_json() and gcmap_gc_stats_json(): every field with
# its value, snprintf's conventions, errors, calls during writes.
check_PROGRAMS += tests/check_diag
TESTS += tests/check_diag
tests_check_diag_SOURCES = tests/check_diag.c tests/test_util.h
tests_check_diag_CFLAGS = $(TESTS_CFLAGS)
tests_check_diag_LDADD = $(TESTS_LDADD)
# leak_workload: leaking and healthy workloads that write snapshots, and
# map churn under GCMAP_STATS; linked like a user program.
check_PROGRAMS += tests/leak_workload
tests_leak_workload_SOURCES = tests/leak_workload.c
tests_leak_workload_LDADD = lib/libgcmap.la
# stats_env.sh: the GCMAP_STATS writer (lines appear and parse, destroy
# waits for a snapshot, no writer without maps, a bad path is reported).
# leakcheck.sh: gcmap-leakcheck flags each leaking workload with its cause
# and passes the healthy one. usdt.sh: every USDT probe is in libgcmap.so
# (skipped without <sys/sdt.h>). pkgconfig.sh: make install into a
# temporary prefix, then build and run examples/tour.c with pkg-config only.
# man.sh: every API function has a man page.
TESTS += tests/stats_env.sh tests/leakcheck.sh tests/usdt.sh tests/pkgconfig.sh tests/man.sh
EXTRA_DIST += tests/stats_env.sh tests/leakcheck.sh tests/usdt.sh tests/pkgconfig.sh \
	tests/man.sh
tests/stats_env.log tests/leakcheck.log: tests/leak_workload$(EXEEXT) \
	examples/gcmap-leakcheck$(EXEEXT)
AM_TESTS_ENVIRONMENT += \
	CC='$(CC)'; export CC; \
	SAN_CFLAGS='$(SAN_CFLAGS)'; export SAN_CFLAGS; \
	SAN_LDFLAGS='$(SAN_LDFLAGS)'; export SAN_LDFLAGS; \
	PKG_CONFIG='$(PKG_CONFIG)'; export PKG_CONFIG;
