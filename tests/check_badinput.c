/*
 * check_badinput.c - every public function of gcmap.h, one test each, given
 * NULL pointers, zero and huge lengths, a thread that never registered, a
 * busy map or domain, the wrong key kind, bad options: the documented code,
 * and no partial state (no allocation; entries, counts, invariants kept).
 */
#include "test_util.h"

#include <limits.h>
#include <stdlib.h>

/*
 * Not tested: a destroyed map or domain. Detecting one would read freed
 * memory (the struct is released by gcmap_destroy() or, after pending
 * callbacks, by the last of them); debug builds catch some cases through
 * the map's magic word, normal builds cannot, and the header asks no code
 * for it. Likewise gcmap_gc_load() returns the loaded pointer and has no
 * error to report, so a NULL @field cannot be rejected.
 */

static void setup_registered(void)
{
	ck_assert_int_eq(gcmap_thread_register(), 0);
}

static void teardown_registered(void)
{
	ck_assert_int_eq(gcmap_barrier(), 0);
	ck_assert_int_eq(gcmap_thread_unregister(), 0);
}

/* ---------------------------------------------------------------------- */
/* No partial state                                                       */

/* Allocation calls through gcmap__alloc() so far, every site. */
static unsigned long allocs_total(void)
{
	unsigned long n = 0;

	for (int s = 0; s < GCMAP_NR_SITES; s++)
		n += __atomic_load_n(&gcmap__site_calls[s], __ATOMIC_RELAXED);
	return n;
}

/* What a rejected call must not change. */
struct snap {
	unsigned long allocs;
	size_t count, entries;
	uint64_t digest;
	size_t iterators;
	struct gcmap_gc *attached;
	size_t gc_registered, gc_roots, gc_maps, gc_pending;
	unsigned long gc_cycles, gc_finalized;
	unsigned int gc_marking;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* Order-independent digest of the (key, value) pairs. */
static int digest_cb(const struct gcmap_entry *e, void *arg)
{
	uint64_t *d = arg;
	uint64_t k = e->key;

	if (e->key_bytes) {
		const unsigned char *p = e->key_bytes;

		k = 0xcbf29ce484222325ull ^ e->key_len;
		for (size_t i = 0; i < e->key_len; i++)
			k = (k ^ p[i]) * 0x100000001b3ull;
	}
	*d += mix64(k ^ mix64(u64_of(e->value)));
	return 0;
}

/* Take a snapshot of @m and @gc (either may be NULL); call registered. */
static void snap_take(struct gcmap *m, struct gcmap_gc *gc, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	if (m) {
		struct gcmap_stats st;
		size_t n = 0;

		CK_OK(gcmap__check_invariants(m));
		CK_OK(gcmap_count(m, &s->count));
		CK_OK(gcmap_foreach(m, digest_cb, &s->digest));
		memset(&st, 0, sizeof(st));
		st.size = sizeof(st);
		CK_OK(gcmap_stats(m, &st));
		s->entries = st.entries;
		s->iterators = st.iterators;
		s->attached = __atomic_load_n(&m->gc, __ATOMIC_ACQUIRE);
		CK_OK(gcmap_count(m, &n));
		ck_assert_uint_eq(n, s->count);
	}
	if (gc) {
		struct gcmap_gc_stats gs;

		CK_OK(gcmap__check_invariants(gc->registry));
		memset(&gs, 0, sizeof(gs));
		gs.size = sizeof(gs);
		CK_OK(gcmap_gc_stats(gc, &gs));
		s->gc_registered = gs.registered;
		s->gc_roots = gs.roots;
		s->gc_maps = gs.maps;
		s->gc_pending = gs.pending;
		s->gc_cycles = gs.cycles;
		s->gc_finalized = gs.finalized;
		s->gc_marking = gs.marking;
	}
	s->allocs = allocs_total(); /* last: the snapshot itself allocates */
}

static void snap_same(const struct snap *b, const struct snap *a, const char *what)
{
	ck_assert_msg(a->count == b->count && a->entries == b->entries && a->digest == b->digest,
		      "%s changed the map: count %zu -> %zu, digest %llx -> %llx", what, b->count,
		      a->count, (unsigned long long)b->digest, (unsigned long long)a->digest);
	ck_assert_msg(a->iterators == b->iterators, "%s: live iterators %zu -> %zu", what,
		      b->iterators, a->iterators);
	ck_assert_msg(a->attached == b->attached, "%s changed the map's domain %p -> %p", what,
		      (void *)b->attached, (void *)a->attached);
	ck_assert_msg(a->gc_registered == b->gc_registered && a->gc_roots == b->gc_roots &&
			      a->gc_maps == b->gc_maps && a->gc_pending == b->gc_pending &&
			      a->gc_cycles == b->gc_cycles && a->gc_finalized == b->gc_finalized &&
			      a->gc_marking == b->gc_marking,
		      "%s changed the domain: registered %zu->%zu roots %zu->%zu maps %zu->%zu "
		      "pending %zu->%zu cycles %lu->%lu finalized %lu->%lu marking %u->%u",
		      what, b->gc_registered, a->gc_registered, b->gc_roots, a->gc_roots,
		      b->gc_maps, a->gc_maps, b->gc_pending, a->gc_pending, b->gc_cycles,
		      a->gc_cycles, b->gc_finalized, a->gc_finalized, b->gc_marking, a->gc_marking);
}

/*
 * Assert that @expr returns one of @want1, @want2 and changed nothing of @m
 * and @gc (either may be NULL) and allocated nothing. Call registered (the
 * snapshots iterate); @expr may run in another thread.
 */
#define CK_REJECT2(m, gc, expr, want1, want2)                                                      \
	do {                                                                                       \
		struct snap b_, a_;                                                                \
		unsigned long al_;                                                                 \
		int r_;                                                                            \
		snap_take((m), (gc), &b_);                                                         \
		r_ = (expr);                                                                       \
		al_ = allocs_total();                                                              \
		ck_assert_msg(r_ == (want1) || r_ == (want2),                                      \
			      "%s returned %d (%s), expected %d (%s)", #expr, r_,                  \
			      gcmap_strerror(r_), (want1), gcmap_strerror(want1));                 \
		ck_assert_msg(al_ == b_.allocs, "%s allocated %lu time(s) though rejected", #expr, \
			      al_ - b_.allocs);                                                    \
		snap_take((m), (gc), &a_);                                                         \
		snap_same(&b_, &a_, #expr);                                                        \
	} while (0)
#define CK_REJECT(m, gc, expr, want) CK_REJECT2(m, gc, expr, want, want)

/* ---------------------------------------------------------------------- */
/* Calls from a thread that never registered                              */

enum fn {
	FN_THREAD_UNREGISTER,
	FN_READ_LOCK,
	FN_READ_UNLOCK,
	FN_SYNCHRONIZE,
	FN_DEFER_FREE,
	FN_BARRIER,
	FN_CREATE,
	FN_DESTROY,
	FN_GET_U64,
	FN_PUT_U64,
	FN_INSERT_U64,
	FN_REPLACE_U64,
	FN_CAS_U64,
	FN_DELETE_U64,
	FN_GET_BYTES,
	FN_PUT_BYTES,
	FN_INSERT_BYTES,
	FN_REPLACE_BYTES,
	FN_CAS_BYTES,
	FN_DELETE_BYTES,
	FN_COUNT,
	FN_CLEAR,
	FN_MAINTAIN,
	FN_ITER_BEGIN,
	FN_ITER_NEXT,
	FN_FOREACH,
	FN_STATS,
	FN_STATS_JSON,
	FN_GC_CREATE,
	FN_GC_DESTROY,
	FN_GC_ATTACH,
	FN_GC_DETACH,
	FN_GC_REGISTER,
	FN_GC_UNREGISTER,
	FN_GC_ROOT_ADD,
	FN_GC_ROOT_REMOVE,
	FN_GC_STORE,
	FN_GC_BEGIN,
	FN_GC_STEP,
	FN_GC_FINISH,
	FN_GC_COLLECT,
	FN_GC_RUN_FINALIZERS,
	FN_GC_STATS,
	FN_GC_STATS_JSON,
};

/* Arguments of a call; all valid except for the calling thread. */
struct call {
	enum fn fn;
	struct gcmap *m; /* a map of the kind the function needs */
	struct gcmap_gc *gc;
	struct gcmap_iter *it;
	void *obj; /* a registered object of @gc */
	void **field; /* a field for gcmap_gc_store() */
	void *mem; /* for gcmap_defer_free() */
	struct gcmap *created; /* (out) */
	struct gcmap_gc *gc_created; /* (out) */
	void *out;
	size_t n;
	struct gcmap_entry e;
	struct gcmap_stats st;
	struct gcmap_gc_stats gst;
	char buf[64];
	int fn_calls; /* calls of the callbacks below */
	int registered; /* gcmap_thread_registered() in the calling thread */
	int depth; /* the read-side depth there after the call */
};

static int count_cb(const struct gcmap_entry *e, void *arg)
{
	(void)e;
	((struct call *)arg)->fn_calls++;
	return 0;
}

static void free_cb(void *p)
{
	free(p);
}

static int do_call(struct call *c)
{
	static const char key[] = "key";

	switch (c->fn) {
	case FN_THREAD_UNREGISTER:
		return gcmap_thread_unregister();
	case FN_READ_LOCK:
		return gcmap_read_lock();
	case FN_READ_UNLOCK:
		return gcmap_read_unlock();
	case FN_SYNCHRONIZE:
		return gcmap_synchronize();
	case FN_DEFER_FREE:
		return gcmap_defer_free(c->mem, free_cb);
	case FN_BARRIER:
		return gcmap_barrier();
	case FN_CREATE:
		return gcmap_create(NULL, &c->created);
	case FN_DESTROY:
		return gcmap_destroy(c->m);
	case FN_GET_U64:
		return gcmap_get_u64(c->m, 1, &c->out);
	case FN_PUT_U64:
		return gcmap_put_u64(c->m, 1, val_of(7), &c->out);
	case FN_INSERT_U64:
		return gcmap_insert_u64(c->m, 2, val_of(7), &c->out);
	case FN_REPLACE_U64:
		return gcmap_replace_u64(c->m, 1, val_of(7), &c->out);
	case FN_CAS_U64:
		return gcmap_cas_u64(c->m, 1, val_of(1), val_of(7), &c->out);
	case FN_DELETE_U64:
		return gcmap_delete_u64(c->m, 1, &c->out);
	case FN_GET_BYTES:
		return gcmap_get_bytes(c->m, key, 3, &c->out);
	case FN_PUT_BYTES:
		return gcmap_put_bytes(c->m, key, 3, val_of(7), &c->out);
	case FN_INSERT_BYTES:
		return gcmap_insert_bytes(c->m, key, 2, val_of(7), &c->out);
	case FN_REPLACE_BYTES:
		return gcmap_replace_bytes(c->m, key, 3, val_of(7), &c->out);
	case FN_CAS_BYTES:
		return gcmap_cas_bytes(c->m, key, 3, val_of(1), val_of(7), &c->out);
	case FN_DELETE_BYTES:
		return gcmap_delete_bytes(c->m, key, 3, &c->out);
	case FN_COUNT:
		return gcmap_count(c->m, &c->n);
	case FN_CLEAR:
		return gcmap_clear(c->m);
	case FN_MAINTAIN:
		return gcmap_maintain(c->m, UINT_MAX, GCMAP_MAINTAIN_SHRINK_TO_FIT);
	case FN_ITER_BEGIN:
		return gcmap_iter_begin(c->m, &c->it);
	case FN_ITER_NEXT:
		return gcmap_iter_next(c->it, &c->e);
	case FN_FOREACH:
		return gcmap_foreach(c->m, count_cb, c);
	case FN_STATS:
		c->st.size = sizeof(c->st);
		return gcmap_stats(c->m, &c->st);
	case FN_STATS_JSON:
		return gcmap_stats_json(c->m, c->buf, sizeof(c->buf));
	case FN_GC_CREATE:
		return gcmap_gc_create(NULL, &c->gc_created);
	case FN_GC_DESTROY:
		return gcmap_gc_destroy(c->gc);
	case FN_GC_ATTACH:
		return gcmap_gc_attach(c->gc, c->m);
	case FN_GC_DETACH:
		return gcmap_gc_detach(c->m);
	case FN_GC_REGISTER:
		return gcmap_gc_register(c->gc, c->obj, NULL, NULL, NULL);
	case FN_GC_UNREGISTER:
		return gcmap_gc_unregister(c->gc, c->obj);
	case FN_GC_ROOT_ADD:
		return gcmap_gc_root_add(c->gc, c->obj);
	case FN_GC_ROOT_REMOVE:
		return gcmap_gc_root_remove(c->gc, c->obj);
	case FN_GC_STORE:
		return gcmap_gc_store(c->gc, c->field, c->obj);
	case FN_GC_BEGIN:
		return gcmap_gc_begin(c->gc);
	case FN_GC_STEP:
		return gcmap_gc_step(c->gc, 100);
	case FN_GC_FINISH:
		return gcmap_gc_finish(c->gc);
	case FN_GC_COLLECT:
		return gcmap_gc_collect(c->gc);
	case FN_GC_RUN_FINALIZERS:
		return gcmap_gc_run_finalizers(c->gc, 0);
	case FN_GC_STATS:
		c->gst.size = sizeof(c->gst);
		return gcmap_gc_stats(c->gc, &c->gst);
	case FN_GC_STATS_JSON:
		return gcmap_gc_stats_json(c->gc, c->buf, sizeof(c->buf));
	}
	return INT_MIN;
}

static void *unregistered_main(void *arg)
{
	struct call *c = arg;
	int rc;

	c->registered = gcmap_thread_registered();
	rc = do_call(c);
	c->depth = gcmap__read_depth();
	return (void *)(intptr_t)rc;
}

/* Run call @fn with @c's arguments in a new thread that never registers. */
static int unregistered(enum fn fn, struct call *c)
{
	pthread_t t;
	void *ret;

	c->fn = fn;
	ck_assert_int_eq(pthread_create(&t, NULL, unregistered_main, c), 0);
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	ck_assert_msg(c->registered == 0, "the new thread is registered");
	ck_assert_msg(c->depth == 0, "read-side depth %d after a rejected call", c->depth);
	return (int)(intptr_t)ret;
}

/* ---------------------------------------------------------------------- */
/* Fixtures of the tests                                                  */

static struct gcmap *new_map(int kind, size_t max_key_len)
{
	struct gcmap_options o;
	struct gcmap *m = NULL;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.key_kind = (enum gcmap_key_kind)kind;
	o.max_key_len = max_key_len;
	o.flags = GCMAP_F_FIXED_SEED;
	o.seed[0] = 0x0123456789abcdefull;
	o.seed[1] = 0xfedcba9876543210ull;
	CK_OK(gcmap_create(&o, &m));
	return m;
}

/* A map of @kind holding @n + 1 entries: key numbers 2..@n+1 and the key
 * of do_call() (1 or "key") with value 1. */
static struct gcmap *filled_map(int kind, unsigned int n)
{
	struct gcmap *m = new_map(kind, 0);

	for (unsigned int i = 0; i < n; i++)
		CK_RC(k_put(m, kind, i + 2, val_of(1000 + i), NULL), 1);
	if (kind == GCMAP_KEY_U64)
		CK_RC(gcmap_put_u64(m, 1, val_of(1), NULL), 1);
	else
		CK_RC(gcmap_put_bytes(m, "key", 3, val_of(1), NULL), 1);
	return m;
}

static void destroy(struct gcmap *m)
{
	CK_OK(gcmap__check_invariants(m));
	CK_OK(gcmap_destroy(m));
}

static struct gcmap_gc *new_gc(void)
{
	struct gcmap_gc *gc = NULL;

	CK_OK(gcmap_gc_create(NULL, &gc));
	return gc;
}

/* Managed objects of the collector tests. */
struct obj {
	void *child;
	int finalized;
};

static void obj_fin(void *p, void *arg)
{
	(void)arg;
	((struct obj *)p)->finalized++;
}

static void obj_fin_other(void *p, void *arg)
{
	(void)arg;
	((struct obj *)p)->finalized += 100;
}

static void obj_trace(void *p, gcmap_visit_fn visit, void *ctx)
{
	void *c = gcmap_gc_load(&((struct obj *)p)->child);

	if (c)
		visit(c, ctx);
}

/* ---------------------------------------------------------------------- */
/* Threads and reclamation                                                */

START_TEST(test_badinput_thread_register)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 20);

