/*
 * gcmap.h - a concurrent bucketed hash map with RCU reclamation.
 *
 * Readers are lock-free inside read-side sections; writers take one bucket
 * lock; memory that readers may still see is freed after a grace period.
 * Every function returns 0 or a negative errno (see gcmap_strerror()).
 */
#ifndef GCMAP_H
#define GCMAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GCMAP_API __attribute__((visibility("default")))
#else
#define GCMAP_API
#endif

/** The map; opaque. */
struct gcmap;

/*
 * Threads and reclamation
 * =======================
 * gcmap uses liburcu's default ("memb") flavour. An application that also
 * uses liburcu memb directly shares the same grace periods with gcmap:
 * call gcmap_thread_register() INSTEAD of rcu_register_thread() (it does the
 * same and also sets gcmap's own per-thread flag), then rcu_read_lock() and
 * gcmap_read_lock() nest with each other, and synchronize_rcu() and
 * gcmap_synchronize() wait for the same readers. Prefer the gcmap_ wrappers:
 * only they carry the ThreadSanitizer annotations that make TSan see grace
 * periods (liburcu 0.13 has none).
 */

/**
 * gcmap_thread_register() - make the calling thread a gcmap user.
 *
 * Context: any thread, outside any read-side section; once per thread.
 * Concurrency: MT-safe. Installs fork handlers on first use (never from a
 * library constructor).
 * Return: 0, -EALREADY if this thread is already registered.
 */
GCMAP_API int gcmap_thread_register(void);

/**
 * gcmap_thread_unregister() - end the calling thread's use of gcmap.
 *
 * Context: a registered thread, outside any read-side section. Call it before
 * the thread exits.
 * Concurrency: MT-safe.
 * Return: 0, -EPERM if the thread is not registered, -EBUSY if it is inside a
 * read-side section.
 */
GCMAP_API int gcmap_thread_unregister(void);

/**
 * gcmap_thread_registered() - whether the calling thread is registered.
 *
 * Context: any thread.
 * Return: 1 if registered, 0 if not.
 */
GCMAP_API int gcmap_thread_registered(void);

/**
 * gcmap_read_lock() - enter a read-side section.
 *
 * Context: a registered thread. Sections nest (also with rcu_read_lock()).
 * Concurrency: wait-free; writes only the caller's own per-thread state.
 * Reclamation: memory that a map hands out (values' slots, key objects,
 * tables) stays valid until the outermost section ends.
 * Return: 0, -EPERM if the thread is not registered.
 */
GCMAP_API int gcmap_read_lock(void);

/**
 * gcmap_read_unlock() - leave a read-side section.
 *
 * Context: a registered thread inside a section entered with
 * gcmap_read_lock().
 * Return: 0, -EPERM if the thread is not registered or not inside a section.
 */
GCMAP_API int gcmap_read_unlock(void);

/**
 * gcmap_synchronize() - wait for a grace period.
 *
 * Context: a registered thread, outside any read-side section (waiting inside
 * one would deadlock).
 * Concurrency: blocks until every read-side section that began before the
 * call has ended.
 * Return: 0, -EPERM if unregistered, -EDEADLK if inside a read-side section.
 */
GCMAP_API int gcmap_synchronize(void);

/**
 * gcmap_defer_free() - call @fn(@ptr) after a grace period.
 * @ptr: the memory to release. @fn: the release function; NULL means free().
 *
 * Context: a registered thread, inside or outside a read-side section.
 * Concurrency: MT-safe; never blocks. @fn runs later on liburcu's call_rcu
 * thread; it must not block for long, take a read-side section, or wait for
 * a grace period.
 * Return: 0, -EPERM if unregistered, -ENOMEM if the small bookkeeping node
 * could not be allocated (then nothing is scheduled and the caller still owns
 * @ptr).
 */
GCMAP_API int gcmap_defer_free(void *ptr, void (*fn)(void *ptr));

/**
 * gcmap_barrier() - wait until every callback scheduled so far has run.
 *
 * Context: a registered thread, outside any read-side section, never from a
 * callback.
 * Return: 0, -EPERM if unregistered, -EDEADLK if inside a read-side section.
 */
GCMAP_API int gcmap_barrier(void);

/*
 * Maps
 * ====
 */

/** Key kinds; a map holds keys of one kind. */
enum gcmap_key_kind {
	GCMAP_KEY_U64 = 0, /**< 64-bit integer keys (the fast path). */
	GCMAP_KEY_BYTES = 1, /**< byte strings, copied into the map. */
};

