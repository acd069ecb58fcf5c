#!/bin/sh
# gcstress.sh - the short version of stress/gcstress: a run with the write
# barrier (no object may be finalized while a map still holds it), then the
# negative control (GCMAP_GC_F_UNSAFE_NO_BARRIER: a finalized object handed
# out by a map must be reported). Longer under TSan, which runs 5-15x slower.
prog="${top_builddir:-.}/stress/gcstress"
test -x "$prog" || { echo "gcstress.sh: $prog is not built"; exit 99; }

case `"$prog" --build-info` in
tsan) secs=4; neg=120 ;;
asan) secs=3; neg=60 ;;
*) secs=2; neg=30 ;;
esac

"$prog" -d $secs || exit 1
"$prog" -d $neg --no-barrier --expect-violation || exit 1
