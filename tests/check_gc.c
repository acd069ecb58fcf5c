/*
 * check_gc.c - the collector (lib/gc.c, lib/barrier.c, lib/finalizer.c):
 * collection, attach/detach, roots, trace functions and gcmap_gc_store(),
 * born-marked registration, statistics, error codes; the lost-object races
 * of the write barrier driven step by step (a grow, a shrink, a marker
 * frozen mid-scan), each shown to lose the object with the barrier off and
 * to keep it with the barrier on; and a short run of the concurrent stress
 * (examples/gcstress_impl.h) both ways.
 */
#include "evac_util.h"
#include "gcstress_impl.h"

#include <sys/wait.h>
#include <unistd.h>

static void setup_registered(void)
{
	ck_assert_int_eq(gcmap_thread_register(), 0);
}

static void teardown_registered(void)
{
	ev_flags_set(0);
	pause_hook_remove();
	ck_assert_int_eq(gcmap_barrier(), 0);
	ck_assert_int_eq(gcmap_thread_unregister(), 0);
}

/* ---------------------------------------------------------------------- */
/* Test objects                                                           */

/*
 * A managed test object: two managed pointer fields (written with
 * gcmap_gc_store, reported by tobj_trace) and a record of its finalizer.
 */
struct tobj {
	void *field[2];
	int fin; /* finalizer runs; atomic */
	unsigned long fin_order; /* when it ran (fin_clock); atomic */
};

static unsigned long fin_clock;

static void tobj_fin(void *obj, void *arg)
{
	struct tobj *o = obj;

	(void)arg;
	STORE(&o->fin_order, INC(&fin_clock));
	INC(&o->fin);
}

static void tobj_trace(void *obj, gcmap_visit_fn visit, void *ctx)
{
	struct tobj *o = obj;

	for (int i = 0; i < 2; i++) {
		void *c = gcmap_gc_load(&o->field[i]);

		if (c)
			visit(c, ctx);
	}
}

static int fin_count(struct tobj *o)
{
	return LOAD(&o->fin);
}

static struct gcmap_gc *make_gc(unsigned int flags)
{
	struct gcmap_gc_options o = { .size = sizeof(o), .flags = flags };
	struct gcmap_gc *gc = NULL;

	CK_OK(gcmap_gc_create(&o, &gc));
	ck_assert_ptr_nonnull(gc);
	return gc;
}

static void reg(struct gcmap_gc *gc, struct tobj *o)
{
	CK_OK(gcmap_gc_register(gc, o, tobj_fin, tobj_trace, NULL));
}

/* Register @o and store it at key @idx, in one read-side section (the
 * pattern of include/gcmap.h). */
static void reg_put(struct gcmap_gc *gc, struct gcmap *m, int kind, uint64_t idx, struct tobj *o)
{
	CK_OK(gcmap_read_lock());
	reg(gc, o);
	CK_RC(k_put(m, kind, idx, o, NULL), 1);
	CK_OK(gcmap_read_unlock());
}

static struct gcmap_gc_stats gstats(struct gcmap_gc *gc)
{
	struct gcmap_gc_stats st;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CK_OK(gcmap_gc_stats(gc, &st));
	return st;
}

/* Collect, run every ready finalizer; return how many were queued. */
static int collect_run(struct gcmap_gc *gc)
{
	int queued = gcmap_gc_collect(gc);

	ck_assert_msg(queued >= 0, "gcmap_gc_collect: %d (%s)", queued, gcmap_strerror(queued));
	CK_RC(gcmap_gc_run_finalizers(gc, 0), queued);
	return queued;
}

/* Step until marking is done (step returns 0), at most @max calls. */
static void mark_all(struct gcmap_gc *gc, unsigned int budget, unsigned int max)
{
	int rc;

	do {
		ck_assert_msg(max-- > 0, "marking did not end");
		rc = gcmap_gc_step(gc, budget);
		ck_assert_msg(rc >= 0, "gcmap_gc_step: %d (%s)", rc, gcmap_strerror(rc));
	} while (rc == 1);
}

/* Whether @obj carries the current cycle's mark (internal look), once the
 * barrier records made so far are resolved, as the marker's next drain
 * would (lib/barrier.c). */
static bool marked_now(struct gcmap_gc *gc, void *obj);

static bool marked(struct gcmap_gc *gc, void *obj)
{
	gcmap__gc_resolve(NULL);
	return marked_now(gc, obj);
}

static void expect_get(struct gcmap *m, int kind, uint64_t idx, void *want, const char *what)
{
	void *v = NULL;
	int rc = k_get(m, kind, idx, &v);

	ck_assert_msg(rc == 0 && v == want, "%s: get(%llu) = %d, %p; want %p", what,
		      (unsigned long long)idx, rc, v, want);
}

/* ---------------------------------------------------------------------- */
/* core                                                                   */

START_TEST(test_gc_collect_unreachable)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct tobj a, b, c;
	struct gcmap_gc_stats st;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	CK_OK(gcmap_gc_attach(gc, m));
	reg_put(gc, m, GCMAP_KEY_U64, 1, &a);
	reg_put(gc, m, GCMAP_KEY_U64, 2, &b);
	reg(gc, &c); /* registered, never stored: unreachable */
	CK_RC(gcmap_put_u64(m, 3, val_of(0x1230), NULL), 1); /* not managed: ignored */

	ck_assert_int_eq(collect_run(gc), 1);
	ck_assert_int_eq(fin_count(&c), 1);
	ck_assert_int_eq(fin_count(&a), 0);
	ck_assert_int_eq(fin_count(&b), 0);
	st = gstats(gc);
	ck_assert_uint_eq(st.cycles, 1);
	ck_assert_uint_eq(st.finalized, 1);
	ck_assert_uint_eq(st.registered, 3);
	ck_assert_uint_eq(st.pending, 0);

	/* A finalized object that stays registered is not finalized again. */
	ck_assert_int_eq(collect_run(gc), 0);
	ck_assert_int_eq(fin_count(&c), 1);

	/* Deleted from the map: unreachable, finalized by the next cycle. */
	CK_OK(gcmap_delete_u64(m, 2, NULL));
	ck_assert_int_eq(collect_run(gc), 1);
	ck_assert_int_eq(fin_count(&b), 1);
	ck_assert_int_eq(fin_count(&a), 0);
	expect_get(m, GCMAP_KEY_U64, 1, &a, "survivor");
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/* A finalizer that unregisters its object (the typical one). */
static void unreg_fin(void *obj, void *arg)
{
	tobj_fin(obj, NULL);
	gcmap_gc_unregister(arg, obj);
}

START_TEST(test_gc_finalizer_unregisters)
{
	struct gcmap_gc *gc = make_gc(0);
	struct tobj o[8];

	memset(o, 0, sizeof(o));
	for (int i = 0; i < 8; i++)
		CK_OK(gcmap_gc_register(gc, &o[i], unreg_fin, NULL, gc));
	ck_assert_uint_eq(gstats(gc).registered, 8);
	ck_assert_int_eq(collect_run(gc), 8);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(fin_count(&o[i]), 1);
	ck_assert_uint_eq(gstats(gc).registered, 0);
	/* Unregistered during a cycle: entries kept until its end. */
	CK_OK(gcmap_gc_register(gc, &o[0], unreg_fin, NULL, gc));
	CK_OK(gcmap_gc_begin(gc));
	CK_OK(gcmap_gc_unregister(gc, &o[0]));
	CK_RC(gcmap_gc_unregister(gc, &o[0]), -ENOENT);
	ck_assert_int_eq(gcmap_gc_finish(gc), 0);
	CK_OK(gcmap_barrier());
	ck_assert_int_eq(collect_run(gc), 0);
	CK_OK(gcmap_gc_destroy(gc));
}
END_TEST

START_TEST(test_gc_attach_detach)
{
	struct gcmap_gc *gc = make_gc(0), *gc2 = make_gc(0);
	struct gcmap *m1 = make_map(GCMAP_KEY_U64, 0, NULL);
	struct gcmap *m2 = make_map(GCMAP_KEY_BYTES, 0, NULL);
	struct tobj a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	CK_OK(gcmap_gc_attach(gc, m1));
	CK_OK(gcmap_gc_attach(gc, m2));
	ck_assert_uint_eq(gstats(gc).maps, 2);
	CK_RC(gcmap_gc_attach(gc, m1), -EBUSY); /* twice */
	CK_RC(gcmap_gc_attach(gc2, m1), -EBUSY); /* to another domain */
	reg_put(gc, m1, GCMAP_KEY_U64, 7, &a);
	reg_put(gc, m2, GCMAP_KEY_BYTES, 7, &b); /* a byte-string key map */
	ck_assert_int_eq(collect_run(gc), 0);

	/* Detached: its values are roots no more. */
	CK_OK(gcmap_gc_detach(m2));
	CK_RC(gcmap_gc_detach(m2), -ENOENT);
	ck_assert_uint_eq(gstats(gc).maps, 1);
	ck_assert_int_eq(collect_run(gc), 1);
	ck_assert_int_eq(fin_count(&b), 1);
	ck_assert_int_eq(fin_count(&a), 0);

	/* Attach to another domain after a detach: fine. */
	CK_OK(gcmap_gc_attach(gc2, m2));
	CK_OK(gcmap_gc_detach(m2));
	CK_OK(gcmap_gc_destroy(gc2));

	/* The domain's destruction detaches its maps; they stay usable. */
	CK_OK(gcmap_gc_destroy(gc));
	CK_RC(gcmap_gc_detach(m1), -ENOENT);
	expect_get(m1, GCMAP_KEY_U64, 7, &a, "after gcmap_gc_destroy");
	CK_RC(gcmap_put_u64(m1, 8, &b, NULL), 1);
	CK_OK(gcmap_destroy(m1));
	CK_OK(gcmap_destroy(m2));
}
END_TEST

