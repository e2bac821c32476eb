/* raft.c — Raft consensus as a sans-I/O model (see raft.h).
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
 * Storage that fails (a write or truncate that returns an error, a sync
 * whose persisted() status is negative: env.h) puts the node out of
 * service: it steps down, drops every reply waiting for durability, and
 * neither votes, acknowledges, campaigns nor leads — it cannot promise
 * what it cannot persist.  Every election timeout it writes again what no
 * successful sync vouched for (term and vote, the log past durable_index)
 * and syncs; once all of that is durable it serves again.  A failed sync
 * is taken as Linux reports it: what it covered may be lost even if a
 * later sync succeeds, so the repair rewrites, it never merely re-syncs.
 *
 * Each entry carries `chain`, a 64-bit hash of the whole log prefix ending
 * at it; traces report it so the checkers can compare logs across nodes
 * without shipping them.
 */
#include "raft.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "digest.h"
#include "trace_kinds.h"
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
#define LOG_SYNCS_IN_FLIGHT 2u /* group commit: sync batches in flight at once */
#define STASH_MAX 16u /* early AppendEntries a follower holds for reordering */

#define TOKEN(kind, seq) (((uint64_t)(kind) << 56) | ((seq) & ((UINT64_C(1) << 56) - 1)))

/* ---- state ------------------------------------------------------------ */

struct entry {
	uint64_t term;
	uint64_t chain;
	uint8_t type;
	uint32_t len;
	uint8_t *data;
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
	uint8_t *bytes;
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
	uint64_t hash; /* its share of sessions_digest (session_hash) */
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
	/* storage failure (see the top of this file): out of service until
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
	uint64_t snap_index, snap_term, snap_chain;
	uint64_t snap_voters;
	uint8_t snap_slot;    /* slot of the newest durable snapshot */
	uint64_t durable_index;
	GArray *batches;      /* struct log_batch, FIFO: at most one sync batch in flight */
	uint64_t batch_seq;
	GArray *dirty_segs;   /* uint64 segment numbers written since the last sync was issued */
	uint64_t dirty_last;  /* last log index those writes hold */
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
	au_node_id transferee;
	au_time transfer_deadline_ns;
	/* pending */
	struct stashed_append stash[STASH_MAX];
	uint32_t n_stash;
	GArray *outbox;       /* struct outmsg */
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
	/* state machines */
	struct au_raft_machine machines[AU_RAFT_MAX_MACHINES];
	uint8_t *pending_restore[AU_RAFT_MAX_MACHINES];
	size_t pending_restore_len[AU_RAFT_MAX_MACHINES];
	GHashTable *sessions; /* client -> struct session */
	uint64_t sessions_digest; /* sum of session_hash() over `sessions` */
	/* counters */
	uint64_t dropped_msgs, bad_msgs, elections;
	uint64_t held_appends, gap_rejects; /* appends held for reordering; "I am behind" replies */
	uint8_t sendbuf[APPEND_BYTES_MAX + 128];
	uint8_t recbuf[APPEND_BYTES_MAX + 128]; /* one log record being encoded */
};

static void trace(struct au_raft *r, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	au_trace(r->env, kind, a, b, c);
}

/* ---- storage, and what a failure does ------------------------------------- */

static void storage_failed(struct au_raft *r, enum au_storage_op op, int err);

/* No storage operation is issued between a failure and its repair. */
static bool io_blocked(const struct au_raft *r)
{
	return r->disk_failed && !r->disk_repairing;
}

/* Every storage call goes through these three: a failure takes the node
 * out of service (storage_failed) and the caller learns it from `false`. */
static bool disk_write(struct au_raft *r, const char *name, uint64_t off, const void *buf,
		       size_t len)
{
	if (io_blocked(r))
		return false;
	int rc = r->env->ops->storage_write(r->env->ctx, name, off, buf, len);
#ifdef AU_BUG_IGNORE_STORAGE_ERROR
	/* Planted bug: a failed write is taken for a good one. */
	rc = 0;
#endif
	if (rc < 0)
		storage_failed(r, AU_STORAGE_WRITE, rc);
	return rc == 0;
}

static bool disk_truncate(struct au_raft *r, const char *name, uint64_t len)
{
	if (io_blocked(r))
		return false;
	int rc = r->env->ops->storage_truncate(r->env->ctx, name, len);
#ifdef AU_BUG_IGNORE_STORAGE_ERROR
	rc = 0;
#endif
	if (rc < 0)
		storage_failed(r, AU_STORAGE_TRUNCATE, rc);
	return rc == 0;
}

static void disk_sync(struct au_raft *r, const char *name, uint64_t token)
{
	if (!io_blocked(r))
		r->env->ops->storage_sync(r->env->ctx, name, token);
}

/* ---- helpers ---------------------------------------------------------- */

static uint64_t last_index(const struct au_raft *r)
{
	return r->snap_index + r->log->len;
}

static struct entry *entry_at(const struct au_raft *r, uint64_t index)
{
	if (index <= r->snap_index || index > last_index(r))
		return NULL;
	return &g_array_index(r->log, struct entry, index - r->snap_index - 1);
}

/* Term of entry `index` (0 for index 0; UINT64_MAX if unknown). */
static uint64_t term_at(const struct au_raft *r, uint64_t index)
{
	if (index == 0)
		return 0;
	if (index == r->snap_index)
		return r->snap_term;
	const struct entry *e = entry_at(r, index);
	return e ? e->term : UINT64_MAX;
}

static uint64_t chain_at(const struct au_raft *r, uint64_t index)
{
	if (index == 0)
		return 0;
	if (index == r->snap_index)
		return r->snap_chain;
	const struct entry *e = entry_at(r, index);
	return e ? e->chain : 0;
}

static uint64_t last_term(const struct au_raft *r)
{
	return term_at(r, last_index(r));
}

/* FNV-1a over the previous chain, the term, the type and the data. */
static uint64_t chain_next(uint64_t prev, uint64_t term, uint8_t type, const uint8_t *d, size_t n)
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

static bool is_voter(const struct au_raft *r, au_node_id n)
{
	return n >= 1 && n <= AU_RAFT_MAX_NODES && (r->voters >> n) & 1u;
}

static uint32_t voter_count(const struct au_raft *r)
{
	return (uint32_t)__builtin_popcountll(r->voters);
}

static uint32_t majority(const struct au_raft *r)
{
	return voter_count(r) / 2 + 1;
}

static au_time random_election_timeout(struct au_raft *r)
{
	return au_random_between(r->env, r->cfg->election_lo_ns, r->cfg->election_hi_ns);
}

/* ---- durability: meta --------------------------------------------------- */

/* Write term and vote (a new version, in the other slot) and sync them;
 * false if the write failed (the node is then out of service). */
static bool persist_meta(struct au_raft *r)
{
	uint8_t buf[META_SLOT];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	r->meta_version++;
	au_put_u32(&w, META_MAGIC);
	au_put_u64(&w, r->meta_version);
	au_put_u64(&w, r->term);
	au_put_u32(&w, r->vote);
	while (w.len < META_SLOT - 4)
		au_put_u8(&w, 0);
	au_wbuf_seal(&w);
	assert(!w.overflow && w.len == META_SLOT);
	uint64_t off = (r->meta_version & 1u) * META_SLOT;
	if (!disk_write(r, "meta", off, buf, w.len))
		return false;
	disk_sync(r, "meta", TOKEN(TOKEN_META, r->meta_version));
	return true;
}

static void load_meta(struct au_raft *r)
{
	const struct au_env *e = r->env;
	for (uint64_t slot = 0; slot < 2; slot++) {
		uint8_t buf[META_SLOT];
		struct au_rbuf rb;
		int64_t got = e->ops->storage_read(e->ctx, "meta", slot * META_SLOT, buf, META_SLOT);
		if (got < 0 && got != -AU_ENOENT) {
			r->read_failed = true; /* unknown is not absent: never guess a vote */
			return;
		}
		if (got != META_SLOT)
			continue;
		if (!au_rbuf_unseal(&rb, buf, META_SLOT) || au_get_u32(&rb) != META_MAGIC) {
			trace(r, AU_TR_RAFT_BAD_DISK, 1, (int64_t)(slot * META_SLOT), 0);
			continue;
		}
		uint64_t version = au_get_u64(&rb);
		if (version < r->meta_version)
			continue;
		r->meta_version = version;
		r->term = au_get_u64(&rb);
		r->vote = au_get_u32(&rb);
	}
	r->meta_synced = r->meta_version;
}

/* ---- the outbox: replies that wait for durability ----------------------- */

static void drop_outbox(struct au_raft *r)
{
	for (guint i = 0; i < r->outbox->len; i++)
		g_free(g_array_index(r->outbox, struct outmsg, i).bytes);
	g_array_set_size(r->outbox, 0);
}

static void flush_outbox(struct au_raft *r)
{
	if (r->disk_failed) {
		drop_outbox(r); /* out of service: nothing that waited is sent */
		return;
	}
	guint keep = 0;
	for (guint i = 0; i < r->outbox->len; i++) {
		struct outmsg *m = &g_array_index(r->outbox, struct outmsg, i);
		if (m->term != r->term) {
			g_free(m->bytes); /* stale: the term moved on */
			continue;
		}
		if (m->need_meta <= r->meta_synced && m->need_index <= r->durable_index) {
			au_send(r->env, m->to, m->bytes, m->len);
			g_free(m->bytes);
			continue;
		}
		g_array_index(r->outbox, struct outmsg, keep++) = *m;
	}
	g_array_set_size(r->outbox, keep);
}

/* Send `w` to `to` once the current term/vote and the log up to
 * `need_index` are durable (at once if they already are). */
static void send_durable(struct au_raft *r, au_node_id to, struct au_wbuf *w, uint64_t need_index)
{
	au_wbuf_seal(w);
	assert(!w->overflow);
	if (r->disk_failed) {
		r->dropped_msgs++; /* out of service: it promises nothing */
		return;
	}
	if (r->meta_synced >= r->meta_version && r->durable_index >= need_index &&
	    r->outbox->len == 0) {
		au_send(r->env, to, w->p, w->len);
		return;
	}
	if (r->outbox->len >= OUTBOX_MAX) {
		r->dropped_msgs++;
		return;
	}
	struct outmsg m = {to, r->meta_version, need_index, r->term, (uint32_t)w->len,
			   g_memdup2(w->p, w->len)};
	g_array_append_val(r->outbox, m);
}

/* ---- durability: log segments ------------------------------------------ */

/* "seg.N" (written by hand: this runs on every log write). */
static void seg_name(char *buf, size_t len, uint64_t seg)
{
	char digits[24];
	size_t n = 0;
	do {
		digits[n++] = (char)('0' + seg % 10);
		seg /= 10;
	} while (seg);
	assert(len >= 4 + n + 1);
	memcpy(buf, "seg.", 4);
	for (size_t i = 0; i < n; i++)
		buf[4 + i] = digits[n - 1 - i];
	buf[4 + n] = '\0';
}

static uint64_t seg_of(uint64_t index)
{
	return (index - 1) / SEG_ENTRIES;
}

/* A log record: size, index, chain of the entry before it, term, type,
 * data, CRC.  The predecessor's chain lets recovery refuse a stale suffix
 * that an unsynced truncation failed to remove (see load_log). */
#define RECORD_OVERHEAD (4u + 8u + 8u + 8u + 1u + 4u + 4u)

static size_t encode_record(struct au_raft *r, uint64_t index, const struct entry *e)
{
	size_t n = RECORD_OVERHEAD + e->len;
	struct au_wbuf w;
	au_wbuf_init(&w, r->recbuf, sizeof(r->recbuf));
	au_put_u32(&w, (uint32_t)n);
	au_put_u64(&w, index);
	au_put_u64(&w, chain_at(r, index - 1));
	au_put_u64(&w, e->term);
	au_put_u8(&w, e->type);
	au_put_u32(&w, e->len);
	au_put_bytes(&w, e->data, e->len);
	au_wbuf_seal(&w);
	assert(!w.overflow && w.len == n);
	return n;
}

