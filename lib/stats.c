/*
 * stats.c - where the map's memory is (gcmap_stats) and the invariant check
 * used by tests and debug builds.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gcmap_stats(struct gcmap *map, struct gcmap_stats *st)
{
	struct gcmap_table *tbl;
	struct gcmap_stats s;
	size_t count;
	int err;

	if (!map || !st)
		return -EINVAL;
	if (st->size < sizeof(*st))
		return -EINVAL;
	err = gcmap_count(map, &count);
	if (err)
		return err;
	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.entries = count;

	gcmap__rcu_read_lock();
	/* Acquire pairs with the table's publication (create/clear). The walk
	 * is lock-free and unvalidated: a snapshot for diagnostics. */
	tbl = __atomic_load_n(&map->tbl, __ATOMIC_ACQUIRE);
	s.log2_buckets = tbl->log2;
	s.buckets = (size_t)tbl->mask + 1;
	for (uint64_t i = 0; i <= tbl->mask; i++) {
		size_t chain = 0, used = 0, free_slots = 0;

		for (const struct gcmap_bucket *b = &tbl->buckets[i]; b;
		     b = __atomic_load_n(&b->overflow, __ATOMIC_ACQUIRE)) {
			uint64_t tags = __atomic_load_n(&b->tags, __ATOMIC_ACQUIRE);

			chain++;
			for (unsigned int j = 0; j < GCMAP_SLOTS; j++) {
				if ((uint8_t)(tags >> (8 * j)) == TAG_EMPTY)
					free_slots++;
				else
					used++;
			}
		}
		s.overflow_buckets += chain - 1;
		if (chain > s.longest_chain)
			s.longest_chain = chain;
		if (used)
			s.free_slots_in_used += free_slots;
	}
	{
		struct gcmap_table *next = __atomic_load_n(&tbl->next, __ATOMIC_ACQUIRE);

		if (next) {
			s.evacuating = 1;
			s.evac_target_log2 = next->log2;
			s.evac_units_total = gcmap__evac_units(tbl, next);
			s.evac_units_done = __atomic_load_n(&tbl->nr_moved, __ATOMIC_ACQUIRE);
		}
	}
	gcmap__rcu_read_unlock();
	s.grows = __atomic_load_n(&map->nr_grows, __ATOMIC_RELAXED);
	s.shrinks = __atomic_load_n(&map->nr_shrinks, __ATOMIC_RELAXED);
	s.rebuilds = __atomic_load_n(&map->nr_rebuilds, __ATOMIC_RELAXED);
	s.evac_alloc_failures = __atomic_load_n(&map->nr_evac_alloc_failures, __ATOMIC_RELAXED);
	s.bytes_pinned = __atomic_load_n(&map->bytes_iter, __ATOMIC_RELAXED);
	s.iterators = (size_t)__atomic_load_n(&map->nr_iters, __ATOMIC_RELAXED);
	s.slots = (s.buckets + s.overflow_buckets) * GCMAP_SLOTS;
	s.bytes_allocated = __atomic_load_n(&map->bytes_allocated, __ATOMIC_RELAXED);
	s.bytes_pending = __atomic_load_n(&map->bytes_pending, __ATOMIC_RELAXED);
	*st = s;
	return 0;
}

/* One live entry, for the duplicate check. */
struct entry {
	uint64_t hash;
	uint64_t key;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return 0;
}

static bool same_key(const struct gcmap *map, uint64_t a, uint64_t b)
{
	const struct gcmap_key *x, *y;

	if (map->kind == GCMAP_KEY_U64)
		return a == b;
	x = (const struct gcmap_key *)(uintptr_t)a;
	y = (const struct gcmap_key *)(uintptr_t)b;
	return x->len == y->len && (x->len == 0 || memcmp(x->bytes, y->bytes, x->len) == 0);
}

#define FAIL(...)                                                 \
	do {                                                      \
		fprintf(stderr, "gcmap invariant: " __VA_ARGS__); \
		fputc('\n', stderr);                              \
		ret = -EFAULT;                                    \
		goto out;                                         \
	} while (0)

/* Collects the live entries of a table for the checks below. */
struct walk {
	struct entry *ents;
	size_t n, cap;
};

/*
 * Check the chains of @tbl: tags, placement, no chain left locked or in a
 * write section. With @prev (the table being evacuated into @tbl), a chain
 * of @tbl whose source chains are not moved yet must be empty (nothing is
 * stored into a new chain before its sources are moved). Moved chains of an
 * evacuated table are frozen copies and are skipped (@skip_moved).
 */
