/*
 * gcmap-leakcheck - compare gcmap statistics snapshots and name what grows.
 * Input: a GCMAP_STATS file (one snapshot per line), or several files of
 * gcmap_stats_json()/gcmap_gc_stats_json() objects (one snapshot per file).
 * Exit status: 0 nothing found, 1 findings (printed), 2 bad input or usage.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_FOUND 1
#define EXIT_BAD 2

static const char *prog = "gcmap-leakcheck";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-n N] [-b BYTES] [-p PERCENT] FILE...\n"
		"Compares the first and the last snapshot of every gcmap map and collector\n"
		"domain found in FILEs (GCMAP_STATS output: one snapshot per line; or files\n"
		"of gcmap_stats_json() objects: one snapshot per file, in the order given).\n"
		"  -n N        finalizers pending in each of the last N snapshots are\n"
		"              reported as stuck (default 3)\n"
		"  -b BYTES    a map's growth below BYTES is noise (default 4096)\n"
		"  -p PERCENT  ... and so is growth below PERCENT of its first size (default 10)\n"
		"Exit status: 0 nothing found, 1 findings, 2 bad input.\n",
		prog);
}

/* ------------------------------------------------------------------------ */
/* A small JSON reader: the whole document in memory, a tree of values.     */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	double num; /* J_NUM, J_BOOL */
	char *str; /* J_STR */
	size_t n; /* J_ARR, J_OBJ: number of items */
	struct jval *items; /* J_ARR, J_OBJ */
	char **keys; /* J_OBJ: keys[i] names items[i] */
};

struct parser {
	const char *file;
	const char *s, *p, *end;
	char err[160];
};

#define MAX_DEPTH 64

static bool perr(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	unsigned long line = 1;

	for (const char *q = ps->s; q < ps->p && q < ps->end; q++)
		line += *q == '\n';
	if (ps->err[0])
		return false; /* keep the first error */
	va_start(ap, fmt);
	{
		char msg[120];

		vsnprintf(msg, sizeof(msg), fmt, ap);
		snprintf(ps->err, sizeof(ps->err), "%s:%lu: %s", ps->file, line, msg);
	}
	va_end(ap);
	return false;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(EXIT_BAD);
	}
	return q;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool parse_value(struct parser *ps, struct jval *v, int depth);

static void put_utf8(char **buf, size_t *len, size_t *cap, unsigned long cp)
{
	unsigned char out[4];
	size_t n;

	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		out[0] = (unsigned char)(0xf0 | (cp >> 18));
		out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (*len + n + 1 > *cap) {
		*cap = 2 * (*len + n + 1);
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, out, n);
	*len += n;
}

static bool hex4(struct parser *ps, unsigned long *cp)
{
	*cp = 0;
	for (int i = 0; i < 4; i++, ps->p++) {
		char c = ps->p < ps->end ? *ps->p : '\0';

		*cp <<= 4;
		if (c >= '0' && c <= '9')
			*cp |= (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*cp |= (unsigned long)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*cp |= (unsigned long)(c - 'A' + 10);
		else
			return perr(ps, "bad \\u escape");
	}
	return true;
}

static bool parse_string(struct parser *ps, char **out)
{
	size_t len = 0, cap = 32;
	char *buf = xrealloc(NULL, cap);

	ps->p++; /* the opening quote */
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end) {
			free(buf);
			return perr(ps, "unterminated string");
		}
		c = (unsigned char)*ps->p++;
		if (c == '"')
			break;
		if (c < 0x20) {
			free(buf);
			return perr(ps, "control character in a string");
		}
		if (c == '\\') {
			unsigned long cp;
			char e = ps->p < ps->end ? *ps->p++ : '\0';

			switch (e) {
			case '"':
			case '\\':
			case '/':
				cp = (unsigned char)e;
				break;
			case 'b':
				cp = '\b';
				break;
			case 'f':
				cp = '\f';
				break;
			case 'n':
				cp = '\n';
				break;
			case 'r':
				cp = '\r';
				break;
			case 't':
				cp = '\t';
				break;
			case 'u':
				if (!hex4(ps, &cp)) {
					free(buf);
					return false;
				}
				if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 6 &&
				    ps->p[0] == '\\' && ps->p[1] == 'u') {
					unsigned long lo;

					ps->p += 2;
					if (!hex4(ps, &lo)) {
						free(buf);
						return false;
					}
					if (lo >= 0xdc00 && lo < 0xe000)
						cp = 0x10000 + ((cp - 0xd800) << 10) +
						     (lo - 0xdc00);
				}
				break;
			default:
				free(buf);
				return perr(ps, "bad escape \\%c", e);
			}
			put_utf8(&buf, &len, &cap, cp);
			continue;
		}
		if (len + 2 > cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		buf[len++] = (char)c;
	}
	buf[len] = '\0';
	*out = buf;
	return true;
}

