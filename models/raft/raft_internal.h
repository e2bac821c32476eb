/* raft_internal.h — what the files of models/raft/ share: the node's state
 * (struct au_raft), the wire and disk constants, small inline accessors,
 * and the functions one file calls in another.  Only the .c files of
 * models/raft/ include it; other models use raft.h.
 *
 * Names: a function shared between these files is au_raft__* (an external
 * symbol, so namespaced, like libuv's uv__*); the static inline accessors
 * below are raft_*; everything else is static in its file.
 *
 * The files:
 *   api.c          the public API (raft.h) and the model table
 *   boot.c         recovery from durable storage, init, teardown
 *   chain.c        entries' chain values, memoised
 *   election.c     roles, the election timer, votes, becoming leader
 *   handlers.c     what the env calls: messages (appends, snapshots),
 *                  timers, completed syncs
 *   log.c          meta (term, vote), the outbox, log segments, the log
 *   machines.c     sessions, applying entries, commit, the state digest
 *   replication.c  the leader side: appends, commit rule, reads, heartbeats
 *   snapshot.c     snapshots: build, parse, write, compact, install
 *   storage.c      every storage call; failure and repair
 *
 * Durable layout, all through env storage:
 *   meta      two 40-byte slots written alternately: version, term, vote;
 *             the valid slot with the higher version wins, so a torn write
 *             never loses both.
 *   snap.0/1  snapshots written alternately: index, term, chain, voters,
 *             client sessions and every machine's state, one sealed record.
 *   seg.K     the log in segments of SEG_ENTRIES entries: segment K holds
 *             indexes K*SEG_ENTRIES+1 .. (K+1)*SEG_ENTRIES as sealed records,
 *             so compaction drops whole segments and recovery needs no
 *             directory listing.
 * Every reply that depends on durable state waits in `outbox` until the
 * syncs it needs have completed (meta for term/vote, log for appended
 * entries): the reply-after-persist rule is enforced in one place.
 *
 * Storage failures: storage.c.
 *
 * Each entry carries `chain`, a 64-bit hash of the whole log prefix ending
 * at it; traces report it so the checkers can compare logs across nodes
 * without shipping them.
 */

#ifndef AU_RAFT_INTERNAL_H
#define AU_RAFT_INTERNAL_H

#include "raft.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "chain.h"
#include "recpool.h"
#include "wire.h"

/* ---- constants ------------------------------------------------------- */

enum { MSG_VOTE = 1, MSG_VOTE_RESP, MSG_APPEND, MSG_APPEND_RESP, MSG_SNAP, MSG_SNAP_RESP,
       MSG_TIMEOUT_NOW };
enum { TIMER_ELECTION = 1, TIMER_HEARTBEAT, TIMER_QUORUM, TIMER_RECOVER, TIMER_DISK_REPAIR,
       TIMER_FAIL_PENDING };
enum { ENTRY_NOOP = 0, ENTRY_CONFIG = 1, ENTRY_CMD = 2 };
enum { TOKEN_META = 1, TOKEN_LOG = 2, TOKEN_SNAP = 3 };

#define SEG_ENTRIES 1024u
#define META_SLOT 40u
#define META_MAGIC 0x4d455441u /* "META" */
#define SNAP_MAGIC 0x534e4150u /* "SNAP" */
#define SNAP_CHUNK 32768u
#define APPEND_BYTES_MAX 60000u  /* stay under AU_MSG_MAX */
#define OUTBOX_MAX 4096u
#define SESSION_RESULT_MAX 64u
#define SESSION_CACHE 64u
#define LOG_SYNCS_IN_FLIGHT 2u /* group commit: sync batches in flight at once */
#define STASH_MAX 16u /* early AppendEntries a follower holds for reordering */

#define TOKEN(kind, seq) (((uint64_t)(kind) << 56) | ((seq) & ((UINT64_C(1) << 56) - 1)))

/* ---- state ------------------------------------------------------------ */

struct entry {
	uint64_t term;
	uint64_t chain;
	uint8_t type;
	uint32_t len;
	uint8_t *data; /* rec + RECORD_HEAD */
	/* The entry's log record (RECORD_OVERHEAD + len bytes, sealed), built
	 * when it is appended: data lives inside it, so a write hands the
	 * disk these bytes with no copy and no second CRC pass. */
	uint8_t *rec;
	struct rec_chunk *chunk; /* where rec lives (recpool.h) */
	uint32_t file_off; /* record offset inside its segment */
	uint32_t rec_len;
};

