/*
 * check_finalizer.c - finalizers (lib/finalizer.c and the sweep of lib/gc.c):
 * once only (many cycles, two runners), only after a grace period (a reader
 * that found the object keeps using it), Boehm's ordering (chains finish in
 * d+1 cycles), cycles never finalized, resurrection, finalizers that use and
 * destroy maps (deadlock-bounded), both finalizer contexts, pacing, destroy
 * and the statistics of each scenario.
 */
#include "test_util.h"

#include <stdbool.h>
#include <stdlib.h>

/* Bounded waits: a test fails instead of hanging (TSan is 5-15x slower). */
#define WAIT_S 30.0
#define PACE_WAIT_S 5.0 /* a paced cycle starts within 5 ms normally */
#define QUIET_MS 200 /* "nothing happens by itself" windows */
#define MAX_OBJS 2048
#define NCHILD 3

#define OBJ_MAGIC 0x6f626a2d6c697665ull
#define OBJ_DEAD 0xdeaddeaddeaddeadull

/* What an object's finalizer does after recording that it ran. */
enum fin_mode {
	FIN_FREE, /* unregister the object, poison and free it */
	FIN_KEEP, /* nothing: it stays registered without a finalizer */
	FIN_RESURRECT, /* store itself into C.res_map at key RES_KEY(id) */
	FIN_MAP_OPS, /* delete and insert in C.ops_map (see map_ops()) */
	FIN_DESTROY_MAP, /* gcmap_destroy(C.victim) */
	FIN_SLOW, /* sleep C.slow_ms, then as FIN_FREE */
	FIN_BLOCK, /* wait for C.unblock, use child[0], then as FIN_RESURRECT */
};

#define RES_KEY(id) (1000u + (id))

/* A managed object: managed pointers in @child (gcmap_gc_store/load). */
struct obj {
	uint64_t magic;
	unsigned int id;
	enum fin_mode mode;
	void *child[NCHILD];
};

/* Per-test state (Check forks each test; reset anyway). Fields written by
 * finalizers and read by the test thread are accessed atomically. */
struct ctx {
	struct gcmap_gc *gc;
	struct obj *objs[MAX_OBJS]; /* NULL once a finalizer freed it */
	unsigned int fin_count[MAX_OBJS]; /* finalizers begun */
	unsigned int fin_done[MAX_OBJS]; /* finalizers returned */
	unsigned int order[MAX_OBJS]; /* ids in finalization order */
	unsigned int nr_order;
	unsigned int total; /* finalizers run */
	pthread_t main_tid;
	unsigned int on_main, off_main; /* where finalizers ran */
	pthread_mutex_t tid_lock;
	bool fin_tid_set;
	pthread_t fin_tid; /* the first non-main finalizer thread */
	unsigned int tid_mismatch; /* non-main finalizers on another thread */
	bool check_sync; /* finalizers call gcmap_synchronize() */
	int reader_in_section; /* a reader holds an object (grace tests) */
	unsigned int fin_while_reader;
	struct gcmap *res_map;
	struct gcmap *ops_map;
	struct obj *ops_expect, *ops_new;
	struct gcmap *victim;
	unsigned int slow_ms;
	int slow_started, slow_done;
	int blocked, unblock;
	unsigned int block_child; /* the id of FIN_BLOCK's child[0] */
	int stop;
	struct failrec fr;
};

static struct ctx C;

static void test_begin(void)
{
	memset(&C, 0, sizeof(C));
	C.fr = (struct failrec)FAILREC_INIT;
	pthread_mutex_init(&C.tid_lock, NULL);
	C.main_tid = pthread_self();
	CK_OK(gcmap_thread_register());
}

/* After the domain is destroyed: free what no finalizer freed. */
static void test_end(void)
{
	for (unsigned int i = 0; i < MAX_OBJS; i++) {
		struct obj *o = LOAD(&C.objs[i]);

		if (o) {
			STORE(&C.objs[i], NULL);
			free(o);
		}
	}
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_thread_unregister());
	CK_NO_FAILURES(&C.fr);
}

static void trace(void *p, gcmap_visit_fn visit, void *vctx)
{
	struct obj *o = p;

	if (o->magic != OBJ_MAGIC)
		fail_record(&C.fr, "object %u traced after it was freed", o->id);
	for (int i = 0; i < NCHILD; i++) {
		void *ch = gcmap_gc_load(&o->child[i]);

		if (ch)
			visit(ch, vctx);
	}
}

static void record_thread(struct ctx *c)
{
	if (pthread_equal(pthread_self(), c->main_tid)) {
		INC(&c->on_main);
		return;
	}
	INC(&c->off_main);
	pthread_mutex_lock(&c->tid_lock);
	if (!c->fin_tid_set) {
		c->fin_tid = pthread_self();
		c->fin_tid_set = true;
	} else if (!pthread_equal(c->fin_tid, pthread_self())) {
		c->tid_mismatch++;
	}
	pthread_mutex_unlock(&c->tid_lock);
}

static void fin(void *p, void *arg);

static void map_ops(struct ctx *c)
{
	void *old = NULL;
	struct obj *n = c->ops_new;

	/* Delete another object's key (it becomes unreachable) ... */
	W_RC(&c->fr, gcmap_delete_u64(c->ops_map, 2, &old), 0);
	if (old != c->ops_expect)
		fail_record(&c->fr, "finalizer's delete returned %p, expected %p", old,
			    (void *)c->ops_expect);
	/* ... and register a new object and store it (one section). */
	W_RC(&c->fr, gcmap_read_lock(), 0);
	W_RC(&c->fr, gcmap_gc_register(c->gc, n, fin, trace, c), 0);
	W_RC(&c->fr, gcmap_insert_u64(c->ops_map, 3, n, NULL), 0);
	W_RC(&c->fr, gcmap_read_unlock(), 0);
	W_RC(&c->fr, gcmap_put_u64(c->ops_map, 4, val_of(4), NULL), 1); /* unmanaged */
}

static void read_obj(const struct obj *o);

/* A finalizer that is still running uses what its object reaches. */
static void fin_block(struct ctx *c, struct obj *o)
{
	struct obj *b = gcmap_gc_load(&o->child[0]);
	double until = now_s() + WAIT_S;

	STORE(&c->blocked, 1);
	while (!LOAD(&c->unblock) && now_s() < until)
		sleep_ms(1);
	/* Not through @b: it may have been freed. */
	if (LOAD(&c->fin_count[c->block_child]))
		fail_record(&c->fr,
			    "object %u was finalized while the finalizer of object %u, "
			    "which reaches it, was still running",
			    c->block_child, o->id);
	else if (b)
		read_obj(b);
}

