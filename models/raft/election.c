/* election.c — roles and elections: stepping down, the election timer,
 * PreVote and RequestVote on both sides, becoming leader, and the
 * TimeoutNow that leadership transfer ends with.
 */
#include "raft_internal.h"

#include <string.h>

#include <glib.h>

#include "trace_kinds.h"
#include "wire.h"

static au_time random_election_timeout(struct au_raft *r)
{
	return au_random_between(r->env, r->cfg->election_lo_ns, r->cfg->election_hi_ns);
}

/* ---- roles and timers ------------------------------------------------------ */

void au_raft__reset_election_timer(struct au_raft *r)
{
	au_timer_cancel(r->env, r->election_timer);
	r->election_timer = au_timer_set(r->env, random_election_timeout(r), TIMER_ELECTION, 0);
}

void au_raft__fail_reads(struct au_raft *r)
{
	GArray *reads = r->reads;
	r->reads = g_array_new(FALSE, FALSE, sizeof(struct read_req));
	for (guint i = 0; i < reads->len; i++) {
		struct read_req *q = &g_array_index(reads, struct read_req, i);
		q->done(q->ctx, false, 0, NULL, 0);
	}
	g_array_free(reads, TRUE);
}

void au_raft__set_role(struct au_raft *r, enum au_raft_role role, au_node_id leader)
{
	bool changed = r->role != role || r->leader != leader;
	r->role = role;
	r->leader = leader;
	if (changed)
		raft_trace(r, AU_TR_RAFT_ROLE, (int64_t)r->term, role, leader);
}

void au_raft__step_down(struct au_raft *r, uint64_t term, au_node_id leader)
{
	bool was_leader = r->role == AU_RAFT_LEADER;
	if (term > r->term || leader != r->leader)
		au_raft__clear_stash(r); /* held appends belong to another leader */
	if (term > r->term) {
		r->term = term;
		r->vote = 0;
		au_raft__persist_meta(r);
	}
#ifdef AU_BUG_VOTEDFOR_CLEARED
	/* Planted bug: forget the vote when stepping down within a term. */
	else if (r->vote) {
		r->vote = 0;
		au_raft__persist_meta(r);
	}
#endif
	au_raft__set_role(r, AU_RAFT_FOLLOWER, leader);
	r->transferee = 0;
	if (was_leader) {
		au_timer_cancel(r->env, r->heartbeat_timer);
		au_timer_cancel(r->env, r->quorum_timer);
		/* Proposals of this term may still commit under the next leader:
		 * their clients must treat them as unknown. */
		au_raft__fail_proposals_from(r, 0);
		au_raft__fail_reads(r);
	}
	au_raft__reset_election_timer(r);
}

static void send_vote_requests(struct au_raft *r, bool prevote, bool transfer)
{
	for (au_node_id n = 1; n <= AU_RAFT_MAX_NODES; n++) {
		if (!raft_is_voter(r, n) || n == r->env->self)
			continue;
		uint8_t buf[64];
		struct au_wbuf w;
		au_wbuf_init(&w, buf, sizeof(buf));
		au_put_u8(&w, MSG_VOTE);
		au_put_u64(&w, prevote ? r->term + 1 : r->term);
		au_put_u64(&w, raft_last_index(r));
		au_put_u64(&w, raft_last_term(r));
		au_put_u8(&w, (uint8_t)(prevote | transfer << 1));
		au_raft__send_durable(r, n, &w, 0);
	}
}

static void become_leader(struct au_raft *r);

/* Count our own vote, which must be durable first; it is, because the
 * grant loop is only entered from persisted() or when already synced. */
void au_raft__tally(struct au_raft *r)
{
	if (raft_bits(r->votes & r->voters) < raft_majority(r))
		return;
	if (r->role == AU_RAFT_PRECANDIDATE) {
		/* The pre-vote won: now a real election. */
		r->term++;
		r->vote = r->env->self;
		r->votes = UINT64_C(1) << r->env->self;
		if (!au_raft__persist_meta(r))
			return; /* out of service: no campaign on a vote it cannot keep */
		au_raft__set_role(r, AU_RAFT_CANDIDATE, 0);
		r->elections++;
		send_vote_requests(r, false, false);
		au_raft__reset_election_timer(r);
		au_raft__tally(r);
	} else if (r->role == AU_RAFT_CANDIDATE && r->meta_synced >= r->meta_version) {
		become_leader(r);
	}
}

