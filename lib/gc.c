/*
 * gc.c - the collector domain: the registry of managed objects, roots,
 * attached maps, and the incremental mark phase with its start handshake,
 * termination and sweep (which hands unreachable objects to finalizer.c).
 *
 * Design (doc/design.md, "The collector")
 * ------
 *   IDLE --begin--> MARKING --(grey empty, grace period, still empty)--> sweep --> IDLE
 *
 * begin:   epoch++, phase = MARKING (release), then a grace period: every
 *          writer that saw the barrier off has left its read-side section,
 *          and every thread that held an object in a section from before
 *          has let go of it. Only then does the scan start.
 * step:    trace grey objects; scan explicit roots (a walk of the registry);
 *          scan each attached map with the iteration machinery of iter.c,
 *          which reads live chains only (it follows moved marks), shading
 *          every value. The barrier covers what the walk does not see:
 *          stores behind the walk (Dijkstra half) and removals ahead of it
 *          (Yuasa half); a bucket move never changes which range of the
 *          walk an entry belongs to, so evacuation needs no barrier.
 * end:     the grey list is empty; a grace period (barrier buffers are
 *          flushed at the end of each operation's section: every shading
 *          begun before is visible); still empty => no grey object is left
 *          and none can appear except by shading an already black object.
 *          The phase goes IDLE; a last grace period and drain catch any
 *          straggler (counted; expected 0).
 * sweep:   registered, unmarked objects with a finalizer are candidates.
 *          Everything reachable from a candidate's children is marked
 *          (Boehm's ordering: if A reaches B, B survives until A is
 *          finalized; a candidate that reaches itself is in a cycle and is
 *          never finalized). Candidates still unmarked are queued as one
 *          batch; one grace period later they are ready to run.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEP_SLICE 64 /* map entries scanned per iterator call batch */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct gc_obj *lookup_rcu(struct gcmap_gc *gc, void *obj)
{
	void *v;

	if (!obj || gcmap_get_u64(gc->registry, (uint64_t)(uintptr_t)obj, &v) != 0)
		return NULL;
	return v;
}

/* ---------------------------------------------------------------------- */
/* Domain                                                                 */

int gcmap_gc_create(const struct gcmap_gc_options *opts, struct gcmap_gc **out)
{
	struct gcmap_gc_options o = { .size = sizeof(o) };
	struct gcmap_options ro = { .size = sizeof(ro), .key_kind = GCMAP_KEY_U64 };
	struct gcmap_gc *gc;
	int err;

	if (!out)
		return -EINVAL;
	if (opts)
		o = *opts;
	if (o.size != sizeof(o) ||
	    (o.flags & ~(unsigned int)(GCMAP_GC_F_BACKGROUND | GCMAP_GC_F_UNSAFE_NO_BARRIER)))
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	gc = gcmap__alloc(NULL, sizeof(*gc), true, GCMAP_SITE_GC);
	if (!gc)
		return -ENOMEM;
	err = gcmap_create(&ro, &gc->registry);
	if (err) {
		gcmap__free(NULL, gc, sizeof(*gc));
		return err;
	}
	gc->flags = o.flags;
	gc->pace_percent = o.pace_percent;
	gc->epoch = 1;
	pthread_mutex_init(&gc->mark_lock, NULL);
	pthread_mutex_init(&gc->zlock, NULL);
	pthread_mutex_init(&gc->fin_lock, NULL);
	pthread_cond_init(&gc->fin_cv, NULL);
	pthread_rwlock_init(&gc->fin_rw, NULL);
	pthread_mutex_init(&gc->sweep_lock, NULL);
	if (o.flags & GCMAP_GC_F_BACKGROUND) {
		err = gcmap__gc_bg_start(gc);
		if (err) {
			gcmap_destroy(gc->registry);
			gcmap__free(NULL, gc, sizeof(*gc));
			return err;
		}
	}
	gcmap__diag_add_gc(gc);
	*out = gc;
	return 0;
}

static void obj_free_now(struct gc_obj *e)
{
	gcmap__free(NULL, e, sizeof(*e));
}

