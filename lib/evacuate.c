/*
 * evacuate.c - grow, shrink and same-size rebuild by incremental
 * evacuation: the policy that starts one, the all-or-nothing move of one
 * unit of chains, the bounded help that writers give, gcmap_maintain() and
 * the optional background thread, and the retirement of the old table.
 *
 * Design (doc/design.md, "Evacuation", has the full argument)
 * ------
 * A table T being evacuated has T->next = N. The work is split into units:
 *
 *   grow  (N has 2x buckets): unit u = old chain u  -> new chains u, u+|T|
 *   same  (rebuild)         : unit u = old chain u  -> new chain u
 *   shrink (N has 1/2)      : unit u = old chains u, u+|N| -> new chain u
 *
 * so every new chain has all of its sources in exactly one unit.
 *
 *   T chain:  [live] --move(unit)--> [MOVED, frozen intact]
 *   N chain:  [empty, unreachable] --same move--> [live]
 *   map->tbl: T ------------(last unit moved: CAS)----------> N
 *
 * Invariants:
 *  I1. A unit moves all-or-nothing, under the locks of its source chains
 *      (ascending index) and then of its destination chains (ascending),
 *      inside the sources' sequence write sections, whose closing store
 *      sets SEQ_MOVED. Everything that can fail (the destination's overflow
 *      buckets) is allocated before anything changes.
 *  I2. Nothing is stored into a new chain before all of its sources are
 *      moved: the mover fills it while holding them, and everyone else
 *      reaches a new chain only through a moved mark (or after map->tbl = N,
 *      which happens after every unit moved).
 *  I3. A moved chain is never changed again and stays intact until T is
 *      freed: its seq no longer changes, so a reader that validated it
 *      before the move retries, and one that meets the mark follows T->next.
 *  I4. T is unpublished (map->tbl: T -> N, by the mover of the last unit)
 *      and freed after a grace period; its frozen chains' keys belong to N.
 *
 * Ordering:
 *  A. Publication of N: CAS of T->next (release) pairs with next_rcu().
 *  B. A move's stores into N happen before its closing release of the
 *     source's seq (SEQ_MOVED); a reader or writer that sees the mark with
 *     an acquire load sees them.
 *  C. The last mover's acq_rel increment of T->nr_moved reads every earlier
 *     mover's increment, so all moves happen before its release CAS of
 *     map->tbl: a thread that loads N from map->tbl sees a complete table.
 *  D. Retirement follows unpublication; call_rcu waits for every reader
 *     that could still hold T.
 *
 * Helping bound: a writer moves its own key's unit (if not moved) plus one
 * more claimed from T->evac_cursor, skipping at most HELP_SCAN already moved
 * or empty units: at most 2 moves per operation.
 */
#include "internal.h"
#include "lock.h"

#include <pthread.h>
#include <time.h>

/* Load factor thresholds, in entries per bucket times 8 (integer math). */
#define GROW_X8 52 /* grow above 6.5 per bucket */
#define SHRINK_X8 13 /* shrink below 1.625 per bucket: 1/4 of the grow load */
#define HELP_SCAN 8 /* units a helper examines from the cursor */
#define POLICY_EVERY 64 /* a thread checks the load every this many writes */

#ifdef GCMAP_TESTHOOKS
void (*gcmap__sched_hook)(const char *point);
unsigned int gcmap__test_flags;
unsigned long gcmap__max_moves_per_op, gcmap__max_skips_per_op;

static void note_max(unsigned long *max, unsigned long v)
{
	unsigned long cur = __atomic_load_n(max, __ATOMIC_RELAXED);

	while (v > cur && !__atomic_compare_exchange_n(max, &cur, v, false, __ATOMIC_RELAXED,
						       __ATOMIC_RELAXED))
		;
}
#endif

static inline struct gcmap_table *next_rcu(const struct gcmap_table *tbl)
{
	/* Acquire pairs with the release CAS in gcmap__evac_start(). */
	return __atomic_load_n(&tbl->next, __ATOMIC_ACQUIRE);
}

static inline bool moved_rcu(const struct gcmap_bucket *head)
{
	/* Acquire pairs with the release of seq_end in move_unit_locked(). */
	return __atomic_load_n(&head->seq, __ATOMIC_ACQUIRE) & SEQ_MOVED;
}

uint64_t gcmap__evac_units(const struct gcmap_table *tbl, const struct gcmap_table *next)
{
	return (tbl->mask < next->mask ? tbl->mask : next->mask) + 1;
}

