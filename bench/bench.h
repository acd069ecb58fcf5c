/*
 * bench.h - shared pieces of gcmap-bench: the interface every contender
 * table implements, the key set, the hash mixer all tables use, the clock
 * and the heap counter, and the workload entry points run in child processes.
 */
#ifndef GCMAP_BENCH_H
#define GCMAP_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * 1: every workload starts gcmap at its default size, so it grows (and
 * shrinks) by evacuation like rculfhash-auto. 0: the bench creates it
 * pre-sized, 2^L buckets of 8 slots with L the smallest such that 4 x 2^L >=
 * the run's base key count (L = 18 for 1M keys), the setting used before
 * gcmap had evacuation; gcmap never shrinks below its creation size.
 */
#ifndef GCMAP_BENCH_GROWS
#define GCMAP_BENCH_GROWS 1
#endif

/* Seeds: the key set and the hash seed every table uses (gcmap through
 * GCMAP_F_FIXED_SEED), so runs are repeatable and all tables hash alike. */
#define BENCH_KEY_SEED 0x5bd1e9955bd1e995ULL
#define BENCH_HASH_SEED0 0x243f6a8885a308d3ULL
#define BENCH_HASH_SEED1 0x13198a2e03707344ULL

/*
 * Key number i is bench_key(i): the murmur3 finaliser is a bijection, so
 * distinct numbers give distinct, well-spread 64-bit keys, computed without
 * touching memory (a key array would add a cache miss to every operation).
 */
