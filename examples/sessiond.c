/*
 * sessiond - a session store served over TCP on 127.0.0.1, one request per
 * line and one reply line (see usage()). Sessions live in a gcmap with string
 * keys; each one is an object managed by a gcmap collector, and its finalizer
 * is the only code that releases it: nobody frees a replaced, deleted or
 * expired session by hand.
 *
 * Threads: the main thread accepts connections and hands each one to a
 * worker (a fixed pool, one epoll set each, every worker a registered gcmap
 * thread); a janitor expires sessions and starts collections; the
 * collector's own background thread runs finalizers and paced cycles.
 *
 * Who may touch a session:
 *  - readers (GET, TOUCH, the janitor) find it with gcmap_get_bytes() and use
 *    it only inside gcmap_read_lock(): the collector never finalizes an object
 *    a read-side section still holds;
 *  - writers (SET, DEL, expiry) also hold the key's stripe lock, so a session
 *    the janitor found expired is the one it deletes (gcmap has no "delete if
 *    the value is still X"), and each removed session is counted once as
 *    replaced, deleted or expired;
 *  - @expires is the only mutable field: TOUCH extends it, removal claims
 *    it (CAS to EXP_CLAIMED), so a TOUCH and an expiry cannot both win.
 */
#define _GNU_SOURCE /* accept4, pipe2 */
#include <gcmap.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 8192 /* request line, newline included */
#define MAX_KEY 250
#define MAX_VALUE 4096
#define MAX_TTL_MS 86400000ull /* one day */
#define MAX_CONNS 1024
#define MAX_THREADS 64
#define OUT_HIGH 65536 /* stop parsing requests while this much output waits */
#define RESOURCE_BYTES 256 /* what each session holds besides its key and value */
#define NR_STRIPES 256

#define EXP_CLAIMED 0 /* removed as expired, or being removed */
#define EXP_NEVER UINT64_MAX

/*
 * struct session - one session: a collector-managed object.
 * @expires: CLOCK_MONOTONIC deadline in ms, EXP_NEVER, or EXP_CLAIMED; atomic.
 * @linked: 1 from before it is stored until the read-side section that
 *          removes it from the map ends; written under the key's stripe lock,
 *          read by the finalizer to catch a collector that finalizes a
 *          session still in the map (see session_finalize()).
 * @resource: stands for what a real session holds (a buffer, a file, a
 *            socket): counted in stats.resources, released by the finalizer.
 * @value, @key: immutable once the session is published.
 */
struct session {
	uint64_t expires;
	int linked;
	void *resource;
	char *value;
	size_t value_len;
	size_t key_len;
	char key[];
};

/* Counters; all atomic (relaxed: they are statistics, read in any order). */
static struct {
	unsigned long created; /* registered with the collector */
	unsigned long replaced; /* removed by a SET of the same key */
	unsigned long deleted; /* removed by DEL */
	unsigned long expired; /* removed because their ttl passed */
	unsigned long dropped; /* removed at shutdown */
	unsigned long store_failed; /* registered, but the map store failed */
	unsigned long finalized; /* released by their finalizer */
	unsigned long reachable_finalized; /* finalizer found it still linked */
	long resources; /* resources held (one per unreleased session) */
	long session_bytes; /* bytes of session structs, keys, values, resources */
	long free_pending_bytes; /* of those, waiting for a grace period */
	long conns; /* open connections */
	unsigned long requests;
	unsigned long bad_requests;
} stats;

#define STAT_ADD(field, n) __atomic_fetch_add(&stats.field, (n), __ATOMIC_RELAXED)
#define STAT_GET(field) __atomic_load_n(&stats.field, __ATOMIC_RELAXED)

struct conn {
	int fd;
	struct conn *prev, *next; /* the owning worker's list */
	bool discarding; /* dropping the rest of an over-long line */
	bool want_out; /* registered for EPOLLOUT (output is waiting) */
	size_t in_len;
	char *out;
	size_t out_len, out_off, out_cap;
	char in[MAX_LINE];
};

struct worker {
	pthread_t tid;
	int epfd;
	int evfd; /* wakes the worker: a new connection or shutdown */
	pthread_mutex_t lock;
	struct conn *incoming; /* handed over by the acceptor, under @lock */
	struct conn *conns; /* the worker's own connections */
};

static struct {
	struct gcmap *map; /* key -> struct session * */
	struct gcmap_gc *gc;
	pthread_mutex_t stripes[NR_STRIPES];
	bool allow_shutdown;
	unsigned int interval_ms;
	int stop; /* atomic: shutting down */
	int wake[2]; /* pipe: wakes the acceptor (SHUTDOWN, signals) */
	struct worker *workers;
	unsigned int nr_workers;
	pthread_t janitor;
	pthread_mutex_t jlock;
	pthread_cond_t jcv;
} srv;