static void mark_dirty(struct au_raft *r, uint64_t seg);
static void issue_log_sync(struct au_raft *r);

/* Cut the durable log so it ends before `from`: truncate its segment at
 * the entry's offset and empty the later segments up to the old end. */
static void truncate_files(struct au_raft *r, uint64_t from, uint64_t old_last)
{
	char name[32];
	struct entry *e = entry_at(r, from);
	uint64_t first_seg = seg_of(from);
	seg_name(name, sizeof(name), first_seg);
	if (!disk_truncate(r, name, e ? e->file_off : 0))
		return;
	mark_dirty(r, first_seg);
	for (uint64_t s = first_seg + 1; old_last >= 1 && s <= seg_of(old_last); s++) {
		seg_name(name, sizeof(name), s);
		if (!disk_truncate(r, name, 0))
			return;
		mark_dirty(r, s);
	}
	/* The sync goes with the entries that replace them (recovery would
	 * refuse the stale suffix anyway, see load_log). */
}

/* A pending durability batch can no longer vouch for entries >= from. */
static void cap_batches(struct au_raft *r, uint64_t from)
{
	for (guint i = 0; i < r->batches->len; i++) {
		struct log_batch *b = &g_array_index(r->batches, struct log_batch, i);
		if (b->last_index >= from)
			b->last_index = from - 1;
	}
	if (r->durable_index >= from)
		r->durable_index = from - 1;
	if (r->dirty_last >= from)
		r->dirty_last = from - 1;
}

static void mark_dirty(struct au_raft *r, uint64_t seg)
{
	for (guint i = 0; i < r->dirty_segs->len; i++)
		if (g_array_index(r->dirty_segs, uint64_t, i) == seg)
			return;
	g_array_append_val(r->dirty_segs, seg);
}

/* Group commit: at most one log sync batch is in flight.  Writes made
 * while it is in flight wait and are made durable together by the next
 * batch, issued when it completes — one sync per segment per batch, however
 * many appends arrived meanwhile. */
static void issue_log_sync(struct au_raft *r)
{
	if (r->batches->len >= LOG_SYNCS_IN_FLIGHT || r->dirty_segs->len == 0 || io_blocked(r))
		return;
	struct log_batch b = {++r->batch_seq, r->dirty_last, 0};
	char name[32];
	for (guint i = 0; i < r->dirty_segs->len; i++) {
		seg_name(name, sizeof(name), g_array_index(r->dirty_segs, uint64_t, i));
		disk_sync(r, name, TOKEN(TOKEN_LOG, b.seq));
		b.remaining++;
	}
	g_array_set_size(r->dirty_segs, 0);
	g_array_append_val(r->batches, b);
}

/* Write entries [first, last] (already in memory); a sync batch makes
 * them durable (durable_index) as soon as the group commit allows.  False
 * if a write failed (the node is then out of service). */
static bool write_entries(struct au_raft *r, uint64_t first, uint64_t last)
{
	uint64_t seg = UINT64_MAX;
	char name[32];
	for (uint64_t i = first; i <= last; i++) {
		struct entry *e = entry_at(r, i);
		uint64_t s = seg_of(i);
		struct entry *prev = (i - 1 > r->snap_index && seg_of(i - 1) == s) ? entry_at(r, i - 1) : NULL;
		e->file_off = prev ? prev->file_off + prev->rec_len : 0;
		if (s != seg) {
			seg = s;
			seg_name(name, sizeof(name), s);
			mark_dirty(r, s);
			/* a fresh segment: drop whatever stale bytes it held */
			if (!prev && !disk_truncate(r, name, 0))
				return false;
		}
		size_t n = encode_record(r, i, e);
		e->rec_len = (uint32_t)n;
		if (!disk_write(r, name, e->file_off, r->recbuf, n))
			return false;
	}
	if (last > r->dirty_last)
		r->dirty_last = last;
	issue_log_sync(r);
	return true;
}

static void log_persisted(struct au_raft *r, uint64_t seq)
{
	for (guint i = 0; i < r->batches->len; i++) {
		struct log_batch *b = &g_array_index(r->batches, struct log_batch, i);
		if (b->seq == seq) {
			b->remaining--;
			break;
		}
	}
	/* Durability advances only through a prefix of completed batches. */
	guint done = 0;
	while (done < r->batches->len) {
		struct log_batch *b = &g_array_index(r->batches, struct log_batch, done);
		if (b->remaining > 0)
			break;
		if (b->last_index > r->durable_index)
			r->durable_index = b->last_index;
		done++;
	}
	g_array_remove_range(r->batches, 0, done);
	if (r->durable_index > last_index(r))
		r->durable_index = last_index(r);
	issue_log_sync(r);
}

/* ---- log manipulation --------------------------------------------------- */

static void free_entry(struct entry *e)
{
	g_free(e->data);
	e->data = NULL;
}

static void apply_config_entry(struct au_raft *r, uint64_t index, const struct entry *e)
{
	struct au_rbuf rb;
	au_rbuf_init(&rb, e->data, e->len);
	uint64_t mask = au_get_u64(&rb);
	if (rb.short_read)
		return;
	r->voters = mask;
	r->config_index = index;
	trace(r, AU_TR_RAFT_CONFIG, (int64_t)index, (int64_t)mask, 0);
}

/* The configuration in effect: the newest CONFIG entry in the log, else
 * the snapshot's. */
static void recompute_config(struct au_raft *r)
{
	for (uint64_t i = last_index(r); i > r->snap_index; i--) {
		struct entry *e = entry_at(r, i);
		if (e->type == ENTRY_CONFIG) {
			apply_config_entry(r, i, e);
			return;
		}
	}
	r->voters = r->snap_voters;
	r->config_index = r->snap_index;
	trace(r, AU_TR_RAFT_CONFIG, (int64_t)r->snap_index, (int64_t)r->voters, 0);
}

static void fail_proposals_from(struct au_raft *r, uint64_t from)
{
	guint keep = 0;
	GArray *failed = g_array_new(FALSE, FALSE, sizeof(struct proposal));
	for (guint i = 0; i < r->proposals->len; i++) {
		struct proposal *p = &g_array_index(r->proposals, struct proposal, i);
		if (p->index >= from)
			g_array_append_val(failed, *p);
		else
			g_array_index(r->proposals, struct proposal, keep++) = *p;
	}
	g_array_set_size(r->proposals, keep);
	for (guint i = 0; i < failed->len; i++) {
		struct proposal *p = &g_array_index(failed, struct proposal, i);
		p->done(p->ctx, false, p->index, NULL, 0);
	}
	g_array_free(failed, TRUE);
}

/* Remove entries >= from (a follower resolving a conflict). */
static void truncate_log(struct au_raft *r, uint64_t from)
{
	uint64_t old_last = last_index(r);
	assert(from > r->commit); /* committed entries are never removed */
	assert(r->role != AU_RAFT_LEADER);
	truncate_files(r, from, old_last);
	for (uint64_t i = from; i <= old_last; i++)
		free_entry(entry_at(r, i));
	g_array_set_size(r->log, from - r->snap_index - 1);
	cap_batches(r, from);
	trace(r, AU_TR_RAFT_TRUNCATE, (int64_t)from, (int64_t)r->term, 0);
	fail_proposals_from(r, from);
	if (r->config_index >= from)
		recompute_config(r);
}

/* Append one entry in memory (the caller writes and syncs the batch). */
static uint64_t append_entry(struct au_raft *r, uint64_t term, uint8_t type, const void *data,
			     uint32_t len)
{
	uint64_t index = last_index(r) + 1;
	struct entry e = {0};
	e.term = term;
	e.type = type;
	e.len = len;
	e.data = len ? g_memdup2(data, len) : NULL;
	e.chain = chain_next(chain_at(r, index - 1), term, type, e.data, len);
	g_array_append_val(r->log, e);
	trace(r, AU_TR_RAFT_APPEND, (int64_t)index, (int64_t)term, (int64_t)e.chain);
	if (type == ENTRY_CONFIG)
		apply_config_entry(r, index, entry_at(r, index));
	return index;
}

/* ---- sessions and state machines ---------------------------------------- */

/* A session's share of the state digest (what a snapshot keeps of it). */
static uint64_t session_hash(const struct session *s)
{
	uint64_t h = au_digest_add(UINT64_C(0x5e55), s->client);
	h = au_digest_add(h, s->seq);
	return au_digest_bytes(h, s->result, s->result_len);
}

static void recompute_sessions_digest(struct au_raft *r)
{
	GHashTableIter it;
	gpointer v;
	uint64_t sum = 0; /* a sum: the table's order does not matter */
	g_hash_table_iter_init(&it, r->sessions);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct session *s = v;
		s->hash = session_hash(s);
		sum += s->hash;
	}
	r->sessions_digest = sum;
}

/* Every digest_every applied entries: the state digest, for replicas_agree. */
static void trace_digest(struct au_raft *r)
{
	uint64_t every = r->cfg->digest_every;
	if (every == 0 || r->applied % every != 0)
		return;
	uint64_t slots[AU_RAFT_MAX_MACHINES];
	uint64_t d = au_raft_state_digest(r, slots);
	trace(r, AU_TR_RAFT_DIGEST, (int64_t)r->applied, (int64_t)d,
	      (int64_t)au_raft_fingerprints(slots));
}

static void apply_command(struct au_raft *r, uint64_t index, const struct entry *e,
			  uint8_t *result, size_t *rlen)
{
	*rlen = 0;
	struct au_rbuf rb;
	au_rbuf_init(&rb, e->data, e->len);
	uint8_t machine = au_get_u8(&rb);
	uint64_t client = au_get_u64(&rb);
	uint64_t seq = au_get_u64(&rb);
	if (rb.short_read || machine == 0 || machine >= AU_RAFT_MAX_MACHINES)
		return;
	struct session *s = client ? g_hash_table_lookup(r->sessions, &client) : NULL;
	if (s && seq <= s->seq) {
		/* A retry of a command already applied: answer, do not reapply. */
		if (seq == s->seq) {
			memcpy(result, s->result, s->result_len);
			*rlen = s->result_len;
		}
		return;
	}
	const struct au_raft_machine *m = &r->machines[machine];
	if (m->apply)
		m->apply(m->sm, index, e->data + rb.pos, e->len - rb.pos, result, rlen);
	if (client) {
		if (!s) {
			s = g_new0(struct session, 1);
			s->client = client;
			g_hash_table_insert(r->sessions, &s->client, s);
		} else {
			r->sessions_digest -= s->hash;
		}
		s->seq = seq;
		s->result_len = (uint8_t)(*rlen < SESSION_RESULT_MAX ? *rlen : SESSION_RESULT_MAX);
		memcpy(s->result, result, s->result_len);
		s->hash = session_hash(s);
		r->sessions_digest += s->hash;
	}
}

static void check_reads(struct au_raft *r);
static void maybe_compact(struct au_raft *r);
static void step_down(struct au_raft *r, uint64_t term, au_node_id leader);
static void clear_stash(struct au_raft *r);

static void apply_committed(struct au_raft *r)
{
	while (r->applied < r->commit) {
		uint64_t index = ++r->applied;
		struct entry *e = entry_at(r, index);
		assert(e);
		uint8_t result[AU_RAFT_RESULT_MAX];
		size_t rlen = 0;
		if (e->type == ENTRY_CMD)
			apply_command(r, index, e, result, &rlen);
		trace(r, AU_TR_RAFT_APPLY, (int64_t)index, (int64_t)e->term, (int64_t)e->chain);
		trace_digest(r);
		while (r->proposals->len) {
			struct proposal p = g_array_index(r->proposals, struct proposal, 0);
			if (p.index > index)
				break;
			g_array_remove_index(r->proposals, 0);
			bool ok = p.index == index && p.term == e->term;
			p.done(p.ctx, ok, p.index, ok ? result : NULL, ok ? rlen : 0);
		}
		/* A leader removed from the configuration steps down once the
		 * change is committed. */
		if (e->type == ENTRY_CONFIG && r->role == AU_RAFT_LEADER && index == r->config_index &&
		    !is_voter(r, r->env->self))
			step_down(r, r->term, 0);
	}
	check_reads(r);
	maybe_compact(r);
}