static void fin(void *p, void *arg)
{
	struct ctx *c = arg;
	struct obj *o = p;
	unsigned int id = o->id;

	if (o->magic != OBJ_MAGIC || id >= MAX_OBJS) {
		fail_record(&c->fr, "finalizer called on a freed object");
		return;
	}
	if (INC(&c->fin_count[id]) != 1)
		fail_record(&c->fr, "finalizer of object %u ran twice", id);
	__atomic_store_n(&c->order[__atomic_fetch_add(&c->nr_order, 1, __ATOMIC_ACQ_REL)], id,
			 __ATOMIC_RELEASE);
	if (LOAD(&c->reader_in_section))
		INC(&c->fin_while_reader);
	record_thread(c);
	if (!gcmap_thread_registered())
		fail_record(&c->fr, "finalizer of %u on an unregistered thread", id);
	/* No read-side section is held: waiting for a grace period works. */
	if (LOAD(&c->check_sync))
		W_RC(&c->fr, gcmap_synchronize(), 0);
	switch (o->mode) {
	case FIN_SLOW:
		STORE(&c->slow_started, 1);
		sleep_ms(c->slow_ms);
		STORE(&c->slow_done, 1);
		/* fall through */
	case FIN_FREE:
		W_RC(&c->fr, gcmap_gc_unregister(c->gc, o), 0);
		STORE(&c->objs[id], NULL);
		o->magic = OBJ_DEAD;
		free(o);
		break;
	case FIN_KEEP:
		break;
	case FIN_BLOCK:
		fin_block(c, o);
		/* fall through */
	case FIN_RESURRECT:
		W_RC(&c->fr, gcmap_put_u64(c->res_map, RES_KEY(id), o, NULL), 1);
		break;
	case FIN_MAP_OPS:
		map_ops(c);
		break;
	case FIN_DESTROY_MAP:
		W_RC(&c->fr, gcmap_destroy(c->victim), 0);
		break;
	}
	STORE(&c->fin_done[id], 1);
	INC(&c->total);
}

/* ---- helpers ---- */

static struct gcmap_gc *new_gc(unsigned int flags, unsigned int pace)
{
	struct gcmap_gc_options o;
	struct gcmap_gc *gc = NULL;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.flags = flags;
	o.pace_percent = pace;
	CK_OK(gcmap_gc_create(&o, &gc));
	STORE(&C.gc, gc);
	return gc;
}

static struct gcmap *new_map(bool attach)
{
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);

	if (attach)
		CK_OK(gcmap_gc_attach(C.gc, m));
	return m;
}

/* A new object, not registered yet. */
static struct obj *new_obj(unsigned int id, enum fin_mode mode)
{
	struct obj *o = calloc(1, sizeof(*o));

	ck_assert_ptr_nonnull(o);
	ck_assert_uint_lt(id, MAX_OBJS);
	ck_assert_ptr_null(LOAD(&C.objs[id]));
	o->magic = OBJ_MAGIC;
	o->id = id;
	o->mode = mode;
	STORE(&C.objs[id], o);
	return o;
}

/* A registered object with a finalizer, reachable from nothing. */
static struct obj *garbage(unsigned int id, enum fin_mode mode)
{
	struct obj *o = new_obj(id, mode);

	CK_OK(gcmap_gc_register(C.gc, o, fin, trace, &C));
	return o;
}

/* A registered object stored in @m at @key (the documented pattern). */
static struct obj *live(struct gcmap *m, uint64_t key, unsigned int id, enum fin_mode mode)
{
	struct obj *o = new_obj(id, mode);

	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_gc_register(C.gc, o, fin, trace, &C));
	CK_RC(gcmap_put_u64(m, key, o, NULL), 1);
	CK_OK(gcmap_read_unlock());
	return o;
}

static void link_to(struct obj *from, int slot, struct obj *to)
{
	CK_OK(gcmap_gc_store(C.gc, &from->child[slot], to));
}

static struct gcmap_gc_stats gst(void)
{
	struct gcmap_gc_stats s;

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	CK_OK(gcmap_gc_stats(C.gc, &s));
	return s;
}

/* One cycle, then the ready finalizers on this thread. Return how many ran;
 * *@queued (optional) gets what the cycle queued. */
static int cycle(int *queued)
{
	int q = gcmap_gc_collect(C.gc);
	int r;

	ck_assert_msg(q >= 0, "collect: %s", gcmap_strerror(q));
	if (queued)
		*queued = q;
	r = gcmap_gc_run_finalizers(C.gc, 0);
	ck_assert_msg(r >= 0, "run_finalizers: %s", gcmap_strerror(r));
	return r;
}

static unsigned int fcount(unsigned int id)
{
	return LOAD(&C.fin_count[id]);
}

static bool intact(unsigned int id)
{
	struct obj *o = LOAD(&C.objs[id]);

	return o && o->magic == OBJ_MAGIC && fcount(id) == 0;
}

/* Poll @cond every millisecond for at most @secs seconds; its last value. */
#define WAIT_FOR(cond, secs)                                \
	__extension__({                                     \
		double until_ = now_s() + (secs);           \
		bool ok_;                                   \
		while (!(ok_ = (cond)) && now_s() < until_) \
			sleep_ms(1);                        \
		ok_;                                        \
	})

/* Run @fn on a registered helper thread; fail (instead of hanging) if it
 * does not return within WAIT_S. */
struct bounded {
	void (*fn)(int arg);
	int arg;
	int done;
};

static void *bounded_main(void *p)
{
	struct bounded *b = p;

	worker_register(&C.fr);
	b->fn(b->arg);
	worker_unregister(&C.fr);
	STORE(&b->done, 1);
	return NULL;
}

static void run_bounded(void (*fn)(int arg), int arg, const char *what)
{
	struct bounded b = { fn, arg, 0 };
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, bounded_main, &b), 0);
	ck_assert_msg(WAIT_FOR(LOAD(&b.done), WAIT_S),
		      "%s did not finish within %.0f s (deadlock?)", what, WAIT_S);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	CK_NO_FAILURES(&C.fr);
}

/* For helper threads: wait for finalizer @id, running cycles (@collect) or
 * not; record a failure on timeout. */
static void drive_until_finalized(unsigned int id, bool collect, bool run)
{
	double until = now_s() + WAIT_S;

	while (!LOAD(&C.fin_done[id])) {
		if (now_s() > until) {
			fail_record(&C.fr, "finalizer of %u did not run within %.0f s", id, WAIT_S);
			return;
		}
		if (collect) {
			int q = gcmap_gc_collect(C.gc);

			if (q < 0 && q != -EBUSY)
				fail_record(&C.fr, "collect: %s", gcmap_strerror(q));
		}
		if (run)
			W_RC(&C.fr, gcmap_gc_run_finalizers(C.gc, 0) >= 0, 1);
		sleep_ms(1);
	}
}

/* ---- 1. once only ---- */

#define ONCE_N 64
#define ONCE_CYCLES 30

START_TEST(test_finalizer_once_many_cycles)
{
	struct gcmap_gc_stats s;
	int q;

	test_begin();
	new_gc(0, 0);
	for (unsigned int i = 0; i < ONCE_N; i++)
		garbage(i, i % 2 ? FIN_KEEP : FIN_FREE);
	ck_assert_int_eq(gcmap_gc_collect(C.gc), ONCE_N);
	/* Queued, not run: a second cycle does not queue them again. */
	ck_assert_int_eq(gcmap_gc_collect(C.gc), 0);
	s = gst();
	ck_assert_uint_eq(s.pending, ONCE_N);
	ck_assert_uint_eq(s.finalized, 0);
	ck_assert_uint_eq(s.registered, ONCE_N);
	ck_assert_int_eq(gcmap_gc_run_finalizers(C.gc, 10), 10);
	ck_assert_uint_eq(gst().pending, ONCE_N - 10);
	ck_assert_int_eq(gcmap_gc_run_finalizers(C.gc, 0), ONCE_N - 10);
	ck_assert_int_eq(gcmap_gc_run_finalizers(C.gc, 0), 0);
	for (int k = 0; k < ONCE_CYCLES; k++) {
		ck_assert_int_eq(cycle(&q), 0);
		ck_assert_int_eq(q, 0);
	}
	for (unsigned int i = 0; i < ONCE_N; i++)
		ck_assert_msg(fcount(i) == 1, "object %u finalized %u times", i, fcount(i));
	s = gst();
	ck_assert_uint_eq(s.finalized, ONCE_N);
	ck_assert_uint_eq(s.pending, 0);
	ck_assert_uint_eq(s.registered, ONCE_N / 2); /* the FIN_KEEP half */
	ck_assert_uint_eq(s.cycles, ONCE_CYCLES + 2);
	ck_assert_uint_eq(s.resurrected, 0);
	ck_assert_uint_eq(s.cycles_found, 0);
	CK_OK(gcmap_gc_destroy(C.gc));
	test_end();
}
END_TEST