static void die(const char *what, int err)
{
	fprintf(stderr, "sessiond: %s: %s\n", what, err < 0 ? gcmap_strerror(err) : strerror(err));
	exit(1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static pthread_mutex_t *stripe_of(const char *key, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return &srv.stripes[h % NR_STRIPES];
}

/* ---------------------------------------------------------------------- */
/* Sessions                                                               */

static size_t session_size(const struct session *s)
{
	return sizeof(*s) + s->key_len + 1 + s->value_len + 1 + RESOURCE_BYTES;
}

/* Expired at @now (a claimed session counts as expired). */
static bool session_expired(struct session *s, uint64_t now)
{
	return __atomic_load_n(&s->expires, __ATOMIC_ACQUIRE) <= now;
}

/*
 * Claim @s as expired: true if its deadline passed and this call is the one
 * that turned it into EXP_CLAIMED. Pairs with the CAS of TOUCH: a TOUCH that
 * extended the deadline first makes the claim fail, one that comes later
 * sees EXP_CLAIMED and answers NOT_FOUND.
 */
static bool session_claim_expired(struct session *s, uint64_t now)
{
	uint64_t exp = __atomic_load_n(&s->expires, __ATOMIC_ACQUIRE);

	while (exp != EXP_CLAIMED && exp <= now)
		if (__atomic_compare_exchange_n(&s->expires, &exp, EXP_CLAIMED, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

/*
 * @s was just removed from the map by a writer holding its stripe lock,
 * inside the read-side section of the removal: count it once. The store of
 * @linked is in that section, so any cycle that finds @s unreachable began
 * after it (a cycle's start waits for read-side sections) and its finalizer
 * sees 0.
 */
static bool session_unlinked(struct session *s, uint64_t now, unsigned long *reason)
{
	bool expired = session_claim_expired(s, now);

	__atomic_store_n(&s->linked, 0, __ATOMIC_RELEASE);
	__atomic_fetch_add(expired ? &stats.expired : reason, 1, __ATOMIC_RELAXED);
	return expired;
}

static void session_free(void *p)
{
	struct session *s = p;

	STAT_ADD(session_bytes, -(long)session_size(s));
	STAT_ADD(free_pending_bytes, -(long)session_size(s));
	free(s->value);
	free(s);
}

/*
 * The finalizer: @s is unreachable and no read-side section holds it. Runs
 * on the collector's background thread (or in gcmap_gc_run_finalizers() at
 * shutdown), outside any read-side section. It releases the resource at
 * once; the memory goes one more grace period later (gcmap_defer_free()):
 * free() would do if the collector were never wrong, and the deferral keeps
 * a collector bug that finalizes a reachable session (caught below) from
 * turning into a use-after-free in a reader.
 */
static void session_finalize(void *obj, void *arg)
{
	struct session *s = obj;
	int err;

	(void)arg;
	if (__atomic_load_n(&s->linked, __ATOMIC_ACQUIRE)) {
		/* Still in the map: the collector was wrong. Count it and
		 * manage the session again, so it is finalized once it really
		 * is unreachable. */
		STAT_ADD(reachable_finalized, 1);
		gcmap_gc_unregister(srv.gc, s);
		gcmap_read_lock();
		err = gcmap_gc_register(srv.gc, s, session_finalize, NULL, NULL);
		gcmap_read_unlock();
		if (err)
			die("re-register", err);
		return;
	}
	free(s->resource);
	STAT_ADD(resources, -1);
	err = gcmap_gc_unregister(srv.gc, s);
	if (err)
		die("gcmap_gc_unregister", err);
	STAT_ADD(free_pending_bytes, (long)session_size(s));
	if (gcmap_defer_free(s, session_free) < 0)
		die("gcmap_defer_free", ENOMEM);
	/* Last, and a release: whoever sees the count (acquire) and then
	 * calls gcmap_barrier() also waits for this session's free. */
	__atomic_fetch_add(&stats.finalized, 1, __ATOMIC_RELEASE);
}

static struct session *session_new(const char *key, size_t key_len, const char *value,
				   size_t value_len, uint64_t expires)
{
	struct session *s = malloc(sizeof(*s) + key_len + 1);

	if (!s)
		return NULL;
	s->value = malloc(value_len + 1);
	s->resource = malloc(RESOURCE_BYTES);
	if (!s->value || !s->resource) {
		free(s->value);
		free(s->resource);
		free(s);
		return NULL;
	}
	memset(s->resource, 0x5e, RESOURCE_BYTES);
	memcpy(s->key, key, key_len);
	s->key[key_len] = '\0';
	s->key_len = key_len;
	memcpy(s->value, value, value_len);
	s->value[value_len] = '\0';
	s->value_len = value_len;
	s->expires = expires;
	s->linked = 1;
	return s;
}

/* ---------------------------------------------------------------------- */
/* Commands                                                               */

static int cmd_set(const char *key, size_t klen, const char *val, size_t vlen, uint64_t ttl,
		   char *reply, size_t cap)
{
	uint64_t now = now_ms();
	struct session *s = session_new(key, klen, val, vlen, ttl ? now + ttl : EXP_NEVER);
	pthread_mutex_t *stripe = stripe_of(key, klen);
	void *old = NULL;
	int err;

	if (!s)
		return snprintf(reply, cap, "ERROR out of memory");
	pthread_mutex_lock(stripe);
	/* Register, then store, in one read-side section: a cycle that begins
	 * meanwhile waits for this section, and then finds the session in the
	 * map (the documented pattern of gcmap.h). */
	gcmap_read_lock();
	err = gcmap_gc_register(srv.gc, s, session_finalize, NULL, NULL);
	if (!err) {
		STAT_ADD(created, 1);
		STAT_ADD(resources, 1);
		STAT_ADD(session_bytes, (long)session_size(s));
		err = gcmap_put_bytes(srv.map, key, klen, s, &old);
		if (err < 0) {
			/* Registered but unreachable: the collector releases it. */
			__atomic_store_n(&s->linked, 0, __ATOMIC_RELEASE);
			STAT_ADD(store_failed, 1);
			s = NULL;
		} else if (old) {
			session_unlinked(old, now, &stats.replaced);
		}
	}
	gcmap_read_unlock();
	pthread_mutex_unlock(stripe);
	if (err < 0) {
		if (s) { /* never registered: still ours */
			free(s->resource);
			free(s->value);
			free(s);
		}
		return snprintf(reply, cap, "ERROR %s", gcmap_strerror(err));
	}
	return snprintf(reply, cap, "OK");
}

static int cmd_get(const char *key, size_t klen, char *reply, size_t cap)
{
	void *v;
	int n;

	gcmap_read_lock();
	if (gcmap_get_bytes(srv.map, key, klen, &v) == 0 && !session_expired(v, now_ms())) {
		struct session *s = v;

		/* @s stays valid until gcmap_read_unlock(). */
		n = snprintf(reply, cap, "VALUE %s", s->value);
	} else {
		n = snprintf(reply, cap, "NOT_FOUND");
	}
	gcmap_read_unlock();
	return n;
}

static int cmd_del(const char *key, size_t klen, char *reply, size_t cap)
{
	pthread_mutex_t *stripe = stripe_of(key, klen);
	const char *r = "NOT_FOUND";
	void *old;

	pthread_mutex_lock(stripe);
	gcmap_read_lock();
	/* An expired session the janitor has not reaped yet is counted as
	 * expired, and was not found. */
	if (gcmap_delete_bytes(srv.map, key, klen, &old) == 0 &&
	    !session_unlinked(old, now_ms(), &stats.deleted))
		r = "DELETED";
	gcmap_read_unlock();
	pthread_mutex_unlock(stripe);
	return snprintf(reply, cap, "%s", r);
}

static int cmd_touch(const char *key, size_t klen, uint64_t ttl, char *reply, size_t cap)
{
	const char *r = "NOT_FOUND";
	void *v;

	gcmap_read_lock();
	if (gcmap_get_bytes(srv.map, key, klen, &v) == 0) {
		struct session *s = v;
		uint64_t now = now_ms();
		uint64_t exp = __atomic_load_n(&s->expires, __ATOMIC_ACQUIRE);

		/* Never revive an expired or claimed session (see
		 * session_claim_expired()). */
		while (exp > now) {
			if (__atomic_compare_exchange_n(&s->expires, &exp,
							ttl ? now + ttl : EXP_NEVER, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				r = "TOUCHED";
				break;
			}
		}
	}
	gcmap_read_unlock();
	return snprintf(reply, cap, "%s", r);
}

static long rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int format_stats(const char *prefix, char *out, size_t cap)
{
	struct gcmap_stats ms = { .size = sizeof(ms) };
	struct gcmap_gc_stats gs = { .size = sizeof(gs) };
	unsigned long unlinked = STAT_GET(replaced) + STAT_GET(deleted) + STAT_GET(expired) +
				 STAT_GET(dropped) + STAT_GET(store_failed);

	gcmap_stats(srv.map, &ms);
	gcmap_gc_stats(srv.gc, &gs);
	return snprintf(out, cap,
			"%ssessions=%zu created=%lu replaced=%lu deleted=%lu expired=%lu "
			"dropped=%lu store_failed=%lu finalized=%lu garbage=%ld resources=%ld "
			"session_bytes=%ld free_pending_bytes=%ld map_bytes=%zu "
			"map_pending_bytes=%zu map_buckets=%zu gc_cycles=%lu "
			"gc_registered=%zu gc_pending=%zu gc_reachable_finalized=%lu rss_kb=%ld "
			"conns=%ld requests=%lu bad_requests=%lu",
			prefix, ms.entries, STAT_GET(created), STAT_GET(replaced),
			STAT_GET(deleted), STAT_GET(expired), STAT_GET(dropped),
			STAT_GET(store_failed), STAT_GET(finalized),
			(long)(unlinked - STAT_GET(finalized)), STAT_GET(resources),
			STAT_GET(session_bytes), STAT_GET(free_pending_bytes), ms.bytes_allocated,
			ms.bytes_pending, ms.buckets, gs.cycles, gs.registered, gs.pending,
			STAT_GET(reachable_finalized), rss_kb(), STAT_GET(conns),
			STAT_GET(requests), STAT_GET(bad_requests));
}

/* ---------------------------------------------------------------------- */
/* The protocol                                                           */

/* A token: bytes 0x21..0xff except DEL (no spaces, no control bytes). */
static bool token_ok(const char *t, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return len > 0;
}

/* A ttl in ms: decimal digits only, at most MAX_TTL_MS. */
static bool parse_ttl(const char *t, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 12)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (t[i] < '0' || t[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(t[i] - '0');
	}
	if (v > MAX_TTL_MS)
		return false;
	*out = v;
	return true;
}

/*
 * Handle one request line (without its newline) and write the reply (without
 * its newline) into @reply. Sets *@shutdown for an allowed SHUTDOWN.
 */
static int handle(char *line, size_t len, char *reply, size_t cap, bool *shutdown)
{
	const char *tok[5];
	size_t tlen[5];
	unsigned int nt = 0;
	uint64_t ttl = 0;
	size_t i = 0;

	if (len && line[len - 1] == '\r')
		len--;
	while (i < len) {
		while (i < len && line[i] == ' ')
			i++;
		if (i == len)
			break;
		if (nt == 5)
			return snprintf(reply, cap, "ERROR too many arguments");
		tok[nt] = line + i;
		while (i < len && line[i] != ' ')
			i++;
		tlen[nt] = (size_t)(line + i - tok[nt]);
		if (!token_ok(tok[nt], tlen[nt]))
			return snprintf(reply, cap, "ERROR bad character");
		nt++;
	}
	if (nt == 0)
		return snprintf(reply, cap, "ERROR empty request");
#define IS(name) (tlen[0] == sizeof(name) - 1 && memcmp(tok[0], name, tlen[0]) == 0)
	if (nt >= 2 && tlen[1] > MAX_KEY)
		return snprintf(reply, cap, "ERROR key longer than %d bytes", MAX_KEY);
	if (IS("GET")) {
		if (nt != 2)
			return snprintf(reply, cap, "ERROR usage: GET <key>");
		return cmd_get(tok[1], tlen[1], reply, cap);
	}
	if (IS("SET")) {
		if (nt < 3 || nt > 4)
			return snprintf(reply, cap, "ERROR usage: SET <key> <value> [ttl_ms]");
		if (tlen[2] > MAX_VALUE)
			return snprintf(reply, cap, "ERROR value longer than %d bytes", MAX_VALUE);
		if (nt == 4 && !parse_ttl(tok[3], tlen[3], &ttl))
			return snprintf(reply, cap, "ERROR bad ttl_ms (0..%llu)",
					(unsigned long long)MAX_TTL_MS);
		return cmd_set(tok[1], tlen[1], tok[2], tlen[2], ttl, reply, cap);
	}
	if (IS("DEL")) {
		if (nt != 2)
			return snprintf(reply, cap, "ERROR usage: DEL <key>");
		return cmd_del(tok[1], tlen[1], reply, cap);
	}
	if (IS("TOUCH")) {
		if (nt != 3 || !parse_ttl(tok[2], tlen[2], &ttl))
			return snprintf(reply, cap, "ERROR usage: TOUCH <key> <ttl_ms 0..%llu>",
					(unsigned long long)MAX_TTL_MS);
		return cmd_touch(tok[1], tlen[1], ttl, reply, cap);
	}
	if (IS("STATS")) {
		if (nt != 1)
			return snprintf(reply, cap, "ERROR usage: STATS");
		return format_stats("STATS ", reply, cap);
	}
	if (IS("SHUTDOWN")) {
		if (nt != 1)
			return snprintf(reply, cap, "ERROR usage: SHUTDOWN");
		if (!srv.allow_shutdown)
			return snprintf(reply, cap, "ERROR SHUTDOWN needs --allow-shutdown");
		*shutdown = true;
		return snprintf(reply, cap, "BYE");
	}
#undef IS
	return snprintf(reply, cap, "ERROR unknown command");
}

/* ---------------------------------------------------------------------- */
/* Connections                                                            */

static void request_stop(void)
{
	char c = 0;

	__atomic_store_n(&srv.stop, 1, __ATOMIC_RELEASE);
	if (write(srv.wake[1], &c, 1) < 0) {
		/* The pipe is full: the acceptor is being woken already. */
	}
}

static bool out_reserve(struct conn *c, size_t more)
{
	size_t need = c->out_len + more;

	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return false;
		c->out = p;
		c->out_cap = cap;
	}
	return true;
}

/* Answer every complete line in the input buffer, until OUT_HIGH bytes of
 * output wait. Return false if the connection must be closed. */
static bool conn_process(struct conn *c)
{
	size_t off = 0;

	while (c->out_len - c->out_off < OUT_HIGH) {
		char *line = c->in + off;
		char *nl = memchr(line, '\n', c->in_len - off);
		bool shutdown = false;
		size_t len;
		int n;

		if (!nl)
			break;
		len = (size_t)(nl - line);
		off += len + 1;
		if (c->discarding) { /* the tail of an over-long line */
			c->discarding = false;
			continue;
		}
		if (!out_reserve(c, MAX_VALUE + 512))
			return false;
		n = handle(line, len, c->out + c->out_len, c->out_cap - c->out_len - 1, &shutdown);
		if (n < 0 || (size_t)n >= c->out_cap - c->out_len - 1)
			n = snprintf(c->out + c->out_len, c->out_cap - c->out_len,
				     "ERROR internal");
		STAT_ADD(requests, 1);
		if (c->out[c->out_len] == 'E') /* "ERROR ..." */
			STAT_ADD(bad_requests, 1);
		c->out_len += (size_t)n;
		c->out[c->out_len++] = '\n';
		if (shutdown)
			request_stop();
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	if (c->in_len == MAX_LINE && !memchr(c->in, '\n', c->in_len)) { /* over-long line */
		if (!c->discarding) {
			if (!out_reserve(c, 64))
				return false;
			c->out_len +=
				(size_t)sprintf(c->out + c->out_len,
						"ERROR line longer than %d bytes\n", MAX_LINE - 1);
			STAT_ADD(bad_requests, 1);
		}
		c->discarding = true;
		c->in_len = 0;
	}
	return true;
}

/* Write what is waiting. Return -1 on error, 0 when all is written, 1 if
 * the socket is full. */
static int conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n <= 0)
			return -1;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

static void conn_close(struct worker *w, struct conn *c)
{
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->out);
	free(c);
	STAT_ADD(conns, -1);
}

/* Wait for input while no output waits, for room to write while it does. */
static bool conn_arm(struct worker *w, struct conn *c, bool want_out)
{
	struct epoll_event ev = { .events = want_out ? EPOLLOUT : EPOLLIN, .data.ptr = c };

	if (want_out == c->want_out)
		return true;
	c->want_out = want_out;
	return epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0;
}

static void conn_event(struct worker *w, struct conn *c, uint32_t events)
{
	int r;

	if ((events & EPOLLIN) && c->in_len < MAX_LINE) {
		ssize_t n = recv(c->fd, c->in + c->in_len, MAX_LINE - c->in_len, 0);

		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
			conn_close(w, c);
			return;
		}
		if (n > 0)
			c->in_len += (size_t)n;
	} else if (!(events & (EPOLLIN | EPOLLOUT))) {
		conn_close(w, c); /* EPOLLERR or EPOLLHUP alone */
		return;
	}
	/* Answer, write, and answer again while lines wait in the buffer
	 * (they do when OUT_HIGH stopped the previous round). */
	do {
		if (!conn_process(c) || (r = conn_flush(c)) < 0) {
			conn_close(w, c);
			return;
		}
	} while (r == 0 && memchr(c->in, '\n', c->in_len));
	if (!conn_arm(w, c, r == 1))
		conn_close(w, c);
}

static void worker_adopt(struct worker *w)
{
	struct conn *list;
	uint64_t n;

	if (read(w->evfd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another wake-up took it. */
	}
	pthread_mutex_lock(&w->lock);
	list = w->incoming;
	w->incoming = NULL;
	pthread_mutex_unlock(&w->lock);
	while (list) {
		struct conn *c = list;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		list = c->next;
		c->prev = NULL;
		c->next = w->conns;
		if (w->conns)
			w->conns->prev = c;
		w->conns = c;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			conn_close(w, c);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[64];

	gcmap_thread_register();
	while (!__atomic_load_n(&srv.stop, __ATOMIC_ACQUIRE)) {
		int n = epoll_wait(w->epfd, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr)
				worker_adopt(w);
			else
				conn_event(w, evs[i].data.ptr, evs[i].events);
		}
	}
	worker_adopt(w); /* connections handed over at the last moment */
	while (w->conns)
		conn_close(w, w->conns);
	gcmap_thread_unregister();
	return NULL;
}

static void wake_worker(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->evfd, &one, sizeof(one)) < 0) {
		/* The counter is saturated: the worker is being woken already. */
	}
}

static void hand_over(int fd)
{
	static unsigned int next;
	struct worker *w = &srv.workers[next++ % srv.nr_workers];
	struct conn *c;
	int one = 1;

	if (STAT_GET(conns) >= MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	STAT_ADD(conns, 1);
	pthread_mutex_lock(&w->lock);
	c->next = w->incoming;
	w->incoming = c;
	pthread_mutex_unlock(&w->lock);
	wake_worker(w);
}

/* ---------------------------------------------------------------------- */
/* The janitor: expiry, collection, map maintenance                        */

/* Remove @key if its session (whatever session the key holds now) expired. */
static void expire_key(const char *key, size_t klen, uint64_t now)
{
	pthread_mutex_t *stripe = stripe_of(key, klen);
	void *v;

	pthread_mutex_lock(stripe);
	gcmap_read_lock();
	if (gcmap_get_bytes(srv.map, key, klen, &v) == 0 && session_expired(v, now) &&
	    gcmap_delete_bytes(srv.map, key, klen, &v) == 0)
		session_unlinked(v, now, &stats.expired);
	gcmap_read_unlock();
	pthread_mutex_unlock(stripe);
}

/*
 * Walk the map and remove expired sessions. Only the key of each entry is
 * used: an iterator hands out entries from a snapshot it may have taken in an
 * earlier gcmap_iter_next() call, that is in an earlier read-side section, so
 * its value may be a session that was removed and finalized since. Each key's
 * current session is looked up again.
 */
static void expire_all(void)
{
	struct gcmap_iter *it;
	struct gcmap_entry e;
	uint64_t now = now_ms();
	char key[MAX_KEY];

	if (gcmap_iter_begin(srv.map, &it) < 0)
		return; /* out of memory: next round */
	while (gcmap_iter_next(it, &e) == 1) {
		size_t klen = e.key_len;

		memcpy(key, e.key_bytes, klen); /* valid until the next call */
		expire_key(key, klen, now);
	}
	gcmap_iter_end(it);
}

/* Sessions removed from the map and not finalized yet. */
static long garbage(void)
{
	return (long)(STAT_GET(replaced) + STAT_GET(deleted) + STAT_GET(expired) +
		      STAT_GET(dropped) + STAT_GET(store_failed) - STAT_GET(finalized));
}

static void *janitor_main(void *arg)
{
	(void)arg;
	gcmap_thread_register();
	for (;;) {
		struct gcmap_gc_stats gs = { .size = sizeof(gs) };
		struct timespec ts;
		int stop;

		expire_all();
		/* Paced cycles (pace_percent) follow growth of the registered
		 * objects; a store whose sessions expire does not grow, so
		 * collect here whenever garbage waits that no finished cycle
		 * has queued yet. -EBUSY: a paced cycle runs, fine. */
		if (gcmap_gc_stats(srv.gc, &gs) == 0 && garbage() > (long)gs.pending)
			gcmap_gc_collect(srv.gc);
		/* Keep an evacuation (a shrink after a churn) moving. */
		gcmap_maintain(srv.map, 1024, 0);

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += srv.interval_ms / 1000;
		ts.tv_nsec += (long)(srv.interval_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&srv.jlock);
		if (!__atomic_load_n(&srv.stop, __ATOMIC_ACQUIRE))
			pthread_cond_timedwait(&srv.jcv, &srv.jlock, &ts);
		stop = __atomic_load_n(&srv.stop, __ATOMIC_ACQUIRE);
		pthread_mutex_unlock(&srv.jlock);
		if (stop)
			break;
	}
	gcmap_thread_unregister();
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Start and shutdown                                                     */

static void on_signal(int sig)
{
	char c = (char)sig;

	__atomic_store_n(&srv.stop, 1, __ATOMIC_RELEASE);
	if (write(srv.wake[1], &c, 1) < 0) {
		/* Nothing to do in a signal handler. */
	}
}

static int listen_loopback(unsigned int port, unsigned int *bound)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t len = sizeof(sa);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket", errno);
	/* 127.0.0.1 only: this server has no authentication. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind 127.0.0.1", errno);
	if (listen(fd, 128) < 0)
		die("listen", errno);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		die("getsockname", errno);
	*bound = ntohs(sa.sin_port);
	return fd;
}

/* Write the port to @path through a temporary file, so that a reader never
 * sees a partial number. */
static void write_port_file(const char *path, unsigned int port)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		die("--port-file", ENAMETOOLONG);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) < 0)
		die(path, errno);
}

static void accept_loop(int lfd)
{
	struct pollfd pfd[2] = { { .fd = lfd, .events = POLLIN },
				 { .fd = srv.wake[0], .events = POLLIN } };

	while (!__atomic_load_n(&srv.stop, __ATOMIC_ACQUIRE)) {
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll", errno);
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			hand_over(fd);
		else if (errno == EMFILE || errno == ENFILE)
			usleep(10000); /* out of descriptors: let connections close */
	}
}

static void start_threads(unsigned int nr_workers)
{
	int err;

	srv.nr_workers = nr_workers;
	srv.workers = calloc(nr_workers, sizeof(*srv.workers));
	if (!srv.workers)
		die("calloc", ENOMEM);
	for (unsigned int i = 0; i < nr_workers; i++) {
		struct worker *w = &srv.workers[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->epfd < 0 || w->evfd < 0 ||
		    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) < 0)
			die("epoll", errno);
		pthread_mutex_init(&w->lock, NULL);
		err = pthread_create(&w->tid, NULL, worker_main, w);
		if (err)
			die("pthread_create", err);
	}
	pthread_mutex_init(&srv.jlock, NULL);
	pthread_cond_init(&srv.jcv, NULL);
	err = pthread_create(&srv.janitor, NULL, janitor_main, NULL);
	if (err)
		die("pthread_create", err);
}

