/*
 * rwtable.c - the naive baseline: a pthread_rwlock_t around a plain
 * linear-probing table (rwtable.h). Readers share the lock; every write
 * takes it exclusively, and a write that fills the table past 7/8 rehashes
 * everything into a table twice the size while holding it.
 */
#include "rwtable.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "bench.h"

#define RW_INITIAL_LOG2 4 /* 16 slots: the table grows from small, as users' do */

int rwtable_init(struct rwtable *t, unsigned int log2_slots)
{
	size_t nr = (size_t)1 << log2_slots;

	t->slots = calloc(nr, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = nr - 1;
	t->count = 0;
	t->bytes = nr * sizeof(*t->slots);
	return 0;
}

void rwtable_fini(struct rwtable *t)
{
	free(t->slots);
	t->slots = NULL;
	t->bytes = 0;
}

/* The slot holding @key, or the empty slot that ends its probe sequence. */
static size_t probe(const struct rwtable *t, uint64_t key)
{
	size_t i = (size_t)bench_hash(key) & t->mask;

	while (t->slots[i].val && t->slots[i].key != key)
		i = (i + 1) & t->mask;
	return i;
}

bool rwtable_get(const struct rwtable *t, uint64_t key, void **val)
{
	size_t i = probe(t, key);

	if (!t->slots[i].val)
		return false;
	*val = t->slots[i].val;
	return true;
}

/* Stop-the-world doubling: every entry is re-inserted into the new array. */
static int grow(struct rwtable *t)
{
	struct rwtable bigger;
	size_t nr = t->mask + 1;
	int err;

	err = rwtable_init(&bigger, (unsigned int)__builtin_ctzl(nr) + 1);
	if (err)
		return err;
	for (size_t i = 0; i < nr; i++) {
		if (t->slots[i].val) {
			size_t j = probe(&bigger, t->slots[i].key);

			bigger.slots[j] = t->slots[i];
		}
	}
	bigger.count = t->count;
	rwtable_fini(t);
	*t = bigger;
	return 0;
}

int rwtable_put(struct rwtable *t, uint64_t key, void *val)
{
	size_t i = probe(t, key);

	if (t->slots[i].val) {
		t->slots[i].val = val;
		return 0;
	}
	/* At most 7/8 full after this insert. */
	if ((t->count + 1) * 8 > (t->mask + 1) * 7) {
		int err = grow(t);

		if (err)
			return err;
		i = probe(t, key);
	}
	t->slots[i].key = key;
	t->slots[i].val = val;
	t->count++;
	return 1;
}

/*
 * Backward-shift deletion: after emptying slot @hole, walk the run that
 * follows it and move back every entry whose home slot is not between the
 * hole and its position, so that no probe sequence crosses an empty slot.
 */
bool rwtable_del(struct rwtable *t, uint64_t key)
{
	size_t hole = probe(t, key);
	size_t j = hole;

	if (!t->slots[hole].val)
		return false;
	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->slots[j].val)
			break;
		size_t home = (size_t)bench_hash(t->slots[j].key) & t->mask;

		/* Displacement of j from its home >= distance hole..j: the home
		 * is at or before the hole, so the entry may move into it. */
		if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
			t->slots[hole] = t->slots[j];
			hole = j;
		}
	}
	t->slots[hole].val = NULL;
	t->count--;
	return true;
}

/* The rwlock contender. */
struct rwlocked {
	pthread_rwlock_t lock;
	struct rwtable t;
};

static void *rw_create(const struct table_cfg *cfg)
{
	struct rwlocked *rw = malloc(sizeof(*rw));

	(void)cfg;
	if (!rw)
		bench_die("malloc", ENOMEM);
	pthread_rwlock_init(&rw->lock, NULL);
	if (rwtable_init(&rw->t, RW_INITIAL_LOG2))
		bench_die("rwtable_init", ENOMEM);
	return rw;
}

static void rw_thread_nop(void)
{
}

static bool rw_get(void *tbl, uint64_t key, void **val)
{
	struct rwlocked *rw = tbl;
	bool found;

	pthread_rwlock_rdlock(&rw->lock);
	found = rwtable_get(&rw->t, key, val);
	pthread_rwlock_unlock(&rw->lock);
	return found;
}

static int rw_put(void *tbl, uint64_t key, void *val)
{
	struct rwlocked *rw = tbl;
	int ret;

	pthread_rwlock_wrlock(&rw->lock);
	ret = rwtable_put(&rw->t, key, val);
	pthread_rwlock_unlock(&rw->lock);
	return ret;
}

static bool rw_del(void *tbl, uint64_t key)
{
	struct rwlocked *rw = tbl;
	bool removed;

	pthread_rwlock_wrlock(&rw->lock);
	removed = rwtable_del(&rw->t, key);
	pthread_rwlock_unlock(&rw->lock);
	return removed;
}

static size_t rw_count(void *tbl)
{
	struct rwlocked *rw = tbl;
	size_t n;

	pthread_rwlock_rdlock(&rw->lock);
	n = rw->t.count;
	pthread_rwlock_unlock(&rw->lock);
	return n;
}

static void rw_quiesce(void *tbl)
{
	(void)tbl;
}

static double rw_buckets(void *tbl, size_t heap, bool *estimated)
{
	struct rwlocked *rw = tbl;

	(void)heap;
	*estimated = false;
	return (double)(rw->t.mask + 1);
}

static size_t rw_self_bytes(void *tbl)
{
	struct rwlocked *rw = tbl;

	return sizeof(*rw) + rw->t.bytes;
}

const struct table_ops bench_rwlock_ops = {
	.name = "rwlock",
	.create = rw_create,
	.thread_init = rw_thread_nop,
	.thread_fini = rw_thread_nop,
	.get = rw_get,
	.put = rw_put,
	.del = rw_del,
	.count = rw_count,
	.quiesce = rw_quiesce,
	.buckets = rw_buckets,
	.self_bytes = rw_self_bytes,
};
