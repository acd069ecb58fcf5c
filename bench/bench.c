/*
 * bench.c - gcmap-bench's driver: options, one child process per measurement
 * (killed after a time limit, so a hung table is reported, not waited for),
 * medians over runs, the tables, the target ratios, and the CSV file.
 * Usage: see usage() below and bench/README.md.
 */
#ifdef HAVE_CONFIG_H
#include "config.h" /* GCMAP_DEBUG */
#endif

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MAX_THREADS_LIST 8
#define MAX_RUNS 99

static const struct table_ops *const all_tables[] = {
	&bench_gcmap_ops,
	&bench_lfht_auto_ops,
	&bench_lfht_sized_ops,
	&bench_rwlock_ops,
};
#define NR_TABLES (sizeof(all_tables) / sizeof(all_tables[0]))
enum { T_GCMAP = 0, T_LFHT_AUTO, T_LFHT_SIZED, T_RWLOCK };

static const char *const wl_names[NR_WORKLOADS] = { "W1", "W2", "W3", "W4", "W4fresh", "W5" };

static struct {
	unsigned int threads[MAX_THREADS_LIST];
	unsigned int nr_threads;
	unsigned int runs;
	double secs;
	size_t n;
	bool wl[NR_WORKLOADS];
	bool table[NR_TABLES];
	const char *csv;
	bool quick;
	double limit_s; /* per child; 0: from the workload */
} opt;

/* Every result: [workload][thread list index][table][run]. */
static struct run_result results[NR_WORKLOADS][MAX_THREADS_LIST][NR_TABLES][MAX_RUNS];
static int status[NR_WORKLOADS][MAX_THREADS_LIST][NR_TABLES][MAX_RUNS];
enum { ST_NONE = 0, ST_OK, ST_FAILED, ST_HUNG, ST_CRASHED };

static FILE *csv;

/* For bench-plot: W3's latency histogram merged over the good runs, and
 * W4's heap series from the first good run (bench.h, struct bench_plot). */
static uint64_t w3_hist[MAX_THREADS_LIST][NR_TABLES][BENCH_HIST_BUCKETS];
static unsigned int w3_hist_runs[MAX_THREADS_LIST][NR_TABLES];
static struct bench_sample w4_series[NR_TABLES][BENCH_SERIES_MAX];
static unsigned int w4_nr_samples[NR_TABLES];

static void usage(FILE *f)
{
	fprintf(f, "usage: gcmap-bench [options]\n"
		   "  -t LIST     thread counts, e.g. 1,2 (default 2)\n"
		   "  -r N        runs per figure; the median, min and max are shown (default 5)\n"
		   "  -d SECONDS  duration of each W1/W2 throughput measurement (default 2)\n"
		   "  -w LIST     workloads: W1,W2,W3,W4,W5 (default all)\n"
		   "  -m LIST     tables: gcmap,rculfhash-auto,rculfhash-sized,rculfhash,rwlock\n"
		   "  -n N        base key count (default 1000000; W3 inserts 2N)\n"
		   "  --csv FILE  also write every figure to FILE\n"
		   "  --quick     100k keys, 0.3 s, 3 runs: under a minute\n"
		   "  --timeout S kill a measurement after S seconds (default by workload)\n"
		   "  --lookup-only TABLE N [L]  prefill N keys, do L (default N) lookups on\n"
		   "              one thread, print a checksum: for valgrind --tool=callgrind\n"
		   "              (TABLE may also be \"none\", the harness alone)\n");
}

