/*
 * rcu.c - thread registration, read-side sections, grace periods and
 * deferred frees: the implementation of rcu.h's wrappers and of the public
 * reclamation API. The only .c file that calls liburcu.
 */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>

#ifndef _LGPL_SOURCE
/* The TSan build does not inline liburcu; it still needs the reader
 * record's layout for the fork clean-up below. */
#include <urcu/static/urcu-common.h>
extern __thread struct urcu_reader urcu_memb_reader;
#endif

char gcmap__gp_token;
static char cb_done_token; /* TSan: "a callback has finished" */
__thread struct gcmap__tls gcmap__tls;
static __thread unsigned int tls_stripe;
static unsigned int next_stripe; /* relaxed counter: spreads threads over stripes */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

void gcmap__rcu_synchronize(void)
{
	/* Pairs with the release in gcmap__rcu_read_unlock() and
	 * gcmap__call_rcu(): the caller's later frees happen after them. */
	GCMAP_TSAN_RELEASE(&gcmap__gp_token);
	synchronize_rcu();
	GCMAP_TSAN_ACQUIRE(&gcmap__gp_token);
}

static void trampoline(struct rcu_head *head)
{
	struct gcmap__rcu_head *rh = gcmap__container_of(head, struct gcmap__rcu_head, head);

	/* Pairs with the release of every reader that left its section before
	 * this grace period ended, and with the queuing thread's release. */
	GCMAP_TSAN_ACQUIRE(&gcmap__gp_token);
	rh->fn(rh);
	/* Pairs with the acquire in gcmap__rcu_barrier(): what the callback
	 * did happens before the barrier returns. */
	GCMAP_TSAN_RELEASE(&cb_done_token);
}

void gcmap__call_rcu(struct gcmap__rcu_head *rh, void (*fn)(struct gcmap__rcu_head *rh))
{
	rh->fn = fn;
	/* Orders the caller's writes to the object (and its unpublication)
	 * before the callback; pairs with the acquire in trampoline(). */
	GCMAP_TSAN_RELEASE(&gcmap__gp_token);
	call_rcu(&rh->head, trampoline);
}

void gcmap__rcu_barrier(void)
{
	/* rcu_barrier() allocates and frees internally in ways TSan
	 * misreads (TSAN.md); the callbacks it waits for are annotated. */
	GCMAP_TSAN_IGNORE_BEGIN();
	rcu_barrier();
	GCMAP_TSAN_IGNORE_END();
	GCMAP_TSAN_ACQUIRE(&cb_done_token);
	GCMAP_TSAN_ACQUIRE(&gcmap__gp_token);
}

/*
 * Registered threads, for fork(). In a child only the forking thread
 * exists, but liburcu's registry still lists the readers of the others, and
 * their thread-local records live in stacks that glibc reuses for the
 * child's next threads: the registry would be corrupted by the first thread
 * the child creates (call_rcu's own worker included). liburcu's memb flavour
 * does not clean this up, so gcmap unlinks those stale readers in the child,
 * before anything else runs there. Protected by reg_lock, which is held
 * across fork().
 */
struct reg {
	struct reg *next;
	pthread_t tid;
	struct urcu_reader *reader;
};
static __thread struct reg tls_reg;
static struct reg *reg_head;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static void before_fork(void)
{
	pthread_mutex_lock(&reg_lock);
	call_rcu_before_fork();
	/* Last: a thread may wait for rings_lock inside a read-side section
	 * (its first barrier record), which the call_rcu thread's grace
	 * period, and so call_rcu_before_fork(), waits for. */
	gcmap__gc_fork_prepare();
}

static void after_fork_parent(void)
{
	gcmap__gc_fork_parent();
	call_rcu_after_fork_parent();
	pthread_mutex_unlock(&reg_lock);
}

static void after_fork_child(void)
{
	struct reg *self = NULL;

	/* Single-threaded here: no lock needed to edit either registry. */
	for (struct reg *r = reg_head; r; r = r->next) {
		if (pthread_equal(r->tid, pthread_self()))
			self = r;
		else
			cds_list_del(&r->reader->node);
	}
	reg_head = self;
	if (self)
		self->next = NULL;
	gcmap__gc_fork_child();
	pthread_mutex_init(&reg_lock, NULL);
	call_rcu_after_fork_child();
}