	/* Registered already (the fixture): -EALREADY changes nothing, not
	 * even inside a read-side section, and one unregister undoes the one
	 * registration. */
	CK_REJECT(m, NULL, gcmap_thread_register(), -EALREADY);
	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_read_lock());
	CK_RC(gcmap_thread_register(), -EALREADY);
	ck_assert_int_eq(gcmap__read_depth(), 2);
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_read_unlock());
	CK_RC(gcmap_read_unlock(), -EPERM);
	CK_OK(gcmap_synchronize());
	CK_OK(gcmap_thread_unregister());
	ck_assert_int_eq(gcmap_thread_registered(), 0);
	CK_RC(gcmap_thread_unregister(), -EPERM);
	CK_OK(gcmap_thread_register());
	destroy(m);
}
END_TEST

START_TEST(test_badinput_thread_unregister)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 20);
	struct call c = { .m = m };

	CK_REJECT(m, NULL, unregistered(FN_THREAD_UNREGISTER, &c), -EPERM);
	/* Inside a nested section: -EBUSY, still registered, depth kept. */
	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_read_lock());
	CK_REJECT(m, NULL, gcmap_thread_unregister(), -EBUSY);
	ck_assert_int_eq(gcmap_thread_registered(), 1);
	ck_assert_int_eq(gcmap__read_depth(), 2);
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_read_unlock());
	destroy(m);
}
END_TEST

START_TEST(test_badinput_thread_registered)
{
	struct call c = { 0 };

	/* Only ever 0 or 1, in any thread, in any state. */
	ck_assert_int_eq(unregistered(FN_READ_LOCK, &c), -EPERM);
	ck_assert_int_eq(gcmap_thread_registered(), 1);
	CK_OK(gcmap_read_lock());
	ck_assert_int_eq(gcmap_thread_registered(), 1);
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_thread_unregister());
	ck_assert_int_eq(gcmap_thread_registered(), 0);
	CK_RC(gcmap_thread_unregister(), -EPERM);
	ck_assert_int_eq(gcmap_thread_registered(), 0);
	CK_OK(gcmap_thread_register());
	ck_assert_int_eq(gcmap_thread_registered(), 1);
}
END_TEST

START_TEST(test_badinput_read_lock)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 20);
	struct call c = { .m = m };

	/* Never registered: -EPERM and no section (unregistered() checks the
	 * thread's depth is still 0); a grace period does not wait for it. */
	CK_REJECT(m, NULL, unregistered(FN_READ_LOCK, &c), -EPERM);
	CK_OK(gcmap_synchronize());
	destroy(m);
}
END_TEST

START_TEST(test_badinput_read_unlock)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 20);
	struct call c = { .m = m };

	CK_REJECT(m, NULL, unregistered(FN_READ_UNLOCK, &c), -EPERM);
	/* One unlock too many after nested sections: the depth stays 0. */
	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_read_unlock());
	CK_REJECT(m, NULL, gcmap_read_unlock(), -EPERM);
	CK_REJECT(m, NULL, gcmap_read_unlock(), -EPERM);
	ck_assert_int_eq(gcmap__read_depth(), 0);
	CK_OK(gcmap_synchronize());
	destroy(m);
}
END_TEST

