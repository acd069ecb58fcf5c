/*
 * check_map.c - single-threaded map behaviour: every operation for both key
 * kinds and its return codes, overflow chains, byte-string key limits,
 * option and argument errors, hashing (seeds, SipHash-2-4 vectors), stats
 * and gcmap_strerror().
 */
#include "test_util.h"

#include <stdlib.h>

/* Every test of this suite runs in a registered thread. */
static void setup_registered(void)
{
	ck_assert_int_eq(gcmap_thread_register(), 0);
}

static void teardown_registered(void)
{
	ck_assert_int_eq(gcmap_barrier(), 0);
	ck_assert_int_eq(gcmap_thread_unregister(), 0);
}

static size_t map_count(struct gcmap *m)
{
	size_t n = (size_t)-1;

	CK_OK(gcmap_count(m, &n));
	return n;
}

static void destroy(struct gcmap *m)
{
	CK_OK(gcmap__check_invariants(m));
	CK_OK(gcmap_destroy(m));
}

/*
 * The full single-key protocol for key number @idx (absent on entry, absent
 * on return), for either kind.
 */
static void single_key_protocol(struct gcmap *m, int kind, uint64_t idx)
{
	void *v;
	void *a = val_of(0x1000 + idx * 16), *b = val_of(0x2000 + idx * 16),
	     *c = val_of(0x3000 + idx * 16);

	v = SENTINEL;
	CK_RC(k_get(m, kind, idx, &v), -ENOENT);
	CK_RC(k_replace(m, kind, idx, b, &v), -ENOENT);
	CK_RC(k_cas(m, kind, idx, a, b, &v), -ENOENT);
	CK_RC(k_delete(m, kind, idx, &v), -ENOENT);
	CK_RC(k_get(m, kind, idx, &v), -ENOENT);

	/* put: 1 on insert with *old = NULL, 0 on replace with the old value. */
	v = SENTINEL;
	CK_RC(k_put(m, kind, idx, a, &v), 1);
	ck_assert_ptr_null(v);
	v = NULL;
	CK_OK(k_get(m, kind, idx, &v));
	ck_assert_ptr_eq(v, a);
	v = NULL;
	CK_RC(k_put(m, kind, idx, b, &v), 0);
	ck_assert_ptr_eq(v, a);
	CK_OK(k_get(m, kind, idx, &v));
	ck_assert_ptr_eq(v, b);

	/* insert on a present key: -EEXIST with the present value, unchanged. */
	v = NULL;
	CK_RC(k_insert(m, kind, idx, c, &v), -EEXIST);
	ck_assert_ptr_eq(v, b);
	CK_OK(k_get(m, kind, idx, &v));
	ck_assert_ptr_eq(v, b);

	/* replace on a present key. */
	v = NULL;
	CK_OK(k_replace(m, kind, idx, c, &v));
	ck_assert_ptr_eq(v, b);
	CK_OK(k_get(m, kind, idx, &v));
	ck_assert_ptr_eq(v, c);

	/* cas: mismatch -ECANCELED with the value found, unchanged. */
	v = NULL;
	CK_RC(k_cas(m, kind, idx, a, b, &v), -ECANCELED);
	ck_assert_ptr_eq(v, c);
	CK_OK(k_get(m, kind, idx, &v));
	ck_assert_ptr_eq(v, c);
	/* cas: match swaps; *cur is the value found (the expected one). */
	v = NULL;
	CK_OK(k_cas(m, kind, idx, c, a, &v));
	ck_assert_ptr_eq(v, c);
	CK_OK(k_get(m, kind, idx, &v));
	ck_assert_ptr_eq(v, a);

	/* delete returns the removed value; afterwards the key is absent. */
	v = NULL;
	CK_OK(k_delete(m, kind, idx, &v));
	ck_assert_ptr_eq(v, a);
	CK_RC(k_get(m, kind, idx, &v), -ENOENT);
	CK_RC(k_delete(m, kind, idx, &v), -ENOENT);

	/* insert on an absent key. */
	CK_OK(k_insert(m, kind, idx, b, &v));
	CK_OK(k_get(m, kind, idx, &v));
	ck_assert_ptr_eq(v, b);
	CK_OK(k_delete(m, kind, idx, NULL));
}

/* NULL values are ordinary values; every optional out-parameter may be NULL. */
static void null_values_and_outs(struct gcmap *m, int kind, uint64_t idx)
{
	void *v;

	v = SENTINEL;
	CK_RC(k_put(m, kind, idx, NULL, &v), 1);
	ck_assert_ptr_null(v);
	v = SENTINEL;
	CK_OK(k_get(m, kind, idx, &v));
	ck_assert_ptr_null(v);
	CK_OK(k_get(m, kind, idx, NULL));
	v = SENTINEL;
	CK_RC(k_insert(m, kind, idx, val_of(1), &v), -EEXIST);
	ck_assert_ptr_null(v);
	CK_RC(k_cas(m, kind, idx, val_of(1), val_of(2), &v), -ECANCELED);
	ck_assert_ptr_null(v);
	CK_OK(k_cas(m, kind, idx, NULL, val_of(2), &v));
	CK_OK(k_cas(m, kind, idx, val_of(2), NULL, NULL));
	v = SENTINEL;
	CK_OK(k_delete(m, kind, idx, &v));
	ck_assert_ptr_null(v);
	ck_assert_uint_eq(map_count(m), 0);

	/* Every optional out-parameter NULL. */
	CK_RC(k_put(m, kind, idx, val_of(7), NULL), 1);
	CK_RC(k_put(m, kind, idx, val_of(8), NULL), 0);
	CK_RC(k_insert(m, kind, idx, val_of(9), NULL), -EEXIST);
	CK_OK(k_replace(m, kind, idx, val_of(10), NULL));
	CK_RC(k_cas(m, kind, idx, val_of(7), val_of(11), NULL), -ECANCELED);
	CK_OK(k_cas(m, kind, idx, val_of(10), val_of(11), NULL));
	CK_OK(k_get(m, kind, idx, &v));
	ck_assert_ptr_eq(v, val_of(11));
	CK_OK(k_delete(m, kind, idx, NULL));
	CK_RC(k_get(m, kind, idx, NULL), -ENOENT);
	CK_RC(k_replace(m, kind, idx, val_of(1), NULL), -ENOENT);
	CK_RC(k_cas(m, kind, idx, NULL, val_of(1), NULL), -ENOENT);
	CK_RC(k_delete(m, kind, idx, NULL), -ENOENT);
	CK_OK(k_insert(m, kind, idx, val_of(12), NULL));
	CK_OK(k_delete(m, kind, idx, NULL));
}

