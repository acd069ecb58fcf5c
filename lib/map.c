/*
 * map.c - lookup, put, insert, replace, cas, delete, count, clear, create
 * and destroy over Go-style buckets: 8 slots with one-byte tags, overflow
 * chains, one futex lock and one sequence word per chain. The protocol
 * (doc/design.md, "Reader/writer protocol") is summarised at each step.
 */
#include "internal.h"
#include "lock.h"

#include <sched.h>
#include <string.h>

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define READ_SPINS_BEFORE_YIELD 256

/* A key as the caller gave it, with its hash and tag. */
struct kref {
	uint64_t hash;
	uint64_t u64;
	const void *bytes;
	size_t len;
	uint8_t tag;
};

/* A slot inside a chain. */
struct pos {
	struct gcmap_bucket *b;
	unsigned int i;
};

/*
 * The tag: the hash's top byte, never 0 (empty) nor 1. Excluding 1 makes
 * the cheap zero-byte test of match_tags() safe: its only false positives
 * are slots whose tag is the searched tag XOR 1, hence never empty slots
 * (whose stale key must not be compared), only live ones whose key compare
 * then fails.
 */
static inline uint8_t tag_of(uint64_t hash)
{
	uint8_t t = (uint8_t)(hash >> 56);

	return t < 2 ? (uint8_t)(t + 2) : t;
}

/*
 * Accessors. _rcu: a lock-free reader inside a read-side section, validated
 * by the chain's sequence word; _locked: the holder of the chain's lock.
 * Reader loads are acquire so that the closing re-read of the sequence word
 * cannot move before them (a seqlock without fences, TSAN.md); writer stores
 * inside a sequence write section are release so that the odd sequence value
 * is visible before them.
 */
static inline uint64_t tags_rcu(const struct gcmap_bucket *b)
{
	return __atomic_load_n(&b->tags, __ATOMIC_ACQUIRE);
}

static inline uint64_t key_rcu(const struct gcmap_bucket *b, unsigned int i)
{
	return __atomic_load_n(&b->slot[i].key, __ATOMIC_ACQUIRE);
}

static inline void *val_rcu(const struct gcmap_bucket *b, unsigned int i)
{
	/* Acquire pairs with the release store of the value in put/insert/
	 * replace/cas: the object's contents are visible to the getter. */
	return __atomic_load_n(&b->slot[i].val, __ATOMIC_ACQUIRE);
}

static inline struct gcmap_bucket *overflow_rcu(const struct gcmap_bucket *b)
{
	/* Pairs with the release in link_overflow_locked(). */
	return __atomic_load_n(&b->overflow, __ATOMIC_ACQUIRE);
}

static inline uint32_t seq_rcu(const struct gcmap_bucket *head)
{
	/* Pairs with the release in gcmap__seq_end_locked(). */
	return __atomic_load_n(&head->seq, __ATOMIC_ACQUIRE);
}

static inline uint64_t tags_locked(const struct gcmap_bucket *b)
{
	return __atomic_load_n(&b->tags, __ATOMIC_RELAXED);
}

static inline uint64_t key_locked(const struct gcmap_bucket *b, unsigned int i)
{
	return __atomic_load_n(&b->slot[i].key, __ATOMIC_RELAXED);
}

static inline void *val_locked(const struct gcmap_bucket *b, unsigned int i)
{
	return __atomic_load_n(&b->slot[i].val, __ATOMIC_RELAXED);
}

static inline struct gcmap_bucket *overflow_locked(const struct gcmap_bucket *b)
{
	return __atomic_load_n(&b->overflow, __ATOMIC_RELAXED);
}

static inline void store_slot_locked(struct gcmap_bucket *b, unsigned int i, uint64_t key,
				     void *val, uint8_t tag)
{
	uint64_t tags = tags_locked(b);

	tags = (tags & ~(0xffULL << (8 * i))) | ((uint64_t)tag << (8 * i));
	__atomic_store_n(&b->slot[i].key, key, __ATOMIC_RELEASE);
	__atomic_store_n(&b->slot[i].val, val, __ATOMIC_RELEASE);
	/* Last: a reader that sees the tag (acquire) sees key and value. */
	__atomic_store_n(&b->tags, tags, __ATOMIC_RELEASE);
}

static inline void clear_tag_locked(struct gcmap_bucket *b, unsigned int i)
{
	__atomic_store_n(&b->tags, tags_locked(b) & ~(0xffULL << (8 * i)), __ATOMIC_RELEASE);
}

static inline void set_val_locked(struct gcmap_bucket *b, unsigned int i, void *val)
{
	/* A lone value store needs no sequence section: a reader that matched
	 * the key returns the old or the new value, both linearizable. Release
	 * pairs with val_rcu(). */
	__atomic_store_n(&b->slot[i].val, val, __ATOMIC_RELEASE);
}

