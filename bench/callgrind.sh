#!/bin/sh
# callgrind.sh - instructions per lookup, single thread, for each table:
# (Ir with N lookups - Ir with 0) / N inside bench_lookup_loop() only, minus
# the same for "none" (the loop alone: random key, indirect call, sum).
# Usage: bench/callgrind.sh path/to/gcmap-bench [N] [tables...]
set -e
bench=${1:?usage: callgrind.sh path/to/gcmap-bench [N] [tables...]}
n=${2:-100000}
shift 2 2>/dev/null || shift $#
# Not rculfhash-auto by default: under valgrind's serialised threads its
# auto-resize nearly always gets stuck (liburcu 0.13.2), and lookups walk chains.
tables=${*:-none gcmap rculfhash-sized rwlock}
# Count only inside the lookup loop: not the prefill, not other threads.
toggle=--toggle-collect='bench_lookup_loop*'
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind not found" >&2; exit 1; }

# Instructions (Ir) of one run: callgrind's "Collected" line.
ir() {
	valgrind --tool=callgrind --callgrind-out-file=/dev/null "$toggle" "$bench" --lookup-only "$1" "$n" "$2" 2>&1 |
		sed -n 's/^==[0-9]*== Collected : //p'
}

harness=
echo "instructions per lookup, $n keys, $n lookups (90% hits), 1 thread:"
for t in $tables; do
	zero=$(ir "$t" 0)
	full=$(ir "$t" "$n")
	per=$(echo "$full $zero $n" | awk '{ printf "%.1f", ($1 - $2) / $3 }')
	if [ "$t" = none ]; then
		harness=$per
		echo "  none (the loop alone)   $per"
	else
		net=$(echo "$per ${harness:-0}" | awk '{ printf "%.1f", $1 - $2 }')
		printf '  %-22s  %s  (%s with the loop)\n' "$t" "$net" "$per"
	fi
done
