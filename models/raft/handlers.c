/* handlers.c — what the environment calls the Raft model with: messages
 * (AppendEntries and InstallSnapshot on the follower side, and their
 * replies on the leader's; votes are in election.c), timers, and completed
 * syncs.
 */
#include "raft_internal.h"

#include <string.h>

#include <glib.h>

#include "trace_kinds.h"
#include "wire.h"

/* ---- message handlers ----------------------------------------------------- */

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
	au_raft__send_durable(r, to, &w, ok ? match : 0);
}

static void heard_leader(struct au_raft *r, uint64_t term, au_node_id from)
{
	if (term > r->term || r->role != AU_RAFT_FOLLOWER || r->leader != from)
		au_raft__step_down(r, term, from);
	r->last_leader_contact_ns = au_now(r->env);
	au_raft__reset_election_timer(r);
}

void au_raft__clear_stash(struct au_raft *r)
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
	if (prev - raft_last_index(r) > window)
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
		if (r->stash[i].prev <= raft_last_index(r) && (pick < 0 || r->stash[i].prev < r->stash[pick].prev))
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
	if (prev > raft_last_index(r)) {
		/* A gap.  An append that merely overtook its predecessor is
		 * held until that one arrives; a heartbeat, or a gap wider than
		 * the leader's pipeline, means we are behind: say where we are. */
		if (count > 0 && stash_append(r, from, term, prev, rb))
			return;
		r->gap_rejects++;
		reply_append(r, from, 0, prev, raft_last_index(r) + 1, 0, seq);
		return;
	}
	if (prev >= r->snap_index && raft_term_at(r, prev) != prev_term) {
		uint64_t ct = raft_term_at(r, prev), ci = prev;
		while (ci - 1 > r->snap_index && raft_term_at(r, ci - 1) == ct)
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
		if (index <= raft_last_index(r)) {
			if (raft_term_at(r, index) == et)
				continue;
			au_raft__truncate_log(r, index);
		}
		au_raft__append_entry(r, et, type, data, len);
		if (!first_new)
			first_new = index;
	}
	if (first_new && !au_raft__write_entries(r, first_new, raft_last_index(r)))
		return; /* out of service: no reply, no commit */
	if (r->disk_failed)
		return; /* a truncation above failed */
	uint64_t match = index;
#ifdef AU_BUG_FOLLOWER_COMMIT_BEYOND
	/* Planted bug: trust the leader's commit index beyond what this
	 * message verified. */
	uint64_t verified = raft_last_index(r);
#else
	uint64_t verified = match;
#endif
	uint64_t c = leader_commit < verified ? leader_commit : verified;
	/* The commit index only moves over entries this message verified
	 * against the leader's log. */
	au_raft__set_commit(r, c);
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
		au_raft__step_down(r, term, 0);
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
		au_raft__advance_commit(r);
		au_raft__maybe_send_timeout_now(r);
	} else {
		/* `match` carries the prev index the follower rejected.  Ignore
		 * rejections of appends we have already moved past: answering
		 * each one with a fresh burst would multiply messages. */
		uint64_t rejected = match;
		/* While probing, only the answer to the probe in flight counts
		 * (au_raft__send_append has already moved next past it: comparing with
		 * next - 1 threw every probe's rejection away, and the leader fell
		 * back to resending from match + 1 at the next heartbeat). */
		if (p->probing ? rejected != p->probe_prev : rejected <= p->match)
			return;
		uint64_t next = ci;
		if (ct) {
			/* Skip the follower's whole conflicting term at once. */
			for (uint64_t i = raft_last_index(r); i > r->snap_index; i--) {
				if (raft_term_at(r, i) == ct) {
					next = i + 1;
					break;
				}
				if (raft_term_at(r, i) < ct)
					break;
			}
		}
		if (next < 1)
			next = 1;
		if (next > raft_last_index(r) + 1)
			next = raft_last_index(r) + 1;
		if (next <= p->match)
			next = p->match + 1;
		p->next = next;
		p->inflight = 0;
		p->probing = true; /* one append at a time until one succeeds */
	}
	au_raft__check_reads(r);
	au_raft__send_append(r, from, false);
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
		au_raft__send_durable(r, from, &w, 0);
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
		if (au_raft__load_snapshot_bytes(r, r->rx_snap, r->rx_len, false) && r->rx_index > r->commit) {
			/* Make it durable first; adopt and acknowledge it in
			 * au_raft__snapshot_persisted(). */
			r->installing = true;
			r->install_from = from;
			r->install_data = g_memdup2(r->rx_snap, r->rx_len);
			r->install_len = r->rx_len;
			au_raft__write_snapshot_file(r, r->rx_snap, r->rx_len);
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
	au_raft__send_durable(r, from, &w, 0);
}

/* Tell the leader a received snapshot is durable and in effect. */
void au_raft__ack_install(struct au_raft *r)
{
	uint8_t buf[48];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, MSG_SNAP_RESP);
	au_put_u64(&w, r->term);
	au_put_u64(&w, r->snap_len);
	au_put_u8(&w, 1);
	au_put_u64(&w, r->snap_index); /* which snapshot: the leader may have taken another since */
	au_raft__send_durable(r, r->install_from, &w, 0);
}

