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
