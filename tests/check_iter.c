/*
 * check_iter.c - iteration (lib/iter.c): every key exactly once, for both
 * key kinds, across grows and shrinks started and completed between two
 * gcmap_iter_next() calls (driven exactly with GCMAP_TEST_NO_POLICY and the
 * evacuation internals), gcmap_foreach() and callbacks that modify the map
 * or wait for a grace period, error codes and allocation failures, memory
 * that a live iterator must not keep, and a short run of the concurrent
 * stress (stress/iterstress.h) with its negative control.
 */
#include "evac_util.h"
#include "../stress/iterstress.h"

#include <limits.h>
#include <stdlib.h>

/* The value key number @i holds in the single-threaded tests. */
static void *kval(uint64_t i)
{
	return val_of(i * 2 + 1);
}

static uint64_t rev64(uint64_t x)
{
	x = ((x >> 1) & 0x5555555555555555ULL) | ((x & 0x5555555555555555ULL) << 1);
	x = ((x >> 2) & 0x3333333333333333ULL) | ((x & 0x3333333333333333ULL) << 2);
	x = ((x >> 4) & 0x0f0f0f0f0f0f0f0fULL) | ((x & 0x0f0f0f0f0f0f0f0fULL) << 4);
	return __builtin_bswap64(x);
}

static void setup_registered(void)
{
	ck_assert_int_eq(gcmap_thread_register(), 0);
}

static void teardown_registered(void)
{
	ev_flags_set(0);
	ck_assert_int_eq(gcmap_barrier(), 0);
	ck_assert_int_eq(gcmap_thread_unregister(), 0);
}

static void fill(struct gcmap *m, int kind, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++) {
		int rc = k_put(m, kind, i, kval(i), NULL);

		if (rc != 1)
			ck_abort_msg("put(%llu) returned %d (%s)", (unsigned long long)i, rc,
				     gcmap_strerror(rc));
	}
}

static void drain(struct gcmap *m, int kind, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++) {
		int rc = k_delete(m, kind, i, NULL);

		if (rc != 0)
			ck_abort_msg("delete(%llu) returned %d (%s)", (unsigned long long)i, rc,
				     gcmap_strerror(rc));
	}
}

/* The key number of an entry (test_util.h's key_bytes() format), or false
 * if it is no such key. */
static bool ent_idx(int kind, const struct gcmap_entry *e, uint64_t *idx)
{
	unsigned char want[KEY_BUF];
	const unsigned char *b = e->key_bytes;
	uint64_t x = 0;

	if (kind == GCMAP_KEY_U64) {
		*idx = e->key;
		return true;
	}
	if (!b || e->key_len < 12 || e->key_len > KEY_BUF)
		return false;
	for (int i = 0; i < 8; i++)
		x |= (uint64_t)b[4 + i] << (8 * i);
	if (key_bytes(x, want) != e->key_len || memcmp(want, b, e->key_len) != 0)
		return false;
	*idx = x;
	return true;
}

/*
 * struct tally - what one walk returned: how often each key number below
 * @n (saturating), keys outside it (@others), wrong values or undecodable
 * keys (@bad, with the first message).
 */
struct tally {
	int kind;
	uint64_t n;
	uint8_t *seen;
	unsigned long returned, others, bad;
	char first_bad[160];
};

static void tally_init(struct tally *t, int kind, uint64_t n)
{
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->n = n;
	t->seen = calloc(n ? n : 1, 1);
	ck_assert_ptr_nonnull(t->seen);
}

static void tally_reset(struct tally *t)
{
	uint64_t n = t->n;
	uint8_t *seen = t->seen;
	int kind = t->kind;

	memset(seen, 0, n ? n : 1);
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->n = n;
	t->seen = seen;
}

static void tally_free(struct tally *t)
{
	free(t->seen);
	t->seen = NULL;
}

/* Record entry @e; returns its key number (or UINT64_MAX). */
static uint64_t tally_add(struct tally *t, const struct gcmap_entry *e)
{
	uint64_t idx;

	t->returned++;
	if (!ent_idx(t->kind, e, &idx)) {
		if (!t->bad++)
			snprintf(t->first_bad, sizeof(t->first_bad), "undecodable key of %zu bytes",
				 e->key_len);
		return UINT64_MAX;
	}
	if (idx >= t->n) {
		t->others++;
		return idx;
	}
	if (e->value != kval(idx) && !t->bad++)
		snprintf(t->first_bad, sizeof(t->first_bad), "key %llu: value %p, want %p",
			 (unsigned long long)idx, e->value, kval(idx));
	if (t->seen[idx] < 255)
		t->seen[idx]++;
	return idx;
}

static unsigned long tally_dups(const struct tally *t)
{
	unsigned long d = 0;

	for (uint64_t i = 0; i < t->n; i++)
		d += t->seen[i] > 1;
	return d;
}

/* Every key number in [@from, @to) returned exactly once, nothing bad. */
static void tally_expect_once(const struct tally *t, uint64_t from, uint64_t to, const char *where)
{
	ck_assert_msg(t->bad == 0, "%s: %lu bad entries; first: %s", where, t->bad, t->first_bad);
	for (uint64_t i = from; i < to; i++)
		if (t->seen[i] != 1)
			ck_abort_msg("%s: key %llu returned %u times", where, (unsigned long long)i,
				     t->seen[i]);
}

/* Call gcmap_iter_next() up to @max times; returns the entries returned and
 * sets *@ended when the walk reached its end. */
static unsigned long walk(struct gcmap_iter *it, struct tally *t, unsigned long max, bool *ended)
{
	struct gcmap_entry e;
	unsigned long got = 0;
	int rc = 1;

	while (got < max && (rc = gcmap_iter_next(it, &e)) == 1) {
		tally_add(t, &e);
		got++;
	}
	ck_assert_msg(rc >= 0, "gcmap_iter_next returned %d (%s)", rc, gcmap_strerror(rc));
	if (ended)
		*ended = rc == 0;
	return got;
}

static void walk_to_end(struct gcmap_iter *it, struct tally *t)
{
	bool ended = false;
	struct gcmap_entry e;

	walk(it, t, ULONG_MAX, &ended);
	ck_assert(ended);
	/* The end is sticky. */
	CK_RC(gcmap_iter_next(it, &e), 0);
}

/* ---------------------------------------------------------------------- */
/* 1. Basics: empty map, one key, 100k keys, byte keys                    */

static int count_cb(const struct gcmap_entry *e, void *arg)
{
	(void)e;
	(*(unsigned long *)arg)++;
	return 0;
}

