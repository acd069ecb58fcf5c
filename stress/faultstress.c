/*
 * faultstress.c - random allocation failures under concurrent load: worker
 * threads run mixed operations on shared maps that grow and shrink, iterate,
 * drive collector cycles and run finalizers, while the allocator hook fails
 * each allocation of a worker with probability -p (per mille).
 * Prints its seed; exits 1 on any violation.
 *
 * Design
 * ------
 * Two shared maps (u64 keys, attached to a collector domain, and byte-string
 * keys), 8 buckets initially. Worker t owns the keys t*K .. t*K+K-1 of both
 * (disjoint ranges), so it knows what each of its keys must hold: a model
 * of acknowledged entries. All workers fill together until the maps hold
 * 90% of the keys, then drain them down to 5% (a shared wave flag), so the
 * tables go through many grows and shrinks. Values: u64 map: an odd number
 * that encodes the key, or (a quarter of the puts) a registered collector
 * object; byte-string map: a heap box that names its key, released with
 * gcmap_defer_free() when removed (or, when that fails, freed with a batch
 * after gcmap_synchronize()).
 *
 * The allocator (struct gcmap_allocator, also the process-wide one for
 * gcmap_defer_free's node and the collector) draws from a per-thread PRNG
 * on worker threads only; it counts calls and failures per site
 * (gcmap__alloc_site()) and every byte allocated and freed.
 *
 * Checked, each a violation (exit 1):
 * - an operation's result agrees with the model (0/1/-EEXIST/-ENOENT/
 *   -ECANCELED, returned old values); a get sees the acknowledged value;
 * - -ENOMEM only from put, insert, clear, create, iteration, registration,
 *   cycles and gcmap_defer_free, and only when a failure was injected into
 *   that call; the key is then as before (read back at once); get, replace,
 *   cas and delete never fail (a failed helping step must not fail them);
 * - reads of other workers' keys (inside a read-side section) and
 *   iteration see values that name their key, boxes not yet released and
 *   objects not yet finalized; an iteration returns each of the worker's
 *   own present keys exactly once, with its value (they are stable during
 *   its walk), retrying gcmap_iter_next() after -ENOMEM;
 * - a finalizer never runs for an object in a map or rooted, nor twice;
 * - private maps created, filled, cleared and destroyed under failures pass
 *   gcmap__check_invariants() after every failure;
 * - periodically (all workers parked at a barrier) and at the end: every
 *   worker's keys hold their model values, gcmap__check_invariants() passes
 *   on both maps and the collector's registry;
 * - at the end, after deleting everything, collecting until every object
 *   was finalized, destroying and gcmap_barrier(): every allocation was
 *   freed with its size, every object and box was freed;
 * - every allocation site the workload called on a worker thread was failed
 *   at least once.
 */
#include "internal.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define FS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FS_TSAN 1
#endif
#endif
#ifndef FS_TSAN
#define FS_TSAN 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FS_ASAN 1
#endif
#endif
#ifndef FS_ASAN
#define FS_ASAN 0
#endif

#define MAX_THREADS 16
#define KEY_BUF 32
#define EPOCH_MS 500 /* workers park for the invariant check this often */
#define MAX_ROOTS 8 /* rooted objects a worker holds */
#define PENDING_MAX 64 /* boxes a worker frees together after a grace period */

struct fs_opts {
	uint64_t seed;
	double secs;
	unsigned int threads;
	unsigned int keys; /* per thread */
	unsigned int permille; /* failure probability */
	bool verbose;
};

static struct fs_opts O;

/* ---------------------------------------------------------------------- */
/* Statistics and violations                                              */

static unsigned long violations;

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
	unsigned long n = __atomic_add_fetch(&violations, 1, __ATOMIC_RELAXED);
	va_list ap;

	if (n > 20)
		return;
	va_start(ap, fmt);
	flockfile(stdout);
	printf("faultstress: VIOLATION: ");
	vprintf(fmt, ap);
	printf("\n");
	funlockfile(stdout);
	va_end(ap);
	fflush(stdout);
}

/* ---------------------------------------------------------------------- */
/* The fault-injecting allocator                                          */

#define HDR 16
#define BLOCK_MAGIC 0x6661756c74626c6bull

struct worker;
static __thread struct worker *tls_w; /* set on worker threads */

static struct {
	unsigned long calls[GCMAP_NR_SITES]; /* on worker threads; atomic */
	unsigned long failed[GCMAP_NR_SITES]; /* atomic */
	unsigned long nallocs, nfrees, bad_frees; /* atomic */
	size_t bytes_alloc, bytes_freed; /* atomic */
} FA;

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64* */
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

struct box;

struct worker {
	unsigned int id;
	pthread_t tid;
	uint64_t rng; /* the workload's choices */
	uint64_t frng; /* the allocator's failures */
	bool inject;
	unsigned long injected; /* failures injected into this thread's calls */
	uint64_t base; /* first key */
	void **model[2]; /* [kind][i]: acknowledged value, NULL: absent */
	unsigned char *seen; /* iteration: times each own key was returned */
	struct obj *roots[MAX_ROOTS];
	unsigned int nr_roots;
	unsigned long gen;
	/* statistics */
	unsigned long ops, enomem, absorbed, cross_reads, walks, walk_entries;
	unsigned long churn_maps, cycles, fin_runs, defer_fallbacks;
	struct box *pending[PENDING_MAX]; /* removed boxes gcmap_defer_free() refused */
	unsigned int nr_pending;
};

static void *fa_alloc(size_t size, bool zero)
{
	struct worker *w = tls_w;
	enum gcmap__site site = gcmap__alloc_site();
	unsigned char *p;

	if (w && w->inject) {
		if ((unsigned int)site < GCMAP_NR_SITES)
			__atomic_add_fetch(&FA.calls[site], 1, __ATOMIC_RELAXED);
		if (rng_below(&w->frng, 1000) < O.permille) {
			w->injected++;
			if ((unsigned int)site < GCMAP_NR_SITES)
				__atomic_add_fetch(&FA.failed[site], 1, __ATOMIC_RELAXED);
			return NULL;
		}
	}
	p = zero ? calloc(1, size + HDR) : malloc(size + HDR);
	if (!p)
		return NULL;
	((size_t *)(void *)p)[0] = size;
	((uint64_t *)(void *)p)[1] = BLOCK_MAGIC;
	__atomic_add_fetch(&FA.nallocs, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&FA.bytes_alloc, size, __ATOMIC_RELAXED);
	if (!zero)
		memset(p + HDR, 0xa5, size);
	return p + HDR;
}