/*
 * The slots holding @tag, as a mask with bit 7 of each matching byte set,
 * plus possibly slots whose tag is @tag ^ 1 (the borrow of the classic
 * zero-byte test). Those are live slots (tag_of() never yields 1, so @tag ^ 1
 * is never 0): an empty slot, whose stale key may be freed, is never
 * reported.
 */
static inline uint64_t match_tags(uint64_t tags, uint8_t tag)
{
	uint64_t x = tags ^ (ONES * tag);

	return (x - ONES) & ~x & HIGHS;
}

static inline bool key_eq(const struct gcmap *map, const struct kref *k, uint64_t slotkey)
{
	const struct gcmap_key *sk;

	if (map->kind == GCMAP_KEY_U64)
		return slotkey == k->u64;
	/* Key copies are immutable once published; the acquire load of the
	 * slot's key pointer makes their bytes visible. */
	sk = (const struct gcmap_key *)(uintptr_t)slotkey;
	return sk->hash == k->hash && sk->len == k->len &&
	       (k->len == 0 || memcmp(sk->bytes, k->bytes, k->len) == 0);
}

static inline struct gcmap_bucket *home_bucket(const struct gcmap_table *tbl, uint64_t hash)
{
	return &tbl->buckets[hash & tbl->mask];
}

static inline struct gcmap_table *next_rcu(const struct gcmap_table *tbl)
{
	/* Pairs with the release CAS in gcmap__evac_start(). */
	return __atomic_load_n(&tbl->next, __ATOMIC_ACQUIRE);
}

static inline struct gcmap_table *table_rcu(const struct gcmap *map)
{
	/* Pairs with the release publication in gcmap_create()/gcmap_clear():
	 * the table's initialised fields are visible. */
	return __atomic_load_n(&map->tbl, __ATOMIC_ACQUIRE);
}

