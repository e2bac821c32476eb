/* recpool.h — where a Raft node's log records live (recpool.c).
 *
 * Each entry keeps its sealed log record (raft_internal.h, struct entry);
 * a record of a small KV command is ~70 bytes, and one g_malloc each put
 * malloc's per-chunk cost (and, through its fastbins, malloc_consolidate)
 * on every append and every compaction.  Instead small records are cut,
 * in order, out of chunks of REC_CHUNK_BYTES; a chunk counts its live
 * records and goes back to malloc when the last one is freed.  Entries are
 * freed oldest first (compaction) or newest first (truncation), so a chunk
 * empties as a whole and memory follows the log.  Records larger than
 * REC_SMALL_MAX get their own allocation.  Per node: nodes share no
 * memory, as real hosts do not.  Used by the files of models/raft/ and by
 * its tests. */
#ifndef AU_RAFT_RECPOOL_H
#define AU_RAFT_RECPOOL_H

#include <stddef.h>
#include <stdint.h>

#define REC_CHUNK_BYTES 32704u /* a chunk's records; the chunk with its header: 32 KiB */
#define REC_SMALL_MAX 1024u    /* larger records: an allocation each */

struct rec_chunk;

struct rec_pool {
	struct rec_chunk *cur; /* the chunk records are cut from; NULL: none yet */
	uint64_t chunks;       /* chunks allocated and not yet freed (tests) */
};

/* `len` bytes for one record; *chunk gets what au_raft__rec_free needs
 * (NULL: the record is an allocation of its own). */
uint8_t *au_raft__rec_alloc(struct rec_pool *p, size_t len, struct rec_chunk **chunk);
/* Give back a record au_raft__rec_alloc returned (with its chunk). */
void au_raft__rec_free(struct rec_pool *p, uint8_t *rec, struct rec_chunk *chunk);
/* Free the pool's current chunk; every record must have been freed. */
void au_raft__rec_pool_clear(struct rec_pool *p);

#endif
