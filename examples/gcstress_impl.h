/*
 * gcstress_impl.h - the collector stress, shared by examples/gcmap-demo.c
 * (--gc-stress), stress/gcstress.c (make stress) and tests/check_gc.c (a
 * short run): writers move managed objects between keys of two or more
 * attached maps while the maps grow and shrink and a collector thread runs
 * incremental cycles back to back. Public API only (the demo links the
 * installed library); no asserts: the results come back in struct gcs_result.
 *
 * Design
 * ------
 * Objects: a pool of writers x objects; each carries a state word, ALIVE
 * until its finalizer runs, which only sets FINALIZED (the pool is freed
 * at the end, after the domain). Writer w owns objects [w*K, (w+1)*K) and,
 * in every map, the keys (w << 32) | s for s < 4K; only it moves its
 * objects, so it knows where each one is and which of its keys are free.
 *
 * Every object is in a map at every moment, or held by a writer inside a
 * read-side section between taking it out and storing it back:
 *
 *     move:  read_lock; delete(src) -> o; insert(dst, free key, o); read_unlock
 *     swap:  read_lock; put(k1, o2) -> o1; put(k2, o1) -> o2; read_unlock
 *
 * so no object ever becomes unreachable and none may ever be finalized.
 * While a cycle marks, a move from a slot the marker has not scanned yet to
 * one it has scanned (a chain behind its cursor, a map it finished) hides
 * the object from the marker: only the write barrier (the delete's or
 * put's Yuasa half, the insert's Dijkstra half) keeps it alive.
 *
 * Churn (optional): 1 move in opts.churn unregisters the object after the
 * delete and registers it again before the insert, in the same section:
 * objects are born at any moment of a cycle (during marking, between the
 * end of marking and the sweep, between cycles) and must survive it.
 *
 * Violations: a get or a delete or put hands out a FINALIZED object; also
 * counted (lost): objects finalized at all, checked after a last full
 * cycle at the end. With GCMAP_GC_F_UNSAFE_NO_BARRIER (the negative
 * control) objects are lost in most cycles and handed out soon after.
 *
 * Waves: writers send 15/16 of their moves to map (wave % maps); writer 0
 * starts the next wave when 7/8 of its objects are there. Each map fills to
 * about 7/8 of all objects and drains to about 1/8 or less: it grows and
 * shrinks several times per wave.
 *
 * Overlap: the collector yields between two steps when the writers made no
 * move since the previous step, so marking overlaps moves; moves made while
 * a cycle marks are counted (moves_marking).
 */
#ifndef GCMAP_GCSTRESS_IMPL_H
#define GCMAP_GCSTRESS_IMPL_H

#include <gcmap.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__SANITIZE_THREAD__)
#define GCS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GCS_TSAN 1
#endif
#endif
#ifndef GCS_TSAN
#define GCS_TSAN 0
#endif

#define GCS_MAX_MAPS 8
#define GCS_MAX_THREADS 64
#define GCS_ALIVE 0x414c4956u /* "ALIV" */
#define GCS_FINALIZED 0x46494e4cu /* "FINL" */

struct gcs_opts {
	uint64_t seed; /* writers' choices, readers' and the maps' hash seed */
	unsigned int writers; /* 1 .. GCS_MAX_THREADS */
	unsigned int readers; /* 0 .. GCS_MAX_THREADS */
	unsigned int maps; /* 2 .. GCS_MAX_MAPS attached maps */
	unsigned int objects; /* per writer */
	unsigned int budget; /* gcmap_gc_step() budget */
	double secs; /* run at least this long ... */
	unsigned long min_cycles; /* ... and until this many cycles completed, */
	double max_secs; /* but at most this long (0: 4 x secs + 60) */
	unsigned int churn; /* 1 move in this many re-registers its object (0: never) */
	bool no_barrier; /* GCMAP_GC_F_UNSAFE_NO_BARRIER: the negative control */
	bool stop_on_violation; /* stop at the first violation */
};

struct gcs_result {
	double secs;
	unsigned long cycles; /* completed cycles */
	unsigned long steps; /* gcmap_gc_step() calls */
	unsigned long moves; /* moves and swaps */
	unsigned long moves_marking; /* of those, while a cycle marked */
	unsigned long reregs; /* of those, re-registering the object (churn) */
	unsigned long gets, hits; /* reader lookups; of those, found */
	unsigned long violations; /* a map handed out a FINALIZED object */
	unsigned long lost; /* objects finalized at all */
	unsigned long finalized; /* finalizers run (gcmap_gc_stats) */
	unsigned long barrier_records; /* objects shaded by the barrier */
	unsigned long grows, shrinks; /* of all maps */
	unsigned long waves;
	unsigned long errors; /* unexpected return codes */
	char first[256]; /* the first violation or error */
};

