/* raft.c — the part of the Raft model not yet split into the other files
 * of models/raft/ (see raft_internal.h).
 */
#include "raft_internal.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "digest.h"
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
	/* done without installing: our commit index already covers it */
	au_put_u64(&w, done ? r->rx_index : 0);
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

static void recover_or_wait(struct au_raft *r);

static void raft_recv(void *state, au_node_id from, const void *msg, size_t len)
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
	uint64_t index = au_raft__append_entry(r, r->term, ENTRY_CMD, buf, (uint32_t)w.len);
	g_free(buf);
	/* Registered before the write: if the write fails, the step-down it
	 * causes fails the proposal (later, never inside this call) — as
	 * unknown, since the entry stays in the log and may yet commit. */
	struct proposal p = {index, r->term, done, ctx};
	g_array_append_val(r->proposals, p);
	if (!au_raft__write_entries(r, index, index))
		return 0;
	/* Pipelining: ship it now rather than at the next heartbeat. */
	au_raft__broadcast_append(r, false);
	au_raft__flush_outbox(r);
	return 0;
}

int au_raft_read_index(struct au_raft *r, au_raft_done_fn done, void *ctx)
{
	if (r->role != AU_RAFT_LEADER || r->disk_failed)
		return -AU_EINVAL;
	/* A heartbeat round sent from now on confirms we still lead. */
	struct read_req q = {r->commit, r->hb_seq + 1, done, ctx, false};
	g_array_append_val(r->reads, q);
	if (au_raft__quorum_acked_seq(r) >= r->read_round)
		au_raft__start_read_round(r);
	else
		r->read_round_wanted = true;
	au_raft__check_reads(r);
	return 0;
}

int au_raft_transfer(struct au_raft *r, au_node_id to)
{
	if (r->role != AU_RAFT_LEADER || !raft_is_voter(r, to) || to == r->env->self)
		return -AU_EINVAL;
	r->transferee = to;
	r->transfer_deadline_ns = au_now(r->env) + r->cfg->election_hi_ns;
	raft_trace(r, AU_TR_RAFT_TRANSFER, (int64_t)r->term, to, 1);
	au_raft__send_append(r, to, false);
	au_raft__maybe_send_timeout_now(r);
	au_raft__flush_outbox(r);
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
	uint64_t index = au_raft__append_entry(r, r->term, ENTRY_CONFIG, buf, 8);
	if (!au_raft__write_entries(r, index, index))
		return 0; /* in the log; may commit under a later leader */
	if (add) {
		struct peer *p = &r->peers[node];
		memset(p, 0, sizeof(*p));
		p->next = raft_last_index(r);
		p->last_ack_ns = au_now(r->env);
		p->snap_offset = UINT64_MAX;
	}
	au_raft__broadcast_append(r, false);
	au_raft__flush_outbox(r);
	return 0;
}

bool au_raft_is_leader(const struct au_raft *r) { return r->role == AU_RAFT_LEADER; }
/* A server outside its latest configuration gets no appends: whatever
 * leader it last heard of is stale, so it knows none. */
au_node_id au_raft_leader_hint(const struct au_raft *r)
{
	return raft_is_voter(r, r->env->self) ? r->leader : 0;
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
		if (buf && au_raft__snap_header(buf, len, &index, &term, &chain, &voters) && index > best_index) {
			g_free(best);
			best = buf;
			best_len = len;
			best_index = index;
			r->snap_slot = slot;
		} else {
			if (buf)
				raft_trace(r, AU_TR_RAFT_BAD_DISK, 2, slot, 0);
			g_free(buf);
		}
	}
	if (r->read_failed) {
		g_free(best);
		return;
	}
	if (best && au_raft__load_snapshot_bytes(r, best, best_len, true)) {
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
	for (uint64_t seg = raft_seg_of(next);; seg++) {
		char name[32];
		au_raft__seg_name(name, sizeof(name), seg);
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
			if (rb.short_read || dlen != rb.len - rb.pos || raft_seg_of(index) != seg) {
				clean = false;
				break;
			}
			if (index >= next) {
				if (index != next) {
					clean = false;
					break;
				}
				if (prev_chain != raft_chain_at(r, index - 1)) {
					/* A stale suffix: it follows a different history
					 * than ours (an unsynced truncation was lost). */
					raft_trace(r, AU_TR_RAFT_BAD_DISK, 4, (int64_t)off, (int64_t)seg);
					clean = true;
					break;
				}
				au_raft__append_entry(r, term, type, rb.p + rb.pos, dlen);
				struct entry *en = raft_entry_at(r, index);
				en->file_off = (uint32_t)off;
				en->rec_len = n;
				next++;
			}
			off += n;
		}
		if (buf && off < len) {
			if (!clean)
				raft_trace(r, AU_TR_RAFT_BAD_DISK, 3, (int64_t)off, (int64_t)seg);
			(void)au_raft__disk_truncate(r, name, off); /* a failure: out of service, repaired later */
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
		au_raft__free_entry(&g_array_index(r->log, struct entry, i));
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
	au_raft__clear_stash(r);
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
	au_raft__load_meta(r);
	if (!r->read_failed)
		load_snapshots(r);
	if (!r->read_failed)
		load_log(r);
	if (r->read_failed)
		return false;
	au_raft__recompute_config(r);
	r->durable_index = raft_last_index(r);
	r->commit = r->applied = r->snap_index;
	raft_trace(r, AU_TR_RAFT_RECOVER, (int64_t)raft_last_index(r), (int64_t)r->snap_index,
		   (int64_t)raft_chain_at(r, raft_last_index(r)));
	r->role = AU_RAFT_FOLLOWER;
	raft_trace(r, AU_TR_RAFT_ROLE, (int64_t)r->term, AU_RAFT_FOLLOWER, 0);
	au_raft__reset_election_timer(r);
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
	raft_trace(r, AU_TR_RAFT_BAD_DISK, 5, (int64_t)r->recover_attempts, 0);
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
		 (unsigned long long)r->applied, (unsigned long long)raft_last_index(r),
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