static void set_commit(struct au_raft *r, uint64_t commit)
{
	if (commit <= r->commit)
		return;
	r->commit = commit;
	trace(r, AU_TR_RAFT_COMMIT, (int64_t)commit, (int64_t)term_at(r, commit),
	      (int64_t)chain_at(r, commit));
	apply_committed(r);
}

/* ---- snapshots ------------------------------------------------------------ */

static gint cmp_u64(gconstpointer a, gconstpointer b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Serialise the state as of `applied`: header, sessions in client order,
 * machines in id order. */
static size_t build_snapshot(struct au_raft *r, uint8_t **out)
{
	GByteArray *b = g_byte_array_new();
	uint8_t tmp[64];
	struct au_wbuf w;
	au_wbuf_init(&w, tmp, sizeof(tmp));
	au_put_u32(&w, SNAP_MAGIC);
	au_put_u64(&w, r->applied);
	au_put_u64(&w, term_at(r, r->applied));
	au_put_u64(&w, chain_at(r, r->applied));
	/* the configuration as of `applied` */
	uint64_t voters = r->snap_voters;
	for (uint64_t i = r->applied; i > r->snap_index; i--) {
		struct entry *e = entry_at(r, i);
		if (e->type == ENTRY_CONFIG) {
			struct au_rbuf rb;
			au_rbuf_init(&rb, e->data, e->len);
			voters = au_get_u64(&rb);
			break;
		}
	}
	au_put_u64(&w, voters);
	au_put_u32(&w, g_hash_table_size(r->sessions));
	g_byte_array_append(b, tmp, (guint)w.len);
	GArray *keys = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, r->sessions);
	while (g_hash_table_iter_next(&it, &k, &v))
		g_array_append_val(keys, *(uint64_t *)k);
	g_array_sort(keys, cmp_u64); /* never hash-table order */
	for (guint i = 0; i < keys->len; i++) {
		struct session *s = g_hash_table_lookup(r->sessions, &g_array_index(keys, uint64_t, i));
		au_wbuf_init(&w, tmp, sizeof(tmp));
		au_put_u64(&w, s->client);
		au_put_u64(&w, s->seq);
		au_put_u8(&w, s->result_len);
		g_byte_array_append(b, tmp, (guint)w.len);
		g_byte_array_append(b, s->result, s->result_len);
	}
	g_array_free(keys, TRUE);
	for (uint8_t id = 1; id < AU_RAFT_MAX_MACHINES; id++) {
		const struct au_raft_machine *m = &r->machines[id];
		uint8_t *data = NULL;
		size_t len = 0;
		if (m->snapshot)
			len = m->snapshot(m->sm, &data);
		else if (r->pending_restore[id]) { /* not registered yet: carry it on */
			len = r->pending_restore_len[id];
			data = g_memdup2(r->pending_restore[id], len);
		}
		if (!data && !len)
			continue;
		au_wbuf_init(&w, tmp, sizeof(tmp));
		au_put_u8(&w, id);
		au_put_u32(&w, (uint32_t)len);
		g_byte_array_append(b, tmp, (guint)w.len);
		g_byte_array_append(b, data, (guint)len);
		free(data);
	}
	uint8_t end[5] = {0}; /* machine id 0 ends the list */
	g_byte_array_append(b, end, 1);
	uint32_t crc = au_crc32c(0, b->data, b->len);
	for (int i = 0; i < 4; i++)
		end[i] = (uint8_t)(crc >> (8 * i));
	g_byte_array_append(b, end, 4);
	size_t len = b->len;
	*out = g_byte_array_free(b, FALSE);
	return len;
}

/* Parse a snapshot; on success fill the header fields, restore sessions
 * and stash machine states for restore.  False if it is corrupt. */
static bool load_snapshot_bytes(struct au_raft *r, const uint8_t *buf, size_t len, bool apply)
{
	struct au_rbuf rb;
	if (!au_rbuf_unseal(&rb, buf, len) || au_get_u32(&rb) != SNAP_MAGIC)
		return false;
	uint64_t index = au_get_u64(&rb), term = au_get_u64(&rb), chain = au_get_u64(&rb);
	uint64_t voters = au_get_u64(&rb);
	uint32_t nsess = au_get_u32(&rb);
	if (rb.short_read || nsess > 10000000u)
		return false;
	if (!apply) {
		r->rx_index = index;
		r->rx_term = term;
		return true;
	}
	g_hash_table_remove_all(r->sessions);
	for (uint32_t i = 0; i < nsess && !rb.short_read; i++) {
		struct session *s = g_new0(struct session, 1);
		s->client = au_get_u64(&rb);
		s->seq = au_get_u64(&rb);
		s->result_len = au_get_u8(&rb);
		if (s->result_len > SESSION_RESULT_MAX)
			s->result_len = SESSION_RESULT_MAX;
		au_get_bytes(&rb, s->result, s->result_len);
		g_hash_table_replace(r->sessions, &s->client, s);
	}
	recompute_sessions_digest(r);
	for (;;) {
		uint8_t id = au_get_u8(&rb);
		if (id == 0 || rb.short_read || id >= AU_RAFT_MAX_MACHINES)
			break;
		uint32_t mlen = au_get_u32(&rb);
		if (rb.short_read || mlen > rb.len - rb.pos)
			return false;
		const uint8_t *data = rb.p + rb.pos;
		rb.pos += mlen;
		const struct au_raft_machine *m = &r->machines[id];
		g_free(r->pending_restore[id]);
		r->pending_restore[id] = NULL;
		if (m->restore)
			m->restore(m->sm, data, mlen);
		else {
			r->pending_restore[id] = g_memdup2(data, mlen);
			r->pending_restore_len[id] = mlen;
		}
	}
	r->snap_index = index;
	r->snap_term = term;
	r->snap_chain = chain;
	r->snap_voters = voters;
	return !rb.short_read;
}

/* Write a snapshot into the slot that does not hold the newest durable
 * one, and sync it; its token names this write (snap_seq), so a sync
 * completing for an abandoned one is not taken for it. */
static void write_snapshot_file(struct au_raft *r, const uint8_t *data, size_t len)
{
	r->snap_slot ^= 1u;
	r->snap_seq++;
	const char *name = r->snap_slot ? "snap.1" : "snap.0";
	if (!disk_truncate(r, name, 0) || !disk_write(r, name, 0, data, len))
		return;
	disk_sync(r, name, TOKEN(TOKEN_SNAP, r->snap_seq));
}

/* Drop the in-memory log up to `index` (it is in a durable snapshot) and
 * empty the segments that hold nothing newer. */
static void discard_prefix(struct au_raft *r, uint64_t index, uint64_t term, uint64_t chain)
{
	uint64_t old_first = r->snap_index + 1;
	uint64_t keep_from = index + 1;
	uint64_t drop = 0;
	if (keep_from > old_first)
		drop = (keep_from <= last_index(r) + 1 ? keep_from : last_index(r) + 1) - old_first;
	for (uint64_t i = 0; i < drop; i++)
		free_entry(&g_array_index(r->log, struct entry, i));
	g_array_remove_range(r->log, 0, (guint)drop);
	for (uint64_t s = seg_of(old_first); old_first >= 1 && s < seg_of(keep_from); s++) {
		char name[32];
		seg_name(name, sizeof(name), s);
		/* Failing to free a segment below the snapshot loses nothing:
		 * recovery reads the log from the snapshot on. */
		if (disk_truncate(r, name, 0))
			mark_dirty(r, s); /* synced so the disk really gives the space back */
	}
	issue_log_sync(r);
	r->snap_index = index;
	r->snap_term = term;
	r->snap_chain = chain;
}

static void maybe_compact(struct au_raft *r)
{
	if (!r->cfg->snapshot_every || r->compacting || r->installing ||
	    r->applied - r->snap_index < r->cfg->snapshot_every)
		return;
	uint8_t *data;
	size_t len = build_snapshot(r, &data);
	r->compacting = true;
	r->compact_index = r->applied;
	g_free(r->snap_bytes);
	r->snap_bytes = data; /* what InstallSnapshot sends from now on */
	r->snap_len = len;
	write_snapshot_file(r, data, len);
}

static void ack_install(struct au_raft *r);

/* Read a snapshot's header fields. */
static bool snap_header(const uint8_t *buf, size_t len, uint64_t *index, uint64_t *term,
			uint64_t *chain, uint64_t *voters)
{
	struct au_rbuf rb;
	if (!au_rbuf_unseal(&rb, buf, len) || au_get_u32(&rb) != SNAP_MAGIC)
		return false;
	*index = au_get_u64(&rb);
	*term = au_get_u64(&rb);
	*chain = au_get_u64(&rb);
	*voters = au_get_u64(&rb);
	return !rb.short_read;
}

static void snapshot_persisted(struct au_raft *r)
{
	if (r->installing) {
		/* A snapshot from the leader is durable: adopt it. */
		r->installing = false;
		uint64_t index = r->rx_index, term = r->rx_term;
		uint64_t si, st, chain = 0, sv;
		(void)snap_header(r->install_data, r->install_len, &si, &st, &chain, &sv);
		bool keep_suffix = term_at(r, index) == term && chain_at(r, index) == chain;
		if (!keep_suffix) {
			for (guint i = 0; i < r->log->len; i++)
				free_entry(&g_array_index(r->log, struct entry, i));
			uint64_t old_last = last_index(r);
			g_array_set_size(r->log, 0);
			fail_proposals_from(r, 0);
			for (uint64_t s = seg_of(r->snap_index + 1); old_last > r->snap_index && s <= seg_of(old_last); s++) {
				char name[32];
				seg_name(name, sizeof(name), s);
				if (disk_truncate(r, name, 0))
					mark_dirty(r, s);
			}
			issue_log_sync(r);
			r->snap_index = index; /* so last_index() is right below */
		} else {
			discard_prefix(r, index, term, chain);
		}
		load_snapshot_bytes(r, r->install_data, r->install_len, true);
		g_free(r->snap_bytes);
		r->snap_bytes = r->install_data;
		r->snap_len = r->install_len;
		r->install_data = NULL;
		if (r->durable_index < index)
			r->durable_index = index;
		if (r->commit < index)
			r->commit = index;
		r->applied = index;
		recompute_config(r);
		trace(r, AU_TR_RAFT_INSTALL, (int64_t)index, (int64_t)term, (int64_t)chain);
		trace_digest(r);
		ack_install(r);
		return;
	}
	if (r->compacting) {
		r->compacting = false;
		uint64_t index = r->compact_index;
		if (index > r->snap_index && index <= last_index(r)) {
			uint64_t si, st, sc, voters = r->snap_voters;
			if (!snap_header(r->snap_bytes, r->snap_len, &si, &st, &sc, &voters))
				voters = r->snap_voters;
			uint64_t term = term_at(r, index), chain = chain_at(r, index);
			discard_prefix(r, index, term, chain);
			r->snap_voters = voters;
			trace(r, AU_TR_RAFT_SNAPSHOT, (int64_t)index, (int64_t)term, (int64_t)chain);
		}
	}
}

/* ---- roles and timers ------------------------------------------------------ */

static void reset_election_timer(struct au_raft *r)
{
	au_timer_cancel(r->env, r->election_timer);
	r->election_timer = au_timer_set(r->env, random_election_timeout(r), TIMER_ELECTION, 0);
}

static void fail_reads(struct au_raft *r)
{
	GArray *reads = r->reads;
	r->reads = g_array_new(FALSE, FALSE, sizeof(struct read_req));
	for (guint i = 0; i < reads->len; i++) {
		struct read_req *q = &g_array_index(reads, struct read_req, i);
		q->done(q->ctx, false, 0, NULL, 0);
	}
	g_array_free(reads, TRUE);
}