/*
 * Detach during a cycle, after the marker scanned the map: its objects
 * were marked, they survive this cycle and are collected by the next.
 * Attach during a cycle: the map is scanned by that cycle.
 */
START_TEST(test_gc_attach_detach_during_cycle)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m1 = make_map(GCMAP_KEY_U64, 0, NULL);
	struct gcmap *m2 = make_map(GCMAP_KEY_U64, 0, NULL);
	struct gcmap *m3 = make_map(GCMAP_KEY_U64, 0, NULL);
	struct tobj a, b[4], c;

	memset(&a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	CK_OK(gcmap_gc_attach(gc, m1));
	CK_OK(gcmap_gc_attach(gc, m2));
	reg_put(gc, m1, GCMAP_KEY_U64, 1, &a);
	for (int i = 0; i < 4; i++)
		reg_put(gc, m2, GCMAP_KEY_U64, (uint64_t)i, &b[i]);
	reg_put(gc, m3, GCMAP_KEY_U64, 1, &c); /* m3 not attached yet */

	CK_OK(gcmap_gc_begin(gc));
	/* 6 registry entries (the root walk), m1's 1 entry, tracing it (a
	 * grey object costs 1), then m2's 4: the marker is still inside m2
	 * (its last entry scanned, the iteration not ended). */
	CK_RC(gcmap_gc_step(gc, 6 + 1 + 1 + 4), 1);
	for (int i = 0; i < 4; i++)
		ck_assert(marked(gc, &b[i]));
	ck_assert(!marked(gc, &c));
	CK_OK(gcmap_gc_detach(m2)); /* the map being scanned */
	CK_OK(gcmap_gc_attach(gc, m3)); /* appended: scanned by this cycle */
	ck_assert_uint_eq(gstats(gc).maps, 2);
	ck_assert_int_eq(gcmap_gc_finish(gc), 0);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(fin_count(&b[i]), 0);
	ck_assert_int_eq(fin_count(&c), 0);

	/* The next cycle collects the detached map's objects. */
	ck_assert_int_eq(collect_run(gc), 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(fin_count(&b[i]), 1);
	ck_assert_int_eq(fin_count(&a), 0);
	ck_assert_int_eq(fin_count(&c), 0);
	expect_get(m2, GCMAP_KEY_U64, 0, &b[0], "the detached map keeps its values");
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m1));
	CK_OK(gcmap_destroy(m2));
	CK_OK(gcmap_destroy(m3));
}
END_TEST

START_TEST(test_gc_roots)
{
	struct gcmap_gc *gc = make_gc(0);
	struct tobj o, late;

	memset(&o, 0, sizeof(o));
	memset(&late, 0, sizeof(late));
	reg(gc, &o);
	reg(gc, &late);
	CK_RC(gcmap_gc_root_remove(gc, &o), -ENOENT); /* not a root */
	CK_OK(gcmap_gc_root_add(gc, &o));
	CK_OK(gcmap_gc_root_add(gc, &o));
	ck_assert_uint_eq(gstats(gc).roots, 1);
	/* A root added during marking, behind the root walk, is kept. */
	CK_OK(gcmap_gc_begin(gc));
	CK_RC(gcmap_gc_step(gc, 3), 1);
	ck_assert(!marked(gc, &late));
	CK_OK(gcmap_gc_root_add(gc, &late));
	ck_assert(marked(gc, &late));
	ck_assert_int_eq(gcmap_gc_finish(gc), 0);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 0);
	ck_assert_uint_eq(gstats(gc).roots, 2);
	CK_OK(gcmap_gc_root_remove(gc, &late));

	/* Counted: added twice, it stays a root after one remove. */
	CK_OK(gcmap_gc_root_remove(gc, &o));
	ck_assert_uint_eq(gstats(gc).roots, 1);
	ck_assert_int_eq(collect_run(gc), 1); /* late */
	ck_assert_int_eq(fin_count(&late), 1);
	ck_assert_int_eq(fin_count(&o), 0);
	CK_OK(gcmap_gc_root_remove(gc, &o));
	CK_RC(gcmap_gc_root_remove(gc, &o), -ENOENT);
	ck_assert_uint_eq(gstats(gc).roots, 0);
	ck_assert_int_eq(collect_run(gc), 1);
	ck_assert_int_eq(fin_count(&o), 1);
	CK_OK(gcmap_gc_destroy(gc));
}
END_TEST

/*
 * Trace functions: children reachable only through a traced object
 * survive; finalization order is topological (Boehm): a parent is
 * finalized before the child it reaches; a cycle is never finalized.
 */
START_TEST(test_gc_trace_children)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct tobj r, c1, c2, gc1, lone, p, k, x, y;
	struct gcmap_gc_stats st;

	memset(&r, 0, sizeof(r));
	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	memset(&gc1, 0, sizeof(gc1));
	memset(&lone, 0, sizeof(lone));
	memset(&p, 0, sizeof(p));
	memset(&k, 0, sizeof(k));
	memset(&x, 0, sizeof(x));
	memset(&y, 0, sizeof(y));
	CK_OK(gcmap_gc_attach(gc, m));
	reg_put(gc, m, GCMAP_KEY_U64, 1, &r);
	reg(gc, &c1);
	reg(gc, &c2);
	reg(gc, &gc1);
	reg(gc, &lone);
	CK_OK(gcmap_gc_store(gc, &r.field[0], &c1));
	CK_OK(gcmap_gc_store(gc, &r.field[1], &c2));
	CK_OK(gcmap_gc_store(gc, &c1.field[0], &gc1)); /* a grandchild */
	ck_assert_ptr_eq(gcmap_gc_load(&r.field[0]), &c1);
	ck_assert_int_eq(collect_run(gc), 1);
	ck_assert_int_eq(fin_count(&lone), 1);
	ck_assert_int_eq(fin_count(&c1) + fin_count(&c2) + fin_count(&gc1), 0);

	/* Cut c1 off: c1 and the grandchild go, in that order, c1 first. */
	CK_OK(gcmap_gc_store(gc, &r.field[0], NULL));
	ck_assert_int_eq(collect_run(gc), 1);
	ck_assert_int_eq(fin_count(&c1), 1);
	ck_assert_int_eq(fin_count(&gc1), 0); /* reachable from a finalizable object */
	ck_assert_int_eq(collect_run(gc), 1);
	ck_assert_int_eq(fin_count(&gc1), 1);
	ck_assert_int_eq(fin_count(&c2), 0);

	/* Parent p reaches k: p first, k one cycle later. */
	reg(gc, &p);
	reg(gc, &k);
	CK_OK(gcmap_gc_store(gc, &p.field[0], &k));
	ck_assert_int_eq(collect_run(gc), 1);
	ck_assert_int_eq(fin_count(&p), 1);
	ck_assert_int_eq(fin_count(&k), 0);
	CK_OK(gcmap_gc_store(gc, &p.field[0], NULL));
	ck_assert_int_eq(collect_run(gc), 1);
	ck_assert_int_eq(fin_count(&k), 1);
	ck_assert_uint_gt(LOAD(&k.fin_order), LOAD(&p.fin_order));

	/* An unreachable cycle x <-> y is never finalized, and is counted. */
	reg(gc, &x);
	reg(gc, &y);
	CK_OK(gcmap_gc_store(gc, &x.field[0], &y));
	CK_OK(gcmap_gc_store(gc, &y.field[0], &x));
	ck_assert_int_eq(collect_run(gc), 0);
	ck_assert_int_eq(fin_count(&x) + fin_count(&y), 0);
	st = gstats(gc);
	ck_assert_uint_gt(st.cycles_found, 0);
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/* Objects registered during a cycle are born marked: they survive it. */
START_TEST(test_gc_born_marked)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct tobj a, nb, nb2;

	memset(&a, 0, sizeof(a));
	memset(&nb, 0, sizeof(nb));
	memset(&nb2, 0, sizeof(nb2));
	CK_OK(gcmap_gc_attach(gc, m));
	reg_put(gc, m, GCMAP_KEY_U64, 1, &a);
	CK_OK(gcmap_gc_begin(gc));
	reg(gc, &nb); /* before any step */
	CK_RC(gcmap_gc_step(gc, 2), 1);
	reg(gc, &nb2); /* during the root walk */
	ck_assert(marked(gc, &nb));
	ck_assert(marked(gc, &nb2));
	ck_assert_uint_eq(gstats(gc).registered, 3);
	ck_assert_int_eq(gcmap_gc_finish(gc), 0);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 0);
	ck_assert_int_eq(fin_count(&nb) + fin_count(&nb2), 0);
	/* Unreachable: the next cycle collects both. */
	ck_assert_int_eq(collect_run(gc), 2);
	ck_assert_int_eq(fin_count(&nb), 1);
	ck_assert_int_eq(fin_count(&nb2), 1);
	ck_assert_int_eq(fin_count(&a), 0);
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/*
 * Regression (a46b302, found by the random fault stress): an object born
 * marked in the sweep of cycle E, whose registration then sees cycle E+1
 * marking, must be pushed grey only by the test-and-set. It was pushed
 * directly; the barrier of the put that stores it pushed it again, the
 * grey list looped on it and gcmap_gc_collect() never returned. Driven
 * step by step: the collector is frozen at the start of the sweep while
 * the registration reads the epoch, then the registration is frozen until
 * the next cycle has begun (its handshake waits for that section).
 */