#define RUN_BATCHES 12
#define RUN_BATCH 100
#define RUN_EXTRA_CYCLES 10

static void *runner_main(void *p)
{
	unsigned long *ran = p;

	worker_register(&C.fr);
	for (;;) {
		int stop = LOAD(&C.stop); /* read before the run: see below */
		int n = gcmap_gc_run_finalizers(C.gc, 3);

		if (n < 0) {
			fail_record(&C.fr, "run_finalizers: %s", gcmap_strerror(n));
			break;
		}
		*ran += (unsigned long)n;
		/* Stop only after a run that began after the last cycle ended
		 * and found nothing left. */
		if (n == 0 && stop)
			break;
		if (n == 0)
			sched_yield();
	}
	worker_unregister(&C.fr);
	return NULL;
}

START_TEST(test_finalizer_once_two_runners)
{
	const unsigned int n = RUN_BATCHES * RUN_BATCH;
	unsigned long ran[2] = { 0, 0 };
	struct gcmap_gc_stats s;
	pthread_t t[2];
	int q, queued = 0;

	test_begin();
	new_gc(0, 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, runner_main, &ran[i]), 0);
	/* Cycles queue batches while both threads drain the queue. */
	for (unsigned int b = 0; b < RUN_BATCHES; b++) {
		for (unsigned int i = 0; i < RUN_BATCH; i++) {
			unsigned int id = b * RUN_BATCH + i;

			garbage(id, id % 3 ? FIN_FREE : FIN_KEEP);
		}
		q = gcmap_gc_collect(C.gc);
		ck_assert_int_ge(q, 0);
		queued += q;
	}
	for (int k = 0; k < RUN_EXTRA_CYCLES; k++) {
		q = gcmap_gc_collect(C.gc);
		ck_assert_int_ge(q, 0);
		queued += q;
	}
	ck_assert_int_eq(queued, (int)n);
	STORE(&C.stop, 1);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	CK_NO_FAILURES(&C.fr);
	ck_assert_int_eq(gcmap_gc_run_finalizers(C.gc, 0), 0);
	ck_assert_uint_eq(ran[0] + ran[1], n);
	for (unsigned int i = 0; i < n; i++)
		ck_assert_msg(fcount(i) == 1, "object %u finalized %u times", i, fcount(i));
	ck_assert_uint_eq(LOAD(&C.total), n);
	/* More cycles: nothing is finalized again. */
	for (int k = 0; k < RUN_EXTRA_CYCLES; k++)
		ck_assert_int_eq(cycle(NULL), 0);
	s = gst();
	ck_assert_uint_eq(s.finalized, n);
	ck_assert_uint_eq(s.pending, 0);
	ck_assert_uint_eq(s.registered, n / 3); /* the FIN_KEEP third (ids 0, 3, ...) */
	CK_OK(gcmap_gc_destroy(C.gc));
	test_end();
}
END_TEST

/* ---- 2. after a grace period ---- */

/* A reader that finds key 1 of @map in a section and keeps reading the
 * object until released. */
struct reader {
	struct gcmap *map;
	int holding, release;
	unsigned long reads;
};

static void read_obj(const struct obj *o)
{
	if (o->magic != OBJ_MAGIC)
		fail_record(&C.fr, "reader: object %u was freed under it", o->id);
	for (int i = 0; i < NCHILD; i++)
		(void)gcmap_gc_load(&o->child[i]);
}

static void *reader_main(void *p)
{
	struct reader *r = p;
	void *v = NULL;

	worker_register(&C.fr);
	W_RC(&C.fr, gcmap_read_lock(), 0);
	W_RC(&C.fr, gcmap_get_u64(r->map, 1, &v), 0);
	STORE(&C.reader_in_section, 1);
	STORE(&r->holding, 1);
	while (v && !LOAD(&r->release)) {
		read_obj(v);
		__atomic_fetch_add(&r->reads, 1, __ATOMIC_RELAXED);
		sleep_ms(1);
	}
	if (v)
		read_obj(v);
	STORE(&C.reader_in_section, 0); /* still inside the section */
	W_RC(&C.fr, gcmap_read_unlock(), 0);
	worker_unregister(&C.fr);
	return NULL;
}

struct collector {
	bool finish_only; /* gcmap_gc_finish() instead of collect */
	bool run; /* then run the finalizers on this thread */
	int rc, returned;
};

static void *collector_main(void *p)
{
	struct collector *c = p;
	int rc;

	worker_register(&C.fr);
	rc = c->finish_only ? gcmap_gc_finish(C.gc) : gcmap_gc_collect(C.gc);
	STORE(&c->rc, rc);
	STORE(&c->returned, 1);
	if (c->run)
		W_RC(&C.fr, gcmap_gc_run_finalizers(C.gc, 0) >= 0, 1);
	worker_unregister(&C.fr);
	return NULL;
}

/* _i: 0 finalizers run by the collecting thread, 1 by the background thread. */
START_TEST(test_finalizer_after_grace_period)
{
	struct reader r;
	struct collector col;
	struct gcmap *m;
	struct gcmap_gc_stats s;
	pthread_t tr, tc;
	unsigned long reads;
	void *old = NULL;

	test_begin();
	new_gc(_i ? GCMAP_GC_F_BACKGROUND : 0, 0);
	m = new_map(true);
	live(m, 1, 0, FIN_FREE);
	memset(&r, 0, sizeof(r));
	r.map = m;
	ck_assert_int_eq(pthread_create(&tr, NULL, reader_main, &r), 0);
	ck_assert_msg(WAIT_FOR(LOAD(&r.holding), WAIT_S), "reader did not start");
	CK_NO_FAILURES(&C.fr);

	/* The object becomes unreachable while the reader still uses it. */
	CK_OK(gcmap_delete_u64(m, 1, &old));
	ck_assert_ptr_eq(old, LOAD(&C.objs[0]));
	memset(&col, 0, sizeof(col));
	col.run = !_i;
	ck_assert_int_eq(pthread_create(&tc, NULL, collector_main, &col), 0);
	sleep_ms(QUIET_MS);
	reads = __atomic_load_n(&r.reads, __ATOMIC_RELAXED);
	ck_assert_msg(!LOAD(&col.returned),
		      "collect returned (%d) while a reader held the object in its section",
		      LOAD(&col.rc));
	ck_assert_uint_eq(fcount(0), 0);
	ck_assert_msg(WAIT_FOR(__atomic_load_n(&r.reads, __ATOMIC_RELAXED) > reads, WAIT_S),
		      "reader made no progress");

	STORE(&r.release, 1);
	ck_assert_int_eq(pthread_join(tr, NULL), 0);
	ck_assert_msg(WAIT_FOR(LOAD(&col.returned), WAIT_S),
		      "collect did not return within %.0f s after the reader left", WAIT_S);
	ck_assert_int_eq(pthread_join(tc, NULL), 0);
	CK_NO_FAILURES(&C.fr);
	ck_assert_int_eq(LOAD(&col.rc), 1);
	ck_assert_msg(WAIT_FOR(LOAD(&C.fin_done[0]), WAIT_S), "finalizer did not run");
	ck_assert_uint_eq(fcount(0), 1);
	ck_assert_uint_eq(LOAD(&C.fin_while_reader), 0);
	ck_assert_ptr_null(LOAD(&C.objs[0])); /* the finalizer freed it */
	ck_assert_msg(WAIT_FOR(gst().finalized == 1, WAIT_S), "stats.finalized");
	s = gst();
	ck_assert_uint_eq(s.pending, 0);
	ck_assert_uint_eq(s.registered, 0);
	ck_assert_uint_eq(LOAD(&C.on_main), 0);
	CK_OK(gcmap_gc_destroy(C.gc));
	CK_OK(gcmap_destroy(m));
	test_end();
}
END_TEST