static void set_role(struct au_raft *r, enum au_raft_role role, au_node_id leader)
{
	bool changed = r->role != role || r->leader != leader;
	r->role = role;
	r->leader = leader;
	if (changed)
		trace(r, AU_TR_RAFT_ROLE, (int64_t)r->term, role, leader);
}

static void step_down(struct au_raft *r, uint64_t term, au_node_id leader)
{
	bool was_leader = r->role == AU_RAFT_LEADER;
	if (term > r->term || leader != r->leader)
		clear_stash(r); /* held appends belong to another leader */
	if (term > r->term) {
		r->term = term;
		r->vote = 0;
		persist_meta(r);
	}
#ifdef AU_BUG_VOTEDFOR_CLEARED
	/* Planted bug: forget the vote when stepping down within a term. */
	else if (r->vote) {
		r->vote = 0;
		persist_meta(r);
	}
#endif
	set_role(r, AU_RAFT_FOLLOWER, leader);
	r->transferee = 0;
	if (was_leader) {
		au_timer_cancel(r->env, r->heartbeat_timer);
		au_timer_cancel(r->env, r->quorum_timer);
		/* Proposals of this term may still commit under the next leader:
		 * their clients must treat them as unknown. */
		fail_proposals_from(r, 0);
		fail_reads(r);
	}
	reset_election_timer(r);
}

static void send_vote_requests(struct au_raft *r, bool prevote, bool transfer)
{
	for (au_node_id n = 1; n <= AU_RAFT_MAX_NODES; n++) {
		if (!is_voter(r, n) || n == r->env->self)
			continue;
		uint8_t buf[64];
		struct au_wbuf w;
		au_wbuf_init(&w, buf, sizeof(buf));
		au_put_u8(&w, MSG_VOTE);
		au_put_u64(&w, prevote ? r->term + 1 : r->term);
		au_put_u64(&w, last_index(r));
		au_put_u64(&w, last_term(r));
		au_put_u8(&w, (uint8_t)(prevote | transfer << 1));
		send_durable(r, n, &w, 0);
	}
}

static void become_leader(struct au_raft *r);

/* Count our own vote, which must be durable first; it is, because the
 * grant loop is only entered from persisted() or when already synced. */
static void tally(struct au_raft *r)
{
	if ((uint32_t)__builtin_popcountll(r->votes & r->voters) < majority(r))
		return;
	if (r->role == AU_RAFT_PRECANDIDATE) {
		/* The pre-vote won: now a real election. */
		r->term++;
		r->vote = r->env->self;
		r->votes = UINT64_C(1) << r->env->self;
		if (!persist_meta(r))
			return; /* out of service: no campaign on a vote it cannot keep */
		set_role(r, AU_RAFT_CANDIDATE, 0);
		r->elections++;
		send_vote_requests(r, false, false);
		reset_election_timer(r);
		tally(r);
	} else if (r->role == AU_RAFT_CANDIDATE && r->meta_synced >= r->meta_version) {
		become_leader(r);
	}
}

static void start_election(struct au_raft *r, bool transfer)
{
	/* A server outside its latest configuration still stands while that
	 * configuration is uncommitted (dissertation 4.2.2): it may be the one
	 * that must commit it — e.g. when the leader that proposed removing
	 * it crashed before its own copy was durable and now needs its vote.
	 * Its own vote is not counted (tally counts voters only). */
	if (!is_voter(r, r->env->self) && r->config_index <= r->commit)
		return;
	r->votes = UINT64_C(1) << r->env->self;
	if (r->cfg->prevote && !transfer) {
		set_role(r, AU_RAFT_PRECANDIDATE, 0);
		send_vote_requests(r, true, false);
	} else {
		r->term++;
		r->vote = r->env->self;
		if (!persist_meta(r))
			return;
		set_role(r, AU_RAFT_CANDIDATE, 0);
		r->elections++;
		send_vote_requests(r, false, transfer);
	}
	reset_election_timer(r);
	tally(r);
}

static void send_append(struct au_raft *r, au_node_id to, bool heartbeat);

static void broadcast_append(struct au_raft *r, bool heartbeat)
{
	for (au_node_id n = 1; n <= AU_RAFT_MAX_NODES; n++)
		if (is_voter(r, n) && n != r->env->self)
			send_append(r, n, heartbeat);
}

static void become_leader(struct au_raft *r)
{
	set_role(r, AU_RAFT_LEADER, r->env->self);
	au_timer_cancel(r->env, r->election_timer);
	au_time now = au_now(r->env);
	for (au_node_id n = 1; n <= AU_RAFT_MAX_NODES; n++) {
		struct peer *p = &r->peers[n];
		memset(p, 0, sizeof(*p));
		p->next = last_index(r) + 1;
		p->last_ack_ns = now;
		p->snap_offset = UINT64_MAX;
	}
	/* A no-op of the new term: the commit rule needs an entry of this term,
	 * and ReadIndex needs it committed. */
	r->term_start = append_entry(r, r->term, ENTRY_NOOP, NULL, 0);
	if (!write_entries(r, r->term_start, r->term_start))
		return; /* out of service already: it stepped down */
	broadcast_append(r, false);
	r->heartbeat_timer = au_timer_set(r->env, r->cfg->heartbeat_ns, TIMER_HEARTBEAT, 0);
	if (r->cfg->check_quorum)
		r->quorum_timer = au_timer_set(r->env, r->cfg->election_lo_ns, TIMER_QUORUM, 0);
}

/* ---- leader: replication -------------------------------------------------- */

static void send_snapshot_chunk(struct au_raft *r, au_node_id to)
{
	struct peer *p = &r->peers[to];
	if (!r->snap_bytes || p->snap_offset >= r->snap_len) {
		p->snap_offset = 0;
		if (!r->snap_bytes)
			return;
	}
	size_t n = r->snap_len - p->snap_offset;
	if (n > SNAP_CHUNK)
		n = SNAP_CHUNK;
	uint8_t *buf = g_malloc(n + 64);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, n + 64);
	au_put_u8(&w, MSG_SNAP);
	au_put_u64(&w, r->term);
	au_put_u64(&w, p->snap_offset);
	au_put_u64(&w, r->snap_len);
	au_put_u32(&w, (uint32_t)n);
	au_put_bytes(&w, r->snap_bytes + p->snap_offset, n);
	p->snap_expect = p->snap_offset + n;
	send_durable(r, to, &w, 0);
	g_free(buf);
}

static void send_append(struct au_raft *r, au_node_id to, bool heartbeat)
{
	struct peer *p = &r->peers[to];
	if (p->next <= r->snap_index) {
		/* The entries it needs are compacted away. */
		if (p->snap_offset == UINT64_MAX)
			p->snap_offset = 0;
		send_snapshot_chunk(r, to);
		return;
	}
	for (;;) {
		bool have = p->next <= last_index(r);
		uint32_t limit = p->probing ? 1 : r->cfg->max_inflight;
		if (!heartbeat && (!have || p->inflight >= limit))
			return;
		uint64_t prev = heartbeat ? p->match : p->next - 1;
		if (heartbeat && prev < r->snap_index)
			prev = p->next - 1;
		uint8_t *buf = r->sendbuf; /* reused: appends are built one at a time */
		struct au_wbuf w;
		au_wbuf_init(&w, buf, APPEND_BYTES_MAX + 128);
		au_put_u8(&w, MSG_APPEND);
		au_put_u64(&w, r->term);
		au_put_u64(&w, prev);
		au_put_u64(&w, term_at(r, prev));
		au_put_u64(&w, r->commit);
		au_put_u64(&w, r->hb_seq);
		size_t count_at = w.len;
		au_put_u32(&w, 0);
		uint32_t count = 0;
		uint64_t i = prev + 1;
		if (!heartbeat) {
			for (; i <= last_index(r) && count < r->cfg->max_batch; i++, count++) {
				struct entry *e = entry_at(r, i);
				if (count > 0 && w.len + 13 + e->len > APPEND_BYTES_MAX)
					break;
				au_put_u64(&w, e->term);
				au_put_u8(&w, e->type);
				au_put_u32(&w, e->len);
				au_put_bytes(&w, e->data, e->len);
			}
		}
		for (int b = 0; b < 4; b++)
			buf[count_at + b] = (uint8_t)(count >> (8 * b));
		send_durable(r, to, &w, 0);
		if (heartbeat)
			return;
		if (p->probing)
			p->probe_prev = prev;
		p->next = prev + count + 1;
		p->inflight++;
	}
}

/* The k-th largest (k >= 1) of v[0..n): insertion sort, descending — n is
 * the number of voters, small, and this runs on every append reply. */
