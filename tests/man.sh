#!/bin/sh
# man.sh - the man pages cover the API: every GCMAP_API function of
# include/gcmap.h is named in the NAME section of exactly one page of
# doc/man (`make install` links the other names to it), every name there is
# a real function, and the pages format without groff warnings.
# Environment (set by AM_TESTS_ENVIRONMENT): top_srcdir.
set -u

s=${top_srcdir:?}
tmp=${TMPDIR:-/tmp}/gcmap-man.$$
trap 'rm -f "$tmp".*' EXIT
status=0

sed -n 's/^GCMAP_API[^(]*[^A-Za-z0-9_(]\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' \
	"$s/include/gcmap.h" | LC_ALL=C sort -u >"$tmp.api"
# The NAME line: "name, name, ... \- summary".
: >"$tmp.names"
for page in "$s"/doc/man/*.3; do
	sed -n '/^\.SH NAME/{n;s/ *\\-.*//;s/,/ /g;p;q;}' "$page" | tr ' ' '\n' | grep . |
		grep '^gcmap_' >>"$tmp.names"
done
LC_ALL=C sort "$tmp.names" >"$tmp.sorted"
LC_ALL=C sort -u "$tmp.names" >"$tmp.uniq"
dups=$(LC_ALL=C comm -23 "$tmp.sorted" "$tmp.uniq" | sort -u)
missing=$(LC_ALL=C comm -23 "$tmp.api" "$tmp.uniq")
extra=$(LC_ALL=C comm -13 "$tmp.api" "$tmp.uniq")
if test -n "$missing"; then
	echo "man.sh: API functions without a man page:" $missing
	status=1
fi
if test -n "$dups"; then
	echo "man.sh: named by more than one page:" $dups
	status=1
fi
if test -n "$extra"; then
	echo "man.sh: pages name functions that gcmap.h does not declare:" $extra
	status=1
fi

if command -v groff >/dev/null 2>&1; then
	for page in "$s"/doc/man/*.[13]; do
		groff -man -ww -z -t "$page" >"$tmp.warn" 2>&1
		if test -s "$tmp.warn"; then
			echo "man.sh: groff warns about $page:"
			cat "$tmp.warn"
			status=1
		fi
	done
else
	echo "man.sh: groff not found: pages not formatted"
fi
test "$status" -eq 0 && echo "man.sh: $(wc -l <"$tmp.api") functions, each in one page"
exit "$status"
