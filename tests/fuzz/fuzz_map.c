/*
 * fuzz_map.c - differential fuzz target: the input becomes map and collector
 * operations (both key kinds, tiny tables, forced evacuation steps,
 * iteration, allocation failures, cycles), applied to gcmap and to a simple
 * model; any difference in a return code or out-value aborts.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Input format (tests/fuzz/make-corpus.sh writes it; a missing byte reads 0):
 *
 *   byte 0: bit 0 key kind (1: byte strings); bits 1-2 log2_buckets (0..3,
 *           0 picks the default); bit 3 max_key_len 16; bit 4
 *           GCMAP_TEST_NO_POLICY; bit 5 an allocator that fails on request;
 *           bit 6 a collector domain, attached, from the start
 *   byte 1: hash seed
 *   then operations: one byte (low 5 bits: enum op; bit 5: pass NULL for
 *   out-pointers) and its operands (see run_op() and make-corpus.sh):
 *     key: u64 maps: byte b < 224 is key b, else one of 8 special keys;
 *          byte-string maps: b < 192 is one of 16 keys of each of 12
 *          lengths 0..40 (with NUL bytes), else a length byte (% 41) and
 *          that many key bytes
 *     val: a value number 0..63: 0 is NULL, n is object n of a pool
 *     obj: object 1 + b % 63
 *
 * The model: an array of keys (never shrunk, indexed by a small hash table)
 * with a present flag and a value number each. The collector's model knows
 * the registered objects, their roots, children and the map's values, so it
 * knows what is reachable: an object may be finalized only if it was
 * unreachable when a cycle began ("doomed"; the fuzzer then never stores it
 * again, as the collector's contract requires), and a cycle run with no
 * operation between begin and finish must finalize exactly the unreachable
 * objects that no other finalizable object reaches.
 *
 * Environment: FUZZ_TRACE=1 prints each operation and its result;
 * FUZZ_NEGATIVE=skip-moved|no-barrier turns a known bug back on (the
 * negative controls that replay.c runs).
 */

#define MAX_KEY 40
#define NVALS 64 /* value numbers 0..63; objects 1..63 */
#define MAX_ENTS 8192 /* model keys per input (more are skipped) */
#define INDEX_SIZE 16384 /* power of two, > 2 * MAX_ENTS */
#define HEAVY_COUNT 512 /* above this many entries, check invariants every 16 ops */

enum op {
	OP_GET,
	OP_PUT,
	OP_INSERT,
	OP_REPLACE,
	OP_CAS,
	OP_DELETE,
	OP_COUNT,
	OP_CLEAR,
	OP_MAINTAIN,
	OP_MAINTAIN_ALL,
	OP_ITERATE,
	OP_ITER_BEGIN,
	OP_ITER_STEP,
	OP_ITER_END,
	OP_EVAC_START,
	OP_BULK_PUT,
	OP_BULK_DELETE,
	OP_FAIL_ALLOC,
	OP_GC_REGISTER,
	OP_GC_UNREGISTER,
	OP_GC_ROOT_ADD,
	OP_GC_ROOT_REMOVE,
	OP_GC_SET_CHILD,
	OP_GC_BEGIN,
	OP_GC_STEP,
	OP_GC_FINISH,
	OP_GC_COLLECT,
	OP_GC_RUN_FINALIZERS,
	OP_STATS,
	OP_RECREATE,
	OP_ATTACH_TOGGLE,
	OP_FOREACH_STOP,
	NR_OPS
};

static const char *const op_names[NR_OPS + 1] = {
	[OP_GET] = "get",
	[OP_PUT] = "put",
	[OP_INSERT] = "insert",
	[OP_REPLACE] = "replace",
	[OP_CAS] = "cas",
	[OP_DELETE] = "delete",
	[OP_COUNT] = "count",
	[OP_CLEAR] = "clear",
	[OP_MAINTAIN] = "maintain",
	[OP_MAINTAIN_ALL] = "maintain_all",
	[OP_ITERATE] = "iterate",
	[OP_ITER_BEGIN] = "iter_begin",
	[OP_ITER_STEP] = "iter_step",
	[OP_ITER_END] = "iter_end",
	[OP_EVAC_START] = "evac_start",
	[OP_BULK_PUT] = "bulk_put",
	[OP_BULK_DELETE] = "bulk_delete",
	[OP_FAIL_ALLOC] = "fail_alloc",
	[OP_GC_REGISTER] = "gc_register",
	[OP_GC_UNREGISTER] = "gc_unregister",
	[OP_GC_ROOT_ADD] = "gc_root_add",
	[OP_GC_ROOT_REMOVE] = "gc_root_remove",
	[OP_GC_SET_CHILD] = "gc_set_child",
	[OP_GC_BEGIN] = "gc_begin",
	[OP_GC_STEP] = "gc_step",
	[OP_GC_FINISH] = "gc_finish",
	[OP_GC_COLLECT] = "gc_collect",
	[OP_GC_RUN_FINALIZERS] = "gc_run_finalizers",
	[OP_STATS] = "stats",
	[OP_RECREATE] = "recreate",
	[OP_ATTACH_TOGGLE] = "attach_toggle",
	[OP_FOREACH_STOP] = "foreach_stop",
	[NR_OPS] = "end",
};

/* ---------------------------------------------------------------------- */
/* State                                                                  */

struct key {
	uint64_t k64;
	size_t len;
	uint8_t b[MAX_KEY];
};

/* One key of the model. */
struct ment {
	struct key key;
	bool present;
	uint8_t val; /* value number */
	/* the live iterator's bookkeeping (see iter_begin) */
	bool it_whole; /* present since the iterator began */
	uint8_t it_seen; /* times returned */
	uint64_t it_vals; /* value numbers held since the iterator began */
};

/* A managed object; the collector reads @child through obj_trace(). */
struct obj {
	void *child;
};

enum cycle { CYC_IDLE, CYC_MARKING, CYC_MARKED };

struct fz {
	const uint8_t *in;
	size_t len, pos;
	unsigned long step;
	enum op op;

	/* the map and its model */
	struct gcmap *map;
	int kind;
	size_t max_key_len;
	bool faulty;
	struct ment *ents;
	size_t nents, count;
	int32_t *index;

	/* the live iterator */
	struct gcmap_iter *it;
	bool it_done;

