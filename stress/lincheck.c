/*
 * lincheck.c - linearizability checker: threads run get/put/insert/replace/
 * cas/delete on a few keys of a small map that ballast keys make grow and
 * shrink all the time; each operation's invocation and response are stamped
 * and every key's history is checked against a register (lincheck_model.h).
 * Prints its seed; exits 1 on a violation (see --expect-violation).
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
 */
#include "internal.h"
#include "lincheck_model.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
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
	enum lc_kinds kinds;
	bool skip_moved;
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

struct lc_worker {
	pthread_t tid;
	unsigned int id;
	struct lc_event *log; /* opts.ops checked events of the current round */
	uint64_t *seen; /* per key: the last value this thread saw (cas's expectation) */
	uint32_t seq; /* value sequence, never reset (values stay unique in a run) */
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
} R;

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

/* Operation mix, in percent: get, put, insert, replace, cas, delete. */
static const unsigned int lc_mix_pct[6] = { 30, 15, 15, 10, 15, 15 };

static void checked_op(struct lc_worker *w, uint64_t *rng, struct lc_event *e)
{
	uint64_t r = splitmix(rng);
	unsigned int key = (unsigned int)(r % R.o.keys), pct = (unsigned int)((r >> 32) % 100);
	enum lc_opcode op = LC_GET;
	void *out = NULL;
	int ret;

	/* Mostly the key of the current phase of the clock (32 ticks), which
	 * all threads agree on: their operations then meet on one key. */
	if ((r >> 24) % 4)
		key = (unsigned int)(lc_mix(__atomic_load_n(&lc_clock.now, __ATOMIC_RELAXED) >> 5) %
				     R.o.keys);
	for (unsigned int i = 0, acc = 0; i < 6; i++) {
		acc += lc_mix_pct[i];
		if (pct < acc) {
			op = (enum lc_opcode)i;
			break;
		}
	}
	memset(e, 0, sizeof(*e));
	e->op = (uint8_t)op;
	e->thread = (uint8_t)w->id;
	e->key = (uint16_t)key;
	if (op != LC_GET && op != LC_DELETE)
		e->arg = ((uint64_t)(w->id + 1) << 32) | ++w->seq;
	if (op == LC_CAS) {
		/* Mostly the last value seen (often current: the cas succeeds),
		 * sometimes a value nobody ever writes. */
		e->exp = w->seen[key];
		if (e->exp == LC_ABSENT || (r & 0xf) < 3)
			e->exp = 0xffffffff00000000ull | (r & 0xffff);
	}
	e->evac = evac_in_flight();
	e->inv = stamp();
	/* Now and then stretch the recorded interval around the call with a
	 * yield (the call happens inside it, so the history stays true): with
	 * more threads than free cores, this is how operations of different
	 * threads come to overlap. */
	if (R.o.stretch_every && (r >> 40) % R.o.stretch_every == 0)
		sched_yield();
	ret = map_op(op, key, (void *)(uintptr_t)e->arg, (void *)(uintptr_t)e->exp, &out);
	if (R.o.stretch_every && (r >> 52) % R.o.stretch_every == 0)
		sched_yield();
	e->resp = stamp();
	e->ret = ret;
	e->out = (uint64_t)(uintptr_t)out;
	if (!ret_ok(op, ret) && !w->failure[0])
		snprintf(w->failure, sizeof(w->failure),
			 "thread %u: op %d on key %u returned %d (%s)", w->id, (int)op, key, ret,
			 gcmap_strerror(ret));
	if (e->out != LC_ABSENT)
		w->seen[key] = e->out;
	if (e->arg != LC_ABSENT && ret >= 0) /* the write took effect */
		w->seen[key] = e->arg;
}

