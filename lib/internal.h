/*
 * internal.h - gcmap's internal structures, shared between lib/ files only.
 *
 * Each shared field says what protects it. Accessors that name what
 * protects a pointer load live next to the structures.
 */
#ifndef GCMAP_INTERNAL_H
#define GCMAP_INTERNAL_H

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gcmap.h"
#include "rcu.h"

#define GCMAP_SLOTS 8
#define GCMAP_DEFAULT_LOG2 3
#define GCMAP_NR_STRIPES 16

/* Tag values: 0 is an empty slot; live tags are 1..255. */
#define TAG_EMPTY 0

/*
 * Bucket sequence word (struct gcmap_bucket.seq, primary buckets only).
 * bit 0: a writer is changing the chain (readers retry);
 * bit 1: the chain was moved to another table (never cleared; issue: evacuation);
 * bits 2..31: the change counter.
 */
#define SEQ_WRITING 1u
#define SEQ_MOVED 2u
#define SEQ_STEP 4u

/*
 * struct gcmap_bucket - 8 slots, a lock and a sequence word.
 *
 * A chain is a primary bucket of the table array plus overflow buckets.
 * Only the primary bucket's @lock and @seq are used; they protect the whole
 * chain. Every field is read by lock-free readers, so every access to it is
 * an __atomic access: stores by the lock holder inside a seq write section
 * (release), loads by readers (acquire) validated by re-reading @seq.
 *
 * Layout (152 bytes): the 24-byte header with the 8 tags comes first, then
 * key/value pairs side by side, so a hit touches the tag line and the line
 * of its pair, where key and value sit together.
 */
struct gcmap_bucket {
	uint64_t tags; /* byte i is slot i's tag; whole-word stores by the lock holder */
	uint32_t lock; /* futex word; see lib/lock.h */
	uint32_t seq; /* SEQ_* bits; written by the lock holder only */
	struct gcmap_bucket *overflow; /* published with release by the lock holder */
	struct {
		uint64_t key; /* u64 key, or (struct gcmap_key *) for byte keys */
		void *val;
	} slot[GCMAP_SLOTS];
};

/*
 * struct gcmap_key - an immutable copy of a byte-string key.
 * Published into a slot with a release store; never changed afterwards;
 * freed after a grace period once no slot holds it (deferred through @rh).
 */
struct gcmap_key {
	struct gcmap__rcu_head rh; /* used only when freed */
	struct gcmap *map; /* for the allocator at free time */
	uint64_t hash;
	uint32_t len;
	unsigned char bytes[];
};

/* Sequence write sections (primary buckets, under the chain's lock). */
/* Open a sequence write section: readers of this chain will retry. */
static inline void gcmap__seq_begin_locked(struct gcmap_bucket *head)
{
	uint32_t s = __atomic_load_n(&head->seq, __ATOMIC_RELAXED);

	/* Relaxed: the release stores that follow (a write section), or the
	 * closing release (a move, whose destination chains are unreachable
	 * until SEQ_MOVED is seen), order it before them. */
	__atomic_store_n(&head->seq, s | SEQ_WRITING, __ATOMIC_RELAXED);
}

/* Close it; @flags (SEQ_MOVED) is set together with the new count. */
static inline void gcmap__seq_end_locked(struct gcmap_bucket *head, uint32_t flags)
{
	uint32_t s = __atomic_load_n(&head->seq, __ATOMIC_RELAXED);

	/* Release pairs with the acquire seq loads of readers, writers and
	 * iterators: one that sees the new value (or SEQ_MOVED) also sees
	 * every store of the section (or the move's destination chains). */
	__atomic_store_n(&head->seq, ((s & ~SEQ_WRITING) + SEQ_STEP) | flags, __ATOMIC_RELEASE);
}

/* One striped counter, on its own cache line. */
struct gcmap_stripe {
	int64_t n; /* relaxed fetch_add by writers of this stripe */
	char pad[64 - sizeof(int64_t)];
};

/*
 * struct gcmap_table - 2^log2 primary buckets.
 * Immutable after publication except the buckets' contents and @stripes.
 * Retired (clear, and later evacuation) by unpublishing it, then freed with
 * everything only it references after a grace period.
 */