START_TEST(test_iter_empty)
{
	const int kind = _i;
	struct gcmap *m = make_map(kind, 0, NULL);
	struct gcmap_iter *it = NULL;
	struct gcmap_entry e;
	unsigned long calls = 0;

	CK_OK(gcmap_iter_begin(m, &it));
	ck_assert_ptr_nonnull(it);
	CK_RC(gcmap_iter_next(it, &e), 0);
	CK_RC(gcmap_iter_next(it, &e), 0);
	CK_OK(gcmap_iter_end(it));
	CK_OK(gcmap_foreach(m, count_cb, &calls));
	ck_assert_uint_eq(calls, 0);
	/* Emptied again after holding keys. */
	fill(m, kind, 0, 100);
	drain(m, kind, 0, 100);
	CK_OK(gcmap_iter_begin(m, &it));
	CK_RC(gcmap_iter_next(it, &e), 0);
	CK_OK(gcmap_iter_end(it));
	CK_OK(gcmap_destroy(m));
}
END_TEST

START_TEST(test_iter_one_key)
{
	const int kind = _i;
	struct gcmap *m = make_map(kind, 0, NULL);
	struct gcmap_iter *it;
	struct gcmap_entry e;
	struct tally t;
	unsigned long calls = 0;

	tally_init(&t, kind, 64);
	CK_OK(k_insert(m, kind, 42, kval(42), NULL));
	CK_OK(gcmap_iter_begin(m, &it));
	CK_RC(gcmap_iter_next(it, &e), 1);
	ck_assert_uint_eq(tally_add(&t, &e), 42);
	ck_assert_ptr_eq(e.value, kval(42));
	if (kind == GCMAP_KEY_U64)
		ck_assert_uint_eq(e.key, 42);
	CK_RC(gcmap_iter_next(it, &e), 0);
	CK_RC(gcmap_iter_next(it, &e), 0);
	CK_OK(gcmap_iter_end(it));
	tally_expect_once(&t, 42, 43, "one key");
	CK_OK(gcmap_foreach(m, count_cb, &calls));
	ck_assert_uint_eq(calls, 1);
	tally_free(&t);
	CK_OK(gcmap_destroy(m));
}
END_TEST

static int tally_cb(const struct gcmap_entry *e, void *arg)
{
	tally_add(arg, e);
	return 0;
}

START_TEST(test_iter_100k_exactly_once)
{
	const int kind = _i;
	const uint64_t n = 100000;
	struct gcmap *m = make_map(kind, 0, NULL);
	struct gcmap_iter *it;
	struct tally t;

	fill(m, kind, 0, n);
	tally_init(&t, kind, n);
	CK_OK(gcmap_iter_begin(m, &it));
	walk_to_end(it, &t);
	CK_OK(gcmap_iter_end(it));
	ck_assert_uint_eq(t.returned, n);
	ck_assert_uint_eq(t.others, 0);
	tally_expect_once(&t, 0, n, "100k keys");

	/* The same through gcmap_foreach(). */
	tally_reset(&t);
	CK_OK(gcmap_foreach(m, tally_cb, &t));
	ck_assert_uint_eq(t.returned, n);
	tally_expect_once(&t, 0, n, "100k keys, foreach");
	tally_free(&t);
	CK_OK(gcmap_destroy(m));
}
END_TEST

/* Byte keys with NUL bytes, of length 0 to the maximum. */
#define BK_RANDOM 300

struct bkey {
	unsigned char *b;
	size_t len;
};

static size_t make_byte_keys(struct bkey *k, size_t cap)
{
	static const struct {
		const char *s;
		size_t len;
	} fixed[] = {
		{ "", 0 },	{ "\0", 1 },	{ "\0\0", 2 },	 { "\0\0\0\0\0\0\0\0", 8 },
		{ "a\0", 2 },	{ "\0a", 2 },	{ "a\0b\0", 4 }, { "a", 1 },
		{ "a\0\0", 3 }, { "\0\0a", 3 }, { "\xff\0", 2 }, { "\0\xff", 2 },
	};
	uint64_t rng = 12345;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		k[n].len = fixed[i].len;
		k[n].b = malloc(k[n].len + 1);
		memcpy(k[n].b, fixed[i].s, k[n].len);
		n++;
	}
	/* Two long ones: all NUL bytes at the maximum length, and almost. */
	for (int i = 0; i < 2; i++) {
		k[n].len = GCMAP_DEFAULT_MAX_KEY_LEN - (size_t)i;
		k[n].b = calloc(1, k[n].len);
		if (i)
			k[n].b[k[n].len - 1] = 1;
		n++;
	}
	/* Random ones: "r", a 2-byte serial (distinct), then 0-40 bytes of
	 * which about half are NUL. */
	for (unsigned int i = 0; i < BK_RANDOM && n < cap; i++) {
		size_t extra = (size_t)(is_rng(&rng) % 41);

		k[n].len = 3 + extra;
		k[n].b = malloc(k[n].len);
		k[n].b[0] = 'r';
		k[n].b[1] = (unsigned char)i;
		k[n].b[2] = (unsigned char)(i >> 8);
		for (size_t j = 3; j < k[n].len; j++) {
			uint64_t x = is_rng(&rng);

			k[n].b[j] = (x & 1) ? 0 : (unsigned char)(x >> 8);
		}
		n++;
	}
	return n;
}

static long find_bkey(const struct bkey *k, size_t n, const struct gcmap_entry *e)
{
	for (size_t i = 0; i < n; i++)
		if (k[i].len == e->key_len &&
		    (!e->key_len || memcmp(k[i].b, e->key_bytes, e->key_len) == 0))
			return (long)i;
	return -1;
}