/*
 * The reader finds the object after marking began; it is deleted during
 * marking (the barrier shades it): it survives that cycle, and the next one
 * (after the reader left) finalizes it.
 */
START_TEST(test_finalizer_grace_during_marking)
{
	struct reader r;
	struct collector col;
	struct gcmap *m;
	pthread_t tr, tc;
	int q;

	test_begin();
	new_gc(0, 0);
	m = new_map(true);
	live(m, 1, 0, FIN_FREE);
	CK_OK(gcmap_gc_begin(C.gc));
	memset(&r, 0, sizeof(r));
	r.map = m;
	ck_assert_int_eq(pthread_create(&tr, NULL, reader_main, &r), 0);
	ck_assert_msg(WAIT_FOR(LOAD(&r.holding), WAIT_S), "reader did not start");
	CK_OK(gcmap_delete_u64(m, 1, NULL));
	memset(&col, 0, sizeof(col));
	col.finish_only = true;
	col.run = true;
	ck_assert_int_eq(pthread_create(&tc, NULL, collector_main, &col), 0);
	sleep_ms(QUIET_MS);
	ck_assert_uint_eq(fcount(0), 0);
	STORE(&r.release, 1);
	ck_assert_int_eq(pthread_join(tr, NULL), 0);
	ck_assert_msg(WAIT_FOR(LOAD(&col.returned), WAIT_S), "finish did not return");
	ck_assert_int_eq(pthread_join(tc, NULL), 0);
	CK_NO_FAILURES(&C.fr);
	ck_assert_int_eq(LOAD(&col.rc), 0); /* shaded by the delete: survived */
	ck_assert(intact(0));
	ck_assert_int_eq(cycle(&q), 1);
	ck_assert_int_eq(q, 1);
	ck_assert_uint_eq(fcount(0), 1);
	ck_assert_uint_eq(LOAD(&C.fin_while_reader), 0);
	ck_assert_uint_eq(gst().registered, 0);
	CK_OK(gcmap_gc_destroy(C.gc));
	CK_OK(gcmap_destroy(m));
	test_end();
}
END_TEST

/* ---- 3. ordering ---- */

/*
 * A -> B, both unreachable: A in the first cycle, B in the second.
 * _i: 0 A's finalizer unregisters and frees A; 1 A stays registered without
 * a finalizer; 2 A -> X -> B, where X has no finalizer.
 */
START_TEST(test_finalizer_order_pair)
{
	struct obj *a, *b, *x;
	struct gcmap_gc_stats s;
	const unsigned int ia = 0, ib = 1, ix = 2;
	int q;

	test_begin();
	new_gc(0, 0);
	a = garbage(ia, _i == 1 ? FIN_KEEP : FIN_FREE);
	b = garbage(ib, FIN_FREE);
	if (_i == 2) {
		x = new_obj(ix, FIN_KEEP);
		CK_OK(gcmap_gc_register(C.gc, x, NULL, trace, &C));
		link_to(a, 0, x);
		link_to(x, 1, b);
	} else {
		link_to(a, 0, b);
	}
	ck_assert_int_eq(cycle(&q), 1);
	ck_assert_int_eq(q, 1);
	ck_assert_uint_eq(fcount(ia), 1);
	ck_assert_msg(intact(ib), "B was finalized in the cycle that finalized A");
	s = gst();
	ck_assert_uint_eq(s.finalized, 1);
	ck_assert_uint_eq(s.pending, 0);
	ck_assert_uint_eq(s.registered, 1 + (_i == 1) + (_i == 2));

	ck_assert_int_eq(cycle(&q), 1);
	ck_assert_int_eq(q, 1);
	ck_assert_uint_eq(fcount(ib), 1);
	ck_assert_uint_eq(LOAD(&C.order[0]), ia);
	ck_assert_uint_eq(LOAD(&C.order[1]), ib);
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(cycle(NULL), 0);
	s = gst();
	ck_assert_uint_eq(s.finalized, 2);
	ck_assert_uint_eq(s.registered, (_i == 1) + (_i == 2));
	ck_assert_uint_eq(s.cycles_found, 0);
	CK_OK(gcmap_gc_destroy(C.gc));
	test_end();
}
END_TEST

/* A chain O0 -> O1 -> ... -> Od of depth d = _i: one object per cycle, in
 * order, all within d + 1 cycles. */
START_TEST(test_finalizer_order_chain)
{
	const unsigned int d = (unsigned int)_i;
	struct obj *o[8];
	struct gcmap_gc_stats s;
	int q;

	test_begin();
	new_gc(0, 0);
	for (unsigned int i = d + 1; i-- > 0;)
		o[i] = garbage(i, FIN_FREE);
	for (unsigned int i = 0; i < d; i++)
		link_to(o[i], (int)(i % NCHILD), o[i + 1]);
	for (unsigned int k = 1; k <= d + 1; k++) {
		ck_assert_int_eq(cycle(&q), 1);
		ck_assert_int_eq(q, 1);
		ck_assert_uint_eq(LOAD(&C.total), k);
		ck_assert_msg(LOAD(&C.order[k - 1]) == k - 1, "cycle %u finalized %u, expected %u",
			      k, LOAD(&C.order[k - 1]), k - 1);
		for (unsigned int j = k; j <= d; j++)
			ck_assert_msg(intact(j), "depth %u: O%u finalized in cycle %u", d, j, k);
	}
	ck_assert_int_eq(cycle(NULL), 0);
	s = gst();
	ck_assert_uint_eq(s.cycles, d + 2);
	ck_assert_uint_eq(s.finalized, d + 1);
	ck_assert_uint_eq(s.registered, 0);
	ck_assert_uint_eq(s.pending, 0);
	CK_OK(gcmap_gc_destroy(C.gc));
	test_end();
}
END_TEST

/*
 * A -> B; A is queued in a first cycle and a second cycle runs before A's
 * finalizer did. A's finalizer may still use B (or resurrect A, as here), so
 * B must survive the second cycle: "if A reaches B, B survives until A is
 * finalized" (doc/design.md), the ready queue is a root in Boehm's GC.
 */
