/*
 * check_alloc.c - allocation failure at every allocation site. A fault-
 * injecting allocator (struct gcmap_allocator, also installed as the
 * process-wide allocator for gcmap_defer_free's node) fails the k-th
 * allocation; a scripted workload runs for k = 1, 2, ... until no failure
 * is injected. The script: inserts, u64 and byte-string keys, growth,
 * shrinking, iteration, clear, a collector cycle with finalizers that
 * unregister their objects. After each -ENOMEM the map must be unchanged and valid;
 * after destroy + barrier every byte must be freed, with the size it was
 * allocated with. Every site of enum gcmap__site must have been failed.
 */
#include "test_util.h"

#include <stdlib.h>

/* ---- the fault-injecting allocator ---- */

#define HDR 16 /* header before each block: keeps 16-byte alignment */
#define BLOCK_MAGIC 0x6661756c74626c6bull
#define MAX_SIZES 1024

struct size_count {
	size_t size;
	unsigned long allocs, frees;
};

struct fa {
	unsigned long nallocs; /* allocation calls so far (atomic) */
	unsigned long fail_at; /* fail the call with this number; 0: never */
	unsigned long fail_from; /* fail every call from this number on; 0: never */
	int injected; /* a failure was injected */
	int last_site; /* site of the latest allocation call */
	size_t bytes_alloc, bytes_freed; /* atomic */
	unsigned long nfrees; /* atomic */
	unsigned long bad_frees; /* frees with a wrong size or header (atomic) */
	pthread_mutex_t lock; /* protects sizes[] */
	struct size_count sizes[MAX_SIZES];
	unsigned int nsizes;
};

/* Sites failed over the whole test binary run (one process per test). */
static unsigned long site_failed[GCMAP_NR_SITES];

static void count_size(struct fa *fa, size_t size, bool alloc)
{
	unsigned int i;

	pthread_mutex_lock(&fa->lock);
	for (i = 0; i < fa->nsizes && fa->sizes[i].size != size; i++)
		;
	if (i == fa->nsizes && i < MAX_SIZES) {
		fa->sizes[i].size = size;
		fa->nsizes++;
	}
	if (i < MAX_SIZES) {
		if (alloc)
			fa->sizes[i].allocs++;
		else
			fa->sizes[i].frees++;
	}
	pthread_mutex_unlock(&fa->lock);
}

static void *fa_alloc(size_t size, bool zero, void *ctx)
{
	struct fa *fa = ctx;
	unsigned long n = __atomic_add_fetch(&fa->nallocs, 1, __ATOMIC_RELAXED);
	enum gcmap__site site = gcmap__alloc_site();
	unsigned long fail_at = __atomic_load_n(&fa->fail_at, __ATOMIC_RELAXED);
	unsigned long fail_from = __atomic_load_n(&fa->fail_from, __ATOMIC_RELAXED);
	unsigned char *p;

	__atomic_store_n(&fa->last_site, (int)site, __ATOMIC_RELAXED);
	if ((fail_at && n == fail_at) || (fail_from && n >= fail_from)) {
		__atomic_store_n(&fa->injected, 1, __ATOMIC_RELAXED);
		if ((unsigned int)site < GCMAP_NR_SITES)
			__atomic_add_fetch(&site_failed[site], 1, __ATOMIC_RELAXED);
		return NULL;
	}
	p = zero ? calloc(1, size + HDR) : malloc(size + HDR);
	if (!p)
		return NULL;
	((size_t *)(void *)p)[0] = size;
	((uint64_t *)(void *)p)[1] = BLOCK_MAGIC;
	__atomic_add_fetch(&fa->bytes_alloc, size, __ATOMIC_RELAXED);
	count_size(fa, size, true);
	if (!zero)
		memset(p + HDR, 0xa5, size); /* catch reads of uninitialised memory */
	return p + HDR;
}

static void *fa_malloc(size_t size, void *ctx)
{
	return fa_alloc(size, false, ctx);
}