struct dp_thread {
	pthread_t tid;
	struct gcmap_gc *gc;
	struct gcmap *m;
	struct tobj *o;
	struct pauser *p;
	int rc[2];
	bool missed;
	int done; /* atomic */
};

static void *dp_collector(void *arg)
{
	struct dp_thread *t = arg;

	if (gcmap_thread_register() != 0)
		return (void *)1;
	pauser_arm(t->p);
	t->rc[0] = gcmap_gc_finish(t->gc); /* cycle E: frozen in its sweep */
	t->missed = pauser_missed(t->p);
	t->rc[1] = gcmap_gc_collect(t->gc); /* cycle E+1 */
	STORE(&t->done, 1);
	return gcmap_thread_unregister() ? (void *)2 : NULL;
}

static void *dp_mutator(void *arg)
{
	struct dp_thread *t = arg;

	if (gcmap_thread_register() != 0)
		return (void *)1;
	pauser_arm(t->p);
	t->rc[0] = gcmap_gc_register(t->gc, t->o, tobj_fin, tobj_trace, NULL);
	t->missed = pauser_missed(t->p);
	t->rc[1] = gcmap_put_u64(t->m, 7, t->o, NULL);
	STORE(&t->done, 1);
	return gcmap_thread_unregister() ? (void *)2 : NULL;
}

START_TEST(test_gc_born_in_sweep_pushed_once)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	static struct tobj o;
	struct pauser psweep, pborn;
	struct dp_thread col = { 0 }, mut = { 0 };
	uint32_t epoch;
	void *ret;
	double waited = 0;

	memset(&o, 0, sizeof(o));
	CK_OK(gcmap_gc_attach(gc, m));
	pauser_init(&psweep, "gc:sweep");
	pauser_init(&pborn, "gc:register-born");
	pause_hook_install();
	CK_OK(gcmap_gc_begin(gc));
	epoch = LOAD(&gc->epoch);

	col.gc = mut.gc = gc;
	mut.m = m;
	mut.o = &o;
	col.p = &psweep;
	mut.p = &pborn;
	ck_assert_int_eq(pthread_create(&col.tid, NULL, dp_collector, &col), 0);
	ck_assert_msg(pauser_wait_arrived(&psweep, EV_WAIT_S), "the collector never swept");
	ck_assert_int_eq(pthread_create(&mut.tid, NULL, dp_mutator, &mut), 0);
	ck_assert_msg(pauser_wait_arrived(&pborn, EV_WAIT_S),
		      "the registration did not see born_marked during the sweep");
	/* Born marked with epoch E; now let cycle E end and E+1 begin. */
	pauser_release(&psweep);
	while (!(LOAD(&gc->epoch) == epoch + 1 && LOAD(&gc->phase) == GC_MARKING)) {
		ck_assert_msg(waited < EV_WAIT_S, "the next cycle did not begin");
		usleep(1000);
		waited += 1e-3;
	}
	pauser_release(&pborn);

	ck_assert_int_eq(pthread_join(mut.tid, &ret), 0);
	ck_assert_ptr_null(ret);
	ck_assert(!mut.missed);
	CK_OK(mut.rc[0]);
	CK_RC(mut.rc[1], 1);
	/* With the double push, the marker of E+1 loops on the grey list. */
	for (waited = 0; !LOAD(&col.done); waited += 1e-3) {
		ck_assert_msg(
			waited < EV_WAIT_S,
			"gcmap_gc_collect() did not return: the object was pushed grey twice");
		usleep(1000);
	}
	ck_assert_int_eq(pthread_join(col.tid, &ret), 0);
	ck_assert_ptr_null(ret);
	ck_assert(!col.missed);
	ck_assert(!pauser_timed_out(&psweep) && !pauser_timed_out(&pborn));
	ck_assert_int_ge(col.rc[0], 0);
	ck_assert_int_ge(col.rc[1], 0);
	pause_hook_remove();
	ck_assert(marked(gc, &o));
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 0);
	ck_assert_int_eq(fin_count(&o), 0); /* stored: reachable */
	ck_assert_int_eq(collect_run(gc), 0);
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
	pauser_destroy(&psweep);
	pauser_destroy(&pborn);
}
END_TEST

/*
 * A registration that saw born_marked in the sweep window of cycle E, then
 * the epoch of E+1 stored by a begin that has not yet stored the phase,
 * marked the object with E+1 and did not push it (phase IDLE): the scan of
 * E+1 found it marked and never traced it, so a child reachable only
 * through it was finalized (found in review). Now the registration loads
 * the born mark once: E, white in E+1, so the scan traces it.
 */
struct se_thread {
	pthread_t tid;
	struct gcmap_gc *gc;
	struct gcmap *m;
	struct tobj *x, *c;
	struct pauser *p;
	int rc[3];
	bool missed;
};

static void *se_mutator(void *arg)
{
	struct se_thread *t = arg;
	void *old = NULL;

	if (gcmap_thread_register() != 0)
		return (void *)1;
	/* One section: c moves from the map into x, x into the map. */
	if (gcmap_read_lock() != 0)
		return (void *)2;
	t->rc[0] = gcmap_delete_u64(t->m, 1, &old);
	STORE(&t->x->field[0], t->c); /* before x is registered: no barrier */
	pauser_arm(t->p);
	t->rc[1] = gcmap_gc_register(t->gc, t->x, tobj_fin, tobj_trace, NULL);
	t->missed = pauser_missed(t->p);
	t->rc[2] = gcmap_put_u64(t->m, 2, t->x, NULL);
	if (gcmap_read_unlock() != 0)
		return (void *)3;
	return gcmap_thread_unregister() ? (void *)4 : NULL;
}

static void *se_begin(void *arg)
{
	struct se_thread *t = arg;

	if (gcmap_thread_register() != 0)
		return (void *)1;
	pauser_arm(t->p);
	t->rc[0] = gcmap_gc_begin(t->gc);
	t->missed = pauser_missed(t->p);
	return gcmap_thread_unregister() ? (void *)2 : NULL;
}

START_TEST(test_gc_born_mark_not_from_next_epoch)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	static struct tobj x, c;
	struct pauser pborn, pbegin;
	struct se_thread mut = { 0 }, beg = { 0 };
	void *ret;

	memset(&x, 0, sizeof(x));
	memset(&c, 0, sizeof(c));
	CK_OK(gcmap_gc_attach(gc, m));
	reg_put(gc, m, GCMAP_KEY_U64, 1, &c);
	pauser_init(&pborn, "gc:register-born");
	pauser_init(&pbegin, "gc:begin-epoch");
	pause_hook_install();
	CK_OK(gcmap_gc_begin(gc)); /* cycle E */
	mark_all(gc, 64, 1000); /* marking over: the window before the sweep */
	mut.gc = beg.gc = gc;
	mut.m = m;
	mut.x = &x;
	mut.c = &c;
	mut.p = &pborn;
	beg.p = &pbegin;
	ck_assert_int_eq(pthread_create(&mut.tid, NULL, se_mutator, &mut), 0);
	ck_assert_msg(pauser_wait_arrived(&pborn, EV_WAIT_S), "x was not born marked");
	ck_assert_int_eq(gcmap_gc_finish(gc), 0); /* sweep of E: nothing queued */
	ck_assert_int_eq(pthread_create(&beg.tid, NULL, se_begin, &beg), 0);
	ck_assert_msg(pauser_wait_arrived(&pbegin, EV_WAIT_S), "begin did not store the epoch");
	/* Epoch E+1, phase still IDLE: the registration goes on. */
	pauser_release(&pborn);
	ck_assert_int_eq(pthread_join(mut.tid, &ret), 0);
	ck_assert_ptr_null(ret);
	ck_assert(!mut.missed);
	CK_OK(mut.rc[0]);
	CK_OK(mut.rc[1]);
	CK_RC(mut.rc[2], 1);
	pauser_release(&pbegin);
	ck_assert_int_eq(pthread_join(beg.tid, &ret), 0);
	ck_assert_ptr_null(ret);
	ck_assert(!beg.missed);
	CK_OK(beg.rc[0]);
	ck_assert(!pauser_timed_out(&pborn) && !pauser_timed_out(&pbegin));
	pause_hook_remove();
	ck_assert_int_eq(gcmap_gc_finish(gc), 0); /* cycle E+1 */
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 0);
	ck_assert_msg(fin_count(&c) == 0, "c finalized while reachable: m[2] = x, x->field[0] = c");
	ck_assert(marked(gc, &c));
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
	pauser_destroy(&pborn);
	pauser_destroy(&pbegin);
}
END_TEST

/*
 * A finalizer that resurrects its object after marking ended and before
 * the sweep stores it with the barrier off: the sweep must still keep what
 * the object reaches (found in review: it queued the child).
 */
static void resurrect_fin(void *obj, void *arg)
{
	struct tobj *o = obj;

	INC(&o->fin);
	ck_assert_int_eq(gcmap_put_u64(arg, 1, obj, NULL), 1);
}

