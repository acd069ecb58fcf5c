/*
 * check_concurrent.c - concurrency claims that can fail: per-key versions
 * never go backwards for readers, a published object is never seen half
 * initialised (release/acquire, and TSan sees the publication), insert/
 * delete churn on a tiny table keeps every acknowledged entry, and clear
 * racing with writers and readers leaves a consistent map. Workers record
 * failures; the test thread asserts after joining. Readers provably overlap
 * the writers (writers wait for reader progress; overlap is asserted).
 */
#include "test_util.h"

#include <stdlib.h>

/* Iteration counts bound every test (not wall time). */
#define VER_KEYS 16
#define VER_ROUNDS 100
#define VIS_KEYS 8
#define VIS_PUTS 1200
#define CHURN_THREADS 4
#define CHURN_PRIVATE 48
#define CHURN_SHARED 32
#define CHURN_ITERS 20000
#define CLEAR_KEYS 256
#define CLEAR_ROUNDS 30
#define CLEAR_OPS_PER_ROUND 500

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Wait (yielding) until *@p exceeds @than, *@stop is set or a failure is
 * recorded (a failed worker stops early and must not hang the others). */
static void wait_progress(const unsigned long *p, unsigned long than, const int *stop,
			  struct failrec *fr)
{
	while (LOAD(p) <= than && !LOAD(stop) && !failed(fr))
		sched_yield();
}

/* ---------------------------------------------------------------------- */
/* (a) version monotonicity                                               */

/* A heap version object (the heap variant): replaced by cas, freed deferred. */
struct ver {
	uint64_t v;
	uint64_t check; /* ~v: a freed or torn object shows up as a mismatch */
};

struct ver_ctx {
	struct gcmap *m;
	int kind;
	bool heap;
	struct failrec fr;
	int writers_done;
	int readers_stop;
	unsigned long reader_passes[2];
	unsigned long changes_seen; /* version increases observed by readers */
	unsigned long cas_retries;
};

/* Read key @k's current version; inside a read-side section for heap values. */
static bool ver_read(struct ver_ctx *c, uint64_t k, uint64_t *ver, void **raw)
{
	void *v = NULL;
	int rc = k_get(c->m, c->kind, k, &v);

	if (rc != 0) {
		fail_record(&c->fr, "get(%llu) = %d", (unsigned long long)k, rc);
		return false;
	}
	*raw = v;
	if (!c->heap) {
		*ver = u64_of(v);
		return true;
	}
	{
		const struct ver *o = v;

		if (o->check != ~o->v) {
			fail_record(&c->fr, "key %llu: torn or freed version object (%llx %llx)",
				    (unsigned long long)k, (unsigned long long)o->v,
				    (unsigned long long)o->check);
			return false;
		}
		*ver = o->v;
	}
	return true;
}

struct ver_arg {
	struct ver_ctx *c;
	int id;
};

static void *ver_writer(void *arg)
{
	struct ver_arg *a = arg;
	struct ver_ctx *c = a->c;

	worker_register(&c->fr);
	for (unsigned long r = 0; r < VER_ROUNDS && !failed(&c->fr); r++) {
		unsigned long p0 = LOAD(&c->reader_passes[0]), p1 = LOAD(&c->reader_passes[1]);

		/* The writers go through the keys in opposite orders and meet
		 * in the middle: their cas calls collide (-ECANCELED, retry). */
		for (uint64_t i = 0; i < VER_KEYS; i++) {
			uint64_t k = a->id ? VER_KEYS - 1 - i : i;

			for (;;) {
				uint64_t cur;
				void *raw, *next, *found = NULL;
				int rc;

				W_RC(&c->fr, gcmap_read_lock(), 0);
				if (!ver_read(c, k, &cur, &raw)) {
					W_RC(&c->fr, gcmap_read_unlock(), 0);
					break;
				}
				if (c->heap) {
					struct ver *o = malloc(sizeof(*o));

					o->v = cur + 1;
					o->check = ~o->v;
					next = o;
				} else {
					next = val_of(cur + 1);
				}
				rc = k_cas(c->m, c->kind, k, raw, next, &found);
				if (rc == 0 && c->heap)
					W_RC(&c->fr, gcmap_defer_free(raw, NULL), 0);
				W_RC(&c->fr, gcmap_read_unlock(), 0);
				if (rc == 0) {
					if (found != raw)
						fail_record(&c->fr, "cas: *cur %p != expected %p",
							    found, raw);
					break;
				}
				if (c->heap)
					free(next); /* never published */
				if (rc != -ECANCELED) {
					fail_record(&c->fr, "cas(%llu) = %d", (unsigned long long)k,
						    rc);
					break;
				}
				INC(&c->cas_retries);
			}
		}
		/* Pace: let both readers complete a pass over this round. */
		wait_progress(&c->reader_passes[0], p0 + 1, &c->readers_stop, &c->fr);
		wait_progress(&c->reader_passes[1], p1 + 1, &c->readers_stop, &c->fr);
	}
	worker_unregister(&c->fr);
	return NULL;
}