/**
 * struct gcmap_allocator - where a map gets its memory.
 * @malloc: returns @size bytes or NULL.
 * @zalloc: returns @size zeroed bytes or NULL; large tables come from here,
 *          so an allocator that gets zeroed pages from the kernel lazily
 *          (calloc, mmap) keeps table creation off the operation's path.
 * @free: releases @ptr, which came from @malloc or @zalloc with @size.
 * @ctx: passed to each call.
 *
 * The hooks are called from map operations and from liburcu's call_rcu
 * thread; they must be MT-safe and must not call into the map.
 */
struct gcmap_allocator {
	void *(*malloc)(size_t size, void *ctx);
	void *(*zalloc)(size_t size, void *ctx);
	void (*free)(void *ptr, size_t size, void *ctx);
	void *ctx;
};

/** Option flags. */
enum gcmap_flags {
	/** Use @seed as given instead of a random per-map seed (tests, benchmarks). */
	GCMAP_F_FIXED_SEED = 1u << 0,
	/**
	 * Start a background thread that does evacuation work (grow, shrink,
	 * rebuild) for maps that are mostly read: without it, writers and
	 * gcmap_maintain() do that work. Off by default. The thread is a
	 * registered gcmap thread; gcmap_destroy() stops and joins it.
	 */
	GCMAP_F_BACKGROUND = 1u << 1,
};

/**
 * struct gcmap_options - creation options.
 * @size: sizeof(struct gcmap_options); lets the struct grow compatibly.
 * @key_kind: GCMAP_KEY_U64 or GCMAP_KEY_BYTES.
 * @log2_buckets: initial table size is 2^@log2_buckets buckets of 8 slots;
 *                0 picks the default (3); at most GCMAP_MAX_LOG2_BUCKETS.
 *                The map grows past it and never shrinks below it.
 * @max_key_len: longest byte-string key accepted; 0 picks GCMAP_DEFAULT_MAX_KEY_LEN;
 *               at most GCMAP_MAX_KEY_LEN.
 * @flags: gcmap_flags.
 * @seed: hash seed used with GCMAP_F_FIXED_SEED.
 * @allocator: NULL for the C library's allocator; copied at creation.
 */
struct gcmap_options {
	size_t size;
	enum gcmap_key_kind key_kind;
	unsigned int log2_buckets;
	size_t max_key_len;
	unsigned int flags;
	uint64_t seed[2];
	const struct gcmap_allocator *allocator;
};

#define GCMAP_MAX_LOG2_BUCKETS 30
#define GCMAP_DEFAULT_MAX_KEY_LEN 4096
#define GCMAP_MAX_KEY_LEN (1u << 20)

/**
 * gcmap_create() - create a map.
 * @opts: options, or NULL for 64-bit keys and defaults.
 * @out: (out) the new map.
 *
 * Context: any thread (registration not needed).
 * Return: 0, -EINVAL on a NULL @out or bad options (wrong @size, unknown kind
 * or flag, out-of-range sizes), -ENOMEM, or the error of pthread_create()
 * (negated) for GCMAP_F_BACKGROUND.
 */
GCMAP_API int gcmap_create(const struct gcmap_options *opts, struct gcmap **out);

/**
 * gcmap_destroy() - free a map and everything it holds.
 *
 * Context: a registered thread, outside any read-side section; no other thread
 * may use the map any more (a debug build detects an operation in flight and
 * returns -EBUSY).
 * Reclamation: values are not freed (they are the caller's). Memory already
 * waiting for a grace period is freed when its grace period ends; the map's
 * allocator is used until then.
 * Return: 0, -EINVAL on NULL, -EPERM if unregistered, -EDEADLK inside a
 * read-side section, -EBUSY if an iterator is still live (not ended) or, in
 * debug builds, if an operation is in flight.
 */
GCMAP_API int gcmap_destroy(struct gcmap *map);

/*
 * Operations. Each comes in two forms: _u64 for GCMAP_KEY_U64 maps and _bytes
 * (key pointer and length) for GCMAP_KEY_BYTES maps; using the wrong form
 * returns -EINVAL. Every operation takes and releases a read-side section
 * itself (it may be called inside one too).
 *
 * Ordering: a store of a value (put, insert, replace, cas) is a release; a load
 * (get and the returned old values) is an acquire: what a thread wrote into an
 * object before storing its pointer is visible to a thread that loads it.
 * Each operation on a key is linearizable.
 *
 * Reclamation: a value pointer returned by any operation stays valid only as
 * the caller arranges (gcmap never frees values); a removed value should be
 * released with gcmap_defer_free() so readers that still hold it are safe.
 * Byte-string keys are copied; the copy is freed after a grace period.
 *
 * Common return codes: -EINVAL (NULL map, NULL key with non-zero length, wrong
 * key kind), -E2BIG (key longer than max_key_len), -EPERM (thread not
 * registered).
 */