static bool parse_list(char *arg, void (*item)(const char *name, void *ctx), void *ctx)
{
	for (char *save = NULL, *tok = strtok_r(arg, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		item(tok, ctx);
	return true;
}

static void add_threads(const char *s, void *ctx)
{
	char *end;
	long v = strtol(s, &end, 10);

	(void)ctx;
	if (*end || v < 1 || v > 256 || opt.nr_threads == MAX_THREADS_LIST) {
		fprintf(stderr, "gcmap-bench: bad thread count '%s'\n", s);
		exit(2);
	}
	opt.threads[opt.nr_threads++] = (unsigned int)v;
}

static void add_workload(const char *s, void *ctx)
{
	(void)ctx;
	for (int i = 0; i < NR_WORKLOADS; i++) {
		if (i != W4_FRESH && !strcasecmp(s, wl_names[i])) {
			opt.wl[i] = true;
			return;
		}
	}
	fprintf(stderr, "gcmap-bench: unknown workload '%s'\n", s);
	exit(2);
}

static const struct table_ops *find_table(const char *s)
{
	for (size_t i = 0; i < NR_TABLES; i++)
		if (!strcmp(s, all_tables[i]->name))
			return all_tables[i];
	if (!strcmp(s, "none"))
		return &bench_none_ops;
	return NULL;
}

static void add_table(const char *s, void *ctx)
{
	(void)ctx;
	if (!strcmp(s, "rculfhash")) {
		opt.table[T_LFHT_AUTO] = opt.table[T_LFHT_SIZED] = true;
		return;
	}
	for (size_t i = 0; i < NR_TABLES; i++) {
		if (!strcmp(s, all_tables[i]->name)) {
			opt.table[i] = true;
			return;
		}
	}
	fprintf(stderr, "gcmap-bench: unknown table '%s'\n", s);
	exit(2);
}

static size_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (*end == 'k' || *end == 'K')
		v *= 1e3, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1e6, end++;
	if (*end || v < 1 || v > 1e9) {
		fprintf(stderr, "gcmap-bench: bad count '%s'\n", s);
		exit(2);
	}
	return (size_t)v;
}

/* ---- values ---- */

static void alloc_values(size_t nr)
{
	bench_vals = malloc(nr * sizeof(*bench_vals));
	if (!bench_vals)
		bench_die("malloc", ENOMEM);
	for (size_t i = 0; i < nr; i++) {
		bench_vals[i] = malloc(sizeof(struct bench_val));
		if (!bench_vals[i])
			bench_die("malloc", ENOMEM);
		bench_vals[i]->idx = i;
	}
	bench_nr_vals = nr;
}

/* ---- one measurement in a child ---- */

static double limit_for(enum workload wl)
{
	if (opt.limit_s > 0)
		return opt.limit_s;
	switch (wl) {
	case W1:
	case W2:
		return (opt.quick ? 10.0 : 30.0) + 2 * opt.secs;
	default:
		/* --quick: a healthy 200k-insert W3 run takes under a second;
		 * 8 s keeps a stuck rculfhash-auto from taking the minute. */
		return opt.quick ? 8.0 : 45.0;
	}
}

static uint64_t progress_sum(void)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < BENCH_PROGRESS_SLOTS; i++)
		sum += __atomic_load_n(&bench_progress[i * 8], __ATOMIC_RELAXED);
	return sum;
}

static int measure(enum workload wl, const struct table_ops *ops, const struct wl_params *p,
		   struct run_result *res)
{
	double limit = limit_for(wl);
	int fds[2], st, got = 0;
	uint64_t deadline;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->buckets = -1.0;
	memset(bench_progress, 0, BENCH_PROGRESS_SLOTS * 64);
	memset(bench_plot, 0, sizeof(*bench_plot));
	if (pipe(fds))
		bench_die("pipe", errno);
	fflush(stdout);
	fflush(stderr);
	if (csv)
		fflush(csv);
	pid = fork();
	if (pid < 0)
		bench_die("fork", errno);
	if (pid == 0) {
		struct run_result r;
		const char *b = (const char *)&r;
		size_t left = sizeof(r);

		close(fds[0]);
		bench_run_workload(wl, ops, p, &r);
		while (left) {
			ssize_t w = write(fds[1], b, left);

			if (w <= 0)
				_exit(3);
			b += w;
			left -= (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	deadline = bench_now_ns() + (uint64_t)(limit * 1e9);
	for (;;) {
		uint64_t now = bench_now_ns();
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		ssize_t r;

		if (now >= deadline)
			break;
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000 + 1)) < 0 && errno != EINTR)
			bench_die("poll", errno);
		if (!pfd.revents)
			continue;
		r = read(fds[0], (char *)res + got, sizeof(*res) - (size_t)got);
		if (r <= 0)
			break;
		got += (int)r;
		if ((size_t)got == sizeof(*res))
			break;
	}
	close(fds[0]);
	if ((size_t)got != sizeof(*res)) {
		bool hung = bench_now_ns() >= deadline;
		uint64_t before = progress_sum(), after = before;

		if (hung) {
			/* Still working, or stuck? Watch it for two more seconds. */
			sleep(2);
			after = progress_sum();
		}
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		if (hung && after > before) {
			snprintf(res->note, sizeof(res->note),
				 "killed after %.1f s, still progressing (%llu ops in its last 2 "
				 "s): degraded",
				 limit, (unsigned long long)(after - before));
			return ST_HUNG;
		}
		if (hung) {
			snprintf(res->note, sizeof(res->note),
				 "killed after %.1f s, no progress in its last 2 s: hung", limit);
			return ST_HUNG;
		}
		if (WIFSIGNALED(st))
			snprintf(res->note, sizeof(res->note), "crashed: %s",
				 strsignal(WTERMSIG(st)));
		else
			snprintf(res->note, sizeof(res->note), "exited %d without a result",
				 WEXITSTATUS(st));
		return ST_CRASHED;
	}
	waitpid(pid, &st, 0);
	return res->ok ? ST_OK : ST_FAILED;
}