/* The default options; fewer objects under ThreadSanitizer. */
static inline void gcs_default_opts(struct gcs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->writers = 2;
	o->readers = 1;
	o->maps = 2;
	o->objects = GCS_TSAN ? 256 : 1024;
	o->budget = GCS_TSAN ? 4 : 16;
	o->secs = 2.0;
	o->min_cycles = 3; /* on a loaded machine a cycle can take 0.5 s */
}

static inline unsigned long gcs_failures(const struct gcs_result *r)
{
	return r->violations + r->lost + r->errors;
}

/* ---------------------------------------------------------------------- */
/* State                                                                  */

struct gcs_obj {
	uint32_t state; /* GCS_ALIVE / GCS_FINALIZED; atomic */
	uint32_t id;
};

struct gcs_ctx;

struct gcs_writer {
	pthread_t tid;
	struct gcs_ctx *c;
	unsigned int w;
	uint64_t rng;
	uint32_t *loc; /* object i of this writer: map * slots + slot */
	uint8_t *occ; /* [map * slots + slot]: the key holds one of our objects */
	unsigned int in_map[GCS_MAX_MAPS];
	/* written by this thread only; atomic so the collector can read them */
	unsigned long moves, moves_marking, reregs;
};

struct gcs_reader {
	pthread_t tid;
	struct gcs_ctx *c;
	uint64_t rng;
	unsigned long gets, hits;
};

struct gcs_ctx {
	struct gcs_opts o;
	struct gcmap_gc *gc;
	struct gcmap *maps[GCS_MAX_MAPS];
	struct gcs_obj *pool;
	unsigned int slots; /* keys per writer per map */
	struct gcs_writer w[GCS_MAX_THREADS];
	struct gcs_reader r[GCS_MAX_THREADS];
	pthread_t collector;
	int stop; /* atomic */
	int marking; /* atomic: a cycle marks */
	unsigned int wave; /* atomic */
	unsigned long cycles, steps, violations, errors; /* atomic */
	pthread_mutex_t lock; /* first[] */
	char first[256];
};

