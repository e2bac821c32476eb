/* hash.h — the small non-cryptographic hashes every room shares: SplitMix64's
 * finaliser, to spread seeds, keys and counters over 64 bits, and FNV-1a, a
 * short fingerprint of a byte string (a task's result, a payload).
 *
 * One copy of each, so two places that must agree on a hash (the orchestrator
 * and the exactly_once check, the seeds a sweep samples and its report) do.
 * They find accidents, not adversaries: nothing here is a cryptographic hash.
 */
#ifndef AU_HASH_H
#define AU_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The golden-ratio increment SplitMix64 adds before mixing. */
#define AU_HASH_GOLDEN UINT64_C(0x9e3779b97f4a7c15)

/* SplitMix64's finaliser alone (Stafford's variant 13): a bijection of z
 * with good avalanche. */
static inline uint64_t au_hash_fin64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* SplitMix64's output function over z: the golden increment, then the
 * finaliser.  Distinct inputs give distinct, well-spread outputs. */
static inline uint64_t au_hash_mix64(uint64_t z)
{
	return au_hash_fin64(z + AU_HASH_GOLDEN);
}

#define AU_HASH_FNV1A_INIT UINT64_C(0xcbf29ce484222325) /* FNV-1a's offset basis */

/* Continue an FNV-1a hash `h` over `n` bytes (start from AU_HASH_FNV1A_INIT;
 * hashing two buffers in turn equals hashing their concatenation). */
static inline uint64_t au_hash_fnv1a_add(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* FNV-1a (64-bit) of `n` bytes. */
uint64_t au_hash_fnv1a(const void *p, size_t n);

/* FNV-1a of v's eight bytes in little-endian order, whatever the host. */
uint64_t au_hash_fnv1a_u64(uint64_t v);

#endif
