/*
 * rwtable.h - the naive baseline's plain table: single-threaded open
 * addressing with linear probing, at most 7/8 full, doubled by a
 * stop-the-world rehash, backward-shift deletion (no tombstones).
 */
#ifndef GCMAP_BENCH_RWTABLE_H
#define GCMAP_BENCH_RWTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A slot is empty when @val is NULL (the bench never stores NULL). */
struct rwslot {
	uint64_t key;
	void *val;
};

struct rwtable {
	struct rwslot *slots;
	size_t mask; /* number of slots - 1; a power of two */
	size_t count;
	size_t bytes; /* bytes of @slots: the counting allocator's figure */
};

int rwtable_init(struct rwtable *t, unsigned int log2_slots);
void rwtable_fini(struct rwtable *t);
bool rwtable_get(const struct rwtable *t, uint64_t key, void **val);
int rwtable_put(struct rwtable *t, uint64_t key, void *val);
bool rwtable_del(struct rwtable *t, uint64_t key);

#endif /* GCMAP_BENCH_RWTABLE_H */