START_TEST(test_gc_resurrect_before_sweep)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	static struct tobj a, b;
	void *v = NULL;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	CK_OK(gcmap_gc_attach(gc, m));
	CK_OK(gcmap_gc_register(gc, &a, resurrect_fin, tobj_trace, m));
	reg(gc, &b);
	CK_OK(gcmap_gc_store(gc, &a.field[0], &b)); /* a -> b, a unreachable */
	ck_assert_int_eq(gcmap_gc_collect(gc), 1); /* a queued; b kept (ordering) */
	CK_OK(gcmap_gc_begin(gc));
	mark_all(gc, 64, 1000); /* marking over: a and b white */
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 1); /* a back in m[1], a -> b */
	ck_assert_int_eq(gcmap_gc_finish(gc), 0);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 0);
	CK_OK(gcmap_get_u64(m, 1, &v));
	ck_assert_ptr_eq(v, &a);
	ck_assert_int_eq(fin_count(&a), 1);
	ck_assert_msg(fin_count(&b) == 0, "b finalized while m[1] = a and a->field[0] = b");
	/* Both survive later cycles while a is in the map, and go once not. */
	ck_assert_int_eq(collect_run(gc), 0);
	CK_OK(gcmap_delete_u64(m, 1, NULL));
	ck_assert_int_eq(collect_run(gc), 1); /* b (a's finalizer ran already) */
	ck_assert_int_eq(fin_count(&b), 1);
	ck_assert_int_eq(fin_count(&a), 1);
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/*
 * Two gcmap_gc_finish() calls at once: the one that does not sweep must not
 * end the cycle unswept (found in review: it failed the trylock of fin_rw,
 * held by the other finisher, and ended the cycle as if a finalizer ran).
 */
struct cf_thread {
	pthread_t tid;
	struct gcmap_gc *gc;
	struct pauser *p; /* NULL: not frozen */
	int rc;
	int done; /* atomic */
};

static void *cf_finisher(void *arg)
{
	struct cf_thread *t = arg;

	if (gcmap_thread_register() != 0)
		return (void *)1;
	if (t->p)
		pauser_arm(t->p);
	t->rc = gcmap_gc_finish(t->gc);
	if (t->p && pauser_missed(t->p))
		t->rc = -9999;
	STORE(&t->done, 1);
	return gcmap_thread_unregister() ? (void *)2 : NULL;
}

START_TEST(test_gc_concurrent_finish_sweeps)
{
	struct gcmap_gc *gc = make_gc(0);
	static struct tobj g;
	struct pauser pz;
	struct cf_thread a = { 0 }, b = { 0 };
	void *ret;

	memset(&g, 0, sizeof(g));
	reg(gc, &g); /* unreachable: garbage */
	CK_OK(gcmap_gc_begin(gc));
	mark_all(gc, 64, 1000);
	pauser_init(&pz, "gc:finish-trylocked");
	pause_hook_install();
	a.gc = b.gc = gc;
	a.p = &pz;
	ck_assert_int_eq(pthread_create(&a.tid, NULL, cf_finisher, &a), 0);
	ck_assert_msg(pauser_wait_arrived(&pz, EV_WAIT_S), "the first finisher did not get there");
	ck_assert_int_eq(pthread_create(&b.tid, NULL, cf_finisher, &b), 0);
	/* Give the second finisher time to end the cycle if it can. */
	for (int i = 0; i < 200 && !LOAD(&b.done); i++)
		usleep(1000);
	pauser_release(&pz);
	ck_assert_int_eq(pthread_join(a.tid, &ret), 0);
	ck_assert_ptr_null(ret);
	ck_assert_int_eq(pthread_join(b.tid, &ret), 0);
	ck_assert_ptr_null(ret);
	ck_assert(!pauser_timed_out(&pz));
	pause_hook_remove();
	ck_assert_msg(a.rc >= 0 && b.rc >= 0, "finish: %d, %d", a.rc, b.rc);
	ck_assert_msg(a.rc + b.rc == 1, "the cycle queued %d objects, not the 1 garbage object",
		      a.rc + b.rc);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 1);
	ck_assert_int_eq(fin_count(&g), 1);
	CK_OK(gcmap_gc_destroy(gc));
	pauser_destroy(&pz);
}
END_TEST

/*
 * Between the end of marking (gcmap_gc_step returned 0) and the sweep
 * (gcmap_gc_finish), the cycle is not over: an object registered and
 * stored then, a root added then (the header: root_add "shades @obj during
 * a cycle"), a map attached then ("the map is scanned by that cycle") must
 * survive the sweep, as during marking. The same window exists inside one
 * gcmap_gc_finish() or gcmap_gc_collect(), between its termination (the
 * phase goes IDLE) and its sweep: see test_gc_stress_register_churn.
 * Loop index: 0 register + store, 1 root_add, 2 attach.
 */
START_TEST(test_gc_window_before_sweep)
{
	static const char *what[3] = { "an object registered and stored into an attached map",
				       "a root added", "the object of a map attached" };
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct gcmap *m2 = make_map(GCMAP_KEY_U64, 0, NULL);
	struct tobj a, o;
	int queued;

	memset(&a, 0, sizeof(a));
	memset(&o, 0, sizeof(o));
	CK_OK(gcmap_gc_attach(gc, m));
	reg_put(gc, m, GCMAP_KEY_U64, 1, &a);
	if (_i == 1)
		reg(gc, &o);
	if (_i == 2)
		reg_put(gc, m2, GCMAP_KEY_U64, 1, &o); /* m2 not attached yet */
	CK_OK(gcmap_gc_begin(gc));
	mark_all(gc, 1, 1000);
	if (_i == 0)
		reg_put(gc, m, GCMAP_KEY_U64, 2, &o); /* the documented pattern */
	if (_i == 1)
		CK_OK(gcmap_gc_root_add(gc, &o));
	if (_i == 2)
		CK_OK(gcmap_gc_attach(gc, m2));
	queued = gcmap_gc_finish(gc);
	ck_assert_int_ge(queued, 0);
	ck_assert_int_ge(gcmap_gc_run_finalizers(gc, 0), 0);
	ck_assert_msg(fin_count(&o) == 0,
		      "%s after marking ended (before gcmap_gc_finish) was finalized by that "
		      "cycle's sweep",
		      what[_i]);
	ck_assert_int_eq(fin_count(&a), 0);
	ck_assert_int_eq(collect_run(gc), 0); /* and by the next cycle neither */
	ck_assert_int_eq(fin_count(&o), 0);
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_destroy(m2));
}
END_TEST

START_TEST(test_gc_stats)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct tobj o[4];
	struct gcmap_gc_stats st;
	void *old = NULL;

	memset(o, 0, sizeof(o));
	st = gstats(gc);
	ck_assert_uint_eq(st.cycles, 0);
	ck_assert_uint_eq(st.marking, 0);
	ck_assert_uint_eq(st.registered, 0);
	ck_assert_uint_eq(st.maps, 0);
	CK_OK(gcmap_gc_attach(gc, m));
	reg_put(gc, m, GCMAP_KEY_U64, 1, &o[0]);
	reg_put(gc, m, GCMAP_KEY_U64, 2, &o[1]);
	reg(gc, &o[2]);
	CK_OK(gcmap_gc_root_add(gc, &o[2]));
	reg(gc, &o[3]);
	st = gstats(gc);
	ck_assert_uint_eq(st.registered, 4);
	ck_assert_uint_eq(st.roots, 1);
	ck_assert_uint_eq(st.maps, 1);
	ck_assert_uint_eq(st.barrier_records, 0); /* no cycle: no barrier */

	CK_OK(gcmap_gc_begin(gc));
	st = gstats(gc);
	ck_assert_uint_eq(st.marking, 1);
	/* Stores during marking: the barrier shades the old and new values. */
	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_put_u64(m, 1, &o[1], &old));
	ck_assert_ptr_eq(old, &o[0]);
	CK_OK(gcmap_put_u64(m, 2, &o[0], &old));
	CK_OK(gcmap_read_unlock());
	st = gstats(gc);
	ck_assert_uint_ge(st.barrier_records, 2);
	ck_assert_int_eq(gcmap_gc_finish(gc), 1); /* o[3] */
	st = gstats(gc);
	ck_assert_uint_eq(st.marking, 0);
	ck_assert_uint_eq(st.cycles, 1);
	ck_assert_uint_eq(st.marked, 3);
	ck_assert_uint_gt(st.mark_ns, 0);
	ck_assert_uint_eq(st.pending, 1);
	ck_assert_uint_eq(st.finalized, 0);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 1);
	st = gstats(gc);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.finalized, 1);
	ck_assert_uint_eq(st.registered, 4); /* the finalizer did not unregister */

	/* Too small a struct. */
	st.size = sizeof(st) - 1;
	CK_RC(gcmap_gc_stats(gc, &st), -EINVAL);
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/* With the barrier off, stores during marking are not recorded. */
START_TEST(test_gc_stats_no_barrier)
{
	struct gcmap_gc *gc = make_gc(GCMAP_GC_F_UNSAFE_NO_BARRIER);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct tobj o;

	memset(&o, 0, sizeof(o));
	CK_OK(gcmap_gc_attach(gc, m));
	reg_put(gc, m, GCMAP_KEY_U64, 1, &o);
	CK_OK(gcmap_gc_begin(gc));
	CK_RC(gcmap_put_u64(m, 2, &o, NULL), 1);
	CK_OK(gcmap_delete_u64(m, 1, NULL));
	CK_OK(gcmap_gc_store(gc, &o.field[0], &o));
	ck_assert_int_eq(gcmap_gc_finish(gc), 0);
	ck_assert_uint_eq(gstats(gc).barrier_records, 0);
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/* gcmap_destroy() of an attached map detaches it from its domain. */
START_TEST(test_gc_destroy_attached_map)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct gcmap *m2 = make_map(GCMAP_KEY_U64, 0, NULL);
	struct tobj a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	CK_OK(gcmap_gc_attach(gc, m));
	CK_OK(gcmap_gc_attach(gc, m2));
	reg_put(gc, m, GCMAP_KEY_U64, 1, &a);
	reg_put(gc, m2, GCMAP_KEY_U64, 1, &b);
	CK_OK(gcmap_destroy(m));
	ck_assert_uint_eq(gstats(gc).maps, 1);
	ck_assert_int_eq(collect_run(gc), 1);
	ck_assert_int_eq(fin_count(&a), 1);
	ck_assert_int_eq(fin_count(&b), 0);
	CK_OK(gcmap_destroy(m2));
	ck_assert_uint_eq(gstats(gc).maps, 0);
	CK_OK(gcmap_gc_destroy(gc));
}
END_TEST