/* measure() for w5.c: true when the run was good. */
static bool measure_ok(enum workload wl, const struct table_ops *ops, const struct wl_params *p,
		       struct run_result *res)
{
	return measure(wl, ops, p, res) == ST_OK;
}

/* ---- statistics ---- */

struct fig {
	double med, min, max;
	unsigned int n; /* runs that gave a figure */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median, min and max of figure @vi (-1: buckets) over the good runs. */
static struct fig figure(enum workload wl, unsigned int ti, size_t tab, int vi)
{
	double v[MAX_RUNS];
	struct fig f = { NAN, NAN, NAN, 0 };

	for (unsigned int r = 0; r < opt.runs; r++) {
		const struct run_result *res = &results[wl][ti][tab][r];
		double x = vi < 0 ? res->buckets : res->v[vi];

		if (status[wl][ti][tab][r] == ST_OK && !isnan(x) && !(vi < 0 && x < 0))
			v[f.n++] = x;
	}
	if (!f.n)
		return f;
	qsort(v, f.n, sizeof(v[0]), cmp_double);
	f.min = v[0];
	f.max = v[f.n - 1];
	f.med = f.n % 2 ? v[f.n / 2] : (v[f.n / 2 - 1] + v[f.n / 2]) / 2;
	return f;
}

static unsigned int bad_runs(enum workload wl, unsigned int ti, size_t tab, int which)
{
	unsigned int n = 0;

	for (unsigned int r = 0; r < opt.runs; r++)
		n += status[wl][ti][tab][r] == which;
	return n;
}

/* For gcmap created pre-sized (GCMAP_BENCH_GROWS 0): the size it was given
 * and whether it kept it. */
static const char *presized_note(enum workload wl, unsigned int ti, size_t tab)
{
	static char buf[96];
	double init = -1, end = -1;

	for (unsigned int r = 0; r < opt.runs; r++) {
		const struct run_result *res = &results[wl][ti][tab][r];

		if (status[wl][ti][tab][r] == ST_OK) {
			init = res->buckets_initial;
			end = res->buckets > end ? res->buckets : end;
		}
	}
	if (init <= 0)
		return "(pre-sized: fixed-size, no evacuation yet)";
	if (end == init)
		snprintf(buf, sizeof(buf), "(pre-sized 2^%.0f: fixed-size, no evacuation yet)",
			 log2(init));
	else
		snprintf(buf, sizeof(buf), "(pre-sized 2^%.0f, %s to 2^%.0f)", log2(init),
			 end > init ? "grew" : "shrank", log2(end));
	return buf;
}

/* Notes for a row: failures, fixed-size gcmap, rculfhash bucket estimates
 * (a run whose estimate is under half the largest one is "degraded"). */
static void row_notes(enum workload wl, unsigned int ti, size_t tab, char *buf, size_t len)
{
	const struct table_ops *ops = all_tables[tab];
	struct fig b = figure(wl, ti, tab, -1);
	size_t used = 0;
	unsigned int hung = bad_runs(wl, ti, tab, ST_HUNG),
		     crashed = bad_runs(wl, ti, tab, ST_CRASHED),
		     failed = bad_runs(wl, ti, tab, ST_FAILED), degraded = 0;
	bool est = false;

	buf[0] = 0;
#define ADD(...)                                                                       \
	do {                                                                           \
		if (used < len)                                                        \
			used += (size_t)snprintf(buf + used, len - used, __VA_ARGS__); \
	} while (0)
	for (unsigned int r = 0; r < opt.runs; r++) {
		const struct run_result *res = &results[wl][ti][tab][r];

		est |= res->buckets_est;
		if (status[wl][ti][tab][r] == ST_OK && res->buckets >= 0 && b.n &&
		    res->buckets < b.max / 2)
			degraded++;
	}
	if (b.n) {
		if (wl == W4)
			ADD("after delete: ");
		if (b.min == b.max)
			ADD("%s%.0f buckets%s", est ? "~" : "", b.med, est ? " (est.)" : "");
		else
			ADD("%s%.0f..%.0f buckets%s", est ? "~" : "", b.min, b.max,
			    est ? " (est.)" : "");
	}
	if (ops->fixed_size)
		ADD("%s%s", used ? "; " : "", presized_note(wl, ti, tab));
	if (degraded)
		ADD("; %u DEGRADED run(s): resize left unfinished", degraded);
	if (wl == W4)
		hung += bad_runs(W4_FRESH, ti, tab, ST_HUNG);
	if (hung)
		ADD("; %u run(s) killed at the time limit (see stderr: hung or degraded)", hung);
	if (crashed || failed) {
		for (unsigned int r = 0; r < opt.runs; r++) {
			int st = status[wl][ti][tab][r];

			if (st == ST_CRASHED || st == ST_FAILED) {
				ADD("; %u failed: %s", crashed + failed,
				    results[wl][ti][tab][r].note);
				break;
			}
		}
	}
#undef ADD
	if (!strncmp(buf, "; ", 2))
		memmove(buf, buf + 2, strlen(buf + 2) + 1);
}

static void csv_row(enum workload wl, unsigned int threads, size_t tab, const char *metric,
		    struct fig f, unsigned int ti)
{
	char notes[256];