int64_t gcmap__table_count(const struct gcmap_table *tbl)
{
	int64_t n = 0;

	for (unsigned int i = 0; i < GCMAP_NR_STRIPES; i++)
		n += __atomic_load_n(&tbl->stripes[i].n, __ATOMIC_RELAXED);
	return n;
}

/* Source chain indexes of unit @u: one, or two when shrinking. */
static unsigned int unit_sources(const struct gcmap_table *tbl, const struct gcmap_table *next,
				 uint64_t u, uint64_t src[2])
{
	src[0] = u;
	if (next->log2 < tbl->log2) {
		src[1] = u + next->mask + 1;
		return 2;
	}
	return 1;
}

/* Destination chain indexes of unit @u: two when growing, else one. */
static unsigned int unit_dests(const struct gcmap_table *tbl, const struct gcmap_table *next,
			       uint64_t u, uint64_t dst[2])
{
	dst[0] = u;
	if (next->log2 > tbl->log2) {
		dst[1] = u + tbl->mask + 1;
		return 2;
	}
	return 1;
}

static uint64_t slot_hash(const struct gcmap *map, uint64_t keyword)
{
	if (map->kind == GCMAP_KEY_U64)
		return gcmap__hash_u64(map, keyword);
	return ((const struct gcmap_key *)(uintptr_t)keyword)->hash;
}

/* Where the next entry of a destination chain goes while it is filled. */
struct filler {
	struct gcmap_bucket *b;
	unsigned int i;
	uint64_t tags;
	struct gcmap_bucket *spare; /* preallocated overflow buckets, linked by ->overflow */
	size_t count;
};

static void filler_put(struct filler *f, uint64_t key, void *val, uint8_t tag)
{
	if (f->i == GCMAP_SLOTS) {
		struct gcmap_bucket *nb = f->spare;

		f->spare = nb->overflow;
		nb->overflow = NULL;
		/* Close the full bucket; the chain is unreachable until the
		 * move's SEQ_MOVED release (ordering B), so relaxed suffices. */
		__atomic_store_n(&f->b->tags, f->tags, __ATOMIC_RELAXED);
		__atomic_store_n(&f->b->overflow, nb, __ATOMIC_RELAXED);
		f->b = nb;
		f->i = 0;
		f->tags = 0;
	}
	__atomic_store_n(&f->b->slot[f->i].key, key, __ATOMIC_RELAXED);
	__atomic_store_n(&f->b->slot[f->i].val, val, __ATOMIC_RELAXED);
	f->tags |= (uint64_t)tag << (8 * f->i);
	f->i++;
	f->count++;
}

static void free_spares(struct gcmap *map, struct gcmap_bucket *b)
{
	while (b) {
		struct gcmap_bucket *next = b->overflow;

		gcmap__free(map, b, sizeof(*b));
		b = next;
	}
}

/* Preallocate the overflow buckets a destination with @n entries needs. */
static int prealloc(struct gcmap *map, size_t n, struct gcmap_bucket **spare)
{
	size_t need = n > GCMAP_SLOTS ? (n - 1) / GCMAP_SLOTS : 0;

	*spare = NULL;
	for (size_t i = 0; i < need; i++) {
		struct gcmap_bucket *b = gcmap__alloc(map, sizeof(*b), true, GCMAP_SITE_EVAC);

		if (!b) {
			free_spares(map, *spare);
			*spare = NULL;
			return -ENOMEM;
		}
		b->overflow = *spare;
		*spare = b;
	}
	return 0;
}

