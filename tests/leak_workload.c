/*
 * leak_workload - workloads for the diagnostics tests (tests/leakcheck.sh,
 * tests/stats_env.sh). A leaking or healthy workload writes a statistics
 * snapshot per round, in the GCMAP_STATS format, for gcmap-leakcheck; the
 * "churn" workload creates and destroys maps while GCMAP_STATS writes.
 */
#include <gcmap.h>

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEYS 100u
#define ROUNDS 8u
#define LEAKED_ITERS_PER_ROUND 4u

static void usage(void)
{
	fprintf(stderr,
		"usage: leak_workload MODE [ARGS]\n"
		"  healthy|leak-iter|leak-reader|leak-gc|stuck-fin OUT [PREFIX]: write one\n"
		"        snapshot line per round to OUT (GCMAP_STATS format) and the first\n"
		"        and last snapshots as bare objects to PREFIX.first.json and\n"
		"        PREFIX.last.json\n"
		"  churn [MS [THREADS]]: create and destroy maps and domains in THREADS\n"
		"        threads (default 2) for MS milliseconds (default 300), for the\n"
		"        GCMAP_STATS writer\n"
		"  none: register a thread only (creates no map)\n");
	exit(2);
}

static void check(int rc, int want, const char *what, int line)
{
	if (rc != want) {
		fprintf(stderr, "leak_workload: line %d: %s returned %d (%s), expected %d\n", line,
			what, rc, gcmap_strerror(rc), want);
		exit(1);
	}
}
#define CHECK(expr, want) check((expr), (want), #expr, __LINE__)
#define OK(expr) CHECK(expr, 0)

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                */

#define MAX_OBJS 8

struct snapper {
	FILE *lines; /* one GCMAP_STATS-style line per snapshot */
	const char *prefix; /* bare-object files of the first and last ones */
	struct gcmap *maps[MAX_OBJS];
	struct gcmap_gc *gcs[MAX_OBJS];
	size_t nr_maps, nr_gcs;
	unsigned int round;
};

/* The JSON of one object, in a malloc'ed buffer sized by a first call. */
static char *json_of(struct gcmap *map, struct gcmap_gc *gc)
{
	int n = map ? gcmap_stats_json(map, NULL, 0) : gcmap_gc_stats_json(gc, NULL, 0);
	char *buf;

	if (n <= 0) {
		fprintf(stderr, "leak_workload: stats_json returned %d\n", n);
		exit(1);
	}
	buf = malloc((size_t)n + 1);
	if (!buf)
		exit(1);
	CHECK(map ? gcmap_stats_json(map, buf, (size_t)n + 1) :
		    gcmap_gc_stats_json(gc, buf, (size_t)n + 1),
	      n);
	return buf;
}

static void write_bare(struct snapper *sn, const char *which)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s.%s.json", sn->prefix, which);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	for (size_t i = 0; i < sn->nr_maps; i++) {
		char *j = json_of(sn->maps[i], NULL);

		fprintf(f, "%s\n", j);
		free(j);
	}
	for (size_t i = 0; i < sn->nr_gcs; i++) {
		char *j = json_of(NULL, sn->gcs[i]);

		fprintf(f, "%s\n", j);
		free(j);
	}
	if (fclose(f) != 0)
		exit(1);
}

static void snapshot(struct snapper *sn)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(sn->lines, "{\"t_ms\":%llu,\"maps\":[",
		(unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000);
	for (size_t i = 0; i < sn->nr_maps; i++) {
		char *j = json_of(sn->maps[i], NULL);

		fprintf(sn->lines, "%s%s", i ? "," : "", j);
		free(j);
	}
	fputs("],\"gcs\":[", sn->lines);
	for (size_t i = 0; i < sn->nr_gcs; i++) {
		char *j = json_of(NULL, sn->gcs[i]);

		fprintf(sn->lines, "%s%s", i ? "," : "", j);
		free(j);
	}
	fputs("]}\n", sn->lines);
	if (sn->prefix && sn->round == 0)
		write_bare(sn, "first");
	if (sn->prefix && sn->round == ROUNDS - 1)
		write_bare(sn, "last");
	sn->round++;
}

/* ------------------------------------------------------------------------ */
/* Map workloads                                                            */

static size_t key_of(unsigned int i, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "session-%08u", i);
}

/*
 * A map of byte-string keys where each round replaces every key by a new
 * one (delete the old, insert the new): the entries stay KEYS, the deleted
 * key copies are freed after a grace period.
 */