START_TEST(test_finalizer_order_while_pending)
{
	struct gcmap *m;
	struct obj *a, *b;
	int q1, q2, ran;

	test_begin();
	new_gc(0, 0);
	m = new_map(true);
	C.res_map = m;
	a = garbage(0, FIN_RESURRECT);
	b = garbage(1, FIN_FREE);
	link_to(a, 0, b);
	q1 = gcmap_gc_collect(C.gc);
	ck_assert_int_eq(q1, 1);
	q2 = gcmap_gc_collect(C.gc); /* A pending, not finalized yet */
	ran = gcmap_gc_run_finalizers(C.gc, 0);
	ck_assert_uint_eq(fcount(0), 1);
	ck_assert_msg(intact(1),
		      "B was finalized although A, which reaches it, was still waiting for its "
		      "finalizer when B's cycle ran (second collect queued %d, run ran %d) and "
		      "A's finalizer resurrected A",
		      q2, ran);
	ck_assert_int_eq(q2, 0);
	for (int k = 0; k < 5; k++) {
		ck_assert_int_eq(cycle(NULL), 0);
		ck_assert(intact(1));
	}
	ck_assert_uint_eq(gst().resurrected, 1);
	CK_OK(gcmap_gc_destroy(C.gc));
	CK_OK(gcmap_destroy(m));
	(void)a;
	test_end();
}
END_TEST

/* The same while A's finalizer runs on another thread (its finalizer
 * pointer is already taken): a cycle then must not condemn B either. */
static void *run_one_main(void *p)
{
	(void)p;
	worker_register(&C.fr);
	W_RC(&C.fr, gcmap_gc_run_finalizers(C.gc, 1), 1);
	worker_unregister(&C.fr);
	return NULL;
}

START_TEST(test_finalizer_order_while_running)
{
	struct gcmap *m;
	struct obj *a, *b;
	pthread_t t;
	int q2, ran;

	test_begin();
	new_gc(0, 0);
	m = new_map(true);
	C.res_map = m;
	a = garbage(0, FIN_BLOCK);
	b = garbage(1, FIN_FREE);
	C.block_child = 1;
	link_to(a, 0, b);
	ck_assert_int_eq(gcmap_gc_collect(C.gc), 1);
	ck_assert_int_eq(pthread_create(&t, NULL, run_one_main, NULL), 0);
	ck_assert_msg(WAIT_FOR(LOAD(&C.blocked), WAIT_S), "A's finalizer did not start");
	q2 = gcmap_gc_collect(C.gc); /* while A's finalizer runs */
	ran = gcmap_gc_run_finalizers(C.gc, 0);
	STORE(&C.unblock, 1);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	CK_NO_FAILURES(&C.fr);
	ck_assert_msg(intact(1),
		      "B was finalized while A's finalizer (A reaches B) was running (collect "
		      "queued %d, run ran %d)",
		      q2, ran);
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(cycle(NULL), 0);
		ck_assert(intact(1));
	}
	ck_assert_uint_eq(gst().resurrected, 1);
	CK_OK(gcmap_gc_destroy(C.gc));
	CK_OK(gcmap_destroy(m));
	(void)a;
	(void)b;
	test_end();
}
END_TEST

/* ---- 4. cycles ---- */

#define CYCLE_ROUNDS 20

/* A cycle of length _i (1: A -> A, 2: A <-> B, 3: A -> B -> C -> A),
 * unreachable: never finalized; cycles_found counts it in every sweep. Once
 * the cycle is broken, the chain that is left is finalized in order. */
START_TEST(test_finalizer_cycles)
{
	const unsigned int len = (unsigned int)_i;
	struct obj *o[3];
	struct gcmap_gc_stats s;
	unsigned long found = 0;
	int q;

	test_begin();
	new_gc(0, 0);
	for (unsigned int i = 0; i < len; i++)
		o[i] = garbage(i, FIN_FREE);
	for (unsigned int i = 0; i < len; i++)
		link_to(o[i], 0, o[(i + 1) % len]);
	for (int k = 0; k < CYCLE_ROUNDS; k++) {
		ck_assert_int_eq(cycle(&q), 0);
		ck_assert_int_eq(q, 0);
		s = gst();
		ck_assert_msg(s.cycles_found > found, "cycle %d: cycles_found stayed %lu", k,
			      found);
		found = s.cycles_found;
	}
	for (unsigned int i = 0; i < len; i++)
		ck_assert(intact(i));
	s = gst();
	ck_assert_uint_gt(s.cycles_found, 0);
	ck_assert_uint_eq(s.finalized, 0);
	ck_assert_uint_eq(s.pending, 0);
	ck_assert_uint_eq(s.registered, len);
	ck_assert_uint_eq(s.cycles, CYCLE_ROUNDS);

	/* Break it (Boehm: a cleared link): O0 -> ... -> O(len-1). */
	CK_OK(gcmap_gc_store(C.gc, &o[len - 1]->child[0], NULL));
	for (unsigned int k = 1; k <= len; k++) {
		ck_assert_int_eq(cycle(NULL), 1);
		ck_assert_uint_eq(LOAD(&C.order[k - 1]), k - 1);
	}
	ck_assert_int_eq(cycle(NULL), 0);
	s = gst();
	ck_assert_uint_eq(s.finalized, len);
	ck_assert_uint_eq(s.registered, 0);
	ck_assert_uint_eq(s.cycles_found, found); /* no cycle any more */
	CK_OK(gcmap_gc_destroy(C.gc));
	test_end();
}
END_TEST

/* X -> (A <-> B): X is finalized, the cycle never. */
START_TEST(test_finalizer_cycle_reached_from_outside)
{
	struct obj *x, *a, *b;
	struct gcmap_gc_stats s;

	test_begin();
	new_gc(0, 0);
	x = garbage(0, FIN_FREE);
	a = garbage(1, FIN_FREE);
	b = garbage(2, FIN_FREE);
	link_to(x, 0, a);
	link_to(a, 0, b);
	link_to(b, 0, a);
	ck_assert_int_eq(cycle(NULL), 1);
	ck_assert_uint_eq(fcount(0), 1);
	for (int k = 0; k < CYCLE_ROUNDS; k++)
		ck_assert_int_eq(cycle(NULL), 0);
	ck_assert(intact(1));
	ck_assert(intact(2));
	s = gst();
	ck_assert_uint_ge(s.cycles_found, CYCLE_ROUNDS);
	ck_assert_uint_eq(s.finalized, 1);
	ck_assert_uint_eq(s.registered, 2);
	CK_OK(gcmap_gc_destroy(C.gc));
	test_end();
}
END_TEST

/* ---- 5. resurrection ---- */