/**
 * gcmap_get_u64() - look up @key.
 * @val: (out, optional) the value.
 *
 * Context: any registered thread.
 * Concurrency: lock-free; writes no shared memory.
 * Return: 0, -ENOENT if absent.
 */
GCMAP_API int gcmap_get_u64(struct gcmap *map, uint64_t key, void **val);
/** gcmap_get_bytes() - gcmap_get_u64() for byte-string keys. */
GCMAP_API int gcmap_get_bytes(struct gcmap *map, const void *key, size_t len, void **val);

/**
 * gcmap_put_u64() - insert @key or replace its value.
 * @old: (out, optional) the previous value, or NULL when the key was absent.
 *
 * Context: any registered thread.
 * Concurrency: takes one bucket lock; may first help an evacuation in flight
 * (at most two chain moves, before taking its lock).
 * Return: 0 if replaced, 1 if inserted, -ENOMEM (map unchanged).
 */
GCMAP_API int gcmap_put_u64(struct gcmap *map, uint64_t key, void *val, void **old);
/** gcmap_put_bytes() - gcmap_put_u64() for byte-string keys. */
GCMAP_API int gcmap_put_bytes(struct gcmap *map, const void *key, size_t len, void *val,
			      void **old);

/**
 * gcmap_insert_u64() - insert @key only if it is absent.
 * @cur: (out, optional) the present value when -EEXIST is returned.
 *
 * Context: any registered thread.
 * Concurrency: takes one bucket lock; may first help an evacuation in flight
 * (at most two chain moves, before taking its lock).
 * Return: 0, -EEXIST if present, -ENOMEM (map unchanged).
 */
GCMAP_API int gcmap_insert_u64(struct gcmap *map, uint64_t key, void *val, void **cur);
/** gcmap_insert_bytes() - gcmap_insert_u64() for byte-string keys. */
GCMAP_API int gcmap_insert_bytes(struct gcmap *map, const void *key, size_t len, void *val,
				 void **cur);

/**
 * gcmap_replace_u64() - replace the value of @key only if it is present.
 * @old: (out, optional) the previous value.
 *
 * Context: any registered thread.
 * Concurrency: takes one bucket lock; may first help an evacuation in flight
 * (at most two chain moves, before taking its lock).
 * Return: 0, -ENOENT if absent.
 */
GCMAP_API int gcmap_replace_u64(struct gcmap *map, uint64_t key, void *val, void **old);
/** gcmap_replace_bytes() - gcmap_replace_u64() for byte-string keys. */
GCMAP_API int gcmap_replace_bytes(struct gcmap *map, const void *key, size_t len, void *val,
				  void **old);

/**
 * gcmap_cas_u64() - set @key's value to @desired if it is @expected.
 * @cur: (out, optional) the value found (also on -ECANCELED).
 *
 * Context: any registered thread.
 * Concurrency: takes one bucket lock; may first help an evacuation in flight
 * (at most two chain moves, before taking its lock).
 * Return: 0 if swapped, -ENOENT if absent, -ECANCELED if the value differs.
 */
GCMAP_API int gcmap_cas_u64(struct gcmap *map, uint64_t key, void *expected, void *desired,
			    void **cur);
/** gcmap_cas_bytes() - gcmap_cas_u64() for byte-string keys. */
GCMAP_API int gcmap_cas_bytes(struct gcmap *map, const void *key, size_t len, void *expected,
			      void *desired, void **cur);

/**
 * gcmap_delete_u64() - remove @key.
 * @old: (out, optional) the removed value.
 *
 * Context: any registered thread.
 * Concurrency: takes one bucket lock; may help an evacuation and may start
 * a shrink. Never fails with -ENOMEM: the only allocations on its path are
 * for that evacuation work, and a failed one is retried later.
 * Reclamation: a byte-string key copy is freed after a grace period.
 * Return: 0, -ENOENT if absent.
 */
GCMAP_API int gcmap_delete_u64(struct gcmap *map, uint64_t key, void **old);
/** gcmap_delete_bytes() - gcmap_delete_u64() for byte-string keys. */
GCMAP_API int gcmap_delete_bytes(struct gcmap *map, const void *key, size_t len, void **old);