/* Value stored for key number @i in phase @p. */
static void *pval(uint64_t i, unsigned int p)
{
	return val_of(((i + 1) << 4) | p);
}

/*
 * Many keys in a small table: overflow chains form; every key stays
 * retrievable through delete-half and reinsert phases.
 */
static void many_keys(int kind, unsigned int log2, uint64_t n)
{
	struct gcmap *m = make_map(kind, log2, NULL);
	struct gcmap_stats st;
	void *v;
	uint64_t i;

	for (i = 0; i < n; i++)
		ck_assert_msg(k_put(m, kind, i, pval(i, 1), NULL) == 1, "%s key %llu",
			      kind_name(kind), (unsigned long long)i);
	CK_OK(gcmap__check_invariants(m));
	ck_assert_uint_eq(map_count(m), n);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CK_OK(gcmap_stats(m, &st));
	ck_assert_uint_eq(st.entries, n);
	ck_assert_uint_ge(st.slots, n);
	ck_assert_uint_eq(st.slots, GCMAP_SLOTS * (st.buckets + st.overflow_buckets));
	for (i = 0; i < n; i++) {
		v = NULL;
		ck_assert_msg(k_get(m, kind, i, &v) == 0 && v == pval(i, 1),
			      "%s key %llu lost after fill", kind_name(kind),
			      (unsigned long long)i);
	}
	CK_RC(k_get(m, kind, n, NULL), -ENOENT);

	/* Delete the even keys. */
	for (i = 0; i < n; i += 2) {
		v = NULL;
		ck_assert_msg(k_delete(m, kind, i, &v) == 0 && v == pval(i, 1), "delete %llu",
			      (unsigned long long)i);
	}
	CK_OK(gcmap__check_invariants(m));
	ck_assert_uint_eq(map_count(m), n / 2);
	for (i = 0; i < n; i++) {
		int rc = k_get(m, kind, i, &v);

		if (i % 2 == 0)
			ck_assert_msg(rc == -ENOENT, "deleted key %llu still found",
				      (unsigned long long)i);
		else
			ck_assert_msg(rc == 0 && v == pval(i, 1), "odd key %llu lost after deletes",
				      (unsigned long long)i);
	}

	/* Reinsert the even keys with new values. */
	for (i = 0; i < n; i += 2)
		ck_assert_msg(k_insert(m, kind, i, pval(i, 2), NULL) == 0, "reinsert %llu",
			      (unsigned long long)i);
	CK_OK(gcmap__check_invariants(m));
	ck_assert_uint_eq(map_count(m), n);
	for (i = 0; i < n; i++) {
		v = NULL;
		ck_assert_msg(k_get(m, kind, i, &v) == 0 && v == pval(i, i % 2 ? 1 : 2),
			      "key %llu wrong after reinsert", (unsigned long long)i);
	}
	destroy(m);
}

/* Clear: entries gone, count 0, the map is usable afterwards. */
static void clear_and_reuse(int kind)
{
	struct gcmap *m = make_map(kind, 1, NULL);
	void *v;
	uint64_t i, n = 300;

	CK_OK(gcmap_clear(m)); /* empty map */
	ck_assert_uint_eq(map_count(m), 0);
	for (i = 0; i < n; i++)
		CK_RC(k_put(m, kind, i, pval(i, 1), NULL), 1);
	ck_assert_uint_eq(map_count(m), n);
	CK_OK(gcmap_clear(m));
	CK_OK(gcmap__check_invariants(m));
	ck_assert_uint_eq(map_count(m), 0);
	for (i = 0; i < n; i++) {
		ck_assert_msg(k_get(m, kind, i, NULL) == -ENOENT, "key %llu survived clear",
			      (unsigned long long)i);
		CK_RC(k_delete(m, kind, i, NULL), -ENOENT);
	}
	/* Reuse after clear. */
	for (i = 0; i < n; i += 3)
		CK_RC(k_put(m, kind, i, pval(i, 2), NULL), 1);
	CK_OK(gcmap__check_invariants(m));
	ck_assert_uint_eq(map_count(m), (n + 2) / 3);
	for (i = 0; i < n; i++) {
		int rc = k_get(m, kind, i, &v);

		if (i % 3 == 0)
			ck_assert_msg(rc == 0 && v == pval(i, 2), "key %llu",
				      (unsigned long long)i);
		else
			ck_assert_int_eq(rc, -ENOENT);
	}
	CK_OK(gcmap_clear(m));
	CK_OK(gcmap_clear(m));
	ck_assert_uint_eq(map_count(m), 0);
	destroy(m);
}

/* ---- core: u64 keys ---- */

START_TEST(test_map_create_destroy)
{
	struct gcmap *m = SENTINEL;
	struct gcmap_options o;

	CK_OK(gcmap_create(NULL, &m));
	ck_assert_ptr_ne(m, SENTINEL);
	ck_assert_uint_eq(map_count(m), 0);
	CK_RC(gcmap_get_u64(m, 1, NULL), -ENOENT);
	CK_OK(gcmap_destroy(m));

	/* Zeroed options with only the size: u64 keys and defaults. */
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	CK_OK(gcmap_create(&o, &m));
	CK_RC(gcmap_put_u64(m, 1, val_of(1), NULL), 1);
	destroy(m);

	/* A map may be created by an unregistered thread: see check_rcu.c. */
}
END_TEST

START_TEST(test_map_u64_ops)
{
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	static const uint64_t keys[] = {
		0, 1, 2, 7, 8, 0x8000000000000000ull, UINT64_MAX, UINT64_MAX - 1, 0xdeadbeefull
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		single_key_protocol(m, GCMAP_KEY_U64, keys[i]);
		ck_assert_uint_eq(map_count(m), 0);
	}
	/* All at once: distinct keys do not disturb each other. */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		CK_RC(gcmap_put_u64(m, keys[i], val_of(i + 100), NULL), 1);
	ck_assert_uint_eq(map_count(m), sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		void *v = NULL;

		CK_OK(gcmap_get_u64(m, keys[i], &v));
		ck_assert_ptr_eq(v, val_of(i + 100));
	}
	destroy(m);
}
END_TEST

