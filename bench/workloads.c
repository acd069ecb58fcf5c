/*
 * workloads.c - the measurements, each run once per child process: W1
 * lookups, W2 mixed, W3 growth latency, W4 memory, and the single-thread
 * lookup loop for callgrind. Every measurement checks what it measured
 * (hit rates, return codes, final contents) and fails the run otherwise.
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct bench_val **bench_vals;
size_t bench_nr_vals;
uint64_t *bench_progress;
struct bench_plot *bench_plot;

/* ---- clock, heap, errors ---- */

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Bytes the C heap holds in use, over all arenas: small chunks (with their
 * 8-byte headers) plus mmap'ed large ones. Deltas of this are table bytes
 * when only the table allocates in between. */
size_t bench_heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* Wait until the heap stops changing (deferred frees and background resize
 * workers done): 5 equal readings 10 ms apart, at most 3 s. */
void bench_heap_settle(void)
{
	size_t last = bench_heap_bytes();
	int same = 0;

	for (int i = 0; i < 300 && same < 5; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		size_t now;

		nanosleep(&ts, NULL);
		now = bench_heap_bytes();
		same = now == last ? same + 1 : 0;
		last = now;
	}
}

void bench_die(const char *what, int err)
{
	fprintf(stderr, "gcmap-bench: %s: %s\n", what, strerror(err));
	fflush(stderr);
	_exit(2);
}

size_t bench_slice_present(size_t n, unsigned threads)
{
	return n / threads;
}

size_t bench_slice_len(size_t n, unsigned threads)
{
	size_t p = bench_slice_present(n, threads);

	return p + p / 9;
}

/* ---- latency histogram: 16 linear sub-buckets per power of two (<= 6.25%) ---- */

#define HIST_SUB 16
#define HIST_N (61 * HIST_SUB)

struct hist {
	uint64_t n[HIST_N];
	uint64_t max;
	uint64_t total;
};

static unsigned int hist_index(uint64_t v)
{
	unsigned int e;

	if (v < HIST_SUB)
		return (unsigned int)v;
	e = 63u - (unsigned int)__builtin_clzll(v); /* >= 4 */
	return (e - 3) * HIST_SUB + (unsigned int)((v >> (e - 4)) & (HIST_SUB - 1));
}

/* The largest value that falls into bucket @i. */
static uint64_t hist_upper(unsigned int i)
{
	unsigned int e, sub;

	if (i < HIST_SUB)
		return i;
	e = i / HIST_SUB + 3;
	sub = i % HIST_SUB;
	return (((uint64_t)HIST_SUB + sub + 1) << (e - 4)) - 1;
}

_Static_assert(HIST_N == BENCH_HIST_BUCKETS, "bench.h's histogram size is workloads.c's");

uint64_t bench_hist_upper(unsigned int i)
{
	return hist_upper(i);
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->n[hist_index(v)]++;
	h->total++;
	if (v > h->max)
		h->max = v;
}

static void hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned int i = 0; i < HIST_N; i++)
		into->n[i] += h->n[i];
	into->total += h->total;
	if (h->max > into->max)
		into->max = h->max;
}

/* The @q quantile: the upper edge of its bucket, never above the maximum. */
static uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999), seen = 0;

	if (rank < 1)
		rank = 1;
	for (unsigned int i = 0; i < HIST_N; i++) {
		seen += h->n[i];
		if (seen >= rank) {
			uint64_t up = hist_upper(i);

			return up < h->max ? up : h->max;
		}
	}
	return h->max;
}

/* ---- threads ---- */

struct shared {
	enum workload wl;
	const struct table_ops *ops;
	void *tbl;
	const struct wl_params *p;
	size_t present; /* W1/W2: P, keys per slice present after the prefill */
	size_t slice; /* W1/W2: L, key numbers per slice */
	pthread_barrier_t bar;
	atomic_int stop;
};

struct worker {
	struct shared *sh;
	unsigned int id;
	pthread_t th;
	uint64_t ops, gets, hits, sum, errors, t_end, cpu_ns;
	size_t head, live; /* W2: this slice's present window [head, head + live) */
	struct hist *hist; /* W3 */
};