struct gcmap_table {
	struct gcmap__rcu_head rh; /* retirement */
	struct gcmap *map;
	unsigned int log2;
	uint64_t mask; /* 2^log2 - 1 */
	size_t bytes; /* size of @buckets as allocated */
	struct gcmap_bucket *buckets; /* zeroed allocation */
	/*
	 * Evacuation (lib/evacuate.c). @next is the table this one is being
	 * evacuated into: NULL, then set once by CAS (release; readers and
	 * writers load it with acquire after meeting a moved chain).
	 * @evac_cursor: next unit a helper claims (relaxed fetch_add, modulo
	 * the unit count). @nr_moved: units moved (acq_rel fetch_add: the
	 * mover that completes the count sees every other mover's work).
	 * @completed: set before retirement when every unit moved, so the
	 * retirement frees the frozen chains but not the keys, now owned by
	 * @next.
	 */
	struct gcmap_table *next;
	uint64_t evac_cursor;
	uint64_t nr_moved;
	bool completed;
	/* Set (exchange) by the one thread that allocates @next, so two
	 * writers meeting the grow mark together do not both allocate a table
	 * and one of them free it; cleared again if the allocation failed. */
	bool starting;
	size_t retired_bytes; /* set at retirement, for bytes_pending */
	size_t nr_overflow; /* overflow buckets linked in; relaxed */
	struct gcmap_stripe stripes[GCMAP_NR_STRIPES]; /* entry count deltas */
};

/* struct gcmap - the map. */
struct gcmap {
	uint32_t magic; /* GCMAP_MAGIC while alive (debug check) */
	enum gcmap_key_kind kind;
	size_t max_key_len;
	uint64_t seed[2];
	unsigned int init_log2; /* table size for create and clear; never shrinks below */
	unsigned int flags; /* gcmap_flags */
	struct gcmap_allocator alloc;
	struct gcmap_table *tbl; /* current table; release store, acquire load */
	/* bytes held through the allocator, and bytes of those waiting for a
	 * grace period: relaxed atomic counters (statistics only). */
	size_t bytes_allocated;
	size_t bytes_pending;
	/* references: 1 for the map itself plus one per pending deferred free
	 * that needs the allocator; the last put frees the struct. */
	long refs;
	long active; /* debug: operations in flight */
	/* evacuation statistics: relaxed counters */
	unsigned long nr_grows, nr_shrinks, nr_rebuilds, nr_evac_alloc_failures;
	/* live iterators and the bytes of their buffers: relaxed counters */
	long nr_iters;
	size_t bytes_iter;
	/* the optional background maintenance thread (lib/evacuate.c) */
	struct gcmap__bg *bg;
	/* the collector domain this map is attached to, or NULL; set and
	 * cleared under the domain's mark_lock, loaded (acquire) by writers
	 * for the write barrier (lib/barrier.c) */
	struct gcmap_gc *gc;
};

/*
 * The collector (lib/gc.c, lib/barrier.c, lib/finalizer.c).
 *
 * struct gc_obj - the registry entry of one managed object; the registry is
 * a gcmap from (uintptr_t)obj to its entry. Freed when @refs drops to 0: one
 * reference for the registry (dropped a grace period after unregistering,
 * and not before the end of a cycle in progress) and one while queued for
 * finalization.
 */
struct gc_obj {
	void *obj;
	struct gcmap_gc *gc;
	gcmap_finalize_fn finalize; /* exchanged to NULL when run; atomic */
	gcmap_trace_fn trace; /* immutable */
	void *arg; /* immutable */
	uint32_t mark; /* epoch of the cycle that marked it; atomic exchange */
	uint32_t roots; /* root count; atomic */
	uint8_t dead; /* unregistered; atomic */
	uint8_t finalized; /* its finalizer ran; atomic */
	uint8_t running; /* its finalizer is running; atomic */
	uint8_t queued; /* queued for finalization (marker only) */
	uint8_t resurrect_counted; /* marker only */
	/* The epoch in which its finalizer returned (under fin_rw's read
	 * lock; the sweep reads it under the write lock), or 0. */
	uint32_t fin_epoch;
	long refs; /* atomic */
	struct gc_obj *grey_next; /* grey stack link; atomic relaxed */
	struct gc_obj *fin_next; /* sweep batch / ready queue link (fin_lock) */
	struct gc_obj *zombie_next; /* zombie list link (zlock) */
	struct gcmap__rcu_head rh;
};

#define GC_IDLE 0
#define GC_MARKING 1

struct gcmap__gc_bg;

