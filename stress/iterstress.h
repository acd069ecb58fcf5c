/*
 * iterstress.h - the iteration stress, shared by tests/check_iter.c (short
 * runs in make check) and stress/iterstress.c (long runs, make stress):
 * writers insert, update and delete their own keys in waves that make the
 * map grow and shrink while iterators walk it again and again and check the
 * iteration contract of include/gcmap.h against per-key operation records.
 * No Check and no asserts here: the results come back in struct is_result.
 *
 * Design
 * ------
 * Keys 0 .. churn-1 belong to the writers (key i to writer i % writers);
 * keys churn .. churn+stable-1 are inserted before the threads start and
 * never touched (a floor of keys that stay put in every iteration).
 * A writer numbers its operations on each key (1, 2, ...: insert, update or
 * delete); a stored value encodes (key + 1) << 32 | operation number. Per
 * key, the writer publishes two words (release stores):
 *
 *     intent = n                  before it calls the map for operation n
 *     done   = n << 1 | present   after operation n returned
 *
 * An iterator loads every key's done word (acquire) before its walk (lo)
 * and the intent words after it (hi). For a returned entry with operation
 * number v:
 *   - lo.n <= v, and v == lo.n only if lo says present: every older value
 *     was replaced or deleted before the walk began (the operation that
 *     published lo happened before the walk's first step);
 *   - v <= intent loaded right after the entry was returned: the value was
 *     stored by an operation that had begun (the intent store precedes the
 *     value's release store, which the iterator's load of the value
 *     acquires). Together: the value is one the key held at some moment
 *     during the walk, and a key that was absent for the whole walk (lo
 *     absent, no operation begun until the end) is never returned;
 *   - no key is returned twice in one walk;
 *   - a key that stayed put (lo present and hi == lo.n: no operation began
 *     during the walk) is returned.
 *
 * Waves: all writers fill their keys (inserts, plus updates), then drain
 * them to zero (deletes, plus updates); writer 0 starts the next wave when
 * every writer reached the target AND the iterators returned another
 * quarter of the keys since the wave began (pacing: a wave always overlaps
 * a part of a walk). One wave takes the table from the size the stable keys
 * need to the size of all keys or back: several grows or shrinks per wave.
 * A maintainer thread (gcmap_maintain) keeps evacuations moving while the
 * writers wait; a grace-period thread calls gcmap_synchronize() in a loop.
 *
 * Overlap, counted by the iterators between two of their gcmap_iter_next()
 * calls, after the first entry of the walk and before its end (summed over
 * iterators): grows and shrinks that completed (the map's counters
 * changed), and whether a gcmap_synchronize() that began after the walk's
 * first entry has returned (it could not if the walk held a read-side
 * section from its first step on). The iterator yields every yield_every
 * entries, so resizes and grace periods land in the middle of walks.
 *
 * Negative control: no_filter sets GCMAP_TEST_ITER_NO_FILTER, which makes a
 * step after a shrink re-yield the part of the merged chain the walk had
 * already covered; the duplicate check must report it.
 */
#ifndef GCMAP_ITERSTRESS_H
#define GCMAP_ITERSTRESS_H

#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct is_opts {
	enum gcmap_key_kind kind;
	uint64_t seed; /* writers' choices and the map's hash seed */
	unsigned int writers; /* at least 2 */
	unsigned int iterators; /* at least 1 */
	unsigned int churn_keys; /* keys the writers fill and drain */
	unsigned int stable_keys; /* keys that are never touched */
	unsigned int yield_every; /* an iterator yields every this many entries */
	double min_secs; /* run at least this long ... */
	double max_secs; /* ... and at most this long */
	unsigned long min_iterations; /* completed walks needed to stop */
	bool no_filter; /* GCMAP_TEST_ITER_NO_FILTER: the negative control */
	bool stop_on_violation; /* stop at the first violation */
};