static uint64_t kth_largest(uint64_t *v, uint32_t n, uint32_t k)
{
	for (uint32_t i = 1; i < n; i++) {
		uint64_t x = v[i];
		uint32_t j = i;
		for (; j > 0 && v[j - 1] < x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	return v[k - 1];
}

static void advance_commit(struct au_raft *r)
{
	uint64_t matches[AU_RAFT_MAX_NODES];
	uint32_t n = 0;
	for (au_node_id id = 1; id <= AU_RAFT_MAX_NODES; id++)
		if (is_voter(r, id))
			matches[n++] = id == r->env->self ? r->durable_index : r->peers[id].match;
	if (n == 0)
		return;
	uint64_t m = kth_largest(matches, n, majority(r));
#ifdef AU_BUG_COMMIT_OLD_TERM
	/* Planted bug: commit by counting replicas even for an earlier term. */
	if (m > r->commit)
#else
	/* Only an entry of the current term is committed by counting replicas
	 * (Raft §5.4.2); earlier ones commit with it. */
	if (m > r->commit && term_at(r, m) == r->term)
#endif
		set_commit(r, m);
}

/* The highest heartbeat sequence a majority of voters (this leader
 * included) has acknowledged. */
static uint64_t quorum_acked_seq(const struct au_raft *r)
{
	uint64_t acked[AU_RAFT_MAX_NODES];
	uint32_t n = 0;
	for (au_node_id id = 1; id <= AU_RAFT_MAX_NODES; id++)
		if (is_voter(r, id))
			acked[n++] = id == r->env->self ? UINT64_MAX : r->peers[id].acked_seq;
	if (n == 0)
		return 0;
	return kth_largest(acked, n, majority(r));
}

/* Send one heartbeat round that pending reads can be confirmed by. */
static void start_read_round(struct au_raft *r)
{
	r->read_round = ++r->hb_seq;
	r->read_round_wanted = false;
	for (au_node_id n = 1; n <= AU_RAFT_MAX_NODES; n++)
		if (is_voter(r, n) && n != r->env->self)
			send_append(r, n, true);
	flush_outbox(r);
}

/* ReadIndex: a read is confirmed once a majority acknowledged a heartbeat
 * round sent after it arrived (this node still led then) and this term has
 * committed an entry; it is answered once the machines have applied its
 * read index.  Reads share rounds: at most one round for reads is
 * outstanding, and reads arriving meanwhile wait for the next one. */
static void check_reads(struct au_raft *r)
{
	if (r->role != AU_RAFT_LEADER || r->reads->len == 0)
		return;
	uint64_t acked = quorum_acked_seq(r);
	if (r->read_round_wanted && acked >= r->read_round)
		start_read_round(r);
	bool term_committed = r->commit >= r->term_start;
	guint n_ready = 0;
	for (guint i = 0; i < r->reads->len; i++) {
		struct read_req *q = &g_array_index(r->reads, struct read_req, i);
		if (!q->confirmed && term_committed && acked >= q->seq) {
			q->confirmed = true;
			if (q->read_index < r->term_start)
				q->read_index = r->commit; /* fixed once our term committed */
		}
		if (q->confirmed && r->applied >= q->read_index)
			n_ready++;
	}
	if (n_ready == 0)
		return;
	/* Answer outside the loop: callbacks may call back into Raft. */
	struct read_req *ready = g_new(struct read_req, n_ready);
	guint keep = 0, k = 0;
	for (guint i = 0; i < r->reads->len; i++) {
		struct read_req *q = &g_array_index(r->reads, struct read_req, i);
		if (q->confirmed && r->applied >= q->read_index)
			ready[k++] = *q;
		else
			g_array_index(r->reads, struct read_req, keep++) = *q;
	}
	g_array_set_size(r->reads, keep);
	for (guint i = 0; i < n_ready; i++)
		ready[i].done(ready[i].ctx, true, ready[i].read_index, NULL, 0);
	g_free(ready);
}

static void maybe_send_timeout_now(struct au_raft *r)
{
	if (!r->transferee)
		return;
	if (au_now(r->env) > r->transfer_deadline_ns) {
		r->transferee = 0; /* gave up: accept proposals again */
		return;
	}
	if (r->peers[r->transferee].match == last_index(r)) {
		uint8_t buf[32];
		struct au_wbuf w;
		au_wbuf_init(&w, buf, sizeof(buf));
		au_put_u8(&w, MSG_TIMEOUT_NOW);
		au_put_u64(&w, r->term);
		send_durable(r, r->transferee, &w, 0);
	}
}

/* ---- message handlers ----------------------------------------------------- */

static bool log_up_to_date(const struct au_raft *r, uint64_t idx, uint64_t term)
{
	uint64_t lt = last_term(r);
	return term > lt || (term == lt && idx >= last_index(r));
}

/* A leader we heard from within the minimum election timeout makes us
 * ignore disruptive vote requests (dissertation §4.2.3). */
static bool leader_recent(const struct au_raft *r)
{
	if (r->role == AU_RAFT_LEADER)
		return true;
	return r->leader && au_now(r->env) - r->last_leader_contact_ns < r->cfg->election_lo_ns;
}

static void on_vote(struct au_raft *r, au_node_id from, struct au_rbuf *rb)
{
	uint64_t term = au_get_u64(rb), idx = au_get_u64(rb), lterm = au_get_u64(rb);
	uint8_t flags = au_get_u8(rb);
	bool prevote = flags & 1, transfer = flags & 2;
	if (rb->short_read)
		return;
	bool granted = false;
	if (prevote) {
#ifdef AU_BUG_VOTE_NO_LOG_CHECK
		/* Planted bug: votes without comparing logs. */
		(void)log_up_to_date;
		(void)idx;
		(void)lterm;
		granted = term > r->term && !(leader_recent(r) && !transfer);
#else
		granted = term > r->term && log_up_to_date(r, idx, lterm) && !(leader_recent(r) && !transfer);
#endif
	} else {
		if (term > r->term && leader_recent(r) && !transfer && r->cfg->check_quorum) {
			/* disruptive: ignore without adopting its term */
		} else {
			if (term > r->term)
				step_down(r, term, 0);
#ifdef AU_BUG_VOTE_NO_LOG_CHECK
			bool log_ok = true;
#else
			bool log_ok = log_up_to_date(r, idx, lterm);
#endif
			if (term == r->term && (r->vote == 0 || r->vote == from) && log_ok &&
			    r->role == AU_RAFT_FOLLOWER) {
				granted = true;
				if (r->vote != from) {
					r->vote = from;
#ifdef AU_BUG_VOTE_NOT_PERSISTED
					/* Planted bug: the vote is not made durable before the reply. */
					r->meta_version++;
					r->meta_synced = r->meta_version;
#else
					persist_meta(r);
#endif
				}
				reset_election_timer(r);
			}
		}
	}
	trace(r, AU_TR_RAFT_VOTE, (int64_t)term, from, (int64_t)(granted | prevote << 1));
	uint8_t buf[32];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, MSG_VOTE_RESP);
	/* A granted pre-vote answers in the asked term; a refusal carries our
	 * own term, so a pre-candidate below the cluster's term learns it
	 * (without that, a half with the longer logs and a half with the
	 * higher term could refuse each other forever). */
	au_put_u64(&w, prevote && granted ? term : r->term);
	au_put_u8(&w, (uint8_t)(granted | prevote << 1));
	if (prevote) {
		/* A pre-vote changes nothing durable; answer in the asked term. */
		au_wbuf_seal(&w);
		au_send(r->env, from, w.p, w.len);
	} else {
		send_durable(r, from, &w, 0);
	}
}

static void on_vote_resp(struct au_raft *r, au_node_id from, struct au_rbuf *rb)
{
	uint64_t term = au_get_u64(rb);
	uint8_t flags = au_get_u8(rb);
	bool granted = flags & 1, prevote = flags & 2;
	if (rb->short_read)
		return;
	if (!prevote && term > r->term) {
		step_down(r, term, 0);
		return;
	}
	if (prevote && !granted && term > r->term) {
		step_down(r, term, 0); /* refused by a node in a higher term: adopt it */
		return;
	}
	if (prevote && r->role == AU_RAFT_PRECANDIDATE && term == r->term + 1 && granted) {
		r->votes |= UINT64_C(1) << from;
		tally(r);
	} else if (!prevote && r->role == AU_RAFT_CANDIDATE && term == r->term && granted) {
		r->votes |= UINT64_C(1) << from;
		tally(r);
	}
}

/* Append reply flags. */
#define APPEND_OK 1u
#define APPEND_HAD_ENTRIES 2u /* answers a pipelined append, not a heartbeat */

static void reply_append(struct au_raft *r, au_node_id to, uint8_t flags, uint64_t match,
			 uint64_t conflict_index, uint64_t conflict_term, uint64_t seq)
{
	bool ok = flags & APPEND_OK;
	uint8_t buf[64];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, MSG_APPEND_RESP);
	au_put_u64(&w, r->term);
	au_put_u8(&w, flags);
	au_put_u64(&w, match);
	au_put_u64(&w, conflict_index);
	au_put_u64(&w, conflict_term);
	au_put_u64(&w, seq);
	/* Acknowledging entries up to `match` needs them durable. */
	send_durable(r, to, &w, ok ? match : 0);
}

static void heard_leader(struct au_raft *r, uint64_t term, au_node_id from)
{
	if (term > r->term || r->role != AU_RAFT_FOLLOWER || r->leader != from)
		step_down(r, term, from);
	r->last_leader_contact_ns = au_now(r->env);
	reset_election_timer(r);
}

static void clear_stash(struct au_raft *r)
{
	for (uint32_t i = 0; i < r->n_stash; i++)
		g_free(r->stash[i].payload);
	r->n_stash = 0;
}

/* Hold an append that arrived ahead of its predecessor; false if it cannot
 * be held (then the caller rejects it). */
static bool stash_append(struct au_raft *r, au_node_id from, uint64_t term, uint64_t prev,
			 const struct au_rbuf *rb)
{
	uint64_t window = (uint64_t)r->cfg->max_batch * r->cfg->max_inflight;
	if (prev - last_index(r) > window)
		return false;
	for (uint32_t i = 0; i < r->n_stash; i++)
		if (r->stash[i].prev == prev && r->stash[i].term == term)
			return true; /* a duplicate of one we hold */
	if (r->n_stash == STASH_MAX)
		return false;
	r->held_appends++;
	struct stashed_append *s = &r->stash[r->n_stash++];
	s->term = term;
	s->prev = prev;
	s->from = from;
	s->len = rb->len;
	s->payload = g_memdup2(rb->p, rb->len);
	return true;
}

static void on_append(struct au_raft *r, au_node_id from, struct au_rbuf *rb);

/* Process the held append that now follows our log, if any (on_append
 * calls back here, so a run of held appends drains in order). */
static void drain_stash(struct au_raft *r)
{
	uint32_t keep = 0;
	for (uint32_t i = 0; i < r->n_stash; i++) {
		if (r->stash[i].term != r->term || r->role != AU_RAFT_FOLLOWER)
			g_free(r->stash[i].payload); /* from an old leader: useless now */
		else
			r->stash[keep++] = r->stash[i];
	}
	r->n_stash = keep;
	int pick = -1;
	for (uint32_t i = 0; i < r->n_stash; i++)
		if (r->stash[i].prev <= last_index(r) && (pick < 0 || r->stash[i].prev < r->stash[pick].prev))
			pick = (int)i;
	if (pick < 0)
		return;
	struct stashed_append held = r->stash[pick];
	r->stash[pick] = r->stash[--r->n_stash];
	struct au_rbuf rb;
	au_rbuf_init(&rb, held.payload, held.len);
	(void)au_get_u8(&rb); /* MSG_APPEND */
	on_append(r, held.from, &rb);
	g_free(held.payload);
}

static void on_append(struct au_raft *r, au_node_id from, struct au_rbuf *rb)
{
	uint64_t term = au_get_u64(rb), prev = au_get_u64(rb), prev_term = au_get_u64(rb);
	uint64_t leader_commit = au_get_u64(rb), seq = au_get_u64(rb);
	uint32_t count = au_get_u32(rb);
	if (rb->short_read)
		return;
	if (term < r->term) {
		reply_append(r, from, 0, prev, 0, 0, seq);
		return;
	}
	heard_leader(r, term, from);
	if (r->disk_failed)
		return; /* adopting its term could not be made durable */
	if (prev > last_index(r)) {
		/* A gap.  An append that merely overtook its predecessor is
		 * held until that one arrives; a heartbeat, or a gap wider than
		 * the leader's pipeline, means we are behind: say where we are. */
		if (count > 0 && stash_append(r, from, term, prev, rb))
			return;
		r->gap_rejects++;
		reply_append(r, from, 0, prev, last_index(r) + 1, 0, seq);
		return;
	}
	if (prev >= r->snap_index && term_at(r, prev) != prev_term) {
		uint64_t ct = term_at(r, prev), ci = prev;
		while (ci - 1 > r->snap_index && term_at(r, ci - 1) == ct)
			ci--;
		reply_append(r, from, 0, prev, ci, ct, seq);
		return;
	}
	uint64_t index = prev, first_new = 0;
	for (uint32_t k = 0; k < count; k++) {
		uint64_t et = au_get_u64(rb);
		uint8_t type = au_get_u8(rb);
		uint32_t len = au_get_u32(rb);
		if (rb->short_read || len > rb->len - rb->pos) {
			r->bad_msgs++;
			return;
		}
		const uint8_t *data = rb->p + rb->pos;
		rb->pos += len;
		index++;
		if (index <= r->snap_index)
			continue; /* already in our snapshot: committed and equal */
		if (index <= last_index(r)) {
			if (term_at(r, index) == et)
				continue;
			truncate_log(r, index);
		}
		append_entry(r, et, type, data, len);
		if (!first_new)
			first_new = index;
	}
	if (first_new && !write_entries(r, first_new, last_index(r)))
		return; /* out of service: no reply, no commit */
	if (r->disk_failed)
		return; /* a truncation above failed */
	uint64_t match = index;
#ifdef AU_BUG_FOLLOWER_COMMIT_BEYOND
	/* Planted bug: trust the leader's commit index beyond what this
	 * message verified. */
	uint64_t verified = last_index(r);
#else
	uint64_t verified = match;
#endif
	uint64_t c = leader_commit < verified ? leader_commit : verified;
	/* The commit index only moves over entries this message verified
	 * against the leader's log. */
	set_commit(r, c);
	reply_append(r, from, APPEND_OK | (count ? APPEND_HAD_ENTRIES : 0), match, 0, 0, seq);
	drain_stash(r);
}

