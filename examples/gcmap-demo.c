/*
 * gcmap-demo - a server-like workload: worker threads look up, create,
 * update and expire "sessions" (heap objects) in a shared map, freeing
 * replaced ones after a grace period; then the map fills to a million keys,
 * deletes most and prints what it holds. Usage: gcmap-demo [threads] [secs]
 *
 * gcmap-demo --gc-stress [secs]: the collector's stress (gcstress_impl.h)
 * twice, with the write barrier and without it, side by side: writers move
 * objects between two maps while cycles run; without the barrier the
 * collector finalizes objects that the maps still hand out.
 */
#include <gcmap.h>

#include "gcstress_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEYSPACE 200000u
#define FILL 1000000u

struct session {
	uint64_t id;
	uint64_t hits;
	char user[16];
};

struct worker {
	pthread_t tid;
	struct gcmap *map;
	uint64_t seed;
	unsigned long ops, gets, hits, puts, dels, errors;
};

static volatile int stop;

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: cheap and good enough for a workload mix. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void one_op(struct worker *w, uint64_t r)
{
	uint64_t key = (r >> 8) % KEYSPACE;
	unsigned int pick = (unsigned int)(r & 0xff);
	void *old = NULL;

	if (pick < 230) { /* 90%: read the session */
		void *v;

		w->gets++;
		gcmap_read_lock();
		if (gcmap_get_u64(w->map, key, &v) == 0) {
			struct session *s = v;

			/* Valid until gcmap_read_unlock(): replaced sessions
			 * are freed only after a grace period. */
			w->hits += s->id == key;
		}
		gcmap_read_unlock();
	} else if (pick < 243) { /* 5%: create or refresh */
		struct session *s = malloc(sizeof(*s));

		if (!s) {
			w->errors++;
			return;
		}
		s->id = key;
		s->hits = 0;
		snprintf(s->user, sizeof(s->user), "user%llu", (unsigned long long)key);
		w->puts++;
		if (gcmap_put_u64(w->map, key, s, &old) < 0) {
			free(s);
			w->errors++;
		} else if (old && gcmap_defer_free(old, NULL) < 0) {
			w->errors++; /* cannot happen with libc's malloc */
		}
	} else { /* 5%: expire */
		w->dels++;
		if (gcmap_delete_u64(w->map, key, &old) == 0 && gcmap_defer_free(old, NULL) < 0)
			w->errors++;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	gcmap_thread_register();
	while (!stop) {
		for (int i = 0; i < 256; i++)
			one_op(w, rnd(&w->seed));
		w->ops += 256;
	}
	gcmap_thread_unregister();
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_stats(const char *when, struct gcmap *map)
{
	struct gcmap_stats st = { .size = sizeof(st) };

	if (gcmap_stats(map, &st) < 0)
		return;
	printf("%-22s entries %8zu  buckets %7zu (+%zu overflow)  holes %8zu  "
	       "bytes %9zu (%zu waiting for a grace period)\n",
	       when, st.entries, st.buckets, st.overflow_buckets, st.free_slots_in_used,
	       st.bytes_allocated, st.bytes_pending);
}

static void free_all(struct gcmap *map, uint64_t n)
{
	void *old;

	for (uint64_t k = 0; k < n; k++)
		if (gcmap_delete_u64(map, k, &old) == 0)
			gcmap_defer_free(old, NULL);
}

static size_t bytes_held(struct gcmap *map)
{
	struct gcmap_stats st = { .size = sizeof(st) };

	return gcmap_stats(map, &st) == 0 ? st.bytes_allocated : 0;
}

/* Grow from the smallest table to a million keys, delete 90%, give back. */
static int fill_and_drain(void)
{
	struct gcmap *map;
	size_t full, drained;
	double t0;
	int err, left;

	err = gcmap_create(NULL, &map);
	if (err)
		return err;
	t0 = now();
	for (uint64_t k = 0; k < FILL; k++) {
		err = gcmap_insert_u64(map, k, (void *)(uintptr_t)(k + 1), NULL);
		if (err)
			return err;
	}
	printf("filled %u keys from an empty 8-bucket map in %.2f s (grown incrementally)\n", FILL,
	       now() - t0);
	while ((left = gcmap_maintain(map, 4096, 0)) > 0)
		;
	gcmap_barrier();
	print_stats("after fill:", map);
	full = bytes_held(map);
	for (uint64_t k = 0; k < FILL - FILL / 10; k++)
		gcmap_delete_u64(map, k, NULL);
	gcmap_barrier();
	print_stats("after deleting 90%:", map);
	while ((left = gcmap_maintain(map, 4096, GCMAP_MAINTAIN_SHRINK_TO_FIT)) > 0)
		;
	gcmap_barrier();
	print_stats("after shrink-to-fit:", map);
	drained = bytes_held(map);
	printf("bytes given back: %zu of %zu (%.0f%%)\n", full - drained, full,
	       100.0 * (double)(full - drained) / (double)full);
	return left < 0 ? left : gcmap_destroy(map);
}

/* --gc-stress: run the collector stress with and without the barrier. */
static int gc_stress(double secs)
{
	struct gcs_opts o[2];
	struct gcs_result r[2];
	const char *name[2] = { "barrier on", "barrier OFF" };

	printf("gcmap demo --gc-stress: %.1f s each way; 2 writers move objects between 2 "
	       "maps that grow and shrink while cycles run back to back\n",
	       secs);
	for (int i = 0; i < 2; i++) {
		int err;

		gcs_default_opts(&o[i]);
		o[i].seed = (uint64_t)time(NULL);
		o[i].secs = secs;
		o[i].no_barrier = i == 1; /* GCMAP_GC_F_UNSAFE_NO_BARRIER */
		fprintf(stderr, "  running with the %s...\n", name[i]);
		err = gcs_run(&o[i], &r[i]);
		if (err) {
			fprintf(stderr, "gc stress: %s\n", gcmap_strerror(err));
			return 1;
		}
	}
	printf("%-30s %15s %15s\n", "", name[0], name[1]);
	printf("%-30s %15lu %15lu\n", "cycles", r[0].cycles, r[1].cycles);
	printf("%-30s %15lu %15lu\n", "objects moved", r[0].moves, r[1].moves);
	printf("%-30s %15lu %15lu\n", "  of those, while marking", r[0].moves_marking,
	       r[1].moves_marking);
	printf("%-30s %15lu %15lu\n", "grows + shrinks", r[0].grows + r[0].shrinks,
	       r[1].grows + r[1].shrinks);
	printf("%-30s %15lu %15lu\n", "barrier records", r[0].barrier_records,
	       r[1].barrier_records);
	printf("%-30s %15lu %15lu\n", "violations (finalized, in use)", r[0].violations,
	       r[1].violations);
	printf("%-30s %15lu %15lu\n", "objects finalized while live", r[0].lost, r[1].lost);
	for (int i = 0; i < 2; i++)
		if (r[i].first[0])
			printf("%s, first: %s\n", name[i], r[i].first);
	printf("with the barrier: %s\n",
	       gcs_failures(&r[0]) ? "OBJECTS LOST (a bug)" : "no object lost");
	return gcs_failures(&r[0]) ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned int nthreads = argc > 1 ? (unsigned int)atoi(argv[1]) : 2;
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	struct worker *ws;
	struct gcmap *map;
	unsigned long total = 0, gets = 0, hits = 0, errors = 0;
	double t0, elapsed;
	int err;

	if (argc > 1 && strcmp(argv[1], "--gc-stress") == 0) {
		secs = argc > 2 ? atof(argv[2]) : 2.0;
		if (argc > 3 || !(secs > 0)) {
			fprintf(stderr, "usage: %s --gc-stress [seconds]\n", argv[0]);
			return 2;
		}
		gcmap_thread_register();
		err = gc_stress(secs);
		gcmap_barrier();
		gcmap_thread_unregister();
		return err;
	}
	if (nthreads < 1 || nthreads > 256 || secs <= 0) {
		fprintf(stderr,
			"usage: %s [threads 1..256] [seconds]\n       %s --gc-stress [seconds]\n",
			argv[0], argv[0]);
		return 2;
	}
	gcmap_thread_register();
	err = gcmap_create(NULL, &map);
	if (err) {
		fprintf(stderr, "gcmap_create: %s\n", gcmap_strerror(err));
		return 1;
	}
	ws = calloc(nthreads, sizeof(*ws));
	if (!ws)
		return 1;
	printf("gcmap demo: %u threads, %.1f s, %u keys, 90%% get / 5%% put / 5%% delete\n",
	       nthreads, secs, KEYSPACE);
	t0 = now();
	for (unsigned int i = 0; i < nthreads; i++) {
		ws[i].map = map;
		ws[i].seed = 0x9e3779b97f4a7c15ULL * (i + 1);
		pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]);
	}
	while ((elapsed = now() - t0) < secs) {
		size_t count = 0;
		unsigned long ops = 0;

		usleep(250000);
		for (unsigned int i = 0; i < nthreads; i++)
			ops += __atomic_load_n(&ws[i].ops, __ATOMIC_RELAXED);
		gcmap_count(map, &count);
		fprintf(stderr, "\r  %5.1f s  %10lu ops  %7zu sessions", now() - t0, ops, count);
	}
	stop = 1;
	for (unsigned int i = 0; i < nthreads; i++) {
		pthread_join(ws[i].tid, NULL);
		total += ws[i].ops;
		gets += ws[i].gets;
		hits += ws[i].hits;
		errors += ws[i].errors;
	}
	elapsed = now() - t0;
	fprintf(stderr, "\n");
	printf("%lu ops in %.2f s: %.2f Mops/s; %lu gets, %.1f%% hits; %lu errors\n", total,
	       elapsed, (double)total / elapsed / 1e6, gets,
	       gets ? 100.0 * (double)hits / (double)gets : 0.0, errors);
	print_stats("workload map:", map);
	free_all(map, KEYSPACE);
	gcmap_barrier();
	print_stats("after freeing all:", map);
	gcmap_destroy(map);
	free(ws);

	err = fill_and_drain();
	if (err) {
		fprintf(stderr, "fill: %s\n", gcmap_strerror(err));
		return 1;
	}
	gcmap_barrier();
	gcmap_thread_unregister();
	return errors ? 1 : 0;
}