static void *ver_reader(void *arg)
{
	struct ver_arg *a = arg;
	struct ver_ctx *c = a->c;
	uint64_t last[VER_KEYS];
	unsigned long changes = 0;
	bool final = false;

	memset(last, 0, sizeof(last));
	worker_register(&c->fr);
	while (!final && !failed(&c->fr)) {
		final = LOAD(&c->writers_done) != 0; /* one more pass after the end */
		for (uint64_t k = 0; k < VER_KEYS; k++) {
			uint64_t v;
			void *raw;

			W_RC(&c->fr, gcmap_read_lock(), 0);
			if (ver_read(c, k, &v, &raw)) {
				if (v < last[k])
					fail_record(
						&c->fr,
						"reader %d: key %llu went back from %llu to %llu",
						a->id, (unsigned long long)k,
						(unsigned long long)last[k], (unsigned long long)v);
				else if (v > last[k] && last[k] != 0)
					changes++;
				last[k] = v;
			}
			W_RC(&c->fr, gcmap_read_unlock(), 0);
		}
		INC(&c->reader_passes[a->id]);
	}
	for (uint64_t k = 0; k < VER_KEYS && !failed(&c->fr); k++)
		if (last[k] != 1 + 2 * VER_ROUNDS)
			fail_record(&c->fr, "reader %d: final version of key %llu is %llu, want %d",
				    a->id, (unsigned long long)k, (unsigned long long)last[k],
				    1 + 2 * VER_ROUNDS);
	__atomic_add_fetch(&c->changes_seen, changes, __ATOMIC_RELAXED);
	worker_unregister(&c->fr);
	return NULL;
}

