/*
 * diag.c - diagnostics: statistics as JSON (gcmap_stats_json,
 * gcmap_gc_stats_json), the list of live maps and collector domains, and the
 * GCMAP_STATS background writer that appends one JSON line per interval with
 * all of them to a file.
 */
#define _GNU_SOURCE /* secure_getenv */
#include "internal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* JSON text with snprintf semantics                                        */

/*
 * struct jbuf - output buffer of @len bytes; @pos counts the bytes the
 * complete text needs, also past @len, so the caller learns the length to
 * retry with. The text in @buf is always NUL-terminated when @len > 0.
 */
struct jbuf {
	char *buf;
	size_t len;
	size_t pos;
};

static void jprintf(struct jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jprintf(struct jbuf *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (j->pos < j->len)
		n = vsnprintf(j->buf + j->pos, j->len - j->pos, fmt, ap);
	else
		n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		j->pos += (size_t)n;
}

static void jnum(struct jbuf *j, const char *name, unsigned long long v)
{
	jprintf(j, ",\"%s\":%llu", name, v);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * The common head: type, id (the object's address), serial (its creation
 * number in this process, so that an object created at the address of a
 * destroyed one is told apart; 0 if unknown) and time.
 */
static void jhead(struct jbuf *j, const char *type, const void *obj, unsigned long serial,
		  uint64_t t_ms)
{
	jprintf(j, "{\"type\":\"%s\",\"id\":\"0x%" PRIxPTR "\",\"serial\":%lu,\"t_ms\":%" PRIu64,
		type, (uintptr_t)obj, serial, t_ms);
}

static int jdone(struct jbuf *j)
{
	jprintf(j, "}");
	return j->pos > (size_t)INT32_MAX ? INT32_MAX : (int)j->pos;
}

static int map_json(struct gcmap *map, struct jbuf *j, unsigned long serial, uint64_t t_ms)
{
	struct gcmap_stats st = { .size = sizeof(st) };
	/* Acquire pairs with the release store of gcmap_gc_attach(); only the
	 * address is printed, never dereferenced. */
	struct gcmap_gc *gc = __atomic_load_n(&map->gc, __ATOMIC_ACQUIRE);
	int err = gcmap_stats(map, &st);

	if (err)
		return err;
	jhead(j, "map", map, serial, t_ms);
	jprintf(j, ",\"key_kind\":\"%s\"", map->kind == GCMAP_KEY_BYTES ? "bytes" : "u64");
	if (gc)
		jprintf(j, ",\"gc\":\"0x%" PRIxPTR "\"", (uintptr_t)gc);
	else
		jprintf(j, ",\"gc\":null");
	jnum(j, "entries", st.entries);
	jnum(j, "buckets", st.buckets);
	jnum(j, "log2_buckets", st.log2_buckets);
	jnum(j, "overflow_buckets", st.overflow_buckets);
	jnum(j, "slots", st.slots);
	jnum(j, "free_slots_in_used", st.free_slots_in_used);
	jnum(j, "longest_chain", st.longest_chain);
	jnum(j, "bytes_allocated", st.bytes_allocated);
	jnum(j, "bytes_pending", st.bytes_pending);
	jnum(j, "evacuating", st.evacuating);
	jnum(j, "evac_target_log2", st.evac_target_log2);
	jnum(j, "evac_units_done", st.evac_units_done);
	jnum(j, "evac_units_total", st.evac_units_total);
	jnum(j, "grows", st.grows);
	jnum(j, "shrinks", st.shrinks);
	jnum(j, "rebuilds", st.rebuilds);
	jnum(j, "evac_alloc_failures", st.evac_alloc_failures);
	jnum(j, "bytes_pinned", st.bytes_pinned);
	jnum(j, "iterators", st.iterators);
	return jdone(j);
}

static int gc_json(struct gcmap_gc *gc, struct jbuf *j, unsigned long serial, uint64_t t_ms)
{
	struct gcmap_gc_stats st = { .size = sizeof(st) };
	/* Not gcmap_gc_stats(): no wait for rings_lock under diag_lock. */
	int err = gcmap__gc_stats_fill(gc, &st);

	if (err)
		return err;
	jhead(j, "gc", gc, serial, t_ms);
	/* The registry is a map of its own in the "maps" list of GCMAP_STATS. */
	jprintf(j, ",\"registry\":\"0x%" PRIxPTR "\"", (uintptr_t)gc->registry);
	jnum(j, "cycles", st.cycles);
	jnum(j, "marking", st.marking);
	jnum(j, "marked", st.marked);
	jnum(j, "barrier_records", st.barrier_records);
	jnum(j, "grey_overflows", st.grey_overflows);
	jnum(j, "mark_ns", st.mark_ns);
	jnum(j, "registered", st.registered);
	jnum(j, "roots", st.roots);
	jnum(j, "finalized", st.finalized);
	jnum(j, "pending", st.pending);
	jnum(j, "resurrected", st.resurrected);
	jnum(j, "cycles_found", st.cycles_found);
	jnum(j, "maps", st.maps);
	return jdone(j);
}

static unsigned long diag_serial(const void *obj);

static int json_args(const void *obj, char *buf, size_t len)
{
	if (!obj || (!buf && len > 0))
		return -EINVAL;
	if (!gcmap__tls.registered)
		return -EPERM;
	if (len > 0)
		buf[0] = '\0';
	return 0;
}

int gcmap_stats_json(struct gcmap *map, char *buf, size_t len)
{
	struct jbuf j = { buf, len, 0 };
	int err = json_args(map, buf, len);

	return err ? err : map_json(map, &j, diag_serial(map), now_ms());
}

int gcmap_gc_stats_json(struct gcmap_gc *gc, char *buf, size_t len)
{
	struct jbuf j = { buf, len, 0 };
	int err = json_args(gc, buf, len);

	return err ? err : gc_json(gc, &j, diag_serial(gc), now_ms());
}

/* ------------------------------------------------------------------------ */
/* Live maps and domains                                                    */

/*
 * The list of live maps and domains. diag_lock protects the list and is
 * held by the writer while it reads the objects' statistics: an object is
 * removed (and so waits for a snapshot in progress) before it is freed.
 * Lock order: diag_lock is taken with no other gcmap lock held and, while
 * held, only read-side sections are entered (gcmap_stats) and no grace
 * period is waited for, so it never waits on a thread that waits on it.
 */
struct diag_node {
	struct diag_node *next;
	void *obj;
	bool is_gc;
	unsigned long serial; /* 1, 2, ... in creation order */
};

static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;
static struct diag_node *diag_head;
static unsigned long diag_serial_next = 1; /* under diag_lock */

static pthread_once_t writer_once = PTHREAD_ONCE_INIT;
static void writer_start(void);

static void diag_add(void *obj, bool is_gc)
{
	/* Not through a map's allocator: diagnostics never fail an operation. */
	struct diag_node *n = malloc(sizeof(*n));

	if (n) {
		n->obj = obj;
		n->is_gc = is_gc;
		pthread_mutex_lock(&diag_lock);
		n->serial = diag_serial_next++;
		n->next = diag_head;
		diag_head = n;
		pthread_mutex_unlock(&diag_lock);
	}
	/* Started lazily by the first map or domain, never by a constructor. */
	pthread_once(&writer_once, writer_start);
}

static unsigned long diag_serial(const void *obj)
{
	unsigned long serial = 0;

	pthread_mutex_lock(&diag_lock);
	for (const struct diag_node *n = diag_head; n; n = n->next) {
		if (n->obj == obj)
			serial = n->serial;
	}
	pthread_mutex_unlock(&diag_lock);
	return serial;
}

static void diag_remove(void *obj)
{
	struct diag_node *dead = NULL;

	/* Waits for a snapshot in progress: after this, the writer cannot
	 * reach @obj, which the caller may then free. */
	pthread_mutex_lock(&diag_lock);
	for (struct diag_node **pp = &diag_head; *pp; pp = &(*pp)->next) {
		if ((*pp)->obj == obj) {
			dead = *pp;
			*pp = dead->next;
			break;
		}
	}
	pthread_mutex_unlock(&diag_lock);
	free(dead);
}

void gcmap__diag_add_map(struct gcmap *map)
{
	diag_add(map, false);
}

void gcmap__diag_remove_map(struct gcmap *map)
{
	diag_remove(map);
}

void gcmap__diag_add_gc(struct gcmap_gc *gc)
{
	diag_add(gc, true);
}

void gcmap__diag_remove_gc(struct gcmap_gc *gc)
{
	diag_remove(gc);
}

/* ------------------------------------------------------------------------ */
/* The GCMAP_STATS writer                                                   */

#define WRITER_DEFAULT_MS 1000u

/* Set once by writer_start() before the thread is created; read-only after. */
static int writer_fd = -1;
static unsigned int writer_ms = WRITER_DEFAULT_MS;

/* A growable line buffer (libc memory: never a map's allocator). */
struct line {
	char *buf;
	size_t cap;
	size_t len;
};

static bool line_reserve(struct line *l, size_t need)
{
	char *nb;
	size_t cap = l->cap ? l->cap : 4096;

	if (l->len + need <= l->cap)
		return true;
	while (cap < l->len + need)
		cap *= 2;
	nb = realloc(l->buf, cap);
	if (!nb)
		return false;
	l->buf = nb;
	l->cap = cap;
	return true;
}

static bool line_puts(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (!line_reserve(l, n + 1))
		return false;
	memcpy(l->buf + l->len, s, n + 1);
	l->len += n;
	return true;
}

/* Append the JSON of @n's object (after a comma unless *@first); false when
 * out of memory. An object whose statistics fail is left out. */
static bool line_obj(struct line *l, const struct diag_node *n, uint64_t t_ms, bool *first)
{
	size_t start = l->len;

	if (!*first && !line_puts(l, ","))
		return false;
	for (;;) {
		struct jbuf j = { l->buf + l->len, l->cap - l->len, 0 };
		int r = n->is_gc ? gc_json(n->obj, &j, n->serial, t_ms) :
				   map_json(n->obj, &j, n->serial, t_ms);

		if (r < 0) {
			l->len = start;
			l->buf[start] = '\0';
			return true;
		}
		if ((size_t)r < j.len) {
			l->len += (size_t)r;
			*first = false;
			return true;
		}
		if (!line_reserve(l, (size_t)r + 1))
			return false;
	}
}

/*
 * Build one line: {"t_ms":T,"maps":[...],"gcs":[...]}. Holds diag_lock for
 * the whole walk (see the list's comment). On out of memory the line is
 * dropped and the next interval tries again.
 */
static bool snapshot(struct line *l)
{
	uint64_t t_ms = now_ms();
	char head[64];
	bool ok, first;

	l->len = 0;
	snprintf(head, sizeof(head), "{\"t_ms\":%" PRIu64 ",\"maps\":[", t_ms);
	ok = line_puts(l, head);
	pthread_mutex_lock(&diag_lock);
	for (int pass = 0; ok && pass < 2; pass++) {
		first = true;
		if (pass == 1)
			ok = line_puts(l, "],\"gcs\":[");
		for (const struct diag_node *n = diag_head; ok && n; n = n->next) {
			if (n->is_gc == (pass == 1))
				ok = line_obj(l, n, t_ms, &first);
		}
	}
	pthread_mutex_unlock(&diag_lock);
	return ok && line_puts(l, "]}\n");
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; /* a full disk must not stop the program */
		}
		p += w;
		n -= (size_t)w;
	}
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *writer_main(void *arg)
{
	struct line l = { NULL, 0, 0 };

	(void)arg;
	/* A registered thread: gcmap_stats() takes read-side sections. */
	if (gcmap_thread_register() != 0)
		return NULL;
	for (;;) {
		/* Only one line per write(): with O_APPEND, processes sharing
		 * the file never interleave within a line. */
		if (snapshot(&l))
			write_all(writer_fd, l.buf, l.len);
		sleep_ms(writer_ms);
	}
	return NULL;
}

/*
 * fork(): hold diag_lock across it, so the child's copy of the list is
 * consistent. The writer thread does not exist in the child; it writes no
 * statistics (pthread_once already ran there).
 */
static void before_fork(void)
{
	pthread_mutex_lock(&diag_lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&diag_lock);
}

static void after_fork_child(void)
{
	pthread_mutex_init(&diag_lock, NULL);
}

/* Parse "path[,interval_ms]" into @path (owned by the caller) and writer_ms. */
static char *parse_env(const char *env)
{
	char *path = strdup(env), *comma, *end;
	unsigned long ms;

	if (!path)
		return NULL;
	comma = strrchr(path, ',');
	if (comma && comma[1] >= '0' && comma[1] <= '9') {
		errno = 0;
		ms = strtoul(comma + 1, &end, 10);
		if (*end == '\0') {
			*comma = '\0';
			if (errno == 0 && ms > 0 && ms <= 86400000ul)
				writer_ms = (unsigned int)ms;
			else
				fprintf(stderr,
					"gcmap: GCMAP_STATS: interval %s out of range, "
					"using %u ms\n",
					comma + 1, WRITER_DEFAULT_MS);
		}
	}
	return path;
}

static const char *stats_env(void)
{
#ifdef HAVE_SECURE_GETENV
	/* A setuid program must not write where its caller says. */
	return secure_getenv("GCMAP_STATS");
#else
	return getenv("GCMAP_STATS");
#endif
}

/*
 * Start the writer if GCMAP_STATS is set. It is detached: it never keeps
 * the process from exiting, and it blocks every signal so that signals
 * meant for the application's threads never land on it.
 */
static void writer_start(void)
{
	const char *env = stats_env();
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t tid;
	char *path;
	int err;

	if (!env || !*env)
		return;
	path = parse_env(env);
	if (!path || !*path) {
		free(path);
		return;
	}
	writer_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (writer_fd < 0) {
		fprintf(stderr, "gcmap: GCMAP_STATS: cannot open %s: %s\n", path, strerror(errno));
		free(path);
		return;
	}
	free(path);
	err = pthread_atfork(before_fork, after_fork_parent, after_fork_child);
	if (!err)
		err = pthread_attr_init(&attr);
	if (err) {
		fprintf(stderr, "gcmap: GCMAP_STATS: cannot start the writer: %s\n", strerror(err));
		return;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&tid, &attr, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		fprintf(stderr, "gcmap: GCMAP_STATS: cannot start the writer: %s\n", strerror(err));
}
