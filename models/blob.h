/* blob.h — the result bytes behind ONE's digests: files addressed by
 * SHA-256 digest, each kept by k holder nodes (docs/one.md, "Results").
 *
 * Holders are placed by rendezvous hashing of the digest over n1..nN, so
 * anyone can name them without a lookup.  Nothing is copied at write time:
 * the replicas that compute a result (RQML's finishing entry, ONE's
 * synthetic jobs) call au_blob_store with the bytes, and the ones that are
 * holders write the file `blob-<hex digest>`, sync it, then append an
 * entry to `blob-index` and sync that; only indexed blobs are served after
 * a restart.
 *
 * Messages (first byte = type, CRC-32C sealed):
 *   GET   (req, job, offset)              fetch a chunk of job's result
 *   CHUNK (req, status, job, digest, total, offset, bytes)
 *   SYNTH (req, job, size, seed)          ask the leader to run a synthetic job
 *   SYNTH_ACK (req, status, leader hint)
 * A server answers GET from its own ONE replica (the digest) and its own
 * disk (the bytes).  aureon-ctl speaks this protocol to the "blob" service.
 *
 * In simulation a node named by `fetch_node` fetches every result its ONE
 * replica holds at `fetch_at`, chunk by chunk from the holders in turn,
 * checks the SHA-256 and traces BLOB_FETCH; `results_retrievable` judges.
 */
#ifndef AU_BLOB_H
#define AU_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define AU_BLOB_CHUNK 32768u                /* bytes per CHUNK message */
#define AU_BLOB_MAX (UINT64_C(256) << 20)   /* largest blob stored */
#define AU_BLOB_SYNTH_MAX (64u << 20)       /* largest synthetic job */
#define AU_BLOB_HDR 72u                     /* CHUNK bytes besides the data */

enum { AU_BLOB_GET = 1, AU_BLOB_CHUNK_MSG = 2, AU_BLOB_SYNTH = 3, AU_BLOB_SYNTH_ACK = 4 };

/* CHUNK status. */
enum au_blob_status {
	AU_BLOB_OK = 0,
	AU_BLOB_NO_RECORD = 1, /* this replica's ONE has no record of the job (yet) */
	AU_BLOB_NOT_HERE = 2,  /* recorded, but this node keeps no copy */
	AU_BLOB_BAD_OFFSET = 3,/* offset past the end */
};

/* SYNTH_ACK status. */
enum au_blob_synth_status {
	AU_BLOB_SYNTH_DONE = 0,       /* the job's record is in ONE */
	AU_BLOB_SYNTH_PENDING = 1,    /* proposed: ask again */
	AU_BLOB_SYNTH_NOT_LEADER = 2, /* ask the leader (hint; 0: unknown) */
	AU_BLOB_SYNTH_REFUSED = 3,    /* bad size, or no raft/one here */
};

/* [blob] configuration. */
struct au_blob_config {
	uint32_t replicas;        /* holders per blob (3) */
	au_time chunk_timeout_ns; /* a fetch moves to the next holder after this (200ms) */
	uint32_t chunk;           /* bytes a holder serves per CHUNK (AU_BLOB_CHUNK; less to test multi-chunk fetches of small results) */
	uint32_t synthetic;       /* synthetic jobs the leader submits (0) */
	uint32_t synthetic_size;  /* bytes of each (1048576) */
	au_time synthetic_at;     /* when (1s) */
	uint32_t fetch_node;      /* node that fetches every result (0: none) */
	au_time fetch_at;         /* when (10s) */
};

/* One CHUNK, decoded (data points into the message). */
struct au_blob_chunk {
	uint64_t req, job;
	uint8_t status;
	uint8_t digest[32];
	uint64_t total, offset;
	uint32_t n;
	const uint8_t *data;
};

/* The first k holders of `digest` among n1..n`nodes`, best first (all
 * nodes ranked when k >= nodes); returns how many were written. */
uint32_t au_blob_holders(const uint8_t digest[32], uint32_t nodes, uint32_t k, au_node_id *out);
/* The bytes of synthetic job (job, seed): PCG32 words, little-endian. */
void au_blob_synth_bytes(uint64_t job, uint64_t seed, uint8_t *out, size_t size);

struct au_blob;

/* Keep `len` bytes whose SHA-256 is `digest` if this node is one of its
 * holders (else nothing); already kept: nothing.  Called by the replicas
 * that computed them while applying. */
void au_blob_store(struct au_blob *b, const uint8_t digest[32], const void *bytes, size_t len);
/* Same for a vector of doubles (RQML results: little-endian IEEE-754, the
 * bytes au_kernel_digest hashes). */
void au_blob_store_f64(struct au_blob *b, const uint8_t digest[32], const double *v, size_t n);
/* Whether this node keeps the blob (written; durable or syncing). */
bool au_blob_has(const struct au_blob *b, const uint8_t digest[32]);
/* Read the kept blob back and compare its SHA-256 with `digest`. */
bool au_blob_verify(struct au_blob *b, const uint8_t digest[32]);
/* Blobs kept on this node. */
uint32_t au_blob_count(const struct au_blob *b);

/* Wire helpers for clients (aureon-ctl); lengths 0 if cap is too small. */
size_t au_blob_encode_get(uint64_t req, uint64_t job, uint64_t offset, uint8_t *buf, size_t cap);
size_t au_blob_encode_synth(uint64_t req, uint64_t job, uint32_t size, uint64_t seed, uint8_t *buf,
			    size_t cap);
bool au_blob_decode_chunk(const uint8_t *msg, size_t len, struct au_blob_chunk *c);
bool au_blob_decode_synth_ack(const uint8_t *msg, size_t len, uint64_t *req, uint8_t *status,
			      au_node_id *leader);

extern const struct au_model au_blob_model;

#endif