/* Ballast: this thread's keys, inserted in order then deleted in reverse. */
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
		if ((ret != 0 || out != (void *)(uintptr_t)(idx | 1)) && !w->failure[0])
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
		for (unsigned int i = 0; i < R.o.ops; i++) {
			checked_op(w, &rng, &w->log[i]);
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

/* ---------------------------------------------------------------------- */
/* Checking a round                                                       */

struct lc_totals {
	unsigned long rounds, key_histories, undecided, violations;
	unsigned long long ops, evac_ops, overlap_ops, configs;
	unsigned long grows, shrinks, rebuilds;
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

/* Check every key of the round just run. Return the number of violations. */
static unsigned long check_round(struct lc_search *s, struct lc_event *all, struct lc_event *red,
				 struct lc_totals *tot)
{
	unsigned int nthr = R.o.threads;
	unsigned long bad = 0;
	size_t n = 0;

	for (unsigned int k = 0; k < R.o.keys; k++) {
		size_t first = n;
		int r;

		/* Key k's operations, each thread's in program order. */
		for (unsigned int t = 0; t < nthr; t++)
			for (unsigned int i = 0; i < R.o.ops; i++)
				if (R.w[t].log[i].key == k)
					all[n++] = R.w[t].log[i];
		if (n == first)
			continue;
		tot->key_histories++;
		r = lc_check(s, all + first, n - first, nthr, LC_BUDGET);
		tot->configs += s->set_len;
		if (r < 0) {
			tot->undecided++;
			fprintf(stderr,
				"lincheck: round %lu key %u: search budget spent (%zu ops)\n",
				R.round, k, n - first);
		} else if (r == 0 && bad++ == 0) {
			report_violation(s, k, all + first, n - first, red);
		}
		/* Statistics: evacuations met, overlap on this key. */
		for (size_t i = first; i < n; i++)
			tot->evac_ops += all[i].evac;
		memcpy(red, all + first, (n - first) * sizeof(*red));
		qsort(red, n - first, sizeof(*red), cmp_inv);
		tot->overlap_ops += count_overlap(red, n - first, nthr);
	}
	tot->violations += bad;
	tot->ops += n;
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

			memset(e, 0, sizeof(*e));
			e->thread = (uint8_t)th;
			e->op = (uint8_t)(splitmix(rng) % 6);
			e->inv = now + splitmix(rng) % 3;
			e->resp = e->inv + 1 + splitmix(rng) % 8;
			now = e->resp + 1;
			if (e->op != LC_GET && e->op != LC_DELETE)
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
		default:
			e->ret = s0 ? 0 : -ENOENT;
			break;
		}
		e->out = s0;
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
		"  --u64, --bytes     only 64-bit / byte-string keys (default: alternate)\n"
		"  --skip-moved-check set GCMAP_TEST_SKIP_MOVED_CHECK (negative control)\n"
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
	enum { O_U64 = 256, O_BYTES, O_SKIP, O_EXPECT, O_SELF, O_INFO };
	static const struct option lo[] = {
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
	while ((c = getopt_long(argc, argv, "s:r:t:n:k:B:w:b:y:p:vh", lo, NULL)) != -1) {
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
			o->keys = (unsigned int)num_arg(optarg, "keys", 1, 65535);
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
	       "%u ballast keys (%u ops per checked op), %s keys%s%s\n",
	       R.o.seed, R.o.rounds, R.o.threads, R.o.ops, R.o.keys, R.o.ballast,
	       R.o.ballast_per_op,
	       R.o.kinds == KINDS_U64	? "u64" :
	       R.o.kinds == KINDS_BYTES ? "byte-string" :
					  "u64 and byte-string",
	       R.o.skip_moved ? ", SKIP_MOVED_CHECK (negative control)" : "",
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
		if (pthread_create(&R.w[t].tid, NULL, worker, &R.w[t]))
			die_rc("pthread_create", -EAGAIN);
	}

	t0 = now_s();
	for (R.round = 0; R.round < R.o.rounds; R.round++) {
		struct gcmap_options mo = { .size = sizeof(mo) };
		struct gcmap_stats st = { .size = sizeof(st) };
		uint64_t sr = R.o.seed ^ R.round;
		unsigned long bad;

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
		pthread_barrier_wait(&R.start);
		pthread_barrier_wait(&R.end);
		R.ready = 0;
		err = gcmap_stats(R.map, &st);
		if (err)
			die_rc("gcmap_stats", err);
		err = gcmap_destroy(R.map);
		if (err)
			die_rc("gcmap_destroy", err);
		R.map = NULL;
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
		if (failures || (bad && R.o.expect_violation) || (bad && !R.o.skip_moved))
			break;
	}
	R.stop = true;
	pthread_barrier_wait(&R.start);
	for (unsigned int t = 0; t < R.o.threads; t++) {
		pthread_join(R.w[t].tid, NULL);
		free(R.w[t].log);
		free(R.w[t].seen);
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
		if (tot.violations) {
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
	if (tot.violations || tot.undecided) {
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
	printf("lincheck: passed\n");
	return 0;
}