static void churn_keys(struct gcmap *map, unsigned int round)
{
	char key[32];

	for (unsigned int i = 0; i < KEYS; i++) {
		unsigned int k = round * KEYS + i;
		size_t len = key_of(k, key, sizeof(key));

		CHECK(gcmap_put_bytes(map, key, len, (void *)(uintptr_t)(k + 1), NULL), 1);
		if (round > 0) {
			len = key_of(k - KEYS, key, sizeof(key));
			OK(gcmap_delete_bytes(map, key, len, NULL));
		}
	}
}

static int count_entry(const struct gcmap_entry *e, void *arg)
{
	(void)e;
	++*(size_t *)arg;
	return 0;
}

/* The map workloads: healthy, leak-iter (walks that stop early and never
 * end their iterator), leak-reader (a read-side section that never ends, so
 * no grace period does and deleted key copies pile up). */
struct map_wl {
	bool leak_iter, in_section;
	struct gcmap *map;
	struct gcmap_iter *leaked[ROUNDS * LEAKED_ITERS_PER_ROUND];
	size_t nr_leaked;
};

static void map_init(struct map_wl *w, const char *mode, struct snapper *sn)
{
	struct gcmap_options o = { .size = sizeof(o), .key_kind = GCMAP_KEY_BYTES };

	w->leak_iter = strcmp(mode, "leak-iter") == 0;
	w->in_section = strcmp(mode, "leak-reader") == 0;
	OK(gcmap_create(&o, &w->map));
	sn->maps[sn->nr_maps++] = w->map;
	if (w->in_section)
		OK(gcmap_read_lock());
}

static void map_round(struct map_wl *w, unsigned int r)
{
	size_t n = 0;

	churn_keys(w->map, r);
	/* A full walk: its iterator is ended. */
	CHECK(gcmap_foreach(w->map, count_entry, &n), 0);
	if (n != KEYS) {
		fprintf(stderr, "leak_workload: walked %zu entries, not %u\n", n, KEYS);
		exit(1);
	}
	for (unsigned int i = 0; w->leak_iter && i < LEAKED_ITERS_PER_ROUND; i++) {
		struct gcmap_iter *it;
		struct gcmap_entry e;

		/* The bug: a walk that stops early and forgets gcmap_iter_end(). */
		OK(gcmap_iter_begin(w->map, &it));
		CHECK(gcmap_iter_next(it, &e), 1);
		w->leaked[w->nr_leaked++] = it;
	}
}

static void map_fini(struct map_wl *w)
{
	if (w->in_section)
		OK(gcmap_read_unlock());
	for (size_t i = 0; i < w->nr_leaked; i++)
		OK(gcmap_iter_end(w->leaked[i]));
	OK(gcmap_barrier());
	OK(gcmap_destroy(w->map));
}

/* ------------------------------------------------------------------------ */
/* Collector workloads                                                      */

struct obj {
	uint64_t id;
	struct gcmap_gc *gc;
};

static void obj_finalize(void *p, void *arg)
{
	struct obj *o = p;

	(void)arg;
	OK(gcmap_gc_unregister(o->gc, o));
	OK(gcmap_defer_free(o, NULL));
}

/*
 * Each round stores a new object under every key of an attached map, so the
 * previous round's objects become unreachable. healthy: a cycle and the
 * finalizers run every round; leak-gc: no cycle ever runs; stuck-fin: cycles
 * run but nobody runs the finalizers.
 */
struct gc_wl {
	bool collect, finalize;
	struct gcmap_gc *gc;
	struct gcmap *map;
};

static void gc_init(struct gc_wl *w, const char *mode, struct snapper *sn)
{
	w->collect = strcmp(mode, "leak-gc") != 0;
	w->finalize = w->collect && strcmp(mode, "stuck-fin") != 0;
	OK(gcmap_gc_create(NULL, &w->gc));
	OK(gcmap_create(NULL, &w->map));
	OK(gcmap_gc_attach(w->gc, w->map));
	sn->maps[sn->nr_maps++] = w->map;
	sn->gcs[sn->nr_gcs++] = w->gc;
}

static void gc_round(struct gc_wl *w, unsigned int r)
{
	for (unsigned int k = 0; k < KEYS; k++) {
		struct obj *o = calloc(1, sizeof(*o));

		if (!o)
			exit(1);
		o->id = (uint64_t)r * KEYS + k;
		o->gc = w->gc;
		/* Register and store in one read-side section (gcmap.h). */
		OK(gcmap_read_lock());
		OK(gcmap_gc_register(w->gc, o, obj_finalize, NULL, NULL));
		CHECK(gcmap_put_u64(w->map, k, o, NULL), r == 0 ? 1 : 0);
		OK(gcmap_read_unlock());
	}
	if (w->collect)
		CHECK(gcmap_gc_collect(w->gc), r == 0 ? 0 : (int)KEYS);
	if (w->finalize)
		CHECK(gcmap_gc_run_finalizers(w->gc, 0), r == 0 ? 0 : (int)KEYS);
}