static void *fa_zalloc(size_t size, void *ctx)
{
	return fa_alloc(size, true, ctx);
}

static void fa_free(void *ptr, size_t size, void *ctx)
{
	struct fa *fa = ctx;
	unsigned char *p;

	if (!ptr)
		return;
	p = (unsigned char *)ptr - HDR;
	if (((size_t *)(void *)p)[0] != size || ((uint64_t *)(void *)p)[1] != BLOCK_MAGIC) {
		/* Called from the call_rcu thread too: record, never assert. */
		__atomic_add_fetch(&fa->bad_frees, 1, __ATOMIC_RELAXED);
		return;
	}
	((uint64_t *)(void *)p)[1] = 0; /* a double free shows as a bad header */
	memset(p + HDR, 0x5a, size); /* poison: a use after free reads garbage */
	__atomic_add_fetch(&fa->bytes_freed, size, __ATOMIC_RELAXED);
	__atomic_add_fetch(&fa->nfrees, 1, __ATOMIC_RELAXED);
	count_size(fa, size, false);
	free(p);
}

static void fa_init(struct fa *fa, struct gcmap_allocator *hooks)
{
	memset(fa, 0, sizeof(*fa));
	pthread_mutex_init(&fa->lock, NULL);
	hooks->malloc = fa_malloc;
	hooks->zalloc = fa_zalloc;
	hooks->free = fa_free;
	hooks->ctx = fa;
}

static unsigned long fa_calls(struct fa *fa)
{
	return __atomic_load_n(&fa->nallocs, __ATOMIC_RELAXED);
}

/* Everything allocated was freed, each size as often as allocated. */
static void fa_check_balanced(struct fa *fa, const char *where)
{
	ck_assert_msg(fa->bad_frees == 0, "%s: %lu frees with a wrong size or a bad header", where,
		      fa->bad_frees);
	ck_assert_msg(fa->bytes_alloc == fa->bytes_freed,
		      "%s: leak: %zu bytes allocated, %zu freed", where, fa->bytes_alloc,
		      fa->bytes_freed);
	ck_assert_msg(fa->nsizes < MAX_SIZES, "%s: too many distinct sizes", where);
	for (unsigned int i = 0; i < fa->nsizes; i++)
		ck_assert_msg(fa->sizes[i].allocs == fa->sizes[i].frees,
			      "%s: size %zu: %lu allocations, %lu frees", where, fa->sizes[i].size,
			      fa->sizes[i].allocs, fa->sizes[i].frees);
}

/* ---- the scripted workload ---- */

#define NKEYS 128

struct run {
	struct fa *fa;
	struct gcmap *m;
	int kind;
	unsigned long k;
	void *model[NKEYS]; /* NULL: absent (values are never NULL) */
	unsigned long gen;
	unsigned int enomem;
};

static void *new_val(struct run *r, uint64_t key)
{
	return val_of((key << 20) | (++r->gen & 0xfffff) | 1);
}

static void verify_all(struct run *r, const char *where, uint64_t key)
{
	size_t present = 0, n = 0;

	for (uint64_t i = 0; i < NKEYS; i++) {
		void *v = NULL;
		int rc = k_get(r->m, r->kind, i, &v);

		if (r->model[i]) {
			ck_assert_msg(
				rc == 0 && v == r->model[i],
				"k=%lu %s %s(%llu) [failed site %s]: key %llu lost or changed "
				"(rc %d, %p, want %p)",
				r->k, kind_name(r->kind), where, (unsigned long long)key,
				gcmap__site_name((enum gcmap__site)r->fa->last_site),
				(unsigned long long)i, rc, v, r->model[i]);
			present++;
		} else {
			ck_assert_msg(rc == -ENOENT,
				      "k=%lu %s %s(%llu) [failed site %s]: absent key %llu found "
				      "(rc %d)",
				      r->k, kind_name(r->kind), where, (unsigned long long)key,
				      gcmap__site_name((enum gcmap__site)r->fa->last_site),
				      (unsigned long long)i, rc);
		}
	}
	CK_OK(gcmap_count(r->m, &n));
	ck_assert_msg(n == present, "k=%lu %s after %s(%llu) [site %s]: count %zu, %zu present",
		      r->k, kind_name(r->kind), where, (unsigned long long)key,
		      gcmap__site_name((enum gcmap__site)r->fa->last_site), n, present);
	ck_assert_msg(gcmap__check_invariants(r->m) == 0,
		      "k=%lu %s after %s(%llu) [site %s]: invariants broken", r->k,
		      kind_name(r->kind), where, (unsigned long long)key,
		      gcmap__site_name((enum gcmap__site)r->fa->last_site));
}