/* _i: bit 0 the key kind, bit 1 heap version objects. */
START_TEST(test_concurrent_versions_monotonic)
{
	static struct ver_ctx c;
	struct ver_arg ra[2], wa[2];
	pthread_t w[2], r[2];

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.fr.lock, NULL);
	c.kind = _i & 1;
	c.heap = (_i & 2) != 0;
	CK_OK(gcmap_thread_register());
	c.m = make_map(c.kind, 1, NULL);
	for (uint64_t k = 0; k < VER_KEYS; k++) {
		void *v = val_of(1);

		if (c.heap) {
			struct ver *o = malloc(sizeof(*o));

			o->v = 1;
			o->check = ~o->v;
			v = o;
		}
		CK_OK(k_insert(c.m, c.kind, k, v, NULL));
	}
	for (int i = 0; i < 2; i++) {
		ra[i].c = &c;
		ra[i].id = i;
		ck_assert_int_eq(pthread_create(&r[i], NULL, ver_reader, &ra[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		wa[i].c = &c;
		wa[i].id = i;
		ck_assert_int_eq(pthread_create(&w[i], NULL, ver_writer, &wa[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(w[i], NULL), 0);
	STORE(&c.writers_done, 1);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(r[i], NULL), 0);
	STORE(&c.readers_stop, 1);
	CK_NO_FAILURES(&c.fr);

	/* Overlap happened: readers saw versions change while running. */
	ck_assert_msg(c.changes_seen >= VER_ROUNDS,
		      "readers saw only %lu version changes in %d rounds: no overlap",
		      c.changes_seen, VER_ROUNDS);
	for (uint64_t k = 0; k < VER_KEYS; k++) {
		uint64_t v;
		void *raw;

		CK_OK(gcmap_read_lock());
		ck_assert(ver_read(&c, k, &v, &raw));
		CK_OK(gcmap_read_unlock());
		ck_assert_uint_eq(v, 1 + 2 * VER_ROUNDS);
		if (c.heap)
			CK_OK(gcmap_defer_free(raw, NULL));
	}
	CK_OK(gcmap__check_invariants(c.m));
	CK_OK(gcmap_destroy(c.m));
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_thread_unregister());
}
END_TEST

/* ---------------------------------------------------------------------- */
/* (b) release/acquire visibility of a published object                   */

struct pub {
	uint64_t f[8]; /* plain fields, written before the pointer is stored */
};

static uint64_t pub_field(uint64_t seq, uint64_t key, unsigned int i)
{
	return (seq * 0x9e3779b97f4a7c15ull) ^ (key << 32) ^ ((uint64_t)i * 0xff51afd7ed558ccdull);
}

struct vis_ctx {
	struct gcmap *m;
	int kind;
	struct failrec fr;
	int writers_done;
	int stop;
	unsigned long reader_passes[2];
	unsigned long new_seen; /* objects newer than the last one seen */
};

struct vis_arg {
	struct vis_ctx *c;
	int id;
};

static void *vis_writer(void *arg)
{
	struct vis_arg *a = arg;
	struct vis_ctx *c = a->c;

	worker_register(&c->fr);
	for (uint64_t seq = 1; seq <= VIS_PUTS && !failed(&c->fr); seq++) {
		/* Writer a->id owns the keys of its parity. */
		uint64_t key = (uint64_t)a->id + 2 * (seq % (VIS_KEYS / 2));
		struct pub *o = malloc(sizeof(*o));
		void *old = NULL;
		int rc;

		/* Plain initialisation; the put's release store publishes it. */
		o->f[0] = seq;
		for (unsigned int i = 1; i < 8; i++)
			o->f[i] = pub_field(seq, key, i);
		rc = k_put(c->m, c->kind, key, o, &old);
		if (rc != 0 && rc != 1)
			fail_record(&c->fr, "put = %d", rc);
		if (old)
			W_RC(&c->fr, gcmap_defer_free(old, NULL), 0);
		/* Pace: every few puts, wait until both readers made progress. */
		if (seq % 16 == 0) {
			unsigned long p0 = LOAD(&c->reader_passes[0]);
			unsigned long p1 = LOAD(&c->reader_passes[1]);

			wait_progress(&c->reader_passes[0], p0, &c->stop, &c->fr);
			wait_progress(&c->reader_passes[1], p1, &c->stop, &c->fr);
		}
	}
	worker_unregister(&c->fr);
	return NULL;
}

static void *vis_reader(void *arg)
{
	struct vis_arg *a = arg;
	struct vis_ctx *c = a->c;
	uint64_t last[VIS_KEYS];
	unsigned long fresh = 0;
	bool final = false;

	memset(last, 0, sizeof(last));
	worker_register(&c->fr);
	while (!final && !failed(&c->fr)) {
		final = LOAD(&c->writers_done) != 0;
		for (uint64_t key = 0; key < VIS_KEYS; key++) {
			void *v = NULL;
			int rc;

			W_RC(&c->fr, gcmap_read_lock(), 0);
			rc = k_get(c->m, c->kind, key, &v);
			if (rc == 0) {
				const struct pub *o = v;
				uint64_t seq = o->f[0];

				for (unsigned int i = 1; i < 8; i++)
					if (o->f[i] != pub_field(seq, key, i)) {
						fail_record(
							&c->fr,
							"key %llu seq %llu: field %u is %llx, "
							"want %llx (partially initialised)",
							(unsigned long long)key,
							(unsigned long long)seq, i,
							(unsigned long long)o->f[i],
							(unsigned long long)pub_field(seq, key, i));
						break;
					}
				if (seq < last[key])
					fail_record(&c->fr, "key %llu went back from %llu to %llu",
						    (unsigned long long)key,
						    (unsigned long long)last[key],
						    (unsigned long long)seq);
				if (seq > last[key] && last[key] != 0)
					fresh++;
				last[key] = seq;
			} else if (rc != -ENOENT) {
				fail_record(&c->fr, "get = %d", rc);
			}
			W_RC(&c->fr, gcmap_read_unlock(), 0);
		}
		INC(&c->reader_passes[a->id]);
	}
	__atomic_add_fetch(&c->new_seen, fresh, __ATOMIC_RELAXED);
	worker_unregister(&c->fr);
	return NULL;
}

START_TEST(test_concurrent_publication_visible)
{
	static struct vis_ctx c;
	struct vis_arg wa[2], ra[2];
	pthread_t w[2], r[2];

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.fr.lock, NULL);
	c.kind = _i;
	CK_OK(gcmap_thread_register());
	c.m = make_map(c.kind, 1, NULL);
	for (int i = 0; i < 2; i++) {
		ra[i].c = wa[i].c = &c;
		ra[i].id = wa[i].id = i;
		ck_assert_int_eq(pthread_create(&r[i], NULL, vis_reader, &ra[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&w[i], NULL, vis_writer, &wa[i]), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(w[i], NULL), 0);
	STORE(&c.writers_done, 1);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(r[i], NULL), 0);
	STORE(&c.stop, 1);
	CK_NO_FAILURES(&c.fr);
	ck_assert_msg(c.new_seen >= VIS_PUTS / 16,
		      "readers saw only %lu newly published objects: no overlap", c.new_seen);
	/* Free the last objects: delete returns them. */
	for (uint64_t key = 0; key < VIS_KEYS; key++) {
		void *v = NULL;

		CK_OK(k_delete(c.m, c.kind, key, &v));
		ck_assert_ptr_nonnull(v);
		CK_OK(gcmap_defer_free(v, NULL));
	}
	CK_OK(gcmap__check_invariants(c.m));
	CK_OK(gcmap_destroy(c.m));
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_thread_unregister());
}
END_TEST

/* ---------------------------------------------------------------------- */
/* (c) insert/delete churn on a tiny table                                */

#define SHARED_BASE 100000u

static void *churn_val(uint64_t key, unsigned int tid, uint64_t n)
{
	return val_of((key << 24) | ((n & 0xffff) << 8) | (tid + 1));
}

static bool churn_val_ok(uint64_t key, const void *v)
{
	return v != NULL && (u64_of(v) >> 24) == key && (u64_of(v) & 0xff) != 0;
}

struct churn_ctx {
	struct gcmap *m;
	int kind;
	struct failrec fr;
	int go;
	/* The private model of each thread, read by the test after joining. */
	void *priv[CHURN_THREADS][CHURN_PRIVATE];
	unsigned long foreign_seen; /* shared values written by another thread */
};

struct churn_arg {
	struct churn_ctx *c;
	unsigned int tid;
};

/* One operation on a private key: the result is fully determined. */
static void churn_private(struct churn_ctx *c, unsigned int tid, uint64_t r, uint64_t n)
{
	unsigned int i = (unsigned int)(r % CHURN_PRIVATE);
	uint64_t key = (uint64_t)tid * CHURN_PRIVATE + i;
	void **model = &c->priv[tid][i];
	void *nv = churn_val(key, tid, n), *v = SENTINEL;
	int rc;

	switch ((r >> 16) % 6) {
	case 0:
		rc = k_insert(c->m, c->kind, key, nv, &v);
		if (*model ? (rc != -EEXIST || v != *model) : rc != 0)
			fail_record(&c->fr, "t%u insert %llu: rc %d", tid, (unsigned long long)key,
				    rc);
		if (!*model)
			*model = nv;
		break;
	case 1:
	case 2: /* deletes as often as inserts and puts: chains fill and empty */
		rc = k_delete(c->m, c->kind, key, &v);
		if (*model ? (rc != 0 || v != *model) : rc != -ENOENT)
			fail_record(&c->fr, "t%u delete %llu: rc %d", tid, (unsigned long long)key,
				    rc);
		*model = NULL;
		break;
	case 3:
		rc = k_put(c->m, c->kind, key, nv, &v);
		if (*model ? (rc != 0 || v != *model) : rc != 1)
			fail_record(&c->fr, "t%u put %llu: rc %d", tid, (unsigned long long)key,
				    rc);
		*model = nv;
		break;
	case 4:
		rc = k_get(c->m, c->kind, key, &v);
		if (*model ? (rc != 0 || v != *model) : rc != -ENOENT)
			fail_record(&c->fr, "t%u get %llu: rc %d", tid, (unsigned long long)key,
				    rc);
		break;
	default:
		rc = k_cas(c->m, c->kind, key, *model, nv, &v);
		if (*model ? (rc != 0 || v != *model) : rc != -ENOENT)
			fail_record(&c->fr, "t%u cas %llu: rc %d", tid, (unsigned long long)key,
				    rc);
		if (*model)
			*model = nv;
		break;
	}
}

/* One operation on a shared key: only the set of valid outcomes is known. */
static void churn_shared(struct churn_ctx *c, unsigned int tid, uint64_t r, uint64_t n)
{
	uint64_t key = SHARED_BASE + r % CHURN_SHARED;
	void *nv = churn_val(key, tid, n), *v = NULL;
	int rc;

	switch ((r >> 16) % 4) {
	case 0:
		rc = k_insert(c->m, c->kind, key, nv, &v);
		if (rc != 0 && !(rc == -EEXIST && churn_val_ok(key, v)))
			fail_record(&c->fr, "shared insert %llu: rc %d v %p",
				    (unsigned long long)key, rc, v);
		break;
	case 1:
		rc = k_delete(c->m, c->kind, key, &v);
		if (rc != -ENOENT && !(rc == 0 && churn_val_ok(key, v)))
			fail_record(&c->fr, "shared delete %llu: rc %d v %p",
				    (unsigned long long)key, rc, v);
		break;
	case 2:
		rc = k_put(c->m, c->kind, key, nv, &v);
		if (!(rc == 1 && v == NULL) && !(rc == 0 && churn_val_ok(key, v)))
			fail_record(&c->fr, "shared put %llu: rc %d v %p", (unsigned long long)key,
				    rc, v);
		break;
	default:
		rc = k_get(c->m, c->kind, key, &v);
		if (rc != -ENOENT && !(rc == 0 && churn_val_ok(key, v)))
			fail_record(&c->fr, "shared get %llu: rc %d v %p", (unsigned long long)key,
				    rc, v);
		if (rc == 0 && (u64_of(v) & 0xff) != tid + 1)
			__atomic_add_fetch(&c->foreign_seen, 1, __ATOMIC_RELAXED);
		break;
	}
}

static void *churn_worker(void *arg)
{
	struct churn_arg *a = arg;
	struct churn_ctx *c = a->c;
	uint64_t s = 0x9e3779b97f4a7c15ull * (a->tid + 1);

	worker_register(&c->fr);
	while (!LOAD(&c->go))
		sched_yield();
	for (uint64_t n = 0; n < CHURN_ITERS && !failed(&c->fr); n++) {
		uint64_t r = rng_next(&s);

		if (r & (1ull << 40))
			churn_private(c, a->tid, r, n);
		else
			churn_shared(c, a->tid, r, n);
		if (n % 64 == 0)
			sched_yield(); /* interleave with more threads than cores */
	}
	worker_unregister(&c->fr);
	return NULL;
}

START_TEST(test_concurrent_churn_tiny_table)
{
	static struct churn_ctx c;
	struct churn_arg args[CHURN_THREADS];
	pthread_t t[CHURN_THREADS];
	struct gcmap_stats st;
	size_t count, present = 0;
	const size_t universe = CHURN_THREADS * CHURN_PRIVATE + CHURN_SHARED;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.fr.lock, NULL);
	c.kind = _i;
	CK_OK(gcmap_thread_register());
#ifdef GCMAP_TESTHOOKS
	/* Keep the table tiny: the chains, not growth, absorb the keys. */
	__atomic_or_fetch(&gcmap__test_flags, GCMAP_TEST_NO_POLICY, __ATOMIC_RELAXED);
#endif
	c.m = make_map(c.kind, 1, NULL); /* 2 buckets x 8 slots */
	for (unsigned int i = 0; i < CHURN_THREADS; i++) {
		args[i].c = &c;
		args[i].tid = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, churn_worker, &args[i]), 0);
	}
	STORE(&c.go, 1);
	for (unsigned int i = 0; i < CHURN_THREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	CK_NO_FAILURES(&c.fr);
	ck_assert_msg(c.foreign_seen > 0, "no thread saw another's shared value: no overlap");

	CK_OK(gcmap__check_invariants(c.m));
	/* Private keys match each thread's model exactly. */
	for (unsigned int tid = 0; tid < CHURN_THREADS; tid++)
		for (unsigned int i = 0; i < CHURN_PRIVATE; i++) {
			uint64_t key = (uint64_t)tid * CHURN_PRIVATE + i;
			void *v = NULL;
			int rc = k_get(c.m, c.kind, key, &v);

			if (c.priv[tid][i]) {
				ck_assert_msg(rc == 0 && v == c.priv[tid][i],
					      "private key %llu: rc %d, value %p, want %p",
					      (unsigned long long)key, rc, v, c.priv[tid][i]);
				present++;
			} else {
				ck_assert_msg(rc == -ENOENT, "deleted private key %llu found",
					      (unsigned long long)key);
			}
		}
	for (uint64_t k = SHARED_BASE; k < SHARED_BASE + CHURN_SHARED; k++) {
		void *v = NULL;
		int rc = k_get(c.m, c.kind, k, &v);

		ck_assert(rc == 0 || rc == -ENOENT);
		if (rc == 0) {
			ck_assert(churn_val_ok(k, v));
			present++;
		}
	}
	CK_OK(gcmap_count(c.m, &count));
	ck_assert_uint_eq(count, present);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CK_OK(gcmap_stats(c.m, &st));
	ck_assert_uint_eq(st.entries, present);
#ifdef GCMAP_TESTHOOKS
	ck_assert_uint_eq(st.buckets, 2);
	ck_assert_uint_gt(st.overflow_buckets, 0);
#endif
	/* Freed slots were reused: the chains never grew beyond what all
	 * keys present at once would need. */
	ck_assert_msg(st.overflow_buckets <= universe / GCMAP_SLOTS + 1,
		      "%zu overflow buckets for at most %zu live keys: slots not reused",
		      st.overflow_buckets, universe);

	/* Empty it and fill it again single-threaded: no growth either. */
	for (uint64_t k = 0; k < CHURN_THREADS * CHURN_PRIVATE; k++)
		(void)k_delete(c.m, c.kind, k, NULL);
	for (uint64_t k = SHARED_BASE; k < SHARED_BASE + CHURN_SHARED; k++)
		(void)k_delete(c.m, c.kind, k, NULL);
	CK_OK(gcmap_count(c.m, &count));
	ck_assert_uint_eq(count, 0);
	for (uint64_t k = 0; k < CHURN_THREADS * CHURN_PRIVATE; k++)
		CK_RC(k_put(c.m, c.kind, k, churn_val(k, 0, 0), NULL), 1);
	CK_OK(gcmap_stats(c.m, &st));
	ck_assert_uint_le(st.overflow_buckets, universe / GCMAP_SLOTS + 1);
	CK_OK(gcmap__check_invariants(c.m));
	CK_OK(gcmap_destroy(c.m));
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_thread_unregister());
}
END_TEST

