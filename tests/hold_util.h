/*
 * hold_util.h - for debug-build tests of "destroy while an operation is in
 * flight": the first thread to reach a named pause point is held there
 * until the test releases it. Test builds only (GCMAP_TESTHOOKS).
 */
#ifndef GCMAP_TESTS_HOLD_UTIL_H
#define GCMAP_TESTS_HOLD_UTIL_H

#include "test_util.h"

static const char *hold_point; /* set before the hook is installed */
static int hold_state; /* 1 armed, 2 a thread is held, 0 released; atomic */

static void hold_hook(const char *point)
{
	int armed = 1;

	if (strcmp(point, hold_point) == 0 &&
	    __atomic_compare_exchange_n(&hold_state, &armed, 2, false, __ATOMIC_ACQ_REL,
					__ATOMIC_RELAXED))
		while (LOAD(&hold_state) == 2)
			sched_yield();
}

/* Hold the first thread that reaches @point (installs the hook: release, so
 * the hook's reader sees hold_point). */
static void hold_at(const char *point)
{
	hold_point = point;
	STORE(&hold_state, 1);
	__atomic_store_n(&gcmap__sched_hook, hold_hook, __ATOMIC_RELEASE);
}

/* Wait until a thread is held. */
static void hold_wait(void)
{
	while (LOAD(&hold_state) != 2)
		sched_yield();
}

/* Let it go and remove the hook. */
static void hold_release(void)
{
	STORE(&hold_state, 0);
	__atomic_store_n(&gcmap__sched_hook, NULL, __ATOMIC_RELEASE);
}

/* A registered thread's put of key 1 in map @arg; NULL on success. */
static void *busy_writer(void *arg)
{
	struct gcmap *m = arg;

	if (gcmap_thread_register() != 0)
		return (void *)1;
	if (gcmap_put_u64(m, 1, val_of(1), NULL) != 1)
		return (void *)2;
	if (gcmap_thread_unregister() != 0)
		return (void *)3;
	return NULL;
}

#endif /* GCMAP_TESTS_HOLD_UTIL_H */