START_TEST(test_badinput_synchronize)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 20);
	struct call c = { .m = m };

	CK_REJECT(m, NULL, unregistered(FN_SYNCHRONIZE, &c), -EPERM);
	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_read_lock());
	CK_REJECT(m, NULL, gcmap_synchronize(), -EDEADLK); /* nested: still refused */
	ck_assert_int_eq(gcmap__read_depth(), 2);
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_synchronize());
	destroy(m);
}
END_TEST

static int defer_calls;

static void defer_count_cb(void *p)
{
	(void)p;
	__atomic_add_fetch(&defer_calls, 1, __ATOMIC_RELAXED);
}

START_TEST(test_badinput_defer_free)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 20);
	struct call c = { .m = m };
	unsigned long defer0 = gcmap__site_calls[GCMAP_SITE_DEFER];

	/* Never registered: -EPERM, no node allocated, the memory is still
	 * the caller's (freed here: a leak or double free would show). */
	c.mem = malloc(32);
	CK_REJECT(m, NULL, unregistered(FN_DEFER_FREE, &c), -EPERM);
	ck_assert_uint_eq(gcmap__site_calls[GCMAP_SITE_DEFER], defer0);
	free(c.mem);
	/* A NULL pointer is not an error: free(NULL), or @fn(NULL), later. */
	CK_OK(gcmap_defer_free(NULL, NULL));
	CK_OK(gcmap_defer_free(NULL, defer_count_cb));
	CK_OK(gcmap_barrier());
	ck_assert_int_eq(__atomic_load_n(&defer_calls, __ATOMIC_RELAXED), 1);
	destroy(m);
}
END_TEST

START_TEST(test_badinput_barrier)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 20);
	struct call c = { .m = m };

	CK_REJECT(m, NULL, unregistered(FN_BARRIER, &c), -EPERM);
	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_read_lock());
	CK_REJECT(m, NULL, gcmap_barrier(), -EDEADLK);
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_barrier());
	destroy(m);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Maps: create and destroy                                               */

static unsigned long user_allocs;

static void *user_malloc(size_t size, void *ctx)
{
	(void)ctx;
	__atomic_add_fetch(&user_allocs, 1, __ATOMIC_RELAXED);
	return malloc(size);
}

static void *user_zalloc(size_t size, void *ctx)
{
	(void)ctx;
	__atomic_add_fetch(&user_allocs, 1, __ATOMIC_RELAXED);
	return calloc(1, size);
}

static void user_free(void *p, size_t size, void *ctx)
{
	(void)size;
	(void)ctx;
	free(p);
}

/* gcmap_create(@o) must fail with -EINVAL, allocate nothing (neither through
 * gcmap__alloc nor the options' allocator) and leave *out alone. */
static void create_rejected(const struct gcmap_options *o, const char *what)
{
	struct gcmap *m = SENTINEL;
	unsigned long a0 = allocs_total(), u0 = user_allocs;
	int rc = gcmap_create(o, &m);

	ck_assert_msg(rc == -EINVAL, "gcmap_create(%s) returned %d (%s)", what, rc,
		      gcmap_strerror(rc));
	ck_assert_msg(m == SENTINEL, "gcmap_create(%s) wrote *out", what);
	ck_assert_msg(allocs_total() == a0 && user_allocs == u0, "gcmap_create(%s) allocated",
		      what);
}

START_TEST(test_badinput_create)
{
	static const struct gcmap_allocator no_malloc = { NULL, user_zalloc, user_free, NULL };
	static const struct gcmap_allocator no_zalloc = { user_malloc, NULL, user_free, NULL };
	static const struct gcmap_allocator no_free = { user_malloc, user_zalloc, NULL, NULL };
	static const struct gcmap_allocator user = { user_malloc, user_zalloc, user_free, NULL };
	struct gcmap_options o, good;
	struct call c = { 0 };
	unsigned long a0;

	memset(&good, 0, sizeof(good));
	good.size = sizeof(good);
	good.key_kind = GCMAP_KEY_BYTES;
	good.allocator = &user;

	a0 = allocs_total();
	CK_RC(gcmap_create(NULL, NULL), -EINVAL);
	CK_RC(gcmap_create(&good, NULL), -EINVAL);
	ck_assert_uint_eq(allocs_total(), a0);
	ck_assert_uint_eq(user_allocs, 0);

	o = good;
	o.size = sizeof(o) + 1; /* a newer struct than this library knows */
	create_rejected(&o, "size + 1");
	o.size = SIZE_MAX;
	create_rejected(&o, "size SIZE_MAX");
	o.size = sizeof(o) / 2;
	create_rejected(&o, "size / 2");
	o = good;
	o.flags = GCMAP_F_BACKGROUND << 1; /* the first unknown flag */
	create_rejected(&o, "first unknown flag");
	o.flags = UINT_MAX;
	create_rejected(&o, "every flag");
	o = good;
	o.log2_buckets = UINT_MAX;
	create_rejected(&o, "log2_buckets UINT_MAX");
	o = good;
	o.max_key_len = SIZE_MAX;
	create_rejected(&o, "max_key_len SIZE_MAX");
	o = good;
	o.key_kind = (enum gcmap_key_kind)INT_MAX;
	create_rejected(&o, "key_kind INT_MAX");
	o = good;
	o.allocator = &no_malloc;
	create_rejected(&o, "allocator without malloc");
	o.allocator = &no_zalloc;
	create_rejected(&o, "allocator without zalloc");
	o.allocator = &no_free;
	create_rejected(&o, "allocator without free");

	/* The limits themselves are accepted. */
	o = good;
	o.max_key_len = GCMAP_MAX_KEY_LEN;
	c.created = NULL;
	CK_OK(gcmap_create(&o, &c.created));
	destroy(c.created);

	/* Creation needs no registration. */
	c.created = NULL;
	CK_RC(unregistered(FN_CREATE, &c), 0);
	ck_assert_ptr_nonnull(c.created);
	CK_RC(gcmap_put_u64(c.created, 1, val_of(1), NULL), 1);
	destroy(c.created);
}
END_TEST

static int iter_walk(struct gcmap_iter *it)
{
	struct gcmap_entry e;
	int n = 0, rc;

	while ((rc = gcmap_iter_next(it, &e)) == 1)
		n++;
	CK_RC(rc, 0);
	return n;
}

START_TEST(test_badinput_destroy)
{
	struct gcmap *m = filled_map(GCMAP_KEY_BYTES, 50);
	struct gcmap_gc *gc = new_gc();
	struct gcmap_iter *it = NULL;
	struct call c = { .m = m };
	struct gcmap_stats st;

	CK_OK(gcmap_gc_attach(gc, m));
	CK_REJECT(m, gc, gcmap_destroy(NULL), -EINVAL);
	CK_REJECT(m, gc, unregistered(FN_DESTROY, &c), -EPERM);
	CK_OK(gcmap_read_lock());
	CK_REJECT(m, gc, gcmap_destroy(m), -EDEADLK);
	CK_OK(gcmap_read_unlock());

	/* Busy: a live iterator. The map stays attached and whole, and the
	 * iterator still walks it. */
	CK_OK(gcmap_iter_begin(m, &it));
	CK_REJECT(m, gc, gcmap_destroy(m), -EBUSY);
	ck_assert_ptr_eq(__atomic_load_n(&m->gc, __ATOMIC_ACQUIRE), gc);
	ck_assert_int_eq(iter_walk(it), 51);
	CK_REJECT(m, gc, gcmap_destroy(m), -EBUSY); /* walked to the end: still live */
	CK_OK(gcmap_iter_end(it));
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CK_OK(gcmap_stats(m, &st));
	ck_assert_uint_eq(st.iterators, 0);

	/* Destroying an attached map is fine: it detaches itself. */
	CK_OK(gcmap_destroy(m));
	{
		struct gcmap_gc_stats gs;

		memset(&gs, 0, sizeof(gs));
		gs.size = sizeof(gs);
		CK_OK(gcmap_gc_stats(gc, &gs));
		ck_assert_uint_eq(gs.maps, 0);
	}
	CK_OK(gcmap_gc_destroy(gc));
}
END_TEST

/*
 * Not busy: a collector cycle scanning the map. The collector's scan
 * iterator is not the caller's (the header's -EBUSY is for an iterator the
 * caller has not ended), and gcmap_destroy() detaches the map itself.
 */
START_TEST(test_badinput_destroy_during_cycle)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 200);
	struct gcmap_gc *gc = new_gc();
	struct obj a = { 0 };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_OK(gcmap_gc_register(gc, &a, obj_fin, NULL, NULL));
	CK_RC(gcmap_put_u64(m, 1000, &a, NULL), 1);
	CK_OK(gcmap_gc_begin(gc));
	CK_RC(gcmap_gc_step(gc, 5), 1); /* the registry, then 4 entries of the map */
	CK_OK(gcmap_destroy(m));
	CK_RC(gcmap_gc_finish(gc), 1); /* @a was only in the destroyed map */
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 1);
	CK_OK(gcmap_gc_destroy(gc));
}
END_TEST

/* A map with the background thread, busy: the thread keeps running. */
START_TEST(test_badinput_destroy_background)
{
	struct gcmap_options o;
	struct gcmap *m = NULL;
	struct gcmap_iter *it = NULL;
	struct gcmap__bg *bg;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.flags = GCMAP_F_BACKGROUND;
	CK_OK(gcmap_create(&o, &m));
	bg = m->bg;
	ck_assert_ptr_nonnull(bg);
	CK_OK(gcmap_iter_begin(m, &it));
	CK_RC(gcmap_destroy(m), -EBUSY);
	ck_assert_ptr_eq(m->bg, bg);
	for (uint64_t i = 0; i < 1000; i++)
		CK_RC(gcmap_put_u64(m, i, val_of(i + 1), NULL), 1);
	ck_assert_int_le(iter_walk(it), 1000); /* keys inserted meanwhile may be returned */
	CK_OK(gcmap_iter_end(it));
	CK_OK(gcmap_destroy(m));
}
END_TEST