static void thread_seed(struct rng *r, const struct shared *sh, unsigned int id)
{
	r->s = BENCH_KEY_SEED ^ ((uint64_t)(sh->p->run + 1) * 0x9e3779b97f4a7c15ULL) ^
	       ((uint64_t)(id + 1) * 0xc2b2ae3d27d4eb4fULL) ^ ((uint64_t)sh->wl << 56);
	rng_next(r);
}

static void put_checked(struct worker *w, uint64_t idx, int expect)
{
	int ret = w->sh->ops->put(w->sh->tbl, bench_key(idx), bench_vals[idx]);

	if (ret != expect)
		w->errors++;
}

static void prefill(struct worker *w)
{
	size_t base = (size_t)w->id * w->sh->slice;

	for (size_t i = 0; i < w->sh->present; i++) {
		put_checked(w, base + i, 1);
		if (!(i & 1023))
			bench_progress_set(w->id, i);
	}
	w->head = 0;
	w->live = w->sh->present;
}

/* W1: uniform random lookups over all slices; 90% of them hit. The values
 * found are summed so that no lookup can be optimised away. */
static void run_lookups(struct worker *w, struct rng *r)
{
	const struct table_ops *ops = w->sh->ops;
	void *tbl = w->sh->tbl;
	uint64_t universe = (uint64_t)w->sh->slice * w->sh->p->threads;

	for (;;) {
		for (int k = 0; k < 256; k++) {
			void *v;

			if (ops->get(tbl, bench_key(rng_below(r, universe)), &v)) {
				w->hits++;
				w->sum += (uintptr_t)v;
			}
		}
		w->ops += 256;
		bench_progress_set(w->id, w->ops);
		if (atomic_load_explicit(&w->sh->stop, memory_order_relaxed))
			break;
	}
	w->gets = w->ops;
}

/*
 * W2: in every 20 operations, 18 lookups (uniform over all slices), one put
 * of the key number just past this slice's present window and one delete of
 * the oldest key in it: the window slides round the slice, so the size
 * stays at P or P + 1 per thread and every put inserts and every delete
 * removes (both checked).
 */
static void run_mixed(struct worker *w, struct rng *r)
{
	const struct table_ops *ops = w->sh->ops;
	void *tbl = w->sh->tbl;
	size_t slice = w->sh->slice, base = (size_t)w->id * slice;
	uint64_t universe = (uint64_t)slice * w->sh->p->threads;

	for (;;) {
		for (int round = 0; round < 13; round++) {
			for (int k = 0; k < 20; k++) {
				void *v;

				if (k == 9) {
					put_checked(w, base + (w->head + w->live) % slice, 1);
					w->live++;
				} else if (k == 19) {
					if (!ops->del(tbl, bench_key(base + w->head)))
						w->errors++;
					w->head = (w->head + 1) % slice;
					w->live--;
				} else if (ops->get(tbl, bench_key(rng_below(r, universe)), &v)) {
					w->hits++;
					w->sum += (uintptr_t)v;
				}
			}
		}
		w->ops += 13 * 20;
		bench_progress_set(w->id, w->ops);
		if (atomic_load_explicit(&w->sh->stop, memory_order_relaxed))
			break;
	}
	w->gets = w->ops / 20 * 18;
}

/* W3: this thread's share of the distinct inserts, each one timed. */
static void run_inserts(struct worker *w)
{
	size_t m = w->sh->p->n3, t = w->sh->p->threads;
	size_t lo = m * w->id / t, hi = m * (w->id + 1) / t;

	for (size_t idx = lo; idx < hi; idx++) {
		uint64_t key = bench_key(idx), t0, t1;
		int ret;

		t0 = bench_now_ns();
		ret = w->sh->ops->put(w->sh->tbl, key, bench_vals[idx]);
		t1 = bench_now_ns();
		hist_add(w->hist, t1 - t0);
		if (ret != 1)
			w->errors++;
		if (!(idx & 1023))
			bench_progress_set(w->id, idx - lo);
	}
	w->ops = hi - lo;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct rng r;

	thread_seed(&r, sh, w->id);
	sh->ops->thread_init();
	pthread_barrier_wait(&sh->bar); /* 1: all registered */
	if (sh->wl == W1 || sh->wl == W2)
		prefill(w);
	pthread_barrier_wait(&sh->bar); /* 2: prefill done */
	pthread_barrier_wait(&sh->bar); /* 3: go */
	w->cpu_ns = thread_cpu_ns();
	if (sh->wl == W1)
		run_lookups(w, &r);
	else if (sh->wl == W2)
		run_mixed(w, &r);
	else
		run_inserts(w);
	w->t_end = bench_now_ns();
	w->cpu_ns = thread_cpu_ns() - w->cpu_ns;
	sh->ops->thread_fini();
	return NULL;
}