	if (!csv)
		return;
	row_notes(wl, ti, tab, notes, sizeof(notes));
	for (char *c = notes; *c; c++)
		if (*c == ',' || *c == '"')
			*c = ';';
	fprintf(csv, "%s,%u,%s,%s,%.6g,%.6g,%.6g,%u,%u,%s\n", wl_names[wl], threads,
		all_tables[tab]->name, metric, f.med, f.min, f.max, f.n, opt.runs, notes);
}

/* Keep what a good run left in bench_plot (see the w3_hist comment). */
static void keep_plot_data(enum workload wl, unsigned int ti, size_t tab)
{
	if (wl == W3) {
		for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++)
			w3_hist[ti][tab][i] += bench_plot->hist[i];
		w3_hist_runs[ti][tab]++;
	} else if (wl == W4 && !w4_nr_samples[tab]) {
		w4_nr_samples[tab] = bench_plot->nr_samples;
		memcpy(w4_series[tab], bench_plot->sample,
		       bench_plot->nr_samples * sizeof(struct bench_sample));
	}
}

/*
 * The plot rows (bench/README.md, "CSV"): one value each, in the median, min
 * and max columns alike; the metric names the x value after a colon.
 * W3 "hist_ns_le:U": inserts that took at most U ns (and more than the
 * previous row's U), summed over the runs_ok good runs; empty buckets left out.
 * W4 "heap_KIND:OPS": heap bytes after OPS puts and deletes, one run.
 */
static void csv_plot_rows(enum workload wl, unsigned int threads, unsigned int ti, size_t tab)
{
	static const char *const kinds[NR_BENCH_SAMPLE_KINDS] = {
		"fill", "delete", "refill", "filled", "deleted", "fitted", "reinserted",
	};
	const char *name = all_tables[tab]->name;

	if (!csv)
		return;
	if (wl == W3) {
		for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++) {
			uint64_t c = w3_hist[ti][tab][i];

			if (c)
				fprintf(csv, "W3,%u,%s,hist_ns_le:%llu,%llu,%llu,%llu,%u,%u,\n",
					threads, name, (unsigned long long)bench_hist_upper(i),
					(unsigned long long)c, (unsigned long long)c,
					(unsigned long long)c, w3_hist_runs[ti][tab], opt.runs);
		}
	} else if (wl == W4) {
		for (unsigned int i = 0; i < w4_nr_samples[tab]; i++) {
			const struct bench_sample *s = &w4_series[tab][i];

			fprintf(csv, "W4,1,%s,heap_%s:%llu,%.0f,%.0f,%.0f,1,%u,\n", name,
				kinds[s->kind], (unsigned long long)s->ops, s->bytes, s->bytes,
				s->bytes, opt.runs);
		}
	}
}

/* "12.3 [11.9..12.8]" into @buf. */
static const char *fmt_fig(char *buf, size_t len, struct fig f, int prec)
{
	if (!f.n)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f [%.*f..%.*f]", prec, f.med, prec, f.min, prec, f.max);
	return buf;
}

/* ---- printing ---- */

