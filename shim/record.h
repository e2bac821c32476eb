/* record.h — aureon-node's input recorder (`--record DIR`): every input that
 * crosses env.h into this node's models, appended to a per-node log in the
 * format of core/reclog.h, so `aureon-sim replay DIR` can feed the same
 * inputs to the same models and compare their state (docs/replay.md).
 *
 * The node calls au_rec_begin() before it hands a model an input (boot,
 * datagram, timer, sync completion, control command), the env operations
 * add the answers they give while the input is handled, and au_rec_end()
 * frames the record.  Records collect in memory and are written with one
 * write() per main-loop wake-up (au_rec_flush), so a SIGKILL loses no input
 * a model has finished handling; the log is fsynced only at a clean stop
 * and when a segment is closed by rotation (a power loss may cut its tail,
 * which a replay reports as truncated).
 */
#ifndef AU_SHIM_RECORD_H
#define AU_SHIM_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "env.h"
#include "reclog.h"

/* A checkpoint every this many input records (and at a clean stop). */
#define AU_REC_CHECKPOINT_EVERY 256u
/* Default --record-max-bytes: rotate a segment past 64 MiB. */
#define AU_REC_MAX_BYTES_DEFAULT (UINT64_C(64) << 20)

struct au_rec;

/* What the header of every segment says. */
struct au_rec_info {
	au_node_id self;
	uint64_t epoch;
	uint64_t seed;
	const char *cluster_text; /* the cluster file, verbatim */
	uint32_t n_services;
	const char *const *services; /* names, in [cluster] order */
	/* The clock anchor: the node's time 0 (now() counts from it) on
	 * CLOCK_MONOTONIC and on CLOCK_REALTIME, and the host's boot id (nodes
	 * with one boot id share CLOCK_MONOTONIC: a merged replay orders
	 * their records exactly). */
	int64_t t0_mono_ns, t0_real_ns;
	const char *host_id;
};

/* Open DIR (created if missing) and the first segment of this boot.
 * NULL with *err on failure. */
struct au_rec *au_rec_open(const char *dir, uint64_t max_bytes, const struct au_rec_info *info,
			   char **err);
/* Clean stop: write STOP, flush, fsync, close and free.  NULL is ignored. */
void au_rec_close(struct au_rec *r, au_time t);

/* Start an input record of `type` at node time t; then the input's fields
 * through au_rec_uv / au_rec_sv / au_rec_blob. */
void au_rec_begin(struct au_rec *r, enum au_reclog_type type, au_time t);
void au_rec_uv(struct au_rec *r, uint64_t v);
void au_rec_sv(struct au_rec *r, int64_t v);
void au_rec_blob(struct au_rec *r, const void *p, size_t n);
/* Close the input record; true when a checkpoint is due next. */
bool au_rec_end(struct au_rec *r);
/* Whether an input record is open (env answers are recorded only then). */
bool au_rec_in_input(const struct au_rec *r);

/* Answers (only inside an input record; outside one they are dropped). */
void au_rec_now(struct au_rec *r, au_time t);
void au_rec_answer(struct au_rec *r, enum au_reclog_answer tag, int64_t v);
void au_rec_read(struct au_rec *r, int64_t result, const void *buf);
void au_rec_counts(struct au_rec *r, uint64_t in, uint64_t out);

/* An env operation with an effect, into the output digest; outside an
 * input record it also writes a STRAY record (the replay cannot follow). */
void au_rec_op(struct au_rec *r, uint8_t op, uint32_t svc, uint64_t a, uint64_t b, uint64_t c,
	       const void *bytes, size_t n);

/* A checkpoint: inputs so far, the output digest, and raft's state digest,
 * term and commit index (has_raft false: zeros). */
void au_rec_checkpoint(struct au_rec *r, bool has_raft, uint64_t raft_digest, uint64_t term,
		       uint64_t commit);

/* Write what is buffered (one write()); rotate if the segment is full. */
void au_rec_flush(struct au_rec *r);

/* Totals for the log line at stop and for the overhead measurement. */
uint64_t au_rec_bytes(const struct au_rec *r);
uint64_t au_rec_inputs(const struct au_rec *r);

#endif
