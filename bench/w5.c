/*
 * w5.c - W5, the collector (gcmap only): how fast a cycle marks an attached
 * map of registered values, what a marker running cycles back to back costs
 * one writer (over a full map and while the map grows), and what the idle
 * write barrier costs against a library built without it (a sibling binary).
 *
 * Design
 * ------
 * Every figure is one child process per run, like W1-W4. The values are
 * the bench's 32-byte objects, registered with the domain (no finalizer, no
 * trace function), so each map slot holds one distinct managed object and
 * the barrier of every put shades (during a cycle) the stored and the
 * replaced value. Figures:
 *
 *   MARK       N keys; cycles back to back for -d s (at least 2); rate =
 *              gcmap_gc_stats().marked (checked == N every cycle) / the
 *              time from gcmap_gc_begin() to gcmap_gc_step() returning 0.
 *   PUT_IDLE   N keys; one writer replaces random keys' values with other
 *   PUT_MARK   registered objects for -d s; _MARK adds one marker thread
 *              running begin / step... / finish back to back. The marker
 *              logs each mark phase [before begin, step == 0]; the share of
 *              the writer's window they cover is printed, so an idle
 *              marker cannot pass for a busy one.
 *   GROW_IDLE  from a default-size map, one writer inserts N new keys
 *   GROW_MARK  (timed to the last one), with or without the marker.
 *   BAR_ON     PUT_IDLE, in a process exec'ed from this binary (/proc/self/
 *   BAR_OFF    exe) or from gcmap-bench-nobarrier next to it (the library
 *              with GCMAP_BENCH_NO_BARRIER). Both sides are exec'ed alike
 *              and measured alternately, run by run. Each then checks what
 *              it ran: a put during a cycle is shaded by the barrier
 *              (barrier_records grows) in BAR_ON and not in BAR_OFF.
 *
 * Ratios (marking / idle, no barrier / barrier) are per run, between the
 * two measurements made next to each other; their median is the figure.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gcmap.h"

#include "bench.h"

enum w5_sub {
	W5_MARK = 0,
	W5_PUT_IDLE,
	W5_PUT_MARK,
	W5_GROW_IDLE,
	W5_GROW_MARK,
	W5_BAR_ON,
	W5_BAR_OFF,
	NR_W5_SUBS
};

static const char *const sub_names[NR_W5_SUBS] = {
	"mark", "put-idle", "put-mark", "grow-idle", "grow-mark", "barrier", "no-barrier",
};

/* Indices into run_result.v for W5. */
enum {
	R5_RATE = 0, /* MARK: M objects marked/s; others: writer Mops/s */
	R5_MARK_PCT, /* share of the writer's window spent marking, % */
	R5_CYCLES, /* cycles whose marking ended inside the window */
	R5_SHADED, /* objects the barrier shaded during the window */
	R5_CPU, /* the writer's CPU time / its window, % */
	R5_MS_CYCLE, /* MARK: ms per mark phase */
	R5_VCSW, /* the writer's voluntary context switches (it blocked) */
	R5_IVCSW, /* and involuntary ones (preempted) */
	R5_PER_CPU, /* writer: M operations per second of its own CPU time */
};

#define W5_STEP_BUDGET 4096
#define W5_MAX_RUNS 99

/* Set in a process started by bench_w5_child_main(): it runs BAR_* itself. */
static bool w5_execed;