static void stripe_add(struct gcmap_table *tbl, int64_t d)
{
	/* Relaxed: a statistic; summed by gcmap_count(). */
	__atomic_fetch_add(&tbl->stripes[gcmap__stripe()].n, d, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------------- */
/* Readers                                                                */

/* Scan one chain; true with *@val set when @k is found. */
static bool chain_find_rcu(const struct gcmap *map, const struct gcmap_bucket *head,
			   const struct kref *k, void **val)
{
	for (const struct gcmap_bucket *b = head; b; b = overflow_rcu(b)) {
		uint64_t m = match_tags(tags_rcu(b), k->tag);

		while (m) {
			unsigned int i = (unsigned int)__builtin_ctzll(m) >> 3;

			m &= m - 1;
			if (key_eq(map, k, key_rcu(b, i))) {
				*val = val_rcu(b, i);
				return true;
			}
		}
	}
	return false;
}

/*
 * Look @k up. Call inside a read-side section. The chain is read between two
 * loads of its sequence word; a change or a writer in progress means retry.
 * A chain marked moved is followed to the current table (evacuation).
 */
static bool lookup_from_rcu(const struct gcmap *map, const struct gcmap_table *tbl,
			    const struct kref *k, void **val)
{
	unsigned int spins = 0;

	for (;;) {
		const struct gcmap_bucket *head = home_bucket(tbl, k->hash);
		uint32_t s1 = seq_rcu(head);
		bool found;
		void *v = NULL;

		/* A moved chain is frozen; its entries live in the table it was
		 * evacuated into (the acquire of s1 makes them visible there). */
		if ((s1 & SEQ_MOVED) && !GCMAP_TESTING(GCMAP_TEST_SKIP_MOVED_CHECK)) {
			tbl = next_rcu(tbl);
			continue;
		}
		if (!(s1 & SEQ_WRITING)) {
			found = chain_find_rcu(map, head, k, &v);
			if (seq_rcu(head) == s1) {
				*val = v;
				return found;
			}
		}
		if (++spins % READ_SPINS_BEFORE_YIELD == 0)
			sched_yield();
		else
			cpu_relax();
	}
}

static bool lookup_rcu(const struct gcmap *map, const struct kref *k, void **val)
{
	const struct gcmap_table *tbl = table_rcu(map);

	GCMAP_SCHED_POINT("reader:table-loaded");
	return lookup_from_rcu(map, tbl, k, val);
}

/* The slow half of lookup_u64_rcu(): out of line, so that the fast path
 * keeps its key in registers. */
static __attribute__((noinline)) bool lookup_u64_slow_rcu(const struct gcmap *map,
							  const struct gcmap_table *tbl,
							  uint64_t key, uint64_t hash, void **val)
{
	struct kref k = { .hash = hash, .u64 = key, .tag = tag_of(hash) };

	return lookup_from_rcu(map, tbl, &k, val);
}

/*
 * The lookup fast path for 64-bit keys: the protocol of lookup_rcu(),
 * specialised (no key-kind branch, chain scan inlined, one pass). Anything
 * unusual (a writer in the chain, a moved chain, a change during the scan)
 * continues out of line in lookup_from_rcu(), from the same table.
 */
/* Start loading the three lines of @key's home bucket in the current table:
 * a hint, with no effect on correctness. Inside a read-side section. */
void gcmap__prefetch_u64(const struct gcmap *map, uint64_t key)
{
	const char *b = (const char *)home_bucket(table_rcu(map), gcmap__hash_u64(map, key));

	__builtin_prefetch(b);
	__builtin_prefetch(b + 64);
	__builtin_prefetch(b + 128);
}

static inline bool lookup_u64_rcu(const struct gcmap *map, uint64_t key, uint64_t hash, void **val)
{
	const struct gcmap_table *tbl = table_rcu(map);
	const uint64_t pattern = ONES * tag_of(hash);
	const struct gcmap_bucket *head;
	uint32_t s1;
	void *v = NULL;
	bool found = false;

	GCMAP_SCHED_POINT("reader:table-loaded");
	head = home_bucket(tbl, hash);
	s1 = seq_rcu(head);
	if (__builtin_expect(s1 & (SEQ_WRITING | SEQ_MOVED), 0))
		return lookup_u64_slow_rcu(map, tbl, key, hash, val);
	for (const struct gcmap_bucket *b = head; b; b = overflow_rcu(b)) {
		uint64_t x = tags_rcu(b) ^ pattern;
		uint64_t m = (x - ONES) & ~x & HIGHS; /* see match_tags() */

		while (m) {
			unsigned int i = (unsigned int)__builtin_ctzll(m) >> 3;

			m &= m - 1;
			if (key_rcu(b, i) == key) {
				v = val_rcu(b, i);
				found = true;
				goto out;
			}
		}
	}
out:
	if (__builtin_expect(seq_rcu(head) != s1, 0))
		return lookup_u64_slow_rcu(map, tbl, key, hash, val);
	*val = v;
	return found;
}

/* ---------------------------------------------------------------------- */
/* Writers                                                                */

/*
 * Lock the chain that is @k's home, starting from @tbl. After taking the
 * lock the chain is re-checked: a chain moved to another table is not the
 * key's home any more (and never changes again), so unlock and follow the
 * table it was evacuated into.
 */
static struct gcmap_bucket *lock_home(struct gcmap_table *tbl, const struct kref *k,
				      struct gcmap_table **tblp)
{
	for (;;) {
		struct gcmap_bucket *head = home_bucket(tbl, k->hash);

		bucket_lock(&head->lock);
		/* Relaxed: SEQ_MOVED is only set under this lock. */
		if (!(__atomic_load_n(&head->seq, __ATOMIC_RELAXED) & SEQ_MOVED)) {
			*tblp = tbl;
			return head;
		}
		bucket_unlock(&head->lock);
		tbl = next_rcu(tbl);
	}
}

/* Find @k in a locked chain; also the first free slot and the last bucket. */
static bool chain_find_locked(const struct gcmap *map, struct gcmap_bucket *head,
			      const struct kref *k, struct pos *found, struct pos *free_slot,
			      struct gcmap_bucket **last)
{
	free_slot->b = NULL;
	for (struct gcmap_bucket *b = head; b; b = overflow_locked(b)) {
		uint64_t tags = tags_locked(b);

		*last = b;
		for (unsigned int i = 0; i < GCMAP_SLOTS; i++) {
			uint8_t t = (uint8_t)(tags >> (8 * i));

			if (t == TAG_EMPTY) {
				if (!free_slot->b) {
					free_slot->b = b;
					free_slot->i = i;
				}
			} else if (t == k->tag && key_eq(map, k, key_locked(b, i))) {
				found->b = b;
				found->i = i;
				return true;
			}
		}
	}
	return false;
}

static size_t key_size(size_t len)
{
	return sizeof(struct gcmap_key) + len;
}

static struct gcmap_key *key_new(struct gcmap *map, const struct kref *k)
{
	struct gcmap_key *sk = gcmap__alloc(map, key_size(k->len), false, GCMAP_SITE_KEY);

	if (!sk)
		return NULL;
	sk->map = map;
	sk->hash = k->hash;
	sk->len = (uint32_t)k->len;
	if (k->len)
		memcpy(sk->bytes, k->bytes, k->len);
	return sk;
}

static void key_free_now(struct gcmap *map, struct gcmap_key *sk)
{
	gcmap__free(map, sk, key_size(sk->len));
}

static void key_free_cb(struct gcmap__rcu_head *rh)
{
	struct gcmap_key *sk = gcmap__container_of(rh, struct gcmap_key, rh);
	struct gcmap *map = sk->map;

	size_t bytes = key_size(sk->len);

	key_free_now(map, sk);
	__atomic_fetch_sub(&map->bytes_pending, bytes, __ATOMIC_RELAXED);
	gcmap__map_put_ref(map);
}

/* Free a removed key copy after a grace period (readers may compare it). */
static void key_retire(struct gcmap *map, struct gcmap_key *sk)
{
	__atomic_fetch_add(&map->refs, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&map->bytes_pending, key_size(sk->len), __ATOMIC_RELAXED);
	gcmap__call_rcu(&sk->rh, key_free_cb);
}

/*
 * Insert @k (absent) into the locked chain at @free_slot, or in a new
 * overflow bucket after @last. Everything that can fail is allocated before
 * the chain changes: on -ENOMEM the map is unchanged.
 */
static int insert_locked(struct gcmap *map, struct gcmap_table *tbl, struct gcmap_bucket *head,
			 const struct kref *k, void *val, const struct pos *free_slot,
			 struct gcmap_bucket *last, enum gcmap__resize_hint *hint)
{
	struct gcmap_key *sk = NULL;
	struct gcmap_bucket *nb = NULL;
	uint64_t keyword = k->u64;

	if (map->kind == GCMAP_KEY_BYTES) {
		sk = key_new(map, k);
		if (!sk)
			return -ENOMEM;
		keyword = (uint64_t)(uintptr_t)sk;
	}
	if (!free_slot->b) {
		nb = gcmap__alloc(map, sizeof(*nb), true, GCMAP_SITE_OVERFLOW);
		if (!nb) {
			if (sk)
				key_free_now(map, sk);
			return -ENOMEM;
		}
	}
	gcmap__seq_begin_locked(head);
	if (nb) {
		/* Not yet reachable: plain initialisation, then publication. */
		nb->slot[0].key = keyword;
		nb->slot[0].val = val;
		nb->tags = k->tag;
		/* Release pairs with overflow_rcu(): a reader that reaches
		 * the new bucket sees its contents. */
		__atomic_store_n(&last->overflow, nb, __ATOMIC_RELEASE);
		__atomic_fetch_add(&tbl->nr_overflow, 1, __ATOMIC_RELAXED);
		*hint = HINT_OVERFLOW;
	} else {
		store_slot_locked(free_slot->b, free_slot->i, keyword, val, k->tag);
	}
	gcmap__seq_end_locked(head, 0);
	stripe_add(tbl, 1);
	return 0;
}

static void remove_locked(struct gcmap *map, struct gcmap_table *tbl, struct gcmap_bucket *head,
			  const struct pos *p)
{
	uint64_t keyword = key_locked(p->b, p->i);

	gcmap__seq_begin_locked(head);
	clear_tag_locked(p->b, p->i);
	gcmap__seq_end_locked(head, 0);
	stripe_add(tbl, -1);
	if (map->kind == GCMAP_KEY_BYTES)
		key_retire(map, (struct gcmap_key *)(uintptr_t)keyword);
}

enum wop { OP_PUT, OP_INSERT, OP_REPLACE, OP_CAS, OP_DELETE };

/* One write operation on @k; see the header for each op's return codes. */
static int write_rcu(struct gcmap *map, const struct kref *k, enum wop op, void *val,
		     void *expected, void **out)
{
	struct gcmap_table *tbl = table_rcu(map), *next = next_rcu(tbl);
	enum gcmap__resize_hint hint = HINT_NONE;
	struct gcmap_bucket *head, *last;
	struct pos found, free_slot;
	void *cur = NULL;
	int ret;

	/* Help an evacuation in flight before taking our own lock, never
	 * while holding it: our key's unit plus at most one more. */
	if (next)
		gcmap__evac_help(map, tbl, next, k->hash);
	GCMAP_SCHED_POINT("writer:helped");
	head = lock_home(tbl, k, &tbl);
	last = head;
	if (chain_find_locked(map, head, k, &found, &free_slot, &last)) {
		cur = val_locked(found.b, found.i);
		switch (op) {
		case OP_PUT:
		case OP_REPLACE:
			set_val_locked(found.b, found.i, val);
			ret = 0;
			break;
		case OP_INSERT:
			ret = -EEXIST;
			break;
		case OP_CAS:
			ret = -ECANCELED;
			if (cur == expected) {
				set_val_locked(found.b, found.i, val);
				ret = 0;
			}
			break;
		case OP_DELETE:
		default:
			remove_locked(map, tbl, head, &found);
			hint = HINT_DELETED;
			ret = 0;
			break;
		}
	} else if (op == OP_PUT || op == OP_INSERT) {
		hint = HINT_INSERTED;
		ret = insert_locked(map, tbl, head, k, val, &free_slot, last, &hint);
		if (ret == 0 && op == OP_PUT)
			ret = 1;
	} else {
		ret = -ENOENT;
	}
	bucket_unlock(&head->lock);
	/*
	 * The collector's hybrid barrier (lib/barrier.c), in the same read-side
	 * section as the store: shade the stored value and the one it
	 * replaced or removed. When no cycle marks this is one load and one
	 * predictable branch (map->gc is NULL for maps never attached).
	 *
	 * GCMAP_BENCH_NO_BARRIER compiles this block out entirely. Only the
	 * benchmark defines it, in a copy of the library that its W5 "idle
	 * barrier" figure compares with this one (bench/README.md); a
	 * collector used with that copy can lose objects, so nothing else may
	 * link it.
	 */
#ifndef GCMAP_BENCH_NO_BARRIER
	{
		struct gcmap_gc *gc = __atomic_load_n(&map->gc, __ATOMIC_ACQUIRE);

		if (__builtin_expect(gc != NULL, 0) && ret >= 0 && gcmap__gc_barrier_on(gc)) {
			/* The replaced or removed value, and the stored one. */
			bool replaced = op != OP_INSERT && !(op == OP_PUT && ret == 1);

			gcmap__gc_record(gc, replaced ? cur : NULL);
			gcmap__gc_record(gc, op != OP_DELETE ? val : NULL);
			gcmap__gc_flush();
		}
	}
#endif
	if (ret >= 0)
		gcmap__evac_policy(map, hint);
	if (out && ret != -ENOENT && ret != -ENOMEM)
		*out = cur;
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Entry points                                                           */

static inline void op_enter(struct gcmap *map)
{
#ifdef GCMAP_DEBUG
	__atomic_fetch_add(&map->active, 1, __ATOMIC_RELAXED);
#endif
	(void)map;
	gcmap__rcu_read_lock();
}

static inline void op_exit(struct gcmap *map)
{
	gcmap__rcu_read_unlock();
#ifdef GCMAP_DEBUG
	__atomic_fetch_sub(&map->active, 1, __ATOMIC_RELAXED);
#endif
	(void)map;
}

static inline int check_map(const struct gcmap *map, enum gcmap_key_kind kind)
{
	if (!map)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
#ifdef GCMAP_DEBUG
	if (map->magic != GCMAP_MAGIC)
		return -EINVAL;
#endif
	if (map->kind != kind)
		return -EINVAL;
	return 0;
}

static inline int kref_u64(const struct gcmap *map, uint64_t key, struct kref *k)
{
	int err = check_map(map, GCMAP_KEY_U64);

	if (err)
		return err;
	k->u64 = key;
	k->hash = gcmap__hash_u64(map, key);
	k->tag = tag_of(k->hash);
	return 0;
}

static inline int kref_bytes(const struct gcmap *map, const void *key, size_t len, struct kref *k)
{
	int err = check_map(map, GCMAP_KEY_BYTES);

	if (err)
		return err;
	if (!key && len)
		return -EINVAL;
	if (len > map->max_key_len)
		return -E2BIG;
	k->bytes = key;
	k->len = len;
	k->u64 = 0;
	k->hash = gcmap__hash_bytes(map, key, len);
	k->tag = tag_of(k->hash);
	return 0;
}

static int do_get(struct gcmap *map, const struct kref *k, void **val)
{
	void *v = NULL;
	bool found;

	op_enter(map);
	found = lookup_rcu(map, k, &v);
	op_exit(map);
	if (!found)
		return -ENOENT;
	if (val)
		*val = v;
	return 0;
}

static int do_write(struct gcmap *map, const struct kref *k, enum wop op, void *val, void *expected,
		    void **out)
{
	int ret;

	op_enter(map);
	ret = write_rcu(map, k, op, val, expected, out);
	op_exit(map);
	return ret;
}

int gcmap_get_u64(struct gcmap *map, uint64_t key, void **val)
{
	void *v;
	bool found;
	int err = check_map(map, GCMAP_KEY_U64);

	if (err)
		return err;
#ifdef GCMAP_DEBUG
	__atomic_fetch_add(&map->active, 1, __ATOMIC_RELAXED);
#endif
	/* A leaf section: nothing in the lookup checks gcmap's depth. */
	gcmap__rcu_read_lock_leaf();
	found = lookup_u64_rcu(map, key, gcmap__hash_u64(map, key), &v);
	gcmap__rcu_read_unlock_leaf();
#ifdef GCMAP_DEBUG
	__atomic_fetch_sub(&map->active, 1, __ATOMIC_RELAXED);
#endif
	if (!found)
		return -ENOENT;
	if (val)
		*val = v;
	return 0;
}

int gcmap_get_bytes(struct gcmap *map, const void *key, size_t len, void **val)
{
	struct kref k;
	int err = kref_bytes(map, key, len, &k);

	return err ? err : do_get(map, &k, val);
}

int gcmap_put_u64(struct gcmap *map, uint64_t key, void *val, void **old)
{
	struct kref k;
	int err = kref_u64(map, key, &k);

	if (old)
		*old = NULL;
	return err ? err : do_write(map, &k, OP_PUT, val, NULL, old);
}

int gcmap_put_bytes(struct gcmap *map, const void *key, size_t len, void *val, void **old)
{
	struct kref k;
	int err = kref_bytes(map, key, len, &k);

	if (old)
		*old = NULL;
	return err ? err : do_write(map, &k, OP_PUT, val, NULL, old);
}

int gcmap_insert_u64(struct gcmap *map, uint64_t key, void *val, void **cur)
{
	struct kref k;
	int err = kref_u64(map, key, &k);

	return err ? err : do_write(map, &k, OP_INSERT, val, NULL, cur);
}

int gcmap_insert_bytes(struct gcmap *map, const void *key, size_t len, void *val, void **cur)
{
	struct kref k;
	int err = kref_bytes(map, key, len, &k);

	return err ? err : do_write(map, &k, OP_INSERT, val, NULL, cur);
}

int gcmap_replace_u64(struct gcmap *map, uint64_t key, void *val, void **old)
{
	struct kref k;
	int err = kref_u64(map, key, &k);

	return err ? err : do_write(map, &k, OP_REPLACE, val, NULL, old);
}

int gcmap_replace_bytes(struct gcmap *map, const void *key, size_t len, void *val, void **old)
{
	struct kref k;
	int err = kref_bytes(map, key, len, &k);

	return err ? err : do_write(map, &k, OP_REPLACE, val, NULL, old);
}

int gcmap_cas_u64(struct gcmap *map, uint64_t key, void *expected, void *desired, void **cur)
{
	struct kref k;
	int err = kref_u64(map, key, &k);

	return err ? err : do_write(map, &k, OP_CAS, desired, expected, cur);
}

int gcmap_cas_bytes(struct gcmap *map, const void *key, size_t len, void *expected, void *desired,
		    void **cur)
{
	struct kref k;
	int err = kref_bytes(map, key, len, &k);

	return err ? err : do_write(map, &k, OP_CAS, desired, expected, cur);
}

int gcmap_delete_u64(struct gcmap *map, uint64_t key, void **old)
{
	struct kref k;
	int err = kref_u64(map, key, &k);

	return err ? err : do_write(map, &k, OP_DELETE, NULL, NULL, old);
}

int gcmap_delete_bytes(struct gcmap *map, const void *key, size_t len, void **old)
{
	struct kref k;
	int err = kref_bytes(map, key, len, &k);

	return err ? err : do_write(map, &k, OP_DELETE, NULL, NULL, old);
}

/* ---------------------------------------------------------------------- */
/* Tables, create, clear, destroy                                         */

struct gcmap_table *gcmap__table_new(struct gcmap *map, unsigned int log2)
{
	struct gcmap_table *tbl = gcmap__alloc(map, sizeof(*tbl), true, GCMAP_SITE_TABLE);
	size_t bytes = ((size_t)1 << log2) * sizeof(struct gcmap_bucket);

	if (!tbl)
		return NULL;
	/* Zeroed by the allocator: calloc takes large blocks as fresh zero
	 * pages from the kernel, so nobody zeroes them on an operation's path. */
	tbl->buckets = gcmap__alloc(map, bytes, true, GCMAP_SITE_BUCKETS);
	if (!tbl->buckets) {
		gcmap__free(map, tbl, sizeof(*tbl));
		return NULL;
	}
	tbl->map = map;
	tbl->log2 = log2;
	tbl->mask = ((uint64_t)1 << log2) - 1;
	tbl->bytes = bytes;
	return tbl;
}

/*
 * Free @tbl now: no reader or writer can reach it any more. Key copies are
 * freed where they live: in chains not moved, unless the table completed its
 * evacuation (then its successor owns them all and stays). An evacuation
 * target in flight goes with it.
 */
void gcmap__table_free_now(struct gcmap_table *tbl)
{
	struct gcmap *map = tbl->map;
	struct gcmap_table *next = __atomic_load_n(&tbl->next, __ATOMIC_ACQUIRE);
	bool completed = __atomic_load_n(&tbl->completed, __ATOMIC_RELAXED);

	for (uint64_t i = 0; i <= tbl->mask; i++) {
		struct gcmap_bucket *head = &tbl->buckets[i];
		struct gcmap_bucket *b = head;
		bool owns_keys = map->kind == GCMAP_KEY_BYTES && !completed &&
				 !(__atomic_load_n(&head->seq, __ATOMIC_RELAXED) & SEQ_MOVED);

		while (b) {
			struct gcmap_bucket *next_b = overflow_locked(b);
			uint64_t tags = tags_locked(b);

			for (unsigned int s = 0; owns_keys && s < GCMAP_SLOTS; s++) {
				uint64_t key = key_locked(b, s);

				if ((uint8_t)(tags >> (8 * s)) != TAG_EMPTY)
					key_free_now(map, (struct gcmap_key *)(uintptr_t)key);
			}
			if (b != head)
				gcmap__free(map, b, sizeof(*b));
			b = next_b;
		}
	}
	gcmap__free(map, tbl->buckets, tbl->bytes);
	gcmap__free(map, tbl, sizeof(*tbl));
	if (next && !completed)
		gcmap__table_free_now(next);
}

/* Call @fn on every value of a table's chains (skipping moved ones). */
static void table_values_now(struct gcmap_table *tbl, void (*fn)(void *val))
{
	for (uint64_t i = 0; i <= tbl->mask; i++) {
		if (__atomic_load_n(&tbl->buckets[i].seq, __ATOMIC_RELAXED) & SEQ_MOVED)
			continue;
		for (struct gcmap_bucket *b = &tbl->buckets[i]; b; b = overflow_locked(b)) {
			uint64_t tags = tags_locked(b);

			for (unsigned int s = 0; s < GCMAP_SLOTS; s++)
				if ((uint8_t)(tags >> (8 * s)) != TAG_EMPTY)
					fn(val_locked(b, s));
		}
	}
}

void gcmap__values_now(struct gcmap *map, void (*fn)(void *val))
{
	struct gcmap_table *tbl = __atomic_load_n(&map->tbl, __ATOMIC_ACQUIRE);
	struct gcmap_table *next = next_rcu(tbl);

	table_values_now(tbl, fn);
	if (next)
		table_values_now(next, fn);
}

void gcmap__map_put_ref(struct gcmap *map)
{
	/* acq_rel: the last dropper sees every other dropper's frees. */
	if (__atomic_sub_fetch(&map->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		struct gcmap_allocator a = map->alloc;

		a.free(map, sizeof(*map), a.ctx);
	}
}

static int check_options(const struct gcmap_options *o)
{
	if (o->size != sizeof(*o))
		return -EINVAL;
	if (o->key_kind != GCMAP_KEY_U64 && o->key_kind != GCMAP_KEY_BYTES)
		return -EINVAL;
	if (o->log2_buckets > GCMAP_MAX_LOG2_BUCKETS || o->max_key_len > GCMAP_MAX_KEY_LEN)
		return -EINVAL;
	if (o->flags & ~(unsigned int)(GCMAP_F_FIXED_SEED | GCMAP_F_BACKGROUND))
		return -EINVAL;
	if (o->allocator && (!o->allocator->malloc || !o->allocator->zalloc || !o->allocator->free))
		return -EINVAL;
	return 0;
}

int gcmap_create(const struct gcmap_options *opts, struct gcmap **out)
{
	struct gcmap_options o = { .size = sizeof(o) };
	struct gcmap tmp, *map;
	struct gcmap_table *tbl;
	int err;

	if (!out)
		return -EINVAL;
	if (opts)
		o = *opts;
	err = check_options(&o);
	if (err)
		return err;

	memset(&tmp, 0, sizeof(tmp));
	tmp.alloc = o.allocator ? *o.allocator : *gcmap__default_allocator();
	map = gcmap__alloc(&tmp, sizeof(*map), false, GCMAP_SITE_MAP);
	if (!map)
		return -ENOMEM;
	*map = tmp;
	map->magic = GCMAP_MAGIC;
	map->kind = o.key_kind;
	map->max_key_len = o.max_key_len ? o.max_key_len : GCMAP_DEFAULT_MAX_KEY_LEN;
	map->init_log2 = o.log2_buckets ? o.log2_buckets : GCMAP_DEFAULT_LOG2;
	map->flags = o.flags;
	if (o.flags & GCMAP_F_FIXED_SEED) {
		map->seed[0] = o.seed[0];
		map->seed[1] = o.seed[1];
	} else {
		gcmap__random_seed(map->seed);
	}
	map->refs = 1;
	tbl = gcmap__table_new(map, map->init_log2);
	if (!tbl) {
		gcmap__free(map, map, sizeof(*map));
		return -ENOMEM;
	}
	/* Release pairs with table_rcu(); the map itself is published by the
	 * caller (a thread that gets it from the caller synchronises there). */
	__atomic_store_n(&map->tbl, tbl, __ATOMIC_RELEASE);
	if (o.flags & GCMAP_F_BACKGROUND) {
		err = gcmap__bg_start(map);
		if (err) {
			gcmap__table_free_now(tbl);
			gcmap__free(map, map, sizeof(*map));
			return err;
		}
	}
	gcmap__diag_add_map(map);
	*out = map;
	return 0;
}

int gcmap_clear(struct gcmap *map)
{
	struct gcmap_table *fresh, *old;
	int err = check_map(map, map ? map->kind : GCMAP_KEY_U64);

	if (err)
		return err;
	fresh = gcmap__table_new(map, map->init_log2);
	if (!fresh)
		return -ENOMEM;
	op_enter(map);
	/*
	 * Swap in the empty table. acq_rel: release pairs with table_rcu() so
	 * the fresh table's contents are visible; acquire gives us the old
	 * one to retire. A writer that locked a chain of the old table before
	 * the swap finishes there: its operation is ordered before the clear.
	 * Its read-side section delays the retirement's grace period.
	 */
	old = __atomic_exchange_n(&map->tbl, fresh, __ATOMIC_ACQ_REL);
	op_exit(map);
	gcmap__table_retire(map, old);
	return 0;
}

int gcmap_count(struct gcmap *map, size_t *count)
{
	struct gcmap_table *tbl, *next;
	int64_t n;
	int err = check_map(map, map ? map->kind : GCMAP_KEY_U64);

	if (err)
		return err;
	if (!count)
		return -EINVAL;
	op_enter(map);
	/* During an evacuation entries are counted in the table they are in;
	 * a move subtracts from one and adds to the other. */
	tbl = table_rcu(map);
	next = next_rcu(tbl);
	n = gcmap__table_count(tbl) + (next ? gcmap__table_count(next) : 0);
	op_exit(map);
	*count = n > 0 ? (size_t)n : 0;
	return 0;
}

int gcmap_destroy(struct gcmap *map)
{
	struct gcmap_table *tbl;

	if (!map)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	if (gcmap__tls.depth > 0)
		return -EDEADLK;
#ifdef GCMAP_DEBUG
	if (map->magic != GCMAP_MAGIC)
		return -EINVAL;
#endif
	if (__atomic_load_n(&map->nr_iters, __ATOMIC_RELAXED) > 0)
		return -EBUSY;
	/* Off the GCMAP_STATS writer's list first: it runs gcmap_count. */
	gcmap__diag_remove_map(map);
#ifdef GCMAP_DEBUG
	/* Before anything else is undone. Users' gcmap_maintain() calls are
	 * counted; the background thread's work is not: it is stopped below. */
	if (__atomic_load_n(&map->active, __ATOMIC_RELAXED) != 0) {
		gcmap__diag_add_map(map);
		return -EBUSY;
	}
#endif
	gcmap__bg_stop(map);
	/* Detach (ends the marker's iterator of it, which is not counted). */
	if (__atomic_load_n(&map->gc, __ATOMIC_ACQUIRE))
		gcmap_gc_detach(map);
	tbl = __atomic_exchange_n(&map->tbl, NULL, __ATOMIC_ACQ_REL);
	map->magic = GCMAP_DEAD;
	/* No user is left (the contract): nothing can reach the table. */
	gcmap__table_free_now(tbl);
	/* Memory still waiting for a grace period holds references; the
	 * last callback frees the map struct. */
	gcmap__map_put_ref(map);
	return 0;
}

/* Slow path of bucket_lock(): spin a little, then sleep on the futex. */
void gcmap__lock_slow(uint32_t *word)
{
	uint32_t c;

	for (int i = 0; i < LOCK_SPINS; i++) {
		cpu_relax();
		if (__atomic_load_n(word, __ATOMIC_RELAXED) == LOCK_FREE && bucket_trylock(word))
			return;
	}
	/* Announce a waiter; acquire pairs with the release in bucket_unlock(). */
	c = __atomic_exchange_n(word, LOCK_WAITERS, __ATOMIC_ACQUIRE);
	while (c != LOCK_FREE) {
		futex_wait(word, LOCK_WAITERS);
		c = __atomic_exchange_n(word, LOCK_WAITERS, __ATOMIC_ACQUIRE);
	}
}
