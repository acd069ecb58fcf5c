#!/bin/sh
# make-corpus.sh - writes the seed corpus of tests/fuzz/fuzz_map.c into
# tests/fuzz/corpus/ (the files are committed; run this again after changing
# the input format, then `make check` replays them). Each file is a header
# (flags, seed) and operations; the format is described in fuzz_map.c.
set -eu

dir=$(dirname "$0")/corpus
mkdir -p "$dir"
rm -f "$dir"/[0-9]*

# Header bits.
BYTES=1
LOG2_1=2
LOG2_2=4
LOG2_3=6
SMALLKEY=8
NOPOLICY=16
FAULTY=32
GC=64

# Operations (enum op of fuzz_map.c); add NULLOUT for NULL out-pointers.
GET=0 PUT=1 INSERT=2 REPLACE=3 CAS=4 DELETE=5 COUNT=6 CLEAR=7
MAINTAIN=8 MAINTAIN_ALL=9 ITERATE=10 ITER_BEGIN=11 ITER_STEP=12 ITER_END=13
EVAC_START=14 BULK_PUT=15 BULK_DELETE=16 FAIL_ALLOC=17
GC_REGISTER=18 GC_UNREGISTER=19 GC_ROOT_ADD=20 GC_ROOT_REMOVE=21
GC_SET_CHILD=22 GC_BEGIN=23 GC_STEP=24 GC_FINISH=25 GC_COLLECT=26
GC_RUN_FINALIZERS=27 STATS=28 RECREATE=29 ATTACH_TOGGLE=30 FOREACH_STOP=31
NULLOUT=32

# Operand helpers. Objects: obj N (1..63) is written as N - 1.
# Evacuation deltas: SHRINK=0 SAME=1 GROW=2. Register modes: FIN_UNREG=0,
# FIN_NOTHING=1, FIN_RESURRECT=2, NO_FIN=3, plus NO_TRACE=4, STORE=8.
SHRINK=0 SAME=1 GROW=2
FIN_UNREG=0 FIN_NOTHING=1 FIN_RESURRECT=2 NO_FIN=3 NO_TRACE=4 STORE=8

# A byte-string key of the small space: key index 0..15, length index 0..11
# (lengths 0 1 2 3 7 8 9 16 17 31 32 40).
bkey() { echo $(($2 * 16 + $1)); }

out=
bytes() {
	for byte in "$@"; do
		out="$out$(printf '\\%03o' "$byte")"
	done
}
file() {
	# shellcheck disable=SC2059
	printf "$out" >"$dir/$1"
	out=
}
obj() { echo $(($1 - 1)); }

# 01: u64 keys, every operation and return code on a few keys.
bytes $LOG2_1 1
bytes $PUT 1 11 $GET 1 $INSERT 1 12 $REPLACE 1 13 $CAS 1 1 14 $CAS 1 20 15
bytes $GET 1 $DELETE 1 $GET 1 $DELETE 1 $REPLACE 1 3 $CAS 1 1 3 $INSERT 2 22
bytes $PUT 0 1 $PUT 223 2 $COUNT $STATS $ITERATE
for s in 224 225 226 227 228 229 230 231; do bytes $PUT $s $((s - 220)); done
bytes $ITERATE $((GET + NULLOUT)) 226 $((PUT + NULLOUT)) 226 9 $((DELETE + NULLOUT)) 229
bytes $FOREACH_STOP 3 $FOREACH_STOP 200 $COUNT
file 01-u64-ops

# 02: one table of 2 buckets, no policy: long overflow chains.
bytes $((LOG2_1 + NOPOLICY)) 2
bytes $BULK_PUT 0 64 $ITERATE $STATS
for k in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do bytes $PUT $k $k; done
bytes $BULK_DELETE 0 40 $ITERATE $STATS $MAINTAIN_ALL 0 $STATS $ITERATE
bytes $BULK_DELETE 0 64 $MAINTAIN_ALL 1 $STATS $ITERATE
file 02-u64-overflow