static void stop_threads(void)
{
	for (unsigned int i = 0; i < srv.nr_workers; i++)
		wake_worker(&srv.workers[i]);
	for (unsigned int i = 0; i < srv.nr_workers; i++) {
		struct worker *w = &srv.workers[i];

		pthread_join(w->tid, NULL);
		/* Handed over after the worker's last look: never served. */
		for (struct conn *c = w->incoming, *next; c; c = next) {
			next = c->next;
			close(c->fd);
			free(c);
			STAT_ADD(conns, -1);
		}
		close(w->epfd);
		close(w->evfd);
		pthread_mutex_destroy(&w->lock);
	}
	free(srv.workers);
	pthread_mutex_lock(&srv.jlock);
	pthread_cond_signal(&srv.jcv);
	pthread_mutex_unlock(&srv.jlock);
	pthread_join(srv.janitor, NULL);
}

static int drop_one(const struct gcmap_entry *e, void *arg)
{
	void *v;

	(void)arg;
	gcmap_read_lock();
	if (gcmap_delete_bytes(srv.map, e->key_bytes, e->key_len, &v) == 0)
		session_unlinked(v, 0, &stats.dropped); /* now = 0: never "expired" */
	gcmap_read_unlock();
	return 0;
}

/* Pairs with the release at the end of session_finalize(). */
static unsigned long all_finalized(void)
{
	return __atomic_load_n(&stats.finalized, __ATOMIC_ACQUIRE);
}