/* The same while a cycle is scanning the map (the marker's iterator is
 * open on it). */
START_TEST(test_gc_destroy_attached_map_during_cycle)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct tobj a[3];
	int rc, queued;

	memset(a, 0, sizeof(a));
	CK_OK(gcmap_gc_attach(gc, m));
	for (int i = 0; i < 3; i++)
		reg_put(gc, m, GCMAP_KEY_U64, (uint64_t)i, &a[i]);
	CK_OK(gcmap_gc_begin(gc));
	CK_RC(gcmap_gc_step(gc, 3 + 1), 1); /* the registry, then one entry of m */
	rc = gcmap_destroy(m);
	ck_assert_msg(rc == 0,
		      "gcmap_destroy of an attached map while the marker scans it returned "
		      "%d (%s)",
		      rc, gcmap_strerror(rc));
	ck_assert_uint_eq(gstats(gc).maps, 0);
	/* The one object already scanned survives this cycle, the other two
	 * go; the next cycle collects the survivor. */
	queued = gcmap_gc_finish(gc);
	ck_assert_int_eq(queued, 2);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 2);
	ck_assert_int_eq(collect_run(gc), 1);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(fin_count(&a[i]), 1);
	CK_OK(gcmap_gc_destroy(gc));
}
END_TEST

/* ---------------------------------------------------------------------- */
/* errors                                                                 */

START_TEST(test_gc_errors_args)
{
	struct gcmap_gc_options o = { .size = sizeof(o) };
	struct gcmap_gc *gc = NULL;
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct gcmap_gc_stats st;
	struct tobj a, b;
	void *field = NULL;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CK_RC(gcmap_gc_create(NULL, NULL), -EINVAL);
	o.size = sizeof(o) + 1;
	CK_RC(gcmap_gc_create(&o, &gc), -EINVAL);
	o.size = sizeof(o);
	o.flags = 1u << 7;
	CK_RC(gcmap_gc_create(&o, &gc), -EINVAL);
	CK_OK(gcmap_gc_create(NULL, &gc));

	CK_RC(gcmap_gc_destroy(NULL), -EINVAL);
	CK_RC(gcmap_gc_attach(NULL, m), -EINVAL);
	CK_RC(gcmap_gc_attach(gc, NULL), -EINVAL);
	CK_RC(gcmap_gc_detach(NULL), -EINVAL);
	CK_RC(gcmap_gc_detach(m), -ENOENT); /* not attached */
	CK_RC(gcmap_gc_register(NULL, &a, tobj_fin, NULL, NULL), -EINVAL);
	CK_RC(gcmap_gc_register(gc, NULL, tobj_fin, NULL, NULL), -EINVAL);
	CK_RC(gcmap_gc_unregister(NULL, &a), -EINVAL);
	CK_RC(gcmap_gc_unregister(gc, NULL), -EINVAL);
	CK_RC(gcmap_gc_unregister(gc, &a), -ENOENT); /* unknown */
	CK_RC(gcmap_gc_root_add(NULL, &a), -EINVAL);
	CK_RC(gcmap_gc_root_add(gc, NULL), -EINVAL);
	CK_RC(gcmap_gc_root_add(gc, &a), -ENOENT); /* not registered */
	CK_RC(gcmap_gc_root_remove(NULL, &a), -EINVAL);
	CK_RC(gcmap_gc_root_remove(gc, NULL), -EINVAL);
	CK_RC(gcmap_gc_root_remove(gc, &a), -ENOENT);
	CK_RC(gcmap_gc_store(NULL, &field, &a), -EINVAL);
	CK_RC(gcmap_gc_store(gc, NULL, &a), -EINVAL);
	CK_RC(gcmap_gc_begin(NULL), -EINVAL);
	CK_RC(gcmap_gc_step(NULL, 1), -EINVAL);
	CK_RC(gcmap_gc_finish(NULL), -EINVAL);
	CK_RC(gcmap_gc_collect(NULL), -EINVAL);
	CK_RC(gcmap_gc_run_finalizers(NULL, 0), -EINVAL);
	CK_RC(gcmap_gc_stats(NULL, &st), -EINVAL);
	CK_RC(gcmap_gc_stats(gc, NULL), -EINVAL);

	/* Registration twice; a store with NULL; the states of a cycle. */
	CK_OK(gcmap_gc_register(gc, &a, tobj_fin, tobj_trace, NULL));
	CK_RC(gcmap_gc_register(gc, &a, tobj_fin, tobj_trace, NULL), -EEXIST);
	CK_OK(gcmap_gc_store(gc, &field, NULL));
	CK_RC(gcmap_gc_step(gc, 1), -EINVAL); /* no cycle */
	ck_assert_int_eq(gcmap_gc_finish(gc), -EINVAL); /* no cycle */
	CK_OK(gcmap_gc_begin(gc));
	CK_RC(gcmap_gc_begin(gc), -EBUSY);
	CK_RC(gcmap_gc_collect(gc), -EBUSY);
	mark_all(gc, 1, 1000); /* marking done, sweep not yet */
	CK_RC(gcmap_gc_begin(gc), -EBUSY);
	ck_assert_int_eq(gcmap_gc_finish(gc), 1);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 1);
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/* -EDEADLK: everything that may wait for a grace period or for a marking
 * step, inside a read-side section. */
START_TEST(test_gc_errors_deadlk)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct gcmap *m2 = make_map(GCMAP_KEY_U64, 0, NULL);

	CK_OK(gcmap_gc_attach(gc, m2));
	CK_OK(gcmap_read_lock());
	CK_RC(gcmap_gc_begin(gc), -EDEADLK);
	CK_RC(gcmap_gc_step(gc, 1), -EDEADLK);
	CK_RC(gcmap_gc_finish(gc), -EDEADLK);
	CK_RC(gcmap_gc_collect(gc), -EDEADLK);
	CK_RC(gcmap_gc_attach(gc, m), -EDEADLK);
	CK_RC(gcmap_gc_detach(m2), -EDEADLK);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), -EDEADLK);
	CK_RC(gcmap_gc_destroy(gc), -EDEADLK);
	CK_RC(gcmap_destroy(m2), -EDEADLK);
	CK_OK(gcmap_read_unlock());

	/* Inside a section during a cycle, too. */
	CK_OK(gcmap_gc_begin(gc));
	CK_OK(gcmap_read_lock());
	CK_RC(gcmap_gc_step(gc, 1), -EDEADLK);
	CK_RC(gcmap_gc_finish(gc), -EDEADLK);
	CK_OK(gcmap_read_unlock());
	ck_assert_int_eq(gcmap_gc_finish(gc), 0);
	ck_assert_uint_eq(gstats(gc).maps, 1);
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_destroy(m2));
}
END_TEST

/* -EPERM: every call from a thread that is not registered. */
struct unreg_args {
	struct gcmap_gc *gc;
	struct gcmap *m;
	struct tobj *o;
	int rc[16];
	const char *name[16];
	int n;
};

#define UNREG_CALL(u, expr)                 \
	do {                                \
		(u)->name[(u)->n] = #expr;  \
		(u)->rc[(u)->n++] = (expr); \
	} while (0)

static void *unreg_main(void *arg)
{
	struct unreg_args *u = arg;
	struct gcmap_gc *gc2 = NULL;
	struct gcmap_gc_stats st = { .size = sizeof(st) };
	void *field = NULL;

	UNREG_CALL(u, gcmap_gc_create(NULL, &gc2));
	UNREG_CALL(u, gcmap_gc_destroy(u->gc));
	UNREG_CALL(u, gcmap_gc_attach(u->gc, u->m));
	UNREG_CALL(u, gcmap_gc_detach(u->m));
	UNREG_CALL(u, gcmap_gc_register(u->gc, u->o + 1, tobj_fin, NULL, NULL));
	UNREG_CALL(u, gcmap_gc_unregister(u->gc, u->o));
	UNREG_CALL(u, gcmap_gc_root_add(u->gc, u->o));
	UNREG_CALL(u, gcmap_gc_root_remove(u->gc, u->o));
	UNREG_CALL(u, gcmap_gc_store(u->gc, &field, u->o));
	UNREG_CALL(u, gcmap_gc_begin(u->gc));
	UNREG_CALL(u, gcmap_gc_step(u->gc, 1));
	UNREG_CALL(u, gcmap_gc_finish(u->gc));
	UNREG_CALL(u, gcmap_gc_collect(u->gc));
	UNREG_CALL(u, gcmap_gc_run_finalizers(u->gc, 0));
	UNREG_CALL(u, gcmap_gc_stats(u->gc, &st));
	return NULL;
}

