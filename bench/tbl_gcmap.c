/*
 * tbl_gcmap.c - the gcmap contender, through the public API only: a 64-bit-key
 * map with GCMAP_F_FIXED_SEED (the bench's hash seed, so runs repeat), the C
 * library's allocator, and one registered gcmap thread per bench thread.
 */
#include <errno.h>
#include <stdio.h>

#include "gcmap.h"

#include "bench.h"

static void check(const char *what, int err)
{
	if (err < 0) {
		fprintf(stderr, "gcmap-bench: %s: %s\n", what, gcmap_strerror(err));
		bench_die(what, -err);
	}
}

/* The fixed size used until gcmap grows (see GCMAP_BENCH_GROWS). */
static unsigned int fixed_log2(size_t base_entries)
{
	unsigned int log2 = 3;

	while (((size_t)4 << log2) < base_entries && log2 < GCMAP_MAX_LOG2_BUCKETS)
		log2++;
	return log2;
}

static void *create(const struct table_cfg *cfg)
{
	struct gcmap_options opts = {
		.size = sizeof(opts),
		.key_kind = GCMAP_KEY_U64,
		.log2_buckets = GCMAP_BENCH_GROWS ? 0 : fixed_log2(cfg->base_entries),
		.flags = GCMAP_F_FIXED_SEED,
		.seed = { BENCH_HASH_SEED0, BENCH_HASH_SEED1 },
		.allocator = NULL,
	};
	struct gcmap *map = NULL;

	check("gcmap_create", gcmap_create(&opts, &map));
	return map;
}

static void thread_init(void)
{
	check("gcmap_thread_register", gcmap_thread_register());
}

static void thread_fini(void)
{
	check("gcmap_thread_unregister", gcmap_thread_unregister());
}

static bool get(void *tbl, uint64_t key, void **val)
{
	return gcmap_get_u64(tbl, key, val) == 0;
}

static int put(void *tbl, uint64_t key, void *val)
{
	return gcmap_put_u64(tbl, key, val, NULL);
}

static bool del(void *tbl, uint64_t key)
{
	return gcmap_delete_u64(tbl, key, NULL) == 0;
}

static size_t count(void *tbl)
{
	size_t n = 0;

	check("gcmap_count", gcmap_count(tbl, &n));
	return n;
}

/* Twice, because a callback (a retired table) may schedule more. */
static void quiesce(void *tbl)
{
	(void)tbl;
	for (int i = 0; i < 2; i++) {
		check("gcmap_synchronize", gcmap_synchronize());
		check("gcmap_barrier", gcmap_barrier());
	}
	bench_heap_settle();
}

/* Shrink as far as the entries fit, and finish every evacuation in flight. */
static void shrink_to_fit(void *tbl)
{
	int left;

	while ((left = gcmap_maintain(tbl, 4096, GCMAP_MAINTAIN_SHRINK_TO_FIT)) > 0)
		;
	check("gcmap_maintain", left);
	quiesce(tbl);
}

/*
 * W4's "after delete": what a user of a map that only its writers evacuate
 * does after a burst of deletes, call gcmap_maintain() (no flags: the
 * library's own shrink policy) until it reports nothing in flight and
 * nothing to start. The caller then lets grace periods pass (quiesce).
 */
static void maintain(void *tbl)
{
	int left;

	while ((left = gcmap_maintain(tbl, 4096, 0)) > 0)
		;
	check("gcmap_maintain", left);
}

static double buckets(void *tbl, size_t heap, bool *estimated)
{
	struct gcmap_stats st = { .size = sizeof(st) };

	(void)heap;
	*estimated = false;
	check("gcmap_stats", gcmap_stats(tbl, &st));
	return (double)st.buckets;
}

static size_t self_bytes(void *tbl)
{
	struct gcmap_stats st = { .size = sizeof(st) };

	check("gcmap_stats", gcmap_stats(tbl, &st));
	return st.bytes_allocated;
}

const struct table_ops bench_gcmap_ops = {
	.name = "gcmap",
	.create = create,
	.thread_init = thread_init,
	.thread_fini = thread_fini,
	.get = get,
	.put = put,
	.del = del,
	.count = count,
	.quiesce = quiesce,
	.buckets = buckets,
	.self_bytes = self_bytes,
	.shrink_to_fit = shrink_to_fit,
	.maintain = maintain,
	.fixed_size = !GCMAP_BENCH_GROWS,
};