static void on_append_resp(struct au_raft *r, au_node_id from, struct au_rbuf *rb)
{
	uint64_t term = au_get_u64(rb);
	uint8_t flags = au_get_u8(rb);
	bool ok = flags & APPEND_OK;
	uint64_t match = au_get_u64(rb), ci = au_get_u64(rb), ct = au_get_u64(rb), seq = au_get_u64(rb);
	if (rb->short_read || from > AU_RAFT_MAX_NODES)
		return;
	if (term > r->term) {
		step_down(r, term, 0);
		return;
	}
	if (r->role != AU_RAFT_LEADER || term != r->term)
		return;
	struct peer *p = &r->peers[from];
	p->last_ack_ns = au_now(r->env);
	if (seq > p->acked_seq)
		p->acked_seq = seq;
	if (ok) {
		p->probing = false;
		if (match > p->match)
			p->match = match;
		if (p->next < p->match + 1)
			p->next = p->match + 1;
		if (p->inflight && (flags & APPEND_HAD_ENTRIES))
			p->inflight--; /* heartbeat replies free no pipeline slot */
		advance_commit(r);
		maybe_send_timeout_now(r);
	} else {
		/* `match` carries the prev index the follower rejected.  Ignore
		 * rejections of appends we have already moved past: answering
		 * each one with a fresh burst would multiply messages. */
		uint64_t rejected = match;
		/* While probing, only the answer to the probe in flight counts
		 * (send_append has already moved next past it: comparing with
		 * next - 1 threw every probe's rejection away, and the leader fell
		 * back to resending from match + 1 at the next heartbeat). */
		if (p->probing ? rejected != p->probe_prev : rejected <= p->match)
			return;
		uint64_t next = ci;
		if (ct) {
			/* Skip the follower's whole conflicting term at once. */
			for (uint64_t i = last_index(r); i > r->snap_index; i--) {
				if (term_at(r, i) == ct) {
					next = i + 1;
					break;
				}
				if (term_at(r, i) < ct)
					break;
			}
		}
		if (next < 1)
			next = 1;
		if (next > last_index(r) + 1)
			next = last_index(r) + 1;
		if (next <= p->match)
			next = p->match + 1;
		p->next = next;
		p->inflight = 0;
		p->probing = true; /* one append at a time until one succeeds */
	}
	check_reads(r);
	send_append(r, from, false);
}

static void on_snap(struct au_raft *r, au_node_id from, struct au_rbuf *rb)
{
	uint64_t term = au_get_u64(rb), offset = au_get_u64(rb), total = au_get_u64(rb);
	uint32_t n = au_get_u32(rb);
	if (rb->short_read || n > rb->len - rb->pos || total > (UINT64_C(1) << 30))
		return;
	uint8_t buf[48];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, MSG_SNAP_RESP);
	if (term < r->term) {
		au_put_u64(&w, r->term);
		au_put_u64(&w, 0);
		au_put_u8(&w, 0);
		au_put_u64(&w, 0);
		send_durable(r, from, &w, 0);
		return;
	}
	heard_leader(r, term, from);
	if (r->disk_failed)
		return; /* adopting its term could not be made durable */
	if (r->installing)
		return; /* busy making the last one durable; the leader resends */
	if (offset == 0) {
		r->rx_len = 0;
		r->rx_total = total;
		if (r->rx_cap < total) {
			r->rx_snap = g_realloc(r->rx_snap, total);
			r->rx_cap = total;
		}
	} else if (total != r->rx_total) {
		/* A chunk of another snapshot (the leader compacted again
		 * mid-transfer): start over, replying 0 below so the leader
		 * sends the new one from its beginning.  Appending it to the
		 * old one's bytes would mix two snapshots or overflow. */
		r->rx_len = 0;
	}
	if (offset == r->rx_len && offset + n <= total && offset + n <= r->rx_cap &&
	    total == r->rx_total) {
		if (n) /* an empty chunk may come before any buffer exists */
			memcpy(r->rx_snap + offset, rb->p + rb->pos, n);
		r->rx_len += n;
	}
	bool done = false;
	if (r->rx_len == total && total == r->rx_total) {
		done = true;
		if (load_snapshot_bytes(r, r->rx_snap, r->rx_len, false) && r->rx_index > r->commit) {
			/* Make it durable first; adopt and acknowledge it in
			 * snapshot_persisted(). */
			r->installing = true;
			r->install_from = from;
			r->install_data = g_memdup2(r->rx_snap, r->rx_len);
			r->install_len = r->rx_len;
			write_snapshot_file(r, r->rx_snap, r->rx_len);
			r->rx_len = 0;
			return;
		}
		r->rx_len = 0;
	}
	au_put_u64(&w, r->term);
	au_put_u64(&w, done ? total : r->rx_len);
	au_put_u8(&w, done);
	/* Done without installing: our commit index already covers it.  But
	 * a commit index is not durability — a follower can know an entry is
	 * committed before its own copy is synced — so claim only what is
	 * also durable here; crediting rx_index let the leader count entries
	 * this node then lost in a crash, and never resend them (chaos-aureon
	 * seed 8570, make soak).  Entries up to the claim are at or below our
	 * commit index, so they are the leader's. */
	uint64_t held = r->rx_index < r->durable_index ? r->rx_index : r->durable_index;
	if (held > r->commit)
		held = r->commit;
	au_put_u64(&w, done ? held : 0);
	send_durable(r, from, &w, 0);
}

/* Tell the leader a received snapshot is durable and in effect. */
static void ack_install(struct au_raft *r)
{
	uint8_t buf[48];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, MSG_SNAP_RESP);
	au_put_u64(&w, r->term);
	au_put_u64(&w, r->snap_len);
	au_put_u8(&w, 1);
	au_put_u64(&w, r->snap_index); /* which snapshot: the leader may have taken another since */
	send_durable(r, r->install_from, &w, 0);
}

static void on_snap_resp(struct au_raft *r, au_node_id from, struct au_rbuf *rb)
{
	uint64_t term = au_get_u64(rb), upto = au_get_u64(rb);
	bool done = au_get_u8(rb);
	uint64_t installed = au_get_u64(rb); /* with done: the snapshot's index */
	if (rb->short_read || from > AU_RAFT_MAX_NODES)
		return;
	if (term > r->term) {
		step_down(r, term, 0);
		return;
	}
	if (r->role != AU_RAFT_LEADER || term != r->term)
		return;
	struct peer *p = &r->peers[from];
	p->last_ack_ns = au_now(r->env);
	if (done) {
		/* Credit the snapshot the follower installed, not the one we
		 * hold now: we may have compacted again since we sent it, and
		 * crediting our newer index made the leader believe a follower
		 * held entries it never got — next could then never go back
		 * below that match and the follower was stuck (chaos-aureon
		 * seed 1264).  A snapshot never covers uncommitted entries, so
		 * the old crediting broke no commit; it stalled the follower. */
		p->snap_offset = UINT64_MAX;
		if (installed > r->snap_index)
			installed = r->snap_index;
		if (p->match < installed)
			p->match = installed;
		p->next = p->match + 1;
		p->inflight = 0;
		advance_commit(r);
		/* A follower that holds less than our snapshot durably (its
		 * syncs are behind) gets it again, but from the next heartbeat:
		 * answering each "done" at once with a whole new transfer turns
		 * duplicated messages into a storm (regressions/snapshot-dup-storm). */
		if (p->next > r->snap_index)
			send_append(r, from, false);
	} else if (upto == p->snap_expect || upto == 0) {
		/* The answer to the newest chunk (or the follower starting
		 * over): send the next.  Answers to older or duplicated chunks
		 * (heartbeats resend one) are not answered, so one transfer
		 * never turns into several ping-pong chains. */
		p->snap_offset = upto;
		send_snapshot_chunk(r, from);
	} else if (upto <= r->snap_len) {
		/* Any other answer still says how much the follower holds:
		 * resume from there at the next heartbeat.  A stale duplicate of
		 * the first chunk can restart the follower after it answered for
		 * the next one, and a late answer can say more than the one
		 * expected; ignoring them, the leader went on resending a chunk
		 * the follower could not use, forever (chaos-aureon seeds 564,
		 * 210: a follower stuck for 10 s and more). */
		p->snap_offset = upto;
	}
}

static void on_timeout_now(struct au_raft *r, au_node_id from, struct au_rbuf *rb)
{
	uint64_t term = au_get_u64(rb);
	if (rb->short_read || term != r->term || from != r->leader)
		return;
	trace(r, AU_TR_RAFT_TRANSFER, (int64_t)term, r->env->self, 0);
	start_election(r, true);
}

static void recover_or_wait(struct au_raft *r);

static void raft_recv(void *state, au_node_id from, const void *msg, size_t len)
{
	struct au_raft *r = state;
	struct au_rbuf rb;
	if (r->unrecovered || r->disk_failed)
		return; /* it cannot know, or cannot keep, what it promises: silence, as if down */
	if (from < 1 || from > AU_RAFT_MAX_NODES || !au_rbuf_unseal(&rb, msg, len)) {
		r->bad_msgs++;
		trace(r, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 0);
		return;
	}
	uint8_t type = au_get_u8(&rb);
	switch (type) {
	case MSG_VOTE: on_vote(r, from, &rb); break;
	case MSG_VOTE_RESP: on_vote_resp(r, from, &rb); break;
	case MSG_APPEND: on_append(r, from, &rb); break;
	case MSG_APPEND_RESP: on_append_resp(r, from, &rb); break;
	case MSG_SNAP: on_snap(r, from, &rb); break;
	case MSG_SNAP_RESP: on_snap_resp(r, from, &rb); break;
	case MSG_TIMEOUT_NOW: on_timeout_now(r, from, &rb); break;
	default:
		r->bad_msgs++;
		trace(r, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 1);
		return;
	}
	flush_outbox(r);
}

/* ---- timers and durability callbacks ----------------------------------------- */

static void heartbeat(struct au_raft *r)
{
	r->hb_seq++;
	if (r->read_round_wanted) { /* this round serves the waiting reads */
		r->read_round = r->hb_seq;
		r->read_round_wanted = false;
	}
	for (au_node_id n = 1; n <= AU_RAFT_MAX_NODES; n++) {
		if (!is_voter(r, n) || n == r->env->self)
			continue;
		struct peer *p = &r->peers[n];
		/* Entries sent but not acknowledged, and no progress since the
		 * last beat: assume the pipeline was lost and resend from the
		 * last known match.  Judged by next/match, not by the inflight
		 * count: duplicated replies can bring that to 0 while appends
		 * are still unacknowledged, and then nothing would resend them. */
		if (p->next > p->match + 1 && p->match == p->progress_mark) {
			p->inflight = 0;
			p->next = p->match + 1;
		}
		p->progress_mark = p->match;
		if (p->snap_offset != UINT64_MAX)
			send_snapshot_chunk(r, n);
		else {
			send_append(r, n, true);
			send_append(r, n, false);
		}
	}
	maybe_send_timeout_now(r);
	r->heartbeat_timer = au_timer_set(r->env, r->cfg->heartbeat_ns, TIMER_HEARTBEAT, 0);
}

static void check_quorum(struct au_raft *r)
{
	au_time now = au_now(r->env);
	uint32_t live = is_voter(r, r->env->self) ? 1 : 0;
	for (au_node_id n = 1; n <= AU_RAFT_MAX_NODES; n++)
		if (is_voter(r, n) && n != r->env->self &&
		    now - r->peers[n].last_ack_ns < r->cfg->election_lo_ns)
			live++;
	if (live < majority(r)) {
		step_down(r, r->term, 0); /* cannot reach a majority: stop leading */
		return;
	}
	r->quorum_timer = au_timer_set(r->env, r->cfg->election_lo_ns, TIMER_QUORUM, 0);
}

static void repair_storage(struct au_raft *r);

static void raft_timer(void *state, uint32_t kind, uint64_t arg)
{
	struct au_raft *r = state;
	(void)arg;
	if (r->unrecovered) {
		if (kind == TIMER_RECOVER)
			recover_or_wait(r);
		return;
	}
	if (kind == TIMER_FAIL_PENDING) {
		/* Deferred from storage_failed, which may run inside a call
		 * from another model (submit): the entries may still commit
		 * under another leader, so this is "unknown" to clients. */
		fail_proposals_from(r, 0);
		fail_reads(r);
		return;
	}
	if (kind == TIMER_DISK_REPAIR) {
		if (r->disk_failed && !r->disk_repairing)
			repair_storage(r);
		return;
	}
	if (r->disk_failed)
		return; /* out of service: no elections, no leading */
	switch (kind) {
	case TIMER_ELECTION:
		if (r->role != AU_RAFT_LEADER)
			start_election(r, false);
		break;
	case TIMER_HEARTBEAT:
		if (r->role == AU_RAFT_LEADER)
			heartbeat(r);
		break;
	case TIMER_QUORUM:
		if (r->role == AU_RAFT_LEADER)
			check_quorum(r);
		break;
	}
	flush_outbox(r);
}

