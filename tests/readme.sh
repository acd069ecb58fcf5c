#!/bin/sh
# readme.sh - README.md's API tour is examples/tour.c verbatim (make check
# runs examples/tour, so the README's example is known to work).
# Environment (set by AM_TESTS_ENVIRONMENT): top_srcdir.
set -eu
cd "${top_srcdir:?}"

tmp=${TMPDIR:-/tmp}/gcmap-readme.$$
trap 'rm -f "$tmp"' EXIT

# The first ```c block after the "## API tour" heading.
awk '/^## API tour/ { tour = 1; next }
     tour && !inblock && /^```c$/ { inblock = 1; next }
     inblock && /^```$/ { exit }
     inblock { print }' README.md >"$tmp"

if ! test -s "$tmp"; then
	echo "readme.sh: no \`\`\`c block under \"## API tour\" in README.md"
	exit 1
fi
if ! diff -u examples/tour.c "$tmp"; then
	echo "readme.sh: README.md's API tour differs from examples/tour.c (above); copy the file into it"
	exit 1
fi
echo "readme.sh: README.md quotes examples/tour.c verbatim"