static void check(const char *what, int err)
{
	if (err < 0) {
		fprintf(stderr, "gcmap-bench: W5: %s: %s\n", what, gcmap_strerror(err));
		bench_die(what, -err);
	}
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct gcmap_gc_stats gc_stats(struct gcmap_gc *gc)
{
	struct gcmap_gc_stats st = { .size = sizeof(st) };

	check("gcmap_gc_stats", gcmap_gc_stats(gc, &st));
	return st;
}

/* One cycle; returns the mark phase's [start, end) in *t0, *t1. */
static void one_cycle(struct gcmap_gc *gc, uint64_t *t0, uint64_t *t1)
{
	int r;

	*t0 = bench_now_ns();
	check("gcmap_gc_begin", gcmap_gc_begin(gc));
	while ((r = gcmap_gc_step(gc, W5_STEP_BUDGET)) == 1)
		;
	check("gcmap_gc_step", r);
	*t1 = bench_now_ns();
	check("gcmap_gc_finish", gcmap_gc_finish(gc));
}

/* ---- the measurement in a child ---- */

struct w5 {
	const struct wl_params *p;
	unsigned int sub;
	struct gcmap *map;
	struct gcmap_gc *gc;
	size_t n;
	pthread_barrier_t bar;
	atomic_int stop; /* the writer's window is over */
	atomic_int writer_done; /* GROW: the last insert returned */
	/* writer */
	uint64_t ops, errors, t0, t1, cpu_ns;
	long vcsw, ivcsw;
	/* marker: the mark phases inside the writer's window */
	uint64_t mark_ns, cycles;
};

static bool marking(unsigned int sub)
{
	return sub == W5_PUT_MARK || sub == W5_GROW_MARK;
}

static bool growing(unsigned int sub)
{
	return sub == W5_GROW_IDLE || sub == W5_GROW_MARK;
}

static void *writer_main(void *arg)
{
	struct w5 *w = arg;
	struct rng r = { BENCH_KEY_SEED ^ ((uint64_t)(w->p->run + 1) * 0x9e3779b97f4a7c15ULL) };
	uint64_t ops = 0, errors = 0;
	size_t n = w->n;
	struct rusage ru0, ru1;

	check("gcmap_thread_register", gcmap_thread_register());
	pthread_barrier_wait(&w->bar); /* go */
	getrusage(RUSAGE_THREAD, &ru0);
	w->cpu_ns = thread_cpu_ns();
	w->t0 = bench_now_ns();
	if (growing(w->sub)) {
		for (size_t i = 0; i < n; i++) {
			errors += gcmap_put_u64(w->map, bench_key(i), bench_vals[i], NULL) != 1;
			if (!(i & 1023))
				bench_progress_set(0, i);
		}
		ops = n;
	} else {
		for (;;) {
			for (int k = 0; k < 256; k++) {
				uint64_t x = rng_next(&r), i = rng_below(&r, n);

				/* key i holds value i or n + i: replace it by either */
				errors += gcmap_put_u64(w->map, bench_key(i),
							bench_vals[i + (x & 1) * n], NULL) != 0;
			}
			ops += 256;
			bench_progress_set(0, ops);
			/* Relaxed: pairs with nothing, see run_writer(). */
			if (atomic_load_explicit(&w->stop, memory_order_relaxed))
				break;
		}
	}
	w->t1 = bench_now_ns();
	w->cpu_ns = thread_cpu_ns() - w->cpu_ns;
	getrusage(RUSAGE_THREAD, &ru1);
	w->vcsw = ru1.ru_nvcsw - ru0.ru_nvcsw;
	w->ivcsw = ru1.ru_nivcsw - ru0.ru_nivcsw;
	w->ops = ops;
	w->errors = errors;
	/* Release pairs with the acquire load in marker_main(): t0/t1 are set. */
	atomic_store_explicit(&w->writer_done, 1, memory_order_release);
	check("gcmap_thread_unregister", gcmap_thread_unregister());
	return NULL;
}

/* Cycles back to back until the writer is done; the mark phases are then
 * clipped to the writer's window [t0, t1). */
static void *marker_main(void *arg)
{
	struct w5 *w = arg;
	uint64_t ph[2 * 4096], nph = 0;

	check("gcmap_thread_register", gcmap_thread_register());
	pthread_barrier_wait(&w->bar); /* go */
	/* Acquire pairs with the release store in writer_main(). */
	while (!atomic_load_explicit(&w->writer_done, memory_order_acquire)) {
		uint64_t a, b;

		one_cycle(w->gc, &a, &b);
		if (nph < sizeof(ph) / sizeof(ph[0])) {
			ph[nph++] = a;
			ph[nph++] = b;
		}
	}
	for (uint64_t i = 0; i < nph; i += 2) {
		uint64_t a = ph[i] > w->t0 ? ph[i] : w->t0,
			 b = ph[i + 1] < w->t1 ? ph[i + 1] : w->t1;

		if (b > a)
			w->mark_ns += b - a;
		if (ph[i + 1] > w->t0 && ph[i + 1] <= w->t1)
			w->cycles++;
	}
	check("gcmap_thread_unregister", gcmap_thread_unregister());
	return NULL;
}

static void register_values(struct gcmap_gc *gc, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		check("gcmap_gc_register", gcmap_gc_register(gc, bench_vals[i], NULL, NULL, NULL));
		if (!(i & 1023))
			bench_progress_set(1, i);
	}
}

