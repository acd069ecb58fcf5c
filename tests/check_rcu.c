/*
 * check_rcu.c - thread registration, read-side sections, grace periods,
 * deferred frees and fork: the error codes of misuse and the guarantees
 * (a callback never runs while a reader that could see the memory is
 * inside its section; every callback runs exactly once).
 */
#include "test_util.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- registration ---- */

START_TEST(test_rcu_register_twice)
{
	ck_assert_int_eq(gcmap_thread_registered(), 0);
	CK_OK(gcmap_thread_register());
	ck_assert_int_eq(gcmap_thread_registered(), 1);
	CK_RC(gcmap_thread_register(), -EALREADY);
	ck_assert_int_eq(gcmap_thread_registered(), 1);
	CK_OK(gcmap_thread_unregister());
	ck_assert_int_eq(gcmap_thread_registered(), 0);
	CK_RC(gcmap_thread_unregister(), -EPERM);
	/* Registration can be repeated after unregistering. */
	CK_OK(gcmap_thread_register());
	CK_OK(gcmap_synchronize());
	CK_OK(gcmap_thread_unregister());
}
END_TEST

START_TEST(test_rcu_unregister_unregistered)
{
	CK_RC(gcmap_thread_unregister(), -EPERM);
	ck_assert_int_eq(gcmap_thread_registered(), 0);
}
END_TEST

START_TEST(test_rcu_unregister_in_section)
{
	CK_OK(gcmap_thread_register());
	CK_OK(gcmap_read_lock());
	CK_RC(gcmap_thread_unregister(), -EBUSY);
	ck_assert_int_eq(gcmap_thread_registered(), 1);
	CK_OK(gcmap_read_lock());
	CK_RC(gcmap_thread_unregister(), -EBUSY);
	CK_OK(gcmap_read_unlock());
	CK_RC(gcmap_thread_unregister(), -EBUSY);
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_thread_unregister());
}
END_TEST

static void free_cb_count(void *p);

START_TEST(test_rcu_unregistered_eperm)
{
	struct gcmap *mu, *mb;
	struct gcmap_stats st;
	size_t n;
	void *v;
	void *mem;

	/* Creation needs no registration. */
	CK_OK(gcmap_create(NULL, &mu));
	{
		struct gcmap_options o;

		memset(&o, 0, sizeof(o));
		o.size = sizeof(o);
		o.key_kind = GCMAP_KEY_BYTES;
		CK_OK(gcmap_create(&o, &mb));
	}
	CK_OK(gcmap_thread_register());
	CK_RC(gcmap_put_u64(mu, 1, val_of(1), NULL), 1);
	CK_RC(gcmap_put_bytes(mb, "k", 1, val_of(1), NULL), 1);
	CK_OK(gcmap_thread_unregister());

	CK_RC(gcmap_get_u64(mu, 1, &v), -EPERM);
	CK_RC(gcmap_put_u64(mu, 1, NULL, &v), -EPERM);
	CK_RC(gcmap_insert_u64(mu, 2, NULL, &v), -EPERM);
	CK_RC(gcmap_replace_u64(mu, 1, NULL, &v), -EPERM);
	CK_RC(gcmap_cas_u64(mu, 1, val_of(1), NULL, &v), -EPERM);
	CK_RC(gcmap_delete_u64(mu, 1, &v), -EPERM);
	CK_RC(gcmap_get_bytes(mb, "k", 1, &v), -EPERM);
	CK_RC(gcmap_put_bytes(mb, "k", 1, NULL, &v), -EPERM);
	CK_RC(gcmap_insert_bytes(mb, "j", 1, NULL, &v), -EPERM);
	CK_RC(gcmap_replace_bytes(mb, "k", 1, NULL, &v), -EPERM);
	CK_RC(gcmap_cas_bytes(mb, "k", 1, val_of(1), NULL, &v), -EPERM);
	CK_RC(gcmap_delete_bytes(mb, "k", 1, &v), -EPERM);
	CK_RC(gcmap_count(mu, &n), -EPERM);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CK_RC(gcmap_stats(mu, &st), -EPERM);
	CK_RC(gcmap_clear(mu), -EPERM);
	CK_RC(gcmap_destroy(mu), -EPERM);
	CK_RC(gcmap_read_lock(), -EPERM);
	CK_RC(gcmap_read_unlock(), -EPERM);
	CK_RC(gcmap_synchronize(), -EPERM);
	CK_RC(gcmap_barrier(), -EPERM);
	mem = malloc(16);
	CK_RC(gcmap_defer_free(mem, NULL), -EPERM);
	CK_RC(gcmap_defer_free(mem, free_cb_count), -EPERM);
	free(mem); /* still the caller's */

	/* Nothing changed. */
	CK_OK(gcmap_thread_register());
	CK_OK(gcmap_count(mu, &n));
	ck_assert_uint_eq(n, 1);
	CK_OK(gcmap_get_u64(mu, 1, &v));
	ck_assert_ptr_eq(v, val_of(1));
	CK_OK(gcmap_get_bytes(mb, "k", 1, &v));
	ck_assert_ptr_eq(v, val_of(1));
	CK_RC(gcmap_get_u64(mu, 2, &v), -ENOENT);
	CK_OK(gcmap_destroy(mu));
	CK_OK(gcmap_destroy(mb));
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_thread_unregister());
}
END_TEST