struct peer {
	uint64_t next, match;
	uint32_t inflight;
	au_time last_ack_ns;
	uint64_t acked_seq;      /* highest heartbeat sequence acknowledged */
	uint64_t progress_mark;  /* match at the last heartbeat: stall detection */
	uint64_t snap_offset;    /* InstallSnapshot progress; UINT64_MAX: not sending */
	uint64_t snap_expect;    /* the reply the last chunk sent should bring */
	bool probing;            /* after a rejection: one append in flight at a time */
	uint64_t probe_prev;     /* while probing: prev index of the append in flight */
};

/* A message waiting until the syncs it depends on have completed. */
struct outmsg {
	au_node_id to;
	uint64_t need_meta;  /* meta version that must be durable */
	uint64_t need_index; /* log index that must be durable */
	uint64_t term;       /* dropped if the term moved on */
	uint32_t len;
	size_t at;           /* its bytes: outbox_bytes + at */
};

/* A batch of log writes and the syncs that make it durable. */
struct log_batch {
	uint64_t seq;
	uint64_t last_index;
	int remaining;
};

/* An AppendEntries that arrived before the one it follows (the network
 * reorders): held, payload and all, until the gap closes. */
struct stashed_append {
	uint64_t term, prev;
	au_node_id from;
	size_t len;
	uint8_t *payload; /* unsealed message, type byte included */
};

struct proposal {
	uint64_t index, term;
	au_raft_done_fn done;
	void *ctx;
};

struct read_req {
	uint64_t read_index, seq;
	au_raft_done_fn done;
	void *ctx;
	bool confirmed;
};

struct session {
	uint64_t client, seq;
	uint64_t hash; /* its share of sessions_digest (session_hash), unless stale */
	bool stale;    /* changed since `hash`: listed in stale_sessions */
	uint8_t result_len;
	uint8_t result[SESSION_RESULT_MAX];
};

