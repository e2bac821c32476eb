/* machines.c — applying committed entries: client sessions (exactly-once
 * commands), the state machines registered on the log, the commit index,
 * and the state digest traced for replicas_agree.
 */
#include "raft_internal.h"

#include <assert.h>
#include <string.h>

#include <glib.h>

#include "digest.h"
#include "trace_kinds.h"
#include "wire.h"

/* A session's share of the state digest (what a snapshot keeps of it). */
static uint64_t session_hash(const struct session *s)
{
	uint64_t h = au_digest_add(UINT64_C(0x5e55), s->client);
	h = au_digest_add(h, s->seq);
	return au_digest_bytes(h, s->result, s->result_len);
}

void au_raft__recompute_sessions_digest(struct au_raft *r)
{
	g_ptr_array_set_size(r->stale_sessions, 0);
	GHashTableIter it;
	gpointer v;
	uint64_t sum = 0; /* a sum: the table's order does not matter */
	g_hash_table_iter_init(&it, r->sessions);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct session *s = v;
		s->hash = session_hash(s);
		s->stale = false;
		sum += s->hash;
	}
	r->sessions_digest = sum;
}

/* The sum of session_hash() over every session. */
uint64_t au_raft__sessions_digest(const struct au_raft *r)
{
	uint64_t sum = r->sessions_digest;
	for (guint i = 0; i < r->stale_sessions->len; i++)
		sum += session_hash(g_ptr_array_index(r->stale_sessions, i));
	return sum;
}

/* Hash the stale sessions into sessions_digest. */
static void refresh_sessions_digest(struct au_raft *r)
{
	for (guint i = 0; i < r->stale_sessions->len; i++) {
		struct session *s = g_ptr_array_index(r->stale_sessions, i);
		s->hash = session_hash(s);
		s->stale = false;
		r->sessions_digest += s->hash;
	}
	g_ptr_array_set_size(r->stale_sessions, 0);
}

/* Every digest_every applied entries: the state digest, for replicas_agree. */
void au_raft__trace_digest(struct au_raft *r)
{
	uint64_t every = r->cfg->digest_every;
	if (every == 0 || r->applied % every != 0)
		return;
	refresh_sessions_digest(r);
	uint64_t slots[AU_RAFT_MAX_MACHINES];
	uint64_t d = au_raft_state_digest(r, slots);
	raft_trace(r, AU_TR_RAFT_DIGEST, (int64_t)r->applied, (int64_t)d,
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
	struct session *s = NULL, **cached = &r->session_cache[client % SESSION_CACHE];
	if (client) {
		s = *cached && (*cached)->client == client ? *cached
							     : g_hash_table_lookup(r->sessions, &client);
		if (s)
			*cached = s;
	}
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
			*cached = s;
		} else if (!s->stale) {
			r->sessions_digest -= s->hash;
		}
		s->seq = seq;
		s->result_len = (uint8_t)(*rlen < SESSION_RESULT_MAX ? *rlen : SESSION_RESULT_MAX);
		memcpy(s->result, result, s->result_len);
		if (!s->stale) { /* hashed when the digest is read */
			s->stale = true;
			g_ptr_array_add(r->stale_sessions, s);
		}
	}
}

static void apply_committed(struct au_raft *r)
{
	while (r->applied < r->commit) {
		uint64_t index = ++r->applied;
		struct entry *e = raft_entry_at(r, index);
		assert(e);
		uint8_t result[AU_RAFT_RESULT_MAX];
		size_t rlen = 0;
		if (e->type == ENTRY_CMD)
			apply_command(r, index, e, result, &rlen);
		raft_trace(r, AU_TR_RAFT_APPLY, (int64_t)index, (int64_t)e->term, (int64_t)e->chain);
		au_raft__trace_digest(r);
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
		    !raft_is_voter(r, r->env->self))
			au_raft__step_down(r, r->term, 0);
	}
	au_raft__check_reads(r);
	au_raft__maybe_compact(r);
}

void au_raft__set_commit(struct au_raft *r, uint64_t commit)
{
	if (commit <= r->commit)
		return;
	r->commit = commit;
	raft_trace(r, AU_TR_RAFT_COMMIT, (int64_t)commit, (int64_t)raft_term_at(r, commit),
		   (int64_t)raft_chain_at(r, commit));
	apply_committed(r);
}