static void print_header(enum workload wl, const struct wl_params *p)
{
	printf("\n");
	switch (wl) {
	case W1:
		printf("W1 read-only: %zu keys prefilled, uniform random lookups, 90%% hits, %.1f s "
		       "per run, %u runs; Mops/s median [min..max]\n",
		       p->n, opt.secs, opt.runs);
		printf("%-3s %-16s %-26s %6s %5s %8s  %s\n", "thr", "table", "Mops/s", "hit%",
		       "cpu%", "prefill", "notes");
		break;
	case W2:
		printf("W2 mixed 90%% get / 5%% put / 5%% delete, ~%zu keys steady, %.1f s per run, %u "
		       "runs; Mops/s median [min..max]\n",
		       p->n, opt.secs, opt.runs);
		printf("%-3s %-16s %-26s %6s %5s %8s  %s\n", "thr", "table", "Mops/s", "hit%",
		       "cpu%", "prefill", "notes");
		break;
	case W3:
		printf("W3 growth: %zu distinct inserts from empty, each timed; %u runs; medians "
		       "(max: median [min..max]); latencies in us\n",
		       p->n3, opt.runs);
		printf("%-3s %-16s %-24s %5s %7s %7s %7s %8s %-26s %s\n", "thr", "table", "Mops/s",
		       "cpu%", "p50", "p99", "p99.9", "p99.99", "max", "notes");
		break;
	case W4:
		printf("W4 memory: heap bytes held by each table (not the 32-byte values), 1 thread, "
		       "%u runs, medians in MiB: %zu entries, after deleting 90%%, after "
		       "shrink-to-fit (gcmap_maintain), after re-inserting; fresh = a new table "
		       "holding the %zu kept\n",
		       opt.runs, p->n, (p->n + 9) / 10);
		printf("%-16s %9s %8s %9s %9s %9s %9s %9s %9s %9s  %s\n", "table", "filled",
		       "B/entry", "deleted", "fitted", "re-ins", "fresh", "del/frsh", "fit/frsh",
		       "self-rep", "notes");
		break;
	default:
		break;
	}
}

static void print_rows(enum workload wl, unsigned int ti, const struct wl_params *p)
{
	char a[64], b[64], notes[256];

	for (size_t tab = 0; tab < NR_TABLES; tab++) {
		if (!opt.table[tab])
			continue;
		row_notes(wl, ti, tab, notes, sizeof(notes));
		if (wl == W1 || wl == W2) {
			struct fig m = figure(wl, ti, tab, R_MOPS), h = figure(wl, ti, tab, R_HIT),
				   pf = figure(wl, ti, tab, R_PREFILL_S),
				   cpu = figure(wl, ti, tab, R_CPU);

			printf("%-3u %-16s %-26s %6.2f %5.0f %7.2fs  %s\n", p->threads,
			       all_tables[tab]->name, fmt_fig(a, sizeof(a), m, 2), h.med, cpu.med,
			       pf.med, notes);
			csv_row(wl, p->threads, tab, "Mops", m, ti);
			csv_row(wl, p->threads, tab, "hit_pct", h, ti);
			csv_row(wl, p->threads, tab, "cpu_pct", cpu, ti);
			csv_row(wl, p->threads, tab, "prefill_s", pf, ti);
		} else if (wl == W3) {
			static const char *const names[] = { "Mops",	 "p50_us",   "p99_us",
							     "p999_us",	 "p9999_us", "max_us",
							     "timer_ns", "cpu_pct" };
			struct fig f[8];

			for (int i = 0; i < 8; i++) {
				f[i] = figure(wl, ti, tab, i);
				csv_row(wl, p->threads, tab, names[i], f[i], ti);
			}
			csv_plot_rows(wl, p->threads, ti, tab);
			printf("%-3u %-16s %-24s %5.0f %7.2f %7.1f %7.1f %8.1f %-26s %s\n",
			       p->threads, all_tables[tab]->name,
			       fmt_fig(a, sizeof(a), f[R3_MOPS], 2), f[R3_CPU].med, f[R3_P50].med,
			       f[R3_P99].med, f[R3_P999].med, f[R3_P9999].med,
			       fmt_fig(b, sizeof(b), f[R3_MAX], 0), notes);
		} else if (wl == W4) {
			struct fig fill = figure(W4, ti, tab, R4_FILL),
				   per = figure(W4, ti, tab, R4_PER_ENTRY),
				   del = figure(W4, ti, tab, R4_DEL),
				   fit = figure(W4, ti, tab, R4_FIT),
				   re = figure(W4, ti, tab, R4_REINS),
				   fr = figure(W4_FRESH, ti, tab, R4_FILL),
				   self = figure(W4, ti, tab, R4_SELF_FILL);
			double mib = 1024.0 * 1024.0;

			csv_row(W4, 1, tab, "bytes_filled", fill, ti);
			csv_row(W4, 1, tab, "bytes_per_entry", per, ti);
			csv_row(W4, 1, tab, "bytes_deleted", del, ti);
			csv_row(W4, 1, tab, "bytes_shrunk_to_fit", fit, ti);
			csv_row(W4, 1, tab, "bytes_reinserted", re, ti);
			csv_row(W4, 1, tab, "bytes_fresh_kept", fr, ti);
			csv_row(W4, 1, tab, "self_reported_filled", self, ti);
			csv_row(W4, 1, tab, "self_reported_deleted",
				figure(W4, ti, tab, R4_SELF_DEL), ti);
			csv_plot_rows(wl, 1, ti, tab);
			if (self.n && self.med > 0)
				snprintf(a, sizeof(a), "%.2f", self.med / mib);
			else
				snprintf(a, sizeof(a), "-");
			char fitb[16] = "-", fitr[16] = "-";

			if (fit.n) {
				snprintf(fitb, sizeof(fitb), "%.2f", fit.med / mib);
				snprintf(fitr, sizeof(fitr), "%.2f", fit.med / fr.med);
			}
			printf("%-16s %9.2f %8.1f %9.2f %9s %9.2f %9.2f %9.2f %9s %9s  %s\n",
			       all_tables[tab]->name, fill.med / mib, per.med, del.med / mib, fitb,
			       re.med / mib, fr.med / mib, del.med / fr.med, fitr, a, notes);
		}
	}
}