static void *fa_malloc(size_t size, void *ctx)
{
	(void)ctx;
	return fa_alloc(size, false);
}

static void *fa_zalloc(size_t size, void *ctx)
{
	(void)ctx;
	return fa_alloc(size, true);
}

static void fa_free(void *ptr, size_t size, void *ctx)
{
	unsigned char *p;

	(void)ctx;
	if (!ptr)
		return;
	p = (unsigned char *)ptr - HDR;
	if (((size_t *)(void *)p)[0] != size || ((uint64_t *)(void *)p)[1] != BLOCK_MAGIC) {
		__atomic_add_fetch(&FA.bad_frees, 1, __ATOMIC_RELAXED);
		return;
	}
	((uint64_t *)(void *)p)[1] = 0;
	memset(p + HDR, 0x5a, size);
	__atomic_add_fetch(&FA.nfrees, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&FA.bytes_freed, size, __ATOMIC_RELAXED);
	free(p);
}

static const struct gcmap_allocator hooks = {
	.malloc = fa_malloc,
	.zalloc = fa_zalloc,
	.free = fa_free,
	.ctx = NULL,
};

/* ---------------------------------------------------------------------- */
/* Keys, values, objects                                                  */

static struct gcmap *maps[2]; /* [GCMAP_KEY_U64], [GCMAP_KEY_BYTES] */
static struct gcmap_gc *gc;
static const char *const kind_name[2] = { "u64", "bytes" };

/* Byte-string key number @idx: "key\0", 8 little-endian bytes, idx % 13
 * pattern bytes (as tests/test_util.h). */
static size_t key_bytes(uint64_t idx, unsigned char *buf)
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

static bool key_of_bytes(const void *key, size_t len, uint64_t *idx)
{
	unsigned char b[KEY_BUF];
	const unsigned char *k = key;
	uint64_t x = 0;

	if (len < 12)
		return false;
	for (int i = 0; i < 8; i++)
		x |= (uint64_t)k[4 + i] << (8 * i);
	if (key_bytes(x, b) != len || memcmp(b, key, len) != 0)
		return false;
	*idx = x;
	return true;
}

static int k_op_get(int kind, uint64_t idx, void **v)
{
	unsigned char b[KEY_BUF];

	if (kind == GCMAP_KEY_U64)
		return gcmap_get_u64(maps[0], idx, v);
	return gcmap_get_bytes(maps[1], b, key_bytes(idx, b), v);
}

enum op { OP_PUT, OP_INSERT, OP_REPLACE, OP_CAS, OP_DELETE };
static const char *const op_name[] = { "put", "insert", "replace", "cas", "delete" };

static int k_op(struct gcmap *m, int kind, enum op op, uint64_t idx, void *val, void *exp,
		void **out)
{
	unsigned char b[KEY_BUF];
	size_t n = kind == GCMAP_KEY_BYTES ? key_bytes(idx, b) : 0;

	switch (op) {
	case OP_PUT:
		return kind ? gcmap_put_bytes(m, b, n, val, out) : gcmap_put_u64(m, idx, val, out);
	case OP_INSERT:
		return kind ? gcmap_insert_bytes(m, b, n, val, out) :
			      gcmap_insert_u64(m, idx, val, out);
	case OP_REPLACE:
		return kind ? gcmap_replace_bytes(m, b, n, val, out) :
			      gcmap_replace_u64(m, idx, val, out);
	case OP_CAS:
		return kind ? gcmap_cas_bytes(m, b, n, exp, val, out) :
			      gcmap_cas_u64(m, idx, exp, val, out);
	case OP_DELETE:
		return kind ? gcmap_delete_bytes(m, b, n, out) : gcmap_delete_u64(m, idx, out);
	}
	return -EINVAL;
}

/* u64 map: odd values encode their key; even ones are objects. */
static void *enc_val(struct worker *w, uint64_t key)
{
	return (void *)(uintptr_t)((key << 24) | ((++w->gen & 0x7fffff) << 1) | 1);
}

static bool is_obj(const void *v)
{
	return ((uintptr_t)v & 1) == 0;
}

#define OBJ_MAGIC 0x6f626a656374ull
#define BOX_MAGIC 0x626f78626f78ull

struct obj {
	uint64_t magic;
	uint64_t key;
	int in_map; /* stored in the map (atomic) */
	int rooted; /* a root (atomic) */
	int finalized; /* atomic */
};

struct box {
	uint64_t magic;
	uint64_t key;
};

static unsigned long objs_alloc, objs_registered, objs_finalized, objs_freed; /* atomic */
static unsigned long boxes_alloc, boxes_freed; /* atomic */

static void obj_fin(void *p, void *arg)
{
	struct obj *o = p;
	int err;

	if (o->magic != OBJ_MAGIC) {
		violation("finalizer called for a bad object %p", p);
		return;
	}
	if (__atomic_load_n(&o->in_map, __ATOMIC_ACQUIRE))
		violation("object of key %" PRIu64 " finalized while in the map", o->key);
	if (__atomic_load_n(&o->rooted, __ATOMIC_ACQUIRE))
		violation("object of key %" PRIu64 " finalized while rooted", o->key);
	if (__atomic_exchange_n(&o->finalized, 1, __ATOMIC_ACQ_REL))
		violation("object of key %" PRIu64 " finalized twice", o->key);
	__atomic_add_fetch(&objs_finalized, 1, __ATOMIC_RELAXED);
	err = gcmap_gc_unregister(arg, o);
	if (err)
		violation("gcmap_gc_unregister in a finalizer: %s", gcmap_strerror(err));
	o->magic = 0;
	free(o);
	__atomic_add_fetch(&objs_freed, 1, __ATOMIC_RELAXED);
}