/* Handle an operation's -ENOMEM; true when the operation succeeded. */
static bool after(struct run *r, int rc, const char *op, uint64_t key, bool may_enomem)
{
	if (rc != -ENOMEM)
		return true;
	ck_assert_msg(may_enomem, "k=%lu %s: %s(%llu) returned -ENOMEM (site %s)", r->k,
		      kind_name(r->kind), op, (unsigned long long)key,
		      gcmap__site_name((enum gcmap__site)r->fa->last_site));
	ck_assert_msg(r->fa->injected, "k=%lu %s: %s(%llu) returned -ENOMEM, nothing failed", r->k,
		      kind_name(r->kind), op, (unsigned long long)key);
	r->enomem++;
	verify_all(r, op, key);
	return false;
}

static void op_put(struct run *r, uint64_t key)
{
	void *v = new_val(r, key), *old = SENTINEL;
	int rc = k_put(r->m, r->kind, key, v, &old);

	if (!after(r, rc, "put", key, true))
		return;
	ck_assert_msg(rc == (r->model[key] ? 0 : 1), "k=%lu put(%llu) = %d", r->k,
		      (unsigned long long)key, rc);
	ck_assert_ptr_eq(old, r->model[key]);
	r->model[key] = v;
}

static void op_insert(struct run *r, uint64_t key)
{
	void *v = new_val(r, key), *cur = NULL;
	int rc = k_insert(r->m, r->kind, key, v, &cur);

	if (!after(r, rc, "insert", key, true))
		return;
	if (r->model[key]) {
		ck_assert_int_eq(rc, -EEXIST);
		ck_assert_ptr_eq(cur, r->model[key]);
	} else {
		ck_assert_msg(rc == 0, "k=%lu insert(%llu) = %d", r->k, (unsigned long long)key,
			      rc);
		r->model[key] = v;
	}
}

static void op_replace(struct run *r, uint64_t key)
{
	void *v = new_val(r, key), *old = NULL;
	int rc = k_replace(r->m, r->kind, key, v, &old);

	after(r, rc, "replace", key, false);
	if (r->model[key]) {
		ck_assert_int_eq(rc, 0);
		ck_assert_ptr_eq(old, r->model[key]);
		r->model[key] = v;
	} else {
		ck_assert_int_eq(rc, -ENOENT);
	}
}

static void op_cas(struct run *r, uint64_t key, bool match)
{
	void *v = new_val(r, key), *cur = NULL;
	void *expected = match ? r->model[key] : val_of(2);
	int rc = k_cas(r->m, r->kind, key, expected, v, &cur);

	after(r, rc, "cas", key, false);
	if (!r->model[key]) {
		ck_assert_int_eq(rc, -ENOENT);
	} else if (match) {
		ck_assert_int_eq(rc, 0);
		ck_assert_ptr_eq(cur, r->model[key]);
		r->model[key] = v;
	} else {
		ck_assert_int_eq(rc, -ECANCELED);
		ck_assert_ptr_eq(cur, r->model[key]);
	}
}

/* Deletes that allocated (asserted at the end, after the site coverage). */
static unsigned long delete_allocs;
static char delete_alloc_msg[160];

/*
 * Allocations a delete may not make: anything but evacuation work (a new
 * table, its bucket array, a move's overflow buckets), which a delete may
 * help with or start; those failing must not fail the delete.
 */
