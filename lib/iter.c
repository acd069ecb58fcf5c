/*
 * iter.c - iteration that returns every key present for the whole walk
 * exactly once while the map grows, shrinks and is rebuilt under concurrent
 * writers, without pinning tables or holding a read-side section between
 * steps.
 *
 * Design (doc/design.md, "Iteration")
 * ------
 * The walk is over the hash space in bit-reversed order. Let r(h) be the
 * 64-bit reversal of a key's hash. A chain j of a table of 2^L chains holds
 * exactly the keys whose low L hash bits are j, i.e. whose r(h) lies in one
 * aligned range of width 2^(64-L):
 *
 *     r(h) in [ R(j), R(j) + 2^(64-L) ),   R(j) = reverse of j in the top L bits
 *
 * The iterator keeps a cursor c in that reversed space (starting at 0). A
 * step, in its own read-side section:
 *   1. finds the live chain that holds r = c: chain (reverse(c) & mask) of
 *      the current table, following SEQ_MOVED marks to newer tables;
 *   2. snapshots it between two loads of its sequence word, keeping only
 *      the entries with r(h) >= c (a chain of a smaller table also holds
 *      keys of ranges already walked, after a shrink);
 *   3. sets c to the end of that chain's range.
 *
 *     reversed hash space  0 ────────────────────────────────────── 2^64
 *     cursor               ├── done ──┤c├─ this chain's range ─┤ rest ─┤
 *
 * Invariants: the ranges of consecutive steps are disjoint and cover the
 * whole space in order; every step reads the one live chain that holds all
 * keys of its range at the moment of its snapshot (a key's home is fixed by
 * its hash, whatever the table size). So a key present for the whole walk is
 * in exactly one step's range and is in that step's snapshot: exactly once.
 * Entries are returned only from complete, validated snapshots; key bytes
 * are copied into the iterator, so nothing it returns depends on a
 * read-side section of a previous step.
 */
#include "internal.h"

#include <sched.h>
#include <string.h>

#define ITER_MIN_ENTRIES 64

struct iter_ent {
	uint64_t key; /* u64 key, or offset of the bytes in keybuf */
	size_t len;
	void *val;
};

struct gcmap_iter {
	struct gcmap *map;
	uint64_t cursor; /* next reversed-hash position to walk */
	bool done;
	struct iter_ent *ents; /* the current snapshot */
	size_t cap, n, pos;
	unsigned long section; /* the caller's read-side section of the snapshot */
	bool internal; /* the collector's: not counted as a user iterator */
	unsigned char *keybuf; /* key bytes of the snapshot (byte-key maps) */
	size_t kcap, klen;
};

static uint64_t rev64(uint64_t x)
{
	x = ((x >> 1) & 0x5555555555555555ULL) | ((x & 0x5555555555555555ULL) << 1);
	x = ((x >> 2) & 0x3333333333333333ULL) | ((x & 0x3333333333333333ULL) << 2);
	x = ((x >> 4) & 0x0f0f0f0f0f0f0f0fULL) | ((x & 0x0f0f0f0f0f0f0f0fULL) << 4);
	return __builtin_bswap64(x);
}

static void account(struct gcmap *map, size_t add, size_t sub)
{
	if (add)
		__atomic_fetch_add(&map->bytes_iter, add, __ATOMIC_RELAXED);
	if (sub)
		__atomic_fetch_sub(&map->bytes_iter, sub, __ATOMIC_RELAXED);
}

/* Grow a buffer to at least @need elements of @size bytes. */
static int grow(struct gcmap *map, void **buf, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : ITER_MIN_ENTRIES;
	void *nb;

	while (ncap < need)
		ncap *= 2;
	if (ncap == *cap)
		return 0;
	nb = gcmap__alloc(map, ncap * size, false, GCMAP_SITE_ITER);
	if (!nb)
		return -ENOMEM;
	gcmap__free(map, *buf, *cap * size);
	account(map, ncap * size, *cap * size);
	*buf = nb;
	*cap = ncap;
	return 0;
}

