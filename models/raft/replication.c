/* replication.c — the leader's side of replication: AppendEntries and
 * InstallSnapshot chunks to each follower, the commit rule, heartbeats,
 * CheckQuorum, ReadIndex reads, and the hand-off of a leadership transfer.
 */
#include "raft_internal.h"

#include <assert.h>

#include <glib.h>

#include "quorum.h"
#include "wire.h"

void au_raft__broadcast_append(struct au_raft *r, bool heartbeat)
{
	for (au_node_id n = 1; n <= AU_RAFT_MAX_NODES; n++)
		if (raft_is_voter(r, n) && n != r->env->self)
			au_raft__send_append(r, n, heartbeat);
}

void au_raft__send_snapshot_chunk(struct au_raft *r, au_node_id to)
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
	/* A follower that does not answer gets the same chunk on every
	 * heartbeat, and each lagging follower the same chunks: build and seal
	 * a chunk once (snap_bytes does not change under it, see
	 * au_raft__set_snap_bytes). */
	if (!r->chunk_msg || r->chunk_term != r->term || r->chunk_off != p->snap_offset) {
		if (!r->chunk_msg)
			r->chunk_msg = g_malloc(SNAP_CHUNK + 64);
		struct au_wbuf w;
		au_wbuf_init(&w, r->chunk_msg, SNAP_CHUNK + 64);
		au_put_u8(&w, MSG_SNAP);
		au_put_u64(&w, r->term);
		au_put_u64(&w, p->snap_offset);
		au_put_u64(&w, r->snap_len);
		au_put_u32(&w, (uint32_t)n);
		au_put_bytes(&w, r->snap_bytes + p->snap_offset, n);
		au_wbuf_seal(&w);
		assert(!w.overflow);
		r->chunk_msg_len = w.len;
		r->chunk_term = r->term;
		r->chunk_off = p->snap_offset;
	}
	p->snap_expect = p->snap_offset + n;
	au_raft__send_durable_sealed(r, to, r->chunk_msg, r->chunk_msg_len, 0);
}

static bool full_append_builds; /* tests: never resend (au_raft_test_full_append_builds) */

void au_raft_test_full_append_builds(bool on)
{
	full_append_builds = on;
}

/* Build and seal in sendbuf the append after `prev` (a heartbeat: no
 * entries) and remember what it was built from; returns its entry count. */
