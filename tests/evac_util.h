/*
 * evac_util.h - helpers for the evacuation tests (check_evacuate.c): a
 * controller for the library's pause points, a checking allocator that can
 * fail the k-th allocation, direct access to tables (which chain a key
 * lives in, a raw look into a frozen chain) and bounded waits.
 */
#ifndef GCMAP_EVAC_UTIL_H
#define GCMAP_EVAC_UTIL_H

#include "test_util.h"

#include <stdlib.h>

/* Under ThreadSanitizer the workloads are scaled down 10x. */
#if GCMAP_TSAN_ON
#define EV_SCALE 10
#else
#define EV_SCALE 1
#endif

/* Every wait of these tests is bounded: a bug fails, it does not hang. */
#define EV_WAIT_S 10.0

/* ---------------------------------------------------------------------- */
/* Test switches and counters of the library (GCMAP_TESTHOOKS)            */

static inline void ev_flags_set(unsigned int flags)
{
	__atomic_store_n(&gcmap__test_flags, flags, __ATOMIC_RELAXED);
}

static inline void ev_flags_or(unsigned int flags)
{
	__atomic_or_fetch(&gcmap__test_flags, flags, __ATOMIC_RELAXED);
}

static inline void ev_flags_clear(unsigned int flags)
{
	__atomic_and_fetch(&gcmap__test_flags, ~flags, __ATOMIC_RELAXED);
}

static inline struct gcmap_stats ev_stats(struct gcmap *m)
{
	struct gcmap_stats st;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CK_OK(gcmap_stats(m, &st));
	return st;
}

static inline size_t ev_count(struct gcmap *m)
{
	size_t n = 0;

	CK_OK(gcmap_count(m, &n));
	return n;
}

/* Call gcmap_maintain(@budget, @flags) until it returns 0 (at most @max
 * calls); -ENOMEM is retried. Returns the number of calls. */
static inline unsigned int ev_maintain_all(struct gcmap *m, unsigned int budget, unsigned int flags,
					   unsigned int max)
{
	unsigned int calls = 0;
	int rc;

	do {
		ck_assert_msg(calls < max, "gcmap_maintain did not finish in %u calls", max);
		rc = gcmap_maintain(m, budget, flags);
		ck_assert_msg(rc >= 0 || rc == -ENOMEM, "gcmap_maintain returned %d (%s)", rc,
			      gcmap_strerror(rc));
		calls++;
	} while (rc != 0);
	return calls;
}

/* ---------------------------------------------------------------------- */
/* Pause points                                                           */

/*
 * struct pauser - freezes ONE thread at ONE named pause point, once.
 * The thread that wants to be frozen calls pauser_arm() itself (the arming
 * is thread-local); when it reaches the point, the hook signals "arrived"
 * and blocks until the test calls pauser_release(), or EV_WAIT_S passed
 * (then timed_out is set and the thread goes on: the test fails).
 */
struct pauser {
	const char *point;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	int armed; /* touched by the owning thread only */
	int arrived, released, timed_out; /* under mu */
};

static __thread struct pauser *tls_pauser;

static inline void ev_deadline(struct timespec *ts, double secs)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)secs;
	ts->tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static inline void pauser_init(struct pauser *p, const char *point)
{
	pthread_condattr_t ca;

	memset(p, 0, sizeof(*p));
	p->point = point;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
}

static inline void pauser_destroy(struct pauser *p)
{
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}

/* The library's gcmap__sched_hook: called by any thread at any point. */
static inline void pause_hook(const char *point)
{
	struct pauser *p = tls_pauser;
	struct timespec ts;

	if (!p || !p->armed || strcmp(point, p->point) != 0)
		return;
	p->armed = 0;
	ev_deadline(&ts, EV_WAIT_S);
	pthread_mutex_lock(&p->mu);
	p->arrived = 1;
	pthread_cond_broadcast(&p->cv);
	while (!p->released) {
		if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT) {
			p->timed_out = 1;
			break;
		}
	}
	pthread_mutex_unlock(&p->mu);
}

static inline void pause_hook_install(void)
{
	__atomic_store_n(&gcmap__sched_hook, pause_hook, __ATOMIC_RELEASE);
}

static inline void pause_hook_remove(void)
{
	__atomic_store_n(&gcmap__sched_hook, NULL, __ATOMIC_RELEASE);
}

/* In the thread to be frozen, before the operation. */
static inline void pauser_arm(struct pauser *p)
{
	tls_pauser = p;
	p->armed = 1;
}

/* Whether the armed thread went through its operation without reaching the
 * point (call in that thread afterwards). */