/*
 * Every other thread has stopped: remove the remaining sessions, collect,
 * and run finalizers until every session created has been released.
 * Return true if nothing is left.
 */
static bool release_everything(void)
{
	gcmap_foreach(srv.map, drop_one, NULL);
	for (int round = 0; round < 100 && all_finalized() < STAT_GET(created); round++) {
		int err = gcmap_gc_collect(srv.gc);

		if (err < 0 && err != -EBUSY)
			die("gcmap_gc_collect", err);
		gcmap_gc_run_finalizers(srv.gc, 0);
		if (all_finalized() < STAT_GET(created))
			usleep(1000); /* the background thread runs some too */
	}
	gcmap_barrier(); /* the deferred frees of session memory */
	return STAT_GET(finalized) == STAT_GET(created) && STAT_GET(resources) == 0 &&
	       STAT_GET(session_bytes) == 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sessiond [--port N] [--threads N] [--allow-shutdown] [--port-file PATH]\n"
		"                [--interval MS] [--pace PERCENT]\n"
		"  --port N          TCP port on 127.0.0.1 (default 7411; 0: any free port)\n"
		"  --threads N       worker threads (1..%d, default 4)\n"
		"  --allow-shutdown  accept the SHUTDOWN command\n"
		"  --port-file PATH  write the port there once listening\n"
		"  --interval MS     expiry and collection period (default 50)\n"
		"  --pace PERCENT    collector pacing, like GOGC (default 100; 0: off)\n"
		"protocol, one request per line, one reply line:\n"
		"  SET <key> <value> [ttl_ms]  -> OK            (ttl 0 or none: no expiry)\n"
		"  GET <key>                   -> VALUE <value> | NOT_FOUND\n"
		"  DEL <key>                   -> DELETED | NOT_FOUND\n"
		"  TOUCH <key> <ttl_ms>        -> TOUCHED | NOT_FOUND\n"
		"  STATS                       -> STATS key=value ...\n"
		"  SHUTDOWN                    -> BYE, then the server exits\n"
		"  anything else               -> ERROR <reason>\n",
		MAX_THREADS);
}