#if defined(GCMAP_DEBUG) && defined(GCMAP_TESTHOOKS)
/*
 * Debug builds: -EBUSY because another thread's operation is in flight must
 * also leave everything as it was: here, the background thread must still
 * run. (With a collector domain attached the refused call would even hang:
 * it detaches first, and detaching waits for a grace period that the held
 * operation's read-side section blocks.)
 */
#include "hold_util.h"

/* The same for a user's gcmap_maintain(), held in the middle of a move. */
static void *busy_maintainer(void *arg)
{
	struct gcmap *m = arg;

	if (gcmap_thread_register() != 0)
		return (void *)1;
	if (gcmap_maintain(m, UINT_MAX, 0) != 0)
		return (void *)2;
	if (gcmap_thread_unregister() != 0)
		return (void *)3;
	return NULL;
}

START_TEST(test_badinput_destroy_maintain_in_flight)
{
	struct gcmap *m = new_map(GCMAP_KEY_U64, 0);
	pthread_t t;
	void *ret;
	int rc;

	/* A grow is due but left to gcmap_maintain(). */
	__atomic_store_n(&gcmap__test_flags, GCMAP_TEST_NO_POLICY, __ATOMIC_RELAXED);
	for (uint64_t i = 0; i < 200; i++)
		CK_RC(gcmap_put_u64(m, i, val_of(i + 1), NULL), 1);
	hold_at("evac:mid-move");
	ck_assert_int_eq(pthread_create(&t, NULL, busy_maintainer, m), 0);
	hold_wait();
	rc = gcmap_destroy(m);
	hold_release();
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	__atomic_store_n(&gcmap__test_flags, 0, __ATOMIC_RELAXED);
	ck_assert_ptr_null(ret);
	CK_RC(rc, -EBUSY);
	for (uint64_t i = 0; i < 200; i++) {
		void *v = NULL;

		CK_OK(gcmap_get_u64(m, i, &v));
		ck_assert_ptr_eq(v, val_of(i + 1));
	}
	CK_OK(gcmap_destroy(m));
}
END_TEST

START_TEST(test_badinput_destroy_op_in_flight)
{
	struct gcmap_options o;
	struct gcmap *m = NULL;
	struct gcmap__bg *bg;
	pthread_t t;
	void *ret;
	int rc;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.flags = GCMAP_F_BACKGROUND;
	CK_OK(gcmap_create(&o, &m));
	bg = m->bg;
	hold_at("writer:helped");
	ck_assert_int_eq(pthread_create(&t, NULL, busy_writer, m), 0);
	hold_wait();
	rc = gcmap_destroy(m);
	hold_release();
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	ck_assert_ptr_null(ret);
	CK_RC(rc, -EBUSY);
	ck_assert_msg(m->bg == bg, "refused gcmap_destroy() stopped the background thread");
	CK_OK(gcmap_destroy(m));
}
END_TEST
#endif

/* ---------------------------------------------------------------------- */
/* Maps: the operations                                                   */

enum op { OP_GET, OP_PUT, OP_INSERT, OP_REPLACE, OP_CAS, OP_DELETE };

static int op_u64(enum op op, struct gcmap *m, uint64_t key, void **out)
{
	switch (op) {
	case OP_GET:
		return gcmap_get_u64(m, key, out);
	case OP_PUT:
		return gcmap_put_u64(m, key, val_of(77), out);
	case OP_INSERT:
		return gcmap_insert_u64(m, key, val_of(77), out);
	case OP_REPLACE:
		return gcmap_replace_u64(m, key, val_of(77), out);
	case OP_CAS:
		return gcmap_cas_u64(m, key, val_of(1), val_of(77), out);
	case OP_DELETE:
		return gcmap_delete_u64(m, key, out);
	}
	return INT_MIN;
}

static int op_bytes(enum op op, struct gcmap *m, const void *key, size_t len, void **out)
{
	switch (op) {
	case OP_GET:
		return gcmap_get_bytes(m, key, len, out);
	case OP_PUT:
		return gcmap_put_bytes(m, key, len, val_of(77), out);
	case OP_INSERT:
		return gcmap_insert_bytes(m, key, len, val_of(77), out);
	case OP_REPLACE:
		return gcmap_replace_bytes(m, key, len, val_of(77), out);
	case OP_CAS:
		return gcmap_cas_bytes(m, key, len, val_of(1), val_of(77), out);
	case OP_DELETE:
		return gcmap_delete_bytes(m, key, len, out);
	}
	return INT_MIN;
}

/* What @op returns for a present (value 1) or absent key, when accepted. */
static int op_result(enum op op, bool present)
{
	switch (op) {
	case OP_GET:
	case OP_REPLACE:
	case OP_CAS:
	case OP_DELETE:
		return present ? 0 : -ENOENT;
	case OP_PUT:
		return present ? 0 : 1;
	case OP_INSERT:
		return present ? -EEXIST : 0;
	}
	return INT_MIN;
}

static const enum fn fn_u64[] = { FN_GET_U64,	  FN_PUT_U64, FN_INSERT_U64,
				  FN_REPLACE_U64, FN_CAS_U64, FN_DELETE_U64 };
static const enum fn fn_bytes[] = { FN_GET_BYTES,     FN_PUT_BYTES, FN_INSERT_BYTES,
				    FN_REPLACE_BYTES, FN_CAS_BYTES, FN_DELETE_BYTES };

static void check_op_u64(enum op op)
{
	struct gcmap *mu = filled_map(GCMAP_KEY_U64, 30);
	struct gcmap *mb = filled_map(GCMAP_KEY_BYTES, 30);
	struct call c = { .m = mu };
	void *v = SENTINEL;

	CK_REJECT(mu, NULL, op_u64(op, NULL, 1, &v), -EINVAL);
	CK_REJECT(mu, NULL, op_u64(op, NULL, 1, NULL), -EINVAL);
	CK_REJECT(mb, NULL, op_u64(op, mb, 1, &v), -EINVAL); /* wrong key kind */
	CK_REJECT(mb, NULL, op_u64(op, mb, 0, NULL), -EINVAL);
	CK_REJECT(mu, NULL, unregistered(fn_u64[op], &c), -EPERM);
	c.m = mb; /* unregistered and wrong kind: either code is right */
	CK_REJECT2(mb, NULL, unregistered(fn_u64[op], &c), -EPERM, -EINVAL);

	/* Zero and the largest key are ordinary keys. */
	CK_RC(gcmap_put_u64(mu, 0, val_of(1), NULL), 1);
	CK_RC(gcmap_put_u64(mu, UINT64_MAX, val_of(1), NULL), 1);
	CK_RC(op_u64(op, mu, 0, NULL), op_result(op, true));
	CK_RC(op_u64(op, mu, UINT64_MAX, &v), op_result(op, true));
	CK_RC(op_u64(op, mu, UINT64_MAX - 1, &v), op_result(op, false));
	destroy(mu);
	destroy(mb);
}

static void check_op_bytes(enum op op)
{
	struct gcmap *mb = filled_map(GCMAP_KEY_BYTES, 30);
	struct gcmap *mu = filled_map(GCMAP_KEY_U64, 30);
	struct gcmap *big = new_map(GCMAP_KEY_BYTES, GCMAP_MAX_KEY_LEN);
	struct call c = { .m = mb };
	size_t max = GCMAP_DEFAULT_MAX_KEY_LEN;
	unsigned char *buf = calloc(1, (size_t)GCMAP_MAX_KEY_LEN + 1);
	unsigned char one = 'k';
	void *v = SENTINEL;

	ck_assert_ptr_nonnull(buf);
	CK_REJECT(mb, NULL, op_bytes(op, NULL, "key", 3, &v), -EINVAL);
	CK_REJECT(mb, NULL, op_bytes(op, NULL, NULL, 0, NULL), -EINVAL);
	CK_REJECT(mu, NULL, op_bytes(op, mu, "key", 3, &v), -EINVAL); /* wrong key kind */
	CK_REJECT(mu, NULL, op_bytes(op, mu, NULL, 0, NULL), -EINVAL);
	/* A NULL key with a non-zero length; with a huge one, -E2BIG is right
	 * too. */
	CK_REJECT(mb, NULL, op_bytes(op, mb, NULL, 1, &v), -EINVAL);
	CK_REJECT(mb, NULL, op_bytes(op, mb, NULL, max, &v), -EINVAL);
	CK_REJECT2(mb, NULL, op_bytes(op, mb, NULL, SIZE_MAX, &v), -EINVAL, -E2BIG);
	/* Too long: rejected before the key is read (a one-byte buffer). */
	CK_REJECT(mb, NULL, op_bytes(op, mb, &one, max + 1, &v), -E2BIG);
	CK_REJECT(mb, NULL, op_bytes(op, mb, &one, SIZE_MAX, &v), -E2BIG);
	CK_REJECT(mb, NULL, op_bytes(op, mb, &one, (size_t)UINT32_MAX + 1, NULL), -E2BIG);
	CK_REJECT(big, NULL, op_bytes(op, big, buf, (size_t)GCMAP_MAX_KEY_LEN + 1, &v), -E2BIG);
	CK_REJECT(big, NULL, op_bytes(op, big, &one, SIZE_MAX, &v), -E2BIG);
	CK_REJECT(mb, NULL, unregistered(fn_bytes[op], &c), -EPERM);
	c.m = mu;
	CK_REJECT2(mu, NULL, unregistered(fn_bytes[op], &c), -EPERM, -EINVAL);

	/* The longest keys are accepted. */
	memset(buf, 0xab, (size_t)GCMAP_MAX_KEY_LEN + 1);
	CK_RC(gcmap_put_bytes(mb, buf, max, val_of(1), NULL), 1);
	CK_RC(op_bytes(op, mb, buf, max, &v), op_result(op, true));
	CK_RC(gcmap_put_bytes(big, buf, GCMAP_MAX_KEY_LEN, val_of(1), NULL), 1);
	CK_RC(op_bytes(op, big, buf, GCMAP_MAX_KEY_LEN, &v), op_result(op, true));
	CK_RC(op_bytes(op, big, buf, GCMAP_MAX_KEY_LEN - 1, &v), op_result(op, false));
	/* Zero length: the empty key, whatever the pointer (NULL included). */
	CK_RC(op_bytes(op, mb, NULL, 0, &v), op_result(op, false));
	CK_RC(gcmap_put_bytes(mb, &one, 0, val_of(1), NULL),
	      op == OP_PUT || op == OP_INSERT ? 0 : 1);
	CK_RC(op_bytes(op, mb, NULL, 0, &v), op_result(op, true));
	CK_OK(gcmap__check_invariants(big));
	CK_OK(gcmap_destroy(big));
	free(buf);
	destroy(mb);
	destroy(mu);
}