/* Every key below @n holds value i (or n + i when @either). */
static uint64_t verify(struct gcmap *map, size_t n, bool either)
{
	uint64_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		void *v = NULL;

		if (gcmap_get_u64(map, bench_key(i), &v) ||
		    (v != bench_vals[i] && !(either && v == bench_vals[n + i])))
			bad++;
	}
	return bad;
}

/* BAR_*: does a put during a cycle go through the barrier? (It shades the
 * replaced and the stored value, both white at the start of a cycle.) */
static bool barrier_present(struct w5 *w)
{
	unsigned long before;
	bool present;

	check("gcmap_gc_begin", gcmap_gc_begin(w->gc));
	before = gc_stats(w->gc).barrier_records;
	check("gcmap_put_u64", gcmap_put_u64(w->map, bench_key(0), bench_vals[w->n], NULL));
	present = gc_stats(w->gc).barrier_records > before;
	check("gcmap_gc_finish", gcmap_gc_finish(w->gc));
	check("gcmap_put_u64", gcmap_put_u64(w->map, bench_key(0), bench_vals[0], NULL));
	return present;
}

static void run_mark(struct w5 *w, struct run_result *res)
{
	uint64_t total = 0, marked = 0, start = bench_now_ns(), cycles = 0;
	bool bad = false;

	do {
		uint64_t a, b;
		size_t m;

		one_cycle(w->gc, &a, &b);
		total += b - a;
		m = gc_stats(w->gc).marked;
		marked += m;
		bad |= m != w->n;
		cycles++;
		bench_progress_set(0, cycles);
	} while (cycles < 2 || bench_now_ns() - start < (uint64_t)(w->p->secs * 1e9));
	res->v[R5_RATE] = (double)marked / ((double)total / 1e9) / 1e6;
	res->v[R5_MS_CYCLE] = (double)total / (double)cycles / 1e6;
	res->v[R5_CYCLES] = (double)cycles;
	res->ok = !bad;
	if (bad)
		snprintf(res->note, sizeof(res->note), "a cycle marked %zu objects, not %zu",
			 (size_t)gc_stats(w->gc).marked, w->n);
}

static void run_writer(struct w5 *w, struct run_result *res)
{
	pthread_t wt, mt;
	unsigned long shaded;
	double win;
	bool mk = marking(w->sub);

	pthread_barrier_init(&w->bar, NULL, mk ? 2 : 1);
	shaded = gc_stats(w->gc).barrier_records;
	if (pthread_create(&wt, NULL, writer_main, w))
		bench_die("pthread_create", EAGAIN);
	if (mk && pthread_create(&mt, NULL, marker_main, w))
		bench_die("pthread_create", EAGAIN);
	if (!growing(w->sub)) {
		struct timespec ts = { (time_t)w->p->secs,
				       (long)((w->p->secs - (double)(time_t)w->p->secs) * 1e9) };

		nanosleep(&ts, NULL);
		/* Relaxed: only ends the writer's loop; join orders the rest. */
		atomic_store_explicit(&w->stop, 1, memory_order_relaxed);
	}
	pthread_join(wt, NULL);
	if (mk)
		pthread_join(mt, NULL);
	win = (double)(w->t1 - w->t0);
	res->v[R5_RATE] = (double)w->ops / (win / 1e9) / 1e6;
	res->v[R5_MARK_PCT] = 100.0 * (double)w->mark_ns / win;
	res->v[R5_CYCLES] = (double)w->cycles;
	/* Includes the barrier's shading after the window (the marker's last
	 * cycle); none when no cycle runs. */
	res->v[R5_SHADED] = (double)(gc_stats(w->gc).barrier_records - shaded);
	res->v[R5_CPU] = 100.0 * (double)w->cpu_ns / win;
	res->v[R5_PER_CPU] = (double)w->ops / ((double)w->cpu_ns / 1e9) / 1e6;
	res->v[R5_VCSW] = (double)w->vcsw;
	res->v[R5_IVCSW] = (double)w->ivcsw;
	res->ok = w->errors == 0;
	if (w->errors)
		snprintf(res->note, sizeof(res->note), "%llu puts returned the wrong code",
			 (unsigned long long)w->errors);
	else if (verify(w->map, w->n, !growing(w->sub))) {
		res->ok = 0;
		snprintf(res->note, sizeof(res->note), "wrong contents after the run");
	}
}

