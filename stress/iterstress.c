/*
 * iterstress.c - the long iteration stress (make stress): writers fill and
 * drain their keys in waves so the map grows and shrinks, iterators walk it
 * and check the iteration contract (stress/iterstress.h has the design).
 * Prints its seed and totals; exits 1 on a violation or if the resizes and
 * grace periods did not overlap live walks. --no-filter --expect-violation
 * is the negative control: it must report a duplicate, and then exits 0.
 */
#include "iterstress.h"

#include <getopt.h>
#include <inttypes.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define IS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IS_TSAN 1
#endif
#endif
#ifndef IS_TSAN
#define IS_TSAN 0
#endif

enum is_kinds { KINDS_BOTH, KINDS_U64, KINDS_BYTES };

struct cli {
	struct is_opts o;
	enum is_kinds kinds;
	unsigned long runs; /* runs per key kind */
	bool expect_violation;
	bool seeded;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: iterstress [options]\n"
		"  -s SEED            seed (default: from the clock)\n"
		"  -d SECONDS         length of each run (default 5)\n"
		"  -r RUNS            runs per key kind (default 1)\n"
		"  -w WRITERS         writer threads, at least 2 (default 2)\n"
		"  -i ITERATORS       iterator threads (default 2)\n"
		"  -k KEYS            keys the writers fill and drain (default 16384, TSan 2048)\n"
		"  -S KEYS            keys that stay put (default 1024, TSan 256)\n"
		"  -y N               an iterator yields every N entries (default 4)\n"
		"  --u64, --bytes     one key kind only (default: both)\n"
		"  --no-filter        GCMAP_TEST_ITER_NO_FILTER (the negative control)\n"
		"  --expect-violation stop at the first violation and exit 0; exit 1 if\n"
		"                     none was found\n");
}

