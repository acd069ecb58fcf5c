#!/bin/sh
# usdt.sh - the shared library carries every USDT probe of provider "gcmap"
# (doc/tracing.md): readelf -n lists one stapsdt note per probe site.
# Skipped (77) when configure did not find <sys/sdt.h> (HAVE_SYS_SDT_H in
# config.h): the probes are compiled out then. CI installs the header
# (systemtap-sdt-dev), so there it must run.
# Environment (set by AM_TESTS_ENVIRONMENT): top_builddir.
set -u

b=${top_builddir:?}
so=$b/lib/.libs/libgcmap.so
probes='grow shrink rebuild evac_step table_retired gc_begin gc_finish finalizer_run'

if ! grep -q '^#define HAVE_SYS_SDT_H 1' "$b/config.h"; then
	echo "usdt.sh: <sys/sdt.h> was not found by configure: no probes to check (SKIP)"
	exit 77
fi
if ! test -f "$so"; then
	echo "usdt.sh: $so was not built (--disable-shared?)"
	exit 77
fi
READELF=${READELF:-readelf}
if ! command -v "$READELF" >/dev/null 2>&1; then
	echo "usdt.sh: $READELF not found (install binutils)"
	exit 99
fi

notes=${TMPDIR:-/tmp}/gcmap-usdt.$$
trap 'rm -f "$notes"' EXIT
"$READELF" -n "$so" >"$notes" || exit 99

# Each probe appears as:  stapsdt ... Provider: gcmap / Name: <probe>
status=0
for p in $probes; do
	n=$(awk -v p="$p" '/Provider:/ { prov = $2 } /Name:/ { if (prov == "gcmap" && $2 == p) n++ }
		END { print n + 0 }' "$notes")
	if test "$n" -eq 0; then
		echo "usdt.sh: probe gcmap:$p missing from $so"
		status=1
	else
		echo "usdt.sh: gcmap:$p ($n site(s))"
	fi
done
# No probe that doc/tracing.md does not describe.
extra=$(awk '/Provider:/ { prov = $2 } /Name:/ { if (prov == "gcmap") print $2 }' "$notes" |
	sort -u | while read -r name; do
		case " $probes " in *" $name "*) ;; *) echo "$name" ;; esac
	done)
if test -n "$extra"; then
	echo "usdt.sh: undocumented probes (add them to doc/tracing.md and here): $extra"
	status=1
fi
exit "$status"