START_TEST(test_iter_byte_keys_nul_and_empty)
{
	struct bkey k[BK_RANDOM + 32];
	size_t n = make_byte_keys(k, sizeof(k) / sizeof(k[0]));
	struct eva a;
	struct gcmap *m;
	struct gcmap_iter *it;
	struct gcmap_entry e;
	unsigned char seen[BK_RANDOM + 32];
	unsigned long returned = 0;
	int rc;

	eva_init(&a); /* poisons freed memory: a stale key pointer would show */
	m = make_map(GCMAP_KEY_BYTES, 1, &a.hooks);
	for (size_t i = 0; i < n; i++)
		CK_OK(gcmap_insert_bytes(m, k[i].b, k[i].len, kval(i), NULL));
	memset(seen, 0, sizeof(seen));
	CK_OK(gcmap_iter_begin(m, &it));
	while ((rc = gcmap_iter_next(it, &e)) == 1) {
		long i = find_bkey(k, n, &e);

		ck_assert_msg(i >= 0, "returned a key of %zu bytes that was never inserted",
			      e.key_len);
		ck_assert_msg(seen[i]++ == 0, "key %ld (%zu bytes) returned twice", i, k[i].len);
		ck_assert_ptr_eq(e.value, kval((uint64_t)i));
		returned++;
		/* The entry's key bytes are the iterator's copy: deleting the
		 * key and letting its copy be freed does not change them
		 * (some short keys and the long ones). */
		if (returned % 37 == 1 || k[i].len > 64) {
			CK_OK(gcmap_delete_bytes(m, k[i].b, k[i].len, NULL));
			CK_OK(gcmap_synchronize());
			CK_OK(gcmap_barrier());
			ck_assert_uint_eq(e.key_len, k[i].len);
			ck_assert(e.key_len == 0 || memcmp(e.key_bytes, k[i].b, e.key_len) == 0);
		}
	}
	CK_RC(rc, 0);
	CK_OK(gcmap_iter_end(it));
	ck_assert_uint_eq(returned, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(seen[i] == 1, "key %zu (%zu bytes) returned %u times", i, k[i].len,
			      seen[i]);
	CK_OK(gcmap_destroy(m));

	/* A map holding only the empty key. */
	m = make_map(GCMAP_KEY_BYTES, 0, &a.hooks);
	CK_OK(gcmap_insert_bytes(m, NULL, 0, kval(7), NULL));
	CK_OK(gcmap_iter_begin(m, &it));
	CK_RC(gcmap_iter_next(it, &e), 1);
	ck_assert_uint_eq(e.key_len, 0);
	ck_assert_ptr_eq(e.value, kval(7));
	CK_RC(gcmap_iter_next(it, &e), 0);
	CK_OK(gcmap_iter_end(it));
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_barrier());
	eva_check_balanced(&a, "byte keys");
	for (size_t i = 0; i < n; i++)
		free(k[i].b);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* 2. Grows and shrinks between two gcmap_iter_next() calls               */

/* Start an evacuation of the current table into 2^@log2 buckets. */
static void evac_start_to(struct gcmap *m, unsigned int log2)
{
	CK_OK(gcmap_read_lock());
	CK_OK(gcmap__evac_start(m, ev_tbl(m), log2));
	CK_OK(gcmap_read_unlock());
}

/* Move each unit of the evacuation in flight with probability @permille/1000
 * (1000: all of them, which completes it). */
static void evac_move(struct gcmap *m, uint64_t *rng, unsigned int permille)
{
	struct gcmap_table *t, *n;

	CK_OK(gcmap_read_lock());
	t = ev_tbl(m);
	n = ev_next(t);
	if (n) {
		uint64_t units = gcmap__evac_units(t, n);

		for (uint64_t u = 0; u < units; u++)
			if (permille >= 1000 || is_rng(rng) % 1000 < permille)
				ck_assert_int_ge(gcmap__evac_move_unit(m, t, n, u), 0);
	}
	CK_OK(gcmap_read_unlock());
}

static bool evacuating(struct gcmap *m)
{
	bool e;

	CK_OK(gcmap_read_lock());
	e = ev_next(ev_tbl(m)) != NULL;
	CK_OK(gcmap_read_unlock());
	return e;
}

static unsigned int cur_log2(struct gcmap *m)
{
	unsigned int l;

	CK_OK(gcmap_read_lock());
	l = ev_tbl(m)->log2;
	CK_OK(gcmap_read_unlock());
	return l;
}

/* Grow or shrink one step at a time to 2^@log2, each evacuation started and
 * completed here (between two gcmap_iter_next() calls of the caller). */
static void resize_to(struct gcmap *m, unsigned int log2)
{
	uint64_t rng = 1;

	ck_assert(!evacuating(m));
	while (cur_log2(m) != log2) {
		unsigned int l = cur_log2(m);

		evac_start_to(m, l < log2 ? l + 1 : l - 1);
		evac_move(m, &rng, 1000);
		ck_assert(!evacuating(m));
		ck_assert_uint_eq(cur_log2(m), l < log2 ? l + 1 : l - 1);
	}
}

/*
 * Walk positions. The walk goes through the reversed hash space in chain
 * ranges: at 2^L chains, the chain at position p (counting in reversed
 * order) covers [p * 2^(64-L), (p+1) * 2^(64-L)). With no writer, after the
 * entries of a step are all returned, the returned keys are exactly those
 * below the end of that range: this is how a test knows the iterator's
 * cursor without looking inside it.
 */
struct bwalk {
	uint64_t *revs; /* reversed hashes of keys 0 .. n-1, sorted */
	size_t n;
	uint64_t maxrev;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void bwalk_init(struct bwalk *w, struct gcmap *m, int kind, uint64_t n)
{
	w->revs = malloc(n * sizeof(*w->revs));
	ck_assert_ptr_nonnull(w->revs);
	for (uint64_t i = 0; i < n; i++)
		w->revs[i] = rev64(ev_hash(m, kind, i));
	qsort(w->revs, n, sizeof(*w->revs), cmp_u64);
	for (uint64_t i = 1; i < n; i++)
		ck_assert_msg(w->revs[i] != w->revs[i - 1], "two keys with one hash");
	w->n = n;
	w->maxrev = 0;
}

/* Keys whose reversed hash is below @end (0: the end of the space). */
static size_t bwalk_below(const struct bwalk *w, uint64_t end)
{
	size_t lo = 0, hi = w->n;

	if (end == 0)
		return w->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->revs[mid] < end)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Return entries one at a time until the walk stands at the end of a chain
 * range of a 2^@log2 table whose position is odd when @odd (so a shrink
 * leaves the cursor in the middle of a chain), at least one entry. Returns
 * that end. Call only while no evacuation is in flight.
 */
static uint64_t walk_to_boundary(struct gcmap *m, struct gcmap_iter *it, struct tally *t,
				 struct bwalk *w, bool odd)
{
	unsigned int log2 = cur_log2(m);
	uint64_t span = (uint64_t)1 << (64 - log2);
	struct gcmap_entry e;

	for (;;) {
		uint64_t idx, end;
		int rc = gcmap_iter_next(it, &e);

		ck_assert_msg(rc == 1, "walk ended (%d) before an %s boundary at 2^%u", rc,
			      odd ? "odd" : "any", log2);
		idx = tally_add(t, &e);
		ck_assert_uint_lt(idx, w->n);
		if (rev64(ev_hash(m, t->kind, idx)) > w->maxrev)
			w->maxrev = rev64(ev_hash(m, t->kind, idx));
		end = (w->maxrev & ~(span - 1)) + span;
		if (bwalk_below(w, end) == t->returned && (!odd || ((end / span) & 1)))
			return end;
	}
}

#define RS_KEYS 1000
#define RS_LOG2 6 /* k: the walk starts at 2^k buckets */

static struct gcmap *resize_map(int kind)
{
	struct gcmap *m = make_map(kind, 0, NULL); /* 8 buckets: shrinks go down to 2^3 */

	fill(m, kind, 0, RS_KEYS);
	ev_maintain_all(m, 1u << 16, 0, 100);
	ev_flags_set(GCMAP_TEST_NO_POLICY);
	resize_to(m, RS_LOG2);
	return m;
}

/*
 * The walk starts at 2^k; between two next() calls the map grows to
 * 2^(k+1), later to 2^(k+3) (two grows in a row), shrinks back with the
 * cursor in the middle of the merged chain, down to 2^(k-1), then goes
 * through a grow and a shrink that are each half done while the walk
 * goes on. Every key exactly once.
 */
START_TEST(test_iter_across_resizes)
{
	const int kind = _i;
	struct gcmap *m = resize_map(kind);
	struct gcmap_iter *it;
	struct tally t;
	struct bwalk w;
	uint64_t rng = 99;
	bool ended = false;

	tally_init(&t, kind, RS_KEYS);
	bwalk_init(&w, m, kind, RS_KEYS);
	CK_OK(gcmap_iter_begin(m, &it));

	walk_to_boundary(m, it, &t, &w, true); /* at 2^k */
	resize_to(m, RS_LOG2 + 1); /* grow between two calls */
	walk_to_boundary(m, it, &t, &w, true);
	resize_to(m, RS_LOG2 + 3); /* two more grows */
	walk_to_boundary(m, it, &t, &w, true);
	resize_to(m, RS_LOG2 + 2); /* shrink: the cursor is mid-chain now */
	walk_to_boundary(m, it, &t, &w, false);
	walk_to_boundary(m, it, &t, &w, true);
	resize_to(m, RS_LOG2 - 1); /* three shrinks, to 2^(k-1) */
	walk_to_boundary(m, it, &t, &w, false);
	ck_assert_msg(t.bad == 0, "bad entries so far; first: %s", t.first_bad);
	ck_assert_uint_eq(tally_dups(&t), 0);

	/* Half-done evacuations: chains are in the old and the new table. */
	evac_start_to(m, RS_LOG2);
	evac_move(m, &rng, 500);
	walk(it, &t, 30, &ended);
	ck_assert(!ended);
	evac_move(m, &rng, 1000);
	walk(it, &t, 30, &ended);
	ck_assert(!ended);
	evac_start_to(m, RS_LOG2 - 1);
	evac_move(m, &rng, 500);
	walk(it, &t, 30, &ended);
	ck_assert(!ended);
	evac_move(m, &rng, 1000);
	ck_assert_uint_eq(cur_log2(m), RS_LOG2 - 1);

	walk_to_end(it, &t);
	CK_OK(gcmap_iter_end(it));
	ck_assert_uint_eq(t.returned, RS_KEYS);
	tally_expect_once(&t, 0, RS_KEYS, "across resizes");
	CK_OK(gcmap__check_invariants(m));
	free(w.revs);
	tally_free(&t);
	CK_OK(gcmap_destroy(m));
}
END_TEST

/*
 * The filter, and its negative control: the walk covered an odd number of
 * chains at 2^k, then the map shrinks to 2^(k-1), so the next step reads a
 * merged chain whose first half was already walked. With the filter every
 * key comes exactly once; with GCMAP_TEST_ITER_NO_FILTER exactly the keys of
 * that first half come twice.
 */
START_TEST(test_iter_shrink_filter_and_negative_control)
{
	const int kind = _i;

	for (int no_filter = 0; no_filter < 2; no_filter++) {
		struct gcmap *m = resize_map(kind);
		uint64_t span = (uint64_t)1 << (64 - RS_LOG2);
		struct gcmap_iter *it;
		struct tally t;
		struct bwalk w;
		uint64_t end;
		size_t half;

		tally_init(&t, kind, RS_KEYS);
		bwalk_init(&w, m, kind, RS_KEYS);
		if (no_filter)
			ev_flags_or(GCMAP_TEST_ITER_NO_FILTER);
		CK_OK(gcmap_iter_begin(m, &it));
		end = walk_to_boundary(m, it, &t, &w, true);
		/* The chain just walked: its keys are the first half of the
		 * merged chain after the shrink. */
		half = bwalk_below(&w, end) - (end - span ? bwalk_below(&w, end - span) : 0);
		ck_assert_uint_gt(half, 0);
		resize_to(m, RS_LOG2 - 1);
		walk_to_end(it, &t);
		CK_OK(gcmap_iter_end(it));
		if (no_filter) {
			ck_assert_msg(
				tally_dups(&t) == half,
				"NO_FILTER: %lu keys returned twice, want the %zu keys of the "
				"chain walked before the shrink",
				tally_dups(&t), half);
			ck_assert_uint_eq(t.returned, RS_KEYS + half);
			ev_flags_clear(GCMAP_TEST_ITER_NO_FILTER);
		} else {
			ck_assert_uint_eq(t.returned, RS_KEYS);
			tally_expect_once(&t, 0, RS_KEYS, "shrink mid-chain");
		}
		free(w.revs);
		tally_free(&t);
		CK_OK(gcmap_destroy(m));
	}
}
END_TEST

/*
 * Random schedules: between walks of 0-40 entries, evacuations (grow or
 * shrink by one step, 2^3 to 2^10) start, move a random part of their
 * units, and complete. Every key exactly once in every schedule.
 */
#define SCHED_RUNS 40
#define SCHED_KEYS 600

START_TEST(test_iter_random_resize_schedules)
{
	const int kind = _i;
	unsigned long resizes = 0, partial_walks = 0;

	for (unsigned int s = 0; s < SCHED_RUNS; s++) {
		uint64_t rng = 1000 + s * 7 + (uint64_t)kind;
		struct gcmap *m = make_map(kind, 0, NULL);
		struct gcmap_iter *it;
		struct tally t;
		bool ended = false;

		fill(m, kind, 0, SCHED_KEYS);
		ev_maintain_all(m, 1u << 16, 0, 100);
		ev_flags_set(GCMAP_TEST_NO_POLICY);
		tally_init(&t, kind, SCHED_KEYS);
		CK_OK(gcmap_iter_begin(m, &it));
		while (!ended) {
			switch (is_rng(&rng) % 4) {
			case 0:
			case 1:
				if (evacuating(m))
					partial_walks++;
				walk(it, &t, is_rng(&rng) % 41, &ended);
				break;
			case 2:
				if (!evacuating(m)) {
					unsigned int l = cur_log2(m);
					bool up = l <= 3 || (l < 10 && (is_rng(&rng) & 1));

					evac_start_to(m, up ? l + 1 : l - 1);
					resizes++;
				}
				evac_move(m, &rng, (unsigned int)(is_rng(&rng) % 700));
				break;
			default:
				evac_move(m, &rng, 1000);
				break;
			}
		}
		CK_OK(gcmap_iter_end(it));
		evac_move(m, &rng, 1000);
		ck_assert_msg(t.returned == SCHED_KEYS, "schedule %u: %lu entries, want %u", s,
			      t.returned, SCHED_KEYS);
		tally_expect_once(&t, 0, SCHED_KEYS, "random schedule");
		CK_OK(gcmap__check_invariants(m));
		tally_free(&t);
		ev_flags_set(0);
		CK_OK(gcmap_destroy(m));
	}
	ck_assert_uint_gt(resizes, SCHED_RUNS * 3);
	ck_assert_uint_gt(partial_walks, SCHED_RUNS);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* 3. gcmap_foreach()                                                     */

struct stop_ctx {
	unsigned long calls, stop_at;
	int ret;
};

static int stop_cb(const struct gcmap_entry *e, void *arg)
{
	struct stop_ctx *c = arg;

	(void)e;
	return ++c->calls == c->stop_at ? c->ret : 0;
}

START_TEST(test_iter_foreach_stops_early)
{
	const int kind = _i;
	struct gcmap *m = make_map(kind, 0, NULL);
	static const int rets[] = { 7, 1, -1234, -ENOENT };
	struct gcmap_stats st;

	fill(m, kind, 0, 500);
	for (size_t i = 0; i < sizeof(rets) / sizeof(rets[0]); i++) {
		struct stop_ctx c = { 0, 10 + i, rets[i] };

		CK_RC(gcmap_foreach(m, stop_cb, &c), rets[i]);
		ck_assert_uint_eq(c.calls, 10 + i);
	}
	/* Stopping at the very first entry, and never (all 500 visited). */
	{
		struct stop_ctx c = { 0, 1, 3 };

		CK_RC(gcmap_foreach(m, stop_cb, &c), 3);
		ck_assert_uint_eq(c.calls, 1);
		c.calls = 0;
		c.stop_at = 0;
		CK_OK(gcmap_foreach(m, stop_cb, &c));
		ck_assert_uint_eq(c.calls, 500);
	}
	/* Each foreach ended its iterator. */
	st = ev_stats(m);
	ck_assert_uint_eq(st.iterators, 0);
	ck_assert_uint_eq(st.bytes_pinned, 0);
	CK_OK(gcmap_destroy(m));
}
END_TEST

#define MOD_KEYS 2000
#define MOD_NEW_BASE 1000000 /* key numbers of the keys the callback inserts */
#define MOD_NEW_PER_VISIT 4

struct mod_ctx {
	struct gcmap *m;
	int kind;
	struct tally t;
	uint64_t next_new;
	unsigned long new_returned, errors;
	uint8_t *new_seen;
	char first[160];
};

/* Deletes the key it is given; for an original key also inserts new ones
 * (enough to make the map grow twice during the walk). */
static int modify_cb(const struct gcmap_entry *e, void *arg)
{
	struct mod_ctx *c = arg;
	uint64_t idx = tally_add(&c->t, e);
	void *old = NULL;
	int rc;

	if (idx == UINT64_MAX)
		return 0;
	if (idx >= MOD_NEW_BASE) {
		uint64_t j = idx - MOD_NEW_BASE;

		if (j >= c->next_new || c->new_seen[j]++) {
			if (!c->errors++)
				snprintf(c->first, sizeof(c->first),
					 "new key %llu returned twice or never inserted",
					 (unsigned long long)j);
		}
		c->new_returned++;
	}
	rc = k_delete(c->m, c->kind, idx, &old);
	if ((rc != 0 || old != e->value) && !c->errors++)
		snprintf(c->first, sizeof(c->first), "delete(%llu) in the callback: %d, old %p",
			 (unsigned long long)idx, rc, old);
	if (idx < MOD_KEYS) {
		for (int i = 0; i < MOD_NEW_PER_VISIT; i++) {
			uint64_t k = MOD_NEW_BASE + c->next_new++;

			rc = k_insert(c->m, c->kind, k, kval(k), NULL);
			if (rc != 0 && !c->errors++)
				snprintf(c->first, sizeof(c->first), "insert(%llu): %d",
					 (unsigned long long)k, rc);
		}
	}
	return 0;
}

START_TEST(test_iter_foreach_modifies_map)
{
	struct mod_ctx c;
	struct gcmap_stats st0, st;
	size_t count = 0, left = 0;

	memset(&c, 0, sizeof(c));
	c.kind = _i;
	c.m = make_map(c.kind, 0, NULL);
	fill(c.m, c.kind, 0, MOD_KEYS);
	ev_maintain_all(c.m, 1u << 16, 0, 100);
	tally_init(&c.t, c.kind, MOD_KEYS);
	c.new_seen = calloc(MOD_KEYS * MOD_NEW_PER_VISIT, 1);
	st0 = ev_stats(c.m);
	CK_OK(gcmap_foreach(c.m, modify_cb, &c));
	st = ev_stats(c.m);
	ck_assert_msg(c.errors == 0, "%lu errors in the callback; first: %s", c.errors, c.first);
	/* Each original key was present from the start until its own visit. */
	tally_expect_once(&c.t, 0, MOD_KEYS, "foreach that modifies the map");
	ck_assert_uint_eq(c.next_new, MOD_KEYS * MOD_NEW_PER_VISIT);
	ck_assert_msg(st.grows > st0.grows, "the inserts made the map grow %lu times",
		      st.grows - st0.grows);
	/* The map: no original key; the new keys the walk did not meet. */
	for (uint64_t i = 0; i < MOD_KEYS; i++)
		CK_RC(k_get(c.m, c.kind, i, NULL), -ENOENT);
	for (uint64_t j = 0; j < c.next_new; j++) {
		int rc = k_get(c.m, c.kind, MOD_NEW_BASE + j, NULL);

		ck_assert_int_eq(rc, c.new_seen[j] ? -ENOENT : 0);
		left += rc == 0;
	}
	CK_OK(gcmap_count(c.m, &count));
	ck_assert_uint_eq(count, left);
	ck_assert_uint_eq(left + c.new_returned, c.next_new);
	CK_OK(gcmap__check_invariants(c.m));
	free(c.new_seen);
	tally_free(&c.t);
	CK_OK(gcmap_destroy(c.m));
}
END_TEST

struct sync_ctx {
	int want; /* what gcmap_synchronize() must return */
	int depth; /* the read-side depth the callback must see */
	unsigned long calls, bad;
	int last_rc, last_depth;
};

static int sync_cb(const struct gcmap_entry *e, void *arg)
{
	struct sync_ctx *c = arg;

	(void)e;
	c->calls++;
	c->last_depth = gcmap__read_depth();
	if (c->last_depth != c->depth)
		c->bad++;
	if (c->calls % 8 == 1) {
		c->last_rc = gcmap_synchronize();
		if (c->last_rc != c->want)
			c->bad++;
	}
	return 0;
}

START_TEST(test_iter_foreach_synchronize)
{
	const int kind = _i;
	struct gcmap *m = make_map(kind, 0, NULL);
	struct sync_ctx c = { 0, 0, 0, 0, 0, 0 };

	fill(m, kind, 0, 400);
	/* The caller holds no section: the callback runs in none and may wait
	 * for a grace period. */
	CK_OK(gcmap_foreach(m, sync_cb, &c));
	ck_assert_msg(c.bad == 0, "callback: %lu bad calls; last synchronize %d, depth %d", c.bad,
		      c.last_rc, c.last_depth);
	ck_assert_uint_eq(c.calls, 400);
	/* Inside the caller's own section: only that one. */
	c = (struct sync_ctx){ -EDEADLK, 1, 0, 0, 0, 0 };
	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_foreach(m, sync_cb, &c));
	CK_OK(gcmap_read_unlock());
	ck_assert_msg(c.bad == 0, "callback in a section: %lu bad calls; last %d, depth %d", c.bad,
		      c.last_rc, c.last_depth);
	ck_assert_uint_eq(c.calls, 400);
	CK_OK(gcmap_destroy(m));
}
END_TEST

/* ---------------------------------------------------------------------- */
/* 4. Errors and allocation failures                                      */

START_TEST(test_iter_errors_null_args)
{
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct gcmap_iter *it = NULL;
	struct gcmap_entry e;
	struct gcmap_stats st;
	unsigned long calls = 0;

	fill(m, GCMAP_KEY_U64, 0, 10);
	CK_RC(gcmap_iter_begin(NULL, &it), -EINVAL);
	CK_RC(gcmap_iter_begin(m, NULL), -EINVAL);
	CK_RC(gcmap_foreach(NULL, count_cb, &calls), -EINVAL);
	CK_RC(gcmap_foreach(m, NULL, NULL), -EINVAL);
	CK_RC(gcmap_iter_end(NULL), -EINVAL);
	CK_RC(gcmap_iter_next(NULL, &e), -EINVAL);
	ck_assert_uint_eq(calls, 0);
	st = ev_stats(m);
	ck_assert_uint_eq(st.iterators, 0);
	ck_assert_uint_eq(st.bytes_pinned, 0);
	CK_OK(gcmap_iter_begin(m, &it));
	CK_RC(gcmap_iter_next(it, NULL), -EINVAL);
	CK_RC(gcmap_iter_next(it, &e), 1); /* nothing was lost */
	CK_OK(gcmap_iter_end(it));
	CK_OK(gcmap_destroy(m));
}
END_TEST

START_TEST(test_iter_errors_unregistered)
{
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct gcmap_iter *it = NULL;
	struct gcmap_entry e;
	struct tally t;
	unsigned long calls = 0;

	fill(m, GCMAP_KEY_U64, 0, 100);
	CK_OK(gcmap_thread_unregister()); /* the fixture registered this thread */
	CK_RC(gcmap_iter_begin(m, &it), -EPERM);
	CK_RC(gcmap_foreach(m, count_cb, &calls), -EPERM);
	ck_assert_uint_eq(calls, 0);
	CK_OK(gcmap_thread_register());

	/* An iterator whose thread unregisters mid-walk, and registers again. */
	tally_init(&t, GCMAP_KEY_U64, 100);
	CK_OK(gcmap_iter_begin(m, &it));
	ck_assert_uint_eq(walk(it, &t, 5, NULL), 5);
	CK_OK(gcmap_thread_unregister());
	CK_RC(gcmap_iter_next(it, &e), -EPERM);
	CK_OK(gcmap_thread_register());
	walk_to_end(it, &t);
	CK_OK(gcmap_iter_end(it));
	tally_expect_once(&t, 0, 100, "after -EPERM");
	tally_free(&t);
	CK_OK(gcmap_destroy(m));
}
END_TEST

/*
 * Every allocation of an iteration fails once, in turn: the iterator, and
 * the entry buffer (and the key buffer of byte-key maps) each time they
 * grow. The chains of the 8-bucket table (policy off) are filled so that
 * the walk's 1st, 2nd and 3rd steps need 10, 100 and 300 entries: the
 * buffers grow at three steps. -ENOMEM comes from gcmap_iter_begin() or
 * gcmap_iter_next(); calling again succeeds and the walk still returns
 * every key once.
 */
#define NM_SCAN 20000 /* candidate key numbers */

/* Entries per chain of a 2^3 table; the walk visits chains 0, 4, 2, 6, 1, 5,
 * 3, 7 (reversed order). */
static const unsigned int nm_quota[8] = { 10, 40, 300, 40, 100, 40, 40, 40 };

START_TEST(test_iter_enomem_and_retry)
{
	const int kind = _i;
	struct eva a;
	struct gcmap *m;
	struct tally t;
	unsigned long k, failed_begin = 0, failed_next = 0, nkeys = 0;
	unsigned int filled[8] = { 0 };
	uint8_t *in = calloc(NM_SCAN, 1);
	struct gcmap_stats st;

	ck_assert_ptr_nonnull(in);
	eva_init(&a);
	a.site_mask = 1u << GCMAP_SITE_ITER;
	m = make_map(kind, 3, &a.hooks);
	ev_flags_set(GCMAP_TEST_NO_POLICY); /* 8 chains, however long */
	for (uint64_t i = 0; i < NM_SCAN; i++) {
		unsigned int c = (unsigned int)(ev_hash(m, kind, i) & 7);

		if (filled[c] == nm_quota[c])
			continue;
		filled[c]++;
		in[i] = 1;
		nkeys++;
		CK_RC(k_put(m, kind, i, kval(i), NULL), 1);
	}
	for (unsigned int c = 0; c < 8; c++)
		ck_assert_uint_eq(filled[c], nm_quota[c]);
	ck_assert_uint_eq(cur_log2(m), 3);
	tally_init(&t, kind, NM_SCAN);
	for (k = 1;; k++) {
		struct gcmap_iter *it = NULL;
		struct gcmap_entry e;
		unsigned long failures = 0;
		int rc;

		__atomic_store_n(&a.ncounted, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&a.injected, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&a.fail_at, k, __ATOMIC_RELAXED);
		tally_reset(&t);
		rc = gcmap_iter_begin(m, &it);
		if (rc == -ENOMEM) {
			ck_assert(eva_injected(&a));
			failures++;
			failed_begin++;
			st = ev_stats(m);
			ck_assert_uint_eq(st.iterators, 0);
			ck_assert_uint_eq(st.bytes_pinned, 0);
			rc = gcmap_iter_begin(m, &it);
		}
		CK_OK(rc);
		while ((rc = gcmap_iter_next(it, &e)) != 0) {
			if (rc == -ENOMEM) {
				ck_assert_msg(eva_injected(&a) && failures == 0,
					      "k=%lu: -ENOMEM without an injected failure", k);
				failures++;
				failed_next++;
				continue; /* retries the same step */
			}
			CK_RC(rc, 1);
			tally_add(&t, &e);
		}
		CK_OK(gcmap_iter_end(it));
		ck_assert_msg(t.returned == nkeys, "k=%lu: %lu entries, want %lu", k, t.returned,
			      nkeys);
		ck_assert_msg(t.bad == 0, "k=%lu: %s", k, t.first_bad);
		for (uint64_t i = 0; i < NM_SCAN; i++)
			if (t.seen[i] != in[i])
				ck_abort_msg("k=%lu: key %llu returned %u times, want %u", k,
					     (unsigned long long)i, t.seen[i], in[i]);
		st = ev_stats(m);
		ck_assert_uint_eq(st.iterators, 0);
		ck_assert_uint_eq(st.bytes_pinned, 0);
		if (!eva_injected(&a))
			break; /* every allocation of a walk has failed once */
		ck_assert_uint_eq(failures, 1);
	}
	ck_assert_uint_eq(failed_begin, 1);
	/* Entry buffer: 3 grows; key buffer: 3 more with byte keys. */
	ck_assert_msg(failed_next == (kind == GCMAP_KEY_BYTES ? 6u : 3u),
		      "%s: %lu allocations of gcmap_iter_next failed", kind_name(kind),
		      failed_next);

	/* gcmap_foreach() passes -ENOMEM on and ends its iterator. */
	for (unsigned long f = 1; f <= 2; f++) {
		unsigned long calls = 0;

		__atomic_store_n(&a.ncounted, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&a.fail_at, f, __ATOMIC_RELAXED);
		CK_RC(gcmap_foreach(m, count_cb, &calls), -ENOMEM);
		ck_assert_uint_eq(calls, 0);
		st = ev_stats(m);
		ck_assert_uint_eq(st.iterators, 0);
		ck_assert_uint_eq(st.bytes_pinned, 0);
	}
	__atomic_store_n(&a.fail_at, 0, __ATOMIC_RELAXED);
	tally_free(&t);
	free(in);
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_barrier());
	eva_check_balanced(&a, "iteration with allocation failures");
}
END_TEST

/* ---------------------------------------------------------------------- */
/* 5. Memory: a live iterator keeps no table                               */

/* Bytes the map needs now with no iterator: itself, its current table and
 * its key copies (keys 0 .. @n-1 of test_util.h's format). */
static size_t needed_bytes(struct gcmap *m, int kind, uint64_t n)
{
	size_t b = sizeof(struct gcmap);

	CK_OK(gcmap_read_lock());
	b += ev_table_bytes(ev_tbl(m));
	CK_OK(gcmap_read_unlock());
	if (kind == GCMAP_KEY_BYTES) {
		unsigned char kb[KEY_BUF];

		for (uint64_t i = 0; i < n; i++)
			b += sizeof(struct gcmap_key) + key_bytes(i, kb);
	}
	return b;
}

#define MEM_KEYS 3000
#define MEM_EXTRA (30000 / EV_SCALE)
#define MEM_EXTRA_BASE 10000000

START_TEST(test_iter_memory_reclaimed_while_live)
{
	const int kind = _i;
	struct eva a;
	struct gcmap *m;
	struct gcmap_iter *it;
	struct gcmap_stats st0, st;
	struct tally t;

	eva_init(&a);
	m = make_map(kind, 0, &a.hooks);
	fill(m, kind, 0, MEM_KEYS);
	ev_maintain_all(m, 1u << 16, GCMAP_MAINTAIN_SHRINK_TO_FIT, 100);
	CK_OK(gcmap_barrier());
	st0 = ev_stats(m);
	ck_assert_uint_eq(st0.iterators, 0);
	ck_assert_uint_eq(st0.bytes_pinned, 0);
	ck_assert_uint_eq(st0.bytes_allocated, needed_bytes(m, kind, MEM_KEYS));

	/* A walk, part done. */
	tally_init(&t, kind, MEM_KEYS);
	CK_OK(gcmap_iter_begin(m, &it));
	ck_assert_uint_eq(walk(it, &t, 100, NULL), 100);
	st = ev_stats(m);
	ck_assert_uint_eq(st.iterators, 1);
	ck_assert_uint_gt(st.bytes_pinned, 0);
	CK_RC(gcmap_destroy(m), -EBUSY);

	/* Several complete grows and shrinks while it is live. */
	for (int cycle = 0; cycle < 3; cycle++) {
		fill(m, kind, MEM_EXTRA_BASE, MEM_EXTRA_BASE + MEM_EXTRA);
		ev_maintain_all(m, 1u << 16, 0, 1000);
		drain(m, kind, MEM_EXTRA_BASE, MEM_EXTRA_BASE + MEM_EXTRA);
		ev_maintain_all(m, 1u << 16, GCMAP_MAINTAIN_SHRINK_TO_FIT, 1000);
	}
	CK_OK(gcmap_barrier());
	st = ev_stats(m);
	ck_assert_uint_ge(st.grows - st0.grows, 3);
	ck_assert_uint_ge(st.shrinks - st0.shrinks, 3);
	ck_assert_uint_eq(st.log2_buckets, st0.log2_buckets);
	ck_assert_uint_eq(st.iterators, 1);
	ck_assert_uint_gt(st.bytes_pinned, 0);
	ck_assert_uint_eq(st.bytes_pending, 0);
	ck_assert_msg(st.bytes_allocated == needed_bytes(m, kind, MEM_KEYS) + st.bytes_pinned,
		      "with a live iterator the map holds %zu bytes; its table and keys need "
		      "%zu, the iterator %zu",
		      st.bytes_allocated, needed_bytes(m, kind, MEM_KEYS), st.bytes_pinned);
	/* ... and the allocator agrees: the old tables really went back. */
	ck_assert_uint_eq(st.bytes_allocated, LOAD(&a.bytes_alloc) - LOAD(&a.bytes_freed));

	/* The walk goes on: every original key once; the extra keys were
	 * inserted and deleted during it (at most once). */
	walk_to_end(it, &t);
	ck_assert_uint_eq(t.returned, MEM_KEYS + t.others);
	ck_assert_uint_le(t.others, MEM_EXTRA);
	tally_expect_once(&t, 0, MEM_KEYS, "after grows and shrinks");
	CK_OK(gcmap_iter_end(it));
	st = ev_stats(m);
	ck_assert_uint_eq(st.iterators, 0);
	ck_assert_uint_eq(st.bytes_pinned, 0);
	ck_assert_uint_eq(st.bytes_allocated, needed_bytes(m, kind, MEM_KEYS));
	tally_free(&t);
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_barrier());
	eva_check_balanced(&a, "reclaimed while live");
}
END_TEST

