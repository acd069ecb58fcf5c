/*
 * check_diag.c - diagnostics (lib/diag.c): gcmap_stats_json() and
 * gcmap_gc_stats_json() carry every statistic with its value, follow
 * snprintf's conventions, report errors, and can be called while writers
 * change the map. The GCMAP_STATS writer is tested by tests/stats_env.sh.
 */
#include "test_util.h"

#include <inttypes.h>
#include <stdlib.h>

static void setup_registered(void)
{
	ck_assert_int_eq(gcmap_thread_register(), 0);
}

static void teardown_registered(void)
{
	ck_assert_int_eq(gcmap_barrier(), 0);
	ck_assert_int_eq(gcmap_thread_unregister(), 0);
}

static uint64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The number after "@name": in @json; fails the test when it is missing. */
static unsigned long long field(const char *json, const char *name)
{
	char pat[64];
	const char *p;
	char *end;
	unsigned long long v;

	snprintf(pat, sizeof(pat), "\"%s\":", name);
	p = strstr(json, pat);
	ck_assert_msg(p != NULL, "no \"%s\" in %s", name, json);
	p += strlen(pat);
	ck_assert_msg(*p >= '0' && *p <= '9', "\"%s\" is not a number in %s", name, json);
	v = strtoull(p, &end, 10);
	ck_assert_msg(*end == ',' || *end == '}', "\"%s\" not followed by , or } in %s", name,
		      json);
	return v;
}

/* Every key appears once: a second "@name": would be a duplicate. */
static void once(const char *json, const char *name)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", name);
	p = strstr(json, pat);
	ck_assert_msg(p && !strstr(p + 1, pat), "\"%s\" not exactly once in %s", name, json);
}

static void check_head(const char *json, const char *type, const void *obj, uint64_t t0)
{
	char want[96];
	uint64_t t;

	ck_assert_msg(json[0] == '{' && json[strlen(json) - 1] == '}', "not an object: %s", json);
	ck_assert_ptr_null(strchr(json, '\n'));
	snprintf(want, sizeof(want), "\"type\":\"%s\"", type);
	ck_assert_msg(strstr(json, want), "no %s in %s", want, json);
	snprintf(want, sizeof(want), "\"id\":\"0x%" PRIxPTR "\"", (uintptr_t)obj);
	ck_assert_msg(strstr(json, want), "no %s in %s", want, json);
	ck_assert_uint_gt(field(json, "serial"), 0);
	t = field(json, "t_ms");
	ck_assert_uint_ge(t, t0);
	ck_assert_uint_le(t, realtime_ms());
	once(json, "type");
	once(json, "id");
	once(json, "t_ms");
}

START_TEST(test_diag_map_json_fields)
{
	struct gcmap *m = make_map(_i, 3, NULL);
	struct gcmap_stats st = { .size = sizeof(st) };
	struct gcmap_iter *it;
	struct gcmap_entry e;
	uint64_t t0 = realtime_ms();
	char buf[2048];
	int n;

	/* Enough entries for overflow chains (8 buckets of 8), then holes. */
	for (uint64_t k = 0; k < 300; k++)
		CK_RC(k_put(m, _i, k, val_of(k + 1), NULL), 1);
	for (uint64_t k = 0; k < 300; k += 3)
		CK_OK(k_delete(m, _i, k, NULL));
	CK_OK(gcmap_iter_begin(m, &it));
	CK_RC(gcmap_iter_next(it, &e), 1);
	n = gcmap_stats_json(m, buf, sizeof(buf));
	CK_OK(gcmap_stats(m, &st));
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, (int)sizeof(buf));
	ck_assert_uint_eq(strlen(buf), (size_t)n);
	check_head(buf, "map", m, t0);
	ck_assert_msg(strstr(buf, _i == GCMAP_KEY_U64 ? "\"key_kind\":\"u64\"" :
							"\"key_kind\":\"bytes\""),
		      "%s", buf);
	ck_assert_msg(strstr(buf, "\"gc\":null"), "%s", buf);
	/* Every field of struct gcmap_stats but @size, with its value (no
	 * writer runs: both reads see the same map). */
#define F(name) ck_assert_uint_eq(field(buf, #name), (unsigned long long)st.name)
	F(entries);
	F(buckets);
	F(log2_buckets);
	F(overflow_buckets);
	F(slots);
	F(free_slots_in_used);
	F(longest_chain);
	F(bytes_allocated);
	F(bytes_pending);
	F(evacuating);
	F(evac_target_log2);
	F(evac_units_done);
	F(evac_units_total);
	F(grows);
	F(shrinks);
	F(rebuilds);
	F(evac_alloc_failures);
	F(bytes_pinned);
	F(iterators);
