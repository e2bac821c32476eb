/* raft.h — Raft consensus (Ongaro & Ousterhout 2014; Ongaro's dissertation)
 * as a sans-I/O model behind env.h, and the replicated-state-machine API
 * other models build on (the KV store now; the task queue, locks and ONE
 * later as further machines on the same log).
 *
 * What it implements: randomized election timeouts, PreVote, RequestVote
 * with the up-to-date check, AppendEntries with the consistency check and
 * conflict-term backtracking, batching and pipelining, the commit rule
 * (only current-term entries are committed by counting replicas), term,
 * vote and log persisted and synced before any reply that depends on them,
 * recovery from durable storage only, CheckQuorum, leadership transfer,
 * snapshots with InstallSnapshot, single-server membership changes (with
 * the 2015 fix: a leader changes membership only after committing an entry
 * of its own term), client sessions for exactly-once commands, and
 * linearizable reads through ReadIndex.
 *
 * The implementation is the rest of models/raft/ (raft_internal.h says
 * which file holds what).
 */
#ifndef AU_RAFT_H
#define AU_RAFT_H

#include <stdbool.h>

#include "model.h"

#define AU_RAFT_MAX_NODES 63u /* voters are bits 1..63 of a uint64 */
#define AU_RAFT_MAX_MACHINES 8u

struct au_raft_config {
	au_time election_lo_ns, election_hi_ns; /* election_timeout = lo..hi */
	au_time heartbeat_ns;
	int prevote, check_quorum;
	uint32_t max_batch;      /* entries per AppendEntries */
	uint32_t max_inflight;   /* pipelined AppendEntries per follower */
	uint32_t snapshot_every; /* compact after this many applied entries; 0 = never */
	uint32_t voters;         /* initial voters n1..nK; 0 = every node */
	uint32_t digest_every;   /* trace RAFT_DIGEST at applied indexes that are multiples
				    of this (replicas_agree compares them); 0 = never */
};

enum au_raft_role { AU_RAFT_FOLLOWER, AU_RAFT_PRECANDIDATE, AU_RAFT_CANDIDATE, AU_RAFT_LEADER };

struct au_raft;

/* A state machine on the log.  Commands for it are applied in log order on
 * every node; `apply` writes at most AU_RAFT_RESULT_MAX bytes of result. */
#define AU_RAFT_RESULT_MAX 256u
struct au_raft_machine {
	void *sm;
	void (*apply)(void *sm, uint64_t index, const uint8_t *cmd, size_t len, uint8_t *result,
		      size_t *result_len);
	/* Serialise the whole state into a malloc'd buffer; returns its size. */
	size_t (*snapshot)(void *sm, uint8_t **out);
	/* Optional, used instead of `snapshot` when both are set: the size
	 * of the state's serialisation, then (called next, the state
	 * unchanged) the same bytes written at dst — straight into the Raft
	 * snapshot, without a buffer of the machine's own copied over. */
	size_t (*snapshot_size)(void *sm);
	void (*snapshot_write)(void *sm, uint8_t *dst);
	/* Replace the whole state (from a snapshot). */
	void (*restore)(void *sm, const uint8_t *data, size_t len);
	/* Optional, for comparing replicas (the replicas_agree check): */
	const char *name; /* "kv", "taskq", ...: for messages */
	/* A digest of exactly what `snapshot` serialises, cheap to read: kept
	 * up to date as records change, or computed at the read for just what
	 * changed since the last one (Raft reads it every digest_every
	 * entries).  It must depend only on the state, not on how the replica
	 * got there: after restoring a snapshot taken at index I it equals the
	 * digest of a replica that applied the log up to I.  Use digest.h. */
	uint64_t (*digest)(void *sm);
	/* The state as text, one record per line, "record id: fields", for
	 * showing which record two replicas disagree on (called only when
	 * they do; g_free the result). */
	char *(*describe)(void *sm);
};