int gcmap__evac_move_unit(struct gcmap *map, struct gcmap_table *tbl, struct gcmap_table *next,
			  uint64_t u)
{
	uint64_t src[2], dst[2];
	unsigned int nsrc = unit_sources(tbl, next, u, src);
	unsigned int ndst = unit_dests(tbl, next, u, dst);
	struct gcmap_bucket *srcs[2] = { NULL, NULL }, *dsts[2] = { NULL, NULL };
	struct filler f[2] = { { 0 } };
	size_t cnt[2] = { 0, 0 };
	int err = 0;

	for (unsigned int s = 0; s < nsrc; s++) {
		srcs[s] = &tbl->buckets[src[s]];
		bucket_lock(&srcs[s]->lock); /* ascending: src[0] < src[1] */
	}
	if (__atomic_load_n(&srcs[0]->seq, __ATOMIC_RELAXED) & SEQ_MOVED)
		goto unlock_src; /* another helper moved it (all sources move together) */

	/* Count per destination: with two destinations (grow), an entry goes
	 * to dst[1] when its hash has the bit of the old size set. */
	for (unsigned int s = 0; s < nsrc; s++) {
		for (const struct gcmap_bucket *b = srcs[s]; b;
		     b = __atomic_load_n(&b->overflow, __ATOMIC_RELAXED)) {
			uint64_t tags = __atomic_load_n(&b->tags, __ATOMIC_RELAXED);

			for (unsigned int i = 0; i < GCMAP_SLOTS; i++) {
				uint64_t h;

				if ((uint8_t)(tags >> (8 * i)) == TAG_EMPTY)
					continue;
				h = slot_hash(map,
					      __atomic_load_n(&b->slot[i].key, __ATOMIC_RELAXED));
				cnt[ndst == 2 && (h & next->mask) != dst[0]]++;
			}
		}
	}
	for (unsigned int d = 0; d < ndst; d++) {
		err = prealloc(map, cnt[d], &f[d].spare);
		if (err) {
			if (d)
				free_spares(map, f[0].spare);
			__atomic_fetch_add(&map->nr_evac_alloc_failures, 1, __ATOMIC_RELAXED);
			goto unlock_src;
		}
	}

	for (unsigned int d = 0; d < ndst; d++) {
		dsts[d] = &next->buckets[dst[d]];
		/* Old before new, ascending (doc/design.md, lock order). No one
		 * else can reach these chains yet (I2); the locks make that
		 * explicit and cost nothing uncontended. */
		bucket_lock(&dsts[d]->lock);
		f[d].b = dsts[d];
	}
	for (unsigned int s = 0; s < nsrc; s++)
		gcmap__seq_begin_locked(srcs[s]);
	GCMAP_SCHED_POINT("evac:mid-move");
	for (unsigned int s = 0; s < nsrc; s++) {
		for (const struct gcmap_bucket *b = srcs[s]; b;
		     b = __atomic_load_n(&b->overflow, __ATOMIC_RELAXED)) {
			uint64_t tags = __atomic_load_n(&b->tags, __ATOMIC_RELAXED);

			for (unsigned int i = 0; i < GCMAP_SLOTS; i++) {
				uint8_t tag = (uint8_t)(tags >> (8 * i));
				uint64_t key;

				if (tag == TAG_EMPTY)
					continue;
				key = __atomic_load_n(&b->slot[i].key, __ATOMIC_RELAXED);
				filler_put(&f[ndst == 2 &&
					      (slot_hash(map, key) & next->mask) != dst[0]],
					   key, __atomic_load_n(&b->slot[i].val, __ATOMIC_RELAXED),
					   tag);
			}
		}
	}
	for (unsigned int d = 0; d < ndst; d++) {
		size_t nb = cnt[d] > GCMAP_SLOTS ? (cnt[d] - 1) / GCMAP_SLOTS : 0;

		__atomic_store_n(&f[d].b->tags, f[d].tags, __ATOMIC_RELAXED);
		__atomic_fetch_add(&next->nr_overflow, nb, __ATOMIC_RELAXED);
		__atomic_fetch_add(&next->stripes[gcmap__stripe()].n, (int64_t)f[d].count,
				   __ATOMIC_RELAXED);
		__atomic_fetch_sub(&tbl->stripes[gcmap__stripe()].n, (int64_t)f[d].count,
				   __ATOMIC_RELAXED);
	}
	for (unsigned int s = 0; s < nsrc; s++)
		gcmap__seq_end_locked(srcs[s], SEQ_MOVED);
	for (unsigned int d = ndst; d-- > 0;)
		bucket_unlock(&dsts[d]->lock);
	err = 1 + (int)(cnt[0] + cnt[1] > 0);
unlock_src:
	for (unsigned int s = nsrc; s-- > 0;)
		bucket_unlock(&srcs[s]->lock);
	if (err > 0) {
		uint64_t done = __atomic_add_fetch(&tbl->nr_moved, 1, __ATOMIC_ACQ_REL);

		GCMAP_TRACE3(evac_step, map, u, cnt[0] + cnt[1]);
		if (done == gcmap__evac_units(tbl, next)) {
			struct gcmap_table *expect = tbl;

			/* Ordering C: publish the complete new table. If a
			 * clear replaced T meanwhile, the CAS fails and the
			 * clear's retirement frees T and N together. */
			if (__atomic_compare_exchange_n(&map->tbl, &expect, next, false,
							__ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
				unsigned long *ctr = next->log2 > tbl->log2 ? &map->nr_grows :
						     next->log2 < tbl->log2 ? &map->nr_shrinks :
									      &map->nr_rebuilds;

				__atomic_fetch_add(ctr, 1, __ATOMIC_RELAXED);
				__atomic_store_n(&tbl->completed, true, __ATOMIC_RELAXED);
				gcmap__table_retire(map, tbl);
			}
		}
	}
	return err;
}

int gcmap__evac_start(struct gcmap *map, struct gcmap_table *tbl, unsigned int log2)
{
	struct gcmap_table *next;

	/* Units assume a factor of two (or the same size). */
	if (log2 + 1 < tbl->log2 || log2 > tbl->log2 + 1 || log2 > GCMAP_MAX_LOG2_BUCKETS)
		return -EINVAL;
	if (next_rcu(tbl))
		return -EBUSY;
	/* Relaxed: only elects the allocating thread; the table is
	 * published by the CAS below. */
	if (__atomic_exchange_n(&tbl->starting, true, __ATOMIC_RELAXED))
		return -EBUSY;
	/* A zeroed allocation: for a large table calloc maps fresh zero
	 * pages that the kernel provides lazily, as moves first touch them. */
	next = gcmap__table_new(map, log2);
	if (!next) {
		__atomic_store_n(&tbl->starting, false, __ATOMIC_RELAXED);
		__atomic_fetch_add(&map->nr_evac_alloc_failures, 1, __ATOMIC_RELAXED);
		return -ENOMEM;
	}
	/* Ordering A: release publishes the initialised table to next_rcu().
	 * A store: @starting elected this thread, and @next was NULL. */
	__atomic_store_n(&tbl->next, next, __ATOMIC_RELEASE);
	if (log2 > tbl->log2)
		GCMAP_TRACE3(grow, map, tbl->log2, log2);
	else if (log2 < tbl->log2)
		GCMAP_TRACE3(shrink, map, tbl->log2, log2);
	else
		GCMAP_TRACE2(rebuild, map, log2);
	return 0;
}

/*
 * The size the policy wants for @tbl, or -1 to stay. @fit: shrink as far
 * as the entries fit below the grow threshold (gcmap_maintain).
 */
static int policy_target(const struct gcmap *map, const struct gcmap_table *tbl, bool fit)
{
	int64_t count = gcmap__table_count(tbl);
	uint64_t n = count > 0 ? (uint64_t)count : 0;
	uint64_t nb = tbl->mask + 1;

	if (n * 8 > GROW_X8 * nb)
		return tbl->log2 < GCMAP_MAX_LOG2_BUCKETS ? (int)tbl->log2 + 1 : -1;
	if (tbl->log2 > map->init_log2) {
		/* Hysteresis: shrink at 1/4 of the grow load, so the halved
		 * table sits at 1/2 of it and needs twice the entries to grow
		 * again. Shrink-to-fit goes down to the grow threshold. */
		if (fit ? n * 8 <= GROW_X8 * (nb / 2) : n * 8 < SHRINK_X8 * nb)
			return (int)tbl->log2 - 1;
	}
	/*
	 * Same-size rebuild: overflow buckets outnumber the primary ones while
	 * the load is under the grow threshold. Packed chains would then hold
	 * n >= 8 * ovf >= 8 * nb entries, more than the grow threshold: so the
	 * overflow buckets hold holes left by churn, and packing them gives
	 * memory back. A long chain alone never triggers it: a chain is only
	 * extended when it has no free slot, so rebuilding it changes nothing
	 * (keys that collide at every size would rebuild forever).
	 */
	if (__atomic_load_n(&tbl->nr_overflow, __ATOMIC_RELAXED) >= nb)
		return (int)tbl->log2;
	return -1;
}

void gcmap__evac_policy(struct gcmap *map, enum gcmap__resize_hint hint)
{
	static __thread unsigned int tls_writes;
	struct gcmap_table *tbl;
	int target;

	if (hint == HINT_NONE || GCMAP_TESTING(GCMAP_TEST_NO_POLICY))
		return;
	if (hint != HINT_OVERFLOW && ++tls_writes % POLICY_EVERY)
		return;
	tbl = __atomic_load_n(&map->tbl, __ATOMIC_ACQUIRE);
	if (next_rcu(tbl))
		return;
	target = policy_target(map, tbl, false);
	if (target >= 0)
		(void)gcmap__evac_start(map, tbl,
					(unsigned int)target); /* -ENOMEM: retried later */
}

void gcmap__evac_help(struct gcmap *map, struct gcmap_table *tbl, struct gcmap_table *next,
		      uint64_t hash)
{
	uint64_t nunits = gcmap__evac_units(tbl, next);
	uint64_t own = hash & (nunits - 1);
	unsigned long moves = 0, skips = 0;

	if (GCMAP_TESTING(GCMAP_TEST_NO_HELP))
		return;
	/* The unit holding this key's source chain(s), so the caller's own
	 * operation can go to the new table. A failed move (-ENOMEM) leaves
	 * it in the old table, where the operation then happens. */
	if (!moved_rcu(&tbl->buckets[own]) && gcmap__evac_move_unit(map, tbl, next, own) > 0)
		moves++;
	/* Plus one more, from the shared cursor; empty and already moved
	 * units are skipped, at most HELP_SCAN of them. */
	for (unsigned int scan = 0; scan < HELP_SCAN; scan++) {
		uint64_t u;
		int r;

		if (__atomic_load_n(&tbl->nr_moved, __ATOMIC_RELAXED) >= nunits)
			break;
		u = __atomic_fetch_add(&tbl->evac_cursor, 1, __ATOMIC_RELAXED) & (nunits - 1);
		if (moved_rcu(&tbl->buckets[u])) {
			skips++;
			continue;
		}
		r = gcmap__evac_move_unit(map, tbl, next, u);
		if (r == 1) { /* an empty unit: cheap, counts as a skip */
			skips++;
			continue;
		}
		if (r > 1)
			moves++;
		break;
	}
#ifdef GCMAP_TESTHOOKS
	note_max(&gcmap__max_moves_per_op, moves);
	note_max(&gcmap__max_skips_per_op, skips);
#endif
	(void)skips;
}

/* gcmap_maintain() without the argument checks and, in debug builds,
 * without counting itself as an operation in flight: the background thread
 * calls this, and gcmap_destroy() stops that thread itself. */
static int maintain(struct gcmap *map, unsigned int budget, unsigned int flags)
{
	bool fit = flags & GCMAP_MAINTAIN_SHRINK_TO_FIT;
	struct gcmap_table *tbl, *next;
	int ret = 0;

	gcmap__rcu_read_lock();
	while (budget > 0) {
		uint64_t u, nunits;
		int r;

		tbl = __atomic_load_n(&map->tbl, __ATOMIC_ACQUIRE);
		next = next_rcu(tbl);
		if (!next) {
			int target = policy_target(map, tbl, fit);

			if (target < 0)
				break;
			if (gcmap__evac_start(map, tbl, (unsigned int)target) == -ENOMEM) {
				ret = -ENOMEM;
				break;
			}
			continue;
		}
		budget--;
		nunits = gcmap__evac_units(tbl, next);
		u = __atomic_fetch_add(&tbl->evac_cursor, 1, __ATOMIC_RELAXED) & (nunits - 1);
		if (moved_rcu(&tbl->buckets[u]))
			continue;
		r = gcmap__evac_move_unit(map, tbl, next, u);
		if (r < 0) {
			ret = r;
			break;
		}
	}
	if (ret == 0) {
		tbl = __atomic_load_n(&map->tbl, __ATOMIC_ACQUIRE);
		next = next_rcu(tbl);
		if (next) {
			uint64_t left = gcmap__evac_units(tbl, next) -
					__atomic_load_n(&tbl->nr_moved, __ATOMIC_ACQUIRE);

			/* At least 1 while the last mover has yet to publish. */
			ret = left > INT32_MAX ? INT32_MAX : left ? (int)left : 1;
		} else if (policy_target(map, tbl, fit) >= 0) {
			ret = 1;
		}
	}
	gcmap__rcu_read_unlock();
	return ret;
}

int gcmap_maintain(struct gcmap *map, unsigned int budget, unsigned int flags)
{
	int ret;

	if (!map || (flags & ~(unsigned int)GCMAP_MAINTAIN_SHRINK_TO_FIT))
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
#ifdef GCMAP_DEBUG
	if (map->magic != GCMAP_MAGIC)
		return -EINVAL;
	/* A user's call is an operation in flight for gcmap_destroy(). */
	__atomic_fetch_add(&map->active, 1, __ATOMIC_RELAXED);
#endif
	ret = maintain(map, budget, flags);
#ifdef GCMAP_DEBUG
	__atomic_fetch_sub(&map->active, 1, __ATOMIC_RELAXED);
#endif
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Retirement                                                             */

static size_t table_bytes(const struct gcmap_table *tbl)
{
	return sizeof(*tbl) + tbl->bytes +
	       __atomic_load_n(&tbl->nr_overflow, __ATOMIC_RELAXED) * sizeof(struct gcmap_bucket);
}

static void table_free_cb(struct gcmap__rcu_head *rh)
{
	struct gcmap_table *tbl = gcmap__container_of(rh, struct gcmap_table, rh);
	struct gcmap *map = tbl->map;

	size_t bytes = tbl->retired_bytes;

	/* Freed first, then no longer counted as pending: the walk of a
	 * large table takes a while, and pending should never under-report. */
	gcmap__table_free_now(tbl);
	__atomic_fetch_sub(&map->bytes_pending, bytes, __ATOMIC_RELAXED);
	gcmap__map_put_ref(map);
}

/*
 * Free an unpublished table after a grace period (ordering D): a completed
 * evacuation's old table (frozen chains; keys now belong to its successor),
 * or a table replaced by gcmap_clear() (everything it and an evacuation
 * target in flight hold).
 */
void gcmap__table_retire(struct gcmap *map, struct gcmap_table *tbl)
{
	struct gcmap_table *next = __atomic_load_n(&tbl->next, __ATOMIC_ACQUIRE);

	tbl->retired_bytes = table_bytes(tbl);
	if (next && !__atomic_load_n(&tbl->completed, __ATOMIC_RELAXED))
		tbl->retired_bytes += table_bytes(next);
	GCMAP_TRACE3(table_retired, map, tbl->log2, tbl->retired_bytes);
	__atomic_fetch_add(&map->refs, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&map->bytes_pending, tbl->retired_bytes, __ATOMIC_RELAXED);
#ifdef GCMAP_TESTHOOKS
	if (GCMAP_TESTING(GCMAP_TEST_NO_GRACE)) {
		/* Negative control for TSan: the bug of freeing a table that
		 * readers may still hold, without waiting for a grace period. */
		table_free_cb(&tbl->rh);
		return;
	}
#endif
	gcmap__call_rcu(&tbl->rh, table_free_cb);
}

/* ---------------------------------------------------------------------- */
/* The background maintenance thread (GCMAP_F_BACKGROUND)                 */

struct gcmap__bg {
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop; /* under mu */
};

static void *bg_main(void *arg)
{
	struct gcmap *map = arg;
	struct gcmap__bg *bg = map->bg;

	gcmap_thread_register();
	pthread_mutex_lock(&bg->mu);
	while (!bg->stop) {
		struct timespec ts;
		int left;

		pthread_mutex_unlock(&bg->mu);
		left = maintain(map, 256, 0);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += left > 0 ? 200000 : 10000000; /* 0.2 ms busy, 10 ms idle */
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&bg->mu);
		if (!bg->stop)
			pthread_cond_timedwait(&bg->cv, &bg->mu, &ts);
	}
	pthread_mutex_unlock(&bg->mu);
	gcmap_thread_unregister();
	return NULL;
}

int gcmap__bg_start(struct gcmap *map)
{
	struct gcmap__bg *bg = gcmap__alloc(map, sizeof(*bg), true, GCMAP_SITE_MAP);
	int err;

	if (!bg)
		return -ENOMEM;
	pthread_mutex_init(&bg->mu, NULL);
	pthread_cond_init(&bg->cv, NULL);
	map->bg = bg;
	err = pthread_create(&bg->tid, NULL, bg_main, map);
	if (err) {
		map->bg = NULL;
		gcmap__free(map, bg, sizeof(*bg));
		return -err;
	}
	return 0;
}

void gcmap__bg_stop(struct gcmap *map)
{
	struct gcmap__bg *bg = map->bg;

	if (!bg)
		return;
	pthread_mutex_lock(&bg->mu);
	bg->stop = true;
	pthread_cond_signal(&bg->cv);
	pthread_mutex_unlock(&bg->mu);
	pthread_join(bg->tid, NULL);
	pthread_mutex_destroy(&bg->mu);
	pthread_cond_destroy(&bg->cv);
	map->bg = NULL;
	gcmap__free(map, bg, sizeof(*bg));
}
