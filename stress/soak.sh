#!/bin/sh
# soak.sh - make stress-long: run the stress programs named as arguments
# (stress/lincheck, stress/iterstress, stress/gcstress, stress/faultstress;
# others are ignored) one after another in a loop until SOAK_SECONDS
# (default 600) have passed, each with a new seed, then print the sums of
# their figures. Meant for a ThreadSanitizer build (make stress-long checks).
# Every run's output is kept in SOAK_LOG (default soak.log). Exits 1 if any
# run failed or reported a violation; the seeds to replay are in the log.
secs=${SOAK_SECONDS:-600}
log=${SOAK_LOG:-soak.log}
seed=${SOAK_SEED:-$(date +%s)}
start=$(date +%s)
end=$((start + secs))
: >"$log" || exit 2

ops=0 histories=0 faults=0 violations=0 runs=0 failed_runs=0 cycles=0 walks=0
out=${TMPDIR:-/tmp}/soak.$$.out
trap 'rm -f "$out"' EXIT

echo "soak: $secs s from $(date -u '+%Y-%m-%d %H:%M:%S') UTC, seed $seed, programs: $*"
build=none
for p in "$@"; do
	test -x "$p" || { echo "soak: $p is not built"; exit 2; }
	b=$("$p" --build-info 2>/dev/null) && build=$b
done
echo "soak: $build build"

n=0
while :; do
	for p in "$@"; do
		now=$(date +%s)
		left=$((end - now))
		test "$left" -ge 5 || break 2
		d=$left
		n=$((n + 1))
		s=$((seed + n))
		case ${p##*/} in
		lincheck)
			# 100 histories (half with the collector): about 10 s under TSan
			d=30
			cmd="$p -s $s -r 100" ;;
		iterstress)
			test "$d" -gt 10 && d=10
			cmd="$p -s $s -d $((d / 2))" ;;
		gcstress)
			test "$d" -gt 20 && d=20
			cmd="$p -s $s -d $d" ;;
		faultstress)
			test "$d" -gt 30 && d=30
			cmd="$p -s $s -d $d" ;;
		*)
			continue ;;
		esac
		echo "== [$((now - start)) s] $cmd" >>"$log"
		# A hang fails the run (timeout exits 124) instead of the soak.
		timeout -k 10 $((d * 4 + 180)) $cmd >"$out" 2>&1
		rc=$?
		test "$rc" -eq 124 && echo "soak: timed out after $((d * 4 + 180)) s: a hang" >>"$out"
		cat "$out" >>"$log"
		runs=$((runs + 1))
		# Sum the figures each program prints (see their summary lines).
		read -r o h f v c w <<EOF
$(awk -v prog="${p##*/}" '
			function num(s) { gsub(/[^0-9]/, "", s); return s + 0 }
			prog == "lincheck" && / histories \(/ {
				h += $2; v += $(NF - 1) + 0
				for (i = 1; i < NF; i++) if ($(i + 1) == "ops") o += num($i)
			}
			prog == "iterstress" && / walks \(/ {
				for (i = 1; i <= NF; i++) {
					if ($(i + 1) == "walks" && $(i + 2) ~ /^\(/) { w += $i; o += num($(i + 2)) }
					if ($(i + 1) ~ /^writes/) o += num($i)
					if ($(i + 1) == "duplicates," || $(i + 1) == "missed," ||
					    $(i + 1) == "bad" || $(i + 1) == "errors") v += num($i)
				}
			}
			prog == "gcstress" && /^gcstress: run / {
				for (i = 1; i <= NF; i++) {
					if ($(i + 1) == "cycles") c += num($i)
					if ($(i + 1) == "moves") o += num($i)
					if ($(i + 1) ~ /^gets/) o += num($i)
					if ($i == "violations" || $i == "lost" || $i == "errors") v += num($(i + 1))
				}
			}
			prog == "faultstress" && / ops \(\+/ {
				for (i = 1; i <= NF; i++) {
					if ($(i + 1) == "ops") o += num($i)
					if ($(i + 1) == "cross") o += num($i)
					if ($(i + 1) == "walks") w += num($i)
					if ($(i + 1) ~ /^cycles/) c += num($i)
				}
			}
			prog == "faultstress" && / faults injected/ {
				f += num($2); v += num($(NF - 1))
			}
			END { printf "%d %d %d %d %d %d\n", o, h, f, v, c, w }' "$out")
EOF
		ops=$((ops + o))
		histories=$((histories + h))
		faults=$((faults + f))
		violations=$((violations + v))
		cycles=$((cycles + c))
		walks=$((walks + w))
		if [ "$rc" -ne 0 ]; then
			failed_runs=$((failed_runs + 1))
			echo "soak: FAILED: $cmd (exit $rc); see $log"
			tail -n 5 "$out"
		fi
		echo "soak: [$(($(date +%s) - start)) s] ${p##*/}: exit $rc, $o ops, $v violations"
	done
done

elapsed=$(($(date +%s) - start))
echo "soak: $elapsed s, $runs runs ($failed_runs failed), $build build"
echo "soak: operations $ops, histories checked $histories, walks $walks, collector cycles $cycles, faults injected $faults, violations $violations"
if [ "$failed_runs" -ne 0 ] || [ "$violations" -ne 0 ]; then
	echo "soak: FAILED (seeds in $log)"
	exit 1
fi
echo "soak: passed"