START_TEST(test_finalizer_resurrect)
{
	struct gcmap *m;
	struct obj *a, *b;
	struct gcmap_gc_stats s;
	void *v = NULL;
	int q;

	test_begin();
	new_gc(0, 0);
	m = new_map(true);
	C.res_map = m;
	a = garbage(0, FIN_RESURRECT);
	b = garbage(1, FIN_FREE);
	link_to(a, 0, b);
	ck_assert_int_eq(cycle(&q), 1);
	ck_assert_int_eq(q, 1);
	CK_OK(gcmap_get_u64(m, RES_KEY(0), &v));
	ck_assert_ptr_eq(v, a);
	s = gst();
	ck_assert_uint_eq(s.finalized, 1);
	ck_assert_uint_eq(s.resurrected, 0); /* not seen by a cycle yet */
	for (int k = 0; k < 10; k++) {
		ck_assert_int_eq(cycle(&q), 0);
		ck_assert_int_eq(q, 0);
		ck_assert_uint_eq(fcount(0), 1);
		ck_assert_msg(intact(1), "B finalized while A (resurrected) reaches it");
		ck_assert_uint_eq(gst().resurrected, 1); /* counted once */
	}
	s = gst();
	ck_assert_uint_eq(s.registered, 2);
	ck_assert_uint_eq(s.finalized, 1);
	ck_assert_uint_eq(s.pending, 0);
	/* A unreachable again: it has no finalizer any more; B goes now. */
	CK_OK(gcmap_delete_u64(m, RES_KEY(0), NULL));
	ck_assert_int_eq(cycle(NULL), 1);
	ck_assert_uint_eq(fcount(1), 1);
	ck_assert_uint_eq(fcount(0), 1);
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(cycle(NULL), 0);
	s = gst();
	ck_assert_uint_eq(s.finalized, 2);
	ck_assert_uint_eq(s.resurrected, 1);
	ck_assert_uint_eq(s.registered, 1); /* A */
	CK_OK(gcmap_gc_unregister(C.gc, a));
	ck_assert_uint_eq(gst().registered, 0);
	CK_OK(gcmap_gc_destroy(C.gc));
	CK_OK(gcmap_destroy(m));
	test_end();
}
END_TEST

/* ---- 6. finalizers that use and destroy maps; 7. both contexts ---- */

/* _i (both tests): 0 finalizers on the driving thread, 1 background. */
static void drive_map_calls(int bg)
{
	/* A (0) is finalized: its finalizer deletes C (1) and inserts D (2). */
	if (!bg) {
		int q = gcmap_gc_collect(C.gc);

		W_RC(&C.fr, q, 1);
		W_RC(&C.fr, gcmap_gc_run_finalizers(C.gc, 0), 1);
	}
	drive_until_finalized(0, bg, !bg);
	/* C became unreachable in A's finalizer; keep cycling in the
	 * background mode so cycles overlap the finalizers. */
	drive_until_finalized(1, true, !bg);
}

START_TEST(test_finalizer_calls_map)
{
	struct gcmap *m;
	struct obj *c, *d;
	struct gcmap_gc_stats s;
	size_t n = 0;
	void *v = NULL;

	test_begin();
	new_gc(_i ? GCMAP_GC_F_BACKGROUND : 0, 0);
	m = new_map(true);
	garbage(0, FIN_MAP_OPS);
	c = live(m, 2, 1, FIN_FREE);
	d = new_obj(2, FIN_FREE);
	C.ops_map = m;
	C.ops_expect = c;
	C.ops_new = d;
	run_bounded(drive_map_calls, _i, "a finalizer that calls into a map");
	ck_assert_uint_eq(fcount(0), 1);
	ck_assert_uint_eq(fcount(1), 1);
	CK_OK(gcmap_get_u64(m, 3, &v));
	ck_assert_ptr_eq(v, d);
	CK_RC(gcmap_get_u64(m, 2, NULL), -ENOENT);
	CK_OK(gcmap_count(m, &n));
	ck_assert_uint_eq(n, 2); /* keys 3 and 4 */
	/* D is reachable: it survives. */
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(cycle(NULL), 0);
	ck_assert(intact(2));
	ck_assert_msg(WAIT_FOR(gst().finalized == 2, WAIT_S), "stats.finalized");
	s = gst();
	ck_assert_uint_eq(s.registered, 2); /* A (kept: FIN_MAP_OPS) and D */
	ck_assert_uint_eq(s.pending, 0);
	ck_assert_uint_eq(LOAD(&C.on_main), 0);
	ck_assert_uint_eq(LOAD(&C.off_main), 2);
	CK_OK(gcmap_gc_destroy(C.gc));
	CK_OK(gcmap_destroy(m));
	test_end();
}
END_TEST

static void drive_destroy_map(int bg)
{
	if (!bg) {
		W_RC(&C.fr, gcmap_gc_collect(C.gc), 1);
		W_RC(&C.fr, gcmap_gc_run_finalizers(C.gc, 0), 1);
	}
	drive_until_finalized(0, bg, !bg);
	/* C's only map is gone: the next cycles finalize it. */
	drive_until_finalized(1, true, !bg);
}

START_TEST(test_finalizer_destroys_map)
{
	struct gcmap *m, *victim;
	struct gcmap_gc_stats s;

	test_begin();
	new_gc(_i ? GCMAP_GC_F_BACKGROUND : 0, 0);
	m = new_map(true);
	victim = new_map(true);
	C.victim = victim;
	live(m, 1, 2, FIN_FREE); /* stays */
	garbage(0, FIN_DESTROY_MAP);
	live(victim, 1, 1, FIN_FREE);
	ck_assert_uint_eq(gst().maps, 2);
	run_bounded(drive_destroy_map, _i, "a finalizer that destroys an attached map");
	ck_assert_uint_eq(fcount(0), 1);
	ck_assert_uint_eq(fcount(1), 1);
	ck_assert(intact(2));
	ck_assert_msg(WAIT_FOR(gst().finalized == 2, WAIT_S), "stats.finalized");
	s = gst();
	ck_assert_uint_eq(s.maps, 1); /* destroy detached it */
	ck_assert_uint_eq(s.registered, 2); /* A (kept) and the one in m */
	ck_assert_uint_eq(s.pending, 0);
	CK_OK(gcmap_gc_destroy(C.gc));
	CK_OK(gcmap_destroy(m));
	test_end();
}
END_TEST

#define CTX_N 16

START_TEST(test_finalizer_contexts)
{
	struct gcmap_gc_stats s;

	test_begin();
	new_gc(_i ? GCMAP_GC_F_BACKGROUND : 0, 0);
	STORE(&C.check_sync, true);
	for (unsigned int i = 0; i < CTX_N; i++)
		garbage(i, FIN_FREE);
	ck_assert_int_eq(gcmap_gc_collect(C.gc), CTX_N);
	if (!_i) {
		/* Nobody runs them without being asked. */
		sleep_ms(QUIET_MS);
		s = gst();
		ck_assert_uint_eq(s.pending, CTX_N);
		ck_assert_uint_eq(s.finalized, 0);
		ck_assert_int_eq(gcmap_gc_run_finalizers(C.gc, 0), CTX_N);
		ck_assert_uint_eq(LOAD(&C.on_main), CTX_N);
		ck_assert_uint_eq(LOAD(&C.off_main), 0);
	} else {
		/* The background thread runs them; nobody calls run. */
		ck_assert_msg(WAIT_FOR(gst().finalized == CTX_N && LOAD(&C.total) == CTX_N, WAIT_S),
			      "background thread ran %lu of %d finalizers in %.0f s",
			      gst().finalized, CTX_N, WAIT_S);
		ck_assert_uint_eq(LOAD(&C.on_main), 0);
		ck_assert_uint_eq(LOAD(&C.off_main), CTX_N);
		pthread_mutex_lock(&C.tid_lock);
		ck_assert_uint_eq(C.tid_mismatch, 0); /* all on one thread */
		pthread_mutex_unlock(&C.tid_lock);
		ck_assert_int_eq(gcmap_gc_run_finalizers(C.gc, 0), 0);
	}
	CK_NO_FAILURES(&C.fr); /* registered, outside any section */
	s = gst();
	ck_assert_uint_eq(s.finalized, CTX_N);
	ck_assert_uint_eq(s.pending, 0);
	ck_assert_uint_eq(s.registered, 0);
	ck_assert_uint_eq(s.cycles, 1); /* pace 0: no cycle by itself */
	CK_OK(gcmap_gc_destroy(C.gc));
	test_end();
}
END_TEST