/*
 * Snapshot the live chain holding reversed position @c. Call inside a
 * read-side section. Return: 0 with it->n entries and *@span_log (the log2
 * of the chain's table), -EAGAIN (the buffers were too small and grown:
 * retry), -ENOMEM.
 */
static int snapshot_rcu(struct gcmap_iter *it, uint64_t c, unsigned int *span_log)
{
	struct gcmap *map = it->map;
	const struct gcmap_table *tbl = __atomic_load_n(&map->tbl, __ATOMIC_ACQUIRE);
	bool filter = !GCMAP_TESTING(GCMAP_TEST_ITER_NO_FILTER);
	unsigned int spins = 0;

	for (;;) {
		const struct gcmap_bucket *head = &tbl->buckets[rev64(c) & tbl->mask];
		/* Pairs with the release that closes a write section or a move. */
		uint32_t s1 = __atomic_load_n(&head->seq, __ATOMIC_ACQUIRE);
		size_t n = 0, klen = 0, need = 0, kneed = 0;

		if (s1 & SEQ_MOVED) {
			/* Pairs with the release CAS of tbl->next. */
			tbl = __atomic_load_n(&tbl->next, __ATOMIC_ACQUIRE);
			continue;
		}
		if (s1 & SEQ_WRITING) {
			if (++spins % 256 == 0)
				sched_yield();
			continue;
		}
		for (const struct gcmap_bucket *b = head; b;
		     b = __atomic_load_n(&b->overflow, __ATOMIC_ACQUIRE)) {
			uint64_t tags = __atomic_load_n(&b->tags, __ATOMIC_ACQUIRE);

			for (unsigned int i = 0; i < GCMAP_SLOTS; i++) {
				uint64_t key, h;
				const struct gcmap_key *sk = NULL;

				if ((uint8_t)(tags >> (8 * i)) == TAG_EMPTY)
					continue;
				key = __atomic_load_n(&b->slot[i].key, __ATOMIC_ACQUIRE);
				if (map->kind == GCMAP_KEY_U64) {
					h = gcmap__hash_u64(map, key);
				} else {
					sk = (const struct gcmap_key *)(uintptr_t)key;
					h = sk->hash;
				}
				if (filter && rev64(h) < c)
					continue; /* walked in an earlier step */
				need++;
				if (sk)
					kneed += sk->len;
				if (n == it->cap || (sk && klen + sk->len > it->kcap))
					continue; /* counted; buffers grow below */
				it->ents[n].val =
					__atomic_load_n(&b->slot[i].val, __ATOMIC_ACQUIRE);
				if (sk) {
					/* Key copies are immutable once published. */
					if (sk->len)
						memcpy(it->keybuf + klen, sk->bytes, sk->len);
					it->ents[n].key = klen;
					it->ents[n].len = sk->len;
					klen += sk->len;
				} else {
					it->ents[n].key = key;
					it->ents[n].len = 0;
				}
				n++;
			}
		}
		if (__atomic_load_n(&head->seq, __ATOMIC_ACQUIRE) != s1)
			continue; /* changed under us: nothing of it is used */
		if (need > n) {
			void *e = it->ents, *k = it->keybuf;
			int err = grow(map, &e, &it->cap, need, sizeof(*it->ents));

			it->ents = e;
			if (!err && kneed)
				err = grow(map, &k, &it->kcap, kneed, 1);
			it->keybuf = k;
			return err ? err : -EAGAIN;
		}
		it->n = n;
		it->klen = klen;
		it->pos = 0;
		*span_log = tbl->log2;
		return 0;
	}
}