START_TEST(test_iter_memory_abandoned_and_destroy)
{
	const int kind = _i;
	struct eva a;
	struct gcmap *m;
	struct gcmap_iter *it1, *it2;
	struct gcmap_stats st0, st1, st;
	struct tally t;

	eva_init(&a);
	m = make_map(kind, 0, &a.hooks);
	fill(m, kind, 0, 2000);
	ev_maintain_all(m, 1u << 16, 0, 100);
	CK_OK(gcmap_barrier()); /* nothing pending: the byte counts stay put */
	st0 = ev_stats(m);
	tally_init(&t, kind, 2000);

	CK_OK(gcmap_iter_begin(m, &it1));
	ck_assert_uint_eq(walk(it1, &t, 10, NULL), 10);
	st1 = ev_stats(m);
	ck_assert_uint_eq(st1.iterators, 1);
	ck_assert_uint_gt(st1.bytes_pinned, 0);
	ck_assert_uint_eq(st1.bytes_allocated, st0.bytes_allocated + st1.bytes_pinned);

	CK_OK(gcmap_iter_begin(m, &it2));
	st = ev_stats(m);
	ck_assert_uint_eq(st.iterators, 2);
	ck_assert_uint_gt(st.bytes_pinned, st1.bytes_pinned);
	CK_RC(gcmap_destroy(m), -EBUSY);

	/* Abandoned unfinished: everything it held goes back. */
	CK_OK(gcmap_iter_end(it1));
	st = ev_stats(m);
	ck_assert_uint_eq(st.iterators, 1);
	ck_assert_uint_eq(st.bytes_allocated, st0.bytes_allocated + st.bytes_pinned);
	CK_RC(gcmap_destroy(m), -EBUSY);

	tally_reset(&t);
	walk_to_end(it2, &t);
	tally_expect_once(&t, 0, 2000, "second iterator");
	CK_OK(gcmap_iter_end(it2));
	st = ev_stats(m);
	ck_assert_uint_eq(st.iterators, 0);
	ck_assert_uint_eq(st.bytes_pinned, 0);
	ck_assert_uint_eq(st.bytes_allocated, st0.bytes_allocated);

	/* An iterator ended right after begin. */
	CK_OK(gcmap_iter_begin(m, &it1));
	CK_OK(gcmap_iter_end(it1));
	st = ev_stats(m);
	ck_assert_uint_eq(st.iterators, 0);
	ck_assert_uint_eq(st.bytes_pinned, 0);

	tally_free(&t);
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_barrier());
	eva_check_balanced(&a, "abandoned iterators");
}
END_TEST

