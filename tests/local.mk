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

tests_check_map_SOURCES = tests/check_map.c tests/test_util.h tests/hold_util.h
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
# kind, with clears, half of them with the collector running) and its two
# negative controls (GCMAP_TEST_SKIP_MOVED_CHECK, GCMAP_GC_F_UNSAFE_NO_BARRIER:
# each must be caught).
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

# check_badinput: every public function given bad input (NULL pointers, zero
# and huge lengths, an unregistered thread, a busy map or domain, the wrong
# key kind, bad options): the documented code, and no partial state.
check_PROGRAMS += tests/check_badinput
TESTS += tests/check_badinput
tests_check_badinput_SOURCES = tests/check_badinput.c tests/test_util.h tests/hold_util.h
tests_check_badinput_CFLAGS = $(TESTS_CFLAGS)
tests_check_badinput_LDADD = $(TESTS_LDADD)

# Differential fuzzing: tests/fuzz/fuzz_map.c turns bytes into map and
# collector operations and compares gcmap with a reference model. make check
# replays the seed corpus through it (tests/fuzz/replay; TSan builds too)
# with its negative controls. make fuzz builds it with libFuzzer (clang, all
# of lib/ instrumented); make fuzz-run FUZZ_SECONDS=60 fuzzes a copy of the
# corpus and fails on a crash, a mismatch, a leak, or no clang/libFuzzer.
# tests/fuzz/make-corpus.sh rewrites the corpus.
check_PROGRAMS += tests/fuzz/replay
TESTS += tests/fuzz/replay
tests_fuzz_replay_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_map.c
tests_fuzz_replay_CFLAGS = $(TESTS_CFLAGS)
tests_fuzz_replay_LDADD = lib/libgcmap-test.la $(URCU_LIBS)
FUZZ_CORPUS = \
	tests/fuzz/corpus/01-u64-ops \
	tests/fuzz/corpus/02-u64-overflow \
	tests/fuzz/corpus/03-u64-grow-shrink \
	tests/fuzz/corpus/04-bytes-ops \
	tests/fuzz/corpus/05-bytes-key-limit \
	tests/fuzz/corpus/06-u64-evacuation \
	tests/fuzz/corpus/07-bytes-shrink \
	tests/fuzz/corpus/08-u64-clear \
	tests/fuzz/corpus/09-u64-iter-live \
	tests/fuzz/corpus/10-bytes-iter-live \
	tests/fuzz/corpus/11-u64-alloc-failures \
	tests/fuzz/corpus/12-bytes-alloc-failures \
	tests/fuzz/corpus/13-gc-basic \
	tests/fuzz/corpus/14-gc-children \
	tests/fuzz/corpus/15-gc-roots \
	tests/fuzz/corpus/16-gc-interleaved \
	tests/fuzz/corpus/17-gc-resurrect \
	tests/fuzz/corpus/18-gc-detach \
	tests/fuzz/corpus/19-gc-recreate \
	tests/fuzz/corpus/20-gc-barrier-key2 \
	tests/fuzz/corpus/21-gc-barrier-key8 \
	tests/fuzz/corpus/22-u64-moved-chain \
	tests/fuzz/corpus/23-bytes-empty-key-iter
EXTRA_DIST += tests/fuzz/make-corpus.sh $(FUZZ_CORPUS)

FUZZ_CC = clang
FUZZ_SECONDS = 60
FUZZ_CFLAGS = -std=gnu11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# Leaks are checked at exit: pending deferred frees defeat the per-input check.
FUZZ_ARGS = -rss_limit_mb=2048 -detect_leaks=0 -print_final_stats=1
tests/fuzz/fuzz_map$(EXEEXT): $(lib_libgcmap_test_la_SOURCES) tests/fuzz/fuzz_map.c config.h
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { \
		echo "fuzz: $(FUZZ_CC) not found: install clang and libclang-rt-14-dev" >&2; exit 1; }
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)srcs=; for f in $(lib_libgcmap_test_la_SOURCES) tests/fuzz/fuzz_map.c; do \
		case $$f in *.c) srcs="$$srcs $(srcdir)/$$f";; esac; \
	done; \
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DGCMAP_TESTHOOKS $(AM_CPPFLAGS) $(URCU_CFLAGS) $$srcs \
		$(URCU_LIBS) $(LIBS) -lpthread -o $@ || { \
		echo "fuzz: $(FUZZ_CC) cannot build with libFuzzer: install libclang-rt-14-dev" >&2; \
		exit 1; }
fuzz: tests/fuzz/fuzz_map$(EXEEXT)
fuzz-run: tests/fuzz/fuzz_map$(EXEEXT)
	rm -rf tests/fuzz/corpus-run
	$(MKDIR_P) tests/fuzz/corpus-run tests/fuzz/artifacts
	for f in $(FUZZ_CORPUS); do cp $(srcdir)/$$f tests/fuzz/corpus-run/ || exit 1; done
	$(SANITIZER_ENV) ./tests/fuzz/fuzz_map$(EXEEXT) -max_total_time=$(FUZZ_SECONDS) \
		$(FUZZ_ARGS) -artifact_prefix=tests/fuzz/artifacts/ tests/fuzz/corpus-run
CLEANFILES += tests/fuzz/fuzz_map$(EXEEXT)
.PHONY: fuzz fuzz-run

# Reliability (doc/testing.md). faultstress.sh: stress/faultstress's short
# run: random allocation failures under concurrent load (built on demand).
TESTS += tests/faultstress.sh
EXTRA_DIST += tests/faultstress.sh doc/testing.md
tests/faultstress.log: stress/faultstress$(EXEEXT)

# The TSan negative control for table retirement: tests/tsan_nograce sets
# GCMAP_TEST_NO_GRACE (a retired table is freed without a grace period)
# while readers look keys up; TSan must report it (XFAIL: if TSan stops
# seeing it, it XPASSes and make check fails). tests/tsan_grace is the same
# program with grace periods: it must pass with no report. ASan builds run
# the control as tests/asan_nograce (a heap-use-after-free report).
if TSAN
check_PROGRAMS += tests/tsan_nograce tests/tsan_grace
TESTS += tests/tsan_nograce tests/tsan_grace
XFAIL_TESTS += tests/tsan_nograce
endif
if ASAN
check_PROGRAMS += tests/asan_nograce
TESTS += tests/asan_nograce
XFAIL_TESTS += tests/asan_nograce
endif
NOGRACE_CPPFLAGS = $(AM_CPPFLAGS) -DGCMAP_TESTHOOKS
NOGRACE_LDADD = lib/libgcmap-test.la $(URCU_LIBS)
tests_tsan_nograce_SOURCES = tests/tsan_nograce.c
tests_tsan_nograce_CPPFLAGS = $(NOGRACE_CPPFLAGS)
tests_tsan_nograce_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS)
tests_tsan_nograce_LDADD = $(NOGRACE_LDADD)
tests_tsan_grace_SOURCES = tests/tsan_nograce.c
tests_tsan_grace_CPPFLAGS = $(NOGRACE_CPPFLAGS) -DTSAN_WITH_GRACE
tests_tsan_grace_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS)
tests_tsan_grace_LDADD = $(NOGRACE_LDADD)
tests_asan_nograce_SOURCES = tests/tsan_nograce.c
tests_asan_nograce_CPPFLAGS = $(NOGRACE_CPPFLAGS)
tests_asan_nograce_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS)
tests_asan_nograce_LDADD = $(NOGRACE_LDADD)