struct is_result {
	double secs;
	unsigned long iterations; /* completed walks */
	unsigned long entries; /* entries returned by walks */
	unsigned long waves; /* fill or drain waves completed */
	unsigned long writes; /* writer operations */
	unsigned long grows, shrinks, rebuilds; /* completed in all */
	unsigned long grows_live, shrinks_live; /* of those, in the middle of a walk */
	unsigned long gp_live; /* walks during which a grace period began and ended */
	unsigned long gps; /* grace periods waited for in all */
	unsigned long dups; /* a key returned twice in one walk */
	unsigned long missed; /* a key that stayed put not returned */
	unsigned long bad_values; /* a value the key did not hold during the walk,
				   * or a key never inserted */
	unsigned long errors; /* unexpected return codes */
	char first[512]; /* the first violation or error */
};

static inline unsigned long is_violations(const struct is_result *r)
{
	return r->dups + r->missed + r->bad_values + r->errors;
}

/* ---------------------------------------------------------------------- */
/* Keys and values                                                        */

/* Byte-string key @idx: "is", the index as 8 little-endian bytes (NUL bytes
 * for small indexes), then idx % 11 pattern bytes. */
#define IS_KEY_BUF 24
static inline size_t is_key(uint64_t idx, unsigned char *b)
{
	size_t n = 0;

	b[n++] = 'i';
	b[n++] = 's';
	for (int i = 0; i < 8; i++)
		b[n++] = (unsigned char)(idx >> (8 * i));
	for (uint64_t i = 0; i < idx % 11; i++)
		b[n++] = (unsigned char)(0x3c ^ (i * 0x11));
	return n;
}

/* The index of a key made by is_key(), or false if @b is not such a key. */
static inline bool is_key_decode(const unsigned char *b, size_t len, uint64_t *idx)
{
	unsigned char want[IS_KEY_BUF];
	uint64_t x = 0;

	if (len < 10 || len > 20 || !b || b[0] != 'i' || b[1] != 's')
		return false;
	for (int i = 0; i < 8; i++)
		x |= (uint64_t)b[2 + i] << (8 * i);
	if (is_key(x, want) != len || memcmp(want, b, len) != 0)
		return false;
	*idx = x;
	return true;
}

static inline void *is_val(uint64_t idx, uint64_t op)
{
	return (void *)(uintptr_t)(((idx + 1) << 32) | op);
}

/* ---------------------------------------------------------------------- */
/* Shared state                                                           */

/* Per-key operation record (see the file-top comment). */
struct is_krec {
	uint64_t intent;
	uint64_t done;
};

struct is_ctx {
	const struct is_opts *o;
	struct gcmap *m;
	unsigned int nkeys; /* churn + stable */
	struct is_krec *rec;
	int stop_writers, stop_all; /* release stores, acquire loads */
	unsigned long wave; /* even: fill, odd: drain */
	unsigned long *wave_reached; /* per writer: last wave whose target it reached, + 1 */
	unsigned long wave_progress; /* iterator progress when the wave began */
	unsigned long progress; /* entries returned by all iterators */
	unsigned long gp_started, gp_done;
	/* Counters of struct is_result, updated with atomics. */
	unsigned long iterations, entries, waves, writes, grows_live, shrinks_live, gp_live, gps,
		dups, missed, bad_values, errors;
	pthread_mutex_t lock; /* first */
	char first[512];
};

