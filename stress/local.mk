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
# while the map grows and shrinks, with clears, and in half the rounds with
# the map attached to a collector whose marker runs cycles and finalizers
# throughout). Linked with the test build of the library for
# GCMAP_TEST_SKIP_MOVED_CHECK, its negative control (the collector's is
# --no-barrier). With no arguments it runs 5000 rounds (histories),
# alternating u64 and byte-string keys, 2500 of them with the collector.
STRESS_PROGS += stress/lincheck
EXTRA_PROGRAMS += stress/lincheck
stress_lincheck_SOURCES = stress/lincheck.c stress/lincheck_model.h
stress_lincheck_CPPFLAGS = $(AM_CPPFLAGS) -DGCMAP_TESTHOOKS
stress_lincheck_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS)
stress_lincheck_LDADD = lib/libgcmap-test.la $(URCU_LIBS)
CLEANFILES += stress/lincheck

# iterstress: the iteration contract while writers make the map grow and
# shrink (stress/iterstress.h has the design). Default: 5 s per key kind.
# Its negative control: iterstress --no-filter --expect-violation.
STRESS_PROGS += stress/iterstress
EXTRA_PROGRAMS += stress/iterstress
stress_iterstress_SOURCES = stress/iterstress.c stress/iterstress.h
stress_iterstress_CPPFLAGS = $(AM_CPPFLAGS) -DGCMAP_TESTHOOKS
stress_iterstress_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS)
stress_iterstress_LDADD = lib/libgcmap-test.la $(URCU_LIBS)
CLEANFILES += stress/iterstress

# gcstress: the collector stress: objects moved between keys of attached maps
# that grow and shrink while cycles run back to back; a map must never hand
# out a finalized object (examples/gcstress_impl.h has the design; it is
# shared with examples/gcmap-demo --gc-stress and tests/check_gc.c). Default:
# one 5 s run. Its negative control: gcstress --no-barrier --expect-violation.
STRESS_PROGS += stress/gcstress
EXTRA_PROGRAMS += stress/gcstress
stress_gcstress_SOURCES = stress/gcstress.c examples/gcstress_impl.h
stress_gcstress_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/examples
stress_gcstress_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS)
stress_gcstress_LDADD = lib/libgcmap-test.la $(URCU_LIBS)
CLEANFILES += stress/gcstress

# faultstress: random allocation failures (the allocator hook fails each
# worker allocation with probability -p per mille) under mixed concurrent
# operations on maps that grow and shrink, with iteration, collector cycles
# and finalizers; acknowledged entries, -ENOMEM results, invariants, leaks
# and per-site failure coverage are checked (design at the top of the file).
# Default: 30 s; tests/faultstress.sh runs a short one in make check.
STRESS_PROGS += stress/faultstress
EXTRA_PROGRAMS += stress/faultstress
stress_faultstress_SOURCES = stress/faultstress.c
stress_faultstress_CPPFLAGS = $(AM_CPPFLAGS) -DGCMAP_TESTHOOKS
stress_faultstress_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS)
stress_faultstress_LDADD = lib/libgcmap-test.la $(URCU_LIBS)
CLEANFILES += stress/faultstress

# make stress-long: the soak, not run by CI: stress/soak.sh runs the stress
# programs above in a loop for SOAK_SECONDS (default 600: ten minutes of
# mixed concurrent load with growth, shrinking, iteration, collection and
# allocation failures) and prints the operations, histories checked, faults
# injected and violations (must be 0). Run it from a ThreadSanitizer build:
#   mkdir build-tsan && cd build-tsan && ../configure --enable-tsan CFLAGS='-g -O1'
#   make stress-long
# (SOAK_ANY_BUILD=1 runs it in another build.) Its log: soak.log.
EXTRA_DIST += stress/soak.sh
SOAK_SECONDS = 600
if TSAN
SOAK_BUILD = tsan
else
SOAK_BUILD = other
endif
stress-long: $(STRESS_PROGS)
	@if test '$(SOAK_BUILD)' != tsan && test -z "$$SOAK_ANY_BUILD"; then \
		echo "stress-long: run it from a build configured with --enable-tsan" \
			"(mkdir build-tsan && cd build-tsan && ../configure --enable-tsan" \
			"CFLAGS='-g -O1' && make stress-long), or set SOAK_ANY_BUILD=1" >&2; \
		exit 1; \
	fi
	@$(SANITIZER_ENV) SOAK_SECONDS='$(SOAK_SECONDS)'; export SOAK_SECONDS; \
	$(SHELL) $(srcdir)/stress/soak.sh $(STRESS_PROGS)
CLEANFILES += soak.log
.PHONY: stress-long
