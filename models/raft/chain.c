/* chain.c — an entry's chain value and its bytes in memory.
 *
 * Every node of a simulated cluster appends the same entries, so each
 * computed the same FNV-1a chain over the same bytes.  The chain is a pure
 * function of (previous chain, term, type, data), so it is memoised here:
 * a small per-thread direct-mapped table keyed by (previous chain, term,
 * type, length) holds the chain and a copy of the entry's bytes; a lookup
 * is a hit only if the bytes are equal (memcmp decides, so a key collision
 * costs a recomputation, never a wrong value).  Nothing observable
 * changes: the same chain, whichever node came first.
 *
 * Each entry still gets its own copy of the bytes, hit or miss: nodes of a
 * simulated cluster share no memory, as real hosts do not, so a node that
 * scribbles over its log (a bug under test) corrupts its own replica only
 * and replicas_agree can see it.  (Sharing one copy saved a memcpy per
 * node and entry and would have hidden exactly that class of bug.)
 *
 * Bounded: CHAIN_MEMO_SLOTS slots, at most CHAIN_MEMO_BYTES of data held
 * by the table itself (aureon-node, a single node, gains little from it
 * and keeps at most that much).  Per thread (_Thread_local), so threads
 * never share a slot; the reference counts are atomic, so a block may still
 * be released from any thread.
 */
#include "raft_internal.h"

#include <stddef.h>
#include <string.h>

#include <glib.h>

#define CHAIN_MEMO_SLOTS 1024u
#define CHAIN_MEMO_MIN 16u                 /* smaller entries: hashing is as cheap */
#define CHAIN_MEMO_BYTES ((size_t)8 << 20) /* data the table keeps alive, at most */

/* A block of entry bytes; an entry's data points at bytes[] (read as
 * bytes only: no alignment is promised). */
struct entry_block {
	gint refs;
	uint32_t len;
	uint8_t bytes[];
};

struct memo_slot {
	uint64_t prev, term, chain;
	uint32_t len;
	uint8_t type;
	struct entry_block *blk; /* NULL: empty */
};

static _Thread_local struct memo_slot memo[CHAIN_MEMO_SLOTS];
static _Thread_local size_t memo_bytes;
static _Thread_local uint64_t memo_hits;

static struct entry_block *block_of(const uint8_t *data)
{
	return (struct entry_block *)(void *)(data - offsetof(struct entry_block, bytes));
}

static struct entry_block *block_new(const void *data, uint32_t len)
{
	struct entry_block *b = g_malloc(sizeof(*b) + len);
	b->refs = 1;
	b->len = len;
	memcpy(b->bytes, data, len);
	return b;
}

static void block_unref(struct entry_block *b)
{
	if (g_atomic_int_dec_and_test(&b->refs))
		g_free(b);
}

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

uint8_t *au_raft__entry_data(uint64_t prev, uint64_t term, uint8_t type, const void *data,
			     uint32_t len, uint64_t *chain)
{
	if (len == 0) {
		*chain = au_raft__chain_hash(prev, term, type, NULL, 0);
		return NULL;
	}
	if (len < CHAIN_MEMO_MIN) {
		struct entry_block *b = block_new(data, len);
		*chain = au_raft__chain_hash(prev, term, type, b->bytes, len);
		return b->bytes;
	}
	struct memo_slot *s = slot_for(prev, term, type, len);
	if (s->blk && s->prev == prev && s->term == term && s->type == type && s->len == len &&
	    memcmp(s->blk->bytes, data, len) == 0) {
		memo_hits++;
		*chain = s->chain;
		return block_new(data, len)->bytes; /* this entry's own copy */
	}
	struct entry_block *b = block_new(data, len);
	*chain = au_raft__chain_hash(prev, term, type, b->bytes, len);
	size_t old = s->blk ? s->blk->len : 0;
	if (memo_bytes - old + len <= CHAIN_MEMO_BYTES) {
		if (s->blk)
			block_unref(s->blk);
		memo_bytes = memo_bytes - old + len;
		g_atomic_int_inc(&b->refs); /* the table's reference */
		*s = (struct memo_slot){prev, term, *chain, len, type, b};
	}
	return b->bytes;
}

void au_raft__entry_data_unref(const uint8_t *data)
{
	if (data)
		block_unref(block_of(data));
}

uint64_t au_raft__chain_memo_hits(void)
{
	return memo_hits;
}

void au_raft__chain_memo_clear(void)
{
	for (uint32_t i = 0; i < CHAIN_MEMO_SLOTS; i++) {
		if (memo[i].blk)
			block_unref(memo[i].blk);
		memo[i].blk = NULL;
	}
	memo_bytes = 0;
}
