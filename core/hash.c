/* hash.c — FNV-1a (see hash.h). */
#include "hash.h"

uint64_t au_hash_fnv1a(const void *p, size_t n)
{
	return au_hash_fnv1a_add(AU_HASH_FNV1A_INIT, p, n);
}

uint64_t au_hash_fnv1a_u64(uint64_t v)
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	return au_hash_fnv1a(le, sizeof(le));
}
