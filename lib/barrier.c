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
 * and the recording happen inside one read-side section.
 *
 * The writer only records: it appends (domain, pointer) to its thread's
 * ring of records and publishes the ring's head before its section ends.
 * Shading - a registry lookup and a test-and-set, two cache misses for a
 * random object - is done by whoever resolves the rings (the marker before
 * each drain and in its termination check, gcmap_gc_stats(), a thread that
 * unregisters, a domain destroyed), in batches whose lookups overlap (Go's
 * write barrier buffers, flushed by the collector instead of the mutator).
 * A full ring (the resolvers behind) makes the writer shade directly.
 *
 *   record(P): ring[head++] = (gc, P)  (or, ring full: shade(P) now)
 *   the operation ends:  publish head (release)
 *   resolve (under rings_lock): for each published record: shade(P)
 *   shade(P):  entry = registry[P]            (lock-free lookup)
 *              if exchange(entry.mark, epoch) != epoch:   (white -> grey, once per cycle)
 *                  push entry on this thread's buffer
 *   buffer full, or the operation/resolution ends:  push it on gc->grey (CAS)
 *
 * Invariants:
 *  B1. An object is pushed at most once per cycle (the exchange), so the
 *      grey list, linked through the entries, needs no allocation, and a
 *      push never blocks (one CAS loop on a Treiber stack).
 *  B2. When a thread leaves the read-side section of a barrier'd operation,
 *      its buffer is empty and its records are published: the operation
 *      flushes both before leaving. So after a grace period, every shading
 *      owed by an operation that began before it is on the grey list or in
 *      a published record: the termination check of gc.c resolves the rings
 *      after its grace period, then looks at the grey list.
 *  B3. Records exist only for a domain that marks (or has just stopped:
 *      its termination resolves them after its last grace period), so a
 *      record is never resolved during a sweep, and every record of a
 *      cycle is resolved within it. A destroyed domain's records are
 *      dropped (gcmap__gc_resolve(gc)).
 *
 * The map stores' call of the barrier (in map.c's write path) is compiled
 * out when GCMAP_BENCH_NO_BARRIER is defined: only the benchmark's copy of
 * the library (bench/local.mk) is built so, to measure what the idle
 * barrier costs. With that copy a cycle can lose objects (the bug the
 * barrier prevents), so nothing but that benchmark may link it.
 */
#include "internal.h"

#define GC_BUF 16
#define GC_RING 16384 /* records per thread (power of two): 256 KiB */
#define GC_RESOLVE_BATCH 8 /* lookups in flight while resolving */

static __thread struct gc_obj *tls_buf[GC_BUF];
static __thread unsigned int tls_nbuf;

struct gc_rec {
	struct gcmap_gc *gc;
	void *obj;
};

/* A thread's records. [tail, head) are published and not yet resolved. */
struct gc_ring {
	struct gc_ring *next; /* the rings list, under rings_lock */
	/* The default allocator it came from, which frees it: tests replace
	 * the default for a while, and a ring lives as long as its thread. */
	struct gcmap_allocator alloc;
	uint64_t head; /* owner: release store; resolvers: acquire load */
	char pad0[64 - sizeof(uint64_t)];
	uint64_t tail; /* resolvers (rings_lock): release store; owner: acquire load */
	char pad1[64 - sizeof(uint64_t)];
	struct gc_rec rec[GC_RING]; /* written by the owner at [head, tail + GC_RING) */
};

static pthread_mutex_t rings_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gc_ring *rings; /* under rings_lock */
static __thread struct gc_ring *tls_ring;
/* The owner's view: next record, last published head, last tail seen. */
static __thread uint64_t tls_head, tls_pub, tls_tail;

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

	if (tls_head != tls_pub) {
		/* Release pairs with the resolvers' acquire load of head: they
		 * see the records (B2). */
		__atomic_store_n(&tls_ring->head, tls_head, __ATOMIC_RELEASE);
		tls_pub = tls_head;
	}

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

/* This thread's ring, created on its first record (NULL if that fails). */
static struct gc_ring *ring_get(void)
{
	struct gc_ring *r = tls_ring;

	if (__builtin_expect(r != NULL, 1))
		return r;
	r = gcmap__alloc(NULL, sizeof(*r), true, GCMAP_SITE_GC);
	if (!r)
		return NULL;
	r->alloc = *gcmap__default_allocator();
	pthread_mutex_lock(&rings_lock);
	r->next = rings;
	rings = r;
	pthread_mutex_unlock(&rings_lock);
	tls_ring = r;
	tls_head = tls_pub = tls_tail = 0;
	return r;
}