struct gcmap_gc {
	struct gcmap *registry; /* (uintptr_t)obj -> struct gc_obj * */
	unsigned int flags;
	unsigned int pace_percent;
	/* The current cycle's mark, never 0; written by begin (release)
	 * before the phase. */
	uint32_t epoch;
	int phase; /* GC_IDLE / GC_MARKING; release store, acquire load */
	/* The mark objects registered now are born with: from begin (stored
	 * after the phase is MARKING) until the sweep is done, the cycle's
	 * epoch; 0 otherwise. One load gives the registration a consistent
	 * value (a stale one from the last sweep is harmless: that mark is
	 * white in the new cycle). Release/acquire. */
	uint32_t born_marked;
	struct gc_obj *grey; /* Treiber stack of shaded entries */

	/* Serialises cycles (begin/step/finish) with attach/detach. Writers
	 * never take it. */
	pthread_mutex_t mark_lock;
	struct gcmap **maps; /* attached maps, under mark_lock */
	size_t nr_maps, maps_cap;
	/* marking state, under mark_lock */
	bool cycle_marking; /* begin done, marking not finished */
	bool need_sweep; /* marking finished, sweep not done yet */
	bool roots_done;
	size_t scan_map; /* next map to scan */
	struct gcmap_iter *scan_it; /* iterator of maps[scan_map], or NULL */
	struct gcmap_iter *root_it; /* iterator over the registry for roots */
	uint64_t t_begin;

	/* Set from begin until the cycle's end (sweep done); entries whose
	 * grace period after unregistering ends meanwhile wait on @zombies.
	 * Under zlock. */
	pthread_mutex_t zlock;
	bool cycle_active;
	struct gc_obj *zombies;

	/* Finalizers run holding it shared; the sweep holds it exclusively
	 * (taken before mark_lock), so it never traces an object whose
	 * finalizer may be freeing it, and what a finalizer's object reaches
	 * stays alive until the finalizer has returned. */
	pthread_rwlock_t fin_rw;
	/* Serialises the sweep part of gcmap_gc_finish() (taken before
	 * fin_rw): otherwise a finisher whose trylock of fin_rw failed because
	 * another finisher held it would end the cycle without a sweep. */
	pthread_mutex_t sweep_lock;
	/* Finalizers ready to run (a grace period passed), under fin_lock. */
	pthread_mutex_t fin_lock;
	pthread_cond_t fin_cv;
	struct gc_obj *ready_head, *ready_tail;
	size_t nr_pending; /* queued by sweeps, not yet run */
	struct gcmap__gc_bg *bg;

	/* statistics: relaxed counters */
	unsigned long nr_ring_full; /* records shaded by the writer: ring full */
	unsigned long nr_cycles, nr_barrier_records, nr_grey_overflows, nr_finalized,
		nr_resurrected, nr_cycles_found;
	size_t nr_marked, nr_registered, nr_roots;
	uint64_t mark_ns;
	size_t registered_at_last_cycle;
};

/* Write barrier (lib/barrier.c). */
static inline bool gcmap__gc_barrier_on(const struct gcmap_gc *gc)
{
	/* One predictable branch when no cycle marks. Acquire pairs with the
	 * release store of the phase in gcmap_gc_begin(). */
	return __atomic_load_n(&gc->phase, __ATOMIC_ACQUIRE) == GC_MARKING &&
	       !(gc->flags & GCMAP_GC_F_UNSAFE_NO_BARRIER);
}
void gcmap__gc_shade(struct gcmap_gc *gc, void *obj, bool by_barrier);
/* Barrier records (lib/barrier.c): record a value to shade; resolve every
 * thread's published records (dropping @skip's); a thread's exit; fork. */
void gcmap__gc_record(struct gcmap_gc *gc, void *obj);
void gcmap__gc_resolve(const struct gcmap_gc *skip);
void gcmap__gc_thread_exit(void);
void gcmap__gc_fork_prepare(void);
void gcmap__gc_fork_parent(void);
void gcmap__gc_fork_child(void);
int gcmap__gc_stats_fill(struct gcmap_gc *gc, struct gcmap_gc_stats *st);
void gcmap__prefetch_u64(const struct gcmap *map, uint64_t key);
void gcmap__gc_shade_entry(struct gcmap_gc *gc, struct gc_obj *e, bool by_barrier);
void gcmap__gc_push_grey(struct gc_obj *e);
void gcmap__gc_flush(void);
bool gcmap__gc_mark_entry(struct gcmap_gc *gc, struct gc_obj *e);
void gcmap__gc_obj_put(struct gc_obj *e);
int gcmap__gc_detach_locked(struct gcmap_gc *gc, struct gcmap *map);
/* Finalizer queue (lib/finalizer.c). */
void gcmap__gc_queue_ready(struct gcmap_gc *gc, struct gc_obj *batch, size_t n);
int gcmap__gc_bg_start(struct gcmap_gc *gc);
void gcmap__gc_bg_stop(struct gcmap_gc *gc);