static bool is_digit(const struct parser *ps)
{
	return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

static bool parse_number(struct parser *ps, struct jval *v)
{
	const char *start = ps->p;
	char tmp[64];

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (!is_digit(ps))
		return perr(ps, "bad number");
	if (*ps->p == '0')
		ps->p++;
	else
		while (is_digit(ps))
			ps->p++;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (!is_digit(ps))
			return perr(ps, "bad number");
		while (is_digit(ps))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!is_digit(ps))
			return perr(ps, "bad number");
		while (is_digit(ps))
			ps->p++;
	}
	if ((size_t)(ps->p - start) >= sizeof(tmp))
		return perr(ps, "number too long");
	memcpy(tmp, start, (size_t)(ps->p - start));
	tmp[ps->p - start] = '\0';
	v->type = J_NUM;
	v->num = strtod(tmp, NULL);
	return true;
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return perr(ps, "unexpected character '%c'", *ps->p);
	ps->p += n;
	return true;
}

/* An array or an object: items separated by commas up to @close. */
static bool parse_items(struct parser *ps, struct jval *v, char close, int depth)
{
	size_t cap = 0;

	ps->p++; /* the opening bracket */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return true;
	}
	for (;;) {
		if (v->n == cap) {
			cap = cap ? 2 * cap : 8;
			v->items = xrealloc(v->items, cap * sizeof(*v->items));
			if (v->type == J_OBJ)
				v->keys = xrealloc(v->keys, cap * sizeof(*v->keys));
		}
		memset(&v->items[v->n], 0, sizeof(v->items[v->n]));
		skip_ws(ps);
		if (v->type == J_OBJ) {
			if (ps->p >= ps->end || *ps->p != '"')
				return perr(ps, "expected a key");
			if (!parse_string(ps, &v->keys[v->n]))
				return false;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(v->keys[v->n]);
				return perr(ps, "expected ':'");
			}
			ps->p++;
		}
		if (!parse_value(ps, &v->items[v->n], depth + 1)) {
			if (v->type == J_OBJ)
				free(v->keys[v->n]);
			return false;
		}
		v->n++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return true;
		}
		return perr(ps, "expected ',' or '%c'", close);
	}
}

static bool parse_value(struct parser *ps, struct jval *v, int depth)
{
	memset(v, 0, sizeof(*v));
	if (depth > MAX_DEPTH)
		return perr(ps, "nested too deeply");
	skip_ws(ps);
	if (ps->p >= ps->end)
		return perr(ps, "unexpected end of input");
	switch (*ps->p) {
	case '{':
		v->type = J_OBJ;
		return parse_items(ps, v, '}', depth);
	case '[':
		v->type = J_ARR;
		return parse_items(ps, v, ']', depth);
	case '"':
		v->type = J_STR;
		return parse_string(ps, &v->str);
	case 't':
		v->type = J_BOOL;
		v->num = 1;
		return literal(ps, "true");
	case 'f':
		v->type = J_BOOL;
		return literal(ps, "false");
	case 'n':
		return literal(ps, "null");
	default:
		return parse_number(ps, v);
	}
}

