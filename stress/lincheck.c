/*
 * lincheck.c - linearizability checker: threads run get/put/insert/replace/
 * cas/delete/clear on a few keys of a small map that ballast keys make grow
 * and shrink all the time, in half the rounds with a collector marking and
 * finalizing the values; each operation's invocation and response are
 * stamped and every key's history is checked against a register
 * (lincheck_model.h). Prints its seed; exits 1 on a violation.
 *
 * Design
 * ------
 * A round is one history: a new map (8 buckets by default), T threads
 * released together (barrier, then a spinning start line), each doing -n
 * checked operations on -k keys. Values are unique per write,
 * (thread + 1) << 32 | sequence, never NULL: a read names the write it saw,
 * and NULL is "absent" in the model.
 *
 * Evacuations. Each thread owns -B/T ballast keys that it inserts and then
 * deletes in waves (-w ballast operations after each checked one), so the
 * load crosses the grow mark (6.5 per bucket) and the shrink mark (1.625)
 * again and again: about 10 grows and shrinks per round, through tables of
 * 8 to 256 buckets. Ballast runs only while no evacuation is in flight: the
 * ballast starts one, the checked writes then carry it (each moves at most
 * two units), so a good share of the checked operations (printed, about a
 * fifth) begins while chains are moved, frozen or in transit. The run fails
 * if there was less than one grow or shrink per round or none of the
 * checked operations met an evacuation. Ballast results are checked too:
 * on private keys every insert must succeed and every delete find its value.
 *
 * Overlap. Two means, both printed as "overlapped another thread's op on
 * their key": most operations pick the key of the current phase of the
 * clock (it changes every 32 stamps), so threads meet on one key at a time;
 * and with more threads than free cores (2 cores here, often shared) a
 * thread runs a whole round inside one time slice, so now and then a
 * worker yields between operations (-y) or inside a recorded interval
 * (-p: between the invocation stamp and the call, or between the return
 * and the response stamp). A stretched interval still contains the call,
 * so the history stays true; it only gives the checker more freedom.
 *
 * Timestamps: a relaxed fetch_add on one shared counter, just before the
 * call and just after its return. Relaxed: it adds no acquire/release edge
 * between the threads, so ThreadSanitizer sees only the map's own
 * synchronisation (a seq_cst or acq_rel counter would order the threads'
 * map operations for TSan and hide races). The increments are still totally
 * ordered, and on x86-64 a locked RMW is a full barrier: a response stamp
 * below an invocation stamp means the first call returned, its stores
 * drained, before the second call began. rdtsc is not used: it does not
 * wait for earlier stores to drain. Elsewhere, a fence brackets each stamp
 * (outside TSan, which rejects fences).
 *
 * Clear (-c, 1 checked op in 1000 by default). gcmap_clear() acts on every
 * key, so it is recorded once (key LC_KEY_ALL) and copied, with its own
 * stamps, into every key's history (key_history()), where the register
 * model makes it "set to absent, return 0". Each key's search treats its
 * copy as an operation of its own, so every key may place the clear at a
 * different point of its interval: the per-key projection is a necessary
 * condition for clear's atomicity, not a sufficient one. It catches a get,
 * put, delete... that returns a value written before a clear that had
 * completed, or a key that comes back after a clear (absent, then the old
 * value), in each key alone; it does not catch a clear that empties the
 * keys one at a time within its interval (thread 0 writes A then B, a
 * clear overlaps both, and afterwards A holds its value and B is absent:
 * every key alone is linearizable). That needs a multi-key search; the
 * clear's single table swap (lib/map.c) makes such a split impossible by
 * construction, and check_concurrent's clear tests cover it.
 * Clears also remove ballast keys: a ballast delete that finds its key
 * gone is excused (and counted) only if a clear began after the last one
 * that had completed before the key's insert was invoked; inserts must
 * still always succeed.
 *
 * Collector rounds (--gc[=N]: every round, or 1 pair of rounds in N; the
 * default 2 gives half the rounds, both key kinds). The map is attached to
 * a new collector domain; every written value is a new registered object
 * (struct lc_obj) that holds the value's unique id, and the history
 * records the id, so the check is unchanged. The object is registered and
 * stored inside one read-side section (gcmap.h's pattern), and whatever a
 * call hands out is read, id and state, inside the section the call ran
 * in. A marker thread runs cycles back to back (begin, steps of -S units,
 * finish, then the ready finalizers) while the workers run. The finalizer
 * marks the object FINALIZED and unregisters it; the objects are freed by
 * main after the round (so a finalized object a map still hands out is
 * seen as FINALIZED rather than as freed memory). Checked:
 *  - a value handed out inside a read-side section is never FINALIZED
 *    ("finalized while reachable"): it was in the map when the call
 *    linearized, so a correct collector cannot have run its finalizer
 *    (that waits for a grace period after the sweep);
 *  - no finalizer runs twice;
 *  - after the workers stop, every checked key's value is alive;
 *  - after gcmap_destroy(), at most 8 cycles finalize every object the
 *    round made (no leak) and the domain has no registered object left.
 * Moves (-m, 1 op in 4): as in gcstress, a delete of a random key and, in
 * the same read-side section, a write of the value it removed to another
 * key (two checked events; a moved value may come back to a key it was in,
 * which the register model handles: values need not be unique for it,
 * only for printing). A move from a chain the marker has not scanned to
 * one it has hides the object from the marker unless the write barrier
 * shades it. Printed: cycles, moves, the share of checked operations that
 * began while a cycle marked (the run fails below one cycle per round or
 * if none did), objects made and finalized.
 *
 * Checking: linearizability is local, so each key is checked alone as a
 * register (absent | value): a depth-first search that linearizes next any
 * operation invoked before the earliest pending response (Wing & Gong),
 * memoising visited configurations (Lowe). Each thread's operations on a
 * key are sequential, so a configuration is (per-thread prefix, register
 * state) and their number grows with the overlap, not as 2^n: histories of
 * about 1000 operations per key take about 1.1 configurations per operation
 * (printed), so rounds need not be split. --self-test checks the search on
 * hand-made histories and against brute force on 20000 random small ones.
 * A failing history is reduced before printing (lc_reduce(): the earliest
 * failing cut, the operations before the last quiescent point replaced by
 * the states they may end in, reads it does not need dropped).
 *
 * Negative control: --skip-moved-check sets GCMAP_TEST_SKIP_MOVED_CHECK, so
 * readers scan the frozen chains of a table being evacuated and miss writes
 * made in the new table. With --expect-violation the run stops at the first
 * violation and exits 0 (1 if none was found). Every write first moves its
 * own key's unit, so a checked key's chain freezes early in each evacuation
 * while the other units keep it in flight: the defaults report the stale
 * read in the first round (20 runs out of 20), without GCMAP_TEST_NO_HELP
 * or any other help.
 *
 * Negative control of the collector rounds: --no-barrier creates the
 * domains with GCMAP_GC_F_UNSAFE_NO_BARRIER (and a collector in every
 * round). A move can only lose an object that is older than the cycle
 * (objects registered during a cycle are born marked), so the defaults,
 * whose 4 hot keys are rewritten every few operations, almost never lose
 * one (no catch in 10 runs of 200 rounds). With -k 512 -B 0 -m 1 (values
 * live long, every op a move, a short map walk) the run reports a
 * finalized value handed out in 20 runs out of 20, within 134 rounds
 * (median 6; under TSan 10 of 10 within 9 rounds).
 */
#include "internal.h"
#include "lincheck_model.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define LC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LC_TSAN 1
#endif
#endif
#ifndef LC_TSAN
#define LC_TSAN 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define LC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LC_ASAN 1
#endif
#endif
#ifndef LC_ASAN
#define LC_ASAN 0
#endif

#define LC_BUDGET ((size_t)1 << 20) /* configurations per key history */
#define LC_BALLAST_BASE (1ull << 40) /* u64 ballast keys; checked keys are 0..k-1 */

/* Key kinds of a run: one of them, or alternating rounds. */
enum lc_kinds { KINDS_BOTH, KINDS_U64, KINDS_BYTES };

struct lc_opts {
	uint64_t seed;
	unsigned long rounds;
	unsigned int threads;
	unsigned int ops; /* checked operations per thread and round */
	unsigned int keys;
	unsigned int ballast; /* ballast keys in all */
	unsigned int ballast_per_op; /* ballast operations after each checked one */
	unsigned int log2; /* initial table size (0: the default, 8 buckets) */
	unsigned int yield_every; /* a worker yields every this many ops on average */
	unsigned int stretch_every; /* ... and inside an op's interval every this many */
	unsigned int clear_every; /* a checked op is a clear 1 time in this many (0: never) */
	unsigned int gc_every; /* collector in 1 pair of rounds in this many (0: never) */
	unsigned int move_every; /* collector rounds: 1 write in this many is a move */
	unsigned int gc_budget; /* gcmap_gc_step() budget of the marker */
	enum lc_kinds kinds;
	bool skip_moved;
	bool no_barrier; /* GCMAP_GC_F_UNSAFE_NO_BARRIER (negative control) */
	bool expect_violation;
	bool verbose;
};

/* ---------------------------------------------------------------------- */
/* Shared state of a round                                                */