START_TEST(test_gc_errors_unregistered_thread)
{
	struct unreg_args u;
	struct tobj o[2];
	pthread_t t;

	memset(&u, 0, sizeof(u));
	memset(o, 0, sizeof(o));
	u.gc = make_gc(0);
	u.m = make_map(GCMAP_KEY_U64, 0, NULL);
	u.o = o;
	CK_OK(gcmap_gc_attach(u.gc, u.m));
	reg(u.gc, &o[0]);
	CK_OK(gcmap_gc_root_add(u.gc, &o[0]));
	ck_assert_int_eq(pthread_create(&t, NULL, unreg_main, &u), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(u.n, 15);
	for (int i = 0; i < u.n; i++)
		ck_assert_msg(u.rc[i] == -EPERM, "%s from an unregistered thread: %d (%s)",
			      u.name[i], u.rc[i], gcmap_strerror(u.rc[i]));
	/* Nothing changed. */
	ck_assert_uint_eq(gstats(u.gc).registered, 1);
	ck_assert_uint_eq(gstats(u.gc).roots, 1);
	ck_assert_uint_eq(gstats(u.gc).maps, 1);
	CK_OK(gcmap_gc_destroy(u.gc));
	CK_OK(gcmap_destroy(u.m));
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The barrier, step by step                                              */

/*
 * The marker scans an attached map with the iteration of lib/iter.c: a
 * cursor over the bit-reversed hash space, one live chain per step. A chain
 * j of a table of 2^L chains holds the keys whose reversed hash lies in
 * [R(j), R(j) + 2^(64-L)), R(j) = reverse of j in the top L bits; so the
 * walk visits chain 0 first and chain 2^L - 1 last, and the two halves of
 * an old chain j (new chains j and j + 2^L after a grow) in that order.
 * gcmap_gc_step's budget counts registry entries (walked first), then map
 * entries; with one registered object P, step(2) scans the registry and
 * exactly the first map entry in walk order. The snapshot of a chain ends
 * with its last entry, so after scanning the only entry of a chain the
 * cursor sits at the end of that chain's range: everything before it is
 * behind the marker, everything after it ahead.
 *
 * Each scenario moves P, in one read-side section (delete + put), from a
 * key ahead of the cursor to a key behind it, while an evacuation is in
 * flight (GCMAP_TEST_NO_POLICY and NO_HELP: nothing moves but what the test
 * moves). Without the barrier the marker never sees P: it is finalized
 * while the map still returns it. With it, P survives.
 */

static uint64_t rev64(uint64_t x)
{
	x = ((x >> 1) & 0x5555555555555555ULL) | ((x & 0x5555555555555555ULL) << 1);
	x = ((x >> 2) & 0x3333333333333333ULL) | ((x & 0x3333333333333333ULL) << 2);
	x = ((x >> 4) & 0x0f0f0f0f0f0f0f0fULL) | ((x & 0x0f0f0f0f0f0f0f0fULL) << 4);
	return __builtin_bswap64(x);
}

/* The first key index whose hash has (hash & @mask) == @want. */
static uint64_t key_in_chain(struct gcmap *m, int kind, uint64_t mask, uint64_t want)
{
	for (uint64_t i = 0;; i++)
		if ((ev_hash(m, kind, i) & mask) == want)
			return i;
}

struct bscen {
	int kind;
	bool barrier;
	struct gcmap_gc *gc;
	struct gcmap *m;
	struct gcmap_table *T, *N;
	uint64_t kf, ka, kb; /* filler (first in the walk), P's source, P's destination */
	struct tobj p;
};

/* Map of 2^@log2 chains attached to a domain with or without the barrier;
 * the filler at @kf, P at @ka. */
static void bs_setup(struct bscen *s, int variant, unsigned int log2)
{
	memset(s, 0, sizeof(*s));
	s->kind = variant >> 1;
	s->barrier = variant & 1;
	ev_flags_set(GCMAP_TEST_NO_POLICY | GCMAP_TEST_NO_HELP);
	s->gc = make_gc(s->barrier ? 0 : GCMAP_GC_F_UNSAFE_NO_BARRIER);
	s->m = make_map(s->kind, log2, NULL);
	CK_OK(gcmap_gc_attach(s->gc, s->m));
	s->T = ev_tbl(s->m);
	ck_assert_uint_eq(s->T->log2, log2);
}

static void bs_fill(struct bscen *s)
{
	uint64_t hf = ev_hash(s->m, s->kind, s->kf), ha = ev_hash(s->m, s->kind, s->ka);
	uint64_t hb = ev_hash(s->m, s->kind, s->kb);

	/* The order the scenario relies on: kb, then kf, then (far) ka. */
	ck_assert(rev64(hb) < rev64(hf) && rev64(hf) < rev64(ha));
	CK_RC(k_put(s->m, s->kind, s->kf, val_of(0xf111e4), NULL), 1); /* not managed */
	reg_put(s->gc, s->m, s->kind, s->ka, &s->p);
}

/* Begin, and scan the registry (P) and exactly the filler. */
static void bs_mark_to_filler(struct bscen *s)
{
	CK_OK(gcmap_gc_begin(s->gc));
	CK_RC(gcmap_gc_step(s->gc, 2), 1);
	ck_assert_msg(!marked(s->gc, &s->p), "P was scanned: the marker went past the filler");
}

/* Move P from ka (ahead) to kb (behind) in one read-side section. */
static void bs_move_p(struct bscen *s)
{
	void *old = NULL;

	ck_assert_uint_eq(ev_stats(s->m).evacuating, 1);
	CK_OK(gcmap_read_lock());
	CK_OK(k_delete(s->m, s->kind, s->ka, &old));
	ck_assert_ptr_eq(old, &s->p);
	CK_RC(k_put(s->m, s->kind, s->kb, old, NULL), 1);
	CK_OK(gcmap_read_unlock());
	ck_assert_uint_eq(ev_stats(s->m).evacuating, 1);
}

/* Finish the cycle and run the finalizers; assert the outcome. */
static void bs_finish(struct bscen *s)
{
	int queued = gcmap_gc_finish(s->gc);
	struct gcmap_gc_stats st;

	ck_assert_int_ge(queued, 0);
	CK_RC(gcmap_gc_run_finalizers(s->gc, 0), queued);
	st = gstats(s->gc);
	if (!s->barrier) {
		/* The bug, reproduced: P's finalizer ran while the map still
		 * hands P out. */
		ck_assert_msg(fin_count(&s->p) == 1 && queued == 1,
			      "barrier off: P was not lost (finalized %d, queued %d): the "
			      "scenario does not reproduce the race",
			      fin_count(&s->p), queued);
		expect_get(s->m, s->kind, s->kb, &s->p, "barrier off, after P's finalizer");
		ck_assert_uint_eq(st.barrier_records, 0);
	} else {
		ck_assert_msg(fin_count(&s->p) == 0 && queued == 0,
			      "barrier on: P was finalized (%d) while reachable", fin_count(&s->p));
		expect_get(s->m, s->kind, s->kb, &s->p, "barrier on");
		ck_assert_uint_ge(st.barrier_records, 1);
	}
}

/* Complete the evacuation by hand, check the map, and tear down. */
static void bs_teardown(struct bscen *s)
{
	uint64_t units = gcmap__evac_units(s->T, s->N);

	for (uint64_t u = 0; u < units; u++)
		ck_assert_int_ge(gcmap__evac_move_unit(s->m, s->T, s->N, u), 0);
	ck_assert_ptr_eq(ev_tbl(s->m), s->N);
	expect_get(s->m, s->kind, s->kb, &s->p, "after the evacuation");
	ck_assert_int_eq(k_get(s->m, s->kind, s->ka, NULL), -ENOENT);
	CK_OK(gcmap__check_invariants(s->m));
	if (s->barrier) /* still reachable: a later cycle keeps it too */
		ck_assert_int_eq(collect_run(s->gc), 0);
	ck_assert_int_eq(fin_count(&s->p), s->barrier ? 0 : 1);
	CK_OK(gcmap_gc_destroy(s->gc));
	CK_OK(gcmap_destroy(s->m));
}

/*
 * (a) A grow 8 -> 16 in flight, unit 0 moved. Walk order: new chain 0
 * (empty), new chain 8 (the filler), then old chains 4, 2, 6, 1, 5, 3, 7
 * (P at ka in old chain 7). After step(2) the marker has read new chain 0
 * and new chain 8; P goes to kb in new chain 0: an already-scanned chain
 * of the NEW table.
 */
START_TEST(test_gc_barrier_grow)
{
	static struct bscen s;
	void *v = NULL;

	bs_setup(&s, _i, 3);
	s.kf = key_in_chain(s.m, s.kind, 15, 8);
	s.kb = key_in_chain(s.m, s.kind, 15, 0);
	s.ka = key_in_chain(s.m, s.kind, 7, 7);
	bs_fill(&s);
	CK_OK(gcmap__evac_start(s.m, s.T, 4));
	s.N = ev_next(s.T);
	CK_RC(gcmap__evac_move_unit(s.m, s.T, s.N, 0), 2);
	bs_mark_to_filler(&s);
	bs_move_p(&s);
	ck_assert(ev_raw_find(s.m, s.kind, s.N, 0, s.kb, &v) && v == &s.p);
	bs_finish(&s);
	bs_teardown(&s);
}
END_TEST

/*
 * (b) A shrink 16 -> 8 in flight, unit 0 (old chains 0 and 8 -> new chain 0)
 * moved. The filler was in old chain 0, P's destination kb is in old chain
 * 8: both now in new chain 0, which the marker reads first (it covers the
 * ranges of old chains 0 and 8). P comes from old chain 15, the last.
 */
START_TEST(test_gc_barrier_shrink)
{
	static struct bscen s;
	void *v = NULL;

	bs_setup(&s, _i, 4);
	s.kf = key_in_chain(s.m, s.kind, 15, 0);
	s.kb = key_in_chain(s.m, s.kind, 15, 8);
	s.ka = key_in_chain(s.m, s.kind, 15, 15);
	/* Here kb's range follows kf's; both are behind the cursor once the
	 * marker read new chain 0 (it holds the two old ranges). */
	{
		uint64_t hf = ev_hash(s.m, s.kind, s.kf), hb = ev_hash(s.m, s.kind, s.kb);

		ck_assert(rev64(hf) < rev64(hb) && rev64(hb) < (1ull << 61));
		CK_RC(k_put(s.m, s.kind, s.kf, val_of(0xf111e4), NULL), 1);
		reg_put(s.gc, s.m, s.kind, s.ka, &s.p);
	}
	CK_OK(gcmap__evac_start(s.m, s.T, 3));
	s.N = ev_next(s.T);
	CK_RC(gcmap__evac_move_unit(s.m, s.T, s.N, 0), 2);
	bs_mark_to_filler(&s);
	bs_move_p(&s);
	ck_assert(ev_raw_find(s.m, s.kind, s.N, 0, s.kb, &v) && v == &s.p);
	bs_finish(&s);
	bs_teardown(&s);
}
END_TEST

/* A marker thread that runs one step, frozen at its first registry lookup
 * (the shading of the first map entry it scans). */
struct marker {
	pthread_t tid;
	struct gcmap_gc *gc;
	struct pauser *p;
	unsigned int budget;
	int rc;
	bool missed;
	struct failrec f;
};

static void *marker_main(void *arg)
{
	struct marker *mk = arg;

	worker_register(&mk->f);
	pauser_arm(mk->p);
	mk->rc = gcmap_gc_step(mk->gc, mk->budget);
	mk->missed = pauser_missed(mk->p);
	worker_unregister(&mk->f);
	return NULL;
}

/*
 * (c) A grow 8 -> 16 in flight, nothing moved yet. The marker snapshots old
 * chain 0 (the filler) and is frozen while it shades the filler: it is
 * reading the OLD chain. Meanwhile unit 0 is moved and P goes to kb, whose
 * new bucket is new chain 8 (the second half of old chain 0's range). The
 * marker's snapshot of old chain 0 does not hold kb, and its cursor moves
 * on to the end of old chain 0's range: kb is behind it.
 */
START_TEST(test_gc_barrier_frozen_marker)
{
	static struct bscen s;
	static struct marker mk;
	struct pauser pz;
	void *v = NULL;

	bs_setup(&s, _i, 3);
	s.kf = key_in_chain(s.m, s.kind, 15, 0);
	s.kb = key_in_chain(s.m, s.kind, 15, 8);
	s.ka = key_in_chain(s.m, s.kind, 7, 7);
	{
		uint64_t hf = ev_hash(s.m, s.kind, s.kf), hb = ev_hash(s.m, s.kind, s.kb);

		/* kb is after kf but inside old chain 0's range. */
		ck_assert(rev64(hf) < rev64(hb) && rev64(hb) < (1ull << 61));
		CK_RC(k_put(s.m, s.kind, s.kf, val_of(0xf111e4), NULL), 1);
		reg_put(s.gc, s.m, s.kind, s.ka, &s.p);
	}
	CK_OK(gcmap__evac_start(s.m, s.T, 4));
	s.N = ev_next(s.T);
	CK_OK(gcmap_gc_begin(s.gc));

	pauser_init(&pz, "reader:table-loaded");
	pause_hook_install();
	memset(&mk, 0, sizeof(mk));
	pthread_mutex_init(&mk.f.lock, NULL);
	mk.gc = s.gc;
	mk.p = &pz;
	mk.budget = 2; /* the registry entry, then the filler */
	ck_assert_int_eq(pthread_create(&mk.tid, NULL, marker_main, &mk), 0);
	ck_assert_msg(pauser_wait_arrived(&pz, EV_WAIT_S), "the marker never reached its pause");
	ck_assert(!(ev_seq(s.T, 0) & SEQ_MOVED)); /* it read the old chain */

	/* While the marker holds its snapshot of old chain 0. */
	CK_RC(gcmap__evac_move_unit(s.m, s.T, s.N, 0), 2);
	bs_move_p(&s);
	ck_assert(ev_raw_find(s.m, s.kind, s.N, 8, s.kb, &v) && v == &s.p);

	pauser_release(&pz);
	ck_assert_int_eq(pthread_join(mk.tid, NULL), 0);
	CK_NO_FAILURES(&mk.f);
	ck_assert(!pauser_timed_out(&pz));
	ck_assert(!mk.missed);
	ck_assert_int_eq(mk.rc, 1);
	pause_hook_remove();
	ck_assert(marked(s.gc, &s.p) == s.barrier);
	bs_finish(&s);
	bs_teardown(&s);
	pauser_destroy(&pz);
}
END_TEST

/*
 * gcmap_gc_store() during marking: R was scanned and traced (black); C
 * is the child of S, which the marker has not reached. C moves from S's
 * field to R's with two gcmap_gc_store() calls in one read-side section:
 * without the barrier C is never traced and is finalized while R points
 * to it; with it, C survives.
 */
START_TEST(test_gc_barrier_store)
{
	const bool barrier = _i;
	struct gcmap_gc *gc = make_gc(barrier ? 0 : GCMAP_GC_F_UNSAFE_NO_BARRIER);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 3, NULL);
	uint64_t kr = key_in_chain(m, GCMAP_KEY_U64, 7, 0); /* first in the walk */
	uint64_t ks = key_in_chain(m, GCMAP_KEY_U64, 7, 7); /* last */
	struct tobj r, s, c;
	int queued;

	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	memset(&c, 0, sizeof(c));
	ev_flags_set(GCMAP_TEST_NO_POLICY);
	CK_OK(gcmap_gc_attach(gc, m));
	reg_put(gc, m, GCMAP_KEY_U64, kr, &r);
	reg_put(gc, m, GCMAP_KEY_U64, ks, &s);
	reg(gc, &c);
	CK_OK(gcmap_gc_store(gc, &s.field[0], &c));

	CK_OK(gcmap_gc_begin(gc));
	CK_RC(gcmap_gc_step(gc, 3 + 1), 1); /* the registry, then R (grey) */
	CK_RC(gcmap_gc_step(gc, 1), 1); /* R traced: black */
	ck_assert(marked(gc, &r));
	ck_assert(!marked(gc, &s));
	ck_assert(!marked(gc, &c));
	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_gc_store(gc, &r.field[0], &c));
	CK_OK(gcmap_gc_store(gc, &s.field[0], NULL));
	CK_OK(gcmap_read_unlock());
	ck_assert(marked(gc, &c) == barrier);
	queued = gcmap_gc_finish(gc);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), queued);
	ck_assert_ptr_eq(gcmap_gc_load(&r.field[0]), &c);
	if (barrier) {
		ck_assert_int_eq(queued, 0);
		ck_assert_int_eq(fin_count(&c), 0);
		ck_assert_uint_ge(gstats(gc).barrier_records, 1);
		ck_assert_int_eq(collect_run(gc), 0);
		ck_assert_int_eq(fin_count(&c), 0);
	} else {
		ck_assert_msg(queued == 1 && fin_count(&c) == 1,
			      "barrier off: C was not lost (queued %d, finalized %d)", queued,
			      fin_count(&c));
	}
	ck_assert_int_eq(fin_count(&r) + fin_count(&s), 0);
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/* The mark as it is, without resolving pending barrier records. */
static bool marked_now(struct gcmap_gc *gc, void *obj)
{
	void *v = NULL;
	bool m;

	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_get_u64(gc->registry, (uint64_t)(uintptr_t)obj, &v));
	m = LOAD(&((struct gc_obj *)v)->mark) == LOAD(&gc->epoch);
	CK_OK(gcmap_read_unlock());
	return m;
}