/* Is key number @idx present after the run? (W1/W2 slice layout) */
static bool expected_present(const struct shared *sh, const struct worker *ws, size_t idx)
{
	const struct worker *w = &ws[idx / sh->slice];
	size_t off = idx % sh->slice;

	return (off + sh->slice - w->head) % sh->slice < w->live;
}

/* Look up @n random key numbers below @universe (or all of them when
 * @universe <= @n) and compare with what must be there. */
static uint64_t verify(const struct shared *sh, const struct worker *ws, uint64_t universe,
		       size_t n, struct rng *r)
{
	uint64_t bad = 0;
	bool all = universe <= n;

	for (size_t i = 0; i < (all ? universe : n); i++) {
		size_t idx = all ? i : rng_below(r, universe);
		bool want = ws ? expected_present(sh, ws, idx) : true;
		void *v = NULL;
		bool got = sh->ops->get(sh->tbl, bench_key(idx), &v);

		if (got != want || (got && v != bench_vals[idx]))
			bad++;
	}
	return bad;
}

static void record_buckets(const struct shared *sh, size_t heap, struct run_result *res)
{
	res->buckets = sh->ops->buckets(sh->tbl, heap, &res->buckets_est);
}

static void run_threads(struct shared *sh, struct run_result *res)
{
	const struct wl_params *p = sh->p;
	unsigned int t = p->threads;
	struct worker *ws = calloc(t, sizeof(*ws));
	uint64_t t_pf0, t_pf1, t0, t_end = 0, ops = 0, gets = 0, hits = 0, errors = 0, sum = 0,
				   cpu = 0;
	struct hist *all = NULL;
	size_t heap0;
	struct rng r;

	if (!ws)
		bench_die("calloc", ENOMEM);
	thread_seed(&r, sh, 1000);
	sh->ops->thread_init(); /* the main thread checks and measures */
	bench_heap_settle();
	heap0 = bench_heap_bytes();
	sh->tbl = sh->ops->create(&(struct table_cfg){
		.final_entries = sh->wl == W3 ? p->n3 : p->n,
		.base_entries = p->n,
	});
	res->buckets_initial = sh->ops->buckets(sh->tbl, 0, &res->buckets_est);
	pthread_barrier_init(&sh->bar, NULL, t + 1);
	for (unsigned int i = 0; i < t; i++) {
		ws[i].sh = sh;
		ws[i].id = i;
		if (sh->wl == W3 && !(ws[i].hist = calloc(1, sizeof(struct hist))))
			bench_die("calloc", ENOMEM);
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]))
			bench_die("pthread_create", EAGAIN);
	}
	pthread_barrier_wait(&sh->bar);
	t_pf0 = bench_now_ns();
	pthread_barrier_wait(&sh->bar);
	t_pf1 = bench_now_ns();
	t0 = bench_now_ns();
	pthread_barrier_wait(&sh->bar);
	if (sh->wl != W3) {
		struct timespec ts = { (time_t)p->secs,
				       (long)((p->secs - (double)(time_t)p->secs) * 1e9) };

		nanosleep(&ts, NULL);
		atomic_store(&sh->stop, 1);
	}
	for (unsigned int i = 0; i < t; i++) {
		pthread_join(ws[i].th, NULL);
		ops += ws[i].ops;
		gets += ws[i].gets;
		hits += ws[i].hits;
		sum += ws[i].sum;
		errors += ws[i].errors;
		cpu += ws[i].cpu_ns;
		if (ws[i].t_end > t_end)
			t_end = ws[i].t_end;
	}
	res->v[R_MOPS] = (double)ops / ((double)(t_end - t0) / 1e9) / 1e6;
	res->v[sh->wl == W3 ? R3_CPU : R_CPU] = 100.0 * (double)cpu / ((double)(t_end - t0) * t);
	res->ok = errors == 0;
	if (errors)
		snprintf(res->note, sizeof(res->note), "%llu failed puts/deletes",
			 (unsigned long long)errors);

	if (sh->wl == W3) {
		all = calloc(1, sizeof(*all));
		if (!all)
			bench_die("calloc", ENOMEM);
		for (unsigned int i = 0; i < t; i++)
			hist_merge(all, ws[i].hist);
		res->v[R3_P50] = (double)hist_quantile(all, 0.50) / 1e3;
		res->v[R3_P99] = (double)hist_quantile(all, 0.99) / 1e3;
		res->v[R3_P999] = (double)hist_quantile(all, 0.999) / 1e3;
		res->v[R3_P9999] = (double)hist_quantile(all, 0.9999) / 1e3;
		res->v[R3_MAX] = (double)all->max / 1e3;
		if (bench_plot)
			memcpy(bench_plot->hist, all->n, sizeof(all->n));
		if (sh->ops->count(sh->tbl) != p->n3 || verify(sh, NULL, p->n3, 20000, &r)) {
			res->ok = 0;
			snprintf(res->note, sizeof(res->note), "wrong contents after inserts");
		}
	} else {
		uint64_t universe = (uint64_t)sh->slice * t;
		double want = (double)sh->present / (double)sh->slice;

		res->v[R_HIT] = 100.0 * (double)hits / (double)gets;
		res->v[R_PREFILL_S] = (double)(t_pf1 - t_pf0) / 1e9;
		/* The 90% must be real: 1M+ uniform picks are within 0.5%. */
		if (res->v[R_HIT] < 100.0 * want - 0.5 || res->v[R_HIT] > 100.0 * want + 0.5 ||
		    sum == 0) {
			res->ok = 0;
			snprintf(res->note, sizeof(res->note), "hit rate %.2f%%, expected %.2f%%",
				 res->v[R_HIT], 100.0 * want);
		}
		if (verify(sh, ws, universe, 20000, &r)) {
			res->ok = 0;
			snprintf(res->note, sizeof(res->note), "wrong contents after the run");
		}
	}
	sh->ops->quiesce(sh->tbl);
	record_buckets(sh, bench_heap_bytes() - heap0, res);
	for (unsigned int i = 0; i < t; i++)
		free(ws[i].hist);
	free(all);
	free(ws);
}

