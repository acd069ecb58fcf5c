/*
 * lincheck_model.h - the per-key register model and the linearizability
 * search of stress/lincheck.c: an operation record, the sequential spec of
 * one key (absent or a value), a memoised Wing-Gong/Lowe search, and the
 * reduction of a failing history to a small one that still fails.
 */
#ifndef GCMAP_LINCHECK_MODEL_H
#define GCMAP_LINCHECK_MODEL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LC_MAX_THREADS 32
#define LC_MAX_THREAD_OPS 65535 /* per thread and key: the search counts in uint16_t */
#define LC_PENDING UINT64_MAX /* resp of an operation that had not returned at a cut */
#define LC_ABSENT 0 /* register state "no entry"; values are never 0 */
#define LC_MAX_ENDS 8 /* end states a reduction keeps track of */
#define LC_KEY_ALL 0xffff /* the key of a clear: it is in every key's history */

enum lc_opcode { LC_GET, LC_PUT, LC_INSERT, LC_REPLACE, LC_CAS, LC_DELETE, LC_CLEAR };
#define LC_NR_OPS 7

/*
 * struct lc_event - one completed (or, in a cut history, pending) operation.
 * @inv, @resp: stamps taken just before the call and just after its return;
 *              @resp is LC_PENDING for an operation cut off before it returned.
 * @arg: the value written (put, insert, replace, cas's desired).
 * @exp: cas's expected value.
 * @out: the value the call returned through its out-parameter, LC_ABSENT if none.
 * @ret: the return code (put: 1 inserted, 0 replaced).
 * @evac: an evacuation was in flight when the operation was invoked (statistics).
 * @marking: a collector cycle was marking when it was invoked (statistics).
 * @key: the key, LC_KEY_ALL for a clear.
 */
struct lc_event {
	uint64_t inv, resp;
	uint64_t arg, exp, out;
	int32_t ret;
	uint8_t op, thread, evac, marking;
	uint16_t key;
};

/*
 * Whether @e belongs to key @k's history. A clear acts on every key, so
 * it is copied into every key's history with its own stamps: each key's
 * check is a separate search over its own copy (see lincheck.c's design
 * block for what this projection does not check).
 */
static inline bool lc_in_key(const struct lc_event *e, unsigned int k)
{
	return e->op == LC_CLEAR || e->key == k;
}

/*
 * The sequential specification of one key. Return true if @e, applied to
 * register state @s, may return what it returned, with the new state in
 * *@ns. A pending operation may have taken effect with any result: only its
 * effect is applied.
 */
static bool lc_apply(const struct lc_event *e, uint64_t s, uint64_t *ns)
{
	bool pending = e->resp == LC_PENDING;

	*ns = s;
	switch (e->op) {
	case LC_GET:
		if (pending)
			return true;
		return e->ret == 0 ? s != LC_ABSENT && e->out == s : s == LC_ABSENT;
	case LC_PUT:
		*ns = e->arg;
		if (pending)
			return true;
		return e->ret == 1 ? s == LC_ABSENT : s != LC_ABSENT && e->out == s;
	case LC_INSERT:
		if (s == LC_ABSENT)
			*ns = e->arg;
		if (pending)
			return true;
		return e->ret == 0 ? s == LC_ABSENT : s != LC_ABSENT && e->out == s;
	case LC_REPLACE:
		if (s != LC_ABSENT)
			*ns = e->arg;
		if (pending)
			return true;
		return e->ret == 0 ? s != LC_ABSENT && e->out == s : s == LC_ABSENT;
	case LC_CAS:
		if (s != LC_ABSENT && s == e->exp)
			*ns = e->arg;
		if (pending)
			return true;
		if (e->ret == 0)
			return s != LC_ABSENT && s == e->exp && e->out == s;
		if (e->ret == -ECANCELED)
			return s != LC_ABSENT && s != e->exp && e->out == s;
		return s == LC_ABSENT;
	case LC_CLEAR:
		/* Empties the register whatever it held; always returns 0. */
		*ns = LC_ABSENT;
		return pending || e->ret == 0;
	case LC_DELETE:
	default:
		*ns = LC_ABSENT;
		if (pending)
			return true;
		return e->ret == 0 ? s != LC_ABSENT && e->out == s : s == LC_ABSENT;
	}
}