/**
 * gcmap_count() - number of entries.
 * @count: (out) the count.
 *
 * Context: any registered thread.
 * Concurrency: sums striped counters without locks: exact when no writer
 * runs, otherwise a value the count had recently (never negative).
 * Return: 0, -EINVAL, -EPERM.
 */
GCMAP_API int gcmap_count(struct gcmap *map, size_t *count);

/**
 * gcmap_clear() - remove every entry.
 *
 * Context: any registered thread.
 * Concurrency: swaps in a fresh empty table in O(1); writers that raced with
 * the swap are ordered before it. Values are not freed.
 * Reclamation: the old table, its overflow buckets and key copies are freed
 * after a grace period, on the call_rcu thread.
 * Return: 0, -EINVAL, -EPERM, -ENOMEM (map unchanged).
 */
GCMAP_API int gcmap_clear(struct gcmap *map);

/*
 * Growth and shrinking
 * ====================
 * The table doubles when it holds more than 6.5 entries per bucket on
 * average, halves below 1.625 (never below its initial size), and is
 * rebuilt at the same size when overflow buckets outnumber primary ones below
 * the grow load (they then hold holes left by deletes). Each is an incremental evacuation: every
 * writer moves at most two bucket chains (its own key's, plus one more)
 * before its own operation, so no operation pays for a whole rehash.
 */

/** Flags of gcmap_maintain(). */
enum gcmap_maintain_flags {
	/** Also start shrinks down to the smallest size the entries fit in
	 * without triggering a grow (instead of the 1.625 low-water mark). */
	GCMAP_MAINTAIN_SHRINK_TO_FIT = 1u << 0,
};

/**
 * gcmap_maintain() - do evacuation work now.
 * @budget: at most this many units (bucket chains, or chain pairs when
 *          shrinking) are examined; 0 only reports.
 * @flags: gcmap_maintain_flags.
 *
 * Moves chains of an evacuation in flight, and starts a new one when the
 * policy (or GCMAP_MAINTAIN_SHRINK_TO_FIT) asks for it, so that a map that is
 * only read never stays half-evacuated. Call it in a loop until it returns 0.
 *
 * Context: any registered thread.
 * Concurrency: MT-safe; takes bucket locks one unit at a time.
 * Return: units still to move (0: nothing in flight and nothing to start),
 * -EINVAL, -EPERM, -ENOMEM (a new table or a move's overflow buckets could
 * not be allocated; the map is intact and the work is retried later).
 */
GCMAP_API int gcmap_maintain(struct gcmap *map, unsigned int budget, unsigned int flags);

/*
 * Iteration
 * =========
 * Contract: every key present for the whole iteration is returned exactly
 * once (never twice, never missed), also while the map grows, shrinks or is
 * rebuilt under concurrent writers; a key inserted or deleted during the
 * iteration may or may not be returned; a value returned is one the key held
 * at some moment during the iteration. Iteration never pauses resizes and
 * holds no read-side section between calls: a long iteration delays no grace
 * period and keeps no old table alive (see doc/design.md, "Iteration").
 */

/** An iterator; opaque. */
struct gcmap_iter;

/**
 * struct gcmap_entry - one entry returned by iteration.
 * @key: the key of a GCMAP_KEY_U64 map.
 * @key_bytes, @key_len: the key of a GCMAP_KEY_BYTES map (a copy owned by
 *                       the iterator: valid until the next gcmap_iter_next()
 *                       or gcmap_iter_end() on the same iterator).
 * @value: the value.
 */
struct gcmap_entry {
	uint64_t key;
	const void *key_bytes;
	size_t key_len;
	void *value;
};

/**
 * gcmap_iter_begin() - start iterating over @map.
 * @it: (out) the iterator; end it with gcmap_iter_end().
 *
 * Context: any registered thread. Concurrency: MT-safe; many iterators may
 * run at once, with concurrent writers.
 * Return: 0, -EINVAL, -EPERM, -ENOMEM.
 */
GCMAP_API int gcmap_iter_begin(struct gcmap *map, struct gcmap_iter **it);