START_TEST(test_badinput_get_u64)
{
	check_op_u64(OP_GET);
}
END_TEST

START_TEST(test_badinput_put_u64)
{
	check_op_u64(OP_PUT);
}
END_TEST

START_TEST(test_badinput_insert_u64)
{
	check_op_u64(OP_INSERT);
}
END_TEST

START_TEST(test_badinput_replace_u64)
{
	check_op_u64(OP_REPLACE);
}
END_TEST

START_TEST(test_badinput_cas_u64)
{
	check_op_u64(OP_CAS);
}
END_TEST

START_TEST(test_badinput_delete_u64)
{
	check_op_u64(OP_DELETE);
}
END_TEST

START_TEST(test_badinput_get_bytes)
{
	check_op_bytes(OP_GET);
}
END_TEST

START_TEST(test_badinput_put_bytes)
{
	check_op_bytes(OP_PUT);
}
END_TEST

START_TEST(test_badinput_insert_bytes)
{
	check_op_bytes(OP_INSERT);
}
END_TEST

START_TEST(test_badinput_replace_bytes)
{
	check_op_bytes(OP_REPLACE);
}
END_TEST

START_TEST(test_badinput_cas_bytes)
{
	check_op_bytes(OP_CAS);
}
END_TEST

START_TEST(test_badinput_delete_bytes)
{
	check_op_bytes(OP_DELETE);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Maps: count, clear, maintain                                           */

START_TEST(test_badinput_count)
{
	struct gcmap *m = filled_map(_i, 40);
	struct call c = { .m = m };
	size_t n = 12345;

	CK_REJECT(m, NULL, gcmap_count(NULL, &n), -EINVAL);
	CK_REJECT(m, NULL, gcmap_count(NULL, NULL), -EINVAL);
	CK_REJECT(m, NULL, gcmap_count(m, NULL), -EINVAL);
	ck_assert_uint_eq(n, 12345);
	c.n = 12345;
	CK_REJECT(m, NULL, unregistered(FN_COUNT, &c), -EPERM);
	ck_assert_uint_eq(c.n, 12345);
	destroy(m);
}
END_TEST

START_TEST(test_badinput_clear)
{
	struct gcmap *m = filled_map(_i, 40);
	struct call c = { .m = m };

	/* Rejected before the fresh table is allocated. */
	CK_REJECT(m, NULL, gcmap_clear(NULL), -EINVAL);
	CK_REJECT(m, NULL, unregistered(FN_CLEAR, &c), -EPERM);
	destroy(m);
}
END_TEST

START_TEST(test_badinput_maintain)
{
	struct gcmap *m = new_map(GCMAP_KEY_U64, 0);
	struct call c = { .m = m };
	struct gcmap_stats st;
	int left;

	/* Load the map past the grow threshold with the policy off: a grow
	 * is due, so any accepted call would allocate a table. */
	__atomic_store_n(&gcmap__test_flags, GCMAP_TEST_NO_POLICY, __ATOMIC_RELAXED);
	for (uint64_t i = 0; i < 200; i++)
		CK_RC(gcmap_put_u64(m, i, val_of(i + 1), NULL), 1);
	CK_REJECT(m, NULL, gcmap_maintain(NULL, 1, 0), -EINVAL);
	CK_REJECT(m, NULL, gcmap_maintain(NULL, 0, GCMAP_MAINTAIN_SHRINK_TO_FIT), -EINVAL);
	CK_REJECT(m, NULL, gcmap_maintain(m, 1, GCMAP_MAINTAIN_SHRINK_TO_FIT << 1), -EINVAL);
	CK_REJECT(m, NULL, gcmap_maintain(m, UINT_MAX, UINT_MAX), -EINVAL);
	CK_REJECT(m, NULL, unregistered(FN_MAINTAIN, &c), -EPERM);
	/* Budget 0 only reports: work is due, nothing starts. */
	{
		struct snap b, a;

		snap_take(m, NULL, &b);
		left = gcmap_maintain(m, 0, 0);
		ck_assert_int_gt(left, 0);
		ck_assert_uint_eq(allocs_total(), b.allocs);
		snap_take(m, NULL, &a);
		snap_same(&b, &a, "gcmap_maintain(m, 0, 0)");
	}
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CK_OK(gcmap_stats(m, &st));
	ck_assert_uint_eq(st.evacuating, 0);
	ck_assert_uint_eq(st.grows, 0);
	/* The largest budget finishes the work in one call. */
	CK_OK(gcmap_maintain(m, UINT_MAX, 0));
	CK_OK(gcmap_stats(m, &st));
	ck_assert_uint_ge(st.grows, 1);
	ck_assert_uint_eq(st.evacuating, 0);
	CK_OK(gcmap_maintain(m, 0, 0));
	__atomic_store_n(&gcmap__test_flags, 0, __ATOMIC_RELAXED);
	destroy(m);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Iteration                                                              */

START_TEST(test_badinput_iter_begin)
{
	struct gcmap *m = filled_map(_i, 40);
	struct gcmap_iter *it = SENTINEL;
	struct call c = { .m = m, .it = SENTINEL };

	CK_REJECT(m, NULL, gcmap_iter_begin(NULL, &it), -EINVAL);
	CK_REJECT(m, NULL, gcmap_iter_begin(NULL, NULL), -EINVAL);
	CK_REJECT(m, NULL, gcmap_iter_begin(m, NULL), -EINVAL);
	ck_assert_ptr_eq(it, SENTINEL);
	CK_REJECT(m, NULL, unregistered(FN_ITER_BEGIN, &c), -EPERM);
	ck_assert_ptr_eq(c.it, SENTINEL);
	destroy(m); /* no phantom iterator makes it -EBUSY */
}
END_TEST

START_TEST(test_badinput_iter_next)
{
	struct gcmap *m = filled_map(_i, 40);
	struct gcmap_iter *it = NULL;
	struct gcmap_entry e;
	struct call c = { .m = m };
	int n = 0, rc;

	CK_OK(gcmap_iter_begin(m, &it));
	c.it = it;
	CK_REJECT(m, NULL, gcmap_iter_next(NULL, &e), -EINVAL);
	CK_REJECT(m, NULL, gcmap_iter_next(NULL, NULL), -EINVAL);
	/* Rejections in the middle of a walk lose and repeat nothing. */
	for (;;) {
		CK_REJECT(m, NULL, gcmap_iter_next(it, NULL), -EINVAL);
		CK_REJECT(m, NULL, unregistered(FN_ITER_NEXT, &c), -EPERM);
		rc = gcmap_iter_next(it, &e);
		if (rc != 1)
			break;
		n++;
	}
	CK_RC(rc, 0);
	ck_assert_int_eq(n, 41);
	/* The end stays the end. */
	CK_RC(gcmap_iter_next(it, &e), 0);
	CK_RC(gcmap_iter_next(it, &e), 0);
	CK_OK(gcmap_iter_end(it));
	destroy(m);
}
END_TEST

START_TEST(test_badinput_iter_end)
{
	struct gcmap *m = filled_map(_i, 40);
	struct gcmap_iter *it = NULL;

	CK_REJECT(m, NULL, gcmap_iter_end(NULL), -EINVAL);
	/* The header documents only -EINVAL: the owner ends its iterator even
	 * after it unregistered, and the map is no longer busy. */
	CK_OK(gcmap_iter_begin(m, &it));
	CK_OK(gcmap_thread_unregister());
	CK_OK(gcmap_iter_end(it));
	CK_OK(gcmap_thread_register());
	destroy(m);
}
END_TEST

static int never_cb(const struct gcmap_entry *e, void *arg)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

START_TEST(test_badinput_foreach)
{
	struct gcmap *m = filled_map(_i, 40);
	struct call c = { .m = m };
	int calls = 0;

	CK_REJECT(m, NULL, gcmap_foreach(NULL, never_cb, &calls), -EINVAL);
	CK_REJECT(m, NULL, gcmap_foreach(NULL, NULL, &calls), -EINVAL);
	CK_REJECT(m, NULL, gcmap_foreach(m, NULL, NULL), -EINVAL);
	ck_assert_int_eq(calls, 0);
	CK_REJECT(m, NULL, unregistered(FN_FOREACH, &c), -EPERM);
	ck_assert_int_eq(c.fn_calls, 0);
	destroy(m);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Statistics                                                             */

/* A stats struct with room after it, filled with a pattern. */
struct stats_buf {
	struct gcmap_stats st;
	unsigned char after[32];
};

START_TEST(test_badinput_stats)
{
	struct gcmap *m = filled_map(_i, 40);
	struct call c = { .m = m };
	struct stats_buf sb, ref;

	memset(&sb, 0xa5, sizeof(sb));
	sb.st.size = 0;
	ref = sb;
	CK_REJECT(m, NULL, gcmap_stats(NULL, &sb.st), -EINVAL);
	CK_REJECT(m, NULL, gcmap_stats(NULL, NULL), -EINVAL);
	CK_REJECT(m, NULL, gcmap_stats(m, NULL), -EINVAL);
	CK_REJECT(m, NULL, gcmap_stats(m, &sb.st), -EINVAL); /* size 0 */
	sb.st.size = ref.st.size = sizeof(sb.st) - 1;
	CK_REJECT(m, NULL, gcmap_stats(m, &sb.st), -EINVAL);
	sb.st.size = ref.st.size = offsetof(struct gcmap_stats, iterators);
	CK_REJECT(m, NULL, gcmap_stats(m, &sb.st), -EINVAL);
	ck_assert_msg(memcmp(&sb, &ref, sizeof(sb)) == 0, "a rejected gcmap_stats() wrote");
	CK_REJECT(m, NULL, unregistered(FN_STATS, &c), -EPERM);
	/* A larger struct (a newer caller) is filled up to what this
	 * library knows; nothing past it is written. */
	sb.st.size = sizeof(sb);
	CK_OK(gcmap_stats(m, &sb.st));
	ck_assert_uint_eq(sb.st.entries, 41);
	for (size_t i = 0; i < sizeof(sb.after); i++)
		ck_assert_uint_eq(sb.after[i], 0xa5);
	destroy(m);
}
END_TEST

/* The buffer conventions of gcmap_stats_json() and gcmap_gc_stats_json(). */
static void check_json(int (*json)(void *obj, char *buf, size_t len), void *obj)
{
	char buf[4096], ref[4096];
	int full, rc;

	memset(buf, 'x', sizeof(buf));
	memcpy(ref, buf, sizeof(buf));
	CK_RC(json(NULL, buf, sizeof(buf)), -EINVAL);
	CK_RC(json(NULL, NULL, 0), -EINVAL);
	CK_RC(json(obj, NULL, 1), -EINVAL);
	CK_RC(json(obj, NULL, SIZE_MAX), -EINVAL);
	ck_assert_msg(memcmp(buf, ref, sizeof(buf)) == 0, "a rejected call wrote the buffer");
	/* Length 0: nothing written, the full length returned (snprintf). */
	full = json(obj, buf, 0);
	ck_assert_int_gt(full, 2);
	ck_assert_msg(memcmp(buf, ref, sizeof(buf)) == 0, "len 0 wrote the buffer");
	CK_RC(json(obj, NULL, 0), full);
	/* Length 1: only the NUL. */
	CK_RC(json(obj, buf, 1), full);
	ck_assert_int_eq(buf[0], '\0');
	ck_assert_int_eq(buf[1], 'x');
	/* Cut in the middle: NUL-terminated at len - 1, nothing past it. */
	rc = json(obj, buf, (size_t)full / 2);
	CK_RC(rc, full);
	ck_assert_int_eq(buf[full / 2 - 1], '\0');
	ck_assert_int_eq(buf[full / 2], 'x');
	/* Exactly enough. */
	ck_assert_int_lt(full, (int)sizeof(buf));
	CK_RC(json(obj, buf, (size_t)full + 1), full);
	ck_assert_int_eq((int)strlen(buf), full);
	ck_assert_int_eq(buf[0], '{');
	ck_assert_int_eq(buf[full - 1], '}');
	ck_assert_int_eq(buf[full + 1], 'x');
}

static int map_json(void *obj, char *buf, size_t len)
{
	return gcmap_stats_json(obj, buf, len);
}

static int gc_json(void *obj, char *buf, size_t len)
{
	return gcmap_gc_stats_json(obj, buf, len);
}

START_TEST(test_badinput_stats_json)
{
	struct gcmap *m = filled_map(GCMAP_KEY_BYTES, 40);
	struct call c = { .m = m };

	{
		struct snap b, a;

		snap_take(m, NULL, &b);
		check_json(map_json, m);
		snap_take(m, NULL, &a);
		snap_same(&b, &a, "gcmap_stats_json()");
	}
	memset(c.buf, 'x', sizeof(c.buf));
	CK_REJECT(m, NULL, unregistered(FN_STATS_JSON, &c), -EPERM);
	ck_assert_int_eq(c.buf[0], 'x');
	destroy(m);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The collector                                                          */

START_TEST(test_badinput_gc_create)
{
	struct gcmap_gc_options o, good;
	struct gcmap_gc *gc = SENTINEL;
	struct call c = { .gc_created = SENTINEL };
	unsigned long a0;
	static const unsigned int bad_flags[] = { GCMAP_GC_F_UNSAFE_NO_BARRIER << 1, 1u << 31,
						  UINT_MAX };
	static const size_t bad_sizes[] = { 0, 1, sizeof(o) - 1, sizeof(o) + 1, SIZE_MAX };

	memset(&good, 0, sizeof(good));
	good.size = sizeof(good);
	a0 = allocs_total();
	CK_RC(gcmap_gc_create(NULL, NULL), -EINVAL);
	CK_RC(gcmap_gc_create(&good, NULL), -EINVAL);
	for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		o = good;
		o.flags = bad_flags[i];
		CK_RC(gcmap_gc_create(&o, &gc), -EINVAL);
	}
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		o = good;
		o.size = bad_sizes[i];
		CK_RC(gcmap_gc_create(&o, &gc), -EINVAL);
	}
	ck_assert_ptr_eq(gc, SENTINEL);
	ck_assert_uint_eq(allocs_total(), a0);
	CK_RC(unregistered(FN_GC_CREATE, &c), -EPERM);
	ck_assert_ptr_eq(c.gc_created, SENTINEL);
	ck_assert_uint_eq(allocs_total(), a0);
	/* Any pace is valid. */
	o = good;
	o.pace_percent = UINT_MAX;
	CK_OK(gcmap_gc_create(&o, &gc));
	CK_OK(gcmap_gc_destroy(gc));
}
END_TEST

START_TEST(test_badinput_gc_destroy)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 10);
	struct gcmap_gc *gc = new_gc();
	struct call c = { .gc = gc };
	struct obj o = { 0 };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_OK(gcmap_gc_register(gc, &o, obj_fin, obj_trace, NULL));
	CK_REJECT(m, gc, gcmap_gc_destroy(NULL), -EINVAL);
	CK_REJECT(m, gc, unregistered(FN_GC_DESTROY, &c), -EPERM);
	CK_OK(gcmap_read_lock());
	CK_REJECT(m, gc, gcmap_gc_destroy(gc), -EDEADLK);
	CK_OK(gcmap_read_unlock());
	/* In the middle of a cycle, with a map attached: both are fine. */
	CK_OK(gcmap_gc_begin(gc));
	CK_RC(gcmap_gc_step(gc, 1), 1);
	CK_OK(gcmap_gc_destroy(gc));
	ck_assert_ptr_null(__atomic_load_n(&m->gc, __ATOMIC_ACQUIRE));
	CK_RC(gcmap_gc_detach(m), -ENOENT);
	ck_assert_int_eq(o.finalized, 0); /* finalizers are dropped */
	destroy(m);
}
END_TEST