static unsigned long non_evac_calls(void)
{
	unsigned long n = 0;

	for (int s = 0; s < GCMAP_NR_SITES; s++)
		if (s != GCMAP_SITE_TABLE && s != GCMAP_SITE_BUCKETS && s != GCMAP_SITE_EVAC)
			n += __atomic_load_n(&gcmap__site_calls[s], __ATOMIC_RELAXED);
	return n;
}

/* Delete allocates only for evacuation work and never fails with -ENOMEM. */
static void op_delete(struct run *r, uint64_t key)
{
	unsigned long before = non_evac_calls();
	void *old = NULL;
	int rc = k_delete(r->m, r->kind, key, &old);

	if (non_evac_calls() != before && delete_allocs++ == 0)
		snprintf(delete_alloc_msg, sizeof(delete_alloc_msg),
			 "k=%lu %s delete(%llu) allocated (site %s)", r->k, kind_name(r->kind),
			 (unsigned long long)key,
			 gcmap__site_name((enum gcmap__site)r->fa->last_site));
	after(r, rc, "delete", key, false);
	if (r->model[key]) {
		ck_assert_int_eq(rc, 0);
		ck_assert_ptr_eq(old, r->model[key]);
		r->model[key] = NULL;
	} else {
		ck_assert_int_eq(rc, -ENOENT);
	}
}

static void op_clear(struct run *r)
{
	int rc = gcmap_clear(r->m);

	if (!after(r, rc, "clear", 0, true))
		return;
	CK_OK(rc);
	memset(r->model, 0, sizeof(r->model));
}

static void op_defer(struct run *r)
{
	void *p = malloc(24);
	int rc;

	ck_assert_ptr_nonnull(p);
	rc = gcmap_defer_free(p, NULL);
	if (rc == -ENOMEM) {
		ck_assert(r->fa->injected);
		free(p); /* nothing was scheduled: still ours */
		r->enomem++;
		return;
	}
	CK_OK(rc);
}

static void op_maintain(struct run *r)
{
	for (int i = 0; i < 1000; i++) {
		int rc = gcmap_maintain(r->m, 16, 0);

		if (rc == -ENOMEM) {
			ck_assert(r->fa->injected);
			r->enomem++;
			verify_all(r, "maintain", 0);
			continue; /* retried; the injected failure happens once */
		}
		ck_assert_msg(rc >= 0, "maintain = %d", rc);
		if (rc == 0)
			break;
	}
}

/*
 * Iterate: with no writer running, exactly the model's keys, once each, with
 * their values (a value encodes its key, see new_val()). An injected
 * failure returns -ENOMEM from begin or next and leaves the map as it was.
 */
static void op_iterate(struct run *r)
{
	unsigned char seen[NKEYS];
	struct gcmap_iter *it;
	struct gcmap_entry e;
	int rc;

	memset(seen, 0, sizeof(seen));
	rc = gcmap_iter_begin(r->m, &it);
	if (!after(r, rc, "iter_begin", 0, true))
		return;
	CK_OK(rc);
	while ((rc = gcmap_iter_next(it, &e)) == 1) {
		uint64_t key = u64_of(e.value) >> 20;

		ck_assert_uint_lt(key, NKEYS);
		ck_assert_ptr_eq(e.value, r->model[key]);
		ck_assert_msg(!seen[key]++, "key %llu returned twice", (unsigned long long)key);
	}
	CK_OK(gcmap_iter_end(it));
	if (!after(r, rc, "iter_next", 0, true))
		return;
	CK_OK(rc);
	for (uint64_t i = 0; i < NKEYS; i++)
		ck_assert_msg(seen[i] == (r->model[i] != NULL), "key %llu: seen %u, present %d",
			      (unsigned long long)i, seen[i], r->model[i] != NULL);
}

static unsigned int gc_finalized, gc_fin_unregistered;

/* The finalizer unregisters its object, as a program's would (the registry
 * delete allocates nothing; its entry is freed after a grace period). */