/* ---------------------------------------------------------------------- */
/* (d) clear racing with writers and readers                              */

struct clear_ctx {
	struct gcmap *m;
	int kind;
	struct failrec fr;
	int writers_done;
	unsigned long writer_ops; /* progress, for pacing the clearer */
	unsigned long clears;
	unsigned long reads_found;
};

struct clear_arg {
	struct clear_ctx *c;
	unsigned int tid;
};

static void *clear_writer(void *arg)
{
	struct clear_arg *a = arg;
	struct clear_ctx *c = a->c;
	uint64_t s = 0x2545f4914f6cdd1dull * (a->tid + 7);
	const unsigned long total = CLEAR_ROUNDS * CLEAR_OPS_PER_ROUND;

	worker_register(&c->fr);
	for (uint64_t n = 0; n < total && !failed(&c->fr); n++) {
		uint64_t r = rng_next(&s);
		uint64_t key = r % CLEAR_KEYS;
		void *v = NULL;
		int rc;

		switch ((r >> 32) % 3) {
		case 0:
		case 1:
			rc = k_put(c->m, c->kind, key, churn_val(key, a->tid, n), &v);
			if (!(rc == 1 && v == NULL) && !(rc == 0 && churn_val_ok(key, v)))
				fail_record(&c->fr, "put %llu: rc %d", (unsigned long long)key, rc);
			break;
		default:
			rc = k_delete(c->m, c->kind, key, &v);
			if (rc != -ENOENT && !(rc == 0 && churn_val_ok(key, v)))
				fail_record(&c->fr, "delete %llu: rc %d", (unsigned long long)key,
					    rc);
			break;
		}
		INC(&c->writer_ops);
		if (n % 32 == 0)
			sched_yield();
	}
	worker_unregister(&c->fr);
	return NULL;
}