/* Storage failed: stop serving at once (see the top of this file) and
 * try to repair a maximum election timeout later. */
static void storage_failed(struct au_raft *r, enum au_storage_op op, int err)
{
	r->disk_failures++;
	trace(r, AU_TR_RAFT_DISK_FAILED, op, -err, (int64_t)r->disk_failures);
	if (r->disk_failed && !r->disk_repairing)
		return; /* already out of service, a repair is scheduled */
	r->disk_failed = true;
	r->disk_repairing = false;
	if (r->role == AU_RAFT_LEADER) {
		au_timer_cancel(r->env, r->heartbeat_timer);
		au_timer_cancel(r->env, r->quorum_timer);
	}
	set_role(r, AU_RAFT_FOLLOWER, 0);
	r->transferee = 0;
	au_timer_cancel(r->env, r->election_timer);
	clear_stash(r);
	/* What was in flight vouches for nothing now: a sync that completes
	 * later for a write issued before the failure is not trusted (a log
	 * batch or snapshot of an older sequence is ignored; a meta sync names
	 * its own version, which it did make durable). */
	g_array_set_size(r->batches, 0);
	g_array_set_size(r->dirty_segs, 0);
	r->dirty_last = r->durable_index;
	drop_outbox(r);
	if (r->compacting || r->installing) {
		r->snap_slot ^= 1u; /* the slot tried holds no good snapshot */
		r->compacting = false;
		r->installing = false;
		g_free(r->install_data);
		r->install_data = NULL;
	}
	(void)au_timer_set(r->env, 0, TIMER_FAIL_PENDING, 0);
	(void)au_timer_set(r->env, r->cfg->election_hi_ns, TIMER_DISK_REPAIR, 0);
}

/* Write again everything no successful sync vouched for — term and vote,
 * the log past durable_index — and sync it; storage_repaired() puts the
 * node back in service once all of it is durable. */
static void repair_storage(struct au_raft *r)
{
	r->disk_repairing = true;
	r->disk_repairs++;
	if (!persist_meta(r))
		return;
	uint64_t from = (r->durable_index > r->snap_index ? r->durable_index : r->snap_index) + 1;
	if (from <= last_index(r) && !write_entries(r, from, last_index(r)))
		return;
	r->repair_meta = r->meta_version;
	r->repair_index = last_index(r);
}

static void storage_repaired(struct au_raft *r)
{
	if (!r->disk_repairing || r->repair_meta == 0 || r->meta_synced < r->repair_meta ||
	    r->durable_index < r->repair_index)
		return;
	r->disk_failed = false;
	r->disk_repairing = false;
	r->repair_meta = r->repair_index = 0;
	trace(r, AU_TR_RAFT_DISK_OK, (int64_t)r->durable_index, (int64_t)r->meta_synced,
	      (int64_t)r->disk_repairs);
	reset_election_timer(r);
}

static void raft_persisted(void *state, uint64_t token, int status)
{
	struct au_raft *r = state;
	uint64_t kind = token >> 56, seq = token & ((UINT64_C(1) << 56) - 1);
	if (r->unrecovered)
		return;
#ifdef AU_BUG_IGNORE_STORAGE_ERROR
	status = 0; /* planted bug: a failed sync is taken for a good one */
#endif
	if (status < 0) {
		storage_failed(r, AU_STORAGE_SYNC, status);
		return;
	}
	if (kind == TOKEN_SNAP && seq != r->snap_seq)
		return; /* a snapshot write given up at a failure */
	if (kind == TOKEN_META) {
		if (seq > r->meta_synced)
			r->meta_synced = seq;
		tally(r); /* a candidate's own vote may just have become durable */
	} else if (kind == TOKEN_LOG) {
		log_persisted(r, seq);
		if (r->role == AU_RAFT_LEADER)
			advance_commit(r);
	} else if (kind == TOKEN_SNAP) {
		snapshot_persisted(r);
	}
	storage_repaired(r);
	flush_outbox(r);
	if (r->role == AU_RAFT_LEADER)
		check_reads(r);
}

/* ---- the API other models use ------------------------------------------------ */

void au_raft_register_machine(struct au_raft *r, uint8_t id, const struct au_raft_machine *m)
{
	assert(id > 0 && id < AU_RAFT_MAX_MACHINES);
	/* Two machines on one id would silently share (and lose) a state. */
	assert(r->machines[id].apply == NULL);
	r->machines[id] = *m;
	if (r->pending_restore[id]) {
		m->restore(m->sm, r->pending_restore[id], r->pending_restore_len[id]);
		g_free(r->pending_restore[id]);
		r->pending_restore[id] = NULL;
	}
}

int au_raft_submit(struct au_raft *r, uint8_t machine, uint64_t client, uint64_t seq,
		   const void *cmd, size_t len, au_raft_done_fn done, void *ctx)
{
	if (r->role != AU_RAFT_LEADER || r->transferee || r->disk_failed)
		return -AU_EINVAL;
	if (machine == 0 || machine >= AU_RAFT_MAX_MACHINES || len > APPEND_BYTES_MAX / 2)
		return -AU_EINVAL;
	uint8_t *buf = g_malloc(len + 17);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, len + 17);
	au_put_u8(&w, machine);
	au_put_u64(&w, client);
	au_put_u64(&w, seq);
	au_put_bytes(&w, cmd, len);
	uint64_t index = append_entry(r, r->term, ENTRY_CMD, buf, (uint32_t)w.len);
	g_free(buf);
	/* Registered before the write: if the write fails, the step-down it
	 * causes fails the proposal (later, never inside this call) — as
	 * unknown, since the entry stays in the log and may yet commit. */
	struct proposal p = {index, r->term, done, ctx};
	g_array_append_val(r->proposals, p);
	if (!write_entries(r, index, index))
		return 0;
	/* Pipelining: ship it now rather than at the next heartbeat. */
	broadcast_append(r, false);
	flush_outbox(r);
	return 0;
}

int au_raft_read_index(struct au_raft *r, au_raft_done_fn done, void *ctx)
{
	if (r->role != AU_RAFT_LEADER || r->disk_failed)
		return -AU_EINVAL;
	/* A heartbeat round sent from now on confirms we still lead. */
	struct read_req q = {r->commit, r->hb_seq + 1, done, ctx, false};
	g_array_append_val(r->reads, q);
	if (quorum_acked_seq(r) >= r->read_round)
		start_read_round(r);
	else
		r->read_round_wanted = true;
	check_reads(r);
	return 0;
}

int au_raft_transfer(struct au_raft *r, au_node_id to)
{
	if (r->role != AU_RAFT_LEADER || !is_voter(r, to) || to == r->env->self)
		return -AU_EINVAL;
	r->transferee = to;
	r->transfer_deadline_ns = au_now(r->env) + r->cfg->election_hi_ns;
	trace(r, AU_TR_RAFT_TRANSFER, (int64_t)r->term, to, 1);
	send_append(r, to, false);
	maybe_send_timeout_now(r);
	flush_outbox(r);
	return 0;
}

int au_raft_change_member(struct au_raft *r, au_node_id node, bool add)
{
	if (r->role != AU_RAFT_LEADER || node < 1 || node > AU_RAFT_MAX_NODES ||
	    node > r->env->nodes)
		return -AU_EINVAL;
	/* One change at a time: the previous one must be committed. */
	if (r->config_index > r->commit)
		return -AU_EINVAL;
#ifndef AU_BUG_MEMBERSHIP_EARLY
	/* Ongaro's 2015 fix: not before an entry of this term is committed. */
	if (r->commit < r->term_start)
		return -AU_EINVAL;
#endif
	uint64_t mask = add ? r->voters | (UINT64_C(1) << node) : r->voters & ~(UINT64_C(1) << node);
	if (mask == r->voters || mask == 0)
		return -AU_EINVAL;
	uint8_t buf[8];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u64(&w, mask);
	uint64_t index = append_entry(r, r->term, ENTRY_CONFIG, buf, 8);
	if (!write_entries(r, index, index))
		return 0; /* in the log; may commit under a later leader */
	if (add) {
		struct peer *p = &r->peers[node];
		memset(p, 0, sizeof(*p));
		p->next = last_index(r);
		p->last_ack_ns = au_now(r->env);
		p->snap_offset = UINT64_MAX;
	}
	broadcast_append(r, false);
	flush_outbox(r);
	return 0;
}

bool au_raft_is_leader(const struct au_raft *r) { return r->role == AU_RAFT_LEADER; }
/* A server outside its latest configuration gets no appends: whatever
 * leader it last heard of is stale, so it knows none. */
au_node_id au_raft_leader_hint(const struct au_raft *r)
{
	return is_voter(r, r->env->self) ? r->leader : 0;
}
uint64_t au_raft_term(const struct au_raft *r) { return r->term; }
uint64_t au_raft_commit_index(const struct au_raft *r) { return r->commit; }
uint64_t au_raft_applied_index(const struct au_raft *r) { return r->applied; }

uint64_t au_raft_state_digest(const struct au_raft *r, uint64_t slots[AU_RAFT_MAX_MACHINES])
{
	slots[0] = r->sessions_digest;
	uint64_t d = au_digest_add(UINT64_C(0x5157), r->sessions_digest);
	for (uint8_t id = 1; id < AU_RAFT_MAX_MACHINES; id++) {
		const struct au_raft_machine *m = &r->machines[id];
		slots[id] = m->digest ? m->digest(m->sm) : 0;
		d = au_digest_add(d, slots[id]);
	}
	return d;
}

uint64_t au_raft_fingerprints(const uint64_t slots[AU_RAFT_MAX_MACHINES])
{
	uint64_t fp = 0;
	for (unsigned i = 0; i < AU_RAFT_MAX_MACHINES; i++)
		fp |= (slots[i] & 0xffu) << (8 * i);
	return fp;
}

const char *au_raft_slot_name(const struct au_raft *r, uint8_t id)
{
	if (id == 0)
		return "sessions";
	if (id >= AU_RAFT_MAX_MACHINES || !r->machines[id].apply)
		return NULL;
	return r->machines[id].name ? r->machines[id].name : "unnamed";
}

static gint cmp_session_ptr(gconstpointer a, gconstpointer b)
{
	const struct session *x = *(const struct session *const *)a;
	const struct session *y = *(const struct session *const *)b;
	return x->client < y->client ? -1 : x->client > y->client;
}

char *au_raft_describe(const struct au_raft *r, uint8_t id)
{
	if (id >= AU_RAFT_MAX_MACHINES)
		return NULL;
	if (id > 0) {
		const struct au_raft_machine *m = &r->machines[id];
		return m->describe ? m->describe(m->sm) : NULL;
	}
	GPtrArray *all = g_ptr_array_new();
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, r->sessions);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(all, v);
	g_ptr_array_sort(all, cmp_session_ptr); /* client order, never the table's */
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < all->len; i++) {
		const struct session *s = g_ptr_array_index(all, i);
		g_string_append_printf(out, "session %llu: seq=%llu result=", (unsigned long long)s->client,
				       (unsigned long long)s->seq);
		for (unsigned k = 0; k < s->result_len; k++)
			g_string_append_printf(out, "%02x", s->result[k]);
		g_string_append_c(out, '\n');
	}
	g_ptr_array_free(all, TRUE);
	return g_string_free(out, FALSE);
}

/* ---- boot, recovery, teardown ----------------------------------------------- */

/* The whole file, or NULL if it is missing or empty; a failed read also
 * sets r->read_failed (recovery must then not treat the file as absent). */
static uint8_t *read_whole(struct au_raft *r, const char *name, size_t *len)
{
	const struct au_env *e = r->env;
	int64_t size = e->ops->storage_size(e->ctx, name);
	if (size <= 0)
		return NULL;
	uint8_t *buf = g_malloc((gsize)size);
	int64_t got = e->ops->storage_read(e->ctx, name, 0, buf, (size_t)size);
	if (got != size) {
		if (got < 0 && got != -AU_ENOENT)
			r->read_failed = true;
		g_free(buf);
		return NULL;
	}
	*len = (size_t)size;
	return buf;
}