/* One step: snapshot the next range. Return 0, or -ENOMEM. */
static int step(struct gcmap_iter *it)
{
	unsigned int span_log = 0;
	uint64_t span, start;
	int err;

	do {
		gcmap__rcu_read_lock();
		err = snapshot_rcu(it, it->cursor, &span_log);
		it->section = gcmap__tls.section;
		gcmap__rcu_read_unlock();
	} while (err == -EAGAIN);
	if (err)
		return err;
	/* The chain's range is [start, start + 2^(64 - span_log)). */
	span = span_log ? (uint64_t)1 << (64 - span_log) : 0;
	start = span ? it->cursor & ~(span - 1) : 0;
	if (!span || start + span == 0 || start + span < start)
		it->done = true; /* the range reaches the end of the space */
	else
		it->cursor = start + span;
	return 0;
}

int gcmap__iter_begin(struct gcmap *map, struct gcmap_iter **out, bool internal)
{
	struct gcmap_iter *it;

	if (!map || !out)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	it = gcmap__alloc(map, sizeof(*it), true, GCMAP_SITE_ITER);
	if (!it)
		return -ENOMEM;
	it->map = map;
	it->internal = internal;
	account(map, sizeof(*it), 0);
	/* User iterators keep gcmap_destroy() away; the marker's are ended
	 * by detaching, which destroy does itself. */
	if (!internal)
		__atomic_fetch_add(&map->nr_iters, 1, __ATOMIC_RELAXED);
	*out = it;
	return 0;
}

int gcmap_iter_begin(struct gcmap *map, struct gcmap_iter **out)
{
	return gcmap__iter_begin(map, out, false);
}

/*
 * The value of a snapshot entry is protected by the read-side section the
 * snapshot was taken in. When the caller is now in a later section, that
 * value may have been replaced and freed since: look the key up again (its
 * current value is one it held during the iteration; a key gone meanwhile
 * was deleted during the iteration and may be skipped). Return whether the
 * entry is still present.
 */
static bool refresh(struct gcmap_iter *it, struct gcmap_entry *e)
{
	int err;

	if (gcmap__tls.depth == 0 || it->section == gcmap__tls.section)
		return true;
	if (it->map->kind == GCMAP_KEY_U64)
		err = gcmap_get_u64(it->map, e->key, &e->value);
	else
		err = gcmap_get_bytes(it->map, e->key_bytes, e->key_len, &e->value);
	return err == 0;
}

int gcmap_iter_next(struct gcmap_iter *it, struct gcmap_entry *e)
{
	const struct iter_ent *ent;

	if (!it || !e)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	do {
		while (it->pos == it->n) {
			int err;

			if (it->done)
				return 0;
			err = step(it);
			if (err)
				return err;
		}
		ent = &it->ents[it->pos++];
		e->value = ent->val;
		if (it->map->kind == GCMAP_KEY_U64) {
			e->key = ent->key;
			e->key_bytes = NULL;
			e->key_len = 0;
		} else {
			e->key = 0;
			/* keybuf is NULL while every key walked was empty. */
			e->key_bytes = ent->len ? it->keybuf + ent->key : (const void *)"";
			e->key_len = ent->len;
		}
	} while (!refresh(it, e));
	return 1;
}

int gcmap_iter_end(struct gcmap_iter *it)
{
	struct gcmap *map;

	if (!it)
		return -EINVAL;
	map = it->map;
	gcmap__free(map, it->ents, it->cap * sizeof(*it->ents));
	gcmap__free(map, it->keybuf, it->kcap);
	account(map, 0, it->cap * sizeof(*it->ents) + it->kcap + sizeof(*it));
	if (!it->internal)
		__atomic_fetch_sub(&map->nr_iters, 1, __ATOMIC_RELAXED);
	gcmap__free(map, it, sizeof(*it));
	return 0;
}

int gcmap_foreach(struct gcmap *map, int (*fn)(const struct gcmap_entry *e, void *arg), void *arg)
{
	struct gcmap_iter *it;
	struct gcmap_entry e;
	int ret;

	if (!fn)
		return -EINVAL;
	ret = gcmap_iter_begin(map, &it);
	if (ret)
		return ret;
	while ((ret = gcmap_iter_next(it, &e)) == 1) {
		ret = fn(&e, arg);
		if (ret)
			break;
	}
	gcmap_iter_end(it);
	return ret;
}