static const struct jval *jget(const struct jval *obj, const char *key)
{
	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->n; i++) {
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Snapshots and series                                                     */

/* The fields the analysis reads; a map or domain without one is bad input. */
static const char *const map_fields[] = {
	"entries",
	"buckets",
	"overflow_buckets",
	"free_slots_in_used",
	"bytes_allocated",
	"bytes_pending",
	"rebuilds",
	"evac_alloc_failures",
	"bytes_pinned",
	"iterators",
	NULL,
};
static const char *const gc_fields[] = {
	"cycles", "registered", "roots", "finalized", "pending", "cycles_found", NULL,
};

/* One object (map or domain) as seen in one snapshot. */
struct sample {
	size_t snap; /* index of the snapshot */
	double t_ms; /* its time, or -1 */
	const struct jval *obj;
};

/* Every sample of one object, in snapshot order. */
struct series {
	char *id;
	char name[96]; /* id, and serial when known, for messages */
	double serial; /* creation number: an address can be reused */
	bool is_gc;
	struct sample *s;
	size_t n, cap;
};

static struct jval **roots; /* every parsed document */
static size_t nr_roots, cap_roots;
static struct series *all;
static size_t nr_series, cap_series;
static size_t nr_snaps;

static double num(const struct jval *obj, const char *key)
{
	const struct jval *v = jget(obj, key);

	return v && v->type == J_NUM ? v->num : 0;
}

static bool add_object(struct parser *ps, const struct jval *obj, double snap_t)
{
	const struct jval *type = jget(obj, "type"), *id = jget(obj, "id"), *t = jget(obj, "t_ms");
	double serial = num(obj, "serial");
	const char *const *fields;
	struct series *se = NULL;
	bool is_gc;

	if (!obj || obj->type != J_OBJ)
		return perr(ps, "a snapshot entry is not an object");
	if (!type || type->type != J_STR || !id || id->type != J_STR)
		return perr(ps, "an object without \"type\" and \"id\" strings");
	if (strcmp(type->str, "map") == 0)
		is_gc = false;
	else if (strcmp(type->str, "gc") == 0)
		is_gc = true;
	else
		return perr(ps, "unknown object type \"%s\"", type->str);
	fields = is_gc ? gc_fields : map_fields;
	for (size_t i = 0; fields[i]; i++) {
		const struct jval *f = jget(obj, fields[i]);

		if (!f || f->type != J_NUM || f->num < 0)
			return perr(ps, "%s %s: no number \"%s\"", type->str, id->str, fields[i]);
	}
	for (size_t i = 0; i < nr_series; i++) {
		if (all[i].is_gc == is_gc && all[i].serial == serial &&
		    strcmp(all[i].id, id->str) == 0)
			se = &all[i];
	}
	if (!se) {
		if (nr_series == cap_series) {
			cap_series = cap_series ? 2 * cap_series : 16;
			all = xrealloc(all, cap_series * sizeof(*all));
		}
		se = &all[nr_series++];
		memset(se, 0, sizeof(*se));
		se->id = id->str;
		se->serial = serial;
		se->is_gc = is_gc;
		if (serial > 0)
			snprintf(se->name, sizeof(se->name), "%s (#%.0f)", id->str, serial);
		else
			snprintf(se->name, sizeof(se->name), "%s", id->str);
	}
	if (se->n && se->s[se->n - 1].snap == nr_snaps)
		return perr(ps, "%s %s appears twice in one snapshot", type->str, id->str);
	if (se->n == se->cap) {
		se->cap = se->cap ? 2 * se->cap : 16;
		se->s = xrealloc(se->s, se->cap * sizeof(*se->s));
	}
	se->s[se->n].snap = nr_snaps;
	se->s[se->n].t_ms = t && t->type == J_NUM ? t->num : snap_t;
	se->s[se->n].obj = obj;
	se->n++;
	return true;
}

static bool add_list(struct parser *ps, const struct jval *list, double t)
{
	if (!list)
		return true;
	if (list->type != J_ARR)
		return perr(ps, "\"maps\" and \"gcs\" must be arrays");
	for (size_t i = 0; i < list->n; i++) {
		if (!add_object(ps, &list->items[i], t))
			return false;
	}
	return true;
}

/*
 * Read @file: each top-level {"maps":[...],"gcs":[...]} value is a snapshot
 * of its own (a GCMAP_STATS line); the bare objects of a file (with "type"),
 * or arrays of them, together form one snapshot.
 */
static bool read_file(const char *file, char *err, size_t errlen)
{
	struct parser ps = { .file = file };
	FILE *f = fopen(file, "rb");
	char *text = NULL;
	size_t len = 0, cap = 0, rd, nr_values = 0;
	bool bare = false;

	if (!f) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return false;
	}
	do {
		if (cap - len < 65536) {
			cap = cap ? 2 * cap : 65536;
			text = xrealloc(text, cap);
		}
		rd = fread(text + len, 1, cap - len, f);
		len += rd;
	} while (rd > 0);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", file);
		fclose(f);
		free(text);
		return false;
	}
	fclose(f);
	ps.s = ps.p = text;
	ps.end = text + len;
	for (;;) {
		struct jval *v;

		skip_ws(&ps);
		if (ps.p >= ps.end)
			break;
		/* Kept to the end (the samples point into the trees), and
		 * reachable from roots[] so leak checkers stay quiet. */
		v = xrealloc(NULL, sizeof(*v));
		if (nr_roots == cap_roots) {
			cap_roots = cap_roots ? 2 * cap_roots : 64;
			roots = xrealloc(roots, cap_roots * sizeof(*roots));
		}
		roots[nr_roots++] = v;
		if (!parse_value(&ps, v, 0))
			break;
		nr_values++;
		/* A domain has a "maps" count too: a snapshot has no "type". */
		if (v->type == J_OBJ && !jget(v, "type") && (jget(v, "maps") || jget(v, "gcs"))) {
			if (bare) {
				perr(&ps, "snapshot lines mixed with bare objects");
				break;
			}
			if (!add_list(&ps, jget(v, "maps"), num(v, "t_ms")) ||
			    !add_list(&ps, jget(v, "gcs"), num(v, "t_ms")))
				break;
			nr_snaps++;
		} else if (v->type == J_ARR) {
			if (!add_list(&ps, v, -1))
				break;
			bare = true;
		} else {
			if (!add_object(&ps, v, -1))
				break;
			bare = true;
		}
	}
	if (!ps.err[0] && nr_values == 0)
		perr(&ps, "no JSON value");
	free(text); /* the trees hold copies of their strings */
	if (ps.err[0]) {
		snprintf(err, errlen, "%s", ps.err);
		return false;
	}
	if (bare)
		nr_snaps++;
	return true;
}