/* ---- read-side sections ---- */

START_TEST(test_rcu_unlock_without_lock)
{
	CK_OK(gcmap_thread_register());
	CK_RC(gcmap_read_unlock(), -EPERM);
	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_read_unlock());
	CK_RC(gcmap_read_unlock(), -EPERM);
	ck_assert_int_eq(gcmap__read_depth(), 0);
	CK_OK(gcmap_synchronize()); /* the failed unlocks did not unbalance anything */
	CK_OK(gcmap_thread_unregister());
}
END_TEST

START_TEST(test_rcu_deadlk_inside_section)
{
	struct gcmap *m;

	CK_OK(gcmap_thread_register());
	CK_OK(gcmap_create(NULL, &m));
	CK_OK(gcmap_read_lock());
	CK_RC(gcmap_synchronize(), -EDEADLK);
	CK_RC(gcmap_barrier(), -EDEADLK);
	CK_RC(gcmap_destroy(m), -EDEADLK);
	/* The map is intact and usable inside the section. */
	CK_RC(gcmap_put_u64(m, 5, val_of(5), NULL), 1);
	CK_OK(gcmap_get_u64(m, 5, NULL));
	/* gcmap_defer_free is allowed inside a section. */
	CK_OK(gcmap_defer_free(malloc(8), NULL));
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_synchronize());
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_thread_unregister());
}
END_TEST

START_TEST(test_rcu_nesting)
{
	struct gcmap *m;
	void *v;

	CK_OK(gcmap_thread_register());
	CK_OK(gcmap_create(NULL, &m));
	ck_assert_int_eq(gcmap__read_depth(), 0);
	CK_OK(gcmap_read_lock());
	ck_assert_int_eq(gcmap__read_depth(), 1);
	CK_OK(gcmap_read_lock());
	CK_OK(gcmap_read_lock());
	ck_assert_int_eq(gcmap__read_depth(), 3);
	/* Operations nest their own section inside the caller's. */
	CK_RC(gcmap_put_u64(m, 1, val_of(1), NULL), 1);
	CK_OK(gcmap_get_u64(m, 1, &v));
	ck_assert_ptr_eq(v, val_of(1));
	CK_OK(gcmap_clear(m));
	ck_assert_int_eq(gcmap__read_depth(), 3);
	CK_OK(gcmap_read_unlock());
	CK_OK(gcmap_read_unlock());
	ck_assert_int_eq(gcmap__read_depth(), 1);
	CK_RC(gcmap_synchronize(), -EDEADLK); /* still inside the outer one */
	CK_RC(gcmap_thread_unregister(), -EBUSY);
	CK_OK(gcmap_read_unlock());
	ck_assert_int_eq(gcmap__read_depth(), 0);
	CK_RC(gcmap_read_unlock(), -EPERM);
	CK_OK(gcmap_synchronize());
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_thread_unregister());
}
END_TEST