/* Median of back-to-back clock readings: what each W3 latency includes. */
static double timer_overhead_ns(void)
{
	uint64_t d[101];

	for (int i = 0; i < 101; i++) {
		uint64_t a = bench_now_ns();

		d[i] = bench_now_ns() - a;
	}
	for (int i = 1; i < 101; i++)
		for (int j = i; j > 0 && d[j - 1] > d[j]; j--) {
			uint64_t x = d[j];

			d[j] = d[j - 1];
			d[j - 1] = x;
		}
	return (double)d[50];
}

/* W4's heap series for bench-plot: where it stands in the cycle. */
struct series {
	size_t heap0;
	uint64_t ops, step;
};

static void series_add(int kind, uint64_t ops, double bytes)
{
	struct bench_plot *bp = bench_plot;

	if (bp && bp->nr_samples < BENCH_SERIES_MAX)
		bp->sample[bp->nr_samples++] = (struct bench_sample){ ops, bytes, kind };
}

/* Count one operation if @did_op; every @step-th, read the heap as it is. */
static void series_op(struct series *s, int kind, bool did_op)
{
	if (did_op && !(++s->ops % s->step))
		series_add(kind, s->ops, (double)(bench_heap_bytes() - s->heap0));
}

/* W4: bytes the table holds at 1M entries, after deleting 90% (keeping
 * every tenth key number) and after re-inserting them. One thread. */
