/* chain.h — an entry's chain value, memoised (chain.c).  Used by the
 * files of models/raft/ and by its tests. */
#ifndef AU_RAFT_CHAIN_H
#define AU_RAFT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a over the previous chain, the term, the type and the data. */
uint64_t au_raft__chain_hash(uint64_t prev, uint64_t term, uint8_t type, const uint8_t *d, size_t n);
/* au_raft__chain_hash(prev, term, type, data, len), memoised. */
uint64_t au_raft__chain_memo(uint64_t prev, uint64_t term, uint8_t type, const uint8_t *data,
			     uint32_t len);
/* The same, and *crc = au_crc32c(0, rec, rec_len), memoised too: rec must
 * be a pure function of (index, prev, term, type, data) — the entry's log
 * record at `index` — for a remembered CRC to be right. */
uint64_t au_raft__chain_memo_rec(uint64_t prev, uint64_t term, uint8_t type, const uint8_t *data,
				 uint32_t len, uint64_t index, const uint8_t *rec, size_t rec_len,
				 uint32_t *crc);
/* Lookups this thread's memo answered (tests). */
uint64_t au_raft__chain_memo_hits(void);
/* Record CRCs this thread's memo answered (tests). */
uint64_t au_raft__chain_memo_crc_hits(void);
/* Empty this thread's memo (tests). */
void au_raft__chain_memo_clear(void);

#endif