static void load_snapshots(struct au_raft *r)
{
	uint8_t *best = NULL;
	size_t best_len = 0;
	uint64_t best_index = 0;
	for (uint8_t slot = 0; slot < 2; slot++) {
		size_t len = 0;
		uint8_t *buf = read_whole(r, slot ? "snap.1" : "snap.0", &len);
		uint64_t index, term, chain, voters;
		if (buf && snap_header(buf, len, &index, &term, &chain, &voters) && index > best_index) {
			g_free(best);
			best = buf;
			best_len = len;
			best_index = index;
			r->snap_slot = slot;
		} else {
			if (buf)
				trace(r, AU_TR_RAFT_BAD_DISK, 2, slot, 0);
			g_free(buf);
		}
	}
	if (r->read_failed) {
		g_free(best);
		return;
	}
	if (best && load_snapshot_bytes(r, best, best_len, true)) {
		r->snap_bytes = best;
		r->snap_len = best_len;
	} else {
		g_free(best);
	}
}

/* Read the log from the segments after the snapshot: whole, valid,
 * consecutive records only; anything after the first bad one is cut. */
static void load_log(struct au_raft *r)
{
	uint64_t next = r->snap_index + 1;
	for (uint64_t seg = seg_of(next);; seg++) {
		char name[32];
		seg_name(name, sizeof(name), seg);
		size_t len = 0;
		uint8_t *buf = read_whole(r, name, &len);
		if (r->read_failed)
			return;
		size_t off = 0;
		bool clean = true;
		while (buf && off + 4 <= len) {
			uint32_t n = (uint32_t)buf[off] | (uint32_t)buf[off + 1] << 8 |
				     (uint32_t)buf[off + 2] << 16 | (uint32_t)buf[off + 3] << 24;
			struct au_rbuf rb;
			if (n < RECORD_OVERHEAD || n > len - off || !au_rbuf_unseal(&rb, buf + off, n)) {
				clean = false;
				break;
			}
			(void)au_get_u32(&rb);
			uint64_t index = au_get_u64(&rb), prev_chain = au_get_u64(&rb);
			uint64_t term = au_get_u64(&rb);
			uint8_t type = au_get_u8(&rb);
			uint32_t dlen = au_get_u32(&rb);
			if (rb.short_read || dlen != rb.len - rb.pos || seg_of(index) != seg) {
				clean = false;
				break;
			}
			if (index >= next) {
				if (index != next) {
					clean = false;
					break;
				}
				if (prev_chain != chain_at(r, index - 1)) {
					/* A stale suffix: it follows a different history
					 * than ours (an unsynced truncation was lost). */
					trace(r, AU_TR_RAFT_BAD_DISK, 4, (int64_t)off, (int64_t)seg);
					clean = true;
					break;
				}
				append_entry(r, term, type, rb.p + rb.pos, dlen);
				struct entry *en = entry_at(r, index);
				en->file_off = (uint32_t)off;
				en->rec_len = n;
				next++;
			}
			off += n;
		}
		if (buf && off < len) {
			if (!clean)
				trace(r, AU_TR_RAFT_BAD_DISK, 3, (int64_t)off, (int64_t)seg);
			(void)disk_truncate(r, name, off); /* a failure: out of service, repaired later */
		}
		g_free(buf);
		/* Go on only if this segment ended exactly at its last index. */
		if (!buf || next != (seg + 1) * SEG_ENTRIES + 1)
			break;
	}
}

/* The in-memory containers of an empty node: no log, the initial voters. */
static void init_contents(struct au_raft *r)
{
	r->log = g_array_new(FALSE, TRUE, sizeof(struct entry));
	r->batches = g_array_new(FALSE, FALSE, sizeof(struct log_batch));
	r->dirty_segs = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	r->outbox = g_array_new(FALSE, FALSE, sizeof(struct outmsg));
	r->proposals = g_array_new(FALSE, FALSE, sizeof(struct proposal));
	r->reads = g_array_new(FALSE, FALSE, sizeof(struct read_req));
	r->sessions = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	uint32_t k = r->cfg->voters && r->cfg->voters < r->env->nodes ? r->cfg->voters : r->env->nodes;
	if (k > AU_RAFT_MAX_NODES)
		k = AU_RAFT_MAX_NODES;
	for (au_node_id n = 1; n <= k; n++)
		r->snap_voters |= UINT64_C(1) << n;
	r->voters = r->snap_voters;
}

/* Everything init_contents and recovery allocated (not r itself). */
static void free_contents(struct au_raft *r)
{
	for (guint i = 0; i < r->log->len; i++)
		free_entry(&g_array_index(r->log, struct entry, i));
	g_array_free(r->log, TRUE);
	g_array_free(r->batches, TRUE);
	g_array_free(r->dirty_segs, TRUE);
	for (guint i = 0; i < r->outbox->len; i++)
		g_free(g_array_index(r->outbox, struct outmsg, i).bytes);
	g_array_free(r->outbox, TRUE);
	/* Crash: callbacks are not called (their owners die with this node). */
	g_array_free(r->proposals, TRUE);
	g_array_free(r->reads, TRUE);
	g_hash_table_destroy(r->sessions);
	for (unsigned i = 0; i < AU_RAFT_MAX_MACHINES; i++)
		g_free(r->pending_restore[i]);
	clear_stash(r);
	g_free(r->rx_snap);
	g_free(r->install_data);
	g_free(r->snap_bytes);
}

/* Rebuild the node from durable storage only.  False if a read failed:
 * then the term, vote or log it promised before are unknown, and acting on
 * what it did read could vote twice in a term or drop acknowledged entries
 * (a read error is not an empty disk). */
static bool recover(struct au_raft *r)
{
	r->read_failed = false;
	load_meta(r);
	if (!r->read_failed)
		load_snapshots(r);
	if (!r->read_failed)
		load_log(r);
	if (r->read_failed)
		return false;
	recompute_config(r);
	r->durable_index = last_index(r);
	r->commit = r->applied = r->snap_index;
	trace(r, AU_TR_RAFT_RECOVER, (int64_t)last_index(r), (int64_t)r->snap_index,
	      (int64_t)chain_at(r, last_index(r)));
	r->role = AU_RAFT_FOLLOWER;
	trace(r, AU_TR_RAFT_ROLE, (int64_t)r->term, AU_RAFT_FOLLOWER, 0);
	reset_election_timer(r);
	return true;
}

/* Recover, or stay out of the cluster (no votes, no replies, no
 * elections) and try again a maximum election timeout later, from a clean
 * slate: a disk that cannot be read now may be readable then. */
static void recover_or_wait(struct au_raft *r)
{
	r->recover_attempts++;
	if (recover(r)) {
		r->unrecovered = false;
		return;
	}
	trace(r, AU_TR_RAFT_BAD_DISK, 5, (int64_t)r->recover_attempts, 0);
	const struct au_env *env = r->env;
	const struct au_raft_config *cfg = r->cfg;
	uint64_t attempts = r->recover_attempts;
	struct au_raft_machine machines[AU_RAFT_MAX_MACHINES];
	memcpy(machines, r->machines, sizeof(machines));
	free_contents(r);
	memset(r, 0, sizeof(*r));
	r->env = env;
	r->cfg = cfg;
	r->recover_attempts = attempts;
	memcpy(r->machines, machines, sizeof(machines));
	init_contents(r);
	r->unrecovered = true;
	au_timer_set(env, cfg->election_hi_ns, TIMER_RECOVER, 0);
}

static void *raft_init(const struct au_env *env, const void *config)
{
	struct au_raft *r = g_new0(struct au_raft, 1);
	r->env = env;
	r->cfg = config;
	init_contents(r);
	recover_or_wait(r);
	return r;
}

static void raft_destroy(void *state)
{
	struct au_raft *r = state;
	free_contents(r);
	g_free(r);
}

static void raft_summary(void *state, char *buf, size_t len)
{
	struct au_raft *r = state;
	static const char *const roles[] = {"follower", "precandidate", "candidate", "leader"};
	char disk[64] = "";
	if (r->disk_failures)
		snprintf(disk, sizeof(disk), " disk_failures=%llu repairs=%llu",
			 (unsigned long long)r->disk_failures, (unsigned long long)r->disk_repairs);
	snprintf(buf, len,
		 "%s term=%llu commit=%llu applied=%llu last=%llu snapshot=%llu elections=%llu bad=%llu"
		 " held=%llu gaps=%llu%s",
		 r->unrecovered ? "unrecovered(unreadable disk)"
		 : r->disk_failed ? "out-of-service(storage failed)" : roles[r->role], (unsigned long long)r->term, (unsigned long long)r->commit,
		 (unsigned long long)r->applied, (unsigned long long)last_index(r),
		 (unsigned long long)r->snap_index, (unsigned long long)r->elections,
		 (unsigned long long)r->bad_msgs, (unsigned long long)r->held_appends,
		 (unsigned long long)r->gap_rejects, disk);
}

static int raft_admin(void *state, const char *action, au_node_id target)
{
	struct au_raft *r = state;
	if (strcmp(action, "transfer_leader") == 0)
		return au_raft_transfer(r, target);
	if (strcmp(action, "add_voter") == 0)
		return au_raft_change_member(r, target, true);
	if (strcmp(action, "remove_voter") == 0)
		return au_raft_change_member(r, target, false);
	return -AU_EINVAL;
}

static const struct au_config_key raft_keys[] = {
	{"election_timeout", AU_CFG_DURATION_RANGE, offsetof(struct au_raft_config, election_lo_ns),
	 "150ms..300ms", AU_NS_PER_MS, UINT64_C(600) * AU_NS_PER_S, "randomized election timeout", NULL},
	{"heartbeat", AU_CFG_DURATION, offsetof(struct au_raft_config, heartbeat_ns), "50ms",
	 AU_NS_PER_US, UINT64_C(60) * AU_NS_PER_S, "leader heartbeat interval", NULL},
	{"prevote", AU_CFG_BOOL, offsetof(struct au_raft_config, prevote), "true", 0, 1,
	 "pre-vote before real elections", NULL},
	{"check_quorum", AU_CFG_BOOL, offsetof(struct au_raft_config, check_quorum), "true", 0, 1,
	 "a leader that cannot reach a majority steps down", NULL},
	{"max_batch", AU_CFG_UINT, offsetof(struct au_raft_config, max_batch), "64", 1, 4096,
	 "entries per AppendEntries", NULL},
	{"max_inflight", AU_CFG_UINT, offsetof(struct au_raft_config, max_inflight), "8", 1, 256,
	 "pipelined AppendEntries per follower", NULL},
	{"snapshot_every", AU_CFG_UINT, offsetof(struct au_raft_config, snapshot_every), "1000", 0,
	 100000000, "compact the log after this many applied entries (0: never)", NULL},
	{"voters", AU_CFG_UINT, offsetof(struct au_raft_config, voters), "0", 0, AU_RAFT_MAX_NODES,
	 "initial voters n1..nK (0: every node)", NULL},
	{"digest_every", AU_CFG_UINT, offsetof(struct au_raft_config, digest_every), "64", 1,
	 1048576, "trace a digest of every replica's state machines each time its applied index "
	 "is a multiple of this (the replicas_agree check compares them)", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const char *const raft_message_names[] = {NULL, "VOTE", "VOTE_RESP", "APPEND",
						  "APPEND_RESP", "SNAP", "SNAP_RESP", "TIMEOUT_NOW"};

const struct au_model au_raft_model = {
	.name = "raft",
	.config_group = "raft",
	.config_keys = raft_keys,
	.config_size = sizeof(struct au_raft_config),
	.init = raft_init,
	.recv = raft_recv,
	.timer = raft_timer,
	.persisted = raft_persisted,
	.destroy = raft_destroy,
	.summary = raft_summary,
	.message_names = raft_message_names,
	.n_message_names = 8,
	.admin = raft_admin,
};