/* ---------------------------------------------------------------------- */
/* 6. Concurrent: the short stress and its negative control               */

static struct is_opts conc_opts(int kind, uint64_t seed)
{
	struct is_opts o;

	memset(&o, 0, sizeof(o));
	o.kind = (enum gcmap_key_kind)kind;
	o.seed = seed;
	o.writers = 2;
	o.iterators = 1;
	o.churn_keys = GCMAP_TSAN_ON ? 2048 : 8192;
	o.stable_keys = GCMAP_TSAN_ON ? 256 : 512;
	o.yield_every = 4;
	o.min_secs = GCMAP_TSAN_ON ? 1.0 : 0.25;
	o.max_secs = 90;
	o.min_iterations = 3;
	o.stop_on_violation = true;
	return o;
}

static void print_result(const char *what, const struct is_opts *o, const struct is_result *r)
{
	printf("%s, %s keys, seed %llu: %.2f s, %lu walks, %lu waves; during walks %lu grows, "
	       "%lu shrinks, %lu walks saw a grace period; %lu duplicates, %lu missed, %lu bad "
	       "values, %lu errors%s%s\n",
	       what, kind_name(o->kind), (unsigned long long)o->seed, r->secs, r->iterations,
	       r->waves, r->grows_live, r->shrinks_live, r->gp_live, r->dups, r->missed,
	       r->bad_values, r->errors, r->first[0] ? "; first: " : "", r->first);
	fflush(stdout);
}