/* ---- targets ---- */

static double best(enum workload wl, unsigned int ti, int vi, bool lower, bool with_rw)
{
	double b = NAN;
	size_t tabs[] = { T_LFHT_AUTO, T_LFHT_SIZED, T_RWLOCK };

	for (size_t i = 0; i < (with_rw ? 3u : 2u); i++) {
		struct fig f;

		if (!opt.table[tabs[i]])
			continue;
		f = figure(wl, ti, tabs[i], vi);
		if (f.n && (isnan(b) || (lower ? f.med < b : f.med > b)))
			b = f.med;
	}
	return b;
}

static void target(const char *what, double got, const char *rel, double want, bool higher_ok,
		   const char *extra)
{
	const char *verdict = isnan(got) || isnan(want)		      ? "n/a" :
			      (higher_ok ? got >= want : got <= want) ? "MET" :
									"MISSED";

	printf("%-44s %10.3g %-3s %-10.3g %-7s %s\n", what, got, rel, want, verdict, extra);
}

static void print_targets(void)
{
	unsigned int ti = 0;
	double g, o;
	char fixed3[100] = "", fixed4[100] = "";

	if (!GCMAP_BENCH_GROWS) {
		snprintf(fixed3, sizeof(fixed3), "gcmap %s", presized_note(W3, ti, T_GCMAP));
		snprintf(fixed4, sizeof(fixed4), "gcmap %s", presized_note(W4, 0, T_GCMAP));
	}

	for (unsigned int i = 0; i < opt.nr_threads; i++)
		if (opt.threads[i] == 2)
			ti = i;
	if (!opt.table[T_GCMAP])
		return;
	printf("\nTargets (medians, %u threads; \"best\" rculfhash = the faster/smaller of auto and "
	       "sized)\n",
	       opt.threads[ti]);
	if (opt.wl[W1]) {
		double cpu = 100;

		for (size_t tab = 0; tab < NR_TABLES; tab++)
			if (opt.table[tab] && figure(W1, ti, tab, R_CPU).med < cpu)
				cpu = figure(W1, ti, tab, R_CPU).med;
		if (cpu < 90)
			printf("WARNING: in W1 the measuring threads got only %.0f%% of %u CPUs (other "
			       "load): these are not parallel measurements\n",
			       cpu, opt.threads[ti]);
	}
	printf("%-44s %10s %-3s %-10s %-7s\n", "target", "measured", "", "goal", "verdict");
	if (opt.wl[W1]) {
		g = figure(W1, ti, T_GCMAP, R_MOPS).med;
		target("W1 lookups gcmap / best rculfhash", g / best(W1, ti, R_MOPS, false, false),
		       ">=", 2.0, true, "");
		target("W1 lookups gcmap / rwlock", g / figure(W1, ti, T_RWLOCK, R_MOPS).med,
		       ">=", 1.0, true, "");
	}
	if (opt.wl[W2]) {
		g = figure(W2, ti, T_GCMAP, R_MOPS).med;
		target("W2 mixed gcmap / best(rculfhash, rwlock)",
		       g / best(W2, ti, R_MOPS, false, true), ">=", 1.5, true, "");
	}
	if (opt.wl[W3]) {
		g = figure(W3, ti, T_GCMAP, R3_MAX).med;
		target("W3 max latency us, vs best rculfhash", g,
		       "<=", best(W3, ti, R3_MAX, true, false), false, fixed3);
		target("W3 max latency us, vs rwlock / 20", g,
		       "<=", figure(W3, ti, T_RWLOCK, R3_MAX).med / 20, false, fixed3);
		target("W3 p99.99 us, vs best rculfhash", figure(W3, ti, T_GCMAP, R3_P9999).med,
		       "<=", best(W3, ti, R3_P9999, true, false), false, fixed3);
		g = figure(W3, ti, T_GCMAP, R3_MOPS).med;
		target("W3 inserts gcmap / best rculfhash", g / best(W3, ti, R3_MOPS, false, false),
		       ">=", 1.5, true, fixed3);
	}
	if (opt.wl[W4]) {
		g = figure(W4, 0, T_GCMAP, R4_FILL).med;
		target("W4 bytes at N gcmap / best rculfhash",
		       g / best(W4, 0, R4_FILL, true, false), "<=", 0.6, false, fixed4);
		target("W4 bytes per entry at N", figure(W4, 0, T_GCMAP, R4_PER_ENTRY).med,
		       "<=", 42, false, fixed4);
		o = figure(W4, 0, T_GCMAP, R4_DEL).med;
		target("W4 after delete / fresh gcmap",
		       o / figure(W4_FRESH, 0, T_GCMAP, R4_FILL).med, "<=", 2.2, false, fixed4);
		target("W4 after shrink-to-fit / fresh gcmap",
		       figure(W4, 0, T_GCMAP, R4_FIT).med /
			       figure(W4_FRESH, 0, T_GCMAP, R4_FILL).med,
		       "<=", 1.3, false, fixed4);
		target("W4 after delete gcmap / best rculfhash",
		       o / best(W4, 0, R4_DEL, true, false), "<=", 1.0, false, fixed4);
	}
	if (opt.wl[W5])
		bench_w5_targets(target);
	printf("%-44s %10s %-3s %-10s %-7s %s\n", "W1 instructions per lookup (callgrind)", "-",
	       "<=", "rwlock", "n/a", "gcmap-bench --lookup-only, see bench/README.md");
}