#undef F
	ck_assert_uint_eq(field(buf, "entries"), 200);
	ck_assert_uint_eq(field(buf, "iterators"), 1);
	ck_assert_uint_gt(field(buf, "bytes_pinned"), 0);
	CK_OK(gcmap_iter_end(it));
	CK_OK(gcmap_destroy(m));
}
END_TEST

static void fin_free(void *obj, void *arg)
{
	(void)arg;
	free(obj);
}

START_TEST(test_diag_gc_json_fields)
{
	struct gcmap_gc_stats st = { .size = sizeof(st) };
	struct gcmap_gc *gc;
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	uint64_t t0 = realtime_ms();
	char buf[1024], want[64], mbuf[1024];
	void *objs[10];
	int n;

	CK_OK(gcmap_gc_create(NULL, &gc));
	CK_OK(gcmap_gc_attach(gc, m));
	for (int i = 0; i < 10; i++) {
		objs[i] = malloc(16);
		ck_assert_ptr_nonnull(objs[i]);
		CK_OK(gcmap_read_lock());
		CK_OK(gcmap_gc_register(gc, objs[i], NULL, NULL, NULL));
		if (i < 4)
			CK_RC(gcmap_put_u64(m, (uint64_t)i, objs[i], NULL), 1);
		CK_OK(gcmap_read_unlock());
	}
	CK_OK(gcmap_gc_root_add(gc, objs[9]));
	CK_RC(gcmap_gc_collect(gc), 0); /* no finalizers: nothing queued */
	n = gcmap_gc_stats_json(gc, buf, sizeof(buf));
	CK_OK(gcmap_gc_stats(gc, &st));
	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(strlen(buf), (size_t)n);
	check_head(buf, "gc", gc, t0);
#define F(name) ck_assert_uint_eq(field(buf, #name), (unsigned long long)st.name)
	F(cycles);
	F(marking);
	F(marked);
	F(barrier_records);
	F(grey_overflows);
	F(mark_ns);
	F(registered);
	F(roots);
	F(finalized);
	F(pending);
	F(resurrected);
	F(cycles_found);
	F(maps);
#undef F
	ck_assert_uint_eq(field(buf, "registered"), 10);
	ck_assert_uint_eq(field(buf, "roots"), 1);
	ck_assert_uint_eq(field(buf, "maps"), 1);
	ck_assert_uint_eq(field(buf, "cycles"), 1);
	/* The attached map names its domain. */
	CK_RC(gcmap_stats_json(m, mbuf, sizeof(mbuf)), (int)strlen(mbuf));
	snprintf(want, sizeof(want), "\"gc\":\"0x%" PRIxPTR "\"", (uintptr_t)gc);
	ck_assert_msg(strstr(mbuf, want), "no %s in %s", want, mbuf);
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_gc_destroy(gc));
	CK_OK(gcmap_barrier());
	for (int i = 0; i < 10; i++)
		fin_free(objs[i], NULL);
}
END_TEST

/* snprintf's conventions, for both functions (_i: 0 map, 1 domain). */
static int json(int which, void *obj, char *buf, size_t len)
{
	return which == 0 ? gcmap_stats_json(obj, buf, len) : gcmap_gc_stats_json(obj, buf, len);
}

START_TEST(test_diag_json_snprintf)
{
	struct gcmap *m = make_map(GCMAP_KEY_BYTES, 0, NULL);
	struct gcmap_gc *gc;
	void *obj;
	char full[1024], buf[1024];
	int n, r;

	CK_OK(gcmap_gc_create(NULL, &gc));
	obj = _i == 0 ? (void *)m : (void *)gc;
	/* The length alone: NULL buffer, length 0. */
	n = json(_i, obj, NULL, 0);
	ck_assert_int_gt(n, 20);
	/* A non-NULL buffer of length 0 is not written. */
	buf[0] = 'X';
	CK_RC(json(_i, obj, buf, 0), n);
	ck_assert_int_eq(buf[0], 'X');
	/* Exactly enough room. */
	CK_RC(json(_i, obj, full, (size_t)n + 1), n);
	ck_assert_uint_eq(strlen(full), (size_t)n);
	/* One byte short: truncated, NUL-terminated, same return value; the
	 * text is the same up to the cut (t_ms may differ: compare the head). */
	memset(buf, 'X', sizeof(buf));
	r = json(_i, obj, buf, (size_t)n);
	ck_assert_int_eq(r, n);
	ck_assert_uint_eq(strlen(buf), (size_t)n - 1);
	ck_assert_int_eq(strncmp(buf, full, 20), 0);
	/* Room for the NUL only. */
	buf[0] = 'X';
	CK_RC(json(_i, obj, buf, 1), n);
	ck_assert_int_eq(buf[0], '\0');
	/* A cut in the middle. */
	memset(buf, 'X', sizeof(buf));
	CK_RC(json(_i, obj, buf, 10), n);
	ck_assert_uint_eq(strlen(buf), 9);
	ck_assert_int_eq(buf[10], 'X');
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_gc_destroy(gc));
}
END_TEST