/* ---- grace periods ---- */

static unsigned long cb_runs;

static void free_cb_count(void *p)
{
	INC(&cb_runs);
	free(p);
}

/* A reader that holds a section until told to leave. */
struct holder {
	struct failrec *fr;
	int inside; /* set when the section is entered */
	int leave; /* set by the test to end the section */
	int left; /* set after the section ended */
};

static void *holder_main(void *arg)
{
	struct holder *h = arg;

	worker_register(h->fr);
	W_RC(h->fr, gcmap_read_lock(), 0);
	STORE(&h->inside, 1);
	while (!LOAD(&h->leave))
		sched_yield();
	STORE(&h->left, 1);
	W_RC(h->fr, gcmap_read_unlock(), 0);
	worker_unregister(h->fr);
	return NULL;
}

static void start_holder(pthread_t *t, struct holder *h, struct failrec *fr)
{
	memset(h, 0, sizeof(*h));
	h->fr = fr;
	ck_assert_int_eq(pthread_create(t, NULL, holder_main, h), 0);
	while (!LOAD(&h->inside))
		sched_yield();
}

START_TEST(test_rcu_defer_free_waits_for_reader)
{
	static struct failrec fr = FAILREC_INIT;
	struct holder h;
	pthread_t t;
	void *p = malloc(64);

	CK_OK(gcmap_thread_register());
	STORE(&cb_runs, 0);
	start_holder(&t, &h, &fr);
	/* The reader is inside: the callback must not run before it leaves. */
	CK_OK(gcmap_defer_free(p, free_cb_count));
	sleep_ms(50);
	ck_assert_msg(LOAD(&cb_runs) == 0, "callback ran while a reader was inside its section");
	sleep_ms(50);
	ck_assert_uint_eq(LOAD(&cb_runs), 0);
	STORE(&h.leave, 1);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	CK_NO_FAILURES(&fr);
	CK_OK(gcmap_barrier());
	ck_assert_msg(LOAD(&cb_runs) == 1, "callback ran %lu times after the barrier",
		      LOAD(&cb_runs));
	/* Exactly once: later grace periods do not run it again. */
	CK_OK(gcmap_synchronize());
	CK_OK(gcmap_barrier());
	ck_assert_uint_eq(LOAD(&cb_runs), 1);
	CK_OK(gcmap_thread_unregister());
}
END_TEST

/* A thread that waits for a grace period and says when it returned. */
struct syncer {
	struct failrec *fr;
	int done;
};

static void *syncer_main(void *arg)
{
	struct syncer *s = arg;

	worker_register(s->fr);
	W_RC(s->fr, gcmap_synchronize(), 0);
	STORE(&s->done, 1);
	worker_unregister(s->fr);
	return NULL;
}