/* ---- 8. pacing ---- */

#define PACE_LIVE 10

/* cycles, once no cycle completed for 100 ms. */
static unsigned long settle_cycles(void)
{
	unsigned long c = gst().cycles;

	for (int i = 0; i < 100; i++) {
		unsigned long n;

		sleep_ms(100);
		n = gst().cycles;
		if (n == c)
			return c;
		c = n;
	}
	ck_abort_msg("cycles never settled");
	return c;
}

/* A paced domain: PACE_LIVE live objects in @m, and a last cycle (ours)
 * that ended with exactly those registered. Return the settled cycle count. */
static unsigned long pace_setup(struct gcmap **m)
{
	double until;
	int rc;

	new_gc(GCMAP_GC_F_BACKGROUND, 50);
	*m = new_map(true);
	for (unsigned int i = 0; i < PACE_LIVE; i++)
		live(*m, i, i, FIN_FREE);
	until = now_s() + WAIT_S;
	while ((rc = gcmap_gc_collect(C.gc)) == -EBUSY && now_s() < until)
		sleep_ms(1);
	ck_assert_int_eq(rc, 0);
	return settle_cycles();
}

/* Register garbage ids [from, to); check no cycle starts below 50% growth,
 * then that one starts once it is crossed (the last id). */
static void pace_round(unsigned long c0, unsigned int from, unsigned int to)
{
	struct gcmap_gc_stats s;
	size_t base = gst().registered;

	for (unsigned int i = from; i + 1 < to; i++)
		garbage(i, FIN_FREE);
	sleep_ms(QUIET_MS);
	s = gst();
	ck_assert_msg(s.cycles == c0, "a cycle started below the threshold (%zu -> %zu registered)",
		      base, s.registered);
	ck_assert_uint_eq(LOAD(&C.total), from - PACE_LIVE);
	garbage(to - 1, FIN_FREE);
	ck_assert_msg(WAIT_FOR(gst().cycles > c0, PACE_WAIT_S),
		      "no cycle within %.0f s after registered objects grew by 50%% (%zu live "
		      "after the last cycle, %zu now)",
		      PACE_WAIT_S, base, gst().registered);
	ck_assert_msg(
		WAIT_FOR(LOAD(&C.total) == to - PACE_LIVE && gst().registered == PACE_LIVE, WAIT_S),
		"the paced cycle's garbage was not finalized by the background thread");
}

START_TEST(test_finalizer_pacing)
{
	struct gcmap *m;
	unsigned long c0;

	test_begin();
	c0 = pace_setup(&m);
	ck_assert_uint_eq(gst().registered, PACE_LIVE);
	/* 10 -> 14 (+40%): nothing; 15 (+50%): a cycle by itself. */
	pace_round(c0, PACE_LIVE, PACE_LIVE + PACE_LIVE / 2);
	for (unsigned int i = 0; i < PACE_LIVE; i++)
		ck_assert(intact(i));
	ck_assert_uint_eq(gst().pending, 0);
	CK_OK(gcmap_gc_destroy(C.gc));
	CK_OK(gcmap_destroy(m));
	test_end();
}
END_TEST

/*
 * A second round: after the paced cycle's garbage was finalized, the domain
 * holds PACE_LIVE objects again, and growing by 50% from there starts the
 * next cycle ("like GOGC": the baseline is what survived, not the garbage
 * the last cycle found).
 */
START_TEST(test_finalizer_pacing_second_round)
{
	struct gcmap *m;
	unsigned long c1;
	const unsigned int half = PACE_LIVE / 2;

	test_begin();
	pace_setup(&m);
	pace_round(settle_cycles(), PACE_LIVE, PACE_LIVE + half);
	c1 = settle_cycles();
	ck_assert_uint_eq(gst().registered, PACE_LIVE);
	/* ids PACE_LIVE + half ...: the next 50%. */
	{
		struct gcmap_gc_stats s;

		for (unsigned int i = PACE_LIVE + half; i < PACE_LIVE + 2 * half; i++)
			garbage(i, FIN_FREE);
		ck_assert_msg(WAIT_FOR(gst().cycles > c1, PACE_WAIT_S),
			      "second round: no cycle within %.0f s after registered objects grew "
			      "from %u (live after the last cycle's finalizers) to %zu (+50%%)",
			      PACE_WAIT_S, (unsigned int)PACE_LIVE, gst().registered);
		ck_assert_msg(WAIT_FOR(LOAD(&C.total) == 2 * half, WAIT_S), "finalizers");
		s = gst();
		ck_assert_uint_eq(s.registered, PACE_LIVE);
	}
	CK_OK(gcmap_gc_destroy(C.gc));
	CK_OK(gcmap_destroy(m));
	test_end();
}
END_TEST

/* ---- 9. destroy, errors, statistics ---- */

START_TEST(test_finalizer_destroy_in_section)
{
	struct gcmap *m;
	void *v = NULL;

	test_begin();
	new_gc(0, 0);
	m = new_map(true);
	live(m, 1, 0, FIN_FREE);
	garbage(1, FIN_FREE);
	for (int depth = 1; depth <= 2; depth++) {
		for (int i = 0; i < depth; i++)
			CK_OK(gcmap_read_lock());
		CK_RC(gcmap_destroy(m), -EDEADLK);
		CK_RC(gcmap_gc_destroy(C.gc), -EDEADLK);
		CK_RC(gcmap_gc_detach(m), -EDEADLK);
		CK_RC(gcmap_gc_collect(C.gc), -EDEADLK);
		CK_RC(gcmap_gc_begin(C.gc), -EDEADLK);
		CK_RC(gcmap_gc_run_finalizers(C.gc, 0), -EDEADLK);
		for (int i = 0; i < depth; i++)
			CK_OK(gcmap_read_unlock());
	}
	/* Nothing was torn down. */
	ck_assert_uint_eq(gst().maps, 1);
	CK_OK(gcmap_get_u64(m, 1, &v));
	ck_assert_ptr_eq(v, LOAD(&C.objs[0]));
	ck_assert_int_eq(cycle(NULL), 1);
	ck_assert_uint_eq(fcount(1), 1);
	ck_assert(intact(0));
	CK_OK(gcmap_destroy(m));
	ck_assert_uint_eq(gst().maps, 0);
	ck_assert_int_eq(cycle(NULL), 1); /* its value is garbage now */
	ck_assert_uint_eq(fcount(0), 1);
	ck_assert_uint_eq(gst().registered, 0);
	CK_OK(gcmap_gc_destroy(C.gc));
	test_end();
}
END_TEST

/* gcmap_gc_destroy waits for a finalizer in progress on the background
 * thread, and for pending unregister callbacks. */
START_TEST(test_finalizer_destroy_waits)
{
	test_begin();
	new_gc(GCMAP_GC_F_BACKGROUND, 0);
	C.slow_ms = 300;
	garbage(0, FIN_SLOW);
	for (unsigned int i = 1; i < 6; i++)
		garbage(i, FIN_FREE);
	for (unsigned int i = 6; i < 200; i++) { /* unregister callbacks pending */
		struct obj *o = garbage(i, FIN_FREE);

		CK_OK(gcmap_gc_unregister(C.gc, o));
	}
	ck_assert_int_eq(gcmap_gc_collect(C.gc), 6);
	ck_assert_msg(WAIT_FOR(LOAD(&C.slow_started), WAIT_S), "slow finalizer did not start");
	CK_OK(gcmap_gc_destroy(C.gc));
	ck_assert_msg(LOAD(&C.slow_done), "gcmap_gc_destroy returned during a finalizer");
	for (unsigned int i = 0; i < 6; i++)
		ck_assert_uint_le(fcount(i), 1);
	CK_NO_FAILURES(&C.fr);
	test_end();
}
END_TEST

