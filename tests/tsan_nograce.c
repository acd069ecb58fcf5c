/*
 * tsan_nograce.c - ThreadSanitizer's negative control for table retirement:
 * readers look keys up while a writer makes the table grow and shrink, with
 * GCMAP_TEST_NO_GRACE (retired tables freed at once). TSan must report.
 * Compiled twice, both only in TSan builds: tests/tsan_nograce (XFAIL_TESTS)
 * and, with -DTSAN_WITH_GRACE, tests/tsan_grace (must pass with no report).
 * ASan builds compile it as tests/asan_nograce (XFAIL_TESTS): the writer or a
 * reader then reads the freed table (heap-use-after-free, ASan exits 1).
 *
 * Readers hold one read-side section across a few lookups and yield inside
 * it, so the retirements of the evacuations the writer completes fall inside
 * their sections. The writer waits after each grow or shrink until every
 * reader began a new section (relaxed atomics only: the pacing adds no
 * happens-before edge that could hide the bug) and counts the retirements
 * that happened while a reader was inside a section; the run needs
 * MIN_OVERLAPS of them.
 *
 * Exit status: 0 when the run completed without a report (the nograce
 * control then XPASSes and make check fails), 66 from TSan's report
 * (halt_on_error=1) or 1 from ASan's, 99 when the test itself could not do
 * its job (an API error, a wrong value with grace periods on, too little
 * overlap, a crash or a time-out): 99 is a hard error for the harness even
 * in XFAIL_TESTS, so only a clean run or the sanitizer's own exit decides
 * the result.
 */
#include "internal.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define NG_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NG_TSAN 1
#endif
#endif

#ifdef NG_TSAN
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "atexit_sleep_ms=0";
}
#endif

#if defined(TSAN_WITH_GRACE)
#define NAME "tsan_grace"
#elif defined(__SANITIZE_ADDRESS__)
#define NAME "asan_nograce"
#else
#define NAME "tsan_nograce"
#endif

#define NREADERS 2
#define NKEYS 600 /* 8 buckets grow to 128 and shrink back each wave */
#define LOOKUPS_PER_SECTION 4
#define MIN_RETIREMENTS 1000 /* grows + shrinks completed */
#define MIN_OVERLAPS 500 /* ... of them with a reader inside a section */
#define MIN_SECTIONS 1000 /* read-side sections per reader */
#define MAX_SECONDS 20 /* the run stops earlier once both counts are met */
#define DEADLINE_SECONDS 120 /* a hang is an error (watchdog) */

static struct gcmap *map;
/* Pacing and statistics: relaxed atomics only (see the file-top comment). */
static int stop;
static unsigned long sections[NREADERS];
static int inside[NREADERS];
static unsigned long lookups, wrong;

static void die(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", NAME, what, gcmap_strerror(err));
	_exit(99);
}

static void on_fatal(int sig)
{
	static const char msg[] = NAME ": fatal signal or time-out (not a TSan report)\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	_exit(99);
}

/* A hang is an error: a thread, not SIGALRM (under TSan a signal waits for
 * its thread to reach an interceptor, which a spinning thread never does). */
static void *watchdog(void *arg)
{
	struct timespec ts = { DEADLINE_SECONDS, 0 };

	(void)arg;
	while (nanosleep(&ts, &ts) != 0)
		;
	on_fatal(SIGALRM);
	return NULL;
}

static void *val_of(uint64_t key)
{
	return (void *)(uintptr_t)(key * 2 + 1);
}

static void *reader(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (id + 1);
	unsigned long n = 0, bad = 0;
	int err;

	if ((err = gcmap_thread_register()))
		die("gcmap_thread_register", err);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		gcmap_read_lock();
		__atomic_store_n(&inside[id], 1, __ATOMIC_RELAXED);
		for (int i = 0; i < LOOKUPS_PER_SECTION; i++) {
			uint64_t key;
			void *v;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			key = x % NKEYS;
			err = gcmap_get_u64(map, key, &v);
			if (err == 0 && v != val_of(key))
				bad++;
			else if (err != 0 && err != -ENOENT)
				die("gcmap_get_u64", err);
			n++;
			/* Let the writer run while this section is open. */
			sched_yield();
		}
		__atomic_store_n(&inside[id], 0, __ATOMIC_RELAXED);
		gcmap_read_unlock();
		__atomic_fetch_add(&sections[id], 1, __ATOMIC_RELAXED);
	}
	__atomic_fetch_add(&lookups, n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&wrong, bad, __ATOMIC_RELAXED);
	gcmap_thread_unregister();
	return NULL;
}

static unsigned long retirements(void)
{
	return __atomic_load_n(&map->nr_grows, __ATOMIC_RELAXED) +
	       __atomic_load_n(&map->nr_shrinks, __ATOMIC_RELAXED) +
	       __atomic_load_n(&map->nr_rebuilds, __ATOMIC_RELAXED);
}