static void gc_fin(void *obj, void *arg)
{
	gc_finalized++;
	if (gcmap_gc_unregister(arg, obj) == 0)
		gc_fin_unregistered++;
}

/*
 * The collector under allocation failure: a domain, registrations, a cycle
 * (its iterators allocate), finalizers. A failed call returns -ENOMEM and
 * changes nothing: a failed registration leaves the object unregistered; a
 * failed cycle leaves every object alive (nothing finalized by mistake).
 */
static void op_gc(struct run *r)
{
	static char objs[8];
	struct gcmap_gc *gc;
	int rc, non_roots = 0;

	rc = gcmap_gc_create(NULL, &gc);
	if (!after(r, rc, "gc_create", 0, true))
		return;
	CK_OK(rc);
	rc = gcmap_gc_attach(gc, r->m);
	if (after(r, rc, "gc_attach", 0, true))
		CK_OK(rc);
	gc_finalized = 0;
	gc_fin_unregistered = 0;
	for (int i = 0; i < 8; i++) {
		rc = gcmap_gc_register(gc, &objs[i], gc_fin, NULL, gc);
		if (!after(r, rc, "gc_register", (uint64_t)i, true))
			continue;
		CK_OK(rc);
		if (i < 4)
			CK_OK(gcmap_gc_root_add(gc, &objs[i]));
		else
			non_roots++;
	}
	rc = gcmap_gc_collect(gc);
	if (after(r, rc, "gc_collect", 0, true)) {
		ck_assert_int_ge(rc, 0);
		CK_OK(gcmap_gc_run_finalizers(gc, 0) >= 0 ? 0 : -1);
		/* The registered non-roots, and only they, are finalized, and
		 * each finalizer could unregister its object. */
		ck_assert_int_eq(gc_finalized, non_roots);
		ck_assert_int_eq(gc_fin_unregistered, non_roots);
		if (r->k == 0)
			ck_assert_int_eq(non_roots, 4);
	}
	CK_OK(gcmap_gc_destroy(gc));
}

/*
 * One run of the script with the k-th allocation failing (k = 0: none).
 * Returns whether a failure was injected.
 */