static void *clear_reader(void *arg)
{
	struct clear_ctx *c = arg;
	unsigned long found = 0;
	bool final = false;

	worker_register(&c->fr);
	while (!final && !failed(&c->fr)) {
		final = LOAD(&c->writers_done) != 0;
		for (uint64_t key = 0; key < CLEAR_KEYS; key++) {
			void *v = NULL;
			int rc = k_get(c->m, c->kind, key, &v);

			if (rc == 0 && churn_val_ok(key, v))
				found++;
			else if (rc != -ENOENT)
				fail_record(&c->fr, "get %llu: rc %d v %p", (unsigned long long)key,
					    rc, v);
		}
		sched_yield();
	}
	__atomic_add_fetch(&c->reads_found, found, __ATOMIC_RELAXED);
	worker_unregister(&c->fr);
	return NULL;
}

static void *clearer(void *arg)
{
	struct clear_ctx *c = arg;

	worker_register(&c->fr);
	for (unsigned long i = 0; i < CLEAR_ROUNDS && !failed(&c->fr); i++) {
		unsigned long ops = LOAD(&c->writer_ops);

		/* Pace: writers do some work between two clears. */
		wait_progress(&c->writer_ops, ops + CLEAR_OPS_PER_ROUND, &c->writers_done, &c->fr);
		W_RC(&c->fr, gcmap_clear(c->m), 0);
		INC(&c->clears);
	}
	worker_unregister(&c->fr);
	return NULL;
}