#define GCMAP_MAGIC 0x67636d70u /* "gcmp" */
#define GCMAP_DEAD 0xdeadbeefu

/* Allocation sites, for fault-injection tests. */
enum gcmap__site {
	GCMAP_SITE_MAP = 0, /* struct gcmap in gcmap_create */
	GCMAP_SITE_TABLE, /* struct gcmap_table */
	GCMAP_SITE_BUCKETS, /* the bucket array of a table */
	GCMAP_SITE_OVERFLOW, /* an overflow bucket on insert */
	GCMAP_SITE_KEY, /* a byte-string key copy */
	GCMAP_SITE_EVAC, /* an overflow bucket preallocated by an evacuation move */
	GCMAP_SITE_DEFER, /* gcmap_defer_free's bookkeeping node */
	GCMAP_SITE_ITER, /* an iterator and its snapshot buffers */
	GCMAP_SITE_GC, /* a collector domain, registry entry or list */
	GCMAP_NR_SITES
};

/*
 * Allocation through the map's hooks. gcmap__alloc_site() (thread-local) says
 * which site the allocation in progress belongs to, so a test's allocator
 * hook can see it; gcmap__site_calls[] counts calls per site (relaxed).
 */
void *gcmap__alloc(struct gcmap *map, size_t size, bool zero, enum gcmap__site site);
void gcmap__free(struct gcmap *map, void *ptr, size_t size);
/* With map == NULL the two use the process-wide allocator (libc by default;
 * tests replace it with gcmap__set_default_allocator(), NULL restores libc). */
void gcmap__set_default_allocator(const struct gcmap_allocator *a);
const struct gcmap_allocator *gcmap__default_allocator(void);
enum gcmap__site gcmap__alloc_site(void);
extern unsigned long gcmap__site_calls[GCMAP_NR_SITES];
const char *gcmap__site_name(enum gcmap__site site);

/* Hashing (lib/hash.c). */
static inline uint64_t gcmap__hash_u64(const struct gcmap *map, uint64_t key)
{
	/* The splitmix64 finaliser over the seeded key: every input bit
	 * affects every output bit; the seed makes bucket choice per-map.
	 * Inline: it is on every lookup's path. */
	uint64_t h = key ^ map->seed[0];

	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}
uint64_t gcmap__hash_bytes(const struct gcmap *map, const void *key, size_t len);
uint64_t gcmap__siphash(const uint64_t k[2], const void *data, size_t len);
void gcmap__random_seed(uint64_t seed[2]);

/* Tables (lib/map.c). */
struct gcmap_table *gcmap__table_new(struct gcmap *map, unsigned int log2);
void gcmap__table_free_now(struct gcmap_table *tbl);
void gcmap__map_put_ref(struct gcmap *map);
/* Call @fn on every value, allocating nothing; no concurrent writer. */
void gcmap__values_now(struct gcmap *map, void (*fn)(void *val));

/* Evacuation (lib/evacuate.c). */
enum gcmap__resize_hint {
	HINT_NONE = 0, /* nothing changed the load */
	HINT_INSERTED, /* an entry was added */
	HINT_DELETED, /* an entry was removed */
	HINT_OVERFLOW, /* an insert linked a new overflow bucket */
};
void gcmap__evac_help(struct gcmap *map, struct gcmap_table *tbl, struct gcmap_table *next,
		      uint64_t hash);
void gcmap__evac_policy(struct gcmap *map, enum gcmap__resize_hint hint);
uint64_t gcmap__evac_units(const struct gcmap_table *tbl, const struct gcmap_table *next);
void gcmap__table_retire(struct gcmap *map, struct gcmap_table *tbl);
int64_t gcmap__table_count(const struct gcmap_table *tbl);
int gcmap__bg_start(struct gcmap *map);
void gcmap__bg_stop(struct gcmap *map);

/*
 * Test hooks, compiled only into the test build of the library
 * (GCMAP_TESTHOOKS): named pause points where a test can freeze a thread,
 * switches that re-introduce a bug on purpose (negative controls), and
 * counters that let tests assert work bounds.
 */
