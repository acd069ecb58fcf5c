/*
 * util.c - allocation through the hooks (with per-site accounting for
 * fault-injection tests), error strings and fatal errors.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned long gcmap__site_calls[GCMAP_NR_SITES];
static __thread enum gcmap__site tls_site;

static void *libc_malloc(size_t size, void *ctx)
{
	(void)ctx;
	return malloc(size);
}

static void *libc_zalloc(size_t size, void *ctx)
{
	(void)ctx;
	/* calloc gets fresh zero pages from the kernel for large sizes, so a
	 * big table is not zeroed by the caller. */
	return calloc(1, size);
}

static void libc_free(void *ptr, size_t size, void *ctx)
{
	(void)size;
	(void)ctx;
	free(ptr);
}

static const struct gcmap_allocator libc_allocator = {
	.malloc = libc_malloc,
	.zalloc = libc_zalloc,
	.free = libc_free,
	.ctx = NULL,
};

/* The process-wide allocator for allocations not owned by a map. Replaced
 * only by tests while no other thread allocates; acquire/release so the
 * hooks' context is visible to the call_rcu thread. */
static const struct gcmap_allocator *default_alloc = &libc_allocator;

void gcmap__set_default_allocator(const struct gcmap_allocator *a)
{
	__atomic_store_n(&default_alloc, a ? a : &libc_allocator, __ATOMIC_RELEASE);
}

const struct gcmap_allocator *gcmap__default_allocator(void)
{
	return __atomic_load_n(&default_alloc, __ATOMIC_ACQUIRE);
}

static const struct gcmap_allocator *hooks_of(const struct gcmap *map)
{
	if (map)
		return &map->alloc;
	return __atomic_load_n(&default_alloc, __ATOMIC_ACQUIRE);
}

void *gcmap__alloc(struct gcmap *map, size_t size, bool zero, enum gcmap__site site)
{
	const struct gcmap_allocator *a = hooks_of(map);
	void *p;

	__atomic_fetch_add(&gcmap__site_calls[site], 1, __ATOMIC_RELAXED);
	tls_site = site;
	p = zero ? a->zalloc(size, a->ctx) : a->malloc(size, a->ctx);
	if (p && map)
		__atomic_fetch_add(&map->bytes_allocated, size, __ATOMIC_RELAXED);
	return p;
}

void gcmap__free(struct gcmap *map, void *ptr, size_t size)
{
	const struct gcmap_allocator *a = hooks_of(map);

	if (!ptr)
		return;
	if (map)
		__atomic_fetch_sub(&map->bytes_allocated, size, __ATOMIC_RELAXED);
	a->free(ptr, size, a->ctx);
}

enum gcmap__site gcmap__alloc_site(void)
{
	return tls_site;
}

const char *gcmap__site_name(enum gcmap__site site)
{
	/* One site per line. */
	/* clang-format off */
	static const char *const names[GCMAP_NR_SITES] = {
		[GCMAP_SITE_MAP] = "map",
		[GCMAP_SITE_TABLE] = "table",
		[GCMAP_SITE_BUCKETS] = "buckets",
		[GCMAP_SITE_OVERFLOW] = "overflow",
		[GCMAP_SITE_KEY] = "key",
		[GCMAP_SITE_EVAC] = "evac-overflow",
		[GCMAP_SITE_DEFER] = "defer",
		[GCMAP_SITE_ITER] = "iter",
		[GCMAP_SITE_GC] = "gc",
	};
	/* clang-format on */

	if ((unsigned int)site >= GCMAP_NR_SITES)
		return "?";
	return names[site];
}

const char *gcmap_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EINVAL:
		return "invalid argument (NULL map or key, wrong key kind, bad option)";
	case -ENOMEM:
		return "out of memory (the map is unchanged)";
	case -ENOENT:
		return "no such key";
	case -EEXIST:
		return "key already present";
	case -E2BIG:
		return "key longer than the map's max_key_len";
	case -EPERM:
		return "calling thread is not registered (gcmap_thread_register)";
	case -EBUSY:
		return "busy (read-side section held, or operation in flight)";
	case -EALREADY:
		return "thread already registered";
	case -EDEADLK:
		return "would wait for a grace period inside a read-side section";
	case -ECANCELED:
		return "compare-and-swap failed: the value differs";
	case -EAGAIN:
		return "resource temporarily unavailable (a thread could not be started)";
	default:
		return "unknown gcmap error";
	}
}

void gcmap__die(const char *file, int line, const char *what, int err)
{
	fprintf(stderr, "gcmap: fatal: %s:%d: %s: %s\n", file, line, what, strerror(err));
	abort();
}