static void box_free(void *p)
{
	struct box *b = p;

	b->magic = 0;
	free(b);
	__atomic_add_fetch(&boxes_freed, 1, __ATOMIC_RELAXED);
}

static struct box *box_new(uint64_t key)
{
	struct box *b = malloc(sizeof(*b));

	if (!b)
		abort();
	b->magic = BOX_MAGIC;
	b->key = key;
	__atomic_add_fetch(&boxes_alloc, 1, __ATOMIC_RELAXED);
	return b;
}

/* Free the boxes gcmap_defer_free() could not take, after one grace period
 * (outside any read-side section). */
static void flush_pending(struct worker *w)
{
	if (!w->nr_pending)
		return;
	gcmap_synchronize();
	for (unsigned int i = 0; i < w->nr_pending; i++)
		box_free(w->pending[i]);
	w->nr_pending = 0;
}

/* Release a removed box after a grace period: gcmap_defer_free(), or, when
 * that fails, keep it and free a batch after gcmap_synchronize(). */
static void box_release(struct worker *w, struct box *b)
{
	unsigned long inj = w ? w->injected : 0;
	int err = gcmap_defer_free(b, box_free);

	if (err == -ENOMEM) {
		if (!w || w->injected == inj)
			violation("gcmap_defer_free: -ENOMEM without an injected failure");
		if (!w) {
			gcmap_synchronize();
			box_free(b);
			return;
		}
		w->defer_fallbacks++;
		if (w->nr_pending == PENDING_MAX)
			flush_pending(w);
		w->pending[w->nr_pending++] = b;
	} else if (err) {
		violation("gcmap_defer_free: %s", gcmap_strerror(err));
	}
}

/*
 * A value removed from a map of @kind, inside the read-side section of the
 * removal: an object leaves the map now (a cycle that could find it
 * unreachable begins after this section); a box is returned, to be released
 * with box_release() after the section (its fallback waits for a grace
 * period).
 */
static void *removed(int kind, void *v)
{
	if (!v)
		return NULL;
	if (kind == GCMAP_KEY_BYTES)
		return v;
	if (is_obj(v))
		__atomic_store_n(&((struct obj *)v)->in_map, 0, __ATOMIC_RELEASE);
	return NULL;
}

/* Whether @v can be @key's value in a map of @kind (read-side section). */
static bool names_key(int kind, const void *v, uint64_t key)
{
	if (!v)
		return false;
	if (kind == GCMAP_KEY_BYTES) {
		const struct box *b = v;

		return b->magic == BOX_MAGIC && b->key == key;
	}
	if (is_obj(v)) {
		const struct obj *o = v;

		return o->magic == OBJ_MAGIC && o->key == key &&
		       !__atomic_load_n(&o->finalized, __ATOMIC_ACQUIRE);
	}
	return ((uintptr_t)v >> 24) == key;
}

/* ---------------------------------------------------------------------- */
/* Checked operations on the worker's own keys                           */

static void check_key(struct worker *w, int kind, uint64_t i, const char *after)
{
	void *v = NULL;
	int rc = k_op_get(kind, w->base + i, &v);
	void *want = w->model[kind][i];

	if (want ? (rc != 0 || v != want) : rc != -ENOENT)
		violation("worker %u, %s key %" PRIu64 " after %s: get = %d (%p), acknowledged "
			  "%p",
			  w->id, kind_name[kind], w->base + i, after, rc, v, want);
}

static void check_all_keys(struct worker *w, const char *when)
{
	for (int kind = 0; kind < 2; kind++)
		for (uint64_t i = 0; i < O.keys; i++)
			check_key(w, kind, i, when);
}

/* An -ENOMEM result: allowed for @op, with a failure injected into the call;
 * the key must be as before. Returns true if the result was -ENOMEM. */
static bool enomem(struct worker *w, int rc, unsigned long inj, int kind, const char *op,
		   uint64_t i, bool allowed)
{
	if (rc != -ENOMEM) {
		if (w->injected != inj)
			w->absorbed++; /* a failure inside a call that still succeeded */
		return false;
	}
	w->enomem++;
	if (!allowed)
		violation("worker %u: %s %s(%" PRIu64 ") returned -ENOMEM", w->id, kind_name[kind],
			  op, w->base + i);
	else if (w->injected == inj)
		violation("worker %u: %s %s(%" PRIu64 ") returned -ENOMEM, nothing failed", w->id,
			  kind_name[kind], op, w->base + i);
	check_key(w, kind, i, op);
	return true;
}

/* A new value for key @i of @kind: a box, an object (registered inside the
 * caller's read-side section), or an encoded number. NULL: the
 * registration failed. */