START_TEST(test_rcu_synchronize_waits_for_reader)
{
	static struct failrec fr = FAILREC_INIT;
	struct holder h;
	struct syncer s = { &fr, 0 };
	pthread_t th, ts;

	start_holder(&th, &h, &fr);
	ck_assert_int_eq(pthread_create(&ts, NULL, syncer_main, &s), 0);
	sleep_ms(50);
	ck_assert_msg(LOAD(&s.done) == 0, "gcmap_synchronize returned while a reader was inside");
	STORE(&h.leave, 1);
	ck_assert_int_eq(pthread_join(ts, NULL), 0);
	ck_assert_int_eq(LOAD(&h.left), 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	CK_NO_FAILURES(&fr);
}
END_TEST

/* Deferred objects tagged with their index, each must be called once. */
#define NR_DEFER 2000
static unsigned int defer_hits[NR_DEFER];

struct tagged {
	unsigned int idx;
};

static void tagged_cb(void *p)
{
	struct tagged *t = p;

	__atomic_add_fetch(&defer_hits[t->idx], 1, __ATOMIC_RELAXED);
	free(t);
}

START_TEST(test_rcu_defer_free_exactly_once)
{
	memset(defer_hits, 0, sizeof(defer_hits));
	CK_OK(gcmap_thread_register());
	for (unsigned int i = 0; i < NR_DEFER; i++) {
		struct tagged *t = malloc(sizeof(*t));

		ck_assert_ptr_nonnull(t);
		t->idx = i;
		if (i % 3 == 0)
			CK_OK(gcmap_read_lock());
		CK_OK(gcmap_defer_free(t, tagged_cb));
		if (i % 3 == 0)
			CK_OK(gcmap_read_unlock());
		if (i % 500 == 0)
			CK_OK(gcmap_synchronize());
	}
	CK_OK(gcmap_barrier());
	for (unsigned int i = 0; i < NR_DEFER; i++)
		ck_assert_msg(__atomic_load_n(&defer_hits[i], __ATOMIC_RELAXED) == 1,
			      "callback %u ran %u times", i, defer_hits[i]);
	CK_OK(gcmap_barrier());
	for (unsigned int i = 0; i < NR_DEFER; i++)
		ck_assert_uint_eq(__atomic_load_n(&defer_hits[i], __ATOMIC_RELAXED), 1);
	CK_OK(gcmap_thread_unregister());
}
END_TEST

START_TEST(test_rcu_defer_free_null_fn)
{
	/* fn NULL means free(): under ASan a wrong free or a leak is reported. */
	CK_OK(gcmap_thread_register());
	for (int i = 0; i < 100; i++) {
		char *p = malloc(32 + (size_t)i);

		ck_assert_ptr_nonnull(p);
		memset(p, i, 32 + (size_t)i);
		CK_OK(gcmap_defer_free(p, NULL));
	}
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_thread_unregister());
}
END_TEST

/* Another thread's callbacks also run, and barrier waits for them all. */
static void *defer_worker(void *arg)
{
	struct failrec *fr = arg;

	worker_register(fr);
	for (unsigned int i = 0; i < NR_DEFER / 2; i++) {
		struct tagged *t = malloc(sizeof(*t));

		t->idx = NR_DEFER / 2 + i;
		W_RC(fr, gcmap_defer_free(t, tagged_cb), 0);
	}
	worker_unregister(fr);
	return NULL;
}

START_TEST(test_rcu_defer_free_threads)
{
	static struct failrec fr = FAILREC_INIT;
	pthread_t t;

	memset(defer_hits, 0, sizeof(defer_hits));
	CK_OK(gcmap_thread_register());
	ck_assert_int_eq(pthread_create(&t, NULL, defer_worker, &fr), 0);
	for (unsigned int i = 0; i < NR_DEFER / 2; i++) {
		struct tagged *tg = malloc(sizeof(*tg));

		tg->idx = i;
		CK_OK(gcmap_defer_free(tg, tagged_cb));
	}
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	CK_NO_FAILURES(&fr);
	CK_OK(gcmap_barrier());
	for (unsigned int i = 0; i < NR_DEFER; i++)
		ck_assert_msg(__atomic_load_n(&defer_hits[i], __ATOMIC_RELAXED) == 1,
			      "callback %u ran %u times", i, defer_hits[i]);
	CK_OK(gcmap_thread_unregister());
}
END_TEST

/* ---- fork ---- */

/*
 * Exit codes of the forked child: 0 success, otherwise the step that failed.
 * The child never calls Check (it is not the test process).
 */
enum child_step {
	CH_OK = 0,
	CH_REGISTER_STATE = 10,
	CH_REGISTER,
	CH_MAP_CREATE,
	CH_MAP_OPS,
	CH_SYNCHRONIZE,
	CH_DEFER,
	CH_BARRIER,
	CH_CALLBACKS,
	CH_THREAD_CREATE,
	CH_THREAD,
	CH_DESTROY,
	CH_UNREGISTER,
};

static const char *child_step_name(int code)
{
	static const char *const names[] = {
		"register state", "register",	     "map create", "map operations",
		"synchronize",	  "defer_free",	     "barrier",	   "callbacks",
		"thread create",  "thread in child", "destroy",	   "unregister",
	};

	if (code >= CH_REGISTER_STATE && code <= CH_UNREGISTER)
		return names[code - CH_REGISTER_STATE];
	if (code == 66)
		return "a sanitizer report in the child (exit code 66)";
	return "?";
}