/*
 * The barrier of a store: record @obj (NULL: nothing) for @gc, to be shaded
 * by a resolver; with the ring full or missing, shade it now. Inside the
 * store's read-side section; gcmap__gc_flush() publishes before it ends.
 */
void gcmap__gc_record(struct gcmap_gc *gc, void *obj)
{
	struct gc_ring *r;

	if (!obj)
		return;
	r = ring_get();
	if (r && tls_head - tls_tail == GC_RING)
		/* Acquire pairs with a resolver's release store of tail: it
		 * has read the records overwritten next. */
		tls_tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	if (!r || tls_head - tls_tail == GC_RING) {
		__atomic_fetch_add(&gc->nr_ring_full, 1, __ATOMIC_RELAXED);
		gcmap__gc_shade(gc, obj, true);
		return;
	}
	r->rec[tls_head & (GC_RING - 1)] = (struct gc_rec){ gc, obj };
	tls_head++;
}

/* Shade ring @r's published records, dropping @skip's. rings_lock held,
 * inside a read-side section. Lookups of a batch overlap (prefetches). */
static void ring_resolve(struct gc_ring *r, const struct gcmap_gc *skip)
{
	/* Acquire pairs with the owner's release store in gcmap__gc_flush(). */
	uint64_t h = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	/* Relaxed: only resolvers store it, under rings_lock. */
	uint64_t t = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);

	while (t != h) {
		unsigned int n =
			h - t < GC_RESOLVE_BATCH ? (unsigned int)(h - t) : GC_RESOLVE_BATCH;
		struct gc_rec rec[GC_RESOLVE_BATCH];
		struct gc_obj *e[GC_RESOLVE_BATCH];

		for (unsigned int i = 0; i < n; i++) {
			rec[i] = r->rec[(t + i) & (GC_RING - 1)];
			if (rec[i].gc != skip)
				gcmap__prefetch_u64(rec[i].gc->registry,
						    (uint64_t)(uintptr_t)rec[i].obj);
		}
		for (unsigned int i = 0; i < n; i++) {
			void *v;

			e[i] = NULL;
			if (rec[i].gc != skip &&
			    gcmap_get_u64(rec[i].gc->registry, (uint64_t)(uintptr_t)rec[i].obj,
					  &v) == 0) {
				e[i] = v;
				__builtin_prefetch(&e[i]->mark, 1);
			}
		}
		for (unsigned int i = 0; i < n; i++)
			if (e[i])
				gcmap__gc_shade_entry(rec[i].gc, e[i], true);
		t += n;
	}
	/* Release pairs with the owner's acquire load in gcmap__gc_record():
	 * the records are read before their slots are reused. */
	__atomic_store_n(&r->tail, h, __ATOMIC_RELEASE);
}

void gcmap__gc_resolve(const struct gcmap_gc *skip)
{
	pthread_mutex_lock(&rings_lock);
	gcmap__rcu_read_lock();
	for (struct gc_ring *r = rings; r; r = r->next)
		ring_resolve(r, skip);
	gcmap__gc_flush();
	gcmap__rcu_read_unlock();
	pthread_mutex_unlock(&rings_lock);
}

void gcmap__gc_thread_exit(void)
{
	struct gc_ring *r = tls_ring;

	if (!r)
		return;
	gcmap__gc_flush(); /* publish first (nothing is unpublished at depth 0) */
	gcmap__gc_resolve(NULL); /* its own records among them: none is lost */
	pthread_mutex_lock(&rings_lock);
	for (struct gc_ring **p = &rings; *p; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&rings_lock);
	tls_ring = NULL;
	tls_head = tls_pub = tls_tail = 0;
	r->alloc.free(r, sizeof(*r), r->alloc.ctx);
}

/* fork(): no thread may hold rings_lock in the child. */
void gcmap__gc_fork_prepare(void)
{
	pthread_mutex_lock(&rings_lock);
}

void gcmap__gc_fork_parent(void)
{
	pthread_mutex_unlock(&rings_lock);
}

void gcmap__gc_fork_child(void)
{
	/* The other threads' rings stay listed (their records, if any, are
	 * resolved like any others); only the lock is reset. */
	pthread_mutex_init(&rings_lock, NULL);
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
		gcmap__gc_record(gc, val);
		gcmap__gc_record(gc, old);
		gcmap__gc_flush();
	}
	gcmap__rcu_read_unlock();
	return 0;
}

void *gcmap_gc_load(void *const *field)
{
	return __atomic_load_n(field, __ATOMIC_ACQUIRE);
}