START_TEST(test_badinput_gc_attach)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 10);
	struct gcmap *m2 = filled_map(GCMAP_KEY_BYTES, 10);
	struct gcmap_gc *gc = new_gc(), *gc2 = new_gc();
	struct call c = { .gc = gc, .m = m2 };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_REJECT(m, gc, gcmap_gc_attach(NULL, m2), -EINVAL);
	CK_REJECT(m, gc, gcmap_gc_attach(gc, NULL), -EINVAL);
	CK_REJECT(m, gc, gcmap_gc_attach(NULL, NULL), -EINVAL);
	CK_REJECT(m2, gc, unregistered(FN_GC_ATTACH, &c), -EPERM);
	CK_OK(gcmap_read_lock());
	CK_REJECT(m2, gc, gcmap_gc_attach(gc, m2), -EDEADLK);
	CK_OK(gcmap_read_unlock());
	/* Busy: attached already, to this domain or another. */
	CK_REJECT(m, gc, gcmap_gc_attach(gc, m), -EBUSY);
	CK_REJECT(m, gc2, gcmap_gc_attach(gc2, m), -EBUSY);
	ck_assert_ptr_eq(__atomic_load_n(&m->gc, __ATOMIC_ACQUIRE), gc);
	ck_assert_ptr_null(__atomic_load_n(&m2->gc, __ATOMIC_ACQUIRE));
	CK_OK(gcmap_gc_destroy(gc2));
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
	destroy(m2);
}
END_TEST

START_TEST(test_badinput_gc_detach)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 10);
	struct gcmap *m2 = filled_map(GCMAP_KEY_U64, 10);
	struct gcmap_gc *gc = new_gc();
	struct call c = { .m = m };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_REJECT(m, gc, gcmap_gc_detach(NULL), -EINVAL);
	CK_REJECT(m, gc, unregistered(FN_GC_DETACH, &c), -EPERM);
	CK_OK(gcmap_read_lock());
	CK_REJECT(m, gc, gcmap_gc_detach(m), -EDEADLK);
	CK_OK(gcmap_read_unlock());
	CK_REJECT(m2, gc, gcmap_gc_detach(m2), -ENOENT);
	CK_OK(gcmap_gc_detach(m));
	CK_REJECT(m, gc, gcmap_gc_detach(m), -ENOENT);
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
	destroy(m2);
}
END_TEST