/**
 * gcmap_iter_next() - the next entry.
 * @e: (out) the entry.
 *
 * Context: the registered thread that owns @it, usually inside
 * gcmap_read_lock(): @e->value is then one the key holds in the caller's
 * current read-side section (an entry buffered from an earlier section is
 * looked up again), so a value the application frees with
 * gcmap_defer_free() after removing it stays valid until
 * gcmap_read_unlock(). It takes its own nested sections too. One iterator
 * is used by one thread at a time.
 * Concurrency: lock-free; each chain is read as one consistent snapshot in
 * its own read-side section; entries are returned only from complete
 * snapshots.
 * Return: 1 with @e filled, 0 at the end, -EINVAL, -EPERM, -ENOMEM (the
 * snapshot buffer could not grow; calling again retries the same step).
 */
GCMAP_API int gcmap_iter_next(struct gcmap_iter *it, struct gcmap_entry *e);

/**
 * gcmap_iter_end() - end an iteration, finished or abandoned.
 *
 * Context: the thread that owns @it. Releases everything the iterator holds.
 * Return: 0, -EINVAL on NULL.
 */
GCMAP_API int gcmap_iter_end(struct gcmap_iter *it);

/**
 * gcmap_foreach() - call @fn for each entry, with the iteration contract.
 * @fn: called with the entry and @arg; a non-zero return stops the walk.
 *
 * Context: any registered thread, outside or inside a read-side section.
 * Concurrency: @fn is never called under a bucket lock nor inside a
 * read-side section taken by gcmap (only inside the caller's own, if any), so
 * it may modify the map, and (when the caller holds no section) may even
 * wait for a grace period.
 * Return: 0 when all entries were visited, @fn's non-zero return value if it
 * stopped the walk, or a negative errno from gcmap_iter_begin/next.
 */
GCMAP_API int gcmap_foreach(struct gcmap *map, int (*fn)(const struct gcmap_entry *e, void *arg),
			    void *arg);

/**
 * struct gcmap_stats - where the map's memory is.
 * @size: set by the caller to sizeof(struct gcmap_stats).
 * @entries: live entries (the same sum as gcmap_count()).
 * @buckets: primary buckets of the current table.
 * @log2_buckets: log2 of @buckets.
 * @overflow_buckets: overflow buckets linked into the current table.
 * @slots: slots in all buckets (8 per bucket).
 * @free_slots_in_used: empty slots in bucket chains that hold at least one entry.
 * @longest_chain: most buckets in one chain (1 = no overflow).
 * @bytes_allocated: bytes the map holds now through its allocator (tables,
 *                   buckets, key copies, the map itself), pending ones included.
 * @bytes_pending: of those, bytes waiting for a grace period (retired tables,
 *                 removed key copies).
 * @evacuating: 1 while an evacuation is in flight.
 * @evac_target_log2: log2 of the table being evacuated into (when evacuating).
 * @evac_units_done, @evac_units_total: its progress.
 * @grows, @shrinks, @rebuilds: completed evacuations of each kind.
 * @evac_alloc_failures: new tables or move preallocations that failed (the
 *                       map kept serving; the work was retried later).
 * @bytes_pinned: bytes held by live iterators (their snapshot buffers); an
 *                iterator never keeps a table alive.
 * @iterators: iterators begun and not yet ended.
 *
 * Filled by walking the table inside a read-side section: O(buckets); a
 * snapshot that can be off by concurrent updates.
 */
struct gcmap_stats {
	size_t size;
	size_t entries;
	size_t buckets;
	unsigned int log2_buckets;
	size_t overflow_buckets;
	size_t slots;
	size_t free_slots_in_used;
	size_t longest_chain;
	size_t bytes_allocated;
	size_t bytes_pending;
	unsigned int evacuating;
	unsigned int evac_target_log2;
	size_t evac_units_done;
	size_t evac_units_total;
	unsigned long grows;
	unsigned long shrinks;
	unsigned long rebuilds;
	unsigned long evac_alloc_failures;
	size_t bytes_pinned;
	size_t iterators;
};

/**
 * gcmap_stats() - fill @st.
 *
 * Context: any registered thread.
 * Concurrency: lock-free walk of the current table.
 * Return: 0, -EINVAL (NULL or @st->size too small), -EPERM.
 */
GCMAP_API int gcmap_stats(struct gcmap *map, struct gcmap_stats *st);

