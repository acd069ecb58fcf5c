#!/bin/sh
# stats_env.sh - the GCMAP_STATS background writer (lib/diag.c): with
# GCMAP_STATS=FILE,50 a program that uses maps gets one JSON line per 50 ms
# in FILE, each a snapshot of every live map and domain that
# gcmap-leakcheck parses; maps created and destroyed while it writes are
# safe (a destroy waits for a snapshot that reads the map: run under TSan,
# this catches a use after free); a program without maps writes nothing; a
# path that cannot be opened is reported, not fatal.
# Environment (set by AM_TESTS_ENVIRONMENT): top_builddir.
set -u

b=${top_builddir:?}
work=$b/tests/stats_env.tmp.$$
trap 'rm -rf "$work"' EXIT
rm -rf "$work"
mkdir -p "$work" || exit 99
status=0
fail() {
	echo "stats_env.sh: FAIL: $*"
	status=1
}

# 1. Lines appear and parse: 400 ms of churn at 50 ms per line.
out=$work/stats.jsonl
GCMAP_STATS="$out,50" "$b/tests/leak_workload" churn 400 || fail "leak_workload churn exited $?"
if ! test -s "$out"; then
	fail "no $out written"
else
	lines=$(wc -l <"$out")
	echo "stats_env.sh: $lines lines"
	test "$lines" -ge 3 || fail "only $lines lines in 500 ms at 50 ms"
	# Each line: one object, {...}, with "maps" and "gcs".
	bad=$(grep -c -v '^{"t_ms":[0-9]*,"maps":\[.*\],"gcs":\[.*\]}$' "$out")
	test "$bad" -eq 0 || fail "$bad malformed lines, first: $(grep -v '^{.*"maps".*}$' "$out" | head -n 1)"
	grep -q '"type":"map"' "$out" || fail 'no "type":"map" object'
	grep -q '"type":"gc"' "$out" || fail 'no "type":"gc" object'
	grep -q '"maps":\[\],"gcs":\[\]' "$out" || fail 'no line after every object was destroyed'
	# A full parse: gcmap-leakcheck exits 2 on bad input only.
	"$b/examples/gcmap-leakcheck" "$out" >"$work/leakcheck.out" 2>&1
	rc=$?
	test "$rc" -ne 2 || fail "gcmap-leakcheck cannot parse it: $(cat "$work/leakcheck.out")"
	head -c 600 "$out"
	echo
fi

# 2. Destroy against snapshots: a snapshot every millisecond while four
# threads create and destroy maps (with the list lock released during the
# walk, TSan reports a race here in about half of the runs).
GCMAP_STATS="$work/fast.jsonl,1" "$b/tests/leak_workload" churn 600 4 ||
	fail "leak_workload churn with a 1 ms interval exited $?"
test -s "$work/fast.jsonl" || fail "no line with a 1 ms interval"

# 3. No map, no writer (it is never started by a constructor).
GCMAP_STATS="$work/none.jsonl,10" "$b/tests/leak_workload" none || fail "leak_workload none exited $?"
test ! -e "$work/none.jsonl" || fail "a program without maps created the stats file"

# 4. A path that cannot be opened: reported once on stderr, the program runs.
GCMAP_STATS="$work/no/such/dir/x,10" "$b/tests/leak_workload" churn 50 2>"$work/err" ||
	fail "leak_workload with a bad GCMAP_STATS path exited $?"
grep -q 'GCMAP_STATS: cannot open' "$work/err" || fail "no message for a bad path: $(cat "$work/err")"

test "$status" -eq 0 && echo "stats_env.sh: GCMAP_STATS writer OK"
exit "$status"
