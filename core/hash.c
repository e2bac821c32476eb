/* hash.c — FNV-1a (see hash.h). */
#include "hash.h"

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

uint64_t au_hash_fnv1a(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = FNV_OFFSET;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= FNV_PRIME;
	}
	return h;
}

uint64_t au_hash_fnv1a_u64(uint64_t v)
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	return au_hash_fnv1a(le, sizeof(le));
}