static inline uint64_t gcs_rnd(uint64_t *s)
{
	/* splitmix64: any seed, including 0, gives a good sequence. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline double gcs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline bool gcs_stopped(struct gcs_ctx *c)
{
	return __atomic_load_n(&c->stop, __ATOMIC_ACQUIRE) != 0;
}

static inline void gcs_note(struct gcs_ctx *c, unsigned long *ctr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void gcs_note(struct gcs_ctx *c, unsigned long *ctr, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&c->lock);
	if (!c->first[0]) {
		va_start(ap, fmt);
		vsnprintf(c->first, sizeof(c->first), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&c->lock);
	__atomic_fetch_add(ctr, 1, __ATOMIC_RELAXED);
	if (ctr == &c->violations && c->o.stop_on_violation)
		__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
}

static inline uint64_t gcs_key(unsigned int w, unsigned int slot)
{
	return (uint64_t)w << 32 | slot;
}

/* The finalizer: marks the object; never frees it (the pool is freed at
 * the end). */
static inline void gcs_finalize(void *obj, void *arg)
{
	struct gcs_obj *o = obj;

	(void)arg;
	__atomic_store_n(&o->state, GCS_FINALIZED, __ATOMIC_RELEASE);
}

/* Check an object a map handed out (inside the read-side section). */
static inline void gcs_check(struct gcs_ctx *c, void *v, const char *how, unsigned int map)
{
	struct gcs_obj *o = v;

	if (__atomic_load_n(&o->state, __ATOMIC_ACQUIRE) == GCS_FINALIZED)
		gcs_note(c, &c->violations,
			 "%s on map %u handed out object %u after its finalizer ran (cycle %lu)",
			 how, map, o->id, __atomic_load_n(&c->cycles, __ATOMIC_RELAXED));
}

/* ---------------------------------------------------------------------- */
/* Writers                                                                */

static inline struct gcs_obj *gcs_objp(struct gcs_writer *w, unsigned int i)
{
	return &w->c->pool[(size_t)w->w * w->c->o.objects + i];
}

/* A free key of ours in map @m, not @avoid (a slot index). */
static inline unsigned int gcs_free_slot(struct gcs_writer *w, unsigned int m)
{
	unsigned int slots = w->c->slots;

	for (;;) {
		unsigned int s = (unsigned int)(gcs_rnd(&w->rng) % slots);

		if (!w->occ[(size_t)m * slots + s])
			return s;
	}
}

/*
 * Move object @i to a free key of map @dm, in one read-side section. With
 * @rereg, the object is unregistered after the delete and registered again
 * before the insert (a new object, in the pattern of include/gcmap.h).
 */
static inline void gcs_move(struct gcs_writer *w, unsigned int i, unsigned int dm, bool rereg)
{
	struct gcs_ctx *c = w->c;
	unsigned int slots = c->slots;
	unsigned int sm = w->loc[i] / slots, ss = w->loc[i] % slots;
	unsigned int ds = gcs_free_slot(w, dm);
	struct gcs_obj *o = gcs_objp(w, i);
	void *v = NULL;
	int rc, rc2, ru = 0, rr = 0;

	gcmap_read_lock();
	rc = gcmap_delete_u64(c->maps[sm], gcs_key(w->w, ss), &v);
	if (rc == 0)
		gcs_check(c, v, "delete", sm);
	/* Between these calls only this section holds the object. */
	if (rereg) {
		ru = gcmap_gc_unregister(c->gc, o);
		rr = gcmap_gc_register(c->gc, o, gcs_finalize, NULL, NULL);
	}
	rc2 = gcmap_insert_u64(c->maps[dm], gcs_key(w->w, ds), o, NULL);
	gcmap_read_unlock();
	if (rc != 0 || v != o || rc2 != 0 || ru != 0 || rr != 0)
		gcs_note(c, &c->errors,
			 "writer %u: move of object %u: delete = %d (value %p, want %p), "
			 "unregister = %d, register = %d, insert = %d",
			 w->w, o->id, rc, v, (void *)o, ru, rr, rc2);
	w->occ[(size_t)sm * slots + ss] = 0;
	w->occ[(size_t)dm * slots + ds] = 1;
	w->loc[i] = dm * slots + ds;
	w->in_map[sm]--;
	w->in_map[dm]++;
}

/* Swap objects @i and @j between their keys, with two puts. */
static inline void gcs_swap(struct gcs_writer *w, unsigned int i, unsigned int j)
{
	struct gcs_ctx *c = w->c;
	unsigned int slots = c->slots;
	unsigned int mi = w->loc[i] / slots, si = w->loc[i] % slots;
	unsigned int mj = w->loc[j] / slots, sj = w->loc[j] % slots;
	struct gcs_obj *oi = gcs_objp(w, i), *oj = gcs_objp(w, j);
	void *v1 = NULL, *v2 = NULL;
	int rc1, rc2;

	gcmap_read_lock();
	rc1 = gcmap_put_u64(c->maps[mi], gcs_key(w->w, si), oj, &v1);
	if (rc1 == 0)
		gcs_check(c, v1, "put", mi);
	/* Object i is held only by this section until the next put. */
	rc2 = gcmap_put_u64(c->maps[mj], gcs_key(w->w, sj), oi, &v2);
	if (rc2 == 0)
		gcs_check(c, v2, "put", mj);
	gcmap_read_unlock();
	if (rc1 != 0 || v1 != oi || rc2 != 0 || v2 != oj)
		gcs_note(
			c, &c->errors,
			"writer %u: swap of objects %u and %u: put = %d (old %p), put = %d (old %p)",
			w->w, oi->id, oj->id, rc1, v1, rc2, v2);
	/* One object left each key and one came: the per-map counts stay. */
	w->loc[i] = mj * slots + sj;
	w->loc[j] = mi * slots + si;
}

static inline void *gcs_writer_main(void *arg)
{
	struct gcs_writer *w = arg;
	struct gcs_ctx *c = w->c;
	unsigned int k = c->o.objects, nmaps = c->o.maps;

	if (gcmap_thread_register() != 0) {
		gcs_note(c, &c->errors, "writer %u: gcmap_thread_register failed", w->w);
		return NULL;
	}
	while (!gcs_stopped(c)) {
		for (unsigned int n = 0; n < 64; n++) {
			uint64_t r = gcs_rnd(&w->rng);
			unsigned int wave = __atomic_load_n(&c->wave, __ATOMIC_RELAXED);
			unsigned int target = wave % nmaps;
			unsigned int i = (unsigned int)((r >> 8) % k);

			if ((r & 3) == 0 && k > 1) {
				unsigned int j = (unsigned int)((r >> 40) % k);

				if (j != i)
					gcs_swap(w, i, j);
			} else {
				/* 15/16 to the wave's map, 1/16 to any map. */
				unsigned int dm =
					((r >> 2) & 15) ? target : (unsigned int)((r >> 6) % nmaps);

				bool rereg = c->o.churn && (r >> 48) % c->o.churn == 0;

				gcs_move(w, i, dm, rereg);
				if (rereg)
					__atomic_store_n(&w->reregs, w->reregs + 1,
							 __ATOMIC_RELAXED);
			}
			__atomic_store_n(&w->moves, w->moves + 1, __ATOMIC_RELAXED);
			if (__atomic_load_n(&c->marking, __ATOMIC_RELAXED))
				__atomic_store_n(&w->moves_marking, w->moves_marking + 1,
						 __ATOMIC_RELAXED);
			if (w->w == 0 && w->in_map[target] * 8 >= k * 7)
				__atomic_store_n(&c->wave, wave + 1, __ATOMIC_RELAXED);
		}
	}
	gcmap_thread_unregister();
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Readers and the collector                                              */

static inline void *gcs_reader_main(void *arg)
{
	struct gcs_reader *rd = arg;
	struct gcs_ctx *c = rd->c;

	if (gcmap_thread_register() != 0) {
		gcs_note(c, &c->errors, "reader: gcmap_thread_register failed");
		return NULL;
	}
	while (!gcs_stopped(c)) {
		for (unsigned int n = 0; n < 256; n++) {
			uint64_t r = gcs_rnd(&rd->rng);
			unsigned int m = (unsigned int)(r % c->o.maps);
			unsigned int w = (unsigned int)((r >> 8) % c->o.writers);
			unsigned int s = (unsigned int)((r >> 24) % c->slots);
			void *v;

			gcmap_read_lock();
			if (gcmap_get_u64(c->maps[m], gcs_key(w, s), &v) == 0) {
				gcs_check(c, v, "get", m);
				rd->hits++;
			}
			gcmap_read_unlock();
			rd->gets++;
		}
	}
	gcmap_thread_unregister();
	return NULL;
}

static inline unsigned long gcs_moves(struct gcs_ctx *c)
{
	unsigned long n = 0;

	for (unsigned int i = 0; i < c->o.writers; i++)
		n += __atomic_load_n(&c->w[i].moves, __ATOMIC_RELAXED);
	return n;
}

/*
 * Between two steps: if the writers made no move since the previous step
 * (they are not running), sched_yield() to let them run. Yielding after
 * every step would cost a scheduler time slice per step wherever there are
 * more threads than CPUs, and a cycle of hundreds of steps would take
 * seconds; the writers that do run move objects during every step anyway.
 */
static inline void gcs_pace(struct gcs_ctx *c, unsigned long *last)
{
	unsigned long now = gcs_moves(c);

	if (now == *last) {
		sched_yield();
		now = gcs_moves(c);
	}
	*last = now;
}

/* One cycle, driven step by step. Return 0 or a negative errno. */
static inline int gcs_cycle(struct gcs_ctx *c, bool paced)
{
	unsigned long last = gcs_moves(c);
	int rc = gcmap_gc_begin(c->gc);

	if (rc)
		return rc;
	__atomic_store_n(&c->marking, 1, __ATOMIC_RELAXED);
	do {
		rc = gcmap_gc_step(c->gc, c->o.budget);
		__atomic_fetch_add(&c->steps, 1, __ATOMIC_RELAXED);
		if (paced)
			gcs_pace(c, &last);
	} while (rc == 1);
	__atomic_store_n(&c->marking, 0, __ATOMIC_RELAXED);
	if (rc < 0)
		return rc;
	rc = gcmap_gc_finish(c->gc);
	if (rc < 0)
		return rc;
	rc = gcmap_gc_run_finalizers(c->gc, 0);
	if (rc < 0)
		return rc;
	__atomic_fetch_add(&c->cycles, 1, __ATOMIC_RELAXED);
	return 0;
}

static inline void *gcs_collector_main(void *arg)
{
	struct gcs_ctx *c = arg;

	if (gcmap_thread_register() != 0) {
		gcs_note(c, &c->errors, "collector: gcmap_thread_register failed");
		return NULL;
	}
	while (!gcs_stopped(c)) {
		int rc = gcs_cycle(c, true);

		if (rc) {
			gcs_note(c, &c->errors, "collector: cycle failed: %s", gcmap_strerror(rc));
			break;
		}
	}
	gcmap_thread_unregister();
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Setup, run, teardown                                                   */

static inline int gcs_setup(struct gcs_ctx *c)
{
	struct gcmap_gc_options go = { .size = sizeof(go) };
	struct gcmap_options mo = { .size = sizeof(mo), .key_kind = GCMAP_KEY_U64 };
	unsigned int k = c->o.objects, slots;
	int rc;

	c->slots = slots = 4 * k;
	go.flags = c->o.no_barrier ? GCMAP_GC_F_UNSAFE_NO_BARRIER : 0;
	rc = gcmap_gc_create(&go, &c->gc);
	if (rc)
		return rc;
	mo.flags = GCMAP_F_FIXED_SEED;
	for (unsigned int m = 0; m < c->o.maps; m++) {
		mo.seed[0] = c->o.seed ^ (0x5851f42d4c957f2dull * (m + 1));
		mo.seed[1] = ~c->o.seed + m;
		rc = gcmap_create(&mo, &c->maps[m]);
		if (!rc)
			rc = gcmap_gc_attach(c->gc, c->maps[m]);
		if (rc)
			return rc;
	}
	c->pool = calloc((size_t)c->o.writers * k, sizeof(*c->pool));
	if (!c->pool)
		return -ENOMEM;
	for (unsigned int wi = 0; wi < c->o.writers; wi++) {
		struct gcs_writer *w = &c->w[wi];

		w->c = c;
		w->w = wi;
		w->rng = c->o.seed * 0x2545f4914f6cdd1dull + wi + 1;
		w->loc = calloc(k, sizeof(*w->loc));
		w->occ = calloc((size_t)c->o.maps * slots, 1);
		if (!w->loc || !w->occ)
			return -ENOMEM;
		/* Every object starts in map 0 (the first wave's target) at the
		 * key of its index: registered and stored in one section. */
		for (unsigned int i = 0; i < k; i++) {
			struct gcs_obj *o = gcs_objp(w, i);

			o->id = wi * k + i;
			o->state = GCS_ALIVE;
			gcmap_read_lock();
			rc = gcmap_gc_register(c->gc, o, gcs_finalize, NULL, NULL);
			if (!rc)
				rc = gcmap_insert_u64(c->maps[0], gcs_key(wi, i), o, NULL);
			gcmap_read_unlock();
			if (rc)
				return rc;
			w->loc[i] = i;
			w->occ[i] = 1;
		}
		w->in_map[0] = k;
	}
	for (unsigned int i = 0; i < c->o.readers; i++) {
		c->r[i].c = c;
		c->r[i].rng = c->o.seed * 0x9e3779b97f4a7c15ull + 1000 + i;
	}
	return 0;
}

static inline void gcs_teardown(struct gcs_ctx *c)
{
	if (c->gc)
		gcmap_gc_destroy(c->gc); /* detaches the maps */
	for (unsigned int m = 0; m < c->o.maps; m++)
		if (c->maps[m])
			gcmap_destroy(c->maps[m]);
	for (unsigned int wi = 0; wi < c->o.writers; wi++) {
		free(c->w[wi].loc);
		free(c->w[wi].occ);
	}
	free(c->pool);
	pthread_mutex_destroy(&c->lock);
}

/* Everything but the timing, from the counters and the library's stats. */
static inline void gcs_collect_result(struct gcs_ctx *c, struct gcs_result *res)
{
	struct gcmap_gc_stats gs = { .size = sizeof(gs) };
	size_t n = (size_t)c->o.writers * c->o.objects;

	res->cycles = c->cycles;
	res->steps = c->steps;
	res->violations = c->violations;
	res->errors = c->errors;
	res->waves = c->wave;
	for (unsigned int i = 0; i < c->o.writers; i++) {
		res->moves += c->w[i].moves;
		res->moves_marking += c->w[i].moves_marking;
		res->reregs += c->w[i].reregs;
	}
	for (unsigned int i = 0; i < c->o.readers; i++) {
		res->gets += c->r[i].gets;
		res->hits += c->r[i].hits;
	}
	for (unsigned int m = 0; m < c->o.maps; m++) {
		struct gcmap_stats ms = { .size = sizeof(ms) };

		if (gcmap_stats(c->maps[m], &ms) == 0) {
			res->grows += ms.grows;
			res->shrinks += ms.shrinks;
		}
	}
	if (gcmap_gc_stats(c->gc, &gs) == 0) {
		res->finalized = gs.finalized;
		res->barrier_records = gs.barrier_records;
	}
	for (size_t i = 0; i < n; i++)
		if (__atomic_load_n(&c->pool[i].state, __ATOMIC_ACQUIRE) == GCS_FINALIZED)
			res->lost++;
	memcpy(res->first, c->first, sizeof(res->first));
}

/*
 * gcs_run() - run the stress with @o; fill @res.
 * Context: a registered thread outside any read-side section.
 * Return: 0 (look at @res for violations), or a negative errno if the run
 * could not be set up.
 */
static inline int gcs_run(const struct gcs_opts *o, struct gcs_result *res)
{
	struct gcs_ctx *c = calloc(1, sizeof(*c));
	unsigned int started_w = 0, started_r = 0;
	bool collector = false;
	double t0, max_secs = o->max_secs > 0 ? o->max_secs : 4 * o->secs + 60;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!c)
		return -ENOMEM;
	if (o->writers < 1 || o->writers > GCS_MAX_THREADS || o->readers > GCS_MAX_THREADS ||
	    o->maps < 2 || o->maps > GCS_MAX_MAPS || o->objects < 2 || o->objects > (1u << 24) ||
	    o->budget < 1) {
		free(c);
		return -EINVAL;
	}
	c->o = *o;
	pthread_mutex_init(&c->lock, NULL);
	rc = gcs_setup(c);
	t0 = gcs_now();
	for (unsigned int i = 0; !rc && i < o->writers; i++, started_w++)
		rc = -pthread_create(&c->w[i].tid, NULL, gcs_writer_main, &c->w[i]);
	for (unsigned int i = 0; !rc && i < o->readers; i++, started_r++)
		rc = -pthread_create(&c->r[i].tid, NULL, gcs_reader_main, &c->r[i]);
	if (!rc) {
		rc = -pthread_create(&c->collector, NULL, gcs_collector_main, c);
		collector = rc == 0;
	}
	while (!rc && !gcs_stopped(c)) {
		struct timespec ts = { 0, 5000000 };
		double t = gcs_now() - t0;

		if (t >= max_secs ||
		    (t >= o->secs &&
		     __atomic_load_n(&c->cycles, __ATOMIC_RELAXED) >= o->min_cycles))
			break;
		nanosleep(&ts, NULL);
	}
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
	if (collector)
		pthread_join(c->collector, NULL);
	for (unsigned int i = 0; i < started_r; i++)
		pthread_join(c->r[i].tid, NULL);
	for (unsigned int i = 0; i < started_w; i++)
		pthread_join(c->w[i].tid, NULL);
	res->secs = gcs_now() - t0;
	if (!rc) {
		/* A last full cycle with nothing moving: with the barrier, no
		 * object may be finalized by it either. */
		rc = gcs_cycle(c, false);
		if (!rc)
			gcs_collect_result(c, res);
	}
	gcs_teardown(c);
	free(c);
	return rc;
}

/* One line of results. */
static inline void gcs_print(FILE *f, const char *label, const struct gcs_opts *o,
			     const struct gcs_result *r)
{
	fprintf(f,
		"%s: seed %llu, %.2f s, %lu cycles (%lu steps), %lu moves (%lu while marking, "
		"%lu re-registering), %lu grows, %lu shrinks, %lu waves, %lu barrier records, "
		"%lu gets; violations %lu, lost %lu, errors %lu\n",
		label, (unsigned long long)o->seed, r->secs, r->cycles, r->steps, r->moves,
		r->moves_marking, r->reregs, r->grows, r->shrinks, r->waves, r->barrier_records,
		r->gets, r->violations, r->lost, r->errors);
	if (r->first[0])
		fprintf(f, "%s: first: %s\n", label, r->first);
}

#endif /* GCMAP_GCSTRESS_IMPL_H */
