/*
 * sessiond-load - drive examples/sessiond on 127.0.0.1: C client threads,
 * one connection each, send a mix of GET/SET/TOUCH/DEL for a bounded time
 * and check every reply; prints throughput and latency percentiles. With
 * --churn it then SETs many short-lived sessions and reports the server's
 * memory before, at the peak, and after they expired and were collected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define REPLY_MAX 8192
#define SUB 32 /* histogram sub-buckets per power of two: about 3% precision */
#define NR_BUCKETS (64 * SUB)

enum op { OP_GET, OP_SET, OP_TOUCH, OP_DEL, NR_OPS };
static const char *const op_names[NR_OPS] = { "GET", "SET", "TOUCH", "DEL" };

struct client {
	int fd;
	size_t len, off; /* unread reply bytes are buf[off..len) */
	char buf[REPLY_MAX];
};

struct loader {
	pthread_t tid;
	unsigned int id;
	uint64_t seed;
	struct client cl;
	unsigned long requests, errors, ops[NR_OPS];
	uint64_t max_ns;
	char first_error[160];
	uint64_t hist[NR_BUCKETS];
};

static struct {
	unsigned int port, conns, keys, churn_keys, churn_ttl;
	double seconds, settle;
	bool churn;
	uint64_t deadline_ns;
} cfg = {
	.conns = 4, .keys = 1000, .churn_keys = 20000, .churn_ttl = 100, .seconds = 2, .settle = 10
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: cheap and good enough for a request mix. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* ---------------------------------------------------------------------- */
/* Latency histogram: log-linear, SUB buckets per power of two             */

static unsigned int bucket_of(uint64_t ns)
{
	unsigned int msb, shift;

	if (ns < 2 * SUB)
		return (unsigned int)ns;
	msb = 63u - (unsigned int)__builtin_clzll(ns);
	shift = msb - 5; /* SUB == 1 << 5 */
	return (shift + 1) * SUB + (unsigned int)((ns >> shift) & (SUB - 1));
}

/* The largest value that falls into bucket @b. */
static uint64_t bucket_top(unsigned int b)
{
	unsigned int shift;

	if (b < 2 * SUB)
		return b;
	shift = b / SUB - 1;
	return ((uint64_t)(SUB + b % SUB + 1) << shift) - 1;
}

static uint64_t percentile(const uint64_t *hist, uint64_t total, double p)
{
	uint64_t want = (uint64_t)((double)total * p), seen = 0;

	if (want == 0)
		want = 1;
	for (unsigned int b = 0; b < NR_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= want)
			return bucket_top(b);
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* A connection                                                           */

static int client_open(struct client *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port) };
	struct timeval tv = { .tv_sec = 10 };
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1 only */
	c->len = c->off = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A server that stops answering fails the run instead of hanging it. */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(c->fd);
		c->fd = -1;
		return err;
	}
	return 0;
}

/*
 * Send @req (one line, newline included) and read one reply line into
 * @reply (NUL-terminated, newline removed). Return its length, or -1 on an
 * I/O error, a timeout, or a reply longer than @cap.
 */
