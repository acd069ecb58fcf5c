/*
 * hash.c - hashing: a seeded 64-bit mixer for integer keys and keyed
 * SipHash-2-4 for byte strings, so keys from the network cannot be chosen to
 * flood one bucket without knowing the per-map random seed.
 */
#include "internal.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND(v0, v1, v2, v3)   \
	do {                       \
		v0 += v1;          \
		v1 = rotl(v1, 13); \
		v1 ^= v0;          \
		v0 = rotl(v0, 32); \
		v2 += v3;          \
		v3 = rotl(v3, 16); \
		v3 ^= v2;          \
		v0 += v3;          \
		v3 = rotl(v3, 21); \
		v3 ^= v0;          \
		v2 += v1;          \
		v1 = rotl(v1, 17); \
		v1 ^= v2;          \
		v2 = rotl(v2, 32); \
	} while (0)

static inline uint64_t load_le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

uint64_t gcmap__siphash(const uint64_t k[2], const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ k[0];
	uint64_t v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t b = (uint64_t)len << 56;
	size_t left = len & 7;
	const unsigned char *end;

	if (!len)
		p = (const unsigned char *)""; /* a NULL key of length 0 is allowed */
	end = p + (len - left);

	for (; p != end; p += 8) {
		uint64_t m = load_le64(p);

		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t i = 0; i < left; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t gcmap__hash_bytes(const struct gcmap *map, const void *key, size_t len)
{
	return gcmap__siphash(map->seed, key, len);
}

void gcmap__random_seed(uint64_t seed[2])
{
	ssize_t got = getrandom(seed, 2 * sizeof(uint64_t), GRND_NONBLOCK);

	if (got != (ssize_t)(2 * sizeof(uint64_t))) {
		/* No entropy yet (early boot): mix clock and addresses; still
		 * differs per map and per process. */
		struct timespec ts;
		static uint64_t ctr;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)seed;
		seed[1] = (uint64_t)ts.tv_sec ^
			  (__atomic_add_fetch(&ctr, 1, __ATOMIC_RELAXED) * 0xc2b2ae3d27d4eb4fULL);
	}
}
