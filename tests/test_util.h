/*
 * test_util.h - helpers shared by the Check suites: key generation for both
 * key kinds, kind-independent operation wrappers, failure recording for
 * worker threads (never ck_assert outside the test's own thread), pacing.
 */
#ifndef GCMAP_TEST_UTIL_H
#define GCMAP_TEST_UTIL_H

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gcmap.h"
#include "internal.h"

#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif

#ifdef TEST_TSAN
/*
 * TSan defaults for the test programs (TSAN_OPTIONS still adds to and
 * overrides them): Check forks a process per test and TSan sleeps 1 s in
 * every exiting process by default (atexit_sleep_ms); the fork test's child
 * starts threads, which die_after_fork=1 would forbid.
 */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "atexit_sleep_ms=0 die_after_fork=0";
}
#endif

/* Assert that @expr returns @want, printing gcmap_strerror() of the result. */
#define CK_RC(expr, want)                                                                        \
	do {                                                                                     \
		int rc_ = (expr);                                                                \
		int want_ = (want);                                                              \
		ck_assert_msg(rc_ == want_, "%s returned %d (%s), expected %d (%s)", #expr, rc_, \
			      gcmap_strerror(rc_), want_, gcmap_strerror(want_));                \
	} while (0)
#define CK_OK(expr) CK_RC(expr, 0)

/* Sentinel written into out-parameters to see whether an operation set them. */
#define SENTINEL ((void *)(uintptr_t)0x5e5e5e5e5e5e5e5eull)

static inline void *val_of(uint64_t x)
{
	return (void *)(uintptr_t)x;
}

static inline uint64_t u64_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/*
 * Byte-string key number @idx: "key\0", the index as 8 little-endian bytes,
 * then idx % 13 pattern bytes (so lengths vary and keys hold NUL bytes).
 * Distinct indices give distinct keys. @buf must hold KEY_BUF bytes.
 */
#define KEY_BUF 32
static inline size_t key_bytes(uint64_t idx, unsigned char *buf)
{
	size_t n = 0;

	buf[n++] = 'k';
	buf[n++] = 'e';
	buf[n++] = 'y';
	buf[n++] = 0;
	for (int i = 0; i < 8; i++)
		buf[n++] = (unsigned char)(idx >> (8 * i));
	for (uint64_t i = 0; i < idx % 13; i++)
		buf[n++] = (unsigned char)(0xa5 ^ i);
	return n;
}

/* Kind-independent wrappers: key number @idx of a map of kind @kind. */
static inline int k_get(struct gcmap *m, int kind, uint64_t idx, void **val)
{
	unsigned char b[KEY_BUF];

	if (kind == GCMAP_KEY_U64)
		return gcmap_get_u64(m, idx, val);
	return gcmap_get_bytes(m, b, key_bytes(idx, b), val);
}

static inline int k_put(struct gcmap *m, int kind, uint64_t idx, void *val, void **old)
{
	unsigned char b[KEY_BUF];

	if (kind == GCMAP_KEY_U64)
		return gcmap_put_u64(m, idx, val, old);
	return gcmap_put_bytes(m, b, key_bytes(idx, b), val, old);
}

static inline int k_insert(struct gcmap *m, int kind, uint64_t idx, void *val, void **cur)
{
	unsigned char b[KEY_BUF];

	if (kind == GCMAP_KEY_U64)
		return gcmap_insert_u64(m, idx, val, cur);
	return gcmap_insert_bytes(m, b, key_bytes(idx, b), val, cur);
}

static inline int k_replace(struct gcmap *m, int kind, uint64_t idx, void *val, void **old)
{
	unsigned char b[KEY_BUF];

	if (kind == GCMAP_KEY_U64)
		return gcmap_replace_u64(m, idx, val, old);
	return gcmap_replace_bytes(m, b, key_bytes(idx, b), val, old);
}

static inline int k_cas(struct gcmap *m, int kind, uint64_t idx, void *exp, void *des, void **cur)
{
	unsigned char b[KEY_BUF];

	if (kind == GCMAP_KEY_U64)
		return gcmap_cas_u64(m, idx, exp, des, cur);
	return gcmap_cas_bytes(m, b, key_bytes(idx, b), exp, des, cur);
}

static inline int k_delete(struct gcmap *m, int kind, uint64_t idx, void **old)
{
	unsigned char b[KEY_BUF];

	if (kind == GCMAP_KEY_U64)
		return gcmap_delete_u64(m, idx, old);
	return gcmap_delete_bytes(m, b, key_bytes(idx, b), old);
}

static inline const char *kind_name(int kind)
{
	return kind == GCMAP_KEY_U64 ? "u64" : "bytes";
}

/* Create a map with a fixed seed; log2 0 and max_key_len 0 pick defaults. */
static inline struct gcmap *make_map(int kind, unsigned int log2,
				     const struct gcmap_allocator *alloc)
{
	struct gcmap_options o;
	struct gcmap *m = NULL;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.key_kind = (enum gcmap_key_kind)kind;
	o.log2_buckets = log2;
	o.flags = GCMAP_F_FIXED_SEED;
	o.seed[0] = 0x0123456789abcdefull;
	o.seed[1] = 0xfedcba9876543210ull;
	o.allocator = alloc;
	CK_OK(gcmap_create(&o, &m));
	ck_assert_ptr_nonnull(m);
	return m;
}

/*
 * Failure recording for worker threads: the first message is kept, every
 * failure is counted; the test thread asserts after joining.
 */
struct failrec {
	pthread_mutex_t lock;
	unsigned long n;
	char first[512];
};

#define FAILREC_INIT                             \
	{                                        \
		PTHREAD_MUTEX_INITIALIZER, 0, "" \
	}

static inline void fail_record(struct failrec *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void fail_record(struct failrec *f, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&f->lock);
	if (__atomic_fetch_add(&f->n, 1, __ATOMIC_RELAXED) == 0) {
		va_start(ap, fmt);
		vsnprintf(f->first, sizeof(f->first), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&f->lock);
}

/* Whether any failure was recorded (workers poll it to stop early). */
static inline bool failed(struct failrec *f)
{
	return __atomic_load_n(&f->n, __ATOMIC_RELAXED) != 0;
}

#define CK_NO_FAILURES(f) \
	ck_assert_msg(!failed(f), "%lu failure(s) in worker threads; first: %s", (f)->n, (f)->first)

/* A worker's checked call: record instead of asserting. */
#define W_RC(f, expr, want)                                                                   \
	do {                                                                                  \
		int rc_ = (expr);                                                             \
		if (rc_ != (want))                                                            \
			fail_record((f), "%s:%d: %s returned %d (%s), expected %d", __FILE__, \
				    __LINE__, #expr, rc_, gcmap_strerror(rc_), (want));       \
	} while (0)

static inline void sleep_ms(unsigned int ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Relaxed/acquire/release shorthands for test-side shared variables. */
#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define INC(p) __atomic_add_fetch((p), 1, __ATOMIC_ACQ_REL)

/* Registration wrappers for worker threads; failures are recorded. */
static inline void worker_register(struct failrec *f)
{
	W_RC(f, gcmap_thread_register(), 0);
}

static inline void worker_unregister(struct failrec *f)
{
	W_RC(f, gcmap_thread_unregister(), 0);
}

/* Run a suite; returns the process exit status. */
static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}

#endif /* GCMAP_TEST_UTIL_H */