#ifdef GCMAP_TESTHOOKS
extern void (*gcmap__sched_hook)(const char *point);
#define GCMAP_SCHED_POINT(name)                                                                   \
	do {                                                                                      \
		void (*h_)(const char *) = __atomic_load_n(&gcmap__sched_hook, __ATOMIC_ACQUIRE); \
		if (h_)                                                                           \
			h_(name);                                                                 \
	} while (0)
#define GCMAP_TEST_SKIP_MOVED_CHECK 1u /* readers ignore the moved mark */
#define GCMAP_TEST_NO_HELP 2u /* writers never help an evacuation */
#define GCMAP_TEST_NO_POLICY 4u /* no automatic grow/shrink starts */
#define GCMAP_TEST_ITER_NO_FILTER 8u /* iteration re-yields a partly done range */
#define GCMAP_TEST_NO_GRACE 16u /* retired tables freed at once (TSan control) */
extern unsigned int gcmap__test_flags;
#define GCMAP_TESTING(flag) (__atomic_load_n(&gcmap__test_flags, __ATOMIC_RELAXED) & (flag))
/* Most moves and empty-unit skips one operation did, since reset. */
extern unsigned long gcmap__max_moves_per_op, gcmap__max_skips_per_op;
#else
#define GCMAP_SCHED_POINT(name) ((void)0)
#define GCMAP_TESTING(flag) 0
#endif

/* Start an evacuation of the current table into 2^@log2 buckets (tests,
 * maintain), @log2 within one of the table's. Return: 0, -EBUSY if one is
 * in flight, -EINVAL, -ENOMEM. */
int gcmap__evac_start(struct gcmap *map, struct gcmap_table *tbl, unsigned int log2);
/* Move unit @u of @tbl into @next. Return: 2 moved entries, 1 moved an
 * empty unit, 0 already moved, -ENOMEM (nothing changed). */
int gcmap__evac_move_unit(struct gcmap *map, struct gcmap_table *tbl, struct gcmap_table *next,
			  uint64_t u);

/*
 * Static tracepoints (USDT, <sys/sdt.h>): provider "gcmap". Listed with
 * `readelf -n libgcmap.so`; see doc/tracing.md. Compiled out without the
 * header.
 */
#ifdef HAVE_SYS_SDT_H
#include <sys/sdt.h>
#define GCMAP_TRACE0(name) DTRACE_PROBE(gcmap, name)
#define GCMAP_TRACE1(name, a) DTRACE_PROBE1(gcmap, name, a)
#define GCMAP_TRACE2(name, a, b) DTRACE_PROBE2(gcmap, name, a, b)
#define GCMAP_TRACE3(name, a, b, c) DTRACE_PROBE3(gcmap, name, a, b, c)
#else
#define GCMAP_TRACE0(name) ((void)0)
#define GCMAP_TRACE1(name, a) ((void)(a))
#define GCMAP_TRACE2(name, a, b) ((void)(a), (void)(b))
#define GCMAP_TRACE3(name, a, b, c) ((void)(a), (void)(b), (void)(c))
#endif

/* Diagnostics (lib/diag.c): the live maps and domains, for GCMAP_STATS. */
void gcmap__diag_add_map(struct gcmap *map);
void gcmap__diag_remove_map(struct gcmap *map);
void gcmap__diag_add_gc(struct gcmap_gc *gc);
void gcmap__diag_remove_gc(struct gcmap_gc *gc);

/* An iterator; @internal: the collector's (not counted in nr_iters). */
int gcmap__iter_begin(struct gcmap *map, struct gcmap_iter **out, bool internal);

/* Threads (lib/rcu.c). */
bool gcmap__registered(void);
unsigned int gcmap__stripe(void); /* this thread's counter stripe */
int gcmap__read_depth(void);

/*
 * Invariant check for tests and debug builds: every tag matches its key's
 * hash and bucket, no key appears twice, counters match the entries.
 * Call with no concurrent writer. Return: 0 or -EFAULT (and prints why).
 */
int gcmap__check_invariants(struct gcmap *map);

/* Report an impossible system failure and abort. */
void gcmap__die(const char *file, int line, const char *what, int err) __attribute__((noreturn));
#define GCMAP_DIE(what, err) gcmap__die(__FILE__, __LINE__, (what), (err))

#endif /* GCMAP_INTERNAL_H */