# 03: growth by the policy, then shrinking.
bytes $LOG2_1 3
bytes $BULK_PUT 1 64 $BULK_PUT 2 64 $BULK_PUT 3 64 $ITERATE $STATS
bytes $MAINTAIN 4 0 $GET 5 $BULK_DELETE 1 64 $BULK_DELETE 2 64 $MAINTAIN 1 0
bytes $ITERATE $MAINTAIN_ALL 1 $STATS $ITERATE $BULK_PUT 3 64 $ITERATE
file 03-u64-grow-shrink

# 04: byte-string keys of every length, with NUL bytes, the empty key and
# raw keys.
bytes $BYTES 4
for l in 0 1 2 3 4 5 6 7 8 9 10 11; do
	bytes $PUT "$(bkey 3 "$l")" "$l" $PUT "$(bkey 7 "$l")" $((l + 20))
done
bytes $ITERATE $GET "$(bkey 3 9)" $DELETE "$(bkey 3 9)" $GET "$(bkey 3 9)"
bytes $INSERT "$(bkey 7 11)" 1 $REPLACE "$(bkey 7 0)" 2 $CAS "$(bkey 7 0)" 1 3
bytes $PUT 192 5 0 0 0 0 0 9 $PUT 200 40 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 \
	19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 1
bytes $GET 192 5 0 0 0 0 0 $DELETE 192 5 0 0 0 0 0 $ITERATE $STATS
file 04-bytes-ops

# 05: max_key_len 16: longer keys are refused with -E2BIG.
bytes $((BYTES + SMALLKEY)) 5
for l in 6 7 8 9 10 11; do bytes $PUT "$(bkey 1 "$l")" 4 $GET "$(bkey 1 "$l")"; done
bytes $INSERT "$(bkey 2 8)" 1 $DELETE "$(bkey 2 9)" $CAS "$(bkey 2 10)" 0 1
bytes $PUT 255 17 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 1 $ITERATE
file 05-bytes-key-limit

# 06: an evacuation started by hand, operations between its steps.
bytes $((LOG2_3 + NOPOLICY)) 6
for k in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29; do
	bytes $PUT $k $((k % 64))
done
bytes $EVAC_START $GROW $EVAC_START $GROW $MAINTAIN 2 0
bytes $DELETE 3 $GET 3 $PUT 40 1 $GET 40 $REPLACE 5 9 $CAS 6 1 2 $STATS $ITERATE
bytes $MAINTAIN 1 0 $DELETE 7 $GET 7 $ITERATE $MAINTAIN_ALL 0 $ITERATE $STATS
bytes $EVAC_START $SAME $MAINTAIN 3 0 $DELETE 9 $GET 9 $MAINTAIN_ALL 0 $ITERATE
bytes $EVAC_START $SHRINK $DELETE 10 $GET 10 $MAINTAIN 1 0 $ITERATE $MAINTAIN_ALL 1
file 06-u64-evacuation

# 07: shrinks of byte-string maps, below the initial size too.
bytes $((BYTES + LOG2_1 + NOPOLICY)) 7
bytes $BULK_PUT 9 64 $EVAC_START $GROW $MAINTAIN_ALL 0 $EVAC_START $GROW $MAINTAIN 1 0
bytes $BULK_DELETE 9 50 $ITERATE $EVAC_START $SHRINK $MAINTAIN 1 0 $GET "$(bkey 0 3)"
bytes $ITERATE $MAINTAIN_ALL 1 $EVAC_START $SHRINK $MAINTAIN_ALL 0 $EVAC_START $SHRINK
bytes $MAINTAIN_ALL 0 $STATS $ITERATE $BULK_PUT 9 64 $ITERATE
file 07-bytes-shrink