struct au_raft {
	const struct au_env *env;
	const struct au_raft_config *cfg;
	/* recovery: a storage read failed (an I/O error, not a missing file),
	 * so what this node promised before it crashed is unknown; it takes no
	 * part until a retry (TIMER_RECOVER) reads everything */
	bool read_failed;
	bool unrecovered;
	uint64_t recover_attempts;
	/* storage failure (see storage.c): out of service until
	 * the rewrite issued at `disk_repairing` is durable */
	bool disk_failed;
	bool disk_repairing;
	uint64_t repair_meta, repair_index; /* what the rewrite must make durable */
	uint64_t disk_failures, disk_repairs;
	uint64_t snap_seq;    /* snapshot writes issued: tokens name the newest */
	/* persistent */
	uint64_t term;
	au_node_id vote;
	uint64_t meta_version, meta_synced;
	/* log */
	GArray *log;          /* struct entry; index = snap_index + 1 + i */
	struct rec_pool recs; /* the entries' records (recpool.h) */
	uint64_t snap_index, snap_term, snap_chain;
	uint64_t snap_voters;
	uint8_t snap_slot;    /* slot of the newest durable snapshot */
	uint64_t durable_index;
	struct log_batch batches[LOG_SYNCS_IN_FLIGHT]; /* FIFO: the sync batches in flight */
	uint32_t n_batches;
	uint64_t batch_seq;
	uint64_t *dirty_segs; /* segment numbers written since the last sync was issued */
	uint32_t n_dirty, dirty_cap;
	uint64_t dirty_last;  /* last log index those writes hold */
	/* "seg.N" of the segment named last (log writes and syncs name the
	 * same segment over and over); seg_name_of = UINT64_MAX: none */
	uint64_t seg_name_of;
	char seg_name[32];
	/* volatile */
	enum au_raft_role role;
	au_node_id leader;
	uint64_t voters;      /* bitmask of node ids (bit n) in the config in effect */
	uint64_t config_index;
	uint64_t commit, applied;
	uint64_t votes;       /* bitmask of grants in the current (pre)election */
	uint64_t election_timer, heartbeat_timer, quorum_timer;
	au_time last_leader_contact_ns;
	bool leader_contact; /* heard a leader since the last election timeout */
	struct peer peers[AU_RAFT_MAX_NODES + 1];
	uint64_t term_start;  /* first index of this leader's term */
	uint64_t hb_seq;
	uint64_t read_round;     /* hb_seq of the last heartbeat round sent for reads */
	bool read_round_wanted;  /* reads wait for a round after the outstanding one */
	/* Lower bounds that let au_raft__check_reads return at once when no
	 * read can move: no unconfirmed read has a seq below reads_wait_seq,
	 * no confirmed one a read_index below reads_wait_index (UINT64_MAX:
	 * none).  Exact after a full pass; an append lowers reads_wait_seq. */
	uint64_t reads_wait_seq, reads_wait_index;
	au_node_id transferee;
	au_time transfer_deadline_ns;
	/* pending */
	struct stashed_append stash[STASH_MAX];
	uint32_t n_stash;
	struct outmsg *outbox; /* in the order sent (log.c) */
	uint32_t n_outbox, outbox_slots;
	/* The least need_index in it.  (The least term and need_meta are the
	 * first message's: both are taken from r->term and r->meta_version,
	 * which only grow while a node runs.) */
	uint64_t outbox_min_index;
	uint8_t *outbox_bytes; /* the outbox's messages, back to back in its order */
	size_t outbox_len, outbox_cap;
	GArray *proposals;    /* struct proposal, by index */
	GArray *reads;        /* struct read_req */
	/* snapshot being received */
	uint8_t *rx_snap;
	size_t rx_len, rx_cap;
	uint64_t rx_total;    /* size of the snapshot being received */
	uint64_t rx_index, rx_term;
	bool installing;      /* a received snapshot is being made durable */
	au_node_id install_from;
	uint8_t *install_data;
	size_t install_len;
	/* snapshot being taken */
	bool compacting;
	uint64_t compact_index;
	uint8_t *snap_bytes;  /* the newest durable snapshot, for InstallSnapshot */
	size_t snap_len;
	/* the last InstallSnapshot chunk message built from snap_bytes, sealed
	 * (the same chunk goes to each lagging follower on every heartbeat):
	 * valid for chunk_term and chunk_off until snap_bytes changes */
	uint8_t *chunk_msg;
	size_t chunk_msg_len;
	uint64_t chunk_term, chunk_off;
	/* state machines */
	struct au_raft_machine machines[AU_RAFT_MAX_MACHINES];
	uint8_t *pending_restore[AU_RAFT_MAX_MACHINES];
	size_t pending_restore_len[AU_RAFT_MAX_MACHINES];
	GHashTable *sessions; /* client -> struct session */
	/* sum of session_hash() over `sessions` but the stale ones: a session
	 * applied to is hashed when the digest is next read (every
	 * digest_every entries), not at every command (au_raft__sessions_digest) */
	uint64_t sessions_digest;
	GPtrArray *stale_sessions; /* struct session, each once */
	/* sessions looked up last, by client % SESSION_CACHE (machines.c):
	 * tried before the table; cleared when the table is emptied */
	struct session *session_cache[SESSION_CACHE];
	/* counters */
	uint64_t dropped_msgs, bad_msgs, elections;
	uint64_t held_appends, gap_rejects; /* appends held for reordering; "I am behind" replies */
	/* The append last built in sendbuf, sealed (sent_len bytes): a
	 * broadcast or a heartbeat round builds the same one for every
	 * follower at the same point, so it is sent again as it is.  Valid
	 * while its inputs are: term, prev, commit, hb_seq, heartbeat or not,
	 * the last index, and log_gen (bumped whenever entries leave the log,
	 * so those it carries are the same). */
	bool sent_valid, sent_heartbeat;
	uint64_t sent_term, sent_prev, sent_commit, sent_hb_seq, sent_last, sent_gen;
	uint32_t sent_count;
	size_t sent_len;
	uint64_t log_gen;
	uint8_t sendbuf[APPEND_BYTES_MAX + 128];
	/* a submitted command with its header (machine, client, seq), built
	 * before append_entry copies it into the entry's record */
	uint8_t cmdbuf[APPEND_BYTES_MAX / 2 + 17];
};

static inline void raft_trace(struct au_raft *r, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	au_trace(r->env, kind, a, b, c);
}

/* No storage operation is issued between a failure and its repair. */
static inline bool raft_io_blocked(const struct au_raft *r)
{
	return r->disk_failed && !r->disk_repairing;
}

/* ---- helpers ---------------------------------------------------------- */