static int client_call(struct client *c, const char *req, size_t len, char *reply, size_t cap)
{
	for (size_t sent = 0; sent < len;) {
		ssize_t n = send(c->fd, req + sent, len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		sent += (size_t)n;
	}
	for (;;) {
		char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);
		ssize_t n;

		if (nl) {
			size_t rlen = (size_t)(nl - (c->buf + c->off));

			if (rlen >= cap)
				return -1;
			memcpy(reply, c->buf + c->off, rlen);
			reply[rlen] = '\0';
			c->off += rlen + 1;
			return (int)rlen;
		}
		if (c->off > 0) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

static void note_error(struct loader *l, const char *req, const char *reply)
{
	if (l->errors++ == 0)
		snprintf(l->first_error, sizeof(l->first_error), "'%.*s' -> '%.60s'",
			 (int)strcspn(req, "\n") > 60 ? 60 : (int)strcspn(req, "\n"), req, reply);
}

/* ---------------------------------------------------------------------- */
/* The mixed phase                                                        */

static bool reply_ok(enum op op, const char *r)
{
	switch (op) {
	case OP_GET:
		return !strcmp(r, "NOT_FOUND") || !strncmp(r, "VALUE v", 7);
	case OP_SET:
		return !strcmp(r, "OK");
	case OP_TOUCH:
		return !strcmp(r, "TOUCHED") || !strcmp(r, "NOT_FOUND");
	case OP_DEL:
	default:
		return !strcmp(r, "DELETED") || !strcmp(r, "NOT_FOUND");
	}
}

/* 60% GET, 25% SET (half of them with a ttl of 0.2..5 s), 8% TOUCH, 7% DEL. */
static int make_request(struct loader *l, enum op *op, char *req, size_t cap)
{
	uint64_t r = rnd(&l->seed);
	unsigned int pick = (unsigned int)(r % 100), key = (unsigned int)((r >> 8) % cfg.keys);
	unsigned int ttl = 200 + (unsigned int)((r >> 40) % 4800);

	if (pick < 60) {
		*op = OP_GET;
		return snprintf(req, cap, "GET k%u\n", key);
	}
	if (pick < 85) {
		*op = OP_SET;
		if (r & (1ull << 63))
			return snprintf(req, cap, "SET k%u v%u.%lu.0123456789abcdef0123456789 %u\n",
					key, l->id, l->requests, ttl);
		return snprintf(req, cap, "SET k%u v%u.%lu.0123456789abcdef0123456789\n", key,
				l->id, l->requests);
	}
	if (pick < 93) {
		*op = OP_TOUCH;
		return snprintf(req, cap, "TOUCH k%u %u\n", key, ttl);
	}
	*op = OP_DEL;
	return snprintf(req, cap, "DEL k%u\n", key);
}

static void *mixed_main(void *arg)
{
	struct loader *l = arg;
	char req[256], reply[REPLY_MAX];

	for (;;) {
		uint64_t t0 = now_ns(), t1;
		enum op op;
		int len = make_request(l, &op, req, sizeof(req));

		if (t0 >= cfg.deadline_ns)
			break;
		if (client_call(&l->cl, req, (size_t)len, reply, sizeof(reply)) < 0) {
			note_error(l, req, "(connection failed)");
			break;
		}
		t1 = now_ns();
		l->hist[bucket_of(t1 - t0)]++;
		if (t1 - t0 > l->max_ns)
			l->max_ns = t1 - t0;
		l->requests++;
		l->ops[op]++;
		if (!reply_ok(op, reply))
			note_error(l, req, reply);
	}
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* The churn phase                                                        */

static void *churn_main(void *arg)
{
	struct loader *l = arg;
	char req[256], reply[REPLY_MAX];
	unsigned int n = cfg.churn_keys / cfg.conns + (l->id < cfg.churn_keys % cfg.conns);

	for (unsigned int i = 0; i < n; i++) {
		int len = snprintf(req, sizeof(req), "SET churn.%u.%u c.0123456789abcdef %u\n",
				   l->id, i, cfg.churn_ttl);

		if (client_call(&l->cl, req, (size_t)len, reply, sizeof(reply)) < 0) {
			note_error(l, req, "(connection failed)");
			break;
		}
		if (strcmp(reply, "OK"))
			note_error(l, req, reply);
	}
	return NULL;
}

/* The number after " @name=" in a STATS reply, or -1. */
static long stat_of(const char *stats, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = stats; (p = strstr(p, name)); p += len)
		if ((p == stats || p[-1] == ' ') && p[len] == '=')
			return strtol(p + len + 1, NULL, 10);
	return -1;
}

static int get_stats(struct client *c, char *out, size_t cap)
{
	if (client_call(c, "STATS\n", 6, out, cap) < 0 || strncmp(out, "STATS ", 6)) {
		fprintf(stderr, "sessiond-load: STATS failed\n");
		return -1;
	}
	return 0;
}

static void run_threads(struct loader *ls, void *(*fn)(void *))
{
	for (unsigned int i = 0; i < cfg.conns; i++)
		if (pthread_create(&ls[i].tid, NULL, fn, &ls[i])) {
			fprintf(stderr, "sessiond-load: pthread_create failed\n");
			exit(1);
		}
	for (unsigned int i = 0; i < cfg.conns; i++)
		pthread_join(ls[i].tid, NULL);
}

/* SET churn_keys sessions with a short ttl, wait until they expired and were
 * finalized, and print the server's memory before, at the peak and after. */
static int churn(struct loader *ls, struct client *ctl)
{
	static const char *const rows[] = { "sessions",	 "session_bytes", "resources",
					    "map_bytes", "map_buckets",	  "rss_kb",
					    "finalized", "gc_cycles" };
	char before[REPLY_MAX], peak[REPLY_MAX], after[REPLY_MAX];
	unsigned long errors = 0;
	uint64_t t0, t1, t2;
	bool settled = false;

	if (get_stats(ctl, before, sizeof(before)))
		return -1;
	t0 = now_ns();
	run_threads(ls, churn_main);
	t1 = now_ns();
	for (unsigned int i = 0; i < cfg.conns; i++)
		errors += ls[i].errors;
	if (get_stats(ctl, peak, sizeof(peak)))
		return -1;
	printf("churn: %u SETs with ttl %u ms in %.2f s, %lu errors\n", cfg.churn_keys,
	       cfg.churn_ttl, (double)(t1 - t0) / 1e9, errors);
	/* Settled: at least that many more sessions expired, every removed
	 * session was finalized, and the memory freed after a grace period
	 * (session memory, the map's key copies and old tables) was freed. */
	while (!settled && (double)(now_ns() - t1) / 1e9 < cfg.settle) {
		usleep(50000);
		if (get_stats(ctl, after, sizeof(after)))
			return -1;
		settled = stat_of(after, "expired") - stat_of(before, "expired") >=
				  (long)cfg.churn_keys &&
			  stat_of(after, "garbage") == 0 && stat_of(after, "gc_pending") == 0 &&
			  stat_of(after, "free_pending_bytes") == 0 &&
			  stat_of(after, "map_pending_bytes") == 0;
	}
	t2 = now_ns();
	printf("churn: %s after %.2f s\n", settled ? "expired and finalized" : "NOT settled",
	       (double)(t2 - t1) / 1e9);
	printf("  %-14s %12s %12s %12s\n", "server", "before", "peak", "after");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		printf("  %-14s %12ld %12ld %12ld\n", rows[i], stat_of(before, rows[i]),
		       stat_of(peak, rows[i]), stat_of(after, rows[i]));
	return settled && errors == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sessiond-load --port N [--conns C] [--seconds S] [--keys K]\n"
		"                     [--churn] [--churn-keys M] [--churn-ttl MS] [--settle S]\n"
		"  --port N        the server's port on 127.0.0.1\n"
		"  --conns C       client threads, one connection each (1..%d, default 4)\n"
		"  --seconds S     length of the mixed phase (default 2)\n"
		"  --keys K        key space of the mixed phase (default 1000)\n"
		"  --churn         then SET M short-lived sessions and report the server's\n"
		"                  memory before, at the peak and after they were collected\n"
		"  --churn-keys M  (default 20000)   --churn-ttl MS (default 100)\n"
		"  --settle S      how long to wait for the churn to be collected (default 10)\n",
		MAX_CONNS);
}

static double parse_num(const char *opt, const char *s, double min, double max)
{
	char *end;
	double v = s ? strtod(s, &end) : 0;

	if (!s || end == s || *end || !(v >= min && v <= max)) {
		fprintf(stderr, "sessiond-load: %s needs a number %g..%g\n", opt, min, max);
		usage(stderr);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static uint64_t hist[NR_BUCKETS];
	struct loader *ls;
	struct client ctl;
	unsigned long requests = 0, errors = 0, ops[NR_OPS] = { 0 };
	uint64_t max_ns = 0, t0;
	double secs;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--churn")) {
			cfg.churn = true;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		i++; /* the rest take a value */
		if (!strcmp(a, "--port"))
			cfg.port = (unsigned int)parse_num(a, v, 1, 65535);
		else if (!strcmp(a, "--conns"))
			cfg.conns = (unsigned int)parse_num(a, v, 1, MAX_CONNS);
		else if (!strcmp(a, "--seconds"))
			cfg.seconds = parse_num(a, v, 0.01, 3600);
		else if (!strcmp(a, "--keys"))
			cfg.keys = (unsigned int)parse_num(a, v, 1, 1e8);
		else if (!strcmp(a, "--churn-keys"))
			cfg.churn_keys = (unsigned int)parse_num(a, v, 1, 1e8);
		else if (!strcmp(a, "--churn-ttl"))
			cfg.churn_ttl = (unsigned int)parse_num(a, v, 1, 60000);
		else if (!strcmp(a, "--settle"))
			cfg.settle = parse_num(a, v, 0.1, 3600);
		else {
			usage(stderr);
			return 2;
		}
	}
	if (!cfg.port) {
		usage(stderr);
		return 2;
	}
	ls = calloc(cfg.conns, sizeof(*ls));
	if (!ls)
		return 1;
	if (client_open(&ctl) < 0) {
		fprintf(stderr, "sessiond-load: cannot connect to 127.0.0.1:%u\n", cfg.port);
		return 1;
	}
	for (unsigned int i = 0; i < cfg.conns; i++) {
		ls[i].id = i;
		ls[i].seed = 0x9e3779b97f4a7c15ULL * (i + 1) ^ (uint64_t)time(NULL);
		if (client_open(&ls[i].cl) < 0) {
			fprintf(stderr, "sessiond-load: cannot connect to 127.0.0.1:%u\n",
				cfg.port);
			return 1;
		}
	}
	printf("sessiond-load: 127.0.0.1:%u, %u connections, %.1f s, %u keys, "
	       "60%% GET / 25%% SET / 8%% TOUCH / 7%% DEL\n",
	       cfg.port, cfg.conns, cfg.seconds, cfg.keys);
	fflush(stdout);
	t0 = now_ns();
	cfg.deadline_ns = t0 + (uint64_t)(cfg.seconds * 1e9);
	run_threads(ls, mixed_main);
	secs = (double)(now_ns() - t0) / 1e9;
	for (unsigned int i = 0; i < cfg.conns; i++) {
		requests += ls[i].requests;
		errors += ls[i].errors;
		if (ls[i].max_ns > max_ns)
			max_ns = ls[i].max_ns;
		for (unsigned int o = 0; o < NR_OPS; o++)
			ops[o] += ls[i].ops[o];
		for (unsigned int b = 0; b < NR_BUCKETS; b++)
			hist[b] += ls[i].hist[b];
		if (ls[i].errors)
			printf("  connection %u: %lu errors, first: %s\n", i, ls[i].errors,
			       ls[i].first_error);
		ls[i].errors = 0;
	}
	printf("requests %lu in %.2f s: %.0f req/s; latency p50 %.1f us, p99 %.1f us, "
	       "max %.1f us; errors %lu\n",
	       requests, secs, (double)requests / secs,
	       (double)percentile(hist, requests, 0.50) / 1e3,
	       (double)percentile(hist, requests, 0.99) / 1e3, (double)max_ns / 1e3, errors);
	printf("  by command:");
	for (unsigned int o = 0; o < NR_OPS; o++)
		printf(" %s %lu", op_names[o], ops[o]);
	printf("\n");
	if (errors || !requests)
		rc = 1;
	if (cfg.churn && churn(ls, &ctl) < 0)
		rc = 1;
	for (unsigned int i = 0; i < cfg.conns; i++)
		close(ls[i].cl.fd);
	close(ctl.fd);
	free(ls);
	return rc;
}