void gcmap__gc_obj_put(struct gc_obj *e)
{
	/* acq_rel: the last dropper sees every other user's accesses. */
	if (__atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
		obj_free_now(e);
}

static void free_entry(void *val)
{
	obj_free_now(val); /* destroy: no user, no cycle, no callback left */
}

int gcmap_gc_destroy(struct gcmap_gc *gc)
{
	struct gc_obj *z;

	if (!gc)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	if (gcmap__tls.depth > 0)
		return -EDEADLK;
	gcmap__gc_bg_stop(gc);
	gcmap__diag_remove_gc(gc);
	pthread_mutex_lock(&gc->mark_lock);
	while (gc->nr_maps)
		gcmap__gc_detach_locked(gc, gc->maps[gc->nr_maps - 1]);
	if (gc->scan_it)
		gcmap_iter_end(gc->scan_it);
	if (gc->root_it)
		gcmap_iter_end(gc->root_it);
	__atomic_store_n(&gc->phase, GC_IDLE, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&gc->mark_lock);
	/* No writer can be shading into this domain after this grace period;
	 * then every deferred entry free has run. Its records left in other
	 * threads' rings are dropped (barrier.c, B3). */
	gcmap__rcu_synchronize();
	gcmap__gc_resolve(gc);
	gcmap__rcu_barrier();
	pthread_mutex_lock(&gc->zlock);
	gc->cycle_active = false;
	z = gc->zombies;
	gc->zombies = NULL;
	pthread_mutex_unlock(&gc->zlock);
	while (z) {
		struct gc_obj *next = z->zombie_next;

		gcmap__gc_obj_put(z);
		z = next;
	}
	/* Queued finalizers are dropped (their entries hold a queue ref). */
	for (struct gc_obj *e = gc->ready_head, *next; e; e = next) {
		next = e->fin_next;
		gcmap__gc_obj_put(e);
	}
	gcmap__values_now(gc->registry, free_entry);
	gcmap_destroy(gc->registry);
	gcmap__rcu_barrier();
	free(gc->maps);
	pthread_mutex_destroy(&gc->mark_lock);
	pthread_mutex_destroy(&gc->zlock);
	pthread_mutex_destroy(&gc->fin_lock);
	pthread_cond_destroy(&gc->fin_cv);
	pthread_rwlock_destroy(&gc->fin_rw);
	pthread_mutex_destroy(&gc->sweep_lock);
	gcmap__free(NULL, gc, sizeof(*gc));
	return 0;
}

static unsigned int drain(struct gcmap_gc *gc, unsigned int budget);

static int shade_value(const struct gcmap_entry *ent, void *arg)
{
	gcmap__rcu_read_lock();
	gcmap__gc_shade(arg, ent->value, false);
	gcmap__gc_flush();
	gcmap__rcu_read_unlock();
	return 0;
}

/* Mark @map's values and what they reach. Call with mark_lock held,
 * between the end of marking and the sweep. */
static int mark_map_now(struct gcmap_gc *gc, struct gcmap *map)
{
	int err = gcmap_foreach(map, shade_value, gc);

	drain(gc, UINT32_MAX);
	return err;
}

int gcmap_gc_attach(struct gcmap_gc *gc, struct gcmap *map)
{
	struct gcmap_gc *expect = NULL;
	int err = 0;

	if (!gc || !map)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	if (gcmap__tls.depth > 0)
		return -EDEADLK; /* a cycle may hold the lock across a grace period */
	pthread_mutex_lock(&gc->mark_lock);
	if (gc->nr_maps == gc->maps_cap) {
		size_t cap = gc->maps_cap ? 2 * gc->maps_cap : 4;
		struct gcmap **nm = realloc(gc->maps, cap * sizeof(*nm));

		if (!nm) {
			err = -ENOMEM;
			goto out;
		}
		gc->maps = nm;
		gc->maps_cap = cap;
	}
	/* Release pairs with the acquire load of map->gc by writers: from
	 * now on their stores are barrier'd while this domain marks. */
	if (!__atomic_compare_exchange_n(&map->gc, &expect, gc, false, __ATOMIC_RELEASE,
					 __ATOMIC_RELAXED)) {
		err = -EBUSY;
		goto out;
	}
	/* Marking already ended and the sweep is still to come: the new roots
	 * and what they reach must be marked now, or the sweep would take them
	 * for garbage. (A cycle still marking scans the map: it is appended
	 * after the scan position.) */
	if (gc->need_sweep) {
		err = mark_map_now(gc, map);
		if (err) {
			__atomic_store_n(&map->gc, NULL, __ATOMIC_RELEASE);
			goto out;
		}
	}
	gc->maps[gc->nr_maps] = map;
	__atomic_store_n(&gc->nr_maps, gc->nr_maps + 1, __ATOMIC_RELAXED); /* stats read it */
out:
	pthread_mutex_unlock(&gc->mark_lock);
	return err;
}

/* Remove @map from @gc's list. Call with mark_lock held. */
int gcmap__gc_detach_locked(struct gcmap_gc *gc, struct gcmap *map)
{
	size_t i;

	for (i = 0; i < gc->nr_maps && gc->maps[i] != map; i++)
		;
	if (i == gc->nr_maps)
		return -ENOENT;
	if (gc->cycle_marking && i == gc->scan_map && gc->scan_it) {
		gcmap_iter_end(gc->scan_it); /* the map may be destroyed next */
		gc->scan_it = NULL;
	}
	memmove(&gc->maps[i], &gc->maps[i + 1], (gc->nr_maps - i - 1) * sizeof(*gc->maps));
	__atomic_store_n(&gc->nr_maps, gc->nr_maps - 1, __ATOMIC_RELAXED);
	if (gc->cycle_marking && i < gc->scan_map)
		gc->scan_map--;
	__atomic_store_n(&map->gc, NULL, __ATOMIC_RELEASE);
	return 0;
}

int gcmap_gc_detach(struct gcmap *map)
{
	struct gcmap_gc *gc;
	int err;

	if (!map)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	if (gcmap__tls.depth > 0)
		return -EDEADLK;
	gc = __atomic_load_n(&map->gc, __ATOMIC_ACQUIRE);
	if (!gc)
		return -ENOENT;
	pthread_mutex_lock(&gc->mark_lock);
	err = gcmap__gc_detach_locked(gc, map);
	pthread_mutex_unlock(&gc->mark_lock);
	/* Writers that still saw the domain finish their sections: after this
	 * the map can be destroyed without a barrier touching the domain. */
	gcmap__rcu_synchronize();
	return err;
}

/* ---------------------------------------------------------------------- */
/* Registry and roots                                                     */

int gcmap_gc_register(struct gcmap_gc *gc, void *obj, gcmap_finalize_fn finalize,
		      gcmap_trace_fn trace, void *arg)
{
	struct gc_obj *e;
	uint32_t born = 0; /* the epoch it was born marked with, or 0 */
	int err;

	if (!gc || !obj)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	e = gcmap__alloc(NULL, sizeof(*e), true, GCMAP_SITE_GC);
	if (!e)
		return -ENOMEM;
	e->obj = obj;
	e->gc = gc;
	e->finalize = finalize;
	e->trace = trace;
	e->arg = arg;
	e->refs = 1;
	gcmap__rcu_read_lock();
	/*
	 * Born marked from a cycle's begin until its sweep is done (the sweep
	 * must not take a new object for garbage): marked BEFORE the insert
	 * publishes the entry, so the sweep never sees it white. If a cycle
	 * begins after this check, its handshake waits for this section and the
	 * object is found where the caller stores it.
	 */
	born = __atomic_load_n(&gc->born_marked, __ATOMIC_ACQUIRE);
	if (born) {
		e->mark = born;
		GCMAP_SCHED_POINT("gc:register-born");
	}
	/* The insert publishes the entry (release). */
	err = gcmap_insert_u64(gc->registry, (uint64_t)(uintptr_t)obj, e, NULL);
	/*
	 * While marking, also grey: its fields may have been set without the
	 * barrier before it was registered, so it must be traced. Born marked
	 * with the current epoch, no one else can turn it grey (their
	 * test-and-set finds it marked): push it, once. Otherwise (not born
	 * marked, or born in the sweep of the previous cycle, whose epoch has
	 * moved on since) the test-and-set decides who pushes it. The epoch
	 * cannot move again inside this section: the next begin waits for it.
	 * After marking ended, whatever it points to was reachable, hence
	 * marked, already.
	 */
	if (!err && __atomic_load_n(&gc->phase, __ATOMIC_ACQUIRE) == GC_MARKING) {
		if (born && born == __atomic_load_n(&gc->epoch, __ATOMIC_ACQUIRE))
			gcmap__gc_push_grey(e);
		else
			gcmap__gc_shade_entry(gc, e, false);
		gcmap__gc_flush();
	}
	gcmap__rcu_read_unlock();
	if (err) {
		obj_free_now(e);
		return err;
	}
	__atomic_fetch_add(&gc->nr_registered, 1, __ATOMIC_RELAXED);
	return 0;
}

/* A grace period after unregistering: drop the registry's reference, or
 * keep the entry until the end of the cycle in progress (the marker or a
 * grey list may still hold it). */
static void unregister_cb(struct gcmap__rcu_head *rh)
{
	struct gc_obj *e = gcmap__container_of(rh, struct gc_obj, rh);
	struct gcmap_gc *gc = e->gc;

	pthread_mutex_lock(&gc->zlock);
	if (gc->cycle_active) {
		e->zombie_next = gc->zombies;
		gc->zombies = e;
		e = NULL;
	}
	pthread_mutex_unlock(&gc->zlock);
	if (e)
		gcmap__gc_obj_put(e);
}

int gcmap_gc_unregister(struct gcmap_gc *gc, void *obj)
{
	void *v;
	struct gc_obj *e;
	int err;

	if (!gc || !obj)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	err = gcmap_delete_u64(gc->registry, (uint64_t)(uintptr_t)obj, &v);
	if (err)
		return err;
	e = v;
	__atomic_store_n(&e->dead, 1, __ATOMIC_RELEASE);
	/* Exactly one of this and run_one()'s exchange takes the finalizer:
	 * once this returns, a queued finalizer no longer starts. acq_rel as
	 * there. */
	(void)__atomic_exchange_n(&e->finalize, NULL, __ATOMIC_ACQ_REL);
	__atomic_fetch_sub(&gc->nr_registered, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&e->roots, __ATOMIC_RELAXED))
		__atomic_fetch_sub(&gc->nr_roots, 1, __ATOMIC_RELAXED);
	gcmap__call_rcu(&e->rh, unregister_cb);
	return 0;
}