/* The clock: alone on its cache line (see the file-top comment). */
static struct {
	uint64_t now;
	char pad[64 - sizeof(uint64_t)];
} lc_clock __attribute__((aligned(64)));

static inline uint64_t stamp(void)
{
	uint64_t t;

#if !defined(__x86_64__) && !defined(__i386__) && !LC_TSAN
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
	t = __atomic_fetch_add(&lc_clock.now, 1, __ATOMIC_RELAXED);
#if !defined(__x86_64__) && !defined(__i386__) && !LC_TSAN
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
	return t;
}

struct lc_obj;

struct lc_worker {
	pthread_t tid;
	unsigned int id;
	struct lc_event *log; /* opts.ops checked events of the current round */
	uint64_t *seen; /* per key: the last value this thread saw (cas's expectation) */
	void **seen_ptr; /* ... as the map holds it (the object in collector rounds) */
	uint64_t *bal_done; /* per ballast key: clears completed before its insert */
	uint32_t seq; /* value sequence, never reset (values stay unique in a run) */
	struct lc_obj **objs; /* objects this thread made in the current round */
	size_t nobjs, objs_cap;
	unsigned long clears, moves, bal_deletes, bal_cleared; /* this round */
	char failure[256]; /* a ballast or API failure, reported by main */
};

/* Written by main before the start barrier, read by workers after it. */
static struct {
	struct lc_opts o;
	struct gcmap *map;
	enum gcmap_key_kind kind;
	unsigned long round;
	bool stop;
	unsigned int ready; /* workers spinning at the start line (relaxed) */
	pthread_barrier_t start, end;
	struct lc_worker *w;
	/* Collector rounds (R.gc_round): the domain the map is attached to
	 * and its marker thread. */
	bool gc_round;
	struct gcmap_gc *gc;
	pthread_t marker;
	unsigned int marker_stop; /* main -> marker (relaxed: a flag, no data) */
	unsigned int marking; /* 1 while the marker's cycle marks (relaxed, statistics) */
	unsigned long cycles; /* completed by the marker this round (relaxed) */
	unsigned long finalized; /* finalizers run this round (relaxed) */
	/* Clears begun and completed (relaxed): the ballast's excuse for a
	 * delete that finds its key gone (ballast_op()). */
	unsigned long clears_begun, clears_done;
} R;

/* Collector violations and errors, from any thread (finalizers run on the
 * marker or on main). */
static pthread_mutex_t lc_note_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long lc_gc_bad, lc_gc_err; /* under lc_note_lock */
static char lc_gc_first[320]; /* the first message of the round (under the lock) */