static inline void is_fail(struct is_ctx *c, unsigned long *counter, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void is_fail(struct is_ctx *c, unsigned long *counter, const char *fmt, ...)
{
	va_list ap;

	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&c->lock);
	if (!c->first[0]) {
		va_start(ap, fmt);
		vsnprintf(c->first, sizeof(c->first), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&c->lock);
}

static inline unsigned long is_nviol(struct is_ctx *c)
{
	return __atomic_load_n(&c->dups, __ATOMIC_RELAXED) +
	       __atomic_load_n(&c->missed, __ATOMIC_RELAXED) +
	       __atomic_load_n(&c->bad_values, __ATOMIC_RELAXED) +
	       __atomic_load_n(&c->errors, __ATOMIC_RELAXED);
}

static inline uint64_t is_rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline double is_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void is_sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------------- */
/* Map operations on key @idx                                             */

static inline int is_insert(struct is_ctx *c, uint64_t idx, void *val, void **cur)
{
	unsigned char b[IS_KEY_BUF];

	if (c->o->kind == GCMAP_KEY_U64)
		return gcmap_insert_u64(c->m, idx, val, cur);
	return gcmap_insert_bytes(c->m, b, is_key(idx, b), val, cur);
}

static inline int is_put(struct is_ctx *c, uint64_t idx, void *val, void **old)
{
	unsigned char b[IS_KEY_BUF];

	if (c->o->kind == GCMAP_KEY_U64)
		return gcmap_put_u64(c->m, idx, val, old);
	return gcmap_put_bytes(c->m, b, is_key(idx, b), val, old);
}

static inline int is_replace(struct is_ctx *c, uint64_t idx, void *val, void **old)
{
	unsigned char b[IS_KEY_BUF];

	if (c->o->kind == GCMAP_KEY_U64)
		return gcmap_replace_u64(c->m, idx, val, old);
	return gcmap_replace_bytes(c->m, b, is_key(idx, b), val, old);
}

static inline int is_cas(struct is_ctx *c, uint64_t idx, void *exp, void *des, void **cur)
{
	unsigned char b[IS_KEY_BUF];

	if (c->o->kind == GCMAP_KEY_U64)
		return gcmap_cas_u64(c->m, idx, exp, des, cur);
	return gcmap_cas_bytes(c->m, b, is_key(idx, b), exp, des, cur);
}

static inline int is_delete(struct is_ctx *c, uint64_t idx, void **old)
{
	unsigned char b[IS_KEY_BUF];

	if (c->o->kind == GCMAP_KEY_U64)
		return gcmap_delete_u64(c->m, idx, old);
	return gcmap_delete_bytes(c->m, b, is_key(idx, b), old);
}

/* ---------------------------------------------------------------------- */
/* Writers                                                                */

struct is_writer {
	struct is_ctx *c;
	unsigned int id;
	pthread_t tid;
	uint64_t rng;
	uint32_t nown, npresent;
	uint32_t *own; /* local key numbers j (key j * writers + id); present first */
	uint32_t *pos; /* pos[j]: where j is in own[] */
	uint64_t *op; /* op[j]: number of the latest operation on j */
	uint64_t *last; /* last[j]: operation number of j's current value */
};

static inline uint64_t is_idx(const struct is_writer *w, uint32_t j)
{
	return (uint64_t)j * w->c->o->writers + w->id;
}

static inline void is_swap(struct is_writer *w, uint32_t a, uint32_t b)
{
	uint32_t ja = w->own[a], jb = w->own[b];

	w->own[a] = jb;
	w->own[b] = ja;
	w->pos[jb] = a;
	w->pos[ja] = b;
}

/* Announce operation n on local key j (see the file-top comment). */
static inline uint64_t is_begin_op(struct is_writer *w, uint32_t j)
{
	uint64_t n = ++w->op[j];

	__atomic_store_n(&w->c->rec[is_idx(w, j)].intent, n, __ATOMIC_RELEASE);
	return n;
}

static inline void is_end_op(struct is_writer *w, uint32_t j, uint64_t n, bool present)
{
	__atomic_store_n(&w->c->rec[is_idx(w, j)].done, n << 1 | (present ? 1 : 0),
			 __ATOMIC_RELEASE);
	__atomic_add_fetch(&w->c->writes, 1, __ATOMIC_RELAXED);
}

static inline void is_w_insert(struct is_writer *w)
{
	uint32_t j = w->own[w->npresent + (uint32_t)(is_rng(&w->rng) % (w->nown - w->npresent))];
	uint64_t idx = is_idx(w, j), n = is_begin_op(w, j);
	void *v = is_val(idx, n), *old = (void *)1;
	int rc;

	if (is_rng(&w->rng) & 1) {
		rc = is_insert(w->c, idx, v, &old);
		if (rc != 0)
			is_fail(w->c, &w->c->errors, "insert(%llu) = %d (%s)",
				(unsigned long long)idx, rc, gcmap_strerror(rc));
	} else {
		rc = is_put(w->c, idx, v, &old);
		if (rc != 1 || old != NULL)
			is_fail(w->c, &w->c->errors, "put(%llu) of an absent key = %d, old %p",
				(unsigned long long)idx, rc, old);
	}
	w->last[j] = n;
	is_swap(w, w->pos[j], w->npresent++);
	is_end_op(w, j, n, true);
}

static inline void is_w_update(struct is_writer *w)
{
	uint32_t j = w->own[(uint32_t)(is_rng(&w->rng) % w->npresent)];
	uint64_t idx = is_idx(w, j), n = is_begin_op(w, j);
	void *v = is_val(idx, n), *cur = is_val(idx, w->last[j]), *old = NULL;
	int rc;

	switch (is_rng(&w->rng) % 3) {
	case 0:
		rc = is_put(w->c, idx, v, &old);
		break;
	case 1:
		rc = is_replace(w->c, idx, v, &old);
		break;
	default:
		rc = is_cas(w->c, idx, cur, v, &old);
		break;
	}
	if (rc != 0 || old != cur)
		is_fail(w->c, &w->c->errors, "update of key %llu = %d (%s), old %p, want %p",
			(unsigned long long)idx, rc, gcmap_strerror(rc), old, cur);
	w->last[j] = n;
	is_end_op(w, j, n, true);
}

static inline void is_w_delete(struct is_writer *w)
{
	uint32_t j = w->own[(uint32_t)(is_rng(&w->rng) % w->npresent)];
	uint64_t idx = is_idx(w, j), n = is_begin_op(w, j);
	void *cur = is_val(idx, w->last[j]), *old = NULL;
	int rc = is_delete(w->c, idx, &old);

	if (rc != 0 || old != cur)
		is_fail(w->c, &w->c->errors, "delete(%llu) = %d (%s), old %p, want %p",
			(unsigned long long)idx, rc, gcmap_strerror(rc), old, cur);
	is_swap(w, w->pos[j], --w->npresent);
	is_end_op(w, j, n, false);
}

/* Writer 0: start the next wave when every writer reached this one's target
 * and the iterators made progress during it. */
static inline void is_try_flip(struct is_ctx *c, unsigned long wave)
{
	unsigned long need = (c->nkeys + 3) / 4;
	unsigned long prog = __atomic_load_n(&c->progress, __ATOMIC_RELAXED);

	for (unsigned int i = 0; i < c->o->writers; i++)
		if (__atomic_load_n(&c->wave_reached[i], __ATOMIC_ACQUIRE) != wave + 1)
			return;
	if (prog - __atomic_load_n(&c->wave_progress, __ATOMIC_RELAXED) < need)
		return;
	__atomic_store_n(&c->wave_progress, prog, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->waves, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->wave, wave + 1, __ATOMIC_RELEASE);
}

static inline void *is_writer_main(void *arg)
{
	struct is_writer *w = arg;
	struct is_ctx *c = w->c;
	int rc = gcmap_thread_register();

	if (rc)
		is_fail(c, &c->errors, "writer: gcmap_thread_register = %d", rc);
	while (!__atomic_load_n(&c->stop_writers, __ATOMIC_ACQUIRE)) {
		unsigned long wave = __atomic_load_n(&c->wave, __ATOMIC_ACQUIRE);
		bool fill = !(wave & 1);
		bool reached = fill ? w->npresent == w->nown : w->npresent == 0;

		if (c->o->stop_on_violation && is_nviol(c))
			break;
		if (w->npresent && (reached || is_rng(&w->rng) % 4 == 0))
			is_w_update(w);
		else if (!reached && fill)
			is_w_insert(w);
		else if (!reached)
			is_w_delete(w);
		if (reached) {
			if (__atomic_load_n(&c->wave_reached[w->id], __ATOMIC_RELAXED) != wave + 1)
				__atomic_store_n(&c->wave_reached[w->id], wave + 1,
						 __ATOMIC_RELEASE);
			if (w->id == 0)
				is_try_flip(c, wave);
			sched_yield(); /* waiting for the others or the iterators */
		}
	}
	gcmap_thread_unregister();
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* The grace-period thread and the maintainer                             */

static inline void *is_gp_main(void *arg)
{
	struct is_ctx *c = arg;
	int rc = gcmap_thread_register();

	if (rc)
		is_fail(c, &c->errors, "gp: gcmap_thread_register = %d", rc);
	while (!__atomic_load_n(&c->stop_all, __ATOMIC_ACQUIRE)) {
		/* Started before the call, done after it returned: a walk that
		 * began before gp_started reached n and sees gp_done >= n saw
		 * grace period n begin and end inside it. */
		__atomic_add_fetch(&c->gp_started, 1, __ATOMIC_ACQ_REL);
		rc = gcmap_synchronize();
		if (rc)
			is_fail(c, &c->errors, "gcmap_synchronize = %d (%s)", rc,
				gcmap_strerror(rc));
		__atomic_add_fetch(&c->gp_done, 1, __ATOMIC_ACQ_REL);
		__atomic_add_fetch(&c->gps, 1, __ATOMIC_RELAXED);
		is_sleep_us(200);
	}
	gcmap_thread_unregister();
	return NULL;
}

static inline void *is_maint_main(void *arg)
{
	struct is_ctx *c = arg;
	int rc = gcmap_thread_register();

	if (rc)
		is_fail(c, &c->errors, "maintainer: gcmap_thread_register = %d", rc);
	while (!__atomic_load_n(&c->stop_writers, __ATOMIC_ACQUIRE)) {
		rc = gcmap_maintain(c->m, 4, 0);
		if (rc < 0 && rc != -ENOMEM)
			is_fail(c, &c->errors, "gcmap_maintain = %d (%s)", rc, gcmap_strerror(rc));
		if (rc > 0)
			sched_yield();
		else
			is_sleep_us(100);
	}
	gcmap_thread_unregister();
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Iterators                                                              */

struct is_iter {
	struct is_ctx *c;
	unsigned int id;
	pthread_t tid;
	uint64_t *lo; /* done words before the walk */
	uint8_t *seen; /* times each key was returned in this walk (saturating) */
};

static inline uint64_t is_resizes(const struct gcmap *m, bool shrinks)
{
	return __atomic_load_n(shrinks ? &m->nr_shrinks : &m->nr_grows, __ATOMIC_RELAXED);
}

/* Check one returned entry against the records (see the file-top comment). */
static inline void is_check_entry(struct is_iter *it, const struct gcmap_entry *e,
				  unsigned long walk)
{
	struct is_ctx *c = it->c;
	uint64_t idx, v = (uint64_t)(uintptr_t)e->value, n, lo_n, hi;
	bool lo_present;

	if (c->o->kind == GCMAP_KEY_U64) {
		idx = e->key;
	} else if (!is_key_decode(e->key_bytes, e->key_len, &idx)) {
		is_fail(c, &c->bad_values,
			"walk %lu: a byte key of %zu bytes that was never inserted", walk,
			e->key_len);
		return;
	}
	if (idx >= c->nkeys) {
		is_fail(c, &c->bad_values, "walk %lu: key %llu was never inserted", walk,
			(unsigned long long)idx);
		return;
	}
	if ((v >> 32) != idx + 1) {
		is_fail(c, &c->bad_values,
			"walk %lu: key %llu returned with value %#llx of key %llu", walk,
			(unsigned long long)idx, (unsigned long long)v,
			(unsigned long long)(v >> 32) - 1);
		return;
	}
	n = v & 0xffffffffu;
	lo_n = it->lo[idx] >> 1;
	lo_present = it->lo[idx] & 1;
	hi = __atomic_load_n(&c->rec[idx].intent, __ATOMIC_ACQUIRE);
	if (n < lo_n || (n == lo_n && !lo_present))
		is_fail(c, &c->bad_values,
			"walk %lu: key %llu returned with the value of operation %llu, but operation "
			"%llu (%s) had completed before the walk began",
			walk, (unsigned long long)idx, (unsigned long long)n,
			(unsigned long long)lo_n, lo_present ? "a write" : "a delete");
	else if (n > hi)
		is_fail(c, &c->bad_values,
			"walk %lu: key %llu returned with the value of operation %llu, not begun yet "
			"(latest %llu)",
			walk, (unsigned long long)idx, (unsigned long long)n,
			(unsigned long long)hi);
	if (it->seen[idx] && it->seen[idx] < 255)
		is_fail(c, &c->dups, "walk %lu: key %llu returned twice (value of operation %llu)",
			walk, (unsigned long long)idx, (unsigned long long)n);
	if (it->seen[idx] < 255)
		it->seen[idx]++;
}

/* One walk. Returns false if it was abandoned (stop on violation). */
static inline bool is_walk(struct is_iter *it, unsigned long walk)
{
	struct is_ctx *c = it->c;
	struct gcmap_iter *gi = NULL;
	struct gcmap_entry e;
	uint64_t grows, shrinks;
	unsigned long returned = 0, gp0 = 0;
	bool gp_seen = false, abandoned = false;
	int rc;

	/* Before the walk: every key's record. */
	for (unsigned int k = 0; k < c->nkeys; k++)
		it->lo[k] = __atomic_load_n(&c->rec[k].done, __ATOMIC_ACQUIRE);
	memset(it->seen, 0, c->nkeys);
	rc = gcmap_iter_begin(c->m, &gi);
	if (rc) {
		is_fail(c, &c->errors, "gcmap_iter_begin = %d (%s)", rc, gcmap_strerror(rc));
		return false;
	}
	grows = is_resizes(c->m, false);
	shrinks = is_resizes(c->m, true);
	for (;;) {
		uint64_t g, s;

		/* Inside a section, as a user who dereferences values would. */
		gcmap_read_lock();
		rc = gcmap_iter_next(gi, &e);
		if (rc == 1)
			is_check_entry(it, &e, walk);
		gcmap_read_unlock();
		if (rc != 1)
			break;
		returned++;
		__atomic_add_fetch(&c->progress, 1, __ATOMIC_RELAXED);
		/* Between two steps of a live walk. */
		g = is_resizes(c->m, false);
		s = is_resizes(c->m, true);
		if (returned == 1) {
			/* A grace period that begins after this point can end
			 * before the walk does only if the walk holds no
			 * read-side section between its steps. */
			gp0 = __atomic_load_n(&c->gp_started, __ATOMIC_ACQUIRE);
		} else {
			__atomic_add_fetch(&c->grows_live, g - grows, __ATOMIC_RELAXED);
			__atomic_add_fetch(&c->shrinks_live, s - shrinks, __ATOMIC_RELAXED);
			if (!gp_seen && __atomic_load_n(&c->gp_done, __ATOMIC_ACQUIRE) > gp0)
				gp_seen = true;
		}
		grows = g;
		shrinks = s;
		if (c->o->yield_every && returned % c->o->yield_every == 0)
			sched_yield();
		if (c->o->stop_on_violation && is_nviol(c)) {
			abandoned = true;
			break;
		}
	}
	__atomic_add_fetch(&c->entries, returned, __ATOMIC_RELAXED);
	if (rc < 0)
		is_fail(c, &c->errors, "gcmap_iter_next = %d (%s)", rc, gcmap_strerror(rc));
	if (rc == 0) {
		/* After the walk: keys that stayed put must have been returned. */
		for (unsigned int k = 0; k < c->nkeys; k++) {
			uint64_t lo = it->lo[k];
			uint64_t hi = __atomic_load_n(&c->rec[k].intent, __ATOMIC_ACQUIRE);

			if (!it->seen[k] && (lo & 1) && (lo >> 1) == hi)
				is_fail(c, &c->missed,
					"walk %lu: key %u stayed put (operation %llu) and was not "
					"returned",
					walk, k, (unsigned long long)hi);
		}
		__atomic_add_fetch(&c->iterations, 1, __ATOMIC_RELAXED);
		if (gp_seen)
			__atomic_add_fetch(&c->gp_live, 1, __ATOMIC_RELAXED);
	}
	rc = gcmap_iter_end(gi);
	if (rc)
		is_fail(c, &c->errors, "gcmap_iter_end = %d", rc);
	return !abandoned;
}

static inline void *is_iter_main(void *arg)
{
	struct is_iter *it = arg;
	struct is_ctx *c = it->c;
	int rc = gcmap_thread_register();

	if (rc)
		is_fail(c, &c->errors, "iterator: gcmap_thread_register = %d", rc);
	for (unsigned long walk = 0; !__atomic_load_n(&c->stop_all, __ATOMIC_ACQUIRE); walk++)
		if (!is_walk(it, walk))
			break;
	gcmap_thread_unregister();
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* A run                                                                  */

static inline bool is_enough(struct is_ctx *c, double elapsed)
{
	const struct is_opts *o = c->o;

	if (o->stop_on_violation && is_nviol(c))
		return true;
	if (elapsed >= o->max_secs)
		return true;
	if (o->no_filter && o->stop_on_violation)
		return false; /* the negative control runs until it is caught */
	return elapsed >= o->min_secs &&
	       __atomic_load_n(&c->iterations, __ATOMIC_RELAXED) >= o->min_iterations &&
	       __atomic_load_n(&c->grows_live, __ATOMIC_RELAXED) > 0 &&
	       __atomic_load_n(&c->shrinks_live, __ATOMIC_RELAXED) > 0 &&
	       __atomic_load_n(&c->gp_live, __ATOMIC_RELAXED) > 0;
}

/* After the threads stopped: one more walk, with every key's record final,
 * so it must return exactly the present keys with their current values. */
static inline void is_final_check(struct is_ctx *c)
{
	struct is_iter it = { c, 0, 0, NULL, NULL };

	it.lo = calloc(c->nkeys, sizeof(*it.lo));
	it.seen = calloc(c->nkeys, 1);
	if (it.lo && it.seen)
		(void)is_walk(&it, (unsigned long)-1);
	else
		is_fail(c, &c->errors, "out of memory");
	free(it.lo);
	free(it.seen);
}

/*
 * Run the stress with @o; fill @r. The calling thread must be registered.
 * Return: 0 if the run could be made (check @r for its outcome), or a
 * negative errno if the map or a thread could not be created.
 */
static inline int is_run(const struct is_opts *o, struct is_result *r)
{
	struct is_ctx *c = calloc(1, sizeof(*c));
	struct is_writer *w = calloc(o->writers, sizeof(*w));
	struct is_iter *its = calloc(o->iterators, sizeof(*its));
	struct gcmap_options mo;
	struct gcmap_stats st;
	pthread_t gp_tid, maint_tid;
	uint64_t rng = o->seed;
	double t0;
	int err = -ENOMEM;

	memset(r, 0, sizeof(*r));
	if (!c || !w || !its)
		goto out_free;
	pthread_mutex_init(&c->lock, NULL);
	c->o = o; /* from here on, out_free destroys the lock */
	c->nkeys = o->churn_keys + o->stable_keys;
	c->rec = calloc(c->nkeys, sizeof(*c->rec));
	c->wave_reached = calloc(o->writers, sizeof(*c->wave_reached));
	if (!c->rec || !c->wave_reached)
		goto out_free;
	memset(&mo, 0, sizeof(mo));
	mo.size = sizeof(mo);
	mo.key_kind = o->kind;
	mo.flags = GCMAP_F_FIXED_SEED;
	mo.seed[0] = is_rng(&rng);
	mo.seed[1] = is_rng(&rng);
	err = gcmap_create(&mo, &c->m);
	if (err)
		goto out_free;
	if (o->no_filter)
		__atomic_or_fetch(&gcmap__test_flags, GCMAP_TEST_ITER_NO_FILTER, __ATOMIC_RELAXED);

	/* The stable keys: operation 1, present, never touched again. */
	for (unsigned int k = o->churn_keys; k < c->nkeys; k++) {
		err = is_insert(c, k, is_val(k, 1), NULL);
		if (err)
			is_fail(c, &c->errors, "insert of stable key %u = %d", k, err);
		c->rec[k].intent = 1;
		c->rec[k].done = 1 << 1 | 1;
	}
	for (unsigned int i = 0; i < o->writers; i++) {
		struct is_writer *x = &w[i];

		x->c = c;
		x->id = i;
		x->rng = is_rng(&rng);
		x->nown = (o->churn_keys + o->writers - 1 - i) / o->writers;
		x->own = calloc(x->nown + 1, sizeof(*x->own));
		x->pos = calloc(x->nown + 1, sizeof(*x->pos));
		x->op = calloc(x->nown + 1, sizeof(*x->op));
		x->last = calloc(x->nown + 1, sizeof(*x->last));
		if (!x->own || !x->pos || !x->op || !x->last) {
			err = -ENOMEM;
			goto out_threads;
		}
		for (uint32_t j = 0; j < x->nown; j++)
			x->own[j] = x->pos[j] = j;
	}
	for (unsigned int i = 0; i < o->iterators; i++) {
		its[i].c = c;
		its[i].id = i;
		its[i].lo = calloc(c->nkeys, sizeof(*its[i].lo));
		its[i].seen = calloc(c->nkeys, 1);
		if (!its[i].lo || !its[i].seen) {
			err = -ENOMEM;
			goto out_threads;
		}
	}

	t0 = is_now();
	err = -pthread_create(&gp_tid, NULL, is_gp_main, c);
	if (err)
		goto out_threads;
	err = -pthread_create(&maint_tid, NULL, is_maint_main, c);
	if (err)
		abort(); /* cannot clean up the gp thread's loop otherwise */
	for (unsigned int i = 0; i < o->iterators; i++)
		if (pthread_create(&its[i].tid, NULL, is_iter_main, &its[i]))
			abort();
	for (unsigned int i = 0; i < o->writers; i++)
		if (pthread_create(&w[i].tid, NULL, is_writer_main, &w[i]))
			abort();
	while (!is_enough(c, is_now() - t0))
		is_sleep_us(2000);
	__atomic_store_n(&c->stop_writers, 1, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < o->writers; i++)
		pthread_join(w[i].tid, NULL);
	pthread_join(maint_tid, NULL);
	__atomic_store_n(&c->stop_all, 1, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < o->iterators; i++)
		pthread_join(its[i].tid, NULL);
	pthread_join(gp_tid, NULL);
	r->secs = is_now() - t0;
	if (!(o->stop_on_violation && is_nviol(c)))
		is_final_check(c);
	err = 0;

out_threads:
	if (o->no_filter)
		__atomic_and_fetch(&gcmap__test_flags, ~GCMAP_TEST_ITER_NO_FILTER,
				   __ATOMIC_RELAXED);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	if (gcmap_stats(c->m, &st) == 0) {
		r->grows = st.grows;
		r->shrinks = st.shrinks;
		r->rebuilds = st.rebuilds;
	}
	{
		int rc = gcmap_destroy(c->m);

		if (rc)
			is_fail(c, &c->errors, "gcmap_destroy = %d (%s)", rc, gcmap_strerror(rc));
	}
	r->iterations = c->iterations;
	r->entries = c->entries;
	r->waves = c->waves;
	r->writes = c->writes;
	r->grows_live = c->grows_live;
	r->shrinks_live = c->shrinks_live;
	r->gp_live = c->gp_live;
	r->gps = c->gps;
	r->dups = c->dups;
	r->missed = c->missed;
	r->bad_values = c->bad_values;
	r->errors = c->errors;
	memcpy(r->first, c->first, sizeof(r->first));
	for (unsigned int i = 0; i < o->writers; i++) {
		free(w[i].own);
		free(w[i].pos);
		free(w[i].op);
		free(w[i].last);
	}
	for (unsigned int i = 0; i < o->iterators; i++) {
		free(its[i].lo);
		free(its[i].seen);
	}
out_free:
	if (c && c->o) {
		free(c->rec);
		free(c->wave_reached);
		pthread_mutex_destroy(&c->lock);
	}
	free(c);
	free(w);
	free(its);
	return err;
}

#endif /* GCMAP_ITERSTRESS_H */