static uint32_t build_append(struct au_raft *r, uint64_t prev, bool heartbeat)
{
	uint8_t *buf = r->sendbuf; /* reused: appends are built one at a time */
	struct au_wbuf w;
	au_wbuf_init(&w, buf, APPEND_BYTES_MAX + 128);
	au_put_u8(&w, MSG_APPEND);
	au_put_u64(&w, r->term);
	au_put_u64(&w, prev);
	au_put_u64(&w, raft_term_at(r, prev));
	au_put_u64(&w, r->commit);
	au_put_u64(&w, r->hb_seq);
	size_t count_at = w.len;
	au_put_u32(&w, 0);
	uint32_t count = 0;
	uint64_t i = prev + 1;
	if (!heartbeat) {
		for (; i <= raft_last_index(r) && count < r->cfg->max_batch; i++, count++) {
			struct entry *e = raft_entry_at(r, i);
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
	au_wbuf_seal(&w);
	assert(!w.overflow);
	r->sent_valid = true;
	r->sent_heartbeat = heartbeat;
	r->sent_term = r->term;
	r->sent_prev = prev;
	r->sent_commit = r->commit;
	r->sent_hb_seq = r->hb_seq;
	r->sent_last = raft_last_index(r);
	r->sent_gen = r->log_gen;
	r->sent_count = count;
	r->sent_len = w.len;
	return count;
}

/* Whether sendbuf holds, sealed, the append build_append would build now. */
static bool sent_again(const struct au_raft *r, uint64_t prev, bool heartbeat)
{
	return r->sent_valid && !full_append_builds && r->sent_prev == prev &&
	       r->sent_heartbeat == heartbeat && r->sent_term == r->term &&
	       r->sent_commit == r->commit && r->sent_hb_seq == r->hb_seq &&
	       r->sent_last == raft_last_index(r) && r->sent_gen == r->log_gen;
}

void au_raft__send_append(struct au_raft *r, au_node_id to, bool heartbeat)
{
	struct peer *p = &r->peers[to];
	if (p->next <= r->snap_index) {
		/* The entries it needs are compacted away. */
		if (p->snap_offset == UINT64_MAX)
			p->snap_offset = 0;
		au_raft__send_snapshot_chunk(r, to);
		return;
	}
	for (;;) {
		bool have = p->next <= raft_last_index(r);
		uint32_t limit = p->probing ? 1 : r->cfg->max_inflight;
		if (!heartbeat && (!have || p->inflight >= limit))
			return;
		uint64_t prev = heartbeat ? p->match : p->next - 1;
		if (heartbeat && prev < r->snap_index)
			prev = p->next - 1;
		/* A follower at the same point as the last one built for gets
		 * the same bytes: sent again, not built and sealed again. */
		uint32_t count = sent_again(r, prev, heartbeat) ? r->sent_count
								: build_append(r, prev, heartbeat);
		au_raft__send_durable_sealed(r, to, r->sendbuf, r->sent_len, 0);
		if (heartbeat)
			return;
		if (p->probing)
			p->probe_prev = prev;
		p->next = prev + count + 1;
		p->inflight++;
	}
}

void au_raft__advance_commit(struct au_raft *r)
{
	uint64_t matches[AU_RAFT_MAX_NODES];
	uint32_t n = 0;
	au_node_id id;
	RAFT_FOR_EACH_VOTER(r, id)
		matches[n++] = id == r->env->self ? r->durable_index : r->peers[id].match;
	if (n == 0)
		return;
	uint64_t m = au_raft__kth_largest(matches, n, raft_majority(r));
#ifdef AU_BUG_COMMIT_OLD_TERM
	/* Planted bug: commit by counting replicas even for an earlier term. */
	if (m > r->commit)
#else
	/* Only an entry of the current term is committed by counting replicas
	 * (Raft §5.4.2); earlier ones commit with it. */
	if (m > r->commit && raft_term_at(r, m) == r->term)
#endif
		au_raft__set_commit(r, m);
}

/* The highest heartbeat sequence a majority of voters (this leader
 * included) has acknowledged. */
uint64_t au_raft__quorum_acked_seq(const struct au_raft *r)
{
	uint64_t acked[AU_RAFT_MAX_NODES];
	uint32_t n = 0;
	au_node_id id;
	RAFT_FOR_EACH_VOTER(r, id)
		acked[n++] = id == r->env->self ? UINT64_MAX : r->peers[id].acked_seq;
	if (n == 0)
		return 0;
	return au_raft__kth_largest(acked, n, raft_majority(r));
}

/* Send one heartbeat round that pending reads can be confirmed by. */
void au_raft__start_read_round(struct au_raft *r)
{
	r->read_round = ++r->hb_seq;
	r->read_round_wanted = false;
	au_node_id n;
	RAFT_FOR_EACH_VOTER(r, n)
		if (n != r->env->self)
			au_raft__send_append(r, n, true);
	au_raft__flush_outbox(r);
}

static bool full_read_checks; /* tests: never skip (au_raft_test_full_read_checks) */

void au_raft_test_full_read_checks(bool on)
{
	full_read_checks = on;
}

/* ReadIndex: a read is confirmed once a majority acknowledged a heartbeat
 * round sent after it arrived (this node still led then) and this term has
 * committed an entry; it is answered once the machines have applied its
 * read index.  Reads share rounds: at most one round for reads is
 * outstanding, and reads arriving meanwhile wait for the next one.
 * This runs after every apply and append reply; reads_wait_seq and
 * reads_wait_index (raft_internal.h) skip the pass when none can move. */
void au_raft__check_reads(struct au_raft *r)
{
	if (r->role != AU_RAFT_LEADER || r->reads->len == 0)
		return;
	bool term_committed = r->commit >= r->term_start;
	bool none_ready = r->applied < r->reads_wait_index && !full_read_checks;
	if (!r->read_round_wanted && none_ready &&
	    (!term_committed || r->reads_wait_seq == UINT64_MAX))
		return;
	uint64_t acked = au_raft__quorum_acked_seq(r);
	if (r->read_round_wanted && acked >= r->read_round)
		au_raft__start_read_round(r);
	if (none_ready && (!term_committed || acked < r->reads_wait_seq))
		return; /* no read can be confirmed, none answered */
	guint n_ready = 0;
	uint64_t wait_seq = UINT64_MAX, wait_index = UINT64_MAX; /* over the reads kept */
	for (guint i = 0; i < r->reads->len; i++) {
		struct read_req *q = &g_array_index(r->reads, struct read_req, i);
		if (!q->confirmed && term_committed && acked >= q->seq) {
			q->confirmed = true;
			if (q->read_index < r->term_start)
				q->read_index = r->commit; /* fixed once our term committed */
		}
		if (q->confirmed && r->applied >= q->read_index)
			n_ready++;
		else if (q->confirmed)
			wait_index = q->read_index < wait_index ? q->read_index : wait_index;
		else
			wait_seq = q->seq < wait_seq ? q->seq : wait_seq;
	}
	r->reads_wait_seq = wait_seq;
	r->reads_wait_index = wait_index;
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

void au_raft__maybe_send_timeout_now(struct au_raft *r)
{
	if (!r->transferee)
		return;
	if (au_now(r->env) > r->transfer_deadline_ns) {
		r->transferee = 0; /* gave up: accept proposals again */
		return;
	}
	if (r->peers[r->transferee].match == raft_last_index(r)) {
		uint8_t buf[32];
		struct au_wbuf w;
		au_wbuf_init(&w, buf, sizeof(buf));
		au_put_u8(&w, MSG_TIMEOUT_NOW);
		au_put_u64(&w, r->term);
		au_raft__send_durable(r, r->transferee, &w, 0);
	}
}

/* ---- leader timers: heartbeats, CheckQuorum ---------------------------- */

void au_raft__heartbeat(struct au_raft *r)
{
	r->hb_seq++;
	if (r->read_round_wanted) { /* this round serves the waiting reads */
		r->read_round = r->hb_seq;
		r->read_round_wanted = false;
	}
	for (au_node_id n = 1; n <= AU_RAFT_MAX_NODES; n++) {
		if (!raft_is_voter(r, n) || n == r->env->self)
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
			au_raft__send_snapshot_chunk(r, n);
		else {
			au_raft__send_append(r, n, true);
			au_raft__send_append(r, n, false);
		}
	}
	au_raft__maybe_send_timeout_now(r);
	r->heartbeat_timer = au_timer_set(r->env, r->cfg->heartbeat_ns, TIMER_HEARTBEAT, 0);
}

void au_raft__check_quorum(struct au_raft *r)
{
	au_time now = au_now(r->env);
	uint32_t live = raft_is_voter(r, r->env->self) ? 1 : 0;
	au_node_id n;
	RAFT_FOR_EACH_VOTER(r, n)
		if (n != r->env->self && now - r->peers[n].last_ack_ns < r->cfg->election_lo_ns)
			live++;
	if (live < raft_majority(r)) {
		au_raft__step_down(r, r->term, 0); /* cannot reach a majority: stop leading */
		return;
	}
	r->quorum_timer = au_timer_set(r->env, r->cfg->election_lo_ns, TIMER_QUORUM, 0);
}