	/* the collector and its model; bit n of a mask is object n */
	struct gcmap_gc *gc;
	bool attached;
	enum cycle cycle;
	struct obj pool[NVALS];
	uint64_t registered, traced, has_fin, finalized, doomed;
	uint64_t fin_ran; /* finalizers run since reset (collect) */
	unsigned int roots[NVALS];
	unsigned int in_map[NVALS]; /* model entries holding the object */
	uint8_t child[NVALS];
	uint8_t fin_mode[NVALS];
	struct key res_key[NVALS]; /* where fin_mode 2 puts the object back */
};

/* The one input being run (libFuzzer and replay.c run inputs one by one). */
static struct fz *cur;

/*
 * The collector domain, created by the first input that needs one and kept
 * until the process exits: gcmap_gc_destroy() waits for pending callbacks
 * twice (rcu_barrier(), whose call_rcu thread sleeps 10 ms per batch), which
 * would cap the fuzzer at a few dozen inputs a second. Every input ends with
 * no object registered, no map attached and no cycle running (fz_end()), so
 * the next one starts from an empty domain.
 */
static struct gcmap_gc *domain;

/* FUZZ_TRACE=1: print each operation with its operand bytes (stderr). */
static int trace;
static int last_rc; /* of the last call checked with EXPECT_RC, for the trace */

/* Negative controls (replay.c): a bug re-introduced on purpose. */
static unsigned int neg_test_flags;
static unsigned int neg_gc_flags;

/* Allocation failures on request: the map's allocator (header bit 5). */
static long fail_countdown; /* fail when it drops to 0; < 0: never */
static bool fail_fired;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr,
		"fuzz_map: mismatch at step %lu (%s, input byte %zu): ", cur ? cur->step : 0,
		cur ? op_names[cur->op] : "-", cur ? cur->pos : 0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define EXPECT(cond, ...)                  \
	do {                               \
		if (!(cond))               \
			fail(__VA_ARGS__); \
	} while (0)

#define EXPECT_RC(rc, want, what)                                                        \
	do {                                                                             \
		int rc_ = (rc), want_ = (want);                                          \
		last_rc = rc_;                                                           \
		if (rc_ != want_)                                                        \
			fail("%s returned %d (%s), the model says %d (%s)", (what), rc_, \
			     gcmap_strerror(rc_), want_, gcmap_strerror(want_));         \
	} while (0)

static bool fault_hit(void)
{
	if (fail_countdown < 0 || --fail_countdown > 0)
		return false;
	fail_countdown = -1;
	fail_fired = true;
	return true;
}

static void *fz_malloc(size_t size, void *ctx)
{
	(void)ctx;
	return fault_hit() ? NULL : malloc(size);
}

static void *fz_zalloc(size_t size, void *ctx)
{
	(void)ctx;
	return fault_hit() ? NULL : calloc(1, size);
}

static void fz_free(void *p, size_t size, void *ctx)
{
	(void)size;
	(void)ctx;
	free(p); /* also on the call_rcu thread: touches nothing else */
}

static const struct gcmap_allocator fz_alloc = { fz_malloc, fz_zalloc, fz_free, NULL };

/* Whether an allocation failure was injected during this operation: only
 * then may an operation documented to return -ENOMEM return it. */
static bool may_enomem(void)
{
	return fail_fired;
}

/* ---------------------------------------------------------------------- */
/* Decoding                                                               */

static uint8_t next(struct fz *z)
{
	return z->pos < z->len ? z->in[z->pos++] : 0;
}

static const uint64_t special_keys[8] = {
	0,
	1,
	UINT64_MAX,
	UINT64_MAX - 1,
	1ull << 63,
	(1ull << 63) + 1,
	0x100000000ull,
	0xdeadbeefcafebabeull,
};

static const uint8_t key_lens[12] = { 0, 1, 2, 3, 7, 8, 9, 16, 17, 31, 32, 40 };

static void key_small(struct key *k, unsigned int idx, size_t len)
{
	k->len = len;
	for (size_t i = 0; i < len; i++)
		k->b[i] = i % 5 == 2 ? 0 : (uint8_t)(idx * 37 + i * 11 + 1);
}

static void read_key(struct fz *z, struct key *k)
{
	uint8_t s = next(z);

	memset(k, 0, sizeof(*k));
	if (z->kind == GCMAP_KEY_U64) {
		k->k64 = s < 224 ? s : special_keys[s & 7];
	} else if (s < 192) {
		key_small(k, s & 15, key_lens[s >> 4]);
	} else {
		k->len = next(z) % (MAX_KEY + 1);
		for (size_t i = 0; i < k->len; i++)
			k->b[i] = next(z);
	}
}

/* Key @i of bulk range @base (distinct for distinct (base, i)). */
static void bulk_key(struct fz *z, unsigned int base, unsigned int i, struct key *k)
{
	memset(k, 0, sizeof(*k));
	if (z->kind == GCMAP_KEY_U64) {
		k->k64 = 4096 + (uint64_t)base * 64 + i;
		return;
	}
	k->len = 3 + (i % 30);
	k->b[0] = 'B';
	k->b[1] = (uint8_t)base;
	k->b[2] = (uint8_t)i;
	for (size_t j = 3; j < k->len; j++)
		k->b[j] = (uint8_t)(j * 7);
}

static void *val_ptr(struct fz *z, uint8_t v)
{
	return v ? (void *)&z->pool[v] : NULL;
}

static uint8_t val_num(struct fz *z, void *p)
{
	struct obj *o = p;

	if (!p)
		return 0;
	EXPECT(o > &z->pool[0] && o < &z->pool[NVALS], "value %p is not one the fuzzer stored", p);
	return (uint8_t)(o - z->pool);
}

static uint64_t bit(unsigned int n)
{
	return 1ull << n;
}

/* ---------------------------------------------------------------------- */
/* The map model                                                          */

static uint64_t key_hash(const struct fz *z, const struct key *k)
{
	uint64_t h = 0xcbf29ce484222325ull;

	if (z->kind == GCMAP_KEY_U64) {
		h ^= k->k64;
		h *= 0x9e3779b97f4a7c15ull;
		return h ^ (h >> 29);
	}
	h ^= k->len;
	for (size_t i = 0; i < k->len; i++)
		h = (h ^ k->b[i]) * 0x100000001b3ull;
	return h;
}

