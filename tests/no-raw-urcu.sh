#!/bin/sh
# no-raw-urcu.sh - liburcu is reached only through lib/rcu.h and lib/rcu.c,
# whose wrappers carry the TSan annotations (see TSAN.md). Fails if any other
# lib/ file or the public header includes <urcu...> or names a raw RCU call.
# In lib/, comments count too (keep it simple: grep). In include/, only code
# lines count: gcmap.h documents how gcmap's calls relate to liburcu's.
# Environment (set by AM_TESTS_ENVIRONMENT): top_srcdir.
set -eu
cd "${top_srcdir:?}"

# A raw call: the name as a whole word followed by '(' (gcmap__call_rcu( is fine).
calls='(^|[^A-Za-z0-9_])(synchronize_rcu|call_rcu|rcu_read_unlock|rcu_read_lock|rcu_barrier|rcu_register_thread)[[:space:]]*\('
incl='#[[:space:]]*include[[:space:]]*<urcu'

status=0
for f in lib/*.c lib/*.h; do
	case $f in
	lib/rcu.h | lib/rcu.c) continue ;;
	esac
	test -f "$f" || continue
	if grep -nE -e "$calls" -e "$incl" "$f" | sed "s|^|$f:|" | grep .; then
		status=1
	fi
done
for f in include/*; do
	test -f "$f" || continue
	if grep -nE -e "$calls" -e "$incl" "$f" | grep -vE '^[0-9]+:[[:space:]]*(/\*|\*|//)' |
		sed "s|^|$f:|" | grep .; then
		status=1
	fi
done
if test "$status" -ne 0; then
	echo "no-raw-urcu.sh: use the gcmap__rcu_* wrappers of lib/rcu.h instead (TSan annotations)"
else
	echo "no-raw-urcu.sh: liburcu is used only through lib/rcu.h and lib/rcu.c"
fi
exit "$status"
