#!/bin/sh
# lincheck.sh - the short version of stress/lincheck: the checker's self-test,
# a few hundred histories with u64 keys and with byte-string keys (clears
# included; half the rounds with the collector marking and finalizing the
# values), then the two negative controls: readers skip the moved-mark
# re-check (a linearizability violation must be reported), and the
# collector runs without its write barrier (a finalized value handed out by
# the map must be reported; -k 512 -B 0 -m 1: long-lived values, every op a
# move, see lincheck.c). Fewer rounds under TSan, which runs the map 5-15x
# slower.
prog="${top_builddir:-.}/stress/lincheck"
test -x "$prog" || { echo "lincheck.sh: $prog is not built"; exit 99; }

case `"$prog" --build-info` in
tsan) rounds=60; neg=1000; gcneg=1000 ;;
asan) rounds=100; neg=2000; gcneg=1000 ;;
*) rounds=200; neg=2000; gcneg=1000 ;;
esac

"$prog" --self-test || exit 1
"$prog" --u64 -r $rounds || exit 1
"$prog" --bytes -r $rounds || exit 1
"$prog" --skip-moved-check --expect-violation -r $neg || exit 1
"$prog" --no-barrier -k 512 -B 0 -m 1 --expect-violation -r $gcneg || exit 1
