/*
 * tour.c - a tour of the gcmap API, quoted verbatim by README.md.
 * `make` builds it, `make check` runs it: it exits non-zero when a call does
 * not return what the tour says it returns.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <gcmap.h>

/* Stop the tour unless @expr returns @want. */
#define EXPECT(expr, want)                                                                        \
	do {                                                                                      \
		int rc_ = (expr);                                                                 \
		if (rc_ != (want)) {                                                              \
			fprintf(stderr, "tour: line %d: %s returned %d (%s), not %d\n", __LINE__, \
				#expr, rc_, gcmap_strerror(rc_), (want));                         \
			exit(EXIT_FAILURE);                                                       \
		}                                                                                 \
	} while (0)

/* Values are the caller's objects: gcmap stores pointers and never frees them. */
struct user {
	uint64_t id;
	char name[16];
};

static struct user *user_new(uint64_t id, const char *name)
{
	struct user *u = calloc(1, sizeof(*u));

	if (!u)
		exit(EXIT_FAILURE);
	u->id = id;
	snprintf(u->name, sizeof(u->name), "%s", name);
	return u;
}

int main(void)
{
	struct gcmap *by_id, *by_name;
	struct gcmap_options opts = {
		.size = sizeof(opts),
		.key_kind = GCMAP_KEY_BYTES,
	};
	struct gcmap_stats st = { .size = sizeof(st) };
	struct user *ada = user_new(1, "ada"), *bob = user_new(2, "bob");
	struct user *ada2 = user_new(1, "ada lovelace");
	void *val, *old;
	size_t count;

	/* Every thread that uses gcmap registers first (and unregisters at the end). */
	EXPECT(gcmap_thread_register(), 0);

	/* A map with 64-bit keys (NULL options: the defaults) and one with byte strings. */
	EXPECT(gcmap_create(NULL, &by_id), 0);
	EXPECT(gcmap_create(&opts, &by_name), 0);

	/* put inserts (returns 1) or replaces (returns 0); get finds. */
	EXPECT(gcmap_put_u64(by_id, ada->id, ada, &old), 1);
	EXPECT(gcmap_put_u64(by_id, bob->id, bob, NULL), 1);
	EXPECT(gcmap_put_bytes(by_name, "ada", 3, ada, NULL), 1);
	EXPECT(gcmap_get_u64(by_id, 1, &val), 0);
	printf("id 1 is %s\n", ((struct user *)val)->name);
	EXPECT(gcmap_get_bytes(by_name, "bob", 3, &val), -ENOENT);

	/* insert only adds a missing key; replace only changes a present one. */
	EXPECT(gcmap_insert_u64(by_id, 1, bob, &val), -EEXIST);
	EXPECT(gcmap_replace_u64(by_id, 3, bob, NULL), -ENOENT);
	EXPECT(gcmap_insert_bytes(by_name, "bob", 3, bob, NULL), 0);

	/* cas swaps only if the current value is the expected one. */
	EXPECT(gcmap_cas_u64(by_id, 1, bob, ada2, &val), -ECANCELED);
	EXPECT(gcmap_cas_u64(by_id, 1, ada, ada2, NULL), 0);
	EXPECT(gcmap_replace_bytes(by_name, "ada", 3, ada2, &old), 0);

	/*
	 * ada is out of both maps now, but a reader on another thread may still
	 * hold it: free it after a grace period (NULL: with free()).
	 */
	EXPECT(gcmap_defer_free(old, NULL), 0);

	/* delete hands back the removed value. */
	EXPECT(gcmap_delete_bytes(by_name, "bob", 3, &old), 0);
	EXPECT(gcmap_delete_u64(by_id, 2, &old), 0);
	EXPECT(gcmap_defer_free(old, NULL), 0);
	EXPECT(gcmap_delete_u64(by_id, 2, NULL), -ENOENT);

	/* count, and where the memory is. */
	EXPECT(gcmap_count(by_id, &count), 0);
	EXPECT(gcmap_stats(by_id, &st), 0);
	printf("entries: %zu; buckets: %zu; bytes held: %zu, of which waiting for a grace period: %zu\n",
	       count, st.buckets, st.bytes_allocated, st.bytes_pending);
	if (count != 1 || st.entries != 1)
		return EXIT_FAILURE;

	/* destroy does not free values: ada2 is still ours. */
	EXPECT(gcmap_destroy(by_id), 0);
	EXPECT(gcmap_destroy(by_name), 0);
	free(ada2);

	/* Wait for the deferred frees, then leave. */
	EXPECT(gcmap_barrier(), 0);
	EXPECT(gcmap_thread_unregister(), 0);
	printf("tour: done\n");
	return EXIT_SUCCESS;
}
