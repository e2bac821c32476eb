/* chain.c — an entry's chain value, memoised.
 *
 * Every node of a simulated cluster appends the same entries, so each
 * computed the same FNV-1a chain over the same bytes.  The chain is a pure
 * function of (previous chain, term, type, data), so it is memoised here:
 * a small per-thread direct-mapped table keyed by (previous chain, term,
 * type, length) holds the chain and the table's own copy of the bytes; a
 * lookup is a hit only if the bytes are equal (memcmp decides, so a key
 * collision costs a recomputation, never a wrong value).  Nothing
 * observable changes: the same chain, whichever node came first.
 *
 * The entries keep their own copies (log.c): nodes of a simulated cluster
 * share no memory, as real hosts do not, so a node that scribbles over its
 * log (a bug under test) corrupts its own replica only and replicas_agree
 * can see it.
 *
 * A slot also keeps the CRC-32C of the entry's log record at one index
 * (au_raft__chain_memo_rec): the record is a pure function of (index,
 * previous chain, term, type, data), all of which a hit has compared, so
 * the followers that append the leader's entry at the same index take the
 * CRC the first node computed instead of running it over the bytes again.
 *
 * Bounded: CHAIN_MEMO_SLOTS slots, at most CHAIN_MEMO_BYTES of data held
 * by the table, counted by allocation (aureon-node, a single node, gains
 * nothing from it and keeps at most that much); a slot taken over by
 * another entry reuses its allocation when the bytes fit in it and fill
 * at least half.  Per thread (_Thread_local): threads never share a slot.
 */
#include "raft_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <glib.h>

#include "wire.h"

#define CHAIN_MEMO_SLOTS 1024u
#define CHAIN_MEMO_MIN 16u                 /* smaller entries: hashing is as cheap */
#define CHAIN_MEMO_BYTES ((size_t)8 << 20) /* data the table keeps alive, at most */

struct memo_slot {
	uint64_t prev, term, chain;
	uint32_t len;
	uint8_t type;
	bool has_crc;
	uint32_t crc;       /* the record's CRC at rec_index, if has_crc */
	uint64_t rec_index;
	uint8_t *bytes; /* the table's own copy; NULL: empty */
	uint32_t cap;   /* bytes' allocation (>= len): a later entry that fits reuses it */
};

static _Thread_local struct memo_slot memo[CHAIN_MEMO_SLOTS];
static _Thread_local size_t memo_bytes;
static _Thread_local uint64_t memo_hits;
static _Thread_local uint64_t memo_crc_hits;

uint64_t au_raft__chain_hash(uint64_t prev, uint64_t term, uint8_t type, const uint8_t *d, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	uint8_t head[17];
	for (int i = 0; i < 8; i++) {
		head[i] = (uint8_t)(prev >> (8 * i));
		head[8 + i] = (uint8_t)(term >> (8 * i));
	}
	head[16] = type;
	for (size_t i = 0; i < sizeof(head); i++)
		h = (h ^ head[i]) * UINT64_C(0x100000001b3);
	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * UINT64_C(0x100000001b3);
	return h;
}

static struct memo_slot *slot_for(uint64_t prev, uint64_t term, uint8_t type, uint32_t len)
{
	uint64_t k = prev ^ (term * UINT64_C(0x9e3779b97f4a7c15)) ^ ((uint64_t)len << 8 | type);
	k ^= k >> 29;
	k *= UINT64_C(0xbf58476d1ce4e5b9);
	k ^= k >> 32;
	return &memo[k & (CHAIN_MEMO_SLOTS - 1)];
}

/* The chain, memoised; *slot gets the slot that now holds this entry
 * (NULL: it is not memoised) and *hit whether it held it already. */
static uint64_t memo_lookup(uint64_t prev, uint64_t term, uint8_t type, const uint8_t *data,
			    uint32_t len, struct memo_slot **slot, bool *hit)
{
	*slot = NULL;
	*hit = false;
	if (len < CHAIN_MEMO_MIN)
		return au_raft__chain_hash(prev, term, type, data, len);
	struct memo_slot *s = slot_for(prev, term, type, len);
	if (s->bytes && s->prev == prev && s->term == term && s->type == type && s->len == len &&
	    memcmp(s->bytes, data, len) == 0) {
		memo_hits++;
		*slot = s;
		*hit = true;
		return s->chain;
	}
	uint64_t chain = au_raft__chain_hash(prev, term, type, data, len);
	size_t old = s->bytes ? s->cap : 0;
	uint8_t *bytes = s->bytes;
	uint32_t cap = s->cap;
	if (bytes && cap >= len && cap <= 2 * (size_t)len) {
		memcpy(bytes, data, len); /* the slot's allocation fits: no free and malloc */
	} else if (memo_bytes - old + len <= CHAIN_MEMO_BYTES) {
		g_free(bytes);
		memo_bytes = memo_bytes - old + len;
		bytes = g_memdup2(data, len);
		cap = len;
	} else {
		return chain;
	}
	*s = (struct memo_slot){.prev = prev, .term = term, .chain = chain, .len = len,
				.type = type, .bytes = bytes, .cap = cap};
	*slot = s;
	return chain;
}

uint64_t au_raft__chain_memo(uint64_t prev, uint64_t term, uint8_t type, const uint8_t *data,
			     uint32_t len)
{
	struct memo_slot *s;
	bool hit;
	return memo_lookup(prev, term, type, data, len, &s, &hit);
}

uint64_t au_raft__chain_memo_rec(uint64_t prev, uint64_t term, uint8_t type, const uint8_t *data,
				 uint32_t len, uint64_t index, const uint8_t *rec, size_t rec_len,
				 uint32_t *crc)
{
	struct memo_slot *s;
	bool hit;
	uint64_t chain = memo_lookup(prev, term, type, data, len, &s, &hit);
	if (hit && s->has_crc && s->rec_index == index) {
		memo_crc_hits++;
		*crc = s->crc;
		return chain;
	}
	*crc = au_crc32c(0, rec, rec_len);
	if (s) {
		s->has_crc = true;
		s->crc = *crc;
		s->rec_index = index;
	}
	return chain;
}

uint64_t au_raft__chain_memo_hits(void)
{
	return memo_hits;
}

uint64_t au_raft__chain_memo_crc_hits(void)
{
	return memo_crc_hits;
}

void au_raft__chain_memo_clear(void)
{
	for (uint32_t i = 0; i < CHAIN_MEMO_SLOTS; i++) {
		g_free(memo[i].bytes);
		memo[i].bytes = NULL;
		memo[i].cap = 0;
	}
	memo_bytes = 0;
}