static unsigned long parse_num(const char *opt, const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = s ? strtoul(s, &end, 10) : 0;
	if (!s || errno || *end || end == s || v > max) {
		fprintf(stderr, "sessiond: %s needs a number 0..%lu\n", opt, max);
		usage(stderr);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct gcmap_options mo = { .size = sizeof(mo),
				    .key_kind = GCMAP_KEY_BYTES,
				    .max_key_len = MAX_KEY };
	struct gcmap_gc_options go = { .size = sizeof(go), .flags = GCMAP_GC_F_BACKGROUND };
	unsigned int port = 7411, threads = 4, bound;
	const char *port_file = NULL;
	char line[1024];
	struct sigaction sa;
	bool clean;
	int err, lfd;

	srv.interval_ms = 50;
	go.pace_percent = 100;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--allow-shutdown")) {
			srv.allow_shutdown = true;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		i++; /* the rest take a value */
		if (!strcmp(a, "--port")) {
			port = (unsigned int)parse_num(a, v, 65535);
		} else if (!strcmp(a, "--threads")) {
			threads = (unsigned int)parse_num(a, v, MAX_THREADS);
		} else if (!strcmp(a, "--interval")) {
			srv.interval_ms = (unsigned int)parse_num(a, v, 60000);
		} else if (!strcmp(a, "--pace")) {
			go.pace_percent = (unsigned int)parse_num(a, v, 100000);
		} else if (!strcmp(a, "--port-file") && v) {
			port_file = v;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (threads < 1 || srv.interval_ms < 1) {
		usage(stderr);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if (pipe2(srv.wake, O_CLOEXEC | O_NONBLOCK) < 0)
		die("pipe", errno);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (int i = 0; i < NR_STRIPES; i++)
		pthread_mutex_init(&srv.stripes[i], NULL);

	gcmap_thread_register();
	if ((err = gcmap_create(&mo, &srv.map)) || (err = gcmap_gc_create(&go, &srv.gc)) ||
	    (err = gcmap_gc_attach(srv.gc, srv.map)))
		die("gcmap setup", err);
	lfd = listen_loopback(port, &bound);
	start_threads(threads);
	printf("sessiond: listening on 127.0.0.1:%u (%u workers, pid %ld)\n", bound, threads,
	       (long)getpid());
	fflush(stdout);
	if (port_file)
		write_port_file(port_file, bound);

	accept_loop(lfd);

	close(lfd);
	stop_threads();
	clean = release_everything();
	format_stats("sessiond: final: ", line, sizeof(line));
	printf("%s\n", line);
	printf("sessiond: sessions created %lu, finalized %lu, resources held %ld: %s\n",
	       STAT_GET(created), STAT_GET(finalized), STAT_GET(resources),
	       clean ? "clean" : "LEAKED");
	if (STAT_GET(reachable_finalized))
		printf("sessiond: WARNING: the collector finalized %lu sessions that were still "
		       "in the map (a gcmap bug; they were managed again)\n",
		       STAT_GET(reachable_finalized));
	if ((err = gcmap_destroy(srv.map)) || (err = gcmap_gc_destroy(srv.gc)))
		die("gcmap teardown", err);
	gcmap_barrier();
	gcmap_thread_unregister();
	for (int i = 0; i < NR_STRIPES; i++)
		pthread_mutex_destroy(&srv.stripes[i]);
	close(srv.wake[0]);
	close(srv.wake[1]);
	return clean ? 0 : 1;
}