/*
 * A thread's barrier records outlive its operations until a resolver takes
 * them: a thread that unregisters resolves its own, so the shading it owes
 * is not lost with its ring. The thread moves C from S to R (both black or
 * white as in test_gc_barrier_store), then unregisters before the marker
 * looks; C must be grey already, and survive.
 */
struct rx_thread {
	struct gcmap_gc *gc;
	struct tobj *r, *s, *c;
	int rc[2];
};

static void *rx_mover(void *arg)
{
	struct rx_thread *t = arg;

	if (gcmap_thread_register() != 0 || gcmap_read_lock() != 0)
		return (void *)1;
	t->rc[0] = gcmap_gc_store(t->gc, &t->r->field[0], t->c);
	t->rc[1] = gcmap_gc_store(t->gc, &t->s->field[0], NULL);
	if (gcmap_read_unlock() != 0)
		return (void *)2;
	return gcmap_thread_unregister() ? (void *)3 : NULL;
}

START_TEST(test_gc_records_resolved_at_thread_exit)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	static struct tobj r, s, c;
	struct rx_thread t = { .gc = gc, .r = &r, .s = &s, .c = &c };
	pthread_t tid;
	void *ret;

	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	memset(&c, 0, sizeof(c));
	ev_flags_set(GCMAP_TEST_NO_POLICY);
	CK_OK(gcmap_gc_attach(gc, m));
	reg_put(gc, m, GCMAP_KEY_U64, 1, &r);
	reg_put(gc, m, GCMAP_KEY_U64, 2, &s);
	reg(gc, &c);
	CK_OK(gcmap_gc_store(gc, &s.field[0], &c));
	CK_OK(gcmap_gc_begin(gc));
	ck_assert(!marked_now(gc, &c));
	ck_assert_int_eq(pthread_create(&tid, NULL, rx_mover, &t), 0);
	ck_assert_int_eq(pthread_join(tid, &ret), 0);
	ck_assert_ptr_null(ret);
	CK_OK(t.rc[0]);
	CK_OK(t.rc[1]);
	ck_assert_msg(marked_now(gc, &c), "the exited thread's records were not resolved");
	ck_assert_int_ge(gcmap_gc_finish(gc), 0);
	CK_RC(gcmap_gc_run_finalizers(gc, 0), 0);
	ck_assert_int_eq(fin_count(&c), 0);
	ck_assert_int_eq(collect_run(gc), 0); /* R -> C, R in the map */
	ck_assert_int_eq(fin_count(&c), 0);
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/*
 * More records than a thread's ring holds, with no resolver running: the
 * writer shades the overflow itself (counted), and nothing is lost.
 */