START_TEST(test_map_null_values_and_outs)
{
	struct gcmap *m = make_map(_i, 0, NULL);

	null_values_and_outs(m, _i, 42);
	null_values_and_outs(m, _i, 0);
	destroy(m);
}
END_TEST

START_TEST(test_map_count)
{
	struct gcmap *m = make_map(_i, 0, NULL);
	size_t n;

	ck_assert_uint_eq(map_count(m), 0);
	for (uint64_t i = 0; i < 50; i++) {
		CK_RC(k_put(m, _i, i, NULL, NULL), 1);
		ck_assert_uint_eq(map_count(m), i + 1);
	}
	CK_RC(k_put(m, _i, 3, val_of(1), NULL), 0); /* replace: no change */
	CK_RC(k_insert(m, _i, 3, val_of(1), NULL), -EEXIST);
	CK_OK(k_replace(m, _i, 4, val_of(1), NULL));
	CK_OK(k_cas(m, _i, 4, val_of(1), val_of(2), NULL));
	ck_assert_uint_eq(map_count(m), 50);
	CK_RC(k_delete(m, _i, 1000, NULL), -ENOENT);
	ck_assert_uint_eq(map_count(m), 50);
	for (uint64_t i = 0; i < 50; i += 2)
		CK_OK(k_delete(m, _i, i, NULL));
	ck_assert_uint_eq(map_count(m), 25);
	CK_RC(gcmap_count(NULL, &n), -EINVAL);
	CK_RC(gcmap_count(m, NULL), -EINVAL);
	destroy(m);
}
END_TEST

START_TEST(test_map_clear)
{
	clear_and_reuse(_i);
}
END_TEST

START_TEST(test_map_overflow_chains)
{
	/* log2 0 = default 3: 8 buckets x 8 slots to start with, 10,000 keys. */
	many_keys(_i, 0, 10000);
}
END_TEST

START_TEST(test_map_one_bucket)
{
	struct gcmap_options o;
	struct gcmap *m;
	struct gcmap_stats st;

	/* log2 0 means "default"; the smallest explicit table is 2 buckets. */
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.key_kind = (enum gcmap_key_kind)_i;
	o.log2_buckets = 1;
	CK_OK(gcmap_create(&o, &m));
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CK_OK(gcmap_stats(m, &st));
	ck_assert_uint_eq(st.buckets, 2);
	ck_assert_uint_eq(st.log2_buckets, 1);
	destroy(m);
	many_keys(_i, 1, 1000);
}
END_TEST

/* Key numbers whose hash puts them into bucket @b of a 2^@log2 table. */
static void colliding_keys(struct gcmap *m, int kind, unsigned int log2, uint64_t b, uint64_t *out,
			   size_t n)
{
	size_t got = 0;

	for (uint64_t i = 0; got < n; i++) {
		unsigned char buf[KEY_BUF];
		uint64_t h = kind == GCMAP_KEY_U64 ? gcmap__hash_u64(m, i) :
						     gcmap__hash_bytes(m, buf, key_bytes(i, buf));

		if ((h & (((uint64_t)1 << log2) - 1)) == b)
			out[got++] = i;
	}
}

static struct gcmap_stats get_stats(struct gcmap *m)
{
	struct gcmap_stats st;

	memset(&st, 0xff, sizeof(st));
	st.size = sizeof(st);
	CK_OK(gcmap_stats(m, &st));
	ck_assert_uint_eq(st.size, sizeof(st));
	ck_assert_uint_eq(st.slots, GCMAP_SLOTS * (st.buckets + st.overflow_buckets));
	ck_assert_uint_eq(st.buckets, (size_t)1 << st.log2_buckets);
	ck_assert_uint_le(st.bytes_pending, st.bytes_allocated);
	ck_assert_uint_ge(st.longest_chain, 1);
	ck_assert_uint_le(st.longest_chain, 1 + st.overflow_buckets);
	ck_assert_uint_le(st.free_slots_in_used, st.slots - st.entries);
	return st;
}

/*
 * One chain of the default table (8 buckets x 8 slots) gets 48 keys: five
 * overflow buckets, fewer than the primary buckets and a load below any
 * resize threshold, so the table keeps its size and the chain its shape.
 */
START_TEST(test_map_overflow_chain)
{
	struct gcmap *m = make_map(_i, 0, NULL);
	struct gcmap_stats st;
	uint64_t keys[96];
	void *v;

	colliding_keys(m, _i, GCMAP_DEFAULT_LOG2, 5, keys, 96);
	for (int i = 0; i < 48; i++)
		CK_RC(k_put(m, _i, keys[i], pval(keys[i], 1), NULL), 1);
	CK_OK(gcmap__check_invariants(m));
	st = get_stats(m);
	ck_assert_uint_eq(st.entries, 48);
	ck_assert_uint_eq(st.buckets, 8);
	ck_assert_uint_eq(st.overflow_buckets, 5);
	ck_assert_uint_eq(st.longest_chain, 6);
	ck_assert_uint_eq(st.free_slots_in_used, 0);
	for (int i = 0; i < 48; i++) {
		CK_OK(k_get(m, _i, keys[i], &v));
		ck_assert_ptr_eq(v, pval(keys[i], 1));
	}
	CK_RC(k_get(m, _i, keys[48], NULL), -ENOENT); /* same chain, absent */

	/* Delete every other key: holes all along the chain. */
	for (int i = 0; i < 48; i += 2)
		CK_OK(k_delete(m, _i, keys[i], NULL));
	CK_OK(gcmap__check_invariants(m));
	st = get_stats(m);
	ck_assert_uint_eq(st.entries, 24);
	ck_assert_uint_eq(st.free_slots_in_used, 24);
	for (int i = 0; i < 48; i++)
		CK_RC(k_get(m, _i, keys[i], &v), i % 2 ? 0 : -ENOENT);

	/* 24 new keys of the same chain fill the holes: no new bucket. */
	for (int i = 48; i < 72; i++)
		CK_RC(k_put(m, _i, keys[i], pval(keys[i], 2), NULL), 1);
	CK_OK(gcmap__check_invariants(m));
	st = get_stats(m);
	ck_assert_uint_eq(st.entries, 48);
	ck_assert_uint_eq(st.overflow_buckets, 5);
	ck_assert_uint_eq(st.free_slots_in_used, 0);
	for (int i = 0; i < 72; i++) {
		int rc = k_get(m, _i, keys[i], &v);

		if (i < 48 && i % 2 == 0)
			ck_assert_int_eq(rc, -ENOENT);
		else
			ck_assert_msg(rc == 0 && v == pval(keys[i], i < 48 ? 1 : 2), "key %d", i);
	}
	/* The deleted keys come back (duplicates impossible: the invariants). */
	for (int i = 0; i < 48; i += 2)
		CK_RC(k_insert(m, _i, keys[i], pval(keys[i], 3), NULL), 0);
	CK_OK(gcmap__check_invariants(m));
	st = get_stats(m);
	ck_assert_uint_eq(st.entries, 72);
	for (int i = 0; i < 72; i++)
		CK_OK(k_get(m, _i, keys[i], NULL));
	destroy(m);
}
END_TEST