static bool reader_inside(void)
{
	for (int i = 0; i < NREADERS; i++)
		if (__atomic_load_n(&inside[i], __ATOMIC_RELAXED))
			return true;
	return false;
}

static unsigned long min_sections(void)
{
	unsigned long m = ~0ul;

	for (int i = 0; i < NREADERS; i++) {
		unsigned long n = __atomic_load_n(&sections[i], __ATOMIC_RELAXED);

		if (n < m)
			m = n;
	}
	return m;
}

/* Wait (bounded) until every reader began a section after this call. */
static void wait_readers(void)
{
	unsigned long seen[NREADERS];

	for (int i = 0; i < NREADERS; i++)
		seen[i] = __atomic_load_n(&sections[i], __ATOMIC_RELAXED);
	for (int spins = 0; spins < 100000; spins++) {
		int behind = 0;

		for (int i = 0; i < NREADERS; i++)
			behind += __atomic_load_n(&sections[i], __ATOMIC_RELAXED) < seen[i] + 1;
		if (!behind)
			return;
		sched_yield();
	}
}

/* One write; counts a retirement it completed, and whether a reader was
 * inside a section at that moment. */
static void step(int rc, int want, const char *what, unsigned long *overlaps)
{
	static unsigned long last;
	unsigned long r;

	if (rc != want)
		die(what, rc);
	r = retirements();
	if (r != last) {
		last = r;
		if (reader_inside())
			++*overlaps;
		wait_readers();
	}
}

int main(void)
{
	struct gcmap_options o;
	pthread_t thr[NREADERS], wd;
	struct timespec t0, t1;
	unsigned long waves = 0, overlaps = 0, r = 0;
	double secs = 0;
	int err;

	signal(SIGSEGV, on_fatal);
	signal(SIGBUS, on_fatal);
	signal(SIGABRT, on_fatal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((err = pthread_create(&wd, NULL, watchdog, NULL)) || (err = pthread_detach(wd)))
		die("pthread_create", -err);
	if ((err = gcmap_thread_register()))
		die("gcmap_thread_register", err);
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.key_kind = GCMAP_KEY_U64;
	o.log2_buckets = 3;
	if ((err = gcmap_create(&o, &map)))
		die("gcmap_create", err);
#ifndef TSAN_WITH_GRACE
	/* The bug: retired tables are freed without waiting for readers. */
	__atomic_fetch_or(&gcmap__test_flags, GCMAP_TEST_NO_GRACE, __ATOMIC_RELAXED);
#endif
	printf("%s: %d readers, %d keys, grace periods %s\n", NAME, NREADERS, NKEYS,
	       (gcmap__test_flags & GCMAP_TEST_NO_GRACE) ? "OFF (negative control)" : "on");
	for (int i = 0; i < NREADERS; i++)
		if ((err = pthread_create(&thr[i], NULL, reader, (void *)(uintptr_t)i)))
			die("pthread_create", -err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (secs < MAX_SECONDS &&
	       (r < MIN_RETIREMENTS || overlaps < MIN_OVERLAPS || min_sections() < MIN_SECTIONS)) {
		/* A wave: grow 8 -> 128 buckets, then shrink back. */
		for (uint64_t k = 0; k < NKEYS; k++)
			step(gcmap_put_u64(map, k, val_of(k), NULL), 1, "put", &overlaps);
		for (uint64_t k = 0; k < NKEYS; k++)
			step(gcmap_delete_u64(map, k, NULL), 0, "delete", &overlaps);
		while ((err = gcmap_maintain(map, 64, 0)) > 0)
			step(0, 0, "maintain", &overlaps);
		if (err < 0)
			die("gcmap_maintain", err);
		waves++;
		r = retirements();
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(thr[i], NULL);
	printf("%s: %.2f s, %lu waves, %lu grows/shrinks, %lu with a reader inside a section, "
	       "%lu lookups in %lu+ sections per reader\n",
	       NAME, secs, waves, r, overlaps, lookups, min_sections());
	if ((err = gcmap_destroy(map)))
		die("gcmap_destroy", err);
	if ((err = gcmap_barrier()))
		die("gcmap_barrier", err);
	gcmap_thread_unregister();
#ifdef TSAN_WITH_GRACE
	if (wrong) {
		printf("%s: FAILED: %lu lookups returned a wrong value\n", NAME, wrong);
		return 99;
	}
#endif
	if (r < MIN_RETIREMENTS || overlaps < MIN_OVERLAPS || min_sections() < MIN_SECTIONS) {
		printf("%s: FAILED: too little overlap (need %d retirements, %d with a reader "
		       "inside a section, %d sections per reader)\n",
		       NAME, MIN_RETIREMENTS, MIN_OVERLAPS, MIN_SECTIONS);
		return 99;
	}
#ifdef TSAN_WITH_GRACE
	printf("%s: passed: no report with grace periods on\n", NAME);
#else
	printf("%s: ThreadSanitizer did not report freeing tables without a grace period\n", NAME);
#endif
	return 0;
}