START_TEST(test_iter_concurrent_contract)
{
	struct is_opts o = conc_opts(_i, (uint64_t)time(NULL) ^ ((uint64_t)_i << 40));
	struct is_result r;

	CK_OK(is_run(&o, &r));
	print_result("iter stress", &o, &r);
	ck_assert_msg(is_violations(&r) == 0,
		      "seed %llu: %lu duplicates, %lu missed, %lu bad values, %lu errors; "
		      "first: %s",
		      (unsigned long long)o.seed, r.dups, r.missed, r.bad_values, r.errors,
		      r.first);
	ck_assert_msg(r.iterations >= o.min_iterations && r.grows_live > 0 && r.shrinks_live > 0 &&
			      r.gp_live > 0,
		      "no overlap in %.1f s: %lu walks; during walks %lu grows, %lu shrinks, %lu "
		      "with a grace period",
		      r.secs, r.iterations, r.grows_live, r.shrinks_live, r.gp_live);
}
END_TEST

START_TEST(test_iter_concurrent_no_filter_caught)
{
	struct is_opts o = conc_opts(_i, (uint64_t)time(NULL) ^ ((uint64_t)_i << 40));
	struct is_result r;

	o.no_filter = true;
	CK_OK(is_run(&o, &r));
	print_result("iter stress, NO_FILTER", &o, &r);
	ck_assert_msg(r.dups > 0,
		      "negative control not caught: GCMAP_TEST_ITER_NO_FILTER ran %.1f s (%lu "
		      "walks, %lu shrinks during walks) without a duplicate",
		      r.secs, r.iterations, r.shrinks_live);
	ck_assert_msg(r.missed == 0 && r.bad_values == 0 && r.errors == 0,
		      "NO_FILTER should only duplicate: %s", r.first);
}
END_TEST

