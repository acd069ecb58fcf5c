# stress/local.mk - multi-threaded stress programs, run by `make stress`
# (under TSan/ASan in those builds). Add each program to STRESS_PROGS (not
# STRESS_PROGRAMS: automake would take that for an install directory) and
# to EXTRA_PROGRAMS (built on demand), for example:
#   STRESS_PROGS += stress/stress_map
#   EXTRA_PROGRAMS += stress/stress_map
#   stress_stress_map_SOURCES = stress/stress_map.c
#   stress_stress_map_LDADD = lib/libgcmap-core.la $(URCU_LIBS)
#   CLEANFILES += stress/stress_map
STRESS_PROGS =

# lincheck: linearizability checker (per-key register model, histories taken
# while the map grows and shrinks). Linked with the test build of the library
# for GCMAP_TEST_SKIP_MOVED_CHECK, its negative control. With no arguments it
# runs 5000 rounds, alternating u64 and byte-string keys.
STRESS_PROGS += stress/lincheck
EXTRA_PROGRAMS += stress/lincheck
stress_lincheck_SOURCES = stress/lincheck.c stress/lincheck_model.h
stress_lincheck_CPPFLAGS = $(AM_CPPFLAGS) -DGCMAP_TESTHOOKS
stress_lincheck_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS)
stress_lincheck_LDADD = lib/libgcmap-test.la $(URCU_LIBS)
CLEANFILES += stress/lincheck