static void gc_fini(struct gc_wl *w)
{
	/* Drop every object, so that leak checkers stay quiet. */
	for (unsigned int k = 0; k < KEYS; k++)
		OK(gcmap_delete_u64(w->map, k, NULL));
	if (gcmap_gc_collect(w->gc) < 0 || gcmap_gc_run_finalizers(w->gc, 0) < 0)
		exit(1);
	OK(gcmap_destroy(w->map));
	OK(gcmap_gc_destroy(w->gc));
	OK(gcmap_barrier());
}

/* ------------------------------------------------------------------------ */
/* churn: maps and domains created and destroyed while GCMAP_STATS writes   */

static volatile int churn_stop;

static void *churn_thread(void *arg)
{
	unsigned int n = 0;

	(void)arg;
	OK(gcmap_thread_register());
	while (!__atomic_load_n(&churn_stop, __ATOMIC_ACQUIRE)) {
		struct gcmap_gc *gc;
		struct gcmap *map;

		OK(gcmap_create(NULL, &map));
		OK(gcmap_gc_create(NULL, &gc));
		for (uint64_t k = 0; k < 200; k++)
			CHECK(gcmap_put_u64(map, k, (void *)(uintptr_t)(k + 1), NULL), 1);
		OK(gcmap_destroy(map));
		OK(gcmap_gc_destroy(gc));
		n++;
	}
	OK(gcmap_thread_unregister());
	return (void *)(uintptr_t)n;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

#define MAX_CHURN_THREADS 8

static void churn(unsigned int ms, unsigned int nr_threads)
{
	struct gcmap_gc *gc;
	struct gcmap *map;
	pthread_t t[MAX_CHURN_THREADS];

	/* Two objects that live the whole run, then threads that create
	 * and destroy others as fast as they can: a destroy must wait for a
	 * snapshot that reads the object (TSan sees a use after free if not). */
	OK(gcmap_create(NULL, &map));
	OK(gcmap_gc_create(NULL, &gc));
	OK(gcmap_gc_attach(gc, map));
	if (nr_threads < 1 || nr_threads > MAX_CHURN_THREADS)
		nr_threads = 2;
	for (unsigned int i = 0; i < nr_threads; i++)
		OK(pthread_create(&t[i], NULL, churn_thread, NULL));
	sleep_ms(ms);
	__atomic_store_n(&churn_stop, 1, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < nr_threads; i++)
		OK(pthread_join(t[i], NULL));
	OK(gcmap_destroy(map));
	OK(gcmap_gc_destroy(gc));
	/* A last snapshot or two without them. */
	sleep_ms(ms / 4 + 1);
}

int main(int argc, char **argv)
{
	struct snapper sn = { 0 };
	const char *mode;

	if (argc < 2)
		usage();
	mode = argv[1];
	OK(gcmap_thread_register());
	if (strcmp(mode, "none") == 0) {
		OK(gcmap_thread_unregister());
		return 0;
	}
	if (strcmp(mode, "churn") == 0) {
		churn(argc > 2 ? (unsigned int)strtoul(argv[2], NULL, 10) : 300,
		      argc > 3 ? (unsigned int)strtoul(argv[3], NULL, 10) : 2);
		OK(gcmap_thread_unregister());
		return 0;
	}
	if (argc < 3)
		usage();
	sn.lines = fopen(argv[2], "w");
	if (!sn.lines) {
		perror(argv[2]);
		return 1;
	}
	sn.prefix = argc > 3 ? argv[3] : NULL;
	{
		bool healthy = strcmp(mode, "healthy") == 0;
		bool with_map =
			healthy || !strcmp(mode, "leak-iter") || !strcmp(mode, "leak-reader");
		bool with_gc = healthy || !strcmp(mode, "leak-gc") || !strcmp(mode, "stuck-fin");
		struct map_wl mw = { 0 };
		struct gc_wl gw = { 0 };

		if (!with_map && !with_gc)
			usage();
		if (with_map)
			map_init(&mw, mode, &sn);
		if (with_gc)
			gc_init(&gw, mode, &sn);
		for (unsigned int r = 0; r < ROUNDS; r++) {
			if (with_map)
				map_round(&mw, r);
			if (with_gc)
				gc_round(&gw, r);
			/* Healthy programs let grace periods end; wait for the
			 * deferred frees so that each snapshot is exact. */
			if (!mw.in_section)
				OK(gcmap_barrier());
			snapshot(&sn);
		}
		if (with_map)
			map_fini(&mw);
		if (with_gc)
			gc_fini(&gw);
	}
	if (fclose(sn.lines) != 0)
		return 1;
	OK(gcmap_thread_unregister());
	return 0;
}