static inline uint64_t bench_key(uint64_t idx)
{
	uint64_t k = idx + BENCH_KEY_SEED;

	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

/* The hash of a key for the rwlock table and rculfhash: the splitmix64
 * finaliser over the seeded key, the same function gcmap uses internally. */
static inline uint64_t bench_hash(uint64_t key)
{
	uint64_t h = key ^ BENCH_HASH_SEED0;

	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

/* A per-thread splitmix64 generator; rng_below() maps onto [0, n) without
 * division (Lemire's multiply-high). */
struct rng {
	uint64_t s;
};

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* The value stored for key number i: a 32-byte heap object, never freed
 * during a run and never counted as table memory. */
struct bench_val {
	uint64_t idx;
	uint64_t pad[3];
};
extern struct bench_val **bench_vals;
extern size_t bench_nr_vals;

/* What a table is sized for when it is created. */
struct table_cfg {
	size_t final_entries; /* the most entries the workload holds at once */
	size_t base_entries; /* the run's base key count (gcmap's fixed size) */
};

/*
 * struct table_ops - one contender. Every call but create/destroy is made
 * from a thread that called thread_init(). get/put/del are called from
 * several threads at once.
 */
struct table_ops {
	const char *name;
	void *(*create)(const struct table_cfg *cfg);
	void (*thread_init)(void);
	void (*thread_fini)(void);
	/* true and *val set if @key is present */
	bool (*get)(void *tbl, uint64_t key, void **val);
	/* insert or replace: 1 inserted, 0 replaced, negative on failure */
	int (*put)(void *tbl, uint64_t key, void *val);
	/* true if @key was present and is now removed */
	bool (*del)(void *tbl, uint64_t key);
	/* entries (exact when no writer runs) */
	size_t (*count)(void *tbl);
	/* wait until memory the table frees later (grace periods) is freed */
	void (*quiesce)(void *tbl);
	/* buckets now; @heap is the heap bytes the table holds (for tables
	 * that hide their size, which is then estimated); negative: unknown */
	double (*buckets)(void *tbl, size_t heap, bool *estimated);
	/* bytes the table reports holding itself, or 0 if it cannot tell */
	size_t (*self_bytes)(void *tbl);
	/* optional: give back what the entries do not need (gcmap_maintain) */
	void (*shrink_to_fit)(void *tbl);
	/* optional: the upkeep a user runs after a burst of writes (gcmap:
	 * gcmap_maintain until no evacuation is pending), used by W4 */
	void (*maintain)(void *tbl);
	/* set for gcmap while it cannot grow (see GCMAP_BENCH_GROWS) */
	bool fixed_size;
};

extern const struct table_ops bench_gcmap_ops;
extern const struct table_ops bench_lfht_auto_ops;
extern const struct table_ops bench_lfht_sized_ops;
extern const struct table_ops bench_rwlock_ops;
extern const struct table_ops bench_none_ops;

/*
 * Progress counters shared with the driver (a MAP_SHARED page, one cache
 * line per slot): workers store their operation counts here, so that on a
 * timeout the driver can tell a hung measurement from a slow one.
 */
#define BENCH_PROGRESS_SLOTS 64
extern uint64_t *bench_progress;

static inline void bench_progress_set(unsigned int slot, uint64_t ops)
{
	if (bench_progress && slot < BENCH_PROGRESS_SLOTS)
		__atomic_store_n(&bench_progress[slot * 8], ops, __ATOMIC_RELAXED);
}

/*
 * Data for `make bench-plot`, handed from a child to the driver in another
 * MAP_SHARED area (the driver clears it before each measurement): W3's
 * insert-latency histogram, merged over the threads, and W4's heap series.
 * The child fills it before it writes its run_result, so a driver that read
 * a whole result reads it complete; it is used only from runs that passed.
 */
#define BENCH_HIST_BUCKETS (61 * 16) /* workloads.c's log-linear histogram */
#define BENCH_SERIES_MAX 512

/* Kinds of W4 sample: a reading every 1/64 of N operations in each phase
 * (not quiesced: frees still waiting for a grace period count), and the
 * quiesced readings the W4 figures are (filled, deleted, fitted, re-inserted). */
enum bench_sample_kind {
	BS_FILL = 0,
	BS_DELETE,
	BS_REFILL,
	BS_FILLED,
	BS_DELETED,
	BS_FITTED,
	BS_REINSERTED,
	NR_BENCH_SAMPLE_KINDS
};

struct bench_sample {
	uint64_t ops; /* puts and deletes done so far in the W4 cycle */
	double bytes; /* heap bytes held by the table (as the W4 figures) */
	int kind; /* enum bench_sample_kind */
};

struct bench_plot {
	uint64_t hist[BENCH_HIST_BUCKETS]; /* W3: inserts per latency bucket */
	unsigned int nr_samples;
	struct bench_sample sample[BENCH_SERIES_MAX]; /* W4 */
};
extern struct bench_plot *bench_plot;

/* The largest latency in ns that falls into histogram bucket @i. */
uint64_t bench_hist_upper(unsigned int i);

/* Clock and heap. */
uint64_t bench_now_ns(void);
size_t bench_heap_bytes(void);
void bench_heap_settle(void);
void bench_die(const char *what, int err) __attribute__((noreturn));

/* Workloads. */
enum workload { W1 = 0, W2, W3, W4, W4_FRESH, W5, NR_WORKLOADS };

struct wl_params {
	size_t n; /* base key count (1M) */
	size_t n3; /* W3 inserts (2M) */
	double secs; /* per throughput measurement */
	unsigned threads;
	unsigned run; /* run number, varies the lookup sequence seed */
	unsigned sub; /* W5: which of its figures (w5.c) */
};

/* Result of one measurement, written by the child through a pipe. */
#define BENCH_NR_VALUES 10
struct run_result {
	int ok; /* 1 when the measurement finished and passed its checks */
	double v[BENCH_NR_VALUES]; /* the workload's figures (see workloads.c) */
	double buckets; /* at the end; negative: unknown */
	double buckets_initial; /* right after creation; negative: unknown */
	bool buckets_est;
	char note[160];
};

/* Indices into run_result.v. */
/* R_CPU, R3_CPU: CPU time the measuring threads got, as a percentage of
 * threads x wall time (under 100: they waited on a lock or for a CPU). */
enum { R_MOPS = 0, R_HIT, R_PREFILL_S, R_CPU };
enum { R3_MOPS = 0, R3_P50, R3_P99, R3_P999, R3_P9999, R3_MAX, R3_TIMER_NS, R3_CPU };
enum {
	R4_FILL = 0,
	R4_PER_ENTRY,
	R4_DEL,
	R4_FIT,
	R4_REINS,
	R4_SELF_FILL,
	R4_SELF_DEL,
	R4_SELF_REINS,
};

void bench_run_workload(enum workload wl, const struct table_ops *ops, const struct wl_params *p,
			struct run_result *res);
int bench_lookup_only(const struct table_ops *ops, size_t n, size_t lookups);
uint64_t bench_lookup_loop(const struct table_ops *ops, void *tbl, uint64_t universe,
			   size_t lookups, uint64_t *hits);

/*
 * W5, the collector (w5.c): bench_w5_run() measures one figure in a child;
 * bench_w5_drive() runs them all through @measure (bench.c's child
 * launcher; true when the run was good), prints the W5 table and its CSV
 * rows; bench_w5_targets() prints its targets through @target;
 * bench_w5_child_main() is `gcmap-bench --w5-child ...`, the re-executed
 * child of the idle-barrier figure.
 */
typedef bool (*bench_measure_fn)(enum workload wl, const struct table_ops *ops,
				 const struct wl_params *p, struct run_result *res);
typedef void (*bench_target_fn)(const char *what, double got, const char *rel, double want,
				bool higher_ok, const char *extra);
void bench_w5_run(const struct wl_params *p, struct run_result *res);
void bench_w5_drive(const struct wl_params *p, unsigned int runs, bench_measure_fn measure,
		    FILE *csv);
void bench_w5_targets(bench_target_fn target);
int bench_w5_child_main(int argc, char **argv);

/* W1/W2 key layout: each thread owns a slice of L = P + P/9 key numbers,
 * the first P present after the prefill, so a uniform pick over all slices
 * hits with probability P / L = 90%. */
size_t bench_slice_present(size_t n, unsigned threads);
size_t bench_slice_len(size_t n, unsigned threads);

#endif /* GCMAP_BENCH_H */