static void on_snap_resp(struct au_raft *r, au_node_id from, struct au_rbuf *rb)
{
	uint64_t term = au_get_u64(rb), upto = au_get_u64(rb);
	bool done = au_get_u8(rb);
	uint64_t installed = au_get_u64(rb); /* with done: the snapshot's index */
	if (rb->short_read || from > AU_RAFT_MAX_NODES)
		return;
	if (term > r->term) {
		au_raft__step_down(r, term, 0);
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
		au_raft__advance_commit(r);
		/* A follower that holds less than our snapshot durably (its
		 * syncs are behind) gets it again, but from the next heartbeat:
		 * answering each "done" at once with a whole new transfer turns
		 * duplicated messages into a storm (regressions/snapshot-dup-storm). */
		if (p->next > r->snap_index)
			au_raft__send_append(r, from, false);
	} else if (upto == p->snap_expect || upto == 0) {
		/* The answer to the newest chunk (or the follower starting
		 * over): send the next.  Answers to older or duplicated chunks
		 * (heartbeats resend one) are not answered, so one transfer
		 * never turns into several ping-pong chains. */
		p->snap_offset = upto;
		au_raft__send_snapshot_chunk(r, from);
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

void au_raft__recv(void *state, au_node_id from, const void *msg, size_t len)
{
	struct au_raft *r = state;
	struct au_rbuf rb;
	if (r->unrecovered || r->disk_failed)
		return; /* it cannot know, or cannot keep, what it promises: silence, as if down */
	if (from < 1 || from > AU_RAFT_MAX_NODES || !au_rbuf_unseal(&rb, msg, len)) {
		r->bad_msgs++;
		raft_trace(r, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 0);
		return;
	}
	uint8_t type = au_get_u8(&rb);
	switch (type) {
	case MSG_VOTE: au_raft__on_vote(r, from, &rb); break;
	case MSG_VOTE_RESP: au_raft__on_vote_resp(r, from, &rb); break;
	case MSG_APPEND: on_append(r, from, &rb); break;
	case MSG_APPEND_RESP: on_append_resp(r, from, &rb); break;
	case MSG_SNAP: on_snap(r, from, &rb); break;
	case MSG_SNAP_RESP: on_snap_resp(r, from, &rb); break;
	case MSG_TIMEOUT_NOW: au_raft__on_timeout_now(r, from, &rb); break;
	default:
		r->bad_msgs++;
		raft_trace(r, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 1);
		return;
	}
	au_raft__flush_outbox(r);
}

/* ---- timers and durability callbacks ----------------------------------------- */

void au_raft__timer(void *state, uint32_t kind, uint64_t arg)
{
	struct au_raft *r = state;
	(void)arg;
	if (r->unrecovered) {
		if (kind == TIMER_RECOVER)
			au_raft__recover_or_wait(r);
		return;
	}
	if (kind == TIMER_FAIL_PENDING) {
		/* Deferred from au_raft__storage_failed, which may run inside a call
		 * from another model (submit): the entries may still commit
		 * under another leader, so this is "unknown" to clients. */
		au_raft__fail_proposals_from(r, 0);
		au_raft__fail_reads(r);
		return;
	}
	if (kind == TIMER_DISK_REPAIR) {
		if (r->disk_failed && !r->disk_repairing)
			au_raft__repair_storage(r);
		return;
	}
	if (r->disk_failed)
		return; /* out of service: no elections, no leading */
	switch (kind) {
	case TIMER_ELECTION:
		if (r->role != AU_RAFT_LEADER)
			au_raft__start_election(r, false);
		break;
	case TIMER_HEARTBEAT:
		if (r->role == AU_RAFT_LEADER)
			au_raft__heartbeat(r);
		break;
	case TIMER_QUORUM:
		if (r->role == AU_RAFT_LEADER)
			au_raft__check_quorum(r);
		break;
	}
	au_raft__flush_outbox(r);
}

void au_raft__persisted(void *state, uint64_t token, int status)
{
	struct au_raft *r = state;
	uint64_t kind = token >> 56, seq = token & ((UINT64_C(1) << 56) - 1);
	if (r->unrecovered)
		return;
#ifdef AU_BUG_IGNORE_STORAGE_ERROR
	status = 0; /* planted bug: a failed sync is taken for a good one */
#endif
	if (status < 0) {
		au_raft__storage_failed(r, AU_STORAGE_SYNC, status);
		return;
	}
	if (kind == TOKEN_SNAP && seq != r->snap_seq)
		return; /* a snapshot write given up at a failure */
	if (kind == TOKEN_META) {
		if (seq > r->meta_synced)
			r->meta_synced = seq;
		au_raft__tally(r); /* a candidate's own vote may just have become durable */
	} else if (kind == TOKEN_LOG) {
		au_raft__log_persisted(r, seq);
		if (r->role == AU_RAFT_LEADER)
			au_raft__advance_commit(r);
	} else if (kind == TOKEN_SNAP) {
		au_raft__snapshot_persisted(r);
	}
	au_raft__storage_repaired(r);
	au_raft__flush_outbox(r);
	if (r->role == AU_RAFT_LEADER)
		au_raft__check_reads(r);
}