START_TEST(test_badinput_gc_register)
{
	struct gcmap *m = new_map(GCMAP_KEY_U64, 0);
	struct gcmap_gc *gc = new_gc();
	struct obj a = { 0 }, b = { 0 };
	struct call c = { .gc = gc, .obj = &b };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_OK(gcmap_gc_register(gc, &a, obj_fin, obj_trace, NULL));
	CK_REJECT(m, gc, gcmap_gc_register(NULL, &b, obj_fin, NULL, NULL), -EINVAL);
	CK_REJECT(m, gc, gcmap_gc_register(gc, NULL, obj_fin, NULL, NULL), -EINVAL);
	CK_REJECT(m, gc, gcmap_gc_register(NULL, NULL, NULL, NULL, NULL), -EINVAL);
	CK_REJECT(m, gc, unregistered(FN_GC_REGISTER, &c), -EPERM);
	/* Registered already: the first registration (and finalizer) stays. */
	CK_RC(gcmap_gc_register(gc, &a, obj_fin_other, NULL, NULL), -EEXIST);
	{
		struct snap b0, a0;

		snap_take(m, gc, &b0);
		CK_RC(gcmap_gc_register(gc, &a, obj_fin_other, NULL, NULL), -EEXIST);
		snap_take(m, gc, &a0);
		snap_same(&b0, &a0, "gcmap_gc_register() of a registered object");
	}
	CK_RC(gcmap_gc_collect(gc), 1);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 1);
	ck_assert_int_eq(a.finalized, 1); /* obj_fin, not obj_fin_other */
	ck_assert_int_eq(b.finalized, 0);
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
}
END_TEST

START_TEST(test_badinput_gc_unregister)
{
	struct gcmap *m = new_map(GCMAP_KEY_U64, 0);
	struct gcmap_gc *gc = new_gc();
	struct obj a = { 0 }, b = { 0 };
	struct call c = { .gc = gc, .obj = &a };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_OK(gcmap_gc_register(gc, &a, obj_fin, NULL, NULL));
	CK_RC(gcmap_put_u64(m, 1, &a, NULL), 1);
	CK_REJECT(m, gc, gcmap_gc_unregister(NULL, &a), -EINVAL);
	CK_REJECT(m, gc, gcmap_gc_unregister(gc, NULL), -EINVAL);
	CK_REJECT(m, gc, unregistered(FN_GC_UNREGISTER, &c), -EPERM);
	CK_REJECT(m, gc, gcmap_gc_unregister(gc, &b), -ENOENT);
	CK_OK(gcmap_gc_unregister(gc, &a));
	CK_REJECT(m, gc, gcmap_gc_unregister(gc, &a), -ENOENT);
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
}
END_TEST

START_TEST(test_badinput_gc_root_add)
{
	struct gcmap *m = new_map(GCMAP_KEY_U64, 0);
	struct gcmap_gc *gc = new_gc();
	struct obj a = { 0 }, b = { 0 };
	struct call c = { .gc = gc, .obj = &a };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_OK(gcmap_gc_register(gc, &a, obj_fin, NULL, NULL));
	CK_REJECT(m, gc, gcmap_gc_root_add(NULL, &a), -EINVAL);
	CK_REJECT(m, gc, gcmap_gc_root_add(gc, NULL), -EINVAL);
	CK_REJECT(m, gc, unregistered(FN_GC_ROOT_ADD, &c), -EPERM);
	CK_REJECT(m, gc, gcmap_gc_root_add(gc, &b), -ENOENT);
	/* The rejected calls added no root: @a is collected. */
	CK_RC(gcmap_gc_collect(gc), 1);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 1);
	ck_assert_int_eq(a.finalized, 1);
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
}
END_TEST

START_TEST(test_badinput_gc_root_remove)
{
	struct gcmap *m = new_map(GCMAP_KEY_U64, 0);
	struct gcmap_gc *gc = new_gc();
	struct obj a = { 0 }, b = { 0 };
	struct call c = { .gc = gc, .obj = &a };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_OK(gcmap_gc_register(gc, &a, obj_fin, NULL, NULL));
	CK_OK(gcmap_gc_register(gc, &b, obj_fin, NULL, NULL));
	CK_REJECT(m, gc, gcmap_gc_root_remove(gc, &a), -ENOENT); /* not a root */
	CK_OK(gcmap_gc_root_add(gc, &a));
	CK_REJECT(m, gc, gcmap_gc_root_remove(NULL, &a), -EINVAL);
	CK_REJECT(m, gc, gcmap_gc_root_remove(gc, NULL), -EINVAL);
	CK_REJECT(m, gc, unregistered(FN_GC_ROOT_REMOVE, &c), -EPERM);
	CK_REJECT(m, gc, gcmap_gc_root_remove(gc, &b), -ENOENT);
	CK_REJECT(m, gc, gcmap_gc_root_remove(gc, (void *)&c), -ENOENT); /* never registered */
	/* @a is still a root after the rejections: it survives, @b does not;
	 * one remove undoes the one add, a second one is refused. */
	CK_RC(gcmap_gc_collect(gc), 1);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 1);
	ck_assert_int_eq(a.finalized, 0);
	ck_assert_int_eq(b.finalized, 1);
	CK_OK(gcmap_gc_root_remove(gc, &a));
	CK_REJECT(m, gc, gcmap_gc_root_remove(gc, &a), -ENOENT);
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
}
END_TEST

START_TEST(test_badinput_gc_store)
{
	struct gcmap *m = new_map(GCMAP_KEY_U64, 0);
	struct gcmap_gc *gc = new_gc();
	struct obj a = { 0 }, b = { 0 };
	struct call c = { .gc = gc, .obj = &b, .field = &a.child };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_OK(gcmap_gc_register(gc, &a, obj_fin, obj_trace, NULL));
	CK_OK(gcmap_gc_register(gc, &b, obj_fin, obj_trace, NULL));
	CK_RC(gcmap_put_u64(m, 1, &a, NULL), 1);
	CK_REJECT(m, gc, gcmap_gc_store(NULL, &a.child, &b), -EINVAL);
	CK_REJECT(m, gc, gcmap_gc_store(gc, NULL, &b), -EINVAL);
	CK_REJECT(m, gc, unregistered(FN_GC_STORE, &c), -EPERM);
	ck_assert_ptr_null(gcmap_gc_load(&a.child));
	/* Nothing was stored: @b is unreachable and collected. */
	CK_RC(gcmap_gc_collect(gc), 1);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 1);
	ck_assert_int_eq(a.finalized, 0);
	ck_assert_int_eq(b.finalized, 1);
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
}
END_TEST

START_TEST(test_badinput_gc_load)
{
	void *field = NULL;

	/* No error to report (see the top of the file): a NULL field is the
	 * caller's bug. Loads of a NULL and a non-NULL field. */
	ck_assert_ptr_null(gcmap_gc_load(&field));
	field = &field;
	ck_assert_ptr_eq(gcmap_gc_load(&field), &field);
}
END_TEST

START_TEST(test_badinput_gc_begin)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 10);
	struct gcmap_gc *gc = new_gc();
	struct call c = { .gc = gc };
	struct obj a = { 0 };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_OK(gcmap_gc_register(gc, &a, obj_fin, NULL, NULL));
	CK_REJECT(m, gc, gcmap_gc_begin(NULL), -EINVAL);
	CK_REJECT(m, gc, unregistered(FN_GC_BEGIN, &c), -EPERM);
	CK_OK(gcmap_read_lock());
	CK_REJECT(m, gc, gcmap_gc_begin(gc), -EDEADLK);
	CK_OK(gcmap_read_unlock());
	/* Busy: a cycle is marking, then one has marked and awaits its sweep. */
	CK_OK(gcmap_gc_begin(gc));
	CK_REJECT(m, gc, gcmap_gc_begin(gc), -EBUSY);
	CK_OK(gcmap_gc_step(gc, UINT_MAX));
	CK_REJECT(m, gc, gcmap_gc_begin(gc), -EBUSY);
	/* The cycle in progress was not disturbed. */
	CK_RC(gcmap_gc_finish(gc), 1);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 1);
	ck_assert_int_eq(a.finalized, 1);
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
}
END_TEST

START_TEST(test_badinput_gc_step)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 10);
	struct gcmap_gc *gc = new_gc();
	struct call c = { .gc = gc };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_REJECT(m, gc, gcmap_gc_step(gc, 10), -EINVAL); /* no cycle */
	CK_REJECT(m, gc, gcmap_gc_step(gc, UINT_MAX), -EINVAL);
	CK_OK(gcmap_gc_begin(gc));
	CK_REJECT(m, gc, gcmap_gc_step(NULL, 10), -EINVAL);
	CK_REJECT(m, gc, unregistered(FN_GC_STEP, &c), -EPERM);
	CK_OK(gcmap_read_lock());
	CK_REJECT(m, gc, gcmap_gc_step(gc, 10), -EDEADLK);
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_gc_step(gc, UINT_MAX));
	CK_OK(gcmap_gc_step(gc, 10)); /* marking done: still 0 until finish */
	CK_OK(gcmap_gc_finish(gc));
	CK_REJECT(m, gc, gcmap_gc_step(gc, 10), -EINVAL); /* finished */
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
}
END_TEST

START_TEST(test_badinput_gc_finish)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 10);
	struct gcmap_gc *gc = new_gc();
	struct call c = { .gc = gc };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_REJECT(m, gc, gcmap_gc_finish(gc), -EINVAL); /* no cycle */
	CK_OK(gcmap_gc_begin(gc));
	CK_REJECT(m, gc, unregistered(FN_GC_FINISH, &c), -EPERM);
	CK_OK(gcmap_read_lock());
	CK_REJECT(m, gc, gcmap_gc_finish(gc), -EDEADLK);
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_gc_finish(gc));
	CK_REJECT(m, gc, gcmap_gc_finish(gc), -EINVAL); /* finished */
	/* Last: a NULL domain (this crashed once). */
	CK_REJECT(m, gc, gcmap_gc_finish(NULL), -EINVAL);
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
}
END_TEST

