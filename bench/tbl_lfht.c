/*
 * tbl_lfht.c - the rculfhash contenders: liburcu's cds_lfht (memb flavour) with
 * CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, either grown from one bucket
 * (what users get) or created with its final bucket count (its best case).
 * Readers run under rcu_read_lock(); removed nodes are freed with call_rcu().
 */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>

#include <urcu.h> /* the default (memb) flavour, mapped to rcu_* names */
#include <urcu/rculfhash.h>

#include "bench.h"

struct lnode {
	struct cds_lfht_node node; /* 16 bytes: next pointer, reverse hash */
	uint64_t key;
	void *val;
	struct rcu_head rcu; /* for call_rcu() */
};

/* container_of through void *, which -Wcast-align accepts. */
static struct lnode *of_node(struct cds_lfht_node *node)
{
	return (struct lnode *)(void *)((char *)node - offsetof(struct lnode, node));
}

static int match(struct cds_lfht_node *node, const void *key)
{
	return of_node(node)->key == *(const uint64_t *)key;
}

static void free_node(struct rcu_head *head)
{
	free((char *)head - offsetof(struct lnode, rcu));
}

static void *create(unsigned long init_size)
{
	struct cds_lfht *ht =
		cds_lfht_new(init_size, 1, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);

	if (!ht)
		bench_die("cds_lfht_new", ENOMEM);
	return ht;
}

static void *create_auto(const struct table_cfg *cfg)
{
	(void)cfg;
	return create(1);
}

static void *create_sized(const struct table_cfg *cfg)
{
	unsigned long size = 1;

	while (size < cfg->final_entries)
		size <<= 1;
	return create(size);
}

static void thread_init(void)
{
	rcu_register_thread();
}

static void thread_fini(void)
{
	rcu_unregister_thread();
}

static bool get(void *tbl, uint64_t key, void **val)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	bool found = false;

	rcu_read_lock();
	cds_lfht_lookup(tbl, bench_hash(key), match, &key, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (node) {
		*val = of_node(node)->val;
		found = true;
	}
	rcu_read_unlock();
	return found;
}

static int put(void *tbl, uint64_t key, void *val)
{
	struct lnode *ln = malloc(sizeof(*ln));
	struct cds_lfht_node *old;

	if (!ln)
		return -ENOMEM;
	cds_lfht_node_init(&ln->node);
	ln->key = key;
	ln->val = val;
	rcu_read_lock();
	old = cds_lfht_add_replace(tbl, bench_hash(key), match, &key, &ln->node);
	rcu_read_unlock();
	if (old)
		call_rcu(&of_node(old)->rcu, free_node);
	return old ? 0 : 1;
}

static bool del(void *tbl, uint64_t key)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	bool removed = false;

	rcu_read_lock();
	cds_lfht_lookup(tbl, bench_hash(key), match, &key, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (node && cds_lfht_del(tbl, node) == 0) {
		call_rcu(&of_node(node)->rcu, free_node);
		removed = true;
	}
	rcu_read_unlock();
	return removed;
}

static size_t count(void *tbl)
{
	long before, after;
	unsigned long nr;

	rcu_read_lock();
	cds_lfht_count_nodes(tbl, &before, &nr, &after);
	rcu_read_unlock();
	return nr;
}

/* Grace periods, then callbacks, then the resize worker (it allocates and
 * frees bucket tables on its own thread): wait until the heap is still. */
static void quiesce(void *tbl)
{
	(void)tbl;
	synchronize_rcu();
	rcu_barrier();
	bench_heap_settle();
	rcu_barrier();
}

/*
 * cds_lfht hides its bucket count. With the order allocator (the default
 * when max_nr_buckets is 0) the buckets are 16-byte cds_lfht_node entries,
 * 2^k of them in calloc'ed arrays, so the heap the table holds beyond its
 * nodes (each a malloc chunk of usable size + 8) divided by 16, rounded to
 * a power of two, estimates it. Good to a factor of two from 1k buckets up.
 */
static double buckets(void *tbl, size_t heap, bool *estimated)
{
	void *probe = malloc(sizeof(struct lnode));
	double chunk = (double)(malloc_usable_size(probe) + sizeof(size_t));
	double rest;

	free(probe);
	*estimated = true;
	rest = (double)heap - (double)count(tbl) * chunk;
	if (rest < 16.0 * 64)
		return -1.0;
	return exp2(round(log2(rest / 16.0)));
}

static size_t self_bytes(void *tbl)
{
	(void)tbl;
	return 0;
}

const struct table_ops bench_lfht_auto_ops = {
	.name = "rculfhash-auto",
	.create = create_auto,
	.thread_init = thread_init,
	.thread_fini = thread_fini,
	.get = get,
	.put = put,
	.del = del,
	.count = count,
	.quiesce = quiesce,
	.buckets = buckets,
	.self_bytes = self_bytes,
};

const struct table_ops bench_lfht_sized_ops = {
	.name = "rculfhash-sized",
	.create = create_sized,
	.thread_init = thread_init,
	.thread_fini = thread_fini,
	.get = get,
	.put = put,
	.del = del,
	.count = count,
	.quiesce = quiesce,
	.buckets = buckets,
	.self_bytes = self_bytes,
};
