#!/bin/sh
# lincheck.sh - the short version of stress/lincheck: the checker's self-test,
# a few hundred histories with u64 keys and with byte-string keys, then the
# negative control (readers skip the moved-mark re-check: a violation must be
# reported). Fewer rounds under TSan, which runs the map 5-15x slower.
prog="${top_builddir:-.}/stress/lincheck"
test -x "$prog" || { echo "lincheck.sh: $prog is not built"; exit 99; }

case `"$prog" --build-info` in
tsan) rounds=120; neg=1000 ;;
asan) rounds=150; neg=2000 ;;
*) rounds=300; neg=2000 ;;
esac

"$prog" --self-test || exit 1
"$prog" --u64 -r $rounds || exit 1
"$prog" --bytes -r $rounds || exit 1
"$prog" --skip-moved-check --expect-violation -r $neg || exit 1