/* Attach machine `id` (1..AU_RAFT_MAX_MACHINES-1) to the local Raft.  Call
 * from the machine's own init; a snapshot recovered at boot is restored
 * into it at once. */
void au_raft_register_machine(struct au_raft *r, uint8_t id, const struct au_raft_machine *m);

/* Called when a submitted command was applied here (ok = true, with the
 * machine's result) or can no longer be (ok = false: leadership lost, the
 * entry was overwritten; the command may still have been committed — the
 * client must treat that as unknown). */
typedef void (*au_raft_done_fn)(void *ctx, bool ok, uint64_t index, const uint8_t *result,
				size_t len);

/* Propose a command for machine `machine` on behalf of client session
 * (client, seq): a retried (client, seq) is applied at most once and gets
 * the first result.  client 0 = no session.  Returns 0, or -AU_EINVAL when
 * this node is not the leader (then `done` is never called). */
int au_raft_submit(struct au_raft *r, uint8_t machine, uint64_t client, uint64_t seq,
		   const void *cmd, size_t len, au_raft_done_fn done, void *ctx);

/* Linearizable read: `done` is called (ok = true) once this leader has
 * confirmed it still leads and has applied everything committed when the
 * read arrived; then the local machines may be read.  Returns 0 or
 * -AU_EINVAL when not leader. */
int au_raft_read_index(struct au_raft *r, au_raft_done_fn done, void *ctx);

/* Leader only: hand leadership to `to` (which must be a voter). */
int au_raft_transfer(struct au_raft *r, au_node_id to);
/* Leader only: add or remove one voter (single-server change). */
int au_raft_change_member(struct au_raft *r, au_node_id node, bool add);

/* Observers. */
bool au_raft_is_leader(const struct au_raft *r);
au_node_id au_raft_leader_hint(const struct au_raft *r); /* 0 if unknown */
uint64_t au_raft_term(const struct au_raft *r);
uint64_t au_raft_commit_index(const struct au_raft *r);
uint64_t au_raft_applied_index(const struct au_raft *r);

/* Replica comparison.  Slot 0 is Raft's own replicated state (the client
 * sessions), slot id machine `id`; a slot with nothing registered, or
 * whose machine keeps no digest, is 0.  Every `digest_every` applied
 * entries (and when an installed snapshot lands on such an index) Raft
 * traces RAFT_DIGEST: a = applied index, b = the combined digest, c =
 * au_raft_fingerprints() — so a checker can tell which machine differs. */
uint64_t au_raft_state_digest(const struct au_raft *r, uint64_t slots[AU_RAFT_MAX_MACHINES]);
/* Byte i of the result = low byte of slots[i]. */
uint64_t au_raft_fingerprints(const uint64_t slots[AU_RAFT_MAX_MACHINES]);
/* The state of machine `id` as registered (struct au_raft_machine.sm), or
 * NULL if nothing is there: how a host reads a machine the model that owns
 * it does not expose (aureon-node's lock commands read the locks). */
void *au_raft_machine_state(const struct au_raft *r, uint8_t id);
/* The name of slot `id` ("sessions" for 0), or NULL if nothing is there. */
const char *au_raft_slot_name(const struct au_raft *r, uint8_t id);
/* Slot `id`'s state as text (struct au_raft_machine.describe; sessions for
 * 0), g_malloc'd, or NULL if that slot cannot describe itself. */
char *au_raft_describe(const struct au_raft *r, uint8_t id);

/* Tests: with `on`, every read check makes its full pass over the pending
 * reads (the slow path the skip in replication.c must equal);
 * process-wide. */
void au_raft_test_full_read_checks(bool on);
/* Tests: with `on`, every AppendEntries is built and sealed anew (the slow
 * path resending the last one built must equal); process-wide. */
void au_raft_test_full_append_builds(bool on);

extern const struct au_model au_raft_model;

#endif