static unsigned long child_cbs;

static void child_cb(void *p)
{
	INC(&child_cbs);
	free(p);
}

/* A thread of the child process: registers, uses the map, waits. */
static void *child_thread(void *arg)
{
	struct gcmap *m = arg;
	void *v;

	if (gcmap_thread_register() != 0)
		return (void *)1;
	if (gcmap_put_u64(m, 999, val_of(999), NULL) != 1 || gcmap_get_u64(m, 1, &v) != 0 ||
	    v != val_of(1))
		return (void *)2;
	if (gcmap_synchronize() != 0 || gcmap_defer_free(malloc(8), child_cb) != 0 ||
	    gcmap_barrier() != 0)
		return (void *)3;
	if (gcmap_thread_unregister() != 0)
		return (void *)4;
	return NULL;
}

static int child_main(struct gcmap *inherited)
{
	struct gcmap *m;
	pthread_t t;
	void *ret;
	size_t n;

	alarm(20); /* a deadlock kills the child with SIGALRM */
	/* The forking thread keeps its registration (its thread-local state
	 * is copied); either way register/registered must agree. */
	if (gcmap_thread_registered()) {
		if (gcmap_thread_register() != -EALREADY)
			return CH_REGISTER_STATE;
	} else if (gcmap_thread_register() != 0) {
		return CH_REGISTER;
	}
	/* The inherited map is a copy that works in the child. */
	if (gcmap_get_u64(inherited, 1, &ret) != 0 || ret != val_of(1))
		return CH_MAP_OPS;
	if (gcmap_put_u64(inherited, 2, val_of(2), NULL) != 1)
		return CH_MAP_OPS;
	if (gcmap_create(NULL, &m) != 0)
		return CH_MAP_CREATE;
	for (uint64_t i = 0; i < 500; i++)
		if (gcmap_put_u64(m, i, val_of(i), NULL) != 1)
			return CH_MAP_OPS;
	for (uint64_t i = 0; i < 500; i += 2)
		if (gcmap_delete_u64(m, i, NULL) != 0)
			return CH_MAP_OPS;
	if (gcmap_count(m, &n) != 0 || n != 250 || gcmap_clear(m) != 0)
		return CH_MAP_OPS;
	if (gcmap_put_u64(m, 1, val_of(1), NULL) != 1)
		return CH_MAP_OPS;
	if (gcmap_synchronize() != 0)
		return CH_SYNCHRONIZE;
	for (int i = 0; i < 10; i++)
		if (gcmap_defer_free(malloc(8), child_cb) != 0)
			return CH_DEFER;
	if (gcmap_barrier() != 0)
		return CH_BARRIER;
	if (LOAD(&child_cbs) != 10)
		return CH_CALLBACKS;
	if (pthread_create(&t, NULL, child_thread, m) != 0)
		return CH_THREAD_CREATE;
	if (pthread_join(t, &ret) != 0 || ret != NULL)
		return CH_THREAD;
	if (LOAD(&child_cbs) != 11)
		return CH_CALLBACKS;
	if (gcmap_destroy(m) != 0 || gcmap_destroy(inherited) != 0)
		return CH_DESTROY;
	if (gcmap_barrier() != 0)
		return CH_BARRIER;
	if (gcmap_thread_unregister() != 0)
		return CH_UNREGISTER;
	return CH_OK;
}

/* Wait for @pid at most @secs seconds; kill it on timeout. */
static int wait_child(pid_t pid, int secs, int *status)
{
	for (int i = 0; i < secs * 100; i++) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -ETIMEDOUT;
}

static unsigned long parent_cbs;

/* A registered thread outside any section, idle until told to leave. */
static void *idle_main(void *arg)
{
	struct holder *h = arg;

	worker_register(h->fr);
	STORE(&h->inside, 1);
	while (!LOAD(&h->leave))
		sleep_ms(1);
	W_RC(h->fr, gcmap_synchronize(), 0);
	worker_unregister(h->fr);
	return NULL;
}

static void parent_cb(void *p)
{
	INC(&parent_cbs);
	free(p);
}