/* ---- main ---- */

static void run_all(void)
{
	struct wl_params p = { .n = opt.n, .n3 = 2 * opt.n, .secs = opt.secs };
	enum workload order[] = { W1, W2, W3, W4 };

	for (size_t oi = 0; oi < sizeof(order) / sizeof(order[0]); oi++) {
		enum workload wl = order[oi];
		unsigned int nr_ti = wl == W4 ? 1 : opt.nr_threads;

		if (!opt.wl[wl])
			continue;
		for (unsigned int ti = 0; ti < nr_ti; ti++) {
			p.threads = wl == W4 ? 1 : opt.threads[ti];
			for (unsigned int r = 0; r < opt.runs; r++) {
				p.run = r;
				for (size_t tab = 0; tab < NR_TABLES; tab++) {
					enum workload sub[2] = { wl, W4_FRESH };

					if (!opt.table[tab])
						continue;
					for (int s = 0; s < (wl == W4 ? 2 : 1); s++) {
						struct run_result *res =
							&results[sub[s]][ti][tab][r];
						int st = measure(sub[s], all_tables[tab], &p, res);

						status[sub[s]][ti][tab][r] = st;
						if (st == ST_OK)
							keep_plot_data(sub[s], ti, tab);
						fprintf(stderr,
							"  %s t=%u run %u/%u %-16s %s%s%s\n",
							wl_names[sub[s]], p.threads, r + 1,
							opt.runs, all_tables[tab]->name,
							st == ST_OK ? "ok" : "NOT OK",
							res->note[0] ? ": " : "", res->note);
					}
				}
			}
			if (ti == 0)
				print_header(wl, &p);
			print_rows(wl, ti, &p);
			fflush(stdout);
		}
	}
	if (opt.wl[W5] && opt.table[T_GCMAP]) {
		p.threads = 1;
		bench_w5_drive(&p, opt.runs, measure_ok, csv);
	} else if (opt.wl[W5]) {
		printf("\nW5 collector: gcmap only, and -m left it out\n");
	}
}

static double loadavg(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double load = -1;

	if (f) {
		if (fscanf(f, "%lf", &load) != 1)
			load = -1;
		fclose(f);
	}
	return load;
}

/* Say so when the figures cannot be representative. */
static void warn_build(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	printf("WARNING: built with a sanitizer: figures are not representative\n");
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
	printf("WARNING: built with a sanitizer: figures are not representative\n");
#endif
#endif
#ifdef GCMAP_DEBUG
	printf("WARNING: gcmap configured with --enable-debug: figures are not representative\n");
#endif
#ifndef __OPTIMIZE__
	printf("WARNING: built without optimisation: figures are not representative\n");
#endif
	if (loadavg() > 0.5)
		printf("WARNING: load average %.2f at start: other work shares the CPUs, figures "
		       "will be noisy\n",
		       loadavg());
}

