/*
 * check_evacuate.c - the incremental evacuation (grow, shrink, same-size
 * rebuild): growth to 1M keys and back, hysteresis, the per-operation work
 * bound, gcmap_maintain() and the background thread, each race of the move
 * protocol frozen at the library's pause points (with a negative control),
 * completion of evacuations under concurrent fills, allocation failures.
 */
#include "evac_util.h"

/* A cheap check for hot loops (ck_assert marks a point on every success). */
#define EV_CHECK(cond, ...)                        \
	do {                                       \
		if (!(cond))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

static void setup_registered(void)
{
	ck_assert_int_eq(gcmap_thread_register(), 0);
}

static void teardown_registered(void)
{
	ev_flags_set(0);
	pause_hook_remove();
	ck_assert_int_eq(gcmap_barrier(), 0);
	ck_assert_int_eq(gcmap_thread_unregister(), 0);
}

/* The value key number @i gets when first inserted. */
static void *first_val(uint64_t i)
{
	return val_of(i + 1);
}

static void fill(struct gcmap *m, int kind, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++) {
		int rc = k_put(m, kind, i, first_val(i), NULL);

		EV_CHECK(rc == 1, "put(%llu) returned %d (%s)", (unsigned long long)i, rc,
			 gcmap_strerror(rc));
	}
}

static void drain(struct gcmap *m, int kind, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++) {
		int rc = k_delete(m, kind, i, NULL);

		EV_CHECK(rc == 0, "delete(%llu) returned %d (%s)", (unsigned long long)i, rc,
			 gcmap_strerror(rc));
	}
}

static void expect_present(struct gcmap *m, int kind, uint64_t from, uint64_t to, const char *where)
{
	for (uint64_t i = from; i < to; i++) {
		void *v = NULL;
		int rc = k_get(m, kind, i, &v);

		EV_CHECK(rc == 0 && v == first_val(i), "%s: get(%llu) = %d, value %p, want %p",
			 where, (unsigned long long)i, rc, v, first_val(i));
	}
}

static void expect_absent(struct gcmap *m, int kind, uint64_t from, uint64_t to, const char *where)
{
	for (uint64_t i = from; i < to; i++) {
		int rc = k_get(m, kind, i, NULL);

		EV_CHECK(rc == -ENOENT, "%s: deleted key %llu: get = %d", where,
			 (unsigned long long)i, rc);
	}
}

/* The smallest log2 whose load stays at or under the grow threshold. */
static unsigned int fit_log2(uint64_t n)
{
	unsigned int l = 3;

	while (n * 8 > 52 * ((uint64_t)1 << l))
		l++;
	return l;
}

/* ---------------------------------------------------------------------- */
/* 1. Growth from 8 buckets to 1M keys, and back                          */

START_TEST(test_evacuate_grow_big_and_shrink_back)
{
	const int kind = _i;
	const uint64_t n = kind == GCMAP_KEY_U64 ? 1000000 / EV_SCALE : 200000 / EV_SCALE;
	const unsigned int want = fit_log2(n);
	struct gcmap *m, *fresh;
	struct gcmap_stats st, fst;

	fresh = make_map(kind, 0, NULL);
	fst = ev_stats(fresh);
	ck_assert_uint_eq(fst.log2_buckets, 3);
	m = make_map(kind, 0, NULL);

	fill(m, kind, 0, n);
	expect_present(m, kind, 0, n, "after the fill");
	st = ev_stats(m);
	ck_assert_uint_eq(st.entries, n);
	ck_assert_uint_gt(st.grows, 0);
	/* The last grow may still be in flight: its target counts. */
	ck_assert_msg((st.evacuating ? st.evac_target_log2 : st.log2_buckets) >= want,
		      "%llu keys in 2^%u buckets (evacuating %u to 2^%u), want 2^%u",
		      (unsigned long long)n, st.log2_buckets, st.evacuating, st.evac_target_log2,
		      want);
	CK_OK(gcmap__check_invariants(m)); /* an evacuation may be in flight */
	ev_maintain_all(m, 1u << 16, 0, 100);
	st = ev_stats(m);
	ck_assert_uint_eq(st.evacuating, 0);
	ck_assert_uint_ge(st.log2_buckets, want);
	ck_assert_uint_le(st.log2_buckets, want + 1);
	if (kind == GCMAP_KEY_U64 && EV_SCALE == 1)
		ck_assert_uint_ge(st.log2_buckets, 17);
	CK_OK(gcmap__check_invariants(m));
	expect_present(m, kind, 0, n, "after maintain");

	drain(m, kind, 0, n);
	ck_assert_uint_eq(ev_count(m), 0);
	expect_absent(m, kind, 0, n / 16, "after the drain");
	CK_OK(gcmap__check_invariants(m));
	ev_maintain_all(m, 1u << 16, 0, 1000);
	ev_maintain_all(m, 1u << 16, GCMAP_MAINTAIN_SHRINK_TO_FIT, 1000);
	CK_OK(gcmap_barrier());
	st = ev_stats(m);
	ck_assert_uint_eq(st.log2_buckets, 3);
	ck_assert_uint_eq(st.evacuating, 0);
	ck_assert_uint_gt(st.shrinks, 0);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.bytes_pending, 0);
	ck_assert_msg(st.bytes_allocated <= 2 * fst.bytes_allocated,
		      "empty map after shrinking holds %zu bytes; a fresh one %zu",
		      st.bytes_allocated, fst.bytes_allocated);
	CK_OK(gcmap__check_invariants(m));

	/* Still a working map. */
	fill(m, kind, 0, 1000);
	expect_present(m, kind, 0, 1000, "refill");
	ev_maintain_all(m, 1u << 16, 0, 100);
	CK_OK(gcmap__check_invariants(m));
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_destroy(fresh));
}
END_TEST

/* ---------------------------------------------------------------------- */
/* 2. Hysteresis                                                          */

#if GCMAP_TSAN_ON
#define HYST_LOG2 7
#define HYST_ROUNDS 20
#else
#define HYST_LOG2 10
#define HYST_ROUNDS 60
#endif

static unsigned long resizes(struct gcmap *m)
{
	struct gcmap_stats st = ev_stats(m);

	return st.grows + st.shrinks;
}

/*
 * A live window [*lo, *hi) of keys: shrink it by @d from below, then grow
 * it by @d from above, @rounds times; gcmap_maintain() after each half.
 */
static void oscillate(struct gcmap *m, int kind, uint64_t *lo, uint64_t *hi, uint64_t d,
		      unsigned int rounds)
{
	for (unsigned int r = 0; r < rounds; r++) {
		drain(m, kind, *lo, *lo + d);
		*lo += d;
		(void)gcmap_maintain(m, 64, 0);
		fill(m, kind, *hi, *hi + d);
		*hi += d;
		(void)gcmap_maintain(m, 64, 0);
	}
}