/* Whether @e left the register unchanged by its specification (a pure
 * observation): removing such an operation never makes a linearizable
 * history non-linearizable. */
static bool lc_is_observer(const struct lc_event *e)
{
	if (e->resp == LC_PENDING)
		return false;
	switch (e->op) {
	case LC_GET:
		return true;
	case LC_PUT:
	case LC_CLEAR:
		return false;
	case LC_INSERT:
	case LC_CAS:
		return e->ret != 0;
	default:
		return e->ret != 0; /* replace, delete: -ENOENT */
	}
}

/* ---------------------------------------------------------------------- */
/* The search                                                             */

/*
 * Each thread's operations on a key are sequential, so a set of linearized
 * operations that respects program order is a prefix per thread: a
 * configuration is (c[0..T-1], register state), and the visited set holds
 * configurations already known to lead nowhere (Lowe's memoisation of WGL).
 * An entry is [hash | 1, state, c packed four to a word].
 */
/* One level of the search: the state on entry, the bound on invocations
 * (lc_minresp()), and the next thread whose operation to try. */
struct lc_frame {
	uint64_t reg, minresp;
	unsigned int next_t;
};

struct lc_search {
	unsigned int nthr;
	const struct lc_event **ops[LC_MAX_THREADS]; /* per thread, program order */
	size_t nops[LC_MAX_THREADS];
	size_t ndone[LC_MAX_THREADS]; /* completed ones (a pending op is last) */
	uint16_t c[LC_MAX_THREADS];
	uint64_t reg;
	/* end states of complete linearizations, when collecting (lc_end_states) */
	bool collect;
	size_t nends;
	uint64_t ends[LC_MAX_ENDS];
	/* visited set: open addressing, linear probing */
	uint64_t *set;
	size_t set_cap, set_len, words;
	size_t budget; /* most configurations visited before giving up */
	struct lc_frame *stk; /* explicit DFS stack */
	size_t stk_cap;
	/* scratch storage for the per-thread lists */
	const struct lc_event **buf;
	size_t buf_cap;
};

static void *lc_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fprintf(stderr, "lincheck: out of memory (%zu bytes)\n", n);
		exit(2);
	}
	return q;
}

static void lc_search_free(struct lc_search *s)
{
	free(s->set);
	free(s->stk);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static uint64_t lc_mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dull;
	x ^= x >> 33;
	return x;
}

/* The current configuration as set words (without the hash word). */
static void lc_conf_words(const struct lc_search *s, uint64_t *w)
{
	w[0] = s->reg;
	for (size_t i = 1; i < s->words - 1; i++)
		w[i] = 0;
	for (unsigned int t = 0; t < s->nthr; t++)
		w[1 + t / 4] |= (uint64_t)s->c[t] << (16 * (t % 4));
}

static void lc_set_put(uint64_t *set, size_t cap, size_t words, const uint64_t *e)
{
	size_t i = (size_t)(e[0] & (cap - 1));

	while (set[i * words])
		i = (i + 1) & (cap - 1);
	memcpy(&set[i * words], e, words * sizeof(uint64_t));
}

/* Add the current configuration. Return 1 if new, 0 if already visited,
 * -1 if the budget is spent. */