/*
 * The collector
 * =============
 * A collector domain (struct gcmap_gc) manages registered objects: any
 * `void *` with a finalizer and, optionally, a trace function that reports
 * the managed objects it points to. Roots are the values of the maps
 * attached to the domain plus explicit roots. A cycle marks everything
 * reachable from the roots while readers and writers keep running: a hybrid
 * write barrier in every map store (put, insert, replace, cas, delete) and in
 * gcmap_gc_store() shades both the stored and the overwritten value while
 * marking runs. Objects left unmarked are unreachable; their finalizers run
 * once, after a grace period, outside any read-side section.
 *
 * Cost: with no cycle marking, the barrier is one load and one branch. While
 * one marks, a store appends two records to its thread's record ring (256
 * KiB, allocated on the thread's first such store, freed when the thread
 * unregisters) and the marker shades them; a thread whose ring is full (the
 * marker behind) shades its values itself.
 *
 * What keeps an object alive: being reachable from the roots, or being used
 * by a thread inside a read-side section (a cycle's start waits for those).
 * A thread that keeps an object outside a read-side section must make it a
 * root (gcmap_gc_root_add). Register an object and store it into an attached
 * map inside one read-side section:
 *
 *     gcmap_read_lock();
 *     gcmap_gc_register(gc, obj, fin, trace, arg);
 *     gcmap_put_u64(map, key, obj, &old);
 *     gcmap_read_unlock();
 *
 * A finalizer typically unregisters its object and frees it; a finalized
 * object that is not unregistered stays registered without a finalizer (and
 * is still traced), so a finalizer may also resurrect it by storing it back.
 */

/** The collector domain; opaque. */
struct gcmap_gc;

/** Reports one managed object a traced object points to. */
typedef void (*gcmap_visit_fn)(void *child, void *ctx);

/**
 * Trace function of a registered object: call @visit(child, @ctx) for each
 * managed object @obj points to. Called by the marker inside a read-side
 * section, concurrently with mutators: read the fields with atomic loads;
 * change them only through gcmap_gc_store().
 */
typedef void (*gcmap_trace_fn)(void *obj, gcmap_visit_fn visit, void *ctx);

/**
 * Finalizer of a registered object: called once, after the object was found
 * unreachable and a grace period passed, with no read-side section held and
 * never from a call_rcu callback, on the finalizer thread or in
 * gcmap_gc_run_finalizers(). It may use maps (even destroy one), unregister
 * and free @obj, or resurrect it. A cycle that ends while a finalizer of
 * its domain runs queues nothing (the next one does).
 */
typedef void (*gcmap_finalize_fn)(void *obj, void *arg);

/** Flags of struct gcmap_gc_options. */
enum gcmap_gc_flags {
	/** Run a background thread that runs finalizers as they become ready
	 * and, with @pace_percent, starts cycles. Off by default. */
	GCMAP_GC_F_BACKGROUND = 1u << 0,
	/** TEST ONLY: turn the write barrier off, to reproduce the lost-object
	 * bug it prevents. Never use it in a program. */
	GCMAP_GC_F_UNSAFE_NO_BARRIER = 1u << 1,
};

/**
 * struct gcmap_gc_options - collector options.
 * @size: sizeof(struct gcmap_gc_options).
 * @flags: gcmap_gc_flags.
 * @pace_percent: with GCMAP_GC_F_BACKGROUND, start a cycle when the number of
 *                registered objects grew by this percentage since the end of
 *                the last one (like GOGC); 0: never start cycles by itself.
 */
struct gcmap_gc_options {
	size_t size;
	unsigned int flags;
	unsigned int pace_percent;
};

/**
 * gcmap_gc_create() - create a collector domain.
 * @opts: options or NULL. @out: (out) the domain.
 *
 * Context: a registered thread.
 * Return: 0, -EINVAL, -EPERM, -ENOMEM, or a negated pthread_create() error.
 */
GCMAP_API int gcmap_gc_create(const struct gcmap_gc_options *opts, struct gcmap_gc **out);

/**
 * gcmap_gc_destroy() - detach every map and free the domain.
 *
 * Context: a registered thread, outside any read-side section and never from
 * a finalizer or callback; no other thread may use the domain any more
 * (a cycle or finalizer run on another thread must have returned). Stops
 * the background thread, waiting for the cycle or finalizer it is running,
 * and waits for pending callbacks.
 * Registered objects are not finalized (their finalizers are dropped).
 * Return: 0, -EINVAL, -EPERM, -EDEADLK inside a read-side section.
 */
GCMAP_API int gcmap_gc_destroy(struct gcmap_gc *gc);

/**
 * gcmap_gc_attach() - make @map's values roots of @gc.
 *
 * Attaching during a cycle: the map is scanned by that cycle. Values that
 * are not registered objects are ignored.
 * Context: a registered thread, outside any read-side section.
 * Concurrency: MT-safe; waits for a marking step in progress, never for
 * writers.
 * Return: 0, -EINVAL, -EPERM, -EBUSY (attached to a domain already), -ENOMEM,
 * -EDEADLK (inside a read-side section).
 */
