#!/bin/sh
# pkgconfig.sh - gcmap installs like a library: `make install prefix=DIR`
# puts the shared and static library, gcmap.h, gcmap.pc, gcmap-leakcheck and
# the man pages (with a page for every API function) under DIR; then
# examples/tour.c builds with nothing but
#   PKG_CONFIG_PATH=DIR/lib/pkgconfig pkg-config --cflags --libs gcmap
# and runs against the installed shared library, and links statically with
# `pkg-config --static --libs gcmap`; `make uninstall` removes every file.
# DIR is under the build tree (make distcheck: the source tree is read-only).
# Environment (AM_TESTS_ENVIRONMENT): top_srcdir, top_builddir, CC,
# SAN_CFLAGS, SAN_LDFLAGS, PKG_CONFIG.
set -u

s=${top_srcdir:?}
b=${top_builddir:?}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
MAKE=${MAKE:-make}
tmp=$b/tests/pkgconfig.tmp.$$
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$tmp/out" || exit 99
status=0
fail() {
	echo "pkgconfig.sh: FAIL: $*"
	status=1
}

# The outer make's jobserver is not ours: run a plain make.
if ! (cd "$b" && env MAKEFLAGS= MFLAGS= MAKELEVEL= $MAKE install prefix="$tmp/inst") \
	>"$tmp/out/install.log" 2>&1; then
	cat "$tmp/out/install.log"
	echo "pkgconfig.sh: make install prefix=$tmp/inst failed"
	exit 1
fi
i=$tmp/inst

for f in include/gcmap.h lib/pkgconfig/gcmap.pc lib/libgcmap.a bin/gcmap-leakcheck \
	share/man/man3/gcmap.3 share/man/man1/gcmap-leakcheck.1; do
	test -f "$i/$f" || fail "$f not installed"
done
ls "$i"/lib/libgcmap.so.* >/dev/null 2>&1 || fail "no lib/libgcmap.so.* installed"
echo "== gcmap.pc"
cat "$i/lib/pkgconfig/gcmap.pc"

# Every GCMAP_API function has a man page (its own or a .so link).
for fn in $(sed -n 's/^GCMAP_API[^(]*[^A-Za-z0-9_(]\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' \
	"$s/include/gcmap.h"); do
	test -f "$i/share/man/man3/$fn.3" || fail "no man page $fn.3 installed"
done
if command -v man >/dev/null 2>&1; then
	# A .so link page renders its group page.
	MANWIDTH=80 man -M "$i/share/man" -P cat gcmap_get_u64 2>"$tmp/out/man.err" |
		grep -q 'gcmap_put_u64' || fail "man gcmap_get_u64: $(cat "$tmp/out/man.err")"
fi
"$i/bin/gcmap-leakcheck" --help >/dev/null || fail "installed gcmap-leakcheck --help failed"

# Build and run the tour with pkg-config only.
PKG_CONFIG_PATH=$i/lib/pkgconfig
export PKG_CONFIG_PATH
cflags=$($PKG_CONFIG --cflags gcmap) || fail "pkg-config --cflags gcmap"
libs=$($PKG_CONFIG --libs gcmap) || fail "pkg-config --libs gcmap"
echo "pkgconfig.sh: --cflags: $cflags"
echo "pkgconfig.sh: --libs: $libs"
case " $cflags " in *" -I$i/include "*) ;; *) fail "--cflags does not name $i/include" ;; esac
case " $libs " in *" -L$i/lib "*) ;; *) fail "--libs does not name $i/lib" ;; esac
# shellcheck disable=SC2086 # flags are lists of words
if $CC -std=gnu11 -Wall -Wextra -Werror ${SAN_CFLAGS-} $cflags -o "$tmp/out/tour" \
	"$s/examples/tour.c" ${SAN_LDFLAGS-} $libs; then
	LD_LIBRARY_PATH=$i/lib "$tmp/out/tour" >"$tmp/out/tour.log" 2>&1 ||
		fail "the tour linked against $i/lib failed: $(cat "$tmp/out/tour.log")"
	readelf -d "$tmp/out/tour" 2>/dev/null | grep -q 'NEEDED.*libgcmap\.so' ||
		fail "the tour does not use libgcmap.so"
else
	fail "cannot build examples/tour.c with pkg-config's flags"
fi

# Statically: libgcmap.a plus what `pkg-config --static` says it needs.
static_libs=
for w in $($PKG_CONFIG --static --libs gcmap); do
	test "$w" = -lgcmap || static_libs="$static_libs $w"
done
echo "pkgconfig.sh: --static --libs (without -lgcmap):$static_libs"
# shellcheck disable=SC2086
if $CC -std=gnu11 ${SAN_CFLAGS-} $cflags -o "$tmp/out/tour-static" "$s/examples/tour.c" \
	"$i/lib/libgcmap.a" ${SAN_LDFLAGS-} $static_libs; then
	"$tmp/out/tour-static" >"$tmp/out/tour.log" 2>&1 ||
		fail "the statically linked tour failed: $(cat "$tmp/out/tour.log")"
else
	fail "cannot link examples/tour.c with libgcmap.a and pkg-config --static"
fi

# Uninstall leaves no file behind.
if (cd "$b" && env MAKEFLAGS= MFLAGS= MAKELEVEL= $MAKE uninstall prefix="$i") \
	>"$tmp/out/uninstall.log" 2>&1; then
	left=$(find "$i" -type f -o -type l)
	test -z "$left" || fail "make uninstall left: $left"
else
	cat "$tmp/out/uninstall.log"
	fail "make uninstall failed"
fi

test "$status" -eq 0 && echo "pkgconfig.sh: installed library, header, gcmap.pc and man pages work"
exit "$status"