/* Run BAR_ON / BAR_OFF in a process exec'ed from this binary or its
 * no-barrier sibling, with the same arguments; its result comes back on a
 * pipe (its stdout). */
static void run_execed(const struct wl_params *p, struct run_result *res)
{
	char self[PATH_MAX], path[PATH_MAX + 32], a_sub[16], a_n[32], a_secs[32], a_run[16];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	size_t got = 0;
	int fds[2], st;
	pid_t pid;

	if (len <= 0)
		bench_die("readlink /proc/self/exe", errno);
	self[len] = 0;
	if (p->sub == W5_BAR_OFF) {
		char *slash = strrchr(self, '/');

		if (slash)
			*slash = 0;
		snprintf(path, sizeof(path), "%s/gcmap-bench-nobarrier", slash ? self : ".");
	} else {
		snprintf(path, sizeof(path), "%s", self);
	}
	if (access(path, X_OK)) {
		snprintf(res->note, sizeof(res->note), "cannot run %.100s (make bench builds it)",
			 strrchr(path, '/') + 1);
		return;
	}
	snprintf(a_sub, sizeof(a_sub), "%u", p->sub);
	snprintf(a_n, sizeof(a_n), "%zu", p->n);
	snprintf(a_secs, sizeof(a_secs), "%.17g", p->secs);
	snprintf(a_run, sizeof(a_run), "%u", p->run);
	if (pipe(fds))
		bench_die("pipe", errno);
	pid = fork();
	if (pid < 0)
		bench_die("fork", errno);
	if (pid == 0) {
		char opt_child[] = "--w5-child";
		char *argv[] = { path, opt_child, a_sub, a_n, a_secs, a_run, NULL };

		/* Killed with this child when the driver kills it (time limit). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(127);
		close(fds[0]);
		close(fds[1]);
		execv(path, argv);
		_exit(127);
	}
	close(fds[1]);
	while (got < sizeof(*res)) {
		ssize_t r = read(fds[0], (char *)res + got, sizeof(*res) - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fds[0]);
	waitpid(pid, &st, 0);
	if (got != sizeof(*res)) {
		memset(res, 0, sizeof(*res));
		snprintf(res->note, sizeof(res->note),
			 "%.100s --w5-child gave no result (status %d)", strrchr(path, '/') + 1,
			 st);
	}
}

void bench_w5_run(const struct wl_params *p, struct run_result *res)
{
	struct w5 w = { .p = p, .sub = p->sub, .n = p->n };
	/* PUT and BAR replace values by a second set; MARK and GROW use one. */
	size_t nr_vals = growing(p->sub) || p->sub == W5_MARK ? p->n : 2 * p->n;
	bool want;

	if ((p->sub == W5_BAR_ON || p->sub == W5_BAR_OFF) && !w5_execed) {
		run_execed(p, res);
		return;
	}
	if (bench_nr_vals < nr_vals) {
		snprintf(res->note, sizeof(res->note), "too few values");
		return;
	}
	check("gcmap_thread_register", gcmap_thread_register());
	w.map = bench_gcmap_ops.create(
		&(struct table_cfg){ .final_entries = p->n, .base_entries = p->n });
	check("gcmap_gc_create", gcmap_gc_create(NULL, &w.gc));
	check("gcmap_gc_attach", gcmap_gc_attach(w.gc, w.map));
	register_values(w.gc, nr_vals);
	if (!growing(p->sub))
		for (size_t i = 0; i < p->n; i++)
			check("gcmap_put_u64",
			      gcmap_put_u64(w.map, bench_key(i), bench_vals[i], NULL));
	/* Let the prefill's evacuation and deferred frees finish first. */
	bench_gcmap_ops.quiesce(w.map);
	res->buckets_initial = bench_gcmap_ops.buckets(w.map, 0, &res->buckets_est);
	if (p->sub == W5_MARK)
		run_mark(&w, res);
	else
		run_writer(&w, res);
	res->buckets = bench_gcmap_ops.buckets(w.map, 0, &res->buckets_est);
	if (p->sub != W5_BAR_ON && p->sub != W5_BAR_OFF)
		return;
	/* The sibling must be what it claims to be, and so must this binary. */
	want = p->sub == W5_BAR_ON;
	if (barrier_present(&w) != want) {
		res->ok = 0;
		snprintf(res->note, sizeof(res->note), "the library %s the map stores' barrier",
			 want ? "lacks" : "still has");
	}
}

/* `gcmap-bench --w5-child SUB N SECS RUN`: measure, write the result to
 * stdout (a pipe from run_execed()). */
int bench_w5_child_main(int argc, char **argv)
{
	struct wl_params p = { .threads = 1 };
	struct run_result res;
	const char *b = (const char *)&res;
	size_t left = sizeof(res);

	if (argc != 6)
		return 2;
	p.sub = (unsigned int)strtoul(argv[2], NULL, 10);
	p.n = (size_t)strtoull(argv[3], NULL, 10);
	p.secs = strtod(argv[4], NULL);
	p.run = (unsigned int)strtoul(argv[5], NULL, 10);
	if (p.sub >= NR_W5_SUBS || !p.n)
		return 2;
	/* The values, allocated as the driver allocates them. */
	bench_nr_vals = 2 * p.n;
	bench_vals = malloc(bench_nr_vals * sizeof(*bench_vals));
	if (!bench_vals)
		bench_die("malloc", ENOMEM);
	for (size_t i = 0; i < bench_nr_vals; i++) {
		bench_vals[i] = malloc(sizeof(struct bench_val));
		if (!bench_vals[i])
			bench_die("malloc", ENOMEM);
		bench_vals[i]->idx = i;
	}
	w5_execed = true;
	memset(&res, 0, sizeof(res));
	bench_w5_run(&p, &res);
	while (left) {
		ssize_t w = write(STDOUT_FILENO, b, left);

		if (w <= 0)
			_exit(3);
		b += w;
		left -= (size_t)w;
	}
	/* Like the driver's children: no exit handlers with threads registered. */
	_exit(0);
}

/* ---- the driver: runs, table, CSV, targets ---- */

struct fig5 {
	double med, min, max;
	unsigned int n;
};

static struct run_result w5_res[NR_W5_SUBS][W5_MAX_RUNS];
static bool w5_ok[NR_W5_SUBS][W5_MAX_RUNS];
static unsigned int w5_runs;
static bool w5_ran;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct fig5 summarize(double *v, unsigned int n)
{
	struct fig5 f = { NAN, NAN, NAN, n };

	if (!n)
		return f;
	qsort(v, n, sizeof(v[0]), cmp_double);
	f.min = v[0];
	f.max = v[n - 1];
	f.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return f;
}

/* Figure @vi of @sub over its good runs. */
static struct fig5 fig(unsigned int sub, int vi)
{
	double v[W5_MAX_RUNS];
	unsigned int n = 0;

	for (unsigned int r = 0; r < w5_runs; r++)
		if (w5_ok[sub][r])
			v[n++] = w5_res[sub][r].v[vi];
	return summarize(v, n);
}

/* Per-run ratio @num / @den of the rates, over the runs where both were good. */
static struct fig5 ratio(unsigned int num, unsigned int den)
{
	double v[W5_MAX_RUNS];
	unsigned int n = 0;

	for (unsigned int r = 0; r < w5_runs; r++)
		if (w5_ok[num][r] && w5_ok[den][r] && w5_res[den][r].v[R5_RATE] > 0)
			v[n++] = w5_res[num][r].v[R5_RATE] / w5_res[den][r].v[R5_RATE];
	return summarize(v, n);
}

/* The first failure of @sub, or "". */
static const char *fail_note(unsigned int sub)
{
	for (unsigned int r = 0; r < w5_runs; r++)
		if (!w5_ok[sub][r])
			return w5_res[sub][r].note[0] ? w5_res[sub][r].note : "failed";
	return "";
}

static void csv5(FILE *csv, const char *metric, struct fig5 f, const char *notes)
{
	char buf[256];

	if (!csv)
		return;
	snprintf(buf, sizeof(buf), "%s", notes);
	for (char *c = buf; *c; c++)
		if (*c == ',' || *c == '"')
			*c = ';';
	fprintf(csv, "W5,1,gcmap,%s,%.6g,%.6g,%.6g,%u,%u,%s\n", metric, f.med, f.min, f.max, f.n,
		w5_runs, buf);
}

static const char *fmt(char *buf, size_t len, struct fig5 f, int prec)
{
	if (!f.n)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f [%.*f..%.*f]", prec, f.med, prec, f.min, prec, f.max);
	return buf;
}

static void row(FILE *csv, const char *what, const char *metric, struct fig5 f, int prec,
		const char *notes)
{
	char a[64];

	printf("%-44s %-28s %s\n", what, fmt(a, sizeof(a), f, prec), notes);
	csv5(csv, metric, f, notes);
}

/* A writer figure with its marking evidence. */
static void writer_row(FILE *csv, const char *what, const char *metric, unsigned int sub)
{
	struct fig5 pct = fig(sub, R5_MARK_PCT), cyc = fig(sub, R5_CYCLES),
		    sh = fig(sub, R5_SHADED), cpu = fig(sub, R5_CPU);
	char notes[300], m[64], wr[100];

	snprintf(wr, sizeof(wr),
		 "writer cpu%% %.0f (%.2f Mops per CPU-s), blocked %.0f, preempted %.0f", cpu.med,
		 fig(sub, R5_PER_CPU).med, fig(sub, R5_VCSW).med, fig(sub, R5_IVCSW).med);
	if (marking(sub))
		snprintf(notes, sizeof(notes),
			 "marking %.0f%% [%.0f..%.0f] of the window, %.0f cycles ended in it, "
			 "%.0f shaded by the barrier; %s%s%s",
			 pct.med, pct.min, pct.max, cyc.med, sh.med, wr,
			 *fail_note(sub) ? "; " : "", fail_note(sub));
	else
		snprintf(notes, sizeof(notes), "no cycle; %s%s%s", wr, *fail_note(sub) ? "; " : "",
			 fail_note(sub));
	row(csv, what, metric, fig(sub, R5_RATE), 2, notes);
	if (!csv || !marking(sub))
		return;
	snprintf(m, sizeof(m), "%s_marking_pct", metric);
	csv5(csv, m, pct, "");
	snprintf(m, sizeof(m), "%s_cycles", metric);
	csv5(csv, m, cyc, "");
	snprintf(m, sizeof(m), "%s_per_cpu_s", metric);
	csv5(csv, m, fig(sub, R5_PER_CPU), "");
}

static void print_w5(const struct wl_params *p, FILE *csv)
{
	struct fig5 mark = fig(W5_MARK, R5_RATE);
	char notes[200];

	printf("\nW5 collector (gcmap only): values are registered objects, the map is attached; "
	       "%zu keys, 1 writer, %u runs, %.1f s per run; median [min..max]\n",
	       p->n, w5_runs, p->secs);
	printf("%-44s %-28s %s\n", "figure", "median [min..max]", "notes");
	snprintf(
		notes, sizeof(notes),
		"%.1f ms per mark phase, %.0f cycles per run; marked = gcmap_gc_stats (== keys)%s%s",
		fig(W5_MARK, R5_MS_CYCLE).med, fig(W5_MARK, R5_CYCLES).med,
		*fail_note(W5_MARK) ? "; " : "", fail_note(W5_MARK));
	row(csv, "mark: M objects (= map slots) marked/s", "mark_Mslots_per_s", mark, 2, notes);
	csv5(csv, "mark_ms_per_cycle", fig(W5_MARK, R5_MS_CYCLE), "");
	writer_row(csv, "put/replace, no cycle: Mops/s", "put_idle_Mops", W5_PUT_IDLE);
	writer_row(csv, "put/replace, marker cycling: Mops/s", "put_marking_Mops", W5_PUT_MARK);
	row(csv, "  ratio marking / no cycle", "put_marking_ratio", ratio(W5_PUT_MARK, W5_PUT_IDLE),
	    3, "per run, then the median");
	csv5(csv, "put_idle_Mops_per_cpu_s", fig(W5_PUT_IDLE, R5_PER_CPU), "");
	writer_row(csv, "grow (insert N from default), no cycle", "grow_idle_Mops", W5_GROW_IDLE);
	writer_row(csv, "grow, marker cycling: Mops/s", "grow_marking_Mops", W5_GROW_MARK);
	row(csv, "  ratio marking / no cycle", "grow_marking_ratio",
	    ratio(W5_GROW_MARK, W5_GROW_IDLE), 3, "per run, then the median");
	csv5(csv, "grow_idle_Mops_per_cpu_s", fig(W5_GROW_IDLE, R5_PER_CPU), "");
	snprintf(notes, sizeof(notes), "no cycle, attached; exec'ed like the other%s%s",
		 *fail_note(W5_BAR_ON) ? "; " : "", fail_note(W5_BAR_ON));
	row(csv, "put, barrier compiled in: Mops/s", "put_barrier_Mops", fig(W5_BAR_ON, R5_RATE), 2,
	    notes);
	snprintf(notes, sizeof(notes), "gcmap-bench-nobarrier, alternated run by run%s%s",
		 *fail_note(W5_BAR_OFF) ? "; " : "", fail_note(W5_BAR_OFF));
	row(csv, "put, barrier compiled out: Mops/s", "put_nobarrier_Mops",
	    fig(W5_BAR_OFF, R5_RATE), 2, notes);
	row(csv, "  ratio barrier / no barrier", "barrier_idle_ratio", ratio(W5_BAR_ON, W5_BAR_OFF),
	    3, "per run pair, then the median");
}

void bench_w5_drive(const struct wl_params *p0, unsigned int runs, bench_measure_fn measure,
		    FILE *csv)
{
	struct wl_params p = *p0;

	w5_runs = runs < W5_MAX_RUNS ? runs : W5_MAX_RUNS;
	p.threads = 1;
	for (unsigned int r = 0; r < w5_runs; r++) {
		/* Pairs next to each other; the barrier pair's order alternates. */
		unsigned int order[NR_W5_SUBS] = { W5_MARK,	 W5_PUT_IDLE,  W5_PUT_MARK,
						   W5_GROW_IDLE, W5_GROW_MARK, W5_BAR_ON,
						   W5_BAR_OFF };

		if (r & 1) {
			order[5] = W5_BAR_OFF;
			order[6] = W5_BAR_ON;
		}
		p.run = r;
		for (unsigned int i = 0; i < NR_W5_SUBS; i++) {
			unsigned int sub = order[i];
			struct run_result *res = &w5_res[sub][r];

			p.sub = sub;
			w5_ok[sub][r] = measure(W5, &bench_gcmap_ops, &p, res);
			fprintf(stderr, "  W5 run %u/%u %-16s %s%s%s\n", r + 1, w5_runs,
				sub_names[sub], w5_ok[sub][r] ? "ok" : "NOT OK",
				res->note[0] ? ": " : "", res->note);
		}
	}
	w5_ran = true;
	print_w5(&p, csv);
	fflush(stdout);
}

void bench_w5_targets(bench_target_fn target)
{
	struct fig5 put = ratio(W5_PUT_MARK, W5_PUT_IDLE), grow = ratio(W5_GROW_MARK, W5_GROW_IDLE),
		    bar = ratio(W5_BAR_ON, W5_BAR_OFF);
	char ex[2][96];

	if (!w5_ran)
		return;
	snprintf(ex[0], sizeof(ex[0]), "marking %.0f%% of the window",
		 fig(W5_PUT_MARK, R5_MARK_PCT).med);
	snprintf(ex[1], sizeof(ex[1]), "marking %.0f%% of the window",
		 fig(W5_GROW_MARK, R5_MARK_PCT).med);
	target("W5 put, marking / no cycle (1 writer)", put.med, ">=", 0.8, true, ex[0]);
	target("W5 grow, marking / no cycle (1 writer)", grow.med, ">=", 0.8, true, ex[1]);
	target("W5 put, idle barrier / no barrier", bar.med, ">=", 0.97, true,
	       "interleaved with gcmap-bench-nobarrier");
}