static void run_memory(const struct table_ops *ops, const struct wl_params *p,
		       struct run_result *res)
{
	size_t n = p->n, heap0;
	void *tbl;
	bool bad = false;

	ops->thread_init();
	bench_heap_settle();
	heap0 = bench_heap_bytes();
	struct series ser = { .heap0 = heap0, .step = n / 64 ? n / 64 : 1 };

	tbl = ops->create(&(struct table_cfg){ .final_entries = n, .base_entries = n });
	res->buckets_initial = ops->buckets(tbl, 0, &res->buckets_est);
	series_add(BS_FILL, 0, (double)(bench_heap_bytes() - heap0));
	for (size_t i = 0; i < n; i++) {
		bad |= ops->put(tbl, bench_key(i), bench_vals[i]) != 1;
		if (!(i & 1023))
			bench_progress_set(0, i);
		series_op(&ser, BS_FILL, true);
	}
	ops->quiesce(tbl);
	res->v[R4_FILL] = (double)(bench_heap_bytes() - heap0);
	series_add(BS_FILLED, ser.ops, res->v[R4_FILL]);
	res->v[R4_PER_ENTRY] = res->v[R4_FILL] / (double)n;
	res->v[R4_SELF_FILL] = (double)ops->self_bytes(tbl);
	bad |= ops->count(tbl) != n;

	for (size_t i = 0; i < n; i++) {
		if (i % 10)
			bad |= !ops->del(tbl, bench_key(i));
		if (!(i & 1023))
			bench_progress_set(0, n + i);
		series_op(&ser, BS_DELETE, i % 10);
	}
	/* What a user does after a burst of deletes (gcmap: finish the shrink
	 * the deletes started, which only writers would otherwise move on). */
	if (ops->maintain)
		ops->maintain(tbl);
	ops->quiesce(tbl);
	res->v[R4_DEL] = (double)(bench_heap_bytes() - heap0);
	res->v[R4_SELF_DEL] = (double)ops->self_bytes(tbl);
	series_add(BS_DELETED, ser.ops, res->v[R4_DEL]);
	res->buckets = ops->buckets(tbl, bench_heap_bytes() - heap0, &res->buckets_est);
	bad |= ops->count(tbl) != (n + 9) / 10;
	res->v[R4_FIT] = NAN;
	if (ops->shrink_to_fit) {
		ops->shrink_to_fit(tbl);
		res->v[R4_FIT] = (double)(bench_heap_bytes() - heap0);
		series_add(BS_FITTED, ser.ops, res->v[R4_FIT]);
	}

	for (size_t i = 0; i < n; i++) {
		if (i % 10)
			bad |= ops->put(tbl, bench_key(i), bench_vals[i]) != 1;
		if (!(i & 1023))
			bench_progress_set(0, 2 * n + i);
		series_op(&ser, BS_REFILL, i % 10);
	}
	ops->quiesce(tbl);
	res->v[R4_REINS] = (double)(bench_heap_bytes() - heap0);
	series_add(BS_REINSERTED, ser.ops, res->v[R4_REINS]);
	res->v[R4_SELF_REINS] = (double)ops->self_bytes(tbl);
	bad |= ops->count(tbl) != n;
	res->ok = !bad;
	if (bad)
		snprintf(res->note, sizeof(res->note), "wrong return codes or counts");
}

/* W4 reference: a fresh table holding only the keys W4 keeps. */
static void run_memory_fresh(const struct table_ops *ops, const struct wl_params *p,
			     struct run_result *res)
{
	size_t n = p->n, keep = (n + 9) / 10, heap0;
	void *tbl;
	bool bad = false;

	ops->thread_init();
	bench_heap_settle();
	heap0 = bench_heap_bytes();
	tbl = ops->create(&(struct table_cfg){ .final_entries = keep, .base_entries = keep });
	res->buckets_initial = ops->buckets(tbl, 0, &res->buckets_est);
	for (size_t i = 0; i < n; i += 10)
		bad |= ops->put(tbl, bench_key(i), bench_vals[i]) != 1;
	ops->quiesce(tbl);
	res->v[R4_FILL] = (double)(bench_heap_bytes() - heap0);
	res->v[R4_PER_ENTRY] = res->v[R4_FILL] / (double)keep;
	res->v[R4_SELF_FILL] = (double)ops->self_bytes(tbl);
	res->buckets = ops->buckets(tbl, bench_heap_bytes() - heap0, &res->buckets_est);
	bad |= ops->count(tbl) != keep;
	res->ok = !bad;
	if (bad)
		snprintf(res->note, sizeof(res->note), "wrong return codes or counts");
}