/*
 * Fork with deferred work in flight. @other_registered: another thread is
 * registered (outside any section) at the moment of fork; in the child that
 * thread does not exist.
 */
static void fork_scenario(bool other_registered)
{
	static struct failrec fr = FAILREC_INIT;
	struct gcmap *m;
	struct holder h, idle;
	pthread_t t, ti;
	pid_t pid;
	int status = 0, w;

	CK_OK(gcmap_thread_register());
	CK_OK(gcmap_create(NULL, &m));
	CK_RC(gcmap_put_u64(m, 1, val_of(1), NULL), 1);
	/* A thread that registered, read and unregistered before the fork. */
	start_holder(&t, &h, &fr);
	STORE(&h.leave, 1);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	/* Deferred work in flight: the call_rcu thread exists. */
	for (int i = 0; i < 100; i++)
		CK_OK(gcmap_defer_free(malloc(16), parent_cb));
	CK_OK(gcmap_synchronize());
	for (int i = 0; i < 100; i++)
		CK_OK(gcmap_defer_free(malloc(16), parent_cb));
	memset(&idle, 0, sizeof(idle));
	idle.fr = &fr;
	if (other_registered) {
		ck_assert_int_eq(pthread_create(&ti, NULL, idle_main, &idle), 0);
		while (!LOAD(&idle.inside))
			sched_yield();
	}

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(child_main(m));

	w = wait_child(pid, 60, &status);
	ck_assert_msg(w == 0, "fork child did not finish in 60 s (deadlock after fork?)");
	ck_assert_msg(WIFEXITED(status), "fork child killed by signal %d%s",
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0,
		      WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? " (SIGALRM: deadlock)" :
									   "");
	ck_assert_msg(WEXITSTATUS(status) == 0, "fork child failed at step %d (%s)",
		      WEXITSTATUS(status), child_step_name(WEXITSTATUS(status)));

	/* The parent keeps working too. */
	if (other_registered) {
		STORE(&idle.leave, 1);
		ck_assert_int_eq(pthread_join(ti, NULL), 0);
	}
	CK_NO_FAILURES(&fr);
	CK_OK(gcmap_barrier());
	ck_assert_uint_eq(LOAD(&parent_cbs), 200);
	CK_RC(gcmap_get_u64(m, 2, NULL), -ENOENT); /* the child's put stayed there */
	CK_RC(gcmap_put_u64(m, 3, val_of(3), NULL), 1);
	CK_OK(gcmap_synchronize());
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_barrier());
	CK_OK(gcmap_thread_unregister());
}

START_TEST(test_rcu_fork)
{
	fork_scenario(false);
}
END_TEST

#ifndef TEST_TSAN
START_TEST(test_rcu_fork_other_thread_registered)
{
	fork_scenario(true);
}
END_TEST
#endif

static Suite *rcu_suite(void)
{
	Suite *s = suite_create("rcu");
	TCase *tc;

	tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rcu_register_twice);
	tcase_add_test(tc, test_rcu_unregister_unregistered);
	tcase_add_test(tc, test_rcu_unregister_in_section);
	tcase_add_test(tc, test_rcu_unregistered_eperm);
	tcase_add_test(tc, test_rcu_unlock_without_lock);
	tcase_add_test(tc, test_rcu_deadlk_inside_section);
	tcase_add_test(tc, test_rcu_nesting);
	suite_add_tcase(s, tc);

	tc = tcase_create("grace");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_rcu_defer_free_waits_for_reader);
	tcase_add_test(tc, test_rcu_synchronize_waits_for_reader);
	tcase_add_test(tc, test_rcu_defer_free_exactly_once);
	tcase_add_test(tc, test_rcu_defer_free_null_fn);
	tcase_add_test(tc, test_rcu_defer_free_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("fork");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_rcu_fork);
#ifndef TEST_TSAN
	/* TSan cannot follow this one: the child's new threads reuse the
	 * pthread ids of the parent's threads that do not exist there, and
	 * TSan aborts ("dup thread with used id", exit 66), a limitation of
	 * TSan with multi-threaded fork, not of gcmap. */
	tcase_add_test(tc, test_rcu_fork_other_thread_registered);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(rcu_suite());
}
