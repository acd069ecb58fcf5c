#!/bin/sh
# export.sh - the shared library exports exactly the functions that
# include/gcmap.h declares with GCMAP_API: no more, no fewer.
# Environment (set by AM_TESTS_ENVIRONMENT): top_srcdir, top_builddir, NM.
set -eu

header=${top_srcdir:?}/include/gcmap.h
so=${top_builddir:?}/lib/.libs/libgcmap.so
NM=${NM:-nm}

if ! test -f "$so"; then
	echo "export.sh: $so was not built (--disable-shared?)"
	exit 77
fi

tmp=${TMPDIR:-/tmp}/gcmap-export.$$
trap 'rm -f "$tmp".*' EXIT

# Declarations begin "GCMAP_API <type> name(": the identifier before the first
# '(' of the line. A declaration written differently shows up as a difference.
sed -n 's/^GCMAP_API[^(]*[^A-Za-z0-9_(]\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' \
	"$header" | LC_ALL=C sort -u >"$tmp.want"
if ! test -s "$tmp.want"; then
	echo "export.sh: no GCMAP_API declarations found in $header"
	exit 99
fi

# Defined dynamic symbols, without their version (name@@GCMAP_0.1).
$NM -D --defined-only "$so" >"$tmp.nm"
awk 'NF >= 3 && $2 == "T" { sub(/@.*/, "", $3); print $3 }' "$tmp.nm" |
	LC_ALL=C sort -u >"$tmp.got"
# Anything else exported (data, weak or unique symbols) is a leak too; the
# version node itself (type A) is expected.
awk 'NF >= 3 && $2 != "T" && $2 != "A" { print }' "$tmp.nm" >"$tmp.other"

status=0
LC_ALL=C comm -23 "$tmp.want" "$tmp.got" >"$tmp.missing"
LC_ALL=C comm -13 "$tmp.want" "$tmp.got" >"$tmp.extra"
if test -s "$tmp.missing"; then
	echo "export.sh: declared with GCMAP_API but not exported:"
	sed 's/^/  /' "$tmp.missing"
	status=1
fi
if test -s "$tmp.extra"; then
	echo "export.sh: exported but not declared with GCMAP_API:"
	sed 's/^/  /' "$tmp.extra"
	status=1
fi
if test -s "$tmp.other"; then
	echo "export.sh: exported non-function symbols:"
	sed 's/^/  /' "$tmp.other"
	status=1
fi
test "$status" -ne 0 || echo "export.sh: $(wc -l <"$tmp.want") functions, exports match include/gcmap.h"
exit "$status"