START_TEST(test_map_stats)
{
	struct gcmap *m = make_map(_i, 0, NULL);
	struct gcmap_stats st, st2, st3;
	uint64_t keys[20];

	st = get_stats(m);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.buckets, 8);
	ck_assert_uint_eq(st.log2_buckets, GCMAP_DEFAULT_LOG2);
	ck_assert_uint_eq(st.overflow_buckets, 0);
	ck_assert_uint_eq(st.slots, 8 * 8);
	ck_assert_uint_eq(st.longest_chain, 1);
	ck_assert_uint_eq(st.free_slots_in_used, 0);
	ck_assert_uint_gt(st.bytes_allocated, 8 * sizeof(struct gcmap_bucket));

	/* 20 keys in one chain: 8 + 8 + 4, two overflow buckets. */
	colliding_keys(m, _i, GCMAP_DEFAULT_LOG2, 2, keys, 20);
	for (int i = 0; i < 20; i++)
		CK_RC(k_put(m, _i, keys[i], NULL, NULL), 1);
	st2 = get_stats(m);
	ck_assert_uint_eq(st2.entries, 20);
	ck_assert_uint_eq(st2.buckets, 8);
	ck_assert_uint_eq(st2.overflow_buckets, 2);
	ck_assert_uint_eq(st2.slots, 8 * (8 + 2));
	ck_assert_uint_eq(st2.longest_chain, 3);
	ck_assert_uint_eq(st2.free_slots_in_used, 4);
	ck_assert_uint_ge(st2.bytes_allocated, st.bytes_allocated +
						       2 * sizeof(struct gcmap_bucket) +
						       (_i == GCMAP_KEY_BYTES ? 20 * 12 : 0));

	/* Overfill: 520 keys in a table that started with 64 slots. */
	for (uint64_t i = 1000; i < 1500; i++)
		CK_RC(k_put(m, _i, i, NULL, NULL), 1);
	st3 = get_stats(m);
	ck_assert_uint_eq(st3.entries, 520);
	ck_assert_uint_ge(st3.slots, 520);
	ck_assert_uint_gt(st3.bytes_allocated, st2.bytes_allocated);
	{
		size_t n;

		CK_OK(gcmap_count(m, &n));
		ck_assert_uint_eq(st3.entries, n);
	}

	/* size too small, NULL arguments. */
	st3.size = sizeof(st3) - 1;
	CK_RC(gcmap_stats(m, &st3), -EINVAL);
	st3.size = 0;
	CK_RC(gcmap_stats(m, &st3), -EINVAL);
	CK_RC(gcmap_stats(m, NULL), -EINVAL);
	st3.size = sizeof(st3);
	CK_RC(gcmap_stats(NULL, &st3), -EINVAL);

	/* After clear (and its grace period): an empty table, no overflow. */
	CK_OK(gcmap_clear(m));
	CK_OK(gcmap_barrier());
	st3 = get_stats(m);
	ck_assert_uint_eq(st3.entries, 0);
	ck_assert_uint_eq(st3.overflow_buckets, 0);
	ck_assert_uint_eq(st3.longest_chain, 1);
	ck_assert_uint_eq(st3.bytes_pending, 0);
	destroy(m);
}
END_TEST

START_TEST(test_map_stats_bytes_keys)
{
	/* Key copies count in bytes_allocated and go away with delete. */
	struct gcmap *m = make_map(GCMAP_KEY_BYTES, 0, NULL);
	struct gcmap_stats st;
	size_t b0, b1;
	unsigned char key[1000];

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CK_OK(gcmap_stats(m, &st));
	b0 = st.bytes_allocated;
	memset(key, 'x', sizeof(key));
	CK_RC(gcmap_put_bytes(m, key, sizeof(key), NULL, NULL), 1);
	CK_OK(gcmap_stats(m, &st));
	b1 = st.bytes_allocated;
	ck_assert_uint_ge(b1, b0 + sizeof(key));
	CK_OK(gcmap_delete_bytes(m, key, sizeof(key), NULL));
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_stats(m, &st));
	ck_assert_uint_eq(st.bytes_allocated, b0);
	ck_assert_uint_eq(st.bytes_pending, 0);
	destroy(m);
}
END_TEST

/* ---- bytes: byte-string keys ---- */

START_TEST(test_map_bytes_ops)
{
	struct gcmap *m = make_map(GCMAP_KEY_BYTES, 0, NULL);

	for (uint64_t i = 0; i < 40; i++) {
		single_key_protocol(m, GCMAP_KEY_BYTES, i);
		ck_assert_uint_eq(map_count(m), 0);
	}
	destroy(m);
}
END_TEST