/* Queued finalizers are dropped by gcmap_gc_destroy (not run). */
START_TEST(test_finalizer_destroy_drops_pending)
{
	test_begin();
	new_gc(0, 0);
	for (unsigned int i = 0; i < 8; i++)
		garbage(i, FIN_FREE);
	ck_assert_int_eq(gcmap_gc_collect(C.gc), 8);
	ck_assert_uint_eq(gst().pending, 8);
	CK_OK(gcmap_gc_destroy(C.gc));
	ck_assert_uint_eq(LOAD(&C.total), 0);
	test_end();
}
END_TEST

/*
 * A and B queued in that order; A is unregistered by the program while a
 * cycle is in progress. A's finalizer is dropped; B's still runs.
 */
START_TEST(test_finalizer_unregister_pending)
{
	struct gcmap *m;
	struct obj *a;
	struct gcmap_gc_stats s;
	int ran;

	test_begin();
	new_gc(0, 0);
	m = new_map(true);
	a = garbage(0, FIN_FREE);
	live(m, 1, 1, FIN_FREE);
	ck_assert_int_eq(gcmap_gc_collect(C.gc), 1); /* A */
	CK_OK(gcmap_delete_u64(m, 1, NULL));
	ck_assert_int_eq(gcmap_gc_collect(C.gc), 1); /* B, after A */
	ck_assert_uint_eq(gst().pending, 2);
	CK_OK(gcmap_gc_begin(C.gc));
	CK_OK(gcmap_gc_unregister(C.gc, a));
	CK_OK(gcmap_barrier()); /* its registry entry's callback has run */
	ck_assert_int_eq(gcmap_gc_finish(C.gc), 0);
	ran = gcmap_gc_run_finalizers(C.gc, 0);
	s = gst();
	ck_assert_msg(fcount(1) == 1 && s.pending == 0,
		      "B's finalizer was lost from the queue: run_finalizers ran %d, B ran %u "
		      "times, pending %zu",
		      ran, fcount(1), s.pending);
	ck_assert_uint_eq(fcount(0), 0); /* dropped: unregistered */
	ck_assert_uint_eq(s.finalized, 1);
	ck_assert_uint_eq(s.registered, 0);
	CK_OK(gcmap_gc_destroy(C.gc));
	CK_OK(gcmap_destroy(m));
	test_end();
}
END_TEST

/* Every counter through one scenario. */
START_TEST(test_finalizer_stats)
{
	struct gcmap *m;
	struct gcmap_gc_stats s;
	struct obj *self, *keep;
	int q;

	test_begin();
	new_gc(0, 0);
	s = gst();
	ck_assert_uint_eq(s.registered + s.finalized + s.pending + s.resurrected + s.cycles_found +
				  s.maps + s.cycles + s.roots,
			  0);
	m = new_map(true);
	C.res_map = m;
	ck_assert_uint_eq(gst().maps, 1);
	for (unsigned int i = 0; i < 3; i++)
		live(m, i, i, FIN_FREE); /* 0..2 live */
	garbage(3, FIN_FREE);
	garbage(4, FIN_FREE);
	keep = garbage(5, FIN_KEEP);
	self = garbage(6, FIN_FREE);
	link_to(self, 0, self);
	garbage(7, FIN_RESURRECT);
	ck_assert_uint_eq(gst().registered, 8);

	q = gcmap_gc_collect(C.gc);
	ck_assert_int_eq(q, 4); /* 3, 4, 5, 7 */
	s = gst();
	ck_assert_uint_eq(s.pending, 4);
	ck_assert_uint_eq(s.finalized, 0);
	ck_assert_uint_eq(s.cycles_found, 1);
	ck_assert_uint_eq(s.cycles, 1);
	ck_assert_int_eq(gcmap_gc_run_finalizers(C.gc, 0), 4);
	s = gst();
	ck_assert_uint_eq(s.pending, 0);
	ck_assert_uint_eq(s.finalized, 4);
	ck_assert_uint_eq(s.registered, 6); /* 0..2, 5 (kept), 6, 7 (resurrected) */
	ck_assert_uint_eq(s.resurrected, 0);

	ck_assert_int_eq(cycle(&q), 0);
	ck_assert_int_eq(q, 0);
	s = gst();
	ck_assert_uint_eq(s.resurrected, 1);
	ck_assert_uint_eq(s.cycles_found, 2);
	CK_OK(gcmap_gc_root_add(C.gc, keep));
	ck_assert_uint_eq(gst().roots, 1);
	ck_assert_int_eq(cycle(NULL), 0);
	s = gst();
	ck_assert_uint_eq(s.resurrected, 2); /* 5 is reachable again (a root) */
	ck_assert_uint_eq(s.cycles_found, 3);
	ck_assert_uint_eq(s.finalized, 4);
	ck_assert_uint_eq(s.cycles, 3);
	CK_OK(gcmap_gc_root_remove(C.gc, keep));
	ck_assert_uint_eq(gst().roots, 0);
	CK_OK(gcmap_gc_destroy(C.gc));
	CK_OK(gcmap_destroy(m));
	test_end();
}
END_TEST

static Suite *finalizer_suite(void)
{
	Suite *s = suite_create("finalizer");
	TCase *tc;

	tc = tcase_create("once");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_finalizer_once_many_cycles);
	tcase_add_test(tc, test_finalizer_once_two_runners);
	suite_add_tcase(s, tc);

	tc = tcase_create("grace");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_finalizer_after_grace_period, 0, 2);
	tcase_add_test(tc, test_finalizer_grace_during_marking);
	suite_add_tcase(s, tc);

	tc = tcase_create("order");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_finalizer_order_pair, 0, 3);
	tcase_add_loop_test(tc, test_finalizer_order_chain, 1, 7);
	tcase_add_test(tc, test_finalizer_order_while_pending);
	tcase_add_test(tc, test_finalizer_order_while_running);
	suite_add_tcase(s, tc);

	tc = tcase_create("cycles");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_finalizer_cycles, 1, 4);
	tcase_add_test(tc, test_finalizer_cycle_reached_from_outside);
	suite_add_tcase(s, tc);

	tc = tcase_create("resurrect");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_finalizer_resurrect);
	suite_add_tcase(s, tc);

	tc = tcase_create("contexts");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_finalizer_calls_map, 0, 2);
	tcase_add_loop_test(tc, test_finalizer_destroys_map, 0, 2);
	tcase_add_loop_test(tc, test_finalizer_contexts, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("pacing");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_finalizer_pacing);
	tcase_add_test(tc, test_finalizer_pacing_second_round);
	suite_add_tcase(s, tc);

	tc = tcase_create("destroy");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_finalizer_destroy_in_section);
	tcase_add_test(tc, test_finalizer_destroy_waits);
	tcase_add_test(tc, test_finalizer_destroy_drops_pending);
	tcase_add_test(tc, test_finalizer_unregister_pending);
	tcase_add_test(tc, test_finalizer_stats);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(finalizer_suite());
}