static void note_gc(bool violation, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_gc(bool violation, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&lc_note_lock);
	if (violation)
		lc_gc_bad++;
	else
		lc_gc_err++;
	if (!lc_gc_first[0]) {
		va_start(ap, fmt);
		vsnprintf(lc_gc_first, sizeof(lc_gc_first), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&lc_note_lock);
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Byte-string key @idx: "lc", 8 bytes of @idx, then idx % 7 filler bytes
 * (so lengths vary and keys hold NUL bytes). */
#define KEY_BUF 24
static size_t key_bytes(uint64_t idx, unsigned char *b)
{
	size_t n = 0;

	b[n++] = 'l';
	b[n++] = 'c';
	for (int i = 0; i < 8; i++)
		b[n++] = (unsigned char)(idx >> (8 * i));
	for (uint64_t i = 0; i < idx % 7; i++)
		b[n++] = (unsigned char)(0x5a ^ i);
	return n;
}

/* One map operation on key @idx of the round's map. */
static int map_op(enum lc_opcode op, uint64_t idx, void *arg, void *exp, void **out)
{
	struct gcmap *m = R.map;
	unsigned char b[KEY_BUF];
	size_t n;

	if (R.kind == GCMAP_KEY_U64) {
		switch (op) {
		case LC_GET:
			return gcmap_get_u64(m, idx, out);
		case LC_PUT:
			return gcmap_put_u64(m, idx, arg, out);
		case LC_INSERT:
			return gcmap_insert_u64(m, idx, arg, out);
		case LC_REPLACE:
			return gcmap_replace_u64(m, idx, arg, out);
		case LC_CAS:
			return gcmap_cas_u64(m, idx, exp, arg, out);
		case LC_DELETE:
		default:
			return gcmap_delete_u64(m, idx, out);
		}
	}
	n = key_bytes(idx, b);
	switch (op) {
	case LC_GET:
		return gcmap_get_bytes(m, b, n, out);
	case LC_PUT:
		return gcmap_put_bytes(m, b, n, arg, out);
	case LC_INSERT:
		return gcmap_insert_bytes(m, b, n, arg, out);
	case LC_REPLACE:
		return gcmap_replace_bytes(m, b, n, arg, out);
	case LC_CAS:
		return gcmap_cas_bytes(m, b, n, exp, arg, out);
	case LC_DELETE:
	default:
		return gcmap_delete_bytes(m, b, n, out);
	}
}

/*
 * Whether an evacuation is in flight (statistics only). The acquire load of
 * map->tbl is the one the operation that follows does itself (table_rcu()),
 * so it adds no ordering TSan would not see anyway; T->next is only tested
 * for NULL, relaxed.
 */
static bool evac_in_flight(void)
{
	const struct gcmap_table *tbl;
	bool r;

	gcmap_read_lock();
	tbl = __atomic_load_n(&R.map->tbl, __ATOMIC_ACQUIRE);
	r = __atomic_load_n(&tbl->next, __ATOMIC_RELAXED) != NULL;
	gcmap_read_unlock();
	return r;
}

static bool ret_ok(enum lc_opcode op, int ret)
{
	switch (op) {
	case LC_GET:
	case LC_REPLACE:
	case LC_DELETE:
		return ret == 0 || ret == -ENOENT;
	case LC_PUT:
		return ret == 0 || ret == 1;
	case LC_INSERT:
		return ret == 0 || ret == -EEXIST;
	case LC_CAS:
	default:
		return ret == 0 || ret == -ECANCELED || ret == -ENOENT;
	}
}

/* ---------------------------------------------------------------------- */
/* Values of collector rounds                                             */

/* A managed value: the id the history records (what a plain round stores
 * directly) and a state word that only the finalizer changes. */
#define LC_ALIVE 0x414c4956u /* "ALIV" */
#define LC_FINALIZED 0x46494e4cu /* "FINL" */
struct lc_obj {
	uint64_t id;
	uint32_t state;
};

/* The expectation of a cas that must fail: never stored, never registered. */
static struct lc_obj lc_never = { .id = 0xffffffff00000000ull, .state = LC_ALIVE };

/*
 * The finalizer: marks the object FINALIZED and unregisters it; it does not
 * free it. The objects of a round are freed by main after the round, once
 * no thread can hold one: a finalized object that a map still hands out
 * (the bug this mode looks for) is then seen as FINALIZED, not as freed
 * memory that a build without ASan could not tell from a live object.
 */
static void lc_finalize(void *obj, void *arg)
{
	struct lc_obj *o = obj;
	uint32_t old;
	int err;

	(void)arg;
	/* Release: pairs with the acquire in out_id(), so a thread that sees
	 * FINALIZED also sees why (and nothing else depends on it). */
	old = __atomic_exchange_n(&o->state, LC_FINALIZED, __ATOMIC_RELEASE);
	if (old != LC_ALIVE)
		note_gc(true, "round %lu: the finalizer of value 0x%" PRIx64 " ran twice", R.round,
			o->id);
	err = gcmap_gc_unregister(R.gc, o);
	if (err)
		note_gc(false, "gcmap_gc_unregister in a finalizer: %s", gcmap_strerror(err));
	__atomic_fetch_add(&R.finalized, 1, __ATOMIC_RELAXED);
}

/* The value to store for the write @id: @id itself, or in a collector round
 * a new registered object that holds it. Collector rounds: call inside the
 * read-side section that also stores it (gcmap.h's pattern: an object
 * registered outside a cycle is not marked, only the store shades it). */
static void *new_val(struct lc_worker *w, uint64_t id)
{
	struct lc_obj *o;
	int err;

	if (!R.gc_round)
		return (void *)(uintptr_t)id;
	o = lc_xrealloc(NULL, sizeof(*o));
	o->id = id;
	/* Relaxed: the finalizer's exchange is the only other access before
	 * the object is published; registration orders it. */
	__atomic_store_n(&o->state, LC_ALIVE, __ATOMIC_RELAXED);
	if (w->nobjs == w->objs_cap) {
		w->objs_cap = w->objs_cap ? 2 * w->objs_cap : 1024;
		w->objs = lc_xrealloc(w->objs, w->objs_cap * sizeof(*w->objs));
	}
	w->objs[w->nobjs++] = o;
	err = gcmap_gc_register(R.gc, o, lc_finalize, NULL, NULL);
	if (err && !w->failure[0])
		snprintf(w->failure, sizeof(w->failure), "thread %u: gcmap_gc_register: %s", w->id,
			 gcmap_strerror(err));
	return o;
}

/* The id of a value a map operation handed out (LC_ABSENT for none). In a
 * collector round, call inside the read-side section the operation ran in:
 * the object was reachable when the map returned it, so a correct
 * collector cannot have finalized it yet (its finalizer would wait for a
 * grace period that waits for this section). */
static uint64_t out_id(const void *v, enum lc_opcode op, uint64_t key)
{
	const struct lc_obj *o = v;

	if (!R.gc_round)
		return (uint64_t)(uintptr_t)v;
	if (!o)
		return LC_ABSENT;
	/* Acquire: pairs with the release exchange in lc_finalize(). */
	if (__atomic_load_n(&o->state, __ATOMIC_ACQUIRE) != LC_ALIVE)
		note_gc(true,
			"round %lu: op %d on key %" PRIu64 " handed out value 0x%" PRIx64
			" after its finalizer ran (finalized while reachable)",
			R.round, (int)op, key, o->id);
	return o->id;
}

/* ---------------------------------------------------------------------- */
/* Checked operations                                                     */

/* Operation mix, in percent: get, put, insert, replace, cas, delete. */
static const unsigned int lc_mix_pct[6] = { 30, 15, 15, 10, 15, 15 };

/* What checked_op() does: an operation of the mix, the take-out half of a
 * move (a delete) or its put-back half (a write of the taken value). */
enum lc_step { STEP_ANY, STEP_TAKE, STEP_PUT_BACK };

/* A checked clear: every key's history gets a copy (lc_in_key()). */
static void checked_clear(struct lc_worker *w, struct lc_event *e)
{
	int ret;

	e->op = LC_CLEAR;
	e->key = LC_KEY_ALL;
	/* Relaxed: counters, see ballast_op(); the map orders the clear. */
	__atomic_fetch_add(&R.clears_begun, 1, __ATOMIC_RELAXED);
	e->inv = stamp();
	ret = gcmap_clear(R.map);
	e->resp = stamp();
	__atomic_fetch_add(&R.clears_done, 1, __ATOMIC_RELAXED);
	e->ret = ret;
	w->clears++;
	if (ret && !w->failure[0])
		snprintf(w->failure, sizeof(w->failure), "thread %u: clear returned %d (%s)", w->id,
			 ret, gcmap_strerror(ret));
}

/*
 * One checked operation, recorded in @e. STEP_TAKE: a delete of a key picked
 * at random (not the key of the clock's phase, whose value is young: the
 * take-out should find values older than the cycle that marks); return the
 * value it removed (valid inside the caller's read-side section). STEP_PUT_BACK:
 * a write of @carry (id @carry_id; a new value if NULL) to a key other than
 * @avoid. Return NULL otherwise.
 */
static void *checked_op(struct lc_worker *w, uint64_t *rng, struct lc_event *e, enum lc_step how,
			unsigned int avoid, void *carry, uint64_t carry_id)
{
	uint64_t r = splitmix(rng);
	unsigned int key = (unsigned int)(r % R.o.keys), pct = (unsigned int)((r >> 32) % 100);
	enum lc_opcode op = LC_GET;
	void *out = NULL, *arg = NULL, *exp = NULL;
	int ret;

	memset(e, 0, sizeof(*e));
	e->thread = (uint8_t)w->id;
	if (how == STEP_ANY && R.o.clear_every && splitmix(rng) % R.o.clear_every == 0) {
		checked_clear(w, e);
		return NULL;
	}
	/* Mostly the key of the current phase of the clock (32 ticks), which
	 * all threads agree on: their operations then meet on one key. */
	if ((r >> 24) % 4 && how != STEP_TAKE)
		key = (unsigned int)(lc_mix(__atomic_load_n(&lc_clock.now, __ATOMIC_RELAXED) >> 5) %
				     R.o.keys);
	for (unsigned int i = 0, acc = 0; i < 6; i++) {
		acc += lc_mix_pct[i];
		if (pct < acc) {
			op = (enum lc_opcode)i;
			break;
		}
	}
	if (how == STEP_TAKE) {
		op = LC_DELETE;
	} else if (how == STEP_PUT_BACK) {
		if (op == LC_GET || op == LC_DELETE)
			op = LC_PUT;
		if (key == avoid && R.o.keys > 1)
			key = (key + 1) % R.o.keys;
	}
	e->op = (uint8_t)op;
	e->key = (uint16_t)key;
	if (op != LC_GET && op != LC_DELETE)
		e->arg = carry ? carry_id : ((uint64_t)(w->id + 1) << 32) | ++w->seq;
	if (op == LC_CAS) {
		/* Mostly the last value seen (often current: the cas succeeds),
		 * sometimes a value nobody ever writes. */
		e->exp = w->seen[key];
		exp = w->seen_ptr[key];
		if (e->exp == LC_ABSENT || (r & 0xf) < 3) {
			e->exp = R.gc_round ? lc_never.id : 0xffffffff00000000ull | (r & 0xffff);
			exp = R.gc_round ? (void *)&lc_never : (void *)(uintptr_t)e->exp;
		}
	}
	e->evac = evac_in_flight();
	if (R.gc_round) {
		e->marking = (uint8_t)__atomic_load_n(&R.marking, __ATOMIC_RELAXED);
		/* The section that covers registering and storing a new value
		 * and reading what the map handed out (out_id()). */
		gcmap_read_lock();
	}
	if (op != LC_GET && op != LC_DELETE)
		arg = carry ? carry : new_val(w, e->arg);
	e->inv = stamp();
	/* Now and then stretch the recorded interval around the call with a
	 * yield (the call happens inside it, so the history stays true): with
	 * more threads than free cores, this is how operations of different
	 * threads come to overlap. */
	if (R.o.stretch_every && (r >> 40) % R.o.stretch_every == 0)
		sched_yield();
	ret = map_op(op, key, arg, exp, &out);
	if (R.o.stretch_every && (r >> 52) % R.o.stretch_every == 0)
		sched_yield();
	e->resp = stamp();
	e->ret = ret;
	e->out = out_id(out, op, key);
	if (R.gc_round)
		gcmap_read_unlock();
	if (!ret_ok(op, ret) && !w->failure[0])
		snprintf(w->failure, sizeof(w->failure),
			 "thread %u: op %d on key %u returned %d (%s)", w->id, (int)op, key, ret,
			 gcmap_strerror(ret));
	if (e->out != LC_ABSENT) {
		w->seen[key] = e->out;
		w->seen_ptr[key] = out;
	}
	if (e->arg != LC_ABSENT && ret >= 0) { /* the write took effect */
		w->seen[key] = e->arg;
		w->seen_ptr[key] = arg;
	}
	return how == STEP_TAKE && ret == 0 ? out : NULL;
}

/* Ballast: this thread's keys, inserted in order then deleted in reverse.
 * A clear may remove them: a delete that finds its key gone is excused
 * (and counted) if a clear began after the last one that had completed
 * before the key's insert began; otherwise the entry was lost. */
struct ballast {
	uint64_t base;
	unsigned int n, fill;
	bool draining;
};

static void ballast_op(struct lc_worker *w, struct ballast *b)
{
	void *out = NULL;
	uint64_t idx;
	int ret;

	if (!b->n)
		return;
	if (!b->draining) {
		/* Relaxed: a clear that completed before this load completed
		 * before the insert (the load is sequenced before it). */
		w->bal_done[b->fill] = __atomic_load_n(&R.clears_done, __ATOMIC_RELAXED);
		idx = b->base + b->fill++;
		ret = map_op(LC_INSERT, idx, (void *)(uintptr_t)(idx | 1), NULL, &out);
		if (ret != 0 && !w->failure[0])
			snprintf(w->failure, sizeof(w->failure),
				 "thread %u: insert of its ballast key %" PRIu64
				 " returned %d (%s): the key was present",
				 w->id, idx, ret, gcmap_strerror(ret));
		if (b->fill == b->n)
			b->draining = true;
	} else {
		idx = b->base + --b->fill;
		ret = map_op(LC_DELETE, idx, NULL, NULL, &out);
		w->bal_deletes++;
		/* Relaxed: a clear that removed the key had counted itself as
		 * begun before swapping the table, and this delete saw the
		 * swap (the map's acquire of the table pointer). */
		if (ret == -ENOENT &&
		    __atomic_load_n(&R.clears_begun, __ATOMIC_RELAXED) > w->bal_done[b->fill])
			w->bal_cleared++;
		else if ((ret != 0 || out != (void *)(uintptr_t)(idx | 1)) && !w->failure[0])
			snprintf(w->failure, sizeof(w->failure),
				 "thread %u: delete of its ballast key %" PRIu64
				 " returned %d (%s), value %p: the entry was lost",
				 w->id, idx, ret, gcmap_strerror(ret), out);
		if (b->fill == 0)
			b->draining = false;
	}
}

static void *worker(void *arg)
{
	struct lc_worker *w = arg;
	int err = gcmap_thread_register();

	if (err) {
		fprintf(stderr, "lincheck: gcmap_thread_register: %s\n", gcmap_strerror(err));
		exit(2);
	}
	for (;;) {
		struct ballast b;
		uint64_t rng;

		pthread_barrier_wait(&R.start);
		if (R.stop)
			break;
		/* Start line: wait until every worker runs, so their operations
		 * overlap (the barrier alone wakes them one after another and a
		 * round can end before the last one is scheduled). Relaxed: the
		 * barrier already ordered the round's setup. */
		__atomic_fetch_add(&R.ready, 1, __ATOMIC_RELAXED);
		while (__atomic_load_n(&R.ready, __ATOMIC_RELAXED) < R.o.threads)
			sched_yield();
		rng = R.o.seed ^ (R.round * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)w->id << 56);
		b.n = R.o.ballast / R.o.threads;
		b.base = (R.kind == GCMAP_KEY_U64 ? LC_BALLAST_BASE : R.o.keys) +
			 (uint64_t)w->id * b.n;
		b.fill = 0;
		b.draining = false;
		memset(w->seen, 0, R.o.keys * sizeof(*w->seen));
		memset(w->seen_ptr, 0, R.o.keys * sizeof(*w->seen_ptr));
		w->clears = w->moves = w->bal_deletes = w->bal_cleared = 0;
		for (unsigned int i = 0; i < R.o.ops; i++) {
			if (R.gc_round && R.o.move_every && i + 1 < R.o.ops &&
			    splitmix(&rng) % R.o.move_every == 0) {
				/* A move, as in gcstress: take a value out of one
				 * key and store it into another, inside one
				 * read-side section. While a cycle marks, a move
				 * from a chain the marker has not scanned to one it
				 * has hides the object from it: only the write
				 * barrier keeps it alive. Two checked events. */
				void *v;

				gcmap_read_lock();
				v = checked_op(w, &rng, &w->log[i], STEP_TAKE, 0, NULL, 0);
				checked_op(w, &rng, &w->log[i + 1], STEP_PUT_BACK, w->log[i].key, v,
					   w->log[i].out);
				gcmap_read_unlock();
				w->moves += v != NULL;
				i++;
			} else {
				checked_op(w, &rng, &w->log[i], STEP_ANY, 0, NULL, 0);
			}
			/* Ballast only while no evacuation runs: the ballast starts
			 * them, the checked writes then carry them, so checked
			 * operations meet many chains moved, frozen or in transit. */
			if (!w->log[i].evac)
				for (unsigned int j = 0; j < R.o.ballast_per_op; j++)
					ballast_op(w, &b);
			/* More threads than cores: let the others in now and then. */
			if (R.o.yield_every && splitmix(&rng) % R.o.yield_every == 0)
				sched_yield();
		}
		pthread_barrier_wait(&R.end);
	}
	gcmap_thread_unregister();
	return NULL;
}

/*
 * The marker of a collector round: cycles back to back, driven in steps of
 * -S units, each followed by the ready finalizers, until main stops it.
 * Between two steps it yields if no checked operation was stamped since
 * the previous one (the workers are not running), so marking overlaps the
 * checked operations without one time slice per step.
 */
static void *marker(void *arg)
{
	uint64_t last = 0;
	int err = gcmap_thread_register();

	(void)arg;
	if (err) {
		note_gc(false, "marker: gcmap_thread_register: %s", gcmap_strerror(err));
		return NULL;
	}
	while (!__atomic_load_n(&R.marker_stop, __ATOMIC_RELAXED)) {
		err = gcmap_gc_begin(R.gc);
		if (err) {
			note_gc(false, "marker: gcmap_gc_begin: %s", gcmap_strerror(err));
			break;
		}
		/* Relaxed: statistics (which checked ops began while marking). */
		__atomic_store_n(&R.marking, 1, __ATOMIC_RELAXED);
		do {
			uint64_t now;

			err = gcmap_gc_step(R.gc, R.o.gc_budget);
			now = __atomic_load_n(&lc_clock.now, __ATOMIC_RELAXED);
			if (now == last)
				sched_yield();
			last = now;
		} while (err == 1);
		__atomic_store_n(&R.marking, 0, __ATOMIC_RELAXED);
		if (err == 0)
			err = gcmap_gc_finish(R.gc);
		if (err >= 0)
			err = gcmap_gc_run_finalizers(R.gc, 0);
		if (err < 0) {
			note_gc(false, "marker: cycle failed: %s", gcmap_strerror(err));
			break;
		}
		__atomic_fetch_add(&R.cycles, 1, __ATOMIC_RELAXED);
	}
	gcmap_thread_unregister();
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Checking a round                                                       */

struct lc_totals {
	unsigned long rounds, key_histories, undecided, violations;
	unsigned long long ops, evac_ops, overlap_ops, configs;
	unsigned long grows, shrinks, rebuilds;
	unsigned long clears, bal_deletes, bal_cleared;
	/* collector rounds */
	unsigned long gc_rounds, cycles, moves, gc_violations, gc_errors, leaked;
	unsigned long long objects, finalized, finalized_during, gc_ops, marking_ops;
};

/* Operations of a key invoked while another thread's operation on the same
 * key was in flight. @ev is sorted by invocation. */
static unsigned long count_overlap(const struct lc_event *ev, size_t n, unsigned int nthr)
{
	uint64_t last_resp[LC_MAX_THREADS] = { 0 };
	unsigned long c = 0;

	for (size_t i = 0; i < n; i++) {
		for (unsigned int t = 0; t < nthr; t++) {
			if (t != ev[i].thread && last_resp[t] > ev[i].inv) {
				c++;
				break;
			}
		}
		last_resp[ev[i].thread] = ev[i].resp;
	}
	return c;
}

static int cmp_inv(const void *a, const void *b)
{
	return lc_cmp_inv(a, b);
}

/* Print the violation found in key @k's history @ev[0..@n), reduced. */
static void report_violation(struct lc_search *s, unsigned int k, const struct lc_event *ev,
			     size_t n, struct lc_event *red)
{
	uint64_t init[LC_MAX_ENDS];
	size_t m, ninit;

	printf("lincheck: VIOLATION in round %lu (%s keys), key %u: its history of %zu "
	       "operations is not linearizable.\n",
	       R.round, R.kind == GCMAP_KEY_U64 ? "u64" : "byte-string", k, n);
	m = lc_reduce(s, ev, n, R.o.threads, LC_BUDGET, red, init, &ninit);
	printf("  A failing sub-history of %zu operations (stamps relative; values are "
	       "t<thread>#<seq>; pending = still running at the cut),\n  from register state ",
	       m);
	lc_print_states(stdout, init, ninit);
	printf(":\n");
	lc_print_history(stdout, red, m);
	fflush(stdout);
}

/* Key @k's history from the threads' logs @log[t][0..@nlog): its own
 * operations and a copy of every clear, each thread's in program order.
 * Return the number of events written to @out. */
static size_t key_history(const struct lc_event *const *log, size_t nlog, unsigned int nthr,
			  unsigned int k, struct lc_event *out)
{
	size_t n = 0;

	for (unsigned int t = 0; t < nthr; t++)
		for (size_t i = 0; i < nlog; i++)
			if (lc_in_key(&log[t][i], k))
				out[n++] = log[t][i];
	return n;
}

/* Check every key of the round just run. Return the number of violations.
 * @all and @red have room for one key's history (threads x ops events:
 * each event is in a key's history at most once). */
static unsigned long check_round(struct lc_search *s, struct lc_event *all, struct lc_event *red,
				 struct lc_totals *tot)
{
	const struct lc_event *logs[LC_MAX_THREADS];
	unsigned int nthr = R.o.threads;
	unsigned long bad = 0;

	for (unsigned int t = 0; t < nthr; t++)
		logs[t] = R.w[t].log;
	for (unsigned int k = 0; k < R.o.keys; k++) {
		size_t n = key_history(logs, R.o.ops, nthr, k, all);
		int r;

		if (n == 0)
			continue;
		tot->key_histories++;
		r = lc_check(s, all, n, nthr, LC_BUDGET);
		tot->configs += s->set_len;
		if (r < 0) {
			tot->undecided++;
			fprintf(stderr,
				"lincheck: round %lu key %u: search budget spent (%zu ops)\n",
				R.round, k, n);
		} else if (r == 0 && bad++ == 0) {
			report_violation(s, k, all, n, red);
		}
		/* Statistics: evacuations and marking met, overlap on this key. */
		for (size_t i = 0; i < n; i++) {
			tot->evac_ops += all[i].evac;
			tot->marking_ops += all[i].marking;
		}
		if (R.gc_round)
			tot->gc_ops += n;
		memcpy(red, all, n * sizeof(*red));
		qsort(red, n, sizeof(*red), cmp_inv);
		tot->overlap_ops += count_overlap(red, n, nthr);
		tot->ops += n;
	}
	tot->violations += bad;
	return bad;
}

/* ---------------------------------------------------------------------- */
/* Self-test of the checker: hand-made histories with known answers.      */

#define V(t, s) (((uint64_t)(t) + 1) << 32 | (s))
#define EV(th, i, r, o, a, x, ou, rt)                                                      \
	{                                                                                  \
		.inv = (i), .resp = (r), .arg = (a), .exp = (x), .out = (ou), .ret = (rt), \
		.op = (o), .thread = (th)                                                  \
	}

/* Brute force: try every order that respects real time (tiny histories). */
static bool brute_rec(const struct lc_event *ev, size_t n, uint32_t used, uint32_t need,
		      uint64_t reg)
{
	if ((used & need) == need)
		return true;
	for (size_t i = 0; i < n; i++) {
		bool first = !(used & (1u << i));
		uint64_t ns;

		for (size_t j = 0; first && j < n; j++)
			if (j != i && !(used & (1u << j)) && ev[j].resp < ev[i].inv)
				first = false;
		if (first && lc_apply(&ev[i], reg, &ns) &&
		    brute_rec(ev, n, used | (1u << i), need, ns))
			return true;
	}
	return false;
}

static int brute_check(const struct lc_event *ev, size_t n)
{
	uint32_t need = 0;

	for (size_t i = 0; i < n; i++)
		if (ev[i].resp != LC_PENDING)
			need |= 1u << i;
	return brute_rec(ev, n, 0, need, LC_ABSENT);
}

/*
 * A random history of up to 3 threads x 3 operations: linearized at random
 * points inside the intervals (so linearizable), then, every other time,
 * one result changed (often not linearizable any more); sometimes a
 * thread's last operation is left pending, with or without its effect.
 */
static size_t random_history(uint64_t *rng, struct lc_event *ev)
{
	struct {
		double at;
		size_t i;
	} lp[9], t;
	uint64_t written[10] = { LC_ABSENT }, reg = LC_ABSENT;
	size_t n = 0, nw = 1;
	bool skip[9] = { false };

	for (unsigned int th = 0; th < 3; th++) {
		uint64_t now = splitmix(rng) % 4;
		unsigned int k = (unsigned int)(splitmix(rng) % 4);

		for (unsigned int j = 0; j < k; j++, n++) {
			struct lc_event *e = &ev[n];
			uint64_t x;

			memset(e, 0, sizeof(*e));
			e->thread = (uint8_t)th;
			/* 1 in 25 a clear, else the six others evenly. */
			x = splitmix(rng) % 25;
			e->op = (uint8_t)(x < 24 ? x % 6 : LC_CLEAR);
			e->inv = now + splitmix(rng) % 3;
			e->resp = e->inv + 1 + splitmix(rng) % 8;
			now = e->resp + 1;
			if (e->op != LC_GET && e->op != LC_DELETE && e->op != LC_CLEAR)
				e->arg = written[nw++] = V(th, j + 1);
			lp[n].at = (double)e->inv + 0.01 +
				   0.98 * (double)(splitmix(rng) % 1000) / 1000;
			lp[n].i = n;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (ev[i].op == LC_CAS)
			ev[i].exp = splitmix(rng) % 4 ? written[splitmix(rng) % nw] : V(7, 7);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && lp[j - 1].at > lp[j].at; j--) {
			t = lp[j];
			lp[j] = lp[j - 1];
			lp[j - 1] = t;
		}
	/* A thread's last operation may be pending; half of those never act. */
	for (size_t i = 0; i < n; i++)
		if ((i + 1 == n || ev[i + 1].thread != ev[i].thread) && splitmix(rng) % 5 == 0) {
			skip[i] = splitmix(rng) % 2;
			ev[i].resp = LC_PENDING;
		}
	for (size_t k = 0; k < n; k++) {
		struct lc_event *e = &ev[lp[k].i];
		uint64_t s0 = reg;

		if (skip[lp[k].i])
			continue;
		switch (e->op) {
		case LC_GET:
			e->ret = s0 ? 0 : -ENOENT;
			break;
		case LC_PUT:
			e->ret = s0 ? 0 : 1;
			break;
		case LC_INSERT:
			e->ret = s0 ? -EEXIST : 0;
			break;
		case LC_CAS:
			e->ret = !s0 ? -ENOENT : s0 == e->exp ? 0 : -ECANCELED;
			break;
		case LC_CLEAR:
			e->ret = 0;
			break;
		default:
			e->ret = s0 ? 0 : -ENOENT;
			break;
		}
		e->out = e->op == LC_CLEAR ? LC_ABSENT : s0;
		lc_apply(e, s0, &reg);
	}
	if (n && splitmix(rng) % 2) {
		struct lc_event *e = &ev[splitmix(rng) % n];

		if (splitmix(rng) % 2)
			e->out = written[splitmix(rng) % nw];
		else
			e->ret = e->ret ? 0 : e->op == LC_PUT ? 1 : -ENOENT;
	}
	return n;
}

static int self_test(void)
{
	static const struct lc_event seq_ok[] = {
		EV(0, 1, 2, LC_GET, 0, 0, 0, -ENOENT),
		EV(0, 3, 4, LC_PUT, V(0, 1), 0, 0, 1),
		EV(0, 5, 6, LC_INSERT, V(0, 2), 0, V(0, 1), -EEXIST),
		EV(0, 7, 8, LC_CAS, V(0, 3), V(0, 1), V(0, 1), 0),
		EV(0, 9, 10, LC_CAS, V(0, 4), V(0, 1), V(0, 3), -ECANCELED),
		EV(0, 11, 12, LC_REPLACE, V(0, 5), 0, V(0, 3), 0),
		EV(0, 13, 14, LC_DELETE, 0, 0, V(0, 5), 0),
		EV(0, 15, 16, LC_REPLACE, V(0, 6), 0, 0, -ENOENT),
		EV(0, 17, 18, LC_CAS, V(0, 6), V(0, 5), 0, -ENOENT),
		EV(0, 19, 20, LC_INSERT, V(0, 7), 0, 0, 0),
		EV(0, 21, 22, LC_GET, 0, 0, V(0, 7), 0),
	};
	/* A put concurrent with two gets that see old then new: fine. */
	static const struct lc_event conc_ok[] = {
		EV(0, 1, 2, LC_PUT, V(0, 1), 0, 0, 1), EV(0, 3, 20, LC_PUT, V(0, 2), 0, V(0, 1), 0),
		EV(1, 4, 5, LC_GET, 0, 0, V(0, 1), 0), EV(1, 6, 7, LC_GET, 0, 0, V(0, 2), 0),
		EV(2, 8, 9, LC_GET, 0, 0, V(0, 2), 0),
	};
	/* ... but new then old is not. */
	static const struct lc_event conc_bad[] = {
		EV(0, 1, 2, LC_PUT, V(0, 1), 0, 0, 1),
		EV(0, 3, 20, LC_PUT, V(0, 2), 0, V(0, 1), 0),
		EV(1, 4, 5, LC_GET, 0, 0, V(0, 2), 0),
		EV(2, 6, 7, LC_GET, 0, 0, V(0, 1), 0),
	};
	/* The stale read of a frozen chain: a get after a completed put. */
	static const struct lc_event stale[] = {
		EV(0, 1, 2, LC_PUT, V(0, 1), 0, 0, 1),
		EV(1, 3, 4, LC_GET, 0, 0, V(0, 1), 0),
		EV(0, 5, 6, LC_PUT, V(0, 2), 0, V(0, 1), 0),
		EV(2, 7, 8, LC_GET, 0, 0, V(0, 2), 0),
		EV(1, 9, 10, LC_GET, 0, 0, V(0, 1), 0),
		EV(2, 11, 12, LC_GET, 0, 0, V(0, 2), 0),
	};
	/* Two inserts of an absent key both succeeding. */
	static const struct lc_event two_inserts[] = {
		EV(0, 1, 10, LC_INSERT, V(0, 1), 0, 0, 0),
		EV(1, 2, 11, LC_INSERT, V(1, 1), 0, 0, 0),
	};
	/* A value nobody wrote. */
	static const struct lc_event phantom[] = {
		EV(0, 1, 2, LC_GET, 0, 0, V(3, 9), 0),
	};
	/* Deletes concurrent with each other: one succeeds, one must fail. */
	static const struct lc_event del_ok[] = {
		EV(0, 1, 2, LC_INSERT, V(0, 1), 0, 0, 0),
		EV(0, 3, 10, LC_DELETE, 0, 0, V(0, 1), 0),
		EV(1, 4, 9, LC_DELETE, 0, 0, 0, -ENOENT),
		EV(2, 5, 6, LC_GET, 0, 0, 0, -ENOENT),
	};
	/* Clear. A get after a completed clear that returns the value written
	 * before it: a violation. */
	static const struct lc_event clear_stale[] = {
		EV(0, 1, 2, LC_PUT, V(0, 1), 0, 0, 1),
		EV(1, 3, 4, LC_CLEAR, 0, 0, 0, 0),
		EV(2, 5, 6, LC_GET, 0, 0, V(0, 1), 0),
	};
	/* Gets overlapping a clear may see the old value, then absent. */
	static const struct lc_event clear_overlap[] = {
		EV(0, 1, 2, LC_PUT, V(0, 1), 0, 0, 1),	 EV(1, 3, 10, LC_CLEAR, 0, 0, 0, 0),
		EV(2, 4, 5, LC_GET, 0, 0, V(0, 1), 0),	 EV(2, 6, 7, LC_GET, 0, 0, 0, -ENOENT),
		EV(0, 11, 12, LC_GET, 0, 0, 0, -ENOENT),
	};
	/* ... but not absent, then the old value again. */
	static const struct lc_event clear_back[] = {
		EV(0, 1, 2, LC_PUT, V(0, 1), 0, 0, 1),
		EV(1, 3, 10, LC_CLEAR, 0, 0, 0, 0),
		EV(2, 4, 5, LC_GET, 0, 0, 0, -ENOENT),
		EV(2, 6, 7, LC_GET, 0, 0, V(0, 1), 0),
	};
	/* An insert overlapping a clear may be undone by it. */
	static const struct lc_event clear_insert[] = {
		EV(1, 1, 6, LC_CLEAR, 0, 0, 0, 0),
		EV(0, 2, 3, LC_INSERT, V(0, 1), 0, 0, 0),
		EV(2, 7, 8, LC_GET, 0, 0, 0, -ENOENT),
		EV(0, 9, 10, LC_INSERT, V(0, 2), 0, 0, 0),
	};
	/* A put after a completed clear that replaced the value before it. */
	static const struct lc_event clear_put_old[] = {
		EV(0, 1, 2, LC_PUT, V(0, 1), 0, 0, 1),
		EV(1, 3, 4, LC_CLEAR, 0, 0, 0, 0),
		EV(0, 5, 6, LC_PUT, V(0, 2), 0, V(0, 1), 0),
	};
	static const struct {
		const char *name;
		const struct lc_event *ev;
		size_t n;
		int want;
	} cases[] = {
		{ "sequential spec", seq_ok, sizeof(seq_ok) / sizeof(seq_ok[0]), 1 },
		{ "old then new during a put", conc_ok, sizeof(conc_ok) / sizeof(conc_ok[0]), 1 },
		{ "new then old during a put", conc_bad, sizeof(conc_bad) / sizeof(conc_bad[0]),
		  0 },
		{ "stale read after a put", stale, sizeof(stale) / sizeof(stale[0]), 0 },
		{ "two inserts succeed", two_inserts, 2, 0 },
		{ "a value nobody wrote", phantom, 1, 0 },
		{ "concurrent deletes", del_ok, sizeof(del_ok) / sizeof(del_ok[0]), 1 },
		{ "get after a clear sees old", clear_stale, 3, 0 },
		{ "gets during a clear", clear_overlap,
		  sizeof(clear_overlap) / sizeof(clear_overlap[0]), 1 },
		{ "during a clear: absent, old", clear_back, 4, 0 },
		{ "insert during a clear", clear_insert, 4, 1 },
		{ "put after a clear sees old", clear_put_old, 3, 0 },
	};
	struct lc_search s;
	struct lc_event red[16];
	int fails = 0;

	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = lc_check(&s, cases[i].ev, cases[i].n, 3, LC_BUDGET);

		printf("lincheck: self-test %-28s %s\n", cases[i].name,
		       r == cases[i].want ? "ok" : "WRONG");
		if (r != cases[i].want)
			fails++;
	}
	/* The projection of a two-key history: the clear is copied into both
	 * keys' histories; key 1 then sees a value written before it. */
	{
		struct lc_event t0[2] = { EV(0, 1, 2, LC_PUT, V(0, 1), 0, 0, 1),
					  EV(0, 3, 4, LC_PUT, V(0, 2), 0, 0, 1) };
		struct lc_event t1[2] = { EV(1, 5, 6, LC_CLEAR, 0, 0, 0, 0),
					  EV(1, 11, 12, LC_GET, 0, 0, 0, -ENOENT) };
		struct lc_event t2[2] = { EV(2, 7, 8, LC_GET, 0, 0, 0, -ENOENT),
					  EV(2, 9, 10, LC_GET, 0, 0, V(0, 2), 0) };
		const struct lc_event *logs[3] = { t0, t1, t2 };
		struct lc_event h0[6], h1[6];
		size_t n0, n1;
		int r0, r1;
		bool ok;

		t0[1].key = 1;
		t1[0].key = LC_KEY_ALL;
		t2[1].key = 1;
		n0 = key_history(logs, 2, 3, 0, h0);
		n1 = key_history(logs, 2, 3, 1, h1);
		r0 = lc_check(&s, h0, n0, 3, LC_BUDGET);
		r1 = lc_check(&s, h1, n1, 3, LC_BUDGET);
		ok = n0 == 4 && n1 == 3 && h0[1].op == LC_CLEAR && h1[1].op == LC_CLEAR &&
		     r0 == 1 && r1 == 0;
		printf("lincheck: self-test %-28s %s (key 0: %zu ops, %s; key 1: %zu ops, %s)\n",
		       "a clear in two keys", ok ? "ok" : "WRONG", n0,
		       r0 == 1 ? "linearizable" : "not", n1, r1 == 1 ? "linearizable" : "not");
		if (!ok)
			fails++;
	}
	/* The reduction of the stale read: from state t0#1, the second put
	 * and the stale get; nothing else. */
	{
		uint64_t init[LC_MAX_ENDS];
		size_t ninit;
		size_t m = lc_reduce(&s, stale, sizeof(stale) / sizeof(stale[0]), 3, LC_BUDGET, red,
				     init, &ninit);
		bool ok = m == 2 && ninit == 1 && init[0] == V(0, 1) && red[0].op == LC_PUT &&
			  red[1].op == LC_GET && red[1].out == V(0, 1) &&
			  lc_fails_from(&s, red, m, 3, LC_BUDGET, init, ninit);

		printf("lincheck: self-test %-28s %s (%zu ops)\n", "reduction of the stale read",
		       ok ? "ok" : "WRONG", m);
		if (!ok) {
			lc_print_states(stdout, init, ninit);
			printf("\n");
			lc_print_history(stdout, red, m);
			fails++;
		}
	}
	/* Memoisation: 4000 groups of four overlapping gets (any order fits),
	 * then a get of a value nobody wrote. Without the visited set the
	 * search would try 24^4000 orders before giving up. */
	{
		enum { T = 4, N = 4000 };
		struct lc_event *ev = calloc(T * N + 1, sizeof(*ev));
		int r;

		if (!ev)
			return 1;
		for (unsigned int i = 0; i < N; i++)
			for (unsigned int t = 0; t < T; t++) {
				struct lc_event *e = &ev[t * N + i];

				e->thread = (uint8_t)t;
				e->op = LC_GET;
				e->ret = -ENOENT;
				e->inv = (uint64_t)i * 2 * T + t;
				e->resp = (uint64_t)i * 2 * T + T + t;
			}
		ev[T * N] =
			(struct lc_event)EV(0, 2 * T * N, 2 * T * N + 1, LC_GET, 0, 0, V(3, 9), 0);
		r = lc_check(&s, ev, T * N + 1, T, LC_BUDGET);
		printf("lincheck: self-test %-28s %s (%zu configurations)\n", "memoised search",
		       r == 0 ? "ok" : "WRONG", s.set_len);
		if (r != 0)
			fails++;
		free(ev);
	}
	/* The search against brute force on random tiny histories. */
	{
		uint64_t rng = 42;
		unsigned long agree = 0, lin = 0, n = 20000;

		for (unsigned long i = 0; i < n; i++) {
			struct lc_event ev[9];
			size_t m = random_history(&rng, ev);
			int want = brute_check(ev, m), got = lc_check(&s, ev, m, 3, LC_BUDGET);

			lin += want;
			if (got == want)
				agree++;
			else if (agree == i) { /* the first disagreement */
				printf("lincheck: self-test: search says %d, brute force %d:\n",
				       got, want);
				lc_print_history(stdout, ev, m);
			}
		}
		printf("lincheck: self-test %-28s %s (%lu of %lu agree, %lu linearizable)\n",
		       "search = brute force", agree == n ? "ok" : "WRONG", agree, n, lin);
		if (agree != n)
			fails++;
	}
	lc_search_free(&s);
	printf("lincheck: self-test: %s\n", fails ? "FAILED" : "passed");
	return fails ? 1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Driver                                                                 */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lincheck [options]\n"
		"  -s SEED            seed of the operation choices (default: from the clock)\n"
		"  -r ROUNDS          histories (rounds) to run (default 5000)\n"
		"  -t THREADS         threads (default 4, at most %d)\n"
		"  -n OPS             checked operations per thread and round (default 1000)\n"
		"  -k KEYS            checked keys (default 4)\n"
		"  -B KEYS            ballast keys in all (default 1024)\n"
		"  -w N               ballast operations after each checked one outside\n"
		"                     evacuations (default 4)\n"
		"  -b LOG2            initial table of 2^LOG2 buckets (default 0: 8 buckets)\n"
		"  -y N               yield between ops every N ops on average (default 16; 0: never)\n"
		"  -p N               yield inside an op's interval every N ops (default 16; 0: never)\n"
		"  -c N               a checked op is a clear 1 time in N (default 1000; 0: never)\n"
		"  --gc[=N]           collector rounds: the map is attached to a collector domain,\n"
		"                     every value is a registered object, a marker thread runs\n"
		"                     cycles and finalizers; --gc: every round, --gc=N: 1 pair\n"
		"                     of rounds in N (default 2; 0: never)\n"
		"  -m N               collector rounds: 1 op in N is a move (a delete, then a\n"
		"                     write of the value it took out to another key; default 4)\n"
		"  -S N               the marker's gcmap_gc_step() budget (default 8)\n"

		"  --u64, --bytes     only 64-bit / byte-string keys (default: alternate)\n"
		"  --skip-moved-check set GCMAP_TEST_SKIP_MOVED_CHECK (negative control)\n"
		"  --no-barrier       GCMAP_GC_F_UNSAFE_NO_BARRIER, collector in every round\n"
		"                     (negative control)\n"
		"  --expect-violation stop at the first violation; exit 0 only if one was found\n"
		"  --self-test        check the checker on hand-made histories\n"
		"  --build-info       print the sanitizer this was built with (tsan, asan, none)\n"
		"  -v                 print every round\n",
		LC_MAX_THREADS);
}

static unsigned long num_arg(const char *s, const char *what, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v < min || v > max) {
		fprintf(stderr, "lincheck: bad %s '%s' (%lu..%lu)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static void parse(int argc, char **argv, struct lc_opts *o)
{
	enum { O_U64 = 256, O_BYTES, O_SKIP, O_EXPECT, O_SELF, O_INFO, O_GC, O_NOBARRIER };
	static const struct option lo[] = {
		{ "gc", optional_argument, NULL, O_GC },
		{ "no-barrier", no_argument, NULL, O_NOBARRIER },
		{ "u64", no_argument, NULL, O_U64 },
		{ "bytes", no_argument, NULL, O_BYTES },
		{ "skip-moved-check", no_argument, NULL, O_SKIP },
		{ "expect-violation", no_argument, NULL, O_EXPECT },
		{ "self-test", no_argument, NULL, O_SELF },
		{ "build-info", no_argument, NULL, O_INFO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct timespec ts;
	bool seeded = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->rounds = 5000;
	o->threads = 4;
	o->ops = 1000;
	o->keys = 4;
	o->ballast = 1024;
	o->ballast_per_op = 4;
	o->kinds = KINDS_BOTH;
	o->yield_every = 16;
	o->stretch_every = 16;
	o->clear_every = 1000;
	o->gc_every = 2;
	o->move_every = 4;
	o->gc_budget = 8;
	while ((c = getopt_long(argc, argv, "s:r:t:n:k:B:w:b:y:p:c:m:S:vh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'r':
			o->rounds = num_arg(optarg, "rounds", 1, 100000000);
			break;
		case 't':
			o->threads = (unsigned int)num_arg(optarg, "threads", 1, LC_MAX_THREADS);
			break;
		case 'n':
			o->ops = (unsigned int)num_arg(optarg, "ops", 1, LC_MAX_THREAD_OPS);
			break;
		case 'k':
			o->keys = (unsigned int)num_arg(optarg, "keys", 1, LC_KEY_ALL - 1);
			break;
		case 'B':
			o->ballast = (unsigned int)num_arg(optarg, "ballast keys", 0, 1u << 24);
			break;
		case 'w':
			o->ballast_per_op = (unsigned int)num_arg(optarg, "ballast ops", 0, 1000);
			break;
		case 'b':
			o->log2 = (unsigned int)num_arg(optarg, "log2 buckets", 0, 20);
			break;
		case 'y':
			o->yield_every = (unsigned int)num_arg(optarg, "yield period", 0, 1u << 30);
			break;
		case 'p':
			o->stretch_every =
				(unsigned int)num_arg(optarg, "stretch period", 0, 1u << 30);
			break;
		case 'c':
			o->clear_every = (unsigned int)num_arg(optarg, "clear period", 0, 1u << 30);
			break;
		case 'm':
			o->move_every = (unsigned int)num_arg(optarg, "move period", 0, 1u << 30);
			break;
		case 'S':
			o->gc_budget = (unsigned int)num_arg(optarg, "step budget", 1, 1u << 30);
			break;
		case O_GC:
			o->gc_every = optarg ? (unsigned int)num_arg(optarg, "collector period", 0,
								     1u << 30) :
					       1;
			break;
		case O_NOBARRIER:
			o->no_barrier = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case O_U64:
			o->kinds = KINDS_U64;
			break;
		case O_BYTES:
			o->kinds = KINDS_BYTES;
			break;
		case O_SKIP:
			o->skip_moved = true;
			break;
		case O_EXPECT:
			o->expect_violation = true;
			break;
		case O_SELF:
			exit(self_test());
		case O_INFO:
			printf("%s\n", LC_TSAN ? "tsan" : LC_ASAN ? "asan" : "none");
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
	if (o->no_barrier)
		o->gc_every = 1;
	if (!seeded) {
		clock_gettime(CLOCK_REALTIME, &ts);
		o->seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
			  ((uint64_t)getpid() << 32);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die_rc(const char *what, int err)
{
	fprintf(stderr, "lincheck: %s: %s\n", what, gcmap_strerror(err));
	exit(2);
}

/* A collector round: a domain for the map (created by main), and the marker. */
static void gc_round_begin(void)
{
	struct gcmap_gc_options go = { .size = sizeof(go) };
	int err;

	go.flags = R.o.no_barrier ? GCMAP_GC_F_UNSAFE_NO_BARRIER : 0;
	err = gcmap_gc_create(&go, &R.gc);
	if (err)
		die_rc("gcmap_gc_create", err);
	err = gcmap_gc_attach(R.gc, R.map);
	if (err)
		die_rc("gcmap_gc_attach", err);
	R.marker_stop = 0;
	R.cycles = 0;
	R.finalized = 0;
	if (pthread_create(&R.marker, NULL, marker, NULL))
		die_rc("pthread_create", -EAGAIN);
}

/* After the workers' last operation: stop the marker, then check that the
 * map holds no finalized value. */
static void gc_round_stop(struct lc_totals *tot)
{
	__atomic_store_n(&R.marker_stop, 1, __ATOMIC_RELAXED);
	pthread_join(R.marker, NULL);
	tot->cycles += R.cycles;
	tot->finalized_during += __atomic_load_n(&R.finalized, __ATOMIC_RELAXED);
	for (unsigned int k = 0; k < R.o.keys; k++) {
		void *v = NULL;

		gcmap_read_lock();
		if (map_op(LC_GET, k, NULL, NULL, &v) == 0)
			out_id(v, LC_GET, k);
		gcmap_read_unlock();
	}
}

/*
 * After gcmap_destroy(): nothing refers to the round's objects any more, so
 * a few cycles must finalize every one of them (the finalizers unregister
 * them too). Then the domain goes, and the objects are freed.
 */
static void gc_round_end(struct lc_totals *tot)
{
	struct gcmap_gc_stats gs = { .size = sizeof(gs) };
	size_t nobj = 0, alive = 0;
	int err;

	for (int pass = 0; pass < 8; pass++) {
		alive = 0;
		for (unsigned int t = 0; t < R.o.threads; t++)
			for (size_t i = 0; i < R.w[t].nobjs; i++)
				alive += __atomic_load_n(&R.w[t].objs[i]->state,
							 __ATOMIC_ACQUIRE) == LC_ALIVE;
		if (!alive)
			break;
		err = gcmap_gc_collect(R.gc);
		if (err >= 0)
			err = gcmap_gc_run_finalizers(R.gc, 0);
		if (err < 0)
			note_gc(false, "round %lu: draining the collector: %s", R.round,
				gcmap_strerror(err));
	}
	for (unsigned int t = 0; t < R.o.threads; t++)
		nobj += R.w[t].nobjs;
	if (alive)
		note_gc(true,
			"round %lu: %zu of the round's %zu objects were not finalized after the "
			"map was destroyed and 8 cycles ran (leak)",
			R.round, alive, nobj);
	err = gcmap_gc_stats(R.gc, &gs);
	if (err)
		die_rc("gcmap_gc_stats", err);
	if (gs.registered)
		note_gc(true, "round %lu: %zu objects still registered after every finalizer ran",
			R.round, gs.registered);
	err = gcmap_gc_destroy(R.gc);
	if (err)
		die_rc("gcmap_gc_destroy", err);
	R.gc = NULL;
	tot->gc_rounds++;
	tot->objects += nobj;
	tot->finalized += __atomic_load_n(&R.finalized, __ATOMIC_RELAXED);
	tot->leaked += alive;
	for (unsigned int t = 0; t < R.o.threads; t++) {
		for (size_t i = 0; i < R.w[t].nobjs; i++)
			free(R.w[t].objs[i]);
		R.w[t].nobjs = 0;
	}
}

/* The collector's violations and errors of the round; print the first.
 * Return the violations; errors go to *@failures. */
static unsigned long gc_round_notes(struct lc_totals *tot, unsigned long *failures)
{
	unsigned long bad, errs;

	pthread_mutex_lock(&lc_note_lock);
	bad = lc_gc_bad;
	errs = lc_gc_err;
	if (bad || errs)
		printf("lincheck: %s in round %lu (%s keys): %s (%lu violations, %lu errors "
		       "in this round)\n",
		       bad ? "COLLECTOR VIOLATION" : "FAILURE", R.round,
		       R.kind == GCMAP_KEY_U64 ? "u64" : "byte-string", lc_gc_first, bad, errs);
	lc_gc_bad = lc_gc_err = 0;
	lc_gc_first[0] = 0;
	pthread_mutex_unlock(&lc_note_lock);
	tot->gc_violations += bad;
	tot->gc_errors += errs;
	*failures += errs;
	return bad;
}

int main(int argc, char **argv)
{
	struct lc_totals tot;
	struct lc_search s;
	struct lc_event *all, *red;
	unsigned long failures = 0;
	double t0;
	int err;

	parse(argc, argv, &R.o);
	printf("lincheck: seed %" PRIu64 ", %lu rounds, %u threads x %u ops on %u keys, "
	       "%u ballast keys (%u ops per checked op), %s keys, clear 1 op in %u, collector "
	       "in 1 pair of rounds in %u (move 1 op in %u, step budget %u)%s%s%s\n",
	       R.o.seed, R.o.rounds, R.o.threads, R.o.ops, R.o.keys, R.o.ballast,
	       R.o.ballast_per_op,
	       R.o.kinds == KINDS_U64	? "u64" :
	       R.o.kinds == KINDS_BYTES ? "byte-string" :
					  "u64 and byte-string",
	       R.o.clear_every, R.o.gc_every, R.o.move_every, R.o.gc_budget,
	       R.o.skip_moved ? ", SKIP_MOVED_CHECK (negative control)" : "",
	       R.o.no_barrier ? ", collector barrier OFF (negative control)" : "",
	       LC_TSAN ? ", TSan build" : "");
	fflush(stdout);
	if (R.o.skip_moved)
		__atomic_store_n(&gcmap__test_flags, GCMAP_TEST_SKIP_MOVED_CHECK, __ATOMIC_RELAXED);

	err = gcmap_thread_register();
	if (err)
		die_rc("gcmap_thread_register", err);
	memset(&tot, 0, sizeof(tot));
	memset(&s, 0, sizeof(s));
	all = lc_xrealloc(NULL, (size_t)R.o.threads * R.o.ops * sizeof(*all));
	red = lc_xrealloc(NULL, (size_t)R.o.threads * R.o.ops * sizeof(*red));
	R.w = calloc(R.o.threads, sizeof(*R.w));
	if (!R.w)
		die_rc("calloc", -ENOMEM);
	pthread_barrier_init(&R.start, NULL, R.o.threads + 1);
	pthread_barrier_init(&R.end, NULL, R.o.threads + 1);
	for (unsigned int t = 0; t < R.o.threads; t++) {
		R.w[t].id = t;
		R.w[t].log = lc_xrealloc(NULL, R.o.ops * sizeof(struct lc_event));
		R.w[t].seen = lc_xrealloc(NULL, R.o.keys * sizeof(uint64_t));
		R.w[t].seen_ptr = lc_xrealloc(NULL, R.o.keys * sizeof(void *));
		R.w[t].bal_done =
			lc_xrealloc(NULL, (R.o.ballast / R.o.threads + 1) * sizeof(uint64_t));
		if (pthread_create(&R.w[t].tid, NULL, worker, &R.w[t]))
			die_rc("pthread_create", -EAGAIN);
	}

	t0 = now_s();
	for (R.round = 0; R.round < R.o.rounds; R.round++) {
		struct gcmap_options mo = { .size = sizeof(mo) };
		struct gcmap_stats st = { .size = sizeof(st) };
		uint64_t sr = R.o.seed ^ R.round;
		unsigned long bad, gcbad = 0;

		R.kind = R.o.kinds == KINDS_U64	  ? GCMAP_KEY_U64 :
			 R.o.kinds == KINDS_BYTES ? GCMAP_KEY_BYTES :
			 R.round % 2		  ? GCMAP_KEY_BYTES :
						    GCMAP_KEY_U64;
		mo.key_kind = R.kind;
		mo.log2_buckets = R.o.log2;
		mo.flags = GCMAP_F_FIXED_SEED;
		mo.seed[0] = splitmix(&sr);
		mo.seed[1] = splitmix(&sr);
		err = gcmap_create(&mo, &R.map);
		if (err)
			die_rc("gcmap_create", err);
		/* Collector rounds in pairs, so that both key kinds get them. */
		R.gc_round = R.o.gc_every && (R.round / 2) % R.o.gc_every == R.o.gc_every - 1;
		if (R.gc_round)
			gc_round_begin();
		pthread_barrier_wait(&R.start);
		pthread_barrier_wait(&R.end);
		R.ready = 0;
		if (R.gc_round)
			gc_round_stop(&tot);
		err = gcmap_stats(R.map, &st);
		if (err)
			die_rc("gcmap_stats", err);
		err = gcmap_destroy(R.map);
		if (err)
			die_rc("gcmap_destroy", err);
		R.map = NULL;
		if (R.gc_round) {
			gc_round_end(&tot);
			gcbad = gc_round_notes(&tot, &failures);
		}
		tot.rounds++;
		tot.grows += st.grows;
		tot.shrinks += st.shrinks;
		tot.rebuilds += st.rebuilds;
		for (unsigned int t = 0; t < R.o.threads; t++) {
			if (R.w[t].failure[0]) {
				printf("lincheck: FAILURE in round %lu: %s\n", R.round,
				       R.w[t].failure);
				R.w[t].failure[0] = 0;
				failures++;
			}
			tot.clears += R.w[t].clears;
			tot.moves += R.w[t].moves;
			tot.bal_deletes += R.w[t].bal_deletes;
			tot.bal_cleared += R.w[t].bal_cleared;
		}
		bad = check_round(&s, all, red, &tot);
		if (R.o.verbose) {
			printf("lincheck: round %lu: grows %lu shrinks %lu rebuilds %lu, %lu violations; thread spans",
			       R.round, st.grows, st.shrinks, st.rebuilds, bad);
			for (unsigned int t = 0; t < R.o.threads; t++)
				printf(" %" PRIu64 "-%" PRIu64, R.w[t].log[0].inv,
				       R.w[t].log[R.o.ops - 1].resp);
			printf("\n");
		}
		/* Negative controls go on to count, or stop at the first
		 * violation with --expect-violation; other runs stop at once. */
		if (failures || ((bad || gcbad) && R.o.expect_violation) ||
		    ((bad || gcbad) && !R.o.skip_moved && !R.o.no_barrier))
			break;
	}
	R.stop = true;
	pthread_barrier_wait(&R.start);
	for (unsigned int t = 0; t < R.o.threads; t++) {
		pthread_join(R.w[t].tid, NULL);
		free(R.w[t].log);
		free(R.w[t].seen);
		free(R.w[t].seen_ptr);
		free(R.w[t].bal_done);
		free(R.w[t].objs);
	}

	printf("lincheck: %lu histories (%lu key histories), %llu ops checked in %.1f s "
	       "(%.1f search configurations per op); %.0f%% of them overlapped another "
	       "thread's op on their key, %.0f%% began during an evacuation; grows %lu, "
	       "shrinks %lu, rebuilds %lu (%.1f evacuations per round); %lu violations",
	       tot.rounds, tot.key_histories, tot.ops, now_s() - t0,
	       tot.ops ? (double)tot.configs / (double)tot.ops : 0.0,
	       tot.ops ? 100.0 * (double)tot.overlap_ops / (double)tot.ops : 0.0,
	       tot.ops ? 100.0 * (double)tot.evac_ops / (double)tot.ops : 0.0, tot.grows,
	       tot.shrinks, tot.rebuilds,
	       (double)(tot.grows + tot.shrinks + tot.rebuilds) / (double)tot.rounds,
	       tot.violations);
	if (tot.undecided)
		printf(", %lu undecided", tot.undecided);
	printf("\n");
	printf("lincheck: clear: %lu clears checked (each in every key's history); %lu of %lu "
	       "ballast deletes found their key cleared (excused: a clear began after the "
	       "insert)\n",
	       tot.clears, tot.bal_cleared, tot.bal_deletes);
	if (tot.gc_rounds)
		printf("lincheck: collector: %lu rounds, %lu cycles, %lu moves, %.0f%% of their "
		       "checked ops began while marking; %llu objects, %llu finalized (%llu "
		       "during the rounds); %lu collector violations (finalized while reachable or twice, "
		       "leaks), %lu objects leaked\n",
		       tot.gc_rounds, tot.cycles, tot.moves,
		       tot.gc_ops ? 100.0 * (double)tot.marking_ops / (double)tot.gc_ops : 0.0,
		       tot.objects, tot.finalized, tot.finalized_during, tot.gc_violations,
		       tot.leaked);

	pthread_barrier_destroy(&R.start);
	pthread_barrier_destroy(&R.end);
	free(R.w);
	free(all);
	free(red);
	lc_search_free(&s);
	gcmap_barrier();
	gcmap_thread_unregister();

	if (failures) {
		printf("lincheck: FAILED: %lu ballast or API failures\n", failures);
		return 1;
	}
	if (R.o.expect_violation) {
		if (tot.violations || tot.gc_violations) {
			printf("lincheck: negative control caught (violation expected and found "
			       "in round %lu)\n",
			       tot.rounds - 1);
			return 0;
		}
		printf("lincheck: FAILED: a violation was expected and none was found in %lu "
		       "rounds\n",
		       tot.rounds);
		return 1;
	}
	if (tot.violations || tot.undecided || tot.gc_violations) {
		printf("lincheck: FAILED (seed %" PRIu64 ")\n", R.o.seed);
		return 1;
	}
	/* The checked operations must have overlapped evacuations, or nothing
	 * interesting was checked. */
	if (tot.rounds >= 10 && (tot.grows + tot.shrinks) < tot.rounds) {
		printf("lincheck: FAILED: fewer than one grow or shrink per round\n");
		return 1;
	}
	if (tot.rounds >= 10 && tot.evac_ops == 0) {
		printf("lincheck: FAILED: no checked operation began during an evacuation\n");
		return 1;
	}
	/* ... and collector rounds must have marked while they ran. */
	if (tot.gc_rounds >= 10 && (tot.marking_ops == 0 || tot.cycles < tot.gc_rounds)) {
		printf("lincheck: FAILED: no checked operation began while a cycle marked, or "
		       "fewer than one cycle per collector round\n");
		return 1;
	}
	printf("lincheck: passed\n");
	return 0;
}