int gcmap_gc_root_add(struct gcmap_gc *gc, void *obj)
{
	struct gc_obj *e;

	if (!gc || !obj)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	gcmap__rcu_read_lock();
	e = lookup_rcu(gc, obj);
	if (e) {
		/* Loaded before the phase: see the sweep-window branch. */
		uint32_t born = __atomic_load_n(&gc->born_marked, __ATOMIC_ACQUIRE);

		if (__atomic_fetch_add(&e->roots, 1, __ATOMIC_RELAXED) == 0)
			__atomic_fetch_add(&gc->nr_roots, 1, __ATOMIC_RELAXED);
		/* A root added during marking may be behind the root scan;
		 * one added after marking, before the sweep, must not be swept
		 * (what it reaches was reachable, hence marked, already). */
		if (__atomic_load_n(&gc->phase, __ATOMIC_ACQUIRE) == GC_MARKING) {
			gcmap__gc_shade(gc, obj, false);
			gcmap__gc_flush();
		} else if (born) {
			/* The sweep must not take it: mark it with the value
			 * loaded once (not the epoch, which a begin may have
			 * moved on before its phase store: marked with the new
			 * epoch, the root would escape that cycle's scan), and
			 * only forward (a barrier of a newer cycle may have
			 * marked and pushed it already). acq_rel as in
			 * gcmap__gc_mark_entry(). */
			uint32_t cur = __atomic_load_n(&e->mark, __ATOMIC_RELAXED);

			while ((int32_t)(cur - born) < 0 &&
			       !__atomic_compare_exchange_n(&e->mark, &cur, born, true,
							    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				;
		}
	}
	gcmap__rcu_read_unlock();
	return e ? 0 : -ENOENT;
}

int gcmap_gc_root_remove(struct gcmap_gc *gc, void *obj)
{
	struct gc_obj *e;
	int err = -ENOENT;

	if (!gc || !obj)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	gcmap__rcu_read_lock();
	e = lookup_rcu(gc, obj);
	if (e) {
		uint32_t n = __atomic_load_n(&e->roots, __ATOMIC_RELAXED);

		while (n && !__atomic_compare_exchange_n(&e->roots, &n, n - 1, true,
							 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
		if (n) {
			err = 0;
			if (n == 1)
				__atomic_fetch_sub(&gc->nr_roots, 1, __ATOMIC_RELAXED);
		}
	}
	gcmap__rcu_read_unlock();
	return err;
}

/* ---------------------------------------------------------------------- */
/* Marking                                                                */

static void visit(void *child, void *ctx)
{
	gcmap__gc_shade(ctx, child, false);
}

static int check_ctx(struct gcmap_gc *gc)
{
	if (!gc)
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	if (gcmap__tls.depth > 0)
		return -EDEADLK;
	return 0;
}

int gcmap_gc_begin(struct gcmap_gc *gc)
{
	int err = check_ctx(gc);

	if (err)
		return err;
	pthread_mutex_lock(&gc->mark_lock);
	if (gc->cycle_marking || gc->need_sweep) {
		pthread_mutex_unlock(&gc->mark_lock);
		return -EBUSY;
	}
	pthread_mutex_lock(&gc->zlock);
	gc->cycle_active = true;
	pthread_mutex_unlock(&gc->zlock);
	gc->t_begin = now_ns();
	__atomic_store_n(&gc->nr_marked, 0, __ATOMIC_RELAXED);
	/* A new mark value: last cycle's marks are white now. Never 0, the
	 * mark of an entry never marked and born_marked's "off". Release
	 * pairs with the acquire in gcmap__gc_mark_entry(), which a writer
	 * reaches after its acquire load of the phase stored next. */
	__atomic_store_n(&gc->epoch, gc->epoch + 1 ? gc->epoch + 1 : 1, __ATOMIC_RELEASE);
	GCMAP_SCHED_POINT("gc:begin-epoch");
	__atomic_store_n(&gc->phase, GC_MARKING, __ATOMIC_RELEASE);
	/* Last: a registration that loads this value (acquire) sees the
	 * phase MARKING, so it shades what it registers. */
	__atomic_store_n(&gc->born_marked, gc->epoch, __ATOMIC_RELEASE);
	/* The handshake: after this grace period no writer that saw the
	 * barrier off is still storing, and no thread holds an object in a
	 * read-side section that began before marking. */
	gcmap__rcu_synchronize();
	GCMAP_TRACE2(gc_begin, gc, gc->epoch);
	gc->cycle_marking = true;
	gc->roots_done = false;
	gc->scan_map = 0;
	gc->scan_it = NULL;
	gc->root_it = NULL;
	pthread_mutex_unlock(&gc->mark_lock);
	return 0;
}

/* Trace up to @budget grey objects. Return how many were traced. */
static unsigned int drain(struct gcmap_gc *gc, unsigned int budget)
{
	unsigned int done = 0;

	gcmap__gc_resolve(NULL); /* the writers' records first (barrier.c) */
	while (done < budget) {
		/* Acquire pairs with the release CAS of grey_push(). */
		struct gc_obj *e = __atomic_exchange_n(&gc->grey, NULL, __ATOMIC_ACQUIRE);

		if (!e)
			break;
		while (e) {
			struct gc_obj *next = __atomic_load_n(&e->grey_next, __ATOMIC_RELAXED);

			gcmap__rcu_read_lock();
			if (e->trace && !__atomic_load_n(&e->dead, __ATOMIC_ACQUIRE))
				e->trace(e->obj, visit, gc);
			gcmap__gc_flush();
			gcmap__rcu_read_unlock();
			__atomic_fetch_add(&gc->nr_marked, 1, __ATOMIC_RELAXED);
			done++;
			e = next;
			if ((done & 255) == 0)
				gcmap__gc_resolve(NULL); /* as in scan() */
		}
	}
	return done;
}

/* Scan up to @budget entries of @it, shading values (or, for the registry,
 * the objects that are roots). Return 1 when the iteration ended. */
static int scan(struct gcmap_gc *gc, struct gcmap_iter *it, bool roots, unsigned int *budget,
		int *err)
{
	struct gcmap_entry ent;
	unsigned int n = 0;
	int r = 1;

	while (*budget > 0 && (r = gcmap_iter_next(it, &ent)) == 1) {
		(*budget)--;
		/* Keep the writers' rings from filling up (barrier.c). */
		if ((++n & 63) == 0)
			gcmap__gc_resolve(NULL);
		gcmap__rcu_read_lock();
		if (roots) {
			struct gc_obj *e = ent.value;

			if (__atomic_load_n(&e->roots, __ATOMIC_RELAXED))
				gcmap__gc_shade_entry(gc, e, false);
		} else {
			gcmap__gc_shade(gc, ent.value, false);
		}
		gcmap__gc_flush();
		gcmap__rcu_read_unlock();
	}
	if (r < 0)
		*err = r;
	return r == 0;
}

/*
 * Termination (see the design block): the grey list is empty, every root,
 * map and the registry was scanned; a grace period makes every shading begun
 * before it visible (B2 of barrier.c); if the list is still empty, marking
 * is complete. Return 1 if complete, 0 if grey work appeared.
 */
static int terminate_locked(struct gcmap_gc *gc)
{
	gcmap__gc_resolve(NULL);
	if (__atomic_load_n(&gc->grey, __ATOMIC_ACQUIRE))
		return 0;
	gcmap__rcu_synchronize();
	/* Every operation that began before the grace period has published
	 * its records (B2): resolve them, then look. */
	gcmap__gc_resolve(NULL);
	if (__atomic_load_n(&gc->grey, __ATOMIC_ACQUIRE))
		return 0;
	__atomic_store_n(&gc->phase, GC_IDLE, __ATOMIC_RELEASE);
	/* Writers that saw MARKING until now finish; what they shaded was
	 * black already (nothing white is reachable), so this drain finds
	 * nothing, but it keeps the list empty for the next cycle, and it
	 * resolves their records: none of this cycle is left (B3). */
	gcmap__rcu_synchronize();
	drain(gc, UINT32_MAX);
	__atomic_store_n(&gc->mark_ns, now_ns() - gc->t_begin, __ATOMIC_RELAXED);
	gc->cycle_marking = false;
	gc->need_sweep = true;
	return 1;
}

int gcmap_gc_step(struct gcmap_gc *gc, unsigned int budget)
{
	int err = check_ctx(gc);

	if (err)
		return err;
	pthread_mutex_lock(&gc->mark_lock);
	if (!gc->cycle_marking) {
		/* 0 again when marking ended and the sweep is still to do. */
		err = gc->need_sweep ? 0 : -EINVAL;
		pthread_mutex_unlock(&gc->mark_lock);
		return err;
	}
	while (budget > 0 && !err) {
		unsigned int traced = drain(gc, budget);

		budget -= traced < budget ? traced : budget;
		if (budget == 0)
			break;
		if (!gc->roots_done) {
			if (!gc->root_it) {
				err = gcmap_iter_begin(gc->registry, &gc->root_it);
				if (err)
					break;
			}
			if (scan(gc, gc->root_it, true, &budget, &err)) {
				gcmap_iter_end(gc->root_it);
				gc->root_it = NULL;
				gc->roots_done = true;
			}
			continue;
		}
		if (gc->scan_map < gc->nr_maps) {
			if (!gc->scan_it) {
				err = gcmap__iter_begin(gc->maps[gc->scan_map], &gc->scan_it, true);
				if (err)
					break;
			}
			if (scan(gc, gc->scan_it, false, &budget, &err)) {
				gcmap_iter_end(gc->scan_it);
				gc->scan_it = NULL;
				gc->scan_map++;
			}
			continue;
		}
		if (terminate_locked(gc)) {
			pthread_mutex_unlock(&gc->mark_lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&gc->mark_lock);
	return err ? err : 1;
}

/* Sweep helpers: a growable stack of entries (the marker's own memory). */
struct stack {
	struct gc_obj **v;
	size_t n, cap;
};

static int push(struct stack *s, struct gc_obj *e)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct gc_obj **nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = e;
	return 0;
}

struct dfs {
	struct gcmap_gc *gc;
	struct gc_obj *cand;
	struct stack *stack;
	bool cycle;
	int err;
};

static void dfs_visit(void *child, void *ctx)
{
	struct dfs *d = ctx;
	struct gc_obj *e = lookup_rcu(d->gc, child);

	if (!e)
		return;
	if (e == d->cand)
		d->cycle = true; /* the candidate reaches itself */
	if (gcmap__gc_mark_entry(d->gc, e) && push(d->stack, e))
		d->err = -ENOMEM;
}

/* Mark everything reachable from @cand's children. Return whether @cand is
 * in a cycle, or a negative errno. */
static int mark_from_children(struct gcmap_gc *gc, struct gc_obj *cand, struct stack *st)
{
	struct dfs d = { .gc = gc, .cand = cand, .stack = st };

	st->n = 0;
	gcmap__rcu_read_lock();
	if (cand->trace)
		cand->trace(cand->obj, dfs_visit, &d);
	while (st->n && !d.err) {
		struct gc_obj *e = st->v[--st->n];

		if (e->trace && !__atomic_load_n(&e->dead, __ATOMIC_ACQUIRE))
			e->trace(e->obj, dfs_visit, &d);
	}
	gcmap__rcu_read_unlock();
	return d.err ? d.err : d.cycle;
}

static int collect_candidates(const struct gcmap_entry *ent, void *arg)
{
	struct gc_obj *e = ent->value;
	void **ctx = arg;
	struct gcmap_gc *gc = ctx[0];
	struct stack *cands = ctx[1];
	uint32_t epoch = __atomic_load_n(&gc->epoch, __ATOMIC_RELAXED);

	if (__atomic_load_n(&e->dead, __ATOMIC_ACQUIRE))
		return 0;
	if (__atomic_load_n(&e->mark, __ATOMIC_ACQUIRE) == epoch) {
		if (__atomic_load_n(&e->finalized, __ATOMIC_ACQUIRE) && !e->resurrect_counted) {
			e->resurrect_counted = 1;
			__atomic_fetch_add(&gc->nr_resurrected, 1, __ATOMIC_RELAXED);
		}
		return 0;
	}
	/*
	 * Queued objects whose finalizer has not run are candidates too: they
	 * are not queued again, but what they reach must stay alive until
	 * their finalizer has returned (ordering). So are objects whose
	 * finalizer returned in this cycle: it may have stored its object
	 * somewhere after marking ended (resurrection), with the barrier off,
	 * and what the object reaches must not be swept under it. (@running
	 * is always 0 here, since the sweep excludes finalizers through
	 * fin_rw; it is checked in case that rule changes.)
	 */
	if (__atomic_load_n(&e->finalize, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&e->running, __ATOMIC_ACQUIRE) || e->fin_epoch == epoch)
		return push(cands, e);
	return 0;
}

/* Sweep after marking. Return the number of objects queued, or -ENOMEM
 * (nothing queued: every candidate survives this cycle). */
static int sweep_locked(struct gcmap_gc *gc)
{
	struct stack cands = { 0 }, st = { 0 };
	void *ctx[2] = { gc, &cands };
	struct gc_obj *batch = NULL, **tail = &batch;
	uint32_t epoch = __atomic_load_n(&gc->epoch, __ATOMIC_RELAXED);
	int err, n = 0;

	GCMAP_SCHED_POINT("gc:sweep");
	err = gcmap_foreach(gc->registry, collect_candidates, ctx);
	for (size_t i = 0; !err && i < cands.n; i++) {
		struct gc_obj *c = cands.v[i];
		int r;

		if (__atomic_load_n(&c->mark, __ATOMIC_ACQUIRE) == epoch)
			continue; /* reached from an earlier candidate */
		r = mark_from_children(gc, c, &st);
		if (r < 0)
			err = r;
		else if (r)
			__atomic_fetch_add(&gc->nr_cycles_found, 1, __ATOMIC_RELAXED);
	}
	for (size_t i = 0; !err && i < cands.n; i++) {
		struct gc_obj *c = cands.v[i];

		if (c->queued || __atomic_load_n(&c->mark, __ATOMIC_ACQUIRE) == epoch)
			continue; /* queued already; or reachable from another
				   * finalizable object, or in a cycle */
		c->queued = 1;
		__atomic_fetch_add(&c->refs, 1, __ATOMIC_RELAXED); /* the queue's */
		c->fin_next = NULL;
		*tail = c;
		tail = &c->fin_next;
		n++;
	}
	free(cands.v);
	free(st.v);
	if (err)
		return err;
	if (batch) {
		/* One grace period for the whole batch: a reader that found one
		 * of these objects before it became unreachable is done. */
		gcmap__rcu_synchronize();
		gcmap__gc_queue_ready(gc, batch, (size_t)n);
	}
	return n;
}

/* End of a cycle: entries unregistered meanwhile can go now. @queued: the
 * objects the sweep queued for finalization. */
static void end_cycle(struct gcmap_gc *gc, int queued)
{
	size_t reg = __atomic_load_n(&gc->nr_registered, __ATOMIC_RELAXED);
	struct gc_obj *z;

	__atomic_store_n(&gc->born_marked, 0, __ATOMIC_RELEASE);
	pthread_mutex_lock(&gc->zlock);
	gc->cycle_active = false;
	z = gc->zombies;
	gc->zombies = NULL;
	pthread_mutex_unlock(&gc->zlock);
	while (z) {
		struct gc_obj *next = z->zombie_next;

		gcmap__gc_obj_put(z);
		z = next;
	}
	__atomic_fetch_add(&gc->nr_cycles, 1, __ATOMIC_RELAXED);
	/* Pacing's baseline is what survived: the queued objects are garbage
	 * (their finalizers usually unregister them), else each cycle would
	 * raise the threshold by the garbage it found. */
	if (queued > 0)
		reg = reg > (size_t)queued ? reg - (size_t)queued : 0;
	__atomic_store_n(&gc->registered_at_last_cycle, reg, __ATOMIC_RELAXED);
}

int gcmap_gc_finish(struct gcmap_gc *gc)
{
	bool swept;
	int r = check_ctx(gc);

	if (r)
		return r;
	do
		r = gcmap_gc_step(gc, 4096);
	while (r == 1);
	if (r < 0 && r != -EINVAL)
		return r;
	/*
	 * Whoever holds the lock when marking has ended sweeps, once; a new
	 * cycle cannot begin before (need_sweep). The sweep traces objects
	 * whose finalizers are pending, so no finalizer may run meanwhile
	 * (fin_rw, taken first: a finalizer may take mark_lock). If one is
	 * running, this cycle queues nothing (everything unmarked survives it,
	 * what a running finalizer's object reaches included) rather than
	 * wait for user code: the next cycle sweeps. Concurrent finishers
	 * take turns (sweep_lock), so the trylock fails only because of a
	 * finalizer.
	 */
	pthread_mutex_lock(&gc->sweep_lock);
	swept = pthread_rwlock_trywrlock(&gc->fin_rw) == 0;
	GCMAP_SCHED_POINT("gc:finish-trylocked");
	pthread_mutex_lock(&gc->mark_lock);
	if (!gc->need_sweep) {
		pthread_mutex_unlock(&gc->mark_lock);
		if (swept)
			pthread_rwlock_unlock(&gc->fin_rw);
		pthread_mutex_unlock(&gc->sweep_lock);
		return r;
	}
	r = swept ? sweep_locked(gc) : 0;
	gc->need_sweep = false;
	end_cycle(gc, r);
	GCMAP_TRACE3(gc_finish, gc, __atomic_load_n(&gc->nr_marked, __ATOMIC_RELAXED), r);
	pthread_mutex_unlock(&gc->mark_lock);
	if (swept)
		pthread_rwlock_unlock(&gc->fin_rw);
	pthread_mutex_unlock(&gc->sweep_lock);
	return r;
}

int gcmap_gc_collect(struct gcmap_gc *gc)
{
	int err = gcmap_gc_begin(gc);

	return err ? err : gcmap_gc_finish(gc);
}

/* gcmap_gc_stats() without resolving the barrier records first: the
 * GCMAP_STATS writer calls it holding diag_lock, which must not be held
 * while waiting for rings_lock (fork handlers take them in either order). */
int gcmap__gc_stats_fill(struct gcmap_gc *gc, struct gcmap_gc_stats *st)
{
	struct gcmap_gc_stats s;

	if (!gc || !st || st->size < sizeof(*st))
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.cycles = __atomic_load_n(&gc->nr_cycles, __ATOMIC_RELAXED);
	s.marking = __atomic_load_n(&gc->phase, __ATOMIC_ACQUIRE) == GC_MARKING;
	s.marked = __atomic_load_n(&gc->nr_marked, __ATOMIC_RELAXED);
	s.barrier_records = __atomic_load_n(&gc->nr_barrier_records, __ATOMIC_RELAXED);
	s.grey_overflows = __atomic_load_n(&gc->nr_grey_overflows, __ATOMIC_RELAXED);
	s.mark_ns = __atomic_load_n(&gc->mark_ns, __ATOMIC_RELAXED);
	s.registered = __atomic_load_n(&gc->nr_registered, __ATOMIC_RELAXED);
	s.roots = __atomic_load_n(&gc->nr_roots, __ATOMIC_RELAXED);
	s.finalized = __atomic_load_n(&gc->nr_finalized, __ATOMIC_RELAXED);
	s.pending = __atomic_load_n(&gc->nr_pending, __ATOMIC_RELAXED);
	s.resurrected = __atomic_load_n(&gc->nr_resurrected, __ATOMIC_RELAXED);
	s.cycles_found = __atomic_load_n(&gc->nr_cycles_found, __ATOMIC_RELAXED);
	s.maps = __atomic_load_n(&gc->nr_maps, __ATOMIC_RELAXED);
	*st = s;
	return 0;
}

int gcmap_gc_stats(struct gcmap_gc *gc, struct gcmap_gc_stats *st)
{
	if (gc && gcmap__tls.registered)
		gcmap__gc_resolve(NULL); /* count what the writers recorded */
	return gcmap__gc_stats_fill(gc, st);
}
