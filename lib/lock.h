/*
 * lock.h - the bucket lock: a 4-byte futex word that spins briefly, then
 * sleeps (Drepper's "mutex2": 0 free, 1 locked, 2 locked with waiters).
 * Acquire on lock, release on unlock: the lock holder's stores to a chain
 * happen before the next holder's loads.
 */
#ifndef GCMAP_LOCK_H
#define GCMAP_LOCK_H

#include <linux/futex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOCK_FREE 0u
#define LOCK_HELD 1u
#define LOCK_WAITERS 2u
#define LOCK_SPINS 64

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

static inline void futex_wait(uint32_t *word, uint32_t val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static inline void futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void gcmap__lock_slow(uint32_t *word);

static inline void bucket_lock(uint32_t *word)
{
	uint32_t c = LOCK_FREE;

	/* Acquire pairs with the release in bucket_unlock(). */
	if (__atomic_compare_exchange_n(word, &c, LOCK_HELD, false, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED))
		return;
	gcmap__lock_slow(word);
}

static inline bool bucket_trylock(uint32_t *word)
{
	uint32_t c = LOCK_FREE;

	return __atomic_compare_exchange_n(word, &c, LOCK_HELD, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

static inline void bucket_unlock(uint32_t *word)
{
	/* Release pairs with the acquire in bucket_lock()/gcmap__lock_slow(). */
	if (__atomic_exchange_n(word, LOCK_FREE, __ATOMIC_RELEASE) == LOCK_WAITERS)
		futex_wake(word);
}

#endif /* GCMAP_LOCK_H */