static bool run_script(int kind, unsigned long k)
{
	static struct run r;
	struct fa fa;
	struct gcmap_allocator hooks;
	struct gcmap_options o;
	struct gcmap_stats st;
	int rc;
	char where[64];

	fa_init(&fa, &hooks);
	fa.fail_at = k;
	memset(&r, 0, sizeof(r));
	r.fa = &fa;
	r.kind = kind;
	r.k = k;
	gcmap__set_default_allocator(&hooks); /* gcmap_defer_free's node */

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.key_kind = (enum gcmap_key_kind)kind;
	o.log2_buckets = 1; /* 2 buckets x 8 slots: overflow chains at once */
	o.flags = GCMAP_F_FIXED_SEED;
	o.seed[0] = 42;
	o.seed[1] = 4242;
	o.allocator = &hooks;
	rc = gcmap_create(&o, &r.m);
	if (rc == -ENOMEM) {
		ck_assert(fa.injected);
		goto out;
	}
	CK_OK(rc);

	/* Fill past the table's slots: overflow buckets, key copies, growth. */
	for (uint64_t i = 0; i < 96; i++) {
		if (i % 2)
			op_put(&r, i);
		else
			op_insert(&r, i);
	}
	verify_all(&r, "fill", 0);
	for (uint64_t i = 0; i < 100; i += 3)
		op_replace(&r, i);
	for (uint64_t i = 0; i < 100; i += 5)
		op_cas(&r, i, i % 2 == 0);
	for (uint64_t i = 0; i < 96; i += 2)
		op_delete(&r, i);
	op_delete(&r, 1000 % NKEYS); /* absent or present: both checked */
	verify_all(&r, "delete", 0);
	for (int i = 0; i < 4; i++)
		op_defer(&r);
	op_maintain(&r);
	for (uint64_t i = 96; i < NKEYS; i++)
		op_put(&r, i);
	for (uint64_t i = 0; i < 40; i += 2)
		op_insert(&r, i);
	for (uint64_t i = 0; i < 40; i++)
		op_insert(&r, i); /* -EEXIST for most */
	verify_all(&r, "refill", 0);
	op_iterate(&r);
	/* Shrink: delete down to a few keys and let maintain finish the
	 * evacuations the deletes start. */
	for (uint64_t i = 0; i < NKEYS; i++)
		if (i % 16 != 1)
			op_delete(&r, i);
	op_maintain(&r);
	verify_all(&r, "shrink", 0);
	for (uint64_t i = 0; i < 32; i++)
		op_put(&r, i);
	op_gc(&r);
	verify_all(&r, "gc", 0);
	op_clear(&r);
	verify_all(&r, "clear", 0);
	for (uint64_t i = 0; i < 64; i++)
		op_put(&r, (i * 37) % NKEYS);
	for (uint64_t i = 0; i < 64; i += 4)
		op_delete(&r, (i * 37) % NKEYS);
	op_defer(&r);
	op_clear(&r);
	for (uint64_t i = 0; i < 24; i++)
		op_insert(&r, i);
	op_maintain(&r);
	verify_all(&r, "end", 0);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CK_OK(gcmap_stats(r.m, &st));
	ck_assert_uint_gt(st.bytes_allocated, 0);
	/* Without failures the script grows and shrinks the table. */
	if (k == 0)
		ck_assert_msg(st.grows > 0 && st.shrinks > 0, "%s: %lu grows, %lu shrinks",
			      kind_name(kind), st.grows, st.shrinks);
	CK_OK(gcmap_destroy(r.m));
out:
	CK_OK(gcmap_barrier());
	snprintf(where, sizeof(where), "%s k=%lu", kind_name(kind), k);
	fa_check_balanced(&fa, where);
	gcmap__set_default_allocator(NULL); /* after the barrier: nodes freed */
	pthread_mutex_destroy(&fa.lock);
	return fa.injected != 0;
}

START_TEST(test_alloc_every_failure_point)
{
	unsigned long k, runs[2] = { 0, 0 };

	CK_OK(gcmap_thread_register());
	/* A run without failures first: the script itself is right. */
	ck_assert(!run_script(GCMAP_KEY_U64, 0));
	ck_assert(!run_script(GCMAP_KEY_BYTES, 0));
	for (int kind = 0; kind < 2; kind++) {
		for (k = 1; k < 100000; k++)
			if (!run_script(kind, k))
				break;
		ck_assert_msg(k < 100000, "%s: the script never completed", kind_name(kind));
		runs[kind] = k;
	}
	printf("check_alloc: the script failed at each of its %lu (u64) and %lu (bytes) "
	       "allocations; failures per site:",
	       runs[0] - 1, runs[1] - 1);
	for (int s = 0; s < GCMAP_NR_SITES; s++)
		printf(" %s %lu", gcmap__site_name((enum gcmap__site)s), site_failed[s]);
	printf("\n");
	fflush(stdout);
	ck_assert_uint_gt(runs[0], 3);
	ck_assert_uint_gt(runs[1], runs[0]); /* byte keys allocate key copies */
	for (int s = 0; s < GCMAP_NR_SITES; s++)
		ck_assert_msg(site_failed[s] > 0,
			      "allocation site %d (%s) was never failed (%lu u64 runs, %lu bytes "
			      "runs)",
			      s, gcmap__site_name((enum gcmap__site)s), runs[0], runs[1]);
	ck_assert_msg(delete_allocs == 0, "%lu deletes allocated; first: %s", delete_allocs,
		      delete_alloc_msg);
	CK_OK(gcmap_thread_unregister());
}
END_TEST

/* With every allocation failing, deletes still work, and allocate nothing
 * but evacuation work (whose failure they ignore). */