START_TEST(test_evacuate_hysteresis)
{
	const int kind = _i;
	/* The grow threshold of 2^HYST_LOG2 buckets: 6.5 per bucket. */
	const uint64_t thr = (13u << HYST_LOG2) / 2;
	const uint64_t d = thr * 6 / 100; /* 6% churn around it */
	const uint64_t shr = (13u << (HYST_LOG2 + 1)) / 8; /* shrink threshold of 2^(L+1) */
	uint64_t lo = 0, hi = thr + thr / 50;
	unsigned long base;
	struct gcmap *m = make_map(kind, 0, NULL);
	struct gcmap_stats st;

	/* Just above the threshold: the table grows once more. */
	fill(m, kind, lo, hi);
	ev_maintain_all(m, 1u << 16, 0, 100);
	st = ev_stats(m);
	ck_assert_uint_eq(st.log2_buckets, HYST_LOG2 + 1);
	ck_assert_uint_eq(st.shrinks, 0);
	base = st.grows + st.shrinks;

	/* Deletes and inserts of 6% going below and above that threshold. */
	oscillate(m, kind, &lo, &hi, d, HYST_ROUNDS);
	ev_maintain_all(m, 1u << 16, 0, 100);
	st = ev_stats(m);
	ck_assert_msg(st.grows + st.shrinks <= base + 1,
		      "churn around the grow threshold: %lu grows + shrinks, %lu before "
		      "(log2 now %u)",
		      st.grows + st.shrinks, base, st.log2_buckets);
	ck_assert_uint_eq(st.entries, hi - lo);
	expect_present(m, kind, lo, hi, "after churn at the grow threshold");

	/* Down to just under the shrink threshold of the bigger table: it
	 * shrinks once, and churn around that size flips it no more. */
	drain(m, kind, lo, hi - (shr - shr / 50));
	lo = hi - (shr - shr / 50);
	ev_maintain_all(m, 1u << 16, 0, 100);
	st = ev_stats(m);
	ck_assert_uint_eq(st.log2_buckets, HYST_LOG2);
	base = st.grows + st.shrinks;
	oscillate(m, kind, &lo, &hi, shr * 6 / 100, HYST_ROUNDS);
	ev_maintain_all(m, 1u << 16, 0, 100);
	st = ev_stats(m);
	ck_assert_msg(st.grows + st.shrinks <= base + 1,
		      "churn around the shrink threshold: %lu grows + shrinks, %lu before "
		      "(log2 now %u)",
		      st.grows + st.shrinks, base, st.log2_buckets);
	expect_present(m, kind, lo, hi, "after churn at the shrink threshold");
	CK_OK(gcmap__check_invariants(m));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/*
 * Keys that share one chain at every table size (possible with a known
 * seed): the low 12 bits of their hash are zero, so they all live in chain 0
 * of any table up to 4096 buckets.
 */
#define CLUSTER_KEYS 300

static void cluster_keys(struct gcmap *m, uint64_t *keys, unsigned int n)
{
	uint64_t idx = 0;

	for (unsigned int i = 0; i < n; i++) {
		while (gcmap__hash_u64(m, idx) & 0xfff)
			idx++;
		keys[i] = idx++;
	}
}

/* Put keys[from .. to-1]; returns the count at which the last grow began
 * (0 if none did). */
static unsigned int cluster_fill(struct gcmap *m, const uint64_t *keys, unsigned int from,
				 unsigned int to)
{
	struct gcmap_stats st = ev_stats(m);
	unsigned int size = st.evacuating ? st.evac_target_log2 : st.log2_buckets, at = 0;

	for (unsigned int i = from; i < to; i++) {
		unsigned int now;

		CK_RC(gcmap_put_u64(m, keys[i], first_val(keys[i]), NULL), 1);
		st = ev_stats(m);
		now = st.evacuating ? st.evac_target_log2 : st.log2_buckets;
		if (now > size)
			at = i + 1;
		size = now;
	}
	return at;
}

/*
 * Hysteresis with colliding keys: +-4 keys around the count at which the
 * table last grew must not flip its size. (A policy that grows early at
 * half the grow load because a chain is long lands exactly on the shrink
 * threshold of the doubled table, and flips.)
 */
START_TEST(test_evacuate_hysteresis_colliding_keys)
{
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	uint64_t keys[CLUSTER_KEYS];
	unsigned int n, at;
	unsigned long base, after;
	struct gcmap_stats st;

	cluster_keys(m, keys, CLUSTER_KEYS);
	at = cluster_fill(m, keys, 0, CLUSTER_KEYS);
	ck_assert_uint_gt(at, 0);
	for (n = CLUSTER_KEYS; n > at + 1;)
		CK_OK(gcmap_delete_u64(m, keys[--n], NULL));
	ev_maintain_all(m, 1u << 16, 0, 100);
	base = resizes(m);
	for (unsigned int r = 0; r < 20; r++) {
		for (unsigned int i = 0; i < 4; i++)
			CK_OK(gcmap_delete_u64(m, keys[--n], NULL));
		ev_maintain_all(m, 1u << 16, 0, 100);
		cluster_fill(m, keys, n, n + 4);
		n += 4;
		ev_maintain_all(m, 1u << 16, 0, 100);
	}
	after = resizes(m);
	st = ev_stats(m);
	ck_assert_msg(after <= base + 1,
		      "%u colliding keys (the last grow began at %u keys): +-4 keys caused %lu "
		      "grows + shrinks (log2 now %u)",
		      n, at, after - base, st.log2_buckets);
	for (unsigned int i = 0; i < n; i++) {
		void *v = NULL;

		CK_OK(gcmap_get_u64(m, keys[i], &v));
		ck_assert_ptr_eq(v, first_val(keys[i]));
	}
	CK_OK(gcmap__check_invariants(m));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/*
 * design.md: a same-size rebuild is started only when more than half of the
 * slots are holes left by churn, "never" for keys that collide in every
 * table size. Inserts alone leave no holes: no rebuild may start.
 */
START_TEST(test_evacuate_no_rebuild_thrash)
{
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	uint64_t keys[CLUSTER_KEYS];
	struct gcmap_stats st;

	cluster_keys(m, keys, CLUSTER_KEYS);
	cluster_fill(m, keys, 0, CLUSTER_KEYS);
	ev_maintain_all(m, 1u << 16, 0, 100);
	st = ev_stats(m);
	ck_assert_msg(st.rebuilds <= 1,
		      "%u inserts of colliding keys (one chain of %zu buckets, 2^%u buckets, %zu "
		      "overflow) started %lu same-size rebuilds, each moving the whole table",
		      CLUSTER_KEYS, st.longest_chain, st.log2_buckets, st.overflow_buckets,
		      st.rebuilds);
	CK_OK(gcmap__check_invariants(m));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/* ---------------------------------------------------------------------- */
/* 3. The work bound of helping                                           */

#if GCMAP_TSAN_ON
#define WORK_KEYS (1u << 12)
#else
#define WORK_KEYS (1u << 15)
#endif

struct work_arg {
	struct gcmap *m;
	int kind;
	uint64_t base;
	struct failrec *fr;
	pthread_barrier_t *go;
};

/* Grow: inserts with reads and replaces; shrink: deletes in a scattered
 * order with reads. Keys base .. base + WORK_KEYS - 1. */
static void *work_mix(void *arg)
{
	struct work_arg *a = arg;
	const uint64_t n = WORK_KEYS;

	worker_register(a->fr);
	if (a->go)
		pthread_barrier_wait(a->go);
	for (uint64_t i = 0; i < n && !failed(a->fr); i++) {
		uint64_t k = a->base + i;

		W_RC(a->fr, k_put(a->m, a->kind, k, first_val(k), NULL), 1);
		if (i % 4 == 3)
			W_RC(a->fr, k_get(a->m, a->kind, a->base + i / 2, NULL), 0);
		if (i % 8 == 7)
			W_RC(a->fr,
			     k_replace(a->m, a->kind, a->base + i / 3, first_val(a->base + i / 3),
				       NULL),
			     0);
	}
	for (uint64_t i = 0; i < n && !failed(a->fr); i++) {
		uint64_t k = a->base + ((i * 40503u) & (n - 1)); /* odd stride: a permutation */

		W_RC(a->fr, k_delete(a->m, a->kind, k, NULL), 0);
		if (i % 4 == 3)
			(void)k_get(a->m, a->kind, a->base + (i * 7 & (n - 1)), NULL);
	}
	worker_unregister(a->fr);
	return NULL;
}

/* _i: bit 0 two threads, bit 1 the key kind. */
START_TEST(test_evacuate_work_bound)
{
	const int kind = (_i >> 1) & 1, nthreads = 1 + (_i & 1);
	struct failrec fr = FAILREC_INIT;
	struct work_arg args[2];
	pthread_t t[2];
	pthread_barrier_t go;
	struct gcmap *m = make_map(kind, 0, NULL);
	struct gcmap_stats st;
	unsigned long moves, skips;

	__atomic_store_n(&gcmap__max_moves_per_op, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&gcmap__max_skips_per_op, 0, __ATOMIC_RELAXED);
	pthread_barrier_init(&go, NULL, (unsigned int)nthreads);
	for (int i = 0; i < nthreads; i++) {
		args[i].m = m;
		args[i].kind = kind;
		args[i].base = (uint64_t)i * 10 * WORK_KEYS;
		args[i].fr = &fr;
		args[i].go = &go;
		ck_assert_int_eq(pthread_create(&t[i], NULL, work_mix, &args[i]), 0);
	}
	for (int i = 0; i < nthreads; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&go);
	CK_NO_FAILURES(&fr);
	st = ev_stats(m);
	moves = __atomic_load_n(&gcmap__max_moves_per_op, __ATOMIC_RELAXED);
	skips = __atomic_load_n(&gcmap__max_skips_per_op, __ATOMIC_RELAXED);
	ck_assert_msg(st.grows > 0 && st.shrinks > 0, "no evacuation: %lu grows, %lu shrinks",
		      st.grows, st.shrinks);
	ck_assert_msg(moves >= 1, "writers never helped (max moves per operation %lu)", moves);
	ck_assert_msg(moves <= 2, "an operation moved %lu units (bound: 2)", moves);
	ck_assert_msg(skips <= 8, "an operation skipped %lu units (bound: HELP_SCAN = 8)", skips);
	ck_assert_uint_eq(st.entries, 0);
	ev_maintain_all(m, 1u << 16, 0, 100);
	CK_OK(gcmap__check_invariants(m));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/* ---------------------------------------------------------------------- */
/* 4. gcmap_maintain(), the background thread, shrink to fit              */

START_TEST(test_evacuate_maintain_budget)
{
	const int kind = _i;
	struct gcmap *m = make_map(kind, 0, NULL);
	struct gcmap_stats st, before;
	unsigned long grows0;
	unsigned int l0, calls;
	uint64_t n = 1500;
	int rc;

	fill(m, kind, 0, n);
	ev_maintain_all(m, 1u << 16, 0, 100);
	st = ev_stats(m);
	l0 = st.log2_buckets;
	grows0 = st.grows;

	/* Writers stop helping: insert until a grow starts; it stays unmoved. */
	ev_flags_or(GCMAP_TEST_NO_HELP);
	do {
		fill(m, kind, n, n + 1);
		n++;
		st = ev_stats(m);
		ck_assert_msg(n < 20000, "no grow started");
	} while (!st.evacuating);
	fill(m, kind, n, n + 50);
	n += 50;
	st = ev_stats(m);
	ck_assert_uint_eq(st.evacuating, 1);
	ck_assert_uint_eq(st.evac_target_log2, l0 + 1);
	ck_assert_uint_lt(st.evac_units_done, st.evac_units_total);
	ck_assert_uint_eq(st.grows, grows0);
	before = st;

	/* Reads alone never finish it (nor move anything). */
	for (int r = 0; r < 3; r++)
		expect_present(m, kind, 0, n, "read-only phase");
	sleep_ms(20);
	st = ev_stats(m);
	ck_assert_uint_eq(st.evacuating, 1);
	ck_assert_uint_eq(st.evac_units_done, before.evac_units_done);

	/* Small budgets: progress each call, never more than the budget. */
	for (calls = 0;; calls++) {
		unsigned int budget = 1 + calls % 5;

		ck_assert_uint_lt(calls, 10000);
		before = ev_stats(m);
		rc = gcmap_maintain(m, budget, 0);
		st = ev_stats(m);
		ck_assert_msg(rc >= 0, "maintain returned %d", rc);
		if (!st.evacuating) {
			ck_assert_uint_le(before.evac_units_total - before.evac_units_done, budget);
			ck_assert_int_eq(rc, 0);
			break;
		}
		ck_assert_uint_eq(st.grows, grows0);
		ck_assert_msg(st.evac_units_done > before.evac_units_done &&
				      st.evac_units_done - before.evac_units_done <= budget,
			      "maintain(budget %u) moved units %zu -> %zu", budget,
			      before.evac_units_done, st.evac_units_done);
		ck_assert_int_eq(rc, (int)(st.evac_units_total - st.evac_units_done));
		expect_present(m, kind, 0, n, "between maintain calls");
		CK_OK(gcmap__check_invariants(m));
	}
	ck_assert_uint_gt(calls, 8);
	st = ev_stats(m);
	ck_assert_uint_eq(st.evacuating, 0);
	ck_assert_uint_eq(st.grows, grows0 + 1);
	ck_assert_uint_eq(st.log2_buckets, l0 + 1);
	ck_assert_int_eq(gcmap_maintain(m, 16, 0), 0);
	expect_present(m, kind, 0, n, "after maintain");
	ck_assert_uint_eq(ev_count(m), n);
	CK_OK(gcmap__check_invariants(m));
	CK_OK(gcmap_destroy(m));
}
END_TEST

static int nr_threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static struct gcmap *make_bg_map(int kind)
{
	struct gcmap_options o;
	struct gcmap *m = NULL;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.key_kind = (enum gcmap_key_kind)kind;
	o.flags = GCMAP_F_FIXED_SEED | GCMAP_F_BACKGROUND;
	o.seed[0] = 7;
	o.seed[1] = 77;
	CK_OK(gcmap_create(&o, &m));
	return m;
}

START_TEST(test_evacuate_background_thread)
{
	const int kind = _i;
	const uint64_t n = 3000 / EV_SCALE;
	struct gcmap *bg, *plain;
	struct gcmap_stats st;
	int threads0, rc = -1;
	double t0, waited;

	/* Make liburcu start its call_rcu thread before counting threads. */
	CK_OK(gcmap_defer_free(malloc(16), NULL));
	CK_OK(gcmap_barrier());
	threads0 = nr_threads();
	ev_flags_or(GCMAP_TEST_NO_HELP);
	bg = make_bg_map(kind);
	ck_assert_int_eq(nr_threads(), threads0 + 1);
	plain = make_map(kind, 0, NULL); /* the control: no thread */
	fill(bg, kind, 0, n);
	fill(plain, kind, 0, n);

	/* Only reads and sleeps from now on. */
	t0 = now_s();
	for (;;) {
		expect_present(bg, kind, 0, n, "background map");
		rc = gcmap_maintain(bg, 0, 0); /* budget 0: only reports */
		if (rc == 0 || now_s() - t0 > 5.0)
			break;
		sleep_ms(5);
	}
	waited = now_s() - t0;
	st = ev_stats(bg);
	ck_assert_msg(rc == 0 && !st.evacuating,
		      "after %.1f s the background thread had not finished (maintain reports %d, "
		      "evacuating %u, %zu/%zu units)",
		      waited, rc, st.evacuating, st.evac_units_done, st.evac_units_total);
	ck_assert_uint_eq(st.log2_buckets, fit_log2(n));
	ck_assert_uint_ge(st.grows, fit_log2(n) - 3);
	CK_OK(gcmap__check_invariants(bg));

	/* Without the thread (and without helping) the same fill stays stuck. */
	sleep_ms(20);
	st = ev_stats(plain);
	ck_assert_uint_eq(st.evacuating, 1);
	ck_assert_uint_eq(st.evac_units_done, 0);
	ck_assert_uint_gt(gcmap_maintain(plain, 0, 0), 0);
	expect_present(plain, kind, 0, n, "control map");

	/* Destroy stops and joins the thread. */
	t0 = now_s();
	CK_OK(gcmap_destroy(bg));
	ck_assert_msg(now_s() - t0 < 2.0, "destroy took %.1f s", now_s() - t0);
	ck_assert_int_eq(nr_threads(), threads0);
	CK_OK(gcmap_destroy(plain));
}
END_TEST

START_TEST(test_evacuate_shrink_to_fit)
{
	const int kind = _i;
	const uint64_t n = 100000 / EV_SCALE, keep = n / 10;
	struct gcmap *m = make_map(kind, 0, NULL), *ref = make_map(kind, 0, NULL);
	struct gcmap_stats st, rst;

	fill(m, kind, 0, n);
	drain(m, kind, 0, n - keep);
	ev_maintain_all(m, 1u << 16, GCMAP_MAINTAIN_SHRINK_TO_FIT, 1000);
	fill(ref, kind, n - keep, n);
	ev_maintain_all(ref, 1u << 16, 0, 1000);
	CK_OK(gcmap_barrier());
	st = ev_stats(m);
	rst = ev_stats(ref);
	ck_assert_uint_gt(st.shrinks, 0);
	ck_assert_msg(st.log2_buckets == rst.log2_buckets,
		      "shrunk to fit: 2^%u buckets; a map filled with the same %llu keys: 2^%u",
		      st.log2_buckets, (unsigned long long)keep, rst.log2_buckets);
	ck_assert_uint_eq(st.bytes_pending, 0);
	ck_assert_msg(st.bytes_allocated * 10 <= rst.bytes_allocated * 13,
		      "shrunk to fit: %zu bytes; a map filled with the same keys: %zu",
		      st.bytes_allocated, rst.bytes_allocated);
	expect_present(m, kind, n - keep, n, "after shrink to fit");
	expect_absent(m, kind, 0, keep, "after shrink to fit");
	CK_OK(gcmap__check_invariants(m));
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_destroy(ref));
}
END_TEST

/* ---------------------------------------------------------------------- */
/* 5. The races of the move protocol, frozen at pause points              */

#define SC_KEYS 64
#define SC_MAX 1024

/*
 * A scenario: a map of SC_KEYS keys with automatic resizing and helping off,
 * an evacuation T -> N started by hand (grow 8 -> 16 buckets, or shrink
 * 16 -> 8), and the unit chosen for the race with two keys in it: @ka in
 * the chain selected by @sel (grow: destination chain u or u + |T|; shrink:
 * source chain u or u + |N|), @kb in the other one; @knew is absent, in
 * @ka's chain.
 */
struct scen {
	struct eva alloc;
	struct gcmap *m;
	int kind;
	bool shrink;
	int sel;
	struct gcmap_table *T, *N;
	uint64_t unit, ka, kb, knew;
	void *model[SC_MAX];
	struct failrec fr;
};

static void *old_val(uint64_t i)
{
	return val_of(((i + 1) << 8) | 0x11);
}

static void *new_val(uint64_t i)
{
	return val_of(((i + 1) << 8) | 0x22);
}

static void sc_start(struct scen *s, unsigned int log2)
{
	CK_OK(gcmap_read_lock());
	s->T = ev_tbl(s->m);
	CK_OK(gcmap__evac_start(s->m, s->T, log2));
	s->N = ev_next(s->T);
	CK_OK(gcmap_read_unlock());
	ck_assert_ptr_nonnull(s->N);
	ck_assert_uint_eq(s->N->log2, log2);
}

static void sc_move(struct scen *s, uint64_t u, int want)
{
	CK_OK(gcmap_read_lock());
	CK_RC(gcmap__evac_move_unit(s->m, s->T, s->N, u), want);
	CK_OK(gcmap_read_unlock());
}

/* Move every unit not moved yet: the evacuation completes, T is retired. */
static void sc_finish(struct scen *s)
{
	uint64_t units = gcmap__evac_units(s->T, s->N);

	CK_OK(gcmap_read_lock());
	for (uint64_t u = 0; u < units; u++)
		ck_assert_int_ge(gcmap__evac_move_unit(s->m, s->T, s->N, u), 0);
	CK_OK(gcmap_read_unlock());
	ck_assert_ptr_eq(ev_tbl(s->m), s->N);
}

static uint64_t sc_unit_of(const struct scen *s, uint64_t h)
{
	return h & (s->shrink ? s->N->mask : s->T->mask);
}

static int sc_class_of(const struct scen *s, uint64_t h)
{
	if (s->shrink)
		return (h & s->T->mask) > s->N->mask;
	return (h & s->N->mask) > s->T->mask;
}

static uint64_t sc_chain(const struct scen *s, const struct gcmap_table *t, uint64_t idx)
{
	return ev_hash(s->m, s->kind, idx) & t->mask;
}

static void sc_setup(struct scen *s, int kind, bool shrink, int sel)
{
	uint64_t first[16][2];

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->fr.lock, NULL);
	eva_init(&s->alloc);
	s->kind = kind;
	s->shrink = shrink;
	s->sel = sel;
	ev_flags_set(GCMAP_TEST_NO_POLICY | GCMAP_TEST_NO_HELP);
	pause_hook_install();
	s->m = make_map(kind, 3, &s->alloc.hooks);
	for (uint64_t i = 0; i < SC_KEYS; i++) {
		CK_RC(k_put(s->m, kind, i, old_val(i), NULL), 1);
		s->model[i] = old_val(i);
	}
	if (shrink) {
		sc_start(s, 4);
		sc_finish(s);
		sc_start(s, 3);
	} else {
		sc_start(s, 4);
	}
	/* The first unit with keys in both of its chains. */
	memset(first, 0xff, sizeof(first));
	for (uint64_t i = 0; i < SC_KEYS; i++) {
		uint64_t h = ev_hash(s->m, kind, i);
		uint64_t *f = &first[sc_unit_of(s, h)][sc_class_of(s, h)];

		if (*f == UINT64_MAX)
			*f = i;
	}
	for (s->unit = 0; s->unit < 8; s->unit++)
		if (first[s->unit][0] != UINT64_MAX && first[s->unit][1] != UINT64_MAX)
			break;
	ck_assert_uint_lt(s->unit, 8);
	s->ka = first[s->unit][sel];
	s->kb = first[s->unit][!sel];
	for (s->knew = SC_KEYS;; s->knew++) {
		uint64_t h = ev_hash(s->m, kind, s->knew);

		if (sc_unit_of(s, h) == s->unit && sc_class_of(s, h) == sel)
			break;
	}
	ck_assert_uint_lt(s->knew, SC_MAX);
}

/* Everything as the model says, count included; complete; destroy; no leak. */
static void sc_teardown(struct scen *s)
{
	size_t present = 0;
	struct gcmap_stats st = ev_stats(s->m);

	if (st.evacuating)
		sc_finish(s);
	CK_OK(gcmap__check_invariants(s->m));
	for (uint64_t i = 0; i < SC_MAX; i++) {
		void *v = NULL;
		int rc = k_get(s->m, s->kind, i, &v);

		if (s->model[i]) {
			ck_assert_msg(rc == 0 && v == s->model[i], "key %llu: rc %d, %p, want %p",
				      (unsigned long long)i, rc, v, s->model[i]);
			present++;
		} else {
			ck_assert_msg(rc == -ENOENT, "absent key %llu found",
				      (unsigned long long)i);
		}
	}
	ck_assert_uint_eq(ev_count(s->m), present);
	CK_OK(gcmap_destroy(s->m));
	CK_OK(gcmap_barrier());
	eva_check_balanced(&s->alloc, "scenario");
	ev_flags_set(0);
	pause_hook_remove();
	CK_NO_FAILURES(&s->fr);
}

/* One operation in its own thread, optionally frozen at a pause point. */
enum sc_op { SC_GET, SC_PUT, SC_MOVE, SC_SYNC };

struct opthr {
	pthread_t tid;
	struct scen *s;
	enum sc_op op;
	uint64_t key;
	void *val;
	struct pauser *pause;
	int rc;
	void *out;
	int done;
};

static void *op_main(void *arg)
{
	struct opthr *o = arg;
	struct scen *s = o->s;

	worker_register(&s->fr);
	if (o->pause)
		pauser_arm(o->pause);
	switch (o->op) {
	case SC_GET:
		o->rc = k_get(s->m, s->kind, o->key, &o->out);
		break;
	case SC_PUT:
		o->out = SENTINEL;
		o->rc = k_put(s->m, s->kind, o->key, o->val, &o->out);
		break;
	case SC_MOVE:
		W_RC(&s->fr, gcmap_read_lock(), 0);
		o->rc = gcmap__evac_move_unit(s->m, s->T, s->N, s->unit);
		W_RC(&s->fr, gcmap_read_unlock(), 0);
		break;
	case SC_SYNC:
	default:
		o->rc = gcmap_synchronize();
		break;
	}
	if (o->pause && pauser_missed(o->pause))
		fail_record(&s->fr, "op %d never reached pause point %s", (int)o->op,
			    o->pause->point);
	worker_unregister(&s->fr);
	STORE(&o->done, 1);
	return NULL;
}

static void op_start(struct opthr *o, struct scen *s, enum sc_op op, uint64_t key, void *val,
		     struct pauser *p)
{
	memset(o, 0, sizeof(*o));
	o->s = s;
	o->op = op;
	o->key = key;
	o->val = val;
	o->pause = p;
	ck_assert_int_eq(pthread_create(&o->tid, NULL, op_main, o), 0);
}

static void op_join(struct opthr *o, const char *what)
{
	ck_assert_msg(ev_wait_flag(&o->done, EV_WAIT_S), "%s did not finish within %.0f s", what,
		      EV_WAIT_S);
	ck_assert_int_eq(pthread_join(o->tid, NULL), 0);
}

static void sc_wait_frozen(struct pauser *p)
{
	ck_assert_msg(pauser_wait_arrived(p, EV_WAIT_S), "no thread reached %s within %.0f s",
		      p->point, EV_WAIT_S);
}

/*
 * (a) and (e): a reader frozen after loading T; the key's unit moves, its
 * value is replaced in N, the evacuation completes and T is retired. The
 * resumed reader must return the new value; T must still be allocated
 * (a grace period cannot end). With GCMAP_TEST_SKIP_MOVED_CHECK (the
 * negative control) the reader returns the stale value from T's frozen chain.
 */
static void reader_scenario(int kind, bool shrink, int sel, bool skip_moved_check)
{
	static struct scen s;
	struct pauser p;
	struct opthr r, sy;
	struct gcmap_stats st;
	size_t tbytes;
	void *v = NULL, *old = NULL;

	sc_setup(&s, kind, shrink, sel);
	pauser_init(&p, "reader:table-loaded");
	op_start(&r, &s, SC_GET, s.ka, NULL, &p);
	sc_wait_frozen(&p);

	sc_move(&s, s.unit, 2);
	ck_assert(ev_seq(s.T, sc_chain(&s, s.T, s.ka)) & SEQ_MOVED);
	CK_OK(k_put(s.m, kind, s.ka, new_val(s.ka), &old));
	ck_assert_ptr_eq(old, old_val(s.ka));
	s.model[s.ka] = new_val(s.ka);
	/* The frozen chain keeps the stale value; N holds the new one. */
	ck_assert(ev_raw_find(s.m, kind, s.T, sc_chain(&s, s.T, s.ka), s.ka, &v));
	ck_assert_ptr_eq(v, old_val(s.ka));
	ck_assert(ev_raw_find(s.m, kind, s.N, sc_chain(&s, s.N, s.ka), s.ka, &v));
	ck_assert_ptr_eq(v, new_val(s.ka));
	CK_OK(gcmap__check_invariants(s.m)); /* mid-evacuation */

	tbytes = ev_table_bytes(s.T);
	sc_finish(&s); /* T is unpublished and retired */
	st = ev_stats(s.m);
	ck_assert_uint_eq(st.evacuating, 0);
	ck_assert_msg(st.bytes_pending >= tbytes, "old table (%zu bytes) not pending: %zu", tbytes,
		      st.bytes_pending);
	/* The frozen reader is inside its read-side section. */
	op_start(&sy, &s, SC_SYNC, 0, NULL, NULL);
	sleep_ms(100);
	ck_assert_msg(!LOAD(&sy.done),
		      "gcmap_synchronize() returned while a reader was frozen in its section");
	st = ev_stats(s.m);
	ck_assert_msg(st.bytes_pending >= tbytes,
		      "old table freed (pending %zu < %zu) while a reader can reach it",
		      st.bytes_pending, tbytes);

	if (skip_moved_check)
		ev_flags_or(GCMAP_TEST_SKIP_MOVED_CHECK);
	pauser_release(&p);
	op_join(&r, "the reader");
	op_join(&sy, "gcmap_synchronize");
	ev_flags_clear(GCMAP_TEST_SKIP_MOVED_CHECK);
	ck_assert(!pauser_timed_out(&p));
	CK_OK(r.rc);
	CK_OK(sy.rc);
	if (skip_moved_check)
		ck_assert_msg(r.out == old_val(s.ka),
			      "negative control: without the moved check the reader should return "
			      "the stale %p, got %p",
			      old_val(s.ka), r.out);
	else
		ck_assert_msg(r.out == new_val(s.ka),
			      "resumed reader returned %p; the new value is %p, the stale one %p",
			      r.out, new_val(s.ka), old_val(s.ka));
	CK_OK(gcmap_barrier());
	st = ev_stats(s.m);
	ck_assert_uint_eq(st.bytes_pending, 0);
	sc_teardown(&s);
	pauser_destroy(&p);
}

/* _i: bit 0 shrink, bit 1 the chain selector, bit 2 the key kind. */
START_TEST(test_evacuate_pause_reader_stale_table)
{
	reader_scenario((_i >> 2) & 1, _i & 1, (_i >> 1) & 1, false);
}
END_TEST

START_TEST(test_evacuate_pause_reader_negative_control)
{
	reader_scenario((_i >> 2) & 1, _i & 1, (_i >> 1) & 1, true);
}
END_TEST

/*
 * (b): writers frozen after they loaded T (no helping: their unit is not
 * moved), one replacing @ka, one inserting @knew; another thread moves the
 * unit. Resumed, both must write into N, never into T's frozen chain.
 */
START_TEST(test_evacuate_pause_writer_after_help)
{
	static struct scen s;
	const int kind = (_i >> 2) & 1;
	struct pauser p1, p2;
	struct opthr w1, w2;
	void *v = NULL;

	sc_setup(&s, kind, _i & 1, (_i >> 1) & 1);
	pauser_init(&p1, "writer:helped");
	pauser_init(&p2, "writer:helped");
	op_start(&w1, &s, SC_PUT, s.ka, new_val(s.ka), &p1);
	op_start(&w2, &s, SC_PUT, s.knew, new_val(s.knew), &p2);
	sc_wait_frozen(&p1);
	sc_wait_frozen(&p2);
	ck_assert(!(ev_seq(s.T, sc_chain(&s, s.T, s.ka)) & SEQ_MOVED));

	sc_move(&s, s.unit, 2);
	pauser_release(&p1);
	pauser_release(&p2);
	op_join(&w1, "the replacing writer");
	op_join(&w2, "the inserting writer");
	ck_assert(!pauser_timed_out(&p1) && !pauser_timed_out(&p2));
	ck_assert_msg(w1.rc == 0 && w1.out == old_val(s.ka), "replace: rc %d, old %p (want %p)",
		      w1.rc, w1.out, old_val(s.ka));
	ck_assert_msg(w2.rc == 1 && w2.out == NULL, "insert: rc %d, old %p", w2.rc, w2.out);
	s.model[s.ka] = new_val(s.ka);
	s.model[s.knew] = new_val(s.knew);

	/* Visible, in N; T's frozen chains unchanged. */
	CK_OK(k_get(s.m, kind, s.ka, &v));
	ck_assert_ptr_eq(v, new_val(s.ka));
	CK_OK(k_get(s.m, kind, s.knew, &v));
	ck_assert_ptr_eq(v, new_val(s.knew));
	ck_assert(ev_raw_find(s.m, kind, s.N, sc_chain(&s, s.N, s.ka), s.ka, &v));
	ck_assert_ptr_eq(v, new_val(s.ka));
	ck_assert(ev_raw_find(s.m, kind, s.N, sc_chain(&s, s.N, s.knew), s.knew, &v));
	ck_assert(ev_raw_find(s.m, kind, s.T, sc_chain(&s, s.T, s.ka), s.ka, &v));
	ck_assert_ptr_eq(v, old_val(s.ka));
	ck_assert(!ev_raw_find(s.m, kind, s.T, sc_chain(&s, s.T, s.knew), s.knew, &v));
	ck_assert_uint_eq(ev_count(s.m), SC_KEYS + 1);
	CK_OK(gcmap__check_invariants(s.m)); /* mid-evacuation */
	sc_finish(&s);
	ck_assert_uint_eq(ev_count(s.m), SC_KEYS + 1);
	sc_teardown(&s);
	pauser_destroy(&p1);
	pauser_destroy(&p2);
}
END_TEST

/*
 * (c): the mover frozen inside the move (source write sections open, locks
 * held). Readers of both chains of the unit must wait, not return a torn or
 * missing result; a put must block on the source lock and land in N.
 */
START_TEST(test_evacuate_pause_mid_move)
{
	static struct scen s;
	const int kind = (_i >> 2) & 1;
	struct pauser pe;
	struct opthr e, g1, g2, w;
	void *v = NULL;

	sc_setup(&s, kind, _i & 1, (_i >> 1) & 1);
	pauser_init(&pe, "evac:mid-move");
	op_start(&e, &s, SC_MOVE, 0, NULL, &pe);
	sc_wait_frozen(&pe);
	ck_assert(ev_seq(s.T, sc_chain(&s, s.T, s.ka)) & SEQ_WRITING);
	ck_assert(ev_seq(s.T, sc_chain(&s, s.T, s.kb)) & SEQ_WRITING);

	op_start(&g1, &s, SC_GET, s.ka, NULL, NULL);
	op_start(&g2, &s, SC_GET, s.kb, NULL, NULL);
	op_start(&w, &s, SC_PUT, s.ka, new_val(s.ka), NULL);
	sleep_ms(100);
	ck_assert_msg(!LOAD(&g1.done) && !LOAD(&g2.done),
		      "a get returned during the move (ka: done %d; kb: done %d)", LOAD(&g1.done),
		      LOAD(&g2.done));
	ck_assert_msg(!LOAD(&w.done), "a put finished during the move of its chain");

	pauser_release(&pe);
	op_join(&e, "the mover");
	op_join(&g1, "get(ka)");
	op_join(&g2, "get(kb)");
	op_join(&w, "put(ka)");
	ck_assert(!pauser_timed_out(&pe));
	ck_assert_int_eq(e.rc, 2);
	ck_assert_msg(g1.rc == 0 && (g1.out == old_val(s.ka) || g1.out == new_val(s.ka)),
		      "get(ka): rc %d, %p", g1.rc, g1.out);
	ck_assert_msg(g2.rc == 0 && g2.out == old_val(s.kb), "get(kb): rc %d, %p", g2.rc, g2.out);
	ck_assert_msg(w.rc == 0 && w.out == old_val(s.ka), "put(ka): rc %d, old %p", w.rc, w.out);
	s.model[s.ka] = new_val(s.ka);
	CK_OK(k_get(s.m, kind, s.ka, &v));
	ck_assert_ptr_eq(v, new_val(s.ka));
	ck_assert(ev_raw_find(s.m, kind, s.T, sc_chain(&s, s.T, s.ka), s.ka, &v));
	ck_assert_ptr_eq(v, old_val(s.ka)); /* the put did not write the frozen chain */
	ck_assert_uint_eq(ev_count(s.m), SC_KEYS);
	CK_OK(gcmap__check_invariants(s.m)); /* mid-evacuation */
	sc_teardown(&s);
	pauser_destroy(&pe);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* 6. Every evacuation completes under concurrent fills                   */

#define CF_MAPS (200 / EV_SCALE)
#define CF_KEYS 5000

struct cf_arg {
	struct gcmap *m;
	int kind;
	uint64_t from, to;
	pthread_barrier_t *go;
	struct failrec *fr;
};

static void *cf_fill(void *arg)
{
	struct cf_arg *a = arg;

	worker_register(a->fr);
	pthread_barrier_wait(a->go);
	for (uint64_t i = a->from; i < a->to && !failed(a->fr); i++)
		W_RC(a->fr, k_put(a->m, a->kind, i, first_val(i), NULL), 1);
	worker_unregister(a->fr);
	return NULL;
}

START_TEST(test_evacuate_concurrent_fills_complete)
{
	const int kind = _i;
	struct gcmap *ref = make_map(kind, 0, NULL);
	struct gcmap_stats st;
	unsigned int want, in_flight = 0;

	/* The size a single-threaded fill reaches. */
	fill(ref, kind, 0, CF_KEYS);
	ev_maintain_all(ref, 1u << 20, 0, 10);
	want = ev_stats(ref).log2_buckets;
	CK_OK(gcmap_destroy(ref));
	ck_assert_uint_eq(want, fit_log2(CF_KEYS));

	for (unsigned int i = 0; i < CF_MAPS; i++) {
		struct failrec fr = FAILREC_INIT;
		struct cf_arg a[2];
		pthread_t t[2];
		pthread_barrier_t go;
		struct gcmap *m = make_map(kind, 0, NULL);

		pthread_barrier_init(&go, NULL, 2);
		for (int j = 0; j < 2; j++) {
			a[j].m = m;
			a[j].kind = kind;
			/* Disjoint, interleaved halves. */
			a[j].from = (uint64_t)j * CF_KEYS / 2;
			a[j].to = (uint64_t)(j + 1) * CF_KEYS / 2;
			a[j].go = &go;
			a[j].fr = &fr;
			ck_assert_int_eq(pthread_create(&t[j], NULL, cf_fill, &a[j]), 0);
		}
		for (int j = 0; j < 2; j++)
			ck_assert_int_eq(pthread_join(t[j], NULL), 0);
		pthread_barrier_destroy(&go);
		CK_NO_FAILURES(&fr);
		st = ev_stats(m);
		if (st.evacuating) {
			int rc;

			/* At most the last one is in flight; one call ends it. */
			in_flight++;
			rc = gcmap_maintain(m, 1u << 20, 0);
			ck_assert_msg(rc == 0, "map %u: maintain left %d units", i, rc);
			st = ev_stats(m);
			ck_assert_msg(!st.evacuating, "map %u: evacuation does not progress", i);
		}
		ck_assert_msg(
			st.log2_buckets == want,
			"map %u: 2^%u buckets after the fill (grows %lu), single-threaded 2^%u", i,
			st.log2_buckets, st.grows, want);
		ck_assert_int_eq(gcmap_maintain(m, 0, 0), 0);
		ck_assert_uint_eq(st.entries, CF_KEYS);
		expect_present(m, kind, 0, CF_KEYS, "concurrent fill");
		CK_OK(gcmap__check_invariants(m));
		CK_OK(gcmap_destroy(m));
	}
	/* Informational: how often the writers' help left the last one open. */
	ck_assert_uint_le(in_flight, CF_MAPS);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* 7. Allocation failure during grow and shrink                           */

#define AF_KEYS (3000 / EV_SCALE)
#define AF_KEEP (100 / EV_SCALE)
#define AF_B_LOG2 2
#define AF_B_KEYS 96 /* 24 per chain of 4: moves need overflow buckets */

struct af_run {
	struct eva *a; /* kept until the final barrier */
	struct gcmap *m;
	int kind;
	unsigned long k;
	void *model[AF_KEYS];
	unsigned long gen;
	int phase; /* where the failure was seen: 0 create, 1 grow/shrink, 2 rebuild map */
	int inj_phase;
	unsigned int grow_log2, end_log2;
	unsigned long evac_failures;
};

static void af_verify(struct af_run *r, uint64_t nkeys, const char *where)
{
	size_t present = 0;

	for (uint64_t i = 0; i < nkeys; i++) {
		void *v = NULL;
		int rc = k_get(r->m, r->kind, i, &v);

		if (r->model[i]) {
			EV_CHECK(
				rc == 0 && v == r->model[i],
				"%s k=%lu %s [failed site %s]: key %llu lost or changed (rc %d, %p, "
				"want %p)",
				kind_name(r->kind), r->k, where,
				gcmap__site_name((enum gcmap__site)r->a->injected_site),
				(unsigned long long)i, rc, v, r->model[i]);
			present++;
		} else {
			EV_CHECK(rc == -ENOENT, "%s k=%lu %s: absent key %llu found (rc %d)",
				 kind_name(r->kind), r->k, where, (unsigned long long)i, rc);
		}
	}
	EV_CHECK(ev_count(r->m) == present, "%s k=%lu %s: count %zu, %zu present",
		 kind_name(r->kind), r->k, where, ev_count(r->m), present);
}

/* After the operation in which the failure was injected: nothing lost. */
static void af_after(struct af_run *r, bool was_injected, uint64_t nkeys, const char *where)
{
	if (was_injected || !eva_injected(r->a))
		return;
	r->inj_phase = r->phase;
	af_verify(r, nkeys, where);
	EV_CHECK(gcmap__check_invariants(r->m) == 0, "k=%lu %s: invariants", r->k, where);
}

static void af_put(struct af_run *r, uint64_t key, uint64_t nkeys)
{
	bool was = eva_injected(r->a);
	void *v = val_of((key << 24) | (++r->gen & 0xffffff) | 1), *old = SENTINEL;
	int rc = k_put(r->m, r->kind, key, v, &old);

	if (rc == -ENOMEM) {
		EV_CHECK(!was && eva_injected(r->a), "k=%lu put(%llu): -ENOMEM, nothing failed",
			 r->k, (unsigned long long)key);
	} else {
		EV_CHECK(rc == (r->model[key] ? 0 : 1) && old == r->model[key],
			 "k=%lu put(%llu) = %d, old %p, want %p", r->k, (unsigned long long)key, rc,
			 old, r->model[key]);
		r->model[key] = v;
	}
	af_after(r, was, nkeys, "put");
}

static void af_delete(struct af_run *r, uint64_t key, uint64_t nkeys)
{
	bool was = eva_injected(r->a);
	void *old = NULL;
	int rc = k_delete(r->m, r->kind, key, &old);

	EV_CHECK(rc == (r->model[key] ? 0 : -ENOENT) && old == r->model[key],
		 "k=%lu delete(%llu) = %d (%s)", r->k, (unsigned long long)key, rc,
		 gcmap_strerror(rc));
	r->model[key] = NULL;
	af_after(r, was, nkeys, "delete");
}

static void af_maintain(struct af_run *r, uint64_t nkeys)
{
	for (int i = 0;; i++) {
		bool was = eva_injected(r->a);
		int rc = gcmap_maintain(r->m, 64, 0);

		EV_CHECK(i < 10000, "k=%lu: maintain never finished", r->k);
		EV_CHECK(rc >= 0 || (rc == -ENOMEM && !was && eva_injected(r->a)),
			 "k=%lu maintain = %d", r->k, rc);
		af_after(r, was, nkeys, "maintain");
		if (rc == 0)
			break;
	}
}

static int af_create(struct af_run *r, unsigned int log2)
{
	struct gcmap_options o;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.key_kind = (enum gcmap_key_kind)r->kind;
	o.log2_buckets = log2;
	o.flags = GCMAP_F_FIXED_SEED;
	o.seed[0] = 42;
	o.seed[1] = 4242;
	o.allocator = &r->a->hooks;
	return gcmap_create(&o, &r->m);
}

/*
 * One run with the k-th allocation at a site of @mask failing (k = 0: none).
 * The allocator stays alive (r->a) until the test's final barrier.
 */
static void af_script(struct af_run *r, int kind, unsigned long k, unsigned int mask)
{
	struct gcmap_stats st;
	int rc;

	memset(r, 0, sizeof(*r));
	r->a = malloc(sizeof(*r->a));
	ck_assert_ptr_nonnull(r->a);
	eva_init(r->a);
	r->a->fail_at = k;
	r->a->site_mask = mask;
	r->kind = kind;
	r->k = k;
	r->inj_phase = -1;

	/* Grow from empty to AF_KEYS, shrink down to AF_KEEP. */
	rc = af_create(r, 0);
	if (rc == -ENOMEM) {
		ck_assert(eva_injected(r->a));
		r->inj_phase = 0;
		goto out;
	}
	CK_OK(rc);
	r->phase = 1;
	for (uint64_t i = 0; i < AF_KEYS; i++)
		af_put(r, i, AF_KEYS);
	af_maintain(r, AF_KEYS);
	af_verify(r, AF_KEYS, "grown");
	st = ev_stats(r->m);
	r->grow_log2 = st.log2_buckets;
	EV_CHECK(gcmap__check_invariants(r->m) == 0, "k=%lu grown: invariants", k);
	for (uint64_t i = AF_KEEP; i < AF_KEYS; i++) {
		af_delete(r, i, AF_KEYS);
		if (i % 7 == 0)
			af_put(r, i % AF_KEEP, AF_KEYS); /* replace a kept key */
	}
	af_maintain(r, AF_KEYS);
	af_verify(r, AF_KEYS, "shrunk");
	EV_CHECK(gcmap__check_invariants(r->m) == 0, "k=%lu shrunk: invariants", k);
	st = ev_stats(r->m);
	r->end_log2 = st.log2_buckets;
	r->evac_failures = st.evac_alloc_failures;
	CK_OK(gcmap_destroy(r->m));

	/* Long chains at move time: a rebuild (and then a grow) of a small
	 * table filled with automatic resizing off needs the move's
	 * preallocated overflow buckets (GCMAP_SITE_EVAC). */
	memset(r->model, 0, sizeof(r->model));
	r->phase = 2;
	ev_flags_or(GCMAP_TEST_NO_POLICY);
	rc = af_create(r, AF_B_LOG2);
	if (rc == -ENOMEM) {
		ck_assert(eva_injected(r->a));
		r->inj_phase = 2;
		ev_flags_clear(GCMAP_TEST_NO_POLICY);
		goto out;
	}
	CK_OK(rc);
	for (uint64_t i = 0; i < AF_B_KEYS; i++)
		af_put(r, i, AF_B_KEYS);
	for (int tries = 0;; tries++) {
		bool was = eva_injected(r->a);

		CK_OK(gcmap_read_lock());
		rc = gcmap__evac_start(r->m, ev_tbl(r->m), AF_B_LOG2);
		CK_OK(gcmap_read_unlock());
		if (rc == 0)
			break;
		ck_assert_msg(rc == -ENOMEM && !was && eva_injected(r->a) && tries == 0,
			      "k=%lu evac_start = %d", k, rc);
		af_after(r, was, AF_B_KEYS, "evac_start");
	}
	af_maintain(r, AF_B_KEYS);
	af_verify(r, AF_B_KEYS, "rebuilt");
	EV_CHECK(gcmap__check_invariants(r->m) == 0, "k=%lu rebuilt: invariants", k);
	st = ev_stats(r->m);
	ck_assert_uint_ge(st.rebuilds, 1);
	ev_flags_clear(GCMAP_TEST_NO_POLICY);
	CK_OK(gcmap_destroy(r->m));
out:;
}

/* The allocators of every run, checked after one final barrier. */
struct af_list {
	struct eva **a;
	unsigned long *k;
	size_t n, cap;
};

static void af_keep(struct af_list *l, struct eva *a, unsigned long k)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->a = realloc(l->a, l->cap * sizeof(*l->a));
		l->k = realloc(l->k, l->cap * sizeof(*l->k));
		ck_assert(l->a && l->k);
	}
	l->a[l->n] = a;
	l->k[l->n++] = k;
}

/*
 * Sweep k = 1, 2, ... (or from @k0 by @step) failing the k-th allocation at
 * a site of @mask, until a run injects nothing. Returns the number of runs.
 */
static unsigned long af_sweep(int kind, unsigned int mask, unsigned long k0, unsigned long step,
			      const struct af_run *ref, unsigned long *failed_site,
			      unsigned long *table_in_resize, struct af_list *keep)
{
	static struct af_run r;
	unsigned long k, runs = 0;

	for (k = k0;; k = k < 8 ? k + 1 : k + step) {
		ck_assert_uint_lt(k, 1000000);
		af_script(&r, kind, k, mask);
		af_keep(keep, r.a, k);
		runs++;
		if (!eva_injected(r.a))
			break;
		failed_site[r.a->injected_site]++;
		if (r.inj_phase != 0) {
			/* Every size reached as without the failure: a failed
			 * grow, shrink or move was done later. */
			ck_assert_msg(r.grow_log2 == ref->grow_log2 && r.end_log2 == ref->end_log2,
				      "k=%lu (site %s): sizes 2^%u / 2^%u, without failure 2^%u / "
				      "2^%u",
				      k, gcmap__site_name((enum gcmap__site)r.a->injected_site),
				      r.grow_log2, r.end_log2, ref->grow_log2, ref->end_log2);
		}
		if (r.inj_phase == 1 && (r.a->injected_site == GCMAP_SITE_TABLE ||
					 r.a->injected_site == GCMAP_SITE_BUCKETS ||
					 r.a->injected_site == GCMAP_SITE_EVAC)) {
			/* A new table or a move failed: counted; the map kept
			 * serving at its size (checked in the run). */
			ck_assert_msg(r.evac_failures > 0,
				      "k=%lu: site %s failed in a resize; evac_alloc_failures is 0",
				      k, gcmap__site_name((enum gcmap__site)r.a->injected_site));
			if (r.a->injected_site != GCMAP_SITE_EVAC)
				(*table_in_resize)++;
		}
	}
	return runs;
}

/*
 * Every allocation of a grow/shrink workload (and of a rebuild with long
 * chains) fails once, in turn. Byte keys: every allocation but the key
 * copies is swept; key copies (one identical path per insert) are failed
 * at the first 8 and then every 97th.
 */
START_TEST(test_evacuate_alloc_failures)
{
	const int kind = _i;
	const unsigned int not_keys = ((1u << GCMAP_NR_SITES) - 1) & ~(1u << GCMAP_SITE_KEY);
	static struct af_run ref;
	struct af_list keep = { NULL, NULL, 0, 0 };
	unsigned long failed_site[GCMAP_NR_SITES] = { 0 }, table_in_resize = 0, runs;

	af_script(&ref, kind, 0, 0);
	af_keep(&keep, ref.a, 0);
	ck_assert(!eva_injected(ref.a));
	ck_assert_uint_eq(ref.grow_log2, fit_log2(AF_KEYS));
	runs = af_sweep(kind, not_keys, 1, 1, &ref, failed_site, &table_in_resize, &keep);
	if (kind == GCMAP_KEY_BYTES) {
		runs += af_sweep(kind, 1u << GCMAP_SITE_KEY, 1, 97, &ref, failed_site,
				 &table_in_resize, &keep);
		ck_assert_uint_gt(failed_site[GCMAP_SITE_KEY], 8);
	}
	ck_assert_msg(failed_site[GCMAP_SITE_TABLE] > 0 && failed_site[GCMAP_SITE_BUCKETS] > 0 &&
			      failed_site[GCMAP_SITE_EVAC] > 0 && table_in_resize > 0,
		      "%s, %lu runs: table failed %lu, buckets %lu, evac %lu; in a resize %lu",
		      kind_name(kind), runs, failed_site[GCMAP_SITE_TABLE],
		      failed_site[GCMAP_SITE_BUCKETS], failed_site[GCMAP_SITE_EVAC],
		      table_in_resize);

	/* No leak in any run: everything came back after the grace periods. */
	CK_OK(gcmap_barrier());
	for (size_t i = 0; i < keep.n; i++) {
		char where[64];

		snprintf(where, sizeof(where), "%s k=%lu", kind_name(kind), keep.k[i]);
		eva_check_balanced(keep.a[i], where);
		free(keep.a[i]);
	}
	free(keep.a);
	free(keep.k);
}
END_TEST

/* ---------------------------------------------------------------------- */

static Suite *evacuate_suite(void)
{
	Suite *s = suite_create("evacuate");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_evacuate_grow_big_and_shrink_back, 0, 2);
	tcase_add_loop_test(tc, test_evacuate_hysteresis, 0, 2);
	tcase_add_test(tc, test_evacuate_hysteresis_colliding_keys);
	tcase_add_test(tc, test_evacuate_no_rebuild_thrash);
	tcase_add_loop_test(tc, test_evacuate_maintain_budget, 0, 2);
	tcase_add_loop_test(tc, test_evacuate_background_thread, 0, 2);
	tcase_add_loop_test(tc, test_evacuate_shrink_to_fit, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrent");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_evacuate_work_bound, 0, 4);
	tcase_add_loop_test(tc, test_evacuate_concurrent_fills_complete, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("pause");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_evacuate_pause_reader_stale_table, 0, 8);
	tcase_add_loop_test(tc, test_evacuate_pause_reader_negative_control, 0, 8);
	tcase_add_loop_test(tc, test_evacuate_pause_writer_after_help, 0, 8);
	tcase_add_loop_test(tc, test_evacuate_pause_mid_move, 0, 8);
	suite_add_tcase(s, tc);

	tc = tcase_create("alloc");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_evacuate_alloc_failures, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(evacuate_suite());
}