static bool key_eq(const struct fz *z, const struct key *a, const struct key *b)
{
	if (z->kind == GCMAP_KEY_U64)
		return a->k64 == b->k64;
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

/* The model entry of @k; added (absent) if @add. NULL: not known, or full. */
static struct ment *model_find(struct fz *z, const struct key *k, bool add)
{
	size_t i = key_hash(z, k) & (INDEX_SIZE - 1);

	for (;; i = (i + 1) & (INDEX_SIZE - 1)) {
		int32_t e = z->index[i];

		if (e < 0)
			break;
		if (key_eq(z, &z->ents[e].key, k))
			return &z->ents[e];
	}
	if (!add || z->nents == MAX_ENTS)
		return NULL;
	z->index[i] = (int32_t)z->nents;
	memset(&z->ents[z->nents], 0, sizeof(z->ents[0]));
	z->ents[z->nents].key = *k;
	return &z->ents[z->nents++];
}

static void model_reset(struct fz *z)
{
	memset(z->index, 0xff, INDEX_SIZE * sizeof(*z->index));
	z->nents = 0;
	z->count = 0;
	memset(z->in_map, 0, sizeof(z->in_map));
}

/* Set @e's value (adding the key if absent). */
static void model_set(struct fz *z, struct ment *e, uint8_t v)
{
	if (e->present) {
		z->in_map[e->val]--;
	} else {
		e->present = true;
		z->count++;
	}
	e->val = v;
	z->in_map[v]++;
	e->it_vals |= bit(v);
}

static void model_del(struct fz *z, struct ment *e)
{
	z->in_map[e->val]--;
	e->present = false;
	e->it_whole = false;
	z->count--;
}

/* ---------------------------------------------------------------------- */
/* The collector model                                                    */

/* Objects reachable from the roots and the attached map's values. */
static uint64_t reach(const struct fz *z)
{
	uint64_t r = 0, prev;

	for (unsigned int n = 1; n < NVALS; n++)
		if ((z->registered & bit(n)) && (z->roots[n] || (z->attached && z->in_map[n])))
			r |= bit(n);
	do {
		prev = r;
		for (unsigned int n = 1; n < NVALS; n++) {
			unsigned int c = z->child[n];

			if ((r & bit(n)) && (z->traced & bit(n)) && c && (z->registered & bit(c)))
				r |= bit(c);
		}
	} while (r != prev);
	return r;
}

/*
 * A change the write barrier does not cover (a root removed, a map cleared
 * or detached, a parent unregistered) while a cycle marks: what became
 * unreachable may be missed by this cycle, so it is doomed.
 */
static uint64_t unsafe_begin(const struct fz *z)
{
	return z->cycle == CYC_MARKING ? reach(z) : 0;
}

static void unsafe_end(struct fz *z, uint64_t before)
{
	if (z->cycle == CYC_MARKING)
		z->doomed |= before & ~reach(z) & z->registered;
}

/* A value the fuzzer may store: never a doomed object (nobody holds it). */
static uint8_t usable(const struct fz *z, uint8_t v)
{
	return (z->doomed & z->registered & bit(v)) ? 0 : v;
}

static void obj_trace(void *obj, gcmap_visit_fn visit, void *ctx)
{
	void *c = gcmap_gc_load(&((struct obj *)obj)->child);

	if (c)
		visit(c, ctx);
}

static void apply_put(struct fz *z, const struct key *k, uint8_t v, bool null_out);

static void obj_fin(void *obj, void *arg)
{
	struct fz *z = cur;
	uint8_t n = val_num(z, obj);

	(void)arg;
	EXPECT(z->registered & bit(n), "finalizer of object %u, which is not registered", n);
	EXPECT(!(z->finalized & bit(n)), "object %u finalized twice", n);
	EXPECT(!(reach(z) & bit(n)),
	       "object %u finalized while reachable (in the map %u times, %u roots)", n,
	       z->in_map[n], z->roots[n]);
	EXPECT(z->doomed & bit(n),
	       "object %u finalized, but it was reachable when each cycle began "
	       "(or registered during one)",
	       n);
	z->finalized |= bit(n);
	z->fin_ran |= bit(n);
	switch (z->fin_mode[n]) {
	case 0:
		EXPECT_RC(gcmap_gc_unregister(z->gc, obj), 0,
			  "gcmap_gc_unregister() in a finalizer");
		z->registered &= ~bit(n);
		z->roots[n] = 0;
		break;
	case 2:
		/* Resurrection: legal from the finalizer only. */
		z->doomed &= ~bit(n);
		apply_put(z, &z->res_key[n], n, false);
		break;
	default:
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* Map operations                                                         */

static bool too_long(const struct fz *z, const struct key *k)
{
	return z->kind == GCMAP_KEY_BYTES && k->len > z->max_key_len;
}

static int call_get(struct fz *z, const struct key *k, void **out)
{
	if (z->kind == GCMAP_KEY_U64)
		return gcmap_get_u64(z->map, k->k64, out);
	return gcmap_get_bytes(z->map, k->b, k->len, out);
}

static int call_write(struct fz *z, enum op op, const struct key *k, void *exp, void *val,
		      void **out)
{
	if (z->kind == GCMAP_KEY_U64) {
		switch (op) {
		case OP_PUT:
			return gcmap_put_u64(z->map, k->k64, val, out);
		case OP_INSERT:
			return gcmap_insert_u64(z->map, k->k64, val, out);
		case OP_REPLACE:
			return gcmap_replace_u64(z->map, k->k64, val, out);
		case OP_CAS:
			return gcmap_cas_u64(z->map, k->k64, exp, val, out);
		default:
			return gcmap_delete_u64(z->map, k->k64, out);
		}
	}
	switch (op) {
	case OP_PUT:
		return gcmap_put_bytes(z->map, k->b, k->len, val, out);
	case OP_INSERT:
		return gcmap_insert_bytes(z->map, k->b, k->len, val, out);
	case OP_REPLACE:
		return gcmap_replace_bytes(z->map, k->b, k->len, val, out);
	case OP_CAS:
		return gcmap_cas_bytes(z->map, k->b, k->len, exp, val, out);
	default:
		return gcmap_delete_bytes(z->map, k->b, k->len, out);
	}
}

static void apply_get(struct fz *z, const struct key *k, bool null_out)
{
	struct ment *e = model_find(z, k, false);
	void *out = &z->pool[0]; /* never a stored value */
	int rc = call_get(z, k, null_out ? NULL : &out);

	if (too_long(z, k)) {
		EXPECT_RC(rc, -E2BIG, "get");
		return;
	}
	EXPECT_RC(rc, e && e->present ? 0 : -ENOENT, "get");
	if (rc == 0 && !null_out)
		EXPECT(val_num(z, out) == e->val, "get returned value %u, the model has %u",
		       val_num(z, out), e->val);
}

/*
 * One write. @v: the value to store (made usable); @exp_v: cas's expected
 * value. Compares the return code and the out-value with the model.
 */
static void apply_write(struct fz *z, enum op op, const struct key *k, uint8_t exp_v, uint8_t v,
			bool null_out)
{
	struct ment *e;
	void *out = &z->pool[0];
	bool present;
	uint8_t old;
	int rc, want;

	if (too_long(z, k)) {
		rc = call_write(z, op, k, val_ptr(z, exp_v), val_ptr(z, v), null_out ? NULL : &out);
		EXPECT_RC(rc, -E2BIG, op_names[op]);
		return;
	}
	e = model_find(z, k, true);
	if (!e)
		return; /* the model is full: skip */
	v = usable(z, v);
	present = e->present;
	old = e->val;
	rc = call_write(z, op, k, val_ptr(z, exp_v), val_ptr(z, v), null_out ? NULL : &out);
	if (rc == -ENOMEM && !present && (op == OP_PUT || op == OP_INSERT) && may_enomem())
		return; /* the map must be unchanged: the next checks see it */
	switch (op) {
	case OP_PUT:
		want = present ? 0 : 1;
		break;
	case OP_INSERT:
		want = present ? -EEXIST : 0;
		break;
	case OP_REPLACE:
	case OP_DELETE:
		want = present ? 0 : -ENOENT;
		break;
	default:
		want = !present ? -ENOENT : old == exp_v ? 0 : -ECANCELED;
		break;
	}
	EXPECT_RC(rc, want, op_names[op]);
	/* Out-values: the previous (put, replace, delete), the present
	 * (insert on -EEXIST), the found (cas) value. */
	if (!null_out && present && rc != 1) {
		EXPECT(val_num(z, out) == old, "%s: out-value %u, the model has %u", op_names[op],
		       val_num(z, out), old);
	}
	if (!null_out && op == OP_PUT && rc == 1)
		EXPECT(out == NULL, "put of an absent key: *old is %p, not NULL", out);
	if (rc == 0 || rc == 1) {
		if (op == OP_DELETE)
			model_del(z, e);
		else if (op != OP_INSERT || !present)
			model_set(z, e, v);
	}
}

static void apply_put(struct fz *z, const struct key *k, uint8_t v, bool null_out)
{
	apply_write(z, OP_PUT, k, 0, v, null_out);
}

static void check_count(struct fz *z)
{
	size_t n = (size_t)-1;

	EXPECT_RC(gcmap_count(z->map, &n), 0, "count");
	EXPECT(n == z->count, "count %zu, the model has %zu", n, z->count);
}

static void check_invariants(struct fz *z, bool always)
{
	if (!always && z->count > HEAVY_COUNT && z->step % 16)
		return;
	EXPECT(gcmap__check_invariants(z->map) == 0, "gcmap__check_invariants() failed");
	if (z->gc)
		EXPECT(gcmap__check_invariants(z->gc->registry) == 0,
		       "invariants of the collector's registry failed");
}

static struct ment *entry_of(struct fz *z, const struct gcmap_entry *ge)
{
	struct key k;

	memset(&k, 0, sizeof(k));
	if (z->kind == GCMAP_KEY_U64) {
		EXPECT(ge->key_bytes == NULL, "u64 entry with key bytes");
		k.k64 = ge->key;
	} else {
		EXPECT(ge->key_len <= MAX_KEY && (ge->key_bytes || ge->key_len == 0),
		       "entry with a key of %zu bytes", ge->key_len);
		k.len = ge->key_len;
		if (k.len)
			memcpy(k.b, ge->key_bytes, k.len);
	}
	return model_find(z, &k, false);
}

/* A whole iteration with no change: exactly the model's pairs, once each. */
static void apply_iterate(struct fz *z)
{
	struct gcmap_iter *it = NULL;
	struct gcmap_entry ge;
	uint8_t *seen = calloc(z->nents ? z->nents : 1, 1);
	size_t n = 0;
	int rc;

	EXPECT(seen != NULL, "out of memory");
	do
		rc = gcmap_iter_begin(z->map, &it);
	while (rc == -ENOMEM && may_enomem());
	EXPECT_RC(rc, 0, "iter_begin");
	for (;;) {
		struct ment *e;

		rc = gcmap_iter_next(it, &ge);
		if (rc == -ENOMEM && may_enomem())
			continue; /* calling again retries the same step */
		if (rc != 1)
			break;
		e = entry_of(z, &ge);
		EXPECT(e && e->present, "iteration returned a key the map does not hold");
		EXPECT(val_num(z, ge.value) == e->val,
		       "iteration returned value %u, the model has %u", val_num(z, ge.value),
		       e->val);
		EXPECT(!seen[e - z->ents]++, "iteration returned a key twice");
		n++;
	}
	EXPECT_RC(rc, 0, "iter_next");
	EXPECT(n == z->count, "iteration returned %zu entries, the model has %zu", n, z->count);
	EXPECT_RC(gcmap_iter_next(it, &ge), 0, "iter_next after the end");
	EXPECT_RC(gcmap_iter_end(it), 0, "iter_end");
	free(seen);
}

/* gcmap_foreach() stopped after @k + 1 entries. */
static int stop_cb(const struct gcmap_entry *ge, void *arg)
{
	size_t *left = arg;

	(void)ge;
	if ((*left)-- == 0)
		return 7;
	return 0;
}

static void apply_foreach_stop(struct fz *z, size_t k)
{
	size_t left = k;
	int rc = gcmap_foreach(z->map, stop_cb, &left);

	if (rc == -ENOMEM && may_enomem())
		return;
	EXPECT_RC(rc, z->count > k ? 7 : 0, "foreach");
	EXPECT(z->count > k ? left == (size_t)-1 : left == k - z->count,
	       "foreach called back %zu times with %zu entries", k - left, z->count);
}

/* The live iterator: the iteration contract under changes. */
static void apply_iter_begin(struct fz *z)
{
	int rc;

	if (z->it)
		return;
	rc = gcmap_iter_begin(z->map, &z->it);
	if (rc == -ENOMEM && may_enomem()) {
		z->it = NULL;
		return;
	}
	EXPECT_RC(rc, 0, "iter_begin");
	z->it_done = false;
	for (size_t i = 0; i < z->nents; i++) {
		struct ment *e = &z->ents[i];

		e->it_whole = e->present;
		e->it_seen = 0;
		e->it_vals = e->present ? bit(e->val) : 0;
	}
}

static void apply_iter_step(struct fz *z, unsigned int n)
{
	struct gcmap_entry ge;

	if (!z->it)
		return;
	for (unsigned int i = 0; n == 0 || i < n; i++) {
		struct ment *e;
		int rc = gcmap_iter_next(z->it, &ge);

		if (rc == -ENOMEM && may_enomem())
			return;
		if (z->it_done) {
			EXPECT_RC(rc, 0, "iter_next after the end");
			return;
		}
		if (rc == 0) {
			z->it_done = true;
			for (size_t j = 0; j < z->nents; j++)
				EXPECT(!z->ents[j].it_whole || z->ents[j].it_seen == 1,
				       "a key present for the whole iteration was returned %u times",
				       z->ents[j].it_seen);
			return;
		}
		EXPECT_RC(rc, 1, "iter_next");
		e = entry_of(z, &ge);
		EXPECT(e && e->it_vals, "iteration returned a key never present during it");
		EXPECT(e->it_vals & bit(val_num(z, ge.value)),
		       "iteration returned value %u, which the key never held during it",
		       val_num(z, ge.value));
		EXPECT(++e->it_seen == 1, "iteration returned a key twice");
	}
}

static void apply_iter_end(struct fz *z)
{
	if (!z->it)
		return;
	EXPECT_RC(gcmap_iter_end(z->it), 0, "iter_end");
	z->it = NULL;
}

static void apply_clear(struct fz *z)
{
	uint64_t before = unsafe_begin(z);
	int rc = gcmap_clear(z->map);

	if (rc == -ENOMEM && may_enomem())
		return;
	EXPECT_RC(rc, 0, "clear");
	for (size_t i = 0; i < z->nents; i++)
		if (z->ents[i].present)
			model_del(z, &z->ents[i]);
	unsafe_end(z, before);
}

static bool evacuating(struct fz *z)
{
	struct gcmap_table *tbl = __atomic_load_n(&z->map->tbl, __ATOMIC_ACQUIRE);

	return __atomic_load_n(&tbl->next, __ATOMIC_ACQUIRE) != NULL;
}

static void apply_maintain(struct fz *z, unsigned int budget, unsigned int flags)
{
	int rc = gcmap_maintain(z->map, budget, flags);
	last_rc = rc;

	if (rc == -ENOMEM && may_enomem())
		return;
	EXPECT(rc >= 0, "maintain returned %d (%s)", rc, gcmap_strerror(rc));
	if (rc == 0)
		EXPECT(!evacuating(z), "maintain returned 0 with an evacuation in flight");
}

static void apply_maintain_all(struct fz *z, unsigned int flags)
{
	int rc;

	for (unsigned int calls = 0;; calls++) {
		EXPECT(calls < 100000, "maintain did not converge");
		rc = gcmap_maintain(z->map, 16, flags);
		if (rc == -ENOMEM && may_enomem())
			continue;
		EXPECT(rc >= 0, "maintain returned %d (%s)", rc, gcmap_strerror(rc));
		if (rc == 0)
			break;
	}
	EXPECT(!evacuating(z), "maintain returned 0 with an evacuation in flight");
}

static void apply_evac_start(struct fz *z, int delta)
{
	struct gcmap_table *tbl;
	bool busy;
	int log2, rc;

	EXPECT_RC(gcmap_read_lock(), 0, "read_lock");
	tbl = __atomic_load_n(&z->map->tbl, __ATOMIC_ACQUIRE);
	busy = __atomic_load_n(&tbl->next, __ATOMIC_ACQUIRE) != NULL;
	log2 = (int)tbl->log2 + delta;
	if (log2 < 0 || log2 > 10)
		log2 = (int)tbl->log2;
	rc = gcmap__evac_start(z->map, tbl, (unsigned int)log2);
	EXPECT_RC(gcmap_read_unlock(), 0, "read_unlock");
	if (rc == -ENOMEM && !busy && may_enomem())
		return;
	EXPECT_RC(rc, busy ? -EBUSY : 0, "gcmap__evac_start");
}

static void apply_stats_gc(struct fz *z)
{
	struct gcmap_gc_stats gs;
	size_t roots = 0;

	if (!z->gc)
		return;
	for (unsigned int n = 1; n < NVALS; n++)
		roots += (z->registered & bit(n)) && z->roots[n];
	memset(&gs, 0, sizeof(gs));
	gs.size = sizeof(gs);
	EXPECT_RC(gcmap_gc_stats(z->gc, &gs), 0, "gc_stats");
	EXPECT(gs.registered == (size_t)__builtin_popcountll(z->registered),
	       "gc_stats: %zu registered, the model has %d", gs.registered,
	       __builtin_popcountll(z->registered));
	EXPECT(gs.roots == roots, "gc_stats: %zu roots, the model has %zu", gs.roots, roots);
	EXPECT(gs.maps == (z->attached ? 1u : 0u), "gc_stats: %zu maps", gs.maps);
	EXPECT(gs.marking == (z->cycle == CYC_MARKING), "gc_stats: marking %u", gs.marking);
}

static void apply_stats(struct fz *z)
{
	struct gcmap_stats st;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	EXPECT_RC(gcmap_stats(z->map, &st), 0, "stats");
	EXPECT(st.entries == z->count, "stats: %zu entries, the model has %zu", st.entries,
	       z->count);
	EXPECT(st.evacuating == (evacuating(z) ? 1u : 0u), "stats: evacuating %u", st.evacuating);
	if (z->cycle != CYC_MARKING) /* the collector's scan is an iterator too */
		EXPECT(st.iterators == (z->it ? 1u : 0u), "stats: %zu iterators", st.iterators);
	apply_stats_gc(z);
}

/* ---------------------------------------------------------------------- */
/* Map creation                                                           */

/* Attach the map (-ENOMEM only from an injected failure: retried). */
static void attach(struct fz *z)
{
	int rc = gcmap_gc_attach(z->gc, z->map);

	if (rc == -ENOMEM && may_enomem())
		rc = gcmap_gc_attach(z->gc, z->map);
	EXPECT_RC(rc, 0, "gc_attach");
	z->attached = true;
}

static void map_create(struct fz *z, uint8_t h, uint8_t seed)
{
	struct gcmap_options o;
	int rc;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.key_kind = (h & 1) ? GCMAP_KEY_BYTES : GCMAP_KEY_U64;
	o.log2_buckets = (h >> 1) & 3;
	o.max_key_len = (h & 8) ? 16 : 0;
	o.flags = GCMAP_F_FIXED_SEED;
	o.seed[0] = 0x0123456789abcdefull ^ seed;
	o.seed[1] = 0xfedcba9876543210ull + seed;
	o.allocator = (h & 32) ? &fz_alloc : NULL;
	z->kind = o.key_kind;
	z->max_key_len = o.max_key_len ? o.max_key_len : GCMAP_DEFAULT_MAX_KEY_LEN;
	z->faulty = (h & 32) != 0;
	rc = gcmap_create(&o, &z->map);
	if (rc == -ENOMEM && may_enomem())
		rc = gcmap_create(&o, &z->map); /* the failure was one-shot */
	EXPECT_RC(rc, 0, "create");
	model_reset(z);
	if (z->gc) {
		attach(z);
	}
}

static void at_exit(void)
{
	/* The thread that ran the inputs: registered, outside any section. */
	if (domain && gcmap_gc_destroy(domain) != 0)
		abort();
	domain = NULL;
	if (gcmap_barrier() != 0)
		abort();
}

static void gc_ensure(struct fz *z)
{
	struct gcmap_gc_options o;

	if (z->gc)
		return;
	if (!domain) {
		memset(&o, 0, sizeof(o));
		o.size = sizeof(o);
		o.flags = neg_gc_flags;
		EXPECT_RC(gcmap_gc_create(&o, &domain), 0, "gc_create");
	}
	z->gc = domain;
	attach(z);
}

static void apply_recreate(struct fz *z, uint8_t h)
{
	uint64_t before;

	if (z->it) {
		EXPECT_RC(gcmap_destroy(z->map), -EBUSY, "destroy with a live iterator");
		apply_iter_end(z);
	}
	before = unsafe_begin(z);
	EXPECT_RC(gcmap_destroy(z->map), 0, "destroy");
	z->map = NULL;
	z->attached = false;
	model_reset(z);
	unsafe_end(z, before);
	map_create(z, h, h);
}

static void apply_attach_toggle(struct fz *z)
{
	uint64_t before;

	if (!z->gc)
		return;
	if (z->attached) {
		before = unsafe_begin(z);
		EXPECT_RC(gcmap_gc_detach(z->map), 0, "gc_detach");
		z->attached = false;
		unsafe_end(z, before);
		return;
	}
	/* Attaching a map that holds doomed objects would make them roots
	 * again: the contract's "nobody holds them" would be false. */
	for (unsigned int n = 1; n < NVALS; n++)
		if ((z->doomed & z->registered & bit(n)) && z->in_map[n])
			return;
	attach(z);
}

/* ---------------------------------------------------------------------- */
/* Collector operations                                                   */

static uint8_t read_obj(struct fz *z)
{
	return (uint8_t)(1 + next(z) % (NVALS - 1));
}

static void apply_register(struct fz *z, uint8_t n, uint8_t mode, const struct key *k)
{
	unsigned int fm = mode & 3;
	int rc;

	gc_ensure(z);
	/* Its child field was set while it was not managed: registering it
	 * would hand a doomed child back to the collector's graph. */
	if (!(mode & 4) && (z->doomed & z->registered & bit(z->child[n])))
		return;
	/* Register and store inside one read-side section (gcmap.h). */
	EXPECT_RC(gcmap_read_lock(), 0, "read_lock");
	rc = gcmap_gc_register(z->gc, &z->pool[n], fm == 3 ? NULL : obj_fin,
			       (mode & 4) ? NULL : obj_trace, NULL);
	EXPECT_RC(rc, (z->registered & bit(n)) ? -EEXIST : 0, "gc_register");
	if (rc == 0) {
		z->registered |= bit(n);
		z->doomed &= ~bit(n); /* held by the caller; born marked during a cycle */
		z->finalized &= ~bit(n);
		z->roots[n] = 0;
		z->has_fin = fm == 3 ? z->has_fin & ~bit(n) : z->has_fin | bit(n);
		z->traced = (mode & 4) ? z->traced & ~bit(n) : z->traced | bit(n);
		z->fin_mode[n] = (uint8_t)fm;
		z->res_key[n] = *k;
		if (mode & 8)
			apply_put(z, k, n, false);
	}
	EXPECT_RC(gcmap_read_unlock(), 0, "read_unlock");
}

static void apply_unregister(struct fz *z, uint8_t n)
{
	uint64_t before;
	int rc;

	gc_ensure(z);
	before = unsafe_begin(z);
	rc = gcmap_gc_unregister(z->gc, &z->pool[n]);
	EXPECT_RC(rc, (z->registered & bit(n)) ? 0 : -ENOENT, "gc_unregister");
	z->registered &= ~bit(n);
	z->roots[n] = 0;
	unsafe_end(z, before);
}

static void apply_root(struct fz *z, uint8_t n, bool add)
{
	uint64_t before;
	bool reg = z->registered & bit(n);
	int rc;

	gc_ensure(z);
	if (add) {
		if (z->doomed & z->registered & bit(n))
			return; /* nobody holds it */
		rc = gcmap_gc_root_add(z->gc, &z->pool[n]);
		EXPECT_RC(rc, reg ? 0 : -ENOENT, "gc_root_add");
		if (rc == 0)
			z->roots[n]++;
		return;
	}
	before = unsafe_begin(z);
	rc = gcmap_gc_root_remove(z->gc, &z->pool[n]);
	EXPECT_RC(rc, reg && z->roots[n] ? 0 : -ENOENT, "gc_root_remove");
	if (rc == 0)
		z->roots[n]--;
	unsafe_end(z, before);
}

static void apply_set_child(struct fz *z, uint8_t p, uint8_t c)
{
	gc_ensure(z);
	if (z->doomed & z->registered & bit(p))
		return; /* nobody holds it */
	c = usable(z, c);
	EXPECT_RC(gcmap_gc_store(z->gc, &z->pool[p].child, val_ptr(z, c)), 0, "gc_store");
	z->child[p] = c;
}

static void apply_begin(struct fz *z)
{
	int rc;

	gc_ensure(z);
	rc = gcmap_gc_begin(z->gc);
	EXPECT_RC(rc, z->cycle == CYC_IDLE ? 0 : -EBUSY, "gc_begin");
	if (rc == 0) {
		z->doomed |= z->registered & ~reach(z);
		z->cycle = CYC_MARKING;
	}
}

static void apply_step(struct fz *z, unsigned int budget)
{
	int rc;

	gc_ensure(z);
	rc = gcmap_gc_step(z->gc, budget);
	last_rc = rc;
	if (rc == -ENOMEM && z->cycle == CYC_MARKING && may_enomem())
		return;
	if (z->cycle != CYC_MARKING) {
		/* Marking done, the sweep to do: 0 again ("call finish"). */
		EXPECT_RC(rc, z->cycle == CYC_MARKED ? 0 : -EINVAL, "gc_step without marking");
		return;
	}
	EXPECT(rc == 0 || rc == 1, "gc_step returned %d (%s)", rc, gcmap_strerror(rc));
	if (rc == 0)
		z->cycle = CYC_MARKED;
}

/* Objects that a cycle may finalize: doomed, with a finalizer not run. */
static uint64_t collectable(const struct fz *z)
{
	return z->registered & z->has_fin & ~z->finalized & z->doomed;
}

static void apply_finish(struct fz *z)
{
	int rc;

	gc_ensure(z);
	rc = gcmap_gc_finish(z->gc);
	last_rc = rc;
	if (rc == -ENOMEM && z->cycle != CYC_IDLE && may_enomem())
		return;
	if (z->cycle == CYC_IDLE) {
		EXPECT_RC(rc, -EINVAL, "gc_finish without a cycle");
		return;
	}
	EXPECT(rc >= 0 && rc <= __builtin_popcountll(collectable(z)),
	       "gc_finish returned %d (%s); at most %d objects are unreachable", rc,
	       gcmap_strerror(rc), __builtin_popcountll(collectable(z)));
	z->cycle = CYC_IDLE;
}

static void apply_run_finalizers(struct fz *z, unsigned int max)
{
	uint64_t before = z->fin_ran;
	int rc;

	gc_ensure(z);
	rc = gcmap_gc_run_finalizers(z->gc, max);
	last_rc = rc;
	EXPECT(rc >= 0 && (max == 0 || (unsigned int)rc <= max), "gc_run_finalizers(%u): %d", max,
	       rc);
	EXPECT(__builtin_popcountll(z->fin_ran & ~before) <= rc,
	       "gc_run_finalizers ran more finalizers than it reports (%d)", rc);
}

/*
 * A whole cycle with nothing in between, after every pending finalizer ran:
 * the candidates are the unreachable registered objects with a finalizer
 * not run yet; those that another candidate reaches (over at least one
 * reference) survive this cycle; exactly the others are finalized.
 */
static void apply_collect(struct fz *z)
{
	uint64_t cand, reached = 0, prev, want;
	int rc;

	gc_ensure(z);
	if (z->cycle != CYC_IDLE) {
		EXPECT_RC(gcmap_gc_collect(z->gc), -EBUSY, "gc_collect during a cycle");
		return;
	}
	fail_countdown = -1; /* exact results need every allocation */
	apply_run_finalizers(z, 0);
	cand = z->registered & z->has_fin & ~z->finalized & ~reach(z);
	for (unsigned int n = 1; n < NVALS; n++) {
		unsigned int c = z->child[n];

		if ((cand & bit(n)) && (z->traced & bit(n)) && c && (z->registered & bit(c)))
			reached |= bit(c);
	}
	do {
		prev = reached;
		for (unsigned int n = 1; n < NVALS; n++) {
			unsigned int c = z->child[n];

			if ((reached & bit(n)) && (z->traced & bit(n)) && c &&
			    (z->registered & bit(c)))
				reached |= bit(c);
		}
	} while (reached != prev);
	want = cand & ~reached;
	rc = gcmap_gc_collect(z->gc);
	z->doomed |= z->registered & ~reach(z);
	EXPECT_RC(rc, __builtin_popcountll(want), "gc_collect");
	z->fin_ran = 0;
	apply_run_finalizers(z, 0);
	EXPECT(z->fin_ran == want, "gc_collect: finalized objects %llx, the model expects %llx",
	       (unsigned long long)z->fin_ran, (unsigned long long)want);
}

/* ---------------------------------------------------------------------- */
/* The driver                                                             */

static void run_op(struct fz *z, uint8_t code)
{
	bool null_out = code & 0x20;
	size_t start = z->pos;
	struct key k;
	uint8_t a, b;

	z->op = (enum op)(code & 31);
	last_rc = 0;
	switch (z->op) {
	case OP_GET:
		read_key(z, &k);
		apply_get(z, &k, null_out);
		break;
	case OP_PUT:
	case OP_INSERT:
	case OP_REPLACE:
		read_key(z, &k);
		apply_write(z, z->op, &k, 0, next(z) % NVALS, null_out);
		break;
	case OP_CAS: {
		struct ment *e;

		read_key(z, &k);
		a = next(z);
		b = next(z) % NVALS;
		e = model_find(z, &k, false);
		/* Odd: the value the model has (a swap); even: any value. */
		a = (a & 1) && e && e->present ? e->val : (uint8_t)((a >> 1) % NVALS);
		apply_write(z, OP_CAS, &k, a, b, null_out);
		break;
	}
	case OP_DELETE:
		read_key(z, &k);
		apply_write(z, OP_DELETE, &k, 0, 0, null_out);
		break;
	case OP_COUNT:
		check_count(z);
		break;
	case OP_CLEAR:
		apply_clear(z);
		break;
	case OP_MAINTAIN:
		a = next(z);
		apply_maintain(z, a == 255 ? UINT32_MAX : a, next(z) & 1);
		break;
	case OP_MAINTAIN_ALL:
		apply_maintain_all(z, next(z) & 1);
		break;
	case OP_ITERATE:
		apply_iterate(z);
		break;
	case OP_ITER_BEGIN:
		apply_iter_begin(z);
		break;
	case OP_ITER_STEP:
		apply_iter_step(z, next(z));
		break;
	case OP_ITER_END:
		apply_iter_end(z);
		break;
	case OP_EVAC_START:
		apply_evac_start(z, next(z) % 3 - 1);
		break;
	case OP_BULK_PUT:
	case OP_BULK_DELETE:
		a = next(z);
		b = next(z) % 65;
		for (unsigned int i = 0; i < b; i++) {
			bulk_key(z, a, i, &k);
			if (z->op == OP_BULK_PUT)
				apply_put(z, &k, (uint8_t)((a + i) % NVALS), null_out);
			else
				apply_write(z, OP_DELETE, &k, 0, 0, null_out);
		}
		break;
	case OP_FAIL_ALLOC:
		a = next(z);
		if (z->faulty)
			fail_countdown = 1 + a % 16;
		return; /* armed for the next operation */
	case OP_GC_REGISTER:
		a = read_obj(z);
		b = next(z);
		read_key(z, &k);
		apply_register(z, a, b, &k);
		break;
	case OP_GC_UNREGISTER:
		apply_unregister(z, read_obj(z));
		break;
	case OP_GC_ROOT_ADD:
	case OP_GC_ROOT_REMOVE:
		apply_root(z, read_obj(z), z->op == OP_GC_ROOT_ADD);
		break;
	case OP_GC_SET_CHILD:
		a = read_obj(z);
		apply_set_child(z, a, next(z) % NVALS);
		break;
	case OP_GC_BEGIN:
		apply_begin(z);
		break;
	case OP_GC_STEP:
		a = next(z);
		apply_step(z, a == 255 ? UINT32_MAX : a);
		break;
	case OP_GC_FINISH:
		apply_finish(z);
		break;
	case OP_GC_COLLECT:
		apply_collect(z);
		break;
	case OP_GC_RUN_FINALIZERS:
		apply_run_finalizers(z, next(z) % 4);
		break;
	case OP_STATS:
		apply_stats(z);
		break;
	case OP_RECREATE:
		apply_recreate(z, next(z));
		break;
	case OP_ATTACH_TOGGLE:
		apply_attach_toggle(z);
		break;
	case OP_FOREACH_STOP:
		apply_foreach_stop(z, next(z));
		break;
	case NR_OPS:
		break;
	}
	if (trace) {
		fprintf(stderr, "fuzz_map: step %lu: %s%s", z->step, op_names[z->op],
			null_out ? " (NULL outs)" : "");
		for (size_t i = start; i < z->pos; i++)
			fprintf(stderr, " %u", z->in[i]);
		fprintf(stderr, " -> %d | count %zu%s\n", last_rc, z->count,
			fail_fired ? " | alloc failed" : "");
	}
	fail_countdown = -1;
	fail_fired = false;
	check_count(z);
	check_invariants(z, false);
}

/*
 * Free everything the input made; memory still waiting for a grace period
 * is freed by the call_rcu thread (LeakSanitizer checks at exit, after
 * at_exit() waited for it). The domain is left empty for the next input.
 */
static void fz_end(struct fz *z)
{
	struct gcmap_gc_stats gs;

	z->op = NR_OPS;
	fail_countdown = -1;
	apply_iter_end(z);
	if (z->gc && z->cycle != CYC_IDLE) {
		int rc = gcmap_gc_finish(z->gc);

		EXPECT(rc >= 0, "gc_finish at the end: %d (%s)", rc, gcmap_strerror(rc));
		z->cycle = CYC_IDLE;
	}
	EXPECT_RC(gcmap_destroy(z->map), 0, "destroy");
	z->attached = false;
	if (!z->gc)
		return;
	for (unsigned int n = 1; n < NVALS; n++)
		if (z->registered & bit(n))
			EXPECT_RC(gcmap_gc_unregister(z->gc, &z->pool[n]), 0, "gc_unregister");
	z->registered = 0;
	/* Queued entries are unregistered now: popped, never called. */
	EXPECT(gcmap_gc_run_finalizers(z->gc, 0) >= 0, "gc_run_finalizers at the end");
	apply_stats_gc(z);
	memset(&gs, 0, sizeof(gs));
	gs.size = sizeof(gs);
	EXPECT_RC(gcmap_gc_stats(z->gc, &gs), 0, "gc_stats");
	EXPECT(gs.pending == 0, "gc_stats: %zu finalizers pending at the end", gs.pending);
}

static void negative_controls(void)
{
	static int done;
	const char *neg;

	if (done)
		return;
	done = 1;
	trace = getenv("FUZZ_TRACE") != NULL;
	neg = getenv("FUZZ_NEGATIVE");
	if (!neg)
		return;
	if (strcmp(neg, "skip-moved") == 0)
		neg_test_flags = GCMAP_TEST_SKIP_MOVED_CHECK;
	else if (strcmp(neg, "no-barrier") == 0)
		neg_gc_flags = GCMAP_GC_F_UNSAFE_NO_BARRIER;
	else
		fail("unknown FUZZ_NEGATIVE=%s (skip-moved, no-barrier)", neg);
	fprintf(stderr, "fuzz_map: negative control %s\n", neg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool registered;
	struct fz *z;
	uint8_t h;

	if (size < 2)
		return 0;
	if (!registered) {
		/* libFuzzer runs every input on this one thread. */
		EXPECT_RC(gcmap_thread_register(), 0, "thread_register");
		registered = true;
		atexit(at_exit);
	}
	negative_controls();
	z = calloc(1, sizeof(*z));
	EXPECT(z != NULL, "out of memory");
	z->ents = malloc(MAX_ENTS * sizeof(*z->ents));
	z->index = malloc(INDEX_SIZE * sizeof(*z->index));
	EXPECT(z->ents && z->index, "out of memory");
	z->in = data;
	z->len = size;
	cur = z;
	fail_countdown = -1;
	fail_fired = false;

	h = next(z);
	__atomic_store_n(&gcmap__test_flags, ((h & 16) ? GCMAP_TEST_NO_POLICY : 0) | neg_test_flags,
			 __ATOMIC_RELAXED);
	map_create(z, h, next(z));
	if (h & 64)
		gc_ensure(z);
	while (z->pos < z->len) {
		z->step++;
		run_op(z, next(z));
	}
	check_invariants(z, true);

	fz_end(z);
	__atomic_store_n(&gcmap__test_flags, 0, __ATOMIC_RELAXED);
	cur = NULL;
	free(z->ents);
	free(z->index);
	free(z);
	return 0;
}