START_TEST(test_alloc_delete_never_allocates)
{
	struct fa fa;
	struct gcmap_allocator hooks;
	struct gcmap *m;
	unsigned long before;
	size_t n;
	const uint64_t nkeys = 300;

	CK_OK(gcmap_thread_register());
	fa_init(&fa, &hooks);
	m = make_map(_i, 1, &hooks);
	for (uint64_t i = 0; i < nkeys; i++)
		CK_RC(k_put(m, _i, i, val_of(i + 1), NULL), 1);
	/* From now on every allocation fails. */
	before = fa_calls(&fa);
	__atomic_store_n(&fa.fail_from, before + 1, __ATOMIC_RELAXED);
	before = non_evac_calls();
	for (uint64_t i = 0; i < nkeys; i++) {
		void *v = NULL;

		ck_assert_msg(k_delete(m, _i, i, &v) == 0 && v == val_of(i + 1), "delete %llu",
			      (unsigned long long)i);
		ck_assert_msg(non_evac_calls() == before,
			      "delete(%llu) tried to allocate (site %s)", (unsigned long long)i,
			      gcmap__site_name((enum gcmap__site)fa.last_site));
		CK_RC(k_delete(m, _i, i, NULL), -ENOENT);
	}
	CK_OK(gcmap_count(m, &n));
	ck_assert_uint_eq(n, 0);
	CK_OK(gcmap__check_invariants(m));
	/* Inserts fail cleanly meanwhile (for byte keys, and once chains fill). */
	for (uint64_t i = 0; i < 50; i++) {
		int rc = k_put(m, _i, i, val_of(1), NULL);

		ck_assert(rc == 1 || rc == -ENOMEM);
		if (rc == -ENOMEM)
			CK_RC(k_get(m, _i, i, NULL), -ENOENT);
	}
	CK_OK(gcmap__check_invariants(m));
	__atomic_store_n(&fa.fail_from, 0, __ATOMIC_RELAXED);
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_barrier());
	fa_check_balanced(&fa, "delete test");
	CK_OK(gcmap_thread_unregister());
}
END_TEST

/* The allocator sees the sizes it handed out (checked in fa_free), and a
 * map without failures returns everything on destroy. */
START_TEST(test_alloc_balanced_no_failure)
{
	struct fa fa;
	struct gcmap_allocator hooks;
	struct gcmap *m;
	struct gcmap_stats st;
	unsigned char key[300];

	CK_OK(gcmap_thread_register());
	fa_init(&fa, &hooks);
	m = make_map(GCMAP_KEY_BYTES, 0, &hooks);
	for (unsigned int i = 0; i < 2000; i++) {
		size_t len = i % sizeof(key);

		memset(key, 0, sizeof(key));
		memcpy(key, &i, sizeof(i));
		CK_RC(gcmap_put_bytes(m, key, len < sizeof(i) ? sizeof(i) : len, val_of(i + 1),
				      NULL),
		      1);
	}
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	/* Retired tables are freed by the call_rcu thread: wait for those
	 * frees before comparing (and reading the counters they update). */
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_stats(m, &st));
	/* The map's own accounting agrees with the allocator's. */
	ck_assert_uint_eq(st.bytes_allocated, LOAD(&fa.bytes_alloc) - LOAD(&fa.bytes_freed));
	CK_OK(gcmap_clear(m));
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_stats(m, &st));
	ck_assert_uint_eq(st.bytes_allocated, LOAD(&fa.bytes_alloc) - LOAD(&fa.bytes_freed));
	ck_assert_uint_eq(st.bytes_pending, 0);
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_barrier());
	fa_check_balanced(&fa, "no failure");
	ck_assert_uint_gt(fa.nfrees, 2000);
	CK_OK(gcmap_thread_unregister());
}
END_TEST

static Suite *alloc_suite(void)
{
	Suite *s = suite_create("alloc");
	TCase *tc = tcase_create("alloc");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_alloc_every_failure_point);
	tcase_add_loop_test(tc, test_alloc_delete_never_allocates, 0, 2);
	tcase_add_test(tc, test_alloc_balanced_no_failure);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(alloc_suite());
}
