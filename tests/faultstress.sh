#!/bin/sh
# faultstress.sh - the short run of stress/faultstress: random allocation
# failures (2% of the workers' allocations) under concurrent mixed
# operations, iteration, collector cycles and finalizers, a few seconds per
# build (fewer keys under TSan, which runs the map 5-15x slower). The
# program checks acknowledged entries, -ENOMEM results, invariants, leaks
# and that every allocation site it used was failed.
prog="${top_builddir:-.}/stress/faultstress"
test -x "$prog" || { echo "faultstress.sh: $prog is not built"; exit 99; }

case `"$prog" --build-info` in
tsan) args="-d 4 -k 256" ;;
asan) args="-d 4 -k 512" ;;
*) args="-d 4" ;;
esac

exec "$prog" $args