GCMAP_API int gcmap_gc_attach(struct gcmap_gc *gc, struct gcmap *map);

/**
 * gcmap_gc_detach() - stop treating @map's values as roots.
 *
 * Detaching during a cycle: objects reachable only from @map may survive
 * that cycle (they were already marked) and are collected by the next one.
 * gcmap_destroy() detaches a map itself.
 * Context: a registered thread, outside any read-side section.
 * Return: 0, -EINVAL, -EPERM, -ENOENT (not attached), -EDEADLK.
 */
GCMAP_API int gcmap_gc_detach(struct gcmap *map);

/**
 * gcmap_gc_register() - manage @obj.
 * @finalize: the finalizer (may be NULL: the object is only traced).
 * @trace: the trace function, or NULL for an object without managed fields.
 * @arg: passed to @finalize.
 *
 * Objects registered during a cycle are born marked (they survive it).
 * Context: a registered thread (see the pattern above).
 * Return: 0, -EINVAL, -EPERM, -EEXIST (registered already), -ENOMEM.
 */
GCMAP_API int gcmap_gc_register(struct gcmap_gc *gc, void *obj, gcmap_finalize_fn finalize,
				gcmap_trace_fn trace, void *arg);

/**
 * gcmap_gc_unregister() - stop managing @obj (e.g. from its finalizer).
 *
 * Context: a registered thread. The bookkeeping is freed after a grace
 * period and after any cycle in progress; @obj itself is the caller's.
 * Its finalizer, queued or not, does not start after this returns; one
 * that had started on another thread may still be running.
 * Return: 0, -EINVAL, -EPERM, -ENOENT.
 */
GCMAP_API int gcmap_gc_unregister(struct gcmap_gc *gc, void *obj);

/**
 * gcmap_gc_root_add() - make a registered @obj a root (counted: add twice,
 * remove twice). gcmap_gc_root_remove() - drop one count.
 *
 * Context: a registered thread. Concurrency: lock-free; shades @obj during
 * a cycle.
 * Return: 0, -EINVAL, -EPERM, -ENOENT (not registered; for remove also: not
 * a root).
 */
GCMAP_API int gcmap_gc_root_add(struct gcmap_gc *gc, void *obj);
/** gcmap_gc_root_remove() - see gcmap_gc_root_add(). */
GCMAP_API int gcmap_gc_root_remove(struct gcmap_gc *gc, void *obj);

/**
 * gcmap_gc_store() - store @val into the pointer field *@field of a managed
 * object, with the write barrier (shades @val and the overwritten pointer
 * during a cycle) and an atomic release store.
 *
 * Context: a registered thread; takes a read-side section itself.
 * Return: 0, -EINVAL, -EPERM.
 */
GCMAP_API int gcmap_gc_store(struct gcmap_gc *gc, void **field, void *val);

/**
 * gcmap_gc_load() - atomic acquire load of a field that gcmap_gc_store()
 * writes; for trace functions and readers.
 */
GCMAP_API void *gcmap_gc_load(void *const *field);

/**
 * gcmap_gc_begin() - start a cycle: turn the barrier on, wait for a grace
 * period (so no writer that saw it off is still storing), then prepare the
 * scan. gcmap_gc_step() - do up to @budget units of marking work (a slot
 * scanned, an object traced). gcmap_gc_finish() - mark to the end, then
 * sweep: queue the finalizers of unreachable objects (topologically: if A
 * reaches B, A first; cycles never) and wait one grace period for the batch.
 * gcmap_gc_collect() - begin + finish.
 *
 * Context: a registered thread outside any read-side section; any thread may
 * drive a cycle (steps are serialised). Writers are never blocked.
 * Return: begin: 0, -EBUSY (a cycle is running), -EDEADLK, -EPERM, -EINVAL;
 * step: 1 (more work), 0 (marking done: call finish), negatives as begin,
 * -EINVAL when no cycle runs, -ENOMEM; finish/collect: the number of objects
 * queued for finalization, or a negative errno.
 */