/* ------------------------------------------------------------------------ */
/* Analysis                                                                 */

static unsigned int opt_window = 3;
static double opt_min_bytes = 4096, opt_min_percent = 10;
static unsigned int nr_findings;

/* Size of one bucket (struct gcmap_bucket: 8 tags, lock, seq, overflow link,
 * 8 key/value pairs), to weigh overflow buckets against the other causes. */
#define BUCKET_BYTES 152.0

static void finding(const char *kind, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void finding(const char *kind, const char *id, const char *fmt, ...)
{
	va_list ap;

	printf("%s: %s %s: ", prog, kind, id);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	nr_findings++;
}

static void why(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void why(const char *label, const char *fmt, ...)
{
	va_list ap;

	printf("  %s: ", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static double seconds(const struct sample *a, const struct sample *b)
{
	return a->t_ms >= 0 && b->t_ms >= 0 ? (b->t_ms - a->t_ms) / 1000.0 : 0;
}

#define D(field) (num(l, field) - num(f, field))

/* One candidate cause of a map's growth, with its weight in bytes. */
struct cause {
	double bytes;
	char text[400];
};

static int cmp_cause(const void *a, const void *b)
{
	const struct cause *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

static void check_map(const struct series *se)
{
	const struct jval *f = se->s[0].obj, *l = se->s[se->n - 1].obj;
	double growth = D("bytes_allocated"), first = num(f, "bytes_allocated");
	struct cause c[5];
	size_t nc = 0;

	if (growth < opt_min_bytes || growth < first * opt_min_percent / 100.0)
		return;
	if (num(l, "entries") > num(f, "entries"))
		return; /* it holds more: growth is expected */
	finding("map", se->name,
		"bytes_allocated %.0f -> %.0f (+%.0f) over %zu snapshots (%.1f s) while entries "
		"%.0f -> %.0f",
		first, num(l, "bytes_allocated"), growth, se->n,
		seconds(&se->s[0], &se->s[se->n - 1]), num(f, "entries"), num(l, "entries"));
	if (D("bytes_pinned") > 0 || D("iterators") > 0) {
		c[nc].bytes = D("bytes_pinned");
		snprintf(c[nc++].text, sizeof(c[0].text),
			 "pinned iterators: iterators %.0f -> %.0f, bytes_pinned %.0f -> %.0f; "
			 "an iterator is never ended: call gcmap_iter_end() for every "
			 "gcmap_iter_begin(), also when a walk stops early",
			 num(f, "iterators"), num(l, "iterators"), num(f, "bytes_pinned"),
			 num(l, "bytes_pinned"));
	}
	if (D("bytes_pending") > 0) {
		c[nc].bytes = D("bytes_pending");
		snprintf(
			c[nc++].text, sizeof(c[0].text),
			"retired tables and key copies waiting for a grace period: bytes_pending "
			"%.0f -> %.0f; a thread stays inside a read-side section (gcmap_read_lock() "
			"without gcmap_read_unlock()), so no grace period ends",
			num(f, "bytes_pending"), num(l, "bytes_pending"));
	}
	if (D("overflow_buckets") > 0 && D("free_slots_in_used") > 0) {
		c[nc].bytes = D("overflow_buckets") * BUCKET_BYTES;
		snprintf(c[nc++].text, sizeof(c[0].text),
			 "holes: free_slots_in_used %.0f -> %.0f in overflow_buckets %.0f -> %.0f "
			 "(rebuilds %.0f -> %.0f); deletes leave empty slots in overflow chains "
			 "that only a rebuild reclaims: call gcmap_maintain() on a map that is "
			 "mostly read%s",
			 num(f, "free_slots_in_used"), num(l, "free_slots_in_used"),
			 num(f, "overflow_buckets"), num(l, "overflow_buckets"), num(f, "rebuilds"),
			 num(l, "rebuilds"),
			 D("evac_alloc_failures") > 0 ? "; evacuations failed to allocate" : "");
	} else if (D("overflow_buckets") > 0) {
		c[nc].bytes = D("overflow_buckets") * BUCKET_BYTES;
		snprintf(c[nc++].text, sizeof(c[0].text),
			 "overflow buckets: overflow_buckets %.0f -> %.0f with as many entries; "
			 "keys collide into long chains (longest_chain %.0f): check the hash seed "
			 "(GCMAP_F_FIXED_SEED) and call gcmap_maintain()",
			 num(f, "overflow_buckets"), num(l, "overflow_buckets"),
			 num(l, "longest_chain"));
	}
	if (D("buckets") > 0) {
		c[nc].bytes = D("buckets") * BUCKET_BYTES;
		snprintf(c[nc++].text, sizeof(c[0].text),
			 "a larger table: buckets %.0f -> %.0f for as many entries; the table grew "
			 "and did not shrink back: call gcmap_maintain() with "
			 "GCMAP_MAINTAIN_SHRINK_TO_FIT",
			 num(f, "buckets"), num(l, "buckets"));
	}
	if (nc == 0) {
		why("likely cause", "none of the map's counters explains it (key copies or "
				    "allocator use outside the counters)");
		return;
	}
	qsort(c, nc, sizeof(c[0]), cmp_cause);
	why("likely cause", "%s", c[0].text);
	for (size_t i = 1; i < nc; i++)
		why("also", "%s", c[i].text);
}

static void check_gc_growth(const struct series *se)
{
	const struct jval *f = se->s[0].obj, *l = se->s[se->n - 1].obj;

	if (D("registered") <= 0 || D("finalized") > 0)
		return;
	for (size_t i = 1; i < se->n; i++) {
		if (num(se->s[i].obj, "registered") < num(se->s[i - 1].obj, "registered"))
			return; /* it went down: objects are released */
	}
	finding("domain", se->name,
		"registered %.0f -> %.0f (+%.0f), only growing over %zu snapshots (%.1f s), while "
		"finalized stays %.0f",
		num(f, "registered"), num(l, "registered"), D("registered"), se->n,
		seconds(&se->s[0], &se->s[se->n - 1]), num(l, "finalized"));
	if (D("cycles") <= 0)
		why("likely cause",
		    "no collection cycle ran (cycles %.0f -> %.0f), so no object is ever found "
		    "unreachable: call gcmap_gc_collect() periodically, or create the domain with "
		    "GCMAP_GC_F_BACKGROUND and a pace_percent",
		    num(f, "cycles"), num(l, "cycles"));
	else if (num(l, "pending") > 0)
		why("likely cause",
		    "cycles run and queued %.0f finalizers, but none ran: call "
		    "gcmap_gc_run_finalizers() or use GCMAP_GC_F_BACKGROUND",
		    num(l, "pending"));
	else if (D("cycles_found") > 0)
		why("likely cause",
		    "objects with finalizers in reference cycles are never finalized (cycles_found "
		    "%.0f -> %.0f): break the cycles, or register one object of each without a "
		    "finalizer",
		    num(f, "cycles_found"), num(l, "cycles_found"));
	else if (D("roots") > 0)
		why("likely cause",
		    "roots %.0f -> %.0f: objects made roots with gcmap_gc_root_add() are never "
		    "released with gcmap_gc_root_remove()",
		    num(f, "roots"), num(l, "roots"));
	else
		why("likely cause",
		    "cycles run (cycles %.0f -> %.0f) but find every object reachable: they stay "
		    "stored in attached maps or reachable from roots; delete them from the maps "
		    "when they are no longer needed",
		    num(f, "cycles"), num(l, "cycles"));
}

static void check_gc_pending(const struct series *se)
{
	const struct sample *w, *last = &se->s[se->n - 1];

	if (opt_window == 0 || se->n < opt_window)
		return;
	w = &se->s[se->n - opt_window];
	for (const struct sample *s = w; s <= last; s++) {
		if (num(s->obj, "pending") <= 0)
			return;
	}
	/* Finalizers that run and keep up with the sweeps are not stuck: the
	 * batch queued at the window's start must have run by its end. */
	if (num(last->obj, "finalized") - num(w->obj, "finalized") >= num(w->obj, "pending"))
		return;
	finding("domain", se->name,
		"finalizers pending in each of the last %u snapshots (%.1f s): pending %.0f -> "
		"%.0f, finalized %.0f -> %.0f",
		opt_window, seconds(w, last), num(w->obj, "pending"), num(last->obj, "pending"),
		num(w->obj, "finalized"), num(last->obj, "finalized"));
	why("likely cause",
	    "queued finalizers are not run: without GCMAP_GC_F_BACKGROUND call "
	    "gcmap_gc_run_finalizers() after each cycle; with it, a finalizer blocks or the "
	    "finalizer thread is starved");
}

#undef D

static bool parse_uint(const char *s, double *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-')
		return false;
	*out = (double)v;
	return true;
}

int main(int argc, char **argv)
{
	size_t nr_maps = 0, nr_gcs = 0, compared = 0;
	char err[200];
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *opt = argv[i];
		double v;

		if (strcmp(opt, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if ((strcmp(opt, "-n") && strcmp(opt, "-b") && strcmp(opt, "-p")) ||
		    i + 1 >= argc || !parse_uint(argv[i + 1], &v)) {
			usage(stderr);
			return EXIT_BAD;
		}
		i++;
		if (opt[1] == 'n')
			opt_window = v > 1000000 ? 1000000 : (unsigned int)v;
		else if (opt[1] == 'b')
			opt_min_bytes = v;
		else
			opt_min_percent = v;
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_BAD;
	}
	for (; i < argc; i++) {
		if (!read_file(argv[i], err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", prog, err);
			return EXIT_BAD;
		}
	}
	if (nr_snaps < 2) {
		fprintf(stderr, "%s: %zu snapshot(s); at least two are needed to compare\n", prog,
			nr_snaps);
		return EXIT_BAD;
	}
	for (size_t k = 0; k < nr_series; k++) {
		const struct series *se = &all[k];

		*(se->is_gc ? &nr_gcs : &nr_maps) += 1;
		if (se->n < 2)
			continue; /* seen once: nothing to compare */
		compared++;
		if (se->is_gc) {
			check_gc_growth(se);
			check_gc_pending(se);
		} else {
			check_map(se);
		}
	}
	if (nr_findings) {
		printf("%s: %u finding(s) in %zu maps and %zu domains over %zu snapshots\n", prog,
		       nr_findings, nr_maps, nr_gcs, nr_snaps);
		return EXIT_FOUND;
	}
	printf("%s: no leak found in %zu maps and %zu domains over %zu snapshots (%zu compared)\n",
	       prog, nr_maps, nr_gcs, nr_snaps, compared);
	return 0;
}