static void *unregistered_json(void *arg)
{
	char buf[64];

	return (void *)(intptr_t)gcmap_stats_json(arg, buf, sizeof(buf));
}

static void *unregistered_gc_json(void *arg)
{
	char buf[64];

	return (void *)(intptr_t)gcmap_gc_stats_json(arg, buf, sizeof(buf));
}

START_TEST(test_diag_errors_json)
{
	struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
	struct gcmap_gc *gc;
	char buf[64];
	pthread_t t;
	void *ret;

	CK_OK(gcmap_gc_create(NULL, &gc));
	CK_RC(gcmap_stats_json(NULL, buf, sizeof(buf)), -EINVAL);
	CK_RC(gcmap_gc_stats_json(NULL, buf, sizeof(buf)), -EINVAL);
	CK_RC(gcmap_stats_json(m, NULL, 10), -EINVAL);
	CK_RC(gcmap_gc_stats_json(gc, NULL, 10), -EINVAL);
	ck_assert_int_eq(pthread_create(&t, NULL, unregistered_json, m), 0);
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	CK_RC((int)(intptr_t)ret, -EPERM);
	ck_assert_int_eq(pthread_create(&t, NULL, unregistered_gc_json, gc), 0);
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	CK_RC((int)(intptr_t)ret, -EPERM);
	CK_OK(gcmap_destroy(m));
	CK_OK(gcmap_gc_destroy(gc));
}
END_TEST

/* Serials tell apart objects created one after another at one address. */
START_TEST(test_diag_serial_increases)
{
	unsigned long long last = 0;
	char buf[1024];

	for (int i = 0; i < 4; i++) {
		struct gcmap *m = make_map(GCMAP_KEY_U64, 0, NULL);
		unsigned long long s;

		ck_assert_int_gt(gcmap_stats_json(m, buf, sizeof(buf)), 0);
		s = field(buf, "serial");
		ck_assert_uint_gt(s, last);
		last = s;
		CK_OK(gcmap_destroy(m));
	}
}
END_TEST

/* JSON while writers grow and shrink the map (TSan checks the reads). */
struct writer_arg {
	struct gcmap *m;
	int stop;
	struct failrec fail;
};

static void *writer(void *p)
{
	struct writer_arg *a = p;
	uint64_t round = 0;

	if (gcmap_thread_register() != 0) {
		fail_record(&a->fail, "register");
		return NULL;
	}
	while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE) && !failed(&a->fail)) {
		for (uint64_t k = 0; k < 2000; k++) {
			if (k_put(a->m, GCMAP_KEY_BYTES, k, val_of(k + 1), NULL) < 0)
				fail_record(&a->fail, "put %" PRIu64, k);
		}
		for (uint64_t k = 0; k < 2000; k++) {
			if (k_delete(a->m, GCMAP_KEY_BYTES, k, NULL) != 0)
				fail_record(&a->fail, "delete %" PRIu64, k);
		}
		round++;
	}
	gcmap_thread_unregister();
	return NULL;
}

START_TEST(test_diag_concurrent_json)
{
	struct writer_arg a = { .fail = FAILREC_INIT };
	char buf[2048];
	pthread_t t;

	a.m = make_map(GCMAP_KEY_BYTES, 0, NULL);
	ck_assert_int_eq(pthread_create(&t, NULL, writer, &a), 0);
	for (int i = 0; i < 300; i++) {
		int n = gcmap_stats_json(a.m, buf, sizeof(buf));

		ck_assert_int_gt(n, 0);
		ck_assert_int_lt(n, (int)sizeof(buf));
		ck_assert_msg(buf[n - 1] == '}', "%s", buf);
	}
	__atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(a.fail.n == 0, "%lu failures, first: %s", a.fail.n, a.fail.first);
	CK_OK(gcmap_destroy(a.m));
}
END_TEST

static Suite *diag_suite(void)
{
	Suite *s = suite_create("diag");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_diag_map_json_fields, 0, 2);
	tcase_add_test(tc, test_diag_gc_json_fields);
	tcase_add_loop_test(tc, test_diag_json_snprintf, 0, 2);
	tcase_add_test(tc, test_diag_serial_increases);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_add_test(tc, test_diag_errors_json);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrent");
	tcase_add_checked_fixture(tc, setup_registered, teardown_registered);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_diag_concurrent_json);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(diag_suite());
}