GCMAP_API int gcmap_gc_begin(struct gcmap_gc *gc);
/** gcmap_gc_step() - see gcmap_gc_begin(). */
GCMAP_API int gcmap_gc_step(struct gcmap_gc *gc, unsigned int budget);
/** gcmap_gc_finish() - see gcmap_gc_begin(). */
GCMAP_API int gcmap_gc_finish(struct gcmap_gc *gc);
/** gcmap_gc_collect() - see gcmap_gc_begin(). */
GCMAP_API int gcmap_gc_collect(struct gcmap_gc *gc);

/**
 * gcmap_gc_run_finalizers() - run up to @max ready finalizers (0: all) on the
 * calling thread.
 *
 * Context: a registered thread outside any read-side section.
 * Return: the number run, -EINVAL, -EPERM, -EDEADLK.
 */
GCMAP_API int gcmap_gc_run_finalizers(struct gcmap_gc *gc, unsigned int max);

/**
 * struct gcmap_gc_stats - what the collector did.
 * @size: set by the caller to sizeof(struct gcmap_gc_stats).
 * @cycles: completed cycles. @marking: 1 while a cycle marks.
 * @marked: objects marked by the last cycle.
 * @barrier_records: objects shaded by the write barrier (all cycles).
 * @grey_overflows: per-thread barrier buffers that filled up and were pushed
 *                  to the shared grey list in the middle of an operation.
 * @mark_ns: duration of the last cycle's marking (begin to end of marking).
 * @registered: registered objects. @roots: objects with a root count.
 * @finalized: finalizers run. @pending: finalizers queued, not yet run.
 * @resurrected: finalized objects later found reachable again.
 * @cycles_found: finalizable objects left unfinalized because they are in a
 *                reference cycle (Boehm's rule), counted once per sweep.
 * @maps: attached maps.
 */
struct gcmap_gc_stats {
	size_t size;
	unsigned long cycles;
	unsigned int marking;
	size_t marked;
	unsigned long barrier_records;
	unsigned long grey_overflows;
	uint64_t mark_ns;
	size_t registered;
	size_t roots;
	unsigned long finalized;
	size_t pending;
	unsigned long resurrected;
	unsigned long cycles_found;
	size_t maps;
};

/**
 * gcmap_gc_stats() - fill @st.
 * Context: any registered thread. Return: 0, -EINVAL, -EPERM.
 */
GCMAP_API int gcmap_gc_stats(struct gcmap_gc *gc, struct gcmap_gc_stats *st);

/*
 * Diagnostics
 * ===========
 * Statistics as one JSON object, for logs and for the gcmap-leakcheck tool.
 * Setting GCMAP_STATS=path[,interval_ms] in the environment makes the
 * library append one JSON line per interval (default 1000 ms) with every
 * live map and collector domain to that file, from a background thread
 * started by the first gcmap_create() or gcmap_gc_create() (never from a
 * library constructor; detached, all signals blocked, absent in a fork()ed
 * child; a map or domain being destroyed waits for a line that reads it).
 * gcmap-leakcheck reads that file. Static tracepoints (USDT, provider
 * "gcmap") mark grow, shrink, rebuild, evac_step, table_retired, gc_begin,
 * gc_finish and finalizer_run; see doc/tracing.md.
 */

/**
 * gcmap_stats_json() - write @map's statistics as one JSON object.
 * @buf, @len: the output buffer (NUL-terminated when @len > 0; truncated if
 *             too small; @buf may be NULL when @len is 0).
 *
 * One line: "type" ("map"), "id" (the address, a hex string), "serial" (the
 * object's creation number in the process: an address can be reused),
 * "t_ms" (CLOCK_REALTIME in ms), "key_kind", "gc" (the attached domain's id
 * or null), then every field of struct gcmap_stats but @size, by name.
 * Context: any registered thread.
 * Return: the length of the complete JSON text (excluding the NUL), like
 * snprintf (>= @len means truncated), or -EINVAL (NULL @map, or NULL @buf
 * with @len > 0), -EPERM.
 */
GCMAP_API int gcmap_stats_json(struct gcmap *map, char *buf, size_t len);

/**
 * gcmap_gc_stats_json() - write @gc's statistics as one JSON object.
 * Same conventions as gcmap_stats_json(): "type" is "gc", "registry" is the
 * id of the domain's internal registry map, then every field of struct
 * gcmap_gc_stats but @size.
 */
GCMAP_API int gcmap_gc_stats_json(struct gcmap_gc *gc, char *buf, size_t len);

/**
 * gcmap_strerror() - text for a gcmap return code.
 * @err: a return code (0 or negative errno).
 *
 * Context: any thread. Return: a static string, never NULL.
 */
GCMAP_API const char *gcmap_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* GCMAP_H */
