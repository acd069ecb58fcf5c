/*
 * barrier.c - the collector's hybrid write barrier: shading (test-and-set
 * of an object's mark for the current cycle), the per-thread buffers that
 * batch shaded objects onto the shared grey list, and gcmap_gc_store().
 *
 * Design (doc/design.md, "The collector")
 * ------
 * Every store of a pointer into a slot of an attached map (put, insert,
 * replace, cas, delete) and every gcmap_gc_store() shades, while a cycle
 * marks, both the new pointer (Dijkstra: an object stored behind the marker
 * is not lost) and the overwritten or removed one (Yuasa: an object taken
 * from ahead of the marker is not lost). The check of the phase, the store
 * and the shading happen inside one read-side section.
 *
 *   shade(P):  entry = registry[P]            (lock-free lookup)
 *              if exchange(entry.mark, epoch) != epoch:   (white -> grey, once per cycle)
 *                  push entry on this thread's buffer
 *   buffer full, or the operation ends:  push the buffer on gc->grey (CAS)
 *
 * Invariants:
 *  B1. An object is pushed at most once per cycle (the exchange), so the
 *      grey list, linked through the entries, needs no allocation, and a
 *      push never blocks (one CAS loop on a Treiber stack).
 *  B2. A thread's buffer is empty whenever it is outside a read-side section
 *      of a barrier'd operation: the operation flushes it before leaving its
 *      section. So after a grace period, every shading that began before it
 *      is on the grey list: the termination check of gc.c relies on this.
 *
 * The map stores' call of the barrier (in map.c's write path) is compiled
 * out when GCMAP_BENCH_NO_BARRIER is defined: only the benchmark's copy of
 * the library (bench/local.mk) is built so, to measure what the idle
 * barrier costs. With that copy a cycle can lose objects (the bug the
 * barrier prevents), so nothing but that benchmark may link it.
 */
#include "internal.h"

#define GC_BUF 16

static __thread struct gc_obj *tls_buf[GC_BUF];
static __thread unsigned int tls_nbuf;

/* Push the chain @first ... @last (linked through grey_next) onto @gc's
 * grey list: one CAS for the whole chain. */
static void grey_push(struct gcmap_gc *gc, struct gc_obj *first, struct gc_obj *last)
{
	struct gc_obj *head = __atomic_load_n(&gc->grey, __ATOMIC_RELAXED);

	do {
		__atomic_store_n(&last->grey_next, head, __ATOMIC_RELAXED);
		/* Release pairs with the acquire exchange of the marker that
		 * takes the list: it sees every grey_next of the chain. */
	} while (!__atomic_compare_exchange_n(&gc->grey, &head, first, true, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
}

void gcmap__gc_flush(void)
{
	unsigned int i = 0;

	/* Runs of entries of one domain (nearly always all of them) go as
	 * one chain: the shared list head is written once per run. */
	while (i < tls_nbuf) {
		struct gc_obj *first = tls_buf[i], *last = first;
		unsigned int j = i + 1;

		for (; j < tls_nbuf && tls_buf[j]->gc == first->gc; j++) {
			/* Relaxed: published by grey_push()'s release CAS. */
			__atomic_store_n(&last->grey_next, tls_buf[j], __ATOMIC_RELAXED);
			last = tls_buf[j];
		}
		grey_push(first->gc, first, last);
		i = j;
	}
	tls_nbuf = 0;
}

bool gcmap__gc_mark_entry(struct gcmap_gc *gc, struct gc_obj *e)
{
	uint32_t epoch = __atomic_load_n(&gc->epoch, __ATOMIC_ACQUIRE);

	/* Marked this cycle already: whoever marked it pushes it (B1). A
	 * plain load first, so shading an object twice costs no locked RMW
	 * (which would also stall the other loads in flight). Relaxed: the
	 * result is only used to skip. */
	if (__atomic_load_n(&e->mark, __ATOMIC_RELAXED) == epoch)
		return false;
	/* Test-and-set: only the thread that turns it grey pushes it (B1).
	 * acq_rel: the marker that later traces it sees the entry as set up. */
	return __atomic_exchange_n(&e->mark, epoch, __ATOMIC_ACQ_REL) != epoch;
}

/* Shade @obj if it is a registered object. Inside a read-side section. */
void gcmap__gc_shade(struct gcmap_gc *gc, void *obj, bool by_barrier)
{
	void *v;

	if (obj && gcmap_get_u64(gc->registry, (uint64_t)(uintptr_t)obj, &v) == 0)
		gcmap__gc_shade_entry(gc, v, by_barrier);
}

/*
 * The barrier of a map store: shade @a and @b (either may be NULL), with
 * their registry lookups and then their mark words loaded in parallel
 * (prefetches), not one cache miss after the other. Inside a read-side
 * section.
 */
void gcmap__gc_shade2(struct gcmap_gc *gc, void *a, void *b)
{
	struct gc_obj *ea = NULL, *eb = NULL;
	void *v;

	if (a)
		gcmap__prefetch_u64(gc->registry, (uint64_t)(uintptr_t)a);
	if (b)
		gcmap__prefetch_u64(gc->registry, (uint64_t)(uintptr_t)b);
	if (a && gcmap_get_u64(gc->registry, (uint64_t)(uintptr_t)a, &v) == 0) {
		ea = v;
		__builtin_prefetch(&ea->mark, 1);
	}
	if (b && gcmap_get_u64(gc->registry, (uint64_t)(uintptr_t)b, &v) == 0) {
		eb = v;
		__builtin_prefetch(&eb->mark, 1);
	}
	if (ea)
		gcmap__gc_shade_entry(gc, ea, true);
	if (eb)
		gcmap__gc_shade_entry(gc, eb, true);
}

void gcmap__gc_shade_entry(struct gcmap_gc *gc, struct gc_obj *e, bool by_barrier)
{
	if (!gcmap__gc_mark_entry(gc, e))
		return;
	if (by_barrier)
		__atomic_fetch_add(&gc->nr_barrier_records, 1, __ATOMIC_RELAXED);
	gcmap__gc_push_grey(e);
}

/* Put an entry this thread turned grey on its buffer (B1). */
void gcmap__gc_push_grey(struct gc_obj *e)
{
	struct gcmap_gc *gc = e->gc;

	if (tls_nbuf == GC_BUF) {
		__atomic_fetch_add(&gc->nr_grey_overflows, 1, __ATOMIC_RELAXED);
		gcmap__gc_flush();
	}
	tls_buf[tls_nbuf++] = e;
}

int gcmap_gc_store(struct gcmap_gc *gc, void **field, void *val)
{
	void *old;

	if (!gc || !field)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	gcmap__rcu_read_lock();
	/* Release pairs with gcmap_gc_load() in trace functions and readers:
	 * the stored object's contents are visible. */
	old = __atomic_exchange_n(field, val, __ATOMIC_ACQ_REL);
	if (gcmap__gc_barrier_on(gc)) {
		gcmap__gc_shade(gc, val, true);
		gcmap__gc_shade(gc, old, true);
		gcmap__gc_flush();
	}
	gcmap__rcu_read_unlock();
	return 0;
}

void *gcmap_gc_load(void *const *field)
{
	return __atomic_load_n(field, __ATOMIC_ACQUIRE);
}