# 08: clear in the middle of an evacuation and of an iteration.
bytes $((LOG2_2 + NOPOLICY)) 8
bytes $BULK_PUT 4 64 $EVAC_START $GROW $MAINTAIN 1 0 $ITER_BEGIN $ITER_STEP 5 $CLEAR
bytes $GET 4 $PUT 4 4 $ITER_STEP 0 $ITER_END $ITERATE $MAINTAIN_ALL 0 $STATS
bytes $BULK_PUT 4 30 $CLEAR $CLEAR $COUNT $ITERATE
file 08-u64-clear

# 09: a live iterator while keys come and go and the table grows.
bytes $LOG2_1 9
for k in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19; do bytes $PUT $k $k; done
bytes $ITER_BEGIN $ITER_STEP 3 $DELETE 1 $DELETE 2 $PUT 100 5 $REPLACE 3 30 $ITER_STEP 4
bytes $EVAC_START $GROW $MAINTAIN 1 0 $ITER_STEP 2 $BULK_PUT 7 64 $ITER_STEP 10
bytes $MAINTAIN_ALL 0 $DELETE 4 $PUT 4 44 $ITER_STEP 0 $ITER_STEP 1 $ITER_END
bytes $ITER_BEGIN $ITER_STEP 2 $RECREATE 0 $PUT 1 1 $ITERATE
file 09-u64-iter-live

# 10: the same with byte-string keys and a shrink.
bytes $((BYTES + LOG2_1)) 10
bytes $BULK_PUT 5 64 $BULK_PUT 6 64 $MAINTAIN_ALL 0 $ITER_BEGIN $ITER_STEP 7
bytes $BULK_DELETE 5 64 $MAINTAIN 2 1 $ITER_STEP 9 $PUT "$(bkey 5 11)" 3 $MAINTAIN 2 1
bytes $ITER_STEP 0 $ITER_END $ITERATE $MAINTAIN_ALL 1 $ITERATE
file 10-bytes-iter-live

# 11: allocation failures (u64): overflow buckets, tables, iterators.
bytes $((LOG2_1 + NOPOLICY + FAULTY)) 11
bytes $BULK_PUT 0 16 $FAIL_ALLOC 0 $PUT 100 1 $GET 100 $FAIL_ALLOC 0 $PUT 101 1
bytes $FAIL_ALLOC 0 $CLEAR $FAIL_ALLOC 1 $CLEAR $BULK_PUT 0 40 $FAIL_ALLOC 0 $ITERATE
bytes $FAIL_ALLOC 1 $ITERATE $FAIL_ALLOC 0 $EVAC_START $GROW $FAIL_ALLOC 1 $EVAC_START $GROW
bytes $FAIL_ALLOC 0 $MAINTAIN 1 0 $FAIL_ALLOC 1 $MAINTAIN_ALL 0 $FAIL_ALLOC 0 $ITER_BEGIN
bytes $ITER_BEGIN $FAIL_ALLOC 0 $ITER_STEP 0 $ITER_END $STATS
file 11-u64-alloc-failures

# 12: allocation failures (byte strings): key copies.
bytes $((BYTES + FAULTY)) 12
bytes $FAIL_ALLOC 0 $PUT "$(bkey 1 5)" 1 $GET "$(bkey 1 5)" $FAIL_ALLOC 0
bytes $INSERT "$(bkey 1 5)" 2 $FAIL_ALLOC 0 $PUT "$(bkey 2 0)" 3 $PUT "$(bkey 2 0)" 3
bytes $FAIL_ALLOC 0 $REPLACE "$(bkey 2 0)" 4 $FAIL_ALLOC 0 $DELETE "$(bkey 2 0)"
bytes $FAIL_ALLOC 2 $BULK_PUT 1 64 $FAIL_ALLOC 5 $BULK_PUT 2 64 $ITERATE $STATS
bytes $FAIL_ALLOC 3 $RECREATE $((BYTES + FAULTY)) $FAIL_ALLOC 0 $PUT 1 1 $ITERATE
file 12-bytes-alloc-failures