void bench_run_workload(enum workload wl, const struct table_ops *ops, const struct wl_params *p,
			struct run_result *res)
{
	struct shared sh = { .wl = wl, .ops = ops, .p = p };

	memset(res, 0, sizeof(*res));
	res->buckets = -1.0;
	res->buckets_initial = -1.0;
	switch (wl) {
	case W1:
	case W2:
		sh.present = bench_slice_present(p->n, p->threads);
		sh.slice = bench_slice_len(p->n, p->threads);
		run_threads(&sh, res);
		break;
	case W3:
		res->v[R3_TIMER_NS] = timer_overhead_ns();
		run_threads(&sh, res);
		break;
	case W4:
		run_memory(ops, p, res);
		break;
	case W4_FRESH:
		run_memory_fresh(ops, p, res);
		break;
	case W5:
		bench_w5_run(p, res);
		break;
	default:
		snprintf(res->note, sizeof(res->note), "no such workload");
		break;
	}
}

/* ---- single-thread lookups for callgrind ---- */

static void *none_create(const struct table_cfg *cfg)
{
	static int nothing;

	(void)cfg;
	return &nothing;
}

static void none_thread(void)
{
}

static bool none_get(void *tbl, uint64_t key, void **val)
{
	(void)tbl;
	(void)key;
	(void)val;
	return false;
}

static int none_put(void *tbl, uint64_t key, void *val)
{
	(void)tbl;
	(void)key;
	(void)val;
	return 1;
}

/* "none": a table that holds nothing, to count the harness's own cost. */
const struct table_ops bench_none_ops = {
	.name = "none",
	.create = none_create,
	.thread_init = none_thread,
	.thread_fini = none_thread,
	.get = none_get,
	.put = none_put,
};

/*
 * The measured loop of --lookup-only, in a function of its own so that
 * callgrind can count it alone (--toggle-collect=bench_lookup_loop): other
 * threads (a resize worker) and the prefill then stay out of the count.
 */
__attribute__((noinline)) uint64_t bench_lookup_loop(const struct table_ops *ops, void *tbl,
						     uint64_t universe, size_t lookups,
						     uint64_t *hits)
{
	struct rng r = { BENCH_KEY_SEED };
	uint64_t sum = 0;

	for (size_t i = 0; i < lookups; i++) {
		void *v;

		if (ops->get(tbl, bench_key(rng_below(&r, universe)), &v)) {
			(*hits)++;
			sum += (uintptr_t)v;
		}
	}
	return sum;
}

/*
 * Prefill @n keys on the calling thread, let the table settle, then do
 * @lookups uniform lookups with W1's 90% hit rate. Under callgrind,
 * (instructions with L lookups - with 0) / L is one lookup plus the loop's
 * own cost, which the "none" table measures (see bench/README.md).
 */
int bench_lookup_only(const struct table_ops *ops, size_t n, size_t lookups)
{
	uint64_t hits = 0, sum;
	void *tbl;

	ops->thread_init();
	tbl = ops->create(&(struct table_cfg){ .final_entries = n, .base_entries = n });
	for (size_t i = 0; i < n; i++)
		if (ops->put(tbl, bench_key(i), bench_vals[i]) < 0)
			bench_die("put", ENOMEM);
	if (ops->quiesce)
		ops->quiesce(tbl);
	sum = bench_lookup_loop(ops, tbl, bench_slice_len(n, 1), lookups, &hits);
	printf("%s: %zu keys, %zu lookups, %llu hits (%.1f%%), checksum %llx\n", ops->name, n,
	       lookups, (unsigned long long)hits,
	       lookups ? 100.0 * (double)hits / (double)lookups : 0.0, (unsigned long long)sum);
	return 0;
}