START_TEST(test_map_bytes_empty_key)
{
	struct gcmap *m = make_map(GCMAP_KEY_BYTES, 0, NULL);
	void *v;
	char one = 0;

	/* The empty key: NULL with length 0 and any pointer with length 0 agree. */
	CK_RC(gcmap_get_bytes(m, NULL, 0, &v), -ENOENT);
	CK_RC(gcmap_put_bytes(m, NULL, 0, val_of(5), &v), 1);
	ck_assert_ptr_null(v);
	CK_OK(gcmap_get_bytes(m, "abc", 0, &v));
	ck_assert_ptr_eq(v, val_of(5));
	CK_RC(gcmap_get_bytes(m, &one, 1, NULL), -ENOENT); /* "\0" is another key */
	CK_RC(gcmap_insert_bytes(m, "", 0, val_of(6), &v), -EEXIST);
	ck_assert_ptr_eq(v, val_of(5));
	CK_OK(gcmap_replace_bytes(m, NULL, 0, val_of(7), &v));
	ck_assert_ptr_eq(v, val_of(5));
	CK_OK(gcmap_cas_bytes(m, NULL, 0, val_of(7), val_of(8), &v));
	CK_RC(gcmap_put_bytes(m, &one, 1, val_of(9), NULL), 1);
	ck_assert_uint_eq(map_count(m), 2);
	CK_OK(gcmap_delete_bytes(m, NULL, 0, &v));
	ck_assert_ptr_eq(v, val_of(8));
	CK_OK(gcmap_get_bytes(m, &one, 1, &v));
	ck_assert_ptr_eq(v, val_of(9));
	single_key_protocol(m, GCMAP_KEY_BYTES, 0);
	destroy(m);
}
END_TEST

START_TEST(test_map_bytes_last_byte)
{
	/* Keys differing only in their last byte, for several lengths. */
	struct gcmap *m = make_map(GCMAP_KEY_BYTES, 1, NULL);
	unsigned char key[200];
	static const size_t lens[] = { 1, 7, 8, 9, 15, 16, 17, 31, 64, 199 };
	size_t nl = sizeof(lens) / sizeof(lens[0]);
	void *v;

	memset(key, 'q', sizeof(key));
	for (size_t l = 0; l < nl; l++)
		for (unsigned int b = 0; b < 256; b += 5) {
			key[lens[l] - 1] = (unsigned char)b;
			CK_RC(gcmap_put_bytes(m, key, lens[l], val_of(lens[l] * 1000 + b), NULL),
			      1);
			key[lens[l] - 1] = 'q';
		}
	CK_OK(gcmap__check_invariants(m));
	ck_assert_uint_eq(map_count(m), nl * 52);
	for (size_t l = 0; l < nl; l++)
		for (unsigned int b = 0; b < 256; b++) {
			int rc;

			key[lens[l] - 1] = (unsigned char)b;
			rc = gcmap_get_bytes(m, key, lens[l], &v);
			key[lens[l] - 1] = 'q';
			if (b % 5 == 0)
				ck_assert_msg(rc == 0 && v == val_of(lens[l] * 1000 + b),
					      "len %zu last byte %u", lens[l], b);
			else
				ck_assert_msg(rc == -ENOENT, "len %zu last byte %u: %d", lens[l], b,
					      rc);
		}
	/* A prefix is a different key. */
	key[15] = 0;
	CK_RC(gcmap_get_bytes(m, key, 15, NULL), -ENOENT);
	destroy(m);
}
END_TEST

START_TEST(test_map_bytes_binary)
{
	struct gcmap *m = make_map(GCMAP_KEY_BYTES, 0, NULL);
	static const struct {
		const char *k;
		size_t len;
	} keys[] = {
		{ "a", 1 },
		{ "a\0", 2 },
		{ "a\0b", 3 },
		{ "a\0c", 3 },
		{ "\0", 1 },
		{ "\0\0", 2 },
		{ "\0\0\0", 3 },
		{ "\0a", 2 },
		{ "b\0a", 3 },
		{ "\xff\0\xff", 3 },
		{ "\0\0\0\0\0\0\0\0", 8 },
		{ "\0\0\0\0\0\0\0\0\0", 9 },
	};
	size_t n = sizeof(keys) / sizeof(keys[0]);
	void *v;

	for (size_t i = 0; i < n; i++)
		CK_RC(gcmap_put_bytes(m, keys[i].k, keys[i].len, val_of(i + 1), NULL), 1);
	ck_assert_uint_eq(map_count(m), n);
	for (size_t i = 0; i < n; i++) {
		CK_OK(gcmap_get_bytes(m, keys[i].k, keys[i].len, &v));
		ck_assert_ptr_eq(v, val_of(i + 1));
	}
	/* A u64 key and an 8-byte string with its bytes are unrelated maps. */
	for (size_t i = 0; i < n; i += 2)
		CK_OK(gcmap_delete_bytes(m, keys[i].k, keys[i].len, NULL));
	for (size_t i = 0; i < n; i++)
		CK_RC(gcmap_get_bytes(m, keys[i].k, keys[i].len, &v), i % 2 ? 0 : -ENOENT);
	destroy(m);
}
END_TEST

START_TEST(test_map_bytes_copied)
{
	struct gcmap *m = make_map(GCMAP_KEY_BYTES, 0, NULL);
	char buf[64], orig[64];
	void *v;

	strcpy(buf, "the caller's buffer");
	memcpy(orig, buf, sizeof(buf));
	CK_RC(gcmap_put_bytes(m, buf, strlen(buf), val_of(1), NULL), 1);
	memset(buf, 'Z', sizeof(buf)); /* scribble over it */
	CK_OK(gcmap_get_bytes(m, orig, strlen(orig), &v));
	ck_assert_ptr_eq(v, val_of(1));
	CK_RC(gcmap_get_bytes(m, buf, strlen(orig), NULL), -ENOENT);
	/* Also for insert. */
	strcpy(buf, "second key");
	CK_OK(gcmap_insert_bytes(m, buf, 10, val_of(2), NULL));
	memset(buf, 0, sizeof(buf));
	CK_OK(gcmap_get_bytes(m, "second key", 10, &v));
	ck_assert_ptr_eq(v, val_of(2));
	/* A heap buffer freed after put. */
	{
		char *h = malloc(32);

		ck_assert_ptr_nonnull(h);
		memcpy(h, "heap key 0123456789abcdefghijkl", 32);
		CK_RC(gcmap_put_bytes(m, h, 32, val_of(3), NULL), 1);
		free(h);
	}
	CK_OK(gcmap_get_bytes(m, "heap key 0123456789abcdefghijkl", 32, &v));
	ck_assert_ptr_eq(v, val_of(3));
	destroy(m);
}
END_TEST

