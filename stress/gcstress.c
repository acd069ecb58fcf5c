/*
 * gcstress.c - the long collector stress (make stress): writers move managed
 * objects between keys of attached maps that grow and shrink while cycles
 * run back to back (examples/gcstress_impl.h has the design). Prints its
 * seed and totals; exits 1 on a violation or if marking did not overlap
 * moves. --no-barrier --expect-violation is the negative control: it must
 * report a finalized object handed out by a map, and then exits 0.
 */
#include "gcstress_impl.h"

#include <getopt.h>
#include <inttypes.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define GS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GS_ASAN 1
#endif
#endif
#ifndef GS_ASAN
#define GS_ASAN 0
#endif

struct cli {
	struct gcs_opts o;
	unsigned long runs;
	bool expect_violation;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gcstress [options]\n"
		"  -s SEED            seed (default: from the clock)\n"
		"  -d SECONDS         length of each run (default 5; the longest run with\n"
		"                     --expect-violation, which stops at the first one)\n"
		"  -c CYCLES          run on past SECONDS until this many cycles completed\n"
		"                     (default 3; at most 4 x SECONDS + 60 s in all)\n"
		"  -r RUNS            runs (default 1), seeds SEED, SEED+1, ...\n"
		"  -w WRITERS         writer threads (default 2)\n"
		"  -R READERS         reader threads (default 1)\n"
		"  -m MAPS            attached maps, 2..%d (default 2)\n"
		"  -k OBJECTS         objects per writer (default 1024, TSan 256)\n"
		"  -b BUDGET          gcmap_gc_step() budget (default 16, TSan 4)\n"
		"  -C N               re-register the object in 1 move of N (default 64; 0: never)\n"
		"  --no-barrier       GCMAP_GC_F_UNSAFE_NO_BARRIER (the negative control)\n"
		"  --expect-violation stop each run at its first violation; exit 0 only if\n"
		"                     every run found one\n"
		"  --build-info       print the sanitizer this was built with (tsan, asan, none)\n",
		GCS_MAX_MAPS);
}

static unsigned long num(const char *s, const char *what, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || v < min || v > max) {
		fprintf(stderr, "gcstress: bad %s '%s' (%lu..%lu)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static void parse(int argc, char **argv, struct cli *cl)
{
	enum { O_NOBARRIER = 256, O_EXPECT, O_INFO };
	static const struct option lo[] = {
		{ "no-barrier", no_argument, NULL, O_NOBARRIER },
		{ "expect-violation", no_argument, NULL, O_EXPECT },
		{ "build-info", no_argument, NULL, O_INFO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool seeded = false;
	int c;

	memset(cl, 0, sizeof(*cl));
	gcs_default_opts(&cl->o);
	cl->o.secs = 5;
	cl->o.churn = 64; /* registration races with the sweep (found a bug) */
	cl->runs = 1;
	while ((c = getopt_long(argc, argv, "s:d:c:r:w:R:m:k:b:C:h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			cl->o.seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'd':
			cl->o.secs = strtod(optarg, NULL);
			break;
		case 'c':
			cl->o.min_cycles = num(optarg, "cycle count", 0, 1000000000);
			break;
		case 'r':
			cl->runs = num(optarg, "run count", 1, 1000000);
			break;
		case 'w':
			cl->o.writers =
				(unsigned int)num(optarg, "writer count", 1, GCS_MAX_THREADS);
			break;
		case 'R':
			cl->o.readers =
				(unsigned int)num(optarg, "reader count", 0, GCS_MAX_THREADS);
			break;
		case 'm':
			cl->o.maps = (unsigned int)num(optarg, "map count", 2, GCS_MAX_MAPS);
			break;
		case 'k':
			cl->o.objects = (unsigned int)num(optarg, "object count", 2, 1u << 24);
			break;
		case 'C':
			cl->o.churn = (unsigned int)num(optarg, "churn period", 0, 1u << 30);
			break;
		case 'b':
			cl->o.budget = (unsigned int)num(optarg, "budget", 1, 1u << 30);
			break;
		case O_NOBARRIER:
			cl->o.no_barrier = true;
			break;
		case O_EXPECT:
			cl->expect_violation = true;
			break;
		case O_INFO:
			printf("%s\n", GCS_TSAN ? "tsan" : GS_ASAN ? "asan" : "none");
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc || !(cl->o.secs > 0)) {
		usage(stderr);
		exit(2);
	}
	cl->o.stop_on_violation = cl->expect_violation;
	if (cl->expect_violation)
		cl->o.max_secs = cl->o.secs;
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		cl->o.seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
			     ((uint64_t)getpid() << 32);
	}
}

int main(int argc, char **argv)
{
	struct cli cl;
	unsigned long bad_runs = 0, caught = 0;
	int err;

	parse(argc, argv, &cl);
	printf("gcstress: seed %" PRIu64 ", %lu run(s) of %s%.1f s, %u writers, %u readers, "
	       "%u maps, %u objects per writer, step budget %u, churn %u, barrier %s%s\n",
	       cl.o.seed, cl.runs, cl.expect_violation ? "at most " : "", cl.o.secs, cl.o.writers,
	       cl.o.readers, cl.o.maps, cl.o.objects, cl.o.budget, cl.o.churn,
	       cl.o.no_barrier ? "OFF (negative control)" : "on", GCS_TSAN ? ", TSan build" : "");
	fflush(stdout);
	err = gcmap_thread_register();
	if (err) {
		fprintf(stderr, "gcstress: gcmap_thread_register: %s\n", gcmap_strerror(err));
		return 2;
	}
	for (unsigned long i = 0; i < cl.runs; i++) {
		struct gcs_opts o = cl.o;
		struct gcs_result r;
		char label[64];

		o.seed = cl.o.seed + i;
		err = gcs_run(&o, &r);
		if (err) {
			fprintf(stderr, "gcstress: cannot run: %s\n", gcmap_strerror(err));
			return 2;
		}
		snprintf(label, sizeof(label), "gcstress: run %lu", i + 1);
		gcs_print(stdout, label, &o, &r);
		fflush(stdout);
		if (cl.expect_violation) {
			if (r.violations && !r.errors)
				caught++;
			else
				bad_runs++;
			continue;
		}
		if (gcs_failures(&r) || !r.cycles || !r.moves_marking || !r.grows || !r.shrinks) {
			if (!gcs_failures(&r))
				printf("gcstress: no overlap: no cycle, no move while marking, or "
				       "the maps did not grow and shrink\n");
			bad_runs++;
		}
	}
	gcmap_barrier();
	gcmap_thread_unregister();
	if (cl.expect_violation) {
		printf("gcstress: negative control %s: violations reported in %lu of %lu runs\n",
		       bad_runs ? "FAILED" : "caught", caught, cl.runs);
		return bad_runs ? 1 : 0;
	}
	if (bad_runs) {
		printf("gcstress: FAILED in %lu of %lu runs (seed %" PRIu64 ")\n", bad_runs,
		       cl.runs, cl.o.seed);
		return 1;
	}
	printf("gcstress: passed (%lu runs)\n", cl.runs);
	return 0;
}
