/*
 * finalizer.c - the queue of finalizers that are ready (their objects were
 * found unreachable and a grace period passed), running them once on the
 * asking thread or on the optional background thread, and pacing: that
 * thread starts a cycle when registered objects grew by pace_percent.
 *
 * A finalizer runs with no gcmap lock and no read-side section held and
 * never inside a call_rcu callback, so it may call anything in gcmap except
 * destroying its own domain. Running one: exchange the entry's finalizer
 * with NULL (so it runs once even if two threads drain the queue), mark the
 * entry finalized, call it, then drop the queue's reference on the entry.
 */
#include "internal.h"

#include <time.h>

void gcmap__gc_queue_ready(struct gcmap_gc *gc, struct gc_obj *batch, size_t n)
{
	struct gc_obj *last = batch;

	while (last->fin_next)
		last = last->fin_next;
	pthread_mutex_lock(&gc->fin_lock);
	if (gc->ready_tail)
		gc->ready_tail->fin_next = batch;
	else
		gc->ready_head = batch;
	gc->ready_tail = last;
	__atomic_fetch_add(&gc->nr_pending, n, __ATOMIC_RELAXED);
	pthread_cond_signal(&gc->fin_cv);
	pthread_mutex_unlock(&gc->fin_lock);
}

static struct gc_obj *pop_ready(struct gcmap_gc *gc)
{
	struct gc_obj *e;

	pthread_mutex_lock(&gc->fin_lock);
	e = gc->ready_head;
	if (e) {
		gc->ready_head = e->fin_next;
		if (!gc->ready_head)
			gc->ready_tail = NULL;
	}
	pthread_mutex_unlock(&gc->fin_lock);
	return e;
}

static void run_one(struct gcmap_gc *gc, struct gc_obj *e)
{
	gcmap_finalize_fn fn;

	/* Shared with other finalizers, excluded with a sweep (see fin_rw). */
	pthread_rwlock_rdlock(&gc->fin_rw);
	/* Running counts as "still finalizable" for the sweep, so what the
	 * object reaches stays alive until its finalizer has returned. Set
	 * before the exchange: a sweep that sees the finalizer gone (acquire,
	 * pairing with the exchange) sees this flag. */
	__atomic_store_n(&e->running, 1, __ATOMIC_RELEASE);
	/* Exchange: the finalizer runs at most once. Acquire pairs with the
	 * release publication of the entry at registration. */
	fn = __atomic_exchange_n(&e->finalize, NULL, __ATOMIC_ACQ_REL);
	if (fn && !__atomic_load_n(&e->dead, __ATOMIC_ACQUIRE)) {
		/* Set first: a finalizer that resurrects its object is seen as
		 * finalized by the next sweep. Release pairs with its acquire. */
		__atomic_store_n(&e->finalized, 1, __ATOMIC_RELEASE);
		GCMAP_TRACE2(finalizer_run, gc, e->obj);
		fn(e->obj, e->arg);
		__atomic_fetch_add(&gc->nr_finalized, 1, __ATOMIC_RELAXED);
		/* Plain: fin_rw orders it before the next sweep, which treats
		 * the object as a candidate if this is still the epoch (the
		 * finalizer may have resurrected it after marking ended).
		 * Acquire pairs with begin's release store of the epoch. */
		e->fin_epoch = __atomic_load_n(&gc->epoch, __ATOMIC_ACQUIRE);
	}
	__atomic_store_n(&e->running, 0, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&gc->fin_rw);
	__atomic_fetch_sub(&gc->nr_pending, 1, __ATOMIC_RELAXED);
	gcmap__gc_obj_put(e); /* the queue's reference */
}

int gcmap_gc_run_finalizers(struct gcmap_gc *gc, unsigned int max)
{
	int n = 0;

	if (!gc)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	if (gcmap__tls.depth > 0)
		return -EDEADLK;
	while (!max || (unsigned int)n < max) {
		struct gc_obj *e = pop_ready(gc);

		if (!e)
			break;
		run_one(gc, e);
		n++;
	}
	return n;
}

/* ---------------------------------------------------------------------- */
/* Background thread (GCMAP_GC_F_BACKGROUND)                              */

struct gcmap__gc_bg {
	pthread_t tid;
	bool stop; /* under fin_lock */
};

static bool pacing_due(struct gcmap_gc *gc)
{
	size_t now = __atomic_load_n(&gc->nr_registered, __ATOMIC_RELAXED);
	size_t last = __atomic_load_n(&gc->registered_at_last_cycle, __ATOMIC_RELAXED);

	if (!gc->pace_percent)
		return false;
	/* Grown by pace_percent since the last cycle ended (at least one
	 * object, so an empty domain does not cycle forever). */
	return now > last && (now - last) * 100 >= (size_t)gc->pace_percent * (last ? last : 1);
}

static void *bg_main(void *arg)
{
	struct gcmap_gc *gc = arg;

	gcmap_thread_register();
	for (;;) {
		struct timespec ts;
		bool stop;

		gcmap_gc_run_finalizers(gc, 0);
		if (pacing_due(gc) && gcmap_gc_begin(gc) == 0)
			gcmap_gc_finish(gc);
		gcmap_gc_run_finalizers(gc, 0);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 5000000; /* 5 ms, or at once when a batch is queued */
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&gc->fin_lock);
		if (!gc->bg->stop && !gc->ready_head)
			pthread_cond_timedwait(&gc->fin_cv, &gc->fin_lock, &ts);
		stop = gc->bg->stop;
		pthread_mutex_unlock(&gc->fin_lock);
		if (stop)
			break;
	}
	gcmap_thread_unregister();
	return NULL;
}

int gcmap__gc_bg_start(struct gcmap_gc *gc)
{
	struct gcmap__gc_bg *bg = gcmap__alloc(NULL, sizeof(*bg), true, GCMAP_SITE_GC);
	int err;

	if (!bg)
		return -ENOMEM;
	gc->bg = bg;
	err = pthread_create(&bg->tid, NULL, bg_main, gc);
	if (err) {
		gc->bg = NULL;
		gcmap__free(NULL, bg, sizeof(*bg));
		return -err;
	}
	return 0;
}

void gcmap__gc_bg_stop(struct gcmap_gc *gc)
{
	struct gcmap__gc_bg *bg = gc->bg;

	if (!bg)
		return;
	pthread_mutex_lock(&gc->fin_lock);
	bg->stop = true;
	pthread_cond_signal(&gc->fin_cv);
	pthread_mutex_unlock(&gc->fin_lock);
	pthread_join(bg->tid, NULL);
	gc->bg = NULL;
	gcmap__free(NULL, bg, sizeof(*bg));
}