/* ---------------------------------------------------------------------- */

static Suite *iter_suite(void)
{
	Suite *s = suite_create("iter");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_iter_empty, 0, 2);
	tcase_add_loop_test(tc, test_iter_one_key, 0, 2);
	tcase_add_loop_test(tc, test_iter_100k_exactly_once, 0, 2);
	tcase_add_test(tc, test_iter_byte_keys_nul_and_empty);
	tcase_add_loop_test(tc, test_iter_across_resizes, 0, 2);
	tcase_add_loop_test(tc, test_iter_shrink_filter_and_negative_control, 0, 2);
	tcase_add_loop_test(tc, test_iter_random_resize_schedules, 0, 2);
	tcase_add_loop_test(tc, test_iter_foreach_stops_early, 0, 2);
	tcase_add_loop_test(tc, test_iter_foreach_modifies_map, 0, 2);
	tcase_add_loop_test(tc, test_iter_foreach_synchronize, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_iter_errors_null_args);
	tcase_add_test(tc, test_iter_errors_unregistered);
	tcase_add_loop_test(tc, test_iter_enomem_and_retry, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("memory");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_iter_memory_reclaimed_while_live, 0, 2);
	tcase_add_loop_test(tc, test_iter_memory_abandoned_and_destroy, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrent");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_iter_concurrent_contract, 0, 2);
	tcase_add_loop_test(tc, test_iter_concurrent_no_filter_caught, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(iter_suite());
}