START_TEST(test_map_bytes_clear)
{
	clear_and_reuse(GCMAP_KEY_BYTES);
}
END_TEST

/* ---- limits ---- */

static void key_len_limit(size_t max_opt, size_t max)
{
	struct gcmap_options o;
	struct gcmap *m;
	unsigned char *key = malloc(max + 2);
	void *v;

	ck_assert_ptr_nonnull(key);
	for (size_t i = 0; i < max + 2; i++)
		key[i] = (unsigned char)(i * 7);
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.key_kind = GCMAP_KEY_BYTES;
	o.max_key_len = max_opt;
	CK_OK(gcmap_create(&o, &m));

	/* Exactly max_key_len: accepted by every operation. */
	CK_RC(gcmap_get_bytes(m, key, max, NULL), -ENOENT);
	CK_RC(gcmap_put_bytes(m, key, max, val_of(1), NULL), 1);
	CK_RC(gcmap_insert_bytes(m, key, max, val_of(2), &v), -EEXIST);
	CK_OK(gcmap_replace_bytes(m, key, max, val_of(3), NULL));
	CK_OK(gcmap_cas_bytes(m, key, max, val_of(3), val_of(4), NULL));
	CK_OK(gcmap_get_bytes(m, key, max, &v));
	ck_assert_ptr_eq(v, val_of(4));
	/* One byte longer: -E2BIG from every operation, nothing stored. */
	CK_RC(gcmap_get_bytes(m, key, max + 1, &v), -E2BIG);
	CK_RC(gcmap_put_bytes(m, key, max + 1, val_of(1), NULL), -E2BIG);
	CK_RC(gcmap_insert_bytes(m, key, max + 1, val_of(1), NULL), -E2BIG);
	CK_RC(gcmap_replace_bytes(m, key, max + 1, val_of(1), NULL), -E2BIG);
	CK_RC(gcmap_cas_bytes(m, key, max + 1, val_of(4), val_of(1), NULL), -E2BIG);
	CK_RC(gcmap_delete_bytes(m, key, max + 1, NULL), -E2BIG);
	CK_RC(gcmap_put_bytes(m, key, SIZE_MAX, val_of(1), NULL), -E2BIG);
	ck_assert_uint_eq(map_count(m), 1);
	CK_OK(gcmap_delete_bytes(m, key, max, &v));
	ck_assert_ptr_eq(v, val_of(4));
	destroy(m);
	free(key);
}

START_TEST(test_map_limits_key_len)
{
	key_len_limit(0, GCMAP_DEFAULT_MAX_KEY_LEN);
	key_len_limit(1, 1);
	key_len_limit(16, 16);
	key_len_limit(GCMAP_MAX_KEY_LEN, GCMAP_MAX_KEY_LEN);
}
END_TEST

START_TEST(test_map_limits_options)
{
	struct gcmap_options o;
	struct gcmap *m;

	/* The largest allowed values are accepted (the table itself small). */
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.key_kind = GCMAP_KEY_BYTES;
	o.max_key_len = GCMAP_MAX_KEY_LEN;
	o.log2_buckets = 12;
	CK_OK(gcmap_create(&o, &m));
	destroy(m);

	/* Out of range. */
	o.log2_buckets = GCMAP_MAX_LOG2_BUCKETS + 1;
	m = SENTINEL;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
	o.log2_buckets = 1000;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
	o.log2_buckets = 0;
	o.max_key_len = GCMAP_MAX_KEY_LEN + 1;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
	o.max_key_len = SIZE_MAX;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
}
END_TEST

/* ---- hashing ---- */

/* SipHash-2-4, written from the paper's specification (Aumasson, Bernstein 2012). */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
static void sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

