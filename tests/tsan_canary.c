/*
 * tsan_canary.c - a real data race that ThreadSanitizer must report.
 * Built and run only with --enable-tsan, listed in XFAIL_TESTS: TSan's report
 * makes it fail (exit 66); if TSan ever stops seeing races, it exits 0, the
 * harness reports XPASS and make check fails.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

struct node {
	int value;
};

static _Atomic(struct node *) published;

/*
 * The bug: the node is published with a relaxed store, so the writer's plain
 * store to ->value does not happen before the reader's plain load (a release
 * store paired with an acquire load would order them).
 */
static void *writer(void *arg)
{
	struct node *n = malloc(sizeof(*n));

	if (!n)
		abort();
	atomic_store_explicit(&published, n, memory_order_relaxed);
	n->value = 42; /* races with the load in main() */
	return arg;
}

int main(void)
{
	pthread_t thr;
	struct node *n;
	int seen;

	if (pthread_create(&thr, NULL, writer, NULL) != 0)
		return 99;
	while (!(n = atomic_load_explicit(&published, memory_order_relaxed)))
		;
	seen = n->value; /* races with the store in writer() */
	pthread_join(thr, NULL);
	printf("tsan_canary: read %d; ThreadSanitizer did not report the race\n", seen);
	free(n);
	return 0;
}