static void install_atfork(void)
{
	int err = pthread_atfork(before_fork, after_fork_parent, after_fork_child);

	if (err)
		GCMAP_DIE("pthread_atfork", err);
}

void gcmap__rcu_register(void)
{
	rcu_register_thread();
	tls_reg.tid = pthread_self();
	tls_reg.reader = &urcu_memb_reader;
	pthread_mutex_lock(&reg_lock);
	tls_reg.next = reg_head;
	reg_head = &tls_reg;
	pthread_mutex_unlock(&reg_lock);
}

void gcmap__rcu_unregister(void)
{
	pthread_mutex_lock(&reg_lock);
	for (struct reg **pp = &reg_head; *pp; pp = &(*pp)->next) {
		if (*pp == &tls_reg) {
			*pp = tls_reg.next;
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	/* The thread's last section ended before; make it visible to the
	 * next grace period's acquirer like any section end. */
	GCMAP_TSAN_RELEASE(&gcmap__gp_token);
	rcu_unregister_thread();
}

bool gcmap__registered(void)
{
	return gcmap__tls.registered;
}

unsigned int gcmap__stripe(void)
{
	return tls_stripe;
}

int gcmap__read_depth(void)
{
	return gcmap__tls.depth;
}

int gcmap_thread_register(void)
{
	if (gcmap__tls.registered)
		return -EALREADY;
	pthread_once(&atfork_once, install_atfork);
	gcmap__rcu_register();
	gcmap__tls.registered = true;
	gcmap__tls.depth = 0;
	tls_stripe = __atomic_fetch_add(&next_stripe, 1, __ATOMIC_RELAXED) % GCMAP_NR_STRIPES;
	return 0;
}

int gcmap_thread_unregister(void)
{
	if (!gcmap__tls.registered)
		return -EPERM;
	if (gcmap__tls.depth > 0)
		return -EBUSY;
	gcmap__gc_thread_exit(); /* its barrier records, resolved now */
	gcmap__rcu_unregister();
	gcmap__tls.registered = false;
	return 0;
}

int gcmap_thread_registered(void)
{
	return gcmap__tls.registered ? 1 : 0;
}

int gcmap_read_lock(void)
{
	if (!gcmap__tls.registered)
		return -EPERM;
	gcmap__rcu_read_lock();
	return 0;
}

int gcmap_read_unlock(void)
{
	if (!gcmap__tls.registered || gcmap__tls.depth <= 0)
		return -EPERM;
	gcmap__rcu_read_unlock();
	return 0;
}

int gcmap_synchronize(void)
{
	if (!gcmap__tls.registered)
		return -EPERM;
	if (gcmap__tls.depth > 0)
		return -EDEADLK;
	gcmap__rcu_synchronize();
	return 0;
}

int gcmap_barrier(void)
{
	if (!gcmap__tls.registered)
		return -EPERM;
	if (gcmap__tls.depth > 0)
		return -EDEADLK;
	gcmap__rcu_barrier();
	return 0;
}

/* gcmap_defer_free()'s bookkeeping node. */
struct defer_node {
	struct gcmap__rcu_head rh;
	void *ptr;
	void (*fn)(void *ptr);
};

static void defer_cb(struct gcmap__rcu_head *rh)
{
	struct defer_node *n = gcmap__container_of(rh, struct defer_node, rh);

	if (n->fn)
		n->fn(n->ptr);
	else
		free(n->ptr);
	gcmap__free(NULL, n, sizeof(*n));
}

int gcmap_defer_free(void *ptr, void (*fn)(void *ptr))
{
	struct defer_node *n;

	if (!gcmap__tls.registered)
		return -EPERM;
	n = gcmap__alloc(NULL, sizeof(*n), false, GCMAP_SITE_DEFER);
	if (!n)
		return -ENOMEM;
	n->ptr = ptr;
	n->fn = fn;
	gcmap__call_rcu(&n->rh, defer_cb);
	return 0;
}