static uint64_t ref_siphash(const unsigned char key[16], const unsigned char *m, size_t len)
{
	uint64_t k0 = 0, k1 = 0, v[4], b = (uint64_t)len << 56, mi;
	size_t i, j;

	for (i = 0; i < 8; i++) {
		k0 |= (uint64_t)key[i] << (8 * i);
		k1 |= (uint64_t)key[8 + i] << (8 * i);
	}
	v[0] = k0 ^ 0x736f6d6570736575ull;
	v[1] = k1 ^ 0x646f72616e646f6dull;
	v[2] = k0 ^ 0x6c7967656e657261ull;
	v[3] = k1 ^ 0x7465646279746573ull;
	for (i = 0; i + 8 <= len; i += 8) {
		mi = 0;
		for (j = 0; j < 8; j++)
			mi |= (uint64_t)m[i + j] << (8 * j);
		v[3] ^= mi;
		sipround(v);
		sipround(v);
		v[0] ^= mi;
	}
	for (j = 0; i + j < len; j++)
		b |= (uint64_t)m[i + j] << (8 * j);
	v[3] ^= b;
	sipround(v);
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

START_TEST(test_map_siphash_vectors)
{
	unsigned char key[16], msg[64];
	uint64_t k[2] = { 0, 0 };

	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (unsigned char)i;
	for (int i = 0; i < 8; i++) {
		k[0] |= (uint64_t)key[i] << (8 * i);
		k[1] |= (uint64_t)key[8 + i] << (8 * i);
	}
	/* The reference implementation reproduces the paper's published outputs. */
	ck_assert_uint_eq(ref_siphash(key, msg, 0), 0x726fdb47dd0e0e31ull);
	ck_assert_uint_eq(ref_siphash(key, msg, 1), 0x74f839c593dc67fdull);
	ck_assert_uint_eq(ref_siphash(key, msg, 15), 0xa129ca6149be45e5ull);
	/* The library agrees with the published vectors and the reference. */
	ck_assert_uint_eq(gcmap__siphash(k, msg, 0), 0x726fdb47dd0e0e31ull);
	ck_assert_uint_eq(gcmap__siphash(k, msg, 15), 0xa129ca6149be45e5ull);
	for (size_t len = 0; len <= 64; len++)
		ck_assert_msg(gcmap__siphash(k, msg, len) == ref_siphash(key, msg, len),
			      "siphash len %zu: got %016llx want %016llx", len,
			      (unsigned long long)gcmap__siphash(k, msg, len),
			      (unsigned long long)ref_siphash(key, msg, len));
	/* Unaligned input. */
	{
		unsigned char buf[80];

		memcpy(buf + 3, msg, 64);
		for (size_t len = 0; len <= 64; len += 7)
			ck_assert_uint_eq(gcmap__siphash(k, buf + 3, len),
					  ref_siphash(key, msg, len));
	}
}
END_TEST

START_TEST(test_map_seed)
{
	struct gcmap *a, *b, *c, *d;
	struct gcmap_options o;
	static const char key[] = "same key";
	int differ = 0;

	/* Default options: a random seed per map. */
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.key_kind = GCMAP_KEY_BYTES;
	CK_OK(gcmap_create(&o, &a));
	CK_OK(gcmap_create(&o, &b));
	ck_assert_uint_ne(gcmap__hash_bytes(a, key, sizeof(key)),
			  gcmap__hash_bytes(b, key, sizeof(key)));
	for (uint64_t i = 0; i < 8; i++)
		differ += gcmap__hash_u64(a, i) != gcmap__hash_u64(b, i);
	ck_assert_int_eq(differ, 8);
	/* The same map hashes the same key the same way. */
	ck_assert_uint_eq(gcmap__hash_bytes(a, key, sizeof(key)),
			  gcmap__hash_bytes(a, key, sizeof(key)));
	/* Random seeds are not zero or equal halves (a seeding failure). */
	ck_assert(a->seed[0] != 0 || a->seed[1] != 0);
	ck_assert(a->seed[0] != b->seed[0] || a->seed[1] != b->seed[1]);

	/* A fixed seed is reproducible and is the SipHash key. */
	o.flags = GCMAP_F_FIXED_SEED;
	o.seed[0] = 0x0706050403020100ull;
	o.seed[1] = 0x0f0e0d0c0b0a0908ull;
	CK_OK(gcmap_create(&o, &c));
	CK_OK(gcmap_create(&o, &d));
	ck_assert_uint_eq(gcmap__hash_bytes(c, key, sizeof(key)),
			  gcmap__hash_bytes(d, key, sizeof(key)));
	for (uint64_t i = 0; i < 100; i++)
		ck_assert_uint_eq(gcmap__hash_u64(c, i * 0x9e3779b97f4a7c15ull),
				  gcmap__hash_u64(d, i * 0x9e3779b97f4a7c15ull));
	ck_assert_uint_eq(c->seed[0], o.seed[0]);
	ck_assert_uint_eq(c->seed[1], o.seed[1]);
	ck_assert_uint_eq(gcmap__hash_bytes(c, key, sizeof(key)),
			  gcmap__siphash(o.seed, key, sizeof(key)));
	/* A different fixed seed hashes differently. */
	o.seed[1] ^= 1;
	CK_OK(gcmap_destroy(d));
	CK_OK(gcmap_create(&o, &d));
	ck_assert_uint_ne(gcmap__hash_bytes(c, key, sizeof(key)),
			  gcmap__hash_bytes(d, key, sizeof(key)));
	CK_OK(gcmap_destroy(a));
	CK_OK(gcmap_destroy(b));
	CK_OK(gcmap_destroy(c));
	CK_OK(gcmap_destroy(d));
}
END_TEST

START_TEST(test_map_random_seed_function)
{
	uint64_t s1[2] = { 0, 0 }, s2[2] = { 0, 0 };

	gcmap__random_seed(s1);
	gcmap__random_seed(s2);
	ck_assert(s1[0] != s2[0] || s1[1] != s2[1]);
	ck_assert(s1[0] != 0 || s1[1] != 0);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_map_errors_wrong_kind)
{
	struct gcmap *mu = make_map(GCMAP_KEY_U64, 0, NULL);
	struct gcmap *mb = make_map(GCMAP_KEY_BYTES, 0, NULL);
	void *v;

	CK_RC(gcmap_put_u64(mu, 1, val_of(1), NULL), 1);
	CK_RC(gcmap_put_bytes(mb, "k", 1, val_of(1), NULL), 1);

	CK_RC(gcmap_get_bytes(mu, "k", 1, &v), -EINVAL);
	CK_RC(gcmap_put_bytes(mu, "k", 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_insert_bytes(mu, "k", 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_replace_bytes(mu, "k", 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_cas_bytes(mu, "k", 1, NULL, NULL, &v), -EINVAL);
	CK_RC(gcmap_delete_bytes(mu, "k", 1, &v), -EINVAL);

	CK_RC(gcmap_get_u64(mb, 1, &v), -EINVAL);
	CK_RC(gcmap_put_u64(mb, 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_insert_u64(mb, 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_replace_u64(mb, 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_cas_u64(mb, 1, NULL, NULL, &v), -EINVAL);
	CK_RC(gcmap_delete_u64(mb, 1, &v), -EINVAL);

	/* Nothing changed. */
	ck_assert_uint_eq(map_count(mu), 1);
	ck_assert_uint_eq(map_count(mb), 1);
	CK_OK(gcmap_get_u64(mu, 1, &v));
	ck_assert_ptr_eq(v, val_of(1));
	CK_OK(gcmap_get_bytes(mb, "k", 1, &v));
	ck_assert_ptr_eq(v, val_of(1));
	destroy(mu);
	destroy(mb);
}
END_TEST

START_TEST(test_map_errors_null)
{
	struct gcmap *mb = make_map(GCMAP_KEY_BYTES, 0, NULL);
	void *v;

	/* NULL map. */
	CK_RC(gcmap_get_u64(NULL, 1, &v), -EINVAL);
	CK_RC(gcmap_put_u64(NULL, 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_insert_u64(NULL, 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_replace_u64(NULL, 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_cas_u64(NULL, 1, NULL, NULL, &v), -EINVAL);
	CK_RC(gcmap_delete_u64(NULL, 1, &v), -EINVAL);
	CK_RC(gcmap_get_bytes(NULL, "k", 1, &v), -EINVAL);
	CK_RC(gcmap_put_bytes(NULL, "k", 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_insert_bytes(NULL, "k", 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_replace_bytes(NULL, "k", 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_cas_bytes(NULL, "k", 1, NULL, NULL, &v), -EINVAL);
	CK_RC(gcmap_delete_bytes(NULL, "k", 1, &v), -EINVAL);
	CK_RC(gcmap_clear(NULL), -EINVAL);
	CK_RC(gcmap_destroy(NULL), -EINVAL);
	CK_RC(gcmap_create(NULL, NULL), -EINVAL);

	/* NULL key with a non-zero length. */
	CK_RC(gcmap_get_bytes(mb, NULL, 1, &v), -EINVAL);
	CK_RC(gcmap_put_bytes(mb, NULL, 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_insert_bytes(mb, NULL, 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_replace_bytes(mb, NULL, 1, NULL, &v), -EINVAL);
	CK_RC(gcmap_cas_bytes(mb, NULL, 1, NULL, NULL, &v), -EINVAL);
	CK_RC(gcmap_delete_bytes(mb, NULL, 1, &v), -EINVAL);
	ck_assert_uint_eq(map_count(mb), 0);
	destroy(mb);
}
END_TEST

START_TEST(test_map_errors_options)
{
	struct gcmap_options o;
	struct gcmap *m = SENTINEL;

	memset(&o, 0, sizeof(o));
	o.size = 0;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
	o.size = 1;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
	o.size = sizeof(o) - 1;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
	o.size = sizeof(o);
	o.key_kind = (enum gcmap_key_kind)2;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
	o.key_kind = (enum gcmap_key_kind) - 1;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
	o.key_kind = GCMAP_KEY_U64;
	o.flags = 1u << 30;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
	o.flags = 0x80000000u | GCMAP_F_FIXED_SEED;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
	o.flags = 0;
	o.log2_buckets = GCMAP_MAX_LOG2_BUCKETS + 1;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
	o.log2_buckets = 0;
	o.max_key_len = GCMAP_MAX_KEY_LEN + 1;
	CK_RC(gcmap_create(&o, &m), -EINVAL);
	o.max_key_len = 0;
	CK_RC(gcmap_create(&o, NULL), -EINVAL);
	/* Nothing was written to @out on failure. */
	ck_assert_ptr_eq(m, SENTINEL);
	/* And the fixed options still work. */
	CK_OK(gcmap_create(&o, &m));
	destroy(m);
}
END_TEST

START_TEST(test_map_strerror)
{
	static const int codes[] = { 0,	     -ENOMEM, -EEXIST,	 -ENOENT,  -EINVAL,    -E2BIG,
				     -EPERM, -EBUSY,  -EALREADY, -EDEADLK, -ECANCELED, -EFAULT };
	size_t n = sizeof(codes) / sizeof(codes[0]);
	const char *s[sizeof(codes) / sizeof(codes[0])];

	for (size_t i = 0; i < n; i++) {
		s[i] = gcmap_strerror(codes[i]);
		ck_assert_msg(s[i] != NULL && s[i][0] != '\0', "strerror(%d)", codes[i]);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			ck_assert_msg(strcmp(s[i], s[j]) != 0, "strerror(%d) == strerror(%d): %s",
				      codes[i], codes[j], s[i]);
	/* Unknown codes still get text. */
	static const int unknown[] = { -9999, 12345, 1, INT32_MIN, INT32_MAX, -EXDEV };
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		const char *u = gcmap_strerror(unknown[i]);

		ck_assert_msg(u != NULL && u[0] != '\0', "strerror(%d)", unknown[i]);
	}
	/* The success text is not any error's text. */
	ck_assert_str_ne(gcmap_strerror(0), gcmap_strerror(-9999));
}
END_TEST

#if defined(GCMAP_DEBUG) && defined(GCMAP_TESTHOOKS)
/* Debug builds: destroy while another thread's operation is in flight. */
#include "hold_util.h"

START_TEST(test_map_errors_destroy_busy)
{
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	pthread_t t;
	void *ret;

	hold_at("writer:helped");
	ck_assert_int_eq(pthread_create(&t, NULL, busy_writer, m), 0);
	hold_wait();
	CK_RC(gcmap_destroy(m), -EBUSY);
	hold_release();
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	ck_assert_ptr_null(ret);
	CK_OK(gcmap_get_u64(m, 1, NULL)); /* the map survived the refusal */
	destroy(m);
}
END_TEST
#endif

static Suite *map_suite(void)
{
	Suite *s = suite_create("map");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_map_create_destroy);
	tcase_add_test(tc, test_map_u64_ops);
	tcase_add_loop_test(tc, test_map_null_values_and_outs, 0, 2);
	tcase_add_loop_test(tc, test_map_count, 0, 2);
	tcase_add_loop_test(tc, test_map_clear, 0, 2);
	tcase_add_loop_test(tc, test_map_overflow_chains, 0, 2);
	tcase_add_loop_test(tc, test_map_one_bucket, 0, 2);
	tcase_add_loop_test(tc, test_map_stats, 0, 2);
	tcase_add_loop_test(tc, test_map_overflow_chain, 0, 2);
	tcase_add_test(tc, test_map_seed);
	tcase_add_test(tc, test_map_random_seed_function);
	tcase_add_test(tc, test_map_siphash_vectors);
	suite_add_tcase(s, tc);

	tc = tcase_create("bytes");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_map_bytes_ops);
	tcase_add_test(tc, test_map_bytes_empty_key);
	tcase_add_test(tc, test_map_bytes_last_byte);
	tcase_add_test(tc, test_map_bytes_binary);
	tcase_add_test(tc, test_map_bytes_copied);
	tcase_add_test(tc, test_map_bytes_clear);
	tcase_add_test(tc, test_map_stats_bytes_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_map_limits_key_len);
	tcase_add_test(tc, test_map_limits_options);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_add_test(tc, test_map_errors_wrong_kind);
	tcase_add_test(tc, test_map_errors_null);
	tcase_add_test(tc, test_map_errors_options);
	tcase_add_test(tc, test_map_strerror);
#if defined(GCMAP_DEBUG) && defined(GCMAP_TESTHOOKS)
	tcase_add_test(tc, test_map_errors_destroy_busy);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(map_suite());
}
