/* one.h — ONE, the replicated results repository: a Raft state machine
 * (machine id AU_ONE_MACHINE) holding one record per finished RQML job —
 * the SHA-256 digest of its result vector, how it ended, its rounds and
 * residual history, the nodes that computed it and its parent job
 * (provenance for fan-out).
 *
 * A record is written exactly once: a put for a job that already has a
 * record is rejected (AU_ONE_DUPLICATE) and counted, whatever its content,
 * so a supervisor that takes over on a new leader may simply put again.
 * Every replica applies puts in log order and traces ONE_STORE (job, log
 * index, digest prefix) or ONE_REJECT; the exactly_once_one checker
 * watches those.  Records are kept in job order (never hash order), so
 * snapshots and reports are identical on every replica.
 *
 * The service "one" runs the machine on every server node; list it after
 * "raft".  Writers (rqml_supervisor.c) encode a put with au_one_encode_put
 * and submit it with au_raft_submit(raft, AU_ONE_MACHINE, ...); readers
 * find the local replica with local_service("one").
 */
#ifndef AU_ONE_H
#define AU_ONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define AU_ONE_MACHINE 3u         /* Raft machine id (kv 1, task queue 2) */
#define AU_ONE_MAX_RESIDUALS 2048u /* residual history kept per record */
#define AU_ONE_MAX_WORKERS 256u   /* worker nodes listed per record */
#define AU_ONE_KIND_SYNTHETIC 128u /* record kind of a synthetic job (blob.h) */
#define AU_ONE_REASON_MAX 96u     /* bytes of a reason, its terminating NUL included */

/* One job's final record. */
struct au_one_record {
	uint64_t job;       /* nonzero */
	uint64_t parent;    /* the job that spawned it, 0 for none */
	uint8_t kind;       /* enum au_kernel_kind */
	uint8_t verdict;    /* enum au_kernel_verdict: converged, max_rounds, stalled,
			     * failed or cancelled (these two: no result, digest zero) */
	uint8_t digest[32]; /* SHA-256 of the result vector (au_kernel_digest) */
	uint32_t rounds;
	uint32_t n_residuals;   /* min(rounds, AU_ONE_MAX_RESIDUALS): the last ones */
	double *residuals;
	uint32_t n_workers;     /* ascending node ids */
	uint32_t *workers;
	uint64_t index;     /* log index the record was stored at (set by apply) */
	/* Failed or cancelled (au_one_has_reason): why, non-empty, NUL-ended
	 * (e.g. "shard 3: 8 attempts exhausted, last error: node_dead (round
	 * 4)").  Encoded only for those verdicts, so the records of finished
	 * jobs encode (and hash) exactly as before the field existed. */
	char reason[AU_ONE_REASON_MAX];
};

/* Whether a record of this verdict carries a reason and no result. */
bool au_one_has_reason(uint8_t verdict);

/* Outcome of applying a put (the first result byte). */
enum au_one_status {
	AU_ONE_STORED = 0,
	AU_ONE_DUPLICATE = 1, /* the job already has a record: rejected, counted */
	AU_ONE_MALFORMED = 2, /* undecodable command: ignored, counted */
};

/* Encode a put of `r` (its index is ignored) into buf; returns the length,
 * or 0 if it does not fit in `cap` or breaks a limit above. */
size_t au_one_encode_put(const struct au_one_record *r, uint8_t *buf, size_t cap);
/* Encode a synthetic job (docs/one.md, "Results"): every replica applying
 * it generates `size` bytes (au_blob_synth_bytes(job, seed)), records
 * their SHA-256 with kind AU_ONE_KIND_SYNTHETIC, verdict converged and no
 * rounds, and hands them to the local blob store.  size: 1..AU_BLOB_SYNTH_MAX.
 * Returns the length, 0 if it does not fit. */
size_t au_one_encode_synth(uint64_t job, uint32_t size, uint64_t seed, uint8_t *buf, size_t cap);
/* Bytes au_one_encode_put needs for `r`. */
size_t au_one_put_size(const struct au_one_record *r);

struct au_one;

/* A replica without a node (tests): no traces.  Free with au_one_free. */
struct au_one *au_one_new(void);
void au_one_free(struct au_one *o);

/* The machine's entry points, also used directly by tests. */
enum au_one_status au_one_apply(struct au_one *o, uint64_t index, const uint8_t *cmd, size_t len);
size_t au_one_snapshot(struct au_one *o, uint8_t **out);
/* Replace the state; false (state emptied) if the bytes are corrupt. */
bool au_one_restore(struct au_one *o, const uint8_t *data, size_t len);

/* Queries on this replica (what it has applied). */
uint32_t au_one_count(const struct au_one *o);
/* The i-th record in job order (i < au_one_count), or NULL. */
const struct au_one_record *au_one_at(const struct au_one *o, uint32_t i);
const struct au_one_record *au_one_get(const struct au_one *o, uint64_t job);
/* Jobs whose parent is `job`, ascending, up to max; returns how many there
 * are. */
uint32_t au_one_children(const struct au_one *o, uint64_t job, uint64_t *out, uint32_t max);
uint64_t au_one_duplicates(const struct au_one *o); /* puts rejected */
uint64_t au_one_malformed(const struct au_one *o);
uint64_t au_one_applied_index(const struct au_one *o);
/* Hash of every record in job order (equal on replicas that applied the
 * same puts). */
uint64_t au_one_state_hash(const struct au_one *o);
/* Replica comparison (raft.h, struct au_raft_machine): the state digest
 * (order-independent, kept up to date as records are stored), and the
 * state as text, one line per record (g_free it). */
uint64_t au_one_digest(const struct au_one *o);
char *au_one_describe(const struct au_one *o);

extern const struct au_model au_one_model;

#endif