static unsigned long num(const char *s, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (!*s || *end) {
		fprintf(stderr, "iterstress: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static void parse(int argc, char **argv, struct cli *cl)
{
	enum { O_U64 = 256, O_BYTES, O_NOFILTER, O_EXPECT };
	static const struct option lo[] = {
		{ "u64", no_argument, NULL, O_U64 },
		{ "bytes", no_argument, NULL, O_BYTES },
		{ "no-filter", no_argument, NULL, O_NOFILTER },
		{ "expect-violation", no_argument, NULL, O_EXPECT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(cl, 0, sizeof(*cl));
	cl->o.writers = 2;
	cl->o.iterators = 2;
	cl->o.churn_keys = IS_TSAN ? 2048 : 16384;
	cl->o.stable_keys = IS_TSAN ? 256 : 1024;
	cl->o.yield_every = 4;
	cl->o.min_secs = 5;
	cl->o.min_iterations = 3;
	cl->runs = 1;
	while ((c = getopt_long(argc, argv, "s:d:r:w:i:k:S:y:h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			cl->o.seed = strtoull(optarg, NULL, 0);
			cl->seeded = true;
			break;
		case 'd':
			cl->o.min_secs = strtod(optarg, NULL);
			break;
		case 'r':
			cl->runs = num(optarg, "run count");
			break;
		case 'w':
			cl->o.writers = (unsigned int)num(optarg, "writer count");
			break;
		case 'i':
			cl->o.iterators = (unsigned int)num(optarg, "iterator count");
			break;
		case 'k':
			cl->o.churn_keys = (unsigned int)num(optarg, "key count");
			break;
		case 'S':
			cl->o.stable_keys = (unsigned int)num(optarg, "key count");
			break;
		case 'y':
			cl->o.yield_every = (unsigned int)num(optarg, "yield period");
			break;
		case O_U64:
			cl->kinds = KINDS_U64;
			break;
		case O_BYTES:
			cl->kinds = KINDS_BYTES;
			break;
		case O_NOFILTER:
			cl->o.no_filter = true;
			break;
		case O_EXPECT:
			cl->expect_violation = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc || cl->o.writers < 2 || cl->o.iterators < 1 ||
	    cl->o.churn_keys < cl->o.writers || cl->o.min_secs <= 0 || !cl->runs ||
	    (uint64_t)cl->o.churn_keys + cl->o.stable_keys >= (1ull << 31)) {
		usage(stderr);
		exit(2);
	}
	/* Resizes must overlap walks; give a slow (sanitized) build room. */
	cl->o.max_secs = cl->o.min_secs * 4 + 60;
	cl->o.stop_on_violation = cl->expect_violation;
	if (!cl->seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		cl->o.seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
			     ((uint64_t)getpid() << 32);
	}
}

int main(int argc, char **argv)
{
	struct cli cl;
	unsigned long bad_runs = 0, caught = 0, runs = 0;
	int err;

	parse(argc, argv, &cl);
	printf("iterstress: seed %" PRIu64 ", %lu run(s) of %.1f s per key kind, %u writers, "
	       "%u iterators, %u churn + %u stable keys, yield every %u%s%s\n",
	       cl.o.seed, cl.runs, cl.o.min_secs, cl.o.writers, cl.o.iterators, cl.o.churn_keys,
	       cl.o.stable_keys, cl.o.yield_every,
	       cl.o.no_filter ? ", ITER_NO_FILTER (negative control)" : "",
	       IS_TSAN ? ", TSan build" : "");
	fflush(stdout);
	err = gcmap_thread_register();
	if (err) {
		fprintf(stderr, "iterstress: gcmap_thread_register: %s\n", gcmap_strerror(err));
		return 2;
	}
	for (unsigned long i = 0; i < cl.runs; i++) {
		for (int k = 0; k < 2; k++) {
			struct is_opts o = cl.o;
			struct is_result r;
			bool overlap;

			if ((k == 0 && cl.kinds == KINDS_BYTES) ||
			    (k == 1 && cl.kinds == KINDS_U64))
				continue;
			o.kind = k ? GCMAP_KEY_BYTES : GCMAP_KEY_U64;
			o.seed = cl.o.seed + runs;
			err = is_run(&o, &r);
			if (err) {
				fprintf(stderr, "iterstress: cannot run: %s\n",
					gcmap_strerror(err));
				return 2;
			}
			runs++;
			overlap = r.grows_live && r.shrinks_live && r.gp_live &&
				  r.iterations >= o.min_iterations;
			printf("iterstress: %s keys, seed %" PRIu64
			       ": %.1f s, %lu walks (%lu entries), "
			       "%lu waves, %lu writes; grows %lu, shrinks %lu, rebuilds %lu; during "
			       "walks: %lu grows, %lu shrinks, %lu walks saw a grace period (of "
			       "%lu); violations: %lu duplicates, %lu missed, %lu bad values, %lu "
			       "errors\n",
			       o.kind == GCMAP_KEY_U64 ? "u64" : "byte-string", o.seed, r.secs,
			       r.iterations, r.entries, r.waves, r.writes, r.grows, r.shrinks,
			       r.rebuilds, r.grows_live, r.shrinks_live, r.gp_live, r.gps, r.dups,
			       r.missed, r.bad_values, r.errors);
			if (is_violations(&r))
				printf("iterstress: first violation: %s\n", r.first);
			fflush(stdout);
			if (cl.expect_violation) {
				if (r.dups)
					caught++;
				if (r.dups && r.errors == 0)
					continue;
				bad_runs++;
				continue;
			}
			if (is_violations(&r) || !overlap) {
				if (!overlap)
					printf("iterstress: no overlap: walks, grows, shrinks or grace "
					       "periods did not overlap live walks\n");
				bad_runs++;
			}
		}
	}
	gcmap_barrier();
	gcmap_thread_unregister();
	if (cl.expect_violation) {
		printf("iterstress: negative control %s: duplicates reported in %lu of %lu runs\n",
		       bad_runs ? "FAILED" : "caught", caught, runs);
		return bad_runs ? 1 : 0;
	}
	if (bad_runs) {
		printf("iterstress: FAILED in %lu of %lu runs (seed %" PRIu64 ")\n", bad_runs, runs,
		       cl.o.seed);
		return 1;
	}
	printf("iterstress: passed (%lu runs)\n", runs);
	return 0;
}