static inline bool pauser_missed(struct pauser *p)
{
	bool missed = p->armed != 0;

	p->armed = 0;
	tls_pauser = NULL;
	return missed;
}

/* Wait (bounded) until the thread is frozen at the point. */
static inline bool pauser_wait_arrived(struct pauser *p, double secs)
{
	struct timespec ts;
	bool ok;

	ev_deadline(&ts, secs);
	pthread_mutex_lock(&p->mu);
	while (!p->arrived && pthread_cond_timedwait(&p->cv, &p->mu, &ts) != ETIMEDOUT)
		;
	ok = p->arrived != 0;
	pthread_mutex_unlock(&p->mu);
	return ok;
}

static inline void pauser_release(struct pauser *p)
{
	pthread_mutex_lock(&p->mu);
	p->released = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static inline bool pauser_timed_out(struct pauser *p)
{
	bool t;

	pthread_mutex_lock(&p->mu);
	t = p->timed_out != 0;
	pthread_mutex_unlock(&p->mu);
	return t;
}

/* Poll *@flag (acquire) until non-zero, for at most @secs. */
static inline bool ev_wait_flag(const int *flag, double secs)
{
	double end = now_s() + secs;

	while (!LOAD(flag)) {
		if (now_s() > end)
			return false;
		sleep_ms(1);
	}
	return true;
}

/* ---------------------------------------------------------------------- */
/* A checking allocator that can fail the k-th allocation                 */

#define EVA_HDR 16 /* header before each block: keeps 16-byte alignment */
#define EVA_MAGIC 0x6576616361626c6bull

/*
 * struct eva - counts and checks every allocation of the maps that use it:
 * each block carries its size (a free with another size, or a double free,
 * is counted in bad_frees), freed memory is poisoned (a use after free reads
 * garbage). With fail_at = k the k-th allocation call at a site of
 * @site_mask (bit per enum gcmap__site; 0: every site) fails, once.
 */
struct eva {
	unsigned long nallocs; /* allocation calls (atomic) */
	unsigned long ncounted; /* of those, at a site of site_mask (atomic) */
	unsigned long fail_at; /* 0: never */
	unsigned int site_mask;
	int injected; /* the failure was injected (atomic) */
	int injected_site; /* at this site */
	unsigned long site_failed[GCMAP_NR_SITES];
	size_t bytes_alloc, bytes_freed; /* atomic */
	unsigned long nblocks, nfrees, bad_frees; /* atomic */
	struct gcmap_allocator hooks;
};

static inline void *eva_alloc(size_t size, bool zero, void *ctx)
{
	struct eva *a = ctx;
	enum gcmap__site site = gcmap__alloc_site();
	unsigned long n = 0;
	unsigned char *p;

	__atomic_add_fetch(&a->nallocs, 1, __ATOMIC_RELAXED);
	if (!a->site_mask || (a->site_mask & (1u << site)))
		n = __atomic_add_fetch(&a->ncounted, 1, __ATOMIC_RELAXED);
	if (n && n == __atomic_load_n(&a->fail_at, __ATOMIC_RELAXED)) {
		if ((unsigned int)site < GCMAP_NR_SITES)
			__atomic_add_fetch(&a->site_failed[site], 1, __ATOMIC_RELAXED);
		__atomic_store_n(&a->injected_site, (int)site, __ATOMIC_RELAXED);
		__atomic_store_n(&a->injected, 1, __ATOMIC_RELEASE);
		return NULL;
	}
	p = zero ? calloc(1, size + EVA_HDR) : malloc(size + EVA_HDR);
	if (!p)
		return NULL;
	((size_t *)(void *)p)[0] = size;
	((uint64_t *)(void *)p)[1] = EVA_MAGIC;
	__atomic_add_fetch(&a->bytes_alloc, size, __ATOMIC_RELAXED);
	__atomic_add_fetch(&a->nblocks, 1, __ATOMIC_RELAXED);
	if (!zero)
		memset(p + EVA_HDR, 0xa5, size);
	return p + EVA_HDR;
}

static inline void *eva_malloc(size_t size, void *ctx)
{
	return eva_alloc(size, false, ctx);
}

static inline void *eva_zalloc(size_t size, void *ctx)
{
	return eva_alloc(size, true, ctx);
}

static inline void eva_free(void *ptr, size_t size, void *ctx)
{
	struct eva *a = ctx;
	unsigned char *p;

	if (!ptr)
		return;
	p = (unsigned char *)ptr - EVA_HDR;
	if (((size_t *)(void *)p)[0] != size || ((uint64_t *)(void *)p)[1] != EVA_MAGIC) {
		/* Also called on the call_rcu thread: record, never assert. */
		__atomic_add_fetch(&a->bad_frees, 1, __ATOMIC_RELAXED);
		return;
	}
	((uint64_t *)(void *)p)[1] = 0;
	memset(p + EVA_HDR, 0x5a, size); /* a use after free reads poison */
	__atomic_add_fetch(&a->bytes_freed, size, __ATOMIC_RELAXED);
	__atomic_add_fetch(&a->nfrees, 1, __ATOMIC_RELAXED);
	free(p);
}

static inline void eva_init(struct eva *a)
{
	memset(a, 0, sizeof(*a));
	a->hooks.malloc = eva_malloc;
	a->hooks.zalloc = eva_zalloc;
	a->hooks.free = eva_free;
	a->hooks.ctx = a;
}

static inline bool eva_injected(struct eva *a)
{
	return __atomic_load_n(&a->injected, __ATOMIC_ACQUIRE) != 0;
}

/* After destroy + gcmap_barrier(): every block came back, with its size. */
static inline void eva_check_balanced(struct eva *a, const char *where)
{
	ck_assert_msg(LOAD(&a->bad_frees) == 0, "%s: %lu frees with a wrong size or header", where,
		      a->bad_frees);
	ck_assert_msg(LOAD(&a->bytes_alloc) == LOAD(&a->bytes_freed) &&
			      LOAD(&a->nblocks) == LOAD(&a->nfrees),
		      "%s: leak: %zu bytes in %lu blocks allocated, %zu bytes in %lu blocks freed",
		      where, a->bytes_alloc, a->nblocks, a->bytes_freed, a->nfrees);
}

/* ---------------------------------------------------------------------- */
/* Tables, keys and chains                                                */

static inline uint64_t ev_hash(struct gcmap *m, int kind, uint64_t idx)
{
	unsigned char b[KEY_BUF];

	if (kind == GCMAP_KEY_U64)
		return gcmap__hash_u64(m, idx);
	return gcmap__hash_bytes(m, b, key_bytes(idx, b));
}

static inline struct gcmap_table *ev_tbl(struct gcmap *m)
{
	return __atomic_load_n(&m->tbl, __ATOMIC_ACQUIRE);
}

static inline struct gcmap_table *ev_next(struct gcmap_table *t)
{
	return __atomic_load_n(&t->next, __ATOMIC_ACQUIRE);
}

/* Bytes a retirement of @t puts into bytes_pending (lib/evacuate.c). */
static inline size_t ev_table_bytes(const struct gcmap_table *t)
{
	return sizeof(*t) + t->bytes +
	       __atomic_load_n(&t->nr_overflow, __ATOMIC_RELAXED) * sizeof(struct gcmap_bucket);
}

static inline uint32_t ev_seq(const struct gcmap_table *t, uint64_t chain)
{
	return __atomic_load_n(&t->buckets[chain].seq, __ATOMIC_ACQUIRE);
}

/*
 * Look key number @idx up in chain @chain of @t directly, ignoring the moved
 * mark (the test thread only, while nobody writes the chain). Returns
 * whether found, with the value.
 */
static inline bool ev_raw_find(struct gcmap *m, int kind, const struct gcmap_table *t,
			       uint64_t chain, uint64_t idx, void **val)
{
	unsigned char kb[KEY_BUF];
	size_t klen = kind == GCMAP_KEY_BYTES ? key_bytes(idx, kb) : 0;

	(void)m;
	for (const struct gcmap_bucket *b = &t->buckets[chain]; b;
	     b = __atomic_load_n(&b->overflow, __ATOMIC_ACQUIRE)) {
		uint64_t tags = __atomic_load_n(&b->tags, __ATOMIC_ACQUIRE);

		for (unsigned int i = 0; i < GCMAP_SLOTS; i++) {
			uint64_t key;

			if ((uint8_t)(tags >> (8 * i)) == TAG_EMPTY)
				continue;
			key = __atomic_load_n(&b->slot[i].key, __ATOMIC_ACQUIRE);
			if (kind == GCMAP_KEY_U64) {
				if (key != idx)
					continue;
			} else {
				const struct gcmap_key *sk =
					(const struct gcmap_key *)(uintptr_t)key;

				if (sk->len != klen || memcmp(sk->bytes, kb, klen) != 0)
					continue;
			}
			*val = __atomic_load_n(&b->slot[i].val, __ATOMIC_ACQUIRE);
			return true;
		}
	}
	return false;
}

#endif /* GCMAP_EVAC_UTIL_H */