void au_raft__start_election(struct au_raft *r, bool transfer)
{
	/* A server outside its latest configuration still stands while that
	 * configuration is uncommitted (dissertation 4.2.2): it may be the one
	 * that must commit it — e.g. when the leader that proposed removing
	 * it crashed before its own copy was durable and now needs its vote.
	 * Its own vote is not counted (au_raft__tally counts voters only). */
	if (!raft_is_voter(r, r->env->self) && r->config_index <= r->commit)
		return;
	r->votes = UINT64_C(1) << r->env->self;
	if (r->cfg->prevote && !transfer) {
		au_raft__set_role(r, AU_RAFT_PRECANDIDATE, 0);
		send_vote_requests(r, true, false);
	} else {
		r->term++;
		r->vote = r->env->self;
		if (!au_raft__persist_meta(r))
			return;
		au_raft__set_role(r, AU_RAFT_CANDIDATE, 0);
		r->elections++;
		send_vote_requests(r, false, transfer);
	}
	au_raft__reset_election_timer(r);
	au_raft__tally(r);
}

static void become_leader(struct au_raft *r)
{
	au_raft__set_role(r, AU_RAFT_LEADER, r->env->self);
	au_timer_cancel(r->env, r->election_timer);
	au_time now = au_now(r->env);
	for (au_node_id n = 1; n <= AU_RAFT_MAX_NODES; n++) {
		struct peer *p = &r->peers[n];
		memset(p, 0, sizeof(*p));
		p->next = raft_last_index(r) + 1;
		p->last_ack_ns = now;
		p->snap_offset = UINT64_MAX;
	}
	/* A no-op of the new term: the commit rule needs an entry of this term,
	 * and ReadIndex needs it committed. */
	r->term_start = au_raft__append_entry(r, r->term, ENTRY_NOOP, NULL, 0);
	if (!au_raft__write_entries(r, r->term_start, r->term_start))
		return; /* out of service already: it stepped down */
	au_raft__broadcast_append(r, false);
	r->heartbeat_timer = au_timer_set(r->env, r->cfg->heartbeat_ns, TIMER_HEARTBEAT, 0);
	if (r->cfg->check_quorum)
		r->quorum_timer = au_timer_set(r->env, r->cfg->election_lo_ns, TIMER_QUORUM, 0);
}

/* ---- votes ------------------------------------------------------------- */

static bool log_up_to_date(const struct au_raft *r, uint64_t idx, uint64_t term)
{
	uint64_t lt = raft_last_term(r);
	return term > lt || (term == lt && idx >= raft_last_index(r));
}

/* A leader we heard from within the minimum election timeout makes us
 * ignore disruptive vote requests (dissertation §4.2.3). */
static bool leader_recent(const struct au_raft *r)
{
	if (r->role == AU_RAFT_LEADER)
		return true;
	return r->leader && au_now(r->env) - r->last_leader_contact_ns < r->cfg->election_lo_ns;
}

void au_raft__on_vote(struct au_raft *r, au_node_id from, struct au_rbuf *rb)
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
				au_raft__step_down(r, term, 0);
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
					au_raft__persist_meta(r);
#endif
				}
				au_raft__reset_election_timer(r);
			}
		}
	}
	raft_trace(r, AU_TR_RAFT_VOTE, (int64_t)term, from, (int64_t)(granted | prevote << 1));
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
		au_raft__send_durable(r, from, &w, 0);
	}
}

void au_raft__on_vote_resp(struct au_raft *r, au_node_id from, struct au_rbuf *rb)
{
	uint64_t term = au_get_u64(rb);
	uint8_t flags = au_get_u8(rb);
	bool granted = flags & 1, prevote = flags & 2;
	if (rb->short_read)
		return;
	if (!prevote && term > r->term) {
		au_raft__step_down(r, term, 0);
		return;
	}
	if (prevote && !granted && term > r->term) {
		au_raft__step_down(r, term, 0); /* refused by a node in a higher term: adopt it */
		return;
	}
	if (prevote && r->role == AU_RAFT_PRECANDIDATE && term == r->term + 1 && granted) {
		r->votes |= UINT64_C(1) << from;
		au_raft__tally(r);
	} else if (!prevote && r->role == AU_RAFT_CANDIDATE && term == r->term && granted) {
		r->votes |= UINT64_C(1) << from;
		au_raft__tally(r);
	}
}

void au_raft__on_timeout_now(struct au_raft *r, au_node_id from, struct au_rbuf *rb)
{
	uint64_t term = au_get_u64(rb);
	if (rb->short_read || term != r->term || from != r->leader)
		return;
	raft_trace(r, AU_TR_RAFT_TRANSFER, (int64_t)term, r->env->self, 0);
	au_raft__start_election(r, true);
}