# 13: the collector: collected and surviving objects, finalizers that
# unregister, do nothing, or have none.
bytes $GC 13
bytes $GC_REGISTER "$(obj 1)" $((FIN_UNREG + STORE)) 1
bytes $GC_REGISTER "$(obj 2)" $FIN_UNREG 2 $GC_REGISTER "$(obj 3)" $FIN_NOTHING 3
bytes $GC_REGISTER "$(obj 4)" $NO_FIN 4 $GC_REGISTER "$(obj 4)" $FIN_UNREG 4 $STATS
bytes $GC_COLLECT $STATS $DELETE 1 $GC_COLLECT $GC_COLLECT $STATS
bytes $GC_REGISTER "$(obj 1)" $((FIN_NOTHING + STORE)) 7 $GC_UNREGISTER "$(obj 1)"
bytes $GC_UNREGISTER "$(obj 1)" $GC_COLLECT $STATS
file 13-gc-basic

# 14: children: chains, a cycle (never finalized), finalization order.
bytes $GC 14
bytes $GC_REGISTER "$(obj 1)" $((FIN_UNREG + STORE)) 1 $GC_REGISTER "$(obj 2)" $FIN_UNREG 0
bytes $GC_REGISTER "$(obj 3)" $FIN_UNREG 0 $GC_SET_CHILD "$(obj 1)" 2 $GC_SET_CHILD "$(obj 2)" 3
bytes $GC_REGISTER "$(obj 4)" $FIN_NOTHING 0 $GC_REGISTER "$(obj 5)" $FIN_NOTHING 0
bytes $GC_SET_CHILD "$(obj 4)" 5 $GC_SET_CHILD "$(obj 5)" 4
bytes $GC_REGISTER "$(obj 6)" $FIN_UNREG 0 $GC_REGISTER "$(obj 7)" $FIN_UNREG 0
bytes $GC_SET_CHILD "$(obj 6)" 7 $GC_REGISTER "$(obj 8)" $((FIN_UNREG + NO_TRACE)) 0
bytes $GC_REGISTER "$(obj 9)" $FIN_UNREG 0 $GC_SET_CHILD "$(obj 8)" 9
bytes $GC_COLLECT $GC_COLLECT $STATS $DELETE 1 $GC_COLLECT $GC_COLLECT $GC_COLLECT $STATS
file 14-gc-children

# 15: roots: counted, removed, unregistered while a root.
bytes $GC 15
bytes $GC_REGISTER "$(obj 1)" $FIN_UNREG 0 $GC_ROOT_ADD "$(obj 1)" $GC_ROOT_ADD "$(obj 1)"
bytes $GC_REGISTER "$(obj 2)" $FIN_NOTHING 0 $GC_ROOT_ADD "$(obj 2)" $GC_ROOT_ADD "$(obj 3)"
bytes $GC_COLLECT $STATS $GC_ROOT_REMOVE "$(obj 1)" $GC_COLLECT $GC_ROOT_REMOVE "$(obj 1)"
bytes $GC_ROOT_REMOVE "$(obj 1)" $GC_COLLECT $GC_UNREGISTER "$(obj 2)" $GC_ROOT_REMOVE "$(obj 2)"
bytes $GC_COLLECT $STATS
file 15-gc-roots

# 16: a cycle in steps while the mutator moves objects around (the write
# barrier), objects registered during the cycle, and before its sweep.
bytes $((GC + LOG2_1)) 16
for n in 1 2 3 4 5 6; do bytes $GC_REGISTER "$(obj $n)" $((FIN_NOTHING + STORE)) $n; done
bytes $GC_REGISTER "$(obj 7)" $FIN_UNREG 0 $GC_SET_CHILD "$(obj 1)" 7
bytes $GC_BEGIN $GC_STEP 2 $PUT 20 2 $DELETE 2 $REPLACE 3 4 $GC_SET_CHILD "$(obj 1)" 0
bytes $PUT 21 7 $GC_STEP 1 $GC_REGISTER "$(obj 8)" $((FIN_UNREG + STORE)) 8 $CAS 4 1 4 5
bytes $GC_STEP 255 $GC_REGISTER "$(obj 9)" $((FIN_UNREG + STORE)) 9 $GC_STEP 3 $GC_BEGIN
bytes $GC_FINISH $GC_RUN_FINALIZERS 0 $STATS $GC_FINISH $GC_COLLECT $STATS
file 16-gc-interleaved

