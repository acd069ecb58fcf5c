/*
 * rcu.h - the only door to liburcu (memb flavour), with TSan annotations.
 *
 * liburcu 0.13 is invisible to ThreadSanitizer: its grace periods happen in
 * an uninstrumented library. Every RCU call of gcmap goes through these
 * wrappers, which tell TSan what a grace period orders (see doc/design.md
 * and ../shared/TSAN.md):
 *  - a reader releases the token just before leaving its read-side section;
 *  - whoever waited for a grace period (synchronize, a call_rcu callback)
 *    acquires the token afterwards, so it is ordered after every reader
 *    section that ended before the grace period did;
 *  - call_rcu also releases the token, ordering the caller's earlier writes
 *    before the callback.
 */
#ifndef GCMAP_RCU_H
#define GCMAP_RCU_H

#if defined(__SANITIZE_THREAD__)
#define GCMAP_TSAN_ON 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GCMAP_TSAN_ON 1
#endif
#endif
#ifndef GCMAP_TSAN_ON
#define GCMAP_TSAN_ON 0
#endif

/* Inlined read-side primitives, except under TSan (TSAN.md, rule 3). */
#if !GCMAP_TSAN_ON && !defined(_LGPL_SOURCE)
#define _LGPL_SOURCE
#endif

#include <stdbool.h>
#include <stddef.h>
#include <urcu.h>

#if GCMAP_TSAN_ON
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define GCMAP_TSAN_ACQUIRE(a) __tsan_acquire(a)
#define GCMAP_TSAN_RELEASE(a) __tsan_release(a)
#define GCMAP_TSAN_IGNORE_BEGIN() __tsan_ignore_thread_begin()
#define GCMAP_TSAN_IGNORE_END() __tsan_ignore_thread_end()
#else
#define GCMAP_TSAN_ACQUIRE(a) ((void)(a))
#define GCMAP_TSAN_RELEASE(a) ((void)(a))
#define GCMAP_TSAN_IGNORE_BEGIN() ((void)0)
#define GCMAP_TSAN_IGNORE_END() ((void)0)
#endif

/* The TSan synchronisation object standing for "a grace period". */
extern char gcmap__gp_token;

/*
 * Per-thread state, in one thread-local struct so that a lookup reaches all
 * of it through one address (the library is built with initial-exec TLS).
 */
struct gcmap__tls {
	bool registered; /* gcmap_thread_register() was called */
	int depth; /* read-side nesting depth through gcmap's wrappers */
	unsigned long section; /* outermost sections entered (iteration) */
};
extern __thread struct gcmap__tls gcmap__tls;

/* container_of through void *, so clang's -Wcast-align stays quiet. */
#define gcmap__container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* A deferred callback; embed it in the object to be reclaimed. */
struct gcmap__rcu_head {
	struct rcu_head head;
	void (*fn)(struct gcmap__rcu_head *rh);
};

static inline void gcmap__rcu_read_lock(void)
{
	rcu_read_lock();
	if (gcmap__tls.depth++ == 0)
		gcmap__tls.section++;
}

static inline void gcmap__rcu_read_unlock(void)
{
	gcmap__tls.depth--;
	/* Pairs with the acquire after every grace period (synchronize and
	 * the call_rcu trampoline): what this section read happens before the
	 * reclamation that waited for it. */
	GCMAP_TSAN_RELEASE(&gcmap__gp_token);
	rcu_read_unlock();
}

/*
 * A read-side section that gcmap's own bookkeeping (depth, section count)
 * does not see: for leaf operations that call nothing that checks the
 * depth (the lookup fast path). Still annotated for TSan.
 */
static inline void gcmap__rcu_read_lock_leaf(void)
{
	rcu_read_lock();
}

static inline void gcmap__rcu_read_unlock_leaf(void)
{
	GCMAP_TSAN_RELEASE(&gcmap__gp_token); /* as in gcmap__rcu_read_unlock() */
	rcu_read_unlock();
}

/* Wait for a grace period. Not inside a read-side section. */
void gcmap__rcu_synchronize(void);

/* Call @fn(@rh) after a grace period, on the call_rcu thread. */
void gcmap__call_rcu(struct gcmap__rcu_head *rh, void (*fn)(struct gcmap__rcu_head *rh));

/* Wait for every callback queued so far. Not inside a read-side section. */
void gcmap__rcu_barrier(void);

/* Register / unregister the calling thread with liburcu. */
void gcmap__rcu_register(void);
void gcmap__rcu_unregister(void);

#endif /* GCMAP_RCU_H */
