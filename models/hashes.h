/* hashes.h — the effect chain of the replicated machines: a running hash
 * of every traced effect, equal on replicas at equal log index.  Built on
 * core/hash.h (SplitMix64, FNV-1a), which models use directly too.
 *
 * Traces and trace hashes depend on these exact bits, so a change here
 * changes every scenario's hash.
 */
#ifndef AU_HASHES_H
#define AU_HASHES_H

#include <stdint.h>

#include "hash.h"

/* Fold one effect (a trace kind and its three values) into a machine's
 * effect chain: the next chain value. */
static inline uint64_t au_hash_effect(uint64_t chain, uint16_t kind, int64_t a, int64_t b,
				      int64_t c)
{
	return au_hash_mix64(chain ^ au_hash_mix64(((uint64_t)kind << 48) ^ (uint64_t)a) ^
			     au_hash_mix64((uint64_t)b + 0x51) ^ au_hash_mix64((uint64_t)c + 0x93));
}

#endif
