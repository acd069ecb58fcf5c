#!/bin/sh
# leakcheck.sh - gcmap-leakcheck on snapshots of tests/leak_workload: each
# leaking workload is flagged (exit 1) with the explanation of its cause,
# the healthy one passes (exit 0), bad input exits 2. Both input forms are
# used: GCMAP_STATS-style lines and files of bare gcmap_stats_json() objects.
# Environment (set by AM_TESTS_ENVIRONMENT): top_builddir.
set -u

b=${top_builddir:?}
work=$b/tests/leakcheck.tmp.$$
trap 'rm -rf "$work"' EXIT
rm -rf "$work"
mkdir -p "$work" || exit 99
status=0
fail() {
	echo "leakcheck.sh: FAIL: $*"
	status=1
}

# expect MODE STATUS TEXT: run the workload, then gcmap-leakcheck on its
# lines and on its first and last bare snapshots; both must exit STATUS
# and, when TEXT is not empty, print it.
expect() {
	mode=$1 want=$2 text=$3
	"$b/tests/leak_workload" "$mode" "$work/$mode.jsonl" "$work/$mode" ||
		{ fail "leak_workload $mode exited $?"; return; }
	for input in "$work/$mode.jsonl" "$work/$mode.first.json $work/$mode.last.json"; do
		# shellcheck disable=SC2086 # $input is one or two file names
		"$b/examples/gcmap-leakcheck" $input >"$work/out" 2>&1
		rc=$?
		echo "== gcmap-leakcheck ($mode): exit $rc"
		cat "$work/out"
		test "$rc" -eq "$want" || fail "$mode: exit $rc, expected $want"
		if test -n "$text" && ! grep -q -e "$text" "$work/out"; then
			fail "$mode: no \"$text\" in the output"
		fi
		# Bare snapshots have only two points: no pending-window check.
		case $mode in stuck-fin) break ;; esac
	done
}

expect healthy 0 'no leak found'
expect leak-iter 1 'likely cause: pinned iterators'
expect leak-reader 1 'likely cause: retired tables and key copies waiting for a grace period'
expect leak-gc 1 'likely cause: no collection cycle ran'
expect stuck-fin 1 'finalizers pending in each of the last 3 snapshots'
grep -q 'likely cause: cycles run and queued [0-9]* finalizers, but none ran' "$work/out" ||
	fail "stuck-fin: the domain's growth is not explained by its queued finalizers"

# -b raises the bar: a growth below it is not reported.
"$b/examples/gcmap-leakcheck" -b 100000000 "$work/leak-iter.jsonl" >/dev/null 2>&1
rc=$?
test "$rc" -eq 0 || fail "-b 100000000: exit $rc on leak-iter, expected 0"

# Bad input: exit 2.
echo '{"t_ms":1,"maps":[{"type":"map"' >"$work/bad.jsonl"
"$b/examples/gcmap-leakcheck" "$work/bad.jsonl" >/dev/null 2>&1
rc=$?
test "$rc" -eq 2 || fail "truncated JSON: exit $rc, expected 2"
head -n 1 "$work/healthy.jsonl" >"$work/one.jsonl"
"$b/examples/gcmap-leakcheck" "$work/one.jsonl" >/dev/null 2>&1
rc=$?
test "$rc" -eq 2 || fail "one snapshot: exit $rc, expected 2"
"$b/examples/gcmap-leakcheck" "$work/missing.json" >/dev/null 2>&1
rc=$?
test "$rc" -eq 2 || fail "missing file: exit $rc, expected 2"

test "$status" -eq 0 && echo "leakcheck.sh: every leak flagged with its cause, healthy passes"
exit "$status"