static inline uint64_t raft_last_index(const struct au_raft *r)
{
	return r->snap_index + r->log->len;
}

static inline struct entry *raft_entry_at(const struct au_raft *r, uint64_t index)
{
	if (index <= r->snap_index || index > raft_last_index(r))
		return NULL;
	return &g_array_index(r->log, struct entry, index - r->snap_index - 1);
}

/* Term of entry `index` (0 for index 0; UINT64_MAX if unknown). */
static inline uint64_t raft_term_at(const struct au_raft *r, uint64_t index)
{
	if (index == 0)
		return 0;
	if (index == r->snap_index)
		return r->snap_term;
	const struct entry *e = raft_entry_at(r, index);
	return e ? e->term : UINT64_MAX;
}

static inline uint64_t raft_chain_at(const struct au_raft *r, uint64_t index)
{
	if (index == 0)
		return 0;
	if (index == r->snap_index)
		return r->snap_chain;
	const struct entry *e = raft_entry_at(r, index);
	return e ? e->chain : 0;
}

static inline uint64_t raft_last_term(const struct au_raft *r)
{
	return raft_term_at(r, raft_last_index(r));
}

static inline bool raft_is_voter(const struct au_raft *r, au_node_id n)
{
	return n >= 1 && n <= AU_RAFT_MAX_NODES && (r->voters >> n) & 1u;
}

/* Every voter id, ascending (the ids raft_is_voter accepts), by the set
 * bits of the voter mask instead of a test of all 63 ids: for loops that
 * only read, as the mask is taken once. */
#define RAFT_FOR_EACH_VOTER(r, id)                                                         \
	for (uint64_t raft_vm_ = (r)->voters & ~UINT64_C(1);                                \
	     raft_vm_ && ((id) = (au_node_id)__builtin_ctzll(raft_vm_), 1); raft_vm_ &= raft_vm_ - 1)

/* Bits set in x (SWAR: __builtin_popcountll is a libgcc call without
 * -mpopcnt, and the quorum is counted on every append reply). */
static inline uint32_t raft_bits(uint64_t x)
{
	x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
	x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
	x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
	return (uint32_t)((x * UINT64_C(0x0101010101010101)) >> 56);
}

static inline uint32_t raft_voter_count(const struct au_raft *r)
{
	return raft_bits(r->voters);
}

static inline uint32_t raft_majority(const struct au_raft *r)
{
	return raft_voter_count(r) / 2 + 1;
}

static inline uint64_t raft_seg_of(uint64_t index)
{
	return (index - 1) / SEG_ENTRIES;
}

/* A log record: size, index, chain of the entry before it, term, type,
 * data, CRC.  The predecessor's chain lets recovery refuse a stale suffix
 * that an unsynced truncation failed to remove (see load_log in boot.c). */
#define RECORD_OVERHEAD (4u + 8u + 8u + 8u + 1u + 4u + 4u)
#define RECORD_HEAD (RECORD_OVERHEAD - 4u) /* where the data starts */
#define RECORD_PREV_AT 12u                 /* the predecessor's chain */

/* ---- storage.c: storage calls, failure and repair ---------------------- */

bool au_raft__disk_write(struct au_raft *r, const char *name, uint64_t off, const void *buf,
		size_t len);
bool au_raft__disk_truncate(struct au_raft *r, const char *name, uint64_t len);
void au_raft__disk_sync(struct au_raft *r, const char *name, uint64_t token);
void au_raft__storage_failed(struct au_raft *r, enum au_storage_op op, int err);
void au_raft__repair_storage(struct au_raft *r);
void au_raft__storage_repaired(struct au_raft *r);

/* ---- log.c: meta, the outbox, log segments, the log in memory ---------- */

bool au_raft__persist_meta(struct au_raft *r);
void au_raft__load_meta(struct au_raft *r);
void au_raft__drop_outbox(struct au_raft *r);
void au_raft__flush_outbox_slow(struct au_raft *r);
/* Send what waited in the outbox and is now durable, drop what is stale;
 * inline, as it runs after every message, timer and sync and the outbox
 * is often empty. */
static inline void au_raft__flush_outbox(struct au_raft *r)
{
	if (r->n_outbox)
		au_raft__flush_outbox_slow(r);
}
void au_raft__send_durable(struct au_raft *r, au_node_id to, struct au_wbuf *w,
		uint64_t need_index);