static void *new_value(struct worker *w, int kind, uint64_t i)
{
	uint64_t key = w->base + i;
	struct obj *o;
	unsigned long inj = w->injected;
	int err;

	if (kind == GCMAP_KEY_BYTES)
		return box_new(key);
	if (rng_below(&w->rng, 4))
		return enc_val(w, key);
	o = calloc(1, sizeof(*o));
	if (!o)
		abort();
	o->magic = OBJ_MAGIC;
	o->key = key;
	o->in_map = 1; /* from the store on; cleared in this section if it fails */
	__atomic_add_fetch(&objs_alloc, 1, __ATOMIC_RELAXED);
	err = gcmap_gc_register(gc, o, obj_fin, NULL, gc);
	if (err) {
		if (err != -ENOMEM || w->injected == inj)
			violation("worker %u: gcmap_gc_register: %s", w->id, gcmap_strerror(err));
		w->enomem++;
		free(o);
		__atomic_add_fetch(&objs_freed, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	__atomic_add_fetch(&objs_registered, 1, __ATOMIC_RELAXED);
	return o;
}

/* A value not stored after all (the operation failed or found the key). */
static void unused(int kind, void *v)
{
	if (kind == GCMAP_KEY_BYTES) {
		free(v);
		__atomic_add_fetch(&boxes_freed, 1, __ATOMIC_RELAXED);
	} else if (is_obj(v)) {
		/* Registered and unreachable: a later cycle finalizes it. */
		__atomic_store_n(&((struct obj *)v)->in_map, 0, __ATOMIC_RELEASE);
	}
}

/*
 * Waves, shared by all workers so that the tables really grow and shrink:
 * fill until the maps hold 90% of all keys, then drain down to 5%. Relaxed
 * atomics: statistics that add no happens-before edge for TSan.
 */
static long live_entries;
static int draining;
static unsigned long nr_waves;

static void count_entry(bool was, bool now)
{
	long total = 2L * O.threads * O.keys;
	long n;

	if (was == now)
		return;
	n = __atomic_add_fetch(&live_entries, now ? 1 : -1, __ATOMIC_RELAXED);
	if (now && n >= total * 9 / 10 && !__atomic_load_n(&draining, __ATOMIC_RELAXED)) {
		int f = 0;

		if (__atomic_compare_exchange_n(&draining, &f, 1, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			__atomic_add_fetch(&nr_waves, 1, __ATOMIC_RELAXED);
	} else if (!now && n <= total / 20 && __atomic_load_n(&draining, __ATOMIC_RELAXED)) {
		__atomic_store_n(&draining, 0, __ATOMIC_RELAXED);
	}
}

static void key_op(struct worker *w, int kind, uint64_t i)
{
	bool filling = !__atomic_load_n(&draining, __ATOMIC_RELAXED);
	void **model = &w->model[kind][i];
	bool present = *model != NULL;
	unsigned int r = (unsigned int)rng_below(&w->rng, 100);
	enum op op;
	void *val = NULL, *exp = NULL, *out = NULL, *release = NULL;
	unsigned long inj;
	int rc;

	if (r < 10) {
		check_key(w, kind, i, "get");
		return;
	}
	/* Filling: absent keys are mostly added; draining: present ones are
	 * mostly deleted. */
	r = (unsigned int)rng_below(&w->rng, 100);
	if (!present)
		op = (filling ? r < 90 : r < 5) ? (r & 1 ? OP_PUT : OP_INSERT) :
						  (r % 3 == 0 ? OP_REPLACE :
						   r % 3 == 1 ? OP_CAS :
								OP_DELETE);
	else if (filling ? r < 10 : r < 90)
		op = OP_DELETE;
	else
		op = r % 4 == 0 ? OP_PUT :
		     r % 4 == 1 ? OP_INSERT :
		     r % 4 == 2 ? OP_REPLACE :
				  OP_CAS;

	gcmap_read_lock();
	if (op != OP_DELETE) {
		val = new_value(w, kind, i);
		if (!val) {
			gcmap_read_unlock();
			return;
		}
	}
	if (op == OP_CAS)
		exp = rng_below(&w->rng, 4) ? *model : (void *)(uintptr_t)3;
	out = (void *)(uintptr_t)0x5e5e5e5e5e5e5e5eull;
	inj = w->injected;
	rc = k_op(maps[kind], kind, op, w->base + i, val, exp, &out);
	w->ops++;
	if (rc == -ENOMEM) {
		if (val)
			unused(kind, val);
		gcmap_read_unlock();
		enomem(w, rc, inj, kind, op_name[op], i, op == OP_PUT || op == OP_INSERT);
		return;
	}
	if (w->injected != inj)
		w->absorbed++;
	switch (op) {
	case OP_PUT:
		if (rc != (present ? 0 : 1) || out != *model)
			violation("worker %u: %s put(%" PRIu64 ") = %d, old %p, acknowledged %p",
				  w->id, kind_name[kind], w->base + i, rc, out, *model);
		if (rc >= 0) {
			release = removed(kind, out);
			*model = val;
		}
		break;
	case OP_INSERT:
		if (present ? (rc != -EEXIST || out != *model) : rc != 0)
			violation("worker %u: %s insert(%" PRIu64 ") = %d, cur %p, acknowledged %p",
				  w->id, kind_name[kind], w->base + i, rc, out, *model);
		if (rc == 0)
			*model = val;
		else
			unused(kind, val);
		break;
	case OP_REPLACE:
		if (present ? (rc != 0 || out != *model) : rc != -ENOENT)
			violation("worker %u: %s replace(%" PRIu64
				  ") = %d, old %p, acknowledged %p",
				  w->id, kind_name[kind], w->base + i, rc, out, *model);
		if (rc == 0) {
			release = removed(kind, out);
			*model = val;
		} else {
			unused(kind, val);
		}
		break;
	case OP_CAS:
		if (!present	  ? rc != -ENOENT :
		    exp == *model ? (rc != 0 || out != *model) :
				    (rc != -ECANCELED || out != *model))
			violation("worker %u: %s cas(%" PRIu64 ") = %d, cur %p, acknowledged %p",
				  w->id, kind_name[kind], w->base + i, rc, out, *model);
		if (rc == 0) {
			release = removed(kind, out);
			*model = val;
		} else {
			unused(kind, val);
		}
		break;
	case OP_DELETE:
		if (present ? (rc != 0 || out != *model) : rc != -ENOENT)
			violation("worker %u: %s delete(%" PRIu64 ") = %d, old %p, acknowledged %p",
				  w->id, kind_name[kind], w->base + i, rc, out, *model);
		if (rc == 0) {
			release = removed(kind, out);
			*model = NULL;
		}
		break;
	}
	count_entry(present, *model != NULL);
	gcmap_read_unlock();
	if (release)
		box_release(w, release);
}

/* A read of another worker's key: the value names the key. */
static void cross_read(struct worker *w)
{
	int kind = (int)rng_below(&w->rng, 2);
	uint64_t key = rng_below(&w->rng, (uint64_t)O.threads * O.keys);
	void *v = NULL;
	int rc;

	gcmap_read_lock();
	rc = k_op_get(kind, key, &v);
	if (rc == 0 && !names_key(kind, v, key))
		violation("worker %u: %s get(%" PRIu64 ") returned %p, not a value of that key",
			  w->id, kind_name[kind], key, v);
	else if (rc != 0 && rc != -ENOENT)
		violation("worker %u: %s get(%" PRIu64 ") = %s", w->id, kind_name[kind], key,
			  gcmap_strerror(rc));
	gcmap_read_unlock();
	w->cross_reads++;
}

/*
 * Walk one map inside a read-side section (values stay valid): every value
 * names its key, and the worker's own present keys appear exactly once
 * with their values.
 */
static void walk(struct worker *w)
{
	int kind = (int)rng_below(&w->rng, 2);
	struct gcmap_iter *it;
	struct gcmap_entry e;
	unsigned long inj = w->injected;
	int rc, retries = 0;

	rc = gcmap_iter_begin(maps[kind], &it);
	if (rc) {
		if (rc != -ENOMEM || w->injected == inj)
			violation("worker %u: %s iter_begin = %s", w->id, kind_name[kind],
				  gcmap_strerror(rc));
		w->enomem++;
		return;
	}
	memset(w->seen, 0, O.keys);
	gcmap_read_lock();
	for (;;) {
		uint64_t key;

		inj = w->injected;
		rc = gcmap_iter_next(it, &e);
		if (rc == -ENOMEM) {
			if (w->injected == inj)
				violation("worker %u: iter_next: -ENOMEM, nothing failed", w->id);
			w->enomem++;
			if (++retries > 10000) {
				violation("worker %u: iter_next: -ENOMEM 10000 times", w->id);
				break;
			}
			continue;
		}
		if (rc != 1)
			break;
		w->walk_entries++;
		if (kind == GCMAP_KEY_U64) {
			key = e.key;
		} else if (!key_of_bytes(e.key_bytes, e.key_len, &key)) {
			violation("worker %u: iteration returned a key never inserted", w->id);
			continue;
		}
		if (key >= (uint64_t)O.threads * O.keys || !names_key(kind, e.value, key)) {
			violation("worker %u: %s iteration: key %" PRIu64 " with value %p", w->id,
				  kind_name[kind], key, e.value);
			continue;
		}
		if (key >= w->base && key < w->base + O.keys) {
			uint64_t i = key - w->base;

			if (e.value != w->model[kind][i])
				violation("worker %u: %s iteration: own key %" PRIu64
					  " with %p, acknowledged %p",
					  w->id, kind_name[kind], key, e.value, w->model[kind][i]);
			if (w->seen[i]++)
				violation("worker %u: %s iteration: key %" PRIu64 " returned twice",
					  w->id, kind_name[kind], key);
		}
	}
	gcmap_read_unlock();
	if (rc < 0 && rc != -ENOMEM)
		violation("worker %u: iter_next = %s", w->id, gcmap_strerror(rc));
	if (rc == 0)
		for (uint64_t i = 0; i < O.keys; i++)
			if (w->model[kind][i] && !w->seen[i])
				violation("worker %u: %s iteration missed own key %" PRIu64, w->id,
					  kind_name[kind], w->base + i);
	gcmap_iter_end(it);
	w->walks++;
}

/* Drive a cycle (or help finish one a failure interrupted), then run the
 * finalizers that are ready. */
static void collect(struct worker *w)
{
	unsigned long inj = w->injected;
	int rc = gcmap_gc_collect(gc);

	if (rc == -EBUSY)
		rc = gcmap_gc_finish(gc);
	if (rc == -ENOMEM) {
		if (w->injected == inj)
			violation("worker %u: gc cycle: -ENOMEM, nothing failed", w->id);
		w->enomem++;
	} else if (rc < 0 && rc != -EINVAL) {
		violation("worker %u: gc cycle: %s", w->id, gcmap_strerror(rc));
	} else {
		w->cycles++;
	}
	rc = gcmap_gc_run_finalizers(gc, 0);
	if (rc < 0)
		violation("worker %u: gcmap_gc_run_finalizers: %s", w->id, gcmap_strerror(rc));
	else
		w->fin_runs += (unsigned long)rc;
}

/* Add or drop a rooted object (not in any map). */
static void root_churn(struct worker *w)
{
	struct obj *o;
	int err;

	if (w->nr_roots == MAX_ROOTS || (w->nr_roots && rng_below(&w->rng, 2))) {
		o = w->roots[--w->nr_roots];
		__atomic_store_n(&o->rooted, 0, __ATOMIC_RELEASE);
		err = gcmap_gc_root_remove(gc, o);
		if (err)
			violation("worker %u: gcmap_gc_root_remove: %s", w->id,
				  gcmap_strerror(err));
		return;
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		abort();
	o->magic = OBJ_MAGIC;
	o->key = UINT64_MAX;
	o->rooted = 1;
	__atomic_add_fetch(&objs_alloc, 1, __ATOMIC_RELAXED);
	gcmap_read_lock();
	err = gcmap_gc_register(gc, o, obj_fin, NULL, gc);
	if (!err)
		err = gcmap_gc_root_add(gc, o);
	gcmap_read_unlock();
	if (err == -ENOMEM) {
		w->enomem++;
		free(o);
		__atomic_add_fetch(&objs_freed, 1, __ATOMIC_RELAXED);
		return;
	}
	if (err) {
		violation("worker %u: register + root_add: %s", w->id, gcmap_strerror(err));
		return;
	}
	__atomic_add_fetch(&objs_registered, 1, __ATOMIC_RELAXED);
	w->roots[w->nr_roots++] = o;
}

/*
 * A private map created, filled past growth, cleared and destroyed under
 * failures, with gcmap__check_invariants() after every failure; and a
 * collector domain created and destroyed.
 */
static void churn(struct worker *w)
{
	struct gcmap_options o = { .size = sizeof(o) };
	void *model[64] = { 0 };
	int kind = (int)rng_below(&w->rng, 2);
	unsigned long inj = w->injected;
	struct gcmap *m;
	struct gcmap_gc *g;
	int rc;

	o.key_kind = (enum gcmap_key_kind)kind;
	o.log2_buckets = 1;
	o.allocator = &hooks;
	rc = gcmap_create(&o, &m);
	if (rc) {
		if (rc != -ENOMEM || w->injected == inj)
			violation("worker %u: gcmap_create = %s", w->id, gcmap_strerror(rc));
		w->enomem++;
		return;
	}
	for (uint64_t i = 0; i < 64; i++) {
		void *v = (void *)(uintptr_t)(i * 2 + 1);

		inj = w->injected;
		rc = k_op(m, kind, OP_PUT, i, v, NULL, NULL);
		if (rc == -ENOMEM) {
			if (w->injected == inj)
				violation("worker %u: private put: -ENOMEM, nothing failed", w->id);
			w->enomem++;
			if (gcmap__check_invariants(m))
				violation("worker %u: private map: invariants after a failed put",
					  w->id);
			continue;
		}
		if (rc != 1)
			violation("worker %u: private put = %d", w->id, rc);
		model[i] = v;
	}
	inj = w->injected;
	rc = gcmap_clear(m);
	if (rc == -ENOMEM) {
		if (w->injected == inj)
			violation("worker %u: clear: -ENOMEM, nothing failed", w->id);
		w->enomem++;
	} else if (rc) {
		violation("worker %u: clear = %s", w->id, gcmap_strerror(rc));
	} else {
		memset(model, 0, sizeof(model));
	}
	if (gcmap__check_invariants(m))
		violation("worker %u: private map: invariants after clear", w->id);
	for (uint64_t i = 0; i < 64; i++) {
		unsigned char b[KEY_BUF];
		void *v = NULL;
		int g_rc =
			kind ? gcmap_get_bytes(m, b, key_bytes(i, b), &v) : gcmap_get_u64(m, i, &v);

		if (model[i] ? (g_rc != 0 || v != model[i]) : g_rc != -ENOENT)
			violation("worker %u: private map key %" PRIu64 ": get = %d", w->id, i,
				  g_rc);
	}
	rc = gcmap_destroy(m);
	if (rc)
		violation("worker %u: gcmap_destroy = %s", w->id, gcmap_strerror(rc));
	w->churn_maps++;

	if (rng_below(&w->rng, 8))
		return; /* a domain's destroy waits for callbacks: not every time */
	inj = w->injected;
	rc = gcmap_gc_create(NULL, &g);
	if (rc) {
		if (rc != -ENOMEM || w->injected == inj)
			violation("worker %u: gcmap_gc_create = %s", w->id, gcmap_strerror(rc));
		w->enomem++;
		return;
	}
	rc = gcmap_gc_destroy(g);
	if (rc)
		violation("worker %u: gcmap_gc_destroy = %s", w->id, gcmap_strerror(rc));
}

/* ---------------------------------------------------------------------- */
/* Workers and epochs                                                     */

static struct worker W[MAX_THREADS];
static int stop; /* atomic */
static unsigned int pause_req; /* epoch number the main thread asks to park for; atomic */
static pthread_barrier_t park;

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int parked = 0;
	int err;

	tls_w = w;
	err = gcmap_thread_register();
	if (err) {
		fprintf(stderr, "faultstress: gcmap_thread_register: %s\n", gcmap_strerror(err));
		exit(2);
	}
	w->inject = true;
	for (uint64_t n = 0;; n++) {
		unsigned int r;

		if (__atomic_load_n(&pause_req, __ATOMIC_ACQUIRE) != parked) {
			parked++;
			w->inject = false;
			flush_pending(w);
			pthread_barrier_wait(&park); /* the main thread checks */
			pthread_barrier_wait(&park);
			check_all_keys(w, "epoch");
			w->inject = true;
		}
		if (__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
			break;
		r = (unsigned int)rng_below(&w->rng, 1000);
		if (r < 20)
			cross_read(w);
		else if (r < 22)
			walk(w);
		else if (r < 24)
			root_churn(w);
		else if (r == 24)
			churn(w);
		else if (r == 25 && rng_below(&w->rng, 4) == 0)
			collect(w);
		else
			key_op(w, (int)rng_below(&w->rng, 2), rng_below(&w->rng, O.keys));
		if (n % 4096 == 4095)
			check_all_keys(w, "periodic check");
	}
	w->inject = false;
	flush_pending(w);
	check_all_keys(w, "the end");
	/* Drop the roots (the main thread collects at the end). */
	while (w->nr_roots) {
		struct obj *o = w->roots[--w->nr_roots];

		__atomic_store_n(&o->rooted, 0, __ATOMIC_RELEASE);
		err = gcmap_gc_root_remove(gc, o);
		if (err)
			violation("worker %u: gcmap_gc_root_remove: %s", w->id,
				  gcmap_strerror(err));
	}
	gcmap_thread_unregister();
	tls_w = NULL;
	return NULL;
}

static void check_invariants(const char *when)
{
	for (int kind = 0; kind < 2; kind++)
		if (gcmap__check_invariants(maps[kind]))
			violation("%s map: invariants broken (%s)", kind_name[kind], when);
	if (gcmap__check_invariants(gc->registry))
		violation("collector registry: invariants broken (%s)", when);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A hang (say, a marker looping on a corrupted grey list) fails the run
 * instead of stopping make check: a watchdog thread exits 1 after 4x the
 * run length + 120 s. A thread, not SIGALRM: under TSan a signal waits for
 * the target thread to reach an interceptor, which a spinning or blocked
 * thread never does.
 */
static char hang_msg[160];

static void *watchdog(void *arg)
{
	double deadline = *(double *)arg;

	while (now_s() < deadline) {
		struct timespec ts = { 1, 0 };

		nanosleep(&ts, NULL);
	}
	if (write(1, hang_msg, strlen(hang_msg)) < 0) {
		/* exiting anyway */
	}
	_exit(1);
	return NULL;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "faultstress: %s: %s\n", what, gcmap_strerror(err));
	exit(2);
}

/* Delete every key, then collect until every object was finalized. */
static void drain_all(void)
{
	int err;

	for (unsigned int t = 0; t < O.threads; t++) {
		struct worker *w = &W[t];

		for (int kind = 0; kind < 2; kind++) {
			for (uint64_t i = 0; i < O.keys; i++) {
				void *old = NULL, *rel = NULL;

				if (!w->model[kind][i])
					continue;
				gcmap_read_lock();
				err = k_op(maps[kind], kind, OP_DELETE, w->base + i, NULL, NULL,
					   &old);
				if (err || old != w->model[kind][i])
					violation("final delete of %s key %" PRIu64 ": %d",
						  kind_name[kind], w->base + i, err);
				else
					rel = removed(kind, old);
				gcmap_read_unlock();
				if (rel)
					box_release(NULL, rel);
				w->model[kind][i] = NULL;
			}
		}
	}
	for (int round = 0; round < 50; round++) {
		if (__atomic_load_n(&objs_finalized, __ATOMIC_RELAXED) ==
		    __atomic_load_n(&objs_registered, __ATOMIC_RELAXED))
			break;
		err = gcmap_gc_collect(gc);
		if (err == -EBUSY)
			err = gcmap_gc_finish(gc);
		if (err < 0 && err != -EINVAL)
			violation("final cycle: %s", gcmap_strerror(err));
		err = gcmap_gc_run_finalizers(gc, 0);
		if (err < 0)
			violation("final finalizers: %s", gcmap_strerror(err));
	}
	if (objs_finalized != objs_registered)
		violation("%lu objects registered, %lu finalized after the final cycles",
			  objs_registered, objs_finalized);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: faultstress [options]\n"
		"  -s SEED        seed (default: from the clock)\n"
		"  -d SECONDS     length of the run (default 30)\n"
		"  -t THREADS     worker threads (default 4, at most %d)\n"
		"  -k KEYS        keys per worker in each map (default 1024)\n"
		"  -p PERMILLE    failure probability of a worker's allocation (default 20)\n"
		"  -v             print every epoch\n"
		"  --build-info   print the sanitizer this was built with (tsan, asan, none)\n",
		MAX_THREADS);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "build-info", no_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool seeded = false;
	int c;

	O.secs = 30;
	O.threads = 4;
	O.keys = 1024;
	O.permille = 20;
	while ((c = getopt_long(argc, argv, "s:d:t:k:p:vh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			O.seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'd':
			O.secs = strtod(optarg, NULL);
			break;
		case 't':
			O.threads = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'k':
			O.keys = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'p':
			O.permille = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'v':
			O.verbose = true;
			break;
		case 'B':
			printf("%s\n", FS_TSAN ? "tsan" : FS_ASAN ? "asan" : "none");
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc || O.secs <= 0 || O.threads < 1 || O.threads > MAX_THREADS ||
	    O.keys < 16 || O.keys > (1u << 20) || O.permille > 500) {
		usage(stderr);
		exit(2);
	}
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		O.seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
			 ((uint64_t)getpid() << 32);
	}
}

int main(int argc, char **argv)
{
	struct gcmap_options mo = { .size = sizeof(mo) };
	struct gcmap_stats st[2];
	struct gcmap_gc_stats gs;
	unsigned long tot_ops = 0, tot_enomem = 0, tot_absorbed = 0, tot_cross = 0, tot_walks = 0,
		      tot_entries = 0, tot_churn = 0, tot_cycles = 0, tot_fin = 0, tot_defer = 0,
		      injected = 0, epochs = 0, sites_unfailed = 0;
	double t0, t_end;
	static double deadline;
	pthread_t wd;
	int err;

	parse(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("faultstress: seed %" PRIu64 ", %.1f s, %u threads x %u keys per map, "
	       "allocations fail with p = %u/1000%s\n",
	       O.seed, O.secs, O.threads, O.keys, O.permille,
	       FS_TSAN ? ", TSan build" :
	       FS_ASAN ? ", ASan build" :
			 "");
	snprintf(hang_msg, sizeof(hang_msg),
		 "faultstress: FAILED: still running after %u s: a hang (seed %" PRIu64 ")\n",
		 (unsigned int)(O.secs * 4 + 120), O.seed);
	deadline = now_s() + O.secs * 4 + 120;
	if ((err = pthread_create(&wd, NULL, watchdog, &deadline)) || (err = pthread_detach(wd)))
		die("pthread_create", -err);
	gcmap__set_default_allocator(&hooks);
	if ((err = gcmap_thread_register()))
		die("gcmap_thread_register", err);
	mo.allocator = &hooks;
	for (int kind = 0; kind < 2; kind++) {
		mo.key_kind = (enum gcmap_key_kind)kind;
		if ((err = gcmap_create(&mo, &maps[kind])))
			die("gcmap_create", err);
	}
	if ((err = gcmap_gc_create(NULL, &gc)))
		die("gcmap_gc_create", err);
	if ((err = gcmap_gc_attach(gc, maps[GCMAP_KEY_U64])))
		die("gcmap_gc_attach", err);
	if ((err = pthread_barrier_init(&park, NULL, O.threads + 1)))
		die("pthread_barrier_init", -err);
	for (unsigned int t = 0; t < O.threads; t++) {
		struct worker *w = &W[t];

		w->id = t;
		w->rng = O.seed * 0x9e3779b97f4a7c15ull + 2 * t + 1;
		w->frng = (O.seed ^ 0x5bd1e9955bd1e995ull) * 0xff51afd7ed558ccdull + 2 * t + 1;
		if (!w->rng)
			w->rng = 1;
		if (!w->frng)
			w->frng = 1;
		w->base = (uint64_t)t * O.keys;
		w->model[0] = calloc(O.keys, sizeof(void *));
		w->model[1] = calloc(O.keys, sizeof(void *));
		w->seen = calloc(O.keys, 1);
		if (!w->model[0] || !w->model[1] || !w->seen)
			die("calloc", -ENOMEM);
	}
	t0 = now_s();
	t_end = t0 + O.secs;
	for (unsigned int t = 0; t < O.threads; t++)
		if ((err = pthread_create(&W[t].tid, NULL, worker_main, &W[t])))
			die("pthread_create", -err);
	/* Epochs: park the workers, check the invariants with no writer. */
	while (now_s() < t_end) {
		double left = t_end - now_s();
		struct timespec ts = { 0, 0 };

		if (left > EPOCH_MS / 1000.0)
			left = EPOCH_MS / 1000.0;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
		__atomic_store_n(&pause_req, (unsigned int)++epochs, __ATOMIC_RELEASE);
		if (now_s() >= t_end)
			__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
		pthread_barrier_wait(&park);
		check_invariants("epoch");
		if (O.verbose) {
			unsigned long ops = 0;

			for (unsigned int t = 0; t < O.threads; t++)
				ops += W[t].ops;
			printf("faultstress: epoch %lu: %lu ops, %lu violations", epochs, ops,
			       __atomic_load_n(&violations, __ATOMIC_RELAXED));
			for (int kind = 0; kind < 2; kind++) {
				struct gcmap_stats s = { .size = sizeof(s) };

				if (gcmap_stats(maps[kind], &s) == 0)
					printf("; %s: %zu entries, 2^%u buckets, %lu grows, %lu "
					       "shrinks",
					       kind_name[kind], s.entries, s.log2_buckets, s.grows,
					       s.shrinks);
			}
			printf("\n");
		}
		pthread_barrier_wait(&park);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (unsigned int t = 0; t < O.threads; t++)
		pthread_join(W[t].tid, NULL);

	check_invariants("the end");
	for (int kind = 0; kind < 2; kind++) {
		memset(&st[kind], 0, sizeof(st[kind]));
		st[kind].size = sizeof(st[kind]);
		if ((err = gcmap_stats(maps[kind], &st[kind])))
			die("gcmap_stats", err);
	}
	drain_all();
	check_invariants("after draining");
	memset(&gs, 0, sizeof(gs));
	gs.size = sizeof(gs);
	if ((err = gcmap_gc_stats(gc, &gs)))
		die("gcmap_gc_stats", err);
	if ((err = gcmap_gc_destroy(gc)))
		die("gcmap_gc_destroy", err);
	for (int kind = 0; kind < 2; kind++)
		if ((err = gcmap_destroy(maps[kind])))
			die("gcmap_destroy", err);
	if ((err = gcmap_barrier()))
		die("gcmap_barrier", err);
	gcmap__set_default_allocator(NULL);
	gcmap_thread_unregister();

	for (unsigned int t = 0; t < O.threads; t++) {
		struct worker *w = &W[t];

		tot_ops += w->ops;
		tot_enomem += w->enomem;
		tot_absorbed += w->absorbed;
		tot_cross += w->cross_reads;
		tot_walks += w->walks;
		tot_entries += w->walk_entries;
		tot_churn += w->churn_maps;
		tot_cycles += w->cycles;
		tot_fin += w->fin_runs;
		tot_defer += w->defer_fallbacks;
		injected += w->injected;
		free(w->model[0]);
		free(w->model[1]);
		free(w->seen);
	}

	printf("faultstress: sites (calls on workers / failed):");
	for (int s = 0; s < GCMAP_NR_SITES; s++)
		printf(" %s %lu/%lu", gcmap__site_name((enum gcmap__site)s), FA.calls[s],
		       FA.failed[s]);
	printf("\n");
	for (int s = 0; s < GCMAP_NR_SITES; s++)
		if (O.permille && FA.calls[s] && !FA.failed[s]) {
			sites_unfailed++;
			violation("allocation site %s was called %lu times and never failed",
				  gcmap__site_name((enum gcmap__site)s), FA.calls[s]);
		}
	if (FA.bad_frees)
		violation("%lu frees with a wrong size or header", FA.bad_frees);
	if (FA.nallocs != FA.nfrees || FA.bytes_alloc != FA.bytes_freed)
		violation("leak: %lu allocations (%zu bytes), %lu frees (%zu bytes)", FA.nallocs,
			  FA.bytes_alloc, FA.nfrees, FA.bytes_freed);
	if (objs_alloc != objs_freed)
		violation("objects: %lu allocated, %lu freed", objs_alloc, objs_freed);
	if (boxes_alloc != boxes_freed)
		violation("boxes: %lu allocated, %lu freed", boxes_alloc, boxes_freed);
	if (st[0].grows + st[1].grows == 0 || st[0].shrinks + st[1].shrinks == 0)
		violation("the maps did not both grow and shrink (grows %lu, shrinks %lu)",
			  st[0].grows + st[1].grows, st[0].shrinks + st[1].shrinks);
	if (tot_walks == 0 || gs.cycles == 0 || gs.finalized == 0)
		violation("no iteration, cycle or finalizer ran (%lu walks, %lu cycles, %lu "
			  "finalized)",
			  tot_walks, gs.cycles, gs.finalized);

	printf("faultstress: %.1f s, %lu ops (+%lu cross reads, %lu walks of %lu entries, "
	       "%lu private maps, %lu cycles), %lu epochs checked; %lu fill/drain waves, grows "
	       "%lu, shrinks %lu, rebuilds %lu; %lu objects registered, %lu finalized\n",
	       now_s() - t0, tot_ops, tot_cross, tot_walks, tot_entries, tot_churn, tot_cycles,
	       epochs, nr_waves, st[0].grows + st[1].grows, st[0].shrinks + st[1].shrinks,
	       st[0].rebuilds + st[1].rebuilds, objs_registered, objs_finalized);
	printf("faultstress: %lu faults injected, %lu calls returned -ENOMEM, %lu calls "
	       "succeeded despite a failure inside, %lu defer fallbacks; %lu allocations, all "
	       "freed: %s; %lu violations\n",
	       injected, tot_enomem, tot_absorbed, tot_defer, FA.nallocs,
	       FA.nallocs == FA.nfrees && FA.bytes_alloc == FA.bytes_freed ? "yes" : "NO",
	       violations);
	(void)tot_fin;
	if (violations) {
		printf("faultstress: FAILED (seed %" PRIu64 ")\n", O.seed);
		return 1;
	}
	printf("faultstress: passed\n");
	return 0;
}