START_TEST(test_gc_records_ring_full)
{
	enum { N = 10000 }; /* 2 records per replace: > the ring's 16384 */
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	static struct tobj o[2 * N];
	unsigned int now = 0;

	memset(o, 0, sizeof(o));
	CK_OK(gcmap_gc_attach(gc, m));
	for (unsigned int i = 0; i < N; i++)
		reg_put(gc, m, GCMAP_KEY_U64, i, &o[i]);
	for (unsigned int i = N; i < 2 * N; i++)
		reg(gc, &o[i]);
	gcmap__gc_resolve(NULL); /* nothing pending before the cycle */
	CK_OK(gcmap_gc_begin(gc));
	for (unsigned int i = 0; i < N; i++)
		CK_RC(gcmap_put_u64(m, i, &o[N + i], NULL), 0); /* replaces o[i] */
	for (unsigned int i = 0; i < 2 * N; i++)
		now += marked_now(gc, &o[i]);
	ck_assert_uint_gt(LOAD(&gc->nr_ring_full), 0);
	ck_assert_msg(now > 0 && now < 2 * N, "%u of %u marked before resolving", now, 2 * N);
	gcmap__gc_resolve(NULL);
	for (unsigned int i = 0; i < 2 * N; i++)
		ck_assert(marked_now(gc, &o[i])); /* both halves of every replace shaded */
	ck_assert_int_eq(gcmap_gc_finish(gc), 0); /* all shaded: none queued */
	/* The replaced ones are garbage now, the stored ones are not. */
	ck_assert_int_eq(collect_run(gc), N);
	for (unsigned int i = 0; i < N; i++) {
		ck_assert_int_eq(fin_count(&o[i]), 1);
		ck_assert_int_eq(fin_count(&o[N + i]), 0);
	}
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/*
 * fork() while another thread, inside a read-side section that a grace
 * period in the call_rcu thread waits for, makes its first barrier record
 * (which takes rings_lock): the fork handlers took rings_lock before
 * pausing the call_rcu thread, and the three waited for each other (found
 * in review). SIGALRM ends the test if fork() does not return.
 */
static int fk_obj;
static int fk_in_section, fk_forking; /* atomic */

static void *fk_writer(void *arg)
{
	struct gcmap *m = arg;
	int rc;

	if (gcmap_thread_register() != 0 || gcmap_read_lock() != 0)
		return (void *)1;
	STORE(&fk_in_section, 1);
	while (!LOAD(&fk_forking))
		usleep(1000);
	usleep(200000); /* the forking thread is in its prepare handlers */
	rc = gcmap_put_u64(m, 1, &fk_obj, NULL); /* the thread's first record */
	if (gcmap_read_unlock() != 0 || rc != 1)
		return (void *)2;
	return gcmap_thread_unregister() ? (void *)3 : NULL;
}

START_TEST(test_gc_fork_while_recording)
{
	struct gcmap_gc *gc = make_gc(0);
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	pthread_t t;
	pid_t pid;
	int st = 0;
	void *ret;

	CK_OK(gcmap_gc_attach(gc, m));
	CK_OK(gcmap_gc_register(gc, &fk_obj, NULL, NULL, NULL));
	CK_OK(gcmap_gc_begin(gc));
	ck_assert_int_eq(pthread_create(&t, NULL, fk_writer, m), 0);
	while (!LOAD(&fk_in_section))
		usleep(1000);
	CK_OK(gcmap_defer_free(malloc(16), NULL)); /* a grace period waits for the writer */
	usleep(100000);
	alarm(20);
	STORE(&fk_forking, 1);
	pid = fork();
	if (pid == 0)
		_exit(0);
	alarm(0);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	ck_assert_ptr_null(ret);
	ck_assert_int_ge(gcmap_gc_finish(gc), 0);
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_destroy(m));
}
END_TEST

/* ---------------------------------------------------------------------- */
/* concurrent: the stress of examples/gcstress_impl.h, short              */

START_TEST(test_gc_stress_barrier)
{
	struct gcs_opts o;
	struct gcs_result r;

	gcs_default_opts(&o);
	o.seed = (uint64_t)time(NULL);
	o.secs = GCMAP_TSAN_ON ? 3.0 : 0.75;
	o.min_cycles = 3; /* a loaded machine may need longer for them */
	o.max_secs = GCMAP_TSAN_ON ? 100.0 : 60.0;
	CK_OK(gcs_run(&o, &r));
	gcs_print(stdout, "gc stress, barrier on", &o, &r);
	fflush(stdout);
	ck_assert_msg(gcs_failures(&r) == 0,
		      "seed %llu: %lu violations, %lu lost objects, %lu errors; first: %s",
		      (unsigned long long)o.seed, r.violations, r.lost, r.errors, r.first);
	ck_assert_msg(r.cycles >= 3 && r.moves_marking > 0 && r.grows > 0 && r.shrinks > 0,
		      "no overlap: %lu cycles, %lu moves while marking, %lu grows, %lu shrinks",
		      r.cycles, r.moves_marking, r.grows, r.shrinks);
	ck_assert_uint_gt(r.barrier_records, 0);
}
END_TEST

/*
 * The same with registration churn: 1 move in 64 unregisters its object
 * and registers it again before storing it, so objects are born at every
 * moment of a cycle, also between the end of marking and the sweep.
 */
START_TEST(test_gc_stress_register_churn)
{
	struct gcs_opts o;
	struct gcs_result r;

	gcs_default_opts(&o);
	o.seed = (uint64_t)time(NULL);
	o.secs = GCMAP_TSAN_ON ? 3.0 : 0.75;
	o.min_cycles = 3;
	o.max_secs = GCMAP_TSAN_ON ? 100.0 : 60.0;
	o.churn = 64;
	CK_OK(gcs_run(&o, &r));
	gcs_print(stdout, "gc stress, barrier on, churn", &o, &r);
	fflush(stdout);
	ck_assert_msg(gcs_failures(&r) == 0,
		      "seed %llu: %lu violations, %lu lost objects, %lu errors; first: %s",
		      (unsigned long long)o.seed, r.violations, r.lost, r.errors, r.first);
	ck_assert_uint_gt(r.reregs, 0);
	ck_assert_uint_ge(r.cycles, 3);
}
END_TEST

START_TEST(test_gc_stress_no_barrier)
{
	struct gcs_opts o;
	struct gcs_result r;

	gcs_default_opts(&o);
	o.seed = (uint64_t)time(NULL);
	o.secs = o.max_secs = GCMAP_TSAN_ON ? 60.0 : 20.0; /* stops at the first violation */
	o.no_barrier = true;
	o.stop_on_violation = true;
	CK_OK(gcs_run(&o, &r));
	gcs_print(stdout, "gc stress, barrier OFF", &o, &r);
	fflush(stdout);
	ck_assert_msg(r.violations > 0 && r.errors == 0,
		      "negative control: seed %llu: no violation in %.1f s (%lu cycles, %lu "
		      "moves), %lu errors: %s",
		      (unsigned long long)o.seed, r.secs, r.cycles, r.moves, r.errors, r.first);
}
END_TEST

/* ---------------------------------------------------------------------- */

static Suite *gc_suite(void)
{
	Suite *s = suite_create("gc");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_gc_collect_unreachable);
	tcase_add_test(tc, test_gc_finalizer_unregisters);
	tcase_add_test(tc, test_gc_attach_detach);
	tcase_add_test(tc, test_gc_attach_detach_during_cycle);
	tcase_add_test(tc, test_gc_roots);
	tcase_add_test(tc, test_gc_trace_children);
	tcase_add_test(tc, test_gc_born_marked);
	tcase_add_test(tc, test_gc_born_in_sweep_pushed_once);
	tcase_add_test(tc, test_gc_born_mark_not_from_next_epoch);
	tcase_add_test(tc, test_gc_resurrect_before_sweep);
	tcase_add_test(tc, test_gc_concurrent_finish_sweeps);
	tcase_add_loop_test(tc, test_gc_window_before_sweep, 0, 3);
	tcase_add_test(tc, test_gc_stats);
	tcase_add_test(tc, test_gc_stats_no_barrier);
	tcase_add_test(tc, test_gc_destroy_attached_map);
	tcase_add_test(tc, test_gc_destroy_attached_map_during_cycle);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_gc_errors_args);
	tcase_add_test(tc, test_gc_errors_deadlk);
	tcase_add_test(tc, test_gc_errors_unregistered_thread);
	suite_add_tcase(s, tc);

	/* Loop index: bit 0 = barrier on, bit 1 = byte-string keys. */
	tc = tcase_create("barrier");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_gc_barrier_grow, 0, 4);
	tcase_add_loop_test(tc, test_gc_barrier_shrink, 0, 4);
	tcase_add_loop_test(tc, test_gc_barrier_frozen_marker, 0, 4);
	tcase_add_loop_test(tc, test_gc_barrier_store, 0, 2);
	tcase_add_test(tc, test_gc_records_resolved_at_thread_exit);
	tcase_add_test(tc, test_gc_records_ring_full);
	tcase_add_test(tc, test_gc_fork_while_recording);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrent");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_gc_stress_barrier);
	tcase_add_test(tc, test_gc_stress_register_churn);
	tcase_add_test(tc, test_gc_stress_no_barrier);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(gc_suite());
}