static int lc_visit(struct lc_search *s)
{
	uint64_t e[1 + 1 + LC_MAX_THREADS / 4];
	uint64_t h = 0;
	size_t i;

	lc_conf_words(s, e + 1);
	for (size_t k = 1; k < s->words; k++)
		h = lc_mix(h ^ e[k]);
	e[0] = h | 1;
	for (i = (size_t)(e[0] & (s->set_cap - 1)); s->set[i * s->words];
	     i = (i + 1) & (s->set_cap - 1)) {
		if (!memcmp(&s->set[i * s->words], e, s->words * sizeof(uint64_t)))
			return 0;
	}
	if (s->set_len >= s->budget)
		return -1;
	if (2 * (s->set_len + 1) > s->set_cap) {
		size_t ncap = 2 * s->set_cap;
		uint64_t *nset = calloc(ncap * s->words, sizeof(uint64_t));

		if (!nset) {
			fprintf(stderr, "lincheck: out of memory\n");
			exit(2);
		}
		for (size_t j = 0; j < s->set_cap; j++)
			if (s->set[j * s->words])
				lc_set_put(nset, ncap, s->words, &s->set[j * s->words]);
		free(s->set);
		s->set = nset;
		s->set_cap = ncap;
	}
	lc_set_put(s->set, s->set_cap, s->words, e);
	s->set_len++;
	return 1;
}

/*
 * The operation thread @t would linearize next may go first unless some
 * not yet linearized operation returned before it was invoked: since each
 * thread's operations are sequential, that is the case iff its invocation
 * is after the smallest response among the threads' next operations.
 * Equal stamps count as concurrent.
 */
static uint64_t lc_minresp(const struct lc_search *s)
{
	uint64_t m = LC_PENDING;

	for (unsigned int t = 0; t < s->nthr; t++)
		if (s->c[t] < s->nops[t] && s->ops[t][s->c[t]]->resp < m)
			m = s->ops[t][s->c[t]]->resp;
	return m;
}

static bool lc_all_done(const struct lc_search *s)
{
	for (unsigned int t = 0; t < s->nthr; t++)
		if (s->c[t] < s->ndone[t])
			return false;
	return true;
}

/* Depth-first search from the empty configuration. Return 1 linearizable,
 * 0 not, -1 undecided (budget spent). When collecting, every complete
 * linearization's end state goes to s->ends and the search goes on (0). */
static int lc_dfs(struct lc_search *s)
{
	size_t d = 0, total = 0;

	for (unsigned int t = 0; t < s->nthr; t++)
		total += s->nops[t];
	if (s->stk_cap < total + 1) {
		s->stk_cap = total + 1;
		s->stk = lc_xrealloc(s->stk, s->stk_cap * sizeof(*s->stk));
	}
	if (lc_visit(s) < 0)
		return -1;
	s->stk[0].reg = s->reg;
	s->stk[0].minresp = lc_minresp(s);
	s->stk[0].next_t = 0;
	for (;;) {
		struct lc_frame *f = &s->stk[d];
		bool pushed = false;

		if (f->next_t == 0 && lc_all_done(s)) {
			size_t i = 0;

			if (!s->collect)
				return 1;
			/* Collecting: note the state, keep searching. */
			while (i < s->nends && s->ends[i] != s->reg)
				i++;
			if (i == LC_MAX_ENDS)
				return -1;
			if (i == s->nends)
				s->ends[s->nends++] = s->reg;
		}
		while (f->next_t < s->nthr) {
			unsigned int t = f->next_t++;
			const struct lc_event *e;
			uint64_t ns;
			int r;

			if (s->c[t] >= s->nops[t])
				continue;
			e = s->ops[t][s->c[t]];
			if (e->inv > f->minresp || !lc_apply(e, f->reg, &ns))
				continue;
			s->c[t]++;
			s->reg = ns;
			r = lc_visit(s);
			if (r < 0)
				return -1;
			if (r == 0) {
				s->c[t]--;
				s->reg = f->reg;
				continue;
			}
			d++;
			s->stk[d].reg = ns;
			s->stk[d].minresp = lc_minresp(s);
			s->stk[d].next_t = 0;
			pushed = true;
			break;
		}
		if (pushed)
			continue;
		if (d == 0)
			return 0;
		/* Undo the step that led here: the parent's last tried thread. */
		d--;
		s->c[s->stk[d].next_t - 1]--;
		s->reg = s->stk[d].reg;
	}
}