START_TEST(test_concurrent_clear_races)
{
	static struct clear_ctx c;
	struct clear_arg args[2];
	pthread_t w[2], r, cl;
	size_t count, present = 0;
	struct gcmap_stats st;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.fr.lock, NULL);
	c.kind = _i;
	CK_OK(gcmap_thread_register());
	c.m = make_map(c.kind, 1, NULL);
	ck_assert_int_eq(pthread_create(&r, NULL, clear_reader, &c), 0);
	ck_assert_int_eq(pthread_create(&cl, NULL, clearer, &c), 0);
	for (unsigned int i = 0; i < 2; i++) {
		args[i].c = &c;
		args[i].tid = i;
		ck_assert_int_eq(pthread_create(&w[i], NULL, clear_writer, &args[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(w[i], NULL), 0);
	STORE(&c.writers_done, 1);
	ck_assert_int_eq(pthread_join(cl, NULL), 0);
	ck_assert_int_eq(pthread_join(r, NULL), 0);
	CK_NO_FAILURES(&c.fr);
	ck_assert_uint_gt(c.clears, 0);
	ck_assert_uint_gt(c.reads_found, 0);

	CK_OK(gcmap__check_invariants(c.m));
	for (uint64_t key = 0; key < CLEAR_KEYS; key++) {
		void *v = NULL;
		int rc = k_get(c.m, c.kind, key, &v);

		ck_assert(rc == 0 || rc == -ENOENT);
		if (rc == 0) {
			ck_assert(churn_val_ok(key, v));
			present++;
		}
	}
	CK_OK(gcmap_count(c.m, &count));
	ck_assert_uint_eq(count, present);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CK_OK(gcmap_stats(c.m, &st));
	ck_assert_uint_eq(st.entries, present);
	/* The map still works normally. */
	CK_OK(gcmap_clear(c.m));
	CK_OK(gcmap_count(c.m, &count));
	ck_assert_uint_eq(count, 0);
	CK_RC(k_put(c.m, c.kind, 1, churn_val(1, 0, 0), NULL), 1);
	CK_OK(gcmap__check_invariants(c.m));
	CK_OK(gcmap_destroy(c.m));
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_thread_unregister());
}
END_TEST

/*
 * Version monotonicity across evacuations, and its negative control.
 * Writers put increasing versions and then publish "version v of key k is
 * complete" (release); a reader that loads that mark (acquire) before its
 * get must get v or later: an older version is a stale read (it was
 * overwritten before the get began). An evacuator thread keeps the map
 * growing and shrinking, moving one unit at a time with yields, so chains
 * of the old table stay moved-and-frozen for long windows. With
 * GCMAP_TEST_SKIP_MOVED_CHECK readers read those frozen chains: the test
 * must then see stale versions (the switch is the bug it is about).
 */
#define EV_KEYS 64
#define EV_ROUNDS 400
#define EV_EVACUATIONS 6

struct ev_ctx {
	struct gcmap *m;
	uint64_t done[EV_KEYS]; /* last complete version per key; release/acquire */
	int stop; /* readers and evacuator stop */
	unsigned long stale, reads, evacuations;
	struct failrec fr;
};

static void *ev_writer(void *arg)
{
	struct ev_ctx *c = *(struct ev_ctx **)arg;
	uint64_t first = ((uintptr_t)((struct ev_ctx **)arg)[1]);

	worker_register(&c->fr);
	/* At least EV_ROUNDS versions, and until the evacuator did enough. */
	for (uint64_t v = 1;
	     (v <= EV_ROUNDS || LOAD(&c->evacuations) < EV_EVACUATIONS) && !failed(&c->fr); v++) {
		for (uint64_t k = first; k < EV_KEYS; k += 2) {
			int rc = gcmap_put_u64(c->m, k, val_of(v), NULL);

			if (rc < 0)
				fail_record(&c->fr, "put(%llu) = %d", (unsigned long long)k, rc);
			__atomic_store_n(&c->done[k], v, __ATOMIC_RELEASE);
		}
		if (v % 16 == 0)
			sched_yield();
	}
	worker_unregister(&c->fr);
	return NULL;
}

static void *ev_reader(void *arg)
{
	struct ev_ctx *c = arg;
	uint64_t k = 0;

	worker_register(&c->fr);
	while (!LOAD(&c->stop)) {
		uint64_t want = __atomic_load_n(&c->done[k], __ATOMIC_ACQUIRE);
		void *v;

		if (gcmap_get_u64(c->m, k, &v) == 0 && u64_of(v) < want)
			INC(&c->stale);
		INC(&c->reads);
		k = (k + 7) % EV_KEYS;
	}
	worker_unregister(&c->fr);
	return NULL;
}

static void *ev_evacuator(void *arg)
{
	struct ev_ctx *c = arg;
	unsigned int log2 = 3;
	int dir = 1;

	worker_register(&c->fr);
	while (!LOAD(&c->stop)) {
		struct gcmap_table *tbl, *next;
		uint64_t units = 0;
		unsigned int target;

		if (log2 == 6 || (log2 == 3 && dir < 0))
			dir = -dir; /* 8 .. 64 buckets and back */
		target = log2 + dir;

		gcmap_read_lock();
		tbl = __atomic_load_n(&c->m->tbl, __ATOMIC_ACQUIRE);
		if (gcmap__evac_start(c->m, tbl, target) == 0)
			INC(&c->evacuations);
		next = __atomic_load_n(&tbl->next, __ATOMIC_ACQUIRE);
		if (next)
			units = gcmap__evac_units(tbl, next);
		gcmap_read_unlock();
		/* tbl is freed a grace period after its last unit moved: it is
		 * only touched inside read-side sections before that. */
		for (uint64_t u = 0; u < units && !LOAD(&c->stop); u++) {
			bool done;

			gcmap_read_lock();
			/* Completed (units moved earlier by helping writers):
			 * tbl is retired; stop using it. */
			done = __atomic_load_n(&c->m->tbl, __ATOMIC_ACQUIRE) != tbl;
			if (!done)
				gcmap__evac_move_unit(c->m, tbl, next, u);
			gcmap_read_unlock();
			if (done)
				break;
			sched_yield(); /* a long window with moved, frozen chains */
		}
		log2 = target;
	}
	worker_unregister(&c->fr);
	return NULL;
}

static void ev_run(struct ev_ctx *c, bool skip_moved_check)
{
	void *wa[2][2];
	pthread_t w[2], r[2], e;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->fr.lock, NULL);
	c->m = make_map(GCMAP_KEY_U64, 0, NULL);
	for (uint64_t k = 0; k < EV_KEYS; k++)
		CK_OK(gcmap_insert_u64(c->m, k, val_of(0), NULL));
	__atomic_store_n(&gcmap__test_flags,
			 GCMAP_TEST_NO_POLICY | GCMAP_TEST_NO_HELP |
				 (skip_moved_check ? GCMAP_TEST_SKIP_MOVED_CHECK : 0u),
			 __ATOMIC_RELAXED);
	ck_assert_int_eq(pthread_create(&e, NULL, ev_evacuator, c), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_create(&r[i], NULL, ev_reader, c), 0);
		wa[i][0] = c;
		wa[i][1] = (void *)(uintptr_t)i;
		ck_assert_int_eq(pthread_create(&w[i], NULL, ev_writer, wa[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(w[i], NULL), 0);
	STORE(&c->stop, 1);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(r[i], NULL), 0);
	ck_assert_int_eq(pthread_join(e, NULL), 0);
	__atomic_store_n(&gcmap__test_flags, 0u, __ATOMIC_RELAXED);
	CK_NO_FAILURES(&c->fr);
	ck_assert_msg(c->evacuations >= 2, "only %lu evacuations: no overlap", c->evacuations);
	CK_OK(gcmap_maintain(c->m, 1u << 20, 0) >= 0 ? 0 : -1);
	CK_OK(gcmap__check_invariants(c->m));
	for (uint64_t k = 0; k < EV_KEYS; k++) {
		void *v;

		CK_OK(gcmap_get_u64(c->m, k, &v));
		ck_assert_uint_eq(u64_of(v), c->done[k]);
	}
	CK_OK(gcmap_destroy(c->m));
}

START_TEST(test_concurrent_versions_evacuating)
{
	static struct ev_ctx c;

	CK_OK(gcmap_thread_register());
	ev_run(&c, false);
	ck_assert_msg(c.stale == 0, "%lu stale reads in %lu", c.stale, c.reads);
	CK_OK(gcmap_thread_unregister());
}
END_TEST

#if !defined(__SANITIZE_THREAD__) /* see concurrent_suite() */
/* Negative control: the same with readers skipping the moved re-check. */
START_TEST(test_concurrent_versions_evacuating_negative)
{
	static struct ev_ctx c;

	CK_OK(gcmap_thread_register());
	ev_run(&c, true);
	ck_assert_msg(c.stale > 0, "no stale read seen in %lu reads with the moved check off",
		      c.reads);
	CK_OK(gcmap_thread_unregister());
}
END_TEST
#endif

static Suite *concurrent_suite(void)
{
	Suite *s = suite_create("concurrent");
	TCase *tc = tcase_create("concurrent");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_concurrent_versions_monotonic, 0, 4);
	tcase_add_loop_test(tc, test_concurrent_publication_visible, 0, 2);
	tcase_add_loop_test(tc, test_concurrent_churn_tiny_table, 0, 2);
	tcase_add_loop_test(tc, test_concurrent_clear_races, 0, 2);
	tcase_add_test(tc, test_concurrent_versions_evacuating);
#if !defined(__SANITIZE_THREAD__)
	/* The negative control runs in the plain and ASan builds; it is not
	 * yet verified under TSan (a TSan report, possibly provoked by the bug
	 * the switch turns on, would fail this process). */
	tcase_add_test(tc, test_concurrent_versions_evacuating_negative);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(concurrent_suite());
}