START_TEST(test_badinput_gc_collect)
{
	struct gcmap *m = filled_map(GCMAP_KEY_U64, 10);
	struct gcmap_gc *gc = new_gc();
	struct call c = { .gc = gc };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_REJECT(m, gc, gcmap_gc_collect(NULL), -EINVAL);
	CK_REJECT(m, gc, unregistered(FN_GC_COLLECT, &c), -EPERM);
	CK_OK(gcmap_read_lock());
	CK_REJECT(m, gc, gcmap_gc_collect(gc), -EDEADLK);
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_gc_begin(gc));
	CK_REJECT(m, gc, gcmap_gc_collect(gc), -EBUSY);
	CK_OK(gcmap_gc_finish(gc));
	CK_OK(gcmap_gc_collect(gc));
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
}
END_TEST

START_TEST(test_badinput_gc_run_finalizers)
{
	struct gcmap *m = new_map(GCMAP_KEY_U64, 0);
	struct gcmap_gc *gc = new_gc();
	struct call c = { .gc = gc };
	struct obj a = { 0 };

	CK_OK(gcmap_gc_attach(gc, m));
	CK_OK(gcmap_gc_register(gc, &a, obj_fin, NULL, NULL));
	CK_RC(gcmap_gc_collect(gc), 1);
	/* One finalizer is ready; rejected calls do not run it. */
	CK_REJECT(m, gc, gcmap_gc_run_finalizers(NULL, 0), -EINVAL);
	CK_REJECT(m, gc, unregistered(FN_GC_RUN_FINALIZERS, &c), -EPERM);
	CK_OK(gcmap_read_lock());
	CK_REJECT(m, gc, gcmap_gc_run_finalizers(gc, UINT_MAX), -EDEADLK);
	CK_OK(gcmap_read_unlock());
	ck_assert_int_eq(a.finalized, 0);
	CK_RC(gcmap_gc_run_finalizers(gc, UINT_MAX), 1);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 0);
	ck_assert_int_eq(a.finalized, 1);
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
}
END_TEST

struct gc_stats_buf {
	struct gcmap_gc_stats st;
	unsigned char after[32];
};

START_TEST(test_badinput_gc_stats)
{
	struct gcmap *m = new_map(GCMAP_KEY_U64, 0);
	struct gcmap_gc *gc = new_gc();
	struct call c = { .gc = gc };
	struct gc_stats_buf sb, ref;

	CK_OK(gcmap_gc_attach(gc, m));
	memset(&sb, 0xa5, sizeof(sb));
	sb.st.size = 0;
	ref = sb;
	CK_REJECT(m, gc, gcmap_gc_stats(NULL, &sb.st), -EINVAL);
	CK_REJECT(m, gc, gcmap_gc_stats(gc, NULL), -EINVAL);
	CK_REJECT(m, gc, gcmap_gc_stats(NULL, NULL), -EINVAL);
	CK_REJECT(m, gc, gcmap_gc_stats(gc, &sb.st), -EINVAL);
	sb.st.size = ref.st.size = sizeof(sb.st) - 1;
	CK_REJECT(m, gc, gcmap_gc_stats(gc, &sb.st), -EINVAL);
	ck_assert_msg(memcmp(&sb, &ref, sizeof(sb)) == 0, "a rejected gcmap_gc_stats() wrote");
	CK_REJECT(m, gc, unregistered(FN_GC_STATS, &c), -EPERM);
	sb.st.size = sizeof(sb);
	CK_OK(gcmap_gc_stats(gc, &sb.st));
	ck_assert_uint_eq(sb.st.maps, 1);
	for (size_t i = 0; i < sizeof(sb.after); i++)
		ck_assert_uint_eq(sb.after[i], 0xa5);
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
}
END_TEST

START_TEST(test_badinput_gc_stats_json)
{
	struct gcmap *m = new_map(GCMAP_KEY_U64, 0);
	struct gcmap_gc *gc = new_gc();
	struct call c = { .gc = gc };

	CK_OK(gcmap_gc_attach(gc, m));
	{
		struct snap b, a;

		snap_take(m, gc, &b);
		check_json(gc_json, gc);
		snap_take(m, gc, &a);
		snap_same(&b, &a, "gcmap_gc_stats_json()");
	}
	memset(c.buf, 'x', sizeof(c.buf));
	CK_REJECT(m, gc, unregistered(FN_GC_STATS_JSON, &c), -EPERM);
	ck_assert_int_eq(c.buf[0], 'x');
	CK_OK(gcmap_gc_destroy(gc));
	destroy(m);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* gcmap_strerror                                                         */

START_TEST(test_badinput_strerror)
{
	/* Every code a function of gcmap.h documents, -EAGAIN included
	 * (pthread_create()'s error, negated, from the GCMAP_F_BACKGROUND
	 * and GCMAP_GC_F_BACKGROUND creations), has its own text. */
	static const int documented[] = { -ENOMEM, -EEXIST,   -ENOENT,	-EINVAL,    -E2BIG, -EPERM,
					  -EBUSY,  -EALREADY, -EDEADLK, -ECANCELED, -EAGAIN };
	const char *unknown = gcmap_strerror(-99999);

	for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++) {
		const char *s = gcmap_strerror(documented[i]);

		ck_assert_msg(s != NULL && strcmp(s, unknown) != 0,
			      "gcmap_strerror(%d) is \"%s\", the text of unknown codes",
			      documented[i], s ? s : "(null)");
	}
	/* Any int, from any thread, gets a string. */
	for (long e = -200; e <= 200; e++)
		ck_assert_ptr_nonnull(gcmap_strerror((int)e));
	ck_assert_ptr_nonnull(gcmap_strerror(INT_MIN));
	ck_assert_ptr_nonnull(gcmap_strerror(INT_MAX));
	CK_OK(gcmap_thread_unregister());
	ck_assert_ptr_nonnull(gcmap_strerror(-EINVAL));
	CK_OK(gcmap_thread_register());
}
END_TEST

static Suite *badinput_suite(void)
{
	Suite *s = suite_create("badinput");
	TCase *tc;

	tc = tcase_create("rcu");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_badinput_thread_register);
	tcase_add_test(tc, test_badinput_thread_unregister);
	tcase_add_test(tc, test_badinput_thread_registered);
	tcase_add_test(tc, test_badinput_read_lock);
	tcase_add_test(tc, test_badinput_read_unlock);
	tcase_add_test(tc, test_badinput_synchronize);
	tcase_add_test(tc, test_badinput_defer_free);
	tcase_add_test(tc, test_badinput_barrier);
	suite_add_tcase(s, tc);

	tc = tcase_create("map");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_badinput_create);
	tcase_add_test(tc, test_badinput_destroy);
	tcase_add_test(tc, test_badinput_destroy_during_cycle);
	tcase_add_test(tc, test_badinput_destroy_background);
#if defined(GCMAP_DEBUG) && defined(GCMAP_TESTHOOKS)
	tcase_add_test(tc, test_badinput_destroy_op_in_flight);
	tcase_add_test(tc, test_badinput_destroy_maintain_in_flight);
#endif
	tcase_add_test(tc, test_badinput_get_u64);
	tcase_add_test(tc, test_badinput_put_u64);
	tcase_add_test(tc, test_badinput_insert_u64);
	tcase_add_test(tc, test_badinput_replace_u64);
	tcase_add_test(tc, test_badinput_cas_u64);
	tcase_add_test(tc, test_badinput_delete_u64);
	tcase_add_test(tc, test_badinput_get_bytes);
	tcase_add_test(tc, test_badinput_put_bytes);
	tcase_add_test(tc, test_badinput_insert_bytes);
	tcase_add_test(tc, test_badinput_replace_bytes);
	tcase_add_test(tc, test_badinput_cas_bytes);
	tcase_add_test(tc, test_badinput_delete_bytes);
	tcase_add_loop_test(tc, test_badinput_count, 0, 2);
	tcase_add_loop_test(tc, test_badinput_clear, 0, 2);
	tcase_add_test(tc, test_badinput_maintain);
	suite_add_tcase(s, tc);

	tc = tcase_create("iter");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_badinput_iter_begin, 0, 2);
	tcase_add_loop_test(tc, test_badinput_iter_next, 0, 2);
	tcase_add_loop_test(tc, test_badinput_iter_end, 0, 2);
	tcase_add_loop_test(tc, test_badinput_foreach, 0, 2);
	tcase_add_loop_test(tc, test_badinput_stats, 0, 2);
	tcase_add_test(tc, test_badinput_stats_json);
	suite_add_tcase(s, tc);

	tc = tcase_create("gc");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_badinput_gc_create);
	tcase_add_test(tc, test_badinput_gc_destroy);
	tcase_add_test(tc, test_badinput_gc_attach);
	tcase_add_test(tc, test_badinput_gc_detach);
	tcase_add_test(tc, test_badinput_gc_register);
	tcase_add_test(tc, test_badinput_gc_unregister);
	tcase_add_test(tc, test_badinput_gc_root_add);
	tcase_add_test(tc, test_badinput_gc_root_remove);
	tcase_add_test(tc, test_badinput_gc_store);
	tcase_add_test(tc, test_badinput_gc_load);
	tcase_add_test(tc, test_badinput_gc_begin);
	tcase_add_test(tc, test_badinput_gc_step);
	tcase_add_test(tc, test_badinput_gc_finish);
	tcase_add_test(tc, test_badinput_gc_collect);
	tcase_add_test(tc, test_badinput_gc_run_finalizers);
	tcase_add_test(tc, test_badinput_gc_stats);
	tcase_add_test(tc, test_badinput_gc_stats_json);
	tcase_add_test(tc, test_badinput_strerror);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(badinput_suite());
}