/*
 * lc_search_run() - whether the history @ev[0..@n) of one key is linearizable
 * from register state @init (lc_check(): from absent); with @collect, the
 * states it may end in instead (lc_end_states()).
 * @nthr: threads (ev[i].thread < @nthr). Each thread's events must be in
 * program order (increasing @inv); a pending event must be its thread's last.
 * Return: 1 linearizable, 0 not, -1 undecided (more than @budget configurations).
 */
static int lc_search_run(struct lc_search *s, const struct lc_event *ev, size_t n,
			 unsigned int nthr, size_t budget, uint64_t init, bool collect)
{
	size_t off[LC_MAX_THREADS + 1] = { 0 };

	s->nthr = nthr;
	s->budget = budget;
	s->reg = init;
	s->collect = collect;
	s->nends = 0;
	s->words = 1 + 1 + (nthr + 3) / 4;
	for (unsigned int t = 0; t < nthr; t++) {
		s->nops[t] = 0;
		s->ndone[t] = 0;
		s->c[t] = 0;
	}
	for (size_t i = 0; i < n; i++) {
		s->nops[ev[i].thread]++;
		if (ev[i].resp != LC_PENDING)
			s->ndone[ev[i].thread]++;
	}
	for (unsigned int t = 0; t < nthr; t++) {
		if (s->nops[t] > LC_MAX_THREAD_OPS) {
			fprintf(stderr,
				"lincheck: more than %d operations of one thread on a key\n",
				LC_MAX_THREAD_OPS);
			exit(2);
		}
		off[t + 1] = off[t] + s->nops[t];
	}
	if (s->buf_cap < n) {
		s->buf_cap = n;
		s->buf = lc_xrealloc(s->buf, n * sizeof(*s->buf));
	}
	for (unsigned int t = 0; t < nthr; t++) {
		s->ops[t] = s->buf + off[t];
		s->nops[t] = 0;
	}
	for (size_t i = 0; i < n; i++)
		s->ops[ev[i].thread][s->nops[ev[i].thread]++] = &ev[i];
	/* The visited set starts empty; a history of n operations and T threads
	 * rarely needs more than a few times n configurations. */
	{
		size_t cap = 64;

		while (cap < 4 * (n + 1))
			cap *= 2;
		if (s->set_cap < cap || s->set_cap > 4 * cap) {
			free(s->set);
			s->set_cap = cap;
			s->set = NULL;
		}
		s->set = lc_xrealloc(s->set, s->set_cap * s->words * sizeof(uint64_t));
		memset(s->set, 0, s->set_cap * s->words * sizeof(uint64_t));
		s->set_len = 0;
	}
	return lc_dfs(s);
}

static int lc_check(struct lc_search *s, const struct lc_event *ev, size_t n, unsigned int nthr,
		    size_t budget)
{
	return lc_search_run(s, ev, n, nthr, budget, LC_ABSENT, false);
}

/* Whether @ev fails from every state of @init[0..@ninit). */
static bool lc_fails_from(struct lc_search *s, const struct lc_event *ev, size_t n,
			  unsigned int nthr, size_t budget, const uint64_t *init, size_t ninit)
{
	for (size_t i = 0; i < ninit; i++)
		if (lc_search_run(s, ev, n, nthr, budget, init[i], false) != 0)
			return false;
	return true;
}

/* The states in which the complete history @ev may end (from absent), in
 * s->ends[0..s->nends). Return: 0, or -1 if undecided or more than
 * LC_MAX_ENDS states. */
static int lc_end_states(struct lc_search *s, const struct lc_event *ev, size_t n,
			 unsigned int nthr, size_t budget)
{
	return lc_search_run(s, ev, n, nthr, budget, LC_ABSENT, true) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Reducing a failing history                                             */

static int lc_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The history as it stood at time @cut: operations invoked after it are
 * dropped, those that returned after it become pending. Program order is
 * kept. Return the number of events written to @out. */
static size_t lc_cut(const struct lc_event *ev, size_t n, uint64_t cut, struct lc_event *out)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (ev[i].inv > cut)
			continue;
		out[m] = ev[i];
		if (out[m].resp > cut)
			out[m].resp = LC_PENDING;
		m++;
	}
	return m;
}