static int check_table(struct gcmap *map, const struct gcmap_table *tbl,
		       const struct gcmap_table *prev, bool skip_moved, struct walk *w)
{
	int ret = 0;

	for (uint64_t i = 0; i <= tbl->mask; i++) {
		const struct gcmap_bucket *head = &tbl->buckets[i];
		uint32_t seq = __atomic_load_n(&head->seq, __ATOMIC_ACQUIRE);

		if (seq & SEQ_WRITING)
			FAIL("bucket %llu left in a write section", (unsigned long long)i);
		if (__atomic_load_n(&head->lock, __ATOMIC_RELAXED) != 0)
			FAIL("bucket %llu left locked", (unsigned long long)i);
		if (skip_moved && (seq & SEQ_MOVED))
			continue;
		if (prev) {
			uint64_t src = i & prev->mask;
			bool moved = __atomic_load_n(&prev->buckets[src].seq, __ATOMIC_ACQUIRE) &
				     SEQ_MOVED;

			if (!moved && (__atomic_load_n(&head->tags, __ATOMIC_RELAXED) ||
				       __atomic_load_n(&head->overflow, __ATOMIC_RELAXED)))
				FAIL("new chain %llu filled before its source was moved",
				     (unsigned long long)i);
		}
		for (const struct gcmap_bucket *b = head; b;
		     b = __atomic_load_n(&b->overflow, __ATOMIC_ACQUIRE)) {
			uint64_t tags = __atomic_load_n(&b->tags, __ATOMIC_ACQUIRE);

			for (unsigned int j = 0; j < GCMAP_SLOTS; j++) {
				uint8_t t = (uint8_t)(tags >> (8 * j));
				uint64_t key = __atomic_load_n(&b->slot[j].key, __ATOMIC_ACQUIRE);
				uint64_t h;
				uint8_t want;

				if (t == TAG_EMPTY)
					continue;
				if (map->kind == GCMAP_KEY_U64) {
					h = gcmap__hash_u64(map, key);
				} else {
					const struct gcmap_key *sk =
						(const struct gcmap_key *)(uintptr_t)key;

					h = gcmap__hash_bytes(map, sk->bytes, sk->len);
					if (h != sk->hash)
						FAIL("key copy with a stale hash");
				}
				want = (uint8_t)(h >> 56) < 2 ? (uint8_t)((h >> 56) + 2) :
								(uint8_t)(h >> 56);
				if (t != want)
					FAIL("tag %u != %u in bucket %llu", t, want,
					     (unsigned long long)i);
				if ((h & tbl->mask) != i)
					FAIL("key in bucket %llu belongs in %llu",
					     (unsigned long long)i,
					     (unsigned long long)(h & tbl->mask));
				if (w->n == w->cap) {
					struct entry *ne;

					w->cap = w->cap ? 2 * w->cap : 1024;
					ne = realloc(w->ents, w->cap * sizeof(*ne));
					if (!ne)
						FAIL("out of memory while checking");
					w->ents = ne;
				}
				w->ents[w->n].hash = h;
				w->ents[w->n].key = key;
				w->n++;
			}
		}
	}
out:
	return ret;
}

int gcmap__check_invariants(struct gcmap *map)
{
	struct gcmap_table *tbl = __atomic_load_n(&map->tbl, __ATOMIC_ACQUIRE);
	struct gcmap_table *next = __atomic_load_n(&tbl->next, __ATOMIC_ACQUIRE);
	struct walk w = { NULL, 0, 0 };
	int64_t counted = gcmap__table_count(tbl);
	int ret;

	/* During an evacuation the entries are in the unmoved chains of the
	 * current table and in the new table. */
	ret = check_table(map, tbl, NULL, next != NULL, &w);
	if (!ret && next) {
		counted += gcmap__table_count(next);
		if (__atomic_load_n(&next->next, __ATOMIC_ACQUIRE))
			FAIL("an evacuation target is itself being evacuated");
		ret = check_table(map, next, tbl, false, &w);
	}
	if (ret)
		goto out;
	if ((int64_t)w.n != counted)
		FAIL("count %lld != %zu entries found", (long long)counted, w.n);
	if (w.n > 1)
		qsort(w.ents, w.n, sizeof(*w.ents), cmp_entry);
	for (size_t i = 1; i < w.n; i++) {
		for (size_t j = i; j-- > 0 && w.ents[j].hash == w.ents[i].hash;) {
			if (same_key(map, w.ents[j].key, w.ents[i].key))
				FAIL("duplicate key");
		}
	}
out:
	free(w.ents);
	return ret;
}