static void describe_machine(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256], model[200] = "unknown";

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *c = strchr(line, ':');

			if (!strncmp(line, "model name", 10) && c) {
				snprintf(model, sizeof(model), "%s", c + 2);
				model[strcspn(model, "\n")] = 0;
				break;
			}
		}
		fclose(f);
	}
	printf("gcmap-bench: %ld CPUs (%s); %zu keys; runs %u; %.1f s per throughput run; "
	       "threads",
	       sysconf(_SC_NPROCESSORS_ONLN), model, opt.n, opt.runs, opt.secs);
	for (unsigned int i = 0; i < opt.nr_threads; i++)
		printf("%s%u", i ? "," : " ", opt.threads[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "csv", required_argument, NULL, 'c' },
		{ "quick", no_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "lookup-only", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool any_wl = false, any_tab = false, lookup_only = false, got_r = false, got_d = false,
	     got_n = false;
	int c;

	if (argc > 1 && !strcmp(argv[1], "--w5-child"))
		return bench_w5_child_main(argc, argv); /* run by w5.c, not by users */
	opt.runs = 5;
	opt.secs = 2.0;
	opt.n = 1000000;
	while ((c = getopt_long(argc, argv, "t:r:d:w:m:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			opt.nr_threads = 0;
			parse_list(optarg, add_threads, NULL);
			break;
		case 'r':
			opt.runs = (unsigned int)atoi(optarg);
			got_r = true;
			if (opt.runs < 1 || opt.runs > MAX_RUNS) {
				fprintf(stderr, "gcmap-bench: -r must be 1..%d\n", MAX_RUNS);
				return 2;
			}
			break;
		case 'd':
			opt.secs = atof(optarg);
			got_d = true;
			if (!(opt.secs > 0 && opt.secs < 3600)) {
				fprintf(stderr, "gcmap-bench: bad -d\n");
				return 2;
			}
			break;
		case 'w':
			any_wl = parse_list(optarg, add_workload, NULL);
			break;
		case 'm':
			any_tab = parse_list(optarg, add_table, NULL);
			break;
		case 'n':
			opt.n = parse_size(optarg);
			got_n = true;
			break;
		case 'c':
			opt.csv = optarg;
			break;
		case 'q':
			opt.quick = true;
			break;
		case 'T':
			opt.limit_s = atof(optarg);
			break;
		case 'L':
			lookup_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (lookup_only) {
		const struct table_ops *ops;
		size_t n, lookups;

		if (argc - optind < 2 || argc - optind > 3 || !(ops = find_table(argv[optind]))) {
			usage(stderr);
			return 2;
		}
		n = parse_size(argv[optind + 1]);
		lookups = argc - optind == 3 ? (size_t)strtoull(argv[optind + 2], NULL, 10) : n;
		alloc_values(bench_slice_len(n, 1));
		return bench_lookup_only(ops, n, lookups);
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (opt.quick) {
		opt.runs = got_r ? opt.runs : 3;
		opt.secs = got_d ? opt.secs : 0.3;
		opt.n = got_n ? opt.n : 100000;
	}
	if (!opt.nr_threads)
		opt.threads[opt.nr_threads++] = 2;
	for (int i = 0; i < NR_WORKLOADS; i++)
		opt.wl[i] |= !any_wl && i != W4_FRESH;
	for (size_t i = 0; i < NR_TABLES; i++)
		opt.table[i] |= !any_tab;

	size_t nr_vals = 2 * opt.n;

	for (unsigned int i = 0; i < opt.nr_threads; i++) {
		size_t u = bench_slice_len(opt.n, opt.threads[i]) * opt.threads[i];

		if (u > nr_vals)
			nr_vals = u;
	}
	alloc_values(nr_vals);
	bench_progress = mmap(NULL, BENCH_PROGRESS_SLOTS * 64, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (bench_progress == MAP_FAILED)
		bench_die("mmap", errno);
	bench_plot = mmap(NULL, sizeof(*bench_plot), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (bench_plot == MAP_FAILED)
		bench_die("mmap", errno);
	if (opt.csv) {
		csv = fopen(opt.csv, "w");
		if (!csv)
			bench_die(opt.csv, errno);
		fprintf(csv, "workload,threads,table,metric,median,min,max,runs_ok,runs,notes\n");
	}
	describe_machine();
	warn_build();
	run_all();
	print_targets();
	printf("\nload average at the end: %.2f\n", loadavg());
	if (csv && fclose(csv))
		bench_die(opt.csv, errno);
	return 0;
}