# 17: finalizers that resurrect their object into the map.
bytes $((GC + BYTES)) 17
bytes $GC_REGISTER "$(obj 1)" $FIN_RESURRECT "$(bkey 4 5)" $GC_REGISTER "$(obj 2)" $FIN_RESURRECT 0
bytes $GC_COLLECT $GET "$(bkey 4 5)" $GC_COLLECT $DELETE "$(bkey 4 5)" $GC_COLLECT $STATS
file 17-gc-resurrect

# 18: detach (objects only in a detached map are collectable) and attach.
bytes $GC 18
bytes $GC_REGISTER "$(obj 1)" $((FIN_NOTHING + STORE)) 1 $GC_REGISTER "$(obj 2)" $FIN_NOTHING 0
bytes $PUT 2 2 $ATTACH_TOGGLE $GC_BEGIN $GC_FINISH $GC_RUN_FINALIZERS 1 $GC_RUN_FINALIZERS 0
bytes $ATTACH_TOGGLE $STATS $DELETE 1 $DELETE 2 $ATTACH_TOGGLE $STATS $GC_COLLECT
file 18-gc-detach

# 19: maps destroyed and re-created under a collector, with allocation
# failures during collector steps.
bytes $((GC + FAULTY)) 19
bytes $GC_REGISTER "$(obj 1)" $((FIN_UNREG + STORE)) 1 $GC_REGISTER "$(obj 2)" $((FIN_UNREG + STORE)) 2
bytes $BULK_PUT 0 40 $GC_BEGIN $FAIL_ALLOC 0 $GC_STEP 10 $GC_STEP 255 $GC_FINISH
bytes $RECREATE $((FAULTY + BYTES)) $GC_COLLECT $GC_RUN_FINALIZERS 0 $STATS
bytes $GC_REGISTER "$(obj 3)" $((FIN_NOTHING + STORE)) "$(bkey 1 2)" $GC_BEGIN $GC_FINISH
bytes $RECREATE 0 $GC_COLLECT $STATS
file 19-gc-recreate

# 20, 21: the write barrier's cases (also the no-barrier negative control):
# a child reachable only through an object the marker has shaded but not
# traced is moved into the map, behind the scan, and unlinked.
n=20
for k in 2 8; do
	bytes $GC 20
	bytes $GC_REGISTER "$(obj 1)" $((FIN_UNREG + STORE)) 1 $GC_REGISTER "$(obj 2)" $FIN_UNREG 0
	bytes $GC_SET_CHILD "$(obj 1)" 2 $GC_BEGIN $GC_STEP 3 $PUT $k 2 $GC_SET_CHILD "$(obj 1)" 0
	bytes $GC_FINISH $GC_RUN_FINALIZERS 0 $STATS $GC_COLLECT
	file "$n-gc-barrier-key$k"
	n=$((n + 1))
done

# 22: readers must follow the moved mark of an evacuated chain (also the
# skip-moved negative control): a key deleted after its chain moved.
bytes $((LOG2_3 + NOPOLICY)) 22
for k in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23; do bytes $PUT $k 1; done
bytes $EVAC_START $GROW $MAINTAIN 2 0
for k in 0 1 2 3 4 5 6; do bytes $DELETE $k $GET $k; done
bytes $ITERATE
file 22-u64-moved-chain

# 23: a byte-string map whose only key is the empty key, iterated (the
# iterator's key buffer is never allocated).
bytes $BYTES 23
bytes $PUT 0 1 $ITERATE $DELETE 0 $ITERATE
file 23-bytes-empty-key-iter

echo "make-corpus: $(ls "$dir" | wc -l) files in $dir"