void au_raft__send_durable_sealed(struct au_raft *r, au_node_id to, const uint8_t *msg, size_t len,
		uint64_t need_index);
void au_raft__seg_name(char *buf, size_t len, uint64_t seg);
void au_raft__seg_name_cached(struct au_raft *r, char buf[32], uint64_t seg);
void au_raft__mark_dirty(struct au_raft *r, uint64_t seg);
void au_raft__issue_log_sync(struct au_raft *r);
bool au_raft__write_entries(struct au_raft *r, uint64_t first, uint64_t last);
void au_raft__log_persisted(struct au_raft *r, uint64_t seq);
void au_raft__free_entry(struct au_raft *r, struct entry *e);
void au_raft__recompute_config(struct au_raft *r);
void au_raft__fail_proposals_from(struct au_raft *r, uint64_t from);
void au_raft__truncate_log(struct au_raft *r, uint64_t from);
uint64_t au_raft__append_entry(struct au_raft *r, uint64_t term, uint8_t type, const void *data,
		uint32_t len);

/* ---- machines.c: sessions, state machines, commit ---------------------- */

void au_raft__recompute_sessions_digest(struct au_raft *r);
uint64_t au_raft__sessions_digest(const struct au_raft *r);
void au_raft__trace_digest(struct au_raft *r);
void au_raft__set_commit(struct au_raft *r, uint64_t commit);

/* ---- snapshot.c: snapshots --------------------------------------------- */

bool au_raft__load_snapshot_bytes(struct au_raft *r, const uint8_t *buf, size_t len, bool apply);
void au_raft__write_snapshot_file(struct au_raft *r, const uint8_t *data, size_t len);
void au_raft__set_snap_bytes(struct au_raft *r, uint8_t *data, size_t len);
void au_raft__maybe_compact(struct au_raft *r);
bool au_raft__snap_header(const uint8_t *buf, size_t len, uint64_t *index, uint64_t *term,
		uint64_t *chain, uint64_t *voters);
void au_raft__snapshot_persisted(struct au_raft *r);

/* ---- election.c: roles, elections, votes ------------------------------- */

void au_raft__reset_election_timer(struct au_raft *r);
void au_raft__fail_reads(struct au_raft *r);
void au_raft__set_role(struct au_raft *r, enum au_raft_role role, au_node_id leader);
void au_raft__step_down(struct au_raft *r, uint64_t term, au_node_id leader);
void au_raft__tally(struct au_raft *r);
void au_raft__start_election(struct au_raft *r, bool transfer);
void au_raft__on_vote(struct au_raft *r, au_node_id from, struct au_rbuf *rb);
void au_raft__on_vote_resp(struct au_raft *r, au_node_id from, struct au_rbuf *rb);
void au_raft__on_timeout_now(struct au_raft *r, au_node_id from, struct au_rbuf *rb);

/* ---- replication.c: the leader side ------------------------------------ */

void au_raft__broadcast_append(struct au_raft *r, bool heartbeat);
void au_raft__send_snapshot_chunk(struct au_raft *r, au_node_id to);
void au_raft__send_append(struct au_raft *r, au_node_id to, bool heartbeat);
void au_raft__advance_commit(struct au_raft *r);
uint64_t au_raft__quorum_acked_seq(const struct au_raft *r);
void au_raft__start_read_round(struct au_raft *r);
void au_raft__check_reads(struct au_raft *r);
void au_raft__maybe_send_timeout_now(struct au_raft *r);
void au_raft__heartbeat(struct au_raft *r);
void au_raft__check_quorum(struct au_raft *r);

/* ---- handlers.c: messages, timers, completed syncs --------------------- */

void au_raft__clear_stash(struct au_raft *r);
void au_raft__ack_install(struct au_raft *r);
/* struct au_model's recv, timer and persisted (api.c's au_raft_model). */
void au_raft__recv(void *state, au_node_id from, const void *msg, size_t len);
void au_raft__timer(void *state, uint32_t kind, uint64_t arg);
void au_raft__persisted(void *state, uint64_t token, int status);

/* ---- boot.c: recovery, init, teardown ---------------------------------- */

void au_raft__recover_or_wait(struct au_raft *r);
/* struct au_model's init and destroy. */
void *au_raft__init(const struct au_env *env, const void *config);
void au_raft__destroy(void *state);

#endif
