/* hashes.h — the small non-cryptographic hashes models share: SplitMix64's
 * finaliser (seeds, synthetic results, state digests), FNV-1a over bytes
 * (the digests of results and records that traces carry), and the effect
 * chain of the replicated machines (a running hash of every traced effect,
 * equal on replicas at equal log index).
 *
 * One copy of each: traces and trace hashes depend on these exact bits, so
 * a change here changes every scenario's hash.
 */
#ifndef AU_HASHES_H
#define AU_HASHES_H

#include <stddef.h>
#include <stdint.h>

/* SplitMix64's finaliser: a bijection with good avalanche, so distinct
 * inputs give distinct, well-spread outputs. */
static inline uint64_t au_hash_mix64(uint64_t z)
{
	z += UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

#define AU_HASH_FNV1A_INIT UINT64_C(0xcbf29ce484222325) /* FNV-1a's offset basis */

/* Continue an FNV-1a hash `h` over `n` bytes (start from AU_HASH_FNV1A_INIT;
 * hashing two buffers in turn equals hashing their concatenation). */
static inline uint64_t au_hash_fnv1a_add(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* FNV-1a of `n` bytes. */
static inline uint64_t au_hash_fnv1a(const uint8_t *p, size_t n)
{
	return au_hash_fnv1a_add(AU_HASH_FNV1A_INIT, p, n);
}

/* Fold one effect (a trace kind and its three values) into a machine's
 * effect chain: the next chain value. */
static inline uint64_t au_hash_effect(uint64_t chain, uint16_t kind, int64_t a, int64_t b,
				      int64_t c)
{
	return au_hash_mix64(chain ^ au_hash_mix64(((uint64_t)kind << 48) ^ (uint64_t)a) ^
			     au_hash_mix64((uint64_t)b + 0x51) ^ au_hash_mix64((uint64_t)c + 0x93));
}

#endif