static int lc_cmp_inv(const void *a, const void *b)
{
	const struct lc_event *x = a, *y = b;

	return x->inv < y->inv ? -1 : x->inv > y->inv;
}

/*
 * lc_reduce() - a small sub-history of the failing history @ev[0..@n) that
 * still fails; written to @out (room for @n events, sorted by invocation),
 * its length returned, and the register states it fails from in
 * @init[0..*@ninit) (room for LC_MAX_ENDS). Each step keeps the guarantee "if
 * the original were linearizable, the reduced one would be too from one of
 * those states", so the result is a witness by itself:
 * 1. the earliest cut that fails (linearizability is prefix-closed once
 *    operations running at the cut are pending: binary search over stamps);
 * 2. at the latest point where no operation was running and a write still
 *    follows, the operations before it are replaced by the states they may
 *    end in (every linearization orders them first);
 * 3. completed pure observations (gets, failed inserts, cas, replaces and
 *    deletes) that the failure does not need are removed one at a time.
 */
static size_t lc_reduce(struct lc_search *s, const struct lc_event *ev, size_t n, unsigned int nthr,
			size_t budget, struct lc_event *out, uint64_t *init, size_t *ninit)
{
	uint64_t *stamps = lc_xrealloc(NULL, 2 * n * sizeof(uint64_t));
	struct lc_event *tmp = lc_xrealloc(NULL, n * sizeof(*tmp));
	size_t ns = 0, lo, hi, m, split = 0, last_write = 0;
	uint64_t maxresp = 0;

	for (size_t i = 0; i < n; i++) {
		stamps[ns++] = ev[i].inv;
		if (ev[i].resp != LC_PENDING)
			stamps[ns++] = ev[i].resp;
	}
	qsort(stamps, ns, sizeof(uint64_t), lc_cmp_u64);
	/* 1. Invariant: the cut at stamps[hi] fails, the one at stamps[lo-1] not. */
	lo = 0;
	hi = ns - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		size_t k = lc_cut(ev, n, stamps[mid], tmp);

		if (lc_check(s, tmp, k, nthr, budget) == 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	m = lc_cut(ev, n, stamps[hi], out);
	qsort(out, m, sizeof(*out), lc_cmp_inv); /* keeps each thread's order */
	init[0] = LC_ABSENT;
	*ninit = 1;
	/* 2. The latest quiescent split with a completed write after it. */
	for (size_t i = 0; i < m; i++)
		if (out[i].resp != LC_PENDING && !lc_is_observer(&out[i]))
			last_write = i;
	for (size_t i = 1; i <= last_write; i++) {
		if (out[i - 1].resp > maxresp)
			maxresp = out[i - 1].resp;
		if (maxresp < out[i].inv)
			split = i;
	}
	if (split && lc_end_states(s, out, split, nthr, budget) == 0 && s->nends > 0) {
		size_t ne = s->nends;

		memcpy(init, s->ends, ne * sizeof(uint64_t));
		if (lc_fails_from(s, out + split, m - split, nthr, budget, init, ne)) {
			memmove(out, out + split, (m - split) * sizeof(*out));
			m -= split;
			*ninit = ne;
		} else {
			init[0] = LC_ABSENT;
		}
	}
	/* 3. Observations the failure does not need. */
	for (size_t i = 0; i < m;) {
		if (!lc_is_observer(&out[i])) {
			i++;
			continue;
		}
		memcpy(tmp, out, i * sizeof(*tmp));
		memcpy(tmp + i, out + i + 1, (m - i - 1) * sizeof(*tmp));
		if (lc_fails_from(s, tmp, m - 1, nthr, budget, init, *ninit)) {
			memcpy(out, tmp, (m - 1) * sizeof(*tmp));
			m--;
		} else {
			i++;
		}
	}
	free(stamps);
	free(tmp);
	return m;
}

/* ---------------------------------------------------------------------- */
/* Printing                                                               */

/* Values are (thread + 1) << 32 | sequence number: printed as "t<thread>#<seq>". */
static void lc_val_str(uint64_t v, char *buf, size_t len)
{
	if (v == LC_ABSENT)
		snprintf(buf, len, "absent");
	else if ((v >> 32) == 0 || (v >> 32) > LC_MAX_THREADS)
		snprintf(buf, len, "0x%llx", (unsigned long long)v);
	else
		snprintf(buf, len, "t%u#%u", (unsigned int)(v >> 32) - 1, (unsigned int)v);
}

static void lc_event_str(const struct lc_event *e, char *buf, size_t len)
{
	static const char *const name[] = { "get", "put",    "insert", "replace",
					    "cas", "delete", "clear" };
	char a[32], x[32], o[32], args[80], res[64];

	lc_val_str(e->arg, a, sizeof(a));
	lc_val_str(e->exp, x, sizeof(x));
	lc_val_str(e->out, o, sizeof(o));
	if (e->op == LC_CAS)
		snprintf(args, sizeof(args), "(%s => %s)", x, a);
	else if (e->op == LC_GET || e->op == LC_DELETE || e->op == LC_CLEAR)
		args[0] = 0;
	else
		snprintf(args, sizeof(args), "(%s)", a);
	if (e->resp == LC_PENDING)
		snprintf(res, sizeof(res), "?");
	else if (e->ret == -ENOENT)
		snprintf(res, sizeof(res), "ENOENT");
	else if (e->ret == -EEXIST || e->ret == -ECANCELED)
		snprintf(res, sizeof(res), "%s cur %s", e->ret == -EEXIST ? "EEXIST" : "ECANCELED",
			 o);
	else if (e->op == LC_GET)
		snprintf(res, sizeof(res), "%s", o);
	else if (e->op == LC_CLEAR && e->ret != 0)
		snprintf(res, sizeof(res), "%d", (int)e->ret);
	else if (e->op == LC_INSERT || e->op == LC_CAS || e->op == LC_CLEAR)
		snprintf(res, sizeof(res), "ok");
	else if (e->op == LC_PUT && e->ret == 1)
		snprintf(res, sizeof(res), "inserted");
	else
		snprintf(res, sizeof(res), "old %s", o);
	snprintf(buf, len, "%s%s -> %s", name[e->op % LC_NR_OPS], args, res);
}

static void lc_print_states(FILE *f, const uint64_t *st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char v[32];

		lc_val_str(st[i], v, sizeof(v));
		fprintf(f, "%s%s", i ? " or " : "", v);
	}
}

/* Print @ev sorted by invocation, stamps relative to the first one. */
static void lc_print_history(FILE *f, const struct lc_event *ev, size_t n)
{
	struct lc_event *tmp = lc_xrealloc(NULL, n * sizeof(*tmp));
	uint64_t base;

	memcpy(tmp, ev, n * sizeof(*tmp));
	qsort(tmp, n, sizeof(*tmp), lc_cmp_inv);
	base = n ? tmp[0].inv : 0;
	fprintf(f, "    thread  invoked  returned  operation\n");
	for (size_t i = 0; i < n; i++) {
		char op[160], r[24];

		lc_event_str(&tmp[i], op, sizeof(op));
		if (tmp[i].resp == LC_PENDING)
			snprintf(r, sizeof(r), "pending");
		else
			snprintf(r, sizeof(r), "%llu", (unsigned long long)(tmp[i].resp - base));
		fprintf(f, "    t%-5u  %7llu  %8s  %s%s\n", tmp[i].thread,
			(unsigned long long)(tmp[i].inv - base), r, op,
			tmp[i].evac ? "   [evacuating]" : "");
	}
	free(tmp);
}

#endif /* GCMAP_LINCHECK_MODEL_H */
